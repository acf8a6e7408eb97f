//! The configuration file: TOML that mirrors [`ClientBuilder`], read by the
//! library, `clusterctl` and the C ABI alike. Every key is optional; an
//! unknown key or a bad value is an error naming the key and its line.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

mod apply;

use super::rules;
use super::values::{GroupApiSetting, HostsSetting, Humane, PurgeAfter};
use super::ClientBuilder;
use crate::address::HostAddress;
use crate::cluster::HostResolver;
use crate::error::Error;

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
    hedging: Option<HedgingSection>,
    discovery: Option<DiscoverySection>,
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
    /// `"5m"` or `"never"`.
    max_lifetime: Option<Spanned<PurgeAfter>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DiscoverySection {
    /// How often the background thread asks the cluster for its coordinators.
    interval: Option<Spanned<Humane>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct HedgingSection {
    #[serde(default)]
    enabled: bool,
    /// `"pNN"` or a duration.
    delay: Option<Spanned<String>>,
    budget_percent: Option<Spanned<f64>>,
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
    LeastLoaded,
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
                ResolverName::LeastLoaded => HostResolver::LeastLoaded,
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
        b = self.apply_hedging(b)?;
        if let Some(d) = self.discovery.as_ref().and_then(|d| d.interval.as_ref()) {
            o.check("discovery.interval", d, rules::duration(d.get_ref().0))?;
            b.discovery = Some(d.get_ref().0);
        }
        if let Some(p) = self.journal.as_ref().and_then(|j| j.path.as_ref()) {
            b = self.apply_journal(p, b)?;
        }
        if let Some(a) = &self.auth {
            b = self.apply_auth(a, b)?;
        }
        if let Some(ca) = self.tls.as_ref().and_then(|t| t.ca_file.as_ref()) {
            b.root_certs_pem = Some(self.ca_file(ca)?);
        }
        Ok(b)
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
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
