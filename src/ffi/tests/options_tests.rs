//! Per-call options: `cc_client_with_options`.

use super::*;

/// `cc_client_with_options` on `c`, checking no error is set.
///
/// # Safety
///
/// `c` is a live handle.
#[cfg(feature = "testkit")]
unsafe fn with_options(
    c: *const CcClient,
    operation_ms: u64,
    request_ms: u64,
    retries: i32,
    hedging: c_int,
) -> *mut CcClient {
    let mut err = ptr::null_mut();
    // SAFETY: a live handle per the caller's contract.
    let h =
        unsafe { cc_client_with_options(c, operation_ms, request_ms, retries, hedging, &mut err) };
    assert!(take_error(err).is_none());
    assert!(!h.is_null());
    h
}

#[test]
fn with_options_arguments_are_checked() {
    let c = new_client(HOSTS).expect("valid hosts");
    let year_ms = 365 * 24 * 3600 * 1000_u64;
    let mut err = ptr::null_mut();
    // SAFETY: NULL and invalid arguments are the cases under test; the rest
    // are live.
    unsafe {
        assert!(cc_client_with_options(ptr::null(), 0, 0, 0, 0, &mut err).is_null());
        assert_eq!(take_error(err).map(|e| e.0), Some(CC_NULL_POINTER));
        assert!(cc_client_with_options(ptr::null(), 0, 0, 0, 0, ptr::null_mut()).is_null());
        for (op, req, hedging, what) in [
            (year_ms + 1, 0, 0, "operation_timeout_ms"),
            (u64::MAX, 0, 0, "operation_timeout_ms"),
            (0, year_ms + 1, 0, "request_timeout_ms"),
            (0, 0, 3, "hedging"),
        ] {
            assert!(cc_client_with_options(c, op, req, 0, hedging, &mut err).is_null());
            let (code, message) = take_error(err).expect("error set");
            assert_eq!(code, CC_INVALID_INPUT);
            assert!(message.contains(what), "{message}");
        }
        assert!(cc_client_with_options(c, year_ms + 1, 0, 0, 0, ptr::null_mut()).is_null());
        // Every "keep" value, and the largest accepted ones.
        for (op, req, retries, hedging) in [
            (0, 0, 0, 0),
            (0, 0, -1, -1),
            (0, 0, i32::MIN, c_int::MIN),
            (year_ms, year_ms, i32::MAX, 1),
            (1, 1, 1, 2),
        ] {
            let h = cc_client_with_options(c, op, req, retries, hedging, &mut err);
            assert!(take_error(err).is_none());
            assert!(!h.is_null());
            cc_client_free(h);
        }
        // Freeing the handle leaves the client it shares running; the
        // handle may outlive its client and then reports CC_SHUT_DOWN.
        let h = cc_client_with_options(c, 1000, 0, 1, 0, ptr::null_mut());
        assert!(!h.is_null());
        let h2 = cc_client_with_options(h, 0, 0, 2, 0, ptr::null_mut());
        assert!(!h2.is_null());
        cc_client_free(h2);
        cc_client_free(c);
        assert_eq!(cc_create_group(h, c"g".as_ptr(), &mut err), CC_SHUT_DOWN);
        assert_eq!(take_error(err).map(|e| e.0), Some(CC_SHUT_DOWN));
        cc_client_free(h);
    }
}

#[cfg(feature = "testkit")]
#[test]
fn with_options_retries_one_makes_one_attempt() {
    use crate::testkit::{FaultRule, TestCluster};

    let nodes = TestCluster::start(1).expect("nodes");
    nodes
        .node(0)
        .inject(FaultRule::status(503).method("POST").always());
    let c = testkit_client(&nodes);
    let mut err = ptr::null_mut();
    // SAFETY: live handles; everything freed once.
    unsafe {
        let once = with_options(c, 0, 0, 1, 0);
        assert_ne!(cc_create_group(once, c"g".as_ptr(), &mut err), CC_OK);
        assert!(take_error(err).is_some());
        assert_eq!(nodes.node(0).count_requests("POST"), 1, "one attempt");
        nodes.node(0).clear_requests();
        // The client keeps its 3 attempts.
        assert_ne!(cc_create_group(c, c"g".as_ptr(), &mut err), CC_OK);
        assert!(take_error(err).is_some());
        assert_eq!(
            nodes.node(0).count_requests("POST"),
            3,
            "the client's attempts"
        );
        nodes.node(0).clear_requests();
        // Composes with a cancellable handle made from it.
        let (h, token) = cancellable(once);
        assert_ne!(cc_create_group(h, c"g".as_ptr(), &mut err), CC_OK);
        assert!(take_error(err).is_some());
        assert_eq!(nodes.node(0).count_requests("POST"), 1, "one attempt");
        cc_client_free(h);
        cc_cancel_free(token);
        cc_client_free(once);
        cc_client_free(c);
    }
}

#[cfg(feature = "testkit")]
#[test]
fn with_options_operation_timeout_bounds_a_call() {
    use crate::testkit::{Fault, FaultRule, TestCluster};
    use std::time::{Duration, Instant};

    let nodes = TestCluster::start(1).expect("nodes");
    nodes
        .node(0)
        .inject(FaultRule::new(Fault::NeverAnswer).always());
    let c = testkit_client(&nodes);
    let mut err = ptr::null_mut();
    // SAFETY: live handles; everything freed once.
    unsafe {
        let quick = with_options(c, 300, 0, 0, 0);
        let host = std::ffi::CString::new(nodes.urls()[0].clone()).expect("no NUL");
        let mut exists: c_int = -1;
        let started = Instant::now();
        assert_ne!(
            cc_verify_group(quick, host.as_ptr(), c"g".as_ptr(), &mut exists, &mut err),
            CC_OK
        );
        let elapsed = started.elapsed();
        assert!(take_error(err).is_some());
        // The client's own: 3 s per attempt, 10 s per operation.
        assert!(elapsed < Duration::from_millis(2500), "{elapsed:?}");
        let mut resp: *mut CcResponse = ptr::null_mut();
        let started = Instant::now();
        assert_ne!(
            cc_request(
                quick,
                c"GET".as_ptr(),
                c"/".as_ptr(),
                ptr::null(),
                0,
                &mut resp,
                &mut err
            ),
            CC_OK
        );
        let elapsed = started.elapsed();
        assert!(resp.is_null());
        assert!(take_error(err).is_some());
        assert!(elapsed < Duration::from_millis(2500), "{elapsed:?}");
        cc_client_free(quick);
        cc_client_free(c);
    }
}
