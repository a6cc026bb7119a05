//! The inbox index: where each user's messages lie in the log, in two parts.
//!
//! Why two: a table keyed by (user, id) puts each active user's newest entry on its own leaf
//! page, so an applier round that indexed a few thousand messages rewrote a page per active
//! user, and the checkpoint wrote them all at once: about 8 of its 10 MB at 12k sends/s, with the
//! log's syncs stalled behind them (BENCHMARKS.md). Instead:
//!
//! - **Recent entries** go to `INBOX_RECENT`, keyed by message id, so a round appends to a few
//!   pages. [`RecentInbox`] mirrors that table in memory, by user, for reads.
//! - **Blocks**: once the recent part holds `compact_at` entries, one round moves it all into
//!   `INBOX_BLOCKS`, one row per user, (user, first id) → that user's entries packed
//!   ([`encode_block`]): one insert per user for many messages.
//!
//! Message ids are the store's sequence, so a user's blocks are older than their recent entries
//! and reads take blocks, then recent entries, skipping any id they have passed: a read whose
//! redb snapshot is after a compaction but whose copy of the mirror is from before it meets the
//! moved entries twice and keeps them once.

use std::collections::BTreeMap;

use redb::ReadableTable;

use super::engine;
use super::tables::Place;
use crate::Map;
use crate::port::StoreError;

/// Recent entries at which a round moves them into blocks: three to six seconds of sends at
/// full speed here, and a few megabytes of memory. A compaction writes one row per user it
/// holds entries for, so users who send often make it cheap and a million users each sending
/// once would not.
pub(crate) const COMPACT_AT: usize = 1 << 16;

/// One indexed message: its user, its id and where its body lies.
pub(crate) type Indexed<'a> = (&'a str, u64, Place);

/// The recent part of the inbox index by user: what `INBOX_RECENT` holds.
pub(crate) struct RecentInbox {
    by_user: Map<String, Vec<(u64, Place)>>,
    len: usize,
    compact_at: usize,
}

impl RecentInbox {
    /// The mirror of `table`, compacting once it holds `compact_at` entries.
    pub(crate) fn load(
        table: &impl ReadableTable<u64, (&'static str, Place)>,
        compact_at: usize,
    ) -> Result<RecentInbox, StoreError> {
        let mut recent = RecentInbox {
            by_user: Map::default(),
            len: 0,
            compact_at: compact_at.max(1),
        };
        for entry in table.iter().map_err(engine)? {
            let (id, value) = entry.map_err(engine)?;
            let (user, place) = value.value();
            recent.add(user, id.value(), place);
        }
        Ok(recent)
    }

    /// Whether a round that indexes `fresh` more entries (after a wipe: `wiped`) should move
    /// them all into blocks.
    pub(crate) fn compacts(&self, wiped: bool, fresh: usize) -> bool {
        let held = if wiped { 0 } else { self.len };
        held + fresh >= self.compact_at
    }

    /// The blocks a compaction writes: what the mirror holds (unless `wiped`) and `fresh`, by
    /// user, each user's entries in id order.
    pub(crate) fn blocks<'a>(
        &'a self,
        wiped: bool,
        fresh: &[Indexed<'a>],
    ) -> BTreeMap<&'a str, Vec<(u64, Place)>> {
        let mut blocks: BTreeMap<&str, Vec<(u64, Place)>> = BTreeMap::new();
        if !wiped {
            for (user, entries) in &self.by_user {
                blocks.insert(user, entries.clone());
            }
        }
        for (user, id, place) in fresh {
            blocks.entry(user).or_default().push((*id, *place));
        }
        for entries in blocks.values_mut() {
            entries.sort_unstable_by_key(|(id, _)| *id);
        }
        blocks
    }

    /// What a round committed: its fresh entries, after emptying the mirror if the round moved
    /// them into blocks or wiped.
    pub(crate) fn committed<'a>(
        &mut self,
        emptied: bool,
        fresh: impl IntoIterator<Item = Indexed<'a>>,
    ) {
        if emptied {
            self.by_user.clear();
            self.len = 0;
        }
        for (user, id, place) in fresh {
            self.add(user, id, place);
        }
    }

    /// `user`'s recent entries after `after`, oldest first.
    pub(crate) fn of(&self, user: &str, after: u64) -> Vec<(u64, Place)> {
        let mut mine: Vec<(u64, Place)> = self
            .by_user
            .get(user)
            .map(|entries| {
                entries
                    .iter()
                    .filter(|(id, _)| *id > after)
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        // Logged in id order already; sorting keeps reads right whatever order ids came in.
        mine.sort_unstable_by_key(|(id, _)| *id);
        mine
    }

    fn add(&mut self, user: &str, id: u64, place: Place) {
        match self.by_user.get_mut(user) {
            Some(entries) => entries.push((id, place)),
            None => {
                self.by_user.insert(user.to_owned(), vec![(id, place)]);
            }
        }
        self.len += 1;
    }
}

/// The bytes of one entry in a block: id, segment, offset (u64 each) and length (u32), little
/// endian.
const ENTRY_BYTES: usize = 28;

/// A user's entries as one block row.
pub(crate) fn encode_block(entries: &[(u64, Place)]) -> Vec<u8> {
    let mut block = Vec::with_capacity(entries.len() * ENTRY_BYTES);
    for (id, (segment, offset, len)) in entries {
        block.extend_from_slice(&id.to_le_bytes());
        block.extend_from_slice(&segment.to_le_bytes());
        block.extend_from_slice(&offset.to_le_bytes());
        block.extend_from_slice(&len.to_le_bytes());
    }
    block
}

/// The entries of a block row; a block that is not whole entries is damage.
pub(crate) fn decode_block(block: &[u8]) -> Result<Vec<(u64, Place)>, StoreError> {
    if !block.len().is_multiple_of(ENTRY_BYTES) {
        return Err(StoreError::Engine(format!(
            "an inbox index block of {} bytes is not whole entries",
            block.len()
        )));
    }
    let u64_at = |entry: &[u8], at: usize| {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&entry[at..at + 8]);
        u64::from_le_bytes(bytes)
    };
    Ok(block
        .chunks_exact(ENTRY_BYTES)
        .map(|entry| {
            let mut len = [0; 4];
            len.copy_from_slice(&entry[24..]);
            let place = (u64_at(entry, 8), u64_at(entry, 16), u32::from_le_bytes(len));
            (u64_at(entry, 0), place)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recent(compact_at: usize) -> RecentInbox {
        RecentInbox {
            by_user: Map::default(),
            len: 0,
            compact_at,
        }
    }

    #[test]
    fn reads_a_users_recent_entries_past_the_cursor() {
        let mut r = recent(100);
        r.committed(
            false,
            [
                ("u1", 5, (1, 10, 3)),
                ("u2", 6, (1, 20, 3)),
                ("u1", 7, (1, 30, 3)),
            ],
        );
        assert_eq!(r.of("u1", 0), vec![(5, (1, 10, 3)), (7, (1, 30, 3))]);
        assert_eq!(r.of("u1", 5), vec![(7, (1, 30, 3))]);
        assert_eq!(r.of("nobody", 0), vec![]);
    }

    #[test]
    fn compacts_at_its_threshold_into_one_block_per_user() {
        let mut r = recent(3);
        r.committed(false, [("u1", 1, (1, 0, 1)), ("u2", 2, (1, 1, 1))]);
        assert!(!r.compacts(false, 0));
        assert!(r.compacts(false, 1));
        assert!(!r.compacts(true, 2));
        let fresh = [("u1", 3, (1, 2, 1))];
        let blocks = r.blocks(false, &fresh);
        assert_eq!(blocks["u1"], vec![(1, (1, 0, 1)), (3, (1, 2, 1))]);
        assert_eq!(blocks["u2"], vec![(2, (1, 1, 1))]);
        assert_eq!(
            r.blocks(true, &fresh).len(),
            1,
            "a wipe drops what was held"
        );
        r.committed(true, []);
        assert_eq!(r.of("u1", 0), vec![]);
    }

    #[test]
    fn a_block_round_trips_and_damage_is_refused() {
        let entries = vec![(7, (1, 2, 3)), (u64::MAX, (u64::MAX, 0, u32::MAX))];
        let block = encode_block(&entries);
        assert_eq!(block.len(), 2 * ENTRY_BYTES);
        assert_eq!(decode_block(&block).unwrap(), entries);
        assert!(decode_block(&block[1..]).is_err());
    }
}
