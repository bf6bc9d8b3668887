//! An append-only table: a slice that a reload can lengthen while other threads index it.
//!
//! Per-monitor counters are indexed by every worker on every check, so they must not sit
//! behind a lock, yet a reload appends monitors. The table keeps the first `len` entries in
//! one boxed slice and later ones in segments of doubling size (each set once, never moved),
//! so a reference handed out stays valid for the table's life and reading an entry is a
//! bounds check and a pointer or two. Only one thread grows it (the scheduler, applying a
//! reload); [`Table::len`] is published after the entries it covers exist.

use std::ops::Index;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Segments after the first slice: segment k holds `base × 2^k` entries, so 40 of them hold
/// more than any list of monitors could.
const SEGMENTS: usize = 40;

/// A table of `T` that can grow, never shrink, and is indexed without a lock.
pub struct Table<T> {
    first: Box<[T]>,
    base: usize,
    more: [OnceLock<Box<[T]>>; SEGMENTS],
    len: AtomicUsize,
}

impl<T: Default> Table<T> {
    /// A table of `len` default entries.
    pub fn new(len: usize) -> Table<T> {
        (0..len).map(|_| T::default()).collect::<Vec<T>>().into()
    }

    /// Makes the table `len` entries long (new ones default) unless it is already.
    pub fn grow(&self, len: usize) {
        let mut capacity = self.first.len();
        for (k, segment) in self.more.iter().enumerate() {
            if capacity >= len {
                break;
            }
            let size = self.base << k;
            segment.get_or_init(|| (0..size).map(|_| T::default()).collect());
            capacity += size;
        }
        self.len.fetch_max(len.min(capacity), Ordering::Release);
    }
}

impl<T> From<Vec<T>> for Table<T> {
    fn from(entries: Vec<T>) -> Table<T> {
        let len = entries.len();
        Table {
            base: len.max(64),
            first: entries.into_boxed_slice(),
            more: std::array::from_fn(|_| OnceLock::new()),
            len: AtomicUsize::new(len),
        }
    }
}

impl<T> Default for Table<T> {
    fn default() -> Table<T> {
        Vec::new().into()
    }
}

impl<T> Table<T> {
    /// Entries now.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// True when the table has no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entry at `i`, if the table is that long.
    pub fn get(&self, i: usize) -> Option<&T> {
        if i >= self.len() {
            return None;
        }
        if let Some(t) = self.first.get(i) {
            return Some(t);
        }
        // Segment k starts at base × (2^k − 1) past the first slice.
        let j = i - self.first.len();
        let k = (j / self.base + 1).ilog2() as usize;
        let start = self.base * ((1 << k) - 1);
        self.more.get(k)?.get()?.get(j - start)
    }

    /// Every entry, in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

impl<T> Index<usize> for Table<T> {
    type Output = T;

    fn index(&self, i: usize) -> &T {
        match self.get(i) {
            Some(t) => t,
            None => panic!("index {i} out of a table of {}", self.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_without_moving_entries_and_indexes_every_one() {
        let t: Table<AtomicUsize> = Table::new(3);
        t[2].store(7, Ordering::Relaxed);
        let kept: *const AtomicUsize = &t[2];
        assert_eq!(t.len(), 3);
        assert!(t.get(3).is_none());
        t.grow(1000);
        assert_eq!(t.len(), 1000);
        assert!(std::ptr::eq(kept, &t[2]));
        for i in 0..1000 {
            t[i].fetch_add(i, Ordering::Relaxed);
        }
        let all: Vec<usize> = t.iter().map(|a| a.load(Ordering::Relaxed)).collect();
        let want: Vec<usize> = (0..1000).map(|i| if i == 2 { 9 } else { i }).collect();
        assert_eq!(all, want);
        t.grow(10);
        assert_eq!(t.len(), 1000, "never shrinks");
        let empty: Table<u8> = Table::default();
        assert!(empty.is_empty());
        empty.grow(5);
        assert_eq!(empty.iter().count(), 5);
    }
}
