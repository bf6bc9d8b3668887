//! Degraded: the site answered correctly, but something needs attention.
//!
//! A degraded check is still up: it counts as up in uptime, never as downtime, and moves a
//! monitor to the `degraded` state instead of `up` ([`crate::state`]). [`judge`] looks at a
//! passing check and says whether, and why, it is degraded; a failing check, a local failure
//! or an inconclusive one is never degraded (down takes precedence, and the others are no
//! verdict). Any kind of check calls it on its finished [`Observation`], so the causes apply
//! to every kind that records what they look at.
//!
//! The causes, in the order they are looked at (the first one found is the one reported):
//! - `cert_expiry`: the earliest expiry of the certificates presented is closer than the
//!   monitor's `cert_expiry_warn` (an expired certificate never gets here: the handshake
//!   failed, reason `tls`);
//! - `response_time`: the check took longer than the monitor's `warn_response_time`.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::{Observation, Outcome};
use crate::model::Monitor;

/// Why a passing check is degraded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Warning {
    /// The certificate expires within `cert_expiry_warn`.
    CertExpiry,
    /// The check took longer than `warn_response_time`.
    ResponseTime,
}

impl Warning {
    /// `cert_expiry` or `response_time`, as in lines and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Warning::CertExpiry => "cert_expiry",
            Warning::ResponseTime => "response_time",
        }
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A passing check's reason for attention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Degraded {
    /// Which cause.
    pub cause: Warning,
    /// What was seen, in words (e.g. `certificate expires in 4days 23h (…), within
    /// cert_expiry_warn 14days`).
    pub detail: String,
}

/// Whether the finished check `o` of `monitor` is degraded, judged at `now`.
pub fn judge(monitor: &Monitor, o: &Observation, now: SystemTime) -> Option<Degraded> {
    if o.outcome != Outcome::Up {
        return None;
    }
    let warn = monitor.cert_expiry_warn();
    if let Some(expiry) = o.cert_expiry.filter(|_| !warn.is_zero()) {
        let left = expiry.duration_since(now).unwrap_or(Duration::ZERO);
        if left < warn {
            return Some(Degraded {
                cause: Warning::CertExpiry,
                detail: format!(
                    "certificate expires in {} ({}), within cert_expiry_warn {}",
                    rounded(left),
                    humantime::format_rfc3339_seconds(expiry),
                    humantime::format_duration(warn)
                ),
            });
        }
    }
    let slow = monitor.warn_response_time().filter(|&w| o.elapsed > w)?;
    Some(Degraded {
        cause: Warning::ResponseTime,
        detail: format!(
            "answered in {} ms, over warn_response_time {}",
            o.elapsed.as_millis(),
            humantime::format_duration(slow)
        ),
    })
}

/// `d` to the minute (to the second below one), so a detail reads `4days 23h 59m`.
fn rounded(d: Duration) -> humantime::FormattedDuration {
    let secs = d.as_secs();
    humantime::format_duration(Duration::from_secs(if secs >= 60 {
        secs - secs % 60
    } else {
        secs
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const DAY: Duration = Duration::from_secs(86_400);

    fn monitor(extra: &str) -> Monitor {
        let json = format!(r#"[{{"url": "https://127.0.0.1:9/", "interval": 5{extra}}}]"#);
        Config::parse(&json).unwrap().monitors[0].clone()
    }

    fn obs(outcome: Outcome, cert_expiry: Option<SystemTime>, ms: u64) -> Observation {
        let mut o = Observation::without_response(Duration::from_millis(ms), outcome);
        o.cert_expiry = cert_expiry;
        o
    }

    #[test]
    fn a_certificate_within_the_default_two_weeks_is_degraded() {
        let now = SystemTime::UNIX_EPOCH + 1000 * DAY;
        let m = monitor("");
        let d = judge(&m, &obs(Outcome::Up, Some(now + 5 * DAY), 10), now).unwrap();
        assert_eq!(d.cause, Warning::CertExpiry);
        assert_eq!(
            d.detail,
            "certificate expires in 5days (1972-10-02T00:00:00Z), within cert_expiry_warn 14days"
        );
        assert_eq!(
            judge(&m, &obs(Outcome::Up, Some(now + 15 * DAY), 10), now),
            None
        );
        // Down takes precedence: a failing check is never degraded.
        let down = Outcome::down(super::super::Reason::Status, "HTTP 500");
        assert_eq!(judge(&m, &obs(down, Some(now + DAY), 10), now), None);
    }

    #[test]
    fn cert_expiry_warn_is_per_monitor_and_zero_turns_it_off() {
        let now = SystemTime::UNIX_EPOCH + 1000 * DAY;
        let o = obs(Outcome::Up, Some(now + 20 * DAY), 10);
        assert!(judge(&monitor(r#", "cert_expiry_warn": "30d""#), &o, now).is_some());
        assert!(judge(&monitor(r#", "cert_expiry_warn": 0"#), &o, now).is_none());
    }

    #[test]
    fn a_slow_passing_check_is_degraded_by_warn_response_time() {
        let now = SystemTime::UNIX_EPOCH;
        let m = monitor(r#", "warn_response_time": "200ms""#);
        let d = judge(&m, &obs(Outcome::Up, None, 350), now).unwrap();
        assert_eq!(d.cause, Warning::ResponseTime);
        assert_eq!(
            d.detail,
            "answered in 350 ms, over warn_response_time 200ms"
        );
        assert_eq!(judge(&m, &obs(Outcome::Up, None, 150), now), None);
        // No default: never without the setting.
        assert_eq!(
            judge(&monitor(""), &obs(Outcome::Up, None, 99_999), now),
            None
        );
    }
}
