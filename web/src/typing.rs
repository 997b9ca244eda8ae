//! Typing into a large text stays responsive: once analysing an edit takes longer than a
//! keystroke should, the next edits wait for a pause in the typing and are analysed once.
//!
//! At 1,000 Services an analysis takes a few hundred milliseconds; run on every key, each key
//! would wait for the last one's and typing would lag further and further behind. Small texts
//! (the article's clusters) are analysed on every key as before.
//!
//! A text of more than [`LARGE_TEXT`] bytes is never analysed inside its input event either (a
//! paste of 10,000 Services would hold the page there, with nothing on screen): the edit
//! starts, in steps, once the page has painted its word that it is busy. While an edit
//! waits or runs, the page says so ("analysing the new text…", see [`busy`]): set outside Yew,
//! so that saying it costs no drawing of the whole page, and painted before the work starts.
//!
//! A waiting edit then runs in four tasks ([`in_steps`]): the analysis, the views, the edit's
//! changes, and the drawing. At 1,000 Services each takes under 100 ms, so the page answers
//! between them; in one task they were 190 ms. A key typed between them owns the outcome: the
//! older edit is dropped rather than set, since setting it would write its text over the key
//! in the editor ([`Meanwhile`]).

use crate::state::State;
use gloo::timers::callback::Timeout;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use yew::prelude::*;

/// An edit whose analysis took longer than this (ms) makes the next ones wait for a pause.
const BUSY_MS: f64 = 50.0;
/// How long typing must pause (ms) before a waiting edit is analysed.
const PAUSE_MS: u32 = 200;
/// A text this large (bytes) waits for a pause even before its analysis has been timed: an
/// edit of 300 Services × 10 endpoints (300 KB) costs about 50 ms in the wasm, [`BUSY_MS`].
const LARGE_TEXT: usize = 256 << 10;

/// Says on the page whether an edit is waiting or being analysed: the class `waiting` on the
/// "analysing the new text…" status (`#busy`), which the stylesheet shows. Only it changes:
/// an attribute on the document's root restyled the whole page, and dimming the views cost the
/// next paint 50 ms at 1,000 Services.
fn busy(on: bool) {
    let status = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("busy"));
    if let Some(status) = status {
        let _ = status.class_list().toggle_with_force("waiting", on);
    }
}

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
    // The pending start of a waiting edit (a timer or an animation frame): replacing it, or
    // taking it, cancels it.
    let waiting = use_mut_ref(|| None::<Box<dyn std::any::Any>>);
    // Every input counted, so that an edit running in steps knows when a newer key came.
    let inputs: Rc<Cell<u64>> = use_memo((), |_| Cell::new(0));
    use_callback((), move |text: String, _| {
        inputs.set(inputs.get() + 1);
        let edit = {
            let (latest, last_cost) = (latest.clone(), last_cost.clone());
            move |text: String| {
                let started = now();
                let state = latest.borrow().clone();
                busy(false);
                if state.text == text {
                    return;
                }
                let mut next = (*state).clone();
                next.edit(text);
                state.set(next);
                *last_cost.borrow_mut() = now() - started;
            }
        };
        let typing_into_large = *last_cost.borrow() > BUSY_MS;
        if typing_into_large || text.len() > LARGE_TEXT {
            busy(true);
            // The editor's text when the edit starts: the keys typed since, or what a scenario
            // or a link put there meanwhile (which is then the state's text already).
            let (latest, last_cost, inputs) = (latest.clone(), last_cost.clone(), inputs.clone());
            let start = move || {
                let text = crate::editor::current_text().unwrap_or(text);
                in_steps(latest, last_cost, inputs, text, edit);
            };
            let pending: Box<dyn std::any::Any> = if typing_into_large {
                Box::new(Timeout::new(PAUSE_MS, start))
            } else {
                // A large text arriving whole (a paste) is no burst of keys to wait out: it
                // starts once the page has painted its word that it is busy.
                Box::new(gloo::render::request_animation_frame(move |_| {
                    Timeout::new(0, start).forget();
                }))
            };
            *waiting.borrow_mut() = Some(pending);
        } else {
            waiting.borrow_mut().take();
            edit(text);
        }
    })
}

/// A large text's edit in four tasks, so that no one of them holds the page for long: the
/// analysis, the views, what the edit changed, and the drawing (which follows the state's
/// change in its own task). Before each task it checks what happened meanwhile ([`Meanwhile`]).
fn in_steps(
    latest: Rc<RefCell<UseStateHandle<State>>>,
    last_cost: Rc<RefCell<f64>>,
    inputs: Rc<Cell<u64>>,
    text: String,
    edit: impl FnOnce(String) + 'static,
) {
    // The state's handle, to set the edit's result through.
    let base = latest.borrow().clone();
    if base.text == text {
        return busy(false);
    }
    busy(true);
    let started = now();
    let analysed = base.analyse(text.clone());
    let analysis_cost = now() - started;
    let from = inputs.get();
    // A state handle reads the state as it is now, not as it was, so the start is remembered:
    // its text, and where the state then lived (a state set since lives elsewhere).
    let (start_text, start_at) = (base.text.clone(), &*base as *const State);
    let typed = move || inputs.get() != from;
    let meanwhile = {
        let typed = typed.clone();
        move || {
            let state = latest.borrow();
            if typed() {
                Meanwhile::Typed
            } else if state.text != start_text {
                Meanwhile::Replaced
            } else if !std::ptr::eq::<State>(&**state, start_at) {
                Meanwhile::MovedOn
            } else {
                Meanwhile::Nothing
            }
        }
    };
    // Whether the next task goes on with this edit.
    let go_on =
        move |meanwhile: Meanwhile, text: String, edit: Box<dyn FnOnce(String)>| match meanwhile {
            Meanwhile::Nothing => Some((text, edit)),
            Meanwhile::Typed => None,
            Meanwhile::Replaced => {
                busy(false);
                None
            }
            Meanwhile::MovedOn => {
                edit(text);
                None
            }
        };
    let edit: Box<dyn FnOnce(String)> = Box::new(edit);
    Timeout::new(0, move || {
        let Some((text, edit)) = go_on(meanwhile(), text, edit) else {
            return;
        };
        let started = now();
        let mut next = (*base).clone();
        let marks = next.show(analysed);
        let views_cost = now() - started;
        Timeout::new(0, move || {
            let Some((text, edit)) = go_on(meanwhile(), text, edit) else {
                return;
            };
            let started = now();
            if marks {
                next.mark_changes();
            }
            // What the edit cost, as an edit in one task would have measured it (drawing aside).
            *last_cost.borrow_mut() = analysis_cost + views_cost + (now() - started);
            Timeout::new(0, move || {
                let Some(_) = go_on(meanwhile(), text, edit) else {
                    return;
                };
                base.set(next);
                // Taken back once the new rules are drawn ([`drawn`]), unless a key typed since
                // waits for its own pause: a change of style before the drawing made the drawing
                // 40 ms longer at 1,000 Services.
                AFTER_DRAWING.with(|after| {
                    *after.borrow_mut() = Some(Box::new(move || {
                        if !typed() {
                            busy(false)
                        }
                    }))
                });
            })
            .forget();
        })
        .forget();
    })
    .forget();
}

thread_local! {
    /// What to do once the page has drawn the state an edit in steps set.
    static AFTER_DRAWING: RefCell<Option<Box<dyn FnOnce()>>> = const { RefCell::new(None) };
}

/// The page has drawn its state (the `App`'s effect, after every drawing): an edit in steps
/// that set it is no longer busy.
pub fn drawn() {
    if let Some(then) = AFTER_DRAWING.with(|after| after.borrow_mut().take()) {
        then()
    }
}

/// What happened while an edit ran in steps.
enum Meanwhile {
    Nothing,
    /// A key was typed: the newer text owns the outcome (it waits for its own pause, or was
    /// applied at once), and this edit is dropped. Set now, it would write its older text over
    /// the keys in the editor.
    Typed,
    /// The text was replaced from elsewhere (a scenario, Reset, a link): that state is right,
    /// and this edit is dropped.
    Replaced,
    /// Same text, but the state moved on (a mode chosen): the edit is made again on it.
    MovedOn,
}
