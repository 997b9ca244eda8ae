//! Building again after an edit: a built dataplane keeps, for each service port, the port as
//! kube-proxy saw it and the builder's calls it made (which chains it declared, which rules it
//! wrote where), so the next build copies the chains and rules of every service port the edit
//! did not change instead of making them again (a key typed at 1,000 Services changes one of
//! them; the names are not hashed again, nor the comments, categories and plans made).
//!
//! A port's rules are a pure function of the port (its endpoints included) and of what every
//! port shares ([`Context`]): equal ports under equal contexts build equal rules, so a port is
//! copied only when both are equal, compared in full. The copies go through the same builder
//! calls in the same order, so the dataplane is the one a fresh build makes (a property test
//! holds every view of one to the other's).

use super::builder::Builder;
use super::model::{Chain, Dataplane, Rule, TableName};
use super::Ctx;
use crate::cluster::settings::Settings;
use crate::proxy::{kept, KeptPorts, MadeFrom, PortsBefore, ServicePort};

/// One builder call made for a service port: positions in the dataplane built (table slot,
/// chain, rule), read back from it to make the call again.
#[derive(Clone, Copy)]
pub(crate) enum Call {
    Chain { slot: u8, chain: u32 },
    Redeclare { slot: u8, chain: u32 },
    Rule { slot: u8, chain: u32, rule: u32 },
}

/// What every service port's rules depend on besides the port.
#[derive(Clone, PartialEq)]
pub(crate) struct Context {
    settings: Settings,
    large_cluster: bool,
    legacy_comments: bool,
}

impl Context {
    fn of(ctx: &Ctx) -> Self {
        Context {
            settings: ctx.settings.clone(),
            large_cluster: ctx.large_cluster,
            legacy_comments: ctx.legacy_comments,
        }
    }
}

/// What a dataplane keeps for the next build ([`Dataplane::memo`]).
#[derive(Clone)]
pub struct Memo {
    context: Context,
    kept: KeptPorts,
    /// Port `i`'s calls are `calls[ends[i - 1]..ends[i]]`.
    ends: Vec<u32>,
    calls: Vec<Call>,
}

/// The service ports' builds of one dataplane: each port copied from the last dataplane's
/// memo where it can be, built anew where it cannot, its calls recorded either way.
pub(crate) struct Ports<'a> {
    before: Option<(&'a Memo, &'a Dataplane, PortsBefore<'a>)>,
    ends: Vec<u32>,
    copied: usize,
}

impl<'a> Ports<'a> {
    /// Starts recording `b`'s calls; `before` is the dataplane built for the text before the
    /// edit, if any (its memo is used only if it was built in the same context).
    pub fn new(b: &mut Builder, ctx: &Ctx, before: Option<&'a Dataplane>) -> Self {
        // Recorded only to be kept: at 44,125 Services the calls alone would be 60 MB.
        if kept(&ctx.ports) {
            b.record(Some(Vec::new()));
        }
        let before = before
            .and_then(|dp| Some((dp.memo.as_deref()?, dp)))
            .filter(|(memo, _)| memo.context == Context::of(ctx))
            .map(|(memo, dp)| (memo, dp, PortsBefore::new(&memo.kept.ports)));
        Ports {
            before,
            ends: Vec::with_capacity(ctx.ports.len()),
            copied: 0,
        }
    }

    /// Builds `sp`'s chains and rules: copies them if the last build had an equal port,
    /// else has `fresh` make them.
    pub fn build(&mut self, b: &mut Builder, sp: &ServicePort, fresh: impl FnOnce(&mut Builder)) {
        let same = self
            .before
            .as_ref()
            .and_then(|(memo, dp, ports)| Some((*memo, *dp, ports.equal(sp)?)));
        match same {
            Some((memo, dp, i)) => {
                let start = if i == 0 { 0 } else { memo.ends[i - 1] };
                let calls = &memo.calls[start as usize..memo.ends[i] as usize];
                // (The dataplane's tables are public: one changed since it was built may no
                // longer hold what its memo says. Then the port is built anew.)
                if calls.iter().all(|&call| made(dp, call).is_some()) {
                    for &call in calls {
                        replay(b, dp, call);
                    }
                    self.copied += 1;
                } else {
                    fresh(b);
                }
            }
            None => fresh(b),
        }
        self.ends.push(b.recorded() as u32);
    }

    /// Stops recording: each port's calls, for [`Memo::keep`].
    pub fn finish(self, b: &mut Builder) -> Recorded {
        Recorded {
            ends: self.ends,
            calls: b.record(None).unwrap_or_default(),
            copied: self.copied,
        }
    }
}

/// The calls a build made for its service ports ([`Ports::finish`]).
pub(crate) struct Recorded {
    ends: Vec<u32>,
    calls: Vec<Call>,
    copied: usize,
}

// (Written by hand: a derived one printed every call, and was code in the site.)
impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Memo({:?})", self.kept)
    }
}

impl Memo {
    /// What a dataplane built from `ctx` keeps for the next build, or `Err` with the service
    /// port map to let go of, when it has too many endpoints to keep ([`crate::proxy::KEPT_ENDPOINTS`]).
    pub(crate) fn keep(
        recorded: Recorded,
        ctx: Ctx,
        made_from: MadeFrom,
    ) -> Result<Memo, Vec<ServicePort>> {
        let context = Context::of(&ctx);
        Ok(Memo {
            context,
            kept: KeptPorts::keep(ctx.ports, made_from, recorded.copied)?,
            ends: recorded.ends,
            calls: recorded.calls,
        })
    }

    /// The service ports this build kept.
    pub(crate) fn kept(&self) -> &KeptPorts {
        &self.kept
    }
}

fn table(slot: u8) -> TableName {
    if slot == 0 {
        TableName::Filter
    } else {
        TableName::Nat
    }
}

/// What a recorded call made in `dp`: the chain, and the rule if it wrote one.
fn made(dp: &Dataplane, call: Call) -> Option<(&Chain, Option<&Rule>)> {
    let chain = |slot: u8, c: u32| dp.tables.get(slot as usize)?.chains.get(c as usize);
    match call {
        Call::Chain { slot, chain: c } | Call::Redeclare { slot, chain: c } => {
            Some((chain(slot, c)?, None))
        }
        Call::Rule {
            slot,
            chain: c,
            rule,
        } => {
            let old = chain(slot, c)?;
            Some((old, Some(old.rules.get(rule as usize)?)))
        }
    }
}

/// Makes one recorded call again, from what it made in `dp` (checked by [`made`]).
fn replay(b: &mut Builder, dp: &Dataplane, call: Call) {
    let Some((old, rule)) = made(dp, call) else {
        return;
    };
    match (call, rule) {
        (Call::Chain { slot, chain }, _) => b.declare_like(table(slot), old, chain),
        (Call::Redeclare { slot, .. }, _) => b.redeclare(table(slot), &old.name),
        (Call::Rule { slot, chain, rule }, Some(r)) => {
            b.copy_rule(table(slot), &old.name, r, (chain, rule))
        }
        (Call::Rule { .. }, None) => {}
    }
}
