//! kube-proxy's chain and set names, for every mode: the one place where they are computed.
//!
//! `portProtoHash` = first 16 characters of base32(sha256(servicePortName + protocol)); the
//! SEP hash adds the endpoint string. The same suffix is shared by SVC/SVL/EXT/FW of a port.

use data_encoding::BASE32;
use sha2::{Digest, Sha256};

/// The first 16 characters of base32(sha256(the parts, concatenated)). They encode the digest's
/// first 10 bytes exactly (5 bytes per 8 characters), so only those are encoded, on the stack:
/// a 10,000-Service sync names 100,000 endpoint chains.
fn hash16(parts: &[&str]) -> [u8; 16] {
    let mut sha = Sha256::new();
    for part in parts {
        sha.update(part.as_bytes());
    }
    let mut out = [0; 16];
    BASE32.encode_mut(&sha.finalize()[..10], &mut out);
    out
}

/// `prefix` followed by a [`hash16`].
fn prefixed(prefix: &str, hash: [u8; 16]) -> String {
    let mut name = String::with_capacity(prefix.len() + hash.len());
    name.push_str(prefix);
    // Base32's alphabet is ASCII.
    name.extend(hash.iter().map(|&b| b as char));
    name
}

/// `portProtoHash(spn, proto)`; `proto` lowercase.
pub fn port_proto_hash(spn: &str, proto: &str) -> String {
    prefixed("", hash16(&[spn, proto]))
}

pub fn svc_chain(spn: &str, proto: &str) -> String {
    prefixed("KUBE-SVC-", hash16(&[spn, proto]))
}
pub fn svl_chain(spn: &str, proto: &str) -> String {
    prefixed("KUBE-SVL-", hash16(&[spn, proto]))
}
pub fn ext_chain(spn: &str, proto: &str) -> String {
    prefixed("KUBE-EXT-", hash16(&[spn, proto]))
}
pub fn fw_chain(spn: &str, proto: &str) -> String {
    prefixed("KUBE-FW-", hash16(&[spn, proto]))
}
/// Old releases' external-traffic-policy chain.
pub fn xlb_chain(spn: &str, proto: &str) -> String {
    prefixed("KUBE-XLB-", hash16(&[spn, proto]))
}

/// `servicePortEndpointChainName(spn, proto, "ip:port")`.
pub fn sep_chain(spn: &str, proto: &str, endpoint: &str) -> std::rc::Rc<str> {
    // One allocation, the shared name itself: a 10,000-Service cluster names 100,000 of these.
    const PREFIX: &[u8] = b"KUBE-SEP-";
    let mut name = [0; PREFIX.len() + 16];
    name[..PREFIX.len()].copy_from_slice(PREFIX);
    name[PREFIX.len()..].copy_from_slice(&hash16(&[spn, proto, endpoint]));
    std::str::from_utf8(&name).expect("ASCII").into()
}

/// nftables mode's `hashAndTruncate`: `BASE32(SHA256(name))[:8] + "-" + name`, cut to 237
/// characters plus `...` when longer than 240.
fn nft_hash_and_truncate(name: &str) -> String {
    // The first 8 base32 characters encode the digest's first 5 bytes exactly.
    let mut hash = [0; 8];
    BASE32.encode_mut(&Sha256::digest(name.as_bytes())[..5], &mut hash);
    let mut full = String::with_capacity(hash.len() + 1 + name.len());
    // Base32's alphabet is ASCII.
    full.extend(hash.iter().map(|&b| b as char));
    full.push('-');
    full.push_str(name);
    if full.len() > 240 {
        let mut cut = 237;
        while !full.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}...", &full[..cut])
    } else {
        full
    }
}

/// `ns/svc/proto/portName`, the base of a service port's nftables names.
pub fn nft_service_port_base(namespace: &str, name: &str, proto: &str, port_name: &str) -> String {
    nft_hash_and_truncate(&format!("{namespace}/{name}/{proto}/{port_name}"))
}

/// `ns/svc/proto/portName__ip/port` (IPv6 `:` written as `.`), an endpoint's nftables name base.
pub fn nft_endpoint_base(
    namespace: &str,
    name: &str,
    proto: &str,
    port_name: &str,
    ip: std::net::IpAddr,
    port: u16,
) -> String {
    let mut base = String::with_capacity(64);
    for part in [namespace, "/", name, "/", proto, "/", port_name, "__"] {
        base.push_str(part);
    }
    match ip {
        std::net::IpAddr::V4(_) => crate::net::push_ip(&mut base, ip),
        std::net::IpAddr::V6(_) => base.push_str(&ip.to_string().replace(':', ".")),
    }
    base.push('/');
    crate::net::push_decimal(&mut base, port.into());
    nft_hash_and_truncate(&base)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The examples the spec quotes from kube-proxy's tests and the article.
    #[test]
    fn names_match_kube_proxy() {
        assert_eq!(port_proto_hash("ns1/svc1:p80", "tcp"), "XPGD46QRK7WJZT7O");
        assert_eq!(port_proto_hash("ns1/svc1", "tcp"), "AQI2S6QIMU7PVVRP");
        assert_eq!(
            &*sep_chain("ns1/svc1:p80", "tcp", "10.180.0.1:80"),
            "KUBE-SEP-SXIVWICOYRO3J4NJ"
        );
        assert_eq!(
            svc_chain("default/nginx", "tcp"),
            "KUBE-SVC-2CMXP7HKUVJN7L6M"
        );
        assert_eq!(
            svc_chain("default/kubernetes:https", "tcp"),
            "KUBE-SVC-NPX46M4PTMTKRN6Y"
        );
        assert_eq!(
            svc_chain("kube-system/kube-dns:dns", "udp"),
            "KUBE-SVC-TCOU7JCQXEZGVUNU"
        );
    }

    #[test]
    fn nftables_names_match_kube_proxy() {
        assert_eq!(
            nft_service_port_base("ns1", "svc1", "tcp", "p80"),
            "ULMVA6XW-ns1/svc1/tcp/p80"
        );
        let ip = "10.180.0.1".parse().unwrap();
        assert_eq!(
            nft_endpoint_base("ns1", "svc1", "tcp", "p80", ip, 80),
            "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
        );
    }
}
