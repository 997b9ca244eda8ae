//! Port names as `iptables -L` prints them without `-n` (`getservbyport`), from Debian's
//! netbase `/etc/services`, embedded so the result does not depend on the machine.

const ETC_SERVICES: &str = include_str!("etc-services");

/// The first name `/etc/services` gives for `port/proto`.
pub fn port_name(port: u16, proto: &str) -> Option<&'static str> {
    // Read once into an index: a list of a large cluster looks up two ports per rule, and
    // reading the file's 361 lines for each was most of `iptables -L` at 44,125 Services.
    static BY_PORT: std::sync::OnceLock<std::collections::HashMap<(u16, &str), &str>> =
        std::sync::OnceLock::new();
    let by_port = BY_PORT.get_or_init(|| {
        let mut by_port = std::collections::HashMap::new();
        for line in ETC_SERVICES.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_whitespace();
            let (Some(name), Some(port_proto)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Some((port, proto)) = port_proto.split_once('/') else {
                continue;
            };
            if let Ok(port) = port.parse::<u16>() {
                by_port.entry((port, proto)).or_insert(name);
            }
        }
        by_port
    });
    by_port.get(&(port, proto)).copied()
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
