//! The scaling model, measured on generated dataplanes (not formulas): for S Services × E
//! endpoints, how many rules each table holds, how big kube-proxy's payload is, and how many
//! rules the first packet of a connection is checked against.

use crate::cluster::settings::Mode;
use crate::proxy::Protocol;
use crate::trace::rng::Rng;
use crate::trace::session::walk_in;
use crate::trace::{Origin, Packet, State};
use crate::views::{analyze, Request as ViewRequest};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Clone, Debug, Serialize)]
pub struct FirstPacket {
    pub mean: f64,
    pub max: usize,
    /// How many Services' ClusterIPs were walked to measure it (evenly spread, the last one,
    /// the worst placed, always included).
    pub sampled: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Scale {
    pub mode: Mode,
    pub services: usize,
    pub endpoints: usize,
    /// Rules (iptables: per table; nftables: rules and map/set elements; IPVS: the iptables
    /// rules per table and the virtual and real servers).
    pub rules: BTreeMap<String, usize>,
    /// Bytes of what kube-proxy hands the kernel in one full sync (iptables-restore input, or
    /// the nftables transaction).
    pub restore_bytes: usize,
    /// Rules evaluated by the first packet from the node to a ClusterIP (nftables: rules, a
    /// verdict-map lookup counting as one; IPVS: the iptables rules, not IPVS's hash lookup).
    pub first_packet_rules: Option<FirstPacket>,
}

/// `services` NodePort Services with `endpoints` ready endpoints each, over two nodes — the
/// article's case is 2,000 × 10. The NodePort range holds 2,768 ports: Services beyond that
/// are ClusterIP Services. Written tersely (flow style, only the fields kube-proxy reads):
/// [`generate_as_kubectl`] writes the same cluster as a real one is pasted.
pub fn generate(services: usize, endpoints: usize, mode: Mode) -> String {
    let mut y = header(mode);
    for s in 0..services {
        let svc = GeneratedService::new(s);
        let (ty, ip) = (svc.ty, svc.cluster_ip);
        let node_port = svc
            .node_port
            .map_or(String::new(), |p| format!(", nodePort: {p}"));
        write!(
            y,
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: svc{s}, namespace: scale}}\nspec:\n  type: {ty}\n  clusterIP: {ip}\n  ports:\n  - {{name: http, port: 80{node_port}}}\n"
        )
        .unwrap();
        write!(y, "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: svc{s}-1, namespace: scale, labels: {{kubernetes.io/service-name: svc{s}}}}}\naddressType: IPv4\nports: [{{name: http, port: 8080}}]\nendpoints:\n").unwrap();
        for e in 0..endpoints {
            let (ip, node) = endpoint(s, e, endpoints);
            writeln!(y, "- {{addresses: [{ip}], nodeName: {node}}}").unwrap();
        }
    }
    y
}

/// The cluster [`generate`] writes, as a reader pastes a real one: kube-proxy's settings, then
/// the output of `kubectl get svc,endpointslices -A -o yaml` — one `v1 List` whose items are
/// written as the API server returns them (every field it fills: uids, resource versions,
/// owner references, each endpoint's conditions, Pod and zone; keys sorted and lists unindented,
/// as kubectl prints them; each slice named as `generate` names it). Five times
/// the bytes of `generate`'s text, and the same rules and views.
pub fn generate_as_kubectl(services: usize, endpoints: usize, mode: Mode) -> String {
    let mut y = header(mode);
    y.push_str("---\napiVersion: v1\nitems:\n");
    let uid = |kind: u32, n: usize| format!("{kind:08x}-6b1c-4e2d-9f3a-{n:012x}");
    let stamp = "2026-11-20T09:30:00Z";
    for s in 0..services {
        let svc = GeneratedService::new(s);
        let (ty, ip) = (svc.ty, svc.cluster_ip);
        let (etp, node_port) = match svc.node_port {
            Some(p) => (
                "    externalTrafficPolicy: Cluster\n",
                format!("      nodePort: {p}\n"),
            ),
            None => ("", String::new()),
        };
        write!(
            y,
            "- apiVersion: v1\n  kind: Service\n  metadata:\n    creationTimestamp: \"{stamp}\"\n    labels:\n      app: svc{s}\n    name: svc{s}\n    namespace: scale\n    resourceVersion: \"{}\"\n    uid: {}\n  spec:\n    clusterIP: {ip}\n    clusterIPs:\n    - {ip}\n{etp}    internalTrafficPolicy: Cluster\n    ipFamilies:\n    - IPv4\n    ipFamilyPolicy: SingleStack\n    ports:\n    - name: http\n{node_port}      port: 80\n      protocol: TCP\n      targetPort: 8080\n    selector:\n      app: svc{s}\n    sessionAffinity: None\n    type: {ty}\n  status:\n    loadBalancer: {{}}\n",
            1000 + 2 * s,
            uid(1, s),
        )
        .unwrap();
    }
    for s in 0..services {
        y.push_str("- addressType: IPv4\n  apiVersion: discovery.k8s.io/v1\n  endpoints:\n");
        for e in 0..endpoints {
            let (ip, node) = endpoint(s, e, endpoints);
            let pod = s * endpoints + e;
            write!(
                y,
                "  - addresses:\n    - {ip}\n    conditions:\n      ready: true\n      serving: true\n      terminating: false\n    nodeName: {node}\n    targetRef:\n      kind: Pod\n      name: svc{s}-7d4b9c6f5-{pod:05x}\n      namespace: scale\n      uid: {}\n    zone: zone-{}\n",
                uid(3, pod),
                &node[5..],
            )
            .unwrap();
        }
        write!(
            y,
            "  kind: EndpointSlice\n  metadata:\n    annotations:\n      endpoints.kubernetes.io/last-change-trigger-time: \"{stamp}\"\n    creationTimestamp: \"{stamp}\"\n    generateName: svc{s}-\n    generation: 1\n    labels:\n      endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io\n      kubernetes.io/service-name: svc{s}\n    name: svc{s}-1\n    namespace: scale\n    ownerReferences:\n    - apiVersion: v1\n      blockOwnerDeletion: true\n      controller: true\n      kind: Service\n      name: svc{s}\n      uid: {}\n    resourceVersion: \"{}\"\n    uid: {}\n  ports:\n  - name: http\n    port: 8080\n    protocol: TCP\n",
            uid(1, s),
            1001 + 2 * s,
            uid(2, s),
        )
        .unwrap();
    }
    y.push_str("kind: List\nmetadata:\n  resourceVersion: \"\"\n");
    y
}

/// kube-proxy's settings and the node, before a generated cluster's objects.
fn header(mode: Mode) -> String {
    format!(
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: {}\nhostnameOverride: node-a\nclusterCIDR: 10.244.0.0/16\n---\napiVersion: kpx/v1alpha1\nkind: NodeEnvironment\nserviceCIDRs: 10.96.0.0/12\n",
        mode.as_str()
    )
}

/// The `s`-th generated Service.
struct GeneratedService {
    ty: &'static str,
    cluster_ip: std::net::Ipv4Addr,
    node_port: Option<u32>,
}

impl GeneratedService {
    fn new(s: usize) -> Self {
        // The NodePort range holds 2,768 ports; Services beyond that are ClusterIP only.
        let node_port = (s < 2768).then(|| 30000 + s as u32);
        GeneratedService {
            ty: if node_port.is_some() {
                "NodePort"
            } else {
                "ClusterIP"
            },
            cluster_ip: std::net::Ipv4Addr::from(0x0a60_0000u32 + 2 + s as u32), // 10.96.0.2 on
            node_port,
        }
    }
}

/// The `e`-th endpoint of the `s`-th Service: its Pod's IP (10.244.0.2 onwards) and node
/// (every other one on this node).
fn endpoint(s: usize, e: usize, endpoints: usize) -> (std::net::Ipv4Addr, &'static str) {
    let n = (s * endpoints + e) as u32;
    let ip = std::net::Ipv4Addr::from(0x0af4_0000u32 + 2 + n);
    (ip, if e % 2 == 0 { "node-a" } else { "node-b" })
}

pub fn measure(services: usize, endpoints: usize, mode: Mode) -> Result<Scale, String> {
    let text = generate(services, endpoints, mode);
    let a = analyze(&text).map_err(|e| e.to_string())?;
    let view = |v: &str| {
        a.render(&ViewRequest {
            mode: Some(mode),
            view: Some(v.into()),
            ..Default::default()
        })
    };
    let mut rules = BTreeMap::new();
    let restore_bytes = match mode {
        Mode::Iptables | Mode::Ipvs => {
            let dp = if mode == Mode::Ipvs {
                &a.ipvs().iptables
            } else {
                a.iptables().as_ref().map_err(Clone::clone)?
            };
            for t in &dp.tables {
                let n: usize = t
                    .chains
                    .iter()
                    .filter(|c| c.kind == crate::iptables::model::ChainKind::KubeProxy)
                    .map(|c| c.rules.len())
                    .sum();
                rules.insert(t.name.as_str().to_string(), n);
            }
            if mode == Mode::Ipvs {
                rules.insert("virtual_servers".into(), a.ipvs().services.len());
                rules.insert(
                    "real_servers".into(),
                    a.ipvs().services.iter().map(|v| v.reals.len()).sum(),
                );
                rules.insert(
                    "ipset_entries".into(),
                    a.ipvs().ipsets.iter().map(|s| s.entries.len()).sum(),
                );
            }
            view("restore")?.len()
        }
        Mode::Nftables => {
            let t = &a.nftables();
            rules.insert("rules".into(), t.chains.iter().map(|c| c.rules.len()).sum());
            rules.insert("chains".into(), t.chains.len());
            rules.insert(
                "elements".into(),
                t.maps.iter().map(|m| m.elements.len()).sum::<usize>()
                    + t.sets.iter().map(|s| s.elements.len()).sum::<usize>(),
            );
            view("nft")?.len()
        }
    };
    let first_packet_rules = if services > 0 {
        let hosts = BTreeMap::new();
        let src = a
            .cluster
            .settings
            .node_ip
            .ok_or("the generated node has no IP")?;
        let samples = services.min(25);
        let mut picks: Vec<usize> = (0..samples).map(|k| k * services / samples).collect();
        picks.push(services - 1);
        picks.dedup();
        let mut counts = Vec::new();
        for s in &picks {
            let dst =
                std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0a60_0000u32 + 2 + *s as u32));
            let packet = Packet {
                protocol: Protocol::Tcp,
                src,
                sport: 40000,
                dst,
                dport: 80,
                mark: 0,
                in_interface: None,
                bridged: false,
            };
            let t = walk_in(
                &a,
                mode,
                true,
                &hosts,
                &Origin::Node,
                packet,
                &mut Rng::new(*s as u64),
                &mut State::default(),
            )?;
            counts.push(t.steps.iter().filter(|st| st.rule.is_some()).count());
        }
        Some(FirstPacket {
            mean: counts.iter().sum::<usize>() as f64 / counts.len() as f64,
            max: counts.iter().copied().max().unwrap_or(0),
            sampled: counts.len(),
        })
    } else {
        None
    };
    Ok(Scale {
        mode,
        services,
        endpoints,
        rules,
        restore_bytes,
        first_packet_rules,
    })
}
