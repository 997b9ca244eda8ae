//! Packet walks in nftables mode: kube-proxy's `kube-proxy` table interpreted rule by rule
//! from the same text the `nft` view prints (the handful of expression forms kube-proxy
//! writes), base chains in priority order, verdict maps looked up, `numgen random mod N` drawn
//! from the seeded generator. A rule the interpreter does not understand is an error.

use super::rng::Rng;
use super::{Packet, State, Step, Verdict};
use crate::iptables::model::TableName;
use crate::net::Cidr;
use crate::nftables::model::{Chain, Table};
use std::net::IpAddr;

pub(crate) struct NftWalk<'a> {
    pub table: &'a Table,
    pub is_local: &'a dyn Fn(IpAddr) -> bool,
    pub node_ip: Option<IpAddr>,
    pub rng: &'a mut Rng,
    pub state: &'a mut State,
    pub steps: Vec<Step>,
    pub packet: Packet,
    pub dnat: bool,
    pub snat: bool,
}

enum Flow {
    Next,
    Jump(String),
    Goto(String),
    Return,
    Accept,
    Drop,
    Reject,
}

impl NftWalk<'_> {
    fn proto(&self) -> &'static str {
        self.packet.protocol.lower()
    }

    fn addr_matches(&self, value: &str, ip: IpAddr) -> Result<bool, String> {
        if let Some(set) = value.strip_prefix('@') {
            let s = self
                .table
                .sets
                .iter()
                .find(|s| s.name == set)
                .ok_or_else(|| format!("no set {set}"))?;
            return Ok(s.elements.iter().any(|e| e.key == ip.to_string())
                || self.state.recent.get(set).is_some_and(|r| r.contains(&ip)));
        }
        let inner = value.trim_start_matches("{ ").trim_end_matches(" }");
        Ok(inner
            .split(", ")
            .any(|v| Cidr::parse(v).is_some_and(|c| c.contains(ip))))
    }

    fn lookup(&mut self, map: &str, key: &str) -> Result<Option<String>, String> {
        let m = self
            .table
            .maps
            .iter()
            .find(|m| m.name == map)
            .ok_or_else(|| format!("no map {map}"))?;
        Ok(m.elements
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.clone()))
    }

    fn verdict(v: &str) -> Flow {
        let mut w = v.split_whitespace();
        match (w.next(), w.next()) {
            (Some("goto"), Some(c)) => Flow::Goto(c.into()),
            (Some("jump"), Some(c)) => Flow::Jump(c.into()),
            (Some("drop"), _) => Flow::Drop,
            (Some("accept"), _) => Flow::Accept,
            (Some("return"), _) => Flow::Return,
            _ => Flow::Reject,
        }
    }

    /// Interprets one rule: whether it matched, what it does, and why.
    fn rule(&mut self, text: &str) -> Result<(bool, Flow, String), String> {
        let t: Vec<&str> = text.split(' ').collect();
        let mut i = 0;
        let mut why = Vec::new();
        let x = if self.packet.dst.is_ipv6() {
            "ip6"
        } else {
            "ip"
        };
        // The rest of the text from token k on.
        let rest = |k: usize| t[k..].join(" ");
        while i < t.len() {
            match t[i] {
                w if w == x && t.get(i + 1) == Some(&"daddr") && t.get(i + 2) == Some(&".") => {
                    // ip daddr . meta l4proto . th dport vmap @map
                    let map = t
                        .get(i + 9)
                        .and_then(|m| m.strip_prefix('@'))
                        .ok_or("vmap")?;
                    let key = format!(
                        "{} . {} . {}",
                        self.packet.dst,
                        self.proto(),
                        self.packet.dport
                    );
                    return Ok(match self.lookup(map, &key)? {
                        Some(v) => (
                            true,
                            Self::verdict(&v),
                            format!("{key} found in @{map}: {v}"),
                        ),
                        None => (false, Flow::Next, format!("{key} not in @{map}")),
                    });
                }
                "meta" if t.get(i + 1) == Some(&"l4proto") && t.get(i + 2) == Some(&".") => {
                    let map = t
                        .get(i + 6)
                        .and_then(|m| m.strip_prefix('@'))
                        .ok_or("vmap")?;
                    let key = format!("{} . {}", self.proto(), self.packet.dport);
                    return Ok(match self.lookup(map, &key)? {
                        Some(v) => (
                            true,
                            Self::verdict(&v),
                            format!("{key} found in @{map}: {v}"),
                        ),
                        None => (false, Flow::Next, format!("{key} not in @{map}")),
                    });
                }
                "meta" if t.get(i + 1) == Some(&"l4proto") => {
                    let want = t.get(i + 2).ok_or("l4proto")?;
                    if *want != self.proto() {
                        return Ok((
                            false,
                            Flow::Next,
                            format!("protocol {} is not {want}", self.proto()),
                        ));
                    }
                    i += 3;
                }
                w if (w == x) && matches!(t.get(i + 1), Some(&"daddr") | Some(&"saddr")) => {
                    let dst = t[i + 1] == "daddr";
                    let ip = if dst {
                        self.packet.dst
                    } else {
                        self.packet.src
                    };
                    let mut k = i + 2;
                    let negated = t.get(k) == Some(&"!=");
                    if negated {
                        k += 1;
                    }
                    let (value, next) = if t.get(k) == Some(&"{") {
                        let end = (k..t.len()).find(|&j| t[j] == "}").ok_or("set")?;
                        (t[k..=end].join(" "), end + 1)
                    } else {
                        (t.get(k).ok_or("address")?.to_string(), k + 1)
                    };
                    let hit = self.addr_matches(&value, ip)? != negated;
                    why.push(format!(
                        "{} {ip} {}{value}",
                        if dst { "daddr" } else { "saddr" },
                        if negated { "!= " } else { "in " }
                    ));
                    if !hit {
                        return Ok((false, Flow::Next, why.join("; ")));
                    }
                    i = next;
                }
                "fib" => {
                    // fib saddr|daddr type local
                    let ip = if t.get(i + 1) == Some(&"saddr") {
                        self.packet.src
                    } else {
                        self.packet.dst
                    };
                    let local = (self.is_local)(ip);
                    why.push(format!("{ip} is {}local", if local { "" } else { "not " }));
                    if !local {
                        return Ok((false, Flow::Next, why.join("; ")));
                    }
                    i += 4;
                }
                "ct" => i += 3, // ct state new: the first packet of a connection
                "iifname" => {
                    let negated = t.get(i + 1) == Some(&"!=");
                    let name = t[if negated { i + 2 } else { i + 1 }];
                    let iif = self.packet.in_interface.clone().unwrap_or_default();
                    let hit = match name.strip_suffix('*') {
                        Some(p) => iif.starts_with(p),
                        None => iif == name,
                    } != negated;
                    if !hit {
                        return Ok((false, Flow::Next, format!("iifname {iif:?}")));
                    }
                    i += if negated { 3 } else { 2 };
                }
                "numgen" => {
                    let n: u64 = t.get(i + 3).and_then(|n| n.parse().ok()).ok_or("numgen")?;
                    let draw = (self.rng.next_u64() % n) as usize;
                    let inner = rest(i + 5);
                    let inner = inner.trim_start_matches("{ ").trim_end_matches(" }");
                    let choice = inner
                        .split(" , ")
                        .find(|e| e.starts_with(&format!("{draw} : ")))
                        .ok_or("numgen element")?;
                    let v = choice.split_once(" : ").unwrap().1;
                    return Ok((true, Self::verdict(v), format!("numgen drew {draw} of {n}")));
                }
                "mark" if t.get(i + 1) == Some(&"and") => {
                    let m = u32::from_str_radix(t[i + 2].trim_start_matches("0x"), 16)
                        .map_err(|_| "mark")?;
                    let hit = self.packet.mark & m == 0;
                    if !hit {
                        return Ok((
                            false,
                            Flow::Next,
                            format!("mark {:#x} & {m:#x} != 0", self.packet.mark),
                        ));
                    }
                    i += 5;
                }
                "mark" if t.get(i + 1) == Some(&"set") => {
                    let m = u32::from_str_radix(t[i + 4].trim_start_matches("0x"), 16)
                        .map_err(|_| "mark")?;
                    if t[i + 3] == "or" {
                        self.packet.mark |= m;
                    } else {
                        self.packet.mark ^= m;
                    }
                    return Ok((
                        true,
                        Flow::Next,
                        format!("mark now {:#x}", self.packet.mark),
                    ));
                }
                "update" => {
                    let set = t[i + 1].trim_start_matches('@');
                    self.state
                        .recent
                        .entry(set.into())
                        .or_default()
                        .insert(self.packet.src);
                    why.push(format!("{} added to @{set}", self.packet.src));
                    i += 6;
                }
                "dnat" => {
                    let to = t.get(i + 2).ok_or("dnat")?;
                    let (ip, port) = to.rsplit_once(':').ok_or("dnat target")?;
                    self.packet.dst = ip
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse()
                        .map_err(|_| "dnat address")?;
                    self.packet.dport = port.parse().map_err(|_| "dnat port")?;
                    self.dnat = true;
                    return Ok((true, Flow::Accept, format!("DNAT to {to}")));
                }
                "masquerade" => {
                    let ip = self.node_ip.ok_or("masquerade needs the node's IP")?;
                    self.packet.src = ip;
                    self.snat = true;
                    return Ok((true, Flow::Accept, format!("masquerade to {ip}")));
                }
                "jump" => return Ok((true, Flow::Jump(t[i + 1].into()), why.join("; "))),
                "goto" => return Ok((true, Flow::Goto(t[i + 1].into()), why.join("; "))),
                "return" => return Ok((true, Flow::Return, why.join("; "))),
                "drop" => return Ok((true, Flow::Drop, why.join("; "))),
                "reject" => return Ok((true, Flow::Reject, why.join("; "))),
                "accept" => return Ok((true, Flow::Accept, why.join("; "))),
                "comment" => break,
                other => {
                    return Err(format!(
                        "the nftables walk cannot evaluate {other:?} in: {text}"
                    ))
                }
            }
        }
        Ok((true, Flow::Next, why.join("; ")))
    }

    /// Runs one base chain; `None` when the packet goes on to the next hook.
    pub fn run(&mut self, hook: &'static str, base: &Chain) -> Result<Option<Verdict>, String> {
        let mut stack: Vec<(&Chain, usize)> = vec![(base, 0)];
        let table_name = if base.base.as_ref().is_some_and(|b| b.type_ == "nat") {
            TableName::Nat
        } else {
            TableName::Filter
        };
        while let Some((chain, i)) = stack.pop() {
            if self.steps.len() > 100_000 {
                return Err("the walk did not terminate".into());
            }
            let Some(rule) = chain.rules.get(i) else {
                if chain.base.is_some() {
                    return Ok(None);
                }
                continue;
            };
            let (matched, flow, why) = self.rule(&rule.text)?;
            let action = match (&flow, matched) {
                (_, false) => "no match".to_string(),
                (Flow::Next, true) => "continue".into(),
                (Flow::Jump(c), _) => format!("jump {c}"),
                (Flow::Goto(c), _) => format!("goto {c}"),
                (Flow::Return, _) => "return".into(),
                (Flow::Accept, _) => "accept".into(),
                (Flow::Drop, _) => "drop".into(),
                (Flow::Reject, _) => "reject".into(),
            };
            self.steps.push(Step {
                hook,
                table: if table_name == TableName::Nat {
                    "nat"
                } else {
                    "filter"
                },
                chain: chain.name.clone(),
                rule: Some(format!(
                    "add rule {} {} {} {}",
                    self.table.family, self.table.name, chain.name, rule.text
                )),
                matched,
                action,
                why,
                anchor: Some(crate::explain::anchor::nft(&chain.name, i)),
                packet: self.packet.clone(),
            });
            let find = |name: &str| {
                self.table
                    .chain(name)
                    .ok_or_else(|| format!("no chain {name}"))
            };
            match flow {
                _ if !matched => stack.push((chain, i + 1)),
                Flow::Next => stack.push((chain, i + 1)),
                Flow::Jump(c) => {
                    stack.push((chain, i + 1));
                    stack.push((find(&c)?, 0));
                }
                Flow::Goto(c) => stack.push((find(&c)?, 0)),
                Flow::Return => {}
                Flow::Accept => return Ok(None),
                Flow::Drop => return Ok(Some(Verdict::Dropped)),
                Flow::Reject => return Ok(Some(Verdict::Rejected)),
            }
        }
        Ok(None)
    }
}

/// Walks the first packet of a connection through kube-proxy's nftables table.
pub fn walk(
    table: &Table,
    settings: &crate::cluster::settings::Settings,
    hosts: &std::collections::BTreeMap<IpAddr, String>,
    origin: &super::Origin,
    packet: Packet,
    rng: &mut Rng,
    state: &mut State,
) -> Result<super::Trace, String> {
    use super::{ConntrackEntry, Trace};
    use crate::net::join_host_port;
    let is_local = |ip: IpAddr| settings.is_local_address(ip);
    let original = packet.clone();
    let mut w = NftWalk {
        table,
        is_local: &is_local,
        node_ip: settings.node_ip,
        rng,
        state,
        steps: Vec::new(),
        packet,
        dnat: false,
        snat: false,
    };
    let local_process = matches!(origin, super::Origin::Node);
    let chains_of = |hook: &str| -> Vec<&Chain> {
        let mut v: Vec<&Chain> = table
            .chains
            .iter()
            .filter(|c| c.base.as_ref().is_some_and(|b| b.hook == hook))
            .map(|c| &**c)
            .collect();
        crate::pace::sort_stable_by_key(&mut v, |c| c.base.as_ref().unwrap().priority);
        v
    };
    let mut verdict = None;
    let first_hook = if local_process {
        "output"
    } else {
        "prerouting"
    };
    'hooks: for c in chains_of(first_hook) {
        if let Some(v) = w.run(
            if local_process {
                "OUTPUT"
            } else {
                "PREROUTING"
            },
            c,
        )? {
            verdict = Some(v);
            break 'hooks;
        }
    }
    if verdict.is_none() && !local_process {
        let local = is_local(w.packet.dst);
        let hook = if local { "input" } else { "forward" };
        for c in chains_of(hook) {
            if let Some(v) = w.run(if local { "INPUT" } else { "FORWARD" }, c)? {
                verdict = Some(v);
                break;
            }
        }
    }
    if verdict.is_none() && (local_process || !is_local(w.packet.dst)) {
        for c in chains_of("postrouting") {
            if let Some(v) = w.run("POSTROUTING", c)? {
                verdict = Some(v);
                break;
            }
        }
    }
    let mut verdict = verdict.unwrap_or(Verdict::Delivered);
    if verdict == Verdict::Delivered && super::nowhere(w.packet.dst, is_local, hosts) {
        w.steps.push(Step {
            hook: "routing",
            table: "-",
            chain: "-".into(),
            rule: None,
            matched: true,
            action: format!(
                "no node or pod has {}: the packet leaves by the default route and nothing answers",
                w.packet.dst
            ),
            why: String::new(),
            anchor: None,
            packet: w.packet.clone(),
        });
        verdict = Verdict::Dropped;
    }
    let delivered = verdict == Verdict::Delivered;
    if delivered && (w.dnat || w.snat) {
        let back = super::reply_steps(&original, &w.packet);
        w.steps.extend(back);
    }
    let trace = Trace {
        verdict,
        endpoint: (delivered && w.dnat).then(|| join_host_port(w.packet.dst, w.packet.dport)),
        node: delivered.then(|| {
            hosts
                .get(&w.packet.dst)
                .cloned()
                .unwrap_or_else(|| settings.node_name.clone())
        }),
        conntrack: delivered.then(|| ConntrackEntry {
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
        }),
        steps: w.steps,
        ipvs: None,
    };
    if delivered {
        let translated = w.packet.clone();
        state.connections.insert(
            (
                original.src,
                original.sport,
                original.dst,
                original.dport,
                original.protocol,
            ),
            (translated, trace.without_steps()),
        );
    }
    Ok(trace)
}
