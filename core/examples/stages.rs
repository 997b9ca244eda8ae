//! Where the time goes, stage by stage, for generated clusters:
//! `cargo run --release -p kpx-core --example stages -- 10000 10`.

use kpx_core::cluster::settings::Mode;

use kpx_core::views::{analyze, Request, ViewLines};
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

/// As the CLI allocates (see the workspace Cargo.toml), counting the bytes live, so each stage
/// can say what it keeps (the wasm heap is the browser's limit at scale), and the allocations
/// made (a figure this VM's noisy clock does not blur).
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
/// The most bytes live at once so far (the wasm heap never shrinks: its size is this).
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(live, Relaxed);
        ALLOCATIONS.fetch_add(1, Relaxed);
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let live = LIVE.fetch_add(new_size, Relaxed) + new_size;
        PEAK.fetch_max(live, Relaxed);
        LIVE.fetch_sub(layout.size(), Relaxed);
        ALLOCATIONS.fetch_add(1, Relaxed);
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Bytes allocated and not yet freed, in MiB.
fn live() -> f64 {
    LIVE.load(Relaxed) as f64 / (1 << 20) as f64
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (services, endpoints) = (
        args.first().copied().unwrap_or(1000),
        args.get(1).copied().unwrap_or(10),
    );
    // `--kubectl`: the same cluster as `kubectl get svc,endpointslices -A -o yaml` prints it.
    let generate = if std::env::args().any(|a| a == "--kubectl") {
        kpx_core::scale::generate_as_kubectl
    } else {
        kpx_core::scale::generate
    };
    let t = Instant::now();
    let text = generate(services, endpoints, Mode::Iptables);
    println!(
        "generate YAML        {:>9.1} ms  ({} bytes)",
        t.elapsed().as_secs_f64() * 1e3,
        text.len()
    );
    let t = Instant::now();
    // Read as the page reads it, keeping its sections: a key's text is read after it
    // (`read_again`), sharing the objects of the sections the key left.
    let mut reading = kpx_core::input::Reading::new(std::rc::Rc::<str>::from(text.as_str()));
    while !reading.step(usize::MAX) {}
    let (scenario, sections) = reading.finish_keeping();
    let scenario = scenario.unwrap();
    println!(
        "input::parse         {:>9.1} ms  (live {:.0} MiB, at most {:.0} MiB)",
        t.elapsed().as_secs_f64() * 1e3,
        live(),
        PEAK.load(Relaxed) as f64 / (1 << 20) as f64
    );
    let t = Instant::now();
    if let Some(edited) = keyed(&text, services) {
        let t = Instant::now();
        let mut reading = kpx_core::input::Reading::after(edited.as_str().into(), sections.clone());
        while !reading.step(usize::MAX) {}
        let (all, found) = reading.sections();
        reading.finish().unwrap();
        println!(
            "  again after a key    {:>9.1} ms  ({} of {all} sections read)",
            t.elapsed().as_secs_f64() * 1e3,
            all - found
        );
    }
    let cluster = kpx_core::cluster::build(&scenario, None).unwrap();
    println!(
        "cluster::build       {:>9.1} ms  (live {:.0} MiB)",
        t.elapsed().as_secs_f64() * 1e3,
        live()
    );
    let (t, made) = (Instant::now(), ALLOCATIONS.load(Relaxed));
    let dp = kpx_core::iptables::build(&cluster).unwrap();
    println!(
        "iptables::build      {:>9.1} ms  (live {:.0} MiB; {} allocations)",
        t.elapsed().as_secs_f64() * 1e3,
        live(),
        ALLOCATIONS.load(Relaxed) - made
    );
    // A key typed into one Service's port, its dataplane built after the one before it (the
    // page's edit: the other service ports' chains and rules are copied).
    if let Some(edited) = keyed(&text, services) {
        let keyed = kpx_core::cluster::build(&read_again(&edited, &sections), None).unwrap();
        let t = Instant::now();
        let after = kpx_core::iptables::build_again(&keyed, &dp).unwrap();
        println!(
            "  after a key          {:>9.1} ms  ({} service ports copied)",
            t.elapsed().as_secs_f64() * 1e3,
            after.ports_copied()
        );
    }
    drop(dp);
    let t = Instant::now();
    let table = kpx_core::nftables::build(&cluster);
    println!(
        "nftables::build      {:>9.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    if let Some(edited) = keyed(&text, services) {
        let keyed = kpx_core::cluster::build(&read_again(&edited, &sections), None).unwrap();
        let t = Instant::now();
        let after = kpx_core::nftables::build_again(&keyed, &table);
        println!(
            "  after a key          {:>9.1} ms  ({} service ports copied)",
            t.elapsed().as_secs_f64() * 1e3,
            after.ports_copied()
        );
    }
    drop(table);
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
    drop((scenario, cluster));
    println!("  (live with the analysis alone: {:.0} MiB)", live());
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
            "build+render {:<8} {:<8}{:>9.1} ms  ({} bytes; live {:.0} MiB)",
            mode.as_str(),
            view,
            t.elapsed().as_secs_f64() * 1e3,
            out.len(),
            live()
        );
        if view == "restore" {
            let t = Instant::now();
            let lines = a.render_lines(&Request {
                mode: Some(mode),
                view: Some(view.into()),
                ..Default::default()
            });
            println!(
                "  the page's lines of it  {:>9.1} ms  ({} lines; live {:.0} MiB)",
                t.elapsed().as_secs_f64() * 1e3,
                lines.as_ref().map_or(0, ViewLines::len),
                live()
            );
        }
    }
}

/// `text` read after the text whose reading kept `sections`, as the page reads an edit.
fn read_again(text: &str, sections: &kpx_core::input::Sections) -> kpx_core::input::Scenario {
    let mut reading = kpx_core::input::Reading::after(text.into(), sections.clone());
    while !reading.step(usize::MAX) {}
    reading.finish().unwrap()
}

/// The text with a key typed into the middle Service's port (`port: 80` becomes `801`).
fn keyed(text: &str, services: usize) -> Option<String> {
    // Its name ends in `, ` in the terse text, at the line's end as kubectl prints it.
    let name = format!("name: svc{}", services / 2);
    let (at, _) = text
        .match_indices(&name)
        .find(|(at, _)| matches!(text.as_bytes().get(at + name.len()), Some(b',' | b'\n')))?;
    let at = at + text[at..].find("port: 80")? + "port: 8".len();
    Some(format!("{}1{}", &text[..at], &text[at..]))
}
