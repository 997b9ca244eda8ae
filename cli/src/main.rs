//! `kpx`: what kube-proxy programs on a node, from Kubernetes YAML, on the command line.

use clap::{Parser, Subcommand, ValueEnum};
use kpx_core::cluster::settings::Mode;
use kpx_core::iptables::model::TableName;
use kpx_core::views::{analyze_on, views, Request};
use std::io::Read;
use std::process::ExitCode;

/// See the workspace Cargo.toml: glibc's malloc is slow at freeing millions of small strings.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "kpx",
    version,
    about = "Shows exactly what kube-proxy programs on a node, from Service YAML"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
    Iptables,
    Ipvs,
    Nftables,
}

#[derive(Clone, Copy, ValueEnum)]
enum ProtoArg {
    Tcp,
    Udp,
    Sctp,
    /// A ping (echo request).
    Icmp,
}

impl ProtoArg {
    fn protocol(self) -> kpx_core::proxy::Protocol {
        match self {
            ProtoArg::Tcp => kpx_core::proxy::Protocol::Tcp,
            ProtoArg::Udp => kpx_core::proxy::Protocol::Udp,
            ProtoArg::Sctp => kpx_core::proxy::Protocol::Sctp,
            ProtoArg::Icmp => kpx_core::proxy::Protocol::Icmp,
        }
    }
}

impl ModeArg {
    fn mode(self) -> Mode {
        match self {
            ModeArg::Iptables => Mode::Iptables,
            ModeArg::Ipvs => Mode::Ipvs,
            ModeArg::Nftables => Mode::Nftables,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum TableArg {
    Nat,
    Filter,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Render a view of the dataplane for the input YAML.
    Render {
        /// Proxy mode (default: the input's KubeProxyConfiguration.mode, else iptables).
        #[arg(long, value_enum)]
        mode: Option<ModeArg>,
        /// The view to print (see `kpx views`); default: the mode's first view.
        #[arg(long)]
        view: Option<String>,
        /// Only this table (save, restore, list; list defaults to nat).
        #[arg(long, value_enum)]
        table: Option<TableArg>,
        /// Only this chain (list, save, restore).
        #[arg(long)]
        chain: Option<String>,
        /// Numeric addresses and ports in the list view (`iptables -L -n`).
        #[arg(long)]
        numeric: bool,
        /// kubectl views: every namespace, as `kubectl get -A`.
        #[arg(short = 'A', long)]
        all_namespaces: bool,
        /// Do not list the defaults kpx applied (notes on stderr).
        #[arg(short, long)]
        quiet: bool,
        /// Show kube-proxy on this node (default: NodeEnvironment.nodeName, else
        /// hostnameOverride, else the first Node).
        #[arg(long)]
        node: Option<String>,
        /// `json` prints the typed dataplane instead of a text view.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Input YAML file, or `-` for standard input.
        #[arg(default_value = "-")]
        file: String,
    },
    /// List the views of each mode.
    Views,
    /// Walk a packet from a client to a destination through the node's rules, step by step.
    Trace {
        /// A pod (`ns/name` or `name`), `node:NAME` (a process on that node), or an IP (outside).
        #[arg(long)]
        from: String,
        /// `IP:PORT` or `ns/name[:port]`.
        #[arg(long)]
        to: String,
        #[arg(long, value_enum)]
        proto: Option<ProtoArg>,
        #[arg(long, value_enum)]
        mode: Option<ModeArg>,
        /// Seed of every random choice: the same seed gives the same walk.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Packets of the connection (the first walks the rules, the rest follow conntrack).
        #[arg(long, default_value_t = 1)]
        packets: usize,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        #[arg(default_value = "-")]
        file: String,
    },
    /// Measure generated clusters: rules per table, payload bytes, rules the first packet meets.
    Scale {
        /// Services to generate; a comma-separated list measures each size.
        #[arg(long, value_delimiter = ',', required = true)]
        services: Vec<usize>,
        #[arg(long)]
        endpoints: usize,
        /// The mode (iptables if none); repeat to measure several.
        #[arg(long, value_enum)]
        mode: Vec<ModeArg>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Open many connections and count where they land.
    Simulate {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        connections: usize,
        #[arg(long, default_value_t = 1)]
        requests: usize,
        #[arg(long, value_enum)]
        proto: Option<ProtoArg>,
        #[arg(long, value_enum)]
        mode: Option<ModeArg>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        #[arg(default_value = "-")]
        file: String,
    },
    /// Print a link that opens the input in kpx's page (for docs pages and embeds).
    Link {
        /// The page's address, e.g. https://example.org/kpx/ (default: just the `#k1.…` part).
        #[arg(long, default_value = "")]
        site: String,
        /// The mode the page opens in.
        #[arg(long, value_enum)]
        mode: Option<ModeArg>,
        /// The view the page opens on.
        #[arg(long)]
        view: Option<String>,
        #[arg(default_value = "-")]
        file: String,
    },
}

fn read_input(file: &str) -> Result<String, String> {
    if file == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("reading standard input: {e}"))?;
        Ok(s)
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))
    }
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("kpx: {e}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Trace {
            from,
            to,
            proto,
            mode,
            seed,
            packets,
            format,
            file,
        } => {
            let text = match read_input(&file) {
                Ok(t) => t,
                Err(e) => return fail(e),
            };
            let req = kpx_core::trace::session::Request {
                from,
                to,
                protocol: proto.map(ProtoArg::protocol),
                mode: mode.map(ModeArg::mode),
                seed,
            };
            let traces = match kpx_core::trace::session::trace(&text, &req, packets) {
                Ok(t) => t,
                Err(e) => return fail(e),
            };
            if format == Format::Json {
                let json = if traces.len() == 1 {
                    serde_json::to_string_pretty(&traces[0])
                } else {
                    serde_json::to_string_pretty(&traces)
                };
                println!("{}", json.unwrap());
            } else {
                for (k, t) in traces.iter().enumerate() {
                    if traces.len() > 1 {
                        println!("packet {}:", k + 1);
                    }
                    for (i, s) in t.steps.iter().enumerate() {
                        let rule = s.rule.as_deref().unwrap_or("");
                        println!(
                            "{:>3}. [{} {}/{}] {}  =>  {}",
                            i + 1,
                            s.hook,
                            s.table,
                            s.chain,
                            rule,
                            s.action
                        );
                        if !s.why.is_empty() && s.matched {
                            println!("       because {}", s.why);
                        }
                    }
                    println!(
                        "verdict: {:?}, endpoint: {}, node: {}",
                        t.verdict,
                        t.endpoint.as_deref().unwrap_or("-"),
                        t.node.as_deref().unwrap_or("-")
                    );
                    if let Some(c) = &t.conntrack {
                        println!("conntrack: {}", c.line());
                    }
                }
            }
            ExitCode::SUCCESS
        }
        Command::Scale {
            services,
            endpoints,
            mode,
            format,
        } => {
            let modes: Vec<Mode> = if mode.is_empty() {
                vec![Mode::Iptables]
            } else {
                mode.into_iter().map(ModeArg::mode).collect()
            };
            let mut all = Vec::new();
            for &mode in &modes {
                for &services in &services {
                    match kpx_core::scale::measure(services, endpoints, mode) {
                        Ok(m) => all.push(m),
                        Err(e) => return fail(e),
                    }
                }
            }
            // One measurement prints as an object, several as a list (the page's scaling chart).
            if format == Format::Json {
                let json = match all.as_slice() {
                    [one] => serde_json::to_string_pretty(one),
                    many => serde_json::to_string_pretty(many),
                };
                println!("{}", json.unwrap());
                return ExitCode::SUCCESS;
            }
            for m in &all {
                let (mode, services) = (m.mode, m.services);
                println!(
                    "{} mode, {services} Services x {endpoints} endpoints",
                    mode.as_str()
                );
                for (k, v) in &m.rules {
                    println!("  {k:<16} {v:>10}");
                }
                println!("  payload bytes    {:>10}", m.restore_bytes);
                if let Some(f) = &m.first_packet_rules {
                    println!(
                        "  first packet: {:.1} rules on average, {} at most ({} Services walked)",
                        f.mean, f.max, f.sampled
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Command::Simulate {
            from,
            to,
            connections,
            requests,
            proto,
            mode,
            seed,
            format,
            file,
        } => {
            let text = match read_input(&file) {
                Ok(t) => t,
                Err(e) => return fail(e),
            };
            let req = kpx_core::trace::session::Request {
                from,
                to,
                protocol: proto.map(ProtoArg::protocol),
                mode: mode.map(ModeArg::mode),
                seed,
            };
            let sim = match kpx_core::trace::session::simulate(&text, &req, connections, requests) {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            if format == Format::Json {
                println!("{}", serde_json::to_string_pretty(&sim).unwrap());
            } else {
                println!(
                    "{} connections x {} requests",
                    sim.connections, sim.requests
                );
                println!("  {:<24} {:>11} {:>8}", "endpoint", "connections", "share");
                for (ep, n) in &sim.endpoints {
                    println!(
                        "  {ep:<24} {n:>11}  {:>6.2}%",
                        100.0 * *n as f64 / sim.connections.max(1) as f64
                    );
                }
                if sim.requests > 1 {
                    // Keep-alive: every request of a connection goes where its first packet went.
                    println!("  {:<24} {:>11} {:>8}", "endpoint", "requests", "share");
                    let total = sim.connections * sim.requests;
                    for (ep, n) in &sim.requests_by_endpoint {
                        println!(
                            "  {ep:<24} {n:>11}  {:>6.2}%",
                            100.0 * *n as f64 / total.max(1) as f64
                        );
                    }
                }
                println!(
                    "  direct {}  dropped {}  rejected {}",
                    sim.direct, sim.dropped, sim.rejected
                );
                if let Some(table) = &sim.ipvsadm {
                    print!("{table}");
                }
                if !sim.rules.is_empty() {
                    println!("rule probability (conditional) -> endpoint: expected share, observed share");
                    for r in &sim.rules {
                        println!(
                            "  {} p={:.4} -> {}: {:.4}, {:.4}",
                            r.chain, r.probability, r.endpoint, r.expected_share, r.observed_share
                        );
                    }
                }
            }
            ExitCode::SUCCESS
        }
        Command::Link {
            site,
            mode,
            view,
            file,
        } => {
            let text = match read_input(&file) {
                Ok(t) => t,
                Err(e) => return fail(e),
            };
            let state = kpx_core::share::Shared {
                text,
                mode: mode.map(|m| m.mode().as_str().to_string()),
                view,
                ..Default::default()
            };
            println!("{site}#{}", kpx_core::share::encode(&state));
            ExitCode::SUCCESS
        }
        Command::Views => {
            for mode in [Mode::Iptables, Mode::Ipvs, Mode::Nftables] {
                println!("{}:", mode.as_str());
                for v in views(mode) {
                    println!("  {:<20} {}", v.name, v.description);
                }
            }
            ExitCode::SUCCESS
        }
        Command::Render {
            mode,
            view,
            table,
            chain,
            numeric,
            all_namespaces,
            quiet,
            node,
            format,
            file,
        } => {
            let text = match read_input(&file) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("kpx: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let name = if file == "-" {
                "<stdin>".to_string()
            } else {
                file.clone()
            };
            let analysis = match analyze_on(&text, node.as_deref()) {
                Ok(a) => a,
                Err(err) => {
                    for d in &err.diagnostics {
                        if d.pos.line == 0 {
                            eprintln!("kpx: {}", d.message);
                        } else {
                            eprintln!("{name}:{}:{}: {}", d.pos.line, d.pos.col, d.message);
                        }
                    }
                    return ExitCode::FAILURE;
                }
            };
            for w in &analysis.cluster.warnings {
                eprintln!(
                    "{name}:{}:{}: warning: {}",
                    w.pos.line, w.pos.col, w.message
                );
            }
            // Every default kpx applied, so the reader sees what was assumed.
            if !quiet {
                for n in &analysis.cluster.notes {
                    match n.pos {
                        Some(p) => eprintln!("{name}:{}:{}: note: {}", p.line, p.col, n.message),
                        None => eprintln!("{name}: note: {}", n.message),
                    }
                }
            }
            let req = Request {
                mode: mode.map(|m| match m {
                    ModeArg::Iptables => Mode::Iptables,
                    ModeArg::Ipvs => Mode::Ipvs,
                    ModeArg::Nftables => Mode::Nftables,
                }),
                view,
                table: table.map(|t| match t {
                    TableArg::Nat => TableName::Nat,
                    TableArg::Filter => TableName::Filter,
                }),
                chain,
                numeric,
                all_namespaces,
            };
            let out = if format == Format::Json {
                analysis.json(&req)
            } else {
                analysis.render(&req)
            };
            match out {
                Ok(text) => {
                    print!("{text}");
                    if format == Format::Json {
                        println!();
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("kpx: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
