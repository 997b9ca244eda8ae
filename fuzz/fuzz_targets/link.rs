//! A shared link's state, as anyone may type or tamper with it: decoded into a state or refused
//! with a reason, within the size bounds.
#![no_main]

use kpx_core::share;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(fragment) = std::str::from_utf8(data) else {
        return;
    };
    // Raw, and as a link (the corpus holds real links' states to mutate).
    let _ = share::decode(fragment);
    if let Ok(state) = share::decode(&format!("k1.{fragment}")) {
        // What decodes must encode and decode to the same state.
        let again = share::decode(&share::encode(&state)).expect("a re-encoded state decodes");
        assert_eq!(again, state);
    }
});
