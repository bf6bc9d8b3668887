//! The scheduling policy and the thread that runs it.
//!
//! [`Schedule`] is pure policy over synthetic time (ticks of 1 ms since start): it owns the
//! timing wheel, one slot per monitor and the overflow FIFO, and decides what to hand to the
//! workers. [`run`] is the scheduler thread: it reads the clock, feeds completions back in and
//! sleeps until the wheel's next deadline.
//!
//! Guarantees:
//! - **Fixed rate.** A monitor's occurrences are `phase + k × interval`; the next one is derived
//!   from the previous *due* time, never from when a check finished, so slow checks cause no drift.
//!   After a stall longer than a period, whole periods are skipped and counted as `missed`.
//! - **At most one pending check per monitor.** An occurrence that falls due while the previous
//!   check is queued, overflowed or running is *coalesced* and counted, never queued twice.
//!   Memory is bounded by the number of monitors, whatever the overload.
//! - **Never blocks.** Jobs go out with `try_send`; when the queue is full they wait in the
//!   overflow FIFO (at most one entry per monitor), which is drained first as room appears, so
//!   monitors are served in due order under overload.
//! - **Smooth load.** Monitors sharing an interval get phases spread evenly across it (on a
//!   [`GRAIN_MS`] grid, which bounds the scheduler's wake-ups), so N monitors at interval T
//!   cost about N/T checks per second rather than a herd every T. The
//!   first round starts at once, at up to [`WARMUP_PER_SECOND`] checks per second, so a short
//!   list shows every result within a second; each monitor then joins its phase no less than
//!   half an interval after its first check.
//! - **Glitch or outage.** Each monitor's [`Health`] turns verdicts into retries (soon, on the pool
//!   like any check, still one pending check at most), a `down` state with backoff, or recovery.
//!   A retry or backoff replaces the monitor's next occurrence; the wheel entry it replaces is
//!   recognised as stale by its due time and dropped when it fires.
//! - **Dead sites do not starve healthy ones.** Checks of suspect monitors (failing, retrying,
//!   down or slow) hold at most their share of the workers, queued or running
//!   ([`Schedule::with_suspect_share`]); the excess is held back in due order, one entry per
//!   monitor, and counted. A monitor's first check may also use the part of the pool healthy
//!   checks leave idle, so a new list's first round is not held behind its dead sites' retries;
//!   healthy monitors always keep a reserve of at least twice the workers they recently used.
//! - **Once mode decides or says so.** A monitor is done at its verdict, which a `Retry-After`
//!   beyond its retry budget makes `down` at once. A run cut short takes the verdicts of the
//!   checks in flight before returning; what is still `unknown` then is undecided.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{never, select, Receiver, Sender, TryRecvError, TrySendError};

use crate::catalog::Catalog;
use crate::event::{Event, Fanout, StateChange};
use crate::probe::{Degraded, Observation, Reason};
use crate::reload::Plan;
use crate::state::{Health, Next, OverBudget, Policy, Seen, State};
use crate::stats::{ScheduleCounters, Stats};
use crate::wheel::Wheel;

/// How fast the first round of checks is released at start-up.
pub const WARMUP_PER_SECOND: u64 = 1000;

/// Phases and first-round dues are multiples of this many ms, so the scheduler wakes up at
/// most 1000 / `GRAIN_MS` times a second however long the list (each wake-up costs tens of
/// µs of CPU, far more than dispatching a check), while the load stays smooth at this scale
/// and each monitor's own schedule stays exact.
pub const GRAIN_MS: u64 = 10;

/// Whether monitors repeat on their interval or are each checked exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Check every monitor on its interval until stopped.
    Repeat,
    /// Check every monitor once, as fast as the pool allows, then finish.
    Once,
}

/// A monitor the schedule wants checked, with the tick it was due at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dispatch {
    /// Index of the monitor.
    pub monitor: usize,
    /// The occurrence's due tick (ms since start).
    pub due: u64,
}

/// A check handed to the worker pool.
#[derive(Debug, Clone, Copy)]
pub struct Job {
    /// Index of the monitor.
    pub monitor: usize,
    /// When the occurrence was due.
    pub due: Instant,
    /// When the scheduler put it on the queue.
    pub dispatched: Instant,
}

/// What the schedule needs to know of a monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    /// Time between checks.
    pub interval: Duration,
    /// How failures are retried and backed off.
    pub policy: Policy,
}

/// The part of a check's result the scheduler acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the check was up.
    pub up: bool,
    /// Why it was down.
    pub reason: Option<Reason>,
    /// Final status code, if a response arrived.
    pub status: Option<u16>,
    /// What went wrong, if down.
    pub detail: Option<String>,
    /// How long the server asked us to wait.
    pub retry_after: Option<Duration>,
    /// The check took more than half its timeout (set by the worker, which knows the timeout).
    pub slow: bool,
    /// Up, but needing attention: the monitor goes `degraded` rather than `up`.
    pub degraded: Option<Degraded>,
}

impl Verdict {
    /// The verdict of one observation; `None` when it is not a verdict (a local failure of
    /// sitewatch, or an inconclusive check), which must not move the monitor's health.
    pub fn of(o: &Observation) -> Option<Verdict> {
        let (reason, detail) = match &o.outcome {
            crate::probe::Outcome::Up => (None, None),
            crate::probe::Outcome::Down { reason, detail } => (Some(*reason), Some(detail.clone())),
            crate::probe::Outcome::Local { .. } | crate::probe::Outcome::Inconclusive { .. } => {
                return None
            }
        };
        Some(Verdict {
            up: o.outcome.is_up(),
            reason,
            status: o.status,
            detail,
            retry_after: o.retry_after,
            slow: false,
            degraded: o.degraded.clone(),
        })
    }

    /// What health makes of it: up, degraded or down.
    fn seen(&self) -> Seen {
        match (self.up, &self.degraded) {
            (false, _) => Seen::Down,
            (true, Some(_)) => Seen::Degraded,
            (true, None) => Seen::Up,
        }
    }
}

/// A worker's message back: the monitor is free again, with its verdict. `None` when the
/// check ended without one (a local failure or an inconclusive check; or the job was dropped
/// unstarted at shutdown, when nothing is scheduled any more): the monitor's health is left as
/// it was and it is checked again on its next occurrence.
#[derive(Debug, Clone)]
pub struct Completion {
    /// Index of the monitor.
    pub monitor: usize,
    /// What the check found.
    pub verdict: Option<Verdict>,
}

/// In once mode, how many checks without a verdict a monitor gets before it is left
/// undecided (there is no next occurrence to wait for, so each is retried after the
/// monitor's retry delay instead).
pub const ONCE_NO_VERDICT_TRIES: u8 = 3;

/// A state change decided by [`Schedule::complete`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// Index of the monitor.
    pub monitor: usize,
    /// The state before.
    pub from: State,
    /// The state now.
    pub to: State,
    /// Tick at which the previous state began.
    pub since: u64,
    /// Failed attempts behind a change to `down`.
    pub attempts: u32,
    /// In once mode, a `Retry-After` beyond the retry budget that ended the monitor down.
    pub over_budget: Option<OverBudget>,
}

/// How the scheduler weighs a monitor's next check against the pool's capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Its last verdict was up and not slow: may use any worker.
    Healthy,
    /// Failing, retrying, down or slow: held to the suspect share.
    Suspect,
    /// No verdict yet: one check per monitor, which may also borrow what healthy checks leave
    /// idle, beyond the suspect share.
    First,
}

impl Class {
    fn is_suspect(self) -> bool {
        self != Class::Healthy
    }
}

/// How long a peak of healthy checks in flight is remembered (between one and two of these):
/// the reserve kept for them follows their load down only slowly.
const PEAK_WINDOW_MS: u64 = 60_000;

/// The most of something seen over the last one to two windows of [`PEAK_WINDOW_MS`].
#[derive(Debug, Default)]
struct RecentPeak {
    window: u64,
    current: usize,
    previous: usize,
}

impl RecentPeak {
    fn note(&mut self, now: u64, value: usize) {
        let window = now / PEAK_WINDOW_MS;
        if window != self.window {
            self.previous = if window == self.window + 1 {
                self.current
            } else {
                0
            };
            self.current = 0;
            self.window = window;
        }
        self.current = self.current.max(value);
    }

    /// The most noted in the window of `now` and the one before it (0 for older windows).
    fn get(&self, now: u64) -> usize {
        match (now / PEAK_WINDOW_MS).saturating_sub(self.window) {
            0 => self.current.max(self.previous),
            1 => self.current,
            _ => 0,
        }
    }
}

/// No next occurrence (once mode, after the check).
const NEVER: u64 = u64::MAX;

#[derive(Debug, Clone, Copy)]
struct Slot {
    interval: u64,
    phase: u64,
    /// The occurrence the wheel should fire next; other entries for this monitor are stale.
    next_due: u64,
    /// The due tick of the check pending now.
    inflight_due: u64,
    pending: bool,
    /// Once mode: checks of this monitor that ended without a verdict.
    no_verdict: u8,
    /// Which part of the pool the monitor's checks may use ([`Schedule::with_suspect_share`]).
    /// It changes only when a check completes, so a check in flight is counted under the class
    /// it was admitted with until it ends.
    class: Class,
    /// Tick at which the current state began.
    since: u64,
    /// Index into [`Schedule::policies`].
    policy: u32,
    health: Health,
    /// Removed by a reload: never fired again; a check in flight completes and is ignored.
    retired: bool,
}

/// The scheduling policy: which monitor is due, coalescing, the overflow FIFO.
pub struct Schedule {
    wheel: Wheel<u32>,
    slots: Vec<Slot>,
    /// The distinct failure policies: a handful in practice (one per interval for the default
    /// policy), so slots refer to them rather than each carry 40 bytes.
    policies: Vec<Policy>,
    overflow: VecDeque<Dispatch>,
    /// Suspect dispatches held back while suspect checks fill their share of the workers, in
    /// due order; their monitors are pending, so at most one entry per monitor.
    held: VecDeque<Dispatch>,
    /// First checks held back while the checks of monitors not known healthy fill all of the
    /// pool but the healthy reserve, in due order.
    held_first: VecDeque<Dispatch>,
    /// Most suspect checks queued, overflowed or running at once while some monitor is healthy.
    suspect_cap: usize,
    /// Worker threads: the most suspect checks queued, overflowed or running at once while no
    /// monitor is healthy, so that the first healthy one never finds them queued ahead of it.
    workers: usize,
    /// Checks of monitors not known healthy (suspect or first checks) queued, overflowed or
    /// running now.
    suspect_busy: usize,
    /// Of those, first checks.
    first_busy: usize,
    /// Healthy checks queued, overflowed or running now.
    healthy_busy: usize,
    /// The most healthy checks recently queued, overflowed or running at once.
    healthy_peak: RecentPeak,
    /// The tick of the latest call, for [`RecentPeak`].
    now: u64,
    /// Monitors not known healthy now (suspect or awaiting their first verdict).
    suspects: usize,
    fired: Vec<(u32, u64)>,
    mode: Mode,
    unfinished: usize,
    counters: ScheduleCounters,
    /// Slots removed by a reload.
    retired: usize,
}

/// What a reload changes in a [`Schedule`], by monitor index (see `reload`).
#[derive(Debug, Default)]
pub struct Changes {
    /// Monitors whose settings changed: their new cadence, from their next occurrence.
    pub changed: Vec<(usize, Cadence)>,
    /// Monitors removed.
    pub removed: Vec<usize>,
    /// New monitors, appended in this order after the current ones.
    pub added: Vec<Cadence>,
}

/// A monitor a reload removed, with the state it had (for its "monitoring stopped" mark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retired {
    /// Index of the monitor.
    pub monitor: usize,
    /// Its state when removed.
    pub state: State,
    /// Tick at which that state began.
    pub since: u64,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Spreads each group of equal intervals evenly across its interval, in config order: the k-th
/// of n monitors at interval T gets phase k·T/n (rounded down to the grain).
struct Spread {
    sizes: HashMap<u64, u64>,
    seen: HashMap<u64, u64>,
}

impl Spread {
    fn new(intervals: impl Iterator<Item = u64>) -> Spread {
        let mut sizes: HashMap<u64, u64> = HashMap::new();
        for i in intervals {
            *sizes.entry(i).or_default() += 1;
        }
        Spread {
            seen: HashMap::with_capacity(sizes.len()),
            sizes,
        }
    }

    /// The phase of the next monitor at `interval`.
    fn next(&mut self, interval: u64) -> u64 {
        let k = self.seen.entry(interval).or_default();
        let n = self.sizes.get(&interval).copied().unwrap_or(1).max(1);
        let phase = (u128::from(*k) * u128::from(interval) / u128::from(n)) as u64;
        *k += 1;
        phase - phase % GRAIN_MS
    }
}

impl Schedule {
    /// A schedule for these monitors (index = monitor), starting at tick 0.
    ///
    /// Builds the slots in place, with no list the length of the config besides them: at a
    /// million monitors every such list is megabytes on the start-up peak.
    pub fn new(cadences: impl IntoIterator<Item = Cadence>, mode: Mode) -> Schedule {
        let mut policies: Vec<Policy> = Vec::new();
        let mut policy_index: HashMap<Policy, u32> = HashMap::new();
        let mut slots: Vec<Slot> = cadences
            .into_iter()
            .map(|c| Slot {
                interval: millis(c.interval).max(1),
                phase: 0,
                next_due: 0,
                inflight_due: 0,
                pending: false,
                no_verdict: 0,
                class: Class::First,
                since: 0,
                policy: *policy_index.entry(c.policy).or_insert_with(|| {
                    policies.push(c.policy);
                    // As many policies as monitors at most, and monitors are indexed by u32.
                    (policies.len() - 1) as u32
                }),
                health: Health::default(),
                retired: false,
            })
            .collect();
        slots.shrink_to_fit();
        let mut spread = Spread::new(slots.iter().map(|s| s.interval));
        let mut wheel = Wheel::with_capacity(slots.len());
        for (j, slot) in slots.iter_mut().enumerate() {
            slot.phase = spread.next(slot.interval);
            slot.next_due = match mode {
                Mode::Once => 0,
                Mode::Repeat => {
                    let first = j as u64 * 1000 / WARMUP_PER_SECOND;
                    (first - first % GRAIN_MS).min(slot.phase)
                }
            };
            wheel.insert(j as u32, slot.next_due);
        }
        Schedule {
            wheel,
            unfinished: slots.len(),
            suspects: slots.len(),
            slots,
            policies,
            overflow: VecDeque::new(),
            held: VecDeque::new(),
            held_first: VecDeque::new(),
            suspect_cap: usize::MAX,
            workers: usize::MAX,
            suspect_busy: 0,
            first_busy: 0,
            healthy_busy: 0,
            healthy_peak: RecentPeak::default(),
            now: 0,
            fired: Vec::new(),
            mode,
            counters: ScheduleCounters::default(),
            retired: 0,
        }
    }

    fn policy_index(&mut self, policy: Policy) -> u32 {
        if let Some(i) = self.policies.iter().position(|p| *p == policy) {
            return i as u32;
        }
        self.policies.push(policy);
        (self.policies.len() - 1) as u32
    }

    /// Applies a reload at tick `now` (between wake-ups, on the scheduler thread).
    ///
    /// - A changed monitor keeps its health, pending check and next occurrence; its new
    ///   interval and policy apply from the occurrence after (its phase is kept, modulo the
    ///   new interval).
    /// - A removed monitor is never fired again: its wheel entry goes stale, a dispatch waiting
    ///   in the overflow or held-back FIFO is dropped (its monitor freed), a check queued or in
    ///   flight completes and is ignored. Returned with its state, for the stop mark.
    /// - New monitors are appended: first checks from the next grain on, spread like start-up,
    ///   then on phases spread across their interval.
    pub fn apply(&mut self, changes: Changes, now: u64) -> Vec<Retired> {
        for (monitor, cadence) in changes.changed {
            let policy = self.policy_index(cadence.policy);
            let slot = &mut self.slots[monitor];
            if slot.retired {
                continue;
            }
            slot.interval = millis(cadence.interval).max(1);
            slot.phase %= slot.interval;
            slot.phase -= slot.phase % GRAIN_MS;
            slot.policy = policy;
        }
        let mut retired = Vec::with_capacity(changes.removed.len());
        for &monitor in &changes.removed {
            let slot = &mut self.slots[monitor];
            if slot.retired {
                continue;
            }
            slot.retired = true;
            slot.next_due = NEVER;
            let state = slot.health.state();
            let interval = Duration::from_millis(slot.interval);
            self.counters.down -= usize::from(state == State::Down);
            self.counters.backed_off -= usize::from(slot.health.backed_off(interval));
            self.suspects -= usize::from(slot.class.is_suspect());
            self.retired += 1;
            retired.push(Retired {
                monitor,
                state,
                since: slot.since,
            });
        }
        // Dispatches not yet handed to a worker: dropped, their monitors freed.
        let slots = &mut self.slots;
        let mut freed = Vec::new();
        self.overflow.retain(|d| {
            let slot = &mut slots[d.monitor];
            if slot.retired {
                slot.pending = false;
                freed.push(slot.class);
            }
            !slot.retired
        });
        for held in [&mut self.held, &mut self.held_first] {
            held.retain(|d| {
                let slot = &mut slots[d.monitor];
                if slot.retired {
                    slot.pending = false;
                }
                !slot.retired
            });
        }
        for class in freed {
            self.release(class);
        }
        let start = now + GRAIN_MS - now % GRAIN_MS;
        let mut spread = Spread::new(changes.added.iter().map(|c| millis(c.interval).max(1)));
        for (j, cadence) in changes.added.into_iter().enumerate() {
            let policy = self.policy_index(cadence.policy);
            let interval = millis(cadence.interval).max(1);
            let first = j as u64 * 1000 / WARMUP_PER_SECOND;
            let monitor = self.slots.len();
            self.slots.push(Slot {
                interval,
                phase: spread.next(interval),
                next_due: start + first - first % GRAIN_MS,
                inflight_due: 0,
                pending: false,
                no_verdict: 0,
                class: Class::First,
                since: now,
                policy,
                health: Health::default(),
                retired: false,
            });
            self.suspects += 1;
            self.unfinished += 1;
            self.wheel
                .insert(monitor as u32, self.slots[monitor].next_due);
        }
        self.publish_depths();
        retired
    }

    /// Limits suspect checks to `share` (0 < share ≤ 1) of `workers`, at least one worker:
    /// checks of monitors that are failing, retrying, down or slow. They may be queued,
    /// overflowed or running only that many at once; the excess waits, due order kept, in a
    /// FIFO of its own (at most one entry per monitor, later occurrences coalesced), so the rest
    /// of the pool is free for healthy monitors.
    ///
    /// A monitor's first check (one per monitor, until its first verdict) counts as suspect
    /// too, but may also borrow the healthy part of the pool while healthy checks leave it idle:
    /// checks of monitors not known healthy may fill the pool up to a reserve of twice the
    /// healthy checks recently in flight at once, and never less than an eighth of the pool.
    /// So a new list's first round runs at its own pace even while its dead sites' retries fill
    /// the suspect share, and a first check that hangs still leaves healthy ones their room.
    ///
    /// The limits apply only in [`Mode::Repeat`] (a once run has no schedule to keep). While no
    /// monitor is healthy (the first round, or everything failing) there is nothing to protect:
    /// suspect checks may then occupy every worker, but no more, so none waits queued ahead of
    /// the first healthy one.
    pub fn with_suspect_share(mut self, workers: usize, share: f64) -> Schedule {
        self.workers = workers.max(1);
        self.suspect_cap = ((self.workers as f64 * share).floor() as usize).clamp(1, self.workers);
        self
    }

    /// Whether no monitor is known healthy.
    fn none_healthy(&self) -> bool {
        self.suspects == self.slots.len() - self.retired
    }

    /// The most checks of monitors not known healthy (suspect or first) at once: all of the
    /// pool but the reserve healthy checks keep, and at least the suspect share.
    fn unproven_limit(&self) -> usize {
        if self.none_healthy() {
            return self.workers;
        }
        let reserve = (2 * self.healthy_peak.get(self.now)).max(self.workers.div_ceil(8));
        self.suspect_cap.max(self.workers.saturating_sub(reserve))
    }

    /// Whether one more check of this class may go to the pool now.
    fn room_for(&self, class: Class) -> bool {
        if self.mode == Mode::Once {
            return true;
        }
        let within_limit = self.suspect_busy < self.unproven_limit();
        match class {
            Class::Healthy => true,
            Class::First => within_limit,
            Class::Suspect => {
                let share = if self.none_healthy() {
                    self.workers
                } else {
                    self.suspect_cap
                };
                within_limit && self.suspect_busy - self.first_busy < share
            }
        }
    }

    /// Counts a check of this class as handed to the pool.
    fn occupy(&mut self, class: Class) {
        match class {
            Class::Healthy => {
                self.healthy_busy += 1;
                self.healthy_peak.note(self.now, self.healthy_busy);
            }
            Class::Suspect => self.suspect_busy += 1,
            Class::First => {
                self.suspect_busy += 1;
                self.first_busy += 1;
            }
        }
    }

    /// Counts a check of this class as ended (or dropped before a worker took it).
    fn release(&mut self, class: Class) {
        match class {
            Class::Healthy => self.healthy_busy = self.healthy_busy.saturating_sub(1),
            Class::Suspect => self.suspect_busy = self.suspect_busy.saturating_sub(1),
            Class::First => {
                self.suspect_busy = self.suspect_busy.saturating_sub(1);
                self.first_busy = self.first_busy.saturating_sub(1);
            }
        }
    }

    /// The occurrence after one due at `fired`: the first point of the monitor's phase grid at
    /// least half an interval later (exactly one interval later in steady state).
    fn next_due(&self, monitor: usize, fired: u64) -> u64 {
        let Slot {
            interval, phase, ..
        } = self.slots[monitor];
        let target = fired.saturating_add(interval.div_ceil(2));
        if target <= phase {
            phase
        } else {
            phase + (target - phase).div_ceil(interval) * interval
        }
    }

    /// Reschedules a monitor whose occurrence `due` fired at `now`, and returns the occurrence
    /// to act on: `due` itself, or after a stall of more than a period the latest occurrence
    /// already due, the ones between being counted as missed.
    fn reschedule(&mut self, monitor: usize, due: u64, now: u64) -> u64 {
        let interval = self.slots[monitor].interval;
        let mut due = due;
        let mut next = self.next_due(monitor, due);
        if next <= now {
            let later = (now - next) / interval;
            due = next + later * interval;
            next = due + interval;
            self.counters.missed += later + 1;
        }
        self.set_next(monitor, next);
        due
    }

    fn set_next(&mut self, monitor: usize, next: u64) {
        self.slots[monitor].next_due = next;
        if next != NEVER {
            self.wheel.insert(monitor as u32, next);
        }
    }

    /// Fires everything due at `now` and hands out what it can through `send`, which returns the
    /// dispatch back when the queue is full. Overflowed dispatches go first, in due order.
    pub fn tick<F>(&mut self, now: u64, mut send: F)
    where
        F: FnMut(Dispatch) -> Result<(), Dispatch>,
    {
        self.now = now;
        self.drain_overflow(&mut send);
        self.release_held(&mut send);
        let mut fired = std::mem::take(&mut self.fired);
        self.wheel.advance(now, &mut fired);
        // The wheel leaves same-tick order open; config order makes overload fair and runs
        // reproducible.
        fired.sort_unstable_by_key(|&(monitor, due)| (due, monitor));
        for &(monitor, due) in &fired {
            let monitor = monitor as usize;
            if self.slots[monitor].next_due != due {
                continue; // replaced by a retry or backoff
            }
            let due = match self.mode {
                Mode::Repeat => self.reschedule(monitor, due, now),
                Mode::Once => {
                    self.slots[monitor].next_due = NEVER;
                    due
                }
            };
            if self.slots[monitor].pending {
                self.counters.coalesced += 1;
                continue;
            }
            self.slots[monitor].pending = true;
            self.slots[monitor].inflight_due = due;
            let dispatch = Dispatch { monitor, due };
            let class = self.slots[monitor].class;
            if !self.room_for(class) {
                self.counters.held_back += 1;
                match class {
                    Class::First => self.held_first.push_back(dispatch),
                    _ => self.held.push_back(dispatch),
                }
            } else {
                self.admit(dispatch, &mut send);
            }
        }
        fired.clear();
        self.fired = fired;
        self.publish_depths();
    }

    /// Hands a dispatch to the pool: to the queue, or to the overflow FIFO when the FIFO is not
    /// empty (it goes first) or the queue is full.
    fn admit<F>(&mut self, dispatch: Dispatch, send: &mut F)
    where
        F: FnMut(Dispatch) -> Result<(), Dispatch>,
    {
        self.occupy(self.slots[dispatch.monitor].class);
        if !self.overflow.is_empty() {
            self.push_overflow(dispatch);
        } else if let Err(back) = send(dispatch) {
            self.push_overflow(back);
        }
    }

    /// Admits held-back dispatches while their limits have room, first checks before suspect
    /// ones (a monitor with no verdict yet is not known to be failing; one that is failing is
    /// already being said so), each in due order.
    fn release_held<F>(&mut self, send: &mut F)
    where
        F: FnMut(Dispatch) -> Result<(), Dispatch>,
    {
        while self.room_for(Class::First) {
            let Some(dispatch) = self.held_first.pop_front() else {
                break;
            };
            self.admit(dispatch, send);
        }
        while self.room_for(Class::Suspect) {
            let Some(dispatch) = self.held.pop_front() else {
                break;
            };
            self.admit(dispatch, send);
        }
    }

    fn publish_depths(&mut self) {
        self.counters.overflow_depth = self.overflow.len();
        self.counters.held_depth = self.held.len() + self.held_first.len();
        self.counters.suspect_busy = self.suspect_busy;
        self.counters.first_busy = self.first_busy;
        self.counters.suspects = self.suspects;
    }

    fn push_overflow(&mut self, dispatch: Dispatch) {
        self.counters.overflowed += 1;
        self.overflow.push_back(dispatch);
    }

    fn drain_overflow<F>(&mut self, send: &mut F)
    where
        F: FnMut(Dispatch) -> Result<(), Dispatch>,
    {
        while let Some(dispatch) = self.overflow.pop_front() {
            if let Err(back) = send(dispatch) {
                self.overflow.push_front(back);
                break;
            }
        }
        self.counters.overflow_depth = self.overflow.len();
    }

    /// Takes a worker's completion at tick `now`: frees the monitor, runs its verdict through
    /// its health, schedules a retry or backoff if needed, and returns the state change if any.
    pub fn complete(&mut self, completion: &Completion, now: u64) -> Option<Transition> {
        let monitor = completion.monitor;
        let slot = &mut self.slots[monitor];
        if !slot.pending {
            return None;
        }
        slot.pending = false;
        let class = slot.class;
        self.now = now;
        self.release(class);
        let slot = &mut self.slots[monitor];
        if slot.retired {
            // Removed by a reload while its check ran: the result is recorded, not acted on.
            self.publish_depths();
            return None;
        }
        let Some(verdict) = &completion.verdict else {
            // Not a verdict: health untouched. Repeating monitors keep their next occurrence;
            // in once mode there is none, so retry a few times, then leave it undecided.
            // (A monitor keeps its class: nothing was learnt about it.)
            if self.mode == Mode::Once {
                if slot.no_verdict < ONCE_NO_VERDICT_TRIES {
                    slot.no_verdict += 1;
                    let delay = self.policies[slot.policy as usize].retry_delay;
                    self.set_next(monitor, now.saturating_add(millis(delay)));
                } else {
                    self.finish(monitor);
                }
            }
            self.publish_depths();
            return None;
        };
        let interval = Duration::from_millis(slot.interval);
        let was_backed_off = slot.health.backed_off(interval);
        let before = slot.health.state();
        let policy = &self.policies[slot.policy as usize];
        let (step, over_budget) = match self.mode {
            Mode::Once => {
                slot.health
                    .observe_once(verdict.seen(), interval, policy, verdict.retry_after)
            }
            Mode::Repeat => (
                slot.health
                    .observe(verdict.seen(), interval, policy, verdict.retry_after),
                None,
            ),
        };
        let (after, backed_off) = (slot.health.state(), slot.health.backed_off(interval));
        slot.class = if after.is_up() && verdict.up && !verdict.slow {
            Class::Healthy
        } else {
            Class::Suspect
        };
        let inflight_due = slot.inflight_due;
        self.suspects = self.suspects + usize::from(self.slots[monitor].class.is_suspect())
            - usize::from(class.is_suspect());
        match step.next {
            Next::Retry(delay) => self.set_next(monitor, now.saturating_add(millis(delay))),
            Next::Backoff(_) | Next::Scheduled if self.mode == Mode::Once => self.finish(monitor),
            Next::Backoff(delay) => {
                let next = inflight_due.saturating_add(millis(delay)).max(now);
                self.set_next(monitor, next);
            }
            Next::Scheduled => {}
        }
        self.counters.down = self.counters.down + usize::from(after == State::Down)
            - usize::from(before == State::Down);
        self.counters.backed_off =
            self.counters.backed_off + usize::from(backed_off) - usize::from(was_backed_off);
        self.publish_depths();
        let (from, to) = step.transition?;
        let slot = &mut self.slots[monitor];
        let since = std::mem::replace(&mut slot.since, now);
        Some(Transition {
            monitor,
            from,
            to,
            since,
            attempts: match (to, over_budget) {
                (State::Down, Some(over)) => over.attempts,
                (State::Down, None) => self.policies[slot.policy as usize].retries + 1,
                _ => 0,
            },
            over_budget,
        })
    }

    fn finish(&mut self, monitor: usize) {
        if self.mode == Mode::Once {
            self.slots[monitor].next_due = NEVER;
            self.unfinished -= 1;
        }
    }

    /// A monitor's current state.
    pub fn state(&self, monitor: usize) -> State {
        self.slots[monitor].health.state()
    }

    /// The tick at which [`tick`](Self::tick) next has work, if any.
    pub fn next_wake(&self) -> Option<u64> {
        self.wheel.next_wake()
    }

    /// True when a completion can wait a little before being taken: the monitors repeat (in
    /// once mode every completion may finish the run) and no due check is waiting in the
    /// overflow FIFO for a worker to free up, or held back for a suspect check to end.
    pub fn completions_can_wait(&self) -> bool {
        self.mode == Mode::Repeat
            && self.overflow.is_empty()
            && self.held.is_empty()
            && self.held_first.is_empty()
    }

    /// In [`Mode::Once`], true when every monitor has been checked.
    pub fn is_finished(&self) -> bool {
        self.mode == Mode::Once && self.unfinished == 0
    }

    /// Coalesced, overflowed and missed counts so far.
    pub fn counters(&self) -> ScheduleCounters {
        self.counters
    }
}

/// How long the scheduler may leave completions waiting when
/// [`Schedule::completions_can_wait`]: while checks are running it wakes at its next deadline
/// or the next multiple of this (since start), whichever comes first, and takes every
/// completion then, instead of waking up for each one. Deadlines lie on the same grid
/// ([`GRAIN_MS`]), so in steady state it wakes at most 100 times a second, however many
/// checks run. A completion only frees its monitor (whose next occurrence is at least half an
/// interval away, and completions are always taken before due checks are) or schedules a retry
/// (delays of at least 100 ms), so this costs nothing in precision.
pub const COMPLETION_BATCH: Duration = Duration::from_millis(GRAIN_MS);

/// Channels the scheduler thread talks through.
pub struct Wiring {
    /// Jobs out to the workers (bounded: the queue).
    pub jobs: Sender<Job>,
    /// Verdicts back from the workers when a check ends.
    pub done: Receiver<Completion>,
    /// Disconnects (or delivers) when the run must stop.
    pub stop: Receiver<()>,
    /// Fires when a `--duration` run is over (`never()` otherwise).
    pub deadline: Receiver<Instant>,
    /// Where state changes are published.
    pub events: Arc<Fanout>,
    /// Set when a stop was requested: workers then skip queued jobs. The engine sets it once
    /// the scheduler returns; a once run cut short sets it earlier, to take the verdicts of
    /// the checks still in flight.
    pub stopping: Arc<AtomicBool>,
    /// Disconnects when a stop at once is requested (a second stop request): a once run cut
    /// short then stops waiting for the checks in flight.
    pub stop_now: Receiver<()>,
    /// Reloads to apply; disconnected (or `never()`) without a reload thread.
    pub reloads: Receiver<Plan>,
    /// Where the monitors are published after a reload.
    pub catalog: Arc<Catalog>,
}

/// The scheduler thread's body. Returns when stopped, at the deadline, or (once mode) when every
/// monitor has a verdict. Dropping `wiring.jobs` on return is what tells the workers to end.
pub fn run(mut schedule: Schedule, start: Instant, wiring: Wiring, stats: Arc<Stats>) {
    let Wiring {
        jobs,
        done,
        stop,
        deadline,
        events,
        stopping,
        stop_now,
        reloads,
        catalog,
    } = wiring;
    let wall_start = SystemTime::now() - start.elapsed();
    let tick_of = |t: Instant| millis(t.saturating_duration_since(start));
    let complete = |schedule: &mut Schedule, c: Completion| {
        let transition = schedule.complete(&c, tick_of(Instant::now()));
        let (Some(t), Some(verdict)) = (transition, c.verdict) else {
            return;
        };
        stats.set_state(t.monitor, t.to);
        events.publish(Event::State(Arc::new(StateChange {
            monitor: t.monitor,
            at: SystemTime::now(),
            from: t.from,
            to: t.to,
            since: wall_start + Duration::from_millis(t.since),
            attempts: t.attempts,
            reason: verdict.reason,
            status: verdict.status,
            detail: match (t.over_budget, verdict.detail, verdict.degraded) {
                (Some(over), detail, _) => Some(over_budget_detail(detail.as_deref(), over)),
                // Into `degraded`: the cause, then what was seen.
                (None, _, Some(d)) if t.to == State::Degraded => {
                    Some(format!("{}: {}", d.cause, d.detail))
                }
                (None, detail, _) => detail,
            },
        })));
    };
    // A reload, between two wake-ups (see `reload`): the stats make room, the schedule
    // changes, the list is published before any new monitor is dispatched, removed monitors
    // get their stop mark.
    let apply = |schedule: &mut Schedule, plan: Plan, now: u64| {
        stats.grow(plan.monitors.len());
        let retired = schedule.apply(plan.changes, now);
        catalog.publish(plan.monitors, plan.removed);
        let at = SystemTime::now();
        for r in retired {
            if r.state == State::Unknown {
                continue;
            }
            stats.set_state(r.monitor, State::Unknown);
            events.publish(Event::State(Arc::new(StateChange {
                monitor: r.monitor,
                at,
                from: r.state,
                to: State::Unknown,
                since: wall_start + Duration::from_millis(r.since),
                attempts: 0,
                reason: None,
                status: None,
                detail: Some(crate::store::writer::STOPPED.to_string()),
            })));
        }
        stats.set_schedule(schedule.counters());
        log::info!("{}", plan.counts);
    };
    // Without reloads (once mode, URLs given on the command line) the sender is gone from the
    // start, and a disconnected channel is always ready in a `select!`: the loop would spin on
    // it instead of sleeping. Once it has disconnected it is replaced by a channel that never is.
    let mut reloads = reloads;
    // Checks handed to the workers whose completion has not been taken yet.
    let mut in_flight: usize = 0;
    // Whether a stop or the deadline ended the run, rather than its end or the workers'.
    let stopped = 'serve: loop {
        loop {
            match done.try_recv() {
                Ok(c) => {
                    in_flight = in_flight.saturating_sub(1);
                    complete(&mut schedule, c);
                }
                Err(TryRecvError::Empty) => break,
                // Every worker is gone; nothing more can be checked.
                Err(TryRecvError::Disconnected) => break 'serve false,
            }
        }
        let now = Instant::now();
        schedule.tick(tick_of(now), |d| {
            let job = Job {
                monitor: d.monitor,
                due: start + Duration::from_millis(d.due),
                dispatched: now,
            };
            match jobs.try_send(job) {
                Ok(()) => {
                    in_flight += 1;
                    Ok(())
                }
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(d),
            }
        });
        stats.set_schedule(schedule.counters());
        if schedule.is_finished() {
            break 'serve false;
        }
        let now = Instant::now();
        let wait = match schedule.next_wake() {
            Some(t) => (start + Duration::from_millis(t)).saturating_duration_since(now),
            None => Duration::from_secs(3600),
        };
        stats.set_scheduler_wake(now + wait);
        if in_flight > 0 && schedule.completions_can_wait() {
            // Checks are running: take their completions at the next deadline or the next
            // point of the COMPLETION_BATCH grid (where deadlines lie too, so the two wake-ups
            // are one), not with a wake-up each.
            let batch = COMPLETION_BATCH.as_nanos();
            let into = now.saturating_duration_since(start).as_nanos() % batch;
            let to_grid = Duration::from_nanos(u64::try_from(batch - into).unwrap_or(u64::MAX));
            select! {
                recv(stop) -> _ => break 'serve true,
                recv(deadline) -> _ => break 'serve true,
                recv(reloads) -> plan => match plan {
                    Ok(plan) => apply(&mut schedule, plan, tick_of(Instant::now())),
                    Err(_) => reloads = never(),
                },
                default(wait.min(to_grid)) => {}
            }
            continue;
        }
        select! {
            recv(done) -> completion => match completion {
                Ok(c) => {
                    in_flight = in_flight.saturating_sub(1);
                    complete(&mut schedule, c);
                }
                // Every worker is gone; nothing more can be checked.
                Err(_) => break 'serve false,
            },
            recv(stop) -> _ => break 'serve true,
            recv(deadline) -> _ => break 'serve true,
            recv(reloads) -> plan => match plan {
                Ok(plan) => apply(&mut schedule, plan, tick_of(Instant::now())),
                Err(_) => reloads = never(),
            },
            default(wait) => {}
        }
    };
    stats.set_scheduler_ended();
    if stopped && schedule.mode == Mode::Once {
        // A once run cut short: the checks in flight still decide their monitors (a monitor
        // left without a verdict is reported undecided), queued ones are skipped. Workers end
        // once the queue is closed and their check is done, which closes `done`.
        stopping.store(true, Ordering::Relaxed);
        drop(jobs);
        let running = stats.in_flight().len();
        if running > 0 {
            log::info!(
                "waiting for {running} check(s) in flight to finish (at most their timeout)"
            );
        }
        loop {
            select! {
                recv(done) -> c => match c {
                    Ok(c) => complete(&mut schedule, c),
                    Err(_) => break,
                },
                // Stop at once: the checks still running are abandoned (the engine counts them).
                recv(stop_now) -> _ => break,
            }
        }
        stats.set_schedule(schedule.counters());
    }
}

/// The detail of a once run's `down` that a long `Retry-After` decided, quoting it.
fn over_budget_detail(detail: Option<&str>, over: OverBudget) -> String {
    let quote = format!(
        "Retry-After {} s exceeds the retry budget ({} left)",
        over.asked.as_secs(),
        humantime::format_duration(over.budget)
    );
    match detail {
        Some(d) if !d.is_empty() => format!("{d}; {quote}"),
        _ => quote,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(list: &[u64]) -> Vec<Cadence> {
        list.iter()
            .map(|&s| Cadence {
                interval: Duration::from_secs(s),
                policy: crate::config::default_policy(Duration::from_secs(s)),
            })
            .collect()
    }

    fn verdict(up: bool) -> Verdict {
        Verdict {
            up,
            reason: (!up).then_some(Reason::Connect),
            status: None,
            detail: (!up).then(|| "connection refused".to_string()),
            retry_after: None,
            slow: false,
            degraded: None,
        }
    }

    fn done(monitor: usize, up: bool) -> Completion {
        Completion {
            monitor,
            verdict: Some(verdict(up)),
        }
    }

    /// A queue of `cap` places that remembers what was sent.
    struct Queue {
        cap: usize,
        items: VecDeque<Dispatch>,
    }

    impl Queue {
        fn new(cap: usize) -> Queue {
            Queue {
                cap,
                items: VecDeque::new(),
            }
        }
        fn send(&mut self) -> impl FnMut(Dispatch) -> Result<(), Dispatch> + '_ {
            |d| {
                if self.items.len() < self.cap {
                    self.items.push_back(d);
                    Ok(())
                } else {
                    Err(d)
                }
            }
        }
    }

    /// Runs the schedule tick by tick to `until`, with an instant worker pool: everything
    /// queued is completed at the same tick. Returns every dispatch.
    fn simulate(s: &mut Schedule, until: u64) -> Vec<Dispatch> {
        let mut q = Queue::new(usize::MAX);
        let mut all = Vec::new();
        let mut t = 0;
        while t <= until {
            s.tick(t, q.send());
            while let Some(d) = q.items.pop_front() {
                s.complete(&done(d.monitor, true), t);
                all.push(d);
            }
            t = match s.next_wake() {
                Some(w) if w > t => w,
                _ => t + 1,
            };
        }
        all
    }

    #[test]
    fn a_reload_keeps_health_and_pending_checks_retires_removed_and_starts_added() {
        let mut s = Schedule::new(secs(&[10, 10, 10]), Mode::Repeat);
        // Queue of one: monitor 0 is queued, 1 and 2 overflow (pending).
        let mut q = Queue::new(1);
        s.tick(0, q.send());
        assert_eq!(q.items.len(), 1);
        assert_eq!(s.counters().overflow_depth, 2);
        // Monitor 0 goes down (retries, then down) before the reload.
        let d0 = q.items.pop_front().unwrap();
        assert_eq!(d0.monitor, 0);
        let changes = Changes {
            changed: vec![(0, secs(&[20])[0])],
            removed: vec![2],
            added: secs(&[10, 10]),
        };
        let retired = s.apply(changes, 5);
        assert_eq!(
            retired,
            [Retired {
                monitor: 2,
                state: State::Unknown,
                since: 0
            }]
        );
        // Monitor 2's overflowed dispatch is gone; monitor 1's is still there, pending.
        assert_eq!(s.counters().overflow_depth, 1);
        assert!(s.slots[1].pending && !s.slots[2].pending);
        assert!(s.slots[0].pending, "the check in flight stays pending");
        assert_eq!(s.slots.len(), 5);
        // The check in flight for monitor 0 completes as usual, with the new interval next.
        assert!(s.complete(&done(0, true), 6).is_some());
        assert_eq!(s.next_due(0, 0), 20_000 - 20_000 % GRAIN_MS);
        // A completion for the removed monitor (a job queued before) is ignored.
        s.slots[2].pending = true;
        assert_eq!(s.complete(&done(2, false), 7), None);
        // Added monitors fire within the next second, never the removed one.
        let mut q = Queue::new(usize::MAX);
        let mut seen = Vec::new();
        for t in (10..=2_000).step_by(10) {
            s.tick(t, q.send());
            while let Some(d) = q.items.pop_front() {
                seen.push(d.monitor);
                s.complete(&done(d.monitor, true), t);
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, [1, 3, 4]);
        // 30 s on: 0 every 20 s, 1, 3, 4 every 10 s, 2 never.
        let later = simulate(&mut s, 60_000);
        assert!(later.iter().all(|d| d.monitor != 2));
        let count = |m| later.iter().filter(|d| d.monitor == m).count();
        assert!((2..=4).contains(&count(0)), "{}", count(0));
        assert!((5..=7).contains(&count(3)), "{}", count(3));
    }

    #[test]
    fn a_reload_keeps_a_down_monitor_down_and_retires_its_count() {
        let mut s = Schedule::new(secs(&[10, 10]), Mode::Repeat);
        let mut q = Queue::new(usize::MAX);
        let mut t = 0;
        while s.state(0) != State::Down && t < 100_000 {
            s.tick(t, q.send());
            while let Some(d) = q.items.pop_front() {
                s.complete(&done(d.monitor, d.monitor != 0), t);
            }
            t += 10;
        }
        assert_eq!(s.state(0), State::Down);
        assert_eq!(s.counters().down, 1);
        let before = s.slots[0].health;
        s.apply(
            Changes {
                changed: vec![(0, secs(&[10])[0])],
                ..Changes::default()
            },
            t,
        );
        assert_eq!(format!("{:?}", s.slots[0].health), format!("{before:?}"));
        let retired = s.apply(
            Changes {
                removed: vec![0],
                ..Changes::default()
            },
            t,
        );
        assert_eq!(retired[0].state, State::Down);
        assert_eq!(s.counters().down, 0);
    }

    #[test]
    fn phases_spread_each_interval_group_evenly() {
        let phases = |intervals: &[u64]| {
            let mut spread = Spread::new(intervals.iter().copied());
            intervals
                .iter()
                .map(|&i| spread.next(i))
                .collect::<Vec<_>>()
        };
        assert_eq!(phases(&[1000, 1000, 1000, 1000]), vec![0, 250, 500, 750]);
        assert_eq!(phases(&[1000, 60_000, 1000]), vec![0, 0, 500]);
    }

    #[test]
    fn short_list_runs_at_once_then_settles_on_its_phase() {
        let mut s = Schedule::new(secs(&[60, 60, 60]), Mode::Repeat);
        let all = simulate(&mut s, 200_000);
        let first: Vec<u64> = all.iter().take(3).map(|d| d.due).collect();
        assert_eq!(first, vec![0, 0, 0]);
        for m in 0..3 {
            let dues: Vec<u64> = all
                .iter()
                .filter(|d| d.monitor == m)
                .map(|d| d.due)
                .collect();
            // First gap between half and one and a half intervals, then exactly one interval.
            assert!((30_000..=90_000).contains(&(dues[1] - dues[0])), "{dues:?}");
            for pair in dues[1..].windows(2) {
                assert_eq!(pair[1] - pair[0], 60_000, "{dues:?}");
            }
            assert_eq!(dues[1] % 60_000, [0, 20_000, 40_000][m], "phase of {m}");
        }
    }

    #[test]
    fn no_drift_over_thousands_of_periods() {
        let mut s = Schedule::new(secs(&[1, 7]), Mode::Repeat);
        let all = simulate(&mut s, 3_600_000);
        let ones: Vec<u64> = all
            .iter()
            .filter(|d| d.monitor == 0)
            .map(|d| d.due)
            .collect();
        assert_eq!(ones.len(), 3601);
        assert!(ones.iter().enumerate().all(|(k, &d)| d == k as u64 * 1000));
        let sevens = all.iter().filter(|d| d.monitor == 1).count();
        assert_eq!(sevens, 3_600_000 / 7000 + 1);
        assert_eq!(s.counters(), ScheduleCounters::default());
    }

    #[test]
    fn many_monitors_give_a_smooth_rate() {
        // 1,000 monitors at 10 s: after warm-up, every second sees about 100 checks.
        let mut s = Schedule::new(secs(&[10; 1000]), Mode::Repeat);
        let all = simulate(&mut s, 60_000);
        for second in 20..60u64 {
            let n = all.iter().filter(|d| d.due / 1000 == second).count();
            assert_eq!(n, 100, "second {second}");
        }
    }

    #[test]
    fn dues_lie_on_the_grain_so_wake_ups_are_bounded() {
        // 20,000 monitors at 10 s (2,000 checks/s): one wake-up per grain, not per check.
        let mut s = Schedule::new(secs(&[10; 20_000]), Mode::Repeat);
        let all = simulate(&mut s, 40_000);
        assert!(all.iter().all(|d| d.due % GRAIN_MS == 0));
        let steady: Vec<&Dispatch> = all.iter().filter(|d| d.due >= 30_000).collect();
        let mut ticks: Vec<u64> = steady.iter().map(|d| d.due).collect();
        ticks.dedup();
        assert_eq!(ticks.len() as u64, 10_000 / GRAIN_MS + 1);
        for second in 30..40u64 {
            let n = steady.iter().filter(|d| d.due / 1000 == second).count();
            assert_eq!(n, 2000, "second {second}");
        }
    }

    #[test]
    fn pending_monitor_is_coalesced_not_queued_twice() {
        let mut s = Schedule::new(secs(&[1]), Mode::Repeat);
        let mut q = Queue::new(10);
        s.tick(0, q.send());
        assert_eq!(q.items.len(), 1);
        // The check hangs for 3.5 periods: three occurrences are coalesced.
        for t in [1000, 2000, 3000] {
            s.tick(t, q.send());
        }
        assert_eq!(q.items.len(), 1);
        assert_eq!(s.counters().coalesced, 3);
        s.complete(&done(0, true), 3500);
        s.tick(4000, q.send());
        assert_eq!(q.items.len(), 2);
        assert_eq!(q.items[1].due, 4000);
    }

    #[test]
    fn full_queue_overflows_in_due_order_and_drains_first() {
        let mut s = Schedule::new(secs(&[10; 4]), Mode::Repeat);
        let mut q = Queue::new(1);
        s.tick(5, q.send());
        assert_eq!(q.items.len(), 1);
        assert_eq!(s.counters().overflow_depth, 3);
        assert_eq!(s.counters().overflowed, 3);
        // A worker takes the job; the next tick drains the FIFO oldest first.
        let mut served = vec![q.items.pop_front().unwrap().monitor];
        for t in 6..9 {
            s.tick(t, q.send());
            served.push(q.items.pop_front().unwrap().monitor);
        }
        assert_eq!(served, vec![0, 1, 2, 3]);
        assert_eq!(s.counters().overflow_depth, 0);
    }

    #[test]
    fn overflow_holds_at_most_one_entry_per_monitor() {
        // Nothing is ever taken off a one-place queue: demand far above capacity.
        let mut s = Schedule::new(secs(&[1; 50]), Mode::Repeat);
        let mut q = Queue::new(1);
        let mut t = 0;
        while t < 100_000 {
            s.tick(t, q.send());
            t += 250;
        }
        assert_eq!(s.counters().overflow_depth, 49);
        assert!(s.counters().coalesced > 4_000);
    }

    #[test]
    fn stall_skips_whole_periods_and_counts_them() {
        let mut s = Schedule::new(secs(&[1]), Mode::Repeat);
        let mut q = Queue::new(10);
        s.tick(0, q.send());
        s.complete(&done(0, true), 10);
        // The scheduler is frozen for 5.5 s: one late check now, four occurrences missed.
        s.tick(5500, q.send());
        assert_eq!(q.items.back().unwrap().due, 5000);
        assert_eq!(s.counters().missed, 4);
        s.complete(&done(0, true), 5510);
        s.tick(6000, q.send());
        assert_eq!(q.items.back().unwrap().due, 6000);
    }

    #[test]
    fn once_mode_checks_each_monitor_once_and_finishes() {
        let mut s = Schedule::new(secs(&[1, 1, 30]), Mode::Once);
        let mut q = Queue::new(2);
        s.tick(0, q.send());
        assert!(!s.is_finished());
        let mut seen = Vec::new();
        for t in 1..10 {
            while let Some(d) = q.items.pop_front() {
                seen.push(d.monitor);
                s.complete(&done(d.monitor, true), t);
            }
            s.tick(t, q.send());
        }
        assert_eq!(seen, vec![0, 1, 2]);
        assert!(s.is_finished());
        assert_eq!(s.next_wake(), None);
    }

    /// (tick, from, to) of a state change.
    type Change = (u64, State, State);

    /// Drives one monitor whose checks take no time and whose verdicts come from `up`, until
    /// `until`; returns (due tick, verdict) of every check and every transition.
    fn drive(
        s: &mut Schedule,
        until: u64,
        up: impl Fn(u64) -> bool,
    ) -> (Vec<(u64, bool)>, Vec<Change>) {
        let mut q = Queue::new(usize::MAX);
        let (mut checks, mut changes) = (Vec::new(), Vec::new());
        let mut t = 0;
        while t <= until {
            s.tick(t, q.send());
            while let Some(d) = q.items.pop_front() {
                let ok = up(t);
                checks.push((d.due, ok));
                if let Some(tr) = s.complete(&done(d.monitor, ok), t) {
                    changes.push((t, tr.from, tr.to));
                }
            }
            t = match s.next_wake() {
                Some(w) if w > t => w,
                _ => t + 1,
            };
        }
        (checks, changes)
    }

    #[test]
    fn a_glitch_is_retried_and_never_goes_down() {
        // Down only between 10 s and 13 s: the retries at +2 s and +4 s see it back.
        let mut s = Schedule::new(secs(&[10]), Mode::Repeat);
        let (checks, changes) = drive(&mut s, 60_000, |t| !(10_000..13_000).contains(&t));
        assert_eq!(changes, vec![(0, State::Unknown, State::Up)]);
        let dues: Vec<u64> = checks.iter().map(|c| c.0).collect();
        // The retries replace the 20 s occurrence; the next one keeps at least half an interval
        // from the successful retry, back on the fixed grid.
        assert!(
            dues.starts_with(&[0, 10_000, 12_000, 16_000, 30_000]),
            "{dues:?}"
        );
        assert!(dues[4..].iter().all(|d| d % 10_000 == 0), "{dues:?}");
    }

    #[test]
    fn an_outage_goes_down_once_backs_off_and_recovers_on_the_grid() {
        // Down from 10 s to 200 s.
        let mut s = Schedule::new(secs(&[10]), Mode::Repeat);
        let (checks, changes) = drive(&mut s, 400_000, |t| !(10_000..200_000).contains(&t));
        assert_eq!(
            changes,
            vec![
                (0, State::Unknown, State::Up),
                (16_000, State::Up, State::Down),
                (246_000, State::Down, State::Up),
            ]
        );
        let down: Vec<u64> = checks
            .iter()
            .filter(|c| (16_000..=246_000).contains(&c.0))
            .map(|c| c.0)
            .collect();
        // After going down: 10 s, then doubling to the 80 s cap (8 × interval); the site is back
        // at 200 s and the next backed-off check sees it.
        assert_eq!(down, vec![16_000, 26_000, 46_000, 86_000, 166_000, 246_000]);
        assert_eq!(s.counters().down, 0);
        assert_eq!(s.counters().backed_off, 0);
        let after: Vec<u64> = checks
            .iter()
            .map(|c| c.0)
            .filter(|&d| d > 246_000)
            .collect();
        assert!(after.iter().all(|d| d % 10_000 == 0), "{after:?}");
    }

    #[test]
    fn each_monitor_keeps_its_own_policy() {
        // Same interval, three policies: no retries, the default 2, and 1 retry shared by two.
        let policy = |retries| Policy {
            retries,
            ..crate::config::default_policy(Duration::from_secs(10))
        };
        let cadences = [0, 2, 1, 1].map(|retries| Cadence {
            interval: Duration::from_secs(10),
            policy: policy(retries),
        });
        let mut s = Schedule::new(cadences, Mode::Repeat);
        assert_eq!(s.policies.len(), 3);
        // Every check fails; each monitor goes down after its own number of attempts.
        let mut downs: Vec<(usize, u32)> = Vec::new();
        let mut q = Queue::new(usize::MAX);
        for t in 0..30_000 {
            s.tick(t, q.send());
            while let Some(d) = q.items.pop_front() {
                if let Some(tr) = s.complete(&done(d.monitor, false), t) {
                    if tr.to == State::Down {
                        downs.push((tr.monitor, tr.attempts));
                    }
                }
            }
        }
        downs.sort_unstable();
        assert_eq!(downs, vec![(0, 1), (1, 3), (2, 2), (3, 2)]);
    }

    #[test]
    fn down_and_backed_off_are_counted() {
        let mut s = Schedule::new(secs(&[10, 10]), Mode::Repeat);
        let (_, changes) = drive(&mut s, 100_000, |_| false);
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert_eq!(s.state(0), State::Down);
        assert_eq!((s.counters().down, s.counters().backed_off), (2, 2));
    }

    #[test]
    fn retry_after_pushes_the_retry_out() {
        let mut s = Schedule::new(secs(&[60]), Mode::Repeat);
        let mut q = Queue::new(4);
        s.tick(0, q.send());
        q.items.clear();
        let mut v = verdict(false);
        v.retry_after = Some(Duration::from_secs(30));
        s.complete(
            &Completion {
                monitor: 0,
                verdict: Some(v),
            },
            100,
        );
        s.tick(30_099, q.send());
        assert!(q.items.is_empty(), "not before Retry-After");
        s.tick(30_100, q.send());
        assert_eq!(q.items.pop_front().map(|d| d.due), Some(30_100));
    }

    #[test]
    fn once_mode_waits_for_a_verdict_through_retries() {
        let mut s = Schedule::new(secs(&[60]), Mode::Once);
        let (checks, changes) = drive(&mut s, 20_000, |_| false);
        assert_eq!(
            checks.iter().map(|c| c.0).collect::<Vec<_>>(),
            vec![0, 2_000, 6_000]
        );
        assert_eq!(changes, vec![(6_000, State::Unknown, State::Down)]);
        assert!(s.is_finished());
    }

    #[test]
    fn once_mode_a_retry_pending_leaves_the_monitor_undecided() {
        let mut s = Schedule::new(secs(&[60, 60]), Mode::Once);
        let mut q = Queue::new(4);
        s.tick(0, q.send());
        s.complete(&done(0, true), 5);
        assert_eq!(s.complete(&done(1, false), 5), None, "a retry, no verdict");
        // Cut short here: monitor 0 is decided, monitor 1 is not, and the run is not finished.
        assert_eq!((s.state(0), s.state(1)), (State::Up, State::Unknown));
        assert!(!s.is_finished());
        s.tick(2_004, q.send());
        assert_eq!(q.items.len(), 2);
        s.tick(2_005, q.send());
        assert_eq!(q.items.back().map(|d| d.monitor), Some(1), "the retry");
    }

    #[test]
    fn once_mode_a_retry_after_beyond_the_budget_decides_down_at_once() {
        let mut s = Schedule::new(secs(&[60]), Mode::Once);
        let mut q = Queue::new(4);
        s.tick(0, q.send());
        let mut v = verdict(false);
        v.retry_after = Some(Duration::from_secs(99_999));
        let c = Completion {
            monitor: 0,
            verdict: Some(v),
        };
        let t = s.complete(&c, 100).expect("a verdict");
        assert_eq!((t.from, t.to, t.attempts), (State::Unknown, State::Down, 1));
        let over = t.over_budget.expect("decided by the budget");
        assert_eq!(over.budget, Duration::from_secs(6));
        assert!(s.is_finished());
        assert_eq!(
            over_budget_detail(Some("HTTP 503 Service Unavailable"), over),
            "HTTP 503 Service Unavailable; Retry-After 99999 s exceeds the retry budget (6s left)"
        );
    }

    #[test]
    fn repeat_mode_keeps_honouring_a_long_retry_after() {
        let mut s = Schedule::new(secs(&[60]), Mode::Repeat);
        let mut q = Queue::new(4);
        s.tick(0, q.send());
        let mut v = verdict(false);
        v.retry_after = Some(Duration::from_secs(99_999));
        let c = Completion {
            monitor: 0,
            verdict: Some(v),
        };
        assert_eq!(s.complete(&c, 100), None, "a retry, capped at max_backoff");
        q.items.clear();
        s.tick(480_099, q.send());
        assert!(q.items.is_empty());
        s.tick(480_100, q.send());
        assert_eq!(q.items.len(), 1);
    }

    /// A pool of `workers` where a monitor's check takes `busy(monitor)` ms; runs the schedule
    /// to `until` and returns every (monitor, due, started) and the most suspect checks that
    /// were ever queued or running at once.
    fn pool(
        s: &mut Schedule,
        workers: usize,
        until: u64,
        busy: impl Fn(usize) -> u64,
        suspect: impl Fn(usize) -> bool,
    ) -> (Vec<(usize, u64, u64)>, usize) {
        let mut q = Queue::new(2 * workers);
        let mut running: Vec<(usize, u64)> = Vec::new(); // (monitor, ends)
        let mut started = Vec::new();
        let mut most = 0;
        for t in 0..=until {
            running.retain(|&(m, end)| {
                if end > t {
                    return true;
                }
                let slow = busy(m) > 1000;
                s.complete(
                    &Completion {
                        monitor: m,
                        verdict: Some(Verdict {
                            slow,
                            ..verdict(!suspect(m))
                        }),
                    },
                    t,
                );
                false
            });
            s.tick(t, q.send());
            while running.len() < workers {
                let Some(d) = q.items.pop_front() else { break };
                running.push((d.monitor, t + busy(d.monitor)));
                started.push((d.monitor, d.due, t));
            }
            let now = q
                .items
                .iter()
                .map(|d| d.monitor)
                .chain(running.iter().map(|r| r.0));
            most = most.max(now.filter(|&m| suspect(m)).count());
        }
        (started, most)
    }

    #[test]
    fn suspect_checks_keep_to_their_share_and_healthy_ones_stay_on_time() {
        // One healthy monitor at 1 s (never seen up at first, so suspect too) and 200 that hang
        // for 3 s, on 8 workers, half of them for suspect checks.
        let mut s = Schedule::new(secs(&[1; 201]), Mode::Repeat).with_suspect_share(8, 0.5);
        let healthy = 0;
        let (started, most) = pool(
            &mut s,
            8,
            180_000,
            |m| if m == healthy { 5 } else { 3000 },
            |m| m != healthy,
        );
        assert_eq!(started[0], (0, 0, 0));
        let ok: Vec<(u64, u64)> = started
            .iter()
            .filter(|c| c.0 == healthy)
            .map(|c| (c.1, c.2))
            .collect();
        // After the first round (every worker was free for it, no monitor being healthy yet),
        // every occurrence is checked, at most one grain late.
        let steady: Vec<&(u64, u64)> = ok.iter().filter(|c| c.0 >= 10_000).collect();
        assert_eq!(steady.len(), 171, "{ok:?}");
        assert!(
            steady.iter().all(|(due, at)| at - due <= GRAIN_MS),
            "{ok:?}"
        );
        // Suspect checks never held more than their 4 workers (and queue places) after that.
        assert!(most <= 8, "{most}");
        let c = s.counters();
        assert!(c.held_back > 0 && c.held_depth > 0, "{c:?}");
        assert!(c.suspect_busy <= 4, "{c:?}");
        assert_eq!(c.suspects, 200);
        // Held-back monitors are still served in turn: every hanging monitor was checked.
        for m in 1..=200 {
            assert!(
                started.iter().any(|c| c.0 == m),
                "monitor {m} never checked"
            );
        }
    }

    #[test]
    fn a_recent_peak_is_forgotten_after_two_windows() {
        let mut p = RecentPeak::default();
        p.note(1_000, 5);
        p.note(2_000, 3);
        assert_eq!(p.get(2_000), 5);
        assert_eq!(
            p.get(PEAK_WINDOW_MS + 1),
            5,
            "the window before is remembered"
        );
        p.note(PEAK_WINDOW_MS + 1, 2);
        assert_eq!(p.get(PEAK_WINDOW_MS + 2), 5);
        assert_eq!(p.get(2 * PEAK_WINDOW_MS), 2);
        assert_eq!(p.get(3 * PEAK_WINDOW_MS), 0, "nothing noted since");
        p.note(10 * PEAK_WINDOW_MS, 1);
        assert_eq!(
            p.get(10 * PEAK_WINDOW_MS),
            1,
            "an old peak does not come back"
        );
    }

    #[test]
    fn a_new_lists_first_round_borrows_the_idle_healthy_part_of_the_pool() {
        // 10,000 new monitors every 10 s on 64 workers, half of them for suspect checks. Every
        // 100th site hangs for its 2 s timeout: its three attempts a round want 60 workers,
        // more than the share; the others answer in 20 ms and want 20.
        let n = 10_000;
        let dead = |m: usize| m % 100 == 7;
        let mut s = Schedule::new(secs(&vec![10; n]), Mode::Repeat).with_suspect_share(64, 0.5);
        let (started, _) = pool(
            &mut s,
            64,
            40_000,
            |m| if dead(m) { 2_000 } else { 20 },
            dead,
        );
        let late = |c: &&(usize, u64, u64)| c.2 - c.1;
        let mut first = vec![None; n];
        for c in &started {
            first[c.0].get_or_insert(*c);
        }
        let first: Vec<(usize, u64, u64)> = first.into_iter().map(Option::unwrap).collect();
        let first_late = first.iter().map(|c| late(&c)).max().unwrap();
        let later_late = started
            .iter()
            .filter(|c| !dead(c.0) && c.1 >= 20_000)
            .map(|c| late(&c))
            .max()
            .unwrap();
        let mut lateness: Vec<u64> = first.iter().map(|c| late(&c)).collect();
        lateness.sort_unstable();
        // Every first check on time but those due as the second round starts, which wait for
        // the healthy checks' reserve (a few hundred ms here). Counted as suspect, they would
        // all have waited behind the dead sites' retries (over 5 s for the last of them).
        assert!(
            lateness[n * 99 / 100] <= 100,
            "{:?}",
            &lateness[n * 9 / 10..]
        );
        assert!(first_late < 1000, "{:?}", &lateness[n * 9 / 10..]);
        // Healthy checks after the first round: on time.
        assert_eq!(later_late, 0);
        let c = s.counters();
        assert!(
            c.held_back > 0,
            "the dead sites' retries were held back: {c:?}"
        );
        assert!(c.suspect_busy - c.first_busy <= 32, "{c:?}");
    }

    #[test]
    fn held_back_checks_keep_one_pending_entry_per_monitor() {
        // Everything fails slowly on 2 workers (share 1 of 2), but one monitor is healthy so
        // the share applies.
        let mut s = Schedule::new(secs(&[1; 30]), Mode::Repeat).with_suspect_share(2, 0.5);
        let (_, most) = pool(
            &mut s,
            2,
            30_000,
            |m| if m == 0 { 1 } else { 2500 },
            |m| m != 0,
        );
        assert!(most <= 2, "{most}");
        let c = s.counters();
        assert!(c.held_depth <= 29, "{c:?}");
        assert!(c.coalesced > 0, "later occurrences coalesce: {c:?}");
        assert_eq!(c.suspect_busy, 1, "{c:?}");
    }

    #[test]
    fn once_mode_and_a_list_with_no_healthy_monitor_use_the_whole_pool_but_no_more() {
        let mut s = Schedule::new(secs(&[60; 10]), Mode::Once).with_suspect_share(4, 0.5);
        let mut q = Queue::new(100);
        s.tick(0, q.send());
        assert_eq!(q.items.len(), 10);
        let mut s = Schedule::new(secs(&[1; 10]), Mode::Repeat).with_suspect_share(4, 0.25);
        let mut q = Queue::new(100);
        s.tick(100, q.send());
        assert_eq!(
            q.items.len(),
            4,
            "first round: nothing to protect, the whole pool"
        );
        // Once one is up, the failing ones are held to their one worker, while the first
        // checks of the six never checked borrow what healthy checks leave idle: all of the
        // pool but the reserve (an eighth of it, at least one worker, before any healthy check).
        s.complete(&done(0, true), 110);
        for d in q.items.drain(..).skip(1) {
            s.complete(&done(d.monitor, false), 110);
        }
        s.tick(5_000, q.send());
        let sent: Vec<usize> = q.items.drain(..).map(|d| d.monitor).collect();
        assert_eq!(sent, [4, 5, 6, 0]);
        assert_eq!(s.counters().held_depth, 6);
        // The reserve then follows the healthy checks: twice the most in flight at once.
        for m in sent {
            s.complete(&done(m, m == 0), 5_010);
        }
        s.tick(6_000, q.send());
        let sent: Vec<usize> = q.items.drain(..).map(|d| d.monitor).collect();
        assert!(sent.contains(&0), "{sent:?}");
        let others: Vec<usize> = sent.into_iter().filter(|&m| m != 0).collect();
        assert_eq!(others, [7, 8], "two first checks, no suspect one");
        let c = s.counters();
        assert_eq!((c.suspect_busy, c.first_busy), (2, 2), "{c:?}");
    }

    #[test]
    fn without_reloads_the_scheduler_sleeps_instead_of_spinning() {
        // Regression: without a reload thread (once mode, URLs on the command line) the reload
        // channel is disconnected from the start, which kept the scheduler's `select!` ready:
        // it spun on a core (half of sitewatch's CPU in a `--once` run) instead of sleeping.
        use crossbeam_channel::{bounded, unbounded};
        let stats = Arc::new(Stats::new(1, 1));
        let (jobs, queued) = bounded(4);
        let (finished, done_rx) = unbounded();
        let (stop_tx, stop) = bounded::<()>(0);
        let (printer, _printed) = bounded(64);
        let (_now_tx, stop_now) = bounded::<()>(0);
        let (plans, reloads) = bounded(1);
        drop(plans);
        let wiring = Wiring {
            jobs,
            done: done_rx,
            stop,
            deadline: never(),
            events: Arc::new(Fanout::new(printer, Arc::clone(&stats))),
            stopping: Arc::new(AtomicBool::new(false)),
            stop_now,
            reloads,
            catalog: Arc::new(Catalog::new(Arc::new(Vec::new()))),
        };
        let schedule = Schedule::new(secs(&[3600]), Mode::Repeat);
        let shared = Arc::clone(&stats);
        let scheduler = std::thread::spawn(move || run(schedule, Instant::now(), wiring, shared));
        // The first check is due at once; after its completion nothing is due for an hour.
        let job = queued
            .recv_timeout(Duration::from_secs(30))
            .expect("the first check is dispatched");
        finished.send(done(job.monitor, true)).unwrap();
        let start = Instant::now();
        while stats.state(0) == State::Unknown && start.elapsed() < Duration::from_secs(30) {
            std::thread::yield_now();
        }
        assert_eq!(stats.state(0), State::Up, "the completion was taken");
        // The window observed, not a synchronisation: asleep, the scheduler wakes at most once
        // or twice in it; spinning, it goes round its loop thousands of times.
        let before = stats.scheduler_sleeps();
        std::thread::sleep(Duration::from_millis(200));
        let sleeps = stats.scheduler_sleeps() - before;
        drop(stop_tx);
        scheduler.join().unwrap();
        assert!(sleeps <= 5, "{sleeps} wake-ups in 200 ms with nothing due");
    }

    /// Ticks at each wake-up until something is dispatched; returns it and the tick.
    fn next_dispatch(s: &mut Schedule, q: &mut Queue) -> (Dispatch, u64) {
        for _ in 0..1000 {
            let t = s.next_wake().expect("something scheduled");
            s.tick(t, q.send());
            if let Some(d) = q.items.pop_front() {
                return (d, t);
            }
        }
        panic!("nothing dispatched");
    }

    fn no_verdict(monitor: usize) -> Completion {
        Completion {
            monitor,
            verdict: None,
        }
    }

    #[test]
    fn a_check_without_a_verdict_frees_the_monitor_and_keeps_its_health() {
        // Retries 0: one failed verdict would put it down at once.
        let cadence = Cadence {
            interval: Duration::from_secs(10),
            policy: Policy {
                retries: 0,
                ..crate::config::default_policy(Duration::from_secs(10))
            },
        };
        let mut s = Schedule::new([cadence], Mode::Repeat);
        let mut q = Queue::new(4);
        s.tick(0, q.send());
        q.items.clear();
        s.complete(&done(0, true), 5);
        assert_eq!(s.state(0), State::Up);
        // Ten non-verdicts in a row: no transition, nothing counted down, and each time the
        // monitor is free for its next occurrence, on the fixed grid.
        let mut t = 0;
        for _ in 0..10 {
            let d;
            (d, t) = next_dispatch(&mut s, &mut q);
            assert_eq!(d.due % 10_000, 0);
            assert_eq!(s.complete(&no_verdict(0), t + 3), None);
            assert_eq!(s.state(0), State::Up);
        }
        assert_eq!(s.counters().down, 0);
        assert_eq!(s.counters().coalesced, 0);
        assert!(t >= 100_000, "{t}");
    }

    #[test]
    fn once_mode_retries_a_check_without_a_verdict_then_leaves_it_undecided() {
        let mut s = Schedule::new(secs(&[60]), Mode::Once);
        let mut q = Queue::new(4);
        s.tick(0, q.send());
        let mut dues = vec![q.items.pop_front().unwrap().due];
        for _ in 0..ONCE_NO_VERDICT_TRIES {
            assert_eq!(s.complete(&no_verdict(0), dues[dues.len() - 1] + 1), None);
            assert!(!s.is_finished());
            dues.push(next_dispatch(&mut s, &mut q).0.due);
        }
        // Each retry after the retry delay (2 s by default).
        assert_eq!(dues, vec![0, 2_001, 4_002, 6_003]);
        assert_eq!(s.complete(&no_verdict(0), 6_004), None);
        assert!(s.is_finished());
        assert_eq!(s.state(0), State::Unknown);
    }
}
