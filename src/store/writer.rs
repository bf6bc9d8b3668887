//! The history writer thread: the only code that writes to the database.
//!
//! Workers and the scheduler never wait on disk: [`crate::event::Fanout`] hands each event to
//! this thread through its own bounded channel ([`CHANNEL`] events) with `try_send`, and counts
//! the event as unwritten if the channel is full. The writer collects events into a batch and
//! commits it in one transaction when it holds [`Settings::batch_rows`] events or its oldest
//! event is [`Settings::batch_time`] old, whichever comes first; raw rows and the hourly rollups
//! they touch go in the same transaction, so a crash loses at most the batch in hand and never
//! leaves the two disagreeing.
//!
//! A failed transaction (disk full, file made read-only, locked past the busy timeout) is logged
//! at error level and its events are counted as unwritten in [`Stats`], which the summary shows;
//! the writer carries on with the next batch. It never panics the monitor.
//!
//! With `--retain`, raw checks older than the horizon are deleted a few thousand rows at a time
//! between batches (at start, then hourly), so pruning never holds the writer up for long.
//!
//! At start it closes the gap a crashed run left ([`super::gap`]) and marks its run as open.
//!
//! The database deleted, replaced or overwritten under it: after every commit, and every
//! [`FILE_CHECK_EVERY`] while idle, the writer checks that the path still names the file it
//! writes ([`super::identity`]). When it does not, the writer says so once on stderr, stops
//! writing for the rest of the run (it leaves whatever is now at the path alone, and removes
//! its own `-wal`/`-shm` there), and counts every result from then on, and the batch whose
//! commit revealed it, as unwritten. It never reports rows as written that went to a file no
//! longer at the path.
//!
//! Shutdown: when every publisher has dropped its `Fanout`, the channel disconnects; the writer
//! commits what it holds, records that monitoring stopped (a transition to `unknown` for every
//! monitor whose state it knew) and removes its open-run mark in one transaction, logs what it
//! wrote, and closes the database.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{never, select, Receiver, RecvTimeoutError};
use rusqlite::{params, Connection, TransactionBehavior};

use super::gap;
use super::identity::Gone;
use super::rollup::RollupCache;
use super::{epoch_ms, Store};
use crate::catalog::Catalog;
use crate::config::Monitor;
use crate::event::{Event, StateChange};
use crate::output::ms;
use crate::probe::{Echoes, Nature};
use crate::state::State;
use crate::stats::Stats;
use crate::worker::CheckRecord;

/// Events the writer may lag behind by before new ones are counted as unwritten.
pub const CHANNEL: usize = 100_000;
/// Rows per transaction, at most.
pub const BATCH_ROWS: usize = 500;
/// Longest an event waits before its batch is committed.
pub const BATCH_TIME: Duration = Duration::from_secs(1);
/// Raw rows deleted per pruning transaction.
const PRUNE_CHUNK: i64 = 5_000;
/// Time between pruning passes.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Shortest time between two "could not write" log lines (the count covers the rest).
const ERROR_LOG_EVERY: Duration = Duration::from_secs(10);
/// Time between attempts to register the monitors after one failed.
const REGISTER_RETRY: Duration = Duration::from_secs(60);
/// Longest time between two checks that the path still names the database file.
pub const FILE_CHECK_EVERY: Duration = Duration::from_secs(5);

/// How the writer batches and prunes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Commit when this many events are waiting.
    pub batch_rows: usize,
    /// Commit when the oldest waiting event is this old.
    pub batch_time: Duration,
    /// Delete raw checks older than this (rollups are kept).
    pub retain: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            batch_rows: BATCH_ROWS,
            batch_time: BATCH_TIME,
            retain: None,
        }
    }
}

/// A store and how to write to it: what a run needs to keep history.
#[derive(Debug)]
pub struct History {
    /// The open, migrated database.
    pub store: Store,
    /// Batching and retention.
    pub settings: Settings,
}

/// What the writer did, returned when it ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Check rows committed.
    pub checks: u64,
    /// State transitions committed (not counting the stop markers).
    pub transitions: u64,
    /// Events that could not be written (also counted in the stats).
    pub failed: u64,
    /// Transactions committed.
    pub batches: u64,
    /// Raw checks deleted by retention.
    pub pruned: u64,
}

/// Pruning progress: whether a pass is under way, and its horizon.
struct Prune {
    retain: Duration,
    due: Instant,
    active: bool,
    horizon: i64,
}

/// The writer thread's state.
pub struct Writer {
    store: Store,
    monitors: Arc<Vec<Monitor>>,
    /// Where a reload publishes a new list, which is then registered (by id) before the next
    /// batch is written.
    catalog: Option<Arc<Catalog>>,
    /// After a failed registration, when to try again.
    register_retry: Option<Instant>,
    settings: Settings,
    stats: Arc<Stats>,
    batch: Vec<Event>,
    rollups: RollupCache,
    /// Last state committed for each monitor (config index), for the stop markers.
    states: Vec<State>,
    written: Written,
    prune: Option<Prune>,
    last_error_log: Option<Instant>,
    unlogged_failures: u64,
    /// Set once the path no longer names the file: nothing more is written.
    gone: Option<Gone>,
    /// When to check the path next while idle.
    file_check_due: Instant,
    /// Disconnects on a stop at once: take what is queued, commit, finish.
    interrupt: Receiver<()>,
    interrupted: bool,
}

impl Writer {
    /// A writer of the results of `monitors` to `history` that counts losses in `stats`.
    pub fn new(history: History, monitors: Arc<Vec<Monitor>>, stats: Arc<Stats>) -> Writer {
        let History { store, settings } = history;
        Writer {
            store,
            register_retry: None,
            catalog: None,
            states: vec![State::Unknown; monitors.len()],
            monitors,
            batch: Vec::with_capacity(settings.batch_rows.max(1)),
            prune: settings.retain.map(|retain| Prune {
                retain,
                due: Instant::now(),
                active: false,
                horizon: i64::MIN,
            }),
            settings,
            stats,
            rollups: RollupCache::default(),
            written: Written::default(),
            last_error_log: None,
            unlogged_failures: 0,
            gone: None,
            file_check_due: Instant::now() + FILE_CHECK_EVERY,
            interrupt: never(),
            interrupted: false,
        }
    }

    /// Follows reloads: registers the list `catalog` holds whenever it changes.
    pub fn reloadable(mut self, catalog: Arc<Catalog>) -> Writer {
        self.catalog = Some(catalog);
        self
    }

    /// Also finishes when `interrupt` disconnects (a stop at once), without waiting for the
    /// publishers: it commits what is already queued, records the stop, and ends.
    pub fn interruptible(mut self, interrupt: Receiver<()>) -> Writer {
        self.interrupt = interrupt;
        self
    }

    /// The next event, waiting until `deadline`. After an interrupt, only what is queued:
    /// an empty queue then counts as disconnected.
    fn next_event(
        &mut self,
        events: &Receiver<Event>,
        deadline: Instant,
    ) -> Result<Event, RecvTimeoutError> {
        if self.interrupted {
            return events
                .try_recv()
                .map_err(|_| RecvTimeoutError::Disconnected);
        }
        select! {
            recv(events) -> event => event.map_err(|_| RecvTimeoutError::Disconnected),
            recv(self.interrupt) -> _ => {
                self.interrupted = true;
                self.next_event(events, deadline)
            }
            default(deadline.saturating_duration_since(Instant::now())) => {
                Err(RecvTimeoutError::Timeout)
            }
        }
    }

    /// The thread body: writes every event until the channel disconnects, then finishes.
    pub fn run(mut self, events: Receiver<Event>) -> Written {
        self.close_crash_gap();
        // At once, while the first checks queue up (a failure is logged, and retried later).
        let _ = self.ensure_registered();
        let batch_rows = self.settings.batch_rows.max(1);
        let mut batch_due: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if batch_due.is_some_and(|t| now >= t) {
                self.flush();
                batch_due = None;
            }
            if self.gone.is_none() && self.prune.as_ref().is_some_and(|p| now >= p.due) {
                self.prune_step();
            }
            if self.gone.is_none() && now >= self.file_check_due {
                self.check_file();
            }
            let far = now + PRUNE_EVERY;
            // Once writing has stopped, neither pruning nor the file check is due again.
            let (prune_due, file_check_due) = match self.gone {
                None => (
                    self.prune.as_ref().map_or(far, |p| p.due),
                    self.file_check_due,
                ),
                Some(_) => (far, far),
            };
            let deadline = batch_due.unwrap_or(far).min(prune_due).min(file_check_due);
            match self.next_event(&events, deadline) {
                Ok(event) => {
                    self.batch.push(event);
                    batch_due.get_or_insert_with(|| Instant::now() + self.settings.batch_time);
                    while self.batch.len() < batch_rows {
                        match events.try_recv() {
                            Ok(event) => self.batch.push(event),
                            Err(_) => break,
                        }
                    }
                    if self.batch.len() >= batch_rows {
                        self.flush();
                        batch_due = None;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.flush();
                    return self.finish();
                }
            }
        }
    }

    /// Commits the batch in hand, or counts it as unwritten.
    fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        if self.gone.is_some() {
            self.lost(batch.len() as u64);
            self.batch = batch;
            self.batch.clear();
            return;
        }
        let result = self.write(&batch);
        // Committed rows count as written only if the path still names the file they went to.
        if result.is_ok() && !self.check_file() {
            self.rollups.clear();
            self.lost(batch.len() as u64);
            self.batch = batch;
            self.batch.clear();
            return;
        }
        match result {
            Ok((checks, transitions)) => {
                self.written.checks += checks;
                self.written.transitions += transitions;
                self.written.batches += 1;
                for event in &batch {
                    if let Event::State(change) = event {
                        self.states[change.monitor] = change.to;
                    }
                }
            }
            Err(e) => {
                // Memory may now hold rows the database does not: reload from the database.
                self.rollups.clear();
                self.failed(batch.len() as u64, &e);
            }
        }
        self.batch = batch;
        self.batch.clear();
    }

    /// Closes what a run that did not stop cleanly left open, and marks this run as open.
    fn close_crash_gap(&mut self) {
        match gap::close_and_open(&mut self.store.conn) {
            Ok(0) => {}
            Ok(n) => log::warn!(
                "history: the last run on {} did not stop cleanly; recorded \"monitoring stopped\" \
                 for {n} monitor(s) at their last recorded check, so the time since counts neither \
                 up nor down",
                self.store.path().display()
            ),
            Err(e) => log::error!(
                "history: cannot check {} for a run that did not stop cleanly, or mark this run \
                 as open: {e}",
                self.store.path().display()
            ),
        }
    }

    /// Checks that the path still names the database file; if not, stops writing for good and
    /// says so. Returns whether writing goes on.
    fn check_file(&mut self) -> bool {
        self.file_check_due = Instant::now() + FILE_CHECK_EVERY;
        if self.gone.is_some() {
            return false;
        }
        let Err(gone) = self.store.file.check() else {
            return true;
        };
        self.store.file.abandon(&self.store.conn, gone);
        self.gone = Some(gone);
        log::error!(
            "history: {} is no longer the database this run was writing (it was {gone}); \
             nothing more is written to it and results from now on are counted as unwritten; \
             restart sitewatch to keep history again",
            self.store.path().display()
        );
        false
    }

    /// Counts events as unwritten without a log line (one was logged when writing stopped).
    fn lost(&mut self, events: u64) {
        self.stats.add_unwritten(events);
        self.written.failed += events;
    }

    /// Registers the monitors unless done, or tried less than [`REGISTER_RETRY`] ago.
    fn ensure_registered(&mut self) -> rusqlite::Result<()> {
        if let Some(current) = self.catalog.as_ref().map(|c| c.load()) {
            if !Arc::ptr_eq(&current, &self.monitors) {
                // A reload: register the new list (a lookup by id per monitor, so a changed
                // monitor keeps its row) before writing any of its events.
                self.monitors = current;
                self.states.resize(self.monitors.len(), State::Unknown);
                self.store.forget_registration();
                self.register_retry = None;
            }
        }
        if self.store.monitor_ids().is_some() {
            return Ok(());
        }
        if self.register_retry.is_some_and(|t| Instant::now() < t) {
            return Err(not_registered());
        }
        let started = Instant::now();
        match self.store.register(&self.monitors) {
            Ok(()) => {
                log::debug!(
                    "history: {} monitors registered in {:?}",
                    self.monitors.len(),
                    started.elapsed()
                );
                Ok(())
            }
            Err(e) => {
                log::error!(
                    "history: cannot register the monitors in {}: {e}; results are counted as \
                     unwritten until it works (tried again every minute)",
                    self.store.path().display()
                );
                self.register_retry = Some(Instant::now() + REGISTER_RETRY);
                Err(e)
            }
        }
    }

    fn write(&mut self, batch: &[Event]) -> rusqlite::Result<(u64, u64)> {
        self.ensure_registered()?;
        let Writer { store, rollups, .. } = self;
        let Store {
            conn, monitor_ids, ..
        } = store;
        let Some(ids) = monitor_ids.as_deref() else {
            return Err(not_registered());
        };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (mut checks, mut transitions) = (0, 0);
        {
            let mut insert_check = tx.prepare(
                "INSERT INTO checks (ts, monitor, status, reason, detail, bytes, ms, lateness_ms,
                                     nature,
                                     phase_dns_ms, phase_connect_ms, phase_tls_ms, phase_ttfb_ms,
                                     phase_transfer_ms, cert_expiry, degraded,
                                     echoes_sent, echoes_received)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,
                         ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            )?;
            let mut insert_transition_statement = tx.prepare(INSERT_TRANSITION)?;
            let mut insert_impairment = tx.prepare(
                "INSERT INTO impairments (start_ts, end_ts, cause, detail)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for event in batch {
                match event {
                    Event::Check(record) => {
                        let row = CheckRow::of(record);
                        let id = ids[record.monitor];
                        insert_check.execute(params![
                            row.ts,
                            id,
                            row.status,
                            row.reason,
                            row.detail,
                            row.bytes,
                            row.ms,
                            row.lateness_ms,
                            row.nature,
                            row.phases[0],
                            row.phases[1],
                            row.phases[2],
                            row.phases[3],
                            row.phases[4],
                            row.cert_expiry,
                            row.degraded,
                            row.echoes.map(|e| e.sent),
                            row.echoes.map(|e| e.received),
                        ])?;
                        // Only verdicts count in uptime.
                        if row.nature.is_none() {
                            rollups.add(&tx, id, row.ts, row.reason.is_none(), row.ms)?;
                        }
                        checks += 1;
                    }
                    // Stored once it has ended: its start line has no length yet.
                    Event::Impairment(span) => {
                        if let Some(end) = span.end {
                            insert_impairment.execute(params![
                                epoch_ms(span.start),
                                epoch_ms(end),
                                span.cause.as_str(),
                                span.detail
                            ])?;
                        }
                    }
                    Event::State(change) => {
                        insert_transition(
                            &mut insert_transition_statement,
                            ids[change.monitor],
                            change,
                        )?;
                        transitions += 1;
                    }
                }
            }
            rollups.write(&tx)?;
        }
        tx.commit()?;
        Ok((checks, transitions))
    }

    fn failed(&mut self, events: u64, e: &rusqlite::Error) {
        self.stats.add_unwritten(events);
        self.written.failed += events;
        self.unlogged_failures += events;
        let quiet = self
            .last_error_log
            .is_some_and(|t| t.elapsed() < ERROR_LOG_EVERY);
        if !quiet {
            log::error!(
                "history: could not write {} result(s) to {}: {e}; they are counted as unwritten \
                 and monitoring goes on",
                self.unlogged_failures,
                self.store.path().display()
            );
            self.unlogged_failures = 0;
            self.last_error_log = Some(Instant::now());
        }
    }

    /// Deletes one chunk of raw checks older than the retention horizon.
    fn prune_step(&mut self) {
        let Some(prune) = self.prune.as_mut() else {
            return;
        };
        let conn = &mut self.store.conn;
        if !prune.active {
            prune.horizon = epoch_ms(SystemTime::now())
                .saturating_sub(i64::try_from(prune.retain.as_millis()).unwrap_or(i64::MAX));
            // Say first what is about to go, so a report never trusts a half-pruned hour.
            if let Err(e) = mark_pruned(conn, prune.horizon) {
                log::error!("history: cannot prune old checks: {e}; will try again in an hour");
                prune.due = Instant::now() + PRUNE_EVERY;
                return;
            }
            prune.active = true;
        }
        let deleted = conn.execute(
            "DELETE FROM checks WHERE rowid IN
               (SELECT rowid FROM checks WHERE ts < ?1 LIMIT ?2)",
            params![prune.horizon, PRUNE_CHUNK],
        );
        match deleted {
            Ok(n) => {
                self.written.pruned += n as u64;
                // More to do: go on right after the next batch; else rest for an hour.
                prune.active = n as i64 == PRUNE_CHUNK;
                prune.due = if prune.active {
                    Instant::now()
                } else {
                    Instant::now() + PRUNE_EVERY
                };
            }
            Err(e) => {
                log::error!("history: cannot prune old checks: {e}; will try again in an hour");
                prune.active = false;
                prune.due = Instant::now() + PRUNE_EVERY;
            }
        }
    }

    /// Records that monitoring stopped and says what was written.
    fn finish(mut self) -> Written {
        if self.check_file() {
            self.record_stop();
        }
        if let Some(gone) = self.gone {
            log::error!(
                "history: wrote {} checks and {} state changes to {} until it was {gone}; {} \
                 result(s) were not written",
                self.written.checks,
                self.written.transitions,
                self.store.path().display(),
                self.written.failed
            );
            return self.written;
        }
        if self.unlogged_failures > 0 || self.written.failed > 0 {
            log::error!(
                "history: {} result(s) could not be written to {}",
                self.written.failed,
                self.store.path().display()
            );
        }
        log::info!(
            "history: wrote {} checks and {} state changes to {}{}",
            self.written.checks,
            self.written.transitions,
            self.store.path().display(),
            if self.written.pruned > 0 {
                format!("; pruned {} old checks", self.written.pruned)
            } else {
                String::new()
            }
        );
        self.written
    }

    /// Records that monitoring stopped, and that this run ended cleanly.
    fn record_stop(&mut self) {
        let at = SystemTime::now();
        let stops: Vec<StateChange> = self
            .states
            .iter()
            .enumerate()
            .filter(|(_, s)| **s != State::Unknown)
            .map(|(monitor, &from)| StateChange {
                monitor,
                at,
                from,
                to: State::Unknown,
                since: at,
                attempts: 0,
                reason: None,
                status: None,
                detail: Some(STOPPED.to_string()),
            })
            .collect();
        if let Err(e) = self.write_stops(&stops) {
            log::error!(
                "history: could not record the end of monitoring in {}: {e}",
                self.store.path().display()
            );
        }
    }

    fn write_stops(&mut self, stops: &[StateChange]) -> rusqlite::Result<()> {
        let Store {
            conn, monitor_ids, ..
        } = &mut self.store;
        let tx = conn.transaction()?;
        gap::mark_closed(&tx)?;
        if stops.is_empty() {
            return tx.commit();
        }
        // A monitor has a known state only once a batch was written, so after registration.
        let Some(ids) = monitor_ids.as_deref() else {
            return Err(not_registered());
        };
        {
            let mut insert = tx.prepare(INSERT_TRANSITION)?;
            for change in stops {
                insert_transition(&mut insert, ids[change.monitor], change)?;
            }
        }
        tx.commit()
    }
}

/// The error of a write made while the monitors are not registered.
fn not_registered() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISUSE),
        Some("the monitors are not registered in the database".to_owned()),
    )
}

/// The `detail` of the transition to `unknown` written when a run ends.
pub const STOPPED: &str = "monitoring stopped";

const INSERT_TRANSITION: &str =
    "INSERT INTO transitions (ts, monitor, from_state, to_state, reason, status, detail, attempts)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

fn insert_transition(
    statement: &mut rusqlite::Statement<'_>,
    id: i64,
    c: &StateChange,
) -> rusqlite::Result<()> {
    statement.execute(params![
        epoch_ms(c.at),
        id,
        c.from.as_str(),
        c.to.as_str(),
        c.reason.map(|r| r.as_str()),
        c.status,
        c.detail,
        c.attempts
    ])?;
    Ok(())
}

fn mark_pruned(conn: &Connection, horizon: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('pruned_before', ?1)
         ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
        [horizon],
    )?;
    Ok(())
}

/// One check as stored.
struct CheckRow<'a> {
    ts: i64,
    status: Option<u16>,
    /// `None` for a verdict; `local` or `inconclusive` otherwise.
    nature: Option<&'static str>,
    /// The failure reason of a verdict; the local kind or cause of the others.
    reason: Option<&'static str>,
    detail: Option<&'a str>,
    bytes: Option<i64>,
    ms: f64,
    lateness_ms: f64,
    /// `Phases::NAMES` in order, milliseconds; `None` where not measured.
    phases: [Option<f64>; 5],
    /// The certificate chain's earliest expiry, Unix ms.
    cert_expiry: Option<i64>,
    /// Why a passing check was degraded (`cert_expiry`, `response_time`).
    degraded: Option<&'static str>,
    /// An `icmp://` check's echoes.
    echoes: Option<Echoes>,
}

impl<'a> CheckRow<'a> {
    fn of(record: &'a CheckRecord) -> Self {
        let o = &record.observation;
        let nature = match o.outcome.nature() {
            Nature::Verdict => None,
            other => Some(other.as_str()),
        };
        CheckRow {
            ts: epoch_ms(record.started_at),
            status: o.status,
            nature,
            reason: o.outcome.cause_name(),
            detail: o.outcome.detail(),
            bytes: o.bytes.map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
            ms: ms(o.elapsed),
            lateness_ms: ms(record.lateness),
            phases: o.phases.named().map(|(_, d)| d.map(ms)),
            cert_expiry: o.cert_expiry.map(epoch_ms),
            degraded: o.degraded.as_ref().map(|d| d.cause.as_str()),
            echoes: o.echoes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::probe::{Observation, Outcome, Reason};
    use crossbeam_channel::bounded;

    fn store(dir: &tempfile::TempDir) -> Store {
        Store::open(&dir.path().join("h.db")).unwrap()
    }

    fn monitors(n: usize) -> Arc<Vec<Monitor>> {
        let urls: Vec<String> = (0..n)
            .map(|i| format!(r#"{{"url": "http://127.0.0.1:9/{i}"}}"#))
            .collect();
        Arc::new(
            Config::parse(&format!("[{}]", urls.join(",")))
                .unwrap()
                .monitors,
        )
    }

    fn check(monitor: usize, at_ms: i64, up: bool, ms: u64) -> Event {
        Event::Check(Arc::new(CheckRecord {
            monitor,
            started_at: super::super::from_epoch_ms(at_ms),
            lateness: Duration::from_micros(300),
            queued: Duration::ZERO,
            observation: Observation {
                status: Some(if up { 200 } else { 503 }),
                bytes: Some(10),
                ..Observation::without_response(
                    Duration::from_millis(ms),
                    if up {
                        Outcome::Up
                    } else {
                        Outcome::Down {
                            reason: Reason::Status,
                            detail: "HTTP 503".into(),
                        }
                    },
                )
            },
        }))
    }

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn checks_that_are_not_verdicts_are_stored_with_their_nature_outside_the_rollups() {
        let dir = tempfile::tempdir().unwrap();
        let stats = Arc::new(Stats::new(1, 1));
        let writer = Writer::new(
            History {
                store: store(&dir),
                settings: Settings::default(),
            },
            monitors(1),
            Arc::clone(&stats),
        );
        let (tx, rx) = bounded(100);
        let t0 = 1_767_225_600_000;
        tx.send(check(0, t0, true, 10)).unwrap();
        let local = |at: i64, outcome: Outcome| {
            Event::Check(Arc::new(CheckRecord {
                monitor: 0,
                started_at: super::super::from_epoch_ms(at),
                lateness: Duration::ZERO,
                queued: Duration::ZERO,
                observation: Observation {
                    ..Observation::without_response(Duration::from_millis(1), outcome)
                },
            }))
        };
        tx.send(local(
            t0 + 1000,
            Outcome::Local {
                kind: crate::probe::LocalKind::FileDescriptors,
                detail: "Too many open files (os error 24)".into(),
            },
        ))
        .unwrap();
        tx.send(local(
            t0 + 2000,
            Outcome::down(Reason::Timeout, "timed out")
                .inconclusive(crate::probe::Cause::Paused, "paused"),
        ))
        .unwrap();
        let at = super::super::from_epoch_ms(t0 + 2000);
        tx.send(Event::Impairment(Arc::new(crate::event::Impairment {
            start: at,
            end: None,
            cause: crate::probe::Cause::Paused,
            detail: "begins".into(),
        })))
        .unwrap();
        tx.send(Event::Impairment(Arc::new(crate::event::Impairment {
            start: at,
            end: Some(at + Duration::from_secs(10)),
            cause: crate::probe::Cause::Paused,
            detail: "sitewatch was paused for 10.0 s".into(),
        })))
        .unwrap();
        drop(tx);
        writer.run(rx);
        let conn = Connection::open(dir.path().join("h.db")).unwrap();
        assert_eq!(count(&conn, "SELECT count(*) FROM checks"), 3);
        assert_eq!(
            count(
                &conn,
                "SELECT count(*) FROM checks WHERE nature = 'local' AND reason = 'file_descriptors'"
            ),
            1
        );
        assert_eq!(
            count(
                &conn,
                "SELECT count(*) FROM checks WHERE nature = 'inconclusive' AND reason = 'paused'"
            ),
            1
        );
        assert_eq!(count(&conn, "SELECT sum(checks) FROM rollups"), 1);
        assert_eq!(
            count(&conn, "SELECT end_ts - start_ts FROM impairments"),
            10_000,
            "one row, once it has ended"
        );
    }

    #[test]
    fn commits_by_count_and_at_the_end_with_rollups_and_stop_markers() {
        let dir = tempfile::tempdir().unwrap();
        let stats = Arc::new(Stats::new(2, 1));
        let settings = Settings {
            batch_rows: 10,
            batch_time: Duration::from_secs(3600),
            retain: None,
        };
        let writer = Writer::new(
            History {
                store: store(&dir),
                settings,
            },
            monitors(2),
            Arc::clone(&stats),
        );
        let (tx, rx) = bounded(100);
        let t0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        for i in 0..25 {
            tx.send(check(i % 2, t0 + i as i64 * 1000, i != 3, 10 + i as u64))
                .unwrap();
        }
        tx.send(Event::State(Arc::new(StateChange {
            monitor: 1,
            at: super::super::from_epoch_ms(t0 + 30_000),
            from: State::Unknown,
            to: State::Down,
            since: super::super::from_epoch_ms(t0),
            attempts: 3,
            reason: Some(Reason::Status),
            status: Some(503),
            detail: Some("HTTP 503".into()),
        })))
        .unwrap();
        drop(tx);
        let written = writer.run(rx);
        assert_eq!(
            (written.checks, written.transitions, written.failed),
            (25, 1, 0)
        );
        assert_eq!(written.batches, 3, "10 + 10 + the last 6 at disconnect");
        assert_eq!(stats.unwritten(), 0);
        let conn = Connection::open(dir.path().join("h.db")).unwrap();
        assert_eq!(count(&conn, "SELECT count(*) FROM checks"), 25);
        assert_eq!(
            count(&conn, "SELECT count(*) FROM checks WHERE reason = 'status'"),
            1
        );
        assert_eq!(count(&conn, "SELECT sum(checks) FROM rollups"), 25);
        assert_eq!(count(&conn, "SELECT sum(up) FROM rollups"), 24);
        assert_eq!(
            count(
                &conn,
                "SELECT count(*) FROM transitions WHERE to_state = 'unknown' AND monitor = 2"
            ),
            1,
            "the down monitor is marked as no longer watched"
        );
        // The rollups written batch by batch equal a rebuild from the raw rows.
        let before: Vec<(i64, i64, i64, f64)> = rows(&conn);
        super::super::rollup::rebuild(&conn).unwrap();
        assert_eq!(rows(&conn), before);
    }

    fn rows(conn: &Connection) -> Vec<(i64, i64, i64, f64)> {
        let mut s = conn
            .prepare("SELECT monitor, checks, up, ms_max FROM rollups ORDER BY monitor, hour")
            .unwrap();
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn commits_by_time_while_the_channel_stays_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let stats = Arc::new(Stats::new(1, 1));
        let settings = Settings {
            batch_rows: 1000,
            batch_time: Duration::from_millis(100),
            retain: None,
        };
        let writer = Writer::new(
            History {
                store: store(&dir),
                settings,
            },
            monitors(1),
            stats,
        );
        let (tx, rx) = bounded(10);
        let thread = std::thread::spawn(move || writer.run(rx));
        tx.send(check(0, 1_767_225_600_000, true, 5)).unwrap();
        let reader = Connection::open(&path).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while count(&reader, "SELECT count(*) FROM checks") == 0 {
            assert!(Instant::now() < deadline, "not committed by time");
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(tx);
        assert_eq!(thread.join().unwrap().checks, 1);
    }

    #[test]
    fn monitors_that_cannot_be_registered_leave_every_result_counted_as_unwritten() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store(&dir);
        // Full before the first monitor row: registration itself fails.
        let pages: i64 = count(store.connection(), "PRAGMA page_count");
        store
            .connection()
            .pragma_update(None, "max_page_count", pages)
            .unwrap();
        let stats = Arc::new(Stats::new(2000, 1));
        let settings = Settings {
            batch_rows: 10,
            ..Settings::default()
        };
        let writer = Writer::new(
            History { store, settings },
            monitors(2000),
            Arc::clone(&stats),
        );
        let (tx, rx) = bounded(100);
        for i in 0..50 {
            tx.send(check(i, 1_767_225_600_000 + i as i64, true, 5))
                .unwrap();
        }
        drop(tx);
        let written = writer.run(rx);
        assert_eq!((written.checks, written.failed), (0, 50), "{written:?}");
        assert_eq!(stats.unwritten(), 50);
        let reader = Connection::open(dir.path().join("h.db")).unwrap();
        assert_eq!(count(&reader, "SELECT count(*) FROM monitors"), 0);
    }

    #[test]
    fn a_full_disk_is_logged_and_counted_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store(&dir);
        let monitors = monitors(1);
        store.register(&monitors).unwrap();
        // Cap the file at its current size: the next page it needs is "disk full".
        let pages: i64 = count(store.connection(), "PRAGMA page_count");
        store
            .connection()
            .pragma_update(None, "max_page_count", pages)
            .unwrap();
        let stats = Arc::new(Stats::new(1, 1));
        let settings = Settings {
            batch_rows: 100,
            ..Settings::default()
        };
        let writer = Writer::new(History { store, settings }, monitors, Arc::clone(&stats));
        let (tx, rx) = bounded(1000);
        for i in 0..300 {
            tx.send(check(0, 1_767_225_600_000 + i, true, 5)).unwrap();
        }
        drop(tx);
        let written = writer.run(rx);
        assert!(written.failed >= 100, "{written:?}");
        assert_eq!(
            written.checks + written.failed,
            300,
            "every row written or counted"
        );
        assert_eq!(stats.unwritten(), written.failed);
    }

    #[test]
    fn retention_deletes_old_raw_checks_and_keeps_rollups() {
        let dir = tempfile::tempdir().unwrap();
        let stats = Arc::new(Stats::new(1, 1));
        let now = epoch_ms(SystemTime::now());
        let day = 86_400_000;
        let writer = Writer::new(
            History {
                store: store(&dir),
                settings: Settings::default(),
            },
            monitors(1),
            Arc::clone(&stats),
        );
        let (tx, rx) = bounded(100);
        for at in [now - 40 * day, now - 39 * day, now - day] {
            tx.send(check(0, at, true, 5)).unwrap();
        }
        drop(tx);
        writer.run(rx);
        let pruner = Writer::new(
            History {
                store: store(&dir),
                settings: Settings {
                    retain: Some(Duration::from_secs(30 * 86_400)),
                    ..Settings::default()
                },
            },
            monitors(1),
            stats,
        );
        let (tx, rx) = bounded::<Event>(1);
        drop(tx);
        // The first pass runs before the first wait, so even a run that ends at once prunes.
        let written = pruner.run(rx);
        assert_eq!(written.pruned, 2);
        let conn = Connection::open(dir.path().join("h.db")).unwrap();
        assert_eq!(count(&conn, "SELECT count(*) FROM checks"), 1);
        assert_eq!(count(&conn, "SELECT sum(checks) FROM rollups"), 3);
    }
}
