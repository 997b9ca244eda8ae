//! The iptables rules kube-proxy writes in IPVS mode (spec/ipvs-mode.md §5): masquerading and
//! filtering keyed on its ipsets, in kube-proxy's order; a rule whose set is empty is left out.

use super::builder::{comment, jump, Builder};
use super::model::*;
use super::{builtin_chains, masquerade_rules, Ctx};
use crate::cluster::Cluster;
use crate::ipvs::{set_name, IpSet, OutFilter};
use crate::net::Cidr;
use crate::proxy::Protocol;
use ChainKind::*;
use TableName::*;

pub(crate) fn build(cluster: &Cluster, sets: &[IpSet], out_filters: &[OutFilter]) -> Dataplane {
    let s = &cluster.settings;
    let ctx = Ctx {
        settings: s,
        ports: vec![],
        large_cluster: false,
        legacy_comments: false,
        mark_masq: "KUBE-MARK-MASQ".into(),
    };
    let kp = |setting| ctx.kube_proxy(setting);
    let name = |base: &str| set_name(base, s.ipv6);
    let set = |base: &str| sets.iter().find(|x| x.name == name(base)).unwrap();
    let non_empty = |base: &str| !set(base).entries.is_empty();
    let m_set = |base: &str, flags: &str| Match::Set {
        name: name(base).into(),
        flags: flags.into(),
    };
    let set_comment = |base: &str| comment(set(base).comment);
    let mut b = Builder::new();

    builtin_chains(&mut b, &ctx);
    for c in [
        "KUBE-SERVICES",
        "KUBE-POSTROUTING",
        "KUBE-NODE-PORT",
        "KUBE-LOAD-BALANCER",
        "KUBE-MARK-MASQ",
    ] {
        b.chain(Nat, c, KubeProxy, kp("base chains"));
    }
    for c in [
        "KUBE-FORWARD",
        "KUBE-NODE-PORT",
        "KUBE-PROXY-FIREWALL",
        "KUBE-SOURCE-RANGES-FIREWALL",
        "KUBE-IPVS-FILTER",
        "KUBE-IPVS-OUT-FILTER",
    ] {
        b.chain(Filter, c, KubeProxy, kp("base chains"));
    }
    // Jumps from the built-in chains, prepended in turn (the last one ends up first).
    let jumps: [(TableName, &str, &str, &str); 9] = [
        (Nat, "OUTPUT", "kubernetes service portals", "KUBE-SERVICES"),
        (
            Nat,
            "PREROUTING",
            "kubernetes service portals",
            "KUBE-SERVICES",
        ),
        (
            Nat,
            "POSTROUTING",
            "kubernetes postrouting rules",
            "KUBE-POSTROUTING",
        ),
        (
            Filter,
            "FORWARD",
            "kubernetes forwarding rules",
            "KUBE-FORWARD",
        ),
        (
            Filter,
            "INPUT",
            "kubernetes health check rules",
            "KUBE-NODE-PORT",
        ),
        (
            Filter,
            "INPUT",
            "kube-proxy firewall rules",
            "KUBE-PROXY-FIREWALL",
        ),
        (
            Filter,
            "FORWARD",
            "kube-proxy firewall rules",
            "KUBE-PROXY-FIREWALL",
        ),
        (
            Filter,
            "INPUT",
            "kubernetes ipvs access filter",
            "KUBE-IPVS-FILTER",
        ),
        (
            Filter,
            "OUTPUT",
            "kubernetes ipvs access filter",
            "KUBE-IPVS-OUT-FILTER",
        ),
    ];
    for (t, from, text, to) in jumps {
        b.prepend(
            t,
            from,
            vec![comment(text)],
            Target::Jump { chain: to.into() },
            kp("jump chains"),
        );
    }

    let loopback = if s.ipv6 {
        Cidr::parse("::1/128").unwrap()
    } else {
        Cidr::parse("127.0.0.0/8").unwrap()
    };
    b.rule(
        Nat,
        "KUBE-SERVICES",
        vec![Match::Source {
            negated: false,
            cidr: loopback,
        }],
        Some(Target::Return),
        kp("base rules"),
    );
    if non_empty("KUBE-LOOP-BACK") {
        b.rule(
            Nat,
            "KUBE-POSTROUTING",
            vec![
                set_comment("KUBE-LOOP-BACK"),
                m_set("KUBE-LOOP-BACK", "dst,dst,src"),
            ],
            Some(Target::Masquerade {
                random_fully: false,
            }),
            kp("hairpin"),
        );
    }
    if non_empty("KUBE-LOAD-BALANCER") {
        b.rule(
            Nat,
            "KUBE-SERVICES",
            vec![
                set_comment("KUBE-LOAD-BALANCER"),
                m_set("KUBE-LOAD-BALANCER", "dst,dst"),
            ],
            jump("KUBE-LOAD-BALANCER"),
            kp("ipsets"),
        );
    }
    if non_empty("KUBE-LOAD-BALANCER-LOCAL") {
        b.rule(
            Nat,
            "KUBE-LOAD-BALANCER",
            vec![
                set_comment("KUBE-LOAD-BALANCER-LOCAL"),
                m_set("KUBE-LOAD-BALANCER-LOCAL", "dst,dst"),
            ],
            Some(Target::Return),
            kp("ipsets"),
        );
    }
    for (protocol, local, all, flags) in [
        (
            Protocol::Tcp,
            "KUBE-NODE-PORT-LOCAL-TCP",
            "KUBE-NODE-PORT-TCP",
            "dst",
        ),
        (
            Protocol::Udp,
            "KUBE-NODE-PORT-LOCAL-UDP",
            "KUBE-NODE-PORT-UDP",
            "dst",
        ),
        (
            Protocol::Sctp,
            "KUBE-NODE-PORT-LOCAL-SCTP-HASH",
            "KUBE-NODE-PORT-SCTP-HASH",
            "dst,dst",
        ),
    ] {
        if non_empty(local) {
            b.rule(
                Nat,
                "KUBE-NODE-PORT",
                vec![
                    Match::ProtocolOnly { protocol },
                    set_comment(local),
                    m_set(local, flags),
                ],
                Some(Target::Return),
                kp("ipsets"),
            );
        }
        if non_empty(all) {
            b.rule(
                Nat,
                "KUBE-NODE-PORT",
                vec![
                    Match::ProtocolOnly { protocol },
                    set_comment(all),
                    m_set(all, flags),
                ],
                jump(ctx.mark_masq.clone()),
                kp("ipsets"),
            );
        }
    }
    if non_empty("KUBE-CLUSTER-IP") {
        let mut m = vec![set_comment("KUBE-CLUSTER-IP")];
        if s.masquerade_all {
            m.push(m_set("KUBE-CLUSTER-IP", "dst,dst"));
        } else if let Some(not_local) = super::detector_match(&s.detect_local, true) {
            m.push(m_set("KUBE-CLUSTER-IP", "dst,dst"));
            m.push(not_local);
        } else {
            // No detector: masquerade what a pod sends to itself through the ClusterIP.
            m.push(m_set("KUBE-CLUSTER-IP", "src,dst"));
        }
        b.rule(
            Nat,
            "KUBE-SERVICES",
            m,
            jump(ctx.mark_masq.clone()),
            kp("clusterCIDR"),
        );
    }
    for (base, masquerade) in [
        ("KUBE-EXTERNAL-IP", true),
        ("KUBE-EXTERNAL-IP-LOCAL", false),
    ] {
        if !non_empty(base) {
            continue;
        }
        if masquerade {
            b.rule(
                Nat,
                "KUBE-SERVICES",
                vec![set_comment(base), m_set(base, "dst,dst")],
                jump(ctx.mark_masq.clone()),
                kp("ipsets"),
            );
        }
        b.rule(
            Nat,
            "KUBE-SERVICES",
            vec![
                set_comment(base),
                m_set(base, "dst,dst"),
                Match::PhysdevNotIn,
                Match::AddrType {
                    negated: true,
                    source: true,
                    kind: "LOCAL".into(),
                },
            ],
            Some(Target::Accept),
            kp("ipsets"),
        );
        b.rule(
            Nat,
            "KUBE-SERVICES",
            vec![
                set_comment(base),
                m_set(base, "dst,dst"),
                Match::AddrType {
                    negated: false,
                    source: false,
                    kind: "LOCAL".into(),
                },
            ],
            Some(Target::Accept),
            kp("ipsets"),
        );
    }
    b.rule(
        Nat,
        "KUBE-SERVICES",
        vec![Match::AddrType {
            negated: false,
            source: false,
            kind: "LOCAL".into(),
        }],
        jump("KUBE-NODE-PORT"),
        kp("base rules"),
    );
    b.rule(
        Nat,
        "KUBE-LOAD-BALANCER",
        vec![],
        jump(ctx.mark_masq.clone()),
        kp("base rules"),
    );
    for base in ["KUBE-CLUSTER-IP", "KUBE-LOAD-BALANCER"] {
        if non_empty(base) {
            b.rule(
                Nat,
                "KUBE-SERVICES",
                vec![m_set(base, "dst,dst")],
                Some(Target::Accept),
                kp("ipsets"),
            );
        }
    }
    masquerade_rules(&mut b, &ctx);

    if non_empty("KUBE-LOAD-BALANCER-FW") {
        b.rule(
            Filter,
            "KUBE-PROXY-FIREWALL",
            vec![
                set_comment("KUBE-LOAD-BALANCER-FW"),
                m_set("KUBE-LOAD-BALANCER-FW", "dst,dst"),
            ],
            jump("KUBE-SOURCE-RANGES-FIREWALL"),
            kp("ipsets"),
        );
    }
    for base in [
        "KUBE-LOAD-BALANCER-SOURCE-CIDR",
        "KUBE-LOAD-BALANCER-SOURCE-IP",
    ] {
        if non_empty(base) {
            b.rule(
                Filter,
                "KUBE-SOURCE-RANGES-FIREWALL",
                vec![set_comment(base), m_set(base, "dst,dst,src")],
                Some(Target::Return),
                kp("ipsets"),
            );
        }
    }
    b.rule(
        Filter,
        "KUBE-SOURCE-RANGES-FIREWALL",
        vec![],
        Some(Target::Drop),
        kp("base rules"),
    );
    for f in out_filters {
        b.rule(
            Filter,
            "KUBE-IPVS-OUT-FILTER",
            vec![
                Match::Source {
                    negated: false,
                    cidr: Cidr::host(f.ip),
                },
                Match::Ipvs {
                    vaddr: f.ip,
                    vproto: f.protocol,
                    vport: f.port,
                },
            ],
            Some(Target::Drop),
            f.provenance.clone(),
        );
    }
    let mark = s.masquerade_mark();
    b.rule(
        Filter,
        "KUBE-FORWARD",
        vec![
            comment("kubernetes forwarding rules"),
            Match::Mark {
                negated: false,
                value: mark,
                mask: mark,
            },
        ],
        Some(Target::Accept),
        kp("iptables.masqueradeBit"),
    );
    b.rule(
        Filter,
        "KUBE-FORWARD",
        vec![
            comment("kubernetes forwarding conntrack rule"),
            Match::Conntrack {
                negated: false,
                states: "RELATED,ESTABLISHED".into(),
            },
        ],
        Some(Target::Accept),
        kp("conntrack"),
    );
    b.rule(
        Filter,
        "KUBE-NODE-PORT",
        vec![
            set_comment("KUBE-HEALTH-CHECK-NODE-PORT"),
            m_set("KUBE-HEALTH-CHECK-NODE-PORT", "dst"),
        ],
        Some(Target::Accept),
        kp("ipsets"),
    );
    for (base, flags) in [
        ("KUBE-LOAD-BALANCER", "dst,dst"),
        ("KUBE-CLUSTER-IP", "dst,dst"),
        ("KUBE-EXTERNAL-IP", "dst,dst"),
        ("KUBE-EXTERNAL-IP-LOCAL", "dst,dst"),
        ("KUBE-HEALTH-CHECK-NODE-PORT", "dst"),
    ] {
        b.rule(
            Filter,
            "KUBE-IPVS-FILTER",
            vec![m_set(base, flags)],
            Some(Target::Return),
            kp("ipsets"),
        );
    }
    b.rule(
        Filter,
        "KUBE-IPVS-FILTER",
        vec![
            Match::Conntrack {
                negated: false,
                states: "NEW".into(),
            },
            m_set("KUBE-IPVS-IPS", "dst"),
        ],
        Some(Target::Reject),
        kp("ipsets"),
    );
    // kube-proxy's IPVS payload writes *nat before *filter.
    let mut dp = b.finish();
    dp.tables.reverse();
    dp
}
