//! [`TestCluster`]: several [`TestNode`]s sharing one cluster view.

use std::fmt;
use std::io;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::node::{Flight, TestNode};
use super::view::ClusterView;

/// `n` test nodes, each on its own port, sharing one administration "cluster
/// view" (cluster id `test-cluster`, maintenance flags, every node's id,
/// port and up/down state).
///
/// Dropping the cluster stops every node (listener closed, connections shut
/// down), even if clones of its [`TestNode`] handles are still around.
pub struct TestCluster {
    nodes: Vec<TestNode>,
    flight: Arc<Flight>,
}

impl TestCluster {
    /// Starts `n` nodes.
    pub fn start(n: usize) -> io::Result<TestCluster> {
        Self::start_with_ports(n, None)
    }

    /// Starts `n` nodes on the ports `base`, `base + 1`, ... of 127.0.0.1
    /// (an error if one is taken, or past 65535).
    pub fn start_on_ports(base: u16, n: usize) -> io::Result<TestCluster> {
        let last = u16::try_from(n.saturating_sub(1))
            .ok()
            .and_then(|k| base.checked_add(k));
        if base == 0 || last.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{n} ports from {base} do not fit in 1..=65535"),
            ));
        }
        Self::start_with_ports(n, Some(base))
    }

    fn start_with_ports(n: usize, base: Option<u16>) -> io::Result<TestCluster> {
        let view = ClusterView::shared();
        let mut cluster = TestCluster {
            nodes: Vec::with_capacity(n),
            flight: Arc::default(),
        };
        for i in 0..n {
            // On error `cluster` drops and stops the nodes started so far.
            // `start_on_ports` checked that every port fits.
            let port = base.map(|b| b.saturating_add(u16::try_from(i).unwrap_or(u16::MAX)));
            let node = TestNode::start_in(&view, &cluster.flight, port)?;
            cluster.nodes.push(node);
        }
        Ok(cluster)
    }

    /// The nodes, in start order.
    pub fn nodes(&self) -> &[TestNode] {
        &self.nodes
    }

    /// Node `i`. Panics when `i` is out of range.
    pub fn node(&self, i: usize) -> &TestNode {
        &self.nodes[i]
    }

    /// `http://127.0.0.1:PORT` of every node, in order.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(TestNode::url).collect()
    }

    /// The URLs joined by `,`.
    pub fn hosts_csv(&self) -> String {
        self.urls().join(",")
    }

    /// The most requests in flight at once over all nodes together, since
    /// start or [`reset_peak`](Self::reset_peak): proves parallelism without timing.
    pub fn peak_in_flight(&self) -> usize {
        self.flight.peak.load(Ordering::SeqCst)
    }

    /// Holds the next `n` requests (to any node of the cluster) until all
    /// `n` are in flight together, then lets them go on (one-shot; a request
    /// waits at most 10 s). Tests of concurrency use it instead of latency:
    /// calls made one after another never get past it in time.
    pub fn hold_until_in_flight(&self, n: usize) {
        self.flight.hold_until(n);
    }

    /// Resets the cluster-wide peak to the number in flight now.
    pub fn reset_peak(&self) {
        self.flight
            .peak
            .store(self.flight.count.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    /// Indices of the nodes that hold the group.
    pub fn nodes_with_group(&self, id: &str) -> Vec<usize> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, node)| node.has_group(id))
            .map(|(i, _)| i)
            .collect()
    }
}

impl fmt::Debug for TestCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCluster")
            .field("nodes", &self.nodes)
            .finish()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for node in &self.nodes {
            node.go_down();
        }
    }
}
