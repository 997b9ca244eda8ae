//! A small helper both layouts use to assemble a [`Dataplane`] in kube-proxy's order.

use super::model::*;
use std::collections::HashMap;

pub(crate) struct Builder {
    tables: Vec<Table>,
    /// Chain name → position, per table (filter, nat).
    index: [HashMap<String, usize>; 2],
    written: usize,
}

impl Builder {
    pub fn new() -> Self {
        Builder {
            tables: vec![
                Table {
                    name: TableName::Filter,
                    chains: Vec::new(),
                    by_name: HashMap::new(),
                },
                Table {
                    name: TableName::Nat,
                    chains: Vec::new(),
                    by_name: HashMap::new(),
                },
            ],
            index: [HashMap::new(), HashMap::new()],
            written: 0,
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

    fn position(&self, t: TableName, chain: &str) -> usize {
        *self.index[Self::slot(t)]
            .get(chain)
            .unwrap_or_else(|| panic!("rule for undeclared chain {chain} in {t:?}"))
    }

    /// Declares a chain (once); later declarations of the same chain are no-ops.
    pub fn chain(&mut self, t: TableName, name: &str, kind: ChainKind, provenance: Provenance) {
        if self.index[Self::slot(t)].contains_key(name) {
            return;
        }
        let table = self.table_mut(t);
        table.chains.push(Chain {
            name: name.to_string(),
            kind,
            rules: Vec::new(),
            provenance,
            declarations: 1,
        });
        let i = table.chains.len() - 1;
        self.index[Self::slot(t)].insert(name.to_string(), i);
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
        self.written += 1;
        let order = self.written;
        self.table_mut(t).chains[i].rules.push(Rule {
            order,
            matches,
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
                matches,
                target: Some(target),
                provenance,
            },
        );
    }

    pub fn finish(self) -> Dataplane {
        let mut tables = self.tables;
        for (table, index) in tables.iter_mut().zip(self.index) {
            table.by_name = index;
        }
        Dataplane { tables }
    }
}

pub(crate) fn comment(text: impl Into<String>) -> Match {
    Match::Comment { text: text.into() }
}

pub(crate) fn jump(chain: impl Into<String>) -> Option<Target> {
    Some(Target::Jump {
        chain: chain.into(),
    })
}
