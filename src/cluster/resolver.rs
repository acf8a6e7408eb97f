//! Which node a one-node call starts at.

use std::sync::atomic::Ordering;

use super::Cluster;
use crate::retry::random_u64;

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
}

impl Cluster {
    /// The order in which a one-node call tries nodes.
    pub(super) fn candidates(&self) -> Vec<usize> {
        let routable: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_healthy())
            .collect();
        // When every node is unhealthy they are tried anyway.
        let pool = if routable.is_empty() {
            (0..self.nodes.len()).collect()
        } else {
            routable
        };
        let start = match self.resolver {
            HostResolver::RoundRobin => self.next.fetch_add(1, Ordering::Relaxed) % pool.len(),
            HostResolver::Random => (random_u64() % pool.len() as u64) as usize,
            HostResolver::Fallback => 0,
        };
        let mut order = pool[start..].to_vec();
        order.extend_from_slice(&pool[..start]);
        order
    }
}
