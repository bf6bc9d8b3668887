//! Closing the gap a crash leaves: a run that stops cleanly records "monitoring stopped" (a
//! transition to `unknown`) for every monitor whose state it knew, so the time until the next
//! run counts neither up nor down. A run killed (SIGKILL, power cut) records nothing, and its
//! monitors' last states would seem to last until the next run.
//!
//! So a writer marks its run as open in `meta` (`open_run`, its start time) when it starts
//! and removes the mark with the stop markers. Finding the mark at start means the last run
//! did not stop cleanly: then every monitor whose last transition is not to `unknown` gets one,
//! at the time of its last recorded check or transition, whichever is later — the last moment
//! sitewatch is known to have watched it. A database made by a sitewatch from before the mark
//! is treated the same way once, when it is adopted.
//!
//! Cost: one indexed look-up per monitor for its last transition, then a walk back through the
//! checks by time until every open monitor's last check is found (about one interval of the
//! slowest monitor), capped at [`SCAN_MAX`] rows; past the cap the last transition's time is
//! used, which only shortens the time counted.

use std::collections::HashMap;
use std::time::SystemTime;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::epoch_ms;

/// The `meta` key set while a writer runs.
pub const OPEN_RUN: &str = "open_run";
/// The `detail` of a transition to `unknown` recorded for a run that did not stop cleanly.
pub const STOPPED_UNCLEANLY: &str = "monitoring stopped (not cleanly; recorded at the next start)";
/// Most checks read back to find the monitors' last checks.
pub const SCAN_MAX: usize = 5_000_000;

/// Marks a run as open (in a transaction of its own).
pub fn mark_open(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![OPEN_RUN, epoch_ms(SystemTime::now())],
    )?;
    Ok(())
}

/// Removes the open-run mark: for the clean stop's transaction.
pub fn mark_closed(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM meta WHERE key = ?1", [OPEN_RUN])?;
    Ok(())
}

/// When the last run did not stop cleanly, records "monitoring stopped" for each monitor it
/// left in a known state; then marks this run as open. Returns the markers written.
pub fn close_and_open(conn: &mut Connection) -> rusqlite::Result<u64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let crashed: bool = tx
        .query_row("SELECT 1 FROM meta WHERE key = ?1", [OPEN_RUN], |_| Ok(()))
        .optional()?
        .is_some();
    let written = if crashed { close_gaps(&tx)? } else { 0 };
    mark_open(&tx)?;
    tx.commit()?;
    Ok(written)
}

/// Each monitor whose last transition is not to `unknown`: (id, its time, its state).
fn open_monitors(conn: &Connection) -> rusqlite::Result<Vec<(i64, i64, String)>> {
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM monitors")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut last = conn.prepare(
        "SELECT ts, to_state FROM transitions WHERE monitor = ?1 ORDER BY ts DESC, rowid DESC LIMIT 1",
    )?;
    let mut open = Vec::new();
    for id in ids {
        let found: Option<(i64, String)> = last
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((ts, state)) = found {
            if state != "unknown" {
                open.push((id, ts, state));
            }
        }
    }
    Ok(open)
}

fn close_gaps(conn: &Connection) -> rusqlite::Result<u64> {
    let mut open = open_monitors(conn)?;
    if open.is_empty() {
        return Ok(0);
    }
    // When each open monitor was last seen: its transition, or a later check.
    let mut seen: HashMap<i64, i64> = open.iter().map(|(id, ts, _)| (*id, *ts)).collect();
    // Walking back in time, a monitor is settled once the walk passes its last transition
    // (no earlier check can be later than that) or finds its last check.
    open.sort_by_key(|(_, ts, _)| *ts);
    let mut unsettled = open.len();
    let mut settled: HashMap<i64, bool> = open.iter().map(|(id, _, _)| (*id, false)).collect();
    let mut next_by_transition = open.len();
    let mut walk = conn.prepare("SELECT ts, monitor FROM checks ORDER BY ts DESC")?;
    let mut rows = walk.query([])?;
    let mut scanned = 0;
    while unsettled > 0 && scanned < SCAN_MAX {
        let Some(row) = rows.next()? else { break };
        scanned += 1;
        let (ts, monitor): (i64, i64) = (row.get(0)?, row.get(1)?);
        while next_by_transition > 0 && open[next_by_transition - 1].1 >= ts {
            next_by_transition -= 1;
            if let Some(done) = settled.get_mut(&open[next_by_transition].0) {
                if !*done {
                    *done = true;
                    unsettled -= 1;
                }
            }
        }
        if let Some(done) = settled.get_mut(&monitor) {
            if !*done {
                *done = true;
                unsettled -= 1;
                let at = seen.entry(monitor).or_insert(ts);
                *at = (*at).max(ts);
            }
        }
    }
    drop(rows);
    let mut insert = conn.prepare(
        "INSERT INTO transitions (ts, monitor, from_state, to_state, detail, attempts)
         VALUES (?1, ?2, ?3, 'unknown', ?4, 0)",
    )?;
    for (id, _, state) in &open {
        insert.execute(params![seen[id], id, state, STOPPED_UNCLEANLY])?;
    }
    Ok(open.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::migrate;

    #[test]
    fn a_crashed_run_is_closed_at_each_monitors_last_event_and_a_clean_one_is_left_alone() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO monitors (id, url, name, interval_ms, method, first_seen, last_seen) VALUES (1, 'a', '', 1000, 'GET', 0, 0), (2, 'b', '', 1000, 'GET', 0, 0),
                                        (3, 'c', '', 1000, 'GET', 0, 0), (4, 'd', '', 1000, 'GET', 0, 0);
             INSERT INTO transitions (ts, monitor, from_state, to_state) VALUES
                 (100, 1, 'unknown', 'down'), (100, 2, 'unknown', 'up'),
                 (100, 3, 'unknown', 'up'), (150, 3, 'up', 'unknown'), (500, 4, 'unknown', 'up');
             INSERT INTO checks (ts, monitor, ms, lateness_ms) VALUES
                 (90, 1, 1, 0), (200, 1, 1, 0), (300, 1, 1, 0), (250, 2, 1, 0), (400, 3, 1, 0),
                 (450, 4, 1, 0);",
        )
        .unwrap();
        // No open run: nothing to close.
        assert_eq!(close_and_open(&mut conn).unwrap(), 0);
        // The run above "crashed": its mark is still there.
        assert_eq!(close_and_open(&mut conn).unwrap(), 3);
        let markers: Vec<(i64, i64, String)> = conn
            .prepare("SELECT monitor, ts, from_state FROM transitions WHERE detail = ?1 ORDER BY monitor")
            .unwrap()
            .query_map([STOPPED_UNCLEANLY], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            markers,
            vec![
                (1, 300, "down".to_string()),
                (2, 250, "up".to_string()),
                (4, 500, "up".to_string())
            ],
            "last check, or the transition when it is later; monitor 3 was closed"
        );
        assert_eq!(close_and_open(&mut conn).unwrap(), 0, "closed once");
    }
}
