//! The one entry point front ends use: text in, a named view out.
//!
//! [`analyze`] runs the pipeline once; [`render`] turns the result into any view. The CLI and
//! the web app both go through here, so a view means the same thing everywhere.

use crate::cluster::settings::Mode;
use crate::cluster::{self, kubectl, Cluster};
use crate::diag::InputError;
use crate::input;
use crate::input::{LineRange, ObjectRef, Scenario};
use crate::iptables::model::{Dataplane, Provenance, TableName, Text, Why};
use crate::iptables::render::{self, Line, LineSink, ListOptions, Select, Sink, TextSink};
use crate::iptables::{self, Layout};
use crate::nftables;
use crate::pace::{at_once, InParts, Pace};
use serde::Serialize;
use std::cell::OnceCell;
use std::collections::HashMap;
use std::ops::Range;
use std::rc::Rc;

/// A view a mode offers.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ViewInfo {
    pub name: &'static str,
    pub description: &'static str,
}

const COMMON: &[ViewInfo] = &[
    ViewInfo {
        name: "get-svc",
        description: "kubectl get svc [-A]",
    },
    ViewInfo {
        name: "get-ep",
        description: "kubectl get ep [-A]",
    },
    ViewInfo {
        name: "get-endpointslices",
        description: "kubectl get endpointslices [-A]",
    },
    ViewInfo {
        name: "get-pods",
        description: "kubectl get pods [-A] -o wide",
    },
];

const IPVS: &[ViewInfo] = &[
    ViewInfo {
        name: "ipvsadm",
        description: "ipvsadm -Ln",
    },
    ViewInfo {
        name: "addr",
        description: "ip addr show kube-ipvs0 (addresses sorted)",
    },
    ViewInfo {
        name: "ipset",
        description: "ipset list (members sorted)",
    },
    ViewInfo {
        name: "restore",
        description: "kube-proxy's iptables-restore input in IPVS mode",
    },
    ViewInfo {
        name: "save",
        description: "iptables-save on the node (--table nat|filter)",
    },
    ViewInfo {
        name: "list",
        description: "iptables -t TABLE -L [CHAIN] -v [-n]",
    },
];

const NFTABLES: &[ViewInfo] = &[
    ViewInfo {
        name: "nft",
        description: "kube-proxy's nftables objects as `nft -f` input",
    },
    ViewInfo {
        name: "nft-list",
        description: "nft list table ip kube-proxy (nft 1.0.6)",
    },
    ViewInfo {
        name: "nft-load",
        description: "the objects as `nft -f` input in kube-proxy's creation order",
    },
];

const IPTABLES: &[ViewInfo] = &[
    ViewInfo {
        name: "restore",
        description: "kube-proxy's iptables-restore input (full sync)",
    },
    ViewInfo {
        name: "save",
        description: "iptables-save on the node (--table nat|filter)",
    },
    ViewInfo {
        name: "list",
        description: "iptables -t TABLE -L [CHAIN] -v [-n] (--table, --chain, --numeric)",
    },
];

/// The views of a mode, in the order `kpx views` lists them; the first is the default.
pub fn views(mode: Mode) -> Vec<ViewInfo> {
    let own: &[ViewInfo] = match mode {
        Mode::Iptables => IPTABLES,
        Mode::Nftables => NFTABLES,
        Mode::Ipvs => IPVS,
    };
    own.iter().chain(COMMON.iter()).copied().collect()
}

/// Everything computed from one text.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub cluster: Cluster,
    pub layout: Result<Layout, String>,
    // Each mode's dataplane is built when first asked for: a page showing one mode (or a
    // trace in one mode) pays for that mode only.
    iptables: OnceCell<Result<Dataplane, String>>,
    nftables: OnceCell<crate::nftables::model::Table>,
    ipvs: OnceCell<crate::ipvs::Ipvs>,
    /// Where each object of the cluster is written in the reader's text (an object kpx made,
    /// such as a Deployment's Pod, points at what it was made from): shared with the views
    /// made from it, which look a line's up when it is shown ([`written_by`]).
    pub written: Rc<Written>,
}

/// Where each object is written in the reader's text. (Hashed: it is made again on every key,
/// and a tree compared every object's three names a dozen times.)
pub type Written = HashMap<ObjectRef, Vec<LineRange>, foldhash::fast::FixedState>;

/// Parses and builds everything for `text`, on the node the input names.
pub fn analyze(text: &str) -> Result<Analysis, InputError> {
    analyze_on(text, None)
}

/// Parses and builds everything for `text`, as kube-proxy on `node` sees it.
pub fn analyze_on(text: &str, node: Option<&str>) -> Result<Analysis, InputError> {
    analyze_parsed(&input::parse(text)?, node)
}

/// Builds everything for a parsed text (read a part at a time: [`input::Reading`]).
pub fn analyze_parsed(scenario: &Scenario, node: Option<&str>) -> Result<Analysis, InputError> {
    at_once(analyze_paced(scenario, node, &Pace::never()))
}

/// [`analyze_parsed`], an object being a unit of `pace`'s work (the page analyses a large text
/// a part at a time).
pub async fn analyze_paced(
    scenario: &Scenario,
    node: Option<&str>,
    pace: &Pace,
) -> Result<Analysis, InputError> {
    analyze_after(scenario, node, None, pace).await
}

/// [`analyze_paced`] after an edit: `before` is the analysis of the text before it, whose
/// cluster lends the new one what it checked ([`cluster::build_after`]).
pub async fn analyze_after(
    scenario: &Scenario,
    node: Option<&str>,
    before: Option<&Analysis>,
    pace: &Pace,
) -> Result<Analysis, InputError> {
    let cluster = cluster::build_after(scenario, node, before.map(|a| &a.cluster), pace).await?;
    let layout = Layout::for_version(cluster.settings.version);
    let written = written_lines(scenario, &cluster, pace).await;
    Ok(Analysis {
        cluster,
        layout,
        iptables: OnceCell::new(),
        nftables: OnceCell::new(),
        ipvs: OnceCell::new(),
        written: Rc::new(written),
    })
}

impl Analysis {
    /// The iptables dataplane, or why this release's layout cannot be shown.
    pub fn iptables(&self) -> &Result<Dataplane, String> {
        self.iptables.get_or_init(|| iptables::build(&self.cluster))
    }
    /// The nftables table.
    pub fn nftables(&self) -> &crate::nftables::model::Table {
        self.nftables
            .get_or_init(|| crate::nftables::build(&self.cluster))
    }
    /// IPVS mode's state.
    pub fn ipvs(&self) -> &crate::ipvs::Ipvs {
        self.ipvs.get_or_init(|| crate::ipvs::build(&self.cluster))
    }
    /// Builds `mode`'s dataplane now, if it is not built yet (each is built when first asked
    /// for).
    pub fn build(&self, mode: Mode) {
        match mode {
            Mode::Iptables => drop(self.iptables()),
            Mode::Nftables => drop(self.nftables()),
            Mode::Ipvs => drop(self.ipvs()),
        }
    }

    /// Whether `mode`'s dataplane is built.
    pub fn built(&self, mode: Mode) -> bool {
        match mode {
            Mode::Iptables => self.iptables.get().is_some(),
            Mode::Nftables => self.nftables.get().is_some(),
            Mode::Ipvs => self.ipvs.get().is_some(),
        }
    }

    /// [`Analysis::build`] a part at a time, a service port being a unit of work (the page
    /// builds a large cluster's between its reader's keys). `before` is the analysis of the
    /// text before the edit, if any: its iptables dataplane or nftables table, if built, lends
    /// the new one the rules of every service port the edit did not change
    /// ([`iptables::reuse`], `nftables::reuse`), and its IPVS state the service port map.
    pub fn build_in_parts(
        self: Rc<Self>,
        mode: Mode,
        before: Option<Rc<Analysis>>,
    ) -> InParts<'static, ()> {
        /// Fills `cell` with what `build` makes, unless it is filled (the work does not start
        /// until awaited; built meanwhile, the cell keeps the first: the same dataplane).
        async fn fill<T>(cell: &OnceCell<T>, build: impl std::future::Future<Output = T>) {
            if cell.get().is_none() {
                let _ = cell.set(build.await);
            }
        }
        InParts::new(move |pace| async move {
            let c = &self.cluster;
            match mode {
                Mode::Iptables => {
                    let before = before
                        .as_ref()
                        .and_then(|a| a.iptables.get()?.as_ref().ok());
                    fill(&self.iptables, iptables::build_after(c, before, &pace)).await
                }
                Mode::Nftables => {
                    let before = before.as_ref().and_then(|a| a.nftables.get());
                    fill(
                        &self.nftables,
                        crate::nftables::build_after(c, before, &pace),
                    )
                    .await
                }
                Mode::Ipvs => {
                    let before = before.as_ref().and_then(|a| a.ipvs.get());
                    fill(&self.ipvs, crate::ipvs::build_after(c, before, &pace)).await
                }
            }
        })
    }
}

/// The reader's lines that wrote each object (a derived one's are its sources'), an object
/// being a unit of work (at 44,125 Services, this index alone was 70 ms of the wasm).
async fn written_lines(scenario: &input::Scenario, cluster: &Cluster, pace: &Pace) -> Written {
    let mut written = Written::default();
    for (reference, lines) in scenario.written_lines() {
        // Rules cite the configuration by kind alone: whatever its name, it is the one.
        let reference = if reference.kind == "KubeProxyConfiguration" {
            cluster::proxy_config_ref()
        } else {
            reference.clone()
        };
        written.entry(reference).or_default().push(lines);
        pace.unit().await;
    }
    let derived = cluster
        .slices
        .iter()
        .map(|i| (&i.reference, &i.origin))
        .chain(cluster.pods.iter().map(|i| (&i.reference, &i.origin)));
    for (reference, origin) in derived {
        if let cluster::Origin::Derived { from, .. } = origin {
            let lines: Vec<LineRange> = from
                .iter()
                .flat_map(|f| written.get(f).cloned().unwrap_or_default())
                .collect();
            written.entry(reference.clone()).or_insert(lines);
            pace.unit().await;
        }
    }
    written
}

/// The lines of the reader's text behind a provenance: the Service, and for an endpoint its
/// Pod (or, without one, its EndpointSlice or Endpoints). The page asks for the line it shows
/// ([`LineInfo::source`]), in the analysis that made that line.
pub fn written_by(written: &Written, p: &Provenance) -> Vec<LineRange> {
    let mut lines: Vec<LineRange> = written_by_objects(p)
        .into_iter()
        .flat_map(|o| written.get(o).cloned().unwrap_or_default())
        .collect();
    crate::pace::sort_stable_by(&mut lines, Ord::cmp);
    lines.dedup();
    lines
}

/// The objects whose lines in the reader's text made what `p` names: the Service, and for an
/// endpoint its Pod (or, without one, its EndpointSlice or Endpoints).
fn written_by_objects(p: &Provenance) -> Vec<&ObjectRef> {
    match &**p {
        Why::Endpoint {
            service,
            slice,
            pod,
            ..
        } => vec![service, pod.as_ref().unwrap_or(slice)],
        other => other.objects(),
    }
}

/// A rendered view's lines, as the page holds them: their texts one after another in a few
/// large pieces, and what each line stands for. (A `String` a line was a fifth of making a
/// view's lines, and a third of their memory: a 10,000-Service restore view has 440,000
/// lines. A piece is at most 1 MiB but for a longer line, so a large view's text is never
/// grown by doubling nor reserved whole ahead: one text reserved for its lines made the
/// page's heap 10 MiB larger.)
#[derive(Clone, Debug, Default)]
pub struct ViewLines {
    /// Lines' texts with nothing between them; a line is never split between two pieces.
    pieces: Vec<String>,
    /// Where each line's text ends: its piece (the high 32 bits) and its end in that piece. It
    /// starts where the line before it ends, or at its piece's start.
    ends: Vec<u64>,
    about: Vec<LineInfo>,
    /// The lines that have odds, in order: the page draws a line's odds as a row below it
    /// ([`ViewLines::row`]). (A row a line, made for each view, was 16 MB at 44,125 Services.)
    odds: Vec<u32>,
    /// The runs of lines copied from a view made before an edit ([`ViewLines::copied_from`]
    /// says which of them are that view's lines still), in order.
    copied: Vec<Copied>,
}

/// Lines `to..to + len` of a view were copied from lines `from..from + len` of a view made
/// before it: what an edit did not change ([`crate::changes::Changes::between`] pairs them
/// without comparing them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Copied {
    pub to: usize,
    pub from: usize,
    pub len: usize,
}

/// A row of a view as the page draws it: a line, or the odds of the line above it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Row {
    Line(usize),
    Odds(usize),
}

/// The first piece of a view's text, and the largest (a new piece is twice as large as the
/// last, up to this): a small view takes little, a large one a piece of 1 MiB at a time.
const FIRST_PIECE: usize = 4 << 10;
const LARGEST_PIECE: usize = 1 << 20;

/// Whether two texts are the same bytes, compared eight at a time (the wasm's `memcmp`
/// compares one at a time: two 1.3 MB views were 2 ms).
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let word = |w: &[u8]| u64::from_ne_bytes(w.try_into().expect("eight bytes"));
    let (wa, wb) = (a.chunks_exact(8), b.chunks_exact(8));
    a.len() == b.len()
        && wa.remainder() == wb.remainder()
        && wa.zip(wb).all(|(x, y)| word(x) == word(y))
}

/// Whether two streams of byte slices are the same bytes, however they are cut.
fn same_stream<'a>(
    mut a: impl Iterator<Item = &'a [u8]>,
    mut b: impl Iterator<Item = &'a [u8]>,
) -> bool {
    let (mut x, mut y): (&[u8], &[u8]) = (&[], &[]);
    loop {
        while x.is_empty() {
            match a.next() {
                Some(next) => x = next,
                None => break,
            }
        }
        while y.is_empty() {
            match b.next() {
                Some(next) => y = next,
                None => break,
            }
        }
        if x.is_empty() || y.is_empty() {
            return x.is_empty() && y.is_empty();
        }
        let n = x.len().min(y.len());
        if !same_bytes(&x[..n], &y[..n]) {
            return false;
        }
        (x, y) = (&x[n..], &y[n..]);
    }
}

/// What a line of a view stands for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineInfo {
    /// Why the chain or rule on this line exists ([`LineInfo::why`] words it: only the lines
    /// shown are worded). The reader's lines that made it are looked up when it is shown
    /// ([`Analysis::written_by`]: worked out for every line, they were a fifth of making them).
    pub source: Option<Provenance>,
    /// The chain, set or map the line declares (an iptables chain's name is the chain's own).
    pub defines: Option<Text>,
    /// A load-balancing step's odds, in words (shared by the steps of one shape of cascade).
    pub odds: Option<Rc<str>>,
    /// The rule (virtual server, real server) the line shows, as walks name it.
    pub anchor: Option<crate::explain::anchor::Anchor>,
}

impl LineInfo {
    /// Why the chain or rule on this line exists, in a sentence for the reader.
    pub fn why(&self) -> Option<String> {
        self.source.as_ref().map(|p| p.describe())
    }
}

/// One line of a view, borrowed from its [`ViewLines`]: its text, and (through `Deref`) what
/// it stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineRef<'v> {
    pub text: &'v str,
    about: &'v LineInfo,
}

impl std::ops::Deref for LineRef<'_> {
    type Target = LineInfo;
    fn deref(&self) -> &LineInfo {
        self.about
    }
}

impl<'v> LineRef<'v> {
    /// What it stands for, borrowed from the view (not from this handle, as `Deref` is).
    pub fn about(self) -> &'v LineInfo {
        self.about
    }

    pub fn to_owned(self) -> ViewLine {
        ViewLine {
            text: self.text.to_string(),
            about: self.about.clone(),
        }
    }
}

/// One line of a view, owned (the line the page explains).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewLine {
    pub text: String,
    about: LineInfo,
}

impl std::ops::Deref for ViewLine {
    type Target = LineInfo;
    fn deref(&self) -> &LineInfo {
        &self.about
    }
}

/// Views are alike when their lines are, however their text is cut into pieces.
impl PartialEq for ViewLines {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for ViewLines {}

impl ViewLines {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The `i`-th line's text.
    pub fn text(&self, i: usize) -> &str {
        let end = self.ends[i];
        &self.pieces[(end >> 32) as usize][self.start(i)..end as u32 as usize]
    }

    /// Where the `i`-th line's text starts in its piece.
    fn start(&self, i: usize) -> usize {
        let piece = self.ends[i] >> 32;
        match i.checked_sub(1).map(|before| self.ends[before]) {
            Some(before) if before >> 32 == piece => before as u32 as usize,
            _ => 0,
        }
    }

    /// The lines among `lines` that have odds.
    fn odds_in(&self, lines: Range<usize>) -> &[u32] {
        let at = |line: usize| self.odds.partition_point(|&o| (o as usize) < line);
        &self.odds[at(lines.start)..at(lines.end)]
    }

    /// What the `i`-th line stands for (without its text, which is sliced out of its piece).
    pub fn about(&self, i: usize) -> Option<&LineInfo> {
        self.about.get(i)
    }

    /// What each line stands for, in order (without the texts).
    pub fn abouts(&self) -> impl ExactSizeIterator<Item = &LineInfo> + '_ {
        self.about.iter()
    }

    pub fn get(&self, i: usize) -> Option<LineRef<'_>> {
        let about = self.about.get(i)?;
        Some(LineRef {
            text: self.text(i),
            about,
        })
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = LineRef<'_>> + '_ {
        (0..self.len()).map(|i| LineRef {
            text: self.text(i),
            about: &self.about[i],
        })
    }

    /// How many rows the view draws: a line each, and one below each line that has odds.
    pub fn rows(&self) -> usize {
        self.len() + self.odds.len()
    }

    /// The `r`-th row.
    pub fn row(&self, r: usize) -> Row {
        // The k-th odds row (from 0) is row `odds[k] + k + 1`, increasing with k: those at or
        // above `r` are the first `above`.
        let (mut above, mut past) = (0, self.odds.len());
        while above < past {
            let k = (above + past) / 2;
            if self.odds[k] as usize + k < r {
                above = k + 1;
            } else {
                past = k;
            }
        }
        match above.checked_sub(1) {
            Some(k) if self.odds[k] as usize + k + 1 == r => Row::Odds(self.odds[k] as usize),
            _ => Row::Line(r - above),
        }
    }

    /// The row of the `line`-th line.
    pub fn row_of(&self, line: usize) -> usize {
        line + self.odds.partition_point(|&o| (o as usize) < line)
    }

    /// Whether the two views' lines have the same texts, one for one (whatever they stand
    /// for), however they are laid out in pieces.
    pub fn same_text(&self, other: &ViewLines) -> bool {
        self.len() == other.len() && self.same_lines(0..self.len(), other, 0)
    }

    /// Whether the two views declare the same names, in the same order (a view made after an
    /// edit that added and removed no chain declares what the one before it did).
    pub fn declares_as(&self, other: &ViewLines) -> bool {
        let (mut ours, mut theirs) = (self.declared(), other.declared());
        loop {
            match (ours.next(), theirs.next()) {
                (None, None) => return true,
                (Some(a), Some(b)) if Rc::ptr_eq(a, b) || a == b => {}
                _ => return false,
            }
        }
    }

    /// The names the lines declare, in order.
    fn declared(&self) -> impl Iterator<Item = &Text> + '_ {
        self.about.iter().filter_map(|l| l.defines.as_ref())
    }

    /// The runs of lines this view copied from a view made before it ([`Copied`]) that are
    /// lines of `before` alike, text for text: what an edit left as it was, if `before` is
    /// the view they were copied from (checked, not trusted: a caller may hand another).
    pub fn copied_from(&self, before: &ViewLines) -> Vec<Copied> {
        let alike = |run: &&Copied| {
            run.to + run.len <= self.len()
                && run.from + run.len <= before.len()
                && self.same_lines(run.to..run.to + run.len, before, run.from)
        };
        self.copied.iter().filter(alike).copied().collect()
    }

    /// Whether lines `lines` of this view have the texts of `other`'s from line `from`:
    /// their lengths compared first, then their bytes a word at a time (line by line, a
    /// 48,000-line view was 2 ms of a key in the wasm; the wasm's `memcmp` goes byte by byte).
    fn same_lines(&self, lines: Range<usize>, other: &ViewLines, from: usize) -> bool {
        let len = |v: &ViewLines, i: usize| v.ends[i] as u32 as usize - v.start(i);
        let theirs = from..from + lines.len();
        lines
            .clone()
            .zip(theirs.clone())
            .all(|(i, j)| len(self, i) == len(other, j))
            && same_stream(self.bytes(lines), other.bytes(theirs))
    }

    /// The texts of `lines` one after another, a piece's part at a time.
    fn bytes(&self, lines: Range<usize>) -> impl Iterator<Item = &[u8]> + '_ {
        let mut i = lines.start;
        std::iter::from_fn(move || {
            let piece = self.ends.get(i).filter(|_| i < lines.end)? >> 32;
            let start = self.start(i);
            let n = (self.ends[i..lines.end].iter())
                .take_while(|&&e| e >> 32 == piece)
                .count();
            let end = self.ends[i + n - 1] as u32 as usize;
            i += n;
            Some(&self.pieces[piece as usize].as_bytes()[start..end])
        })
    }

    /// Keeps the first `n` lines (the page lets go of a large view a part at a time).
    pub fn truncate(&mut self, n: usize) {
        let odds = self.odds.partition_point(|&o| (o as usize) < n);
        self.odds.truncate(odds);
        self.copied.retain_mut(|run| {
            run.len = run.len.min(n.saturating_sub(run.to));
            run.len > 0
        });
        self.about.truncate(n);
        self.ends.truncate(n);
        match self.ends.last() {
            Some(&end) => {
                self.pieces.truncate((end >> 32) as usize + 1);
                if let Some(last) = self.pieces.last_mut() {
                    last.truncate(end as u32 as usize);
                }
            }
            None => self.pieces.clear(),
        }
    }

    fn push(&mut self, text: &str, about: LineInfo) {
        let room = |piece: &String| piece.capacity() - piece.len() >= text.len();
        if !self.pieces.last().is_some_and(room) {
            let next = self
                .pieces
                .last()
                .map_or(FIRST_PIECE, |last| last.capacity() * 2);
            let size = next.min(LARGEST_PIECE).max(text.len());
            self.pieces.push(String::with_capacity(size));
        }
        let at = self.pieces.len() - 1;
        let piece = &mut self.pieces[at];
        piece.push_str(text);
        // (An end is kept in 32 bits: a line of 4 GiB cannot be read back.)
        debug_assert!(piece.len() <= u32::MAX as usize);
        self.ends.push((at as u64) << 32 | piece.len() as u64);
        if about.odds.is_some() {
            self.odds.push(self.about.len() as u32);
        }
        self.about.push(about);
    }
}

impl<'s> render::LineOut<'s> for ViewLines {
    fn line(&mut self, text: &str, l: Line<'s>) {
        let about = |first: bool| LineInfo {
            source: l.source.cloned(),
            defines: l.defines.clone().filter(|_| first),
            odds: l.odds.clone().filter(|_| first),
            anchor: l.anchor.clone().filter(|_| first),
        };
        if !text.contains('\n') {
            self.push(text, about(true));
            return;
        }
        // A line of text per view line, should a renderer's line hold several (none of kpx's
        // does: nft's set elements are a line each).
        for (i, text) in text.split('\n').enumerate() {
            self.push(text, about(i == 0));
        }
    }
    fn copies(&self) -> bool {
        true
    }
    fn copy(&mut self, from: &ViewLines, lines: std::ops::Range<usize>) {
        let run = Copied {
            to: self.len(),
            from: lines.start,
            len: lines.len(),
        };
        match self.copied.last_mut() {
            Some(last) if last.to + last.len == run.to && last.from + last.len == run.from => {
                last.len += run.len
            }
            _ if run.len > 0 => self.copied.push(run),
            _ => {}
        }
        let mut i = lines.start;
        while i < lines.end {
            // The lines from `i` in one piece of `from` that fit in this view's last piece
            // are copied as one text (the pieces are then cut where pushing them a line at a
            // time would cut them).
            let piece = from.ends[i] >> 32;
            let start = from.start(i);
            // (No piece yet: the first line is pushed, which makes one.)
            let room = self.pieces.last().map(|p| p.capacity() - p.len());
            let fits = |&end: &u64| {
                room.is_some_and(|room| end >> 32 == piece && end as u32 as usize - start <= room)
            };
            let n = from.ends[i..lines.end]
                .iter()
                .take_while(|e| fits(e))
                .count();
            if n == 0 {
                self.push(from.text(i), from.about[i].clone());
                i += 1;
                continue;
            }
            let to = self.pieces.len() - 1;
            let base = self.pieces[to].len();
            let end = from.ends[i + n - 1] as u32 as usize;
            self.pieces[to].push_str(&from.pieces[piece as usize][start..end]);
            let moved =
                |&end: &u64| ((to as u64) << 32) | (end as u32 as usize - start + base) as u64;
            self.ends.extend(from.ends[i..i + n].iter().map(moved));
            let odds = from.odds_in(i..i + n);
            let first = self.about.len();
            self.odds
                .extend(odds.iter().map(|&o| (o as usize - i + first) as u32));
            self.about.extend_from_slice(&from.about[i..i + n]);
            i += n;
        }
    }
    fn expect(&mut self, n: usize) {
        // Sized once: grown by doubling, nft-list's 2 million lines at 44,125 Services were
        // moved in pieces of up to half a second natively.
        self.ends.reserve(n);
        self.about.reserve(n);
    }
}

/// What to render.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// `None`: the input's KubeProxyConfiguration.mode (iptables if unset).
    pub mode: Option<Mode>,
    /// `None`: the mode's first view.
    pub view: Option<String>,
    pub table: Option<TableName>,
    pub chain: Option<String>,
    pub numeric: bool,
    /// kubectl views: every namespace (`-A`) instead of `default`.
    pub all_namespaces: bool,
}

impl Analysis {
    /// The nodes the reader can switch between, in input order (the shown one included).
    pub fn node_names(&self) -> Vec<String> {
        self.cluster
            .nodes
            .iter()
            .filter_map(|n| n.object.metadata.name.clone())
            .collect()
    }

    pub fn mode(&self, req: &Request) -> Mode {
        req.mode.unwrap_or(self.cluster.settings.mode)
    }

    /// Renders a view as text.
    pub fn render(&self, req: &Request) -> Result<String, String> {
        let mut sink = TextSink::default();
        at_once(self.write(req, None, &mut sink))?;
        Ok(sink.finish())
    }

    /// Renders a view line by line, each with why it is there where it stands for a chain or
    /// a rule (`None` for headers and kubectl tables).
    pub fn render_lines(&self, req: &Request) -> Result<ViewLines, String> {
        at_once(self.write_lines(req, None, Pace::never()))
    }

    /// [`Analysis::render_lines`] a part at a time, a line being a unit of work (the page
    /// makes a large view's lines between its reader's keys). `before` is the same view made
    /// from the analysis before an edit, if any: the `save` view copies the lines of each
    /// chain whose rules did not change from it, the `nft list` view those of each set, map
    /// and chain, the `ipvsadm` view those of each virtual server.
    pub fn render_lines_in_parts(
        self: Rc<Self>,
        req: Request,
        before: Option<(Rc<Analysis>, Rc<ViewLines>)>,
    ) -> InParts<'static, Result<ViewLines, String>> {
        InParts::new(|pace| async move {
            let before = before.as_ref().map(|(a, lines)| (&**a, &**lines));
            self.write_lines(&req, before, pace).await
        })
    }

    async fn write_lines(
        &self,
        req: &Request,
        before: Option<(&Analysis, &ViewLines)>,
        pace: Pace,
    ) -> Result<ViewLines, String> {
        let mut sink = LineSink::new(ViewLines::default()).paced(pace);
        self.write(req, before, &mut sink).await?;
        Ok(sink.out)
    }

    /// Writes a view's lines into `sink` (`before`: [`Analysis::render_lines_in_parts`]).
    async fn write<'s>(
        &'s self,
        req: &Request,
        before: Option<(&Analysis, &ViewLines)>,
        sink: &mut dyn Sink<'s>,
    ) -> Result<(), String> {
        let plain = |lines: Vec<String>| -> Vec<Line> {
            let line = |text| Line {
                text,
                ..Default::default()
            };
            lines.into_iter().map(line).collect()
        };
        let mode = self.mode(req);
        let available = views(mode);
        let view = req
            .view
            .clone()
            .unwrap_or_else(|| available[0].name.to_string());
        let c = &self.cluster;
        let scope = if req.all_namespaces {
            kubectl::Scope::AllNamespaces
        } else {
            kubectl::Scope::DefaultNamespace
        };
        // Views other than iptables' and nft's make their lines (the largest a part at a time),
        // then hand them to the sink; iptables' and nft's write into the sink.
        let pace = sink.pace();
        let made: Vec<Line> = match view.as_str() {
            "get-svc" | "get-ep" | "get-endpointslices" | "get-pods" => {
                let rows = match view.as_str() {
                    "get-svc" => kubectl::get_svc(c),
                    "get-ep" => kubectl::get_ep(c, &pace).await,
                    "get-endpointslices" => kubectl::get_endpointslices(c),
                    _ => kubectl::get_pods(c),
                };
                Ok(plain(kubectl::lines(rows, scope, &pace).await))
            }
            "nft" | "nft-load" if mode == Mode::Nftables => {
                let order = match view.as_str() {
                    "nft" => nftables::render::Order::Dump,
                    _ => nftables::render::Order::Creation,
                };
                nftables::render::write_nft(self.nftables(), order, sink).await;
                Ok(vec![])
            }
            "nft-list" if mode == Mode::Nftables => {
                // The view before, from the table it was made from.
                let before = before.and_then(|(a, lines)| {
                    let table = a.nftables.get()?;
                    Some(nftables::render::Before { table, lines })
                });
                nftables::render::write_nft_list(self.nftables(), before, sink).await;
                Ok(vec![])
            }
            "ipvsadm" if mode == Mode::Ipvs => {
                // The view before, from the IPVS tables it was made from.
                let before = before.and_then(|(a, lines)| {
                    let ipvs = a.ipvs.get()?;
                    Some(crate::ipvs::render::Before { ipvs, lines })
                });
                crate::ipvs::render::write_ipvsadm(self.ipvs(), before, sink).await;
                Ok(vec![])
            }
            "addr" if mode == Mode::Ipvs => {
                let settings = &self.cluster.settings;
                Ok(crate::ipvs::render::addr_lines(self.ipvs(), settings, &pace).await)
            }
            "ipset" if mode == Mode::Ipvs => {
                Ok(crate::ipvs::render::ipset_lines(self.ipvs(), &pace).await)
            }
            "restore" | "save" | "list" if mode != Mode::Nftables => {
                let (dp, layout) = if mode == Mode::Ipvs {
                    (&self.ipvs().iptables, Layout::Current)
                } else {
                    (
                        self.iptables().as_ref().map_err(Clone::clone)?,
                        self.layout.clone()?,
                    )
                };
                let sel = Select {
                    table: req.table,
                    chain: req.chain.as_deref(),
                };
                let ipv6 = c.settings.ipv6;
                if let Some(chain) = &req.chain {
                    let tables: Vec<_> = dp
                        .tables
                        .iter()
                        .filter(|t| req.table.is_none_or(|w| w == t.name))
                        .collect();
                    if !tables.iter().any(|t| t.chain(chain).is_some()) {
                        return Err(format!(
                            "no chain {chain} in the {} table",
                            req.table.map_or("nat or filter", TableName::as_str)
                        ));
                    }
                }
                match view.as_str() {
                    "restore" => render::write_restore(dp, layout, sel, sink).await,
                    "save" => {
                        // The view before, from the dataplane it was made from.
                        let before = before.and_then(|(a, lines)| {
                            // (A rule's text is the family's too.)
                            if a.cluster.settings.ipv6 != ipv6 {
                                return None;
                            }
                            let dataplane = match mode {
                                Mode::Ipvs => &a.ipvs.get()?.iptables,
                                _ => a.iptables.get()?.as_ref().ok()?,
                            };
                            Some(render::Before { dataplane, lines })
                        });
                        render::write_save_after(dp, ipv6, sel, before, sink).await
                    }
                    _ => {
                        render::write_list(
                            dp,
                            req.table.unwrap_or(TableName::Nat),
                            req.chain.as_deref(),
                            ListOptions {
                                verbose: true,
                                numeric: req.numeric,
                            },
                            ipv6,
                            sink,
                        )
                        .await?
                    }
                }
                Ok(vec![])
            }
            other => Err(format!(
                "{} mode has no view {other:?}; its views: {}",
                mode.as_str(),
                available
                    .iter()
                    .map(|v| v.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }?;
        // (Room for them at once: grown by doubling, nft-list's 2 million lines at 44,125
        // Services were moved in pieces of up to half a second natively.)
        sink.expect_lines(made.len());
        for line in made {
            sink.push(line);
            pace.unit().await;
        }
        Ok(())
    }

    /// The lines of the reader's text behind a provenance ([`written_by`]).
    pub fn written_by(&self, p: &Provenance) -> Vec<LineRange> {
        written_by(&self.written, p)
    }

    /// The typed dataplane of a mode as JSON (`--format json`).
    pub fn json(&self, req: &Request) -> Result<String, String> {
        match self.mode(req) {
            Mode::Iptables => {
                let dp = self.iptables().as_ref().map_err(Clone::clone)?;
                serde_json::to_string_pretty(dp).map_err(|e| e.to_string())
            }
            Mode::Nftables => {
                serde_json::to_string_pretty(&self.nftables()).map_err(|e| e.to_string())
            }
            Mode::Ipvs => serde_json::to_string_pretty(&self.ipvs()).map_err(|e| e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A view's rows: each line, and below each line with odds a row of them, whatever lines
    /// are kept.
    #[test]
    fn a_views_rows_are_its_lines_and_their_odds_below_them() {
        let odds_at = |i: usize| i % 7 == 3 || i % 11 == 0 || (40..44).contains(&i);
        let mut view = ViewLines::default();
        let mut rows = Vec::new();
        for i in 0..200 {
            let odds = odds_at(i).then(|| Rc::from("1 in 2"));
            view.push(
                "line",
                LineInfo {
                    odds: odds.clone(),
                    ..LineInfo::default()
                },
            );
            rows.push(Row::Line(i));
            if odds.is_some() {
                rows.push(Row::Odds(i));
            }
        }
        for keep in [200, 44, 43, 41, 40, 12, 11, 1, 0] {
            view.truncate(keep);
            let rows: Vec<Row> = rows
                .iter()
                .copied()
                .filter(|r| matches!(r, Row::Line(i) | Row::Odds(i) if *i < keep))
                .collect();
            assert_eq!(view.rows(), rows.len(), "{keep} lines kept");
            assert_eq!(
                (0..view.rows()).map(|r| view.row(r)).collect::<Vec<_>>(),
                rows
            );
            for (r, row) in rows.iter().enumerate() {
                if let Row::Line(i) = *row {
                    assert_eq!(view.row_of(i), r);
                }
            }
        }
    }

    #[test]
    fn views_are_the_same_text_line_for_line_however_laid_out() {
        let texts: Vec<String> = (0..3_000)
            .map(|i| format!("-A KUBE-SEP-{i} -j DNAT"))
            .collect();
        let of = |texts: &[String]| {
            let mut lines = ViewLines::default();
            for t in texts {
                lines.push(t, LineInfo::default());
            }
            lines
        };
        let view = of(&texts);
        assert!(view.same_text(&of(&texts)));
        // The same lines in other pieces (a layout the lines' lengths alone do not make).
        let laid_out = |pieces: &[&str], ends: &[u64]| ViewLines {
            pieces: pieces.iter().map(|p| p.to_string()).collect(),
            ends: ends.to_vec(),
            about: vec![LineInfo::default(); ends.len()],
            odds: Vec::new(),
            copied: Vec::new(),
        };
        let one = laid_out(&["abc"], &[1, 2, 3]);
        let two = laid_out(&["ab", "c"], &[1, 2, 1 << 32 | 1]);
        assert_eq!((one.text(2), two.text(2)), ("c", "c"));
        assert!(one.same_text(&two) && two.same_text(&one));
        assert!(!one.same_text(&laid_out(&["ab", "c"], &[2, 1 << 32 | 1])));
        let mut changed = texts.clone();
        changed[1_500].push('x');
        assert!(!view.same_text(&of(&changed)));
        // A byte changed in place, laid out alike: in a word, and in the last few bytes.
        for at in [(1_500, 3), (2_999, "-A KUBE-SEP-2999 -j DNA".len())] {
            let mut changed = texts.clone();
            changed[at.0].replace_range(at.1..at.1 + 1, "#");
            let changed = of(&changed);
            assert_eq!(changed.ends, view.ends);
            assert!(!view.same_text(&changed), "{at:?}");
        }
        assert!(!view.same_text(&of(&texts[1..])));
        // The same bytes in other lines.
        let mut joined = texts.clone();
        let second = joined.remove(1);
        joined[0].push_str(&second);
        joined.push(String::new());
        assert!(!view.same_text(&of(&joined)));
    }

    /// Lines copied from another view, in runs from anywhere (an empty line first, into an
    /// empty view, included), are the lines pushing them one by one makes, laid out alike.
    #[test]
    fn copied_lines_are_the_lines_pushed_one_by_one() {
        use render::LineOut;
        let texts: Vec<String> = (0..9_000)
            .map(|i| match i % 7 {
                0 => String::new(),
                _ => format!("-A KUBE-SVC-{i} -j KUBE-SEP-{}", "X".repeat(i % 50)),
            })
            .collect();
        let mut from = ViewLines::default();
        for t in &texts {
            from.push(t, LineInfo::default());
        }
        for runs in [
            vec![0..1, 1..9_000],
            vec![7..3_000, 0..7, 3_000..9_000],
            vec![14..15, 20..21],
        ] {
            let (mut copied, mut pushed) = (ViewLines::default(), ViewLines::default());
            for run in runs {
                for i in run.clone() {
                    pushed.push(&texts[i], LineInfo::default());
                }
                copied.copy(&from, run);
            }
            assert_eq!(
                (&copied.pieces, &copied.ends),
                (&pushed.pieces, &pushed.ends)
            );
        }
    }

    /// Lines of every length (empty ones, and one longer than a piece) read back as they were
    /// pushed, across pieces, and after being cut back at any line.
    #[test]
    fn view_lines_keep_each_line_whole_across_pieces() {
        let texts: Vec<String> = (0..40_000)
            .map(|i| match i {
                777 => "x".repeat(LARGEST_PIECE + 3),
                _ if i % 7 == 0 => String::new(),
                _ => format!("-A KUBE-SVC-{i} -j KUBE-SEP-{}", "é".repeat(i % 50)),
            })
            .collect();
        let mut lines = ViewLines::default();
        for t in &texts {
            lines.push(t, LineInfo::default());
        }
        assert!(lines.pieces.len() > 3, "{} pieces", lines.pieces.len());
        assert!(lines.pieces.iter().all(|p| p.len() <= p.capacity()));
        assert!(lines
            .iter()
            .map(|l| l.text)
            .eq(texts.iter().map(String::as_str)));
        for keep in [39_999, 20_001, 778, 777, 776, 1, 0] {
            let mut cut = lines.clone();
            cut.truncate(keep);
            assert_eq!(cut.len(), keep);
            assert!(cut
                .iter()
                .map(|l| l.text)
                .eq(texts[..keep].iter().map(String::as_str)));
            // A view cut back and grown again reads as one made whole.
            for t in &texts[keep..] {
                cut.push(t, LineInfo::default());
            }
            assert_eq!(cut, lines);
        }
    }

    /// A renderer's line holding several is made a view line each; only the first declares,
    /// has odds or an anchor.
    #[test]
    fn a_line_of_several_is_a_view_line_each() {
        use crate::iptables::render::LineOut;
        let mut lines = ViewLines::default();
        let name: Text = "KUBE-SVC-X".into();
        let line = || Line {
            defines: Some(name.clone()),
            odds: Some("1 in 2".into()),
            ..Default::default()
        };
        lines.line("one\ntwo\n", line());
        lines.line("three", line());
        let texts: Vec<&str> = lines.iter().map(|l| l.text).collect();
        assert_eq!(texts, ["one", "two", "", "three"]);
        let declaring: Vec<bool> = lines.iter().map(|l| l.defines.is_some()).collect();
        assert_eq!(declaring, [true, false, false, true]);
        assert_eq!(lines.iter().filter(|l| l.odds.is_some()).count(), 2);
    }

    /// A save view made after an edit copies the lines the edit left alike in every way, and
    /// writes anew a rule alike at the same place whose odds changed: here the Service chain's
    /// masquerade rule went (no clusterCIDR) and an endpoint came before the one it had, so
    /// its second rule is the same jump, now step 2 of 2 instead of the only endpoint.
    #[test]
    fn a_save_view_after_an_edit_copies_only_lines_alike_odds_and_all() {
        let text = |cidr: &str, endpoints: &str| {
            format!(
                "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n\
                 hostnameOverride: node-a\n{cidr}---\napiVersion: v1\nkind: Service\n\
                 metadata: {{name: web, namespace: shop}}\nspec:\n  clusterIP: 10.96.0.10\n\
                 \x20 ports:\n  - {{name: http, port: 80}}\n---\n\
                 apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n\
                 metadata:\n  name: web-1\n  namespace: shop\n\
                 \x20 labels: {{kubernetes.io/service-name: web}}\naddressType: IPv4\n\
                 ports: [{{name: http, port: 8080}}]\nendpoints: [{endpoints}]\n"
            )
        };
        let before = text("clusterCIDR: 10.244.0.0/16\n", "{addresses: [10.244.0.9]}");
        let after = text("", "{addresses: [10.244.0.1]}, {addresses: [10.244.0.9]}");
        let req = Request {
            view: Some("save".into()),
            ..Request::default()
        };
        let before = Rc::new(analyze(&before).expect("the text before"));
        let shown = Rc::new(before.render_lines(&req).expect("the view before"));
        let after = Rc::new(analyze(&after).expect("the text after"));
        let anew = after.render_lines(&req).expect("the view anew");
        let work = after.render_lines_in_parts(req, Some((before, shown.clone())));
        let made = work.finish().expect("the view after");
        assert_eq!(made, anew);
        let jump = |v: &ViewLines| {
            let i = (0..v.len())
                .rfind(|&i| v.text(i).starts_with("-A KUBE-SVC-") && v.text(i).contains("KUBE-SEP"))
                .expect("a jump to the endpoint");
            (v.text(i).to_string(), v.get(i).and_then(|l| l.odds.clone()))
        };
        let ((was, odds_then), (is, odds_now)) = (jump(&shown), jump(&made));
        assert_eq!(was, is, "the same rule");
        assert_ne!(odds_then, odds_now, "at other odds");
        // Most of the view was copied, and its changes are found from what was.
        let copied: usize = made.copied_from(&shown).iter().map(|run| run.len).sum();
        assert!(
            copied > made.len() / 2,
            "{copied} of {} lines copied",
            made.len()
        );
    }
}
