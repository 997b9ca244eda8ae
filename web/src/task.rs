//! Work in a task of its own, as soon as the page has answered what came first.
//!
//! The page splits long work (a large paste's reading, analysis and views, the link, letting go
//! of old views) into tasks of about 40 ms, each starting the next. Started with
//! `setTimeout(0)`, a task five or more deep in such a chain waits at least 4 ms (the HTML
//! standard's clamp): at 10,000 Services a paste's 42–49 such waits were 190–220 ms of its
//! 2.1–2.4 s. A message posted to a channel of the page's own starts a task without that wait,
//! and the browser still runs input and drawing between two tasks.

use std::cell::RefCell;
use std::collections::VecDeque;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::MessageChannel;

/// A channel whose messages run [`next`]'s work, in order; none where the page cannot make
/// one (the work then waits on a timer).
struct Channel {
    channel: MessageChannel,
    _run: Closure<dyn FnMut()>,
}

thread_local! {
    static WAITING: RefCell<VecDeque<Box<dyn FnOnce()>>> = RefCell::default();
    static CHANNEL: Option<Channel> = MessageChannel::new().ok().map(|channel| {
        let run = Closure::<dyn FnMut()>::new(run_one);
        channel.port1().set_onmessage(Some(run.as_ref().unchecked_ref()));
        Channel { channel, _run: run }
    });
}

/// Runs `work` in a task of its own, after what the page already has to do.
pub fn next(work: impl FnOnce() + 'static) {
    WAITING.with_borrow_mut(|waiting| waiting.push_back(Box::new(work)));
    let posted = CHANNEL.with(|c| {
        c.as_ref()
            .is_some_and(|c| c.channel.port2().post_message(&JsValue::NULL).is_ok())
    });
    if !posted {
        gloo::timers::callback::Timeout::new(0, run_one).forget();
    }
}

/// One message, one piece of work: the first waiting.
fn run_one() {
    if let Some(work) = WAITING.with_borrow_mut(VecDeque::pop_front) {
        work()
    }
}
