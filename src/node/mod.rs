//! One node: its address, connection pool and health, and one attempt.

pub(crate) mod health;
pub(crate) mod pool;

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use parking_lot::Mutex;

use crate::address::HostAddress;
use crate::error::{Error, NodeError};
use crate::transport::{ConnectionEvents, NodeTransport, Request, Response, TransportConfig};

use self::health::{Health, HealthState, ProbeSchedule, Transition};
use self::pool::{ConnectionPoolMetrics, Pool, PoolLimits};

/// A health change of node `node`, for the background thread to announce.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HealthEvent {
    pub node: usize,
    pub transition: Transition,
}

/// What one attempt sends; the same for every node of a fan-out.
/// (No `Debug`: its headers may hold credentials.)
pub(crate) struct Operation {
    pub method: String,
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
    pub probe_path: Option<String>,
}

pub(crate) struct Node {
    pub index: usize,
    pub address: HostAddress,
    pool: Pool,
    health: Mutex<Health>,
    /// True while the node is healthy with no failure counted: a success
    /// then has nothing to record, and skips the health lock.
    clean: AtomicBool,
    events: Sender<HealthEvent>,
    probe_path: Option<String>,
    connect_timeout: Duration,
}

impl Node {
    pub fn new(
        index: usize,
        address: HostAddress,
        transport: &TransportConfig,
        settings: &NodeSettings,
        events: Sender<HealthEvent>,
    ) -> Result<Node, Error> {
        let counters = Arc::new(ConnectionEvents::default());
        let ip = address.ip().map(|ip| SocketAddr::new(ip, address.port()));
        let node_transport = NodeTransport::new(transport, counters.clone(), ip)?;
        Ok(Node {
            index,
            address,
            pool: Pool::new(settings.limits, node_transport, counters),
            health: Mutex::new(Health::new(settings.unhealthy_after, settings.probe)),
            clean: AtomicBool::new(true),
            events,
            probe_path: settings.probe_path.clone(),
            connect_timeout: transport.connect_timeout,
        })
    }

    /// One attempt: lease a slot, send, give the slot back, record the outcome.
    pub fn attempt(&self, op: &Operation, deadline: Instant) -> Result<Response, NodeError> {
        let now = Instant::now();
        if now >= deadline {
            return Err(NodeError::DeadlineExceeded);
        }
        let lease = self.pool.lease(deadline)?;
        let url = self.address.url(&op.path);
        let request = Request {
            method: &op.method,
            url: &url,
            request_id: op.request_id.as_deref(),
            body: op.body.as_deref(),
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        let result = lease.connection().send(&request, remaining);
        drop(lease);
        match &result {
            Ok(r) if r.status < 500 => {
                log::debug!("{} {}{} -> {}", op.method, self.address, op.path, r.status);
                self.pool.executed.fetch_add(1, Ordering::Relaxed);
                self.record_success();
            }
            Ok(r) => {
                log::debug!("{} {}{} -> {}", op.method, self.address, op.path, r.status);
                self.pool
                    .executed_with_error
                    .fetch_add(1, Ordering::Relaxed);
                self.record_failure();
            }
            Err(NodeError::Shutdown) => {}
            Err(e) => {
                log::debug!("{} {}{} failed: {e}", op.method, self.address, op.path);
                self.pool
                    .executed_with_error
                    .fetch_add(1, Ordering::Relaxed);
                self.record_failure();
            }
        }
        result
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
            node: self.index,
            transition,
        });
    }

    /// True when the node takes part in ordinary routing (healthy).
    pub fn is_healthy(&self) -> bool {
        self.health.lock().is_healthy()
    }

    /// True when routing may use the node: healthy, or half-open (a trial attempt).
    pub fn is_routable(&self) -> bool {
        self.health.lock().state() != HealthState::Unhealthy
    }

    /// Probes the node if it is unhealthy and its probe is due.
    pub fn probe_if_due(&self, now: Instant) {
        if !self.health.lock().probe_due(now) {
            return;
        }
        let ok = self.probe();
        log::debug!(
            "probe of {}: {}",
            self.address,
            if ok { "up" } else { "down" }
        );
        self.health.lock().record_probe(ok, Instant::now());
    }

    fn probe(&self) -> bool {
        match &self.probe_path {
            Some(path) => {
                let bound = self.connect_timeout * 2;
                let Ok(lease) = self.pool.lease(Instant::now() + bound) else {
                    return false;
                };
                let url = self.address.url(path);
                let request = Request {
                    method: "GET",
                    url: &url,
                    request_id: None,
                    body: None,
                };
                matches!(lease.connection().send(&request, bound), Ok(r) if r.status < 500)
            }
            None => {
                // A probe's connect is a real connect to the node: count it
                // like any other, so the metrics match what the node saw.
                let events = &self.pool.events;
                self.socket_addrs().iter().any(|a| {
                    match TcpStream::connect_timeout(a, self.connect_timeout) {
                        Ok(stream) => {
                            events.created.fetch_add(1, Ordering::Relaxed);
                            drop(stream);
                            events.closed.fetch_add(1, Ordering::Relaxed);
                            true
                        }
                        Err(_) => {
                            events.created_with_error.fetch_add(1, Ordering::Relaxed);
                            false
                        }
                    }
                })
            }
        }
    }

    fn socket_addrs(&self) -> Vec<SocketAddr> {
        if let Some(ip) = self.address.ip() {
            return vec![SocketAddr::new(ip, self.address.port())];
        }
        (self.address.host(), self.address.port())
            .to_socket_addrs()
            .map(|it| it.collect())
            .unwrap_or_default()
    }

    pub fn purge(&self, now: Instant) -> usize {
        self.pool.purge(now)
    }

    pub fn shutdown(&self) {
        self.pool.shutdown();
    }

    pub fn metrics(&self) -> ConnectionPoolMetrics {
        self.pool.metrics()
    }
}
