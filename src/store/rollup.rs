//! Hourly rollups: per monitor per hour, the number of checks, how many were up, the latency sum
//! and maximum, and a latency [`Sketch`] good enough for p50/p95.
//!
//! Raw checks may be pruned (`--retain`); rollups are kept for ever, so a report over months reads
//! a few hundred thousand small rows instead of tens of millions. The writer thread updates the
//! rollup of every hour it touches in the same transaction as the raw rows, so the two never
//! disagree, even after a crash. [`rebuild`] recomputes rollups from raw checks (fixtures, repair).

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use rusqlite::{params, Connection, OptionalExtension};

/// Milliseconds in an hour: rollup rows start on whole UTC hours.
pub const HOUR_MS: i64 = 3_600_000;

/// The start of the UTC hour holding `ts` (ms since the Unix epoch).
pub fn hour_of(ts: i64) -> i64 {
    ts.div_euclid(HOUR_MS) * HOUR_MS
}

/// Sub-buckets per power of two: bucket width is 1/16 of its value, so the bucket midpoint is
/// within ±3.2 % of any sample in it.
const SUB_BITS: u32 = 4;
const SUB: u64 = 1 << SUB_BITS;
/// Format tag of an encoded sketch, so the encoding can change with a migration.
const SKETCH_V1: u8 = 1;

/// A log-linear histogram of latencies in microseconds. In memory, the counts of the buckets
/// from the lowest to the highest one used (an hour's latencies span a few dozen); on disk, only
/// the non-empty buckets (a few bytes each). Sketches merge by adding counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sketch {
    /// Bucket of `counts[0]`.
    lo: u16,
    /// Counts of buckets `lo..lo + len`; the first and last are never zero.
    counts: Vec<u64>,
}

fn bucket(us: u64) -> u16 {
    if us < SUB {
        return us as u16;
    }
    let exp = 63 - us.leading_zeros(); // >= SUB_BITS
    let mantissa = (us >> (exp - SUB_BITS)) & (SUB - 1);
    (SUB + u64::from(exp - SUB_BITS) * SUB + mantissa) as u16
}

/// The lowest value of bucket `i` and its width, in microseconds.
fn bounds(i: u16) -> (u64, u64) {
    let i = u64::from(i);
    if i < SUB {
        return (i, 1);
    }
    let shift = (i - SUB) / SUB;
    let mantissa = (i - SUB) % SUB;
    ((SUB + mantissa) << shift, 1 << shift)
}

impl Sketch {
    fn add_bucket(&mut self, b: u16, n: u64) {
        if n == 0 {
            return;
        }
        if self.counts.is_empty() {
            self.lo = b;
        } else if b < self.lo {
            let grow = usize::from(self.lo - b);
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.lo = b;
        }
        let i = usize::from(b - self.lo);
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += n;
    }

    /// The non-empty buckets and their counts, lowest first.
    fn buckets(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(i, &n)| (self.lo + i as u16, n))
    }

    /// Adds one latency, in milliseconds.
    pub fn add_ms(&mut self, ms: f64) {
        let us = (ms * 1000.0).round().max(0.0) as u64;
        self.add_bucket(bucket(us), 1);
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Sketch) {
        if other.counts.is_empty() {
            return;
        }
        if self.counts.is_empty() {
            self.lo = other.lo;
            self.counts.clone_from(&other.counts);
            return;
        }
        // Make room for both ends, then add slice to slice.
        let last = other.lo + (other.counts.len() - 1) as u16;
        if other.lo < self.lo {
            let grow = usize::from(self.lo - other.lo);
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.lo = other.lo;
        }
        let end = usize::from(last - self.lo) + 1;
        if end > self.counts.len() {
            self.counts.resize(end, 0);
        }
        let start = usize::from(other.lo - self.lo);
        for (mine, theirs) in self.counts[start..end].iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The latency at quantile `q` (nearest rank), in milliseconds: the midpoint of the bucket
    /// holding that rank, so within ±3.2 % of the true sample. `None` when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, n) in self.buckets() {
            seen += n;
            if seen >= rank {
                let (low, width) = bounds(b);
                let mid = if width == 1 {
                    low as f64
                } else {
                    low as f64 + width as f64 / 2.0
                };
                return Some(mid / 1000.0);
            }
        }
        None
    }

    /// The compact byte form stored in `rollups.sketch`: a format byte, then for each non-empty
    /// bucket in order, the gap from the previous bucket and the count, as LEB128 varints.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.counts.len() * 3);
        out.push(SKETCH_V1);
        let mut previous = 0u64;
        for (b, n) in self.buckets() {
            varint(&mut out, u64::from(b) - previous);
            varint(&mut out, n);
            previous = u64::from(b);
        }
        out
    }

    /// Reads what [`Sketch::encode`] wrote; `None` if the bytes are not a sketch.
    pub fn decode(bytes: &[u8]) -> Option<Sketch> {
        let (&tag, mut rest) = bytes.split_first()?;
        if tag != SKETCH_V1 {
            return None;
        }
        let mut sketch = Sketch::default();
        let mut b = 0u64;
        while !rest.is_empty() {
            b += read_varint(&mut rest)?;
            let n = read_varint(&mut rest)?;
            sketch.add_bucket(u16::try_from(b).ok()?, n);
        }
        Some(sketch)
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// One monitor's checks over some span (an hour in the database, any span in a report).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cell {
    /// Checks finished.
    pub checks: u64,
    /// Of those, up.
    pub up: u64,
    /// Sum of total times, ms.
    pub ms_sum: f64,
    /// Largest total time, ms.
    pub ms_max: f64,
    /// Total times.
    pub sketch: Sketch,
}

impl Cell {
    /// Adds one check.
    pub fn add(&mut self, up: bool, ms: f64) {
        self.checks += 1;
        self.up += u64::from(up);
        self.ms_sum += ms;
        self.ms_max = self.ms_max.max(ms);
        self.sketch.add_ms(ms);
    }

    /// Adds every check of `other`.
    pub fn merge(&mut self, other: &Cell) {
        self.checks += other.checks;
        self.up += other.up;
        self.ms_sum += other.ms_sum;
        self.ms_max = self.ms_max.max(other.ms_max);
        self.sketch.merge(&other.sketch);
    }
}

/// Reads one rollup row (`checks, up, ms_sum, ms_max, sketch` in that order) as a cell.
pub fn cell_from_row(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Cell> {
    let blob: Vec<u8> = row.get(first + 4)?;
    Ok(Cell {
        checks: row.get::<_, i64>(first)?.max(0) as u64,
        up: row.get::<_, i64>(first + 1)?.max(0) as u64,
        ms_sum: row.get(first + 2)?,
        ms_max: row.get(first + 3)?,
        sketch: Sketch::decode(&blob).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                first + 4,
                rusqlite::types::Type::Blob,
                "not a sitewatch latency sketch".into(),
            )
        })?,
    })
}

const UPSERT: &str = "INSERT INTO rollups (monitor, hour, checks, up, ms_sum, ms_max, sketch)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
     ON CONFLICT (monitor, hour) DO UPDATE SET
       checks = excluded.checks, up = excluded.up, ms_sum = excluded.ms_sum,
       ms_max = excluded.ms_max, sketch = excluded.sketch";

fn upsert_row(
    statement: &mut rusqlite::Statement<'_>,
    (monitor, hour): (i64, i64),
    cell: &Cell,
) -> rusqlite::Result<()> {
    statement.execute(params![
        monitor,
        hour,
        cell.checks as i64,
        cell.up as i64,
        cell.ms_sum,
        cell.ms_max,
        cell.sketch.encode()
    ])?;
    Ok(())
}

/// Rollup rows the writer keeps in memory between batches, at most (about 150 bytes each).
pub const CACHED_CELLS: usize = 50_000;

/// The writer's copy of the rollup rows it is updating: loaded from the database the first time
/// an hour is touched, updated in memory, and written back in the batch's transaction.
///
/// Bounded: a long list checked rarely (a million monitors every hour) would otherwise keep a
/// row per monitor for the current and the previous hour, hundreds of megabytes, for rows each
/// touched once an hour. Past the bound, rows not touched by the last batch are dropped (they
/// are in the database, and are read back if touched again).
#[derive(Debug)]
pub struct RollupCache {
    cells: HashMap<(i64, i64), Cell>,
    dirty: Vec<(i64, i64)>,
    limit: usize,
}

impl Default for RollupCache {
    fn default() -> Self {
        RollupCache::with_limit(CACHED_CELLS)
    }
}

impl RollupCache {
    /// A cache that keeps at most about `limit` rows between batches.
    pub fn with_limit(limit: usize) -> RollupCache {
        RollupCache {
            cells: HashMap::new(),
            dirty: Vec::new(),
            limit,
        }
    }

    /// Rows held now.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Counts one check of `monitor` (database id) started at `ts`.
    pub fn add(
        &mut self,
        conn: &Connection,
        monitor: i64,
        ts: i64,
        up: bool,
        ms: f64,
    ) -> rusqlite::Result<()> {
        let key = (monitor, hour_of(ts));
        let cell = match self.cells.entry(key) {
            Entry::Occupied(cell) => cell.into_mut(),
            Entry::Vacant(slot) => {
                let stored = conn
                    .query_row(
                        "SELECT checks, up, ms_sum, ms_max, sketch FROM rollups
                         WHERE monitor = ?1 AND hour = ?2",
                        params![key.0, key.1],
                        |row| cell_from_row(row, 0),
                    )
                    .optional()?;
                slot.insert(stored.unwrap_or_default())
            }
        };
        cell.add(up, ms);
        self.dirty.push(key);
        Ok(())
    }

    /// Writes every hour changed since the last call, then forgets hours older than the newest
    /// one touched minus an hour (late checks reload them from the database), and, past the
    /// limit, every row this batch did not touch.
    pub fn write(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        self.dirty.sort_unstable();
        self.dirty.dedup();
        let mut statement = conn.prepare(UPSERT)?;
        let mut newest = i64::MIN;
        for key in &self.dirty {
            if let Some(cell) = self.cells.get(key) {
                upsert_row(&mut statement, *key, cell)?;
            }
            newest = newest.max(key.1);
        }
        if newest != i64::MIN {
            self.cells.retain(|&(_, hour), _| hour >= newest - HOUR_MS);
        }
        if self.cells.len() > self.limit {
            let dirty = &self.dirty;
            self.cells.retain(|key, _| dirty.binary_search(key).is_ok());
            self.cells.shrink_to(self.limit);
        }
        self.dirty.clear();
        Ok(())
    }

    /// Forgets everything: after a failed transaction the database, not memory, is the truth.
    pub fn clear(&mut self) {
        self.cells.clear();
        self.dirty.clear();
    }
}

/// Recomputes the rollups of every hour that has raw checks, replacing those rows (hours whose
/// raw checks were pruned keep their rollups). Returns the number of rollup rows written.
pub fn rebuild(conn: &Connection) -> rusqlite::Result<usize> {
    let mut cells: BTreeMap<(i64, i64), Cell> = BTreeMap::new();
    {
        let mut rows = conn.prepare(
            "SELECT monitor, ts, reason IS NULL, ms FROM checks WHERE nature IS NULL
                 ORDER BY monitor, ts",
        )?;
        let mut rows = rows.query([])?;
        while let Some(row) = rows.next()? {
            let monitor: i64 = row.get(0)?;
            let ts: i64 = row.get(1)?;
            cells
                .entry((monitor, hour_of(ts)))
                .or_default()
                .add(row.get(2)?, row.get(3)?);
        }
    }
    let mut statement = conn.prepare(UPSERT)?;
    for (key, cell) in &cells {
        upsert_row(&mut statement, *key, cell)?;
    }
    Ok(cells.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_bounded_and_rows_it_dropped_are_read_back() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::migrate(&mut conn).unwrap();
        for id in 0..25 {
            conn.execute(
                "INSERT INTO monitors (id, url, interval_ms, method, first_seen, last_seen)
                 VALUES (?1, 'http://127.0.0.1:9/' || ?1, 60000, 'GET', 0, 0)",
                [id],
            )
            .unwrap();
        }
        let hour = 1_767_225_600_000;
        let mut cache = RollupCache::with_limit(10);
        // 25 monitors once each, in batches of 5: the cache never keeps much more than 10 rows.
        for batch in 0..5 {
            let tx = conn.transaction().unwrap();
            for m in 0..5 {
                cache
                    .add(&tx, batch * 5 + m, hour + 1000, true, 10.0)
                    .unwrap();
            }
            cache.write(&tx).unwrap();
            tx.commit().unwrap();
            assert!(
                cache.len() <= 10,
                "{} rows after batch {batch}",
                cache.len()
            );
        }
        // Monitor 0's row was dropped; a second check adds to what the database holds.
        let tx = conn.transaction().unwrap();
        cache.add(&tx, 0, hour + 2000, false, 30.0).unwrap();
        cache.write(&tx).unwrap();
        tx.commit().unwrap();
        let (checks, up, max): (i64, i64, f64) = conn
            .query_row(
                "SELECT checks, up, ms_max FROM rollups WHERE monitor = 0 AND hour = ?1",
                [hour],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((checks, up, max), (2, 1, 30.0));
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM rollups", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 25);
    }

    #[test]
    fn buckets_are_contiguous() {
        for i in 0..900u16 {
            let (low, width) = bounds(i);
            assert_eq!(bucket(low), i);
            assert_eq!(bucket(low + width - 1), i);
            assert_eq!(bucket(low + width), i + 1);
        }
        assert!(bucket(u64::MAX) < 1000);
    }

    #[test]
    fn quantiles_are_within_four_percent_and_survive_encoding() {
        let mut s = Sketch::default();
        for ms in 1..=1000 {
            s.add_ms(f64::from(ms));
        }
        let s = Sketch::decode(&s.encode()).unwrap();
        assert_eq!(s.count(), 1000);
        for (q, want) in [(0.5, 500.0), (0.95, 950.0), (0.99, 990.0), (0.0, 1.0)] {
            let got = s.quantile_ms(q).unwrap();
            assert!((got - want).abs() / want < 0.04, "q{q}: {got} vs {want}");
        }
        assert_eq!(Sketch::default().quantile_ms(0.5), None);
        assert_eq!(Sketch::decode(&[9, 1]), None);
        // Exact below 16 µs.
        let mut tiny = Sketch::default();
        tiny.add_ms(0.007);
        assert_eq!(tiny.quantile_ms(0.5), Some(0.007));
    }

    #[test]
    fn merged_sketches_equal_one_sketch_of_everything() {
        let (mut a, mut b, mut all) = (Sketch::default(), Sketch::default(), Sketch::default());
        for ms in [3.0, 40.0, 41.0, 900.0, 12_000.0] {
            a.add_ms(ms);
            all.add_ms(ms);
        }
        for ms in [5.0, 40.5, 70_000.0] {
            b.add_ms(ms);
            all.add_ms(ms);
        }
        a.merge(&b);
        assert_eq!(a, all);
        assert!(all.encode().len() < 20, "{:?}", all.encode());
    }

    #[test]
    fn merging_grows_either_end_and_keeps_the_form_canonical() {
        let (mut mid, mut wide, mut all) =
            (Sketch::default(), Sketch::default(), Sketch::default());
        for ms in [40.0, 50.0] {
            mid.add_ms(ms);
        }
        for ms in [0.002, 9_000.0] {
            wide.add_ms(ms);
        }
        for ms in [0.002, 40.0, 50.0, 9_000.0] {
            all.add_ms(ms);
        }
        let mut a = mid.clone();
        a.merge(&wide);
        let mut b = wide.clone();
        b.merge(&mid);
        assert_eq!(a, all);
        assert_eq!(b, all);
        a.merge(&Sketch::default());
        assert_eq!(a, all);
        assert_eq!(Sketch::decode(&all.encode()), Some(all));
    }

    #[test]
    fn hours_are_utc_and_floor_negative_times() {
        assert_eq!(hour_of(3_600_000 * 5 + 1), 3_600_000 * 5);
        assert_eq!(hour_of(-1), -HOUR_MS);
    }
}
