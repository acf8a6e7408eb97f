//! A node's connection pool: slots lent to one attempt at a time, guarded by
//! a parking_lot `Mutex` + `Condvar`, counted in the node's metrics.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::metrics::NodeCounters;
use crate::error::NodeError;
use crate::transport::{Interrupt, NodeTransport, SlotConnection};

/// What the pool makes its slots from: the seam between the pool and the
/// transport, so the pool is tested without sockets.
pub(crate) trait SlotSource: Send + Sync {
    /// The connection a slot holds.
    type Conn: SlotConn;
    /// A new slot (it connects lazily, on its first request).
    fn new_slot(&self) -> Self::Conn;
}

/// A slot's connection, as the pool sees it.
pub(crate) trait SlotConn: Send {
    /// A handle that interrupts the slot's I/O from another thread.
    type Interrupt: Send;
    /// Open connections the slot holds (0 or 1).
    fn live_connections(&self) -> usize;
    /// A handle to interrupt this slot's I/O.
    fn interrupt_handle(&self) -> Self::Interrupt;
    /// Interrupts the I/O the handle belongs to.
    fn interrupt(handle: Self::Interrupt);
}

impl SlotSource for NodeTransport {
    type Conn = SlotConnection;
    fn new_slot(&self) -> SlotConnection {
        NodeTransport::new_slot(self)
    }
}

impl SlotConn for SlotConnection {
    type Interrupt = Interrupt;
    fn live_connections(&self) -> usize {
        SlotConnection::live_connections(self)
    }
    fn interrupt_handle(&self) -> Interrupt {
        SlotConnection::interrupt_handle(self)
    }
    fn interrupt(handle: Interrupt) {
        handle.interrupt();
    }
}

/// Pool sizing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolLimits {
    pub max: usize,
    pub min_idle: usize,
    pub purge_after: Option<Duration>,
    /// A connection older than this (jittered ±10 % per connection) is
    /// closed instead of reused, so a name that now resolves elsewhere is
    /// followed.
    pub max_lifetime: Option<Duration>,
}

struct Slot<C> {
    id: u64,
    conn: C,
    last_used: Instant,
    /// When the slot is too old to be lent again.
    expires: Option<Instant>,
}

impl<C> Slot<C> {
    fn expired(&self, now: Instant) -> bool {
        self.expires.is_some_and(|e| now >= e)
    }
}

/// A lifetime jittered by ±10 %, so connections made together do not all
/// expire together.
fn jittered(lifetime: Duration) -> Duration {
    let unit = (crate::random::random_u64() % 2001) as f64 / 1000.0 - 1.0; // -1..=1
    lifetime.mul_f64(1.0 + 0.1 * unit)
}

/// Slot ids, unique over every pool of the process (a thread's memory of
/// its slots then needs no pool in its key).
static NEXT_SLOT: AtomicU64 = AtomicU64::new(1);

/// How many slots a thread remembers.
const REMEMBERED: usize = 4;

thread_local! {
    /// The slots this thread used last, newest first (0: none).
    static FAMILIAR: Cell<[u64; REMEMBERED]> = const { Cell::new([0; REMEMBERED]) };
}

/// Takes the idle slot this thread used most recently if one is idle, else
/// the most recently returned one. A thread that keeps its connection keeps
/// the node's thread serving it on the same core: on a loaded machine,
/// handing connections round between threads made every answer a
/// cross-core wakeup (the 4-thread bench row lost a sixth of its rate).
fn take_familiar<C>(idle: &mut Vec<Slot<C>>) -> Option<Slot<C>> {
    let familiar = FAMILIAR.with(Cell::get);
    for id in familiar.iter().take_while(|&&id| id != 0) {
        if let Some(i) = idle.iter().rposition(|s| s.id == *id) {
            return Some(idle.remove(i));
        }
    }
    idle.pop()
}

/// Notes that this thread now uses slot `id`.
fn remember(id: u64) {
    FAMILIAR.with(|f| {
        let mut ids = f.get();
        let at = ids.iter().position(|&x| x == id).unwrap_or(REMEMBERED - 1);
        ids.copy_within(0..at, 1);
        ids[0] = id;
        f.set(ids);
    });
}

struct PoolState<C: SlotConn> {
    idle: Vec<Slot<C>>,
    /// Slots that exist, lent or idle.
    total: usize,
    /// A handle to interrupt each slot that exists, by slot id: changed only
    /// when a slot is made or closed, so lending costs nothing extra.
    handles: Vec<(u64, C::Interrupt)>,
    shut: bool,
    /// Slots lent to compensations: shutdown does not interrupt them.
    sheltered: Vec<u64>,
}

impl<C: SlotConn> PoolState<C> {
    fn forget(&mut self, id: u64) {
        self.handles.retain(|(slot, _)| *slot != id);
    }
}

pub(crate) struct Pool<S: SlotSource = NodeTransport> {
    state: Mutex<PoolState<S::Conn>>,
    freed: Condvar,
    limits: PoolLimits,
    transport: S,
    counters: Arc<NodeCounters>,
}

/// A slot on loan; it goes back to the pool when dropped.
pub(crate) struct Lease<'a, S: SlotSource> {
    pool: &'a Pool<S>,
    slot: Option<Slot<S::Conn>>,
}

impl<S: SlotSource> Lease<'_, S> {
    /// Closes the slot instead of returning it (its connection was
    /// interrupted: an abandoned attempt).
    pub fn discard(mut self) {
        if let Some(slot) = self.slot.take() {
            self.pool.close(slot);
        }
    }

    pub fn connection(&self) -> &S::Conn {
        match &self.slot {
            Some(s) => &s.conn,
            None => unreachable!("a lease holds its slot until dropped"),
        }
    }
}

impl<S: SlotSource> Drop for Lease<'_, S> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.pool.give_back(slot);
        }
    }
}

impl<S: SlotSource> Pool<S> {
    pub fn new(limits: PoolLimits, transport: S, counters: Arc<NodeCounters>) -> Self {
        Pool {
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                total: 0,
                handles: Vec::new(),
                shut: false,
                sheltered: Vec::new(),
            }),
            freed: Condvar::new(),
            limits,
            transport,
            counters,
        }
    }

    /// Lends a slot, waiting for one until `deadline`.
    pub fn lease(&self, deadline: Instant) -> Result<Lease<'_, S>, NodeError> {
        self.lease_for(deadline, false)
    }

    /// Lends a slot to a compensation: also after [`Pool::shutdown`] (a
    /// fresh connection, closed when returned), and `shutdown` does not
    /// interrupt it.
    pub fn lease_sheltered(&self, deadline: Instant) -> Result<Lease<'_, S>, NodeError> {
        self.lease_for(deadline, true)
    }

    fn lease_for(&self, deadline: Instant, sheltered: bool) -> Result<Lease<'_, S>, NodeError> {
        let mut st = self.state.lock();
        let mut counted_wait = false;
        loop {
            if st.shut && !sheltered {
                return Err(NodeError::Shutdown);
            }
            let slot = match self.take_idle(&mut st) {
                Some(slot) => Some(slot),
                None if st.total < self.limits.max => {
                    st.total += 1;
                    let id = NEXT_SLOT.fetch_add(1, Ordering::Relaxed);
                    let conn = self.transport.new_slot();
                    st.handles.push((id, conn.interrupt_handle()));
                    let now = Instant::now();
                    Some(Slot {
                        id,
                        conn,
                        last_used: now,
                        expires: self.limits.max_lifetime.map(|l| now + jittered(l)),
                    })
                }
                None => None,
            };
            if let Some(slot) = slot {
                remember(slot.id);
                if sheltered {
                    st.sheltered.push(slot.id);
                }
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

    /// An idle slot to lend (see [`take_familiar`]); one past its lifetime
    /// is closed instead. The clock is read only when slots expire.
    fn take_idle(&self, st: &mut PoolState<S::Conn>) -> Option<Slot<S::Conn>> {
        let now = self.limits.max_lifetime.map(|_| Instant::now());
        loop {
            let slot = take_familiar(&mut st.idle)?;
            if !now.is_some_and(|now| slot.expired(now)) {
                return Some(slot);
            }
            st.total -= 1;
            st.forget(slot.id);
            drop(slot); // closes its connection
        }
    }

    /// A slot lent out is closed for good.
    fn close(&self, slot: Slot<S::Conn>) {
        let mut st = self.state.lock();
        st.sheltered.retain(|&id| id != slot.id);
        st.total -= 1;
        st.forget(slot.id);
        drop(st);
        drop(slot);
        self.freed.notify_one();
    }

    fn give_back(&self, mut slot: Slot<S::Conn>) {
        slot.last_used = Instant::now();
        let mut st = self.state.lock();
        st.sheltered.retain(|&id| id != slot.id);
        if st.shut || slot.expired(slot.last_used) {
            st.total -= 1;
            st.forget(slot.id);
            drop(st);
            drop(slot);
            self.freed.notify_one();
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
            let idle: Vec<Slot<S::Conn>> = st.idle.drain(..).collect();
            st.total -= idle.len();
            for slot in &idle {
                st.forget(slot.id);
            }
            let sheltered = std::mem::take(&mut st.sheltered);
            let (kept, lent) = std::mem::take(&mut st.handles)
                .into_iter()
                .partition(|(id, _)| sheltered.contains(id));
            st.handles = kept;
            st.sheltered = sheltered;
            (idle, lent)
        };
        self.freed.notify_all();
        drop(idle);
        // What is left is lent out: interrupt its I/O.
        for (_, handle) in lent {
            S::Conn::interrupt(handle);
        }
    }
}

#[cfg(test)]
impl<S: SlotSource> Pool<S> {
    fn metrics(&self) -> super::metrics::ConnectionPoolMetrics {
        self.counters.snapshot()
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
