//! What an edit changed, in words: `kpx_core::changes` finds the lines.

/// What a line of a view is, in a word or two, for the list of changes.
pub fn describe(text: &str) -> String {
    let t = text.trim_start();
    let word = |s: &str| s.split_whitespace().next().unwrap_or("").to_string();
    if let Some(rest) = t.strip_prefix("-A ") {
        format!("rule in {}", word(rest))
    } else if let Some(rest) = t.strip_prefix(':') {
        format!("chain {}", word(rest))
    } else if let Some(rest) = t.strip_prefix("Chain ") {
        format!("chain {}", word(rest))
    } else if let Some(rest) = t.strip_prefix("-> ") {
        format!("real server {}", word(rest))
    } else if ["TCP ", "UDP ", "SCTP "].iter().any(|p| t.starts_with(p)) {
        format!(
            "virtual server {}",
            t.split_whitespace().nth(1).unwrap_or("")
        )
    } else if let Some(rest) = t.strip_prefix("add rule ") {
        format!(
            "nftables rule in {}",
            rest.split_whitespace().nth(2).unwrap_or("")
        )
    } else if t.starts_with("add element ") {
        format!("element of {}", t.split_whitespace().nth(4).unwrap_or(""))
    } else if let Some(rest) = t.strip_prefix("inet ").or_else(|| t.strip_prefix("inet6 ")) {
        format!("address {} on kube-ipvs0", word(rest))
    } else {
        "line".to_string()
    }
}
