//! A shareable link's state: what the reader sees (their text, mode, view, node, compare
//! mode, selected line), packed into a URL fragment.
//!
//! The format is a contract — links live in docs and chat logs — so it is versioned:
//! `k1.` + base64url (no padding) of raw DEFLATE of the state's JSON. A later format gets a new
//! number and this decoder keeps reading `k1`. Decoding never trusts the link: its size is
//! bounded before and after inflating, and every failure says what is wrong.

use crate::pace::{at_once, InParts, Pace};
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

/// How many bytes of the reader's text [`encode_paced`] writes and compresses per unit of work:
/// about a millisecond in the wasm.
pub const ENCODED_PER_UNIT: usize = 64 << 10;

/// How a state's JSON starts: its text is its first field ([`encode_paced`] writes it, and
/// [`read_state`] reads it, a part at a time).
const TEXT_FIRST: &[u8] = br#"{"text":""#;

/// The fragment (without `#`) for `state`.
pub fn encode(state: &Shared) -> String {
    at_once(encode_paced(&state.text, state, &Pace::never()))
}

/// [`encode`], [`ENCODED_PER_UNIT`] bytes of the text at a time: the page keeps a large
/// cluster's state between its reader's keys (at 44,125 Services, its JSON alone was 250 ms of
/// the wasm, and DEFLATE most of a second). The JSON is written as it is compressed: the other
/// fields around an empty text, and the text escaped a part at a time between them (JSON
/// escapes each character on its own, so the parts make the same bytes as the whole). The
/// text is given apart from the other fields (`choices`, whose own text is not read), so that
/// the page, which shares its text, need not copy it into a `Shared`.
pub async fn encode_paced(text: &str, choices: &Shared, pace: &Pace) -> String {
    // Every field named: a field added to `Shared` must be added here.
    let Shared {
        text: _,
        mode,
        view,
        node,
        compare,
        line,
        scenario,
        panel,
        from,
        to,
        seed,
        step,
    } = choices;
    let around = serde_json::to_vec(&Shared {
        text: String::new(),
        mode: mode.clone(),
        view: view.clone(),
        node: node.clone(),
        compare: compare.clone(),
        line: *line,
        scenario: scenario.clone(),
        panel: panel.clone(),
        from: from.clone(),
        to: to.clone(),
        seed: *seed,
        step: *step,
    })
    .expect("plain data serializes");
    let after = around
        .strip_prefix(TEXT_FIRST)
        .expect("the text is the first field");
    let mut deflate = Deflate::new(text.len() / 4);
    deflate.feed(TEXT_FIRST, false);
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(ENCODED_PER_UNIT);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let quoted = serde_json::to_string(&rest[..end]).expect("a string serializes");
        deflate.feed(&quoted.as_bytes()[1..quoted.len() - 1], false);
        rest = &rest[end..];
        pace.unit().await;
    }
    // `after` closes the text's string.
    deflate.feed(after, true);
    format!("k{VERSION}.{}", BASE64URL_NOPAD.encode(&deflate.packed))
}

/// Raw DEFLATE (no zlib header) at level 9, fed a part at a time: what
/// `miniz_oxide::deflate::compress_to_vec(input, 9)` makes of the parts joined (its output
/// does not depend on how its input is cut; a test holds it to that).
struct Deflate {
    compressor: Box<miniz_oxide::deflate::core::CompressorOxide>,
    packed: Vec<u8>,
    written: usize,
}

impl Deflate {
    fn new(expected: usize) -> Self {
        use miniz_oxide::deflate::core::{create_comp_flags_from_zip_params, CompressorOxide};
        // Window bits 0: raw DEFLATE; strategy 0: the default.
        let flags = create_comp_flags_from_zip_params(9, 0, 0);
        Deflate {
            compressor: Box::new(CompressorOxide::new(flags)),
            packed: vec![0; expected.max(64)],
            written: 0,
        }
    }

    /// Compresses `input`; `last` ends the stream, and `packed` then holds all of it.
    fn feed(&mut self, mut input: &[u8], last: bool) {
        use miniz_oxide::deflate::core::{compress, TDEFLFlush, TDEFLStatus};
        let flush = match last {
            true => TDEFLFlush::Finish,
            false => TDEFLFlush::None,
        };
        loop {
            let out = &mut self.packed[self.written..];
            let (status, read, wrote) = compress(&mut self.compressor, input, out, flush);
            self.written += wrote;
            input = &input[read..];
            match status {
                TDEFLStatus::Done => {
                    self.packed.truncate(self.written);
                    return;
                }
                TDEFLStatus::Okay if input.is_empty() && !last => return,
                // Input left, or output still to come: the output is full.
                TDEFLStatus::Okay => {
                    if (read == 0 && wrote == 0) || self.packed.len() - self.written < 64 {
                        self.packed.resize(self.packed.len() * 2, 0);
                    }
                }
                // Only a compressor misused (fed after its end, bad flags) fails.
                other => unreachable!("DEFLATE failed: {other:?}"),
            }
        }
    }
}

/// The state in a fragment (with or without its `#`), or why it cannot be read.
pub fn decode(fragment: &str) -> Result<Shared, String> {
    decoding(fragment.to_owned()).finish()
}

/// [`decode`] a part at a time, [`INFLATED_PER_CALL`] bytes inflated being a unit of work:
/// the page opens large saved work in steps (38 MB of state at 44,125 Services). (`decode`
/// is this work done in one go: one state machine, not two, in the site.)
pub fn decoding(fragment: String) -> InParts<'static, Result<Shared, String>> {
    InParts::new(|pace| async move { decode_paced(&fragment, &pace).await })
}

async fn decode_paced(fragment: &str, pace: &Pace) -> Result<Shared, String> {
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
    let json = inflate(&packed, MAX_STATE, pace).await.map_err(|status| match status {
        miniz_oxide::inflate::TINFLStatus::HasMoreOutput => format!("this link's state is larger than {MAX_STATE} bytes"),
        _ => "this link is damaged (its compressed state is incomplete or corrupt): was it cut short?".to_string(),
    })?;
    pace.unit().await;
    read_state(&json, pace).await
}

/// A state's JSON read in one piece (once, not at each of [`read_state`]'s calls: the site's
/// size).
#[inline(never)]
fn read_whole(json: &[u8]) -> Result<Shared, String> {
    serde_json::from_slice(json).map_err(|e| format!("this link's state is not valid: {e}"))
}

/// A state's JSON read a part at a time: its text (38 MB at 44,125 Services, one piece of
/// 130-190 ms of the page read whole) unescaped [`ENCODED_PER_UNIT`] bytes a unit, each part
/// cut before a `\n` escape (a whole escape, wherever the text came from), then the other
/// fields. JSON that does not start with the text, or that a part finds invalid, is read whole,
/// so that its error is the one serde_json gives for the whole.
async fn read_state(json: &[u8], pace: &Pace) -> Result<Shared, String> {
    let Some(escaped) = json.strip_prefix(TEXT_FIRST) else {
        return read_whole(json);
    };
    let mut text = String::with_capacity(escaped.len());
    // A part read as the text of a state of its own (the reader `read_whole` uses: a reader of
    // JSON strings alone was 1.5 KB more of the site).
    let mut state_of_part = Vec::with_capacity(ENCODED_PER_UNIT + 64);
    let mut read_part = |part: &[u8], text: &mut String| {
        state_of_part.clear();
        state_of_part.extend_from_slice(TEXT_FIRST);
        state_of_part.extend_from_slice(part);
        state_of_part.extend_from_slice(b"\"}");
        let part = read_whole(&state_of_part);
        part.map(|part| text.push_str(&part.text)).is_ok()
    };
    let (mut start, mut at) = (0, 0);
    let end = loop {
        let Some(next) = (escaped.get(at..).unwrap_or_default())
            .iter()
            .position(|&b| b == b'\\' || b == b'"')
        else {
            return read_whole(json);
        };
        at += next;
        if escaped[at] == b'"' {
            break at;
        }
        // An escape: a backslash and a character, or `\uXXXX`.
        let escape = escaped.get(at + 1).copied();
        if escape == Some(b'n') && at - start >= ENCODED_PER_UNIT {
            if !read_part(&escaped[start..at], &mut text) {
                return read_whole(json);
            }
            start = at;
            pace.unit().await;
        }
        at += if escape == Some(b'u') { 6 } else { 2 };
    };
    if !read_part(&escaped[start..end], &mut text) {
        return read_whole(json);
    }
    // The other fields, after an empty text.
    let mut rest = Vec::with_capacity(TEXT_FIRST.len() + json.len() - end);
    rest.extend_from_slice(TEXT_FIRST);
    rest.extend_from_slice(&escaped[end..]);
    let Ok(mut state) = read_whole(&rest) else {
        return read_whole(json);
    };
    state.text = text;
    Ok(state)
}

/// How much [`inflate`] writes per call of the inflater.
const INFLATED_PER_CALL: usize = 64 << 10;

/// Raw DEFLATE inflated, refusing more than `limit` bytes: what
/// `miniz_oxide::inflate::decompress_to_vec_with_limit` does, but in calls of
/// [`INFLATED_PER_CALL`] bytes. A browser runs a wasm function from its baseline compiler until
/// it has run for a while, and its optimised code only from the next call on: saved work is
/// inflated as the page opens, before anything ran, and in one call its 8.7 MB at 10,000
/// Services took 83 ms, five times as long as on a page that had inflated before.
async fn inflate(
    packed: &[u8],
    limit: usize,
    pace: &Pace,
) -> Result<Vec<u8>, miniz_oxide::inflate::TINFLStatus> {
    use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
    use miniz_oxide::inflate::TINFLStatus;
    // The output is one buffer: back-references read what was written before.
    let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    let mut inflater = Box::<DecompressorOxide>::default();
    let guess = packed
        .len()
        .saturating_mul(4)
        .max(INFLATED_PER_CALL)
        .min(limit);
    let mut out = Vec::with_capacity(guess);
    let (mut read, mut written) = (0, 0);
    loop {
        let end = (written + INFLATED_PER_CALL).min(limit);
        if out.capacity() < end {
            // Doubled, not grown a part at a time (which would copy it over and over).
            out.reserve_exact(end.max(out.len() * 2).min(limit) - out.len());
        }
        // Zeroed only as far as the next call writes.
        out.resize(end, 0);
        let (status, r, w) = decompress(
            &mut inflater,
            &packed[read..],
            &mut out[..end],
            written,
            flags,
        );
        read += r;
        written += w;
        match status {
            TINFLStatus::Done => {
                out.truncate(written);
                return Ok(out);
            }
            TINFLStatus::HasMoreOutput if end < limit => pace.unit().await,
            other => return Err(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pace::InParts;

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

    /// The fragment as `encode` wrote it before it was paced: links in the wild hold these
    /// bytes, and the page compares a new fragment with the kept one.
    fn encoded_in_one_go(state: &Shared) -> String {
        let json = serde_json::to_vec(state).unwrap();
        let packed = miniz_oxide::deflate::compress_to_vec(&json, 9);
        format!("k{VERSION}.{}", BASE64URL_NOPAD.encode(&packed))
    }

    /// A text of about `len` bytes: cluster-like lines (compressible), or characters drawn at
    /// random (barely: the output outgrows its first guess), among them ones JSON escapes and
    /// ones of several bytes (a part must end between characters).
    fn text_of(len: usize, random: bool) -> String {
        let drawn: Vec<char> = "abcdefghijklmnopqrstuvwxyz \"\\\n\t\u{1}é中😀"
            .chars()
            .collect();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut text = String::with_capacity(len + 64);
        let mut n = 0;
        while text.len() < len {
            if random {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                text.push(drawn[(x % drawn.len() as u64) as usize]);
            } else {
                n += 1;
                text.push_str(&format!(
                    "- {{addresses: [10.244.{}.{}]}}\n",
                    n / 250,
                    n % 250
                ));
            }
        }
        text
    }

    #[test]
    fn encoding_in_parts_writes_what_one_go_writes() {
        let part = ENCODED_PER_UNIT;
        for len in [
            0,
            1,
            1000,
            part - 40,
            part,
            part + 1,
            5 * part + 123,
            3 << 20,
        ] {
            for random in [false, true] {
                let state = Shared {
                    text: text_of(len, random),
                    ..sample()
                };
                let want = encoded_in_one_go(&state);
                assert_eq!(encode(&state), want, "{len} bytes, random {random}");
                for units in [1, 3] {
                    let (got, steps) = InParts::new(|pace| {
                        let state = &state;
                        async move { encode_paced(&state.text, state, &pace).await }
                    })
                    .step_to_end(units);
                    assert_eq!(got, want, "{len} bytes, random {random}, {units} a step");
                    // A unit compresses at most a part: a long text pauses that often.
                    let least = (len / part).saturating_sub(1) / units;
                    assert!(
                        steps >= least,
                        "{len} bytes, {units} a step: {steps} pauses"
                    );
                }
            }
        }
    }

    #[test]
    fn inflating_in_calls_inflates_what_one_call_does() {
        let part = INFLATED_PER_CALL;
        for len in [0, 1, 1000, part - 1, part, part + 1, 5 * part + 7, 3 << 20] {
            for random in [false, true] {
                let text = text_of(len, random);
                let packed = miniz_oxide::deflate::compress_to_vec(text.as_bytes(), 9);
                assert_eq!(
                    at_once(inflate(&packed, MAX_STATE, &Pace::never())).as_deref(),
                    Ok(text.as_bytes()),
                    "{len} bytes, random {random}"
                );
                // The limit: exactly enough, one byte short.
                if len > 0 {
                    assert_eq!(
                        at_once(inflate(&packed, text.len(), &Pace::never())).map(|v| v.len()),
                        Ok(text.len())
                    );
                    assert_eq!(
                        at_once(inflate(&packed, text.len() - 1, &Pace::never())),
                        Err(miniz_oxide::inflate::TINFLStatus::HasMoreOutput),
                        "{len} bytes"
                    );
                }
                // Cut short.
                if packed.len() > 2 {
                    assert!(at_once(inflate(
                        &packed[..packed.len() / 2],
                        MAX_STATE,
                        &Pace::never()
                    ))
                    .is_err());
                }
            }
        }
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

    /// The page opens large work a part at a time: in parts, it reads what `decode` reads.
    #[test]
    fn reading_a_state_in_parts_reads_what_serde_json_reads() {
        let long = "a line of the text\n".repeat(2 * ENCODED_PER_UNIT / 19);
        let states = [
            // Escapes of every kind across the parts' cuts, a surrogate pair among them.
            format!(
                r#"{{"text":"{}\"q\" \\ \/ \t \u0001 \ud83d\ude00 é{}","mode":"ipvs"}}"#,
                long.replace('\n', "\\n"),
                long.replace('\n', "\\n")
            ),
            // The text not first: read whole.
            r#"{"mode":"ipvs","text":"a\nb"}"#.to_string(),
            // Invalid: the error serde_json gives for the whole.
            format!(
                r#"{{"text":"{}\x","mode":"ipvs"}}"#,
                long.replace('\n', "\\n")
            ),
            format!(r#"{{"text":"{}"#, long.replace('\n', "\\n")),
            format!(
                r#"{{"text":"{}","mode":"ipvs","extra":1}}"#,
                long.replace('\n', "\\n")
            ),
            r#"{"text":"\u12"#.to_string(),
        ];
        for json in &states {
            let (read, pauses) =
                InParts::new(|pace| async move { read_state(json.as_bytes(), &pace).await })
                    .step_to_end(1);
            let whole = serde_json::from_slice::<Shared>(json.as_bytes())
                .map_err(|e| format!("this link's state is not valid: {e}"));
            assert_eq!(read, whole, "{}", &json[..json.len().min(80)]);
            if json.len() > 2 * ENCODED_PER_UNIT && whole.is_ok() {
                assert!(pauses >= 2, "{pauses} pauses");
            }
        }
    }

    #[test]
    fn decoding_in_parts_decodes_what_decode_does() {
        let text = text_of(5 * INFLATED_PER_CALL + 7, true);
        let fragment = encode(&Shared {
            text: text.clone(),
            ..sample()
        });
        let (decoded, pauses) = decoding(fragment.clone()).step_to_end(1);
        assert!(pauses >= 5, "{pauses} pauses");
        assert_eq!(decoded, decode(&fragment));
        assert_eq!(decoded.map(|s| s.text), Ok(text));
    }
}
