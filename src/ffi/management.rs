//! The nodes, their health, pool metrics (JSON) and the Prometheus text.

use std::ffi::{c_char, c_int};
use std::ptr;

use serde_json::{json, Map, Value};

use super::client::{client_arg, CcClient};
use super::errors::{guard, out_arg, CcError, Failure};
use super::memory::{c_string, string_list, CcStringList};
use crate::address::HostAddress;
use crate::client::ClusterClient;
use crate::management::ClusterManagement;
use crate::POOL_METRICS;

/// Writes a new list of hosts to `*out`.
///
/// # Safety
///
/// As the entry points calling it.
unsafe fn host_list(
    client: *const CcClient,
    out: *mut *mut CcStringList,
    err: *mut *mut CcError,
    pick: fn(&ClusterManagement) -> Vec<HostAddress>,
) -> c_int {
    // SAFETY: forwarded caller contract.
    unsafe {
        guard(err, (), || {
            out_arg(out, "out", ptr::null_mut())?;
            let client = client_arg(client)?;
            let hosts = pick(&client.cluster_management());
            // SAFETY: checked non-null by `out_arg`.
            out.write(string_list(hosts.iter().map(ToString::to_string)));
            Ok(())
        })
    }
    .1
}

/// Sets `*out` to a new list of every node of the client, in configuration
/// order (free it with `cc_string_list_free`).
///
/// # Safety
///
/// `client` is `NULL` or a live handle; `out` and `err` are each `NULL` or
/// valid for one pointer write.
#[no_mangle]
pub unsafe extern "C" fn cc_nodes(
    client: *const CcClient,
    out: *mut *mut CcStringList,
    err: *mut *mut CcError,
) -> c_int {
    // SAFETY: forwarded caller contract.
    unsafe { host_list(client, out, err, ClusterManagement::nodes) }
}

/// Sets `*out` to a new list of the nodes currently considered healthy
/// (free it with `cc_string_list_free`).
///
/// # Safety
///
/// `client` is `NULL` or a live handle; `out` and `err` are each `NULL` or
/// valid for one pointer write.
#[no_mangle]
pub unsafe extern "C" fn cc_healthy_nodes(
    client: *const CcClient,
    out: *mut *mut CcStringList,
    err: *mut *mut CcError,
) -> c_int {
    // SAFETY: forwarded caller contract.
    unsafe { host_list(client, out, err, ClusterManagement::healthy_nodes) }
}

/// Sets `*out` to a new list of the nodes currently considered unhealthy
/// (free it with `cc_string_list_free`).
///
/// # Safety
///
/// `client` is `NULL` or a live handle; `out` and `err` are each `NULL` or
/// valid for one pointer write.
#[no_mangle]
pub unsafe extern "C" fn cc_unhealthy_nodes(
    client: *const CcClient,
    out: *mut *mut CcStringList,
    err: *mut *mut CcError,
) -> c_int {
    // SAFETY: forwarded caller contract.
    unsafe { host_list(client, out, err, ClusterManagement::unhealthy_nodes) }
}

/// A duration in milliseconds, for JSON.
fn millis(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The pool metrics of every node as a JSON object keyed by node address,
/// each with every field of `POOL_METRICS` (keys sorted at both levels),
/// plus two keys that are not addresses (an address is a URL): `"latency"`,
/// each node's answer times keyed by address (`{"count", "p50_ms",
/// "p90_ms", "p99_ms"}`), and `"hedges"` (`{"sent", "won"}`, the client's).
fn metrics_json(client: &ClusterClient) -> String {
    let m = client.cluster_management();
    let mut all = Map::new();
    for (host, metrics) in m.connection_pool_metrics() {
        let fields: Map<String, Value> = POOL_METRICS
            .iter()
            .map(|info| (info.name.to_string(), Value::from(info.value(&metrics))))
            .collect();
        all.insert(host.to_string(), Value::Object(fields));
    }
    let latency: Map<String, Value> = m
        .latency()
        .into_iter()
        .map(|(host, l)| {
            (
                host.to_string(),
                json!({
                    "count": l.count,
                    "p50_ms": millis(l.p50),
                    "p90_ms": millis(l.p90),
                    "p99_ms": millis(l.p99),
                }),
            )
        })
        .collect();
    all.insert("latency".to_string(), Value::Object(latency));
    let hedges = m.hedges();
    all.insert(
        "hedges".to_string(),
        json!({ "sent": hedges.sent, "won": hedges.won }),
    );
    Value::Object(all).to_string()
}

/// Writes a new string made by `text` to `*out`.
///
/// # Safety
///
/// As the entry points calling it.
unsafe fn text_out(
    client: *const CcClient,
    out: *mut *mut c_char,
    err: *mut *mut CcError,
    text: fn(&ClusterClient) -> String,
) -> c_int {
    // SAFETY: forwarded caller contract.
    unsafe {
        guard(err, (), || -> Result<(), Failure> {
            out_arg(out, "out", ptr::null_mut())?;
            let client = client_arg(client)?;
            // SAFETY: checked non-null by `out_arg`.
            out.write(c_string(&text(client)));
            Ok(())
        })
    }
    .1
}

/// Sets `*out` to a new string with the pool metrics of every node as a
/// JSON object keyed by node address; each value holds every pool metric
/// (`curr_connections`, `connections_created`, ... as listed by the Rust
/// `POOL_METRICS`). Two more keys, never an address (addresses are URLs):
/// `"latency"`, each node's answer times keyed by address, as
/// `{"count": n, "p50_ms": x, "p90_ms": x, "p99_ms": x}` (milliseconds, the
/// upper bound of the histogram bucket each falls in; 0 while `count` is
/// 0), and `"hedges"`: `{"sent": n, "won": n}` for the client (second
/// requests for slow one-node reads, and how many answered first). Free it
/// with `cc_string_free`.
///
/// # Safety
///
/// `client` is `NULL` or a live handle; `out` and `err` are each `NULL` or
/// valid for one pointer write.
#[no_mangle]
pub unsafe extern "C" fn cc_metrics_json(
    client: *const CcClient,
    out: *mut *mut c_char,
    err: *mut *mut CcError,
) -> c_int {
    // SAFETY: forwarded caller contract.
    unsafe { text_out(client, out, err, metrics_json) }
}

/// Sets `*out` to a new string with the Prometheus text exposition of the
/// pool metrics and node health (the Rust `ClusterManagement::prometheus`).
/// Free it with `cc_string_free`.
///
/// # Safety
///
/// `client` is `NULL` or a live handle; `out` and `err` are each `NULL` or
/// valid for one pointer write.
#[no_mangle]
pub unsafe extern "C" fn cc_prometheus(
    client: *const CcClient,
    out: *mut *mut c_char,
    err: *mut *mut CcError,
) -> c_int {
    // SAFETY: forwarded caller contract.
    unsafe { text_out(client, out, err, |c| c.cluster_management().prometheus()) }
}
