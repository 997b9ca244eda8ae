//! Typing into a large text stays responsive: once analysing an edit takes longer than a
//! keystroke should, the next edits run in steps, between the reader's keys.
//!
//! At 1,000 Services an edit's analysis, dataplane and views take 150 ms; run inside each
//! key's event, each key would wait for the last one's and typing would lag further and
//! further behind. Small texts (the article's clusters) are analysed inside the key's event.
//!
//! A text of more than [`LARGE_TEXT`] bytes is never analysed inside its input event either (a
//! paste of 10,000 Services would hold the page there, with nothing on screen). Such an edit
//! starts, in steps, once the page has painted its word that it is busy (the keys of one
//! frame make one edit). While an edit waits or runs, the page says so ("analysing the new
//! text…", see [`busy`]): set outside Yew, so that saying it costs no drawing of the whole
//! page, and painted before the work starts.
//!
//! The edit runs in steps ([`in_steps`]): the text is read in parts of about 40 ms (the page
//! says how far it is; an edit of a text read before reads only the sections it changed,
//! `kpx_core::input::Reading::after`), then the analysis, the shown modes' dataplanes, their
//! views' lines and the edit's changes are each made a part at a time too (kpx-core's paced
//! work, `kpx_core::pace`: a part is some hundreds of objects, service ports or lines), as many
//! parts to a task as fit in 40 ms; setting the state, and the drawing that follows, take a
//! task of their own. At 10,000 Services the longest of these tasks went from 595 ms (the
//! views, made whole) to under 110; at 44,000 the reading alone is 3 s. A key typed between
//! two steps owns the outcome: the older edit is dropped rather than set, since setting it
//! would write its text over the key in the editor ([`Meanwhile`]). So a key costs the page
//! at most one step's 40 ms, and edits need not wait for a pause in the typing (until this
//! round they waited 200 ms: a key's rules at 1,000 Services were drawn 470 ms after it, now
//! about 230).

use crate::state::{timed, Analysed, ChangesInParts, ReadText, SharedText, State, ViewInParts};
use gloo::timers::callback::Timeout;
use kpx_core::input::Reading;
use kpx_core::pace::{InParts, Step};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use yew::prelude::*;

/// An edit that took longer than this (ms) makes the next ones run in steps.
const BUSY_MS: f64 = 50.0;
/// A text this large (bytes) is edited in steps even before an edit of it has been timed: an
/// edit of 300 Services × 10 endpoints (300 KB) cost about 50 ms in the wasm, [`BUSY_MS`].
pub(crate) const LARGE_TEXT: usize = 256 << 10;

/// Says on the page whether an edit is waiting or being analysed: the class `waiting` on the
/// "analysing the new text…" status (`#busy`), which the stylesheet shows. Only it changes:
/// an attribute on the document's root restyled the whole page, and dimming the views cost the
/// next paint 50 ms at 1,000 Services.
fn busy(on: bool) {
    say_busy(on, false)
}

/// [`busy`], in the words of a choice ("making the view…", see [`use_paced_edit`]'s choices).
fn busy_making_view(on: bool) {
    say_busy(on, true)
}

fn say_busy(on: bool, making_view: bool) {
    if let Some(status) = crate::element::<web_sys::Element>("busy") {
        let _ = status.class_list().toggle_with_force("waiting", on);
        let _ = status
            .class_list()
            .toggle_with_force("view", on && making_view);
    }
    if !on {
        progress(None);
    }
}

/// How much of a large text has been read, in per cent, beside the busy status (an attribute
/// the stylesheet shows, so saying it draws nothing, on an element screen readers skip, so
/// that the status is not announced again every 40 ms); `None` takes it away.
fn progress(percent: Option<usize>) {
    if let Some(status) = crate::element::<web_sys::Element>("read") {
        let _ = match percent {
            Some(p) => status.set_attribute("data-read", &format!("{}", p.min(99))),
            None => status.remove_attribute("data-read"),
        };
    }
}

pub(crate) fn now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// Makes a text the page opened (a link, the saved work), or one to analyse again for another
/// node, ready to show: analysed now, unless it is large; then it is held unanalysed, and
/// [`use_paced_edit`] analyses it in steps once the page has drawn (at 10,000 Services,
/// analysing it at once held the page for 3 s before anything was on screen).
pub fn analyse_opened(state: &mut State) {
    thread_local!(static OPENED: Cell<u32> = const { Cell::new(0) });
    if state.text.len() > LARGE_TEXT {
        state.analysis_due = Some(OPENED.with(|n| {
            n.set(n.get() + 1);
            n.get()
        }));
    } else {
        state.analyse_text();
    }
}

/// What the reader changes, for [`use_paced_edit`]: the text, and what is shown of it.
pub struct Edits {
    /// The editor's `oninput`: analyses the text now, or in steps from the next frame.
    pub input: Callback<SharedText>,
    /// A choice of what to show (a view, a mode, the compared mode, the namespaces), made on a
    /// copy of the state: shown at once, or for a large text in steps, as an edit's views are
    /// ([`choose_in_steps`]): at 44,125 Services a view made whole held the page for seconds.
    pub choice: Callback<State>,
    /// The text the reader changed, while its edit is still in steps (the state is set, and so
    /// kept, only once it is analysed): leaving the page keeps it.
    pub unanalysed: Rc<dyn Fn() -> Option<SharedText>>,
}

/// The page's edits and choices ([`Edits`]). It also analyses, in steps, a large text the page
/// opened ([`analyse_opened`]).
#[hook]
pub fn use_paced_edit(state: &UseStateHandle<State>) -> Edits {
    // A waiting edit applies to the state as it is when it starts.
    let latest = use_mut_ref(|| state.clone());
    *latest.borrow_mut() = state.clone();
    let last_cost = use_mut_ref(|| 0.0_f64);
    // The pending start of a waiting edit (an animation frame): replacing it, or taking it,
    // cancels it.
    let waiting = use_mut_ref(|| None::<gloo::render::AnimationFrame>);
    // Every input counted, so that an edit running in steps knows when a newer key came.
    let inputs: Rc<Cell<u64>> = use_memo((), |_| Cell::new(0));
    // The timer a waiting edit's frame started (a key typed before it fires cancels it too).
    let timer = use_mut_ref(|| None::<Timeout>);
    // The text of the last edit sent to steps, and the state's text it was typed over.
    let pending = use_mut_ref(|| None::<(SharedText, SharedText)>);
    let unanalysed: Rc<dyn Fn() -> Option<SharedText>> = {
        let (pending, latest) = (pending.clone(), latest.clone());
        Rc::new(move || {
            let (text, over) = pending.borrow().clone()?;
            let now = latest.borrow().text.clone();
            // Analysed (the state holds it), or the state's text set since (a scenario, a
            // link, a reset: a text made again, even with the same bytes as the one typed
            // over): none of the reader's text is waiting.
            (now.same(&over) && now != text).then_some(text)
        })
    };
    {
        let (latest, last_cost, inputs) = (latest.clone(), last_cost.clone(), inputs.clone());
        use_effect_with(state.analysis_due, move |due| {
            // Once the page has painted the opened text and its word that it is busy.
            let started = Rc::new(Cell::new(false));
            let inputs_then = inputs.get();
            let frame = due.map(|_| {
                busy(true);
                let started = started.clone();
                gloo::render::request_animation_frame(move |_| {
                    started.set(true);
                    crate::task::next(move || {
                        // A key typed meanwhile owns the text (the opened one and the key):
                        // its own edit analyses it. (Not the editor's text here: a text box
                        // also turns the opened text's CRLF into LF.)
                        if inputs.get() == inputs_then {
                            let text = latest.borrow().text.clone();
                            in_steps(latest, last_cost, inputs, text);
                        }
                    });
                })
            });
            // Replaced before it started (a scenario chosen in the first frame): no steps will
            // take the word back.
            move || {
                if frame.is_some() && !started.get() {
                    busy(false);
                }
            }
        });
    }
    let choice = {
        let (latest, last_cost, inputs) = (latest.clone(), last_cost.clone(), inputs.clone());
        use_callback((), move |mut next: State, _| {
            let handle = latest.borrow().clone();
            if next.text.len() <= LARGE_TEXT || next.good().is_none() {
                next.refresh();
                return handle.set(next);
            }
            // The choice shows at once (its tab, its menu), the views it asks for once made;
            // a later choice supersedes this one's steps.
            let choice = CHOICES.with(|n| {
                n.set(n.get() + 1);
                n.get()
            });
            handle.set(next);
            busy_making_view(true);
            let (latest, last_cost, inputs) = (latest.clone(), last_cost.clone(), inputs.clone());
            crate::task::next(move || choose_in_steps(latest, last_cost, inputs, choice));
        })
    };
    let input = use_callback((), move |text: SharedText, _| {
        inputs.set(inputs.get() + 1);
        let edit = {
            let (latest, last_cost) = (latest.clone(), last_cost.clone());
            move |text: SharedText| {
                let started = now();
                let state = latest.borrow().clone();
                busy(false);
                if state.text == text {
                    return;
                }
                let mut next = (*state).clone();
                next.edit(text);
                state.set(next);
                *last_cost.borrow_mut() = now() - started;
            }
        };
        let typing_into_large = *last_cost.borrow() > BUSY_MS;
        if typing_into_large || text.len() > LARGE_TEXT {
            *pending.borrow_mut() = Some((text.clone(), latest.borrow().text.clone()));
            busy(true);
            // The editor's text when the edit starts: the keys typed since, or what a scenario
            // or a link put there meanwhile (which is then the state's text already). A huge
            // text pasted is in no text box (the editor shows it read-only): it is the text.
            let (latest, last_cost, inputs) = (latest.clone(), last_cost.clone(), inputs.clone());
            let start = move || {
                let text = crate::editor::current_text().unwrap_or(text);
                in_steps(latest, last_cost, inputs, text);
            };
            // Once the page has painted the key and its word that it is busy (a key typed
            // before then replaces this start with its own). In the next task instead, the
            // first step came before the key was painted (a key's next paint at 1,000
            // Services went 80 -> 112 ms), though the frame that lays out a whole new text
            // then ran in shorter tasks: after a frame, it is one task of 300-700 ms.
            let pending = {
                let timer = timer.clone();
                gloo::render::request_animation_frame(move |_| {
                    *timer.borrow_mut() = Some(Timeout::new(0, start));
                })
            };
            timer.borrow_mut().take();
            *waiting.borrow_mut() = Some(pending);
        } else {
            waiting.borrow_mut().take();
            timer.borrow_mut().take();
            pending.borrow_mut().take();
            edit(text);
        }
    });
    Edits {
        input,
        choice,
        unanalysed,
    }
}

thread_local! {
    /// Choices made on a large text so far: the latest one's steps run, older ones stop.
    static CHOICES: Cell<u64> = const { Cell::new(0) };
}

/// A choice's steps (number `choice`, see [`Edits::choice`]): the state's analysis shown again
/// as it now asks, its dataplanes built and its views made a part at a time, the views still
/// shown kept ([`State::analysed_again`]), then the last edit's changes marked in them.
fn choose_in_steps(
    latest: Rc<RefCell<UseStateHandle<State>>>,
    last_cost: Rc<RefCell<f64>>,
    inputs: Rc<Cell<u64>>,
    choice: u64,
) {
    if CHOICES.with(Cell::get) != choice {
        return;
    }
    let (analysed, text) = {
        let state = latest.borrow();
        (state.analysed_again(), state.text.clone())
    };
    let Some(analysed) = analysed else {
        return busy(false);
    };
    let steps = Steps {
        watch: Watch::new(latest, inputs),
        text,
        last_cost,
        cost: 0.0,
        choice: Some(choice),
        view_lines: FEWEST_VIEW_LINES,
    };
    steps.run(Made::Analysed(analysed), now());
}

/// A large text's edit in steps, so that no one task holds the page for long: the text is read
/// in parts ([`read_in_parts`]), then the analysis, the shown dataplanes, the views and what
/// the edit changed are made a part at a time, and the state is set (the drawing follows in
/// its own task), as many steps in one task as fit in [`SLICE_MS`] ([`Steps::run`]). Before
/// each step it checks what happened meanwhile ([`Watch::meanwhile`]).
fn in_steps(
    latest: Rc<RefCell<UseStateHandle<State>>>,
    last_cost: Rc<RefCell<f64>>,
    inputs: Rc<Cell<u64>>,
    text: SharedText,
) {
    if latest.borrow().text == text && latest.borrow().analysis_due.is_none() {
        return busy(false);
    }
    busy(true);
    let watch = Watch::new(latest, inputs);
    let reading = crate::state::reading(&text);
    let bytes = text.len().max(1);
    // Reading depends on the text alone: a state that moved on does not stop it.
    let stop = {
        let watch = watch.clone();
        move || match watch.meanwhile() {
            Meanwhile::Typed => {
                progress(None);
                true
            }
            Meanwhile::Replaced => {
                watch.replaced();
                true
            }
            Meanwhile::Nothing | Meanwhile::MovedOn => false,
        }
    };
    read_in_parts(reading, bytes, 0.0, stop, move |read| {
        progress(None);
        let steps = Steps {
            // Steps after the reading start from the state as it is now.
            watch: watch.renewed(),
            text,
            last_cost,
            cost: read.cost,
            choice: None,
            view_lines: FEWEST_VIEW_LINES,
        };
        steps.run(Made::Read(read.text), read.task_start);
    });
}

/// What an edit in steps watches: the state's handle, and the state and the inputs counted as
/// they were when it began. A state handle reads the state as it is now, not as it was, so the
/// start is remembered: its text, and where the state then lived (a state set since lives
/// elsewhere; `_then`, a handle made at the start, holds the state of then, so that no other
/// state can come to live there meanwhile).
#[derive(Clone)]
struct Watch {
    latest: Rc<RefCell<UseStateHandle<State>>>,
    inputs: Rc<Cell<u64>>,
    inputs_then: u64,
    _then: UseStateHandle<State>,
    state_then: *const State,
    text_then: SharedText,
}

impl Watch {
    fn new(latest: Rc<RefCell<UseStateHandle<State>>>, inputs: Rc<Cell<u64>>) -> Self {
        let then = latest.borrow().clone();
        let (state_then, text_then) = (&*then as *const State, then.text.clone());
        Watch {
            inputs_then: inputs.get(),
            latest,
            inputs,
            _then: then,
            state_then,
            text_then,
        }
    }

    /// The same inputs counted, the state as it is now.
    fn renewed(self) -> Self {
        let inputs_then = self.inputs_then;
        Watch {
            inputs_then,
            ..Watch::new(self.latest, self.inputs)
        }
    }

    fn typed(&self) -> bool {
        self.inputs.get() != self.inputs_then
    }

    /// This edit's text was replaced: the page is no longer busy with it, unless the new text
    /// waits for its own steps ([`analyse_opened`]).
    fn replaced(&self) {
        if self.latest.borrow().analysis_due.is_none() {
            busy(false)
        }
    }

    fn meanwhile(&self) -> Meanwhile {
        let state = self.latest.borrow();
        if self.typed() {
            Meanwhile::Typed
        } else if std::ptr::eq::<State>(&**state, self.state_then) {
            // The same state, so the same text: not compared (a large text compared on every
            // step cost more than the steps, when the state held it already).
            Meanwhile::Nothing
        } else if state.text != self.text_then {
            Meanwhile::Replaced
        } else {
            Meanwhile::MovedOn
        }
    }
}

/// How long (ms) a task of an edit in steps works before the page gets its turn (a step
/// started is finished), and how many of the parser's events a reading task reads between
/// looks at the clock (a Service of a few ports is about a hundred).
const SLICE_MS: f64 = 40.0;
const READ_EVENTS: usize = 2_000;

/// Runs `work` from the next task on, `units` at a time between two looks at the clock, for
/// [`SLICE_MS`] a task (each task's steps measured as `measure`); then `then` with its outcome.
/// Set, `outdated` stops it before its next task (work that a newer change made useless).
pub fn in_tasks<T: 'static>(
    measure: &'static str,
    work: InParts<'static, T>,
    units: usize,
    outdated: Rc<Cell<bool>>,
    then: impl FnOnce(T) + 'static,
) {
    crate::task::next(move || {
        if outdated.get() {
            return;
        }
        match timed(measure, || within_slice(work, units, now())) {
            Step::Done(out) => then(out),
            Step::Paused(more) => in_tasks(measure, more, units, outdated, then),
        }
    });
}

/// Steps `work`, `units` at a time, until it is done or the task (started at `task_start`) has
/// worked [`SLICE_MS`]. The steps of one task are measured as one: nothing can happen between
/// them (the page's events wait for the task to end), and a User Timing measure a step was
/// hundreds of calls out of the wasm an edit (4 ms of a key at 1,000 Services in a profile).
fn within_slice<T>(
    mut work: InParts<'static, T>,
    units: usize,
    task_start: f64,
) -> Step<'static, T> {
    loop {
        match work.step(units) {
            Step::Paused(more) if now() - task_start <= SLICE_MS => work = more,
            step => return step,
        }
    }
}

/// A text read: what it holds, what reading it cost (ms), and when its last task started.
struct Read {
    text: ReadText,
    cost: f64,
    task_start: f64,
}

/// Reads for [`SLICE_MS`], then lets the page answer (and says how far it is) and reads on in
/// the next task, unless `stop` says the edit is no longer wanted; then `then`.
fn read_in_parts(
    mut reading: Reading<'static>,
    bytes: usize,
    spent: f64,
    stop: impl Fn() -> bool + 'static,
    then: impl FnOnce(Read) + 'static,
) {
    let started = now();
    let done = timed("kpx:read", || loop {
        if reading.step(READ_EVENTS) {
            break true;
        }
        if now() - started > SLICE_MS {
            break false;
        }
    });
    let spent = spent + (now() - started);
    if done {
        // A huge text's objects are gathered in a task of their own (44,125 Services: 55-95
        // ms, which made a 103-111 ms task with the reading's last slice); a smaller text's
        // at once, unless that slice was long.
        if bytes <= crate::editor::HUGE_TEXT && now() - started < SLICE_MS / 2.0 {
            return then(gathered(reading, spent, started));
        }
        crate::task::next(move || {
            if stop() {
                return let_go(reading, bytes);
            }
            then(gathered(reading, spent, now()))
        });
        return;
    }
    progress(Some(reading.read() * 100 / bytes));
    crate::task::next(move || {
        if stop() {
            return let_go(reading, bytes);
        }
        read_in_parts(reading, bytes, spent, stop, then)
    });
}

/// A text read, its objects gathered in a task that started at `task_start`.
fn gathered(reading: Reading<'static>, spent: f64, task_start: f64) -> Read {
    Read {
        text: crate::state::finish(reading),
        cost: spent,
        task_start,
    }
}

/// A reading no longer wanted (another edit came): a huge text's is let go of a part at a time.
fn let_go(reading: Reading<'static>, bytes: usize) {
    if bytes > crate::editor::HUGE_TEXT {
        crate::dispose::later_owned(Box::new(reading));
    }
}

/// An edit's steps after the reading: the analysis, the shown dataplane, the views' lines (a
/// part at a time), showing them, the edit's changes (a part at a time) and setting the state
/// (the drawing follows, in its own task).
struct Steps {
    watch: Watch,
    text: SharedText,
    last_cost: Rc<RefCell<f64>>,
    /// What the steps so far cost, as an edit in one task would have measured it.
    cost: f64,
    /// A choice's steps ([`choose_in_steps`]), not an edit's: the text is the state's already.
    choice: Option<u64>,
    /// How many lines the next step of a view makes ([`VIEW_STEP_MS`]).
    view_lines: usize,
}

/// What an edit in steps has made so far.
enum Made {
    Read(ReadText),
    Analysing(InParts<'static, Analysed>),
    /// Analysed: the shown modes' dataplanes are built next (a part at a time).
    Analysed(Analysed),
    Building(Analysed, InParts<'static, ()>),
    /// The shown modes' dataplanes are built: views are made next, then shown.
    Built(Analysed),
    Making(Analysed, ViewInParts),
    Marking(State, ChangesInParts),
    Marked(State),
}

impl Made {
    /// The analysis a choice's steps show (`None` for an edit's before its analysis).
    fn analysis(&self) -> Option<&Rc<kpx_core::views::Analysis>> {
        match self {
            Made::Analysed(a) | Made::Building(a, _) | Made::Built(a) | Made::Making(a, _) => {
                a.analysis()
            }
            Made::Marking(next, _) | Made::Marked(next) => next.good().map(|(_, a)| a),
            Made::Read(_) | Made::Analysing(_) => None,
        }
    }
}

/// How many objects are analysed, service ports built, a view's lines made, or compared for
/// the edit's changes, between two looks at the clock (at 10,000 Services of 10 endpoints, an
/// object is analysed in about 5 µs in the wasm, a port built in 30, a line made in 1.3 and
/// compared in 0.1).
const OBJECTS: usize = 200;
const SERVICE_PORTS: usize = 100;
const VIEW_LINES: usize = 1_000;
/// How long (ms) a step of a view's lines should take: lines cost unlike amounts (an `iptables
/// -L` line at 44,125 Services about 40 µs in the wasm, many times a `save` line), so each
/// view step makes as many as the last step's pace says fit, up to [`VIEW_LINES`]. That bound
/// is what a step costs when its lines are dearer than the last step's: at 2,000, a `list`
/// step after cheap lines made a 119 ms task once.
const VIEW_STEP_MS: f64 = 10.0;
/// The fewest lines a view step makes, and a view's first step (see [`VIEW_STEP_MS`]).
const FEWEST_VIEW_LINES: usize = VIEW_LINES / 10;
const COMPARED_LINES: usize = 20_000;

impl Steps {
    /// Runs the next steps, in this task (started at `task_start`) while it has worked less
    /// than [`SLICE_MS`], then in the next. Setting the state always waits for a task of its
    /// own: the drawing follows it there (at 1,000 Services it is the longest step).
    fn run(mut self, mut made: Made, task_start: f64) {
        let mut steps_here = 0;
        loop {
            let last = matches!(made, Made::Marked(_));
            if now() - task_start > SLICE_MS || (last && steps_here > 0) {
                crate::task::next(move || self.run(made, now()));
                return;
            }
            match (self.watch.meanwhile(), self.choice) {
                (Meanwhile::Nothing, _) => {}
                (Meanwhile::Typed, _) => return,
                (Meanwhile::Replaced, _) => return self.watch.replaced(),
                // A later choice runs its own steps, and another analysis (a node chosen) its
                // own. Anything else (a line selected, a panel) leaves this choice's views to
                // make on the state as it is now: a state already copied to be set is made
                // again from it, with the views made so far.
                (Meanwhile::MovedOn, Some(choice)) => {
                    let analysis_now = {
                        let state = self.watch.latest.borrow();
                        let due = state.analysis_due.is_some();
                        state.good().map(|(_, a)| a.clone()).filter(|_| !due)
                    };
                    let same_analysis = match (&analysis_now, made.analysis()) {
                        (Some(now), Some(ours)) => Rc::ptr_eq(now, ours),
                        _ => false,
                    };
                    if CHOICES.with(Cell::get) != choice || !same_analysis {
                        return;
                    }
                    self.watch = self.watch.renewed();
                    made = match made {
                        Made::Marking(next, _) | Made::Marked(next) => {
                            match next.analysed_again() {
                                Some(analysed) => Made::Built(analysed),
                                None => return busy(false),
                            }
                        }
                        other => other,
                    };
                }
                (Meanwhile::MovedOn, None) => {
                    let Watch { latest, inputs, .. } = self.watch;
                    return in_steps(latest, self.last_cost, inputs, self.text);
                }
            }
            let base = self.watch.latest.borrow().clone();
            let started = now();
            made = match made {
                Made::Read(read) => {
                    Made::Analysing(base.analysis_in_parts(self.text.clone(), read))
                }
                Made::Analysing(work) => {
                    match timed("kpx:analyze", || within_slice(work, OBJECTS, task_start)) {
                        Step::Done(analysed) => Made::Analysed(analysed),
                        Step::Paused(work) => Made::Analysing(work),
                    }
                }
                Made::Analysed(analysed) => match base.dataplane_to_build(&analysed) {
                    Some(work) => Made::Building(analysed, work),
                    None => Made::Built(analysed),
                },
                Made::Building(analysed, work) => {
                    match timed("kpx:build", || {
                        within_slice(work, SERVICE_PORTS, task_start)
                    }) {
                        Step::Done(()) => Made::Analysed(analysed),
                        Step::Paused(work) => Made::Building(analysed, work),
                    }
                }
                Made::Built(analysed) => match base.view_to_make(&analysed) {
                    Some(view) => {
                        // A view's lines may cost unlike the last view's (a list line many
                        // save lines): its first step is the smallest, the next sized by it
                        // (sized by the last view's, a list view's first step was 99 ms at
                        // 44,125 Services).
                        self.view_lines = FEWEST_VIEW_LINES;
                        Made::Making(analysed, view)
                    }
                    None if self.choice.is_some() => {
                        let mut next = (*base).clone();
                        next.show_again(analysed);
                        let work = next.changes_in_parts();
                        Made::Marking(next, work)
                    }
                    None => {
                        let mut next = (*base).clone();
                        match next.show(analysed) {
                            true => {
                                let work = next.changes_in_parts();
                                Made::Marking(next, work)
                            }
                            false => Made::Marked(next),
                        }
                    }
                },
                Made::Making(mut analysed, view) => {
                    let made = timed("kpx:views", || {
                        let mut view = view;
                        loop {
                            let started = now();
                            let made = view.step(self.view_lines, &mut analysed);
                            let took = now() - started;
                            if took > 0.0 {
                                let fit = self.view_lines as f64 * VIEW_STEP_MS / took;
                                self.view_lines =
                                    (fit as usize).clamp(FEWEST_VIEW_LINES, VIEW_LINES);
                            }
                            match made {
                                Some(more) if now() - task_start <= SLICE_MS => view = more,
                                made => return made,
                            }
                        }
                    });
                    match made {
                        Some(view) => Made::Making(analysed, view),
                        None => Made::Built(analysed),
                    }
                }
                Made::Marking(mut next, work) => {
                    match timed("kpx:diff", || {
                        within_slice(work, COMPARED_LINES, task_start)
                    }) {
                        Step::Done(changes) => {
                            next.set_changes(changes);
                            Made::Marked(next)
                        }
                        Step::Paused(work) => Made::Marking(next, work),
                    }
                }
                Made::Marked(next) => {
                    // What an edit costs decides whether the next runs in steps; a choice's
                    // steps say nothing about that.
                    if self.choice.is_none() {
                        *self.last_cost.borrow_mut() = self.cost;
                    }
                    base.set(next);
                    // Taken back once the new rules are drawn ([`drawn`]), unless a key typed
                    // since waits for its own steps: a change of style before the drawing made
                    // the drawing 40 ms longer at 1,000 Services.
                    let watch = self.watch;
                    AFTER_DRAWING.with(|after| {
                        *after.borrow_mut() = Some(Box::new(move || {
                            if !watch.typed() {
                                busy(false)
                            }
                            // The state before the edit, which `watch` may be the last to
                            // hold (its analysis, dataplanes, memos), is let go of in a task
                            // of its own, not in the drawing's (2.7 ms at 1,000 Services).
                            crate::task::next(move || drop(watch))
                        }))
                    });
                    return;
                }
            };
            self.cost += now() - started;
            steps_here += 1;
        }
    }
}

thread_local! {
    /// What to do once the page has drawn the state an edit in steps set.
    static AFTER_DRAWING: RefCell<Option<Box<dyn FnOnce()>>> = const { RefCell::new(None) };
}

/// The page has drawn its state (the `App`'s effect, after every drawing): an edit in steps
/// that set it is no longer busy.
pub fn drawn() {
    if let Some(then) = AFTER_DRAWING.with(|after| after.borrow_mut().take()) {
        then()
    }
}

/// What happened while an edit ran in steps.
enum Meanwhile {
    Nothing,
    /// A key was typed: the newer text owns the outcome (it waits for its own steps, or was
    /// applied at once), and this edit is dropped. Set now, it would write its older text over
    /// the keys in the editor.
    Typed,
    /// The text was replaced from elsewhere (a scenario, Reset, a link): that state is right,
    /// and this edit is dropped.
    Replaced,
    /// Same text, but the state moved on (a mode chosen): the edit is made again on it, in
    /// steps (reading included: the reading was handed on).
    MovedOn,
}
