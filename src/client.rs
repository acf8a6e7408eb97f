//! [`ClusterClient`]: the facade users hold. It delegates every call to
//! the layers below; the builder lives in `config`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::address::HostAddress;
use crate::admin::ClusterAdmin;
use crate::cluster::{CallScope, Cluster, HostResolver, NodeResponse};
use crate::config::{ClientBuilder, Settings};
use crate::error::{Error, NodeFailure};
#[cfg(feature = "journal")]
use crate::groups::RecoveryReport;
use crate::groups::{self, GroupApi, GroupPresence, Intent, Ledger, NodeDeletion, RepairReport};
use crate::management::ClusterManagement;
pub use crate::options::CallOptions;
use crate::request::{Method, RequestPath};
use crate::retry::RetryPolicy;

/// The journal the settings name, if any, locked.
#[cfg(feature = "journal")]
fn open_ledger(settings: &Settings) -> Result<Ledger, Error> {
    Ledger::open(settings.journal.as_deref())
}

/// No journal in this build (feature `journal`).
#[cfg(not(feature = "journal"))]
fn open_ledger(_settings: &Settings) -> Result<Ledger, Error> {
    Ok(Ledger::default())
}

struct Inner {
    cluster: Arc<Cluster>,
    /// The journal and the sagas in flight: owned by the client handles
    /// alone, so the journal's lock goes with the last of them.
    ledger: Ledger,
    group_api: GroupApi,
    database: Option<String>,
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
    /// This handle's call settings (see [`ClusterClient::with_options`]).
    scope: CallScope,
}

impl ClusterClient {
    /// A builder with every default.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Starts a client from checked settings (see [`ClientBuilder::build`]).
    pub(crate) fn start(settings: Settings) -> Result<ClusterClient, Error> {
        // The journal first: a locked or damaged one starts nothing.
        let ledger = open_ledger(&settings)?;
        let inner = Inner {
            ledger,
            group_api: settings.group_api.clone(),
            database: settings.database.clone(),
            policy: settings.cluster.policy.clone(),
            operation_timeout: settings.cluster.operation_timeout,
            max_connections: settings.cluster.limits.max,
            resolver: settings.cluster.resolver,
            authenticated: settings.cluster.credentials.is_some(),
            cluster: Cluster::start(settings.cluster)?,
        };
        let scope = inner.cluster.default_scope();
        Ok(ClusterClient {
            inner: Arc::new(inner),
            scope,
        })
    }

    /// A client sharing this one's nodes, pools, health, metrics and
    /// journal, whose calls (groups, requests, administration) use `options`
    /// where they set something, and this client's settings elsewhere. This
    /// client keeps its own.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cluster_client::{CallOptions, ClusterClient, RetryPolicy};
    /// use cluster_client::testkit::TestCluster;
    ///
    /// let nodes = TestCluster::start(2)?;
    /// let client = ClusterClient::new(nodes.urls())?;
    /// let quick = client.with_options(
    ///     CallOptions::new()
    ///         .operation_timeout(Duration::from_millis(500))
    ///         .retry_policy(RetryPolicy::none()),
    /// );
    /// quick.create_group("g")?;
    /// assert_eq!(client.cluster_management().nodes(), quick.cluster_management().nodes());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_options(&self, options: CallOptions) -> ClusterClient {
        ClusterClient {
            inner: self.inner.clone(),
            scope: options.apply(&self.scope),
        }
    }

    /// This handle's retry policy (the C ABI's `cc_client_with_options`
    /// keeps its delays when it changes only the attempts).
    #[cfg(feature = "ffi")]
    pub(crate) fn call_policy(&self) -> &RetryPolicy {
        &self.scope.policy
    }

    /// Cluster administration (ArangoDB's coordinator API, after
    /// python-arango's `Cluster`), spread over the nodes by the host resolver.
    pub fn cluster(&self) -> ClusterAdmin {
        ClusterAdmin::new(
            self.inner.cluster.clone(),
            self.inner.database.clone(),
            self.scope.clone(),
        )
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
        let i = &self.inner;
        groups::create_group(&i.cluster, &i.group_api, &i.ledger, &self.scope, id)
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
        let i = &self.inner;
        groups::delete_group(&i.cluster, &i.group_api, &i.ledger, &self.scope, id)
    }

    /// As [`delete_group`](Self::delete_group), with what happened on every
    /// node, in node order: deleted, already absent, gone (an earlier
    /// unanswered attempt may have deleted it), or failed with its reason.
    pub fn delete_group_outcomes(
        &self,
        id: &str,
    ) -> Result<Vec<(HostAddress, NodeDeletion)>, Error> {
        let i = &self.inner;
        groups::delete_group_outcomes(&i.cluster, &i.group_api, &i.ledger, &self.scope, id)
    }

    /// Whether node `host` holds group `id`.
    pub fn verify_group(&self, host: &HostAddress, id: &str) -> Result<bool, Error> {
        groups::verify_group(
            &self.inner.cluster,
            &self.inner.group_api,
            &self.scope,
            host,
            id,
        )
    }

    /// Whether each node holds group `id`, asked of every node at once (in
    /// node order); a node that gave no usable answer has its error.
    pub fn verify_group_everywhere(&self, id: &str) -> Result<GroupPresence, Error> {
        groups::verify_group_everywhere(&self.inner.cluster, &self.inner.group_api, &self.scope, id)
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
        let (method, path) = (Method::parse(method)?, RequestPath::parse(path)?);
        let body = body.map(<[u8]>::to_vec);
        self.inner
            .cluster
            .request_one(&self.scope, &method, path, body)
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
        let (method, path) = (Method::parse(method)?, RequestPath::parse(path)?);
        let body = body.map(<[u8]>::to_vec);
        self.inner
            .cluster
            .request_to(&self.scope, host, &method, path, body)
    }

    /// Finishes, the safe way, every saga the journal shows unfinished (a
    /// process killed mid-saga): a create is completed if the group is on
    /// every node, else rolled back by deleting exactly where the group was
    /// missing before the saga and is there now (never elsewhere); an
    /// unfinished delete is completed; the leftovers a finished saga
    /// recorded are retried. What cannot be settled is listed in
    /// [`RecoveryReport::needs_attention`] with its reason. Idempotent;
    /// finished sagas are compacted out of the journal. Sagas of this
    /// client still in flight are left alone.
    ///
    /// `Err(InvalidConfig)` without a journal ([`ClientBuilder::journal`]).
    ///
    /// ```
    /// use cluster_client::testkit::TestCluster;
    /// use cluster_client::ClusterClient;
    ///
    /// let nodes = TestCluster::start(3)?;
    /// let journal = std::env::temp_dir().join(format!("doc-{}.journal", std::process::id()));
    /// let client = ClusterClient::builder().hosts(nodes.urls()).journal(&journal).build()?;
    /// client.create_group("g")?;
    /// let report = client.recover()?; // nothing unfinished
    /// assert!(report.finished.is_empty() && report.is_clean());
    /// # drop(client); let _ = std::fs::remove_file(&journal);
    /// # let _ = std::fs::remove_file(journal.with_extension("journal.lock"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "journal")]
    #[cfg_attr(docsrs, doc(cfg(feature = "journal")))]
    pub fn recover(&self) -> Result<RecoveryReport, Error> {
        let i = &self.inner;
        groups::recover(&i.cluster, &i.group_api, &i.ledger, &self.scope)
    }

    /// Verifies the group on every node and converges the cluster to the
    /// intent: creates it where it is missing ([`Intent::Present`]) or
    /// deletes it where it is present ([`Intent::Absent`]), reporting each
    /// node. The tool for the `possible_orphans` a failed create names.
    pub fn repair_group(&self, id: &str, intent: Intent) -> Result<RepairReport, Error> {
        let i = &self.inner;
        groups::repair_group(&i.cluster, &i.group_api, &i.ledger, &self.scope, id, intent)
    }

    /// Adds a node at runtime: later calls may use it (a saga in flight
    /// keeps the node set it started with). `Error::InvalidConfig` for a
    /// bad host or one already a node.
    ///
    /// ```
    /// use cluster_client::testkit::TestCluster;
    /// use cluster_client::ClusterClient;
    ///
    /// let nodes = TestCluster::start(3)?;
    /// let client = ClusterClient::new(&nodes.urls()[..2])?;
    /// client.add_node(nodes.node(2).url())?;
    /// client.create_group("g")?;
    /// assert_eq!(nodes.nodes_with_group("g"), vec![0, 1, 2]);
    /// assert!(client.remove_node(&nodes.node(0).url().parse()?)?);
    /// assert_eq!(client.cluster_management().nodes().len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_node(&self, host: impl AsRef<str>) -> Result<(), Error> {
        self.inner.cluster.add_node(host.as_ref())
    }

    /// Removes a node at runtime: it takes no new calls at once, its calls
    /// in flight finish, then its connections close; it leaves `nodes()`
    /// and the metrics at once. `Ok(false)` when `host` is not a node. The
    /// last node is not removed (`Error::InvalidConfig`).
    pub fn remove_node(&self, host: &HostAddress) -> Result<bool, Error> {
        self.inner.cluster.remove_node(host)
    }

    /// Makes `hosts` the node set, applying the difference: nodes that stay
    /// keep their pools, health and metrics. `Error::InvalidConfig` for a
    /// bad or repeated host or an empty set; nothing changes then. The
    /// pattern for a config reload: re-read the file, call `set_nodes` with
    /// its hosts.
    pub fn set_nodes<I, S>(&self, hosts: I) -> Result<(), Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let hosts = hosts
            .into_iter()
            .map(|h| crate::cluster::parse_member(h.as_ref()))
            .collect::<Result<Vec<_>, Error>>()?;
        self.inner.cluster.set_nodes(hosts)
    }

    /// Asks the cluster for its coordinators (`GET /_api/cluster/endpoints`;
    /// `tcp://` means `http://`, `ssl://` `https://`) and makes them the node
    /// set, as [`set_nodes`](Self::set_nodes) does; the new set. A failed
    /// call or an empty list changes nothing (`Err`).
    pub fn refresh_nodes(&self) -> Result<Vec<HostAddress>, Error> {
        self.inner.cluster.discover(&self.scope)
    }

    /// The nodes, their health and pool metrics.
    pub fn cluster_management(&self) -> ClusterManagement {
        ClusterManagement::new(self.inner.cluster.clone())
    }

    /// Stops the background thread; calls in flight and later calls return
    /// [`Error::Shutdown`] promptly. Idempotent.
    pub fn shutdown(&self) {
        self.inner.cluster.shutdown();
        self.inner.ledger.release();
    }

    #[cfg(test)]
    pub(crate) fn cluster_handle(&self) -> &Arc<Cluster> {
        &self.inner.cluster
    }
}

impl fmt::Debug for ClusterClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("ClusterClient")
            .field(
                "nodes",
                &i.cluster
                    .nodes()
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
