//! The shipped scenarios (static/scenarios/), compiled in so the page works offline.
//!
//! Each file explains itself in its leading comment block — the title on the first line,
//! paragraphs after, `# Open: mode=… view=…` for how the page opens it, `# Try: kpx …` for the
//! command line — so the YAML a reader downloads carries its explanation. A line
//! `# zh-CN: <title>` starts the same explanation in Simplified Chinese (title, paragraphs).

use kpx_core::cluster::settings::Mode;

pub struct Scenario {
    pub id: &'static str,
    pub text: &'static str,
    /// The explanation, when it cannot live in the file: the article's two clusters must stay
    /// byte-identical to the shared scenarios, so theirs sit beside them in `.about` files.
    header: Option<&'static str>,
}

macro_rules! scenarios {
    ($($id:literal => $file:literal $(about $about:literal)?),+ $(,)?) => {
        pub const ALL: &[Scenario] = &[$(Scenario {
            id: $id,
            text: include_str!(concat!("../../static/scenarios/", $file)),
            header: scenarios!(@about $($about)?),
        }),+];
    };
    (@about) => { None };
    (@about $about:literal) => { Some(include_str!(concat!("../../static/scenarios/", $about))) };
}

scenarios! {
    "article" => "seed-iptables.yaml" about "seed-iptables.about",
    "article-ipvs" => "seed-ipvs.yaml" about "seed-ipvs.about",
    "probabilities" => "questions/probabilities.yaml",
    "keep-alive" => "questions/keep-alive.yaml",
    "three-modes" => "questions/three-modes.yaml",
    "mark-masq" => "questions/mark-masq.yaml",
    "hairpin" => "behaviours/hairpin.yaml",
    "external-traffic-policy" => "behaviours/external-traffic-policy.yaml",
    "ping-clusterip" => "questions/ping-clusterip.yaml",
    "no-endpoints" => "behaviours/no-endpoints.yaml",
    "session-affinity" => "behaviours/session-affinity.yaml",
    "nodeport" => "questions/nodeport.yaml",
    "loadbalancer-source-ranges" => "questions/loadbalancer-source-ranges.yaml",
    "tour" => "tour.yaml",
}

pub fn find(id: &str) -> Option<&'static Scenario> {
    ALL.iter().find(|s| s.id == id)
}

/// Which scenario's text this is, if it is one unchanged.
pub fn unchanged(text: &str) -> Option<&'static Scenario> {
    ALL.iter().find(|s| s.text == text)
}

/// A scenario's explanation, read from its header.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct About {
    pub title: String,
    pub paragraphs: Vec<String>,
    pub mode: Option<Mode>,
    pub view: Option<String>,
    pub commands: Vec<String>,
}

impl Scenario {
    /// The explanation in `lang` (`en` or `zh…`), English where there is no translation.
    pub fn about(&self, lang: &str) -> About {
        about(self.header.unwrap_or(self.text), lang)
    }
}

/// Reads the leading comment block of `text`, in `lang`.
pub fn about(text: &str, lang: &str) -> About {
    let header: Vec<&str> = text
        .lines()
        .map_while(|l| l.strip_prefix('#'))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    let zh_at = header.iter().position(|l| l.starts_with("zh-CN:"));
    let mut about = read(&header[..zh_at.unwrap_or(header.len())]);
    if let (true, Some(at)) = (lang.starts_with("zh"), zh_at) {
        let mut zh = header[at..].to_vec();
        zh[0] = zh[0].trim_start_matches("zh-CN:");
        let zh = read(&zh);
        about.title = zh.title;
        about.paragraphs = zh.paragraphs;
    }
    about
}

/// Title, paragraphs, `Open:` and `Try:` of a header's lines.
fn read(header: &[&str]) -> About {
    let mut about = About::default();
    let mut paragraph = String::new();
    for (i, line) in header.iter().enumerate() {
        if i == 0 {
            about.title = line.trim().to_string();
        } else if let Some(open) = line.strip_prefix("Open:") {
            for setting in open.split_whitespace() {
                match setting.split_once('=') {
                    Some(("mode", m)) => about.mode = Mode::parse(m),
                    Some(("view", v)) => about.view = Some(v.to_string()),
                    _ => {}
                }
            }
        } else if let Some(cmd) = line.strip_prefix("Try:") {
            about.commands.push(cmd.trim().to_string());
        } else if line.trim().is_empty() {
            if !paragraph.is_empty() {
                about.paragraphs.push(std::mem::take(&mut paragraph));
            }
        } else {
            if !paragraph.is_empty() {
                paragraph.push(' ');
            }
            paragraph.push_str(line.trim());
        }
    }
    if !paragraph.is_empty() {
        about.paragraphs.push(paragraph);
    }
    about
}
