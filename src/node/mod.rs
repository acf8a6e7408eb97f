//! One node: its address, connection pool and health, and one attempt.

pub(crate) mod health;
pub(crate) mod link;
pub(crate) mod load;
pub(crate) mod metrics;
pub(crate) mod pool;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use parking_lot::Mutex;

use crate::address::HostAddress;
use crate::error::{Error, NodeError};
use crate::request::Method;
use crate::transport::{Headers, NodeTransport, Response, TransportConfig};

pub(crate) use crate::transport::{check_root_certs_pem, Credentials};

use self::health::{Health, ProbeSchedule, Transition};
use self::link::{Link, LinkError};
use self::metrics::{ConnectionPoolMetrics, NodeCounters};
use self::pool::{Pool, PoolLimits};

/// A node's answer to one attempt: the node layer's own type, so nothing
/// above it depends on the transport.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub status: u16,
    /// The `Retry-After` header, as sent.
    pub retry_after: Option<String>,
    /// The body, at most `max_response_bytes` of it.
    pub body: Vec<u8>,
    /// The body was longer than the limit (`body` is empty); the
    /// connection was closed, not reused. The status still stands.
    pub oversized: bool,
}

impl From<Response> for Answer {
    fn from(r: Response) -> Self {
        Answer {
            status: r.status,
            retry_after: r.retry_after,
            body: r.body,
            oversized: r.oversized,
        }
    }
}

/// How every node's connections are made: timeouts, the body limit, proxy,
/// trusted roots and credentials (checked once for the whole client).
pub(crate) struct ConnectionSettings(TransportConfig);

impl ConnectionSettings {
    pub fn new(
        connect_timeout: Duration,
        request_timeout: Duration,
        max_response_bytes: usize,
        proxy_from_env: bool,
        root_certs_pem: Option<Vec<u8>>,
        credentials: Option<&Credentials>,
    ) -> Result<ConnectionSettings, Error> {
        Ok(ConnectionSettings(TransportConfig {
            connect_timeout,
            request_timeout,
            max_response_bytes,
            proxy_from_env,
            root_certs_pem,
            headers: Headers::for_client(credentials)?,
        }))
    }
}

/// A health change of a node, for the background thread to announce.
#[derive(Debug, Clone)]
pub(crate) struct HealthEvent {
    pub host: HostAddress,
    pub transition: Transition,
}

/// What one attempt sends; the same for every node of a fan-out.
/// (No `Debug`: its headers may hold credentials.)
pub(crate) struct Operation {
    pub method: Method,
    pub path: String,
    pub body: Option<Vec<u8>>,
    /// `X-Request-Id`, for the requests of one saga or fan-out.
    pub request_id: Option<String>,
    /// Applying it twice is harmless (GET, DELETE, group create).
    pub idempotent: bool,
}

pub(crate) struct NodeSettings {
    pub limits: PoolLimits,
    pub unhealthy_after: u32,
    pub probe: ProbeSchedule,
    /// `GET` this path to probe an unhealthy node.
    pub probe_path: String,
    /// `min(request_timeout, operation_timeout)`.
    pub attempt_time: Duration,
    /// Track requests in flight and the moving average of answer times
    /// (the least-loaded balancer reads them).
    pub balance: bool,
}

pub(crate) struct Node {
    pub address: HostAddress,
    /// How exchanges reach the node: its pool of HTTP connections (or, in
    /// unit tests, a scripted node).
    link: Arc<dyn Link>,
    counters: Arc<NodeCounters>,
    /// Requests in flight and answer times (the balancer, the latency report).
    pub load: self::load::Load,
    /// The least-loaded balancer weighs this node's load.
    balance: bool,
    health: Mutex<Health>,
    /// True while the node is healthy with no failure counted: a success
    /// then has nothing to record, and skips the health lock.
    clean: AtomicBool,
    events: Sender<HealthEvent>,
    probe_path: String,
    /// Bound on one probe (connect and answer).
    probe_timeout: Duration,
    /// A probe is in flight (at most one per node).
    probing: AtomicBool,
    /// The time a first attempt of a call gets: `min(request_timeout,
    /// operation_timeout)`. An attempt given less was cut short by its call.
    attempt_time: Duration,
}

impl Node {
    /// A node reached through its own pool of HTTP connections.
    pub fn pooled(
        _position: usize,
        address: HostAddress,
        connections: &ConnectionSettings,
        settings: &NodeSettings,
        events: Sender<HealthEvent>,
    ) -> Result<Node, Error> {
        let counters = Arc::new(NodeCounters::default());
        let transport = &connections.0;
        let node_transport = NodeTransport::new(transport, counters.clone(), &address)?;
        let probe_timeout = transport
            .connect_timeout
            .saturating_add(transport.request_timeout)
            .min(settings.attempt_time.saturating_mul(2));
        let link = Arc::new(Pool::new(settings.limits, node_transport, counters.clone()));
        let mut node = Node::over(_position, address, link, counters, settings, events);
        node.probe_timeout = probe_timeout;
        Ok(node)
    }

    /// A node reached through `link`, counting in `counters`.
    pub fn over(
        _position: usize,
        address: HostAddress,
        link: Arc<dyn Link>,
        counters: Arc<NodeCounters>,
        settings: &NodeSettings,
        events: Sender<HealthEvent>,
    ) -> Node {
        Node {
            address,
            link,
            counters,
            load: self::load::Load::default(),
            balance: settings.balance,
            health: Mutex::new(Health::new(settings.unhealthy_after, settings.probe)),
            clean: AtomicBool::new(true),
            events,
            probe_path: settings.probe_path.clone(),
            probe_timeout: settings.attempt_time.saturating_mul(2),
            probing: AtomicBool::new(false),
            attempt_time: settings.attempt_time,
        }
    }

    /// One attempt: lease a slot, send, give the slot back, record the outcome.
    ///
    /// An attempt the client cut short itself — its time shortened by the
    /// call's deadline (after waiting for a slot or for earlier attempts) and
    /// then run out, or interrupted by `shutdown()` — is not the node's
    /// fault: it returns `DeadlineExceeded` / `Shutdown` and counts in
    /// neither the node's health nor its metrics.
    ///
    /// A `sheltered` attempt (a compensation) goes on after `shutdown()`:
    /// it gets a connection then, and shutdown does not interrupt it.
    pub fn attempt(
        &self,
        op: &Operation,
        deadline: Instant,
        sheltered: bool,
    ) -> Result<Answer, NodeError> {
        self.attempt_abandonable(op, deadline, sheltered, None)
    }

    /// As [`Node::attempt`]; once `abandon` is tripped (a hedged request's
    /// loser) the attempt's I/O is interrupted, its connection closed, and
    /// its outcome is neither the node's failure nor a metric.
    pub fn attempt_abandonable(
        &self,
        op: &Operation,
        deadline: Instant,
        sheltered: bool,
        abandon: Option<&link::Abandon>,
    ) -> Result<Answer, NodeError> {
        let started = Instant::now();
        if started >= deadline {
            return Err(NodeError::DeadlineExceeded);
        }
        let url = self.address.url(&op.path);
        // Requests in flight and the moving average only matter to the
        // least-loaded balancer; the histogram always.
        let in_flight = self.balance.then(|| self.load.start());
        let result = self.link.exchange(op, &url, deadline, sheltered, abandon);
        drop(in_flight);
        if abandon.is_some_and(link::Abandon::is_abandoned) {
            return Err(NodeError::Cancelled);
        }
        if result.is_ok() {
            let now = Instant::now();
            let rtt = now.saturating_duration_since(started);
            self.load.record(rtt, now, self.balance);
        }
        match result {
            Ok(r) if r.status < 500 && !r.oversized => {
                log::debug!("{} {}{} -> {}", op.method, self.address, op.path, r.status);
                self.counters.executed();
                self.record_success();
                Ok(r)
            }
            Ok(r) => {
                log::debug!(
                    "{} {}{} -> {}{}",
                    op.method,
                    self.address,
                    op.path,
                    r.status,
                    if r.oversized {
                        " (body over the limit)"
                    } else {
                        ""
                    }
                );
                self.counters.executed_with_error();
                self.record_failure();
                Ok(r)
            }
            Err(LinkError::NotSent(e)) => Err(e),
            Err(LinkError::Failed { .. }) if !sheltered && self.link.is_shut() => {
                Err(NodeError::Shutdown)
            }
            Err(LinkError::Failed {
                error,
                timed_out,
                given,
            }) => {
                // Shortened by more than a tenth (waiting for a slot, earlier
                // attempts and backoff): the deadline, not the node, limits it.
                let cut_short = given.saturating_add(self.attempt_time / 10) < self.attempt_time;
                if timed_out && cut_short {
                    log::debug!(
                        "{} {}{}: the call's deadline cut the attempt short ({given:?} given)",
                        op.method,
                        self.address,
                        op.path,
                    );
                    return Err(NodeError::DeadlineExceeded);
                }
                log::debug!("{} {}{} failed: {error}", op.method, self.address, op.path);
                self.counters.executed_with_error();
                self.record_failure();
                Err(error)
            }
        }
    }

    fn record_success(&self) {
        if self.clean.load(Ordering::Relaxed) {
            return;
        }
        let t = {
            let mut h = self.health.lock();
            let t = h.record_success();
            self.clean.store(true, Ordering::Relaxed);
            t
        };
        if let Some(t) = t {
            self.announce(t);
        }
    }

    fn record_failure(&self) {
        let t = {
            let mut h = self.health.lock();
            self.clean.store(false, Ordering::Relaxed);
            h.record_failure(Instant::now())
        };
        if let Some(t) = t {
            self.announce(t);
        }
    }

    fn announce(&self, transition: Transition) {
        match transition {
            Transition::BecameUnhealthy => log::warn!("node {} is unhealthy", self.address),
            Transition::BecameHealthy => log::info!("node {} is healthy again", self.address),
        }
        // The background thread may be gone (shutdown); nothing to announce then.
        let _ = self.events.send(HealthEvent {
            host: self.address.clone(),
            transition,
        });
    }

    /// True when the node takes part in ordinary routing (healthy).
    pub fn is_healthy(&self) -> bool {
        self.health.lock().is_healthy()
    }

    /// Whether the background thread should start a probe now: the node is
    /// unhealthy, its probe is due and none is in flight. Marks one in flight.
    pub fn claim_probe(&self, now: Instant) -> bool {
        self.health.lock().probe_due(now) && !self.probing.swap(true, Ordering::AcqRel)
    }

    /// Gives back a claimed probe that could not start.
    pub fn release_probe(&self) {
        self.probing.store(false, Ordering::Release);
    }

    /// Probes the node (`GET probe_path`; any answer below 500 is up) and
    /// records the outcome; called after [`Node::claim_probe`], on a thread
    /// of its own so no probe delays another, the purge or the callbacks.
    pub fn probe(&self) {
        let bound = self.probe_timeout;
        let up = self.link.probe(&self.address.url(&self.probe_path), bound);
        log::debug!(
            "probe of {}: {}",
            self.address,
            if up { "up" } else { "down" }
        );
        let t = self.health.lock().record_probe(up, Instant::now());
        if up {
            self.clean.store(true, Ordering::Relaxed);
        }
        self.probing.store(false, Ordering::Release);
        if let Some(t) = t {
            self.announce(t);
        }
    }

    pub fn purge(&self, now: Instant) -> usize {
        self.link.purge(now)
    }

    pub fn shutdown(&self) {
        self.link.shutdown();
    }

    pub fn metrics(&self) -> ConnectionPoolMetrics {
        self.counters.snapshot()
    }
}
