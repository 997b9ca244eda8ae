//! The small panels beside the rules: why the focused line exists, and what the last edit
//! changed.

use crate::diff;
use crate::editor;
use crate::i18n::{t, tf, use_lang};
use crate::state::Pane;
use kpx_core::explain::tokens;
use kpx_core::input::LineRange;
use kpx_core::views::{LineRef, ViewLine};
use std::collections::HashSet;
use std::rc::Rc;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ExplainProps {
    pub line: Option<ViewLine>,
    /// The reader's lines that made it.
    pub written: Rc<[LineRange]>,
}

/// Why the line under the pointer (or the selected one) exists, its odds, and its words.
#[function_component(Explain)]
pub fn explain(p: &ExplainProps) -> Html {
    let lang = use_lang();
    let Some(l) = &p.line else {
        return html! {
            <aside id="explain" class="explain" aria-live="polite">
                <p class="hint">{ t(lang, "Point at a line (or click it, then use ↑ ↓) to see why it exists, which YAML made it, and what its words mean.") }</p>
            </aside>
        };
    };
    let mut seen = HashSet::new();
    let terms: Vec<_> = tokens(&l.text, &|_| false)
        .into_iter()
        .filter_map(|t| t.term)
        .filter(|t| seen.insert(t.key))
        .collect();
    html! {
        <aside id="explain" class="explain" aria-live="polite">
            <pre class="line">{ &l.text }</pre>
            if let Some(why) = l.why() {
                <p id="why"><strong>{ t(lang, "Why: ") }</strong>{ why }</p>
            }
            if !p.written.is_empty() {
                <p class="written">{ t(lang, "Written at ") }{ for p.written.iter().map(|r| {
                    let first = r.first;
                    html! { <button class="goto" onclick={Callback::from(move |_| editor::go_to(first, 1))}>{ tf(lang, "lines {}–{}", &[&r.first, &r.last]) }</button> }
                }) }</p>
            }
            if let Some(odds) = &l.odds {
                <p id="odds"><strong>{ t(lang, "Odds: ") }</strong>{ odds }</p>
            }
            if !terms.is_empty() {
                <dl id="glossary" class="glossary">
                    { for terms.iter().map(|term| html! { <><dt>{ term.spellings[0] }</dt><dd>{ term.text_in(lang.tag()) }</dd></> }) }
                </dl>
            }
        </aside>
    }
}

#[derive(Properties, PartialEq)]
pub struct ChangesProps {
    pub pane: Pane,
    /// Selects an added line in the view.
    pub onselect: Callback<Option<usize>>,
}

/// What the last edit added to and removed from this view, in words.
#[function_component(Changes)]
pub fn changes(p: &ChangesProps) -> Html {
    const SHOWN: usize = 40;
    let lang = use_lang();
    let c = &p.pane.changes;
    if c.is_empty() {
        return html! {};
    }
    let added: Vec<(usize, LineRef)> = p
        .pane
        .lines
        .iter()
        .enumerate()
        .zip(&c.added)
        .filter(|(_, a)| **a)
        .map(|(l, _)| l)
        .collect();
    let item = |sign: &'static str,
                class: &'static str,
                at: Option<usize>,
                text: &str,
                why: Option<String>| {
        let what = diff::describe(text);
        let because = why.map(|why| html! { <span class="because">{ format!(" — {why}") }</span> });
        html! {
            <li class={class} title={text.to_string()}>
                if let Some(i) = at {
                    <button class="goto" onclick={let cb = p.onselect.clone(); Callback::from(move |_| cb.emit(Some(i)))}>{ format!("{sign} {what}") }</button>
                } else {
                    { format!("{sign} {what}") }
                }
                { for because }
            </li>
        }
    };
    let more = (added.len() + c.removed.len()).saturating_sub(SHOWN);
    html! {
        <section id="changes" class="changes" aria-live="polite">
            <h2>{ tf(lang, "Your last edit: {} added, {} removed in this view", &[&added.len(), &c.removed.len()]) }</h2>
            <ul>
                { for added.iter().take(SHOWN).map(|(i, l)| item("+", "added", Some(*i), l.text, l.why())) }
                { for c.removed.iter().take(SHOWN.saturating_sub(added.len())).map(|l| item("−", "removed", None, l, None)) }
                if more > 0 { <li>{ tf(lang, "… and {} more", &[&more]) }</li> }
            </ul>
        </section>
    }
}
