//! Golden outputs of every view for the shipped presets, reviewed in diffs
//! (`cargo insta review` after a deliberate change).

mod common;

use kpx_core::cluster::settings::Mode;
use kpx_core::iptables::model::TableName;
use kpx_core::views::{analyze, views, Request};

fn all_views(name: &str, text: &str) {
    let a = analyze(text).unwrap();
    for v in views(Mode::Nftables)
        .iter()
        .filter(|v| v.name.starts_with("nft"))
    {
        let out = a
            .render(&Request {
                mode: Some(Mode::Nftables),
                view: Some(v.name.into()),
                ..Default::default()
            })
            .unwrap();
        insta::assert_snapshot!(format!("{name}__nftables-{}", v.name), out);
    }
    for v in views(Mode::Ipvs)
        .iter()
        .filter(|v| !v.name.starts_with("get-"))
    {
        let out = a
            .render(&Request {
                mode: Some(Mode::Ipvs),
                view: Some(v.name.into()),
                ..Default::default()
            })
            .unwrap();
        insta::assert_snapshot!(format!("{name}__ipvs-{}", v.name), out);
    }
    for v in views(a.cluster.settings.mode) {
        let out = a
            .render(&Request {
                view: Some(v.name.into()),
                ..Default::default()
            })
            .unwrap();
        insta::assert_snapshot!(format!("{name}__{}", v.name), out);
        if v.name.starts_with("get-") {
            let all = a
                .render(&Request {
                    view: Some(v.name.into()),
                    all_namespaces: true,
                    ..Default::default()
                })
                .unwrap();
            insta::assert_snapshot!(format!("{name}__{}-A", v.name), all);
        }
    }
    let filter = a
        .render(&Request {
            view: Some("list".into()),
            table: Some(TableName::Filter),
            numeric: true,
            ..Default::default()
        })
        .unwrap();
    insta::assert_snapshot!(format!("{name}__list-filter-numeric"), filter);
    let notes: Vec<String> = a.cluster.notes.iter().map(|n| n.message.clone()).collect();
    insta::assert_snapshot!(format!("{name}__notes"), notes.join("\n"));
}

#[test]
fn tour() {
    all_views("tour", include_str!("../../static/scenarios/tour.yaml"));
}

#[test]
fn seed_article_release() {
    all_views(
        "seed-1.23",
        include_str!("../../static/scenarios/seed-iptables.yaml"),
    );
}

#[test]
fn seed_current_release() {
    let text =
        std::fs::read_to_string(common::shared_dir().join("scenarios/seed-iptables.yaml")).unwrap();
    all_views("seed", &text);
}

/// A Service alone still renders: every default is applied and reported.
#[test]
fn service_alone() {
    all_views(
        "service-alone",
        "apiVersion: v1\nkind: Service\nmetadata: {name: my-service}\nspec:\n  selector: {app: MyApp}\n  ports:\n  - {protocol: TCP, port: 80, targetPort: 9376}\n",
    );
}

#[test]
fn ipv6() {
    all_views("ipv6", include_str!("scenarios/ipv6.yaml"));
}

/// Inputs the API server would refuse that kpx only warns about (scenarios/warned.yaml):
/// objects of one name in nft-load, equal element keys in nft list, a line break in a kubectl
/// cell, each in the order its writer keeps.
#[test]
fn warned_inputs() {
    all_views("warned", include_str!("scenarios/warned.yaml"));
}

/// The tour in the article's release layout (KUBE-XLB, KUBE-FW for every LB IP, KUBE-MARK-DROP).
#[test]
fn tour_release_1_23() {
    let text = include_str!("../../static/scenarios/tour.yaml").replacen(
        "kind: NodeEnvironment\n",
        "kind: NodeEnvironment\nkubeProxyVersion: \"1.23\"\n",
        1,
    );
    all_views("tour-1.23", &text);
}

#[test]
fn seed_ipvs() {
    all_views(
        "seed-ipvs",
        include_str!("../../static/scenarios/seed-ipvs.yaml"),
    );
}
