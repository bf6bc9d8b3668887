//! Reload: the config read again on SIGHUP or when its file changes, applied without a restart.
//!
//! How a reload flows through the threads:
//!
//! 1. The reload thread (`sitewatch-reload`, only in a repeating run with a config file) wakes
//!    on a SIGHUP (the signal thread's `bounded(1)` request channel) or every [`POLL`] to
//!    compare the file's metadata (mtime, size, inode) with what it last read.
//! 2. It reads and validates the whole file there, off the scheduler thread (a million
//!    entries take about a second). Invalid: one error line, `reload failed: <the config
//!    error>; still running the previous config`, kept in [`Status`] for the health check;
//!    nothing else changes.
//! 3. Valid: it matches the new monitors to the running ones by `id` ([`diff`]). Indexes never
//!    move, because every thread indexes monitors by position (jobs, events, stats, history
//!    rows): an unchanged monitor keeps its index and its `Monitor`; a changed one is replaced
//!    in place; a removed one stays as a tombstone (never scheduled again); a new one is
//!    appended. The new list and the [`Changes`] go to the scheduler as one [`Plan`]
//!    (`bounded(1)`: the reload thread waits, the scheduler never does).
//! 4. The scheduler applies the plan between two wake-ups, in this order: `Stats` grows its
//!    per-monitor table, the `Schedule` applies the changes (health, phase, pending check and
//!    retry count of every kept monitor untouched; removed ones retired, their waiting
//!    dispatches dropped; new ones get their first check within the next second or so, spread
//!    like start-up), the new list is published in the [`Catalog`] (before any of its new
//!    monitors is dispatched, so every index a thread is handed is in the list it loads), a
//!    "monitoring stopped" state change (to `unknown`) is published for each removed monitor
//!    with a known state, and it logs `reloaded: 2 added, 1 removed, 3 changed, 994 unchanged`.
//! 5. Readers take the list from the catalog per job (workers), per event (printer), per report
//!    (reporter), per batch (history writer, which registers the new list by id when it
//!    changes, so a changed monitor keeps its history row). A check of a removed monitor
//!    already queued or running completes, is recorded, and is ignored by the scheduler.
//!
//! Not reloaded: command-line options, `connectivity`, the `notify` channels (monitors added
//! by a reload are not routed to notifications until a restart).

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crossbeam_channel::{never, select, Receiver, Sender};

use crate::catalog::Catalog;
use crate::config::{Config, Monitor};
use crate::scheduler::{Cadence, Changes};

/// How often the config file's metadata is compared with what was last read.
pub const POLL: Duration = Duration::from_secs(2);

/// A reload ready for the scheduler.
#[derive(Debug)]
pub struct Plan {
    /// The new list: every index of the running one kept, new monitors appended.
    pub monitors: Arc<Vec<Monitor>>,
    /// What the schedule must change.
    pub changes: Changes,
    /// For the `reloaded:` line.
    pub counts: Counts,
}

/// How many monitors a reload added, removed, changed and kept unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// New ids.
    pub added: usize,
    /// Ids gone from the file.
    pub removed: usize,
    /// Same id, some setting changed.
    pub changed: usize,
    /// Same id, same settings.
    pub unchanged: usize,
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "reloaded: {} added, {} removed, {} changed, {} unchanged",
            self.added, self.removed, self.changed, self.unchanged
        )
    }
}

/// The outcome of the last reload, for the health check.
#[derive(Debug, Default)]
pub struct Status {
    failed: Mutex<Option<(SystemTime, String)>>,
}

impl Status {
    /// When the last reload failed and why; `None` if it succeeded or none was tried.
    pub fn failed(&self) -> Option<(SystemTime, String)> {
        self.failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set(&self, failed: Option<(SystemTime, String)>) {
        *self.failed.lock().unwrap_or_else(|e| e.into_inner()) = failed;
    }
}

/// Matches `new` to the `running` monitors by id (tombstones in `retired` match nothing) and
/// returns the plan: the running list with changed monitors replaced and new ones appended.
/// Settings are compared whole (their debug form: every field, so nothing is missed).
pub fn diff(running: &[Monitor], retired: &[bool], new: Vec<Monitor>) -> Plan {
    let mut index: HashMap<&str, usize> = running
        .iter()
        .enumerate()
        .filter(|(i, _)| !retired.get(*i).copied().unwrap_or(false))
        .map(|(i, m)| (m.id(), i))
        .collect();
    let mut changes = Changes::default();
    let mut counts = Counts::default();
    let mut replaced: Vec<(usize, Monitor)> = Vec::new();
    let mut added: Vec<Monitor> = Vec::new();
    for m in new {
        match index.remove(m.id()) {
            Some(i) if format!("{:?}", running[i]) == format!("{m:?}") => counts.unchanged += 1,
            Some(i) => {
                counts.changed += 1;
                changes.changed.push((i, cadence(&m)));
                replaced.push((i, m));
            }
            None => {
                counts.added += 1;
                changes.added.push(cadence(&m));
                added.push(m);
            }
        }
    }
    changes.removed = index.into_values().collect();
    changes.removed.sort_unstable();
    counts.removed = changes.removed.len();
    let mut list = Vec::with_capacity(running.len() + added.len());
    list.extend_from_slice(running);
    for (i, m) in replaced {
        list[i] = m;
    }
    list.extend(added);
    Plan {
        monitors: Arc::new(list),
        changes,
        counts,
    }
}

fn cadence(m: &Monitor) -> Cadence {
    Cadence {
        interval: m.interval,
        policy: m.policy(),
    }
}

/// What identifies the file's content closely enough to notice an edit or a replacement.
type Stamp = (Option<SystemTime>, u64, u64);

fn stamp(path: &std::path::Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let ino = 0;
    Some((m.modified().ok(), m.len(), ino))
}

/// The reload thread.
pub struct Watcher {
    /// The config file.
    pub path: PathBuf,
    /// The running monitors.
    pub catalog: Arc<Catalog>,
    /// Plans out to the scheduler.
    pub plans: Sender<Plan>,
    /// The last reload's outcome.
    pub status: Arc<Status>,
}

impl Watcher {
    /// Runs until `stop` disconnects; reloads on each `requests` message (SIGHUP) and when
    /// the file's metadata changes.
    pub fn run(self, requests: Receiver<()>, stop: Receiver<()>) {
        let mut requests = requests;
        let mut last = stamp(&self.path);
        // The list as this thread last planned it (the scheduler may not have applied the
        // plan yet), and which of its indexes are tombstones.
        let mut running = self.catalog.load();
        let mut retired = vec![false; running.len()];
        loop {
            select! {
                recv(requests) -> r => if r.is_err() { requests = never() },
                recv(stop) -> _ => return,
                default(POLL) => {
                    let now = stamp(&self.path);
                    if now == last || now.is_none() {
                        continue;
                    }
                }
            }
            last = stamp(&self.path);
            match Config::load(&self.path) {
                Err(e) => {
                    let why = format!("{}: {e}", self.path.display());
                    log::error!("reload failed: {why}; still running the previous config");
                    self.status.set(Some((SystemTime::now(), why)));
                }
                Ok(config) => {
                    let plan = diff(&running, &retired, config.monitors);
                    running = Arc::clone(&plan.monitors);
                    retired.resize(plan.monitors.len(), false);
                    for &i in &plan.changes.removed {
                        retired[i] = true;
                    }
                    self.status.set(None);
                    if self.plans.send(plan).is_err() {
                        return; // the scheduler is gone: the run is ending
                    }
                }
            }
        }
    }
}
