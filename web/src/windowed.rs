//! A long text's editor: the text box holds only the lines around those in sight.
//!
//! Chromium keeps a text box's text as one run of lines. At 1,000 Services (27,000 lines,
//! 0.9 MB) a key typed into it cost the browser 60–110 ms of its own work: the edit itself
//! (38–53 ms), laying out all 87,000 of its line objects again, painting, and counting the
//! caret's offset from the text's start; and 8 ms more to hand the whole text to the wasm. That
//! is more than the budget for the whole edit (50 ms). So a long text is shown in a space as tall
//! as the text, with a text box over the [`WINDOW`] lines around those in sight; scrolling
//! moves the window (and the text box's text) [`STEP`] lines at a time. The whole text is kept
//! here, and an edit of the window's text is spliced into it.
//!
//! What the reader keeps, and what changes:
//! - the caret and the selection stay where they were when the window moves, if they fit in
//!   the new window; a caret scrolled out of it is brought back (and into sight) by the next key;
//! - select all (Ctrl+A), then a key, Delete, a paste, Cut or Copy act on the whole text;
//! - the browser forgets its undo history when a text box's text is set, so undo reaches back
//!   to the window's last move;
//! - a selection made with the mouse, and the browser's find in page, reach the window's lines;
//! - while an input method composes a word (Chinese, Japanese), the window stays where it is
//!   (setting the text box's text would end the composition) and follows the scrolling after.

use crate::editor::LINE_HEIGHT;
use crate::state::SharedText;
use std::cell::RefCell;
use web_sys::{HtmlElement, HtmlTextAreaElement, KeyboardEvent};

/// Lines in the text box (and numbered in the gutter) at a time.
pub const WINDOW: usize = 400;
/// The window moves this many lines at a time, and starts this far above the first line in
/// sight.
pub const STEP: usize = 100;
/// A caret this close (in lines) to the window's first or last line, moved there by an arrow
/// key, has the window moved around it first (the browser cannot move it past the text box's
/// text); for Page Up and Down, a page more.
const EDGE: usize = 2;

/// The first line of the window for a text scrolled to show `top` (0-based) at its top.
pub fn first_for(top: usize) -> usize {
    top.saturating_sub(STEP) / STEP * STEP
}

struct Window {
    /// The whole text, as last typed or set.
    text: SharedText,
    /// Its lines.
    count: usize,
    /// The window: its first line (0-based), its lines, and its bytes of `text` (without the
    /// line break after its last line).
    first: usize,
    lines: usize,
    start: usize,
    end: usize,
    /// Ctrl+A was the last key: the text box's selection stands for the whole text.
    all: bool,
    /// A selection (bytes of `text`) the window moved away from, and where that left the text
    /// box's own (UTF-16): the next key brings it back, unless the caret was put elsewhere since.
    away: Option<(usize, usize)>,
    left: (u32, u32),
    /// An input method is composing in the text box.
    composing: bool,
}

impl Window {
    /// `first`, or the text's last window if it is past it (a first line asked for from
    /// elsewhere, a link or the text before, may be past a shorter text's end).
    fn bounded(&self, first: usize) -> usize {
        first.min(first_for(self.count.saturating_sub(1)))
    }
}

thread_local! {
    /// The page's one editor, while it shows a long text.
    static OPEN: RefCell<Option<Window>> = const { RefCell::new(None) };
}

/// The whole text, while a long text is edited. (Never panics: the panic hook reads it.)
pub fn text() -> Option<SharedText> {
    OPEN.try_with(|o| o.try_borrow().ok()?.as_ref().map(|w| w.text.clone()))
        .ok()
        .flatten()
}

/// How many lines the text being edited has (as typed, ahead of the state's), if long.
pub fn lines() -> Option<usize> {
    OPEN.with(|o| o.borrow().as_ref().map(|w| w.count))
}

/// The window's first line now, if a long text is edited.
pub fn first() -> Option<usize> {
    OPEN.with(|o| o.borrow().as_ref().map(|w| w.first))
}

/// Shows `text` in the text box `ta`, from line `first` on: a text from elsewhere (a scenario,
/// a link, Reset), or the first text of a long text's editor. `caret` is a selection to keep
/// (bytes of `text`), say the one in the text box shown before.
pub fn show(ta: &HtmlTextAreaElement, text: &SharedText, first: usize, caret: Option<usize>) {
    OPEN.with(|o| {
        let mut o = o.borrow_mut();
        let w = o.get_or_insert_with(|| Window {
            text: text.clone(),
            count: 0,
            first,
            lines: 0,
            start: 0,
            end: 0,
            all: false,
            away: None,
            left: (0, 0),
            composing: false,
        });
        let caret = caret.map(|c| (c, c));
        // The selection in the text box now, carried over to the new text as bytes.
        let kept = caret
            .or(w.away)
            .or_else(|| focused(ta).then(|| selection(ta, w)).flatten());
        // A text box has only line feeds (its value turns CR LF and CR into LF): so has the
        // whole text, or the window's bytes and the text box's would not match.
        w.text = if text.contains('\r') {
            text.replace("\r\n", "\n").replace('\r', "\n").into()
        } else {
            text.clone()
        };
        let text = &w.text;
        w.count = count_lines(text);
        w.all = false;
        w.away = kept.map(|(a, b)| (clamp(text, a), clamp(text, b)));
        place(ta, w, first);
    });
}

/// The editor no longer shows a long text.
pub fn close() {
    OPEN.with(|o| o.borrow_mut().take());
}

/// Is `text` the one being edited (as typed): an edit of ours coming back from the state.
pub fn is_current(text: &SharedText) -> bool {
    OPEN.with(|o| o.borrow().as_ref().is_some_and(|w| w.text == *text))
}

/// The text box's text was edited (an `input` event of `input_type`): the whole text now, with
/// the window's text in its place, and its lines.
pub fn edited(ta: &HtmlTextAreaElement, input_type: &str) -> Option<(SharedText, usize)> {
    let value = ta.value();
    OPEN.with(|o| {
        let mut o = o.borrow_mut();
        let w = o.as_mut()?;
        let lines = count_lines(&value);
        // Undo, redo and a drop act on the text box's text as it was, whatever was selected.
        let whole = w.all
            && !input_type.starts_with("history")
            && !matches!(input_type, "insertFromDrop" | "deleteByDrag");
        if whole {
            // Select all and a key: the whole text is what the text box has now.
            w.text = value.into();
            (w.first, w.start, w.end, w.lines, w.count) = (0, 0, w.text.len(), lines, lines);
        } else {
            w.text = [&w.text[..w.start], value.as_str(), &w.text[w.end..]]
                .concat()
                .into();
            w.count = w.count + lines - w.lines;
            w.end = w.start + value.len();
            w.lines = lines;
        }
        w.all = false;
        // A paste of many lines into the window: back to a window's size, about the caret.
        match selection(ta, w).filter(|_| w.lines > 2 * WINDOW) {
            Some((_, end)) => {
                let top = line_in(w, end).saturating_sub(3);
                w.away = Some((end, end));
                place(ta, w, first_for(top));
                if let Some(space) = crate::element::<HtmlElement>("text") {
                    space.set_scroll_top((top as f64 * LINE_HEIGHT) as i32);
                }
            }
            // As tall and wide as its lines now (a line typed longer than the others would
            // scroll the text box's own text sideways, out of line with the rest).
            None => fit(ta, w.first, &w.text[w.start..w.end]),
        }
        Some((w.text.clone(), w.count))
    })
}

/// The text box's text scrolled to show line `top` at its top: the window follows.
pub fn scrolled(ta: &HtmlTextAreaElement, top: usize) {
    OPEN.with(|o| {
        if let Some(w) = o.borrow_mut().as_mut().filter(|w| !w.composing) {
            let first = w.bounded(first_for(top));
            if first != w.first {
                place(ta, w, first);
            }
        }
    });
}

/// An input method started (`on`) or ended composing in the text box: the window waits for it,
/// then follows the text scrolled (`scroller`) meanwhile, in the next task (some browsers send
/// the composed text's `input` after `compositionend`: it is in the whole text first).
pub fn composing(ta: &HtmlTextAreaElement, scroller: &HtmlElement, on: bool) {
    let ended = OPEN.with(|o| match o.borrow_mut().as_mut() {
        Some(w) => std::mem::replace(&mut w.composing, on) && !on,
        None => false,
    });
    if ended {
        let (ta, scroller) = (ta.clone(), scroller.clone());
        crate::task::next(move || {
            scrolled(
                &ta,
                (f64::from(scroller.scroll_top()) / LINE_HEIGHT) as usize,
            )
        });
    }
}

/// A key down in the text box, before the browser acts on it: Ctrl+A is remembered, the
/// window goes to the text's start or end for Ctrl+Home or End, a selection the window moved
/// away from is brought back (and into sight), and a caret about to leave the window has the
/// window moved around it.
pub fn key_down(ta: &HtmlTextAreaElement, scroller: &HtmlElement, e: &KeyboardEvent) {
    if e.is_composing() {
        return;
    }
    let key = e.key();
    let command = e.ctrl_key() || e.meta_key();
    if matches!(key.as_str(), "Control" | "Meta" | "Shift" | "Alt") {
        return;
    }
    OPEN.with(|o| {
        let mut o = o.borrow_mut();
        let Some(w) = o.as_mut() else {
            return;
        };
        // A caret put elsewhere since the window moved away from the one before.
        if w.away.is_some() && text_box_selection(ta) != Some(w.left) {
            w.away = None;
        }
        if command && key.eq_ignore_ascii_case("a") {
            w.all = true;
            w.away = None;
            return;
        }
        let up = matches!(key.as_str(), "ArrowUp" | "ArrowLeft" | "PageUp" | "Home");
        let down = matches!(
            key.as_str(),
            "ArrowDown" | "ArrowRight" | "PageDown" | "End"
        );
        if up || down {
            w.all = false;
        }
        let show = |w: &mut Window, line: usize| {
            let top = line.saturating_sub(3);
            scroller.set_scroll_top((top as f64 * LINE_HEIGHT) as i32);
            place(ta, w, first_for(top));
        };
        // The text's start or end (Ctrl+Home or End; Cmd+Up or Down on a Mac): the window goes
        // there, and the key itself moves the caret.
        let to_start = command && matches!(key.as_str(), "Home" | "ArrowUp");
        let to_end = command && matches!(key.as_str(), "End" | "ArrowDown");
        if to_start || to_end {
            // (Neither a selection away from the window, nor the one the move leaves behind,
            // is brought back: the key puts the caret.)
            w.away = None;
            if to_start && w.first > 0 {
                show(w, 0);
            } else if to_end && w.end < w.text.len() {
                show(w, w.count.saturating_sub(1));
            }
            w.away = None;
            return;
        }
        // A selection the window moved away from: the window goes around it if it fits in
        // one, or else it is the caret at its end. (Copy then copies it.)
        if let Some((a, b)) = w.away {
            let (from, to) = (line_in(w, a), line_in(w, b));
            let fits = to - from + 3 + STEP < WINDOW;
            if !fits {
                w.away = Some((b, b));
            }
            show(w, if fits { from } else { to });
            return;
        }
        // A caret at the window's edge, about to be moved past it.
        if up || down {
            let page = matches!(key.as_str(), "PageUp" | "PageDown");
            let reach = EDGE
                + if page {
                    (scroller.client_height() as f64 / LINE_HEIGHT) as usize
                } else {
                    0
                };
            let Some((_, end)) = selection(ta, w) else {
                return;
            };
            let line = line_in(w, end);
            let leaving = if up {
                w.first > 0 && line < w.first + reach
            } else {
                w.end < w.text.len() && line + reach >= w.first + w.lines
            };
            if leaving {
                w.away = selection(ta, w);
                show(w, line);
            }
        }
    });
}

/// The whole text with `clip` pasted over the text box's selection, if longer than `most`
/// bytes (a paste the text box should not take).
pub fn pasted(ta: &HtmlTextAreaElement, clip: &str, most: usize) -> Option<String> {
    OPEN.with(|o| {
        let o = o.borrow();
        let w = o.as_ref()?;
        let (a, b) = if w.all {
            (0, w.text.len())
        } else {
            selection(ta, w)?
        };
        (w.text.len() - (b - a) + clip.len() > most)
            .then(|| [&w.text[..a], clip, &w.text[b..]].concat())
    })
}

/// What Copy or Cut should take: the whole text when all of it is selected (the text box
/// holds only the window).
pub fn all_selected() -> Option<SharedText> {
    OPEN.with(|o| {
        o.borrow()
            .as_ref()
            .filter(|w| w.all)
            .map(|w| w.text.clone())
    })
}

/// Where the caret is, as a byte of the whole text.
pub fn caret(ta: &HtmlTextAreaElement) -> Option<usize> {
    OPEN.with(|o| {
        o.borrow()
            .as_ref()
            .and_then(|w| selection(ta, w))
            .map(|(_, end)| end)
    })
}

/// The mouse put the caret somewhere: a caret away from the window is forgotten, and so is
/// Ctrl+A unless the button is the menu's (whose Paste or Cut then acts on the whole text).
pub fn pointed(primary: bool) {
    OPEN.with(|o| {
        if let Some(w) = o.borrow_mut().as_mut() {
            w.all &= !primary;
            w.away = None;
        }
    });
}

/// Puts the caret at `line`:`col` (1-based; the column in UTF-16 units, as a text box counts),
/// the window moved there and the line scrolled into sight.
pub fn go_to(ta: &HtmlTextAreaElement, scroller: &HtmlElement, line: usize, col: usize) {
    OPEN.with(|o| {
        let mut o = o.borrow_mut();
        let Some(w) = o.as_mut() else {
            return;
        };
        let top = line.saturating_sub(3);
        w.away = None;
        w.all = false;
        place(ta, w, first_for(top));
        let offset = offset_of(&w.text[w.start..w.end], line.saturating_sub(w.first), col);
        let _ = ta.focus();
        let _ = ta.set_selection_range(offset as u32, offset as u32);
        // (Last: focusing the text box scrolls as much of it as fits into sight.)
        scroller.set_scroll_top((top as f64 * LINE_HEIGHT) as i32);
    });
}

/// Moves the window to start at line `first`: the text box gets those lines, is placed where
/// they are in the space, and keeps its selection (or the one away from the window) if it fits.
fn place(ta: &HtmlTextAreaElement, w: &mut Window, first: usize) {
    let first = w.bounded(first);
    let kept = w
        .away
        .take()
        .or_else(|| focused(ta).then(|| selection(ta, w)).flatten())
        .filter(|_| !w.all);
    let start = line_start(&w.text, first);
    let end = w.text[start..]
        .match_indices('\n')
        .nth(WINDOW - 1)
        .map_or(w.text.len(), |(i, _)| start + i);
    let value = &w.text[start..end];
    let lines = count_lines(value);
    (w.first, w.start, w.end, w.lines) = (first, start, end, lines);
    ta.set_value(value);
    fit(ta, first, value);
    // All of the text still selected: as much of it as the text box has.
    if w.all {
        let _ = ta.set_selection_range(0, utf16_len(value) as u32);
    }
    if let Some((a, b)) = kept {
        if start <= a && b <= end {
            let (a, b) = (
                utf16_len(&value[..a - start]),
                utf16_len(&value[..b - start]),
            );
            let _ = ta.set_selection_range(a as u32, b as u32);
        } else {
            w.away = Some((a, b));
            w.left = text_box_selection(ta).unwrap_or_default();
        }
    }
}

/// Places the text box holding `value`, lines `first..` of the text, where those lines are in
/// the space, as tall as they are and as wide as the longest (the space scrolls sideways, not
/// the text box).
fn fit(ta: &HtmlTextAreaElement, first: usize, value: &str) {
    let (mut lines, mut widest) = (0, 0);
    for line in value.split('\n') {
        lines += 1;
        widest = widest.max(line.chars().count());
    }
    let _ = ta.set_attribute(
        "style",
        &format!(
            "top: {}px; height: {}px; min-width: calc({widest}ch + 1rem)",
            first as f64 * LINE_HEIGHT,
            lines as f64 * LINE_HEIGHT
        ),
    );
}

/// The line (0-based) byte `at` of the whole text is on, counted from the window when it can.
fn line_in(w: &Window, at: usize) -> usize {
    match at.checked_sub(w.start) {
        Some(after) => w.first + line_of(&w.text[w.start..], after),
        None => line_of(&w.text, at),
    }
}

fn text_box_selection(ta: &HtmlTextAreaElement) -> Option<(u32, u32)> {
    Some((ta.selection_start().ok()??, ta.selection_end().ok()??))
}

/// The text box's selection, as bytes of the whole text.
fn selection(ta: &HtmlTextAreaElement, w: &Window) -> Option<(usize, usize)> {
    let (a, b) = text_box_selection(ta)?;
    let value = &w.text[w.start..w.end];
    Some((
        w.start + byte_at(value, a as usize),
        w.start + byte_at(value, b as usize),
    ))
}

/// Has the text box the focus.
pub fn focused(ta: &HtmlTextAreaElement) -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.active_element())
        .is_some_and(|a| a == ***ta)
}

fn count_lines(text: &str) -> usize {
    text.bytes().filter(|&b| b == b'\n').count() + 1
}

/// The byte at which line `line` (0-based) starts; the text's end if it has fewer lines.
fn line_start(text: &str, line: usize) -> usize {
    match line {
        0 => 0,
        n => text
            .match_indices('\n')
            .nth(n - 1)
            .map_or(text.len(), |(i, _)| i + 1),
    }
}

/// The line (0-based) byte `at` is on.
pub fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// `at`, or the nearest character boundary before it, within `text`.
fn clamp(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The text box offset (in UTF-16 units) of `line`:`col` of `text` (both 1-based, the column
/// in UTF-16 units, as a text box counts): where an error's button puts the caret.
pub fn offset_of(text: &str, line: usize, col: usize) -> usize {
    let before: usize = text
        .split('\n')
        .take(line.saturating_sub(1))
        .map(|l| utf16_len(l) + 1)
        .sum();
    before + col.saturating_sub(1)
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The byte of `text` at which its `utf16`th UTF-16 unit starts (a text box's selection).
pub fn byte_at(text: &str, utf16: usize) -> usize {
    let mut units = 0;
    for (at, c) in text.char_indices() {
        if units >= utf16 {
            return at;
        }
        units += c.len_utf16();
    }
    text.len()
}
