//! YAML text → JSON values that remember where each node came from.
//!
//! Kubernetes objects are deserialised with their own types (k8s-openapi) from a
//! `serde_json::Value`; what serde cannot keep is *where* a field was written. So the loader
//! builds, beside each document's value, the positions of its nodes (one flat list per
//! document: a node, then its children's; see [`Spans`]), and [`Spans::locate`] maps a field
//! path (from `de::from_value` or from validation) back to a line and column.

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

/// Positions of a document's nodes (or of a part of one: a List's item), flattened: each node
/// is followed by its children's nodes, so a node's own are the `size` nodes from it on. A
/// 10,000-Service text has millions of nodes: held as a tree, with a list of children for each
/// collection, they were a third of its reading's memory and most of its allocations; here a
/// document's are one list.
#[derive(Clone, Debug)]
pub struct Spans {
    /// Where the first node starts…
    pub pos: Pos,
    /// …and the last line its text is on.
    pub last_line: usize,
    nodes: Box<[Written]>,
    /// Where the children of each long sequence are, by its node (sorted): a sequence's n-th
    /// child is otherwise found by skipping the n before it, and finding each item of a long
    /// list so (a `kind: List` of thousands of objects, as `kubectl get -o yaml` writes them; a
    /// slice's endpoints, each told about) takes time that grows with the square of its length.
    long: Box<[(u32, Box<[u32]>)]>,
}

/// A sequence with at least this many items keeps where each starts ([`Spans::long`]).
const LONG: usize = 32;

/// Long sequences' children as [`Spans::long`] keeps them, each by its sequence's node.
type LongSeqs = Vec<(u32, Box<[u32]>)>;

/// Where one node is written.
#[derive(Clone, Debug)]
struct Written {
    line: u32,
    col: u32,
    last_line: u32,
    /// This node and its descendants: how many of the nodes from it on are its own.
    size: u32,
    /// Its key, when it is a value of a mapping (shared: see [`Builder::keys`]).
    key: Option<Rc<str>>,
}

/// A line or column as a [`Written`] keeps it (no text has 4 billion lines; one that did would
/// point at the last position kpx can hold, not fail).
fn narrow(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Written {
    fn at(pos: Pos, last_line: usize) -> Written {
        Written {
            line: narrow(pos.line),
            col: narrow(pos.col),
            last_line: narrow(last_line),
            size: 1,
            key: None,
        }
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line as usize,
            col: self.col as usize,
        }
    }
}

impl Spans {
    fn of(nodes: Box<[Written]>, mut long: LongSeqs) -> Spans {
        let root = &nodes[0];
        // (Made as sequences end: an outer one after those inside it.)
        crate::pace::sort_stable_by_key(&mut long, |(node, _)| *node);
        Spans {
            pos: root.pos(),
            last_line: root.last_line as usize,
            nodes,
            long: long.into_boxed_slice(),
        }
    }

    /// The `i`-th child of the long sequence at `node`, if it is one.
    fn long_child(&self, node: usize, i: usize) -> Option<Option<usize>> {
        let at = self.long.partition_point(|(n, _)| (*n as usize) < node);
        let (_, children) = self.long.get(at).filter(|(n, _)| *n as usize == node)?;
        Some(children.get(i).map(|&offset| node + offset as usize))
    }

    /// The deepest node on `path` that exists (its index), and whether the whole path was found.
    fn walk(&self, path: &[Seg]) -> (usize, bool) {
        let mut at = 0;
        for seg in path {
            if let Seg::Index(i) = seg {
                if let Some(child) = self.long_child(at, *i) {
                    match child {
                        Some(child) => {
                            at = child;
                            continue;
                        }
                        None => return (at, false),
                    }
                }
            }
            let end = at + self.nodes[at].size as usize;
            // A mapping's children have keys and a sequence's none, so a key is looked for
            // only in a mapping and an index only in a sequence.
            let (mut child, mut index) = (at + 1, 0);
            let found = loop {
                let Some(node) = self.nodes.get(child).filter(|_| child < end) else {
                    break None;
                };
                let hit = match seg {
                    Seg::Index(i) => node.key.is_none() && index == *i,
                    Seg::Key(k) => node.key.as_deref() == Some(k.as_str()),
                };
                if hit {
                    break Some(child);
                }
                child += node.size as usize;
                index += 1;
            };
            match found {
                Some(child) => at = child,
                None => return (at, false),
            }
        }
        (at, true)
    }

    /// These positions counted from `lines` lines further down, in place (a List's item read
    /// in its whole List, counted from its own first line as if read alone).
    pub(crate) fn move_up(&mut self, lines: usize) {
        let lines_u32 = narrow(lines);
        for n in self.nodes.iter_mut() {
            n.line = n.line.saturating_sub(lines_u32);
            n.last_line = n.last_line.saturating_sub(lines_u32);
        }
        self.pos.line = self.pos.line.saturating_sub(lines);
        self.last_line = self.last_line.saturating_sub(lines);
    }

    /// These positions, counted from the first line of a section with `lines` lines above it.
    pub(crate) fn below(&self, lines: usize) -> Spans {
        let lines_u32 = narrow(lines);
        let nodes = self
            .nodes
            .iter()
            .map(|n| Written {
                line: n.line.saturating_add(lines_u32),
                last_line: n.last_line.saturating_add(lines_u32),
                ..n.clone()
            })
            .collect();
        Spans {
            pos: self.pos.below(lines),
            last_line: self.last_line + lines,
            nodes,
            long: self.long.clone(),
        }
    }

    /// The position of the deepest node on `path` that exists (a missing field points at its
    /// parent, which is where the reader would add it).
    pub fn locate(&self, path: &[Seg]) -> Pos {
        self.nodes[self.walk(path).0].pos()
    }

    /// The positions under `path` (a List's item, say), or a leaf at the nearest position.
    pub fn subtree(&self, path: &[Seg]) -> Spans {
        let (at, found) = self.walk(path);
        let node = &self.nodes[at];
        if found {
            let end = at + node.size as usize;
            let mut nodes: Box<[Written]> = self.nodes[at..end].into();
            nodes[0].key = None;
            // Its long sequences, by their nodes counted from its own.
            let from = self.long.partition_point(|(n, _)| (*n as usize) < at);
            let to = self.long.partition_point(|(n, _)| (*n as usize) < end);
            let long = self.long[from..to].iter();
            let long = long.map(|(n, children)| (n - narrow(at), children.clone()));
            Spans::of(nodes, long.collect())
        } else {
            Spans::of(
                Box::new([Written::at(node.pos(), node.pos().line)]),
                Vec::new(),
            )
        }
    }
}

/// One YAML document of the input, or an item of its top-level `items` list.
#[derive(Clone, Debug)]
pub struct Document {
    pub value: Value,
    pub spans: Spans,
    /// An item of the top-level `items` list of the document being read, handed out as soon as
    /// it is complete; the document follows with `items: []`. `kubectl get -o yaml` writes a
    /// cluster as one `kind: List`: built whole before its items were read, 10,000 Services'
    /// List held 900 MB of values at once. (Whether the document is a List is known only at
    /// its end: kubectl sorts `kind` after `items`.)
    pub in_items: bool,
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

    /// A loader of a List's items, read apart from their List (see `input::reading`): the
    /// text is a top-level sequence, whose items are handed out as a List's top-level `items`
    /// are, and which is not handed out itself.
    pub fn list_items(chars: I, keys: Keys, expanded: usize) -> Self {
        let mut loader = Self::continuing(chars, keys, expanded);
        loader.builder.items_alone = true;
        loader
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

/// A collection whose end has not been read yet.
struct Open {
    anchor: usize,
    /// Its node in [`Builder::written`].
    node: usize,
    /// What aliasing it would cost so far.
    size: usize,
    items: Items,
}

enum Items {
    Seq(Vec<Value>),
    /// The entries so far, and the key read whose value comes next.
    Map(Map<String, Value>, Option<(String, Pos)>),
}

/// An anchored value, complete: what an alias of it copies.
/// (Its long sequences are not kept: in a copy, a sequence's items are found by skipping.)
struct Anchored {
    value: Value,
    written: Box<[Written]>,
    size: usize,
}

/// Builds each document's value and positions straight from the parser's events: no tree of
/// saphyr's in between, and no recursion, so a few thousand nested `- ` cannot overflow the
/// stack before the depth is checked. Aliases are expanded as saphyr's loader does (a copy of
/// the anchored value, placed at the alias), within a budget of bytes.
#[derive(Default)]
struct Builder {
    /// The document, or the item of its top-level `items`, the last event completed.
    complete_document: Option<Document>,
    open: Vec<Open>,
    /// The current document's positions so far, in the order of [`Spans`] (a node is added
    /// when it starts; a mapping key's are taken out again once it is read as the key).
    written: Vec<Written>,
    /// The long sequences of the current document so far (see [`Spans::long`]).
    long: LongSeqs,
    /// The complete anchored values of the current document.
    anchors: HashMap<usize, Anchored>,
    expanded: usize,
    /// The first value that could not be read (reported once the text has parsed).
    unreadable: Option<Diagnostic>,
    /// Mapping keys seen so far: the positions of 100,000 endpoints name `addresses` once.
    keys: Keys,
    /// The text is a List's items alone: its top-level sequence's ([`Loader::list_items`]).
    items_alone: bool,
}

/// The mapping keys a text's positions name, each held once. (Looked up for every key of the
/// text: hashed by foldhash, not SipHash.)
pub type Keys = HashSet<Rc<str>, foldhash::fast::FixedState>;

impl Builder {
    fn on_event(&mut self, event: Event, span: saphyr_parser::Span) -> Result<(), Diagnostic> {
        match event {
            Event::DocumentStart(_) => self.anchors.clear(),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                // (A List's items read alone are as deep as in their List, in its mapping.)
                if self.open.len() + usize::from(self.items_alone) >= MAX_DEPTH {
                    return Err(too_deep(&span.start));
                }
                let items = if matches!(event, Event::SequenceStart(..)) {
                    Items::Seq(Vec::new())
                } else {
                    Items::Map(Map::new(), None)
                };
                let pos = pos_of(&span.start);
                self.open.push(Open {
                    anchor,
                    node: self.written.len(),
                    size: NODE_COST,
                    items,
                });
                self.written.push(Written::at(pos, pos.line));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(open) = self.open.pop() else {
                    return Ok(());
                };
                let value = match open.items {
                    Items::Seq(values) => {
                        if values.len() >= LONG {
                            self.long_sequence(open.node, values.len());
                        }
                        Value::Array(values)
                    }
                    Items::Map(map, _) => Value::Object(map),
                };
                let size = narrow(self.written.len() - open.node);
                let node = &mut self.written[open.node];
                node.size = size;
                node.last_line = narrow(last_line(node.pos(), &span.start));
                self.complete(value, open.node, open.size, open.anchor)?;
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
                let node = self.written.len();
                self.written
                    .push(Written::at(pos, last_line(pos, &span.end)));
                self.complete(value, node, size, anchor)?;
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
                let (value, size) = (anchored.value.clone(), anchored.size);
                let node = self.written.len();
                self.written.extend(anchored.written.iter().cloned());
                let pos = pos_of(&span.start);
                self.written[node] = Written {
                    size: self.written[node].size,
                    ..Written::at(pos, last_line(pos, &span.end))
                };
                self.complete(value, node, size, 0)?;
            }
            Event::DocumentEnd | Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn unreadable(&mut self, pos: Pos, message: &str) {
        first_unreadable(&mut self.unreadable, pos, message);
    }

    /// The sequence at `node`, complete, has `items` children: where each starts is kept.
    fn long_sequence(&mut self, node: usize, items: usize) {
        let mut children = Vec::with_capacity(items);
        let mut child = node + 1;
        for _ in 0..items {
            children.push(narrow(child - node));
            child += self.written[child].size as usize;
        }
        self.long.push((narrow(node), children.into_boxed_slice()));
    }

    /// Is a value completed now an item of the document's top-level `items` list?
    fn in_top_level_items(&self) -> bool {
        match self.open.as_slice() {
            [Open {
                items: Items::Map(_, Some((key, _))),
                ..
            }, Open {
                items: Items::Seq(_),
                ..
            }] => key == "items" && !self.items_alone,
            [Open {
                items: Items::Seq(_),
                ..
            }] => self.items_alone,
            _ => false,
        }
    }

    /// A value is complete (its positions are `written` from `node` on, `size` what aliasing
    /// it costs): it goes into the open collection, is handed out as an item of the
    /// document's top-level `items`, or is a document.
    fn complete(
        &mut self,
        value: Value,
        node: usize,
        size: usize,
        anchor: usize,
    ) -> Result<(), Diagnostic> {
        if anchor > 0 {
            self.anchors.insert(
                anchor,
                Anchored {
                    value: value.clone(),
                    written: self.written[node..].into(),
                    size,
                },
            );
        }
        if self.in_top_level_items() {
            // Handed out whole, with its positions (the last nodes written, and the long
            // sequences made since it began: the last ones made), and not kept in the list.
            let nodes: Box<[Written]> = self.written.drain(node..).collect();
            let own = self.long.partition_point(|(n, _)| (*n as usize) < node);
            let long = self.long.drain(own..);
            let long = long
                .map(|(n, children)| (n - narrow(node), children))
                .collect();
            if let Some(items) = self.open.last_mut() {
                items.size = items.size.saturating_add(size);
            }
            self.complete_document = Some(Document {
                value,
                spans: Spans::of(nodes, long),
                in_items: true,
            });
            return Ok(());
        }
        let Some(parent) = self.open.last_mut() else {
            // A document: its positions, exactly sized (the list keeps its room for the next).
            let nodes: Box<[Written]> = self.written.drain(..).collect();
            let long = std::mem::take(&mut self.long);
            // (A List's items read alone leave their sequence empty: handed out already.)
            let items_left = self.items_alone && value.as_array().is_some_and(Vec::is_empty);
            if !value.is_null() && !items_left {
                self.complete_document = Some(Document {
                    value,
                    spans: Spans::of(nodes, long),
                    in_items: false,
                });
            }
            return Ok(());
        };
        parent.size = parent.size.saturating_add(size);
        match &mut parent.items {
            Items::Seq(values) => values.push(value),
            Items::Map(_, key @ None) => {
                // A key: where it is written is where its entry is, not a node of its own.
                let pos = self.written[node].pos();
                self.written.truncate(node);
                // The long sequences inside the key are the last made.
                while self
                    .long
                    .last()
                    .is_some_and(|(long, _)| *long as usize >= node)
                {
                    self.long.pop();
                }
                let text = match value {
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
            Items::Map(map, key @ Some(_)) => {
                let (key, pos) = key.take().unwrap_or_default();
                let shared = match self.keys.get(key.as_str()) {
                    Some(shared) => shared.clone(),
                    None => {
                        let shared: Rc<str> = key.as_str().into();
                        self.keys.insert(shared.clone());
                        shared
                    }
                };
                // (One lookup in the mapping, not a check and then an insert: the mapping
                // hashes its keys with SipHash.)
                match map.entry(key) {
                    serde_json::map::Entry::Occupied(_) => {
                        return Err(Diagnostic::error(
                            pos,
                            "invalid YAML: duplicated key in mapping",
                        ));
                    }
                    serde_json::map::Entry::Vacant(entry) => {
                        entry.insert(value);
                    }
                }
                self.written[node].key = Some(shared);
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
        saphyr::Scalar::String(s) => Value::String({
            let mut s = s.into_owned();
            s.shrink_to_fit();
            s
        }),
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

    /// Positions are found by path in long sequences (which keep where their items are), in
    /// the copies aliases make, and in a part taken out (a nested list's item).
    #[test]
    fn positions_are_found_in_long_sequences_aliases_and_list_items() {
        let mut text = String::from("things:\n");
        for i in 0..40 {
            text += &format!("- name: n{i}\n  vals: [x, y]\n");
        }
        text += "after: &a [p, q]\ncopy: *a\nlast: 1\n";
        let docs = load(&text).unwrap();
        let spans = &docs[0].spans;
        let at = |line, col| Pos { line, col };
        for i in [0, 1, 31, 32, 39] {
            assert_eq!(
                spans.locate(&path!["things", i]),
                at(2 + 2 * i, 3),
                "things[{i}]"
            );
            let y = path!["things", i, "vals", 1];
            assert_eq!(spans.locate(&y), at(3 + 2 * i, 13), "things[{i}].vals[1]");
        }
        // Past the end: the sequence itself.
        let things = spans.locate(&path!["things"]);
        assert_eq!(spans.locate(&path!["things", 40, "name"]), things);
        assert_eq!(spans.locate(&path!["after", 1]), at(82, 15));
        // An alias is where it is written; what is inside, where the anchor's is.
        assert_eq!(spans.locate(&path!["copy"]), at(83, 7));
        assert_eq!(spans.locate(&path!["copy", 1]), at(82, 15));
        assert_eq!(spans.locate(&path!["last"]), at(84, 7));
        let item = spans.subtree(&path!["things", 33]);
        assert_eq!((item.pos, item.last_line), (at(68, 3), 69));
        assert_eq!(item.locate(&path!["vals", 0]), at(69, 10));
        // A part taken out keeps its own long sequences.
        let many = vec!["e"; 40].join(", ");
        let list = load(&format!("a: 1\nthings:\n- x: 1\n  many: [{many}]\n")).unwrap();
        let item = list[0].spans.subtree(&path!["things", 0]);
        assert_eq!(item.locate(&path!["many", 35]), at(4, 10 + 3 * 35));
        // …found through its list of children, not by skipping (which finds the same).
        let long: Vec<usize> = item.long.iter().map(|(n, _)| *n as usize).collect();
        assert_eq!(long, [item.walk(&path!["many"]).0]);
        // Long sequences in a long sequence, each found through its own list.
        let row = format!("[{}]", vec!["c"; 40].join(", "));
        let grid = load(&format!("grid:\n{}", format!("- {row}\n").repeat(40))).unwrap();
        let spans = &grid[0].spans;
        assert_eq!(spans.long.len(), 41);
        assert_eq!(spans.locate(&path!["grid", 35, 36]), at(37, 4 + 3 * 36));
        assert_eq!(spans.locate(&path!["grid", 39, 0]), at(41, 4));
    }

    /// The items of a document's top-level `items` are handed out one by one as each is read,
    /// with their own positions (long sequences, aliases of anchors in earlier items included),
    /// then the document, its `items` empty; `items` deeper down stay in their document.
    #[test]
    fn top_level_items_are_handed_out_as_they_are_read() {
        let many = vec!["e"; 40].join(", ");
        let mut text = String::from("apiVersion: v1\nitems:\n");
        for i in 0..40 {
            text += &format!("- name: n{i}\n  vals: [x, y]\n");
        }
        text += &format!("- anchored: &a [p, q]\n  many: [{many}]\n- copy: *a\n  inner:\n    items: [1, 2]\nkind: List\n");
        let docs = load(&text).unwrap();
        let at = |line, col| Pos { line, col };
        assert_eq!(docs.len(), 43);
        assert!(docs[..42].iter().all(|d| d.in_items) && !docs[42].in_items);
        for i in [0, 1, 31, 32, 39] {
            let item = &docs[i];
            assert_eq!(item.value["name"], format!("n{i}"));
            assert_eq!(
                (item.spans.pos, item.spans.last_line),
                (at(3 + 2 * i, 3), 4 + 2 * i)
            );
            assert_eq!(item.spans.locate(&path!["vals", 1]), at(4 + 2 * i, 13));
        }
        let long = &docs[40].spans;
        assert_eq!(long.locate(&path!["many", 35]), at(84, 10 + 3 * 35));
        let walked: Vec<usize> = long.long.iter().map(|(n, _)| *n as usize).collect();
        assert_eq!(walked, [long.walk(&path!["many"]).0]);
        // An alias of an anchor in an earlier item: copied, where the anchor is written.
        let copy = &docs[41];
        assert_eq!(copy.value["copy"], serde_json::json!(["p", "q"]));
        assert_eq!(copy.spans.locate(&path!["copy", 1]), at(83, 20));
        assert_eq!(copy.value["inner"]["items"], serde_json::json!([1, 2]));
        assert_eq!(copy.spans.locate(&path!["inner", "items", 1]), at(87, 16));
        // The document, with what follows its items where it is written.
        let list = &docs[42];
        assert_eq!(list.value["items"], serde_json::json!([]));
        assert_eq!(list.value["kind"], "List");
        assert_eq!(list.spans.locate(&path!["kind"]), at(88, 7));
        assert_eq!(list.spans.last_line, 88);
        // A duplicated `items` is still refused.
        let twice = load("items:\n- a: 1\nitems:\n- b: 2\n").unwrap_err();
        assert!(twice.message.contains("duplicated key"), "{twice}");
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
