//! YAML → cluster → every mode's dataplane → every view: whatever the text, kpx answers with
//! views or with an error, never a panic or a hang.
#![no_main]

use kpx_core::cluster::settings::Mode;
use kpx_core::views::{analyze, views, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(a) = analyze(text) else {
        return;
    };
    for mode in [Mode::Iptables, Mode::Ipvs, Mode::Nftables] {
        for view in views(mode) {
            let req = Request {
                mode: Some(mode),
                view: Some(view.name.to_string()),
                ..Default::default()
            };
            let _ = a.render(&req);
            let _ = a.render_lines(&req);
        }
    }
});
