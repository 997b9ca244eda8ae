//! A small helper both layouts use to assemble a [`Dataplane`] in kube-proxy's order.

use super::model::*;
use std::collections::HashMap;

pub(super) struct Builder {
    tables: Vec<Table>,
    index: HashMap<(TableName, String), usize>,
    written: usize,
}

impl Builder {
    pub fn new() -> Self {
        Builder {
            tables: vec![
                Table { name: TableName::Filter, chains: Vec::new() },
                Table { name: TableName::Nat, chains: Vec::new() },
            ],
            index: HashMap::new(),
            written: 0,
        }
    }

    fn table_mut(&mut self, t: TableName) -> &mut Table {
        self.tables.iter_mut().find(|x| x.name == t).unwrap()
    }

    /// Declares a chain (once); later declarations of the same chain are no-ops.
    pub fn chain(&mut self, t: TableName, name: &str, kind: ChainKind, provenance: Provenance) {
        if self.index.contains_key(&(t, name.to_string())) {
            return;
        }
        let table = self.table_mut(t);
        table.chains.push(Chain { name: name.to_string(), kind, rules: Vec::new(), provenance });
        let i = table.chains.len() - 1;
        self.index.insert((t, name.to_string()), i);
    }

    /// Appends a rule to a declared chain.
    pub fn rule(&mut self, t: TableName, chain: &str, matches: Vec<Match>, target: Option<Target>, provenance: Provenance) {
        let i = *self
            .index
            .get(&(t, chain.to_string()))
            .unwrap_or_else(|| panic!("rule for undeclared chain {chain} in {t:?}"));
        self.written += 1;
        let order = self.written;
        self.table_mut(t).chains[i].rules.push(Rule { order, matches, target, provenance });
    }

    /// Prepends a jump rule to a built-in chain, as `EnsureRule(Prepend, …)` does on a fresh
    /// node: the last one ensured ends up first.
    pub fn prepend(&mut self, t: TableName, chain: &str, matches: Vec<Match>, target: Target, provenance: Provenance) {
        let i = self.index[&(t, chain.to_string())];
        self.table_mut(t).chains[i].rules.insert(0, Rule { order: 0, matches, target: Some(target), provenance });
    }

    pub fn finish(self) -> Dataplane {
        Dataplane { tables: self.tables }
    }
}

pub(super) fn comment(text: impl Into<String>) -> Match {
    Match::Comment { text: text.into() }
}

pub(super) fn jump(chain: impl Into<String>) -> Option<Target> {
    Some(Target::Jump { chain: chain.into() })
}
