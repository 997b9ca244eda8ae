//! Building again after an edit, as `iptables::reuse` does for iptables mode: a built table
//! keeps the service ports it was built from and where each one's chains, affinity sets and
//! map elements are in it, so the next build copies those of every port the edit did not
//! change instead of making them again (a key typed at 1,000 Services changes one of them; the
//! names are not hashed again, nor the rules written).
//!
//! A port's chains and sets follow one another in the table, each list in build order, and its
//! rules are written into its own chains only (checked as it is built: [`Ends::own`]; a table
//! one of whose ports did not keeps no memo). Its map
//! elements are recorded one by one, as they sit among other ports' in a shared map. Its
//! ClusterIP's element of `@cluster-ips` is made again, not copied: the set holds an address
//! once, for the first port of that address, and that port may be another after the edit.
//! Copies are made in the order a fresh build makes them, so the table is the one a fresh
//! build makes (a property test holds every view of one to the other's).

use super::{cluster_ip_element, Builder, Table};
use crate::cluster::settings::Settings;
use crate::proxy::{kept, MadeFrom, ServicePort};
use std::rc::Rc;

/// Where one service port's objects end in the table built: its chains are those between the
/// port before's end and its own, likewise its sets and map elements.
#[derive(Clone, Copy)]
struct Ends {
    chains: u32,
    sets: u32,
    map_elements: u32,
    /// Whether its rules are all in its own chains, which were all new (a port of another's
    /// name writes into that one's).
    own: bool,
}

impl Ends {
    fn of(b: &Builder, map_elements: usize) -> Self {
        Ends {
            chains: b.t.chains.len() as u32,
            sets: b.t.sets.len() as u32,
            map_elements: map_elements as u32,
            own: !b.foreign,
        }
    }
}

/// What a table keeps for the next build ([`Table::memo`]).
#[derive(Clone)]
pub(crate) struct Memo {
    settings: Settings,
    ports: Vec<ServicePort>,
    /// What each Service's ports were made from (the next service port map copies them).
    made_from: MadeFrom,
    /// Port `i`'s objects end at `ends[i + 1]`; `ends[0]` is where the fixed objects end.
    ends: Vec<Ends>,
    /// The map elements added for the ports, as (map, element).
    map_elements: Vec<(u8, u32)>,
    /// How many ports this build copied from the one before (tests and benchmarks say it).
    copied: usize,
}

// (Written by hand: a derived one printed every port, and was code in the site.)
impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Memo({} ports, {} copied)",
            self.ports.len(),
            self.copied
        )
    }
}

/// A memo being made as the ports are built.
pub(crate) struct Keeping {
    ports: Vec<ServicePort>,
    ends: Vec<Ends>,
}

impl Keeping {
    /// Starts recording, after the fixed objects, unless `ports` are too many to keep.
    pub(super) fn start(b: &mut Builder, ports: &[ServicePort]) -> Option<Keeping> {
        if !kept(ports) {
            return None;
        }
        b.map_elements = Some(Vec::with_capacity(2 * ports.len()));
        let mut ends = Vec::with_capacity(ports.len() + 1);
        ends.push(Ends::of(b, 0));
        Some(Keeping {
            ports: Vec::with_capacity(ports.len()),
            ends,
        })
    }

    /// Keeps `sp`, just built (or copied).
    pub(super) fn keep(&mut self, b: &Builder, sp: ServicePort) {
        let added = b.map_elements.as_ref().map_or(0, Vec::len);
        self.ends.push(Ends::of(b, added));
        self.ports.push(sp);
    }

    /// The memo, of a table built with `settings`, `copied` of whose ports were copied; none
    /// if a port wrote into another's chains (two unnamed ports of one Service, which kpx
    /// only warns about, have one name): that other's chains are not its own to copy.
    pub(super) fn finish(
        self,
        b: &mut Builder,
        settings: &Settings,
        made_from: MadeFrom,
        copied: usize,
    ) -> Option<Memo> {
        let map_elements = b.map_elements.take().unwrap_or_default();
        // (`ends[0]` is the fixed objects', some of whose chains are declared twice.)
        self.ends[1..].iter().all(|e| e.own).then(|| Memo {
            settings: settings.clone(),
            ports: self.ports,
            made_from,
            ends: self.ends,
            map_elements,
            copied,
        })
    }
}

impl Memo {
    /// Whether a table built with `settings` may copy from this one: its fixed objects, and
    /// each port's objects, are a function of the settings.
    pub(super) fn built_with(&self, settings: &Settings) -> bool {
        self.settings == *settings
    }

    pub(super) fn ports(&self) -> &[ServicePort] {
        &self.ports
    }

    /// The service port map this table was built from, and what that was made from.
    pub(super) fn port_map(&self) -> (&[ServicePort], &MadeFrom) {
        (&self.ports, &self.made_from)
    }

    pub fn ports_copied(&self) -> usize {
        self.copied
    }

    /// Builds `sp`, equal to this memo's port `i`, by copying what it made in `before` (the
    /// table this memo is of), or returns `None` having added nothing, when it cannot be: a
    /// chain of its name is in `b` already, or `before` no longer holds what this memo says
    /// (its lists are public).
    pub(super) fn copy(
        &self,
        b: &mut Builder,
        before: &Table,
        i: usize,
        sp: &ServicePort,
    ) -> Option<()> {
        let (from, to) = (self.ends.get(i)?, self.ends.get(i + 1)?);
        let chains = before
            .chains
            .get(from.chains as usize..to.chains as usize)?;
        let sets = before.sets.get(from.sets as usize..to.sets as usize)?;
        let elements = self
            .map_elements
            .get(from.map_elements as usize..to.map_elements as usize)?;
        // (The maps are the fixed objects', the same in both under the same settings.)
        let element = |&(map, e): &(u8, u32)| {
            let element = before.maps.get(map as usize)?.elements.get(e as usize)?;
            Some((map as usize, element))
        };
        let maps = b.t.maps.len();
        if chains.iter().any(|c| b.position(&c.name).is_some())
            || !elements
                .iter()
                .all(|e| element(e).is_some_and(|(m, _)| m < maps))
        {
            return None;
        }
        for chain in chains {
            b.push_chain(Rc::clone(chain));
        }
        b.t.sets.extend_from_slice(sets);
        cluster_ip_element(b, sp);
        for (map, element) in elements.iter().filter_map(element) {
            b.push_map_element(map, element.clone());
        }
        Some(())
    }
}
