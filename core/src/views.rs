//! The one entry point front ends use: text in, a named view out.
//!
//! [`analyze`] runs the pipeline once; [`render`] turns the result into any view. The CLI and
//! the web app both go through here, so a view means the same thing everywhere.

use crate::cluster::settings::Mode;
use crate::cluster::{self, kubectl, Cluster};
use crate::diag::InputError;
use crate::input;
use crate::input::{LineRange, ObjectRef};
use crate::iptables::model::{Dataplane, Provenance, TableName};
use crate::iptables::render::{self, Line, ListOptions, Select};
use crate::iptables::{self, Layout};
use serde::Serialize;
use std::collections::BTreeMap;

/// A view a mode offers.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ViewInfo {
    pub name: &'static str,
    pub description: &'static str,
}

const COMMON: &[ViewInfo] = &[
    ViewInfo {
        name: "get-svc",
        description: "kubectl get svc [-A]",
    },
    ViewInfo {
        name: "get-ep",
        description: "kubectl get ep [-A]",
    },
    ViewInfo {
        name: "get-endpointslices",
        description: "kubectl get endpointslices [-A]",
    },
    ViewInfo {
        name: "get-pods",
        description: "kubectl get pods [-A] -o wide",
    },
];

const IPVS: &[ViewInfo] = &[
    ViewInfo {
        name: "ipvsadm",
        description: "ipvsadm -Ln",
    },
    ViewInfo {
        name: "addr",
        description: "ip addr show kube-ipvs0 (addresses sorted)",
    },
    ViewInfo {
        name: "ipset",
        description: "ipset list (members sorted)",
    },
    ViewInfo {
        name: "restore",
        description: "kube-proxy's iptables-restore input in IPVS mode",
    },
    ViewInfo {
        name: "save",
        description: "iptables-save on the node (--table nat|filter)",
    },
    ViewInfo {
        name: "list",
        description: "iptables -t TABLE -L [CHAIN] -v [-n]",
    },
];

const NFTABLES: &[ViewInfo] = &[
    ViewInfo {
        name: "nft",
        description: "kube-proxy's nftables objects as `nft -f` input",
    },
    ViewInfo {
        name: "nft-list",
        description: "nft list table ip kube-proxy (nft 1.0.6)",
    },
    ViewInfo {
        name: "nft-load",
        description: "the objects as `nft -f` input in kube-proxy's creation order",
    },
];

const IPTABLES: &[ViewInfo] = &[
    ViewInfo {
        name: "restore",
        description: "kube-proxy's iptables-restore input (full sync)",
    },
    ViewInfo {
        name: "save",
        description: "iptables-save on the node (--table nat|filter)",
    },
    ViewInfo {
        name: "list",
        description: "iptables -t TABLE -L [CHAIN] -v [-n] (--table, --chain, --numeric)",
    },
];

/// The views of a mode, in the order `kpx views` lists them; the first is the default.
pub fn views(mode: Mode) -> Vec<ViewInfo> {
    let own: &[ViewInfo] = match mode {
        Mode::Iptables => IPTABLES,
        Mode::Nftables => NFTABLES,
        Mode::Ipvs => IPVS,
    };
    own.iter().chain(COMMON.iter()).copied().collect()
}

/// Everything computed from one text.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub cluster: Cluster,
    /// The iptables dataplane, or why this release's layout cannot be shown.
    pub iptables: Result<Dataplane, String>,
    pub layout: Result<Layout, String>,
    /// The nftables table.
    pub nftables: crate::nftables::model::Table,
    /// IPVS mode's state.
    pub ipvs: crate::ipvs::Ipvs,
    /// Where each object of the cluster is written in the reader's text (an object kpx made,
    /// such as a Deployment's Pod, points at what it was made from).
    pub written: BTreeMap<ObjectRef, Vec<LineRange>>,
}

/// Parses and builds everything for `text`, on the node the input names.
pub fn analyze(text: &str) -> Result<Analysis, InputError> {
    analyze_on(text, None)
}

/// Parses and builds everything for `text`, as kube-proxy on `node` sees it.
pub fn analyze_on(text: &str, node: Option<&str>) -> Result<Analysis, InputError> {
    let scenario = input::parse(text)?;
    let cluster = cluster::build(&scenario, node)?;
    let iptables = iptables::build(&cluster);
    let layout = Layout::for_version(cluster.settings.version);
    let nftables = crate::nftables::build(&cluster);
    let ipvs = crate::ipvs::build(&cluster);
    let written = written_lines(&scenario, &cluster);
    Ok(Analysis {
        cluster,
        iptables,
        layout,
        nftables,
        ipvs,
        written,
    })
}

fn written_lines(
    scenario: &input::Scenario,
    cluster: &Cluster,
) -> BTreeMap<ObjectRef, Vec<LineRange>> {
    let mut written: BTreeMap<ObjectRef, Vec<LineRange>> = BTreeMap::new();
    for (reference, lines) in scenario.written_lines() {
        // Rules cite the configuration by kind alone: whatever its name, it is the one.
        let reference = if reference.kind == "KubeProxyConfiguration" {
            cluster::proxy_config_ref()
        } else {
            reference
        };
        written.entry(reference).or_default().push(lines);
    }
    let derived = cluster
        .slices
        .iter()
        .map(|i| (&i.reference, &i.origin))
        .chain(cluster.pods.iter().map(|i| (&i.reference, &i.origin)));
    for (reference, origin) in derived {
        if let cluster::Origin::Derived { from, .. } = origin {
            let lines: Vec<LineRange> = from
                .iter()
                .flat_map(|f| written.get(f).cloned().unwrap_or_default())
                .collect();
            written.entry(reference.clone()).or_insert(lines);
        }
    }
    written
}

/// One line of a rendered view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ViewLine {
    pub text: String,
    /// Why the chain or rule on this line exists, for the reader.
    pub why: Option<String>,
    /// The lines of the reader's text that made it (the objects `why` names).
    pub written: Vec<LineRange>,
    /// The chain, set or map the line declares.
    pub defines: Option<String>,
    /// A load-balancing step's odds, in words.
    pub odds: Option<String>,
    /// The rule (virtual server, real server) the line shows, as walks name it.
    pub anchor: Option<String>,
}

impl ViewLine {
    fn plain(text: &str) -> Self {
        ViewLine {
            text: text.to_string(),
            why: None,
            written: vec![],
            defines: None,
            odds: None,
            anchor: None,
        }
    }
}

/// What to render.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// `None`: the input's KubeProxyConfiguration.mode (iptables if unset).
    pub mode: Option<Mode>,
    /// `None`: the mode's first view.
    pub view: Option<String>,
    pub table: Option<TableName>,
    pub chain: Option<String>,
    pub numeric: bool,
    /// kubectl views: every namespace (`-A`) instead of `default`.
    pub all_namespaces: bool,
}

impl Analysis {
    /// The nodes the reader can switch between, in input order (the shown one included).
    pub fn node_names(&self) -> Vec<String> {
        self.cluster
            .nodes
            .iter()
            .filter_map(|n| n.object.metadata.name.clone())
            .collect()
    }

    pub fn mode(&self, req: &Request) -> Mode {
        req.mode.unwrap_or(self.cluster.settings.mode)
    }

    /// Renders a view as text.
    pub fn render(&self, req: &Request) -> Result<String, String> {
        self.render_lines(req)
            .map(|lines| lines.iter().map(|l| format!("{}\n", l.text)).collect())
    }

    /// Renders a view line by line, each with why it is there where it stands for a chain or
    /// a rule (`None` for headers and kubectl tables).
    pub fn render_lines(&self, req: &Request) -> Result<Vec<ViewLine>, String> {
        let annotate = |lines: Vec<Line>| -> Vec<ViewLine> {
            let mut out = Vec::with_capacity(lines.len());
            for l in lines {
                let written = l.source.map(|p| self.written_by(p)).unwrap_or_default();
                let why = l.source.map(|p| p.describe());
                // A line of text per view line (nft prints a set's elements over several).
                for (i, text) in l.text.split('\n').enumerate() {
                    out.push(ViewLine {
                        text: text.to_string(),
                        why: why.clone(),
                        written: written.clone(),
                        defines: if i == 0 {
                            l.defines.map(str::to_string)
                        } else {
                            None
                        },
                        odds: if i == 0 { l.odds.clone() } else { None },
                        anchor: if i == 0 { l.anchor.clone() } else { None },
                    });
                }
            }
            out
        };
        let plain = |text: String| -> Vec<ViewLine> { text.lines().map(ViewLine::plain).collect() };
        let mode = self.mode(req);
        let available = views(mode);
        let view = req
            .view
            .clone()
            .unwrap_or_else(|| available[0].name.to_string());
        let c = &self.cluster;
        let scope = if req.all_namespaces {
            kubectl::Scope::AllNamespaces
        } else {
            kubectl::Scope::DefaultNamespace
        };
        match view.as_str() {
            "get-svc" => Ok(plain(kubectl::get_svc(c, scope))),
            "get-ep" => Ok(plain(kubectl::get_ep(c, scope))),
            "get-endpointslices" => Ok(plain(kubectl::get_endpointslices(c, scope))),
            "get-pods" => Ok(plain(kubectl::get_pods(c, scope))),
            "nft" if mode == Mode::Nftables => {
                Ok(annotate(crate::nftables::render::nft_lines(&self.nftables)))
            }
            "nft-list" if mode == Mode::Nftables => Ok(annotate(
                crate::nftables::render::nft_list_lines(&self.nftables),
            )),
            "nft-load" if mode == Mode::Nftables => Ok(annotate(
                crate::nftables::render::creation_order_lines(&self.nftables),
            )),
            "ipvsadm" if mode == Mode::Ipvs => {
                Ok(annotate(crate::ipvs::render::ipvsadm_lines(&self.ipvs)))
            }
            "addr" if mode == Mode::Ipvs => Ok(annotate(crate::ipvs::render::addr_lines(
                &self.ipvs,
                &self.cluster.settings,
            ))),
            "ipset" if mode == Mode::Ipvs => {
                Ok(annotate(crate::ipvs::render::ipset_lines(&self.ipvs)))
            }
            "restore" | "save" | "list" if mode != Mode::Nftables => {
                let (dp, layout) = if mode == Mode::Ipvs {
                    (&self.ipvs.iptables, Layout::Current)
                } else {
                    (
                        self.iptables.as_ref().map_err(Clone::clone)?,
                        self.layout.clone()?,
                    )
                };
                let sel = Select {
                    table: req.table,
                    chain: req.chain.as_deref(),
                };
                let ipv6 = c.settings.ipv6;
                if let Some(chain) = &req.chain {
                    let tables: Vec<_> = dp
                        .tables
                        .iter()
                        .filter(|t| req.table.is_none_or(|w| w == t.name))
                        .collect();
                    if !tables.iter().any(|t| t.chain(chain).is_some()) {
                        return Err(format!(
                            "no chain {chain} in the {} table",
                            req.table.map_or("nat or filter", TableName::as_str)
                        ));
                    }
                }
                match view.as_str() {
                    "restore" => Ok(annotate(render::restore_lines(dp, layout, sel))),
                    "save" => Ok(annotate(render::save_lines(dp, ipv6, sel))),
                    _ => render::list_lines(
                        dp,
                        req.table.unwrap_or(TableName::Nat),
                        req.chain.as_deref(),
                        ListOptions {
                            verbose: true,
                            numeric: req.numeric,
                        },
                        ipv6,
                    )
                    .map(annotate),
                }
            }
            other => Err(format!(
                "{} mode has no view {other:?}; its views: {}",
                mode.as_str(),
                available
                    .iter()
                    .map(|v| v.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// The lines of the reader's text behind a provenance: the Service, and for an endpoint
    /// its Pod (or, without one, its EndpointSlice or Endpoints).
    pub fn written_by(&self, p: &Provenance) -> Vec<LineRange> {
        let objects: Vec<&ObjectRef> = match p {
            Provenance::Endpoint {
                service,
                slice,
                pod,
                ..
            } => vec![service, pod.as_ref().unwrap_or(slice)],
            other => other.objects(),
        };
        let mut lines: Vec<LineRange> = objects
            .into_iter()
            .flat_map(|o| self.written.get(o).cloned().unwrap_or_default())
            .collect();
        lines.sort();
        lines.dedup();
        lines
    }

    /// The typed dataplane of a mode as JSON (`--format json`).
    pub fn json(&self, req: &Request) -> Result<String, String> {
        match self.mode(req) {
            Mode::Iptables => {
                let dp = self.iptables.as_ref().map_err(Clone::clone)?;
                serde_json::to_string_pretty(dp).map_err(|e| e.to_string())
            }
            Mode::Nftables => {
                serde_json::to_string_pretty(&self.nftables).map_err(|e| e.to_string())
            }
            Mode::Ipvs => serde_json::to_string_pretty(&self.ipvs).map_err(|e| e.to_string()),
        }
    }
}
