//! The stage under the rules: the packet walk (topology, header card, step list, controls) and
//! the charts. The walk's timeline is shared by every shown mode — the same packet, two modes —
//! and the rule of the current step is lit in each mode's rules view (see `App`).

use crate::charts;
use crate::i18n::{self, t, tf, use_lang};
use crate::packet::{verdict_words, Destination, Topology, Walk};
use kpx_core::net::join_host_port;
use kpx_core::trace::session::{simulate, Request};
use kpx_core::trace::Packet;
use std::rc::Rc;
use web_sys::HtmlSelectElement;
use yew::prelude::*;

/// Where the walk is: one position on every mode's timeline, playing or not.
#[derive(Clone, Debug, PartialEq)]
pub struct Playback {
    pub at: usize,
    pub playing: bool,
    /// Steps per second × 100 (50 = half speed).
    pub speed: u32,
}

impl Default for Playback {
    fn default() -> Self {
        Playback {
            at: 0,
            playing: false,
            speed: 100,
        }
    }
}

pub enum Cmd {
    /// One step on; the longest timeline has this many frames.
    Forward(usize),
    Back,
    Goto(usize),
    Play,
    Pause,
    /// Play, or pause when playing; from the end, play from the start.
    Toggle(usize),
    Reset,
    Speed(u32),
}

impl Reducible for Playback {
    type Action = Cmd;
    fn reduce(self: Rc<Self>, cmd: Cmd) -> Rc<Self> {
        let mut p = (*self).clone();
        match cmd {
            Cmd::Forward(len) => {
                if p.at + 1 < len {
                    p.at += 1;
                }
                if p.at + 1 >= len {
                    p.playing = false;
                }
            }
            Cmd::Back => {
                p.at = p.at.saturating_sub(1);
                p.playing = false;
            }
            Cmd::Goto(i) => {
                p.at = i;
                p.playing = false;
            }
            Cmd::Play => p.playing = true,
            Cmd::Toggle(len) => {
                if !p.playing && p.at + 1 >= len {
                    p.at = 0;
                }
                p.playing = !p.playing && len > 1;
            }
            Cmd::Pause => p.playing = false,
            Cmd::Reset => {
                p.at = 0;
                p.playing = false;
            }
            Cmd::Speed(s) => p.speed = s,
        }
        Rc::new(p)
    }
}

/// Milliseconds per step at a speed.
pub fn step_ms(speed: u32) -> u32 {
    90_000 / speed.max(10)
}

#[derive(Properties, PartialEq)]
pub struct PacketProps {
    pub walks: Rc<Vec<Result<Walk, String>>>,
    pub playback: Rc<Playback>,
    pub oncmd: Callback<Cmd>,
    pub clients: Rc<Vec<(String, String)>>,
    pub from: AttrValue,
    pub onfrom: Callback<String>,
    pub dests: Rc<Vec<Destination>>,
    pub dest: usize,
    pub ondest: Callback<usize>,
    /// A new connection: the next seed.
    pub onnew: Callback<()>,
    pub reduced_motion: bool,
}

/// The packet walk: controls, then one drawing and step list per shown mode.
#[function_component(PacketPanel)]
pub fn packet_panel(p: &PacketProps) -> Html {
    let l = use_lang();
    let len = p
        .walks
        .iter()
        .filter_map(|w| w.as_ref().ok())
        .map(|w| w.frames.len())
        .max()
        .unwrap_or(0);
    let at = p.playback.at.min(len.saturating_sub(1));
    let cmd = |make: fn() -> Cmd| {
        let cb = p.oncmd.clone();
        Callback::from(move |_: MouseEvent| cb.emit(make()))
    };
    let forward = {
        let cb = p.oncmd.clone();
        Callback::from(move |_: MouseEvent| cb.emit(Cmd::Forward(len)))
    };
    let play = if p.playback.playing {
        cmd(|| Cmd::Pause)
    } else {
        cmd(|| Cmd::Play)
    };
    // The second packet of the connection starts where packet 2's frames start.
    let second = p
        .walks
        .iter()
        .filter_map(|w| w.as_ref().ok())
        .filter_map(|w| w.frames.iter().position(|f| f.packet == 2))
        .min();
    let same = {
        let cb = p.oncmd.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(i) = second {
                cb.emit(Cmd::Goto(i));
            }
        })
    };
    let onnew = {
        let cb = p.onnew.clone();
        Callback::from(move |_: MouseEvent| cb.emit(()))
    };
    let onfrom = {
        let cb = p.onfrom.clone();
        Callback::from(move |e: Event| {
            cb.emit(e.target_unchecked_into::<HtmlSelectElement>().value())
        })
    };
    let ondest = {
        let cb = p.ondest.clone();
        Callback::from(move |e: Event| {
            cb.emit(
                e.target_unchecked_into::<HtmlSelectElement>()
                    .value()
                    .parse()
                    .unwrap_or(0),
            )
        })
    };
    let onspeed = {
        let cb = p.oncmd.clone();
        Callback::from(move |e: Event| {
            cb.emit(Cmd::Speed(
                e.target_unchecked_into::<HtmlSelectElement>()
                    .value()
                    .parse()
                    .unwrap_or(100),
            ))
        })
    };
    let glide = if p.reduced_motion {
        0
    } else {
        step_ms(p.playback.speed) * 4 / 5
    };
    html! {
        <div id="packet" class="packet-panel">
            <div class="toolbar packet-controls">
                <label for="walk-from">{ t(l, "From") }</label>
                <select id="walk-from" onchange={onfrom}>
                    { for p.clients.iter().map(|(v, label)| html! { <option value={v.clone()} selected={*v == *p.from}>{ label }</option> }) }
                </select>
                <label for="walk-to">{ t(l, "to") }</label>
                <select id="walk-to" onchange={ondest}>
                    { for p.dests.iter().enumerate().map(|(i, d)| html! { <option value={i.to_string()} selected={i == p.dest}>{ &d.label }</option> }) }
                </select>
            </div>
            <div class="toolbar packet-controls" role="group" aria-label={t(l, "Packet controls")}>
                <button id="walk-reset" onclick={cmd(|| Cmd::Reset)} title={t(l, "Back to the first step")}>{ t(l, "Reset") }</button>
                <button id="walk-back" onclick={cmd(|| Cmd::Back)} disabled={at == 0}>{ t(l, "◀ Back") }</button>
                <button id="walk-play" onclick={play}>{ if p.playback.playing { t(l, "Pause") } else { t(l, "Play ▶") } }</button>
                <button id="walk-forward" onclick={forward} disabled={at + 1 >= len}>{ t(l, "Step ▶") }</button>
                <label for="walk-speed">{ t(l, "Speed") }</label>
                <select id="walk-speed" onchange={onspeed}>
                    { for [(50, "½×"), (100, "1×"), (200, "2×"), (400, "4×"), (1000, "10×")].into_iter().map(|(v, l)| html! {
                        <option value={v.to_string()} selected={v == p.playback.speed}>{ l }</option>
                    }) }
                </select>
                <button id="walk-new" onclick={onnew} title={t(l, "Another connection: new random draws")}>{ t(l, "New connection") }</button>
                <button id="walk-same" onclick={same} disabled={second.is_none()} title={t(l, "The connection's next packet: conntrack already knows it")}>{ t(l, "Same connection: next packet") }</button>
                <span class="position" id="walk-position">{ tf(l, "step {} of {}", &[&(at + 1), &len]) }</span>
            </div>
            <div class="walks">
                { for p.walks.iter().enumerate().map(|(i, w)| match w {
                    Err(e) => html! { <p class="problem">{ e }</p> },
                    Ok(w) => html! { <WalkView index={i} walk={Rc::new(w.clone())} at={at} dest={p.dests.get(p.dest).cloned()} from={p.from.clone()} glide_ms={glide} oncmd={p.oncmd.clone()} /> },
                }) }
            </div>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct WalkProps {
    index: usize,
    walk: Rc<Walk>,
    at: usize,
    dest: Option<Destination>,
    from: AttrValue,
    glide_ms: u32,
    oncmd: Callback<Cmd>,
}

fn addr(ip: std::net::IpAddr, port: u16) -> String {
    join_host_port(ip, port)
}

/// One mode's walk: the drawing, the header card and the step list.
#[function_component(WalkView)]
fn walk_view(p: &WalkProps) -> Html {
    let l = use_lang();
    let w = &p.walk;
    let frames = Rc::new(w.frames.clone());
    let at = p.at.min(frames.len().saturating_sub(1));
    let Some(frame) = frames.get(at) else {
        return html! { <p>{ t(l, "no steps") }</p> };
    };
    let first = &w.traces[0];
    let original: &Packet = &frames[0].step.packet;
    let now = &frame.step.packet;
    let reply = frame.step.hook == "reply";
    let mut rewrites = Vec::new();
    if !reply && (now.dst, now.dport) != (original.dst, original.dport) {
        rewrites.push(tf(
            l,
            "DNAT: destination {} → {}",
            &[
                &addr(original.dst, original.dport),
                &addr(now.dst, now.dport),
            ],
        ));
    }
    if !reply && now.src != original.src {
        rewrites.push(tf(
            l,
            "MASQUERADE: source {} → {}",
            &[
                &addr(original.src, original.sport),
                &addr(now.src, now.sport),
            ],
        ));
    }
    let endpoints = Rc::new(
        p.dest
            .as_ref()
            .map(|d| d.endpoints.clone())
            .unwrap_or_default(),
    );
    // The outcome is told when the packet gets there, not before: the first packet has passed
    // its last hook once the next frame is the reply (or the next packet).
    let forward_end = frames
        .iter()
        .position(|f| f.step.hook == "reply" || f.packet == 2)
        .unwrap_or(frames.len());
    let arrived = at + 1 >= forward_end;
    let reached = first
        .endpoint
        .clone()
        .filter(|_| arrived)
        .map(AttrValue::from);
    // conntrack's entry exists once the first packet has been through POSTROUTING.
    let conntrack = arrived
        .then(|| first.conntrack.as_ref().map(|c| c.line()))
        .flatten();
    let packet_no = frame.packet;
    let outcome = if arrived {
        format!(": {}", verdict_words(l, &w.traces[packet_no - 1]))
    } else {
        String::new()
    };
    html! {
        <section class="walk" data-mode={w.mode.as_str()} id={format!("walk-{}", p.index)}>
            <h3>{ tf(l, "{} mode — packet {} of the connection{}", &[&w.mode.as_str(), &packet_no, &outcome]) }</h3>
            <Topology mode={w.mode} frames={frames.clone()} {at} client={p.from.clone()} {endpoints} {reached} glide_ms={p.glide_ms} />
            <div class="walk-detail">
                <div class="card" id={format!("card-{}", p.index)} aria-live="polite" data-anchor={frame.step.anchor.clone()}
                    data-chain={frame.step.chain.clone()} data-packet={packet_no.to_string()}>
                    <p class="packet-now"><strong>{ if reply { t(l, "reply ") } else { t(l, "packet ") } }</strong><code>{ now.to_string() }</code></p>
                    if !reply && original != now {
                        <p class="packet-was">{ t(l, "sent as ") }<code>{ original.to_string() }</code></p>
                    }
                    { for rewrites.iter().map(|r| html! { <p class="rewrite">{ r }</p> }) }
                    <p class="where"><strong>{ format!("{} {} {}", frame.step.hook, frame.step.table, frame.step.chain) }</strong>{ format!(": {}", frame.step.action) }</p>
                    if !frame.step.why.is_empty() {
                        <p class="because">{ tf(l, "because {}", &[&frame.step.why]) }</p>
                    }
                    if let Some(rule) = &frame.step.rule {
                        <pre class="rule">{ rule }</pre>
                    }
                    if let Some(line) = conntrack {
                        <p class="conntrack-title">{ "conntrack -L" }</p>
                        <pre class="conntrack" id={format!("conntrack-{}", p.index)}>{ line }</pre>
                    }
                </div>
                <ol class="steps" id={format!("steps-{}", p.index)} tabindex="0" aria-label={t(l, "Steps")}>
                    { for frames.iter().enumerate().map(|(i, f)| {
                        let class = classes!((i == at).then_some("current"), (i < at).then_some("done"), f.step.matched.then_some("matched"));
                        let oncmd = p.oncmd.clone();
                        let head = (i == 0 || frames[i - 1].packet != f.packet).then(|| html! {
                            <li class="packet-head">{ if f.packet == 1 { t(l, "packet 1: a new connection") } else { t(l, "packet 2: the same connection") } }</li>
                        });
                        html! {
                            <>
                                { for head }
                                <li {class} data-frame={i.to_string()} onclick={Callback::from(move |_| oncmd.emit(Cmd::Goto(i)))}>
                                    { format!("{} {} {}: {}", f.step.hook, f.step.table, f.step.chain, f.step.action) }
                                </li>
                            </>
                        }
                    }) }
                </ol>
            </div>
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct ChartsProps {
    pub text: AttrValue,
    pub modes: Vec<kpx_core::cluster::settings::Mode>,
    pub from: AttrValue,
    pub dest: Option<Destination>,
}

/// What a simulation shows for one mode.
#[derive(Clone, PartialEq)]
struct Run {
    mode: kpx_core::cluster::settings::Mode,
    svg: Result<String, String>,
    total: usize,
    rules: Vec<(String, f64, f64, f64)>,
    ipvsadm: Option<String>,
    /// The chart's numbers, also as a table (a text alternative to the bars).
    bars: Vec<(String, usize)>,
    keep_alive: bool,
}

/// Where 1,000 connections land (and 1,000 requests on one kept-alive connection), and how the
/// rules grow with the cluster.
#[function_component(ChartsPanel)]
pub fn charts_panel(p: &ChartsProps) -> Html {
    let l = use_lang();
    let runs = use_state(Vec::<Run>::new);
    let scaling = use_memo(l, |l| charts::scaling(*l, &charts::scale_data()));
    let run = |connections: usize, requests: usize| {
        let (runs, text, modes, from, dest) = (
            runs.clone(),
            p.text.clone(),
            p.modes.clone(),
            p.from.clone(),
            p.dest.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let Some(dest) = &dest else { return };
            let out = modes
                .iter()
                .map(|&mode| {
                    let req = Request {
                        from: from.to_string(),
                        to: dest.to.clone(),
                        protocol: Some(dest.protocol),
                        mode: Some(mode),
                        seed: 1,
                    };
                    match simulate(&text, &req, connections, requests) {
                        Err(e) => Run {
                            mode,
                            svg: Err(e),
                            total: 0,
                            rules: vec![],
                            ipvsadm: None,
                            bars: vec![],
                            keep_alive: false,
                        },
                        Ok(sim) => {
                            let keep_alive = requests > 1;
                            let counts = if keep_alive {
                                &sim.requests_by_endpoint
                            } else {
                                &sim.endpoints
                            };
                            let mut bars: Vec<(String, usize)> = dest
                                .endpoints
                                .iter()
                                .map(|(ep, _)| (ep.clone(), counts.get(ep).copied().unwrap_or(0)))
                                .collect();
                            for (ep, n) in counts {
                                if !bars.iter().any(|b| b.0 == *ep) {
                                    bars.push((ep.clone(), *n));
                                }
                            }
                            let total: usize = bars.iter().map(|b| b.1).sum();
                            let even = (!bars.is_empty())
                                .then(|| (connections * requests) as f64 / bars.len() as f64);
                            let title = if keep_alive {
                                tf(
                                    l,
                                    "{} mode: {} requests on 1 kept-alive connection",
                                    &[&mode.as_str(), &requests],
                                )
                            } else {
                                tf(
                                    l,
                                    "{} mode: where {} new connections land",
                                    &[&mode.as_str(), &connections],
                                )
                            };
                            let y = t(
                                l,
                                if keep_alive {
                                    i18n::en("requests")
                                } else {
                                    i18n::en("connections")
                                },
                            );
                            let rules = sim
                                .rules
                                .iter()
                                .map(|r| {
                                    (
                                        r.rule.clone(),
                                        r.probability,
                                        r.expected_share,
                                        r.observed_share,
                                    )
                                })
                                .collect();
                            let svg = Ok(charts::bars(
                                l,
                                &title,
                                y,
                                &bars,
                                if keep_alive { None } else { even },
                            ));
                            Run {
                                mode,
                                svg,
                                total,
                                rules,
                                ipvsadm: sim.ipvsadm,
                                bars,
                                keep_alive,
                            }
                        }
                    }
                })
                .collect();
            runs.set(out);
        })
    };
    html! {
        <div id="charts" class="charts-panel">
            <div class="toolbar">
                <button id="send-1000" onclick={run(1000, 1)}>{ t(l, "Send 1,000 connections") }</button>
                <button id="keep-alive" onclick={run(1, 1000)}>{ t(l, "Keep-alive: 1 connection, 1,000 requests") }</button>
                <span class="hint">{ t(l, "from the packet walk's client to its destination") }</span>
            </div>
            <div class="runs">
                { for runs.iter().map(|r| html! {
                    <section class="run" data-mode={r.mode.as_str()} data-total={r.total.to_string()}>
                        { match &r.svg {
                            Ok(svg) => Html::from_html_unchecked(AttrValue::from(svg.clone())),
                            Err(e) => html! { <p class="problem">{ e }</p> },
                        } }
                        if !r.rules.is_empty() {
                            <table class="shares">
                                <thead><tr><th>{ t(l, "rule") }</th><th>{ t(l, "its probability (conditional)") }</th><th>{ t(l, "endpoint's share: expected") }</th><th>{ t(l, "observed") }</th></tr></thead>
                                <tbody>
                                    { for r.rules.iter().map(|(rule, p, e, o)| html! {
                                        <tr><td><code>{ rule }</code></td><td>{ format!("{p:.4}") }</td><td>{ format!("{e:.4}") }</td><td>{ format!("{o:.4}") }</td></tr>
                                    }) }
                                </tbody>
                            </table>
                        }
                        <table class="counts">
                            <thead><tr><th>{ t(l, "endpoint") }</th><th>{ t(l, if r.keep_alive { i18n::en("requests") } else { i18n::en("connections") }) }</th></tr></thead>
                            <tbody>{ for r.bars.iter().map(|(ep, n)| html! { <tr><td>{ ep }</td><td class="count">{ n }</td></tr> }) }</tbody>
                        </table>
                        if let Some(table) = &r.ipvsadm {
                            <pre class="ipvsadm">{ table }</pre>
                        }
                    </section>
                }) }
            </div>
            <section class="scaling">
                <h3>{ t(l, "As the cluster grows (kpx scale: NodePort Services × 10 endpoints, measured)") }</h3>
                { Html::from_html_unchecked(AttrValue::from((*scaling).clone())) }
                <p class="hint">{ t(l, "The article estimates 20,000 iptables rules for 2,000 NodePort Services of 10 pods; kube-proxy's rules for that cluster, as kpx builds them, number 72,009. In iptables mode the first packet of a connection walks KUBE-SERVICES rule by rule, so its cost grows with the Services; nftables looks the Service up in a verdict map and IPVS in a hash table, so theirs stay flat.") }</p>
            </section>
        </div>
    }
}
