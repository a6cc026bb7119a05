//! Filling a table's index (a hash table of entry numbers) with millions of entries at once, as
//! a start from the snapshot does.
//!
//! Entries inserted in an arbitrary order land all over the index: once it outgrows the cache
//! (10M entries are about 80 MB of index) each insert is a cache miss or two. Taken in the
//! order of the stretch of the index they land in ([`order`]: a counting sort on the top bits
//! of their bucket), they fill it front to back, a few kilobytes at a time. So a snapshot
//! writes each table's entries in that order (rows have no identity of their own; users are
//! renumbered), with the seed of the table's [`Hasher`], and a start fills each index as it
//! reads the entries back ([`fill_in_order`]).

use std::hash::BuildHasher;

use hashbrown::HashTable;

/// A table index's hasher, seeded at random when the table is made. A snapshot keeps the seed,
/// so that the next start hashes keys as this table did and can take its entries in the order
/// that fills the index front to back ([`order`]); a hash function changed in between (a new
/// build) only costs that order, never a lookup, since every hash is computed afresh.
#[derive(Clone, Debug)]
pub struct Hasher {
    seed: u64,
    state: foldhash::fast::FixedState,
}

impl Default for Hasher {
    fn default() -> Hasher {
        Hasher::seeded(crate::ids::seed())
    }
}

impl Hasher {
    pub fn seeded(seed: u64) -> Hasher {
        Hasher {
            seed,
            state: foldhash::fast::FixedState::with_seed(seed),
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }
}

impl BuildHasher for Hasher {
    type Hasher = foldhash::fast::FoldHasher<'static>;

    fn build_hasher(&self) -> Self::Hasher {
        self.state.build_hasher()
    }
}

/// Stretches the index is cut into for the sort: a stretch of a 10M-entry index is a few
/// kilobytes, and 4,096 write streams still fit the cache while sorting.
const STRETCH_BITS: u32 = 12;

/// The number of buckets of an index holding `len` entries once it has reserved room for them:
/// hashbrown's, a power of two of which 7/8 are used (a wrong guess costs speed only).
fn buckets_for(len: usize) -> u64 {
    match len {
        0..4 => 4,
        4..8 => 8,
        _ => ((len as u64).saturating_mul(8) / 7).next_power_of_two(),
    }
}

/// Entries `0..len` (those `hash` gives a hash for, `indexed` of them; a wrong count costs
/// speed only) in the order they fill an index of `indexed` entries: by the stretch of it their
/// bucket (the low bits of their hash) lies in.
pub fn order(len: usize, indexed: usize, hash: impl Fn(usize) -> Option<u64>) -> Vec<u32> {
    let buckets = buckets_for(indexed);
    let shift = buckets.trailing_zeros().saturating_sub(STRETCH_BITS);
    // Each entry's stretch, hashed once (the second pass reads these 2 bytes, not the entry).
    const NONE: u16 = u16::MAX;
    let stretches: Vec<u16> = (0..len)
        .map(|i| hash(i).map_or(NONE, |h| ((h & (buckets - 1)) >> shift) as u16))
        .collect();
    let mut starts = vec![0usize; (1 << STRETCH_BITS) + 1];
    for &s in stretches.iter().filter(|&&s| s != NONE) {
        starts[usize::from(s) + 1] += 1;
    }
    for s in 1..starts.len() {
        starts[s] += starts[s - 1];
    }
    let mut sorted = vec![0u32; starts[1 << STRETCH_BITS]];
    for (i, &s) in stretches.iter().enumerate() {
        if s != NONE {
            let at = &mut starts[usize::from(s)];
            sorted[*at] = i as u32;
            *at += 1;
        }
    }
    sorted
}

/// Puts entries `0..len` into the empty `index` in their own order, which is [`order`]'s if
/// they were written so: entry `i` under `hash(i)` (`None`: an empty slot, left out), where
/// `same(i, j)` tells whether entries `i` and `j` have the same key. `Err(i)`: entry `i`'s key
/// is in twice.
pub fn fill_in_order(
    index: &mut HashTable<u32>,
    len: usize,
    hash: impl Fn(usize) -> Option<u64>,
    same: impl Fn(u32, u32) -> bool,
) -> Result<(), u32> {
    let count = u32::try_from(len).map_err(|_| u32::MAX)?;
    let rehash = |&i: &u32| hash(i as usize).unwrap_or_default();
    index.reserve(len, rehash);
    for i in 0..count {
        let Some(h) = hash(i as usize) else {
            continue;
        };
        match index.entry(h, |&j| same(i, j), rehash) {
            hashbrown::hash_table::Entry::Vacant(vacant) => {
                vacant.insert(i);
            }
            hashbrown::hash_table::Entry::Occupied(_) => return Err(i),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn entries_in_order_fill_an_index_that_finds_each_and_a_key_twice_is_named() {
        let hasher = Hasher::default();
        for len in [0, 1, 7, 100, 5_000] {
            let keys: Vec<String> = (0..len).map(|i| format!("key-{i}")).collect();
            // Every third entry an empty slot, left out of the order and of the index.
            let hash = |i: usize| (i % 3 != 1).then(|| hasher.hash_one(&keys[i]));
            let indexed = (0..len).filter(|i| i % 3 != 1).count();
            let ordered = order(len, indexed, hash);
            assert_eq!(ordered.len(), indexed);
            let key = |i: u32| &keys[ordered[i as usize] as usize];
            let by_order = |i: usize| Some(hasher.hash_one(key(i as u32)));
            let mut index = HashTable::new();
            fill_in_order(&mut index, indexed, by_order, |i, j| key(i) == key(j)).unwrap();
            assert_eq!(index.len(), indexed);
            for (i, k) in keys.iter().enumerate() {
                let found = index.find(hasher.hash_one(k), |&j| key(j) == k);
                assert_eq!(found.is_some(), i % 3 != 1, "{k}");
            }
            let mut reserved = HashTable::<u32>::new();
            reserved.reserve(indexed, |_| 0);
            assert_eq!(
                buckets_for(indexed),
                (reserved.capacity().max(1).next_power_of_two() as u64).max(4),
                "the guess at hashbrown's buckets for {indexed}"
            );
        }
        // The same seed hashes the same: what a snapshot relies on for its order.
        let again = Hasher::seeded(hasher.seed());
        assert_eq!(again.hash_one("o1"), hasher.hash_one("o1"));
        let keys = ["a", "b", "a"];
        let mut index = HashTable::new();
        let hash = |i: usize| Some(hasher.hash_one(keys[i]));
        let filled = fill_in_order(&mut index, 3, hash, |i, j| {
            keys[i as usize] == keys[j as usize]
        });
        assert_eq!(filled, Err(2));
    }
}
