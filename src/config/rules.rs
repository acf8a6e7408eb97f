//! The rules a setting must meet, shared by the builder (checked at
//! `build()`, naming the builder method) and the configuration file
//! (checked as the file is applied, naming the dotted key and its line), so
//! a value is refused, or accepted, the same way on every surface.
//! Each rule returns why a value is refused, to follow the setting's name.

use std::time::Duration;

use crate::error::Error;
use crate::retry::RetryBudget;

/// Longer than this, a duration is a mistake, and it would overflow
/// `Instant` arithmetic (e.g. `Duration::MAX`).
pub(crate) const LONGEST: Duration = Duration::from_secs(365 * 86_400);

pub(super) type Rule = Result<(), String>;

/// A timeout or interval: above zero, at most one year.
pub(super) fn duration(d: Duration) -> Rule {
    if d.is_zero() {
        return Err("must be above zero".to_string());
    }
    delay(d)
}

/// A wait that may be zero (a retry delay): at most one year.
pub(super) fn delay(d: Duration) -> Rule {
    if d > LONGEST {
        return Err(format!("must be at most one year (got {d:?})"));
    }
    Ok(())
}

/// A count that must be at least 1.
pub(super) fn at_least_one(n: u64) -> Rule {
    if n == 0 {
        return Err("must be at least 1".to_string());
    }
    Ok(())
}

/// Attempts per node, the first included.
pub(super) fn attempts(n: u32) -> Rule {
    at_least_one(n.into()).map_err(|why| format!("{why} (attempts per node, the first included)"))
}

pub(super) fn probe_path(p: &str) -> Rule {
    if !p.starts_with('/') || p.chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!(
            "{p:?} must start with '/' and hold no spaces or control characters"
        ));
    }
    Ok(())
}

pub(super) fn database(name: &str) -> Rule {
    if crate::address::validate_group_id(name, false).is_err() {
        return Err("must be 1-255 bytes without '/', '\\' or control characters".to_string());
    }
    Ok(())
}

#[cfg(feature = "journal")]
pub(super) fn journal_path(p: &std::path::Path) -> Rule {
    if p.as_os_str().is_empty() {
        return Err("must name a file (it is empty)".to_string());
    }
    Ok(())
}

/// Whether an environment variable's name can be shown in a message: a
/// conventional name (`CLUSTER_PASSWORD`), not something that may be the
/// secret itself written in its place.
#[cfg(feature = "config")]
pub(super) fn shows_as_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 64
}

/// The settings' values, each by the rule the config file applies to its
/// key too ([`rules`]); errors name the builder's setting.
/// A hedge budget: a share of requests, 0 to 100 percent.
pub(super) fn hedge_budget(percent: f64) -> Rule {
    if (0.0..=100.0).contains(&percent) {
        Ok(())
    } else {
        Err(format!("must be a percentage from 0 to 100, got {percent}"))
    }
}

pub(super) fn check_values(b: &super::ClientBuilder) -> Result<(), Error> {
    let named =
        |name: &str, rule: Rule| rule.map_err(|why| Error::InvalidConfig(format!("{name} {why}")));
    named(
        "max_connections_per_node",
        at_least_one(b.max_connections as u64),
    )?;
    if b.min_connections > b.max_connections {
        return Err(Error::InvalidConfig(
            "min_connections_per_node exceeds max_connections_per_node".to_string(),
        ));
    }
    for (name, d) in [
        ("connect_timeout", b.connect_timeout),
        ("request_timeout", b.request_timeout),
        ("operation_timeout", b.operation_timeout),
        ("probe_interval", b.probe_interval),
    ] {
        named(name, duration(d))?;
    }
    if let Some(d) = b.purge_after {
        let rule = duration(d).map_err(|why| format!("{why} (or None)"));
        named("purge_unused_connections_after", rule)?;
    }
    named(
        "the retry policy's max_attempts",
        attempts(b.policy.attempts_as_given()),
    )?;
    named(
        "the retry policy's initial_delay",
        delay(b.policy.initial_delay()),
    )?;
    named("the retry policy's max_delay", delay(b.policy.max_delay()))?;
    if let Some(why) = b.budget.as_ref().and_then(RetryBudget::refused) {
        return Err(Error::InvalidConfig(format!("the retry budget's {why}")));
    }
    b.group_api.validate()?;
    named(
        "max_response_bytes",
        at_least_one(b.max_response_bytes as u64),
    )?;
    named("unhealthy_after", at_least_one(b.unhealthy_after.into()))?;
    named("probe_path", probe_path(&b.probe_path))?;
    if let Some(db) = &b.database {
        named("database name", database(db))?;
    }
    if let Some(pem) = &b.root_certs_pem {
        named(
            "root certificate PEM",
            crate::node::check_root_certs_pem(pem),
        )?;
    }
    if let Some(l) = b.max_lifetime {
        named("max_connection_lifetime", duration(l))?;
    }
    if let Some(d) = b.discovery {
        named("discovery_interval", duration(d))?;
    }
    if let Some(h) = &b.hedging {
        named("hedging budget_percent", hedge_budget(h.budget()))?;
        if let crate::cluster::HedgeDelay::After(d) = h.delay() {
            named("hedging delay", duration(d))?;
        }
    }
    #[cfg(feature = "journal")]
    if let Some(j) = &b.journal {
        named("journal path", journal_path(j))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(duration(Duration::ZERO).is_err());
        assert!(duration(LONGEST + Duration::from_nanos(1)).is_err());
        assert!(duration(LONGEST).is_ok());
        assert!(delay(Duration::ZERO).is_ok());
        assert!(attempts(0).is_err() && attempts(1).is_ok());
        assert!(probe_path("/x").is_ok() && probe_path("x").is_err());
    }

    #[cfg(feature = "journal")]
    #[test]
    fn a_journal_path_names_a_file() {
        assert!(journal_path("".as_ref()).is_err());
        assert!(journal_path("sagas.journal".as_ref()).is_ok());
    }

    #[cfg(feature = "config")]
    #[test]
    fn only_a_conventional_variable_name_is_shown() {
        assert!(shows_as_variable_name("CLUSTER_PASSWORD"));
        for secret in ["hunter2", "Tr0ub4dor&3", "", "A B", &"A".repeat(65)] {
            assert!(!shows_as_variable_name(secret), "{secret}");
        }
    }
}
