//! The daily digest: when it is due, and what it says.
//!
//! A channel with `"daily_digest": "09:00"` gets, every day at that local time, a summary of
//! the last 24 hours: uptime per monitor and the incidents. Local time is a fixed UTC offset,
//! read once when the config loads (or given as `utc_offset`): a run that spans a daylight-saving
//! change sends its digest an hour early or late until restarted. [`next_digest_at`] is a pure
//! function of the time now, so the schedule is tested without waiting for a clock.
//!
//! Where the numbers come from is behind [`DigestSource`], so the history database can supply
//! them when there is one. Without it, [`MemoryHistory`] answers from what this run has seen:
//! incidents from the state changes the notifier receives, and check counts from hourly
//! snapshots of the run's [`Stats`] (so "the last 24 h" of checks is exact to within an hour,
//! and covers only the time since start in a run younger than a day).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::Monitor;
use crate::event::StateChange;
use crate::probe::Reason;
use crate::state::State;
use crate::stats::Stats;

/// A day.
pub const DAY: Duration = Duration::from_secs(24 * 3600);
/// How often [`MemoryHistory`] snapshots the check counts.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(3600);

pub use super::config::DigestTime;

/// The first moment strictly after `now` at which the local clock (UTC + `offset_s`) shows
/// `hour:minute`.
pub fn next_digest_at(now: SystemTime, hour: u8, minute: u8, offset_s: i32) -> SystemTime {
    let now_ms = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let local_ms = now_ms + i64::from(offset_s) * 1000;
    let day_ms = 86_400_000_i64;
    let target = local_ms.div_euclid(day_ms) * day_ms
        + (i64::from(hour) * 3600 + i64::from(minute) * 60) * 1000;
    let target = if target <= local_ms {
        target + day_ms
    } else {
        target
    };
    let utc_ms = target - i64::from(offset_s) * 1000;
    UNIX_EPOCH + Duration::from_millis(utc_ms.max(0) as u64)
}

/// `2026-11-24 09:00 +01:00`: a time on the digest's local clock.
pub fn local_time(t: SystemTime, offset_s: i32) -> String {
    let shifted = if offset_s >= 0 {
        t + Duration::from_secs(offset_s.unsigned_abs().into())
    } else {
        t.checked_sub(Duration::from_secs(offset_s.unsigned_abs().into()))
            .unwrap_or(UNIX_EPOCH)
    };
    let utc = humantime::format_rfc3339_seconds(shifted).to_string();
    let (h, m) = (offset_s.abs() / 3600, offset_s.abs() % 3600 / 60);
    let sign = if offset_s < 0 { '-' } else { '+' };
    format!("{} {} {sign}{h:02}:{m:02}", &utc[..10], &utc[11..16])
}

/// One outage within the digest's window.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// When the monitor went down.
    pub start: SystemTime,
    /// When it came back up (`None`: still down).
    pub end: Option<SystemTime>,
    /// Why it went down.
    pub reason: Option<Reason>,
    /// The failure's detail.
    pub detail: Option<String>,
}

/// One monitor's last 24 hours.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorDigest {
    /// Index of the monitor.
    pub monitor: usize,
    /// Its URL.
    pub url: String,
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: Option<String>,
    /// Checks in the window.
    pub checks: u64,
    /// Of those, up.
    pub up: u64,
    /// Time spent down within the window.
    pub downtime: Duration,
    /// Outages that overlap the window, oldest first.
    pub incidents: Vec<Incident>,
    /// Whether it is down at the end of the window.
    pub down_now: bool,
}

impl MonitorDigest {
    /// Percentage of checks that were up (`None` without checks).
    pub fn up_pct(&self) -> Option<f64> {
        (self.checks > 0).then(|| self.up as f64 * 100.0 / self.checks as f64)
    }

    /// Its name, or its URL.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.url)
    }
}

/// The daily summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    /// Start of the window the numbers cover (later than `to − 24 h` in a young run).
    pub from: SystemTime,
    /// End of the window: when the digest was made.
    pub to: SystemTime,
    /// The local clock's offset from UTC, seconds east, for showing times.
    pub offset_s: i32,
    /// Every monitor the channel reports on, in config order.
    pub monitors: Vec<MonitorDigest>,
}

/// Where a digest's numbers come from: this run's memory, or the history database.
pub trait DigestSource: Send {
    /// Uptime and incidents of every monitor between `from` and `to`. The returned digest's
    /// `offset_s` is left at 0; the caller sets it.
    fn digest(&self, from: SystemTime, to: SystemTime) -> Result<Digest, String>;
}

/// The digest source of a run without a history database: what the notifier has seen.
pub struct MemoryHistory {
    monitors: Arc<Vec<Monitor>>,
    stats: Arc<Stats>,
    started: SystemTime,
    /// (when, per monitor (checks, up)), oldest first, at most a day and an hour of them.
    samples: VecDeque<(SystemTime, Vec<(u64, u64)>)>,
    next_sample: SystemTime,
    /// Per monitor, its outages, oldest first; the last may be open. Only the last
    /// [`DETAILED_INCIDENTS`] keep their detail.
    incidents: Vec<VecDeque<Incident>>,
}

/// Incidents per monitor whose detail the in-memory history keeps; older ones keep their times
/// and reason only. A monitor flapping every few seconds has thousands of incidents a day, and
/// a detail is up to a kilobyte of whatever the site sent: this keeps the history's text to
/// about 50 KiB per monitor, whatever the site does.
pub const DETAILED_INCIDENTS: usize = 50;

impl MemoryHistory {
    /// Starts remembering at `now`.
    pub fn new(monitors: Arc<Vec<Monitor>>, stats: Arc<Stats>, now: SystemTime) -> MemoryHistory {
        let incidents = (0..monitors.len()).map(|_| VecDeque::new()).collect();
        MemoryHistory {
            monitors,
            stats,
            started: now,
            samples: VecDeque::new(),
            next_sample: now,
            incidents,
        }
    }

    /// Takes a reload's list (indexes kept, new monitors appended).
    pub fn adopt(&mut self, monitors: Arc<Vec<Monitor>>) {
        self.incidents.resize_with(monitors.len(), VecDeque::new);
        self.monitors = monitors;
    }

    /// Records a state change.
    pub fn record(&mut self, change: &StateChange) {
        let list = &mut self.incidents[change.monitor];
        match change.to {
            State::Down => {
                list.push_back(Incident {
                    start: change.at,
                    end: None,
                    reason: change.reason,
                    detail: change.detail.clone(),
                });
                if let Some(older) = list
                    .len()
                    .checked_sub(DETAILED_INCIDENTS + 1)
                    .and_then(|i| list.get_mut(i))
                {
                    older.detail = None;
                }
            }
            _ => {
                if let Some(open) = list.back_mut().filter(|i| i.end.is_none()) {
                    open.end = Some(change.at);
                }
            }
        }
    }

    /// Takes an hourly snapshot of the check counts when one is due, and forgets what is more
    /// than a day and an hour old. Returns when it next wants to be called.
    pub fn sample(&mut self, now: SystemTime) -> SystemTime {
        if now >= self.next_sample {
            let counts = self
                .stats
                .monitor_totals()
                .map(|t| (t.checks, t.up))
                .collect();
            self.samples.push_back((now, counts));
            self.next_sample = now + SAMPLE_EVERY;
            let horizon = now.checked_sub(DAY + SAMPLE_EVERY).unwrap_or(UNIX_EPOCH);
            while self.samples.front().is_some_and(|(t, _)| *t < horizon) {
                self.samples.pop_front();
            }
            for list in &mut self.incidents {
                while list
                    .front()
                    .is_some_and(|i| i.end.is_some_and(|e| e < horizon))
                {
                    list.pop_front();
                }
            }
        }
        self.next_sample
    }
}

impl DigestSource for MemoryHistory {
    fn digest(&self, from: SystemTime, to: SystemTime) -> Result<Digest, String> {
        // The oldest snapshot inside the window is the baseline; none means "since start".
        let baseline = self.samples.iter().find(|(t, _)| *t >= from);
        let covered = baseline.map_or(self.started.max(from), |(t, _)| *t);
        let totals: Vec<_> = self.stats.monitor_totals().collect();
        let monitors = self
            .monitors
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let (c0, u0) =
                    baseline.map_or((0, 0), |(_, v)| v.get(i).copied().unwrap_or((0, 0)));
                let incidents: Vec<Incident> = self.incidents[i]
                    .iter()
                    .filter(|inc| inc.start < to && inc.end.is_none_or(|e| e > covered))
                    .cloned()
                    .collect();
                let downtime = incidents
                    .iter()
                    .map(|inc| {
                        let s = inc.start.max(covered);
                        let e = inc.end.unwrap_or(to).min(to);
                        e.duration_since(s).unwrap_or_default()
                    })
                    .sum();
                MonitorDigest {
                    monitor: i,
                    url: m.url.to_string(),
                    id: m.id().to_owned(),
                    name: m.name.as_deref().map(str::to_owned),
                    checks: totals[i].checks.saturating_sub(c0),
                    up: totals[i].up.saturating_sub(u0),
                    downtime,
                    down_now: self.incidents[i].back().is_some_and(|x| x.end.is_none()),
                    incidents,
                }
            })
            .collect();
        Ok(Digest {
            from: covered,
            to,
            offset_s: 0,
            monitors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::probe::{Observation, Outcome};

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    // 2026-11-23T00:00:00Z
    const MIDNIGHT: u64 = 1_795_392_000;

    #[test]
    fn next_digest_is_later_today_or_tomorrow() {
        let h = 3600;
        // 08:00 UTC, digest at 09:00 UTC: in an hour.
        assert_eq!(
            next_digest_at(at(MIDNIGHT + 8 * h), 9, 0, 0),
            at(MIDNIGHT + 9 * h)
        );
        // Exactly 09:00: the next one, tomorrow.
        assert_eq!(
            next_digest_at(at(MIDNIGHT + 9 * h), 9, 0, 0),
            at(MIDNIGHT + 33 * h)
        );
        // 09:30 UTC is 10:30 at +01:00: 09:00 local is tomorrow, 08:00 UTC.
        assert_eq!(
            next_digest_at(at(MIDNIGHT + 9 * h + 1800), 9, 0, 3600),
            at(MIDNIGHT + 32 * h)
        );
        // 23:30 UTC on the 22nd is 18:30 at -05:00: 19:15 local is 00:15 UTC on the 23rd.
        assert_eq!(
            next_digest_at(at(MIDNIGHT - 1800), 19, 15, -5 * 3600),
            at(MIDNIGHT + 900)
        );
        // 00:30 UTC on the 23rd is 10:00 at +09:30 (same local day): 09:00 is tomorrow local.
        assert_eq!(
            next_digest_at(at(MIDNIGHT + 1800), 9, 0, 9 * h as i32 + 1800),
            at(MIDNIGHT + 23 * h + 1800)
        );
    }

    #[test]
    fn local_time_shows_the_offset() {
        assert_eq!(
            local_time(at(MIDNIGHT + 8 * 3600), 3600),
            "2026-11-23 09:00 +01:00"
        );
        assert_eq!(
            local_time(at(MIDNIGHT), -5 * 3600 - 1800),
            "2026-11-22 18:30 -05:30"
        );
    }

    fn change(monitor: usize, t: u64, to: State) -> StateChange {
        StateChange {
            monitor,
            at: at(t),
            from: if to == State::Down {
                State::Up
            } else {
                State::Down
            },
            to,
            since: at(t),
            attempts: 3,
            reason: (to == State::Down).then_some(Reason::Status),
            status: (to == State::Down).then_some(503),
            detail: (to == State::Down).then(|| "HTTP 503".to_string()),
        }
    }

    #[test]
    fn memory_history_counts_checks_and_incidents_of_the_window() {
        let config = Config::parse(
            r#"[{"url": "http://127.0.0.1:9/a", "name": "a"}, {"url": "http://127.0.0.1:9/b"}]"#,
        )
        .unwrap();
        let stats = Arc::new(Stats::new(2, 1));
        let obs = |up: bool| Observation {
            status: Some(200),
            bytes: Some(0),
            ..Observation::without_response(
                Duration::ZERO,
                if up {
                    Outcome::Up
                } else {
                    Outcome::Down {
                        reason: Reason::Status,
                        detail: String::new(),
                    }
                },
            )
        };
        let t0 = MIDNIGHT;
        let mut mem = MemoryHistory::new(config.monitors.into(), Arc::clone(&stats), at(t0));
        assert_eq!(mem.sample(at(t0)), at(t0 + 3600));
        // An old check, before the window: not counted after a day.
        stats.record(0, &obs(true), Duration::ZERO);
        // An incident that starts before the window and ends inside it.
        mem.record(&change(1, t0 + 1000, State::Down));
        for hour in 1..=26 {
            mem.sample(at(t0 + hour * 3600));
        }
        mem.record(&change(1, t0 + 26 * 3600, State::Up));
        for up in [true, true, true, false] {
            stats.record(0, &obs(up), Duration::ZERO);
        }
        // A second incident, still open.
        mem.record(&change(1, t0 + 26 * 3600 + 600, State::Down));
        let to = at(t0 + 26 * 3600 + 1200);
        let d = mem.digest(to - DAY, to).unwrap();
        assert_eq!(
            d.from,
            at(t0 + 3 * 3600),
            "the oldest snapshot inside the window"
        );
        assert_eq!((d.monitors[0].checks, d.monitors[0].up), (4, 3));
        assert_eq!(d.monitors[0].up_pct(), Some(75.0));
        assert_eq!(d.monitors[0].label(), "a");
        let b = &d.monitors[1];
        assert_eq!(b.incidents.len(), 2);
        assert!(b.down_now);
        // 23 h of the first (from the window's start) and 10 min of the second.
        assert_eq!(b.downtime, Duration::from_secs(23 * 3600 + 600));
        assert_eq!(b.up_pct(), None);
    }

    #[test]
    fn only_the_last_incidents_keep_their_detail() {
        let config = Config::parse(r#"[{"url": "http://127.0.0.1:9/a"}]"#).unwrap();
        let stats = Arc::new(Stats::new(1, 1));
        let mut mem = MemoryHistory::new(config.monitors.into(), stats, at(MIDNIGHT));
        for i in 0..200 {
            mem.record(&change(0, MIDNIGHT + 10 * i, State::Down));
            mem.record(&change(0, MIDNIGHT + 10 * i + 5, State::Up));
        }
        let list = &mem.incidents[0];
        assert_eq!(list.len(), 200, "every incident is still counted");
        let detailed = list.iter().filter(|i| i.detail.is_some()).count();
        assert_eq!(detailed, DETAILED_INCIDENTS);
        assert!(list.back().unwrap().detail.is_some());
        assert!(list.front().unwrap().detail.is_none());
    }

    #[test]
    fn a_young_run_covers_the_time_since_start() {
        let config = Config::parse(r#"[{"url": "http://127.0.0.1:9/a"}]"#).unwrap();
        let stats = Arc::new(Stats::new(1, 1));
        let start = at(MIDNIGHT);
        let mem = MemoryHistory::new(config.monitors.into(), stats, start);
        let to = start + Duration::from_secs(600);
        let d = mem.digest(to - DAY, to).unwrap();
        assert_eq!(d.from, start);
        assert_eq!(d.monitors[0].checks, 0);
    }
}
