//! What sitewatch checks about a database file before it writes to it or reports from it, in a
//! time that does not grow with the file (a multi-GB history is checked as fast as a new one,
//! except for the full check of small files below).
//!
//! - **Header** (the first 100 bytes, read before SQLite touches the file): the magic string
//!   `SQLite format 3\0`, a page size that is a power of two from 512 to 65,536, file format
//!   versions 1 or 2, and the three payload fractions SQLite requires (64, 32, 32).
//! - **Whose it is**: `PRAGMA application_id` is [`APPLICATION_ID`] (ASCII `SWch`) on every
//!   database sitewatch made. A file without it is accepted only when it is empty (no table,
//!   `user_version` 0) or was made by sitewatch before the id existed (`user_version` ≥ 1 and
//!   every sitewatch table present); anything else belongs to another program and is refused.
//! - **Schema**: every table sitewatch needs is present, and the first and last row of each
//!   table and index can be read (a handful of pages each: the B-tree's edges).
//! - **Whole file**, only when it is at most [`FULL_CHECK_MAX`]: `PRAGMA quick_check`, which
//!   reads every page. Larger files get the bounded checks only; damage in their middle shows
//!   later, as failed writes (counted as `unwritten`) or a report error.

use std::fs::File;
use std::os::unix::fs::FileExt;

use rusqlite::Connection;

/// `PRAGMA application_id` of a sitewatch database: ASCII `SWch`.
pub const APPLICATION_ID: i32 = i32::from_be_bytes(*b"SWch");

/// Files up to this size get a full `PRAGMA quick_check` at start (a fraction of a second).
pub const FULL_CHECK_MAX: u64 = 32 * 1024 * 1024;

/// The tables every sitewatch database has.
const TABLES: &[&str] = &["monitors", "checks", "transitions", "rollups", "meta"];

/// Each table and index as an `ORDER BY` on a table: read at both ends as the bounded check.
const EDGES: &[(&str, &str)] = &[
    ("monitors", "id"),
    ("monitors", "url, name, interval_ms"),
    ("checks", "rowid"),
    ("checks", "ts"),
    ("transitions", "rowid"),
    ("transitions", "monitor, ts"),
    ("rollups", "hour, monitor"),
    ("meta", "key"),
];

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// No file, or an empty one: SQLite makes a new database.
    Empty,
    /// A SQLite database with a sane header.
    Sqlite,
}

/// Reads and checks the 100-byte header through `file`. `Err` says what is wrong.
pub fn header(file: &File) -> Result<Header, String> {
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read it: {e}"))?
        .len();
    if len == 0 {
        return Ok(Header::Empty);
    }
    let mut h = [0u8; 100];
    if len < h.len() as u64 {
        return Err(format!("{len} bytes is too short for a SQLite database"));
    }
    file.read_exact_at(&mut h, 0)
        .map_err(|e| format!("cannot read its header: {e}"))?;
    check_header(&h)?;
    Ok(Header::Sqlite)
}

/// Checks the fixed parts of a SQLite header.
pub fn check_header(h: &[u8; 100]) -> Result<(), String> {
    if &h[..16] != b"SQLite format 3\0" {
        return Err("not a SQLite file: it does not begin with \"SQLite format 3\"".into());
    }
    let raw = u32::from(u16::from_be_bytes([h[16], h[17]]));
    let page_size = if raw == 1 { 65_536 } else { raw };
    if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(format!("damaged header: page size {raw}"));
    }
    if !(1..=2).contains(&h[18]) || !(1..=2).contains(&h[19]) {
        return Err(format!(
            "damaged header: file format versions {} and {}",
            h[18], h[19]
        ));
    }
    if h[21..24] != [64, 32, 32] {
        return Err("damaged header: payload fractions".into());
    }
    Ok(())
}

/// Whose database an opened file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Marked as sitewatch's.
    Sitewatch,
    /// No table yet: sitewatch may make it its own.
    Empty,
    /// Made by a sitewatch from before the mark: to be marked.
    Unmarked,
    /// Another program's (its application id, 0 if none).
    Other(i32),
}

/// Reads the application id, `user_version` and table names: the first reads of the file (a
/// damaged first page or schema fails here).
pub fn owner(conn: &Connection) -> rusqlite::Result<Owner> {
    let id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    if id == APPLICATION_ID {
        return Ok(Owner::Sitewatch);
    }
    if id != 0 {
        return Ok(Owner::Other(id));
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let objects: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    if version == 0 && objects == 0 {
        return Ok(Owner::Empty);
    }
    if version >= 1 && missing_table(conn)?.is_none() {
        return Ok(Owner::Unmarked);
    }
    Ok(Owner::Other(0))
}

/// The first sitewatch table absent from the schema, if any.
pub fn missing_table(conn: &Connection) -> rusqlite::Result<Option<&'static str>> {
    let mut find =
        conn.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")?;
    for table in TABLES {
        if !find.exists([table])? {
            return Ok(Some(table));
        }
    }
    Ok(None)
}

/// The bounded check of a migrated database: tables present, each table and index readable at
/// both ends, and a full `quick_check` when the file is at most [`FULL_CHECK_MAX`] bytes.
/// `Ok(Some(problem))` describes damage; `Err` is SQLite failing (often the damage itself).
pub fn schema_and_pages(conn: &Connection, file_len: u64) -> rusqlite::Result<Option<String>> {
    if let Some(table) = missing_table(conn)? {
        return Ok(Some(format!("table {table} is missing")));
    }
    for (table, order) in EDGES {
        for dir in ["", " DESC"] {
            // Every column of one row: the pages on the B-tree's edge, and the row itself.
            let order = order.replace(',', &format!("{dir},"));
            let mut first = conn.prepare(&format!(
                "SELECT * FROM {table} ORDER BY {order}{dir} LIMIT 1"
            ))?;
            let columns = first.column_count();
            let mut rows = first.query([])?;
            if let Some(row) = rows.next()? {
                for i in 0..columns {
                    row.get_ref(i)?;
                }
            }
        }
    }
    if file_len <= FULL_CHECK_MAX {
        let result: String = conn.query_row("PRAGMA quick_check(1)", [], |r| r.get(0))?;
        if result != "ok" {
            // "*** in database main ***\nTree 5 page 2526: …": one line, without the banner.
            let lines: Vec<&str> = result.lines().filter(|l| !l.starts_with("***")).collect();
            return Ok(Some(format!("quick check: {}", lines.join("; "))));
        }
    }
    Ok(None)
}
