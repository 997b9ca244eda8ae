//! The named behaviours of a Service, each with its own scenario (static/scenarios/behaviours),
//! walked in every mode.

use kpx_core::cluster::settings::Mode;
use kpx_core::trace::session::{simulate, trace, Request};
use kpx_core::trace::Verdict;

const MODES: [Mode; 3] = [Mode::Iptables, Mode::Ipvs, Mode::Nftables];

fn scenario(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../static/scenarios/behaviours/{name}.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn req(from: &str, to: &str, mode: Mode) -> Request {
    Request {
        from: from.into(),
        to: to.into(),
        mode: Some(mode),
        seed: 1,
        ..Default::default()
    }
}

#[test]
fn hairpin_is_masqueraded_in_every_mode() {
    let text = scenario("hairpin");
    for mode in MODES {
        let t = trace(&text, &req("web-0", "default/web", mode), 1)
            .unwrap()
            .remove(0);
        assert_eq!(t.endpoint.as_deref(), Some("10.244.0.5:8080"), "{mode:?}");
        assert!(
            t.conntrack.as_ref().unwrap().snat,
            "{mode:?}: a pod reaching itself is masqueraded"
        );
    }
}

#[test]
fn external_traffic_policy_local() {
    let text = scenario("external-traffic-policy");
    for mode in MODES {
        // node-a has the endpoint: delivered, the client's address kept.
        let t = trace(&text, &req("203.0.113.9", "192.168.0.2:30080", mode), 1)
            .unwrap()
            .remove(0);
        assert_eq!(t.verdict, Verdict::Delivered, "{mode:?}");
        assert!(
            !t.conntrack.as_ref().unwrap().snat,
            "{mode:?}: the client IP is kept"
        );
        // node-b has none: iptables and nftables drop, IPVS falls back to the cluster's.
        let t = trace(&text, &req("203.0.113.9", "192.168.0.3:30080", mode), 1)
            .unwrap()
            .remove(0);
        let want = if mode == Mode::Ipvs {
            Verdict::Delivered
        } else {
            Verdict::Dropped
        };
        assert_eq!(t.verdict, want, "{mode:?} on node-b");
    }
}

#[test]
fn session_affinity_in_every_mode() {
    let text = scenario("session-affinity");
    for mode in MODES {
        let sim = simulate(&text, &req("client", "default/web", mode), 100, 1).unwrap();
        assert_eq!(sim.endpoints.len(), 1, "{mode:?}: {:?}", sim.endpoints);
        // Without affinity the same client spreads over the three pods.
        let plain = text.replace("  sessionAffinity: ClientIP\n", "");
        let sim = simulate(&plain, &req("client", "default/web", mode), 100, 1).unwrap();
        assert_eq!(sim.endpoints.len(), 3, "{mode:?}: {:?}", sim.endpoints);
    }
}

#[test]
fn no_endpoints() {
    let text = scenario("no-endpoints");
    for mode in MODES {
        let t = trace(&text, &req("node:node-a", "default/web", mode), 1)
            .unwrap()
            .remove(0);
        // Every mode refuses at once: iptables and nftables with a REJECT rule, IPVS itself
        // (ip_vs_leave sends ICMP port unreachable when a virtual server has no destination).
        assert_eq!(t.verdict, Verdict::Rejected, "{mode:?}");
    }
}

#[test]
fn keep_alive_in_every_mode() {
    let text = scenario("session-affinity").replace("  sessionAffinity: ClientIP\n", "");
    for mode in MODES {
        let traces = trace(&text, &req("client", "default/web", mode), 10).unwrap();
        assert!(
            traces.iter().all(|t| t.endpoint == traces[0].endpoint),
            "{mode:?}"
        );
    }
}

/// When the endpoint lives on another node, the walk goes on there: its rules leave the
/// already-translated packet alone.
#[test]
fn the_hop_to_the_endpoints_node_is_walked() {
    let text = scenario("external-traffic-policy");
    let t = trace(
        &text,
        &req("203.0.113.9", "192.168.0.3:30080", Mode::Ipvs),
        1,
    )
    .unwrap()
    .remove(0);
    assert!(
        t.steps
            .iter()
            .any(|s| s.hook == "route" && s.action.contains("node-b sends")),
        "{:#?}",
        t.steps
    );
    assert!(t.steps.iter().any(|s| s.action.starts_with("on node-a: ")));
    assert_eq!(
        (t.verdict, t.node.as_deref()),
        (Verdict::Delivered, Some("node-a"))
    );
}

/// IPVS mh (Maglev) with kube-proxy's mh-port flag: a client's connections spread over the
/// real servers by source port, and each source port always lands on the same one.
#[test]
fn ipvs_maglev_hashes_the_source_port() {
    let text = scenario("session-affinity")
        .replace("  sessionAffinity: ClientIP\n", "")
        .replace(
            "hostnameOverride: node-a\n",
            "hostnameOverride: node-a\nmode: ipvs\nipvs: {scheduler: mh}\n",
        );
    let a = simulate(&text, &req("client", "default/web", Mode::Ipvs), 3000, 1).unwrap();
    let b = simulate(&text, &req("client", "default/web", Mode::Ipvs), 3000, 99).unwrap();
    assert_eq!(a.endpoints, b.endpoints, "mh does not depend on randomness");
    assert_eq!(a.endpoints.len(), 3);
    for n in a.endpoints.values() {
        assert!((800..1200).contains(n), "{:?}", a.endpoints);
    }
}

/// In every mode a walk cites only rules the views print (the node's own views).
#[test]
fn walks_cite_only_rules_the_views_show() {
    use kpx_core::views::{analyze, Request as View};
    let text = scenario("hairpin");
    let a = analyze(&text).unwrap();
    for (mode, views) in [
        (Mode::Iptables, &["restore", "save"][..]),
        (Mode::Ipvs, &["restore", "save"][..]),
        (Mode::Nftables, &["nft"][..]),
    ] {
        let shown: String = views
            .iter()
            .map(|v| {
                a.render(&View {
                    mode: Some(mode),
                    view: Some(v.to_string()),
                    ..Default::default()
                })
                .unwrap()
            })
            .collect();
        let t = trace(&text, &req("web-0", "default/web", mode), 1)
            .unwrap()
            .remove(0);
        for s in t.steps.iter().filter_map(|s| s.rule.as_ref()) {
            assert!(
                shown.lines().any(|l| l == s),
                "{mode:?}: not in the views: {s}"
            );
        }
    }
}

/// The page lights up, in the view shown, the rule a walk is evaluating: every rule a walk
/// names must be findable by its anchor in the mode's full views.
#[test]
fn every_step_of_a_walk_is_anchored_in_the_views() {
    use kpx_core::views::{analyze, Request as View};
    for (name, from, to) in [
        ("hairpin", "web-0", "default/web"),
        (
            "external-traffic-policy",
            "203.0.113.9",
            "192.168.0.2:30080",
        ),
    ] {
        let text = scenario(name);
        let a = analyze(&text).unwrap();
        for (mode, views) in [
            (Mode::Iptables, &["save"][..]),
            (Mode::Ipvs, &["save", "ipvsadm"][..]),
            (Mode::Nftables, &["nft", "nft-list"][..]),
        ] {
            let t = trace(&text, &req(from, to, mode), 1).unwrap().remove(0);
            let anchored: Vec<&str> = t.steps.iter().filter_map(|s| s.anchor.as_deref()).collect();
            let rules = t.steps.iter().filter(|s| s.rule.is_some()).count();
            assert!(
                anchored.len() >= rules && rules > 0,
                "{name} {mode:?}: every rule step has an anchor"
            );
            for view in views {
                let lines = a
                    .render_lines(&View {
                        mode: Some(mode),
                        view: Some(view.to_string()),
                        ..Default::default()
                    })
                    .unwrap();
                let kind = if *view == "ipvsadm" { "ipvs " } else { "" };
                for anchor in anchored
                    .iter()
                    .filter(|a| a.starts_with(kind) && (kind.is_empty()) != a.starts_with("ipvs "))
                {
                    let line = lines
                        .iter()
                        .find(|l| l.anchor.as_ref().is_some_and(|a| a.is(anchor)));
                    assert!(
                        line.is_some(),
                        "{name} {mode:?} {view}: no line for {anchor}"
                    );
                }
            }
        }
    }
}

/// The page's lines of a view (their texts kept in a few pieces) are the view's text line for
/// line, in every mode and view of every shipped scenario; a line that declares a name
/// shows it, and a view let go of in parts keeps its first lines whole.
#[test]
fn the_pages_lines_are_the_views_text_line_for_line() {
    use kpx_core::views::{analyze, views, Request as View};
    let scenarios = format!("{}/../static/scenarios", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<_> = [scenarios.clone(), format!("{scenarios}/behaviours")]
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    names.sort();
    assert!(names.len() >= 7, "{names:?}");
    for path in names {
        let a = analyze(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for mode in MODES {
            for view in views(mode) {
                let req = View {
                    mode: Some(mode),
                    view: Some(view.name.to_string()),
                    all_namespaces: true,
                    ..Default::default()
                };
                let (text, mut lines) = (a.render(&req).unwrap(), a.render_lines(&req).unwrap());
                let at = format!("{} {mode:?} {}", path.display(), view.name);
                let texts: Vec<&str> = lines.iter().map(|l| l.text).collect();
                assert_eq!(texts, text.lines().collect::<Vec<_>>(), "{at}");
                for l in lines.iter() {
                    if let Some(name) = &l.defines {
                        assert!(l.text.contains(&**name), "{at}: {:?}", l.text);
                    }
                    assert_eq!(l.to_owned().text, l.text);
                }
                let half = lines.len() / 2;
                let kept: Vec<String> = texts[..half].iter().map(|t| t.to_string()).collect();
                lines.truncate(half);
                assert_eq!(lines.len(), half, "{at}");
                assert!(lines
                    .iter()
                    .map(|l| l.text)
                    .eq(kept.iter().map(String::as_str)));
            }
        }
    }
}
