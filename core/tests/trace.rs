//! Packet walks (iptables mode): the path through the same dataplane the views show, the
//! load-balancing it produces, and the named behaviours.

mod common;

use common::{render, shared_dir};
use kpx_core::trace::session::{simulate, trace, Request};
use kpx_core::trace::Verdict;

fn seed() -> String {
    std::fs::read_to_string(shared_dir().join("scenarios/seed-iptables.yaml")).unwrap()
}

fn req(from: &str, to: &str, seed: u64) -> Request {
    Request {
        from: from.into(),
        to: to.into(),
        seed,
        ..Default::default()
    }
}

const NGINX_POD: &str = "default/nginx-deployment-9456bbbf9-6dmhv";

#[test]
fn a_pod_reaches_nginx_through_the_article_chains() {
    let t = &trace(&seed(), &req(NGINX_POD, "10.109.134.113:8080", 7), 1).unwrap()[0];
    assert_eq!(t.verdict, Verdict::Delivered);
    let ep = t.endpoint.clone().unwrap();
    assert!(
        ["172.17.0.3:80", "172.17.0.4:80", "172.17.0.5:80"].contains(&ep.as_str()),
        "{ep}"
    );
    let chains: Vec<&str> = t
        .steps
        .iter()
        .filter(|s| s.matched)
        .map(|s| s.chain.as_str())
        .collect();
    for c in ["PREROUTING", "KUBE-SERVICES", "KUBE-SVC-2CMXP7HKUVJN7L6M"] {
        assert!(chains.contains(&c), "{c} not walked: {chains:?}");
    }
    assert!(chains.iter().any(|c| c.starts_with("KUBE-SEP-")));
    // Every rule the walk cites is a rule the views show.
    let restore = render(&seed(), "restore");
    let save = render(&seed(), "save");
    for s in &t.steps {
        if let Some(rule) = &s.rule {
            assert!(
                restore.lines().any(|l| l == rule) || save.lines().any(|l| l == rule),
                "not in any view: {rule}"
            );
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_walk() {
    let a = trace(&seed(), &req(NGINX_POD, "default/nginx", 42), 1).unwrap();
    let b = trace(&seed(), &req(NGINX_POD, "default/nginx", 42), 1).unwrap();
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}

#[test]
fn thirty_thousand_connections_split_evenly() {
    let sim = simulate(
        &seed(),
        &req(NGINX_POD, "10.109.134.113:8080", 1),
        30_000,
        1,
    )
    .unwrap();
    assert_eq!(sim.endpoints.len(), 3);
    // The cascade: conditional probabilities 1/3, 1/2, 1 give each endpoint 1/3.
    let p: Vec<f64> = sim.rules.iter().map(|r| r.probability).collect();
    assert_eq!(p, [0.3333333333, 0.5, 1.0]);
    assert!(sim
        .rules
        .iter()
        .all(|r| (r.observed_share - r.expected_share).abs() < 0.015));
    for (ep, n) in &sim.endpoints {
        let share = *n as f64 / 30_000.0;
        assert!((share - 1.0 / 3.0).abs() < 0.015, "{ep}: {share}");
    }
}

#[test]
fn keep_alive_sticks_to_one_pod() {
    let traces = trace(&seed(), &req(NGINX_POD, "10.109.134.113:8080", 3), 20).unwrap();
    let first = traces[0].endpoint.clone();
    assert!(traces.iter().all(|t| t.endpoint == first));
    assert!(
        traces[1].steps.len() == 1 && traces[1].steps[0].hook == "conntrack",
        "later packets follow conntrack"
    );
}

#[test]
fn hairpin_is_masqueraded() {
    // The tour's web pods are in the cluster CIDR; a pod reaching itself through its Service
    // is marked by its SEP chain and masqueraded.
    let tour = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../static/scenarios/tour.yaml"
    ))
    .unwrap();
    for s in 0..40 {
        let t = &trace(&tour, &req("shop/web-jrwqx7wxmd-dkm8n", "shop/web", s), 1).unwrap()[0];
        if t.endpoint.as_deref() == Some("10.244.1.2:8080") {
            let c = t.conntrack.as_ref().unwrap();
            assert!(c.snat, "hairpin traffic is masqueraded: {}", c.line());
            return;
        }
    }
    panic!("no seed sent the pod to itself");
}

#[test]
fn no_endpoints_is_rejected() {
    let tour = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../static/scenarios/tour.yaml"
    ))
    .unwrap();
    let t = &trace(
        &tour,
        &Request {
            protocol: Some(kpx_core::proxy::Protocol::Sctp),
            ..req("node:node-a", "10.96.200.1:3868", 1)
        },
        1,
    )
    .unwrap()[0];
    assert_eq!(t.verdict, Verdict::Rejected);
    assert!(t
        .steps
        .last()
        .unwrap()
        .rule
        .as_deref()
        .unwrap()
        .contains("has no endpoints"));
}

#[test]
fn session_affinity_keeps_the_client_on_one_pod() {
    let tour = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../static/scenarios/tour.yaml"
    ))
    .unwrap();
    let sim = simulate(
        &tour,
        &req("shop/web-jrwqx7wxmd-dkm8n", "shop/api", 9),
        200,
        1,
    )
    .unwrap();
    assert_eq!(sim.endpoints.len(), 1, "{:?}", sim.endpoints);
}

#[test]
fn node_port_from_outside_is_masqueraded_with_etp_cluster() {
    let tour = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../static/scenarios/tour.yaml"
    ))
    .unwrap();
    let t = &trace(&tour, &req("203.0.113.50", "192.168.10.11:31443", 5), 1).unwrap()[0];
    assert_eq!(t.verdict, Verdict::Delivered, "{:#?}", t.steps.last());
    assert!(
        t.conntrack.as_ref().unwrap().snat,
        "eTP Cluster NodePort traffic is masqueraded"
    );
}

/// nftables mode: the vmap and `numgen random mod 3` send 30,000 connections evenly, and every
/// rule a walk cites is a line of the `nft` view.
#[test]
fn nftables_walks() {
    let nft = kpx_core::cluster::settings::Mode::Nftables;
    let r = Request {
        mode: Some(nft),
        ..req(NGINX_POD, "10.109.134.113:8080", 4)
    };
    let sim = simulate(&seed(), &r, 30_000, 1).unwrap();
    assert_eq!(sim.endpoints.len(), 3);
    for (ep, n) in &sim.endpoints {
        assert!(
            (*n as f64 / 30_000.0 - 1.0 / 3.0).abs() < 0.015,
            "{ep}: {n}"
        );
    }
    let t = &trace(&seed(), &r, 1).unwrap()[0];
    let view = common::render_mode(&seed(), nft, "nft");
    for s in &t.steps {
        if let Some(rule) = &s.rule {
            assert!(
                view.lines().any(|l| l == rule),
                "not in the nft view: {rule}"
            );
        }
    }
    let tour = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../static/scenarios/tour.yaml"
    ))
    .unwrap();
    // No endpoints: rejected; eTP Local without a local endpoint: dropped; affinity: one pod.
    let t = &trace(
        &tour,
        &Request {
            mode: Some(nft),
            protocol: Some(kpx_core::proxy::Protocol::Sctp),
            ..req("node:node-a", "10.96.200.1:3868", 1)
        },
        1,
    )
    .unwrap()[0];
    assert_eq!(t.verdict, Verdict::Rejected);
    let t = &trace(
        &tour,
        &Request {
            mode: Some(nft),
            ..req("203.0.113.50", "192.168.10.11:32080", 1)
        },
        1,
    )
    .unwrap()[0];
    assert_eq!(t.verdict, Verdict::Dropped);
    let sim = simulate(
        &tour,
        &Request {
            mode: Some(nft),
            ..req("shop/web-jrwqx7wxmd-dkm8n", "shop/api", 9)
        },
        100,
        1,
    )
    .unwrap();
    assert_eq!(sim.endpoints.len(), 1, "{:?}", sim.endpoints);
}

#[test]
fn external_traffic_policy_local_without_local_endpoints_drops() {
    // The tour's `edge` LoadBalancer (eTP Local) has its only endpoint on node-b: node-a drops
    // outside traffic to its NodePort, and keeps the client's address where it delivers.
    let tour = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../static/scenarios/tour.yaml"
    ))
    .unwrap();
    let t = &trace(&tour, &req("203.0.113.50", "192.168.10.11:32080", 1), 1).unwrap()[0];
    assert_eq!(t.verdict, Verdict::Dropped, "{:#?}", t.steps.last());
    assert!(t
        .steps
        .last()
        .unwrap()
        .rule
        .as_deref()
        .unwrap()
        .contains("has no local endpoints"));
    // web (eTP Local) has local endpoints on node-a: delivered without SNAT.
    let t = &trace(&tour, &req("203.0.113.50", "192.168.10.11:30080", 1), 1).unwrap()[0];
    assert_eq!(t.verdict, Verdict::Delivered);
    let c = t.conntrack.as_ref().unwrap();
    assert!(!c.snat, "the client's address is kept: {}", c.line());
}

#[test]
fn scale_model_of_the_articles_cluster() {
    let m =
        kpx_core::scale::measure(2000, 10, kpx_core::cluster::settings::Mode::Iptables).unwrap();
    // Per NodePort Service: KUBE-SERVICES 1, KUBE-NODEPORTS 2, KUBE-EXT 2, KUBE-SVC 1 + 10, and
    // 10 KUBE-SEP chains of 2 rules: 36, plus kube-proxy's 5 fixed nat rules.
    assert_eq!(m.rules["nat"], 2000 * 36 + 5);
    let fp = m.first_packet_rules.unwrap();
    assert!(fp.max > 2000 && fp.mean > 900.0, "{fp:?}");
    let n =
        kpx_core::scale::measure(2000, 10, kpx_core::cluster::settings::Mode::Nftables).unwrap();
    assert_eq!(
        n.rules["chains"],
        16 + 2000 * 12,
        "service, external and 10 endpoint chains per Service"
    );
    // Verdict maps and IPVS's hash table: the first packet meets as many rules whatever the size.
    for mode in [
        kpx_core::cluster::settings::Mode::Nftables,
        kpx_core::cluster::settings::Mode::Ipvs,
    ] {
        let small = kpx_core::scale::measure(20, 10, mode)
            .unwrap()
            .first_packet_rules
            .unwrap();
        let big = kpx_core::scale::measure(2000, 10, mode)
            .unwrap()
            .first_packet_rules
            .unwrap();
        assert_eq!((small.max, big.max), (small.max, small.max), "{mode:?}");
    }
}

fn seed_ipvs() -> String {
    std::fs::read_to_string(shared_dir().join("scenarios/seed-ipvs.yaml")).unwrap()
}

/// IPVS: the ClusterIP is local (kube-ipvs0), IPVS picks a real server round-robin: 30,000
/// connections give exactly 10,000 each.
#[test]
fn ipvs_round_robin_is_exact() {
    let sim = simulate(
        &seed_ipvs(),
        &req("node:minikube", "default/nginx", 1),
        30_000,
        1,
    )
    .unwrap();
    assert_eq!(
        sim.endpoints.values().copied().collect::<Vec<_>>(),
        [10_000, 10_000, 10_000],
        "{:?}",
        sim.endpoints
    );
    // The simulation feeds ipvsadm's counters: closed connections are InActConn.
    let table = sim.ipvsadm.unwrap();
    assert!(
        table.contains("  -> 172.17.0.3:80                Masq    1      0          10000     \n"),
        "{table}"
    );
    let t = &trace(
        &seed_ipvs(),
        &req("node:minikube", "10.109.134.113:8080", 1),
        1,
    )
    .unwrap()[0];
    assert!(
        t.steps
            .iter()
            .any(|s| s.chain == "IPVS"
                && s.action.contains("virtual server TCP 10.109.134.113:8080")),
        "{:#?}",
        t.steps
    );
}

#[test]
fn ipvs_persistence_keeps_a_client_on_one_real_server() {
    let tour = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../static/scenarios/tour.yaml"
    ))
    .unwrap()
    .replace("mode: iptables", "mode: ipvs");
    let sim = simulate(
        &tour,
        &req("shop/web-jrwqx7wxmd-dkm8n", "shop/api", 2),
        100,
        1,
    )
    .unwrap();
    assert_eq!(sim.endpoints.len(), 1, "{:?}", sim.endpoints);
}

/// A ping to a ClusterIP is answered only where the address is local: IPVS binds it to
/// kube-ipvs0; iptables leaves it to the default route (no answer); nftables rejects it
/// (`cluster-ips-check`).
#[test]
fn ping_to_a_cluster_ip() {
    use kpx_core::cluster::settings::Mode;
    let text = seed_ipvs();
    let ping = |mode| {
        let r = Request {
            mode: Some(mode),
            protocol: Some(kpx_core::proxy::Protocol::Icmp),
            ..req("node:minikube", "10.109.134.113", 1)
        };
        trace(&text, &r, 1).unwrap().remove(0)
    };
    let ipvs = ping(Mode::Ipvs);
    assert_eq!(
        (ipvs.verdict, ipvs.node.as_deref()),
        (Verdict::Delivered, Some("minikube"))
    );
    assert_eq!(ping(Mode::Iptables).verdict, Verdict::Dropped);
    assert_eq!(ping(Mode::Nftables).verdict, Verdict::Rejected);
}
