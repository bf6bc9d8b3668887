//! The report as one JSON document, for machines:
//! `{"from", "to", "generated", "monitors": [{"url", "id", "checks", "uptime_pct", "incidents",
//! "downtime_s", "p50_ms", "p95_ms", "max_ms", "state", …}], "incidents": [{"url", "id", "start",
//! "end", "duration_s", "reason", …}], "impairments": [{"start", "end", "duration_s", "cause",
//! "detail"}]}`. Times are RFC 3339 UTC; a missing value is `null`. `local_errors` and
//! `inconclusive` count a monitor's checks that were not verdicts; `impaired_s` its time that
//! counted neither up nor down, `maintenance_s` its time in maintenance windows (neither
//! either), listed in `"maintenance": [{"id", "start", "end", "duration_s", "monitors",
//! "reason"}]`.

use serde::Serialize;

use super::{time, IncidentReport, MonitorReport, Report};
use crate::state::State;

#[derive(Serialize)]
struct Doc<'a> {
    from: String,
    to: String,
    generated: String,
    monitors: Vec<Monitor<'a>>,
    incidents: Vec<Incident<'a>>,
    impairments: Vec<Impairment<'a>>,
    maintenance: Vec<Maintenance<'a>>,
}

#[derive(Serialize)]
struct Maintenance<'a> {
    id: i64,
    start: String,
    end: String,
    duration_s: f64,
    monitors: &'a str,
    reason: Option<&'a str>,
}

#[derive(Serialize)]
struct Impairment<'a> {
    start: String,
    end: String,
    duration_s: f64,
    cause: &'a str,
    detail: Option<&'a str>,
}

#[derive(Serialize)]
struct Monitor<'a> {
    url: &'a str,
    id: &'a str,
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<&'a str>,
    interval_s: f64,
    checks: u64,
    up: u64,
    local_errors: u64,
    inconclusive: u64,
    impaired_s: f64,
    maintenance_s: f64,
    uptime_pct: Option<f64>,
    uptime_time_pct: Option<f64>,
    observed_s: f64,
    incidents: usize,
    downtime_s: f64,
    degraded_s: f64,
    longest_incident_s: f64,
    p50_ms: Option<f64>,
    p95_ms: Option<f64>,
    max_ms: Option<f64>,
    mean_ms: Option<f64>,
    state: State,
}

#[derive(Serialize)]
struct Incident<'a> {
    url: &'a str,
    id: &'a str,
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<&'a str>,
    start: String,
    end: Option<String>,
    duration_s: f64,
    ongoing: bool,
    ended_by: Option<State>,
    reason: Option<&'a str>,
    status: Option<u16>,
    detail: Option<&'a str>,
}

fn monitor(m: &MonitorReport) -> Monitor<'_> {
    Monitor {
        url: &m.url,
        id: &m.id,
        name: m.name.as_deref(),
        location: m.location.as_deref(),
        interval_s: m.interval_s,
        checks: m.checks,
        up: m.up,
        local_errors: m.local_errors,
        inconclusive: m.inconclusive,
        impaired_s: m.impaired_s,
        maintenance_s: m.maintenance_s,
        uptime_pct: m.uptime_pct,
        uptime_time_pct: m.uptime_time_pct,
        observed_s: m.observed_s,
        incidents: m.incidents,
        downtime_s: m.downtime_s,
        degraded_s: m.degraded_s,
        longest_incident_s: m.longest_incident_s,
        p50_ms: m.p50_ms,
        p95_ms: m.p95_ms,
        max_ms: m.max_ms,
        mean_ms: m.mean_ms,
        state: m.state,
    }
}

fn incident(i: &IncidentReport) -> Incident<'_> {
    Incident {
        url: &i.url,
        id: &i.id,
        name: i.name.as_deref(),
        location: i.location.as_deref(),
        start: time(i.start),
        end: i.end.map(time),
        duration_s: i.duration_s,
        ongoing: i.end.is_none(),
        ended_by: i.ended_by,
        reason: i.reason.as_deref(),
        status: i.status,
        detail: i.detail.as_deref(),
    }
}

/// The report as pretty-printed JSON, with a final newline.
pub fn render(report: &Report) -> String {
    let doc = Doc {
        from: time(report.from),
        to: time(report.to),
        generated: time(report.generated),
        monitors: report.monitors.iter().map(monitor).collect(),
        incidents: report.incidents.iter().map(incident).collect(),
        impairments: report
            .impairments
            .iter()
            .map(|i| Impairment {
                start: time(i.start),
                end: time(i.end),
                duration_s: (i.end - i.start) as f64 / 1000.0,
                cause: &i.cause,
                detail: i.detail.as_deref(),
            })
            .collect(),
        maintenance: report
            .maintenance
            .iter()
            .map(|w| Maintenance {
                id: w.id,
                start: time(w.start),
                end: time(w.end),
                duration_s: (w.end - w.start) as f64 / 1000.0,
                monitors: &w.monitors,
                reason: w.reason.as_deref(),
            })
            .collect(),
    };
    let mut out = serde_json::to_string_pretty(&doc).expect("a report always serializes");
    out.push('\n');
    out
}
