//! The typed iptables dataplane: tables → chains → rules, each rule with its provenance.
//!
//! A rule keeps its matches in the order kube-proxy writes them, so the `restore` renderer can
//! reproduce kube-proxy's text, while `save` and `list` re-order them the way iptables does.

use crate::input::ObjectRef;
use crate::net::Cidr;
use crate::proxy::Protocol;
use serde::Serialize;

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
}

impl Dataplane {
    pub fn table(&self, name: TableName) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Table {
    pub name: TableName,
    pub chains: Vec<Chain>,
    /// Chain name → position in `chains` (a walk looks a chain up at every jump; a 10,000-Service
    /// table has 60,000 chains). Filled by the builder, which is the only way to make a table.
    #[serde(skip)]
    pub(crate) by_name: std::collections::HashMap<String, usize>,
}

impl Table {
    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.by_name.get(name).map(|&i| &self.chains[i])
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Chain {
    pub name: String,
    pub kind: ChainKind,
    pub rules: Vec<Rule>,
    pub provenance: Provenance,
    /// How many times kube-proxy's restore input declares the chain (1.23 wrote a KUBE-FW-*
    /// line once per LoadBalancer IP); harmless to iptables-restore, kept for exactness.
    #[serde(skip_serializing_if = "is_one")]
    pub declarations: usize,
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

#[derive(Clone, Debug, Serialize)]
pub struct Rule {
    /// Position in kube-proxy's restore input (rules of all chains of a table are written
    /// interleaved, service by service); built-in chains' jump rules are not in it.
    pub order: usize,
    pub matches: Vec<Match>,
    pub target: Option<Target>,
    pub provenance: Provenance,
}

/// A match, as kube-proxy writes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "match", rename_all = "kebab-case")]
pub enum Match {
    Comment {
        text: String,
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
        name: String,
    },
    AddrType {
        negated: bool,
        source: bool,
        kind: String,
    },
    Mark {
        negated: bool,
        value: u32,
        mask: u32,
    },
    Conntrack {
        negated: bool,
        states: String,
    },
    /// `%0.10f` text, exactly as kube-proxy wrote it.
    Statistic {
        probability: String,
    },
    RecentCheck {
        name: String,
        seconds: u32,
    },
    RecentSet {
        name: String,
    },
    Nfacct {
        name: String,
    },
    PhysdevNotIn,
    /// `-p tcp` without the protocol's match module (IPVS mode's NodePort rules).
    ProtocolOnly {
        protocol: Protocol,
    },
    /// `-m set --match-set NAME dst,dst`.
    Set {
        name: String,
        flags: String,
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
        chain: String,
    },
    Accept,
    Drop,
    Return,
    Reject,
    Dnat {
        to: String,
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

/// Why a chain or rule exists.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum Provenance {
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
        endpoint: String,
        slice: ObjectRef,
        pod: Option<ObjectRef>,
    },
}

impl Provenance {
    /// A port of a Service, made by `field`.
    pub fn service_port(sp: &crate::proxy::ServicePort, field: &'static str) -> Self {
        Provenance::ServicePort {
            service: sp.service.clone(),
            port_index: sp.port_index,
            field,
        }
    }

    /// One endpoint of a service port.
    pub fn endpoint(sp: &crate::proxy::ServicePort, ep: &crate::proxy::EndpointInfo) -> Self {
        Provenance::Endpoint {
            service: sp.service.clone(),
            port_index: sp.port_index,
            endpoint: ep.key(),
            slice: ep.slice.clone(),
            pod: ep.target.clone(),
        }
    }

    /// A sentence for the reader: which object and field made this.
    pub fn describe(&self) -> String {
        match self {
            Provenance::KubeProxy { setting, .. } => format!("kube-proxy itself ({setting})"),
            Provenance::Kubelet => "kubelet (kube-proxy only jumps to it)".to_string(),
            Provenance::ServicePort {
                service,
                port_index,
                field,
            } => {
                format!("{service}, spec.ports[{port_index}] ({field})")
            }
            Provenance::Endpoint {
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
            Provenance::KubeProxy { config, .. } => vec![config],
            Provenance::Kubelet => vec![],
            Provenance::ServicePort { service, .. } => vec![service],
            Provenance::Endpoint {
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
