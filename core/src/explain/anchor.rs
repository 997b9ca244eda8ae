//! Anchors: one name for "this rule" shared by the views and the packet walks, so that the page
//! can light up, in whatever view is shown, the rule a walk is evaluating.

use crate::proxy::Protocol;
use std::net::IpAddr;

/// The `index`-th rule (from 0) of an iptables chain.
pub fn iptables(table: &str, chain: &str, index: usize) -> String {
    format!("iptables {table} {chain} #{index}")
}

/// The `index`-th rule of an nftables chain.
pub fn nft(chain: &str, index: usize) -> String {
    format!("nft {chain} #{index}")
}

/// An IPVS virtual server.
pub fn ipvs_virtual(protocol: Protocol, ip: IpAddr, port: u16) -> String {
    format!(
        "ipvs {} {}",
        protocol.upper(),
        crate::net::join_host_port(ip, port)
    )
}

/// A real server of an IPVS virtual server.
pub fn ipvs_real(
    protocol: Protocol,
    ip: IpAddr,
    port: u16,
    real_ip: IpAddr,
    real_port: u16,
) -> String {
    format!(
        "{} -> {}",
        ipvs_virtual(protocol, ip, port),
        crate::net::join_host_port(real_ip, real_port)
    )
}
