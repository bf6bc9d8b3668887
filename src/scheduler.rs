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
//! - **Smooth load.** Monitors sharing an interval get phases spread evenly across it, so N
//!   monitors at interval T cost about N/T checks per second rather than a herd every T. The
//!   first round starts at once, at up to [`WARMUP_PER_SECOND`] checks per second, so a short
//!   list shows every result within a second; each monitor then joins its phase no less than
//!   half an interval after its first check.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver, Sender, TrySendError};

use crate::stats::{ScheduleCounters, Stats};
use crate::wheel::Wheel;

/// How fast the first round of checks is released at start-up.
pub const WARMUP_PER_SECOND: u64 = 1000;

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

#[derive(Debug, Clone, Copy)]
struct Slot {
    interval: u64,
    phase: u64,
    pending: bool,
}

/// The scheduling policy: which monitor is due, coalescing, the overflow FIFO.
pub struct Schedule {
    wheel: Wheel<u32>,
    slots: Vec<Slot>,
    overflow: VecDeque<Dispatch>,
    fired: Vec<(u32, u64)>,
    mode: Mode,
    unfinished: usize,
    counters: ScheduleCounters,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Spreads each group of equal intervals evenly across its interval, in config order.
fn phases(intervals: &[u64]) -> Vec<u64> {
    let mut sizes: HashMap<u64, u64> = HashMap::new();
    for &i in intervals {
        *sizes.entry(i).or_default() += 1;
    }
    let mut seen: HashMap<u64, u64> = HashMap::with_capacity(sizes.len());
    intervals
        .iter()
        .map(|&i| {
            let k = seen.entry(i).or_default();
            let phase = (u128::from(*k) * u128::from(i) / u128::from(sizes[&i])) as u64;
            *k += 1;
            phase
        })
        .collect()
}

impl Schedule {
    /// A schedule for monitors with these intervals (index = monitor), starting at tick 0.
    pub fn new(intervals: &[Duration], mode: Mode) -> Schedule {
        let ms: Vec<u64> = intervals.iter().map(|&d| millis(d).max(1)).collect();
        let mut wheel = Wheel::with_capacity(ms.len());
        let slots: Vec<Slot> = phases(&ms)
            .into_iter()
            .zip(&ms)
            .map(|(phase, &interval)| Slot {
                interval,
                phase,
                pending: false,
            })
            .collect();
        for (j, slot) in slots.iter().enumerate() {
            let first = match mode {
                Mode::Once => 0,
                Mode::Repeat => (j as u64 * 1000 / WARMUP_PER_SECOND).min(slot.phase),
            };
            wheel.insert(j as u32, first);
        }
        Schedule {
            wheel,
            unfinished: slots.len(),
            slots,
            overflow: VecDeque::new(),
            fired: Vec::new(),
            mode,
            counters: ScheduleCounters::default(),
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
        self.wheel.insert(monitor as u32, next);
        due
    }

    /// Fires everything due at `now` and hands out what it can through `send`, which returns the
    /// dispatch back when the queue is full. Overflowed dispatches go first, in due order.
    pub fn tick<F>(&mut self, now: u64, mut send: F)
    where
        F: FnMut(Dispatch) -> Result<(), Dispatch>,
    {
        self.drain_overflow(&mut send);
        let mut fired = std::mem::take(&mut self.fired);
        self.wheel.advance(now, &mut fired);
        // The wheel leaves same-tick order open; config order makes overload fair and runs
        // reproducible.
        fired.sort_unstable_by_key(|&(monitor, due)| (due, monitor));
        for &(monitor, due) in &fired {
            let monitor = monitor as usize;
            let due = match self.mode {
                Mode::Repeat => self.reschedule(monitor, due, now),
                Mode::Once => due,
            };
            if self.slots[monitor].pending {
                self.counters.coalesced += 1;
                continue;
            }
            self.slots[monitor].pending = true;
            let dispatch = Dispatch { monitor, due };
            if !self.overflow.is_empty() {
                self.push_overflow(dispatch);
            } else if let Err(back) = send(dispatch) {
                self.push_overflow(back);
            }
        }
        fired.clear();
        self.fired = fired;
        self.counters.overflow_depth = self.overflow.len();
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

    /// Records that `monitor`'s check finished: it may be queued again.
    pub fn complete(&mut self, monitor: usize) {
        let slot = &mut self.slots[monitor];
        if slot.pending {
            slot.pending = false;
            if self.mode == Mode::Once {
                self.unfinished -= 1;
            }
        }
    }

    /// The tick at which [`tick`](Self::tick) next has work, if any.
    pub fn next_wake(&self) -> Option<u64> {
        self.wheel.next_wake()
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

/// Channels the scheduler thread talks through.
pub struct Wiring {
    /// Jobs out to the workers (bounded: the queue).
    pub jobs: Sender<Job>,
    /// Monitor indexes back from the workers when a check ends.
    pub done: Receiver<usize>,
    /// Disconnects (or delivers) when the run must stop.
    pub stop: Receiver<()>,
    /// Fires when a `--duration` run is over (`never()` otherwise).
    pub deadline: Receiver<Instant>,
}

/// The scheduler thread's body. Returns when stopped, at the deadline, or (once mode) when every
/// monitor has been checked. Dropping `wiring.jobs` on return is what tells the workers to end.
pub fn run(mut schedule: Schedule, start: Instant, wiring: Wiring, stats: Arc<Stats>) {
    let Wiring {
        jobs,
        done,
        stop,
        deadline,
    } = wiring;
    loop {
        let now = Instant::now();
        let tick = millis(now.saturating_duration_since(start));
        schedule.tick(tick, |d| {
            let job = Job {
                monitor: d.monitor,
                due: start + Duration::from_millis(d.due),
                dispatched: now,
            };
            jobs.try_send(job).map_err(|e| match e {
                TrySendError::Full(_) | TrySendError::Disconnected(_) => d,
            })
        });
        stats.set_schedule(schedule.counters());
        if schedule.is_finished() {
            return;
        }
        let wait = match schedule.next_wake() {
            Some(t) => (start + Duration::from_millis(t)).saturating_duration_since(Instant::now()),
            None => Duration::from_secs(3600),
        };
        select! {
            recv(done) -> monitor => match monitor {
                Ok(m) => {
                    schedule.complete(m);
                    for m in done.try_iter() {
                        schedule.complete(m);
                    }
                }
                // Every worker is gone; nothing more can be checked.
                Err(_) => return,
            },
            recv(stop) -> _ => return,
            recv(deadline) -> _ => return,
            default(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(list: &[u64]) -> Vec<Duration> {
        list.iter().map(|&s| Duration::from_secs(s)).collect()
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
                s.complete(d.monitor);
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
    fn phases_spread_each_interval_group_evenly() {
        assert_eq!(phases(&[1000, 1000, 1000, 1000]), vec![0, 250, 500, 750]);
        assert_eq!(phases(&[1000, 60_000, 1000]), vec![0, 0, 500]);
    }

    #[test]
    fn short_list_runs_at_once_then_settles_on_its_phase() {
        let mut s = Schedule::new(&secs(&[60, 60, 60]), Mode::Repeat);
        let all = simulate(&mut s, 200_000);
        let first: Vec<u64> = all.iter().take(3).map(|d| d.due).collect();
        assert_eq!(first, vec![0, 1, 2]);
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
        let mut s = Schedule::new(&secs(&[1, 7]), Mode::Repeat);
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
        let mut s = Schedule::new(&secs(&[10; 1000]), Mode::Repeat);
        let all = simulate(&mut s, 60_000);
        for second in 20..60u64 {
            let n = all.iter().filter(|d| d.due / 1000 == second).count();
            assert_eq!(n, 100, "second {second}");
        }
    }

    #[test]
    fn pending_monitor_is_coalesced_not_queued_twice() {
        let mut s = Schedule::new(&secs(&[1]), Mode::Repeat);
        let mut q = Queue::new(10);
        s.tick(0, q.send());
        assert_eq!(q.items.len(), 1);
        // The check hangs for 3.5 periods: three occurrences are coalesced.
        for t in [1000, 2000, 3000] {
            s.tick(t, q.send());
        }
        assert_eq!(q.items.len(), 1);
        assert_eq!(s.counters().coalesced, 3);
        s.complete(0);
        s.tick(4000, q.send());
        assert_eq!(q.items.len(), 2);
        assert_eq!(q.items[1].due, 4000);
    }

    #[test]
    fn full_queue_overflows_in_due_order_and_drains_first() {
        let mut s = Schedule::new(&secs(&[10; 4]), Mode::Repeat);
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
        let mut s = Schedule::new(&secs(&[1; 50]), Mode::Repeat);
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
        let mut s = Schedule::new(&secs(&[1]), Mode::Repeat);
        let mut q = Queue::new(10);
        s.tick(0, q.send());
        s.complete(0);
        // The scheduler is frozen for 5.5 s: one late check now, four occurrences missed.
        s.tick(5500, q.send());
        assert_eq!(q.items.back().unwrap().due, 5000);
        assert_eq!(s.counters().missed, 4);
        s.complete(0);
        s.tick(6000, q.send());
        assert_eq!(q.items.back().unwrap().due, 6000);
    }

    #[test]
    fn once_mode_checks_each_monitor_once_and_finishes() {
        let mut s = Schedule::new(&secs(&[1, 1, 30]), Mode::Once);
        let mut q = Queue::new(2);
        s.tick(0, q.send());
        assert!(!s.is_finished());
        let mut seen = Vec::new();
        for t in 1..10 {
            while let Some(d) = q.items.pop_front() {
                seen.push(d.monitor);
                s.complete(d.monitor);
            }
            s.tick(t, q.send());
        }
        assert_eq!(seen, vec![0, 1, 2]);
        assert!(s.is_finished());
        assert_eq!(s.next_wake(), None);
    }
}
