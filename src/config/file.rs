//! The configuration file: TOML that mirrors [`ClientBuilder`], read by the
//! library, `clusterctl` and the C ABI alike. Every key is optional; an
//! unknown key or a bad value is an error naming the key and its line.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::rules;
use super::values::{GroupApiSetting, HostsSetting, Humane, PurgeAfter};
use super::ClientBuilder;
use crate::address::HostAddress;
use crate::cluster::HostResolver;
use crate::error::Error;
use crate::retry::{check_min_per_second, check_percent, RetryBudget, RetryPolicy};

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
    group_api: Option<Spanned<GroupApiSetting>>,
    database: Option<Spanned<String>>,
    fan_out_threads: Option<Spanned<usize>>,
    max_response_bytes: Option<Spanned<usize>>,
    use_env_proxy: Option<bool>,
    retry: Option<RetrySection>,
    retry_budget: Option<BudgetSection>,
    timeouts: Option<TimeoutsSection>,
    pool: Option<PoolSection>,
    health: Option<HealthSection>,
    auth: Option<AuthSection>,
    tls: Option<TlsSection>,
    journal: Option<JournalSection>,
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

    /// `rule`'s verdict on the value at `spanned`, as an error naming `key`
    /// and the value's line.
    fn check<T>(&self, key: &str, spanned: &Spanned<T>, rule: rules::Rule) -> Result<(), Error> {
        rule.map_err(|why| self.error(key, spanned.span(), &why))
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
    attempts: Option<Spanned<u32>>,
    initial_delay: Option<Spanned<Humane>>,
    max_delay: Option<Spanned<Humane>>,
    jitter: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetSection {
    percent: Option<Spanned<f64>>,
    min_per_second: Option<Spanned<f64>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeoutsSection {
    connect: Option<Spanned<Humane>>,
    request: Option<Spanned<Humane>>,
    operation: Option<Spanned<Humane>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolSection {
    max_connections_per_node: Option<Spanned<usize>>,
    min_connections_per_node: Option<Spanned<usize>>,
    purge_unused_after: Option<Spanned<PurgeAfter>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct HealthSection {
    unhealthy_after: Option<Spanned<u32>>,
    probe_interval: Option<Spanned<Humane>>,
    probe_path: Option<Spanned<String>>,
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
#[serde(deny_unknown_fields)]
struct JournalSection {
    /// The saga journal's file, relative to the config file.
    path: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ResolverName {
    RoundRobin,
    Random,
    Fallback,
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
    /// file names. A value refused by the rule its builder setting follows
    /// is an error naming the key and its line.
    pub(super) fn apply(&self, mut b: ClientBuilder) -> Result<ClientBuilder, Error> {
        let o = &self.origin;
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
            let rule = api.get_ref().0.validate().map_err(|e| match e {
                Error::InvalidConfig(why) => why,
                other => other.to_string(),
            });
            o.check("group_api", api, rule)?;
            b.group_api = api.get_ref().0.clone();
        }
        if let Some(db) = &self.database {
            o.check("database", db, rules::database(db.get_ref()))?;
            b.database = Some(db.get_ref().clone());
        }
        if let Some(n) = &self.fan_out_threads {
            o.check(
                "fan_out_threads",
                n,
                rules::at_least_one(*n.get_ref() as u64),
            )?;
            b.fan_out_threads = Some(*n.get_ref());
        }
        if let Some(n) = &self.max_response_bytes {
            o.check(
                "max_response_bytes",
                n,
                rules::at_least_one(*n.get_ref() as u64),
            )?;
            b.max_response_bytes = *n.get_ref();
        }
        if let Some(yes) = self.use_env_proxy {
            b.proxy_from_env = yes;
        }
        b = self.apply_retry(b)?;
        b = self.apply_timeouts(b)?;
        b = self.apply_pool(b)?;
        b = self.apply_health(b)?;
        if let Some(p) = self.journal.as_ref().and_then(|j| j.path.as_ref()) {
            o.check(
                "journal.path",
                p,
                rules::journal_path(p.get_ref().trim().as_ref()),
            )?;
            b.journal = Some(o.resolve(p.get_ref()));
        }
        if let Some(a) = &self.auth {
            b = self.apply_auth(a, b)?;
        }
        if let Some(ca) = self.tls.as_ref().and_then(|t| t.ca_file.as_ref()) {
            b.root_certs_pem = Some(self.ca_file(ca)?);
        }
        Ok(b)
    }

    /// `[retry]` and `[retry_budget]`.
    fn apply_retry(&self, mut b: ClientBuilder) -> Result<ClientBuilder, Error> {
        let o = &self.origin;
        if let Some(r) = &self.retry {
            if let Some(n) = &r.attempts {
                o.check("retry.attempts", n, rules::attempts(*n.get_ref()))?;
            }
            for (key, d) in [
                ("retry.initial_delay", &r.initial_delay),
                ("retry.max_delay", &r.max_delay),
            ] {
                if let Some(d) = d {
                    o.check(key, d, rules::delay(d.get_ref().0))?;
                }
            }
            let p = &b.policy;
            let mut policy = RetryPolicy::exponential(
                r.attempts
                    .as_ref()
                    .map_or(p.attempts_as_given(), |n| *n.get_ref()),
                r.initial_delay
                    .as_ref()
                    .map_or(p.initial_delay(), |d| d.get_ref().0),
                r.max_delay
                    .as_ref()
                    .map_or(p.max_delay(), |d| d.get_ref().0),
            );
            if !r.jitter.unwrap_or(p.jitter()) {
                policy = policy.without_jitter();
            }
            b.policy = policy;
        }
        if let Some(r) = &self.retry_budget {
            if let Some(p) = &r.percent {
                o.check("retry_budget.percent", p, check_percent(*p.get_ref()))?;
            }
            if let Some(m) = &r.min_per_second {
                o.check(
                    "retry_budget.min_per_second",
                    m,
                    check_min_per_second(*m.get_ref()),
                )?;
            }
            b.budget = Some(RetryBudget::new(
                r.percent.as_ref().map_or(0.2, |p| *p.get_ref()),
                r.min_per_second.as_ref().map_or(10.0, |m| *m.get_ref()),
            ));
        }
        Ok(b)
    }

    /// `[timeouts]`.
    fn apply_timeouts(&self, mut b: ClientBuilder) -> Result<ClientBuilder, Error> {
        let Some(t) = &self.timeouts else {
            return Ok(b);
        };
        for (key, d, slot) in [
            ("timeouts.connect", &t.connect, &mut b.connect_timeout),
            ("timeouts.request", &t.request, &mut b.request_timeout),
            ("timeouts.operation", &t.operation, &mut b.operation_timeout),
        ] {
            if let Some(d) = d {
                self.origin.check(key, d, rules::duration(d.get_ref().0))?;
                *slot = d.get_ref().0;
            }
        }
        Ok(b)
    }

    /// `[pool]`.
    fn apply_pool(&self, mut b: ClientBuilder) -> Result<ClientBuilder, Error> {
        let Some(p) = &self.pool else {
            return Ok(b);
        };
        let o = &self.origin;
        if let Some(n) = &p.max_connections_per_node {
            let rule = rules::at_least_one(*n.get_ref() as u64);
            o.check("pool.max_connections_per_node", n, rule)?;
            b.max_connections = *n.get_ref();
        }
        if let Some(n) = &p.min_connections_per_node {
            if p.max_connections_per_node.is_some() && *n.get_ref() > b.max_connections {
                return Err(o.error(
                    "pool.min_connections_per_node",
                    n.span(),
                    "exceeds pool.max_connections_per_node",
                ));
            }
            b.min_connections = *n.get_ref();
        }
        if let Some(d) = &p.purge_unused_after {
            if let Some(age) = d.get_ref().0 {
                let rule = rules::duration(age).map_err(|why| format!("{why} (or \"never\")"));
                o.check("pool.purge_unused_after", d, rule)?;
            }
            b.purge_after = d.get_ref().0;
        }
        Ok(b)
    }

    /// `[health]`.
    fn apply_health(&self, mut b: ClientBuilder) -> Result<ClientBuilder, Error> {
        let Some(h) = &self.health else {
            return Ok(b);
        };
        let o = &self.origin;
        if let Some(n) = &h.unhealthy_after {
            o.check(
                "health.unhealthy_after",
                n,
                rules::at_least_one((*n.get_ref()).into()),
            )?;
            b.unhealthy_after = *n.get_ref();
        }
        if let Some(d) = &h.probe_interval {
            o.check("health.probe_interval", d, rules::duration(d.get_ref().0))?;
            b.probe_interval = d.get_ref().0;
        }
        if let Some(p) = &h.probe_path {
            o.check("health.probe_path", p, rules::probe_path(p.get_ref()))?;
            b.probe_path = p.get_ref().clone();
        }
        Ok(b)
    }

    /// `tls.ca_file`: read and checked now, so a file that cannot serve is
    /// named with its key and line.
    fn ca_file(&self, ca: &Spanned<String>) -> Result<Vec<u8>, Error> {
        let path = self.origin.resolve(ca.get_ref());
        let pem = std::fs::read(&path).map_err(|e| {
            self.origin.error(
                "tls.ca_file",
                ca.span(),
                &format!("{} cannot be read: {e}", path.display()),
            )
        })?;
        let rule = crate::node::check_root_certs_pem(&pem)
            .map_err(|why| format!("{}: {why}", path.display()));
        self.origin.check("tls.ca_file", ca, rule)?;
        Ok(pem)
    }

    fn apply_auth(&self, a: &AuthSection, b: ClientBuilder) -> Result<ClientBuilder, Error> {
        let secret = |key: &str, var: &Spanned<String>| {
            let name = var.get_ref();
            // A name that may be the secret itself is never echoed.
            let why = if rules::shows_as_variable_name(name) {
                format!(
                    "the environment variable {name:?} is not set \
                     (secrets are never written in the file)"
                )
            } else {
                "the environment variable it names is not set; the name is not shown, as \
                 it does not look like one (e.g. CLUSTER_PASSWORD): is it the secret itself? \
                 Secrets are never written in the file"
                    .to_string()
            };
            let value = if name.is_empty() || name.contains(['=', '\0']) {
                None
            } else {
                std::env::var(name).ok()
            };
            value.ok_or_else(|| self.origin.error(key, var.span(), &why))
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
#[path = "file_tests.rs"]
mod tests;
