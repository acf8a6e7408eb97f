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
//! The layers (one module each): `client` (the facade), `groups` (the group
//! protocol and create saga), `admin` (cluster administration), `management`
//! (health and metrics), `saga`, `cluster` (resolver, fan-out, background
//! thread), `node` (pool, health, one attempt), `retry`, `transport` (the only
//! module that knows ureq), `address`, `error`.
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
mod management;
mod node;
mod retry;
mod saga;
mod transport;

#[cfg(feature = "testkit")]
pub mod testkit;

#[cfg(feature = "ffi")]
#[allow(unsafe_code)]
pub mod ffi;

pub use address::HostAddress;
pub use admin::{
    ClusterAdmin, ClusterHealth, MaintenanceMode, ServerEngine, ServerHealth, ServerMaintenance,
    ServerRole, ServerStatistics, ServerVersion,
};
pub use client::ClusterClient;
pub use cluster::{HostResolver, NodeResponse};
pub use config::{parse_duration, ClientBuilder, ClientConfig};
pub use error::{Cause, Error, NodeError, NodeFailure};
pub use groups::{GroupApi, GroupEndpoint, GroupPresence};
pub use management::ClusterManagement;
pub use node::metrics::{ConnectionPoolMetrics, MetricInfo, MetricKind, POOL_METRICS};
pub use retry::{RetryBudget, RetryPolicy};
pub use saga::{CompensationFailure, Compensations, Saga};

/// The README's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
