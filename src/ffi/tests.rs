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
        // Beside the nodes: their answer times and the hedges, nothing yet.
        assert_eq!(v.as_object().map(|o| o.len()), Some(2 + 2), "{text}");
        for host in ["http://127.0.0.1:9", "http://127.0.0.1:10"] {
            assert_eq!(
                v["latency"][host],
                serde_json::json!({"count": 0, "p50_ms": 0.0, "p90_ms": 0.0, "p99_ms": 0.0}),
                "{text}"
            );
        }
        assert_eq!(v["latency"].as_object().map(|o| o.len()), Some(2));
        assert_eq!(v["hedges"], serde_json::json!({"sent": 0, "won": 0}));

        // After shutdown a call is CC_SHUT_DOWN.
        assert_eq!(cc_client_shutdown(c, &mut err), CC_OK);
        assert_eq!(cc_client_shutdown(c, ptr::null_mut()), CC_OK);
        assert_eq!(cc_create_group(c, c"g".as_ptr(), &mut err), CC_SHUT_DOWN);
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
    let (v, code) = unsafe { guard(&mut err, 7, || -> Result<i32, Failure> { panic!("boom") }) };
    assert_eq!((v, code), (7, CC_PANIC));
    let (code, message) = take_error(err).expect("error set");
    assert_eq!(code, CC_PANIC);
    assert!(message.contains("boom"), "{message}");
}

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

#[test]
fn version_and_abi() {
    // SAFETY: a static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(cc_version()) };
    assert_eq!(v.to_str(), Ok(env!("CARGO_PKG_VERSION")));
    assert_eq!(cc_abi_version(), CC_ABI_VERSION);
}

#[test]
fn clients_from_toml_and_config() {
    let mut err = ptr::null_mut();
    // SAFETY: valid strings and out pointers; results freed once.
    unsafe {
        let c = cc_client_new_from_toml(
            c"hosts = [\"http://127.0.0.1:9\"]\n[retry]\nattempts = 1\n".as_ptr(),
            &mut err,
        );
        assert!(!c.is_null() && err.is_null());
        let mut list: *mut CcStringList = ptr::null_mut();
        assert_eq!(cc_nodes(c, &mut list, &mut err), CC_OK);
        assert_eq!(list_items(&*list), ["http://127.0.0.1:9"]);
        cc_string_list_free(list);
        assert_eq!(cc_unhealthy_nodes(c, &mut list, &mut err), CC_OK);
        assert_eq!((*list).len, 0);
        cc_string_list_free(list);
        cc_client_free(c);

        for bad in [c"hosts = 7", c"nonsense_key = 1", c"hosts = [\"ftp://x\"]"] {
            let c = cc_client_new_from_toml(bad.as_ptr(), &mut err);
            assert!(c.is_null());
            assert_eq!(
                take_error(err).map(|e| e.0),
                Some(CC_INVALID_INPUT),
                "{bad:?}"
            );
        }
        assert!(cc_client_new_from_toml(ptr::null(), ptr::null_mut()).is_null());
        let c = cc_client_new_from_config(c"/nonexistent/cluster.toml".as_ptr(), &mut err);
        assert!(c.is_null());
        let (code, message) = take_error(err).expect("error set");
        assert_eq!(code, CC_INVALID_INPUT);
        assert!(message.contains("cannot be read"), "{message}");
    }
}

#[test]
fn request_arguments_are_checked_before_sending() {
    let c = new_client(HOSTS).expect("valid hosts");
    let mut err = ptr::null_mut();
    // SAFETY: valid handle and out pointers; NULL cases are under test.
    unsafe {
        let mut resp: *mut CcResponse = ptr::NonNull::dangling().as_ptr();
        let (m, p) = (c"GET".as_ptr(), c"/x".as_ptr());
        assert_eq!(
            cc_request(c, m, p, ptr::null(), 3, &mut resp, &mut err),
            CC_NULL_POINTER
        );
        assert!(resp.is_null(), "out set to NULL on failure");
        assert!(take_error(err).is_some());
        assert_eq!(
            cc_request(
                c,
                m,
                c"no-slash".as_ptr(),
                ptr::null(),
                0,
                &mut resp,
                &mut err
            ),
            CC_INVALID_INPUT
        );
        assert!(take_error(err).is_some());
        // A path that cannot go on the wire: the caller's error, nothing sent.
        for bad in [
            c"/a<b>", c"/a`b", c"/a{b}", c"/a|b", c"/a^b", c"/a\\b", c"/a\"b",
        ] {
            assert_eq!(
                cc_request(c, m, bad.as_ptr(), ptr::null(), 0, &mut resp, &mut err),
                CC_INVALID_INPUT,
                "{bad:?}"
            );
            assert!(take_error(err).is_some());
        }
        assert_eq!(
            cc_request(c, m, p, ptr::null(), 0, ptr::null_mut(), &mut err),
            CC_NULL_POINTER
        );
        assert!(take_error(err).is_some());
        let mut presence: *mut CcPresenceList = ptr::null_mut();
        assert_eq!(
            cc_verify_group_everywhere(c, c"a/b".as_ptr(), &mut presence, &mut err),
            CC_INVALID_INPUT
        );
        assert!(presence.is_null());
        assert!(take_error(err).is_some());
        cc_response_free(ptr::null_mut());
        cc_presence_list_free(ptr::null_mut());
        cc_client_free(c);
    }
}

#[cfg(feature = "testkit")]
#[test]
fn group_failure_lists_reach_c() {
    use crate::testkit::TestCluster;

    let nodes = TestCluster::start(3).expect("nodes");
    nodes.node(2).fail_next("POST", 10, 500);
    nodes.node(0).fail_next("DELETE", 100, 500);
    let toml = format!(
        "hosts = [{}]\n[retry]\nattempts = 2\ninitial_delay = \"5ms\"\nmax_delay = \"10ms\"\n",
        nodes
            .urls()
            .iter()
            .map(|u| format!("{u:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let toml = std::ffi::CString::new(toml).expect("no NUL");
    let mut err = ptr::null_mut();
    // SAFETY: valid strings and out pointers; results freed once.
    unsafe {
        let c = cc_client_new_from_toml(toml.as_ptr(), &mut err);
        assert!(!c.is_null());
        assert_eq!(
            cc_create_group(c, c"g".as_ptr(), &mut err),
            CC_OPERATION_FAILED
        );
        let e = &*err;
        assert_eq!(list_items(&e.failed_hosts), [nodes.urls()[2].clone()]);
        assert_eq!(
            list_items(&e.rollback_failed_hosts),
            [nodes.urls()[0].clone()]
        );
        assert!(list_items(&e.possible_orphans).is_empty());
        cc_error_free(err);
        assert_eq!(nodes.nodes_with_group("g"), vec![0]);

        let mut presence: *mut CcPresenceList = ptr::null_mut();
        assert_eq!(
            cc_verify_group_everywhere(c, c"g".as_ptr(), &mut presence, &mut err),
            CC_OK
        );
        let states: Vec<c_int> = (0..(*presence).len)
            .map(|i| (*(*presence).items.add(i)).state)
            .collect();
        assert_eq!(states, [CC_PRESENT, CC_MISSING, CC_MISSING]);
        cc_presence_list_free(presence);

        let mut failed: *mut CcStringList = ptr::null_mut();
        assert_eq!(
            cc_delete_group(c, c"g".as_ptr(), &mut failed, &mut err),
            CC_OPERATION_FAILED
        );
        assert_eq!(list_items(&*failed), [nodes.urls()[0].clone()]);
        assert_eq!(list_items(&(*err).failed_hosts), [nodes.urls()[0].clone()]);
        cc_string_list_free(failed);
        cc_error_free(err);

        let mut resp: *mut CcResponse = ptr::null_mut();
        let body = b"{}";
        assert_eq!(
            cc_request(
                c,
                c"PUT".as_ptr(),
                c"/v1/resource/k/n".as_ptr(),
                body.as_ptr(),
                body.len(),
                &mut resp,
                &mut err
            ),
            CC_OK
        );
        assert_eq!((*resp).status, 201);
        cc_response_free(resp);
        cc_client_free(c);
    }
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

#[test]
fn every_resolver_name_is_accepted_from_toml() {
    for name in ["round_robin", "random", "fallback", "least_loaded"] {
        let toml = std::ffi::CString::new(format!(
            "hosts = [\"http://127.0.0.1:9\"]\nhost_resolver = \"{name}\"\n\
             [hedging]\nenabled = true\ndelay = \"p95\"\nbudget_percent = 5\n"
        ))
        .expect("no NUL");
        let mut err = ptr::null_mut();
        // SAFETY: a valid string and out pointer; the client freed once.
        unsafe {
            let c = cc_client_new_from_toml(toml.as_ptr(), &mut err);
            assert_eq!(take_error(err), None, "{name}");
            assert!(!c.is_null());
            cc_client_free(c);
        }
    }
    for bad in [
        c"hosts = [\"http://127.0.0.1:9\"]\nhost_resolver = \"fastest\"\n",
        c"hosts = [\"http://127.0.0.1:9\"]\n[hedging]\nenabled = true\ndelay = \"soon\"\n",
    ] {
        let mut err = ptr::null_mut();
        // SAFETY: a valid string and out pointer.
        let c = unsafe { cc_client_new_from_toml(bad.as_ptr(), &mut err) };
        assert!(c.is_null());
        assert_eq!(
            take_error(err).map(|e| e.0),
            Some(CC_INVALID_INPUT),
            "{bad:?}"
        );
    }
}

#[cfg(feature = "testkit")]
#[test]
fn metrics_json_has_answer_times_and_hedges() {
    use crate::testkit::{Fault, FaultRule, TestCluster};
    use std::time::Duration;

    let nodes = TestCluster::start(2).expect("nodes");
    // Node 0 (where a fallback client starts) holds its answer back.
    nodes.node(0).inject(
        FaultRule::new(Fault::Delay(Duration::from_secs(1)))
            .method("GET")
            .path_prefix("/_admin/server/id")
            .always(),
    );
    let toml = format!(
        "hosts = [{:?}, {:?}]\nhost_resolver = \"fallback\"\n\
         [hedging]\nenabled = true\ndelay = \"30ms\"\nbudget_percent = 100\n",
        nodes.node(0).url(),
        nodes.node(1).url()
    );
    let toml = std::ffi::CString::new(toml).expect("no NUL");
    let mut err = ptr::null_mut();
    // SAFETY: valid strings and out pointers; results freed once.
    unsafe {
        let c = cc_client_new_from_toml(toml.as_ptr(), &mut err);
        assert_eq!(take_error(err), None);
        assert!(!c.is_null());
        let mut resp: *mut CcResponse = ptr::null_mut();
        let code = cc_request(
            c,
            c"GET".as_ptr(),
            c"/_admin/server/id".as_ptr(),
            ptr::null(),
            0,
            &mut resp,
            &mut err,
        );
        assert_eq!(code, CC_OK, "{:?}", take_error(err));
        let host = CStr::from_ptr((*resp).host).to_string_lossy().into_owned();
        assert_eq!(host, nodes.node(1).url(), "the hedge answered first");
        cc_response_free(resp);

        let mut json: *mut c_char = ptr::null_mut();
        assert_eq!(cc_metrics_json(c, &mut json, &mut err), CC_OK);
        let text = CStr::from_ptr(json).to_str().expect("UTF-8").to_string();
        cc_string_free(json);
        let v: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            v["hedges"],
            serde_json::json!({"sent": 1, "won": 1}),
            "{text}"
        );
        let fast = &v["latency"][nodes.node(1).url().as_str()];
        assert_eq!(fast["count"], 1, "{text}");
        for p in ["p50_ms", "p90_ms", "p99_ms"] {
            let ms = fast[p].as_f64().unwrap_or(-1.0);
            // The upper bound of a bucket: 0.25 ms doubling.
            assert!((0.25..1000.0).contains(&ms), "{p}: {text}");
        }
        // The pool metrics are as before, one object per node.
        for n in nodes.nodes() {
            let m = &v[n.url().as_str()];
            assert_eq!(
                m.as_object().map(|o| o.len()),
                Some(crate::POOL_METRICS.len())
            );
        }
        assert_eq!(v.as_object().map(|o| o.len()), Some(2 + 2), "{text}");
        cc_client_free(c);
    }
}

/// The nodes of a client, in order.
///
/// # Safety
///
/// `c` is a live handle.
unsafe fn node_list(c: *const CcClient) -> Vec<String> {
    let mut list: *mut CcStringList = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: a live handle per the caller's contract; the list freed once.
    unsafe {
        assert_eq!(cc_nodes(c, &mut list, &mut err), CC_OK);
        assert!(err.is_null());
        let items = list_items(&*list);
        cc_string_list_free(list);
        items
    }
}

#[test]
fn node_set_arguments_are_checked() {
    let c = new_client(HOSTS).expect("valid hosts");
    let mut err = ptr::null_mut();
    let bad_utf8: &[u8] = b"http://127.0.0.1:1\xff\0";
    // SAFETY: NULL and non-UTF-8 arguments are the cases under test; the
    // rest are valid; the handle freed once.
    unsafe {
        let host = c"http://127.0.0.1:11".as_ptr();
        assert_eq!(
            cc_client_add_node(ptr::null(), host, &mut err),
            CC_NULL_POINTER
        );
        assert_eq!(take_error(err).map(|e| e.0), Some(CC_NULL_POINTER));
        assert_eq!(
            cc_client_add_node(c, ptr::null(), &mut err),
            CC_NULL_POINTER
        );
        let (_, message) = take_error(err).expect("error set");
        assert!(message.contains("host"), "{message}");
        assert_eq!(
            cc_client_add_node(c, bad_utf8.as_ptr().cast(), &mut err),
            CC_INVALID_UTF8
        );
        assert_eq!(take_error(err).map(|e| e.0), Some(CC_INVALID_UTF8));

        let mut removed: c_int = -1;
        assert_eq!(
            cc_client_remove_node(ptr::null(), host, &mut removed, &mut err),
            CC_NULL_POINTER
        );
        assert_eq!(removed, 0, "the out value is reset");
        assert!(take_error(err).is_some());
        assert_eq!(
            cc_client_remove_node(c, ptr::null(), &mut removed, &mut err),
            CC_NULL_POINTER
        );
        assert!(take_error(err).is_some());
        assert_eq!(
            cc_client_remove_node(c, host, ptr::null_mut(), &mut err),
            CC_NULL_POINTER
        );
        let (_, message) = take_error(err).expect("error set");
        assert!(message.contains("removed"), "{message}");
        removed = -1;
        assert_eq!(
            cc_client_remove_node(c, bad_utf8.as_ptr().cast(), &mut removed, &mut err),
            CC_INVALID_UTF8
        );
        assert_eq!(removed, 0);
        assert!(take_error(err).is_some());

        assert_eq!(
            cc_client_set_nodes(ptr::null(), host, &mut err),
            CC_NULL_POINTER
        );
        assert!(take_error(err).is_some());
        assert_eq!(
            cc_client_set_nodes(c, ptr::null(), &mut err),
            CC_NULL_POINTER
        );
        assert!(take_error(err).is_some());
        assert_eq!(
            cc_client_set_nodes(c, bad_utf8.as_ptr().cast(), &mut err),
            CC_INVALID_UTF8
        );
        assert!(take_error(err).is_some());
        // `err` may be NULL.
        assert_eq!(
            cc_client_add_node(c, ptr::null(), ptr::null_mut()),
            CC_NULL_POINTER
        );

        // Nothing changed.
        assert_eq!(node_list(c), ["http://127.0.0.1:9", "http://127.0.0.1:10"]);
        cc_client_free(c);
    }
}

#[test]
fn add_remove_and_set_nodes() {
    let c = new_client(HOSTS).expect("valid hosts");
    let mut err = ptr::null_mut();
    // SAFETY: a live handle and valid strings and out pointers; the handle
    // freed once.
    unsafe {
        // Add, then the same host again, then a bad host.
        assert_eq!(
            cc_client_add_node(c, c"http://127.0.0.1:11".as_ptr(), &mut err),
            CC_OK
        );
        assert!(err.is_null());
        assert_eq!(
            node_list(c),
            [
                "http://127.0.0.1:9",
                "http://127.0.0.1:10",
                "http://127.0.0.1:11"
            ]
        );
        assert_eq!(
            cc_client_add_node(c, c"http://127.0.0.1:11".as_ptr(), &mut err),
            CC_INVALID_INPUT
        );
        let (code, message) = take_error(err).expect("error set");
        assert_eq!(code, CC_INVALID_INPUT);
        assert!(message.contains("already a node"), "{message}");
        for bad in [c"ftp://nope", c"", c"127.0.0.1:12", c"http://a b"] {
            assert_eq!(
                cc_client_add_node(c, bad.as_ptr(), &mut err),
                CC_INVALID_INPUT,
                "{bad:?}"
            );
            assert_eq!(take_error(err).map(|e| e.0), Some(CC_INVALID_INPUT));
        }
        assert_eq!(node_list(c).len(), 3, "nothing added by a refused call");

        // Remove: a member, then a host that is not one, then a bad host.
        let mut removed: c_int = -1;
        assert_eq!(
            cc_client_remove_node(c, c"http://127.0.0.1:9".as_ptr(), &mut removed, &mut err),
            CC_OK
        );
        assert!(err.is_null());
        assert_eq!(removed, 1);
        assert_eq!(node_list(c), ["http://127.0.0.1:10", "http://127.0.0.1:11"]);
        removed = -1;
        assert_eq!(
            cc_client_remove_node(c, c"http://127.0.0.1:9".as_ptr(), &mut removed, &mut err),
            CC_OK
        );
        assert!(err.is_null());
        assert_eq!(removed, 0, "not a node any more");
        removed = -1;
        assert_eq!(
            cc_client_remove_node(c, c"ftp://nope".as_ptr(), &mut removed, &mut err),
            CC_INVALID_INPUT
        );
        assert_eq!(removed, 0);
        assert_eq!(take_error(err).map(|e| e.0), Some(CC_INVALID_INPUT));

        // The last node is refused.
        assert_eq!(
            cc_client_remove_node(c, c"http://127.0.0.1:10".as_ptr(), &mut removed, &mut err),
            CC_OK
        );
        assert_eq!(removed, 1);
        removed = -1;
        assert_eq!(
            cc_client_remove_node(c, c"http://127.0.0.1:11".as_ptr(), &mut removed, &mut err),
            CC_INVALID_INPUT
        );
        assert_eq!(removed, 0);
        let (code, message) = take_error(err).expect("error set");
        assert_eq!(code, CC_INVALID_INPUT);
        assert!(message.contains("last node"), "{message}");
        assert_eq!(node_list(c), ["http://127.0.0.1:11"]);

        // Set: the list replaces the node set, in its order.
        assert_eq!(
            cc_client_set_nodes(
                c,
                c"http://127.0.0.1:12, http://127.0.0.1:11,".as_ptr(),
                &mut err
            ),
            CC_OK
        );
        assert!(err.is_null());
        assert_eq!(node_list(c), ["http://127.0.0.1:12", "http://127.0.0.1:11"]);
        // Empty, bad or repeated: refused, nothing changes.
        for bad in [
            c"",
            c" , ",
            c"http://127.0.0.1:13,ftp://nope",
            c"http://127.0.0.1:13,http://127.0.0.1:13",
        ] {
            assert_eq!(
                cc_client_set_nodes(c, bad.as_ptr(), &mut err),
                CC_INVALID_INPUT,
                "{bad:?}"
            );
            assert_eq!(take_error(err).map(|e| e.0), Some(CC_INVALID_INPUT));
            assert_eq!(node_list(c), ["http://127.0.0.1:12", "http://127.0.0.1:11"]);
        }

        // After shutdown every one is CC_SHUT_DOWN.
        assert_eq!(cc_client_shutdown(c, &mut err), CC_OK);
        assert_eq!(
            cc_client_add_node(c, c"http://127.0.0.1:14".as_ptr(), &mut err),
            CC_SHUT_DOWN
        );
        assert_eq!(take_error(err).map(|e| e.0), Some(CC_SHUT_DOWN));
        removed = -1;
        assert_eq!(
            cc_client_remove_node(c, c"http://127.0.0.1:12".as_ptr(), &mut removed, &mut err),
            CC_SHUT_DOWN
        );
        assert_eq!(removed, 0);
        assert_eq!(take_error(err).map(|e| e.0), Some(CC_SHUT_DOWN));
        assert_eq!(
            cc_client_set_nodes(c, c"http://127.0.0.1:14".as_ptr(), &mut err),
            CC_SHUT_DOWN
        );
        assert_eq!(take_error(err).map(|e| e.0), Some(CC_SHUT_DOWN));
        cc_client_free(c);
    }
}

#[cfg(feature = "testkit")]
#[test]
fn a_create_after_add_node_reaches_the_new_node() {
    use crate::testkit::TestCluster;

    let nodes = TestCluster::start(3).expect("nodes");
    let urls = nodes.urls();
    let first = std::ffi::CString::new(urls[0].clone()).expect("no NUL");
    let c = new_client(&first).expect("valid host");
    let mut err = ptr::null_mut();
    // SAFETY: a live handle and valid strings and out pointers; the handle
    // freed once.
    unsafe {
        let second = std::ffi::CString::new(urls[1].clone()).expect("no NUL");
        assert_eq!(cc_client_add_node(c, second.as_ptr(), &mut err), CC_OK);
        assert!(err.is_null());
        assert_eq!(cc_create_group(c, c"g1".as_ptr(), &mut err), CC_OK);
        assert!(err.is_null());
        assert_eq!(nodes.nodes_with_group("g1"), vec![0, 1]);

        // Removed: the next create leaves it alone.
        let mut removed: c_int = -1;
        assert_eq!(
            cc_client_remove_node(c, first.as_ptr(), &mut removed, &mut err),
            CC_OK
        );
        assert_eq!(removed, 1);
        assert_eq!(cc_create_group(c, c"g2".as_ptr(), &mut err), CC_OK);
        assert!(err.is_null());
        assert_eq!(nodes.nodes_with_group("g2"), vec![1]);

        // Set: exactly these nodes take the next create.
        let csv = std::ffi::CString::new(format!("{},{}", urls[2], urls[0])).expect("no NUL");
        assert_eq!(cc_client_set_nodes(c, csv.as_ptr(), &mut err), CC_OK);
        assert!(err.is_null());
        assert_eq!(node_list(c), [urls[2].clone(), urls[0].clone()]);
        assert_eq!(cc_create_group(c, c"g3".as_ptr(), &mut err), CC_OK);
        assert!(err.is_null());
        assert_eq!(nodes.nodes_with_group("g3"), vec![0, 2]);
        cc_client_free(c);
    }
}

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
