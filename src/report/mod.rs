//! `sitewatch report`: reads the history database and answers "how reliable was it?" for a
//! window of time, per monitor, in four formats (one file each: [`table`], [`json`], [`csv`],
//! [`html`]).
//!
//! [`build`] turns a [`Query`] into a [`Report`], a plain data type the formats only render.
//! Per monitor it gives checks and uptime by checks (from the hourly rollups for whole hours
//! inside the window and from raw checks for the partial hours at its edges, so a month of
//! history costs a few hundred rows per monitor), latency p50/p95 (from the rollups' sketches,
//! within ±3.2 %) and max, and from the state transitions ([`timeline`](mod@timeline)) uptime by time,
//! incidents, downtime and the longest incident. Windows reaching back past `--retain`, where
//! raw checks are gone, are counted by whole hours.
//!
//! Only verdicts count in uptime. Checks that were not verdicts (local failures of sitewatch,
//! inconclusive checks) are counted apart per monitor from the raw checks (so not past
//! `--retain`), and times sitewatch could not measure (the `impairments` table: paused, network
//! impaired) are taken out of observed time and downtime: neither up nor down.
//!
//! The database is opened read-only, so a report can run while sitewatch writes.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use rusqlite::{params, Connection, OptionalExtension};

use crate::state::State;
use crate::store::epoch_ms;
use crate::store::rollup::{cell_from_row, hour_of, Cell, HOUR_MS};

pub mod csv;
pub mod fleet;
pub mod html;
pub mod json;
pub mod table;
pub mod timeline;

use self::timeline::{merge, timeline_excluding, Transition};

/// Milliseconds in a day.
pub const DAY_MS: i64 = 24 * HOUR_MS;
/// Windows up to this long get one uptime cell per hour; longer ones one per day.
const HOURLY_UP_TO: i64 = 7 * DAY_MS;

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ReportFormat {
    /// Aligned columns for a terminal.
    #[default]
    Table,
    /// One JSON document.
    Json,
    /// One CSV table: a row per monitor, then a row per incident (`type` column).
    Csv,
    /// A self-contained HTML page with uptime bars and latency charts.
    Html,
}

/// What to report on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Start of the window, ms since the epoch (inclusive).
    pub from: i64,
    /// End of the window, ms since the epoch (exclusive).
    pub to: i64,
    /// Only monitors whose URL, name or id contains this (`*` and `?` are wildcards).
    pub pattern: Option<String>,
    /// "Now", ms since the epoch: incidents still open are measured to `min(to, now)`.
    pub now: i64,
}

/// One monitor over the window.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorReport {
    /// The URL.
    pub url: String,
    /// The monitor's id (see [`crate::config::identity`]), as of its last run.
    pub id: String,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// Where it was checked from, in a report over several databases (see [`fleet`]).
    pub location: Option<String>,
    /// Its check interval, seconds.
    pub interval_s: f64,
    /// Checks in the window (verdicts).
    pub checks: u64,
    /// Of those, up.
    pub up: u64,
    /// Checks that failed because of sitewatch itself (not verdicts, not in `checks`).
    pub local_errors: u64,
    /// Checks that were inconclusive (not verdicts, not in `checks`).
    pub inconclusive: u64,
    /// Seconds of the window with a known state during which sitewatch could not measure
    /// (paused, network impaired): neither up nor down, not in `observed_s`.
    pub impaired_s: f64,
    /// Seconds of the window covered by maintenance windows of this monitor (planned time,
    /// whatever its state): neither up nor down, taken out of `observed_s` and `downtime_s`.
    pub maintenance_s: f64,
    /// Percentage of checks that were up; `None` without checks.
    pub uptime_pct: Option<f64>,
    /// Percentage of observed time the monitor was not down; `None` if its state was never
    /// known during the window.
    pub uptime_time_pct: Option<f64>,
    /// Seconds of the window with a known state.
    pub observed_s: f64,
    /// Incidents overlapping the window.
    pub incidents: usize,
    /// Seconds of the window spent down.
    pub downtime_s: f64,
    /// Seconds of the window spent degraded: up (in uptime, never downtime), shown apart.
    pub degraded_s: f64,
    /// The longest incident overlapping the window, whole, seconds.
    pub longest_incident_s: f64,
    /// Median total time, ms.
    pub p50_ms: Option<f64>,
    /// 95th percentile total time, ms.
    pub p95_ms: Option<f64>,
    /// Slowest check, ms.
    pub max_ms: Option<f64>,
    /// Mean total time, ms.
    pub mean_ms: Option<f64>,
    /// Last known state (`up`/`down`) at the end of the window; `unknown` if never decided.
    pub state: State,
    /// Per hour or day (see [`Report::cell_ms`]): checks, up and latency of that cell.
    pub cells: Vec<CellReport>,
    /// The window's checks and latency sketch, which reports over several databases merge.
    pub total: Cell,
}

/// One cell of a monitor's uptime bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellReport {
    /// Checks in the cell.
    pub checks: u64,
    /// Of those, up.
    pub up: u64,
    /// Median latency, ms.
    pub p50_ms: Option<f64>,
    /// 95th percentile latency, ms.
    pub p95_ms: Option<f64>,
}

impl CellReport {
    /// Percentage of checks up; `None` without checks.
    pub fn uptime_pct(&self) -> Option<f64> {
        pct(self.up, self.checks)
    }
}

/// One incident overlapping the window.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentReport {
    /// The monitor's URL.
    pub url: String,
    /// The monitor's id.
    pub id: String,
    /// The monitor's name.
    pub name: Option<String>,
    /// Where it was seen down, in a report over several databases; `quorum Q/N` for the
    /// times at least Q of N locations saw it down.
    pub location: Option<String>,
    /// Declared down, ms since the epoch.
    pub start: i64,
    /// Back up or monitoring stopped, ms since the epoch; `None` if still down.
    pub end: Option<i64>,
    /// `up` (recovered) or `unknown` (monitoring stopped); `None` if still down.
    pub ended_by: Option<State>,
    /// Whole length, seconds (an open one measured to the end of the window).
    pub duration_s: f64,
    /// Failure reason that declared it.
    pub reason: Option<String>,
    /// Status code of that check.
    pub status: Option<u16>,
    /// Detail of that check.
    pub detail: Option<String>,
}

/// Everything a report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Window start, ms since the epoch.
    pub from: i64,
    /// Window end, ms since the epoch.
    pub to: i64,
    /// When the report was made.
    pub generated: i64,
    /// Width of an uptime cell: an hour or a day, ms.
    pub cell_ms: i64,
    /// Start of the first cell (`from` rounded down to the cell width), ms since the epoch.
    pub cells_from: i64,
    /// Monitors with checks or a known state in the window, in the order first seen.
    pub monitors: Vec<MonitorReport>,
    /// Incidents overlapping the window, by start time.
    pub incidents: Vec<IncidentReport>,
    /// Times in the window sitewatch could not measure, by start time.
    pub impairments: Vec<ImpairmentReport>,
    /// Maintenance windows overlapping the window, by start time.
    pub maintenance: Vec<MaintenanceReport>,
}

/// A maintenance window: planned work on some monitors.
#[derive(Debug, Clone, PartialEq)]
pub struct MaintenanceReport {
    /// Its id in the history database.
    pub id: i64,
    /// Start, ms since the epoch.
    pub start: i64,
    /// End, ms since the epoch.
    pub end: i64,
    /// Which monitors, as given (`all`, ids, `group:NAME`).
    pub monitors: String,
    /// Why.
    pub reason: Option<String>,
}

/// A time sitewatch could not measure: it was paused, or its network was impaired.
#[derive(Debug, Clone, PartialEq)]
pub struct ImpairmentReport {
    /// Start, ms since the epoch.
    pub start: i64,
    /// End, ms since the epoch.
    pub end: i64,
    /// `paused` or `network_impaired`.
    pub cause: String,
    /// What was seen.
    pub detail: Option<String>,
}

/// `part` of `whole` in percent, rounded to 3 decimals; `None` when `whole` is 0.
pub fn pct(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| round3(part as f64 * 100.0 / whole as f64))
}

/// A latency quantile of `cell`, never above its exact maximum (a bucket midpoint can be).
fn quantile(cell: &Cell, q: f64) -> Option<f64> {
    cell.sketch
        .quantile_ms(q)
        .map(|v| round3(v.min(cell.ms_max)))
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

struct MonitorRow {
    id: i64,
    url: String,
    name: String,
    interval_ms: i64,
    config_id: String,
}

/// True if `url`, `name` or `id` matches `pattern`: a glob when it has `*` or `?`, else a
/// substring.
pub fn matches(pattern: &str, url: &str, name: &str, id: &str) -> bool {
    let wild = pattern.contains(['*', '?']);
    [url, name, id].iter().any(|s| {
        if wild {
            // Greedy matching with one backtrack point: O(pattern × text) at worst, never
            // exponential in the number of `*`.
            wildmatch::WildMatch::new(pattern).matches(s)
        } else {
            s.contains(pattern)
        }
    })
}

/// Builds the report for `query` from the database on `conn`.
pub fn build(conn: &Connection, query: &Query) -> rusqlite::Result<Report> {
    let (from, to) = (query.from, query.to.max(query.from));
    let horizon = to.min(query.now).max(from);
    let cell_ms = if to - from <= HOURLY_UP_TO {
        HOUR_MS
    } else {
        DAY_MS
    };
    let cells_from = from.div_euclid(cell_ms) * cell_ms;
    let n_cells = usize::try_from((to - cells_from + cell_ms - 1) / cell_ms).unwrap_or(0);

    let mut monitors: Vec<MonitorRow> = {
        let mut s =
            conn.prepare("SELECT id, url, name, interval_ms, config_id FROM monitors ORDER BY id")?;
        let rows = s.query_map([], |r| {
            Ok(MonitorRow {
                id: r.get(0)?,
                // A database written before URLs were stored redacted may hold a password.
                url: crate::config::shown_url::redact_userinfo(&r.get::<_, String>(1)?)
                    .into_owned(),
                name: r.get(2)?,
                interval_ms: r.get(3)?,
                config_id: r.get(4)?,
            })
            .map(|mut m| {
                // A row written without one (by hand, say) shows the id its name or URL gives.
                if m.config_id.is_empty() {
                    m.config_id = if m.name.is_empty() {
                        crate::config::identity::url_slug(&m.url)
                    } else {
                        crate::config::identity::name_slug(&m.name)
                    };
                }
                m
            })
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    if let Some(p) = &query.pattern {
        monitors.retain(|m| matches(p, &m.url, &m.name, &m.config_id));
    }

    let mut report = Report {
        from,
        to,
        generated: query.now,
        cell_ms,
        cells_from,
        monitors: Vec::new(),
        incidents: Vec::new(),
        impairments: Vec::new(),
        maintenance: Vec::new(),
    };
    let source = Source::new(conn)?;
    report.impairments = source.impairments(from, horizon)?;
    let impaired = merge(
        report
            .impairments
            .iter()
            .map(|i| (i.start.max(from), i.end.min(horizon)))
            .collect(),
    );
    let windows = crate::store::maintenance::overlapping(conn, from, horizon)?;
    report.maintenance = windows
        .iter()
        .map(|w| MaintenanceReport {
            id: w.id,
            start: w.start,
            end: w.end,
            monitors: w.monitors.clone(),
            reason: w.reason.clone(),
        })
        .collect();
    let mut not_verdicts = source.not_verdicts(from, to)?;
    let ids: Vec<i64> = monitors.iter().map(|m| m.id).collect();
    // Per monitor: the window's total and one cell per hour or day, filled as rows stream by.
    let mut sums: HashMap<i64, (Cell, Vec<Cell>)> = HashMap::new();
    source.hours(
        query.pattern.as_ref().map(|_| &ids[..]),
        from,
        to,
        &mut |monitor, hour, cell| {
            let (total, cells) = sums
                .entry(monitor)
                .or_insert_with(|| (Cell::default(), vec![Cell::default(); n_cells]));
            total.merge(cell);
            let i = usize::try_from((hour.max(cells_from) - cells_from) / cell_ms).unwrap_or(0);
            if let Some(c) = cells.get_mut(i) {
                c.merge(cell);
            }
        },
    )?;
    for m in &monitors {
        let (total, cells) = sums
            .remove(&m.id)
            .unwrap_or_else(|| (Cell::default(), vec![Cell::default(); n_cells]));
        let (before, within, after) = source.transitions(m.id, from, horizon)?;
        let mut t = timeline_excluding(before.as_ref(), &within, &after, from, horizon, &impaired);
        // Maintenance is taken out like an impairment, and counted apart.
        let planned: Vec<(i64, i64)> = windows
            .iter()
            .filter(|w| w.covers(&m.config_id))
            .map(|w| (w.start.max(from), w.end.min(horizon)))
            .filter(|(a, b)| a < b)
            .collect();
        let mut maintenance_ms = 0;
        if !planned.is_empty() {
            let planned = merge(planned);
            maintenance_ms = planned.iter().map(|(a, b)| b - a).sum();
            let mut both = planned;
            both.extend_from_slice(&impaired);
            let all = timeline_excluding(
                before.as_ref(),
                &within,
                &after,
                from,
                horizon,
                &merge(both),
            );
            t = timeline::Timeline {
                impaired_ms: t.impaired_ms,
                ..all
            };
        }
        let (local_errors, inconclusive) = not_verdicts.remove(&m.id).unwrap_or_default();
        if total.checks == 0
            && t.observed_ms == 0
            && t.impaired_ms == 0
            && maintenance_ms == 0
            && t.incidents.is_empty()
            && local_errors + inconclusive == 0
        {
            continue;
        }
        let name = (!m.name.is_empty()).then(|| m.name.clone());
        let longest = t
            .incidents
            .iter()
            .map(|s| s.duration_ms(horizon))
            .max()
            .unwrap_or(0);
        for span in &t.incidents {
            report.incidents.push(IncidentReport {
                url: m.url.clone(),
                id: m.config_id.clone(),
                name: name.clone(),
                location: None,
                start: span.start,
                end: span.end,
                ended_by: span.ended_by,
                duration_s: span.duration_ms(horizon) as f64 / 1000.0,
                reason: span.reason.clone(),
                status: span.status,
                detail: span.detail.clone(),
            });
        }
        let observed = u64::try_from(t.observed_ms).unwrap_or(0);
        let not_down = u64::try_from(t.observed_ms - t.down_ms).unwrap_or(0);
        let has_checks = total.checks > 0;
        report.monitors.push(MonitorReport {
            url: m.url.clone(),
            id: m.config_id.clone(),
            name,
            location: None,
            interval_s: m.interval_ms as f64 / 1000.0,
            checks: total.checks,
            up: total.up,
            local_errors,
            inconclusive,
            impaired_s: t.impaired_ms as f64 / 1000.0,
            maintenance_s: maintenance_ms as f64 / 1000.0,
            uptime_pct: pct(total.up, total.checks),
            uptime_time_pct: pct(not_down, observed),
            observed_s: t.observed_ms as f64 / 1000.0,
            incidents: t.incidents.len(),
            downtime_s: t.down_ms as f64 / 1000.0,
            degraded_s: t.degraded_ms as f64 / 1000.0,
            longest_incident_s: longest as f64 / 1000.0,
            p50_ms: quantile(&total, 0.5),
            p95_ms: quantile(&total, 0.95),
            max_ms: has_checks.then_some(round3(total.ms_max)),
            mean_ms: has_checks.then(|| round3(total.ms_sum / total.checks as f64)),
            total: total.clone(),
            state: t.last_known,
            cells: cells
                .iter()
                .map(|c| CellReport {
                    checks: c.checks,
                    up: c.up,
                    p50_ms: quantile(c, 0.5),
                    p95_ms: quantile(c, 0.95),
                })
                .collect(),
        });
    }
    report
        .incidents
        .sort_by(|a, b| a.start.cmp(&b.start).then(a.url.cmp(&b.url)));
    Ok(report)
}

/// Builds the report for `query` with "now" taken from the clock.
pub fn build_now(conn: &Connection, mut query: Query) -> rusqlite::Result<Report> {
    query.now = epoch_ms(SystemTime::now());
    build(conn, &query)
}

/// The reads a report makes.
struct Source<'c> {
    conn: &'c Connection,
    /// Raw checks before this time may have been pruned (ms since the epoch).
    pruned_before: i64,
}

impl<'c> Source<'c> {
    fn new(conn: &'c Connection) -> rusqlite::Result<Self> {
        let pruned_before = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'pruned_before'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(i64::MIN);
        Ok(Source {
            conn,
            pruned_before,
        })
    }

    /// Hands `add(monitor, hour, cell)` the checks of `[from, to)` by monitor and hour, for the
    /// monitors in `ids` (all when `None`): whole hours from the rollups; a partial hour at either
    /// edge from raw checks, or whole from its rollup if raw checks there were pruned. Each table
    /// is read once, in key order (both are time-major), whatever the number of monitors.
    fn hours(
        &self,
        ids: Option<&[i64]>,
        from: i64,
        to: i64,
        add: &mut dyn FnMut(i64, i64, &Cell),
    ) -> rusqlite::Result<()> {
        if from >= to {
            return Ok(());
        }
        let only = match ids {
            None => String::new(),
            Some(ids) => {
                let list: Vec<String> = ids.iter().map(i64::to_string).collect();
                format!(" AND monitor IN ({})", list.join(","))
            }
        };
        let first = hour_of(from);
        let last = hour_of(to - 1);
        let raw_head = from != first && from >= self.pruned_before;
        let raw_tail = to != last + HOUR_MS && last >= self.pruned_before;
        if first == last && (raw_head || raw_tail) {
            return self.raw(&only, from, to, add);
        }
        let lo = if raw_head { first + HOUR_MS } else { first };
        let hi = if raw_tail { last } else { last + HOUR_MS };
        let mut s = self.conn.prepare(&format!(
            "SELECT monitor, hour, checks, up, ms_sum, ms_max, sketch FROM rollups
             WHERE hour >= ?1 AND hour < ?2{only}"
        ))?;
        let mut rows = s.query(params![lo, hi])?;
        while let Some(row) = rows.next()? {
            add(row.get(0)?, row.get(1)?, &cell_from_row(row, 2)?);
        }
        if raw_head {
            self.raw(&only, from, lo, add)?;
        }
        if raw_tail {
            self.raw(&only, hi, to, add)?;
        }
        Ok(())
    }

    /// Raw checks of `[from, to)` (at most an hour), summed per monitor and hour.
    fn raw(
        &self,
        only: &str,
        from: i64,
        to: i64,
        add: &mut dyn FnMut(i64, i64, &Cell),
    ) -> rusqlite::Result<()> {
        let mut s = self.conn.prepare(&format!(
            "SELECT monitor, ts, reason IS NULL, ms FROM checks
             WHERE ts >= ?1 AND ts < ?2 AND nature IS NULL{only}"
        ))?;
        let mut hours: BTreeMap<(i64, i64), Cell> = BTreeMap::new();
        let mut rows = s.query(params![from, to])?;
        while let Some(row) = rows.next()? {
            let ts: i64 = row.get(1)?;
            hours
                .entry((row.get(0)?, hour_of(ts)))
                .or_default()
                .add(row.get(2)?, row.get(3)?);
        }
        for ((monitor, hour), cell) in &hours {
            add(*monitor, *hour, cell);
        }
        Ok(())
    }

    /// Per monitor id, the checks of `[from, to)` that were not verdicts: (local failures,
    /// inconclusive). Reads only those rows, through their partial index.
    fn not_verdicts(&self, from: i64, to: i64) -> rusqlite::Result<HashMap<i64, (u64, u64)>> {
        let mut s = self.conn.prepare(
            "SELECT monitor, nature, count(*) FROM checks
             WHERE nature IS NOT NULL AND ts >= ?1 AND ts < ?2 GROUP BY monitor, nature",
        )?;
        let mut out: HashMap<i64, (u64, u64)> = HashMap::new();
        let mut rows = s.query(params![from, to])?;
        while let Some(row) = rows.next()? {
            let nature: String = row.get(1)?;
            let n = row.get::<_, i64>(2)?.max(0) as u64;
            let entry = out.entry(row.get(0)?).or_default();
            if nature == "local" {
                entry.0 += n;
            } else {
                entry.1 += n;
            }
        }
        Ok(out)
    }

    /// Impairments overlapping `[from, horizon)`, by start.
    fn impairments(&self, from: i64, horizon: i64) -> rusqlite::Result<Vec<ImpairmentReport>> {
        self.conn
            .prepare(
                "SELECT start_ts, end_ts, cause, detail FROM impairments
                 WHERE start_ts < ?2 AND end_ts > ?1 ORDER BY start_ts",
            )?
            .query_map(params![from, horizon], |r| {
                Ok(ImpairmentReport {
                    start: r.get(0)?,
                    end: r.get(1)?,
                    cause: r.get(2)?,
                    detail: r.get(3)?,
                })
            })?
            .collect()
    }

    /// The latest transition before `from`, those in `[from, horizon)`, and the first one at
    /// or after `horizon` that leaves `down`.
    fn transitions(
        &self,
        monitor: i64,
        from: i64,
        horizon: i64,
    ) -> rusqlite::Result<(Option<Transition>, Vec<Transition>, Vec<Transition>)> {
        const COLUMNS: &str = TRANSITION_COLUMNS;
        let read = read_transition;
        let before = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM transitions WHERE monitor = ?1 AND ts < ?2
                 ORDER BY ts DESC, rowid DESC LIMIT 1"
            ))?
            .query_row(params![monitor, from], read)
            .optional()?;
        let within = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM transitions WHERE monitor = ?1 AND ts >= ?2 AND ts < ?3
                 ORDER BY ts, rowid"
            ))?
            .query_map(params![monitor, from, horizon], read)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let after = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM transitions WHERE monitor = ?1 AND ts >= ?2
                   AND to_state != 'down' ORDER BY ts, rowid LIMIT 1"
            ))?
            .query_map(params![monitor, horizon], read)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((before, within, after))
    }
}

/// Renders `report` in `format`.
pub fn render(report: &Report, format: ReportFormat) -> String {
    match format {
        ReportFormat::Table => table::render(report),
        ReportFormat::Json => json::render(report),
        ReportFormat::Csv => csv::render(report),
        ReportFormat::Html => html::render(report),
    }
}

/// A monitor's id as a report shows it: `id`, or `id @location` in a report over several
/// databases (the same mark as check lines).
pub fn located<'a>(id: &'a str, location: Option<&str>) -> std::borrow::Cow<'a, str> {
    match location {
        Some(l) => format!("{id} @{l}").into(),
        None => id.into(),
    }
}

/// A time as `2026-01-01T00:00:00Z` (UTC, seconds).
pub fn time(ms: i64) -> String {
    humantime::format_rfc3339_seconds(crate::store::from_epoch_ms(ms)).to_string()
}

/// A duration in seconds, short and human: `1h 30m`, `45s`, `0s`.
pub fn span(seconds: f64) -> String {
    let s = seconds.round().max(0.0) as u64;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (sec, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .take(2)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    if parts.is_empty() {
        "0s".to_string()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests;

/// The columns of `transitions` that [`read_transition`] reads, in its order.
pub(crate) const TRANSITION_COLUMNS: &str = "ts, to_state, reason, status, detail";

/// One row of [`TRANSITION_COLUMNS`] as a [`Transition`]; a stored state other than `up`,
/// `down` or `degraded` is `unknown` (monitoring stopped).
pub(crate) fn read_transition(r: &rusqlite::Row<'_>) -> rusqlite::Result<Transition> {
    let to: String = r.get(1)?;
    Ok(Transition {
        ts: r.get(0)?,
        to: match to.as_str() {
            "up" => State::Up,
            "down" => State::Down,
            "degraded" => State::Degraded,
            _ => State::Unknown,
        },
        reason: r.get(2)?,
        status: r.get(3)?,
        detail: r.get(4)?,
    })
}
