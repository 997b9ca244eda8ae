//! YAML text → JSON values that remember where each node came from.
//!
//! Kubernetes objects are deserialised with their own types (k8s-openapi) from a
//! `serde_json::Value`; what serde cannot keep is *where* a field was written. So the loader
//! builds, beside each document's value, a tree of positions with the same shape, and
//! [`Spans::locate`] maps a field path (from `serde_path_to_error` or from validation) back to a
//! line and column.

use crate::diag::{Diagnostic, Pos};
use saphyr::{LoadableYamlNode, MarkedYamlOwned, ScalarOwned, YamlDataOwned};
use serde_json::{Map, Number, Value};

/// One step of a path into a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(s: &str) -> Self {
        Seg::Key(s.to_string())
    }
}
impl From<usize> for Seg {
    fn from(i: usize) -> Self {
        Seg::Index(i)
    }
}

/// Builds a path: `path!["spec", "ports", 0, "port"]`.
#[macro_export]
macro_rules! path {
    ($($seg:expr),* $(,)?) => { vec![$($crate::input::yaml::Seg::from($seg)),*] };
}

/// Renders a path the way kubectl and the API server do: `spec.ports[0].port`.
pub fn display_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Positions of a node and of its children, in the shape of the value.
#[derive(Clone, Debug)]
pub struct Spans {
    pub pos: Pos,
    /// The last line the node's text is on.
    pub last_line: usize,
    children: Children,
}

#[derive(Clone, Debug)]
enum Children {
    None,
    Seq(Vec<Spans>),
    Map(Vec<(String, Spans)>),
}

impl Spans {
    /// The deepest node on `path` that exists, and whether the whole path was found.
    fn walk(&self, path: &[Seg]) -> (&Spans, bool) {
        let mut node = self;
        for seg in path {
            let next = match (seg, &node.children) {
                (Seg::Index(i), Children::Seq(items)) => items.get(*i),
                (Seg::Key(k), Children::Map(entries)) => {
                    entries.iter().find(|(key, _)| key == k).map(|(_, v)| v)
                }
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => return (node, false),
            }
        }
        (node, true)
    }

    /// The position of the deepest node on `path` that exists (a missing field points at its
    /// parent, which is where the reader would add it).
    pub fn locate(&self, path: &[Seg]) -> Pos {
        self.walk(path).0.pos
    }

    /// The positions under `path` (a List's item, say), or a leaf at the nearest position.
    pub fn subtree(&self, path: &[Seg]) -> Spans {
        match self.walk(path) {
            (node, true) => node.clone(),
            (node, false) => Spans {
                pos: node.pos,
                last_line: node.pos.line,
                children: Children::None,
            },
        }
    }
}

/// One YAML document of the input.
#[derive(Clone, Debug)]
pub struct Document {
    pub value: Value,
    pub spans: Spans,
}

fn pos_of(marker: &saphyr::Marker) -> Pos {
    Pos {
        line: marker.line().max(1),
        col: marker.col() + 1,
    }
}

/// Parses every document of `text`. Empty documents (only comments, or `---` alone) are dropped.
pub fn load(text: &str) -> Result<Vec<Document>, Diagnostic> {
    let docs = MarkedYamlOwned::load_from_str(text).map_err(|e| {
        Diagnostic::error(pos_of(e.marker()), format!("invalid YAML: {}", e.info()))
    })?;
    let mut out = Vec::new();
    for doc in &docs {
        let (value, spans) = convert(doc)?;
        if value.is_null() {
            continue;
        }
        out.push(Document { value, spans });
    }
    Ok(out)
}

fn convert(node: &MarkedYamlOwned) -> Result<(Value, Spans), Diagnostic> {
    let pos = pos_of(&node.span.start);
    // A block node's span ends where the next token starts: at column 0 of the line after.
    let end = &node.span.end;
    let last_line = if end.col() == 0 && end.line() > pos.line {
        end.line() - 1
    } else {
        end.line()
    }
    .max(pos.line);
    let leaf = |value| {
        Ok((
            value,
            Spans {
                pos,
                last_line,
                children: Children::None,
            },
        ))
    };
    match &node.data {
        YamlDataOwned::Value(scalar) => leaf(scalar_to_json(scalar)),
        YamlDataOwned::Representation(text, _, _) => leaf(Value::String(text.clone())),
        YamlDataOwned::Tagged(_, inner) => convert(inner),
        YamlDataOwned::Sequence(items) => {
            let mut values = Vec::with_capacity(items.len());
            let mut spans = Vec::with_capacity(items.len());
            for item in items {
                let (v, s) = convert(item)?;
                values.push(v);
                spans.push(s);
            }
            Ok((
                Value::Array(values),
                Spans {
                    pos,
                    last_line,
                    children: Children::Seq(spans),
                },
            ))
        }
        YamlDataOwned::Mapping(entries) => {
            let mut map = Map::new();
            let mut spans = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let key = match &k.data {
                    YamlDataOwned::Value(ScalarOwned::String(s)) => s.clone(),
                    YamlDataOwned::Value(ScalarOwned::Null) => String::new(),
                    YamlDataOwned::Value(other) => match scalar_to_json(other) {
                        Value::String(s) => s,
                        v => v.to_string(),
                    },
                    _ => {
                        return Err(Diagnostic::error(
                            pos_of(&k.span.start),
                            "a mapping key must be a plain value, not a list or a mapping",
                        ))
                    }
                };
                let (value, span) = convert(v)?;
                map.insert(key.clone(), value);
                spans.push((key, span));
            }
            Ok((
                Value::Object(map),
                Spans {
                    pos,
                    last_line,
                    children: Children::Map(spans),
                },
            ))
        }
        YamlDataOwned::Alias(_) => Err(Diagnostic::error(
            pos,
            "YAML aliases (*name) are not supported; write the value out",
        )),
        YamlDataOwned::BadValue => Err(Diagnostic::error(pos, "this YAML value could not be read")),
    }
}

fn scalar_to_json(s: &ScalarOwned) -> Value {
    match s {
        ScalarOwned::Null => Value::Null,
        ScalarOwned::Boolean(b) => Value::Bool(*b),
        ScalarOwned::Integer(i) => Value::Number((*i).into()),
        ScalarOwned::FloatingPoint(f) => Number::from_f64(f.into_inner())
            .map(Value::Number)
            .unwrap_or(Value::Null),
        ScalarOwned::String(s) => Value::String(s.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_follow_the_text() {
        let docs =
            load("a: 1\n---\nkind: Service\nspec:\n  ports:\n  - port: 80\n    name: x\n").unwrap();
        assert_eq!(docs.len(), 2);
        let p = docs[1].spans.locate(&path!["spec", "ports", 0, "name"]);
        assert_eq!(p, Pos { line: 7, col: 11 });
        // A missing field points at its parent.
        let p = docs[1].spans.locate(&path!["spec", "ports", 0, "protocol"]);
        assert_eq!(p, Pos { line: 6, col: 5 });
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err = load("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.pos.line >= 1, "{err}");
        assert!(err.message.starts_with("invalid YAML"));
    }

    #[test]
    fn empty_documents_are_dropped() {
        assert_eq!(load("# only a comment\n---\n---\na: 1\n").unwrap().len(), 1);
    }
}
