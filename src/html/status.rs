//! `GET /`: the status page. The overall status first, in words and colour ("All 40 monitors
//! up", "2 down"), then the problems (down monitors), then a filterable, paginated list by
//! group, and incidents (ongoing first). A plain GET form filters the list, so the page works
//! without JavaScript; links keep the filters. sitewatch's own health is in the footer.
//!
//! Per monitor: state in words and colour, since when, last check, uptime 24 h / 7 d / 30 d,
//! a 90-day strip of daily cells and a strip of the last 24 hours.

use maud::{html, Markup};

use super::chart::{self, Series};
use super::parts::{ago, check_words, footer, history_warning, monitor_href, stamp};
use super::view::{Cells, Filter, MonitorRow, StatusPage};
use super::{badge, maintenance_badge, page, Frame};
use crate::report::span;
use crate::state::State;

/// Width of the 90-day strip, px (3 px a day).
const DAYS_W: f64 = 270.0;
/// Width of the 24-hour strip, px.
const HOURS_W: f64 = 144.0;
/// Height of the strips, px.
const STRIP_H: f64 = 22.0;

/// The headline and its state, in the API's words: "All 40 monitors up", "2 down",
/// "2 down, 3 unknown", "3 unknown, 1 up" (never "all up" while a monitor has no verdict).
pub fn headline(p: &StatusPage) -> (String, State) {
    let words = match (p.total, p.down, p.unknown) {
        (0, _, _) => "No monitors".to_string(),
        (_, 0, 0) if p.degraded > 0 => format!("{} degraded, {} up", p.degraded, p.up),
        (1, 0, 0) => "The monitor is up".into(),
        (n, 0, 0) => format!("All {n} monitors up"),
        (_, 0, u) => format!("{u} unknown, {} up", p.up),
        (_, d, 0) => format!("{d} down"),
        (_, d, u) => format!("{d} down, {u} unknown"),
    };
    let state = match (p.total, p.down, p.unknown) {
        (0, _, _) => State::Unknown,
        (_, 0, 0) if p.degraded > 0 => State::Degraded,
        (_, 0, 0) => State::Up,
        (_, 0, _) => State::Unknown,
        _ => State::Down,
    };
    (words, state)
}

/// The query string for `filter` at `page` (empty values left out).
pub fn query(filter: &Filter, page: usize) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    if !filter.q.is_empty() {
        s.append_pair("q", &filter.q);
    }
    if let Some(state) = filter.state {
        s.append_pair("state", state.as_str());
    }
    if !filter.group.is_empty() {
        s.append_pair("group", &filter.group);
    }
    if page > 1 {
        s.append_pair("page", &page.to_string());
    }
    let s = s.finish();
    if s.is_empty() {
        "/".into()
    } else {
        format!("/?{s}")
    }
}

/// The page.
pub fn render(p: &StatusPage) -> String {
    let (words, state) = headline(p);
    let now = p.context.generated;
    let body = html! {
        (history_warning(&p.context))
        div class={ "overall " (state.as_str()) } {
            span class={ "dot " (state.as_str()) } {}
            span.word { (words) }
            span.counts {
                (p.up) " up · " (p.down) " down"
                @if p.unknown > 0 { " · " (p.unknown) " unknown (not checked yet)" }
                br;
                span.muted { (p.total) " monitors" }
            }
        }
        @if !p.problems.is_empty() {
            h2 { "Problems (" (p.down) ") " span.muted { "· ongoing incidents" } }
            (problems(now, &p.problems))
            @if p.down > p.problems.len() {
                p { a href=(query(&Filter { state: Some(State::Down), ..Filter::default() }, 1)) { "All " (p.down) " down monitors →" } }
            }
        }
        h2 { "Monitors" }
        (form(p))
        p.muted {
            (p.matched) " of " (p.total) " monitors"
            @if !p.filter.is_empty() { " match · " a href="/" { "clear filters" } }
            @if p.pages > 1 { " · page " (p.page) " of " (p.pages) }
        }
        @for chunk in p.list.chunk_by(|a, b| a.group == b.group) {
            @if chunk[0].group.is_some() || p.list.iter().any(|m| m.group.is_some()) {
                div.group { (chunk[0].group.as_deref().unwrap_or("No group")) }
            }
            div.rows { @for m in chunk { (row(now, m)) } }
        }
        @if p.list.is_empty() { p { "No monitors match." } }
        (pager(p))
    };
    let frame = Frame {
        title: &format!("{words} · sitewatch"),
        refresh_s: p.context.refresh_s,
        live: true,
    };
    page(
        frame,
        html! { "status as of " (super::parts::stamp(now)) },
        body,
        Some(footer(&p.context)),
    )
}

fn form(p: &StatusPage) -> Markup {
    html! {
        form.filter method="get" action="/" {
            input type="search" name="q" value=(p.filter.q) placeholder="name, id or URL contains…" aria-label="search";
            select name="state" aria-label="state" {
                option value="" { "any state" }
                @for s in [State::Down, State::Degraded, State::Up, State::Unknown] {
                    option value=(s.as_str()) selected[p.filter.state == Some(s)] { (s.as_str()) }
                }
            }
            @if !p.groups.is_empty() {
                select name="group" aria-label="group" {
                    option value="" { "any group" }
                    @for g in &p.groups {
                        option value=(g) selected[&p.filter.group == g] { (g) }
                    }
                }
            } @else if !p.filter.group.is_empty() {
                input type="hidden" name="group" value=(p.filter.group);
            }
            button type="submit" { "Filter" }
        }
    }
}

fn pager(p: &StatusPage) -> Markup {
    html! {
        @if p.pages > 1 {
            nav.pager aria-label="pages" {
                @if p.page > 1 {
                    a href=(query(&p.filter, 1)) { "« first" }
                    a href=(query(&p.filter, p.page - 1)) rel="prev" { "‹ previous" }
                }
                span { "page " (p.page) " of " (p.pages) }
                @if p.page < p.pages {
                    a href=(query(&p.filter, p.page + 1)) rel="next" { "next ›" }
                    a href=(query(&p.filter, p.pages)) { "last »" }
                }
            }
        }
    }
}

/// The down monitors as a table of ongoing incidents: since when, for how long, what the
/// last check saw.
fn problems(now: i64, list: &[MonitorRow]) -> Markup {
    html! {
        table {
            tr { th { "monitor" } th { "down since" } th.n { "for" } th { "last check" } th { "why it went down" } }
            @for m in list {
                tr {
                    td { a href=(monitor_href(&m.id)) { (m.title()) } (badge(m.state)) (maintenance_badge(m.maintenance.as_deref())) }
                    td.t { @match m.since { Some(t) => (stamp(t)), None => "-" } }
                    td.n { @match m.since { Some(t) => (span((now - t).max(0) as f64 / 1000.0)), None => "-" } }
                    td {
                        @match &m.last {
                            Some(c) => { (check_words(c)) " · " span.muted { (ago(now, c.at)) } },
                            None => { "-" },
                        }
                    }
                    td.detail {
                        @match &m.down_because {
                            Some((reason, detail)) => {
                                @if let Some(r) = reason { b { (r) } }
                                @if let Some(d) = detail { ": " (d) }
                            },
                            None => {
                                @if let Some(d) = m.last.as_ref().and_then(|c| c.detail.as_deref()) { (d) }
                            },
                        }
                    }
                }
            }
        }
    }
}

/// Two strips side by side: the last 90 days and the last 24 hours.
fn strips(m: &MonitorRow) -> Markup {
    let strip = |c: &Cells, w: f64, label: &str| {
        chart::strip(
            &Series {
                cells: &c.cells,
                from: c.from,
                cell_ms: c.cell_ms,
                down: &[],
            },
            w,
            STRIP_H,
            label,
        )
    };
    html! {
        div.strips {
            @if m.days.cells.is_empty() && m.hours.cells.is_empty() {
                span.muted { "no history" }
            } @else {
                div {
                    @if !m.days.cells.is_empty() {
                        div { (strip(&m.days, DAYS_W, "uptime per day, last 90 days")) div.cap { span { (m.days.cells.len()) " days" } span { "today" } } }
                    }
                }
                div {
                    @if !m.hours.cells.is_empty() {
                        div { (strip(&m.hours, HOURS_W, "uptime per hour, last 24 hours")) div.cap { span { "24 h" } span { "now" } } }
                    }
                }
            }
        }
    }
}

/// One monitor's row.
pub fn row(now: i64, m: &MonitorRow) -> Markup {
    html! {
        div class={ "row " (m.state.as_str()) } {
            div.who {
                a href=(monitor_href(&m.id)) { (m.title()) } (badge(m.state)) (maintenance_badge(m.maintenance.as_deref()))
                div.u title=(m.url) { (m.url) }
            }
            div {
                div.k { (m.state.as_str()) " for" }
                div.v {
                    @match m.since {
                        Some(t) => { (span((now - t).max(0) as f64 / 1000.0)) },
                        None => { "-" },
                    }
                }
            }
            div {
                div.k { "last check" }
                div.v {
                    @match &m.last {
                        Some(c) => { (check_words(c)) br; span.muted { (ago(now, c.at)) } },
                        None => { span.muted { "not yet" } },
                    }
                }
            }
            div {
                @if m.uptime.no_history() && m.uptime.run.is_some() {
                    div.k { "uptime this run" }
                    div.v { (short(m.uptime.run)) }
                } @else {
                    div.k { "uptime 24 h · 7 d · 30 d" }
                    div.v { (short(m.uptime.h24)) " · " (short(m.uptime.d7)) " · " (short(m.uptime.d30)) }
                }
                @if let Some(i) = m.incidents {
                    div.u {
                        @match (i.count, i.last) {
                            (0, _) | (_, None) => { "no incidents in 30 d" },
                            (n, Some(t)) => {
                                a href=(monitor_href(&m.id)) { (n) " incident" @if n > 1 { "s" } } " in 30 d, last " (ago(now, t))
                            },
                        }
                    }
                }
            }
            (strips(m))
        }
    }
}

/// `99.95%`, `100%`, or `-`: short enough for three in a column. Rounded down, so only a
/// monitor with no failed check shows `100%`.
fn short(p: Option<f64>) -> String {
    match p {
        Some(p) if p >= 100.0 => "100%".into(),
        Some(p) => format!("{:.2}%", (p * 100.0).floor() / 100.0),
        None => "-".into(),
    }
}
