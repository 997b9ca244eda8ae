//! Large views are let go of a part at a time.
//!
//! A view's lines live as long as some state shows them, and a state is copied often (each
//! step of an edit holds the state of then). So a view replaced was dropped wherever its last
//! handle went: at 44,125 Services, 1.9 to 2.9 million lines and their index, in the drawing
//! that replaced them (600 ms) or in a task after it (300 ms). A replaced view is handed here
//! instead ([`later`]): once this holds its last handle, its lines are dropped a few thousand
//! at a time, in tasks of their own. Nothing anyone still holds is touched. A large text's
//! sections, which the next edit will not read from, are let go of the same way
//! ([`later_owned`]).

use crate::output::ViewIndex;
use gloo::timers::callback::Timeout;
use kpx_core::pace::Shrinking;
use kpx_core::views::ViewLines;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Views of fewer lines are dropped wherever their last handle goes.
const LARGE: usize = 50_000;
/// Lines (or names) dropped between two looks at the clock.
const PART: usize = 5_000;
/// How long (ms) a task drops for before the page gets its turn.
const TASK_MS: f64 = 30.0;
/// How long (ms) to wait before looking again at views still held elsewhere.
const AGAIN_MS: u32 = 250;

/// A replaced view's parts, held until they are let go of, or something else large that only
/// this holds.
enum Held {
    Lines(Rc<ViewLines>),
    Index(Rc<ViewIndex>),
    Owned(Box<dyn Shrinking>),
}

thread_local! {
    static HELD: RefCell<Vec<Held>> = const { RefCell::new(Vec::new()) };
    /// Whether a task to let go of them is set.
    static SET: Cell<bool> = const { Cell::new(false) };
}

/// Lets go of a view no longer shown (and its index, unless a shown view shares it), a part at
/// a time once nothing else holds it.
pub fn later(lines: &Rc<ViewLines>, index: Option<&Rc<ViewIndex>>) {
    if lines.len() < LARGE {
        return;
    }
    HELD.with_borrow_mut(|held| {
        // Once: a view replaced on two copies of a state (an edit's steps dropped after they
        // drew, then the next edit's) held twice could never be held alone.
        let held_already = held
            .iter()
            .any(|h| matches!(h, Held::Lines(l) if Rc::ptr_eq(l, lines)));
        if !held_already {
            held.push(Held::Lines(lines.clone()));
        }
        // (An index is shared by the views of an edit that declared the same names: held
        // once, it is let go of when the last of them is.)
        if let Some(index) = index {
            let index_held = held
                .iter()
                .any(|h| matches!(h, Held::Index(i) if Rc::ptr_eq(i, index)));
            if !index_held {
                held.push(Held::Index(index.clone()));
            }
        }
    });
    soon(0);
}

/// Lets go of `list` a part at a time: a large text's sections the next edit will not read
/// from (`state::finish`), or a reading no longer wanted. Only this holds the list; what its
/// items share with others (a section found in an earlier reading, the text) only loses a
/// handle.
pub fn later_owned(list: Box<dyn Shrinking>) {
    HELD.with_borrow_mut(|held| held.push(Held::Owned(list)));
    soon(0);
}

fn soon(ms: u32) {
    if !SET.replace(true) {
        match ms {
            0 => crate::task::next(let_go),
            ms => {
                Timeout::new(ms, let_go).forget();
            }
        }
    }
}

/// Drops parts of the held views nothing else holds, for up to [`TASK_MS`].
fn let_go() {
    SET.set(false);
    let started = crate::typing::now();
    let mut held = HELD.take();
    let mut dropped_some = false;
    held.retain_mut(|h| {
        let within = || crate::typing::now() - started < TASK_MS;
        // Still shown, or still held by a state being worked on: later.
        let left = match h {
            Held::Lines(lines) => Rc::get_mut(lines).map(|lines| {
                while !lines.is_empty() && within() {
                    lines.truncate(lines.len().saturating_sub(PART));
                }
                lines.len()
            }),
            Held::Index(index) => Rc::get_mut(index).map(|index| {
                while index.drop_some(PART) && within() {}
                usize::from(!index.is_empty())
            }),
            Held::Owned(list) => {
                let mut more = true;
                while more && within() {
                    more = (0..PART).all(|_| list.drop_last());
                }
                Some(usize::from(more))
            }
        };
        dropped_some |= left.is_some();
        left != Some(0)
    });
    HELD.with_borrow_mut(|more| held.append(more));
    let again = !held.is_empty();
    HELD.set(held);
    if again {
        soon(if dropped_some { 0 } else { AGAIN_MS });
    }
}
