//! The page's state: what the reader wrote and chose, and what kpx-core made of it.
//!
//! One value owns everything; every view is derived from it in [`State::refresh`]. Two
//! results are kept on purpose: the last good analysis (a typo never blanks the screen) and
//! the one before the last edit (what the edit changed is marked until the next edit).

use crate::output::ViewIndex;
use crate::scenarios;
use kpx_core::changes::Changes;
use kpx_core::cluster::settings::Mode;
use kpx_core::input::{Reading, Scenario, Sections};
use kpx_core::pace::{at_once, InParts, Pace, Step};
use kpx_core::share::Shared;
use kpx_core::views::{analyze_after, views, Analysis, Request, ViewLines, Written};
use kpx_core::Diagnostic;
use kpx_core::InputError;
use std::cell::RefCell;
use std::rc::Rc;

/// The reader's text, shared (not copied) by the state, the editor, the link and the last good
/// analysis, and compared by identity first: `Rc<str>`'s own `==` compares the bytes even of
/// one allocation with itself (rust-lang/rust#154998), and a 38 MB text was compared that way
/// several times on every drawing.
#[derive(Clone, Debug, Default)]
pub struct SharedText(Rc<str>);

impl SharedText {
    /// The text as `Rc<str>`, for what takes one (the reader, an attribute).
    pub fn rc(&self) -> Rc<str> {
        self.0.clone()
    }

    /// The very same text (one allocation): not made again since, whatever its bytes.
    pub fn same(&self, o: &Self) -> bool {
        Rc::ptr_eq(&self.0, &o.0)
    }
}

impl PartialEq for SharedText {
    fn eq(&self, o: &Self) -> bool {
        Rc::ptr_eq(&self.0, &o.0) || *self.0 == *o.0
    }
}

impl std::ops::Deref for SharedText {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<T: Into<Rc<str>>> From<T> for SharedText {
    fn from(text: T) -> Self {
        SharedText(text.into())
    }
}

/// One rendered view of one mode.
#[derive(Clone, Debug)]
pub struct Pane {
    pub mode: Mode,
    pub view: &'static str,
    pub lines: Rc<ViewLines>,
    /// Its rows and declared names, made with the lines.
    pub index: Rc<ViewIndex>,
    /// What the last edit changed here (empty before any edit).
    pub changes: Rc<Changes>,
    /// Why the view cannot be shown (a release whose layout kpx lacks, say).
    pub problem: Option<String>,
    /// Whether the kubectl views listed every namespace when it was made.
    all_namespaces: bool,
    /// Where the objects behind its lines are written in the text it was made from (the
    /// focused line's are looked up when shown, even once the state has no analysis).
    pub written: Rc<Written>,
}

/// A text read: what it holds, or why it cannot be read.
pub type ReadText = Result<Scenario, InputError>;

thread_local! {
    /// The sections of the last text read, so that an edit reads again only the sections it
    /// changed (`kpx_core::input::Reading::after`: at 1,000 Services a key's reading went from
    /// 60 ms to a few). Kept for texts the reader can type into ([`crate::editor::HUGE_TEXT`]):
    /// they hold the objects read, 125 MiB at 10,000 Services, which is only pasted whole.
    static LAST_READ: RefCell<Sections> = RefCell::default();
    /// How many texts were read, and how many sections of them were read (the others were
    /// found in the reading before): the browser tests read it (`bench::sections_read`).
    pub static READINGS: std::cell::Cell<(usize, usize)> = const { std::cell::Cell::new((0, 0)) };
}

/// A reading of `text`, after the last text read.
pub fn reading(text: &SharedText) -> Reading<'static> {
    let earlier = LAST_READ.with(|last| last.borrow().clone());
    Reading::after(text.rc(), earlier)
}

/// What a reading read, its sections kept for the next edit's.
pub fn finish(reading: Reading<'static>) -> ReadText {
    let (sections, found) = reading.sections();
    READINGS.with(|r| {
        let (readings, read) = r.get();
        r.set((readings + 1, read + sections - found));
    });
    let (read, sections) = reading.finish_keeping();
    let kept = if sections.text_len() <= crate::editor::HUGE_TEXT {
        sections
    } else {
        crate::dispose::later_owned(Box::new(sections));
        Sections::default()
    };
    LAST_READ.with(|last| *last.borrow_mut() = kept);
    read
}

/// Reads `text` in one go (after the last text read).
fn read(text: &SharedText) -> ReadText {
    let mut reading = reading(text);
    while !reading.step(usize::MAX) {}
    finish(reading)
}

/// An edit's text and its analysis, not yet shown ([`State::analyse`]).
pub struct Analysed {
    text: SharedText,
    result: Result<Rc<Analysis>, kpx_core::diag::InputError>,
    /// The chosen node is gone from the text: the input's own is shown.
    node_dropped: bool,
    /// Views already made for showing it ([`State::view_to_make`]).
    made: Vec<MadeView>,
}

impl Analysed {
    /// The analysis, if the text analysed cleanly.
    pub fn analysis(&self) -> Option<&Rc<Analysis>> {
        self.result.as_ref().ok()
    }
}

/// A view's lines made before the state shows them: a large edit makes them in parts.
struct MadeView {
    key: ViewKey,
    lines: Result<(Rc<ViewLines>, Rc<ViewIndex>), String>,
}

/// Which view of which mode, as the kubectl views' namespaces have it.
#[derive(Clone, Copy, PartialEq)]
struct ViewKey {
    mode: Mode,
    view: &'static str,
    all_namespaces: bool,
}

impl ViewKey {
    fn request(self) -> Request {
        Request {
            mode: Some(self.mode),
            view: Some(self.view.to_string()),
            all_namespaces: self.all_namespaces,
            ..Default::default()
        }
    }
}

/// A view chosen after an edit is marked with the edit's changes up to this size: its old
/// lines are rendered whole (at 1,000 Services a view has 44,000 to 72,000 lines, 30 ms).
const UNMARKED_VIEW_LINES: usize = 75_000;

/// A view being made a part at a time, for an [`Analysed`] ([`State::view_to_make`]).
pub struct ViewInParts {
    key: ViewKey,
    work: ViewWork,
    /// The same view as shown before the edit, whose index serves the new lines if they
    /// declare the same names (a key typed at 1,000 Services: 12,000 names hashed again).
    shown: Option<(Rc<ViewLines>, Rc<ViewIndex>)>,
}

/// A view's lines being made, then indexed ([`ViewIndex`]).
enum ViewWork {
    Lines(InParts<'static, Result<ViewLines, String>>),
    Index(InParts<'static, (ViewLines, ViewIndex)>),
}

impl ViewInParts {
    /// Makes (then indexes, `ViewIndex`) about `lines` more lines; once the view is made, it
    /// is kept in `analysed`.
    pub fn step(self, lines: usize, analysed: &mut Analysed) -> Option<Self> {
        let key = self.key;
        let mut made = |lines: Result<(ViewLines, Rc<ViewIndex>), String>| {
            let lines = lines.map(|(lines, index)| (Rc::new(lines), index));
            analysed.made.push(MadeView { key, lines });
            None
        };
        let work = match self.work {
            ViewWork::Lines(work) => match work.step(lines) {
                Step::Done(Ok(lines)) => match &self.shown {
                    Some((old, index)) if lines.declares_as(old) => {
                        return made(Ok((lines, index.clone())))
                    }
                    _ => ViewWork::Index(InParts::new(|pace| async move {
                        let index = ViewIndex::paced(&lines, &pace).await;
                        (lines, index)
                    })),
                },
                Step::Done(Err(problem)) => return made(Err(problem)),
                Step::Paused(work) => ViewWork::Lines(work),
            },
            ViewWork::Index(work) => match work.step(lines) {
                Step::Done((lines, index)) => return made(Ok((lines, Rc::new(index)))),
                Step::Paused(work) => ViewWork::Index(work),
            },
        };
        Some(ViewInParts { work, ..self })
    }
}

impl Pane {
    /// Which view it shows.
    fn key(&self) -> ViewKey {
        ViewKey {
            mode: self.mode,
            view: self.view,
            all_namespaces: self.all_namespaces,
        }
    }
}

/// What an edit changed in the shown views, being found a part at a time
/// ([`State::changes_in_parts`]).
pub type ChangesInParts = InParts<'static, Vec<Rc<Changes>>>;

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
    /// The reader's text: shared, not copied, by the editor, the link and the last good
    /// analysis (at 44,125 Services, 38 MB copied and compared on every drawing cost 0.3 s).
    pub text: SharedText,
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
    good: Option<(SharedText, Rc<Analysis>)>,
    /// The analysis before the last edit that changed what is shown.
    before_edit: Option<BeforeEdit>,
    pub primary: Option<Pane>,
    pub secondary: Option<Pane>,
    pub nodes: Vec<String>,
    pub shown_node: String,
    pub notes: Vec<String>,
    pub warnings: Vec<Diagnostic>,
    /// Set while the text is held unanalysed, to be analysed in steps (a large text the page
    /// opened: a link, the saved work; see [`crate::typing`]): a number of its own, so that
    /// each such text starts its steps once.
    pub analysis_due: Option<u32>,
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

impl State {
    pub fn new(text: SharedText) -> Self {
        let mut s = State::unanalysed(text);
        s.analyse_text();
        s
    }

    /// A state holding `text`, not analysed yet: nothing is shown until
    /// [`State::analyse_text`] (or the page's steps) analyses it.
    pub fn unanalysed(text: SharedText) -> Self {
        State {
            scenario: scenarios::unchanged(&text).map(|sc| sc.id),
            text,
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
            analysis_due: None,
        }
    }

    /// Analyses the text the state holds, for the choices it holds.
    pub fn analyse_text(&mut self) {
        self.edit(self.text.clone());
    }

    /// A state from a shared link, not analysed yet ([`State::unanalysed`]).
    pub fn from_shared(shared: Shared) -> Self {
        let mut s = State::unanalysed(shared.text.into());
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
        s
    }

    /// What a link must carry to reproduce this state.
    pub fn shared(&self) -> Shared {
        Shared {
            text: self.text.to_string(),
            ..self.choices()
        }
    }

    /// What a link must carry besides the text (which is left empty).
    pub fn choices(&self) -> Shared {
        Shared {
            text: String::new(),
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
        self.edit(sc.text.into());
    }

    /// The reader changed the text.
    pub fn edit(&mut self, text: SharedText) {
        let analysed = self.analyse(text);
        self.apply(analysed);
    }

    /// The slow half of an edit, which changes nothing: the analysis of `text` for this
    /// state's node (a large text's edit runs the halves in separate tasks, and reads the text
    /// in parts, see [`crate::typing`]).
    pub fn analyse(&self, text: SharedText) -> Analysed {
        let read = timed("kpx:read", || read(&text));
        // (One way to run it: the same work as in parts, in one go.)
        let work = self.analysis_in_parts(text, read);
        timed("kpx:analyze", || work.finish())
    }

    /// [`analyse`](Self::analyse) for a text already read, a part at a time, an object being
    /// a unit of work (a large text's edit analyses it between its reader's keys, see
    /// [`crate::typing`]).
    pub fn analysis_in_parts(
        &self,
        text: SharedText,
        read: ReadText,
    ) -> InParts<'static, Analysed> {
        InParts::new(|pace| self.analysis(text, read, pace))
    }

    /// The analysis of `text`, read as `read`, for this state's node: work that holds what it
    /// needs, so that it can be done a part at a time.
    fn analysis(
        &self,
        text: SharedText,
        read: ReadText,
        pace: Pace,
    ) -> impl std::future::Future<Output = Analysed> + use<> {
        let node = self.node.clone();
        // The analysis shown: what its cluster checked, the new one need not check again.
        let before = self.good.as_ref().map(|(_, shown)| shown.clone());
        async move {
            let (result, node_dropped) = match read {
                Err(e) => (Err(e), false),
                Ok(scenario) => {
                    let analyse = |node| analyze_after(&scenario, node, before.as_deref(), &pace);
                    let analysed = match analyse(node.as_deref()).await {
                        // A chosen node that the edit removed falls back to the input's own.
                        Err(e) if node.is_some() => match analyse(None).await {
                            Ok(a) => (Ok(a), true),
                            Err(_) => (Err(e), false),
                        },
                        result => (result, false),
                    };
                    // Let go of in parts too (not at the end of this part).
                    scenario.dispose(&pace).await;
                    analysed
                }
            };
            // One analysis done, however many parts it took (the browser tests count them).
            if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
                let _ = p.mark("kpx:analysed");
            }
            Analysed {
                text,
                result: result.map(Rc::new),
                node_dropped,
                made: vec![],
            }
        }
    }

    /// The other half: the analysis shown, and what it changed marked.
    pub fn apply(&mut self, analysed: Analysed) {
        if self.show(analysed) {
            self.mark_changes();
        }
    }

    /// The analysis shown, to show again as the reader's choices now ask (a view, a mode, the
    /// compared mode, the namespaces): what a large text's choice makes in steps
    /// ([`crate::typing`]), the views still shown counted as made. `None` without one.
    pub fn analysed_again(&self) -> Option<Analysed> {
        let (text, a) = self.good.as_ref()?;
        let made = (self.panes())
            .filter(|p| p.problem.is_none())
            .map(|p| MadeView {
                key: ViewKey {
                    mode: p.mode,
                    view: p.view,
                    all_namespaces: p.all_namespaces,
                },
                lines: Ok((p.lines.clone(), p.index.clone())),
            })
            .collect();
        Some(Analysed {
            text: text.clone(),
            result: Ok(a.clone()),
            node_dropped: false,
            made,
        })
    }

    /// Shows the views made for the analysis already shown ([`State::analysed_again`]), as
    /// [`State::refresh`] does; the marks of the last edit follow ([`State::changes_in_parts`]).
    /// The text is left as it is: it may be one with errors, shown over the last good one.
    pub fn show_again(&mut self, analysed: Analysed) {
        self.draw_panes(analysed.made);
    }

    /// The next dataplane `show` would show for `analysed` that is not built yet, to build a
    /// part at a time (a large text's edit builds them between its reader's keys, see
    /// [`crate::typing`]); `None` once all are built.
    pub fn dataplane_to_build(&self, analysed: &Analysed) -> Option<InParts<'static, ()>> {
        let Ok(a) = &analysed.result else { return None };
        let mode = std::iter::once(self.mode_of(a))
            .chain(self.compare)
            .find(|&mode| !a.built(mode))?;
        // The analysis shown is the one the edit started from: what it built, the new one
        // copies where the edit changed nothing.
        let before = self.good.as_ref().map(|(_, shown)| shown.clone());
        Some(a.clone().build_in_parts(mode, before))
    }

    /// The next view `show` would make for `analysed`, to make a part at a time (a large
    /// text's edit makes them between its reader's keys, see [`crate::typing`]); `None` once
    /// all are made.
    pub fn view_to_make(&self, analysed: &Analysed) -> Option<ViewInParts> {
        let Ok(a) = &analysed.result else { return None };
        let key = self
            .shown_views(a)
            .into_iter()
            .find(|key| !analysed.made.iter().any(|m| m.key == *key))?;
        // The same view made from the analysis shown (the one the edit started from: its pane
        // says it was made from it), whose lines of what did not change it copies.
        // (Only the save, `nft list` and `ipvsadm` views copy: another's would hold the old
        // analysis for nothing.)
        let copies = matches!(key.view, "save" | "nft-list" | "ipvsadm");
        let before = self
            .good
            .as_ref()
            .filter(|_| copies)
            .and_then(|(_, shown)| {
                let pane = self.panes().find(|p| {
                    p.key() == key && Rc::ptr_eq(&p.written, &shown.written) && p.problem.is_none()
                })?;
                Some((shown.clone(), pane.lines.clone(), pane.index.clone()))
            });
        let shown = (before.as_ref()).map(|(_, lines, index)| (lines.clone(), index.clone()));
        let before = before.map(|(analysis, lines, _)| (analysis, lines));
        Some(ViewInParts {
            key,
            work: ViewWork::Lines(a.clone().render_lines_in_parts(key.request(), before)),
            shown,
        })
    }

    /// The views shown for `a`: the main one, and the compared one.
    fn shown_views(&self, a: &Analysis) -> Vec<ViewKey> {
        let key = |mode: Mode, wanted: Option<&str>| ViewKey {
            mode,
            view: view_of(mode, wanted),
            all_namespaces: self.all_namespaces,
        };
        // (The input's mode edited: its own default view, as a mode chosen from the menu.)
        let view = self.view.as_deref().filter(|_| !self.input_mode_changed(a));
        std::iter::once(key(self.mode_of(a), view))
            .chain(self.compare.map(|m| key(m, self.compare_view.as_deref())))
            .collect()
    }

    /// The analysis shown, without the marks of what it changed ([`State::mark_changes`]
    /// follows when this says so: a large edit marks them in a task of its own).
    pub fn show(&mut self, analysed: Analysed) -> bool {
        self.text = analysed.text;
        self.analysis_due = None;
        match analysed.result {
            Ok(a) => {
                if analysed.node_dropped {
                    self.node = None;
                }
                timed("kpx:views", || self.accept(a, analysed.made));
                true
            }
            Err(e) => {
                self.errors = e.diagnostics;
                false
            }
        }
    }

    fn accept(&mut self, a: Rc<Analysis>, made: Vec<MadeView>) {
        self.errors.clear();
        // (Before the analysis shown is replaced: it is what the input's mode is compared with.)
        if self.input_mode_changed(&a) {
            self.mode = None;
            self.view = None;
        }
        let previous = self.good.replace((self.text.clone(), a));
        let shown: Vec<Pane> = self.panes().cloned().collect();
        self.draw_panes(made);
        // An edit that changed what is shown becomes the one whose changes are marked; one that
        // did not (a comment, spacing) leaves the marks of the last real edit in place.
        let Some((old_text, analysis)) = previous else {
            return;
        };
        let now: Vec<&Pane> = self.panes().collect();
        let same = |a: &Pane, b: &Pane| {
            a.mode == b.mode && a.view == b.view && a.lines.same_text(&b.lines)
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
        // A large text is analysed again in steps, as one opened is.
        crate::typing::analyse_opened(self);
    }

    /// Derives everything shown from the choices and the last good analysis.
    pub fn refresh(&mut self) {
        self.draw_panes(vec![]);
        self.mark_changes();
    }

    /// Renders the shown views (without the marks of the last edit), but for those `made`
    /// already.
    fn draw_panes(&mut self, made: Vec<MadeView>) {
        let Some((_, a)) = &self.good else { return };
        let a = a.clone();
        let mut pane = |key: ViewKey| -> Pane {
            // (Shared, not taken: the compared pane may show the same view of the same mode,
            // which an edit in steps made once; taken, that pane's was made again whole.)
            let lines = match made.iter().find(|m| m.key == key) {
                Some(m) => m.lines.clone(),
                None => a.render_lines(&key.request()).map(|lines| {
                    let index = ViewIndex::of(&lines);
                    (Rc::new(lines), Rc::new(index))
                }),
            };
            let (lines, index, problem) = match lines {
                Ok((lines, index)) => (lines, index, None),
                Err(problem) => (Rc::default(), Rc::default(), Some(problem)),
            };
            Pane {
                mode: key.mode,
                view: key.view,
                lines,
                index,
                changes: Rc::default(),
                problem,
                all_namespaces: key.all_namespaces,
                written: a.written.clone(),
            }
        };
        let mut shown = self.shown_views(&a).into_iter().map(&mut pane);
        let replaced = [self.primary.take(), self.secondary.take()];
        self.primary = shown.next();
        self.secondary = shown.next();
        // A large view replaced is let go of in parts, not wherever its last handle goes.
        for old in replaced.into_iter().flatten() {
            if !self.panes().any(|p| Rc::ptr_eq(&p.lines, &old.lines)) {
                // (An index the new view shares is let go of when that view is replaced: held
                // now, it would be looked at every 250 ms for as long as the new view shows.)
                let index_shown = self.panes().any(|p| Rc::ptr_eq(&p.index, &old.index));
                crate::dispose::later(&old.lines, (!index_shown).then_some(&old.index));
            }
        }
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

    /// The mode shown for `a`: the chosen one (a scenario's, or the reader's from the menu),
    /// or the input's own. An edit of the input's own mode (its KubeProxyConfiguration's
    /// `mode:`) is the reader's latest word: it is shown, and the choice let go of
    /// ([`State::accept`]). (The article opened `mode=iptables`, and `mode: ipvs` typed into
    /// its text changed nothing.)
    fn mode_of(&self, a: &Analysis) -> Mode {
        match self.mode {
            Some(chosen) if !self.input_mode_changed(a) => chosen,
            _ => a.cluster.settings.mode,
        }
    }

    /// Whether `a`'s input sets another mode than the analysis shown's input did.
    fn input_mode_changed(&self, a: &Analysis) -> bool {
        (self.good.as_ref())
            .is_some_and(|(_, shown)| shown.cluster.settings.mode != a.cluster.settings.mode)
    }

    /// Marks in each shown view what the last edit added and removed, against the same view
    /// as it was shown before the edit.
    pub fn mark_changes(&mut self) {
        let changes = timed("kpx:diff", || at_once(self.changes(Pace::never())));
        self.set_changes(changes);
    }

    /// [`State::mark_changes`] a part at a time, a line compared being a unit of work:
    /// [`State::set_changes`] marks what it finds.
    pub fn changes_in_parts(&self) -> ChangesInParts {
        InParts::new(|pace| self.changes(pace))
    }

    /// Marks in each shown view what the last edit changed ([`State::changes_in_parts`]).
    pub fn set_changes(&mut self, changes: Vec<Rc<Changes>>) {
        let panes = self.primary.iter_mut().chain(self.secondary.iter_mut());
        for (pane, changes) in panes.zip(changes) {
            pane.changes = changes;
        }
    }

    /// What the last edit changed in each shown view: work that holds what it compares, so
    /// that it can be done a part at a time while the state is set meanwhile.
    fn changes(&self, pace: Pace) -> impl std::future::Future<Output = Vec<Rc<Changes>>> + use<> {
        let before = self.before_edit.clone();
        let panes: Vec<Pane> = self.panes().cloned().collect();
        let all_namespaces = self.all_namespaces;
        async move {
            let mut found = vec![];
            for pane in &panes {
                let Some(before) = &before else {
                    found.push(Rc::default());
                    continue;
                };
                let shown_then = before.panes.iter().find(|p| {
                    (p.mode, p.view, p.problem.is_none(), before.all_namespaces)
                        == (pane.mode, pane.view, true, all_namespaces)
                });
                let changes = match shown_then {
                    Some(then) => {
                        let copied = pane.lines.copied_from(&then.lines);
                        Changes::between(&*then.lines, &*pane.lines, &copied, &pace).await
                    }
                    // A view not shown then: render the old one, as text only (its
                    // explanations are not needed), unless it is large: made whole, it would
                    // hold the page for seconds at 44,125 Services, and made in parts it cost
                    // the site 5.8 KB, so a large view chosen after an edit is not marked.
                    None if pane.lines.len() > UNMARKED_VIEW_LINES => Changes::default(),
                    None => {
                        let key = ViewKey {
                            mode: pane.mode,
                            view: pane.view,
                            all_namespaces,
                        };
                        match before.analysis.render(&key.request()) {
                            Ok(old) => {
                                let old: Vec<&str> = old.lines().collect();
                                Changes::between(&old, &*pane.lines, &[], &pace).await
                            }
                            Err(_) => Changes::default(),
                        }
                    }
                };
                found.push(Rc::new(changes));
            }
            found
        }
    }

    /// The shown panes: the main one, and the compared one.
    fn panes(&self) -> impl Iterator<Item = &Pane> {
        self.primary.iter().chain(self.secondary.iter())
    }

    /// The last text that analysed cleanly, and its analysis.
    pub fn good(&self) -> Option<(&SharedText, &Rc<Analysis>)> {
        self.good.as_ref().map(|(t, a)| (t, a))
    }

    /// The modes shown: the main one, and the compared one.
    pub fn shown_modes(&self) -> Vec<Mode> {
        self.panes().map(|p| p.mode).collect()
    }

    /// Whether the text is a shipped scenario's, unedited.
    pub fn edited(&self) -> bool {
        scenarios::unchanged(&self.text).is_none()
    }
}
