//! Bad input: a clear reason at the right line and column, never a panic.

use kpx_core::views::analyze;

/// The first diagnostic as `line:col: message`.
fn first_error(text: &str) -> String {
    let e = analyze(text).expect_err("input should be rejected");
    let d = &e.diagnostics[0];
    format!("{}:{}: {}", d.pos.line, d.pos.col, d.message)
}

const SVC: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n";

#[test]
fn yaml_syntax_error() {
    let e = first_error("apiVersion: v1\nkind: Service\nspec: {ports: [\n");
    assert!(e.starts_with("4:1: invalid YAML:"), "{e}");
}

#[test]
fn port_out_of_range_points_at_the_value() {
    let e = first_error(&format!("{SVC}  ports:\n  - name: http\n    port: 70000\n"));
    assert_eq!(e, "7:11: Service default/web: spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive");
}

#[test]
fn wrong_type_names_the_field() {
    let e = first_error(&format!("{SVC}  ports:\n  - port: eighty\n"));
    assert!(
        e.starts_with(
            "6:11: Service default/web: spec.ports[0].port: invalid type: string \"eighty\""
        ),
        "{e}"
    );
}

#[test]
fn unsupported_values_list_the_choices() {
    let e = first_error(&format!("{SVC}  type: Ingress\n  ports: [{{port: 80}}]\n"));
    assert_eq!(e, "5:9: Service default/web: spec.type: Unsupported value: \"Ingress\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"");
    let e = first_error(&format!("{SVC}  ports: [{{port: 80, protocol: ICMP}}]\n"));
    assert!(
        e.contains("spec.ports[0].protocol: Unsupported value: \"ICMP\""),
        "{e}"
    );
}

#[test]
fn bad_addresses() {
    let e = first_error(&format!(
        "{SVC}  clusterIP: 10.96.0.300\n  ports: [{{port: 80}}]\n"
    ));
    assert!(
        e.starts_with("5:14: Service default/web: spec.clusterIP: Invalid value: \"10.96.0.300\""),
        "{e}"
    );
    let e = first_error(&format!(
        "{SVC}  externalIPs: [1.2.3]\n  ports: [{{port: 80}}]\n"
    ));
    assert!(
        e.contains("spec.externalIPs[0]: Invalid value: \"1.2.3\""),
        "{e}"
    );
}

#[test]
fn several_errors_are_all_reported_in_text_order() {
    let text = format!("{SVC}  ports:\n  - {{port: -1}}\n  - {{port: 70000, name: b}}\n");
    let e = analyze(&text).err().unwrap();
    let lines: Vec<usize> = e.diagnostics.iter().map(|d| d.pos.line).collect();
    assert_eq!(lines, vec![6, 7]);
}

#[test]
fn documents_without_kind_and_non_objects() {
    assert!(first_error("apiVersion: v1\nmetadata: {name: x}\n").contains("no `kind`"));
    assert!(first_error("- a\n- b\n").contains("must be a Kubernetes object"));
}

#[test]
fn duplicate_services_and_clashing_cluster_ips() {
    let two = format!("{SVC}  clusterIP: 10.96.0.5\n  ports: [{{port: 80}}]\n---\n{SVC}  clusterIP: 10.96.0.6\n  ports: [{{port: 80}}]\n");
    assert!(first_error(&two).contains("Service default/web is defined twice"));
    // kube-apiserver would refuse a clashing ClusterIP; kube-proxy programs both: a warning.
    let clash = format!("{SVC}  clusterIP: 10.96.0.5\n  ports: [{{port: 80}}]\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: other}}\nspec:\n  clusterIP: 10.96.0.5\n  ports: [{{port: 80}}]\n");
    let a = analyze(&clash).unwrap();
    assert!(
        a.cluster.warnings.iter().any(|w| w
            .message
            .contains("provided IP is already allocated (to Service default/web)")),
        "{:?}",
        a.cluster.warnings
    );
}

#[test]
fn unknown_kinds_are_warnings_not_errors() {
    let a = analyze(&format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\n---\n{SVC}  ports: [{{port: 80}}]\n")).unwrap();
    assert_eq!(a.cluster.warnings.len(), 1);
    assert!(a.cluster.warnings[0]
        .message
        .contains("v1 ConfigMap is not something kube-proxy reads"));
    assert_eq!(a.cluster.warnings[0].pos.line, 1);
}

#[test]
fn unsupported_release_is_explained() {
    let a = analyze(&format!("apiVersion: kpx/v1alpha1\nkind: NodeEnvironment\nkubeProxyVersion: \"1.18\"\n---\n{SVC}  ports: [{{port: 80}}]\n")).unwrap();
    let e = a.iptables().as_ref().unwrap_err();
    assert!(e.contains("1.22-1.23") && e.contains("1.25"), "{e}");
}

#[test]
fn v1_list_items_are_read_with_positions() {
    let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: a}\n  spec:\n    ports: [{port: 99999}]\n";
    let e = first_error(text);
    assert!(
        e.starts_with("8:20: Service default/a: spec.ports[0].port"),
        "{e}"
    );
}

/// kubectl writes a List's `kind` after its `items` (its keys sorted), and kpx reads each item
/// as soon as it is read, before it knows the document is a List: the same errors at the same
/// places, the same objects, and nothing from the `items` of a document that is no List.
#[test]
fn a_list_written_as_kubectl_writes_it_reads_as_any_list() {
    let item = |name: &str, port: &str| {
        format!("- apiVersion: v1\n  kind: Service\n  metadata: {{name: {name}}}\n  spec:\n    ports: [{{port: {port}}}]\n")
    };
    // (A List stops at the first item kpx cannot read, as it always did.)
    let items = item("a", "80") + &item("b", "http") + &item("c", "[1]");
    let e = analyze(&format!("apiVersion: v1\nitems:\n{items}kind: List\n")).unwrap_err();
    let at: Vec<String> = e
        .diagnostics
        .iter()
        .map(|d| format!("{}:{}: {}", d.pos.line, d.pos.col, d.message))
        .collect();
    assert_eq!(at.len(), 1, "{at:?}");
    assert!(
        at[0].starts_with("12:20: Service default/b: spec.ports[0].port: invalid type: string"),
        "{at:?}"
    );
    let names = |a: &kpx_core::views::Analysis| -> Vec<String> {
        let services = a.cluster.services.iter();
        services.map(|s| s.reference.name.clone()).collect()
    };
    let items = item("a", "80") + &item("b", "81");
    let a = analyze(&format!(
        "apiVersion: v1\nitems:\n{items}kind: List\nmetadata: {{resourceVersion: \"\"}}\n"
    ))
    .unwrap();
    assert_eq!(names(&a), ["a", "b"]);
    let b = &a.cluster.services[1].origin;
    assert!(
        matches!(b, kpx_core::cluster::Origin::Written { pos } if pos.line == 8 && pos.col == 3),
        "{b:?}"
    );
    // A List inside one: its items are read from its value, errors and all.
    let inner: String = item("c", "82")
        .lines()
        .map(|l| format!("  {l}\n"))
        .collect();
    let nested = format!(
        "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n{inner}{items}kind: List\n"
    );
    assert_eq!(names(&analyze(&nested).unwrap()), ["c", "a", "b"]);
    let broken = nested.replace("port: 82", "port: http");
    assert!(
        first_error(&broken)
            .starts_with("10:22: Service default/c: spec.ports[0].port: invalid type"),
        "{}",
        first_error(&broken)
    );
    // Another kind with a top-level `items`: ignored, its items with it.
    let a = analyze(&format!(
        "apiVersion: v1\nitems:\n{items}kind: ServiceList\n---\n{SVC}  ports: [{{port: 80}}]\n"
    ))
    .unwrap();
    assert_eq!(names(&a), ["web"]);
    assert!(a.cluster.warnings.iter().any(|w| w
        .message
        .contains("v1 ServiceList is not something kube-proxy reads")));
}

#[test]
fn columns_count_characters_not_bytes() {
    // "名字" is two characters and six bytes: the port's column is the same as with "ab".
    for name in ["ab", "名字"] {
        let e = first_error(&format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: web, labels: {{a: {name}}}}}\nspec:\n  ports: [{{port: 70000}}]  # {name}\n"
        ));
        assert!(e.starts_with("5:18: "), "{name}: {e}");
        let e = first_error(&format!(
            "apiVersion: v1\nkind: Service\nspec: {{a: {name}, b: ]}}\n"
        ));
        assert!(e.starts_with("3:18: invalid YAML:"), "{name}: {e}");
    }
}
