//! The typed nftables dataplane: kube-proxy's one `kube-proxy` table with its sets, verdict
//! maps and chains, each element, chain and rule with its provenance.
//!
//! Rules keep kube-proxy's own (knftables) text; the `nft-list` renderer re-spells the few
//! expressions `nft list` prints differently.

use crate::iptables::model::Provenance;
use serde::Serialize;
use std::rc::Rc;

#[derive(Clone, Debug, Serialize)]
pub struct Table {
    /// `ip` or `ip6`.
    pub family: &'static str,
    pub name: &'static str,
    pub comment: &'static str,
    pub sets: Vec<Set>,
    pub maps: Vec<Map>,
    /// Shared with the table built before an edit where the edit left a chain as it was
    /// (`nftables::reuse`): copied without copying its rules, and known alike at a glance.
    pub chains: Vec<Rc<Chain>>,
    /// What the next build after an edit copies from this one (`nftables::reuse`).
    #[serde(skip)]
    pub(crate) memo: Option<Box<super::reuse::Memo>>,
}

impl Table {
    /// How many service ports this build copied from the one before an edit.
    pub fn ports_copied(&self) -> usize {
        self.memo.as_ref().map_or(0, |m| m.kept().copied)
    }
    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chains.iter().find(|c| c.name == name).map(|c| &**c)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Set {
    pub name: String,
    /// `ipv4_addr`, `ipv6_addr`.
    pub type_: String,
    pub comment: Option<String>,
    /// Affinity sets: `dynamic,timeout` with a timeout in seconds.
    pub flags: Option<String>,
    pub timeout: Option<u32>,
    pub elements: Vec<Element>,
    pub provenance: Provenance,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Map {
    pub name: String,
    /// e.g. `ipv4_addr . inet_proto . inet_service : verdict`.
    pub type_: String,
    pub comment: Option<String>,
    pub elements: Vec<Element>,
    pub provenance: Provenance,
}

/// A set member (`value` empty) or a map entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Element {
    /// e.g. `172.30.0.41 . tcp . 80`.
    pub key: String,
    pub comment: Option<String>,
    /// e.g. `goto service-…`, `drop`; empty for a set member.
    pub value: String,
    pub provenance: Provenance,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BaseChain {
    /// `filter` or `nat`.
    pub type_: &'static str,
    pub hook: &'static str,
    pub priority: i32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Chain {
    pub name: String,
    pub base: Option<BaseChain>,
    pub comment: Option<String>,
    pub rules: Vec<Rule>,
    pub provenance: Provenance,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// kube-proxy's rule text, as in its `add rule` lines.
    pub text: String,
    pub provenance: Provenance,
}
