//! Text views of the nftables table: `nft` (kube-proxy's objects as `nft -f` input, in the
//! layout of knftables' `Fake.Dump()` that kube-proxy's tests compare) and `nft-list`.

use super::model::*;
use crate::iptables::render::{About, Line, Sink};
use crate::pace::Pace;
use std::fmt::Write;

fn q(s: &str) -> String {
    format!("\"{s}\"")
}

/// `key [comment "…"] [: value]`.
fn write_element(out: &mut String, e: &Element) {
    out.push_str(&e.key);
    if let Some(c) = &e.comment {
        out.push_str(" comment ");
        out.push_str(&q(c));
    }
    if !e.value.is_empty() {
        out.push_str(" : ");
        out.push_str(&e.value);
    }
}

async fn sorted<'a, T: 'a>(items: &'a [T], name: impl Fn(&T) -> &str, pace: &Pace) -> Vec<&'a T> {
    crate::iptables::render::sorted_by_name(items.iter(), name, pace).await
}

/// The order of an `nft -f` input's objects.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// As knftables' `Fake.Dump()` lists them (kube-proxy's tests compare it): the chains,
    /// sets and maps each by name, chains first.
    Dump,
    /// kube-proxy's creation order: sets, maps and chains as kube-proxy adds them (the model's
    /// order), an input whose `nft list` matches a node's.
    Creation,
}

/// kube-proxy's table as `nft -f` input: every object added, then the chains' rules, then the
/// set and map elements, in `order`. A line is a unit of work (at 44,125 Services, the half a
/// million chains written in one piece were a second of work natively).
pub async fn write_nft<'d>(t: &'d Table, order: Order, sink: &mut dyn Sink<'d>) {
    let pace = sink.pace();
    let p = format!("{} {}", t.family, t.name);
    let (chains, sets, maps) = match order {
        Order::Dump => (
            sorted(&t.chains, |c| &c.name, &pace).await,
            sorted(&t.sets, |s| &s.name, &pace).await,
            sorted(&t.maps, |m| &m.name, &pace).await,
        ),
        // (Objects of one name, two sets of a Service's two unnamed ports, which kpx only warns
        // about, stay where each was added.)
        Order::Creation => (
            t.chains.iter().collect(),
            t.sets.iter().collect(),
            t.maps.iter().collect(),
        ),
    };
    let rules: usize = chains.iter().map(|c| c.rules.len()).sum();
    let elements: usize = sets.iter().map(|s| s.elements.len()).sum::<usize>()
        + maps.iter().map(|m| m.elements.len()).sum::<usize>();
    sink.expect_lines(1 + chains.len() + sets.len() + maps.len() + rules + elements);
    let _ = write!(sink.buf(), "add table {p} {{ comment {} ; }}", q(t.comment));
    sink.end(About::Nothing);
    if order == Order::Dump {
        add_chains(&p, &chains, sink).await;
    }
    for s in &sets {
        let mut props = format!("type {} ;", s.type_);
        if let Some(f) = &s.flags {
            props.push_str(&format!(" flags {f} ;"));
        }
        if let Some(t) = s.timeout {
            props.push_str(&format!(" timeout {t}s ;"));
        }
        if let Some(c) = &s.comment {
            props.push_str(&format!(" comment {} ;", q(c)));
        }
        let _ = write!(sink.buf(), "add set {p} {} {{ {props} }}", s.name);
        sink.end(About::Object(&s.provenance, Some(&s.name)));
        pace.unit().await;
    }
    for m in &maps {
        let mut props = format!("type {} ;", m.type_);
        if let Some(c) = &m.comment {
            props.push_str(&format!(" comment {} ;", q(c)));
        }
        let _ = write!(sink.buf(), "add map {p} {} {{ {props} }}", m.name);
        sink.end(About::Object(&m.provenance, Some(&m.name)));
        pace.unit().await;
    }
    if order == Order::Creation {
        add_chains(&p, &chains, sink).await;
    }
    for c in &chains {
        for (index, r) in c.rules.iter().enumerate() {
            let out = sink.buf();
            for part in ["add rule ", &p, " ", &c.name, " ", &r.text] {
                out.push_str(part);
            }
            sink.end(About::NftRule {
                source: &r.provenance,
                chain: &c.name,
                index,
                rule: &r.text,
            });
            pace.unit().await;
        }
    }
    let elements = sets
        .iter()
        .map(|s| (&s.name, &s.elements))
        .chain(maps.iter().map(|m| (&m.name, &m.elements)));
    for (name, elements) in elements {
        for e in elements {
            let out = sink.buf();
            for part in ["add element ", &p, " ", name, " { "] {
                out.push_str(part);
            }
            write_element(out, e);
            out.push_str(" }");
            sink.end(About::Object(&e.provenance, None));
            pace.unit().await;
        }
    }
}

/// `add chain` lines, `p` being the family and table.
async fn add_chains<'d>(p: &str, chains: &[&'d Chain], sink: &mut dyn Sink<'d>) {
    let pace = sink.pace();
    for c in chains {
        let props = match (&c.base, &c.comment) {
            (Some(b), _) => format!(
                " {{ type {} hook {} priority {} ; }}",
                b.type_, b.hook, b.priority
            ),
            (None, Some(comment)) => format!(" {{ comment {} ; }}", q(comment)),
            (None, None) => String::new(),
        };
        let _ = write!(sink.buf(), "add chain {p} {}{props}", c.name);
        sink.end(About::Object(&c.provenance, Some(&c.name)));
        pace.unit().await;
    }
}

// ---------------------------------------------------------------- nft list (nft 1.0.6)

/// nft's priority names (`prio2str`): within 10 of a standard priority that suits the hook.
fn priority(hook: &str, prio: i32) -> String {
    const STANDARD: [(&str, i32); 6] = [
        ("raw", -300),
        ("mangle", -150),
        ("dstnat", -100),
        ("filter", 0),
        ("security", 50),
        ("srcnat", 100),
    ];
    for (name, value) in STANDARD {
        if (prio - value).abs() <= 10 {
            let fits = match name {
                "dstnat" => hook == "prerouting",
                "srcnat" => hook == "postrouting",
                _ => true,
            };
            if !fits {
                break;
            }
            return match prio - value {
                0 => name.to_string(),
                d if d > 0 => format!("{name} + {d}"),
                d => format!("{name} - {}", -d),
            };
        }
    }
    prio.to_string()
}

/// nft's time format: `10800s` is `3h`.
fn duration(mut secs: u32) -> String {
    let mut out = String::new();
    for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    if out.is_empty() {
        "0s".into()
    } else {
        out
    }
}

/// How `nft list` re-spells kube-proxy's rule text.
fn listed_rule(text: &str) -> String {
    let mut t = text.to_string();
    // Mark arithmetic is printed with `meta` and 32-bit hex.
    let hex = |s: &str| {
        u32::from_str_radix(s.trim_start_matches("0x"), 16)
            .map(|v| format!("{v:#010x}"))
            .unwrap_or_else(|_| s.to_string())
    };
    let words: Vec<&str> = t.split(' ').collect();
    if let ["mark", "set", "mark", op @ ("or" | "xor"), m] = words.as_slice() {
        t = format!(
            "meta mark set meta mark {} {}",
            if *op == "or" { "|" } else { "^" },
            hex(m)
        );
    } else if let ["mark", "and", m, "==", "0", rest @ ..] = words.as_slice() {
        t = format!("meta mark & {} == 0x00000000 {}", hex(m), rest.join(" "));
    }
    // A one-element anonymous set loses its braces.
    let mut out = String::new();
    let mut rest = t.as_str();
    while let Some(open) = rest.find("{ ") {
        let Some(close) = rest[open..].find(" }") else {
            break;
        };
        let inner = &rest[open + 2..open + close];
        out.push_str(&rest[..open]);
        if !inner.contains(' ') && !inner.contains(',') {
            out.push_str(inner);
        } else {
            out.push_str(&format!("{{ {} }}", inner.replace(" , ", ", ")));
        }
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    out
}

/// The bytes nft sorts a concatenated key by: each field in its 32-bit register (addresses
/// and ports in network order, the protocol as one byte), compared from the last byte, i.e.
/// as one little-endian number. A single address sorts in network order.
fn element_order(key: &str) -> Vec<u8> {
    let fields: Vec<&str> = key.split(" . ").collect();
    let mut bytes = Vec::new();
    for f in &fields {
        if let Ok(ip) = f.parse::<std::net::IpAddr>() {
            match ip {
                std::net::IpAddr::V4(a) => bytes.extend(a.octets()),
                std::net::IpAddr::V6(a) => bytes.extend(a.octets()),
            }
        } else if let Ok(port) = f.parse::<u16>() {
            bytes.extend(port.to_be_bytes());
            bytes.extend([0, 0]);
        } else {
            let proto = match *f {
                "tcp" => 6,
                "udp" => 17,
                "sctp" => 132,
                _ => 0,
            };
            bytes.extend([proto, 0, 0, 0]);
        }
    }
    if fields.len() > 1 {
        bytes.reverse();
    }
    bytes
}

/// A set's or map's elements as `nft list` prints them, `per_line` to a line, each line its own
/// [`Line`] in `block` (one text of a map's 44,125 lines was split into the page's lines in one
/// piece), a part at a time: an element's sort key, its place in the sort and its line are
/// each a unit of work.
async fn elements_block<'t>(
    elements: &[Element],
    per_line: usize,
    pace: &Pace,
    block: &mut Vec<Line<'t>>,
) {
    // (Made at every comparison, the sort bytes of a map of 44,125 Services' elements were a
    // 330 ms piece of the page; sorted in one piece, 250 ms natively. Elements of one key, in
    // a map of two Services on one address and port, stay in their order.)
    let order = crate::pace::order_by_key(elements, |e| element_order(&e.key), pace).await;
    let sorted: Vec<&Element> = order.into_iter().map(|i| &elements[i]).collect();
    let lines = sorted.len().div_ceil(per_line);
    block.reserve(lines);
    for (i, elements) in sorted.chunks(per_line).enumerate() {
        let mut text = String::from(if i == 0 {
            "\t\telements = { "
        } else {
            "\t\t\t     "
        });
        for (j, e) in elements.iter().enumerate() {
            if j > 0 {
                text.push_str(", ");
            }
            write_element(&mut text, e);
        }
        text.push_str(if i + 1 == lines { " }" } else { "," });
        block.push(Line {
            text,
            source: None,
            ..Default::default()
        });
        pace.unit().await;
    }
}

/// `nft list table <family> kube-proxy` as nft 1.0.6 prints it: sets, then maps, then chains,
/// each in kube-proxy's creation order; elements sorted as nft sorts them. Made a part at a
/// time, an object (set, map, chain) being a unit of work (made whole, 10,000 Services' were a
/// 338 ms piece of the page).
pub async fn nft_list_lines<'t>(t: &'t Table, pace: &Pace) -> Vec<Line<'t>> {
    let mut out = vec![Line {
        text: format!("table {} {} {{", t.family, t.name),
        source: None,
        ..Default::default()
    }];
    out.push(Line {
        text: format!("\tcomment {}", q(t.comment)),
        source: None,
        ..Default::default()
    });
    // Room for every line at once (grown by doubling, the last copy of a list of 2 million
    // lines was one long piece).
    let sets: usize = t.sets.iter().map(|s| 8 + s.elements.len()).sum();
    let maps: usize = t.maps.iter().map(|m| 6 + m.elements.len()).sum();
    let chains: usize = t.chains.iter().map(|c| 4 + c.rules.len()).sum();
    out.reserve(sets + maps + chains + 1);
    // Each object's block goes straight after the last, a blank line between (gathered first
    // and joined at the end, 44,125 Services' 2 million lines were moved in one piece).
    let mut first = true;
    let mut put = |out: &mut Vec<Line<'t>>, block: Vec<Line<'t>>| {
        if !std::mem::take(&mut first) {
            out.push(Line {
                text: String::new(),
                source: None,
                ..Default::default()
            });
        }
        out.extend(block);
    };
    for s in &t.sets {
        let mut b = vec![Line {
            text: format!("\tset {} {{", s.name),
            source: Some(&s.provenance),
            defines: Some(s.name.as_str().into()),
            ..Default::default()
        }];
        b.push(Line {
            text: format!("\t\ttype {}", s.type_),
            source: None,
            ..Default::default()
        });
        if s.flags.as_deref().is_some_and(|f| f.contains("dynamic")) {
            b.push(Line {
                text: "\t\tsize 65535".into(),
                source: None,
                ..Default::default()
            });
        }
        if let Some(f) = &s.flags {
            b.push(Line {
                text: format!("\t\tflags {f}"),
                source: None,
                ..Default::default()
            });
        }
        if let Some(secs) = s.timeout {
            b.push(Line {
                text: format!("\t\ttimeout {}", duration(secs)),
                source: None,
                ..Default::default()
            });
        }
        if let Some(c) = &s.comment {
            b.push(Line {
                text: format!("\t\tcomment {}", q(c)),
                source: None,
                ..Default::default()
            });
        }
        // nft puts two IPv4 addresses on a line, other types one (`calculate_delim`).
        let per_line = if s.type_ == "ipv4_addr" { 2 } else { 1 };
        elements_block(&s.elements, per_line, pace, &mut b).await;
        b.push(Line {
            text: "\t}".into(),
            source: None,
            ..Default::default()
        });
        put(&mut out, b);
        pace.unit().await;
    }
    for m in &t.maps {
        let mut b = vec![Line {
            text: format!("\tmap {} {{", m.name),
            source: Some(&m.provenance),
            defines: Some(m.name.as_str().into()),
            ..Default::default()
        }];
        b.push(Line {
            text: format!("\t\ttype {}", m.type_),
            source: None,
            ..Default::default()
        });
        if let Some(c) = &m.comment {
            b.push(Line {
                text: format!("\t\tcomment {}", q(c)),
                source: None,
                ..Default::default()
            });
        }
        elements_block(&m.elements, 1, pace, &mut b).await;
        b.push(Line {
            text: "\t}".into(),
            source: None,
            ..Default::default()
        });
        put(&mut out, b);
        pace.unit().await;
    }
    for c in &t.chains {
        let mut b = vec![Line {
            text: format!("\tchain {} {{", c.name),
            source: Some(&c.provenance),
            defines: Some(c.name.as_str().into()),
            ..Default::default()
        }];
        if let Some(base) = &c.base {
            b.push(Line {
                text: format!(
                    "\t\ttype {} hook {} priority {}; policy accept;",
                    base.type_,
                    base.hook,
                    priority(base.hook, base.priority)
                ),
                source: None,
                ..Default::default()
            });
        }
        if let Some(comment) = &c.comment {
            b.push(Line {
                text: format!("\t\tcomment {}", q(comment)),
                source: None,
                ..Default::default()
            });
        }
        for (i, r) in c.rules.iter().enumerate() {
            b.push(Line {
                text: format!("\t\t{}", listed_rule(&r.text)),
                source: Some(&r.provenance),
                odds: crate::explain::odds::nft_rule(&r.text).map(Into::into),
                anchor: Some(crate::explain::anchor::nft(&c.name, i).into()),
                ..Default::default()
            });
        }
        b.push(Line {
            text: "\t}".into(),
            source: None,
            ..Default::default()
        });
        put(&mut out, b);
        pace.unit().await;
    }
    out.push(Line {
        text: "}".into(),
        source: None,
        ..Default::default()
    });
    out
}
