//! Helpers shared by the integration tests.
#![allow(dead_code)]

use kpx_core::views::{analyze, Request};
use std::path::PathBuf;

/// `../shared/fixtures`, beside the repository (as laid out for sessions and CI).
pub fn fixtures_dir() -> PathBuf {
    shared_dir().join("fixtures")
}

pub fn shared_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    if let Ok(dir) = std::env::var("KPX_SHARED") {
        return PathBuf::from(dir);
    }
    root.join("..").join("shared")
}

pub fn render(input: &str, view: &str) -> String {
    let a = analyze(input).unwrap_or_else(|e| panic!("input rejected:\n{e}"));
    a.render(&Request { view: Some(view.into()), ..Default::default() }).unwrap()
}

pub fn restore_of(input: &str) -> String {
    render(input, "restore")
}

/// kube-proxy's `sortIPTablesRules` (pkg/proxy/iptables/proxier_test.go): tables by name;
/// chain lines with KUBE-NODEPORTS first, KUBE-SERVICES second, other KUBE-* chains sorted,
/// then the rest sorted; rules grouped per chain in that order, keeping their order, except
/// that KUBE-NODEPORTS and KUBE-SERVICES rules are stable-sorted by the service name in their
/// comment, with the "must be the last rule" rule kept last.
pub fn sort_iptables_rules(text: &str) -> String {
    let mut tables: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix('*') {
            tables.push((name.to_string(), vec![], vec![]));
        } else if line.starts_with(':') {
            tables.last_mut().unwrap().1.push(line.to_string());
        } else if line.starts_with("-A ") || line.starts_with("-X ") {
            tables.last_mut().unwrap().2.push(line.to_string());
        }
    }
    tables.sort_by(|a, b| a.0.cmp(&b.0));
    let chain_of = |l: &str| l[1..].split(' ').next().unwrap().to_string();
    let rank = |c: &str| match c {
        "KUBE-NODEPORTS" => (0, String::new()),
        "KUBE-SERVICES" => (1, String::new()),
        c if c.starts_with("KUBE-") => (2, c.to_string()),
        c => (3, c.to_string()),
    };
    let mut out = String::new();
    for (name, mut chains, rules) in tables {
        chains.sort_by_key(|l| rank(&chain_of(l)));
        out.push_str(&format!("*{name}\n"));
        for c in &chains {
            out.push_str(c);
            out.push('\n');
        }
        for c in &chains {
            let cname = chain_of(c);
            let mut mine: Vec<&String> =
                rules.iter().filter(|r| r.split(' ').nth(1) == Some(cname.as_str())).collect();
            if cname == "KUBE-NODEPORTS" || cname == "KUBE-SERVICES" {
                let key = |r: &str| -> (bool, String) {
                    let last = r.contains("must be the last rule");
                    let comment = r.split("--comment ").nth(1).unwrap_or("").trim_start_matches('"');
                    let svc: String = comment.chars().take_while(|c| *c != ' ' && *c != ':').collect();
                    (last, svc)
                };
                mine.sort_by_key(|r| key(r));
            }
            for r in mine {
                out.push_str(r);
                out.push('\n');
            }
        }
        out.push_str("COMMIT\n");
    }
    out
}

/// kube-proxy's `sortNFTablesTransaction` (pkg/proxy/nftables/helpers_test.go): blank and `#`
/// lines dropped; lines stably sorted by object type (table, chain, rule, set, map, element),
/// then by object name (5th word); rules keep their order, other lines of one name sort whole.
pub fn sort_nftables_transaction(text: &str) -> String {
    let rank = |l: &str| match l.split(' ').nth(1) {
        Some("table") => 0,
        Some("chain") => 1,
        Some("rule") => 2,
        Some("set") => 3,
        Some("map") => 4,
        Some("element") => 5,
        _ => 6,
    };
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).collect();
    lines.sort_by(|a, b| {
        let key = |l: &str| (rank(l), l.split(' ').nth(4).unwrap_or("").to_string());
        key(a).cmp(&key(b)).then_with(|| if rank(a) == 2 { std::cmp::Ordering::Equal } else { a.cmp(b) })
    });
    lines.iter().map(|l| format!("{l}\n")).collect()
}

pub fn render_mode(input: &str, mode: kpx_core::cluster::settings::Mode, view: &str) -> String {
    let a = analyze(input).unwrap_or_else(|e| panic!("input rejected:\n{e}"));
    a.render(&Request { mode: Some(mode), view: Some(view.into()), ..Default::default() }).unwrap()
}
