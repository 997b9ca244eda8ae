//! Hostile and malformed inputs: a table of cases, one runner.
//!
//! Each case is text a reader (or a shared link) could hand kpx, and what must come of it:
//! either a clear error at the exact line and column, or a result whose every view renders.
//! Whatever the case, kpx must not panic, must not hang, and must not blow its stack: each case
//! runs on its own thread (named after the case, so even a stack overflow names it) under
//! `catch_unwind`, and the runner gives up waiting after `LIMIT`.

use kpx_core::cluster::settings::Mode;
use kpx_core::share;
use kpx_core::trace::session::{self, simulate, trace};
use kpx_core::views::{analyze, views, Request};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A hang guard, not a performance target (debug builds are slow).
const LIMIT: Duration = Duration::from_secs(20);

/// Rust's default stack for spawned threads, set explicitly so that `RUST_MIN_STACK` cannot
/// hide a recursion that would overflow in the CLI or the browser.
const STACK: usize = 2 << 20;

const MODES: [Mode; 3] = [Mode::Iptables, Mode::Ipvs, Mode::Nftables];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Cat {
    YamlSyntax,
    WrongType,
    UnknownKind,
    Missing,
    Duplicate,
    BadValue,
    Selector,
    AliasBomb,
    DeepNesting,
    Huge,
    ManyEndpoints,
    IpFamily,
    Contradiction,
    OddText,
    SharedLink,
}

/// What must come of a case.
#[derive(Debug)]
enum Expect {
    /// `analyze` rejects the text: its first diagnostic is at `line:col` (1-based) and says
    /// `msg` (a substring).
    Err(usize, usize, &'static str),
    /// `analyze` accepts the text and every view of every mode renders.
    Ok,
    /// As `Ok`, and a warning at `line:col` says `msg`.
    Warn(usize, usize, &'static str),
    /// As `Ok`, and a note (an assumption kpx reports) says `msg`.
    Note(&'static str),
    /// `share::decode` refuses the link, saying `msg`.
    Link(&'static str),
}

struct Case {
    cat: Cat,
    name: &'static str,
    input: String,
    expect: Expect,
    /// For some accepted cases: a packet walk and a 100-connection simulation, `(from, to)`.
    walk: Option<(&'static str, &'static str)>,
}

fn case(cat: Cat, name: &'static str, input: impl Into<String>, expect: Expect) -> Case {
    Case {
        cat,
        name,
        input: input.into(),
        expect,
        walk: None,
    }
}

impl Case {
    fn walk(mut self, from: &'static str, to: &'static str) -> Case {
        self.walk = Some((from, to));
        self
    }
}

use Cat::*;
use Expect::{Err, Link, Note, Ok, Warn};

// ---------------------------------------------------------------------------------------------
// Inputs

/// A Service's first four lines; its spec starts on line 5.
const SVC: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n";

fn svc(spec: &str) -> String {
    format!("{SVC}{spec}")
}

/// A small valid cluster: a Service with a fixed ClusterIP, its Pod and a client Pod.
/// Lines 1-7 are the Service.
const BASE: &str = "apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: 10.96.0.10
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, labels: {app: web}}
spec: {nodeName: node-1, containers: [{name: c}]}
status: {podIP: 10.244.0.5, conditions: [{type: Ready, status: \"True\"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec: {nodeName: node-1, containers: [{name: c}]}
status: {podIP: 10.244.0.9, conditions: [{type: Ready, status: \"True\"}]}
";

/// An EndpointSlice for Service `web`; its endpoints follow on line 7.
fn slice(address_type: &str, endpoints: &str) -> String {
    format!("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: web-1, labels: {{kubernetes.io/service-name: web}}}}\naddressType: {address_type}\nports: [{{name: http, port: 8080}}]\nendpoints:\n{endpoints}")
}

/// The Service of `BASE` without Pods, followed by `rest` (which starts on line 9).
fn web_and(rest: &str) -> String {
    format!("apiVersion: v1\nkind: Service\nmetadata: {{name: web}}\nspec:\n  clusterIP: 10.96.0.10\n  selector: {{app: web}}\n  ports: [{{name: http, port: 80, targetPort: 8080}}]\n---\n{rest}")
}

fn proxy_config(body: &str) -> String {
    format!(
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n{body}---\n{}",
        svc("  ports: [{port: 80}]\n")
    )
}

fn node_env(body: &str) -> String {
    format!(
        "apiVersion: kpx/v1alpha1\nkind: NodeEnvironment\n{body}---\n{}",
        svc("  ports: [{port: 80}]\n")
    )
}

/// "Billion laughs": `levels` anchors, each a list of ten aliases of the one before.
fn billion_laughs(levels: usize) -> String {
    let mut y = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n");
    y.push_str("  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..levels {
        let refs = vec![format!("*l{}", i - 1); 10].join(", ");
        writeln!(y, "  l{i}: &l{i} [{refs}]").unwrap();
    }
    y
}

/// A `len`-byte string anchored once and aliased `n` times (the aliases start on line 6).
fn string_alias_bomb(len: usize, n: usize) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: s}}\ndata:\n  a: &a \"{}\"\n  b: [{}]\n",
        "s".repeat(len),
        vec!["*a"; n].join(", ")
    )
}

/// `n` levels of `[` (flow) and the matching `]`.
fn nested_flow(open: char, close: char, n: usize) -> String {
    let inner = if open == '{' { "a: 1" } else { "1" };
    let mut y = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata: ");
    for _ in 0..n {
        y.push(open);
        if open == '{' {
            y.push_str("a: ");
        }
    }
    y.push_str(inner);
    for _ in 0..n {
        y.push(close);
    }
    y.push('\n');
    y
}

/// `n` nested block sequences on one line: `- - - - x`.
fn nested_block_seqs(n: usize) -> String {
    let mut y =
        String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata:\n  x:\n");
    y.push_str("  ");
    y.push_str(&"- ".repeat(n));
    y.push_str("x\n");
    y
}

/// `n` nested block mappings, one more space of indentation per level.
fn nested_block_maps(n: usize) -> String {
    let mut y = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata:\n");
    for i in 0..n {
        writeln!(y, "{}k:", " ".repeat(i + 1)).unwrap();
    }
    writeln!(y, "{}v", " ".repeat(n + 1)).unwrap();
    y
}

const MIB: usize = 1 << 20;

/// `n` endpoints, one per line, in 10.128.0.0/9 (no conditions: an unset `ready` is ready).
fn endpoints(n: usize) -> String {
    let mut y = String::with_capacity(n * 32);
    for i in 0..n {
        let (a, b, c) = (128 + i / 65536, (i / 256) % 256, i % 256);
        writeln!(y, "- addresses: [10.{a}.{b}.{c}]").unwrap();
    }
    y
}

/// Legacy Endpoints with `n` addresses.
fn legacy_endpoints(n: usize) -> String {
    let mut y = String::from("apiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\nsubsets:\n- ports: [{name: http, port: 8080}]\n  addresses:\n");
    for i in 0..n {
        writeln!(
            y,
            "  - ip: 10.{}.{}.{}",
            128 + i / 65536,
            (i / 256) % 256,
            i % 256
        )
        .unwrap();
    }
    y
}

/// `n` Services, each with its own ClusterIP left to the allocator.
fn many_services(n: usize) -> String {
    let mut y = String::new();
    for i in 0..n {
        writeln!(y, "---\napiVersion: v1\nkind: Service\nmetadata: {{name: s{i}}}\nspec:\n  type: NodePort\n  ports: [{{port: 80}}]").unwrap();
    }
    y
}

/// A Service with `n` ports.
fn many_ports(n: usize) -> String {
    let mut y = String::from(SVC);
    y.push_str("  ports:\n");
    for i in 0..n {
        writeln!(y, "  - {{name: p{i}, port: {}}}", 1 + i).unwrap();
    }
    y
}

fn link_of(text: &str) -> String {
    share::encode(&share::Shared {
        text: text.into(),
        ..Default::default()
    })
}

/// A link whose payload is `json`, DEFLATEd and encoded as this build would.
fn link_with_json(json: &[u8]) -> String {
    let packed = miniz_oxide::deflate::compress_to_vec(json, 9);
    format!("k1.{}", data_encoding::BASE64URL_NOPAD.encode(&packed))
}

// ---------------------------------------------------------------------------------------------
// The corpus

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    let ports80 = "  ports: [{port: 80}]\n";
    vec![
        // --- YAML syntax: the parser's own errors, at the place the reader must edit.
        case(YamlSyntax, "unclosed double quote", "apiVersion: v1\nkind: Service\nmetadata:\n  name: \"web\nspec: {}\n", Err(4, 9, "invalid YAML")),
        case(YamlSyntax, "unclosed single quote", "apiVersion: v1\nkind: Service\nmetadata: {name: 'web}\n", Err(3, 18, "invalid YAML")),
        case(YamlSyntax, "unclosed flow sequence", svc("  ports: [{port: 80}\n"), Err(6, 1, "invalid YAML")),
        case(YamlSyntax, "unclosed flow mapping", svc("  ports: [{port: 80]\n"), Err(5, 20, "invalid YAML")),
        case(YamlSyntax, "stray closing bracket", svc("  ports: [{port: 80}]]\n"), Err(5, 22, "invalid YAML: misplaced bracket")),
        case(YamlSyntax, "bad indentation", "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n namespace: x\nspec:\n  ports: [{port: 80}]\n", Err(5, 2, "did not find expected key")),
        // YAML forbids tabs for indentation; editors insert them silently. (saphyr points just
        // after the tab, at what it indents.)
        case(YamlSyntax, "tab indentation", svc("\tports: [{port: 80}]\n"), Err(5, 2, "tabs disallowed within this context (block indentation)")),
        case(YamlSyntax, "duplicate key", "apiVersion: v1\nkind: Service\nkind: Pod\nmetadata: {name: web}\n", Err(3, 1, "duplicated key")),
        case(YamlSyntax, "duplicate key in a port", svc("  ports: [{port: 80, port: 81}]\n"), Err(5, 22, "duplicated key")),
        case(YamlSyntax, "invalid escape", "apiVersion: v1\nkind: Service\nmetadata: {name: \"w\\qb\"}\n", Err(3, 18, "unknown escape character")),
        case(YamlSyntax, "invalid unicode escape", "apiVersion: v1\nkind: Service\nmetadata: {name: \"w\\uZZZZ\"}\n", Err(3, 18, "did not find expected hexadecimal number")),
        case(YamlSyntax, "mapping value in a plain scalar", "apiVersion: v1\nkind: Service\nmetadata:\n  name: a: b\n", Err(4, 10, "invalid YAML")),
        case(YamlSyntax, "list then mapping at one level", "- a\nb: c\n", Err(2, 1, "invalid YAML")),
        // A complex key is valid YAML but no Kubernetes field: say so where it is.
        case(YamlSyntax, "complex mapping key", svc("  ? [a, b]\n  : c\n"), Err(5, 5, "mapping key must be a plain value")),
        // saphyr reads past a version directive it does not know.
        case(YamlSyntax, "YAML 2.0 directive", format!("%YAML 2.0\n---\n{}", svc(ports80)), Ok),
        case(YamlSyntax, "undefined tag handle", "kind: !x!y Service\n", Err(1, 7, "invalid YAML")),

        // --- Wrong types: the field and its value named, at the value.
        case(WrongType, "port as a word", svc("  ports:\n  - port: eighty\n"), Err(6, 11, "spec.ports[0].port: invalid type: string \"eighty\"")),
        // kubectl and YAML writers quote numbers; Kubernetes' JSON decoding refuses "80".
        case(WrongType, "port as a quoted number", svc("  ports:\n  - port: \"80\"\n"), Err(6, 11, "spec.ports[0].port: invalid type: string \"80\"")),
        case(WrongType, "ports as a mapping", svc("  ports: {port: 80}\n"), Err(5, 10, "spec.ports: invalid type: map")),
        case(WrongType, "metadata as a list", "apiVersion: v1\nkind: Service\nmetadata: [web]\nspec: {ports: [{port: 80}]}\n", Err(3, 11, "Service: metadata: invalid type: sequence")),
        case(WrongType, "spec as a string", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: ports\n", Err(4, 7, "spec: invalid type: string")),
        case(WrongType, "negative port", svc("  ports:\n  - port: -1\n"), Err(6, 11, "Invalid value: -1: must be between 1 and 65535")),
        case(WrongType, "port overflows i32", svc("  ports:\n  - port: 99999999999\n"), Err(6, 11, "spec.ports[0].port: invalid value: integer `99999999999`")),
        // Past i64, YAML reads the digits as a float: still named as the port's problem.
        case(WrongType, "port overflows i64", svc("  ports:\n  - port: 123456789012345678901234567890\n"), Err(6, 11, "spec.ports[0].port: invalid type")),
        case(WrongType, "port as a float", svc("  ports:\n  - port: 80.5\n"), Err(6, 11, "spec.ports[0].port: invalid type: floating point")),
        case(WrongType, "port as a boolean", svc("  ports:\n  - port: true\n"), Err(6, 11, "spec.ports[0].port: invalid type: boolean")),
        case(WrongType, "label value as a number", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {app: 1}\n", Err(5, 17, "metadata.labels.app: invalid type: integer")),
        case(WrongType, "externalIPs as a string", svc("  externalIPs: 1.2.3.4\n  ports: [{port: 80}]\n"), Err(5, 16, "spec.externalIPs: invalid type: string")),
        case(WrongType, "replicas as a word", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: three\n  selector: {matchLabels: {app: d}}\n  template: {metadata: {labels: {app: d}}, spec: {containers: [{name: c}]}}\n", Err(5, 13, "spec.replicas: invalid type: string")),
        // Pods, Deployments and Nodes are read through slim shapes (input::wire): as strict as
        // k8s-openapi on what kube-proxy reads, and past what it never reads.
        case(WrongType, "Pod spec as a list", BASE.replace("spec: {nodeName: node-1, containers: [{name: c}]}\nstatus: {podIP: 10.244.0.5", "spec: [node-1]\nstatus: {podIP: 10.244.0.5"), Err(12, 7, "Pod default/web-1: spec: invalid type: sequence")),
        case(WrongType, "Pod field kube-proxy never reads", BASE.replace("containers: [{name: c}]}\nstatus: {podIP: 10.244.0.5", "containers: [{name: c}], restartPolicy: 5}\nstatus: {podIP: 10.244.0.5"), Ok).walk("default/client", "default/web:80"),
        case(WrongType, "deletionTimestamp not a time", BASE.replace("metadata: {name: web-1, labels: {app: web}}", "metadata: {name: web-1, labels: {app: web}, deletionTimestamp: soon}"), Err(11, 64, "metadata.deletionTimestamp: invalid value: string \"soon\"")),
        case(WrongType, "terminating Pod", BASE.replace("metadata: {name: web-1, labels: {app: web}}", "metadata: {name: web-1, labels: {app: web}, deletionTimestamp: \"2024-05-01T12:00:00Z\"}"), Ok),
        case(WrongType, "kind as a list", "apiVersion: v1\nkind: [Service]\nmetadata: {name: web}\n", Err(2, 7, "`kind` must be a string")),
        case(WrongType, "apiVersion as a number", format!("apiVersion: 1{}", &svc(ports80)["apiVersion: v1".len()..]), Err(1, 13, "`apiVersion` must be a string")),
        // Past f64, YAML reads the digits as infinity: once silently null, so the field vanished.
        case(WrongType, "port .inf", svc("  ports: [{port: .inf}]\n"), Err(5, 18, "this number cannot be read")),
        case(WrongType, "masqueradeBit as a word", proxy_config("iptables: {masqueradeBit: fourteen}\n"), Err(3, 27, "KubeProxyConfiguration: iptables.masqueradeBit: invalid type: string \"fourteen\", expected i64")),
        case(WrongType, "timeoutSeconds negative", svc("  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: -5}}\n  ports: [{port: 80}]\n"), Err(6, 54, "timeoutSeconds: Invalid value: -5")),

        // --- Kinds kube-proxy does not read are listed as ignored, not refused.
        case(UnknownKind, "Pod of another version", BASE.replacen("apiVersion: v1\nkind: Pod", "apiVersion: v2\nkind: Pod", 1), Err(9, 13, "apiVersion: invalid value: string \"v2\", expected v1")),
        case(UnknownKind, "ConfigMap", format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\n---\n{}", svc(ports80)), Warn(1, 1, "v1 ConfigMap is not something kube-proxy reads; ignored")),
        case(UnknownKind, "Service of another API group", format!("apiVersion: apps/v1\nkind: Service\nmetadata: {{name: x}}\n---\n{}", svc(ports80)), Warn(1, 1, "apps/v1 Service is not something kube-proxy reads")),
        case(UnknownKind, "EndpointSlice without its group", format!("{}---\napiVersion: v1\nkind: EndpointSlice\nmetadata: {{name: e}}\n", svc(ports80)), Warn(7, 1, "v1 EndpointSlice is not something kube-proxy reads")),
        case(UnknownKind, "only unknown kinds", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n", Warn(1, 1, "example.com/v1 Widget is not something kube-proxy reads")),
        case(UnknownKind, "empty kind", "apiVersion: v1\nkind: \"\"\nmetadata: {name: web}\n", Err(1, 1, "no `kind`")),
        case(UnknownKind, "unknown kind inside a List", format!("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {{name: s}}\n---\n{}", svc(ports80)), Warn(4, 3, "v1 Secret is not something kube-proxy reads")),
        case(UnknownKind, "List items as a mapping", "apiVersion: v1\nkind: List\nitems: {a: 1}\n", Err(3, 8, "`items` of a List must be a list")),

        // --- Missing required fields: kube-apiserver's words, at the parent to add them to.
        case(Missing, "no kind", "apiVersion: v1\nmetadata: {name: web}\n", Err(1, 1, "this document has no `kind`")),
        case(Missing, "Service without a name", "apiVersion: v1\nkind: Service\nmetadata: {namespace: x}\nspec: {ports: [{port: 80}]}\n", Err(3, 11, "metadata.name: Required value")),
        case(Missing, "Service without metadata", "apiVersion: v1\nkind: Service\nspec: {ports: [{port: 80}]}\n", Err(1, 1, "Service: metadata.name: Required value")),
        case(Missing, "Service without spec", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n", Err(1, 1, "Service default/web: spec: Required value")),
        case(Missing, "Service without ports", svc("  selector: {app: web}\n"), Err(5, 3, "spec.ports: Required value")),
        // Go's JSON decoding (and k8s-openapi's) reads a missing port as 0: kube-apiserver's
        // message, kept a warning because kube-proxy programs port 0.
        case(Missing, "port entry without port", svc("  ports:\n  - name: http\n"), Warn(6, 5, "spec.ports[0].port: Invalid value: 0")),
        case(Missing, "slice without addressType", "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e, labels: {kubernetes.io/service-name: web}}\nendpoints: []\n", Warn(1, 1, "addressType is not set; kube-proxy ignores this EndpointSlice")),
        case(Missing, "endpoint without addresses", web_and(&slice("IPv4", "- conditions: {ready: true}\n")), Ok),

        // --- Duplicates.
        case(Duplicate, "same Service twice", format!("{}---\n{}", svc(ports80), svc(ports80)), Err(7, 1, "Service default/web is defined twice")),
        // One copy in a `kubectl get -o yaml` List, one pasted beside it.
        case(Duplicate, "same Service in a List and alone", format!("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {{name: web}}\n  spec: {{ports: [{{port: 80}}]}}\n---\n{}", svc(ports80)), Err(9, 1, "Service default/web is defined twice")),
        case(Duplicate, "two KubeProxyConfigurations", format!("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ipvs\n---\n{}", proxy_config("mode: nftables\n")), Warn(5, 1, "a second KubeProxyConfiguration document; the first one is used")),
        case(Duplicate, "two NodeEnvironments", format!("apiVersion: kpx/v1alpha1\nkind: NodeEnvironment\nnodeName: a\n---\n{}", node_env("nodeName: b\n")), Warn(5, 1, "a second NodeEnvironment document")),
        case(Duplicate, "same Pod twice", format!("{BASE}---\napiVersion: v1\nkind: Pod\nmetadata: {{name: client}}\nspec: {{nodeName: node-1, containers: [{{name: c}}]}}\n"), Err(21, 1, "Pod default/client is defined twice")),
        case(Duplicate, "same EndpointSlice twice", format!("{}---\n{}", web_and(&slice("IPv4", &endpoints(2))), slice("IPv4", &endpoints(3))), Err(18, 1, "EndpointSlice default/web-1 is defined twice")),
        case(Duplicate, "same Node twice", format!("apiVersion: v1\nkind: Node\nmetadata: {{name: n}}\n---\napiVersion: v1\nkind: Node\nmetadata: {{name: n}}\n---\n{}", svc(ports80)), Err(5, 1, "Node n is defined twice")),
        case(Duplicate, "same port twice", svc("  ports: [{port: 80}, {port: 80}]\n"), Warn(5, 23, "spec.ports[1].name: each port of a multi-port Service needs its own name")),

        // --- Invalid addresses, ports and protocols.
        case(BadValue, "port 0", svc("  ports: [{port: 0}]\n"), Warn(5, 18, "kube-proxy programs port 0")),
        case(BadValue, "port 65536", svc("  ports: [{port: 65536}]\n"), Err(5, 18, "spec.ports[0].port: Invalid value: 65536: must be between 1 and 65535, inclusive")),
        case(BadValue, "targetPort 70000", svc("  ports: [{port: 80, targetPort: 70000}]\n"), Err(5, 34, "targetPort: Invalid value: 70000")),
        case(BadValue, "targetPort name too long", svc("  ports: [{port: 80, targetPort: averyveryverylongname}]\n"), Err(5, 34, "must be a port number or an IANA service name")),
        case(BadValue, "nodePort 70000", svc("  type: NodePort\n  ports: [{port: 80, nodePort: 70000}]\n"), Err(6, 32, "nodePort: Invalid value: 70000")),
        case(BadValue, "protocol ICMP", svc("  ports: [{port: 80, protocol: ICMP}]\n"), Err(5, 32, "Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"")),
        case(BadValue, "protocol in lower case", svc("  ports: [{port: 80, protocol: tcp}]\n"), Err(5, 32, "Unsupported value: \"tcp\"")),
        case(BadValue, "clusterIP octet 300", svc("  clusterIP: 10.96.0.300\n  ports: [{port: 80}]\n"), Err(5, 14, "spec.clusterIP: Invalid value: \"10.96.0.300\"")),
        case(BadValue, "clusterIP bad IPv6", svc("  clusterIP: \"fd00::zz\"\n  ports: [{port: 80}]\n"), Err(5, 14, "spec.clusterIP: Invalid value: \"fd00::zz\"")),
        case(BadValue, "externalIP with three octets", svc("  externalIPs: [1.2.3]\n  ports: [{port: 80}]\n"), Err(5, 17, "spec.externalIPs[0]: Invalid value: \"1.2.3\"")),
        case(BadValue, "source range /33", svc("  type: LoadBalancer\n  loadBalancerSourceRanges: [10.0.0.0/33]\n  ports: [{port: 80}]\n"), Err(6, 30, "loadBalancerSourceRanges[0]: Invalid value: \"10.0.0.0/33\"")),
        case(BadValue, "load balancer ingress IP", svc("  type: LoadBalancer\n  ports: [{port: 80}]\nstatus: {loadBalancer: {ingress: [{ip: 1.2.3.999}]}}\n"), Err(7, 40, "status.loadBalancer.ingress[0].ip: Invalid value: \"1.2.3.999\"")),
        case(BadValue, "Service type Ingress", svc("  type: Ingress\n  ports: [{port: 80}]\n"), Err(5, 9, "spec.type: Unsupported value: \"Ingress\"")),
        case(BadValue, "slice address 999.1.1.1", web_and(&slice("IPv4", "- addresses: [999.1.1.1]\n")), Err(15, 15, "endpoints[0].addresses[0]: Invalid value: \"999.1.1.1\": must be a valid IPv4 address")),
        case(BadValue, "slice port 70000", web_and("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-1, labels: {kubernetes.io/service-name: web}}\naddressType: IPv4\nports: [{name: http, port: 70000}]\nendpoints: []\n"), Err(13, 28, "ports[0].port: Invalid value: 70000")),
        case(BadValue, "slice addressType IPv5", web_and(&slice("IPv5", "")), Err(12, 14, "addressType: Unsupported value: \"IPv5\"")),
        case(BadValue, "serviceCIDRs /40", node_env("serviceCIDRs: 10.96.0.0/40\n"), Err(3, 15, "is not a valid CIDR")),
        case(BadValue, "nodeIP 300.1.1.1", node_env("nodeIP: 300.1.1.1\n"), Err(3, 9, "nodeIP \"300.1.1.1\" is not an IP address")),
        case(BadValue, "clusterCIDR garbage", proxy_config("clusterCIDR: banana\n"), Err(3, 14, "is not a valid CIDR")),
        case(BadValue, "masqueradeBit 32", proxy_config("iptables: {masqueradeBit: 32}\n"), Err(3, 27, "masqueradeBit 32 must be between 0 and 31")),
        case(BadValue, "mode userspace", proxy_config("mode: userspace\n"), Err(3, 7, "mode \"userspace\" is not one of iptables, ipvs, nftables")),
        case(BadValue, "kubeProxyVersion banana", node_env("kubeProxyVersion: banana\n"), Err(3, 19, "kubeProxyVersion \"banana\" is not a version")),

        // --- Selectors and names that match nothing: rendered, with the reason reported.
        case(Selector, "selector matches no Pod", svc("  selector: {app: nothing}\n  ports: [{port: 80}]\n"), Note("Service default/web: no Pod matches its selector app=nothing: it has no endpoints")),
        case(Selector, "slice for an unknown Service", format!("{}---\n{}", svc(ports80), slice("IPv4", &endpoints(2)).replace("service-name: web", "service-name: ghost")), Ok),
        case(Selector, "slice without a service-name label", format!("{}---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: e}}\naddressType: IPv4\nendpoints: []\n", svc(ports80)), Ok),
        case(Selector, "Endpoints for an unknown Service", format!("{}---\n{}", svc(ports80), legacy_endpoints(3).replace("name: web", "name: ghost")), Ok),
        case(Selector, "named targetPort no Pod has", BASE.replace("targetPort: 8080", "targetPort: metrics"), Warn(9, 1, "Pod default/web-1 has no container port named \"metrics\": it serves no traffic for port 80 of Service default/web")).walk("default/client", "default/web:80"),
        case(Selector, "empty selector", svc("  selector: {}\n  ports: [{port: 80}]\n"), Ok),

        // --- Alias bombs: saphyr expands aliases under a node budget.
        case(AliasBomb, "billion laughs", billion_laughs(9), Err(9, 32, "would expand the text by more than 4 MiB (a \"billion laughs\"?)")),
        case(AliasBomb, "billion laughs, inside a Service", billion_laughs(9).replace("kind: ConfigMap", "kind: Service"), Err(9, 32, "billion laughs")),
        // saphyr's own budget counts nodes, not bytes: one long string aliased many times.
        case(AliasBomb, "long string aliased 10,000 times", string_alias_bomb(MIB, 10_000), Err(6, 19, "billion laughs")),
        case(AliasBomb, "alias of an undefined anchor", svc("  ports: *nope\n"), Err(5, 10, "refers to no anchor (&name) completed before it in this document")),
        // Anchors belong to their document (kpx reads the parser's events itself and keeps that).
        case(AliasBomb, "alias of another document's anchor", format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a, labels: &l {{app: web}}}}\n---\n{}", svc("  selector: *l\n  ports: [{port: 80}]\n")), Err(9, 13, "refers to no anchor (&name) completed before it in this document")),
        // An anchor cannot contain an alias of itself: it is not defined until it ends.
        case(AliasBomb, "self-referencing anchor", svc("  ports: &p [*p]\n"), Err(5, 14, "refers to no anchor (&name) completed before it")),
        // A benign alias (labels reused as the selector) is ordinary YAML and works.
        case(AliasBomb, "benign alias", "apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: &l {app: web}}\nspec:\n  selector: *l\n  ports: [{port: 80}]\n", Ok),

        // --- Deep nesting: bounded depth, never a stack overflow.
        case(DeepNesting, "10,000 nested [", nested_flow('[', ']', 10_000), Err(4, 262, "nested more than 100 levels deep")),
        case(DeepNesting, "10,000 nested {", nested_flow('{', '}', 10_000), Err(4, 403, "nested more than 100 levels deep")),
        case(DeepNesting, "10,000 unclosed [", "kind: Service\nspec: ".to_string() + &"[".repeat(10_000), Err(2, 262, "nested more than 100 levels deep")),
        case(DeepNesting, "10,000 nested block lists", nested_block_seqs(10_000), Err(6, 199, "nested more than 100 levels deep")),
        case(DeepNesting, "2,000 nested block mappings", nested_block_maps(2_000), Err(104, 101, "nested more than 100 levels deep")),
        case(DeepNesting, "95 nested [ (within the bound)", nested_flow('[', ']', 95), Warn(1, 1, "v1 ConfigMap is not something kube-proxy reads")),

        // --- Megabyte strings.
        case(Huge, "1 MiB Service name", format!("apiVersion: v1\nkind: Service\nmetadata: {{name: {}}}\nspec: {{ports: [{{port: 80}}]}}\n", "a".repeat(MIB)), Ok),
        case(Huge, "1 MiB comment", format!("# {}\n{}", "x".repeat(MIB), svc(ports80)), Ok),
        case(Huge, "1 MiB annotation", format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations: {{note: \"{}\"}}\nspec: {{ports: [{{port: 80}}]}}\n", "y".repeat(MIB)), Ok),
        case(Huge, "1 MiB unclosed quote", format!("apiVersion: v1\nkind: Service\nmetadata: {{name: \"{}", "z".repeat(MIB)), Err(3, 18, "invalid YAML")),
        // A megabyte of digits is a YAML float, infinite: refused, not read as null.
        case(Huge, "1 MiB of digits as clusterIP", svc(&format!("  clusterIP: {}\n  ports: [{{port: 80}}]\n", "9".repeat(MIB))), Err(5, 14, "this number cannot be read")),
        case(Huge, "1 MiB bad clusterIP", svc(&format!("  clusterIP: 10.0.0.{}\n  ports: [{{port: 80}}]\n", "9".repeat(MIB))), Err(5, 14, "spec.clusterIP: Invalid value: \"10.0.0.999")),
        case(Huge, "10,000 empty documents", "---\n".repeat(10_000) + &svc(ports80), Ok),
        case(Huge, "1,000 NodePort Services", many_services(1_000), Ok),
        case(Huge, "5,000 ports on one Service", many_ports(5_000), Ok),

        // --- 100,000 endpoints.
        // Every view renders (a quadratic step in `iptables -L` or `nft-load` used to take minutes).
        case(ManyEndpoints, "100,000 endpoints in one slice", web_and(&slice("IPv4", &endpoints(100_000))), Ok),
        // Each address told about at its own line and column (a long list's items are found
        // through an index of where each starts, not by skipping those before it).
        case(ManyEndpoints, "100,000 endpoints in one slice, every address wrong", web_and(&slice("IPv4", &endpoints(100_000).replace("[10.", "[x10."))), Err(15, 15, "must be a valid IPv4 address")),
        // Walks go rule by rule (100 connections through 100,000 rules take over a minute in a
        // debug build), so the walked slice is smaller.
        case(ManyEndpoints, "5,000 endpoints, walked", web_and(&slice("IPv4", &endpoints(5_000))), Ok).walk("203.0.113.9", "default/web:80"),
        case(ManyEndpoints, "100,000 legacy Endpoints addresses", web_and(&legacy_endpoints(100_000)), Ok),

        // --- IP families.
        case(IpFamily, "IPv6 endpoint in an IPv4 slice", web_and(&slice("IPv4", "- addresses: [\"fd00::5\"]\n")), Warn(15, 15, "\"fd00::5\" is not an IPv4 address; kube-proxy ignores it")),
        case(IpFamily, "IPv6 slice for an IPv4 Service", web_and(&slice("IPv6", "- addresses: [\"fd00::5\"]\n  conditions: {ready: true}\n")), Ok),
        case(IpFamily, "dual-stack Service", svc("  ipFamilyPolicy: RequireDualStack\n  ipFamilies: [IPv4, IPv6]\n  clusterIPs: [10.96.0.10, \"fd00:10:96::10\"]\n  clusterIP: 10.96.0.10\n  ports: [{port: 80}]\n"), Ok),
        case(IpFamily, "IPv6 Service on an IPv4 node", svc("  clusterIP: \"fd00:10:96::10\"\n  ports: [{port: 80}]\n"), Ok),
        case(IpFamily, "IPv6 node with an IPv4 Service", node_env("ipFamily: IPv6\n"), Ok),
        case(IpFamily, "IPv4-mapped IPv6 endpoint", web_and(&slice("IPv6", "- addresses: [\"::ffff:10.0.0.1\"]\n  conditions: {ready: true}\n")), Ok),
        case(IpFamily, "clusterIPs disagree with clusterIP", svc("  clusterIP: 10.96.0.10\n  clusterIPs: [10.96.0.11]\n  ports: [{port: 80}]\n"), Ok),

        // --- Contradictory settings kube-proxy would still program: rendered, never refused.
        case(Contradiction, "ipvs mode with nftables settings", proxy_config("mode: ipvs\nnftables: {masqueradeAll: true}\n"), Ok),
        case(Contradiction, "iptables mode with ipvs settings", proxy_config("mode: iptables\nipvs: {strictARP: true, scheduler: mh}\n"), Ok),
        case(Contradiction, "clusterIP None with a nodePort", svc("  type: NodePort\n  clusterIP: None\n  ports: [{port: 80, nodePort: 30080}]\n"), Ok),
        case(Contradiction, "externalTrafficPolicy Local on ClusterIP", BASE.replace("  clusterIP: 10.96.0.10\n", "  clusterIP: 10.96.0.10\n  externalTrafficPolicy: Local\n"), Ok).walk("default/client", "default/web:80"),
        case(Contradiction, "ExternalName with ports and a clusterIP", svc("  type: ExternalName\n  externalName: example.com\n  clusterIP: 10.96.0.10\n  ports: [{port: 80}]\n"), Ok),
        case(Contradiction, "sessionAffinity None with a timeout", svc("  sessionAffinity: None\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}\n  ports: [{port: 80}]\n"), Ok),
        case(Contradiction, "internalTrafficPolicy Local, no local endpoint", BASE.replace("nodeName: node-1, containers: [{name: c}]}\nstatus: {podIP: 10.244.0.5", "nodeName: node-2, containers: [{name: c}]}\nstatus: {podIP: 10.244.1.5").replace("  clusterIP: 10.96.0.10\n", "  clusterIP: 10.96.0.10\n  internalTrafficPolicy: Local\n"), Ok).walk("default/client", "default/web:80"),
        case(Contradiction, "unknown ipvs scheduler", proxy_config("mode: ipvs\nipvs: {scheduler: bogus}\n"), Ok),

        // --- Odd texts.
        case(OddText, "empty input", "", Ok),
        case(OddText, "only comments", "# a\n# b\n", Ok),
        case(OddText, "only ---", "---\n---\n---\n", Ok),
        case(OddText, "only whitespace and newlines", "   \n\n \n", Ok),
        case(OddText, "a bare scalar", "hello\n", Err(1, 1, "must be a Kubernetes object")),
        case(OddText, "NUL byte in a value", "apiVersion: v1\nkind: Service\nmetadata: {name: we\0b}\n", Err(3, 20, "invalid YAML")),
        // saphyr reads C0 controls as a plain scalar; the document is then no object.
        case(OddText, "control characters", "\u{1}\u{2}\u{3}\n", Err(1, 1, "must be a Kubernetes object")),
        // Invalid UTF-8 reaches kpx as U+FFFD once a front end has decoded it.
        case(OddText, "replacement characters", String::from_utf8_lossy(b"apiVersion: v1\nkind: Service\nmetadata: {name: w\xff\xfeb}\nspec: {ports: [{port: 80}]}\n").into_owned(), Ok),
        case(OddText, "lone surrogate escape", "apiVersion: v1\nkind: Service\nmetadata: {name: \"\\uD800\"}\n", Err(3, 18, "invalid YAML")),
        case(OddText, "CRLF line endings", BASE.replace('\n', "\r\n"), Ok).walk("default/client", "default/web:80"),
        // The same error with CRLF must be at the same line and column as with LF.
        case(OddText, "CRLF error position", svc("  ports:\n  - name: http\n    port: 70000\n").replace('\n', "\r\n"), Err(7, 11, "must be between 1 and 65535")),
        case(OddText, "old Mac CR line endings", svc(ports80).replace('\n', "\r"), Ok),
        // Windows editors start files with a byte-order mark; it is not a column.
        case(OddText, "BOM", format!("\u{feff}{BASE}"), Ok),
        case(OddText, "BOM and an error on line 1", "\u{feff}kind: [Service]\n", Err(1, 7, "`kind` must be a string")),
        case(OddText, "zero-width space in a key", "apiVersion: v1\nkind\u{200b}: Service\nmetadata: {name: web}\n", Err(1, 1, "no `kind`")),

        // --- Shared links: never trusted, every failure says why.
        case(SharedLink, "empty link", "", Link("does not hold a kpx state")),
        case(SharedLink, "empty payload", "k1.", Link("damaged")),
        case(SharedLink, "truncated link", { let l = link_of(BASE); l[..l.len() * 2 / 3].to_string() }, Link("cut short")),
        case(SharedLink, "tampered character", { let mut l = link_of(BASE).into_bytes(); let i = l.len() / 2; l[i] = if l[i] == b'A' { b'B' } else { b'A' }; String::from_utf8(l).unwrap() }, Link("this link's state is not valid")),
        case(SharedLink, "future version", "k2.AAAA", Link("made by a newer kpx (format 2)")),
        case(SharedLink, "version 0", "k0.AAAA", Link("format version 0 does not exist")),
        case(SharedLink, "version not a number", "kx.AAAA", Link("format version \"x\" is not a number")),
        case(SharedLink, "version overflows", "k99999999999999999999.AAAA", Link("is not a number")),
        case(SharedLink, "standard base64 alphabet", "k1.ab+/cd==", Link("not base64url")),
        case(SharedLink, "too long", format!("k1.{}", "A".repeat(share::MAX_LINK)), Link("too long")),
        case(SharedLink, "state is not an object", link_with_json(b"[1,2]"), Link("not valid")),
        case(SharedLink, "unknown field in the state", link_with_json(br#"{"text":"","evil":1}"#), Link("unknown field `evil`")),
        case(SharedLink, "state without text", link_with_json(br#"{"mode":"ipvs"}"#), Link("missing field `text`")),
        case(SharedLink, "state that inflates past the bound", link_with_json(&vec![b' '; share::MAX_STATE + 1]), Link("larger than")),
    ]
}

// ---------------------------------------------------------------------------------------------
// The runner

/// What a case did, as plain data (an `Analysis` is not `Send`).
#[derive(Debug)]
enum Observed {
    Rejected {
        line: usize,
        col: usize,
        message: String,
    },
    Accepted {
        warnings: Vec<(usize, usize, String)>,
        notes: Vec<String>,
        /// Views that did not render, walks that failed.
        problems: Vec<String>,
    },
    LinkRejected(String),
    LinkAccepted,
}

fn observe(input: &str, expect: &Expect, walk: Option<(&str, &str)>) -> Observed {
    if matches!(expect, Link(_)) {
        return match share::decode(input) {
            Result::Err(e) => Observed::LinkRejected(e),
            Result::Ok(_) => Observed::LinkAccepted,
        };
    }
    let a = match analyze(input) {
        Result::Err(e) => {
            // However long the value it quotes, a message stays readable.
            for d in &e.diagnostics {
                assert!(
                    d.message.len() <= kpx_core::diag::MAX_MESSAGE + 64,
                    "a {}-byte message",
                    d.message.len()
                );
            }
            let d = &e.diagnostics[0];
            return Observed::Rejected {
                line: d.pos.line,
                col: d.pos.col,
                message: d.message.clone(),
            };
        }
        Result::Ok(a) => a,
    };
    let mut problems = Vec::new();
    // Every view of every mode; the kubectl views are the same in each mode, so once.
    let mut rendered = BTreeSet::new();
    for mode in MODES {
        for v in views(mode) {
            let key = if v.name.starts_with("get-") {
                v.name.to_string()
            } else {
                format!("{}/{}", mode.as_str(), v.name)
            };
            if !rendered.insert(key.clone()) {
                continue;
            }
            let req = Request {
                mode: Some(mode),
                view: Some(v.name.to_string()),
                all_namespaces: true,
                ..Default::default()
            };
            if let Result::Err(e) = a.render(&req) {
                problems.push(format!("{key}: {e}"));
            }
        }
    }
    if let Some((from, to)) = walk {
        for mode in MODES {
            let req = session::Request {
                from: from.into(),
                to: to.into(),
                mode: Some(mode),
                seed: 7,
                ..Default::default()
            };
            match trace(input, &req, 2) {
                Result::Ok(t) if t.len() == 2 => {}
                Result::Ok(t) => problems.push(format!("trace {mode:?}: {} packets", t.len())),
                Result::Err(e) => problems.push(format!("trace {mode:?}: {e}")),
            }
            match simulate(input, &req, 100, 1) {
                Result::Ok(s) if s.connections == 100 => {}
                Result::Ok(s) => {
                    problems.push(format!("simulate {mode:?}: {} connections", s.connections))
                }
                Result::Err(e) => problems.push(format!("simulate {mode:?}: {e}")),
            }
        }
    }
    Observed::Accepted {
        warnings: a
            .cluster
            .warnings
            .iter()
            .map(|w| (w.pos.line, w.pos.col, w.message.clone()))
            .collect(),
        notes: a.cluster.notes.iter().map(|n| n.message.clone()).collect(),
        problems,
    }
}

/// Why `seen` does not meet `expect`, if it does not.
fn mismatch(expect: &Expect, seen: &Observed) -> Option<String> {
    let ok = match (expect, seen) {
        (
            Err(line, col, msg),
            Observed::Rejected {
                line: l,
                col: c,
                message,
            },
        ) => (line, col) == (l, c) && message.contains(msg) && !message.trim().is_empty(),
        (Ok, Observed::Accepted { problems, .. }) => problems.is_empty(),
        (
            Warn(line, col, msg),
            Observed::Accepted {
                problems, warnings, ..
            },
        ) => {
            problems.is_empty()
                && warnings
                    .iter()
                    .any(|(l, c, m)| (l, c) == (line, col) && m.contains(msg))
        }
        (
            Note(msg),
            Observed::Accepted {
                problems, notes, ..
            },
        ) => problems.is_empty() && notes.iter().any(|n| n.contains(msg)),
        (Link(msg), Observed::LinkRejected(e)) => e.contains(msg),
        _ => false,
    };
    (!ok).then(|| {
        format!(
            "expected {expect:?}\n     saw {}",
            shorten(&format!("{seen:?}"))
        )
    })
}

/// Long messages (a megabyte name quoted back) shortened for the failure report.
fn shorten(s: &str) -> String {
    if s.chars().count() <= 600 {
        return s.to_string();
    }
    let head: String = s.chars().take(300).collect();
    let tail: String = s
        .chars()
        .rev()
        .take(300)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{head} [… {} chars …] {tail}", s.chars().count() - 600)
}

#[test]
fn hostile_inputs_are_refused_clearly_or_rendered() {
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut per_cat: BTreeMap<Cat, usize> = BTreeMap::new();
    let mut names = BTreeSet::new();
    let all = cases();
    let total = all.len();
    for c in all {
        assert!(names.insert(c.name), "two cases are named {:?}", c.name);
        *per_cat.entry(c.cat).or_default() += 1;
        let (tx, rx) = mpsc::channel();
        let name = c.name;
        let t0 = Instant::now();
        let expect = c.expect;
        let handle = std::thread::Builder::new()
            .name(name.to_string())
            .stack_size(STACK)
            .spawn(move || {
                let seen = catch_unwind(AssertUnwindSafe(|| observe(&c.input, &expect, c.walk)));
                let _ = tx.send((seen, expect));
            })
            .unwrap();
        match rx.recv_timeout(LIMIT) {
            Result::Err(_) => {
                failures.push(format!("{name}: no result within {LIMIT:?} (hang?)"));
                continue; // the thread is left running; the test fails anyway
            }
            Result::Ok((seen, expect)) => {
                let elapsed = t0.elapsed();
                let _ = handle.join();
                match seen {
                    Result::Err(panic) => {
                        let why = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        failures.push(format!("{name}: PANICKED: {why}"));
                    }
                    Result::Ok(seen) => {
                        // To review every message and position: KPX_HOSTILE_SHOW=1.
                        if std::env::var_os("KPX_HOSTILE_SHOW").is_some() {
                            eprintln!("{name} ({elapsed:?}): {}", shorten(&format!("{seen:?}")));
                        }
                        if let Some(why) = mismatch(&expect, &seen) {
                            failures.push(format!("{name}: {why}"));
                        }
                    }
                }
                if elapsed > LIMIT {
                    failures.push(format!("{name}: took {elapsed:?} (limit {LIMIT:?})"));
                }
                if elapsed > Duration::from_secs(2) {
                    eprintln!("slow case {name}: {elapsed:?}");
                }
            }
        }
    }
    eprintln!("hostile inputs: {total} cases in {:?}", started.elapsed());
    for (cat, n) in &per_cat {
        eprintln!("  {cat:?}: {n}");
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total >= 70, "only {total} cases");
}
