//! Cluster administration over ArangoDB's coordinator REST API (what
//! python-arango's `Cluster` wraps). Any coordinator answers, so every call
//! goes through the host resolver with failover.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

mod types;

pub use self::types::{
    ClusterHealth, HealthRole, MaintenanceMode, ServerEngine, ServerHealth, ServerMaintenance,
    ServerRole, ServerStatistics, ServerStatus, ServerVersion,
};

use crate::address::{encode_segment, HostAddress};
use crate::cluster::{CallScope, Cluster};
use crate::error::{body_excerpt, Error};
use crate::request::{Method, RequestPath};

/// Cluster administration, from [`ClusterClient::cluster`](crate::ClusterClient::cluster).
///
/// ```
/// use cluster_client::testkit::TestCluster;
/// use cluster_client::{ClusterClient, MaintenanceMode, ServerRole};
///
/// let nodes = TestCluster::start(2)?;
/// let client = ClusterClient::new(nodes.urls())?;
/// let c = client.cluster();
/// assert_eq!(c.server_role()?, ServerRole::Coordinator);
/// assert_eq!(c.server_count()?, 2);
/// c.toggle_maintenance_mode(MaintenanceMode::On)?;
/// assert!(nodes.node(0).maintenance());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ClusterAdmin {
    cluster: Arc<Cluster>,
    database: Option<String>,
    /// The calls' settings, those of the client handle it came from.
    scope: CallScope,
}

impl fmt::Debug for ClusterAdmin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterAdmin")
            .field(
                "nodes",
                &self
                    .cluster
                    .nodes()
                    .iter()
                    .map(|n| n.address.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("database", &self.database)
            .finish()
    }
}

impl ClusterAdmin {
    /// Administration over `cluster`'s nodes; paths get the `/_db/<name>`
    /// prefix when a database is given.
    pub(crate) fn new(cluster: Arc<Cluster>, database: Option<String>, scope: CallScope) -> Self {
        ClusterAdmin {
            cluster,
            database,
            scope,
        }
    }

    fn path(&self, p: &str) -> String {
        match &self.database {
            Some(db) => format!("/_db/{}{p}", encode_segment(db)),
            None => p.to_string(),
        }
    }

    /// Sends one request and returns the node's JSON answer; ArangoDB
    /// error bodies, non-2xx statuses and malformed JSON are typed errors.
    fn call(
        &self,
        method: &Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<JsonAnswer, Error> {
        let path = self.path(path);
        let resp =
            self.cluster
                .request_one(&self.scope, method, RequestPath::parse(&path)?, body)?;
        let parsed: Result<Value, _> = serde_json::from_slice(&resp.body);
        if let Ok(v) = &parsed {
            if v.get("error").and_then(Value::as_bool) == Some(true) {
                return Err(Error::Arango {
                    host: resp.host,
                    path,
                    status: resp.status,
                    error_num: v.get("errorNum").and_then(Value::as_i64).unwrap_or(0),
                    message: v
                        .get("errorMessage")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                });
            }
        }
        if !(200..300).contains(&resp.status) {
            return Err(Error::UnexpectedResponse {
                host: resp.host,
                path,
                status: resp.status,
                reason: format!("unexpected status: {}", body_excerpt(&resp.body)),
            });
        }
        match parsed {
            Ok(value) => Ok(JsonAnswer {
                host: resp.host,
                path,
                status: resp.status,
                value,
            }),
            Err(e) => Err(Error::UnexpectedResponse {
                host: resp.host,
                path,
                status: resp.status,
                reason: format!("invalid JSON: {e}"),
            }),
        }
    }

    fn get(&self, path: &str) -> Result<JsonAnswer, Error> {
        self.call(&Method::GET, path, None)
    }

    fn get_typed<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, Error> {
        let a = self.get(path)?;
        serde_json::from_value(a.value.clone())
            .map_err(|e| a.malformed(format!("unexpected JSON shape: {e}")))
    }

    /// The id of the server that answered (`GET /_admin/server/id`).
    pub fn server_id(&self) -> Result<String, Error> {
        let path = "/_admin/server/id";
        let a = self.get(path)?;
        string_field(&a.value, "id").ok_or_else(|| a.malformed("missing or malformed field: id"))
    }

    /// The role of the server that answered (`GET /_admin/server/role`).
    pub fn server_role(&self) -> Result<ServerRole, Error> {
        let path = "/_admin/server/role";
        let a = self.get(path)?;
        string_field(&a.value, "role")
            .map(|r| ServerRole::from_sent(&r))
            .ok_or_else(|| a.malformed("missing or malformed field: role"))
    }

    /// The cluster's health (`GET /_admin/cluster/health`).
    pub fn health(&self) -> Result<ClusterHealth, Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "ClusterId", default)]
            cluster_id: String,
            #[serde(rename = "Health")]
            health: BTreeMap<String, ServerHealth>,
        }
        let raw: Raw = self.get_typed("/_admin/cluster/health")?;
        Ok(ClusterHealth {
            cluster_id: raw.cluster_id,
            servers: raw.health,
        })
    }

    /// The number of servers: the non-null counts of
    /// `GET /_admin/cluster/numberOfServers` added up, or, when the cluster
    /// reports none, the entries of [`health`](Self::health).
    pub fn server_count(&self) -> Result<usize, Error> {
        let path = "/_admin/cluster/numberOfServers";
        let a = self.get(path)?;
        let obj = a
            .value
            .as_object()
            .ok_or_else(|| a.malformed("expected a JSON object"))?;
        let mut total: Option<u64> = None;
        for key in [
            "numberOfCoordinators",
            "numberOfDBServers",
            "numberOfAgents",
        ] {
            match obj.get(key) {
                None | Some(Value::Null) => {}
                Some(n) => {
                    let n = n
                        .as_u64()
                        .ok_or_else(|| a.malformed(format!("{key} is not a count")))?;
                    total = Some(total.unwrap_or(0) + n);
                }
            }
        }
        match total {
            Some(t) if t > 0 => Ok(t as usize),
            _ => Ok(self.health()?.servers.len()),
        }
    }

    fn server_query(&self, what: &str, server_id: &str) -> String {
        format!(
            "/_admin/cluster/{what}?ServerID={}",
            encode_segment(server_id)
        )
    }

    /// A server's storage engine (`GET /_admin/cluster/nodeEngine?ServerID=`).
    pub fn server_engine(&self, server_id: &str) -> Result<ServerEngine, Error> {
        self.get_typed(&self.server_query("nodeEngine", server_id))
    }

    /// A server's version (`GET /_admin/cluster/nodeVersion?ServerID=`).
    pub fn server_version(&self, server_id: &str) -> Result<ServerVersion, Error> {
        self.get_typed(&self.server_query("nodeVersion", server_id))
    }

    /// A server's statistics (`GET /_admin/cluster/nodeStatistics?ServerID=`).
    pub fn server_statistics(&self, server_id: &str) -> Result<ServerStatistics, Error> {
        let path = self.server_query("nodeStatistics", server_id);
        let a = self.get(&path)?;
        let v = a.value.clone();
        let time = v
            .get("time")
            .and_then(Value::as_f64)
            .ok_or_else(|| a.malformed("missing or malformed field: time"))?;
        let enabled = v.get("enabled").and_then(Value::as_bool).unwrap_or(true);
        let system = v.get("system").cloned().unwrap_or(Value::Null);
        Ok(ServerStatistics {
            time,
            enabled,
            system,
            raw: v,
        })
    }

    /// Turns the cluster's maintenance mode on or off
    /// (`PUT /_admin/cluster/maintenance` with `"on"`/`"off"`).
    pub fn toggle_maintenance_mode(&self, mode: MaintenanceMode) -> Result<(), Error> {
        let body = match mode {
            MaintenanceMode::On => "\"on\"",
            MaintenanceMode::Off => "\"off\"",
        };
        self.call(
            &Method::PUT,
            "/_admin/cluster/maintenance",
            Some(body.as_bytes().to_vec()),
        )
        .map(|_| ())
    }

    /// A DB-server's maintenance state (`GET /_admin/cluster/maintenance/<id>`);
    /// `None` when it is in normal mode.
    pub fn server_maintenance_mode(
        &self,
        server_id: &str,
    ) -> Result<Option<ServerMaintenance>, Error> {
        let path = format!("/_admin/cluster/maintenance/{}", encode_segment(server_id));
        let v = self.get(&path)?.value;
        Ok(match v.get("result") {
            Some(Value::Object(r)) if !r.is_empty() => Some(ServerMaintenance {
                mode: r
                    .get("Mode")
                    .and_then(Value::as_str)
                    .unwrap_or("maintenance")
                    .to_string(),
                until: r.get("Until").and_then(Value::as_str).map(str::to_string),
            }),
            _ => None,
        })
    }

    /// Puts a DB-server into maintenance (`On`, for `timeout` if given) or
    /// back to normal (`Off`) (`PUT /_admin/cluster/maintenance/<id>`).
    pub fn toggle_server_maintenance_mode(
        &self,
        server_id: &str,
        mode: MaintenanceMode,
        timeout: Option<Duration>,
    ) -> Result<(), Error> {
        let path = format!("/_admin/cluster/maintenance/{}", encode_segment(server_id));
        let mut body = serde_json::Map::new();
        let mode = match mode {
            MaintenanceMode::On => "maintenance",
            MaintenanceMode::Off => "normal",
        };
        body.insert("mode".into(), Value::from(mode));
        if let Some(t) = timeout {
            body.insert("timeout".into(), Value::from(t.as_secs()));
        }
        let body = Value::Object(body).to_string().into_bytes();
        self.call(&Method::PUT, &path, Some(body)).map(|_| ())
    }

    /// The coordinator endpoints the cluster reports (`GET /_api/cluster/endpoints`).
    pub fn endpoints(&self) -> Result<Vec<String>, Error> {
        #[derive(Deserialize)]
        struct Endpoint {
            endpoint: String,
        }
        #[derive(Deserialize)]
        struct Raw {
            endpoints: Vec<Endpoint>,
        }
        let raw: Raw = self.get_typed("/_api/cluster/endpoints")?;
        Ok(raw.endpoints.into_iter().map(|e| e.endpoint).collect())
    }
}

fn string_field(v: &Value, key: &str) -> Option<String> {
    v.get(key)?.as_str().map(str::to_string)
}

/// A 2xx JSON answer from one node.
struct JsonAnswer {
    host: HostAddress,
    path: String,
    status: u16,
    value: Value,
}

impl JsonAnswer {
    /// The typed error for an answer this crate cannot use.
    fn malformed(&self, reason: impl Into<String>) -> Error {
        Error::UnexpectedResponse {
            host: self.host.clone(),
            path: self.path.clone(),
            status: self.status,
            reason: reason.into(),
        }
    }
}
