//! IPVS mode (spec/ipvs-mode.md): virtual servers and real servers, the addresses bound to
//! `kube-ipvs0`, kube-proxy's 17 ipsets and the iptables rules it still writes, each element
//! with its provenance. IPVS is deprecated since kube-proxy 1.35 in favour of nftables.

pub mod render;

use crate::cluster::Cluster;
use crate::iptables::model::{Dataplane, Provenance};
use crate::members::Members;
use crate::proxy::{
    categorize, service_ports_after, EndpointInfo, KeptPorts, Protocol, ServicePort,
};
use serde::Serialize;
use std::net::IpAddr;

/// IP_VS_SVC_F_PERSISTENT
pub const FLAG_PERSISTENT: u32 = 0x1;
/// IP_VS_SVC_F_SCHED2, which the `mh` scheduler reads as "hash the source port" (`mh-port`).
pub const FLAG_SCHED2: u32 = 0x10;

#[derive(Clone, Debug, Serialize)]
pub struct Ipvs {
    pub ipv6: bool,
    /// Addresses bound to the dummy interface `kube-ipvs0`, sorted (the kernel keeps kube-proxy's
    /// random map order).
    pub bound: Vec<Bound>,
    pub services: Vec<VirtualServer>,
    pub ipsets: Vec<IpSet>,
    /// The iptables rules kube-proxy writes in IPVS mode.
    pub iptables: Dataplane,
    /// The virtual servers' places in ipvsadm's order, once sorted (`render::sorted_services`).
    #[serde(skip)]
    pub(crate) listing: std::cell::OnceCell<std::rc::Rc<[u32]>>,
    /// The service port map this was built from, for the next build after an edit to make
    /// its map from ([`build_after`]; `None` for a large cluster's, see
    /// [`crate::proxy::KEPT_ENDPOINTS`]). IPVS mode copies no more than the map: its virtual
    /// servers and sets are made anew.
    #[serde(skip)]
    pub(crate) kept: Option<Box<KeptPorts>>,
}

/// kube-ipvs0's addresses as they are bound: each once, with its first provenance.
#[derive(Default)]
struct Binding {
    list: Vec<Bound>,
    ips: std::collections::HashSet<IpAddr, foldhash::fast::FixedState>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Bound {
    pub ip: IpAddr,
    pub provenance: Provenance,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VirtualServer {
    pub protocol: Protocol,
    pub ip: IpAddr,
    pub port: u16,
    pub scheduler: String,
    pub flags: u32,
    /// Persistence timeout (sessionAffinity ClientIP), 0 otherwise.
    pub timeout: u32,
    pub reals: Vec<RealServer>,
    pub provenance: Provenance,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RealServer {
    pub ip: IpAddr,
    pub port: u16,
    pub weight: u32,
    pub provenance: Provenance,
}

#[derive(Clone, Debug, Serialize)]
pub struct IpSet {
    pub name: String,
    /// `hash:ip,port`, `bitmap:port`, …
    pub kind: &'static str,
    /// The comment of the iptables rule that matches the set (ipsets carry none themselves).
    pub comment: &'static str,
    pub entries: Vec<SetEntry>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SetEntry {
    pub text: String,
    pub provenance: Provenance,
}

/// kube-proxy's ipsets, in `ipsetInfo` order: (name, type, comment).
pub const IPSETS: [(&str, &str, &str); 17] = [
    (
        "KUBE-LOOP-BACK",
        "hash:ip,port,ip",
        "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose",
    ),
    (
        "KUBE-CLUSTER-IP",
        "hash:ip,port",
        "Kubernetes service cluster ip + port for masquerade purpose",
    ),
    (
        "KUBE-EXTERNAL-IP",
        "hash:ip,port",
        "Kubernetes service external ip + port for masquerade and filter purpose",
    ),
    (
        "KUBE-EXTERNAL-IP-LOCAL",
        "hash:ip,port",
        "Kubernetes service external ip + port with externalTrafficPolicy=local",
    ),
    (
        "KUBE-LOAD-BALANCER",
        "hash:ip,port",
        "Kubernetes service lb portal",
    ),
    (
        "KUBE-LOAD-BALANCER-LOCAL",
        "hash:ip,port",
        "Kubernetes service load balancer ip + port with externalTrafficPolicy=local",
    ),
    (
        "KUBE-LOAD-BALANCER-FW",
        "hash:ip,port",
        "Kubernetes service load balancer ip + port for load balancer with sourceRange",
    ),
    (
        "KUBE-LOAD-BALANCER-SOURCE-CIDR",
        "hash:ip,port,net",
        "Kubernetes service load balancer ip + port + source cidr for packet filter purpose",
    ),
    (
        "KUBE-LOAD-BALANCER-SOURCE-IP",
        "hash:ip,port,ip",
        "Kubernetes service load balancer ip + port + source IP for packet filter purpose",
    ),
    (
        "KUBE-NODE-PORT-TCP",
        "bitmap:port",
        "Kubernetes nodeport TCP port for masquerade purpose",
    ),
    (
        "KUBE-NODE-PORT-LOCAL-TCP",
        "bitmap:port",
        "Kubernetes nodeport TCP port with externalTrafficPolicy=local",
    ),
    (
        "KUBE-NODE-PORT-UDP",
        "bitmap:port",
        "Kubernetes nodeport UDP port for masquerade purpose",
    ),
    (
        "KUBE-NODE-PORT-LOCAL-UDP",
        "bitmap:port",
        "Kubernetes nodeport UDP port with externalTrafficPolicy=local",
    ),
    (
        "KUBE-NODE-PORT-SCTP-HASH",
        "hash:ip,port",
        "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'",
    ),
    (
        "KUBE-NODE-PORT-LOCAL-SCTP-HASH",
        "hash:ip,port",
        "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'",
    ),
    (
        "KUBE-HEALTH-CHECK-NODE-PORT",
        "bitmap:port",
        "Kubernetes health check node port",
    ),
    (
        "KUBE-IPVS-IPS",
        "hash:ip",
        "Addresses on the ipvs interface",
    ),
];

/// The set's name for the proxier's family: `KUBE-6-…`, cut to 31 characters, for IPv6.
pub fn set_name(base: &str, ipv6: bool) -> String {
    if ipv6 {
        let n = base.replacen("KUBE-", "KUBE-6-", 1);
        n.chars().take(31).collect()
    } else {
        base.to_string()
    }
}

/// An LB VIP whose source ranges do not hold the node IP: KUBE-IPVS-OUT-FILTER drops the node's
/// own traffic to it.
#[derive(Clone, Debug)]
pub(crate) struct OutFilter {
    pub ip: IpAddr,
    pub protocol: Protocol,
    pub port: u16,
    pub provenance: Provenance,
}

/// The 17 sets and what each already holds (adding an entry twice keeps one, as ipset does).
struct Sets(Vec<IpSet>, Members);

/// The sets' index reads an entry's text back from its set.
fn entry_text<'s>(sets: &'s [IpSet]) -> impl Fn((usize, usize)) -> &'s str {
    move |(s, e)| &sets[s].entries[e].text
}

impl Sets {
    fn add(&mut self, base: &str, text: String, provenance: Provenance) {
        let i = IPSETS
            .iter()
            .position(|(n, _, _)| *n == base)
            .unwrap_or_else(|| panic!("no ipset {base}"));
        let sets = &self.0;
        if self
            .1
            .add(i, &text, sets[i].entries.len(), &entry_text(sets))
        {
            self.0[i].entries.push(SetEntry { text, provenance });
        }
    }
}

/// Builds kube-proxy's IPVS-mode state for the shown node.
pub fn build(cluster: &Cluster) -> Ipvs {
    crate::pace::at_once(build_paced(cluster, &crate::pace::Pace::never()))
}

/// [`build`] after an edit, from `before`, the state built for the text before it
/// ([`build_after`]).
pub fn build_again(cluster: &Cluster, before: &Ipvs) -> Ipvs {
    crate::pace::at_once(build_after(
        cluster,
        Some(before),
        &crate::pace::Pace::never(),
    ))
}

/// [`build`], a service port being a unit of `pace`'s work.
pub async fn build_paced(cluster: &Cluster, pace: &crate::pace::Pace) -> Ipvs {
    build_after(cluster, None, pace).await
}

/// [`build_paced`] after an edit: the service port map is made from `before`'s, the state
/// built for the text before it (the ports of each Service made from the same objects are
/// copied, `proxy::service_ports_after`: at 1,000 Services a key's map made anew was a third of
/// its IPVS build).
pub async fn build_after(
    cluster: &Cluster,
    before: Option<&Ipvs>,
    pace: &crate::pace::Pace,
) -> Ipvs {
    let s = &cluster.settings;
    let ipv6 = s.ipv6;
    let mut sets = Sets(
        IPSETS
            .iter()
            .map(|(n, k, c)| IpSet {
                name: set_name(n, ipv6),
                kind: k,
                comment: c,
                entries: vec![],
            })
            .collect(),
        Default::default(),
    );
    let mut services = Vec::new();
    let mut bound = Binding::default();
    let mut out_filters = Vec::new();

    // NodePorts answer on every address of the family (not loopback, not link-local) unless
    // nodePortAddresses narrows them; kube-ipvs0's own addresses never count.
    let node_ips: Vec<IpAddr> = if s.node_ports_on_all_addresses() {
        let mut v: Vec<IpAddr> = Vec::new();
        for ip in s.local_addresses() {
            let link_local = matches!(ip, IpAddr::V6(a) if (a.segments()[0] & 0xffc0) == 0xfe80);
            if !ip.is_loopback() && !link_local && !v.contains(&ip) {
                v.push(ip);
            }
        }
        v
    } else {
        s.node_port_ips()
            .into_iter()
            .filter(|ip| !ip.is_loopback())
            .collect()
    };

    let port_map_before = before.and_then(|b| Some(b.kept.as_deref()?.port_map()));
    let (ports, made_from) = service_ports_after(cluster, port_map_before, pace).await;
    // The sets' index sized once: grown, each doubling hashed every entry again in one piece
    // (a 125 ms piece of the page at 44,125 Services; 71 ms where KUBE-IPVS-IPS, added last,
    // outgrew a room of four entries per service port). A few entries per service port, one
    // per local endpoint (KUBE-LOOP-BACK), and its ClusterIP bound to kube-ipvs0.
    let room = ports.iter().map(|sp| 5 + sp.endpoints.len()).sum();
    sets.1.reserve(room, &entry_text(&sets.0));
    // The lists sized once too (their last doublings were pieces of 30-50 ms natively): a
    // virtual server per ClusterIP and per NodePort address, an address bound per ClusterIP.
    services.reserve(ports.len() * (1 + node_ips.len()));
    bound.ips.reserve(ports.len());
    bound.list.reserve(ports.len());
    for sp in &ports {
        service_port(
            cluster,
            sp,
            &node_ips,
            &mut sets,
            &mut services,
            &mut bound,
            &mut out_filters,
        );
        pace.unit().await;
    }
    let mut bound = bound.list;
    crate::pace::sort_stable_by_key(&mut bound, |b| b.ip);
    for b in &bound {
        sets.add("KUBE-IPVS-IPS", b.ip.to_string(), b.provenance.clone());
        pace.unit().await;
    }
    let iptables = crate::iptables::ipvs_rules::build(cluster, &sets.0, &out_filters);
    let kept = match KeptPorts::keep(ports, made_from, 0) {
        Ok(kept) => Some(Box::new(kept)),
        // (Let go of a port at a time, as the iptables build does.)
        Err(ports) => {
            crate::pace::drop_paced(&mut { ports }, pace).await;
            None
        }
    };
    Ipvs {
        ipv6,
        bound,
        services,
        ipsets: sets.0,
        iptables,
        listing: Default::default(),
        kept,
    }
}

fn service_port(
    cluster: &Cluster,
    sp: &ServicePort,
    node_ips: &[IpAddr],
    sets: &mut Sets,
    services: &mut Vec<VirtualServer>,
    bound: &mut Binding,
    out_filters: &mut Vec<OutFilter>,
) {
    let s = &cluster.settings;
    let p = sp.protocol.lower();
    let prov = |field: &'static str| Provenance::service_port(sp, field);
    let ep_prov = |ep: &EndpointInfo| Provenance::endpoint(sp, ep);
    let c = categorize(sp, s);
    let internal: &[usize] = if sp.itp_local { &c.local } else { &c.cluster };
    // eTP Local without a local endpoint falls back to the cluster's (kubernetes#97081).
    let external: &[usize] = if sp.etp_local && !c.local.is_empty() {
        &c.local
    } else {
        &c.cluster
    };
    let scheduler = s.ipvs_scheduler.clone();
    let mut flags = 0;
    if sp.affinity_timeout.is_some() {
        flags |= FLAG_PERSISTENT;
    }
    if scheduler == "mh" {
        flags |= FLAG_SCHED2;
    }
    let is_node_address = |ip: &IpAddr| s.is_local_address(*ip);
    let mut add_vs = |ip: IpAddr, port: u16, eps: &[usize], provenance: Provenance| {
        let reals = eps
            .iter()
            .map(|&i| {
                let e = &sp.endpoints[i];
                RealServer {
                    ip: e.ip,
                    port: e.port,
                    weight: 1,
                    provenance: ep_prov(e),
                }
            })
            .collect();
        services.push(VirtualServer {
            protocol: sp.protocol,
            ip,
            port,
            scheduler: scheduler.clone(),
            flags,
            timeout: sp.affinity_timeout.unwrap_or(0),
            reals,
            provenance,
        });
    };
    let mut bind = |ip: IpAddr, provenance: Provenance| {
        // (A set: looked for in the list, 44,125 Services' addresses were a billion
        // comparisons, most of the build.)
        if bound.ips.insert(ip) {
            bound.list.push(Bound { ip, provenance });
        }
    };

    // Hairpin: every local endpoint, whatever its conditions.
    for e in sp.endpoints.iter().filter(|e| e.is_local) {
        sets.add(
            "KUBE-LOOP-BACK",
            format!("{},{p}:{},{}", e.ip, e.port, e.ip),
            ep_prov(e),
        );
    }
    // ClusterIP.
    sets.add(
        "KUBE-CLUSTER-IP",
        format!("{},{p}:{}", sp.cluster_ip, sp.port),
        prov("spec.clusterIP"),
    );
    add_vs(sp.cluster_ip, sp.port, internal, prov("spec.clusterIP"));
    bind(sp.cluster_ip, prov("spec.clusterIP"));
    // externalIPs.
    for ip in &sp.external_ips {
        let set = if sp.etp_local {
            "KUBE-EXTERNAL-IP-LOCAL"
        } else {
            "KUBE-EXTERNAL-IP"
        };
        sets.add(
            set,
            format!("{ip},{p}:{}", sp.port),
            prov("spec.externalIPs"),
        );
        add_vs(*ip, sp.port, external, prov("spec.externalIPs"));
        if !is_node_address(ip) {
            bind(*ip, prov("spec.externalIPs"));
        }
    }
    // LoadBalancer ingress IPs.
    for ip in &sp.lb_vips {
        let entry = format!("{ip},{p}:{}", sp.port);
        sets.add(
            "KUBE-LOAD-BALANCER",
            entry.clone(),
            prov("status.loadBalancer.ingress"),
        );
        if sp.etp_local {
            sets.add(
                "KUBE-LOAD-BALANCER-LOCAL",
                entry.clone(),
                prov("spec.externalTrafficPolicy"),
            );
        }
        if !sp.source_ranges.is_empty() {
            sets.add(
                "KUBE-LOAD-BALANCER-FW",
                entry.clone(),
                prov("spec.loadBalancerSourceRanges"),
            );
            for r in &sp.source_ranges {
                sets.add(
                    "KUBE-LOAD-BALANCER-SOURCE-CIDR",
                    format!("{entry},{r}"),
                    prov("spec.loadBalancerSourceRanges"),
                );
            }
            if s.node_ip
                .is_some_and(|n| sp.source_ranges.iter().any(|r| r.contains(n)))
            {
                sets.add(
                    "KUBE-LOAD-BALANCER-SOURCE-IP",
                    format!("{entry},{ip}"),
                    prov("spec.loadBalancerSourceRanges"),
                );
            } else {
                out_filters.push(OutFilter {
                    ip: *ip,
                    protocol: sp.protocol,
                    port: sp.port,
                    provenance: prov("spec.loadBalancerSourceRanges"),
                });
            }
        }
        add_vs(*ip, sp.port, external, prov("status.loadBalancer.ingress"));
        if !is_node_address(ip) {
            bind(*ip, prov("status.loadBalancer.ingress"));
        }
    }
    // NodePort, on every node IP.
    if sp.node_port != 0 && !node_ips.is_empty() {
        match sp.protocol {
            Protocol::Tcp | Protocol::Udp => {
                let up = sp.protocol.upper();
                sets.add(
                    &format!("KUBE-NODE-PORT-{up}"),
                    sp.node_port.to_string(),
                    prov("spec.ports.nodePort"),
                );
                if sp.etp_local {
                    sets.add(
                        &format!("KUBE-NODE-PORT-LOCAL-{up}"),
                        sp.node_port.to_string(),
                        prov("spec.externalTrafficPolicy"),
                    );
                }
            }
            Protocol::Sctp => {
                for ip in node_ips {
                    sets.add(
                        "KUBE-NODE-PORT-SCTP-HASH",
                        format!("{ip},sctp:{}", sp.node_port),
                        prov("spec.ports.nodePort"),
                    );
                    if sp.etp_local {
                        sets.add(
                            "KUBE-NODE-PORT-LOCAL-SCTP-HASH",
                            format!("{ip},sctp:{}", sp.node_port),
                            prov("spec.externalTrafficPolicy"),
                        );
                    }
                }
            }
            Protocol::Icmp => {}
        }
        for ip in node_ips {
            add_vs(*ip, sp.node_port, external, prov("spec.ports.nodePort"));
        }
    }
    if sp.health_check_node_port != 0 {
        sets.add(
            "KUBE-HEALTH-CHECK-NODE-PORT",
            sp.health_check_node_port.to_string(),
            prov("spec.healthCheckNodePort"),
        );
    }
}
