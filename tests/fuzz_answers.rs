//! Fuzzing what the client parses from a node: raw bytes served by a test
//! node (status lines, headers such as `Retry-After` and `Content-Length`,
//! chunked framing, bodies) and arbitrary JSON for the administration calls,
//! through every kind of call. Nothing a node sends may panic the caller or
//! hold it past its deadlines. (cargo-fuzz needs nightly; proptest runs on
//! stable in CI.)

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cluster_client::testkit::{Fault, FaultRule, TestCluster};
use cluster_client::{ClusterClient, HostAddress, MaintenanceMode, RetryPolicy};
use proptest::prelude::*;

struct Bench {
    nodes: TestCluster,
    client: ClusterClient,
    host: HostAddress,
}

fn bench() -> &'static Bench {
    static BENCH: OnceLock<Bench> = OnceLock::new();
    BENCH.get_or_init(|| {
        let nodes = TestCluster::start(1).expect("test node starts");
        let client = ClusterClient::builder()
            .hosts(nodes.urls())
            .retry_policy(RetryPolicy::exponential(
                2,
                Duration::from_millis(1),
                Duration::from_millis(5),
            ))
            .request_timeout(Duration::from_millis(300))
            .operation_timeout(Duration::from_millis(800))
            .max_response_bytes(2048)
            .build()
            .expect("client builds");
        let host = nodes.node(0).url().parse().expect("host");
        Bench {
            nodes,
            client,
            host,
        }
    })
}

/// One call of the client, its result dropped.
type Call<'a> = Box<dyn Fn() + 'a>;

/// Every kind of call, each under `catch_unwind`; the whole set within a bound.
fn every_call(fault: Fault) -> Result<(), String> {
    // The properties run on parallel threads; the node is shared.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let b = bench();
    let node = b.nodes.node(0);
    node.clear_faults();
    node.inject(FaultRule::new(fault).always());
    let c = &b.client;
    let admin = c.cluster();
    let calls: Vec<(&str, Call<'_>)> = vec![
        ("create_group", Box::new(|| drop(c.create_group("g")))),
        ("delete_group", Box::new(|| drop(c.delete_group("g")))),
        (
            "verify_group",
            Box::new(|| drop(c.verify_group(&b.host, "g"))),
        ),
        (
            "verify_everywhere",
            Box::new(|| drop(c.verify_group_everywhere("g"))),
        ),
        ("request", Box::new(|| drop(c.request("GET", "/x", None)))),
        ("server_id", Box::new(|| drop(admin.server_id()))),
        ("server_role", Box::new(|| drop(admin.server_role()))),
        ("health", Box::new(|| drop(admin.health()))),
        ("server_count", Box::new(|| drop(admin.server_count()))),
        ("server_engine", Box::new(|| drop(admin.server_engine("s")))),
        (
            "server_version",
            Box::new(|| drop(admin.server_version("s"))),
        ),
        (
            "server_statistics",
            Box::new(|| drop(admin.server_statistics("s"))),
        ),
        ("endpoints", Box::new(|| drop(admin.endpoints()))),
        (
            "maintenance",
            Box::new(|| drop(admin.toggle_maintenance_mode(MaintenanceMode::On))),
        ),
        (
            "server_maintenance",
            Box::new(|| drop(admin.server_maintenance_mode("s"))),
        ),
    ];
    for (name, call) in calls {
        let start = Instant::now();
        if catch_unwind(AssertUnwindSafe(call)).is_err() {
            return Err(format!("{name} panicked"));
        }
        // A create may roll back under its own deadline: two operations.
        if start.elapsed() > Duration::from_secs(4) {
            return Err(format!("{name} took {:?}", start.elapsed()));
        }
    }
    node.clear_faults();
    Ok(())
}

fn header_line() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,25}".prop_map(|n| format!("Content-Length: {n}")),
        Just("Content-Length: -1".to_string()),
        Just("Content-Length: 5, 7".to_string()),
        Just("Transfer-Encoding: chunked".to_string()),
        ".{0,60}".prop_map(|v| format!("Retry-After: {v}")),
        "(Sun|Mon), [0-9]{1,3} (Nov|Xyz) [0-9]{1,15} [0-9:]{1,10} GMT"
            .prop_map(|v| format!("Retry-After: {v}")),
        Just("Content-Type: application/json".to_string()),
        Just("Connection: close".to_string()),
        "[ -~]{0,80}",
    ]
}

fn http_answer() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            "[0-9]{1,5}",
            "[0-9]{3}",
            Just("201".to_string()),
            Just("503".to_string())
        ],
        "[ -~]{0,20}",
        proptest::collection::vec(header_line(), 0..5),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(status, reason, headers, body)| {
            let mut out = format!("HTTP/1.1 {status} {reason}\r\n").into_bytes();
            for h in headers {
                out.extend_from_slice(h.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&body);
            out
        })
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("error".to_string()),
                    Just("errorNum".to_string()),
                    Just("errorMessage".to_string()),
                    Just("Health".to_string()),
                    Just("ClusterId".to_string()),
                    Just("numberOfCoordinators".to_string()),
                    Just("numberOfDBServers".to_string()),
                    Just("role".to_string()),
                    Just("id".to_string()),
                    Just("endpoints".to_string()),
                    Just("mode".to_string()),
                    ".{0,8}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn raw_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        prop_assert_eq!(every_call(Fault::Raw(bytes)), Ok(()));
    }

    #[test]
    fn malformed_http_answers_never_panic(bytes in http_answer(), applied in any::<bool>()) {
        let fault = if applied { Fault::ApplyThenRaw(bytes) } else { Fault::Raw(bytes) };
        prop_assert_eq!(every_call(fault), Ok(()));
    }

    #[test]
    fn any_json_in_an_answer_never_panics(value in json_value(), status in prop_oneof![Just(200u16), Just(201), Just(404), Just(503), 100u16..600]) {
        let fault = Fault::Respond {
            status,
            content_type: "application/json".to_string(),
            body: serde_json::to_vec(&value).unwrap_or_default(),
        };
        prop_assert_eq!(every_call(fault), Ok(()));
    }
}
