//! A node's health: a small state machine driven by attempt outcomes and
//! probes. Time is passed in, so tests drive it with their own clock.

use std::time::{Duration, Instant};

/// Where a node stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HealthState {
    /// Serving; `consecutive_failures` counts failed attempts in a row.
    Healthy,
    /// Failed too often; probed by the background thread at `next_probe`
    /// until a probe gets an answer below 500.
    Unhealthy,
}

/// A change worth telling the user about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    BecameUnhealthy,
    BecameHealthy,
}

/// Probe timing: the first delay, doubling up to the cap.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProbeSchedule {
    pub first: Duration,
    pub max: Duration,
    pub jitter: bool,
}

#[derive(Debug)]
pub(crate) struct Health {
    state: HealthState,
    consecutive_failures: u32,
    unhealthy_after: u32,
    schedule: ProbeSchedule,
    probe_delay: Duration,
    next_probe: Option<Instant>,
}

impl Health {
    pub fn new(unhealthy_after: u32, schedule: ProbeSchedule) -> Self {
        Health {
            state: HealthState::Healthy,
            consecutive_failures: 0,
            unhealthy_after: unhealthy_after.max(1),
            schedule,
            probe_delay: schedule.first,
            next_probe: None,
        }
    }

    #[cfg(test)]
    pub fn state(&self) -> HealthState {
        self.state
    }

    /// True when the node takes part in ordinary routing.
    pub fn is_healthy(&self) -> bool {
        self.state == HealthState::Healthy
    }

    /// An attempt got a usable answer.
    pub fn record_success(&mut self) -> Option<Transition> {
        self.consecutive_failures = 0;
        self.probe_delay = self.schedule.first;
        self.next_probe = None;
        match self.state {
            HealthState::Healthy => None,
            HealthState::Unhealthy => {
                self.state = HealthState::Healthy;
                Some(Transition::BecameHealthy)
            }
        }
    }

    /// An attempt failed (no usable answer, or a 5xx).
    pub fn record_failure(&mut self, now: Instant) -> Option<Transition> {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        match self.state {
            HealthState::Healthy if self.consecutive_failures >= self.unhealthy_after => {
                self.state = HealthState::Unhealthy;
                self.probe_delay = self.schedule.first;
                self.schedule_probe(now);
                Some(Transition::BecameUnhealthy)
            }
            HealthState::Healthy | HealthState::Unhealthy => None,
        }
    }

    /// True when the background thread should probe the node now.
    pub fn probe_due(&self, now: Instant) -> bool {
        self.state == HealthState::Unhealthy && self.next_probe.is_some_and(|t| now >= t)
    }

    /// The outcome of a probe: an answer below 500 makes the node healthy
    /// again (so an idle client recovers by itself); a failure schedules
    /// the next probe, further off.
    pub fn record_probe(&mut self, ok: bool, now: Instant) -> Option<Transition> {
        if self.state != HealthState::Unhealthy {
            return None;
        }
        if ok {
            self.record_success()
        } else {
            self.schedule_probe(now);
            None
        }
    }

    fn schedule_probe(&mut self, now: Instant) {
        let delay = self.probe_delay;
        let wait = if self.schedule.jitter {
            // Equal jitter: between half and the whole delay.
            let half = delay / 2;
            half + retry::delay::jitter(delay - half)
        } else {
            delay
        };
        self.next_probe = Some(now + wait);
        self.probe_delay = (self.probe_delay * 2).min(self.schedule.max);
    }

    #[cfg(test)]
    fn next_probe(&self) -> Option<Instant> {
        self.next_probe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health() -> Health {
        Health::new(
            3,
            ProbeSchedule {
                first: Duration::from_secs(1),
                max: Duration::from_secs(4),
                jitter: false,
            },
        )
    }

    #[test]
    fn turns_unhealthy_after_consecutive_failures_only() {
        let t0 = Instant::now();
        let mut h = health();
        assert_eq!(h.record_failure(t0), None);
        assert_eq!(h.record_failure(t0), None);
        assert_eq!(h.record_success(), None);
        assert_eq!(h.record_failure(t0), None);
        assert_eq!(h.record_failure(t0), None);
        assert!(h.is_healthy());
        assert_eq!(h.record_failure(t0), Some(Transition::BecameUnhealthy));
        assert_eq!(h.state(), HealthState::Unhealthy);
        // Further failures are no new transition.
        assert_eq!(h.record_failure(t0), None);
    }

    #[test]
    fn probes_back_with_doubling_backoff() {
        let t0 = Instant::now();
        let mut h = health();
        for _ in 0..3 {
            h.record_failure(t0);
        }
        assert_eq!(h.next_probe(), Some(t0 + Duration::from_secs(1)));
        assert!(!h.probe_due(t0));
        let t1 = t0 + Duration::from_secs(1);
        assert!(h.probe_due(t1));
        h.record_probe(false, t1);
        assert_eq!(h.next_probe(), Some(t1 + Duration::from_secs(2)));
        let t2 = t1 + Duration::from_secs(2);
        h.record_probe(false, t2);
        assert_eq!(h.next_probe(), Some(t2 + Duration::from_secs(4)));
        let t3 = t2 + Duration::from_secs(4);
        h.record_probe(false, t3);
        // Capped.
        assert_eq!(h.next_probe(), Some(t3 + Duration::from_secs(4)));
        assert_eq!(
            h.record_probe(true, t3 + Duration::from_secs(4)),
            Some(Transition::BecameHealthy)
        );
        assert!(h.is_healthy());
        assert!(!h.probe_due(t3 + Duration::from_secs(60)));
    }

    #[test]
    fn a_successful_probe_heals_at_once_and_resets_the_schedule() {
        let t0 = Instant::now();
        let mut h = health();
        for _ in 0..3 {
            h.record_failure(t0);
        }
        h.record_probe(false, t0);
        assert_eq!(h.record_probe(true, t0), Some(Transition::BecameHealthy));
        assert_eq!(h.state(), HealthState::Healthy);
        // A probe result arriving after the node healed changes nothing.
        assert_eq!(h.record_probe(true, t0), None);
        // Failing again starts from the first probe delay, not the doubled one.
        for _ in 0..3 {
            h.record_failure(t0);
        }
        assert_eq!(h.next_probe(), Some(t0 + Duration::from_secs(1)));
    }

    #[test]
    fn any_success_heals() {
        let t0 = Instant::now();
        let mut h = health();
        for _ in 0..3 {
            h.record_failure(t0);
        }
        assert_eq!(h.record_success(), Some(Transition::BecameHealthy));
    }
}
