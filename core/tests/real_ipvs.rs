//! Ground truth for IPVS mode where this kernel allows it (it has ipset but no IPVS): kube-proxy's
//! 17 ipsets are created and filled with `ipset`, its IPVS-mode iptables rules loaded with
//! `iptables-restore`; then `iptables-save` and `iptables -L -v [-n]` must print exactly kpx's
//! `save` and `list` views, and `ipset list` must agree with kpx's `ipset` view (member order,
//! `Size in memory` and the hash seed aside). Scenarios whose rules need the `ipvs` match
//! (KUBE-IPVS-OUT-FILTER) cannot load here.

mod common;

use common::{available, full_restore, same, shared_dir, Netns};
use kpx_core::cluster::settings::Mode;
use kpx_core::iptables::model::TableName;
use kpx_core::iptables::Layout;
use kpx_core::views::{analyze, Request};

fn check(tag: &str, input: &str) {
    let a = analyze(input).unwrap_or_else(|e| panic!("{tag}: {e}"));
    let ipvs = &a.ipvs();
    let ns = Netns::new(tag);
    let family = if ipvs.ipv6 { "inet6" } else { "inet" };
    for set in &ipvs.ipsets {
        let mut args = vec!["ipset", "create", set.name.as_str(), set.kind];
        if set.kind == "bitmap:port" {
            args.extend(["range", "0-65535"]);
        } else {
            args.extend(["family", family, "hashsize", "1024", "maxelem", "65536"]);
        }
        ns.run(&args, None);
        for e in &set.entries {
            ns.run(&["ipset", "add", &set.name, &e.text], None);
        }
    }
    ns.run(
        &["iptables-restore"],
        Some(&full_restore(&ipvs.iptables, Layout::Current)),
    );
    let view = |v: &str, table: Option<TableName>, numeric: bool| {
        a.render(&Request {
            mode: Some(Mode::Ipvs),
            view: Some(v.into()),
            table,
            numeric,
            ..Default::default()
        })
        .unwrap()
    };
    let real: String = ns
        .run(&["iptables-save"], None)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    same(
        &view("save", None, false),
        &real,
        &format!("{tag}: save vs iptables-save"),
    );
    for table in [TableName::Nat, TableName::Filter] {
        for numeric in [false, true] {
            let mut args = vec!["iptables", "-t", table.as_str(), "-L", "-v"];
            if numeric {
                args.push("-n");
            }
            same(
                &view("list", Some(table), numeric),
                &ns.run(&args, None),
                &format!("{tag}: list vs {}", args.join(" ")),
            );
        }
    }
    // ipset list: compare with the kernel-dependent parts normalised.
    let normalise = |text: &str| -> Vec<String> {
        let mut blocks: Vec<String> = Vec::new();
        for block in text.split("\n\n") {
            let mut head = Vec::new();
            let mut members = Vec::new();
            let mut in_members = false;
            for l in block.lines() {
                if in_members {
                    members.push(l.to_string());
                } else if l == "Members:" {
                    in_members = true;
                } else if !l.starts_with("Size in memory") {
                    head.push(l.split(" bucketsize").next().unwrap().to_string());
                }
            }
            members.sort();
            blocks.push(format!("{}\n{}", head.join("\n"), members.join("\n")));
        }
        blocks
    };
    let real = ns.run(&["ipset", "list"], None);
    assert_eq!(
        normalise(&view("ipset", None, false)),
        normalise(&real),
        "{tag}: ipset view vs ipset list"
    );
}

fn read(p: &std::path::Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn ipvs_mode_iptables_and_ipsets_match_the_real_tools() {
    if !available() {
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    check(
        "seed-ipvs",
        &read(&shared_dir().join("scenarios/seed-ipvs.yaml")),
    );
    check(
        "nodeport-udp",
        &read(&shared_dir().join("fixtures/ipvs/nodeport-udp/input.yaml")),
    );
    // The tour with its source range holding the node IP (no KUBE-IPVS-OUT-FILTER rule, whose
    // `ipvs` match this kernel lacks), in IPVS mode.
    let tour = read(&root.join("../static/scenarios/tour.yaml"))
        .replace("mode: iptables", "mode: ipvs")
        .replace("203.0.113.0/24", "192.168.10.0/24");
    check("tour-ipvs", &tour);
}
