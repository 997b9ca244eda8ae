//! `kpx`: what kube-proxy programs on a node, from Kubernetes YAML, on the command line.

use clap::{Parser, Subcommand, ValueEnum};
use kpx_core::cluster::settings::Mode;
use kpx_core::iptables::model::TableName;
use kpx_core::views::{analyze_on, views, Request};
use std::io::Read;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "kpx", version, about = "Shows exactly what kube-proxy programs on a node, from Service YAML")]
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
}

fn read_input(file: &str) -> Result<String, String> {
    if file == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|e| format!("reading standard input: {e}"))?;
        Ok(s)
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Views => {
            for mode in [Mode::Iptables, Mode::Ipvs, Mode::Nftables] {
                println!("{}:", mode.as_str());
                for v in views(mode) {
                    println!("  {:<20} {}", v.name, v.description);
                }
            }
            ExitCode::SUCCESS
        }
        Command::Render { mode, view, table, chain, numeric, all_namespaces, quiet, node, format, file } => {
            let text = match read_input(&file) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("kpx: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let name = if file == "-" { "<stdin>".to_string() } else { file.clone() };
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
                eprintln!("{name}:{}:{}: warning: {}", w.pos.line, w.pos.col, w.message);
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
            let out = if format == Format::Json { analysis.json(&req) } else { analysis.render(&req) };
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
