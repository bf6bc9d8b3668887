//! The `maintenance` table: planned work windows, read and written outside the writer thread.
//!
//! This is the one exception to "the writer thread is the only code that writes": a window is
//! a single small row, added by `sitewatch maintenance add` (another process, while a run
//! holds the writer lock) or recorded by a run's maintenance thread, each through its own
//! connection. SQLite serialises writers (WAL, a busy timeout of seconds), so such a write
//! delays the writer's next batch by a few milliseconds at most and never loses it. The
//! monitoring history itself (checks, transitions, rollups) keeps its one writer.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::check::{owner, Owner};

/// The schema version that has the table (its migration's number).
pub const SINCE_VERSION: i64 = 5;

/// One window as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Row id: what `sitewatch maintenance end` takes.
    pub id: i64,
    /// Start, ms since the epoch.
    pub start: i64,
    /// End, ms since the epoch.
    pub end: i64,
    /// Selectors as given: `all`, or ids and `group:NAME`, space separated.
    pub monitors: String,
    /// The monitor ids covered, as a running instance resolved them; `None` until then.
    pub ids: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// `cli` or `config`.
    pub origin: String,
}

impl Row {
    /// Whether the window covers the monitor with id `id`.
    pub fn covers(&self, id: &str) -> bool {
        if self.monitors == "all" {
            return true;
        }
        let list = self.ids.as_deref().unwrap_or(&self.monitors);
        list.split(' ').any(|t| t == id)
    }
}

const COLUMNS: &str = "id, start_ts, end_ts, monitors, ids, reason, origin";

fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        start: r.get(1)?,
        end: r.get(2)?,
        monitors: r.get(3)?,
        ids: r.get(4)?,
        reason: r.get(5)?,
        origin: r.get(6)?,
    })
}

/// Opens an existing sitewatch database for a maintenance write, even while a run holds its
/// writer lock. It must be sitewatch's and have the table (a run of this version made or
/// upgraded it).
pub fn open_for_write(path: &Path) -> Result<Connection, String> {
    if !path.exists() {
        return Err(format!(
            "there is no history database at {}; give the one the running sitewatch uses with \
             --db PATH",
            path.display()
        ));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    let what = |e: rusqlite::Error| format!("cannot read {}: {e}", path.display());
    if owner(&conn).map_err(what)? != Owner::Sitewatch {
        return Err(format!(
            "{} is not a sitewatch history database",
            path.display()
        ));
    }
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(what)?;
    if version < SINCE_VERSION {
        return Err(format!(
            "{} has schema version {version}, without maintenance windows: run this version of \
             sitewatch on it once to upgrade it",
            path.display()
        ));
    }
    Ok(conn)
}

/// Adds a window; returns its id.
pub fn add(
    conn: &Connection,
    start: i64,
    end: i64,
    monitors: &str,
    reason: Option<&str>,
    origin: &str,
    ids: Option<&str>,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT OR IGNORE INTO maintenance (start_ts, end_ts, monitors, ids, reason, origin, added_ts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            start,
            end,
            monitors,
            ids,
            reason,
            origin,
            super::epoch_ms(std::time::SystemTime::now())
        ],
    )?;
    conn.query_row(
        "SELECT id FROM maintenance WHERE origin = ?1 AND start_ts = ?2 AND monitors = ?3",
        params![origin, start, monitors],
        |r| r.get(0),
    )
}

/// Sets the monitor ids a window covers, as resolved by a running instance.
pub fn resolve(conn: &Connection, id: i64, ids: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE maintenance SET ids = ?2 WHERE id = ?1 AND ids IS NULL",
        params![id, ids],
    )
    .map(|_| ())
}

/// Ends window `id` at `now` (if it ends later); `false` if there is no such window.
pub fn end(conn: &Connection, id: i64, now: i64) -> rusqlite::Result<bool> {
    let exists: Option<i64> = conn
        .query_row("SELECT id FROM maintenance WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    if exists.is_none() {
        return Ok(false);
    }
    conn.execute(
        "UPDATE maintenance SET end_ts = ?2 WHERE id = ?1 AND end_ts > ?2",
        params![id, now],
    )?;
    Ok(true)
}

/// Windows added by the CLI that have not ended by `now`, by start.
pub fn open_cli(conn: &Connection, now: i64) -> rusqlite::Result<Vec<Row>> {
    conn.prepare(&format!(
        "SELECT {COLUMNS} FROM maintenance WHERE end_ts > ?1 AND origin = 'cli' ORDER BY start_ts, id"
    ))?
    .query_map([now], read)?
    .collect()
}

/// Windows overlapping `[from, to)`, by start. A database older than the table has none.
pub fn overlapping(conn: &Connection, from: i64, to: i64) -> rusqlite::Result<Vec<Row>> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < SINCE_VERSION {
        return Ok(Vec::new());
    }
    conn.prepare(&format!(
        "SELECT {COLUMNS} FROM maintenance WHERE start_ts < ?2 AND end_ts > ?1 ORDER BY start_ts, id"
    ))?
    .query_map([from, to], read)?
    .collect()
}
