//! Packets you can watch: the walk kpx-core computes (`trace::session::trace`), drawn hook by
//! hook and chain by chain on a small topology, step by step with its words beside it. The
//! drawing only shows what the trace says; it never invents a path.

use crate::i18n::{t, tf, use_lang, Lang};
use kpx_core::cluster::settings::Mode;
use kpx_core::net::join_host_port;
use kpx_core::proxy::{service_ports, Protocol};
use kpx_core::trace::session::{trace, Request};
use kpx_core::trace::{Step, Trace, Verdict};
use kpx_core::views::Analysis;
use std::rc::Rc;
use yew::prelude::*;

/// Somewhere a packet can go, as the reader picks it.
#[derive(Clone, Debug, PartialEq)]
pub struct Destination {
    pub label: String,
    /// What `--to` takes: `IP:PORT`.
    pub to: String,
    pub protocol: Protocol,
    /// The endpoints behind it: `ip:port` and the Pod's name (if the slice names one).
    pub endpoints: Vec<(String, String)>,
}

impl Destination {
    /// How links name it: `PROTO IP:PORT`.
    pub fn key(&self) -> String {
        format!("{} {}", self.protocol.lower(), self.to)
    }
}

/// Every Service address a client can reach: ClusterIPs, NodePorts on each node, external and
/// load-balancer IPs.
pub fn destinations(a: &Analysis) -> Vec<Destination> {
    let mut out = Vec::new();
    let node_ips: Vec<(String, std::net::IpAddr)> = a
        .cluster
        .nodes
        .iter()
        .filter_map(|n| {
            Some((
                n.object.metadata.name.clone()?,
                kpx_core::cluster::node_address(&n.object, "InternalIP")?,
            ))
        })
        .collect();
    for sp in service_ports(&a.cluster) {
        let endpoints: Vec<(String, String)> = sp
            .endpoints
            .iter()
            .filter(|e| e.ready)
            .map(|e| {
                (
                    e.key().to_string(),
                    e.target
                        .as_ref()
                        .map(|t| t.name.clone())
                        .unwrap_or_default(),
                )
            })
            .collect();
        let spn = sp.spn();
        let proto = sp.protocol.lower();
        let mut add = |label: String, ip, port| {
            out.push(Destination {
                label,
                to: join_host_port(ip, port),
                protocol: sp.protocol,
                endpoints: endpoints.clone(),
            });
        };
        add(
            format!(
                "{spn} — ClusterIP {} ({proto})",
                join_host_port(sp.cluster_ip, sp.port)
            ),
            sp.cluster_ip,
            sp.port,
        );
        if sp.node_port != 0 {
            for (node, ip) in &node_ips {
                add(
                    format!(
                        "{spn} — NodePort {} on {node} ({proto})",
                        join_host_port(*ip, sp.node_port)
                    ),
                    *ip,
                    sp.node_port,
                );
            }
        }
        for ip in &sp.external_ips {
            add(
                format!(
                    "{spn} — externalIP {} ({proto})",
                    join_host_port(*ip, sp.port)
                ),
                *ip,
                sp.port,
            );
        }
        for ip in &sp.lb_vips {
            add(
                format!(
                    "{spn} — LoadBalancer {} ({proto})",
                    join_host_port(*ip, sp.port)
                ),
                *ip,
                sp.port,
            );
        }
    }
    out
}

/// Who can send: every Pod with an IP, a process on each node, a client outside.
pub fn clients(lang: Lang, a: &Analysis) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = a
        .cluster
        .pods
        .iter()
        .filter(|p| kpx_core::cluster::slices::pod_ip(&p.object).is_some())
        .map(|p| {
            let r = &p.reference;
            let ip = kpx_core::cluster::slices::pod_ip(&p.object)
                .map(|ip| ip.to_string())
                .unwrap_or_default();
            (
                format!("{}/{}", r.namespace, r.name),
                format!("Pod {}/{} ({ip})", r.namespace, r.name),
            )
        })
        .collect();
    for name in a.node_names() {
        out.push((
            format!("node:{name}"),
            tf(lang, "a process on node {}", &[&name]),
        ));
    }
    out.push((
        OUTSIDE.to_string(),
        tf(lang, "a client outside the cluster ({})", &[&OUTSIDE]),
    ));
    out
}

/// The outside client's address (TEST-NET-3, never a real host).
pub const OUTSIDE: &str = "203.0.113.9";

/// The client a walk starts from by default: a Pod that is not behind the destination, so the
/// first walk is not a hairpin.
pub fn default_client(clients: &[(String, String)], dest: Option<&Destination>) -> String {
    let behind = |c: &str| {
        dest.is_some_and(|d| {
            d.endpoints
                .iter()
                .any(|(_, pod)| !pod.is_empty() && c.ends_with(&format!("/{pod}")))
        })
    };
    clients
        .iter()
        .find(|(c, _)| !c.starts_with("node:") && c != OUTSIDE && !behind(c))
        .or_else(|| clients.first())
        .map(|(c, _)| c.clone())
        .unwrap_or_default()
}

/// The first destination that is not the API server or cluster DNS: the scenario's own.
pub fn default_destination(dests: &[Destination]) -> usize {
    dests
        .iter()
        .position(|d| {
            !d.label.starts_with("default/kubernetes") && !d.label.starts_with("kube-system/")
        })
        .unwrap_or(0)
}

/// One moment of a walk: the `packet`-th packet of the connection (1: the first, which walks
/// the rules; 2: a later one, which conntrack handles) at one step.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub packet: usize,
    pub step: Step,
}

/// A mode's walk: the traces of two packets of one connection, as frames.
#[derive(Clone, Debug, PartialEq)]
pub struct Walk {
    pub mode: Mode,
    pub traces: Vec<Trace>,
    pub frames: Vec<Frame>,
}

/// Walks two packets of one connection in each mode.
pub fn walk(
    text: &str,
    modes: &[Mode],
    from: &str,
    dest: &Destination,
    seed: u64,
) -> Vec<Result<Walk, String>> {
    modes
        .iter()
        .map(|&mode| {
            let req = Request {
                from: from.to_string(),
                to: dest.to.clone(),
                protocol: Some(dest.protocol),
                mode: Some(mode),
                seed,
            };
            let traces = trace(text, &req, 2)?;
            let frames = traces
                .iter()
                .enumerate()
                .flat_map(|(i, t)| {
                    t.steps.iter().map(move |s| Frame {
                        packet: i + 1,
                        step: s.clone(),
                    })
                })
                .collect();
            Ok(Walk {
                mode,
                traces,
                frames,
            })
        })
        .collect()
}

/// Where on the drawing a step happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Client,
    Hook,
    Services,
    Service,
    Mark,
    Endpoint,
    Ipvs,
    Routing,
    Filter,
    Post,
    Conntrack,
    Pods,
}

/// The stage of a step, from its hook, table and chain.
pub fn stage_of(mode: Mode, s: &Step) -> Stage {
    let c = s.chain.as_str();
    match s.hook {
        "reply" => {
            return if c == "conntrack" {
                Stage::Client
            } else {
                Stage::Pods
            }
        }
        "conntrack" => return Stage::Conntrack,
        "routing" | "route" => return Stage::Routing,
        _ => {}
    }
    if c == "IPVS" {
        return Stage::Ipvs;
    }
    if c == "-" {
        return Stage::Routing;
    }
    let nat = s.table == "nat";
    if mode == Mode::Nftables {
        return match c {
            _ if c.starts_with("endpoint-") => Stage::Endpoint,
            _ if c.starts_with("service-")
                || c.starts_with("external-")
                || c.starts_with("firewall-") =>
            {
                Stage::Service
            }
            "mark-for-masquerade" => Stage::Mark,
            "services" | "nodeports" => Stage::Services,
            "masquerading" | "nat-postrouting" => Stage::Post,
            "nat-prerouting" | "nat-output" => Stage::Hook,
            _ => Stage::Filter,
        };
    }
    match c {
        _ if c.starts_with("KUBE-SEP-") => Stage::Endpoint,
        _ if [
            "KUBE-SVC-",
            "KUBE-SVL-",
            "KUBE-XLB-",
            "KUBE-EXT-",
            "KUBE-FW-",
        ]
        .iter()
        .any(|p| c.starts_with(p)) =>
        {
            Stage::Service
        }
        "KUBE-MARK-MASQ" => Stage::Mark,
        "KUBE-POSTROUTING" | "POSTROUTING" => Stage::Post,
        "KUBE-SERVICES" | "KUBE-NODEPORTS" | "KUBE-NODE-PORT" | "KUBE-LOAD-BALANCER" if nat => {
            Stage::Services
        }
        "PREROUTING" | "OUTPUT" if nat => Stage::Hook,
        _ => Stage::Filter,
    }
}

/// The drawing's boxes for a mode: (stage, x, y, label).
fn layout(mode: Mode) -> Vec<(Stage, f64, f64, &'static str)> {
    let main = 95.0;
    match mode {
        Mode::Iptables => vec![
            (Stage::Hook, 150.0, main, "PREROUTING / OUTPUT"),
            (Stage::Services, 265.0, main, "KUBE-SERVICES"),
            (Stage::Service, 380.0, main, "KUBE-SVC-…"),
            (Stage::Mark, 380.0, 25.0, "KUBE-MARK-MASQ"),
            (Stage::Endpoint, 495.0, main, "KUBE-SEP-… DNAT"),
            (Stage::Routing, 600.0, main, "routing"),
            (Stage::Filter, 600.0, 25.0, "filter: FORWARD / INPUT"),
            (Stage::Post, 715.0, main, "KUBE-POSTROUTING"),
            (Stage::Conntrack, 380.0, 175.0, "conntrack"),
        ],
        Mode::Ipvs => vec![
            (Stage::Hook, 150.0, main, "PREROUTING / OUTPUT"),
            (Stage::Services, 265.0, main, "KUBE-SERVICES (ipsets)"),
            (Stage::Mark, 265.0, 25.0, "KUBE-MARK-MASQ"),
            (Stage::Ipvs, 420.0, main, "kube-ipvs0 VIP → IPVS"),
            (Stage::Service, 420.0, 25.0, "KUBE-SVC"),
            (Stage::Endpoint, 420.0, 25.0, "KUBE-SEP"),
            (Stage::Routing, 575.0, main, "routing"),
            (Stage::Filter, 575.0, 25.0, "filter: INPUT / FORWARD"),
            (Stage::Post, 715.0, main, "KUBE-POSTROUTING"),
            (Stage::Conntrack, 420.0, 175.0, "conntrack"),
        ],
        Mode::Nftables => vec![
            (Stage::Hook, 150.0, main, "nat-prerouting / output"),
            (Stage::Services, 265.0, main, "services: service-ips vmap"),
            (Stage::Service, 380.0, main, "service-…: numgen"),
            (Stage::Mark, 380.0, 25.0, "mark-for-masquerade"),
            (Stage::Endpoint, 495.0, main, "endpoint-…: dnat"),
            (Stage::Routing, 600.0, main, "routing"),
            (Stage::Filter, 600.0, 25.0, "filter chains"),
            (Stage::Post, 715.0, main, "masquerading"),
            (Stage::Conntrack, 380.0, 175.0, "conntrack"),
        ],
    }
}

const CLIENT_X: f64 = 40.0;
const PODS_X: f64 = 850.0;

#[derive(Properties, PartialEq)]
pub struct TopologyProps {
    pub mode: Mode,
    pub frames: Rc<Vec<Frame>>,
    pub at: usize,
    pub client: AttrValue,
    pub endpoints: Rc<Vec<(String, String)>>,
    /// The endpoint the walk delivered to, `ip:port`.
    pub reached: Option<AttrValue>,
    /// Steps animate over this long (ms); 0 under reduced motion.
    pub glide_ms: u32,
}

/// The node and its hooks, the client on the left, the endpoints on the right, and the packet.
#[function_component(Topology)]
pub fn topology(p: &TopologyProps) -> Html {
    let l = use_lang();
    let boxes = layout(p.mode);
    let at = p.at.min(p.frames.len().saturating_sub(1));
    let current = p.frames.get(at).map(|f| stage_of(p.mode, &f.step));
    let visited: Vec<Stage> = p
        .frames
        .iter()
        .take(at + 1)
        .map(|f| stage_of(p.mode, &f.step))
        .collect();
    let n = p.endpoints.len().max(1);
    let pod_y = |i: usize| 30.0 + (i as f64 + 0.5) * (180.0 / n as f64);
    let reached = p.reached.as_deref();
    let frame = p.frames.get(at);
    // Where the packet is: the stage's box, the client, or the pod it is addressed to.
    let dot = match (current, frame) {
        (Some(Stage::Pods), Some(f)) => {
            let target = join_host_port(f.step.packet.src, f.step.packet.sport);
            let i = p
                .endpoints
                .iter()
                .position(|(e, _)| *e == target)
                .or_else(|| {
                    p.endpoints
                        .iter()
                        .position(|(e, _)| Some(e.as_str()) == reached)
                });
            (PODS_X - 40.0, i.map_or(110.0, pod_y))
        }
        (Some(Stage::Client) | None, _) => (CLIENT_X + 45.0, 110.0),
        (Some(stage), _) => boxes
            .iter()
            .find(|b| b.0 == stage)
            .map_or((CLIENT_X, 110.0), |b| (b.1, b.2 + 20.0)),
    };
    // Delivered: after the last forward step of a packet the packet sits at its pod.
    let at_pod = frame.is_some_and(|f| {
        let next = p.frames.get(at + 1);
        f.step.hook != "reply"
            && next.is_none_or(|n| n.step.hook == "reply" || n.packet != f.packet)
    });
    let dot = if at_pod && reached.is_some() {
        let i = p
            .endpoints
            .iter()
            .position(|(e, _)| Some(e.as_str()) == reached);
        (PODS_X - 40.0, i.map_or(110.0, pod_y))
    } else {
        dot
    };
    let reply = frame.is_some_and(|f| f.step.hook == "reply");
    let style = format!(
        "transform: translate({:.1}px, {:.1}px); transition: transform {}ms ease-in-out",
        dot.0, dot.1, p.glide_ms
    );
    html! {
        <svg class="topology" viewBox="0 0 960 230" role="img" aria-label={tf(l, "{} mode: where the packet is", &[&p.mode.as_str()])}>
            <rect class="node" x="105" y="8" width="690" height="214" rx="8" />
            <text class="node-label" x="115" y="218">{ t(l, "the node (netfilter hooks and kube-proxy's chains)") }</text>
            <g class="client">
                <rect x={(CLIENT_X - 30.0).to_string()} y="85" width="70" height="50" rx="6" />
                <text x={(CLIENT_X + 5.0).to_string()} y="106" text-anchor="middle">{ t(l, "client") }</text>
                <text class="small" x={(CLIENT_X + 5.0).to_string()} y="122" text-anchor="middle">{ short(&p.client) }</text>
            </g>
            { for boxes.iter().filter(|b| !(p.mode == Mode::Ipvs && matches!(b.0, Stage::Service | Stage::Endpoint))).map(|(stage, x, y, label)| {
                let class = classes!("stage", visited.contains(stage).then_some("visited"), (current == Some(*stage)).then_some("current"));
                html! {
                    <g {class} data-stage={format!("{stage:?}")}>
                        <rect x={(x - 52.0).to_string()} y={y.to_string()} width="104" height="40" rx="5" />
                        <text x={x.to_string()} y={(y + 24.0).to_string()} text-anchor="middle">{ *label }</text>
                    </g>
                }
            }) }
            { for p.endpoints.iter().enumerate().map(|(i, (ep, pod))| {
                let y = pod_y(i);
                let class = classes!("pod", (reached == Some(ep.as_str())).then_some("reached"));
                html! {
                    <g {class} data-endpoint={ep.clone()}>
                        <rect x={(PODS_X - 20.0).to_string()} y={(y - 17.0).to_string()} width="120" height="34" rx="5" />
                        <text x={(PODS_X + 40.0).to_string()} y={(y - 2.0).to_string()} text-anchor="middle">{ ep }</text>
                        <text class="small" x={(PODS_X + 40.0).to_string()} y={(y + 11.0).to_string()} text-anchor="middle">{ short(pod) }</text>
                    </g>
                }
            }) }
            <circle class={classes!("packet", reply.then_some("reply"))} r="9" cx="0" cy="0" {style} />
        </svg>
    }
}

/// A long name cut for a small box.
fn short(s: &str) -> String {
    let s = s.rsplit('/').next().unwrap_or(s);
    if s.chars().count() > 18 {
        format!("{}…", s.chars().take(17).collect::<String>())
    } else {
        s.to_string()
    }
}

/// The verdict in words.
pub fn verdict_words(lang: Lang, tr: &Trace) -> String {
    match (tr.verdict, &tr.endpoint, &tr.node) {
        (Verdict::Delivered, Some(ep), Some(node)) => {
            tf(lang, "delivered to {} on {}", &[ep, node])
        }
        (Verdict::Delivered, Some(ep), None) => tf(lang, "delivered to {}", &[ep]),
        (Verdict::Delivered, None, _) => t(lang, "delivered").into(),
        (Verdict::Dropped, ..) => t(lang, "dropped").into(),
        (Verdict::Rejected, ..) => t(lang, "rejected").into(),
    }
}
