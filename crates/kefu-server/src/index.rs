//! Filling a table's index (a hash table of entry numbers) with millions of entries at once, as
//! a start from the snapshot does.
//!
//! Entries inserted in their own order land all over the index: once it outgrows the cache
//! (10M entries are about 80 MB of index) each insert is a cache miss or two. Grouped first by
//! the stretch of the index they land in (a counting sort on the top bits of their bucket),
//! they fill it front to back, a few kilobytes at a time.

use hashbrown::HashTable;

/// Stretches the index is cut into for the sort: a stretch of a 10M-entry index is a few
/// kilobytes, and 4,096 write streams still fit the cache while sorting.
const STRETCH_BITS: u32 = 12;

/// Puts entries `0..len` into the empty `index`, entry `i` under `hash(i)` (`None`: an empty
/// slot, left out), where `same(i, j)` tells whether entries `i` and `j` have the same key.
/// `Err(i)`: entry `i`'s key is in twice.
pub fn fill(
    index: &mut HashTable<u32>,
    len: usize,
    hash: impl Fn(usize) -> Option<u64>,
    same: impl Fn(u32, u32) -> bool,
) -> Result<(), u32> {
    let count = u32::try_from(len).map_err(|_| u32::MAX)?;
    let rehash = |&i: &u32| hash(i as usize).unwrap_or_default();
    index.reserve(len, rehash);
    // hashbrown's buckets are a power of two holding 7/8 of their number: the bucket of a
    // hash is its low bits. A wrong guess here costs speed only.
    let buckets = index.capacity().max(1).next_power_of_two() as u64;
    let shift = buckets.trailing_zeros().saturating_sub(STRETCH_BITS);
    let stretch = |h: u64| ((h & (buckets - 1)) >> shift) as usize;
    let mut starts = vec![0usize; (1 << STRETCH_BITS) + 1];
    let mut indexed = 0;
    for h in (0..len).filter_map(&hash) {
        starts[stretch(h) + 1] += 1;
        indexed += 1;
    }
    for s in 1..starts.len() {
        starts[s] += starts[s - 1];
    }
    let mut sorted = vec![0u32; indexed];
    for i in 0..count {
        if let Some(h) = hash(i as usize) {
            let at = &mut starts[stretch(h)];
            sorted[*at] = i;
            *at += 1;
        }
    }
    for i in sorted {
        let h = hash(i as usize).unwrap_or_default();
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
    fn every_entry_is_found_and_a_key_twice_is_named() {
        let hasher = foldhash::fast::RandomState::default();
        for len in [0, 1, 7, 100, 5_000] {
            let keys: Vec<String> = (0..len).map(|i| format!("key-{i}")).collect();
            // Every third entry an empty slot.
            let hash = |i: usize| (i % 3 != 1).then(|| hasher.hash_one(&keys[i]));
            let mut index = HashTable::new();
            fill(&mut index, len, hash, |i, j| {
                keys[i as usize] == keys[j as usize]
            })
            .unwrap();
            assert_eq!(index.len(), (0..len).filter(|i| i % 3 != 1).count());
            for (i, key) in keys.iter().enumerate() {
                let found = index.find(hasher.hash_one(key), |&j| keys[j as usize] == *key);
                assert_eq!(found, (i % 3 != 1).then_some(&(i as u32)));
            }
        }
        let keys = ["a", "b", "a"];
        let mut index = HashTable::new();
        let hash = |i: usize| Some(hasher.hash_one(keys[i]));
        let filled = fill(&mut index, 3, hash, |i, j| {
            keys[i as usize] == keys[j as usize]
        });
        assert!(matches!(filled, Err(0 | 2)));
    }
}
