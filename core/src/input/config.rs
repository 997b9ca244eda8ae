//! kube-proxy's settings (`KubeProxyConfiguration`) and kpx's own `NodeEnvironment`.
//!
//! Only the fields that change what kube-proxy programs are read; the rest of a real
//! configuration file is accepted and ignored. Every field is optional here: `cluster::settings`
//! applies the defaults in one place and reports each one it applied.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// `kubeproxy.config.k8s.io/v1alpha1 KubeProxyConfiguration` (the fields kpx reads).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeProxyConfiguration {
    pub mode: Option<String>,
    /// `None`: not written (kpx assumes a typical cluster CIDR); `Some("")`: explicitly empty,
    /// i.e. no local-traffic detector.
    #[serde(rename = "clusterCIDR")]
    pub cluster_cidr: Option<String>,
    pub detect_local_mode: Option<String>,
    pub detect_local: Option<DetectLocal>,
    pub hostname_override: Option<String>,
    pub node_port_addresses: Option<Vec<String>>,
    pub iptables: Option<IptablesConfig>,
    pub ipvs: Option<IpvsConfig>,
    pub nftables: Option<NftablesConfig>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectLocal {
    pub bridge_interface: Option<String>,
    pub interface_name_prefix: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IptablesConfig {
    pub masquerade_all: Option<bool>,
    pub masquerade_bit: Option<i64>,
    pub localhost_node_ports: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IpvsConfig {
    pub scheduler: Option<String>,
    #[serde(rename = "strictARP")]
    pub strict_arp: Option<bool>,
    #[serde(rename = "excludeCIDRs")]
    pub exclude_cidrs: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NftablesConfig {
    pub masquerade_all: Option<bool>,
    pub masquerade_bit: Option<i64>,
}

/// `kpx/v1alpha1 NodeEnvironment`: facts of the node no Kubernetes object carries.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeEnvironment {
    pub node_name: Option<String>,
    /// `Some(None)`: written as `null`, i.e. kube-proxy was given no node IP.
    #[serde(rename = "nodeIP", default, deserialize_with = "explicit_null")]
    pub node_ip: Option<Option<String>>,
    pub ip_family: Option<String>,
    #[serde(rename = "serviceCIDRs", default, deserialize_with = "comma_list")]
    pub service_cidrs: Option<Vec<String>>,
    /// Interface name → addresses (CIDR or bare IP), in the order written.
    pub interfaces: Option<serde_json::Map<String, serde_json::Value>>,
    pub nfacct_counters: Option<BTreeMap<String, bool>>,
    pub iptables_has_random_fully: Option<bool>,
    #[serde(rename = "conntrackTCPBeLiberal")]
    pub conntrack_tcp_be_liberal: Option<bool>,
    pub topology_labels: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub kube_proxy_version: Option<String>,
}

fn explicit_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::<String>::deserialize(d)?))
}

/// `serviceCIDRs` is documented as a comma-separated string; a YAML list is accepted too.
fn comma_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(Option::<OneOrMany>::deserialize(d)?.map(|v| match v {
        OneOrMany::One(s) => s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        OneOrMany::Many(v) => v,
    }))
}

/// `kubeProxyVersion: "1.20"` is a string; an unambiguous YAML number (`1.35`) is accepted too.
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        // As a YAML number, 1.20 is read as 1.2: the trailing zero is gone, so ask for quotes
        // rather than guess.
        Some(serde_json::Value::Number(n)) => {
            let s = n.to_string();
            match s.split_once('.') {
                Some((_, minor)) if minor.len() >= 2 => Some(s),
                _ => {
                    return Err(serde::de::Error::custom(format!(
                        "kubeProxyVersion {s} is ambiguous as a YAML number (1.20 reads as 1.2); quote it: \"1.20\""
                    )))
                }
            }
        }
        Some(other) => {
            return Err(serde::de::Error::custom(format!(
                "kubeProxyVersion must be a version like \"1.35\", not {other}"
            )))
        }
    })
}
