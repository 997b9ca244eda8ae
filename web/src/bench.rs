//! Hooks for the browser benchmark (`tests/browser/bench.py`) and tests, called through Trunk's
//! `window.wasmBindings`: kpx-core's own work timed inside the wasm, without drawing, and a
//! deliberate panic. The page never calls them; they cost a few kilobytes.

use kpx_core::cluster::settings::Mode;
use kpx_core::trace::session::{simulate, Prepared, Request as Walk};
use kpx_core::views::{analyze, Request};
use wasm_bindgen::prelude::*;

fn now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// The wasm heap's size in bytes. Linear memory only grows, so read after a run on a fresh
/// page it is that run's high-water mark.
#[wasm_bindgen(js_name = kpxBenchMemory)]
pub fn memory_bytes() -> f64 {
    let memory = wasm_bindgen::memory();
    js_sys::Reflect::get(&memory, &"buffer".into())
        .and_then(|b| js_sys::Reflect::get(&b, &"byteLength".into()))
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0)
}

/// How many texts the page has read, and how many of their sections it read (the rest were
/// found in the reading before, `kpx_core::input::Reading::after`).
/// (As "readings sections": the page's other hooks return strings already.)
#[wasm_bindgen(js_name = kpxSectionsRead)]
pub fn sections_read() -> String {
    let (readings, sections) = crate::state::READINGS.with(|r| r.get());
    format!("{readings} {sections}")
}

/// The editor's whole text as typed (a long text's text box holds only the lines around
/// those in sight, `windowed`).
#[wasm_bindgen(js_name = kpxEditorText)]
pub fn editor_text() -> Option<String> {
    crate::editor::current_text().map(|t| t.to_string())
}

/// The generated cluster's text (as `kpxBenchGenerate` reads it), for the benchmark to paste
/// into the editor: made in the page, as 38 MB through WebDriver would be slow. `kubectl`: the
/// same cluster as `kubectl get svc,endpointslices -A -o yaml` prints it (one List).
#[wasm_bindgen(js_name = kpxBenchText)]
pub fn bench_text(
    services: usize,
    endpoints: usize,
    mode: &str,
    kubectl: bool,
) -> Result<String, String> {
    let mode = Mode::parse(mode).ok_or_else(|| format!("no mode {mode}"))?;
    let generate = if kubectl {
        kpx_core::scale::generate_as_kubectl
    } else {
        kpx_core::scale::generate
    };
    Ok(generate(services, endpoints, mode))
}

/// A generated cluster of `services` NodePort Services × `endpoints` (the one `kpx scale` and
/// BENCHMARKS.md use), through every stage of one mode's view, and optionally the annotated
/// lines the page draws from. Returns JSON: milliseconds per
/// stage, sizes in bytes, and the heap after the parse, after the render and at the end.
#[wasm_bindgen(js_name = kpxBenchGenerate)]
pub fn bench_generate(
    services: usize,
    endpoints: usize,
    mode: &str,
    view: &str,
    page_lines: bool,
) -> Result<String, String> {
    let mode = Mode::parse(mode).ok_or_else(|| format!("no mode {mode}"))?;
    let t0 = now();
    let text = kpx_core::scale::generate(services, endpoints, mode);
    let t1 = now();
    let a = analyze(&text).map_err(|e| e.to_string())?;
    let t2 = now();
    let parse_memory = memory_bytes();
    let req = Request {
        mode: Some(mode),
        view: Some(view.to_string()),
        ..Default::default()
    };
    // The mode's dataplane is built when first asked for; building it here splits the
    // figure into the build and the render.
    a.build(mode);
    let t_built = now();
    let output_bytes = a.render(&req)?.len();
    let t3 = now();
    let render_memory = memory_bytes();
    // (The text is dropped here: the page draws from its lines and never holds both.)
    // The page's annotated lines (skipped for the largest clusters: millions of them).
    let lines = if page_lines {
        a.render_lines(&req)?.len()
    } else {
        0
    };
    let t4 = now();
    Ok(serde_json::json!({
        "services": services,
        "endpoints": endpoints,
        "mode": mode.as_str(),
        "view": view,
        "yaml_bytes": text.len(),
        "generate_ms": t1 - t0,
        "parse_ms": t2 - t1,
        "build_render_ms": t3 - t2,
        "build_ms": t_built - t2,
        "output_bytes": output_bytes,
        "page_lines_ms": t4 - t3,
        "lines": lines,
        "memory_bytes": memory_bytes(),
        "parse_memory_bytes": parse_memory,
        "render_memory_bytes": render_memory,
    })
    .to_string())
}

/// Walks packets through the article's cluster in iptables mode, from a process on the node
/// to the nginx Service: `traces` single traced connections (parsed once), then a quiet
/// simulation of `connections`. Returns JSON with milliseconds.
#[wasm_bindgen(js_name = kpxBenchPackets)]
pub fn bench_packets(traces: u32, connections: usize) -> Result<String, String> {
    let text = crate::scenarios::find("article")
        .ok_or("no article scenario")?
        .text;
    let req = Walk {
        from: "node:minikube".into(),
        to: "10.109.134.113:8080".into(),
        protocol: None,
        mode: Some(Mode::Iptables),
        seed: 1,
    };
    let t0 = now();
    let prepared = Prepared::new(text, &req)?;
    let t1 = now();
    for seed in 0..traces {
        prepared.trace(u64::from(seed), 1)?;
    }
    let t2 = now();
    let sim = simulate(text, &req, connections, 1)?;
    let t3 = now();
    Ok(serde_json::json!({
        "prepare_ms": t1 - t0,
        "trace_ms": (t2 - t1) / f64::from(traces.max(1)),
        "connections": connections,
        "simulate_ms": t3 - t2,
        "endpoints": sim.endpoints,
        "memory_bytes": memory_bytes(),
    })
    .to_string())
}

/// Panics, for the test that a bug shows a message and keeps the reader's text
/// (tests/browser/run.py).
#[wasm_bindgen(js_name = kpxTestPanic)]
pub fn test_panic() {
    panic!("a panic the tests asked for");
}
