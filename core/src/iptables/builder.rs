//! A small helper both layouts use to assemble a [`Dataplane`] in kube-proxy's order.

use super::model::*;
use super::reuse::Call;
use std::collections::hash_map::Entry;
use std::rc::Rc;

pub(crate) struct Builder {
    tables: Vec<Table>,
    /// Chain name → position, per table (filter, nat).
    index: [ChainIndex; 2],
    /// Rules written so far, per table: each rule's [`Rule::order`].
    written: [u32; 2],
    /// The cascade's `1/n` probabilities as kube-proxy prints them, each made once, with the
    /// matches of a jump that has nothing else ([`Builder::odds_alone`]).
    probabilities: Vec<(Text, Rc<[Match]>)>,
    /// Match lists that many rules of a large cluster hold alike, each made once
    /// ([`Builder::odds_alone`], [`Builder::protocol_alone`]).
    alike: Alike,
    /// Where the last rule went (table slot, chain position): rules come in runs for one
    /// chain, so most find theirs by comparing a name instead of hashing it.
    last: Option<(usize, usize)>,
    /// The calls made while a service port's chains and rules are built, recorded for the
    /// next build to make again ([`super::reuse`]).
    calls: Option<Vec<Call>>,
}

impl Builder {
    pub fn new() -> Self {
        let table = |name| Table {
            name,
            chains: Vec::new(),
            by_name: ChainIndex::default(),
            listing: Default::default(),
        };
        Builder {
            tables: vec![table(TableName::Filter), table(TableName::Nat)],
            index: Default::default(),
            written: [0; 2],
            probabilities: Vec::new(),
            alike: Alike::default(),
            last: None,
            calls: None,
        }
    }

    /// Starts (`Some`, an empty list) or stops (`None`) recording calls; what was recorded.
    pub fn record(&mut self, calls: Option<Vec<Call>>) -> Option<Vec<Call>> {
        std::mem::replace(&mut self.calls, calls)
    }

    /// How many calls are recorded so far.
    pub fn recorded(&self) -> usize {
        self.calls.as_ref().map_or(0, Vec::len)
    }

    fn note(&mut self, call: Call) {
        if let Some(calls) = &mut self.calls {
            calls.push(call);
        }
    }

    fn slot(t: TableName) -> usize {
        match t {
            TableName::Filter => 0,
            TableName::Nat => 1,
        }
    }

    fn table_mut(&mut self, t: TableName) -> &mut Table {
        &mut self.tables[Self::slot(t)]
    }

    /// Where `chain` is in its table: the chain last declared or written to (chains are built
    /// one at a time, so most calls find theirs by comparing a name instead of hashing it), or
    /// from the index.
    fn position(&self, t: TableName, chain: &str) -> usize {
        let slot = Self::slot(t);
        match self.last {
            Some((s, i)) if s == slot && &*self.tables[s].chains[i].name == chain => i,
            _ => *self.index[slot]
                .get(chain)
                .unwrap_or_else(|| panic!("rule for undeclared chain {chain} in {t:?}")),
        }
    }

    /// Room for `n` more chains in a table (a large cluster's are mostly its endpoints').
    pub fn expect_chains(&mut self, t: TableName, n: usize) {
        self.table_mut(t).chains.reserve(n);
        self.index[Self::slot(t)].reserve(n);
    }

    /// Declares a chain (once); later declarations of the same chain are no-ops. The name is
    /// shared by the chain and the index (pass a [`Text`] to share it with jumps too).
    pub fn chain(
        &mut self,
        t: TableName,
        name: impl Into<Text>,
        kind: ChainKind,
        provenance: Provenance,
    ) {
        let slot = Self::slot(t);
        let name: Text = name.into();
        // One look-up in the index (100,000 endpoint chains at 10,000 Services).
        let table = &mut self.tables[slot];
        let i = table.chains.len();
        match self.index[slot].entry(name) {
            Entry::Occupied(o) => {
                let at = *o.get();
                self.note(Call::Chain {
                    slot: slot as u8,
                    chain: at as u32,
                });
                return;
            }
            Entry::Vacant(v) => {
                table.chains.push(Chain {
                    name: v.key().clone(),
                    kind,
                    rules: Vec::new(),
                    provenance,
                    declarations: 1,
                    copy_of: None,
                });
                v.insert(i);
            }
        }
        self.note(Call::Chain {
            slot: slot as u8,
            chain: i as u32,
        });
        // Its rules usually come next.
        self.last = Some((slot, i));
    }

    /// Declares a chain as `old` (at `old_at` in its table) was declared, with room for as
    /// many rules (a chain the last build made for a service port the edit did not change): a
    /// copy of it until it gains a rule that is not [`Builder::copy_rule`]'s of the same place.
    pub fn declare_like(&mut self, t: TableName, old: &Chain, old_at: u32) {
        let slot = Self::slot(t);
        let before = self.tables[slot].chains.len();
        self.chain(t, old.name.clone(), old.kind, old.provenance.clone());
        if let Some(new) = self.tables[slot].chains.get_mut(before) {
            new.rules.reserve_exact(old.rules.len());
            new.copy_of = Some(old_at);
        }
    }

    /// `1/n` as kube-proxy's `%0.10f` prints it.
    pub fn probability(&mut self, n: usize) -> Text {
        while self.probabilities.len() < n {
            let d = self.probabilities.len() + 1;
            let probability: Text = format!("{:.10}", 1.0 / d as f64).into();
            let alone = Rc::new([Match::Statistic {
                probability: probability.clone(),
            }]);
            self.probabilities.push((probability, alone));
        }
        self.probabilities[n - 1].0.clone()
    }

    /// The matches of a cascade's jump without a comment (a large cluster's): `-m statistic`
    /// with `1/n`, or none for the last jump (`n` = 1). The same few lists stand on every
    /// Service's jumps, so each is made once (90,000 jumps at 10,000 Services × 10).
    pub fn odds_alone(&mut self, n: usize) -> Rc<[Match]> {
        if n == 1 {
            return self.alike.none.clone();
        }
        self.probability(n);
        self.probabilities[n - 1].1.clone()
    }

    /// `-m <protocol> -p <protocol>` alone: a large cluster's DNAT rule without session
    /// affinity, one list for every endpoint's.
    pub fn protocol_alone(&mut self, protocol: crate::proxy::Protocol) -> Rc<[Match]> {
        self.alike.protocols[protocol as usize]
            .get_or_insert_with(|| Rc::new([Match::Protocol { protocol }]))
            .clone()
    }

    /// Room for `n` rules in a declared chain: an endpoint's chain has two or three, and a
    /// list grown from empty would hold four (100,000 endpoints' chains).
    pub fn expect_rules(&mut self, t: TableName, chain: &str, n: usize) {
        let i = self.position(t, chain);
        self.table_mut(t).chains[i].rules.reserve_exact(n);
    }

    /// Declares an existing chain once more in the restore input.
    pub fn redeclare(&mut self, t: TableName, name: &str) {
        let i = self.position(t, name);
        self.table_mut(t).chains[i].declarations += 1;
        self.note(Call::Redeclare {
            slot: Self::slot(t) as u8,
            chain: i as u32,
        });
    }

    /// Appends a rule to a declared chain.
    pub fn rule(
        &mut self,
        t: TableName,
        chain: &str,
        matches: impl Into<Rc<[Match]>>,
        target: Option<Target>,
        provenance: Provenance,
    ) {
        self.push_rule(t, chain, matches.into(), target, provenance, None);
    }

    /// Appends a copy of `old` (a rule the last build made for a service port the edit did
    /// not change; `from`, its chain's place and its own) to a declared chain.
    pub fn copy_rule(&mut self, t: TableName, chain: &str, old: &Rule, from: (u32, u32)) {
        let (matches, target) = (old.matches.clone(), old.target.clone());
        self.push_rule(
            t,
            chain,
            matches,
            target,
            old.provenance.clone(),
            Some(from),
        );
    }

    fn push_rule(
        &mut self,
        t: TableName,
        chain: &str,
        matches: Rc<[Match]>,
        target: Option<Target>,
        provenance: Provenance,
        copied_from: Option<(u32, u32)>,
    ) {
        let i = self.position(t, chain);
        let slot = Self::slot(t);
        self.last = Some((slot, i));
        self.written[slot] += 1;
        let order = self.written[slot];
        let chain = &mut self.tables[slot].chains[i];
        let at = chain.rules.len();
        chain.rules.push(Rule {
            order,
            matches,
            target,
            provenance,
        });
        // Still a copy only if the rule is its old chain's at the same place.
        chain.copy_of = chain
            .copy_of
            .filter(|&old| copied_from == Some((old, at as u32)));
        self.note(Call::Rule {
            slot: slot as u8,
            chain: i as u32,
            rule: at as u32,
        });
    }

    /// Prepends a jump rule to a built-in chain, as `EnsureRule(Prepend, …)` does on a fresh
    /// node: the last one ensured ends up first.
    pub fn prepend(
        &mut self,
        t: TableName,
        chain: &str,
        matches: Vec<Match>,
        target: Target,
        provenance: Provenance,
    ) {
        // A recorded rule is found again by its place in its chain: none may be put before it.
        debug_assert!(
            self.calls.is_none(),
            "a prepend while a service port is built"
        );
        let i = self.position(t, chain);
        let chain = &mut self.table_mut(t).chains[i];
        chain.copy_of = None;
        chain.rules.insert(
            0,
            Rule {
                order: 0,
                matches: matches.into(),
                target: Some(target),
                provenance,
            },
        );
    }

    pub fn finish(self) -> Dataplane {
        let mut tables = self.tables;
        for (table, index) in tables.iter_mut().zip(self.index) {
            table.by_name = index;
            // Rule lists grew by doubling: give back the slack (most chains are an endpoint's
            // two or three rules).
            for chain in &mut table.chains {
                chain.rules.shrink_to_fit();
            }
        }
        Dataplane {
            tables,
            memo: None,
            build: Build::next(),
            copied_from: None,
        }
    }
}

/// See [`Builder::odds_alone`] and [`Builder::protocol_alone`]. (Rules hold them as any
/// other list: a view compares rules' matches by address first, then by what they say.)
#[derive(Default)]
struct Alike {
    /// No match: the cascade's last jump.
    none: Rc<[Match]>,
    /// By [`crate::proxy::Protocol`]'s place.
    protocols: [Option<Rc<[Match]>>; 4],
}

pub(crate) fn comment(text: impl Into<Text>) -> Match {
    Match::Comment { text: text.into() }
}

/// A rule's matches, those given in order, collected straight into the slice the rule keeps.
/// (From a list they would be copied into it: 300,000 more allocations at 10,000 Services ×
/// 10, whose endpoints' rules are built with this. One shape for every such rule: each shape
/// of iterator collected is code in the site.)
pub(crate) fn matches(a: Option<Match>, b: Option<Match>, c: Option<Match>) -> Rc<[Match]> {
    a.into_iter().chain(b).chain(c).collect()
}

pub(crate) fn jump(chain: impl Into<Text>) -> Option<Target> {
    Some(Target::Jump {
        chain: chain.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain declared like an old one stays its copy only while each rule it gains is the
    /// old chain's rule of the same place ([`Chain::copy_of`]).
    #[test]
    fn a_chain_is_a_copy_while_its_rules_are_the_old_chains_at_their_places() {
        let mut old = Builder::new();
        old.chain(
            TableName::Nat,
            "KUBE-SVC-A",
            ChainKind::KubeProxy,
            Provenance::kubelet(),
        );
        for n in 0..2 {
            let matches = vec![comment(format!("rule {n}"))];
            old.rule(
                TableName::Nat,
                "KUBE-SVC-A",
                matches,
                None,
                Provenance::kubelet(),
            );
        }
        let old = old.finish();
        let chain = old
            .table(TableName::Nat)
            .unwrap()
            .chain("KUBE-SVC-A")
            .unwrap();
        let copy = |rules: &[(u32, u32)], fresh: bool| {
            let mut b = Builder::new();
            b.declare_like(TableName::Nat, chain, 0);
            for &(c, r) in rules {
                b.copy_rule(
                    TableName::Nat,
                    &chain.name,
                    &chain.rules[r as usize],
                    (c, r),
                );
            }
            if fresh {
                b.rule(
                    TableName::Nat,
                    &chain.name,
                    vec![],
                    None,
                    Provenance::kubelet(),
                );
            }
            let dp = b.finish();
            dp.table(TableName::Nat).unwrap().chains[0].copy_of
        };
        assert_eq!(copy(&[(0, 0), (0, 1)], false), Some(0));
        assert_eq!(copy(&[(0, 0), (0, 1)], true), None, "a rule of its own");
        assert_eq!(
            copy(&[(0, 1), (0, 0)], false),
            None,
            "the rules in another order"
        );
        assert_eq!(
            copy(&[(0, 0), (1, 1)], false),
            None,
            "a rule of another chain"
        );
    }
}
