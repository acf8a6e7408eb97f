//! The nodes together: the cluster a client drives. One concern a file:
//! [`resolver`] (which node a one-node call starts at), [`fan_out`] (one
//! operation on many nodes at once, retried in rounds), [`failover`]
//! (one-node calls moving from node to node), [`background`] (health
//! callbacks, probes and the purge).

mod background;
mod failover;
mod fan_out;
mod hedge;
mod members;
mod resolver;
mod stop;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;

use crate::address::HostAddress;
use crate::error::Error;
use crate::node::health::ProbeSchedule;
use crate::node::pool::PoolLimits;
use crate::node::{ConnectionSettings, Credentials, HealthEvent, Node, NodeSettings, Operation};
use crate::request::Method;
use crate::retry::{RetryBudget, RetryPolicy};

pub(crate) use self::background::Callbacks;
pub use self::failover::NodeResponse;
pub(crate) use self::fan_out::{outcome_unknown, NodeOutcome};
pub use self::hedge::{HedgeCounts, HedgeDelay, Hedging};
pub(crate) use self::members::{parse_member, position};
pub use self::resolver::HostResolver;
pub(crate) use self::stop::{CallScope, CallSpec};
pub use self::stop::{CancelToken, COMPENSATION_GRACE};

/// Every setting the cluster starts from, checked (built by `config`).
pub(crate) struct ClusterSettings {
    pub hosts: Vec<HostAddress>,
    pub policy: RetryPolicy,
    pub budget: RetryBudget,
    pub resolver: HostResolver,
    pub limits: PoolLimits,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub operation_timeout: Duration,
    pub max_response_bytes: usize,
    pub unhealthy_after: u32,
    pub probe: ProbeSchedule,
    pub probe_path: String,
    pub callbacks: Callbacks,
    pub credentials: Option<Credentials>,
    pub fan_out_threads: usize,
    pub proxy_from_env: bool,
    pub root_certs_pem: Option<Vec<u8>>,
    /// How often the background thread wakes.
    pub tick: Duration,
    /// Hedged one-node reads, when enabled.
    pub hedging: Option<Hedging>,
    /// Discovery on the background thread this often, when set.
    pub discovery: Option<Duration>,
}

/// Builds node `i` for `host` (see [`Cluster::assemble`]); kept by the
/// cluster for nodes added later.
pub(crate) type OwnedMakeNode = dyn Fn(usize, &HostAddress, &NodeSettings, Sender<HealthEvent>) -> Result<Node, Error>
    + Send
    + Sync;

/// A snapshot of the node set: what one call works on.
pub(crate) type NodeSet = Arc<Vec<Arc<Node>>>;

/// What every call starts from.
pub(crate) struct CallDefaults {
    pub policy: RetryPolicy,
    pub operation_timeout: Duration,
}

pub(crate) struct Cluster {
    /// The largest body read (`max_response_bytes`).
    pub max_response_bytes: usize,
    /// The node set now: a call takes it once (a snapshot) and works on
    /// it to its end; membership changes swap it whole.
    members: parking_lot::RwLock<NodeSet>,
    /// Builds a node for a host added at runtime.
    make_node: Box<OwnedMakeNode>,
    node_settings: NodeSettings,
    events: Sender<HealthEvent>,
    pub defaults: CallDefaults,
    fan_out_threads: usize,
    fan_out_pool: OnceLock<Result<rayon::ThreadPool, String>>,
    pub budget: RetryBudget,
    resolver: HostResolver,
    hedger: Option<hedge::Hedger>,
    discovery: Option<members::Discovery>,
    next: AtomicUsize,
    shut: AtomicBool,
    /// When `shutdown()` was called: compensations go on for a grace after it.
    shut_at: OnceLock<Instant>,
    shutdown_signal: Receiver<()>,
    shutdown_trigger: Mutex<Option<Sender<()>>>,
    pub callbacks: Callbacks,
}

impl Cluster {
    /// Builds every node from the checked settings, each with its pool of
    /// HTTP connections, and starts the background thread.
    pub fn start(settings: ClusterSettings) -> Result<Arc<Cluster>, Error> {
        let connections = ConnectionSettings::new(
            settings.connect_timeout,
            settings.request_timeout,
            settings.max_response_bytes,
            settings.proxy_from_env,
            settings.root_certs_pem.clone(),
            settings.credentials.as_ref(),
        )?;
        Cluster::assemble(
            settings,
            Box::new(
                move |i: usize,
                      host: &HostAddress,
                      node_settings: &NodeSettings,
                      events: Sender<HealthEvent>| {
                    Node::pooled(i, host.clone(), &connections, node_settings, events)
                },
            ),
        )
    }

    /// Builds the cluster over the nodes `make` builds, one per host (the
    /// pooled HTTP node, or a scripted one in unit tests), and starts the
    /// background thread.
    pub(crate) fn assemble(
        settings: ClusterSettings,
        make: Box<OwnedMakeNode>,
    ) -> Result<Arc<Cluster>, Error> {
        let node_settings = NodeSettings {
            limits: settings.limits,
            unhealthy_after: settings.unhealthy_after,
            probe: settings.probe,
            probe_path: settings.probe_path.clone(),
            attempt_time: settings.request_timeout.min(settings.operation_timeout),
            balance: settings.resolver == HostResolver::LeastLoaded,
        };
        let (events_tx, events_rx) = crossbeam_channel::unbounded();
        let nodes = settings
            .hosts
            .iter()
            .enumerate()
            .map(|(i, h)| make(i, h, &node_settings, events_tx.clone()).map(Arc::new))
            .collect::<Result<Vec<_>, Error>>()?;
        let (trigger, signal) = crossbeam_channel::bounded(0);
        let cluster = Arc::new(Cluster {
            max_response_bytes: settings.max_response_bytes,
            members: parking_lot::RwLock::new(Arc::new(nodes)),
            make_node: make,
            node_settings,
            events: events_tx,
            defaults: CallDefaults {
                policy: settings.policy,
                operation_timeout: settings.operation_timeout,
            },
            fan_out_threads: settings.fan_out_threads,
            fan_out_pool: OnceLock::new(),
            budget: settings.budget,
            resolver: settings.resolver,
            hedger: settings.hedging.map(hedge::Hedger::new),
            discovery: settings.discovery.map(members::Discovery::every),
            next: AtomicUsize::new(0),
            shut: AtomicBool::new(false),
            shut_at: OnceLock::new(),
            shutdown_signal: signal,
            shutdown_trigger: Mutex::new(Some(trigger)),
            callbacks: settings.callbacks,
        });
        background::start(&cluster, events_rx, settings.tick).map_err(|source| Error::Os {
            context: "the background thread could not start".to_string(),
            source,
        })?;
        Ok(cluster)
    }

    pub fn is_shut_down(&self) -> bool {
        self.shut.load(Ordering::Acquire)
    }

    /// Stops the background thread, wakes every waiting call, refuses new ones.
    pub fn shutdown(&self) {
        let _ = self.shut_at.set(Instant::now());
        self.shut.store(true, Ordering::Release);
        self.shutdown_trigger.lock().take();
        for n in self.nodes().iter() {
            n.shutdown();
        }
    }

    /// The scope of a client handle with the defaults.
    pub fn default_scope(&self) -> CallScope {
        CallScope {
            policy: self.defaults.policy.clone(),
            operation_timeout: self.defaults.operation_timeout,
            cancel: None,
            hedge: true,
            request_timeout: None,
        }
    }

    /// An operation, with `X-Request-Id` if given.
    pub fn operation(
        &self,
        method: Method,
        path: String,
        body: Option<Vec<u8>>,
        idempotent: bool,
        request_id: Option<&str>,
    ) -> Operation {
        Operation {
            method,
            path,
            body,
            request_id: request_id.map(str::to_string),
            idempotent,
        }
    }

    /// How many hedges were sent and won (zero without hedging).
    pub fn hedge_counts(&self) -> HedgeCounts {
        self.hedger
            .as_ref()
            .map(hedge::Hedger::counts)
            .unwrap_or_default()
    }

    /// The node set now (a snapshot: membership changes do not touch it).
    pub fn nodes(&self) -> NodeSet {
        self.members.read().clone()
    }
}

/// Clusters over scripted in-memory nodes, for the engine's unit tests:
/// no socket is opened.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::node::link::scripted::ScriptedNode;
    use crate::node::link::Link;
    use crate::node::metrics::NodeCounters;

    /// Fast settings for `n` nodes (never contacted: the links are scripted).
    pub fn settings(n: usize) -> ClusterSettings {
        ClusterSettings {
            hosts: (0..n)
                .filter_map(|i| HostAddress::parse(&format!("http://127.0.0.1:{}", 1 + i)).ok())
                .collect(),
            policy: RetryPolicy::exponential(3, Duration::from_millis(1), Duration::from_millis(4)),
            budget: RetryBudget::default(),
            resolver: HostResolver::RoundRobin,
            limits: PoolLimits {
                max: 4,
                min_idle: 0,
                purge_after: None,
                max_lifetime: None,
            },
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(2),
            operation_timeout: Duration::from_secs(5),
            max_response_bytes: 1 << 20,
            unhealthy_after: 3,
            probe: ProbeSchedule {
                first: Duration::from_secs(60),
                max: Duration::from_secs(60),
                jitter: false,
            },
            probe_path: "/".to_string(),
            callbacks: Callbacks::default(),
            credentials: None,
            fan_out_threads: 4,
            proxy_from_env: false,
            root_certs_pem: None,
            tick: Duration::from_millis(50),
            hedging: None,
            discovery: None,
        }
    }

    /// A cluster over `nodes`, with `settings(n)` as `tweak` leaves them.
    pub fn scripted(
        nodes: &[Arc<ScriptedNode>],
        tweak: impl FnOnce(&mut ClusterSettings),
    ) -> Arc<Cluster> {
        let mut s = settings(nodes.len());
        tweak(&mut s);
        let nodes: Vec<Arc<ScriptedNode>> = nodes.to_vec();
        Cluster::assemble(
            s,
            Box::new(
                move |i: usize,
                      host: &HostAddress,
                      node_settings: &NodeSettings,
                      events: Sender<HealthEvent>| {
                    // A node added later gets a scripted node of its own.
                    let link: Arc<dyn Link> = match nodes.get(i) {
                        Some(n) => n.clone(),
                        None => ScriptedNode::new(),
                    };
                    let counters = Arc::new(NodeCounters::default());
                    Ok(Node::over(
                        i,
                        host.clone(),
                        link,
                        counters,
                        node_settings,
                        events,
                    ))
                },
            ),
        )
        .unwrap_or_else(|e| panic!("a scripted cluster starts: {e}"))
    }

    /// `n` scripted nodes with nothing scripted.
    pub fn nodes(n: usize) -> Vec<Arc<ScriptedNode>> {
        (0..n).map(|_| ScriptedNode::new()).collect()
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod engine_tests;
