//! Every case under ../shared/fixtures/nftables, compared as kube-proxy's tests compare
//! (`sortNFTablesTransaction` on both sides, then equal), with the fake's mark spelling.

mod common;

use common::{fixtures_dir, render_mode, sort_nftables_transaction};
use kpx_core::cluster::settings::Mode;

fn check(dir: &std::path::Path) -> Result<(), String> {
    let input = std::fs::read_to_string(dir.join("input.yaml")).unwrap();
    let expected = std::fs::read_to_string(dir.join("expected.txt")).unwrap();
    let ours = render_mode(&input, Mode::Nftables, "nft").replace("0x00004000", "0x4000");
    let (want, got) = (
        sort_nftables_transaction(&expected),
        sort_nftables_transaction(&ours),
    );
    if want == got {
        Ok(())
    } else {
        Err(format!(
            "{}\n--- expected (sorted)\n{want}\n--- kpx (sorted)\n{got}",
            dir.display()
        ))
    }
}

#[test]
fn two_clusterip_services() {
    check(&fixtures_dir().join("nftables/two-clusterip-services"))
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn no_fixture_is_forgotten() {
    let cases: Vec<String> = std::fs::read_dir(fixtures_dir().join("nftables"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(cases, ["two-clusterip-services"]);
}

/// kube-proxy's TestOverallNFTablesRules and TestBadIPs, transcribed into
/// core/tests/upstream/nftables/<case>/ (see each NOTES.md): every directory is checked.
#[test]
fn upstream_nftables_cases() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/upstream/nftables");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.iter().any(|c| c.ends_with("overall")));
    let failures: Vec<String> = cases.iter().filter_map(|c| check(c).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
