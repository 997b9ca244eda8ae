//! kpx in the browser: a YAML editor and the live view of what kube-proxy programs.
//!
//! All computing is kpx-core's (`views::analyze` / `Analysis::render`); this crate only holds
//! the reader's text and choices and draws them. One state value owns everything; the rendered
//! view is derived from it, never stored twice — except the last good output, which is kept on
//! purpose so that a typo never blanks the screen.

use kpx_core::views::{analyze, views, Request};
use kpx_core::{Diagnostic, Severity};
use web_sys::{HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

/// The article's cluster, shipped as a preset (static/scenarios/seed-iptables.yaml).
const SEED: &str = include_str!("../../static/scenarios/seed-iptables.yaml");

/// What the reader sees below the editor.
#[derive(Clone, PartialEq, Default)]
struct Output {
    text: String,
    notes: Vec<String>,
    warnings: Vec<Diagnostic>,
}

#[derive(Clone, PartialEq)]
struct State {
    text: String,
    view: String,
    /// Problems of the current text (empty when it rendered).
    errors: Vec<Diagnostic>,
    /// The output of the last text that rendered.
    last_good: Output,
}

fn compute(text: &str, view: &str) -> Result<Output, Vec<Diagnostic>> {
    let analysis = analyze(text).map_err(|e| e.diagnostics)?;
    let req = Request { view: Some(view.to_string()), ..Default::default() };
    let rendered = analysis
        .render(&req)
        .map_err(|msg| vec![Diagnostic { severity: Severity::Error, pos: Default::default(), message: msg }])?;
    Ok(Output {
        text: rendered,
        notes: analysis.cluster.notes.iter().map(|n| n.message.clone()).collect(),
        warnings: analysis.cluster.warnings.clone(),
    })
}

impl State {
    fn new(text: String, view: String) -> Self {
        let mut s = State { text: String::new(), view, errors: vec![], last_good: Output::default() };
        s.update(text);
        s
    }
    fn update(&mut self, text: String) {
        match compute(&text, &self.view) {
            Ok(out) => {
                self.errors.clear();
                self.last_good = out;
            }
            Err(errors) => self.errors = errors,
        }
        self.text = text;
    }
}

fn position(d: &Diagnostic) -> String {
    if d.pos.line == 0 { String::new() } else { format!("line {}, col {}: ", d.pos.line, d.pos.col) }
}

#[function_component(App)]
fn app() -> Html {
    let state = use_state(|| State::new(SEED.to_string(), "save".to_string()));

    let on_input = {
        let state = state.clone();
        Callback::from(move |e: InputEvent| {
            let text = e.target_unchecked_into::<HtmlTextAreaElement>().value();
            let mut next = (*state).clone();
            next.update(text);
            state.set(next);
        })
    };
    let on_view = {
        let state = state.clone();
        Callback::from(move |e: Event| {
            let view = e.target_unchecked_into::<HtmlSelectElement>().value();
            let mut next = (*state).clone();
            next.view = view;
            let text = next.text.clone();
            next.update(text);
            state.set(next);
        })
    };

    let out = &state.last_good;
    let stale = !state.errors.is_empty();
    html! {
        <main class="kpx">
            <header>
                <h1>{ "kpx" }</h1>
                <p class="tagline">{ "Edit the cluster on the left; see exactly what kube-proxy programs on the node." }</p>
            </header>
            <section class="editor-pane">
                <label for="editor">{ "Cluster YAML (Services, Pods, EndpointSlices, Nodes, KubeProxyConfiguration)" }</label>
                <textarea id="editor" spellcheck="false" value={state.text.clone()} oninput={on_input} />
                <div id="errors" class={classes!("errors", stale.then_some("has-errors"))} role="status">
                    { for state.errors.iter().map(|d| html! { <p class="error">{ format!("{}{}", position(d), d.message) }</p> }) }
                </div>
            </section>
            <section class="output-pane">
                <div class="toolbar">
                    <label for="view">{ "View" }</label>
                    <select id="view" onchange={on_view}>
                        { for views(kpx_core::cluster::settings::Mode::Iptables).into_iter().map(|v| html! {
                            <option value={v.name} selected={v.name == state.view}>{ format!("{} — {}", v.name, v.description) }</option>
                        }) }
                    </select>
                    if stale { <span class="stale">{ "showing the last valid input" }</span> }
                </div>
                <pre id="output" class={classes!("output", stale.then_some("stale"))}>{ &out.text }</pre>
                if !out.warnings.is_empty() {
                    <ul id="warnings" class="warnings">
                        { for out.warnings.iter().map(|w| html! { <li>{ format!("{}{}", position(w), w.message) }</li> }) }
                    </ul>
                }
                if !out.notes.is_empty() {
                    <details id="notes" class="notes">
                        <summary>{ format!("What kpx assumed or derived ({})", out.notes.len()) }</summary>
                        <ul>{ for out.notes.iter().map(|n| html! { <li>{ n }</li> }) }</ul>
                    </details>
                }
            </section>
        </main>
    }
}

fn main() {
    yew::Renderer::<App>::new().render();
}
