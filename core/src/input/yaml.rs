//! YAML text → JSON values that remember where each node came from.
//!
//! Kubernetes objects are deserialised with their own types (k8s-openapi) from a
//! `serde_json::Value`; what serde cannot keep is *where* a field was written. So the loader
//! builds, beside each document's value, a tree of positions with the same shape, and
//! [`Spans::locate`] maps a field path (from `serde_path_to_error` or from validation) back to a
//! line and column.

use crate::diag::{Diagnostic, Pos};
use saphyr::{MarkedYamlOwned, ScalarOwned, YamlDataOwned, YamlLoader};
use saphyr_parser::{Event, Parser, SpannedEventReceiver};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

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
    let docs = load_nodes(text)?;
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

/// Nesting deeper than this is refused. No Kubernetes object comes near it, and every stage
/// after the parser (`convert`, serde, dropping the values) recurses once per level.
pub const MAX_DEPTH: usize = 100;

/// The most that aliases (`*name`) may add to a text, counting each scalar's bytes and
/// `NODE_COST` per node. Reusing a label map costs a few hundred; a "billion laughs", or one
/// long string aliased thousands of times, would take gigabytes (saphyr's own budget counts
/// nodes, not bytes).
pub const MAX_ALIAS_EXPANSION: usize = 4 << 20;
const NODE_COST: usize = 64;

fn invalid_yaml(marker: &saphyr::Marker, info: &str) -> Diagnostic {
    // The scanner's own bound on nested brackets (255), in the same words as ours.
    if info == "recursion limit exceeded" {
        return too_deep(marker);
    }
    Diagnostic::error(pos_of(marker), format!("invalid YAML: {info}"))
}

fn too_deep(marker: &saphyr::Marker) -> Diagnostic {
    Diagnostic::error(
        pos_of(marker),
        format!("this value is nested more than {MAX_DEPTH} levels deep; no Kubernetes object needs that many"),
    )
}

/// saphyr's loader, fed one parser event at a time. `Parser::load` (behind `load_from_str`)
/// recurses once per nesting level, so a few thousand nested `- ` would overflow the stack
/// before anything could check them; the event iterator does not recurse. On the way, nesting
/// and what aliases expand to are bounded.
fn load_nodes(text: &str) -> Result<Vec<MarkedYamlOwned>, Diagnostic> {
    let mut parser = Parser::new_from_iter(text.chars());
    let mut loader = YamlLoader::<MarkedYamlOwned>::default();
    // The open collections, each with its anchor id (0: none) and its size so far.
    let mut open: Vec<(usize, usize)> = Vec::new();
    // The size of each complete anchored node of the current document.
    let mut anchors: HashMap<usize, usize> = HashMap::new();
    let mut expanded = 0usize;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| invalid_yaml(e.marker(), e.info()))?;
        let size = match &event {
            Event::DocumentStart(_) => {
                anchors.clear();
                None
            }
            Event::SequenceStart(id, _) | Event::MappingStart(id, _) => {
                if open.len() >= MAX_DEPTH {
                    return Err(too_deep(&span.start));
                }
                open.push((*id, NODE_COST));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (id, size) = open.pop().unwrap_or_default();
                if id > 0 {
                    anchors.insert(id, size);
                }
                Some(size)
            }
            Event::Scalar(value, _, id, _) => {
                let size = NODE_COST + value.len();
                if *id > 0 {
                    anchors.insert(*id, size);
                }
                Some(size)
            }
            Event::Alias(id) => {
                let Some(&size) = anchors.get(id) else {
                    return Err(Diagnostic::error(
                        pos_of(&span.start),
                        "this alias (*name) refers to no anchor (&name) completed before it in this document",
                    ));
                };
                expanded = expanded.saturating_add(size);
                if expanded > MAX_ALIAS_EXPANSION {
                    return Err(Diagnostic::error(
                        pos_of(&span.start),
                        format!("YAML aliases (*name) here would expand the text by more than {} MiB (a \"billion laughs\"?); write the values out", MAX_ALIAS_EXPANSION >> 20),
                    ));
                }
                Some(size)
            }
            _ => None,
        };
        if let (Some(size), Some(parent)) = (size, open.last_mut()) {
            parent.1 = parent.1.saturating_add(size);
        }
        loader.on_event(event, span);
        if let Some(e) = loader.error() {
            return Err(invalid_yaml(e.marker(), e.info()));
        }
    }
    Ok(loader.into_documents())
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
        YamlDataOwned::Value(scalar) => match scalar_to_json(scalar) {
            Some(value) => leaf(value),
            None => Err(Diagnostic::error(pos, NOT_A_NUMBER)),
        },
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
                        Some(Value::String(s)) => s,
                        Some(v) => v.to_string(),
                        None => return Err(Diagnostic::error(pos_of(&k.span.start), NOT_A_NUMBER)),
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

/// A YAML number JSON cannot hold (it used to become `null`, so a field silently vanished).
const NOT_A_NUMBER: &str =
    "this number cannot be read: it is too large, .inf or .nan (quote it if it is text)";

/// The JSON value of a scalar; `None` for infinite and NaN floats.
fn scalar_to_json(s: &ScalarOwned) -> Option<Value> {
    Some(match s {
        ScalarOwned::Null => Value::Null,
        ScalarOwned::Boolean(b) => Value::Bool(*b),
        ScalarOwned::Integer(i) => Value::Number((*i).into()),
        ScalarOwned::FloatingPoint(f) => Value::Number(Number::from_f64(f.into_inner())?),
        ScalarOwned::String(s) => Value::String(s.clone()),
    })
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
