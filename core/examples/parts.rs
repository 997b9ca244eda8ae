//! The longest parts of the paced analysis, natively: the page analyses a large text a few
//! hundred units at a time between its reader's keys, and a part much longer than the others
//! is work done in one piece (an index made whole between two units). It times the analysis,
//! the iptables dataplane and the page's lines of each iptables view. Run:
//! `cargo run --release -p kpx-core --example parts -- 44125 200` (Services × 10 endpoints,
//! units per part).

use kpx_core::pace::{InParts, Step};
use std::time::Instant;

/// As the CLI allocates (see the workspace Cargo.toml).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let services = args.first().copied().unwrap_or(10_000);
    let units = args.get(1).copied().unwrap_or(200);
    let text = kpx_core::scale::generate(services, 10, kpx_core::cluster::settings::Mode::Iptables);
    let scenario = kpx_core::input::parse(&text).unwrap();
    let mut work = InParts::new(|pace| {
        let scenario = &scenario;
        async move { kpx_core::views::analyze_paced(scenario, None, &pace).await }
    });
    let mut parts = Vec::new();
    let started = Instant::now();
    let analysis = std::rc::Rc::new(loop {
        let t = Instant::now();
        let step = work.step(units);
        parts.push(t.elapsed().as_secs_f64() * 1e3);
        match step {
            Step::Done(analysis) => break analysis.unwrap(),
            Step::Paused(more) => work = more,
        }
    });
    let total = started.elapsed().as_secs_f64() * 1e3;
    report("analysis", services, units, &parts, total);
    let mut parts = Vec::new();
    let started = Instant::now();
    let mut work = analysis
        .clone()
        .build_in_parts(kpx_core::cluster::settings::Mode::Iptables);
    loop {
        let t = Instant::now();
        let step = work.step(100);
        parts.push(t.elapsed().as_secs_f64() * 1e3);
        match step {
            Step::Done(()) => break,
            Step::Paused(more) => work = more,
        }
    }
    report(
        "iptables dataplane",
        services,
        100,
        &parts,
        started.elapsed().as_secs_f64() * 1e3,
    );
    // The page's lines of each iptables view, as the page makes them (2,000 lines a part).
    for view in ["restore", "save", "list"] {
        let mut parts = Vec::new();
        let started = Instant::now();
        let mut work = analysis
            .clone()
            .render_lines_in_parts(kpx_core::views::Request {
                mode: Some(kpx_core::cluster::settings::Mode::Iptables),
                view: Some(view.into()),
                ..Default::default()
            });
        loop {
            let t = Instant::now();
            let step = work.step(2000);
            parts.push(t.elapsed().as_secs_f64() * 1e3);
            match step {
                Step::Done(lines) => break drop(lines.unwrap()),
                Step::Paused(more) => work = more,
            }
        }
        report(
            &format!("iptables {view} lines"),
            services,
            2000,
            &parts,
            started.elapsed().as_secs_f64() * 1e3,
        );
    }
}

fn report(what: &str, services: usize, units: usize, parts: &[f64], total: f64) {
    let mut longest: Vec<usize> = (0..parts.len()).collect();
    longest.sort_by(|&a, &b| parts[b].total_cmp(&parts[a]));
    let mut sorted = parts.to_vec();
    sorted.sort_by(f64::total_cmp);
    println!(
        "{what}, {services} Services: {} parts of {units} units in {total:.0} ms, median {:.2} ms; the longest:",
        parts.len(),
        sorted[sorted.len() / 2]
    );
    for &i in longest.iter().take(5) {
        println!("  part {i}: {:.1} ms", parts[i]);
    }
}
