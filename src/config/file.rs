//! The configuration file: TOML that mirrors [`ClientBuilder`], read by the
//! library, `clusterctl` and the C ABI alike. Every key is optional; an
//! unknown key or a bad value is an error naming the key and its line.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use super::ClientBuilder;
use crate::address::HostAddress;
use crate::cluster::HostResolver;
use crate::error::Error;
use crate::groups::{GroupApi, GroupEndpoint};
use crate::retry::{RetryBudget, RetryPolicy};

/// A parsed configuration file (see the README's "Configuration file").
///
/// ```
/// use cluster_client::{ClientConfig, ClusterClient};
///
/// let config = ClientConfig::from_toml(r#"
///     hosts = ["http://127.0.0.1:8000", "http://127.0.0.1:8001"]
///     group_api = "webdav"
///     [retry]
///     attempts = 5
///     initial_delay = "250ms"
///     [timeouts]
///     operation = "30s"
/// "#)?;
/// let client = ClusterClient::builder().config(config).build()?;
/// assert_eq!(client.cluster_management().nodes().len(), 2);
///
/// let typo = ClientConfig::from_toml("[retry]\nattemps = 5").unwrap_err();
/// assert!(typo.to_string().contains("attemps") && typo.to_string().contains("line 2"));
/// # Ok::<(), cluster_client::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    hosts: Option<HostsSetting>,
    host_resolver: Option<ResolverName>,
    group_api: Option<GroupApiSetting>,
    database: Option<String>,
    fan_out_threads: Option<usize>,
    max_response_bytes: Option<usize>,
    use_env_proxy: Option<bool>,
    retry: Option<RetrySection>,
    retry_budget: Option<BudgetSection>,
    timeouts: Option<TimeoutsSection>,
    pool: Option<PoolSection>,
    health: Option<HealthSection>,
    auth: Option<AuthSection>,
    tls: Option<TlsSection>,
    /// Where the file was read from (for error messages and relative paths).
    #[serde(skip)]
    origin: Origin,
}

#[derive(Debug, Clone, Default)]
struct Origin {
    path: Option<PathBuf>,
    text: String,
}

impl Origin {
    fn name(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| "config".to_string(), |p| p.display().to_string())
    }

    /// An error about `key`, at the line of `span`.
    fn error(&self, key: &str, span: std::ops::Range<usize>, why: &str) -> Error {
        let line = self.text[..span.start.min(self.text.len())]
            .bytes()
            .filter(|&b| b == b'\n')
            .count()
            + 1;
        Error::InvalidConfig(format!("{}: line {line}: {key}: {why}", self.name()))
    }

    /// A path in the file, relative to the file's folder.
    fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        match self.path.as_ref().and_then(|f| f.parent()) {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.to_path_buf(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetrySection {
    attempts: Option<u32>,
    initial_delay: Option<Humane>,
    max_delay: Option<Humane>,
    jitter: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetSection {
    percent: Option<f64>,
    min_per_second: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeoutsSection {
    connect: Option<Humane>,
    request: Option<Humane>,
    operation: Option<Humane>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolSection {
    max_connections_per_node: Option<usize>,
    min_connections_per_node: Option<usize>,
    purge_unused_after: Option<PurgeAfter>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct HealthSection {
    unhealthy_after: Option<u32>,
    probe_interval: Option<Humane>,
    probe_path: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthSection {
    basic_user: Option<Spanned<String>>,
    /// The name of the environment variable holding the password.
    password_env: Option<Spanned<String>>,
    /// The name of the environment variable holding a bearer token.
    bearer_token_env: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsSection {
    /// PEM file of the root certificates to trust, relative to the config file.
    ca_file: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ResolverName {
    RoundRobin,
    Random,
    Fallback,
}

/// A duration written the humane way (`"250ms"`).
#[derive(Debug, Clone, Copy)]
struct Humane(Duration);

impl<'de> Deserialize<'de> for Humane {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_duration(&text)
            .map(Humane)
            .map_err(de::Error::custom)
    }
}

/// A purge age, or `"never"`.
#[derive(Debug, Clone, Copy)]
struct PurgeAfter(Option<Duration>);

impl<'de> Deserialize<'de> for PurgeAfter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim() == "never" {
            return Ok(PurgeAfter(None));
        }
        super::parse_duration(&text)
            .map(|d| PurgeAfter(Some(d)))
            .map_err(|e| de::Error::custom(format!("{e}, or \"never\"")))
    }
}

/// `hosts = ["http://a:1", ...]` or `hosts = "http://a:1,http://b:2"`.
#[derive(Debug, Clone)]
struct HostsSetting(Vec<String>);

impl<'de> Deserialize<'de> for HostsSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = HostsSetting;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of node URLs or one comma-separated string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HostsSetting, E> {
                Ok(HostsSetting(v.split(',').map(str::to_string).collect()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HostsSetting, A::Error> {
                let mut hosts = Vec::new();
                while let Some(h) = seq.next_element::<String>()? {
                    hosts.push(h);
                }
                Ok(HostsSetting(hosts))
            }
        }
        d.deserialize_any(V)
    }
}

/// `group_api = "reference" | "webdav"` or the table form.
#[derive(Debug, Clone)]
struct GroupApiSetting(GroupApi);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupApiTable {
    create: EndpointTable,
    verify: EndpointTable,
    delete: EndpointTable,
    #[serde(default)]
    allow_slash_in_id: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointTable {
    method: String,
    path: String,
    #[serde(default)]
    json_body: bool,
    done: Vec<u16>,
    #[serde(default)]
    unchanged: Vec<u16>,
}

impl EndpointTable {
    fn endpoint(&self) -> GroupEndpoint {
        GroupEndpoint::new(
            &self.method,
            &self.path,
            self.json_body,
            &self.done,
            &self.unchanged,
        )
    }
}

impl<'de> Deserialize<'de> for GroupApiSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = GroupApiSetting;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"reference\", \"webdav\" or a table of create/verify/delete")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GroupApiSetting, E> {
                match v {
                    "reference" => Ok(GroupApiSetting(GroupApi::reference())),
                    "webdav" => Ok(GroupApiSetting(GroupApi::webdav())),
                    other => Err(E::custom(format!(
                        "unknown group_api preset {other:?}: use \"reference\", \"webdav\" or a table"
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<GroupApiSetting, A::Error> {
                let t = GroupApiTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(GroupApiSetting(GroupApi {
                    create: t.create.endpoint(),
                    verify: t.verify.endpoint(),
                    delete: t.delete.endpoint(),
                    allow_slash_in_id: t.allow_slash_in_id,
                }))
            }
        }
        d.deserialize_any(V)
    }
}

/// The dotted key a TOML error is about (`timeouts.request`), when known:
/// toml shows it only in an error's text without the source excerpt.
fn error_key(e: &toml::de::Error) -> Option<String> {
    let mut bare = e.clone();
    bare.set_input(None);
    let text = bare.to_string();
    let key = text
        .lines()
        .find_map(|l| l.strip_prefix("in `")?.strip_suffix('`'))?;
    Some(key.to_string())
}

impl ClientConfig {
    /// Parses TOML text. Unknown keys and bad values are
    /// [`Error::InvalidConfig`] naming the key and the line.
    pub fn from_toml(text: &str) -> Result<ClientConfig, Error> {
        Self::parse(text, None)
    }

    /// Reads and parses a TOML file; relative paths in it (`tls.ca_file`)
    /// are taken from the file's folder.
    pub fn from_file(path: impl AsRef<Path>) -> Result<ClientConfig, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::InvalidConfig(format!(
                "config file {} cannot be read: {e}",
                path.display()
            ))
        })?;
        Self::parse(&text, Some(path.to_path_buf()))
    }

    fn parse(text: &str, path: Option<PathBuf>) -> Result<ClientConfig, Error> {
        let origin = Origin {
            path,
            text: text.to_string(),
        };
        let mut config: ClientConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| {
                text[..s.start.min(text.len())]
                    .bytes()
                    .filter(|&b| b == b'\n')
                    .count()
                    + 1
            });
            let at = line.map_or_else(String::new, |l| format!("line {l}: "));
            let key = error_key(&e).map_or_else(String::new, |k| format!("{k}: "));
            Error::InvalidConfig(format!("{}: {at}{key}{}", origin.name(), e.message()))
        })?;
        config.origin = origin;
        Ok(config)
    }

    /// The hosts the file names, if any.
    pub fn hosts(&self) -> Option<Result<Vec<HostAddress>, Error>> {
        self.hosts
            .as_ref()
            .map(|h| HostAddress::parse_all(h.0.iter().map(|s| s.trim())))
    }

    /// Applies every key the file sets to `builder`; what it does not set
    /// stays as it was. Secrets are read from the environment variables the
    /// file names.
    pub(super) fn apply(&self, mut b: ClientBuilder) -> Result<ClientBuilder, Error> {
        if let Some(hosts) = self.hosts() {
            b.hosts = hosts;
        }
        if let Some(r) = &self.host_resolver {
            b.resolver = match r {
                ResolverName::RoundRobin => HostResolver::RoundRobin,
                ResolverName::Random => HostResolver::Random,
                ResolverName::Fallback => HostResolver::Fallback,
            };
        }
        if let Some(api) = &self.group_api {
            b.group_api = api.0.clone();
        }
        if let Some(db) = &self.database {
            b.database = Some(db.clone());
        }
        if let Some(n) = self.fan_out_threads {
            b.fan_out_threads = Some(n);
        }
        if let Some(n) = self.max_response_bytes {
            b.max_response_bytes = n;
        }
        if let Some(yes) = self.use_env_proxy {
            b.proxy_from_env = yes;
        }
        if let Some(r) = &self.retry {
            let p = &b.policy;
            let mut policy = RetryPolicy::exponential(
                r.attempts.unwrap_or(p.max_attempts()),
                r.initial_delay.map_or(p.initial_delay(), |d| d.0),
                r.max_delay.map_or(p.max_delay(), |d| d.0),
            );
            if !r.jitter.unwrap_or(p.jitter()) {
                policy = policy.without_jitter();
            }
            b.policy = policy;
        }
        if let Some(r) = &self.retry_budget {
            b.budget = Some(RetryBudget::new(
                r.percent.unwrap_or(0.2),
                r.min_per_second.unwrap_or(10.0),
            ));
        }
        if let Some(t) = &self.timeouts {
            if let Some(d) = t.connect {
                b.connect_timeout = d.0;
            }
            if let Some(d) = t.request {
                b.request_timeout = d.0;
            }
            if let Some(d) = t.operation {
                b.operation_timeout = d.0;
            }
        }
        if let Some(p) = &self.pool {
            if let Some(n) = p.max_connections_per_node {
                b.max_connections = n;
            }
            if let Some(n) = p.min_connections_per_node {
                b.min_connections = n;
            }
            if let Some(d) = p.purge_unused_after {
                b.purge_after = d.0;
            }
        }
        if let Some(h) = &self.health {
            if let Some(n) = h.unhealthy_after {
                b.unhealthy_after = n;
            }
            if let Some(d) = h.probe_interval {
                b.probe_interval = d.0;
            }
            if let Some(p) = &h.probe_path {
                b.probe_path = p.clone();
            }
        }
        if let Some(a) = &self.auth {
            b = self.apply_auth(a, b)?;
        }
        if let Some(ca) = self.tls.as_ref().and_then(|t| t.ca_file.as_ref()) {
            let path = self.origin.resolve(ca.get_ref());
            let pem = std::fs::read(&path).map_err(|e| {
                self.origin.error(
                    "tls.ca_file",
                    ca.span(),
                    &format!("{} cannot be read: {e}", path.display()),
                )
            })?;
            b.root_certs_pem = Some(pem);
        }
        Ok(b)
    }

    fn apply_auth(&self, a: &AuthSection, b: ClientBuilder) -> Result<ClientBuilder, Error> {
        let secret = |key: &str, var: &Spanned<String>| {
            std::env::var(var.get_ref()).map_err(|_| {
                self.origin.error(
                    key,
                    var.span(),
                    &format!(
                        "the environment variable {:?} is not set (secrets are never written in the file)",
                        var.get_ref()
                    ),
                )
            })
        };
        match (&a.basic_user, &a.password_env, &a.bearer_token_env) {
            (Some(user), Some(var), None) => {
                let password = secret("auth.password_env", var)?;
                Ok(b.basic_auth(user.get_ref(), password))
            }
            (None, None, Some(var)) => {
                let token = secret("auth.bearer_token_env", var)?;
                Ok(b.bearer_token(token))
            }
            (None, None, None) => Ok(b),
            (Some(user), None, _) => Err(self.origin.error(
                "auth.basic_user",
                user.span(),
                "needs auth.password_env (the name of the variable holding the password)",
            )),
            (None, Some(var), _) => {
                Err(self
                    .origin
                    .error("auth.password_env", var.span(), "needs auth.basic_user"))
            }
            (Some(user), Some(_), Some(_)) => Err(self.origin.error(
                "auth",
                user.span(),
                "basic_user and bearer_token_env are both set: choose one",
            )),
        }
    }
}

impl ClientBuilder {
    /// Applies a parsed configuration file; builder calls after this one
    /// override what the file set.
    pub fn config(self, config: ClientConfig) -> Self {
        let fallback = ClientBuilder::default();
        match config.apply(self) {
            Ok(b) => b,
            Err(e) => ClientBuilder {
                config_error: Some(e),
                ..fallback
            },
        }
    }

    /// Reads a TOML configuration file (see [`ClientConfig`]); builder
    /// calls after this one override what the file set. A file that cannot
    /// be read or parsed makes `build()` fail with [`Error::InvalidConfig`].
    /// With no `hosts` in the file (and none given before), `$HOSTS` is used.
    pub fn config_file(self, path: impl AsRef<Path>) -> Self {
        match ClientConfig::from_file(path) {
            Ok(config) => self.hosts_from_env_if_unset().config(config),
            Err(e) => ClientBuilder {
                config_error: Some(e),
                ..self
            },
        }
    }

    /// `$HOSTS` as the hosts, unless hosts were given.
    fn hosts_from_env_if_unset(mut self) -> Self {
        if matches!(self.hosts, Err(Error::NoHosts)) {
            if let Ok(v) = std::env::var("HOSTS") {
                self.hosts = HostAddress::parse_list(&v);
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let e =
            error("hosts = [\"http://127.0.0.1:1\"]\n\n[timeouts]\nrequest = \"2 fortnights\"\n");
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
}
