//! `nodes`: per node, reachable, speaks the group API, healthy.

use cluster_client::{ClusterClient, Error, HostAddress, NodeError};
use serde_json::json;

use crate::commands::{Setup, PROBE_ID};
use crate::output::{
    failed_node, flat, hedges_json, json_line, latency_json, latency_table, metrics_json, table,
    Outcome,
};

/// What `nodes` knows of a node's group API. Only what was checked is
/// claimed: a read-only verify answered 200/404 does not prove the API (a
/// server that answers 404 to everything looks the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ApiCheck {
    /// `--round-trip` created, verified and deleted the probe group.
    Proven,
    /// Its answer was not the API's (read-only or round trip).
    Refuted,
    /// Its verify got one of the API's statuses; not proven (no `--round-trip`).
    Unchecked,
    /// Not reachable: nothing known.
    Unknown,
}

impl ApiCheck {
    /// The table cell.
    fn cell(self) -> &'static str {
        match self {
            ApiCheck::Proven => "yes",
            ApiCheck::Refuted => "no",
            ApiCheck::Unchecked => "?",
            ApiCheck::Unknown => "unknown",
        }
    }

    /// The JSON `group_api` value: true or false only when checked.
    fn json(self) -> Option<bool> {
        match self {
            ApiCheck::Proven => Some(true),
            ApiCheck::Refuted => Some(false),
            ApiCheck::Unchecked | ApiCheck::Unknown => None,
        }
    }
}

/// What `nodes` found out about one node.
struct NodeFacts {
    node: HostAddress,
    /// It gave an HTTP answer.
    reachable: bool,
    /// What is known of its group API.
    api: ApiCheck,
    /// Reachable, no 5xx, and not marked unhealthy by the client.
    healthy: bool,
    /// Why the node is not fine, once.
    reason: Option<String>,
}

/// Per node: reachable, speaks the group API, healthy. One read-only
/// fan-out (a verify of [`PROBE_ID`]); with `round_trip`, each node that
/// passed also creates, verifies and deletes a reserved probe group (a
/// read-only check cannot tell a node that answers 404 to everything from
/// one that holds no groups). Exit 1 when any node is not fine.
pub(crate) fn nodes(
    client: &ClusterClient,
    setup: &Setup<'_>,
    round_trip: bool,
    json: bool,
) -> Result<Outcome, Error> {
    let answers = client.verify_group_everywhere(PROBE_ID)?;
    let mut facts: Vec<NodeFacts> = answers
        .into_iter()
        .map(|(node, answer)| read_only_facts(node, answer))
        .collect();
    if round_trip {
        round_trips(setup, &mut facts);
    }
    let m = client.cluster_management();
    let unhealthy = m.unhealthy_nodes();
    for f in &mut facts {
        if unhealthy.contains(&f.node) {
            f.healthy = false;
            if f.reason.is_none() {
                f.reason = Some("marked unhealthy by the client".to_string());
            }
        }
    }
    let metrics = m.connection_pool_metrics();
    let times = m.latency();
    let latency: Vec<_> = facts
        .iter()
        .map(|f| {
            (
                f.node.clone(),
                times.get(&f.node).copied().unwrap_or_default(),
            )
        })
        .collect();
    let mut rows = Vec::new();
    let mut entries = Vec::new();
    let mut stderr = Vec::new();
    for f in &facts {
        if let Some(reason) = &f.reason {
            stderr.push(failed_node(&f.node, reason));
        }
        let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
        rows.push(vec![
            f.node.to_string(),
            yes_no(f.reachable),
            f.api.cell().to_string(),
            if f.healthy { "healthy" } else { "unhealthy" }.to_string(),
        ]);
        entries.push(json!({
            "node": f.node.as_str(),
            "reachable": f.reachable,
            "group_api": f.api.json(),
            "group_api_checked": matches!(f.api, ApiCheck::Proven | ApiCheck::Refuted),
            "healthy": f.healthy,
            "error": f.reason.as_deref().map(flat),
            "metrics": metrics_json(&metrics.get(&f.node).copied().unwrap_or_default()),
            "latency": latency_json(&times.get(&f.node).copied().unwrap_or_default()),
        }));
    }
    let all_fine = stderr.is_empty();
    let stdout = if json {
        json_line(&json!({
            "ok": all_fine,
            "round_trip": round_trip,
            "nodes": entries,
            "hedges": hedges_json(m.hedges()),
        }))
    } else {
        // The answer times in a table of their own, under the first (whose
        // columns scripts already read).
        format!(
            "{}\n{}",
            table(&["NODE", "REACHABLE", "GROUP_API", "HEALTH"], &rows),
            latency_table(&latency)
        )
    };
    Ok(Outcome::checked(stdout, stderr))
}

/// Round trips run at once at most (each on its own thread, with its own
/// one-node client).
const MAX_PARALLEL_ROUND_TRIPS: usize = 16;

/// Runs the round trip on every node whose read-only check was not
/// conclusive, in parallel (at most [`MAX_PARALLEL_ROUND_TRIPS`] at once),
/// and records what each proved.
fn round_trips(setup: &Setup<'_>, facts: &mut [NodeFacts]) {
    let id = format!("__clusterctl_probe_{}__", std::process::id());
    let mut todo: Vec<&mut NodeFacts> = facts
        .iter_mut()
        .filter(|f| f.api == ApiCheck::Unchecked)
        .collect();
    for batch in todo.chunks_mut(MAX_PARALLEL_ROUND_TRIPS) {
        // Outer `Err`: the round trip could not run (no thread, a panic),
        // which proves nothing about the node.
        type Run = Result<Result<(), String>, String>;
        let results: Vec<Run> = std::thread::scope(|s| {
            let runs: Vec<_> = batch
                .iter()
                .map(|f| {
                    let (node, id) = (&f.node, id.as_str());
                    std::thread::Builder::new()
                        .name("clusterctl-probe".to_string())
                        .spawn_scoped(s, move || probe_round_trip(setup, node, id))
                        .map_err(|e| format!("no thread for the round trip: {e}"))
                })
                .collect();
            runs.into_iter()
                .map(|run| {
                    run?.join()
                        .map_err(|_| "the round trip panicked".to_string())
                })
                .collect()
        });
        for (f, result) in batch.iter_mut().zip(results) {
            match result {
                Err(why) => f.reason = Some(format!("round trip not run: {why}")),
                Ok(Ok(())) => f.api = ApiCheck::Proven,
                Ok(Err(why)) => {
                    f.api = ApiCheck::Refuted;
                    f.reason = Some(format!("does not speak the group API: {why}"));
                }
            }
        }
    }
}

/// The facts one answer to the read-only verify gives.
fn read_only_facts(node: HostAddress, answer: Result<bool, NodeError>) -> NodeFacts {
    match answer {
        Ok(_) => NodeFacts {
            node,
            reachable: true,
            api: ApiCheck::Unchecked,
            healthy: true,
            reason: None,
        },
        Err(e) => match e.status() {
            Some(status) => NodeFacts {
                node,
                reachable: true,
                api: ApiCheck::Refuted,
                healthy: status < 500,
                reason: Some(format!(
                    "does not speak the group API: its verify of {PROBE_ID:?} got {e}"
                )),
            },
            None => NodeFacts {
                node,
                reachable: false,
                api: ApiCheck::Unknown,
                healthy: false,
                reason: Some(e.to_string()),
            },
        },
    }
}

/// Creates, verifies and deletes group `id` on `node` alone, with the same
/// settings; `Err` says which step failed and why.
fn probe_round_trip(setup: &Setup<'_>, node: &HostAddress, id: &str) -> Result<(), String> {
    let client = setup
        .builder(Some(node))
        .build()
        .map_err(|e| e.to_string())?;
    let result = (|| {
        let first_reason = |e: Error| match &e {
            Error::GroupOperation { failures, .. } => failures
                .first()
                .map_or_else(|| e.to_string(), |f| f.error.to_string()),
            other => other.to_string(),
        };
        client
            .create_group(id)
            .map_err(|e| format!("create of {id:?}: {}", first_reason(e)))?;
        match client.verify_group(node, id) {
            Ok(true) => {}
            Ok(false) => return Err(format!("{id:?} missing right after its create")),
            Err(e) => return Err(format!("verify of {id:?}: {e}")),
        }
        let failures = client
            .delete_group_report(id)
            .map_err(|e| format!("delete of {id:?}: {e}"))?;
        match failures.first() {
            Some(f) => Err(format!("delete of {id:?} (still there): {}", f.error)),
            None => Ok(()),
        }
    })();
    client.shutdown();
    result
}
