//! What kube-proxy makes of Services and EndpointSlices, before any mode writes a rule:
//! service ports, their endpoints in kube-proxy's order, and the endpoint categories that the
//! traffic policies pick from. Shared by every mode.

pub mod names;

use crate::cluster::{Cluster, Item};
use crate::input::ObjectRef;
use crate::net::{push_host_port, Cidr};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Protocol {
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
    #[serde(rename = "SCTP")]
    Sctp,
    /// Only for packets kpx walks (ping); no Service port is ICMP.
    #[serde(rename = "ICMP")]
    Icmp,
}

impl Protocol {
    pub fn parse(s: &str) -> Option<Protocol> {
        match s {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }
    /// `tcp`, as in `-m tcp -p tcp` and chain-name hashes.
    pub fn lower(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
            Protocol::Icmp => "icmp",
        }
    }
    pub fn upper(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
            Protocol::Icmp => "ICMP",
        }
    }
}

/// One endpoint of a service port, as kube-proxy's endpoint map holds it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EndpointInfo {
    /// With `port`, written once into the endpoint's `key` when it is read from its slice:
    /// nothing changes either afterwards.
    pub ip: IpAddr,
    pub port: u16,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
    pub is_local: bool,
    pub zone_hints: Vec<String>,
    pub node_hints: Vec<String>,
    /// The EndpointSlice it came from.
    pub slice: ObjectRef,
    /// The Pod behind it, when the slice says.
    pub target: Option<ObjectRef>,
    /// `ip:port`, made once: iptables' and nftables' names, comments, DNAT targets and
    /// provenance share it.
    #[serde(skip)]
    key: Rc<str>,
}

impl EndpointInfo {
    /// `ip:port`, kube-proxy's `Endpoint.String()`: the sort key and the SEP hash input.
    pub fn key(&self) -> &Rc<str> {
        &self.key
    }
}

/// Everything kube-proxy knows about one port of one Service (`ServicePortInfo`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServicePort {
    pub service: ObjectRef,
    pub namespace: String,
    pub name: String,
    /// `spec.ports[i].name`, possibly empty.
    pub port_name: String,
    pub port_index: usize,
    pub protocol: Protocol,
    pub cluster_ip: IpAddr,
    pub port: u16,
    /// 0 when the port has no NodePort.
    pub node_port: u16,
    pub external_ips: Vec<IpAddr>,
    /// LoadBalancer ingress IPs (ipMode Proxy and other families dropped).
    pub lb_vips: Vec<IpAddr>,
    pub source_ranges: Vec<Cidr>,
    /// ClientIP affinity timeout in seconds, when sessionAffinity is ClientIP.
    pub affinity_timeout: Option<u32>,
    pub etp_local: bool,
    pub itp_local: bool,
    /// 0 unless LoadBalancer with eTP Local.
    pub health_check_node_port: u16,
    pub is_load_balancer: bool,
    /// In kube-proxy's order: byte-wise sort of `ip:port`.
    pub endpoints: Vec<EndpointInfo>,
    /// [`ServicePort::spn`], written once: every mode names, comments and hashes with it.
    #[serde(skip)]
    spn: Rc<str>,
}

impl ServicePort {
    /// `ns/name:port`, or `ns/name` for an unnamed port: used in every comment and hash.
    pub fn spn(&self) -> &Rc<str> {
        &self.spn
    }

    fn spn_of(namespace: &str, name: &str, port_name: &str) -> Rc<str> {
        if port_name.is_empty() {
            format!("{namespace}/{name}").into()
        } else {
            format!("{namespace}/{name}:{port_name}").into()
        }
    }
    pub fn externally_accessible(&self) -> bool {
        self.node_port != 0 || !self.lb_vips.is_empty() || !self.external_ips.is_empty()
    }
    pub fn uses_cluster_endpoints(&self) -> bool {
        !self.itp_local || self.externally_accessible()
    }
    pub fn uses_local_endpoints(&self) -> bool {
        self.itp_local || (self.etp_local && self.externally_accessible())
    }
    pub fn hash(&self) -> String {
        names::port_proto_hash(self.spn(), self.protocol.lower())
    }
}

/// The endpoints a service port's traffic policies use (`proxy.CategorizeEndpoints`); the
/// lists hold indexes into `ServicePort::endpoints` and keep its order.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Categories {
    pub cluster: Vec<usize>,
    pub local: Vec<usize>,
    /// The endpoints that get SEP chains.
    pub all_reachable: Vec<usize>,
    pub has_any: bool,
}

/// What `syncProxyRules` derives from the categories, the same in iptables and nftables mode
/// (the variables of the same names in kube-proxy).
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub has_endpoints: bool,
    /// A cluster-policy chain (KUBE-SVC / service-…) exists.
    pub uses_cluster_chain: bool,
    /// A local-policy chain (KUBE-SVL / local-…) exists.
    pub uses_local_chain: bool,
    pub has_internal_endpoints: bool,
    pub has_external_endpoints: bool,
    /// An external chain (KUBE-EXT / external-…) exists.
    pub uses_external_chain: bool,
    /// A firewall chain (loadBalancerSourceRanges) exists.
    pub uses_firewall_chain: bool,
}

impl Plan {
    pub fn of(sp: &ServicePort, c: &Categories) -> Plan {
        let has = c.has_any;
        Plan {
            has_endpoints: has,
            uses_cluster_chain: !c.cluster.is_empty() && sp.uses_cluster_endpoints(),
            uses_local_chain: !c.local.is_empty() && sp.uses_local_endpoints(),
            has_internal_endpoints: has && !(sp.itp_local && c.local.is_empty()),
            has_external_endpoints: has && !(sp.etp_local && c.local.is_empty()),
            uses_external_chain: has && sp.externally_accessible(),
            uses_firewall_chain: has && !sp.lb_vips.is_empty() && !sp.source_ranges.is_empty(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Topology {
    None,
    SameNode,
    SameZone,
}

/// `CategorizeEndpoints` for the node of `settings` (its name and zone label).
pub fn categorize(sp: &ServicePort, settings: &crate::cluster::settings::Settings) -> Categories {
    let zone = settings
        .topology_labels
        .get("topology.kubernetes.io/zone")
        .map(String::as_str);
    categorize_on(sp, &settings.node_name, zone)
}

pub fn categorize_on(sp: &ServicePort, node_name: &str, zone: Option<&str>) -> Categories {
    let eps = &sp.endpoints;
    let mut c = Categories::default();
    let idx = |f: &dyn Fn(&EndpointInfo) -> bool| -> Vec<usize> {
        (0..eps.len()).filter(|i| f(&eps[*i])).collect()
    };

    let mut topology = Topology::None;
    if sp.uses_cluster_endpoints() {
        topology = topology_mode(eps, node_name, zone);
        let available = |e: &EndpointInfo| match topology {
            Topology::None => true,
            Topology::SameNode => e.node_hints.iter().any(|n| n == node_name),
            Topology::SameZone => zone.is_some_and(|z| e.zone_hints.iter().any(|h| h == z)),
        };
        c.cluster = idx(&|e| e.ready && available(e));
        if c.cluster.is_empty() {
            c.cluster = idx(&|e| e.serving && e.terminating && available(e));
        }
        c.has_any = !c.cluster.is_empty();
    }
    if !sp.uses_local_endpoints() {
        c.all_reachable = c.cluster.clone();
        return c;
    }
    let (mut local_ready, mut local_serving_terminating) = (false, false);
    for e in eps {
        if e.ready {
            c.has_any = true;
            local_ready |= e.is_local;
        } else if e.serving && e.terminating {
            c.has_any = true;
            local_serving_terminating |= e.is_local;
        }
    }
    let mut serving_terminating = false;
    if local_ready {
        c.local = idx(&|e| e.is_local && e.ready);
    } else if local_serving_terminating {
        serving_terminating = true;
        c.local = idx(&|e| e.is_local && e.serving && e.terminating);
    }
    if !sp.uses_cluster_endpoints() {
        c.all_reachable = c.local.clone();
        return c;
    }
    if topology == Topology::None && !serving_terminating {
        c.all_reachable = c.cluster.clone();
        return c;
    }
    // kube-proxy merges through a Go map (random order); kpx keeps kube-proxy's sort order.
    let mut all: Vec<usize> = c.cluster.iter().chain(c.local.iter()).copied().collect();
    crate::pace::sort_stable_by(&mut all, Ord::cmp);
    all.dedup();
    c.all_reachable = all;
    c
}

fn topology_mode(eps: &[EndpointInfo], node_name: &str, zone: Option<&str>) -> Topology {
    let (mut node_hit, mut all_node_hints, mut zone_hit, mut all_zone_hints) =
        (false, true, false, true);
    for e in eps.iter().filter(|e| e.ready) {
        if e.node_hints.is_empty() {
            all_node_hints = false;
        } else if e.node_hints.iter().any(|n| n == node_name) {
            node_hit = true;
        }
        if e.zone_hints.is_empty() {
            all_zone_hints = false;
        } else if zone.is_some_and(|z| e.zone_hints.iter().any(|h| h == z)) {
            zone_hit = true;
        }
    }
    if all_node_hints && node_hit {
        Topology::SameNode
    } else if all_zone_hints && zone_hit {
        Topology::SameZone
    } else {
        Topology::None
    }
}

/// A build keeps the service ports it was built from, for the next build after an edit to copy
/// the rules of each port the edit left as it was, only while they are at most this many and
/// have at most this many endpoints in all: a build otherwise lets go of its service port map (at 2,000 Services × 10,
/// 4 MiB more live after the build natively). A text larger than that is read and analysed in
/// steps between its reader's keys, seconds an edit, of which a dataplane is a small part.
pub(crate) const KEPT_ENDPOINTS: usize = 20_000;

/// Whether a build from `ports` keeps them for the next ([`KEPT_ENDPOINTS`]).
pub(crate) fn kept(ports: &[ServicePort]) -> bool {
    ports.len() <= KEPT_ENDPOINTS
        && ports.iter().map(|sp| sp.endpoints.len()).sum::<usize>() <= KEPT_ENDPOINTS
}

/// The service port map a dataplane was built from, kept with it for the next build after an
/// edit (`iptables::reuse`, `nftables::reuse`).
#[derive(Clone)]
pub(crate) struct KeptPorts {
    pub ports: Vec<ServicePort>,
    /// What each Service's ports were made from (the next service port map copies them).
    pub made_from: MadeFrom,
    /// How many ports the build copied from the one before (tests and benchmarks say it).
    pub copied: usize,
}

impl KeptPorts {
    /// The service port map a build was made from, kept for the next if [`kept`] says so;
    /// else given back, for the build to let go of.
    pub fn keep(
        ports: Vec<ServicePort>,
        made_from: MadeFrom,
        copied: usize,
    ) -> Result<KeptPorts, Vec<ServicePort>> {
        if !kept(&ports) {
            return Err(ports);
        }
        Ok(KeptPorts {
            ports,
            made_from,
            copied,
        })
    }

    /// The service port map, and what it was made from ([`service_ports_after`]).
    pub fn port_map(&self) -> (&[ServicePort], &MadeFrom) {
        (&self.ports, &self.made_from)
    }
}

// (Written by hand: a derived one printed every port, and was code in the site.)
impl std::fmt::Debug for KeptPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ports, {} copied", self.ports.len(), self.copied)
    }
}

/// The service ports a build before an edit was built from, found by name: a mode's rules for
/// a port are a pure function of the port (its endpoints included) and of kube-proxy's
/// settings, so a port equal to one of these, compared in full, has the rules built for it
/// then (`iptables::reuse`, `nftables::reuse`).
pub(crate) struct PortsBefore<'a> {
    ports: &'a [ServicePort],
    /// By name (`ns/name:port`): the first port of a name, a port of the same name and another
    /// protocol being looked for in those right after it (one further on is not found, and is
    /// built anew). A table's chain index, by type (one copy of the hash table's code in the
    /// site).
    by_name: crate::iptables::model::ChainIndex,
}

impl<'a> PortsBefore<'a> {
    pub fn new(ports: &'a [ServicePort]) -> Self {
        let mut by_name = crate::iptables::model::ChainIndex::default();
        by_name.reserve(ports.len());
        for (i, sp) in ports.iter().enumerate().rev() {
            by_name.insert(sp.spn().clone(), i);
        }
        PortsBefore { ports, by_name }
    }

    /// The position of the port before that equals `sp`, if any.
    pub fn equal(&self, sp: &ServicePort) -> Option<usize> {
        let &first = self.by_name.get(&**sp.spn())?;
        let i = (first..self.ports.len())
            .take_while(|&i| self.ports[i].spn() == sp.spn())
            .find(|&i| self.ports[i].protocol == sp.protocol)?;
        (self.ports[i] == *sp).then_some(i)
    }
}

/// Every service port kube-proxy on this node programs, in input order (kube-proxy itself
/// walks its service map in random order; kpx keeps the reader's order).
pub fn service_ports(cluster: &Cluster) -> Vec<ServicePort> {
    crate::pace::at_once(service_ports_paced(cluster, &crate::pace::Pace::never()))
}

/// [`service_ports`], a Service being a unit of `pace`'s work.
pub async fn service_ports_paced(cluster: &Cluster, pace: &crate::pace::Pace) -> Vec<ServicePort> {
    service_ports_after(cluster, None, pace).await.0
}

/// What each Service's ports in a service port map were made from, kept with a dataplane
/// built from it (`iptables::reuse`, `nftables::reuse`) for the map made after an edit: a
/// text read again after an edit shares every object of the sections the edit left
/// (`input::Reading::after`), so a Service whose object and slices are the very ones before
/// has the ports made from them before, copied (a port's endpoints share their names and keys).
#[derive(Clone, Default)]
pub(crate) struct MadeFrom {
    /// What of kube-proxy's settings the ports read.
    reads: Option<(bool, String, FeatureGates)>,
    services: Vec<Source>,
}

/// One Service's objects, and where its ports end in the map.
#[derive(Clone)]
struct Source {
    service: (Rc<Service>, ObjectRef),
    slices: Vec<(Rc<EndpointSlice>, ObjectRef)>,
    ports_end: u32,
}

/// [`service_ports_paced`], copying the ports of each Service made from the same objects as
/// one of `before`'s (the map made before an edit, and what it was made from).
pub(crate) async fn service_ports_after(
    cluster: &Cluster,
    before: Option<(&[ServicePort], &MadeFrom)>,
    pace: &crate::pace::Pace,
) -> (Vec<ServicePort>, MadeFrom) {
    let s = &cluster.settings;
    // Slices by (namespace, kubernetes.io/service-name), as kube-proxy's slice cache keys them.
    // (Sized up front and hashed by foldhash: with SipHash, growing it for 10,000 Services was a
    // tenth of building the service port map.)
    let mut slices: HashMap<(&str, &str), Vec<&Item<EndpointSlice>>, foldhash::fast::FixedState> =
        HashMap::with_capacity_and_hasher(cluster.services.len(), Default::default());
    // kube-proxy's informer also skips slices labelled service.kubernetes.io/headless.
    let watched = |sl: &&Item<EndpointSlice>| {
        sl.object
            .metadata
            .labels
            .as_ref()
            .is_none_or(|l| !l.contains_key("service.kubernetes.io/headless"))
    };
    // (A slice a unit: at 44,125 Services this loop was a 37 ms part of the build natively.)
    for sl in cluster.slices.iter().filter(watched) {
        pace.unit().await;
        if let Some(name) = sl
            .object
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("kubernetes.io/service-name"))
        {
            slices
                .entry((sl.reference.namespace.as_str(), name.as_str()))
                .or_default()
                .push(sl);
        }
    }
    let gates = FeatureGates::of(s.version);
    let reads = Some((s.ipv6, s.node_name.clone(), gates));
    let before = before.filter(|(_, made)| made.reads == reads);
    // The Services before are walked beside these (`cluster::found_ahead`). (A map of every
    // object by its address found any, for 0.3 KB more of the site; a text whose Services
    // are reordered has their ports made anew.)
    let mut next_before = 0;
    let mut out = Vec::new();
    let mut made_from = MadeFrom {
        reads,
        services: Vec::with_capacity(cluster.services.len()),
    };
    for svc in cluster
        .services
        .iter()
        .filter(|s| handled_by_kube_proxy(&s.object))
    {
        let mine = slices
            .get(&(
                svc.reference.namespace.as_str(),
                svc.reference.name.as_str(),
            ))
            .map_or(&[][..], Vec::as_slice);
        let source = Source {
            service: (svc.object.clone(), svc.reference.clone()),
            slices: mine
                .iter()
                .map(|sl| (sl.object.clone(), sl.reference.clone()))
                .collect(),
            ports_end: 0,
        };
        let made_before = before.and_then(|(ports, made)| {
            let i = crate::cluster::found_ahead(&made.services, &mut next_before, |was| {
                Rc::ptr_eq(&was.service.0, &svc.object)
            })?;
            let start = i.checked_sub(1).map_or(0, |i| made.services[i].ports_end);
            let was = &made.services[i];
            fn same<T>((a, r): &(Rc<T>, ObjectRef), (b, q): &(Rc<T>, ObjectRef)) -> bool {
                Rc::ptr_eq(a, b) && r == q
            }
            let alike = same(&was.service, &source.service)
                && was.slices.len() == source.slices.len()
                && was
                    .slices
                    .iter()
                    .zip(&source.slices)
                    .all(|(a, b)| same(a, b));
            alike.then(|| ports.get(start as usize..was.ports_end as usize))?
        });
        match made_before {
            Some(ports) => out.extend_from_slice(ports),
            None => out.extend(ports_of(svc, mine, s.ipv6, &s.node_name, gates)),
        }
        made_from.services.push(Source {
            ports_end: out.len() as u32,
            ..source
        });
        pace.unit().await;
    }
    (out, made_from)
}

/// The label that hands a Service to another proxy; kube-proxy's informer never sees those.
pub const SERVICE_PROXY_NAME_LABEL: &str = "service.kubernetes.io/service-proxy-name";

/// kube-proxy watches Services without `service.kubernetes.io/service-proxy-name`.
pub fn handled_by_kube_proxy(svc: &Service) -> bool {
    svc.metadata
        .labels
        .as_ref()
        .is_none_or(|l| !l.contains_key(SERVICE_PROXY_NAME_LABEL))
}

/// Feature gates whose default changes what kube-proxy programs, by release.
#[derive(Clone, Copy, Debug, PartialEq)]
struct FeatureGates {
    /// LoadBalancerIPMode (on by default from 1.30): `ipMode: Proxy` ingress IPs get no rules.
    lb_ip_mode: bool,
    /// PreferSameTrafficDistribution (on by default from 1.34): node hints are read.
    node_hints: bool,
}

impl FeatureGates {
    fn of(v: crate::cluster::settings::Version) -> Self {
        let at_least = |minor| v.major > 1 || (v.major == 1 && v.minor >= minor);
        FeatureGates {
            lb_ip_mode: at_least(30),
            node_hints: at_least(34),
        }
    }
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    crate::net::parse_ip(s)
}

fn ports_of(
    svc: &Item<Service>,
    slices: &[&Item<EndpointSlice>],
    ipv6: bool,
    node_name: &str,
    gates: FeatureGates,
) -> Vec<ServicePort> {
    let Some(spec) = &svc.object.spec else {
        return vec![];
    };
    let ty = spec.type_.as_deref().unwrap_or("ClusterIP");
    // proxyutil.ShouldSkipService: headless, ExternalName, no ClusterIP.
    if ty == "ExternalName" {
        return vec![];
    }
    let cluster_ip = spec
        .cluster_ips
        .iter()
        .flatten()
        .chain(spec.cluster_ip.iter())
        .filter_map(|s| parse_ip(s))
        .find(|ip| ip.is_ipv6() == ipv6);
    let Some(cluster_ip) = cluster_ip else {
        return vec![];
    };
    let fam = |ip: &IpAddr| ip.is_ipv6() == ipv6;
    let external_ips: Vec<IpAddr> = spec
        .external_ips
        .iter()
        .flatten()
        .filter_map(|s| parse_ip(s))
        .filter(fam)
        .collect();
    let lb_vips: Vec<IpAddr> = svc
        .object
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter(|i| !gates.lb_ip_mode || i.ip_mode.as_deref() != Some("Proxy"))
        .filter_map(|i| i.ip.as_deref().and_then(parse_ip))
        .filter(fam)
        .collect();
    let source_ranges: Vec<Cidr> = spec
        .load_balancer_source_ranges
        .iter()
        .flatten()
        .filter_map(|r| Cidr::parse(r))
        .filter(|c| c.addr.is_ipv6() == ipv6)
        .collect();
    let affinity_timeout = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
        spec.session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
            .unwrap_or(10800) as u32
    });
    let is_lb = ty == "LoadBalancer";
    let external_type = is_lb || ty == "NodePort" || !external_ips.is_empty();
    let etp_local = external_type && spec.external_traffic_policy.as_deref() == Some("Local");
    let itp_local = spec.internal_traffic_policy.as_deref() == Some("Local");
    let hc = if is_lb && etp_local {
        spec.health_check_node_port.unwrap_or(0).clamp(0, 65535) as u16
    } else {
        0
    };

    let mut out = Vec::new();
    for (i, p) in spec.ports.iter().flatten().enumerate() {
        let Some(protocol) = Protocol::parse(p.protocol.as_deref().unwrap_or("TCP")) else {
            continue;
        };
        let port_name = p.name.clone().unwrap_or_default();
        let mut sp = ServicePort {
            spn: ServicePort::spn_of(&svc.reference.namespace, &svc.reference.name, &port_name),
            service: svc.reference.clone(),
            namespace: svc.reference.namespace.clone(),
            name: svc.reference.name.clone(),
            port_name,
            port_index: i,
            protocol,
            cluster_ip,
            port: p.port.clamp(0, 65535) as u16,
            node_port: p.node_port.unwrap_or(0).clamp(0, 65535) as u16,
            external_ips: external_ips.clone(),
            lb_vips: lb_vips.clone(),
            source_ranges: source_ranges.clone(),
            affinity_timeout,
            etp_local,
            itp_local,
            health_check_node_port: hc,
            is_load_balancer: is_lb,
            endpoints: Vec::new(),
        };
        sp.endpoints = endpoints_for(&sp, slices, ipv6, node_name, gates);
        out.push(sp);
    }
    out
}

/// The endpoint map entry of a service port: slices labelled for the Service, ports with the
/// same name and protocol, first address of each endpoint; duplicates resolved as kube-proxy
/// does; sorted by `ip:port` string.
fn endpoints_for(
    sp: &ServicePort,
    slices: &[&Item<EndpointSlice>],
    ipv6: bool,
    node_name: &str,
    gates: FeatureGates,
) -> Vec<EndpointInfo> {
    let want_type = if ipv6 { "IPv6" } else { "IPv4" };
    // Room for every endpoint of the slices (most have one port): grown by doubling, this list
    // was a tenth of the bytes the service port map allocates.
    let mut found: Vec<EndpointInfo> =
        Vec::with_capacity(slices.iter().map(|s| s.object.endpoints.len()).sum());
    // Each `ip:port` is written here, then copied once into its shared key.
    let mut key = String::new();
    for sl in slices {
        let o = &sl.object;
        if o.address_type != want_type {
            continue;
        }
        for p in o.ports.iter().flatten() {
            let (Some(name), Some(port)) = (p.name.as_ref(), p.port) else {
                continue;
            };
            if port == 0
                || *name != sp.port_name
                || p.protocol.as_deref().unwrap_or("TCP") != sp.protocol.upper()
            {
                continue;
            }
            for e in &o.endpoints {
                let Some(ip) = e
                    .addresses
                    .first()
                    .and_then(|a| parse_ip(a))
                    .filter(|ip| ip.is_ipv6() == ipv6)
                else {
                    continue;
                };
                let cond = e.conditions.as_ref();
                let port = port.clamp(0, 65535) as u16;
                key.clear();
                push_host_port(&mut key, ip, port);
                found.push(EndpointInfo {
                    ip,
                    port,
                    key: key.as_str().into(),
                    ready: cond.and_then(|c| c.ready).unwrap_or(true),
                    serving: cond.and_then(|c| c.serving).unwrap_or(true),
                    terminating: cond.and_then(|c| c.terminating).unwrap_or(false),
                    is_local: e.node_name.as_deref() == Some(node_name),
                    zone_hints: e
                        .hints
                        .as_ref()
                        .and_then(|h| h.for_zones.as_ref())
                        .into_iter()
                        .flatten()
                        .map(|z| z.name.clone())
                        .collect(),
                    node_hints: if gates.node_hints {
                        e.hints
                            .as_ref()
                            .and_then(|h| h.for_nodes.as_ref())
                            .into_iter()
                            .flatten()
                            .map(|z| z.name.clone())
                            .collect()
                    } else {
                        Vec::new()
                    },
                    slice: sl.reference.clone(),
                    target: e.target_ref.as_ref().and_then(|t| {
                        Some(ObjectRef::new(
                            t.kind.as_deref().unwrap_or("Pod"),
                            t.namespace.as_deref().unwrap_or(&sp.namespace),
                            t.name.as_deref()?,
                        ))
                    }),
                });
            }
        }
    }
    // kube-proxy's order is a byte-wise sort of `ip:port`. An `ip:port` met again (in another
    // slice) replaces the one before unless it is terminating: so of each run of equal keys
    // (in the order read, as the sort is stable) the last that is not terminating stays, or
    // the first when all are.
    crate::pace::sort_stable_by(&mut found, |a, b| a.key.cmp(&b.key));
    found.dedup_by(|later, kept| {
        if later.key != kept.key {
            return false;
        }
        if !later.terminating {
            std::mem::swap(later, kept);
        }
        true
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(name: &str, endpoints: &[(&str, bool)]) -> String {
        let mut y = format!(
            "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: {name}\n  namespace: default\n  labels: {{kubernetes.io/service-name: web}}\naddressType: IPv4\nports: [{{name: http, port: 8080, protocol: TCP}}]\nendpoints:\n"
        );
        for (ip, terminating) in endpoints {
            y += &format!(
                "- addresses: [{ip}]\n  conditions: {{ready: {}, serving: true, terminating: {terminating}}}\n  targetRef: {{kind: Pod, name: pod-{name}}}\n",
                !terminating
            );
        }
        y
    }

    /// kube-proxy's endpoint map: sorted byte-wise by `ip:port`, and an `ip:port` in two
    /// slices is the later one unless that one is terminating.
    #[test]
    fn endpoints_are_sorted_as_strings_and_duplicates_resolved_as_kube_proxy_does() {
        let mut text = String::from(
            "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec:\n  clusterIP: 10.96.0.10\n  ports: [{name: http, port: 80, targetPort: 8080}]\n",
        );
        text += &slice(
            "a",
            &[("10.0.0.9", false), ("10.0.0.1", false), ("10.0.0.2", true)],
        );
        // 10.0.0.1 terminating here: the ready one read first stays.
        // 10.0.0.2 ready here: it replaces the terminating one.
        // 10.0.0.3 terminating in both: the first stays.
        text += &slice(
            "b",
            &[("10.0.0.1", true), ("10.0.0.2", false), ("10.0.0.3", true)],
        );
        text += &slice("c", &[("10.0.0.3", true), ("10.0.0.10", false)]);
        let scenario = crate::input::parse(&text).unwrap();
        let cluster = crate::cluster::build(&scenario, None).unwrap();
        let ports = service_ports(&cluster);
        let got: Vec<(String, bool, String)> = ports[0]
            .endpoints
            .iter()
            .map(|e| (e.key().to_string(), e.terminating, e.slice.name.clone()))
            .collect();
        let want = [
            // '0' sorts before ':'.
            ("10.0.0.10:8080", false, "c"),
            ("10.0.0.1:8080", false, "a"),
            ("10.0.0.2:8080", false, "b"),
            ("10.0.0.3:8080", true, "b"),
            ("10.0.0.9:8080", false, "a"),
        ]
        .map(|(k, t, s)| (k.to_string(), t, s.to_string()));
        assert_eq!(got, want);
    }
}
