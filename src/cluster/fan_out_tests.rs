use super::*;

#[test]
fn a_panic_in_a_fan_out_job_is_that_nodes_failure_not_an_abort() {
    // Nothing listens on these ports: the jobs below never touch the network.
    let client = crate::ClusterClient::builder()
        .hosts([
            "http://127.0.0.1:9",
            "http://127.0.0.1:10",
            "http://127.0.0.1:11",
        ])
        .build()
        .expect("client builds");
    let cluster = client.cluster_handle();
    let attempt: AttemptFn = Arc::new(|node, _, _| {
        if node.address.port() == 10 {
            panic!("a bug in an attempt");
        }
        Ok(Answer {
            status: 200,
            retry_after: None,
            body: Vec::new(),
            oversized: false,
        })
    });
    let opts = cluster.default_scope().spec();
    // Several nodes (jobs on the rayon pool) and one node (on the caller's thread).
    let all = cluster.fan_out_with(
        &cluster.nodes(),
        &[0, 1, 2],
        &"test",
        true,
        attempt.clone(),
        &opts,
    );
    let one = cluster.fan_out_with(&cluster.nodes(), &[1], &"test", true, attempt, &opts);
    for outcomes in [&all[1..2], &one[..]] {
        assert!(
            matches!(&outcomes[0].outcome, Err(NodeError::Internal(why)) if why.contains("a bug")),
            "{:?}",
            outcomes[0].outcome
        );
        assert!(outcomes[0]
            .outcome
            .as_ref()
            .is_err_and(NodeError::outcome_unknown));
    }
    assert_eq!(all[0].outcome.as_ref().map(|r| r.status).ok(), Some(200));
    assert_eq!(all[2].outcome.as_ref().map(|r| r.status).ok(), Some(200));
    // The pool survived: it still runs jobs.
    let ok: AttemptFn = Arc::new(|_, _, _| Err(NodeError::PoolTimeout));
    let again = cluster.fan_out_with(&cluster.nodes(), &[0, 1], &"test", false, ok, &opts);
    assert!(again
        .iter()
        .all(|o| matches!(o.outcome, Err(NodeError::PoolTimeout))));
}

#[test]
fn shutdown_keeps_the_answers_that_came() {
    let client = crate::ClusterClient::builder()
        .hosts(["http://127.0.0.1:9", "http://127.0.0.1:10"])
        .build()
        .expect("client builds");
    let cluster = client.cluster_handle().clone();
    let stopper = cluster.clone();
    let attempt: AttemptFn = Arc::new(move |node, deadline, _| {
        if node.address.port() == 9 {
            Ok(Answer {
                status: 201,
                retry_after: None,
                body: Vec::new(),
                oversized: false,
            })
        } else {
            stopper.shutdown();
            let _ = deadline;
            std::thread::sleep(Duration::from_secs(2));
            Err(NodeError::NoAnswer("hung".into()))
        }
    });
    let opts = cluster.default_scope().spec();
    let start = Instant::now();
    let out = cluster.fan_out_with(&cluster.nodes(), &[0, 1], &"test", true, attempt, &opts);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(out[0].outcome.as_ref().map(|r| r.status).ok(), Some(201));
    assert!(matches!(out[1].outcome, Err(NodeError::Shutdown)));
}
