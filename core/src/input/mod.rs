//! Input: the reader's YAML text → typed objects ([`Scenario`]), with positions.
//!
//! Kubernetes objects are read with k8s-openapi's own types; kube-proxy's configuration and
//! kpx's `NodeEnvironment` with the structs in [`config`]. Nothing is defaulted or validated
//! here beyond "is this the right shape": that is `cluster`'s job, which reports positions
//! through each object's [`Spans`].

pub mod config;
mod de;
mod wire;
pub mod yaml;

use crate::diag::{Diagnostic, InputError, Pos};
use crate::path;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Endpoints, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
pub use yaml::{display_path, Seg, Spans};

/// An input object and where it was written.
#[derive(Clone, Debug)]
pub struct Located<T> {
    pub object: T,
    pub spans: Spans,
    /// `kind namespace/name` (or `kind name`), as the reader wrote it.
    pub reference: ObjectRef,
}

impl<T> Located<T> {
    pub fn pos(&self) -> Pos {
        self.spans.pos
    }
    pub fn pos_of(&self, path: &[Seg]) -> Pos {
        self.spans.locate(path)
    }
}

/// Names an object of the input (or one kpx derived from the input, see `cluster`).
///
/// Every rule's provenance names its objects, so a 10,000-Service dataplane holds millions of
/// these: the names are shared, and cloning one only counts a reference.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ObjectRef(std::rc::Rc<ObjectName>);

/// What an [`ObjectRef`] names (its fields read through the reference: `r.kind`).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectName {
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
}

impl std::ops::Deref for ObjectRef {
    type Target = ObjectName;
    fn deref(&self) -> &ObjectName {
        &self.0
    }
}

impl ObjectRef {
    pub fn new(kind: &str, namespace: &str, name: &str) -> Self {
        ObjectRef(std::rc::Rc::new(ObjectName {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }))
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Unnamed (a configuration document, or an object whose name is the error): the kind
        // alone, not "KubeProxyConfiguration " or "Service default/".
        if self.name.is_empty() {
            write!(f, "{}", self.kind)
        } else if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Everything the reader wrote, typed.
#[derive(Clone, Debug, Default)]
pub struct Scenario {
    pub services: Vec<Located<Service>>,
    pub endpoint_slices: Vec<Located<EndpointSlice>>,
    pub endpoints: Vec<Located<Endpoints>>,
    pub pods: Vec<Located<Pod>>,
    pub deployments: Vec<Located<Deployment>>,
    pub nodes: Vec<Located<Node>>,
    pub proxy_config: Option<Located<config::KubeProxyConfiguration>>,
    pub node_env: Option<Located<config::NodeEnvironment>>,
    /// Things that were read past: unknown kinds, a second configuration document…
    pub warnings: Vec<Diagnostic>,
}

/// Lines `first..=last` of the reader's text (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LineRange {
    pub first: usize,
    pub last: usize,
}

impl<T> Located<T> {
    /// The lines the object is written on.
    pub fn lines(&self) -> LineRange {
        LineRange {
            first: self.spans.pos.line,
            last: self.spans.last_line,
        }
    }
}

impl Scenario {
    /// Every written object and the lines it is written on.
    pub fn written_lines(&self) -> impl Iterator<Item = (&ObjectRef, LineRange)> {
        fn of<T>(items: &[Located<T>]) -> impl Iterator<Item = (&ObjectRef, LineRange)> {
            items.iter().map(|l| (&l.reference, l.lines()))
        }
        of(&self.services)
            .chain(of(&self.endpoint_slices))
            .chain(of(&self.endpoints))
            .chain(of(&self.pods))
            .chain(of(&self.deployments))
            .chain(of(&self.nodes))
            .chain(of(self.proxy_config.as_slice()))
            .chain(of(self.node_env.as_slice()))
    }
}

/// Parses the reader's text. All shape errors are collected, not only the first.
pub fn parse(text: &str) -> Result<Scenario, InputError> {
    let mut reading = Reading::new(text);
    while !reading.step(usize::MAX) {}
    reading.finish()
}

/// [`parse`] a part at a time, for a caller that must answer between parts (the page, reading
/// a large text in several tasks). `parse` is this, read in one step.
pub struct Reading<'t> {
    loader: yaml::Loader<'t, Chars<'t>>,
    scenario: Scenario,
    errors: Vec<Diagnostic>,
    /// The loader's answer, once it has one.
    end: Option<Result<(), Diagnostic>>,
}

impl<'t> Reading<'t> {
    /// Reads `text`: borrowed (`&str`), or shared (`Rc<str>`) by a reading kept across tasks.
    pub fn new(text: impl Into<Source<'t>>) -> Self {
        Reading {
            loader: yaml::Loader::new(Chars {
                text: text.into(),
                at: 0,
            }),
            scenario: Scenario::default(),
            errors: Vec::new(),
            end: None,
        }
    }

    /// Reads about `events` more of the parser's events (a Service of a few ports is a hundred);
    /// true once the whole text is read.
    pub fn step(&mut self, events: usize) -> bool {
        if self.end.is_none() {
            let Reading {
                loader,
                scenario,
                errors,
                ..
            } = self;
            // Each document is read into its object as soon as it is parsed, and its JSON
            // value dropped: only the typed objects and their positions stay.
            self.end = loader.load(events, &mut |doc| {
                if let Err(e) = add_object(scenario, doc.value, doc.spans) {
                    errors.push(e);
                }
            });
        }
        self.end.is_some()
    }

    /// How many characters of the text have been read.
    pub fn read(&self) -> usize {
        self.loader.read()
    }

    /// What the text holds, once [`step`](Self::step) has said it is read (before, what was
    /// read so far).
    pub fn finish(mut self) -> Result<Scenario, InputError> {
        if let Some(Err(d)) = self.end {
            return Err(InputError {
                diagnostics: vec![d],
            });
        }
        if self.errors.is_empty() {
            Ok(self.scenario)
        } else {
            self.errors.sort_by_key(|d| d.pos);
            Err(InputError {
                diagnostics: self.errors,
            })
        }
    }
}

/// The text a [`Reading`] reads. One type for both, so that the parser is compiled once (a
/// second copy of it was 49 KB of the site's wasm).
pub enum Source<'t> {
    Borrowed(&'t str),
    Shared(std::rc::Rc<str>),
}

impl<'t> From<&'t str> for Source<'t> {
    fn from(text: &'t str) -> Self {
        Source::Borrowed(text)
    }
}

impl From<std::rc::Rc<str>> for Source<'static> {
    fn from(text: std::rc::Rc<str>) -> Self {
        Source::Shared(text)
    }
}

/// The characters of a [`Source`], as the YAML parser takes them.
struct Chars<'t> {
    text: Source<'t>,
    /// The byte the next character starts at.
    at: usize,
}

impl Iterator for Chars<'_> {
    type Item = char;
    fn next(&mut self) -> Option<char> {
        let text = match &self.text {
            Source::Borrowed(text) => text,
            Source::Shared(text) => &**text,
        };
        let c = text.get(self.at..)?.chars().next()?;
        self.at += c.len_utf8();
        Some(c)
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn add_object(s: &mut Scenario, value: Value, spans: Spans) -> Result<(), Diagnostic> {
    if !value.is_object() {
        return Err(Diagnostic::error(
            spans.pos,
            "each YAML document must be a Kubernetes object (a mapping with apiVersion and kind)",
        ));
    }
    for field in ["apiVersion", "kind"] {
        if value
            .get(field)
            .is_some_and(|v| !v.is_string() && !v.is_null())
        {
            return Err(Diagnostic::error(
                spans.locate(&path![field]),
                format!("`{field}` must be a string, like `apiVersion: v1` and `kind: Service`"),
            ));
        }
    }
    let kind = str_field(&value, "kind").unwrap_or_default().to_string();
    let api_version = str_field(&value, "apiVersion")
        .unwrap_or_default()
        .to_string();
    if kind.is_empty() {
        return Err(Diagnostic::error(spans.pos, "this document has no `kind`"));
    }
    let meta = value.get("metadata");
    let name = meta
        .and_then(|m| str_field(m, "name"))
        .unwrap_or_default()
        .to_string();
    let namespace = meta
        .and_then(|m| str_field(m, "namespace"))
        .unwrap_or_default()
        .to_string();
    let namespaced = !matches!(
        kind.as_str(),
        "Node" | "KubeProxyConfiguration" | "NodeEnvironment" | "List"
    );
    let namespace = if namespaced && namespace.is_empty() {
        "default".to_string()
    } else {
        namespace
    };
    let reference = ObjectRef::new(&kind, &namespace, &name);

    let api_group = api_version.split_once('/').map(|(g, _)| g).unwrap_or("");
    match (api_group, kind.as_str()) {
        ("", "List") => {
            let items = match value.get("items") {
                Some(Value::Array(items)) => items.clone(),
                Some(Value::Null) | None => Vec::new(),
                Some(_) => {
                    return Err(Diagnostic::error(
                        spans.locate(&path!["items"]),
                        "`items` of a List must be a list",
                    ))
                }
            };
            let mut first_error = None;
            for (i, item) in items.into_iter().enumerate() {
                let item_spans = spans.subtree(&path!["items", i]);
                if let Err(e) = add_object(s, item, item_spans) {
                    first_error.get_or_insert(e);
                }
            }
            first_error.map_or(Ok(()), Err)
        }
        ("", "Service") => push::<wire::ServiceWire, _>(&mut s.services, value, spans, reference),
        ("discovery.k8s.io", "EndpointSlice") => {
            push::<wire::EndpointSliceWire, _>(&mut s.endpoint_slices, value, spans, reference)
        }
        ("", "Endpoints") => {
            push::<wire::EndpointsWire, _>(&mut s.endpoints, value, spans, reference)
        }
        ("", "Pod") => push::<wire::PodWire, _>(&mut s.pods, value, spans, reference),
        ("apps", "Deployment") => {
            push::<wire::DeploymentWire, _>(&mut s.deployments, value, spans, reference)
        }
        ("", "Node") => push::<wire::NodeWire, _>(&mut s.nodes, value, spans, reference),
        ("kubeproxy.config.k8s.io", "KubeProxyConfiguration") => single(
            &mut s.proxy_config,
            &mut s.warnings,
            value,
            spans,
            reference,
        ),
        ("kpx", "NodeEnvironment") => {
            single(&mut s.node_env, &mut s.warnings, value, spans, reference)
        }
        _ => {
            s.warnings.push(Diagnostic::warning(
                spans.pos,
                format!("{api_version} {kind} is not something kube-proxy reads; ignored"),
            ));
            Ok(())
        }
    }
}

fn deserialize<T: DeserializeOwned>(
    value: Value,
    spans: &Spans,
    reference: &ObjectRef,
) -> Result<T, Diagnostic> {
    de::from_value::<T>(value).map_err(|(path, e)| {
        let field = display_path(&path);
        let message = if field.is_empty() {
            format!("{reference}: {e}")
        } else {
            format!("{reference}: {field}: {e}")
        };
        Diagnostic::error(spans.locate(&path), message)
    })
}

/// Reads one object through `Wire`: the kind's k8s-openapi type itself, or a slim shape of it
/// (see [`wire`]).
fn push<Wire: DeserializeOwned + Into<T>, T>(
    list: &mut Vec<Located<T>>,
    value: Value,
    spans: Spans,
    reference: ObjectRef,
) -> Result<(), Diagnostic> {
    let object = deserialize::<Wire>(value, &spans, &reference)?;
    list.push(Located {
        object: object.into(),
        spans,
        reference,
    });
    Ok(())
}

fn single<T: DeserializeOwned>(
    slot: &mut Option<Located<T>>,
    warnings: &mut Vec<Diagnostic>,
    value: Value,
    spans: Spans,
    reference: ObjectRef,
) -> Result<(), Diagnostic> {
    let object = deserialize(value, &spans, &reference)?;
    if slot.is_some() {
        warnings.push(Diagnostic::warning(
            spans.pos,
            format!(
                "a second {} document; the first one is used",
                reference.kind
            ),
        ));
        return Ok(());
    }
    *slot = Some(Located {
        object,
        spans,
        reference,
    });
    Ok(())
}
