//! Anchors: one name for "this rule" shared by the views and the packet walks, so that the page
//! can light up, in whatever view is shown, the rule a walk is evaluating.

use crate::iptables::model::{TableName, Text};
use crate::proxy::Protocol;
use std::fmt;
use std::net::IpAddr;
use std::rc::Rc;

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

/// A view line's anchor. An iptables rule's is kept in parts, its chain's name shared with the
/// dataplane, and written out only when shown: a 10,000-Service view has 330,000 rule lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// [`iptables`]'s anchor.
    IptablesRule {
        table: TableName,
        chain: Text,
        index: u32,
    },
    /// Any other anchor, written.
    Written(Rc<str>),
}

impl Anchor {
    /// Whether this is the anchor `written` (as a walk names it).
    pub fn is(&self, written: &str) -> bool {
        match self {
            Anchor::IptablesRule {
                table,
                chain,
                index,
            } => written
                .strip_prefix("iptables ")
                .and_then(|s| s.strip_prefix(table.as_str()))
                .and_then(|s| s.strip_prefix(' '))
                .and_then(|s| s.strip_prefix(&**chain))
                .and_then(|s| s.strip_prefix(" #"))
                .is_some_and(|n| n.parse() == Ok(*index) && (n == "0" || !n.starts_with('0'))),
            Anchor::Written(w) => **w == *written,
        }
    }
}

impl From<String> for Anchor {
    fn from(written: String) -> Self {
        Anchor::Written(written.into())
    }
}

impl fmt::Display for Anchor {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Anchor::IptablesRule {
                table,
                chain,
                index,
            } => f.write_str(&iptables(table.as_str(), chain, *index as usize)),
            Anchor::Written(w) => f.write_str(w),
        }
    }
}

impl serde::Serialize for Anchor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_iptables_rule_anchor_is_the_walks_name_for_it() {
        let a = Anchor::IptablesRule {
            table: TableName::Nat,
            chain: "KUBE-SVC-X".into(),
            index: 10,
        };
        let written = iptables("nat", "KUBE-SVC-X", 10);
        assert_eq!(a.to_string(), written);
        assert!(a.is(&written));
        for other in [
            "iptables nat KUBE-SVC-X #1",
            "iptables nat KUBE-SVC-X #010",
            "iptables nat KUBE-SVC-X #10 ",
            "iptables filter KUBE-SVC-X #10",
            "iptables nat KUBE-SVC-XY #10",
            "nft KUBE-SVC-X #10",
        ] {
            assert!(!a.is(other), "{other}");
        }
        let zero = Anchor::IptablesRule {
            table: TableName::Nat,
            chain: "KUBE-SVC-X".into(),
            index: 0,
        };
        assert!(zero.is("iptables nat KUBE-SVC-X #0") && !zero.is("iptables nat KUBE-SVC-X #00"));
        let nft = Anchor::from(nft("services", 2));
        assert!(nft.is("nft services #2") && !nft.is("nft services #3"));
    }
}
