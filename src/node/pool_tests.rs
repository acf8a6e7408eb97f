//! The pool's specification, with fake slots: no sockets, no ureq.
use super::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[derive(Default)]
struct FakeSource {
    made: AtomicUsize,
}

struct FakeConn {
    id: usize,
    live: Arc<AtomicUsize>,
    interrupted: Arc<AtomicBool>,
}

impl SlotSource for FakeSource {
    type Conn = FakeConn;
    fn new_slot(&self) -> FakeConn {
        FakeConn {
            id: self.made.fetch_add(1, Ordering::SeqCst),
            live: Arc::default(),
            interrupted: Arc::default(),
        }
    }
}

impl SlotConn for FakeConn {
    type Interrupt = Arc<AtomicBool>;
    fn live_connections(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }
    fn interrupt_handle(&self) -> Arc<AtomicBool> {
        self.interrupted.clone()
    }
    fn interrupt(handle: Arc<AtomicBool>) {
        handle.store(true, Ordering::SeqCst);
    }
}

fn pool(max: usize, min_idle: usize) -> Pool<FakeSource> {
    Pool::new(
        PoolLimits {
            max,
            min_idle,
            purge_after: Some(Duration::from_secs(60)),
            max_lifetime: None,
        },
        FakeSource::default(),
        Arc::default(),
    )
}

fn soon() -> Instant {
    Instant::now() + Duration::from_millis(20)
}

#[test]
fn lends_up_to_max_then_a_waiter_times_out_at_its_deadline() {
    let p = pool(2, 1);
    let a = p.lease(soon()).unwrap();
    let b = p.lease(soon()).unwrap();
    assert_ne!(a.connection().id, b.connection().id);
    let start = Instant::now();
    assert!(matches!(p.lease(soon()), Err(NodeError::PoolTimeout)));
    assert!(start.elapsed() >= Duration::from_millis(15));
    assert_eq!(p.metrics().operations_waited, 1);
    drop(a);
    // The returned slot is lent again: no third slot is made.
    let c = p.lease(soon()).unwrap();
    assert_eq!(p.transport.made.load(Ordering::SeqCst), 2);
    drop((b, c));
}

#[test]
fn a_waiter_gets_the_slot_given_back() {
    let p = Arc::new(pool(1, 1));
    let held = p.lease(soon()).unwrap();
    let id = held.connection().id;
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            p.lease(Instant::now() + Duration::from_secs(5))
                .map(|l| l.connection().id)
        });
        std::thread::sleep(Duration::from_millis(20));
        drop(held);
        assert_eq!(waiter.join().unwrap().unwrap(), id);
    });
    assert_eq!(p.metrics().operations_waited, 1);
}

#[test]
fn the_most_recently_used_idle_slot_is_lent_first() {
    let p = pool(3, 1);
    let a = p.lease(soon()).unwrap();
    let b = p.lease(soon()).unwrap();
    let (ida, idb) = (a.connection().id, b.connection().id);
    drop(a);
    drop(b);
    assert_eq!(p.lease(soon()).unwrap().connection().id, idb);
    let _ = ida;
}

#[test]
fn a_thread_gets_back_the_slot_it_used_last_when_it_is_idle() {
    let p = pool(3, 1);
    let mine = p.lease(soon()).unwrap();
    let my_id = mine.connection().id;
    drop(mine);
    // Another thread uses a second slot and gives it back after mine: the
    // most recently returned slot is not mine.
    let other_id = std::thread::scope(|s| {
        s.spawn(|| {
            let first = p.lease(soon()).unwrap();
            let second = p.lease(soon()).unwrap();
            let id = second.connection().id;
            drop(first);
            drop(second);
            id
        })
        .join()
        .unwrap()
    });
    assert_ne!(other_id, my_id);
    assert_eq!(p.lease(soon()).unwrap().connection().id, my_id);
    assert_eq!(p.transport.made.load(Ordering::SeqCst), 2);
}

#[test]
fn every_expired_idle_slot_is_closed_wherever_it_lies() {
    let p = Pool::new(
        PoolLimits {
            max: 3,
            min_idle: 0,
            purge_after: None,
            max_lifetime: Some(Duration::from_millis(5)),
        },
        FakeSource::default(),
        Arc::default(),
    );
    let a = p.lease(soon()).unwrap();
    let b = p.lease(soon()).unwrap();
    drop(b);
    drop(a);
    std::thread::sleep(Duration::from_millis(10));
    let fresh = p.lease(soon()).unwrap();
    assert_eq!(
        p.transport.made.load(Ordering::SeqCst),
        3,
        "both old ones closed"
    );
    let second = p.lease(soon()).unwrap();
    let third = p.lease(soon()).unwrap();
    assert_eq!(
        p.transport.made.load(Ordering::SeqCst),
        5,
        "room for three again"
    );
    drop((fresh, second, third));
}

#[test]
fn the_purge_closes_stale_idle_connections_and_keeps_the_minimum() {
    let p = pool(4, 1);
    let leases: Vec<_> = (0..3).map(|_| p.lease(soon()).unwrap()).collect();
    for l in &leases {
        l.connection().live.store(1, Ordering::SeqCst);
    }
    drop(leases);
    let now = Instant::now();
    assert_eq!(p.purge(now), 0, "nothing is stale yet");
    assert_eq!(p.purge(now + Duration::from_secs(61)), 2);
    assert_eq!(p.metrics().connections_purged, 2);
    assert_eq!(p.purge(now + Duration::from_secs(600)), 0, "one kept");
    // A slot with no open connection does not count as idle capacity.
    let never_connected = p.lease(soon()).unwrap();
    drop(never_connected);
}

#[test]
fn a_connection_past_its_lifetime_is_closed_not_lent_again() {
    let p = Pool::new(
        PoolLimits {
            max: 2,
            min_idle: 0,
            purge_after: None,
            max_lifetime: Some(Duration::from_millis(5)),
        },
        FakeSource::default(),
        Arc::default(),
    );
    let first = p.lease(soon()).unwrap().connection().id;
    let again = p.lease(soon()).unwrap().connection().id;
    assert_eq!(first, again, "young: reused");
    std::thread::sleep(Duration::from_millis(10));
    let lease = p.lease(soon()).unwrap();
    assert_ne!(lease.connection().id, first, "old: closed, a new one made");
    drop(lease);
    std::thread::sleep(Duration::from_millis(10));
    let newer = p.lease(soon()).unwrap();
    assert_eq!(p.transport.made.load(Ordering::SeqCst), 3);
    drop(newer);
}

#[test]
fn a_sheltered_lease_survives_shutdown_and_is_lent_after_it() {
    let p = pool(2, 0);
    let sheltered = p.lease_sheltered(soon()).unwrap();
    let plain = p.lease(soon()).unwrap();
    p.shutdown();
    assert!(!sheltered.connection().interrupted.load(Ordering::SeqCst));
    assert!(plain.connection().interrupted.load(Ordering::SeqCst));
    drop(plain);
    assert!(matches!(p.lease(soon()), Err(NodeError::Shutdown)));
    drop(sheltered);
    let after = p.lease_sheltered(soon()).unwrap();
    assert!(!after.connection().interrupted.load(Ordering::SeqCst));
}

#[test]
fn shutdown_interrupts_lent_slots_refuses_leases_and_wakes_waiters() {
    let p = Arc::new(pool(1, 1));
    let held = p.lease(soon()).unwrap();
    let flag = held.connection().interrupted.clone();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| p.lease(Instant::now() + Duration::from_secs(5)).err());
        std::thread::sleep(Duration::from_millis(20));
        p.shutdown();
        assert!(matches!(waiter.join().unwrap(), Some(NodeError::Shutdown)));
    });
    assert!(flag.load(Ordering::SeqCst), "the lent slot was interrupted");
    assert!(p.is_shut());
    assert!(matches!(p.lease(soon()), Err(NodeError::Shutdown)));
    drop(held);
}
