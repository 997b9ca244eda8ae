//! Large saved work is opened a part at a time, before the page is mounted.
//!
//! The page opens with the work in its address (a link) or the work it kept; at 44,125
//! Services that is 38 MB of state, and decoding it (base64, DEFLATE, JSON) was a piece of
//! 155-203 ms before the first drawing (53 ms at 10,000 Services, in a first task of 130). A
//! large fragment is decoded first, a part at a time ([`kpx_core::share::decoding`]), and
//! the page is mounted after, in a task of its own. Nothing is drawn, edited or kept meanwhile,
//! so nothing can be lost: the page then opens the decoded work ([`open`]) as it would have
//! decoded it itself.

use crate::state::timed;
use kpx_core::share::{self, Shared};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Fragments longer than this are decoded before the page is mounted (about 2,000 Services).
const LARGE: usize = 128 << 10;
/// Calls of the inflater (64 KiB of state each) between two looks at the clock.
const INFLATED: usize = 4;

thread_local! {
    /// The fragment decoded before mounting, and what it holds.
    static DECODED: RefCell<Option<(String, Result<Shared, String>)>> = const { RefCell::new(None) };
}

/// Mounts the page (`mount`) once `fragment`, the work it will open, is decoded if large.
pub fn then_mount(fragment: Option<String>, mount: impl FnOnce() + 'static) {
    let Some(fragment) = fragment.filter(|f| f.len() > LARGE) else {
        return mount();
    };
    let work = share::decoding(fragment.clone());
    crate::typing::in_tasks(
        "kpx:open",
        work,
        INFLATED,
        Rc::new(Cell::new(false)),
        move |decoded| {
            DECODED.set(Some((fragment, decoded)));
            // The drawing in a task of its own.
            crate::task::next(mount);
        },
    );
}

/// The state in `fragment`: decoded before the page was mounted, or now.
pub fn open(fragment: &str) -> Result<Shared, String> {
    match DECODED.take() {
        Some((decoded_fragment, decoded)) if decoded_fragment == fragment => decoded,
        _ => timed("kpx:open", || share::decode(fragment)),
    }
}
