//! From what the reader asks (`--from CLIENT --to DEST`) to packet walks on the right node.

use super::rng::Rng;
use super::{walk, Node, Origin, Packet, State, Trace, Verdict};
use crate::cluster::settings::Mode;
use crate::cluster::slices::pod_ip;
use crate::proxy::Protocol;
use crate::views::{analyze_on, Analysis};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// What to walk.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// A pod (`ns/name` or `name`), `node:NAME` (a process on that node), or an IP (a client
    /// outside the cluster).
    pub from: String,
    /// `IP:PORT` or `ns/name[:port]`.
    pub to: String,
    pub protocol: Option<Protocol>,
    pub mode: Option<Mode>,
    pub seed: u64,
}

struct Resolved {
    analysis: Analysis,
    origin: Origin,
    src: IpAddr,
    dst: IpAddr,
    dport: u16,
    protocol: Protocol,
    in_interface: Option<String>,
    bridged: bool,
}

fn resolve(text: &str, req: &Request) -> Result<Resolved, String> {
    let first = analyze_on(text, None).map_err(|e| e.to_string())?;
    let c = &first.cluster;
    // The client, and the node whose kube-proxy sees its packets first.
    let (origin, src, node, in_interface, bridged) = if let Some(name) =
        req.from.strip_prefix("node:")
    {
        let analysis = analyze_on(text, Some(name)).map_err(|e| e.to_string())?;
        let ip = analysis
            .cluster
            .settings
            .node_ip
            .ok_or_else(|| format!("node {name} has no IP"))?;
        (Origin::Node, ip, Some(name.to_string()), None, false)
    } else if let Ok(ip) = req.from.parse::<IpAddr>() {
        (
            Origin::External { ip },
            ip,
            None,
            Some("eth0".to_string()),
            false,
        )
    } else {
        let (ns, name) = req
            .from
            .split_once('/')
            .unwrap_or(("default", req.from.as_str()));
        let pod = c
            .pods
            .iter()
            .find(|p| p.reference.namespace == ns && p.reference.name == name)
            .ok_or_else(|| {
                format!("no Pod {ns}/{name} in the input (a client is a Pod, node:NAME, or an IP)")
            })?;
        let ip = pod_ip(&pod.object).ok_or_else(|| format!("Pod {ns}/{name} has no IP"))?;
        let node = pod.object.spec.as_ref().and_then(|s| s.node_name.clone());
        (Origin::Pod { ip }, ip, node, Some("cni0".to_string()), true)
    };
    // The destination.
    let bare: Option<IpAddr> = req.to.parse().ok();
    let (dst, dport, proto_hint) = match bare.map(|ip| (ip, 0u16)).or_else(|| {
        req.to.rsplit_once(':').and_then(|(h, p)| {
            Some((
                h.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .ok()?,
                p.parse::<u16>().ok()?,
            ))
        })
    }) {
        Some((ip, port)) => (ip, port, None),
        None => {
            let (svc, port) = match req.to.split_once(':') {
                Some((s, p)) => (s, Some(p)),
                None => (req.to.as_str(), None),
            };
            let (ns, name) = svc.split_once('/').unwrap_or(("default", svc));
            let s = c
                .services
                .iter()
                .find(|s| s.reference.namespace == ns && s.reference.name == name)
                .ok_or_else(|| {
                    format!("no Service {ns}/{name} (a destination is IP:PORT or ns/name[:port])")
                })?;
            let spec = s.object.spec.as_ref().unwrap();
            let ports = spec.ports.clone().unwrap_or_default();
            let p = match port {
                None => ports.first(),
                Some(want) => ports
                    .iter()
                    .find(|p| p.name.as_deref() == Some(want) || p.port.to_string() == want),
            }
            .ok_or_else(|| format!("Service {ns}/{name} has no port {}", port.unwrap_or("")))?;
            let ip: IpAddr = spec
                .cluster_ip
                .as_deref()
                .and_then(crate::net::parse_ip)
                .ok_or_else(|| format!("Service {ns}/{name} has no ClusterIP"))?;
            (
                ip,
                p.port as u16,
                p.protocol.as_deref().and_then(Protocol::parse),
            )
        }
    };
    let protocol = req.protocol.or(proto_hint).unwrap_or(Protocol::Tcp);
    // The node that handles the first packet: the client's, or for an outside client the node
    // that owns the destination address (else the shown node).
    let node = node.or_else(|| {
        c.nodes
            .iter()
            .find(|n| crate::cluster::node_address(&n.object, "InternalIP") == Some(dst))
            .and_then(|n| n.object.metadata.name.clone())
    });
    let analysis = match node {
        Some(n) if n != c.settings.node_name => {
            analyze_on(text, Some(&n)).map_err(|e| e.to_string())?
        }
        _ => first,
    };
    Ok(Resolved {
        analysis,
        origin,
        src,
        dst,
        dport,
        protocol,
        in_interface,
        bridged,
    })
}

fn hosts(a: &Analysis) -> BTreeMap<IpAddr, String> {
    let mut m = BTreeMap::new();
    for n in &a.cluster.nodes {
        if let (Some(ip), Some(name)) = (
            crate::cluster::node_address(&n.object, "InternalIP"),
            &n.object.metadata.name,
        ) {
            m.insert(ip, name.clone());
        }
    }
    for sl in &a.cluster.slices {
        for e in &sl.object.endpoints {
            if let (Some(ip), Some(node)) = (
                e.addresses.first().and_then(|x| crate::net::parse_ip(x)),
                &e.node_name,
            ) {
                m.insert(ip, node.clone());
            }
        }
    }
    for p in &a.cluster.pods {
        if let (Some(ip), Some(node)) = (
            pod_ip(&p.object),
            p.object.spec.as_ref().and_then(|s| s.node_name.clone()),
        ) {
            m.insert(ip, node);
        }
    }
    m
}

/// The client's ephemeral port for its `i`-th connection (Linux's default range).
fn sport(i: usize) -> u16 {
    32768 + (i % 28232) as u16
}

/// One packet through the node `a` describes, in `mode`: conntrack first, then that mode's
/// rules. The one place that picks a mode's walk. A quiet walk (`narrate: false`) keeps only
/// the steps that matched, without text (see [`Node::narrate`]).
#[allow(clippy::too_many_arguments)]
pub fn walk_in(
    a: &Analysis,
    mode: Mode,
    narrate: bool,
    hosts: &BTreeMap<IpAddr, String>,
    origin: &Origin,
    packet: Packet,
    rng: &mut Rng,
    state: &mut State,
) -> Result<Trace, String> {
    if let Some(t) = super::established(state, &packet) {
        return Ok(t);
    }
    let settings = &a.cluster.settings;
    match mode {
        Mode::Nftables => {
            super::nft::walk(a.nftables(), settings, hosts, origin, packet, rng, state)
        }
        Mode::Ipvs => {
            let node = Node {
                dataplane: &a.ipvs().iptables,
                layout: crate::iptables::Layout::Current,
                settings,
                hosts,
                ipvs: Some(a.ipvs()),
                narrate,
            };
            walk(&node, origin, packet, rng, state)
        }
        Mode::Iptables => {
            let node = Node {
                dataplane: a.iptables().as_ref().map_err(Clone::clone)?,
                layout: a.layout.clone()?,
                settings,
                hosts,
                ipvs: None,
                narrate,
            };
            walk(&node, origin, packet, rng, state)
        }
    }
}

/// The first packet of connection `i` from the client to the destination.
fn connection_packet(r: &Resolved, i: usize) -> Packet {
    Packet {
        protocol: r.protocol,
        src: r.src,
        sport: sport(i),
        dst: r.dst,
        dport: r.dport,
        mark: 0,
        in_interface: r.in_interface.clone(),
        bridged: r.bridged,
    }
}

fn run(
    r: &Resolved,
    mode: Mode,
    narrate: bool,
    connections: usize,
    requests: usize,
    rng: &mut Rng,
    mut each: impl FnMut(usize, Trace),
) -> Result<(), String> {
    let hosts = hosts(&r.analysis);
    let mut state = State::default();
    for i in 0..connections {
        let packet = connection_packet(r, i);
        for _ in 0..requests.max(1) {
            each(
                i,
                walk_in(
                    &r.analysis,
                    mode,
                    narrate,
                    &hosts,
                    &r.origin,
                    packet.clone(),
                    rng,
                    &mut state,
                )?,
            );
        }
        // The connection closes; its source port may be used again.
        state.close(&packet);
    }
    Ok(())
}

/// A simulation's walks, quiet: `each(trace, first packet of its connection, times)`. In
/// iptables mode with one packet per connection, identical walks are walked once
/// ([`replay_paths`]); otherwise every packet is walked.
fn run_quiet(
    r: &Resolved,
    mode: Mode,
    connections: usize,
    requests: usize,
    replay: bool,
    rng: &mut Rng,
    mut each: impl FnMut(&Trace, bool, usize),
) -> Result<(), String> {
    if replay && mode == Mode::Iptables && requests <= 1 {
        return replay_paths(r, connections, rng, each);
    }
    let mut counted = None;
    run(r, mode, false, connections, requests, rng, |i, t| {
        each(&t, counted != Some(i), 1);
        counted = Some(i);
    })
}

/// A node of the tree of paths a simulation has walked (see [`replay_paths`]).
#[derive(Clone, Copy)]
enum PathNode {
    /// No connection has gone this way yet.
    Unknown,
    /// The walk takes a chance of `probability`: where it goes when the draw falls below it,
    /// and where when not.
    Chance {
        probability: f64,
        below: usize,
        above: usize,
    },
    /// The walk ends: the index of its trace.
    Walked(usize),
}

/// iptables mode, one packet per connection: identical walks are walked once.
///
/// Every connection is the same packet but for its source port, which no rule matches, so its
/// path through the rules depends only on the draws of the `statistic` rules it meets — as long
/// as no walk consults the `recent` lists (session affinity), which make a walk depend on the
/// ones before. The paths walked so far form a tree over the draws' outcomes: a connection
/// draws its way down the tree and is walked for real only where no connection went before,
/// with the draws it already made handed out again. The counts are those of walking every
/// connection, draw for draw (`replayed_paths_count_what_every_walk_counts` holds them to it).
fn replay_paths(
    r: &Resolved,
    connections: usize,
    rng: &mut Rng,
    mut each: impl FnMut(&Trace, bool, usize),
) -> Result<(), String> {
    let hosts = hosts(&r.analysis);
    let mut state = State::default();
    let mut tree = vec![PathNode::Unknown];
    let mut walked: Vec<(Trace, usize)> = Vec::new();
    let mut draws = Vec::new();
    // Walks one connection for real. With a tape: the draws on it are handed out first, and
    // the chances the walk takes come back (none without one).
    let walk_for_real = |i: usize, tape: Option<Vec<f64>>, rng: &mut Rng, state: &mut State| {
        let packet = connection_packet(r, i);
        let taped = tape.is_some();
        if let Some(replay) = tape {
            rng.start_tape(replay);
        }
        let walk = walk_in(
            &r.analysis,
            Mode::Iptables,
            false,
            &hosts,
            &r.origin,
            packet.clone(),
            rng,
            state,
        );
        let chances = if taped {
            rng.stop_tape().chances
        } else {
            Vec::new()
        };
        state.close(&packet);
        walk.map(|t| (t, chances))
    };
    let mut replaying = true;
    for i in 0..connections {
        if !replaying {
            let (t, _) = walk_for_real(i, None, rng, &mut state)?;
            each(&t, true, 1);
            continue;
        }
        draws.clear();
        let mut at = 0;
        while let PathNode::Chance {
            probability,
            below,
            above,
        } = tree[at]
        {
            let (draw, is_below) = rng.chance(probability);
            draws.push(draw);
            at = if is_below { below } else { above };
        }
        if let PathNode::Walked(k) = tree[at] {
            walked[k].1 += 1;
            continue;
        }
        let (t, chances) = walk_for_real(i, Some(std::mem::take(&mut draws)), rng, &mut state)?;
        if state.remembered {
            replaying = false;
            each(&t, true, 1);
            continue;
        }
        // Grow the tree along the chances this walk took (the first retrace the way here).
        let mut node = 0;
        for (probability, is_below) in chances {
            if let PathNode::Unknown = tree[node] {
                tree[node] = PathNode::Chance {
                    probability,
                    below: tree.len(),
                    above: tree.len() + 1,
                };
                tree.extend([PathNode::Unknown; 2]);
            }
            match tree[node] {
                PathNode::Chance {
                    probability: p,
                    below,
                    above,
                } if p == probability => node = if is_below { below } else { above },
                // Not a function of the draws after all: walk every connection from here.
                _ => {
                    replaying = false;
                    break;
                }
            }
        }
        if replaying && matches!(tree[node], PathNode::Unknown) {
            tree[node] = PathNode::Walked(walked.len());
            walked.push((t, 1));
        } else {
            replaying = false;
            each(&t, true, 1);
        }
    }
    for (t, times) in &walked {
        each(t, true, *times);
    }
    Ok(())
}

fn check_mode(req: &Request, r: &Resolved) -> Result<Mode, String> {
    Ok(req.mode.unwrap_or(r.analysis.cluster.settings.mode))
}

/// Walks `packets` packets of one connection (the first through the rules, the rest through
/// conntrack).
pub fn trace(text: &str, req: &Request, packets: usize) -> Result<Vec<Trace>, String> {
    Prepared::new(text, req)?.trace(req.seed, packets)
}

/// A client and a destination resolved in a parsed input, ready to walk packets again and
/// again (the page's "New connection" and the benchmarks walk without parsing anew).
pub struct Prepared {
    text: String,
    resolved: Resolved,
    mode: Mode,
}

impl Prepared {
    pub fn new(text: &str, req: &Request) -> Result<Prepared, String> {
        let resolved = resolve(text, req)?;
        let mode = check_mode(req, &resolved)?;
        Ok(Prepared {
            text: text.to_string(),
            resolved,
            mode,
        })
    }

    /// Walks `packets` packets of one connection, drawing from `seed`.
    pub fn trace(&self, seed: u64, packets: usize) -> Result<Vec<Trace>, String> {
        let (r, mode) = (&self.resolved, self.mode);
        let mut rng = Rng::new(seed);
        let mut out = Vec::new();
        run(r, mode, true, 1, packets, &mut rng, |_, t| out.push(t))?;
        if let Some(first) = out.first_mut() {
            hop(&self.text, r, mode, first, &mut rng)?;
        }
        Ok(out)
    }
}

/// When the endpoint lives on another node, the translated packet crosses to it: walk that
/// node's rules too (they leave a pod-addressed packet alone, which is the point to see).
fn hop(text: &str, r: &Resolved, mode: Mode, t: &mut Trace, rng: &mut Rng) -> Result<(), String> {
    let here = r.analysis.cluster.settings.node_name.clone();
    let (Some(there), Some(last)) = (
        t.node.clone(),
        t.steps.iter().rev().find(|s| s.hook != "reply").cloned(),
    ) else {
        return Ok(());
    };
    if there == here || t.verdict != Verdict::Delivered {
        return Ok(());
    }
    // A node named only by an endpoint (no Node object) cannot be walked.
    let Ok(b) = analyze_on(text, Some(&there)) else {
        return Ok(());
    };
    let mut packet = last.packet.clone();
    packet.mark = 0;
    packet.in_interface = Some("eth0".into());
    packet.bridged = false;
    let hosts = hosts(&b);
    let mut state = State::default();
    let origin = Origin::External { ip: packet.src };
    let second = walk_in(
        &b,
        mode,
        true,
        &hosts,
        &origin,
        packet.clone(),
        rng,
        &mut state,
    )?;
    let at = t
        .steps
        .iter()
        .position(|s| s.hook == "reply")
        .unwrap_or(t.steps.len());
    let mut inserted = vec![super::Step {
        hook: "route",
        table: "-",
        chain: "-".into(),
        rule: None,
        matched: true,
        action: format!("{here} sends {packet} to {there}, where the endpoint lives"),
        why: String::new(),
        anchor: None,
        packet,
    }];
    inserted.extend(
        second
            .steps
            .into_iter()
            .filter(|s| s.hook != "reply")
            .map(|mut s| {
                s.action = format!("on {there}: {}", s.action);
                s
            }),
    );
    t.steps.splice(at..at, inserted);
    t.verdict = second.verdict;
    Ok(())
}

/// Many connections from one client to one destination.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Simulation {
    pub connections: usize,
    pub requests: usize,
    /// `ip:port` → connections that reached it.
    pub endpoints: BTreeMap<String, usize>,
    /// `ip:port` → requests (packets of every connection) that reached it: with keep-alive,
    /// all of a connection's requests land where its first packet did.
    pub requests_by_endpoint: BTreeMap<String, usize>,
    /// Connections delivered without DNAT (to the destination itself).
    pub direct: usize,
    pub dropped: usize,
    pub rejected: usize,
    /// IPVS mode: `ipvsadm -Ln` after the simulation — every connection closed, so each counts
    /// in InActConn (TIME_WAIT) of the real server it reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipvsadm: Option<String>,
    /// iptables mode: each load-balancing rule met, its conditional probability, and the
    /// endpoint's effective share, expected and observed.
    pub rules: Vec<RuleShare>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RuleShare {
    pub chain: String,
    /// The rule as the `restore` view shows it.
    pub rule: String,
    /// The rule's own (conditional) probability: `--probability`, or 1 for the last rule.
    pub probability: f64,
    pub endpoint: String,
    /// 1/n for the n endpoints of the chain.
    pub expected_share: f64,
    pub observed_share: f64,
}

/// `times` more for `key`, without copying a key already counted.
fn count(counts: &mut BTreeMap<String, usize>, key: &str, times: usize) {
    match counts.get_mut(key) {
        Some(n) => *n += times,
        None => {
            counts.insert(key.to_string(), times);
        }
    }
}

pub fn simulate(
    text: &str,
    req: &Request,
    connections: usize,
    requests: usize,
) -> Result<Simulation, String> {
    simulate_with(text, req, connections, requests, true)
}

/// `replay`: walk identical paths once (see [`replay_paths`]); tests compare it with not.
fn simulate_with(
    text: &str,
    req: &Request,
    connections: usize,
    requests: usize,
    replay: bool,
) -> Result<Simulation, String> {
    let prepared = Prepared::new(text, req)?;
    let (r, mode) = (&prepared.resolved, prepared.mode);
    let mut rng = Rng::new(req.seed);
    let mut sim = Simulation {
        connections,
        requests: requests.max(1),
        ..Default::default()
    };
    let mut walked: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let mut chosen: BTreeMap<(String, String), u64> = BTreeMap::new();
    run_quiet(
        r,
        mode,
        connections,
        requests,
        replay,
        &mut rng,
        |t, first, times| {
            if let (Verdict::Delivered, Some(ep)) = (t.verdict, &t.endpoint) {
                count(&mut sim.requests_by_endpoint, ep, times);
            }
            if !first {
                return;
            }
            for s in t.steps.iter().filter(|s| s.matched) {
                if !walked.contains(&s.chain) {
                    walked.insert(s.chain.clone());
                }
            }
            if let Some(pair) = &t.ipvs {
                *chosen.entry(pair.clone()).or_default() += times as u64;
            }
            match (t.verdict, &t.endpoint) {
                (Verdict::Delivered, Some(ep)) => count(&mut sim.endpoints, ep, times),
                (Verdict::Delivered, None) => sim.direct += times,
                (Verdict::Dropped, _) => sim.dropped += times,
                (Verdict::Rejected, _) => sim.rejected += times,
            }
        },
    )?;
    if mode == Mode::Iptables {
        sim.rules = rule_shares(&r.analysis, &walked, &sim);
    }
    if mode == Mode::Ipvs {
        let lines = crate::ipvs::render::ipvsadm_lines_with(r.analysis.ipvs(), &|vs, rs| {
            (
                0,
                chosen
                    .get(&(vs.to_string(), rs.to_string()))
                    .copied()
                    .unwrap_or(0),
            )
        });
        sim.ipvsadm = Some(lines.iter().map(|l| format!("{}\n", l.text)).collect());
    }
    Ok(sim)
}

/// The random-probability cascade of each KUBE-SVC/SVL/XLB chain the connections went through.
fn rule_shares(
    a: &Analysis,
    walked: &std::collections::BTreeSet<String>,
    sim: &Simulation,
) -> Vec<RuleShare> {
    use crate::iptables::model::{Match, TableName, Target};
    let (Ok(dp), Ok(layout)) = (a.iptables().as_ref(), a.layout.clone()) else {
        return vec![];
    };
    let Some(nat) = dp.table(TableName::Nat) else {
        return vec![];
    };
    let mut out = Vec::new();
    for chain in nat.chains.iter().filter(|c| {
        walked.contains(&*c.name)
            && ["KUBE-SVC-", "KUBE-SVL-", "KUBE-XLB-"]
                .iter()
                .any(|p| c.name.starts_with(p))
    }) {
        let lb: Vec<_> = chain
            .rules
            .iter()
            .filter(|r| matches!(&r.target, Some(Target::Jump { chain }) if chain.starts_with("KUBE-SEP-")))
            .filter(|r| !r.matches.iter().any(|m| matches!(m, Match::RecentCheck { .. })))
            .collect();
        let n = lb.len();
        for r in lb {
            let sep = r.target.as_ref().and_then(Target::jump_chain).unwrap();
            let endpoint = nat
                .chain(sep)
                .and_then(|c| {
                    c.rules.iter().find_map(|x| match &x.target {
                        Some(Target::Dnat { to }) => Some(to.clone()),
                        _ => None,
                    })
                })
                .unwrap_or_default();
            let probability = r
                .matches
                .iter()
                .find_map(|m| match m {
                    Match::Statistic { probability } => probability.parse().ok(),
                    _ => None,
                })
                .unwrap_or(1.0);
            let observed =
                *sim.endpoints.get(&*endpoint).unwrap_or(&0) as f64 / sim.connections.max(1) as f64;
            out.push(RuleShare {
                chain: chain.name.to_string(),
                rule: crate::iptables::render::restore_rule(&chain.name, r, layout),
                probability,
                endpoint: endpoint.to_string(),
                expected_share: 1.0 / n as f64,
                observed_share: observed,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every scenario the site ships, each Service from each Pod and node, in iptables mode:
    /// replaying the paths walked counts exactly what walking every connection counts —
    /// session affinity (the `recent` lists) included, where replaying must stop.
    #[test]
    fn replayed_paths_count_what_every_walk_counts() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../static/scenarios");
        let mut files: Vec<_> = ["", "/behaviours", "/questions"]
            .iter()
            .flat_map(|sub| std::fs::read_dir(format!("{dir}{sub}")).unwrap())
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        let (mut compared, mut with_affinity) = (0, 0);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let Ok(a) = analyze_on(&text, None) else {
                continue;
            };
            let c = &a.cluster;
            let clients: Vec<String> = c
                .pods
                .iter()
                .map(|p| format!("{}/{}", p.reference.namespace, p.reference.name))
                .chain(c.nodes.iter().map(|n| format!("node:{}", n.reference.name)))
                .collect();
            for svc in &c.services {
                let to = format!("{}/{}", svc.reference.namespace, svc.reference.name);
                for from in &clients {
                    let req = Request {
                        from: from.clone(),
                        to: to.clone(),
                        protocol: None,
                        mode: Some(Mode::Iptables),
                        seed: 7,
                    };
                    let (Ok(replayed), Ok(walked)) = (
                        simulate_with(&text, &req, 3000, 1, true),
                        simulate_with(&text, &req, 3000, 1, false),
                    ) else {
                        continue;
                    };
                    let (replayed, walked) = (
                        serde_json::to_string(&replayed).unwrap(),
                        serde_json::to_string(&walked).unwrap(),
                    );
                    assert_eq!(replayed, walked, "{} from {from} to {to}", file.display());
                    compared += 1;
                    with_affinity += usize::from(text.contains("ClientIP"));
                }
            }
        }
        eprintln!("{compared} compared, {with_affinity} with affinity");
        assert!(compared > 50 && with_affinity > 0);
    }
}
