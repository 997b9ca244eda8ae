//! The typed iptables dataplane: tables → chains → rules, each rule with its provenance.
//!
//! A rule keeps its matches in the order kube-proxy writes them, so the `restore` renderer can
//! reproduce kube-proxy's text, while `save` and `list` re-order them the way iptables does.

use crate::input::ObjectRef;
use crate::net::Cidr;
use crate::proxy::Protocol;
use serde::Serialize;
use std::rc::Rc;

/// A name or text the dataplane holds: shared rather than copied, because one chain name is
/// the chain's, its index key and every jump to it, and one Service's comment or endpoint
/// stands on several rules (a 10,000-Service table has 330,000 rules).
pub type Text = Rc<str>;

/// Chain name → position: hashed with foldhash (a walk looks a chain up at every jump).
pub(crate) type ChainIndex = std::collections::HashMap<Text, usize, foldhash::fast::RandomState>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TableName {
    Filter,
    Nat,
}

impl TableName {
    pub fn as_str(self) -> &'static str {
        match self {
            TableName::Filter => "filter",
            TableName::Nat => "nat",
        }
    }
    pub fn parse(s: &str) -> Option<TableName> {
        match s {
            "filter" => Some(TableName::Filter),
            "nat" => Some(TableName::Nat),
            _ => None,
        }
    }
}

/// Who owns a chain, which decides where its text comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChainKind {
    /// A netfilter built-in chain (PREROUTING …); kube-proxy only prepends jump rules to it.
    BuiltIn,
    /// Declared and rewritten by kube-proxy's iptables-restore input.
    KubeProxy,
    /// Ensured by kube-proxy outside its restore input (`KUBE-PROXY-CANARY`, and kubelet's
    /// `KUBE-FIREWALL` when the restore input does not fill it).
    Ensured,
    /// Owned by kubelet; kube-proxy's rules may jump to it.
    Kubelet,
}

#[derive(Clone, Debug, Serialize)]
pub struct Dataplane {
    pub tables: Vec<Table>,
    /// What the next build, after an edit, copies from (not a fact of the dataplane; `None`
    /// for a large cluster's and IPVS mode's, see [`super::reuse`]).
    #[serde(skip)]
    pub(crate) memo: Option<Box<super::reuse::Memo>>,
    /// Which build this is ([`Build::next`]), and which build the chains it copied whole are
    /// copies of ([`Chain::copy_of`]).
    #[serde(skip)]
    pub(crate) build: Build,
    #[serde(skip)]
    pub(crate) copied_from: Option<Build>,
}

/// A dataplane's build, told apart from every other one made in this process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Build(u64);

impl Build {
    pub(crate) fn next() -> Build {
        use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
        static BUILDS: AtomicU64 = AtomicU64::new(0);
        Build(BUILDS.fetch_add(1, Relaxed) + 1)
    }
}

impl Dataplane {
    pub fn table(&self, name: TableName) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// How many service ports this build copied from the one before the edit.
    pub fn ports_copied(&self) -> usize {
        self.memo.as_ref().map_or(0, |m| m.kept().copied)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Table {
    pub name: TableName,
    pub chains: Vec<Chain>,
    /// Chain name → position in `chains` (a walk looks a chain up at every jump; a 10,000-Service
    /// table has 60,000 chains). Filled by the builder, which is the only way to make a table.
    #[serde(skip)]
    pub(crate) by_name: ChainIndex,
    /// The order iptables lists the chains in (positions in `chains`), once a view has sorted
    /// them (`render::listing_order`: 12,000 names at 1,000 Services, 2.4 ms of a key in the
    /// wasm). A table built after an edit with the same chains in the same order takes it from
    /// the table before ([`Table::listed_as`]).
    #[serde(skip)]
    pub(crate) listing: std::cell::OnceCell<Rc<[u32]>>,
}

impl Table {
    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.by_name.get(name).map(|&i| &self.chains[i])
    }

    /// Takes `before`'s listing order, if it has one and the same chains in the same order
    /// (a key typed changes no chain's name: the names of the ports copied are the same
    /// texts, compared by address).
    pub(crate) fn listed_as(&self, before: &Table) -> Option<()> {
        let order = before.listing.get()?;
        let same = |(a, b): (&Chain, &Chain)| Rc::ptr_eq(&a.name, &b.name) || a.name == b.name;
        let alike = self.chains.len() == before.chains.len()
            && self.chains.iter().zip(&before.chains).all(same);
        if alike {
            let _ = self.listing.set(order.clone());
        }
        alike.then_some(())
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Chain {
    pub name: Text,
    pub kind: ChainKind,
    pub rules: Vec<Rule>,
    pub provenance: Provenance,
    /// How many times kube-proxy's restore input declares the chain (1.23 wrote a KUBE-FW-*
    /// line once per LoadBalancer IP); harmless to iptables-restore, kept for exactness.
    #[serde(skip_serializing_if = "is_one")]
    pub declarations: u32,
    /// The chain of the build before an edit ([`Dataplane::copied_from`]; its place in its
    /// table) this one is a copy of, rule for rule at the same places: set when a copied
    /// service port declares it, lost at any rule it gains otherwise. A view made after the
    /// edit takes such a chain's lines from the view before without reading its rules
    /// (`render::write_save_after`: comparing them was a fifth of a key's view at 1,000
    /// Services in the wasm).
    #[serde(skip)]
    pub(crate) copy_of: Option<u32>,
}

impl Chain {
    /// Whether the build after an edit copied this chain whole, rule for rule, from the build
    /// before it (the chains of a service port the edit left as it was).
    pub fn is_copy(&self) -> bool {
        self.copy_of.is_some()
    }
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

#[derive(Clone, Debug, Serialize)]
pub struct Rule {
    /// Position in its table's part of kube-proxy's restore input, from 1 (rules of all
    /// chains of a table are written interleaved, service by service); built-in chains' jump
    /// rules are not in it (0).
    pub order: u32,
    /// Shared by a rule copied after an edit with the rule it copies (`reuse`), so that a view
    /// made after the edit finds it alike by address, not by reading both.
    pub matches: Rc<[Match]>,
    pub target: Option<Target>,
    pub provenance: Provenance,
}

/// A match, as kube-proxy writes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "match", rename_all = "kebab-case")]
pub enum Match {
    Comment {
        text: Text,
    },
    /// `-m tcp -p tcp`: the protocol and its match module.
    Protocol {
        protocol: Protocol,
    },
    Source {
        negated: bool,
        cidr: Cidr,
    },
    Destination {
        negated: bool,
        cidr: Cidr,
    },
    /// `--dport N` of the protocol module.
    DestinationPort {
        port: u16,
    },
    InInterface {
        negated: bool,
        name: Text,
    },
    AddrType {
        negated: bool,
        source: bool,
        kind: Text,
    },
    Mark {
        negated: bool,
        value: u32,
        mask: u32,
    },
    Conntrack {
        negated: bool,
        states: Text,
    },
    /// `%0.10f` text, exactly as kube-proxy wrote it.
    Statistic {
        probability: Text,
    },
    RecentCheck {
        name: Text,
        seconds: u32,
    },
    RecentSet {
        name: Text,
    },
    Nfacct {
        name: Text,
    },
    PhysdevNotIn,
    /// `-p tcp` without the protocol's match module (IPVS mode's NodePort rules).
    ProtocolOnly {
        protocol: Protocol,
    },
    /// `-m set --match-set NAME dst,dst`.
    Set {
        name: Text,
        flags: Text,
    },
    /// `-m ipvs --vaddr A --vproto P --vport N` (IPVS mode's KUBE-IPVS-OUT-FILTER).
    Ipvs {
        vaddr: std::net::IpAddr,
        vproto: Protocol,
        vport: u16,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "target", rename_all = "kebab-case")]
pub enum Target {
    Jump {
        chain: Text,
    },
    Accept,
    Drop,
    Return,
    Reject,
    Dnat {
        to: Text,
    },
    Masquerade {
        random_fully: bool,
    },
    /// kube-proxy's `--or-mark`.
    MarkOr {
        mark: u32,
    },
    /// kube-proxy's `--xor-mark`.
    MarkXor {
        mark: u32,
    },
    /// `--set-xmark value/mask`, as old releases and kubelet write it.
    MarkSet {
        value: u32,
        mask: u32,
    },
}

impl Target {
    pub fn jump_chain(&self) -> Option<&str> {
        match self {
            Target::Jump { chain } => Some(chain),
            _ => None,
        }
    }
}

/// Why a chain or rule exists: a shared handle, because an endpoint's chain and its rules (and
/// a Service port's many rules) all have the same reason. Read through it: `match &*p`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Provenance(Rc<Why>);

impl std::ops::Deref for Provenance {
    type Target = Why;
    fn deref(&self) -> &Why {
        &self.0
    }
}

impl From<Why> for Provenance {
    fn from(why: Why) -> Self {
        Provenance(Rc::new(why))
    }
}

/// What a [`Provenance`] says.
#[derive(Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum Why {
    /// A rule every kube-proxy writes; shaped by its settings.
    KubeProxy {
        setting: &'static str,
        config: ObjectRef,
    },
    /// Written by kubelet, not kube-proxy.
    Kubelet,
    /// A port of a Service: `field` is the Service field that made it.
    ServicePort {
        service: ObjectRef,
        port_index: usize,
        field: &'static str,
    },
    /// One endpoint of a service port.
    Endpoint {
        service: ObjectRef,
        port_index: usize,
        /// `ip:port`, as the endpoint's DNAT target writes it.
        endpoint: Text,
        slice: ObjectRef,
        pod: Option<ObjectRef>,
    },
}

impl Provenance {
    /// kube-proxy itself, shaped by `setting` of its configuration.
    pub fn kube_proxy(setting: &'static str) -> Self {
        Why::KubeProxy {
            setting,
            config: crate::cluster::proxy_config_ref(),
        }
        .into()
    }

    /// Kubelet's chains and rules.
    pub fn kubelet() -> Self {
        Why::Kubelet.into()
    }

    /// A port of a Service, made by `field`.
    pub fn service_port(sp: &crate::proxy::ServicePort, field: &'static str) -> Self {
        Why::ServicePort {
            service: sp.service.clone(),
            port_index: sp.port_index,
            field,
        }
        .into()
    }

    /// One endpoint of a service port.
    pub fn endpoint(sp: &crate::proxy::ServicePort, ep: &crate::proxy::EndpointInfo) -> Self {
        Why::Endpoint {
            service: sp.service.clone(),
            port_index: sp.port_index,
            endpoint: ep.key().clone(),
            slice: ep.slice.clone(),
            pod: ep.target.clone(),
        }
        .into()
    }
}

impl Why {
    /// The endpoint's `ip:port`, for an endpoint's provenance.
    pub fn endpoint_key(&self) -> Option<&Text> {
        match self {
            Why::Endpoint { endpoint, .. } => Some(endpoint),
            _ => None,
        }
    }

    /// A sentence for the reader: which object and field made this.
    pub fn describe(&self) -> String {
        match self {
            Why::KubeProxy { setting, .. } => format!("kube-proxy itself ({setting})"),
            Why::Kubelet => "kubelet (kube-proxy only jumps to it)".to_string(),
            Why::ServicePort {
                service,
                port_index,
                field,
            } => {
                format!("{service}, spec.ports[{port_index}] ({field})")
            }
            Why::Endpoint {
                service,
                port_index,
                endpoint,
                slice,
                pod,
            } => {
                let mut s = format!(
                    "{service}, spec.ports[{port_index}]: endpoint {endpoint} from {slice}"
                );
                if let Some(pod) = pod {
                    s.push_str(&format!(" ({pod})"));
                }
                s
            }
        }
    }

    /// The input objects this provenance names.
    pub fn objects(&self) -> Vec<&ObjectRef> {
        match self {
            Why::KubeProxy { config, .. } => vec![config],
            Why::Kubelet => vec![],
            Why::ServicePort { service, .. } => vec![service],
            Why::Endpoint {
                service,
                slice,
                pod,
                ..
            } => {
                let mut v = vec![service, slice];
                v.extend(pod.iter());
                v
            }
        }
    }
}
