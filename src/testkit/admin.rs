//! ArangoDB-style coordinator administration handlers (`/_admin/...`,
//! `/_api/...`), answered from the node's cluster view.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use serde_json::{json, Map, Value};

use super::http::{percent_decode, query_param, Response};
use super::view::{self, rfc3339, Member, SharedView, CLUSTER_ID};

/// The version every test node reports.
pub(super) const VERSION: &str = "3.11.0";

/// Default per-server maintenance timeout when the request gives none.
const DEFAULT_MAINTENANCE_TIMEOUT: u64 = 3600;

/// ArangoDB's "bad parameter" error number.
const ERROR_BAD_PARAMETER: u32 = 10;
/// ArangoDB's "unknown server id" error number.
const ERROR_UNKNOWN_SERVER: u32 = 1477;

/// One administration request, as the router hands it over.
pub(super) struct AdminRequest<'a> {
    /// The answering node's server id.
    pub(super) server_id: &'a str,
    /// The answering node's cluster view.
    pub(super) view: &'a SharedView,
    /// `GET` for `HEAD` requests.
    pub(super) method: &'a str,
    /// Path without query and `/_db/<name>` prefix.
    pub(super) path: &'a str,
    pub(super) query: Option<&'a str>,
    pub(super) body: &'a [u8],
}

/// Answers an administration request, or `None` when the path is not one.
pub(super) fn handle(req: &AdminRequest<'_>) -> Option<Response> {
    let path = req.path.strip_suffix('/').unwrap_or(req.path);
    let get = |f: &dyn Fn() -> Response| Some(only(req.method, "GET", f));
    match path {
        "/_admin/server/id" => get(&|| server_id(req)),
        "/_admin/server/role" => get(&|| server_role(req)),
        "/_admin/cluster/health" => get(&|| health(req)),
        "/_admin/cluster/numberOfServers" => get(&|| number_of_servers(req)),
        "/_admin/cluster/nodeEngine" => get(&|| with_server(req, |_| node_engine())),
        "/_admin/cluster/nodeVersion" => get(&|| with_server(req, |_| version())),
        "/_admin/cluster/nodeStatistics" => get(&|| with_server(req, node_statistics)),
        "/_admin/cluster/maintenance" => {
            Some(only(req.method, "PUT", &|| cluster_maintenance(req)))
        }
        "/_api/cluster/endpoints" => get(&|| endpoints(req)),
        "/_api/version" => get(&version),
        "/health" => get(&|| Response::json(200, &json!({ "status": "ok" }))),
        _ => {
            let raw_id = path.strip_prefix("/_admin/cluster/maintenance/")?;
            let id = percent_decode(raw_id, false).unwrap_or_else(|| raw_id.to_string());
            Some(match req.method {
                "GET" => get_server_maintenance(req, &id),
                "PUT" => put_server_maintenance(req, &id),
                _ => method_not_allowed(),
            })
        }
    }
}

fn only(method: &str, wanted: &str, answer: &dyn Fn() -> Response) -> Response {
    if method == wanted {
        answer()
    } else {
        method_not_allowed()
    }
}

fn method_not_allowed() -> Response {
    Response::error(405, 405, "method not supported")
}

fn ok(mut fields: Map<String, Value>) -> Response {
    fields.insert("error".to_string(), Value::Bool(false));
    fields.insert("code".to_string(), json!(200));
    Response::json(200, &Value::Object(fields))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn server_id(req: &AdminRequest<'_>) -> Response {
    ok(object(json!({ "id": req.server_id })))
}

fn server_role(req: &AdminRequest<'_>) -> Response {
    let role = view::lock(req.view)
        .member(req.server_id)
        .map(|m| m.role.clone())
        .unwrap_or_else(|| "COORDINATOR".to_string());
    ok(object(json!({ "role": role, "mode": "default" })))
}

/// The `Role` spelling of `/_admin/cluster/health` and the short-name stem.
fn health_role(role: &str) -> String {
    match role.to_ascii_uppercase().as_str() {
        "COORDINATOR" => "Coordinator".to_string(),
        "PRIMARY" | "DBSERVER" => "DBServer".to_string(),
        "AGENT" => "Agent".to_string(),
        "SINGLE" => "Single".to_string(),
        _ => {
            let lower = role.to_ascii_lowercase();
            let mut chars = lower.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        }
    }
}

fn health(req: &AdminRequest<'_>) -> Response {
    let view = view::lock(req.view);
    let mut servers = Map::new();
    for (index, member) in view.members.iter().enumerate() {
        let role = health_role(&member.role);
        servers.insert(
            member.id.clone(),
            json!({
                "Role": role,
                "Status": if member.up { "GOOD" } else { "FAILED" },
                "Endpoint": format!("tcp://127.0.0.1:{}", member.port),
                "ShortName": format!("{role}{:04}", index + 1),
                "Version": VERSION,
                "Engine": "rocksdb",
                "CanBeDeleted": false,
            }),
        );
    }
    ok(object(json!({
        "ClusterId": CLUSTER_ID,
        "Health": Value::Object(servers),
    })))
}

fn number_of_servers(req: &AdminRequest<'_>) -> Response {
    let count = view::lock(req.view).members.len();
    ok(object(json!({
        "numberOfCoordinators": count,
        "numberOfDBServers": null,
        "cleanedServers": [],
    })))
}

/// Runs `answer` for the known server named by `?ServerID=`; 400 when the
/// parameter is missing, 404 (errorNum 1477) when the server is unknown.
fn with_server(req: &AdminRequest<'_>, answer: impl Fn(&Member) -> Response) -> Response {
    let Some(id) = query_param(req.query, "ServerID") else {
        return Response::error(400, ERROR_BAD_PARAMETER, "missing ServerID parameter");
    };
    let view = view::lock(req.view);
    match view.member(&id) {
        Some(member) => answer(member),
        None => unknown_server(),
    }
}

fn unknown_server() -> Response {
    Response::error(404, ERROR_UNKNOWN_SERVER, "unknown server id")
}

fn node_engine() -> Response {
    Response::json(
        200,
        &json!({
            "name": "rocksdb",
            "supports": {
                "dfdb": false,
                "indexes": ["primary", "edge", "persistent"],
            },
        }),
    )
}

fn version() -> Response {
    Response::json(
        200,
        &json!({ "server": "arango", "version": VERSION, "license": "community" }),
    )
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn node_statistics(member: &Member) -> Response {
    let requests = member.requests_total.load(Ordering::Relaxed);
    let uptime = member.started.elapsed().as_secs_f64();
    Response::json(
        200,
        &json!({
            "time": unix_now(),
            "enabled": true,
            "system": {
                "minorPageFaults": 1,
                "majorPageFaults": 0,
                "userTime": 0.5,
                "systemTime": 0.1,
                "numberOfThreads": 8,
                "residentSize": 1000,
                "residentSizePercent": 0.01,
                "virtualSize": 2000,
            },
            "client": {
                "httpConnections": 1,
                "connectionTime": { "sum": 0.1, "count": 1, "counts": [1, 0, 0, 0] },
                "totalTime": { "sum": 0.2, "count": requests, "counts": [requests, 0, 0, 0] },
                "requestTime": { "sum": 0.1, "count": requests, "counts": [requests, 0, 0, 0] },
                "queueTime": { "sum": 0.0, "count": requests, "counts": [requests, 0, 0, 0] },
                "ioTime": { "sum": 0.1, "count": requests, "counts": [requests, 0, 0, 0] },
                "bytesSent": { "sum": 100, "count": requests, "counts": [requests, 0, 0, 0] },
                "bytesReceived": { "sum": 100, "count": requests, "counts": [requests, 0, 0, 0] },
            },
            "http": {
                "requestsTotal": requests,
                "requestsAsync": 0,
                "requestsGet": 0,
                "requestsHead": 0,
                "requestsPost": 0,
                "requestsPut": 0,
                "requestsPatch": 0,
                "requestsDelete": 0,
                "requestsOptions": 0,
                "requestsOther": 0,
            },
            "server": {
                "uptime": uptime,
                "physicalMemory": 1_000_000,
            },
        }),
    )
}

fn cluster_maintenance(req: &AdminRequest<'_>) -> Response {
    let mode: Option<String> = serde_json::from_slice::<Value>(req.body)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string));
    let (on, warning) = match mode.as_deref() {
        Some("on") => (
            true,
            "Cluster supervision deactivated. It will be reactivated automatically in 60 minutes unless this call is repeated until then.",
        ),
        Some("off") => (false, "Cluster supervision reactivated."),
        _ => {
            return Response::error(
                400,
                ERROR_BAD_PARAMETER,
                "state string must be either \"on\" or \"off\"",
            )
        }
    };
    view::lock(req.view).maintenance = on;
    ok(object(json!({ "warning": warning })))
}

fn get_server_maintenance(req: &AdminRequest<'_>, id: &str) -> Response {
    let mut view = view::lock(req.view);
    if view.member(id).is_none() {
        return unknown_server();
    }
    let result = match view.maintenance_of(id) {
        Some(entry) => json!({ "Mode": entry.mode, "Until": rfc3339(entry.until) }),
        None => Value::Null,
    };
    ok(object(json!({ "result": result })))
}

fn put_server_maintenance(req: &AdminRequest<'_>, id: &str) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(req.body) else {
        return Response::error(400, ERROR_BAD_PARAMETER, "body must be a JSON object");
    };
    let mode = body.get("mode").and_then(Value::as_str);
    let timeout = match body.get("timeout") {
        None | Some(Value::Null) => Some(DEFAULT_MAINTENANCE_TIMEOUT),
        Some(t) => t.as_u64(),
    };
    let Some(timeout) = timeout else {
        return Response::error(
            400,
            ERROR_BAD_PARAMETER,
            "timeout must be a non-negative integer",
        );
    };
    let mut view = view::lock(req.view);
    if view.member(id).is_none() {
        return unknown_server();
    }
    match mode {
        Some("maintenance") => view.set_maintenance_of(id, "maintenance", timeout),
        Some("normal") => {
            view.server_maintenance.remove(id);
        }
        _ => {
            return Response::error(
                400,
                ERROR_BAD_PARAMETER,
                "mode must be \"maintenance\" or \"normal\"",
            )
        }
    }
    ok(object(json!({ "result": {} })))
}

fn endpoints(req: &AdminRequest<'_>) -> Response {
    let view = view::lock(req.view);
    let list: Vec<Value> = view
        .members
        .iter()
        .map(|m| json!({ "endpoint": format!("tcp://127.0.0.1:{}", m.port) }))
        .collect();
    ok(object(json!({ "endpoints": list })))
}
