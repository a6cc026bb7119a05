//! The users, by user id.
//!
//! A world holds one user per follower, so each is packed into a block ([`Packed`]): its id and
//! nickname as length-prefixed strings, its version, creation instant and sequence number in as
//! few bytes as each needs, then its openids, each behind its account's interned number
//! ([`Appids`]) rather than the appid. The blocks lie back to back in one allocation, and a
//! slot holds where its user's block starts (8 bytes). A `UserRecord` held as it is takes four
//! heap blocks (the record, the id, the nickname, the openids), about 190 bytes a user; packed,
//! about 60 with its slot (lengths and numbers as varints, a byte each for most). Users are
//! unpacked into a `UserRecord` when read: no send reads one. A replaced or removed user's block
//! stays behind until such blocks are half of all; then the live ones are copied into a new
//! allocation (`UserTable::compact`).
//!
//! Users sit in slots addressed by a [`UserRef`], so a conversation row names its user in
//! 4 bytes rather than by a copy of the id; the index by id is a hash table of slot numbers,
//! hashed by the id inside each slot. A removed user's slot stays empty, so a `UserRef` never
//! comes to mean another user; a restart gives the slots out afresh.

use std::hash::BuildHasher;
use std::io::BufRead;

use hashbrown::HashTable;
use kefu_store::packed::{
    begin_block, end_block, push_signed, push_str, push_varint, take_bytes, take_signed, take_str,
    take_varint,
};
use kefu_store::{Key, UserRecord};

use crate::appids::Appids;
use crate::index::Hasher;
use crate::snapshot::{In, Out, ReadError};
use crate::world::{Entry, Tx};

/// A user's slot in the [`UserTable`]; stays valid (and never names another user) for the
/// table's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserRef(u32);

impl UserRef {
    /// No user: a row recovery has met before the user holding its openid.
    pub const NONE: UserRef = UserRef(u32::MAX);

    /// The ref of slot `slot`, as a snapshot holds it (`snapshot`).
    pub fn at(slot: u32) -> UserRef {
        UserRef(slot)
    }

    pub fn slot(self) -> u32 {
        self.0
    }
}

/// One user's block: `user_id` and `nickname`, then version, `created_at` and `seq` in as few
/// bytes as each needs, then each openid behind its account's number. The id comes first: the
/// index reads it on every lookup. Read where the table holds it ([`UserTable`]'s `blocks`).
#[derive(Clone, Copy)]
struct Packed<'a>(&'a [u8]);

/// The fewest bytes a block can be: two empty strings (a length byte each) and three one-byte
/// numbers.
const MIN_LEN: usize = 1 + 1 + 3;

/// A user's block, read front to back.
struct Fields<'a> {
    user_id: &'a str,
    nickname: &'a str,
    version: u64,
    created_at: i64,
    seq: u64,
    openids: AccountOpenids<'a>,
}

/// Appends `user`'s block, behind its length, to `blocks`.
fn pack(user: &Entry<UserRecord>, appids: &mut Appids, blocks: &mut Vec<u8>) {
    let u = &user.value;
    let at = begin_block(blocks);
    push_str(blocks, &u.user_id);
    push_str(blocks, &u.nickname);
    push_varint(blocks, user.version);
    push_signed(blocks, u.created_at);
    push_varint(blocks, u.seq);
    for (appid, openid) in u.openids.iter() {
        push_varint(blocks, u64::from(appids.intern(appid)));
        push_str(blocks, openid);
    }
    end_block(blocks, at);
}

impl<'a> Packed<'a> {
    fn fields(self) -> Fields<'a> {
        let mut rest = self.0;
        Fields {
            user_id: take_str(&mut rest).unwrap_or_default(),
            nickname: take_str(&mut rest).unwrap_or_default(),
            version: take_varint(&mut rest).unwrap_or_default(),
            created_at: take_signed(&mut rest).unwrap_or_default(),
            seq: take_varint(&mut rest).unwrap_or_default(),
            openids: AccountOpenids(rest),
        }
    }

    /// The id as bytes, read without the rest: what the index compares and hashes.
    fn id_bytes(self) -> &'a [u8] {
        take_bytes(&mut { self.0 }).unwrap_or_default()
    }

    fn user_id(self) -> &'a str {
        std::str::from_utf8(self.id_bytes()).unwrap_or_default()
    }

    fn openid(self, account: u32) -> Option<&'a str> {
        let mut openids = self.fields().openids;
        openids
            .find(|(a, _)| *a == account)
            .map(|(_, openid)| openid)
    }

    fn unpack(self, appids: &Appids) -> Entry<UserRecord> {
        let fields = self.fields();
        let openids = fields.openids.filter_map(|(account, openid)| {
            Some((appids.name(account)?.to_owned(), openid.to_owned()))
        });
        Entry {
            value: UserRecord {
                user_id: fields.user_id.to_owned(),
                nickname: fields.nickname.to_owned(),
                created_at: fields.created_at,
                seq: fields.seq,
                openids: openids.collect(),
            },
            version: fields.version,
        }
    }
}

/// A user's openids where its block holds them: (account number, openid) pairs.
struct AccountOpenids<'a>(&'a [u8]);

impl<'a> Iterator for AccountOpenids<'a> {
    type Item = (u32, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let mut rest = self.0;
        let account = u32::try_from(take_varint(&mut rest)?).ok()?;
        let openid = take_str(&mut rest)?;
        self.0 = rest;
        Some((account, openid))
    }
}

/// A slot whose user was removed.
const EMPTY: u64 = u64::MAX;

/// Replaced and removed users' blocks are given back (`UserTable::compact`) once they are
/// at least this many bytes and half of all.
const COMPACT_AT: usize = 1 << 20;

/// The blocks and the slots, borrowed apart from the index, as the index's closures read
/// them.
#[derive(Clone, Copy)]
struct Blocks<'a> {
    bytes: &'a [u8],
    slots: &'a [u64],
}

impl<'a> Blocks<'a> {
    /// The block of the user in `slot`; `None` for an empty slot.
    fn get(self, slot: u32) -> Option<Packed<'a>> {
        let at = usize::try_from(*self.slots.get(slot as usize)?).ok()?;
        take_bytes(&mut self.bytes.get(at..)?).map(Packed)
    }

    /// The block of the user in `slot` behind its length, as `blocks` holds it.
    fn framed(self, slot: u32) -> Option<&'a [u8]> {
        let at = usize::try_from(*self.slots.get(slot as usize)?).ok()?;
        framed_at(self.bytes, at)
    }

    /// The id, as bytes, of the user in `slot` (empty for an empty slot).
    fn id(self, slot: u32) -> &'a [u8] {
        self.get(slot).map(Packed::id_bytes).unwrap_or_default()
    }
}

#[derive(Default)]
pub struct UserTable {
    /// Every user's block behind its length (4 bytes), back to back in one allocation: no
    /// allocation per user (nor the allocator's rounding up), and a slot of 8 bytes rather
    /// than a 16-byte pointer. A replaced or removed user's block stays until `compact`.
    blocks: Vec<u8>,
    /// By `UserRef`: where the user's block starts in `blocks`; `EMPTY` once removed.
    slots: Vec<u64>,
    /// Bytes of `blocks` that no slot points at any more.
    garbage: usize,
    /// Slot numbers, hashed by the id of the user in the slot.
    index: HashTable<u32>,
    hasher: Hasher,
    /// The accounts the users' openids are on.
    appids: Appids,
    /// The users are as a snapshot read them, in the order a snapshot writes them: none added
    /// or removed since, so the next one writes them as they are.
    ordered: bool,
}

impl std::fmt::Debug for UserTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserTable")
            .field("users", &self.len())
            .field("bytes", &self.blocks.len())
            .field("garbage", &self.garbage)
            .finish()
    }
}

impl UserTable {
    /// The user of `user_id`, unpacked.
    pub fn get(&self, user_id: &str) -> Option<Entry<UserRecord>> {
        self.at(self.find(user_id)?)
    }

    /// The user in `user`'s slot, unpacked.
    pub fn at(&self, user: UserRef) -> Option<Entry<UserRecord>> {
        Some(self.packed(user)?.unpack(&self.appids))
    }

    pub fn find(&self, user_id: &str) -> Option<UserRef> {
        let (id, blocks) = (user_id.as_bytes(), self.blocks());
        self.index
            .find(self.hasher.hash_one(id), |&s| blocks.id(s) == id)
            .map(|&slot| UserRef(slot))
    }

    /// The id of the user in `user`'s slot, without unpacking the rest.
    pub fn user_id(&self, user: UserRef) -> Option<&str> {
        Some(self.packed(user)?.user_id())
    }

    /// The user's openid on `appid`, without unpacking the rest.
    pub fn openid(&self, user_id: &str, appid: &str) -> Option<&str> {
        let account = self.appids.id(appid)?;
        self.packed(self.find(user_id)?)?.openid(account)
    }

    /// Every user's openids, as (user, appid, openid), user after user.
    pub fn openids(&self) -> impl Iterator<Item = (UserRef, &str, &str)> {
        let (appids, blocks) = (&self.appids, self.blocks());
        (0..self.slots.len() as u32).flat_map(move |slot| {
            let openids = blocks.get(slot).map(|user| user.fields().openids);
            openids
                .into_iter()
                .flatten()
                .filter_map(move |(account, openid)| {
                    Some((UserRef(slot), appids.name(account)?, openid))
                })
        })
    }

    pub fn contains_key(&self, user_id: &str) -> bool {
        self.find(user_id).is_some()
    }

    /// Puts `user` under its id, replacing the user of that id (in the same slot) if there
    /// is one.
    pub fn insert(&mut self, user: &Entry<UserRecord>) -> UserRef {
        let at = self.blocks.len() as u64;
        pack(user, &mut self.appids, &mut self.blocks);
        let id = user.value.user_id.as_bytes();
        let blocks = Blocks {
            bytes: &self.blocks,
            slots: &self.slots,
        };
        let eq = |&s: &u32| blocks.id(s) == id;
        let hash = self.hasher.hash_one(id);
        let user = match (self.index).entry(hash, eq, rehash(blocks, &self.hasher)) {
            hashbrown::hash_table::Entry::Occupied(found) => {
                let slot = *found.get();
                self.garbage += blocks.framed(slot).map_or(0, <[u8]>::len);
                self.slots[slot as usize] = at;
                UserRef(slot)
            }
            hashbrown::hash_table::Entry::Vacant(vacant) => {
                self.ordered = false;
                let slot = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
                vacant.insert(slot);
                self.slots.push(at);
                UserRef(slot)
            }
        };
        self.compact();
        user
    }

    /// Records `user` in `tx` under a new version, and puts it in the table.
    pub fn save(&mut self, tx: &mut Tx, mut user: Entry<UserRecord>) -> UserRef {
        tx.save(Key::User(user.value.user_id.clone()), &mut user);
        self.insert(&user)
    }

    pub fn remove(&mut self, user_id: &str) -> Option<Entry<UserRecord>> {
        let id = user_id.as_bytes();
        let blocks = Blocks {
            bytes: &self.blocks,
            slots: &self.slots,
        };
        let found = (self.index)
            .find_entry(self.hasher.hash_one(id), |&s| blocks.id(s) == id)
            .ok()?;
        let (slot, _) = found.remove();
        let user = blocks.get(slot)?.unpack(&self.appids);
        self.garbage += blocks.framed(slot).map_or(0, <[u8]>::len);
        self.slots[slot as usize] = EMPTY;
        self.ordered = false;
        self.compact();
        Some(user)
    }

    /// Every user, in the order they were made (`seq`), read without unpacking them.
    pub fn in_order(&self) -> Vec<UserRef> {
        let blocks = self.blocks();
        let mut users: Vec<(u64, UserRef)> = (0..self.slots.len() as u32)
            .filter_map(|slot| Some((blocks.get(slot)?.fields().seq, UserRef(slot))))
            .collect();
        users.sort_unstable_by_key(|(seq, _)| *seq);
        users.into_iter().map(|(_, user)| user).collect()
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// The heap bytes the table has allocated (capacity, not use), by part: the blocks, the
    /// slots and the index. A start from a snapshot reserves the blocks at the file's size,
    /// a few bytes a user more than they take; what is never written is never resident.
    pub fn heap_bytes(&self) -> [(&'static str, usize); 3] {
        [
            ("user_blocks", self.blocks.capacity()),
            ("user_slots", self.slots.capacity() * size_of::<u64>()),
            ("user_index", self.index.allocation_size()),
        ]
    }

    /// Makes room for `users` more users.
    pub fn reserve(&mut self, users: usize) {
        self.slots.reserve(users);
        let blocks = Blocks {
            bytes: &self.blocks,
            slots: &self.slots,
        };
        self.index.reserve(users, rehash(blocks, &self.hasher));
    }

    /// Gives back what growing left unused, once recovery has put every user in.
    pub fn shrink_to_fit(&mut self) {
        self.blocks.shrink_to_fit();
        self.slots.shrink_to_fit();
        let blocks = Blocks {
            bytes: &self.blocks,
            slots: &self.slots,
        };
        self.index.shrink_to_fit(rehash(blocks, &self.hasher));
    }

    /// The order a snapshot writes the users in, the one that fills an index of that many
    /// users front to back (`index::order`), and each slot's number in it (`u32::MAX` for an
    /// empty slot; `None`: the same as now, as for a table read from a snapshot and not grown
    /// or shrunk since): the next start gives the slots out in that order, so rows are written
    /// with their users renumbered.
    pub fn snapshot_order(&self) -> (Vec<u32>, Option<Vec<u32>>) {
        let slots = self.slots.len();
        if self.ordered {
            return ((0..slots as u32).collect(), None);
        }
        let order = crate::index::order(slots, self.len(), hash_at(self.blocks(), &self.hasher));
        let mut renumbered = vec![u32::MAX; slots];
        for (new, &old) in order.iter().enumerate() {
            renumbered[old as usize] = new as u32;
        }
        (order, Some(renumbered))
    }

    /// Writes the hasher's seed, the interned appids, then the users of the slots in `order`
    /// ([`UserTable::snapshot_order`]) as they are packed (`snapshot`).
    pub fn write_to(&self, out: &mut Out<'_>, order: &[u32]) -> std::io::Result<()> {
        out.u64(self.hasher.seed())?;
        self.appids.write_to(out)?;
        out.len(order.len())?;
        let blocks = self.blocks();
        for (i, &slot) in order.iter().enumerate() {
            // As the rows do (`conversations::LOOK_AHEAD`): the slot a few places ahead.
            let ahead = order.get(i + crate::conversations::LOOK_AHEAD);
            std::hint::black_box(ahead.and_then(|&s| self.slots.get(s as usize)));
            if let Some(packed) = blocks.get(slot) {
                out.bytes(packed.0)?;
            }
        }
        Ok(())
    }

    /// How many bytes [`UserTable::write_to`] writes for `order`, known before writing them: a
    /// snapshot writes the next section at that offset at the same time.
    pub fn written_len(&self, order: &[u32]) -> u64 {
        let blocks = self.blocks();
        let packed = order.iter().filter_map(|&slot| blocks.get(slot));
        let bytes: usize = packed.map(|p| 4 + p.0.len()).sum();
        8 + self.appids.written_len() + (8 + bytes) as u64
    }

    /// The table [`UserTable::write_to`] wrote, its index filled as the users come (they come
    /// in the order that fills it front to back).
    pub fn read_from<R: BufRead>(input: &mut In<R>) -> Result<UserTable, ReadError> {
        let mut table = UserTable {
            hasher: Hasher::seeded(input.u64()?),
            appids: Appids::read_from(input)?,
            ..UserTable::default()
        };
        // A user is at least its length and its smallest block.
        let users = input.len(4 + MIN_LEN as u64)?;
        table.slots.reserve_exact(users);
        // The blocks are most of the section, which bounds them (and the file the section):
        // in memory each is behind a length of a byte or two rather than the file's four, so
        // some of this stays unused, and untouched (never resident).
        let bytes = input.section_len();
        table.blocks.try_reserve_exact(bytes).map_err(|_| {
            ReadError::Damaged(format!("a section of {bytes} bytes cannot be held"))
        })?;
        for slot in 0..users {
            let at = table.blocks.len();
            let len = input.append_bytes(&mut table.blocks)?;
            if len < MIN_LEN {
                return Err(ReadError::Damaged(format!("user {slot} is {len} bytes")));
            }
            table.slots.push(at as u64);
        }
        let blocks = Blocks {
            bytes: &table.blocks,
            slots: &table.slots,
        };
        let same = |a: u32, b: u32| blocks.id(a) == blocks.id(b);
        let (index, len) = (&mut table.index, table.slots.len());
        let hash = hash_at(blocks, &table.hasher);
        crate::index::fill_in_order(index, len, hash, same).map_err(|slot| {
            let id = String::from_utf8_lossy(blocks.id(slot));
            ReadError::Damaged(format!("user {id:?} twice"))
        })?;
        table.ordered = true;
        Ok(table)
    }

    fn blocks(&self) -> Blocks<'_> {
        Blocks {
            bytes: &self.blocks,
            slots: &self.slots,
        }
    }

    fn packed(&self, user: UserRef) -> Option<Packed<'_>> {
        self.blocks().get(user.0)
    }

    /// Copies the blocks slots point at into a new allocation, once replaced and removed users
    /// have left enough behind ([`COMPACT_AT`]); slots keep their numbers.
    fn compact(&mut self) {
        if self.garbage < COMPACT_AT || self.garbage < self.blocks.len() / 2 {
            return;
        }
        let mut blocks = Vec::with_capacity(self.blocks.len() - self.garbage);
        for at in &mut self.slots {
            let Some(framed) = usize::try_from(*at)
                .ok()
                .and_then(|a| framed_at(&self.blocks, a))
            else {
                continue;
            };
            *at = blocks.len() as u64;
            blocks.extend_from_slice(framed);
        }
        self.blocks = blocks;
        self.garbage = 0;
    }
}

/// The block starting at `at` in `bytes`, behind its length.
fn framed_at(bytes: &[u8], at: usize) -> Option<&[u8]> {
    let whole = bytes.get(at..)?;
    let mut rest = whole;
    take_bytes(&mut rest)?;
    Some(&whole[..whole.len() - rest.len()])
}

/// The hash of the user in `slot`, `None` for an empty slot, as `index::order` and
/// `index::fill_in_order` take it.
fn hash_at<'a>(blocks: Blocks<'a>, hasher: &'a Hasher) -> impl Fn(usize) -> Option<u64> + 'a {
    move |slot| Some(hasher.hash_one(blocks.get(slot as u32)?.id_bytes()))
}

/// How the index finds a slot's hash again as it grows: from the id in the slot.
fn rehash<'a>(blocks: Blocks<'a>, hasher: &'a Hasher) -> impl Fn(&u32) -> u64 + 'a {
    move |&s| hasher.hash_one(blocks.id(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, nickname: &str) -> Entry<UserRecord> {
        Entry {
            value: UserRecord {
                user_id: id.into(),
                nickname: nickname.into(),
                created_at: -5,
                // Made in another order than their slots'.
                seq: 100_000 - id.bytes().map(u64::from).sum::<u64>(),
                openids: [("wx00000000000000aa".to_owned(), format!("o-{id}"))]
                    .into_iter()
                    .collect(),
            },
            version: 3,
        }
    }

    /// A table of users `u0`, `u1`…, and their refs.
    fn users(n: usize) -> (UserTable, Vec<UserRef>) {
        let mut users = UserTable::default();
        let refs = (0..n)
            .map(|i| users.insert(&user(&format!("u{i}"), "n")))
            .collect();
        (users, refs)
    }

    #[test]
    fn a_user_comes_back_as_it_went_in() {
        let mut users = UserTable::default();
        let mut u = user("u_0123456789abcdef", "微信用户 Ada");
        u.value
            .openids
            .insert("wx00000000000000bb".into(), "o2".into());
        let at = users.insert(&u);
        let back = users.get("u_0123456789abcdef").unwrap();
        assert_eq!(back.value, u.value);
        assert_eq!(back.version, 3);
        assert_eq!(users.user_id(at), Some("u_0123456789abcdef"));
        assert_eq!(
            users.openid("u_0123456789abcdef", "wx00000000000000bb"),
            Some("o2")
        );
        assert_eq!(
            users.openid("u_0123456789abcdef", "wx00000000000000cc"),
            None
        );
        assert_eq!(users.at(at).map(|e| e.value), Some(u.value));
        let empty = Entry::new(UserRecord {
            user_id: "x".into(),
            nickname: String::new(),
            created_at: i64::MIN,
            seq: u64::MAX,
            openids: Default::default(),
        });
        users.insert(&empty);
        assert_eq!(users.get("x").map(|e| e.value), Some(empty.value));
    }

    /// A world holds a user per follower: its block is most of what a user costs.
    #[test]
    fn a_follower_s_block_is_small() {
        let mut users = UserTable::default();
        let mut u = user("u3_123456", "n");
        u.value.openids = [("wx00000000000000aa".into(), "o".repeat(28))]
            .into_iter()
            .collect();
        let at = users.insert(&u);
        // The id and nickname behind their lengths (a byte each), version 3 (1 byte), created
        // at -5 (1) and sequence number 99,xxx (3), the account (1) and the openid behind its
        // length: within 48 bytes.
        let len = users.packed(at).map(|p| p.0.len());
        assert_eq!(len, Some(10 + 2 + 1 + 1 + 3 + 1 + 29));
        assert_eq!(users.at(at).map(|e| e.value), Some(u.value.clone()));
        // One of kefu's own ids, with numbers as a store of millions has them: 68 bytes and
        // the block's length byte (97 with lengths of 4 bytes and the numbers of 8 each).
        let mut u = Entry {
            version: 2_517_737,
            ..u
        };
        u.value.user_id = "u_0123456789abcdef".into();
        u.value.nickname = "Alice".into();
        u.value.created_at = 1_795_565_100;
        u.value.seq = 25_000_000;
        let at = users.insert(&u);
        let len = users.packed(at).map(|p| p.0.len());
        assert_eq!(len, Some(19 + 6 + 4 + 5 + 4 + 1 + 29));
        let framed = users.blocks().framed(at.slot()).map(<[u8]>::len);
        assert_eq!(framed, len.map(|len| len + 1));
        assert_eq!(
            users.at(at).map(|e| (e.value, e.version)),
            Some((u.value, u.version))
        );
    }

    #[test]
    fn heap_bytes_count_the_blocks_slots_and_index() {
        let (mut users, _) = users(1000);
        users.shrink_to_fit();
        let [(_, blocks), (_, slots), (_, index)] = users.heap_bytes();
        assert_eq!(blocks, users.blocks.len());
        assert_eq!(slots, 1000 * 8);
        assert!(index > 1000 * 5 && index < 4 * 1000 * 5, "{index}");
    }

    #[test]
    fn replaced_users_leave_no_more_than_their_share_behind() {
        let (mut users, refs) = users(1000);
        // Forty rounds of every user replaced: about 2.6 MB of blocks written in all.
        let mut written = 0;
        for round in 1..=40 {
            for (i, at) in refs.iter().enumerate() {
                let before = users.blocks.len();
                users.insert(&user(&format!("u{i}"), &"n".repeat(30 + round)));
                let block = users.blocks().framed(at.slot()).map_or(0, <[u8]>::len);
                written += block;
                assert!(users.blocks.len() <= before + block);
            }
        }
        users.remove("u7");
        let blocks = users.blocks();
        let live: usize = (0..1000)
            .filter_map(|s| blocks.framed(s))
            .map(<[u8]>::len)
            .sum();
        assert!(users.blocks.len() < written / 2, "compacted on the way");
        assert!(users.blocks.len() <= 2 * live + COMPACT_AT);
        assert_eq!(users.blocks.len() - users.garbage, live);
        for (i, &at) in refs.iter().enumerate() {
            let id = format!("u{i}");
            assert_eq!(
                users.find(&id),
                (i != 7).then_some(at),
                "{id} keeps its slot"
            );
            let nickname = users.get(&id).map(|u| u.value.nickname);
            assert_eq!(nickname, (i != 7).then(|| "n".repeat(70)));
        }
    }

    #[test]
    fn users_are_found_replaced_and_removed_by_id() {
        let (mut users, refs) = users(100);
        users.reserve(10_000);
        assert_eq!(users.insert(&user("u7", "seven")), refs[7], "same slot");
        assert_eq!(users.len(), 100, "u7 replaced, not added");
        assert_eq!(
            users.get("u7").map(|u| u.value.nickname),
            Some("seven".into())
        );
        assert_eq!(
            users.remove("u9").map(|u| u.value.user_id),
            Some("u9".into())
        );
        assert!(!users.contains_key("u9"));
        assert!(users.remove("u9").is_none());
        assert_eq!(
            users.user_id(refs[9]),
            None,
            "a removed user's ref names no one"
        );
        let new = users.insert(&user("u9", "again"));
        assert_ne!(new, refs[9], "a slot is never given out twice");
        assert_eq!(users.user_id(UserRef::NONE), None);
        users.shrink_to_fit();
        let in_order = users.in_order();
        assert_eq!(in_order.len(), 100);
        assert!(
            in_order
                .windows(2)
                .all(|w| users.at(w[0]).map(|u| u.value.seq) <= users.at(w[1]).map(|u| u.value.seq))
        );
        assert!((0..100).all(|i| users.find(&format!("u{i}")).is_some()));
        assert_eq!(users.user_id(refs[42]), Some("u42"));
    }
}
