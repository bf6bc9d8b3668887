//! The final summary printed when a run ends (Ctrl-C, SIGTERM, `--once`, `--duration`).
//!
//! It is built after every thread has been joined, from the same counters the reporter reads,
//! so its totals include every check that finished.

use std::cmp::Ordering;
use std::io::Write;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::config::Monitor;
use crate::output::{emit, ms, timestamp, Format};
use crate::probe::Reason;
use crate::reporter::UrlTime;
use crate::state::State;
use crate::stats::{MonitorTotals, Stats};

const TOP: usize = 5;

/// A monitor's uptime over the run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Uptime {
    /// The monitor's URL.
    pub url: String,
    /// The monitor's id (two monitors may share a URL).
    pub id: String,
    /// Checks finished.
    pub checks: u64,
    /// Percentage of them that were up.
    pub up_pct: f64,
}

/// What a run did, overall.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    #[serde(rename = "type")]
    kind: &'static str,
    /// When the summary was made.
    pub ts: String,
    /// How long the run lasted, in seconds.
    pub runtime_s: f64,
    /// Where the checks were made from (`--location`), if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<&'static str>,
    /// Monitors in the config.
    pub monitors: usize,
    /// Checks finished.
    pub checked_total: u64,
    /// Of those, up.
    pub up_total: u64,
    /// Of those, down.
    pub down_total: u64,
    /// Of those, local failures of sitewatch itself (not verdicts: out of file descriptors,
    /// memory, ports or threads).
    pub local_errors: u64,
    /// Of those, inconclusive (not verdicts: sitewatch was paused, or its network was down).
    pub inconclusive: u64,
    /// Times sitewatch found it had not been running (paused, suspended).
    pub stalls: u64,
    /// Times every connectivity canary failed (sitewatch's network impaired).
    pub impairments: u64,
    /// Most frequent status codes over the run: `[code, count]`.
    pub top_codes: Vec<(u16, u64)>,
    /// Most frequent failure reasons over the run: `[reason, count]`.
    pub top_reasons: Vec<(Reason, u64)>,
    /// The monitors with the slowest single check.
    pub slowest: Vec<UrlTime>,
    /// URLs of monitors in the `down` state at the end.
    pub failing: Vec<String>,
    /// Their ids, in the same order (two monitors may share a URL).
    pub failing_ids: Vec<String>,
    /// Of those, how many were backed off (checked less often than their interval).
    pub backed_off: usize,
    /// URLs of monitors in the `degraded` state at the end (up, needing attention).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub degraded: Vec<String>,
    /// Their ids, in the same order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub degraded_ids: Vec<String>,
    /// Monitors with the lowest uptime (only those below 100 %).
    pub worst: Vec<Uptime>,
    /// Monitors never checked (the run ended first).
    pub never_checked: usize,
    /// URLs of the monitors a `--once` run ended without a verdict for (cut short by
    /// `--duration` or a signal while retries were pending or checks unstarted); never counted
    /// as up. Always empty without `--once`.
    pub undecided: Vec<String>,
    /// Their ids, in the same order.
    pub undecided_ids: Vec<String>,
    /// Checks of failing, slow or never-checked monitors held back because such checks filled
    /// their share of the workers (`--suspect-share`).
    pub held_back: u64,
    /// Occurrences coalesced (monitor still pending when due again).
    pub coalesced: u64,
    /// Jobs that went through the overflow FIFO.
    pub overflowed: u64,
    /// Occurrences missed because the scheduler stalled.
    pub missed: u64,
    /// Queued checks dropped unstarted at shutdown.
    pub skipped: u64,
    /// Lines lost: output stalled, or stdout or the log file failed (not this summary's own).
    pub dropped_lines: u64,
    /// Notifications not delivered (queues full, or every attempt failed).
    pub lost_notifications: u64,
    /// Results (checks and state changes) that did not reach the history database.
    pub unwritten: u64,
    /// The run was stopped at once by a second stop request: checks in flight were abandoned
    /// and notifications not waited for (what was measured is counted and stored).
    pub interrupted: bool,
    /// Checks abandoned in flight by that stop (0 otherwise).
    pub abandoned: usize,
}

/// `url [id], url [id]`: URLs with their monitors' ids, for a text line.
fn with_ids(urls: &[String], ids: &[String]) -> String {
    let shown: Vec<String> = urls
        .iter()
        .zip(ids)
        .map(|(url, id)| format!("{url} [{id}]"))
        .collect();
    shown.join(", ")
}

/// Inserts `item` into `top`, kept sorted by `order` and at most `n` long, after the items equal
/// to it, so that ties keep config order as a stable sort would.
fn keep_top<T>(top: &mut Vec<T>, item: T, n: usize, order: impl Fn(&T, &T) -> Ordering) {
    let at = top.partition_point(|x| order(x, &item) != Ordering::Greater);
    if at < n {
        top.insert(at, item);
        top.truncate(n);
    }
}

impl Summary {
    /// Builds the summary from the final stats.
    pub fn collect(stats: &Stats, monitors: &[Monitor]) -> Summary {
        let url = |t: &MonitorTotals| monitors[t.monitor].url.to_string();
        let id = |t: &MonitorTotals| monitors[t.monitor].id().to_owned();
        // One pass, keeping only the few the summary lists: no list as long as the config.
        let (mut slowest, mut worst) = (Vec::new(), Vec::new());
        let (mut failing, mut failing_ids, mut never_checked) = (Vec::new(), Vec::new(), 0);
        let (mut degraded, mut degraded_ids) = (Vec::new(), Vec::new());
        for t in stats.monitor_totals() {
            if t.checks == 0 {
                never_checked += 1;
            } else {
                keep_top(&mut slowest, t, TOP, |a, b| b.max.cmp(&a.max));
                if t.up < t.checks {
                    keep_top(&mut worst, t, TOP, |a, b| {
                        a.up_pct()
                            .total_cmp(&b.up_pct())
                            .then(b.checks.cmp(&a.checks))
                    });
                }
            }
            if t.failing {
                failing.push(url(&t));
                failing_ids.push(id(&t));
            }
            if stats.state(t.monitor) == crate::state::State::Degraded {
                degraded.push(url(&t));
                degraded_ids.push(id(&t));
            }
        }
        let schedule = stats.schedule();
        let tally = stats.totals();
        let checked = stats.checked();
        Summary {
            kind: "summary",
            ts: timestamp(SystemTime::now()),
            runtime_s: stats.started().elapsed().as_secs_f64(),
            location: crate::location::get(),
            monitors: monitors.len(),
            checked_total: checked,
            up_total: checked
                .saturating_sub(stats.down())
                .saturating_sub(stats.local_errors())
                .saturating_sub(stats.inconclusive()),
            down_total: stats.down(),
            local_errors: stats.local_errors(),
            inconclusive: stats.inconclusive(),
            stalls: stats.stalls(),
            impairments: stats.impairments(),
            top_codes: tally.top_codes(TOP),
            top_reasons: tally.top_reasons(TOP),
            slowest: slowest
                .iter()
                .map(|t| UrlTime::of(&monitors[t.monitor], ms(t.max)))
                .collect(),
            failing,
            failing_ids,
            backed_off: schedule.backed_off,
            degraded,
            degraded_ids,
            worst: worst
                .iter()
                .map(|t| Uptime {
                    url: url(t),
                    id: id(t),
                    checks: t.checks,
                    up_pct: (t.up_pct() * 100.0).round() / 100.0,
                })
                .collect(),
            never_checked,
            undecided: Vec::new(),
            undecided_ids: Vec::new(),
            held_back: schedule.held_back,
            coalesced: schedule.coalesced,
            overflowed: schedule.overflowed,
            missed: schedule.missed,
            skipped: stats.skipped(),
            dropped_lines: stats.dropped_lines(),
            lost_notifications: stats.lost_notifications(),
            unwritten: stats.unwritten(),
            interrupted: false,
            abandoned: 0,
        }
    }

    /// Marks the summary of a run stopped at once, with the checks it abandoned in flight.
    pub fn mark_interrupted(mut self, abandoned: usize) -> Summary {
        self.interrupted = true;
        self.abandoned = abandoned;
        self
    }

    /// True when some monitor ended in the `down` state.
    pub fn any_failing(&self) -> bool {
        !self.failing.is_empty()
    }

    /// For a `--once` run: lists the monitors without a verdict at the end (state still
    /// `unknown`: in once mode a monitor's one state change is its verdict).
    pub fn with_undecided(mut self, stats: &Stats, monitors: &[Monitor]) -> Summary {
        (self.undecided, self.undecided_ids) = (0..monitors.len())
            .filter(|&m| stats.state(m) == State::Unknown)
            .map(|m| (monitors[m].url.to_string(), monitors[m].id().to_owned()))
            .unzip();
        self
    }

    /// True when a `--once` run ended with some monitor undecided.
    pub fn any_undecided(&self) -> bool {
        !self.undecided.is_empty()
    }

    /// Writes the summary: one JSON line, or a few text lines each starting `… SUMMARY`. If
    /// stdout or the log file could not take it (closed, full), it is also written to stderr.
    pub fn emit(&self, format: Format) {
        let lines = match format {
            Format::Json => {
                vec![serde_json::to_string(self).expect("a summary always serializes")]
            }
            Format::Text => self
                .text_lines()
                .iter()
                .map(|line| format!("{}  SUMMARY  {line}", self.ts))
                .collect(),
        };
        let mut lost = false;
        for line in &lines {
            lost |= !emit(line);
        }
        if lost {
            log::warn!("the summary could not be written to every output; here it is on stderr");
            // Not eprintln!, which panics when stderr fails too: nothing more can be done then.
            let _ = writeln!(std::io::stderr(), "{}", lines.join("\n"));
        }
    }

    fn text_lines(&self) -> Vec<String> {
        let runtime =
            humantime::format_duration(Duration::from_secs(self.runtime_s.round() as u64));
        let mut first = format!(
            "ran {runtime}: {} monitors, {} checks, {} up, {} down",
            self.monitors, self.checked_total, self.up_total, self.down_total
        );
        // Not verdicts: said only once there are some, under their own names.
        if self.local_errors > 0 {
            first.push_str(&format!(
                ", {} local errors (sitewatch's own)",
                self.local_errors
            ));
        }
        if self.inconclusive > 0 {
            first.push_str(&format!(", {} inconclusive", self.inconclusive));
        }
        let mut lines = vec![first];
        if self.stalls > 0 || self.impairments > 0 {
            lines.push(format!(
                "sitewatch itself: paused {} time(s), network impaired {} time(s) (checks then were \
                 inconclusive and retried)",
                self.stalls, self.impairments
            ));
        }
        if self.interrupted {
            lines.insert(
                0,
                format!(
                    "interrupted: stopped at once by a second stop request; {} check(s) in \
                     flight abandoned, notifications not waited for",
                    self.abandoned
                ),
            );
        }
        if self.any_undecided() {
            let n = self.undecided.len();
            lines.push(format!(
                "cut short after {runtime}: {n} monitor{} undecided",
                if n == 1 { "" } else { "s" }
            ));
        }
        let codes: Vec<String> = self
            .top_codes
            .iter()
            .map(|(c, n)| format!("{c}x{n}"))
            .collect();
        lines.push(format!("top codes: {}", or_none(codes.join(" "))));
        if !self.top_reasons.is_empty() {
            let r: Vec<String> = self
                .top_reasons
                .iter()
                .map(|(r, n)| format!("{r}x{n}"))
                .collect();
            lines.push(format!("failure reasons: {}", r.join(" ")));
        }
        let slow: Vec<String> = self.slowest.iter().map(ToString::to_string).collect();
        lines.push(format!("slowest: {}", or_none(slow.join(", "))));
        lines.push(format!(
            "down at end ({}, {} backed off): {}",
            self.failing.len(),
            self.backed_off,
            or_none(with_ids(&self.failing, &self.failing_ids))
        ));
        if !self.degraded.is_empty() {
            lines.push(format!(
                "degraded at end ({}, up but needing attention): {}",
                self.degraded.len(),
                with_ids(&self.degraded, &self.degraded_ids)
            ));
        }
        if self.any_undecided() {
            lines.push(format!(
                "undecided at end ({}, no verdict, not counted as up): {}",
                self.undecided.len(),
                with_ids(&self.undecided, &self.undecided_ids)
            ));
        }
        if !self.worst.is_empty() {
            let w: Vec<String> = self
                .worst
                .iter()
                .map(|u| format!("{} [{}] {:.1}% of {}", u.url, u.id, u.up_pct, u.checks))
                .collect();
            lines.push(format!("lowest uptime: {}", w.join(", ")));
        }
        lines.push(format!(
            "schedule: {} coalesced, {} overflowed, {} missed, {} queued checks skipped at stop, {} never checked",
            self.coalesced, self.overflowed, self.missed, self.skipped, self.never_checked
        ));
        if self.held_back > 0 {
            lines.push(format!(
                "{} checks of failing, slow or new monitors held back (their part of the workers was busy)",
                self.held_back
            ));
        }
        if self.dropped_lines > 0 {
            lines.push(format!(
                "{} lines dropped (output stalled or failing; see stderr)",
                self.dropped_lines
            ));
        }
        if self.lost_notifications > 0 {
            lines.push(format!(
                "{} notifications lost (see the warnings on stderr)",
                self.lost_notifications
            ));
        }
        if self.unwritten > 0 {
            lines.push(format!(
                "history: {} results could not be written to the database (see the errors above)",
                self.unwritten
            ));
        }
        lines
    }
}

fn or_none(s: String) -> String {
    if s.is_empty() {
        "none".to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::probe::{Observation, Outcome};

    #[test]
    fn two_monitors_of_one_url_are_told_apart_by_id() {
        let config = Config::parse(
            r#"[{"url": "http://127.0.0.1:9/a"}, {"url": "http://127.0.0.1:9/a", "method": "HEAD"}]"#,
        )
        .unwrap();
        let (a, b) = (config.monitors[0].id(), config.monitors[1].id());
        assert_ne!(a, b);
        let stats = Stats::new(2, 1);
        let down = Observation {
            status: Some(500),
            bytes: Some(0),
            ..Observation::without_response(
                Duration::from_millis(9),
                Outcome::Down {
                    reason: Reason::Status,
                    detail: "HTTP 500".into(),
                },
            )
        };
        stats.record(1, &down, Duration::ZERO);
        stats.set_state(1, crate::state::State::Down);
        let s = Summary::collect(&stats, &config.monitors).with_undecided(&stats, &config.monitors);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["failing"], serde_json::json!(["http://127.0.0.1:9/a"]));
        assert_eq!(v["failing_ids"], serde_json::json!([b]));
        assert_eq!(v["undecided_ids"], serde_json::json!([a]));
        assert_eq!(v["slowest"][0]["id"], b);
        assert_eq!(v["worst"][0]["id"], b);
        let lines = s.text_lines();
        let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
        assert!(
            has(&format!(
                "down at end (1, 0 backed off): http://127.0.0.1:9/a [{b}]"
            )),
            "{lines:?}"
        );
        assert!(has(&format!("http://127.0.0.1:9/a [{a}]")), "{lines:?}");
        assert!(
            has(&format!("slowest: http://127.0.0.1:9/a [{b}] ")),
            "{lines:?}"
        );
    }

    #[test]
    fn summary_counts_failing_and_worst() {
        let config = Config::parse(
            r#"[{"url": "http://127.0.0.1:9/a"}, {"url": "http://127.0.0.1:9/b"}, {"url": "http://127.0.0.1:9/c"}]"#,
        )
        .unwrap();
        let stats = Stats::new(3, 1);
        let obs = |up: bool, status: u16, ms: u64| Observation {
            status: Some(status),
            bytes: Some(0),
            ..Observation::without_response(
                Duration::from_millis(ms),
                if up {
                    Outcome::Up
                } else {
                    Outcome::Down {
                        reason: Reason::Status,
                        detail: "HTTP 500".into(),
                    }
                },
            )
        };
        stats.record(0, &obs(true, 200, 5), Duration::ZERO);
        stats.record(1, &obs(true, 200, 50), Duration::ZERO);
        stats.record(1, &obs(false, 500, 7), Duration::ZERO);
        stats.set_state(1, crate::state::State::Down);
        let s = Summary::collect(&stats, &config.monitors);
        assert_eq!((s.checked_total, s.up_total, s.down_total), (3, 2, 1));
        assert_eq!(s.failing, vec!["http://127.0.0.1:9/b".to_string()]);
        assert!(s.any_failing());
        assert_eq!(
            s.worst,
            vec![Uptime {
                url: "http://127.0.0.1:9/b".into(),
                id: "127.0.0.1-9-b".into(),
                checks: 2,
                up_pct: 50.0
            }]
        );
        assert_eq!(s.slowest[0].url, "http://127.0.0.1:9/b");
        assert_eq!(s.never_checked, 1);
        assert_eq!(s.top_codes, vec![(200, 2), (500, 1)]);
        let v: serde_json::Value = serde_json::to_value(&s).unwrap();
        assert_eq!(v["type"], "summary");
        assert_eq!(v["checked_total"], 3);
        assert_eq!(
            (&v["local_errors"], &v["inconclusive"]),
            (&0.into(), &0.into())
        );
    }

    #[test]
    fn summary_shows_non_verdicts_under_their_own_names() {
        let config = Config::parse(r#"[{"url": "http://127.0.0.1:9/a"}]"#).unwrap();
        let stats = Stats::new(1, 1);
        let obs = |outcome| Observation {
            ..Observation::without_response(Duration::from_millis(3), outcome)
        };
        stats.record(0, &obs(Outcome::Up), Duration::ZERO);
        let local = Outcome::Local {
            kind: crate::probe::LocalKind::FileDescriptors,
            detail: "Too many open files".into(),
        };
        stats.record(0, &obs(local.clone()), Duration::ZERO);
        stats.record(0, &obs(local), Duration::ZERO);
        let impaired = Outcome::Down {
            reason: Reason::Connect,
            detail: "connection refused".into(),
        }
        .inconclusive(crate::probe::Cause::NetworkImpaired, "network impaired");
        stats.record(0, &obs(impaired), Duration::ZERO);
        stats.add_stall();
        let s = Summary::collect(&stats, &config.monitors);
        assert_eq!(
            (
                s.checked_total,
                s.up_total,
                s.down_total,
                s.local_errors,
                s.inconclusive
            ),
            (4, 1, 0, 2, 1)
        );
        assert!(s.worst.is_empty(), "non-verdicts are not in uptime");
        let text = s.text_lines();
        assert!(
            text[0].ends_with("1 up, 0 down, 2 local errors (sitewatch's own), 1 inconclusive"),
            "{text:?}"
        );
        assert!(
            text[1].starts_with("sitewatch itself: paused 1 time(s)"),
            "{text:?}"
        );
        let v: serde_json::Value = serde_json::to_value(&s).unwrap();
        assert_eq!((&v["local_errors"], &v["stalls"]), (&2.into(), &1.into()));
    }

    #[test]
    fn once_lists_monitors_without_a_verdict_as_undecided() {
        let config = Config::parse(
            r#"[{"url": "http://127.0.0.1:9/a"}, {"url": "http://127.0.0.1:9/b"}, {"url": "http://127.0.0.1:9/c"}]"#,
        )
        .unwrap();
        let stats = Stats::new(3, 1);
        stats.set_state(0, crate::state::State::Up);
        stats.set_state(2, crate::state::State::Down);
        let repeat = Summary::collect(&stats, &config.monitors);
        assert!(
            !repeat.any_undecided(),
            "only --once has undecided monitors"
        );
        let s = Summary::collect(&stats, &config.monitors).with_undecided(&stats, &config.monitors);
        assert_eq!(s.undecided, vec!["http://127.0.0.1:9/b".to_string()]);
        let lines = s.text_lines();
        assert!(
            lines.contains(&"cut short after 0s: 1 monitor undecided".to_string()),
            "{lines:?}"
        );
        assert!(lines.contains(
            &"undecided at end (1, no verdict, not counted as up): http://127.0.0.1:9/b [127.0.0.1-9-b]"
                .to_string()
        ));
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["undecided"], serde_json::json!(["http://127.0.0.1:9/b"]));
    }

    #[test]
    fn keep_top_matches_a_stable_sort_then_take() {
        // Values with ties, in "config order"; descending like `slowest`.
        let values = [3, 9, 1, 9, 4, 4, 7, 0, 9, 2, 4, 8];
        let tagged: Vec<(usize, i32)> = values.iter().copied().enumerate().collect();
        for n in [0, 1, 3, 5, 20] {
            let mut top = Vec::new();
            for &item in &tagged {
                keep_top(&mut top, item, n, |a, b| b.1.cmp(&a.1));
            }
            let mut sorted = tagged.clone();
            sorted.sort_by_key(|t| std::cmp::Reverse(t.1));
            sorted.truncate(n);
            assert_eq!(top, sorted, "n = {n}");
        }
    }
}
