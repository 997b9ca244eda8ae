//! Packet walks through the typed iptables dataplane (the same one the views render): each
//! netfilter hook in order, every rule of every chain evaluated match by match, with a reason;
//! jumps, returns, marks, DNAT and MASQUERADE applied to the packet; conntrack remembering the
//! connection so later packets skip the nat rules.
//!
//! Sans-I/O and deterministic: every random choice (`-m statistic`) comes from a seeded
//! generator that is part of the input.

pub mod maglev;
pub mod nft;
pub mod rng;
pub mod session;

use crate::cluster::settings::Settings;
use crate::iptables::model::{Chain, ChainKind, Dataplane, Match, Rule, TableName, Target};
use crate::iptables::render::{restore_rule, save_rule};
use crate::iptables::Layout;
use crate::net::join_host_port;
use crate::proxy::Protocol;
use rng::Rng;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// The 5-tuple and the bits of state the rules look at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Packet {
    pub protocol: Protocol,
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
    /// The skb mark (KUBE-MARK-MASQ sets 0x4000).
    pub mark: u32,
    /// The interface it arrived on (`None` for a packet a local process sends).
    pub in_interface: Option<String>,
    /// Whether it arrived through a bridge port (pod traffic on a bridge CNI).
    pub bridged: bool,
}

impl std::fmt::Display for Packet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} -> {}",
            self.protocol.lower(),
            join_host_port(self.src, self.sport),
            join_host_port(self.dst, self.dport)
        )?;
        if self.mark != 0 {
            write!(f, " mark {:#x}", self.mark)?;
        }
        Ok(())
    }
}

/// One thing that happened to the packet.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    pub hook: &'static str,
    pub table: &'static str,
    pub chain: String,
    /// The rule as the `restore` view shows it (built-in chains: as `save` shows it); `None` for
    /// a chain's policy or a routing decision.
    pub rule: Option<String>,
    pub matched: bool,
    /// What happened: `jump KUBE-SVC-…`, `DNAT to 172.17.0.3:80`, `no match`, `policy ACCEPT`…
    pub action: String,
    /// The rule (or IPVS server) evaluated, as the views' lines name it
    /// ([`crate::explain::anchor`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchor: Option<String>,
    /// Why it matched or not, match by match.
    pub why: String,
    pub packet: Packet,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Delivered,
    Dropped,
    Rejected,
}

/// A conntrack entry: the original direction and the reply direction after NAT.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConntrackEntry {
    pub protocol: Protocol,
    pub original: (String, String),
    pub reply: (String, String),
    pub dnat: bool,
    pub snat: bool,
}

impl ConntrackEntry {
    /// `conntrack -L` for the entry right after the first packet (`[UNREPLIED]`, the state and
    /// timeout a fresh entry has); the layout of conntrack-tools.
    pub fn line(&self) -> String {
        let split = |hp: &str| -> (String, String) {
            let (h, p) = hp.rsplit_once(':').unwrap();
            (
                h.trim_start_matches('[').trim_end_matches(']').to_string(),
                p.to_string(),
            )
        };
        let (os, osp) = split(&self.original.0);
        let (od, odp) = split(&self.original.1);
        let (rs, rsp) = split(&self.reply.0);
        let (rd, rdp) = split(&self.reply.1);
        let (num, head) = match self.protocol {
            Protocol::Tcp => (6, "120 SYN_SENT "),
            Protocol::Udp => (17, "30 "),
            Protocol::Sctp => (132, "3 CLOSED "),
            Protocol::Icmp => (1, "30 "),
        };
        let ports = |sp: &str, dp: &str| match self.protocol {
            Protocol::Icmp => format!("type=8 code=0 id={sp}"),
            _ => format!("sport={sp} dport={dp}"),
        };
        let reply_ports = match self.protocol {
            Protocol::Icmp => format!("type=0 code=0 id={osp}"),
            _ => format!("sport={rsp} dport={rdp}"),
        };
        format!(
            "{:<8} {num} {head}src={os} dst={od} {} [UNREPLIED] src={rs} dst={rd} {reply_ports} mark=0 use=1",
            self.protocol.lower(),
            ports(&osp, &odp)
        )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trace {
    pub verdict: Verdict,
    /// The endpoint the packet reached, `ip:port`.
    pub endpoint: Option<String>,
    /// The node it was delivered on.
    pub node: Option<String>,
    pub steps: Vec<Step>,
    pub conntrack: Option<ConntrackEntry>,
    /// IPVS mode: the virtual server (`TCP 10.96.0.1:443`) and the real server it chose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipvs: Option<(String, String)>,
}

impl Trace {
    /// What conntrack remembers of a connection's first packet: where it went, not how (a
    /// later packet gets its own step, see [`established`]).
    pub fn without_steps(&self) -> Trace {
        Trace {
            verdict: self.verdict,
            endpoint: self.endpoint.clone(),
            node: self.node.clone(),
            steps: Vec::new(),
            conntrack: self.conntrack.clone(),
            ipvs: self.ipvs.clone(),
        }
    }
}

/// Where a packet enters: from a pod (its interface is the pod's veth), from the node itself,
/// or from outside through the node's uplink.
#[derive(Clone, Debug)]
pub enum Origin {
    Pod { ip: IpAddr },
    Node,
    External { ip: IpAddr },
}

/// A connection's original source, source port, destination, destination port and protocol.
type Tuple = (IpAddr, u16, IpAddr, u16, Protocol);

/// State that outlives one packet: `recent` lists (session affinity) and conntrack.
#[derive(Clone, Debug, Default)]
pub struct State {
    /// `-m recent` lists: name → source addresses seen.
    recent: BTreeMap<crate::iptables::model::Text, BTreeSet<IpAddr>>,
    /// Established connections: original (src, sport, dst, dport) → the NATed packet.
    connections: BTreeMap<Tuple, (Packet, Trace)>,
    /// IPVS: the round-robin position of each virtual server.
    rr: BTreeMap<String, usize>,
    /// IPVS: persistence templates, (client, virtual server) → real server.
    persistent: BTreeMap<(IpAddr, String), String>,
    /// IPVS: connections per real server (for lc / wlc / sed / nq).
    active: BTreeMap<String, usize>,
    /// A walk consulted or changed the `recent` lists: later walks may depend on earlier ones.
    pub(crate) remembered: bool,
}

impl State {
    /// The connection of this packet has closed: its conntrack entry goes (persistence
    /// templates and `recent` lists stay, as in the kernel until they time out).
    pub fn close(&mut self, p: &Packet) {
        self.connections
            .remove(&(p.src, p.sport, p.dst, p.dport, p.protocol));
    }
}

/// What one walk needs about the node.
pub struct Node<'a> {
    pub dataplane: &'a Dataplane,
    pub layout: Layout,
    pub settings: &'a Settings,
    /// The node each endpoint IP lives on (pod IPs, node IPs).
    pub hosts: &'a BTreeMap<IpAddr, String>,
    /// IPVS mode: the virtual servers, ipsets and kube-ipvs0 addresses.
    pub ipvs: Option<&'a crate::ipvs::Ipvs>,
    /// Whether the walk tells its story: each rule's text, the reason for each match and every
    /// step. A simulation of a million connections only counts where they land, so it walks
    /// quietly: the same rules, the same random draws, only the steps that matched and no text.
    pub narrate: bool,
}

/// A match's reason for the reader, written only when the walk narrates.
macro_rules! reason {
    ($narrate:expr, $($arg:tt)*) => {
        if $narrate {
            format!($($arg)*)
        } else {
            String::new()
        }
    };
}

impl Node<'_> {
    /// A local address: on an interface, or (IPVS) bound to kube-ipvs0.
    fn is_local(&self, ip: IpAddr) -> bool {
        self.settings.is_local_address(ip)
            || self
                .ipvs
                .is_some_and(|v| v.bound.iter().any(|b| b.ip == ip))
    }
}

const MAX_STEPS: usize = 100_000;

struct Walk<'a, 'b> {
    node: &'a Node<'b>,
    /// The IPVS virtual server that handled the packet, if any.
    ipvs_vs: Option<(IpAddr, Protocol, u16)>,
    /// … as (virtual server, real server) for the trace.
    ipvs_choice: Option<(String, String)>,
    rng: &'a mut Rng,
    state: &'a mut State,
    steps: Vec<Step>,
    packet: Packet,
    dnat: bool,
    snat: bool,
    /// The rule being evaluated, for the step that reports it.
    anchor: Option<String>,
    /// Steps taken, told or not (a loop of jumps must end).
    taken: usize,
}

enum Outcome {
    /// The hook's chains finished (ACCEPT, or fell off a built-in chain).
    Continue,
    Drop,
    Reject,
}

impl Walk<'_, '_> {
    fn rule_text(&self, chain: &Chain, rule: &Rule) -> String {
        if chain.kind == ChainKind::BuiltIn {
            save_rule(&chain.name, rule, self.node.settings.ipv6)
        } else {
            restore_rule(&chain.name, rule, self.node.layout)
        }
    }

    /// Evaluates one match; the reason is for the reader.
    fn matches(&mut self, m: &Match) -> Result<(bool, String), String> {
        let p = &self.packet;
        let narrate = self.node.narrate;
        Ok(match m {
            Match::Comment { .. } | Match::Nfacct { .. } => (true, String::new()),
            Match::Protocol { protocol } | Match::ProtocolOnly { protocol } => (
                p.protocol == *protocol,
                reason!(
                    narrate,
                    "protocol {} {} {}",
                    p.protocol.lower(),
                    if p.protocol == *protocol {
                        "is"
                    } else {
                        "is not"
                    },
                    protocol.lower()
                ),
            ),
            Match::Source { negated, cidr } => {
                let inside = cidr.contains(p.src);
                (
                    inside != *negated,
                    reason!(
                        narrate,
                        "source {} {} {}",
                        p.src,
                        if inside { "in" } else { "not in" },
                        cidr
                    ),
                )
            }
            Match::Destination { negated, cidr } => {
                let inside = cidr.contains(p.dst);
                (
                    inside != *negated,
                    reason!(
                        narrate,
                        "destination {} {} {}",
                        p.dst,
                        if inside { "in" } else { "not in" },
                        cidr
                    ),
                )
            }
            Match::DestinationPort { port } => (
                p.dport == *port,
                reason!(
                    narrate,
                    "dport {} {} {port}",
                    p.dport,
                    if p.dport == *port { "=" } else { "!=" }
                ),
            ),
            Match::InInterface { negated, name } => {
                let iif = p.in_interface.clone().unwrap_or_default();
                let hit = match name.strip_suffix('+') {
                    Some(prefix) => iif.starts_with(prefix),
                    None => *iif == **name,
                };
                (
                    hit != *negated,
                    reason!(narrate, "in-interface {:?} vs {name}", iif),
                )
            }
            Match::AddrType {
                negated,
                source,
                kind,
            } => {
                let ip = if *source { p.src } else { p.dst };
                let local = &**kind == "LOCAL" && self.node.is_local(ip);
                (
                    local != *negated,
                    reason!(
                        narrate,
                        "{} {ip} is {}a local address",
                        if *source { "source" } else { "destination" },
                        if local { "" } else { "not " }
                    ),
                )
            }
            Match::Mark {
                negated,
                value,
                mask,
            } => {
                let hit = p.mark & mask == *value;
                (
                    hit != *negated,
                    reason!(
                        narrate,
                        "mark {:#x} & {mask:#x} {} {value:#x}",
                        p.mark,
                        if hit { "==" } else { "!=" }
                    ),
                )
            }
            Match::Conntrack { negated, states } => {
                let mut current = vec!["NEW"];
                if self.dnat {
                    current.push("DNAT");
                }
                let hit = states.split(',').any(|st| current.contains(&st));
                (
                    hit != *negated,
                    reason!(narrate, "ctstate {} vs {states}", current.join(",")),
                )
            }
            Match::Statistic { probability } => {
                let pr: f64 = probability
                    .parse()
                    .map_err(|_| format!("probability {probability}"))?;
                let (draw, below) = self.rng.chance(pr);
                (
                    below,
                    reason!(
                        narrate,
                        "random {draw:.4} {} {probability}",
                        if draw < pr { "<" } else { ">=" }
                    ),
                )
            }
            Match::RecentCheck { name, .. } => {
                self.state.remembered = true;
                let seen = self
                    .state
                    .recent
                    .get(&**name)
                    .is_some_and(|s| s.contains(&p.src));
                (
                    seen,
                    reason!(
                        narrate,
                        "{} {} in recent list {name}",
                        p.src,
                        if seen { "is" } else { "is not" }
                    ),
                )
            }
            Match::RecentSet { name } => {
                self.state.remembered = true;
                self.state
                    .recent
                    .entry(name.clone())
                    .or_default()
                    .insert(p.src);
                (
                    true,
                    reason!(narrate, "{} recorded in recent list {name}", p.src),
                )
            }
            Match::PhysdevNotIn => (
                !p.bridged,
                reason!(
                    narrate,
                    "{}arrived through a bridge port",
                    if p.bridged { "" } else { "not " }
                ),
            ),
            Match::Set { name, flags } => {
                let ipvs = self
                    .node
                    .ipvs
                    .ok_or_else(|| format!("--match-set {name} outside IPVS mode"))?;
                let set = ipvs
                    .ipsets
                    .iter()
                    .find(|x| *x.name == **name)
                    .ok_or_else(|| format!("no ipset {name}"))?;
                let pick = |dir: &str, i: usize| -> String {
                    match (dir, i) {
                        ("dst", 0) => p.dst.to_string(),
                        ("src", 0) => p.src.to_string(),
                        ("dst", _) => format!("{}:{}", p.protocol.lower(), p.dport),
                        ("src", _) => p.src.to_string(),
                        _ => String::new(),
                    }
                };
                let dirs: Vec<&str> = flags.split(',').collect();
                let hit = match set.kind {
                    "bitmap:port" => set.entries.iter().any(|e| e.text == p.dport.to_string()),
                    "hash:ip" => set.entries.iter().any(|e| e.text == pick(dirs[0], 0)),
                    "hash:ip,port" => {
                        let key = if dirs[0] == "src" {
                            format!("{},{}:{}", p.src, p.protocol.lower(), p.dport)
                        } else {
                            format!("{},{}", pick(dirs[0], 0), pick(dirs[1], 1))
                        };
                        set.entries.iter().any(|e| e.text == key)
                    }
                    "hash:ip,port,ip" => set.entries.iter().any(|e| {
                        e.text == format!("{},{}:{},{}", p.dst, p.protocol.lower(), p.dport, p.src)
                    }),
                    "hash:ip,port,net" => set.entries.iter().any(|e| {
                        let prefix = format!("{},{}:{},", p.dst, p.protocol.lower(), p.dport);
                        e.text
                            .strip_prefix(&prefix)
                            .and_then(crate::net::Cidr::parse)
                            .is_some_and(|c| c.contains(p.src))
                    }),
                    other => return Err(format!("ipset type {other}")),
                };
                (
                    hit,
                    reason!(
                        narrate,
                        "{} in set {name} ({flags}): {}",
                        if hit { "found" } else { "not found" },
                        set.kind
                    ),
                )
            }
            Match::Ipvs {
                vaddr,
                vproto,
                vport,
            } => {
                let hit = self
                    .ipvs_vs
                    .as_ref()
                    .is_some_and(|(ip, pr, port)| ip == vaddr && pr == vproto && port == vport);
                (
                    hit,
                    reason!(
                        narrate,
                        "IPVS virtual server {vaddr}:{vport} {}",
                        if hit {
                            "handled it"
                        } else {
                            "did not handle it"
                        }
                    ),
                )
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        hook: &'static str,
        table: TableName,
        chain: &str,
        rule: Option<String>,
        matched: bool,
        action: String,
        why: String,
    ) -> Result<(), String> {
        self.taken += 1;
        if self.taken >= MAX_STEPS {
            return Err("the walk did not terminate".into());
        }
        if !self.node.narrate && !matched {
            return Ok(());
        }
        self.steps.push(Step {
            hook,
            table: table.as_str(),
            chain: chain.to_string(),
            rule,
            matched,
            action,
            anchor: self.anchor.take(),
            why,
            packet: self.packet.clone(),
        });
        Ok(())
    }

    /// Runs a built-in chain of a table, following jumps; returns how the hook ends.
    fn run(
        &mut self,
        hook: &'static str,
        table: TableName,
        builtin: &str,
    ) -> Result<Outcome, String> {
        let dp = self.node.dataplane;
        let Some(t) = dp.table(table) else {
            return Ok(Outcome::Continue);
        };
        let Some(start) = t.chain(builtin) else {
            return Ok(Outcome::Continue);
        };
        // (chain, next rule index)
        let mut stack: Vec<(&Chain, usize)> = vec![(start, 0)];
        while let Some((chain, i)) = stack.pop() {
            let Some(rule) = chain.rules.get(i) else {
                if chain.kind == ChainKind::BuiltIn {
                    self.step(
                        hook,
                        table,
                        &chain.name,
                        None,
                        false,
                        "policy ACCEPT".into(),
                        "end of the built-in chain".into(),
                    )?;
                    return Ok(Outcome::Continue);
                }
                // Falling off a user chain returns to the caller.
                continue;
            };
            let text = if self.node.narrate {
                self.anchor = Some(crate::explain::anchor::iptables(
                    table.as_str(),
                    &chain.name,
                    i,
                ));
                self.rule_text(chain, rule)
            } else {
                String::new()
            };
            let mut reasons = Vec::new();
            let mut all = true;
            for m in rule.matches.iter() {
                let (hit, why) = self.matches(m)?;
                if !why.is_empty() {
                    reasons.push(why);
                }
                if !hit {
                    all = false;
                    break;
                }
            }
            let why = reasons.join("; ");
            if !all {
                self.step(
                    hook,
                    table,
                    &chain.name,
                    Some(text),
                    false,
                    "no match".into(),
                    why,
                )?;
                stack.push((chain, i + 1));
                continue;
            }
            match &rule.target {
                None => {
                    self.step(
                        hook,
                        table,
                        &chain.name,
                        Some(text),
                        true,
                        "no target: continue".into(),
                        why,
                    )?;
                    stack.push((chain, i + 1));
                }
                Some(Target::Jump { chain: to }) => {
                    let next = t
                        .chain(to)
                        .ok_or_else(|| format!("jump to missing chain {to}"))?;
                    self.step(
                        hook,
                        table,
                        &chain.name,
                        Some(text),
                        true,
                        reason!(self.node.narrate, "jump {to}"),
                        why,
                    )?;
                    stack.push((chain, i + 1));
                    stack.push((next, 0));
                }
                Some(Target::Return) => {
                    self.step(
                        hook,
                        table,
                        &chain.name,
                        Some(text),
                        true,
                        "RETURN".into(),
                        why,
                    )?;
                    if chain.kind == ChainKind::BuiltIn {
                        return Ok(Outcome::Continue);
                    }
                }
                Some(Target::Accept) => {
                    self.step(
                        hook,
                        table,
                        &chain.name,
                        Some(text),
                        true,
                        "ACCEPT".into(),
                        why,
                    )?;
                    return Ok(Outcome::Continue);
                }
                Some(Target::Drop) => {
                    self.step(
                        hook,
                        table,
                        &chain.name,
                        Some(text),
                        true,
                        "DROP".into(),
                        why,
                    )?;
                    return Ok(Outcome::Drop);
                }
                Some(Target::Reject) => {
                    self.step(
                        hook,
                        table,
                        &chain.name,
                        Some(text),
                        true,
                        "REJECT".into(),
                        why,
                    )?;
                    return Ok(Outcome::Reject);
                }
                Some(Target::Dnat { to }) => {
                    let (ip, port) = to.rsplit_once(':').ok_or("DNAT target")?;
                    self.packet.dst = ip
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse()
                        .map_err(|_| "DNAT address")?;
                    self.packet.dport = port.parse().map_err(|_| "DNAT port")?;
                    self.dnat = true;
                    self.step(
                        hook,
                        table,
                        &chain.name,
                        Some(text),
                        true,
                        reason!(self.node.narrate, "DNAT to {to}"),
                        why,
                    )?;
                    // A NAT target is terminal for the nat table.
                    return Ok(Outcome::Continue);
                }
                Some(Target::Masquerade { .. }) => {
                    let node_ip = self
                        .node
                        .settings
                        .node_ip
                        .ok_or("MASQUERADE needs the node's IP")?;
                    self.packet.src = node_ip;
                    self.snat = true;
                    self.step(
                        hook,
                        table,
                        &chain.name,
                        Some(text),
                        true,
                        reason!(self.node.narrate, "MASQUERADE to {node_ip}"),
                        why,
                    )?;
                    return Ok(Outcome::Continue);
                }
                Some(Target::MarkOr { mark }) => {
                    self.packet.mark |= mark;
                    self.step(
                        hook,
                        table,
                        &chain.name,
                        Some(text),
                        true,
                        reason!(self.node.narrate, "MARK or {mark:#x}"),
                        why,
                    )?;
                    stack.push((chain, i + 1));
                }
                Some(Target::MarkXor { mark }) => {
                    self.packet.mark ^= mark;
                    self.step(
                        hook,
                        table,
                        &chain.name,
                        Some(text),
                        true,
                        reason!(self.node.narrate, "MARK xor {mark:#x}"),
                        why,
                    )?;
                    stack.push((chain, i + 1));
                }
                Some(Target::MarkSet { value, mask }) => {
                    self.packet.mark = (self.packet.mark & !mask) ^ value;
                    self.step(
                        hook,
                        table,
                        &chain.name,
                        Some(text),
                        true,
                        reason!(self.node.narrate, "MARK set {value:#x}/{mask:#x}"),
                        why,
                    )?;
                    stack.push((chain, i + 1));
                }
            }
        }
        Ok(Outcome::Continue)
    }
}

/// Whether nothing in the cluster holds `dst` (not local, no pod or node has it): a Service
/// address kube-proxy did not translate goes out the default route, unanswered.
pub(crate) fn nowhere(
    dst: IpAddr,
    is_local: impl Fn(IpAddr) -> bool,
    hosts: &BTreeMap<IpAddr, String>,
) -> bool {
    !is_local(dst) && !hosts.contains_key(&dst)
}

/// The way back: the endpoint answers, conntrack reverses DNAT and SNAT, and the client sees
/// the address it asked for.
pub(crate) fn reply_steps(original: &Packet, translated: &Packet) -> Vec<Step> {
    let reply = Packet {
        protocol: translated.protocol,
        src: translated.dst,
        sport: translated.dport,
        dst: translated.src,
        dport: translated.sport,
        mark: 0,
        in_interface: None,
        bridged: false,
    };
    let seen = Packet {
        src: original.dst,
        sport: original.dport,
        dst: original.src,
        dport: original.sport,
        ..reply.clone()
    };
    vec![
        Step {
            hook: "reply",
            table: "-",
            chain: "-".into(),
            rule: None,
            matched: true,
            action: format!("the endpoint answers: {reply}"),
            why: String::new(),
            anchor: None,
            packet: reply,
        },
        Step {
            hook: "reply",
            table: "-",
            chain: "conntrack".into(),
            rule: None,
            matched: true,
            action: format!("conntrack reverses the NAT: the client sees {seen}"),
            why: "the reply matches the connection's reply tuple".into(),
            anchor: None,
            packet: seen,
        },
    ]
}

/// A later packet of a known connection: conntrack translates it, no rule is walked.
pub fn established(state: &State, packet: &Packet) -> Option<Trace> {
    let key = (
        packet.src,
        packet.sport,
        packet.dst,
        packet.dport,
        packet.protocol,
    );
    let (translated, first) = state.connections.get(&key)?;
    let mut trace = first.clone();
    trace.steps = vec![Step {
        hook: "conntrack",
        table: "-",
        chain: "-".to_string(),
        rule: None,
        matched: true,
        action: format!(
            "established connection: translated to {translated} without walking the nat rules"
        ),
        why: "conntrack has this connection".into(),
        anchor: None,
        packet: translated.clone(),
    }];
    Some(trace)
}

/// Walks the first packet of a new connection (or a later packet of a known one, which
/// conntrack translates without the nat rules).
pub fn walk(
    node: &Node,
    origin: &Origin,
    packet: Packet,
    rng: &mut Rng,
    state: &mut State,
) -> Result<Trace, String> {
    let key = (
        packet.src,
        packet.sport,
        packet.dst,
        packet.dport,
        packet.protocol,
    );
    if let Some(trace) = established(state, &packet) {
        return Ok(trace);
    }
    let original = packet.clone();
    let mut w = Walk {
        node,
        ipvs_vs: None,
        ipvs_choice: None,
        rng,
        state,
        steps: Vec::new(),
        packet,
        dnat: false,
        snat: false,
        anchor: None,
        taken: 0,
    };
    let local_process = matches!(origin, Origin::Node);
    let outcome = |o: Outcome, w: &Walk| -> Option<Verdict> {
        match o {
            Outcome::Continue => None,
            Outcome::Drop => Some(Verdict::Dropped),
            Outcome::Reject => Some(Verdict::Rejected),
        }
        .filter(|_| w.taken > 0)
    };
    let hooks: Vec<(&'static str, TableName, &str)> = if local_process {
        vec![
            ("OUTPUT", TableName::Nat, "OUTPUT"),
            ("OUTPUT", TableName::Filter, "OUTPUT"),
        ]
    } else {
        vec![("PREROUTING", TableName::Nat, "PREROUTING")]
    };
    let mut verdict = None;
    for (hook, table, chain) in hooks {
        let o = w.run(hook, table, chain)?;
        if let Some(v) = outcome(o, &w) {
            verdict = Some(v);
            break;
        }
    }
    if verdict.is_none() {
        // Routing: a local destination goes up to INPUT, anything else is forwarded.
        let local = w.node.is_local(w.packet.dst);
        if !local_process {
            let hook = if local { "INPUT" } else { "FORWARD" };
            w.step(
                hook,
                TableName::Filter,
                "-",
                None,
                true,
                format!(
                    "route: {} is {}",
                    w.packet.dst,
                    if local { "local" } else { "not local: forward" }
                ),
                String::new(),
            )?;
            let o = w.run(hook, TableName::Filter, hook)?;
            verdict = outcome(o, &w);
        }
    }
    // IPVS hooks in after the filter table: a virtual server on a local address takes the
    // packet and sends it to a real server.
    if verdict.is_none() {
        if let Some(ipvs) = w.node.ipvs {
            verdict = ipvs_schedule(&mut w, ipvs, local_process)?;
        }
    }
    if verdict.is_none() && !(w.node.is_local(w.packet.dst) && !local_process && !w.dnat) {
        let o = w.run("POSTROUTING", TableName::Nat, "POSTROUTING")?;
        verdict = outcome(o, &w);
    }
    let mut verdict = verdict.unwrap_or(Verdict::Delivered);
    if verdict == Verdict::Delivered
        && nowhere(w.packet.dst, |ip| w.node.is_local(ip), w.node.hosts)
    {
        w.step(
            "routing",
            TableName::Filter,
            "-",
            None,
            true,
            format!(
                "no node or pod has {}: the packet leaves by the default route and nothing answers",
                w.packet.dst
            ),
            String::new(),
        )?;
        verdict = Verdict::Dropped;
    }
    let delivered_to = (verdict == Verdict::Delivered).then_some(w.packet.dst);
    let node_name = delivered_to.map(|ip| {
        w.node
            .hosts
            .get(&ip)
            .cloned()
            .unwrap_or_else(|| w.node.settings.node_name.clone())
    });
    let endpoint = (verdict == Verdict::Delivered && w.dnat)
        .then(|| join_host_port(w.packet.dst, w.packet.dport));
    let conntrack = (verdict == Verdict::Delivered && w.node.narrate).then(|| ConntrackEntry {
        protocol: original.protocol,
        original: (
            join_host_port(original.src, original.sport),
            join_host_port(original.dst, original.dport),
        ),
        reply: (
            join_host_port(w.packet.dst, w.packet.dport),
            join_host_port(w.packet.src, w.packet.sport),
        ),
        dnat: w.dnat,
        snat: w.snat,
    });
    let ipvs = w.ipvs_choice.take();
    let mut steps = w.steps;
    if verdict == Verdict::Delivered && (w.dnat || w.snat) && w.node.narrate {
        steps.extend(reply_steps(&original, &w.packet));
    }
    let trace = Trace {
        verdict,
        endpoint,
        node: node_name,
        steps,
        conntrack,
        ipvs,
    };
    if verdict == Verdict::Delivered {
        w.state
            .connections
            .insert(key, (w.packet.clone(), trace.without_steps()));
    }
    Ok(trace)
}

/// IPVS at LOCAL_IN / LOCAL_OUT: find the virtual server, pick a real server with its
/// scheduler (and persistence), DNAT to it.
fn ipvs_schedule(
    w: &mut Walk,
    ipvs: &crate::ipvs::Ipvs,
    local_process: bool,
) -> Result<Option<Verdict>, String> {
    let p = w.packet.clone();
    let Some(vs) = ipvs
        .services
        .iter()
        .find(|v| v.protocol == p.protocol && v.ip == p.dst && v.port == p.dport)
    else {
        return Ok(None);
    };
    let hook = if local_process { "OUTPUT" } else { "INPUT" };
    let key = format!("{} {}", vs.protocol.upper(), join_host_port(vs.ip, vs.port));
    if vs.reals.is_empty() {
        w.step(
            hook,
            TableName::Filter,
            "IPVS",
            None,
            true,
            // ip_vs_leave(): no destination, so IPVS answers ICMP port unreachable itself.
            format!("virtual server {key} has no real server: IPVS answers ICMP port unreachable and drops the packet"),
            String::new(),
        )?;
        return Ok(Some(Verdict::Rejected));
    }
    let reals: Vec<String> = vs
        .reals
        .iter()
        .map(|r| join_host_port(r.ip, r.port))
        .collect();
    let persistent = vs.flags & crate::ipvs::FLAG_PERSISTENT != 0;
    let template = persistent
        .then(|| w.state.persistent.get(&(p.src, key.clone())).cloned())
        .flatten();
    let (chosen, why) = if let Some(t) = template.filter(|t| reals.contains(t)) {
        (
            t,
            format!(
                "persistence template for {} (persistent {})",
                p.src, vs.timeout
            ),
        )
    } else {
        let i = match vs.scheduler.as_str() {
            "lc" | "wlc" | "sed" | "nq" => {
                let (i, _) = reals
                    .iter()
                    .enumerate()
                    .min_by_key(|(i, r)| (w.state.active.get(*r).copied().unwrap_or(0), *i))
                    .unwrap();
                i
            }
            "sh" => {
                // ip_vs_sh: 256 buckets dealt to the real servers in turn (weight 1 each), the
                // bucket of a client is hash_32(source, 8); the port joins in with sh-port.
                let port = if vs.flags & crate::ipvs::FLAG_SCHED2 != 0 {
                    p.sport as u32
                } else {
                    0
                };
                let addr = match p.src {
                    IpAddr::V4(a) => u32::from(a),
                    IpAddr::V6(a) => a.octets().chunks(4).fold(0u32, |acc, c| {
                        acc ^ u32::from_be_bytes([c[0], c[1], c[2], c[3]])
                    }),
                };
                let bucket = (port.wrapping_add(addr).wrapping_mul(0x61C8_8647) >> 24) as usize;
                bucket % reals.len()
            }
            "mh" => {
                // Maglev, as ip_vs_mh fills and reads its table. kube-proxy adds real servers in
                // Go set order (random), so a node's table can differ; kpx adds them sorted.
                let addrs: Vec<(IpAddr, u16)> = vs.reals.iter().map(|r| (r.ip, r.port)).collect();
                let port = if vs.flags & crate::ipvs::FLAG_SCHED2 != 0 {
                    p.sport
                } else {
                    0
                };
                maglev::pick(&maglev::table(&addrs), p.src, port)
            }
            // dh: a stable hash of the destination stands in for ip_vs_dh's table.
            "dh" => {
                let h = crate::cluster::fnv1a(
                    if vs.scheduler == "dh" {
                        p.dst.to_string()
                    } else {
                        p.src.to_string()
                    }
                    .as_bytes(),
                );
                (h % reals.len() as u64) as usize
            }
            _ => {
                let n = w.state.rr.entry(key.clone()).or_insert(0);
                let i = *n % reals.len();
                *n += 1;
                i
            }
        };
        (reals[i].clone(), format!("scheduler {}", vs.scheduler))
    };
    if persistent {
        w.state
            .persistent
            .insert((p.src, key.clone()), chosen.clone());
    }
    *w.state.active.entry(chosen.clone()).or_default() += 1;
    let (ip, port) = chosen.rsplit_once(':').unwrap();
    w.packet.dst = ip
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .unwrap();
    w.packet.dport = port.parse().unwrap();
    w.dnat = true;
    w.ipvs_vs = Some((vs.ip, vs.protocol, vs.port));
    w.ipvs_choice = Some((key.clone(), chosen.clone()));
    w.anchor = Some(crate::explain::anchor::ipvs_real(
        vs.protocol,
        vs.ip,
        vs.port,
        w.packet.dst,
        w.packet.dport,
    ));
    w.step(
        hook,
        TableName::Filter,
        "IPVS",
        None,
        true,
        format!("virtual server {key} -> real server {chosen} (Masq)"),
        why,
    )?;
    Ok(None)
}
