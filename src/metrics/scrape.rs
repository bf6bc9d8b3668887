//! The `/metrics` scrape: sitewatch's live counters in the Prometheus text format, produced
//! as the response is sent.
//!
//! A [`Scrape`] is an [`io::Read`] that renders the next 64 KiB of text each time its buffer is
//! drained, family by family and, inside a family, monitor by monitor. So a scrape of 100,000
//! monitors (tens of megabytes) never holds more than one chunk, and allocates nothing per
//! series. Each value is read from the atomics when its line is written: a scrape is not one
//! instant's snapshot (no exporter's is), but every line is a value that was true, and a
//! histogram's buckets, `_sum` and `_count` come from one read of that histogram.
//!
//! Families: sitewatch's own first, then the per-monitor ones (labels `id`, `url`, `group`)
//! unless per-monitor series are off. Local failures and inconclusive checks are counted under
//! their own names and never in a monitor's checks or failures, which count verdicts only.

use std::io;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use super::exposition::{le, Kind, Value, Writer};
use crate::config::Monitor;
use crate::counters::{Snapshot, DURATION_BOUNDS_US, LATENESS_BOUNDS_US, PHASE_BOUNDS_US};
use crate::probe::{Phases, Reason};
use crate::state::State;
use crate::stats::Stats;

/// Text rendered per refill of the buffer.
const CHUNK: usize = 64 * 1024;

/// What a scrape reads besides [`Stats`]: figures only the server's caller knows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras {
    /// Jobs waiting in the queue right now.
    pub queue_depth: usize,
}

/// The per-monitor families, in the order they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Up,
    Checks,
    Failures,
    Duration,
    LastCheck,
    StateChanges,
    Degraded,
    CertExpiry,
}

const FAMILIES: [Family; 8] = [
    Family::Up,
    Family::Checks,
    Family::Failures,
    Family::Duration,
    Family::LastCheck,
    Family::StateChanges,
    Family::Degraded,
    Family::CertExpiry,
];

impl Family {
    fn name(self) -> &'static str {
        match self {
            Family::Up => "sitewatch_up",
            Family::Checks => "sitewatch_checks_total",
            Family::Failures => "sitewatch_check_failures_total",
            Family::Duration => "sitewatch_check_duration_seconds",
            Family::LastCheck => "sitewatch_last_check_timestamp_seconds",
            Family::StateChanges => "sitewatch_state_changes_total",
            Family::Degraded => "sitewatch_degraded",
            Family::CertExpiry => "sitewatch_cert_expiry_timestamp_seconds",
        }
    }

    fn kind(self) -> Kind {
        match self {
            Family::Up | Family::LastCheck | Family::Degraded | Family::CertExpiry => Kind::Gauge,
            Family::Checks | Family::Failures | Family::StateChanges => Kind::Counter,
            Family::Duration => Kind::Histogram,
        }
    }

    fn help(self) -> &'static str {
        match self {
            Family::Up => {
                "1 if the monitor is up (degraded included), 0 if down; absent while its state \
                 is unknown."
            }
            Family::Degraded => {
                "1 if the monitor is degraded (answering, but needing attention), else 0; \
                 absent while its state is unknown."
            }
            Family::CertExpiry => {
                "Earliest expiry (notAfter, Unix time) of the certificates the monitor's site \
                 last presented; absent before any TLS handshake."
            }
            Family::Checks => {
                "Verdicts about the monitor's site (up or down); local failures of sitewatch \
                 and inconclusive checks are not counted here."
            }
            Family::Failures => "Down verdicts about the monitor's site, by reason.",
            Family::Duration => "Total time of the monitor's checks that gave a verdict.",
            Family::LastCheck => {
                "When the monitor's last check ended (Unix time), whatever its nature."
            }
            Family::StateChanges => "Changes of the monitor's state (unknown, up, degraded, down).",
        }
    }

    /// Whether the family needs the per-monitor counters.
    fn needs_counters(self) -> bool {
        matches!(self, Family::Failures | Family::Duration)
    }
}

/// Where the rendering is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Globals,
    Monitors { family: usize, next: usize },
    Done,
}

/// One scrape of `/metrics`, read as a stream of text.
pub struct Scrape {
    stats: Arc<Stats>,
    monitors: Arc<Vec<Monitor>>,
    extras: Extras,
    per_monitor: bool,
    stage: Stage,
    buf: Vec<u8>,
    pos: usize,
    duration_le: Vec<String>,
}

impl Scrape {
    /// A scrape of `stats` for `monitors`; per-monitor families only with `per_monitor`.
    pub fn new(
        stats: Arc<Stats>,
        monitors: Arc<Vec<Monitor>>,
        extras: Extras,
        per_monitor: bool,
    ) -> Scrape {
        Scrape {
            stats,
            monitors,
            extras,
            per_monitor,
            stage: Stage::Globals,
            buf: Vec::with_capacity(CHUNK + 4096),
            pos: 0,
            duration_le: DURATION_BOUNDS_US.iter().map(|&b| le(b)).collect(),
        }
    }

    /// The whole text at once (tests, small lists).
    pub fn to_vec(mut self) -> Vec<u8> {
        let mut out = Vec::new();
        io::copy(&mut self, &mut out).expect("reading a scrape cannot fail");
        out
    }

    /// Renders at least one more chunk into the (drained) buffer, unless done.
    fn fill(&mut self) {
        self.buf.clear();
        self.pos = 0;
        while self.buf.len() < CHUNK {
            match self.stage {
                Stage::Globals => {
                    globals(&mut Writer::new(&mut self.buf), &self.stats, self.extras);
                    self.stage = if self.per_monitor {
                        Stage::Monitors { family: 0, next: 0 }
                    } else {
                        Stage::Done
                    };
                }
                Stage::Monitors { family, next } => {
                    let Some(&f) = FAMILIES.get(family) else {
                        self.stage = Stage::Done;
                        continue;
                    };
                    if f.needs_counters() && !self.stats.has_monitor_counters() {
                        self.stage = Stage::Monitors {
                            family: family + 1,
                            next: 0,
                        };
                        continue;
                    }
                    let mut w = Writer::new(&mut self.buf);
                    if next == 0 {
                        w.family(f.name(), f.kind(), f.help());
                    }
                    let mut i = next;
                    while i < self.monitors.len() && w.len() < CHUNK {
                        monitor_samples(
                            &mut w,
                            f,
                            &self.stats,
                            &self.monitors[i],
                            i,
                            &self.duration_le,
                        );
                        i += 1;
                    }
                    self.stage = if i < self.monitors.len() {
                        Stage::Monitors { family, next: i }
                    } else {
                        Stage::Monitors {
                            family: family + 1,
                            next: 0,
                        }
                    };
                }
                Stage::Done => return,
            }
        }
    }
}

impl io::Read for Scrape {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.buf.len() {
            self.fill();
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// A monitor's identifying labels: `id`, `url`, `group`, and `location` when the instance has
/// one (so that series from several locations stay apart in one Prometheus).
fn labels(monitor: &Monitor) -> Vec<(&'static str, &str)> {
    let mut labels = vec![
        ("id", monitor.id()),
        ("url", &*monitor.url),
        ("group", monitor.group().unwrap_or("")),
    ];
    if let Some(location) = crate::location::get() {
        labels.push(("location", location));
    }
    labels
}

fn monitor_samples(
    w: &mut Writer<'_>,
    family: Family,
    stats: &Stats,
    monitor: &Monitor,
    i: usize,
    duration_le: &[String],
) {
    let labels = labels(monitor);
    let name = family.name();
    match family {
        Family::Up => {
            let up = match stats.state(i) {
                // Degraded answers: up, as in uptime (its own family says degraded).
                State::Up | State::Degraded => 1,
                State::Down => 0,
                State::Unknown => return,
            };
            w.sample(name, "", &labels, None, Value::Int(up));
        }
        Family::Checks => w.sample(name, "", &labels, None, Value::Int(stats.verdicts(i))),
        Family::StateChanges => {
            w.sample(name, "", &labels, None, Value::Int(stats.state_changes(i)));
        }
        Family::Failures => {
            let Some(c) = stats.monitor_counters(i) else {
                return;
            };
            // Only reasons seen: nine mostly-zero series per monitor would dominate a scrape.
            for (reason, &n) in Reason::ALL.iter().zip(&c.failures) {
                if n > 0 {
                    w.sample(
                        name,
                        "",
                        &labels,
                        Some(("reason", reason.as_str())),
                        Value::Int(n),
                    );
                }
            }
        }
        Family::Duration => {
            if let Some(c) = stats.monitor_counters(i) {
                histogram(w, name, &labels, duration_le, &c.duration);
            }
        }
        Family::LastCheck => {
            let Some(last) = stats.last_check(i) else {
                return;
            };
            let at = last.at.duration_since(UNIX_EPOCH).unwrap_or_default();
            w.sample(name, "", &labels, None, Value::Micros(micros(at)));
        }
        Family::Degraded => {
            let degraded = match stats.state(i) {
                State::Degraded => 1,
                State::Up | State::Down => 0,
                State::Unknown => return,
            };
            w.sample(name, "", &labels, None, Value::Int(degraded));
        }
        Family::CertExpiry => {
            let Some(expiry) = stats.last_check(i).and_then(|l| l.cert_expiry) else {
                return;
            };
            let secs = expiry
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            w.sample(name, "", &labels, None, Value::Int(secs));
        }
    }
}

/// Writes a histogram's samples: cumulative buckets ending with `+Inf` (= count), sum, count.
fn histogram<const N: usize>(
    w: &mut Writer<'_>,
    name: &str,
    labels: &[(&str, &str)],
    les: &[String],
    s: &Snapshot<N>,
) {
    let mut cumulative = 0;
    for (le, n) in les.iter().zip(&s.counts) {
        cumulative += n;
        w.sample(
            name,
            "_bucket",
            labels,
            Some(("le", le)),
            Value::Int(cumulative),
        );
    }
    let count = s.count();
    w.sample(
        name,
        "_bucket",
        labels,
        Some(("le", "+Inf")),
        Value::Int(count),
    );
    w.sample(name, "_sum", labels, None, Value::Micros(s.sum_us));
    w.sample(name, "_count", labels, None, Value::Int(count));
}

/// `sitewatch_check_phase_seconds{phase}`: one histogram per phase over every monitor. Not per
/// monitor: five phases of 100,000 monitors would be 500,000 gauges (8.5 million series as
/// histograms) in every scrape, while these are 85 series whatever the number of monitors. A
/// monitor's own phases are in its check lines, its history and on `/probe`.
fn phase_histograms(w: &mut Writer<'_>, stats: &Stats) {
    let name = "sitewatch_check_phase_seconds";
    let les: Vec<String> = PHASE_BOUNDS_US.iter().map(|&b| le(b)).collect();
    w.family(
        name,
        Kind::Histogram,
        "Where checks that gave a verdict spent their time, over every monitor, by phase: dns, \
         connect, tls, ttfb (request sent to first response byte), transfer (first byte to \
         last); a check counts only in the phases it measured.",
    );
    for (phase, snapshot) in Phases::NAMES.iter().zip(stats.phases()) {
        histogram(w, name, &[("phase", phase)], &les, &snapshot);
    }
}

/// sitewatch's own families.
fn globals(w: &mut Writer<'_>, stats: &Stats, extras: Extras) {
    let simple = |w: &mut Writer<'_>, name: &str, kind: Kind, help: &str, value: u64| {
        w.family(name, kind, help);
        w.sample(name, "", &[], None, Value::Int(value));
    };
    w.family(
        "sitewatch_build_info",
        Kind::Gauge,
        "Always 1; the version of sitewatch in a label.",
    );
    w.sample(
        "sitewatch_build_info",
        "",
        &[("version", env!("CARGO_PKG_VERSION"))],
        crate::location::get().map(|l| ("location", l)),
        Value::Int(1),
    );
    let n = |v: usize| v as u64;
    let schedule = stats.schedule();
    simple(
        w,
        "sitewatch_monitors",
        Kind::Gauge,
        "Monitors configured.",
        n(stats.monitor_count()),
    );
    simple(
        w,
        "sitewatch_monitors_down",
        Kind::Gauge,
        "Monitors in the down state.",
        n(stats.failing()),
    );
    simple(
        w,
        "sitewatch_workers",
        Kind::Gauge,
        "Worker threads.",
        n(stats.workers()),
    );
    simple(
        w,
        "sitewatch_checks_finished_total",
        Kind::Counter,
        "Checks finished, of every nature: verdicts, local failures and inconclusive checks.",
        stats.checked(),
    );
    simple(
        w,
        "sitewatch_down_verdicts_total",
        Kind::Counter,
        "Checks whose verdict was down, over every monitor.",
        stats.down(),
    );
    simple(
        w,
        "sitewatch_local_errors_total",
        Kind::Counter,
        "Checks sitewatch itself could not make (out of file descriptors, memory, ports or \
         threads): not verdicts about any site.",
        stats.local_errors(),
    );
    simple(
        w,
        "sitewatch_inconclusive_total",
        Kind::Counter,
        "Failed checks that overlapped a pause of sitewatch or an impairment of its own \
         network: not verdicts about any site.",
        stats.inconclusive(),
    );
    let lateness: Vec<String> = LATENESS_BOUNDS_US.iter().map(|&b| le(b)).collect();
    w.family(
        "sitewatch_lateness_seconds",
        Kind::Histogram,
        "How late checks started after they were due.",
    );
    histogram(
        w,
        "sitewatch_lateness_seconds",
        &[],
        &lateness,
        &stats.lateness(),
    );
    phase_histograms(w, stats);
    simple(
        w,
        "sitewatch_coalesced_total",
        Kind::Counter,
        "Occurrences skipped because the monitor's previous check was still pending.",
        schedule.coalesced,
    );
    simple(
        w,
        "sitewatch_overflowed_total",
        Kind::Counter,
        "Checks that waited in the overflow list because the queue was full.",
        schedule.overflowed,
    );
    simple(
        w,
        "sitewatch_missed_total",
        Kind::Counter,
        "Occurrences skipped because the scheduler was stalled for more than a period.",
        schedule.missed,
    );
    simple(
        w,
        "sitewatch_queue_depth",
        Kind::Gauge,
        "Checks waiting in the queue for a worker.",
        n(extras.queue_depth),
    );
    simple(
        w,
        "sitewatch_overflow_depth",
        Kind::Gauge,
        "Checks waiting in the overflow list.",
        n(schedule.overflow_depth),
    );
    simple(
        w,
        "sitewatch_in_flight",
        Kind::Gauge,
        "Checks running now.",
        n(stats.in_flight().len()),
    );
    simple(
        w,
        "sitewatch_stalls_total",
        Kind::Counter,
        "Stalls of the sitewatch process detected (paused, or the machine asleep).",
        stats.stalls(),
    );
    simple(
        w,
        "sitewatch_unwritten_total",
        Kind::Counter,
        "Results that did not reach the history database.",
        stats.unwritten(),
    );
    simple(
        w,
        "sitewatch_notifications_lost_total",
        Kind::Counter,
        "Notifications not delivered (a queue full, or every attempt failed).",
        stats.lost_notifications(),
    );
    simple(
        w,
        "sitewatch_dropped_lines_total",
        Kind::Counter,
        "Output lines lost (output stalled, or a write to stdout or the log file failed).",
        stats.dropped_lines(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{Observation, Outcome};
    use std::time::Duration;

    fn obs(outcome: Outcome, ms: u64) -> Observation {
        Observation {
            status: Some(200),
            bytes: Some(1),
            ..Observation::without_response(Duration::from_millis(ms), outcome)
        }
    }

    fn monitors(n: usize) -> Arc<Vec<Monitor>> {
        let entries: Vec<String> = (0..n)
            .map(|i| format!(r#"{{"url": "http://h{i}.example/\"q\"", "name": "m{i}"}}"#))
            .collect();
        let text = format!("[{}]", entries.join(","));
        Arc::new(crate::Config::parse(&text).unwrap().monitors)
    }

    fn text(stats: Stats, n: usize, per_monitor: bool) -> String {
        let scrape = Scrape::new(Arc::new(stats), monitors(n), Extras::default(), per_monitor);
        String::from_utf8(scrape.to_vec()).unwrap()
    }

    #[test]
    fn per_monitor_families_hold_verdicts_only() {
        let stats = Stats::new(2, 1).with_monitor_counters();
        stats.record(0, &obs(Outcome::Up, 30), Duration::ZERO);
        let down = Outcome::Down {
            reason: crate::Reason::Timeout,
            detail: String::new(),
        };
        stats.record(0, &obs(down, 12_000), Duration::from_millis(3));
        let local = Outcome::Local {
            kind: crate::LocalKind::Memory,
            detail: String::new(),
        };
        stats.record(1, &obs(local, 1), Duration::ZERO);
        stats.set_state(0, State::Down);
        let t = text(stats, 2, true);
        let labels = r#"id="m0",url="http://h0.example/\"q\"",group="""#;
        for line in [
            format!("sitewatch_up{{{labels}}} 0\n"),
            format!("sitewatch_checks_total{{{labels}}} 2\n"),
            format!("sitewatch_check_failures_total{{{labels},reason=\"timeout\"}} 1\n"),
            format!("sitewatch_check_duration_seconds_bucket{{{labels},le=\"0.05\"}} 1\n"),
            format!("sitewatch_check_duration_seconds_bucket{{{labels},le=\"10\"}} 1\n"),
            format!("sitewatch_check_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 2\n"),
            format!("sitewatch_check_duration_seconds_sum{{{labels}}} 12.03\n"),
            format!("sitewatch_check_duration_seconds_count{{{labels}}} 2\n"),
            format!("sitewatch_state_changes_total{{{labels}}} 1\n"),
            "sitewatch_local_errors_total 1\n".to_string(),
            "sitewatch_checks_finished_total 3\n".to_string(),
            "sitewatch_lateness_seconds_bucket{le=\"0.005\"} 3\n".to_string(),
            "sitewatch_lateness_seconds_count 3\n".to_string(),
        ] {
            assert!(t.contains(&line), "{line:?} missing from\n{t}");
        }
        assert!(
            !t.contains(r#"sitewatch_up{id="m1""#),
            "unknown state: no sample"
        );
        // A local failure is a check too (of no verdict): it has a time.
        assert!(t.contains(r#"sitewatch_last_check_timestamp_seconds{id="m1""#));
        assert!(t.contains(
            r#"sitewatch_checks_total{id="m1",url="http://h1.example/\"q\"",group=""} 0"#
        ));
        assert!(t.ends_with('\n'));
    }

    #[test]
    fn each_family_is_contiguous_with_one_help_and_type() {
        // Enough monitors for several chunks.
        let n = 3000;
        let stats = Stats::new(n, 1).with_monitor_counters();
        for i in 0..n {
            stats.record(i, &obs(Outcome::Up, i as u64), Duration::ZERO);
            stats.set_state(i, State::Up);
        }
        let t = text(stats, n, true);
        assert!(t.len() > 3 * CHUNK, "{}", t.len());
        let mut seen = std::collections::HashSet::new();
        let mut current = String::new();
        for line in t.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                current = rest.split(' ').next().unwrap().to_string();
                assert!(seen.insert(current.clone()), "{current} twice");
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(
                name.starts_with(current.as_str()),
                "{name} outside {current}"
            );
        }
        assert_eq!(t.matches("sitewatch_up{").count(), n);
    }

    #[test]
    fn per_monitor_series_can_be_off() {
        let stats = Stats::new(2, 1);
        let t = text(stats, 2, false);
        assert!(!t.contains("id=\""));
        assert!(t.contains("sitewatch_monitors 2\n"));
        assert!(t.contains("sitewatch_build_info{version=\""));
    }

    #[test]
    fn without_counters_only_the_cheap_per_monitor_families_appear() {
        let t = text(Stats::new(1, 1), 1, true);
        assert!(t.contains("sitewatch_checks_total{"));
        assert!(!t.contains("sitewatch_check_duration_seconds"));
    }

    #[test]
    fn phases_are_one_histogram_per_phase_over_every_monitor() {
        let stats = Stats::new(3, 1).with_monitor_counters();
        let mut o = obs(Outcome::Up, 30);
        o.phases = crate::probe::Phases {
            dns: None,
            connect: Some(Duration::from_micros(300)),
            tls: None,
            ttfb: Some(Duration::from_millis(20)),
            transfer: Some(Duration::from_millis(2)),
        };
        stats.record(0, &o, Duration::ZERO);
        o.phases.tls = Some(Duration::from_millis(3));
        stats.record(2, &o, Duration::ZERO);
        let local = Outcome::Local {
            kind: crate::LocalKind::Memory,
            detail: String::new(),
        };
        let mut not_a_verdict = obs(local, 1);
        not_a_verdict.phases = o.phases;
        stats.record(1, &not_a_verdict, Duration::ZERO);
        let t = text(stats, 3, true);
        for line in [
            "# TYPE sitewatch_check_phase_seconds histogram\n",
            "sitewatch_check_phase_seconds_bucket{phase=\"connect\",le=\"0.0005\"} 2\n",
            "sitewatch_check_phase_seconds_count{phase=\"connect\"} 2\n",
            "sitewatch_check_phase_seconds_sum{phase=\"connect\"} 0.0006\n",
            "sitewatch_check_phase_seconds_count{phase=\"dns\"} 0\n",
            "sitewatch_check_phase_seconds_count{phase=\"tls\"} 1\n",
            "sitewatch_check_phase_seconds_bucket{phase=\"ttfb\",le=\"0.01\"} 0\n",
            "sitewatch_check_phase_seconds_bucket{phase=\"ttfb\",le=\"0.025\"} 2\n",
            "sitewatch_check_phase_seconds_sum{phase=\"transfer\"} 0.004\n",
        ] {
            assert!(t.contains(line), "{line:?} missing from\n{t}");
        }
        // No per-monitor phase series.
        assert!(
            !t.contains("sitewatch_check_phase_seconds_count{id="),
            "{t}"
        );
    }
}
