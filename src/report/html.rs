//! The report as one self-contained HTML page, on the same layout, styles and charts as the
//! live status page ([`crate::html`]): inline CSS and SVG, no scripts, fonts or other external
//! assets, so it can be mailed, archived or opened offline. Every value is escaped by the
//! templates.
//!
//! Per monitor: its numbers, an uptime bar with one cell per hour (windows up to 7 days) or per
//! day, coloured by the share of checks that were up, and a latency chart of the same cells
//! (p50 line over a p95 band, downtime shaded). Then the incidents table.

use maud::{html, Markup};

use super::table::{label, millis, percent};
use super::{span, time, IncidentReport, MonitorReport, Report};
use crate::html::chart::{self, Series};
use crate::html::{badge, legend, page, Frame};
use crate::state::State;

/// Width of the bar and chart, px.
const W: f64 = 840.0;
/// Height of the uptime bar, px.
const BAR_H: f64 = 18.0;
/// Height of the latency chart, px (time labels go below it).
const CHART_H: f64 = 50.0;

/// The page.
pub fn render(report: &Report) -> String {
    let title = format!(
        "sitewatch report {} to {}",
        time(report.from),
        time(report.to)
    );
    let down_now = report
        .monitors
        .iter()
        .filter(|m| m.state == State::Down)
        .count();
    let cell = if report.cell_ms == super::DAY_MS {
        "day"
    } else {
        "hour"
    };
    let body = html! {
        h1 { "Report" }
        div.sub {
            (time(report.from)) " → " (time(report.to)) " (" (span((report.to - report.from) as f64 / 1000.0)) ") · "
            (report.monitors.len()) " monitors · " (report.incidents.len()) " incidents · "
            (down_now) " down at the end · one cell per " (cell) " · generated " (time(report.generated))
        }
        (legend())
        @if report.monitors.is_empty() { p { "No checks in this window." } }
        @for m in &report.monitors { (monitor(report, m)) }
        (incidents(&report.incidents))
    };
    let frame = Frame {
        title: &title,
        refresh_s: None,
        live: false,
    };
    page(frame, html! { "history report" }, body, None)
}

fn monitor(report: &Report, m: &MonitorReport) -> Markup {
    let down: Vec<(i64, i64, f64)> = report
        .incidents
        .iter()
        .filter(|i| i.url == m.url && i.name == m.name && i.id == m.id && i.location == m.location)
        .map(|i| {
            let end = i.end.unwrap_or(report.to.min(report.generated));
            (i.start, end, i.duration_s)
        })
        .collect();
    let series = Series {
        cells: &m.cells,
        from: report.cells_from,
        cell_ms: report.cell_ms,
        down: &down,
    };
    html! {
        div.mon {
            div.info {
                div.url { (m.url) " " span.name { "[" (super::located(&m.id, m.location.as_deref())) "]" } (badge(m.state)) }
                div.name { span.big { (percent(m.uptime_pct)) } (m.name.as_deref().unwrap_or("")) }
                div.nums {
                    (m.checks) " checks · by time " (percent(m.uptime_time_pct)) br;
                    (m.incidents) " incident(s), " (span(m.downtime_s)) " down, longest "
                    @if m.incidents > 0 { (span(m.longest_incident_s)) } @else { "-" }
                    br;
                    // Up, but needing attention: never downtime, said apart.
                    @if m.degraded_s > 0.0 { (span(m.degraded_s)) " degraded (counted as up)" br; }
                    "p50 " (millis(m.p50_ms)) " · p95 " (millis(m.p95_ms)) " · max " (millis(m.max_ms))
                }
                // Not verdicts: neither up nor down, said apart once there are some.
                @if m.local_errors + m.inconclusive > 0 || m.impaired_s > 0.0 || m.maintenance_s > 0.0 {
                    div.nums {
                        "not verdicts: " (m.local_errors) " local error(s), " (m.inconclusive)
                        " inconclusive, " (span(m.impaired_s)) " impaired, "
                        (span(m.maintenance_s)) " maintenance"
                    }
                }
            }
            div {
                (chart::strip(&series, W, BAR_H, "uptime per cell"))
                (chart::latency(&series, W, CHART_H))
            }
        }
    }
}

fn incidents(list: &[IncidentReport]) -> Markup {
    html! {
        h2 { "Incidents (" (list.len()) ")" }
        @if list.is_empty() {
            p { "None in this window." }
        } @else {
            table {
                tr { th { "monitor" } th { "start" } th { "end" } th.n { "duration" } th { "reason" } }
                @for i in list {
                    tr {
                        td { (label(&i.url, i.name.as_deref(), &super::located(&i.id, i.location.as_deref()))) }
                        td.t { (time(i.start)) }
                        td.t {
                            @match (i.end, i.ended_by) {
                                (None, _) => { "ongoing" },
                                (Some(e), Some(State::Unknown)) => { (time(e)) " (monitoring stopped)" },
                                (Some(e), _) => { (time(e)) },
                            }
                        }
                        td.n { (span(i.duration_s)) }
                        td {
                            @match (&i.reason, &i.detail) {
                                (Some(r), Some(d)) => { (r) ": " (d) },
                                (Some(r), None) => { (r) },
                                _ => { "-" },
                            }
                        }
                    }
                }
            }
        }
    }
}
