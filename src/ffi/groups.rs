//! Group operations: create (all-or-nothing), delete, verify on one node or
//! on every node.

use std::ffi::{c_char, c_int};
use std::ptr;

use super::client::{client_arg, CcClient};
use super::errors::{guard, out_arg, str_arg, CcError, Failure, CC_OPERATION_FAILED};
use super::memory::{c_string, cc_string_free, string_list, CcStringList};
use crate::address::HostAddress;

/// Creates group `id` on every node, verified, or rolled back (the Rust
/// `ClusterClient::create_group`).
///
/// Returns `CC_OK`, `CC_INVALID_INPUT` (invalid id; nothing sent),
/// `CC_OPERATION_FAILED`, or another code. On `CC_OPERATION_FAILED` the
/// error's `failed_hosts`, `rollback_failed_hosts` and `possible_orphans`
/// name the nodes where the create failed, where the rollback failed (the
/// group is still there) and whose outcome is unknown; the message gives
/// each node's reason. A create stopped by `cc_client_shutdown` or by its
/// token (`cc_cancel`) rolls back what it made first (within 5 s) and
/// returns `CC_SHUT_DOWN` or `CC_CANCELLED` with the same three lists
/// (the nodes it stopped waiting for are in `possible_orphans`).
///
/// # Safety
///
/// `client` is `NULL` or a live handle; `id` is `NULL` or a NUL-terminated
/// string; `err` is `NULL` or valid for one pointer write.
#[no_mangle]
pub unsafe extern "C" fn cc_create_group(
    client: *const CcClient,
    id: *const c_char,
    err: *mut *mut CcError,
) -> c_int {
    // SAFETY: forwarded caller contract.
    unsafe {
        guard(err, (), || {
            let client = client_arg(client)?;
            let id = str_arg(id, "id")?;
            client.create_group(id)?;
            Ok(())
        })
    }
    .1
}

/// Deletes group `id` on every node (a node without it counts as deleted).
///
/// When the call reached the nodes (`CC_OK` or `CC_OPERATION_FAILED`),
/// `*failed_hosts` is set to a new list of the nodes where the delete failed
/// (empty on `CC_OK`; free it with `cc_string_list_free`); on
/// `CC_OPERATION_FAILED` the error's `failed_hosts` holds the same nodes and
/// its message gives each node's reason. Otherwise (invalid id, shut down,
/// `NULL` arguments) `*failed_hosts` is set to `NULL` when `failed_hosts` is
/// not `NULL`.
///
/// # Safety
///
/// `client` is `NULL` or a live handle; `id` is `NULL` or a NUL-terminated
/// string; `failed_hosts` and `err` are each `NULL` or valid for one
/// pointer write.
#[no_mangle]
pub unsafe extern "C" fn cc_delete_group(
    client: *const CcClient,
    id: *const c_char,
    failed_hosts: *mut *mut CcStringList,
    err: *mut *mut CcError,
) -> c_int {
    // SAFETY: forwarded caller contract.
    unsafe {
        guard(err, (), || {
            out_arg(failed_hosts, "failed_hosts", ptr::null_mut())?;
            let client = client_arg(client)?;
            let id = str_arg(id, "id")?;
            let failures = client.delete_group_report(id)?;
            let hosts: Vec<String> = failures.iter().map(|f| f.host.to_string()).collect();
            // SAFETY: checked non-null by `out_arg`.
            failed_hosts.write(string_list(hosts.clone()));
            if failures.is_empty() {
                return Ok(());
            }
            let reasons: Vec<String> = failures.iter().map(ToString::to_string).collect();
            let mut failure = Failure::new(
                CC_OPERATION_FAILED,
                format!(
                    "group {id:?} not deleted on {} node(s): {}",
                    failures.len(),
                    reasons.join("; ")
                ),
            );
            failure.failed_hosts = hosts;
            Err(failure)
        })
    }
    .1
}

/// Whether node `host` (one of the client's nodes, e.g.
/// `"http://10.0.0.1:8000"`) holds group `id`: on `CC_OK`, `*out_exists`
/// is 1 or 0.
///
/// Returns `CC_INVALID_INPUT` for an invalid host or id or a host that is
/// not a node of the client, `CC_OPERATION_FAILED` when the node gave no
/// usable answer.
///
/// # Safety
///
/// `client` is `NULL` or a live handle; `host` and `id` are `NULL` or
/// NUL-terminated strings; `out_exists` is `NULL` or valid for one `int`
/// write; `err` is `NULL` or valid for one pointer write.
#[no_mangle]
pub unsafe extern "C" fn cc_verify_group(
    client: *const CcClient,
    host: *const c_char,
    id: *const c_char,
    out_exists: *mut c_int,
    err: *mut *mut CcError,
) -> c_int {
    // SAFETY: forwarded caller contract.
    unsafe {
        guard(err, (), || {
            let client = client_arg(client)?;
            let host = HostAddress::parse(str_arg(host, "host")?)?;
            let id = str_arg(id, "id")?;
            if out_exists.is_null() {
                return Err(Failure::new(super::CC_NULL_POINTER, "out_exists is NULL"));
            }
            let exists = client.verify_group(&host, id)?;
            // SAFETY: checked non-null above; valid per the caller's contract.
            out_exists.write(c_int::from(exists));
            Ok(())
        })
    }
    .1
}

/// Group present on the node.
pub const CC_PRESENT: c_int = 1;
/// Group missing on the node.
pub const CC_MISSING: c_int = 0;
/// The node gave no usable answer (see the entry's `error`).
pub const CC_UNKNOWN: c_int = -1;

/// Whether one node holds a group (an entry of [`CcPresenceList`]).
#[repr(C)]
#[derive(Debug)]
pub struct CcPresence {
    /// The node (NUL-terminated UTF-8).
    pub host: *mut c_char,
    /// `CC_PRESENT`, `CC_MISSING` or `CC_UNKNOWN`.
    pub state: c_int,
    /// Why the node gave no usable answer; `NULL` unless `state` is `CC_UNKNOWN`.
    pub error: *mut c_char,
}

/// Every node's [`CcPresence`], in node order; `items` is `NULL` when `len`
/// is 0. Free it with [`cc_presence_list_free`].
#[repr(C)]
#[derive(Debug)]
pub struct CcPresenceList {
    /// `len` entries.
    pub items: *mut CcPresence,
    /// The number of entries.
    pub len: usize,
}

/// Asks every node at once whether it holds group `id` (the Rust
/// `ClusterClient::verify_group_everywhere`). On `CC_OK`, `*out` is a new
/// list with one entry per node, in node order; a node that gave no usable
/// answer is `CC_UNKNOWN` with its reason (the call is still `CC_OK`).
/// Otherwise `*out` is `NULL` (when `out` is not `NULL`): `CC_INVALID_INPUT`
/// for an invalid id (nothing sent), `CC_SHUT_DOWN`, ...
///
/// # Safety
///
/// `client` is `NULL` or a live handle; `id` is `NULL` or a NUL-terminated
/// string; `out` and `err` are each `NULL` or valid for one pointer write.
#[no_mangle]
pub unsafe extern "C" fn cc_verify_group_everywhere(
    client: *const CcClient,
    id: *const c_char,
    out: *mut *mut CcPresenceList,
    err: *mut *mut CcError,
) -> c_int {
    // SAFETY: forwarded caller contract.
    unsafe {
        guard(err, (), || {
            out_arg(out, "out", ptr::null_mut())?;
            let client = client_arg(client)?;
            let id = str_arg(id, "id")?;
            let presence = client.verify_group_everywhere(id)?;
            let entries: Vec<CcPresence> = presence
                .into_iter()
                .map(|(host, answer)| {
                    let (state, error) = match answer {
                        Ok(true) => (CC_PRESENT, ptr::null_mut()),
                        Ok(false) => (CC_MISSING, ptr::null_mut()),
                        Err(e) => (CC_UNKNOWN, c_string(&e.to_string())),
                    };
                    CcPresence {
                        host: c_string(host.as_ref()),
                        state,
                        error,
                    }
                })
                .collect();
            let len = entries.len();
            let items = if len == 0 {
                ptr::null_mut()
            } else {
                Box::into_raw(entries.into_boxed_slice()).cast::<CcPresence>()
            };
            // SAFETY: checked non-null by `out_arg`.
            out.write(Box::into_raw(Box::new(CcPresenceList { items, len })));
            Ok(())
        })
    }
    .1
}

/// Frees a presence list and everything in it. A no-op on `NULL`.
///
/// # Safety
///
/// `list` is `NULL` or a list from [`cc_verify_group_everywhere`], not yet
/// freed, unchanged.
#[no_mangle]
pub unsafe extern "C" fn cc_presence_list_free(list: *mut CcPresenceList) {
    if list.is_null() {
        return;
    }
    // SAFETY: made by `cc_verify_group_everywhere` (a `Box` holding a boxed
    // slice of `len` entries whose strings come from `c_string`), freed once.
    unsafe {
        let list = Box::from_raw(list);
        if !list.items.is_null() {
            let items = Box::from_raw(ptr::slice_from_raw_parts_mut(list.items, list.len));
            for entry in items.iter() {
                cc_string_free(entry.host);
                cc_string_free(entry.error);
            }
        }
    }
}
