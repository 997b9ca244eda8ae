//! The page's two languages: English, and Simplified Chinese (the language of the article kpx
//! grows from). UI strings are written in English in the code and looked up here; a test
//! (tests/browser/run.py, `test_every_ui_string_is_translated`) checks that every string the
//! code passes to `t` / `tf` has its translation. Scenario explanations carry their own
//! Chinese (scenarios.rs); the glossary's is in kpx-core.

use yew::prelude::*;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.to_ascii_lowercase();
        if s.starts_with("zh") {
            Some(Lang::Zh)
        } else if s.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }
    /// The BCP 47 tag, for `<html lang>`, links and kpx-core's `text_in`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }
}

/// The language the page is shown in (provided by the App).
#[hook]
pub fn use_lang() -> Lang {
    use_context::<Lang>().unwrap_or_default()
}

/// `en` in the language.
pub fn t(lang: Lang, en: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Zh => ZH.iter().find(|(e, _)| *e == en).map_or(en, |(_, zh)| zh),
    }
}

/// A template with `{}` holes, in the language, filled in order.
pub fn tf(lang: Lang, en: &'static str, args: &[&dyn std::fmt::Display]) -> String {
    let template = t(lang, en);
    let mut out = String::with_capacity(template.len() + 16);
    let mut args = args.iter();
    let mut rest = template;
    while let Some(at) = rest.find("{}") {
        out.push_str(&rest[..at]);
        if let Some(a) = args.next() {
            out.push_str(&a.to_string());
        }
        rest = &rest[at + 2..];
    }
    out.push_str(rest);
    out
}

const ZH: &[(&str, &str)] = &[
    ("This text is {} MB, more than the browser's text box can take quickly: it is shown read-only.", "这段文本有 {} MB，超出了浏览器文本框能流畅处理的大小：以只读方式显示。"),
    ("A paste (Ctrl+V) replaces it; Download YAML saves it.", "粘贴（Ctrl+V）可替换它；“下载 YAML”可保存它。"),
    ("Edit the cluster; see exactly what kube-proxy programs on the node.", "编辑集群，看清 kube-proxy 在节点上究竟写入了什么。"),
    ("Copy link", "复制链接"),
    ("Link to this state", "指向当前状态的链接"),
    ("Link copied", "链接已复制"),
    ("This link could not be opened: {}. Showing your last work instead.", "无法打开此链接：{}。现在显示的是你上次的内容。"),
    ("You opened a link, so the editor shows its text. Your own text from before is kept.", "你打开了一个链接，编辑器里现在是链接中的内容。你之前的内容已保留。"),
    ("Bring back my text", "恢复我的内容"),
    ("Another kpx tab has just saved different text. This tab keeps its own, and both are kept.", "另一个 kpx 标签页刚刚保存了不同的内容。本标签页保留自己的内容，两份都已保存。"),
    ("Load the other tab's text", "载入另一个标签页的内容"),
    ("Dismiss", "关闭提示"),
    ("Cluster YAML", "集群 YAML"),
    ("Load a scenario", "加载场景"),
    ("Load a scenario…", "加载场景…"),
    ("Reset", "重置"),
    ("Back to the scenario's original text", "恢复场景的原始文本"),
    ("Download YAML", "下载 YAML"),
    ("Too large for a link: Download YAML shares it.", "太大，无法放进链接：请用“下载 YAML”分享。"),
    ("This text is too large for the browser to keep: a reload would lose it. Download YAML keeps it.", "文本太大，浏览器无法保存：重新加载会丢失它。请用“下载 YAML”保存。"),
    ("Save the YAML as a file", "把 YAML 保存为文件"),
    ("On the command line: ", "命令行："),
    ("What kube-proxy programs", "kube-proxy 写入的内容"),
    ("Node", "节点"),
    ("Compare with", "对比"),
    ("nothing", "不对比"),
    ("{} mode", "{} 模式"),
    ("-A (all namespaces)", "-A（所有命名空间）"),
    ("showing the last valid input", "显示的是上一次有效的输入"),
    ("analysing the new text…", "正在分析新的文本……"),
    ("making the view…", "正在生成视图……"),
    ("Mode", "模式"),
    ("Compared mode", "对比模式"),
    ("Views", "视图"),
    ("Explanations, packet walk and charts", "解释、数据包路径与图表"),
    ("Why this line", "这一行的来由"),
    ("Packet walk", "数据包路径"),
    ("Charts", "图表"),
    ("What kpx assumed or derived ({})", "kpx 假定或推导出的内容（{}）"),
    ("Point at a line (or click it, then use ↑ ↓) to see why it exists, which YAML made it, and what its words mean.", "把鼠标指向某一行（或点击后用 ↑ ↓ 移动），查看它为什么存在、由哪段 YAML 产生、其中每个词是什么意思。"),
    ("Why: ", "来由："),
    ("Written at ", "写在 "),
    ("lines {}–{}", "第 {}–{} 行"),
    ("Odds: ", "概率："),
    ("Your last edit: {} added, {} removed in this view", "你上一次的修改：本视图新增 {} 行，删除 {} 行"),
    ("… and {} more", "……还有 {} 项"),
    ("line {}, col {}: ", "第 {} 行第 {} 列："),
    ("Replace your text with this scenario? Your edits will be lost.", "用这个场景替换你的文本吗？你的修改将会丢失。"),
    ("Go back to the scenario's original text? Your edits will be lost.", "恢复场景的原始文本吗？你的修改将会丢失。"),
    ("{} — {} (↑ ↓ to step through lines)", "{} — {}（用 ↑ ↓ 逐行查看）"),
    ("From", "从"),
    ("to", "到"),
    ("Packet controls", "数据包控制"),
    ("Back to the first step", "回到第一步"),
    ("◀ Back", "◀ 后退"),
    ("Pause", "暂停"),
    ("Play ▶", "播放 ▶"),
    ("Step ▶", "前进 ▶"),
    ("Speed", "速度"),
    ("New connection", "新连接"),
    ("Another connection: new random draws", "另一个连接：重新随机抽取"),
    ("Same connection: next packet", "同一连接：下一个数据包"),
    ("The connection's next packet: conntrack already knows it", "连接的下一个数据包：conntrack 已经记录了这个连接"),
    ("step {} of {}", "第 {} 步，共 {} 步"),
    ("{} mode — packet {} of the connection{}", "{} 模式 — 连接的第 {} 个数据包{}"),
    ("reply ", "回包 "),
    ("packet ", "数据包 "),
    ("sent as ", "发出时为 "),
    ("because {}", "因为 {}"),
    ("packet 1: a new connection", "数据包 1：新连接"),
    ("packet 2: the same connection", "数据包 2：同一连接"),
    ("DNAT: destination {} → {}", "DNAT：目的地址 {} → {}"),
    ("MASQUERADE: source {} → {}", "MASQUERADE：源地址 {} → {}"),
    ("delivered to {}", "送达 {}"),
    ("delivered to {} on {}", "送达 {}（节点 {}）"),
    ("delivered", "已送达"),
    ("dropped", "被丢弃"),
    ("rejected", "被拒绝"),
    ("no steps", "没有步骤"),
    ("Send 1,000 connections", "发起 1,000 个连接"),
    ("Keep-alive: 1 connection, 1,000 requests", "长连接：1 个连接，1,000 个请求"),
    ("from the packet walk's client to its destination", "从数据包路径中的客户端到其目的地"),
    ("endpoint", "端点"),
    ("requests", "请求"),
    ("connections", "连接"),
    ("rule", "规则"),
    ("its probability (conditional)", "规则自身的概率（条件概率）"),
    ("endpoint's share: expected", "端点份额：期望"),
    ("observed", "实测"),
    ("As the cluster grows (kpx scale: NodePort Services × 10 endpoints, measured)", "集群变大时（kpx scale 实测：NodePort Service × 每个 10 个端点）"),
    ("The article estimates 20,000 iptables rules for 2,000 NodePort Services of 10 pods; kube-proxy's rules for that cluster, as kpx builds them, number 72,009. In iptables mode the first packet of a connection walks KUBE-SERVICES rule by rule, so its cost grows with the Services; nftables looks the Service up in a verdict map and IPVS in a hash table, so theirs stay flat.", "文章估计 2,000 个 NodePort Service（每个 10 个 Pod）需要 20,000 条 iptables 规则；按 kpx 的构建，kube-proxy 为这个集群写入的规则共有 72,009 条。iptables 模式下，连接的第一个数据包要在 KUBE-SERVICES 中逐条匹配，开销随 Service 数量增长；nftables 用判决映射（verdict map）查找 Service，IPVS 用哈希表查找，开销保持不变。"),
    ("{} mode: where {} new connections land", "{} 模式：{} 个新连接的去向"),
    ("{} mode: {} requests on 1 kept-alive connection", "{} 模式：1 个长连接上的 {} 个请求"),
    ("even share: {}", "均分：{}"),
    ("What kube-proxy programs", "kube-proxy 写入的内容"),
    ("Rules the first packet meets", "第一个数据包要匹配的规则"),
    ("rules and entries", "规则与条目"),
    ("rules evaluated", "匹配的规则数"),
    ("Services (10 endpoints each)", "Service 数量（每个 10 个端点）"),
    ("article: 2,000 NodePort Services", "文章：2,000 个 NodePort Service"),
    ("its estimate: 20,000", "文章估计：20,000"),
    ("the chart could not be drawn: {}", "无法绘制图表：{}"),
    ("client", "客户端"),
    ("the node (netfilter hooks and kube-proxy's chains)", "节点（netfilter 钩子与 kube-proxy 的链）"),
    ("{} mode: where the packet is", "{} 模式：数据包所在位置"),
    ("a process on node {}", "节点 {} 上的进程"),
    ("a client outside the cluster ({})", "集群外的客户端（{}）"),
    ("Language", "语言"),
    ("Theme", "主题"),
    ("as the system", "跟随系统"),
    ("light", "浅色"),
    ("dark", "深色"),
    ("Presenter mode", "演示模式"),
    ("Large type, high contrast, editor hidden; keys: ← → step, space play, ? help", "大字号、高对比度、隐藏编辑器；按键：← → 单步，空格 播放，? 帮助"),
    ("Keyboard shortcuts", "键盘快捷键"),
    ("Close", "关闭"),
    ("Shortcuts (?)", "快捷键 (?)"),
    ("play or pause the packet", "播放或暂停数据包"),
    ("step forward", "前进一步"),
    ("step back", "后退一步"),
    ("back to the first step", "回到第一步"),
    ("presenter mode on or off", "开关演示模式"),
    ("this help", "本帮助"),
    ("in a rules view: the next or previous line", "在规则视图中：下一行或上一行"),
    ("keys work when the focus is not in a text field", "焦点不在文本框中时按键才有效"),
    ("Open in kpx", "在 kpx 中打开"),
    ("Step {}: {}", "第 {} 步：{}"),
    ("Skip to the rules", "跳到规则"),
    ("Steps", "步骤"),
];

/// Marks an English UI string that is translated later through [`t`] (for strings kept in
/// lists): the translation check finds it by this name.
pub const fn en(s: &'static str) -> &'static str {
    s
}
