//! The page's state: what the reader wrote and chose, and what kpx-core made of it.
//!
//! One value owns everything; every view is derived from it in [`State::refresh`]. Two
//! results are kept on purpose: the last good analysis (a typo never blanks the screen) and
//! the one before the last edit (what the edit changed is marked until the next edit).

use crate::diff::Changes;
use crate::scenarios;
use kpx_core::cluster::settings::Mode;
use kpx_core::input::Scenario;
use kpx_core::share::Shared;
use kpx_core::views::{analyze_parsed, views, Analysis, Request, ViewLine};
use kpx_core::Diagnostic;
use kpx_core::InputError;
use std::rc::Rc;

/// One rendered view of one mode.
#[derive(Clone, Debug)]
pub struct Pane {
    pub mode: Mode,
    pub view: &'static str,
    pub lines: Rc<Vec<ViewLine>>,
    /// What the last edit changed here (empty before any edit).
    pub changes: Rc<Changes>,
    /// Why the view cannot be shown (a release whose layout kpx lacks, say).
    pub problem: Option<String>,
}

/// An edit's text and its analysis, not yet shown ([`State::analyse`]).
pub struct Analysed {
    text: String,
    result: Result<Analysis, kpx_core::diag::InputError>,
    /// The chosen node is gone from the text: the input's own is shown.
    node_dropped: bool,
}

/// Panes are compared by the identity of their lines and changes: each analysis makes new
/// ones, and comparing a large view's lines by content, for every component given the pane on
/// every render, was a fifth of a 1,000-Service edit.
impl PartialEq for Pane {
    fn eq(&self, o: &Self) -> bool {
        (self.mode, self.view) == (o.mode, o.view)
            && Rc::ptr_eq(&self.lines, &o.lines)
            && Rc::ptr_eq(&self.changes, &o.changes)
            && self.problem == o.problem
    }
}

#[derive(Clone)]
pub struct State {
    pub text: String,
    /// The scenario the text came from (its explanation is shown, Reset returns to it).
    pub scenario: Option<&'static str>,
    /// `None`: the input's KubeProxyConfiguration.mode.
    pub mode: Option<Mode>,
    /// `None`: the mode's default view.
    pub view: Option<String>,
    /// A second mode shown side by side.
    pub compare: Option<Mode>,
    pub compare_view: Option<String>,
    /// `None`: the node the input names.
    pub node: Option<String>,
    pub all_namespaces: bool,
    /// The selected line of the main view.
    pub selected: Option<usize>,
    /// The panel under the rules: `explain`, `packet` or `charts`.
    pub panel: String,
    /// The packet walk: client, destination (`Destination::key`), seed, and the step a link
    /// opened at.
    pub walk_from: Option<String>,
    pub walk_to: Option<String>,
    pub seed: u64,
    pub start_step: usize,
    /// Problems of the current text (empty when it rendered).
    pub errors: Vec<Diagnostic>,
    /// The last text that analysed cleanly, and its analysis.
    good: Option<(String, Rc<Analysis>)>,
    /// The analysis before the last edit that changed what is shown.
    before_edit: Option<BeforeEdit>,
    pub primary: Option<Pane>,
    pub secondary: Option<Pane>,
    pub nodes: Vec<String>,
    pub shown_node: String,
    pub notes: Vec<String>,
    pub warnings: Vec<Diagnostic>,
}

/// What was shown before the last edit that changed it, to mark what the edit changed.
#[derive(Clone)]
struct BeforeEdit {
    analysis: Rc<Analysis>,
    /// The views shown then, as rendered then (with `all_namespaces`): marking the changes
    /// of the next edits compares with these instead of rendering the old views again.
    panes: Vec<Pane>,
    all_namespaces: bool,
}

/// Runs `f` between two User Timing marks, as the measure `name` (tests/browser/bench.py
/// reads them to split an edit's time between kpx-core and drawing).
pub fn timed<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let Some(p) = web_sys::window().and_then(|w| w.performance()) else {
        return f();
    };
    let (start, end) = (format!("{name}:start"), format!("{name}:end"));
    let _ = p.mark(&start);
    let out = f();
    let _ = p.mark(&end);
    let _ = p.measure_with_start_mark_and_end_mark(name, &start, &end);
    p.clear_marks_with_mark_name(&start);
    p.clear_marks_with_mark_name(&end);
    out
}

/// What each mode shows first: what the node itself would print.
pub fn default_view(mode: Mode) -> &'static str {
    match mode {
        Mode::Iptables => "save",
        Mode::Ipvs => "ipvsadm",
        Mode::Nftables => "nft-list",
    }
}

/// The view `wanted` if the mode has it, else the mode's default.
fn view_of(mode: Mode, wanted: Option<&str>) -> &'static str {
    let offered = views(mode);
    let wanted = wanted.unwrap_or(default_view(mode));
    offered
        .iter()
        .find(|v| v.name == wanted)
        .map_or(default_view(mode), |v| v.name)
}

fn render(
    a: &Analysis,
    mode: Mode,
    view: &'static str,
    all_namespaces: bool,
) -> Result<Vec<ViewLine>, String> {
    a.render_lines(&Request {
        mode: Some(mode),
        view: Some(view.to_string()),
        all_namespaces,
        ..Default::default()
    })
}

impl State {
    pub fn new(text: String) -> Self {
        let mut s = State {
            text: String::new(),
            scenario: None,
            mode: None,
            view: None,
            compare: None,
            compare_view: None,
            node: None,
            all_namespaces: false,
            selected: None,
            panel: "explain".into(),
            walk_from: None,
            walk_to: None,
            seed: 1,
            start_step: 0,
            errors: vec![],
            good: None,
            before_edit: None,
            primary: None,
            secondary: None,
            nodes: vec![],
            shown_node: String::new(),
            notes: vec![],
            warnings: vec![],
        };
        s.scenario = scenarios::unchanged(&text).map(|sc| sc.id);
        s.edit(text);
        s
    }

    /// A state from a shared link.
    pub fn from_shared(shared: Shared) -> Self {
        let mut s = State::new(shared.text);
        s.scenario = shared
            .scenario
            .as_deref()
            .and_then(scenarios::find)
            .map(|sc| sc.id)
            .or(s.scenario);
        s.mode = shared.mode.as_deref().and_then(Mode::parse);
        s.view = shared.view;
        s.compare = shared.compare.as_deref().and_then(Mode::parse);
        s.node = shared.node;
        s.selected = shared.line;
        s.panel = shared.panel.unwrap_or_else(|| "explain".into());
        s.walk_from = shared.from;
        s.walk_to = shared.to;
        s.seed = shared.seed.unwrap_or(1);
        s.start_step = shared.step.unwrap_or(0);
        s.refresh();
        s
    }

    /// What a link must carry to reproduce this state.
    pub fn shared(&self) -> Shared {
        Shared {
            text: self.text.clone(),
            mode: self.mode.map(|m| m.as_str().to_string()),
            view: self.view.clone(),
            node: self.node.clone(),
            compare: self.compare.map(|m| m.as_str().to_string()),
            line: self.selected,
            scenario: self.scenario.map(str::to_string),
            panel: (self.panel != "explain").then(|| self.panel.clone()),
            from: self.walk_from.clone(),
            to: self.walk_to.clone(),
            seed: (self.seed != 1).then_some(self.seed),
            step: None,
        }
    }

    /// Opens a scenario the way its header asks.
    pub fn load_scenario(&mut self, sc: &'static scenarios::Scenario) {
        let about = sc.about("en");
        self.mode = about.mode;
        self.view = about.view;
        self.compare_view = None;
        self.node = None;
        self.selected = None;
        self.before_edit = None;
        self.good = None;
        self.scenario = Some(sc.id);
        self.edit(sc.text.to_string());
    }

    /// The reader changed the text.
    pub fn edit(&mut self, text: String) {
        let analysed = self.analyse(text);
        self.apply(analysed);
    }

    /// The slow half of an edit, which changes nothing: the analysis of `text` for this
    /// state's node (a large text's edit runs the halves in separate tasks, and reads the text
    /// in parts, see [`crate::typing`]).
    pub fn analyse(&self, text: String) -> Analysed {
        let read = timed("kpx:read", || kpx_core::input::parse(&text));
        self.analyse_read(text, read)
    }

    /// [`analyse`](Self::analyse) for a text already read.
    pub fn analyse_read(&self, text: String, read: Result<Scenario, InputError>) -> Analysed {
        let scenario = match read {
            Ok(scenario) => scenario,
            Err(e) => {
                return Analysed {
                    text,
                    result: Err(e),
                    node_dropped: false,
                }
            }
        };
        let analyse = |node| timed("kpx:analyze", || analyze_parsed(&scenario, node));
        match analyse(self.node.as_deref()) {
            // A chosen node that the edit removed falls back to the input's own.
            Err(e) if self.node.is_some() => match analyse(None) {
                Ok(a) => Analysed {
                    text,
                    result: Ok(a),
                    node_dropped: true,
                },
                Err(_) => Analysed {
                    text,
                    result: Err(e),
                    node_dropped: false,
                },
            },
            result => Analysed {
                text,
                result,
                node_dropped: false,
            },
        }
    }

    /// The other half: the analysis shown, and what it changed marked.
    pub fn apply(&mut self, analysed: Analysed) {
        if self.show(analysed) {
            self.mark_changes();
        }
    }

    /// Builds the dataplanes `show` would show for `analysed` (a large text's edit does this in
    /// a task of its own, see [`crate::typing`]).
    pub fn build(&self, analysed: &Analysed) {
        let Ok(a) = &analysed.result else { return };
        timed("kpx:build", || {
            for mode in std::iter::once(self.mode_of(a)).chain(self.compare) {
                a.build(mode);
            }
        });
    }

    /// The analysis shown, without the marks of what it changed ([`State::mark_changes`]
    /// follows when this says so: a large edit marks them in a task of its own).
    pub fn show(&mut self, analysed: Analysed) -> bool {
        self.text = analysed.text;
        match analysed.result {
            Ok(a) => {
                if analysed.node_dropped {
                    self.node = None;
                }
                timed("kpx:views", || self.accept(a));
                true
            }
            Err(e) => {
                self.errors = e.diagnostics;
                false
            }
        }
    }

    fn accept(&mut self, a: Analysis) {
        self.errors.clear();
        let previous = self.good.replace((self.text.clone(), Rc::new(a)));
        let shown: Vec<Pane> = self
            .primary
            .iter()
            .chain(self.secondary.iter())
            .cloned()
            .collect();
        self.draw_panes();
        // An edit that changed what is shown becomes the one whose changes are marked; one that
        // did not (a comment, spacing) leaves the marks of the last real edit in place.
        let Some((old_text, analysis)) = previous else {
            return;
        };
        let now: Vec<&Pane> = self.primary.iter().chain(self.secondary.iter()).collect();
        let same = |a: &Pane, b: &Pane| {
            a.mode == b.mode
                && a.view == b.view
                && a.lines
                    .iter()
                    .map(|l| &l.text)
                    .eq(b.lines.iter().map(|l| &l.text))
        };
        let changed = shown.len() != now.len() || shown.iter().zip(&now).any(|(a, b)| !same(a, b));
        if old_text != self.text && changed {
            self.before_edit = Some(BeforeEdit {
                analysis,
                panes: shown,
                all_namespaces: self.all_namespaces,
            });
            self.selected = None;
        }
    }

    /// Re-analyses for a changed node (both the text and the text before the last edit).
    pub fn set_node(&mut self, node: String) {
        self.node = Some(node);
        self.selected = None;
        self.good = None;
        // The marks compared one node's rules; another node starts unmarked.
        self.before_edit = None;
        let text = std::mem::take(&mut self.text);
        self.edit(text);
    }

    /// Derives everything shown from the choices and the last good analysis.
    pub fn refresh(&mut self) {
        self.draw_panes();
        self.mark_changes();
    }

    /// Renders the shown views (without the marks of the last edit).
    fn draw_panes(&mut self) {
        let Some((_, a)) = &self.good else { return };
        let a = a.clone();
        let pane = |mode: Mode, wanted: Option<&str>| -> Pane {
            let view = view_of(mode, wanted);
            match render(&a, mode, view, self.all_namespaces) {
                Ok(lines) => Pane {
                    mode,
                    view,
                    lines: Rc::new(lines),
                    changes: Rc::default(),
                    problem: None,
                },
                Err(problem) => Pane {
                    mode,
                    view,
                    lines: Rc::default(),
                    changes: Rc::default(),
                    problem: Some(problem),
                },
            }
        };
        self.primary = Some(pane(self.mode_of(&a), self.view.as_deref()));
        self.secondary = self.compare.map(|m| pane(m, self.compare_view.as_deref()));
        if self
            .selected
            .is_some_and(|i| self.primary.as_ref().is_none_or(|p| i >= p.lines.len()))
        {
            self.selected = None;
        }
        self.nodes = a.node_names();
        self.shown_node = a.cluster.settings.node_name.clone();
        self.notes = a.cluster.notes.iter().map(|n| n.message.clone()).collect();
        self.warnings = a.cluster.warnings.clone();
    }

    /// The mode shown for `a`: the chosen one, or the input's own.
    fn mode_of(&self, a: &Analysis) -> Mode {
        self.mode.unwrap_or(a.cluster.settings.mode)
    }

    /// Marks in each shown view what the last edit added and removed, against the same view
    /// as it was shown before the edit.
    pub fn mark_changes(&mut self) {
        timed("kpx:diff", || self.mark_changes_now());
    }

    fn mark_changes_now(&mut self) {
        let all_namespaces = self.all_namespaces;
        for pane in self.primary.iter_mut().chain(self.secondary.iter_mut()) {
            let Some(before) = &self.before_edit else {
                pane.changes = Rc::default();
                continue;
            };
            let shown_then = before.panes.iter().find(|p| {
                (p.mode, p.view, p.problem.is_none(), before.all_namespaces)
                    == (pane.mode, pane.view, true, all_namespaces)
            });
            pane.changes = Rc::new(match shown_then {
                Some(then) => {
                    Changes::between(then.lines.iter().map(|l| l.text.as_str()), &pane.lines)
                }
                // A view not shown then: render the old one, as text only (its explanations
                // are not needed).
                None => {
                    let req = Request {
                        mode: Some(pane.mode),
                        view: Some(pane.view.to_string()),
                        all_namespaces,
                        ..Default::default()
                    };
                    match before.analysis.render(&req) {
                        Ok(old) => Changes::between(old.lines(), &pane.lines),
                        Err(_) => Changes::default(),
                    }
                }
            });
        }
    }

    /// The last text that analysed cleanly, and its analysis.
    pub fn good(&self) -> Option<(&str, &Rc<Analysis>)> {
        self.good.as_ref().map(|(t, a)| (t.as_str(), a))
    }

    /// The modes shown: the main one, and the compared one.
    pub fn shown_modes(&self) -> Vec<Mode> {
        self.primary
            .iter()
            .chain(self.secondary.iter())
            .map(|p| p.mode)
            .collect()
    }

    /// Whether the text is a shipped scenario's, unedited.
    pub fn edited(&self) -> bool {
        scenarios::unchanged(&self.text).is_none()
    }
}
