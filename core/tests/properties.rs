//! Property tests over generated clusters: whatever the Services, endpoints and policies,
//! * every endpoint of a KUBE-SVC/SVL chain is picked with probability 1/n;
//! * every jump goes to a chain that exists in the same table;
//! * every rule's provenance names an object of the input (or one kpx derived from it);
//! * every view renders, and no text — however broken — makes kpx panic.

use kpx_core::cluster::settings::Mode;
use kpx_core::iptables::model::{Dataplane, Match, Target, Why};
use kpx_core::pace::Step;
use kpx_core::views::{analyze, views, Request};
use proptest::prelude::*;
use std::fmt::Write;

#[derive(Debug, Clone, PartialEq)]
struct Ep {
    ip: (u8, u8),
    local: bool,
    ready: bool,
    serving: bool,
    terminating: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Svc {
    ty: usize,
    etp_local: bool,
    itp_local: bool,
    affinity: bool,
    external_ips: usize,
    ingress: usize,
    ranges: usize,
    udp: bool,
    named: bool,
    endpoints: Vec<Ep>,
}

fn ep() -> impl Strategy<Value = Ep> {
    (
        any::<(u8, u8)>(),
        any::<bool>(),
        prop::bool::weighted(0.8),
        any::<bool>(),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(ip, local, ready, serving, terminating)| Ep {
            ip,
            local,
            ready,
            serving,
            terminating,
        })
}

fn svc() -> impl Strategy<Value = Svc> {
    (
        0usize..3,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0usize..3,
        0usize..3,
        0usize..3,
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(ep(), 0..7),
    )
        .prop_map(
            |(
                ty,
                etp_local,
                itp_local,
                affinity,
                external_ips,
                ingress,
                ranges,
                udp,
                named,
                endpoints,
            )| Svc {
                ty,
                etp_local,
                itp_local,
                affinity,
                external_ips,
                ingress,
                ranges,
                udp,
                named,
                endpoints,
            },
        )
}

fn yaml(services: &[Svc], version: &str, cluster_cidr: bool) -> String {
    let mut y = String::new();
    writeln!(y, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nhostnameOverride: me").unwrap();
    if !cluster_cidr {
        writeln!(y, "clusterCIDR: \"\"").unwrap();
    }
    writeln!(
        y,
        "---\napiVersion: kpx/v1alpha1\nkind: NodeEnvironment\nkubeProxyVersion: \"{version}\""
    )
    .unwrap();
    for (i, s) in services.iter().enumerate() {
        let ty = ["ClusterIP", "NodePort", "LoadBalancer"][s.ty];
        let proto = if s.udp { "UDP" } else { "TCP" };
        let name = if s.named { "p" } else { "" };
        writeln!(y, "---\napiVersion: v1\nkind: Service\nmetadata: {{name: s{i}, namespace: ns}}\nspec:\n  type: {ty}\n  clusterIP: 10.96.1.{}", i + 1).unwrap();
        writeln!(
            y,
            "  externalTrafficPolicy: {}",
            if s.etp_local { "Local" } else { "Cluster" }
        )
        .unwrap();
        writeln!(
            y,
            "  internalTrafficPolicy: {}",
            if s.itp_local { "Local" } else { "Cluster" }
        )
        .unwrap();
        if s.affinity {
            writeln!(y, "  sessionAffinity: ClientIP").unwrap();
        }
        if s.external_ips > 0 {
            let ips: Vec<String> = (0..s.external_ips)
                .map(|k| format!("192.0.2.{}", i * 4 + k + 1))
                .collect();
            writeln!(y, "  externalIPs: [{}]", ips.join(", ")).unwrap();
        }
        if s.ranges > 0 {
            let r: Vec<String> = (0..s.ranges).map(|k| format!("203.0.{k}.0/24")).collect();
            writeln!(y, "  loadBalancerSourceRanges: [{}]", r.join(", ")).unwrap();
        }
        writeln!(
            y,
            "  ports:\n  - {{name: \"{name}\", port: 80, protocol: {proto}}}"
        )
        .unwrap();
        if s.ty == 2 && s.ingress > 0 {
            let ips: Vec<String> = (0..s.ingress)
                .map(|k| format!("{{ip: 198.51.100.{}}}", i * 4 + k + 1))
                .collect();
            writeln!(
                y,
                "status:\n  loadBalancer:\n    ingress: [{}]",
                ips.join(", ")
            )
            .unwrap();
        }
        writeln!(y, "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: s{i}-a\n  namespace: ns\n  labels: {{kubernetes.io/service-name: s{i}}}\naddressType: IPv4\nports: [{{name: \"{name}\", port: 8080, protocol: {proto}}}]\nendpoints:").unwrap();
        if s.endpoints.is_empty() {
            y.truncate(y.len() - 1);
            writeln!(y, " []").unwrap();
        }
        for e in &s.endpoints {
            writeln!(
                y,
                "- addresses: [10.244.{}.{}]\n  nodeName: {}\n  conditions: {{ready: {}, serving: {}, terminating: {}}}",
                e.ip.0, e.ip.1, if e.local { "me" } else { "other" }, e.ready, e.serving, e.terminating
            )
            .unwrap();
        }
    }
    y
}

/// Walks the random-probability cascade of every KUBE-SVC/SVL chain.
fn check_probabilities(dp: &Dataplane) -> Result<(), TestCaseError> {
    for t in &dp.tables {
        for c in t
            .chains
            .iter()
            .filter(|c| c.name.starts_with("KUBE-SVC-") || c.name.starts_with("KUBE-SVL-"))
        {
            let mut remaining = 1.0f64;
            let mut picks = Vec::new();
            for r in &c.rules {
                let Some(Target::Jump { chain }) = &r.target else {
                    continue;
                };
                if !chain.starts_with("KUBE-SEP-")
                    || r.matches
                        .iter()
                        .any(|m| matches!(m, Match::RecentCheck { .. }))
                {
                    continue;
                }
                let p = r.matches.iter().find_map(|m| match m {
                    Match::Statistic { probability } => Some(probability.parse::<f64>().unwrap()),
                    _ => None,
                });
                match p {
                    Some(p) => {
                        picks.push(remaining * p);
                        remaining *= 1.0 - p;
                    }
                    None => {
                        picks.push(remaining);
                        remaining = 0.0;
                    }
                }
            }
            let n = picks.len() as f64;
            prop_assert!(n > 0.0, "{} has no endpoint jumps", c.name);
            prop_assert!(
                remaining.abs() < 1e-12,
                "{}: the last jump must take what is left",
                c.name
            );
            for p in &picks {
                prop_assert!(
                    (p - 1.0 / n).abs() < 1e-9,
                    "{}: effective probability {p} != 1/{n}",
                    c.name
                );
            }
        }
    }
    Ok(())
}

fn check_jumps(dp: &Dataplane) -> Result<(), TestCaseError> {
    for t in &dp.tables {
        for c in &t.chains {
            for r in &c.rules {
                if let Some(Target::Jump { chain }) = &r.target {
                    prop_assert!(
                        t.chain(chain).is_some(),
                        "{}: jump from {} to missing chain {chain}",
                        t.name.as_str(),
                        c.name
                    );
                }
            }
        }
    }
    Ok(())
}

/// `count` edits of the tour scenario, for [`edited_tour`].
fn edits(
    count: std::ops::Range<usize>,
) -> impl Strategy<Value = Vec<(prop::sample::Index, usize, char)>> {
    prop::collection::vec(
        (any::<prop::sample::Index>(), 0usize..3, any::<char>()),
        count,
    )
}

/// A mode other than `mode`.
fn other(mode: Mode) -> Mode {
    match mode {
        Mode::Iptables => Mode::Nftables,
        _ => Mode::Iptables,
    }
}

/// The tour scenario with `cuts` made: at an index, 0 drops a character, 1 inserts one, any
/// other replaces one.
fn edited_tour(cuts: Vec<(prop::sample::Index, usize, char)>) -> String {
    let mut text: Vec<char> = include_str!("../../static/scenarios/tour.yaml")
        .chars()
        .collect();
    for (at, op, c) in cuts {
        let i = at.index(text.len());
        match op {
            0 => {
                text.remove(i);
            }
            1 => text.insert(i, c),
            _ => text[i] = c,
        }
    }
    text.into_iter().collect()
}

/// An edit of a YAML text as a reader (or a broken paste) makes it: a snippet inserted (the
/// ones that matter to where documents start and end among them), a stretch deleted, or a
/// character replaced.
#[derive(Debug, Clone)]
enum YamlEdit {
    Insert(prop::sample::Index, &'static str),
    Delete(prop::sample::Index, usize),
    Replace(prop::sample::Index, char),
}

fn yaml_edits(count: std::ops::Range<usize>) -> impl Strategy<Value = Vec<YamlEdit>> {
    const SNIPPETS: &[&str] = &[
        "\n---\n",
        "---",
        "\n--- ",
        "\n...\n",
        "\"",
        "'",
        "[",
        "{",
        "]",
        "|\n",
        ">-\n",
        "&a ",
        "*a",
        "\nz: &a 1\n",
        "\n---\nb: *a\n",
        "\n%YAML 1.2\n",
        "\r",
        "\r\n",
        "\n",
        "  ",
        "- ",
        ": ",
        "#",
        "\t",
        "x: 1e999\n",
        "\u{feff}",
        "ü",
        "\nitems:\n",
        "\n- ",
        "-\n",
        "\nkind: List\n",
        "\nkind: Service\n",
        "\n- x: &a 1\n",
    ];
    let edit = prop_oneof![
        (any::<prop::sample::Index>(), prop::sample::select(SNIPPETS))
            .prop_map(|(i, s)| YamlEdit::Insert(i, s)),
        (any::<prop::sample::Index>(), 1usize..40).prop_map(|(i, n)| YamlEdit::Delete(i, n)),
        (any::<prop::sample::Index>(), any::<char>()).prop_map(|(i, c)| YamlEdit::Replace(i, c)),
    ];
    prop::collection::vec(edit, count)
}

/// `text` with `edits` made, each at a character boundary.
fn edited(text: &str, edits: &[YamlEdit]) -> String {
    let mut text: Vec<char> = text.chars().collect();
    for edit in edits {
        match edit {
            YamlEdit::Insert(at, snippet) => {
                let i = at.index(text.len() + 1);
                text.splice(i..i, snippet.chars());
            }
            YamlEdit::Delete(at, n) if !text.is_empty() => {
                let i = at.index(text.len());
                text.drain(i..(i + n).min(text.len()));
            }
            YamlEdit::Replace(at, c) if !text.is_empty() => {
                let i = at.index(text.len());
                text[i] = *c;
            }
            _ => {}
        }
    }
    text.into_iter().collect()
}

/// A text to edit: the seed scenario's tour, a cluster as kubectl writes it (one List, after
/// kube-proxy's settings, or alone at the text's top), or that List between other documents.
fn yaml_base() -> impl Strategy<Value = String> {
    let tour = include_str!("../../static/scenarios/tour.yaml");
    let list = kpx_core::scale::generate_as_kubectl(3, 2, Mode::Iptables);
    let alone = list[list.find("apiVersion: v1\nitems:").unwrap()..].to_string();
    let between = format!(
        "{}---\n{list}---\n{}",
        &tour[..tour.len() / 3],
        "apiVersion: v1\nitems:\n- kind: Pod\n"
    );
    prop::sample::select(vec![tour.to_string(), list, alone, between])
}

/// Each object's name, where it starts, its lines and where its field at `path` is, on a line
/// of `out` each.
fn list<T>(out: &mut String, items: &[kpx_core::input::Located<T>], path: &[kpx_core::input::Seg]) {
    for l in items {
        let field = l.pos_of(path);
        write!(
            out,
            "\n{} {:?} {:?} {:?}",
            l.reference,
            l.pos(),
            l.lines(),
            field
        )
        .unwrap();
    }
}

/// A reading as it shows, and where it says its objects are (through `Located`'s own methods,
/// which add the lines above an object's section).
fn shown(read: &Result<kpx_core::input::Scenario, kpx_core::InputError>) -> String {
    let Ok(s) = read else {
        return format!("{read:?}");
    };
    let mut out = format!("{s:?}");
    list(
        &mut out,
        &s.services,
        &kpx_core::path!["spec", "ports", 0, "port"],
    );
    list(
        &mut out,
        &s.endpoint_slices,
        &kpx_core::path!["endpoints", 0, "addresses", 0],
    );
    out
}

/// `text` with one of its digits (the `at`-th) changed to another, and where.
fn a_digit_edited(text: &str, at: prop::sample::Index) -> (usize, String) {
    let digits: Vec<usize> = text
        .match_indices(|c: char| c.is_ascii_digit())
        .map(|(i, _)| i)
        .collect();
    let i = *at.get(&digits);
    let mut edited = text.to_string();
    edited.replace_range(i..=i, if &text[i..=i] == "7" { "8" } else { "7" });
    (i, edited)
}

/// Reads `text` after the reading `earlier` kept, `part` events at a time.
fn read_after(
    text: &str,
    earlier: kpx_core::input::Sections,
    part: usize,
) -> (String, kpx_core::input::Sections, (usize, usize)) {
    let mut reading = kpx_core::input::Reading::after(text.into(), earlier);
    while !reading.step(part) {}
    let sections = reading.sections();
    let (read, kept) = reading.finish_keeping();
    (shown(&read), kept, sections)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn generated_clusters_keep_the_invariants(
        services in prop::collection::vec(svc(), 1..5),
        version in prop::sample::select(vec!["1.23", "1.29", "1.35"]),
        cluster_cidr in any::<bool>(),
    ) {
        let text = yaml(&services, version, cluster_cidr);
        let a = analyze(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let dp = a.iptables().as_ref().unwrap();
        check_probabilities(dp)?;
        check_jumps(dp)?;
        let known = a.cluster.known_objects();
        for t in &dp.tables {
            for c in &t.chains {
                for r in &c.rules {
                    for obj in r.provenance.objects() {
                        prop_assert!(known.contains(obj), "{}: provenance names {obj}, not in the input", c.name);
                    }
                    if c.name.starts_with("KUBE-SEP-") {
                        prop_assert!(matches!(*r.provenance, Why::Endpoint { .. }), "SEP rule without endpoint provenance");
                    }
                }
            }
        }
        for v in views(a.cluster.settings.mode) {
            prop_assert!(a.render(&Request { view: Some(v.name.into()), ..Default::default() }).is_ok(), "view {}", v.name);
        }
        // Every walk through the dataplane terminates with a verdict, every rule evaluable.
        for (i, svc) in services.iter().enumerate() {
            let proto = if svc.udp { kpx_core::proxy::Protocol::Udp } else { kpx_core::proxy::Protocol::Tcp };
            let req = kpx_core::trace::session::Request {
                from: "node:me".into(),
                to: format!("10.96.1.{}:80", i + 1),
                protocol: Some(proto),
                seed: i as u64,
                ..Default::default()
            };
            for mode in [kpx_core::cluster::settings::Mode::Iptables, kpx_core::cluster::settings::Mode::Ipvs, kpx_core::cluster::settings::Mode::Nftables] {
                let t = kpx_core::trace::session::trace(&text, &kpx_core::trace::session::Request { mode: Some(mode), ..req.clone() }, 2);
                prop_assert!(t.is_ok(), "{mode:?} walk failed: {:?}", t.err());
            }
        }
    }

    /// Any edit of the seed scenario — characters dropped, doubled or replaced — gives a
    /// result or positioned errors, never a panic.
    #[test]
    fn edits_never_panic(cuts in edits(1..6)) {
        let text = edited_tour(cuts);
        match analyze(&text) {
            Ok(a) => { let _ = a.render(&Request::default()); }
            Err(e) => {
                for d in &e.diagnostics {
                    prop_assert!(d.pos.line >= 1 && d.pos.col >= 1, "error without a position: {d}");
                }
            }
        }
    }

    /// The page reads a large text a part at a time (`input::Reading`, between the parser's
    /// events): whatever the text and wherever the parts end, it reads what `parse` reads,
    /// positions and errors included.
    #[test]
    fn reading_in_parts_reads_what_parse_reads(
        cuts in edits(0..6),
        part in 1usize..300,
    ) {
        let text = edited_tour(cuts);
        let whole = format!("{:?}", kpx_core::input::parse(&text));
        let mut reading = kpx_core::input::Reading::new(std::rc::Rc::<str>::from(text.as_str()));
        let mut steps = 0;
        while !reading.step(part) {
            steps += 1;
            prop_assert!(reading.read() <= text.len());
        }
        // (A syntax error ends the reading wherever it is.)
        prop_assert!(steps >= 1 || part >= 100 || whole.starts_with("Err"), "a text of thousands of events read in one part of {part}");
        prop_assert_eq!(format!("{:?}", reading.finish()), whole);
    }

    /// …and so does a cluster written as kubectl writes it, one List whose items are read as
    /// each is complete, before the List's `kind` says what they are: edited anywhere, and
    /// wherever the parts end.
    #[test]
    fn a_list_read_in_parts_reads_what_parse_reads(
        edits in yaml_edits(0..4),
        part in 1usize..300,
    ) {
        let text = edited(&kpx_core::scale::generate_as_kubectl(4, 2, Mode::Iptables), &edits);
        let whole = format!("{:?}", kpx_core::input::parse(&text));
        let mut reading = kpx_core::input::Reading::new(std::rc::Rc::<str>::from(text.as_str()));
        while !reading.step(part) {}
        prop_assert_eq!(format!("{:?}", reading.finish()), whole);
    }

    /// A text is read a section (from a `---` line to the next) at a time, each with a parser
    /// of its own (`input::Reading`): whatever the text, it reads what one parser reading the
    /// whole text reads, positions and errors included.
    #[test]
    fn reading_in_sections_reads_what_one_parser_reads(
        base in yaml_base(),
        edits in yaml_edits(0..8),
    ) {
        let text = edited(&base, &edits);
        let whole = shown(&kpx_core::input::read_whole(&text));
        // A List read whole, its items kept apart (a paste), and read in its parts (an edit).
        prop_assert_eq!(&shown(&kpx_core::input::parse(&text)), &whole);
        prop_assert_eq!(&shown(&kpx_core::input::read_lists_in_parts(&text)), &whole);
    }

    /// After an edit, the page reads again only the sections the edit changed
    /// (`Reading::after`): through a run of edits, broken texts and mended ones included, and
    /// wherever the parts end, it reads what reading the edited text anew reads.
    #[test]
    fn reading_after_an_edit_reads_what_reading_anew_reads(
        base in yaml_base(),
        first in yaml_edits(0..3),
        then in prop::collection::vec(yaml_edits(1..3), 1..5),
        part in 1usize..400,
    ) {
        let mut text = edited(&base, &first);
        let (_, mut kept, _) = read_after(&text, Default::default(), part);
        for edits in then {
            text = edited(&text, &edits);
            let (read, next, _) = read_after(&text, kept, part);
            prop_assert_eq!(&read, &shown(&kpx_core::input::read_whole(&text)));
            kept = next;
        }
    }

    /// An edit inside one document of a text of many reads that section alone.
    #[test]
    fn an_edit_inside_a_document_reads_only_its_section(at in any::<prop::sample::Index>()) {
        let text = kpx_core::scale::generate(20, 3, Mode::Iptables);
        let (_, kept, (sections, reused)) = read_after(&text, Default::default(), 1000);
        prop_assert!(sections > 40 && reused == 0, "{sections} sections, {reused} reused");
        // A digit changed to another: the same documents, one of them edited.
        let (_, edited) = a_digit_edited(&text, at);
        let (read, _, (after, reused)) = read_after(&edited, kept, 1000);
        prop_assert_eq!(after, sections);
        prop_assert_eq!(reused, sections - 1);
        prop_assert_eq!(read, shown(&kpx_core::input::read_whole(&edited)));
    }

    /// …and so does an edit inside one item of a List as kubectl writes it: the List's other
    /// items are found in the reading before (its head and tail, read together, are read
    /// again).
    #[test]
    fn an_edit_inside_a_list_item_reads_only_its_section(at in any::<prop::sample::Index>()) {
        let text = kpx_core::scale::generate_as_kubectl(10, 3, Mode::Iptables);
        let (_, kept, (sections, reused)) = read_after(&text, Default::default(), 1000);
        // kube-proxy's settings, the node; the List's head, 20 items and tail.
        prop_assert!(sections == 24 && reused == 0, "{sections} sections, {reused} reused");
        let (i, edited) = a_digit_edited(&text, at);
        let (read, _, (after, reused)) = read_after(&edited, kept, 1000);
        prop_assert_eq!(after, sections);
        // The frame (head and tail) is read again whatever the edit; the edited section too.
        let head = text.find("---\napiVersion: v1\nitems:").unwrap();
        let in_frame = (head..text.find("\n- ").unwrap()).contains(&i) || i > text.find("\nkind: List").unwrap();
        prop_assert_eq!(reused, if in_frame { sections - 2 } else { sections - 3 });
        prop_assert_eq!(read, shown(&kpx_core::input::read_whole(&edited)));
    }

    /// The page makes a large view's lines a part at a time (`pace::InParts`, between two
    /// lines): whatever the view and wherever the parts end, it makes what `render_lines`
    /// makes.
    #[test]
    fn rendering_in_parts_renders_what_render_lines_renders(
        cuts in edits(0..3),
        mode in prop::sample::select(vec![Mode::Iptables, Mode::Ipvs, Mode::Nftables]),
        view in any::<prop::sample::Index>(),
        part in 1usize..120,
    ) {
        let Ok(a) = analyze(&edited_tour(cuts)) else { return Ok(()) };
        let offered = views(mode);
        let req = Request {
            mode: Some(mode),
            view: Some(view.get(&offered).name.to_string()),
            ..Default::default()
        };
        let whole = a.render_lines(&req);
        // kubectl's tables look at each object (a Service's slices indexed, every row laid
        // out twice) whether or not its row is shown.
        let c = &a.cluster;
        let looked_at = match req.view.as_deref().is_some_and(|v| v.starts_with("get-")) {
            true => 3 * (c.services.len() + c.slices.len() + c.pods.len()),
            false => 0,
        };
        let mut work = std::rc::Rc::new(a).render_lines_in_parts(req, None);
        let mut parts = 1;
        let in_parts = loop {
            match work.step(part) {
                Step::Done(lines) => break lines,
                Step::Paused(more) => {
                    parts += 1;
                    work = more;
                }
            }
        };
        let lines = whole.as_ref().map_or(0, |l| l.len());
        // A part makes `part` units: a line each (a rule, an element; nft-list prints some
        // over several lines, and headers are no units), and for a listing, work worth less
        // than a line per object listed (its chains sorted by name, their references
        // counted), and for a kubectl table, three units per object looked at. So never more
        // than twice as many parts as the lines make (and the objects looked at), and a view
        // of many parts' lines is not made in one.
        prop_assert!(parts <= (2 * lines + looked_at) / part + 2, "{lines} lines in {parts} parts of {part}");
        prop_assert!(lines < 4 * part || parts > 1, "{lines} lines in one part of {part}");
        prop_assert_eq!(in_parts, whole);
    }

    /// The page builds a large cluster's dataplane a part at a time
    /// (`Analysis::build_in_parts`, between two service ports): it builds what `build` builds.
    #[test]
    fn building_in_parts_builds_what_build_builds(
        cuts in edits(0..3),
        mode in prop::sample::select(vec![Mode::Iptables, Mode::Ipvs, Mode::Nftables]),
        part in 1usize..6,
    ) {
        let text = edited_tour(cuts);
        let (Ok(whole), Ok(in_parts)) = (analyze(&text), analyze(&text)) else { return Ok(()) };
        let in_parts = std::rc::Rc::new(in_parts);
        let mut work = in_parts.clone().build_in_parts(mode, None);
        let mut parts = 1;
        while let Step::Paused(more) = work.step(part) {
            parts += 1;
            work = more;
        }
        prop_assert!(in_parts.built(mode) && !in_parts.built(other(mode)));
        let ports = kpx_core::proxy::service_ports(&whole.cluster).len();
        prop_assert!(parts >= ports / part, "{ports} service ports built in {parts} parts of {part}");
        for view in views(mode) {
            let req = Request { mode: Some(mode), view: Some(view.name.to_string()), ..Default::default() };
            prop_assert_eq!(in_parts.render(&req), whole.render(&req));
        }
    }

    /// After an edit, the page builds the iptables dataplane from the one before it, copying
    /// the chains and rules of every service port the edit left as it was
    /// (`kpx_core::iptables::reuse`): it builds what a build anew builds, every view and every
    /// rule's provenance alike; it copies each port left as it was, and no other. The save
    /// view made after it is the one made anew.
    #[test]
    fn building_after_an_edit_builds_what_building_anew_builds(
        services in prop::collection::vec(svc(), 1..6),
        edits in prop::collection::vec((any::<prop::sample::Index>(), prop::option::of(svc()), any::<bool>()), 0..3),
        version in prop::sample::select(vec!["1.23", "1.29", "1.35"]),
        version_after in prop::sample::select(vec!["1.23", "1.29", "1.35"]),
        same_version in prop::bool::weighted(0.8),
        cluster_cidr in (any::<bool>(), prop::bool::weighted(0.9)),
        part in 1usize..4,
    ) {
        let mut after = services.clone();
        let mut removed = false;
        for (at, svc, endpoints_only) in edits {
            let i = at.index(after.len());
            match svc {
                // (An edit of a Service's endpoints alone leaves its own object as it was.)
                Some(svc) if endpoints_only => after[i].endpoints = svc.endpoints,
                Some(svc) => after[i] = svc,
                None if after.len() > 1 => {
                    after.remove(i);
                    removed = true;
                }
                None => {}
            }
        }
        let version_after = if same_version { version } else { version_after };
        let cidr_after = if cluster_cidr.1 { cluster_cidr.0 } else { !cluster_cidr.0 };
        let before_text = yaml(&services, version, cluster_cidr.0);
        let text = yaml(&after, version_after, cidr_after);
        // The text after the edit is read as the page reads it, after the one before: the
        // objects of the sections the edit left are shared, and so the service port map
        // copies the ports of each Service made from them (`proxy::service_ports_after`).
        let mut first = kpx_core::input::Reading::new(std::rc::Rc::<str>::from(before_text.as_str()));
        while !first.step(usize::MAX) {}
        let (read, sections) = first.finish_keeping();
        let mut again = kpx_core::input::Reading::after(text.as_str().into(), sections);
        while !again.step(part * 50) {}
        let analysed = |read: Result<kpx_core::input::Scenario, _>, before: Option<&kpx_core::views::Analysis>| {
            let never = kpx_core::pace::Pace::never();
            read.ok().and_then(|s| kpx_core::pace::at_once(kpx_core::views::analyze_after(&s, None, before, &never)).ok())
        };
        let Some(before) = analysed(read, None) else { return Ok(()) };
        let (Ok(anew), Some(edited)) = (analyze(&text), analysed(again.finish(), Some(&before))) else {
            return Ok(());
        };
        // Its cluster, which did not check again the objects the one before checked clean,
        // says what a cluster built anew says.
        prop_assert_eq!(&edited.cluster.warnings, &anew.cluster.warnings);
        prop_assert_eq!(&edited.cluster.notes, &anew.cluster.notes);
        let before = std::rc::Rc::new(before);
        let Ok(_) = before.iptables() else { return Ok(()) };
        // The view before is shown when the edit is built, as on the page: the table's
        // listing order it sorted is carried over when the chains are the same.
        let save = Request { mode: Some(Mode::Iptables), view: Some("save".into()), ..Default::default() };
        prop_assert!(before.render(&save).is_ok());
        let edited = std::rc::Rc::new(edited);
        // Each Service has one port, written by its place in the list: it is copied when it and
        // what every port shares (kube-proxy's settings) are as they were.
        let same_context = before.cluster.settings == edited.cluster.settings;
        let kept = services.iter().zip(&after).filter(|(a, b)| a == b).count();
        // nftables mode's table likewise (`kpx_core::nftables::reuse`): the chains, affinity
        // sets and map elements of each port left as it was are copied.
        // IPVS mode's state makes its service port map from the one before likewise.
        for mode in [Mode::Iptables, Mode::Nftables, Mode::Ipvs] {
            before.build(mode);
            let mut work = edited.clone().build_in_parts(mode, Some(before.clone()));
            while let Step::Paused(more) = work.step(part) {
                work = more;
            }
            for view in views(mode) {
                let req = Request { mode: Some(mode), view: Some(view.name.to_string()), ..Default::default() };
                prop_assert_eq!(edited.render(&req), anew.render(&req), "{:?} view {}", mode, view.name);
            }
            fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
                serde_json::to_value(v).unwrap()
            }
            let (copied, built, copies) = match mode {
                Mode::Iptables => {
                    let (Ok(copied), Ok(built)) = (edited.iptables(), anew.iptables()) else {
                        return Err(TestCaseError::fail("the layout failed after it built"));
                    };
                    (json(copied), json(built), Some(copied.ports_copied()))
                }
                Mode::Nftables => (json(edited.nftables()), json(anew.nftables()), Some(edited.nftables().ports_copied())),
                // (It copies no rules: only what it builds is compared.)
                Mode::Ipvs => (json(edited.ipvs()), json(anew.ipvs()), None),
            };
            prop_assert_eq!(copied, built, "{:?}", mode);
            let Some(copies) = copies else { continue };
            if !same_context {
                prop_assert_eq!(copies, 0, "{:?}", mode);
            } else if !removed {
                // (A Service's NodePort may move if another now probes first for the same port.)
                prop_assert!(copies <= kept && copies + 1 >= kept, "{mode:?}: {copies} copied, {kept} kept");
            }
            if text == before_text {
                prop_assert_eq!(copies, after.len(), "{:?}", mode);
            }
        }
        // The save view made after the edit copies the lines of each chain whose rules did not
        // change from the one made before it, and the `nft list` view those of each set, map
        // and chain: line for line what a view made anew holds, each line's provenance, odds
        // and anchor too.
        for (mode, view) in [(Mode::Iptables, "save"), (Mode::Ipvs, "save"), (Mode::Nftables, "nft-list"), (Mode::Ipvs, "ipvsadm")] {
            let req = Request { mode: Some(mode), view: Some(view.into()), ..Default::default() };
            let (Ok(shown), Ok(anew)) = (before.render_lines(&req), anew.render_lines(&req)) else {
                continue;
            };
            let shown = std::rc::Rc::new(shown);
            let mut work = edited.clone().render_lines_in_parts(req, Some((before.clone(), shown.clone())));
            let made = loop {
                match work.step(part * 7) {
                    Step::Paused(more) => work = more,
                    Step::Done(made) => break made,
                }
            };
            prop_assert_eq!(&made, &Ok(anew), "{:?} {}", mode, view);
            // Nothing changed: every chain's lines were copied, its odds' words with them (a
            // view written anew words them anew).
            let made = made.unwrap();
            let odds = |lines: &kpx_core::views::ViewLines| -> Vec<std::rc::Rc<str>> {
                lines.iter().filter_map(|l| l.odds.clone()).collect()
            };
            if text == before_text && same_context {
                let (old, new) = (odds(&shown), odds(&made));
                prop_assert!(old.iter().zip(&new).all(|(a, b)| std::rc::Rc::ptr_eq(a, b)), "{:?}: odds written anew", mode);
                // All but each table's first line and COMMIT (the table's first two lines and
                // its closing brace) copied, and known to be.
                let copied: usize = made.copied_from(&shown).iter().map(|run| run.len).sum();
                // (ipvsadm's three lines before the virtual servers.)
                let written = if view == "save" { 4 } else { 3 };
                prop_assert_eq!(copied + written, made.len(), "{:?}: lines written anew", mode);
            }
            // What the edit changed in the view is the same found from the lines known to be
            // copied as from every line (as many of each line added and removed).
            use kpx_core::changes::Changes;
            let never = kpx_core::pace::Pace::never();
            let changes = |copied: &[kpx_core::views::Copied]| {
                let c = kpx_core::pace::at_once(Changes::between(&*shown, &made, copied, &never));
                let mut added: Vec<&str> = (0..made.len()).filter(|&i| c.added[i]).map(|i| made.text(i)).collect();
                let mut removed = c.removed.clone();
                added.sort();
                removed.sort();
                (added.into_iter().map(String::from).collect::<Vec<_>>(), removed)
            };
            prop_assert_eq!(changes(&made.copied_from(&shown)), changes(&[]), "{:?}: changes", mode);
        }
    }

    /// What an edit changed is the multiset difference of the views' lines, wherever the
    /// edit is (lines alike at the same place from either end are not counted, but cancel
    /// all the same), and whichever lines are known to be copied from the view before (they
    /// are paired without being looked at): each non-blank line added as often as it is met
    /// more often after the edit, removed as often as it is met less often, in its old order.
    #[test]
    fn changes_are_the_multiset_difference_of_the_lines(
        before in prop::collection::vec("[ab ]{0,2}", 0..24),
        cut in (any::<prop::sample::Index>(), any::<prop::sample::Index>()),
        put in prop::collection::vec("[ab ]{0,2}", 0..6),
        unrelated in prop::collection::vec("[ab ]{0,2}", 0..24),
        spliced in any::<bool>(),
        pairs_known in any::<prop::sample::Index>(),
    ) {
        use kpx_core::changes::Changes;
        use kpx_core::views::Copied;
        use std::collections::HashMap;
        // An edit in one place (most are), or a view unrelated to the one before. The lines
        // either side of a splice are the old ones copied: none of those runs, either or both
        // are known (runs out of order, or past a view's end, are not used).
        let (a, b) = (cut.0.index(before.len() + 1), cut.1.index(before.len() + 1));
        let (a, b) = (a.min(b), a.max(b));
        let (after, runs): (Vec<String>, Vec<Copied>) = if spliced {
            let after = before[..a].iter().chain(&put).chain(&before[b..]).cloned().collect();
            let head = Copied { to: 0, from: 0, len: a };
            let tail = Copied { to: a + put.len(), from: b, len: before.len() - b };
            let runs = match pairs_known.index(5) {
                0 => vec![],
                1 => vec![head],
                2 => vec![tail],
                3 => vec![head, tail],
                _ => vec![tail, head],
            };
            (after, runs)
        } else {
            let past_the_end = Copied { to: 0, from: 0, len: before.len().max(unrelated.len()) + 1 };
            (unrelated, vec![past_the_end].into_iter().filter(|_| pairs_known.index(2) == 0).collect())
        };
        let old: Vec<&str> = before.iter().map(String::as_str).collect();
        let new: Vec<&str> = after.iter().map(String::as_str).collect();
        let c = kpx_core::pace::at_once(Changes::between(&old, &new, &runs, &kpx_core::pace::Pace::never()));
        prop_assert_eq!(c.added.len(), new.len());
        let count = |lines: &mut dyn Iterator<Item = &str>| {
            let mut n: HashMap<String, i64> = HashMap::new();
            for l in lines.filter(|l| !l.trim().is_empty()) {
                *n.entry(l.to_string()).or_default() += 1;
            }
            n
        };
        let (was, is) = (count(&mut old.iter().copied()), count(&mut new.iter().copied()));
        let added = count(&mut new.iter().zip(&c.added).filter(|(_, a)| **a).map(|(l, _)| *l));
        let removed = count(&mut c.removed.iter().map(String::as_str));
        for line in was.keys().chain(is.keys()) {
            let (w, i) = (was.get(line).copied().unwrap_or(0), is.get(line).copied().unwrap_or(0));
            prop_assert_eq!(added.get(line).copied().unwrap_or(0), (i - w).max(0), "added {:?}", line);
            prop_assert_eq!(removed.get(line).copied().unwrap_or(0), (w - i).max(0), "removed {:?}", line);
        }
        prop_assert!(added.keys().chain(removed.keys()).all(|l| was.contains_key(l) || is.contains_key(l)));
        // The removed lines are in their old order.
        let mut rest = old.iter();
        prop_assert!(c.removed.iter().all(|r| rest.any(|l| l == r)), "{:?} out of order", c.removed);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[ -~\n\t]{0,200}") {
        let _ = analyze(&text);
    }
}
