//! End-to-end runs of the `kpx` binary: its shape is a contract later checks rely on.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn kpx(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kpx"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn seed() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../static/scenarios/seed-iptables.yaml"
    )
    .to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}
fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn default_view_is_kube_proxys_restore_input() {
    let o = kpx(&["render", &seed()], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("*filter\n:KUBE-SERVICES - [0:0]\n"),
        "{out}"
    );
    assert!(out.contains("-A KUBE-SVC-2CMXP7HKUVJN7L6M -m comment --comment default/nginx -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-C2Y64IBVPH4YIBGX"), "{out}");
}

#[test]
fn save_view_of_one_table_from_stdin() {
    let text = std::fs::read_to_string(seed()).unwrap();
    let o = kpx(
        &["render", "--view", "save", "--table", "nat", "-"],
        Some(&text),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("*nat\n:PREROUTING ACCEPT [0:0]\n"), "{out}");
    assert!(!out.contains("*filter"));
    assert!(out.contains("-A KUBE-SERVICES -d 10.109.134.113/32 -p tcp -m comment --comment \"default/nginx cluster IP\" -m tcp --dport 8080 -j KUBE-SVC-2CMXP7HKUVJN7L6M\n"));
}

#[test]
fn list_view_of_one_chain_numeric() {
    let o = kpx(
        &[
            "render",
            "--view",
            "list",
            "--chain",
            "KUBE-SVC-2CMXP7HKUVJN7L6M",
            "--numeric",
            &seed(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("Chain KUBE-SVC-2CMXP7HKUVJN7L6M (1 references)\n"),
        "{out}"
    );
    assert!(out.contains("tcp dpt:8080"), "{out}");
}

#[test]
fn kubectl_views() {
    for (view, needle) in [
        ("get-svc", "10.109.134.113"),
        ("get-ep", "172.17.0.3:80,172.17.0.4:80,172.17.0.5:80"),
        ("get-endpointslices", "IPv4"),
        ("get-pods", "nginx-deployment-9456bbbf9-zbtt2"),
    ] {
        let o = kpx(&["render", "--view", view, &seed()], None);
        assert!(o.status.success(), "{view}: {}", stderr(&o));
        assert!(stdout(&o).contains(needle), "{view}: {}", stdout(&o));
    }
}

#[test]
fn json_is_the_typed_dataplane() {
    let o = kpx(&["render", "--format", "json", &seed()], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let nat = v["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "nat")
        .unwrap();
    let svc = nat["chains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "KUBE-SVC-2CMXP7HKUVJN7L6M")
        .unwrap();
    assert_eq!(svc["rules"].as_array().unwrap().len(), 4);
    assert_eq!(svc["rules"][1]["provenance"]["from"], "endpoint");
    assert_eq!(svc["rules"][1]["provenance"]["endpoint"], "172.17.0.3:80");
}

#[test]
fn views_are_listed_per_mode() {
    let o = kpx(&["views"], None);
    assert!(o.status.success());
    let out = stdout(&o);
    for v in [
        "iptables:",
        "restore",
        "save",
        "list",
        "get-svc",
        "get-ep",
        "get-endpointslices",
        "get-pods",
        "ipvs:",
        "nftables:",
    ] {
        assert!(out.contains(v), "{v} missing from\n{out}");
    }
}

#[test]
fn bad_input_is_reported_with_line_and_column_and_status_1() {
    let text =
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports:\n  - port: 70000\n";
    let o = kpx(&["render", "-"], Some(text));
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert_eq!(
        stderr(&o),
        "<stdin>:6:11: Service default/web: spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive\n"
    );
}

#[test]
fn every_mode_renders() {
    let ipvs = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../static/scenarios/seed-ipvs.yaml"
    );
    let o = kpx(&["render", "-q", ipvs], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with("IP Virtual Server version 1.2.1 (size=4096)\n"),
        "ipvsadm is IPVS mode's first view"
    );
    let o = kpx(&["render", "-q", "--mode", "nftables", &seed()], None);
    assert!(
        stdout(&o).starts_with("add table ip kube-proxy"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn unknown_view_and_chain_are_clear_errors() {
    let o = kpx(&["render", "--view", "nope", &seed()], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no view \"nope\""), "{}", stderr(&o));
    let o = kpx(
        &["render", "--view", "list", "--chain", "KUBE-NOPE", &seed()],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no chain KUBE-NOPE"), "{}", stderr(&o));
}

#[test]
fn missing_file_is_a_clear_error() {
    let o = kpx(&["render", "/nonexistent.yaml"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("kpx: /nonexistent.yaml:"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn another_nodes_view() {
    let tour = concat!(env!("CARGO_MANIFEST_DIR"), "/../static/scenarios/tour.yaml");
    // On node-b the web Service (eTP Local) has one local endpoint, 10.244.2.2.
    let o = kpx(&["render", "--node", "node-b", tour], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let svl: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("-A KUBE-SVL-67NZLRHBNDSAWJRO "))
        .collect();
    assert_eq!(svl, ["-A KUBE-SVL-67NZLRHBNDSAWJRO -m comment --comment \"shop/web:http -> 10.244.2.2:8080\" -j KUBE-SEP-LYOGWTXD3FSSWSCA"], "{out}");
    let o = kpx(&["render", "--node", "node-z", tour], None);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "kpx: no Node named \"node-z\"; the input has: node-a, node-b\n"
    );
}

#[test]
fn kubectl_views_follow_kubectls_namespace_rules() {
    let o = kpx(&["render", "--view", "get-svc", &seed()], None);
    let out = stdout(&o);
    assert!(
        out.starts_with("NAME         TYPE        CLUSTER-IP       EXTERNAL-IP   PORT(S)    AGE\n"),
        "{out}"
    );
    assert!(
        !out.contains("kube-dns"),
        "plain `kubectl get svc` shows the default namespace:\n{out}"
    );
    let o = kpx(&["render", "--view", "get-svc", "-A", &seed()], None);
    let out = stdout(&o);
    assert!(out.starts_with("NAMESPACE     NAME         TYPE"), "{out}");
    assert!(
        out.contains("kube-system   kube-dns     ClusterIP   10.96.0.10"),
        "{out}"
    );
}

#[test]
fn applied_defaults_are_reported_on_stderr() {
    let text =
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 80}]\n";
    let o = kpx(&["render", "-"], Some(text));
    assert!(o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("<stdin>: note: no Node given: showing node node-1"),
        "{err}"
    );
    assert!(
        err.contains("<stdin>:5:3: note: Service default/web: clusterIP 10."),
        "{err}"
    );
    let o = kpx(&["render", "--quiet", "-"], Some(text));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

#[test]
fn trace_and_simulate_in_json() {
    let seed = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/scenarios/seed-iptables.yaml"
    );
    let o = kpx(
        &[
            "trace",
            "--from",
            "default/nginx-deployment-9456bbbf9-6dmhv",
            "--to",
            "10.109.134.113:8080",
            "--seed",
            "3",
            "--format",
            "json",
            seed,
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "delivered");
    assert!(v["endpoint"].as_str().unwrap().starts_with("172.17.0."));
    assert!(v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["chain"] == "KUBE-SVC-2CMXP7HKUVJN7L6M" && s["matched"] == true));
    assert!(v["conntrack"]["dnat"].as_bool().unwrap());
    let o = kpx(
        &[
            "simulate",
            "--from",
            "default/nginx-deployment-9456bbbf9-6dmhv",
            "--to",
            "default/nginx",
            "--connections",
            "300",
            "--format",
            "json",
            seed,
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let total: u64 = v["endpoints"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(total, 300);
    assert_eq!(v["dropped"], 0);
    assert_eq!(v["rejected"], 0);
}

/// The page's scaling chart draws `static/scale.json`, measured by this command: it must be
/// what kpx measures now (regenerate with the command below when the model changes).
#[test]
fn the_scaling_charts_data_is_current() {
    let args = [
        "scale",
        "--services",
        "10,30,100,300,1000,2000",
        "--endpoints",
        "10",
        "--mode",
        "iptables",
        "--mode",
        "ipvs",
        "--mode",
        "nftables",
        "--format",
        "json",
    ];
    let out = kpx(&args, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../static/scale.json"))
            .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        shipped,
        "static/scale.json is stale: run `kpx {} > static/scale.json`",
        args.join(" ")
    );
}

#[test]
fn a_link_opens_the_input_in_the_page() {
    let o = kpx(
        &[
            "link",
            "--site",
            "https://example.org/kpx/",
            "--mode",
            "ipvs",
            "--view",
            "ipvsadm",
        ],
        Some(&seed()),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let link = stdout(&o);
    let fragment = link
        .trim()
        .strip_prefix("https://example.org/kpx/#")
        .expect("the site, then the state");
    let state = kpx_core::share::decode(fragment).unwrap();
    assert_eq!(state.text, seed());
    assert_eq!(state.mode.as_deref(), Some("ipvs"));
    assert_eq!(state.view.as_deref(), Some("ipvsadm"));
}
