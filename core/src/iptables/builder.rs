//! A small helper both layouts use to assemble a [`Dataplane`] in kube-proxy's order.

use super::model::*;
use std::collections::hash_map::Entry;

pub(crate) struct Builder {
    tables: Vec<Table>,
    /// Chain name → position, per table (filter, nat).
    index: [ChainIndex; 2],
    /// Rules written so far, per table: each rule's [`Rule::order`].
    written: [u32; 2],
    /// The cascade's `1/n` probabilities as kube-proxy prints them, each made once.
    probabilities: Vec<Text>,
    /// Where the last rule went (table slot, chain position): rules come in runs for one
    /// chain, so most find theirs by comparing a name instead of hashing it.
    last: Option<(usize, usize)>,
}

impl Builder {
    pub fn new() -> Self {
        let table = |name| Table {
            name,
            chains: Vec::new(),
            by_name: ChainIndex::default(),
        };
        Builder {
            tables: vec![table(TableName::Filter), table(TableName::Nat)],
            index: Default::default(),
            written: [0; 2],
            probabilities: Vec::new(),
            last: None,
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
            Entry::Occupied(_) => return,
            Entry::Vacant(v) => {
                table.chains.push(Chain {
                    name: v.key().clone(),
                    kind,
                    rules: Vec::new(),
                    provenance,
                    declarations: 1,
                });
                v.insert(i);
            }
        }
        // Its rules usually come next.
        self.last = Some((slot, i));
    }

    /// `1/n` as kube-proxy's `%0.10f` prints it.
    pub fn probability(&mut self, n: usize) -> Text {
        while self.probabilities.len() < n {
            let d = self.probabilities.len() + 1;
            self.probabilities
                .push(format!("{:.10}", 1.0 / d as f64).into());
        }
        self.probabilities[n - 1].clone()
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
    }

    /// Appends a rule to a declared chain.
    pub fn rule(
        &mut self,
        t: TableName,
        chain: &str,
        matches: Vec<Match>,
        target: Option<Target>,
        provenance: Provenance,
    ) {
        let i = self.position(t, chain);
        self.last = Some((Self::slot(t), i));
        let slot = Self::slot(t);
        self.written[slot] += 1;
        let order = self.written[slot];
        self.table_mut(t).chains[i].rules.push(Rule {
            order,
            matches: matches.into_boxed_slice(),
            target,
            provenance,
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
        let i = self.position(t, chain);
        self.table_mut(t).chains[i].rules.insert(
            0,
            Rule {
                order: 0,
                matches: matches.into_boxed_slice(),
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
        Dataplane { tables }
    }
}

pub(crate) fn comment(text: impl Into<Text>) -> Match {
    Match::Comment { text: text.into() }
}

pub(crate) fn jump(chain: impl Into<Text>) -> Option<Target> {
    Some(Target::Jump {
        chain: chain.into(),
    })
}
