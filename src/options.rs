//! [`CallOptions`]: the settings of one client handle's calls
//! ([`ClusterClient::with_options`](crate::ClusterClient::with_options)).

use std::time::Duration;

use crate::cluster::{CallScope, CancelToken};
use crate::config::LONGEST;
use crate::retry::RetryPolicy;

/// Settings for the calls of one client handle, made with
/// [`ClusterClient::with_options`](crate::ClusterClient::with_options): what is set here replaces the client's
/// own, the rest is the client's.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CallOptions {
    operation_timeout: Option<Duration>,
    retry_policy: Option<RetryPolicy>,
    cancel: Option<CancelToken>,
    hedging: Option<bool>,
    request_timeout: Option<Duration>,
}

impl CallOptions {
    /// Nothing set: every setting is the client's.
    pub fn new() -> CallOptions {
        CallOptions::default()
    }

    /// All attempts and backoff of one call (at most a year).
    pub fn operation_timeout(mut self, timeout: Duration) -> CallOptions {
        self.operation_timeout = Some(timeout.min(LONGEST));
        self
    }

    /// Each attempt of these calls, start to last body byte (at most the
    /// client's `request_timeout`, which bounds every connection; a longer
    /// value changes nothing). A timeout this short setting causes is not
    /// held against the node's health.
    pub fn request_timeout(mut self, timeout: Duration) -> CallOptions {
        self.request_timeout = Some(timeout.min(LONGEST));
        self
    }

    /// Retries of each call.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> CallOptions {
        self.retry_policy = Some(policy);
        self
    }

    /// A token that ends the calls' waits when tripped (see [`CancelToken`]).
    pub fn cancel_token(mut self, token: CancelToken) -> CallOptions {
        self.cancel = Some(token);
        self
    }

    /// Whether one-node reads may be hedged, when the client hedges
    /// ([`ClientBuilder::hedging`](crate::ClientBuilder::hedging)); `false`
    /// turns hedging off for these calls.
    pub fn hedging(mut self, on: bool) -> CallOptions {
        self.hedging = Some(on);
        self
    }

    pub(crate) fn apply(self, base: &CallScope) -> CallScope {
        CallScope {
            policy: self.retry_policy.unwrap_or_else(|| base.policy.clone()),
            operation_timeout: self.operation_timeout.unwrap_or(base.operation_timeout),
            cancel: self.cancel.or_else(|| base.cancel.clone()),
            hedge: self.hedging.unwrap_or(base.hedge),
            request_timeout: self.request_timeout.or(base.request_timeout),
        }
    }
}
