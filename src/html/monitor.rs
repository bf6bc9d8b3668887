//! `GET /monitors/{id}`: one monitor. Its state in words and colour, since when, its figures,
//! the uptime strips, a latency chart (the report's chart code), its incidents (ongoing
//! first) and its recent checks with reason and detail.

use maud::{html, Markup};

use super::chart::{self, Series};
use super::parts::{ago, check_words, footer, history_warning, incidents, stamp};
use super::view::MonitorPage;
use super::{badge, maintenance_badge, page, Frame};
use crate::report::span;
use crate::report::table::{millis, percent};

/// Width of the latency chart, px.
const CHART_W: f64 = 1100.0;
/// Height of the latency chart's plot, px.
const CHART_H: f64 = 90.0;

/// The page.
pub fn render(p: &MonitorPage) -> String {
    let m = &p.monitor;
    let now = p.context.generated;
    let down: Vec<(i64, i64, f64)> = p
        .incidents
        .iter()
        .map(|i| (i.start, i.end.unwrap_or(now), i.duration_s))
        .collect();
    let series = Series {
        cells: &p.chart.cells,
        from: p.chart.from,
        cell_ms: p.chart.cell_ms,
        down: &down,
    };
    let days = Series {
        cells: &m.days.cells,
        from: m.days.from,
        cell_ms: m.days.cell_ms,
        down: &[],
    };
    let card = |k: &str, v: Markup| html! { div.card { div.k { (k) } div.v { (v) } } };
    let body = html! {
        (history_warning(&p.context))
        p { a href="/" { "← all monitors" } }
        h1 { (m.title()) (badge(m.state)) (maintenance_badge(m.maintenance.as_deref())) }
        div.sub {
            "id " code { (m.id) } " · " (m.url)
            @if let Some(g) = &m.group { " · group " (g) }
        }
        div.cards {
            (card("state", html! {
                (m.state.as_str())
                @if let Some(t) = m.since { span.muted { " for " (span((now - t).max(0) as f64 / 1000.0)) } }
            }))
            (card("last check", html! {
                @match &m.last {
                    Some(c) => { (check_words(c)) },
                    None => { span.muted { "not yet" } },
                }
            }))
            @if m.uptime.no_history() && m.uptime.run.is_some() {
                (card("uptime this run", html! { (percent(m.uptime.run)) }))
            }
            (card("uptime 24 h", html! { (percent(m.uptime.h24)) }))
            (card("uptime 7 d", html! { (percent(m.uptime.d7)) }))
            (card("uptime 30 d", html! { (percent(m.uptime.d30)) }))
            (card("latency p50 · p95", html! { (millis(m.p50_ms)) " · " (millis(m.p95_ms)) }))
        }
        @if !m.days.cells.is_empty() {
            h2 { "Uptime, last " (m.days.cells.len()) " days" }
            div.panel {
                (chart::strip(&days, CHART_W, 24.0, "uptime per day, last 90 days"))
                div.cap { span { (days.label(0)) } span { "today" } }
            }
        }
        h2 { "Latency" }
        div.panel {
            @if p.chart.cells.iter().any(|c| c.p50_ms.is_some()) {
                (chart::strip(&series, CHART_W, 14.0, "uptime per hour"))
                (chart::latency(&series, CHART_W, CHART_H))
            } @else {
                span.muted { "No latency measured yet." }
            }
        }
        h2 { "Incidents (" (p.incidents.len()) ")" }
        (incidents(now, &p.incidents, false))
        h2 { "Recent checks" }
        @if p.checks.is_empty() {
            p.muted { "No checks yet." }
        } @else {
            table {
                tr { th { "time" } th { "result" } th.n { "status" } th.n { "latency" } th { "reason" } th { "detail" } }
                @for c in &p.checks {
                    tr {
                        td.t { (stamp(c.at)) br; span.muted { (ago(now, c.at)) } }
                        td { span class=(c.outcome.class()) { (c.outcome.as_str()) } }
                        td.n { @match c.status { Some(s) => (s), None => "-" } }
                        td.n { (millis(c.latency_ms)) }
                        td { (c.reason.as_deref().unwrap_or("-")) }
                        td.detail { (c.detail.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    };
    let title = format!("{} ({}) · sitewatch", m.title(), m.state);
    let frame = Frame {
        title: &title,
        refresh_s: p.context.refresh_s,
        live: true,
    };
    page(
        frame,
        html! { "monitor as of " (stamp(now)) },
        body,
        Some(footer(&p.context)),
    )
}
