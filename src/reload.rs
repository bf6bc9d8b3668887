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
    /// By index: removed by this reload or an earlier one (filled in by the reload thread).
    pub removed: Arc<Vec<bool>>,
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

/// Whether two monitors have the same settings: every field (through their debug form, so a
/// field added later is compared too), and the secrets that form hides (the URL requests go
/// to, header values).
fn same_settings(a: &Monitor, b: &Monitor, scratch: &mut (String, String)) -> bool {
    use std::fmt::Write;
    let same_headers = a.headers().len() == b.headers().len()
        && a.headers()
            .iter()
            .zip(b.headers())
            .all(|((n1, v1), (n2, v2))| n1 == n2 && v1.as_bytes() == v2.as_bytes());
    if a.request_url() != b.request_url() || !same_headers {
        return false;
    }
    let (x, y) = scratch;
    x.clear();
    y.clear();
    let _ = write!(x, "{a:?}");
    let _ = write!(y, "{b:?}");
    x == y
}

/// Matches `new` to the `running` monitors by id (tombstones in `retired` match nothing) and
/// returns the plan: the running list with changed monitors replaced and new ones appended.
/// An id that was removed by an earlier reload and comes back is a new monitor (a new index:
/// the tombstone stays, so its memory is held until a restart).
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
    let mut scratch = (String::new(), String::new());
    for m in new {
        match index.remove(m.id()) {
            Some(i) if same_settings(&running[i], &m, &mut scratch) => counts.unchanged += 1,
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
        removed: Arc::default(),
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

/// The config file's stamp, taken before the config is read, so that an edit made while
/// sitewatch starts (before the reload thread runs) is still noticed.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileStamp(Option<Stamp>);

impl FileStamp {
    /// The file at `path` as it is now.
    pub fn of(path: &std::path::Path) -> FileStamp {
        FileStamp(stamp(path))
    }
}

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
    /// The shard this instance checks (`--shard`): only its monitors are taken from the file.
    pub shard: Option<crate::config::Shard>,
    /// Monitors of URLs given on the command line, added to every config read.
    pub extra: Vec<Monitor>,
    /// The file as it was just before the running config was read from it.
    pub loaded: FileStamp,
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
        let mut last = self.loaded.0;
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
            let loaded = Config::load(&self.path).and_then(|mut config| {
                config.add_monitors(&self.extra)?;
                Ok(config)
            });
            match loaded {
                Err(e) => {
                    let why = format!("{}: {e}", self.path.display());
                    log::error!("reload failed: {why}; still running the previous config");
                    self.status.set(Some((SystemTime::now(), why)));
                }
                Ok(mut config) => {
                    if let Some(shard) = self.shard {
                        shard.retain(&mut config.monitors);
                    }
                    let mut plan = diff(&running, &retired, config.monitors);
                    running = Arc::clone(&plan.monitors);
                    retired.resize(plan.monitors.len(), false);
                    for &i in &plan.changes.removed {
                        retired[i] = true;
                    }
                    plan.removed = Arc::new(retired.clone());
                    self.status.set(None);
                    if self.plans.send(plan).is_err() {
                        return; // the scheduler is gone: the run is ending
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitors(json: &str) -> Vec<Monitor> {
        Config::parse(json).unwrap().monitors
    }

    #[test]
    fn monitors_are_matched_by_id_and_indexes_never_move() {
        let running = monitors(
            r#"[{"url": "http://127.0.0.1:9/", "name": "a"},
                {"url": "http://127.0.0.1:9/", "name": "b"},
                {"url": "http://127.0.0.1:9/", "name": "c"}]"#,
        );
        let new = monitors(
            r#"[{"url": "http://127.0.0.1:9/", "name": "d"},
                {"url": "http://127.0.0.1:9/", "name": "c", "interval": 5},
                {"url": "http://127.0.0.1:9/", "name": "a"}]"#,
        );
        let plan = diff(&running, &[false; 3], new);
        let c = plan.counts;
        assert_eq!((c.added, c.removed, c.changed, c.unchanged), (1, 1, 1, 1));
        assert_eq!(
            c.to_string(),
            "reloaded: 1 added, 1 removed, 1 changed, 1 unchanged"
        );
        let ids: Vec<&str> = plan.monitors.iter().map(Monitor::id).collect();
        assert_eq!(
            ids,
            ["a", "b", "c", "d"],
            "b stays as a tombstone, d appended"
        );
        assert_eq!(plan.changes.removed, [1]);
        assert_eq!(plan.changes.changed.len(), 1);
        assert_eq!(plan.changes.changed[0].0, 2);
        assert_eq!(plan.changes.changed[0].1.interval, Duration::from_secs(5));
        assert_eq!(plan.changes.added.len(), 1);
        // b, now a tombstone, coming back is a new monitor at a new index.
        let again = diff(
            &plan.monitors,
            &[false, true, false, false],
            monitors(r#"[{"url": "http://127.0.0.1:9/", "name": "b"}]"#),
        );
        let c = again.counts;
        assert_eq!((c.added, c.removed, c.changed, c.unchanged), (1, 3, 0, 0));
        assert_eq!(again.monitors.len(), 5);
        assert_eq!(again.changes.removed, [0, 2, 3]);
    }

    #[test]
    fn a_changed_secret_is_a_change() {
        let running = monitors(
            r#"[{"url": "http://u:old@127.0.0.1:9/", "name": "a",
                 "headers": {"Authorization": "Bearer old"}}]"#,
        );
        for new in [
            r#"[{"url": "http://u:new@127.0.0.1:9/", "name": "a",
                 "headers": {"Authorization": "Bearer old"}}]"#,
            r#"[{"url": "http://u:old@127.0.0.1:9/", "name": "a",
                 "headers": {"Authorization": "Bearer new"}}]"#,
        ] {
            let plan = diff(&running, &[false], monitors(new));
            assert_eq!(plan.counts.changed, 1, "{new}");
        }
        let same = diff(
            &running,
            &[false],
            monitors(
                r#"[{"url": "http://u:old@127.0.0.1:9/", "name": "a",
                     "headers": {"Authorization": "Bearer old"}}]"#,
            ),
        );
        assert_eq!(same.counts.unchanged, 1);
    }
}
