//! What the control plane would have done with the reader's objects, before kube-proxy looks.
//!
//! * resolves which node is shown and kube-proxy's settings ([`settings`]);
//! * validates Services the way kube-apiserver would, with positions;
//! * allocates missing ClusterIPs and NodePorts, deterministically (a hash of the name picks
//!   the start of a probe, so editing one Service never moves another's address);
//! * runs the EndpointSlice controller over Pods (and Pods of Deployments), and the mirroring
//!   controller over legacy Endpoints.
//!
//! Every default it applies is reported as a [`Note`].

pub mod kubectl;
pub mod settings;
pub mod slices;
mod validate;

use crate::diag::{Diagnostic, InputError, Pos, Severity};
use crate::input::{Located, ObjectRef, Scenario};
use crate::net::Cidr;
use crate::pace::{at_once, Pace};
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde::Serialize;
use settings::{Settings, DEFAULT_NODE_NAME, DEFAULT_POD_CIDR};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::rc::Rc;

/// A default kpx applied, or something it derived, told to the reader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Note {
    pub pos: Option<Pos>,
    pub message: String,
}

/// Where an object of the cluster came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Origin {
    /// Written by the reader, at this position.
    Written { pos: Pos },
    /// Made by kpx standing in for a controller, from these input objects.
    Derived {
        from: Vec<ObjectRef>,
        by: &'static str,
    },
}

/// An object of the cluster with its name and origin. The object is shared with the input it
/// was read from (a Service kpx completes, with an allocated clusterIP say, is a copy).
#[derive(Clone, Debug)]
pub struct Item<T> {
    pub object: Rc<T>,
    pub reference: ObjectRef,
    pub origin: Origin,
}

impl<T> Item<T> {
    fn written(l: &Located<T>) -> Self {
        Item {
            object: l.object.clone(),
            reference: l.reference.clone(),
            origin: Origin::Written { pos: l.pos() },
        }
    }
}

/// The cluster as kube-proxy on the shown node sees it.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub settings: Settings,
    pub nodes: Vec<Item<Node>>,
    pub services: Vec<Item<Service>>,
    pub slices: Vec<Item<EndpointSlice>>,
    pub pods: Vec<Item<Pod>>,
    pub notes: Vec<Note>,
    pub warnings: Vec<Diagnostic>,
    /// For the build after an edit ([`build_after`]).
    pub(crate) validated: Validated,
}

/// The Services and slices the reader wrote that a build checked and found nothing to say
/// about, in input order. Checking one reads nothing but it (its diagnostics' positions
/// aside), and a text read again after an edit shares the objects of every section the edit
/// left (`input::Reading::after`): a build after an edit does not check again those that are
/// the very same objects. (At 1,000 Services, every slice's addresses parsed again to be
/// checked were a fifth of the cluster's build.)
#[derive(Clone, Debug, Default)]
pub(crate) struct Validated {
    services: Vec<Rc<Service>>,
    slices: Vec<Rc<EndpointSlice>>,
    /// The names checked for duplicates, in order, if none was defined twice (else empty):
    /// the Services', and every other object's (`validate::defined_once`).
    services_named: Vec<ObjectRef>,
    named: Vec<ObjectRef>,
}

/// How many items before the place after the last one found an item is looked for, when a
/// list made after an edit is walked beside the one made before it (an edit changes, adds or
/// removes a few in place; a reordered text has its items looked at anew).
pub(crate) const LOOKED_AHEAD: usize = 8;

/// Where an item `is` is in `before`, looked for from `*next` on ([`LOOKED_AHEAD`]); `*next`
/// moves past it.
pub(crate) fn found_ahead<T>(
    before: &[T],
    next: &mut usize,
    is: impl Fn(&T) -> bool,
) -> Option<usize> {
    let mut ahead = before
        .get(*next..)
        .unwrap_or_default()
        .iter()
        .take(LOOKED_AHEAD);
    let i = *next + ahead.position(is)?;
    *next = i + 1;
    Some(i)
}

/// Checks `item` with `check` (into errors, warnings), unless it is an object `before` checked
/// clean, looked for from `*next` on (see [`Validated`]); keeps it in `clean` if nothing was
/// said about it.
fn check_once<T>(
    item: &Located<T>,
    before: &[Rc<T>],
    next: &mut usize,
    clean: &mut Vec<Rc<T>>,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
    check: fn(&Located<T>, &mut Vec<Diagnostic>, &mut Vec<Diagnostic>),
) {
    let said = errors.len() + warnings.len();
    if found_ahead(before, next, |b| Rc::ptr_eq(b, &item.object)).is_none() {
        check(item, errors, warnings);
    }
    if errors.len() + warnings.len() == said {
        clean.push(item.object.clone());
    }
}

impl Cluster {
    /// Every object name the dataplane may cite as provenance.
    pub fn known_objects(&self) -> BTreeSet<ObjectRef> {
        let mut set = BTreeSet::new();
        set.extend(self.nodes.iter().map(|i| i.reference.clone()));
        set.extend(self.services.iter().map(|i| i.reference.clone()));
        set.extend(self.slices.iter().map(|i| i.reference.clone()));
        set.extend(self.pods.iter().map(|i| i.reference.clone()));
        set.insert(proxy_config_ref());
        set
    }
}

/// The KubeProxyConfiguration (written or defaulted) that fixed rules cite.
pub fn proxy_config_ref() -> ObjectRef {
    ObjectRef::new("KubeProxyConfiguration", "", "")
}

/// `k8s.io/apimachinery/pkg/util/rand.SafeEncodeString`'s alphabet: no vowels, no 0/1/3.
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A stable pseudo-random string in the style of generated Kubernetes names.
pub(crate) fn safe_suffix(seed: &str, len: usize) -> String {
    let mut h = fnv1a(seed.as_bytes());
    let mut out = String::with_capacity(len);
    for _ in 0..len {
        out.push(SAFE_ALPHABET[(h % SAFE_ALPHABET.len() as u64) as usize] as char);
        h /= SAFE_ALPHABET.len() as u64;
        if h == 0 {
            h = fnv1a(out.as_bytes());
        }
    }
    out
}

/// FNV-1a, 64 bits: kpx's one small hash of names (addresses and NodePorts allocated, the
/// page's fingerprints of its addresses).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Builds the cluster from the scenario, as seen by kube-proxy on `shown_node` (default: the
/// node the input names, see spec/input.md "Which node"). Errors are the reader's to fix;
/// warnings and notes travel with the result.
pub fn build(s: &Scenario, shown_node: Option<&str>) -> Result<Cluster, InputError> {
    at_once(build_after(s, shown_node, None, &Pace::never()))
}

/// [`build`], an object (a Service, a slice) being a unit of `pace`'s work, after an edit:
/// the objects `before` (the cluster built for the text before it, if any) checked clean are
/// not checked again ([`Validated`]).
pub async fn build_after(
    s: &Scenario,
    shown_node: Option<&str>,
    before: Option<&Cluster>,
    pace: &Pace,
) -> Result<Cluster, InputError> {
    let before = before.map(|c| &c.validated);
    let (services_before, slices_before) =
        before.map_or((&[][..], &[][..]), |v| (&v.services[..], &v.slices[..]));
    let mut validated = Validated::default();
    let mut notes = Vec::new();
    let mut errors = Vec::new();
    let mut warnings = s.warnings.clone();

    // Which node's kube-proxy is shown.
    let env_node = s
        .node_env
        .as_ref()
        .and_then(|e| e.object.node_name.clone())
        .filter(|n| !n.is_empty());
    let override_node = s
        .proxy_config
        .as_ref()
        .and_then(|c| c.object.hostname_override.clone())
        .filter(|n| !n.is_empty());
    let configured = env_node.clone().or(override_node.clone());
    if let Some(wanted) = shown_node {
        if configured.as_deref() != Some(wanted)
            && !s
                .nodes
                .iter()
                .any(|n| n.object.metadata.name.as_deref() == Some(wanted))
        {
            let mut names: Vec<String> = s
                .nodes
                .iter()
                .filter_map(|n| n.object.metadata.name.clone())
                .collect();
            names.extend(configured.clone().filter(|c| !names.contains(c)));
            return Err(InputError {
                diagnostics: vec![Diagnostic::error(
                    Pos::default(),
                    format!(
                        "no Node named {wanted:?}; the input has: {}",
                        names.join(", ")
                    ),
                )],
            });
        }
    }
    // The NodeEnvironment's addresses describe its own node, not another one being shown.
    let env_describes_shown_node =
        shown_node.is_none_or(|w| env_node.as_deref().is_none_or(|e| e == w));
    let node_name = shown_node
        .map(str::to_string)
        .or(env_node)
        .or(override_node)
        .or_else(|| s.nodes.first().and_then(|n| n.object.metadata.name.clone()))
        .unwrap_or_else(|| {
            notes.push(Note {
                pos: None,
                message: format!("no Node given: showing node {DEFAULT_NODE_NAME}"),
            });
            DEFAULT_NODE_NAME.to_string()
        });

    let mut nodes: Vec<Item<Node>> = s.nodes.iter().map(Item::written).collect();
    if !nodes
        .iter()
        .any(|n| n.object.metadata.name.as_deref() == Some(node_name.as_str()))
    {
        nodes.push(default_node(&node_name, nodes.len(), &mut notes));
    }
    let node = nodes
        .iter()
        .find(|n| n.object.metadata.name.as_deref() == Some(node_name.as_str()))
        .unwrap();
    let internal_ip = node_address(&node.object, "InternalIP");
    let pod_cidr = node_pod_cidr(&node.object);

    let settings = settings::resolve(
        s,
        &node_name,
        internal_ip,
        pod_cidr,
        env_describes_shown_node,
        &mut notes,
        &mut errors,
    );

    // kube-apiserver holds one object per kind, namespace and name; two in the input leave it
    // unclear which the reader meant (Services are checked with their allocations).
    let mut objects = validate::named(&s.pods)
        .chain(validate::named(&s.endpoint_slices))
        .chain(validate::named(&s.endpoints))
        .chain(validate::named(&s.deployments))
        .chain(validate::named(&s.nodes));
    let named_before = before.map_or(&[][..], |v| &v.named[..]);
    validated.named = validate::defined_once(&mut objects, named_before, &mut errors, pace).await;

    let mut services = Vec::new();
    let mut next = 0;
    for svc in &s.services {
        check_once(
            svc,
            services_before,
            &mut next,
            &mut validated.services,
            &mut errors,
            &mut warnings,
            validate::service,
        );
        pace.unit().await;
    }
    if errors.is_empty() {
        let named_before = before.map_or(&[][..], |v| &v.services_named[..]);
        services = validate::allocate(
            &s.services,
            &settings,
            &mut notes,
            &mut errors,
            &mut warnings,
            (named_before, &mut validated.services_named),
            pace,
        )
        .await;
    }
    for svc in services
        .iter()
        .filter(|s| !crate::proxy::handled_by_kube_proxy(&s.object))
    {
        let proxy = svc
            .object
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(crate::proxy::SERVICE_PROXY_NAME_LABEL))
            .cloned()
            .unwrap_or_default();
        notes.push(Note {
            pos: match svc.origin { Origin::Written { pos } => Some(pos), _ => None },
            message: format!("{} is labelled {}={proxy}: another proxy handles it, kube-proxy writes no rules for it", svc.reference, crate::proxy::SERVICE_PROXY_NAME_LABEL),
        });
    }
    let (pods, slices) = if errors.is_empty() {
        let mut next = 0;
        for slice in &s.endpoint_slices {
            check_once(
                slice,
                slices_before,
                &mut next,
                &mut validated.slices,
                &mut errors,
                &mut warnings,
                slices::validate_slice,
            );
            pace.unit().await;
        }
        slices::derive(
            s,
            &services,
            &nodes,
            &settings,
            &mut notes,
            &mut warnings,
            pace,
        )
        .await
    } else {
        (Vec::new(), Vec::new())
    };

    if !errors.is_empty() {
        crate::pace::sort_stable_by_key(&mut errors, |d| d.pos);
        errors.dedup();
        return Err(InputError {
            diagnostics: errors,
        });
    }
    warnings.retain(|w| w.severity == Severity::Warning);
    crate::pace::sort_stable_by_key(&mut warnings, |d| d.pos);
    Ok(Cluster {
        settings,
        nodes,
        services,
        slices,
        pods,
        notes,
        warnings,
        validated,
    })
}

fn default_node(name: &str, index: usize, notes: &mut Vec<Note>) -> Item<Node> {
    use k8s_openapi::api::core::v1::{NodeAddress, NodeSpec, NodeStatus};
    let pod_cidr = if index == 0 {
        DEFAULT_POD_CIDR.to_string()
    } else {
        format!("10.244.{index}.0/24")
    };
    notes.push(Note {
        pos: None,
        message: format!(
            "Node {name} not given: assumed InternalIP {}, podCIDR {pod_cidr}",
            settings::DEFAULT_NODE_IP
        ),
    });
    let node = Node {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            pod_cidr: Some(pod_cidr),
            ..Default::default()
        }),
        status: Some(NodeStatus {
            addresses: Some(vec![
                NodeAddress {
                    type_: "InternalIP".into(),
                    address: settings::DEFAULT_NODE_IP.into(),
                },
                NodeAddress {
                    type_: "Hostname".into(),
                    address: name.into(),
                },
            ]),
            ..Default::default()
        }),
    };
    Item {
        object: Rc::new(node),
        reference: ObjectRef::new("Node", "", name),
        origin: Origin::Derived {
            from: vec![],
            by: "kpx defaults",
        },
    }
}

/// A node's address of a kind (`InternalIP`, `ExternalIP`) from its status.
pub fn node_address(node: &Node, kind: &str) -> Option<IpAddr> {
    node.status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .find(|a| a.type_ == kind)
        .and_then(|a| crate::net::parse_ip(&a.address))
}

pub(crate) fn node_pod_cidr(node: &Node) -> Option<Cidr> {
    let spec = node.spec.as_ref()?;
    spec.pod_cidr
        .as_deref()
        .or_else(|| spec.pod_cidrs.as_ref()?.first().map(String::as_str))
        .and_then(Cidr::parse)
}
