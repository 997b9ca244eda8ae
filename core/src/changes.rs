//! What an edit changed in a view: lines that are new, and lines that are gone.
//!
//! A multiset difference, not a positional diff: a view's lines are facts (a rule, a real
//! server, a set entry), and a fact that only moved did not change. Blank lines are never
//! changes.

use crate::pace::Pace;
use crate::views::{Copied, ViewLines};
use std::collections::HashMap;
use std::ops::Range;

/// A view's lines, read where they are: copied into a list for the comparison, the 2 million
/// lines of a view at 44,125 Services were 16 MB more of the page's memory, which never shrinks.
pub trait Lines {
    fn count(&self) -> usize;
    fn line(&self, at: usize) -> &str;
}

/// The page's lines of a view.
impl Lines for ViewLines {
    fn count(&self) -> usize {
        self.len()
    }
    fn line(&self, at: usize) -> &str {
        self.text(at)
    }
}

/// A view's text, split into lines.
impl Lines for Vec<&str> {
    fn count(&self) -> usize {
        self.len()
    }
    fn line(&self, at: usize) -> &str {
        self[at]
    }
}

/// Lines counted by text.
type Counts<'a> = HashMap<&'a str, usize, foldhash::fast::FixedState>;

/// Takes one `line` from `counts`, if one is left.
fn take(counts: &mut Counts, line: &str) -> bool {
    match counts.get_mut(line) {
        Some(n) if *n > 0 => {
            *n -= 1;
            true
        }
        _ => false,
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    /// For each line of the new view: whether the edit added it.
    pub added: Vec<bool>,
    /// Lines of the old view that the edit removed, in their old order.
    pub removed: Vec<String>,
}

/// Some of a view's lines, in order: those left once the lines paired by copying are taken
/// out ([`Changes::between`]), as runs of the view's lines.
struct Rest<'a> {
    lines: &'a dyn Lines,
    runs: Vec<Range<usize>>,
    /// How many of the rest come before each run.
    before_run: Vec<usize>,
}

impl<'a> Rest<'a> {
    /// The lines of `lines` outside `taken` (runs in order, not overlapping).
    fn new(lines: &'a dyn Lines, taken: impl Iterator<Item = Range<usize>>) -> Self {
        let (mut runs, mut before_run, mut at, mut count) = (vec![], vec![], 0, 0);
        for run in taken.chain(std::iter::once(lines.count()..lines.count())) {
            if run.start > at {
                runs.push(at..run.start);
                before_run.push(count);
                count += run.start - at;
            }
            at = run.end;
        }
        Rest {
            lines,
            runs,
            before_run,
        }
    }

    /// The view's line that is the `k`-th of the rest.
    fn at(&self, k: usize) -> usize {
        let run = self.before_run.partition_point(|&n| n <= k) - 1;
        self.runs[run].start + k - self.before_run[run]
    }
}

impl Lines for Rest<'_> {
    fn count(&self) -> usize {
        self.runs.iter().map(|r| r.len()).sum()
    }
    fn line(&self, k: usize) -> &str {
        self.lines.line(self.at(k))
    }
}

impl Changes {
    /// What changed from the lines `before` to `after`, a line looked at being a unit of
    /// `pace`'s work. Of a line met more often after than before, the copies marked added
    /// are those nearest the edit. Lines of `after` copied from `before` (`copied`: lines
    /// known to be alike, [`ViewLines::copied_from`]) are paired without being looked at: a
    /// key typed at 1,000 Services leaves all but a few of 43,000 lines where they were, but
    /// the first and last it changes can be far apart.
    pub async fn between(
        before: &dyn Lines,
        after: &dyn Lines,
        copied: &[Copied],
        pace: &Pace,
    ) -> Self {
        let ordered = |runs: &mut dyn Iterator<Item = Range<usize>>, count: usize| {
            let mut at = 0;
            for r in runs {
                if r.start < at || r.end > count {
                    return false;
                }
                at = r.end;
            }
            true
        };
        let taken_old = |c: &Copied| c.from..c.from + c.len;
        let taken_new = |c: &Copied| c.to..c.to + c.len;
        // (Runs made by one writer are in order in both views; any others are not used.)
        let usable = !copied.is_empty()
            && ordered(&mut copied.iter().map(taken_old), before.count())
            && ordered(&mut copied.iter().map(taken_new), after.count());
        if !usable {
            return Self::between_all(before, after, pace).await;
        }
        let old = Rest::new(before, copied.iter().map(taken_old));
        let new = Rest::new(after, copied.iter().map(taken_new));
        let rest = Self::between_all(&old, &new, pace).await;
        let mut added = vec![false; after.count()];
        for (k, _) in rest.added.iter().enumerate().filter(|(_, added)| **added) {
            added[new.at(k)] = true;
        }
        Changes {
            added,
            removed: rest.removed,
        }
    }

    /// [`Changes::between`], every line looked at.
    async fn between_all(before: &dyn Lines, after: &dyn Lines, pace: &Pace) -> Self {
        // A line the same at the same place, counted from the start or from the end, is in
        // both views: such pairs cancel without being counted. (A key typed at 1,000 Services
        // changes a line or two of 33,000: counting them all was a fifth of its edit.)
        let (old, new) = (before.count(), after.count());
        let shorter = old.min(new);
        let mut head = 0;
        while head < shorter && before.line(head) == after.line(head) {
            head += 1;
            pace.unit().await;
        }
        let mut tail = 0;
        while head + tail < shorter && before.line(old - 1 - tail) == after.line(new - 1 - tail) {
            tail += 1;
            pace.unit().await;
        }
        let middle = head..old - tail;
        // Only the old lines are counted, the new ones taken from them. (Counting the new ones
        // too, a paste of 44,125 Services over the article's hundred lines sized a map for 2
        // million of them: a 100 ms piece of the page.) Sized up front: growing a map of
        // 2,000,000 lines moves it whole, half a second in one unit of work.
        let mut left = Counts::with_capacity_and_hasher(middle.len(), Default::default());
        for i in middle.clone() {
            *left.entry(before.line(i)).or_default() += 1;
            pace.unit().await;
        }
        let mut added = vec![false; new];
        for (i, added) in added.iter_mut().enumerate().take(new - tail).skip(head) {
            let l = after.line(i);
            *added = !take(&mut left, l) && !l.trim().is_empty();
            pace.unit().await;
        }
        // The old lines left were removed: of a text's lines, the last ones (the first were
        // taken by the new lines), found from the end.
        let mut removed = vec![];
        for i in middle.rev() {
            let l = before.line(i);
            if take(&mut left, l) && !l.trim().is_empty() {
                removed.push(l.to_string());
            }
            pace.unit().await;
        }
        removed.reverse();
        Changes { added, removed }
    }

    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && !self.added.contains(&true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn between(before: &str, after: &str) -> Changes {
        let (b, a): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
        crate::pace::at_once(Changes::between(&b, &a, &[], &Pace::never()))
    }

    #[test]
    fn a_changed_line_is_added_and_its_old_text_removed() {
        let c = between("a\nb\nc\nd", "a\nb\nC\nd");
        assert_eq!(c.added, [false, false, true, false]);
        assert_eq!(c.removed, ["c"]);
    }

    #[test]
    fn a_line_that_moved_did_not_change() {
        assert!(between("a\nb\nc", "c\na\nb").is_empty());
        assert!(between("a\nb", "a\nb").is_empty());
    }

    #[test]
    fn a_repeated_line_is_marked_where_the_edit_is() {
        // Two rules alike, one more added between them: the middle one is the new one.
        let c = between("x\na\ny\na\nz", "x\na\ny\na\na\nz");
        assert_eq!(c.added, [false, false, false, false, true, false]);
        assert!(c.removed.is_empty());
        let c = between("a\na\na", "a");
        assert_eq!(c.added, [false]);
        assert_eq!(c.removed, ["a", "a"]);
    }

    #[test]
    fn blank_lines_are_never_changes() {
        let c = between("a", "a\n\n  ");
        assert_eq!(c.added, [false, false, false]);
        assert!(between("a\n\n", "a").removed.is_empty());
    }
}
