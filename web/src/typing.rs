//! Typing into a large text stays responsive: once analysing an edit takes longer than a
//! keystroke should, the next edits wait for a pause in the typing and are analysed once.
//!
//! At 1,000 Services an analysis takes a few hundred milliseconds; run on every key, each key
//! would wait for the last one's and typing would lag further and further behind. Small texts
//! (the article's clusters) are analysed on every key as before.

use crate::state::State;
use gloo::timers::callback::Timeout;
use yew::prelude::*;

/// An edit whose analysis took longer than this (ms) makes the next ones wait for a pause.
const BUSY_MS: f64 = 50.0;
/// How long typing must pause (ms) before a waiting edit is analysed.
const PAUSE_MS: u32 = 200;

fn now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// The editor's `oninput`: analyses the text now, or when typing pauses.
#[hook]
pub fn use_paced_edit(state: &UseStateHandle<State>) -> Callback<String> {
    // A waiting edit applies to the state as it is when the pause ends.
    let latest = use_mut_ref(|| state.clone());
    *latest.borrow_mut() = state.clone();
    let last_cost = use_mut_ref(|| 0.0_f64);
    let waiting = use_mut_ref(|| None::<Timeout>);
    use_callback((), move |text: String, _| {
        let edit = {
            let (latest, last_cost) = (latest.clone(), last_cost.clone());
            move |text: String| {
                let started = now();
                let state = latest.borrow().clone();
                if state.text == text {
                    return;
                }
                let mut next = (*state).clone();
                next.edit(text);
                state.set(next);
                *last_cost.borrow_mut() = now() - started;
            }
        };
        if *last_cost.borrow() > BUSY_MS {
            // The editor's text when the pause ends: the keys typed since, or what a scenario
            // or a link put there meanwhile (which is then the state's text already).
            let timeout = Timeout::new(PAUSE_MS, move || {
                edit(crate::editor::current_text().unwrap_or(text))
            });
            *waiting.borrow_mut() = Some(timeout);
        } else {
            waiting.borrow_mut().take();
            edit(text);
        }
    })
}
