//! nftables mode: kube-proxy's `kube-proxy` table (spec/nftables-mode.md) and its views.
//!
//! [`build`] follows `pkg/proxy/nftables/proxier.go`: `setupNFTables` (base chains, jump
//! rules, fixed sets, maps and chains) then one pass over service ports (verdict-map
//! elements, service / local / external / firewall / endpoint chains, affinity sets). The model
//! keeps kube-proxy's creation order, which is what `nft list` shows on a node.

pub mod model;
pub mod render;
mod reuse;

use crate::cluster::settings::{LocalDetector, Settings};
use crate::cluster::Cluster;
use crate::iptables::model::Provenance;
use crate::members::Members;
use crate::net::Cidr;
use crate::proxy::{categorize, names, service_ports_after, Plan, PortsBefore, ServicePort};
use model::*;
use std::net::IpAddr;
use std::rc::Rc;

/// (chain, type, hook, priority), in `nftablesBaseChains` order.
const BASE_CHAINS: [(&str, &str, &str, i32); 8] = [
    ("filter-prerouting-pre-dnat", "filter", "prerouting", -110),
    ("filter-output-pre-dnat", "filter", "output", -110),
    ("filter-input", "filter", "input", 0),
    ("filter-forward", "filter", "forward", 0),
    ("filter-output", "filter", "output", 0),
    ("nat-prerouting", "nat", "prerouting", -100),
    ("nat-output", "nat", "output", -100),
    ("nat-postrouting", "nat", "postrouting", 100),
];

/// `nftablesJumpChains`: (from, to, extra match).
const JUMP_CHAINS: [(&str, &str, &str); 11] = [
    ("filter-input", "nodeport-endpoints-check", "ct state new"),
    ("filter-input", "service-endpoints-check", "ct state new"),
    ("filter-forward", "service-endpoints-check", "ct state new"),
    ("filter-output", "service-endpoints-check", "ct state new"),
    ("filter-forward", "cluster-ips-check", "ct state new"),
    ("filter-output", "cluster-ips-check", "ct state new"),
    (
        "filter-prerouting-pre-dnat",
        "firewall-check",
        "ct state new",
    ),
    ("filter-output-pre-dnat", "firewall-check", "ct state new"),
    ("nat-output", "services", ""),
    ("nat-prerouting", "services", ""),
    ("nat-postrouting", "masquerading", ""),
];

struct Builder<'a> {
    t: Table,
    /// Set elements already added.
    seen: Members,
    /// Chain name → position in `t.chains` (its one list), so large tables build in linear
    /// time: 485,000 chains at 44,125 Services.
    chains: Members,
    s: &'a Settings,
    /// `ip` / `ip6`, as in `ip daddr`.
    x: &'static str,
    /// The first chain of the service port being built ([`reuse`]: its rules are copied with
    /// its chains only if it wrote rules into no other chain and its chains were all new).
    port_chains: usize,
    /// Whether the service port being built wrote into a chain not its own.
    foreign: bool,
    /// The chains written into by a port not theirs ([`reuse`]: their ports are not copied).
    written_into: Vec<usize>,
    /// The map elements added, as (map, element), when kept for the next build ([`reuse`]).
    map_elements: Option<Vec<(u8, u32)>>,
}

fn kp(setting: &'static str) -> Provenance {
    Provenance::kube_proxy(setting)
}

/// The builder's indexes read a chain's name, and a set element's key, back from the table.
fn chain_name<'c>(chains: &'c [Rc<Chain>]) -> impl Fn((usize, usize)) -> &'c str {
    move |(_, i)| &chains[i].name
}

fn element_key<'s>(sets: &'s [Set]) -> impl Fn((usize, usize)) -> &'s str {
    move |(s, e)| &sets[s].elements[e].key
}

impl Builder<'_> {
    fn position(&self, chain: &str) -> Option<usize> {
        self.chains.find(0, chain, &chain_name(&self.t.chains))
    }
    /// Adds a chain whose name is not taken.
    fn push_chain(&mut self, chain: Rc<Chain>) {
        let chains = &self.t.chains;
        let added = self
            .chains
            .add(0, &chain.name, chains.len(), &chain_name(chains));
        debug_assert!(added, "chain {} added twice", chain.name);
        self.t.chains.push(chain);
    }
    /// Adds a chain, unless it was added.
    fn chain(&mut self, name: &str, comment: Option<&str>, provenance: Provenance) {
        let chains = &self.t.chains;
        if !self.chains.add(0, name, chains.len(), &chain_name(chains)) {
            self.foreign = true;
        } else {
            self.t.chains.push(Rc::new(Chain {
                name: name.into(),
                base: None,
                comment: comment.map(Into::into),
                rules: vec![],
                provenance,
            }));
        }
    }
    fn rule(&mut self, chain: &str, text: String, provenance: Provenance) {
        let i = self
            .position(chain)
            .unwrap_or_else(|| panic!("no chain {chain}"));
        if i < self.port_chains {
            self.foreign = true;
            self.written_into.push(i);
        }
        // (A chain shared with the table before an edit is copied here only when a port
        // writes into another's chain: that other port's, copied, is then cloned.)
        Rc::make_mut(&mut self.t.chains[i])
            .rules
            .push(Rule { text, provenance });
    }
    fn set(
        &mut self,
        name: &str,
        comment: Option<&str>,
        flags: Option<&str>,
        timeout: Option<u32>,
        provenance: Provenance,
    ) {
        let type_ = if self.s.ipv6 {
            "ipv6_addr"
        } else {
            "ipv4_addr"
        };
        self.t.sets.push(Set {
            name: name.into(),
            type_: type_.into(),
            comment: comment.map(Into::into),
            flags: flags.map(Into::into),
            timeout,
            elements: vec![],
            provenance,
        });
    }
    fn set_element(&mut self, set: &str, key: String, provenance: Provenance) {
        let set = self.t.sets.iter().position(|s| s.name == set).unwrap();
        let sets = &self.t.sets;
        let next = sets[set].elements.len();
        // Adding an element twice (a ClusterIP with several ports) leaves one, as in nft.
        if self.seen.add(set, &key, next, &element_key(sets)) {
            self.t.sets[set].elements.push(Element {
                key,
                comment: None,
                value: String::new(),
                provenance,
            });
        }
    }
    fn map(&mut self, name: &str, key: &str, comment: &str) {
        self.t.maps.push(Map {
            name: name.into(),
            type_: format!("{key} : verdict"),
            comment: Some(comment.into()),
            elements: vec![],
            provenance: kp("base objects"),
        });
    }
    fn map_element(
        &mut self,
        map: &str,
        key: String,
        comment: Option<String>,
        value: String,
        provenance: Provenance,
    ) {
        let at = self.t.maps.iter().position(|m| m.name == map).unwrap();
        self.push_map_element(
            at,
            Element {
                key,
                comment,
                value,
                provenance,
            },
        );
    }
    /// Adds an element to the map at `at`, recorded if the table keeps a memo ([`reuse`]).
    fn push_map_element(&mut self, at: usize, element: Element) {
        let elements = &mut self.t.maps[at].elements;
        if let Some(added) = &mut self.map_elements {
            added.push((at as u8, elements.len() as u32));
        }
        elements.push(element);
    }
    fn mark(&self) -> String {
        format!("{:#010x}", self.s.masquerade_mark())
    }
}

/// Builds kube-proxy's nftables table for the shown node.
pub fn build(cluster: &Cluster) -> Table {
    crate::pace::at_once(build_paced(cluster, &crate::pace::Pace::never()))
}

/// [`build`] after an edit, from `before`, the table built for the text before it
/// ([`build_after`]).
pub fn build_again(cluster: &Cluster, before: &Table) -> Table {
    crate::pace::at_once(build_after(
        cluster,
        Some(before),
        &crate::pace::Pace::never(),
    ))
}

/// [`build`], a service port being a unit of `pace`'s work.
pub async fn build_paced(cluster: &Cluster, pace: &crate::pace::Pace) -> Table {
    build_after(cluster, None, pace).await
}

/// [`build_paced`] after an edit: the chains, sets and map elements of each service port the
/// edit did not change are copied from `before`, the table built for the text before it
/// ([`reuse`]).
pub async fn build_after(
    cluster: &Cluster,
    before: Option<&Table>,
    pace: &crate::pace::Pace,
) -> Table {
    let s = &cluster.settings;
    let x = if s.ipv6 { "ip6" } else { "ip" };
    let addr = if s.ipv6 { "ipv6_addr" } else { "ipv4_addr" };
    let mut b = Builder {
        t: Table {
            family: x,
            name: "kube-proxy",
            comment: "rules for kube-proxy",
            sets: vec![],
            maps: vec![],
            chains: vec![],
            memo: None,
        },
        chains: Default::default(),
        seen: Default::default(),
        s,
        x,
        port_chains: 0,
        foreign: false,
        written_into: Vec::new(),
        map_elements: None,
    };

    for (name, type_, hook, priority) in BASE_CHAINS {
        b.push_chain(Rc::new(Chain {
            name: name.into(),
            base: Some(BaseChain {
                type_,
                hook,
                priority,
            }),
            comment: None,
            rules: vec![],
            provenance: kp("base chains"),
        }));
    }
    for (from, to, extra) in JUMP_CHAINS {
        b.chain(to, None, kp("base chains"));
        let text = if extra.is_empty() {
            format!("jump {to}")
        } else {
            format!("{extra} jump {to}")
        };
        b.rule(from, text, kp("jump chains"));
    }
    for name in [
        "services",
        "cluster-ips-check",
        "masquerading",
        "mark-for-masquerade",
    ] {
        b.chain(name, None, kp("base chains"));
    }
    let mark = b.mark();
    b.rule(
        "mark-for-masquerade",
        format!("mark set mark or {mark}"),
        kp("nftables.masqueradeBit"),
    );
    b.rule(
        "masquerading",
        format!("mark and {mark} == 0 return"),
        kp("nftables.masqueradeBit"),
    );
    b.rule(
        "masquerading",
        format!("mark set mark xor {mark}"),
        kp("nftables.masqueradeBit"),
    );
    b.rule(
        "masquerading",
        "masquerade fully-random".into(),
        kp("masquerade"),
    );

    b.set(
        "cluster-ips",
        Some("Active ClusterIPs"),
        None,
        None,
        kp("base objects"),
    );
    let match_all = s.node_ports_on_all_addresses();
    if !match_all {
        b.set(
            "nodeport-ips",
            Some("IPs that accept NodePort traffic"),
            None,
            None,
            kp("nodePortAddresses"),
        );
        for ip in s.node_port_ips() {
            b.set_element("nodeport-ips", ip.to_string(), kp("nodePortAddresses"));
        }
    }
    let svc_key = format!("{addr} . inet_proto . inet_service");
    b.map(
        "no-endpoint-services",
        &svc_key,
        "vmap to drop or reject packets to services with no endpoints",
    );
    b.map(
        "no-endpoint-nodeports",
        "inet_proto . inet_service",
        "vmap to drop or reject packets to service nodeports with no endpoints",
    );
    b.chain(
        "reject-chain",
        Some("helper for @no-endpoint-services / @no-endpoint-nodeports"),
        kp("base chains"),
    );
    b.rule("reject-chain", "reject".into(), kp("base chains"));
    b.rule(
        "service-endpoints-check",
        format!("{x} daddr . meta l4proto . th dport vmap @no-endpoint-services"),
        kp("base chains"),
    );
    let loopback = if s.ipv6 { "::1" } else { "127.0.0.0/8" };
    let nodeport_dst = if match_all {
        format!("{x} daddr != {loopback}")
    } else {
        format!("{x} daddr @nodeport-ips")
    };
    b.rule(
        "nodeport-endpoints-check",
        format!("{nodeport_dst} meta l4proto . th dport vmap @no-endpoint-nodeports"),
        kp("nodePortAddresses"),
    );
    b.rule("cluster-ips-check", format!("{x} daddr @cluster-ips reject comment \"Reject traffic to invalid ports of ClusterIPs\""), kp("base chains"));
    let cidrs: Vec<String> = s
        .service_cidrs
        .iter()
        .filter(|c| c.addr.is_ipv6() == s.ipv6)
        .map(|c| c.to_string())
        .collect();
    if !cidrs.is_empty() {
        b.rule(
            "cluster-ips-check",
            format!(
                "{x} daddr {{ {} }} drop comment \"Drop traffic to unallocated ClusterIPs\"",
                cidrs.join(", ")
            ),
            kp("serviceCIDRs"),
        );
    }
    b.map(
        "firewall-ips",
        &svc_key,
        "destinations that are subject to LoadBalancerSourceRanges",
    );
    b.rule(
        "firewall-check",
        format!("{x} daddr . meta l4proto . th dport vmap @firewall-ips"),
        kp("base chains"),
    );
    b.map(
        "service-ips",
        &svc_key,
        "ClusterIP, ExternalIP and LoadBalancer IP traffic",
    );
    b.map(
        "service-nodeports",
        "inet_proto . inet_service",
        "NodePort traffic",
    );
    b.rule(
        "services",
        format!("{x} daddr . meta l4proto . th dport vmap @service-ips"),
        kp("base chains"),
    );
    let nodeport_dispatch = if match_all {
        format!("fib daddr type local {x} daddr != {loopback}")
    } else {
        format!("{x} daddr @nodeport-ips")
    };
    b.rule(
        "services",
        format!("{nodeport_dispatch} meta l4proto . th dport vmap @service-nodeports"),
        kp("nodePortAddresses"),
    );

    let port_map_before = before.and_then(|t| Some(t.memo.as_deref()?.kept().port_map()));
    let (ports, made_from) = service_ports_after(cluster, port_map_before, pace).await;
    // Indexes sized once: grown, each doubling hashed every name again, in one piece (152 ms
    // of the page at 44,125 Services). An endpoint's chain each, up to four of a service
    // port's own; a few set elements per service port.
    let chains: usize = ports.iter().map(|sp| sp.endpoints.len() + 4).sum();
    b.chains.reserve(chains, &chain_name(&b.t.chains));
    // The chains themselves too: the last doubling of half a million moved 30 MB in one piece
    // (113 ms natively at 44,125 Services).
    b.t.chains.reserve(chains);
    b.seen.reserve(4 * ports.len(), &element_key(&b.t.sets));
    let before = before
        .and_then(|t| t.memo.as_deref())
        .filter(|memo| memo.built_with(s))
        .map(|memo| (memo, PortsBefore::new(&memo.kept().ports)));
    let mut keeping = reuse::Keeping::start(&mut b, &ports);
    let mut copied = 0;
    for sp in ports {
        b.port_chains = b.t.chains.len();
        b.foreign = false;
        let copy = before.as_ref().and_then(|(memo, ports)| {
            let i = ports.equal(&sp)?;
            memo.copy(&mut b, i, &sp)
        });
        match copy {
            Some(()) => copied += 1,
            None => service_port(&mut b, &sp),
        }
        match &mut keeping {
            Some(keeping) => keeping.keep(&b, sp),
            // The service port map let go of a port at a time: at 44,125 Services, dropped
            // whole, it was an 87 ms piece of the wasm.
            None => drop(sp),
        }
        pace.unit().await;
    }
    b.t.memo = keeping.map(|keeping| Box::new(keeping.finish(&mut b, s, made_from, copied)));
    b.t
}

/// A service port's ClusterIP in `@cluster-ips` (made again when the port is copied: the
/// element is added once, by the first port of its address, whichever that is now).
fn cluster_ip_element(b: &mut Builder, sp: &ServicePort) {
    b.set_element(
        "cluster-ips",
        sp.cluster_ip.to_string(),
        Provenance::service_port(sp, "spec.clusterIP"),
    );
}

fn detector(d: &LocalDetector, x: &str, local: bool) -> Option<String> {
    let op = if local { "" } else { "!= " };
    match d {
        LocalDetector::None => None,
        LocalDetector::Cidr(c) => Some(format!("{x} saddr {op}{c}")),
        LocalDetector::Bridge(i) => Some(format!("iifname {op}{i}")),
        LocalDetector::InterfacePrefix(p) => Some(format!("iifname {op}{p}*")),
    }
}

fn service_port(b: &mut Builder, sp: &ServicePort) {
    let s = b.s;
    let x = b.x;
    let spn = sp.spn().to_string();
    let proto = sp.protocol.lower();
    let base = names::nft_service_port_base(&sp.namespace, &sp.name, proto, &sp.port_name);
    let svc_chain = format!("service-{base}");
    let local_chain = format!("local-{base}");
    let ext_chain = format!("external-{base}");
    let fw_chain = format!("firewall-{base}");
    let prov = |field: &'static str| Provenance::service_port(sp, field);
    // Each endpoint's provenance and name base, made once (hashing is the costly part).
    let ep_provs: Vec<Provenance> = sp
        .endpoints
        .iter()
        .map(|ep| Provenance::endpoint(sp, ep))
        .collect();
    let ep_prov = |i: usize| ep_provs[i].clone();
    let c = categorize(sp, s);
    let plan = Plan::of(sp, &c);
    let (has_endpoints, uses_cluster_chain, uses_local_chain) = (
        plan.has_endpoints,
        plan.uses_cluster_chain,
        plan.uses_local_chain,
    );
    let (has_internal, has_external) = (plan.has_internal_endpoints, plan.has_external_endpoints);
    let (uses_ext, uses_fw) = (plan.uses_external_chain, plan.uses_firewall_chain);
    let internal_chain = if sp.itp_local {
        &local_chain
    } else {
        &svc_chain
    };
    let external_policy_chain = if sp.etp_local {
        &local_chain
    } else {
        &svc_chain
    };
    let verdict = |has: bool| {
        if has_endpoints && !has {
            "drop".to_string()
        } else {
            "goto reject-chain".to_string()
        }
    };
    let key = |ip: IpAddr, port: u16| format!("{ip} . {proto} . {port}");
    let ep_bases: Vec<String> = sp
        .endpoints
        .iter()
        .map(|ep| {
            names::nft_endpoint_base(
                &sp.namespace,
                &sp.name,
                proto,
                &sp.port_name,
                ep.ip,
                ep.port,
            )
        })
        .collect();
    let ep_base = |i: usize| &ep_bases[i];

    if uses_cluster_chain {
        b.chain(&svc_chain, None, prov("spec.ports"));
    }
    if uses_local_chain {
        b.chain(&local_chain, None, prov("spec.internalTrafficPolicy"));
    }
    if uses_ext {
        b.chain(&ext_chain, None, prov("spec.externalTrafficPolicy"));
    }
    if uses_fw {
        b.chain(&fw_chain, None, prov("spec.loadBalancerSourceRanges"));
    }

    // ClusterIP.
    cluster_ip_element(b, sp);
    if has_internal {
        b.map_element(
            "service-ips",
            key(sp.cluster_ip, sp.port),
            None,
            format!("goto {internal_chain}"),
            prov("spec.clusterIP"),
        );
    } else {
        b.map_element(
            "no-endpoint-services",
            key(sp.cluster_ip, sp.port),
            Some(spn.clone()),
            verdict(has_internal),
            prov("spec.clusterIP"),
        );
    }
    // externalIPs and LoadBalancer IPs.
    for (ips, field) in [
        (&sp.external_ips, "spec.externalIPs"),
        (&sp.lb_vips, "status.loadBalancer.ingress"),
    ] {
        for ip in ips.iter() {
            if has_endpoints {
                b.map_element(
                    "service-ips",
                    key(*ip, sp.port),
                    None,
                    format!("goto {ext_chain}"),
                    prov(field),
                );
            }
            if !has_external {
                b.map_element(
                    "no-endpoint-services",
                    key(*ip, sp.port),
                    Some(spn.clone()),
                    verdict(has_external),
                    prov(field),
                );
            }
        }
    }
    if uses_fw {
        for ip in &sp.lb_vips {
            b.map_element(
                "firewall-ips",
                key(*ip, sp.port),
                None,
                format!("goto {fw_chain}"),
                prov("spec.loadBalancerSourceRanges"),
            );
        }
    }
    // NodePort.
    if sp.node_port != 0 {
        let np_key = format!("{proto} . {}", sp.node_port);
        if has_endpoints {
            b.map_element(
                "service-nodeports",
                np_key.clone(),
                None,
                format!("goto {ext_chain}"),
                prov("spec.ports.nodePort"),
            );
        }
        if !has_external {
            b.map_element(
                "no-endpoint-nodeports",
                np_key,
                Some(spn.clone()),
                verdict(has_external),
                prov("spec.ports.nodePort"),
            );
        }
    }

    // Internal traffic: masquerade what is not from a pod.
    if has_internal {
        if s.masquerade_all {
            b.rule(
                internal_chain,
                format!("{x} daddr {} jump mark-for-masquerade", sp.cluster_ip),
                Provenance::kube_proxy("nftables.masqueradeAll"),
            );
        } else if let Some(not_local) = detector(&s.detect_local, x, false) {
            b.rule(
                internal_chain,
                format!(
                    "{x} daddr {} {not_local} jump mark-for-masquerade",
                    sp.cluster_ip
                ),
                Provenance::kube_proxy("clusterCIDR"),
            );
        }
    }
    // External traffic.
    if uses_ext {
        if !sp.etp_local {
            b.rule(
                &ext_chain,
                "jump mark-for-masquerade".into(),
                prov("spec.externalTrafficPolicy"),
            );
        } else {
            if let Some(local) = detector(&s.detect_local, x, true) {
                b.rule(
                    &ext_chain,
                    format!("{local} goto {svc_chain} comment \"short-circuit pod traffic\""),
                    prov("spec.externalTrafficPolicy"),
                );
            }
            b.rule(&ext_chain, "fib saddr type local jump mark-for-masquerade comment \"masquerade local traffic\"".into(), prov("spec.externalTrafficPolicy"));
            b.rule(
                &ext_chain,
                format!(
                    "fib saddr type local goto {svc_chain} comment \"short-circuit local traffic\""
                ),
                prov("spec.externalTrafficPolicy"),
            );
        }
        if has_external {
            b.rule(
                &ext_chain,
                format!("goto {external_policy_chain}"),
                prov("spec.externalTrafficPolicy"),
            );
        }
    }
    // Source ranges.
    if uses_fw {
        let mut allowed: Vec<String> = sp.source_ranges.iter().map(Cidr::to_string).collect();
        if s.node_ip
            .is_some_and(|n| sp.source_ranges.iter().any(|r| r.contains(n)))
        {
            allowed.extend(sp.lb_vips.iter().map(IpAddr::to_string));
        }
        b.rule(
            &fw_chain,
            format!("{x} saddr != {{ {} }} drop", allowed.join(", ")),
            prov("spec.loadBalancerSourceRanges"),
        );
    }
    // Load balancing.
    let affinity = |i: usize| format!("affinity-{}", ep_base(i));
    for (used, chain) in [
        (uses_cluster_chain, &svc_chain),
        (uses_local_chain, &local_chain),
    ] {
        if !used {
            continue;
        }
        let eps: &[usize] = if chain == &svc_chain {
            &c.cluster
        } else {
            &c.local
        };
        if sp.affinity_timeout.is_some() {
            for &ep in eps {
                b.rule(
                    chain,
                    format!("{x} saddr @{} goto endpoint-{}", affinity(ep), ep_base(ep)),
                    ep_prov(ep),
                );
            }
        }
        let targets: Vec<String> = eps
            .iter()
            .enumerate()
            .map(|(i, &ep)| format!("{i} : goto endpoint-{}", ep_base(ep)))
            .collect();
        b.rule(
            chain,
            format!(
                "numgen random mod {} vmap {{ {} }}",
                eps.len(),
                targets.join(" , ")
            ),
            prov("endpoints"),
        );
    }
    // Endpoint chains (and their affinity sets).
    for &i in &c.all_reachable {
        let ep = &sp.endpoints[i];
        let name = format!("endpoint-{}", ep_base(i));
        if let Some(timeout) = sp.affinity_timeout {
            b.set(
                &affinity(i),
                None,
                Some("dynamic,timeout"),
                Some(timeout),
                ep_prov(i),
            );
        }
        b.chain(&name, None, ep_prov(i));
        b.rule(
            &name,
            format!("{x} saddr {} jump mark-for-masquerade", ep.ip),
            ep_prov(i),
        );
        if sp.affinity_timeout.is_some() {
            b.rule(
                &name,
                format!("update @{} {{ {x} saddr }}", affinity(i)),
                ep_prov(i),
            );
        }
        b.rule(
            &name,
            format!("meta l4proto {proto} dnat to {}", ep.key()),
            ep_prov(i),
        );
    }
}
