//! kube-proxy's effective settings and the node's facts, with every default in one place.
//!
//! Each default that fills a gap is reported as a [`Note`], so the reader sees what kpx assumed.

use super::Note;
use crate::diag::{Diagnostic, Pos};
use crate::input::config::{KubeProxyConfiguration, NodeEnvironment};
use crate::input::Scenario;
use crate::net::Cidr;
use crate::path;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

pub const DEFAULT_NODE_NAME: &str = "node-1";
pub const DEFAULT_NODE_IP: &str = "192.168.0.2";
pub const DEFAULT_POD_CIDR: &str = "10.244.0.0/24";
pub const DEFAULT_CLUSTER_CIDR: &str = "10.244.0.0/16";
pub const DEFAULT_SERVICE_CIDR: &str = "10.96.0.0/12";
pub const NODE_PORT_RANGE: (u16, u16) = (30000, 32767);
/// The release whose rule layout is shown when `kubeProxyVersion` is not set.
pub const DEFAULT_KUBE_PROXY_VERSION: Version = Version {
    major: 1,
    minor: 35,
};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Iptables,
    Ipvs,
    Nftables,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "iptables" => Some(Mode::Iptables),
            "ipvs" => Some(Mode::Ipvs),
            "nftables" => Some(Mode::Nftables),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Iptables => "iptables",
            Mode::Ipvs => "ipvs",
            Mode::Nftables => "nftables",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
}

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim().trim_start_matches('v');
        let mut parts = s.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(Version { major, minor })
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// How kube-proxy tells pod traffic from other traffic (`--detect-local-mode`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", content = "value")]
pub enum LocalDetector {
    /// No detector: kube-proxy's NoOp (no `! -s <cidr>` rules).
    None,
    /// ClusterCIDR or NodeCIDR: `-s <cidr>` / `! -s <cidr>`.
    Cidr(Cidr),
    /// BridgeInterface: `-i <bridge>` / `! -i <bridge>`.
    Bridge(String),
    /// InterfaceNamePrefix: `-i <prefix>+` / `! -i <prefix>+`.
    InterfacePrefix(String),
}

/// An address on one of the node's interfaces.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Interface {
    pub name: String,
    pub addresses: Vec<Cidr>,
}

/// Whether each nfacct counter kube-proxy wants exists on the node.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NfacctCounters {
    pub ct_state_invalid_dropped_pkts: bool,
    pub localhost_nps_accepted_pkts: bool,
}

/// kube-proxy's settings and this node's facts, fully defaulted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Settings {
    pub mode: Mode,
    pub node_name: String,
    /// kube-proxy's primary node IP, if it has one.
    pub node_ip: Option<IpAddr>,
    pub ipv6: bool,
    pub detect_local: LocalDetector,
    /// The cluster's pod CIDR as configured (used by old layouts' KUBE-FORWARD rules).
    pub cluster_cidr: Option<Cidr>,
    /// `nodePortAddresses` of the proxier's family (kube-proxy drops the others).
    /// Empty: NodePorts on every local address.
    pub node_port_addresses: Vec<Cidr>,
    pub masquerade_all: bool,
    pub masquerade_bit: u32,
    pub localhost_node_ports: bool,
    pub service_cidrs: Vec<Cidr>,
    pub interfaces: Vec<Interface>,
    pub nfacct: NfacctCounters,
    pub random_fully: bool,
    pub tcp_be_liberal: bool,
    pub topology_labels: BTreeMap<String, String>,
    pub version: Version,
    pub ipvs_scheduler: String,
    pub ipvs_strict_arp: bool,
    pub ipvs_exclude_cidrs: Vec<Cidr>,
}

impl Settings {
    /// All addresses of the node's interfaces of the proxier's family.
    pub fn local_addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let ipv6 = self.ipv6;
        self.interfaces
            .iter()
            .flat_map(|i| i.addresses.iter().map(|c| c.addr))
            .filter(move |a| a.is_ipv6() == ipv6)
    }

    pub fn is_local_address(&self, ip: IpAddr) -> bool {
        self.interfaces
            .iter()
            .any(|i| i.addresses.iter().any(|c| c.addr == ip))
    }

    /// The node IPs NodePorts answer on when `nodePortAddresses` is set (kube-proxy's
    /// `NodePortAddresses.GetNodeIPs`): every local address of the family inside one of the
    /// prefixes, in interface order.
    pub fn node_port_ips(&self) -> Vec<IpAddr> {
        let mut out: Vec<IpAddr> = Vec::new();
        for ip in self.local_addresses() {
            if self.node_port_addresses.iter().any(|c| c.contains(ip)) && !out.contains(&ip) {
                out.push(ip);
            }
        }
        out
    }

    /// Whether `nodePortAddresses` is unset (or "match all"): NodePorts on every local address.
    pub fn node_ports_on_all_addresses(&self) -> bool {
        self.node_port_addresses.is_empty() || self.node_port_addresses.iter().any(|c| c.len == 0)
    }

    /// `fmt.Sprintf("%#08x", 1<<masqueradeBit)`, as kube-proxy writes the mark.
    pub fn masquerade_mark(&self) -> u32 {
        1u32 << self.masquerade_bit
    }
}

fn note(notes: &mut Vec<Note>, pos: Option<Pos>, message: String) {
    notes.push(Note { pos, message });
}

/// Resolves the settings from the scenario. `node` is the chosen node's name and facts,
/// resolved by the caller (see `cluster::nodes`).
pub(super) fn resolve(
    s: &Scenario,
    node_name: &str,
    node_internal_ip: Option<IpAddr>,
    node_pod_cidr: Option<Cidr>,
    env_describes_node: bool,
    notes: &mut Vec<Note>,
    errors: &mut Vec<Diagnostic>,
) -> Settings {
    let default_cfg = KubeProxyConfiguration::default();
    let default_env = NodeEnvironment::default();
    let cfg = s
        .proxy_config
        .as_ref()
        .map(|l| &*l.object)
        .unwrap_or(&default_cfg);
    let env = s
        .node_env
        .as_ref()
        .map(|l| &*l.object)
        .unwrap_or(&default_env);
    let cfg_pos = |p: &[crate::input::Seg]| s.proxy_config.as_ref().map(|l| l.pos_of(p));
    let env_pos = |p: &[crate::input::Seg]| s.node_env.as_ref().map(|l| l.pos_of(p));
    let mut err = |pos: Option<Pos>, msg: String| {
        errors.push(Diagnostic::error(pos.unwrap_or_default(), msg))
    };

    let mode = match cfg.mode.as_deref() {
        None | Some("") => Mode::Iptables,
        Some(m) => Mode::parse(m).unwrap_or_else(|| {
            err(
                cfg_pos(&path!["mode"]),
                format!("mode {m:?} is not one of iptables, ipvs, nftables"),
            );
            Mode::Iptables
        }),
    };

    let ipv6 = match env.ip_family.as_deref() {
        None | Some("IPv4") => false,
        Some("IPv6") => true,
        Some(other) => {
            err(
                env_pos(&path!["ipFamily"]),
                format!("ipFamily {other:?} must be IPv4 or IPv6"),
            );
            false
        }
    };

    let parse_cidr =
        |text: &str, pos: Option<Pos>, what: &str, errs: &mut dyn FnMut(Option<Pos>, String)| {
            let c = Cidr::parse(text);
            if c.is_none() {
                errs(pos, format!("{what} {text:?} is not a valid CIDR"));
            }
            c
        };

    let env_node_ip = if env_describes_node {
        env.node_ip.clone()
    } else {
        None
    };
    let env_interfaces = if env_describes_node {
        env.interfaces.clone()
    } else {
        None
    };
    let node_ip: Option<IpAddr> = match &env_node_ip {
        Some(None) => None,
        Some(Some(text)) => match crate::net::parse_ip(text) {
            Some(ip) => Some(ip),
            None => {
                err(
                    env_pos(&path!["nodeIP"]),
                    format!("nodeIP {text:?} is not an IP address"),
                );
                None
            }
        },
        None => node_internal_ip.or_else(|| {
            let ip: IpAddr = DEFAULT_NODE_IP.parse().unwrap();
            note(notes, None, format!("node IP not given: assumed {ip}"));
            Some(ip)
        }),
    };

    let cluster_cidr = match cfg.cluster_cidr.as_deref() {
        // No kube-proxy configuration at all: assume a typical cluster.
        None if s.proxy_config.is_none() => {
            note(
                notes,
                None,
                format!("no KubeProxyConfiguration: assumed clusterCIDR {DEFAULT_CLUSTER_CIDR}"),
            );
            Cidr::parse(DEFAULT_CLUSTER_CIDR)
        }
        // A configuration without it is kube-proxy's default: no local-traffic detector.
        None => {
            note(notes, cfg_pos(&path!["mode"]).or(s.proxy_config.as_ref().map(|c| c.pos())), "KubeProxyConfiguration has no clusterCIDR: kube-proxy then has no local-traffic detector, so no `! -s <clusterCIDR>` masquerade rules".to_string());
            None
        }
        Some("") => None,
        // kube-proxy takes the first CIDR of its family from a comma-separated list.
        Some(text) => {
            let mut found = None;
            for part in text.split(',') {
                if let Some(c) = parse_cidr(
                    part,
                    cfg_pos(&path!["clusterCIDR"]),
                    "clusterCIDR",
                    &mut err,
                ) {
                    if c.addr.is_ipv6() == ipv6 && found.is_none() {
                        found = Some(c);
                    }
                }
            }
            found
        }
    };

    let detect_local = match cfg.detect_local_mode.as_deref() {
        None | Some("") | Some("ClusterCIDR") => {
            cluster_cidr.map_or(LocalDetector::None, LocalDetector::Cidr)
        }
        Some("NodeCIDR") => node_pod_cidr.map_or(LocalDetector::None, LocalDetector::Cidr),
        Some("BridgeInterface") => {
            match cfg
                .detect_local
                .as_ref()
                .and_then(|d| d.bridge_interface.clone())
                .filter(|b| !b.is_empty())
            {
                Some(b) => LocalDetector::Bridge(b),
                None => {
                    err(
                        cfg_pos(&path!["detectLocal"]),
                        "detectLocalMode BridgeInterface needs detectLocal.bridgeInterface".into(),
                    );
                    LocalDetector::None
                }
            }
        }
        Some("InterfaceNamePrefix") => {
            match cfg
                .detect_local
                .as_ref()
                .and_then(|d| d.interface_name_prefix.clone())
                .filter(|b| !b.is_empty())
            {
                Some(p) => LocalDetector::InterfacePrefix(p),
                None => {
                    err(
                        cfg_pos(&path!["detectLocal"]),
                        "detectLocalMode InterfaceNamePrefix needs detectLocal.interfaceNamePrefix"
                            .into(),
                    );
                    LocalDetector::None
                }
            }
        }
        Some(other) => {
            err(cfg_pos(&path!["detectLocalMode"]), format!("detectLocalMode {other:?} must be ClusterCIDR, NodeCIDR, BridgeInterface or InterfaceNamePrefix"));
            LocalDetector::None
        }
    };

    let mut node_port_addresses = Vec::new();
    for (i, text) in cfg.node_port_addresses.iter().flatten().enumerate() {
        // "primary" means the node IPs kube-proxy was given.
        if text == "primary" {
            node_port_addresses.extend(node_ip.filter(|ip| !ip.is_loopback()).map(Cidr::host));
            continue;
        }
        if let Some(c) = parse_cidr(
            text,
            cfg_pos(&path!["nodePortAddresses", i]),
            "nodePortAddresses entry",
            &mut err,
        ) {
            node_port_addresses.push(c);
        }
    }

    let ipt = cfg.iptables.clone().unwrap_or_default();
    let nft = cfg.nftables.clone().unwrap_or_default();
    let (masquerade_all, bit) = match mode {
        Mode::Nftables => (
            nft.masquerade_all.unwrap_or(false),
            nft.masquerade_bit.unwrap_or(14),
        ),
        _ => (
            ipt.masquerade_all.unwrap_or(false),
            ipt.masquerade_bit.unwrap_or(14),
        ),
    };
    let masquerade_bit = if (0..=31).contains(&bit) {
        bit as u32
    } else {
        err(
            cfg_pos(&path!["iptables", "masqueradeBit"]),
            format!("masqueradeBit {bit} must be between 0 and 31"),
        );
        14
    };
    node_port_addresses.retain(|c| c.addr.is_ipv6() == ipv6);
    // kube-proxy forces localhostNodePorts off unless nodePortAddresses allows IPv4 loopback,
    // and the IPv6 proxier never has it.
    let localhost_requested = ipt.localhost_node_ports.unwrap_or(true);
    // `NodePortAddresses.ContainsIPv4Loopback`: a prefix that is loopback or holds 127.0.0.0.
    let loopback_start: IpAddr = "127.0.0.0".parse().unwrap();
    let localhost_node_ports = localhost_requested
        && !ipv6
        && (node_port_addresses.is_empty()
            || node_port_addresses
                .iter()
                .any(|c| c.addr.is_loopback() || c.contains(loopback_start)));

    let mut service_cidrs = Vec::new();
    match &env.service_cidrs {
        Some(list) => {
            for text in list {
                if let Some(c) = parse_cidr(
                    text,
                    env_pos(&path!["serviceCIDRs"]),
                    "serviceCIDRs entry",
                    &mut err,
                ) {
                    service_cidrs.push(c);
                }
            }
        }
        None => service_cidrs.push(Cidr::parse(DEFAULT_SERVICE_CIDR).unwrap()),
    }

    let interfaces = match &env_interfaces {
        Some(map) => {
            let mut out = Vec::new();
            for (name, addrs) in map {
                let list: Vec<String> = match addrs {
                    serde_json::Value::Array(a) => a
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect(),
                    serde_json::Value::String(s) => vec![s.clone()],
                    _ => Vec::new(),
                };
                let mut addresses = Vec::new();
                for a in list {
                    if let Some(c) = parse_cidr(
                        &a,
                        env_pos(&path!["interfaces", name.as_str()]),
                        "interface address",
                        &mut err,
                    ) {
                        // Keep the address itself, not the masked network.
                        let addr: Option<IpAddr> =
                            a.split('/').next().and_then(crate::net::parse_ip);
                        addresses.push(Cidr {
                            addr: addr.unwrap_or(c.addr),
                            ..c
                        });
                    }
                }
                out.push(Interface {
                    name: name.clone(),
                    addresses,
                });
            }
            out
        }
        None => {
            let mut lo = vec![Cidr::parse("127.0.0.1/8").unwrap()];
            lo[0].addr = "127.0.0.1".parse().unwrap();
            let mut out = vec![Interface {
                name: "lo".into(),
                addresses: lo,
            }];
            if let Some(ip) = node_ip {
                let len = if ip.is_ipv4() { 24 } else { 64 };
                out.push(Interface {
                    name: "eth0".into(),
                    addresses: vec![Cidr {
                        addr: ip,
                        len,
                        prefix: true,
                    }],
                });
            }
            out
        }
    };

    let counters = env.nfacct_counters.clone();
    let nfacct = NfacctCounters {
        ct_state_invalid_dropped_pkts: counters.as_ref().is_none_or(|c| {
            c.get("ct_state_invalid_dropped_pkts")
                .copied()
                .unwrap_or(false)
        }),
        localhost_nps_accepted_pkts: counters.as_ref().is_none_or(|c| {
            c.get("localhost_nps_accepted_pkts")
                .copied()
                .unwrap_or(false)
        }),
    };

    let version = match env.kube_proxy_version.as_deref() {
        None => DEFAULT_KUBE_PROXY_VERSION,
        Some(text) => Version::parse(text).unwrap_or_else(|| {
            err(
                env_pos(&path!["kubeProxyVersion"]),
                format!("kubeProxyVersion {text:?} is not a version like \"1.35\""),
            );
            DEFAULT_KUBE_PROXY_VERSION
        }),
    };

    let mut assumed = Vec::new();
    if env.kube_proxy_version.is_none() {
        assumed.push(format!(
            "kube-proxy {DEFAULT_KUBE_PROXY_VERSION} rule layout"
        ));
    }
    if env.nfacct_counters.is_none() {
        assumed.push("nfacct counters present".to_string());
    }
    if env.iptables_has_random_fully.is_none() {
        assumed.push("iptables with --random-fully".to_string());
    }
    if !assumed.is_empty() {
        note(
            notes,
            None,
            format!(
                "node facts not given (NodeEnvironment), assumed a current node: {}",
                assumed.join(", ")
            ),
        );
    }

    let ipvs = cfg.ipvs.clone().unwrap_or_default();
    let mut ipvs_exclude_cidrs = Vec::new();
    for text in ipvs.exclude_cidrs.iter().flatten() {
        if let Some(c) = parse_cidr(
            text,
            cfg_pos(&path!["ipvs", "excludeCIDRs"]),
            "excludeCIDRs entry",
            &mut err,
        ) {
            ipvs_exclude_cidrs.push(c);
        }
    }

    Settings {
        mode,
        node_name: node_name.to_string(),
        node_ip,
        ipv6,
        detect_local,
        cluster_cidr,
        node_port_addresses,
        masquerade_all,
        masquerade_bit,
        localhost_node_ports,
        service_cidrs,
        interfaces,
        nfacct,
        random_fully: env.iptables_has_random_fully.unwrap_or(true),
        tcp_be_liberal: env.conntrack_tcp_be_liberal.unwrap_or(false),
        topology_labels: env.topology_labels.clone().unwrap_or_default(),
        version,
        ipvs_scheduler: ipvs
            .scheduler
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "rr".into()),
        ipvs_strict_arp: ipvs.strict_arp.unwrap_or(false),
        ipvs_exclude_cidrs,
    }
}
