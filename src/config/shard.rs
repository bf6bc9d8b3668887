//! Shards: splitting one list of monitors between N instances by monitor id.
//!
//! Shard K of N keeps the monitors whose id maps to K by rendezvous (highest random weight)
//! hashing: every shard s gets a weight hash(id, s) and the heaviest shard wins. So every
//! monitor belongs to exactly one shard, the shards hold about the same number of monitors,
//! and growing N to N+1 moves only the monitors the new shard wins, about 1/(N+1) of them.
//!
//! The hash is the FNV-1a of [`super::identity`] followed by a fixed mixer, both written out
//! here, so a monitor's shard never changes with the Rust version or the platform: instances
//! built from different releases agree on who checks what.

use std::fmt;
use std::str::FromStr;

use super::identity::Fnv;
use super::Monitor;

/// Most shards accepted: far beyond any fleet, small enough that a weight per shard is cheap.
pub const MAX_SHARDS: u32 = 10_000;

/// One shard of a fleet: `index` of `count`, counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// Shard `index` of `count`, if 1 ≤ index ≤ count ≤ [`MAX_SHARDS`].
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 || count > MAX_SHARDS {
            return Err(format!(
                "the shard count must be from 1 to {MAX_SHARDS}, not {count}"
            ));
        }
        if index == 0 || index > count {
            return Err(format!(
                "shard {index}/{count} does not exist: K in K/N counts from 1 to N"
            ));
        }
        Ok(Shard { index, count })
    }

    /// This shard's number, from 1.
    pub fn index(self) -> u32 {
        self.index
    }

    /// How many shards the fleet has.
    pub fn count(self) -> u32 {
        self.count
    }

    /// Whether the monitor `id` belongs to this shard.
    pub fn holds(self, id: &str) -> bool {
        owner(id, self.count) == self.index
    }

    /// Keeps only this shard's monitors (in file order), freeing the others.
    pub fn retain(self, monitors: &mut Vec<Monitor>) {
        monitors.retain(|m| self.holds(m.id()));
        monitors.shrink_to_fit();
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// Parses `K/N`, e.g. `2/3`.
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("{s:?} is not a shard; use K/N, e.g. 2/3 (shard 2 of 3)");
        let (k, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let k: u32 = k.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        Shard::new(k, n)
    }
}

/// The shard (from 1) of `count` that the monitor `id` belongs to.
pub fn owner(id: &str, count: u32) -> u32 {
    let mut base = Fnv::new();
    base.bytes(id.as_bytes());
    // A byte no id contains, so "a" + shard 12 never hashes like "a1" + shard 2.
    base.bytes(&[0xff]);
    let mut best = (0u64, 1u32);
    for s in 1..=count {
        let mut h = base;
        h.bytes(&s.to_le_bytes());
        // FNV-1a's last bytes barely reach its high bits: mixing spreads them over the whole
        // word, so the weights of one id for different shards are independent.
        let w = mix(h.value());
        if w > best.0 {
            best = (w, s);
        }
    }
    best.1
}

/// The finaliser of SplitMix64: a fixed bijection with full avalanche.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("example.com-page-{i}")).collect()
    }

    #[test]
    fn shards_parse_and_validate() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        assert_eq!(
            " 1 / 1 ".parse::<Shard>().map(|s| s.to_string()),
            Ok("1/1".into())
        );
        for bad in [
            "0/3", "4/3", "1/0", "3", "a/b", "1/2/3", "-1/2", "1/10001", "",
        ] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert!("4/3"
            .parse::<Shard>()
            .unwrap_err()
            .contains("counts from 1 to N"));
    }

    #[test]
    fn every_id_is_in_exactly_one_shard() {
        for n in 1..=7 {
            for id in ids(500) {
                let holders = (1..=n)
                    .filter(|&k| Shard::new(k, n).unwrap().holds(&id))
                    .count();
                assert_eq!(holders, 1, "{id} in {n} shards");
            }
        }
    }

    #[test]
    fn shards_are_balanced() {
        let ids = ids(30_000);
        for n in [2u32, 3, 5, 10] {
            let mut counts = vec![0usize; n as usize];
            for id in &ids {
                counts[owner(id, n) as usize - 1] += 1;
            }
            let fair = ids.len() / n as usize;
            for (k, &c) in counts.iter().enumerate() {
                // Binomial spread is about 1 % of 30,000 here: 5 % is a generous bound.
                assert!(
                    c.abs_diff(fair) * 20 < fair,
                    "shard {}/{n}: {c} of ~{fair}",
                    k + 1
                );
            }
        }
    }

    #[test]
    fn growing_the_fleet_moves_about_one_share() {
        let ids = ids(30_000);
        for n in [1u32, 2, 3, 9] {
            let moved: Vec<&String> = ids
                .iter()
                .filter(|id| owner(id, n) != owner(id, n + 1))
                .collect();
            // Only the new shard takes monitors; nobody else trades.
            assert!(moved.iter().all(|id| owner(id, n + 1) == n + 1));
            let expected = ids.len() / (n as usize + 1);
            assert!(
                moved.len().abs_diff(expected) * 10 < expected,
                "{n}->{}: moved {} of ~{expected}",
                n + 1,
                moved.len()
            );
        }
    }

    #[test]
    fn owners_never_change_between_releases() {
        // Pinned values: a change here reassigns monitors across a running fleet.
        let got: Vec<u32> = ["a", "example.com", "example.com-health", "db"]
            .iter()
            .map(|id| owner(id, 5))
            .collect();
        assert_eq!(got, PINNED);
    }
    const PINNED: [u32; 4] = [5, 3, 1, 1];
}
