//! Drive a cluster of HTTP nodes as one from plain blocking Rust.
//!
//! A [`ClusterClient`] keeps a pool of connections and a health state for
//! every node, picks nodes for single requests (round robin, random or
//! fallback, with failover), fans an operation out to all nodes in parallel,
//! retries transient failures with exponential backoff, and applies changes
//! to every node all-or-nothing as a saga, compensating what already
//! succeeded when a later step fails.
//!
//! ```
//! use cluster_client::testkit::TestCluster;
//! use cluster_client::ClusterClient;
//!
//! let nodes = TestCluster::start(3)?; // in-process nodes on 127.0.0.1
//! let client = ClusterClient::builder().hosts(nodes.urls()).build()?;
//! client.create_group("example-group")?;
//! let undeleted = client.delete_group("example-group")?;
//! assert!(undeleted.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Start with [`ClusterClient::builder`] (or a TOML file:
//! [`ClientBuilder::config_file`]); group operations are
//! [`ClusterClient::create_group`], [`ClusterClient::delete_group`] and
//! [`ClusterClient::verify_group`]; [`ClusterClient::cluster_management`]
//! shows health and metrics, [`ClusterClient::cluster`] administers an
//! ArangoDB-style cluster, and [`Saga`] applies your own changes all or
//! nothing. The README (on the crate's page) walks through each, with the
//! wire protocol, the settings, the guarantees and the architecture.
//!
//! Failures are typed: [`Error::GroupOperation`] names every node where
//! things stand otherwise than asked (`failed_hosts`,
//! `rollback_failed_hosts`, `possible_orphans`).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_code)]
#![warn(missing_docs)]
// `Error::GroupOperation` carries plain host lists as named fields (a fixed
// part of the public API users match on), which makes `Error` large; errors
// are the cold path here, so boxing them would buy nothing measurable.
#![allow(clippy::result_large_err)]

mod address;
mod admin;
mod client;
mod cluster;
mod config;
mod error;
mod groups;
mod journal;
mod management;
mod node;
mod options;
mod random;
mod request;
mod retry;
mod saga;
mod transport;

#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;

#[cfg(feature = "ffi")]
#[cfg_attr(docsrs, doc(cfg(feature = "ffi")))]
#[allow(unsafe_code)]
pub mod ffi;

pub use address::HostAddress;
pub use admin::{
    ClusterAdmin, ClusterHealth, HealthRole, MaintenanceMode, ServerEngine, ServerHealth,
    ServerMaintenance, ServerRole, ServerStatistics, ServerStatus, ServerVersion,
};
pub use client::{CallOptions, ClusterClient};
pub use cluster::{
    CancelToken, HedgeCounts, HedgeDelay, Hedging, HostResolver, NodeResponse, COMPENSATION_GRACE,
};
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub use config::ClientConfig;
pub use config::{parse_duration, ClientBuilder, DurationError, DurationErrorKind};
pub use error::{Cause, Error, JournalErrorKind, NodeError, NodeFailure};
#[cfg(feature = "journal")]
#[cfg_attr(docsrs, doc(cfg(feature = "journal")))]
pub use groups::{
    Attention, RecoveredSaga, RecoveryReport, RepairAction, Repaired, SagaKind, SagaOutcome,
};
pub use groups::{
    GroupApi, GroupEndpoint, GroupPresence, Intent, NodeDeletion, NodeRepair, RepairReport,
};
pub use management::ClusterManagement;
pub use node::load::LatencySummary;
pub use node::metrics::{ConnectionPoolMetrics, MetricInfo, MetricKind, POOL_METRICS};
pub use retry::{RetryBudget, RetryPolicy};
pub use saga::{CompensationFailure, Compensations, Saga};

/// The README's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Makes a host name resolve to `addr` for every client in this process,
/// before DNS (or, with `None`, to what DNS says again): for tests of a
/// name that moves (feature `testkit`). Connections already open stay
/// where they are until they close (see `ClientBuilder::max_connection_lifetime`).
#[cfg(feature = "testkit")]
pub fn testkit_resolve_name_to(name: &str, addr: Option<std::net::SocketAddr>) {
    transport::resolve_name_to(name, addr);
}
