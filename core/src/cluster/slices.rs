//! The EndpointSlice controller, the EndpointSlice mirroring controller and the Deployment
//! controller, as far as kube-proxy can tell the difference.

use super::settings::Settings;
use super::{node_pod_cidr, safe_suffix, Item, Note, Origin};
use crate::diag::Diagnostic;
use crate::input::{Located, ObjectRef, Scenario};
use crate::pace::Pace;
use crate::path;
use k8s_openapi::api::core::v1::{
    Endpoints, Node, ObjectReference, Pod, PodCondition, PodStatus, Service, ServicePort,
};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::rc::Rc;

pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

fn ns_of(meta: &ObjectMeta) -> &str {
    meta.namespace
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or("default")
}

fn selects(selector: &BTreeMap<String, String>, labels: Option<&BTreeMap<String, String>>) -> bool {
    !selector.is_empty()
        && selector
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// Pods by (namespace, label, value), as their positions in the list indexed, in its order:
/// a selector's Pods looked for among all Pods, 10,000 Services (or Deployments) over 100,000
/// Pods were a billion label comparisons.
type PodsLabelled<'a> =
    HashMap<(&'a str, &'a str, &'a str), Vec<usize>, foldhash::fast::FixedState>;

/// `pods` indexed by their labels ([`PodsLabelled`]), a Pod a unit of work.
async fn pods_labelled<'a>(pods: &'a [Item<Pod>], pace: &Pace) -> PodsLabelled<'a> {
    let mut index = PodsLabelled::default();
    for (i, pod) in pods.iter().enumerate() {
        let meta = &pod.object.metadata;
        for (key, value) in meta.labels.iter().flatten() {
            index.entry((ns_of(meta), key, value)).or_default().push(i);
        }
        pace.unit().await;
    }
    index
}

/// The Pods of `pods` in namespace `ns` that `selector` selects, in their order, through
/// `index` (theirs): those with its first label, then those with all of it.
fn selected_in<'p>(
    index: &'p PodsLabelled<'p>,
    pods: &'p [Item<Pod>],
    ns: &'p str,
    selector: &'p BTreeMap<String, String>,
) -> impl Iterator<Item = &'p Item<Pod>> {
    let first = selector.first_key_value();
    let positions = first.and_then(|(key, value)| index.get(&(ns, key.as_str(), value.as_str())));
    (positions.into_iter().flatten())
        .map(|&i| &pods[i])
        .filter(|p| selects(selector, p.object.metadata.labels.as_ref()))
}

pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

pub fn pod_ip(pod: &Pod) -> Option<IpAddr> {
    let st = pod.status.as_ref()?;
    crate::net::parse_ip(
        st.pod_ip
            .as_deref()
            .or_else(|| st.pod_ips.as_ref()?.first().map(|p| p.ip.as_str()))?,
    )
}

pub(super) async fn derive(
    s: &Scenario,
    services: &[Item<Service>],
    nodes: &[Item<Node>],
    settings: &Settings,
    notes: &mut Vec<Note>,
    warnings: &mut Vec<Diagnostic>,
    pace: &Pace,
) -> (Vec<Item<Pod>>, Vec<Item<EndpointSlice>>) {
    let mut pods: Vec<Item<Pod>> = s.pods.iter().map(Item::written).collect();
    generate_deployment_pods(s, nodes, &mut pods, notes);

    // Sized up front: grown a slice at a time, 44,125 were moved in one piece of work of 40 ms
    // natively (one part of the page's analysis was that long).
    let mut slices: Vec<Item<EndpointSlice>> = Vec::with_capacity(s.endpoint_slices.len());
    // The Services the reader gave slices for, by (namespace, service-name label): a set, so
    // that a cluster of 10,000 Services is not 10,000 × 10,000 comparisons (sized up front and
    // hashed by foldhash). Filled a slice at a time: made in one piece after the slices, it was
    // a 30 ms part of the analysis at 44,125 Services natively (170-210 ms in the page).
    let mut written: std::collections::HashSet<(&str, &str), foldhash::fast::FixedState> =
        std::collections::HashSet::with_capacity_and_hasher(
            s.endpoint_slices.len(),
            Default::default(),
        );
    for slice in &s.endpoint_slices {
        slices.push(Item::written(slice));
        let meta = &slice.object.metadata;
        if let Some(name) = meta.labels.as_ref().and_then(|l| l.get(SERVICE_NAME_LABEL)) {
            written.insert((ns_of(meta), name.as_str()));
        }
        pace.unit().await;
    }
    let has_slices = |ns: &str, name: &str| written.contains(&(ns, name));

    // The Pods by their labels, and the Endpoints by (namespace, name) (searched per Service,
    // both were quadratic).
    let labelled = pods_labelled(&pods, pace).await;
    let mut endpoints_named: HashMap<
        (&str, &str),
        &Located<Endpoints>,
        foldhash::fast::FixedState,
    > = Default::default();
    for ep in &s.endpoints {
        let key = (ep.reference.namespace.as_str(), ep.reference.name.as_str());
        // (The first of two of a name, as a search would find.)
        endpoints_named.entry(key).or_insert(ep);
        pace.unit().await;
    }

    for svc in services {
        pace.unit().await;
        let ns = svc.reference.namespace.as_str();
        let name = svc.reference.name.as_str();
        let spec = svc.object.spec.as_ref().unwrap();
        if has_slices(ns, name) {
            continue;
        }
        let selector = spec.selector.clone().unwrap_or_default();
        let endpoints = endpoints_named.get(&(ns, name)).copied();
        if !selector.is_empty() {
            let selected: Vec<&Item<Pod>> = selected_in(&labelled, &pods, ns, &selector).collect();
            if selected.is_empty() {
                if endpoints.is_none() {
                    let sel: Vec<String> =
                        selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    notes.push(Note {
                        pos: None,
                        message: format!(
                            "{}: no Pod matches its selector {}: it has no endpoints",
                            svc.reference,
                            sel.join(",")
                        ),
                    });
                }
                if let Some(ep) = endpoints {
                    // Pasted `kubectl get svc,ep` output has no Pods: the Endpoints are the best
                    // record of what the controller saw.
                    notes.push(Note {
                        pos: Some(ep.pos()),
                        message: format!(
                            "{}: no Pods match the selector of {}; its endpoints are taken from {}",
                            svc.reference, svc.reference, ep.reference
                        ),
                    });
                    slices.extend(mirror(ep, settings));
                }
                continue;
            }
            slices.extend(from_pods(svc, &selected, nodes, settings, notes, warnings));
        } else if let Some(ep) = endpoints {
            slices.extend(mirror(ep, settings));
        }
    }
    (pods, slices)
}

/// Checks a slice the reader wrote (a function of it alone: [`super::Validated`]).
pub(super) fn validate_slice(
    slice: &Located<EndpointSlice>,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) {
    let o = &slice.object;
    if o.address_type.is_empty() {
        // kube-apiserver requires it; kube-proxy ignores a slice of no address type.
        warnings.push(Diagnostic::warning(
            slice.pos(),
            format!(
                "{}: addressType is not set; kube-proxy ignores this EndpointSlice",
                slice.reference
            ),
        ));
    } else if !["IPv4", "IPv6", "FQDN"].contains(&o.address_type.as_str()) {
        errors.push(Diagnostic::error(
            slice.pos_of(&path!["addressType"]),
            format!("{}: addressType: Unsupported value: \"{}\": supported values: \"FQDN\", \"IPv4\", \"IPv6\"", slice.reference, o.address_type),
        ));
    }
    for (i, p) in o.ports.iter().flatten().enumerate() {
        if let Some(port) = p.port {
            if !(0..=65535).contains(&port) {
                errors.push(Diagnostic::error(
                    slice.pos_of(&path!["ports", i, "port"]),
                    format!("{}: ports[{i}].port: Invalid value: {port}: must be between 1 and 65535, inclusive", slice.reference),
                ));
            }
        }
    }
    if o.address_type != "FQDN" {
        for (i, e) in o.endpoints.iter().enumerate() {
            for (j, a) in e.addresses.iter().enumerate() {
                // Found only for an address that is told about (a slice's path is built and
                // walked once per address otherwise: 100,000 at 10,000 Services, every edit).
                let pos = || slice.pos_of(&path!["endpoints", i, "addresses", j]);
                match crate::net::parse_ip(a) {
                    None => errors.push(Diagnostic::error(
                        pos(),
                        format!("{}: endpoints[{i}].addresses[{j}]: Invalid value: \"{a}\": must be a valid {} address", slice.reference, o.address_type),
                    )),
                    // kube-apiserver would refuse it; kube-proxy skips an address of the other family.
                    Some(ip) if ip.is_ipv6() != (o.address_type == "IPv6") => warnings.push(Diagnostic::warning(
                        pos(),
                        format!("{}: endpoints[{i}].addresses[{j}]: \"{a}\" is not an {} address; kube-proxy ignores it", slice.reference, o.address_type),
                    )),
                    Some(_) => {}
                }
            }
        }
    }
}

fn address_type(settings: &Settings) -> &'static str {
    if settings.ipv6 {
        "IPv6"
    } else {
        "IPv4"
    }
}

fn slice_meta(ns: &str, service: &str, seed: &str, managed_by: &str) -> ObjectMeta {
    let mut labels = BTreeMap::new();
    labels.insert(SERVICE_NAME_LABEL.to_string(), service.to_string());
    labels.insert(MANAGED_BY_LABEL.to_string(), managed_by.to_string());
    ObjectMeta {
        name: Some(format!("{service}-{}", safe_suffix(seed, 5))),
        namespace: Some(ns.to_string()),
        labels: Some(labels),
        ..Default::default()
    }
}

/// The port a Pod serves a Service port on: `targetPort` as a number, as a container port's
/// name (matched with the protocol), or the Service port itself when unset.
fn target_port(sp: &ServicePort, pod: &Pod) -> Option<i32> {
    let proto = sp.protocol.as_deref().unwrap_or("TCP");
    match &sp.target_port {
        None => Some(sp.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(s)) => s.parse().ok().or_else(|| {
            pod.spec
                .as_ref()?
                .containers
                .iter()
                .flat_map(|c| c.ports.iter().flatten())
                .find_map(|cp| {
                    (cp.name.as_deref() == Some(s.as_str())
                        && cp.protocol.as_deref().unwrap_or("TCP") == proto)
                        .then_some(cp.container_port)
                })
        }),
    }
}

/// The EndpointSlice controller: one slice per distinct set of resolved ports.
fn from_pods(
    svc: &Item<Service>,
    pods: &[&Item<Pod>],
    nodes: &[Item<Node>],
    settings: &Settings,
    notes: &mut Vec<Note>,
    warnings: &mut Vec<Diagnostic>,
) -> Vec<Item<EndpointSlice>> {
    let spec = svc.object.spec.as_ref().unwrap();
    let ns = svc.reference.namespace.as_str();
    let publish_not_ready = spec.publish_not_ready_addresses == Some(true);
    // Pods by their resolved ports (name, port, protocol): each group's endpoints and Pods.
    type Ports = Vec<(String, i32, String)>;
    let mut groups: BTreeMap<Ports, (Vec<Endpoint>, Vec<ObjectRef>)> = BTreeMap::new();
    for pod in pods {
        let Some(ip) = pod_ip(&pod.object) else {
            notes.push(Note {
                pos: None,
                message: format!(
                    "{} has no podIP yet: not an endpoint of {}",
                    pod.reference, svc.reference
                ),
            });
            continue;
        };
        if ip.is_ipv6() != settings.ipv6 {
            continue;
        }
        let phase = pod.object.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded") | Some("Failed")) {
            continue;
        }
        let mut ports = Vec::new();
        for sp in spec.ports.iter().flatten() {
            match target_port(sp, &pod.object) {
                Some(p) => ports.push((sp.name.clone().unwrap_or_default(), p, sp.protocol.clone().unwrap_or_else(|| "TCP".into()))),
                None => warnings.push(Diagnostic::warning(
                    match &pod.origin { Origin::Written { pos } => *pos, _ => Default::default() },
                    format!("{} has no container port named {:?}: it serves no traffic for port {} of {}", pod.reference, sp.target_port.as_ref().map(int_or_string).unwrap_or_default(), sp.port, svc.reference),
                )),
            }
        }
        let ready_pod = pod_ready(&pod.object);
        let terminating = pod.object.metadata.deletion_timestamp.is_some();
        // (The EndpointSlice controller: publishNotReadyAddresses makes every address ready, even a
        // terminating one; else a Pod is ready when it is and is not terminating.)
        let ready = publish_not_ready || (ready_pod && !terminating);
        let node_name = pod.object.spec.as_ref().and_then(|s| s.node_name.clone());
        let zone = node_name.as_ref().and_then(|n| {
            nodes
                .iter()
                .find(|x| x.object.metadata.name.as_ref() == Some(n))?
                .object
                .metadata
                .labels
                .as_ref()?
                .get(ZONE_LABEL)
                .cloned()
        });
        let endpoint = Endpoint {
            addresses: vec![ip.to_string()],
            conditions: Some(EndpointConditions {
                ready: Some(ready),
                serving: Some(ready_pod),
                terminating: Some(terminating),
            }),
            node_name,
            zone,
            target_ref: Some(ObjectReference {
                kind: Some("Pod".into()),
                namespace: Some(ns.to_string()),
                name: pod.object.metadata.name.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let entry = groups.entry(ports).or_default();
        entry.0.push(endpoint);
        entry.1.push(pod.reference.clone());
    }
    let mut out = Vec::new();
    for (ports, (endpoints, pod_refs)) in groups {
        if ports.is_empty() {
            continue;
        }
        let seed = format!("{}{:?}", svc.reference, ports);
        let slice = EndpointSlice {
            metadata: slice_meta(
                ns,
                &svc.reference.name,
                &seed,
                "endpointslice-controller.k8s.io",
            ),
            address_type: address_type(settings).into(),
            endpoints,
            ports: Some(
                ports
                    .iter()
                    .map(|(name, port, proto)| EndpointPort {
                        name: Some(name.clone()),
                        port: Some(*port),
                        protocol: Some(proto.clone()),
                        app_protocol: None,
                    })
                    .collect(),
            ),
        };
        let name = slice.metadata.name.clone().unwrap();
        notes.push(Note {
            pos: None,
            message: format!(
                "EndpointSlice {ns}/{name} derived from {} Pod(s) selected by {}",
                pod_refs.len(),
                svc.reference
            ),
        });
        let mut from = vec![svc.reference.clone()];
        from.extend(pod_refs);
        out.push(Item {
            object: Rc::new(slice),
            reference: ObjectRef::new("EndpointSlice", ns, &name),
            origin: Origin::Derived {
                from,
                by: "EndpointSlice controller",
            },
        });
    }
    if out.is_empty() {
        notes.push(Note {
            pos: None,
            message: format!("{}: no Pod is an endpoint", svc.reference),
        });
    }
    out
}

fn int_or_string(v: &IntOrString) -> String {
    match v {
        IntOrString::Int(i) => i.to_string(),
        IntOrString::String(s) => s.clone(),
    }
}

/// The mirroring controller: legacy Endpoints → one slice per subset.
fn mirror(
    ep: &Located<k8s_openapi::api::core::v1::Endpoints>,
    settings: &Settings,
) -> Vec<Item<EndpointSlice>> {
    let ns = ep.reference.namespace.as_str();
    let name = ep.reference.name.as_str();
    let mut out = Vec::new();
    for (i, subset) in ep.object.subsets.iter().flatten().enumerate() {
        let mut endpoints = Vec::new();
        for (addrs, ready) in [
            (&subset.addresses, true),
            (&subset.not_ready_addresses, false),
        ] {
            for a in addrs.iter().flatten() {
                let Some(ip) = crate::net::parse_ip(&a.ip) else {
                    continue;
                };
                if ip.is_ipv6() != settings.ipv6 {
                    continue;
                }
                endpoints.push(Endpoint {
                    addresses: vec![ip.to_string()],
                    conditions: Some(EndpointConditions {
                        ready: Some(ready),
                        serving: Some(ready),
                        terminating: Some(false),
                    }),
                    node_name: a.node_name.clone(),
                    hostname: a.hostname.clone(),
                    target_ref: a.target_ref.clone(),
                    ..Default::default()
                });
            }
        }
        let ports = subset
            .ports
            .iter()
            .flatten()
            .map(|p| EndpointPort {
                name: Some(p.name.clone().unwrap_or_default()),
                port: Some(p.port),
                protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: p.app_protocol.clone(),
            })
            .collect();
        let slice = EndpointSlice {
            metadata: slice_meta(
                ns,
                name,
                &format!("{}#{i}", ep.reference),
                "endpointslicemirroring-controller.k8s.io",
            ),
            address_type: address_type(settings).into(),
            endpoints,
            ports: Some(ports),
        };
        let slice_name = slice.metadata.name.clone().unwrap();
        out.push(Item {
            object: Rc::new(slice),
            reference: ObjectRef::new("EndpointSlice", ns, &slice_name),
            origin: Origin::Derived {
                from: vec![ep.reference.clone()],
                by: "EndpointSlice mirroring controller",
            },
        });
    }
    out
}

/// Pods for Deployments that have none written: `<deploy>-<hash>-<5 chars>`, spread over the
/// nodes in turn, with IPs from each node's podCIDR.
fn generate_deployment_pods(
    s: &Scenario,
    nodes: &[Item<Node>],
    pods: &mut Vec<Item<Pod>>,
    notes: &mut Vec<Note>,
) {
    if s.deployments.is_empty() {
        return;
    }
    let written: &[Item<Pod>] = pods;
    // (Inserted one by one: collected, a set is sorted first, by a sort of its own.)
    let mut used = BTreeSet::new();
    used.extend(written.iter().filter_map(|p| pod_ip(&p.object)));
    // A Deployment's Pods looked for among all Pods, and each new Pod's address searched for
    // from its CIDR's start, made 10,000 Deployments of 10 quadratic. So: the written Pods by
    // their labels, the generated ones by their template's, and where each pod CIDR's first
    // free address may be.
    let labelled = crate::pace::at_once(pods_labelled(written, &Pace::never()));
    let mut generated: Vec<Item<Pod>> = Vec::new();
    let mut templated = PodsLabelled::default();
    // (A list: a CIDR per node.)
    let mut free_from: Vec<((IpAddr, u8), u128)> = Vec::new();
    let mut next_node = 0usize;
    for d in &s.deployments {
        let ns = d.reference.namespace.clone();
        let Some(spec) = d.object.spec.as_ref() else {
            continue;
        };
        let selector = spec.selector.match_labels.clone().unwrap_or_default();
        // The Pods with the selector's first label, then those with all of it (a generated
        // Pod also has `pod-template-hash`, which no template has: a selector with it looks
        // at every generated Pod).
        let selected = |pod: &Item<Pod>| selects(&selector, pod.object.metadata.labels.as_ref());
        let in_ns = d.reference.namespace.as_str();
        let exists = selected_in(&labelled, written, in_ns, &selector)
            .next()
            .is_some()
            || selected_in(&templated, &generated, in_ns, &selector)
                .next()
                .is_some()
            || (selector.contains_key("pod-template-hash") && generated.iter().any(selected));
        if exists || nodes.is_empty() {
            continue;
        }
        let replicas = spec.replicas.unwrap_or(1).max(0);
        let hash = safe_suffix(&format!("{}-template", d.reference), 10);
        for i in 0..replicas {
            let node = &nodes[next_node % nodes.len()];
            next_node += 1;
            let node_name = node.object.metadata.name.clone().unwrap_or_default();
            let cidr = node_pod_cidr(&node.object)
                .or_else(|| crate::net::Cidr::parse(super::settings::DEFAULT_POD_CIDR))
                .unwrap();
            // The first free address: those before `from` are taken (addresses are only ever
            // taken), so the search starts there.
            let end = cidr.size().min(65536).saturating_sub(1);
            let key = (cidr.addr, cidr.len);
            let at = match free_from.iter().position(|(k, _)| *k == key) {
                Some(at) => at,
                None => {
                    free_from.push((key, 2));
                    free_from.len() - 1
                }
            };
            let from = &mut free_from[at].1;
            let free = (*from..end).find(|&k| !used.contains(&cidr.nth(k)));
            *from = free.map_or(end, |k| k + 1);
            let ip = cidr.nth(free.unwrap_or(2));
            used.insert(ip);
            let name = format!(
                "{}-{hash}-{}",
                d.reference.name,
                safe_suffix(&format!("{}#{i}", d.reference), 5)
            );
            let template = &spec.template;
            let mut labels = template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.clone())
                .unwrap_or_default();
            labels.insert("pod-template-hash".into(), hash.clone());
            let mut pod_spec = template.spec.clone().unwrap_or_default();
            pod_spec.node_name = Some(node_name.clone());
            let pod = Pod {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(ns.clone()),
                    labels: Some(labels),
                    ..Default::default()
                },
                spec: Some(pod_spec),
                status: Some(PodStatus {
                    phase: Some("Running".into()),
                    pod_ip: Some(ip.to_string()),
                    conditions: Some(vec![PodCondition {
                        type_: "Ready".into(),
                        status: "True".into(),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
            };
            notes.push(Note {
                pos: Some(d.pos()),
                message: format!(
                    "Pod {ns}/{name} ({ip} on {node_name}) generated for {}",
                    d.reference
                ),
            });
            let template_labels = template.metadata.as_ref().and_then(|m| m.labels.as_ref());
            for (key, value) in template_labels.into_iter().flatten() {
                let at = (d.reference.namespace.as_str(), key.as_str(), value.as_str());
                templated.entry(at).or_default().push(generated.len());
            }
            generated.push(Item {
                object: Rc::new(pod),
                reference: ObjectRef::new("Pod", &ns, &name),
                origin: Origin::Derived {
                    from: vec![d.reference.clone()],
                    by: "Deployment controller",
                },
            });
        }
    }
    pods.extend(generated);
}
