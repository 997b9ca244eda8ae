//! Text views of the nftables table: `nft` (kube-proxy's objects as `nft -f` input, in the
//! layout of knftables' `Fake.Dump()` that kube-proxy's tests compare) and `nft-list`.

use super::model::*;
use crate::iptables::render::{About, Run, Sink, LOOKED_AT};
use crate::pace::Pace;
use crate::views::ViewLines;
use std::collections::HashMap;
use std::fmt::Write;
use std::ops::Range;
use std::rc::Rc;

/// What the `index`-th rule of chain `c` stands for, in every view that lists it.
fn rule_about(c: &Chain, index: usize) -> About<'_> {
    let r = &c.rules[index];
    About::NftRule {
        source: &r.provenance,
        chain: &c.name,
        index,
        rule: &r.text,
    }
}

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
            sink.end(rule_about(c, index));
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
async fn add_chains<'d>(p: &str, chains: &[&'d Rc<Chain>], sink: &mut dyn Sink<'d>) {
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

/// A set's or map's elements as `nft list` prints them, `per_line` to a line, a part at a time:
/// an element's sort key, its place in the sort and its line are each a unit of work.
async fn write_elements<'t>(elements: &[Element], per_line: usize, sink: &mut dyn Sink<'t>) {
    let pace = sink.pace();
    // (Made at every comparison, the sort bytes of a map of 44,125 Services' elements were a
    // 330 ms piece of the page; sorted in one piece, 250 ms natively. Elements of one key, in
    // a map of two Services on one address and port, stay in their order.)
    let order = crate::pace::order_by_key(elements, |e| element_order(&e.key), &pace).await;
    let lines = order.len().div_ceil(per_line);
    for (i, chunk) in order.chunks(per_line).enumerate() {
        let text = sink.buf();
        text.push_str(if i == 0 {
            "\t\telements = { "
        } else {
            "\t\t\t     "
        });
        for (j, &e) in chunk.iter().enumerate() {
            if j > 0 {
                text.push_str(", ");
            }
            write_element(text, &elements[e]);
        }
        text.push_str(if i + 1 == lines { " }" } else { "," });
        sink.end(About::Nothing);
        pace.unit().await;
    }
}

/// An object of the table, as `nft list` lists it.
#[derive(Clone, Copy)]
enum Listed<'t> {
    Set(&'t Set),
    Map(&'t Map),
    Chain(&'t Rc<Chain>),
}

impl<'t> Listed<'t> {
    /// The table's objects in the order `nft list` lists them: sets, then maps, then chains,
    /// each in kube-proxy's creation order.
    fn all(t: &'t Table) -> impl Iterator<Item = Listed<'t>> {
        (t.sets.iter().map(Listed::Set))
            .chain(t.maps.iter().map(Listed::Map))
            .chain(t.chains.iter().map(Listed::Chain))
    }

    fn name(self) -> &'t str {
        match self {
            Listed::Set(s) => &s.name,
            Listed::Map(m) => &m.name,
            Listed::Chain(c) => &c.name,
        }
    }

    /// Whether `self` lists as `other` does, line for line and with the same provenance.
    fn same(self, other: Listed) -> bool {
        match (self, other) {
            (Listed::Set(a), Listed::Set(b)) => a == b,
            (Listed::Map(a), Listed::Map(b)) => a == b,
            // (A chain the edit left as it was is the one before: known without reading it.)
            (Listed::Chain(a), Listed::Chain(b)) => Rc::ptr_eq(a, b) || a == b,
            _ => false,
        }
    }

    /// Writes its lines.
    async fn write(self, sink: &mut dyn Sink<'t>) {
        let pace = sink.pace();
        let line = |sink: &mut dyn Sink<'t>, text: std::fmt::Arguments| {
            let _ = sink.buf().write_fmt(text);
            sink.end(About::Nothing);
        };
        match self {
            Listed::Set(s) => {
                let _ = write!(sink.buf(), "\tset {} {{", s.name);
                sink.end(About::Object(&s.provenance, Some(&s.name)));
                line(sink, format_args!("\t\ttype {}", s.type_));
                if s.flags.as_deref().is_some_and(|f| f.contains("dynamic")) {
                    line(sink, format_args!("\t\tsize 65535"));
                }
                if let Some(f) = &s.flags {
                    line(sink, format_args!("\t\tflags {f}"));
                }
                if let Some(secs) = s.timeout {
                    line(sink, format_args!("\t\ttimeout {}", duration(secs)));
                }
                if let Some(c) = &s.comment {
                    line(sink, format_args!("\t\tcomment {}", q(c)));
                }
                // nft puts two IPv4 addresses on a line, other types one (`calculate_delim`).
                let per_line = if s.type_ == "ipv4_addr" { 2 } else { 1 };
                write_elements(&s.elements, per_line, sink).await;
            }
            Listed::Map(m) => {
                let _ = write!(sink.buf(), "\tmap {} {{", m.name);
                sink.end(About::Object(&m.provenance, Some(&m.name)));
                line(sink, format_args!("\t\ttype {}", m.type_));
                if let Some(c) = &m.comment {
                    line(sink, format_args!("\t\tcomment {}", q(c)));
                }
                write_elements(&m.elements, 1, sink).await;
            }
            Listed::Chain(c) => {
                let _ = write!(sink.buf(), "\tchain {} {{", c.name);
                sink.end(About::Object(&c.provenance, Some(&c.name)));
                if let Some(base) = &c.base {
                    let priority = priority(base.hook, base.priority);
                    line(
                        sink,
                        format_args!(
                            "\t\ttype {} hook {} priority {priority}; policy accept;",
                            base.type_, base.hook
                        ),
                    );
                }
                if let Some(comment) = &c.comment {
                    line(sink, format_args!("\t\tcomment {}", q(comment)));
                }
                for (index, r) in c.rules.iter().enumerate() {
                    sink.buf().push_str("\t\t");
                    sink.buf().push_str(&listed_rule(&r.text));
                    sink.end(rule_about(c, index));
                    pace.unit().await;
                }
            }
        }
        line(sink, format_args!("\t}}"));
        pace.unit().await;
    }
}

/// The same `nft list` view made before an edit, with the table it was made from.
#[derive(Clone, Copy)]
pub struct Before<'b> {
    pub table: &'b Table,
    pub lines: &'b ViewLines,
}

/// Where each object's lines are in a view made before: the old table's objects in listing
/// order, and the line each one's block starts at (its line declaring it).
struct ListedBefore<'b> {
    lines: &'b ViewLines,
    objects: Vec<Listed<'b>>,
    starts: Vec<usize>,
    /// An object's place in `objects` by its kind and name, made when first asked for (an
    /// edit that adds or removes objects moves those after it).
    by_name: Option<HashMap<(u8, &'b str), usize, foldhash::fast::FixedState>>,
    /// The lines taken to copy.
    run: Run<'b>,
}

impl<'b> ListedBefore<'b> {
    /// The blocks of `before`, if its lines declare its table's objects in order (else none
    /// is copied), looked through a part at a time (2 million lines and half a million objects
    /// at 44,125 Services).
    async fn new(before: Before<'b>, pace: &Pace) -> Option<Self> {
        let objects: Vec<Listed<'b>> = Listed::all(before.table).collect();
        let mut starts = Vec::with_capacity(objects.len());
        for (i, l) in before.lines.abouts().enumerate() {
            if let Some(name) = l.defines.as_deref() {
                if objects.get(starts.len()).is_none_or(|o| o.name() != name) {
                    return None;
                }
                starts.push(i);
            }
            if i % LOOKED_AT == 0 {
                pace.unit().await;
            }
        }
        (starts.len() == objects.len()).then(|| ListedBefore {
            lines: before.lines,
            objects,
            starts,
            by_name: None,
            run: Run::new(before.lines),
        })
    }

    /// The lines of the old object listed as `object` is, if any (found at the same place
    /// first, then by name), and whether a blank line comes before them.
    async fn block_of(
        &mut self,
        object: Listed<'_>,
        place: usize,
        pace: &Pace,
    ) -> Option<(Range<usize>, bool)> {
        let kind = |o: &Listed| match o {
            Listed::Set(_) => 0u8,
            Listed::Map(_) => 1,
            Listed::Chain(_) => 2,
        };
        let at_place = self
            .objects
            .get(place)
            .filter(|o| o.name() == object.name());
        let k = match at_place {
            Some(_) => place,
            None => {
                if self.by_name.is_none() {
                    let mut by_name = HashMap::default();
                    by_name.reserve(self.objects.len());
                    for (i, o) in self.objects.iter().enumerate() {
                        by_name.insert((kind(o), o.name()), i);
                        if i % LOOKED_AT == 0 {
                            pace.unit().await;
                        }
                    }
                    self.by_name = Some(by_name);
                }
                let by_name = self.by_name.as_ref()?;
                *by_name.get(&(kind(&object), object.name()))?
            }
        };
        if !self.objects[k].same(object) {
            return None;
        }
        // (A block ends before the blank line that starts the next; the last, before the
        // table's closing brace.)
        let end = match self.starts.get(k + 1) {
            Some(&next) => next - 1,
            None => self.lines.len() - 1,
        };
        Some((self.starts[k]..end, k > 0))
    }
}

/// `nft list table <family> kube-proxy` as nft 1.0.6 prints it: sets, then maps, then chains,
/// each in kube-proxy's creation order; elements sorted as nft sorts them. Written a line at a
/// time (made whole, 10,000 Services' were a 338 ms piece of the page). `before`: the view
/// made before an edit, if the sink [copies](Sink::copies): the lines of each object the edit
/// left as it was are copied from it, with the blank line before them.
pub async fn write_nft_list<'t>(t: &'t Table, before: Option<Before<'_>>, sink: &mut dyn Sink<'t>) {
    let pace = sink.pace();
    // (Room for every line at once: grown by doubling, the last copy of a list of 2 million
    // lines was one long piece.)
    let sets: usize = t.sets.iter().map(|s| 8 + s.elements.len()).sum();
    let maps: usize = t.maps.iter().map(|m| 6 + m.elements.len()).sum();
    let chains: usize = t.chains.iter().map(|c| 4 + c.rules.len()).sum();
    sink.expect_lines(sets + maps + chains + 3);
    let _ = write!(sink.buf(), "table {} {} {{", t.family, t.name);
    sink.end(About::Nothing);
    let _ = write!(sink.buf(), "\tcomment {}", q(t.comment));
    sink.end(About::Nothing);
    let mut before = match before.filter(|_| sink.copies()) {
        Some(before) => ListedBefore::new(before, &pace).await,
        None => None,
    };
    for (place, object) in Listed::all(t).enumerate() {
        // Each object's lines follow the last's, a blank line between.
        let copied = match before.as_mut() {
            Some(b) => match b.block_of(object, place, &pace).await {
                // (With the blank line before it, if it had one there: blocks alike that
                // follow one another there are copied as one run.)
                Some((old, true)) if place > 0 => {
                    b.run.take(old.start - 1..old.end, sink, &pace).await;
                    true
                }
                Some((old, _)) => {
                    if place > 0 {
                        b.run.copy(sink, &pace).await;
                        sink.end(About::Nothing);
                    }
                    b.run.take(old, sink, &pace).await;
                    true
                }
                None => {
                    b.run.copy(sink, &pace).await;
                    false
                }
            },
            None => false,
        };
        if !copied {
            if place > 0 {
                sink.end(About::Nothing);
            }
            object.write(sink).await;
        }
    }
    if let Some(b) = before.as_mut() {
        b.run.copy(sink, &pace).await;
    }
    sink.buf().push('}');
    sink.end(About::Nothing);
}
