//! Every case under ../shared/fixtures/ipvs, compared as kube-proxy's IPVS tests compare (see
//! fixtures/README.md): the virtual servers (exact set, or their count), the real servers of
//! the listed virtual servers, the listed ipsets' entries, and per listed chain the rules'
//! jump targets and `--match-set` names in order (nat rules, then filter rules of that name).

mod common;

use common::fixtures_dir;
use kpx_core::iptables::model::{Match, Target};
use kpx_core::views::analyze;
use std::collections::BTreeMap;

/// `[section]` → its lines, comments and blank lines dropped.
fn sections(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap().trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_string();
            out.entry(current.clone()).or_default();
        } else {
            out.entry(current.clone())
                .or_default()
                .push(line.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    out
}

fn check(case: &str) {
    check_dir(&fixtures_dir().join("ipvs").join(case));
}

fn check_dir(dir: &std::path::Path) {
    let case = dir.file_name().unwrap().to_string_lossy().into_owned();
    let case = case.as_str();
    let input = std::fs::read_to_string(dir.join("input.yaml")).unwrap();
    let expected = sections(&std::fs::read_to_string(dir.join("expected.txt")).unwrap());
    let a = analyze(&input).unwrap_or_else(|e| panic!("{case}: {e}"));
    let ipvs = &a.ipvs();
    let vs_name = |v: &kpx_core::ipvs::VirtualServer| {
        format!(
            "{} {}",
            v.protocol.upper(),
            kpx_core::net::join_host_port(v.ip, v.port)
        )
    };

    if let Some(want) = expected.get("virtual-servers") {
        let mut want = want.clone();
        let mut got: Vec<String> = ipvs
            .services
            .iter()
            .map(|v| {
                format!(
                    "{} scheduler={} flags={} timeout={}",
                    vs_name(v),
                    v.scheduler,
                    v.flags,
                    v.timeout
                )
            })
            .collect();
        want.sort();
        got.sort();
        assert_eq!(got, want, "{case}: virtual servers");
    }
    if let Some(count) = expected.get("virtual-servers count") {
        assert_eq!(
            ipvs.services.len().to_string(),
            count[0],
            "{case}: number of virtual servers"
        );
    }
    if let Some(lines) = expected.get("real-servers") {
        let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for l in lines {
            let (vs, rs) = l.split_once(" -> ").unwrap();
            want.entry(vs.to_string())
                .or_default()
                .push(rs.split(' ').next().unwrap().to_string());
        }
        for (vs, rs) in want {
            let v = ipvs
                .services
                .iter()
                .find(|v| vs_name(v) == vs)
                .unwrap_or_else(|| panic!("{case}: no virtual server {vs}"));
            let mut got: Vec<String> = v
                .reals
                .iter()
                .map(|r| kpx_core::net::join_host_port(r.ip, r.port))
                .collect();
            got.sort();
            assert_eq!(got, rs, "{case}: real servers of {vs}");
            assert!(v.reals.iter().all(|r| r.weight == 1));
        }
    }
    for (section, lines) in &expected {
        if let Some(set) = section.strip_prefix("ipset ") {
            let s = ipvs
                .ipsets
                .iter()
                .find(|s| s.name == set)
                .unwrap_or_else(|| panic!("{case}: no ipset {set}"));
            let mut got: Vec<String> = s.entries.iter().map(|e| e.text.clone()).collect();
            let mut want = lines.clone();
            got.sort();
            want.sort();
            assert_eq!(got, want, "{case}: ipset {set}");
        }
        if let Some(chain) = section.strip_prefix("iptables ") {
            let mut got = Vec::new();
            // nat first, then filter, as checkIptables concatenates them.
            for name in [
                kpx_core::iptables::model::TableName::Nat,
                kpx_core::iptables::model::TableName::Filter,
            ] {
                let Some(c) = ipvs.iptables.table(name).and_then(|t| t.chain(chain)) else {
                    continue;
                };
                for r in &c.rules {
                    let target = match &r.target {
                        Some(Target::Jump { chain }) => chain.to_string(),
                        Some(Target::Accept) => "ACCEPT".into(),
                        Some(Target::Drop) => "DROP".into(),
                        Some(Target::Return) => "RETURN".into(),
                        Some(Target::Reject) => "REJECT".into(),
                        Some(Target::Masquerade { .. }) => "MASQUERADE".into(),
                        other => format!("{other:?}"),
                    };
                    let set = r.matches.iter().find_map(|m| match m {
                        Match::Set { name, .. } => Some(name.clone()),
                        _ => None,
                    });
                    got.push(format!(
                        "{} -j {target} match-set {}",
                        got.len() + 1,
                        set.unwrap_or_else(|| "-".into())
                    ));
                }
            }
            assert_eq!(&got, lines, "{case}: iptables chain {chain}");
        }
    }
}

#[test]
fn nodeport_udp() {
    check("nodeport-udp");
}

#[test]
fn loadbalancer_source_ranges() {
    check("loadbalancer-source-ranges");
}

#[test]
fn no_fixture_is_forgotten() {
    let mut cases: Vec<String> = std::fs::read_dir(fixtures_dir().join("ipvs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    cases.sort();
    assert_eq!(cases, ["loadbalancer-source-ranges", "nodeport-udp"]);
}

/// Further cases of kube-proxy's IPVS test suite, transcribed into core/tests/upstream/ipvs/
/// (each with its NOTES.md): every directory is checked.
#[test]
fn upstream_ipvs_cases() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/upstream/ipvs");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(!cases.is_empty());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|dir| {
            std::panic::catch_unwind(|| check_dir(dir)).err().map(|e| {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                format!("{}: {msg}", dir.display())
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
