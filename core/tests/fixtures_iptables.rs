//! Every case under ../shared/fixtures/iptables, compared the way kube-proxy's own tests
//! compare (`sortIPTablesRules`, see fixtures/README.md): byte for byte after the sort, with
//! the fake proxier's mark spelling (`0x4000`) for kube-proxy's real `0x00004000`.

mod common;

use common::{fixtures_dir, restore_of, sort_iptables_rules};

fn check(case: &str, expected_file: &str, edit: impl Fn(String) -> String) {
    let dir = fixtures_dir().join("iptables").join(case);
    let input = edit(std::fs::read_to_string(dir.join("input.yaml")).unwrap());
    let expected = std::fs::read_to_string(dir.join(expected_file)).unwrap();
    let ours = restore_of(&input).replace("0x00004000", "0x4000");
    let sorted = sort_iptables_rules(&ours);
    if sorted != expected {
        panic!(
            "{case}/{expected_file} differs\n--- expected\n{expected}\n--- kpx (sorted)\n{sorted}\n--- kpx (raw)\n{ours}"
        );
    }
}

#[test]
fn clusterip_two_services() {
    check("clusterip-two-services", "expected.txt", |s| s);
}

/// The ≈1.28 cases predate nfacct: the input says so (`nfacctCounters: {}`).
#[test]
fn nodeport_etp_local() {
    check("nodeport-etp-local", "expected.txt", |s| s);
}

#[test]
fn nodeport_etp_local_no_cluster_cidr() {
    check("nodeport-etp-local", "expected-no-cluster-cidr.txt", |s| {
        s.replace("clusterCIDR: 10.0.0.0/8", "clusterCIDR: \"\"")
    });
}

#[test]
fn itp_local() {
    check("itp-local", "expected.txt", |s| s);
}

/// Every iptables fixture directory is covered by a test above.
#[test]
fn no_fixture_is_forgotten() {
    let mut cases: Vec<String> = std::fs::read_dir(fixtures_dir().join("iptables"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    cases.sort();
    assert_eq!(
        cases,
        ["clusterip-two-services", "itp-local", "nodeport-etp-local"]
    );
}

/// Further cases of kube-proxy's iptables test suite at commit 531be812, transcribed into
/// core/tests/upstream/iptables/<case>/ (each with its NOTES.md): every directory is checked.
#[test]
fn upstream_iptables_cases() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/upstream/iptables");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(
        cases.iter().any(|c| c.ends_with("overall")),
        "TestOverallIPTablesRules must be among them"
    );
    let mut failures = Vec::new();
    for dir in &cases {
        let input = std::fs::read_to_string(dir.join("input.yaml")).unwrap();
        let expected = std::fs::read_to_string(dir.join("expected.txt")).unwrap();
        let sorted = sort_iptables_rules(&restore_of(&input).replace("0x00004000", "0x4000"));
        if sorted != expected {
            failures.push(format!(
                "{}\n--- expected\n{expected}\n--- kpx (sorted)\n{sorted}",
                dir.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
