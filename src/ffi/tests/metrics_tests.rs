//! Resolvers by name, answer times and hedges in the metrics JSON.

use super::*;

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
