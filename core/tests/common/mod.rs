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
    a.render(&Request {
        view: Some(view.into()),
        ..Default::default()
    })
    .unwrap()
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
            let mut mine: Vec<&String> = rules
                .iter()
                .filter(|r| r.split(' ').nth(1) == Some(cname.as_str()))
                .collect();
            if cname == "KUBE-NODEPORTS" || cname == "KUBE-SERVICES" {
                let key = |r: &str| -> (bool, String) {
                    let last = r.contains("must be the last rule");
                    let comment = r
                        .split("--comment ")
                        .nth(1)
                        .unwrap_or("")
                        .trim_start_matches('"');
                    let svc: String = comment
                        .chars()
                        .take_while(|c| *c != ' ' && *c != ':')
                        .collect();
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
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    lines.sort_by(|a, b| {
        let key = |l: &str| (rank(l), l.split(' ').nth(4).unwrap_or("").to_string());
        key(a).cmp(&key(b)).then_with(|| {
            if rank(a) == 2 {
                std::cmp::Ordering::Equal
            } else {
                a.cmp(b)
            }
        })
    });
    lines.iter().map(|l| format!("{l}\n")).collect()
}

pub fn render_mode(input: &str, mode: kpx_core::cluster::settings::Mode, view: &str) -> String {
    let a = analyze(input).unwrap_or_else(|e| panic!("input rejected:\n{e}"));
    a.render(&Request {
        mode: Some(mode),
        view: Some(view.into()),
        ..Default::default()
    })
    .unwrap()
}

// ---------------------------------------------------------------- the real tools

use std::io::Write;
use std::process::{Command, Stdio};

/// Whether the real iptables / nft can be used here (root, `ip netns`). Without them a test
/// says so and passes, unless KPX_REQUIRE_REAL_IPTABLES=1 (scripts/test.sh sets it as root).
pub fn available() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    let tools = ["iptables-restore", "nft", "ipset"]
        .iter()
        .all(|t| Command::new(t).arg("--version").output().is_ok());
    let ok = root && tools;
    if !ok {
        assert!(
            std::env::var("KPX_REQUIRE_REAL_IPTABLES").as_deref() != Ok("1"),
            "KPX_REQUIRE_REAL_IPTABLES=1 but root, ip netns, iptables, nft or ipset is not available"
        );
        eprintln!("skipped: needs root, ip netns, iptables, nft and ipset");
    }
    ok
}

/// A throw-away network namespace, deleted on drop.
pub struct Netns(String);

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let name = format!("kpx-{}-{tag}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let st = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap();
        assert!(st.success(), "ip netns add {name}");
        Netns(name)
    }
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> String {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.0])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = cmd.spawn().unwrap();
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?} failed: {}\ninput:\n{}",
            String::from_utf8_lossy(&out.stderr),
            stdin.unwrap_or("")
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

/// Equal texts, or a panic that shows the first differing lines.
pub fn same(ours: &str, real: &str, what: &str) {
    if ours == real {
        return;
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (ours.lines().collect(), real.lines().collect());
    let i = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    panic!(
        "{what}: first difference at line {}\n  kpx : {:?}\n  real: {:?}\n(kpx has {} lines, the tool {})",
        i + 1,
        a.get(i),
        b.get(i),
        a.len(),
        b.len()
    );
}

/// Every chain of a dataplane (built-in jumps, kube-proxy's, kubelet's, the canary) as one
/// iptables-restore input, in kube-proxy's own spelling.
pub fn full_restore(
    dp: &kpx_core::iptables::model::Dataplane,
    layout: kpx_core::iptables::Layout,
) -> String {
    use kpx_core::iptables::model::ChainKind;
    let mut out = String::new();
    for t in &dp.tables {
        out.push_str(&format!("*{}\n", t.name.as_str()));
        for c in &t.chains {
            let policy = if c.kind == ChainKind::BuiltIn {
                "ACCEPT"
            } else {
                "-"
            };
            out.push_str(&format!(":{} {policy} [0:0]\n", c.name));
        }
        for c in &t.chains {
            for r in &c.rules {
                out.push_str(&kpx_core::iptables::render::restore_rule(
                    &c.name, r, layout,
                ));
                out.push('\n');
            }
        }
        out.push_str("COMMIT\n");
    }
    out
}
