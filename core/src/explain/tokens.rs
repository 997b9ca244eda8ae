//! Splits a line of any view into the pieces a reader can point at: glossary terms and names
//! of chains, sets and maps (which link to where the view declares them).

use super::glossary::{Term, TERMS};
use std::sync::OnceLock;

/// A piece of a line. Concatenating every piece's `text` gives the line back.
#[derive(Debug, PartialEq, Eq)]
pub struct Token<'a> {
    pub text: &'a str,
    /// The glossary entry this piece is a spelling of.
    pub term: Option<&'static Term>,
    /// The chain, set or map this piece names, when the view declares it.
    pub link: Option<&'a str>,
}

/// Characters after which a term or a name may start.
fn starts_after(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '{' | '(' | ',' | '@' | ':' | '[')
}

/// Characters that end a word.
fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | ',' | '}' | ')' | ';' | ']')
}

/// Every spelling by its first byte, longest first, so that the longest reading wins and a
/// position is only tried against the spellings that can start there.
fn spellings(first: u8) -> &'static [(&'static str, &'static Term)] {
    static BY_FIRST_BYTE: OnceLock<Vec<Vec<(&'static str, &'static Term)>>> = OnceLock::new();
    let table = BY_FIRST_BYTE.get_or_init(|| {
        let mut table = vec![Vec::new(); 256];
        for t in TERMS {
            for s in t.spellings {
                table[s.as_bytes()[0] as usize].push((*s, t));
            }
        }
        for list in &mut table {
            crate::pace::sort_stable_by_key(list, |(s, _)| std::cmp::Reverse(s.len()));
        }
        table
    });
    &table[first as usize]
}

/// The length of the word at the start of `s`.
fn word_len(s: &str) -> usize {
    s.find(ends_word).unwrap_or(s.len())
}

/// The term spelled at the start of `s`, and how long the spelling is there.
fn term_at(s: &str) -> Option<(usize, &'static Term)> {
    spellings(*s.as_bytes().first()?)
        .iter()
        .find_map(|(spelling, term)| {
            if !s.starts_with(spelling) {
                return None;
            }
            if spelling.ends_with('-') && spelling.len() > 1 {
                // A prefix: the whole word (`KUBE-SVC-2CMXP7HKUVJN7L6M`).
                let len = word_len(s);
                return (len > spelling.len()).then_some((len, *term));
            }
            let rest = &s[spelling.len()..];
            let at_end = rest
                .chars()
                .next()
                .is_none_or(|c| ends_word(c) || c == '/' || c == ':');
            at_end.then_some((spelling.len(), *term))
        })
}

/// The pieces of `line`; `declared` says whether a word names a chain, set or map of this view.
pub fn tokens<'a>(line: &'a str, declared: &dyn Fn(&str) -> bool) -> Vec<Token<'a>> {
    let mut out: Vec<Token<'a>> = Vec::new();
    let mut plain_from = 0;
    let mut i = 0;
    let mut prev: Option<char> = None;
    while i < line.len() {
        let c = line[i..].chars().next().expect("i is a char boundary");
        let at_start = prev.is_none_or(starts_after) && !c.is_whitespace() && c != '@';
        if at_start {
            let rest = &line[i..];
            let found = match term_at(rest) {
                Some((len, term)) => Some((len, Some(term))),
                None => {
                    let len = word_len(rest);
                    let name = name_in(&rest[..len]);
                    (len > 0 && declared(name)).then_some((len, None))
                }
            };
            if let Some((len, term)) = found {
                if plain_from < i {
                    out.push(Token {
                        text: &line[plain_from..i],
                        term: None,
                        link: None,
                    });
                }
                let text = &line[i..i + len];
                let name = name_in(text);
                let link = declared(name).then_some(name);
                out.push(Token { text, term, link });
                i += len;
                plain_from = i;
                prev = text.chars().last();
                continue;
            }
        }
        prev = Some(c);
        i += c.len_utf8();
    }
    if plain_from < line.len() {
        out.push(Token {
            text: &line[plain_from..],
            term: None,
            link: None,
        });
    }
    out
}

/// A name as a view writes it, without `@` (nftables set references) or a trailing `:`.
fn name_in(word: &str) -> &str {
    word.trim_start_matches('@').trim_end_matches(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(line: &str) -> Vec<(String, Option<&'static str>, Option<String>)> {
        let declared =
            |n: &str| n.starts_with("KUBE-SVC-") || n == "KUBE-MARK-MASQ" || n == "service-ips";
        tokens(line, &declared)
            .into_iter()
            .map(|t| {
                (
                    t.text.to_string(),
                    t.term.map(|t| t.key),
                    t.link.map(str::to_string),
                )
            })
            .collect()
    }

    #[test]
    fn pieces_give_the_line_back() {
        let line = r#"-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment "default/kubernetes:https cluster IP" -m tcp --dport 443 -j KUBE-SVC-NPX46M4PTMTKRN6Y"#;
        let joined: String = tokens(line, &|_| false).iter().map(|t| t.text).collect();
        assert_eq!(joined, line);
    }

    #[test]
    fn terms_and_links() {
        let k = kinds(
            r#"-A KUBE-SVC-2CMXP7HKUVJN7L6M -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-C2Y64IBVPH4YIBGX"#,
        );
        assert!(
            k.contains(&(
                "KUBE-SVC-2CMXP7HKUVJN7L6M".into(),
                Some("KUBE-SVC"),
                Some("KUBE-SVC-2CMXP7HKUVJN7L6M".into())
            )),
            "{k:?}"
        );
        assert!(
            k.contains(&(
                "-m statistic --mode random --probability".into(),
                Some("statistic"),
                None
            )),
            "{k:?}"
        );
        assert!(
            k.contains(&("KUBE-SEP-C2Y64IBVPH4YIBGX".into(), Some("KUBE-SEP"), None)),
            "{k:?}"
        );
        let k = kinds("-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000");
        assert!(
            k.contains(&(
                "KUBE-MARK-MASQ".into(),
                Some("KUBE-MARK-MASQ"),
                Some("KUBE-MARK-MASQ".into())
            )),
            "{k:?}"
        );
        assert!(
            k.contains(&("0x4000".into(), Some("0x4000"), None)),
            "{k:?}"
        );
        let k = kinds("\t\tip daddr . meta l4proto . th dport vmap @service-ips");
        assert!(
            k.contains(&(
                "service-ips".into(),
                Some("service-ips"),
                Some("service-ips".into())
            )),
            "{k:?}"
        );
        assert!(k.contains(&("vmap".into(), Some("vmap"), None)), "{k:?}");
        // Inside a word, nothing is a term.
        assert!(kinds("10.96.0.1:443 rrx").iter().all(|t| t.1.is_none()));
        assert!(kinds("TCP  10.96.0.1:443 rr")
            .iter()
            .any(|t| t.1 == Some("rr")));
    }
}
