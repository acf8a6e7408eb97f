//! `group create|delete|verify|repair` and `recover`.

use cluster_client::{ClusterClient, Error, HostAddress, Intent, NodeDeletion, NodeRepair};
use serde_json::json;

use crate::output::{failed_node, flat, json_line, one_line, table, value_or_text, Outcome};

pub(crate) fn group_repair(
    client: &ClusterClient,
    id: &str,
    intent: Intent,
    json: bool,
) -> Result<Outcome, Error> {
    let report = client.repair_group(id, intent)?;
    let mut rows = Vec::new();
    let mut nodes = Vec::new();
    let mut failed = Vec::new();
    for (host, r) in &report.nodes {
        let (word, error) = match r {
            NodeRepair::AlreadyPresent => ("already present", None),
            NodeRepair::AlreadyAbsent => ("already absent", None),
            NodeRepair::Created => ("created", None),
            NodeRepair::Deleted => ("deleted", None),
            NodeRepair::Failed(e) => ("failed", Some(e.to_string())),
            _ => ("unknown", None),
        };
        nodes.push(
            json!({ "node": host.as_str(), "result": word, "error": error.as_deref().map(flat) }),
        );
        rows.push(vec![
            host.to_string(),
            match &error {
                Some(e) => {
                    failed.push(failed_node(host, e));
                    format!("failed: {}", one_line(e))
                }
                None => word.to_string(),
            },
        ]);
    }
    let stdout = if json {
        json_line(&json!({
            "ok": failed.is_empty(),
            "group": id,
            "intent": if intent == Intent::Present { "present" } else { "absent" },
            "nodes": nodes,
        }))
    } else {
        table(&["NODE", "RESULT"], &rows)
    };
    Ok(Outcome::checked(stdout, failed))
}

pub(crate) fn recover(client: &ClusterClient, json: bool) -> Result<Outcome, Error> {
    let report = client.recover()?;
    let failed: Vec<String> = report
        .needs_attention
        .iter()
        .map(|a| {
            format!(
                "needs a person: group {:?} on {}: {}",
                a.group_id,
                a.host,
                one_line(&a.reason)
            )
        })
        .collect();
    let stdout = if json {
        json_line(&json!({
            "ok": report.is_clean(),
            "finished": report.finished.iter().map(|f| json!({
                "group": f.group_id, "operation": f.operation.as_str(),
                "request_id": f.request_id, "outcome": f.outcome.to_string(),
            })).collect::<Vec<_>>(),
            "repaired": report.repaired.iter().map(|r| json!({
                "group": r.group_id, "node": r.host.as_str(), "action": r.action.as_str(),
            })).collect::<Vec<_>>(),
            "needs_attention": report.needs_attention.iter().map(|a| json!({
                "group": a.group_id, "node": a.host.as_str(), "reason": a.reason,
            })).collect::<Vec<_>>(),
        }))
    } else {
        let mut out = format!(
            "recovered {} saga(s), repaired {} node(s), {} need a person\n",
            report.finished.len(),
            report.repaired.len(),
            report.needs_attention.len()
        );
        for f in &report.finished {
            out.push_str(&format!(
                "{} {:?}: {}\n",
                f.operation, f.group_id, f.outcome
            ));
        }
        for r in &report.repaired {
            out.push_str(&format!("{} {:?} on {}\n", r.action, r.group_id, r.host));
        }
        out
    };
    Ok(Outcome::checked(stdout, failed))
}

pub(crate) fn group_create(client: &ClusterClient, id: &str, json: bool) -> Result<Outcome, Error> {
    client.create_group(id)?;
    let nodes = client.cluster_management().nodes();
    Ok(value_or_text(
        json,
        &json!({
            "ok": true,
            "group": id,
            "created": true,
            "nodes": nodes.iter().map(HostAddress::as_str).collect::<Vec<_>>(),
        }),
        format!("created group {id:?} on {} node(s)", nodes.len()),
    ))
}

/// Deletes group `id` on every node and says, per node, whether it was
/// deleted there or was already absent. Exit 1 when a node failed.
pub(crate) fn group_delete(client: &ClusterClient, id: &str, json: bool) -> Result<Outcome, Error> {
    let outcomes = client.delete_group_outcomes(id)?;
    let (mut deleted, mut absent, mut gone) = (0, 0, 0);
    let mut failed = Vec::new();
    let mut entries = Vec::new();
    for (host, d) in &outcomes {
        let (word, error) = match d {
            NodeDeletion::Deleted => ("deleted", None),
            NodeDeletion::AlreadyAbsent => ("already absent", None),
            NodeDeletion::Gone => ("gone", None),
            NodeDeletion::Failed(e) => ("failed", Some(flat(&e.to_string()))),
            _ => ("unknown", None),
        };
        match d {
            NodeDeletion::Deleted => deleted += 1,
            NodeDeletion::AlreadyAbsent => absent += 1,
            NodeDeletion::Gone => gone += 1,
            _ => {}
        }
        if let Some(e) = &error {
            failed.push((host, e.clone()));
        }
        entries.push(json!({ "node": host.as_str(), "result": word, "error": error }));
    }
    let stdout = if json {
        json_line(&json!({
            "ok": failed.is_empty(),
            "group": id,
            "deleted": failed.is_empty(),
            "deleted_on": deleted,
            "already_absent_on": absent,
            "gone_on": gone,
            "nodes": entries,
            "failed": failed
                .iter()
                .map(|(h, e)| json!({ "node": h.as_str(), "error": e }))
                .collect::<Vec<_>>(),
        }))
    } else {
        let mut line = format!(
            "group {id:?}: deleted on {deleted} of {} node(s), already absent on {absent}",
            outcomes.len()
        );
        if gone > 0 {
            line.push_str(&format!(
                ", gone on {gone} (an earlier attempt got no answer: deleted by this run or before)"
            ));
        }
        if !failed.is_empty() {
            line.push_str(&format!(", failed on {}", failed.len()));
        }
        line.push('\n');
        line
    };
    let mut stderr = Vec::new();
    if !failed.is_empty() {
        stderr.push(format!(
            "error: group {id:?} not deleted on {} node(s)",
            failed.len()
        ));
        stderr.extend(failed.iter().map(|(h, e)| failed_node(h, e)));
    }
    Ok(Outcome::checked(stdout, stderr))
}

/// Asks every node at once whether it holds group `id`. Exit 0 only when
/// every node holds it.
pub(crate) fn group_verify(client: &ClusterClient, id: &str, json: bool) -> Result<Outcome, Error> {
    // An invalid id is refused once, before anything is sent (exit 2).
    let results = client.verify_group_everywhere(id)?;
    let mut rows = Vec::new();
    let mut entries = Vec::new();
    let mut stderr = Vec::new();
    for (node, r) in &results {
        let (state, entry) = match r {
            Ok(true) => (
                "present".to_string(),
                json!({ "node": node.as_str(), "exists": true }),
            ),
            Ok(false) => {
                stderr.push(format!("node {node} does not hold group {id:?}"));
                (
                    "missing".to_string(),
                    json!({ "node": node.as_str(), "exists": false }),
                )
            }
            Err(e) => {
                let reason = e.to_string();
                stderr.push(failed_node(node, &reason));
                (
                    format!("error: {}", one_line(&reason)),
                    json!({ "node": node.as_str(), "exists": null, "error": flat(&reason) }),
                )
            }
        };
        rows.push(vec![node.to_string(), state]);
        entries.push(entry);
    }
    let all = results.iter().all(|(_, r)| matches!(r, Ok(true)));
    let stdout = if json {
        json_line(&json!({ "ok": all, "group": id, "everywhere": all, "nodes": entries }))
    } else {
        table(&["NODE", "GROUP"], &rows)
    };
    Ok(Outcome::checked(stdout, stderr))
}
