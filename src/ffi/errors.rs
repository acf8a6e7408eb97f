//! Error codes, [`CcError`], and the guard every entry point runs under.

use std::any::Any;
use std::ffi::{c_char, c_int, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use super::memory::{c_string, CcStringList};
use crate::error::{Error, NodeError};
use crate::HostAddress;

/// Success.
pub const CC_OK: c_int = 0;
/// Invalid input: a bad host list or host, a bad group id, a bad
/// configuration, a host that is not a node of the client. Nothing was sent.
pub const CC_INVALID_INPUT: c_int = 1;
/// The operation failed on one or more nodes (the message and the host
/// lists of the [`CcError`] name them).
pub const CC_OPERATION_FAILED: c_int = 2;
/// Another error (e.g. the operating system refused a thread).
pub const CC_OTHER: c_int = 3;
/// A required pointer argument was `NULL`.
pub const CC_NULL_POINTER: c_int = 4;
/// A string argument was not valid UTF-8.
pub const CC_INVALID_UTF8: c_int = 5;
/// A panic was caught inside the library (a bug); the handle may still be
/// used and freed.
pub const CC_PANIC: c_int = 6;
/// The client was shut down (`cc_client_shutdown`) before or during the
/// call. A group operation stopped this way names its nodes in the
/// [`CcError`]'s host lists (a create rolled back what it made first).
pub const CC_SHUT_DOWN: c_int = 7;
/// The call was cancelled with its token (`cc_cancel` on the token of a
/// handle from `cc_client_with_cancel`) before or during the call. A group
/// operation stopped this way names its nodes in the [`CcError`]'s host
/// lists (a create rolled back what it made first).
pub const CC_CANCELLED: c_int = 8;

/// An error: one of the `CC_*` codes, a message, and the nodes it names.
/// Owned by the caller; free it (lists included) with
/// `cc_error_free`.
///
/// For a failed group create, the three lists are the `failed_hosts`,
/// `rollback_failed_hosts` and `possible_orphans` of the saga; for a failed
/// delete or request, `failed_hosts` names the nodes that failed. Lists not
/// relevant to an error are empty (`items` `NULL`, `len` 0).
#[repr(C)]
#[derive(Debug)]
pub struct CcError {
    /// The error code (`CC_INVALID_INPUT` ... `CC_CANCELLED`).
    pub code: c_int,
    /// What went wrong (NUL-terminated UTF-8, never `NULL`).
    pub message: *mut c_char,
    /// Nodes where the operation failed.
    pub failed_hosts: CcStringList,
    /// Nodes where a create's rollback failed: the group is still there.
    pub rollback_failed_hosts: CcStringList,
    /// Nodes whose outcome is unknown: the group may be there.
    pub possible_orphans: CcStringList,
}

/// A failure inside an entry point: a code, a message and the nodes named.
#[derive(Debug, Default)]
pub(super) struct Failure {
    pub(super) code: c_int,
    pub(super) message: String,
    pub(super) failed_hosts: Vec<String>,
    pub(super) rollback_failed_hosts: Vec<String>,
    pub(super) possible_orphans: Vec<String>,
}

impl Failure {
    pub(super) fn new(code: c_int, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
            ..Failure::default()
        }
    }

    fn into_raw(self) -> *mut CcError {
        Box::into_raw(Box::new(CcError {
            code: self.code,
            message: c_string(&self.message),
            failed_hosts: CcStringList::new(self.failed_hosts),
            rollback_failed_hosts: CcStringList::new(self.rollback_failed_hosts),
            possible_orphans: CcStringList::new(self.possible_orphans),
        }))
    }
}

fn strings(hosts: &[HostAddress]) -> Vec<String> {
    hosts.iter().map(ToString::to_string).collect()
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let mut failure = Failure::new(error_code(&e), e.to_string());
        failure.failed_hosts = strings(&e.failed_hosts());
        if let Error::GroupOperation {
            rollback_failed_hosts,
            possible_orphans,
            ..
        } = &e
        {
            failure.rollback_failed_hosts = strings(rollback_failed_hosts);
            failure.possible_orphans = strings(possible_orphans);
        }
        failure
    }
}

/// The C error code of a library error. A group operation or request
/// whose node failures say shut down (or, failing that, cancelled) was
/// stopped by the caller, not by the nodes: `CC_SHUT_DOWN` (or
/// `CC_CANCELLED`), its host lists kept.
fn error_code(e: &Error) -> c_int {
    match e {
        e if e.is_invalid_input() => CC_INVALID_INPUT,
        Error::Shutdown => CC_SHUT_DOWN,
        Error::Cancelled => CC_CANCELLED,
        Error::GroupOperation { failures, .. } => stopped(failures.iter().map(|f| &f.error)),
        Error::Request { attempts, .. } => stopped(attempts.iter().map(|f| &f.error)),
        Error::Arango { .. } | Error::UnexpectedResponse { .. } => CC_OPERATION_FAILED,
        _ => CC_OTHER,
    }
}

/// `CC_SHUT_DOWN` when a node failure says shut down, else `CC_CANCELLED`
/// when one says cancelled, else `CC_OPERATION_FAILED`.
fn stopped<'a>(errors: impl Iterator<Item = &'a NodeError> + Clone) -> c_int {
    if errors.clone().any(|e| matches!(e, NodeError::Shutdown)) {
        CC_SHUT_DOWN
    } else if errors
        .into_iter()
        .any(|e| matches!(e, NodeError::Cancelled))
    {
        CC_CANCELLED
    } else {
        CC_OPERATION_FAILED
    }
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
/// returns `f`'s value or `fallback`, with the code.
///
/// # Safety
///
/// `err` is `NULL` or valid for one pointer write.
pub(super) unsafe fn guard<T>(
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
            // Building the error allocates only; a failed allocation aborts,
            // it does not unwind.
            Some(f) => f.into_raw(),
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
pub(super) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::new(CC_NULL_POINTER, format!("{name} is NULL")));
    }
    // SAFETY: non-null and NUL-terminated per the caller's contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|e| Failure::new(CC_INVALID_UTF8, format!("{name} is not UTF-8: {e}")))
}

/// Checks a required out pointer and sets `*p` to `empty` so that the caller
/// never reads an old value after a failure.
///
/// # Safety
///
/// `p` is `NULL` or valid for one write of `T`.
pub(super) unsafe fn out_arg<T>(p: *mut T, name: &str, empty: T) -> Result<(), Failure> {
    if p.is_null() {
        Err(Failure::new(CC_NULL_POINTER, format!("{name} is NULL")))
    } else {
        // SAFETY: non-null and valid for a write per the caller's contract.
        unsafe { p.write(empty) };
        Ok(())
    }
}

/// Frees an error, its message and its host lists. A no-op on `NULL`.
///
/// # Safety
///
/// `err` is `NULL` or an error this library returned, not yet freed, with
/// its fields unchanged.
#[no_mangle]
pub unsafe extern "C" fn cc_error_free(err: *mut CcError) {
    if err.is_null() {
        return;
    }
    // SAFETY: made by `Failure::into_raw` (a `Box`), freed once.
    let err = unsafe { Box::from_raw(err) };
    // SAFETY: `message` is a string from `c_string`; the lists are from
    // `CcStringList::new`, each freed once here.
    unsafe {
        super::cc_string_free(err.message);
        err.failed_hosts.free_items();
        err.rollback_failed_hosts.free_items();
        err.possible_orphans.free_items();
    }
}
