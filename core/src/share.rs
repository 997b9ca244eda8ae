//! A shareable link's state: what the reader sees (their text, mode, view, node, compare
//! mode, selected line), packed into a URL fragment.
//!
//! The format is a contract — links live in docs and chat logs — so it is versioned:
//! `k1.` + base64url (no padding) of raw DEFLATE of the state's JSON. A later format gets a new
//! number and this decoder keeps reading `k1`. Decoding never trusts the link: its size is
//! bounded before and after inflating, and every failure says what is wrong.

use data_encoding::BASE64URL_NOPAD;
use serde::{Deserialize, Serialize};

/// The format this build writes.
pub const VERSION: u32 = 1;
/// The longest fragment accepted (characters). The page keeps the reader's work as a fragment
/// too (web/src/main.rs, `use_kept`), so it must take whatever the page writes: the 44,125
/// Services of kubernetes#139513 (38 MB of YAML) are 2.3 million characters.
pub const MAX_LINK: usize = 4 << 20;
/// The most text a link may inflate to (bytes): guards against a DEFLATE bomb, with room for
/// the same cluster. (At 4 MiB, a paste of 5,000 Services was kept and then refused on reload.)
pub const MAX_STATE: usize = 64 << 20;

/// What a link reproduces. Fields a reader left at their default are omitted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shared {
    /// The cluster YAML.
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The second mode shown side by side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<String>,
    /// The selected line of the view (0-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The scenario the text started from (its explanation is shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// The panel under the rules: `explain`, `packet` or `charts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub panel: Option<String>,
    /// The packet walk's client (`ns/pod`, `node:NAME` or an IP) and destination
    /// (`PROTO IP:PORT`, e.g. `tcp 10.109.134.113:8080`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The walk's seed (another "new connection" draws another).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The walk's step (0-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
}

/// The fragment (without `#`) for `state`.
pub fn encode(state: &Shared) -> String {
    let json = serde_json::to_vec(state).expect("plain data serializes");
    let packed = miniz_oxide::deflate::compress_to_vec(&json, 9);
    format!("k{VERSION}.{}", BASE64URL_NOPAD.encode(&packed))
}

/// The state in a fragment (with or without its `#`), or why it cannot be read.
pub fn decode(fragment: &str) -> Result<Shared, String> {
    let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
    if fragment.len() > MAX_LINK {
        return Err(format!(
            "this link is too long ({} characters; at most {MAX_LINK})",
            fragment.len()
        ));
    }
    let (version, payload) = fragment
        .strip_prefix('k')
        .and_then(|rest| rest.split_once('.'))
        .ok_or("this link does not hold a kpx state (it should start with #k1.)")?;
    let version: u32 = version
        .parse()
        .map_err(|_| format!("this link's format version {version:?} is not a number"))?;
    if version > VERSION {
        return Err(format!("this link was made by a newer kpx (format {version}); this page reads format {VERSION}"));
    }
    if version == 0 {
        return Err("this link's format version 0 does not exist".into());
    }
    let packed = BASE64URL_NOPAD.decode(payload.as_bytes()).map_err(|e| {
        format!(
            "this link is damaged (not base64url at position {}): was it cut short?",
            e.position
        )
    })?;
    let json = miniz_oxide::inflate::decompress_to_vec_with_limit(&packed, MAX_STATE)
        .map_err(|e| match e.status {
            miniz_oxide::inflate::TINFLStatus::HasMoreOutput => format!("this link's state is larger than {MAX_STATE} bytes"),
            _ => "this link is damaged (its compressed state is incomplete or corrupt): was it cut short?".to_string(),
        })?;
    serde_json::from_slice(&json).map_err(|e| format!("this link's state is not valid: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Shared {
        Shared {
            text: "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n".into(),
            mode: Some("ipvs".into()),
            view: Some("ipvsadm".into()),
            node: None,
            compare: Some("nftables".into()),
            line: Some(3),
            scenario: Some("article".into()),
            panel: Some("packet".into()),
            from: Some("kube-system/coredns".into()),
            to: Some("tcp 10.109.134.113:8080".into()),
            seed: Some(7),
            step: Some(12),
        }
    }

    #[test]
    fn round_trip() {
        let s = sample();
        let link = encode(&s);
        assert!(link.starts_with("k1."), "{link}");
        assert!(
            link.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            "URL-safe: {link}"
        );
        assert_eq!(decode(&link).unwrap(), s);
        assert_eq!(decode(&format!("#{link}")).unwrap(), s);
    }

    /// A link written by this version must keep working: this one is frozen here.
    #[test]
    fn a_version_1_link_still_reads() {
        let frozen = "k1.AToAxf97InRleHQiOiJraW5kOiBTZXJ2aWNlXG4iLCJtb2RlIjoiaXB0YWJsZXMiLCJ2aWV3Ijoic2F2ZSJ9";
        let want = Shared {
            text: "kind: Service\n".into(),
            mode: Some("iptables".into()),
            view: Some("save".into()),
            ..Default::default()
        };
        assert_eq!(decode(frozen).unwrap(), want);
    }

    #[test]
    fn bad_links_say_why() {
        let link = encode(&sample());
        let cut = &link[..link.len() / 2];
        assert!(
            decode(cut).unwrap_err().contains("cut short"),
            "{}",
            decode(cut).unwrap_err()
        );
        assert!(decode("k9.AAAA").unwrap_err().contains("newer kpx"));
        assert!(decode("hello")
            .unwrap_err()
            .contains("does not hold a kpx state"));
        assert!(decode("k1.!!!").unwrap_err().contains("not base64url"));
        let not_state = format!(
            "k1.{}",
            BASE64URL_NOPAD.encode(&miniz_oxide::deflate::compress_to_vec(b"[1,2]", 6))
        );
        assert!(decode(&not_state).unwrap_err().contains("not valid"));
        let bomb = format!(
            "k1.{}",
            BASE64URL_NOPAD.encode(&miniz_oxide::deflate::compress_to_vec(
                &vec![b' '; MAX_STATE + 10],
                9
            ))
        );
        assert!(decode(&bomb).unwrap_err().contains("larger than"));
    }

    /// The page keeps large work as a fragment too: what it writes, it reads back.
    #[test]
    fn a_large_clusters_state_round_trips() {
        let text = crate::scale::generate(6_000, 10, crate::cluster::settings::Mode::Iptables);
        assert!(
            text.len() > 4 << 20,
            "{} bytes: not past the old bound",
            text.len()
        );
        let state = Shared {
            text,
            ..Default::default()
        };
        assert_eq!(decode(&encode(&state)), Ok(state));
    }
}
