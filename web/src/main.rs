//! kpx in the browser: edit a cluster's YAML, see exactly what kube-proxy programs on the node.
//!
//! All computing is kpx-core's; this crate holds the reader's text and choices ([`state`]) and
//! draws them: the editor ([`editor`]), one pane per shown mode ([`output`]), and beside them
//! why the line under the pointer exists, what its words mean, and what the last edit changed.

mod charts;
mod diff;
mod editor;
mod highlight;
mod output;
mod packet;
mod scenarios;
mod stage;
mod state;

use editor::Editor;
use gloo::storage::{LocalStorage, Storage};
use kpx_core::cluster::settings::Mode;
use kpx_core::explain::tokens;
use kpx_core::share;
use kpx_core::views::ViewLine;
use kpx_core::Diagnostic;
use output::Output;
use stage::{ChartsPanel, Cmd, PacketPanel, Playback};
use state::{Pane, State};
use std::collections::HashSet;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

/// Where the reader's work is kept between visits (a shareable-link state), so it is never lost.
const STORAGE_KEY: &str = "kpx.state";
/// Where versions before links kept the text alone.
const OLD_STORAGE_KEY: &str = "kpx.text";

/// `?scenario=tour&mode=ipvs&view=list`: how a docs page opens a given scenario and view.
fn url_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
}

fn location_hash() -> String {
    web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default()
}

/// The state to start with, and a problem with the link that was opened, if any.
/// A link wins; then `?scenario=`; then the reader's saved work; then the article.
fn initial() -> (State, Option<String>) {
    let mut problem = None;
    let hash = location_hash();
    if hash.len() > 1 {
        match share::decode(&hash) {
            Ok(shared) => return (State::from_shared(shared), None),
            Err(e) => problem = Some(e),
        }
    }
    let wanted = url_param("scenario").or_else(|| url_param("preset"));
    let mut state = if let Some(sc) = wanted.as_deref().and_then(scenarios::find) {
        let mut s = State::new(String::new());
        s.load_scenario(sc);
        s
    } else if let Some(shared) = LocalStorage::get::<String>(STORAGE_KEY)
        .ok()
        .and_then(|s| share::decode(&s).ok())
    {
        State::from_shared(shared)
    } else if let Some(text) = LocalStorage::get::<String>(OLD_STORAGE_KEY)
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        State::new(text)
    } else {
        let mut s = State::new(String::new());
        s.load_scenario(&scenarios::ALL[0]);
        s
    };
    if let Some(mode) = url_param("mode").as_deref().and_then(Mode::parse) {
        state.mode = Some(mode);
    }
    if let Some(view) = url_param("view") {
        state.view = Some(view);
    }
    state.refresh();
    (state, problem)
}

fn position(d: &Diagnostic) -> String {
    if d.pos.line == 0 {
        String::new()
    } else {
        format!("line {}, col {}: ", d.pos.line, d.pos.col)
    }
}

fn confirm(question: &str) -> bool {
    web_sys::window()
        .and_then(|w| w.confirm_with_message(question).ok())
        .unwrap_or(false)
}

/// Offers the text as a file (`kpx-cluster.yaml`).
fn download(text: &str) {
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let bag = web_sys::BlobPropertyBag::new();
    bag.set_type("application/yaml");
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &bag) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    if let Ok(a) = doc
        .create_element("a")
        .map(|a| a.unchecked_into::<web_sys::HtmlAnchorElement>())
    {
        a.set_href(&url);
        a.set_download("kpx-cluster.yaml");
        a.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

/// The page's address with `fragment`.
fn link_to(fragment: &str) -> String {
    let Some(loc) = web_sys::window().map(|w| w.location()) else {
        return String::new();
    };
    let href = loc.href().unwrap_or_default();
    let base = href.split('#').next().unwrap_or_default();
    format!("{base}#{fragment}")
}

/// What the stage under the rules shows.
#[derive(Clone, Copy, PartialEq)]
enum Tab {
    Explain,
    Packet,
    Charts,
}

/// Whether the reader asked for less motion: the packet then jumps from step to step.
fn reduced_motion() -> bool {
    web_sys::window()
        .and_then(|w| {
            w.match_media("(prefers-reduced-motion: reduce)")
                .ok()
                .flatten()
        })
        .is_some_and(|m| m.matches())
}

#[function_component(App)]
fn app() -> Html {
    let start = use_memo((), |_| initial());
    let state = use_state(|| start.0.clone());
    let link_problem = use_state(|| start.1.clone());
    // The line under the pointer: (pane, line); pane 0 is the main view.
    let hover = use_state(|| None::<(usize, usize)>);
    let copied = use_state(|| false);
    let tab = use_state(|| Tab::Explain);
    let walk_from = use_state(|| None::<String>);
    let walk_dest = use_state(|| None::<String>);
    let seed = use_state(|| 1u64);
    let playback = use_reducer(Playback::default);

    // The packet walk: who sends where, walked in every shown mode. Computed only while the
    // walk or the charts are on screen.
    let active = *tab != Tab::Explain;
    let good = state.good().map(|(t, a)| (t.to_string(), a.clone()));
    let good_text = good.as_ref().map(|g| g.0.clone()).unwrap_or_default();
    let choices = {
        let analysis = good.as_ref().map(|g| g.1.clone());
        use_memo((good_text.clone(), active), move |(_, active)| {
            match (analysis, active) {
                (Some(a), true) => {
                    let dests = packet::destinations(&a);
                    (Rc::new(packet::clients(&a)), Rc::new(dests))
                }
                _ => (Rc::default(), Rc::default()),
            }
        })
    };
    let (clients, dests) = (choices.0.clone(), choices.1.clone());
    let dest_index = (*walk_dest)
        .as_ref()
        .and_then(|label| dests.iter().position(|d| d.label == *label))
        .unwrap_or_else(|| packet::default_destination(&dests));
    let dest = dests.get(dest_index).cloned();
    let from = (*walk_from)
        .clone()
        .filter(|f| clients.iter().any(|c| c.0 == *f))
        .unwrap_or_else(|| packet::default_client(&clients, dest.as_ref()));
    let modes = state.shown_modes();
    let walk_key = (
        good_text.clone(),
        modes.clone(),
        from.clone(),
        dest.as_ref().map(|d| d.to.clone()),
        *seed,
        *tab == Tab::Packet,
    );
    let walks = {
        let dest = dest.clone();
        use_memo(
            walk_key.clone(),
            move |(text, modes, from, _, seed, on)| match (&dest, on) {
                (Some(d), true) => packet::walk(text, modes, from, d, *seed),
                _ => Vec::new(),
            },
        )
    };
    {
        let playback = playback.clone();
        use_effect_with(walk_key, move |_| playback.dispatch(Cmd::Reset));
    }
    let frames_len = walks
        .iter()
        .filter_map(|w| w.as_ref().ok())
        .map(|w| w.frames.len())
        .max()
        .unwrap_or(0);
    {
        let dispatcher = playback.dispatcher();
        use_effect_with(
            (playback.playing, playback.speed, frames_len),
            move |(playing, speed, len)| {
                let len = *len;
                let timer = playing.then(|| {
                    gloo::timers::callback::Interval::new(stage::step_ms(*speed), move || {
                        dispatcher.dispatch(Cmd::Forward(len))
                    })
                });
                move || drop(timer)
            },
        );
    }
    let current_anchor = |pane: usize| -> Option<AttrValue> {
        if *tab != Tab::Packet {
            return None;
        }
        let w = walks.get(pane)?.as_ref().ok()?;
        let f = w
            .frames
            .get(playback.at.min(w.frames.len().saturating_sub(1)))?;
        f.step.anchor.clone().map(AttrValue::from)
    };

    // Every change is kept: in the address (a reload or a copied link reproduces it) and in
    // local storage (a new visit starts where the reader left).
    let shared = state.shared();
    let fragment = use_memo(shared.clone(), share::encode);
    {
        let fragment = fragment.clone();
        use_effect_with(fragment, move |fragment| {
            let _ = LocalStorage::set(STORAGE_KEY, fragment.as_str());
            if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
                let _ = history.replace_state_with_url(
                    &wasm_bindgen::JsValue::NULL,
                    "",
                    Some(&format!("#{fragment}")),
                );
            }
        });
    }

    // A link pasted into this tab changes only the fragment: the page does not reload, so the
    // new state is read here.
    {
        let (state, link_problem) = (state.clone(), link_problem.clone());
        use_effect_with((), move |_| {
            // (`replaceState`, which keeps the address current, fires no hashchange.)
            let listener =
                gloo::events::EventListener::new(&gloo::utils::window(), "hashchange", move |_| {
                    match share::decode(&location_hash()) {
                        Ok(shared) => {
                            link_problem.set(None);
                            state.set(State::from_shared(shared));
                        }
                        Err(e) => link_problem.set(Some(e)),
                    }
                });
            move || drop(listener)
        });
    }

    let update = |f: fn(&mut State, String)| {
        let state = state.clone();
        Callback::from(move |value: String| {
            let mut next = (*state).clone();
            f(&mut next, value);
            state.set(next);
        })
    };
    let on_input = update(|s, text| s.edit(text));
    let on_view = update(|s, view| {
        s.view = Some(view);
        s.selected = None;
        s.refresh();
    });
    let on_mode = update(|s, mode| {
        s.mode = Mode::parse(&mode);
        s.view = None;
        s.selected = None;
        s.refresh();
    });
    let on_compare_view = update(|s, view| {
        s.compare_view = Some(view);
        s.refresh();
    });
    let on_compare_mode = update(|s, mode| {
        s.compare = Mode::parse(&mode);
        s.compare_view = None;
        s.refresh();
    });
    let on_compare = update(|s, mode| {
        s.compare = Mode::parse(&mode);
        s.compare_view = None;
        s.refresh();
    });
    let on_node = update(|s, node| s.set_node(node));
    let on_select = {
        let state = state.clone();
        Callback::from(move |line: Option<usize>| {
            let mut next = (*state).clone();
            next.selected = line;
            state.set(next);
        })
    };
    let on_all_namespaces = {
        let state = state.clone();
        Callback::from(move |e: Event| {
            let mut next = (*state).clone();
            next.all_namespaces = e.target_unchecked_into::<HtmlInputElement>().checked();
            next.refresh();
            state.set(next);
        })
    };
    let on_scenario = {
        let state = state.clone();
        Callback::from(move |e: Event| {
            let select = e.target_unchecked_into::<HtmlSelectElement>();
            let Some(sc) = scenarios::find(&select.value()) else {
                return;
            };
            select.set_value("");
            // Replacing edited text needs the reader's word: their text is never lost silently.
            if state.edited()
                && !confirm("Replace your text with this scenario? Your edits will be lost.")
            {
                return;
            }
            let mut next = (*state).clone();
            next.load_scenario(sc);
            state.set(next);
        })
    };
    let on_reset = {
        let state = state.clone();
        Callback::from(move |_: MouseEvent| {
            let sc = state
                .scenario
                .and_then(scenarios::find)
                .unwrap_or(&scenarios::ALL[0]);
            if state.edited()
                && !confirm(&format!(
                    "Go back to the scenario's original text? Your edits will be lost."
                ))
            {
                return;
            }
            let mut next = (*state).clone();
            next.load_scenario(sc);
            state.set(next);
        })
    };
    let on_download = {
        let state = state.clone();
        Callback::from(move |_: MouseEvent| download(&state.text))
    };
    let on_copy = {
        let (fragment, copied) = (fragment.clone(), copied.clone());
        Callback::from(move |_: MouseEvent| {
            let url = link_to(&fragment);
            if let Some(w) = web_sys::window() {
                let _ = w.navigator().clipboard().write_text(&url);
            }
            copied.set(true);
        })
    };
    let hover_in = |pane: usize| {
        let hover = hover.clone();
        Callback::from(move |line: Option<usize>| hover.set(line.map(|l| (pane, l))))
    };

    let s = &*state;
    let stale = !s.errors.is_empty();
    let pane_line = |pane: usize, line: usize| -> Option<ViewLine> {
        let p: &Pane = if pane == 0 {
            s.primary.as_ref()?
        } else {
            s.secondary.as_ref()?
        };
        p.lines.get(line).cloned()
    };
    let focus: Option<ViewLine> = hover
        .and_then(|(p, l)| pane_line(p, l))
        .or_else(|| s.selected.and_then(|l| pane_line(0, l)));
    let highlight = focus
        .as_ref()
        .map(|l| l.written.clone())
        .unwrap_or_default();
    let reveal = focus
        .as_ref()
        .and_then(|l| l.written.last().map(|r| r.first));
    let about = s.scenario.and_then(scenarios::find).map(|sc| sc.about());
    let view_is_kubectl = s
        .primary
        .as_ref()
        .is_some_and(|p| p.view.starts_with("get-"));

    html! {
        <main class={classes!("kpx", s.compare.is_some().then_some("comparing"))}>
            <header>
                <h1>{ "kpx" }</h1>
                <p class="tagline">{ "Edit the cluster; see exactly what kube-proxy programs on the node." }</p>
                <div class="share">
                    <button id="copy-link" onclick={on_copy}>{ "Copy link" }</button>
                    <input id="share-url" readonly=true aria-label="Link to this state" value={link_to(&fragment)} />
                    if *copied { <span role="status" class="copied">{ "Link copied" }</span> }
                </div>
            </header>
            if let Some(problem) = &*link_problem {
                <p id="link-problem" class="banner" role="alert">{ format!("This link could not be opened: {problem}. Showing your last work instead.") }</p>
            }
            <section class="editor-pane" aria-label="Cluster YAML">
                <div class="toolbar">
                    <select id="scenario" onchange={on_scenario} aria-label="Load a scenario">
                        <option value="" selected=true>{ "Load a scenario…" }</option>
                        { for scenarios::ALL.iter().map(|sc| html! { <option value={sc.id}>{ sc.about().title }</option> }) }
                    </select>
                    <button id="reset" onclick={on_reset} title="Back to the scenario's original text">{ "Reset" }</button>
                    <button id="download" onclick={on_download} title="Save the YAML as a file">{ "Download YAML" }</button>
                </div>
                if let Some(about) = about {
                    <details id="about" class="about" open=true>
                        <summary>{ about.title }</summary>
                        { for about.paragraphs.iter().map(|p| html! { <p>{ p }</p> }) }
                        if !about.commands.is_empty() {
                            <p class="try">{ "On the command line: " }{ for about.commands.iter().map(|c| html! { <code>{ c }</code> }) }</p>
                        }
                    </details>
                }
                <Editor text={s.text.clone()} errors={s.errors.clone()} {highlight} oninput={on_input} {reveal} />
                <div id="errors" class={classes!("errors", stale.then_some("has-errors"))} role="status">
                    { for s.errors.iter().map(|d| {
                        let (line, col) = (d.pos.line, d.pos.col);
                        html! { <p class="error"><button class="goto" onclick={Callback::from(move |_| editor::go_to(line, col))}>{ format!("{}{}", position(d), d.message) }</button></p> }
                    }) }
                </div>
            </section>
            <section class="output-area" aria-label="What kube-proxy programs">
                <div class="toolbar">
                    <label for="node">{ "Node" }</label>
                    <select id="node" onchange={let cb = on_node.clone(); Callback::from(move |e: Event| cb.emit(e.target_unchecked_into::<HtmlSelectElement>().value()))}>
                        { for s.nodes.iter().map(|n| html! { <option value={n.clone()} selected={*n == s.shown_node}>{ n }</option> }) }
                    </select>
                    <label for="compare">{ "Compare with" }</label>
                    <select id="compare" onchange={let cb = on_compare.clone(); Callback::from(move |e: Event| cb.emit(e.target_unchecked_into::<HtmlSelectElement>().value()))}>
                        <option value="" selected={s.compare.is_none()}>{ "nothing" }</option>
                        { for [Mode::Iptables, Mode::Ipvs, Mode::Nftables].into_iter().map(|m| html! {
                            <option value={m.as_str()} selected={s.compare == Some(m)}>{ format!("{} mode", m.as_str()) }</option>
                        }) }
                    </select>
                    if view_is_kubectl {
                        <label class="check"><input id="all-namespaces" type="checkbox" checked={s.all_namespaces} onchange={on_all_namespaces} />{ "-A (all namespaces)" }</label>
                    }
                    if stale { <span class="stale">{ "showing the last valid input" }</span> }
                </div>
                <div class="panes">
                    if let Some(pane) = &s.primary {
                        <Output id="output" label="Mode" pane={pane.clone()} selected={s.selected} onselect={on_select.clone()}
                            onhover={hover_in(0)} onview={on_view} onmode={on_mode} {stale} current={current_anchor(0)} />
                    }
                    if let Some(pane) = &s.secondary {
                        <Output id="output-2" label="Compared mode" pane={pane.clone()} selected={None::<usize>} onselect={Callback::noop()}
                            onhover={hover_in(1)} onview={on_compare_view} onmode={on_compare_mode} {stale} current={current_anchor(1)} />
                    }
                </div>
                <section class={classes!("stage", (*tab != Tab::Explain).then_some("wide"))} aria-label="Explanations, packet walk and charts">
                    <div class="tabs stage-tabs" role="tablist">
                        { for [(Tab::Explain, "stage-explain", "Why this line"), (Tab::Packet, "stage-packet", "Packet walk"), (Tab::Charts, "stage-charts", "Charts")].into_iter().map(|(t, id, label)| {
                            let tab = tab.clone();
                            html! { <button role="tab" class="tab" {id} aria-selected={(*tab == t).to_string()} onclick={Callback::from(move |_| tab.set(t))}>{ label }</button> }
                        }) }
                    </div>
                    { match *tab {
                        Tab::Explain => html! {
                            <>
                                <Explain line={focus} />
                                if let Some(pane) = &s.primary {
                                    <Changes pane={pane.clone()} onselect={on_select.clone()} />
                                }
                            </>
                        },
                        Tab::Packet => html! {
                            <PacketPanel walks={Rc::new((*walks).clone())} playback={Rc::new((*playback).clone())}
                                oncmd={let d = playback.dispatcher(); Callback::from(move |c| d.dispatch(c))}
                                clients={clients.clone()} from={AttrValue::from(from.clone())}
                                onfrom={let f = walk_from.clone(); Callback::from(move |v: String| f.set(Some(v)))}
                                dests={dests.clone()} dest={dest_index}
                                ondest={let f = walk_dest.clone(); let dests = dests.clone(); Callback::from(move |i: usize| f.set(dests.get(i).map(|d| d.label.clone())))}
                                onnew={let s = seed.clone(); Callback::from(move |_| s.set(*s + 1))}
                                reduced_motion={reduced_motion()} />
                        },
                        Tab::Charts => html! {
                            <ChartsPanel text={AttrValue::from(good_text.clone())} modes={modes.clone()} from={AttrValue::from(from.clone())} dest={dest.clone()} />
                        },
                    } }
                </section>
                if !s.warnings.is_empty() {
                    <ul id="warnings" class="warnings">
                        { for s.warnings.iter().map(|w| html! { <li>{ format!("{}{}", position(w), w.message) }</li> }) }
                    </ul>
                }
                if !s.notes.is_empty() {
                    <details id="notes" class="notes">
                        <summary>{ format!("What kpx assumed or derived ({})", s.notes.len()) }</summary>
                        <ul>{ for s.notes.iter().map(|n| html! { <li>{ n }</li> }) }</ul>
                    </details>
                }
            </section>
        </main>
    }
}

#[derive(Properties, PartialEq)]
struct ExplainProps {
    line: Option<ViewLine>,
}

/// Why the line under the pointer (or the selected one) exists, its odds, and its words.
#[function_component(Explain)]
fn explain(p: &ExplainProps) -> Html {
    let Some(l) = &p.line else {
        return html! {
            <aside id="explain" class="explain" aria-live="polite">
                <p class="hint">{ "Point at a line (or click it, then use ↑ ↓) to see why it exists, which YAML made it, and what its words mean." }</p>
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
            if let Some(why) = &l.why {
                <p id="why"><strong>{ "Why: " }</strong>{ why }</p>
            }
            if !l.written.is_empty() {
                <p class="written">{ "Written at " }{ for l.written.iter().map(|r| {
                    let first = r.first;
                    html! { <button class="goto" onclick={Callback::from(move |_| editor::go_to(first, 1))}>{ format!("lines {}–{}", r.first, r.last) }</button> }
                }) }</p>
            }
            if let Some(odds) = &l.odds {
                <p id="odds"><strong>{ "Odds: " }</strong>{ odds }</p>
            }
            if !terms.is_empty() {
                <dl id="glossary" class="glossary">
                    { for terms.iter().map(|t| html! { <><dt>{ t.spellings[0] }</dt><dd>{ t.text }</dd></> }) }
                </dl>
            }
        </aside>
    }
}

#[derive(Properties, PartialEq)]
struct ChangesProps {
    pane: Pane,
    /// Selects an added line in the view.
    onselect: Callback<Option<usize>>,
}

/// What the last edit added to and removed from this view, in words.
#[function_component(Changes)]
fn changes(p: &ChangesProps) -> Html {
    const SHOWN: usize = 40;
    let c = &p.pane.changes;
    if c.is_empty() {
        return html! {};
    }
    let added: Vec<(usize, &ViewLine)> = p
        .pane
        .lines
        .iter()
        .enumerate()
        .zip(&c.added)
        .filter(|(_, a)| **a)
        .map(|(l, _)| l)
        .collect();
    let item = |sign: &'static str, class: &'static str, at: Option<usize>, l: &ViewLine| {
        let what = diff::describe(&l.text);
        let because = l
            .why
            .as_ref()
            .map(|why| html! { <span class="because">{ format!(" — {why}") }</span> });
        html! {
            <li class={class} title={l.text.clone()}>
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
            <h2>{ format!("Your last edit: {} added, {} removed in this view", added.len(), c.removed.len()) }</h2>
            <ul>
                { for added.iter().take(SHOWN).map(|(i, l)| item("+", "added", Some(*i), l)) }
                { for c.removed.iter().take(SHOWN.saturating_sub(added.len())).map(|l| item("−", "removed", None, l)) }
                if more > 0 { <li>{ format!("… and {more} more") }</li> }
            </ul>
        </section>
    }
}

fn main() {
    yew::Renderer::<App>::new().render();
}
