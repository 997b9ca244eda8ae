//! The odds of load-balancing, in words a first-time reader follows.
//!
//! kube-proxy's iptables mode spreads new connections over n endpoints with a cascade of
//! `statistic --mode random` rules: the first is taken with probability 1/n, the next — tried
//! only by connections the first let through — with 1/(n-1), …, and the last without a test.
//! Each endpoint still gets 1/n. The sentences here are computed from the rules' own
//! probabilities, not assumed, so an odd cascade would show as odd.

use crate::iptables::model::{Chain, Match, Rule, Target};
use crate::ipvs::{VirtualServer, FLAG_PERSISTENT};
use std::collections::HashMap;
use std::rc::Rc;

/// A chain's sentences, rule by rule (`None` where a rule is not a step).
type Sentences = Rc<[Option<Rc<str>>]>;

/// Each iptables chain's odds, rule by rule. The sentences depend only on the chain's shape
/// (which rules are endpoint jumps, and their probabilities), so each shape is worded once:
/// 10,000 Services of 10 endpoints share one set of sentences. (Hashed with foldhash: a
/// Service's chain is looked up once per rule, and SipHash was a twentieth of making a view's
/// lines.)
#[derive(Default)]
pub struct Odds<'d> {
    /// By the chain's address: names repeat across tables (KUBE-SERVICES).
    by_chain: HashMap<*const Chain, Sentences, foldhash::fast::RandomState>,
    by_shape: HashMap<Vec<Option<&'d str>>, Sentences, foldhash::fast::RandomState>,
}

impl<'d> Odds<'d> {
    /// The odds of the `index`-th rule of `chain`, if it is a step of a load-balancing cascade.
    pub fn of(&mut self, chain: &'d Chain, index: usize) -> Option<Rc<str>> {
        // Most chains are an endpoint's own, of two or three rules and no step: looked at again
        // for each of their rules, not remembered (remembering 617,750 of them at 44,125
        // Services grew an index whole, in pieces of up to 60 ms natively).
        if chain.rules.len() <= LOOKED_AT_AGAIN {
            return match chain.rules.iter().any(endpoint_jump) {
                true => self.sentences(chain).get(index).cloned().flatten(),
                false => None,
            };
        }
        if let Some(odds) = self.by_chain.get(&(chain as *const Chain)) {
            return odds.get(index).cloned().flatten();
        }
        let odds = match chain.rules.iter().any(endpoint_jump) {
            true => self.sentences(chain),
            false => Rc::new([]),
        };
        let at = odds.get(index).cloned().flatten();
        self.by_chain.insert(chain, odds);
        at
    }

    /// The sentences of a chain with a cascade, worded once per shape: each rule's probability
    /// text, "" for the cascade's untested last step, `None` for a rule that is not a step.
    fn sentences(&mut self, chain: &'d Chain) -> Sentences {
        let shape: Vec<Option<&'d str>> = chain
            .rules
            .iter()
            .map(|r| endpoint_jump(r).then(|| probability_text(r).unwrap_or("")))
            .collect();
        self.by_shape
            .entry(shape)
            .or_insert_with(|| chain_odds(chain).into())
            .clone()
    }
}

/// Chains of up to this many rules are not remembered by [`Odds::of`].
const LOOKED_AT_AGAIN: usize = 4;

/// A jump to an endpoint chain that is part of the random cascade (not an affinity check).
pub(crate) fn endpoint_jump(rule: &Rule) -> bool {
    let to_endpoint =
        matches!(&rule.target, Some(Target::Jump { chain }) if chain.starts_with("KUBE-SEP-"));
    to_endpoint
        && !rule
            .matches
            .iter()
            .any(|m| matches!(m, Match::RecentCheck { .. }))
}

fn probability_text(rule: &Rule) -> Option<&str> {
    rule.matches.iter().find_map(|m| match m {
        Match::Statistic { probability } => Some(&**probability),
        _ => None,
    })
}

fn probability(rule: &Rule) -> Option<f64> {
    probability_text(rule).and_then(|p| p.parse().ok())
}

fn chain_odds(chain: &Chain) -> Vec<Option<Rc<str>>> {
    let n = chain.rules.iter().filter(|r| endpoint_jump(r)).count();
    let mut remaining = 1.0_f64;
    let mut k = 0;
    chain
        .rules
        .iter()
        .map(|r| {
            if !endpoint_jump(r) {
                return None;
            }
            k += 1;
            if n == 1 {
                return Some(
                    "The only endpoint here: every new connection that reaches this rule takes it, with no random test.".into(),
                );
            }
            let before = remaining;
            let text = match probability(r) {
                Some(p) => {
                    let share = before * p;
                    remaining -= share;
                    if k == 1 {
                        format!(
                            "Endpoint {k} of {n}: a new connection takes this rule with probability {} — so this endpoint gets {} of new connections.",
                            fraction(p),
                            fraction(share)
                        )
                    } else {
                        format!(
                            "Endpoint {k} of {n}: only the {} of new connections that earlier rules let through are tested here; {} of them take it ({} × {} = {}).",
                            fraction(before),
                            fraction(p),
                            fraction(before),
                            fraction(p),
                            fraction(share)
                        )
                    }
                }
                None => {
                    remaining = 0.0;
                    format!(
                        "Endpoint {k} of {n}: every connection still here ({} of all) takes this rule — no random test needed; it gets {} too.",
                        fraction(before),
                        fraction(before)
                    )
                }
            };
            Some(text.into())
        })
        .collect()
}

/// `x` as a small fraction ("1/3") when it is one, else a decimal.
pub fn fraction(x: f64) -> String {
    if (x - 1.0).abs() < 1e-6 {
        return "all".into();
    }
    for d in 2..=64u32 {
        let n = (x * d as f64).round();
        if n >= 1.0 && (x - n / d as f64).abs() < 1e-6 {
            return format!("{}/{d}", n as u32);
        }
    }
    format!("{x:.4}")
}

/// An nftables rule that picks an endpoint: `numgen random mod N vmap { … }`.
pub fn nft_rule(text: &str) -> Option<String> {
    let rest = text.split("numgen random mod ").nth(1)?;
    let n: u32 = rest.split_whitespace().next()?.parse().ok()?;
    Some(if n == 1 {
        "numgen random mod 1 always gives 0: the only endpoint chain takes every new connection."
            .into()
    } else {
        format!(
            "numgen draws a random number 0…{} for each new connection; the map sends each number to one endpoint chain, so each of the {n} endpoints gets 1/{n}.",
            n - 1
        )
    })
}

/// What the virtual server's scheduler does with this real server.
pub fn ipvs_real_server(vs: &VirtualServer) -> Option<String> {
    let n = vs.reals.len();
    let how = match vs.scheduler.as_str() {
        "rr" => format!("rr (round robin): the {n} real servers take new connections in turn, so each gets 1 in {n}."),
        "wrr" => "wrr (weighted round robin): turns in proportion to the weights.".to_string(),
        "lc" => "lc (least connection): each new connection goes to the real server with the fewest connections.".to_string(),
        "wlc" => "wlc (weighted least connection): fewest connections relative to weight.".to_string(),
        "sh" => "sh (source hashing): a hash of the client's address picks the real server, so one client always lands on the same one.".to_string(),
        "dh" => "dh (destination hashing): a hash of the destination address picks the real server.".to_string(),
        "mh" => "mh (Maglev hashing): a lookup table filled from the real servers, indexed by a hash of the client (address, and port with mh-port), picks one.".to_string(),
        other => format!("{other}: IPVS's {other} scheduler picks the real server for each new connection."),
    };
    Some(if vs.flags & FLAG_PERSISTENT != 0 {
        format!("{how} persistent {}: a client's later connections return to the same real server for {} s.", vs.timeout, vs.timeout)
    } else {
        how
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_read_like_fractions() {
        assert_eq!(fraction(1.0 / 3.0), "1/3");
        assert_eq!(fraction(0.33333333349), "1/3");
        assert_eq!(fraction(0.5), "1/2");
        assert_eq!(fraction(2.0 / 3.0), "2/3");
        assert_eq!(fraction(1.0), "all");
        assert_eq!(fraction(0.123456), "0.1235");
    }

    /// A KUBE-SVC-style chain of `n` endpoint jumps with kube-proxy's probabilities.
    fn cascade(name: &str, n: usize) -> Chain {
        use crate::iptables::model::{ChainKind, Provenance};
        let rules = (0..n)
            .map(|k| Rule {
                order: k as u32,
                matches: (k < n - 1)
                    .then(|| Match::Statistic {
                        probability: format!("{:.10}", 1.0 / (n - k) as f64).into(),
                    })
                    .into_iter()
                    .collect(),
                target: Some(Target::Jump {
                    chain: format!("KUBE-SEP-{name}{k}").into(),
                }),
                provenance: Provenance::kubelet(),
            })
            .collect();
        Chain {
            name: name.into(),
            kind: ChainKind::KubeProxy,
            rules,
            provenance: Provenance::kubelet(),
            declarations: 1,
            copy_of: None,
        }
    }

    #[test]
    fn chains_of_one_shape_share_their_sentences() {
        let (a, b, c) = (cascade("A", 3), cascade("B", 3), cascade("C", 2));
        let mut odds = Odds::default();
        for i in 0..3 {
            let (x, y) = (odds.of(&a, i).unwrap(), odds.of(&b, i).unwrap());
            assert_eq!(Some(&x), chain_odds(&a)[i].as_ref());
            assert!(Rc::ptr_eq(&x, &y), "rule {i} worded twice");
        }
        assert!(odds.of(&a, 1).unwrap().contains("Endpoint 2 of 3"));
        assert!(odds.of(&c, 0).unwrap().contains("Endpoint 1 of 2"));
        assert_eq!(odds.of(&a, 3), None);
        let no_steps = Chain {
            rules: vec![],
            ..cascade("D", 1)
        };
        assert_eq!(odds.of(&no_steps, 0), None);
    }

    #[test]
    fn numgen_odds() {
        let odds =
            nft_rule("numgen random mod 3 vmap { 0 : goto a , 1 : goto b , 2 : goto c }").unwrap();
        assert!(odds.contains("each of the 3 endpoints gets 1/3"), "{odds}");
        assert_eq!(nft_rule("ip daddr 10.0.0.1 jump x"), None);
    }
}
