//! `sitewatch check TARGET…`: `ping` for HTTP. Each target is checked every interval until
//! Ctrl-C or `--count`, one line per check, then statistics per target.
//!
//! What it guarantees:
//! - a target is a URL as the config validates it (`http://`, `https://`, `tcp://`, `icmp://`
//!   and `dns://` kept as written; a bare host, `host:port` or `host/path` means `https://…`,
//!   see [`target_url`]);
//! - each check goes through the same [`Probes`] as the monitor, and its line is the
//!   monitor's check line ([`crate::output::check_line`]), in text followed by the phase
//!   timings measured ([`line`]); nothing is written to a database;
//! - one thread per target (targets are few): a slow target does not delay another's schedule.
//!   Each thread keeps its own schedule (start + n × interval), so a check that takes longer
//!   than the interval is followed at once by the next rather than piling up;
//! - Ctrl-C (or SIGTERM, or stdout closed) stops the schedules: a check in flight finishes
//!   (within `--timeout`), then the statistics are printed, as `ping` does;
//! - the exit status is 0 when every target's last check was up, 1 otherwise.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::RecvTimeoutError;
use serde::Serialize;

use crate::config::{Config, Monitor};
use crate::error::Error;
use crate::output::{check_line, ms, phases_text, Format};
use crate::probe::{Observation, Probe, ProbeSettings, Probes};
use crate::signal::{Cause, Stop};
use crate::worker::CheckRecord;

/// What `sitewatch check` was asked to do, validated.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The targets as URLs, in command-line order; never empty.
    pub urls: Vec<String>,
    /// Checks per target; `None`: until stopped.
    pub count: Option<u64>,
    /// Time between the starts of two checks of a target.
    pub interval: Duration,
    /// Request timeout of one check.
    pub timeout: Duration,
    /// Line format.
    pub format: Format,
}

/// The URL a target means: `http://…`, `https://…`, `tcp://…`, `icmp://…` and `dns://…` as
/// given (any case of the scheme); any other scheme is refused; anything else is a host,
/// `host:port` or `host/path` reached over HTTPS, with `/` as its path when it has none
/// (`example.com` → `https://example.com/`).
pub fn target_url(target: &str) -> Result<String, String> {
    let t = target.trim();
    let lower = t.to_ascii_lowercase();
    if let Some((scheme, _)) = lower.split_once("://") {
        if crate::model::Kind::from_scheme(scheme).is_some() {
            return Ok(t.to_owned());
        }
        return Err(format!(
            "{target:?}: sitewatch check takes http://, https://, tcp://, icmp:// and dns:// \
             URLs or a host, not {scheme}://"
        ));
    }
    if t.is_empty() {
        return Err("an empty target; give a host such as example.com or a URL".to_owned());
    }
    if t.contains(['/', '?', '#']) {
        Ok(format!("https://{t}"))
    } else {
        Ok(format!("https://{t}/"))
    }
}

/// The monitor a URL is checked as: validated exactly as a config entry is.
fn monitor(url: &str, timeout: Duration) -> Result<Monitor, Error> {
    let entry = serde_json::json!([{
        "url": url,
        "timeout": format!("{}ms", timeout.as_millis()),
        "interval": format!("{}ms", timeout.as_millis().max(1000)),
    }]);
    let config = Config::parse(&entry.to_string()).map_err(|e| {
        // The message names "entry 1": the user gave a target, not an entry.
        let text = e.to_string();
        let why = text.split_once("): ").map_or(text.as_str(), |(_, why)| why);
        Error::Usage(format!("{url}: {why}"))
    })?;
    Ok(config.monitors.into_iter().next().expect("one entry"))
}

/// Checks, up and the latencies of the up checks of one target.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Checks done.
    pub checks: u64,
    /// Of which up.
    pub up: u64,
    /// Whether the last check was up.
    pub last_up: bool,
    /// Latency of each up check, in milliseconds (what `ping` counts: replies only).
    pub latencies: Vec<f64>,
}

/// min, avg, max and mdev (the population standard deviation, as `ping` computes it).
fn spread(xs: &[f64]) -> Option<(f64, f64, f64, f64)> {
    if xs.is_empty() {
        return None;
    }
    let n = xs.len() as f64;
    let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let avg = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - avg) * (x - avg)).sum::<f64>() / n;
    Some((min, avg, max, var.sqrt()))
}

impl Tally {
    fn add(&mut self, o: &Observation) {
        self.checks += 1;
        self.last_up = o.outcome.is_up();
        if self.last_up {
            self.up += 1;
            self.latencies.push(ms(o.elapsed));
        }
    }

    /// Share of checks not up, in percent.
    pub fn loss_pct(&self) -> f64 {
        if self.checks == 0 {
            return 0.0;
        }
        let lost = (self.checks - self.up) as f64 * 100.0 / self.checks as f64;
        (lost * 10.0).round() / 10.0
    }

    /// The statistics of `url` as lines in `format`.
    pub fn lines(&self, url: &str, format: Format) -> Vec<String> {
        let spread = spread(&self.latencies);
        match format {
            Format::Json => {
                #[derive(Serialize)]
                struct Json<'a> {
                    #[serde(rename = "type")]
                    kind: &'static str,
                    url: &'a str,
                    checks: u64,
                    up: u64,
                    loss_pct: f64,
                    min_ms: Option<f64>,
                    avg_ms: Option<f64>,
                    max_ms: Option<f64>,
                    mdev_ms: Option<f64>,
                }
                let r = |x: f64| (x * 1000.0).round() / 1000.0;
                let line = Json {
                    kind: "statistics",
                    url,
                    checks: self.checks,
                    up: self.up,
                    loss_pct: self.loss_pct(),
                    min_ms: spread.map(|s| r(s.0)),
                    avg_ms: spread.map(|s| r(s.1)),
                    max_ms: spread.map(|s| r(s.2)),
                    mdev_ms: spread.map(|s| r(s.3)),
                };
                vec![serde_json::to_string(&line).expect("statistics always serialize")]
            }
            Format::Text => {
                let mut line = format!(
                    "{} checks, {} up, {}% loss",
                    self.checks,
                    self.up,
                    self.loss_pct()
                );
                if let Some((min, avg, max, mdev)) = spread {
                    line.push_str(&format!(
                        ", latency min/avg/max/mdev = {min:.3}/{avg:.3}/{max:.3}/{mdev:.3} ms"
                    ));
                }
                vec![format!("--- {url} statistics ---"), line]
            }
        }
    }
}

/// Runs the checks of `plan` until `stop` or the count, then prints the statistics; the exit
/// status is 0 when every target's last check was up, else 1.
pub fn run(plan: &Plan, stop: &Stop, requests: crate::signal::Requests) -> Result<u8, Error> {
    let monitors = plan
        .urls
        .iter()
        .map(|u| monitor(u, plan.timeout))
        .collect::<Result<Vec<_>, _>>()?;
    // Only stdout: with no log file to open, this cannot fail.
    let _ = crate::sinks::init(None);
    crate::sinks::on_stdout_closed(move || {
        requests.request(Cause::StdoutClosed);
    });
    let probe = Arc::new(Probes::new(&ProbeSettings::default()));
    let handles = monitors
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let (probe, stop, plan) = (Arc::clone(&probe), stop.clone(), plan.clone());
            thread::Builder::new()
                .name(format!("sitewatch-check-{i}"))
                .spawn(move || target_loop(&m, &*probe, &plan, &stop))
                .map_err(Error::Thread)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut all_up = true;
    for (handle, url) in handles.into_iter().zip(&plan.urls) {
        let tally = handle.join().unwrap_or_default();
        all_up &= tally.last_up;
        for line in tally.lines(url, plan.format) {
            crate::sinks::write(&line);
        }
    }
    Ok(if all_up { 0 } else { 1 })
}

/// One check's line: the monitor's check line (whose JSON has `phases_ms`), in text followed
/// by the phases measured (`  dns 0.4 ms, connect 0.2 ms, ttfb 5.1 ms, transfer 0.1 ms`).
fn line(monitor: &Monitor, record: &CheckRecord, format: Format) -> String {
    let mut line = check_line(monitor, record, format);
    if format == Format::Text {
        if let Some(phases) = phases_text(&record.observation.phases) {
            line.push_str("  ");
            line.push_str(&phases);
        }
    }
    line
}

/// Checks one target on its schedule until `stop` or the count.
fn target_loop(monitor: &Monitor, probe: &dyn Probe, plan: &Plan, stop: &Stop) -> Tally {
    let mut tally = Tally::default();
    let start = Instant::now();
    let mut due = start;
    let mut n: u32 = 0;
    loop {
        let started_at = SystemTime::now();
        let lateness = due.elapsed();
        let observation = probe.check(monitor);
        tally.add(&observation);
        let record = CheckRecord {
            monitor: 0,
            started_at,
            lateness,
            queued: Duration::ZERO,
            observation,
        };
        crate::sinks::write(&line(monitor, &record, plan.format));
        if plan.count.is_some_and(|c| tally.checks >= c) {
            return tally;
        }
        n = n.saturating_add(1);
        due = start + plan.interval.saturating_mul(n);
        // Waiting for the stop is the wait for the next check: it returns at once on Ctrl-C.
        match stop
            .graceful
            .recv_timeout(due.saturating_duration_since(Instant::now()))
        {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return tally,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_hosts_mean_https_with_a_root_path() {
        let ok = |t: &str| target_url(t).unwrap();
        assert_eq!(ok("example.com"), "https://example.com/");
        assert_eq!(ok("example.com:8443"), "https://example.com:8443/");
        assert_eq!(ok("example.com/health"), "https://example.com/health");
        assert_eq!(ok("http://example.com"), "http://example.com");
        assert_eq!(ok("HTTPS://example.com/x"), "HTTPS://example.com/x");
        assert_eq!(ok("tcp://127.0.0.1:25"), "tcp://127.0.0.1:25");
        assert_eq!(ok("icmp://127.0.0.1"), "icmp://127.0.0.1");
        assert_eq!(ok("dns://example.com"), "dns://example.com");
        assert!(target_url("ftp://example.com")
            .unwrap_err()
            .contains("ftp://"));
        assert!(target_url(" ").is_err());
    }

    #[test]
    fn statistics_are_pings() {
        let t = Tally {
            checks: 3,
            up: 2,
            last_up: true,
            latencies: vec![1.0, 3.0],
        };
        assert_eq!(
            t.lines("https://a/", Format::Text),
            [
                "--- https://a/ statistics ---",
                "3 checks, 2 up, 33.3% loss, latency min/avg/max/mdev = 1.000/2.000/3.000/1.000 ms"
            ]
        );
        let none = Tally {
            checks: 2,
            ..Tally::default()
        };
        assert_eq!(
            none.lines("u", Format::Text)[1],
            "2 checks, 0 up, 100% loss"
        );
    }
}
