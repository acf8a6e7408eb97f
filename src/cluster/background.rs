//! The background thread: announces health changes, starts probes of
//! unhealthy nodes and purges idle connections. It holds only a `Weak` to
//! the cluster and ends when the cluster is dropped or shut down.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver};

use super::Cluster;
use crate::address::HostAddress;
use crate::node::health::Transition;
use crate::node::HealthEvent;

/// A health callback.
pub(crate) type NodeCallback = Arc<dyn Fn(&HostAddress) + Send + Sync + 'static>;

#[derive(Default, Clone)]
pub(crate) struct Callbacks {
    pub on_unhealthy: Option<NodeCallback>,
    pub on_healthy: Option<NodeCallback>,
}

impl Cluster {
    /// Periodic work of the background thread: starts a probe of every
    /// unhealthy node whose probe is due (each on a thread of its own, at
    /// most one in flight per node) and purges idle connections.
    fn maintain(&self, now: Instant) {
        for n in self.nodes().iter() {
            if n.claim_probe(now) {
                let node = n.clone();
                let spawned = std::thread::Builder::new()
                    .name("cluster-client-probe".to_string())
                    .spawn(move || node.probe());
                if let Err(e) = spawned {
                    log::warn!("could not start a probe of {}: {e}", n.address);
                    n.release_probe();
                }
            }
            let purged = n.purge(now);
            if purged > 0 {
                log::debug!("purged {purged} idle connection(s) to {}", n.address);
            }
        }
    }
}

/// Starts the background thread: it announces health changes, probes
/// unhealthy nodes and purges idle connections. It holds only a `Weak` to the
/// cluster and ends when the cluster is dropped or shut down.
pub(super) fn start(
    cluster: &Arc<Cluster>,
    events: Receiver<HealthEvent>,
    tick: Duration,
) -> std::io::Result<()> {
    let weak: Weak<Cluster> = Arc::downgrade(cluster);
    let shutdown = cluster.shutdown_signal.clone();
    std::thread::Builder::new()
        .name("cluster-client-background".to_string())
        .spawn(move || background_loop(weak, events, shutdown, tick))
        .map(|_| ())
}

fn background_loop(
    weak: Weak<Cluster>,
    events: Receiver<HealthEvent>,
    shutdown: Receiver<()>,
    tick: Duration,
) {
    let ticker = crossbeam_channel::tick(tick);
    loop {
        select! {
            recv(shutdown) -> _ => break,
            recv(events) -> ev => match ev {
                Ok(ev) => announce(&weak, ev),
                Err(_) => break,
            },
            recv(ticker) -> _ => {
                // Health events first, so a callback never waits for a pass.
                while let Ok(ev) = events.try_recv() {
                    announce(&weak, ev);
                }
                let Some(cluster) = weak.upgrade() else { break };
                if cluster.is_shut_down() {
                    break;
                }
                cluster.maintain(Instant::now());
                cluster.discover_if_due(Instant::now());
            }
        }
    }
    log::debug!("background thread stopped");
}

fn announce(weak: &Weak<Cluster>, ev: HealthEvent) {
    let (callback, host) = {
        let Some(cluster) = weak.upgrade() else {
            return;
        };
        let cb = match ev.transition {
            Transition::BecameUnhealthy => cluster.callbacks.on_unhealthy.clone(),
            Transition::BecameHealthy => cluster.callbacks.on_healthy.clone(),
        };
        (cb, ev.host)
    };
    if let Some(cb) = callback {
        if catch_unwind(AssertUnwindSafe(|| cb(&host))).is_err() {
            log::error!("a health callback panicked for node {host}");
        }
    }
}
