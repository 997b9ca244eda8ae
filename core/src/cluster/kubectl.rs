//! `kubectl get …` tables, in kubectl's column layout (Go's tabwriter with minwidth 6,
//! padding 3): the `default` namespace as plain `kubectl get` shows it, or every namespace with
//! a NAMESPACE column as `kubectl get -A`. Objects carry no creationTimestamp here, so AGE is
//! `<unknown>`, as kubectl prints it for such objects.

use super::slices::{pod_ip, pod_ready, SERVICE_NAME_LABEL};
use super::{Cluster, Item};
use crate::pace::Pace;
use k8s_openapi::api::core::v1::{Pod, Service, ServiceSpec};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::collections::HashMap;
use std::net::IpAddr;

const AGE: &str = "<unknown>";

/// Lays out rows like kubectl's `tabwriter.NewWriter(out, 6, 4, 3, ' ', 0)`: each column but the last
/// is as wide as its widest cell plus 3, and at least 6. A line per row (but for cells with line
/// breaks), a row a unit of work (at 44,125 Services a table is 44,126 rows).
async fn table(rows: &[Vec<String>], pace: &Pace) -> Vec<String> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count() + 3).max(6);
        }
        pace.unit().await;
    }
    let mut lines = Vec::with_capacity(rows.len());
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count();
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        line.truncate(line.trim_end().len());
        // A cell with a line break (an externalName the API server would refuse) makes more
        // than one line, as the table's text did.
        match line.contains('\n') {
            true => lines.extend(line.lines().map(str::to_string)),
            false => lines.push(line),
        }
        pace.unit().await;
    }
    lines
}

/// Which namespaces a `kubectl get` shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scope {
    /// `kubectl get …`: the `default` namespace, no NAMESPACE column.
    #[default]
    DefaultNamespace,
    /// `kubectl get -A …`
    AllNamespaces,
}

/// A `kubectl get`'s table before it is laid out: the header, then a row per object, each
/// with its namespace first, made as [`lines`] takes them.
pub struct Rows<'c> {
    header: &'static [&'static str],
    rows: Box<dyn Iterator<Item = Vec<String>> + 'c>,
}

/// The table's lines: plain `kubectl get` keeps the default namespace's rows and drops that
/// column. A row is a unit of work, made and laid out (one paced loop for every table: the
/// site's size).
pub async fn lines(table_rows: Rows<'_>, scope: Scope, pace: &Pace) -> Vec<String> {
    let all = scope == Scope::AllNamespaces;
    let skip = usize::from(!all);
    let mut kept = vec![row(&table_rows.header[skip..])];
    for mut r in table_rows.rows {
        if all || r[0] == "default" {
            r.drain(..skip);
            kept.push(r);
        }
        pace.unit().await;
    }
    if kept.len() == 1 && !all {
        return vec!["No resources found in default namespace.".to_string()];
    }
    table(&kept, pace).await
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

/// `kubectl get svc [-A]`
pub fn get_svc(c: &Cluster) -> Rows<'_> {
    Rows {
        header: &[
            "NAMESPACE",
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE",
        ],
        rows: Box::new(c.services.iter().map(svc_row)),
    }
}

fn svc_row(s: &Item<Service>) -> Vec<String> {
    let no_spec = ServiceSpec::default();
    let spec = s.object.spec.as_ref().unwrap_or(&no_spec);
    let ty = spec.type_.clone().unwrap_or_else(|| "ClusterIP".into());
    let cluster_ip = match spec.cluster_ip.as_deref() {
        _ if ty == "ExternalName" => "<none>".to_string(),
        None | Some("") => "<none>".to_string(),
        Some(ip) => ip.to_string(),
    };
    let mut external: Vec<String> = Vec::new();
    let ingress: Vec<String> = s
        .object
        .status
        .as_ref()
        .and_then(|st| st.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.clone().or_else(|| i.hostname.clone()))
        .collect();
    let external_ips = spec.external_ips.clone().unwrap_or_default();
    let external_text = match ty.as_str() {
        "ExternalName" => spec
            .external_name
            .clone()
            .unwrap_or_else(|| "<none>".into()),
        "LoadBalancer" => {
            external.extend(ingress);
            external.extend(external_ips);
            if external.is_empty() {
                "<pending>".into()
            } else {
                external.join(",")
            }
        }
        _ => {
            if external_ips.is_empty() {
                "<none>".into()
            } else {
                external_ips.join(",")
            }
        }
    };
    let ports: Vec<String> = spec
        .ports
        .iter()
        .flatten()
        .map(|p| {
            let proto = p.protocol.as_deref().unwrap_or("TCP");
            match p.node_port.filter(|n| *n != 0) {
                Some(np) => format!("{}:{np}/{proto}", p.port),
                None => format!("{}/{proto}", p.port),
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".to_string()
    } else {
        ports.join(",")
    };
    vec![
        s.reference.namespace.clone(),
        s.reference.name.clone(),
        ty,
        cluster_ip,
        external_text,
        ports,
        AGE.into(),
    ]
}

fn first_three(items: &[String]) -> String {
    if items.is_empty() {
        return "<none>".into();
    }
    let mut out = items.iter().take(3).cloned().collect::<Vec<_>>().join(",");
    if items.len() > 3 {
        out.push_str(&format!(" + {} more...", items.len() - 3));
    }
    out
}

/// `kubectl get ep [-A]`: what the Endpoints controller would publish, i.e. the ready
/// addresses of each Service's slices, sorted by address, for each port.
pub async fn get_ep<'c>(c: &'c Cluster, pace: &Pace) -> Rows<'c> {
    // Each Service's slices, by (namespace, service-name label), in the cluster's order: looked
    // for among all slices per Service, 44,125 Services took 305 s natively.
    let mut slices_of: HashMap<(&str, &str), Vec<&EndpointSlice>, foldhash::fast::FixedState> =
        HashMap::with_capacity_and_hasher(c.slices.len(), Default::default());
    for sl in &c.slices {
        let labels = sl.object.metadata.labels.as_ref();
        if let Some(service) = labels.and_then(|l| l.get(SERVICE_NAME_LABEL)) {
            let key = (sl.reference.namespace.as_str(), service.as_str());
            slices_of.entry(key).or_default().push(&sl.object);
        }
        pace.unit().await;
    }
    let not_external_name = |s: &&Item<Service>| {
        let spec = s.object.spec.as_ref();
        spec.and_then(|spec| spec.type_.as_deref()) != Some("ExternalName")
    };
    let ep_row = move |s: &Item<Service>| {
        let key = (s.reference.namespace.as_str(), s.reference.name.as_str());
        // Endpoints subsets: grouped by port set, addresses sorted.
        let mut items = Vec::new();
        for sl in slices_of.get(&key).into_iter().flatten() {
            let mut addrs: Vec<IpAddr> = sl
                .endpoints
                .iter()
                .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true))
                .filter_map(|e| crate::net::parse_ip(e.addresses.first()?))
                .collect();
            crate::pace::sort_stable_by(&mut addrs, Ord::cmp);
            for p in sl.ports.iter().flatten() {
                for a in &addrs {
                    items.push(crate::net::join_host_port(*a, p.port.unwrap_or(0) as u16));
                }
            }
        }
        vec![
            s.reference.namespace.clone(),
            s.reference.name.clone(),
            first_three(&items),
            AGE.into(),
        ]
    };
    Rows {
        header: &["NAMESPACE", "NAME", "ENDPOINTS", "AGE"],
        rows: Box::new(c.services.iter().filter(not_external_name).map(ep_row)),
    }
}

/// `kubectl get endpointslices [-A]`
pub fn get_endpointslices(c: &Cluster) -> Rows<'_> {
    Rows {
        header: &[
            "NAMESPACE",
            "NAME",
            "ADDRESSTYPE",
            "PORTS",
            "ENDPOINTS",
            "AGE",
        ],
        rows: Box::new(c.slices.iter().map(slice_row)),
    }
}

fn slice_row(sl: &Item<EndpointSlice>) -> Vec<String> {
    let ports: Vec<String> = sl
        .object
        .ports
        .iter()
        .flatten()
        .filter_map(|p| p.port.map(|n| n.to_string()))
        .collect();
    let addrs: Vec<String> = sl
        .object
        .endpoints
        .iter()
        .flat_map(|e| e.addresses.iter().cloned())
        .collect();
    let unset = |v: &[String]| {
        if v.is_empty() {
            "<unset>".to_string()
        } else {
            first_three(v)
        }
    };
    let ports = if ports.is_empty() {
        "<unset>".into()
    } else {
        ports.join(",")
    };
    vec![
        sl.reference.namespace.clone(),
        sl.reference.name.clone(),
        sl.object.address_type.clone(),
        ports,
        unset(&addrs),
        AGE.into(),
    ]
}

/// `kubectl get pods [-A] -o wide`
pub fn get_pods(c: &Cluster) -> Rows<'_> {
    Rows {
        header: &[
            "NAMESPACE",
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES",
        ],
        rows: Box::new(c.pods.iter().map(pod_row)),
    }
}

fn pod_row(p: &Item<Pod>) -> Vec<String> {
    let containers = p
        .object
        .spec
        .as_ref()
        .map_or(0, |s| s.containers.len())
        .max(1);
    let ready = if pod_ready(&p.object) { containers } else { 0 };
    let status = if p.object.metadata.deletion_timestamp.is_some() {
        "Terminating".to_string()
    } else {
        p.object
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Running".into())
    };
    vec![
        p.reference.namespace.clone(),
        p.reference.name.clone(),
        format!("{ready}/{containers}"),
        status,
        "0".into(),
        AGE.into(),
        pod_ip(&p.object).map_or("<none>".into(), |ip| ip.to_string()),
        p.object
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_else(|| "<none>".into()),
        "<none>".into(),
        "<none>".into(),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn tabwriter_layout_matches_kubectl() {
        let t = crate::pace::at_once(super::table(
            &[
                vec!["NAME".into(), "TYPE".into(), "AGE".into()],
                vec!["kubernetes".into(), "ClusterIP".into(), "6h12m".into()],
            ],
            &crate::pace::Pace::never(),
        ));
        assert_eq!(
            t,
            [
                "NAME         TYPE        AGE",
                "kubernetes   ClusterIP   6h12m"
            ]
        );
    }
}
