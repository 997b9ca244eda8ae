//! What an edit changed in a view: lines that are new, and lines that are gone.
//!
//! A multiset difference, not a positional diff: a view's lines are facts (a rule, a real
//! server, a set entry), and a fact that only moved did not change.

use kpx_core::views::ViewLine;
use std::collections::HashMap;

/// Lines counted by text.
type Counts<'a> = HashMap<&'a str, usize, foldhash::fast::FixedState>;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    /// For each line of the new view: whether the edit added it.
    pub added: Vec<bool>,
    /// Lines of the old view that the edit removed, in their old order.
    pub removed: Vec<String>,
}

impl Changes {
    pub fn between<'a>(before: impl Iterator<Item = &'a str> + Clone, after: &[ViewLine]) -> Self {
        let mut old = Counts::default();
        for l in before.clone() {
            *old.entry(l).or_default() += 1;
        }
        let added = after
            .iter()
            .map(|l| match old.get_mut(l.text.as_str()) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    false
                }
                _ => !l.text.trim().is_empty(),
            })
            .collect();
        let mut new = Counts::default();
        for l in after {
            *new.entry(l.text.as_str()).or_default() += 1;
        }
        let removed = before
            .filter(|l| match new.get_mut(*l) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    false
                }
                _ => !l.trim().is_empty(),
            })
            .map(str::to_string)
            .collect();
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
    } else if t.starts_with("-> ") {
        format!("real server {}", word(&t[3..]))
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
