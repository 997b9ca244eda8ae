//! The shapes kpx reads Kubernetes objects through, before they become k8s-openapi's types.
//!
//! kpx models objects with k8s-openapi's types, but deserialising straight into them links
//! k8s-openapi's readers for every field an object can have — a Pod's volumes, affinity and
//! probes, a Node's status, every timestamp through jiff's parser — which were about 40 % of
//! the site's wasm. These shapes read exactly the fields kpx uses (each says who reads it) and
//! become the k8s-openapi object with everything else unset. Where kube-proxy reads a part
//! nearly whole (a Service's spec, an EndpointSlice's endpoints and ports), that part is read
//! with k8s-openapi's own type.
//!
//! They read like k8s-openapi's deserialisers: unknown fields are skipped, `null` is "not set",
//! a required list or object that is missing is empty, and `apiVersion` must be the kind's.
//! The one difference: a wrongly typed field that kpx never reads (a Pod's `restartPolicy: 5`)
//! is skipped instead of refused.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EndpointSubset, Endpoints, LoadBalancerStatus, Node, NodeAddress,
    NodeSpec, NodeStatus, Pod, PodCondition, PodIP, PodSpec, PodStatus, PodTemplateSpec, Service,
    ServiceSpec, ServiceStatus,
};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::jiff::civil::DateTime;
use k8s_openapi::jiff::tz::Offset;
use k8s_openapi::jiff::Timestamp;
use k8s_openapi::Resource;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// `apiVersion` must be `R`'s, with k8s-openapi's message when it is not.
fn api_version_of<'de, D: Deserializer<'de>, R: Resource>(d: D) -> Result<(), D::Error> {
    let written = String::deserialize(d)?;
    if written == R::API_VERSION {
        Ok(())
    } else {
        Err(serde::de::Error::invalid_value(
            serde::de::Unexpected::Str(&written),
            &R::API_VERSION,
        ))
    }
}

/// A shape that must be written as a mapping. serde's derived readers also take a list of the
/// fields' values in order (`metadata: [web]`); k8s-openapi's refuse it, and so does kpx.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MappingOnly<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for MappingOnly<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Object<T>, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Object)
            }
        }
        d.deserialize_map(MappingOnly(std::marker::PhantomData))
    }
}

/// What kpx reads of every object's metadata: its name and namespace, its labels (selectors,
/// the service-name label of a slice) and whether it is being deleted (a terminating Pod).
#[derive(Deserialize)]
#[serde(rename = "ObjectMeta", rename_all = "camelCase")]
struct MetaWire {
    name: Option<String>,
    namespace: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    deletion_timestamp: Option<TimeWire>,
}

impl From<MetaWire> for ObjectMeta {
    fn from(w: MetaWire) -> Self {
        ObjectMeta {
            name: w.name,
            namespace: w.namespace,
            labels: w.labels,
            annotations: w.annotations,
            deletion_timestamp: w.deletion_timestamp.map(|t| t.0),
            ..Default::default()
        }
    }
}

/// A Kubernetes timestamp, RFC 3339 (`2024-05-01T12:00:00Z`), read without jiff's parser: its
/// time-zone database and messages are 80 KB of wasm for one field kpx only tests for presence.
struct TimeWire(Time);

impl<'de> Deserialize<'de> for TimeWire {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let written = String::deserialize(d)?;
        rfc3339(&written).map(|t| TimeWire(Time(t))).ok_or_else(|| {
            serde::de::Error::invalid_value(
                serde::de::Unexpected::Str(&written),
                &"an RFC 3339 time like 2024-05-01T12:00:00Z",
            )
        })
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, read by hand into jiff's civil time (which
/// checks the date and does the calendar arithmetic) without jiff's parser.
fn rfc3339(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i32> {
        let part = b.get(range)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |n, d| n * 10 + i32::from(d - b'0')))
    };
    let at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt ") && at(13, b":") && at(16, b":")) {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0;
    if at(i, b".") {
        let start = i + 1;
        i = start;
        while at(i, b"0123456789") {
            i += 1;
        }
        if i == start {
            return None;
        }
        for k in 0..9 {
            let d = if start + k < i {
                b[start + k] - b'0'
            } else {
                0
            };
            nanos = nanos * 10 + i32::from(d);
        }
    }
    let offset_minutes = match b.get(i..)? {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), ..] if b.len() == i + 6 && at(i + 3, b":") => {
            let (h, m) = (digits(i + 1..i + 3)?, digits(i + 4..i + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            if *sign == b'+' {
                h * 60 + m
            } else {
                -(h * 60 + m)
            }
        }
        _ => return None,
    };
    let small = |range| digits(range).and_then(|n| i8::try_from(n).ok());
    let second = small(17..19).filter(|s| *s <= 60)?;
    let datetime = DateTime::new(
        i16::try_from(digits(0..4)?).ok()?,
        small(5..7)?,
        small(8..10)?,
        small(11..13)?,
        small(14..16)?,
        // A leap second reads as the second before it, as jiff reads it.
        second.min(59),
        nanos,
    )
    .ok()?;
    Offset::from_seconds(offset_minutes * 60)
        .ok()?
        .to_timestamp(datetime)
        .ok()
}

/// A Service's spec is read whole: kube-proxy reads nearly all of it. Of its status, only the
/// load balancers' ingress addresses.
#[derive(Deserialize)]
#[serde(rename = "Service")]
pub struct ServiceWire {
    #[serde(
        rename = "apiVersion",
        default,
        deserialize_with = "api_version_of::<_, Service>"
    )]
    _api_version: (),
    metadata: Option<Object<MetaWire>>,
    spec: Option<ServiceSpec>,
    status: Option<Object<ServiceStatusWire>>,
}

#[derive(Deserialize)]
#[serde(rename = "ServiceStatus", rename_all = "camelCase")]
struct ServiceStatusWire {
    load_balancer: Option<LoadBalancerStatus>,
}

impl From<ServiceWire> for Service {
    fn from(w: ServiceWire) -> Self {
        Service {
            metadata: w.metadata.map(|Object(m)| m.into()).unwrap_or_default(),
            spec: w.spec,
            status: w.status.map(|Object(s)| ServiceStatus {
                load_balancer: s.load_balancer,
                ..Default::default()
            }),
        }
    }
}

/// An EndpointSlice is read whole, with k8s-openapi's types below the metadata.
#[derive(Deserialize)]
#[serde(rename = "EndpointSlice", rename_all = "camelCase")]
pub struct EndpointSliceWire {
    #[serde(
        rename = "apiVersion",
        default,
        deserialize_with = "api_version_of::<_, EndpointSlice>"
    )]
    _api_version: (),
    metadata: Option<Object<MetaWire>>,
    address_type: Option<String>,
    endpoints: Option<Vec<Endpoint>>,
    ports: Option<Vec<EndpointPort>>,
}

impl From<EndpointSliceWire> for EndpointSlice {
    fn from(w: EndpointSliceWire) -> Self {
        EndpointSlice {
            metadata: w.metadata.map(|Object(m)| m.into()).unwrap_or_default(),
            address_type: w.address_type.unwrap_or_default(),
            endpoints: w.endpoints.unwrap_or_default(),
            ports: w.ports,
        }
    }
}

/// Legacy Endpoints, read whole below the metadata (the EndpointSlice mirroring controller).
#[derive(Deserialize)]
#[serde(rename = "Endpoints")]
pub struct EndpointsWire {
    #[serde(
        rename = "apiVersion",
        default,
        deserialize_with = "api_version_of::<_, Endpoints>"
    )]
    _api_version: (),
    metadata: Option<Object<MetaWire>>,
    subsets: Option<Vec<EndpointSubset>>,
}

impl From<EndpointsWire> for Endpoints {
    fn from(w: EndpointsWire) -> Self {
        Endpoints {
            metadata: w.metadata.map(|Object(m)| m.into()).unwrap_or_default(),
            subsets: w.subsets,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename = "Pod")]
pub struct PodWire {
    #[serde(
        rename = "apiVersion",
        default,
        deserialize_with = "api_version_of::<_, Pod>"
    )]
    _api_version: (),
    metadata: Option<Object<MetaWire>>,
    spec: Option<Object<PodSpecWire>>,
    status: Option<Object<PodStatusWire>>,
}

/// `nodeName`: which node's endpoints are local; `containers[].ports`: named `targetPort`s
/// (cluster::slices), and their count for `kubectl get pods`.
#[derive(Deserialize)]
#[serde(rename = "PodSpec", rename_all = "camelCase")]
struct PodSpecWire {
    node_name: Option<String>,
    containers: Option<Vec<Object<ContainerWire>>>,
}

#[derive(Deserialize)]
#[serde(rename = "Container")]
struct ContainerWire {
    name: Option<String>,
    ports: Option<Vec<ContainerPort>>,
}

/// The endpoint's address, readiness and phase (cluster::slices::derive).
#[derive(Deserialize)]
#[serde(rename = "PodStatus")]
struct PodStatusWire {
    phase: Option<String>,
    #[serde(rename = "podIP")]
    pod_ip: Option<String>,
    #[serde(rename = "podIPs")]
    pod_ips: Option<Vec<PodIP>>,
    conditions: Option<Vec<Object<PodConditionWire>>>,
}

#[derive(Deserialize)]
#[serde(rename = "PodCondition")]
struct PodConditionWire {
    #[serde(rename = "type")]
    type_: Option<String>,
    status: Option<String>,
}

impl From<PodSpecWire> for PodSpec {
    fn from(w: PodSpecWire) -> Self {
        PodSpec {
            node_name: w.node_name,
            containers: w
                .containers
                .unwrap_or_default()
                .into_iter()
                .map(|Object(c)| Container {
                    name: c.name.unwrap_or_default(),
                    ports: c.ports,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }
}

impl From<PodWire> for Pod {
    fn from(w: PodWire) -> Self {
        Pod {
            metadata: w.metadata.map(|Object(m)| m.into()).unwrap_or_default(),
            spec: w.spec.map(|Object(s)| s.into()),
            status: w.status.map(|Object(s)| PodStatus {
                phase: s.phase,
                pod_ip: s.pod_ip,
                pod_ips: s.pod_ips,
                conditions: s.conditions.map(|c| {
                    c.into_iter()
                        .map(|Object(c)| PodCondition {
                            type_: c.type_.unwrap_or_default(),
                            status: c.status.unwrap_or_default(),
                            ..Default::default()
                        })
                        .collect()
                }),
                ..Default::default()
            }),
        }
    }
}

/// The Deployment controller's inputs for the Pods kpx makes up when none are written
/// (cluster::slices::pods_for_deployments): replicas, selector, the template's labels and spec.
#[derive(Deserialize)]
#[serde(rename = "Deployment")]
pub struct DeploymentWire {
    #[serde(
        rename = "apiVersion",
        default,
        deserialize_with = "api_version_of::<_, Deployment>"
    )]
    _api_version: (),
    metadata: Option<Object<MetaWire>>,
    spec: Option<Object<DeploymentSpecWire>>,
}

#[derive(Deserialize)]
#[serde(rename = "DeploymentSpec")]
struct DeploymentSpecWire {
    replicas: Option<i32>,
    selector: Option<LabelSelector>,
    template: Option<Object<PodTemplateWire>>,
}

#[derive(Deserialize)]
#[serde(rename = "PodTemplateSpec")]
struct PodTemplateWire {
    metadata: Option<Object<MetaWire>>,
    spec: Option<Object<PodSpecWire>>,
}

impl From<DeploymentWire> for Deployment {
    fn from(w: DeploymentWire) -> Self {
        Deployment {
            metadata: w.metadata.map(|Object(m)| m.into()).unwrap_or_default(),
            spec: w.spec.map(|Object(s)| {
                let template = s.template.map(|Object(t)| t).unwrap_or(PodTemplateWire {
                    metadata: None,
                    spec: None,
                });
                DeploymentSpec {
                    replicas: s.replicas,
                    selector: s.selector.unwrap_or_default(),
                    template: PodTemplateSpec {
                        metadata: template.metadata.map(|Object(m)| m.into()),
                        spec: template.spec.map(|Object(s)| s.into()),
                    },
                    ..Default::default()
                }
            }),
            status: None,
        }
    }
}

/// The node's addresses (NodePorts, the walk's source) and Pod CIDR (cluster::node_facts).
#[derive(Deserialize)]
#[serde(rename = "Node")]
pub struct NodeWire {
    #[serde(
        rename = "apiVersion",
        default,
        deserialize_with = "api_version_of::<_, Node>"
    )]
    _api_version: (),
    metadata: Option<Object<MetaWire>>,
    spec: Option<Object<NodeSpecWire>>,
    status: Option<Object<NodeStatusWire>>,
}

#[derive(Deserialize)]
#[serde(rename = "NodeSpec")]
struct NodeSpecWire {
    #[serde(rename = "podCIDR")]
    pod_cidr: Option<String>,
    #[serde(rename = "podCIDRs")]
    pod_cidrs: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename = "NodeStatus")]
struct NodeStatusWire {
    addresses: Option<Vec<NodeAddress>>,
}

impl From<NodeWire> for Node {
    fn from(w: NodeWire) -> Self {
        Node {
            metadata: w.metadata.map(|Object(m)| m.into()).unwrap_or_default(),
            spec: w.spec.map(|Object(s)| NodeSpec {
                pod_cidr: s.pod_cidr,
                pod_cidrs: s.pod_cidrs,
                ..Default::default()
            }),
            status: w.status.map(|Object(s)| NodeStatus {
                addresses: s.addresses,
                ..Default::default()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rfc3339;
    use k8s_openapi::jiff::Timestamp;
    use proptest::prelude::*;

    /// What jiff (k8s-openapi's reader) makes of a timestamp.
    fn jiff(text: &str) -> Option<Timestamp> {
        text.parse().ok()
    }

    fn ours(text: &str) -> Option<Timestamp> {
        rfc3339(text)
    }

    proptest! {
        /// Any instant jiff prints, in UTC or at an offset, with or without a fraction, reads
        /// back to the same instant.
        #[test]
        fn reads_what_jiff_reads(
            seconds in -62_135_596_800i64..253_402_300_799,
            nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000],
            offset_minutes in prop_oneof![Just(0i32), -(23 * 60 + 59)..(23 * 60 + 59)],
        ) {
            let t = Timestamp::new(seconds, nanos as i32).unwrap();
            let offset = k8s_openapi::jiff::tz::Offset::from_seconds(offset_minutes * 60).unwrap();
            let text = t.display_with_offset(offset).to_string();
            prop_assert_eq!(ours(&text), jiff(&text), "{}", text);
            prop_assert_eq!(ours(&text), Some(t), "{}", text);
        }
    }

    #[test]
    fn refuses_what_is_not_a_timestamp() {
        for text in [
            "",
            "yesterday",
            "2024-05-01",
            "2024-05-01T12:00:00",
            "2024-13-01T12:00:00Z",
            "2023-02-29T12:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:00:00.Z",
            "2024-05-01T12:00:00+0100",
            "2024-05-01T12:00:00Zjunk",
            "２024-05-01T12:00:00Z",
        ] {
            assert_eq!(ours(text), None, "{text}");
        }
        assert_eq!(ours("2024-02-29T00:00:00Z"), jiff("2024-02-29T00:00:00Z"));
        assert_eq!(ours("1970-01-01T00:00:00Z"), Some(Timestamp::UNIX_EPOCH));
        assert_eq!(ours("2016-12-31T23:59:60Z"), jiff("2016-12-31T23:59:60Z"));
        assert_eq!(ours("2016-12-31T23:59:61Z"), None);
    }
}
