//! What the pages read from the history besides the status model: the uptime strips of the
//! monitors on one page (a cell per day for the last 90 days and a cell per hour for the last
//! 24 hours) and one monitor's hourly latency cells, from the hourly rollups of just those
//! monitors, through the server's own read-only connection.
//!
//! The rollups are keyed by (hour, monitor), so the read is one query of point lookups: every
//! hour of the range crossed with the page's monitor ids, never a scan of other monitors' rows.
//! Completed days do not change, so they are cached per monitor until the day changes (at most
//! [`CACHED`] monitors; the cache starts over when full): a page seen before reads only today's
//! hours, and the first look at a page costs about 2,200 lookups per monitor.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rusqlite::{params_from_iter, OptionalExtension};

use crate::config::Monitor;
use crate::html::view::Cells;
use crate::report::{CellReport, DAY_MS};
use crate::store::rollup::{cell_from_row, HOUR_MS};
use crate::store::{self, epoch_ms};

/// Hours in a monitor page's latency chart.
pub const CHART_HOURS: i64 = 7 * 24;

/// The database ids of `monitors` (`None`: not in the history yet).
pub fn ids_of(path: &Path, monitors: &[Monitor]) -> Result<Vec<Option<i64>>, String> {
    let conn = store::open_for_report(path).map_err(|e| e.to_string())?;
    super::history::monitor_ids(&conn, monitors).map_err(|e| e.to_string())
}

/// The hourly cells of the monitor with database id `id` over the last [`CHART_HOURS`] hours
/// before `now`, with latency p50/p95 from the rollups' sketches.
pub fn latency_cells(path: &Path, id: i64, now: i64) -> Result<Cells, String> {
    let conn = store::open_for_report(path).map_err(|e| e.to_string())?;
    let from = (now.div_euclid(HOUR_MS) - (CHART_HOURS - 1)) * HOUR_MS;
    let read = || -> rusqlite::Result<Vec<CellReport>> {
        let mut cells = vec![cell(0, 0); CHART_HOURS as usize];
        let mut statement = conn.prepare(
            "WITH RECURSIVE h(hour) AS (SELECT ?1 UNION ALL SELECT hour + ?3 FROM h WHERE hour + ?3 <= ?2)
             SELECT r.hour, r.checks, r.up, r.ms_sum, r.ms_max, r.sketch FROM h CROSS JOIN rollups r
             WHERE r.hour = h.hour AND r.monitor = ?4",
        )?;
        let mut rows = statement.query(rusqlite::params![from, now, HOUR_MS, id])?;
        while let Some(row) = rows.next()? {
            let hour: i64 = row.get(0)?;
            let c = cell_from_row(row, 1)?;
            if let Some(slot) = usize::try_from((hour - from) / HOUR_MS)
                .ok()
                .and_then(|i| cells.get_mut(i))
            {
                let q = |q: f64| c.sketch.quantile_ms(q).map(|v| v.min(c.ms_max));
                *slot = CellReport {
                    checks: c.checks,
                    up: c.up,
                    p50_ms: q(0.5),
                    p95_ms: q(0.95),
                };
            }
        }
        Ok(cells)
    };
    Ok(Cells {
        from,
        cell_ms: HOUR_MS,
        cells: read().map_err(|e| e.to_string())?,
    })
}

/// Why a monitor went down: the reason and detail of the check that declared it.
pub type Why = (Option<String>, Option<String>);

/// For each `(id, since)`: the reason and detail of its transition to `down` at `since` (within
/// a second: the history's own timestamp of that change). `None` when the history has no such
/// transition (yet: the writer commits every second), never an older incident's.
pub fn declared(path: &Path, ids: &[(Option<i64>, i64)]) -> Result<Vec<Option<Why>>, String> {
    let conn = store::open_for_report(path).map_err(|e| e.to_string())?;
    let read = || -> rusqlite::Result<Vec<_>> {
        let mut statement = conn.prepare(
            "SELECT reason, detail FROM transitions WHERE monitor = ?1 AND to_state = 'down'
             AND ts BETWEEN ?2 - 1000 AND ?2 + 1000 ORDER BY ts DESC LIMIT 1",
        )?;
        ids.iter()
            .map(|(id, since)| match id {
                Some(id) => statement
                    .query_row(rusqlite::params![id, since], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional(),
                None => Ok(None),
            })
            .collect()
    };
    read().map_err(|e| e.to_string())
}

/// Days in the long strip.
pub const DAYS: i64 = 90;
/// Monitors whose completed days are kept.
pub const CACHED: usize = 5_000;

/// A monitor's two strips.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Strips {
    /// A cell per day, the last [`DAYS`] days (today last).
    pub days: Cells,
    /// A cell per hour, the last 24 hours (the current hour last).
    pub hours: Cells,
    /// Incidents that started in the last 30 days, and when the latest began.
    pub incidents: Option<Incidents>,
}

/// A monitor's recent incidents, counted.
pub type Incidents = crate::html::view::RecentIncidents;

/// Incidents (transitions to `down`) since `from` of each of `ids`, through the
/// `(monitor, ts)` index: a short range per monitor.
fn incidents(
    conn: &rusqlite::Connection,
    ids: &[i64],
    from: i64,
) -> rusqlite::Result<HashMap<i64, Incidents>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let marks = vec!["?"; ids.len()].join(",");
    // `?1` first in the text: the anonymous `?`s after it are numbered from 2.
    let sql = format!(
        "SELECT monitor, count(*), max(ts) FROM transitions
         WHERE ts >= ?1 AND monitor IN ({marks}) AND to_state = 'down' GROUP BY monitor"
    );
    let mut statement = conn.prepare(&sql)?;
    let args = std::iter::once(from).chain(ids.iter().copied());
    let rows = statement.query_map(params_from_iter(args), |r| {
        Ok((
            r.get::<_, i64>(0)?,
            Incidents {
                count: r.get::<_, i64>(1)?.max(0) as u64,
                last: r.get(2)?,
            },
        ))
    })?;
    rows.collect()
}

/// Completed-day cells per database monitor id.
type Days = HashMap<i64, Arc<Vec<CellReport>>>;

/// The completed days of the monitors read so far, for one day (the day's start, ms).
#[derive(Default)]
pub struct Cache {
    days: Mutex<(i64, Days)>,
}

fn cell(checks: u64, up: u64) -> CellReport {
    CellReport {
        checks,
        up,
        p50_ms: None,
        p95_ms: None,
    }
}

/// Adds `checks`/`up` of the rollup at `hour` to `cells`, which start at `from`, `width` each.
fn add(cells: &mut [CellReport], from: i64, width: i64, hour: i64, checks: u64, up: u64) {
    if hour < from {
        return;
    }
    if let Some(c) = usize::try_from((hour - from) / width)
        .ok()
        .and_then(|i| cells.get_mut(i))
    {
        c.checks += checks;
        c.up += up;
    }
}

/// `(monitor, hour, checks, up)` of the rollups of `ids` at every hour in `[from, to)`.
fn read(
    conn: &rusqlite::Connection,
    ids: &[i64],
    from: i64,
    to: i64,
) -> rusqlite::Result<Vec<(i64, i64, u64, u64)>> {
    if ids.is_empty() || to <= from {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; ids.len()].join(",");
    // The hours as a CTE crossed with the rollups (CROSS JOIN keeps that order), so SQLite
    // seeks the (hour, monitor) key for each hour and id instead of scanning the range.
    let sql = format!(
        "WITH RECURSIVE h(hour) AS (SELECT ?1 UNION ALL SELECT hour + {HOUR_MS} FROM h WHERE hour + {HOUR_MS} < ?2)
         SELECT r.monitor, r.hour, r.checks, r.up FROM h CROSS JOIN rollups r
         WHERE r.hour = h.hour AND r.monitor IN ({marks})"
    );
    let mut statement = conn.prepare(&sql)?;
    let args = [from, to].into_iter().chain(ids.iter().copied());
    let rows = statement
        .query_map(params_from_iter(args), |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get::<_, i64>(2)?.max(0) as u64,
                r.get::<_, i64>(3)?.max(0) as u64,
            ))
        })?
        .collect();
    rows
}

impl Cache {
    /// The strips of the monitors with database ids `ids` (`None`: not in the history yet:
    /// empty strips), in the same order.
    pub fn strips(&self, path: &Path, ids: &[Option<i64>]) -> Result<Vec<Strips>, String> {
        let now = epoch_ms(SystemTime::now());
        let today = now.div_euclid(DAY_MS) * DAY_MS;
        let days_from = today - (DAYS - 1) * DAY_MS;
        let hours_from = (now.div_euclid(HOUR_MS) - 23) * HOUR_MS;
        let conn = store::open_for_report(path).map_err(|e| e.to_string())?;
        let known: Vec<i64> = ids.iter().flatten().copied().collect();
        // Completed days: from the cache, else read once for the monitors missing.
        let mut cached: Days = {
            let mut guard = self.days.lock().unwrap_or_else(|e| e.into_inner());
            if guard.0 != today {
                *guard = (today, HashMap::new());
            }
            known
                .iter()
                .filter_map(|id| guard.1.get(id).map(|c| (*id, Arc::clone(c))))
                .collect()
        };
        let missing: Vec<i64> = known
            .iter()
            .copied()
            .filter(|id| !cached.contains_key(id))
            .collect();
        let past = read(&conn, &missing, days_from, today).map_err(|e| e.to_string())?;
        let mut fresh: HashMap<i64, Vec<CellReport>> = missing
            .iter()
            .map(|&id| (id, vec![cell(0, 0); (DAYS - 1) as usize]))
            .collect();
        for (id, hour, checks, up) in past {
            if let Some(cells) = fresh.get_mut(&id) {
                add(cells, days_from, DAY_MS, hour, checks, up);
            }
        }
        if !fresh.is_empty() {
            let mut guard = self.days.lock().unwrap_or_else(|e| e.into_inner());
            if guard.1.len() + fresh.len() > CACHED {
                guard.1.clear();
            }
            for (id, cells) in fresh {
                let cells = Arc::new(cells);
                if guard.0 == today {
                    guard.1.insert(id, Arc::clone(&cells));
                }
                cached.insert(id, cells);
            }
        }
        // Today and the last 24 hours: always read (they change).
        let recent =
            read(&conn, &known, hours_from.min(today), now + 1).map_err(|e| e.to_string())?;
        let mut by_id: HashMap<i64, (CellReport, Vec<CellReport>)> = known
            .iter()
            .map(|&id| (id, (cell(0, 0), vec![cell(0, 0); 24])))
            .collect();
        for (id, hour, checks, up) in recent {
            if let Some((day, hours)) = by_id.get_mut(&id) {
                if hour >= today {
                    add(std::slice::from_mut(day), today, DAY_MS, hour, checks, up);
                }
                add(hours, hours_from, HOUR_MS, hour, checks, up);
            }
        }
        let counted = incidents(&conn, &known, now - 30 * DAY_MS).map_err(|e| e.to_string())?;
        Ok(ids
            .iter()
            .map(|id| {
                let Some(id) = id else {
                    return Strips::default();
                };
                let mut days = cached.get(id).map_or_else(Vec::new, |c| c.to_vec());
                // Not `remove`: a monitor can be on the page twice (under problems and in the list).
                let (today_cell, hours) = by_id
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| (cell(0, 0), vec![cell(0, 0); 24]));
                days.push(today_cell);
                Strips {
                    days: Cells {
                        from: days_from,
                        cell_ms: DAY_MS,
                        cells: days,
                    },
                    hours: Cells {
                        from: hours_from,
                        cell_ms: HOUR_MS,
                        cells: hours,
                    },
                    incidents: Some(counted.get(id).cloned().unwrap_or_default()),
                }
            })
            .collect())
    }
}
