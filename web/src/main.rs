//! kpx in the browser: edit a cluster's YAML, see exactly what kube-proxy programs on the node.
//!
//! All computing is kpx-core's; this crate holds the reader's text and choices ([`state`]) and
//! draws them: the editor ([`editor`]), one pane per shown mode ([`output`]), and under them
//! the stage ([`stage`]): why the focused line exists ([`panels`]), the packet walk
//! ([`packet`]) and the charts ([`charts`]). The page speaks English or Chinese ([`i18n`]), and
//! runs full-page, in presenter mode, or embedded in a docs page (`?embed=1`, [`Options`]).

mod bench;
mod charts;
mod crash;
mod diff;
mod dispose;
mod editor;
mod highlight;
mod i18n;
mod keep;
mod opening;
mod output;
mod packet;
mod panels;
mod scenarios;
mod stage;
mod state;
mod task;
mod typing;
mod windowed;

use editor::Editor;
use gloo::storage::{LocalStorage, Storage};
use gloo::timers::callback::Timeout;
use i18n::{t, tf, Lang};
use kpx_core::cluster::settings::Mode;
use kpx_core::input::LineRange;
use kpx_core::pace::{at_once, InParts, Pace};
use kpx_core::share;
use kpx_core::views::{written_by, ViewLine};
use kpx_core::Diagnostic;
use output::Output;
use panels::{Changes, Explain};
use stage::{ChartsPanel, Cmd, PacketPanel, Playback};
use state::{Pane, SharedText, State};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

/// Where versions before links kept the text alone.
const OLD_STORAGE_KEY: &str = "kpx.text";
const LANG_KEY: &str = "kpx.lang";
const THEME_KEY: &str = "kpx.theme";

fn url_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
}

fn flag(name: &str) -> Option<bool> {
    url_param(name).map(|v| matches!(v.as_str(), "1" | "true" | "yes" | ""))
}

fn location_hash() -> String {
    web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default()
}

/// The fragment the page starts from: the address's, or, when this page is a reload of one
/// left in the middle of a change, the change ([`keep::to_open_at`]; not in an embed, which
/// keeps nothing). Worked out once: the first look takes the tab's note.
fn start_fragment() -> String {
    thread_local! {
        static START: String = {
            let hash = location_hash();
            if hash.len() > 1 && !options().embed && reloaded() {
                keep::to_open_at(hash)
            } else {
                // (Another start forgets the note: left by an older page, it would otherwise
                // wait for a reload of this one left before it noted anything itself.)
                if !options().embed {
                    keep::forget_left();
                }
                hash
            }
        };
    }
    START.with(Clone::clone)
}

/// Whether this page was loaded by a reload (the Navigation Timing entry's `type`).
fn reloaded() -> bool {
    web_sys::window()
        .and_then(|w| w.performance())
        .and_then(|p| p.get_entries_by_type("navigation").get(0).dyn_into().ok())
        .and_then(|entry: js_sys::Object| js_sys::Reflect::get(&entry, &"type".into()).ok())
        .and_then(|t| t.as_string())
        .is_some_and(|t| t == "reload")
}

/// How the page is shown, from its address: `?embed=1&editor=0&readonly=1&lang=zh&theme=dark
/// &presenter=1` (the state itself — scenario, mode, view, walk — is read by [`initial`]).
#[derive(Clone, Debug, PartialEq)]
struct Options {
    /// Embedded in another page: only the chosen parts, an "Open in kpx" link, and the height
    /// posted to the parent (static/embed.js sizes the iframe with it).
    embed: bool,
    /// Show the editor (default: yes, except embedded).
    editor: bool,
    readonly: bool,
    presenter: bool,
}

fn options() -> Options {
    let embed = flag("embed").unwrap_or(false);
    Options {
        embed,
        editor: flag("editor").unwrap_or(!embed),
        readonly: flag("readonly").unwrap_or(false),
        presenter: flag("presenter").unwrap_or(false),
    }
}

/// The language: `?lang=`, else the reader's last choice, else the browser's.
fn initial_lang() -> Lang {
    url_param("lang")
        .and_then(|l| Lang::parse(&l))
        .or_else(|| {
            LocalStorage::get::<String>(LANG_KEY)
                .ok()
                .and_then(|l| Lang::parse(&l))
        })
        .or_else(|| {
            web_sys::window()
                .and_then(|w| w.navigator().language())
                .and_then(|l| Lang::parse(&l))
        })
        .unwrap_or_default()
}

/// The theme: `light`, `dark`, or empty to follow the system.
fn initial_theme() -> String {
    url_param("theme")
        .or_else(|| LocalStorage::get::<String>(THEME_KEY).ok())
        .filter(|t| t == "light" || t == "dark")
        .unwrap_or_default()
}

/// The state to start with, a problem with the link that was opened, if any, and what the
/// reader should know about their work (a link displaced it).
/// A link wins; then `?scenario=`; then the reader's saved work; then the article. Address
/// parameters (`mode`, `view`, `compare`, `panel`, `from`, `to`, `step`) apply on top.
fn initial() -> (State, Option<String>, Option<keep::Notice>) {
    let mut problem = None;
    let mut notice = None;
    let hash = start_fragment();
    let from_link = if hash.len() > 1 {
        match opening::open(&hash) {
            Ok(shared) => {
                if keep::keep_saved_before(&hash, &shared.text) {
                    notice = Some(keep::Notice::LinkOpened);
                }
                Some(State::from_shared(shared))
            }
            Err(e) => {
                problem = Some(e);
                None
            }
        }
    } else {
        None
    };
    let wanted = wanted_scenario();
    let scenario = |sc| {
        let mut s = State::new("".into());
        s.load_scenario(sc);
        s
    };
    // A scenario is analysed here (`true`); the reader's own text once the address's choices
    // apply, below.
    let (mut state, analysed) = if let Some(s) = from_link {
        (s, false)
    } else if let Some(sc) = wanted.as_deref().and_then(scenarios::find) {
        (scenario(sc), true)
    } else if let Some(shared) = LocalStorage::get::<String>(keep::SAVED_KEY)
        .ok()
        .and_then(|s| opening::open(&s).ok())
    {
        (State::from_shared(shared), false)
    } else if let Some(text) = LocalStorage::get::<String>(OLD_STORAGE_KEY)
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        (State::unanalysed(text.into()), false)
    } else {
        (scenario(&scenarios::ALL[0]), true)
    };
    // A reload of this page's own address: its fragment is the page's writing, which holds the
    // choices since (the address's, and the reader's after them); applied again, `?mode=`
    // undid a mode the reader had chosen or typed since. (An embed writes nothing: its
    // address is its author's.)
    if options().embed || !reloaded() || hash.len() <= 1 {
        apply_address_choices(&mut state);
    }
    if analysed {
        state.refresh();
    } else {
        typing::analyse_opened(&mut state);
    }
    (state, problem, notice)
}

/// The choices the address asks for (`mode`, `view`, `compare`, `panel`, `from`, `to`,
/// `step`), on top of the state opened.
fn apply_address_choices(state: &mut State) {
    if let Some(mode) = url_param("mode").as_deref().and_then(Mode::parse) {
        state.mode = Some(mode);
    }
    if let Some(view) = url_param("view") {
        state.view = Some(view);
    }
    if let Some(mode) = url_param("compare").as_deref().and_then(Mode::parse) {
        state.compare = Some(mode);
    }
    if let Some(panel) =
        url_param("panel").filter(|p| ["explain", "packet", "charts"].contains(&p.as_str()))
    {
        state.panel = panel;
    }
    if let Some(from) = url_param("from") {
        state.walk_from = Some(from);
    }
    if let Some(to) = url_param("to") {
        state.walk_to = Some(to);
    }
    if let Some(step) = url_param("step").and_then(|s| s.parse::<usize>().ok()) {
        state.start_step = step.saturating_sub(1);
        if url_param("panel").is_none() {
            state.panel = "packet".into();
        }
    }
}

/// The scenario the address asks for (`?scenario=`, or `?preset=` in older links).
fn wanted_scenario() -> Option<String> {
    url_param("scenario").or_else(|| url_param("preset"))
}

/// The fragment [`initial`] opens: a link in the address, else the work kept (unless the
/// address asks for a scenario).
fn fragment_to_open() -> Option<String> {
    let hash = start_fragment();
    if hash.len() > 1 {
        return Some(hash);
    }
    if wanted_scenario()
        .as_deref()
        .and_then(scenarios::find)
        .is_some()
    {
        return None;
    }
    LocalStorage::get::<String>(keep::SAVED_KEY).ok()
}

/// The state a link or saved work opens ([`typing::analyse_opened`]: a large text is analysed
/// in steps once it is on screen).
fn opened(shared: share::Shared) -> State {
    let mut state = State::from_shared(shared);
    typing::analyse_opened(&mut state);
    state
}

fn position(lang: Lang, d: &Diagnostic) -> String {
    if d.pos.line == 0 {
        String::new()
    } else {
        tf(lang, "line {}, col {}: ", &[&d.pos.line, &d.pos.col])
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
    let Some(url) = yaml_url(text) else {
        return;
    };
    if let Ok(a) = doc
        .create_element("a")
        .map(|a| a.unchecked_into::<web_sys::HtmlAnchorElement>())
    {
        a.set_href(&url);
        a.set_download(DOWNLOAD_NAME);
        a.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

/// The name a downloaded text gets.
const DOWNLOAD_NAME: &str = "kpx-cluster.yaml";

/// A `blob:` URL holding `text` as a YAML file.
fn yaml_url(text: &str) -> Option<String> {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let bag = web_sys::BlobPropertyBag::new();
    bag.set_type("application/yaml");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &bag).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}

/// The page's address with `fragment` (and without the embed's parameters when `full`).
fn link_to(fragment: &str, full: bool) -> String {
    let Some(loc) = web_sys::window().map(|w| w.location()) else {
        return String::new();
    };
    let href = loc.href().unwrap_or_default();
    let base = href.split('#').next().unwrap_or_default();
    let base = if full {
        base.split('?').next().unwrap_or_default()
    } else {
        base
    };
    format!("{base}#{fragment}")
}

/// What the stage under the rules shows.
#[derive(Clone, Copy, PartialEq)]
enum Tab {
    Explain,
    Packet,
    Charts,
}

impl Tab {
    fn parse(s: &str) -> Tab {
        match s {
            "packet" => Tab::Packet,
            "charts" => Tab::Charts,
            _ => Tab::Explain,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Tab::Explain => "explain",
            Tab::Packet => "packet",
            Tab::Charts => "charts",
        }
    }
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

/// Whether a key press belongs to a text field (shortcuts stay out of the reader's typing).
fn typing(e: &web_sys::KeyboardEvent) -> bool {
    e.target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|el| {
            matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                || el.closest("[contenteditable]").ok().flatten().is_some()
                // A huge text's read-only viewer: its keys scroll it.
                || el.get_attribute("role").as_deref() == Some("textbox")
        })
}

/// The longest address Chromium keeps (characters); a longer one is not put in the address.
const LONGEST_ADDRESS: usize = 2 << 20;
/// How many parts of a fragment are compressed between two looks at the clock (a part is
/// `share::ENCODED_PER_UNIT` bytes of the state, about a millisecond of DEFLATE in the wasm).
const LINK_PARTS: usize = 4;
/// How long a large text ([`typing::LARGE_TEXT`]) is left unchanged before its link is made
/// (ms): longer than the time between a reader's keys, short enough that the address and the
/// saved work follow as soon as the reader stops.
const LINK_AFTER_PAUSE_MS: u32 = 400;

/// What [`use_kept`] keeps: the latest change's fragment, and whether it could not be kept (too
/// large for local storage: the page then says so).
struct Kept {
    /// The latest change's fragment, kept first if its link is still being made in parts: what
    /// may displace the reader's work reads it through this (a link opened, another tab's work
    /// loaded), so that no change is lost in that window (while the reader types into a large
    /// text, and then 0.15 s at 10,000 Services).
    latest: Callback<bool, Rc<String>>,
    /// Keeps a text the reader changed that is not analysed yet (a large text's edit in
    /// steps), with the latest choices, at once: its state is set, and so kept, only once it
    /// is analysed.
    unanalysed: Callback<SharedText>,
    unkept: bool,
}

/// A change whose link is being made in parts: its text and choices, and the flag that stops
/// the parts.
type Due = (SharedText, share::Shared, Rc<std::cell::Cell<bool>>);

/// Keeps every change: in the address (a reload or a copied link reproduces it) and in local
/// storage (a new visit starts where the reader left), as a link fragment, which the share
/// box and an embed's "Open in kpx" show. An embed keeps nothing. The fragment is made after
/// the drawing, a part at a time, in tasks of their own ([`typing::in_tasks`]): DEFLATE of a
/// 10,000-Service text is 150 ms, and of 44,125 Services 0.6 s, which the drawing waited for.
/// A large text's is made once the reader pauses ([`LINK_AFTER_PAUSE_MS`]), not after each key.
/// A fragment too long for an address (kubernetes#139513's 44,125 Services make 2.3 million
/// characters) is kept in storage only, and the share box says so.
#[hook]
fn use_kept(text: SharedText, choices: share::Shared, embed: bool, lang: Lang) -> Kept {
    let choices_then = choices.clone();
    let kept = use_mut_ref(Rc::<String>::default);
    let due = use_mut_ref(|| None::<Due>);
    // The change this drawing shows, and the last one the effect below took up: the page can
    // be left between a drawing and its effects, which run in a later turn (a reload asked
    // for while a large edit ran in steps lost the edit so, one run in five).
    let drawn = use_mut_ref(|| None::<(SharedText, share::Shared)>);
    *drawn.borrow_mut() = Some((text.clone(), choices.clone()));
    let taken = use_mut_ref(|| None::<(SharedText, share::Shared)>);
    let unkept = use_state_eq(|| false);
    // Keeps a change's fragment: in the share box, local storage and (`into_address`) the
    // address.
    // (Made with this drawing's language; the latest one is kept for `latest`.)
    let keep_fragment: Rc<dyn Fn(String, bool)> = {
        let (kept, unkept) = (kept.clone(), unkept.setter());
        Rc::new(move |fragment: String, into_address: bool| {
            let link = link_to(&fragment, true);
            let addressable = link.len() <= LONGEST_ADDRESS;
            if let Some(box_) = element::<HtmlInputElement>("share-url") {
                box_.set_value(if addressable { &link } else { "" });
                box_.set_placeholder(if addressable {
                    ""
                } else {
                    t(lang, "Too large for a link: Download YAML shares it.")
                });
            }
            if let Some(open) = element::<web_sys::Element>("open-in-kpx") {
                let _ = open.set_attribute("href", &link);
            }
            if !embed {
                state::timed("kpx:keep", || {
                    unkept.set(LocalStorage::set(keep::SAVED_KEY, fragment.as_str()).is_err());
                    // Too long for the address: none (a reload opens the stored work, not an
                    // older state left in the address).
                    let address = match addressable {
                        true => format!("#{fragment}"),
                        false => web_sys::window()
                            .and_then(|w| w.location().pathname().ok())
                            .unwrap_or_default(),
                    };
                    // Not the same address again: a reload keeps the work it opened once it is
                    // analysed, and Chromium took 50 ms to put a 0.5 MB address back in place
                    // (10,000 Services). (The address is read only when it would be written.)
                    let history = web_sys::window()
                        .and_then(|w| w.history().ok())
                        .filter(|_| into_address)
                        .filter(|_| !(addressable && location_hash() == address));
                    if let Some(history) = history {
                        keep::address_replaced(&location_hash());
                        let _ = history.replace_state_with_url(
                            &wasm_bindgen::JsValue::NULL,
                            "",
                            Some(&address),
                        );
                    }
                });
            }
            *kept.borrow_mut() = Rc::new(fragment);
        })
    };
    {
        let (due, keep_fragment, taken) = (due.clone(), keep_fragment.clone(), taken.clone());
        // (The text is compared as a shared handle: its 38 MB at 44,125 Services, copied and
        // compared on every drawing, cost a tenth of a second.)
        use_effect_with((text, choices), move |(text, choices)| {
            let (text, choices) = (text.clone(), choices.clone());
            *taken.borrow_mut() = Some((text.clone(), choices.clone()));
            // Set when a newer change comes first (or this one is kept at once): this one is
            // then not kept here.
            let outdated = Rc::new(std::cell::Cell::new(false));
            *due.borrow_mut() = Some((text.clone(), choices.clone(), outdated.clone()));
            let large = text.len() > typing::LARGE_TEXT;
            let make_link = {
                let outdated = outdated.clone();
                move || {
                    let encoding = InParts::new(|pace| async move {
                        share::encode_paced(&text, &choices, &pace).await
                    });
                    typing::in_tasks("kpx:link", encoding, LINK_PARTS, outdated.clone(), {
                        move |fragment| {
                            // Kept in a task of its own (with the link's last part, 103 ms at
                            // 10,000 Services). Until then the change stays due: leaving the
                            // page keeps it (`pagehide`).
                            task::next(move || {
                                // (Kept at once meanwhile, or a newer change came.)
                                if !outdated.get() {
                                    due.borrow_mut().take();
                                    keep_fragment(fragment, true)
                                }
                            });
                        }
                    })
                }
            };
            // A large text's link waits for the reader to pause (a newer change cancels it):
            // made after every key at 1,000 Services, its DEFLATE, storage and address took
            // 23 ms of each key's 50 in the wasm, the page busy with a link the next key
            // made stale.
            let pause = match large {
                true => Some(Timeout::new(LINK_AFTER_PAUSE_MS, make_link)),
                false => {
                    make_link();
                    None
                }
            };
            move || {
                outdated.set(true);
                drop(pause)
            }
        });
    }
    let keeper = use_mut_ref(|| keep_fragment.clone());
    *keeper.borrow_mut() = keep_fragment;
    // Keeps the latest change now if its link is still being made (and, `address`, puts it in
    // the address: not when a link opened there is about to replace it).
    let latest = use_memo((), {
        let due = due.clone();
        move |_| {
            Callback::from(move |address: bool| {
                // (Or the change drawn, if its effect has not taken it up yet.)
                let pending = due.borrow_mut().take().or_else(|| {
                    let drawn = drawn.borrow().clone()?;
                    let mut taken = taken.borrow_mut();
                    // (Compared as the effect compares its dependencies.)
                    let new = taken.as_ref() != Some(&drawn);
                    *taken = Some(drawn.clone());
                    new.then(|| (drawn.0, drawn.1, Rc::default()))
                });
                if let Some((text, choices, outdated)) = pending {
                    outdated.set(true);
                    let fragment = at_once(share::encode_paced(&text, &choices, &Pace::never()));
                    let keep = keeper.borrow().clone();
                    keep(fragment, address);
                }
                kept.borrow().clone()
            })
        }
    });
    // A text not analysed yet is kept as the latest change is, made due with the latest
    // choices.
    let unanalysed = {
        let (latest, choices_now) = ((*latest).clone(), use_mut_ref(share::Shared::default));
        *choices_now.borrow_mut() = choices_then;
        use_memo((), move |_| {
            Callback::from(move |text: SharedText| {
                let choices = choices_now.borrow().clone();
                *due.borrow_mut() = Some((text, choices, Rc::default()));
                latest.emit(true);
            })
        })
    };
    Kept {
        latest: (*latest).clone(),
        unanalysed: (*unanalysed).clone(),
        unkept: *unkept,
    }
}

/// The page's element `id`, as a `T` (`None` if there is none, or it is no `T`).
pub(crate) fn element<T: JsCast>(id: &str) -> Option<T> {
    web_sys::window()?
        .document()?
        .get_element_by_id(id)?
        .dyn_into()
        .ok()
}

#[function_component(App)]
fn app() -> Html {
    if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
        let _ = p.mark("kpx:draw:start");
    }
    // After the page is updated: how long drawing took (tests/browser/bench.py reads it).
    use_effect(|| {
        if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
            let _ = p.measure_with_start_mark("kpx:draw", "kpx:draw:start");
        }
        typing::drawn();
    });
    let opts = use_memo((), |_| options());
    let start = use_memo((), |_| initial());
    let state = use_state(|| start.0.clone());
    let link_problem = use_state(|| start.1.clone());
    let notice = use_state(|| start.2.clone());
    let lang = use_state(initial_lang);
    let theme = use_state(initial_theme);
    let presenter = use_state(|| opts.presenter);
    let help = use_state(|| false);
    // The line last pointed at: (pane, line); pane 0 is the main view. It stays when the
    // pointer leaves the rules, so the reader can move to its explanation and use its buttons.
    let hover = use_state(|| None::<(usize, usize)>);
    let copied = use_state(|| false);
    let start_step = start.0.start_step;
    let playback = use_reducer(move || Playback {
        at: start_step,
        ..Default::default()
    });
    let l = *lang;

    // The packet walk: who sends where, walked in every shown mode. Computed only while the
    // walk or the charts are on screen.
    let tab = Tab::parse(&state.panel);
    let active = tab != Tab::Explain;
    let good = state.good().map(|(t, a)| (t.clone(), a.clone()));
    let good_text: SharedText = good.as_ref().map_or_else(|| "".into(), |g| g.0.clone());
    let choices = {
        let analysis = good.as_ref().map(|g| g.1.clone());
        use_memo(
            (good_text.clone(), active, l),
            move |(_, active, l)| match (analysis, active) {
                (Some(a), true) => (
                    Rc::new(packet::clients(*l, &a)),
                    Rc::new(packet::destinations(&a)),
                ),
                _ => (Rc::default(), Rc::default()),
            },
        )
    };
    let (clients, dests) = (choices.0.clone(), choices.1.clone());
    let dest_index = state
        .walk_to
        .as_ref()
        .and_then(|key| dests.iter().position(|d| d.key() == *key || d.to == *key))
        .unwrap_or_else(|| packet::default_destination(&dests));
    let dest = dests.get(dest_index).cloned();
    let from = state
        .walk_from
        .clone()
        .filter(|f| clients.iter().any(|c| c.0 == *f) || f.parse::<std::net::IpAddr>().is_ok())
        .unwrap_or_else(|| packet::default_client(&clients, dest.as_ref()));
    let modes = state.shown_modes();
    let walk_key = (
        good_text.clone(),
        modes.clone(),
        from.clone(),
        dest.as_ref().map(|d| d.key()),
        state.seed,
        tab == Tab::Packet,
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
        // A new walk starts at its first step (a link's step only applies to the first one:
        // the first with an analysis, as a large text opened is analysed after the drawing).
        let playback = playback.clone();
        let first = use_mut_ref(|| true);
        use_effect_with(walk_key, move |(text, _, _, _, _, on)| {
            if *on && !text.is_empty() && !std::mem::replace(&mut *first.borrow_mut(), false) {
                playback.dispatch(Cmd::Reset);
            }
        });
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
    let frame_of = |pane: usize| {
        let w = walks.get(pane)?.as_ref().ok()?;
        w.frames
            .get(playback.at.min(w.frames.len().saturating_sub(1)))
            .cloned()
    };
    let current_anchor = |pane: usize| -> Option<AttrValue> {
        if tab != Tab::Packet {
            return None;
        }
        frame_of(pane)?.step.anchor.map(AttrValue::from)
    };
    // What a screen reader hears at each step.
    let spoken = if tab == Tab::Packet {
        frame_of(0)
            .map(|f| {
                tf(
                    l,
                    "Step {}: {}",
                    &[
                        &(playback.at + 1),
                        &format!(
                            "{} {} {}: {}",
                            f.step.hook, f.step.table, f.step.chain, f.step.action
                        ),
                    ],
                )
            })
            .unwrap_or_default()
    } else {
        String::new()
    };

    // Every change is kept: in the address (a reload or a copied link reproduces it) and in
    // local storage (a new visit starts where the reader left). An embed leaves both alone.
    let mut choices = state.choices();
    if tab == Tab::Packet && playback.at > 0 && !playback.playing {
        choices.step = Some(playback.at + 1);
    }
    let Kept {
        latest: ours,
        unanalysed,
        unkept,
    } = use_kept(state.text.clone(), choices, opts.embed, l);
    // Another tab saving different work is never silent: this tab's work is kept and the
    // reader told (the storage event fires only in the other tabs of this origin).
    {
        let (ours, notice, embed) = (ours.clone(), notice.clone(), opts.embed);
        use_effect_with((), move |_| {
            let listener = (!embed).then(|| {
                gloo::events::EventListener::new(&gloo::utils::window(), "storage", move |e| {
                    let Some(e) = e.dyn_ref::<web_sys::StorageEvent>() else {
                        return;
                    };
                    if e.key().as_deref() != Some(keep::SAVED_KEY) {
                        return;
                    }
                    // gloo's storage keeps values as JSON.
                    let theirs = e
                        .new_value()
                        .and_then(|v| serde_json::from_str::<String>(&v).ok());
                    if let Some(theirs) = theirs {
                        if let Some(n) = keep::other_tab_saved(theirs, &ours.emit(true)) {
                            notice.set(Some(n));
                        }
                    }
                })
            });
            move || drop(listener)
        });
    }
    // The benchmark's mark: the first render is on screen (tests/browser/bench.py).
    use_effect_with((), |_| {
        if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
            let _ = p.mark("kpx:first-render");
        }
    });
    // Language and theme: on the document, and remembered.
    {
        let embed = opts.embed;
        use_effect_with((*lang, (*theme).clone()), move |(lang, theme)| {
            if let Some(root) = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.document_element())
            {
                let _ = root.set_attribute("lang", lang.tag());
                let _ = if theme.is_empty() {
                    root.remove_attribute("data-theme")
                } else {
                    root.set_attribute("data-theme", theme)
                };
            }
            if !embed {
                let _ = LocalStorage::set(LANG_KEY, lang.tag());
                let _ = LocalStorage::set(THEME_KEY, theme.as_str());
            }
        });
    }
    // Embedded: tell the parent page how tall the content is, after every render and resize.
    {
        let embed = opts.embed;
        use_effect(move || {
            let post = move || {
                let Some(w) = web_sys::window() else { return };
                let height = w
                    .document()
                    .and_then(|d| d.document_element())
                    .map_or(0, |e| e.scroll_height());
                if let Ok(Some(parent)) = w.parent() {
                    let msg = js_sys::Object::new();
                    let _ = js_sys::Reflect::set(&msg, &"type".into(), &"kpx:height".into());
                    let _ = js_sys::Reflect::set(&msg, &"height".into(), &height.into());
                    let _ = parent.post_message(&msg, "*");
                }
            };
            let listener = embed.then(|| {
                post();
                gloo::events::EventListener::new(&gloo::utils::window(), "resize", move |_| post())
            });
            move || drop(listener)
        });
    }
    // A link pasted into this tab changes only the fragment: the page does not reload, so the
    // new state is read here. (`replaceState`, which keeps the address current, fires none.)
    {
        let (state, link_problem, notice, ours) = (
            state.clone(),
            link_problem.clone(),
            notice.clone(),
            ours.clone(),
        );
        use_effect_with((), move |_| {
            let listener =
                gloo::events::EventListener::new(&gloo::utils::window(), "hashchange", move |_| {
                    let hash = location_hash();
                    match share::decode(&hash) {
                        Ok(shared) => {
                            link_problem.set(None);
                            // The reader's latest change saved first (its link may still be in
                            // the making), then kept aside from the link's text. (Not in the
                            // address: the link there is what a reload should open.)
                            ours.emit(false);
                            if keep::keep_saved_before(&hash, &shared.text) {
                                notice.set(Some(keep::Notice::LinkOpened));
                            }
                            state.set(opened(shared));
                        }
                        Err(e) => link_problem.set(Some(e)),
                    }
                });
            move || drop(listener)
        });
    }
    // Keyboard: space plays or pauses the walk, ← → step, Home resets, P presenter mode,
    // ? this help — never while the reader is typing in a field.
    {
        let (state, dispatcher, presenter, help) = (
            state.clone(),
            playback.dispatcher(),
            presenter.clone(),
            help.clone(),
        );
        use_effect_with(
            (frames_len, state.panel.clone(), *presenter, *help),
            move |(len, _, _, _)| {
                let len = *len;
                // Not passive: a shortcut's key must not also scroll the page.
                let options = gloo::events::EventListenerOptions::enable_prevent_default();
                let listener = gloo::events::EventListener::new_with_options(
                    &gloo::utils::window(),
                    "keydown",
                    options,
                    move |e| {
                        let Some(e) = e.dyn_ref::<web_sys::KeyboardEvent>() else {
                            return;
                        };
                        if typing(e) || e.ctrl_key() || e.meta_key() || e.alt_key() {
                            return;
                        }
                        let to_walk = |state: &UseStateHandle<State>| {
                            if state.panel != "packet" {
                                let mut next = (**state).clone();
                                next.panel = "packet".into();
                                state.set(next);
                            }
                        };
                        match e.key().as_str() {
                            " " => {
                                to_walk(&state);
                                dispatcher.dispatch(Cmd::Toggle(len));
                            }
                            "ArrowRight" => {
                                to_walk(&state);
                                dispatcher.dispatch(Cmd::Forward(len));
                            }
                            "ArrowLeft" => dispatcher.dispatch(Cmd::Back),
                            "Home" => dispatcher.dispatch(Cmd::Reset),
                            "p" | "P" => presenter.set(!*presenter),
                            "?" => help.set(!*help),
                            "Escape" => help.set(false),
                            _ => return,
                        }
                        e.prevent_default();
                    },
                );
                move || drop(listener)
            },
        );
    }

    let update = |f: fn(&mut State, String)| {
        let state = state.clone();
        Callback::from(move |value: String| {
            let mut next = (*state).clone();
            f(&mut next, value);
            state.set(next);
        })
    };
    let edits = typing::use_paced_edit(&state);
    // Leaving the page (a reload, a closed tab) keeps a change whose link is still being made
    // in parts, at once, and a text the reader changed whose edit is still being analysed.
    {
        let (ours, embed, unanalysed_text) = (ours.clone(), opts.embed, edits.unanalysed.clone());
        use_effect_with((), move |_| {
            let listener = (!embed).then(|| {
                gloo::events::EventListener::new(&gloo::utils::window(), "pagehide", move |_| {
                    ours.emit(true);
                    if let Some(text) = unanalysed_text() {
                        unanalysed.emit(text);
                    }
                    // (This tab's latest fragment: local storage may hold another tab's.)
                    keep::left_at(&location_hash(), &ours.emit(false));
                })
            });
            move || drop(listener)
        });
    }
    // A choice of what to show: the state with it, shown again (a large text's in steps).
    let choose = |f: fn(&mut State, String)| {
        let (state, choice) = (state.clone(), edits.choice.clone());
        Callback::from(move |value: String| {
            let mut next = (*state).clone();
            f(&mut next, value);
            choice.emit(next);
        })
    };
    let on_view = choose(|s, view| {
        s.view = Some(view);
        s.selected = None;
    });
    let on_mode = choose(|s, mode| {
        s.mode = Mode::parse(&mode);
        s.view = None;
        s.selected = None;
    });
    let on_compare_view = choose(|s, view| s.compare_view = Some(view));
    let on_compare = choose(|s, mode| {
        s.compare = Mode::parse(&mode);
        s.compare_view = None;
    });
    let on_node = update(|s, node| s.set_node(node));
    let on_panel = update(|s, panel| s.panel = panel);
    let on_from = update(|s, from| s.walk_from = Some(from));
    let on_to = update(|s, to| s.walk_to = Some(to));
    let on_new_connection = {
        let state = state.clone();
        Callback::from(move |_| {
            let mut next = (*state).clone();
            next.seed += 1;
            state.set(next);
        })
    };
    let on_select = {
        let state = state.clone();
        Callback::from(move |line: Option<usize>| {
            let mut next = (*state).clone();
            next.selected = line;
            state.set(next);
        })
    };
    let on_all_namespaces = {
        let (state, choice) = (state.clone(), edits.choice.clone());
        Callback::from(move |e: Event| {
            let mut next = (*state).clone();
            next.all_namespaces = e.target_unchecked_into::<HtmlInputElement>().checked();
            choice.emit(next);
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
                && !confirm(t(
                    l,
                    "Replace your text with this scenario? Your edits will be lost.",
                ))
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
                && !confirm(t(
                    l,
                    "Go back to the scenario's original text? Your edits will be lost.",
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
        let (state, copied) = (state.clone(), copied.clone());
        Callback::from(move |_: MouseEvent| {
            // Made now: the kept one may wait for its task (`use_kept`).
            let url = link_to(&share::encode(&state.shared()), true);
            if let Some(w) = web_sys::window() {
                let _ = w.navigator().clipboard().write_text(&url);
            }
            copied.set(true);
        })
    };
    let on_lang = {
        let lang = lang.clone();
        Callback::from(move |e: Event| {
            lang.set(
                Lang::parse(&e.target_unchecked_into::<HtmlSelectElement>().value())
                    .unwrap_or_default(),
            )
        })
    };
    let on_theme = {
        let theme = theme.clone();
        Callback::from(move |e: Event| {
            theme.set(e.target_unchecked_into::<HtmlSelectElement>().value())
        })
    };
    let on_presenter = {
        let presenter = presenter.clone();
        Callback::from(move |_: MouseEvent| presenter.set(!*presenter))
    };
    let on_help = {
        let help = help.clone();
        Callback::from(move |_: MouseEvent| help.set(!*help))
    };
    let hover_in = |pane: usize| {
        let hover = hover.clone();
        Callback::from(move |line: Option<usize>| hover.set(line.map(|l| (pane, l))))
    };
    let select_cb = |cb: Callback<String>| {
        Callback::from(move |e: Event| {
            cb.emit(e.target_unchecked_into::<HtmlSelectElement>().value())
        })
    };

    let s = &*state;
    let stale = !s.errors.is_empty();
    // The line focused, and the reader's lines behind it (in the analysis that made the line).
    let pane_line = |pane: usize, line: usize| -> Option<(ViewLine, Rc<[LineRange]>)> {
        let p: &Pane = if pane == 0 {
            s.primary.as_ref()?
        } else {
            s.secondary.as_ref()?
        };
        let line = p.lines.get(line)?;
        let written = line
            .source
            .as_ref()
            .map(|source| written_by(&p.written, source));
        Some((line.to_owned(), written.unwrap_or_default().into()))
    };
    let (focus, written) = hover
        .and_then(|(p, l)| pane_line(p, l))
        .or_else(|| s.selected.and_then(|l| pane_line(0, l)))
        .map_or((None, Rc::from([])), |(line, written)| {
            (Some(line), written)
        });
    let highlight = written.to_vec();
    let reveal = written.last().map(|r| r.first);
    let about = s
        .scenario
        .and_then(scenarios::find)
        .map(|sc| sc.about(l.tag()));
    let view_is_kubectl = s
        .primary
        .as_ref()
        .is_some_and(|p| p.view.starts_with("get-"));
    let show_editor = opts.editor && !*presenter;
    let main_class = classes!(
        "kpx",
        s.compare.is_some().then_some("comparing"),
        (*presenter).then_some("presenter"),
        opts.embed.then_some("embed"),
        (!show_editor).then_some("no-editor"),
    );

    html! {
        <ContextProvider<Lang> context={l}>
        <main class={main_class}>
            <a class="skip" href="#output">{ t(l, "Skip to the rules") }</a>
            <header>
                <h1>{ "kpx" }</h1>
                if opts.embed {
                    <p class="tagline">{ about.as_ref().map(|a| a.title.clone()).unwrap_or_default() }</p>
                    // (Its address is set by `use_kept`.)
                    <a id="open-in-kpx" class="open" target="_blank" rel="noopener">{ t(l, "Open in kpx") }</a>
                } else {
                    <p class="tagline">{ t(l, "Edit the cluster; see exactly what kube-proxy programs on the node.") }</p>
                    <div class="share">
                        <button id="copy-link" onclick={on_copy}>{ t(l, "Copy link") }</button>
                        // (Its value is set by `use_kept`.)
                        <input id="share-url" readonly=true aria-label={t(l, "Link to this state")} />
                        if *copied { <span role="status" class="copied">{ t(l, "Link copied") }</span> }
                    </div>
                }
                <div class="prefs">
                    <label for="lang">{ t(l, "Language") }</label>
                    <select id="lang" onchange={on_lang}>
                        <option value="en" selected={l == Lang::En}>{ "English" }</option>
                        <option value="zh-CN" selected={l == Lang::Zh}>{ "简体中文" }</option>
                    </select>
                    <label for="theme">{ t(l, "Theme") }</label>
                    <select id="theme" onchange={on_theme}>
                        <option value="" selected={theme.is_empty()}>{ t(l, "as the system") }</option>
                        <option value="light" selected={*theme == "light"}>{ t(l, "light") }</option>
                        <option value="dark" selected={*theme == "dark"}>{ t(l, "dark") }</option>
                    </select>
                    <button id="presenter" aria-pressed={presenter.to_string()} onclick={on_presenter}
                        title={t(l, "Large type, high contrast, editor hidden; keys: ← → step, space play, ? help")}>{ t(l, "Presenter mode") }</button>
                    <button id="shortcuts" onclick={on_help} aria-expanded={help.to_string()}>{ t(l, "Shortcuts (?)") }</button>
                </div>
            </header>
            if unkept {
                <p id="not-kept" class="banner" role="status">{ t(l, "This text is too large for the browser to keep: a reload would lose it. Download YAML keeps it.") }</p>
            }
            if let Some(problem) = &*link_problem {
                <p id="link-problem" class="banner" role="alert">{ tf(l, "This link could not be opened: {}. Showing your last work instead.", &[problem]) }</p>
            }
            if let Some(n) = &*notice {
                <keep::WorkNotice notice={n.clone()} lang={l} ours={ours.clone()}
                    onload={let s = state.clone(); Callback::from(move |sh| s.set(opened(sh)))}
                    ondismiss={let n = notice.clone(); Callback::from(move |_| n.set(None))} />
            }
            if *help {
                <Help onclose={let h = help.clone(); Callback::from(move |_| h.set(false))} />
            }
            if show_editor {
                <section class="editor-pane" aria-label={t(l, "Cluster YAML")}>
                    <div class="toolbar">
                        <select id="scenario" onchange={on_scenario} aria-label={t(l, "Load a scenario")}>
                            <option value="" selected=true>{ t(l, "Load a scenario…") }</option>
                            { for scenarios::ALL.iter().map(|sc| html! { <option value={sc.id}>{ sc.about(l.tag()).title }</option> }) }
                        </select>
                        <button id="reset" onclick={on_reset} title={t(l, "Back to the scenario's original text")}>{ t(l, "Reset") }</button>
                        <button id="download" onclick={on_download} title={t(l, "Save the YAML as a file")}>{ t(l, "Download YAML") }</button>
                    </div>
                    if let Some(about) = &about {
                        <details id="about" class="about" open=true>
                            <summary>{ about.title.clone() }</summary>
                            { for about.paragraphs.iter().map(|p| html! { <p>{ p }</p> }) }
                            if !about.commands.is_empty() {
                                <p class="try">{ t(l, "On the command line: ") }{ for about.commands.iter().map(|c| html! { <code>{ c }</code> }) }</p>
                            }
                        </details>
                    }
                    <Editor text={s.text.clone()} errors={s.errors.clone()} {highlight} oninput={edits.input.clone()} {reveal} readonly={opts.readonly} />
                    <div id="errors" class={classes!("errors", stale.then_some("has-errors"))} role="status">
                        { for s.errors.iter().map(|d| {
                            let (line, col) = (d.pos.line, d.pos.col);
                            html! { <p class="error"><button class="goto" onclick={Callback::from(move |_| editor::go_to(line, col))}>{ format!("{}{}", position(l, d), d.message) }</button></p> }
                        }) }
                    </div>
                </section>
            }
            <section class="output-area" aria-label={t(l, "What kube-proxy programs")}>
                <div class="toolbar">
                    <label for="node">{ t(l, "Node") }</label>
                    <select id="node" onchange={select_cb(on_node)}>
                        { for s.nodes.iter().map(|n| html! { <option value={n.clone()} selected={*n == s.shown_node}>{ n }</option> }) }
                    </select>
                    <label for="compare">{ t(l, "Compare with") }</label>
                    <select id="compare" onchange={select_cb(on_compare.clone())}>
                        <option value="" selected={s.compare.is_none()}>{ t(l, "nothing") }</option>
                        { for [Mode::Iptables, Mode::Ipvs, Mode::Nftables].into_iter().map(|m| html! {
                            <option value={m.as_str()} selected={s.compare == Some(m)}>{ tf(l, "{} mode", &[&m.as_str()]) }</option>
                        }) }
                    </select>
                    if view_is_kubectl {
                        <label class="check"><input id="all-namespaces" type="checkbox" checked={s.all_namespaces} onchange={on_all_namespaces} />{ t(l, "-A (all namespaces)") }</label>
                    }
                    if stale { <span class="stale">{ t(l, "showing the last valid input") }</span> }
                    // Shown while an edit waits or is analysed, or a large text's view is made
                    // (typing.rs, `busy`, `busy_making_view`).
                    <span id="busy" role="status"><span class="edit">{ t(l, "analysing the new text…") }</span><span class="view">{ t(l, "making the view…") }</span><span id="read" aria-hidden="true"></span></span>
                </div>
                <div class="panes">
                    if let Some(pane) = &s.primary {
                        <Output id="output" label={t(l, "Mode")} pane={pane.clone()} selected={s.selected} onselect={on_select.clone()}
                            onhover={hover_in(0)} onview={on_view} onmode={on_mode} {stale} current={current_anchor(0)} />
                    }
                    if let Some(pane) = &s.secondary {
                        <Output id="output-2" label={t(l, "Compared mode")} pane={pane.clone()} selected={None::<usize>} onselect={Callback::noop()}
                            onhover={hover_in(1)} onview={on_compare_view} onmode={on_compare} {stale} current={current_anchor(1)} />
                    }
                </div>
                <section class={classes!("stage", (tab != Tab::Explain).then_some("wide"))} aria-label={t(l, "Explanations, packet walk and charts")}>
                    <div class="tabs stage-tabs" role="tablist">
                        { for [(Tab::Explain, "stage-explain", i18n::en("Why this line")), (Tab::Packet, "stage-packet", i18n::en("Packet walk")), (Tab::Charts, "stage-charts", i18n::en("Charts"))].into_iter().map(|(t_, id, label)| {
                            let on_panel = on_panel.clone();
                            html! { <button role="tab" class="tab" {id} aria-selected={(tab == t_).to_string()} onclick={Callback::from(move |_| on_panel.emit(t_.name().to_string()))}>{ t(l, label) }</button> }
                        }) }
                    </div>
                    <div id="live" class="visually-hidden" aria-live="polite">{ spoken }</div>
                    { match tab {
                        Tab::Explain => html! {
                            <>
                                <Explain line={focus} written={written} />
                                if let Some(pane) = &s.primary {
                                    <Changes pane={pane.clone()} onselect={on_select.clone()} />
                                }
                            </>
                        },
                        Tab::Packet => html! {
                            <PacketPanel walks={Rc::new((*walks).clone())} playback={Rc::new((*playback).clone())}
                                oncmd={let d = playback.dispatcher(); Callback::from(move |c| d.dispatch(c))}
                                clients={clients.clone()} from={AttrValue::from(from.clone())} onfrom={on_from}
                                dests={dests.clone()} dest={dest_index}
                                ondest={let dests = dests.clone(); Callback::from(move |i: usize| if let Some(d) = dests.get(i) { on_to.emit(d.key()) })}
                                onnew={on_new_connection} reduced_motion={reduced_motion()} />
                        },
                        Tab::Charts => html! {
                            <ChartsPanel text={AttrValue::from(good_text.rc())} modes={modes.clone()} from={AttrValue::from(from.clone())} dest={dest.clone()} />
                        },
                    } }
                </section>
                if !s.warnings.is_empty() {
                    <ul id="warnings" class="warnings">
                        { for s.warnings.iter().map(|w| html! { <li>{ format!("{}{}", position(l, w), w.message) }</li> }) }
                    </ul>
                }
                if !s.notes.is_empty() {
                    <details id="notes" class="notes">
                        <summary>{ tf(l, "What kpx assumed or derived ({})", &[&s.notes.len()]) }</summary>
                        <ul>{ for s.notes.iter().map(|n| html! { <li>{ n }</li> }) }</ul>
                    </details>
                }
            </section>
        </main>
        </ContextProvider<Lang>>
    }
}

#[derive(Properties, PartialEq)]
struct HelpProps {
    onclose: Callback<()>,
}

/// The keyboard shortcuts, as a dialog.
#[function_component(Help)]
fn help(p: &HelpProps) -> Html {
    let l = i18n::use_lang();
    let close = use_node_ref();
    {
        let close = close.clone();
        use_effect_with((), move |_| {
            if let Some(b) = close.cast::<web_sys::HtmlElement>() {
                let _ = b.focus();
            }
        });
    }
    let keys: [(&str, &'static str); 7] = [
        ("Space", i18n::en("play or pause the packet")),
        ("→", i18n::en("step forward")),
        ("←", i18n::en("step back")),
        ("Home", i18n::en("back to the first step")),
        ("P", i18n::en("presenter mode on or off")),
        ("?", i18n::en("this help")),
        (
            "↑ ↓",
            i18n::en("in a rules view: the next or previous line"),
        ),
    ];
    let onclose = p.onclose.clone();
    html! {
        <div id="help" class="dialog" role="dialog" aria-modal="true" aria-labelledby="help-title">
            <h2 id="help-title">{ t(l, "Keyboard shortcuts") }</h2>
            <dl>{ for keys.iter().map(|(k, what)| html! { <><dt><kbd>{ *k }</kbd></dt><dd>{ t(l, what) }</dd></> }) }</dl>
            <p class="hint">{ t(l, "keys work when the focus is not in a text field") }</p>
            <button ref={close} id="help-close" onclick={Callback::from(move |_| onclose.emit(()))}>{ t(l, "Close") }</button>
        </div>
    }
}

fn main() {
    crash::install();
    opening::then_mount(fragment_to_open(), || {
        yew::Renderer::<App>::new().render();
    });
}
