//! iptables mode: the typed dataplane kube-proxy programs, and its text views.
//!
//! [`build`] picks the rule layout of the configured kube-proxy release (`current` for ≥ 1.25,
//! `v1_23` for 1.22–1.23, the article's) and returns a [`model::Dataplane`]; the renderers in
//! [`render`] are pure functions of it.

pub(crate) mod builder;
mod current;
pub(crate) mod ipvs_rules;
pub mod model;
pub mod render;
pub mod reuse;
mod services_db;
mod v1_23;

use crate::cluster::settings::{LocalDetector, Settings, Version};
use crate::cluster::Cluster;
use crate::net::Cidr;
use crate::pace::{at_once, Pace};
use crate::proxy::{service_ports_after, ServicePort};
use builder::Builder;
use model::*;

/// Which release's rule layout is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Layout {
    /// kube-proxy 1.22–1.23: masquerade in KUBE-SVC-*, KUBE-XLB-*, plain SVC→SEP comments.
    V1_23 { host_suffix: bool },
    /// kube-proxy ≥ 1.25: KUBE-EXT/SVL, KUBE-PROXY-FIREWALL, `<spn> -> ip:port` comments.
    Current,
}

impl Layout {
    pub fn for_version(v: Version) -> Result<Layout, String> {
        let supported =
            "kpx knows the layouts of kube-proxy 1.22-1.23 (the article's) and 1.25 onwards";
        match (v.major, v.minor) {
            (1, 22) => Ok(Layout::V1_23 { host_suffix: true }),
            (1, 23) => Ok(Layout::V1_23 { host_suffix: false }),
            (1, m) if m >= 25 => Ok(Layout::Current),
            (1, 24) => Err(format!("kubeProxyVersion 1.24 sits between two layouts (KUBE-EXT without KUBE-PROXY-FIREWALL); {supported}")),
            _ => Err(format!("kubeProxyVersion {v}: {supported}")),
        }
    }
    /// Whether the restore input writes addresses as `ip/32` (1.22 used `utilproxy.ToCIDR`).
    pub fn host_suffix(self) -> bool {
        matches!(self, Layout::V1_23 { host_suffix: true })
    }
}

/// What every rule-writing function needs.
pub(crate) struct Ctx<'a> {
    pub settings: &'a Settings,
    pub ports: Vec<ServicePort>,
    /// More than 1000 endpoints: kube-proxy drops the comments of SVC→SEP and SEP rules.
    pub large_cluster: bool,
    /// SVC→SEP comments are just `<spn>` (≤ 1.23).
    pub legacy_comments: bool,
    /// `KUBE-MARK-MASQ`, one name shared by every rule that jumps to it (one per endpoint).
    pub mark_masq: Text,
}

impl Ctx<'_> {
    fn kube_proxy(&self, setting: &'static str) -> Provenance {
        Provenance::kube_proxy(setting)
    }
    fn service(&self, sp: &ServicePort, field: &'static str) -> Provenance {
        Provenance::service_port(sp, field)
    }
    /// The local-traffic detector's "not from a pod" match (`IfNotLocal`).
    fn if_not_local(&self) -> Option<Match> {
        detector_match(&self.settings.detect_local, true)
    }
    /// `IfLocal`.
    fn if_local(&self) -> Option<Match> {
        detector_match(&self.settings.detect_local, false)
    }
}

pub(crate) fn detector_match(d: &LocalDetector, negated: bool) -> Option<Match> {
    match d {
        LocalDetector::None => None,
        LocalDetector::Cidr(c) => Some(Match::Source { negated, cidr: *c }),
        LocalDetector::Bridge(name) => Some(Match::InInterface {
            negated,
            name: name.as_str().into(),
        }),
        LocalDetector::InterfacePrefix(p) => Some(Match::InInterface {
            negated,
            name: format!("{p}+").into(),
        }),
    }
}

/// The filter-table verdict for traffic that has no (local) endpoint.
pub(crate) struct FilterVerdict {
    pub comment: String,
    pub target: Target,
}

/// The netfilter built-in chains kube-proxy hooks into, and its canary chain.
fn builtin_chains(b: &mut Builder, ctx: &Ctx) {
    let prov = ctx.kube_proxy("jump chains");
    for name in ["INPUT", "FORWARD", "OUTPUT"] {
        b.chain(TableName::Filter, name, ChainKind::BuiltIn, prov.clone());
    }
    for name in ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"] {
        b.chain(TableName::Nat, name, ChainKind::BuiltIn, prov.clone());
    }
    for t in [TableName::Filter, TableName::Nat] {
        b.chain(
            t,
            "KUBE-PROXY-CANARY",
            ChainKind::Ensured,
            ctx.kube_proxy("iptables monitor"),
        );
    }
}

/// One entry of kube-proxy's `iptablesJumpChains`: a jump from a built-in chain into its own.
#[derive(Clone, Copy)]
pub(crate) struct JumpChain {
    table: TableName,
    from: &'static str,
    /// `-m conntrack --ctstate NEW` before the comment.
    new_only: bool,
    comment: &'static str,
    to: &'static str,
}

const fn jc(
    table: TableName,
    from: &'static str,
    new_only: bool,
    comment: &'static str,
    to: &'static str,
) -> JumpChain {
    JumpChain {
        table,
        from,
        new_only,
        comment,
        to,
    }
}

/// The filter-table jumps every layout since 1.21 installs, in kube-proxy's list order.
const FILTER_JUMPS: [JumpChain; 6] = [
    jc(
        TableName::Filter,
        "INPUT",
        true,
        "kubernetes externally-visible service portals",
        "KUBE-EXTERNAL-SERVICES",
    ),
    jc(
        TableName::Filter,
        "FORWARD",
        true,
        "kubernetes externally-visible service portals",
        "KUBE-EXTERNAL-SERVICES",
    ),
    jc(
        TableName::Filter,
        "INPUT",
        false,
        "kubernetes health check service ports",
        "KUBE-NODEPORTS",
    ),
    jc(
        TableName::Filter,
        "FORWARD",
        true,
        "kubernetes service portals",
        "KUBE-SERVICES",
    ),
    jc(
        TableName::Filter,
        "OUTPUT",
        true,
        "kubernetes service portals",
        "KUBE-SERVICES",
    ),
    jc(
        TableName::Filter,
        "FORWARD",
        false,
        "kubernetes forwarding rules",
        "KUBE-FORWARD",
    ),
];

/// KUBE-PROXY-FIREWALL's jumps (≥ 1.25), listed after the filter jumps.
const FIREWALL_JUMPS: [JumpChain; 3] = [
    jc(
        TableName::Filter,
        "INPUT",
        true,
        "kubernetes load balancer firewall",
        "KUBE-PROXY-FIREWALL",
    ),
    jc(
        TableName::Filter,
        "OUTPUT",
        true,
        "kubernetes load balancer firewall",
        "KUBE-PROXY-FIREWALL",
    ),
    jc(
        TableName::Filter,
        "FORWARD",
        true,
        "kubernetes load balancer firewall",
        "KUBE-PROXY-FIREWALL",
    ),
];

/// The nat-table jumps, last in the list.
const NAT_JUMPS: [JumpChain; 3] = [
    jc(
        TableName::Nat,
        "OUTPUT",
        false,
        "kubernetes service portals",
        "KUBE-SERVICES",
    ),
    jc(
        TableName::Nat,
        "PREROUTING",
        false,
        "kubernetes service portals",
        "KUBE-SERVICES",
    ),
    jc(
        TableName::Nat,
        "POSTROUTING",
        false,
        "kubernetes postrouting rules",
        "KUBE-POSTROUTING",
    ),
];

/// Installs the jumps as `EnsureRule(Prepend, …)` does on a fresh node, in list order.
fn install_jumps(b: &mut Builder, ctx: &Ctx, jumps: &[JumpChain]) {
    for j in jumps {
        let mut m = Vec::new();
        if j.new_only {
            m.push(Match::Conntrack {
                negated: false,
                states: "NEW".into(),
            });
        }
        m.push(builder::comment(j.comment));
        b.prepend(
            j.table,
            j.from,
            m,
            Target::Jump { chain: j.to.into() },
            ctx.kube_proxy("jump chains"),
        );
    }
}

/// KUBE-POSTROUTING (masquerade what is marked, then clear the mark) and KUBE-MARK-MASQ.
fn masquerade_rules(b: &mut Builder, ctx: &Ctx) {
    let mark = ctx.settings.masquerade_mark();
    let bit = || ctx.kube_proxy("iptables.masqueradeBit");
    let nat = TableName::Nat;
    b.rule(
        nat,
        "KUBE-POSTROUTING",
        vec![Match::Mark {
            negated: true,
            value: mark,
            mask: mark,
        }],
        Some(Target::Return),
        bit(),
    );
    b.rule(
        nat,
        "KUBE-POSTROUTING",
        vec![],
        Some(Target::MarkXor { mark }),
        bit(),
    );
    b.rule(
        nat,
        "KUBE-POSTROUTING",
        vec![builder::comment(
            "kubernetes service traffic requiring SNAT",
        )],
        Some(Target::Masquerade {
            random_fully: ctx.settings.random_fully,
        }),
        ctx.kube_proxy("masquerade"),
    );
    b.rule(
        nat,
        "KUBE-MARK-MASQ",
        vec![],
        Some(Target::MarkOr { mark }),
        bit(),
    );
}

/// KUBE-FORWARD: drop INVALID (unless conntrack is liberal), accept marked and established.
fn forward_rules(b: &mut Builder, ctx: &Ctx, invalid_drop: bool, invalid_nfacct: bool) {
    let mark = ctx.settings.masquerade_mark();
    let filter = TableName::Filter;
    if invalid_drop {
        let mut m = vec![Match::Conntrack {
            negated: false,
            states: "INVALID".into(),
        }];
        if invalid_nfacct {
            m.push(Match::Nfacct {
                name: "ct_state_invalid_dropped_pkts".into(),
            });
        }
        b.rule(
            filter,
            "KUBE-FORWARD",
            m,
            Some(Target::Drop),
            ctx.kube_proxy("conntrack"),
        );
    }
    b.rule(
        filter,
        "KUBE-FORWARD",
        vec![
            builder::comment("kubernetes forwarding rules"),
            Match::Mark {
                negated: false,
                value: mark,
                mask: mark,
            },
        ],
        Some(Target::Accept),
        ctx.kube_proxy("iptables.masqueradeBit"),
    );
    b.rule(
        filter,
        "KUBE-FORWARD",
        vec![
            builder::comment("kubernetes forwarding conntrack rule"),
            Match::Conntrack {
                negated: false,
                states: "RELATED,ESTABLISHED".into(),
            },
        ],
        Some(Target::Accept),
        ctx.kube_proxy("conntrack"),
    );
}

/// Builds the iptables dataplane kube-proxy would program on the shown node.
pub fn build(cluster: &Cluster) -> Result<Dataplane, String> {
    at_once(build_paced(cluster, &Pace::never()))
}

/// [`build`] after an edit, from `before`, the dataplane built for the text before it
/// ([`build_after`]).
pub fn build_again(cluster: &Cluster, before: &Dataplane) -> Result<Dataplane, String> {
    at_once(build_after(cluster, Some(before), &Pace::never()))
}

/// [`build`], a service port being a unit of `pace`'s work.
pub async fn build_paced(cluster: &Cluster, pace: &Pace) -> Result<Dataplane, String> {
    build_after(cluster, None, pace).await
}

/// [`build_paced`] after an edit: the chains and rules of each service port the edit did not
/// change are copied from `before`, the dataplane built for the text before it ([`reuse`]).
pub async fn build_after(
    cluster: &Cluster,
    before: Option<&Dataplane>,
    pace: &Pace,
) -> Result<Dataplane, String> {
    let layout = Layout::for_version(cluster.settings.version)?;
    let port_map_before = before.and_then(|dp| Some(dp.memo.as_deref()?.kept().port_map()));
    let (ports, made_from) = service_ports_after(cluster, port_map_before, pace).await;
    let total: usize = ports.iter().map(|p| p.endpoints.len()).sum();
    let ctx = Ctx {
        settings: &cluster.settings,
        ports,
        large_cluster: total > 1000,
        legacy_comments: matches!(layout, Layout::V1_23 { .. }),
        mark_masq: "KUBE-MARK-MASQ".into(),
    };
    let (mut dataplane, recorded) = match layout {
        Layout::Current => current::build(&ctx, before, pace).await,
        Layout::V1_23 { .. } => v1_23::build(&ctx, before, pace).await,
    };
    for (table, was) in dataplane
        .tables
        .iter()
        .zip(before.iter().flat_map(|b| &b.tables))
    {
        if table.name == was.name {
            table.listed_as(was);
        }
    }
    // (The chains copied whole are copies of `before`'s: see `Chain::copy_of`.)
    dataplane.copied_from = before.map(|b| b.build);
    match reuse::Memo::keep(recorded, ctx, made_from) {
        Ok(memo) => dataplane.memo = Some(Box::new(memo)),
        // The service port map let go of a port at a time: at 44,125 Services, dropped
        // whole, it was an 87 ms piece of the wasm.
        Err(ports) => crate::pace::drop_paced(&mut { ports }, pace).await,
    }
    Ok(dataplane)
}

/// What every chain and rule about one endpoint of a service port shares.
pub(crate) struct Sep {
    /// Its KUBE-SEP-* chain: the chain's name and every jump to it.
    pub chain: Text,
    /// Why they exist (its `ip:port` is also the DNAT target).
    pub why: Provenance,
}

/// Each endpoint's [`Sep`] (hashing is the costly part of a sync: each name is computed once).
pub(crate) fn seps(sp: &ServicePort) -> Vec<Sep> {
    let spn = sp.spn();
    sp.endpoints
        .iter()
        .map(|e| {
            let why = Provenance::endpoint(sp, e);
            let key = why.endpoint_key().expect("an endpoint's provenance");
            Sep {
                chain: crate::proxy::names::sep_chain(spn, sp.protocol.lower(), key),
                why,
            }
        })
        .collect()
}

/// The `127.0.0.0/8` prefix, which several fixed rules use.
pub(crate) fn loopback_v4() -> Cidr {
    Cidr::parse("127.0.0.0/8").unwrap()
}
