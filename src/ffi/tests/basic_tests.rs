//! Clients, arguments, errors, lists and requests.

use super::*;

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
