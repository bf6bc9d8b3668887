//! A monitor's failure policy: how failed checks turn into `down`, how a down monitor backs
//! off and comes back, and the defaults and bounds of each setting.
//!
//! Plain data and arithmetic: the state machine that applies a [`Policy`] is `state`.

use std::time::Duration;

/// How a monitor reacts to failures. Built from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    /// Extra attempts after a failed check before the monitor is declared down.
    pub retries: u32,
    /// Delay before the first retry; each further retry waits twice as long.
    pub retry_delay: Duration,
    /// Consecutive successes that bring a down monitor back up.
    pub recover_after: u32,
    /// The longest interval a down monitor backs off to.
    pub max_backoff: Duration,
}

impl Policy {
    /// The retry budget after `used` retries: how long the retries still left would wait in
    /// total by this policy, `retry_delay × (2^used + … + 2^(retries − 1))`. The whole budget
    /// (`used = 0`) is `retry_delay × (2^retries − 1)`: 6 s for the default 2 retries after 2 s.
    pub fn retry_budget(&self, used: u32) -> Duration {
        (used..self.retries).fold(Duration::ZERO, |sum, k| {
            sum.saturating_add(self.retry_delay.saturating_mul(1 << k.min(16)))
        })
    }
}

/// Extra attempts after a failed check before a monitor is declared down.
pub const DEFAULT_RETRIES: u32 = 2;
/// Most `retries` accepted.
pub const MAX_RETRIES: u32 = 10;
/// Shortest accepted `retry_delay`.
pub const MIN_RETRY_DELAY: Duration = Duration::from_millis(100);
/// Most `recover_after` accepted.
pub const MAX_RECOVER_AFTER: u32 = 100;
/// Most `max_redirects` accepted.
pub const MAX_REDIRECTS: u32 = 50;
/// Delay before the first retry (each further retry doubles it).
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(2);
/// Consecutive successes that bring a down monitor back up.
pub const DEFAULT_RECOVER_AFTER: u32 = 1;
/// Upper bound of the default backoff, whatever the interval.
pub const BACKOFF_CEILING: Duration = Duration::from_secs(600);

/// The default failure policy for a monitor checked every `interval`: back off to 8× the
/// interval, but never past 10 minutes (and never below the interval itself).
pub fn default_policy(interval: Duration) -> Policy {
    Policy {
        retries: DEFAULT_RETRIES,
        retry_delay: DEFAULT_RETRY_DELAY,
        recover_after: DEFAULT_RECOVER_AFTER,
        max_backoff: interval
            .saturating_mul(8)
            .min(BACKOFF_CEILING)
            .max(interval),
    }
}
