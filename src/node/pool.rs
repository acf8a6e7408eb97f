//! A node's connection pool: slots lent to one attempt at a time, guarded by
//! a parking_lot `Mutex` + `Condvar`, counted in the node's metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::metrics::{ConnectionPoolMetrics, NodeCounters};
use crate::error::NodeError;
use crate::transport::{Interrupt, NodeTransport, SlotConnection};

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
    counters: Arc<NodeCounters>,
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
    pub fn new(limits: PoolLimits, transport: NodeTransport, counters: Arc<NodeCounters>) -> Self {
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
            counters,
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
                self.counters.waited();
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
        self.counters.purged(closed as u64);
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
        self.counters.snapshot()
    }
}
