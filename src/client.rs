//! [`ClusterClient`] and its [`ClientBuilder`]: the facade users hold.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::address::HostAddress;
use crate::cluster::{start_background, CallDefaults, Callbacks, Cluster, HostResolver};
use crate::error::{Error, NodeError, NodeFailure};
use crate::groups::{self, GroupApi, GroupPresence};
use crate::management::ClusterManagement;
use crate::node::health::ProbeSchedule;
use crate::node::pool::PoolLimits;
use crate::node::{Node, NodeSettings};
use crate::retry::{RetryBudget, RetryPolicy};
use crate::transport::{Headers, TransportConfig};

/// A node's answer to [`ClusterClient::request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeResponse {
    /// The node that answered.
    pub host: HostAddress,
    /// The HTTP status.
    pub status: u16,
    /// The whole body (at most `max_response_bytes`).
    pub body: Vec<u8>,
}

/// A secret that never shows in `Debug` or `Display`.
#[derive(Clone)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Builds a [`ClusterClient`]; every setting has a validated default.
///
/// ```
/// use std::time::Duration;
/// use cluster_client::{ClusterClient, HostResolver, RetryPolicy};
///
/// let client = ClusterClient::builder()
///     .hosts(["http://127.0.0.1:8000", "http://127.0.0.1:8001"])
///     .retry_policy(RetryPolicy::exponential(3, Duration::from_millis(100), Duration::from_secs(2)))
///     .host_resolver(HostResolver::RoundRobin)
///     .max_connections_per_node(4)
///     .connect_timeout(Duration::from_secs(2))
///     .request_timeout(Duration::from_secs(5))
///     .operation_timeout(Duration::from_secs(30))
///     .build()?;
/// assert_eq!(client.cluster_management().nodes().len(), 2);
/// # Ok::<(), cluster_client::Error>(())
/// ```
#[must_use]
pub struct ClientBuilder {
    hosts: Result<Vec<HostAddress>, Error>,
    policy: RetryPolicy,
    budget: Option<RetryBudget>,
    resolver: HostResolver,
    max_connections: usize,
    min_connections: usize,
    purge_after: Option<Duration>,
    connect_timeout: Duration,
    request_timeout: Duration,
    operation_timeout: Duration,
    max_response_bytes: usize,
    unhealthy_after: u32,
    probe_interval: Duration,
    probe_path: String,
    callbacks: Callbacks,
    basic_auth: Option<(String, Secret)>,
    bearer: Option<Secret>,
    fan_out_threads: Option<usize>,
    database: Option<String>,
    proxy_from_env: bool,
    root_certs_pem: Option<Vec<u8>>,
    group_api: GroupApi,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            hosts: Err(Error::NoHosts),
            policy: RetryPolicy::default(),
            budget: None,
            resolver: HostResolver::RoundRobin,
            max_connections: 8,
            min_connections: 1,
            purge_after: Some(Duration::from_secs(60)),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(60),
            max_response_bytes: 1024 * 1024,
            unhealthy_after: 3,
            probe_interval: Duration::from_secs(1),
            probe_path: "/".to_string(),
            callbacks: Callbacks::default(),
            basic_auth: None,
            bearer: None,
            fan_out_threads: None,
            database: None,
            proxy_from_env: false,
            root_certs_pem: None,
            group_api: GroupApi::default(),
        }
    }
}

impl ClientBuilder {
    /// The nodes, e.g. `["http://127.0.0.1:8000", "http://127.0.0.1:8001"]`.
    pub fn hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.hosts = HostAddress::parse_all(hosts);
        self
    }

    /// The nodes as a comma-separated string (the form of `HOSTS`).
    pub fn hosts_str(mut self, hosts: &str) -> Self {
        self.hosts = HostAddress::parse_list(hosts);
        self
    }

    /// Attempts and backoff of per-node calls (default: 3 attempts from 1 s, capped at 10 s).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The client-wide retry budget (default: 20 % of first attempts plus 10 a second).
    pub fn retry_budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// How one-node requests pick their node (default round robin).
    pub fn host_resolver(mut self, resolver: HostResolver) -> Self {
        self.resolver = resolver;
        self
    }

    /// Connections (slots) per node at most (default 8).
    pub fn max_connections_per_node(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// Idle connections per node the purge keeps (default 1).
    pub fn min_connections_per_node(mut self, n: usize) -> Self {
        self.min_connections = n;
        self
    }

    /// Close idle connections unused for this long (default 60 s; `None` never).
    pub fn purge_unused_connections_after(mut self, after: Option<Duration>) -> Self {
        self.purge_after = after;
        self
    }

    /// Bound on one TCP connect (default 5 s).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Bound on one attempt, from its start to the last body byte (default 10 s).
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = t;
        self
    }

    /// Bound on all attempts and backoff of one call (default 60 s).
    pub fn operation_timeout(mut self, t: Duration) -> Self {
        self.operation_timeout = t;
        self
    }

    /// Largest response body read (default 1 MiB); larger is an error.
    pub fn max_response_bytes(mut self, n: usize) -> Self {
        self.max_response_bytes = n;
        self
    }

    /// Consecutive failed attempts that make a node unhealthy (default 3).
    pub fn unhealthy_after(mut self, n: u32) -> Self {
        self.unhealthy_after = n;
        self
    }

    /// First probe delay of an unhealthy node; it doubles up to 60 s (default 1 s).
    pub fn probe_interval(mut self, d: Duration) -> Self {
        self.probe_interval = d;
        self
    }

    /// The path unhealthy nodes are probed with: `GET path`, and any answer
    /// below 500 makes the node healthy again (default `/`).
    pub fn probe_path(mut self, path: impl AsRef<str>) -> Self {
        self.probe_path = path.as_ref().to_string();
        self
    }

    /// Called once each time a node turns unhealthy, on the background
    /// thread, with no lock held; a panic in it is caught and logged.
    pub fn on_node_unhealthy<F>(mut self, f: F) -> Self
    where
        F: Fn(&HostAddress) + Send + Sync + 'static,
    {
        self.callbacks.on_unhealthy = Some(Arc::new(f));
        self
    }

    /// Called once each time a node turns healthy again (as `on_node_unhealthy`).
    pub fn on_node_healthy<F>(mut self, f: F) -> Self
    where
        F: Fn(&HostAddress) + Send + Sync + 'static,
    {
        self.callbacks.on_healthy = Some(Arc::new(f));
        self
    }

    /// HTTP basic authentication on every request. Never logged or shown.
    pub fn basic_auth(mut self, user: impl AsRef<str>, password: impl AsRef<str>) -> Self {
        self.basic_auth = Some((
            user.as_ref().to_string(),
            Secret(password.as_ref().to_string()),
        ));
        self
    }

    /// A bearer token on every request. Never logged or shown.
    pub fn bearer_token(mut self, token: impl AsRef<str>) -> Self {
        self.bearer = Some(Secret(token.as_ref().to_string()));
        self
    }

    /// Threads of the fan-out pool (default `max(4, 2 × nodes)`, capped at 64).
    pub fn fan_out_threads(mut self, n: usize) -> Self {
        self.fan_out_threads = Some(n);
        self
    }

    /// Administration paths get the `/_db/<name>` prefix.
    pub fn database(mut self, name: impl AsRef<str>) -> Self {
        self.database = Some(name.as_ref().to_string());
        self
    }

    /// Use the proxy from the environment (`HTTP_PROXY`, `ALL_PROXY`, …).
    /// Off by default: cluster traffic must not leave through a proxy unless asked.
    pub fn use_env_proxy(mut self, yes: bool) -> Self {
        self.proxy_from_env = yes;
        self
    }

    /// Trust only the root certificates in this PEM text for `https://`
    /// nodes (a private cluster's CA) instead of the WebPKI roots.
    pub fn root_certificates_pem(mut self, pem: &[u8]) -> Self {
        self.root_certs_pem = Some(pem.to_vec());
        self
    }

    /// How groups are created, verified and deleted (default: the reference service).
    pub fn group_api(mut self, api: GroupApi) -> Self {
        self.group_api = api;
        self
    }

    /// Checks the settings and starts the client (its background thread included).
    pub fn build(self) -> Result<ClusterClient, Error> {
        let hosts = self.hosts?;
        let invalid = |m: &str| Err(Error::InvalidConfig(m.to_string()));
        if self.max_connections == 0 {
            return invalid("max_connections_per_node must be at least 1");
        }
        if self.min_connections > self.max_connections {
            return invalid("min_connections_per_node exceeds max_connections_per_node");
        }
        // Longer than this, a setting is a mistake, and it would overflow
        // `Instant` arithmetic (e.g. `Duration::MAX`).
        const LONGEST: Duration = Duration::from_secs(365 * 86_400);
        for (name, d) in [
            ("connect_timeout", self.connect_timeout),
            ("request_timeout", self.request_timeout),
            ("operation_timeout", self.operation_timeout),
            ("probe_interval", self.probe_interval),
            (
                "purge_unused_connections_after",
                self.purge_after.unwrap_or(Duration::from_secs(1)),
            ),
        ] {
            if d.is_zero() {
                return Err(Error::InvalidConfig(format!(
                    "{name} must be above zero{}",
                    if name.starts_with("purge") {
                        " (or None)"
                    } else {
                        ""
                    }
                )));
            }
            if d > LONGEST {
                return Err(Error::InvalidConfig(format!(
                    "{name} must be at most one year (got {d:?})"
                )));
            }
        }
        if self.policy.max_delay() > LONGEST {
            return invalid("the retry policy's max_delay must be at most one year");
        }
        self.group_api.validate()?;
        if self.max_response_bytes == 0 {
            return invalid("max_response_bytes must be at least 1");
        }
        if self.unhealthy_after == 0 {
            return invalid("unhealthy_after must be at least 1");
        }
        if let Err(e) = checked_path(&self.probe_path) {
            return Err(Error::InvalidConfig(format!("probe_path: {e}")));
        }
        if let Some(db) = &self.database {
            if groups::validate_group_id(db, false).is_err() {
                return invalid(
                    "database name must be 1-255 bytes without '/', '\\' or control characters",
                );
            }
        }
        let threads = match self.fan_out_threads {
            Some(0) => return invalid("fan_out_threads must be at least 1"),
            Some(n) => n.min(256),
            None => (2 * hosts.len()).clamp(4, 64),
        };
        let mut headers = Headers::default();
        headers.push_static("accept", "application/json");
        if let Some((user, Secret(password))) = &self.basic_auth {
            let encoded = base64(format!("{user}:{password}").as_bytes());
            headers.push("authorization", &format!("Basic {encoded}"), true)?;
        }
        if let Some(Secret(token)) = &self.bearer {
            headers.push("authorization", &format!("Bearer {token}"), true)?;
        }
        let transport = TransportConfig {
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            max_response_bytes: self.max_response_bytes,
            proxy_from_env: self.proxy_from_env,
            root_certs_pem: self.root_certs_pem.clone(),
            headers,
        };
        let settings = NodeSettings {
            limits: PoolLimits {
                max: self.max_connections,
                min_idle: self.min_connections,
                purge_after: self.purge_after,
            },
            unhealthy_after: self.unhealthy_after,
            probe: ProbeSchedule {
                first: self.probe_interval,
                max: Duration::from_secs(60).max(self.probe_interval),
                jitter: true,
            },
            probe_path: self.probe_path.clone(),
            attempt_time: self.request_timeout.min(self.operation_timeout),
        };
        let (events_tx, events_rx) = crossbeam_channel::unbounded();
        let nodes = hosts
            .into_iter()
            .enumerate()
            .map(|(i, h)| Node::new(i, h, &transport, &settings, events_tx.clone()).map(Arc::new))
            .collect::<Result<Vec<_>, Error>>()?;
        drop(events_tx);
        let cluster = Arc::new(Cluster::new(
            nodes,
            CallDefaults {
                policy: self.policy.clone(),
                operation_timeout: self.operation_timeout,
            },
            threads,
            self.budget.unwrap_or_default(),
            self.resolver,
            self.callbacks,
        ));
        let mut tick = self.probe_interval.min(Duration::from_secs(1));
        if let Some(p) = self.purge_after {
            tick = tick.min(p / 2);
        }
        let tick = tick.max(Duration::from_millis(1));
        start_background(&cluster, events_rx, tick).map_err(|source| Error::Os {
            context: "the background thread could not start".to_string(),
            source,
        })?;
        Ok(ClusterClient {
            inner: Arc::new(Inner {
                cluster,
                group_api: self.group_api,
                database: self.database,
                policy: self.policy,
                operation_timeout: self.operation_timeout,
                max_connections: self.max_connections,
                resolver: self.resolver,
                authenticated: self.basic_auth.is_some() || self.bearer.is_some(),
            }),
        })
    }
}

fn checked_method(method: &str) -> Result<String, Error> {
    let method = method.to_ascii_uppercase();
    if method.is_empty() || method.len() > 32 || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(Error::InvalidConfig(format!(
            "invalid HTTP method {method:?}"
        )));
    }
    Ok(method)
}

fn checked_path(path: &str) -> Result<(), Error> {
    if !path.starts_with('/') || path.chars().any(|c| c.is_control() || c == ' ') {
        return Err(Error::InvalidConfig(format!(
            "invalid request path {path:?}"
        )));
    }
    Ok(())
}

fn is_idempotent(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS")
}

/// Standard base64 (RFC 4648) for the basic-auth header.
fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

pub(crate) struct Inner {
    pub(crate) cluster: Arc<Cluster>,
    group_api: GroupApi,
    pub(crate) database: Option<String>,
    policy: RetryPolicy,
    operation_timeout: Duration,
    max_connections: usize,
    resolver: HostResolver,
    authenticated: bool,
}

/// A cluster of HTTP nodes driven as one. Cheap to clone (`Arc` inside),
/// `Send + Sync`; the last clone dropped stops its background thread.
///
/// ```
/// use cluster_client::testkit::TestCluster;
/// use cluster_client::ClusterClient;
///
/// let nodes = TestCluster::start(3)?;
/// let client = ClusterClient::new(nodes.urls())?;
/// client.create_group("example-group")?;
/// assert_eq!(nodes.nodes_with_group("example-group"), vec![0, 1, 2]);
/// let undeleted = client.delete_group("example-group")?;
/// assert!(undeleted.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ClusterClient {
    inner: Arc<Inner>,
}

impl ClusterClient {
    /// A builder with every default.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client for these hosts with every default.
    pub fn new<I, S>(hosts: I) -> Result<ClusterClient, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        ClientBuilder::default().hosts(hosts).build()
    }

    /// A client for the hosts in the `HOSTS` environment variable
    /// (comma-separated; see [`HostAddress::parse_list`]).
    pub fn from_env() -> Result<ClusterClient, Error> {
        let hosts = std::env::var("HOSTS").unwrap_or_default();
        ClientBuilder::default().hosts_str(&hosts).build()
    }

    /// Creates group `id` on every node, verifies it on every node, and rolls
    /// back (deletes it where this call created it) if any node fails.
    ///
    /// `Ok` means every node holds the group; a node that already had it
    /// (409) counts as holding it and is never rolled back, so running a
    /// create again converges. On failure the [`Error::GroupOperation`] names
    /// the failed nodes, the nodes where the rollback failed, and the nodes
    /// whose outcome is unknown (`possible_orphans`). If a node is known to be
    /// unhealthy it gets one attempt before any other node is touched, and
    /// the call fails at once if it is still down.
    pub fn create_group(&self, id: &str) -> Result<(), Error> {
        groups::create_group(&self.inner.cluster, &self.inner.group_api, id)
    }

    /// Deletes group `id` on every node; returns the nodes where that failed
    /// (empty: gone everywhere; a node without the group counts as deleted).
    /// `Err` only for an invalid id or after [`shutdown`](Self::shutdown).
    pub fn delete_group(&self, id: &str) -> Result<Vec<HostAddress>, Error> {
        Ok(self
            .delete_group_report(id)?
            .into_iter()
            .map(|f| f.host)
            .collect())
    }

    /// As [`delete_group`](Self::delete_group), with each failed node's reason.
    pub fn delete_group_report(&self, id: &str) -> Result<Vec<NodeFailure>, Error> {
        groups::delete_group(&self.inner.cluster, &self.inner.group_api, id)
    }

    /// Whether node `host` holds group `id`.
    pub fn verify_group(&self, host: &HostAddress, id: &str) -> Result<bool, Error> {
        groups::verify_group(&self.inner.cluster, &self.inner.group_api, host, id)
    }

    /// Whether each node holds group `id`, asked of every node at once (in
    /// node order); a node that gave no usable answer has its error.
    pub fn verify_group_everywhere(&self, id: &str) -> Result<GroupPresence, Error> {
        groups::verify_group_everywhere(&self.inner.cluster, &self.inner.group_api, id)
    }

    /// Sends one request to one node picked by the host resolver, failing
    /// over to the next node on a connection failure or a 503. Any status is
    /// `Ok`; `Err` only when no node answered, naming every node tried.
    ///
    /// `path` must start with `/`. GET, HEAD, PUT, DELETE and OPTIONS are
    /// retried after a lost answer; other methods only when the request
    /// never left or the node answered 429/503.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<NodeResponse, Error> {
        let method = checked_method(method)?;
        checked_path(path)?;
        self.send_one(
            &method,
            path.to_string(),
            body.map(<[u8]>::to_vec),
            is_idempotent(&method),
        )
    }

    /// Sends one request to node `host` (retried per the policy when the
    /// request is idempotent or never left). Any status is `Ok`; `Err` when
    /// the node gave no answer, or `host` is not one of the nodes.
    ///
    /// With [`Saga`](crate::Saga) this applies user-defined resources to
    /// every node all-or-nothing (see `examples/custom_resource.rs`).
    pub fn request_to(
        &self,
        host: &HostAddress,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<NodeResponse, Error> {
        let method = checked_method(method)?;
        checked_path(path)?;
        let cluster = &self.inner.cluster;
        if cluster.is_shut_down() {
            return Err(Error::Shutdown);
        }
        let idx = cluster
            .index_of(host)
            .ok_or_else(|| Error::UnknownHost(host.clone()))?;
        let op = Arc::new(cluster.operation(
            &method,
            path.to_string(),
            body.map(<[u8]>::to_vec),
            is_idempotent(&method),
            None,
        ));
        let outcome = cluster
            .fan_out(&[idx], op, &cluster.call_options())
            .pop()
            .map_or(Err(NodeError::Shutdown), |o| o.outcome);
        if cluster.is_shut_down() {
            return Err(Error::Shutdown);
        }
        match outcome {
            Ok(resp) if resp.oversized => Err(Error::Request {
                message: format!("{method} {path}: answer {} too large", resp.status),
                attempts: vec![NodeFailure {
                    host: host.clone(),
                    error: NodeError::BodyTooLarge {
                        limit: resp.body.len(),
                    },
                }],
            }),
            Ok(resp) => Ok(NodeResponse {
                host: host.clone(),
                status: resp.status,
                body: resp.body,
            }),
            Err(NodeError::Shutdown) => Err(Error::Shutdown),
            Err(error) => Err(Error::Request {
                message: format!("{method} {path} got no answer"),
                attempts: vec![NodeFailure {
                    host: host.clone(),
                    error,
                }],
            }),
        }
    }

    pub(crate) fn send_one(
        &self,
        method: &str,
        path: String,
        body: Option<Vec<u8>>,
        idempotent: bool,
    ) -> Result<NodeResponse, Error> {
        let cluster = &self.inner.cluster;
        if cluster.is_shut_down() {
            return Err(Error::Shutdown);
        }
        let op = cluster.operation(method, path, body, idempotent, None);
        let opts = cluster.call_options();
        match cluster.call_one(&op, &opts) {
            None => Err(Error::Shutdown),
            Some(Ok((idx, resp))) => Ok(NodeResponse {
                host: cluster.nodes[idx].address.clone(),
                status: resp.status,
                body: resp.body,
            }),
            Some(Err(failure)) => Err(Error::Request {
                message: format!("{method} {} got no answer from any node", op.path),
                attempts: failure.attempts,
            }),
        }
    }

    /// The nodes, their health and pool metrics.
    pub fn cluster_management(&self) -> ClusterManagement {
        ClusterManagement::new(self.inner.cluster.clone())
    }

    /// Stops the background thread; calls in flight and later calls return
    /// [`Error::Shutdown`] promptly. Idempotent.
    pub fn shutdown(&self) {
        self.inner.cluster.shutdown();
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }
}

impl fmt::Debug for ClusterClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("ClusterClient")
            .field(
                "nodes",
                &i.cluster
                    .nodes
                    .iter()
                    .map(|n| n.address.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("retry_policy", &i.policy)
            .field("host_resolver", &i.resolver)
            .field("max_connections_per_node", &i.max_connections)
            .field("operation_timeout", &i.operation_timeout)
            .field("database", &i.database)
            .field("credentials", &if i.authenticated { "***" } else { "none" })
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_matches_rfc4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }
}
