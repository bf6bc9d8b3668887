//! How busy the worker pool was over a report's window, and how many workers would give it
//! headroom when it runs hot.
//!
//! A thread-per-check pool is sized by the checks *in flight*, not by the request rate: a list
//! of slow sites needs many more workers than a list of fast ones at the same rate. The only
//! honest measure is the pool's own: busy worker-seconds per second (Little's law: checks per
//! second × seconds per check). Each worker's [`Slot`] adds the time of every check it finishes
//! to its busy total, and a reader adds the time the running check has spent so far, so a
//! window's busy time is exact to the clock reads, also for checks that straddle its edges.
//!
//! The pool runs *hot* when it was busy for more than [`HOT_SHARE`] of its capacity on average,
//! or when any check waited [`WAIT_HOT`] or more for a free worker (the pool was full, whatever
//! the average says). The suggestion then sizes the pool so that the demand fills [`HEADROOM`]
//! of it: busy ÷ 0.7, where the demand is the pool's size when checks had to wait (the real
//! demand was higher, by an amount the pool could not see).
//!
//! Checks of suspect monitors (never up yet, failing, slow) held back because their share of the
//! pool was full are said, but do not make the pool hot: holding dead sites back is what keeps
//! the healthy ones on time, and with a few percent of a large list dead it happens every
//! minute in a pool that has room to spare (measured: 100,000 monitors, 4 % failing, 1,024
//! workers 67 % busy, every healthy check on time). A new list's first checks borrow what healthy
//! checks leave idle (see `scheduler`); the report's saturation part says what would help.

use std::time::{Duration, Instant};

use serde::Serialize;

/// The share of the pool the suggested size leaves busy on average.
pub const HEADROOM: f64 = 0.7;

/// Above this share of the pool busy on average, the pool runs hot.
pub const HOT_SHARE: f64 = 0.8;

/// A check that waited this long for a free worker makes the pool hot.
pub const WAIT_HOT: Duration = Duration::from_secs(1);

/// One worker's slot: the check it is running (monitor, start) and the total time of the checks
/// it has finished.
#[derive(Debug, Default, Clone, Copy)]
pub struct Slot {
    /// The check running now: monitor index and when it started.
    pub running: Option<(usize, Instant)>,
    /// Time spent in finished checks since the start of the run.
    pub busy: Duration,
}

impl Slot {
    /// Starts a check (`Some`), or ends the running one (`None`) and adds its time.
    pub fn set(&mut self, job: Option<(usize, Instant)>, now: Instant) {
        if let Some((_, since)) = self.running {
            self.busy += now.saturating_duration_since(since);
        }
        self.running = job;
    }

    /// Busy time so far at `now`: finished checks plus the running one.
    pub fn busy_at(&self, now: Instant) -> Duration {
        self.busy
            + self.running.map_or(Duration::ZERO, |(_, since)| {
                now.saturating_duration_since(since)
            })
    }
}

/// The pool's load over one window.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct PoolLoad {
    /// Workers busy on average (busy worker-seconds per second of the window).
    pub busy_workers: f64,
    /// That, as a percentage of the pool.
    pub busy_pct: f64,
    /// Checks of the window that waited [`WAIT_HOT`] or more in the queue for a free worker.
    pub waited: u64,
    /// Checks of suspect monitors held back in the window because their share was full.
    pub held: u64,
    /// Whether the pool ran hot (see the module's documentation).
    pub hot: bool,
    /// When hot: a pool size that would leave [`HEADROOM`] of it busy.
    pub suggested_workers: Option<usize>,
}

impl PoolLoad {
    /// The load of a pool of `workers` that was busy for `busy` (summed over workers) in a
    /// window of `window`, during which `waited` checks waited [`WAIT_HOT`] or more and `held`
    /// checks of suspect monitors were held back (said, not counted as hot).
    pub fn new(
        busy: Duration,
        window: Duration,
        waited: u64,
        held: u64,
        workers: usize,
    ) -> PoolLoad {
        let secs = window.as_secs_f64();
        let busy_workers = if secs > 0.0 {
            // The clock reads of a window's edges may differ by microseconds: never more than
            // the whole pool.
            (busy.as_secs_f64() / secs).min(workers as f64)
        } else {
            0.0
        };
        let share = if workers > 0 {
            busy_workers / workers as f64
        } else {
            0.0
        };
        let hot = share > HOT_SHARE || waited > 0;
        let demand = if waited > 0 {
            busy_workers.max(workers as f64)
        } else {
            busy_workers
        };
        PoolLoad {
            busy_workers,
            busy_pct: share * 100.0,
            waited,
            held,
            hot,
            suggested_workers: hot.then(|| suggest(demand)),
        }
    }

    /// `pool: 212.4 of 512 workers busy on average (41 %)`, and when hot what would help.
    pub fn text(&self, workers: usize) -> String {
        let mut line = format!(
            "pool: {:.1} of {} workers busy on average ({:.0} %)",
            self.busy_workers, workers, self.busy_pct
        );
        if self.waited > 0 {
            line.push_str(&format!(
                ", {} checks waited {} s or more for a worker",
                self.waited,
                WAIT_HOT.as_secs()
            ));
        }
        if self.held > 0 {
            line.push_str(&format!(
                ", {} checks of failing or new monitors held back for their share",
                self.held
            ));
        }
        if let Some(n) = self.suggested_workers {
            line.push_str(&format!(
                ": running hot; --workers {n} would leave headroom ({:.0} % busy)",
                HEADROOM * 100.0
            ));
        }
        line
    }
}

/// The pool size that leaves [`HEADROOM`] of it busy with `demand` workers' worth of checks.
fn suggest(demand: f64) -> usize {
    (demand / HEADROOM).ceil().max(1.0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn a_slot_counts_finished_and_running_checks() {
        let t0 = Instant::now();
        let mut slot = Slot::default();
        slot.set(Some((3, t0)), t0);
        assert_eq!(
            slot.busy_at(t0 + Duration::from_secs(2)),
            Duration::from_secs(2)
        );
        slot.set(None, t0 + Duration::from_secs(5));
        assert_eq!(slot.busy, Duration::from_secs(5));
        assert_eq!(
            slot.busy_at(t0 + Duration::from_secs(9)),
            Duration::from_secs(5)
        );
        slot.set(None, t0 + Duration::from_secs(9));
        assert_eq!(slot.busy, Duration::from_secs(5), "idle time is not busy");
    }

    #[test]
    fn a_calm_pool_says_how_busy_it_was_and_nothing_more() {
        // 212.4 workers busy on average over a minute, of 512.
        let load = PoolLoad::new(Duration::from_secs_f64(212.4 * 60.0), MIN, 0, 0, 512);
        assert!(!load.hot);
        assert_eq!(load.suggested_workers, None);
        assert_eq!(
            load.text(512),
            "pool: 212.4 of 512 workers busy on average (41 %)"
        );
    }

    #[test]
    fn a_busy_pool_runs_hot_and_suggests_headroom() {
        // 420 of 512 busy (82 %): 420 / 0.7 = 600.
        let load = PoolLoad::new(420 * MIN, MIN, 0, 0, 512);
        assert!(load.hot);
        assert_eq!(load.suggested_workers, Some(600));
        assert_eq!(
            load.text(512),
            "pool: 420.0 of 512 workers busy on average (82 %): running hot; \
             --workers 600 would leave headroom (70 % busy)"
        );
    }

    #[test]
    fn checks_that_waited_make_the_pool_hot_whatever_the_average() {
        // Bursts: 50 % busy on average, but 12 checks found every worker busy for a second.
        let load = PoolLoad::new(32 * MIN, MIN, 12, 0, 64);
        assert!(load.hot);
        // The demand is at least the whole pool: 64 / 0.7 = 91.4.
        assert_eq!(load.suggested_workers, Some(92));
        assert!(
            load.text(64)
                .contains("12 checks waited 1 s or more for a worker: running hot; --workers 92"),
            "{}",
            load.text(64)
        );
    }

    #[test]
    fn checks_held_back_for_the_suspect_share_are_said_but_do_not_make_the_pool_hot() {
        // Dead sites held back in a pool with room to spare: the share did its work.
        let load = PoolLoad::new(687 * MIN, MIN, 0, 1_817, 1024);
        assert!(!load.hot);
        assert_eq!(load.suggested_workers, None);
        assert_eq!(
            load.text(1024),
            "pool: 687.0 of 1024 workers busy on average (67 %), 1817 checks of failing or new \
             monitors held back for their share"
        );
        // Held back in a hot pool: both are said, and the suggestion stands.
        let hot = PoolLoad::new(486 * MIN, MIN, 0, 2_296, 512);
        assert_eq!(hot.suggested_workers, Some(695));
        assert!(hot.text(512).ends_with(
            "2296 checks of failing or new monitors held back for their share: running hot; \
             --workers 695 would leave headroom (70 % busy)"
        ));
    }

    #[test]
    fn an_empty_window_is_idle() {
        let load = PoolLoad::new(Duration::ZERO, Duration::ZERO, 0, 0, 8);
        assert_eq!(load.busy_workers, 0.0);
        assert!(!load.hot);
    }
}
