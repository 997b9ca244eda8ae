//! The rule language, explained: every token a reader meets in kpx's views, with a short
//! explanation. One table for the page's hovers and the CLI.

/// One entry: how it is spelled in the views, and what it means.
#[derive(Debug, PartialEq, Eq)]
pub struct Term {
    /// A stable identifier (for links and tests).
    pub key: &'static str,
    /// Spellings in the views. One ending in `-` is a prefix: `KUBE-SVC-` stands for every
    /// `KUBE-SVC-<hash>` chain.
    pub spellings: &'static [&'static str],
    pub text: &'static str,
}

macro_rules! terms {
    ($( $key:literal [$($spelling:literal),+] $text:literal ),+ $(,)?) => {
        /// Every term, in no particular order.
        pub const TERMS: &[Term] = &[ $( Term { key: $key, spellings: &[$($spelling),+], text: $text } ),+ ];
    };
}

terms! {
    // --- iptables: tables, built-in chains, kube-proxy's chains
    "nat" ["*nat"] "The nat table: rules consulted for the first packet of each connection; their DNAT / MASQUERADE decision is then applied by conntrack to every later packet.",
    "filter" ["*filter"] "The filter table: accepts, drops or rejects packets (kube-proxy uses it for Services without endpoints and for firewalls).",
    "COMMIT" ["COMMIT"] "Ends a table in iptables-restore input: everything above is applied to that table at once, atomically.",
    "PREROUTING" ["PREROUTING"] "Built-in hook for packets arriving from outside the node (from another host or from a pod's veth), before the routing decision.",
    "OUTPUT" ["OUTPUT"] "Built-in hook for packets sent by processes on the node itself (host-network clients).",
    "POSTROUTING" ["POSTROUTING"] "Built-in hook for every packet leaving after routing: where source NAT (MASQUERADE) happens.",
    "INPUT" ["INPUT"] "Built-in filter hook for packets addressed to the node itself.",
    "FORWARD" ["FORWARD"] "Built-in filter hook for packets the node routes onward (for example to a pod).",
    "KUBE-SERVICES" ["KUBE-SERVICES"] "kube-proxy's entry chain: one rule per Service IP and port, jumping to that Service's chain.",
    "KUBE-SVC" ["KUBE-SVC-"] "A Service port's chain (the name is a hash of namespace/name:port and protocol): it picks one endpoint with the random cascade.",
    "KUBE-SEP" ["KUBE-SEP-"] "Service EndPoint chain: one per endpoint; it DNATs the packet to that pod's IP and port.",
    "KUBE-EXT" ["KUBE-EXT-"] "External-traffic chain of a Service (NodePort, LoadBalancer, externalIPs): marks for masquerade when needed, then goes to KUBE-SVC or KUBE-SVL.",
    "KUBE-SVL" ["KUBE-SVL-"] "Service-Local chain: only this node's endpoints, for externalTrafficPolicy / internalTrafficPolicy Local.",
    "KUBE-FW" ["KUBE-FW-"] "Firewall chain of a LoadBalancer Service: only sources in loadBalancerSourceRanges get through; the rest are dropped.",
    "KUBE-XLB" ["KUBE-XLB-"] "Before kube-proxy 1.24: the chain for externalTrafficPolicy Local traffic, sending it only to local endpoints.",
    "KUBE-NODEPORTS" ["KUBE-NODEPORTS"] "Rules for NodePorts: traffic to any local address on a Service's nodePort.",
    "KUBE-MARK-MASQ" ["KUBE-MARK-MASQ"] "Marks the packet (ORs 0x4000 into its mark) so that KUBE-POSTROUTING masquerades it later: the reply must come back through this node to be un-NATed.",
    "KUBE-MARK-DROP" ["KUBE-MARK-DROP"] "Written by kubelet in older releases: marks the packet with 0x8000 so that KUBE-FIREWALL drops it.",
    "KUBE-POSTROUTING" ["KUBE-POSTROUTING"] "Returns unless the packet carries the 0x4000 mark; marked packets get their mark cleared and are masqueraded (source NAT to the node's address).",
    "KUBE-FORWARD" ["KUBE-FORWARD"] "Accepts forwarded packets kube-proxy marked, and replies of connections already tracked, even if the FORWARD policy is DROP.",
    "KUBE-FIREWALL" ["KUBE-FIREWALL"] "Drops what KUBE-MARK-DROP marked, and martian packets to 127.0.0.0/8 from outside.",
    "KUBE-PROXY-FIREWALL" ["KUBE-PROXY-FIREWALL"] "Filter chain for LoadBalancer source ranges (loadBalancerSourceRanges).",
    "KUBE-EXTERNAL-SERVICES" ["KUBE-EXTERNAL-SERVICES"] "Filter chain that rejects or drops external traffic to Services that have no usable endpoints.",
    "KUBE-PROXY-CANARY" ["KUBE-PROXY-CANARY"] "An empty chain kube-proxy watches: if it disappears, someone flushed the tables and kube-proxy resyncs.",
    "KUBE-KUBELET-CANARY" ["KUBE-KUBELET-CANARY"] "kubelet's canary chain, like KUBE-PROXY-CANARY.",
    "KUBE-NODE-PORT" ["KUBE-NODE-PORT"] "IPVS mode: the NodePort chain, driven by ipsets of node ports.",
    "KUBE-LOAD-BALANCER" ["KUBE-LOAD-BALANCER"] "IPVS mode: the chain (and the ipset) for LoadBalancer IPs.",
    "KUBE-IPVS-FILTER" ["KUBE-IPVS-FILTER"] "IPVS mode: rejects new connections to addresses on kube-ipvs0 that are not a Service's IP:port.",
    "KUBE-IPVS-OUT-FILTER" ["KUBE-IPVS-OUT-FILTER"] "IPVS mode: filter for the node's own connections to kube-ipvs0 addresses.",
    "KUBE-SOURCE-RANGES-FIREWALL" ["KUBE-SOURCE-RANGES-FIREWALL"] "IPVS mode: drops LoadBalancer traffic from sources outside loadBalancerSourceRanges.",
    // --- iptables: matches
    "-A" ["-A"] "Append: the rule goes at the end of the named chain. Rules are tried top to bottom.",
    "-j" ["-j"] "Jump: if every match of the rule holds, go to this chain or apply this target.",
    "comment" ["-m comment --comment", "/*"] "A comment kept with the rule (the Service it belongs to); it matches every packet.",
    "-d" ["-d"] "Destination address (with prefix length) the packet must be going to.",
    "-s" ["-s"] "Source address (with prefix length) the packet must come from.",
    "! -s" ["! -s"] "Negated source: the packet must NOT come from this range (here: not from the pod network, so from a node or outside).",
    "-p" ["-p"] "The protocol: tcp, udp or sctp.",
    "--dport" ["--dport", "dpt:"] "The destination port (`dpt:` in iptables -L, where /etc/services may name it: 8080 is `webcache`).",
    "statistic" ["-m statistic --mode random --probability", "statistic mode random probability"] "Random match: true with the given probability. A cascade of them spreads new connections evenly: 1/n, then 1/(n-1) of the rest, …, the last rule without a test.",
    "addrtype LOCAL" ["-m addrtype --dst-type LOCAL", "ADDRTYPE match dst-type LOCAL", "fib daddr type local"] "True when the destination is one of this node's own addresses: how NodePort rules catch traffic to any node IP.",
    "recent" ["-m recent", "recent: CHECK", "recent: SET"] "sessionAffinity ClientIP: `--set` remembers the client's address in a per-endpoint list; `--rcheck --seconds N` sends the client back to the endpoint that remembers it.",
    "--rcheck" ["--rcheck"] "Checks whether the source address is in the recent list (within `--seconds`): the client already has an endpoint.",
    "--set" ["--set"] "Adds the source address to the recent list named by `--name`.",
    "mark" ["-m mark --mark", "mark match"] "Matches the packet's mark (a 32-bit tag that lives only inside this node's kernel) under a mask.",
    "0x4000" ["0x4000/0x4000", "0x4000"] "Bit 14 of the packet mark: kube-proxy's \"masquerade me\" flag, set by KUBE-MARK-MASQ and read in KUBE-POSTROUTING.",
    "0x8000" ["0x8000/0x8000", "0x8000"] "Bit 15 of the packet mark: kubelet's \"drop me\" flag (KUBE-MARK-DROP).",
    "conntrack" ["-m conntrack --ctstate", "ctstate"] "Matches the connection-tracking state: NEW (first packet), ESTABLISHED / RELATED (later packets), INVALID.",
    "nfacct" ["-m nfacct --nfacct-name", "nfacct-name"] "Counts matching packets in a named kernel counter (kube-proxy's metrics); matches every packet.",
    "physdev" ["-m physdev ! --physdev-is-in"] "True when the packet did not come in through a bridge port.",
    "match-set" ["-m set --match-set", "match-set"] "IPVS mode: true when the packet's fields (dst = destination, src = source; address and port) are in the named ipset.",
    "ipvs match" ["-m ipvs", "vaddr"] "Matches packets IPVS is handling for the given virtual address, protocol and port.",
    // --- iptables: targets
    "DNAT" ["DNAT", "--to-destination"] "Destination NAT: rewrites the destination to the pod's IP:port. conntrack remembers it and rewrites the reply's source back.",
    "MASQUERADE" ["MASQUERADE"] "Source NAT to the address of the outgoing interface, so the reply comes back through this node to be un-NATed.",
    "--random-fully" ["--random-fully", "random-fully"] "Pick the source port fully at random when masquerading, avoiding port-collision races under load.",
    "MARK" ["MARK", "--set-xmark", "--or-mark", "--xor-mark"] "Changes the packet's mark: `--or-mark` sets bits, `--xor-mark` flips them, `--set-xmark value/mask` clears the mask's bits then XORs the value.",
    "REJECT" ["REJECT", "--reject-with icmp-port-unreachable", "icmp-port-unreachable"] "Refuse at once with an ICMP error (port unreachable): a Service with no endpoints answers \"connection refused\" instead of timing out.",
    "DROP" ["DROP"] "Discard silently: the client times out.",
    "ACCEPT" ["ACCEPT"] "Stop here and let the packet through.",
    "RETURN" ["RETURN"] "Go back to the rule after the jump that led into this chain.",
    // --- IPVS
    "kube-ipvs0" ["kube-ipvs0"] "A dummy interface that holds every Service IP, so the kernel treats them as local addresses and IPVS can take the packets.",
    "IPVS" ["IP Virtual Server"] "The kernel's layer-4 load balancer: each virtual server (Service IP:port) has real servers (endpoints) and a scheduler.",
    "Masq" ["Masq"] "Forwarding method masquerading (NAT): the destination is rewritten to the real server, as DNAT would.",
    "Weight" ["Weight"] "The real server's weight for weighted schedulers; kube-proxy sets 1 (0 for terminating endpoints).",
    "ActiveConn" ["ActiveConn"] "Connections to this real server that are established.",
    "InActConn" ["InActConn"] "Connections to this real server in any other state (closing, closed, or UDP).",
    "rr" ["rr"] "Round robin: real servers take new connections in turn.",
    "lc" ["lc"] "Least connection: the real server with the fewest connections gets the next one.",
    "sh" ["sh"] "Source hashing: the client address picks the real server.",
    "mh" ["mh"] "Maglev hashing: a consistent-hash table picks the real server.",
    "persistent" ["persistent"] "Persistence (sessionAffinity ClientIP): a client's connections stay with one real server for the given seconds.",
    "hash:ip,port" ["hash:ip,port"] "ipset type of (address, protocol:port) pairs: Service IPs with their ports.",
    "hash:ip,port,ip" ["hash:ip,port,ip"] "ipset type of (address, port, address) triples: the hairpin case, a pod reaching itself through its Service.",
    "hash:ip,port,net" ["hash:ip,port,net"] "ipset type of (address, port, source range) triples: LoadBalancer source ranges.",
    "bitmap:port" ["bitmap:port"] "ipset type of a port bitmap: node ports.",
    "hash:ip" ["hash:ip"] "ipset type of plain addresses.",
    // --- nftables
    "table ip kube-proxy" ["table ip kube-proxy", "table ip6 kube-proxy"] "kube-proxy's own nftables table: everything it programs lives here, separate from other software's rules.",
    "hook" ["hook"] "Where a base chain is attached to the kernel's packet path (prerouting, output, postrouting, input, forward), at the given priority.",
    "priority" ["priority dstnat", "priority srcnat", "priority filter"] "Order among base chains at the same hook: dstnat (-100) is where destination NAT happens, srcnat (100) source NAT.",
    "vmap" ["vmap"] "Verdict map: looks the packet's fields up in a map whose values are verdicts (goto a chain, drop…): one lookup instead of a rule per Service.",
    "service-ips" ["service-ips"] "The map from (Service IP . protocol . port) to that Service's chain.",
    "service-nodeports" ["service-nodeports"] "The map from (protocol . node port) to the Service's external chain.",
    "numgen" ["numgen random mod"] "Number generator: a random number from 0 to N-1 per new connection, looked up in the vmap to pick an endpoint chain; each gets 1/N.",
    "goto" ["goto"] "Continue in that chain and do not come back.",
    "jump" ["jump"] "Continue in that chain and come back afterwards.",
    "dnat to" ["dnat to"] "Destination NAT to the endpoint's address and port.",
    "masquerade" ["masquerade"] "Source NAT to the outgoing interface's address.",
    "meta mark set" ["meta mark set"] "Sets the packet mark (here ORing in 0x4000, kube-proxy's masquerade flag).",
    "ct state new" ["ct state new"] "Only the first packet of a connection.",
    "fully-random" ["fully-random"] "Fully random source ports when masquerading.",
    "ip daddr . meta l4proto . th dport" ["ip daddr . meta l4proto . th dport"] "The lookup key: destination address, protocol and destination port, concatenated.",
    // --- kubectl
    "ClusterIP" ["ClusterIP"] "A virtual IP reachable inside the cluster. No interface answers for it (except kube-ipvs0 in IPVS mode): kube-proxy's rules rewrite it on the way out.",
    "NodePort" ["NodePort"] "A port opened on every node's addresses that leads to the Service.",
    "LoadBalancer" ["LoadBalancer"] "A Service with an external load balancer's IP; kube-proxy also programs that IP so traffic to it short-cuts to the endpoints.",
}

/// The term with this key.
pub fn term(key: &str) -> Option<&'static Term> {
    TERMS.iter().find(|t| t.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_spellings_are_unique() {
        let mut keys = std::collections::HashSet::new();
        let mut spellings = std::collections::HashSet::new();
        for t in TERMS {
            assert!(keys.insert(t.key), "duplicate key {}", t.key);
            for s in t.spellings {
                assert!(spellings.insert(*s), "duplicate spelling {s}");
            }
        }
    }
}
