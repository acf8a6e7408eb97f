//! [`ClientBuilder`]: every setting with a validated default, checked at
//! `build()` into a plain [`Settings`] value the cluster starts from; and
//! (feature `config`) the TOML file that mirrors it (`ClientConfig`),
//! shared by the library, `clusterctl` and the C ABI.

mod duration;
#[cfg(feature = "config")]
mod file;
#[cfg(feature = "journal")]
mod journal;
mod rules;
#[cfg(feature = "config")]
mod values;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use self::duration::{parse_duration, DurationError, DurationErrorKind};
#[cfg(feature = "config")]
pub use self::file::ClientConfig;
pub(crate) use self::rules::LONGEST;

use crate::address::HostAddress;
use crate::client::ClusterClient;
use crate::cluster::{Callbacks, ClusterSettings, Hedging, HostResolver};
use crate::error::Error;
use crate::groups::GroupApi;
use crate::node::health::ProbeSchedule;
use crate::node::pool::PoolLimits;
use crate::node::Credentials;
use crate::retry::{RetryBudget, RetryPolicy};

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
    max_lifetime: Option<Duration>,
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
    hedging: Option<Hedging>,
    discovery: Option<Duration>,
    group_api: GroupApi,
    #[cfg(feature = "journal")]
    journal: Option<std::path::PathBuf>,
    /// A config file that could not be read: reported by `build()`.
    config_error: Option<Error>,
}

impl fmt::Debug for ClientBuilder {
    /// Every setting but the callbacks; credentials show as `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ClientBuilder");
        d.field("hosts", &self.hosts)
            .field("retry_policy", &self.policy)
            .field("retry_budget", &self.budget)
            .field("host_resolver", &self.resolver)
            .field("max_connections_per_node", &self.max_connections)
            .field("min_connections_per_node", &self.min_connections)
            .field("purge_unused_connections_after", &self.purge_after)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("unhealthy_after", &self.unhealthy_after)
            .field("probe_interval", &self.probe_interval)
            .field("probe_path", &self.probe_path)
            .field("basic_auth", &self.basic_auth.as_ref().map(|(u, p)| (u, p)))
            .field("bearer_token", &self.bearer)
            .field("fan_out_threads", &self.fan_out_threads)
            .field("database", &self.database)
            .field("use_env_proxy", &self.proxy_from_env)
            .field("root_certificates_pem", &self.root_certs_pem.is_some())
            .field("group_api", &self.group_api)
            .field("config_error", &self.config_error);
        #[cfg(feature = "journal")]
        d.field("journal", &self.journal);
        d.finish_non_exhaustive()
    }
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
            max_lifetime: None,
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
            hedging: None,
            discovery: None,
            group_api: GroupApi::default(),
            #[cfg(feature = "journal")]
            journal: None,
            config_error: None,
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

    /// Hedged one-node reads (off by default): `request()` with GET, HEAD
    /// or OPTIONS and the administration reads go to a second node when the
    /// first has not answered after the hedge's delay; the first answer
    /// wins. See [`Hedging`].
    pub fn hedging(mut self, hedging: Hedging) -> Self {
        self.hedging = Some(hedging);
        self
    }

    /// Repeats [`ClusterClient::refresh_nodes`] on the background thread
    /// this often (off by default): the node set follows the coordinators
    /// the cluster reports; a failed or empty answer changes nothing and is
    /// logged.
    pub fn discovery_interval(mut self, every: Duration) -> Self {
        self.discovery = Some(every);
        self
    }

    /// Closes a connection once it is older than this (jittered ±10 % per
    /// connection) instead of reusing it, so a host name that now resolves
    /// elsewhere is followed without a restart. `None` (the default):
    /// connections live until idle too long or closed by the node.
    pub fn max_connection_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.max_lifetime = lifetime;
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
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
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
        ClusterClient::start(self.settings()?)
    }

    /// Checks every setting: anything that would fail later fails here.
    pub(crate) fn settings(mut self) -> Result<Settings, Error> {
        if let Some(e) = self.config_error.take() {
            return Err(e);
        }
        let hosts = std::mem::replace(&mut self.hosts, Err(Error::NoHosts))?;
        rules::check_values(&self)?;
        let invalid = |m: &str| Err(Error::InvalidConfig(m.to_string()));
        let fan_out_threads = match self.fan_out_threads {
            Some(0) => return invalid("fan_out_threads must be at least 1"),
            Some(n) => n.min(256),
            None => (2 * hosts.len()).clamp(4, 256),
        };
        let credentials = match (self.basic_auth, self.bearer) {
            (Some(_), Some(_)) => {
                return invalid("basic_auth and bearer_token are both set: choose one")
            }
            (Some((user, Secret(password))), None) => Some(Credentials::Basic { user, password }),
            (None, Some(Secret(token))) => Some(Credentials::Bearer(token)),
            (None, None) => None,
        };
        // The background thread wakes for probes, and at least twice per
        // purge age and once a second for the purge.
        let mut tick = self.probe_interval.min(Duration::from_secs(1));
        if let Some(p) = self.purge_after {
            tick = tick.min(p / 2);
        }
        Ok(Settings {
            cluster: ClusterSettings {
                hosts,
                policy: self.policy,
                budget: self.budget.unwrap_or_default(),
                resolver: self.resolver,
                limits: PoolLimits {
                    max: self.max_connections,
                    min_idle: self.min_connections,
                    purge_after: self.purge_after,
                    max_lifetime: self.max_lifetime,
                },
                connect_timeout: self.connect_timeout,
                request_timeout: self.request_timeout,
                operation_timeout: self.operation_timeout,
                max_response_bytes: self.max_response_bytes,
                unhealthy_after: self.unhealthy_after,
                probe: ProbeSchedule {
                    first: self.probe_interval,
                    max: Duration::from_secs(60).max(self.probe_interval),
                    jitter: true,
                },
                probe_path: self.probe_path,
                callbacks: self.callbacks,
                credentials,
                fan_out_threads,
                proxy_from_env: self.proxy_from_env,
                root_certs_pem: self.root_certs_pem,
                tick: tick.max(Duration::from_millis(1)),
                hedging: self.hedging,
                discovery: self.discovery,
            },
            database: self.database,
            group_api: self.group_api,
            #[cfg(feature = "journal")]
            journal: self.journal,
        })
    }
}

/// Every setting, checked: the cluster's, and the operations layer's.
pub(crate) struct Settings {
    pub cluster: ClusterSettings,
    pub database: Option<String>,
    pub group_api: GroupApi,
    /// The saga journal's path, when configured.
    #[cfg(feature = "journal")]
    pub journal: Option<std::path::PathBuf>,
}
