//! The plain data the live pages render: what a page shows, already decided (filtered,
//! paginated, sorted), as owned values. The server builds these from its status model; the
//! templates only lay them out, so they are tested on hand-made values.
//!
//! Times are ms since the epoch; latencies ms; uptimes percent (0–100).

use crate::report::CellReport;
use crate::state::State;

/// How one check ended, in the words sitewatch uses everywhere: a verdict (`up`, `down`), or
/// not one (`local error`: sitewatch's own failure; `inconclusive`: it could not tell).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The site answered as expected.
    Up,
    /// The site failed the check.
    Down,
    /// sitewatch itself failed to check (not a verdict on the site).
    LocalError,
    /// The check could not tell (paused, network impaired; not a verdict).
    Inconclusive,
}

impl Outcome {
    /// The outcome in words.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Up => "up",
            Outcome::Down => "down",
            Outcome::LocalError => "local error",
            Outcome::Inconclusive => "inconclusive",
        }
    }

    /// Its text colour class: green, red, or grey for what is not a verdict.
    pub fn class(self) -> &'static str {
        match self {
            Outcome::Up => "ok",
            Outcome::Down => "bad",
            Outcome::LocalError | Outcome::Inconclusive => "odd",
        }
    }
}

/// One check.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// When it ended.
    pub at: i64,
    /// How it ended.
    pub outcome: Outcome,
    /// HTTP status, if a response came.
    pub status: Option<u16>,
    /// Total time, if measured.
    pub latency_ms: Option<f64>,
    /// Why it failed (`connect`, `status`, `timeout`, …).
    pub reason: Option<String>,
    /// What was seen (a server's text may be in it: shown escaped).
    pub detail: Option<String>,
}

/// Uptime by checks over the last 24 hours, 7 days and 30 days; `None` without checks.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Uptimes {
    /// Last 24 hours.
    pub h24: Option<f64>,
    /// Last 7 days.
    pub d7: Option<f64>,
    /// Last 30 days.
    pub d30: Option<f64>,
    /// This run (shown when there is no history to give the others).
    pub run: Option<f64>,
}

impl Uptimes {
    /// True when the history gave none of the three windows.
    pub fn no_history(&self) -> bool {
        self.h24.is_none() && self.d7.is_none() && self.d30.is_none()
    }
}

/// Uptime cells for a strip: `cells` of `cell_ms` each from `from`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cells {
    /// Start of the first cell.
    pub from: i64,
    /// Width of a cell, ms.
    pub cell_ms: i64,
    /// Oldest first; empty when there is no history to draw from.
    pub cells: Vec<CellReport>,
}

/// A monitor's incidents over the last 30 days, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecentIncidents {
    /// Incidents that began in the last 30 days.
    pub count: u64,
    /// When the latest of them began.
    pub last: Option<i64>,
}

/// One monitor as a row of the status page (and the head of its own page).
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorRow {
    /// Its id: the URL path segment of `/monitors/{id}`.
    pub id: String,
    /// Its name, if set.
    pub name: Option<String>,
    /// Its group, if set.
    pub group: Option<String>,
    /// Its URL, redacted.
    pub url: String,
    /// Its state now.
    pub state: State,
    /// In that state since, if known.
    pub since: Option<i64>,
    /// Its last check, if any.
    pub last: Option<Check>,
    /// Its uptime.
    pub uptime: Uptimes,
    /// Latency p50 and p95 (over the last 24 hours or this run).
    pub p50_ms: Option<f64>,
    /// See `p50_ms`.
    pub p95_ms: Option<f64>,
    /// One cell per day, the last 90 days (from the hourly rollups).
    pub days: Cells,
    /// One cell per hour, the last 24 hours.
    pub hours: Cells,
    /// Its incidents over the last 30 days (`None` without a history).
    pub incidents: Option<RecentIncidents>,
    /// While down: the reason and detail of the check that declared it down (from the history).
    pub down_because: Option<(Option<String>, Option<String>)>,
    /// In a maintenance window now: why.
    pub maintenance: Option<String>,
}

impl MonitorRow {
    /// Its name, else its id.
    pub fn title(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// One incident: a monitor down from `start` to `end`.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// The monitor's id.
    pub monitor: String,
    /// Declared down.
    pub start: i64,
    /// Back up, or monitoring stopped; `None` while ongoing.
    pub end: Option<i64>,
    /// It ended because monitoring stopped, not because the monitor came back up.
    pub stopped: bool,
    /// Whole length so far, seconds.
    pub duration_s: f64,
    /// Failure reason that declared it.
    pub reason: Option<String>,
    /// Detail of that check.
    pub detail: Option<String>,
}

/// sitewatch's own health, for the footer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Health {
    /// Monitors configured.
    pub monitors: usize,
    /// Checks per minute (recent).
    pub checks_per_min: f64,
    /// 99th percentile of how late checks started, ms.
    pub lateness_p99_ms: Option<f64>,
    /// Checks missed (the queue was full).
    pub missed: u64,
    /// Checks coalesced (one was still due or running).
    pub coalesced: u64,
    /// Results the history could not write.
    pub unwritten: u64,
    /// Notifications lost.
    pub lost_notifications: u64,
    /// When sitewatch last stalled, if it did.
    pub last_stall: Option<i64>,
}

/// The filters of the list, as given in the query string.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    /// `?q=`: a substring of id, name or URL.
    pub q: String,
    /// `?state=`.
    pub state: Option<State>,
    /// `?group=`.
    pub group: String,
}

impl Filter {
    /// True when no filter is set.
    pub fn is_empty(&self) -> bool {
        self.q.is_empty() && self.state.is_none() && self.group.is_empty()
    }
}

/// What both live pages share.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Context {
    /// When the page was made.
    pub generated: i64,
    /// When this run started.
    pub started: i64,
    /// False with `--no-db`: the page shows only what this run has seen.
    pub history: bool,
    /// Why the history could not be read, if it could not (the page shows what it has).
    pub history_error: Option<String>,
    /// sitewatch's own health.
    pub health: Health,
    /// Reload the page every that many seconds.
    pub refresh_s: Option<u32>,
}

/// `GET /`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatusPage {
    /// Shared parts.
    pub context: Context,
    /// Monitors in all, up, down and not yet decided.
    pub total: usize,
    /// See `total`.
    pub up: usize,
    /// See `total`.
    pub down: usize,
    /// See `total`.
    pub unknown: usize,
    /// Of `total`, degraded (answering, needing attention; not in `up`).
    pub degraded: usize,
    /// Down monitors shown first, as ongoing incidents (at most a page of them).
    pub problems: Vec<MonitorRow>,
    /// The list's filters.
    pub filter: Filter,
    /// Groups to choose from.
    pub groups: Vec<String>,
    /// Monitors matching the filters.
    pub matched: usize,
    /// This page of them, in order (grouped).
    pub list: Vec<MonitorRow>,
    /// The page, from 1.
    pub page: usize,
    /// Pages in all (at least 1).
    pub pages: usize,
}

/// `GET /monitors/{id}`.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorPage {
    /// Shared parts.
    pub context: Context,
    /// The monitor.
    pub monitor: MonitorRow,
    /// Its latency chart: hourly cells (the last 7 days, or this run).
    pub chart: Cells,
    /// Its recent checks, newest first.
    pub checks: Vec<Check>,
    /// Its incidents, ongoing first, then the most recent.
    pub incidents: Vec<Incident>,
}
