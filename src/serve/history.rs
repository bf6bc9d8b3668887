//! What the status surface reads from the history database, through its own read-only
//! connection ([`store::open_for_report`]): never the writer's, never a lock the writer waits on
//! for long (SQLite's WAL lets a reader and the writer proceed together).
//!
//! Uptime 24 h / 7 d / 30 d and latency p50/p95 (24 h) come from the hourly rollups and are
//! **cached**: a serving thread that finds the figures older than [`REFRESH`] refreshes them
//! while the others keep answering from the previous figures. A refresh reads the rollups of
//! the current hour only (one row per monitor); the completed hours of the last 30 days are
//! read in one grouped scan once per hour, when the hour changes. So no request scans the
//! history per monitor, and at 100,000 monitors a request costs the in-memory work only.
//!
//! The figures are by checks over whole hours: the 24 h window is the current hour and the 23
//! before it (7 d: 168 hours, 30 d: 720 hours).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rusqlite::{params, Connection, OptionalExtension};

use crate::config::Monitor;
use crate::report::timeline::{timeline, Span};
use crate::report::TRANSITION_COLUMNS;
use crate::store::rollup::{cell_from_row, hour_of, Sketch, HOUR_MS};
use crate::store::{self, epoch_ms};

/// Longest the cached uptime figures are used before a refresh.
pub const REFRESH: Duration = Duration::from_secs(30);
/// Hours in the three uptime windows.
const WINDOWS: [i64; 3] = [24, 24 * 7, 24 * 30];
/// Recent checks listed for one monitor.
pub const RECENT: usize = 20;
/// Newest stored checks searched for one monitor's recent ones, at most.
const SCAN_ROWS: i64 = 200_000;

/// One monitor's figures from the history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Uptime by checks, percent, over 24 h, 7 d, 30 d; `None` without checks.
    pub uptime: [Option<f64>; 3],
    /// Latency p50 and p95 over 24 h, ms.
    pub latency: [Option<f64>; 2],
}

#[derive(Default, Clone)]
struct Acc {
    checks: [u64; 3],
    up: [u64; 3],
    sketch: Sketch,
}

impl Acc {
    fn add(&mut self, age_hours: i64, checks: u64, up: u64, sketch: Option<&Sketch>) {
        for (w, hours) in WINDOWS.iter().enumerate() {
            if age_hours < *hours {
                self.checks[w] += checks;
                self.up[w] += up;
            }
        }
        if let Some(s) = sketch {
            self.sketch.merge(s);
        }
    }

    fn merge(&mut self, other: &Acc) {
        for w in 0..3 {
            self.checks[w] += other.checks[w];
            self.up[w] += other.up[w];
        }
        self.sketch.merge(&other.sketch);
    }

    fn figures(&self) -> Figures {
        let pct = |w: usize| {
            (self.checks[w] > 0).then(|| self.up[w] as f64 * 100.0 / self.checks[w] as f64)
        };
        Figures {
            uptime: [pct(0), pct(1), pct(2)],
            latency: [self.sketch.quantile_ms(0.5), self.sketch.quantile_ms(0.95)],
        }
    }
}

/// The completed hours, read once per hour: per database monitor id.
struct Base {
    hour: i64,
    by_id: HashMap<i64, Acc>,
}

/// The figures of every monitor, in config order.
pub struct Table {
    /// When they were read.
    pub at: Instant,
    /// Per monitor (config index); `None` for a monitor the history does not know yet.
    pub figures: Vec<Option<Figures>>,
}

/// The cached figures and what is needed to refresh them.
#[derive(Default)]
pub struct Cache {
    table: Mutex<Option<Arc<Table>>>,
    base: Mutex<Option<Arc<Base>>>,
    refreshing: AtomicBool,
    /// Why the last refresh failed, until one succeeds.
    error: Mutex<Option<String>>,
}

/// Why the history could not be read.
pub type ReadError = String;

impl Cache {
    /// The figures, refreshed first when older than [`REFRESH`] (unless another thread is
    /// refreshing them: then the previous ones). `Err` when the history cannot be read and no
    /// figures were read before.
    pub fn get(&self, path: &Path, monitors: &[Monitor]) -> Result<Arc<Table>, ReadError> {
        let current = self.table.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(t) = &current {
            if t.at.elapsed() < REFRESH {
                return Ok(Arc::clone(t));
            }
        }
        if self.refreshing.swap(true, Ordering::AcqRel) {
            if let Some(t) = current {
                return Ok(t);
            }
        }
        let fresh = self.refresh(path, monitors);
        self.refreshing.store(false, Ordering::Release);
        *self.error.lock().unwrap_or_else(|e| e.into_inner()) = fresh.as_ref().err().cloned();
        match (fresh, current) {
            (Ok(t), _) => {
                let t = Arc::new(t);
                *self.table.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&t));
                Ok(t)
            }
            (Err(_), Some(old)) => Ok(old),
            (Err(e), None) => Err(e),
        }
    }

    /// Why the figures could not be refreshed last time, if they could not (the previous ones
    /// are shown meanwhile).
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn refresh(&self, path: &Path, monitors: &[Monitor]) -> Result<Table, ReadError> {
        let conn = store::open_for_report(path).map_err(|e| e.to_string())?;
        let read = || -> rusqlite::Result<Table> {
            let ids = monitor_ids(&conn, monitors)?;
            let now_hour = hour_of(epoch_ms(SystemTime::now()));
            let base = {
                let cached = self.base.lock().unwrap_or_else(|e| e.into_inner()).clone();
                match cached {
                    Some(b) if b.hour == now_hour => b,
                    _ => {
                        let b = Arc::new(read_base(&conn, now_hour)?);
                        *self.base.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&b));
                        b
                    }
                }
            };
            let current = read_hours(&conn, now_hour, now_hour + HOUR_MS, now_hour)?;
            let figures = ids
                .iter()
                .map(|id| {
                    let id = (*id)?;
                    let (b, c) = (base.by_id.get(&id), current.get(&id));
                    if b.is_none() && c.is_none() {
                        return None;
                    }
                    let mut acc = b.cloned().unwrap_or_default();
                    if let Some(c) = c {
                        acc.merge(c);
                    }
                    Some(acc.figures())
                })
                .collect();
            Ok(Table {
                at: Instant::now(),
                figures,
            })
        };
        read().map_err(|e| format!("cannot read the history in {}: {e}", path.display()))
    }
}

fn read_base(conn: &Connection, now_hour: i64) -> rusqlite::Result<Base> {
    let from = now_hour - (WINDOWS[2] - 1) * HOUR_MS;
    Ok(Base {
        hour: now_hour,
        by_id: read_hours(conn, from, now_hour, now_hour)?,
    })
}

/// Sums the rollups of hours in `[from, to)` per monitor id, by age relative to `now_hour`.
fn read_hours(
    conn: &Connection,
    from: i64,
    to: i64,
    now_hour: i64,
) -> rusqlite::Result<HashMap<i64, Acc>> {
    let mut by_id: HashMap<i64, Acc> = HashMap::new();
    let mut statement = conn.prepare(
        "SELECT monitor, hour, checks, up, ms_sum, ms_max, sketch FROM rollups
         WHERE hour >= ?1 AND hour < ?2",
    )?;
    let mut rows = statement.query(params![from, to])?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let hour: i64 = row.get(1)?;
        let age = (now_hour - hour) / HOUR_MS;
        let acc = by_id.entry(id).or_default();
        if age < WINDOWS[0] {
            let cell = cell_from_row(row, 2)?;
            acc.add(age, cell.checks, cell.up, Some(&cell.sketch));
        } else {
            let checks: i64 = row.get(2)?;
            let up: i64 = row.get(3)?;
            acc.add(age, checks.max(0) as u64, up.max(0) as u64, None);
        }
    }
    Ok(by_id)
}

/// The database id of each monitor (config order), as the writer registers it: by its id
/// (`config_id`, schema version 4); rows without one (hand-made databases) by URL (as shown),
/// name and interval.
pub(super) fn monitor_ids(
    conn: &Connection,
    monitors: &[Monitor],
) -> rusqlite::Result<Vec<Option<i64>>> {
    let mut by_id: HashMap<String, i64> = HashMap::new();
    let mut by_key: HashMap<(String, String, i64), i64> = HashMap::new();
    let mut statement =
        conn.prepare("SELECT id, url, name, interval_ms, config_id FROM monitors")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let config_id: String = row.get(4)?;
        if config_id.is_empty() {
            by_key.insert((row.get(1)?, row.get(2)?, row.get(3)?), row.get(0)?);
        } else {
            by_id.insert(config_id, row.get(0)?);
        }
    }
    Ok(monitors
        .iter()
        .map(|m| {
            by_id.get(m.id()).copied().or_else(|| {
                let key = (
                    m.url.to_string(),
                    m.name.as_deref().unwrap_or("").to_string(),
                    i64::try_from(m.interval.as_millis()).unwrap_or(i64::MAX),
                );
                by_key.get(&key).copied()
            })
        })
        .collect())
}

/// The database id of one monitor: by its id (the unique index on `config_id` finds it), else
/// (a hand-made row without one) by URL, name and interval.
fn monitor_id(conn: &Connection, m: &Monitor) -> rusqlite::Result<Option<i64>> {
    let by_id = conn
        .query_row(
            "SELECT id FROM monitors WHERE config_id = ?1 AND config_id <> ''",
            params![m.id()],
            |r| r.get(0),
        )
        .optional()?;
    if by_id.is_some() {
        return Ok(by_id);
    }
    conn.query_row(
        "SELECT id FROM monitors WHERE url = ?1 AND name = ?2 AND interval_ms = ?3
           AND config_id = ''",
        params![
            &*m.url,
            m.name.as_deref().unwrap_or(""),
            i64::try_from(m.interval.as_millis()).unwrap_or(i64::MAX)
        ],
        |r| r.get(0),
    )
    .optional()
}

/// One stored check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRow {
    /// When it ended, ms since the epoch.
    pub ts: i64,
    /// Final status code, if a response arrived.
    pub status: Option<u16>,
    /// Failure reason (for a local failure: its kind; inconclusive: its cause).
    pub reason: Option<String>,
    /// What was seen.
    pub detail: Option<String>,
    /// Total time, ms.
    pub ms: f64,
    /// `verdict`, `local` or `inconclusive`.
    pub nature: String,
}

/// One monitor's recent checks (newest first) and its incidents over the last 30 days
/// (ongoing first, then newest first).
pub struct Detail {
    /// The last [`RECENT`] checks, newest first.
    pub recent: Vec<CheckRow>,
    /// Incidents overlapping the last 30 days.
    pub incidents: Vec<Span>,
}

/// Reads one monitor's recent checks and incidents; `Ok(None)` when the history does not know
/// the monitor yet.
pub fn detail(path: &Path, monitor: &Monitor) -> Result<Option<Detail>, ReadError> {
    let conn = store::open_for_report(path).map_err(|e| e.to_string())?;
    let read = || -> rusqlite::Result<Option<Detail>> {
        let Some(id) = monitor_id(&conn, monitor)? else {
            return Ok(None);
        };
        let now = epoch_ms(SystemTime::now());
        // Checks are indexed by time only: look among the newest SCAN_ROWS checks of the last
        // RECENT intervals (and a minute), at most a day, so the scan stays short at any number
        // of monitors (with very many, fewer than RECENT of the monitor's may be among them).
        let interval = i64::try_from(monitor.interval.as_millis()).unwrap_or(i64::MAX);
        let back = interval
            .saturating_mul(RECENT as i64)
            .saturating_add(60_000)
            .min(24 * HOUR_MS);
        let mut statement = conn.prepare(
            "SELECT ts, status, reason, detail, ms, nature FROM
               (SELECT * FROM checks WHERE ts >= ?1 ORDER BY ts DESC LIMIT ?4)
             WHERE monitor = ?2 ORDER BY ts DESC LIMIT ?3",
        )?;
        let recent = statement
            .query_map(params![now - back, id, RECENT as i64, SCAN_ROWS], |r| {
                Ok(CheckRow {
                    ts: r.get(0)?,
                    status: r.get(1)?,
                    reason: r.get(2)?,
                    detail: r.get(3)?,
                    ms: r.get(4)?,
                    nature: r
                        .get::<_, Option<String>>(5)?
                        .unwrap_or_else(|| "verdict".into()),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let from = now - WINDOWS[2] * HOUR_MS;
        let read_tr = crate::report::read_transition;
        let before = conn
            .prepare(&format!(
                "SELECT {TRANSITION_COLUMNS} FROM transitions
                     WHERE monitor = ?1 AND ts < ?2 ORDER BY ts DESC, rowid DESC LIMIT 1"
            ))?
            .query_row(params![id, from], read_tr)
            .optional()?;
        let within = conn
            .prepare(&format!(
                "SELECT {TRANSITION_COLUMNS} FROM transitions
                     WHERE monitor = ?1 AND ts >= ?2 ORDER BY ts, rowid"
            ))?
            .query_map(params![id, from], read_tr)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut incidents = timeline(before.as_ref(), &within, &[], from, now + 1).incidents;
        incidents.sort_by_key(|s| (s.end.is_some(), std::cmp::Reverse(s.start)));
        Ok(Some(Detail { recent, incidents }))
    };
    read().map_err(|e| format!("cannot read the history in {}: {e}", path.display()))
}
