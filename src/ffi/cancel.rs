//! Per-call cancellation: a token C trips from any thread, and a client
//! handle whose calls observe it; and per-handle call settings
//! ([`cc_client_with_options`]).

use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::time::Duration;

use super::client::{client_arg, CcClient};
use super::errors::{guard, CcError, Failure, CC_INVALID_INPUT, CC_NULL_POINTER};
use crate::{CallOptions, CancelToken, RetryPolicy};

/// An opaque cancel token from [`cc_cancel_new`], freed with
/// [`cc_cancel_free`]. Trip it with [`cc_cancel`]; the calls of a handle
/// made with [`cc_client_with_cancel`] then end their waits at once.
#[derive(Debug)]
pub struct CcCancel {
    token: CancelToken,
}

/// A new cancel token, not yet tripped; `NULL` only if the library failed
/// (a bug). Free it with [`cc_cancel_free`].
#[no_mangle]
pub extern "C" fn cc_cancel_new() -> *mut CcCancel {
    catch_unwind(|| {
        Box::into_raw(Box::new(CcCancel {
            token: CancelToken::new(),
        }))
    })
    .unwrap_or(ptr::null_mut())
}

/// Trips the token: the calls of every handle made from it with
/// [`cc_client_with_cancel`] end their waits at once. A call not yet
/// started returns `CC_CANCELLED`; a create that already made groups rolls
/// them back first (within 5 s) and returns `CC_CANCELLED` with the host
/// lists. Idempotent; a no-op on `NULL`.
///
/// Thread-safe: call it from another thread while calls are in flight
/// (e.g. a thread waiting for signals with `sigwait`). It takes a lock, so
/// it is not async-signal-safe: do not call it from a signal handler.
///
/// # Safety
///
/// `token` is `NULL` or a live token from [`cc_cancel_new`].
#[no_mangle]
pub unsafe extern "C" fn cc_cancel(token: *const CcCancel) {
    // SAFETY: a live token per the caller's contract.
    if let Some(t) = unsafe { token.as_ref() } {
        let _ = catch_unwind(AssertUnwindSafe(|| t.token.cancel()));
    }
}

/// Frees a token. A no-op on `NULL`. Handles made with it keep their own
/// reference: the token may be freed before or after them, and they still
/// observe a cancel that happened before the free.
///
/// # Safety
///
/// `token` is `NULL` or a token from [`cc_cancel_new`] not yet freed; it
/// must not be used afterwards, nor by another thread meanwhile.
#[no_mangle]
pub unsafe extern "C" fn cc_cancel_free(token: *mut CcCancel) {
    if token.is_null() {
        return;
    }
    // SAFETY: made by `cc_cancel_new` (a `Box`), freed once.
    let boxed = unsafe { Box::from_raw(token) };
    let _ = catch_unwind(AssertUnwindSafe(move || drop(boxed)));
}

/// A new handle sharing everything with `client` (nodes, pools, health,
/// metrics, journal, shutdown) whose calls observe `token`: after
/// [`cc_cancel`] they return `CC_CANCELLED` promptly (a create rolls back
/// what it made first). `client` keeps its own calls uncancelled.
///
/// Free it with [`cc_client_free`](crate::ffi::cc_client_free) (which, for such a handle, does not shut
/// down the client it shares; `cc_client_shutdown`
/// on it does). It may outlive `client` and `token` (it keeps what it needs);
/// its calls return `CC_SHUT_DOWN` once the shared client is shut down or
/// freed.
///
/// Returns `NULL` on failure with `*err` set: `CC_NULL_POINTER` when
/// `client` or `token` is `NULL`.
///
/// # Safety
///
/// `client` is `NULL` or a live handle; `token` is `NULL` or a live token;
/// `err` is `NULL` or valid for one pointer write.
#[no_mangle]
pub unsafe extern "C" fn cc_client_with_cancel(
    client: *const CcClient,
    token: *const CcCancel,
    err: *mut *mut CcError,
) -> *mut CcClient {
    // SAFETY: forwarded caller contract.
    unsafe {
        guard(err, ptr::null_mut(), || {
            let client = client_arg(client)?;
            // SAFETY: a live token per the caller's contract.
            let token = match token.as_ref() {
                Some(t) => t.token.clone(),
                None => return Err(Failure::new(CC_NULL_POINTER, "token is NULL")),
            };
            let derived = client.with_options(CallOptions::new().cancel_token(token));
            Ok(Box::into_raw(Box::new(CcClient {
                client: derived,
                shares: true,
            })))
        })
    }
    .0
}

/// The longest timeout [`cc_client_with_options`] takes: one year.
const MAX_TIMEOUT_MS: u64 = crate::config::LONGEST.as_millis() as u64;

/// A timeout argument: `None` for 0 (keep), refused over a year.
fn timeout_arg(ms: u64, name: &str) -> Result<Option<Duration>, Failure> {
    match ms {
        0 => Ok(None),
        ms if ms > MAX_TIMEOUT_MS => Err(Failure::new(
            CC_INVALID_INPUT,
            format!("{name} {ms} ms is over one year"),
        )),
        ms => Ok(Some(Duration::from_millis(ms))),
    }
}

/// A new handle sharing everything with `client` (nodes, pools, health,
/// metrics, journal, shutdown, and its cancel token if it has one) whose
/// calls use the settings given, and `client`'s for the others (the C
/// counterpart of the Rust `ClusterClient::with_options`):
///
/// - `operation_timeout_ms`: all attempts and backoff of one call; 0 keeps
///   the client's.
/// - `request_timeout_ms`: each attempt; 0 keeps the client's. It cannot
///   exceed the client's own request timeout (a longer value changes
///   nothing).
/// - `retries`: attempts per call, the first included (as the config
///   file's `retry.attempts`; 1 = no retries), with the client's backoff
///   delays; 0 or negative keeps the client's.
/// - `hedging`: 1 lets one-node reads be hedged (when the client hedges),
///   2 turns hedging off; 0 or negative keeps the client's.
///
/// Free it with [`cc_client_free`](crate::ffi::cc_client_free), which (as
/// for [`cc_client_with_cancel`]) does not shut down the client it shares;
/// `cc_client_shutdown` on it does. It may outlive `client`; its calls
/// return `CC_SHUT_DOWN` once the shared client is shut down or freed. A
/// cancellable handle may be made from it with [`cc_client_with_cancel`]
/// (and this one from a cancellable handle): settings compose.
///
/// Returns `NULL` on failure with `*err` set: `CC_NULL_POINTER` when
/// `client` is `NULL`; `CC_INVALID_INPUT` for a timeout over one year or a
/// `hedging` above 2.
///
/// # Safety
///
/// `client` is `NULL` or a live handle; `err` is `NULL` or valid for one
/// pointer write.
#[no_mangle]
pub unsafe extern "C" fn cc_client_with_options(
    client: *const CcClient,
    operation_timeout_ms: u64,
    request_timeout_ms: u64,
    retries: i32,
    hedging: c_int,
    err: *mut *mut CcError,
) -> *mut CcClient {
    // SAFETY: forwarded caller contract.
    unsafe {
        guard(err, ptr::null_mut(), || {
            let client = client_arg(client)?;
            let mut options = CallOptions::new();
            if let Some(t) = timeout_arg(operation_timeout_ms, "operation_timeout_ms")? {
                options = options.operation_timeout(t);
            }
            if let Some(t) = timeout_arg(request_timeout_ms, "request_timeout_ms")? {
                options = options.request_timeout(t);
            }
            if let Ok(attempts @ 1..) = u32::try_from(retries) {
                let base = client.call_policy();
                let mut policy =
                    RetryPolicy::exponential(attempts, base.initial_delay(), base.max_delay());
                if !base.jitter() {
                    policy = policy.without_jitter();
                }
                options = options.retry_policy(policy);
            }
            match hedging {
                ..=0 => {}
                1 => options = options.hedging(true),
                2 => options = options.hedging(false),
                other => {
                    return Err(Failure::new(
                        CC_INVALID_INPUT,
                        format!("hedging {other} is not 0, 1 (on) or 2 (off)"),
                    ))
                }
            }
            let derived = client.with_options(options);
            Ok(Box::into_raw(Box::new(CcClient {
                client: derived,
                shares: true,
            })))
        })
    }
    .0
}
