//! The reporter thread: every `--report-every` (60 s by default) it logs one status line.
//!
//! The line says what the operator asked for — URLs checked (total and in the window), the top
//! five status codes and failure reasons, the checks running right now and for how long, the
//! slowest check of the window — plus the health of the schedule itself: queue depth, overflow,
//! coalesced and missed occurrences, lateness p50/p99/max and how many monitors are failing —
//! and, once there are any, what was lost: check lines dropped, results not written to the
//! history database, notifications given up; and, while checks of failing or slow monitors are
//! held back because they fill their share of the workers, that the pool is saturated by them
//! and what would help.
//!
//! Wake-ups follow `next += period`, not a ticker, so reports do not drift. The thread reads
//! only atomics and swaps the stats window under its lock; it never slows a worker for longer
//! than that swap. It ends when its stop channel disconnects.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{select, Receiver};
use serde::Serialize;

use crate::catalog::Catalog;
use crate::config::Monitor;
use crate::output::{emit, ms, timestamp, Format};
use crate::pool_load::PoolLoad;
use crate::probe::Reason;
use crate::scheduler::Job;
use crate::stats::{Stats, Window};

/// How many codes, reasons and in-flight checks a text line lists.
const TOP: usize = 5;

/// A monitor (URL and id) with a time, in milliseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UrlTime {
    /// The monitor's URL.
    pub url: String,
    /// The monitor's id (two monitors may share a URL).
    pub id: String,
    /// Milliseconds.
    pub ms: f64,
}

impl UrlTime {
    /// `monitor`'s URL and id with `ms`.
    pub fn of(monitor: &Monitor, ms: f64) -> UrlTime {
        UrlTime {
            url: monitor.url.to_string(),
            id: monitor.id().to_owned(),
            ms,
        }
    }
}

impl std::fmt::Display for UrlTime {
    /// `url [id] 12.3 ms`, as text lines list it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}] {}", self.url, self.id, millis(self.ms))
    }
}

/// Lateness percentiles, in milliseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Lateness {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

/// One status report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(rename = "type")]
    kind: &'static str,
    /// When the report was made.
    pub ts: String,
    /// Length of the window, in seconds.
    pub window_s: f64,
    /// Checks finished since start.
    pub checked_total: u64,
    /// Checks finished in the window.
    pub checked_interval: u64,
    /// Of those, how many were down.
    pub down_interval: u64,
    /// The window's most frequent status codes: `[code, count]`.
    pub top_codes: Vec<(u16, u64)>,
    /// The window's most frequent failure reasons: `[reason, count]`.
    pub top_reasons: Vec<(Reason, u64)>,
    /// Checks running now, longest-running first.
    pub in_flight: Vec<UrlTime>,
    /// The slowest check of the window.
    pub slowest: Option<UrlTime>,
    /// Lateness (start − due) over the window.
    pub lateness_ms: Lateness,
    /// Jobs waiting in the queue.
    pub queue_depth: usize,
    /// Jobs waiting in the overflow FIFO.
    pub overflow_depth: usize,
    /// Occurrences coalesced since start (monitor still pending when due again).
    pub coalesced: u64,
    /// Jobs that went through the overflow FIFO since start.
    pub overflowed: u64,
    /// Occurrences missed since start because the scheduler stalled.
    pub missed: u64,
    /// Monitors in the `down` state.
    pub failing: usize,
    /// Monitors in the `degraded` state (up, needing attention).
    pub degraded: usize,
    /// Of those, how many are backed off (checked less often than their interval).
    pub backed_off: usize,
    /// Monitors in the config.
    pub monitors: usize,
    /// Lines dropped since start: output stalled, or stdout or the log file failed.
    pub dropped_lines: u64,
    /// Results not written to the history database since start (writer behind, or failing).
    pub unwritten: u64,
    /// Notifications given up or dropped since start.
    pub lost_notifications: u64,
    /// Checks since start that failed because of sitewatch itself (not verdicts).
    pub local_errors: u64,
    /// Checks since start that were inconclusive (not verdicts).
    pub inconclusive: u64,
    /// Of the window's checks, local failures.
    pub local_interval: u64,
    /// Of the window's checks, inconclusive ones.
    pub inconclusive_interval: u64,
    /// Stalls of sitewatch (paused, suspended) since start.
    pub stalls: u64,
    /// Periods of network impairment (every canary failing) since start.
    pub impairments: u64,
    /// Worker threads.
    pub workers: usize,
    /// Monitors whose checks are suspect: never up yet, failing, retrying, down or slow.
    pub suspect_monitors: usize,
    /// Suspect checks queued or running now (at most their share of the workers, and the idle
    /// healthy part of the pool for first checks).
    pub suspect_busy: usize,
    /// Of those, first checks of monitors with no verdict yet.
    pub first_busy: usize,
    /// Suspect checks held back now because that share is full: the pool is saturated by
    /// failing monitors.
    pub held_depth: usize,
    /// Suspect checks held back since start.
    pub held_back: u64,
    /// How busy the worker pool was over the window, and when it ran hot what would help.
    pub pool: PoolLoad,
}

impl Report {
    /// Builds a report from the live stats, closing the current window at `now`.
    pub fn collect(
        stats: &Stats,
        monitors: &[Monitor],
        queue_depth: usize,
        now: Instant,
    ) -> Report {
        let window: Window = stats.take_window(now);
        let schedule = stats.schedule();
        let window_s = now.saturating_duration_since(window.since);
        let pool = PoolLoad::new(
            window.busy,
            window_s,
            window.waited,
            window.held,
            stats.workers(),
        );
        Report {
            kind: "report",
            ts: timestamp(SystemTime::now()),
            window_s: window_s.as_secs_f64(),
            checked_total: stats.checked(),
            checked_interval: window.checked,
            down_interval: window.down,
            top_codes: window.tally.top_codes(TOP),
            top_reasons: window.tally.top_reasons(TOP),
            in_flight: stats
                .in_flight()
                .into_iter()
                .map(|(m, since)| {
                    UrlTime::of(&monitors[m], ms(now.saturating_duration_since(since)))
                })
                .collect(),
            slowest: window
                .slowest
                .map(|(m, d)| UrlTime::of(&monitors[m], ms(d))),
            lateness_ms: Lateness {
                p50: ms(window.lateness.quantile(0.5)),
                p99: ms(window.lateness.quantile(0.99)),
                max: ms(window.lateness.max()),
            },
            queue_depth,
            overflow_depth: schedule.overflow_depth,
            coalesced: schedule.coalesced,
            overflowed: schedule.overflowed,
            missed: schedule.missed,
            failing: schedule.down,
            degraded: stats.degraded(),
            backed_off: schedule.backed_off,
            monitors: monitors.len(),
            dropped_lines: stats.dropped_lines(),
            unwritten: stats.unwritten(),
            lost_notifications: stats.lost_notifications(),
            local_errors: stats.local_errors(),
            inconclusive: stats.inconclusive(),
            local_interval: window.local,
            inconclusive_interval: window.inconclusive,
            stalls: stats.stalls(),
            impairments: stats.impairments(),
            workers: stats.workers(),
            suspect_monitors: schedule.suspects,
            suspect_busy: schedule.suspect_busy,
            first_busy: schedule.first_busy,
            held_depth: schedule.held_depth,
            held_back: schedule.held_back,
            pool,
        }
    }

    /// The report as one line in `format`.
    pub fn line(&self, format: Format) -> String {
        match format {
            Format::Json => serde_json::to_string(self).expect("a report always serializes"),
            Format::Text => self.text(),
        }
    }

    fn text(&self) -> String {
        let mut parts = vec![format!(
            "{}  REPORT  checked {} (+{} in {}, {} down)  down {}/{} ({} backed off)",
            self.ts,
            self.checked_total,
            self.checked_interval,
            seconds(self.window_s),
            self.down_interval,
            self.failing,
            self.monitors,
            self.backed_off
        )];
        if self.degraded > 0 {
            parts.push(format!("degraded {}", self.degraded));
        }
        let codes: Vec<String> = self
            .top_codes
            .iter()
            .map(|(c, n)| format!("{c}x{n}"))
            .collect();
        parts.push(format!("codes {}", list_or_none(&codes)));
        if !self.top_reasons.is_empty() {
            let reasons: Vec<String> = self
                .top_reasons
                .iter()
                .map(|(r, n)| format!("{r}x{n}"))
                .collect();
            parts.push(format!("reasons {}", reasons.join(" ")));
        }
        if let Some(s) = &self.slowest {
            parts.push(format!("slowest {s}"));
        }
        let running: Vec<String> = self
            .in_flight
            .iter()
            .take(TOP)
            .map(ToString::to_string)
            .collect();
        let more = self.in_flight.len().saturating_sub(TOP);
        let more = if more > 0 {
            format!(" (+{more} more)")
        } else {
            String::new()
        };
        parts.push(format!(
            "in flight {}: {}{more}",
            self.in_flight.len(),
            list_or_none(&running)
        ));
        parts.push(format!(
            "queue {} overflow {}  coalesced {} overflowed {} missed {}",
            self.queue_depth, self.overflow_depth, self.coalesced, self.overflowed, self.missed
        ));
        let l = &self.lateness_ms;
        parts.push(format!(
            "lateness p50 {} p99 {} max {}",
            millis(l.p50),
            millis(l.p99),
            millis(l.max)
        ));
        parts.push(self.pool.text(self.workers));
        if self.held_depth > 0 {
            let first = if self.first_busy > 0 {
                format!(
                    ", {} of them first checks of new monitors",
                    grouped(self.first_busy as u64)
                )
            } else {
                String::new()
            };
            parts.push(format!(
                "pool saturated by {} failing or slow monitors: {} workers busy with them \
                 (their share of {}{first}), {} checks held back; raise --workers or lower \
                 their timeout",
                grouped(self.suspect_monitors as u64),
                grouped(self.suspect_busy as u64),
                grouped(self.workers as u64),
                grouped(self.held_depth as u64),
            ));
        }
        // Losses are said only once there are some: they should never be there.
        if self.dropped_lines > 0 {
            parts.push(format!(
                "{} lines dropped (output stalled or failing)",
                self.dropped_lines
            ));
        }
        if self.unwritten > 0 {
            parts.push(format!(
                "{} results not written to the history database",
                self.unwritten
            ));
        }
        if self.lost_notifications > 0 {
            parts.push(format!("{} notifications lost", self.lost_notifications));
        }
        // Not verdicts, said once there are some: sitewatch's own trouble, not the sites'.
        if self.local_errors > 0 {
            parts.push(format!(
                "local_errors {} (+{}): sitewatch's own, not the sites'",
                self.local_errors, self.local_interval
            ));
        }
        if self.inconclusive > 0 || self.stalls > 0 || self.impairments > 0 {
            parts.push(format!(
                "inconclusive {} (+{})  paused {}  network impaired {}",
                self.inconclusive, self.inconclusive_interval, self.stalls, self.impairments
            ));
        }
        parts.join("  |  ")
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

/// A count with thousands separated: `4,800`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A human time from milliseconds: `12 ms`, `4.20 s`.
pub fn millis(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

fn seconds(s: f64) -> String {
    format!("{s:.0}s")
}

/// What the reporter thread needs.
pub struct Reporter {
    /// Live counters.
    pub stats: Arc<Stats>,
    /// The monitors, by index (loaded per report: a reload may replace the list).
    pub monitors: Arc<Catalog>,
    /// A handle on the job queue, to read its depth.
    pub queue: Receiver<Job>,
    /// Output format.
    pub format: Format,
    /// Time between reports.
    pub every: Duration,
}

impl Reporter {
    /// The reporter thread's body: reports every `every` until `stop` disconnects.
    pub fn run(self, stop: Receiver<()>) {
        let mut next = Instant::now() + self.every;
        loop {
            let wait = next.saturating_duration_since(Instant::now());
            select! {
                recv(stop) -> _ => return,
                default(wait) => {
                    let now = Instant::now();
                    let report = Report::collect(&self.stats, &self.monitors.load(), self.queue.len(), now);
                    if !emit(&report.line(self.format)) {
                        self.stats.add_dropped_line();
                    }
                    next += self.every;
                    if next <= now {
                        // Suspended (laptop lid, SIGSTOP): resume the cadence from now.
                        next = now + self.every;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            kind: "report",
            ts: "2026-11-23T09:00:00.000Z".into(),
            window_s: 60.0,
            checked_total: 10,
            checked_interval: 10,
            down_interval: 0,
            top_codes: vec![(200, 10)],
            top_reasons: Vec::new(),
            in_flight: Vec::new(),
            slowest: None,
            lateness_ms: Lateness {
                p50: 0.1,
                p99: 1.0,
                max: 2.0,
            },
            queue_depth: 0,
            overflow_depth: 0,
            coalesced: 0,
            overflowed: 0,
            missed: 0,
            failing: 0,
            degraded: 0,
            backed_off: 0,
            monitors: 1,
            dropped_lines: 0,
            unwritten: 0,
            lost_notifications: 0,
            local_errors: 0,
            inconclusive: 0,
            local_interval: 0,
            inconclusive_interval: 0,
            stalls: 0,
            impairments: 0,
            workers: 64,
            suspect_monitors: 0,
            suspect_busy: 0,
            first_busy: 0,
            held_depth: 0,
            held_back: 0,
            pool: PoolLoad::new(Duration::from_secs(6), Duration::from_secs(60), 0, 0, 64),
        }
    }

    #[test]
    fn the_pool_line_says_how_busy_and_when_hot_what_would_help() {
        let calm = report();
        assert!(
            calm.line(Format::Text)
                .contains("pool: 0.1 of 64 workers busy on average (0 %)"),
            "{}",
            calm.line(Format::Text)
        );
        let json: serde_json::Value = serde_json::from_str(&calm.line(Format::Json)).unwrap();
        assert_eq!(json["pool"]["hot"], false);
        assert_eq!(json["pool"]["suggested_workers"], serde_json::Value::Null);
        let hot = Report {
            pool: PoolLoad::new(
                Duration::from_secs(63 * 60),
                Duration::from_secs(60),
                40,
                0,
                64,
            ),
            ..report()
        };
        assert!(
            hot.line(Format::Text).contains(
                "pool: 63.0 of 64 workers busy on average (98 %), 40 checks waited 1 s or more \
                 for a worker: running hot; --workers 92 would leave headroom (70 % busy)"
            ),
            "{}",
            hot.line(Format::Text)
        );
        let json: serde_json::Value = serde_json::from_str(&hot.line(Format::Json)).unwrap();
        assert_eq!(json["pool"]["busy_workers"], 63.0);
        assert_eq!(json["pool"]["waited"], 40);
        assert_eq!(json["pool"]["suggested_workers"], 92);
    }

    #[test]
    fn non_verdicts_are_shown_under_their_own_names() {
        let quiet = report().line(Format::Text);
        assert!(!quiet.contains("local_errors"), "{quiet}");
        assert!(!quiet.contains("inconclusive"), "{quiet}");
        let line = Report {
            local_errors: 7,
            local_interval: 3,
            inconclusive: 2,
            stalls: 1,
            ..report()
        }
        .line(Format::Text);
        assert!(
            line.contains("local_errors 7 (+3): sitewatch's own, not the sites'"),
            "{line}"
        );
        assert!(
            line.contains("inconclusive 2 (+0)  paused 1  network impaired 0"),
            "{line}"
        );
        let json: serde_json::Value = serde_json::from_str(&report().line(Format::Json)).unwrap();
        assert_eq!(json["local_errors"], 0);
        assert_eq!(json["inconclusive"], 0);
    }

    #[test]
    fn saturation_by_failing_monitors_says_what_would_help() {
        assert!(!report().line(Format::Text).contains("saturated"));
        let line = Report {
            suspect_monitors: 4_800,
            suspect_busy: 32,
            held_depth: 4_768,
            held_back: 100_000,
            ..report()
        }
        .line(Format::Text);
        assert!(
            line.contains(
                "pool saturated by 4,800 failing or slow monitors: 32 workers busy with them \
                 (their share of 64), 4,768 checks held back; raise --workers or lower their timeout"
            ),
            "{line}"
        );
        let line = Report {
            suspect_monitors: 4_800,
            suspect_busy: 50,
            first_busy: 20,
            held_depth: 4_750,
            ..report()
        }
        .line(Format::Text);
        assert!(
            line.contains(
                "50 workers busy with them (their share of 64, 20 of them first checks of new \
                 monitors), 4,750 checks held back"
            ),
            "{line}"
        );
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn losses_are_shown_only_when_there_are_some() {
        let quiet = report().line(Format::Text);
        for word in ["dropped", "not written", "lost"] {
            assert!(!quiet.contains(word), "{quiet}");
        }
        let lossy = Report {
            dropped_lines: 3,
            unwritten: 120,
            lost_notifications: 2,
            ..report()
        }
        .line(Format::Text);
        for part in [
            "3 lines dropped (output stalled or failing)",
            "120 results not written to the history database",
            "2 notifications lost",
        ] {
            assert!(lossy.contains(part), "{part}: {lossy}");
        }
        let json: serde_json::Value = serde_json::from_str(&report().line(Format::Json)).unwrap();
        assert_eq!(json["unwritten"], 0);
        assert_eq!(json["lost_notifications"], 0);
    }
}
