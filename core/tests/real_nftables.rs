//! Ground truth for nftables mode: kube-proxy's table, loaded with `nft -f` (kpx's `nft-load`
//! view) into a throw-away network namespace, must be listed by nft 1.0.6 exactly as kpx's
//! `nft-list` view prints it (set/map element order, wrapping, priorities, mark spelling).

mod common;

use common::{available, same, shared_dir, Netns};
use kpx_core::cluster::settings::Mode;
use kpx_core::views::{analyze, Request};

fn check(tag: &str, input: &str) {
    let a = analyze(input).unwrap_or_else(|e| panic!("{tag}: {e}"));
    let view = |v: &str| {
        a.render(&Request {
            mode: Some(Mode::Nftables),
            view: Some(v.into()),
            ..Default::default()
        })
        .unwrap()
    };
    let ns = Netns::new(tag);
    ns.run(&["nft", "-f", "-"], Some(&view("nft-load")));
    let family = if a.cluster.settings.ipv6 { "ip6" } else { "ip" };
    let real = ns.run(&["nft", "list", "table", family, "kube-proxy"], None);
    same(
        &view("nft-list"),
        &real,
        &format!("{tag}: nft-list vs nft list"),
    );
    // kube-proxy's own text (the `nft` view) loads as it is.
    let ns2 = Netns::new(&format!("{tag}-dump"));
    ns2.run(&["nft", "-f", "-"], Some(&view("nft")));
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn nft_list_matches_real_nft() {
    if !available() {
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    check(
        "fixture",
        &read(&shared_dir().join("fixtures/nftables/two-clusterip-services/input.yaml")),
    );
    check("tour", &read(&root.join("../static/scenarios/tour.yaml")));
    check(
        "seed",
        &read(&shared_dir().join("scenarios/seed-iptables.yaml")),
    );
    check("ipv6", &read(&root.join("tests/scenarios/ipv6.yaml")));
}

/// The rendered listing shipped with the fixture differs only in chain order (it was loaded
/// in the test text's order, not kube-proxy's): the same blocks, each identical.
#[test]
fn nft_list_has_the_fixtures_blocks() {
    let dir = shared_dir().join("fixtures/nftables/two-clusterip-services");
    let a = analyze(&read(&dir.join("input.yaml"))).unwrap();
    let ours = a
        .render(&Request {
            mode: Some(Mode::Nftables),
            view: Some("nft-list".into()),
            ..Default::default()
        })
        .unwrap();
    let theirs: String = read(&dir.join("nft-list.rendered.txt"))
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let blocks = |t: &str| -> Vec<String> {
        let mut v: Vec<String> = t
            .split("\n\n")
            .map(|b| {
                b.trim_start_matches("table ip kube-proxy {\n\tcomment \"rules for kube-proxy\"\n")
                    .trim_end_matches("\n}\n")
                    .to_string()
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(blocks(&ours), blocks(&theirs));
}
