//! The status model: what the page, the API and the badges all show, built from what the run
//! publishes (no lock or wait on the pipeline) and the cached history figures.
//!
//! [`overview`] answers "how is everything?": the headline ("All 40 monitors up" / "2 down"),
//! sitewatch's own health, and one page of monitors matching a [`Filter`], problems first
//! (down, then unknown, then up; config order within each). [`monitor`] gives one monitor.
//! At 100,000 monitors an overview costs one pass over the published atomics and a sort of the
//! matching indexes; only the page's monitors are built in full.

use std::time::{Duration, SystemTime};

use super::history::{self, Figures};
use super::{ident, Ctx, Reply, Request};
use crate::config::Monitor;
use crate::probe::{Nature, Reason};
use crate::state::State;
use crate::stats::LastCheck;

/// Monitors per page unless `?per_page=` says otherwise.
pub const PER_PAGE: usize = 100;
/// Largest `?per_page=` accepted.
pub const MAX_PER_PAGE: usize = 1000;

/// Which monitors to list: `?q=`, `?state=`, `?group=`, `?page=`, `?per_page=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Substring of the id, name or URL (ASCII case-insensitive).
    pub q: Option<String>,
    /// Only monitors in this state.
    pub state: Option<State>,
    /// Only monitors of this group (exactly).
    pub group: Option<String>,
    /// 1-based page number.
    pub page: usize,
    /// Monitors per page.
    pub per_page: usize,
}

impl Default for Filter {
    fn default() -> Filter {
        Filter {
            q: None,
            state: None,
            group: None,
            page: 1,
            per_page: PER_PAGE,
        }
    }
}

impl Filter {
    /// Reads the filter from the query; a bad value is a `400` naming the parameter.
    pub fn from_request(request: &Request) -> Result<Filter, Reply> {
        let mut f = Filter::default();
        let nonempty = |v: &str| (!v.is_empty()).then(|| v.to_string());
        f.q = request.param("q").and_then(nonempty);
        f.group = request.param("group").and_then(nonempty);
        if let Some(s) = request.param("state").filter(|s| !s.is_empty()) {
            f.state = Some(match s {
                "up" => State::Up,
                "down" => State::Down,
                "degraded" => State::Degraded,
                "unknown" => State::Unknown,
                _ => {
                    return Err(Reply::bad_param(
                        "state",
                        "use up, degraded, down or unknown",
                    ))
                }
            });
        }
        if let Some(p) = request.param("page") {
            f.page = match p.parse::<usize>() {
                Ok(n) if n >= 1 => n,
                _ => return Err(Reply::bad_param("page", "use a whole number from 1")),
            };
        }
        if let Some(p) = request.param("per_page") {
            f.per_page = match p.parse::<usize>() {
                Ok(n) if (1..=MAX_PER_PAGE).contains(&n) => n,
                _ => {
                    return Err(Reply::bad_param(
                        "per_page",
                        &format!("use a whole number from 1 to {MAX_PER_PAGE}"),
                    ))
                }
            };
        }
        Ok(f)
    }

    fn matches(&self, m: &Monitor, state: State) -> bool {
        if self.state.is_some_and(|s| s != state) {
            return false;
        }
        if let Some(g) = &self.group {
            if ident::group(m) != Some(g.as_str()) {
                return false;
            }
        }
        if let Some(q) = &self.q {
            let q = q.to_ascii_lowercase();
            let has = |s: &str| s.to_ascii_lowercase().contains(&q);
            return has(ident::id(m)) || m.name.as_deref().is_some_and(has) || has(&m.url);
        }
        true
    }
}

/// sitewatch's own health figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    /// Monitors in the config.
    pub monitors: usize,
    /// Checks finished per minute, over at least the last minute (over the run in its first).
    pub checks_per_minute: f64,
    /// Lateness (start − due) p99 since the last status report, ms.
    pub lateness_p99_ms: f64,
    /// Occurrences skipped because the scheduler was stalled.
    pub missed: u64,
    /// Occurrences skipped because the previous check was still pending.
    pub coalesced: u64,
    /// Results that did not reach the history database.
    pub unwritten: u64,
    /// Notifications not delivered.
    pub lost_notifications: u64,
    /// Operator lines lost.
    pub dropped_lines: u64,
    /// Checks that failed because of sitewatch itself.
    pub local_errors: u64,
    /// Checks that were inconclusive.
    pub inconclusive: u64,
    /// Stalls of the process over the run.
    pub stalls: u64,
    /// When the last stall ended, if any.
    pub last_stall: Option<SystemTime>,
    /// Checks running now.
    pub in_flight: usize,
    /// How long this run has been going.
    pub uptime: Duration,
}

/// Counts over every monitor (not only the page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Every monitor.
    pub total: usize,
    /// In the `up` state.
    pub up: usize,
    /// In the `down` state.
    pub down: usize,
    /// In the `degraded` state (answering, needing attention).
    pub degraded: usize,
    /// Not decided yet.
    pub unknown: usize,
}

impl Counts {
    /// "All 40 monitors up", "2 down", "2 down, 3 unknown", "5 unknown".
    pub fn headline(&self) -> String {
        match (self.down, self.unknown) {
            (0, 0) if self.degraded > 0 => format!("{} degraded, {} up", self.degraded, self.up),
            (0, 0) if self.total == 1 => "The monitor is up".into(),
            (0, 0) => format!("All {} monitors up", self.total),
            (0, u) => format!("{u} unknown, {} up", self.up),
            (d, 0) => format!("{d} down"),
            (d, u) => format!("{d} down, {u} unknown"),
        }
    }
}

/// The last check as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct LastCheckView {
    /// When it ended.
    pub ts: SystemTime,
    /// Final status code, if a response arrived.
    pub status: Option<u16>,
    /// Total time, ms.
    pub latency_ms: f64,
    /// Failure reason; `None` when up (or not a verdict).
    pub reason: Option<Reason>,
    /// Verdict, local failure of sitewatch, or inconclusive.
    pub nature: Nature,
    /// What was seen (from the history; `None` without it).
    pub detail: Option<String>,
    /// The earliest certificate expiry last seen; `None` before any TLS handshake.
    pub cert_expiry: Option<SystemTime>,
}

impl From<LastCheck> for LastCheckView {
    fn from(l: LastCheck) -> LastCheckView {
        LastCheckView {
            ts: l.at,
            status: l.status,
            latency_ms: l.elapsed.as_secs_f64() * 1000.0,
            reason: l.reason,
            nature: l.nature,
            detail: None,
            cert_expiry: l.cert_expiry,
        }
    }
}

/// One monitor as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorStatus {
    /// Index in the config.
    pub index: usize,
    /// Its id.
    pub id: String,
    /// Its name, if any.
    pub name: Option<String>,
    /// Its group, if any.
    pub group: Option<String>,
    /// Its URL as shown (secrets redacted).
    pub url: String,
    /// Its state.
    pub state: State,
    /// When the state began.
    pub since: SystemTime,
    /// Its last check, if any.
    pub last_check: Option<LastCheckView>,
    /// Uptime percent over 24 h, 7 d, 30 d (from the history; `None` without it or without
    /// checks there).
    pub uptime: [Option<f64>; 3],
    /// Uptime percent by checks over this run (verdicts only).
    pub uptime_run: Option<f64>,
    /// Latency p50 and p95 over 24 h, ms (from the history).
    pub latency: [Option<f64>; 2],
    /// In a maintenance window now: its reason (`maintenance window` without one).
    pub maintenance: Option<String>,
}

/// One page of the overview.
#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    /// When it was built.
    pub generated: SystemTime,
    /// Whether uptime comes from the history (false with `--no-db`: this run only).
    pub history: bool,
    /// Why the history could not be read, if it could not.
    pub history_error: Option<String>,
    /// sitewatch's health.
    pub health: Health,
    /// Counts over every monitor.
    pub counts: Counts,
    /// The filter applied.
    pub filter: Filter,
    /// Monitors matching the filter.
    pub matching: usize,
    /// Pages of matching monitors (at least 1).
    pub pages: usize,
    /// This page's monitors, problems first.
    pub monitors: Vec<MonitorStatus>,
}

fn rank(state: State) -> u8 {
    match state {
        State::Down => 0,
        State::Degraded => 1,
        State::Unknown => 2,
        State::Up => 3,
    }
}

/// sitewatch's health now.
pub fn health(ctx: &Ctx) -> Health {
    let s = &ctx.stats;
    let uptime = ctx.started_at.elapsed();
    let schedule = s.schedule();
    Health {
        monitors: live(ctx),
        checks_per_minute: ctx.checks_per_minute(std::time::Instant::now()),
        lateness_p99_ms: s.lateness_now().quantile(0.99).as_secs_f64() * 1000.0,
        missed: schedule.missed,
        coalesced: schedule.coalesced,
        unwritten: s.unwritten(),
        lost_notifications: s.lost_notifications(),
        dropped_lines: s.dropped_lines(),
        local_errors: s.local_errors(),
        inconclusive: s.inconclusive(),
        stalls: s.stalls(),
        last_stall: ctx
            .pauses
            .last_stall()
            .map(|(_, end)| SystemTime::now() - end.elapsed()),
        in_flight: s.in_flight().len(),
        uptime,
    }
}

/// The history figures, if there is a history (and why not, if it cannot be read).
fn figures(ctx: &Ctx) -> (Option<std::sync::Arc<history::Table>>, Option<String>) {
    match &ctx.history {
        None => (None, None),
        Some(path) => match ctx.figures.get(path, &ctx.monitors()) {
            // Figures from an earlier read, if the last refresh failed: say why.
            Ok(t) => (Some(t), ctx.figures.error()),
            Err(e) => (None, Some(e)),
        },
    }
}

/// One monitor as shown, with `figures` from the history.
fn build(ctx: &Ctx, index: usize, figures: Option<&Figures>) -> MonitorStatus {
    let monitors = ctx.monitors();
    let m = &monitors[index];
    let totals = ctx.stats.monitor_total(index);
    MonitorStatus {
        index,
        id: ident::id(m).to_string(),
        name: m.name.as_deref().map(str::to_string),
        group: ident::group(m).map(str::to_string),
        url: m.url.to_string(),
        state: ctx.stats.state(index),
        since: ctx.stats.state_since(index).unwrap_or(ctx.started),
        last_check: ctx.stats.last_check(index).map(LastCheckView::from),
        uptime: figures.map_or([None; 3], |f| f.uptime),
        uptime_run: (totals.checks > 0).then(|| totals.up_pct()),
        latency: figures.map_or([None; 2], |f| f.latency),
        maintenance: ctx.planned.as_ref().and_then(|p| {
            let now = crate::config::plan::epoch_ms(SystemTime::now());
            p.in_window(index, now)
                .map(|r| r.as_deref().unwrap_or("maintenance window").to_owned())
        }),
    }
}

/// Monitors now, those a reload removed left out.
fn live(ctx: &Ctx) -> usize {
    ctx.monitors().len() - ctx.catalog.removed().iter().filter(|&&r| r).count()
}

/// The overview: health, counts and one page of monitors matching `filter`.
pub fn overview(ctx: &Ctx, filter: &Filter) -> Overview {
    let list = ctx.monitors();
    let removed = ctx.catalog.removed();
    let mut counts = Counts {
        total: list.len() - removed.iter().filter(|&&r| r).count(),
        ..Counts::default()
    };
    let mut matching: Vec<(u8, usize)> = Vec::new();
    for (index, m) in list.iter().enumerate() {
        if removed.get(index).copied().unwrap_or(false) {
            continue; // removed by a reload
        }
        let state = ctx.stats.state(index);
        match state {
            State::Up => counts.up += 1,
            State::Down => counts.down += 1,
            State::Degraded => counts.degraded += 1,
            State::Unknown => counts.unknown += 1,
        }
        if filter.matches(m, state) {
            matching.push((rank(state), index));
        }
    }
    matching.sort_unstable();
    let pages = matching.len().div_ceil(filter.per_page).max(1);
    let start = (filter.page - 1).saturating_mul(filter.per_page);
    let (table, history_error) = figures(ctx);
    let monitors = matching
        .iter()
        .skip(start)
        .take(filter.per_page)
        .map(|&(_, i)| {
            let f = table
                .as_ref()
                .and_then(|t| t.figures.get(i).cloned().flatten());
            build(ctx, i, f.as_ref())
        })
        .collect();
    Overview {
        generated: SystemTime::now(),
        history: ctx.history.is_some(),
        history_error,
        health: health(ctx),
        counts,
        filter: filter.clone(),
        matching: matching.len(),
        pages,
        monitors,
    }
}

/// One monitor as shown, without reading its recent checks (for badges).
pub fn monitor_summary(ctx: &Ctx, index: usize) -> MonitorStatus {
    let (table, _) = figures(ctx);
    let f = table
        .as_ref()
        .and_then(|t| t.figures.get(index).cloned().flatten());
    build(ctx, index, f.as_ref())
}

/// One monitor with its recent checks and incidents (empty without a history).
pub struct MonitorDetail {
    /// The monitor.
    pub status: MonitorStatus,
    /// Whether the checks and incidents come from the history.
    pub history: bool,
    /// Why the history could not be read, if it could not.
    pub history_error: Option<String>,
    /// Recent checks, newest first.
    pub recent: Vec<history::CheckRow>,
    /// Incidents over the last 30 days, ongoing first.
    pub incidents: Vec<crate::report::timeline::Span>,
}

/// One monitor in full.
pub fn monitor(ctx: &Ctx, index: usize) -> MonitorDetail {
    let (table, mut history_error) = figures(ctx);
    let f = table
        .as_ref()
        .and_then(|t| t.figures.get(index).cloned().flatten());
    let mut status = build(ctx, index, f.as_ref());
    let (mut recent, mut incidents) = (Vec::new(), Vec::new());
    if let Some(path) = &ctx.history {
        match history::detail(path, &ctx.monitors()[index]) {
            Ok(Some(d)) => {
                recent = d.recent;
                incidents = d.incidents;
            }
            Ok(None) => {}
            Err(e) => history_error = Some(e),
        }
    }
    // The stored last check carries the detail the published one leaves out.
    if let (Some(last), Some(row)) = (&mut status.last_check, recent.first()) {
        let at_ms = crate::store::epoch_ms(last.ts);
        if (row.ts - at_ms).abs() < 1000 {
            last.detail.clone_from(&row.detail);
        }
    }
    MonitorDetail {
        status,
        history: ctx.history.is_some(),
        history_error,
        recent,
        incidents,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headline_says_what_is_wrong() {
        let c = |total, up, down, unknown| Counts {
            total,
            up,
            down,
            degraded: 0,
            unknown,
        };
        assert_eq!(c(40, 40, 0, 0).headline(), "All 40 monitors up");
        let d = Counts {
            degraded: 2,
            ..c(40, 38, 0, 0)
        };
        assert_eq!(d.headline(), "2 degraded, 38 up");
        assert_eq!(c(40, 38, 2, 0).headline(), "2 down");
        assert_eq!(c(40, 35, 2, 3).headline(), "2 down, 3 unknown");
        assert_eq!(c(4, 1, 0, 3).headline(), "3 unknown, 1 up");
    }

    #[test]
    fn filters_are_read_and_bad_values_name_the_parameter() {
        use super::super::request::Method;
        let f = Filter::from_request(&Request::new(
            Method::Get,
            "/api/v1/status?q=Shop&state=down&group=eu&page=2&per_page=10",
        ))
        .unwrap();
        assert_eq!(f.q.as_deref(), Some("Shop"));
        assert_eq!((f.state, f.page, f.per_page), (Some(State::Down), 2, 10));
        for (query, name) in [
            ("state=sideways", "\"state\""),
            ("page=0", "\"page\""),
            ("page=x", "\"page\""),
            ("per_page=100000", "\"per_page\""),
        ] {
            let r = Filter::from_request(&Request::new(Method::Get, &format!("/?{query}")))
                .unwrap_err();
            assert_eq!(r.status, 400);
            assert!(String::from_utf8_lossy(&r.body).contains(name), "{query}");
        }
    }
}
