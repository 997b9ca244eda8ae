//! kpx-core: from Kubernetes YAML to exactly what kube-proxy programs on a node.
//!
//! The pipeline (see ARCHITECTURE.md):
//! `text → input::parse → Scenario → cluster::build → Cluster → iptables::build → Dataplane → render`.
//! Pure: no I/O, no clock, no randomness; builds for wasm32-unknown-unknown unchanged.

pub mod changes;
pub mod cluster;
pub mod diag;
pub mod explain;
pub mod input;
pub mod iptables;
pub mod ipvs;
mod members;
pub mod net;
pub mod nftables;
pub mod pace;
pub mod proxy;
pub mod scale;
pub mod share;
pub mod trace;
pub mod views;

pub use diag::{Diagnostic, InputError, Pos, Severity};
