//! Live counters shared by the scheduler, the workers and the reporter.
//!
//! Plain counts are atomics, so the hot paths (a worker finishing a check, the scheduler
//! coalescing an occurrence) never wait for each other. The per-minute window (codes, slowest
//! check, lateness histogram) and the run's code totals sit behind one mutex that a worker holds
//! for a few hundred nanoseconds per check and the reporter swaps out once a minute.
//!
//! Each monitor has at most one check pending at a time (the scheduler's rule), so its own
//! tally is only ever written by one worker at once; relaxed atomics are enough.

use std::collections::BTreeMap;
use std::sync::atomic::{
    AtomicU16, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed,
};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::counters::{Buckets, MonitorCounters, MonitorSnapshot, Snapshot, LATENESS_BOUNDS_US};
use crate::counters::{PHASE_BOUNDS_US, PHASE_BUCKETS};

use crate::histogram::Histogram;
use crate::pool_load::{Slot, WAIT_HOT};
use crate::probe::{Nature, Observation, Reason};
use crate::state::State;
use crate::table::Table;

/// Counts of status codes and failure reasons.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// HTTP status code → checks that got it.
    pub codes: BTreeMap<u16, u64>,
    /// Failure reason → checks that failed with it.
    pub reasons: BTreeMap<Reason, u64>,
}

impl Tally {
    fn add(&mut self, observation: &Observation) {
        if let Some(code) = observation.status {
            *self.codes.entry(code).or_default() += 1;
        }
        if let Some(reason) = observation.outcome.reason() {
            *self.reasons.entry(reason).or_default() += 1;
        }
    }

    /// The `n` most frequent status codes, most frequent first (ties: lower code first).
    pub fn top_codes(&self, n: usize) -> Vec<(u16, u64)> {
        top(&self.codes, n)
    }

    /// The `n` most frequent failure reasons, most frequent first.
    pub fn top_reasons(&self, n: usize) -> Vec<(Reason, u64)> {
        top(&self.reasons, n)
    }
}

fn top<K: Copy + Ord>(map: &BTreeMap<K, u64>, n: usize) -> Vec<(K, u64)> {
    let mut all: Vec<(K, u64)> = map.iter().map(|(k, v)| (*k, *v)).collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    all.truncate(n);
    all
}

/// What happened since the reporter last looked.
#[derive(Debug, Clone)]
pub struct Window {
    /// When this window began.
    pub since: Instant,
    /// Checks finished in the window.
    pub checked: u64,
    /// Of those, how many were down.
    pub down: u64,
    /// Of those, how many were local failures of sitewatch (not verdicts).
    pub local: u64,
    /// Of those, how many were inconclusive (not verdicts).
    pub inconclusive: u64,
    /// Codes and reasons seen in the window.
    pub tally: Tally,
    /// The slowest check in the window: monitor index and its total time.
    pub slowest: Option<(usize, Duration)>,
    /// Lateness (start − due) of the window's checks.
    pub lateness: Histogram,
    /// Time the workers spent checking in the window, summed over workers (set when the
    /// window is taken).
    pub busy: Duration,
    /// Checks of the window that waited [`WAIT_HOT`] or more for a free worker (set when the
    /// window is taken).
    pub waited: u64,
    /// Occurrences of suspect monitors held back in the window because their share of the
    /// workers was full (set when the window is taken).
    pub held: u64,
}

impl Window {
    fn new(since: Instant) -> Window {
        Window {
            since,
            checked: 0,
            down: 0,
            local: 0,
            inconclusive: 0,
            tally: Tally::default(),
            slowest: None,
            lateness: Histogram::default(),
            busy: Duration::ZERO,
            waited: 0,
            held: 0,
        }
    }
}

struct Guarded {
    window: Window,
    totals: Tally,
    /// The pool's busy time and waits since start when the window began.
    busy_base: Duration,
    waited_base: u64,
    held_base: u64,
}

// A monitor's state: 0 = unknown.
const UP: u8 = 1;
const DOWN: u8 = 2;
const DEGRADED: u8 = 3;

#[derive(Default)]
struct MonitorTally {
    checks: AtomicU64,
    up: AtomicU64,
    state: AtomicU8,
    // Sits in the padding after `state`: costs no memory.
    state_changes: AtomicU32,
    max_us: AtomicU64,
    /// The last check, published for the live surface (see [`LastCheck`]): Unix ms when it
    /// ended (0: none yet), status code (0: none), total time in µs, and the outcome packed
    /// as nature × 16 + reason index + 1 (0: up).
    last_ms: AtomicU64,
    last_status: AtomicU16,
    last_us: AtomicU64,
    last_outcome: AtomicU8,
    /// Unix ms when the current state began (0: the start of the run).
    since_ms: AtomicU64,
    /// Unix seconds of the earliest certificate expiry last seen (0: none seen yet).
    cert_expiry_s: AtomicU64,
}

/// A monitor's last check, as published by the worker that made it: plain atomics, so the
/// live surface reads it without a lock and the worker never waits for a reader. The fields
/// are stored one by one: a reader racing a worker may see two consecutive checks mixed,
/// never a torn value. The failure detail is not published here (the history has it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LastCheck {
    /// When it ended.
    pub at: std::time::SystemTime,
    /// The final status code, if a response arrived.
    pub status: Option<u16>,
    /// Total time.
    pub elapsed: Duration,
    /// Verdict, local failure of sitewatch, or inconclusive.
    pub nature: Nature,
    /// Why it failed; `None` when up.
    pub reason: Option<Reason>,
    /// The earliest certificate expiry last seen (by this check or an earlier one, as a
    /// check that made no handshake leaves it as it was); `None` before any.
    pub cert_expiry: Option<std::time::SystemTime>,
}

/// Buckets of the run's lateness histogram, +Inf included.
pub const LATENESS_BUCKETS: usize = LATENESS_BOUNDS_US.len() + 1;

/// One monitor's totals, as read for the summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonitorTotals {
    /// Index of the monitor in the config.
    pub monitor: usize,
    /// Checks finished.
    pub checks: u64,
    /// Checks that were up.
    pub up: u64,
    /// Whether the monitor is in the `down` state.
    pub failing: bool,
    /// The slowest check's total time.
    pub max: Duration,
}

impl MonitorTotals {
    /// Percentage of checks that were up (100 when there were none).
    pub fn up_pct(&self) -> f64 {
        if self.checks == 0 {
            100.0
        } else {
            self.up as f64 * 100.0 / self.checks as f64
        }
    }
}

/// All live counters of one run.
pub struct Stats {
    started: Instant,
    checked: AtomicU64,
    down: AtomicU64,
    local: AtomicU64,
    inconclusive: AtomicU64,
    stalls: AtomicU64,
    impairments: AtomicU64,
    coalesced: AtomicU64,
    overflowed: AtomicU64,
    missed: AtomicU64,
    overflow_depth: AtomicUsize,
    down_monitors: AtomicUsize,
    /// Monitors in the `degraded` state (kept by [`Stats::set_state`]).
    degraded_monitors: AtomicUsize,
    backed_off: AtomicUsize,
    held_back: AtomicU64,
    held_depth: AtomicUsize,
    suspect_busy: AtomicUsize,
    first_busy: AtomicUsize,
    suspects: AtomicUsize,
    skipped: AtomicU64,
    dropped_lines: AtomicU64,
    lost_notifications: AtomicU64,
    unwritten: AtomicU64,
    /// When the scheduler will next have woken at the latest, ms since `started` (0: not yet
    /// running; `u64::MAX`: ended). Read by `/healthz`.
    scheduler_wake: AtomicU64,
    /// How many times the scheduler has gone to sleep (each loop ends in one wait).
    scheduler_sleeps: AtomicU64,
    /// Grown (never shrunk) by a reload that adds monitors; indexed without a lock.
    monitors: Table<MonitorTally>,
    // Per-monitor counters for `/metrics`; empty unless asked for (`with_monitor_counters`).
    counters: Table<MonitorCounters>,
    lateness: Buckets<LATENESS_BUCKETS>,
    /// Phase timings of verdicts over every monitor, one histogram per `Phases::NAMES` entry.
    phases: [Buckets<PHASE_BUCKETS>; 5],
    busy: Box<[Mutex<Slot>]>,
    /// Checks since start that waited [`WAIT_HOT`] or more for a free worker.
    waited: AtomicU64,
    guarded: Mutex<Guarded>,
}

/// What the scheduler last said about its next wake-up (read by `/healthz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedulerWake {
    /// It has not run yet.
    NotStarted,
    /// It will have woken by then at the latest.
    By(Instant),
    /// It has returned: no more checks will be scheduled.
    Ended,
}

/// Counters owned by the scheduler, published for the reporter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScheduleCounters {
    /// Occurrences skipped because the previous check of the monitor was still pending.
    pub coalesced: u64,
    /// Jobs that waited in the overflow FIFO because the queue was full.
    pub overflowed: u64,
    /// Occurrences skipped because the scheduler itself was stalled for more than a period.
    pub missed: u64,
    /// Jobs waiting in the overflow FIFO right now.
    pub overflow_depth: usize,
    /// Monitors in the `down` state.
    pub down: usize,
    /// Of those, how many are checked less often than their interval (backed off).
    pub backed_off: usize,
    /// Suspect occurrences held back because suspect checks filled their share of the workers.
    pub held_back: u64,
    /// Suspect checks held back right now.
    pub held_depth: usize,
    /// Suspect checks queued, overflowed or running right now (first checks included).
    pub suspect_busy: usize,
    /// Of those, first checks of monitors with no verdict yet, which may borrow the idle
    /// healthy part of the pool beyond the suspect share.
    pub first_busy: usize,
    /// Monitors whose checks are suspect (never up yet, failing, retrying, down or slow).
    pub suspects: usize,
}

impl Stats {
    /// Counters for `monitors` monitors and `workers` workers, starting now.
    pub fn new(monitors: usize, workers: usize) -> Stats {
        let now = Instant::now();
        Stats {
            started: now,
            checked: AtomicU64::new(0),
            down: AtomicU64::new(0),
            local: AtomicU64::new(0),
            inconclusive: AtomicU64::new(0),
            stalls: AtomicU64::new(0),
            impairments: AtomicU64::new(0),
            coalesced: AtomicU64::new(0),
            overflowed: AtomicU64::new(0),
            missed: AtomicU64::new(0),
            overflow_depth: AtomicUsize::new(0),
            down_monitors: AtomicUsize::new(0),
            degraded_monitors: AtomicUsize::new(0),
            backed_off: AtomicUsize::new(0),
            held_back: AtomicU64::new(0),
            held_depth: AtomicUsize::new(0),
            suspect_busy: AtomicUsize::new(0),
            first_busy: AtomicUsize::new(0),
            suspects: AtomicUsize::new(0),
            skipped: AtomicU64::new(0),
            dropped_lines: AtomicU64::new(0),
            lost_notifications: AtomicU64::new(0),
            unwritten: AtomicU64::new(0),
            scheduler_wake: AtomicU64::new(0),
            scheduler_sleeps: AtomicU64::new(0),
            monitors: Table::new(monitors),
            counters: Table::default(),
            lateness: Buckets::new(&LATENESS_BOUNDS_US),
            phases: std::array::from_fn(|_| Buckets::new(&PHASE_BOUNDS_US)),
            busy: (0..workers).map(|_| Mutex::new(Slot::default())).collect(),
            waited: AtomicU64::new(0),
            guarded: Mutex::new(Guarded {
                window: Window::new(now),
                totals: Tally::default(),
                busy_base: Duration::ZERO,
                waited_base: 0,
                held_base: 0,
            }),
        }
    }

    /// Also keeps per-monitor counters (check durations, failures per reason) for `/metrics`:
    /// 88 more bytes per monitor.
    pub fn with_monitor_counters(mut self) -> Stats {
        self.counters = Table::new(self.monitors.len());
        self
    }

    /// Makes room for `monitors` monitors (a reload appended some); never shrinks.
    pub fn grow(&self, monitors: usize) {
        self.monitors.grow(monitors);
        if !self.counters.is_empty() {
            self.counters.grow(monitors);
        }
    }

    fn guarded(&self) -> MutexGuard<'_, Guarded> {
        // A panic while holding this lock leaves only counters behind; keep reporting them.
        self.guarded.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When the run started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Records a finished check of `monitor`. Only verdicts count in the monitor's uptime;
    /// local failures and inconclusive checks are counted apart.
    pub fn record(&self, monitor: usize, observation: &Observation, lateness: Duration) {
        let outcome = &observation.outcome;
        let (up, down) = (outcome.is_up(), outcome.is_down());
        let nature = outcome.nature();
        self.checked.fetch_add(1, Relaxed);
        match nature {
            Nature::Verdict if down => {
                self.down.fetch_add(1, Relaxed);
            }
            Nature::Verdict => {}
            Nature::Local => {
                self.local.fetch_add(1, Relaxed);
            }
            Nature::Inconclusive => {
                self.inconclusive.fetch_add(1, Relaxed);
            }
        }
        if nature == Nature::Verdict {
            let tally = &self.monitors[monitor];
            tally.checks.fetch_add(1, Relaxed);
            if up {
                tally.up.fetch_add(1, Relaxed);
            }
            let us = u64::try_from(observation.elapsed.as_micros()).unwrap_or(u64::MAX);
            tally.max_us.fetch_max(us, Relaxed);
            if let Some(counters) = self.counters.get(monitor) {
                counters.record(observation.elapsed, outcome.reason());
            }
            for (buckets, (_, d)) in self.phases.iter().zip(observation.phases.named()) {
                if let Some(d) = d {
                    buckets.record(d);
                }
            }
        }
        self.lateness.record(lateness);
        self.publish_last(monitor, observation);

        let mut g = self.guarded();
        let w = &mut g.window;
        w.checked += 1;
        w.down += u64::from(down);
        w.local += u64::from(nature == Nature::Local);
        w.inconclusive += u64::from(nature == Nature::Inconclusive);
        w.tally.add(observation);
        if w.slowest.is_none_or(|(_, d)| observation.elapsed > d) {
            w.slowest = Some((monitor, observation.elapsed));
        }
        w.lateness.record(lateness);
        g.totals.add(observation);
    }

    /// Marks worker `worker` as checking `monitor` since `since`, or idle with `None`.
    /// Ending a check adds its time to the worker's busy total.
    pub fn set_busy(&self, worker: usize, job: Option<(usize, Instant)>) {
        let now = job.map_or_else(Instant::now, |(_, since)| since);
        self.busy[worker]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .set(job, now);
    }

    /// Counts a check that waited `queued` for a free worker, if that is [`WAIT_HOT`] or more.
    pub fn note_queued(&self, queued: Duration) {
        if queued >= WAIT_HOT {
            self.waited.fetch_add(1, Relaxed);
        }
    }

    /// Time the workers have spent checking since start, summed over workers, at `now`.
    pub fn busy_time(&self, now: Instant) -> Duration {
        self.busy
            .iter()
            .map(|slot| slot.lock().unwrap_or_else(|e| e.into_inner()).busy_at(now))
            .sum()
    }

    /// The checks running right now: (monitor, started), longest-running first.
    pub fn in_flight(&self) -> Vec<(usize, Instant)> {
        let mut all: Vec<(usize, Instant)> = self
            .busy
            .iter()
            .filter_map(|slot| slot.lock().unwrap_or_else(|e| e.into_inner()).running)
            .collect();
        all.sort_by_key(|&(_, since)| since);
        all
    }

    /// Returns the window since the last call and starts a new one at `now`.
    /// The window's pool load (busy time, waits) is the difference of the totals at its ends.
    pub fn take_window(&self, now: Instant) -> Window {
        // Read before taking the window's lock: workers take a slot's lock, then this one.
        let busy = self.busy_time(now);
        let waited = self.waited.load(Relaxed);
        let held = self.held_back.load(Relaxed);
        let mut g = self.guarded();
        let mut window = std::mem::replace(&mut g.window, Window::new(now));
        window.busy = busy.saturating_sub(g.busy_base);
        window.waited = waited.saturating_sub(g.waited_base);
        window.held = held.saturating_sub(g.held_base);
        g.busy_base = busy;
        g.waited_base = waited;
        g.held_base = held;
        window
    }

    /// Lateness of the checks since the reporter last took the window (a copy: the window
    /// stays where it is).
    pub fn lateness_now(&self) -> Histogram {
        self.guarded().window.lateness.clone()
    }

    /// Codes and reasons over the whole run.
    pub fn totals(&self) -> Tally {
        self.guarded().totals.clone()
    }

    /// Checks finished over the whole run.
    pub fn checked(&self) -> u64 {
        self.checked.load(Relaxed)
    }

    /// Down checks over the whole run.
    pub fn down(&self) -> u64 {
        self.down.load(Relaxed)
    }

    /// Checks over the whole run that failed because of sitewatch itself (not verdicts).
    pub fn local_errors(&self) -> u64 {
        self.local.load(Relaxed)
    }

    /// Inconclusive checks over the whole run (not verdicts).
    pub fn inconclusive(&self) -> u64 {
        self.inconclusive.load(Relaxed)
    }

    /// Counts a detected stall of the process (paused, suspended).
    pub fn add_stall(&self) {
        self.stalls.fetch_add(1, Relaxed);
    }

    /// Stalls of the process detected over the whole run.
    pub fn stalls(&self) -> u64 {
        self.stalls.load(Relaxed)
    }

    /// Counts a period of network impairment (every connectivity canary failing).
    pub fn add_impairment(&self) {
        self.impairments.fetch_add(1, Relaxed);
    }

    /// Periods of network impairment begun over the whole run.
    pub fn impairments(&self) -> u64 {
        self.impairments.load(Relaxed)
    }

    /// Monitors in the `degraded` state.
    pub fn degraded(&self) -> usize {
        self.degraded_monitors.load(Relaxed)
    }

    /// Monitors in the `down` state.
    pub fn failing(&self) -> usize {
        self.down_monitors.load(Relaxed)
    }

    /// Records a monitor's new state (the scheduler decides it), beginning now.
    pub fn set_state(&self, monitor: usize, state: State) {
        let code = match state {
            State::Unknown => 0,
            State::Up => UP,
            State::Down => DOWN,
            State::Degraded => DEGRADED,
        };
        self.monitors[monitor]
            .since_ms
            .store(unix_ms(std::time::SystemTime::now()), Relaxed);
        let tally = &self.monitors[monitor];
        let before = tally.state.swap(code, Relaxed);
        if before != code {
            tally.state_changes.fetch_add(1, Relaxed);
            if code == DEGRADED {
                self.degraded_monitors.fetch_add(1, Relaxed);
            } else if before == DEGRADED {
                self.degraded_monitors.fetch_sub(1, Relaxed);
            }
        }
    }

    fn publish_last(&self, monitor: usize, observation: &Observation) {
        let outcome = &observation.outcome;
        let nature = match outcome.nature() {
            Nature::Verdict => 0,
            Nature::Local => 1,
            Nature::Inconclusive => 2,
        };
        let reason = outcome
            .reason()
            .and_then(|r| Reason::ALL.iter().position(|&x| x == r))
            .map_or(0, |i| i as u8 + 1);
        let t = &self.monitors[monitor];
        t.last_status
            .store(observation.status.unwrap_or(0), Relaxed);
        t.last_us.store(
            u64::try_from(observation.elapsed.as_micros()).unwrap_or(u64::MAX),
            Relaxed,
        );
        t.last_outcome.store(nature * 16 + reason, Relaxed);
        if let Some(expiry) = observation.cert_expiry {
            let secs = expiry
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            t.cert_expiry_s.store(secs.max(1), Relaxed);
        }
        t.last_ms
            .store(unix_ms(std::time::SystemTime::now()).max(1), Relaxed);
    }

    /// A monitor's last check, if it has had one.
    pub fn last_check(&self, monitor: usize) -> Option<LastCheck> {
        let t = &self.monitors[monitor];
        let ms = t.last_ms.load(Relaxed);
        if ms == 0 {
            return None;
        }
        let packed = t.last_outcome.load(Relaxed);
        let status = t.last_status.load(Relaxed);
        Some(LastCheck {
            at: std::time::UNIX_EPOCH + Duration::from_millis(ms),
            status: (status != 0).then_some(status),
            elapsed: Duration::from_micros(t.last_us.load(Relaxed)),
            nature: match packed / 16 {
                0 => Nature::Verdict,
                1 => Nature::Local,
                _ => Nature::Inconclusive,
            },
            reason: (packed % 16)
                .checked_sub(1)
                .and_then(|i| Reason::ALL.get(usize::from(i)).copied()),
            cert_expiry: match t.cert_expiry_s.load(Relaxed) {
                0 => None,
                secs => Some(std::time::UNIX_EPOCH + Duration::from_secs(secs)),
            },
        })
    }

    /// When a monitor's current state began; `None`: at the start of the run.
    pub fn state_since(&self, monitor: usize) -> Option<std::time::SystemTime> {
        match self.monitors[monitor].since_ms.load(Relaxed) {
            0 => None,
            ms => Some(std::time::UNIX_EPOCH + Duration::from_millis(ms)),
        }
    }

    /// The scheduler says it will have woken by `by` at the latest (it publishes this before
    /// each sleep: one relaxed store).
    pub fn set_scheduler_wake(&self, by: Instant) {
        let ms = u64::try_from(by.saturating_duration_since(self.started).as_millis())
            .unwrap_or(u64::MAX - 1);
        self.scheduler_wake.store(ms.max(1), Relaxed);
        self.scheduler_sleeps.fetch_add(1, Relaxed);
    }

    /// How many times the scheduler has gone to sleep so far: about 100 a second at most while
    /// checks run, none while nothing is due.
    pub fn scheduler_sleeps(&self) -> u64 {
        self.scheduler_sleeps.load(Relaxed)
    }

    /// The scheduler has returned: no more checks will be scheduled.
    pub fn set_scheduler_ended(&self) {
        self.scheduler_wake.store(u64::MAX, Relaxed);
    }

    /// The scheduler's promise: when it will have woken at the latest.
    pub fn scheduler_wake(&self) -> SchedulerWake {
        match self.scheduler_wake.load(Relaxed) {
            0 => SchedulerWake::NotStarted,
            u64::MAX => SchedulerWake::Ended,
            ms => SchedulerWake::By(self.started + Duration::from_millis(ms)),
        }
    }

    /// Publishes the scheduler's counters.
    pub fn set_schedule(&self, c: ScheduleCounters) {
        self.coalesced.store(c.coalesced, Relaxed);
        self.overflowed.store(c.overflowed, Relaxed);
        self.missed.store(c.missed, Relaxed);
        self.overflow_depth.store(c.overflow_depth, Relaxed);
        self.down_monitors.store(c.down, Relaxed);
        self.backed_off.store(c.backed_off, Relaxed);
        self.held_back.store(c.held_back, Relaxed);
        self.held_depth.store(c.held_depth, Relaxed);
        self.suspect_busy.store(c.suspect_busy, Relaxed);
        self.first_busy.store(c.first_busy, Relaxed);
        self.suspects.store(c.suspects, Relaxed);
    }

    /// The scheduler's counters as last published.
    pub fn schedule(&self) -> ScheduleCounters {
        ScheduleCounters {
            coalesced: self.coalesced.load(Relaxed),
            overflowed: self.overflowed.load(Relaxed),
            missed: self.missed.load(Relaxed),
            overflow_depth: self.overflow_depth.load(Relaxed),
            down: self.down_monitors.load(Relaxed),
            backed_off: self.backed_off.load(Relaxed),
            held_back: self.held_back.load(Relaxed),
            held_depth: self.held_depth.load(Relaxed),
            suspect_busy: self.suspect_busy.load(Relaxed),
            first_busy: self.first_busy.load(Relaxed),
            suspects: self.suspects.load(Relaxed),
        }
    }

    /// Counts a queued job dropped unstarted because of shutdown.
    pub fn add_skipped(&self) {
        self.skipped.fetch_add(1, Relaxed);
    }

    /// Queued jobs dropped unstarted because of shutdown.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Relaxed)
    }

    /// Counts a line lost: the printer fell behind (output stalled), or stdout or the log file
    /// failed to take it.
    pub fn add_dropped_line(&self) {
        self.dropped_lines.fetch_add(1, Relaxed);
    }

    /// Lines lost (output stalled, or a write to stdout or the log file failed).
    pub fn dropped_lines(&self) -> u64 {
        self.dropped_lines.load(Relaxed)
    }

    /// Counts `n` notifications that were not delivered: the notifier's or a channel's queue
    /// was full, or every delivery attempt failed.
    pub fn add_lost_notifications(&self, n: u64) {
        self.lost_notifications.fetch_add(n, Relaxed);
    }

    /// Notifications not delivered.
    pub fn lost_notifications(&self) -> u64 {
        self.lost_notifications.load(Relaxed)
    }

    /// Counts `n` results (checks or state changes) that did not reach the history database:
    /// its channel was full or its transaction failed.
    pub fn add_unwritten(&self, n: u64) {
        self.unwritten.fetch_add(n, Relaxed);
    }

    /// Results that did not reach the history database.
    pub fn unwritten(&self) -> u64 {
        self.unwritten.load(Relaxed)
    }

    /// Per-monitor totals, in config order (read as they are iterated: with a million monitors a
    /// list of them would be 48 MB).
    pub fn monitor_totals(&self) -> impl Iterator<Item = MonitorTotals> + '_ {
        self.monitors
            .iter()
            .enumerate()
            .map(|(monitor, t)| MonitorTotals {
                monitor,
                checks: t.checks.load(Relaxed),
                up: t.up.load(Relaxed),
                failing: t.state.load(Relaxed) == DOWN,
                max: Duration::from_micros(t.max_us.load(Relaxed)),
            })
    }

    /// One monitor's totals.
    pub fn monitor_total(&self, monitor: usize) -> MonitorTotals {
        let t = &self.monitors[monitor];
        MonitorTotals {
            monitor,
            checks: t.checks.load(Relaxed),
            up: t.up.load(Relaxed),
            failing: t.state.load(Relaxed) == DOWN,
            max: Duration::from_micros(t.max_us.load(Relaxed)),
        }
    }

    /// A monitor's state, as the scheduler last published it.
    pub fn state(&self, monitor: usize) -> State {
        match self.monitors[monitor].state.load(Relaxed) {
            UP => State::Up,
            DOWN => State::Down,
            DEGRADED => State::Degraded,
            _ => State::Unknown,
        }
    }

    /// Transitions of a monitor's state so far (unknown → up counts).
    pub fn state_changes(&self, monitor: usize) -> u64 {
        u64::from(self.monitors[monitor].state_changes.load(Relaxed))
    }

    /// Verdicts of a monitor so far.
    pub fn verdicts(&self, monitor: usize) -> u64 {
        self.monitors[monitor].checks.load(Relaxed)
    }

    /// A monitor's `/metrics` counters, when they are kept ([`Stats::with_monitor_counters`]).
    pub fn monitor_counters(&self, monitor: usize) -> Option<MonitorSnapshot> {
        self.counters.get(monitor).map(MonitorCounters::snapshot)
    }

    /// Whether per-monitor counters are kept.
    pub fn has_monitor_counters(&self) -> bool {
        !self.counters.is_empty()
    }

    /// Lateness (start − due) of every check of the run.
    pub fn lateness(&self) -> Snapshot<LATENESS_BUCKETS> {
        self.lateness.snapshot()
    }

    /// Phase timings of the run's verdicts, in the order of `Phases::NAMES`; a check counts
    /// in a phase's histogram only when it measured that phase.
    pub fn phases(&self) -> [Snapshot<PHASE_BUCKETS>; 5] {
        std::array::from_fn(|i| self.phases[i].snapshot())
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.busy.len()
    }

    /// Number of monitors.
    pub fn monitor_count(&self) -> usize {
        self.monitors.len()
    }
}

/// Milliseconds since the Unix epoch (0 before it).
fn unix_ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Outcome;

    #[test]
    fn last_check_and_since_are_published() {
        let stats = Stats::new(2, 1);
        assert_eq!(stats.last_check(0), None);
        assert_eq!(stats.state_since(0), None);
        stats.record(0, &obs(Some(503), down(Reason::Status), 30), Duration::ZERO);
        let last = stats.last_check(0).unwrap();
        assert_eq!(last.status, Some(503));
        assert_eq!(last.reason, Some(Reason::Status));
        assert_eq!(last.nature, Nature::Verdict);
        assert_eq!(last.elapsed, Duration::from_millis(30));
        stats.record(1, &obs(Some(200), Outcome::Up, 5), Duration::ZERO);
        assert_eq!(stats.last_check(1).unwrap().reason, None);
        stats.set_state(0, State::Down);
        assert!(stats.state_since(0).is_some());
        assert_eq!(stats.scheduler_wake(), SchedulerWake::NotStarted);
        stats.set_scheduler_ended();
        assert_eq!(stats.scheduler_wake(), SchedulerWake::Ended);
    }

    fn obs(status: Option<u16>, outcome: Outcome, ms: u64) -> Observation {
        Observation {
            status,
            bytes: Some(1),
            ..Observation::without_response(Duration::from_millis(ms), outcome)
        }
    }

    fn down(reason: Reason) -> Outcome {
        Outcome::Down {
            reason,
            detail: String::new(),
        }
    }

    #[test]
    fn records_window_totals_and_failing() {
        let stats = Stats::new(3, 2);
        assert_eq!(stats.monitors[2].state.load(Relaxed), 0);
        stats.record(0, &obs(Some(200), Outcome::Up, 10), Duration::ZERO);
        stats.record(
            1,
            &obs(Some(503), down(Reason::Status), 30),
            Duration::from_millis(5),
        );
        stats.record(2, &obs(None, down(Reason::Timeout), 20), Duration::ZERO);
        stats.record(1, &obs(Some(200), Outcome::Up, 5), Duration::ZERO);
        stats.set_state(2, State::Down);
        assert_eq!((stats.checked(), stats.down()), (4, 2));
        assert_eq!((stats.local_errors(), stats.inconclusive()), (0, 0));

        let w = stats.take_window(Instant::now());
        assert_eq!((w.checked, w.down), (4, 2));
        assert_eq!(w.tally.top_codes(5), vec![(200, 2), (503, 1)]);
        assert_eq!(
            w.tally.top_reasons(5),
            vec![(Reason::Timeout, 1), (Reason::Status, 1)]
        );
        assert_eq!(w.slowest, Some((1, Duration::from_millis(30))));
        assert_eq!(w.lateness.count(), 4);
        assert_eq!(stats.take_window(Instant::now()).checked, 0);
        assert_eq!(stats.totals().top_codes(1), vec![(200, 2)]);

        let m: Vec<MonitorTotals> = stats.monitor_totals().collect();
        assert_eq!((m[1].checks, m[1].up, m[1].failing), (2, 1, false));
        assert!(
            m[2].failing,
            "state, not the last check, makes a monitor failing"
        );
        assert_eq!(m[1].up_pct(), 50.0);
        assert!(m[2].failing);
    }

    #[test]
    fn non_verdicts_are_counted_apart_and_not_in_uptime() {
        let stats = Stats::new(1, 1);
        stats.record(0, &obs(Some(200), Outcome::Up, 10), Duration::ZERO);
        let local = Outcome::Local {
            kind: crate::probe::LocalKind::FileDescriptors,
            detail: String::new(),
        };
        stats.record(0, &obs(None, local, 1), Duration::ZERO);
        let paused = down(Reason::Timeout).inconclusive(crate::probe::Cause::Paused, "paused");
        stats.record(0, &obs(None, paused, 9000), Duration::ZERO);
        assert_eq!(stats.checked(), 3);
        assert_eq!(
            (stats.down(), stats.local_errors(), stats.inconclusive()),
            (0, 1, 1)
        );
        let w = stats.take_window(Instant::now());
        assert_eq!((w.checked, w.down, w.local, w.inconclusive), (3, 0, 1, 1));
        assert!(w.tally.top_reasons(5).is_empty());
        let m: Vec<MonitorTotals> = stats.monitor_totals().collect();
        assert_eq!((m[0].checks, m[0].up), (1, 1));
        assert_eq!(m[0].max, Duration::from_millis(10));
    }

    #[test]
    fn monitor_counters_only_when_asked_and_only_verdicts() {
        let plain = Stats::new(1, 1);
        plain.record(0, &obs(Some(200), Outcome::Up, 10), Duration::ZERO);
        assert_eq!(plain.monitor_counters(0), None);
        assert_eq!(plain.lateness().count(), 1);

        let stats = Stats::new(2, 1).with_monitor_counters();
        stats.record(1, &obs(Some(503), down(Reason::Status), 30), Duration::ZERO);
        let paused = down(Reason::Timeout).inconclusive(crate::probe::Cause::Paused, "paused");
        stats.record(1, &obs(None, paused, 9000), Duration::from_millis(2));
        let c = stats.monitor_counters(1).unwrap();
        assert_eq!(
            c.duration.count(),
            1,
            "the inconclusive check is no verdict"
        );
        assert_eq!(c.failures[Reason::Status as usize], 1);
        assert_eq!(stats.monitor_counters(0).unwrap().duration.count(), 0);
        assert_eq!(stats.lateness().count(), 2);
        assert_eq!(stats.verdicts(1), 1);
    }

    #[test]
    fn state_changes_count_transitions_only() {
        let stats = Stats::new(1, 1);
        stats.set_state(0, State::Up);
        stats.set_state(0, State::Up);
        stats.set_state(0, State::Down);
        assert_eq!(stats.state_changes(0), 2);
    }

    #[test]
    fn top_breaks_ties_by_key_and_truncates() {
        let mut t = Tally::default();
        for code in [500, 200, 404, 301, 302, 201, 200] {
            *t.codes.entry(code).or_default() += 1;
        }
        assert_eq!(t.top_codes(3), vec![(200, 2), (201, 1), (301, 1)]);
    }

    #[test]
    fn in_flight_lists_busy_workers_oldest_first() {
        let stats = Stats::new(2, 3);
        let t0 = Instant::now();
        stats.set_busy(2, Some((1, t0)));
        stats.set_busy(0, Some((0, t0 + Duration::from_millis(1))));
        assert_eq!(
            stats.in_flight(),
            vec![(1, t0), (0, t0 + Duration::from_millis(1))]
        );
        stats.set_busy(2, None);
        assert_eq!(stats.in_flight().len(), 1);
    }

    #[test]
    fn a_window_carries_the_pools_busy_time_and_waits() {
        let stats = Stats::new(2, 2);
        let t0 = Instant::now();
        stats.set_busy(0, Some((0, t0)));
        stats.note_queued(Duration::from_millis(999));
        stats.note_queued(WAIT_HOT);
        let w = stats.take_window(t0 + Duration::from_secs(3));
        assert_eq!(w.busy, Duration::from_secs(3), "the running check so far");
        assert_eq!(w.waited, 1);
        assert_eq!(w.held, 0);
        stats.set_schedule(ScheduleCounters {
            held_back: 40,
            ..ScheduleCounters::default()
        });
        // The rest of that check falls in the next window, and only once.
        let w = stats.take_window(t0 + Duration::from_secs(5));
        assert_eq!(w.busy, Duration::from_secs(2));
        assert_eq!(w.waited, 0);
        assert_eq!(w.held, 40, "held back since the last window");
        stats.set_schedule(ScheduleCounters {
            held_back: 45,
            ..ScheduleCounters::default()
        });
        assert_eq!(stats.take_window(t0 + Duration::from_secs(6)).held, 5);
        assert_eq!(
            stats.busy_time(t0 + Duration::from_secs(5)),
            Duration::from_secs(5)
        );
    }
}
