//! Input: the reader's YAML text → typed objects ([`Scenario`]), with positions.
//!
//! Kubernetes objects are read with k8s-openapi's own types; kube-proxy's configuration and
//! kpx's `NodeEnvironment` with the structs in [`config`]. Nothing is defaulted or validated
//! here beyond "is this the right shape": that is `cluster`'s job, which reports positions
//! through each object's [`Spans`].

pub mod config;
mod de;
mod reading;
mod wire;
pub mod yaml;

use crate::diag::{Diagnostic, InputError, Pos};
use crate::path;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Endpoints, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
pub use reading::{read_lists_in_parts, read_whole, Reading, Sections, Source};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::rc::Rc;
pub use yaml::{display_path, Seg, Spans};

/// An input object and where it was written.
///
/// Cloning one only counts references: an edit of a large text reads again only the sections
/// it touched ([`Reading::after`]), and every other object is shared with the reading before.
pub struct Located<T> {
    pub object: Rc<T>,
    /// Its positions, counted from the first line of the section it was read in…
    spans: Rc<Spans>,
    /// …which has this many lines of the text above it.
    lines_before: usize,
    /// `kind namespace/name` (or `kind name`), as the reader wrote it.
    pub reference: ObjectRef,
}

/// Shows the positions in the text's lines, however the object was read (the tests compare
/// readings by what they show).
impl<T: std::fmt::Debug> std::fmt::Debug for Located<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Located")
            .field("object", &self.object)
            .field("spans", &self.spans.below(self.lines_before))
            .field("reference", &self.reference)
            .finish()
    }
}

impl<T> Clone for Located<T> {
    fn clone(&self) -> Self {
        Located {
            object: self.object.clone(),
            spans: self.spans.clone(),
            lines_before: self.lines_before,
            reference: self.reference.clone(),
        }
    }
}

impl<T> Located<T> {
    /// Where the object starts.
    pub fn pos(&self) -> Pos {
        self.spans.pos.below(self.lines_before)
    }
    /// Where the field at `path` is written (or the nearest thing that is, see
    /// [`Spans::locate`]).
    pub fn pos_of(&self, path: &[Seg]) -> Pos {
        self.spans.locate(path).below(self.lines_before)
    }
    /// The lines the object is written on.
    pub fn lines(&self) -> LineRange {
        LineRange {
            first: self.spans.pos.line + self.lines_before,
            last: self.spans.last_line + self.lines_before,
        }
    }
    /// The same object, read in a section that now has `lines_before` lines above it.
    fn moved(&self, lines_before: usize) -> Self {
        Located {
            lines_before,
            ..self.clone()
        }
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

impl Scenario {
    /// Lets go of the scenario an object a unit of `pace`'s work: the page drops a text's
    /// reading once it is analysed, and at 44,125 Services freeing every object's positions in
    /// one piece was a 217 ms task. (The objects themselves live on in the cluster.)
    pub async fn dispose(self, pace: &crate::pace::Pace) {
        use crate::pace::{drop_paced, Shrinking};
        let Scenario {
            mut services,
            mut endpoint_slices,
            mut endpoints,
            mut pods,
            mut deployments,
            mut nodes,
            proxy_config: _,
            node_env: _,
            warnings: _,
        } = self;
        let lists: [&mut dyn Shrinking; 6] = [
            &mut services,
            &mut endpoint_slices,
            &mut endpoints,
            &mut pods,
            &mut deployments,
            &mut nodes,
        ];
        for list in lists {
            drop_paced(list, pace).await;
        }
    }

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
    Reading::new(text).at_once()
}

/// What a document of the input adds to the [`Scenario`], in the order the documents are
/// written: a section's documents are read once into these, and every reading of a text that
/// still has the section replays them ([`Scenario::add`]).
#[derive(Clone, Debug)]
pub(crate) enum Added {
    Service(Located<Service>),
    EndpointSlice(Located<EndpointSlice>),
    Endpoints(Located<Endpoints>),
    Pod(Located<Pod>),
    Deployment(Located<Deployment>),
    Node(Located<Node>),
    ProxyConfig(Located<config::KubeProxyConfiguration>),
    NodeEnv(Located<config::NodeEnvironment>),
    Warning(Diagnostic),
    /// The document is not a shape kpx can read.
    Error(Diagnostic),
}

impl Scenario {
    /// Adds what a document of a section with `lines_before` lines above it added; an error
    /// goes to `errors`.
    pub(crate) fn add(&mut self, added: &Added, lines_before: usize, errors: &mut Vec<Diagnostic>) {
        match added {
            Added::Service(l) => self.services.push(l.moved(lines_before)),
            Added::EndpointSlice(l) => self.endpoint_slices.push(l.moved(lines_before)),
            Added::Endpoints(l) => self.endpoints.push(l.moved(lines_before)),
            Added::Pod(l) => self.pods.push(l.moved(lines_before)),
            Added::Deployment(l) => self.deployments.push(l.moved(lines_before)),
            Added::Node(l) => self.nodes.push(l.moved(lines_before)),
            Added::ProxyConfig(l) => single(
                &mut self.proxy_config,
                &mut self.warnings,
                l.moved(lines_before),
            ),
            Added::NodeEnv(l) => single(
                &mut self.node_env,
                &mut self.warnings,
                l.moved(lines_before),
            ),
            Added::Warning(d) => self.warnings.push(d.below(lines_before)),
            Added::Error(d) => errors.push(d.below(lines_before)),
        }
    }
}

/// A document that may be written once (kube-proxy's configuration, the node's environment):
/// the first one is used.
fn single<T>(slot: &mut Option<Located<T>>, warnings: &mut Vec<Diagnostic>, located: Located<T>) {
    if slot.is_some() {
        warnings.push(Diagnostic::warning(
            located.pos(),
            format!(
                "a second {} document; the first one is used",
                located.reference.kind
            ),
        ));
    } else {
        *slot = Some(located);
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// What the items of a List added, and the first of them that could not be read. A top-level
/// `items` list is read before its document is known to be a List
/// ([`yaml::Document::in_items`]): kept if it is one.
#[derive(Default)]
pub(crate) struct ListItems {
    added: Vec<Added>,
    first_error: Option<Diagnostic>,
}

impl ListItems {
    fn read(&mut self, value: Value, spans: Spans) {
        if let Err(e) = add_object(&mut self.added, value, spans, ListItems::default()) {
            self.first_error.get_or_insert(e);
        }
    }
}

/// Reads what the parser handed out (a document, or an item of its top-level `items`, whose
/// document follows) into what it adds to the scenario.
pub(crate) fn add_document(out: &mut Vec<Added>, doc: yaml::Document, items: &mut ListItems) {
    if doc.in_items {
        items.read(doc.value, doc.spans);
    } else if let Err(e) = add_object(out, doc.value, doc.spans, std::mem::take(items)) {
        out.push(Added::Error(e));
    }
}

/// Reads a document (its value and positions, counted from its section's first line) into what
/// it adds to the scenario; an error if it is not a shape kpx can read. `items_read`: its
/// top-level `items`, read already.
fn add_object(
    out: &mut Vec<Added>,
    mut value: Value,
    spans: Spans,
    items_read: ListItems,
) -> Result<(), Diagnostic> {
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

    match (api_group(&api_version), kind.as_str()) {
        ("", "List") => {
            let items = match value.get_mut("items") {
                Some(Value::Array(items)) => std::mem::take(items),
                Some(Value::Null) | None => Vec::new(),
                Some(_) => {
                    return Err(Diagnostic::error(
                        spans.locate(&path!["items"]),
                        "`items` of a List must be a list",
                    ))
                }
            };
            // Its items are those read already, or (a List inside a List, whose items are not
            // handed out) those in its value: never both.
            let mut all = items_read;
            for (i, item) in items.into_iter().enumerate() {
                all.read(item, spans.subtree(&path!["items", i]));
            }
            out.extend(all.added);
            return all.first_error.map_or(Ok(()), Err);
        }
        ("", "Service") => read::<wire::ServiceWire, _>(value, spans, reference, Added::Service),
        ("discovery.k8s.io", "EndpointSlice") => {
            read::<wire::EndpointSliceWire, _>(value, spans, reference, Added::EndpointSlice)
        }
        ("", "Endpoints") => {
            read::<wire::EndpointsWire, _>(value, spans, reference, Added::Endpoints)
        }
        ("", "Pod") => read::<wire::PodWire, _>(value, spans, reference, Added::Pod),
        ("apps", "Deployment") => {
            read::<wire::DeploymentWire, _>(value, spans, reference, Added::Deployment)
        }
        ("", "Node") => read::<wire::NodeWire, _>(value, spans, reference, Added::Node),
        ("kubeproxy.config.k8s.io", "KubeProxyConfiguration") => {
            read::<config::KubeProxyConfiguration, _>(value, spans, reference, Added::ProxyConfig)
        }
        ("kpx", "NodeEnvironment") => {
            read::<config::NodeEnvironment, _>(value, spans, reference, Added::NodeEnv)
        }
        _ => Ok(Added::Warning(Diagnostic::warning(
            spans.pos,
            format!("{api_version} {kind} is not something kube-proxy reads; ignored"),
        ))),
    }
    .map(|added| out.push(added))
}

/// The API group of an `apiVersion` (`discovery.k8s.io/v1`: `discovery.k8s.io`; `v1`: the
/// core group, "").
fn api_group(api_version: &str) -> &str {
    api_version.split_once('/').map_or("", |(group, _)| group)
}

/// Is this document a List, which adds its items and nothing else ([`add_object`])?
fn is_list(value: &Value) -> bool {
    let api_version = match value.get("apiVersion") {
        None | Some(Value::Null) => "",
        Some(Value::String(v)) => v,
        Some(_) => return false,
    };
    str_field(value, "kind") == Some("List") && api_group(api_version).is_empty()
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
fn read<Wire: DeserializeOwned + Into<T>, T>(
    value: Value,
    spans: Spans,
    reference: ObjectRef,
    added: fn(Located<T>) -> Added,
) -> Result<Added, Diagnostic> {
    let object = deserialize::<Wire>(value, &spans, &reference)?;
    Ok(added(Located {
        object: Rc::new(object.into()),
        spans: Rc::new(spans),
        lines_before: 0,
        reference,
    }))
}

#[cfg(test)]
mod tests {
    use crate::pace::InParts;

    /// The page lets go of a large text's reading in parts: an object a unit.
    #[test]
    fn a_scenario_is_disposed_an_object_a_unit() {
        let text = crate::scale::generate(30, 2, crate::cluster::settings::Mode::Iptables);
        let scenario = super::parse(&text).unwrap();
        let s = &scenario;
        let objects = s.services.len()
            + s.endpoint_slices.len()
            + s.endpoints.len()
            + s.pods.len()
            + s.deployments.len()
            + s.nodes.len();
        assert!(objects >= 60, "{objects} objects");
        let ((), pauses) =
            InParts::new(|pace| async move { scenario.dispose(&pace).await }).step_to_end(1);
        assert!(
            pauses >= objects - 1,
            "{pauses} pauses for {objects} objects"
        );
    }
}
