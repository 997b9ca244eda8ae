//! What an edit changed in a view: lines that are new, and lines that are gone.
//!
//! A multiset difference, not a positional diff: a view's lines are facts (a rule, a real
//! server, a set entry), and a fact that only moved did not change.

use kpx_core::pace::Pace;
use kpx_core::views::ViewLine;
use std::collections::HashMap;

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

impl Changes {
    /// What changed from the lines `before` to `after`, a line looked at being a unit of
    /// `pace`'s work.
    pub async fn between<'a>(
        before: impl DoubleEndedIterator<Item = &'a str> + Clone,
        after: &[ViewLine],
        pace: &Pace,
    ) -> Self {
        // Only the old lines are counted, the new ones taken from them. (Counting the new ones
        // too, a paste of 44,125 Services over the article's hundred lines sized a map for 2
        // million of them: a 100 ms piece of the page.) Sized up front: growing a map of
        // 2,000,000 lines moves it whole, half a second in one unit of work.
        let mut left = Counts::with_capacity_and_hasher(before.clone().count(), Default::default());
        for l in before.clone() {
            *left.entry(l).or_default() += 1;
            pace.unit().await;
        }
        let mut added = Vec::with_capacity(after.len());
        for l in after {
            added.push(!take(&mut left, &l.text) && !l.text.trim().is_empty());
            pace.unit().await;
        }
        // The old lines left were removed: of a text's lines, the last ones (the first were
        // taken by the new lines), found from the end.
        let mut removed = vec![];
        for l in before.rev() {
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

/// What a line of a view is, in a word or two, for the list of changes.
pub fn describe(text: &str) -> String {
    let t = text.trim_start();
    let word = |s: &str| s.split_whitespace().next().unwrap_or("").to_string();
    if let Some(rest) = t.strip_prefix("-A ") {
        format!("rule in {}", word(rest))
    } else if let Some(rest) = t.strip_prefix(':') {
        format!("chain {}", word(rest))
    } else if let Some(rest) = t.strip_prefix("Chain ") {
        format!("chain {}", word(rest))
    } else if let Some(rest) = t.strip_prefix("-> ") {
        format!("real server {}", word(rest))
    } else if ["TCP ", "UDP ", "SCTP "].iter().any(|p| t.starts_with(p)) {
        format!(
            "virtual server {}",
            t.split_whitespace().nth(1).unwrap_or("")
        )
    } else if let Some(rest) = t.strip_prefix("add rule ") {
        format!(
            "nftables rule in {}",
            rest.split_whitespace().nth(2).unwrap_or("")
        )
    } else if t.starts_with("add element ") {
        format!("element of {}", t.split_whitespace().nth(4).unwrap_or(""))
    } else if let Some(rest) = t.strip_prefix("inet ").or_else(|| t.strip_prefix("inet6 ")) {
        format!("address {} on kube-ipvs0", word(rest))
    } else {
        "line".to_string()
    }
}
