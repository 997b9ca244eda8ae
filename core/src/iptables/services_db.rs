//! Port names as `iptables -L` prints them without `-n` (`getservbyport`), from Debian's
//! netbase `/etc/services`, embedded so the result does not depend on the machine.

const ETC_SERVICES: &str = include_str!("etc-services");

/// The first name `/etc/services` gives for `port/proto`.
pub fn port_name(port: u16, proto: &str) -> Option<&'static str> {
    ETC_SERVICES.lines().find_map(|line| {
        let line = line.split('#').next()?;
        let mut fields = line.split_whitespace();
        let name = fields.next()?;
        let (p, pr) = fields.next()?.split_once('/')?;
        (pr == proto && p.parse::<u16>().ok()? == port).then_some(name)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn well_known_ports() {
        assert_eq!(super::port_name(8080, "tcp"), Some("webcache"));
        assert_eq!(super::port_name(443, "tcp"), Some("https"));
        assert_eq!(super::port_name(53, "udp"), Some("domain"));
        assert_eq!(super::port_name(9153, "tcp"), None);
    }
}
