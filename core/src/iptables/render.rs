//! Text views of the iptables dataplane: kube-proxy's restore input, `iptables-save`, and
//! `iptables -L [-v] [-n]`. Each is a pure function of the [`Dataplane`].
//!
//! The `save` and `list` formats were checked against iptables 1.8.9 (nf_tables) in a network
//! namespace: user chains are listed alphabetically after the built-in ones, arguments are
//! re-ordered (`-s -d -i -p`, then each `-m` module in the order given), comments are quoted
//! unless made only of `[A-Za-z0-9_-]`.

use super::model::*;
use super::services_db::port_name;
use super::Layout;
use crate::explain::anchor::Anchor;
use crate::net::{push_cidr, push_decimal, push_ip, Cidr};
use crate::pace::{at_once, Pace};
use crate::views::ViewLines;
use std::fmt::Write;
use std::ops::Range;
use std::rc::Rc;

/// Which tables to show (`None`: all).
#[derive(Clone, Copy, Debug, Default)]
pub struct Select<'a> {
    pub table: Option<TableName>,
    pub chain: Option<&'a str>,
}

impl Select<'_> {
    fn tables<'d>(&self, dp: &'d Dataplane) -> impl Iterator<Item = &'d Table> + use<'d, '_> {
        let want = self.table;
        dp.tables
            .iter()
            .filter(move |t| want.is_none_or(|w| w == t.name))
    }
}

/// One line of a text view and, where it stands for a chain or a rule, why that exists (the
/// page shows it on hover).
#[derive(Clone, Debug, Default)]
pub struct Line<'a> {
    pub text: String,
    pub source: Option<&'a Provenance>,
    /// The chain, set or map this line declares: where a link to that name leads (an iptables
    /// chain's name is shared with the chain).
    pub defines: Option<Text>,
    /// For a load-balancing step, its odds in words ([`crate::explain::odds`]).
    pub odds: Option<Rc<str>>,
    /// The rule, virtual server or real server the line shows ([`crate::explain::anchor`]).
    pub anchor: Option<Anchor>,
}

/// What a line of a view stands for.
#[derive(Clone, Copy)]
pub enum About<'d> {
    /// A header, a column title, `COMMIT`.
    Nothing,
    /// The line declaring this iptables chain.
    Chain(&'d Chain),
    /// The `index`-th rule of iptables chain `chain` in `table`.
    Rule(TableName, &'d Chain, usize),
    /// An object of another mode's dataplane, declaring the name given if any.
    Object(&'d Provenance, Option<&'d str>),
    /// The `index`-th rule of nftables chain `chain`, whose kube-proxy text is `rule`.
    NftRule {
        source: &'d Provenance,
        chain: &'d str,
        index: usize,
        rule: &'d str,
    },
}

/// Where a renderer writes its lines: one text ([`TextSink`], for `kpx render` and
/// [`crate::views::Analysis::render`]) or the page's annotated lines ([`LineSink`]). A text
/// costs no `String` per line, no odds and no anchors: a 10,000-Service restore input is 34 MB.
pub trait Sink<'d> {
    /// The line being written: append to it.
    fn buf(&mut self) -> &mut String;
    /// Ends the line written into [`Sink::buf`].
    fn end(&mut self, about: About<'d>);
    /// A whole line another renderer made.
    fn push(&mut self, line: Line<'d>);
    /// About `n` more lines are coming: a renderer says so once, before its first line, so a
    /// text or a list of lines is allocated once instead of doubling.
    fn expect_lines(&mut self, _n: usize) {}
    /// When the renderer pauses (between two lines): the page's lines are made a part at a
    /// time, a text in one go.
    fn pace(&self) -> Pace {
        Pace::never()
    }
    /// Whether this sink takes lines of a view made before as they are ([`Sink::copy`]): the
    /// page's lines do, a text does not (it is never made after another).
    fn copies(&self) -> bool {
        false
    }
    /// Lines `lines` of `from` (a view made before an edit) as they are; only called if the
    /// sink [`copies`](Sink::copies).
    fn copy(&mut self, _from: &ViewLines, _lines: Range<usize>) {
        unreachable!("a sink that copies no lines was asked to copy some")
    }
}

/// Writes a whole line into a sink.
fn put<'d>(sink: &mut dyn Sink<'d>, text: &str, about: About<'d>) {
    sink.buf().push_str(text);
    sink.end(about);
}

/// Lines joined into one text, each followed by a newline.
#[derive(Default)]
pub struct TextSink {
    text: String,
}

impl TextSink {
    /// The text, without spare room.
    pub fn finish(mut self) -> String {
        self.text.shrink_to_fit();
        self.text
    }
}

impl<'d> Sink<'d> for TextSink {
    fn buf(&mut self) -> &mut String {
        &mut self.text
    }
    fn end(&mut self, _: About<'d>) {
        self.text.push('\n');
    }
    fn push(&mut self, line: Line<'d>) {
        self.text.push_str(&line.text);
        self.text.push('\n');
    }
    fn expect_lines(&mut self, n: usize) {
        // A rule line of a Service is about 100 bytes (an nft one 120); room for a little
        // more, since falling short doubles the whole text ([`TextSink::finish`] gives back
        // the rest).
        self.text.reserve(n * 128);
    }
}

/// Where a [`LineSink`] hands its lines: straight into the page's own lines
/// (`views::ViewLines`), so no list of the intermediate lines is ever held.
pub trait LineOut<'d> {
    /// A line: its `text` (the sink's buffer, read where it is: a `String` a line was most of
    /// the page's cost of a line), and what it stands for (`about.text` is left empty).
    fn line(&mut self, text: &str, about: Line<'d>);
    /// About `n` more lines are coming.
    fn expect(&mut self, _n: usize) {}
    /// [`Sink::copies`].
    fn copies(&self) -> bool {
        false
    }
    /// [`Sink::copy`].
    fn copy(&mut self, _from: &ViewLines, _lines: Range<usize>) {
        unreachable!("lines that copy none were asked to copy some")
    }
}

/// Lines with what each stands for: its provenance, the chain it declares, a load-balancing
/// step's odds, the rule's anchor.
pub struct LineSink<'d, Out> {
    pub out: Out,
    buf: String,
    odds: crate::explain::odds::Odds<'d>,
    pace: Pace,
}

impl<'d, Out> LineSink<'d, Out> {
    pub fn new(out: Out) -> Self {
        LineSink {
            out,
            buf: String::new(),
            odds: Default::default(),
            pace: Pace::never(),
        }
    }

    /// The same sink, its renderer paused at `pace`, a line being a unit of work.
    pub fn paced(self, pace: Pace) -> Self {
        LineSink { pace, ..self }
    }
}

impl<'d, Out: LineOut<'d>> Sink<'d> for LineSink<'d, Out> {
    fn buf(&mut self) -> &mut String {
        &mut self.buf
    }
    fn end(&mut self, about: About<'d>) {
        let text = String::new();
        let line = match about {
            About::Nothing => Line {
                text,
                ..Default::default()
            },
            About::Chain(chain) => Line {
                text,
                source: Some(&chain.provenance),
                defines: Some(chain.name.clone()),
                ..Default::default()
            },
            About::Rule(table, chain, index) => Line {
                text,
                source: Some(&chain.rules[index].provenance),
                defines: None,
                odds: self.odds.of(chain, index),
                anchor: Some(Anchor::IptablesRule {
                    table,
                    chain: chain.name.clone(),
                    index: index as u32,
                }),
            },
            About::Object(source, defines) => Line {
                text,
                source: Some(source),
                defines: defines.map(Text::from),
                ..Default::default()
            },
            About::NftRule {
                source,
                chain,
                index,
                rule,
            } => Line {
                text,
                source: Some(source),
                defines: None,
                odds: crate::explain::odds::nft_rule(rule).map(Into::into),
                anchor: Some(crate::explain::anchor::nft(chain, index).into()),
            },
        };
        self.out.line(&self.buf, line);
        self.buf.clear();
    }
    fn push(&mut self, mut line: Line<'d>) {
        let text = std::mem::take(&mut line.text);
        self.out.line(&text, line);
    }
    fn expect_lines(&mut self, n: usize) {
        self.out.expect(n);
    }
    fn pace(&self) -> Pace {
        self.pace.clone()
    }
    fn copies(&self) -> bool {
        self.out.copies()
    }
    fn copy(&mut self, from: &ViewLines, lines: Range<usize>) {
        self.out.copy(from, lines)
    }
}

// ---------------------------------------------------------------- restore (kube-proxy's text)

// The writers below append to one line's text: a 10,000-Service restore input is 34 MB, and
// a `String` per match would be most of the work.

fn not(negated: bool) -> &'static str {
    if negated {
        "! "
    } else {
        ""
    }
}

fn write_quoted_if_spaced(out: &mut String, text: &str) {
    if text.contains(' ') {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        out.push_str(text);
    }
}

fn write_restore_addr(out: &mut String, c: &Cidr, layout: Layout) {
    if c.is_host() && !c.prefix && !layout.host_suffix() {
        push_ip(out, c.addr);
    } else {
        push_cidr(out, c);
    }
}

fn write_restore_match(out: &mut String, m: &Match, layout: Layout) {
    let _ = match m {
        Match::Comment { text } => {
            out.push_str("-m comment --comment ");
            write_quoted_if_spaced(out, text);
            Ok(())
        }
        Match::Protocol { protocol } => {
            out.push_str("-m ");
            out.push_str(protocol.lower());
            out.push_str(" -p ");
            out.push_str(protocol.lower());
            Ok(())
        }
        Match::Source { negated, cidr } => {
            out.push_str(not(*negated));
            out.push_str("-s ");
            write_restore_addr(out, cidr, layout);
            Ok(())
        }
        Match::Destination { negated, cidr } => {
            out.push_str(not(*negated));
            out.push_str("-d ");
            write_restore_addr(out, cidr, layout);
            Ok(())
        }
        Match::DestinationPort { port } => {
            out.push_str("--dport ");
            push_decimal(out, (*port).into());
            Ok(())
        }
        Match::InInterface { negated, name } => write!(out, "{}-i {name}", not(*negated)),
        Match::AddrType {
            negated,
            source,
            kind,
        } => write!(
            out,
            "-m addrtype {}--{}-type {kind}",
            not(*negated),
            if *source { "src" } else { "dst" }
        ),
        Match::Mark {
            negated,
            value,
            mask,
        } => write!(
            out,
            "-m mark {}--mark {value:#010x}/{mask:#010x}",
            not(*negated)
        ),
        Match::Conntrack { negated, states } => {
            write!(out, "-m conntrack {}--ctstate {states}", not(*negated))
        }
        Match::Statistic { probability } => {
            out.push_str("-m statistic --mode random --probability ");
            out.push_str(probability);
            Ok(())
        }
        Match::RecentCheck { name, seconds } => {
            write!(
                out,
                "-m recent --name {name} --rcheck --seconds {seconds} --reap"
            )
        }
        Match::RecentSet { name } => write!(out, "-m recent --name {name} --set"),
        Match::Nfacct { name } => write!(out, "-m nfacct --nfacct-name {name}"),
        Match::PhysdevNotIn => write!(out, "-m physdev ! --physdev-is-in"),
        Match::ProtocolOnly { protocol } => write!(out, "-p {}", protocol.lower()),
        Match::Set { name, flags } => write!(out, "-m set --match-set {name} {flags}"),
        Match::Ipvs {
            vaddr,
            vproto,
            vport,
        } => write!(
            out,
            "-m ipvs --vaddr {vaddr} --vproto {} --vport {vport}",
            vproto.lower()
        ),
    };
}

fn write_restore_target(out: &mut String, t: &Target) {
    let _ = match t {
        Target::Jump { chain } => {
            out.push_str("-j ");
            out.push_str(chain);
            Ok(())
        }
        Target::Accept => write!(out, "-j ACCEPT"),
        Target::Drop => write!(out, "-j DROP"),
        Target::Return => write!(out, "-j RETURN"),
        Target::Reject => write!(out, "-j REJECT"),
        Target::Dnat { to } => {
            out.push_str("-j DNAT --to-destination ");
            out.push_str(to);
            Ok(())
        }
        Target::Masquerade { random_fully } => {
            if *random_fully {
                write!(out, "-j MASQUERADE --random-fully")
            } else {
                write!(out, "-j MASQUERADE")
            }
        }
        Target::MarkOr { mark } => write!(out, "-j MARK --or-mark {mark:#010x}"),
        Target::MarkXor { mark } => write!(out, "-j MARK --xor-mark {mark:#010x}"),
        Target::MarkSet { value, mask } => {
            write!(out, "-j MARK --set-xmark {value:#010x}/{mask:#010x}")
        }
    };
}

/// One rule as kube-proxy writes it: `-A CHAIN <matches in its order> [-j TARGET]`.
pub fn restore_rule(chain: &str, r: &Rule, layout: Layout) -> String {
    let mut out = String::with_capacity(128);
    write_restore_rule(&mut out, chain, r, layout);
    out
}

fn write_restore_rule(out: &mut String, chain: &str, r: &Rule, layout: Layout) {
    out.push_str("-A ");
    out.push_str(chain);
    for m in r.matches.iter() {
        out.push(' ');
        write_restore_match(out, m, layout);
    }
    if let Some(t) = &r.target {
        out.push(' ');
        write_restore_target(out, t);
    }
}

/// kube-proxy's `iptables-restore --noflush` input for a full sync: its own chains only
/// (built-in chains' jump rules are installed separately), chain lines first, then rules in
/// the order kube-proxy writes them. (kube-proxy visits Services in random map order; kpx in
/// input order.)
pub async fn write_restore<'d>(
    dp: &'d Dataplane,
    layout: Layout,
    sel: Select<'_>,
    sink: &mut dyn Sink<'d>,
) {
    let pace = sink.pace();
    let ours = |t: &'d Table| t.chains.iter().filter(|c| c.kind == ChainKind::KubeProxy);
    sink.expect_lines(
        sel.tables(dp)
            .flat_map(ours)
            .map(|c| c.declarations as usize + c.rules.len())
            .sum::<usize>()
            + 4,
    );
    for t in sel.tables(dp) {
        let chains: Vec<&Chain> = ours(t).collect();
        put(sink, &format!("*{}", t.name.as_str()), About::Nothing);
        for c in &chains {
            for _ in 0..c.declarations {
                let out = sink.buf();
                out.push(':');
                out.push_str(&c.name);
                out.push_str(" - [0:0]");
                sink.end(About::Chain(c));
                pace.unit().await;
            }
        }
        // Rules in written order. A table's orders count its rules from 1, so each rule's
        // order is its slot (a sort of 330,000 rules was a tenth of the work). One chain's
        // rules are in written order already.
        let slots: Vec<Option<(&Chain, usize)>> = match sel.chain {
            Some(want) => (chains.iter())
                .filter(|c| &*c.name == want)
                .flat_map(|c| (0..c.rules.len()).map(move |i| Some((*c, i))))
                .collect(),
            None => {
                let rules = chains.iter().flat_map(|c| c.rules.iter());
                let mut slots = vec![None; rules.map(|r| r.order as usize + 1).max().unwrap_or(0)];
                for c in &chains {
                    for (i, r) in c.rules.iter().enumerate() {
                        slots[r.order as usize] = Some((*c, i));
                    }
                }
                slots
            }
        };
        for (chain, i) in slots.into_iter().flatten() {
            write_restore_rule(sink.buf(), &chain.name, &chain.rules[i], layout);
            sink.end(About::Rule(t.name, chain, i));
            pace.unit().await;
        }
        put(sink, "COMMIT", About::Nothing);
    }
}

// ---------------------------------------------------------------- save (iptables-save)

/// Writes `xtables_save_string`: bare when made only of `[A-Za-z0-9_-]`, else double-quoted with
/// `"`, `\` and `'` escaped.
fn push_save_string(out: &mut String, s: &str) {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        out.push_str(s);
    } else {
        out.push('"');
        for c in s.chars() {
            if matches!(c, '"' | '\\' | '\'') {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
}

/// Writes the probability the kernel keeps (`lround(p * 2^31)`), with 11 decimals as
/// iptables does: kube-proxy's `0.3333333333` reads back as `0.33333333349`.
fn push_kernel_probability(out: &mut String, text: &str) {
    let p: f64 = text.parse().unwrap_or(0.0);
    let fixed = (p * 2147483648.0).round();
    let _ = write!(out, "{:.11}", fixed / 2147483648.0);
}

fn dport_of(r: &Rule) -> Option<u16> {
    r.matches.iter().find_map(|m| match m {
        Match::DestinationPort { port } => Some(*port),
        _ => None,
    })
}

/// The `recent` match's default mask, printed by family.
fn recent_mask(ipv6: bool) -> &'static str {
    if ipv6 {
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    } else {
        "255.255.255.255"
    }
}

/// Whether iptables-save prints the match in the IP header part (`-s -d -i -p`, and `--dport`
/// with the protocol's module) rather than as a module of its own.
fn in_header(m: &Match) -> bool {
    matches!(
        m,
        Match::Source { .. }
            | Match::Destination { .. }
            | Match::InInterface { .. }
            | Match::DestinationPort { .. }
            | Match::ProtocolOnly { .. }
    )
}

/// Writes a module match (` -m …`, with its leading space) as iptables-save prints it.
fn write_save_module(out: &mut String, m: &Match, r: &Rule, ipv6: bool) {
    let _ = match m {
        Match::Source { .. }
        | Match::Destination { .. }
        | Match::InInterface { .. }
        | Match::DestinationPort { .. }
        | Match::ProtocolOnly { .. } => Ok(()),
        Match::Set { name, flags } => write!(out, " -m set --match-set {name} {flags}"),
        // libxt_ipvs prints the address with its mask and the protocol by number (not observed:
        // this kernel has no IPVS).
        Match::Ipvs {
            vaddr,
            vproto,
            vport,
        } => {
            let proto = match vproto {
                crate::proxy::Protocol::Tcp => 6,
                crate::proxy::Protocol::Udp => 17,
                crate::proxy::Protocol::Sctp => 132,
                crate::proxy::Protocol::Icmp => 1,
            };
            write!(
                out,
                " -m ipvs --vaddr {} --vproto {proto} --vport {vport}",
                Cidr::host(*vaddr).with_len()
            )
        }
        Match::Comment { text } => {
            out.push_str(" -m comment --comment ");
            push_save_string(out, text);
            Ok(())
        }
        Match::Protocol { protocol } => match dport_of(r) {
            Some(p) => write!(out, " -m {} --dport {p}", protocol.lower()),
            None => write!(out, " -m {}", protocol.lower()),
        },
        Match::AddrType {
            negated,
            source,
            kind,
        } => write!(
            out,
            " -m addrtype {}--{}-type {kind}",
            not(*negated),
            if *source { "src" } else { "dst" }
        ),
        Match::Mark {
            negated,
            value,
            mask,
        } => write!(out, " -m mark {}--mark {value:#x}/{mask:#x}", not(*negated)),
        Match::Conntrack { negated, states } => {
            write!(out, " -m conntrack {}--ctstate {states}", not(*negated))
        }
        Match::Statistic { probability } => {
            out.push_str(" -m statistic --mode random --probability ");
            push_kernel_probability(out, probability);
            Ok(())
        }
        Match::RecentCheck { name, seconds } => write!(
            out,
            " -m recent --rcheck --seconds {seconds} --reap --name {name} --mask {} --rsource",
            recent_mask(ipv6)
        ),
        Match::RecentSet { name } => write!(
            out,
            " -m recent --set --name {name} --mask {} --rsource",
            recent_mask(ipv6)
        ),
        // libxt_nfacct prints its name through xtables_save_string, which adds a space.
        Match::Nfacct { name } => {
            out.push_str(" -m nfacct --nfacct-name  ");
            push_save_string(out, name);
            Ok(())
        }
        Match::PhysdevNotIn => write!(out, " -m physdev ! --physdev-is-in"),
    };
}

fn write_save_target(out: &mut String, t: &Target, ipv6: bool) {
    let _ = match t {
        Target::Reject => write!(
            out,
            "-j REJECT --reject-with {}",
            if ipv6 {
                "icmp6-port-unreachable"
            } else {
                "icmp-port-unreachable"
            }
        ),
        Target::MarkOr { mark } => write!(out, "-j MARK --set-xmark {mark:#x}/{mark:#x}"),
        Target::MarkXor { mark } => write!(out, "-j MARK --set-xmark {mark:#x}/0x0"),
        Target::MarkSet { value, mask } => {
            write!(out, "-j MARK --set-xmark {value:#x}/{mask:#x}")
        }
        other => {
            write_restore_target(out, other);
            Ok(())
        }
    };
}

/// One rule as `iptables-save` prints it: the header part in `-s -d -i -p` order, then each
/// module in the order given, then the target.
pub fn save_rule(chain: &str, r: &Rule, ipv6: bool) -> String {
    let mut out = String::with_capacity(128);
    write_save_rule(&mut out, chain, r, ipv6);
    out
}

fn write_save_rule(out: &mut String, chain: &str, r: &Rule, ipv6: bool) {
    out.push_str("-A ");
    out.push_str(chain);
    let write_cidr = |out: &mut String, flag: &str, negated: bool, cidr: &Cidr| {
        out.push(' ');
        out.push_str(not(negated));
        out.push_str(flag);
        push_cidr(out, cidr);
    };
    for m in r.matches.iter() {
        if let Match::Source { negated, cidr } = m {
            write_cidr(out, "-s ", *negated, cidr);
        }
    }
    for m in r.matches.iter() {
        if let Match::Destination { negated, cidr } = m {
            write_cidr(out, "-d ", *negated, cidr);
        }
    }
    for m in r.matches.iter() {
        if let Match::InInterface { negated, name } = m {
            let _ = write!(out, " {}-i {name}", not(*negated));
        }
    }
    for m in r.matches.iter() {
        if let Match::Protocol { protocol } | Match::ProtocolOnly { protocol } = m {
            let _ = write!(out, " -p {}", protocol.lower());
        }
    }
    for m in r.matches.iter().filter(|m| !in_header(m)) {
        write_save_module(out, m, r, ipv6);
    }
    if let Some(t) = &r.target {
        out.push(' ');
        write_save_target(out, t, ipv6);
    }
}

fn builtin_order(t: TableName) -> &'static [&'static str] {
    match t {
        TableName::Filter => &["INPUT", "FORWARD", "OUTPUT"],
        TableName::Nat => &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
    }
}

/// `items` by `name`, in byte order (names are unique), sorted a part at a time
/// ([`crate::pace::sort_by`]). A quarter of a million chains at 44,125 Services: each name's
/// first 16 bytes are read once, into a list sorted in place, and mostly decide (names behind
/// pointers, compared where they lie, took 165 ms natively; this takes 46). The list holds
/// positions, not the items, so that one sort serves every kind of item in the site's wasm.
pub(crate) async fn sorted_by_name<'a, T: 'a>(
    items: impl Iterator<Item = &'a T>,
    name: impl Fn(&T) -> &str,
    pace: &Pace,
) -> Vec<&'a T> {
    let head = |name: &str| {
        let mut bytes = [0u8; 16];
        let n = name.len().min(16);
        bytes[..n].copy_from_slice(&name.as_bytes()[..n]);
        u128::from_be_bytes(bytes)
    };
    // Keyed a part at a time too (a 40 ms piece of the wasm at 44,125 Services, made whole).
    let (mut listed, mut keyed) = (Vec::new(), Vec::new());
    for item in items {
        keyed.push((head(name(item)), listed.len()));
        listed.push(item);
        if listed.len() % 64 == 0 {
            pace.unit().await;
        }
    }
    let items = listed;
    let by_name = |(a_head, a): &(u128, usize), (b_head, b): &(u128, usize)| {
        a_head
            .cmp(b_head)
            .then_with(|| name(items[*a]).cmp(name(items[*b])))
    };
    let keyed = crate::pace::sort_by(keyed, &by_name, pace).await;
    keyed.into_iter().map(|(_, i)| items[i]).collect()
}

/// Chains in the order iptables (nf_tables) lists them: built-ins, then the rest sorted.
async fn listing_order<'t>(t: &'t Table, pace: &Pace) -> Vec<&'t Chain> {
    let order = match t.listing.get() {
        Some(order) => order.clone(),
        None => {
            let mut order: Vec<u32> = builtin_order(t.name)
                .iter()
                .filter_map(|n| t.by_name.get(*n).map(|&i| i as u32))
                .collect();
            let others: Vec<(u32, &Chain)> = (t.chains.iter().enumerate())
                .filter(|(_, c)| c.kind != ChainKind::BuiltIn)
                .map(|(i, c)| (i as u32, c))
                .collect();
            let sorted = sorted_by_name(others.iter(), |(_, c)| &c.name, pace).await;
            order.extend(sorted.into_iter().map(|(i, _)| *i));
            t.listing.get_or_init(|| order.into()).clone()
        }
    };
    order.iter().map(|&i| &t.chains[i as usize]).collect()
}

/// The same view made before an edit, from the dataplane it was made from: a view made
/// again copies the lines of what did not change instead of writing them anew. The two must
/// belong together (the page pairs them by the analysis that wrote the lines): a declaration's
/// text is checked before it is copied, but a rule's line only by its anchor (its chain and
/// place), not by its text.
#[derive(Clone, Copy)]
pub struct Before<'b> {
    pub dataplane: &'b Dataplane,
    pub lines: &'b ViewLines,
}

/// Whether two rules write the same lines in every view: all but their place in kube-proxy's
/// restore input. A rule copied after an edit shares its matches, its target's text and its
/// provenance with the rule it copies: those compare by address first. (Read in full, they
/// were most of copying a save view's lines after a key at 1,000 Services. `Rc<str>`'s `==`
/// reads both texts even when they are one: std compares by address first only for sized
/// types, as `Rc<Why>`.)
fn same_rule(a: &Rule, b: &Rule) -> bool {
    let same_text = |x: &Text, y: &Text| Rc::ptr_eq(x, y) || x == y;
    let same_target = match (&a.target, &b.target) {
        (Some(Target::Jump { chain: x }), Some(Target::Jump { chain: y }))
        | (Some(Target::Dnat { to: x }), Some(Target::Dnat { to: y })) => same_text(x, y),
        (x, y) => x == y,
    };
    (Rc::ptr_eq(&a.matches, &b.matches) || a.matches == b.matches)
        && same_target
        && a.provenance == b.provenance
}

/// A table's part of a save view made before an edit, read while the view after it is
/// written: the line declaring each chain and the lines of its rules, found by walking the
/// old declarations in the listing order alongside the new ones (a chain's name is compared
/// with the old one's, an old chain looked up only when a rule of the same name is asked
/// for), and the lines to copy, gathered while they follow one another in the old view (a
/// copy a chain was a quarter of the view's cost at 1,000 Services: 11,000 chains).
struct SavedRules<'b> {
    before: Before<'b>,
    table: &'b Table,
    /// The declarations' lines (one a chain, in the listing order).
    declared: Range<usize>,
    /// The next declaration line to look at for a chain's declaration.
    next_declaration: usize,
    /// The declaration of the chain whose rules come next (`rules_at` is where they start).
    next_rules: usize,
    rules_at: usize,
    /// Lines of the view before taken to copy, not copied yet.
    run: Run<'b>,
}

/// The most lines copied in one go: the renderer pauses after a copy, as after each line it
/// writes (at 44,125 Services a save view is 2 million lines).
const COPIED_RUN: usize = 4_096;

/// Lines (or objects) of a view before looked at between two units of work: far less work
/// each than a line written.
pub(crate) const LOOKED_AT: usize = 1_024;

/// Lines of a view made before an edit, taken to copy while they follow one another there
/// and copied in one go (a copy a chain was a quarter of the save view's cost at 1,000
/// Services: 11,000 chains), up to [`COPIED_RUN`] lines at a time.
pub(crate) struct Run<'b> {
    from: &'b ViewLines,
    lines: Range<usize>,
}

impl<'b> Run<'b> {
    pub(crate) fn new(from: &'b ViewLines) -> Self {
        Run { from, lines: 0..0 }
    }

    /// Takes `lines` of the view before to copy next (copying those taken so far first, unless
    /// `lines` follows them and they are fewer than [`COPIED_RUN`]: the renderer pauses after
    /// a copy, and what it compared to take the lines, a rule or an object a line, is work
    /// too).
    pub(crate) async fn take<'d>(
        &mut self,
        lines: Range<usize>,
        sink: &mut dyn Sink<'d>,
        pace: &Pace,
    ) {
        if self.lines.end != lines.start || self.lines.len() >= COPIED_RUN {
            self.copy(sink, pace).await;
            self.lines = lines.start..lines.start;
        }
        self.lines.end = lines.end;
    }

    /// Copies the lines taken so far (before a line is written anew, and at the end), up to
    /// [`COPIED_RUN`] at a time (a whole chain alike is taken at once: 44,125 lines of
    /// `KUBE-SERVICES`).
    pub(crate) async fn copy<'d>(&mut self, sink: &mut dyn Sink<'d>, pace: &Pace) {
        let mut lines = std::mem::replace(&mut self.lines, 0..0);
        while !lines.is_empty() {
            let part = lines.start..lines.end.min(lines.start + COPIED_RUN);
            lines.start = part.end;
            let n = part.len();
            sink.copy(self.from, part);
            pace.units(n).await;
        }
    }
}

impl<'b> SavedRules<'b> {
    /// The table's part of the view before, if it starts at line `start` (`*table`).
    fn new(before: Before<'b>, t: TableName, start: usize) -> Option<Self> {
        let table = before.dataplane.table(t)?;
        if before.lines.get(start)?.text != format!("*{}", t.as_str()) {
            return None;
        }
        let lines = before.lines;
        let first = start + 1;
        let end = (first..lines.len())
            .find(|&i| lines.get(i).is_none_or(|l| l.defines.is_none()))
            .unwrap_or(lines.len());
        Some(SavedRules {
            before,
            table,
            declared: first..end,
            next_declaration: first,
            next_rules: first,
            rules_at: end,
            run: Run::new(before.lines),
        })
    }

    /// The chain the declaration line `at` declares (`None` past the declarations).
    fn declared_at(&self, at: usize) -> Option<&'b Text> {
        let lines: &'b ViewLines = self.before.lines;
        lines
            .about(at)
            .filter(|_| self.declared.contains(&at))?
            .defines
            .as_ref()
    }

    /// The line that declared `chain` before the edit, if it declared it alike: the same
    /// name, policy and provenance. Chains are asked for in the listing order.
    fn declaration(&mut self, t: TableName, chain: &Chain, policy: &str) -> Option<usize> {
        while let Some(name) = self.declared_at(self.next_declaration) {
            let at = self.next_declaration;
            if **name != *chain.name {
                if listed_after(t, name, &chain.name) {
                    return None;
                }
                self.next_declaration += 1;
                continue;
            }
            self.next_declaration += 1;
            let line = self.before.lines.get(at)?;
            let text = (line.text.strip_prefix(':'))
                .and_then(|l| l.strip_prefix(&**name))
                .and_then(|l| l.strip_prefix(' '))
                .and_then(|l| l.strip_prefix(policy));
            let same = text == Some(" [0:0]") && line.source.as_ref() == Some(&chain.provenance);
            return same.then_some(at);
        }
        None
    }

    /// The chain of `chain`'s name before the edit, and the lines of its rules, if the view
    /// before listed it. Chains are asked for in the listing order.
    fn rules_of(&mut self, t: TableName, chain: &Chain) -> Option<(&'b Chain, Range<usize>)> {
        while let Some(name) = self.declared_at(self.next_rules) {
            if **name != *chain.name && listed_after(t, name, &chain.name) {
                return None;
            }
            let old = self.old_chain(self.next_rules, name)?;
            let lines = self.rules_at..self.rules_at + old.rules.len();
            self.next_rules += 1;
            self.rules_at = lines.end;
            if **name == *chain.name {
                return Some((old, lines));
            }
        }
        None
    }

    /// The old chain `name` that declaration line `at` declares: found by its place in the
    /// listing order the old view was written in (12,000 look-ups by name were 1 ms of a key
    /// at 1,000 Services in the wasm), or by name.
    fn old_chain(&self, at: usize, name: &Text) -> Option<&'b Chain> {
        let table: &'b Table = self.table;
        let listed = (table.listing.get())
            .and_then(|order| order.get(at - self.declared.start))
            .and_then(|&i| table.chains.get(i as usize));
        match listed {
            Some(chain) if Rc::ptr_eq(&chain.name, name) => Some(chain),
            _ => table.chain(name),
        }
    }

    /// The line of `chain`'s `index`-th rule before the edit, if it wrote the same line then:
    /// the same rule at the same place, in a chain (`old`, its rules at `lines`) whose rules
    /// are all the same (`odds_alike`: a cascade's odds are its whole chain's) or a rule that
    /// has no odds.
    fn rule_line(
        &self,
        (old, lines): &(&Chain, Range<usize>),
        odds_alike: bool,
        chain: &Chain,
        index: usize,
    ) -> Option<usize> {
        let (was, is) = (old.rules.get(index)?, &chain.rules[index]);
        let at = lines.start + index;
        let same = (odds_alike || same_rule(was, is) && !crate::explain::odds::endpoint_jump(is))
            && self.before.lines.about(at).is_some_and(|l| {
                matches!(&l.anchor, Some(Anchor::IptablesRule { chain: c, index: n, .. })
                    if *n as usize == index && (Rc::ptr_eq(c, &old.name) || **c == *chain.name))
            });
        same.then_some(at)
    }

    /// Whether `chain`, of the dataplane `dp` built after the edit, is a copy rule for rule
    /// of `old`, the chain of its name the view before listed ([`Chain::copy_of`]).
    fn copied_whole(&self, dp: &Dataplane, chain: &Chain, old: &Chain) -> bool {
        let copy_of = chain
            .copy_of
            .and_then(|i| self.table.chains.get(i as usize));
        dp.copied_from == Some(self.before.dataplane.build)
            && copy_of.is_some_and(|copied| std::ptr::eq(copied, old))
            && old.rules.len() == chain.rules.len()
    }

    /// Takes lines `lines` of the view before to copy next.
    async fn take<'d>(&mut self, lines: Range<usize>, sink: &mut dyn Sink<'d>, pace: &Pace) {
        self.run.take(lines, sink, pace).await
    }

    /// Copies the lines taken so far (before a line is written anew, and at the table's end).
    async fn copy<'d>(&mut self, sink: &mut dyn Sink<'d>, pace: &Pace) {
        self.run.copy(sink, pace).await
    }
}

/// Whether chain `name` is listed after chain `other` in table `t`: built-in chains first, in
/// their order, then the rest by name.
fn listed_after(t: TableName, name: &str, other: &str) -> bool {
    let builtin = |name: &str| builtin_order(t).iter().position(|b| *b == name);
    let rank = |name| builtin(name).unwrap_or(usize::MAX);
    (rank(name), name) > (rank(other), other)
}

/// `iptables-save [-t TABLE]` on the node, without its timestamped comment lines.
pub async fn write_save<'d>(
    dp: &'d Dataplane,
    ipv6: bool,
    sel: Select<'_>,
    sink: &mut dyn Sink<'d>,
) {
    write_save_after(dp, ipv6, sel, None, sink).await
}

/// [`write_save`] after an edit: the rules of each chain that has the same rules as in the
/// view made before it are copied from that view ([`Before`]).
pub async fn write_save_after<'d>(
    dp: &'d Dataplane,
    ipv6: bool,
    sel: Select<'_>,
    before: Option<Before<'_>>,
    sink: &mut dyn Sink<'d>,
) {
    let pace = sink.pace();
    // iptables-save (nf_tables) lists filter before nat, whatever order they were written in.
    let mut tables: Vec<&Table> = sel.tables(dp).collect();
    crate::pace::sort_stable_by_key(&mut tables, |t| t.name);
    sink.expect_lines(
        tables
            .iter()
            .flat_map(|t| &t.chains)
            .map(|c| 1 + c.rules.len())
            .sum::<usize>()
            + 2 * tables.len(),
    );
    // Where each table's part of the view before starts (a table's part is its name, its
    // chains, their rules and COMMIT, in the same order as this one's).
    let mut start = 0;
    let copies = sink.copies() && sel.table.is_none() && sel.chain.is_none();
    let before = before.filter(|_| copies);
    for t in tables {
        let chains = listing_order(t, &pace).await;
        let mut saved = before.and_then(|b| {
            let saved = SavedRules::new(b, t.name, start);
            let old = b.dataplane.table(t.name)?;
            start += 2 + old.chains.len() + old.chains.iter().map(|c| c.rules.len()).sum::<usize>();
            saved
        });
        put(sink, &format!("*{}", t.name.as_str()), About::Nothing);
        for c in &chains {
            let policy = if c.kind == ChainKind::BuiltIn {
                "ACCEPT"
            } else {
                "-"
            };
            if let Some(s) = saved.as_mut() {
                match s.declaration(t.name, c, policy) {
                    Some(at) => {
                        s.take(at..at + 1, sink, &pace).await;
                        continue;
                    }
                    None => s.copy(sink, &pace).await,
                }
            }
            let buf = sink.buf();
            buf.push(':');
            buf.push_str(&c.name);
            buf.push(' ');
            buf.push_str(policy);
            buf.push_str(" [0:0]");
            sink.end(About::Chain(c));
            pace.unit().await;
        }
        for c in &chains {
            if sel.chain.is_some_and(|want| want != &*c.name) {
                continue;
            }
            let old = saved.as_mut().and_then(|s| s.rules_of(t.name, c));
            // A chain the build copied whole from the old one has its rules, unread.
            let copied = (saved.as_ref().zip(old.as_ref()))
                .is_some_and(|(s, (old, _))| s.copied_whole(dp, c, old));
            // A chain whose rules are all as they were has the same odds; in another, only
            // the rules without odds are copied (a cascade's odds are its whole chain's).
            let odds_alike = copied
                || old.as_ref().is_some_and(|(old, _)| {
                    old.rules.len() == c.rules.len()
                        && old.rules.iter().zip(&c.rules).all(|(a, b)| same_rule(a, b))
                });
            // (Its lines at once, if they are all as they were: a copied chain's lines
            // checked at its ends.)
            if let (Some(s), Some(old), true) = (saved.as_mut(), &old, odds_alike) {
                let (lines, n) = (&old.1, c.rules.len());
                let mut checked = (0..n).filter(|&i| !copied || i == 0 || i == n - 1);
                if checked.all(|i| s.rule_line(old, true, c, i).is_some()) {
                    s.take(lines.clone(), sink, &pace).await;
                    continue;
                }
            }
            for (i, r) in c.rules.iter().enumerate() {
                if let Some(s) = saved.as_mut() {
                    match old
                        .as_ref()
                        .and_then(|old| s.rule_line(old, odds_alike, c, i))
                    {
                        Some(at) => {
                            s.take(at..at + 1, sink, &pace).await;
                            continue;
                        }
                        None => s.copy(sink, &pace).await,
                    }
                }
                write_save_rule(sink.buf(), &c.name, r, ipv6);
                sink.end(About::Rule(t.name, c, i));
                pace.unit().await;
            }
        }
        if let Some(s) = saved.as_mut() {
            s.copy(sink, &pace).await;
        }
        put(sink, "COMMIT", About::Nothing);
    }
}

pub fn save(dp: &Dataplane, ipv6: bool, sel: Select) -> String {
    let mut sink = TextSink::default();
    at_once(write_save(dp, ipv6, sel, &mut sink));
    sink.finish()
}

// ---------------------------------------------------------------- list (iptables -L)

#[derive(Clone, Copy, Debug, Default)]
pub struct ListOptions {
    pub verbose: bool,
    pub numeric: bool,
}

fn list_matches(r: &Rule, numeric: bool, ipv6: bool) -> String {
    let mut s = String::new();
    let dport = dport_of(r);
    for m in r.matches.iter() {
        match m {
            Match::Comment { text } => write!(s, " /* {text} */").unwrap(),
            Match::Protocol { protocol } => {
                let p = protocol.lower();
                match dport {
                    Some(port) => {
                        let name = if numeric { None } else { port_name(port, p) };
                        match name {
                            Some(n) => write!(s, " {p} dpt:{n}").unwrap(),
                            None => write!(s, " {p} dpt:{port}").unwrap(),
                        }
                    }
                    None => write!(s, " {p}").unwrap(),
                }
            }
            Match::AddrType {
                negated,
                source,
                kind,
            } => write!(
                s,
                " ADDRTYPE match {}-type {}{kind}",
                if *source { "src" } else { "dst" },
                if *negated { "!" } else { "" }
            )
            .unwrap(),
            Match::Mark {
                negated,
                value,
                mask,
            } => write!(
                s,
                " mark match {}{value:#x}/{mask:#x}",
                if *negated { "! " } else { "" }
            )
            .unwrap(),
            Match::Conntrack { negated, states } => {
                write!(s, " {}ctstate {states}", if *negated { "! " } else { "" }).unwrap()
            }
            Match::Statistic { probability } => {
                s.push_str(" statistic mode random probability ");
                push_kernel_probability(&mut s, probability);
            }
            Match::RecentCheck { name, seconds } => write!(
                s,
                " recent: CHECK seconds: {seconds} reap name: {name} side: source mask: {}",
                recent_mask(ipv6)
            )
            .unwrap(),
            Match::RecentSet { name } => write!(
                s,
                " recent: SET name: {name} side: source mask: {}",
                recent_mask(ipv6)
            )
            .unwrap(),
            Match::Nfacct { name } => {
                s.push_str(" nfacct-name  ");
                push_save_string(&mut s, name);
            }
            Match::PhysdevNotIn => s.push_str(" PHYSDEV match ! --physdev-is-in"),
            Match::Set { name, flags } => write!(s, " match-set {name} {flags}").unwrap(),
            Match::Ipvs {
                vaddr,
                vproto,
                vport,
            } => write!(s, " vaddr {vaddr} vproto {} vport {vport}", vproto.lower()).unwrap(),
            Match::ProtocolOnly { .. } => {}
            Match::Source { .. }
            | Match::Destination { .. }
            | Match::InInterface { .. }
            | Match::DestinationPort { .. } => {}
        }
    }
    if let Some(t) = &r.target {
        match t {
            Target::Dnat { to } => write!(s, " to:{to}").unwrap(),
            Target::Masquerade { random_fully: true } => s.push_str(" random-fully"),
            Target::Reject => s.push_str(if ipv6 {
                " reject-with icmp6-port-unreachable"
            } else {
                " reject-with icmp-port-unreachable"
            }),
            Target::MarkOr { mark } => write!(s, " MARK or {mark:#x}").unwrap(),
            Target::MarkXor { mark } => write!(s, " MARK xor {mark:#x}").unwrap(),
            Target::MarkSet { value, mask } => {
                if value == mask {
                    write!(s, " MARK or {value:#x}").unwrap()
                } else {
                    write!(s, " MARK xset {value:#x}/{mask:#x}").unwrap()
                }
            }
            _ => {}
        }
    }
    s
}

fn target_name(t: &Option<Target>) -> String {
    match t {
        None => String::new(),
        Some(Target::Jump { chain }) => chain.to_string(),
        Some(Target::Accept) => "ACCEPT".into(),
        Some(Target::Drop) => "DROP".into(),
        Some(Target::Return) => "RETURN".into(),
        Some(Target::Reject) => "REJECT".into(),
        Some(Target::Dnat { .. }) => "DNAT".into(),
        Some(Target::Masquerade { .. }) => "MASQUERADE".into(),
        Some(Target::MarkOr { .. } | Target::MarkXor { .. } | Target::MarkSet { .. }) => {
            "MARK".into()
        }
    }
}

fn list_addr(r: &Rule, source: bool, numeric: bool, ipv6: bool) -> String {
    let found = r.matches.iter().find_map(|m| match m {
        Match::Source { negated, cidr } if source => Some((*negated, *cidr)),
        Match::Destination { negated, cidr } if !source => Some((*negated, *cidr)),
        _ => None,
    });
    match found {
        None if numeric => format!(" {}", if ipv6 { "::/0" } else { "0.0.0.0/0" }),
        None => " anywhere".into(),
        Some((negated, c)) => {
            // Without -n, iptables names addresses (getnetbyaddr, from Debian's /etc/networks);
            // host addresses would go through the resolver, which kpx leaves numeric.
            let name = if numeric { None } else { network_name(c.addr) };
            let addr = name.map_or_else(|| c.addr.to_string(), str::to_string);
            let text = if c.is_host() {
                addr
            } else {
                format!("{addr}/{}", c.len)
            };
            format!("{}{text}", if negated { "!" } else { " " })
        }
    }
}

/// Debian's `/etc/networks`.
fn network_name(addr: std::net::IpAddr) -> Option<&'static str> {
    match addr.to_string().as_str() {
        "0.0.0.0" => Some("default"),
        "127.0.0.0" => Some("loopback"),
        "169.254.0.0" => Some("link-local"),
        _ => None,
    }
}

fn list_rule(r: &Rule, counters: (u64, u64), o: ListOptions, ipv6: bool) -> String {
    let mut s = String::new();
    if o.verbose {
        write!(s, "{:>5} {:>5} ", counters.0, counters.1).unwrap();
    }
    write!(s, "{:<9} ", target_name(&r.target)).unwrap();
    let proto = r.matches.iter().find_map(|m| match m {
        Match::Protocol { protocol } | Match::ProtocolOnly { protocol } => Some(*protocol),
        _ => None,
    });
    let prot = match (proto, o.numeric) {
        (None, false) => "all".to_string(),
        (None, true) => "0".to_string(),
        (Some(p), false) => p.lower().to_string(),
        (Some(p), true) => match p {
            crate::proxy::Protocol::Tcp => "6".into(),
            crate::proxy::Protocol::Udp => "17".into(),
            crate::proxy::Protocol::Sctp => "132".into(),
            crate::proxy::Protocol::Icmp => "1".into(),
        },
    };
    write!(s, " {prot:<5}").unwrap();
    s.push_str("-- ");
    if o.verbose {
        let any = if o.numeric { "*" } else { "any" };
        let iface = r
            .matches
            .iter()
            .find_map(|m| match m {
                Match::InInterface { negated, name } => {
                    Some(format!("{}{name}", if *negated { "!" } else { "" }))
                }
                _ => None,
            })
            .unwrap_or_else(|| any.to_string());
        write!(s, " {iface:<6} {any:<6} ").unwrap();
    }
    let src = list_addr(r, true, o.numeric, ipv6);
    let dst = list_addr(r, false, o.numeric, ipv6);
    write!(s, "{src:<20} {dst:<20} ").unwrap();
    // The match texts follow the padded destination column, each with a leading space.
    s.push_str(&list_matches(r, o.numeric, ipv6));
    s
}

/// `iptables -t TABLE -L [CHAIN] [-v] [-n]`. Counters are 0: nothing has flowed.
pub async fn write_list<'d>(
    dp: &'d Dataplane,
    table: TableName,
    chain: Option<&str>,
    o: ListOptions,
    ipv6: bool,
    sink: &mut dyn Sink<'d>,
) -> Result<(), String> {
    let t = dp
        .table(table)
        .ok_or_else(|| format!("no table {}", table.as_str()))?;
    let pace = sink.pace();
    let chains: Vec<&Chain> = match chain {
        Some(name) => vec![t.chain(name).ok_or_else(|| {
            format!(
                "iptables: No chain/target/match by that name. ({name} is not in the {} table)",
                table.as_str()
            )
        })?],
        None => listing_order(t, &pace).await,
    };
    // Each chain's lines: its title, the column heads and its rules, and a blank line between
    // two chains.
    sink.expect_lines(chains.iter().map(|c| 3 + c.rules.len()).sum::<usize>());
    // References to each chain, counted once (not once per chain: 100,000 endpoints' chains),
    // a chain's rules a unit, into an index sized once (at 44,125 Services it grew to 617,750
    // names).
    let mut references: std::collections::HashMap<&str, usize> =
        std::collections::HashMap::with_capacity(t.chains.len());
    for c in &t.chains {
        for r in &c.rules {
            if let Some(target) = r.target.as_ref().and_then(Target::jump_chain) {
                *references.entry(target).or_default() += 1;
            }
        }
        pace.unit().await;
    }
    let refs = |name: &str| -> usize { references.get(name).copied().unwrap_or(0) };
    for (i, c) in chains.into_iter().enumerate() {
        if i > 0 {
            sink.end(About::Nothing);
        }
        let _ = match (c.kind, o.verbose) {
            (ChainKind::BuiltIn, true) => write!(
                sink.buf(),
                "Chain {} (policy ACCEPT 0 packets, 0 bytes)",
                c.name
            ),
            (ChainKind::BuiltIn, false) => write!(sink.buf(), "Chain {} (policy ACCEPT)", c.name),
            _ => write!(
                sink.buf(),
                "Chain {} ({} references)",
                c.name,
                refs(&c.name)
            ),
        };
        sink.end(About::Chain(c));
        let columns = if o.verbose {
            " pkts bytes target     prot opt in     out     source               destination         "
        } else {
            "target     prot opt source               destination         "
        };
        put(sink, columns, About::Nothing);
        for (i, r) in c.rules.iter().enumerate() {
            sink.buf().push_str(&list_rule(r, (0, 0), o, ipv6));
            sink.end(About::Rule(table, c, i));
            pace.unit().await;
        }
    }
    Ok(())
}
