//! Building again after an edit, as `iptables::reuse` does for iptables mode: a built table
//! keeps the service ports it was built from and each one's chains, affinity sets and map
//! elements, so the next build copies those of every port the edit did not change instead of
//! making them again (a key typed at 1,000 Services changes one of them; the names are not
//! hashed again, nor the rules written).
//!
//! A port's chains and sets follow one another in the table, each list in build order, and its
//! rules are written into its own chains only, but for a port of another's name (two unnamed
//! ports of one Service, which kpx only warns about), whose rules go into that one's chains:
//! both are then never copied ([`Ends::own`]). Its map elements are recorded one by one, as
//! they sit among other ports' in a shared map. Its ClusterIP's element of `@cluster-ips` is
//! made again, not copied: the set holds an address once, for the first port of that address,
//! and that port may be another after the edit. Copies are made in the order a fresh build
//! makes them, so the table is the one a fresh build makes (a property test holds every view
//! of one to the other's).
//!
//! The memo holds what it copies (the chains shared, `Rc<Chain>`; the sets and elements
//! cloned) rather than positions in the table: the table's lists are public, and one changed
//! since it was built would otherwise lend the next build what it no longer made.

use super::model::{Chain, Element, Set};
use super::{cluster_ip_element, Builder};
use crate::cluster::settings::Settings;
use crate::proxy::{kept, KeptPorts, MadeFrom, ServicePort};
use std::rc::Rc;

/// Where one service port's objects end among the ports' (chains, sets and map elements in
/// the table, counted from the first port's): its are those between the port before's end
/// and its own.
#[derive(Clone, Copy)]
struct Ends {
    chains: u32,
    sets: u32,
    map_elements: u32,
    /// Whether its rules are all in its own chains, and no other port's are.
    own: bool,
}

/// What a table keeps for the next build ([`super::model::Table::memo`]).
#[derive(Clone)]
pub(crate) struct Memo {
    settings: Settings,
    kept: KeptPorts,
    /// Port `i`'s objects end at `ends[i]`.
    ends: Vec<Ends>,
    chains: Vec<Rc<Chain>>,
    sets: Vec<Set>,
    /// As (map, element).
    map_elements: Vec<(u8, Element)>,
}

// (Written by hand: a derived one printed every chain, and was code in the site.)
impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Memo({:?})", self.kept)
    }
}

/// A memo being made as the ports are built.
pub(crate) struct Keeping {
    ports: Vec<ServicePort>,
    ends: Vec<Ends>,
    /// Where the fixed objects end: the ports' chains and sets follow.
    first: (usize, usize),
}

impl Keeping {
    /// Starts recording, after the fixed objects, unless `ports` are too many to keep.
    pub(super) fn start(b: &mut Builder, ports: &[ServicePort]) -> Option<Keeping> {
        if !kept(ports) {
            return None;
        }
        b.map_elements = Some(Vec::with_capacity(2 * ports.len()));
        Some(Keeping {
            ports: Vec::with_capacity(ports.len()),
            ends: Vec::with_capacity(ports.len()),
            first: (b.t.chains.len(), b.t.sets.len()),
        })
    }

    /// Keeps `sp`, just built (or copied).
    pub(super) fn keep(&mut self, b: &Builder, sp: ServicePort) {
        self.ends.push(Ends {
            chains: (b.t.chains.len() - self.first.0) as u32,
            sets: (b.t.sets.len() - self.first.1) as u32,
            map_elements: b.map_elements.as_ref().map_or(0, Vec::len) as u32,
            own: !b.foreign,
        });
        self.ports.push(sp);
    }

    /// The memo of a table built with `settings`, `copied` of whose ports were copied.
    pub(super) fn finish(
        mut self,
        b: &mut Builder,
        settings: &Settings,
        made_from: MadeFrom,
        copied: usize,
    ) -> Memo {
        // A port whose chain another port wrote into is not its own to copy either.
        for &chain in &b.written_into {
            // (The fixed chains are never copied.)
            let Some(chain) = chain.checked_sub(self.first.0) else {
                continue;
            };
            let chain = chain as u32;
            let owner = self.ends.partition_point(|e| e.chains <= chain);
            if let Some(e) = self.ends.get_mut(owner) {
                e.own = false;
            }
        }
        let t = &b.t;
        let map_elements = b.map_elements.take().unwrap_or_default();
        Memo {
            settings: settings.clone(),
            kept: KeptPorts {
                ports: self.ports,
                made_from,
                copied,
            },
            ends: self.ends,
            chains: t.chains[self.first.0..].to_vec(),
            sets: t.sets[self.first.1..].to_vec(),
            map_elements: map_elements
                .into_iter()
                .map(|(map, e)| (map, t.maps[map as usize].elements[e as usize].clone()))
                .collect(),
        }
    }
}

impl Memo {
    /// Whether a table built with `settings` may copy from this one: its fixed objects, and
    /// each port's objects, are a function of the settings.
    pub(super) fn built_with(&self, settings: &Settings) -> bool {
        self.settings == *settings
    }

    /// The service ports this table kept.
    pub(crate) fn kept(&self) -> &KeptPorts {
        &self.kept
    }

    /// Builds `sp`, equal to this memo's port `i`, by copying what it made, or returns `None`
    /// having added nothing, when it cannot be: it or another port wrote into a chain not its
    /// own, or a chain of its name is in `b` already.
    pub(super) fn copy(&self, b: &mut Builder, i: usize, sp: &ServicePort) -> Option<()> {
        let to = self.ends.get(i).filter(|e| e.own)?;
        let from = i.checked_sub(1).map_or(
            Ends {
                chains: 0,
                sets: 0,
                map_elements: 0,
                own: true,
            },
            |i| self.ends[i],
        );
        let chains = &self.chains[from.chains as usize..to.chains as usize];
        if chains.iter().any(|c| b.position(&c.name).is_some()) {
            return None;
        }
        for chain in chains {
            b.push_chain(Rc::clone(chain));
        }
        b.t.sets
            .extend_from_slice(&self.sets[from.sets as usize..to.sets as usize]);
        cluster_ip_element(b, sp);
        for (map, element) in
            &self.map_elements[from.map_elements as usize..to.map_elements as usize]
        {
            b.push_map_element(*map as usize, element.clone());
        }
        Some(())
    }
}
