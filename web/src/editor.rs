//! The YAML editor: a plain textarea (so typing, undo and IME behave as the browser makes
//! them) over a coloured copy of its text, with line numbers, error markers, and the lines
//! behind the hovered rule highlighted. A long text's textarea holds only the lines around
//! those in sight (`windowed`); a huge one is shown read-only.

use crate::highlight;
use crate::i18n::{t, tf};
use crate::state::SharedText;
use crate::windowed::{self, first_for, WINDOW};
use kpx_core::input::LineRange;
use kpx_core::Diagnostic;
use wasm_bindgen::JsCast;
use web_sys::{ClipboardEvent, HtmlElement, HtmlTextAreaElement};
use yew::prelude::*;

/// Above this many lines the colours are left out, and the text box holds only the lines
/// around those in sight (`windowed`): the text stays responsive. A long text's gutter numbers
/// only those lines too (`windowed::WINDOW` of them, moved `windowed::STEP` lines at a time as
/// the text scrolls): laying out the numbers of every line, 300,000 at 10,000 Services, took
/// the browser 3.4 s of a paste's drawing.
const MAX_COLOURED_LINES: usize = 4000;
/// A text larger than this (bytes) is shown read-only, only the lines in sight: Chromium's
/// text box took 3 s to lay out 8.7 MB (10,000 Services) and 28 s for 38 MB (44,125), and a
/// key typed into it costs in proportion. A paste that would make the text larger is taken
/// from the clipboard before the text box gets it.
pub const HUGE_TEXT: usize = 2 << 20;
/// The editor's line height in pixels (kpx.css sets the same).
pub const LINE_HEIGHT: f64 = 19.0;

/// How the editor shows its text.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Shown {
    /// A text box with the whole text (over its colours, up to `MAX_COLOURED_LINES`).
    Whole,
    /// A long text: a text box over the lines around those in sight (`windowed`).
    Window,
    /// A huge text: read-only, the lines in sight.
    Viewer,
}

#[derive(Properties, PartialEq)]
pub struct EditorProps {
    pub text: SharedText,
    pub errors: Vec<Diagnostic>,
    /// Lines to highlight: what made the rule under the pointer.
    pub highlight: Vec<LineRange>,
    pub oninput: Callback<SharedText>,
    /// Scrolls to show this line when it changes and is out of sight (1-based).
    #[prop_or_default]
    pub reveal: Option<usize>,
    /// Embedded read-only: the text can be read and selected, not changed.
    #[prop_or_default]
    pub readonly: bool,
}

#[function_component(Editor)]
pub fn editor(p: &EditorProps) -> Html {
    let lang = crate::i18n::use_lang();
    // The text box (one element however long the text: a reader typing across the length at
    // which it is windowed keeps its focus), the space a long text's text box is placed in,
    // and a huge text's viewer. What scrolls is one of them (`scroller`).
    let text_box = use_node_ref();
    let space = use_node_ref();
    let viewer = use_node_ref();
    // Where the caret was when the text last grew long or short (a byte of the text): the
    // other text box keeps it.
    let caret = use_mut_ref(|| None::<usize>);
    let colours = use_node_ref();
    let gutter = use_node_ref();
    // The first line a long text's gutter (and a huge text's viewer) shows.
    let window = use_state_eq(|| 0_usize);
    // A huge text pasted, shown at once while it is analysed (the state has it only after).
    let pasted = use_state_eq(|| None::<SharedText>);

    let onscroll = {
        let (colours, gutter, text_box) = (colours.clone(), gutter.clone(), text_box.clone());
        let window = window.clone();
        Callback::from(move |e: Event| {
            let t = e.target_unchecked_into::<HtmlElement>();
            for el in [colours.cast::<HtmlElement>(), gutter.cast::<HtmlElement>()]
                .into_iter()
                .flatten()
            {
                el.set_scroll_top(t.scroll_top());
            }
            if let Some(c) = colours.cast::<HtmlElement>() {
                c.set_scroll_left(t.scroll_left());
            }
            // (Only a long or huge text's lines are windowed: a text box with a whole text
            // scrolls its own, and is not drawn again.)
            if t.id() != "editor" {
                let top = (f64::from(t.scroll_top()) / LINE_HEIGHT) as usize;
                window.set(first_for(top));
                // A long text's text box follows.
                if let Some(ta) = text_box.cast::<HtmlTextAreaElement>() {
                    windowed::scrolled(&ta, top);
                }
            }
        })
    };
    // The text box's text was edited (`input_type` as an `InputEvent` says).
    let edited = {
        let (cb, gutter, caret) = (p.oninput.clone(), gutter.clone(), caret.clone());
        std::rc::Rc::new(move |ta: &HtmlTextAreaElement, input_type: &str| {
            let (text, lines) = match windowed::edited(ta, input_type) {
                Some(edited) => edited,
                None => {
                    let text = ta.value();
                    let lines = text.split('\n').count();
                    (text.into(), lines)
                }
            };
            // Grown long or short: the other text box will keep the caret (of a reader typing
            // or pasting; a script's text starts at the top, as it would in one text box).
            let long = windowed::lines().is_some();
            if long != (lines > MAX_COLOURED_LINES) && windowed::focused(ta) {
                *caret.borrow_mut() = if long {
                    windowed::caret(ta)
                } else {
                    let end = ta.selection_end().ok().flatten().unwrap_or(0);
                    Some(windowed::byte_at(&text, end as usize))
                };
            }
            // The gutter's width now, with the text's first layout: changed later (when the
            // text is drawn), it would make the browser lay the whole text out again.
            if let Some(g) = gutter.cast::<HtmlElement>() {
                let _ = match gutter_style(lines) {
                    Some(style) => g.set_attribute("style", &style),
                    None => g.remove_attribute("style"),
                };
            }
            cb.emit(text)
        })
    };
    let oninput = {
        let edited = edited.clone();
        Callback::from(move |e: InputEvent| {
            edited(&e.target_unchecked_into(), &e.input_type());
        })
    };
    // A long text's keys, pointer and clipboard (see `windowed`).
    let onkeydown = {
        let (text_box, space) = (text_box.clone(), space.clone());
        Callback::from(move |e: KeyboardEvent| {
            if let (Some(ta), Some(space)) = (
                text_box.cast::<HtmlTextAreaElement>(),
                space.cast::<HtmlElement>(),
            ) {
                windowed::key_down(&ta, &space, &e);
            }
        })
    };
    let onmousedown = Callback::from(|e: MouseEvent| windowed::pointed(e.button() == 0));
    let oncopy = Callback::from(|e: Event| {
        if let Some(all) = windowed::all_selected() {
            let e = e.unchecked_into::<ClipboardEvent>();
            if let Some(data) = e.clipboard_data() {
                let _ = data.set_data("text/plain", &all);
                e.prevent_default();
            }
        }
    });
    let oncut = {
        let readonly = p.readonly;
        Callback::from(move |e: Event| {
            let all = windowed::all_selected().filter(|_| !readonly);
            if let Some(all) = all {
                let ta = e.target_unchecked_into::<HtmlTextAreaElement>();
                let e = e.unchecked_into::<ClipboardEvent>();
                if let Some(data) = e.clipboard_data() {
                    let _ = data.set_data("text/plain", &all);
                    e.prevent_default();
                    ta.set_value("");
                    edited(&ta, "deleteByCut");
                }
            }
        })
    };
    // A paste that makes the text huge never reaches the text box; one into a huge text's
    // viewer replaces the whole text.
    let onpaste = {
        let (cb, pasted, readonly) = (p.oninput.clone(), pasted.clone(), p.readonly);
        Callback::from(move |e: Event| {
            if readonly {
                return;
            }
            let e = e.unchecked_into::<ClipboardEvent>();
            let Some(clip) = e
                .clipboard_data()
                .and_then(|d| d.get_data("text/plain").ok())
            else {
                return;
            };
            // (An image, say: nothing to paste, and the text is not erased.)
            if clip.is_empty() {
                return;
            }
            let text = match e
                .target()
                .and_then(|t| t.dyn_into::<HtmlTextAreaElement>().ok())
            {
                Some(t) if windowed::lines().is_some() => {
                    match windowed::pasted(&t, &clip, HUGE_TEXT) {
                        Some(text) => text,
                        None => return, // the text box takes it, as any paste
                    }
                }
                Some(t) => {
                    let value = t.value();
                    let at =
                        |utf16: Option<u32>| windowed::byte_at(&value, utf16.unwrap_or(0) as usize);
                    let (start, end) = (
                        at(t.selection_start().ok().flatten()),
                        at(t.selection_end().ok().flatten()),
                    );
                    if value.len() - (end - start) + clip.len() <= HUGE_TEXT {
                        return; // the text box takes it, as any paste
                    }
                    [&value[..start], clip.as_str(), &value[end..]].concat()
                }
                None => clip,
            };
            e.prevent_default();
            // One text, shared by the editor and the state (at 38 MB, a copy compared is felt).
            let text: SharedText = text.into();
            if text.len() > HUGE_TEXT {
                pasted.set(Some(text.clone()));
            }
            cb.emit(text);
        })
    };

    // A pasted text the state does not have yet (once it has, or the paste changed nothing,
    // the state's text is the one shown).
    let pending_text = pasted.as_ref().filter(|t| **t != p.text);
    let pending = pending_text.map(|t| &**t);
    let huge = pending.unwrap_or(&p.text).len() > HUGE_TEXT;
    // Counted once per text: a huge one's viewer is drawn again on every hover, and counting
    // 38 MB took 40 ms.
    let count = *use_memo(pending_text.unwrap_or(&p.text).clone(), |text| {
        text.split('\n').count()
    });
    let shown = if huge {
        Shown::Viewer
    } else if count > MAX_COLOURED_LINES {
        Shown::Window
    } else {
        Shown::Whole
    };

    // An input method's composing (Yew has no attributes for its events).
    {
        let (text_box, space) = (text_box.clone(), space.clone());
        use_effect_with(shown, move |_| {
            let listeners = text_box.cast::<HtmlTextAreaElement>().map(|ta| {
                ["compositionstart", "compositionend"].map(|event| {
                    let (text_box, space) = (text_box.clone(), space.clone());
                    gloo::events::EventListener::new(&ta, event, move |_| {
                        if let (Some(ta), Some(space)) = (
                            text_box.cast::<HtmlTextAreaElement>(),
                            space.cast::<HtmlElement>(),
                        ) {
                            windowed::composing(&ta, &space, event == "compositionstart");
                        }
                    })
                })
            });
            move || drop(listeners)
        });
    }
    // The state has a text now: the pasted one, or one from elsewhere since.
    {
        let pasted = pasted.clone();
        use_effect_with(p.text.clone(), move |_| pasted.set(None));
    }
    // The textarea is not a controlled value: what the reader types is already in it, and
    // writing a long text back on every key makes the browser lay it all out again. The text
    // is written only when it changed from elsewhere (a scenario, Reset, a link). When the
    // editor changes how it shows the text, the new text box or viewer starts where the caret
    // was (or at the top), and keeps the focus.
    {
        let (text_box, space, viewer) = (text_box.clone(), space.clone(), viewer.clone());
        let gutter = gutter.clone();
        let (window, caret) = (window.clone(), caret.clone());
        let before = use_mut_ref(|| None::<Shown>);
        use_effect_with((p.text.clone(), shown), move |(text, shown)| {
            let was = before.borrow_mut().replace(*shown);
            let swapped = was.is_some_and(|was| was != *shown);
            // (A caret only of a reader typing: crossing the length and back again, or a text
            // from elsewhere, leaves none.)
            let typing = text_box
                .cast::<HtmlTextAreaElement>()
                .is_some_and(|t| windowed::focused(&t));
            let carried = caret.borrow_mut().take().filter(|_| swapped && typing);
            let document = web_sys::window().and_then(|w| w.document());
            let lost = document
                .and_then(|d| d.active_element())
                .is_none_or(|a| a.tag_name() == "BODY");
            // The line to show at the top.
            let top = carried.map_or(0, |c| windowed::line_of(text, c).saturating_sub(3));
            if *shown != Shown::Window {
                windowed::close();
            }
            match shown {
                Shown::Window => {
                    if let Some(ta) = text_box.cast::<HtmlTextAreaElement>() {
                        if swapped || !windowed::is_current(text) {
                            let first = match windowed::first() {
                                Some(first) if !swapped => first,
                                _ => first_for(top),
                            };
                            windowed::show(&ta, text, first, carried);
                        }
                    }
                }
                Shown::Whole => {
                    if let Some(t) = text_box.cast::<HtmlTextAreaElement>() {
                        // (Placed in a long text's space no more.)
                        if swapped {
                            let _ = t.remove_attribute("style");
                        }
                        if t.value() != **text {
                            t.set_value(text);
                        }
                        if let Some(c) = carried.filter(|&c| text.is_char_boundary(c)) {
                            let at = text[..c].encode_utf16().count() as u32;
                            let _ = t.set_selection_range(at, at);
                        }
                    }
                }
                Shown::Viewer => {}
            }
            if swapped {
                window.set(first_for(top));
                // (A text box shown in place of the viewer, or the other way round: focused
                // if the one before was. Focusing scrolls, so it comes first. A long and a
                // shorter text share their text box, and its focus.)
                if lost && (was == Some(Shown::Viewer) || *shown == Shown::Viewer) {
                    let shown = viewer.cast::<HtmlElement>().or_else(|| text_box.cast());
                    if let Some(el) = shown {
                        let _ = el.focus();
                    }
                }
                let scroll = (top as f64 * LINE_HEIGHT) as i32;
                for el in [scroller(&text_box, &space, &viewer), gutter.cast()]
                    .into_iter()
                    .flatten()
                {
                    el.set_scroll_top(scroll);
                }
            }
        });
    }
    // Bring the highlighted lines into view when they change (a click on a rule).
    {
        let (text_box, space, viewer) = (text_box.clone(), space.clone(), viewer.clone());
        use_effect_with(p.reveal, move |reveal| {
            if let (Some(line), Some(t)) = (reveal, scroller(&text_box, &space, &viewer)) {
                // Only when the line is out of sight: pointing along the rules must not shake
                // the text that is already in view.
                let at = (*line as f64 - 1.0) * LINE_HEIGHT;
                let (top, height) = (t.scroll_top() as f64, t.client_height() as f64);
                if at < top || at + LINE_HEIGHT > top + height {
                    t.set_scroll_top((at - 2.0 * LINE_HEIGHT).max(0.0) as i32);
                }
            }
        });
    }

    // While a pasted text waits for its analysis, the errors and highlights are the old text's.
    let error_lines: Vec<(usize, usize, &str)> = p
        .errors
        .iter()
        .filter(|d| d.pos.line > 0 && pending.is_none())
        .map(|d| (d.pos.line, d.pos.col, d.message.as_str()))
        .collect();
    let text: &str = pending.unwrap_or(&p.text);
    let coloured = shown == Shown::Whole;
    let long = shown == Shown::Window;
    let lines: Vec<&str> = if coloured {
        text.split('\n').collect()
    } else {
        Vec::new()
    };
    let marked =
        |n: usize| pending.is_none() && p.highlight.iter().any(|r| r.first <= n && n <= r.last);
    let error_at = |n: usize| error_lines.iter().find(|e| e.0 == n);

    let first = (*window).min(count.saturating_sub(1));
    let last = (first + WINDOW).min(count);
    let gutter_line = |n: usize| number(n, error_at(n).map(|e| (e.1, e.2)), marked(n));
    let line_class = |n: usize| {
        classes!(
            "cl",
            marked(n).then_some("src"),
            error_at(n).is_some().then_some("err")
        )
    };
    let colour_html = lines.iter().enumerate().map(|(i, line)| {
        let class = line_class(i + 1);
        html! {
            <div {class}>
                { for highlight::line(line).into_iter().map(|(kind, piece)| match kind.class() {
                    "" => html! { { piece } },
                    c => html! { <span class={c}>{ piece }</span> },
                }) }
                { "\u{200b}" }
            </div>
        }
    });

    let megabytes = format!("{:.1}", text.len() as f64 / 1e6);
    // A huge text's lines in sight.
    let viewer_lines = || -> Html {
        let lines = text.split('\n').enumerate().skip(first).take(last - first);
        lines
            .map(|(i, line)| html! { <div class={line_class(i + 1)}>{ line }{ "\u{200b}" }</div> })
            .collect()
    };

    html! {
        <>
        <div class={classes!("editor", coloured.then_some("coloured"))}>
            if coloured {
                <div class="gutter" ref={gutter} aria-hidden="true">{ for (1..=count).map(gutter_line) }</div>
            } else {
                // A long text: the numbers in sight, in a space as tall as the text.
                <div class="gutter" ref={gutter} aria-hidden="true"
                    style={gutter_style(count)}>
                    <Numbers {count} {first} {last}
                        errors={error_lines.iter().filter(|e| first < e.0 && e.0 <= last).map(|e| (e.0, e.1, e.2.to_string())).collect::<Vec<_>>()}
                        marked={(first + 1..=last).filter(|&n| marked(n)).collect::<Vec<_>>()} />
                </div>
            }
            <div class="code">
                if coloured {
                    <div class="colours" ref={colours} aria-hidden="true">{ for colour_html }</div>
                }
                if shown == Shown::Viewer {
                    <div id="viewer" class="viewer" ref={viewer} tabindex="0" role="textbox" aria-readonly="true"
                        aria-multiline="true" aria-label="Cluster YAML" {onscroll} {onpaste}>
                        { in_sight(count, first, viewer_lines()) }
                    </div>
                } else {
                    // A long text: a text box over the lines around those in sight, placed
                    // (and filled) by `windowed` in a space as tall as the text, which scrolls.
                    // A shorter one: the same elements, the space's boxes left out (`whole`),
                    // and the text box scrolls.
                    <div id={long.then_some("text")} class={if long { "long-text" } else { "whole" }} ref={space}
                        onscroll={long.then(|| onscroll.clone())}>
                        <div class={if long { "gutter-space" } else { "whole" }}
                            style={long.then(|| text_height(count))}>
                            <textarea id="editor" class={long.then_some("windowed")} ref={text_box} spellcheck="false" wrap="off"
                                autocapitalize="off" autocomplete="off" aria-label="Cluster YAML" readonly={p.readonly}
                                onscroll={(!long).then(|| onscroll.clone())}
                                {oninput} {onpaste} {onkeydown} {onmousedown} {oncopy} {oncut} />
                        </div>
                    </div>
                }
            </div>
        </div>
        if huge {
            <p id="huge" class="huge-note">
                { tf(lang, "This text is {} MB, more than the browser's text box can take quickly: it is shown read-only.", &[&megabytes]) }
                if !p.readonly {
                    { " " }{ t(lang, "A paste (Ctrl+V) replaces it; Download YAML saves it.") }
                }
            </p>
        }
        </>
    }
}

/// What scrolls the text: a huge text's viewer, a long text's space, or the text box.
fn scroller(text_box: &NodeRef, space: &NodeRef, viewer: &NodeRef) -> Option<HtmlElement> {
    viewer
        .cast()
        .or_else(|| windowed::lines().and_then(|_| space.cast()))
        .or_else(|| text_box.cast())
}

/// A line's number in the gutter, marked if the line has an error or made the rule pointed at.
fn number(n: usize, error: Option<(usize, &str)>, marked: bool) -> Html {
    match error {
        Some((col, msg)) => {
            html! { <div class="gl err" title={format!("line {n}, col {col}: {msg}")}>{ n }</div> }
        }
        None => html! { <div class={classes!("gl", marked.then_some("src"))}>{ n }</div> },
    }
}

#[derive(Properties, PartialEq)]
struct NumbersProps {
    count: usize,
    first: usize,
    last: usize,
    /// The errors on lines `first + 1..=last`: line, column, message.
    errors: Vec<(usize, usize, String)>,
    /// The lines of `first + 1..=last` that made the rule pointed at.
    marked: Vec<usize>,
}

/// A long text's numbers in sight: a component of its own, so that an edit that leaves them as
/// they were (most do) draws none of them again.
#[function_component(Numbers)]
fn numbers(p: &NumbersProps) -> Html {
    let lines = (p.first + 1..=p.last).map(|n| {
        let error = p.errors.iter().find(|e| e.0 == n);
        number(n, error.map(|e| (e.1, e.2.as_str())), p.marked.contains(&n))
    });
    in_sight(p.count, p.first, lines.collect())
}

/// Lines `first..` (`lines`) of `count`, where they would be in all of them: a space as tall as
/// the text, the lines placed in it.
fn in_sight(count: usize, first: usize, lines: Html) -> Html {
    html! {
        <div class="gutter-space" style={text_height(count)}>
            <div class="gutter-window" style={format!("top: {}px", first as f64 * LINE_HEIGHT)}>{ lines }</div>
        </div>
    }
}

/// The style of a space as tall as a text of `count` lines (the gutter's, the viewer's and the
/// long text's, which scroll together).
fn text_height(count: usize) -> String {
    format!("height: {}px", count as f64 * LINE_HEIGHT)
}

/// A long text's gutter is as wide as its largest number, wherever the text is scrolled to: a
/// change of width makes the browser lay the whole text out again (2 s at 10,000 Services).
/// The stylesheet makes the width from the number's digits (`--digits`).
fn gutter_style(lines: usize) -> Option<String> {
    (lines > MAX_COLOURED_LINES).then(|| format!("--digits: {}", lines.to_string().len()))
}

/// The text in the editor now (it can be ahead of the state while typing pauses are awaited).
pub fn current_text() -> Option<SharedText> {
    windowed::text()
        .or_else(|| crate::element::<HtmlTextAreaElement>("editor").map(|t| t.value().into()))
}

/// Puts the caret at `line`:`col` of the editor and scrolls there (from an error message).
pub fn go_to(line: usize, col: usize) {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let top = ((line as f64 - 3.0).max(0.0) * LINE_HEIGHT) as i32;
    // A huge text's viewer has no caret: the line is scrolled to.
    if let Some(viewer) = doc.get_element_by_id("viewer") {
        return viewer.set_scroll_top(top);
    }
    let Some(t) = doc
        .get_element_by_id("editor")
        .and_then(|e| wasm_bindgen::JsCast::dyn_into::<HtmlTextAreaElement>(e).ok())
    else {
        return;
    };
    // A long text's text box holds the lines around those in sight: it is moved there.
    if let Some(space) = crate::element::<HtmlElement>("text") {
        return windowed::go_to(&t, &space, line, col);
    }
    let offset = windowed::offset_of(&t.value(), line, col);
    let _ = t.focus();
    let _ = t.set_selection_range(offset as u32, offset as u32);
    t.set_scroll_top(top);
}
