//! YAML text → JSON values that remember where each node came from.
//!
//! Kubernetes objects are deserialised with their own types (k8s-openapi) from a
//! `serde_json::Value`; what serde cannot keep is *where* a field was written. So the loader
//! builds, beside each document's value, a tree of positions with the same shape, and
//! [`Spans::locate`] maps a field path (from `de::from_value` or from validation) back to a
//! line and column.

use crate::diag::{Diagnostic, Pos};
use saphyr_parser::{BufferedInput, Event, Parser};
use serde_json::{Map, Number, Value};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

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
    ($($seg:expr),* $(,)?) => { Vec::from([$($crate::input::yaml::Seg::from($seg)),*]) };
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

/// A node's children, exactly sized: a 10,000-Service text has millions of nodes, and lists
/// grown by doubling held most of the positions' memory. Keys are shared (see [`Builder`]).
#[derive(Clone, Debug)]
enum Children {
    None,
    Seq(Box<[Spans]>),
    Map(Box<[(Rc<str>, Spans)]>),
}

/// `items` moved into an allocation of exactly their size.
fn exact<T>(mut items: Vec<T>) -> Box<[T]> {
    if items.len() == items.capacity() {
        return items.into_boxed_slice();
    }
    let mut exact = Vec::with_capacity(items.len());
    exact.append(&mut items);
    exact.into_boxed_slice()
}

impl Spans {
    /// The deepest node on `path` that exists, and whether the whole path was found.
    fn walk(&self, path: &[Seg]) -> (&Spans, bool) {
        let mut node = self;
        for seg in path {
            let next = match (seg, &node.children) {
                (Seg::Index(i), Children::Seq(items)) => items.get(*i),
                (Seg::Key(k), Children::Map(entries)) => {
                    entries.iter().find(|(key, _)| **key == **k).map(|(_, v)| v)
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

    /// These positions, counted from the first line of a section with `lines` lines above it.
    pub(crate) fn below(&self, lines: usize) -> Spans {
        let children = match &self.children {
            Children::None => Children::None,
            Children::Seq(items) => Children::Seq(items.iter().map(|s| s.below(lines)).collect()),
            Children::Map(entries) => Children::Map(
                entries
                    .iter()
                    .map(|(k, s)| (k.clone(), s.below(lines)))
                    .collect(),
            ),
        };
        Spans {
            pos: self.pos.below(lines),
            last_line: self.last_line + lines,
            children,
        }
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

/// Parses a text, handing each document out as soon as it is complete, so that only one
/// document's JSON value is alive at a time (a 10,000-Service text's values are hundreds of
/// MB). Empty documents (only comments, or `---` alone) are skipped. On a syntax error nothing
/// more is handed out, and the error is the answer, whatever was made of the documents before.
/// A value that cannot be read (a number too large, say) is no syntax error: the text parses
/// on, documents after it are checked for syntax only, and [`Loader::unreadable`] says which
/// it was (the reader is told once the whole text has parsed, so that a syntax error anywhere
/// comes first, as the reader would want to fix that first).
///
/// It reads a part at a time: the page reads a large text in several tasks, so that it
/// answers in between. The parse is the same one, paused between two of the parser's events,
/// so where a part ends changes nothing (`input::parse` reads it in one part).
pub struct Loader<'t, I: Iterator<Item = char> + 't> {
    parser: Parser<'t, BufferedInput<I>>,
    builder: Builder,
    /// Characters read so far (where the last event ended).
    read: usize,
    /// The parser's events read so far.
    events: usize,
    end: Option<Result<(), Diagnostic>>,
}

impl<'t, I: Iterator<Item = char> + 't> Loader<'t, I> {
    pub fn new(chars: I) -> Self {
        Self::continuing(chars, Keys::default(), 0)
    }

    /// A loader that goes on from another part of the same text: the mapping keys read so far
    /// are shared with it, and its aliases have already expanded the text by `expanded` bytes
    /// (the budget, [`MAX_ALIAS_EXPANSION`], is the whole text's).
    pub fn continuing(chars: I, keys: Keys, expanded: usize) -> Self {
        Loader {
            parser: Parser::new_from_iter(chars),
            builder: Builder {
                keys,
                expanded,
                ..Builder::default()
            },
            read: 0,
            events: 0,
            end: None,
        }
    }

    /// How many of the parser's events have been read.
    pub fn events(&self) -> usize {
        self.events
    }

    /// By how many bytes the aliases read so far expanded the text (the count it started
    /// with included).
    pub fn expanded(&self) -> usize {
        self.builder.expanded
    }

    /// The first value that could not be read, if any (the answer says so only if the text
    /// has no syntax error, see [`Loader::load`]).
    pub fn unreadable(&self) -> Option<&Diagnostic> {
        self.builder.unreadable.as_ref()
    }

    /// The mapping keys read, to share with the loader of the text's next part.
    pub fn into_keys(self) -> Keys {
        self.builder.keys
    }

    /// How many characters of the text have been read.
    pub fn read(&self) -> usize {
        self.read
    }

    /// Reads at most `events` more of the parser's events, handing each document completed to
    /// `each`. `None` while there is more to read; then the answer (and the same answer if
    /// asked again).
    pub fn load(
        &mut self,
        events: usize,
        each: &mut impl FnMut(Document),
    ) -> Option<Result<(), Diagnostic>> {
        if self.end.is_none() {
            self.end = self.load_events(events, each);
        }
        self.end.clone()
    }

    fn load_events(
        &mut self,
        events: usize,
        each: &mut impl FnMut(Document),
    ) -> Option<Result<(), Diagnostic>> {
        for _ in 0..events {
            let Some(next) = self.parser.next_event() else {
                return Some(Ok(()));
            };
            self.events += 1;
            let step = next
                .map_err(|e| invalid_yaml(e.marker(), e.info()))
                .and_then(|(event, span)| {
                    self.read = span.end.index();
                    self.builder.on_event(event, span)
                });
            if let Err(e) = step {
                return Some(Err(e));
            }
            if let Some(doc) = self.builder.complete_document.take() {
                // After a value that cannot be read, documents are only checked for syntax.
                if self.builder.unreadable.is_none() {
                    each(doc);
                }
            }
        }
        None
    }
}

/// Nesting deeper than this is refused. No Kubernetes object comes near it, and every stage
/// after the parser (serde, dropping the values) recurses once per level.
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
    // saphyr's pull parser keeps anchors from one document to the next, where YAML keeps them
    // to their document (and so does [`Builder`]): a text read a section at a time (see
    // `input::reading`) meets an alias of an earlier document's anchor here, a text read whole
    // in the builder. The reader is told the same either way.
    if info == "while parsing node, found unknown anchor" {
        return Diagnostic::error(pos_of(marker), NO_ANCHOR);
    }
    Diagnostic::error(pos_of(marker), format!("invalid YAML: {info}"))
}

fn too_deep(marker: &saphyr::Marker) -> Diagnostic {
    Diagnostic::error(
        pos_of(marker),
        format!("this value is nested more than {MAX_DEPTH} levels deep; no Kubernetes object needs that many"),
    )
}

/// A value being built, with its positions and what it would cost to alias it.
struct Node {
    value: Value,
    spans: Spans,
    size: usize,
}

/// A sequence or mapping whose end has not been read yet.
struct Open {
    anchor: usize,
    pos: Pos,
    size: usize,
    items: Items,
}

enum Items {
    Seq(Vec<Value>, Vec<Spans>),
    /// The entries so far, and the key read whose value comes next.
    Map(
        Map<String, Value>,
        Vec<(Rc<str>, Spans)>,
        Option<(String, Pos)>,
    ),
}

/// Builds each document's value and positions straight from the parser's events: no tree of
/// saphyr's in between, and no recursion, so a few thousand nested `- ` cannot overflow the
/// stack before the depth is checked. Aliases are expanded as saphyr's loader does (a copy of
/// the anchored value, placed at the alias), within a budget of bytes.
#[derive(Default)]
struct Builder {
    /// The document the last event completed.
    complete_document: Option<Document>,
    open: Vec<Open>,
    /// The complete anchored values of the current document.
    anchors: HashMap<usize, Node>,
    expanded: usize,
    /// The first value that could not be read (reported once the text has parsed).
    unreadable: Option<Diagnostic>,
    /// Mapping keys seen so far: the positions of 100,000 endpoints name `addresses` once.
    keys: Keys,
}

/// The mapping keys a text's positions name, each held once.
pub type Keys = HashSet<Rc<str>>;

impl Builder {
    fn on_event(&mut self, event: Event, span: saphyr_parser::Span) -> Result<(), Diagnostic> {
        match event {
            Event::DocumentStart(_) => self.anchors.clear(),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.open.len() >= MAX_DEPTH {
                    return Err(too_deep(&span.start));
                }
                let items = if matches!(event, Event::SequenceStart(..)) {
                    Items::Seq(Vec::new(), Vec::new())
                } else {
                    Items::Map(Map::new(), Vec::new(), None)
                };
                self.open.push(Open {
                    anchor,
                    pos: pos_of(&span.start),
                    size: NODE_COST,
                    items,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(open) = self.open.pop() else {
                    return Ok(());
                };
                let (value, children) = match open.items {
                    Items::Seq(values, spans) => {
                        (Value::Array(values), Children::Seq(exact(spans)))
                    }
                    Items::Map(map, spans, _) => (Value::Object(map), Children::Map(exact(spans))),
                };
                let spans = Spans {
                    pos: open.pos,
                    last_line: last_line(open.pos, &span.start),
                    children,
                };
                let node = Node {
                    value,
                    spans,
                    size: open.size,
                };
                self.complete(node, open.anchor)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let pos = pos_of(&span.start);
                let size = NODE_COST + text.len();
                let value =
                    match saphyr::Scalar::parse_from_cow_and_metadata(text, style, tag.as_ref()) {
                        Some(scalar) => scalar_to_json(scalar).unwrap_or_else(|| {
                            self.unreadable(pos, NOT_A_NUMBER);
                            Value::Null
                        }),
                        None => {
                            self.unreadable(pos, "this YAML value could not be read");
                            Value::Null
                        }
                    };
                let spans = Spans {
                    pos,
                    last_line: last_line(pos, &span.end),
                    children: Children::None,
                };
                self.complete(Node { value, spans, size }, anchor)?;
            }
            Event::Alias(id) => {
                let Some(anchored) = self.anchors.get(&id) else {
                    return Err(Diagnostic::error(pos_of(&span.start), NO_ANCHOR));
                };
                self.expanded = self.expanded.saturating_add(anchored.size);
                if self.expanded > MAX_ALIAS_EXPANSION {
                    return Err(Diagnostic::error(
                        pos_of(&span.start),
                        format!("YAML aliases (*name) here would expand the text by more than {} MiB (a \"billion laughs\"?); write the values out", MAX_ALIAS_EXPANSION >> 20),
                    ));
                }
                // The copy sits where the alias is written; what is inside keeps the anchor's
                // positions.
                let pos = pos_of(&span.start);
                let node = Node {
                    value: anchored.value.clone(),
                    spans: Spans {
                        pos,
                        last_line: last_line(pos, &span.end),
                        children: anchored.spans.children.clone(),
                    },
                    size: anchored.size,
                };
                self.complete(node, 0)?;
            }
            Event::DocumentEnd | Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn unreadable(&mut self, pos: Pos, message: &str) {
        first_unreadable(&mut self.unreadable, pos, message);
    }

    /// A value is complete: it goes into the open collection, or is a document.
    fn complete(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        if anchor > 0 {
            self.anchors.insert(
                anchor,
                Node {
                    value: node.value.clone(),
                    spans: node.spans.clone(),
                    size: node.size,
                },
            );
        }
        let Some(parent) = self.open.last_mut() else {
            if !node.value.is_null() {
                self.complete_document = Some(Document {
                    value: node.value,
                    spans: node.spans,
                });
            }
            return Ok(());
        };
        parent.size = parent.size.saturating_add(node.size);
        match &mut parent.items {
            Items::Seq(values, spans) => {
                values.push(node.value);
                spans.push(node.spans);
            }
            Items::Map(_, _, key @ None) => {
                let pos = node.spans.pos;
                let text = match node.value {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    Value::Array(_) | Value::Object(_) => {
                        first_unreadable(
                            &mut self.unreadable,
                            pos,
                            "a mapping key must be a plain value, not a list or a mapping",
                        );
                        String::new()
                    }
                    other => other.to_string(),
                };
                *key = Some((text, pos));
            }
            Items::Map(map, spans, key @ Some(_)) => {
                let (key, pos) = key.take().unwrap_or_default();
                if map.contains_key(&key) {
                    return Err(Diagnostic::error(
                        pos,
                        "invalid YAML: duplicated key in mapping",
                    ));
                }
                let shared = match self.keys.get(key.as_str()) {
                    Some(shared) => shared.clone(),
                    None => {
                        let shared: Rc<str> = key.as_str().into();
                        self.keys.insert(shared.clone());
                        shared
                    }
                };
                map.insert(key, node.value);
                spans.push((shared, node.spans));
            }
        }
        Ok(())
    }
}

fn first_unreadable(slot: &mut Option<Diagnostic>, pos: Pos, message: &str) {
    slot.get_or_insert_with(|| Diagnostic::error(pos, message));
}

/// The last line a node's text is on. A block node ends where the next token starts: at
/// column 0 of the line after it.
fn last_line(start: Pos, end: &saphyr::Marker) -> usize {
    if end.col() == 0 && end.line() > start.line {
        end.line() - 1
    } else {
        end.line()
    }
    .max(start.line)
}

const NO_ANCHOR: &str =
    "this alias (*name) refers to no anchor (&name) completed before it in this document";

/// A YAML number JSON cannot hold (it used to become `null`, so a field silently vanished).
const NOT_A_NUMBER: &str =
    "this number cannot be read: it is too large, .inf or .nan (quote it if it is text)";

/// The JSON value of a scalar; `None` for infinite and NaN floats.
fn scalar_to_json(s: saphyr::Scalar) -> Option<Value> {
    Some(match s {
        saphyr::Scalar::Null => Value::Null,
        saphyr::Scalar::Boolean(b) => Value::Bool(b),
        saphyr::Scalar::Integer(i) => Value::Number(i.into()),
        saphyr::Scalar::FloatingPoint(f) => Value::Number(Number::from_f64(f.into_inner())?),
        saphyr::Scalar::String(s) => Value::String(s.into_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every document of `text`.
    fn load(text: &str) -> Result<Vec<Document>, Diagnostic> {
        let mut docs = Vec::new();
        let mut loader = Loader::new(text.chars());
        loop {
            if let Some(end) = loader.load(usize::MAX, &mut |d| docs.push(d)) {
                return end.and(loader.unreadable().cloned().map_or(Ok(docs), Err));
            }
        }
    }

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
