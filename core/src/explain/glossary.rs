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
    /// The same in Simplified Chinese (empty: not translated yet, English is shown).
    pub zh: &'static str,
}

impl Term {
    /// The explanation in a language (`zh` or English), falling back to English.
    pub fn text_in(&self, lang: &str) -> &'static str {
        if lang.starts_with("zh") && !self.zh.is_empty() {
            self.zh
        } else {
            self.text
        }
    }
}

macro_rules! terms {
    ($( $key:literal [$($spelling:literal),+] $text:literal zh $zh:literal ),+ $(,)?) => {
        /// Every term, in no particular order.
        pub const TERMS: &[Term] = &[ $( Term { key: $key, spellings: &[$($spelling),+], text: $text, zh: $zh } ),+ ];
    };
}

terms! {
    // --- iptables: tables, built-in chains, kube-proxy's chains
    "nat" ["*nat"] "The nat table: rules consulted for the first packet of each connection; their DNAT / MASQUERADE decision is then applied by conntrack to every later packet." zh "nat 表：每个连接的第一个数据包会查询其中的规则；规则做出的 DNAT / MASQUERADE 决定随后由 conntrack 应用到该连接的所有后续数据包。",
    "filter" ["*filter"] "The filter table: accepts, drops or rejects packets (kube-proxy uses it for Services without endpoints and for firewalls)." zh "filter 表：接受、丢弃或拒绝数据包（kube-proxy 用它处理没有 Endpoint 的 Service 以及防火墙）。",
    "COMMIT" ["COMMIT"] "Ends a table in iptables-restore input: everything above is applied to that table at once, atomically." zh "在 iptables-restore 的输入中结束一个表：上面的所有内容一次性、原子地应用到该表。",
    "PREROUTING" ["PREROUTING"] "Built-in hook for packets arriving from outside the node (from another host or from a pod's veth), before the routing decision." zh "内置钩子，处理从节点外部（其他主机或 Pod 的 veth）到达的数据包，位于路由决策之前。",
    "OUTPUT" ["OUTPUT"] "Built-in hook for packets sent by processes on the node itself (host-network clients)." zh "内置钩子，处理节点自身进程（使用主机网络的客户端）发出的数据包。",
    "POSTROUTING" ["POSTROUTING"] "Built-in hook for every packet leaving after routing: where source NAT (MASQUERADE) happens." zh "内置钩子，处理路由之后离开的每个数据包：源地址转换（MASQUERADE）就发生在这里。",
    "INPUT" ["INPUT"] "Built-in filter hook for packets addressed to the node itself." zh "内置 filter 钩子，处理目的地址为节点自身的数据包。",
    "FORWARD" ["FORWARD"] "Built-in filter hook for packets the node routes onward (for example to a pod)." zh "内置 filter 钩子，处理由节点继续转发的数据包（例如发往 Pod 的数据包）。",
    "KUBE-SERVICES" ["KUBE-SERVICES"] "kube-proxy's entry chain: one rule per Service IP and port, jumping to that Service's chain." zh "kube-proxy 的入口链：每个 Service IP 和端口一条规则，跳转到该 Service 的链。",
    "KUBE-SVC" ["KUBE-SVC-"] "A Service port's chain (the name is a hash of namespace/name:port and protocol): it picks one endpoint with the random cascade." zh "Service 端口的链（名称是 namespace/name:port 和协议的哈希）：通过随机级联规则选出一个 Endpoint。",
    "KUBE-SEP" ["KUBE-SEP-"] "Service EndPoint chain: one per endpoint; it DNATs the packet to that pod's IP and port." zh "Service EndPoint 链：每个 Endpoint 一条，把数据包 DNAT 到该 Pod 的 IP 和端口。",
    "KUBE-EXT" ["KUBE-EXT-"] "External-traffic chain of a Service (NodePort, LoadBalancer, externalIPs): marks for masquerade when needed, then goes to KUBE-SVC or KUBE-SVL." zh "Service 的外部流量链（NodePort、LoadBalancer、externalIPs）：需要时打上 masquerade 标记，然后转到 KUBE-SVC 或 KUBE-SVL。",
    "KUBE-SVL" ["KUBE-SVL-"] "Service-Local chain: only this node's endpoints, for externalTrafficPolicy / internalTrafficPolicy Local." zh "Service-Local 链：只包含本节点的 Endpoint，用于 externalTrafficPolicy / internalTrafficPolicy 为 Local 的情况。",
    "KUBE-FW" ["KUBE-FW-"] "Firewall chain of a LoadBalancer Service: only sources in loadBalancerSourceRanges get through; the rest are dropped." zh "LoadBalancer Service 的防火墙链：只有 loadBalancerSourceRanges 内的源地址能通过，其余的被丢弃。",
    "KUBE-XLB" ["KUBE-XLB-"] "Before kube-proxy 1.24: the chain for externalTrafficPolicy Local traffic, sending it only to local endpoints." zh "kube-proxy 1.24 之前：处理 externalTrafficPolicy Local 流量的链，只把流量发往本地 Endpoint。",
    "KUBE-NODEPORTS" ["KUBE-NODEPORTS"] "Rules for NodePorts: traffic to any local address on a Service's nodePort." zh "NodePort 的规则：匹配发往任一本地地址上 Service 的 nodePort 的流量。",
    "KUBE-MARK-MASQ" ["KUBE-MARK-MASQ"] "Marks the packet (ORs 0x4000 into its mark) so that KUBE-POSTROUTING masquerades it later: the reply must come back through this node to be un-NATed." zh "给数据包打标记（把 0x4000 按位或进它的 mark），让 KUBE-POSTROUTING 稍后对其做 masquerade：回包必须经过本节点才能还原 NAT。",
    "KUBE-MARK-DROP" ["KUBE-MARK-DROP"] "Written by kubelet in older releases: marks the packet with 0x8000 so that KUBE-FIREWALL drops it." zh "旧版本中由 kubelet 写入：给数据包打上 0x8000 标记，由 KUBE-FIREWALL 将其丢弃。",
    "KUBE-POSTROUTING" ["KUBE-POSTROUTING"] "Returns unless the packet carries the 0x4000 mark; marked packets get their mark cleared and are masqueraded (source NAT to the node's address)." zh "数据包不带 0x4000 标记则直接返回；带标记的数据包会被清除标记并做 masquerade（源地址转换为节点的地址）。",
    "KUBE-FORWARD" ["KUBE-FORWARD"] "Accepts forwarded packets kube-proxy marked, and replies of connections already tracked, even if the FORWARD policy is DROP." zh "即使 FORWARD 的默认策略是 DROP，也放行 kube-proxy 标记过的转发数据包，以及已被跟踪的连接的回包。",
    "KUBE-FIREWALL" ["KUBE-FIREWALL"] "Drops what KUBE-MARK-DROP marked, and martian packets to 127.0.0.0/8 from outside." zh "丢弃 KUBE-MARK-DROP 标记过的数据包，以及从外部发往 127.0.0.0/8 的异常（martian）数据包。",
    "KUBE-PROXY-FIREWALL" ["KUBE-PROXY-FIREWALL"] "Filter chain for LoadBalancer source ranges (loadBalancerSourceRanges)." zh "处理 LoadBalancer 源地址范围（loadBalancerSourceRanges）的 filter 链。",
    "KUBE-EXTERNAL-SERVICES" ["KUBE-EXTERNAL-SERVICES"] "Filter chain that rejects or drops external traffic to Services that have no usable endpoints." zh "filter 链：拒绝或丢弃发往没有可用 Endpoint 的 Service 的外部流量。",
    "KUBE-PROXY-CANARY" ["KUBE-PROXY-CANARY"] "An empty chain kube-proxy watches: if it disappears, someone flushed the tables and kube-proxy resyncs." zh "kube-proxy 监视的一条空链：如果它消失了，说明有人清空了表，kube-proxy 会重新同步。",
    "KUBE-KUBELET-CANARY" ["KUBE-KUBELET-CANARY"] "kubelet's canary chain, like KUBE-PROXY-CANARY." zh "kubelet 的金丝雀（canary）链，与 KUBE-PROXY-CANARY 类似。",
    "KUBE-NODE-PORT" ["KUBE-NODE-PORT"] "IPVS mode: the NodePort chain, driven by ipsets of node ports." zh "IPVS 模式：NodePort 链，依据节点端口的 ipset 进行匹配。",
    "KUBE-LOAD-BALANCER" ["KUBE-LOAD-BALANCER"] "IPVS mode: the chain (and the ipset) for LoadBalancer IPs." zh "IPVS 模式：处理 LoadBalancer IP 的链（以及同名 ipset）。",
    "KUBE-IPVS-FILTER" ["KUBE-IPVS-FILTER"] "IPVS mode: rejects new connections to addresses on kube-ipvs0 that are not a Service's IP:port." zh "IPVS 模式：拒绝发往 kube-ipvs0 上的地址、但又不是某个 Service 的 IP:port 的新连接。",
    "KUBE-IPVS-OUT-FILTER" ["KUBE-IPVS-OUT-FILTER"] "IPVS mode: filter for the node's own connections to kube-ipvs0 addresses." zh "IPVS 模式：过滤节点自身发往 kube-ipvs0 上地址的连接。",
    "KUBE-SOURCE-RANGES-FIREWALL" ["KUBE-SOURCE-RANGES-FIREWALL"] "IPVS mode: drops LoadBalancer traffic from sources outside loadBalancerSourceRanges." zh "IPVS 模式：丢弃源地址不在 loadBalancerSourceRanges 内的 LoadBalancer 流量。",
    // --- iptables: matches
    "-A" ["-A"] "Append: the rule goes at the end of the named chain. Rules are tried top to bottom." zh "Append（追加）：把规则添加到指定链的末尾。规则按从上到下的顺序逐条尝试。",
    "-j" ["-j"] "Jump: if every match of the rule holds, go to this chain or apply this target." zh "Jump（跳转）：如果规则的所有匹配条件都成立，就转到该链或执行该目标（target）。",
    "comment" ["-m comment --comment", "/*"] "A comment kept with the rule (the Service it belongs to); it matches every packet." zh "随规则一起保存的注释（它所属的 Service）；它匹配所有数据包。",
    "-d" ["-d"] "Destination address (with prefix length) the packet must be going to." zh "数据包必须发往的目的地址（带前缀长度）。",
    "-s" ["-s"] "Source address (with prefix length) the packet must come from." zh "数据包必须来自的源地址（带前缀长度）。",
    "! -s" ["! -s"] "Negated source: the packet must NOT come from this range (here: not from the pod network, so from a node or outside)." zh "源地址取反：数据包必须不来自该地址段（此处即不来自 Pod 网络，也就是来自节点或集群外部）。",
    "-p" ["-p"] "The protocol: tcp, udp or sctp." zh "协议：tcp、udp 或 sctp。",
    "--dport" ["--dport", "dpt:"] "The destination port (`dpt:` in iptables -L, where /etc/services may name it: 8080 is `webcache`)." zh "目的端口（在 iptables -L 中显示为 `dpt:`，并可能用 /etc/services 中的名称表示：8080 显示为 `webcache`）。",
    "statistic" ["-m statistic --mode random --probability", "statistic mode random probability"] "Random match: true with the given probability. A cascade of them spreads new connections evenly: 1/n, then 1/(n-1) of the rest, …, the last rule without a test." zh "随机匹配：以给定的概率成立。一连串这样的规则能把新连接均匀分散：先是 1/n，再是剩余部分的 1/(n-1)，……，最后一条规则不做判断。",
    "addrtype LOCAL" ["-m addrtype --dst-type LOCAL", "ADDRTYPE match dst-type LOCAL", "fib daddr type local"] "True when the destination is one of this node's own addresses: how NodePort rules catch traffic to any node IP." zh "当目的地址是本节点自己的地址之一时成立：NodePort 规则借此捕获发往任一节点 IP 的流量。",
    "recent" ["-m recent", "recent: CHECK", "recent: SET"] "sessionAffinity ClientIP: `--set` remembers the client's address in a per-endpoint list; `--rcheck --seconds N` sends the client back to the endpoint that remembers it." zh "sessionAffinity ClientIP（会话保持）：`--set` 把客户端地址记入每个 Endpoint 各自的列表；`--rcheck --seconds N` 把客户端送回记住它的那个 Endpoint。",
    "--rcheck" ["--rcheck"] "Checks whether the source address is in the recent list (within `--seconds`): the client already has an endpoint." zh "检查源地址是否在 recent 列表中（且在 `--seconds` 时间内）：说明该客户端已经有对应的 Endpoint。",
    "--set" ["--set"] "Adds the source address to the recent list named by `--name`." zh "把源地址加入由 `--name` 指定的 recent 列表。",
    "mark" ["-m mark --mark", "mark match"] "Matches the packet's mark (a 32-bit tag that lives only inside this node's kernel) under a mask." zh "按掩码匹配数据包的 mark（一个只存在于本节点内核中的 32 位标记）。",
    "0x4000" ["0x4000/0x4000", "0x4000"] "Bit 14 of the packet mark: kube-proxy's \"masquerade me\" flag, set by KUBE-MARK-MASQ and read in KUBE-POSTROUTING." zh "数据包 mark 的第 14 位：kube-proxy 的「请对我做 masquerade」标志，由 KUBE-MARK-MASQ 设置，在 KUBE-POSTROUTING 中读取。",
    "0x8000" ["0x8000/0x8000", "0x8000"] "Bit 15 of the packet mark: kubelet's \"drop me\" flag (KUBE-MARK-DROP)." zh "数据包 mark 的第 15 位：kubelet 的「请丢弃我」标志（KUBE-MARK-DROP）。",
    "conntrack" ["-m conntrack --ctstate", "ctstate"] "Matches the connection-tracking state: NEW (first packet), ESTABLISHED / RELATED (later packets), INVALID." zh "匹配连接跟踪状态：NEW（首个数据包）、ESTABLISHED / RELATED（后续数据包）、INVALID。",
    "nfacct" ["-m nfacct --nfacct-name", "nfacct-name"] "Counts matching packets in a named kernel counter (kube-proxy's metrics); matches every packet." zh "在一个具名的内核计数器中统计匹配的数据包（kube-proxy 的指标）；匹配所有数据包。",
    "physdev" ["-m physdev ! --physdev-is-in"] "True when the packet did not come in through a bridge port." zh "当数据包不是从网桥端口进入时成立。",
    "match-set" ["-m set --match-set", "match-set"] "IPVS mode: true when the packet's fields (dst = destination, src = source; address and port) are in the named ipset." zh "IPVS 模式：当数据包的字段（dst = 目的，src = 源；地址和端口）在指定的 ipset 中时成立。",
    "ipvs match" ["-m ipvs", "vaddr"] "Matches packets IPVS is handling for the given virtual address, protocol and port." zh "匹配 IPVS 正在为给定的虚拟地址、协议和端口处理的数据包。",
    // --- iptables: targets
    "DNAT" ["DNAT", "--to-destination"] "Destination NAT: rewrites the destination to the pod's IP:port. conntrack remembers it and rewrites the reply's source back." zh "目的地址转换：把目的地址改写为 Pod 的 IP:port。conntrack 会记住这次转换，并把回包的源地址改写回来。",
    "MASQUERADE" ["MASQUERADE"] "Source NAT to the address of the outgoing interface, so the reply comes back through this node to be un-NATed." zh "源地址转换为出接口的地址，使回包经过本节点返回并被还原 NAT。",
    "--random-fully" ["--random-fully", "random-fully"] "Pick the source port fully at random when masquerading, avoiding port-collision races under load." zh "做 masquerade 时完全随机地选择源端口，避免高负载下因端口冲突产生的竞争。",
    "MARK" ["MARK", "--set-xmark", "--or-mark", "--xor-mark"] "Changes the packet's mark: `--or-mark` sets bits, `--xor-mark` flips them, `--set-xmark value/mask` clears the mask's bits then XORs the value." zh "修改数据包的 mark：`--or-mark` 置位，`--xor-mark` 翻转位，`--set-xmark value/mask` 先清除掩码中的位，再异或上 value。",
    "REJECT" ["REJECT", "--reject-with icmp-port-unreachable", "icmp-port-unreachable"] "Refuse at once with an ICMP error (port unreachable): a Service with no endpoints answers \"connection refused\" instead of timing out." zh "立即以 ICMP 错误（端口不可达）拒绝：没有 Endpoint 的 Service 会返回「connection refused」，而不是让客户端等到超时。",
    "DROP" ["DROP"] "Discard silently: the client times out." zh "静默丢弃：客户端会等到超时。",
    "ACCEPT" ["ACCEPT"] "Stop here and let the packet through." zh "到此为止，放行数据包。",
    "RETURN" ["RETURN"] "Go back to the rule after the jump that led into this chain." zh "回到跳转进本链的那条规则之后的规则继续处理。",
    // --- IPVS
    "kube-ipvs0" ["kube-ipvs0"] "A dummy interface that holds every Service IP, so the kernel treats them as local addresses and IPVS can take the packets." zh "一个 dummy 网卡，所有 Service IP 都绑定在它上面，使内核把它们当作本地地址，IPVS 才能接管这些数据包。",
    "IPVS" ["IP Virtual Server"] "The kernel's layer-4 load balancer: each virtual server (Service IP:port) has real servers (endpoints) and a scheduler." zh "内核的四层负载均衡器：每个虚拟服务器（Service IP:port）有若干真实服务器（Endpoint）和一个调度算法。",
    "Masq" ["Masq"] "Forwarding method masquerading (NAT): the destination is rewritten to the real server, as DNAT would." zh "转发方式为伪装（NAT）：目的地址被改写为真实服务器的地址，效果与 DNAT 相同。",
    "Weight" ["Weight"] "The real server's weight for weighted schedulers; kube-proxy sets 1 (0 for terminating endpoints)." zh "真实服务器在加权调度算法中的权重；kube-proxy 设为 1（正在终止的 Endpoint 设为 0）。",
    "ActiveConn" ["ActiveConn"] "Connections to this real server that are established." zh "到该真实服务器的已建立连接数。",
    "InActConn" ["InActConn"] "Connections to this real server in any other state (closing, closed, or UDP)." zh "到该真实服务器、处于其他任何状态（正在关闭、已关闭或 UDP）的连接数。",
    "rr" ["rr"] "Round robin: real servers take new connections in turn." zh "轮询（Round robin）：真实服务器轮流接收新连接。",
    "lc" ["lc"] "Least connection: the real server with the fewest connections gets the next one." zh "最少连接（Least connection）：连接数最少的真实服务器接收下一个连接。",
    "sh" ["sh"] "Source hashing: the client address picks the real server." zh "源地址哈希（Source hashing）：由客户端地址决定真实服务器。",
    "mh" ["mh"] "Maglev hashing: a consistent-hash table picks the real server." zh "Maglev 哈希：由一致性哈希表选出真实服务器。",
    "persistent" ["persistent"] "Persistence (sessionAffinity ClientIP): a client's connections stay with one real server for the given seconds." zh "持久化（sessionAffinity ClientIP）：在给定的秒数内，一个客户端的连接始终落到同一个真实服务器上。",
    "hash:ip,port" ["hash:ip,port"] "ipset type of (address, protocol:port) pairs: Service IPs with their ports." zh "由（地址, 协议:端口）二元组构成的 ipset 类型：Service IP 及其端口。",
    "hash:ip,port,ip" ["hash:ip,port,ip"] "ipset type of (address, port, address) triples: the hairpin case, a pod reaching itself through its Service." zh "由（地址, 端口, 地址）三元组构成的 ipset 类型：用于 hairpin 场景，即 Pod 通过自己的 Service 访问自己。",
    "hash:ip,port,net" ["hash:ip,port,net"] "ipset type of (address, port, source range) triples: LoadBalancer source ranges." zh "由（地址, 端口, 源地址段）三元组构成的 ipset 类型：LoadBalancer 的源地址范围。",
    "bitmap:port" ["bitmap:port"] "ipset type of a port bitmap: node ports." zh "端口位图类型的 ipset：节点端口（node port）。",
    "hash:ip" ["hash:ip"] "ipset type of plain addresses." zh "由普通地址构成的 ipset 类型。",
    // --- nftables
    "table ip kube-proxy" ["table ip kube-proxy", "table ip6 kube-proxy"] "kube-proxy's own nftables table: everything it programs lives here, separate from other software's rules." zh "kube-proxy 自己的 nftables 表：它编写的所有规则都在这里，与其他软件的规则相互隔离。",
    "hook" ["hook"] "Where a base chain is attached to the kernel's packet path (prerouting, output, postrouting, input, forward), at the given priority." zh "基础链挂接到内核数据包路径上的位置（prerouting、output、postrouting、input、forward），并带有给定的优先级。",
    "priority" ["priority dstnat", "priority srcnat", "priority filter"] "Order among base chains at the same hook: dstnat (-100) is where destination NAT happens, srcnat (100) source NAT." zh "同一钩子上各基础链的先后顺序：dstnat（-100）是做目的地址转换的位置，srcnat（100）是做源地址转换的位置。",
    "vmap" ["vmap"] "Verdict map: looks the packet's fields up in a map whose values are verdicts (goto a chain, drop…): one lookup instead of a rule per Service." zh "判决映射（verdict map）：用数据包的字段查一张值为判决（goto 某条链、drop……）的映射表：一次查找代替每个 Service 一条规则。",
    "service-ips" ["service-ips"] "The map from (Service IP . protocol . port) to that Service's chain." zh "从（Service IP . 协议 . 端口）到该 Service 的链的映射。",
    "service-nodeports" ["service-nodeports"] "The map from (protocol . node port) to the Service's external chain." zh "从（协议 . 节点端口）到该 Service 的外部链的映射。",
    "numgen" ["numgen random mod"] "Number generator: a random number from 0 to N-1 per new connection, looked up in the vmap to pick an endpoint chain; each gets 1/N." zh "数字生成器：为每个新连接生成 0 到 N-1 之间的随机数，再在 vmap 中查找以选出一条 Endpoint 链；每条链各占 1/N。",
    "goto" ["goto"] "Continue in that chain and do not come back." zh "转到该链继续处理，且不再返回。",
    "jump" ["jump"] "Continue in that chain and come back afterwards." zh "转到该链继续处理，处理完后返回。",
    "dnat to" ["dnat to"] "Destination NAT to the endpoint's address and port." zh "目的地址转换为 Endpoint 的地址和端口。",
    "masquerade" ["masquerade"] "Source NAT to the outgoing interface's address." zh "源地址转换为出接口的地址。",
    "meta mark set" ["meta mark set"] "Sets the packet mark (here ORing in 0x4000, kube-proxy's masquerade flag)." zh "设置数据包的 mark（此处是按位或上 0x4000，即 kube-proxy 的 masquerade 标志）。",
    "ct state new" ["ct state new"] "Only the first packet of a connection." zh "只匹配连接的第一个数据包。",
    "fully-random" ["fully-random"] "Fully random source ports when masquerading." zh "做 masquerade 时使用完全随机的源端口。",
    "ip daddr . meta l4proto . th dport" ["ip daddr . meta l4proto . th dport"] "The lookup key: destination address, protocol and destination port, concatenated." zh "查找键：目的地址、协议和目的端口拼接而成。",
    // --- kubectl
    "ClusterIP" ["ClusterIP"] "A virtual IP reachable inside the cluster. No interface answers for it (except kube-ipvs0 in IPVS mode): kube-proxy's rules rewrite it on the way out." zh "集群内部可访问的虚拟 IP。没有任何网卡响应它（IPVS 模式下的 kube-ipvs0 除外）：数据包发出时由 kube-proxy 的规则改写其目的地址。",
    "NodePort" ["NodePort"] "A port opened on every node's addresses that leads to the Service." zh "在每个节点的地址上开放、通往该 Service 的端口。",
    "LoadBalancer" ["LoadBalancer"] "A Service with an external load balancer's IP; kube-proxy also programs that IP so traffic to it short-cuts to the endpoints." zh "带有外部负载均衡器 IP 的 Service；kube-proxy 也会为该 IP 编写规则，使发往它的流量直接转到 Endpoint。",
}

/// The term with this key.
pub fn term(key: &str) -> Option<&'static Term> {
    TERMS.iter().find(|t| t.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_term_is_explained_in_chinese_too() {
        let missing: Vec<&str> = TERMS
            .iter()
            .filter(|t| t.zh.trim().is_empty())
            .map(|t| t.key)
            .collect();
        assert!(missing.is_empty(), "no Chinese for {missing:?}");
        assert_eq!(
            term("DNAT").unwrap().text_in("zh-CN"),
            term("DNAT").unwrap().zh
        );
        assert_eq!(
            term("DNAT").unwrap().text_in("en"),
            term("DNAT").unwrap().text
        );
    }

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
