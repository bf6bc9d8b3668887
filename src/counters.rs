//! Fixed-bucket histograms and per-monitor counters of atomics, for the `/metrics` endpoint.
//!
//! Workers update these with relaxed atomic adds, no lock and no allocation: a finished check
//! costs a handful of uncontended atomic operations on its own monitor's block. Readers (a
//! scrape) load them while workers keep writing; each value read is one that was true at some
//! moment, and a histogram's count is the sum of its buckets as read, so its `+Inf` bucket
//! always equals its `_count`.
//!
//! Memory: a [`MonitorCounters`] block is 88 bytes (11 bucket counts and 9 failure counts as
//! `u32`, a duration sum as `u64`): 88 MB at a million monitors, which is why
//! the blocks are only allocated when per-monitor series are on. `u32` counts wrap after four
//! billion checks of one monitor, 136 years at one check a second.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::probe::Reason;

/// Upper bounds (microseconds) of a check's duration buckets: 10 ms to 10 s, the span of
/// answers from a nearby server to a slow one near a typical timeout.
pub const DURATION_BOUNDS_US: [u64; 10] = [
    10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// Upper bounds (microseconds) of the lateness buckets: 1 ms (on time) to a minute (a stall).
pub const LATENESS_BOUNDS_US: [u64; 14] = [
    1_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000, 30_000_000, 60_000_000,
];

/// Upper bounds (microseconds) of the phase buckets (`sitewatch_check_phase_seconds`): 0.5 ms
/// (a lookup from cache, a connect on a LAN) to 10 s; phases are parts of a check, so the
/// scale starts lower than [`DURATION_BOUNDS_US`].
pub const PHASE_BOUNDS_US: [u64; 14] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];

/// Buckets of a phase histogram, +Inf included.
pub const PHASE_BUCKETS: usize = PHASE_BOUNDS_US.len() + 1;

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The bucket a value falls in: the first bound it does not exceed, or `bounds.len()` (+Inf).
fn bucket(bounds: &[u64], us: u64) -> usize {
    bounds.partition_point(|&b| b < us)
}

/// A histogram as read: counts per bucket (not cumulative; the last one is above every
/// bound), and the sum of the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot<const N: usize> {
    /// Samples per bucket; index `i < N - 1` counts values ≤ its bound and above the previous.
    pub counts: [u64; N],
    /// Sum of all samples, in microseconds.
    pub sum_us: u64,
}

impl<const N: usize> Snapshot<N> {
    /// Number of samples: the sum of the buckets.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// A shared histogram of durations with fixed bounds, `u64` counts (one per process).
pub struct Buckets<const N: usize> {
    bounds: &'static [u64],
    counts: [AtomicU64; N],
    sum_us: AtomicU64,
}

impl<const N: usize> Buckets<N> {
    /// An empty histogram over `bounds` (`N` must be `bounds.len() + 1`).
    pub fn new(bounds: &'static [u64]) -> Buckets<N> {
        assert_eq!(bounds.len() + 1, N, "one bucket per bound plus +Inf");
        Buckets {
            bounds,
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_us: AtomicU64::new(0),
        }
    }

    /// Adds one sample.
    pub fn record(&self, value: Duration) {
        let us = micros(value);
        self.counts[bucket(self.bounds, us)].fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
    }

    /// The counts as they are now.
    pub fn snapshot(&self) -> Snapshot<N> {
        Snapshot {
            counts: std::array::from_fn(|i| self.counts[i].load(Relaxed)),
            sum_us: self.sum_us.load(Relaxed),
        }
    }
}

/// Number of duration buckets per monitor, +Inf included.
pub const DURATION_BUCKETS: usize = DURATION_BOUNDS_US.len() + 1;

/// One monitor's counters for `/metrics`, updated only by the worker checking it (one at a
/// time, the scheduler's rule) and read by scrapes.
#[derive(Default)]
pub struct MonitorCounters {
    duration: [AtomicU32; DURATION_BUCKETS],
    failures: [AtomicU32; Reason::ALL.len()],
    duration_sum_us: AtomicU64,
}

/// One monitor's counters, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorSnapshot {
    /// Durations of its verdicts.
    pub duration: Snapshot<DURATION_BUCKETS>,
    /// Down verdicts per reason, in the order of [`Reason::ALL`].
    pub failures: [u64; Reason::ALL.len()],
}

impl MonitorCounters {
    /// Records a verdict: how long the check took, its failure reason if down.
    pub fn record(&self, elapsed: Duration, reason: Option<Reason>) {
        let us = micros(elapsed);
        self.duration[bucket(&DURATION_BOUNDS_US, us)].fetch_add(1, Relaxed);
        self.duration_sum_us.fetch_add(us, Relaxed);
        if let Some(reason) = reason {
            // Reason::ALL is in declaration order, so the discriminant is the index.
            self.failures[reason as usize].fetch_add(1, Relaxed);
        }
    }

    /// The counters as they are now.
    pub fn snapshot(&self) -> MonitorSnapshot {
        MonitorSnapshot {
            duration: Snapshot {
                counts: std::array::from_fn(|i| u64::from(self.duration[i].load(Relaxed))),
                sum_us: self.duration_sum_us.load(Relaxed),
            },
            failures: std::array::from_fn(|i| u64::from(self.failures[i].load(Relaxed))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_monitor_block_stays_small() {
        assert_eq!(std::mem::size_of::<MonitorCounters>(), 88);
    }

    #[test]
    fn reasons_index_in_declaration_order() {
        for (i, r) in Reason::ALL.into_iter().enumerate() {
            assert_eq!(r as usize, i);
        }
    }

    #[test]
    fn values_land_in_the_first_bucket_that_holds_them() {
        let b: Buckets<15> = Buckets::new(&LATENESS_BOUNDS_US);
        b.record(Duration::ZERO);
        b.record(Duration::from_millis(1)); // on the bound: le="0.001"
        b.record(Duration::from_micros(1_001));
        b.record(Duration::from_secs(3600));
        let s = b.snapshot();
        assert_eq!(s.counts[0], 2);
        assert_eq!(s.counts[1], 1);
        assert_eq!(s.counts[14], 1);
        assert_eq!(s.count(), 4);
        assert_eq!(s.sum_us, 1_000 + 1_001 + 3_600_000_000);
    }

    #[test]
    fn monitor_counters_record_duration_and_reason() {
        let m = MonitorCounters::default();
        m.record(Duration::from_millis(30), None);
        m.record(Duration::from_secs(11), Some(Reason::Timeout));
        let s = m.snapshot();
        assert_eq!(s.duration.counts[2], 1, "30 ms is within 50 ms");
        assert_eq!(s.duration.counts[DURATION_BUCKETS - 1], 1);
        assert_eq!(s.failures[Reason::Timeout as usize], 1);
        assert_eq!(s.failures.iter().sum::<u64>(), 1);
    }
}
