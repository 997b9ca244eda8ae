//! How long kpx takes from YAML text to a rendered view, at the sizes the article talks about
//! (thousands of Services with ~10 endpoints each). Run: `cargo bench -p kpx-core --bench generate`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use kpx_core::views::{analyze, Request};
use std::fmt::Write;
use std::hint::black_box;

/// As the CLI allocates (see the workspace Cargo.toml).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `services` ClusterIP Services with `endpoints` ready endpoints each, spread over two nodes.
fn cluster(services: usize, endpoints: usize) -> String {
    let mut y = String::from("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nhostnameOverride: node-a\nclusterCIDR: 10.244.0.0/16\n");
    for s in 0..services {
        write!(
            y,
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: svc{s}, namespace: bench}}\nspec:\n  type: NodePort\n  clusterIP: 10.96.{}.{}\n  ports:\n  - {{name: http, port: 80, nodePort: {}}}\n",
            s / 250,
            s % 250 + 2,
            30000 + s
        )
        .unwrap();
        write!(y, "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: svc{s}-1\n  namespace: bench\n  labels: {{kubernetes.io/service-name: svc{s}}}\naddressType: IPv4\nports: [{{name: http, port: 8080}}]\nendpoints:\n").unwrap();
        for e in 0..endpoints {
            let n = s * endpoints + e;
            writeln!(
                y,
                "- {{addresses: [10.244.{}.{}], nodeName: node-{}}}",
                n / 250,
                n % 250 + 2,
                if e % 2 == 0 { "a" } else { "b" }
            )
            .unwrap();
        }
    }
    y
}

fn generate(c: &mut Criterion) {
    let mut g = c.benchmark_group("yaml_to_restore");
    g.sample_size(10);
    for (services, endpoints) in [(10, 3), (100, 10), (1000, 10)] {
        let text = cluster(services, endpoints);
        g.bench_with_input(
            BenchmarkId::from_parameter(format!("{services}x{endpoints}")),
            &text,
            |b, text| {
                b.iter(|| {
                    let a = analyze(black_box(text)).unwrap();
                    a.render(&Request {
                        view: Some("restore".into()),
                        ..Default::default()
                    })
                    .unwrap()
                })
            },
        );
    }
    g.finish();
}

/// The stages separately, at 1000 Services x 10 endpoints.
fn stages(c: &mut Criterion) {
    let text = cluster(1000, 10);
    let mut g = c.benchmark_group("stages_1000x10");
    g.sample_size(10);
    g.bench_function("input::parse", |b| {
        b.iter(|| kpx_core::input::parse(black_box(&text)).unwrap())
    });
    // A key typed into one Service's port, read again after the text before it (the page's
    // edit: only the section the key changed is read).
    let shared: std::rc::Rc<str> = text.as_str().into();
    let mut first = kpx_core::input::Reading::new(shared);
    while !first.step(usize::MAX) {}
    let (first, sections) = first.finish_keeping();
    let at = text.find("name: svc500").unwrap();
    let at = at + text[at..].find("port: 80").unwrap() + "port: 8".len();
    let edited: std::rc::Rc<str> = format!("{}1{}", &text[..at], &text[at..]).into();
    g.bench_function("input: a key typed, read again", |b| {
        b.iter(|| {
            let mut reading =
                kpx_core::input::Reading::after(black_box(edited.clone()), sections.clone());
            while !reading.step(usize::MAX) {}
            reading.finish().unwrap()
        })
    });
    let scenario = first.unwrap();
    g.bench_function("cluster::build", |b| {
        b.iter(|| kpx_core::cluster::build(black_box(&scenario), None).unwrap())
    });
    let cluster = kpx_core::cluster::build(&scenario, None).unwrap();
    g.bench_function("iptables::build", |b| {
        b.iter(|| kpx_core::iptables::build(black_box(&cluster)).unwrap())
    });
    // The same key's dataplane, built after the one before it (the page's edit: the other
    // 999 service ports' chains and rules are copied, `iptables::reuse`; the text read again
    // after the one before, as the page reads it, so that the objects of the sections the key
    // left are shared, and the other 999 Services' ports with them).
    let before = kpx_core::iptables::build(&cluster).unwrap();
    let mut keyed = kpx_core::input::Reading::after(edited.clone(), sections.clone());
    while !keyed.step(usize::MAX) {}
    let keyed = kpx_core::cluster::build(&keyed.finish().unwrap(), None).unwrap();
    g.bench_function("iptables::build after a key", |b| {
        b.iter(|| kpx_core::iptables::build_again(black_box(&keyed), &before).unwrap())
    });
    // nftables mode's likewise (`nftables::reuse`).
    let before = kpx_core::nftables::build(&cluster);
    g.bench_function("nftables::build", |b| {
        b.iter(|| kpx_core::nftables::build(black_box(&cluster)))
    });
    g.bench_function("nftables::build after a key", |b| {
        b.iter(|| kpx_core::nftables::build_again(black_box(&keyed), &before))
    });
    // IPVS mode's: the service port map made from the one before (`ipvs::build_after`).
    let before = kpx_core::ipvs::build(&cluster);
    g.bench_function("ipvs::build", |b| {
        b.iter(|| kpx_core::ipvs::build(black_box(&cluster)))
    });
    g.bench_function("ipvs::build after a key", |b| {
        b.iter(|| kpx_core::ipvs::build_again(black_box(&keyed), &before))
    });
    let a = analyze(&text).unwrap();
    for view in ["restore", "save"] {
        g.bench_function(format!("render {view}"), |b| {
            b.iter(|| {
                a.render(&Request {
                    view: Some(view.into()),
                    ..Default::default()
                })
                .unwrap()
            })
        });
    }
    // The page's save view after the key: made anew, and made from the one shown before it
    // (the lines the key left as they were copied), then what the key changed in it.
    let save = Request {
        view: Some("save".into()),
        ..Default::default()
    };
    // (The analysis after the key is made as the page makes it: the text read after the one
    // before, the cluster and the dataplane built after theirs, so that what the key left is
    // shared with the view before, as on the page. Built anew, every rule compared in full.)
    let shown_analysis =
        std::rc::Rc::new(kpx_core::views::analyze_parsed(&scenario, None).unwrap());
    let shown = std::rc::Rc::new(shown_analysis.render_lines(&save).unwrap());
    let mut keyed = kpx_core::input::Reading::after(edited.clone(), sections.clone());
    while !keyed.step(usize::MAX) {}
    let keyed = keyed.finish().unwrap();
    let analysed_after = || {
        kpx_core::pace::at_once(kpx_core::views::analyze_after(
            &keyed,
            None,
            Some(&shown_analysis),
            &kpx_core::pace::Pace::never(),
        ))
        .unwrap()
    };
    // The page's analysis step of a key (its cluster, and the index of the lines that wrote
    // each object), the objects checked clean before not checked again.
    g.bench_function("analysis after a key", |b| b.iter(analysed_after));
    let keyed = std::rc::Rc::new(analysed_after());
    keyed
        .clone()
        .build_in_parts(
            kpx_core::cluster::settings::Mode::Iptables,
            Some(shown_analysis.clone()),
        )
        .finish();
    let made = keyed.render_lines(&save).unwrap();
    g.bench_function("save view lines after a key, anew", |b| {
        b.iter(|| keyed.render_lines(black_box(&save)).unwrap())
    });
    g.bench_function("save view lines after a key, copied", |b| {
        b.iter(|| {
            let before = Some((shown_analysis.clone(), shown.clone()));
            keyed
                .clone()
                .render_lines_in_parts(save.clone(), before)
                .finish()
                .unwrap()
        })
    });
    let copied = keyed
        .clone()
        .render_lines_in_parts(save.clone(), Some((shown_analysis.clone(), shown.clone())))
        .finish()
        .unwrap();
    let never = kpx_core::pace::Pace::never();
    let between = |made: &kpx_core::views::ViewLines, runs: &[kpx_core::views::Copied]| {
        kpx_core::pace::at_once(kpx_core::changes::Changes::between(
            &*shown, made, runs, &never,
        ))
    };
    g.bench_function("a key's changes, every line compared", |b| {
        b.iter(|| between(black_box(&made), &[]))
    });
    g.bench_function("a key's changes, the copied lines paired", |b| {
        b.iter(|| between(black_box(&copied), &copied.copied_from(&shown)))
    });
    g.finish();
}

/// The goal as it is stated: 10,000 Services × 10 endpoints, the iptables dataplane
/// built from the cluster and written as `iptables-restore` input, repeated in one process
/// (so the allocator reuses its pages; `core/examples/stages.rs` times a fresh process).
fn scale(c: &mut Criterion) {
    use kpx_core::iptables::render::{write_restore, Select, TextSink};
    let text = kpx_core::scale::generate(10_000, 10, kpx_core::cluster::settings::Mode::Iptables);
    let scenario = kpx_core::input::parse(&text).unwrap();
    let cluster = kpx_core::cluster::build(&scenario, None).unwrap();
    let mut g = c.benchmark_group("scale_10000x10");
    g.sample_size(10);
    g.bench_function("iptables build + restore", |b| {
        b.iter(|| {
            let dp = kpx_core::iptables::build(black_box(&cluster)).unwrap();
            let mut sink = TextSink::default();
            kpx_core::pace::at_once(write_restore(
                &dp,
                kpx_core::iptables::Layout::Current,
                Select::default(),
                &mut sink,
            ));
            sink.finish()
        })
    });
    // Its parts, to see where the time goes: kube-proxy's service port map alone, and the
    // text alone from a dataplane built once.
    g.bench_function("service port map", |b| {
        b.iter(|| kpx_core::proxy::service_ports(black_box(&cluster)))
    });
    let dp = kpx_core::iptables::build(&cluster).unwrap();
    g.bench_function("restore text", |b| {
        b.iter(|| {
            let mut sink = TextSink::default();
            kpx_core::pace::at_once(write_restore(
                black_box(&dp),
                kpx_core::iptables::Layout::Current,
                Select::default(),
                &mut sink,
            ));
            sink.finish()
        })
    });
    g.finish();
}

/// Packets through the article's cluster (iptables mode): one traced connection, with and
/// without parsing the text first, and a quiet simulation of 10,000 connections.
fn packets(c: &mut Criterion) {
    use kpx_core::trace::session::{simulate, trace, Prepared, Request as Walk};
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/scenarios/seed-iptables.yaml"
    ))
    .unwrap();
    let req = Walk {
        from: "node:minikube".into(),
        to: "10.109.134.113:8080".into(),
        protocol: None,
        mode: None,
        seed: 1,
    };
    let mut g = c.benchmark_group("packets_article");
    let prepared = Prepared::new(&text, &req).unwrap();
    g.bench_function("one trace (parsed once)", |b| {
        b.iter(|| prepared.trace(black_box(7), 1).unwrap())
    });
    g.bench_function("one trace (from the text)", |b| {
        b.iter(|| trace(black_box(&text), &req, 1).unwrap())
    });
    g.sample_size(10);
    g.bench_function("simulate 10,000 connections", |b| {
        b.iter(|| simulate(black_box(&text), &req, 10_000, 1).unwrap())
    });
    g.finish();
}

criterion_group!(benches, generate, stages, scale, packets);
criterion_main!(benches);
