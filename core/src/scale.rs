//! The scaling model, measured on generated dataplanes (not formulas): for S Services × E
//! endpoints, how many rules each table holds, how big kube-proxy's payload is, and how many
//! rules the first packet of a connection is checked against.

use crate::cluster::settings::Mode;
use crate::proxy::Protocol;
use crate::trace::rng::Rng;
use crate::trace::session::walk_in;
use crate::trace::{Origin, Packet, State};
use crate::views::{analyze, Request as ViewRequest};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Clone, Debug, Serialize)]
pub struct FirstPacket {
    pub mean: f64,
    pub max: usize,
    /// How many Services' ClusterIPs were walked to measure it (evenly spread, the last one,
    /// the worst placed, always included).
    pub sampled: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Scale {
    pub mode: Mode,
    pub services: usize,
    pub endpoints: usize,
    /// Rules (iptables: per table; nftables: rules and map/set elements; IPVS: the iptables
    /// rules per table and the virtual and real servers).
    pub rules: BTreeMap<String, usize>,
    /// Bytes of what kube-proxy hands the kernel in one full sync (iptables-restore input, or
    /// the nftables transaction).
    pub restore_bytes: usize,
    /// Rules evaluated by the first packet from the node to a ClusterIP (nftables: rules, a
    /// verdict-map lookup counting as one; IPVS: the iptables rules, not IPVS's hash lookup).
    pub first_packet_rules: Option<FirstPacket>,
}

/// `services` NodePort Services with `endpoints` ready endpoints each, over two nodes — the
/// article's case is 2,000 × 10. The NodePort range holds 2,768 ports: Services beyond that
/// are ClusterIP Services.
pub fn generate(services: usize, endpoints: usize, mode: Mode) -> String {
    let mut y = format!(
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: {}\nhostnameOverride: node-a\nclusterCIDR: 10.244.0.0/16\n---\napiVersion: kpx/v1alpha1\nkind: NodeEnvironment\nserviceCIDRs: 10.96.0.0/12\n",
        mode.as_str()
    );
    for s in 0..services {
        let ip = 0x0a60_0000u32 + 2 + s as u32; // 10.96.0.2 onwards
        let ip = std::net::Ipv4Addr::from(ip);
        // The NodePort range holds 2,768 ports; Services beyond that are ClusterIP only.
        let (ty, node_port) = if s < 2768 {
            ("NodePort", format!(", nodePort: {}", 30000 + s))
        } else {
            ("ClusterIP", String::new())
        };
        write!(
            y,
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: svc{s}, namespace: scale}}\nspec:\n  type: {ty}\n  clusterIP: {ip}\n  ports:\n  - {{name: http, port: 80{node_port}}}\n"
        )
        .unwrap();
        write!(y, "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: svc{s}-1, namespace: scale, labels: {{kubernetes.io/service-name: svc{s}}}}}\naddressType: IPv4\nports: [{{name: http, port: 8080}}]\nendpoints:\n").unwrap();
        for e in 0..endpoints {
            let n = (s * endpoints + e) as u32;
            let ip = std::net::Ipv4Addr::from(0x0af4_0000u32 + 2 + n); // 10.244.0.2 onwards
            writeln!(
                y,
                "- {{addresses: [{ip}], nodeName: node-{}}}",
                if e % 2 == 0 { "a" } else { "b" }
            )
            .unwrap();
        }
    }
    y
}

pub fn measure(services: usize, endpoints: usize, mode: Mode) -> Result<Scale, String> {
    let text = generate(services, endpoints, mode);
    let a = analyze(&text).map_err(|e| e.to_string())?;
    let view = |v: &str| {
        a.render(&ViewRequest {
            mode: Some(mode),
            view: Some(v.into()),
            ..Default::default()
        })
    };
    let mut rules = BTreeMap::new();
    let restore_bytes = match mode {
        Mode::Iptables | Mode::Ipvs => {
            let dp = if mode == Mode::Ipvs {
                &a.ipvs().iptables
            } else {
                a.iptables().as_ref().map_err(Clone::clone)?
            };
            for t in &dp.tables {
                let n: usize = t
                    .chains
                    .iter()
                    .filter(|c| c.kind == crate::iptables::model::ChainKind::KubeProxy)
                    .map(|c| c.rules.len())
                    .sum();
                rules.insert(t.name.as_str().to_string(), n);
            }
            if mode == Mode::Ipvs {
                rules.insert("virtual_servers".into(), a.ipvs().services.len());
                rules.insert(
                    "real_servers".into(),
                    a.ipvs().services.iter().map(|v| v.reals.len()).sum(),
                );
                rules.insert(
                    "ipset_entries".into(),
                    a.ipvs().ipsets.iter().map(|s| s.entries.len()).sum(),
                );
            }
            view("restore")?.len()
        }
        Mode::Nftables => {
            let t = &a.nftables();
            rules.insert("rules".into(), t.chains.iter().map(|c| c.rules.len()).sum());
            rules.insert("chains".into(), t.chains.len());
            rules.insert(
                "elements".into(),
                t.maps.iter().map(|m| m.elements.len()).sum::<usize>()
                    + t.sets.iter().map(|s| s.elements.len()).sum::<usize>(),
            );
            view("nft")?.len()
        }
    };
    let first_packet_rules = if services > 0 {
        let hosts = BTreeMap::new();
        let src = a
            .cluster
            .settings
            .node_ip
            .ok_or("the generated node has no IP")?;
        let samples = services.min(25);
        let mut picks: Vec<usize> = (0..samples).map(|k| k * services / samples).collect();
        picks.push(services - 1);
        picks.dedup();
        let mut counts = Vec::new();
        for s in &picks {
            let dst =
                std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0a60_0000u32 + 2 + *s as u32));
            let packet = Packet {
                protocol: Protocol::Tcp,
                src,
                sport: 40000,
                dst,
                dport: 80,
                mark: 0,
                in_interface: None,
                bridged: false,
            };
            let t = walk_in(
                &a,
                mode,
                true,
                &hosts,
                &Origin::Node,
                packet,
                &mut Rng::new(*s as u64),
                &mut State::default(),
            )?;
            counts.push(t.steps.iter().filter(|st| st.rule.is_some()).count());
        }
        Some(FirstPacket {
            mean: counts.iter().sum::<usize>() as f64 / counts.len() as f64,
            max: counts.iter().copied().max().unwrap_or(0),
            sampled: counts.len(),
        })
    } else {
        None
    };
    Ok(Scale {
        mode,
        services,
        endpoints,
        rules,
        restore_bytes,
        first_packet_rules,
    })
}
