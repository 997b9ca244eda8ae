//! The rule layout of current kube-proxy (≥ 1.25; nfacct matches from 1.29), after
//! `pkg/proxy/iptables/proxier.go` `syncProxyRules`, full sync. See spec/iptables-mode.md §2–§7.

use super::builder::{comment, jump, matches, Builder};
use super::model::*;
use super::reuse::{Ports, Recorded};
use super::{
    builtin_chains, forward_rules, install_jumps, masquerade_rules, Ctx, FilterVerdict, Sep,
    FILTER_JUMPS, FIREWALL_JUMPS, NAT_JUMPS,
};
use crate::cluster::settings::Version;
use crate::net::Cidr;
use crate::pace::Pace;
use crate::proxy::{categorize, names, EndpointInfo, Plan, ServicePort};
use std::cell::LazyCell;
use ChainKind::*;
use TableName::*;

const NODEPORTS_TAIL: &str =
    "kubernetes service nodeports; NOTE: this must be the last rule in this chain";

pub(super) async fn build(
    ctx: &Ctx<'_>,
    before: Option<&Dataplane>,
    pace: &Pace,
) -> (Dataplane, Recorded) {
    let s = ctx.settings;
    let kp = |setting| ctx.kube_proxy(setting);
    let nfacct_supported = s.version
        >= Version {
            major: 1,
            minor: 29,
        };
    let mut b = Builder::new();
    let localhost_firewall = !s.ipv6 && s.localhost_node_ports;

    // Built-in chains and kube-proxy's jumps into its own chains (not in the restore input).
    builtin_chains(&mut b, ctx);
    for name in [
        "KUBE-SERVICES",
        "KUBE-EXTERNAL-SERVICES",
        "KUBE-FORWARD",
        "KUBE-NODEPORTS",
        "KUBE-PROXY-FIREWALL",
    ] {
        b.chain(Filter, name, KubeProxy, kp("base chains"));
    }
    // kube-proxy always ensures kubelet's KUBE-FIREWALL chain and its jumps; its restore input
    // declares (and fills) it only for IPv4 with localhostNodePorts.
    let firewall_kind = if localhost_firewall {
        KubeProxy
    } else {
        Ensured
    };
    b.chain(
        Filter,
        "KUBE-FIREWALL",
        firewall_kind,
        kp("iptables.localhostNodePorts"),
    );
    for name in [
        "KUBE-SERVICES",
        "KUBE-NODEPORTS",
        "KUBE-POSTROUTING",
        "KUBE-MARK-MASQ",
    ] {
        b.chain(Nat, name, KubeProxy, kp("base chains"));
    }
    install_jumps(
        &mut b,
        ctx,
        &[&FILTER_JUMPS[..], &FIREWALL_JUMPS, &NAT_JUMPS].concat(),
    );
    // iptablesKubeletJumpChains: no comment, on every node.
    for chain in ["INPUT", "OUTPUT"] {
        b.prepend(
            Filter,
            chain,
            vec![],
            Target::Jump {
                chain: "KUBE-FIREWALL".into(),
            },
            kp("kubelet jump chains"),
        );
    }
    if localhost_firewall {
        b.rule(
            Filter,
            "KUBE-FIREWALL",
            vec![
                comment("block incoming localnet connections"),
                Match::Destination {
                    negated: false,
                    cidr: Cidr::parse("127.0.0.0/8").unwrap(),
                },
                Match::Source {
                    negated: true,
                    cidr: Cidr::parse("127.0.0.0/8").unwrap(),
                },
                Match::Conntrack {
                    negated: true,
                    states: "RELATED,ESTABLISHED,DNAT".into(),
                },
            ],
            Some(Target::Drop),
            kp("iptables.localhostNodePorts"),
        );
    }

    masquerade_rules(&mut b, ctx);

    // An endpoint's chain each, and up to four of each service port's own.
    b.expect_chains(Nat, ctx.ports.iter().map(|sp| sp.endpoints.len() + 4).sum());
    let mut ports = Ports::new(&mut b, ctx, before);
    for sp in &ctx.ports {
        ports.build(&mut b, sp, |b| service_port(b, ctx, sp, nfacct_supported));
        pace.unit().await;
    }
    let recorded = ports.finish(&mut b);

    // The NodePort tail rule: last in nat KUBE-SERVICES.
    if s.node_ports_on_all_addresses() {
        let mut m = vec![
            comment(NODEPORTS_TAIL),
            Match::AddrType {
                negated: false,
                source: false,
                kind: "LOCAL".into(),
            },
        ];
        if s.ipv6 {
            m.push(Match::Destination {
                negated: true,
                cidr: Cidr::parse("::1/128").unwrap(),
            });
        } else if !s.localhost_node_ports {
            m.push(Match::Destination {
                negated: true,
                cidr: Cidr::parse("127.0.0.0/8").unwrap(),
            });
        }
        b.rule(
            Nat,
            "KUBE-SERVICES",
            m,
            jump("KUBE-NODEPORTS"),
            kp("nodePortAddresses"),
        );
    } else {
        for ip in s.node_port_ips() {
            if ip.is_loopback() && !(ip.is_ipv4() && s.localhost_node_ports) {
                continue;
            }
            b.rule(
                Nat,
                "KUBE-SERVICES",
                vec![
                    comment(NODEPORTS_TAIL),
                    Match::Destination {
                        negated: false,
                        cidr: Cidr::host(ip),
                    },
                ],
                jump("KUBE-NODEPORTS"),
                kp("nodePortAddresses"),
            );
        }
    }

    forward_rules(
        &mut b,
        ctx,
        !s.tcp_be_liberal,
        nfacct_supported && s.nfacct.ct_state_invalid_dropped_pkts,
    );
    (b.finish(), recorded)
}

fn service_port(b: &mut Builder, ctx: &Ctx, sp: &ServicePort, nfacct_supported: bool) {
    let s = ctx.settings;
    let spn = sp.spn();
    let p = sp.protocol;
    let proto = p.lower();
    let prov = |field: &'static str| ctx.service(sp, field);
    let c = categorize(sp, s);

    // Each name is hashed when first used: most ports have no local, external or firewall
    // chain (at 10,000 Services, 27,000 of the build's 140,000 SHA-256 names went unused).
    let svc_chain: Text = names::svc_chain(spn, proto).into();
    // (One closure type for the three: each type of lazy cell is code in the site.)
    let named =
        |name: fn(&str, &str) -> String| LazyCell::new(move || -> Text { name(spn, proto).into() });
    let svl_chain = named(names::svl_chain);
    let ext_chain = named(names::ext_chain);
    let fw_chain = named(names::fw_chain);

    let plan = Plan::of(sp, &c);
    let (has_endpoints, uses_cluster_chain, uses_local_chain) = (
        plan.has_endpoints,
        plan.uses_cluster_chain,
        plan.uses_local_chain,
    );
    let (has_internal, has_external) = (plan.has_internal_endpoints, plan.has_external_endpoints);
    let (uses_ext, uses_fw) = (plan.uses_external_chain, plan.uses_firewall_chain);
    let internal_chain = if sp.itp_local {
        &*svl_chain
    } else {
        &svc_chain
    };
    let external_policy_chain = || {
        if sp.etp_local {
            &*svl_chain
        } else {
            &svc_chain
        }
    };
    let lb_chain = || if uses_fw { &*fw_chain } else { &*ext_chain };

    let verdict = |has: bool| -> FilterVerdict {
        if !has_endpoints {
            FilterVerdict {
                comment: format!("{spn} has no endpoints"),
                target: Target::Reject,
            }
        } else if !has {
            FilterVerdict {
                comment: format!("{spn} has no local endpoints"),
                target: Target::Drop,
            }
        } else {
            FilterVerdict {
                comment: String::new(),
                target: Target::Accept,
            }
        }
    };
    let internal_verdict = verdict(has_internal);
    let external_verdict = verdict(has_external);
    let dst = |ip| Match::Destination {
        negated: false,
        cidr: Cidr::host(ip),
    };
    let dport = |port| Match::DestinationPort { port };
    // On the ClusterIP rule and on its masquerade rule.
    let cluster_ip_comment: Text = format!("{spn} cluster IP").into();

    // Chain declarations (nat), in kube-proxy's order. (Each name is made once, and shared by
    // its chain and every jump to it.)
    if uses_ext {
        b.chain(
            Nat,
            (*ext_chain).clone(),
            KubeProxy,
            prov("spec.externalTrafficPolicy"),
        );
    }
    if uses_fw {
        b.chain(
            Nat,
            (*fw_chain).clone(),
            KubeProxy,
            prov("spec.loadBalancerSourceRanges"),
        );
    }
    if uses_cluster_chain {
        b.chain(Nat, svc_chain.clone(), KubeProxy, prov("spec.ports"));
    }
    if uses_local_chain {
        b.chain(
            Nat,
            (*svl_chain).clone(),
            KubeProxy,
            prov("spec.internalTrafficPolicy"),
        );
    }

    // ClusterIP.
    if has_internal {
        b.rule(
            Nat,
            "KUBE-SERVICES",
            vec![
                comment(cluster_ip_comment.clone()),
                Match::Protocol { protocol: p },
                dst(sp.cluster_ip),
                dport(sp.port),
            ],
            jump(internal_chain.clone()),
            prov("spec.clusterIP"),
        );
    } else {
        b.rule(
            Filter,
            "KUBE-SERVICES",
            vec![
                comment(internal_verdict.comment.clone()),
                Match::Protocol { protocol: p },
                dst(sp.cluster_ip),
                dport(sp.port),
            ],
            Some(internal_verdict.target.clone()),
            prov("spec.clusterIP"),
        );
    }
    // externalIPs.
    for ip in &sp.external_ips {
        if has_endpoints {
            b.rule(
                Nat,
                "KUBE-SERVICES",
                vec![
                    comment(format!("{spn} external IP")),
                    Match::Protocol { protocol: p },
                    dst(*ip),
                    dport(sp.port),
                ],
                jump((*ext_chain).clone()),
                prov("spec.externalIPs"),
            );
        }
        if !has_external {
            b.rule(
                Filter,
                "KUBE-EXTERNAL-SERVICES",
                vec![
                    comment(external_verdict.comment.clone()),
                    Match::Protocol { protocol: p },
                    dst(*ip),
                    dport(sp.port),
                ],
                Some(external_verdict.target.clone()),
                prov("spec.externalIPs"),
            );
        }
    }
    // LoadBalancer ingress IPs.
    for ip in &sp.lb_vips {
        if has_endpoints {
            b.rule(
                Nat,
                "KUBE-SERVICES",
                vec![
                    comment(format!("{spn} loadbalancer IP")),
                    Match::Protocol { protocol: p },
                    dst(*ip),
                    dport(sp.port),
                ],
                jump(lb_chain().clone()),
                prov("status.loadBalancer.ingress"),
            );
        }
        if uses_fw {
            b.rule(
                Filter,
                "KUBE-PROXY-FIREWALL",
                vec![
                    comment(format!("{spn} traffic not accepted by {}", *fw_chain)),
                    Match::Protocol { protocol: p },
                    dst(*ip),
                    dport(sp.port),
                ],
                Some(Target::Drop),
                prov("spec.loadBalancerSourceRanges"),
            );
        }
    }
    if !has_external {
        for ip in &sp.lb_vips {
            b.rule(
                Filter,
                "KUBE-EXTERNAL-SERVICES",
                vec![
                    comment(external_verdict.comment.clone()),
                    Match::Protocol { protocol: p },
                    dst(*ip),
                    dport(sp.port),
                ],
                Some(external_verdict.target.clone()),
                prov("status.loadBalancer.ingress"),
            );
        }
    }
    // NodePort.
    if sp.node_port != 0 {
        if has_endpoints {
            if !s.ipv6
                && s.localhost_node_ports
                && nfacct_supported
                && s.nfacct.localhost_nps_accepted_pkts
            {
                b.rule(
                    Nat,
                    "KUBE-NODEPORTS",
                    vec![
                        comment(spn.clone()),
                        Match::Protocol { protocol: p },
                        Match::Destination {
                            negated: false,
                            cidr: Cidr::parse("127.0.0.0/8").unwrap(),
                        },
                        dport(sp.node_port),
                        Match::Nfacct {
                            name: "localhost_nps_accepted_pkts".into(),
                        },
                    ],
                    jump((*ext_chain).clone()),
                    prov("spec.ports.nodePort"),
                );
            }
            b.rule(
                Nat,
                "KUBE-NODEPORTS",
                vec![
                    comment(spn.clone()),
                    Match::Protocol { protocol: p },
                    dport(sp.node_port),
                ],
                jump((*ext_chain).clone()),
                prov("spec.ports.nodePort"),
            );
        }
        if !has_external {
            b.rule(
                Filter,
                "KUBE-EXTERNAL-SERVICES",
                vec![
                    comment(external_verdict.comment.clone()),
                    Match::AddrType {
                        negated: false,
                        source: false,
                        kind: "LOCAL".into(),
                    },
                    Match::Protocol { protocol: p },
                    dport(sp.node_port),
                ],
                Some(external_verdict.target.clone()),
                prov("spec.ports.nodePort"),
            );
        }
    }
    // Health-check NodePort (LoadBalancer + eTP Local), always TCP, even without endpoints.
    if sp.health_check_node_port != 0 {
        b.rule(
            Filter,
            "KUBE-NODEPORTS",
            vec![
                comment(format!("{spn} health check node port")),
                Match::Protocol {
                    protocol: crate::proxy::Protocol::Tcp,
                },
                dport(sp.health_check_node_port),
            ],
            Some(Target::Accept),
            prov("spec.healthCheckNodePort"),
        );
    }

    // ClusterIP masquerade, first rule of the internal traffic chain.
    if has_internal {
        let base = vec![
            comment(cluster_ip_comment.clone()),
            Match::Protocol { protocol: p },
            dst(sp.cluster_ip),
            dport(sp.port),
        ];
        if s.masquerade_all {
            b.rule(
                Nat,
                internal_chain,
                base,
                jump(ctx.mark_masq.clone()),
                ctx.kube_proxy("iptables.masqueradeAll"),
            );
        } else if let Some(not_local) = ctx.if_not_local() {
            let mut m = base;
            m.push(not_local);
            b.rule(
                Nat,
                internal_chain,
                m,
                jump(ctx.mark_masq.clone()),
                ctx.kube_proxy("clusterCIDR"),
            );
        }
    }
    // KUBE-EXT-*.
    if uses_ext {
        if !sp.etp_local {
            b.rule(
                Nat,
                &ext_chain,
                vec![comment(format!(
                    "masquerade traffic for {spn} external destinations"
                ))],
                jump(ctx.mark_masq.clone()),
                prov("spec.externalTrafficPolicy"),
            );
        } else {
            if let Some(local) = ctx.if_local() {
                b.rule(
                    Nat,
                    &ext_chain,
                    vec![
                        comment(format!("pod traffic for {spn} external destinations")),
                        local,
                    ],
                    jump(svc_chain.clone()),
                    prov("spec.externalTrafficPolicy"),
                );
            }
            let src_local = || Match::AddrType {
                negated: false,
                source: true,
                kind: "LOCAL".into(),
            };
            b.rule(
                Nat,
                &ext_chain,
                vec![
                    comment(format!(
                        "masquerade LOCAL traffic for {spn} external destinations"
                    )),
                    src_local(),
                ],
                jump(ctx.mark_masq.clone()),
                prov("spec.externalTrafficPolicy"),
            );
            b.rule(
                Nat,
                &ext_chain,
                vec![
                    comment(format!(
                        "route LOCAL traffic for {spn} external destinations"
                    )),
                    src_local(),
                ],
                jump(svc_chain.clone()),
                prov("spec.externalTrafficPolicy"),
            );
        }
        if has_external {
            b.rule(
                Nat,
                &ext_chain,
                vec![],
                jump(external_policy_chain().clone()),
                prov("spec.externalTrafficPolicy"),
            );
        }
    }
    // KUBE-FW-*.
    if uses_fw {
        for range in &sp.source_ranges {
            b.rule(
                Nat,
                &fw_chain,
                vec![
                    comment(format!("{spn} loadbalancer IP")),
                    Match::Source {
                        negated: false,
                        cidr: *range,
                    },
                ],
                jump((*ext_chain).clone()),
                prov("spec.loadBalancerSourceRanges"),
            );
        }
        let node_in_range = s
            .node_ip
            .is_some_and(|ip| sp.source_ranges.iter().any(|r| r.contains(ip)));
        if node_in_range {
            for ip in &sp.lb_vips {
                b.rule(
                    Nat,
                    &fw_chain,
                    vec![
                        comment(format!("{spn} loadbalancer IP")),
                        Match::Source {
                            negated: false,
                            cidr: Cidr::host(*ip),
                        },
                    ],
                    jump((*ext_chain).clone()),
                    prov("spec.loadBalancerSourceRanges"),
                );
            }
        }
        b.rule(
            Nat,
            &fw_chain,
            vec![comment(format!(
                "other traffic to {spn} will be dropped by KUBE-PROXY-FIREWALL"
            ))],
            None,
            prov("spec.loadBalancerSourceRanges"),
        );
    }
    let seps = super::seps(sp);
    if uses_cluster_chain {
        endpoint_jumps(b, ctx, sp, &svc_chain, &c.cluster, &seps);
    }
    if uses_local_chain {
        endpoint_jumps(b, ctx, sp, &svl_chain, &c.local, &seps);
    }
    for &i in &c.all_reachable {
        sep_chain(b, ctx, sp, i, &seps[i]);
    }
}

/// `writeServiceToEndpointRules`: affinity checks, then the random-probability cascade over
/// the endpoints `eps` (indexes into `sp.endpoints` and `seps`).
pub(super) fn endpoint_jumps(
    b: &mut Builder,
    ctx: &Ctx,
    sp: &ServicePort,
    chain: &str,
    eps: &[usize],
    seps: &[Sep],
) {
    let spn: Text = sp.spn().clone();
    // Room for its jumps (a list grown from empty is copied at 4 and 8 rules).
    let jumps = eps.len() * (1 + usize::from(sp.affinity_timeout.is_some()));
    if jumps > 0 {
        b.expect_rules(Nat, chain, jumps);
    }
    // (A rule's matches are collected straight into the slice it keeps: `matches`.)
    let comment_for = |ep: &EndpointInfo| -> Option<Match> {
        if ctx.large_cluster {
            None
        } else if ctx.legacy_comments {
            Some(comment(spn.clone()))
        } else {
            Some(comment(format!("{spn} -> {}", ep.key())))
        }
    };
    if let Some(seconds) = sp.affinity_timeout {
        for &i in eps {
            let check = Match::RecentCheck {
                name: seps[i].chain.clone(),
                seconds,
            };
            let m = matches(comment_for(&sp.endpoints[i]), Some(check), None);
            b.rule(
                Nat,
                chain,
                m,
                jump(seps[i].chain.clone()),
                seps[i].why.clone(),
            );
        }
    }
    let n = eps.len();
    for (k, &i) in eps.iter().enumerate() {
        let last = k == n - 1;
        let m = match comment_for(&sp.endpoints[i]) {
            None => b.odds_alone(n - k),
            comment => {
                let odds = (!last).then(|| Match::Statistic {
                    probability: b.probability(n - k),
                });
                matches(comment, odds, None)
            }
        };
        b.rule(
            Nat,
            chain,
            m,
            jump(seps[i].chain.clone()),
            seps[i].why.clone(),
        );
    }
}

/// A KUBE-SEP-* chain: hairpin masquerade and the DNAT.
pub(super) fn sep_chain(b: &mut Builder, ctx: &Ctx, sp: &ServicePort, i: usize, sep: &Sep) {
    let ep = &sp.endpoints[i];
    let name = &sep.chain;
    b.chain(Nat, name.clone(), KubeProxy, sep.why.clone());
    b.expect_rules(Nat, name, 2);
    let spn = (!ctx.large_cluster).then(|| comment(sp.spn().clone()));
    let source = Match::Source {
        negated: false,
        cidr: Cidr::host(ep.ip),
    };
    let m = matches(spn.clone(), Some(source), None);
    b.rule(Nat, name, m, jump(ctx.mark_masq.clone()), sep.why.clone());
    let affinity = sp
        .affinity_timeout
        .map(|_| Match::RecentSet { name: name.clone() });
    let m = match (spn, affinity) {
        (None, None) => b.protocol_alone(sp.protocol),
        (spn, affinity) => {
            let protocol = Match::Protocol {
                protocol: sp.protocol,
            };
            matches(spn, affinity, Some(protocol))
        }
    };
    let to = sep.why.endpoint_key().expect("an endpoint's provenance");
    b.rule(
        Nat,
        name,
        m,
        Some(Target::Dnat { to: to.clone() }),
        sep.why.clone(),
    );
}
