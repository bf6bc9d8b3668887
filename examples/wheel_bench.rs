//! Micro-benchmark of the timing wheel alone, at 1 M entries (a plain harness; run in release):
//!
//! ```text
//! cargo run --release --example wheel_bench            # 1,000,000 entries, 5 repeats
//! cargo run --release --example wheel_bench -- 100000 3
//! ```
//!
//! Measurements, each repeated and reported as the median; times are this thread's CPU time
//! (`/proc/thread-self/schedstat`), so a busy machine slows them down less than wall time,
//! except `insert`, which is too short for that clock and is wall time:
//! - `insert`: insert N entries with dues spread uniformly over 1 s – 1 h (1 tick = 1 ms) into
//!   an empty wheel (slab preallocated, as sitewatch's scheduler does), ns per insert;
//! - `drain`: advance 1 ms at a time through the whole hour until every entry has fired (cascades
//!   included), ns per expiry;
//! - `recurring`: the scheduler's steady state: N monitors, each re-inserted one interval after
//!   it fires, advanced 1 ms at a time (every step, as if the scheduler woke every millisecond):
//!   intervals from 1 s to 1 h over 10 virtual minutes, and all at 1 h over 20 virtual minutes;
//!   ns per (expiry + re-insert), and CPU ms per virtual second (the wheel's share of a core).
//!
//! The last line is one JSON object with the medians, for scripts/bench.sh.

use std::hint::black_box;
use std::time::Instant;

use sitewatch::wheel::Wheel;

/// splitmix64: deterministic and fast.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

const HOUR: u64 = 3_600_000;

/// CPU time this thread has run, in ns (Linux `/proc/thread-self/schedstat`), so that figures
/// taken on a busy machine count only this thread's own work; `None` where unavailable.
fn cpu_ns() -> Option<u128> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Measures `f`, returning its result with (wall ns, CPU ns; CPU = wall when unavailable).
fn timed<R>(f: impl FnOnce() -> R) -> (R, f64, f64) {
    let (c0, t) = (cpu_ns(), Instant::now());
    let r = f();
    let wall = t.elapsed().as_nanos();
    let cpu = match (c0, cpu_ns()) {
        (Some(a), Some(b)) => b - a,
        _ => wall,
    };
    (r, wall as f64, cpu as f64)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Returns (ns per insert in wall time, ns per expiry while draining in CPU time).
fn insert_and_drain(n: usize, seed: u64) -> (f64, f64) {
    let mut rng = Rng(seed);
    let dues: Vec<u64> = (0..n).map(|_| 1000 + rng.next() % (HOUR - 1000)).collect();
    let mut wheel: Wheel<u32> = Wheel::with_capacity(n);
    // Inserting a million takes a few ms, below the resolution of the CPU clock: wall time.
    let ((), insert, _) = timed(|| {
        for (i, &due) in dues.iter().enumerate() {
            wheel.insert(i as u32, due);
        }
    });
    let mut out = Vec::with_capacity(4096);
    let (fired, _, drain) = timed(|| {
        let (mut fired, mut now) = (0usize, 0);
        while !wheel.is_empty() {
            now += 1;
            wheel.advance(now, &mut out);
            fired += out.len();
            black_box(&out);
            out.clear();
        }
        fired
    });
    assert_eq!(fired, n);
    (insert / n as f64, drain / fired as f64)
}

/// The scheduler's steady state over `span` virtual ms, 1 ms per step: every entry re-inserted
/// one interval after it fires. Returns (CPU ns per expiry + re-insert, CPU ns per virtual
/// second, expiries). Intervals are uniform in `lo..=hi` ms.
fn recurring(n: usize, lo: u64, hi: u64, span: u64, seed: u64) -> (f64, f64, usize) {
    let mut rng = Rng(seed);
    let intervals: Vec<u64> = (0..n).map(|_| lo + rng.next() % (hi - lo + 1)).collect();
    let mut wheel: Wheel<u32> = Wheel::with_capacity(n);
    for (i, &iv) in intervals.iter().enumerate() {
        // Phase spread across the interval, as the scheduler does.
        wheel.insert(i as u32, rng.next() % iv + 1);
    }
    let mut out = Vec::with_capacity(4096);
    let (fired, _, cpu) = timed(|| {
        let mut fired = 0usize;
        for now in 1..=span {
            wheel.advance(now, &mut out);
            for &(id, due) in &out {
                wheel.insert(id, due + intervals[id as usize]);
            }
            fired += out.len();
            out.clear();
        }
        fired
    });
    (
        cpu / fired.max(1) as f64,
        cpu / (span as f64 / 1000.0),
        fired,
    )
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map_or(1_000_000, |s| s.parse().expect("entries"));
    let repeats: usize = args.next().map_or(5, |s| s.parse().expect("repeats"));
    let mut m: [Vec<f64>; 6] = Default::default();
    let (mut fired_mixed, mut fired_hour) = (0, 0);
    for r in 0..repeats {
        let seed = 42 + r as u64;
        let (ins, drain) = insert_and_drain(n, seed);
        // 10 virtual minutes of intervals from 1 s to 1 h; 20 virtual minutes of 1 h intervals.
        let (mixed, mixed_s, f1) = recurring(n, 1000, HOUR, 600_000, seed);
        let (hour, hour_s, f2) = recurring(n, HOUR, HOUR, 1_200_000, seed);
        println!(
            "repeat {}: insert {ins:.1} ns; drain {drain:.1} ns/expiry; recurring 1 s–1 h: \
             {mixed:.1} ns/(expiry+insert), {:.3} ms CPU per virtual s ({f1} expiries); \
             recurring 1 h: {hour:.1} ns/(expiry+insert), {:.3} ms CPU per virtual s ({f2} expiries)",
            r + 1,
            mixed_s / 1e6,
            hour_s / 1e6,
        );
        for (v, x) in m.iter_mut().zip([ins, drain, mixed, mixed_s, hour, hour_s]) {
            v.push(x);
        }
        (fired_mixed, fired_hour) = (f1, f2);
    }
    let [a, b, c, d, e, f] = m.map(|mut v| median(&mut v));
    println!(
        "{{\"entries\":{n},\"repeats\":{repeats},\"insert_ns\":{a:.1},\"drain_ns_per_expiry\":{b:.1},\
         \"recurring_mixed_ns\":{c:.1},\"recurring_mixed_cpu_ms_per_s\":{:.4},\"recurring_mixed_expiries\":{fired_mixed},\
         \"recurring_hour_ns\":{e:.1},\"recurring_hour_cpu_ms_per_s\":{:.4},\"recurring_hour_expiries\":{fired_hour},\
         \"slab_bytes\":{}}}",
        d / 1e6,
        f / 1e6,
        n * 16,
    );
}
