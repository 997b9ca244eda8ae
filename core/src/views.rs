//! The one entry point front ends use: text in, a named view out.
//!
//! [`analyze`] runs the pipeline once; [`render`] turns the result into any view. The CLI and
//! the web app both go through here, so a view means the same thing everywhere.

use crate::cluster::settings::Mode;
use crate::cluster::{self, kubectl, Cluster};
use crate::diag::InputError;
use crate::input;
use crate::input::{LineRange, ObjectName, ObjectRef, Scenario};
use crate::iptables::model::{Dataplane, Provenance, TableName, Why};
use crate::iptables::render::{self, Line, LineSink, ListOptions, Select, Sink, TextSink};
use crate::iptables::{self, Layout};
use crate::nftables;
use crate::pace::{at_once, InParts, Pace};
use serde::Serialize;
use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

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
    pub layout: Result<Layout, String>,
    // Each mode's dataplane is built when first asked for: a page showing one mode (or a
    // trace in one mode) pays for that mode only.
    iptables: OnceCell<Result<Dataplane, String>>,
    nftables: OnceCell<crate::nftables::model::Table>,
    ipvs: OnceCell<crate::ipvs::Ipvs>,
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
    analyze_parsed(&input::parse(text)?, node)
}

/// Builds everything for a parsed text (read a part at a time: [`input::Reading`]).
pub fn analyze_parsed(scenario: &Scenario, node: Option<&str>) -> Result<Analysis, InputError> {
    at_once(analyze_paced(scenario, node, &Pace::never()))
}

/// [`analyze_parsed`], an object being a unit of `pace`'s work (the page analyses a large text
/// a part at a time).
pub async fn analyze_paced(
    scenario: &Scenario,
    node: Option<&str>,
    pace: &Pace,
) -> Result<Analysis, InputError> {
    let cluster = cluster::build_paced(scenario, node, pace).await?;
    let layout = Layout::for_version(cluster.settings.version);
    let written = written_lines(scenario, &cluster, pace).await;
    Ok(Analysis {
        cluster,
        layout,
        iptables: OnceCell::new(),
        nftables: OnceCell::new(),
        ipvs: OnceCell::new(),
        written,
    })
}

impl Analysis {
    /// The iptables dataplane, or why this release's layout cannot be shown.
    pub fn iptables(&self) -> &Result<Dataplane, String> {
        self.iptables.get_or_init(|| iptables::build(&self.cluster))
    }
    /// The nftables table.
    pub fn nftables(&self) -> &crate::nftables::model::Table {
        self.nftables
            .get_or_init(|| crate::nftables::build(&self.cluster))
    }
    /// IPVS mode's state.
    pub fn ipvs(&self) -> &crate::ipvs::Ipvs {
        self.ipvs.get_or_init(|| crate::ipvs::build(&self.cluster))
    }
    /// Builds `mode`'s dataplane now, if it is not built yet (each is built when first asked
    /// for).
    pub fn build(&self, mode: Mode) {
        match mode {
            Mode::Iptables => drop(self.iptables()),
            Mode::Nftables => drop(self.nftables()),
            Mode::Ipvs => drop(self.ipvs()),
        }
    }

    /// Whether `mode`'s dataplane is built.
    pub fn built(&self, mode: Mode) -> bool {
        match mode {
            Mode::Iptables => self.iptables.get().is_some(),
            Mode::Nftables => self.nftables.get().is_some(),
            Mode::Ipvs => self.ipvs.get().is_some(),
        }
    }

    /// [`Analysis::build`] a part at a time, a service port being a unit of work (the page
    /// builds a large cluster's between its reader's keys).
    pub fn build_in_parts(self: Rc<Self>, mode: Mode) -> InParts<'static, ()> {
        /// Fills `cell` with what `build` makes, unless it is filled (the work does not start
        /// until awaited; built meanwhile, the cell keeps the first: the same dataplane).
        async fn fill<T>(cell: &OnceCell<T>, build: impl std::future::Future<Output = T>) {
            if cell.get().is_none() {
                let _ = cell.set(build.await);
            }
        }
        InParts::new(move |pace| async move {
            let c = &self.cluster;
            match mode {
                Mode::Iptables => fill(&self.iptables, iptables::build_paced(c, &pace)).await,
                Mode::Nftables => {
                    fill(&self.nftables, crate::nftables::build_paced(c, &pace)).await
                }
                Mode::Ipvs => fill(&self.ipvs, crate::ipvs::build_paced(c, &pace)).await,
            }
        })
    }
}

/// The reader's lines that wrote each object (a derived one's are its sources'), an object
/// being a unit of work (at 44,125 Services, this index alone was 70 ms of the wasm).
async fn written_lines(
    scenario: &input::Scenario,
    cluster: &Cluster,
    pace: &Pace,
) -> BTreeMap<ObjectRef, Vec<LineRange>> {
    let mut written: BTreeMap<ObjectRef, Vec<LineRange>> = BTreeMap::new();
    for (reference, lines) in scenario.written_lines() {
        // Rules cite the configuration by kind alone: whatever its name, it is the one.
        let reference = if reference.kind == "KubeProxyConfiguration" {
            cluster::proxy_config_ref()
        } else {
            reference.clone()
        };
        written.entry(reference).or_default().push(lines);
        pace.unit().await;
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
            pace.unit().await;
        }
    }
    written
}

/// The objects whose lines in the reader's text made what `p` names: the Service, and for an
/// endpoint its Pod (or, without one, its EndpointSlice or Endpoints).
fn written_by_objects(p: &Provenance) -> Vec<&ObjectRef> {
    match &**p {
        Why::Endpoint {
            service,
            slice,
            pod,
            ..
        } => vec![service, pod.as_ref().unwrap_or(slice)],
        other => other.objects(),
    }
}

/// One line of a rendered view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ViewLine {
    pub text: String,
    /// Why the chain or rule on this line exists ([`ViewLine::why`] words it: only the lines
    /// shown are worded, of a 10,000-Service view's 440,000).
    pub source: Option<Provenance>,
    /// The lines of the reader's text that made it (the objects `source` names), shared by
    /// the lines of those objects.
    pub written: Rc<[LineRange]>,
    /// The chain, set or map the line declares.
    pub defines: Option<String>,
    /// A load-balancing step's odds, in words (shared by the steps of one shape of cascade).
    pub odds: Option<Rc<str>>,
    /// The rule (virtual server, real server) the line shows, as walks name it.
    pub anchor: Option<crate::explain::anchor::Anchor>,
}

impl ViewLine {
    /// Why the chain or rule on this line exists, in a sentence for the reader.
    pub fn why(&self) -> Option<String> {
        self.source.as_ref().map(|p| p.describe())
    }
}

/// Builds the page's lines as a renderer hands them on.
struct ViewLines<'s> {
    analysis: &'s Analysis,
    lines: Vec<ViewLine>,
    // The reader's lines behind a line are those of the objects its provenance names: worked
    // out once per provenance handle (an endpoint's chain and rules share one), and once per
    // set of objects (a Service's endpoints name the same Service and slice).
    by_handle: HashMap<*const Why, Rc<[LineRange]>, foldhash::fast::RandomState>,
    by_objects: HashMap<Vec<*const ObjectName>, Rc<[LineRange]>, foldhash::fast::RandomState>,
    unwritten: Rc<[LineRange]>,
}

impl<'s> render::LineOut<'s> for ViewLines<'s> {
    fn line(&mut self, l: Line<'s>) {
        let written = match l.source {
            Some(p) => self
                .by_handle
                .entry(&**p)
                .or_insert_with(|| {
                    // Object names are shared handles: one pointer, one name.
                    let objects: Vec<*const ObjectName> = written_by_objects(p)
                        .into_iter()
                        .map(|o| &**o as *const _)
                        .collect();
                    self.by_objects
                        .entry(objects)
                        .or_insert_with(|| self.analysis.written_by(p).into())
                        .clone()
                })
                .clone(),
            None => self.unwritten.clone(),
        };
        let line = |text: String, first: bool| ViewLine {
            text,
            source: l.source.cloned(),
            written: written.clone(),
            defines: l.defines.filter(|_| first).map(str::to_string),
            odds: l.odds.clone().filter(|_| first),
            anchor: l.anchor.clone().filter(|_| first),
        };
        if !l.text.contains('\n') {
            self.lines.push(line(l.text, true));
            return;
        }
        // A line of text per view line (nft prints a set's elements over several).
        for (i, text) in l.text.split('\n').enumerate() {
            self.lines.push(line(text.to_string(), i == 0));
        }
    }
    fn expect(&mut self, n: usize) {
        self.lines.reserve(n);
        // Sized once: grown, the indexes were made again whole at each doubling, the last
        // ones 60 and 28 ms natively at 44,125 Services, whose iptables views have 1.9 to 2.9
        // million lines, 587,000 provenances and 132,000 sets of objects.
        self.by_handle.reserve(n / 3);
        self.by_objects.reserve(n / 12);
    }
    fn expect_sources(&mut self, n: usize) {
        // ipvsadm's lines each have their own provenance (a real server's), and object sets
        // (a Service and a Pod) are shared by a virtual server per address: at 44,125
        // Services, indexes sized for iptables' shares grew in pieces of 60 ms natively.
        self.by_handle.reserve(n);
        self.by_objects.reserve(n / 2);
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
        let mut sink = TextSink::default();
        at_once(self.write(req, &mut sink))?;
        Ok(sink.finish())
    }

    /// Renders a view line by line, each with why it is there where it stands for a chain or
    /// a rule (`None` for headers and kubectl tables).
    pub fn render_lines(&self, req: &Request) -> Result<Vec<ViewLine>, String> {
        at_once(self.write_lines(req, Pace::never()))
    }

    /// [`Analysis::render_lines`] a part at a time, a line being a unit of work (the page
    /// makes a large view's lines between its reader's keys).
    pub fn render_lines_in_parts(
        self: Rc<Self>,
        req: Request,
    ) -> InParts<'static, Result<Vec<ViewLine>, String>> {
        InParts::new(|pace| async move { self.write_lines(&req, pace).await })
    }

    async fn write_lines(&self, req: &Request, pace: Pace) -> Result<Vec<ViewLine>, String> {
        let mut sink = LineSink::new(ViewLines {
            analysis: self,
            lines: Vec::new(),
            by_handle: Default::default(),
            by_objects: Default::default(),
            unwritten: Rc::new([]),
        })
        .paced(pace.clone());
        self.write(req, &mut sink).await?;
        let ViewLines {
            lines,
            by_handle,
            by_objects,
            ..
        } = sink.out;
        // The indexes let go of a part at a time: at 44,125 Services, dropped whole, they were
        // a 50 ms piece of the wasm.
        let entries = (by_handle.into_iter().map(drop)).chain(by_objects.into_iter().map(drop));
        for (i, ()) in entries.enumerate() {
            if i % 64 == 0 {
                pace.unit().await;
            }
        }
        Ok(lines)
    }

    /// Writes a view's lines into `sink`.
    async fn write<'s>(&'s self, req: &Request, sink: &mut dyn Sink<'s>) -> Result<(), String> {
        let plain = |lines: Vec<String>| -> Vec<Line> {
            let line = |text| Line {
                text,
                ..Default::default()
            };
            lines.into_iter().map(line).collect()
        };
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
        // Views other than iptables' and nft's make their lines (the largest a part at a time),
        // then hand them to the sink; iptables' and nft's write into the sink.
        let pace = sink.pace();
        let made: Vec<Line> = match view.as_str() {
            "get-svc" | "get-ep" | "get-endpointslices" | "get-pods" => {
                let rows = match view.as_str() {
                    "get-svc" => kubectl::get_svc(c),
                    "get-ep" => kubectl::get_ep(c, &pace).await,
                    "get-endpointslices" => kubectl::get_endpointslices(c),
                    _ => kubectl::get_pods(c),
                };
                Ok(plain(kubectl::lines(rows, scope, &pace).await))
            }
            "nft" | "nft-load" if mode == Mode::Nftables => {
                let order = match view.as_str() {
                    "nft" => nftables::render::Order::Dump,
                    _ => nftables::render::Order::Creation,
                };
                nftables::render::write_nft(self.nftables(), order, sink).await;
                Ok(vec![])
            }
            "nft-list" if mode == Mode::Nftables => {
                Ok(crate::nftables::render::nft_list_lines(self.nftables(), &pace).await)
            }
            "ipvsadm" if mode == Mode::Ipvs => {
                let no_counts = |_: &str, _: &str| (0, 0);
                Ok(crate::ipvs::render::ipvsadm_lines_paced(self.ipvs(), &no_counts, &pace).await)
            }
            "addr" if mode == Mode::Ipvs => {
                let settings = &self.cluster.settings;
                Ok(crate::ipvs::render::addr_lines(self.ipvs(), settings, &pace).await)
            }
            "ipset" if mode == Mode::Ipvs => {
                Ok(crate::ipvs::render::ipset_lines(self.ipvs(), &pace).await)
            }
            "restore" | "save" | "list" if mode != Mode::Nftables => {
                let (dp, layout) = if mode == Mode::Ipvs {
                    (&self.ipvs().iptables, Layout::Current)
                } else {
                    (
                        self.iptables().as_ref().map_err(Clone::clone)?,
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
                    "restore" => render::write_restore(dp, layout, sel, sink).await,
                    "save" => render::write_save(dp, ipv6, sel, sink).await,
                    _ => {
                        render::write_list(
                            dp,
                            req.table.unwrap_or(TableName::Nat),
                            req.chain.as_deref(),
                            ListOptions {
                                verbose: true,
                                numeric: req.numeric,
                            },
                            ipv6,
                            sink,
                        )
                        .await?
                    }
                }
                Ok(vec![])
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
        }?;
        // (Room for them at once: grown by doubling, nft-list's 2 million lines at 44,125
        // Services were moved in pieces of up to half a second natively.)
        sink.expect_lines(made.len());
        sink.expect_sources(made.iter().filter(|l| l.source.is_some()).count());
        for line in made {
            sink.push(line);
            pace.unit().await;
        }
        Ok(())
    }

    /// The lines of the reader's text behind a provenance: the Service, and for an endpoint
    /// its Pod (or, without one, its EndpointSlice or Endpoints).
    pub fn written_by(&self, p: &Provenance) -> Vec<LineRange> {
        let mut lines: Vec<LineRange> = written_by_objects(p)
            .into_iter()
            .flat_map(|o| self.written.get(o).cloned().unwrap_or_default())
            .collect();
        crate::pace::sort_stable_by(&mut lines, Ord::cmp);
        lines.dedup();
        lines
    }

    /// The typed dataplane of a mode as JSON (`--format json`).
    pub fn json(&self, req: &Request) -> Result<String, String> {
        match self.mode(req) {
            Mode::Iptables => {
                let dp = self.iptables().as_ref().map_err(Clone::clone)?;
                serde_json::to_string_pretty(dp).map_err(|e| e.to_string())
            }
            Mode::Nftables => {
                serde_json::to_string_pretty(&self.nftables()).map_err(|e| e.to_string())
            }
            Mode::Ipvs => serde_json::to_string_pretty(&self.ipvs()).map_err(|e| e.to_string()),
        }
    }
}
