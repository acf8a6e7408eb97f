//! The node set: add, remove, set.

use super::*;

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
