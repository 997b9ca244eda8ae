//! Service validation (as kube-apiserver phrases it) and ClusterIP / NodePort allocation.

use super::settings::{Settings, NODE_PORT_RANGE};
use super::{fnv1a, Item, Note, Origin};
use crate::diag::{Diagnostic, Pos};
use crate::input::{display_path, Located, ObjectRef, Seg};
use crate::net::{is_sloppy, parse_ip, Cidr};
use crate::pace::Pace;
use crate::path;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;
use std::rc::Rc;

fn invalid(
    svc: &Located<Service>,
    p: Vec<Seg>,
    value: impl std::fmt::Display,
    why: &str,
) -> Diagnostic {
    Diagnostic::error(
        svc.pos_of(&p),
        format!(
            "{}: {}: Invalid value: {value}: {why}",
            svc.reference,
            display_path(&p)
        ),
    )
}

fn unsupported(svc: &Located<Service>, p: Vec<Seg>, value: &str, allowed: &[&str]) -> Diagnostic {
    let allowed: Vec<String> = allowed.iter().map(|a| format!("\"{a}\"")).collect();
    Diagnostic::error(
        svc.pos_of(&p),
        format!(
            "{}: {}: Unsupported value: \"{value}\": supported values: {}",
            svc.reference,
            display_path(&p),
            allowed.join(", ")
        ),
    )
}

/// A DNS-1035-ish IANA service name, as `targetPort` names must be.
fn is_port_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && s.chars().any(|c| c.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

pub(super) fn service(
    svc: &Located<Service>,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) {
    let s = &svc.object;
    if s.metadata.name.as_deref().unwrap_or("").is_empty() {
        errors.push(Diagnostic::error(
            svc.pos_of(&path!["metadata"]),
            "Service: metadata.name: Required value".to_string(),
        ));
    }
    let Some(spec) = &s.spec else {
        errors.push(Diagnostic::error(
            svc.pos(),
            format!("{}: spec: Required value", svc.reference),
        ));
        return;
    };
    let ty = spec.type_.as_deref().unwrap_or("ClusterIP");
    if !["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].contains(&ty) {
        errors.push(unsupported(
            svc,
            path!["spec", "type"],
            ty,
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        ));
    }
    if let Some(ip) = spec.cluster_ip.as_deref() {
        if !ip.is_empty() && ip != "None" && parse_ip(ip).is_none() {
            errors.push(invalid(
                svc,
                path!["spec", "clusterIP"],
                format!("\"{ip}\""),
                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            ));
        }
    }
    let ports = spec.ports.as_deref().unwrap_or(&[]);
    if ports.is_empty() && ty != "ExternalName" && spec.cluster_ip.as_deref() != Some("None") {
        errors.push(Diagnostic::error(
            svc.pos_of(&path!["spec"]),
            format!("{}: spec.ports: Required value", svc.reference),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        if p.port == 0 {
            // kube-apiserver refuses it; kube-proxy (and its tests) program port 0.
            let w = invalid(svc, path!["spec", "ports", i, "port"], p.port, "must be between 1 and 65535, inclusive (kube-apiserver would reject this; kube-proxy programs port 0)");
            warnings.push(Diagnostic::warning(w.pos, w.message));
        } else if !(1..=65535).contains(&p.port) {
            errors.push(invalid(
                svc,
                path!["spec", "ports", i, "port"],
                p.port,
                "must be between 1 and 65535, inclusive",
            ));
        }
        let proto = p.protocol.as_deref().unwrap_or("TCP");
        if !["TCP", "UDP", "SCTP"].contains(&proto) {
            errors.push(unsupported(
                svc,
                path!["spec", "ports", i, "protocol"],
                proto,
                &["SCTP", "TCP", "UDP"],
            ));
        }
        if let Some(np) = p.node_port {
            if np == 0 && (ty == "NodePort" || ty == "LoadBalancer") {
                warnings.push(Diagnostic::warning(
                    svc.pos_of(&path!["spec", "ports", i, "nodePort"]),
                    format!("{}: nodePort 0 means no NodePort here (as in kube-proxy's own tests); kube-apiserver would allocate one — leave the field out to have kpx allocate it", svc.reference),
                ));
            }
            if !(0..=65535).contains(&np) {
                errors.push(invalid(
                    svc,
                    path!["spec", "ports", i, "nodePort"],
                    np,
                    "must be between 1 and 65535, inclusive",
                ));
            } else if np != 0
                && !(NODE_PORT_RANGE.0 as i32..=NODE_PORT_RANGE.1 as i32).contains(&np)
            {
                warnings.push(Diagnostic::warning(
                    svc.pos_of(&path!["spec", "ports", i, "nodePort"]),
                    format!(
                        "{}: nodePort {np} is outside the default range {}-{}; kube-apiserver accepts it only with a wider --service-node-port-range",
                        svc.reference, NODE_PORT_RANGE.0, NODE_PORT_RANGE.1
                    ),
                ));
            }
        }
        match &p.target_port {
            Some(IntOrString::Int(t)) if !(1..=65535).contains(t) => errors.push(invalid(
                svc,
                path!["spec", "ports", i, "targetPort"],
                t,
                "must be between 1 and 65535, inclusive",
            )),
            // (kubectl writes numbers as strings sometimes, "8080": those are accepted.)
            Some(IntOrString::String(name))
                if !is_port_name(name) && name.parse::<u16>().is_ok_and(|n| n != 0) => {}
            Some(IntOrString::String(name)) if !is_port_name(name) => errors.push(invalid(
                svc,
                path!["spec", "ports", i, "targetPort"],
                format!("\"{name}\""),
                "must be a port number or an IANA service name (lowercase letters, digits and '-', at most 15 characters)",
            )),
            _ => {}
        }
        let name = p.name.clone().unwrap_or_default();
        if !seen.insert((name.clone(), proto.to_string())) || (ports.len() > 1 && name.is_empty()) {
            warnings.push(Diagnostic::warning(
                svc.pos_of(&path!["spec", "ports", i]),
                format!("{}: spec.ports[{i}].name: each port of a multi-port Service needs its own name (kube-apiserver would reject this)", svc.reference),
            ));
        }
    }
    // Addresses with leading zeros: kube-proxy reads them (decimal); kube-apiserver now refuses
    // them in new objects.
    let mut addresses: Vec<(Vec<Seg>, &str)> = Vec::new();
    if let Some(ip) = spec.cluster_ip.as_deref() {
        addresses.push((path!["spec", "clusterIP"], ip));
    }
    for (i, ip) in spec.external_ips.iter().flatten().enumerate() {
        addresses.push((path!["spec", "externalIPs", i], ip));
    }
    for (i, r) in spec
        .load_balancer_source_ranges
        .iter()
        .flatten()
        .enumerate()
    {
        addresses.push((path!["spec", "loadBalancerSourceRanges", i], r));
    }
    for (i, ing) in s
        .status
        .as_ref()
        .and_then(|st| st.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(ip) = ing.ip.as_deref() {
            addresses.push((path!["status", "loadBalancer", "ingress", i, "ip"], ip));
        }
    }
    for (p, text) in addresses {
        if is_sloppy(text) {
            warnings.push(Diagnostic::warning(
                svc.pos_of(&p),
                format!("{}: {}: {text:?} has leading zeros; kube-proxy reads them as decimal ({}), current kube-apiserver rejects them", svc.reference, display_path(&p), Cidr::parse(text).map_or_else(String::new, |c| if c.prefix { c.to_string() } else { c.addr.to_string() })),
            ));
        }
    }
    let one_of =
        |value: &Option<String>, field: &str, allowed: &[&str], errors: &mut Vec<Diagnostic>| {
            if let Some(v) = value {
                if !allowed.contains(&v.as_str()) {
                    errors.push(unsupported(svc, path!["spec", field], v, allowed));
                }
            }
        };
    one_of(
        &spec.session_affinity,
        "sessionAffinity",
        &["ClientIP", "None"],
        errors,
    );
    one_of(
        &spec.external_traffic_policy,
        "externalTrafficPolicy",
        &["Cluster", "Local"],
        errors,
    );
    one_of(
        &spec.internal_traffic_policy,
        "internalTrafficPolicy",
        &["Cluster", "Local"],
        errors,
    );
    if let Some(t) = spec
        .session_affinity_config
        .as_ref()
        .and_then(|c| c.client_ip.as_ref())
        .and_then(|c| c.timeout_seconds)
    {
        if !(1..=86400).contains(&t) {
            errors.push(invalid(
                svc,
                path![
                    "spec",
                    "sessionAffinityConfig",
                    "clientIP",
                    "timeoutSeconds"
                ],
                t,
                "must be between 1 and 86400, inclusive",
            ));
        }
    }
    for (i, ip) in spec.external_ips.iter().flatten().enumerate() {
        if parse_ip(ip).is_none() {
            errors.push(invalid(
                svc,
                path!["spec", "externalIPs", i],
                format!("\"{ip}\""),
                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            ));
        }
    }
    for (i, r) in spec
        .load_balancer_source_ranges
        .iter()
        .flatten()
        .enumerate()
    {
        if Cidr::parse(r).is_none() {
            errors.push(invalid(
                svc,
                path!["spec", "loadBalancerSourceRanges", i],
                format!("\"{r}\""),
                "must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24",
            ));
        }
    }
    for (i, ing) in s
        .status
        .as_ref()
        .and_then(|st| st.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(ip) = &ing.ip {
            if parse_ip(ip).is_none() {
                errors.push(invalid(
                    svc,
                    path!["status", "loadBalancer", "ingress", i, "ip"],
                    format!("\"{ip}\""),
                    "must be a valid IP address",
                ));
            }
        }
    }
}

/// Each object must be named once (by kind, namespace and name): `objects` are their names
/// and where they are written ([`named`]). An object is a unit of work (at 44,125 Services,
/// the checks were 70 ms of the wasm at once). Not generic: an instance per kind made the
/// cluster's analysis 14 KB larger in the site. `unique_before` is what this returned for
/// the build before an edit: the names, in order, if none was defined twice (else none).
pub(super) async fn defined_once(
    objects: &mut dyn Iterator<Item = (&ObjectRef, Pos)>,
    unique_before: &[ObjectRef],
    errors: &mut Vec<Diagnostic>,
    pace: &Pace,
) -> Vec<ObjectRef> {
    let named: Vec<(&ObjectRef, Pos)> = objects.collect();
    // The very names of a build before, in the same order, that had none defined twice: none
    // is now. (A key changes no name: its objects are the same references, or equal ones.
    // Hashing every name again was a third of a key's cluster step in the wasm.)
    let mut alike = named.len() == unique_before.len() && !named.is_empty();
    if alike {
        for ((name, _), was) in named.iter().zip(unique_before) {
            if *name != was {
                alike = false;
                break;
            }
            pace.unit().await;
        }
    }
    if !alike {
        let said = errors.len();
        // (Hashed: a tree compared every name's three texts a dozen times, on every key.)
        let mut names: HashSet<&ObjectRef, foldhash::fast::FixedState> = HashSet::default();
        for &(name, pos) in &named {
            if !name.name.is_empty() && !names.insert(name) {
                errors.push(Diagnostic::error(pos, format!("{name} is defined twice")));
            }
            pace.unit().await;
        }
        if errors.len() > said {
            return Vec::new();
        }
    }
    named.into_iter().map(|(name, _)| name.clone()).collect()
}

/// The names of `items`, and where they are written, for [`defined_once`].
pub(super) fn named<T>(items: &[Located<T>]) -> impl Iterator<Item = (&ObjectRef, Pos)> {
    items.iter().map(|l| (&l.reference, l.pos()))
}

/// Fills in what kube-apiserver would have allocated: ClusterIPs, NodePorts and health-check
/// NodePorts. Duplicate names and colliding explicit addresses are errors.
pub(super) async fn allocate(
    written: &[Located<Service>],
    settings: &Settings,
    notes: &mut Vec<Note>,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
    (unique_before, named): (&[ObjectRef], &mut Vec<ObjectRef>),
    pace: &Pace,
) -> Vec<Item<Service>> {
    // Who holds each address and port, named only when a message says so (written out for
    // every Service, the names were a fifth of a key's cluster step at 1,000 Services).
    let mut used_ips: BTreeMap<IpAddr, &ObjectRef> = BTreeMap::new();
    let mut used_ports: BTreeMap<i32, &ObjectRef> = BTreeMap::new();
    *named = defined_once(&mut self::named(written), unique_before, errors, pace).await;
    for svc in written {
        let spec = svc.object.spec.as_ref().unwrap();
        if let Some(ip) = spec.cluster_ip.as_deref().and_then(parse_ip) {
            // kube-apiserver refuses a second Service on an address; kube-proxy (and its tests)
            // program both, so kpx warns and goes on.
            if let Some(other) = used_ips.insert(ip, &svc.reference) {
                let w = invalid(svc, path!["spec", "clusterIP"], ip, &format!("provided IP is already allocated (to {other}); kube-apiserver would reject this"));
                warnings.push(Diagnostic::warning(w.pos, w.message));
            }
        }
        for (i, p) in spec.ports.iter().flatten().enumerate() {
            for np in [p.node_port.unwrap_or(0)] {
                if np != 0 {
                    if let Some(other) = used_ports.insert(np, &svc.reference) {
                        if *other != svc.reference {
                            let w = invalid(svc, path!["spec", "ports", i, "nodePort"], np, &format!("provided port is already allocated (to {other}); kube-apiserver would reject this"));
                            warnings.push(Diagnostic::warning(w.pos, w.message));
                        }
                    }
                }
            }
        }
        if let Some(hc) = spec.health_check_node_port.filter(|p| *p != 0) {
            used_ports.insert(hc, &svc.reference);
        }
        pace.unit().await;
    }

    let service_cidr = settings
        .service_cidrs
        .iter()
        .find(|c| c.addr.is_ipv6() == settings.ipv6)
        .copied();
    // Sized up front: grown a Service at a time, the list of 44,125 was moved in one piece of
    // work of 40 ms natively (and the page's unit of work with it).
    let mut out = Vec::with_capacity(written.len());
    for svc in written {
        // Shared with the input unless kube-apiserver would have filled something in, and then
        // copied on the first change (a copy of every Service was most of this loop).
        let mut object = svc.object.clone();
        let reference = svc.reference.clone();
        let spec = svc.object.spec.as_ref().unwrap();
        let ty = spec.type_.as_deref().unwrap_or("ClusterIP");
        let headless = spec.cluster_ip.as_deref() == Some("None");
        if ty != "ExternalName" && !headless && spec.cluster_ip.as_deref().unwrap_or("").is_empty()
        {
            if let Some(cidr) = service_cidr {
                let ip = allocate_ip(&cidr, &reference.to_string(), &used_ips);
                used_ips.insert(ip, &svc.reference);
                spec_mut(&mut object).cluster_ip = Some(ip.to_string());
                notes.push(Note {
                    pos: Some(svc.pos_of(&path!["spec"])),
                    message: format!("{reference}: clusterIP {ip} allocated from {cidr}"),
                });
            }
        }
        let wants_node_ports = ty == "NodePort"
            || (ty == "LoadBalancer" && spec.allocate_load_balancer_node_ports != Some(false));
        if wants_node_ports {
            for (i, p) in spec.ports.iter().flatten().enumerate() {
                // Absent: allocate, as kube-apiserver does. An explicit 0 is kept: kube-proxy
                // reads it as "no NodePort" (kube-proxy's own tests write such Services).
                if p.node_port.is_none() {
                    let np = allocate_port(&format!("{reference}:{i}"), &used_ports);
                    used_ports.insert(np, &svc.reference);
                    if let Some(p) = spec_mut(&mut object).ports.iter_mut().flatten().nth(i) {
                        p.node_port = Some(np);
                    }
                    notes.push(Note {
                        pos: Some(svc.pos_of(&path!["spec", "ports", i])),
                        message: format!(
                            "{reference}: nodePort {np} allocated for port {}",
                            p.port
                        ),
                    });
                }
            }
        }
        let etp_local = spec.external_traffic_policy.as_deref() == Some("Local");
        if ty == "LoadBalancer" && etp_local && spec.health_check_node_port.unwrap_or(0) == 0 {
            let np = allocate_port(&format!("{reference}:healthcheck"), &used_ports);
            used_ports.insert(np, &svc.reference);
            spec_mut(&mut object).health_check_node_port = Some(np);
            notes.push(Note {
                pos: Some(svc.pos_of(&path!["spec"])),
                message: format!("{reference}: healthCheckNodePort {np} allocated"),
            });
        }
        out.push(Item {
            object,
            reference,
            origin: Origin::Written { pos: svc.pos() },
        });
        pace.unit().await;
    }
    out
}

/// The spec of a Service to change: its own copy, made on the first change if it was shared.
fn spec_mut(o: &mut Rc<Service>) -> &mut k8s_openapi::api::core::v1::ServiceSpec {
    Rc::make_mut(o).spec.get_or_insert_with(Default::default)
}

/// A free address of `cidr` chosen by a hash of the Service's name. The network address and
/// the broadcast address are never used; the first address is the `kubernetes` Service's.
fn allocate_ip(cidr: &Cidr, name: &str, used: &BTreeMap<IpAddr, &ObjectRef>) -> IpAddr {
    let size = cidr.size().min(1 << 24);
    if name == "Service default/kubernetes" && !used.contains_key(&cidr.nth(1)) {
        return cidr.nth(1);
    }
    let usable = size.saturating_sub(3).max(1);
    let start = fnv1a(name.as_bytes()) as u128 % usable;
    for step in 0..usable {
        let ip = cidr.nth(2 + (start + step) % usable);
        if !used.contains_key(&ip) {
            return ip;
        }
    }
    cidr.nth(2)
}

fn allocate_port(seed: &str, used: &BTreeMap<i32, &ObjectRef>) -> i32 {
    let (lo, hi) = (NODE_PORT_RANGE.0 as u64, NODE_PORT_RANGE.1 as u64);
    let span = hi - lo + 1;
    let start = fnv1a(seed.as_bytes()) % span;
    for step in 0..span {
        let p = (lo + (start + step) % span) as i32;
        if !used.contains_key(&p) {
            return p;
        }
    }
    lo as i32
}
