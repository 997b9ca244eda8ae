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
//! `tests/properties.rs` holds every reading, in sections, after an edit, equal to reading the
//! whole text at once with one parser (`read_whole`).

use super::yaml::{self, Keys, Loader};
use super::{add_document, Added, ListItems, Scenario};
use crate::diag::{Diagnostic, InputError};
use std::ops::Range;
use std::rc::Rc;

/// A section of the text: where it starts, and how many lines are above it.
#[derive(Clone, Copy, Debug)]
struct Cut {
    start: usize,
    lines_before: usize,
}

/// The first section's start.
const FIRST: Cut = Cut {
    start: 0,
    lines_before: 0,
};

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
            for (i, _) in part.match_indices('\n') {
                self.lines += 1;
                let line = &all[self.at + i + 1..];
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
                        start: self.at + i + 1,
                        lines_before: self.lines,
                    });
                }
            }
        }
        self.at = end;
        if one_section {
            cuts.truncate(1);
            self.at = text.len();
        }
        self.at == text.len()
    }
}

/// Where `text` is cut into sections, scanned at once.
#[cfg(test)]
fn cuts(text: &str) -> Vec<Cut> {
    let mut cuts = vec![FIRST];
    Scan::default().step(text, usize::MAX, &mut cuts);
    cuts
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
}

/// A text's sections as a [`Reading`] read them: what an edit of the text need not read again.
/// A clone shares what the sections hold.
#[derive(Clone, Default)]
pub struct Sections {
    text: Rc<str>,
    /// The sections read alone, in the order of the text, by the bytes they span.
    read: Vec<(Range<usize>, Rc<SectionRead>)>,
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
        let same_start = old.iter().zip(new).take_while(|(a, b)| a == b).count();
        let most = old.len().min(new.len()) - same_start;
        let same_end = old
            .iter()
            .rev()
            .zip(new.iter().rev())
            .take(most)
            .take_while(|(a, b)| a == b)
            .count();
        Earlier {
            grown: new.len() as isize - old.len() as isize,
            new_len: new.len(),
            sections,
            same_start,
            same_end,
        }
    }

    /// What the earlier reading read of the new text's bytes `span`, if they are the same
    /// bytes and were a section there.
    fn find(&self, span: &Range<usize>) -> Option<Rc<SectionRead>> {
        let old = if span.end <= self.same_start {
            span.clone()
        } else if span.start >= self.new_len - self.same_end {
            let back = |i: usize| (i as isize - self.grown) as usize;
            back(span.start)..back(span.end)
        } else {
            return None;
        };
        let read = &self.sections.read;
        let i = read.partition_point(|(r, _)| r.start < old.start);
        read.get(i)
            .filter(|(r, _)| *r == old)
            .map(|(_, s)| s.clone())
    }
}

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
    /// The section after them, when it has a syntax error read alone.
    broken: Option<Rc<SectionRead>>,
    /// What is being read, what its documents added so far, and what the items of the
    /// top-level `items` list of the document being read added so far.
    current: Option<(Loader<'t, Chars<'t>>, Vec<Added>, ListItems)>,
    /// The rest of the text from the section that does not stand, read as one (see the
    /// module's notes): what it holds, or its syntax error.
    rest: Option<Result<SectionRead, Diagnostic>>,
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
            let Some((loader, added, items)) = &mut self.current else {
                self.start_section();
                left -= 1;
                continue;
            };
            let before = loader.events();
            let end = loader.load(left, &mut |doc| add_document(added, doc, items));
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
        let span = self.span(self.done.len());
        if let Some(found) = self.earlier.as_ref().and_then(|e| e.find(&span)) {
            self.reused += 1;
            return self.section_read(found);
        }
        self.start_loader(span, 0);
    }

    fn start_loader(&mut self, span: Range<usize>, expanded: usize) {
        let chars = Chars {
            text: self.text.clone(),
            at: span.start,
            end: span.end,
        };
        let loader = Loader::continuing(chars, std::mem::take(&mut self.keys), expanded);
        self.current = Some((loader, Vec::new(), ListItems::default()));
    }

    /// The section (or the rest of the text) being read is read.
    fn end_reading(&mut self, end: Result<(), Diagnostic>) {
        let Some((loader, added, _)) = self.current.take() else {
            return;
        };
        let (expanded, unreadable) = (loader.expanded(), loader.unreadable().cloned());
        self.keys = loader.into_keys();
        if self.broken.is_some() {
            self.rest = Some(end.map(|()| SectionRead {
                added: Some(added),
                unreadable,
                expanded,
            }));
            return;
        }
        self.section_read(Rc::new(SectionRead {
            added: end.is_ok().then_some(added),
            unreadable,
            expanded,
        }));
    }

    /// A section is read (or found): it stands, unless it has a syntax error or its aliases
    /// pass the text's budget; then the rest of the text is read as one, from it on.
    fn section_read(&mut self, read: Rc<SectionRead>) {
        let fits = self.expanded + read.expanded <= yaml::MAX_ALIAS_EXPANSION;
        if read.added.is_some() && fits {
            self.expanded += read.expanded;
            self.done.push(read);
            return;
        }
        self.broken = Some(read);
        let rest = self.cuts[self.done.len()].start..self.text.as_str().len();
        self.start_loader(rest, self.expanded);
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
        self.cuts[self.done.len()].start + current
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
        let unreadable = read().find_map(|(cut, read)| {
            let d = read.unreadable.as_ref()?;
            Some(d.below(cut.lines_before))
        });
        if let Some(d) = unreadable {
            return Err(error(d));
        }
        let mut scenario = Scenario::default();
        let mut errors = Vec::new();
        for (cut, read) in read() {
            for added in read.added.iter().flatten() {
                scenario.add(added, cut.lines_before, &mut errors);
            }
        }
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
                let span = self.span(i);
                let section = match self.done.get(i) {
                    Some(read) => Some(read.clone()),
                    None if i == self.done.len() => self.broken.clone(),
                    None => None,
                };
                let section = section.or_else(|| self.earlier.as_ref()?.find(&span))?;
                Some((span, section))
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
}

impl Iterator for Chars<'_> {
    type Item = char;
    fn next(&mut self) -> Option<char> {
        let c = self.text.as_str().get(self.at..self.end)?.chars().next()?;
        self.at += c.len_utf8();
        Some(c)
    }
}

/// The whole text read with one parser, as one section: what [`Reading`] must read, whatever
/// its sections (for the tests).
#[doc(hidden)]
pub fn read_whole(text: &str) -> Result<Scenario, InputError> {
    let mut reading = Reading::new(text);
    reading.scan = None;
    while !reading.step(usize::MAX) {}
    reading.finish()
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
        let starts = |text: &str| {
            cuts(text)
                .iter()
                .map(|c| (c.start, c.lines_before))
                .collect::<Vec<_>>()
        };
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

    /// The page scans a text for its cuts a part at a time: parts of any size, ending
    /// anywhere (inside a `---`, between `\r` and `\n`, inside a character), find the cuts of
    /// one scan.
    #[test]
    fn a_text_scanned_in_parts_is_cut_as_scanned_at_once() {
        let texts = [
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
            let whole: Vec<_> = cuts(text)
                .iter()
                .map(|c| (c.start, c.lines_before))
                .collect();
            for bytes in 1..=9 {
                let (mut scan, mut found) = (Scan::default(), vec![FIRST]);
                let mut steps = 0;
                while !scan.step(text, bytes, &mut found) {
                    steps += 1;
                    assert!(steps <= text.len(), "{text:?} in parts of {bytes}");
                }
                let parts: Vec<_> = found.iter().map(|c| (c.start, c.lines_before)).collect();
                assert_eq!(parts, whole, "{text:?} in parts of {bytes}");
            }
        }
    }
}
