//! Its own test binary (it installs a global logger): credentials never
//! appear in this crate's log lines at any level, nor in `Debug`/`Display`
//! of the client, its errors or addresses.

mod common;

use std::sync::Mutex;
use std::time::Duration;

use cluster_client::testkit::{FaultRule, TestCluster};
use cluster_client::{ClusterClient, HostAddress};

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.target().starts_with("cluster_client") {
            let line = format!("{} {} {}", record.level(), record.target(), record.args());
            LINES.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    }
    fn flush(&self) {}
}

const PASSWORD: &str = "Tr0ub4dor&3-secret";
const TOKEN: &str = "tok-9f8e7d6c5b4a";

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn forbidden() -> Vec<String> {
    vec![
        PASSWORD.to_string(),
        // base64("admin:Tr0ub4dor&3-secret")
        "YWRtaW46VHIwdWI0ZG9yJjMtc2VjcmV0".to_string(),
        hex(PASSWORD),
        TOKEN.to_string(),
        hex(TOKEN),
        format!("Bearer {TOKEN}"),
    ]
}

fn assert_clean(what: &str, text: &str) {
    for secret in forbidden() {
        assert!(!text.contains(&secret), "{what} leaks {secret:?}: {text}");
    }
}

#[test]
fn credentials_stay_out_of_logs_debug_and_errors() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

    let nodes = TestCluster::start(3).unwrap();
    let basic = common::fast_builder(&nodes)
        .basic_auth("admin", PASSWORD)
        .unhealthy_after(1)
        .build()
        .unwrap();
    let bearer = common::fast_builder(&nodes)
        .bearer_token(TOKEN)
        .build()
        .unwrap();

    // Successes, failures, retries, rollbacks, health changes: every log path.
    basic.create_group("g").unwrap();
    nodes.node(1).fail_next("POST", 2, 503);
    nodes.node(2).fail_next("POST", 1, 400);
    let err = basic.create_group("h").unwrap_err();
    nodes.node(0).inject(FaultRule::status(401).always());
    let admin_err = basic.cluster().server_id();
    nodes.node(0).clear_faults();
    nodes.node(2).go_down();
    let _ = basic.delete_group("g");
    let _ = bearer.create_group("k");
    let _ = bearer.request("GET", "/_api/version", None);
    std::thread::sleep(Duration::from_millis(100));

    // What the nodes received carries the credentials...
    let auth: Vec<String> = nodes
        .node(0)
        .requests()
        .iter()
        .filter_map(|r| r.header("authorization").map(str::to_string))
        .collect();
    assert!(
        auth.iter()
            .any(|a| a == "Basic YWRtaW46VHIwdWI0ZG9yJjMtc2VjcmV0"),
        "{auth:?}"
    );
    assert!(
        auth.iter().any(|a| a == &format!("Bearer {TOKEN}")),
        "{auth:?}"
    );

    // ...and nothing this crate says does.
    let lines = LINES.lock().unwrap().clone();
    assert!(
        lines.len() > 10,
        "the test must exercise the log paths: {lines:?}"
    );
    for line in &lines {
        assert_clean("a log line", line);
    }
    assert_clean("client Debug", &format!("{basic:?} {bearer:?}"));
    assert_clean("error Display", &err.to_string());
    assert_clean("error Debug", &format!("{err:?}"));
    assert_clean("admin error", &format!("{admin_err:?}"));
    assert_clean(
        "management Debug",
        &format!("{:?}", basic.cluster_management()),
    );
    assert_clean("admin Debug", &format!("{:?}", basic.cluster()));

    // Credentials in a host string are refused without being echoed.
    let e = ClusterClient::new([format!("http://admin:{PASSWORD}@127.0.0.1:1")]).unwrap_err();
    assert_clean("host error", &format!("{e} {e:?}"));
    assert!(format!("{e}").contains("***"));
    assert!(HostAddress::parse(&format!("http://admin:{PASSWORD}@h:1")).is_err());
}
