//! The client handle: creating it (host list, config file, TOML text),
//! shutting it down, freeing it, the version, and one-node requests.

use std::ffi::{c_char, c_int};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use super::errors::{guard, out_arg, str_arg, CcError, Failure, CC_NULL_POINTER};
use super::memory::{bytes_into_raw, c_string, cc_string_free, free_bytes};
use crate::client::ClusterClient;
use crate::config::ClientConfig;

/// The version of this C ABI: raised whenever a function, struct or code
/// is added or changes (3: cancel tokens and `CC_CANCELLED`; 4:
/// `cc_client_add_node`, `cc_client_remove_node`, `cc_client_set_nodes`;
/// 5: `cc_client_with_options`).
/// Compare it with [`cc_abi_version`] at run time to check that the
/// library loaded is the one the header describes.
pub const CC_ABI_VERSION: u32 = 5;

/// The crate version, NUL-terminated.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// An opaque client handle from [`cc_client_new`] (or its siblings), freed
/// with [`cc_client_free`].
#[derive(Debug)]
pub struct CcClient {
    pub(super) client: ClusterClient,
    /// Made by `cc_client_with_cancel`: shares another handle's client, so
    /// freeing it does not shut that client down.
    pub(super) shares: bool,
}

/// Borrows the client behind a handle.
///
/// # Safety
///
/// `p` is `NULL` or a live handle.
pub(super) unsafe fn client_arg<'a>(p: *const CcClient) -> Result<&'a ClusterClient, Failure> {
    // SAFETY: a live handle per the caller's contract.
    match unsafe { p.as_ref() } {
        Some(c) => Ok(&c.client),
        None => Err(Failure::new(CC_NULL_POINTER, "client is NULL")),
    }
}

/// Builds a handle on the heap, or a `NULL` with `*err` set.
///
/// # Safety
///
/// `err` is `NULL` or valid for one pointer write.
unsafe fn new_handle(
    err: *mut *mut CcError,
    build: impl FnOnce() -> Result<ClusterClient, Failure>,
) -> *mut CcClient {
    // SAFETY: forwarded caller contract.
    let (client, _) = unsafe {
        guard(err, ptr::null_mut(), || {
            let client = build()?;
            Ok(Box::into_raw(Box::new(CcClient {
                client,
                shares: false,
            })))
        })
    };
    client
}

/// The crate version (e.g. `"0.1.0"`): a static string, never freed.
#[no_mangle]
pub extern "C" fn cc_version() -> *const c_char {
    VERSION.as_ptr().cast()
}

/// [`CC_ABI_VERSION`] of the library loaded.
#[no_mangle]
pub extern "C" fn cc_abi_version() -> u32 {
    CC_ABI_VERSION
}

/// Creates a client for the comma-separated node addresses in `hosts_csv`
/// (e.g. `"http://10.0.0.1:8000,http://10.0.0.2:8000"`), with the library's
/// default settings (3 attempts from 1 s, 60 s per operation).
///
/// Returns `NULL` on failure, with `*err` set (when `err` is not `NULL`):
/// `CC_INVALID_INPUT` for an empty list or an invalid host.
///
/// # Safety
///
/// `hosts_csv` is `NULL` or a NUL-terminated string; `err` is `NULL` or
/// valid for one pointer write.
#[no_mangle]
pub unsafe extern "C" fn cc_client_new(
    hosts_csv: *const c_char,
    err: *mut *mut CcError,
) -> *mut CcClient {
    // SAFETY: forwarded caller contract.
    unsafe {
        new_handle(err, || {
            let hosts = str_arg(hosts_csv, "hosts_csv")?;
            Ok(ClusterClient::builder().hosts_str(hosts).build()?)
        })
    }
}

/// Creates a client from a TOML configuration file (the same file the Rust
/// `ClientBuilder::config_file` and `clusterctl --config` read). Without
/// `hosts` in the file, `$HOSTS` is used.
///
/// Returns `NULL` on failure with `*err` set: `CC_INVALID_INPUT` for a file
/// that cannot be read, a bad key or value (the message names the key and
/// line), or bad hosts.
///
/// # Safety
///
/// `path` is `NULL` or a NUL-terminated string; `err` is `NULL` or valid
/// for one pointer write.
#[no_mangle]
pub unsafe extern "C" fn cc_client_new_from_config(
    path: *const c_char,
    err: *mut *mut CcError,
) -> *mut CcClient {
    // SAFETY: forwarded caller contract.
    unsafe {
        new_handle(err, || {
            let path = str_arg(path, "path")?;
            Ok(ClusterClient::builder().config_file(path).build()?)
        })
    }
}

/// Creates a client from TOML text in the configuration file's format.
/// Without `hosts` in it, `$HOSTS` is used. Relative paths in it (e.g.
/// `tls.ca_file`) are taken from the current directory.
///
/// Returns `NULL` on failure with `*err` set, as
/// [`cc_client_new_from_config`].
///
/// # Safety
///
/// `toml` is `NULL` or a NUL-terminated string; `err` is `NULL` or valid for
/// one pointer write.
#[no_mangle]
pub unsafe extern "C" fn cc_client_new_from_toml(
    toml: *const c_char,
    err: *mut *mut CcError,
) -> *mut CcClient {
    // SAFETY: forwarded caller contract.
    unsafe {
        new_handle(err, || {
            let text = str_arg(toml, "toml")?;
            let config = ClientConfig::from_toml(text)?;
            let mut builder = ClusterClient::builder();
            if config.hosts().is_none() {
                if let Ok(hosts) = std::env::var("HOSTS") {
                    builder = builder.hosts_str(&hosts);
                }
            }
            Ok(builder.config(config).build()?)
        })
    }
}

/// Shuts the client down without freeing it: calls in flight (on other
/// threads) and later calls return `CC_SHUT_DOWN` promptly (a create that
/// already made groups rolls them back first, within 5 s, and returns
/// `CC_SHUT_DOWN` with the host lists). Idempotent. On a handle from
/// `cc_client_with_cancel`, shuts down the
/// client it shares.
/// Free the handle with [`cc_client_free`] once no call is in flight.
///
/// Returns `CC_OK`, or `CC_NULL_POINTER`.
///
/// # Safety
///
/// `client` is `NULL` or a live handle; `err` is `NULL` or valid for one
/// pointer write.
#[no_mangle]
pub unsafe extern "C" fn cc_client_shutdown(
    client: *const CcClient,
    err: *mut *mut CcError,
) -> c_int {
    // SAFETY: forwarded caller contract.
    unsafe {
        guard(err, (), || {
            client_arg(client)?.shutdown();
            Ok(())
        })
    }
    .1
}

/// Shuts the client down and frees it. A no-op on `NULL`. A handle from
/// `cc_client_with_cancel` is only freed:
/// the client it shares goes on.
///
/// # Safety
///
/// `client` is `NULL` or a handle from this library not yet freed; it must
/// not be used afterwards, nor by another thread meanwhile.
#[no_mangle]
pub unsafe extern "C" fn cc_client_free(client: *mut CcClient) {
    if client.is_null() {
        return;
    }
    // SAFETY: a handle from `new_handle` (a `Box`), freed once.
    let boxed = unsafe { Box::from_raw(client) };
    let _ = catch_unwind(AssertUnwindSafe(move || {
        if !boxed.shares {
            boxed.client.shutdown();
        }
        drop(boxed);
    }));
}

/// The answer of one node to [`cc_request`]. Free it with
/// [`cc_response_free`].
#[repr(C)]
#[derive(Debug)]
pub struct CcResponse {
    /// The HTTP status (any status: a 404 or a 500 is still an answer).
    pub status: c_int,
    /// The node that answered (NUL-terminated UTF-8).
    pub host: *mut c_char,
    /// The body bytes (not NUL-terminated); `NULL` when `body_len` is 0.
    pub body: *mut u8,
    /// The number of body bytes.
    pub body_len: usize,
}

/// Sends one request to one node picked by the host resolver, failing over
/// to the next node on a connection failure or a 503 (the Rust
/// `ClusterClient::request`). `path` starts with `/`; `body` is `NULL` (no
/// body; then `body_len` must be 0) or `body_len` bytes.
///
/// On `CC_OK`, `*out` is a new response (any status). Otherwise `*out` is
/// `NULL` (when `out` is not `NULL`) and the code is `CC_INVALID_INPUT` (bad
/// method or path; nothing sent), `CC_OPERATION_FAILED` (no node answered:
/// the error's `failed_hosts` names every node tried), `CC_SHUT_DOWN`, ...
///
/// # Safety
///
/// `client` is `NULL` or a live handle; `method` and `path` are `NULL` or
/// NUL-terminated strings; `body` is `NULL` or valid for `body_len` reads;
/// `out` and `err` are each `NULL` or valid for one pointer write.
#[no_mangle]
pub unsafe extern "C" fn cc_request(
    client: *const CcClient,
    method: *const c_char,
    path: *const c_char,
    body: *const u8,
    body_len: usize,
    out: *mut *mut CcResponse,
    err: *mut *mut CcError,
) -> c_int {
    // SAFETY: forwarded caller contract.
    unsafe {
        guard(err, (), || {
            out_arg(out, "out", ptr::null_mut())?;
            let client = client_arg(client)?;
            let method = str_arg(method, "method")?;
            let path = str_arg(path, "path")?;
            let body = match (body.is_null(), body_len) {
                (true, 0) => None,
                (true, _) => {
                    return Err(Failure::new(
                        CC_NULL_POINTER,
                        "body is NULL but body_len is not 0",
                    ))
                }
                // SAFETY: valid for `body_len` reads per the caller's contract.
                (false, _) => Some(std::slice::from_raw_parts(body, body_len)),
            };
            let answer = client.request(method, path, body)?;
            let (body, body_len) = bytes_into_raw(answer.body);
            let response = CcResponse {
                status: c_int::from(answer.status),
                host: c_string(answer.host.as_ref()),
                body,
                body_len,
            };
            // SAFETY: checked non-null by `out_arg`.
            out.write(Box::into_raw(Box::new(response)));
            Ok(())
        })
    }
    .1
}

/// Frees a response, its host and its body. A no-op on `NULL`.
///
/// # Safety
///
/// `response` is `NULL` or a response from [`cc_request`], not yet freed,
/// with its fields unchanged.
#[no_mangle]
pub unsafe extern "C" fn cc_response_free(response: *mut CcResponse) {
    if response.is_null() {
        return;
    }
    // SAFETY: made by `cc_request` (a `Box`), freed once; its host and body
    // were made by `c_string` and `bytes_into_raw`.
    unsafe {
        let response = Box::from_raw(response);
        cc_string_free(response.host);
        free_bytes(response.body, response.body_len);
    }
}
