//! A living node set: adding, removing and replacing a client's nodes at
//! run time (the Rust `ClusterClient::add_node`, `remove_node`,
//! `set_nodes`).

use std::ffi::{c_char, c_int};

use super::client::{client_arg, CcClient};
use super::errors::{guard, out_arg, str_arg, CcError};
use crate::address::HostAddress;

/// Adds the node `host` (e.g. `"http://10.0.0.3:8000"`): calls that start
/// afterwards may use it (a group create reaches it).
///
/// Returns `CC_OK`, or `CC_INVALID_INPUT` for a bad host or one that is
/// already a node (nothing changes then), `CC_SHUT_DOWN`,
/// `CC_NULL_POINTER`, `CC_INVALID_UTF8`.
///
/// # Safety
///
/// `client` is `NULL` or a live handle; `host` is `NULL` or a
/// NUL-terminated string; `err` is `NULL` or valid for one pointer write.
#[no_mangle]
pub unsafe extern "C" fn cc_client_add_node(
    client: *const CcClient,
    host: *const c_char,
    err: *mut *mut CcError,
) -> c_int {
    // SAFETY: forwarded caller contract.
    unsafe {
        guard(err, (), || {
            let client = client_arg(client)?;
            let host = str_arg(host, "host")?;
            client.add_node(host)?;
            Ok(())
        })
    }
    .1
}

/// Removes the node `host`: it takes no new calls at once, its calls in
/// flight finish, then its connections close. Sets `*removed` to 1, or to 0
/// when `host` is not a node of the client.
///
/// Returns `CC_OK`, or `CC_INVALID_INPUT` for a bad host or the last node
/// (a client keeps at least one; `*removed` is 0 then), `CC_SHUT_DOWN`,
/// `CC_NULL_POINTER`, `CC_INVALID_UTF8`.
///
/// # Safety
///
/// `client` is `NULL` or a live handle; `host` is `NULL` or a
/// NUL-terminated string; `removed` is `NULL` or valid for one `int`
/// write; `err` is `NULL` or valid for one pointer write.
#[no_mangle]
pub unsafe extern "C" fn cc_client_remove_node(
    client: *const CcClient,
    host: *const c_char,
    removed: *mut c_int,
    err: *mut *mut CcError,
) -> c_int {
    // SAFETY: forwarded caller contract.
    unsafe {
        guard(err, (), || {
            out_arg(removed, "removed", 0)?;
            let client = client_arg(client)?;
            let host = HostAddress::parse(str_arg(host, "host")?)?;
            let gone = client.remove_node(&host)?;
            // SAFETY: checked non-null by `out_arg`.
            removed.write(c_int::from(gone));
            Ok(())
        })
    }
    .1
}

/// Makes the comma-separated node addresses in `hosts_csv` (as for
/// `cc_client_new`) the node set, applying the difference: nodes that stay
/// keep their connections, health and metrics; the others leave as with
/// [`cc_client_remove_node`].
///
/// Returns `CC_OK`, or `CC_INVALID_INPUT` for an empty list, a bad host or
/// one listed twice (nothing changes then), `CC_SHUT_DOWN`,
/// `CC_NULL_POINTER`, `CC_INVALID_UTF8`.
///
/// # Safety
///
/// `client` is `NULL` or a live handle; `hosts_csv` is `NULL` or a
/// NUL-terminated string; `err` is `NULL` or valid for one pointer write.
#[no_mangle]
pub unsafe extern "C" fn cc_client_set_nodes(
    client: *const CcClient,
    hosts_csv: *const c_char,
    err: *mut *mut CcError,
) -> c_int {
    // SAFETY: forwarded caller contract.
    unsafe {
        guard(err, (), || {
            let client = client_arg(client)?;
            let hosts = str_arg(hosts_csv, "hosts_csv")?;
            client.set_nodes(hosts.split(',').filter(|h| !h.trim().is_empty()))?;
            Ok(())
        })
    }
    .1
}
