//! The article's cluster (../shared/scenarios/seed-iptables.yaml and the shipped preset):
//! chain names, endpoint order, probabilities, and the article's own lines, verbatim.

mod common;

use common::{render, shared_dir};
use kpx_core::views::{analyze, Request};

fn seed() -> String {
    std::fs::read_to_string(shared_dir().join("scenarios/seed-iptables.yaml")).unwrap()
}

fn preset() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../static/scenarios/seed-iptables.yaml"
    ))
    .unwrap()
}

fn article() -> String {
    std::fs::read_to_string(shared_dir().join("seed/k8s-service-article.md")).unwrap()
}

/// The article's lines that start with `prefix` (its `iptables-save` lines start with `-A `).
fn article_lines(prefix: &str) -> Vec<String> {
    article()
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

#[test]
fn current_layout_chain_names_order_and_probabilities() {
    let save = render(&seed(), "save");
    let svc: Vec<&str> = save
        .lines()
        .filter(|l| l.starts_with("-A KUBE-SVC-2CMXP7HKUVJN7L6M "))
        .collect();
    assert_eq!(svc.len(), 4, "{save}");
    assert!(
        svc[1].contains("--probability 0.33333333349 -j KUBE-SEP-C2Y64IBVPH4YIBGX"),
        "{}",
        svc[1]
    );
    assert!(
        svc[2].contains("--probability 0.50000000000 -j KUBE-SEP-QST3VAMBSCRN7S4W"),
        "{}",
        svc[2]
    );
    assert!(
        svc[3].ends_with("-j KUBE-SEP-MRYDKJV5U7PLF5ZN") && !svc[3].contains("statistic"),
        "{}",
        svc[3]
    );
    // kube-dns and kubernetes chain names, as in the article's KUBE-SERVICES listing.
    for chain in [
        "KUBE-SVC-NPX46M4PTMTKRN6Y",
        "KUBE-SVC-TCOU7JCQXEZGVUNU",
        "KUBE-SVC-ERIFXISQEP7F7OF4",
        "KUBE-SVC-JD5MR3NA4I4DYORP",
    ] {
        assert!(
            save.contains(&format!(":{chain} - [0:0]")),
            "{chain} missing"
        );
    }
}

#[test]
fn article_iptables_save_lines_appear_verbatim_with_its_release() {
    let save = render(&preset(), "save");
    let lines = article_lines("-A ");
    assert_eq!(lines.len(), 5, "the article has five iptables-save lines");
    for l in &lines {
        assert!(
            save.lines().any(|s| s == l),
            "article line not in kpx's save view:\n{l}\n---\n{save}"
        );
    }
}

/// `iptables -t nat -L CHAIN -v` lines of the article (rules with zero counters).
#[test]
fn article_iptables_list_lines_appear_verbatim() {
    let a = analyze(&preset()).unwrap();
    let mut shown = String::new();
    for chain in [
        "KUBE-SERVICES",
        "KUBE-SVC-2CMXP7HKUVJN7L6M",
        "KUBE-SEP-C2Y64IBVPH4YIBGX",
    ] {
        let req = Request {
            view: Some("list".into()),
            chain: Some(chain.into()),
            ..Default::default()
        };
        shown.push_str(&a.render(&req).unwrap());
    }
    let lines: Vec<String> = article_lines("    0     0 ");
    assert!(lines.len() >= 10, "{lines:?}");
    for l in &lines {
        assert!(
            shown.lines().any(|s| s.trim_end() == l.trim_end()),
            "article line not shown:\n{l}\n---\n{shown}"
        );
    }
    for header in [
        "Chain KUBE-SERVICES (2 references)",
        "Chain KUBE-SVC-2CMXP7HKUVJN7L6M (1 references)",
        "Chain KUBE-SEP-C2Y64IBVPH4YIBGX (1 references)",
    ] {
        assert!(shown.contains(header), "{header}");
    }
}

/// The article's `kubectl get` tables, column for column up to AGE (kpx's objects carry no
/// creation time, so AGE is `<unknown>`).
#[test]
fn kubectl_views_match_the_article() {
    let text = article();
    let block = |command: &str| -> Vec<String> {
        text.split(command)
            .nth(1)
            .unwrap()
            .lines()
            .take_while(|l| !l.starts_with("```"))
            .map(str::to_string)
            .collect()
    };
    for (command, view) in [
        ("$ kubectl get svc\n", "get-svc"),
        ("$ kubectl get ep\n", "get-ep"),
        ("$ kubectl get  pods -o wide\n", "get-pods"),
    ] {
        let ours = render(&seed(), view);
        let theirs = block(command);
        assert_eq!(
            ours.lines().count(),
            theirs.len(),
            "{view}:\n{ours}\n---\n{theirs:#?}"
        );
        let age = theirs[0].find("AGE").unwrap();
        for (o, t) in ours.lines().zip(&theirs) {
            assert_eq!(&o[..age], &t[..age], "{view}");
        }
    }
}

/// The preset is the shared scenario plus only the release pin.
#[test]
fn preset_is_the_article_scenario() {
    assert!(preset().starts_with(&seed()));
}

/// The article's cluster in nftables mode: 8080/TCP on the nginx ClusterIP goes to a service
/// chain whose numgen map picks one of the three nginx endpoints.
#[test]
fn seed_in_nftables_mode() {
    let out = common::render_mode(&seed(), kpx_core::cluster::settings::Mode::Nftables, "nft");
    let element = out
        .lines()
        .find(|l| {
            l.starts_with(
                "add element ip kube-proxy service-ips { 10.109.134.113 . tcp . 8080 : goto ",
            )
        })
        .unwrap_or_else(|| panic!("{out}"));
    let chain = element
        .rsplit("goto ")
        .next()
        .unwrap()
        .trim_end_matches(" }");
    assert!(
        chain.starts_with("service-") && chain.ends_with("-default/nginx/tcp/"),
        "{chain}"
    );
    let lb = out
        .lines()
        .find(|l| {
            l.starts_with(&format!(
                "add rule ip kube-proxy {chain} numgen random mod 3 vmap {{"
            ))
        })
        .unwrap_or_else(|| panic!("{out}"));
    for (i, ip) in ["172.17.0.3", "172.17.0.4", "172.17.0.5"]
        .iter()
        .enumerate()
    {
        let target = format!("{i} : goto endpoint-");
        assert!(
            lb.contains(&target) && lb.contains(&format!("-default/nginx/tcp/__{ip}/80")),
            "{lb}"
        );
        let dnat = format!("meta l4proto tcp dnat to {ip}:80");
        assert!(out.lines().any(|l| l.ends_with(&dnat)), "{dnat}");
    }
}

/// The article's IPVS cluster (../shared/scenarios/seed-ipvs.yaml, shipped as a preset): its
/// `ipvsadm -ln` lines in ipvsadm's order (connection counts are 0 in kpx: nothing has flowed;
/// the article's node had 2 active connections to the API server) and its kube-ipvs0 lines.
#[test]
fn article_ipvsadm_and_kube_ipvs0_lines() {
    let text = std::fs::read_to_string(shared_dir().join("scenarios/seed-ipvs.yaml")).unwrap();
    let preset = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../static/scenarios/seed-ipvs.yaml"
    ))
    .unwrap();
    assert_eq!(text, preset, "the preset is the shared scenario");
    let ours = render(&text, "ipvsadm");
    let art = article();
    let block: Vec<&str> = art
        .split("$ sudo ipvsadm -ln\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| !l.starts_with("```"))
        .collect();
    assert!(block.len() >= 12, "{block:?}");
    // The article's lines, in its order, are a subsequence of kpx's (kpx also lists UDP 53).
    let counts = |l: &str| -> String {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.first() == Some(&"->") {
            format!("{} {} {}", f[1], f[2], f[3])
        } else {
            f.join(" ")
        }
    };
    let mut it = ours.lines();
    for want in &block {
        let found = it.any(|l| {
            l.trim_end() == want.trim_end()
                || (want.trim_start().starts_with("->") && counts(l) == counts(want))
        });
        assert!(found, "article line not found in order: {want:?}\n{ours}");
    }
    let addr = render(&text, "addr");
    for ip in ["10.96.0.1", "10.96.0.10"] {
        let line = format!("    inet {ip}/32 scope global kube-ipvs0\n       valid_lft forever preferred_lft forever\n");
        assert!(addr.contains(&line), "{addr}");
    }
}

/// What the page shows beside the rules: the YAML behind a rule, its odds, what it declares.
#[test]
fn view_lines_carry_their_explanations() {
    use kpx_core::views::{analyze, Request};
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../static/scenarios/seed-iptables.yaml"
    ))
    .unwrap();
    let a = analyze(&text).unwrap();
    let lines = a
        .render_lines(&Request {
            view: Some("save".into()),
            ..Default::default()
        })
        .unwrap();
    let pod_line = text
        .lines()
        .position(|l| l.contains("name: nginx-deployment-9456bbbf9-zbtt2"))
        .unwrap()
        + 1;
    let dnat = lines
        .iter()
        .find(|l| l.text.contains("-j DNAT") && l.text.contains("172.17.0.3:80"))
        .unwrap();
    let written = a.written_by(dnat.source.as_ref().unwrap());
    assert!(
        written
            .iter()
            .any(|r| r.first <= pod_line && pod_line <= r.last),
        "{written:?} misses line {pod_line}"
    );
    let cascade: Vec<&str> = lines
        .iter()
        .filter(|l| {
            l.text.starts_with("-A KUBE-SVC-2CMXP7HKUVJN7L6M") && l.text.contains("KUBE-SEP-")
        })
        .map(|l| l.about().odds.as_deref().unwrap())
        .collect();
    assert_eq!(cascade.len(), 3);
    assert!(
        cascade[0].starts_with("Endpoint 1 of 3") && cascade[0].contains("probability 1/3"),
        "{}",
        cascade[0]
    );
    assert!(cascade[1].contains("2/3 × 1/2 = 1/3"), "{}", cascade[1]);
    assert!(cascade[2].contains("no random test"), "{}", cascade[2]);
    assert!(lines.iter().any(
        |l| l.defines.as_deref() == Some("KUBE-SVC-2CMXP7HKUVJN7L6M")
            && l.text.starts_with(":KUBE-SVC-2CMXP7HKUVJN7L6M")
    ));
}
