//! Reading a text a section at a time, and an edited text again by the sections it changed.
//!
//! A line that starts with `---` followed by a space, a tab or the line's end always starts a
//! YAML document (YAML 1.2's `c-forbidden`: it ends any block or plain scalar, is an error in a
//! quoted one, and saphyr scans it so in every context). So the text between two such lines,
//! a *section*, reads alone as it reads in the whole text, once the sections before it read
//! without a syntax error: the parser meets each of those lines with nothing left open. A text
//! is read section by section, and an edit of a text read before reads only the sections the
//! edit changed ([`Reading::after`]); the others' objects are shared, their positions counted
//! from their section's first line (so lines added above a section only move it).
//!
//! What spans sections is kept whole:
//! - a syntax error: the first section that does not read alone is read again, with all the
//!   text after it, as one (in place, the parser's error may be another one: a quote left open
//!   meets the next `---` rather than the end of the text);
//! - the aliases' budget ([`yaml::MAX_ALIAS_EXPANSION`]) is the whole text's: the section where
//!   the sum passes it is read again likewise, from the sum before it;
//! - directives (`%YAML`, `%TAG`) belong to the document after them, and saphyr counts a lone
//!   carriage return as a line: a text with either is one section;
//! - the first value that cannot be read is the first section's that has one.
//!
//! A List as `kubectl get -o yaml` writes a cluster is one document, and so one section: an
//! edit of one of its items would read them all again (a key in 300 Services took 40 ms
//! natively). So a document is also cut where its top-level `items` are, when written so:
//! a line `items:`, then each item from a line that starts with `- ` (or is `-` alone) to
//! the next, up to the first line that starts with anything but those, a space, `#` or its
//! end (a tab ends them too: the List is then read whole) ([`Part`]). Each
//! item is read alone, as a sequence whose items are handed out as a List's are
//! ([`yaml::Loader::list_items`]); the head and the tail are read together, the List's
//! *frame*, with one item `- x` between them. Read so, they read as in the whole text when:
//! - each item reads alone without a syntax error, and the frame does: the head is the same
//!   bytes in both, and the frame's item is handed out as the List's top-level `items`' (from
//!   where it is written, so no quote or bracket left open in the head hid it); each item
//!   ends at a line at column 0, where none of them left anything open;
//! - the frame is a List, the one document it holds (a document of another kind keeps its
//!   `items`; it is read as one section);
//! - no alias refers to an anchor in another part: an item's alias of another's anchor is
//!   an error read alone, and the frame has no alias at all (an item may define an anchor of
//!   the head's name again, which an alias in the tail would then copy in the whole text);
//! - nesting is counted as in the List (an item read alone starts one level deeper).
//!
//! If not, the List is read again whole, with the rest of the text (as a section that does
//! not read alone is). A List adds only its items, and of their errors the first.
//!
//! A List none of whose items an earlier reading holds (a paste) is read whole, with one
//! parser: 20,000 parsers made for 10,000 Services' items took 13 % longer in the page. Its
//! items are kept apart as it hands them out, each as if read alone (so the next edit finds
//! them), its positions moved to count from the item's own first line. That is done only
//! when the List reads as its parts would: a List, with no value that cannot be read and no
//! alias (which may cross items). If not, it stands as one section, as any document.
//!
//! `tests/properties.rs` holds every reading, in sections, after an edit, equal to reading the
//! whole text at once with one parser (`read_whole`).

use super::yaml::{self, Document, Keys, Loader};
use super::{add_document, is_list, Added, ListItems, Scenario};
use crate::diag::{Diagnostic, InputError, Pos};
use std::ops::Range;
use std::rc::Rc;

/// A section of the text: where it starts, how many lines are above it, and what it is.
#[derive(Clone, Copy, Debug)]
struct Cut {
    start: usize,
    lines_before: usize,
    part: Part,
}

/// What a section holds (see the module's notes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// Documents.
    Documents,
    /// A document whose top-level `items` are cut into sections, up to its first item: read
    /// with its tail, as the List's frame.
    ListHead,
    /// One of its items, from its `- ` at column 0.
    ListItem,
    /// What follows its items: read in the frame.
    ListTail,
}

/// The first section's start.
const FIRST: Cut = Cut {
    start: 0,
    lines_before: 0,
    part: Part::Documents,
};

/// The item a List's frame holds between its head and its tail (its line, its value, and
/// the column the value is at): handed out as the List's first item, from that column of the
/// line after the head, only if the head leaves the parser where the List's items are.
const FRAME_ITEM: (&str, &str, usize) = ("- x\n", "x", 3);

/// How many bytes of the text a reading step scans for its cuts per event it may read: a
/// scan is far cheaper than reading (a parser's event is a few bytes of text), so a step that
/// scans is shorter than one that reads. (The step that ends the scan also reads its events:
/// up to about twice a step's work, once.)
const SCANNED_PER_EVENT: usize = 64;

/// Finds where a text is cut into sections, a part at a time: a reading scans the whole text
/// before it reads a section (a directive or a lone carriage return anywhere makes the text
/// one section). At 44,125 Services, 38 MB scanned at once was a 95 ms piece of the page.
#[derive(Debug, Default)]
struct Scan {
    /// Scanned up to here.
    at: usize,
    /// Line breaks met so far.
    lines: usize,
    /// Where the current document's lines are, as to its top-level `items`.
    list: ListScan,
}

#[derive(Debug, Default)]
enum ListScan {
    /// Before a line `items:`.
    #[default]
    Head,
    /// After it: whether an item has been found.
    Items(bool),
    /// After the items.
    Past,
}

impl Scan {
    /// Scans about `bytes` more of `text`, adding to `cuts` the sections it finds (the first
    /// starts at 0; each ends where the next starts); true once the whole text is scanned.
    fn step(&mut self, text: &str, bytes: usize, cuts: &mut Vec<Cut>) -> bool {
        let all = text.as_bytes();
        let mut end = self.at.saturating_add(bytes).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        let part = &text[self.at..end];
        // Each line break looks at the bytes after it, wherever the part ends.
        let lone_return = part
            .match_indices('\r')
            .any(|(i, _)| all.get(self.at + i + 1) != Some(&b'\n'));
        let mut one_section = lone_return || (self.at == 0 && all.first() == Some(&b'%'));
        if !one_section {
            if self.at == 0 && end > 0 {
                self.list_line(all, 0, cuts);
            }
            for (i, _) in part.match_indices('\n') {
                self.lines += 1;
                let start = self.at + i + 1;
                let line = &all[start..];
                if line.first() == Some(&b'%') {
                    one_section = true;
                    break;
                }
                let starts_document = line.starts_with(b"---")
                    && matches!(
                        line.get(3),
                        None | Some(b' ' | b'\t' | b'\n' | b'\r' | b'\0')
                    );
                if starts_document {
                    cuts.push(Cut {
                        start,
                        lines_before: self.lines,
                        part: Part::Documents,
                    });
                    self.list = ListScan::Head;
                } else {
                    self.list_line(line, start, cuts);
                }
            }
        }
        self.at = end;
        if one_section {
            cuts.truncate(1);
            cuts[0].part = Part::Documents;
            self.at = text.len();
        }
        self.at == text.len()
    }

    /// A line (`line`: the text from its start on) that does not start a document: it may
    /// start the current document's `items`, an item of them, or what follows them.
    fn list_line(&mut self, line: &[u8], start: usize, cuts: &mut Vec<Cut>) {
        let cut = |part| Cut {
            start,
            lines_before: self.lines,
            part,
        };
        match self.list {
            ListScan::Head => {
                let after = line.strip_prefix(b"items:").map(|after| {
                    let blank = after.iter().take_while(|b| matches!(b, b' ' | b'\t'));
                    after.get(blank.count())
                });
                if let Some(None | Some(b'\n' | b'\r')) = after {
                    self.list = ListScan::Items(false);
                }
            }
            ListScan::Items(any) => match line.first() {
                Some(b'-') if matches!(line.get(1), None | Some(b' ' | b'\n' | b'\r')) => {
                    if !any {
                        if let Some(head) = cuts.last_mut() {
                            head.part = Part::ListHead;
                        }
                    }
                    cuts.push(cut(Part::ListItem));
                    self.list = ListScan::Items(true);
                }
                None | Some(b' ' | b'#' | b'\n' | b'\r') => {}
                Some(_) => {
                    if any {
                        cuts.push(cut(Part::ListTail));
                    }
                    self.list = ListScan::Past;
                }
            },
            ListScan::Past => {}
        }
    }
}

/// Where `text` is cut into sections, scanned at once: `field` of each cut.
#[cfg(test)]
fn cuts<T>(text: &str, field: impl Fn(&Cut) -> T) -> Vec<T> {
    let mut cuts = vec![FIRST];
    Scan::default().step(text, usize::MAX, &mut cuts);
    cuts.iter().map(field).collect()
}

/// What a section's documents added, read alone.
#[derive(Debug)]
struct SectionRead {
    /// `None`: the section has a syntax error, read alone.
    added: Option<Vec<Added>>,
    /// The first value that could not be read (positions counted from the section's first
    /// line).
    unreadable: Option<Diagnostic>,
    /// By how many bytes its aliases expanded it.
    expanded: usize,
    /// A List's items: the first that could not be read (a List tells only its first).
    list_error: Option<Diagnostic>,
}

impl SectionRead {
    /// A section that adds nothing by itself: a List's head or tail (read in its frame, or in
    /// its whole List), and the fields a reading fills in start so.
    fn adds_nothing() -> Self {
        SectionRead {
            added: Some(Vec::new()),
            unreadable: None,
            expanded: 0,
            list_error: None,
        }
    }
}

/// A text's sections as a [`Reading`] read them: what an edit of the text need not read again.
/// A clone shares what the sections hold.
#[derive(Clone, Default)]
pub struct Sections {
    text: Rc<str>,
    /// The sections read alone (or a List's items read in their List, as if alone), in the
    /// order of the text, by the bytes they span and what they are (documents, or a List's
    /// item; a List's frame is read every time).
    read: Vec<(Range<usize>, Part, Rc<SectionRead>)>,
    keys: Keys,
}

/// Sections not kept can be let go of a section at a time (44,125 Services' 88,250 sections
/// dropped at once were a 20-40 ms piece of the page).
impl crate::pace::Shrinking for Sections {
    fn drop_last(&mut self) -> bool {
        self.read.pop().is_some()
    }
}

/// So can a reading no longer wanted (the rest of it goes when the last section has gone).
impl crate::pace::Shrinking for Reading<'_> {
    fn drop_last(&mut self) -> bool {
        self.done.pop().is_some()
    }
}

impl Sections {
    /// The length of the text they were read from, in bytes.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// How many sections were read alone.
    pub fn len(&self) -> usize {
        self.read.len()
    }

    pub fn is_empty(&self) -> bool {
        self.read.is_empty()
    }
}

/// Finds in an earlier reading the sections a new text still has: those inside the bytes the
/// two texts start or end with alike.
struct Earlier {
    sections: Sections,
    /// How many bytes both texts start with, and end with (not overlapping).
    same_start: usize,
    same_end: usize,
    /// The new text's length minus the earlier one's.
    grown: isize,
    new_len: usize,
}

impl Earlier {
    fn new(sections: Sections, text: &str) -> Self {
        let (old, new) = (sections.text.as_bytes(), text.as_bytes());
        let same_start = same_start(old, new);
        let same_end = same_end(old, new, old.len().min(new.len()) - same_start);
        Earlier {
            grown: new.len() as isize - old.len() as isize,
            new_len: new.len(),
            sections,
            same_start,
            same_end,
        }
    }

    /// What the earlier reading read of the new text's bytes `span`, if they are the same
    /// bytes and were a section there, of the same `part`.
    fn find(&self, span: &Range<usize>, part: Part) -> Option<Rc<SectionRead>> {
        let old = if span.end <= self.same_start {
            span.clone()
        } else if span.start >= self.new_len - self.same_end {
            let back = |i: usize| (i as isize - self.grown) as usize;
            back(span.start)..back(span.end)
        } else {
            return None;
        };
        let read = &self.sections.read;
        let i = read.partition_point(|(r, ..)| r.start < old.start);
        read.get(i)
            .filter(|(r, p, _)| *r == old && *p == part)
            .map(|(.., s)| s.clone())
    }
}

/// How many bytes `a` and `b` start with alike. (Compared a chunk at a time, as slices: a
/// byte at a time, the 43 MB of a List as kubectl prints it took 24 ms for each key.)
fn same_start(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let chunks = a[..n].chunks(CHUNK).zip(b[..n].chunks(CHUNK));
    let same = chunks.take_while(|(x, y)| x == y).count() * CHUNK;
    let same = same.min(n);
    same + a[same..n]
        .iter()
        .zip(&b[same..n])
        .take_while(|(x, y)| x == y)
        .count()
}

/// How many bytes, at most `most`, `a` and `b` end with alike (likewise).
fn same_end(a: &[u8], b: &[u8], most: usize) -> usize {
    let n = a.len().min(b.len()).min(most);
    let (a, b) = (&a[a.len() - n..], &b[b.len() - n..]);
    let chunks = a.rchunks(CHUNK).zip(b.rchunks(CHUNK));
    let same = (chunks.take_while(|(x, y)| x == y).count() * CHUNK).min(n);
    let (a, b) = (&a[..n - same], &b[..n - same]);
    same + a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
}

const CHUNK: usize = 256;

/// [`super::parse`] a part at a time, for a caller that must answer between parts (the page,
/// reading a large text in several tasks), and a text read again after an edit
/// ([`Reading::after`]). `parse` is this, read in one step.
pub struct Reading<'t> {
    text: Source<'t>,
    /// The sections found so far: all of them once `scan` is done.
    cuts: Vec<Cut>,
    /// Finding the cuts, until it is done: no section is read before.
    scan: Option<Scan>,
    /// What each section read so far holds (section `i` is `done[i]`).
    done: Vec<Rc<SectionRead>>,
    /// The section that does not stand, and which it is: it has a syntax error read alone,
    /// its aliases pass the text's budget, or it is a List's frame that does not read as the
    /// whole List would, or a List read whole that its parts would not read as it reads.
    broken: Option<(usize, Rc<SectionRead>)>,
    /// What is being read, and what is made of what it hands out.
    current: Option<(Loader<'t, Chars<'t>>, Take)>,
    /// The rest of the text from section `done.len()` (the one that does not stand, or its
    /// List's head), read as one (see the module's notes): what it holds, or its syntax
    /// error.
    rest: Option<Result<SectionRead, Diagnostic>>,
    /// The List whose sections are being read: its head's section, and what the aliases
    /// before it expanded the text by.
    list: Option<(usize, usize)>,
    /// Every List read in parts, even one none of whose items an earlier reading holds (for
    /// the tests).
    lists_in_parts: bool,
    /// What the aliases of the sections read so far expanded the text by.
    expanded: usize,
    keys: Keys,
    earlier: Option<Earlier>,
    /// Sections found in the earlier reading, not read again.
    reused: usize,
}

impl<'t> Reading<'t> {
    /// Reads `text`: borrowed (`&str`), or shared (`Rc<str>`) by a reading kept across tasks.
    pub fn new(text: impl Into<Source<'t>>) -> Self {
        let text = text.into();
        Reading {
            cuts: vec![FIRST],
            scan: Some(Scan::default()),
            text,
            done: Vec::new(),
            broken: None,
            current: None,
            rest: None,
            expanded: 0,
            keys: Keys::default(),
            earlier: None,
            reused: 0,
            list: None,
            lists_in_parts: false,
        }
    }

    /// Reads `text`, an edit of the text `earlier` was read from: the sections the edit left as
    /// they were are not read again.
    pub fn after(text: Rc<str>, mut earlier: Sections) -> Reading<'static> {
        let keys = std::mem::take(&mut earlier.keys);
        let earlier = Earlier::new(earlier, &text);
        Reading {
            keys,
            earlier: Some(earlier),
            ..Reading::new(text)
        }
    }

    /// The bytes section `i` spans.
    fn span(&self, i: usize) -> Range<usize> {
        span(&self.cuts, i, self.text.as_str().len())
    }

    /// Reads about `events` more of the parser's events (a Service of a few ports is a hundred;
    /// a section found in the earlier reading counts as one); true once the whole text is read.
    pub fn step(&mut self, events: usize) -> bool {
        if let Some(scan) = &mut self.scan {
            let bytes = events.saturating_mul(SCANNED_PER_EVENT);
            if !scan.step(self.text.as_str(), bytes, &mut self.cuts) {
                return false;
            }
            self.scan = None;
        }
        let mut left = events;
        while left > 0 && !self.is_read() {
            let Some((loader, take)) = &mut self.current else {
                self.start_section();
                left -= 1;
                continue;
            };
            let before = loader.events();
            let end = loader.load(left, &mut |doc| take.take(doc));
            left = left.saturating_sub(loader.events() - before);
            if let Some(end) = end {
                self.end_reading(end);
            }
        }
        self.is_read()
    }

    fn is_read(&self) -> bool {
        self.rest.is_some() || (self.current.is_none() && self.done.len() == self.cuts.len())
    }

    /// Starts the next section: found in the earlier reading, or read.
    fn start_section(&mut self) {
        let i = self.done.len();
        let (span, part) = (self.span(i), self.cuts[i].part);
        match part {
            Part::ListHead => {
                self.list = Some((i, self.expanded));
                return if self.lists_in_parts || self.items_found(i) {
                    self.start_frame(i)
                } else {
                    self.start_whole_list(i)
                };
            }
            Part::ListTail => return self.section_read(Rc::new(SectionRead::adds_nothing())),
            Part::Documents | Part::ListItem => {}
        }
        if let Some(found) = self.earlier.as_ref().and_then(|e| e.find(&span, part)) {
            self.reused += 1;
            return self.section_read(found);
        }
        let take = if part == Part::ListItem {
            Take::Items(ListItems::default(), false)
        } else {
            Take::documents()
        };
        self.start_loader(self.chars(span, None), 0, take);
    }

    /// Starts reading `chars` (the aliases before them having expanded the text by
    /// `expanded`) into `take`; a List's items as a bare sequence's.
    fn start_loader(&mut self, chars: Chars<'t>, expanded: usize, take: Take) {
        let keys = std::mem::take(&mut self.keys);
        let loader = match take {
            Take::Items(..) => Loader::list_items(chars, keys, expanded),
            _ => Loader::continuing(chars, keys, expanded),
        };
        self.current = Some((loader, take));
    }

    /// The item sections of the List whose head is section `head`.
    fn items_of(&self, head: usize) -> Range<usize> {
        let mut after = head + 1;
        while self
            .cuts
            .get(after)
            .is_some_and(|c| c.part == Part::ListItem)
        {
            after += 1;
        }
        head + 1..after
    }

    /// The tail section of the List whose head is section `head`, if it has one.
    fn tail_of(&self, head: usize) -> Option<usize> {
        let after = self.items_of(head).end;
        (self.cuts.get(after)?.part == Part::ListTail).then_some(after)
    }

    /// Does the earlier reading hold any item of the List whose head is section `head`?
    fn items_found(&self, head: usize) -> bool {
        let Some(earlier) = &self.earlier else {
            return false;
        };
        let mut items = self.items_of(head);
        items.any(|i| earlier.find(&self.span(i), Part::ListItem).is_some())
    }

    /// Starts reading the List whose head is section `head` whole, to its tail's end.
    fn start_whole_list(&mut self, head: usize) {
        let (items, tail) = (self.items_of(head), self.tail_of(head));
        let last = tail.unwrap_or(items.end - 1);
        let lines = self.cuts[head].lines_before;
        let line = |cut: &Cut| cut.lines_before - lines + 1;
        let seen = WholeList {
            item_lines: self.cuts[items].iter().map(line).collect(),
            tail_line: tail.map(|t| line(&self.cuts[t])),
            items: Vec::new(),
            spilled: false,
            documents: Vec::new(),
        };
        let span = self.span(head).start..self.span(last).end;
        self.start_loader(self.chars(span, None), 0, Take::WholeList(seen));
    }

    /// Starts reading the frame of the List whose head is section `head`: the head, the
    /// frame's item, and the tail.
    fn start_frame(&mut self, head: usize) {
        let tail = self.tail_of(head);
        let (head_cut, first_item) = (self.cuts[head], self.cuts[head + 1]);
        let seen = FrameSeen {
            item_line: first_item.lines_before - head_cut.lines_before + 1,
            // The frame has one line for the items' lines.
            tail_moved_by: tail.map_or(0, |t| {
                self.cuts[t].lines_before - first_item.lines_before - 1
            }),
            items: Vec::new(),
            documents: Vec::new(),
        };
        let tail = tail.map_or(0..0, |t| self.span(t));
        let chars = self.chars(self.span(head), Some(tail));
        self.start_loader(chars, 0, Take::Frame(seen));
    }

    /// The characters of `span`, and then (a List's frame) of its item and of `tail`.
    fn chars(&self, span: Range<usize>, tail: Option<Range<usize>>) -> Chars<'t> {
        Chars {
            text: self.text.clone(),
            at: span.start,
            end: span.end,
            then: tail.map(|tail| (FRAME_ITEM.0.chars(), tail)),
        }
    }

    /// The section (or the rest of the text) being read is read.
    fn end_reading(&mut self, end: Result<(), Diagnostic>) {
        let Some((loader, take)) = self.current.take() else {
            return;
        };
        let (expanded, unreadable) = (loader.expanded(), loader.unreadable().cloned());
        self.keys = loader.into_keys();
        if let Take::WholeList(seen) = take {
            let clean = end.is_ok() && unreadable.is_none() && expanded == 0;
            return match seen.into_items().filter(|_| clean) {
                Some(items) => self.whole_list_read(items),
                None => self.section_read(Rc::new(SectionRead {
                    added: None,
                    ..SectionRead::adds_nothing()
                })),
            };
        }
        let read = take.into_read(end.is_ok(), unreadable, expanded);
        if self.broken.is_some() {
            self.rest = Some(end.map(|()| read));
            return;
        }
        self.section_read(Rc::new(read));
    }

    /// A List read whole: its head, its items as each would read alone, and its tail.
    fn whole_list_read(&mut self, items: Vec<SectionRead>) {
        let tail = self.tail_of(self.done.len());
        self.done.push(Rc::new(SectionRead::adds_nothing()));
        self.done.extend(items.into_iter().map(Rc::new));
        if tail.is_some() {
            self.done.push(Rc::new(SectionRead::adds_nothing()));
        }
    }

    /// A section is read (or found): it stands, unless it has a syntax error, is a List's
    /// frame that is no List's, or its aliases pass the text's budget; then the rest of the
    /// text is read as one, from it on (or from its List's head).
    fn section_read(&mut self, read: Rc<SectionRead>) {
        let i = self.done.len();
        let fits = self.expanded + read.expanded <= yaml::MAX_ALIAS_EXPANSION;
        if read.added.is_some() && fits {
            self.expanded += read.expanded;
            self.done.push(read);
            return;
        }
        self.broken = Some((i, read));
        let from = match (self.cuts[i].part, self.list) {
            (Part::ListHead | Part::ListItem | Part::ListTail, Some((head, expanded))) => {
                self.expanded = expanded;
                head
            }
            _ => i,
        };
        self.done.truncate(from);
        let rest = self.cuts[from].start..self.text.as_str().len();
        self.start_loader(self.chars(rest, None), self.expanded, Take::documents());
    }

    /// About how many bytes of the text have been read.
    pub fn read(&self) -> usize {
        if self.is_read() {
            return self.text.as_str().len();
        }
        let current = self
            .current
            .as_ref()
            .map_or(0, |(loader, ..)| loader.read());
        // (A List's frame is read with its item and its tail: more than its head's bytes.)
        (self.cuts[self.done.len()].start + current).min(self.text.as_str().len())
    }

    /// How many sections the text has, and how many of them were found in the earlier
    /// reading rather than read.
    pub fn sections(&self) -> (usize, usize) {
        (self.cuts.len(), self.reused)
    }

    /// What the text holds, once [`step`](Self::step) has said it is read.
    pub fn finish(self) -> Result<Scenario, InputError> {
        self.answer()
    }

    /// What the text holds, read in one step.
    pub fn at_once(mut self) -> Result<Scenario, InputError> {
        while !self.step(usize::MAX) {}
        self.finish()
    }

    /// [`finish`](Self::finish), and the sections read, for reading an edit of the text
    /// ([`Reading::after`]).
    pub fn finish_keeping(self) -> (Result<Scenario, InputError>, Sections) {
        let answer = self.answer();
        (answer, self.into_sections())
    }

    fn answer(&self) -> Result<Scenario, InputError> {
        let error = |d: Diagnostic| InputError {
            diagnostics: vec![d],
        };
        let rest = match &self.rest {
            Some(Err(failed)) => {
                let cut = self.cuts[self.done.len()];
                return Err(error(failed.below(cut.lines_before)));
            }
            Some(Ok(rest)) => Some((self.cuts[self.done.len()], rest)),
            None => None,
        };
        let read = || {
            let sections = self.cuts.iter().zip(self.done.iter().map(|s| &**s));
            sections.map(|(cut, s)| (*cut, s)).chain(rest)
        };
        // The first in the text: a List's frame's may be in its tail, after its items'.
        let unreadable = read()
            .filter_map(|(cut, read)| Some(read.unreadable.as_ref()?.below(cut.lines_before)))
            .min_by_key(|d| d.pos);
        if let Some(d) = unreadable {
            return Err(error(d));
        }
        let mut scenario = Scenario::default();
        let mut errors = Vec::new();
        let mut list_error = None;
        for (cut, read) in read() {
            for added in read.added.iter().flatten() {
                scenario.add(added, cut.lines_before, &mut errors);
            }
            if cut.part == Part::ListHead {
                errors.extend(list_error.take());
            }
            if let Some(e) = &read.list_error {
                list_error.get_or_insert_with(|| e.below(cut.lines_before));
            }
        }
        errors.extend(list_error);
        if errors.is_empty() {
            Ok(scenario)
        } else {
            crate::pace::sort_stable_by_key(&mut errors, |d| d.pos);
            Err(InputError {
                diagnostics: errors,
            })
        }
    }

    /// The sections read alone, and those of the earlier reading the text still has (after an
    /// edit that broke a section, the ones after it are not read, and the edit that mends it
    /// finds them there).
    fn into_sections(self) -> Sections {
        let text: Rc<str> = match &self.text {
            Source::Shared(text) => text.clone(),
            Source::Borrowed(text) => (*text).into(),
        };
        let read = (0..self.cuts.len())
            .filter_map(|i| {
                let (span, part) = (self.span(i), self.cuts[i].part);
                if !matches!(part, Part::Documents | Part::ListItem) {
                    return None;
                }
                let section = match (self.done.get(i), &self.broken) {
                    (Some(read), _) => Some(read.clone()),
                    (None, Some((broken, read))) if *broken == i => Some(read.clone()),
                    (None, _) => None,
                };
                let section = section.or_else(|| self.earlier.as_ref()?.find(&span, part))?;
                Some((span, part, section))
            })
            .collect();
        Sections {
            text,
            read,
            keys: self.keys,
        }
    }
}

/// The bytes section `i` of a text `len` bytes long spans.
fn span(cuts: &[Cut], i: usize, len: usize) -> Range<usize> {
    let end = cuts.get(i + 1).map_or(len, |c| c.start);
    cuts[i].start..end
}

/// The text a [`Reading`] reads. One type for both, so that the parser is compiled once (a
/// second copy of it was 49 KB of the site's wasm).
#[derive(Clone)]
pub enum Source<'t> {
    Borrowed(&'t str),
    Shared(Rc<str>),
}

impl Source<'_> {
    fn as_str(&self) -> &str {
        match self {
            Source::Borrowed(text) => text,
            Source::Shared(text) => text,
        }
    }
}

impl<'t> From<&'t str> for Source<'t> {
    fn from(text: &'t str) -> Self {
        Source::Borrowed(text)
    }
}

impl From<Rc<str>> for Source<'static> {
    fn from(text: Rc<str>) -> Self {
        Source::Shared(text)
    }
}

/// The characters of a part of a [`Source`], as the YAML parser takes them.
struct Chars<'t> {
    text: Source<'t>,
    /// The byte the next character starts at, and the byte the part ends at.
    at: usize,
    end: usize,
    /// A List's frame: after its head, its item and then its tail's bytes.
    then: Option<(std::str::Chars<'static>, Range<usize>)>,
}

impl Iterator for Chars<'_> {
    type Item = char;
    fn next(&mut self) -> Option<char> {
        if let Some(c) = self.text.as_str().get(self.at..self.end)?.chars().next() {
            self.at += c.len_utf8();
            return Some(c);
        }
        let (item, tail) = self.then.as_mut()?;
        if let Some(c) = item.next() {
            return Some(c);
        }
        (self.at, self.end) = (tail.start, tail.end);
        self.then = None;
        self.next()
    }
}

/// What a reading makes of what the parser hands out.
enum Take {
    /// Documents, and the items of the top-level `items` of the one being read.
    Documents(Vec<Added>, ListItems),
    /// A List's items, read alone; and whether a document was handed out too (it cannot be,
    /// in a sequence's text: if it were, the List is read whole).
    Items(ListItems, bool),
    /// A List's frame.
    Frame(FrameSeen),
    /// A List read whole.
    WholeList(WholeList),
}

/// What a List read whole handed out.
struct WholeList {
    /// The line each of its items starts on (counted from the List's first line)…
    item_lines: Vec<usize>,
    /// …and its tail, if it has one.
    tail_line: Option<usize>,
    /// An item ran past its section (a flow mapping may close on the tail's line: read alone,
    /// it is left open).
    spilled: bool,
    /// Each item handed out: which of them it is, and what it added.
    items: Vec<(usize, ListItems)>,
    /// Whether each document handed out was a List.
    documents: Vec<bool>,
}

impl WholeList {
    fn take(&mut self, doc: Document) {
        if !doc.in_items {
            return self.documents.push(is_list(&doc.value));
        }
        let (mut spans, lines) = (doc.spans, &self.item_lines);
        let item = lines
            .partition_point(|&l| l <= spans.pos.line)
            .wrapping_sub(1);
        let next = lines.get(item.wrapping_add(1)).copied().or(self.tail_line);
        self.spilled |= next.is_some_and(|next| spans.last_line >= next);
        // Counted from its own first line, as if read alone.
        spans.move_up(lines.get(item).map_or(0, |l| l - 1));
        let mut read = ListItems::default();
        read.read(doc.value, spans);
        self.items.push((item, read));
    }

    /// Each item as it would read alone, if the List is one (a document that is a List, with
    /// an item from each item's line).
    fn into_items(self) -> Option<Vec<SectionRead>> {
        let one_each = self
            .items
            .iter()
            .enumerate()
            .all(|(i, (item, _))| *item == i);
        let all = self.items.len() == self.item_lines.len();
        if self.documents != [true] || !one_each || !all || self.spilled {
            return None;
        }
        let items = self.items.into_iter().map(|(_, read)| SectionRead {
            added: Some(read.added),
            list_error: read.first_error,
            ..SectionRead::adds_nothing()
        });
        Some(items.collect())
    }
}

/// What a List's frame handed out.
struct FrameSeen {
    /// The frame's item's line (the head's lines and one).
    item_line: usize,
    /// How many lines below its place in the frame its tail is in the text.
    tail_moved_by: usize,
    /// Where each item handed out was, and what it was.
    items: Vec<(Pos, bool)>,
    /// Whether each document handed out was a List.
    documents: Vec<bool>,
}

impl Take {
    fn documents() -> Self {
        Take::Documents(Vec::new(), ListItems::default())
    }

    fn take(&mut self, doc: Document) {
        match self {
            Take::Documents(added, items) => add_document(added, doc, items),
            Take::Items(items, _) if doc.in_items => items.read(doc.value, doc.spans),
            Take::Items(_, stray) => *stray = true,
            Take::Frame(seen) if doc.in_items => {
                let is_item = doc.value.as_str() == Some(FRAME_ITEM.1);
                seen.items.push((doc.spans.pos, is_item));
            }
            Take::Frame(seen) => seen.documents.push(is_list(&doc.value)),
            Take::WholeList(seen) => seen.take(doc),
        }
    }

    /// What the section holds, read (`parsed`: without a syntax error).
    fn into_read(
        self,
        parsed: bool,
        unreadable: Option<Diagnostic>,
        expanded: usize,
    ) -> SectionRead {
        let mut read = SectionRead {
            added: None,
            unreadable,
            expanded,
            ..SectionRead::adds_nothing()
        };
        match self {
            Take::Documents(added, _) => read.added = parsed.then_some(added),
            // (Made into its items' reads by `end_reading`.)
            Take::WholeList(_) => {}
            Take::Items(items, stray) => {
                read.added = (parsed && !stray).then_some(items.added);
                read.list_error = items.first_error;
            }
            Take::Frame(seen) => {
                let item = Pos {
                    line: seen.item_line,
                    col: FRAME_ITEM.2,
                };
                // Its item, where it was written; then the List, or a value that could not
                // be read, after which nothing more is handed out (the answer is that value,
                // whatever the document). No alias: an item may define its anchor again.
                let stands = seen.items == [(item, true)]
                    && read.expanded == 0
                    && match seen.documents[..] {
                        [is_list] => is_list,
                        [] => read.unreadable.is_some(),
                        _ => false,
                    };
                read.added = (parsed && stands).then(Vec::new);
                if let Some(d) = &mut read.unreadable {
                    if d.pos.line > seen.item_line {
                        *d = d.below(seen.tail_moved_by);
                    }
                }
            }
        }
        read
    }
}

/// The whole text read with one parser, as one section: what [`Reading`] must read, whatever
/// its sections (for the tests).
#[doc(hidden)]
pub fn read_whole(text: &str) -> Result<Scenario, InputError> {
    let mut reading = Reading::new(text);
    reading.scan = None;
    reading.at_once()
}

/// The text read with every List read in its parts, as an edit reads a List whose items the
/// reading before holds: what it must read too (for the tests).
#[doc(hidden)]
pub fn read_lists_in_parts(text: &str) -> Result<Scenario, InputError> {
    let mut reading = Reading::new(text);
    reading.lists_in_parts = true;
    reading.at_once()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document whose aliases expand it by about `mib` MiB (a 64 KiB string aliased).
    fn aliases(name: &str, mib: usize) -> String {
        let long = "x".repeat(64 << 10);
        let refs = vec!["*s"; mib * 16].join(", ");
        format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{s: &s \"{long}\", t: [{refs}]}}\n")
    }

    #[test]
    fn the_alias_budget_is_the_whole_texts() {
        // Each section within the budget alone; the two together past it.
        let text = aliases("a", 3) + &aliases("b", 3);
        let whole = format!("{:?}", read_whole(&text));
        assert!(whole.contains("would expand the text"), "{whole}");
        assert_eq!(format!("{:?}", super::super::parse(&text)), whole);
        // Read again after an edit of the first section, the second one is found, and the sum
        // is still the whole text's.
        let mut reading = Reading::new(text.as_str());
        while !reading.step(usize::MAX) {}
        let (_, kept) = reading.finish_keeping();
        let edited: Rc<str> = text.replacen("name: a", "name: c", 1).into();
        let mut reading = Reading::after(edited.clone(), kept);
        while !reading.step(usize::MAX) {}
        assert_eq!(reading.sections(), (2, 1));
        assert_eq!(
            format!("{:?}", reading.finish()),
            format!("{:?}", read_whole(&edited))
        );
    }

    #[test]
    fn an_alias_of_another_documents_anchor_reads_as_in_the_whole_text() {
        let text = "a: &l {x: 1}\n---\nb: *l\n";
        let whole = format!("{:?}", read_whole(text));
        assert!(
            whole.contains("line: 3, col: 4") && whole.contains("refers to no anchor"),
            "{whole}"
        );
        assert_eq!(format!("{:?}", super::super::parse(text)), whole);
    }

    #[test]
    fn a_text_is_cut_where_documents_must_start() {
        let starts = |text: &str| cuts(text, |c| (c.start, c.lines_before));
        assert_eq!(
            starts("a: 1\n---\nb: 2\n--- |\n  x\n----\n---"),
            [(0, 0), (5, 1), (14, 3), (29, 6)]
        );
        // Directives belong to the document after them; a lone carriage return is a line to
        // the parser, not to the count: one section.
        assert_eq!(starts("a: 1\n%YAML 1.2\n---\nb: 2\n"), [(0, 0)]);
        assert_eq!(starts("a\n---\nb\n%YAML 1.2\n---\n"), [(0, 0)]);
        assert_eq!(starts("a: 1\r---\nb: 2\n"), [(0, 0)]);
        assert_eq!(starts("a: 1\r\n---\r\nb: 2\r\n"), [(0, 0), (6, 1)]);
    }

    #[test]
    fn a_list_is_cut_at_its_items() {
        let parts = |text: &str| cuts(text, |c| (c.lines_before, c.part));
        use Part::*;
        let list =
            "apiVersion: v1\nitems:\n- a: 1\n  b: 2\n# c\n\n-\n  d: 3\n- e\nkind: List\n- f\n";
        assert_eq!(
            parts(list),
            [
                (0, ListHead),
                (2, ListItem),
                (6, ListItem),
                (8, ListItem),
                (9, ListTail)
            ]
        );
        // No item, or items indented: one section.
        assert_eq!(parts("items:\nkind: List\n"), [(0, Documents)]);
        assert_eq!(parts("items:\n  - a\nkind: List\n"), [(0, Documents)]);
        // `items:` alone on its line; a List in the second document, with no tail.
        assert_eq!(parts("items: # c\n- a\n"), [(0, Documents)]);
        assert_eq!(
            parts("a: 1\n---\nitems:  \r\n- a\r\n- b"),
            [(0, Documents), (1, ListHead), (3, ListItem), (4, ListItem)]
        );
        // A directive makes the text one section, whatever was found before it.
        assert_eq!(
            parts("items:\n- a\n- b\n%YAML 1.2\n---\n"),
            [(0, Documents)]
        );
    }

    /// Where a List's parts do not read alone as in the whole text, it is read whole, and so
    /// reads as in the whole text.
    #[test]
    fn a_list_whose_parts_do_not_read_alone_reads_as_the_whole_text() {
        let item = "- apiVersion: v1\n  kind: Service\n  metadata: {name: s}\n";
        let texts = [
            // The head leaves a quote open that the tail closes, or a flow mapping (saphyr
            // refuses both: a quoted line at column 0, a `- ` inside a flow mapping).
            format!("apiVersion: v1\nq: \"a\nitems:\n{item}{item}z\"\nkind: List\n"),
            format!("{{apiVersion: v1,\nitems:\n{item}z: 1}}\n"),
            // A top-level block scalar.
            format!("--- |\nitems:\n{item}kind: List\n"),
            // An alias of an anchor in another item, or in the head.
            "apiVersion: v1\nitems:\n- &s {kind: Node, metadata: {name: a}}\n- *s\nkind: List\n".to_string(),
            "apiVersion: v1\nl: &l {x: 1}\nitems:\n- kind: Pod\n  metadata: {name: a, labels: *l}\nkind: List\n".to_string(),
            // A document of another kind keeps its items.
            format!("apiVersion: v1\nitems:\n{item}kind: ServiceList\n"),
            format!("apiVersion: v1\nitems:\n{item}kind: Service\nmetadata: {{name: t}}\n"),
            // Its tail ends it and starts another document.
            format!("apiVersion: v1\nitems:\n{item}kind: List\n...\nkind: Node\nmetadata: {{name: n}}\n"),
            // Two items that cannot be read: the first is told. A value that cannot be read
            // in the tail comes after one in an item.
            "apiVersion: v1\nitems:\n- kind: Service\n  spec: 1\n- kind: Service\n  spec: 2\nkind: List\n".to_string(),
            "apiVersion: v1\nitems:\n- kind: Service\n  x: 1e999\nkind: List\nmetadata: {y: 1e999}\n".to_string(),
            "apiVersion: v1\nmetadata: {y: 1e999}\nitems:\n- kind: Service\n  x: 1e999\nkind: List\n".to_string(),
            // Tabs, a duplicated key across head and tail.
            format!("apiVersion: v1\nitems:\n{item}\t\n{item}kind: List\n"),
            format!("kind: List\nitems:\n{item}kind: List\n"),
            // An anchor the head defines, defined again in an item, aliased in the tail: the
            // alias is the item's (saphyr lets an anchor be defined again).
            "apiVersion: v1\nx: &k List\nitems:\n- apiVersion: v1\n  kind: &k Service\n  metadata: {name: s}\nkind: *k\n".to_string(),
            // The items' sequence anchored, aliased in the tail: the copy holds no items
            // (handed out), but its cost counts them.
            format!("apiVersion: v1\nitems:\n  &s\n- [{}0]\n- kind: Node\n  metadata: {{name: n}}\nkind: List\ncopy: *s\n", "0,".repeat(70_000)),
            // Nesting counted from the List's mapping, not the item's.
            format!("apiVersion: v1\nitems:\n- {}{}\n{item}kind: List\n", "[".repeat(99), "]".repeat(99)),
        ];
        for text in &texts {
            let whole = format!("{:?}", read_whole(text));
            assert_eq!(format!("{:?}", super::super::parse(text)), whole, "{text}");
            assert_eq!(format!("{:?}", read_lists_in_parts(text)), whole, "{text}");
        }
    }

    /// `text` read after the reading that kept `kept` (a fresh one: `Sections::default()`):
    /// what it reads, shown; the sections it keeps; how many it found in `kept`.
    fn read_after(text: &str, kept: Sections) -> (String, Sections, usize) {
        let mut reading = Reading::after(text.into(), kept);
        while !reading.step(usize::MAX) {}
        let found = reading.sections().1;
        let (read, kept) = reading.finish_keeping();
        (format!("{read:?}"), kept, found)
    }

    /// A List read whole keeps its items apart, each as if read alone: when an edit moves one
    /// above where its List started, or the List to the text's top, they are where they are.
    #[test]
    fn items_kept_apart_move_with_their_text() {
        let text = "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Node\n  metadata:\n    name: a\n- apiVersion: v1\n  kind: Node\n  metadata: {name: b}\nkind: List\n";
        let (_, kept, _) = read_after(text, Sections::default());
        let edited = text.replacen("  metadata:\n    name: a\n", "  metadata: {name: a}\n", 1);
        // The first item edited (the second found), or the List's first line taken out (both).
        for (edited, found) in [(edited.as_str(), 1), (&text[15..], 2)] {
            let (again, _, found_there) = read_after(edited, kept.clone());
            assert_eq!(found_there, found, "{edited}");
            assert_eq!(again, format!("{:?}", read_whole(edited)), "{edited}");
        }
    }

    /// …nor if one ends past its section: a flow mapping may close on a line the scan took
    /// for the tail, where read alone it is left open.
    #[test]
    fn an_item_that_runs_into_the_tail_is_not_kept_apart() {
        let text = "kind: List\napiVersion: v1\nitems:\n- {apiVersion: v1, kind: Node, metadata: {\n\"name\": a}}\n";
        let (_, kept, _) = read_after(text, Sections::default());
        // Its value changed in the tail, or the tail taken out (a mapping left open).
        let open = text[..text.find("\"name\"").unwrap()].to_string();
        for edited in [text.replace("a}}", "b}}"), open] {
            let (again, ..) = read_after(&edited, kept.clone());
            assert_eq!(again, format!("{:?}", read_whole(&edited)), "{edited}");
        }
    }

    /// A List read whole keeps its items apart for the next edit only if each reads alone as
    /// it read in the List: not if an alias in one copies another's anchor.
    #[test]
    fn an_item_that_copies_another_is_not_kept_apart() {
        let text = "apiVersion: v1\nitems:\n- kind: Node\n  metadata: {name: a, labels: &l {x: '1'}}\n- kind: Node\n  metadata: {name: b, labels: *l}\nkind: List\n";
        let (first, kept, _) = read_after(text, Sections::default());
        assert_eq!(first, format!("{:?}", read_whole(text)));
        // The anchor's value edited: the alias copies the new one.
        let edited = text.replace("x: '1'", "x: '2'");
        let (again, ..) = read_after(&edited, kept);
        assert!(again.matches("\"2\"").count() == 2, "{again}");
        assert_eq!(again, format!("{:?}", read_whole(&edited)));
    }

    /// The page scans a text for its cuts a part at a time: parts of any size, ending
    /// anywhere (inside a `---`, between `\r` and `\n`, inside a character), find the cuts of
    /// one scan.
    #[test]
    fn a_text_scanned_in_parts_is_cut_as_scanned_at_once() {
        let texts = [
            "apiVersion: v1\nitems:\n- a: 1\n  b: 2\n# c\n\n-\n  d: 3\n- e\nkind: List\n- f\n---\nitems:\n- a",
            "a: 1\n---\nb: 2\n--- |\n  x\n----\n---",
            "a: 1\n%YAML 1.2\n---\nb: 2\n",
            "%YAML 1.2\n---\nb: 2\n",
            "a: 1\r---\nb: 2\n---\n",
            "a: 1\r\n---\r\nb: \"é→\"\r\n---\tc\r\n---\r",
            "---\n---\n\n---\n",
            "a\n---\nb\n%YAML 1.2\n---\n",
            "",
        ];
        for text in texts {
            let fields = |c: &Cut| (c.start, c.lines_before, c.part);
            let whole = cuts(text, fields);
            for bytes in 1..=9 {
                let (mut scan, mut found) = (Scan::default(), vec![FIRST]);
                let mut steps = 0;
                while !scan.step(text, bytes, &mut found) {
                    steps += 1;
                    assert!(steps <= text.len(), "{text:?} in parts of {bytes}");
                }
                let parts: Vec<_> = found.iter().map(fields).collect();
                assert_eq!(parts, whole, "{text:?} in parts of {bytes}");
            }
        }
    }
}
