//! The config file's tests: every key, and mistakes named by key and line.
use super::*;
use std::time::Duration;

fn error(text: &str) -> String {
    ClientConfig::from_toml(text).unwrap_err().to_string()
}

#[test]
fn every_key_is_read() {
    let c = ClientConfig::from_toml(
        r#"
hosts = "http://127.0.0.1:1, http://127.0.0.1:2"
host_resolver = "fallback"
database = "db"
fan_out_threads = 3
max_response_bytes = 4096
use_env_proxy = false
[group_api.create]
method = "PUT"
path = "/g/{id}"
done = [201]
unchanged = [204]
[group_api.verify]
method = "GET"
path = "/g/{id}"
done = [200]
unchanged = [404]
[group_api.delete]
method = "DELETE"
path = "/g/{id}"
done = [204]
unchanged = [404]
[retry]
attempts = 5
initial_delay = "250ms"
max_delay = "2s"
jitter = false
[retry_budget]
percent = 0.5
min_per_second = 3
[timeouts]
connect = "1s"
request = "2s"
operation = "3s"
[pool]
max_connections_per_node = 2
min_connections_per_node = 0
purge_unused_after = "never"
[health]
unhealthy_after = 4
probe_interval = "100ms"
probe_path = "/health"
"#,
    )
    .unwrap();
    let b = c.apply(ClientBuilder::default()).unwrap();
    assert_eq!(b.hosts.as_ref().map(Vec::len).ok(), Some(2));
    assert_eq!(b.resolver, HostResolver::Fallback);
    assert_eq!(b.group_api.create.method, "PUT");
    assert_eq!(b.policy.max_attempts(), 5);
    assert_eq!(b.policy.initial_delay(), Duration::from_millis(250));
    assert!(!b.policy.jitter());
    assert_eq!(b.operation_timeout, Duration::from_secs(3));
    assert_eq!(b.max_connections, 2);
    assert_eq!(b.purge_after, None);
    assert_eq!(b.unhealthy_after, 4);
    assert_eq!(b.probe_path, "/health");
    assert_eq!(b.database.as_deref(), Some("db"));
    b.build().unwrap();
}

#[test]
fn mistakes_name_the_key_and_the_line() {
    let e = error("hosts = [\"http://127.0.0.1:1\"]\n\n[timeouts]\nrequest = \"2 fortnights\"\n");
    assert!(
        e.contains("line 4") && e.contains("fortnights") && e.contains("timeouts.request"),
        "{e}"
    );
    let e = error("[pool]\nmax_conections_per_node = 2\n");
    assert!(
        e.contains("line 2") && e.contains("max_conections_per_node"),
        "{e}"
    );
    let e = error("group_api = \"webdev\"\n");
    assert!(e.contains("line 1") && e.contains("webdev"), "{e}");
    let e = error("[retry]\nattempts = \"three\"\n");
    assert!(e.contains("line 2"), "{e}");
    let e = error("hosts = [\"http://127.0.0.1:1\"]\n[group_api.create]\nmethod = \"PUT\"\n");
    assert!(e.contains("path") || e.contains("verify"), "{e}");
}

#[test]
fn secrets_come_from_the_environment_only() {
    let c = ClientConfig::from_toml(
            "hosts = [\"http://127.0.0.1:1\"]\n[auth]\nbasic_user = \"root\"\npassword_env = \"CLUSTER_CLIENT_TEST_UNSET_VARIABLE\"\n",
        )
        .unwrap();
    let e = c.apply(ClientBuilder::default()).unwrap_err().to_string();
    assert!(
        e.contains("line 4") && e.contains("CLUSTER_CLIENT_TEST_UNSET_VARIABLE"),
        "{e}"
    );
    let e = error("[auth]\npassword = \"hunter2\"\n");
    assert!(e.contains("password"), "{e}");
    let c = ClientConfig::from_toml("[auth]\nbasic_user = \"root\"\n").unwrap();
    let e = c.apply(ClientBuilder::default()).unwrap_err().to_string();
    assert!(e.contains("password_env"), "{e}");
}

#[test]
fn builder_calls_after_the_file_override_it() {
    let c = ClientConfig::from_toml(
        "hosts = [\"http://127.0.0.1:1\"]\n[timeouts]\noperation = \"3s\"\n",
    )
    .unwrap();
    let b = ClientBuilder::default()
        .config(c)
        .operation_timeout(Duration::from_secs(9));
    assert_eq!(b.operation_timeout, Duration::from_secs(9));
}

#[test]
fn a_missing_file_fails_at_build() {
    let e = ClientBuilder::default()
        .config_file("/nonexistent/cluster-client.toml")
        .build()
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/cluster-client.toml"), "{e}");
}

#[test]
fn without_journal_drops_the_files_journal() {
    let c = ClientConfig::from_toml("hosts = [\"http://127.0.0.1:1\"]\n[journal]\npath = \"j\"\n")
        .unwrap();
    let b = ClientBuilder::default().config(c);
    assert!(b.journal.is_some());
    assert!(b.without_journal().journal.is_none());
}
