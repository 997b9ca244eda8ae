//! Text views of IPVS mode: `ipvsadm -Ln`, `ip addr show kube-ipvs0` and `ipset list`.

use super::*;
use crate::iptables::model::Match;
use crate::iptables::render::Line;
use crate::pace::Pace;

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
/// for IPv6.
fn addr_cmp(a: IpAddr, b: IpAddr) -> i64 {
    let words = |ip: IpAddr| -> Vec<u32> {
        match ip {
            IpAddr::V4(x) => vec![u32::from(x)],
            IpAddr::V6(x) => x
                .octets()
                .chunks(4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        }
    };
    for (x, y) in words(a).iter().zip(words(b)) {
        let r = x.wrapping_sub(y) as i32;
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
    let mut out = vec![
        Line {
            text: "IP Virtual Server version 1.2.1 (size=4096)".into(),
            source: None,
            ..Default::default()
        },
        Line {
            text: "Prot LocalAddress:Port Scheduler Flags".into(),
            source: None,
            ..Default::default()
        },
        Line {
            text: "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn".into(),
            source: None,
            ..Default::default()
        },
    ];
    // Room for every line at once (grown by doubling, the last copy was one long piece).
    out.reserve(ipvs.services.iter().map(|vs| 1 + vs.reals.len()).sum());
    let mut services: Vec<&VirtualServer> = ipvs.services.iter().collect();
    glibc_msort(&mut services, &|a, b| {
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
    for vs in services {
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
        out.push(Line {
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
        for rs in reals {
            let (active, inactive) = counts(&vs_key, &addr_port(rs.ip, rs.port));
            out.push(Line {
                text: format!(
                    "  -> {:<28} {:<7} {:<6} {:<10} {:<10}",
                    addr_port(rs.ip, rs.port),
                    "Masq",
                    rs.weight,
                    active,
                    inactive
                ),
                source: Some(&rs.provenance),
                odds: crate::explain::odds::ipvs_real_server(vs).map(Into::into),
                anchor: Some(
                    crate::explain::anchor::ipvs_real(vs.protocol, vs.ip, vs.port, rs.ip, rs.port)
                        .into(),
                ),
                ..Default::default()
            });
        }
        pace.unit().await;
    }
    out
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
