//! The group service: create, verify and delete groups in a node's store.
//!
//! | operation | request | answers |
//! |---|---|---|
//! | create | `POST /v1/group/` body `{"groupId": id}` | 201, 409 already there, 400 bad body |
//! | verify | `GET /v1/group/<id>/` (percent-encoded, trailing `/` optional) | 200, 404 |
//! | delete | `DELETE /v1/group/` body `{"groupId": id}` | 200, 404 absent, 400 bad body |
//!
//! A node told to [`speak_webdav`](super::TestNode::speak_webdav) answers
//! the WebDAV form instead: `PUT /groups/<id>` 201 created, 204 already
//! there; `GET` 200, 404; `DELETE` 204, 404 absent (no bodies).

use std::collections::BTreeSet;
use std::sync::Mutex;

use serde_json::json;

use super::http::{percent_decode, Response};

const PREFIX: &str = "/v1/group";

/// Answers a group-service request, or `None` when `path` (without query and
/// `/_db/<name>` prefix) is not a group-service path. `method` is `GET` for
/// `HEAD` requests.
pub(super) fn handle(
    store: &Mutex<BTreeSet<String>>,
    method: &str,
    path: &str,
    body: &[u8],
) -> Option<Response> {
    let rest = path.strip_prefix(PREFIX)?;
    if rest.is_empty() || rest == "/" {
        return Some(match method {
            "POST" => create(store, body),
            "DELETE" => delete(store, body),
            _ => method_not_allowed(),
        });
    }
    let raw_id = rest.strip_prefix('/')?;
    let raw_id = raw_id.strip_suffix('/').unwrap_or(raw_id);
    if raw_id.is_empty() || raw_id.contains('/') {
        return Some(Response::error(404, 404, "unknown path"));
    }
    if method != "GET" {
        return Some(method_not_allowed());
    }
    let Some(id) = percent_decode(raw_id, false) else {
        return Some(Response::error(
            400,
            400,
            "malformed percent-encoding in group id",
        ));
    };
    let exists = lock(store).contains(&id);
    Some(if exists {
        Response::json(200, &json!({ "groupId": id }))
    } else {
        Response::error(404, 1202, "group not found")
    })
}

/// Answers a WebDAV group request (`/groups/<id>`), or `None` for another path.
pub(super) fn handle_webdav(
    store: &Mutex<BTreeSet<String>>,
    method: &str,
    path: &str,
) -> Option<Response> {
    let raw_id = path.strip_prefix("/groups/")?;
    if raw_id.is_empty() || raw_id.contains('/') {
        return Some(Response::error(404, 404, "unknown path"));
    }
    let Some(id) = percent_decode(raw_id, false) else {
        return Some(Response::error(400, 400, "malformed percent-encoding"));
    };
    let mut store = lock(store);
    Some(match method {
        "PUT" if store.insert(id.clone()) => no_body(201),
        "PUT" => no_body(204),
        "GET" if store.contains(&id) => no_body(200),
        "DELETE" if store.remove(&id) => no_body(204),
        "GET" | "DELETE" => Response::error(404, 404, "not found"),
        _ => method_not_allowed(),
    })
}

fn create(store: &Mutex<BTreeSet<String>>, body: &[u8]) -> Response {
    let Some(id) = group_id(body) else {
        return bad_body();
    };
    let inserted = lock(store).insert(id.clone());
    if inserted {
        Response::json(201, &json!({ "groupId": id }))
    } else {
        Response::error(409, 1210, "group already exists")
    }
}

fn delete(store: &Mutex<BTreeSet<String>>, body: &[u8]) -> Response {
    let Some(id) = group_id(body) else {
        return bad_body();
    };
    let removed = lock(store).remove(&id);
    if removed {
        Response::json(200, &json!({ "groupId": id }))
    } else {
        Response::error(404, 1202, "group not found")
    }
}

/// The string `groupId` of a JSON object body.
fn group_id(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("groupId")?.as_str().map(str::to_string)
}

/// An answer without a body (WebDAV's).
fn no_body(status: u16) -> Response {
    Response {
        status,
        content_type: "text/plain".to_string(),
        extra_headers: Vec::new(),
        body: Vec::new(),
    }
}

fn bad_body() -> Response {
    Response::error(400, 400, "body must be a JSON object with a string groupId")
}

fn method_not_allowed() -> Response {
    Response::error(405, 405, "method not supported")
}

fn lock(store: &Mutex<BTreeSet<String>>) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
    store.lock().unwrap_or_else(|e| e.into_inner())
}
