//! What the administration calls return: roles, health, engines,
//! versions, statistics and maintenance states, typed.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Defines a public enum of the names a server sends, with an `Other`
/// variant keeping any name this crate does not know (as sent, never an
/// error): `as_str` (the name), `Display`, `==` with a `str` or `&str`,
/// and (de)serialisation as the name. Known names match ignoring ASCII case.
macro_rules! sent_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* $variant,)+
            /// A name this crate does not know, as the server sent it.
            Other(String),
        }

        impl $name {
            /// The name as ArangoDB spells it (for `Other`, as sent).
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(s) => s,
                }
            }

            /// The variant a server's name stands for; an unknown name is `Other`.
            pub(crate) fn from_sent(s: &str) -> $name {
                $(if s.eq_ignore_ascii_case($text) {
                    return $name::$variant;
                })+
                $name::Other(s.to_string())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let sent = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok($name::from_sent(&sent))
            }
        }
    };
}

sent_enum! {
    /// A server's role in an ArangoDB deployment, as
    /// [`ClusterAdmin::server_role`](crate::ClusterAdmin::server_role)
    /// reports it (`GET /_admin/server/role`). Compares equal to its name:
    /// `role == "COORDINATOR"`.
    ServerRole {
        /// A single server.
        Single => "SINGLE",
        /// A coordinator.
        Coordinator => "COORDINATOR",
        /// A DB-server (primary).
        Primary => "PRIMARY",
        /// A secondary (legacy replication).
        Secondary => "SECONDARY",
        /// An agent.
        Agent => "AGENT",
        /// Not yet known to the server.
        Undefined => "UNDEFINED",
    }
}

sent_enum! {
    /// A server's role as the cluster health report spells it
    /// ([`ServerHealth::role`]). Compares equal to its name:
    /// `role == "Coordinator"`.
    HealthRole {
        /// A coordinator.
        Coordinator => "Coordinator",
        /// A DB-server.
        DbServer => "DBServer",
        /// An agent.
        Agent => "Agent",
    }
}

sent_enum! {
    /// A server's status in the cluster health report ([`ServerHealth::status`]),
    /// as the agency's supervision judges it. Compares equal to its name:
    /// `status == "GOOD"`.
    ServerStatus {
        /// Heartbeats arrive.
        Good => "GOOD",
        /// Heartbeats are missing for a short while.
        Bad => "BAD",
        /// Heartbeats are missing for long: the server is taken as failed.
        Failed => "FAILED",
    }
}

/// Nothing sent: `Other("")`.
impl Default for HealthRole {
    fn default() -> Self {
        HealthRole::Other(String::new())
    }
}

/// Nothing sent: `Other("")`.
impl Default for ServerStatus {
    fn default() -> Self {
        ServerStatus::Other(String::new())
    }
}

/// One server's entry in [`ClusterHealth`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ServerHealth {
    /// `Coordinator`, `DBServer` or `Agent` (any other name as sent, in
    /// [`HealthRole::Other`]).
    #[serde(rename = "Role", default)]
    pub role: HealthRole,
    /// `GOOD`, `BAD` or `FAILED` (any other name as sent, in
    /// [`ServerStatus::Other`]).
    #[serde(rename = "Status", default)]
    pub status: ServerStatus,
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
