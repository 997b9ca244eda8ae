//! Every case under ../shared/fixtures/nftables, compared as kube-proxy's tests compare
//! (`sortNFTablesTransaction` on both sides, then equal), with the fake's mark spelling.

mod common;

use common::{fixtures_dir, render_mode, sort_nftables_transaction};
use kpx_core::cluster::settings::Mode;

fn check(dir: &std::path::Path) -> Result<(), String> {
    let input = std::fs::read_to_string(dir.join("input.yaml")).unwrap();
    let expected = std::fs::read_to_string(dir.join("expected.txt")).unwrap();
    let ours = render_mode(&input, Mode::Nftables, "nft").replace("0x00004000", "0x4000");
    let (want, got) = (sort_nftables_transaction(&expected), sort_nftables_transaction(&ours));
    if want == got {
        Ok(())
    } else {
        Err(format!("{}\n--- expected (sorted)\n{want}\n--- kpx (sorted)\n{got}", dir.display()))
    }
}

#[test]
fn two_clusterip_services() {
    check(&fixtures_dir().join("nftables/two-clusterip-services")).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn no_fixture_is_forgotten() {
    let cases: Vec<String> = std::fs::read_dir(fixtures_dir().join("nftables")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(cases, ["two-clusterip-services"]);
}
