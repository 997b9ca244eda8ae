//! Text views of IPVS mode: `ipvsadm -Ln`, `ip addr show kube-ipvs0` and `ipset list`.

use super::*;
use crate::iptables::model::Match;
use crate::iptables::render::{Line, Run, Sink, LOOKED_AT};
use crate::pace::Pace;
use std::collections::HashMap;

/// glibc's `qsort` (a top-down merge sort) with a C comparator that may not be a total order:
/// ipvsadm's address comparison wraps, and the result depends on the algorithm, so kpx runs
/// the same one.
fn glibc_msort<T: Clone>(v: &mut [T], cmp: &dyn Fn(&T, &T) -> i64) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    glibc_msort(&mut v[..n1], cmp);
    glibc_msort(&mut v[n1..], cmp);
    let (left, right) = (v[..n1].to_vec(), v[n1..].to_vec());
    let (mut i, mut j, mut k) = (0, 0, 0);
    while i < left.len() && j < right.len() {
        if cmp(&left[i], &right[j]) <= 0 {
            v[k] = left[i].clone();
            i += 1;
        } else {
            v[k] = right[j].clone();
            j += 1;
        }
        k += 1;
    }
    for x in left[i..].iter().chain(right[j..].iter()) {
        v[k] = x.clone();
        k += 1;
    }
}

/// libipvs's address comparison: `ntohl(a) - ntohl(b)` as a C `int` (wrapping), word by word
/// for IPv6. (No list of words: sorting 180,000 virtual servers makes 3 million comparisons.)
fn addr_cmp(a: IpAddr, b: IpAddr) -> i64 {
    let words = |ip: IpAddr| -> ([u32; 4], usize) {
        match ip {
            IpAddr::V4(x) => ([u32::from(x), 0, 0, 0], 1),
            IpAddr::V6(x) => {
                let o = x.octets();
                let word = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
                ([word(0), word(4), word(8), word(12)], 4)
            }
        }
    };
    let ((a, n), (b, m)) = (words(a), words(b));
    for (x, y) in a[..n].iter().zip(&b[..m]) {
        let r = x.wrapping_sub(*y) as i32;
        if r != 0 {
            return r as i64;
        }
    }
    0
}

fn proto_number(p: Protocol) -> i64 {
    match p {
        Protocol::Tcp => 6,
        Protocol::Udp => 17,
        Protocol::Sctp => 132,
        Protocol::Icmp => 1,
    }
}

fn addr_port(ip: IpAddr, port: u16) -> String {
    crate::net::join_host_port(ip, port)
}

/// The scheduler flags ipvsadm names: `(mh-port)` and the like.
fn sched_flags(scheduler: &str, flags: u32) -> Option<String> {
    let names: &[(u32, &str)] = match scheduler {
        "sh" => &[(0x8, "sh-fallback"), (0x10, "sh-port")],
        "mh" => &[(0x8, "mh-fallback"), (0x10, "mh-port")],
        _ => &[(0x8, "flag-1"), (0x10, "flag-2"), (0x20, "flag-3")],
    };
    let set: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    (!set.is_empty()).then(|| set.join(","))
}

/// `ipvsadm -Ln` (ipvsadm 1.31): services sorted by protocol, address, port, destinations by
/// address and port, with ipvsadm's own comparator, with connection counts: `counts(virtual
/// server, real server)` gives (ActiveConn, InActConn), e.g. from a simulation (0 in the
/// views: nothing has flowed).
pub fn ipvsadm_lines_with<'a>(
    ipvs: &'a Ipvs,
    counts: &dyn Fn(&str, &str) -> (u64, u64),
) -> Vec<Line<'a>> {
    crate::pace::at_once(ipvsadm_lines_paced(ipvs, counts, &Pace::never()))
}

/// [`ipvsadm_lines_with`] a part at a time, a virtual server being a unit of work (made whole,
/// 10,000 Services' were a 312 ms piece of the page).
pub async fn ipvsadm_lines_paced<'a>(
    ipvs: &'a Ipvs,
    counts: &dyn Fn(&str, &str) -> (u64, u64),
    pace: &Pace,
) -> Vec<Line<'a>> {
    let mut out = header();
    // Room for every line at once (grown by doubling, the last copy was one long piece).
    out.reserve(ipvs.services.iter().map(|vs| 1 + vs.reals.len()).sum());
    for vs in sorted_services(ipvs) {
        virtual_server_lines(vs, counts, &mut |line| out.push(line));
        pace.unit().await;
    }
    out
}

/// `ipvsadm -Ln`'s three lines before the virtual servers.
fn header<'a>() -> Vec<Line<'a>> {
    [
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
    ]
    .map(|text| Line {
        text: text.into(),
        ..Default::default()
    })
    .into()
}

/// The virtual servers as ipvsadm lists them: by protocol, address and port, with its own
/// comparator. Sorted once (`Ipvs::listing`): an edit's view finds the blocks of the view
/// before in the order it was made in.
fn sorted_services(ipvs: &Ipvs) -> Vec<&VirtualServer> {
    let order = ipvs.listing.get_or_init(|| {
        let s = &ipvs.services;
        let mut order: Vec<u32> = (0..s.len() as u32).collect();
        glibc_msort(&mut order, &|&a, &b| {
            let (a, b) = (&s[a as usize], &s[b as usize]);
            let r = proto_number(a.protocol) - proto_number(b.protocol);
            if r != 0 {
                return r;
            }
            let r = addr_cmp(a.ip, b.ip);
            if r != 0 {
                return r;
            }
            a.port as i64 - b.port as i64
        });
        order.into()
    });
    order.iter().map(|&i| &ipvs.services[i as usize]).collect()
}

/// A virtual server's line, then its real servers' by address and port.
fn virtual_server_lines<'a>(
    vs: &'a VirtualServer,
    counts: &dyn Fn(&str, &str) -> (u64, u64),
    out: &mut dyn FnMut(Line<'a>),
) {
    let mut line = format!(
        "{:<4} {} {}",
        vs.protocol.upper(),
        addr_port(vs.ip, vs.port),
        vs.scheduler
    );
    if let Some(f) = sched_flags(&vs.scheduler, vs.flags) {
        line.push_str(&format!(" ({f})"));
    }
    if vs.flags & FLAG_PERSISTENT != 0 {
        line.push_str(&format!(" persistent {}", vs.timeout));
    }
    out(Line {
        text: line,
        source: Some(&vs.provenance),
        anchor: Some(crate::explain::anchor::ipvs_virtual(vs.protocol, vs.ip, vs.port).into()),
        ..Default::default()
    });
    let mut reals: Vec<&RealServer> = vs.reals.iter().collect();
    glibc_msort(&mut reals, &|a, b| {
        let r = addr_cmp(a.ip, b.ip);
        if r != 0 {
            r
        } else {
            a.port as i64 - b.port as i64
        }
    });
    let vs_key = format!("{} {}", vs.protocol.upper(), addr_port(vs.ip, vs.port));
    // (The scheduler's odds are the virtual server's: worded once for all its real servers.)
    let odds: Option<std::rc::Rc<str>> = crate::explain::odds::ipvs_real_server(vs).map(Into::into);
    for rs in reals {
        let (active, inactive) = counts(&vs_key, &addr_port(rs.ip, rs.port));
        out(Line {
            text: format!(
                "  -> {:<28} {:<7} {:<6} {:<10} {:<10}",
                addr_port(rs.ip, rs.port),
                "Masq",
                rs.weight,
                active,
                inactive
            ),
            source: Some(&rs.provenance),
            odds: odds.clone(),
            anchor: Some(
                crate::explain::anchor::ipvs_real(vs.protocol, vs.ip, vs.port, rs.ip, rs.port)
                    .into(),
            ),
            ..Default::default()
        });
    }
}

/// The same `ipvsadm` view made before an edit (without connection counts), with the IPVS
/// tables it was made from. The two must belong together (the page pairs them by the analysis
/// that wrote the lines): only the number of lines is checked.
#[derive(Clone, Copy)]
pub struct Before<'b> {
    pub ipvs: &'b Ipvs,
    pub lines: &'b crate::views::ViewLines,
}

/// `ipvsadm -Ln` without connection counts, as the views show it, into `sink`, a virtual
/// server being a unit of work. `before`: the view made before an edit, if the sink
/// [copies](Sink::copies): the lines of each virtual server the edit left equal (its real
/// servers, scheduler and provenance too) are copied from it.
pub async fn write_ipvsadm<'a>(
    ipvs: &'a Ipvs,
    before: Option<Before<'_>>,
    sink: &mut dyn Sink<'a>,
) {
    let pace = sink.pace();
    let no_counts = |_: &str, _: &str| (0, 0);
    sink.expect_lines(
        3 + ipvs
            .services
            .iter()
            .map(|vs| 1 + vs.reals.len())
            .sum::<usize>(),
    );
    for line in header() {
        sink.push(line);
    }
    // The view before's virtual servers in its order, and the line each one's block starts
    // at (if its lines are as many as they list: else none is copied).
    let old = before.filter(|_| sink.copies()).and_then(|b| {
        let services = sorted_services(b.ipvs);
        let mut starts = Vec::with_capacity(services.len());
        let mut at = 3;
        for vs in &services {
            starts.push(at);
            at += 1 + vs.reals.len();
        }
        (at == b.lines.len()).then_some((b, services, starts))
    });
    let mut run = old.as_ref().map(|(b, ..)| Run::new(b.lines));
    // An old virtual server's place by its protocol, address and port, made when first asked
    // for (an edit that adds or removes one moves those after it).
    let mut by_key: Option<HashMap<(Protocol, IpAddr, u16), usize, foldhash::fast::FixedState>> =
        None;
    let key = |v: &VirtualServer| (v.protocol, v.ip, v.port);
    for (place, vs) in sorted_services(ipvs).into_iter().enumerate() {
        let mut block = None;
        if let Some((_, services, starts)) = &old {
            let k = match services.get(place) {
                Some(o) if key(o) == key(vs) => Some(place),
                _ => {
                    if by_key.is_none() {
                        // (Made a part at a time: at 44,125 Services, 180,000 of them.)
                        let mut map = HashMap::default();
                        map.reserve(services.len());
                        for (i, o) in services.iter().enumerate() {
                            map.insert(key(o), i);
                            if i % LOOKED_AT == 0 {
                                pace.unit().await;
                            }
                        }
                        by_key = Some(map);
                    }
                    by_key.as_ref().and_then(|m| m.get(&key(vs)).copied())
                }
            };
            block = k
                .filter(|&k| services[k] == vs)
                .map(|k| starts[k]..starts[k] + 1 + vs.reals.len());
        }
        match (block, run.as_mut()) {
            (Some(lines), Some(run)) => run.take(lines, sink, &pace).await,
            (_, run) => {
                if let Some(run) = run {
                    run.copy(sink, &pace).await;
                }
                virtual_server_lines(vs, &no_counts, &mut |line| sink.push(line));
                // (A line a unit, as a copied line is.)
                pace.units(1 + vs.reals.len()).await;
            }
        }
    }
    if let Some(run) = run.as_mut() {
        run.copy(sink, &pace).await;
    }
}

/// `ip addr show kube-ipvs0` (iproute2). The interface index and MAC are illustrative (the
/// kernel picks them); addresses are sorted (the kernel keeps kube-proxy's random order).
pub async fn addr_lines<'a>(
    ipvs: &'a Ipvs,
    settings: &crate::cluster::settings::Settings,
    pace: &Pace,
) -> Vec<Line<'a>> {
    let index = settings.interfaces.len() + 1;
    let h = crate::cluster::fnv1a(settings.node_name.as_bytes()).to_be_bytes();
    let mac = format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        (h[0] & 0xfe) | 0x02,
        h[1],
        h[2],
        h[3],
        h[4],
        h[5]
    );
    let mut out = vec![
        Line { text: format!("{index}: kube-ipvs0: <BROADCAST,NOARP> mtu 1500 qdisc noop state DOWN group default "), source: None, ..Default::default() },
        Line { text: format!("    link/ether {mac} brd ff:ff:ff:ff:ff:ff"), source: None, ..Default::default() },
    ];
    for b in &ipvs.bound {
        let text = match b.ip {
            IpAddr::V4(a) => format!("    inet {a}/32 scope global kube-ipvs0"),
            IpAddr::V6(a) => format!("    inet6 {a}/128 scope global "),
        };
        out.push(Line {
            text,
            source: Some(&b.provenance),
            ..Default::default()
        });
        out.push(Line {
            text: "       valid_lft forever preferred_lft forever".into(),
            source: None,
            ..Default::default()
        });
        pace.unit().await;
    }
    out
}

/// Set-type revisions as a current kernel (6.x) reports them.
fn revision(kind: &str) -> u32 {
    match kind {
        "bitmap:port" => 3,
        "hash:ip,port" => 7,
        "hash:ip,port,net" => 8,
        _ => 6,
    }
}

/// Members in a stable order: bitmap ports numerically, hash entries by address then text.
fn member_order(text: &str) -> (Option<IpAddr>, Option<u32>, &str) {
    let first = text.split(',').next().unwrap_or("");
    (first.parse().ok(), text.parse().ok(), text)
}

/// `ipset list` for kube-proxy's 17 sets, in kube-proxy's creation order. Members are sorted
/// (the kernel lists hash sets in hash order); `Size in memory` is left out (kernel-dependent).
/// A member is a unit of work (at 44,125 Services two sets have 44,125 members, and their
/// sort, a key parsed at each comparison, was 0.6 s in one piece natively).
pub async fn ipset_lines<'a>(ipvs: &'a Ipvs, pace: &Pace) -> Vec<Line<'a>> {
    let refs = |name: &str| -> usize {
        ipvs.iptables
            .tables
            .iter()
            .flat_map(|t| t.chains.iter().flat_map(|c| c.rules.iter()))
            .filter(|r| {
                r.matches
                    .iter()
                    .any(|m| matches!(m, Match::Set { name: n, .. } if **n == *name))
            })
            .count()
    };
    let family = if ipvs.ipv6 { "inet6" } else { "inet" };
    let mut out = Vec::new();
    for (i, set) in ipvs.ipsets.iter().enumerate() {
        if i > 0 {
            out.push(Line {
                text: String::new(),
                source: None,
                ..Default::default()
            });
        }
        let header = if set.kind == "bitmap:port" {
            "range 0-65535".to_string()
        } else {
            format!("family {family} hashsize 1024 maxelem 65536")
        };
        out.push(Line {
            text: format!("Name: {}", set.name),
            defines: Some(set.name.as_str().into()),
            ..Default::default()
        });
        for text in [
            format!("Type: {}", set.kind),
            format!("Revision: {}", revision(set.kind)),
            format!("Header: {header}"),
            format!("References: {}", refs(&set.name)),
            format!("Number of entries: {}", set.entries.len()),
            "Members:".to_string(),
        ] {
            out.push(Line {
                text,
                source: None,
                ..Default::default()
            });
        }
        let members = crate::pace::order_by_key(&set.entries, |m| member_order(&m.text), pace);
        for i in members.await {
            let m = &set.entries[i];
            out.push(Line {
                text: m.text.clone(),
                source: Some(&m.provenance),
                ..Default::default()
            });
            pace.unit().await;
        }
    }
    out
}
