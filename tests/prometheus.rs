//! `ClusterManagement::prometheus()`: Prometheus text exposition, parsed line by line.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use cluster_client::testkit::TestCluster;

#[test]
fn metrics_render_as_prometheus_text() {
    let nodes = TestCluster::start(2).unwrap();
    let client = common::fast_builder(&nodes)
        .unhealthy_after(1)
        .build()
        .unwrap();
    client.create_group("g").unwrap();
    nodes.node(1).go_down();
    let _ = client.delete_group("g");
    let text = client.cluster_management().prometheus();

    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helped: BTreeSet<String> = BTreeSet::new();
    let mut samples: BTreeMap<(String, String), f64> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP has a name and a text");
            assert!(!help.is_empty());
            helped.insert(name.to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE has a name and a kind");
            assert!(
                kind == "counter" || kind == "gauge" || kind == "histogram",
                "{line}"
            );
            assert!(helped.contains(name), "HELP comes before TYPE: {line}");
            types.insert(name.to_string(), kind.to_string());
        } else {
            let (series, value) = line.rsplit_once(' ').expect("sample has a value");
            let (name, labels) = series.split_once('{').expect("sample has labels");
            let labels = labels.strip_suffix('}').expect("labels end the series");
            let node = labels
                .strip_prefix("node=\"")
                .and_then(|l| l.split_once('"'))
                .map(|(node, rest)| (node.to_string(), rest))
                .expect("a node label first");
            // A histogram's buckets carry `le` too.
            let (node, name) = match node.1 {
                "" => (node.0, name.to_string()),
                le => (format!("{}{le}", node.0), name.to_string()),
            };
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .filter(|f| types.get(*f).is_some_and(|k| k == "histogram"))
                .unwrap_or(&name);
            assert!(
                types.contains_key(family),
                "TYPE comes before samples: {line}"
            );
            let name = name.as_str();
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{name}"
            );
            let v: f64 = value.parse().expect("numeric value");
            samples.insert((name.to_string(), node.to_string()), v);
        }
    }
    for (name, kind) in &types {
        if kind == "histogram" {
            continue;
        }
        assert_eq!(
            name.ends_with("_total"),
            kind == "counter",
            "{name} is a {kind}"
        );
    }
    assert_eq!(types["cluster_client_curr_connections"], "gauge");
    assert_eq!(types["cluster_client_node_healthy"], "gauge");
    // The 8 pool metrics, health, the answer-time histogram, 2 hedge counters.
    assert_eq!(types.len(), 12);
    assert_eq!(
        types["cluster_client_request_duration_seconds"],
        "histogram"
    );
    let (n0, n1) = (nodes.node(0).url(), nodes.node(1).url());
    let n0_url = n0.clone();
    let m = client.cluster_management().connection_pool_metrics();
    let m0 = m[&n0.parse().unwrap()];
    assert_eq!(
        samples[&(
            "cluster_client_operations_executed_total".into(),
            n0.clone()
        )],
        m0.operations_executed as f64
    );
    assert_eq!(
        samples[&(
            "cluster_client_connections_created_total".into(),
            n0.clone()
        )],
        m0.connections_created as f64
    );
    assert_eq!(samples[&("cluster_client_node_healthy".into(), n0)], 1.0);
    assert_eq!(
        samples[&("cluster_client_node_healthy".into(), n1.clone())],
        0.0
    );
    assert!(
        samples[&(
            "cluster_client_connections_created_with_error_total".into(),
            n1
        )] >= 1.0
    );
    // The histogram: cumulative buckets ending at +Inf = count, node 0's
    // answers all measured.
    let count = samples[&(
        "cluster_client_request_duration_seconds_count".into(),
        n0_url.clone(),
    )];
    assert!(count >= 2.0, "create and verify answered: {count}");
    let inf = samples[&(
        "cluster_client_request_duration_seconds_bucket".into(),
        format!("{n0_url},le=\"+Inf\""),
    )];
    assert_eq!(inf, count);
    let lat = client.cluster_management().latency();
    assert_eq!(lat[&n0_url.parse().unwrap()].count as f64, count);
}
