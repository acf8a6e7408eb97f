//! A node's connection pool: slots lent to one attempt at a time, guarded by
//! a parking_lot `Mutex` + `Condvar`, and the node's connection metrics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::NodeError;
use crate::transport::{ConnectionEvents, Interrupt, NodeTransport, SlotConnection};

/// Metrics of one node's connection pool (after emcache's). Every field is a
/// counter or gauge counted where its event happens, never derived from
/// another, so `connections_created - connections_closed == curr_connections`
/// is a real check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ConnectionPoolMetrics {
    /// TCP connections open to the node now.
    pub curr_connections: u64,
    /// Successful TCP connects (TLS handshake included) since the client started.
    pub connections_created: u64,
    /// Failed connects (refused, timeout, DNS, TLS handshake).
    pub connections_created_with_error: u64,
    /// Idle connections closed by the purge (`purge_unused_connections_after`).
    pub connections_purged: u64,
    /// Connections closed for any reason, purges included.
    pub connections_closed: u64,
    /// Attempts that got an answer other than a 5xx.
    pub operations_executed: u64,
    /// Attempts that failed: no usable answer, or a 5xx.
    pub operations_executed_with_error: u64,
    /// Attempts that found no free connection slot and had to wait for one.
    pub operations_waited: u64,
}

impl ConnectionPoolMetrics {
    /// Every field with its name, in declaration order (for tables, JSON and exporters).
    pub fn fields(&self) -> [(&'static str, u64); 8] {
        [
            ("curr_connections", self.curr_connections),
            ("connections_created", self.connections_created),
            (
                "connections_created_with_error",
                self.connections_created_with_error,
            ),
            ("connections_purged", self.connections_purged),
            ("connections_closed", self.connections_closed),
            ("operations_executed", self.operations_executed),
            (
                "operations_executed_with_error",
                self.operations_executed_with_error,
            ),
            ("operations_waited", self.operations_waited),
        ]
    }
}

/// Pool sizing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolLimits {
    pub max: usize,
    pub min_idle: usize,
    pub purge_after: Option<Duration>,
}

struct Slot {
    id: u64,
    conn: SlotConnection,
    last_used: Instant,
}

struct PoolState {
    idle: Vec<Slot>,
    /// Slots that exist, lent or idle.
    total: usize,
    /// A handle to interrupt each slot that exists, by slot id: changed only
    /// when a slot is made or closed, so lending costs nothing extra.
    handles: Vec<(u64, Interrupt)>,
    next_slot: u64,
    shut: bool,
}

impl PoolState {
    fn forget(&mut self, id: u64) {
        self.handles.retain(|(slot, _)| *slot != id);
    }
}

pub(crate) struct Pool {
    state: Mutex<PoolState>,
    freed: Condvar,
    limits: PoolLimits,
    transport: NodeTransport,
    pub(crate) events: Arc<ConnectionEvents>,
    purged: AtomicU64,
    pub(crate) executed: AtomicU64,
    pub(crate) executed_with_error: AtomicU64,
    waited: AtomicU64,
}

/// A slot on loan; it goes back to the pool when dropped.
pub(crate) struct Lease<'a> {
    pool: &'a Pool,
    slot: Option<Slot>,
}

impl Lease<'_> {
    pub fn connection(&self) -> &SlotConnection {
        match &self.slot {
            Some(s) => &s.conn,
            None => unreachable!("a lease holds its slot until dropped"),
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.pool.give_back(slot);
        }
    }
}

impl Pool {
    pub fn new(
        limits: PoolLimits,
        transport: NodeTransport,
        events: Arc<ConnectionEvents>,
    ) -> Self {
        Pool {
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                total: 0,
                handles: Vec::new(),
                next_slot: 0,
                shut: false,
            }),
            freed: Condvar::new(),
            limits,
            transport,
            events,
            purged: AtomicU64::new(0),
            executed: AtomicU64::new(0),
            executed_with_error: AtomicU64::new(0),
            waited: AtomicU64::new(0),
        }
    }

    /// Lends a slot, waiting for one until `deadline`.
    pub fn lease(&self, deadline: Instant) -> Result<Lease<'_>, NodeError> {
        let mut st = self.state.lock();
        let mut counted_wait = false;
        loop {
            if st.shut {
                return Err(NodeError::Shutdown);
            }
            // Most recently used first, so the oldest idle slots age out.
            if let Some(slot) = st.idle.pop() {
                return Ok(Lease {
                    pool: self,
                    slot: Some(slot),
                });
            }
            if st.total < self.limits.max {
                st.total += 1;
                let id = st.next_slot;
                st.next_slot += 1;
                let conn = self.transport.new_slot();
                st.handles.push((id, conn.interrupt_handle()));
                let slot = Slot {
                    id,
                    conn,
                    last_used: Instant::now(),
                };
                return Ok(Lease {
                    pool: self,
                    slot: Some(slot),
                });
            }
            if !counted_wait {
                counted_wait = true;
                self.waited.fetch_add(1, Ordering::Relaxed);
            }
            if self.freed.wait_until(&mut st, deadline).timed_out() {
                return Err(NodeError::PoolTimeout);
            }
        }
    }

    fn give_back(&self, mut slot: Slot) {
        slot.last_used = Instant::now();
        let mut st = self.state.lock();
        if st.shut {
            st.total -= 1;
            st.forget(slot.id);
            drop(st);
            drop(slot);
            return;
        }
        st.idle.push(slot);
        drop(st);
        self.freed.notify_one();
    }

    /// Closes idle connections unused for longer than the purge age, keeping
    /// at least `min_idle` idle connections. Returns how many were closed.
    pub fn purge(&self, now: Instant) -> usize {
        let Some(age) = self.limits.purge_after else {
            return 0;
        };
        let mut victims = Vec::new();
        {
            let mut st = self.state.lock();
            let mut open_idle = st
                .idle
                .iter()
                .filter(|s| s.conn.live_connections() > 0)
                .count();
            // idle is ordered oldest first (slots are pushed when returned).
            let mut i = 0;
            while i < st.idle.len() && open_idle > self.limits.min_idle {
                let slot = &st.idle[i];
                let stale = now.saturating_duration_since(slot.last_used) >= age;
                if stale && slot.conn.live_connections() > 0 {
                    let victim = st.idle.remove(i);
                    st.forget(victim.id);
                    victims.push(victim);
                    st.total -= 1;
                    open_idle -= 1;
                } else {
                    i += 1;
                }
            }
        }
        let mut closed = 0;
        for slot in victims {
            let open = slot.conn.live_connections();
            drop(slot);
            closed += open;
        }
        self.purged.fetch_add(closed as u64, Ordering::Relaxed);
        closed
    }

    /// True after [`Pool::shutdown`].
    pub fn is_shut(&self) -> bool {
        self.state.lock().shut
    }

    /// Refuses new leases, closes idle connections and interrupts the ones in use.
    pub fn shutdown(&self) {
        let (idle, lent) = {
            let mut st = self.state.lock();
            st.shut = true;
            let idle: Vec<Slot> = st.idle.drain(..).collect();
            st.total -= idle.len();
            for slot in &idle {
                st.forget(slot.id);
            }
            (idle, std::mem::take(&mut st.handles))
        };
        self.freed.notify_all();
        drop(idle);
        // What is left is lent out: interrupt its I/O.
        for (_, handle) in lent {
            handle.interrupt();
        }
    }

    pub fn metrics(&self) -> ConnectionPoolMetrics {
        ConnectionPoolMetrics {
            curr_connections: self.events.curr.load(Ordering::Relaxed),
            connections_created: self.events.created.load(Ordering::Relaxed),
            connections_created_with_error: self.events.created_with_error.load(Ordering::Relaxed),
            connections_purged: self.purged.load(Ordering::Relaxed),
            connections_closed: self.events.closed.load(Ordering::Relaxed),
            operations_executed: self.executed.load(Ordering::Relaxed),
            operations_executed_with_error: self.executed_with_error.load(Ordering::Relaxed),
            operations_waited: self.waited.load(Ordering::Relaxed),
        }
    }
}
