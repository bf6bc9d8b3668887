//! A hierarchical timing wheel (Varghese & Lauck; the layout follows tokio's).
//!
//! This is a pure data structure: it owns no thread and never reads a clock.
//! Time is an abstract `u64` tick passed in by the caller (sitewatch uses
//! 1 tick = 1 ms since start), and the wheel only moves when told to.
//!
//! # Guarantees
//! - **Exact expiry.** `advance(now)` returns exactly the entries with
//!   `due <= now` (or `due <= now()` if `now` is in the past): never early,
//!   never late relative to the `now` passed, in non-decreasing `due` order.
//! - **O(1) insert**, and **O(1) amortized work per expiry**: an entry starts
//!   at the level matching its distance and only moves down, so it is touched
//!   at most 5 times by cascades before it fires. Finding the next occupied
//!   slot is a `trailing_zeros` on a per-level bitmask, so empty stretches of
//!   time cost nothing.
//! - **Memory**: one slab node per entry (`size_of::<Node<T>>()`, 16 bytes for
//!   `T = u32`: due, link, item) plus a fixed 384 slot heads (1.5 KiB) and 6
//!   bitmasks; about 16 MB for a million `u32` entries. Freed nodes are
//!   recycled (the slab keeps its high-water mark), so a steady state of
//!   "expire, re-insert one period later" performs no allocation.
//!
//! # Layout
//! 6 levels x 64 slots; a level-`L` slot spans `64^L` ticks, so the wheel
//! spans `64^6 = 2^36` ticks (~2.2 years at 1 ms). An entry sits at the level
//! of the highest 6-bit digit in which its due differs from the wheel's
//! position, which means each level only ever holds slots *after* the current
//! digit and the levels' slot ranges are disjoint and ordered: the earliest
//! non-empty slot of the lowest non-empty level is the next thing to do.
//! Dues at or before the current position wait in a ready list. Dues beyond
//! the current `2^36`-tick block (e.g. `u64::MAX / 2`; never produced by
//! sitewatch's <= 24 h intervals) are parked in a small min-heap keyed by due,
//! and each moves into the wheel exactly once, when the wheel enters its
//! block: O(log parked) extra, never early, and no rescans of the whole park.
//!
//! # Why hierarchical, not hashed
//! A single hashed wheel with `n` slots either has coarse slots (expiry is
//! late by up to a slot width) or must rescan entries whose due is several
//! rotations away (O(entries / slots) per tick). With 1 ms resolution and 24 h
//! intervals neither is acceptable; the hierarchy gives exact 1 ms expiry with
//! a bounded number of moves per entry.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Bits of a tick consumed per level (64 slots).
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const LEVELS: usize = 6;
/// log2 of the span of the whole wheel: 64^6 = 2^36 ticks.
const RANGE_BITS: u32 = SLOT_BITS * LEVELS as u32;
/// Null link; also caps the slab at `u32::MAX` entries so links stay 4 bytes.
const NONE: u32 = u32::MAX;

/// One entry. `next` links a slot list, the ready list or the free list
/// (unused while the node is parked in `far`).
#[derive(Clone, Copy)]
struct Node<T: Copy> {
    due: u64,
    next: u32,
    item: T,
}

/// Where the next unit of work lives.
#[derive(Clone, Copy)]
enum Bucket {
    Slot(usize, usize),
    Far,
}

/// A hierarchical timing wheel mapping items of type `T` to expiry ticks.
/// See the module documentation for guarantees and costs.
pub struct Wheel<T: Copy> {
    nodes: Vec<Node<T>>,
    free: u32,
    slots: [[u32; SLOTS]; LEVELS],
    occupied: [u64; LEVELS],
    ready: u32,
    /// Earliest due in `ready`; `next_wake` must not report a later tick.
    ready_min: u64,
    /// `(due, node)` for dues outside the current 2^36-tick block. A heap, not
    /// a list, so entering a block only touches the entries due in it.
    far: BinaryHeap<Reverse<(u64, u32)>>,
    /// Position of the wheel; every slot entry has `due > elapsed`.
    elapsed: u64,
    len: usize,
}

impl<T: Copy> Wheel<T> {
    /// Creates an empty wheel positioned at tick 0.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// Creates an empty wheel at tick 0 whose slab has room for `entries`
    /// entries, so holding up to that many never reallocates it.
    pub fn with_capacity(entries: usize) -> Self {
        Wheel {
            nodes: Vec::with_capacity(entries),
            free: NONE,
            slots: [[NONE; SLOTS]; LEVELS],
            occupied: [0; LEVELS],
            ready: NONE,
            ready_min: u64::MAX,
            far: BinaryHeap::new(),
            elapsed: 0,
            len: 0,
        }
    }

    /// Number of entries currently scheduled.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no entry is scheduled.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The tick the wheel has advanced to.
    pub fn now(&self) -> u64 {
        self.elapsed
    }

    /// Schedules `item` to expire at tick `due`. A `due` at or before `now()`
    /// expires at the next `advance` (even `advance(now())`).
    pub fn insert(&mut self, item: T, due: u64) {
        let node = Node {
            due,
            next: NONE,
            item,
        };
        let idx = if self.free != NONE {
            let idx = self.free;
            self.free = self.nodes[idx as usize].next;
            self.nodes[idx as usize] = node;
            idx
        } else {
            let idx = u32::try_from(self.nodes.len())
                .ok()
                .filter(|&i| i != NONE)
                .expect("timing wheel holds at most u32::MAX - 1 entries");
            self.nodes.push(node);
            idx
        };
        self.len += 1;
        self.link(idx);
    }

    /// Moves the wheel to tick `now` and appends every item with `due <= now`
    /// to `out` as `(item, due)`, in non-decreasing `due` order. A `now`
    /// earlier than `self.now()` moves nothing in time but still expires
    /// entries already due. The order among equal dues is unspecified.
    pub fn advance(&mut self, now: u64, out: &mut Vec<(T, u64)>) {
        // Ready entries were inserted in arbitrary order but all precede every
        // slot entry (due <= elapsed < any slot start), so sorting just them
        // is enough. Unstable sort: it does not allocate.
        let start = out.len();
        let head = std::mem::replace(&mut self.ready, NONE);
        self.ready_min = u64::MAX;
        self.drain(head, out);
        out[start..].sort_unstable_by_key(|&(_, due)| due);

        // Buckets come out in start order, and a bucket at start `s` only
        // emits entries due exactly `s` (the rest move down), so the output
        // stays sorted without further work.
        while let Some((bucket, at)) = self.next_bucket() {
            if at > now {
                break;
            }
            self.elapsed = at;
            let head = match bucket {
                Bucket::Slot(level, slot) => {
                    self.occupied[level] &= !(1u64 << slot);
                    std::mem::replace(&mut self.slots[level][slot], NONE)
                }
                Bucket::Far => {
                    let mut head = NONE;
                    while let Some(&Reverse((due, idx))) = self.far.peek() {
                        if due >> RANGE_BITS != at >> RANGE_BITS {
                            break;
                        }
                        self.far.pop();
                        self.nodes[idx as usize].next = head;
                        head = idx;
                    }
                    head
                }
            };
            self.drain(head, out);
        }
        self.elapsed = self.elapsed.max(now);
    }

    /// The earliest tick at which `advance` has work to do (an expiry, or a
    /// cascade from a higher level), or `None` when empty. Never later than
    /// the earliest due of any entry; may be in the past if something is
    /// already due. The caller sleeps until then.
    pub fn next_wake(&self) -> Option<u64> {
        if self.ready != NONE {
            return Some(self.ready_min);
        }
        self.next_bucket().map(|(_, at)| at)
    }

    /// Expires the entries of a detached list that are due at the current
    /// position and re-links the rest, which land strictly lower.
    fn drain(&mut self, mut idx: u32, out: &mut Vec<(T, u64)>) {
        while idx != NONE {
            let node = self.nodes[idx as usize];
            if node.due <= self.elapsed {
                out.push((node.item, node.due));
                self.nodes[idx as usize].next = self.free;
                self.free = idx;
                self.len -= 1;
            } else {
                self.link(idx);
            }
            idx = node.next;
        }
    }

    fn link(&mut self, idx: u32) {
        let due = self.nodes[idx as usize].due;
        let head = if due <= self.elapsed {
            self.ready_min = self.ready_min.min(due);
            &mut self.ready
        } else {
            // `| 63`: the whole current 64-tick window is level 0 (and
            // `leading_zeros` never sees 0).
            let level = ((63 - ((self.elapsed ^ due) | 63).leading_zeros()) / SLOT_BITS) as usize;
            if level >= LEVELS {
                self.far.push(Reverse((due, idx)));
                return;
            }
            let slot = ((due >> (SLOT_BITS * level as u32)) as usize) & (SLOTS - 1);
            self.occupied[level] |= 1u64 << slot;
            &mut self.slots[level][slot]
        };
        self.nodes[idx as usize].next = std::mem::replace(head, idx);
    }

    /// The earliest non-empty bucket and its start tick. Levels never hold a
    /// slot at or before the current digit (entries are placed by their first
    /// differing digit and a slot is emptied when the wheel reaches it), so no
    /// rotation is needed and lower levels always come first.
    fn next_bucket(&self) -> Option<(Bucket, u64)> {
        for level in 0..LEVELS {
            let occ = self.occupied[level];
            if occ != 0 {
                let shift = SLOT_BITS * level as u32;
                let slot = occ.trailing_zeros();
                debug_assert!(slot as u64 > (self.elapsed >> shift) & (SLOTS as u64 - 1));
                let base = self.elapsed & !((1u64 << (shift + SLOT_BITS)) - 1);
                return Some((
                    Bucket::Slot(level, slot as usize),
                    base + ((slot as u64) << shift),
                ));
            }
        }
        let Reverse((due, _)) = self.far.peek()?;
        Some((Bucket::Far, due & !((1u64 << RANGE_BITS) - 1)))
    }
}

impl<T: Copy> Default for Wheel<T> {
    /// Same as [`Wheel::new`].
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64: tiny, good enough to drive tests deterministically.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn range(&mut self, lo: u64, hi: u64) -> u64 {
            lo + self.below(hi - lo + 1)
        }
    }

    fn advance(w: &mut Wheel<u32>, now: u64) -> Vec<(u32, u64)> {
        let mut out = Vec::new();
        w.advance(now, &mut out);
        out
    }

    #[test]
    fn node_is_16_bytes_for_u32() {
        assert_eq!(std::mem::size_of::<Node<u32>>(), 16);
    }

    #[test]
    fn level_boundaries() {
        let mut deltas = vec![1, 2];
        for l in 1..=7u32 {
            let b = 1u64 << (SLOT_BITS * l);
            deltas.extend([b - 1, b, b + 1]);
        }
        for start in [0, 1, 63, 64, 4095, 12_345, (1 << 36) - 1, (1 << 36) + 777] {
            for &d in &deltas {
                let mut w = Wheel::new();
                assert!(advance(&mut w, start).is_empty());
                let due = start + d;
                w.insert(7, due);
                assert!(w.next_wake().unwrap() <= due);
                assert!(
                    advance(&mut w, due - 1).is_empty(),
                    "early: start {start} delta {d}"
                );
                assert_eq!(w.len(), 1);
                assert_eq!(
                    advance(&mut w, due),
                    vec![(7, due)],
                    "start {start} delta {d}"
                );
                assert!(w.is_empty() && w.next_wake().is_none());
                assert_eq!(w.now(), due);
            }
        }
    }

    #[test]
    fn due_at_or_before_now_fires_next_advance() {
        let mut w = Wheel::new();
        w.insert(1, 0);
        assert_eq!(w.next_wake(), Some(0));
        assert_eq!(advance(&mut w, 0), vec![(1, 0)]);
        advance(&mut w, 1_000);
        for (i, due) in [999, 5, 1_000, 500, 5, 1_001].into_iter().enumerate() {
            w.insert(i as u32, due);
        }
        assert_eq!(w.next_wake(), Some(5));
        // An earlier `now` moves nothing but still returns what is due, sorted.
        let got: Vec<u64> = advance(&mut w, 10).iter().map(|e| e.1).collect();
        assert_eq!(got, [5, 5, 500, 999, 1_000]);
        assert_eq!(w.now(), 1_000);
        assert_eq!(advance(&mut w, 1_001), vec![(5, 1_001)]);
    }

    #[test]
    fn huge_dues_never_fire_early() {
        let mut w = Wheel::new();
        let dues = [100, 1 << 40, u64::MAX / 2, u64::MAX];
        for (i, &d) in dues.iter().enumerate().rev() {
            w.insert(i as u32, d);
        }
        for (i, &d) in dues.iter().enumerate() {
            assert!(w.next_wake().unwrap() <= d);
            assert!(advance(&mut w, d - 1).is_empty());
            assert_eq!(advance(&mut w, d), vec![(i as u32, d)]);
        }
        assert!(w.is_empty());
        // Past the end of time, everything is due immediately.
        w.insert(9, 3);
        assert_eq!(advance(&mut w, u64::MAX), vec![(9, 3)]);
    }

    #[test]
    fn randomized_against_heap_oracle() {
        let ops = if cfg!(debug_assertions) {
            100_000
        } else {
            1_000_000
        };
        let mut rng = Rng(42);
        let mut w = Wheel::with_capacity(1024);
        let mut oracle = BinaryHeap::new();
        let (mut seq, mut now) = (0u64, 0u64);
        let mut out = Vec::new();
        for _ in 0..ops {
            if rng.below(3) != 0 {
                let due = match rng.below(10) {
                    0 => now.saturating_sub(rng.below(100)),
                    1..=4 => now + rng.below(5_000),
                    5..=7 => now + rng.below(100_000_000),
                    8 => now + rng.below(1 << 40),
                    _ => rng.below(u64::MAX / 2),
                };
                w.insert(seq as u32, due);
                oracle.push(Reverse((due, seq)));
                seq += 1;
                continue;
            }
            let target = match rng.below(20) {
                0 => now.saturating_sub(rng.below(10)),
                1 => now + rng.below(1 << 38),
                2..=5 => now + rng.range(1, 5_000_000),
                _ => now + rng.range(1, 2_000),
            };
            now = now.max(target);
            out.clear();
            w.advance(target, &mut out);
            assert!(out.windows(2).all(|p| p[0].1 <= p[1].1), "unsorted");
            let mut want = Vec::new();
            while let Some(&Reverse((due, s))) = oracle.peek() {
                if due > now {
                    break;
                }
                oracle.pop();
                want.push((due, s as u32));
            }
            let mut got: Vec<(u64, u32)> = out.iter().map(|&(i, d)| (d, i)).collect();
            got.sort_unstable();
            want.sort_unstable();
            assert_eq!(got, want);
            assert_eq!(w.len(), oracle.len());
            assert_eq!(w.now(), now);
            if let Some(&Reverse((min, _))) = oracle.peek() {
                assert!(w.next_wake().unwrap() <= min);
            }
        }
    }

    #[test]
    fn next_wake_reaches_earliest_in_bounded_steps() {
        let mut rng = Rng(7);
        let mut w = Wheel::new();
        let mut oracle = BinaryHeap::new();
        for s in 0..2_000u64 {
            let due = match rng.below(4) {
                0 => rng.below(10_000),
                1 => rng.below(100_000_000),
                2 => rng.below(1 << 42),
                _ => rng.below(u64::MAX / 2),
            };
            w.insert(s as u32, due);
            oracle.push(Reverse((due, s as u32)));
        }
        let mut out = Vec::new();
        while let Some(Reverse((min, id))) = oracle.pop() {
            let mut steps = 0;
            while !out.contains(&(id, min)) {
                let wake = w.next_wake().expect("entries remain");
                assert!(wake <= min, "wake {wake} after earliest due {min}");
                w.advance(wake, &mut out);
                steps += 1;
                // ready/far + one cascade per level.
                assert!(steps <= LEVELS + 2, "too many steps to reach {min}");
            }
            out.retain(|&e| e != (id, min));
            // Everything else returned alongside must have been due too.
            for &(i, d) in &out {
                assert!(d <= w.now());
                assert!(oracle.iter().any(|&Reverse(e)| e == (d, i)));
            }
            oracle.retain(|Reverse((d, i))| !out.contains(&(*i, *d)));
            out.clear();
        }
        assert!(w.is_empty() && w.next_wake().is_none());
    }

    #[test]
    fn recurring_timers_neither_drift_nor_fire_early_or_late() {
        struct Timer {
            start: u64,
            interval: u64,
            fired: u64,
            armed_after_call: u64,
        }
        let (n, horizon) = if cfg!(debug_assertions) {
            (5_000, 3_600_000)
        } else {
            (10_000, 3 * 3_600_000)
        };
        let mut rng = Rng(2024);
        let mut w = Wheel::with_capacity(n);
        let mut timers: Vec<Timer> = (0..n)
            .map(|i| {
                let interval = if i % 4 == 0 {
                    rng.range(1_000, 60_000)
                } else {
                    rng.range(1_000, 86_400_000)
                };
                let start = rng.below(interval);
                w.insert(i as u32, start + interval);
                Timer {
                    start,
                    interval,
                    fired: 0,
                    armed_after_call: 0,
                }
            })
            .collect();
        let (mut now, mut calls, mut firings) = (0u64, 0u64, 0u64);
        let mut out = Vec::with_capacity(n);
        while now < horizon {
            let prev = now;
            now += if rng.below(20_000) == 0 {
                rng.range(1_000, 120_000)
            } else {
                rng.range(1, 50)
            };
            out.clear();
            w.advance(now, &mut out);
            calls += 1;
            let mut last = 0;
            for &(id, due) in &out {
                let t = &mut timers[id as usize];
                assert!(due >= last, "unsorted");
                last = due;
                assert_eq!(due, t.start + (t.fired + 1) * t.interval, "drift");
                assert!(due <= now, "early");
                // Late = an earlier call after it was armed already covered it.
                assert!(due > prev || t.armed_after_call == calls - 1, "late");
                t.fired += 1;
                t.armed_after_call = calls;
                w.insert(id, due + t.interval);
                firings += 1;
            }
        }
        assert_eq!(w.len(), n);
        // Re-insert after expiry reuses freed nodes: the slab never grew.
        assert_eq!(w.nodes.len(), n);
        for t in &timers {
            assert!(t.start + (t.fired + 1) * t.interval > now, "missed");
        }
        let min_firings = if cfg!(debug_assertions) {
            10_000
        } else {
            100_000
        };
        assert!(firings > min_firings, "only {firings} firings");
    }
}
