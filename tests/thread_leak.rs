//! Its own test binary: creating and dropping clients must not leak threads
//! (the background thread ends with the last handle; rayon pools exit).

use std::time::{Duration, Instant};

use cluster_client::ClusterClient;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn a_thousand_clients_leave_no_thread_behind() {
    if threads() == 0 {
        eprintln!("skipped: /proc/self/task is not readable here");
        return;
    }
    let before = threads();
    for i in 0..1000 {
        let client = ClusterClient::builder()
            .hosts(["http://127.0.0.1:9", "http://127.0.0.1:10"])
            .retry_policy(cluster_client::RetryPolicy::none())
            .build()
            .unwrap();
        if i % 100 == 0 {
            // Some clients start their fan-out pool too.
            let _ = client.delete_group("g");
        }
        let clone = client.clone();
        drop(client);
        drop(clone);
    }
    let end = Instant::now() + Duration::from_secs(20);
    while threads() > before && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        threads() <= before,
        "threads before {before}, after {}",
        threads()
    );
}
