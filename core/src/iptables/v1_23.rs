//! The rule layout of kube-proxy 1.22–1.23 — the one the article's dump shows: the ClusterIP
//! masquerade rule inside KUBE-SVC-*, plain `<spn>` comments on SVC→SEP jumps, KUBE-XLB-* for
//! externalTrafficPolicy Local, KUBE-FW-* for every LoadBalancer IP, and kubelet's
//! KUBE-MARK-DROP for drops. (1.22 additionally wrote `/32` on addresses in its restore input.)

use super::builder::{comment, jump, Builder};
use super::current::{endpoint_jumps, sep_chain};
use super::model::*;
use super::reuse::{Ports, Recorded};
use super::{
    builtin_chains, forward_rules, install_jumps, loopback_v4, masquerade_rules, Ctx, FILTER_JUMPS,
    NAT_JUMPS,
};
use crate::net::Cidr;
use crate::pace::Pace;
use crate::proxy::{names, ServicePort};
use ChainKind::*;
use TableName::*;

const NODEPORTS_TAIL: &str =
    "kubernetes service nodeports; NOTE: this must be the last rule in this chain";
/// kubelet's KUBE-MARK-DROP mark (bit 15).
const DROP_MARK: u32 = 0x8000;

pub(super) async fn build(
    ctx: &Ctx<'_>,
    before: Option<&Dataplane>,
    pace: &Pace,
) -> (Dataplane, Recorded) {
    let s = ctx.settings;
    let kp = |setting| ctx.kube_proxy(setting);
    let mut b = Builder::new();

    builtin_chains(&mut b, ctx);
    for name in [
        "KUBE-SERVICES",
        "KUBE-EXTERNAL-SERVICES",
        "KUBE-FORWARD",
        "KUBE-NODEPORTS",
    ] {
        b.chain(Filter, name, KubeProxy, kp("base chains"));
    }
    for name in [
        "KUBE-SERVICES",
        "KUBE-NODEPORTS",
        "KUBE-POSTROUTING",
        "KUBE-MARK-MASQ",
    ] {
        b.chain(Nat, name, KubeProxy, kp("base chains"));
    }
    // kube-proxy only ensures KUBE-MARK-DROP exists; kubelet owns its rule.
    b.chain(Nat, "KUBE-MARK-DROP", Kubelet, Provenance::kubelet());
    b.rule(
        Nat,
        "KUBE-MARK-DROP",
        vec![],
        Some(Target::MarkSet {
            value: DROP_MARK,
            mask: DROP_MARK,
        }),
        Provenance::kubelet(),
    );

    install_jumps(&mut b, ctx, &[&FILTER_JUMPS[..], &NAT_JUMPS].concat());
    masquerade_rules(&mut b, ctx);

    // An endpoint's chain each, and up to four of each service port's own.
    b.expect_chains(Nat, ctx.ports.iter().map(|sp| sp.endpoints.len() + 4).sum());
    let mut ports = Ports::new(&mut b, ctx, before);
    for sp in &ctx.ports {
        ports.build(&mut b, sp, |b| service_port(b, ctx, sp));
        pace.unit().await;
    }
    let recorded = ports.finish(&mut b);

    if s.node_ports_on_all_addresses() {
        b.rule(
            Nat,
            "KUBE-SERVICES",
            vec![
                comment(NODEPORTS_TAIL),
                Match::AddrType {
                    negated: false,
                    source: false,
                    kind: "LOCAL".into(),
                },
            ],
            jump("KUBE-NODEPORTS"),
            kp("nodePortAddresses"),
        );
    } else {
        for ip in s.node_port_ips() {
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

    // 1.23 always dropped INVALID packets (no nf_conntrack_tcp_be_liberal check, no nfacct).
    forward_rules(&mut b, ctx, true, false);
    (b.finish(), recorded)
}

fn service_port(b: &mut Builder, ctx: &Ctx, sp: &ServicePort) {
    let s = ctx.settings;
    let spn = sp.spn();
    let p = sp.protocol;
    let proto = p.lower();
    let prov = |field: &'static str| ctx.service(sp, field);
    let svc_chain = names::svc_chain(spn, proto);
    let xlb_chain = names::xlb_chain(spn, proto);
    let fw_chain = names::fw_chain(spn, proto);

    // 1.23 (`proxy.FilterEndpoints`): ready endpoints only (the terminating-endpoint fallback
    // was an alpha gate, off); internalTrafficPolicy Local narrows them to this node's, except
    // when externalTrafficPolicy is Local, which FilterEndpoints checks first.
    let itp_filter = sp.itp_local && !sp.etp_local;
    let ready: Vec<usize> = (0..sp.endpoints.len())
        .filter(|&i| sp.endpoints[i].ready && (!itp_filter || sp.endpoints[i].is_local))
        .collect();
    let local: Vec<usize> = ready
        .iter()
        .copied()
        .filter(|&i| sp.endpoints[i].is_local)
        .collect();
    let seps = super::seps(sp);
    let has_endpoints = !ready.is_empty();
    let dst = |ip| Match::Destination {
        negated: false,
        cidr: Cidr::host(ip),
    };
    let dport = |port| Match::DestinationPort { port };
    let no_endpoints = format!("{spn} has no endpoints");

    for &i in &ready {
        sep_chain(b, ctx, sp, i, &seps[i]);
    }
    if has_endpoints {
        b.chain(Nat, svc_chain.as_str(), KubeProxy, prov("spec.ports"));
    }
    if sp.etp_local {
        b.chain(
            Nat,
            xlb_chain.as_str(),
            KubeProxy,
            prov("spec.externalTrafficPolicy"),
        );
    }
    let external_target = if sp.etp_local { &xlb_chain } else { &svc_chain };

    // ClusterIP.
    let cip = vec![
        comment(format!("{spn} cluster IP")),
        Match::Protocol { protocol: p },
        dst(sp.cluster_ip),
        dport(sp.port),
    ];
    if has_endpoints {
        if s.masquerade_all {
            b.rule(
                Nat,
                &svc_chain,
                cip.clone(),
                jump(ctx.mark_masq.clone()),
                ctx.kube_proxy("iptables.masqueradeAll"),
            );
        } else if let Some(not_local) = ctx.if_not_local() {
            let mut m = cip.clone();
            m.push(not_local);
            b.rule(
                Nat,
                &svc_chain,
                m,
                jump(ctx.mark_masq.clone()),
                ctx.kube_proxy("clusterCIDR"),
            );
        }
        b.rule(
            Nat,
            "KUBE-SERVICES",
            cip,
            jump(svc_chain.as_str()),
            prov("spec.clusterIP"),
        );
    } else {
        let mut m = cip;
        m[0] = comment(no_endpoints.clone());
        b.rule(
            Filter,
            "KUBE-SERVICES",
            m,
            Some(Target::Reject),
            prov("spec.clusterIP"),
        );
    }
    // externalIPs.
    for ip in &sp.external_ips {
        let args = vec![
            comment(format!("{spn} external IP")),
            Match::Protocol { protocol: p },
            dst(*ip),
            dport(sp.port),
        ];
        if has_endpoints {
            if !sp.etp_local {
                let mut m = args.clone();
                m.extend(ctx.if_not_local());
                b.rule(
                    Nat,
                    &svc_chain,
                    m,
                    jump(ctx.mark_masq.clone()),
                    prov("spec.externalIPs"),
                );
            }
            b.rule(
                Nat,
                "KUBE-SERVICES",
                args,
                jump(external_target.as_str()),
                prov("spec.externalIPs"),
            );
        } else {
            let mut m = args;
            m[0] = comment(no_endpoints.clone());
            b.rule(
                Filter,
                "KUBE-EXTERNAL-SERVICES",
                m,
                Some(Target::Reject),
                prov("spec.externalIPs"),
            );
        }
    }
    // LoadBalancer ingress IPs: every one goes through KUBE-FW-*.
    for (k, ip) in sp.lb_vips.iter().enumerate() {
        let args = vec![
            comment(format!("{spn} loadbalancer IP")),
            Match::Protocol { protocol: p },
            dst(*ip),
            dport(sp.port),
        ];
        if has_endpoints {
            // The chain line is written once per LoadBalancer IP.
            if k == 0 {
                b.chain(
                    Nat,
                    fw_chain.as_str(),
                    KubeProxy,
                    prov("status.loadBalancer.ingress"),
                );
            } else {
                b.redeclare(Nat, &fw_chain);
            }
            b.rule(
                Nat,
                "KUBE-SERVICES",
                args,
                jump(fw_chain.as_str()),
                prov("status.loadBalancer.ingress"),
            );
            let fw_comment = || comment(format!("{spn} loadbalancer IP"));
            if !sp.etp_local {
                b.rule(
                    Nat,
                    fw_chain.as_str(),
                    vec![fw_comment()],
                    jump(ctx.mark_masq.clone()),
                    prov("status.loadBalancer.ingress"),
                );
            }
            if sp.source_ranges.is_empty() {
                b.rule(
                    Nat,
                    fw_chain.as_str(),
                    vec![fw_comment()],
                    jump(external_target.as_str()),
                    prov("status.loadBalancer.ingress"),
                );
            } else {
                for range in &sp.source_ranges {
                    b.rule(
                        Nat,
                        fw_chain.as_str(),
                        vec![
                            fw_comment(),
                            Match::Source {
                                negated: false,
                                cidr: *range,
                            },
                        ],
                        jump(external_target.as_str()),
                        prov("spec.loadBalancerSourceRanges"),
                    );
                }
                if s.node_ip
                    .is_some_and(|n| sp.source_ranges.iter().any(|r| r.contains(n)))
                {
                    b.rule(
                        Nat,
                        fw_chain.as_str(),
                        vec![
                            fw_comment(),
                            Match::Source {
                                negated: false,
                                cidr: Cidr::host(*ip),
                            },
                        ],
                        jump(external_target.as_str()),
                        prov("spec.loadBalancerSourceRanges"),
                    );
                }
            }
            b.rule(
                Nat,
                fw_chain.as_str(),
                vec![fw_comment()],
                jump("KUBE-MARK-DROP"),
                prov("status.loadBalancer.ingress"),
            );
        } else {
            let mut m = args;
            m[0] = comment(no_endpoints.clone());
            b.rule(
                Filter,
                "KUBE-EXTERNAL-SERVICES",
                m,
                Some(Target::Reject),
                prov("status.loadBalancer.ingress"),
            );
        }
    }
    // NodePort.
    if sp.node_port != 0 && (s.node_ports_on_all_addresses() || !s.node_port_ips().is_empty()) {
        let args = vec![
            comment(spn.clone()),
            Match::Protocol { protocol: p },
            dport(sp.node_port),
        ];
        if has_endpoints {
            if !sp.etp_local {
                b.rule(
                    Nat,
                    &svc_chain,
                    args.clone(),
                    jump(ctx.mark_masq.clone()),
                    prov("spec.ports.nodePort"),
                );
                b.rule(
                    Nat,
                    "KUBE-NODEPORTS",
                    args,
                    jump(svc_chain.as_str()),
                    prov("spec.ports.nodePort"),
                );
            } else {
                let lo = if s.ipv6 {
                    Cidr::parse("::1/128").unwrap()
                } else {
                    loopback_v4()
                };
                let mut m = args.clone();
                m.push(Match::Source {
                    negated: false,
                    cidr: lo,
                });
                b.rule(
                    Nat,
                    "KUBE-NODEPORTS",
                    m,
                    jump(ctx.mark_masq.clone()),
                    prov("spec.externalTrafficPolicy"),
                );
                b.rule(
                    Nat,
                    "KUBE-NODEPORTS",
                    args,
                    jump(xlb_chain.as_str()),
                    prov("spec.ports.nodePort"),
                );
            }
        } else {
            b.rule(
                Filter,
                "KUBE-EXTERNAL-SERVICES",
                vec![
                    comment(no_endpoints.clone()),
                    Match::AddrType {
                        negated: false,
                        source: false,
                        kind: "LOCAL".into(),
                    },
                    Match::Protocol { protocol: p },
                    dport(sp.node_port),
                ],
                Some(Target::Reject),
                prov("spec.ports.nodePort"),
            );
        }
    }
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
    if !has_endpoints {
        return;
    }
    endpoint_jumps(b, ctx, sp, &svc_chain, &ready, &seps);
    if !sp.etp_local {
        return;
    }
    if let Some(local_match) = ctx.if_local() {
        b.rule(
            Nat,
            xlb_chain.as_str(),
            vec![
                comment("Redirect pods trying to reach external loadbalancer VIP to clusterIP"),
                local_match,
            ],
            jump(svc_chain.as_str()),
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
        xlb_chain.as_str(),
        vec![
            comment(format!("masquerade LOCAL traffic for {spn} LB IP")),
            src_local(),
        ],
        jump(ctx.mark_masq.clone()),
        prov("spec.externalTrafficPolicy"),
    );
    b.rule(
        Nat,
        xlb_chain.as_str(),
        vec![
            comment(format!(
                "route LOCAL traffic for {spn} LB IP to service chain"
            )),
            src_local(),
        ],
        jump(svc_chain.as_str()),
        prov("spec.externalTrafficPolicy"),
    );
    if local.is_empty() {
        b.rule(
            Nat,
            xlb_chain.as_str(),
            vec![comment(format!("{spn} has no local endpoints"))],
            jump("KUBE-MARK-DROP"),
            prov("spec.externalTrafficPolicy"),
        );
    } else {
        endpoint_jumps(b, ctx, sp, &xlb_chain, &local, &seps);
    }
}
