//! Text views of the nftables table: `nft` (kube-proxy's objects as `nft -f` input, in the
//! layout of knftables' `Fake.Dump()` that kube-proxy's tests compare) and `nft-list`.

use super::model::*;
use crate::iptables::render::Line;

fn q(s: &str) -> String {
    format!("\"{s}\"")
}

fn element_text(e: &Element) -> String {
    let mut t = e.key.clone();
    if let Some(c) = &e.comment {
        t.push_str(&format!(" comment {}", q(c)));
    }
    if !e.value.is_empty() {
        t.push_str(&format!(" : {}", e.value));
    }
    t
}

fn sorted<'a, T>(items: &'a [T], name: impl Fn(&T) -> &str) -> Vec<&'a T> {
    let mut v: Vec<&T> = items.iter().collect();
    v.sort_by(|a, b| name(a).cmp(name(b)));
    v
}

/// kube-proxy's table as `nft -f` input: every object added, then the chains' rules, then the
/// set and map elements (objects by name, as knftables' `Fake.Dump()` lists them).
pub fn nft_lines(t: &Table) -> Vec<Line<'_>> {
    let p = format!("{} {}", t.family, t.name);
    let mut out = Vec::new();
    out.push(Line { text: format!("add table {p} {{ comment {} ; }}", q(t.comment)), source: None });
    let chains = sorted(&t.chains, |c| &c.name);
    let sets = sorted(&t.sets, |s| &s.name);
    let maps = sorted(&t.maps, |m| &m.name);
    for c in &chains {
        let props = match (&c.base, &c.comment) {
            (Some(b), _) => format!(" {{ type {} hook {} priority {} ; }}", b.type_, b.hook, b.priority),
            (None, Some(comment)) => format!(" {{ comment {} ; }}", q(comment)),
            (None, None) => String::new(),
        };
        out.push(Line { text: format!("add chain {p} {}{props}", c.name), source: Some(&c.provenance) });
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
        out.push(Line { text: format!("add set {p} {} {{ {props} }}", s.name), source: Some(&s.provenance) });
    }
    for m in &maps {
        let mut props = format!("type {} ;", m.type_);
        if let Some(c) = &m.comment {
            props.push_str(&format!(" comment {} ;", q(c)));
        }
        out.push(Line { text: format!("add map {p} {} {{ {props} }}", m.name), source: Some(&m.provenance) });
    }
    for c in &chains {
        for r in &c.rules {
            out.push(Line { text: format!("add rule {p} {} {}", c.name, r.text), source: Some(&r.provenance) });
        }
    }
    for s in &sets {
        for e in &s.elements {
            out.push(Line { text: format!("add element {p} {} {{ {} }}", s.name, element_text(e)), source: Some(&e.provenance) });
        }
    }
    for m in &maps {
        for e in &m.elements {
            out.push(Line { text: format!("add element {p} {} {{ {} }}", m.name, element_text(e)), source: Some(&e.provenance) });
        }
    }
    out
}
