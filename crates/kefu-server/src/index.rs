//! Filling a table's index (a hash table of entry numbers) with millions of entries at once, as
//! a start from the snapshot does.
//!
//! Entries inserted in their own order land all over the index: once it outgrows the cache
//! (10M entries are about 80 MB of index) each insert is a cache miss or two. Taken in the
//! order of the stretch of the index they land in ([`order`]: a counting sort on the top bits
//! of their bucket), they fill it front to back, a few kilobytes at a time. A table whose
//! entries can be stored in that order (rows have no identity of their own) writes them so and
//! fills its index as it reads them back ([`fill_in_order`]); one whose cannot ([`fill`]) sorts
//! entry numbers first.

use hashbrown::HashTable;

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

/// Entries `0..len` (those `hash` gives a hash for) in the order they fill an index of `len`
/// entries: by the stretch of it their bucket (the low bits of their hash) lies in.
pub fn order(len: usize, hash: impl Fn(usize) -> Option<u64>) -> Vec<u32> {
    let buckets = buckets_for(len);
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
    for i in 0..len {
        if let Some(h) = hash(i) {
            let at = &mut starts[stretch(h)];
            sorted[*at] = i as u32;
            *at += 1;
        }
    }
    sorted
}

/// Puts entries `0..len` into the empty `index`, entry `i` under `hash(i)` (`None`: an empty
/// slot, left out), where `same(i, j)` tells whether entries `i` and `j` have the same key.
/// `Err(i)`: entry `i`'s key is in twice.
pub fn fill(
    index: &mut HashTable<u32>,
    len: usize,
    hash: impl Fn(usize) -> Option<u64>,
    same: impl Fn(u32, u32) -> bool,
) -> Result<(), u32> {
    u32::try_from(len).map_err(|_| u32::MAX)?;
    let sorted = order(len, &hash);
    insert(index, len, sorted, hash, same)
}

/// [`fill`] for entries already in [`order`]'s order: inserted as they are.
pub fn fill_in_order(
    index: &mut HashTable<u32>,
    len: usize,
    hash: impl Fn(usize) -> Option<u64>,
    same: impl Fn(u32, u32) -> bool,
) -> Result<(), u32> {
    let count = u32::try_from(len).map_err(|_| u32::MAX)?;
    insert(index, len, 0..count, hash, same)
}

fn insert(
    index: &mut HashTable<u32>,
    len: usize,
    entries: impl IntoIterator<Item = u32>,
    hash: impl Fn(usize) -> Option<u64>,
    same: impl Fn(u32, u32) -> bool,
) -> Result<(), u32> {
    let rehash = |&i: &u32| hash(i as usize).unwrap_or_default();
    index.reserve(len, rehash);
    for i in entries {
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
        // What `order` gives, inserted as it comes, fills the same index.
        let keys: Vec<String> = (0..5_000).map(|i| format!("key-{i}")).collect();
        let hash = |i: usize| Some(hasher.hash_one(&keys[i]));
        let ordered = order(keys.len(), hash);
        let mut index = HashTable::new();
        let by_order = |i: usize| Some(hasher.hash_one(&keys[ordered[i] as usize]));
        let same = |i: u32, j: u32| ordered[i as usize] == ordered[j as usize];
        fill_in_order(&mut index, keys.len(), by_order, same).unwrap();
        assert_eq!(index.len(), keys.len());
        let mut reserved = HashTable::<u32>::new();
        reserved.reserve(keys.len(), |_| 0);
        assert_eq!(
            buckets_for(keys.len()),
            reserved.capacity().next_power_of_two() as u64,
            "the guess at hashbrown's buckets"
        );
        let keys = ["a", "b", "a"];
        let mut index = HashTable::new();
        let hash = |i: usize| Some(hasher.hash_one(keys[i]));
        let filled = fill(&mut index, 3, hash, |i, j| {
            keys[i as usize] == keys[j as usize]
        });
        assert!(matches!(filled, Err(0 | 2)));
    }
}
