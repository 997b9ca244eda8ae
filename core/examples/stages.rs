//! Where the time goes, stage by stage, for generated clusters:
//! `cargo run --release -p kpx-core --example stages -- 10000 10`.

use kpx_core::cluster::settings::Mode;

/// As the CLI allocates (see the workspace Cargo.toml).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use kpx_core::views::{analyze, Request};
use std::time::Instant;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (services, endpoints) = (
        args.first().copied().unwrap_or(1000),
        args.get(1).copied().unwrap_or(10),
    );
    let t = Instant::now();
    let text = kpx_core::scale::generate(services, endpoints, Mode::Iptables);
    println!(
        "generate YAML        {:>9.1} ms  ({} bytes)",
        t.elapsed().as_secs_f64() * 1e3,
        text.len()
    );
    let t = Instant::now();
    let scenario = kpx_core::input::parse(&text).unwrap();
    println!(
        "input::parse         {:>9.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let cluster = kpx_core::cluster::build(&scenario, None).unwrap();
    println!(
        "cluster::build       {:>9.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let dp = kpx_core::iptables::build(&cluster).unwrap();
    println!(
        "iptables::build      {:>9.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    drop(dp);
    let t = Instant::now();
    let _ = kpx_core::nftables::build(&cluster);
    println!(
        "nftables::build      {:>9.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let _ = kpx_core::ipvs::build(&cluster);
    println!(
        "ipvs::build          {:>9.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let a = analyze(&text).unwrap();
    println!(
        "analyze (lazy)       {:>9.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    for (mode, view) in [
        (Mode::Iptables, "restore"),
        (Mode::Iptables, "save"),
        (Mode::Nftables, "nft"),
        (Mode::Ipvs, "ipvsadm"),
    ] {
        let t = Instant::now();
        let out = a
            .render(&Request {
                mode: Some(mode),
                view: Some(view.into()),
                ..Default::default()
            })
            .unwrap();
        println!(
            "build+render {:<8} {:<8}{:>9.1} ms  ({} bytes)",
            mode.as_str(),
            view,
            t.elapsed().as_secs_f64() * 1e3,
            out.len()
        );
    }
}
