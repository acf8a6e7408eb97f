//! A node's metrics: [`ConnectionPoolMetrics`] (after emcache's), the
//! counters behind it (counted where each event happens), and one table of
//! name, help, kind and value ([`POOL_METRICS`]) that every consumer
//! renders (Prometheus, `clusterctl`, the C ABI).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::transport::ConnectionObserver;

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
    /// ConnectionSettings closed for any reason, purges included.
    pub connections_closed: u64,
    /// Attempts that got an answer other than a 5xx.
    pub operations_executed: u64,
    /// Attempts that failed: no usable answer, or a 5xx.
    pub operations_executed_with_error: u64,
    /// Attempts that found no free connection slot and had to wait for one.
    pub operations_waited: u64,
}

/// Whether a metric only grows or goes up and down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only grows (Prometheus `counter`, exported with a `_total` suffix).
    Counter,
    /// Goes up and down (Prometheus `gauge`).
    Gauge,
}

/// One metric of [`ConnectionPoolMetrics`]: its name (the field's), a
/// one-line help text, its kind, and [`value`](MetricInfo::value) to read
/// it from a snapshot. Every metric, in order, is [`POOL_METRICS`].
///
/// ```
/// use cluster_client::{ConnectionPoolMetrics, POOL_METRICS};
///
/// let m = ConnectionPoolMetrics { operations_waited: 3, ..Default::default() };
/// for info in &POOL_METRICS {
///     println!("{} {} ({})", info.name, info.value(&m), info.help);
/// }
/// assert_eq!(POOL_METRICS[7].value(&m), 3);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MetricInfo {
    /// The field name, e.g. `connections_created`.
    pub name: &'static str,
    /// One line for humans (Prometheus `# HELP`).
    pub help: &'static str,
    /// Counter or gauge.
    pub kind: MetricKind,
    get: fn(&ConnectionPoolMetrics) -> u64,
}

impl MetricInfo {
    /// This metric's value in the snapshot `m` (the field named [`name`](Self::name)).
    pub fn value(&self, m: &ConnectionPoolMetrics) -> u64 {
        (self.get)(m)
    }
}

const fn counter(
    name: &'static str,
    help: &'static str,
    get: fn(&ConnectionPoolMetrics) -> u64,
) -> MetricInfo {
    MetricInfo {
        name,
        help,
        kind: MetricKind::Counter,
        get,
    }
}

/// Every metric of a node's pool, in declaration order: the one table
/// Prometheus, `clusterctl` and the C ABI render.
pub const POOL_METRICS: [MetricInfo; 8] = [
    MetricInfo {
        name: "curr_connections",
        help: "ConnectionSettings open to the node now.",
        kind: MetricKind::Gauge,
        get: |m| m.curr_connections,
    },
    counter(
        "connections_created",
        "TCP connections opened to the node.",
        |m| m.connections_created,
    ),
    counter(
        "connections_created_with_error",
        "Connects to the node that failed.",
        |m| m.connections_created_with_error,
    ),
    counter(
        "connections_purged",
        "Idle connections closed by the purge.",
        |m| m.connections_purged,
    ),
    counter(
        "connections_closed",
        "ConnectionSettings to the node closed for any reason.",
        |m| m.connections_closed,
    ),
    counter(
        "operations_executed",
        "Attempts that got an answer other than 5xx.",
        |m| m.operations_executed,
    ),
    counter(
        "operations_executed_with_error",
        "Attempts that failed: no usable answer, or a 5xx.",
        |m| m.operations_executed_with_error,
    ),
    counter(
        "operations_waited",
        "Attempts that waited for a free connection slot.",
        |m| m.operations_waited,
    ),
];

/// The live counters of one node, each counted where its event happens.
#[derive(Debug, Default)]
pub(crate) struct NodeCounters {
    curr: AtomicU64,
    created: AtomicU64,
    created_with_error: AtomicU64,
    purged: AtomicU64,
    closed: AtomicU64,
    executed: AtomicU64,
    executed_with_error: AtomicU64,
    waited: AtomicU64,
}

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl NodeCounters {
    /// An attempt got an answer other than 5xx.
    pub fn executed(&self) {
        bump(&self.executed, 1);
    }

    /// An attempt failed: no usable answer, or a 5xx.
    pub fn executed_with_error(&self) {
        bump(&self.executed_with_error, 1);
    }

    /// An attempt found no free slot and waited.
    pub fn waited(&self) {
        bump(&self.waited, 1);
    }

    /// The purge closed `n` idle connections.
    pub fn purged(&self, n: u64) {
        bump(&self.purged, n);
    }

    /// A snapshot of every metric.
    pub fn snapshot(&self) -> ConnectionPoolMetrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ConnectionPoolMetrics {
            curr_connections: get(&self.curr),
            connections_created: get(&self.created),
            connections_created_with_error: get(&self.created_with_error),
            connections_purged: get(&self.purged),
            connections_closed: get(&self.closed),
            operations_executed: get(&self.executed),
            operations_executed_with_error: get(&self.executed_with_error),
            operations_waited: get(&self.waited),
        }
    }
}

impl ConnectionObserver for NodeCounters {
    fn connected(&self) {
        bump(&self.created, 1);
        bump(&self.curr, 1);
    }

    fn connect_failed(&self) {
        bump(&self.created_with_error, 1);
    }

    fn closed(&self) {
        self.curr.fetch_sub(1, Ordering::Relaxed);
        bump(&self.closed, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_reads_every_field_in_order() {
        let m = ConnectionPoolMetrics {
            curr_connections: 1,
            connections_created: 2,
            connections_created_with_error: 3,
            connections_purged: 4,
            connections_closed: 5,
            operations_executed: 6,
            operations_executed_with_error: 7,
            operations_waited: 8,
        };
        let values: Vec<u64> = POOL_METRICS.iter().map(|i| i.value(&m)).collect();
        assert_eq!(values, vec![1, 2, 3, 4, 5, 6, 7, 8]);
        let json = serde_json::to_value(m).unwrap();
        assert_eq!(json.as_object().map(|o| o.len()), Some(POOL_METRICS.len()));
        for info in &POOL_METRICS {
            assert_eq!(json[info.name], info.value(&m), "{}", info.name);
        }
    }

    #[test]
    fn counters_count_where_events_happen() {
        let c = NodeCounters::default();
        c.connected();
        c.connected();
        c.closed();
        c.connect_failed();
        c.executed();
        c.executed_with_error();
        c.waited();
        c.purged(1);
        let m = c.snapshot();
        assert_eq!(
            m.connections_created - m.connections_closed,
            m.curr_connections
        );
        assert_eq!(m.curr_connections, 1);
        assert_eq!(m.connections_created_with_error, 1);
        assert_eq!(
            (
                m.operations_executed,
                m.operations_executed_with_error,
                m.operations_waited
            ),
            (1, 1, 1)
        );
    }
}
