//! What sitewatch prints: one line per check, in text or JSON.
//!
//! Lines meant for the operator (checks, reports, the summary) go, bare, to stdout and to the
//! `--log-file` if one is given ([`emit`], through [`crate::sinks`], which reports and counts
//! write failures and follows log rotation), so `sitewatch urls.json > status.log` captures all
//! of them. Diagnostics about sitewatch itself go to stderr with a timestamp and level, through
//! `log` and simplelog. The printer thread is the only writer of check lines, so a stalled
//! stdout holds up the printer, never a worker.

use std::borrow::Cow;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossbeam_channel::{select, Receiver};
use serde::Serialize;
use simplelog::{ColorChoice, ConfigBuilder, LevelFilter, TermLogger, TerminalMode};

use crate::catalog::Catalog;
use crate::config::shown_url::redact_userinfo;
use crate::config::Monitor;
use crate::error::Error;
use crate::event::{Event, Impairment, StateChange};
use crate::probe::{Cause, Echoes, Nature, Outcome, Phases, Reason, Redirect, Warning};
use crate::sinks;
use crate::state::State;
use crate::stats::Stats;
use crate::worker::CheckRecord;

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Aligned lines for people.
    #[default]
    Text,
    /// One JSON object per line, each with a `"type"`.
    Json,
}

/// Sets up the outputs: operator lines to stdout (and `log_file`, appended) through
/// [`crate::sinks`], diagnostics to stderr through the global logger. Call once, before any
/// thread starts.
pub fn init_logging(log_file: Option<&Path>) -> Result<(), Error> {
    let diagnostics = ConfigBuilder::new()
        .add_filter_ignore_str("ureq")
        .add_filter_ignore_str("rustls")
        .set_time_format_rfc3339()
        .set_thread_level(LevelFilter::Off)
        .set_target_level(LevelFilter::Off)
        .set_location_level(LevelFilter::Off)
        .build();
    // simplelog would colour even a pipe; colour only a terminal.
    let colour = if std::io::stderr().is_terminal() {
        ColorChoice::Auto
    } else {
        ColorChoice::Never
    };
    sinks::init(log_file).map_err(|source| Error::LogFile {
        path: log_file.map(Path::to_owned).unwrap_or_default(),
        source,
    })?;
    TermLogger::init(LevelFilter::Info, diagnostics, TerminalMode::Stderr, colour)
        .map_err(|_| Error::Logger)
}

/// Writes one operator line (check, report or summary) to stdout and the log file; false if
/// one of them lost it (the caller counts it in `dropped_lines`; see [`crate::sinks`]).
pub fn emit(line: &str) -> bool {
    sinks::write(line)
}

/// How often the printer, when idle, checks that the log file was not rotated away.
const TICK: Duration = Duration::from_secs(1);

/// The printer thread: formats and writes every event until every publisher is gone, or until
/// `interrupt` disconnects (a stop at once), when it writes what is already queued and ends.
/// Lines an output lost are counted in `stats` as dropped.
pub fn run_printer(
    events: Receiver<Event>,
    monitors: Arc<Catalog>,
    format: Format,
    stats: Arc<Stats>,
    interrupt: Receiver<()>,
) {
    let print = |event: Event| {
        // Loaded per event: a reload may have appended monitors since the last one.
        let monitors = monitors.load();
        let line = match &event {
            Event::Check(record) => check_line(&monitors[record.monitor], record, format),
            Event::State(change) => state_line(&monitors[change.monitor], change, format),
            Event::Impairment(span) => impairment_line(span, format),
        };
        if !emit(&line) {
            stats.add_dropped_line();
        }
    };
    loop {
        select! {
            recv(events) -> event => match event {
                Ok(event) => print(event),
                Err(_) => return,
            },
            recv(interrupt) -> _ => {
                // Only what is queued now: the workers left running may still add a few.
                for event in events.try_iter().take(events.len()) {
                    print(event);
                }
                return;
            }
            default(TICK) => sinks::tick(),
        }
    }
}

/// Milliseconds with microsecond precision, for JSON.
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// An RFC 3339 UTC timestamp with milliseconds.
pub fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

#[derive(Serialize)]
struct CheckJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    ts: String,
    id: &'a str,
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<&'static str>,
    /// Absent for the kinds that send no HTTP request (`tcp://`, `icmp://`, `dns://`).
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'static str>,
    status: Option<u16>,
    bytes: Option<u64>,
    ms: f64,
    ttfb_ms: Option<f64>,
    /// Every phase by name, `null` where not measured.
    phases_ms: PhasesMs,
    /// `null` when the check is not a verdict (see `nature`).
    up: Option<bool>,
    /// `verdict`, `local` (sitewatch's own failure) or `inconclusive`.
    nature: Nature,
    reason: Option<Reason>,
    /// The local failure's kind or the inconclusive check's cause; absent for verdicts.
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<&'static str>,
    detail: Option<&'a str>,
    final_url: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    redirects: &'a [Redirect],
    /// Echo requests sent and replies received, for `icmp://` checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    echoes: Option<EchoesJson>,
    /// The certificate chain's earliest expiry (RFC 3339, UTC, to the second, like `ts`);
    /// absent without a TLS handshake.
    #[serde(skip_serializing_if = "Option::is_none")]
    cert_expiry: Option<String>,
    /// Why a passing check is degraded; absent when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    degraded: Option<DegradedJson<'a>>,
    lateness_ms: f64,
    queued_ms: f64,
}

/// An `icmp://` check's echoes with their loss.
#[derive(Serialize)]
struct EchoesJson {
    sent: u32,
    received: u32,
    loss_pct: f64,
}

impl From<Echoes> for EchoesJson {
    fn from(e: Echoes) -> EchoesJson {
        EchoesJson {
            sent: e.sent,
            received: e.received,
            loss_pct: (e.loss_percent() * 10.0).round() / 10.0,
        }
    }
}

/// A check's [`Phases`] in JSON: `{"dns": 0.4, "connect": 0.2, "tls": null, …}`, in
/// milliseconds like every time of a check line.
#[derive(Serialize)]
pub struct PhasesMs {
    dns: Option<f64>,
    connect: Option<f64>,
    tls: Option<f64>,
    ttfb: Option<f64>,
    transfer: Option<f64>,
}

impl PhasesMs {
    /// `phases` in milliseconds.
    pub fn of(phases: &Phases) -> PhasesMs {
        PhasesMs {
            dns: phases.dns.map(ms),
            connect: phases.connect.map(ms),
            tls: phases.tls.map(ms),
            ttfb: phases.ttfb.map(ms),
            transfer: phases.transfer.map(ms),
        }
    }
}

/// `phases` as `check` shows them: `dns 0.4 ms, connect 0.2 ms, ttfb 5.1 ms, transfer 0.1 ms`,
/// the phases not measured left out; `None` when none was.
pub fn phases_text(phases: &Phases) -> Option<String> {
    let shown: Vec<String> = phases
        .named()
        .iter()
        .filter_map(|(name, d)| d.map(|d| format!("{name} {:.1} ms", d.as_secs_f64() * 1e3)))
        .collect();
    (!shown.is_empty()).then(|| shown.join(", "))
}

#[derive(Serialize)]
struct DegradedJson<'a> {
    cause: Warning,
    detail: &'a str,
}

#[derive(Serialize)]
struct StateJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    ts: String,
    id: &'a str,
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<&'static str>,
    from: State,
    to: State,
    since: String,
    duration_s: f64,
    attempts: u32,
    reason: Option<Reason>,
    status: Option<u16>,
    detail: Option<&'a str>,
}

/// Appends what follows a monitor's URL in a text line: ` (name)` when it has one, then
/// ` [id]`, which tells apart two monitors of one URL.
fn push_names(line: &mut String, monitor: &Monitor) {
    if let Some(name) = &monitor.name {
        line.push_str(" (");
        line.push_str(name);
        line.push(')');
    }
    line.push_str(" [");
    line.push_str(monitor.id());
    line.push(']');
    if let Some(location) = crate::location::get() {
        line.push_str(" @");
        line.push_str(location);
    }
}

/// One state change as a line in `format`.
pub fn state_line(monitor: &Monitor, change: &StateChange, format: Format) -> String {
    let lasted = change.at.duration_since(change.since).unwrap_or_default();
    match format {
        Format::Json => serde_json::to_string(&StateJson {
            kind: "state",
            ts: timestamp(change.at),
            id: monitor.id(),
            url: &monitor.url,
            name: monitor.name.as_deref(),
            group: monitor.group(),
            location: crate::location::get(),
            from: change.from,
            to: change.to,
            since: timestamp(change.since),
            duration_s: (lasted.as_secs_f64() * 1e3).round() / 1e3,
            attempts: change.attempts,
            reason: change.reason,
            status: change.status,
            detail: change.detail.as_deref(),
        })
        .expect("a state line always serializes"),
        Format::Text => {
            let mut line = format!("{}  STATE  {}", timestamp(change.at), monitor.url);
            push_names(&mut line, monitor);
            line.push_str(&format!("  {} -> {}", change.from, change.to));
            match (change.reason, change.detail.as_deref()) {
                (Some(reason), Some(detail)) => line.push_str(&format!("  {reason}: {detail}")),
                // "monitoring stopped": a monitor a reload removed.
                (None, Some(detail)) => line.push_str(&format!("  {detail}")),
                _ => {}
            }
            let lasted = humantime::format_duration(Duration::from_secs(lasted.as_secs()));
            match change.to {
                State::Down => line.push_str(&format!(
                    "  ({} failed attempt{}; was {} for {lasted})",
                    change.attempts,
                    if change.attempts == 1 { "" } else { "s" },
                    change.from
                )),
                _ if change.from != State::Unknown => {
                    line.push_str(&format!("  (was {} for {lasted})", change.from))
                }
                _ => {}
            }
            line
        }
    }
}

#[derive(Serialize)]
struct ImpairmentJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    ts: String,
    cause: Cause,
    start: String,
    end: Option<String>,
    duration_s: Option<f64>,
    detail: &'a str,
}

/// A time sitewatch could not measure (paused, network impaired) as a line in `format`.
pub fn impairment_line(span: &Impairment, format: Format) -> String {
    let at = span.end.unwrap_or(span.start);
    match format {
        Format::Json => serde_json::to_string(&ImpairmentJson {
            kind: "impairment",
            ts: timestamp(at),
            cause: span.cause,
            start: timestamp(span.start),
            end: span.end.map(timestamp),
            duration_s: span.end.map(|end| {
                let d = end.duration_since(span.start).unwrap_or_default();
                (d.as_secs_f64() * 1e3).round() / 1e3
            }),
            detail: &span.detail,
        })
        .expect("an impairment line always serializes"),
        Format::Text => {
            let label = match span.cause {
                Cause::Paused => "PAUSED",
                Cause::NetworkImpaired => "IMPAIRED",
                Cause::Maintenance => "MAINTENANCE",
                Cause::ParentDown => "PARENT DOWN",
            };
            format!("{}  {label}  {}", timestamp(at), span.detail)
        }
    }
}

/// One check as a line in `format`.
pub fn check_line(monitor: &Monitor, record: &CheckRecord, format: Format) -> String {
    let o = &record.observation;
    let nature = o.outcome.nature();
    let (reason, detail) = (o.outcome.reason(), o.outcome.detail());
    let cause = match o.outcome {
        Outcome::Local { kind, .. } => Some(kind.as_str()),
        Outcome::Inconclusive { cause, .. } => Some(cause.as_str()),
        Outcome::Up | Outcome::Down { .. } => None,
    };
    // The final URL is the requested one when there was no redirect, userinfo (or a URL
    // from the environment) and all: show the monitor's shown URL then, else redact it.
    let redirected = o
        .final_url
        .as_deref()
        .filter(|u| *u != monitor.request_url());
    let final_url = o.final_url.as_deref().map(|u| match redirected {
        Some(_) => redact_userinfo(u),
        None => Cow::Borrowed(&*monitor.url),
    });
    match format {
        Format::Json => {
            let line = CheckJson {
                kind: "check",
                ts: timestamp(record.started_at),
                id: monitor.id(),
                url: &monitor.url,
                name: monitor.name.as_deref(),
                group: monitor.group(),
                location: crate::location::get(),
                method: monitor.http_method().map(|m| m.as_str()),
                status: o.status,
                bytes: o.bytes,
                ms: ms(o.elapsed),
                ttfb_ms: o.ttfb.map(ms),
                phases_ms: PhasesMs::of(&o.phases),
                up: (nature == Nature::Verdict).then(|| o.outcome.is_up()),
                nature,
                reason,
                cause,
                detail,
                final_url: final_url.as_deref(),
                redirects: &o.redirects,
                echoes: o.echoes.map(EchoesJson::from),
                cert_expiry: o
                    .cert_expiry
                    .map(|t| humantime::format_rfc3339_seconds(t).to_string()),
                degraded: o.degraded.as_ref().map(|d| DegradedJson {
                    cause: d.cause,
                    detail: &d.detail,
                }),
                lateness_ms: ms(record.lateness),
                queued_ms: ms(record.queued),
            };
            serde_json::to_string(&line).expect("a check line always serializes")
        }
        Format::Text => {
            let state = match o.outcome {
                Outcome::Up if o.degraded.is_some() => "DEGRADED",
                Outcome::Up => "UP  ",
                Outcome::Down { .. } => "DOWN",
                Outcome::Local { .. } => "LOCAL",
                Outcome::Inconclusive { .. } => "INCONCLUSIVE",
            };
            let status = o.status.map_or("---".to_string(), |s| s.to_string());
            let bytes = o.bytes.map_or("-".to_string(), |b| format!("{b} B"));
            let mut line = format!(
                "{}  {state}  {status:>3}  {:>9.1} ms  {bytes:>12}  {}",
                timestamp(record.started_at),
                o.elapsed.as_secs_f64() * 1e3,
                monitor.url,
            );
            push_names(&mut line, monitor);
            if let Some(final_url) = redirected.map(redact_userinfo) {
                line.push_str(&format!("  -> {final_url}"));
            }
            if let (Some(reason), Some(detail)) = (o.outcome.cause_name(), detail) {
                line.push_str(&format!("  {reason}: {detail}"));
            } else if let Some(echoes) = o.echoes {
                line.push_str(&format!("  ({})", echoes.summary()));
            }
            if let Some(d) = &o.degraded {
                line.push_str(&format!("  {}: {}", d.cause, d.detail));
            }
            if nature != Nature::Verdict {
                line.push_str("  (not a verdict: retried on the next occurrence)");
            }
            if record.lateness >= Duration::from_secs(1) {
                line.push_str(&format!(
                    "  (started {:.1} s late)",
                    record.lateness.as_secs_f64()
                ));
            }
            line
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::probe::Observation;

    fn record(outcome: Outcome, status: Option<u16>) -> (Monitor, CheckRecord) {
        let config = Config::parse(r#"[{"url": "http://127.0.0.1:9/a", "interval": 5}]"#).unwrap();
        let record = CheckRecord {
            monitor: 0,
            started_at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            lateness: Duration::from_micros(1500),
            queued: Duration::from_micros(200),
            observation: Observation {
                status,
                bytes: status.map(|_| 1234),
                ttfb: Some(Duration::from_millis(20)),
                final_url: status.map(|_| "http://127.0.0.1:9/a".to_string()),
                ..Observation::without_response(Duration::from_micros(42_250), outcome)
            },
        };
        (config.monitors[0].clone(), record)
    }

    #[test]
    fn text_line_has_timestamp_state_status_latency_bytes_url() {
        let (m, r) = record(Outcome::Up, Some(200));
        assert_eq!(
            check_line(&m, &r, Format::Text),
            "2023-11-14T22:13:20.123Z  UP    200       42.2 ms        1234 B  http://127.0.0.1:9/a \
             [127.0.0.1-9-a]"
        );
    }

    #[test]
    fn text_line_of_a_failure_says_why() {
        let down = Outcome::Down {
            reason: Reason::Connect,
            detail: "connection refused".into(),
        };
        let (m, r) = record(down, None);
        let line = check_line(&m, &r, Format::Text);
        assert!(line.contains("  DOWN  ---"), "{line}");
        assert!(
            line.ends_with("http://127.0.0.1:9/a [127.0.0.1-9-a]  connect: connection refused"),
            "{line}"
        );
    }

    #[test]
    fn state_lines_say_from_to_why_and_for_how_long() {
        let (m, _) = record(Outcome::Up, Some(200));
        let since = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let change = StateChange {
            monitor: 0,
            at: since + Duration::from_secs(125),
            from: State::Up,
            to: State::Down,
            since,
            attempts: 3,
            reason: Some(Reason::Connect),
            status: None,
            detail: Some("connection refused".into()),
        };
        assert_eq!(
            state_line(&m, &change, Format::Text),
            "2023-11-14T22:15:25.000Z  STATE  http://127.0.0.1:9/a [127.0.0.1-9-a]  up -> down  \
             connect: connection refused  (3 failed attempts; was up for 2m 5s)"
        );
        let v: serde_json::Value =
            serde_json::from_str(&state_line(&m, &change, Format::Json)).unwrap();
        assert_eq!(v["type"], "state");
        assert_eq!(
            (v["from"].as_str(), v["to"].as_str()),
            (Some("up"), Some("down"))
        );
        assert_eq!(v["duration_s"], 125.0);
        assert_eq!(v["reason"], "connect");
        assert_eq!(v["since"], "2023-11-14T22:13:20.000Z");
        assert_eq!(v["id"], "127.0.0.1-9-a");
    }

    #[test]
    fn json_line_has_the_documented_fields() {
        let (m, r) = record(Outcome::Up, Some(200));
        let v: serde_json::Value = serde_json::from_str(&check_line(&m, &r, Format::Json)).unwrap();
        assert_eq!(v["type"], "check");
        assert_eq!(v["ts"], "2023-11-14T22:13:20.123Z");
        assert_eq!(v["url"], "http://127.0.0.1:9/a");
        assert_eq!(v["id"], "127.0.0.1-9-a");
        assert!(v.get("group").is_none(), "{v}");
        assert_eq!(v["status"], 200);
        assert_eq!(v["bytes"], 1234);
        assert_eq!(v["ms"], 42.25);
        assert_eq!(v["up"], true);
        assert!(v["reason"].is_null());
        assert_eq!(v["lateness_ms"], 1.5);
        assert_eq!(v["nature"], "verdict");
        assert!(v.get("cause").is_none());
    }

    #[test]
    fn non_verdicts_are_shown_under_their_own_names() {
        let local = Outcome::Local {
            kind: crate::probe::LocalKind::FileDescriptors,
            detail: "Too many open files (os error 24)".into(),
        };
        let (m, r) = record(local, None);
        let line = check_line(&m, &r, Format::Text);
        assert!(line.contains("  LOCAL  ---"), "{line}");
        assert!(
            line.contains("file_descriptors: Too many open files (os error 24)  (not a verdict"),
            "{line}"
        );
        let v: serde_json::Value = serde_json::from_str(&check_line(&m, &r, Format::Json)).unwrap();
        assert_eq!(
            (&v["nature"], &v["cause"]),
            (&"local".into(), &"file_descriptors".into())
        );
        assert!(v["up"].is_null() && v["reason"].is_null(), "{v}");

        let paused = Outcome::Down {
            reason: Reason::Timeout,
            detail: "timed out".into(),
        }
        .inconclusive(crate::probe::Cause::Paused, "sitewatch was paused");
        let (m, r) = record(paused, None);
        let line = check_line(&m, &r, Format::Text);
        assert!(line.contains("  INCONCLUSIVE  ---"), "{line}");
        assert!(
            line.contains("paused: sitewatch was paused (the check saw timeout: timed out)"),
            "{line}"
        );
        let v: serde_json::Value = serde_json::from_str(&check_line(&m, &r, Format::Json)).unwrap();
        assert_eq!(
            (&v["nature"], &v["cause"]),
            (&"inconclusive".into(), &"paused".into())
        );
    }

    #[test]
    fn json_line_has_every_phase_null_where_not_measured() {
        let (m, mut r) = record(Outcome::Up, Some(200));
        r.observation.phases = Phases {
            dns: Some(Duration::from_micros(400)),
            connect: Some(Duration::from_micros(200)),
            tls: None,
            ttfb: Some(Duration::from_micros(3100)),
            transfer: Some(Duration::from_micros(100)),
        };
        let v: serde_json::Value = serde_json::from_str(&check_line(&m, &r, Format::Json)).unwrap();
        assert_eq!(
            v["phases_ms"],
            serde_json::json!({"dns": 0.4, "connect": 0.2, "tls": null, "ttfb": 3.1, "transfer": 0.1})
        );
        assert_eq!(
            phases_text(&r.observation.phases).as_deref(),
            Some("dns 0.4 ms, connect 0.2 ms, ttfb 3.1 ms, transfer 0.1 ms")
        );
        assert_eq!(phases_text(&Phases::default()), None);
        // The text line stays as it was: the phases would make it unreadable.
        assert!(!check_line(&m, &r, Format::Text).contains("dns"));
    }
}
