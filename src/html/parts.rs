//! Pieces both live pages use: the footer with sitewatch's own health, times said relative to
//! the page, check results, links to a monitor, the incidents table.

use maud::{html, Markup};

use super::view::{Check, Context, Incident};
use crate::report::table::millis;
use crate::report::{span, time};

/// `/monitors/{id}` with `id` percent-encoded: everything but unreserved characters, so a
/// name with `/`, `?`, `#` or spaces stays one path segment.
pub fn monitor_href(id: &str) -> String {
    let mut out = String::from("/monitors/");
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// How long before `now` `at` was: `12s ago`, `3h 5m ago`.
pub fn ago(now: i64, at: i64) -> String {
    format!("{} ago", span((now - at).max(0) as f64 / 1000.0))
}

/// A time for a table: `2026-01-01 13:05:09Z`.
pub fn stamp(ms: i64) -> String {
    time(ms).replacen('T', " ", 1)
}

/// A check in a few words: `200 · 45.0 ms`, `down · timeout`.
pub fn check_words(c: &Check) -> Markup {
    html! {
        span class=(c.outcome.class()) { (c.outcome.as_str()) }
        @if let Some(s) = c.status { " · " (s) }
        @if let Some(ms) = c.latency_ms { " · " (millis(Some(ms))) }
        @if let Some(r) = &c.reason { " · " (r) }
    }
}

/// The incidents table, with the monitor column when `with_monitor`.
pub fn incidents(now: i64, list: &[Incident], with_monitor: bool) -> Markup {
    html! {
        @if list.is_empty() {
            p.muted { "No incidents." }
        } @else {
            table {
                tr {
                    @if with_monitor { th { "monitor" } }
                    th { "start" } th { "end" } th.n { "duration" } th { "reason" }
                }
                @for i in list {
                    tr {
                        @if with_monitor { td { a href=(monitor_href(&i.monitor)) { (i.monitor) } } }
                        td.t { (stamp(i.start)) }
                        td.t {
                            @match i.end {
                                None => { span.bad { "ongoing" } " · " (ago(now, i.start)) },
                                Some(e) if i.stopped => { (stamp(e)) " (monitoring stopped)" },
                                Some(e) => { (stamp(e)) },
                            }
                        }
                        td.n { (span(i.duration_s)) }
                        td.detail {
                            @if let Some(r) = &i.reason { b { (r) } }
                            @if let Some(d) = &i.detail { ": " (d) }
                            @if i.reason.is_none() && i.detail.is_none() { "-" }
                        }
                    }
                }
            }
        }
    }
}

/// A warning when the history could not be read: nothing failing is silent.
pub fn history_warning(c: &Context) -> Markup {
    html! {
        @if let Some(e) = &c.history_error {
            p.warn role="alert" { b { "The history could not be read: " } (e) " — figures from it may be missing or old." }
        }
    }
}

/// The footer: sitewatch's own health.
pub fn footer(c: &Context) -> Markup {
    let h = &c.health;
    html! {
        span { "sitewatch: " b { (h.monitors) } " monitors" }
        span { b { (format!("{:.0}", h.checks_per_min)) } " checks/min" }
        span { "lateness p99 " b { (millis(h.lateness_p99_ms)) } }
        span { "missed " b { (h.missed) } }
        span { "coalesced " b { (h.coalesced) } }
        span { "unwritten " b { (h.unwritten) } }
        span { "lost notifications " b { (h.lost_notifications) } }
        span { "last stall " b { @match h.last_stall { Some(t) => (ago(c.generated, t)), None => "never" } } }
        br;
        span {
            @if c.history { "history: on" } @else { "history: off (--no-db): what this run has seen" }
            " · running since " (stamp(c.started)) " · page generated " (stamp(c.generated))
            @if let Some(s) = c.refresh_s { " · refreshes every " (s) " s" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_links_keep_an_id_one_path_segment() {
        assert_eq!(monitor_href("api-1"), "/monitors/api-1");
        assert_eq!(monitor_href("a b/c?d#"), "/monitors/a%20b%2Fc%3Fd%23");
        assert_eq!(monitor_href("é"), "/monitors/%C3%A9");
    }
}
