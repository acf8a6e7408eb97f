//! Cancel tokens, and creates cancelled or shut down part way.

use super::*;

#[test]
fn cancel_token_arguments() {
    let c = new_client(HOSTS).expect("valid hosts");
    let token = cc_cancel_new();
    assert!(!token.is_null());
    let mut err = ptr::null_mut();
    // SAFETY: NULL arguments are the cases under test; the rest are live.
    unsafe {
        assert!(cc_client_with_cancel(ptr::null(), token, &mut err).is_null());
        assert_eq!(take_error(err).map(|e| e.0), Some(CC_NULL_POINTER));
        assert!(cc_client_with_cancel(c, ptr::null(), &mut err).is_null());
        assert_eq!(take_error(err).map(|e| e.0), Some(CC_NULL_POINTER));
        let quiet = cc_client_with_cancel(c, token, ptr::null_mut());
        assert!(!quiet.is_null());
        cc_client_free(quiet);
        cc_cancel(ptr::null());
        cc_cancel_free(ptr::null_mut());
        // The handle owns its reference: the token may go first.
        let h = cc_client_with_cancel(c, token, &mut err);
        assert!(!h.is_null());
        cc_cancel(token);
        cc_cancel(token);
        cc_cancel_free(token);
        assert_eq!(cc_create_group(h, c"g".as_ptr(), &mut err), CC_CANCELLED);
        assert_eq!(take_error(err).map(|e| e.0), Some(CC_CANCELLED));
        cc_client_free(h);
        cc_client_free(c);
    }
}

#[cfg(feature = "testkit")]
#[test]
fn a_call_cancelled_before_it_starts_sends_nothing() {
    use crate::testkit::TestCluster;

    let nodes = TestCluster::start(2).expect("nodes");
    let c = testkit_client(&nodes);
    let mut err = ptr::null_mut();
    // SAFETY: live handles and tokens; everything freed once.
    unsafe {
        let (h, token) = cancellable(c);
        cc_cancel(token);
        assert_eq!(cc_create_group(h, c"g".as_ptr(), &mut err), CC_CANCELLED);
        let (code, message) = take_error(err).expect("error set");
        assert_eq!(code, CC_CANCELLED);
        assert!(message.contains("cancelled"), "{message}");
        let mut failed: *mut CcStringList = ptr::null_mut();
        assert_eq!(
            cc_delete_group(h, c"g".as_ptr(), &mut failed, &mut err),
            CC_CANCELLED
        );
        assert!(failed.is_null());
        assert_eq!(take_error(err).map(|e| e.0), Some(CC_CANCELLED));
        let mut resp: *mut CcResponse = ptr::null_mut();
        assert_eq!(
            cc_request(
                h,
                c"GET".as_ptr(),
                c"/".as_ptr(),
                ptr::null(),
                0,
                &mut resp,
                &mut err
            ),
            CC_CANCELLED
        );
        assert!(resp.is_null());
        assert_eq!(take_error(err).map(|e| e.0), Some(CC_CANCELLED));
        assert_eq!(nodes.node(0).request_count(), 0, "nothing sent");
        assert_eq!(nodes.node(1).request_count(), 0, "nothing sent");
        // Freeing the cancellable handle leaves the client it shares running.
        cc_cancel_free(token);
        cc_client_free(h);
        assert_eq!(cc_create_group(c, c"g".as_ptr(), &mut err), CC_OK);
        assert!(err.is_null());
        assert_eq!(nodes.nodes_with_group("g"), vec![0, 1]);
        cc_client_free(c);
    }
}

/// Starts a create on `h` in a thread, waits until nodes 0 and 1 hold the
/// group (node 2 holds its create answer back), runs `stop`, and returns
/// the create's code and error.
#[cfg(feature = "testkit")]
fn stopped_create(
    nodes: &crate::testkit::TestCluster,
    h: *mut CcClient,
    stop: impl FnOnce(),
) -> (c_int, *mut CcError) {
    use crate::testkit::{Fault, FaultRule};
    use std::time::{Duration, Instant};

    nodes.node(2).inject(
        FaultRule::new(Fault::Delay(Duration::from_millis(700)))
            .method("POST")
            .times(1),
    );
    // Raw pointers are not `Send`; the handle outlives the thread.
    let handle = h as usize;
    let creating = std::thread::spawn(move || {
        let mut err = ptr::null_mut();
        // SAFETY: a live handle and a valid out pointer.
        let code = unsafe { cc_create_group(handle as *mut CcClient, c"g".as_ptr(), &mut err) };
        (code, err as usize)
    });
    let end = Instant::now() + Duration::from_secs(5);
    while nodes.nodes_with_group("g").len() < 2 {
        assert!(Instant::now() < end, "nodes 0 and 1 never got the group");
        std::thread::sleep(Duration::from_millis(5));
    }
    let started = Instant::now();
    stop();
    let (code, err) = creating.join().expect("no panic");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    (code, err as *mut CcError)
}

/// The lists of a stopped create: node 2 (never answered) failed and is a
/// possible orphan; nodes 0 and 1 were rolled back; every holder is named.
///
/// # Safety
///
/// `err` is an error from this module; freed here.
#[cfg(feature = "testkit")]
unsafe fn check_stopped_lists(nodes: &crate::testkit::TestCluster, err: *mut CcError) {
    assert!(!err.is_null());
    let urls = nodes.urls();
    // SAFETY: an error from this module, freed once.
    let (failed, rollback_failed, orphans) = unsafe {
        let e = &*err;
        let lists = (
            list_items(&e.failed_hosts),
            list_items(&e.rollback_failed_hosts),
            list_items(&e.possible_orphans),
        );
        cc_error_free(err);
        lists
    };
    assert_eq!(failed, [urls[2].clone()]);
    assert!(rollback_failed.is_empty(), "{rollback_failed:?}");
    assert_eq!(orphans, [urls[2].clone()]);
    // Let the held-back create land, then look at the nodes.
    std::thread::sleep(std::time::Duration::from_millis(900));
    assert!(!nodes.node(0).has_group("g") && !nodes.node(1).has_group("g"));
    for n in nodes.nodes_with_group("g") {
        assert!(
            orphans.contains(&urls[n]),
            "node {n} holds the group unnamed"
        );
    }
}

#[cfg(feature = "testkit")]
#[test]
fn a_create_cancelled_midway_rolls_back_and_names_its_nodes() {
    use crate::testkit::TestCluster;

    let nodes = TestCluster::start(3).expect("nodes");
    let c = testkit_client(&nodes);
    // SAFETY: live handles and tokens; everything freed once.
    unsafe {
        let (h, token) = cancellable(c);
        let t = token as usize;
        let (code, err) = stopped_create(&nodes, h, || cc_cancel(t as *const CcCancel));
        assert_eq!(code, CC_CANCELLED);
        assert_eq!((*err).code, CC_CANCELLED);
        check_stopped_lists(&nodes, err);
        cc_client_free(h);
        cc_cancel_free(token);
        // The token was one handle's: the client goes on.
        let mut err = ptr::null_mut();
        assert_eq!(cc_create_group(c, c"after".as_ptr(), &mut err), CC_OK);
        assert!(err.is_null());
        cc_client_free(c);
    }
}

#[cfg(feature = "testkit")]
#[test]
fn shutdown_midway_through_a_create_is_cc_shut_down_with_its_nodes() {
    use crate::testkit::TestCluster;

    let nodes = TestCluster::start(3).expect("nodes");
    let c = testkit_client(&nodes);
    let client = c as usize;
    // SAFETY: a live handle, freed once after the call returned.
    unsafe {
        let (code, err) = stopped_create(&nodes, c, || {
            assert_eq!(
                cc_client_shutdown(client as *const CcClient, ptr::null_mut()),
                CC_OK
            );
        });
        assert_eq!(code, CC_SHUT_DOWN);
        assert_eq!((*err).code, CC_SHUT_DOWN);
        check_stopped_lists(&nodes, err);
        let mut err = ptr::null_mut();
        assert_eq!(
            cc_create_group(c, c"later".as_ptr(), &mut err),
            CC_SHUT_DOWN
        );
        assert_eq!(take_error(err).map(|e| e.0), Some(CC_SHUT_DOWN));
        cc_client_free(c);
    }
}
