//! Addresses and prefixes, printed the way kube-proxy (Go's `net` package) prints them.

use serde::Serialize;
use std::fmt::{self, Write as _};
use std::net::IpAddr;

/// Parses an address the way kube-proxy does (`netutils.ParseIPSloppy`): IPv4 octets may have
/// leading zeros and are read as decimal (`172.30.0.041` is 172.30.0.41), which Rust's strict
/// parser (like current kube-apiserver validation) refuses.
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(ip) = text.parse() {
        return Some(ip);
    }
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() != 4
        || parts
            .iter()
            .any(|p| p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mut octets = [0u8; 4];
    for (o, p) in octets.iter_mut().zip(&parts) {
        *o = p.parse().ok()?;
    }
    Some(IpAddr::from(octets))
}

/// Whether an address only parses sloppily (leading zeros), to warn the reader.
pub fn is_sloppy(text: &str) -> bool {
    let addr = text.trim().split('/').next().unwrap_or("");
    addr.parse::<IpAddr>().is_err() && parse_ip(addr).is_some()
}

/// An IP prefix such as `10.244.0.0/16`; a bare address is a /32 (or /128).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    pub addr: IpAddr,
    pub len: u8,
    /// Written as a prefix (`::1/128`) rather than as an address (`::1`): kube-proxy's text
    /// keeps the difference, the kernel does not.
    pub prefix: bool,
}

impl Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Cidr {
    pub fn host(addr: IpAddr) -> Self {
        Cidr {
            addr,
            len: max_len(addr),
            prefix: false,
        }
    }

    /// Parses `a.b.c.d/n` (masking host bits, as Go's `net.ParseCIDR` does) or a bare address.
    pub fn parse(text: &str) -> Option<Cidr> {
        let text = text.trim();
        match text.split_once('/') {
            None => parse_ip(text).map(Cidr::host),
            Some((a, l)) => {
                let addr: IpAddr = parse_ip(a)?;
                let len: u8 = l.parse().ok()?;
                (len <= max_len(addr)).then(|| Cidr {
                    addr: mask(addr, len),
                    len,
                    prefix: true,
                })
            }
        }
    }

    pub fn is_host(&self) -> bool {
        self.len == max_len(self.addr)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        same_family(self.addr, ip) && mask(ip, self.len) == self.addr
    }

    /// Number of addresses, saturating.
    pub fn size(&self) -> u128 {
        let bits = max_len(self.addr) - self.len;
        if bits >= 128 {
            u128::MAX
        } else {
            1u128 << bits
        }
    }

    /// The `i`-th address of the prefix.
    pub fn nth(&self, i: u128) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => IpAddr::V4((u32::from(a).wrapping_add(i as u32)).into()),
            IpAddr::V6(a) => IpAddr::V6((u128::from(a).wrapping_add(i)).into()),
        }
    }

    /// `a.b.c.d/n`, always with the length (iptables-save style).
    pub fn with_len(&self) -> String {
        format!("{}/{}", self.addr, self.len)
    }
}

/// Go's `net.IPNet.String()`: always with the prefix length.
impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

pub fn max_len(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

pub fn same_family(a: IpAddr, b: IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
}

fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = if len == 0 {
                0
            } else {
                u32::MAX << (32 - len as u32)
            };
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len as u32)
            };
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}

/// Go's `net.JoinHostPort`: `ip:port`, IPv6 in brackets. This is kube-proxy's endpoint string,
/// which decides endpoint order and SEP chain names.
pub fn join_host_port(ip: IpAddr, port: u16) -> String {
    let mut out = String::with_capacity(21);
    push_host_port(&mut out, ip, port);
    out
}

/// Appends [`join_host_port`]'s text.
pub fn push_host_port(out: &mut String, ip: IpAddr, port: u16) {
    match ip {
        IpAddr::V4(_) => push_ip(out, ip),
        IpAddr::V6(a) => {
            let _ = write!(out, "[{a}]");
        }
    }
    out.push(':');
    push_decimal(out, port.into());
}

/// Appends `ip` as its `Display` writes it, an IPv4 address without the formatting machinery
/// (a 10,000-Service sync writes some 200,000 of them).
pub fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => {
            for (i, octet) in a.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_decimal(out, octet.into());
            }
        }
        IpAddr::V6(a) => {
            let _ = write!(out, "{a}");
        }
    }
}

/// Appends `c` as its `Display` writes it (`addr/len`), without the formatting machinery.
pub fn push_cidr(out: &mut String, c: &Cidr) {
    push_ip(out, c.addr);
    out.push('/');
    push_decimal(out, c.len.into());
}

/// Appends `n` in decimal.
pub fn push_decimal(out: &mut String, n: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // ASCII digits: one copy, not a char at a time.
    out.push_str(std::str::from_utf8(&digits[at..]).expect("ASCII digits"));
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn addresses_and_numbers_are_written_as_display_writes_them(
            v4 in proptest::prelude::any::<std::net::Ipv4Addr>(),
            v6 in proptest::prelude::any::<std::net::Ipv6Addr>(),
            n in proptest::prelude::any::<u32>(),
            port in proptest::prelude::any::<u16>(),
        ) {
            for ip in [IpAddr::V4(v4), IpAddr::V6(v6)] {
                let mut out = String::new();
                push_ip(&mut out, ip);
                proptest::prop_assert_eq!(out, ip.to_string());
                let joined = match ip {
                    IpAddr::V4(a) => format!("{a}:{port}"),
                    IpAddr::V6(a) => format!("[{a}]:{port}"),
                };
                proptest::prop_assert_eq!(join_host_port(ip, port), joined);
            }
            let mut out = String::new();
            push_decimal(&mut out, n);
            proptest::prop_assert_eq!(out, n.to_string());
            let cidr = Cidr { addr: IpAddr::V4(v4), len: (n % 33) as u8, prefix: true };
            let mut out = String::new();
            push_cidr(&mut out, &cidr);
            proptest::prop_assert_eq!(out, cidr.to_string());
        }
    }

    #[test]
    fn parse_masks_host_bits_and_prints_like_go() {
        assert_eq!(
            Cidr::parse("10.244.1.7/16").unwrap().to_string(),
            "10.244.0.0/16"
        );
        assert_eq!(
            Cidr::parse(" 203.0.113.0/25").unwrap().to_string(),
            "203.0.113.0/25"
        );
        assert_eq!(Cidr::parse("1.2.3.4").unwrap().to_string(), "1.2.3.4/32");
        assert!(Cidr::parse("1.2.3.4/33").is_none());
        assert!(Cidr::parse("10.0.0.0/8")
            .unwrap()
            .contains("10.1.2.3".parse().unwrap()));
        assert!(!Cidr::parse("10.0.0.0/8")
            .unwrap()
            .contains("::1".parse().unwrap()));
        // kube-proxy's sloppy parsing: decimal octets with leading zeros.
        assert_eq!(
            Cidr::parse("203.0.113.000/025").unwrap().to_string(),
            "203.0.113.0/25"
        );
        assert_eq!(
            parse_ip("172.30.0.041"),
            Some("172.30.0.41".parse().unwrap())
        );
        assert!(
            parse_ip("1.2.3.256").is_none()
                && parse_ip("1.2.3").is_none()
                && parse_ip("1.2.3.0041").is_none()
        );
    }
}
