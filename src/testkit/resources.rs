//! A generic resource store for user-defined sagas (see
//! `examples/custom_resource.rs`): `PUT /v1/resource/<kind>/<name>` stores
//! the body (201 new, 200 replaced), `GET` returns it (200, 404), `DELETE`
//! removes it (200, 404).

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::http::{percent_decode, Response};

const PREFIX: &str = "/v1/resource/";

/// Answers a resource request, or `None` when `path` is not a resource path.
pub(super) fn handle(
    store: &Mutex<BTreeMap<String, Vec<u8>>>,
    method: &str,
    path: &str,
    body: &[u8],
) -> Option<Response> {
    let rest = path.strip_prefix(PREFIX)?;
    let (kind, name) = rest.split_once('/')?;
    let (Some(kind), Some(name)) = (percent_decode(kind, false), percent_decode(name, false))
    else {
        return Some(Response::error(400, 400, "bad percent-encoding"));
    };
    if kind.is_empty() || name.is_empty() || name.contains('/') {
        return Some(Response::error(404, 404, "unknown path"));
    }
    let key = format!("{kind}/{name}");
    let mut store = store.lock().unwrap_or_else(|e| e.into_inner());
    Some(match method {
        "PUT" => {
            let replaced = store.insert(key, body.to_vec()).is_some();
            Response::json(
                if replaced { 200 } else { 201 },
                &serde_json::json!({"kind": kind, "name": name}),
            )
        }
        "GET" => match store.get(&key) {
            Some(v) => Response {
                status: 200,
                content_type: "application/json".to_string(),
                extra_headers: Vec::new(),
                body: v.clone(),
            },
            None => Response::error(404, 404, "no such resource"),
        },
        "DELETE" => match store.remove(&key) {
            Some(_) => Response::json(200, &serde_json::json!({"deleted": true})),
            None => Response::error(404, 404, "no such resource"),
        },
        _ => Response::error(405, 405, "method not allowed"),
    })
}
