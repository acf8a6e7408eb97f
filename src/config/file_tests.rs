//! The config file's tests: every key, and mistakes named by key and line.
use super::*;
use crate::retry::{RetryBudget, RetryPolicy};
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

#[cfg(feature = "journal")]
#[test]
fn without_journal_drops_the_files_journal() {
    let c = ClientConfig::from_toml("hosts = [\"http://127.0.0.1:1\"]\n[journal]\npath = \"j\"\n")
        .unwrap();
    let b = ClientBuilder::default().config(c);
    assert!(b.journal.is_some());
    assert!(b.without_journal().journal.is_none());
}

/// The error of applying `text` (it parses).
fn applied_error(text: &str) -> String {
    let c = ClientConfig::from_toml(text).unwrap();
    c.apply(ClientBuilder::default()).unwrap_err().to_string()
}

/// `text` (after a `hosts` line) is refused naming `key`, the line of the
/// last line of `text`, and `why`.
fn refused(text: &str, key: &str, why: &str) {
    let e = applied_error(&format!("hosts = [\"http://127.0.0.1:1\"]\n{text}\n"));
    let line = text.lines().count() + 1;
    assert!(
        e.contains(&format!("line {line}: {key}: ")) && e.contains(why),
        "{text}: {e}"
    );
    assert!(!e.contains("max_delay") || key == "retry.max_delay", "{e}");
}

#[test]
fn values_refused_after_parsing_name_the_key_and_the_line() {
    refused(
        "[timeouts]\noperation = \"1000000000000h\"",
        "timeouts.operation",
        "at most one year",
    );
    refused(
        "[timeouts]\nconnect = \"0s\"",
        "timeouts.connect",
        "above zero",
    );
    refused(
        "[retry]\ninitial_delay = \"400d\"",
        "retry.initial_delay",
        "at most one year",
    );
    refused(
        "[retry]\nmax_delay = \"400d\"",
        "retry.max_delay",
        "at most one year",
    );
    refused("[retry]\nattempts = 0", "retry.attempts", "at least 1");
    refused(
        "[retry_budget]\npercent = nan",
        "retry_budget.percent",
        "from 0 to 1",
    );
    refused(
        "[retry_budget]\nmin_per_second = -1",
        "retry_budget.min_per_second",
        "0 or more",
    );
    refused(
        "[pool]\nmax_connections_per_node = 0",
        "pool.max_connections_per_node",
        "at least 1",
    );
    let both = "[pool]\nmax_connections_per_node = 2\nmin_connections_per_node = 3";
    refused(both, "pool.min_connections_per_node", "exceeds");
    refused(
        "[pool]\npurge_unused_after = \"0s\"",
        "pool.purge_unused_after",
        "above zero",
    );
    refused(
        "[health]\nunhealthy_after = 0",
        "health.unhealthy_after",
        "at least 1",
    );
    refused(
        "[health]\nprobe_interval = \"0ms\"",
        "health.probe_interval",
        "above zero",
    );
    refused(
        "[health]\nprobe_path = \"health\"",
        "health.probe_path",
        "start with '/'",
    );
    refused("database = \"a/b\"", "database", "'/'");
    refused("fan_out_threads = 0", "fan_out_threads", "at least 1");
    refused("max_response_bytes = 0", "max_response_bytes", "at least 1");
    #[cfg(feature = "journal")]
    refused("[journal]\npath = \"\"", "journal.path", "must name a file");
    // Without the journal, a file that asks for one is refused, not ignored.
    #[cfg(not(feature = "journal"))]
    refused(
        "[journal]\npath = \"sagas.journal\"",
        "journal.path",
        "has no journal (its feature \"journal\"",
    );
    let dir = std::env::temp_dir().join(format!("cc-file-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let not_pem = dir.join("not-a-ca.pem");
    std::fs::write(&not_pem, "just text\n").unwrap();
    let ca = format!("[tls]\nca_file = {:?}", not_pem.to_str().unwrap());
    let why = if cfg!(feature = "tls") {
        "no certificate"
    } else {
        "has no TLS (its feature \"tls\""
    };
    refused(&ca, "tls.ca_file", why);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn attempts_and_budget_are_refused_alike_by_file_and_builder() {
    let hosts = ["http://127.0.0.1:1"];
    let built = |b: ClientBuilder| b.hosts(hosts).settings().err().map(|e| e.to_string());
    let e = built(
        ClientBuilder::default().retry_policy(RetryPolicy::exponential(
            0,
            Duration::from_millis(1),
            Duration::from_millis(2),
        )),
    );
    assert!(e.is_some_and(|e| e.contains("max_attempts must be at least 1")));
    let e = built(
        ClientBuilder::default().retry_policy(RetryPolicy::exponential(
            3,
            Duration::from_secs(400 * 86_400),
            Duration::from_secs(1),
        )),
    );
    assert!(e.is_some_and(|e| e.contains("initial_delay must be at most one year")));
    let e = built(ClientBuilder::default().retry_budget(RetryBudget::new(f64::NAN, 10.0)));
    assert!(e.is_some_and(|e| e.contains("percent must be a number from 0 to 1")));
    let e = built(ClientBuilder::default().retry_budget(RetryBudget::new(0.2, f64::NAN)));
    assert!(e.is_some_and(|e| e.contains("min_per_second")));
    assert!(built(ClientBuilder::default().retry_budget(RetryBudget::unlimited())).is_none());
    assert!(applied_error("[retry]\nattempts = 0\n").contains("retry.attempts"));
    assert!(applied_error("[retry_budget]\npercent = nan\n").contains("retry_budget.percent"));
    let c =
        ClientConfig::from_toml("[retry_budget]\npercent = 1.0\nmin_per_second = inf\n").unwrap();
    assert!(c.apply(ClientBuilder::default()).is_ok());
}

#[test]
fn a_number_of_seconds_is_a_duration() {
    let timeout = |v: &str| {
        let c = ClientConfig::from_toml(&format!("[timeouts]\noperation = {v}\n"))?;
        c.apply(ClientBuilder::default())
            .map(|b| b.operation_timeout)
    };
    assert_eq!(timeout("30").unwrap(), Duration::from_secs(30));
    assert_eq!(timeout("\"30\"").unwrap(), Duration::from_secs(30));
    assert_eq!(timeout("0.5").unwrap(), Duration::from_millis(500));
    assert_eq!(timeout("\"30s\"").unwrap(), Duration::from_secs(30));
    for bad in ["-1", "nan", "1e300", "\"-1\""] {
        let e = timeout(bad).unwrap_err().to_string();
        assert!(
            e.contains("line 2") && e.contains("timeouts.operation"),
            "{bad}: {e}"
        );
    }
    let e = timeout("0").unwrap_err().to_string();
    assert!(e.contains("above zero"), "{e}");
}

#[test]
fn a_password_env_that_looks_like_a_secret_is_not_echoed() {
    let e = applied_error("[auth]\nbasic_user = \"root\"\npassword_env = \"hunter2\"\n");
    assert!(
        e.contains("line 3") && e.contains("auth.password_env") && !e.contains("hunter2"),
        "{e}"
    );
    let e = applied_error("[auth]\nbearer_token_env = \"eyJhbGciOi.J9=x\"\n");
    assert!(
        e.contains("auth.bearer_token_env") && !e.contains("eyJhbGciOi"),
        "{e}"
    );
    let e = applied_error("[auth]\nbasic_user = \"root\"\npassword_env = \"CC_TEST_NOT_SET_9\"\n");
    assert!(e.contains("\"CC_TEST_NOT_SET_9\" is not set"), "{e}");
}

/// The README's table form of `group_api`, as printed there, is read.
#[test]
fn the_readmes_group_api_tables_are_read() {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("[group_api]\nallow_slash_in_id")
        .expect("the README shows the table form");
    let end = start + readme[start..].find("```").expect("the block ends");
    let text = format!("hosts = [\"http://127.0.0.1:1\"]\n{}", &readme[start..end]);
    let c = ClientConfig::from_toml(&text).expect("the README's tables parse");
    let b = c.apply(ClientBuilder::default()).expect("and apply");
    let api = b.group_api.clone();
    b.build().expect("and build");
    assert_eq!(api.create.method, "PUT");
    assert_eq!(api.create.done, vec![201]);
    assert_eq!(api.delete.unchanged, vec![404]);
    assert!(!api.allow_slash_in_id);
}
