//! Saying on stderr that sitewatch itself is failing, at most once a minute.
//!
//! Workers call [`LocalAlarm::note`] for every check that ended in a local failure
//! ([`Outcome::Local`](crate::probe::Outcome::Local)). The first one, and then the first one
//! after a minute of quiet, logs one warning naming what ran out and what to do about it,
//! with the count of the failures since the last warning; the others only add to that count
//! (two atomics, no lock). The check itself is counted in the stats as a local error either way.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::probe::LocalKind;

/// Shortest time between two warnings.
pub const WARN_EVERY: Duration = Duration::from_secs(60);

/// The rate-limited warning of local failures. Shared by every worker.
pub struct LocalAlarm {
    origin: Instant,
    /// When the last warning was logged, ms since `origin` + 1 (0: never).
    last: AtomicU64,
    /// Local failures not yet told about.
    untold: AtomicU64,
}

impl Default for LocalAlarm {
    fn default() -> Self {
        LocalAlarm {
            origin: Instant::now(),
            last: AtomicU64::new(0),
            untold: AtomicU64::new(0),
        }
    }
}

impl LocalAlarm {
    /// Counts one local failure, and returns the warning to log if one is due (the caller
    /// logs it; see [`LocalAlarm::note`]).
    pub fn take(&self, kind: LocalKind, detail: &str, now: Instant) -> Option<String> {
        self.untold.fetch_add(1, Relaxed);
        let now_ms = u64::try_from(now.saturating_duration_since(self.origin).as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let last = self.last.load(Relaxed);
        let every = WARN_EVERY.as_millis() as u64;
        if last != 0 && now_ms < last.saturating_add(every) {
            return None;
        }
        // One worker wins the right to warn; the others keep counting.
        if self
            .last
            .compare_exchange(last, now_ms, Relaxed, Relaxed)
            .is_err()
        {
            return None;
        }
        let n = self.untold.swap(0, Relaxed);
        Some(message(kind, detail, n))
    }

    /// Counts one local failure and logs the warning when one is due: at most one line a
    /// minute on stderr, whatever the rate of failures.
    pub fn note(&self, kind: LocalKind, detail: &str) {
        if let Some(line) = self.take(kind, detail, Instant::now()) {
            log::warn!("{line}");
        }
    }
}

/// The warning: what ran out, how many checks it cost, that no site was blamed, what to do.
fn message(kind: LocalKind, detail: &str, checks: u64) -> String {
    let what = match kind {
        LocalKind::FileDescriptors => "ran out of file descriptors",
        LocalKind::Memory => "ran out of memory",
        LocalKind::EphemeralPorts => "ran out of local ports for new connections",
        LocalKind::Threads => "could not start a thread",
        LocalKind::IcmpSockets => "could not open an ICMP socket",
    };
    format!(
        "sitewatch itself {what} ({detail}): {checks} check(s) could not be made since the last \
         warning; they are local errors, not site failures (no monitor went down for them) and \
         are retried on their next occurrence. To fix: {}",
        kind.advice()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_at_most_once_a_minute_with_the_count_of_the_rest() {
        let alarm = LocalAlarm::default();
        let t0 = alarm.origin;
        let kind = LocalKind::FileDescriptors;
        let first = alarm.take(kind, "Too many open files (os error 24)", t0);
        let first = first.expect("the first failure warns");
        assert!(first.contains("ran out of file descriptors"), "{first}");
        assert!(first.contains(": 1 check(s)"), "{first}");
        assert!(first.contains("ulimit -n"), "{first}");
        for s in 1..60 {
            let at = t0 + Duration::from_secs(s);
            assert_eq!(alarm.take(kind, "x", at), None, "{s} s");
        }
        let again = alarm.take(kind, "x", t0 + Duration::from_secs(60)).unwrap();
        assert!(again.contains(": 60 check(s)"), "{again}");
    }
}
