//! What the administration calls return: roles, health, engines,
//! versions, statistics and maintenance states, typed.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

/// A server's role in an ArangoDB deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerRole {
    /// A single server.
    Single,
    /// A coordinator.
    Coordinator,
    /// A DB-server (primary).
    Primary,
    /// A secondary (legacy replication).
    Secondary,
    /// An agent.
    Agent,
    /// Not yet known to the server.
    Undefined,
    /// A role this crate does not know.
    Other(String),
}

impl ServerRole {
    /// The name ArangoDB uses, e.g. `COORDINATOR`.
    pub fn as_str(&self) -> &str {
        match self {
            ServerRole::Single => "SINGLE",
            ServerRole::Coordinator => "COORDINATOR",
            ServerRole::Primary => "PRIMARY",
            ServerRole::Secondary => "SECONDARY",
            ServerRole::Agent => "AGENT",
            ServerRole::Undefined => "UNDEFINED",
            ServerRole::Other(s) => s,
        }
    }

    pub(super) fn parse(s: &str) -> ServerRole {
        match s.to_ascii_uppercase().as_str() {
            "SINGLE" => ServerRole::Single,
            "COORDINATOR" => ServerRole::Coordinator,
            "PRIMARY" => ServerRole::Primary,
            "SECONDARY" => ServerRole::Secondary,
            "AGENT" => ServerRole::Agent,
            "UNDEFINED" => ServerRole::Undefined,
            _ => ServerRole::Other(s.to_string()),
        }
    }
}

impl fmt::Display for ServerRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One server's entry in [`ClusterHealth`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ServerHealth {
    /// `Coordinator`, `DBServer` or `Agent`.
    #[serde(rename = "Role", default)]
    pub role: String,
    /// `GOOD`, `BAD` or `FAILED`.
    #[serde(rename = "Status", default)]
    pub status: String,
    /// The server's endpoint, e.g. `tcp://127.0.0.1:8529`.
    #[serde(rename = "Endpoint", default)]
    pub endpoint: Option<String>,
    /// The short name, e.g. `Coordinator0001`.
    #[serde(rename = "ShortName", default)]
    pub short_name: Option<String>,
    /// The server version.
    #[serde(rename = "Version", default)]
    pub version: Option<String>,
    /// Every field as sent, known or not.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The cluster's health as a coordinator sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterHealth {
    /// The cluster id.
    pub cluster_id: String,
    /// Every server by id.
    pub servers: BTreeMap<String, ServerHealth>,
}

/// A server's storage engine.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ServerEngine {
    /// The engine's name, e.g. `rocksdb`.
    pub name: String,
    /// What it supports, as sent.
    #[serde(default)]
    pub supports: Value,
}

/// A server's version.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ServerVersion {
    /// The server kind, e.g. `arango`.
    pub server: String,
    /// The version, e.g. `3.11.0`.
    pub version: String,
    /// The license, when sent.
    #[serde(default)]
    pub license: Option<String>,
}

/// A server's statistics: the common fields typed, the rest in `raw`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerStatistics {
    /// Server time (seconds since the epoch).
    pub time: f64,
    /// Whether statistics are enabled.
    pub enabled: bool,
    /// The `system` object, as sent.
    pub system: Value,
    /// The whole answer.
    pub raw: Value,
}

/// The cluster-wide (supervision) maintenance mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaintenanceMode {
    /// Maintenance on.
    On,
    /// Maintenance off.
    Off,
}

/// A DB-server's maintenance state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerMaintenance {
    /// The mode, e.g. `maintenance`.
    pub mode: String,
    /// Until when, as sent.
    pub until: Option<String>,
}
