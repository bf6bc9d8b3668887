//! `sitewatch maintenance add | list | end`: ad-hoc windows in the history database, which a
//! running sitewatch on that database picks up within seconds ([`super::watch`]).
//!
//! The command writes one row through its own SQLite connection, beside the running writer
//! (see [`crate::store::maintenance`]); it needs no config: monitors are named by id or
//! `group:NAME` and resolved by the running instance, which warns about names it does not know.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::store::maintenance as table;
use crate::store::{epoch_ms, from_epoch_ms};

/// Longest ad-hoc window: a year (a longer one is almost certainly a typo).
pub const MAX_FOR: Duration = Duration::from_secs(366 * 86_400);

fn time(ms: i64) -> String {
    humantime::format_rfc3339_seconds(from_epoch_ms(ms)).to_string()
}

/// What `add` was asked for.
#[derive(Debug, Clone)]
pub struct AddRequest<'a> {
    /// How long from now.
    pub length: Duration,
    /// Monitor ids.
    pub monitors: &'a [String],
    /// Group names.
    pub groups: &'a [String],
    /// Why.
    pub reason: Option<&'a str>,
}

/// The selectors for `monitors` and `groups`: `all` when both are empty.
pub fn selectors(monitors: &[String], groups: &[String]) -> Result<String, String> {
    let mut out = Vec::new();
    for m in monitors {
        let m = m.trim();
        if m.is_empty() || m.contains(char::is_whitespace) || m.starts_with("group:") {
            return Err(format!(
                "--monitor {m:?} is not a monitor id (ids have no spaces; use --group for a group)"
            ));
        }
        out.push(m.to_owned());
    }
    for g in groups {
        let g = g.trim();
        if g.is_empty() || g.contains(char::is_whitespace) {
            return Err(format!("--group {g:?} is not a group name"));
        }
        out.push(format!("group:{g}"));
    }
    Ok(if out.is_empty() {
        "all".to_owned()
    } else {
        out.join(" ")
    })
}

/// Adds a window starting now; returns the line to print.
pub fn add(db: &Path, request: &AddRequest<'_>) -> Result<String, String> {
    if request.length.is_zero() {
        return Err("--for must be more than zero, e.g. 30m".into());
    }
    if request.length > MAX_FOR {
        return Err("--for is longer than a year; give a shorter window".into());
    }
    let selectors = selectors(request.monitors, request.groups)?;
    let reason = request
        .reason
        .map(|r| crate::text::capped(r.trim(), 200))
        .filter(|r| !r.is_empty());
    let conn = table::open_for_write(db)?;
    let start = epoch_ms(SystemTime::now());
    let end = start + i64::try_from(request.length.as_millis()).unwrap_or(i64::MAX / 2);
    let id = table::add(
        &conn,
        start,
        end,
        &selectors,
        reason.as_deref(),
        "cli",
        None,
    )
    .map_err(|e| format!("cannot add the window to {}: {e}", db.display()))?;
    Ok(format!(
        "maintenance window {id} for {selectors} from {} until {}{}",
        time(start),
        time(end),
        reason.map(|r| format!(": {r}")).unwrap_or_default()
    ))
}

/// The windows not ended yet (every window with `all`), one line each.
pub fn list(db: &Path, all: bool) -> Result<Vec<String>, String> {
    let conn = table::open_for_write(db)?;
    let now = epoch_ms(SystemTime::now());
    let rows = table::overlapping(&conn, if all { i64::MIN } else { now }, i64::MAX)
        .map_err(|e| format!("cannot read {}: {e}", db.display()))?;
    Ok(rows
        .iter()
        .map(|r| {
            format!(
                "{:>4}  {}  {}  {:<6}  {}{}",
                r.id,
                time(r.start),
                time(r.end),
                r.origin,
                r.monitors,
                r.reason
                    .as_deref()
                    .map(|x| format!("  {x}"))
                    .unwrap_or_default()
            )
        })
        .collect())
}

/// Ends window `id` now.
pub fn end(db: &Path, id: i64) -> Result<String, String> {
    let conn = table::open_for_write(db)?;
    let now = epoch_ms(SystemTime::now());
    match table::end(&conn, id, now) {
        Ok(true) => Ok(format!("maintenance window {id} ended at {}", time(now))),
        Ok(false) => Err(format!(
            "there is no maintenance window {id}; `sitewatch maintenance list` shows them"
        )),
        Err(e) => Err(format!("cannot end window {id}: {e}")),
    }
}
