//! The C ABI's unit tests, by concern: `basic_tests.rs` (clients, arguments,
//! errors, lists, requests), `cancel_tests.rs` (tokens, cancelled and shut-down
//! creates), `metrics_tests.rs` (resolvers, answer times, hedges), `nodes_tests.rs`
//! (the node set), `options_tests.rs` (per-call options). Shared helpers here.

mod basic_tests;
mod cancel_tests;
mod metrics_tests;
mod nodes_tests;
mod options_tests;

use serde_json::Value;

use super::errors::{guard, Failure};
use super::memory::{c_string, string_list};
use super::*;
use std::ffi::{c_char, c_int, CStr};
use std::ptr;

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

/// Reads a string list without freeing it.
///
/// # Safety
///
/// `l` is a list from this module.
unsafe fn list_items(l: &CcStringList) -> Vec<String> {
    (0..l.len)
        // SAFETY: `len` valid items per the caller's contract.
        .map(|i| {
            unsafe { CStr::from_ptr(*l.items.add(i)) }
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// A client over test nodes with quick retries, from TOML text.
#[cfg(feature = "testkit")]
fn testkit_client(nodes: &crate::testkit::TestCluster) -> *mut CcClient {
    let toml = format!(
        "hosts = [{}]\n[retry]\nattempts = 3\ninitial_delay = \"5ms\"\nmax_delay = \"40ms\"\n\
         [timeouts]\nrequest = \"3s\"\noperation = \"10s\"\n",
        nodes
            .urls()
            .iter()
            .map(|u| format!("{u:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let toml = std::ffi::CString::new(toml).expect("no NUL");
    let mut err = ptr::null_mut();
    // SAFETY: a valid string and out pointer.
    let c = unsafe { cc_client_new_from_toml(toml.as_ptr(), &mut err) };
    assert!(take_error(err).is_none());
    assert!(!c.is_null());
    c
}

/// A handle observing a new token.
///
/// # Safety
///
/// `c` is a live handle.
#[cfg(feature = "testkit")]
unsafe fn cancellable(c: *const CcClient) -> (*mut CcClient, *mut CcCancel) {
    let token = cc_cancel_new();
    assert!(!token.is_null());
    let mut err = ptr::null_mut();
    // SAFETY: a live handle and token per the caller's contract.
    let h = unsafe { cc_client_with_cancel(c, token, &mut err) };
    assert!(take_error(err).is_none());
    assert!(!h.is_null());
    (h, token)
}
