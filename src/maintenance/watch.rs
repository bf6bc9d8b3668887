//! The maintenance thread (`sitewatch-maintenance`): keeps [`Planned`]'s ad-hoc windows in
//! step with the history database, and says when windows begin and end.
//!
//! Every [`POLL`] it reads the windows `sitewatch maintenance add` stored that have not ended
//! (on its own connection; see [`crate::store::maintenance`] for why that write path is safe
//! beside the writer thread), resolves their monitors against this run's config, and swaps
//! them into [`Planned`] whole: a window added from another shell applies within seconds.
//! Each occurrence of a config window is recorded in the same table when it begins, so
//! reports remember it. It never touches a worker's or the scheduler's path; a database
//! problem is said once and retried, and config windows apply without it.
//!
//! Shutdown: it ends when its stop channel disconnects.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossbeam_channel::{select, Receiver};
use rusqlite::Connection;

use super::{AdHoc, Planned};
use crate::config::plan::Targets;
use crate::config::{Ids, Monitor};
use crate::store::maintenance as table;
use crate::store::{epoch_ms, from_epoch_ms};

/// How often the database is read for new windows.
pub const POLL: Duration = Duration::from_secs(2);

/// What the thread needs.
pub struct Watch {
    /// Shared with the workers.
    pub planned: Arc<Planned>,
    /// The run's monitors.
    pub monitors: Arc<Vec<Monitor>>,
    /// The history database, if any.
    pub db: Option<PathBuf>,
}

fn time(ms: i64) -> String {
    humantime::format_rfc3339_seconds(from_epoch_ms(ms)).to_string()
}

fn said(reason: Option<&str>) -> String {
    reason.map(|r| format!(": {r}")).unwrap_or_default()
}

impl Watch {
    /// The body of the thread.
    pub fn run(self, stop: Receiver<()>) {
        // The id and group indexes, built at the first window to resolve (most runs have none).
        let mut index: Option<(Ids, HashMap<&str, Vec<u32>>)> = None;
        let mut conn: Option<Connection> = None;
        let mut db_failed = false;
        // Config occurrences under way (window index, start), and ad-hoc windows in force.
        let mut started: HashSet<(usize, i64)> = HashSet::new();
        let mut adhoc: HashMap<i64, table::Row> = HashMap::new();
        loop {
            let now = epoch_ms(SystemTime::now());
            if conn.is_none() {
                if let Some(path) = &self.db {
                    match table::open_for_write(path) {
                        Ok(c) => conn = Some(c),
                        Err(e) if !db_failed => {
                            db_failed = true;
                            log::warn!(
                                "maintenance: cannot read windows added with `sitewatch \
                                 maintenance add` ({e}); retrying every {}s",
                                POLL.as_secs()
                            );
                        }
                        Err(_) => {}
                    }
                }
            }
            self.config_windows(now, &mut started, conn.as_ref());
            if let Some(c) = &conn {
                match table::open_cli(c, now) {
                    Ok(rows) => {
                        let mut next = HashMap::with_capacity(rows.len());
                        let mut list = Vec::with_capacity(rows.len());
                        // Said once the windows are in force, so a line never precedes them.
                        let mut lines = Vec::new();
                        for row in rows {
                            let (ids, groups) = index.get_or_insert_with(|| {
                                let mut groups: HashMap<&str, Vec<u32>> = HashMap::new();
                                for (i, m) in self.monitors.iter().enumerate() {
                                    if let Some(g) = m.group() {
                                        groups.entry(g).or_default().push(i as u32);
                                    }
                                }
                                (Ids::new(&self.monitors), groups)
                            });
                            let (targets, resolved, unknown) =
                                resolve(&row.monitors, &self.monitors, ids, groups);
                            if !adhoc.contains_key(&row.id) {
                                lines.push(format!(
                                    "maintenance: window {} for {} until {}{}",
                                    row.id,
                                    row.monitors,
                                    time(row.end),
                                    said(row.reason.as_deref())
                                ));
                                if !unknown.is_empty() {
                                    lines.push(format!(
                                        "maintenance: window {} names what this config does not \
                                         have: {}",
                                        row.id,
                                        unknown.join(", ")
                                    ));
                                }
                                if row.ids.is_none() {
                                    if let Err(e) = table::resolve(c, row.id, &resolved) {
                                        log::warn!(
                                            "maintenance: cannot record window {}: {e}",
                                            row.id
                                        );
                                    }
                                }
                            }
                            list.push(AdHoc {
                                id: row.id,
                                start: row.start,
                                end: row.end,
                                targets,
                                reason: row.reason.as_deref().map(Arc::from),
                            });
                            next.insert(row.id, row);
                        }
                        for (id, row) in &adhoc {
                            if !next.contains_key(id) {
                                lines.push(format!(
                                    "maintenance: window {id} for {} ended",
                                    row.monitors
                                ));
                            }
                        }
                        adhoc = next;
                        self.planned.set_adhoc(list);
                        for line in lines {
                            log::warn!("{line}");
                        }
                        db_failed = false;
                    }
                    Err(e) if !db_failed => {
                        db_failed = true;
                        log::warn!("maintenance: cannot read the windows ({e}); retrying");
                    }
                    Err(_) => {}
                }
            }
            select! {
                recv(stop) -> _ => break,
                default(POLL) => {}
            }
        }
    }

    /// Says when config windows begin and end, and records each occurrence as it begins.
    fn config_windows(
        &self,
        now: i64,
        started: &mut HashSet<(usize, i64)>,
        conn: Option<&Connection>,
    ) {
        for (i, w) in self.planned.windows().iter().enumerate() {
            let current = w.occurrence_at(now);
            started.retain(|&(j, start)| {
                let keep = j != i || current.is_some_and(|(s, _)| s == start);
                if !keep {
                    log::warn!("maintenance: window for {} ended", w.selectors);
                }
                keep
            });
            let Some((start, end)) = current else {
                continue;
            };
            if !started.insert((i, start)) {
                continue;
            }
            log::warn!(
                "maintenance: window for {} until {}{}",
                w.selectors,
                time(end),
                said(w.reason.as_deref())
            );
            if let Some(c) = conn {
                let ids = match &w.targets {
                    Targets::All => None,
                    Targets::Some(list) => Some(
                        list.iter()
                            .map(|&m| self.monitors[m as usize].id())
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                };
                let reason = w.reason.as_deref();
                if let Err(e) = table::add(
                    c,
                    start,
                    end,
                    &w.selectors,
                    reason,
                    "config",
                    ids.as_deref(),
                ) {
                    log::warn!("maintenance: cannot record the window in the history: {e}");
                }
            }
        }
    }
}

/// Resolves stored selectors against this run's monitors: the targets, the ids covered (space
/// separated) and the selectors that match nothing.
fn resolve(
    selectors: &str,
    monitors: &[Monitor],
    ids: &Ids,
    groups: &HashMap<&str, Vec<u32>>,
) -> (Targets, String, Vec<String>) {
    if selectors.trim() == "all" {
        return (Targets::All, "all".into(), Vec::new());
    }
    let mut list: Vec<u32> = Vec::new();
    let mut unknown = Vec::new();
    for s in selectors.split(' ').filter(|s| !s.is_empty()) {
        if let Some(g) = s.strip_prefix("group:") {
            match groups.get(g) {
                Some(members) => list.extend_from_slice(members),
                None => unknown.push(s.to_owned()),
            }
        } else {
            match ids.find(monitors, s) {
                Some(i) => list.push(i as u32),
                None => unknown.push(s.to_owned()),
            }
        }
    }
    list.sort_unstable();
    list.dedup();
    let resolved = list
        .iter()
        .map(|&m| monitors[m as usize].id())
        .collect::<Vec<_>>()
        .join(" ");
    (Targets::Some(list.into()), resolved, unknown)
}
