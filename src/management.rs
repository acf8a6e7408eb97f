//! [`ClusterManagement`]: the nodes, their health and their pool metrics
//! (after emcache's `ClusterManagment`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use crate::address::HostAddress;
use crate::cluster::Cluster;
use crate::node::load::{bucket_bound, LatencySummary, BUCKETS};
use crate::node::metrics::{ConnectionPoolMetrics, MetricKind, POOL_METRICS};

/// A view of the client's nodes, from
/// [`ClusterClient::cluster_management`](crate::ClusterClient::cluster_management).
///
/// ```
/// use cluster_client::ClusterClient;
///
/// let client = ClusterClient::new(["http://127.0.0.1:8000", "http://127.0.0.1:8001"])?;
/// let m = client.cluster_management();
/// assert_eq!(m.nodes().len(), 2);
/// assert_eq!(m.healthy_nodes().len(), 2); // nodes start healthy
/// assert!(m.unhealthy_nodes().is_empty());
/// assert_eq!(m.connection_pool_metrics().len(), 2);
/// # Ok::<(), cluster_client::Error>(())
/// ```
#[derive(Clone)]
pub struct ClusterManagement {
    cluster: Arc<Cluster>,
}

impl ClusterManagement {
    pub(crate) fn new(cluster: Arc<Cluster>) -> Self {
        ClusterManagement { cluster }
    }

    /// Every node, in configured order.
    pub fn nodes(&self) -> Vec<HostAddress> {
        self.cluster
            .nodes()
            .iter()
            .map(|n| n.address.clone())
            .collect()
    }

    /// Nodes currently considered healthy.
    pub fn healthy_nodes(&self) -> Vec<HostAddress> {
        self.cluster
            .nodes()
            .iter()
            .filter(|n| n.is_healthy())
            .map(|n| n.address.clone())
            .collect()
    }

    /// Nodes currently considered unhealthy: `unhealthy_after` attempts in
    /// a row failed, and no attempt or probe has succeeded since.
    pub fn unhealthy_nodes(&self) -> Vec<HostAddress> {
        self.cluster
            .nodes()
            .iter()
            .filter(|n| !n.is_healthy())
            .map(|n| n.address.clone())
            .collect()
    }

    /// The pool metrics of every node, keyed by node. A `HashMap` iterates
    /// in no particular order: for node order, iterate [`nodes`](Self::nodes)
    /// and index the map.
    pub fn connection_pool_metrics(&self) -> HashMap<HostAddress, ConnectionPoolMetrics> {
        self.cluster
            .nodes()
            .iter()
            .map(|n| (n.address.clone(), n.metrics()))
            .collect()
    }

    /// Every node's answer times: how many were measured and their 50th,
    /// 90th and 99th percentiles (the upper bound of the fixed log bucket
    /// each falls in: 250 µs doubling to ~65 s).
    pub fn latency(&self) -> HashMap<HostAddress, LatencySummary> {
        self.cluster
            .nodes()
            .iter()
            .map(|n| (n.address.clone(), n.load.summary()))
            .collect()
    }

    /// The mean time the host resolver takes to pick where a one-node call
    /// starts, over `picks` picks (for the benchmark's row).
    #[doc(hidden)]
    pub fn time_picks(&self, picks: u32) -> std::time::Duration {
        let start = std::time::Instant::now();
        for _ in 0..picks {
            let view = self.cluster.nodes();
            std::hint::black_box(self.cluster.candidates(&view));
        }
        start.elapsed() / picks.max(1)
    }

    /// How many hedged requests were sent, and how many of them answered
    /// first (zero without [`Hedging`](crate::Hedging)).
    pub fn hedges(&self) -> crate::HedgeCounts {
        self.cluster.hedge_counts()
    }

    /// The pool metrics and health of every node in the Prometheus text
    /// exposition format: counters end in `_total`, gauges
    /// (`cluster_client_curr_connections`, `cluster_client_node_healthy`)
    /// do not, and every sample has a `node` label.
    pub fn prometheus(&self) -> String {
        let rows: Vec<(String, ConnectionPoolMetrics, bool)> = self
            .cluster
            .nodes()
            .iter()
            .map(|n| {
                (
                    escape_label(n.address.as_str()),
                    n.metrics(),
                    n.is_healthy(),
                )
            })
            .collect();
        let mut out = String::new();
        for info in &POOL_METRICS {
            let (name, kind) = match info.kind {
                MetricKind::Gauge => (info.name.to_string(), "gauge"),
                MetricKind::Counter => (format!("{}_total", info.name), "counter"),
            };
            let _ = writeln!(out, "# HELP cluster_client_{name} {}", info.help);
            let _ = writeln!(out, "# TYPE cluster_client_{name} {kind}");
            for (node, m, _) in &rows {
                let value = info.value(m);
                let _ = writeln!(out, "cluster_client_{name}{{node=\"{node}\"}} {value}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP cluster_client_node_healthy 1 when the node is healthy, else 0."
        );
        let _ = writeln!(out, "# TYPE cluster_client_node_healthy gauge");
        for (node, _, healthy) in &rows {
            let _ = writeln!(
                out,
                "cluster_client_node_healthy{{node=\"{node}\"}} {}",
                u8::from(*healthy)
            );
        }
        self.latency_histograms(&mut out);
        type Counter = fn(&crate::node::load::Load) -> u64;
        let hedges: [(&str, &str, Counter); 2] = [
            (
                "hedges_sent",
                "Second requests sent to the node for a slow one-node read.",
                |l| l.hedges_sent.load(std::sync::atomic::Ordering::Relaxed),
            ),
            (
                "hedges_won",
                "Second requests to the node whose answer came first.",
                |l| l.hedges_won.load(std::sync::atomic::Ordering::Relaxed),
            ),
        ];
        for (name, help, get) in hedges {
            let _ = writeln!(out, "# HELP cluster_client_{name}_total {help}");
            let _ = writeln!(out, "# TYPE cluster_client_{name}_total counter");
            for n in self.cluster.nodes().iter() {
                let node = escape_label(n.address.as_str());
                let _ = writeln!(
                    out,
                    "cluster_client_{name}_total{{node=\"{node}\"}} {}",
                    get(&n.load)
                );
            }
        }
        out
    }

    /// `cluster_client_request_duration_seconds`, a histogram per node.
    fn latency_histograms(&self, out: &mut String) {
        let name = "cluster_client_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from sending a request to its answer."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        for n in self.cluster.nodes().iter() {
            let node = escape_label(n.address.as_str());
            let (counts, sum) = n.load.histogram();
            let mut seen = 0u64;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                let le = if i + 1 == BUCKETS {
                    "+Inf".to_string()
                } else {
                    format!("{}", bucket_bound(i).as_secs_f64())
                };
                let _ = writeln!(out, "{name}_bucket{{node=\"{node}\",le=\"{le}\"}} {seen}");
            }
            let _ = writeln!(out, "{name}_sum{{node=\"{node}\"}} {}", sum.as_secs_f64());
            let _ = writeln!(out, "{name}_count{{node=\"{node}\"}} {seen}");
        }
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl std::fmt::Debug for ClusterManagement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterManagement")
            .field("nodes", &self.nodes())
            .finish()
    }
}
