//! Colours for the YAML editor: a line-by-line scanner, forgiving by design — it must colour
//! half-typed, invalid text as well as it can, which a real parser would refuse.

/// What a piece of a YAML line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Plain,
    Key,
    Str,
    Number,
    Literal,
    Punct,
    Comment,
    Document,
}

impl Kind {
    pub fn class(self) -> &'static str {
        match self {
            Kind::Plain => "",
            Kind::Key => "y-key",
            Kind::Str => "y-str",
            Kind::Number => "y-num",
            Kind::Literal => "y-lit",
            Kind::Punct => "y-punct",
            Kind::Comment => "y-comment",
            Kind::Document => "y-doc",
        }
    }
}

fn flow_char(c: char) -> bool {
    matches!(c, ',' | '{' | '}' | '[' | ']')
}

fn classify(word: &str) -> Kind {
    if word.parse::<f64>().is_ok() {
        Kind::Number
    } else if matches!(
        word,
        "true" | "false" | "null" | "~" | "True" | "False" | "Null"
    ) {
        Kind::Literal
    } else {
        Kind::Plain
    }
}

/// The pieces of one line, in order; together they are the line.
pub fn line(text: &str) -> Vec<(Kind, &str)> {
    if text == "---" || text.starts_with("--- ") || text == "..." {
        return vec![(Kind::Document, text)];
    }
    let mut out = Vec::new();
    let bytes: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    let at = |k: usize| bytes.get(k).map_or(text.len(), |b| b.0);
    while i < bytes.len() {
        let (start, c) = bytes[i];
        let prev_space = i == 0 || bytes[i - 1].1.is_whitespace();
        if c == '#' && prev_space {
            out.push((Kind::Comment, &text[start..]));
            break;
        }
        if c.is_whitespace() {
            let mut j = i;
            while j < bytes.len() && bytes[j].1.is_whitespace() {
                j += 1;
            }
            out.push((Kind::Plain, &text[start..at(j)]));
            i = j;
            continue;
        }
        if c == '"' || c == '\'' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j].1 != c {
                j += if bytes[j].1 == '\\' && c == '"' { 2 } else { 1 };
            }
            let end = at((j + 1).min(bytes.len()));
            let after_is_key = text[end..].starts_with(':');
            out.push((
                if after_is_key { Kind::Key } else { Kind::Str },
                &text[start..end],
            ));
            i = (j + 1).min(bytes.len());
            continue;
        }
        if flow_char(c) || (c == '-' && bytes.get(i + 1).is_none_or(|b| b.1 == ' ')) || c == ':' {
            out.push((Kind::Punct, &text[start..at(i + 1)]));
            i += 1;
            continue;
        }
        // A word runs to whitespace, a flow character, or a `:` that ends a key.
        let mut j = i;
        let mut key = false;
        while j < bytes.len() {
            let ch = bytes[j].1;
            if ch.is_whitespace() || flow_char(ch) {
                break;
            }
            if ch == ':'
                && bytes
                    .get(j + 1)
                    .is_none_or(|b| b.1.is_whitespace() || flow_char(b.1))
            {
                key = true;
                break;
            }
            j += 1;
        }
        let word = &text[start..at(j)];
        out.push((if key { Kind::Key } else { classify(word) }, word));
        i = j;
    }
    out
}
