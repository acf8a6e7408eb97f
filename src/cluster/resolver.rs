//! Which node a one-node call starts at.

use std::sync::atomic::Ordering;

use super::{Cluster, NodeSet};
use crate::random::random_u64;

/// How a one-node request picks its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HostResolver {
    /// Each call starts at the next healthy node in turn (the default).
    #[default]
    RoundRobin,
    /// Each call starts at a random healthy node.
    Random,
    /// Every call starts at the first healthy node in configured order.
    Fallback,
    /// Each call starts at the less loaded of two healthy nodes drawn at
    /// random ("power of two choices"): load is a peak-sensitive moving
    /// average of the node's answer times (decaying over ~10 s, so a slow
    /// node is tried again now and then) times its requests in flight plus
    /// one; a node never measured is tried soon. Pick this when nodes
    /// differ in speed or load; round robin when they are alike.
    LeastLoaded,
}

impl Cluster {
    /// The order in which a one-node call tries nodes.
    pub(crate) fn candidates(&self, view: &NodeSet) -> Vec<usize> {
        let routable: Vec<usize> = (0..view.len()).filter(|&i| view[i].is_healthy()).collect();
        // When every node is unhealthy they are tried anyway.
        let pool = if routable.is_empty() {
            (0..view.len()).collect()
        } else {
            routable
        };
        let start = match self.resolver {
            HostResolver::RoundRobin => self.next.fetch_add(1, Ordering::Relaxed) % pool.len(),
            HostResolver::Random => (random_u64() % pool.len() as u64) as usize,
            HostResolver::Fallback => 0,
            HostResolver::LeastLoaded => least_loaded(view, &pool),
        };
        let mut order = pool[start..].to_vec();
        order.extend_from_slice(&pool[..start]);
        order
    }
}

/// Power of two choices: the position in `pool` of the cheaper of two
/// distinct nodes drawn at random.
fn least_loaded(view: &NodeSet, pool: &[usize]) -> usize {
    if pool.len() < 2 {
        return 0;
    }
    let r = random_u64();
    let a = (r % pool.len() as u64) as usize;
    let b = (a + 1 + ((r >> 32) % (pool.len() as u64 - 1)) as usize) % pool.len();
    let now = std::time::Instant::now();
    let cost = |i: usize| view[pool[i]].load.cost(now);
    if cost(b) < cost(a) {
        b
    } else {
        a
    }
}
