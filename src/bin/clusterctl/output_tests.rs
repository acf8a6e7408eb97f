use super::*;

#[test]
fn tables_align() {
    let t = table(
        &["NODE", "X"],
        &[
            vec!["long-name".into(), "1".into()],
            vec!["a".into(), "22".into()],
        ],
    );
    assert_eq!(t, "NODE       X\nlong-name  1\na          22\n");
}

#[test]
fn reasons_fit_on_one_line() {
    assert_eq!(one_line("a\n\n b\r\n\tc"), "a b c");
    let long = "x".repeat(1000);
    let cut = one_line(&format!("<html>\n{long}</html>"));
    assert_eq!(cut.chars().count(), 200);
    assert!(cut.ends_with('…') && !cut.contains('\n'));
}

#[test]
fn answer_times_read_as_durations() {
    let node: HostAddress = "http://127.0.0.1:1".parse().expect("valid");
    let l = LatencySummary {
        count: 7,
        p50: Duration::from_micros(250),
        p90: Duration::from_millis(128),
        p99: Duration::from_micros(1_024_000),
    };
    let t = latency_table(&[(node.clone(), l), (node, LatencySummary::default())]);
    let lines: Vec<Vec<&str>> = t.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["NODE", "ANSWERS", "P50", "P90", "P99"]);
    assert_eq!(lines[1][1..], ["7", "0.25ms", "128ms", "1.024s"]);
    assert_eq!(lines[2][1..], ["0", "-", "-", "-"], "nothing measured");
    assert_eq!(
        latency_json(&l),
        json!({"count": 7, "p50_ms": 0.25, "p90_ms": 128.0, "p99_ms": 1024.0})
    );
    let h = HedgeCounts { sent: 3, won: 1 };
    assert_eq!(hedges_json(h), json!({"sent": 3, "won": 1}));
    assert!(hedges_line(h).starts_with("hedges: 3 sent, 1 won"));
}

#[test]
fn the_metrics_table_has_a_row_per_metric() {
    let node: HostAddress = "http://127.0.0.1:1".parse().expect("valid");
    let t = metrics_table(&[(node, ConnectionPoolMetrics::default())]);
    assert_eq!(t.lines().count(), 1 + POOL_METRICS.len());
    for info in &POOL_METRICS {
        assert!(t.contains(info.name) && t.contains(info.help), "{t}");
    }
}
