//! Per-monitor health: telling a temporary glitch from an outage.
//!
//! A monitor is `unknown` until its first verdict, then `up`, `degraded` or `down`. A failed check does not
//! make it `down` at once: it is retried `retries` times after a short, doubling delay, and only
//! when every attempt failed does the monitor go `down`. A glitch that clears on retry never
//! produces a `down`. A `down` monitor goes back `up` after `recover_after` consecutive
//! successes. While `down`, its interval doubles after each failed check, up to `max_backoff`,
//! so dead sites do not eat the worker pool; it returns to its own interval once `up`.
//!
//! `degraded` is up with a warning (a certificate close to expiry, a slow answer; see
//! [`crate::probe::degraded`]): a passing check moves an `up` or `unknown` monitor there at
//! once and a clean one moves it back, since neither is a failure to confirm. Failures count
//! from `degraded` exactly as from `up`, and down takes precedence: a `down` monitor recovers
//! (after `recover_after` passing checks) to `degraded` when the check that recovers it is.
//!
//! This module is pure policy: no clock, no thread. [`Health::observe`] takes one check's
//! verdict and returns what to do next; the scheduler, which owns every monitor's `Health`,
//! turns that into wheel entries and state-change lines.

use std::time::Duration;

use serde::Serialize;

/// A monitor's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// No verdict yet.
    Unknown,
    /// Reachable and serving what was expected.
    Up,
    /// Failed every attempt of its last check.
    Down,
    /// Up, but needing attention (certificate close to expiry, slow answers). Not downtime.
    Degraded,
}

impl State {
    /// `unknown`, `up`, `down` or `degraded`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Unknown => "unknown",
            State::Up => "up",
            State::Down => "down",
            State::Degraded => "degraded",
        }
    }

    /// Up or degraded: the site answers (what uptime counts).
    pub fn is_up(self) -> bool {
        matches!(self, State::Up | State::Degraded)
    }
}

/// What one check's verdict says, as health sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Passed.
    Up,
    /// Passed, with a warning.
    Degraded,
    /// Failed.
    Down,
}

impl From<bool> for Seen {
    /// `true`: up; `false`: down.
    fn from(up: bool) -> Seen {
        if up {
            Seen::Up
        } else {
            Seen::Down
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub use crate::model::Policy;

/// In a `--once` run: the server asked (`Retry-After`) for a longer wait than the monitor's
/// retry budget left, so the monitor was declared down without waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget {
    /// What `Retry-After` asked for.
    pub asked: Duration,
    /// The retry budget left ([`Policy::retry_budget`]).
    pub budget: Duration,
    /// Attempts made, this failed one included.
    pub attempts: u32,
}

/// What the scheduler should do after a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// `Some((from, to))` when the check changed the monitor's state.
    pub transition: Option<(State, State)>,
    /// When to check again: `Retry` soon, or back on the schedule, possibly backed off.
    pub next: Next,
}

/// When the next check of a monitor happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// On its normal schedule.
    Scheduled,
    /// A retry (or recovery confirmation) this long after the check ended.
    Retry(Duration),
    /// Down: this long after the previous due time instead of the normal interval.
    Backoff(Duration),
}

/// One monitor's health and the counters behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    state: State,
    /// Failed attempts in the current episode (reset by a success).
    failures: u32,
    /// Consecutive successes while down.
    successes: u32,
    /// The interval a down monitor is at now.
    backoff: Duration,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            state: State::Unknown,
            failures: 0,
            successes: 0,
            backoff: Duration::ZERO,
        }
    }
}

impl Health {
    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// True while down and checked less often than the normal interval.
    pub fn backed_off(&self, interval: Duration) -> bool {
        self.state == State::Down && self.backoff > interval
    }

    /// Takes one check's verdict (`up`), the monitor's normal `interval` and policy, and an
    /// optional `retry_after` the server asked for (429/503), and says what happens next.
    pub fn observe(
        &mut self,
        seen: impl Into<Seen>,
        interval: Duration,
        policy: &Policy,
        retry_after: Option<Duration>,
    ) -> Step {
        let before = self.state;
        let seen = seen.into();
        let answering = if seen == Seen::Degraded {
            State::Degraded
        } else {
            State::Up
        };
        let next = if seen != Seen::Down {
            self.failures = 0;
            match self.state {
                State::Unknown | State::Up | State::Degraded => {
                    self.state = answering;
                    Next::Scheduled
                }
                State::Down => {
                    self.successes += 1;
                    if self.successes >= policy.recover_after {
                        self.state = answering;
                        self.successes = 0;
                        self.backoff = Duration::ZERO;
                        Next::Scheduled
                    } else {
                        // Confirm the recovery quickly rather than a whole backoff later.
                        Next::Retry(policy.retry_delay)
                    }
                }
            }
        } else {
            self.successes = 0;
            match self.state {
                State::Unknown | State::Up | State::Degraded if self.failures < policy.retries => {
                    let delay = policy
                        .retry_delay
                        .saturating_mul(1 << self.failures.min(16));
                    self.failures += 1;
                    Next::Retry(honour(delay, retry_after, policy.max_backoff.max(interval)))
                }
                State::Unknown | State::Up | State::Degraded => {
                    self.state = State::Down;
                    self.failures = 0;
                    self.backoff = interval;
                    Next::Backoff(honour(
                        interval,
                        retry_after,
                        policy.max_backoff.max(interval),
                    ))
                }
                State::Down => {
                    let cap = policy.max_backoff.max(interval);
                    self.backoff = self.backoff.max(interval).saturating_mul(2).min(cap);
                    Next::Backoff(honour(self.backoff, retry_after, cap))
                }
            }
        };
        let transition = (before != self.state).then_some((before, self.state));
        Step { transition, next }
    }

    /// [`observe`](Self::observe) for a `--once` run, where every monitor must reach a verdict
    /// within its retry budget ([`Policy::retry_budget`]), so that the run's length is bounded
    /// by the config whatever the servers answer. A `Retry-After` that fits in the budget left
    /// is honoured, and the retries its wait covers are used up; a longer one ends the monitor
    /// as down at once, which the second value reports.
    pub fn observe_once(
        &mut self,
        seen: impl Into<Seen>,
        interval: Duration,
        policy: &Policy,
        retry_after: Option<Duration>,
    ) -> (Step, Option<OverBudget>) {
        let seen = seen.into();
        let retrying =
            seen == Seen::Down && self.state != State::Down && self.failures < policy.retries;
        let Some(asked) = retry_after.filter(|_| retrying) else {
            return (self.observe(seen, interval, policy, retry_after), None);
        };
        let budget = policy.retry_budget(self.failures);
        if asked > budget {
            let attempts = self.failures + 1;
            // As if no retry were left: this failure is the last.
            self.failures = policy.retries;
            let step = self.observe(false, interval, policy, None);
            let over = OverBudget {
                asked,
                budget,
                attempts,
            };
            return (step, Some(over));
        }
        let step = self.observe(false, interval, policy, Some(asked));
        if let Next::Retry(wait) = step.next {
            // Use up the retries whose delays this wait covers, so that the waits of the whole
            // episode never add up to more than the budget.
            let left = budget.saturating_sub(wait);
            while self.failures < policy.retries && policy.retry_budget(self.failures) > left {
                self.failures += 1;
            }
        }
        (step, None)
    }
}

/// The later of our own delay and the server's `Retry-After`, but never beyond `cap`.
fn honour(delay: Duration, retry_after: Option<Duration>, cap: Duration) -> Duration {
    match retry_after {
        Some(asked) => delay.max(asked.min(cap)),
        None => delay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn policy(retries: u32, recover_after: u32) -> Policy {
        Policy {
            retries,
            retry_delay: Duration::from_secs(2),
            recover_after,
            max_backoff: Duration::from_secs(480),
        }
    }

    #[test]
    fn first_success_is_up() {
        let mut h = Health::default();
        let step = h.observe(true, MIN, &policy(2, 1), None);
        assert_eq!(step.transition, Some((State::Unknown, State::Up)));
        assert_eq!(step.next, Next::Scheduled);
        assert_eq!(h.observe(true, MIN, &policy(2, 1), None).transition, None);
    }

    #[test]
    fn glitch_cleared_by_retry_never_goes_down() {
        let p = policy(2, 1);
        let mut h = Health::default();
        h.observe(true, MIN, &p, None);
        let s = h.observe(false, MIN, &p, None);
        assert_eq!(
            s,
            Step {
                transition: None,
                next: Next::Retry(Duration::from_secs(2))
            }
        );
        let s = h.observe(false, MIN, &p, None);
        assert_eq!(s.next, Next::Retry(Duration::from_secs(4)));
        let s = h.observe(true, MIN, &p, None);
        assert_eq!(
            s,
            Step {
                transition: None,
                next: Next::Scheduled
            }
        );
        assert_eq!(h.state(), State::Up);
    }

    #[test]
    fn all_attempts_failing_goes_down_once_then_backs_off_to_the_cap() {
        let p = policy(2, 1);
        let mut h = Health::default();
        h.observe(true, MIN, &p, None);
        h.observe(false, MIN, &p, None);
        h.observe(false, MIN, &p, None);
        let s = h.observe(false, MIN, &p, None);
        assert_eq!(s.transition, Some((State::Up, State::Down)));
        assert_eq!(s.next, Next::Backoff(MIN));
        let gaps: Vec<Duration> = (0..5)
            .map(|_| {
                let s = h.observe(false, MIN, &p, None);
                assert_eq!(s.transition, None, "one line per transition");
                match s.next {
                    Next::Backoff(d) => d,
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        let secs: Vec<u64> = gaps.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, vec![120, 240, 480, 480, 480]);
        assert!(h.backed_off(MIN));
    }

    #[test]
    fn zero_retries_goes_down_on_first_failure() {
        let mut h = Health::default();
        let s = h.observe(false, MIN, &policy(0, 1), None);
        assert_eq!(s.transition, Some((State::Unknown, State::Down)));
    }

    #[test]
    fn recovery_needs_consecutive_successes_and_resets_backoff() {
        let p = policy(0, 2);
        let mut h = Health::default();
        h.observe(false, MIN, &p, None);
        h.observe(false, MIN, &p, None);
        let s = h.observe(true, MIN, &p, None);
        assert_eq!(
            s,
            Step {
                transition: None,
                next: Next::Retry(Duration::from_secs(2))
            }
        );
        // A failure in between starts the count again.
        h.observe(false, MIN, &p, None);
        h.observe(true, MIN, &p, None);
        let s = h.observe(true, MIN, &p, None);
        assert_eq!(s.transition, Some((State::Down, State::Up)));
        assert_eq!(s.next, Next::Scheduled);
        assert!(!h.backed_off(MIN));
        // A new outage starts backing off from the normal interval again.
        let s = h.observe(false, MIN, &p, None);
        assert_eq!(s.next, Next::Backoff(MIN));
    }

    #[test]
    fn retry_after_pushes_the_next_check_out_but_is_capped() {
        let p = policy(1, 1);
        let mut h = Health::default();
        let s = h.observe(false, MIN, &p, Some(Duration::from_secs(30)));
        assert_eq!(s.next, Next::Retry(Duration::from_secs(30)));
        let s = h.observe(false, MIN, &p, Some(Duration::from_secs(86_400)));
        assert_eq!(s.next, Next::Backoff(Duration::from_secs(480)));
    }

    #[test]
    fn retry_budget_is_what_the_retries_left_would_wait() {
        let p = policy(2, 1);
        assert_eq!(p.retry_budget(0), Duration::from_secs(6));
        assert_eq!(p.retry_budget(1), Duration::from_secs(4));
        assert_eq!(p.retry_budget(2), Duration::ZERO);
        assert_eq!(policy(0, 1).retry_budget(0), Duration::ZERO);
    }

    #[test]
    fn once_a_retry_after_beyond_the_budget_goes_down_at_once() {
        let p = policy(2, 1);
        let mut h = Health::default();
        let (s, over) = h.observe_once(false, MIN, &p, Some(Duration::from_secs(99_999)));
        assert_eq!(s.transition, Some((State::Unknown, State::Down)));
        assert_eq!(
            over,
            Some(OverBudget {
                asked: Duration::from_secs(99_999),
                budget: Duration::from_secs(6),
                attempts: 1,
            })
        );
    }

    #[test]
    fn once_a_retry_after_within_the_budget_is_honoured_and_uses_it_up() {
        let p = policy(2, 1);
        let mut h = Health::default();
        // 5 s of the 6 s budget: waited, and the 4 s retry after it no longer fits.
        let (s, over) = h.observe_once(false, MIN, &p, Some(Duration::from_secs(5)));
        assert_eq!((s.next, over), (Next::Retry(Duration::from_secs(5)), None));
        let (s, over) = h.observe_once(false, MIN, &p, None);
        assert_eq!(s.transition, Some((State::Unknown, State::Down)));
        assert_eq!(over, None);
        // Without Retry-After, the same as observe; a success is up.
        let mut h = Health::default();
        let (s, _) = h.observe_once(false, MIN, &p, None);
        assert_eq!(s.next, Next::Retry(Duration::from_secs(2)));
        let (s, _) = h.observe_once(true, MIN, &p, Some(Duration::from_secs(99_999)));
        assert_eq!(s.transition, Some((State::Unknown, State::Up)));
    }

    #[test]
    fn degraded_is_entered_and_left_at_once_and_is_not_a_failure() {
        let p = policy(2, 1);
        let mut h = Health::default();
        let s = h.observe(Seen::Degraded, MIN, &p, None);
        assert_eq!(s.transition, Some((State::Unknown, State::Degraded)));
        assert_eq!(s.next, Next::Scheduled);
        assert_eq!(h.observe(Seen::Degraded, MIN, &p, None).transition, None);
        let s = h.observe(Seen::Up, MIN, &p, None);
        assert_eq!(s.transition, Some((State::Degraded, State::Up)));
        let s = h.observe(Seen::Degraded, MIN, &p, None);
        assert_eq!(s.transition, Some((State::Up, State::Degraded)));
        // Failures from degraded are retried like failures from up, then down.
        assert_eq!(h.observe(false, MIN, &p, None).transition, None);
        assert_eq!(h.observe(false, MIN, &p, None).transition, None);
        let s = h.observe(false, MIN, &p, None);
        assert_eq!(s.transition, Some((State::Degraded, State::Down)));
        assert!(State::Degraded.is_up() && !State::Down.is_up());
    }

    #[test]
    fn down_recovers_to_degraded_when_the_recovering_check_is() {
        let p = policy(0, 2);
        let mut h = Health::default();
        h.observe(false, MIN, &p, None);
        assert_eq!(h.observe(Seen::Degraded, MIN, &p, None).transition, None);
        let s = h.observe(Seen::Degraded, MIN, &p, None);
        assert_eq!(s.transition, Some((State::Down, State::Degraded)));
        assert!(!h.backed_off(MIN));
    }

    #[test]
    fn backoff_cap_below_the_interval_means_no_backoff() {
        let p = Policy {
            max_backoff: Duration::from_secs(10),
            ..policy(0, 1)
        };
        let mut h = Health::default();
        h.observe(false, MIN, &p, None);
        assert_eq!(h.observe(false, MIN, &p, None).next, Next::Backoff(MIN));
    }
}
