//! Targeted cases of kube-proxy behaviour, one per rule of the spec that the fixtures and
//! presets do not already pin down.

mod common;

use common::render;
use kpx_core::views::analyze;

const CFG: &str = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nhostnameOverride: me\nclusterCIDR: 10.244.0.0/16\n";

fn with(extra_cfg: &str, env: &str, rest: &str) -> String {
    format!("{CFG}{extra_cfg}---\napiVersion: kpx/v1alpha1\nkind: NodeEnvironment\nnfacctCounters: {{}}\n{env}---\n{rest}")
}

/// Reads `text` as the page reads an edit: after the text before (`sections`, as that reading
/// kept them), sharing the objects of the sections the edit left; or anew.
fn read_as_the_page(
    text: &str,
    sections: Option<kpx_core::input::Sections>,
) -> (kpx_core::input::Scenario, kpx_core::input::Sections) {
    let mut reading = match sections {
        Some(s) => kpx_core::input::Reading::after(text.into(), s),
        None => kpx_core::input::Reading::new(std::rc::Rc::<str>::from(text)),
    };
    while !reading.step(usize::MAX) {}
    let (read, sections) = reading.finish_keeping();
    (read.unwrap(), sections)
}

fn svc(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: ns}}\nspec:\n{spec}"
    )
}

fn slice(svc: &str, port_name: &str, endpoints: &[&str]) -> String {
    let mut s = format!(
        "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: {svc}-1, namespace: ns, labels: {{kubernetes.io/service-name: {svc}}}}}\naddressType: IPv4\nports: [{{name: \"{port_name}\", port: 8080}}]\nendpoints:\n"
    );
    for e in endpoints {
        s.push_str(&format!("- {e}\n"));
    }
    s
}

fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}

#[test]
fn headless_and_external_name_services_get_no_rules() {
    let text = with(
        "",
        "",
        &(svc("h", "  clusterIP: None\n  ports: [{port: 80}]\n")
            + "---\n"
            + &svc("x", "  type: ExternalName\n  externalName: example.com\n")),
    );
    let out = render(&text, "restore");
    assert!(!out.contains("ns/h") && !out.contains("ns/x"), "{out}");
}

#[test]
fn services_for_another_proxy_are_skipped() {
    let text = with(
        "",
        "",
        &(svc("other", "  clusterIP: 10.96.0.9\n  ports: [{port: 80}]\n").replace(
            "namespace: ns}",
            "namespace: ns, labels: {service.kubernetes.io/service-proxy-name: cilium}}",
        )),
    );
    let a = analyze(&text).unwrap();
    assert!(!render(&text, "restore").contains("ns/other"));
    assert!(a
        .cluster
        .notes
        .iter()
        .any(|n| n.message.contains("another proxy handles it")));
}

#[test]
fn a_configuration_without_cluster_cidr_has_no_local_detector() {
    let text = format!(
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\n---\n{}{}",
        svc("web", "  clusterIP: 10.96.0.9\n  ports: [{name: http, port: 80}]\n"),
        slice("web", "http", &["{addresses: [10.244.0.5]}"])
    );
    let out = render(&text, "restore");
    let svc_rules = lines_with(&out, "-A KUBE-SVC-");
    assert_eq!(
        svc_rules.len(),
        1,
        "only the jump to the endpoint, no masquerade rule:\n{out}"
    );
}

#[test]
fn masquerade_all_marks_every_cluster_ip_packet() {
    let text = with(
        "iptables: {masqueradeAll: true}\n",
        "",
        &(svc(
            "web",
            "  clusterIP: 10.96.0.9\n  ports: [{name: http, port: 80}]\n",
        ) + &slice("web", "http", &["{addresses: [10.244.0.5]}"])),
    );
    let out = render(&text, "restore");
    let masq = lines_with(
        &out,
        "cluster IP\" -m tcp -p tcp -d 10.96.0.9 --dport 80 -j KUBE-MARK-MASQ",
    );
    assert_eq!(masq.len(), 1, "{out}");
}

#[test]
fn local_detector_by_interface() {
    for (cfg, not_local) in [
        (
            "detectLocalMode: BridgeInterface\ndetectLocal: {bridgeInterface: cni0}\n",
            "! -i cni0 -j KUBE-MARK-MASQ",
        ),
        (
            "detectLocalMode: InterfaceNamePrefix\ndetectLocal: {interfaceNamePrefix: veth}\n",
            "! -i veth+ -j KUBE-MARK-MASQ",
        ),
    ] {
        let text = with(
            cfg,
            "",
            &(svc(
                "web",
                "  clusterIP: 10.96.0.9\n  ports: [{name: http, port: 80}]\n",
            ) + &slice("web", "http", &["{addresses: [10.244.0.5]}"])),
        );
        let out = render(&text, "restore");
        assert!(out.contains(not_local), "{cfg}\n{out}");
    }
}

#[test]
fn serving_terminating_endpoints_are_used_when_none_is_ready() {
    let text = with("", "", &(svc("web", "  clusterIP: 10.96.0.9\n  ports: [{name: http, port: 80}]\n") + &slice("web", "http", &[
        "{addresses: [10.244.0.5], conditions: {ready: false, serving: true, terminating: true}}",
        "{addresses: [10.244.0.6], conditions: {ready: false, serving: false, terminating: true}}",
    ])));
    let out = render(&text, "restore");
    assert!(
        out.contains("--to-destination 10.244.0.5:8080") && !out.contains("10.244.0.6"),
        "{out}"
    );
}

/// A Service `ns/big` (10.96.0.9, port `http` 80 → 8080) over 1,001 endpoints from
/// 10.244.0.2 on: alone, more than kube-proxy's large cluster's 1,000.
fn service_over_1001_endpoints() -> String {
    let eps: Vec<String> = (0..1001)
        .map(|i| format!("{{addresses: [10.244.{}.{}]}}", i / 200, i % 200 + 2))
        .collect();
    let refs: Vec<&str> = eps.iter().map(String::as_str).collect();
    svc(
        "big",
        "  clusterIP: 10.96.0.9\n  ports: [{name: http, port: 80}]\n",
    ) + &slice("big", "http", &refs)
}

#[test]
fn large_clusters_drop_endpoint_comments() {
    let out = render(&with("", "", &service_over_1001_endpoints()), "restore");
    assert!(
        out.contains("-A KUBE-SERVICES -m comment --comment \"ns/big:http cluster IP\""),
        "service rules keep their comments"
    );
    let sep = lines_with(&out, "-j DNAT --to-destination 10.244.0.2:8080");
    assert_eq!(sep.len(), 1);
    assert!(!sep[0].contains("--comment"), "{}", sep[0]);
    assert!(lines_with(&out, "-m statistic")
        .iter()
        .all(|l| !l.contains("--comment")));
}

/// A large cluster's rules without comments are written whole, whichever protocol: each
/// endpoint's DNAT with its protocol alone, the cascade's jumps with their odds alone and its
/// last jump with no match. (The builder makes each such list once and shares it.)
#[test]
fn large_clusters_write_their_uncommented_rules_whole() {
    let dns = svc(
        "dns",
        "  clusterIP: 10.96.0.10\n  ports: [{name: dns, port: 53, protocol: UDP}]\n",
    ) + "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: dns-1, namespace: ns, labels: {kubernetes.io/service-name: dns}}\naddressType: IPv4\nports: [{name: dns, port: 53, protocol: UDP}]\nendpoints:\n- {addresses: [10.245.0.2]}\n- {addresses: [10.245.0.3]}\n---\n";
    let out = render(
        &with("", "", &(dns + &service_over_1001_endpoints())),
        "restore",
    );
    // `-A KUBE-SEP-… rest` or `-A KUBE-SVC-… rest`: the chain's kind and what follows it.
    let after_chain = |line: &str| -> Option<(String, String)> {
        let rest = line.strip_prefix("-A KUBE-")?;
        let (kind, rest) = rest.split_once('-')?;
        let (hash, rest) = rest.split_once(' ')?;
        (hash.len() == 16).then(|| (kind.to_string(), rest.to_string()))
    };
    let dnat = |to: &str| -> Vec<(String, String)> {
        lines_with(&out, &format!("--to-destination {to}"))
            .into_iter()
            .filter_map(after_chain)
            .collect()
    };
    let sep = |rest: &str| vec![("SEP".to_string(), rest.to_string())];
    assert_eq!(
        dnat("10.244.0.2:8080"),
        sep("-m tcp -p tcp -j DNAT --to-destination 10.244.0.2:8080")
    );
    assert_eq!(
        dnat("10.245.0.2:53"),
        sep("-m udp -p udp -j DNAT --to-destination 10.245.0.2:53")
    );
    // Each Service's cascade, in order: the rules of its KUBE-SVC chain that jump to an
    // endpoint, without the jump's chain name.
    let cascade = |cluster_ip: &str| -> Vec<String> {
        let svc_chain = lines_with(&out, &format!("-d {cluster_ip} "))
            .into_iter()
            .find_map(|l| {
                l.split(" -j ")
                    .nth(1)
                    .filter(|t| t.starts_with("KUBE-SVC-"))
            })
            .unwrap_or_else(|| panic!("the cluster IP rule of {cluster_ip}:\n{out}"))
            .to_string();
        lines_with(&out, &format!("-A {svc_chain} "))
            .into_iter()
            .filter(|l| l.contains("-j KUBE-SEP-"))
            .map(|l| {
                let rest = &l[format!("-A {svc_chain} ").len()..];
                rest[..rest.rfind("-j KUBE-SEP-").unwrap()].to_string()
            })
            .collect()
    };
    assert_eq!(
        cascade("10.96.0.10"),
        ["-m statistic --mode random --probability 0.5000000000 ", ""]
    );
    let big = cascade("10.96.0.9");
    assert_eq!(big.len(), 1001);
    assert_eq!(
        big[0],
        "-m statistic --mode random --probability 0.0009990010 "
    );
    assert_eq!(
        big[999],
        "-m statistic --mode random --probability 0.5000000000 "
    );
    assert_eq!(big[1000], "");
}

#[test]
fn ip_mode_proxy_follows_the_release() {
    let spec = "  type: LoadBalancer\n  clusterIP: 10.96.0.9\n  ports: [{name: http, port: 80, nodePort: 30080}]\nstatus:\n  loadBalancer:\n    ingress: [{ip: 203.0.113.9, ipMode: Proxy}]\n";
    let rest = svc("lb", spec) + &slice("lb", "http", &["{addresses: [10.244.0.5]}"]);
    let new = render(&with("", "kubeProxyVersion: \"1.35\"\n", &rest), "restore");
    assert!(
        !new.contains("203.0.113.9"),
        "LoadBalancerIPMode is on from 1.30:\n{new}"
    );
    let old = render(&with("", "kubeProxyVersion: \"1.29\"\n", &rest), "restore");
    assert!(
        old.contains("-d 203.0.113.9 --dport 80 -j KUBE-EXT-"),
        "before 1.30 the gate was off:\n{old}"
    );
}

#[test]
fn loopback_node_port_addresses_keep_localhost_node_ports() {
    let text = with(
        "nodePortAddresses: [\"127.0.0.2/32\"]\n",
        "",
        &svc("web", "  clusterIP: 10.96.0.9\n  ports: [{port: 80}]\n"),
    );
    let out = render(&text, "restore");
    assert!(out.contains(":KUBE-FIREWALL - [0:0]"), "{out}");
    let text = with(
        "nodePortAddresses: [\"192.168.0.0/24\"]\n",
        "",
        &svc("web", "  clusterIP: 10.96.0.9\n  ports: [{port: 80}]\n"),
    );
    let out = render(&text, "restore");
    assert!(!out.contains(":KUBE-FIREWALL - [0:0]"), "{out}");
    // kube-proxy still ensures the chain and kubelet's jumps on the node.
    let save = render(&text, "save");
    assert!(
        save.contains(":KUBE-FIREWALL - [0:0]") && save.contains("-A INPUT -j KUBE-FIREWALL"),
        "{save}"
    );
}

#[test]
fn release_1_23_keeps_all_endpoints_when_both_policies_are_local() {
    let spec = "  type: LoadBalancer\n  clusterIP: 10.96.0.9\n  externalTrafficPolicy: Local\n  internalTrafficPolicy: Local\n  ports: [{name: http, port: 80, nodePort: 30080}]\n";
    let rest = svc("lb", spec)
        + &slice(
            "lb",
            "http",
            &[
                "{addresses: [10.244.0.5], nodeName: me}",
                "{addresses: [10.244.1.5], nodeName: other}",
                "{addresses: [10.244.1.6], nodeName: other}",
            ],
        );
    let out = render(&with("", "kubeProxyVersion: \"1.23\"\n", &rest), "restore");
    assert_eq!(lines_with(&out, "-j DNAT").len(), 3, "{out}");
    assert!(
        out.contains("\"route LOCAL traffic for ns/lb:http LB IP to service chain\""),
        "{out}"
    );
}

#[test]
fn release_1_22_writes_host_addresses_with_32() {
    let rest = svc(
        "web",
        "  clusterIP: 10.96.0.9\n  ports: [{name: http, port: 80}]\n",
    ) + &slice("web", "http", &["{addresses: [10.244.0.5]}"]);
    let out = render(&with("", "kubeProxyVersion: \"1.22\"\n", &rest), "restore");
    assert!(
        out.contains("-d 10.96.0.9/32 --dport 80 -j KUBE-SVC-")
            && out.contains("-s 10.244.0.5/32 -j KUBE-MARK-MASQ"),
        "{out}"
    );
}

#[test]
fn release_1_23_declares_the_firewall_chain_once_per_load_balancer_ip() {
    let spec = "  type: LoadBalancer\n  clusterIP: 10.96.0.9\n  ports: [{name: http, port: 80, nodePort: 30080}]\nstatus:\n  loadBalancer:\n    ingress: [{ip: 203.0.113.1}, {ip: 203.0.113.2}]\n";
    let rest = svc("lb", spec) + &slice("lb", "http", &["{addresses: [10.244.0.5]}"]);
    let out = render(&with("", "kubeProxyVersion: \"1.23\"\n", &rest), "restore");
    assert_eq!(lines_with(&out, ":KUBE-FW-").len(), 2, "{out}");
    assert_eq!(
        lines_with(&out, "-j KUBE-MARK-DROP").len(),
        2,
        "the FW rules are written per IP too:\n{out}"
    );
}

/// After an edit, nftables mode copies the objects of each service port the edit left as it
/// was (`nftables::reuse`), but its ClusterIP's `@cluster-ips` element is made again: the set
/// holds an address once, for the first port of it, and when the edit removes that port the
/// next one, copied, is the one that adds it (with its own provenance).
#[test]
fn a_copied_nftables_port_adds_its_cluster_ip_when_the_first_is_gone() {
    let text = |first: bool| {
        let web = format!(
            "{}{}",
            svc("web", "  clusterIP: 10.96.0.10\n  ports:\n  - {port: 80}\n"),
            slice("web", "", &["addresses: [10.244.1.5]"])
        );
        // (Another Service of the same address, before it: an input kube-proxy is given
        // when an API server's allocator is bypassed.)
        let old = format!(
            "{}{}---\n",
            svc("old", "  clusterIP: 10.96.0.10\n  ports:\n  - {port: 81}\n"),
            slice("old", "", &["addresses: [10.244.1.6]"])
        );
        with(
            "",
            "",
            &format!("{}{web}", if first { &old[..] } else { "" }),
        )
    };
    let (before, after) = (
        analyze(&text(true)).unwrap(),
        analyze(&text(false)).unwrap(),
    );
    assert_eq!(before.nftables().sets[0].elements.len(), 1);
    let copied = kpx_core::nftables::build_again(&after.cluster, before.nftables());
    assert_eq!(copied.ports_copied(), 1, "web's port copied");
    let anew = after.nftables();
    assert_eq!(
        serde_json::to_value(&copied).unwrap(),
        serde_json::to_value(anew).unwrap()
    );
    let elements = &copied.sets[0].elements;
    assert_eq!(elements.len(), 1);
    let why = elements[0].provenance.describe();
    assert!(why.contains("ns/web"), "{why}");
}

/// Two unnamed ports of one Service (kpx warns) have one name, so nftables mode writes the
/// second's rules into the first's chains: the table built after an edit elsewhere copies
/// neither from the one before (the first's chains are not its own to copy), but copies the
/// other Services' ports, and is the one built anew.
#[test]
fn nftables_ports_of_one_name_are_built_again_after_an_edit() {
    let text = |other_port: u16| {
        let service = |name: &str, ip: &str, ports: &str, pod: &str| {
            format!(
                "{}{}---\n",
                svc(name, &format!("  clusterIP: {ip}\n  ports:\n{ports}")),
                slice(name, "", &[&format!("addresses: [{pod}]")])
            )
        };
        let web = service(
            "web",
            "10.96.0.10",
            "  - {port: 80}\n  - {port: 81}\n",
            "10.244.1.5",
        );
        let other = service(
            "other",
            "10.96.0.11",
            &format!("  - {{port: {other_port}}}\n"),
            "10.244.1.6",
        );
        let third = service("third", "10.96.0.12", "  - {port: 82}\n", "10.244.1.7");
        with("", "", &format!("{web}{other}{third}"))
    };
    let (before, after) = (analyze(&text(90)).unwrap(), analyze(&text(91)).unwrap());
    let built_again = kpx_core::nftables::build_again(&after.cluster, before.nftables());
    assert_eq!(
        serde_json::to_value(&built_again).unwrap(),
        serde_json::to_value(after.nftables()).unwrap()
    );
    assert_eq!(
        built_again.ports_copied(),
        1,
        "third's port copied, web's not"
    );
}

/// A table's lists are public: one changed after it was built lends the next build nothing it
/// no longer holds, since its memo keeps what it copies (`nftables::reuse`).
#[test]
fn a_changed_nftables_table_lends_the_next_build_what_it_built() {
    let text = |port: u16| {
        with(
            "",
            "",
            &format!(
                "{}{}---\n{}{}",
                svc(
                    "web",
                    "  clusterIP: 10.96.0.10\n  type: NodePort\n  ports:\n  - {port: 80, nodePort: 30080}\n"
                ),
                slice("web", "", &["addresses: [10.244.1.5]", "addresses: [10.244.1.6]"]),
                svc(
                    "other",
                    &format!("  clusterIP: 10.96.0.11\n  ports:\n  - {{port: {port}}}\n")
                ),
                slice("other", "", &["addresses: [10.244.1.7]"]),
            ),
        )
    };
    let (before, after) = (analyze(&text(90)).unwrap(), analyze(&text(91)).unwrap());
    let mut changed = before.nftables().clone();
    for chain in changed
        .chains
        .iter_mut()
        .filter(|c| c.name.contains("ns/web"))
    {
        std::rc::Rc::make_mut(chain).rules.clear();
    }
    for map in &mut changed.maps {
        map.elements.clear();
    }
    changed.sets.retain(|s| s.name != "cluster-ips");
    let built_again = kpx_core::nftables::build_again(&after.cluster, &changed);
    assert_eq!(built_again.ports_copied(), 1, "web's port copied");
    assert_eq!(
        serde_json::to_value(&built_again).unwrap(),
        serde_json::to_value(after.nftables()).unwrap()
    );
}

/// The service port map made after an edit copies the ports of each Service whose objects are
/// the ones before (`proxy::service_ports_after`), but only under the same node: an edit of
/// the node's name leaves every Service's section as it was, and changes which endpoints are
/// local.
#[test]
fn the_service_port_map_is_made_again_for_another_node() {
    let rest = format!(
        "{}{}",
        svc(
            "web",
            "  clusterIP: 10.96.0.10\n  internalTrafficPolicy: Local\n  ports:\n  - {port: 80}\n"
        ),
        slice(
            "web",
            "",
            &[
                "{addresses: [10.244.1.5], nodeName: me}",
                "{addresses: [10.244.2.5], nodeName: you}"
            ]
        )
    );
    let text = |node: &str| {
        with("", "", &rest).replace("hostnameOverride: me", &format!("hostnameOverride: {node}"))
    };
    // Read as the page reads an edit: after the text before, sharing the sections it left.
    let read = |text: String, sections| {
        let (read, sections) = read_as_the_page(&text, sections);
        (kpx_core::cluster::build(&read, None).unwrap(), sections)
    };
    let (before, sections) = read(text("me"), None);
    let (after, _) = read(text("you"), Some(sections));
    fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
        serde_json::to_value(v).unwrap()
    }
    let built = kpx_core::iptables::build(&after).unwrap();
    let again =
        kpx_core::iptables::build_again(&after, &kpx_core::iptables::build(&before).unwrap());
    assert_eq!(json(&again.unwrap()), json(&built));
    let nft_before = kpx_core::nftables::build(&before);
    assert_eq!(
        json(&kpx_core::nftables::build_again(&after, &nft_before)),
        json(&kpx_core::nftables::build(&after))
    );
    let ipvs_before = kpx_core::ipvs::build(&before);
    assert_eq!(
        json(&kpx_core::ipvs::build_again(&after, &ipvs_before)),
        json(&kpx_core::ipvs::build(&after))
    );
    assert!(
        json(&built).to_string().contains("10.244.2.5:8080"),
        "the other node's endpoint is local now"
    );
}

/// A cluster built after an edit does not check again the objects the one before checked and
/// found nothing to say about (`cluster::Validated`), but checks again those it had something
/// to say about: their warnings stay, at their new places.
#[test]
fn warnings_stay_after_an_edit_elsewhere() {
    let text = |port: u16, above: &str| {
        with(
            "",
            "",
            &format!(
                "{above}{}{}---\n{}{}",
                svc(
                    "other",
                    &format!("  clusterIP: 10.96.0.11\n  ports:\n  - {{port: {port}}}\n")
                ),
                slice("other", "", &["addresses: [10.244.1.6]"]),
                svc(
                    "web",
                    "  clusterIP: 10.96.0.010\n  ports:\n  - {port: 80}\n"
                ),
                slice(
                    "web",
                    "",
                    &["addresses: [10.244.1.5]", "addresses: [fd00::5]"]
                ),
            ),
        )
    };
    let (first, sections) = read_as_the_page(&text(90, ""), None);
    let before = kpx_core::views::analyze_parsed(&first, None).unwrap();
    assert_eq!(
        before.cluster.warnings.len(),
        2,
        "{:?}",
        before.cluster.warnings
    );
    // A key in the other Service, and lines added above everything (the warnings move).
    let edited = text(91, "# a comment\n# and another\n");
    let (again, _) = read_as_the_page(&edited, Some(sections));
    // (The warned slice's section is the one before, moved: shared, and so checked again only
    // because it was not clean.)
    assert!(std::rc::Rc::ptr_eq(
        &first.endpoint_slices[1].object,
        &again.endpoint_slices[1].object
    ));
    let never = kpx_core::pace::Pace::never();
    let after = kpx_core::pace::at_once(kpx_core::views::analyze_after(
        &again,
        None,
        Some(&before),
        &never,
    ))
    .unwrap();
    let anew = analyze(&edited).unwrap();
    assert_eq!(after.cluster.warnings, anew.cluster.warnings);
    assert_eq!(after.cluster.warnings.len(), 2);
}

/// A build after an edit takes the names of the build before as checked only while they are
/// the very same names in the same order (`validate::defined_once`): a Service or a slice an
/// edit renames onto another's name is an error, as in a build anew, and a text whose
/// duplicate is mended is clean again.
#[test]
fn names_an_edit_makes_collide_are_defined_twice() {
    let text = |second_svc: &str, second_slice: &str| {
        with(
            "",
            "",
            &format!(
                "{}{}---\n{}{}",
                svc("web", "  clusterIP: 10.96.0.10\n  ports:\n  - {port: 80}\n"),
                slice("web", "", &["addresses: [10.244.1.5]"]),
                svc(
                    second_svc,
                    "  clusterIP: 10.96.0.11\n  ports:\n  - {port: 81}\n"
                ),
                slice(second_slice, "", &["addresses: [10.244.1.6]"]),
            ),
        )
    };
    let never = kpx_core::pace::Pace::never();
    let after = |text: &str, sections, before: Option<&kpx_core::views::Analysis>| {
        let (scenario, sections) = read_as_the_page(text, sections);
        let analysed = kpx_core::pace::at_once(kpx_core::views::analyze_after(
            &scenario, None, before, &never,
        ));
        (analysed, sections)
    };
    let twice = |r: &Result<kpx_core::views::Analysis, kpx_core::diag::InputError>| match r {
        Ok(_) => vec![],
        Err(e) => e
            .diagnostics
            .iter()
            .map(|d| d.message.clone())
            .filter(|m| m.contains("defined twice"))
            .collect::<Vec<_>>(),
    };
    let clean = text("db", "db");
    let (first, sections) = after(&clean, None, None);
    let first = first.expect("two Services, named apart");
    // The second Service renamed onto the first: its name changes, nothing else.
    let services = text("web", "db");
    let (renamed, _) = after(&services, Some(sections.clone()), Some(&first));
    assert_eq!(twice(&renamed), ["Service ns/web is defined twice"]);
    assert_eq!(twice(&renamed), twice(&analyze(&services)));
    // The second slice renamed onto the first's name (`{svc}-1`).
    let slices = text("db", "web");
    let (renamed, _) = after(&slices, Some(sections.clone()), Some(&first));
    assert_eq!(twice(&renamed), ["EndpointSlice ns/web-1 is defined twice"]);
    // A key elsewhere keeps the text clean.
    let keyed = clean.replace("port: 81", "port: 82");
    let (keyed, _) = after(&keyed, Some(sections.clone()), Some(&first));
    assert!(keyed.is_ok(), "{:?}", twice(&keyed));
    // Mended after the duplicate, built after the last good analysis as the page builds it.
    let (dup, sections) = after(&services, Some(sections), Some(&first));
    assert!(dup.is_err());
    let (mended, _) = after(&clean, Some(sections), Some(&first));
    assert!(mended.is_ok(), "{:?}", twice(&mended));
}

/// A build after an edit knows which chains it copied whole from the build before: those of
/// each service port the edit left as it was, and no other (the save view takes their lines
/// without reading their rules, `iptables::render::write_save_after`).
#[test]
fn the_chains_copied_whole_are_those_of_the_ports_an_edit_left() {
    use kpx_core::cluster::settings::Mode;
    use kpx_core::iptables::model::{Match, TableName};
    let before_text = kpx_core::scale::generate(20, 3, Mode::Iptables);
    let svc7 = "name: svc7, namespace: scale}\nspec:\n  type: NodePort\n  clusterIP: 10.96.0.9\n  ports:\n  - {name: http, port: 80";
    assert!(before_text.contains(&format!("{svc7},")));
    let (read, sections) = read_as_the_page(&before_text, None);
    let before =
        kpx_core::iptables::build(&kpx_core::cluster::build(&read, None).unwrap()).unwrap();
    let ports_chains = |svc: Option<&str>, text: &str| {
        let (read, _) = read_as_the_page(text, Some(sections.clone()));
        let cluster = kpx_core::cluster::build(&read, None).unwrap();
        let after = kpx_core::iptables::build_again(&cluster, &before).unwrap();
        let (old, nat) = (
            before.table(TableName::Nat).unwrap(),
            after.table(TableName::Nat).unwrap(),
        );
        let mut copied = 0;
        for c in &nat.chains {
            // A Service port's own chains say whose they are in every rule's comment.
            let whose = c.rules.iter().find_map(|r| {
                r.matches.iter().find_map(|m| match m {
                    Match::Comment { text } => text.split("scale/").nth(1)?.split(':').next(),
                    _ => None,
                })
            });
            let own = ["KUBE-SVC-", "KUBE-EXT-", "KUBE-SEP-"]
                .iter()
                .any(|p| c.name.starts_with(p));
            let left = own && whose.is_some() && whose != svc;
            assert_eq!(c.is_copy(), left, "{}: {whose:?}'s", c.name);
            if c.is_copy() {
                copied += 1;
                let was = old.chain(&c.name).unwrap();
                let same = |(a, b): (
                    &kpx_core::iptables::model::Rule,
                    &kpx_core::iptables::model::Rule,
                )| {
                    a.matches == b.matches && a.target == b.target && a.provenance == b.provenance
                };
                assert!(
                    was.rules.len() == c.rules.len() && was.rules.iter().zip(&c.rules).all(same),
                    "{}",
                    c.name
                );
            }
        }
        copied
    };
    // Nothing changed: every Service's chains (a KUBE-SVC, a KUBE-EXT and three KUBE-SEP).
    assert_eq!(ports_chains(None, &before_text), 20 * 5);
    // svc7's port changed: its chains are made anew, the other 19's copied.
    let after_text = before_text.replace(&format!("{svc7},"), &format!("{svc7}7,"));
    assert_eq!(ports_chains(Some("svc7"), &after_text), 19 * 5);
}

/// A generated cluster pasted as `kubectl get svc,endpointslices -A -o yaml` prints it (one
/// List, every field the API server fills) programs, in every mode and every view, exactly
/// what its terse text does, with the same warnings: the benchmarks' two shapes of one
/// cluster differ only in how much text is read.
#[test]
fn a_cluster_pasted_as_kubectl_prints_it_programs_what_its_terse_text_does() {
    use kpx_core::cluster::settings::Mode;
    use kpx_core::views::{views, Request};
    for mode in [Mode::Iptables, Mode::Nftables, Mode::Ipvs] {
        let terse = kpx_core::scale::generate(12, 3, mode);
        let kubectl = kpx_core::scale::generate_as_kubectl(12, 3, mode);
        assert!(kubectl.contains("\nkind: List\n") && kubectl.len() > 3 * terse.len());
        let (a, b) = (analyze(&terse).unwrap(), analyze(&kubectl).unwrap());
        let messages = |a: &kpx_core::views::Analysis| -> Vec<String> {
            a.cluster
                .warnings
                .iter()
                .map(|w| w.message.clone())
                .collect()
        };
        assert_eq!(messages(&a), messages(&b), "{mode:?}");
        assert_eq!(a.cluster.services.len(), 12);
        for view in views(mode) {
            let req = Request {
                view: Some(view.name.into()),
                all_namespaces: true,
                ..Default::default()
            };
            let (x, y) = (a.render(&req).unwrap(), b.render(&req).unwrap());
            assert_eq!(x, y, "{mode:?} {}", view.name);
            // (No Pods are generated: their view is its header.)
            assert!(
                x.len() > 100 || view.name == "get-pods",
                "{mode:?} {}",
                view.name
            );
        }
    }
}
