//! The longest parts of the paced analysis, natively: the page analyses a large text a few
//! hundred units at a time between its reader's keys, and a part much longer than the others
//! is work done in one piece (an index made whole between two units). It times the analysis,
//! each mode's dataplane and the page's lines of each of its views. Run:
//! `cargo run --release -p kpx-core --example parts -- 44125 200` (Services × 10 endpoints,
//! units per part; add `nftables` or `ipvs` to time that mode alone).

use kpx_core::cluster::settings::Mode;
use kpx_core::pace::{InParts, Step};
use std::rc::Rc;
use std::time::Instant;

/// As the CLI allocates (see the workspace Cargo.toml).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let numbers: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let services = numbers.first().copied().unwrap_or(10_000);
    let units = numbers.get(1).copied().unwrap_or(200);
    let modes: Vec<Mode> = [
        ("iptables", Mode::Iptables),
        ("nftables", Mode::Nftables),
        ("ipvs", Mode::Ipvs),
    ]
    .into_iter()
    .filter(|(name, _)| {
        !args.iter().any(|a| a.parse::<usize>().is_err()) || args.iter().any(|a| a == name)
    })
    .map(|(_, mode)| mode)
    .collect();
    let text = kpx_core::scale::generate(services, 10, Mode::Iptables);
    let scenario = kpx_core::input::parse(&text).unwrap();
    let analysis = Rc::new(
        timed(
            "analysis",
            services,
            units,
            InParts::new(|pace| {
                let scenario = &scenario;
                async move { kpx_core::views::analyze_paced(scenario, None, &pace).await }
            }),
        )
        .unwrap(),
    );
    for mode in modes {
        let name = format!("{mode:?}").to_lowercase();
        timed(
            &format!("{name} dataplane"),
            services,
            100,
            analysis.clone().build_in_parts(mode, None),
        );
        // The page's lines of each of the mode's views, as the page makes them: each step as
        // many lines as fit in its time last step (the page's 10 ms, here a third of it: the
        // wasm is about three times slower), 100 to 2,000.
        for view in kpx_core::views::views(mode).iter().map(|v| v.name) {
            let lines = timed(
                &format!("{name} {view} lines"),
                services,
                0,
                analysis.clone().render_lines_in_parts(
                    kpx_core::views::Request {
                        mode: Some(mode),
                        view: Some(view.into()),
                        ..Default::default()
                    },
                    None,
                ),
            );
            // Let go of as the page lets go of them, a part at a time (not timed here).
            drop(lines);
        }
    }
}

/// `work` stepped `units` at a time to its end (0: as many as fit in 3.3 ms, as the page sizes
/// a view's steps), each step timed and the longest reported.
fn timed<T>(what: &str, services: usize, units: usize, mut work: InParts<'_, T>) -> T {
    let mut parts = Vec::new();
    let started = Instant::now();
    let mut step_units = if units == 0 { 2000 } else { units };
    let out = loop {
        let t = Instant::now();
        let step = work.step(step_units);
        let took = t.elapsed().as_secs_f64() * 1e3;
        parts.push(took);
        if units == 0 && took > 0.0 {
            step_units = ((step_units as f64 * 3.3 / took) as usize).clamp(100, 2000);
        }
        match step {
            Step::Done(out) => break out,
            Step::Paused(more) => work = more,
        }
    };
    let total = started.elapsed().as_secs_f64() * 1e3;
    let mut longest: Vec<usize> = (0..parts.len()).collect();
    longest.sort_by(|&a, &b| parts[b].total_cmp(&parts[a]));
    let mut sorted = parts.clone();
    sorted.sort_by(f64::total_cmp);
    let units = match units {
        0 => "3.3 ms of".to_string(),
        n => n.to_string(),
    };
    println!(
        "{what}, {services} Services: {} parts of {units} units in {total:.0} ms, median {:.2} ms; the longest:",
        parts.len(),
        sorted[sorted.len() / 2]
    );
    for &i in longest.iter().take(5) {
        println!("  part {i}: {:.1} ms", parts[i]);
    }
    out
}
