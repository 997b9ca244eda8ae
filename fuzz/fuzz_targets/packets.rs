//! Packets through whatever cluster the text describes: a traced connection and a short
//! simulation in each mode, from the first Pod (or a process on the node) to the first Service
//! port.
#![no_main]

use kpx_core::cluster::settings::Mode;
use kpx_core::trace::session::{simulate, trace, Request};
use kpx_core::views::analyze;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(a) = analyze(text) else {
        return;
    };
    let c = &a.cluster;
    let from = match c.pods.first() {
        Some(p) => format!("{}/{}", p.reference.namespace, p.reference.name),
        None => format!("node:{}", c.settings.node_name),
    };
    let Some(svc) = c.services.first() else {
        return;
    };
    let to = format!("{}/{}", svc.reference.namespace, svc.reference.name);
    for mode in [Mode::Iptables, Mode::Ipvs, Mode::Nftables] {
        let req = Request {
            from: from.clone(),
            to: to.clone(),
            protocol: None,
            mode: Some(mode),
            seed: data.len() as u64,
        };
        let _ = trace(text, &req, 2);
        let _ = simulate(text, &req, 20, 2);
    }
});
