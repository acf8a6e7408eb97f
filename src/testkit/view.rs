//! The "cluster view" shared by the nodes of one cluster: its id, the
//! maintenance flags and what every node is (id, port, role, up or down).

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// The cluster id every test cluster reports.
pub(super) const CLUSTER_ID: &str = "test-cluster";

/// A cluster view shared between nodes.
pub(super) type SharedView = Arc<Mutex<ClusterView>>;

/// What the nodes of one cluster know about the cluster.
#[derive(Debug)]
pub(super) struct ClusterView {
    /// Cluster-wide maintenance mode (supervision off).
    pub(super) maintenance: bool,
    /// Per-server maintenance entries, by server id.
    pub(super) server_maintenance: BTreeMap<String, ServerMaintenance>,
    /// Every node of the cluster, in start order.
    pub(super) members: Vec<Member>,
}

/// One node as the cluster view knows it.
#[derive(Debug)]
pub(super) struct Member {
    pub(super) id: String,
    pub(super) port: u16,
    /// Role as `/_admin/server/role` reports it, e.g. `COORDINATOR`.
    pub(super) role: String,
    pub(super) up: bool,
    /// Requests this node has read (for its statistics).
    pub(super) requests_total: Arc<AtomicU64>,
    pub(super) started: Instant,
}

/// A per-server maintenance entry.
#[derive(Debug, Clone)]
pub(super) struct ServerMaintenance {
    pub(super) mode: String,
    pub(super) timeout: u64,
    pub(super) until: SystemTime,
}

impl ClusterView {
    /// A new, empty shared view.
    pub(super) fn shared() -> SharedView {
        Arc::new(Mutex::new(ClusterView {
            maintenance: false,
            server_maintenance: BTreeMap::new(),
            members: Vec::new(),
        }))
    }

    /// The member with this server id.
    pub(super) fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    /// The member with this server id, mutably.
    pub(super) fn member_mut(&mut self, id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id == id)
    }

    /// The unexpired maintenance entry of a server (expired ones are
    /// removed).
    pub(super) fn maintenance_of(&mut self, id: &str) -> Option<ServerMaintenance> {
        let entry = self.server_maintenance.get(id)?.clone();
        if entry.until <= SystemTime::now() {
            self.server_maintenance.remove(id);
            return None;
        }
        Some(entry)
    }

    /// Stores a maintenance entry for `timeout` seconds.
    pub(super) fn set_maintenance_of(&mut self, id: &str, mode: &str, timeout: u64) {
        let until = SystemTime::now()
            .checked_add(Duration::from_secs(timeout))
            .unwrap_or_else(|| SystemTime::now() + Duration::from_secs(365 * 24 * 3600));
        self.server_maintenance.insert(
            id.to_string(),
            ServerMaintenance {
                mode: mode.to_string(),
                timeout,
                until,
            },
        );
    }
}

/// Locks a view, recovering from poisoning.
pub(super) fn lock(view: &SharedView) -> MutexGuard<'_, ClusterView> {
    view.lock().unwrap_or_else(|e| e.into_inner())
}

/// Formats a time as RFC 3339 in UTC, e.g. `2024-05-01T12:00:00Z`.
pub(super) fn rfc3339(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}
