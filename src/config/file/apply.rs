//! Each section of the file applied to the builder, every value checked
//! by the rule its key shares with the builder, errors naming key and line.

use toml::Spanned;

use super::super::rules;
use super::{AuthSection, ClientConfig};
use crate::cluster::Hedging;
use crate::config::ClientBuilder;
use crate::error::Error;
use crate::retry::{check_min_per_second, check_percent, RetryBudget, RetryPolicy};

impl ClientConfig {
    /// `[retry]` and `[retry_budget]`.
    pub(super) fn apply_retry(&self, mut b: ClientBuilder) -> Result<ClientBuilder, Error> {
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
    pub(super) fn apply_timeouts(&self, mut b: ClientBuilder) -> Result<ClientBuilder, Error> {
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
    pub(super) fn apply_pool(&self, mut b: ClientBuilder) -> Result<ClientBuilder, Error> {
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
        if let Some(d) = &p.max_lifetime {
            if let Some(age) = d.get_ref().0 {
                let rule = rules::duration(age).map_err(|why| format!("{why} (or \"never\")"));
                o.check("pool.max_lifetime", d, rule)?;
            }
            b.max_lifetime = d.get_ref().0;
        }
        Ok(b)
    }

    /// `[health]`.
    pub(super) fn apply_health(&self, mut b: ClientBuilder) -> Result<ClientBuilder, Error> {
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

    /// `journal.path`, relative to the file.
    #[cfg(feature = "journal")]
    pub(super) fn apply_journal(
        &self,
        p: &Spanned<String>,
        mut b: ClientBuilder,
    ) -> Result<ClientBuilder, Error> {
        let rule = rules::journal_path(p.get_ref().trim().as_ref());
        self.origin.check("journal.path", p, rule)?;
        b.journal = Some(self.origin.resolve(p.get_ref()));
        Ok(b)
    }

    /// `journal.path` in a build without the journal: refused, not ignored
    /// (the file asks for crash safety this build cannot give).
    #[cfg(not(feature = "journal"))]
    pub(super) fn apply_journal(
        &self,
        p: &Spanned<String>,
        _b: ClientBuilder,
    ) -> Result<ClientBuilder, Error> {
        let why = "cannot be kept: this build of cluster-client has no journal \
                   (its feature \"journal\", on by default, is off)";
        Err(self.origin.error("journal.path", p.span(), why))
    }

    /// `tls.ca_file`: read and checked now, so a file that cannot serve is
    /// named with its key and line.
    pub(super) fn ca_file(&self, ca: &Spanned<String>) -> Result<Vec<u8>, Error> {
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

    pub(super) fn apply_auth(
        &self,
        a: &AuthSection,
        b: ClientBuilder,
    ) -> Result<ClientBuilder, Error> {
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

    /// `[hedging]`: `enabled`, `delay = "p95" | "20ms"`, `budget_percent`.
    pub(super) fn apply_hedging(&self, mut b: ClientBuilder) -> Result<ClientBuilder, Error> {
        let Some(h) = &self.hedging else {
            return Ok(b);
        };
        let o = &self.origin;
        let mut hedging = Hedging::after_percentile(95);
        if let Some(d) = &h.delay {
            let text = d.get_ref().trim();
            let percentile = text.strip_prefix('p').map(str::parse::<u8>);
            hedging = match percentile {
                Some(Ok(p)) if (1..=99).contains(&p) => Hedging::after_percentile(p),
                Some(_) => {
                    o.check(
                        "hedging.delay",
                        d,
                        Err("a percentile is p1 to p99".to_string()),
                    )?;
                    hedging
                }
                None => match crate::config::parse_duration(text) {
                    Ok(t) => {
                        o.check("hedging.delay", d, rules::duration(t))?;
                        Hedging::after(t)
                    }
                    Err(why) => {
                        o.check(
                            "hedging.delay",
                            d,
                            Err(format!("\"pNN\" or a duration: {why}")),
                        )?;
                        hedging
                    }
                },
            };
        }
        if let Some(p) = &h.budget_percent {
            o.check(
                "hedging.budget_percent",
                p,
                rules::hedge_budget(*p.get_ref()),
            )?;
            hedging = hedging.budget_percent(*p.get_ref());
        }
        if h.enabled {
            b.hedging = Some(hedging);
        }
        Ok(b)
    }
}
