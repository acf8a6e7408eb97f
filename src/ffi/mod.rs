//! The C ABI (feature `ffi`): an opaque client handle and the group,
//! health and metrics calls, for programs in other languages.
//!
//! The header is `examples/ffi/cluster_client.h`; `examples/ffi/demo.c`
//! shows every call in use. Build the library on demand, so that everyday
//! builds do not link it:
//!
//! ```sh
//! cargo rustc --lib --release --features ffi --crate-type cdylib   # or staticlib
//! ```
//!
//! Conventions every function follows:
//!
//! - Every function that can fail returns an error code ([`CC_OK`] and the
//!   other `CC_*` constants) or, for [`cc_client_new`], `NULL`; when its
//!   `err` argument is not `NULL`, `*err` is set to a new [`CcError`] on
//!   failure (free it with [`cc_error_free`]) and to `NULL` on success.
//!   `err` itself may be `NULL` when the caller only wants the code.
//! - Every other pointer argument is required: `NULL` is
//!   [`CC_NULL_POINTER`]. Strings are NUL-terminated UTF-8; anything else is
//!   [`CC_INVALID_UTF8`].
//! - Every allocation handed out has its free function ([`cc_client_free`],
//!   [`cc_error_free`], [`cc_string_free`], [`cc_string_list_free`]); each
//!   is a no-op on `NULL`.
//! - No panic crosses the boundary: each entry point runs under
//!   [`std::panic::catch_unwind`] and reports a panic as [`CC_PANIC`].
//! - A [`CcClient`] may be used from several threads at once (the Rust
//!   client is `Send + Sync`), but must not be used during or after
//!   [`cc_client_free`].

use std::any::Any;
use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use crate::address::HostAddress;
use crate::client::ClusterClient;
use crate::error::Error;
use crate::ConnectionPoolMetrics;

/// Success.
pub const CC_OK: c_int = 0;
/// Invalid input: a bad host list or host, a bad group id, a host that is
/// not a node of the client. Nothing was sent.
pub const CC_INVALID_INPUT: c_int = 1;
/// The operation failed on one or more nodes (the message names them).
pub const CC_OPERATION_FAILED: c_int = 2;
/// The client was shut down, or another error.
pub const CC_OTHER: c_int = 3;
/// A required pointer argument was `NULL`.
pub const CC_NULL_POINTER: c_int = 4;
/// A string argument was not valid UTF-8.
pub const CC_INVALID_UTF8: c_int = 5;
/// A panic was caught inside the library (a bug); the handle may still be
/// used and freed.
pub const CC_PANIC: c_int = 6;

/// An error: one of the `CC_*` codes and a message (NUL-terminated UTF-8,
/// never `NULL`). Owned by the caller; free it with [`cc_error_free`].
#[repr(C)]
#[derive(Debug)]
pub struct CcError {
    /// The error code (`CC_INVALID_INPUT` ... `CC_PANIC`).
    pub code: c_int,
    /// What went wrong.
    pub message: *mut c_char,
}

/// An owned list of strings (host addresses). `items` is `NULL` when `len`
/// is 0. Free the whole list with [`cc_string_list_free`].
#[repr(C)]
#[derive(Debug)]
pub struct CcStringList {
    /// `len` NUL-terminated UTF-8 strings.
    pub items: *mut *mut c_char,
    /// The number of strings.
    pub len: usize,
}

/// An opaque client handle from [`cc_client_new`], freed with [`cc_client_free`].
#[derive(Debug)]
pub struct CcClient {
    client: ClusterClient,
}

/// A failure inside an entry point: a code and a message.
struct Failure {
    code: c_int,
    message: String,
}

impl Failure {
    fn new(code: c_int, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::new(error_code(&e), e.to_string())
    }
}

/// The C error code of a library error.
fn error_code(e: &Error) -> c_int {
    match e {
        e if e.is_invalid_input() => CC_INVALID_INPUT,
        Error::GroupOperation { .. }
        | Error::Request { .. }
        | Error::Arango { .. }
        | Error::UnexpectedResponse { .. } => CC_OPERATION_FAILED,
        _ => CC_OTHER,
    }
}

/// A new C string; interior NUL bytes (possible in a node's answer quoted in
/// a message) are replaced, so this never fails.
fn c_string(s: &str) -> *mut c_char {
    let cleaned: Vec<u8> = s.bytes().map(|b| if b == 0 { b'?' } else { b }).collect();
    match CString::new(cleaned) {
        Ok(c) => c.into_raw(),
        // Unreachable: every NUL was replaced above.
        Err(_) => CString::default().into_raw(),
    }
}

/// A new list owning copies of `items`.
fn string_list<I: IntoIterator<Item = String>>(items: I) -> *mut CcStringList {
    let raw: Vec<*mut c_char> = items.into_iter().map(|s| c_string(&s)).collect();
    let len = raw.len();
    let items = if len == 0 {
        ptr::null_mut()
    } else {
        Box::into_raw(raw.into_boxed_slice()).cast::<*mut c_char>()
    };
    Box::into_raw(Box::new(CcStringList { items, len }))
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("panic in cluster-client: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("panic in cluster-client: {s}")
    } else {
        "panic in cluster-client".to_string()
    }
}

/// Runs `f` so that no panic escapes: a panic becomes [`CC_PANIC`]. Sets
/// `*err` (when `err` is not `NULL`) to the failure or to `NULL`, and
/// returns `f`'s value or `fallback`.
///
/// # Safety
///
/// `err` is `NULL` or valid for one pointer write.
unsafe fn guard<T>(
    err: *mut *mut CcError,
    fallback: T,
    f: impl FnOnce() -> Result<T, Failure>,
) -> (T, c_int) {
    let outcome = catch_unwind(AssertUnwindSafe(f));
    let (value, failure) = match outcome {
        Ok(Ok(v)) => (v, None),
        Ok(Err(failure)) => (fallback, Some(failure)),
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            // A payload whose destructor panics must not unwind either.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            (fallback, Some(Failure::new(CC_PANIC, message)))
        }
    };
    let code = failure.as_ref().map_or(CC_OK, |f| f.code);
    if !err.is_null() {
        let new = match failure {
            None => ptr::null_mut(),
            Some(f) => Box::into_raw(Box::new(CcError {
                code: f.code,
                message: c_string(&f.message),
            })),
        };
        // SAFETY: the caller guarantees `err` is valid for a write.
        unsafe { err.write(new) };
    }
    (value, code)
}

/// Borrows a C string argument as UTF-8.
///
/// # Safety
///
/// `p` is `NULL` or points to a NUL-terminated string that outlives `'a`.
unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::new(CC_NULL_POINTER, format!("{name} is NULL")));
    }
    // SAFETY: non-null and NUL-terminated per the caller's contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|e| Failure::new(CC_INVALID_UTF8, format!("{name} is not UTF-8: {e}")))
}

/// Borrows the client behind a handle.
///
/// # Safety
///
/// `p` is `NULL` or a live handle from [`cc_client_new`].
unsafe fn client_arg<'a>(p: *const CcClient) -> Result<&'a ClusterClient, Failure> {
    // SAFETY: a live handle per the caller's contract.
    match unsafe { p.as_ref() } {
        Some(c) => Ok(&c.client),
        None => Err(Failure::new(CC_NULL_POINTER, "client is NULL")),
    }
}

fn out_arg<T>(p: *mut T, name: &str) -> Result<(), Failure> {
    if p.is_null() {
        Err(Failure::new(CC_NULL_POINTER, format!("{name} is NULL")))
    } else {
        Ok(())
    }
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
    let (client, _) = unsafe {
        guard(err, ptr::null_mut(), || {
            let hosts = str_arg(hosts_csv, "hosts_csv")?;
            let client = ClusterClient::builder().hosts_str(hosts).build()?;
            Ok(Box::into_raw(Box::new(CcClient { client })))
        })
    };
    client
}

/// Shuts the client down and frees it. A no-op on `NULL`.
///
/// # Safety
///
/// `client` is `NULL` or a handle from [`cc_client_new`] not yet freed; it
/// must not be used afterwards, nor by another thread meanwhile.
#[no_mangle]
pub unsafe extern "C" fn cc_client_free(client: *mut CcClient) {
    if client.is_null() {
        return;
    }
    // SAFETY: a handle from `cc_client_new` (a `Box`), freed once.
    let boxed = unsafe { Box::from_raw(client) };
    let _ = catch_unwind(AssertUnwindSafe(move || {
        boxed.client.shutdown();
        drop(boxed);
    }));
}

/// Creates group `id` on every node, verified, or rolled back (see
/// `ClusterClient::create_group`).
///
/// Returns `CC_OK`, `CC_INVALID_INPUT` (invalid id; nothing sent),
/// `CC_OPERATION_FAILED` (the message names the failed nodes, the nodes
/// where the rollback failed and possible orphans), or another code.
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
/// (empty on `CC_OK`; free it with [`cc_string_list_free`]) and, on
/// `CC_OPERATION_FAILED`, the error message gives each node's reason.
/// Otherwise (invalid id, shut down, `NULL` arguments) `*failed_hosts` is
/// set to `NULL` when `failed_hosts` is not `NULL`.
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
    if !failed_hosts.is_null() {
        // SAFETY: valid for a write per the caller's contract.
        unsafe { failed_hosts.write(ptr::null_mut()) };
    }
    // SAFETY: forwarded caller contract.
    unsafe {
        guard(err, (), || {
            let client = client_arg(client)?;
            let id = str_arg(id, "id")?;
            out_arg(failed_hosts, "failed_hosts")?;
            let failures = client.delete_group_report(id)?;
            let list = string_list(failures.iter().map(|f| f.host.to_string()));
            // SAFETY: checked non-null above; valid per the caller's contract.
            failed_hosts.write(list);
            if failures.is_empty() {
                Ok(())
            } else {
                let reasons: Vec<String> = failures.iter().map(ToString::to_string).collect();
                Err(Failure::new(
                    CC_OPERATION_FAILED,
                    format!(
                        "group {id:?} not deleted on {} node(s): {}",
                        failures.len(),
                        reasons.join("; ")
                    ),
                ))
            }
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
            out_arg(out_exists, "out_exists")?;
            let exists = client.verify_group(&host, id)?;
            // SAFETY: checked non-null above; valid per the caller's contract.
            out_exists.write(c_int::from(exists));
            Ok(())
        })
    }
    .1
}

/// Sets `*out` to a new list of the nodes currently considered healthy
/// (free it with [`cc_string_list_free`]).
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
    unsafe {
        guard(err, (), || {
            let client = client_arg(client)?;
            out_arg(out, "out")?;
            let healthy = client.cluster_management().healthy_nodes();
            // SAFETY: checked non-null above; valid per the caller's contract.
            out.write(string_list(healthy.iter().map(ToString::to_string)));
            Ok(())
        })
    }
    .1
}

/// The pool metrics of every node as JSON, keyed by node address, each with
/// the eight fields of `ConnectionPoolMetrics`:
/// `{"http://127.0.0.1:8000": {"curr_connections": 1, ...}, ...}`.
fn metrics_json(client: &ClusterClient) -> Result<String, Failure> {
    let all: BTreeMap<String, ConnectionPoolMetrics> = client
        .cluster_management()
        .connection_pool_metrics()
        .into_iter()
        .map(|(host, m)| (host.to_string(), m))
        .collect();
    // Through `Value`, so keys come out as before (sorted, at both levels).
    serde_json::to_value(all)
        .map(|v| v.to_string())
        .map_err(|e| Failure::new(CC_OTHER, format!("metrics not serializable: {e}")))
}

/// Sets `*out` to a new string with the pool metrics of every node as a
/// JSON object keyed by node address; each value has the eight fields
/// `curr_connections`, `connections_created`,
/// `connections_created_with_error`, `connections_purged`,
/// `connections_closed`, `operations_executed`,
/// `operations_executed_with_error` and `operations_waited`. Free it with
/// [`cc_string_free`].
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
    unsafe {
        guard(err, (), || {
            let client = client_arg(client)?;
            out_arg(out, "out")?;
            let json = metrics_json(client)?;
            // SAFETY: checked non-null above; valid per the caller's contract.
            out.write(c_string(&json));
            Ok(())
        })
    }
    .1
}

/// Frees a string from this library. A no-op on `NULL`.
///
/// # Safety
///
/// `s` is `NULL` or a string this library returned, not yet freed.
#[no_mangle]
pub unsafe extern "C" fn cc_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: made by `CString::into_raw` in this module, freed once.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// Frees a string list and every string in it. A no-op on `NULL`.
///
/// # Safety
///
/// `list` is `NULL` or a list this library returned, not yet freed, with
/// its `items` and `len` unchanged.
#[no_mangle]
pub unsafe extern "C" fn cc_string_list_free(list: *mut CcStringList) {
    if list.is_null() {
        return;
    }
    // SAFETY: made by `string_list` (a `Box`), freed once.
    let list = unsafe { Box::from_raw(list) };
    if !list.items.is_null() {
        // SAFETY: `items` is a boxed slice of `len` strings from `string_list`.
        let items = unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(list.items, list.len)) };
        for &s in items.iter() {
            // SAFETY: each item is a string from `c_string`.
            unsafe { cc_string_free(s) };
        }
    }
}

/// Frees an error and its message. A no-op on `NULL`.
///
/// # Safety
///
/// `err` is `NULL` or an error this library returned, not yet freed.
#[no_mangle]
pub unsafe extern "C" fn cc_error_free(err: *mut CcError) {
    if err.is_null() {
        return;
    }
    // SAFETY: made by `guard` (a `Box`), freed once.
    let err = unsafe { Box::from_raw(err) };
    // SAFETY: `message` is a string from `c_string` (or NULL).
    unsafe { cc_string_free(err.message) };
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    /// Takes and frees an error, returning its code and message.
    fn take_error(err: *mut CcError) -> Option<(c_int, String)> {
        if err.is_null() {
            return None;
        }
        // SAFETY: an error from this module.
        let out = unsafe {
            let e = &*err;
            (
                e.code,
                CStr::from_ptr(e.message).to_string_lossy().into_owned(),
            )
        };
        // SAFETY: freed once.
        unsafe { cc_error_free(err) };
        Some(out)
    }

    fn new_client(hosts: &CStr) -> Result<*mut CcClient, (c_int, String)> {
        let mut err = ptr::null_mut();
        // SAFETY: valid string and out pointer.
        let c = unsafe { cc_client_new(hosts.as_ptr(), &mut err) };
        match take_error(err) {
            Some(e) => {
                assert!(c.is_null());
                Err(e)
            }
            None => {
                assert!(!c.is_null());
                Ok(c)
            }
        }
    }

    // Port 9 (discard) on loopback: nothing in these tests sends a request.
    const HOSTS: &CStr = c"http://127.0.0.1:9,http://127.0.0.1:10";

    #[test]
    fn client_new_codes() {
        let mut err = ptr::null_mut();
        // SAFETY: NULL string is the case under test.
        let c = unsafe { cc_client_new(ptr::null(), &mut err) };
        assert!(c.is_null());
        assert_eq!(take_error(err).map(|e| e.0), Some(CC_NULL_POINTER));

        let bad_utf8: &[u8] = b"http://127.0.0.1:1\xff\0";
        let mut err = ptr::null_mut();
        // SAFETY: NUL-terminated bytes.
        let c = unsafe { cc_client_new(bad_utf8.as_ptr().cast(), &mut err) };
        assert!(c.is_null());
        assert_eq!(take_error(err).map(|e| e.0), Some(CC_INVALID_UTF8));

        let (code, message) = new_client(c"ftp://nope").expect_err("invalid host");
        assert_eq!(code, CC_INVALID_INPUT);
        assert!(message.contains("invalid host"), "{message}");
        assert_eq!(new_client(c"").expect_err("no hosts").0, CC_INVALID_INPUT);

        // `err` may be NULL: only the NULL result tells.
        // SAFETY: valid string; NULL err allowed.
        assert!(unsafe { cc_client_new(c"ftp://nope".as_ptr(), ptr::null_mut()) }.is_null());

        let c = new_client(HOSTS).expect("valid hosts");
        // SAFETY: freed once.
        unsafe { cc_client_free(c) };
    }

    #[test]
    fn null_arguments_are_typed_errors() {
        let c = new_client(HOSTS).expect("valid hosts");
        let mut err = ptr::null_mut();
        // SAFETY: NULL arguments are the cases under test; the rest are valid.
        unsafe {
            assert_eq!(
                cc_create_group(ptr::null(), c"g".as_ptr(), &mut err),
                CC_NULL_POINTER
            );
            assert_eq!(take_error(err).map(|e| e.0), Some(CC_NULL_POINTER));
            assert_eq!(cc_create_group(c, ptr::null(), &mut err), CC_NULL_POINTER);
            let (_, message) = take_error(err).expect("error set");
            assert!(message.contains("id"), "{message}");

            let mut list: *mut CcStringList = ptr::null_mut();
            assert_eq!(
                cc_delete_group(c, c"g".as_ptr(), ptr::null_mut(), &mut err),
                CC_NULL_POINTER
            );
            assert_eq!(take_error(err).map(|e| e.0), Some(CC_NULL_POINTER));
            assert_eq!(
                cc_delete_group(c, ptr::null(), &mut list, &mut err),
                CC_NULL_POINTER
            );
            assert!(list.is_null());
            assert!(take_error(err).is_some());

            let mut exists: c_int = -1;
            let host = c"http://127.0.0.1:9".as_ptr();
            assert_eq!(
                cc_verify_group(c, host, c"g".as_ptr(), ptr::null_mut(), &mut err),
                CC_NULL_POINTER
            );
            assert!(take_error(err).is_some());
            assert_eq!(
                cc_verify_group(c, ptr::null(), c"g".as_ptr(), &mut exists, &mut err),
                CC_NULL_POINTER
            );
            assert!(take_error(err).is_some());
            assert_eq!(exists, -1);

            assert_eq!(
                cc_healthy_nodes(c, ptr::null_mut(), &mut err),
                CC_NULL_POINTER
            );
            assert!(take_error(err).is_some());
            assert_eq!(
                cc_metrics_json(ptr::null(), ptr::null_mut(), ptr::null_mut()),
                CC_NULL_POINTER
            );

            // Freeing NULL is a no-op.
            cc_client_free(ptr::null_mut());
            cc_error_free(ptr::null_mut());
            cc_string_free(ptr::null_mut());
            cc_string_list_free(ptr::null_mut());
            cc_client_free(c);
        }
    }

    #[test]
    fn invalid_input_is_refused_before_sending() {
        let c = new_client(HOSTS).expect("valid hosts");
        let mut err = ptr::null_mut();
        let bad: &[u8] = b"gr\xc3oup\0";
        // SAFETY: valid handle, NUL-terminated strings, valid out pointers.
        unsafe {
            assert_eq!(
                cc_create_group(c, c"a/b".as_ptr(), &mut err),
                CC_INVALID_INPUT
            );
            let (_, message) = take_error(err).expect("error set");
            assert!(message.contains("invalid group id"), "{message}");
            assert_eq!(
                cc_create_group(c, bad.as_ptr().cast(), &mut err),
                CC_INVALID_UTF8
            );
            assert!(take_error(err).is_some());

            let mut list: *mut CcStringList = ptr::null_mut();
            assert_eq!(
                cc_delete_group(c, c"..".as_ptr(), &mut list, &mut err),
                CC_INVALID_INPUT
            );
            assert!(list.is_null());
            assert!(take_error(err).is_some());

            let mut exists: c_int = -1;
            for host in [c"not a host", c"http://127.0.0.1:11"] {
                assert_eq!(
                    cc_verify_group(c, host.as_ptr(), c"g".as_ptr(), &mut exists, &mut err),
                    CC_INVALID_INPUT,
                    "{host:?}"
                );
                assert!(take_error(err).is_some());
            }
            assert_eq!(exists, -1);
            cc_client_free(c);
        }
    }

    #[test]
    fn lists_metrics_and_shutdown() {
        let c = new_client(HOSTS).expect("valid hosts");
        let mut err = ptr::null_mut();
        // SAFETY: valid handle and out pointers; results freed once.
        unsafe {
            let mut list: *mut CcStringList = ptr::null_mut();
            assert_eq!(cc_healthy_nodes(c, &mut list, &mut err), CC_OK);
            assert!(err.is_null());
            let l = &*list;
            let items: Vec<String> = (0..l.len)
                .map(|i| {
                    CStr::from_ptr(*l.items.add(i))
                        .to_string_lossy()
                        .into_owned()
                })
                .collect();
            assert_eq!(items, ["http://127.0.0.1:9", "http://127.0.0.1:10"]);
            cc_string_list_free(list);

            let mut json: *mut c_char = ptr::null_mut();
            assert_eq!(cc_metrics_json(c, &mut json, &mut err), CC_OK);
            let text = CStr::from_ptr(json).to_str().expect("UTF-8").to_string();
            cc_string_free(json);
            let v: Value = serde_json::from_str(&text).expect("JSON");
            let node = &v["http://127.0.0.1:9"];
            assert_eq!(node.as_object().map(|o| o.len()), Some(8), "{text}");
            assert_eq!(node["operations_executed"], 0);

            // After shutdown a call is CC_OTHER.
            (*c).client.shutdown();
            assert_eq!(cc_create_group(c, c"g".as_ptr(), &mut err), CC_OTHER);
            assert!(take_error(err).is_some());
            cc_client_free(c);
        }
    }

    #[test]
    fn empty_list_and_nul_in_message() {
        let list = string_list(Vec::new());
        // SAFETY: a list from `string_list`.
        unsafe {
            assert!((*list).items.is_null());
            assert_eq!((*list).len, 0);
            cc_string_list_free(list);
        }
        let s = c_string("a\0b");
        // SAFETY: a string from `c_string`.
        unsafe {
            assert_eq!(CStr::from_ptr(s).to_str(), Ok("a?b"));
            cc_string_free(s);
        }
    }

    #[test]
    fn panics_become_codes() {
        let mut err = ptr::null_mut();
        // SAFETY: valid out pointer.
        let (v, code) =
            unsafe { guard(&mut err, 7, || -> Result<i32, Failure> { panic!("boom") }) };
        assert_eq!((v, code), (7, CC_PANIC));
        let (code, message) = take_error(err).expect("error set");
        assert_eq!(code, CC_PANIC);
        assert!(message.contains("boom"), "{message}");
    }
}
