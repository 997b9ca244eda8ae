//! One mode's view of the dataplane: tabs for every view, the lines with their glossary terms
//! and links, each load-balancing step's odds in words, and what the last edit changed.
//! Long views are virtualised: only the rows in sight are in the DOM.

use crate::i18n::{t, tf, use_lang};
use crate::state::Pane;
use kpx_core::cluster::settings::Mode;
use kpx_core::explain::tokens;
use kpx_core::iptables::model::Text;
use kpx_core::pace::{at_once, Pace};
use kpx_core::views::views;
use kpx_core::views::{LineInfo, LineRef, Row, ViewLines};
use std::collections::HashSet;
use std::rc::Rc;
use web_sys::{Element, HtmlElement, HtmlSelectElement};
use yew::prelude::*;

/// Row height in pixels for virtualised views (kpx.css sets the same).
pub const ROW_HEIGHT: f64 = 18.0;
/// Views longer than this are virtualised.
const VIRTUAL_FROM: usize = 1500;
/// Rows drawn beyond the visible ones, above and below.
const OVERSCAN: usize = 30;

/// The names a view declares (its chains, sets, maps): a line's words that name one are links.
type Declared = HashSet<Text, foldhash::fast::FixedState>;

/// What drawing a view needs besides its lines (and their rows, `ViewLines::row`): the names it
/// declares. Made with the lines, before the drawing (a large view's a part at a time,
/// `State::view_to_make`): at 44,125 Services, its 530,000 names made as the view was drawn
/// were most of the drawing.
#[derive(Debug, Default)]
pub struct ViewIndex {
    declared: Declared,
}

impl ViewIndex {
    pub fn of(lines: &ViewLines) -> Self {
        at_once(Self::paced(lines, &Pace::never()))
    }

    /// Drops up to `n` of its names: whether some are left ([`crate::dispose`] lets go of a
    /// large view's index in parts).
    pub fn drop_some(&mut self, n: usize) -> bool {
        let mut seen = 0;
        self.declared.retain(|_| {
            seen += 1;
            seen > n
        });
        !self.declared.is_empty()
    }

    pub fn is_empty(&self) -> bool {
        self.declared.is_empty()
    }

    /// [`ViewIndex::of`], a line being a unit of work.
    pub async fn paced(lines: &ViewLines, pace: &Pace) -> Self {
        // Sized up front (and hashed by foldhash): grown, the set rehashed every name.
        // (Read without the lines' texts: a line's text is cut out of its piece, and checked.)
        let names = lines.abouts().filter(|l| l.defines.is_some()).count();
        let mut index = ViewIndex {
            declared: Declared::with_capacity_and_hasher(names, Default::default()),
        };
        for l in lines.abouts() {
            if let Some(name) = &l.defines {
                index.declared.insert(name.clone());
            }
            pace.unit().await;
        }
        index
    }
}

#[derive(Properties, PartialEq)]
pub struct OutputProps {
    /// `output` for the main view, `output-2` for the compared one.
    pub id: AttrValue,
    pub pane: Pane,
    pub selected: Option<usize>,
    pub onselect: Callback<Option<usize>>,
    pub onhover: Callback<Option<usize>>,
    pub onview: Callback<String>,
    pub onmode: Callback<String>,
    /// The mode picker's label.
    pub label: AttrValue,
    /// Extra controls for this pane's toolbar.
    #[prop_or_default]
    pub children: Html,
    pub stale: bool,
    /// The rule a packet walk is evaluating now ([`kpx_core::explain::anchor`]).
    #[prop_or_default]
    pub current: Option<AttrValue>,
}

#[function_component(Output)]
pub fn output(p: &OutputProps) -> Html {
    let l = use_lang();
    let container = use_node_ref();
    let scroll_top = use_state(|| 0.0_f64);
    let pane = &p.pane;
    let lines = &pane.lines;
    let index = pane.index.clone();
    let rows = lines.rows();
    let virtual_rows = rows > VIRTUAL_FROM;
    let selected_at_start = p.selected;

    // Scroll a line into view (a link followed, a key pressed).
    let reveal = {
        let container = container.clone();
        let lines = lines.clone();
        move |line: usize| {
            let Some(el) = container.cast::<HtmlElement>() else {
                return;
            };
            if line >= lines.len() {
                return;
            }
            let row = lines.row_of(line);
            let top = row as f64 * ROW_HEIGHT;
            let height = el.client_height() as f64;
            let now = el.scroll_top() as f64;
            if top < now || top + ROW_HEIGHT > now + height {
                el.set_scroll_top((top - height / 3.0).max(0.0) as i32);
            }
        }
    };
    // The rule the packet walk is at: lit and kept in view.
    let current_line = p.current.as_ref().and_then(|c| {
        lines
            .iter()
            .position(|l| l.anchor.as_ref().is_some_and(|a| a.is(c)))
    });
    // Revealing reads the pane's height, which right after a render makes the browser lay the
    // page out there and then (3.5 ms of an article edit's 13); in the next frame that layout
    // is the one the frame needs anyway.
    {
        let reveal = reveal.clone();
        use_effect_with(current_line, move |line| {
            let frame = line.map(|i| gloo::render::request_animation_frame(move |_| reveal(i)));
            move || drop(frame)
        });
    }
    // After an edit, bring its first addition into view; on opening a link, its selected line.
    {
        let reveal = reveal.clone();
        let first_added = pane.changes.added.iter().position(|a| *a);
        use_effect_with(pane.changes.clone(), move |_| {
            let frame =
                first_added.map(|i| gloo::render::request_animation_frame(move |_| reveal(i)));
            move || drop(frame)
        });
    }
    {
        let reveal = reveal.clone();
        use_effect_with((), move |_| {
            if let Some(i) = selected_at_start {
                reveal(i);
            }
        });
    }
    let follow = {
        let (onselect, lines, reveal) = (p.onselect.clone(), lines.clone(), reveal.clone());
        move |name: &str| {
            if let Some(i) = lines
                .iter()
                .position(|l| l.defines.as_deref() == Some(name))
            {
                onselect.emit(Some(i));
                reveal(i);
            }
        }
    };
    let onclick = {
        let (onselect, follow) = (p.onselect.clone(), follow.clone());
        Callback::from(move |e: MouseEvent| {
            let Some(target) = e.target_dyn_into::<Element>() else {
                return;
            };
            if let Some(link) = target.closest("[data-link]").ok().flatten() {
                follow(&link.get_attribute("data-link").unwrap_or_default());
                return;
            }
            if let Some(line) = target.closest("[data-i]").ok().flatten() {
                onselect.emit(line.get_attribute("data-i").and_then(|i| i.parse().ok()));
            }
        })
    };
    let onmouseover = {
        let onhover = p.onhover.clone();
        Callback::from(move |e: MouseEvent| {
            let line = e
                .target_dyn_into::<Element>()
                .and_then(|t| t.closest("[data-i]").ok().flatten());
            onhover.emit(
                line.and_then(|l| l.get_attribute("data-i"))
                    .and_then(|i| i.parse().ok()),
            );
        })
    };
    let onkeydown = {
        let (onselect, selected, n, reveal) =
            (p.onselect.clone(), p.selected, lines.len(), reveal.clone());
        Callback::from(move |e: KeyboardEvent| {
            let next = match (e.key().as_str(), selected) {
                ("ArrowDown", None) | ("Home", _) => Some(0),
                ("ArrowDown", Some(i)) => Some((i + 1).min(n.saturating_sub(1))),
                ("ArrowUp", Some(i)) => Some(i.saturating_sub(1)),
                ("End", _) => Some(n.saturating_sub(1)),
                ("Escape", _) => None,
                _ => return,
            };
            e.prevent_default();
            if let Some(i) = next {
                reveal(i);
            }
            onselect.emit(next);
        })
    };
    let onscroll = {
        let (container, scroll_top) = (container.clone(), scroll_top.clone());
        Callback::from(move |_: Event| {
            if let Some(el) = container.cast::<HtmlElement>() {
                scroll_top.set(el.scroll_top() as f64);
            }
        })
    };
    let onmode = {
        let cb = p.onmode.clone();
        Callback::from(move |e: Event| {
            cb.emit(e.target_unchecked_into::<HtmlSelectElement>().value())
        })
    };

    // The rows to draw: all of them, or the window in sight.
    let (first, last) = if virtual_rows {
        let height = container
            .cast::<HtmlElement>()
            .map_or(900.0, |el| el.client_height() as f64);
        let first = ((*scroll_top / ROW_HEIGHT) as usize)
            .saturating_sub(OVERSCAN)
            .min(rows);
        let last = (((*scroll_top + height) / ROW_HEIGHT) as usize + OVERSCAN).min(rows);
        (first, last)
    } else {
        (0, rows)
    };
    let draw = |row: usize| -> Html {
        match lines.row(row) {
            Row::Line(i) => html! {
                <OutLine key={i} lines={lines.clone()} {i} pane_id={p.id.clone()} index={index.clone()}
                    added={pane.changes.added.get(i).copied().unwrap_or(false)}
                    selected={p.selected == Some(i)} current={current_line == Some(i)} />
            },
            Row::Odds(i) => html! {
                <div key={format!("odds-{i}")} class="odds" data-i={i.to_string()} data-odds-for={i.to_string()}>{ "↳ " }{ lines.get(i).and_then(|l| l.odds.clone()).unwrap_or_default() }</div>
            },
        }
    };
    // The main pane's mode picker is `#mode`; the compared pane's `#output-2-mode`.
    let mode_id = if p.id == "output" {
        "mode".to_string()
    } else {
        format!("{}-mode", p.id)
    };
    let pad = |n: usize| html! { <div class="pad" style={format!("height: {}px", n as f64 * ROW_HEIGHT)} /> };

    html! {
        <section class="pane" aria-label={format!("{} mode", pane.mode.as_str())}>
            <div class="toolbar">
                <label for={mode_id.clone()}>{ p.label.clone() }</label>
                <select id={mode_id} onchange={onmode}>
                    { for [Mode::Iptables, Mode::Ipvs, Mode::Nftables].into_iter().map(|m| html! {
                        <option value={m.as_str()} selected={m == pane.mode}>{ m.as_str() }</option>
                    }) }
                </select>
                { p.children.clone() }
            </div>
            <div class="tabs" role="tablist" aria-label={t(l, "Views")}>
                { for views(pane.mode).into_iter().map(|v| {
                    let onview = p.onview.clone();
                    let name = v.name;
                    html! {
                        <button role="tab" class="tab" data-view={name} aria-selected={(name == pane.view).to_string()}
                            title={v.description} onclick={Callback::from(move |_| onview.emit(name.to_string()))}>{ name }</button>
                    }
                }) }
            </div>
            if let Some(problem) = &pane.problem {
                <p class="problem" role="status">{ problem }</p>
            }
            <div class={classes!("output", p.stale.then_some("stale"), virtual_rows.then_some("virtual"))} ref={container}
                tabindex="0" role="listbox" aria-label={tf(l, "{} — {} (↑ ↓ to step through lines)", &[&pane.mode.as_str(), &pane.view])}
                aria-activedescendant={p.selected.map(|i| format!("{}-line-{i}", p.id))}
                {onclick} {onmouseover} {onkeydown} {onscroll}>
                <div id={p.id.clone()} class="lines">
                    { pad(first) }
                    { for (first..last).map(draw) }
                    { pad(rows - last) }
                </div>
            </div>
        </section>
    }
}

#[derive(Properties)]
struct LineProps {
    lines: Rc<ViewLines>,
    i: usize,
    pane_id: AttrValue,
    index: Rc<ViewIndex>,
    added: bool,
    selected: bool,
    current: bool,
}

/// Lines are compared by what they show, so an edit redraws only the lines it changed.
impl PartialEq for LineProps {
    fn eq(&self, o: &Self) -> bool {
        let line = self.lines.get(self.i);
        self.i == o.i
            && (self.added, self.selected, self.current) == (o.added, o.selected, o.current)
            && self.pane_id == o.pane_id
            && line == o.lines.get(o.i)
            // After an edit the view's declared names are a new set: what matters to this line
            // is only which of its own words are links (comparing whole sets, per line in
            // sight, was 80 ms an edit at 1,000 Services).
            && (Rc::ptr_eq(&self.index, &o.index)
                || line.is_none_or(|l| {
                    links_of(l, &self.index.declared) == links_of(l, &o.index.declared)
                }))
    }
}

/// Whether the word `w` of `line` links to a chain, set or map the view declares (not to the
/// one the line itself declares).
fn is_link(line: &LineInfo, declared: &Declared, w: &str) -> bool {
    declared.contains(w) && line.defines.as_deref() != Some(w)
}

/// The words of `line` that are links.
fn links_of<'a>(line: LineRef<'a>, declared: &Declared) -> Vec<&'a str> {
    tokens(line.text, &|w| is_link(&line, declared, w))
        .into_iter()
        .filter_map(|t| t.link)
        .collect()
}

/// One line of a view: its glossary terms and links, and its marks.
#[function_component(OutLine)]
fn out_line(p: &LineProps) -> Html {
    let l = use_lang();
    let Some(line) = p.lines.get(p.i) else {
        return html! {};
    };
    let i = p.i;
    let class = classes!(
        "vl",
        p.added.then_some("added"),
        p.selected.then_some("selected"),
        p.current.then_some("current"),
        line.source.is_some().then_some("why"),
        line.defines.is_some().then_some("declares"),
    );
    let links = |w: &str| is_link(&line, &p.index.declared, w);
    html! {
        <div {class} data-i={i.to_string()} title={line.why()} id={format!("{}-line-{i}", p.pane_id)}
            role="option" aria-selected={p.selected.to_string()} data-anchor={line.anchor.as_ref().map(|a| AttrValue::from(a.to_string()))}>
            { for tokens(line.text, &links).into_iter().map(|t| match (t.term, t.link) {
                (None, None) => html! { { t.text } },
                (term, link) => html! {
                    <span class={classes!(term.map(|_| "term"), link.map(|_| "link"))}
                        data-term={term.map(|t| t.key)}
                        data-link={link.map(str::to_string)}
                        title={term.map(|t| t.text_in(l.tag()))}>{ t.text }</span>
                },
            }) }
            if line.text.is_empty() { { "\u{200b}" } }
        </div>
    }
}
