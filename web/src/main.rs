//! kpx in the browser: a YAML editor and the live view of what kube-proxy programs.
//!
//! All computing is kpx-core's (`views::analyze` / `Analysis::render`); this crate only holds
//! the reader's text and choices and draws them. One state value owns everything; the rendered
//! view is derived from it, never stored twice — except the last good output, which is kept on
//! purpose so that a typo never blanks the screen.

use gloo::storage::{LocalStorage, Storage};
use kpx_core::cluster::settings::Mode;
use kpx_core::views::{analyze_on, views, Request, ViewLine};
use kpx_core::{Diagnostic, Severity};
use web_sys::{HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

/// The shipped scenarios (static/scenarios/), compiled in so the page works offline.
const PRESETS: &[(&str, &str, &str)] = &[
    (
        "article",
        "The article's cluster (kube-proxy 1.23)",
        include_str!("../../static/scenarios/seed-iptables.yaml"),
    ),
    (
        "article-ipvs",
        "The article's cluster in IPVS mode",
        include_str!("../../static/scenarios/seed-ipvs.yaml"),
    ),
    (
        "tour",
        "A tour of Service types and traffic policies",
        include_str!("../../static/scenarios/tour.yaml"),
    ),
    (
        "hairpin",
        "Hairpin: a pod reaching itself through its Service",
        include_str!("../../static/scenarios/behaviours/hairpin.yaml"),
    ),
    (
        "external-traffic-policy",
        "externalTrafficPolicy: Local on two nodes",
        include_str!("../../static/scenarios/behaviours/external-traffic-policy.yaml"),
    ),
    (
        "session-affinity",
        "sessionAffinity: ClientIP",
        include_str!("../../static/scenarios/behaviours/session-affinity.yaml"),
    ),
    (
        "no-endpoints",
        "A Service with no ready endpoint",
        include_str!("../../static/scenarios/behaviours/no-endpoints.yaml"),
    ),
];
/// Where the reader's text is kept between visits, so it is never lost.
const STORAGE_KEY: &str = "kpx.text";

fn preset(name: &str) -> Option<&'static str> {
    PRESETS.iter().find(|p| p.0 == name).map(|p| p.2)
}

/// `?preset=tour&view=list`: how a docs page embeds a given scenario and view.
fn url_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
}

/// The text to start with: an explicit preset, else the reader's last text, else the article.
fn initial_text() -> String {
    if let Some(text) = url_param("preset").as_deref().and_then(preset) {
        return text.to_string();
    }
    LocalStorage::get::<String>(STORAGE_KEY)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| PRESETS[0].2.to_string())
}

/// What the reader sees below the editor.
#[derive(Clone, PartialEq, Default)]
struct Output {
    /// The mode and view shown.
    mode: Mode,
    view: String,
    /// The view, line by line, each with why it is there (shown on hover).
    lines: Vec<ViewLine>,
    /// The node whose kube-proxy is shown, and the nodes one can switch to.
    node: String,
    nodes: Vec<String>,
    notes: Vec<String>,
    warnings: Vec<Diagnostic>,
}

#[derive(Clone, PartialEq)]
struct State {
    text: String,
    /// The view chosen by the reader (`None`: the mode's default, [`default_view`]).
    view: Option<String>,
    /// The proxy mode chosen by the reader (`None`: the input's KubeProxyConfiguration.mode).
    mode: Option<Mode>,
    /// The node chosen by the reader (`None`: the one the input names).
    node: Option<String>,
    /// kubectl views: every namespace (`-A`).
    all_namespaces: bool,
    /// Problems of the current text (empty when it rendered).
    errors: Vec<Diagnostic>,
    /// The output of the last text that rendered.
    last_good: Output,
}

/// What each mode shows first: what the node itself would print.
fn default_view(mode: Mode) -> &'static str {
    match mode {
        Mode::Iptables => "save",
        Mode::Ipvs => "ipvsadm",
        Mode::Nftables => "nft-list",
    }
}

fn compute(text: &str, choice: &State, node: Option<&str>) -> Result<Output, Vec<Diagnostic>> {
    let analysis = analyze_on(text, node).map_err(|e| e.diagnostics)?;
    let mode = choice.mode.unwrap_or(analysis.cluster.settings.mode);
    // A view the mode lacks falls back to the mode's first view.
    let offered = views(mode);
    let wanted = choice.view.as_deref().unwrap_or(default_view(mode));
    let view = offered
        .iter()
        .find(|v| v.name == wanted)
        .map_or(default_view(mode), |v| v.name);
    let req = Request {
        mode: Some(mode),
        view: Some(view.to_string()),
        all_namespaces: choice.all_namespaces,
        ..Default::default()
    };
    let rendered = analysis.render_lines(&req).map_err(|msg| {
        vec![Diagnostic {
            severity: Severity::Error,
            pos: Default::default(),
            message: msg,
        }]
    })?;
    Ok(Output {
        lines: rendered,
        mode,
        view: view.to_string(),
        node: analysis.cluster.settings.node_name.clone(),
        nodes: analysis.node_names(),
        notes: analysis
            .cluster
            .notes
            .iter()
            .map(|n| n.message.clone())
            .collect(),
        warnings: analysis.cluster.warnings.clone(),
    })
}

impl State {
    fn new(text: String, view: Option<String>, mode: Option<Mode>) -> Self {
        let mut s = State {
            text: String::new(),
            view,
            mode,
            node: None,
            all_namespaces: false,
            errors: vec![],
            last_good: Output::default(),
        };
        s.update(text);
        s
    }
    fn update(&mut self, text: String) {
        // A chosen node that the edit removed falls back to the input's own.
        let mut result = compute(&text, self, self.node.as_deref());
        if result.is_err() && self.node.is_some() {
            if let Ok(out) = compute(&text, self, None) {
                self.node = None;
                result = Ok(out);
            }
        }
        match result {
            Ok(out) => {
                self.errors.clear();
                self.last_good = out;
            }
            Err(errors) => self.errors = errors,
        }
        self.text = text;
        let _ = LocalStorage::set(STORAGE_KEY, &self.text);
    }
}

fn position(d: &Diagnostic) -> String {
    if d.pos.line == 0 {
        String::new()
    } else {
        format!("line {}, col {}: ", d.pos.line, d.pos.col)
    }
}

/// A form-control handler: reads the control, sets one choice, renders again.
fn on_change<V: 'static>(
    state: &UseStateHandle<State>,
    read: fn(Event) -> V,
    set: fn(&mut State, V),
) -> Callback<Event> {
    let state = state.clone();
    Callback::from(move |e: Event| {
        let mut next = (*state).clone();
        set(&mut next, read(e));
        let text = next.text.clone();
        next.update(text);
        state.set(next);
    })
}

fn select_value(e: Event) -> String {
    e.target_unchecked_into::<HtmlSelectElement>().value()
}

fn checkbox_value(e: Event) -> bool {
    e.target_unchecked_into::<web_sys::HtmlInputElement>()
        .checked()
}

#[function_component(App)]
fn app() -> Html {
    let state = use_state(|| {
        State::new(
            initial_text(),
            url_param("view"),
            url_param("mode").as_deref().and_then(Mode::parse),
        )
    });

    let on_input = {
        let state = state.clone();
        Callback::from(move |e: InputEvent| {
            let text = e.target_unchecked_into::<HtmlTextAreaElement>().value();
            let mut next = (*state).clone();
            next.update(text);
            state.set(next);
        })
    };
    let on_view = on_change(&state, select_value, |s, view| s.view = Some(view));
    // A new mode starts at its own default view.
    let on_mode = on_change(&state, select_value, |s, mode| {
        s.mode = Mode::parse(&mode);
        s.view = None;
    });
    let on_node = on_change(&state, select_value, |s, node| s.node = Some(node));
    let on_all_namespaces = on_change(&state, checkbox_value, |s, all| s.all_namespaces = all);
    let on_preset = {
        let state = state.clone();
        Callback::from(move |e: Event| {
            let select = e.target_unchecked_into::<HtmlSelectElement>();
            let Some(text) = preset(&select.value()) else {
                return;
            };
            select.set_value("");
            // Replacing edited text needs the reader's word: their text is never lost silently.
            let edited = !PRESETS.iter().any(|p| p.2 == state.text);
            if edited {
                let ok = web_sys::window()
                    .and_then(|w| {
                        w.confirm_with_message(
                            "Replace your text with this scenario? Your edits will be lost.",
                        )
                        .ok()
                    })
                    .unwrap_or(false);
                if !ok {
                    return;
                }
            }
            let mut next = (*state).clone();
            next.update(text.to_string());
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
                <div class="toolbar">
                    <label for="editor" title="Services, EndpointSlices, Pods, Deployments, Nodes, KubeProxyConfiguration, NodeEnvironment">{ "Cluster YAML" }</label>
                    <select id="preset" onchange={on_preset} aria-label="Load a scenario">
                        <option value="" selected=true>{ "Load a scenario…" }</option>
                        { for PRESETS.iter().map(|(name, title, _)| html! { <option value={*name}>{ *title }</option> }) }
                    </select>
                </div>
                <textarea id="editor" spellcheck="false" wrap="off" value={state.text.clone()} oninput={on_input} />
                <div id="errors" class={classes!("errors", stale.then_some("has-errors"))} role="status">
                    { for state.errors.iter().map(|d| html! { <p class="error">{ format!("{}{}", position(d), d.message) }</p> }) }
                </div>
            </section>
            <section class="output-pane">
                <div class="toolbar">
                    <label for="mode">{ "Mode" }</label>
                    <select id="mode" onchange={on_mode}>
                        { for [Mode::Iptables, Mode::Ipvs, Mode::Nftables].into_iter().map(|m| html! {
                            <option value={m.as_str()} selected={m == out.mode}>{ m.as_str() }</option>
                        }) }
                    </select>
                    <label for="view">{ "View" }</label>
                    <select id="view" onchange={on_view}>
                        { for views(out.mode).into_iter().map(|v| html! {
                            <option value={v.name} selected={v.name == out.view}>{ format!("{} — {}", v.name, v.description) }</option>
                        }) }
                    </select>
                    <label for="node">{ "Node" }</label>
                    <select id="node" onchange={on_node}>
                        { for out.nodes.iter().map(|n| html! { <option value={n.clone()} selected={*n == out.node}>{ n }</option> }) }
                    </select>
                    if out.view.starts_with("get-") {
                        <label class="check"><input id="all-namespaces" type="checkbox" checked={state.all_namespaces} onchange={on_all_namespaces} />{ "-A (all namespaces)" }</label>
                    }
                    if stale { <span class="stale">{ "showing the last valid input" }</span> }
                </div>
                <pre id="output" class={classes!("output", stale.then_some("stale"))}>
                    { for out.lines.iter().map(|l| match &l.why {
                        Some(why) => html! { <><span class="why" title={why.clone()}>{ &l.text }</span>{ "\n" }</> },
                        None => html! { <>{ &l.text }{ "\n" }</> },
                    }) }
                </pre>
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
