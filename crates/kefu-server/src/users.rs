//! The users, by user id.
//!
//! A world holds one user per follower, so each is packed into one heap block ([`Packed`]):
//! its id and nickname as length-prefixed strings, its version, creation instant and sequence
//! number in as few bytes as each needs, then its openids, each behind its account's interned
//! number ([`Appids`]) rather than the appid. A `UserRecord` held as it is takes four blocks
//! (the record, the id, the nickname, the openids), about 190 bytes a user; packed, one of
//! about 60.
//! Users are unpacked into a `UserRecord` when read: no send reads one.
//!
//! Users sit in slots addressed by a [`UserRef`], so a conversation row names its user in
//! 4 bytes rather than by a copy of the id; the index by id is a hash table of slot numbers,
//! hashed by the id inside each slot. A removed user's slot stays empty, so a `UserRef` never
//! comes to mean another user; a restart gives the slots out afresh.

use std::hash::BuildHasher;
use std::io::BufRead;

use hashbrown::HashTable;
use kefu_store::packed::{
    push_signed, push_str, push_varint, take_bytes, take_signed, take_str, take_varint,
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

/// One user in one heap block: `user_id` and `nickname`, then version, `created_at` and `seq`
/// in as few bytes as each needs, then each openid behind its account's number. The id comes
/// first: the index reads it on every lookup.
struct Packed(Box<[u8]>);

/// The fewest bytes a block can be: two empty strings and three one-byte numbers.
const MIN_LEN: usize = 4 + 4 + 3;

/// A user's block, read front to back.
struct Fields<'a> {
    user_id: &'a str,
    nickname: &'a str,
    version: u64,
    created_at: i64,
    seq: u64,
    openids: AccountOpenids<'a>,
}

impl Packed {
    fn new(user: &Entry<UserRecord>, appids: &mut Appids) -> Packed {
        let u = &user.value;
        let openids: usize = u.openids.iter().map(|(_, o)| 8 + o.len()).sum();
        let numbers = 10 + 10 + 10;
        let strings = 8 + u.user_id.len() + u.nickname.len();
        let mut out = Vec::with_capacity(strings + numbers + openids);
        push_str(&mut out, &u.user_id);
        push_str(&mut out, &u.nickname);
        push_varint(&mut out, user.version);
        push_signed(&mut out, u.created_at);
        push_varint(&mut out, u.seq);
        for (appid, openid) in u.openids.iter() {
            out.extend_from_slice(&appids.intern(appid).to_le_bytes());
            push_str(&mut out, openid);
        }
        Packed(out.into_boxed_slice())
    }

    fn fields(&self) -> Fields<'_> {
        let mut rest = &self.0[..];
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
    fn id_bytes(&self) -> &[u8] {
        take_bytes(&mut &self.0[..]).unwrap_or_default()
    }

    fn user_id(&self) -> &str {
        std::str::from_utf8(self.id_bytes()).unwrap_or_default()
    }

    fn openid(&self, account: u32) -> Option<&str> {
        let mut openids = self.fields().openids;
        openids
            .find(|(a, _)| *a == account)
            .map(|(_, openid)| openid)
    }

    fn unpack(&self, appids: &Appids) -> Entry<UserRecord> {
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

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Packed").field(&self.user_id()).finish()
    }
}

/// A user's openids where its block holds them: (account number, openid) pairs.
struct AccountOpenids<'a>(&'a [u8]);

impl<'a> Iterator for AccountOpenids<'a> {
    type Item = (u32, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let (account, mut rest) = self.0.split_first_chunk::<4>()?;
        let openid = take_str(&mut rest)?;
        self.0 = rest;
        Some((u32::from_le_bytes(*account), openid))
    }
}

#[derive(Debug, Default)]
pub struct UserTable {
    /// By `UserRef`; `None` once removed.
    slots: Vec<Option<Packed>>,
    /// Slot numbers, hashed by the id of the user in the slot.
    index: HashTable<u32>,
    hasher: Hasher,
    /// The accounts the users' openids are on.
    appids: Appids,
    /// The users are as a snapshot read them, in the order a snapshot writes them: none added
    /// or removed since, so the next one writes them as they are.
    ordered: bool,
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
        let id = user_id.as_bytes();
        self.index
            .find(self.hasher.hash_one(id), |&s| id_in(&self.slots, s) == id)
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
        let appids = &self.appids;
        self.slots.iter().enumerate().flat_map(move |(slot, user)| {
            let user_ref = UserRef(u32::try_from(slot).unwrap_or(u32::MAX));
            let openids = user.as_ref().map(|u| u.fields().openids);
            openids
                .into_iter()
                .flatten()
                .filter_map(move |(account, openid)| {
                    Some((user_ref, appids.name(account)?, openid))
                })
        })
    }

    pub fn contains_key(&self, user_id: &str) -> bool {
        self.find(user_id).is_some()
    }

    /// Puts `user` under its id, replacing the user of that id (in the same slot) if there
    /// is one.
    pub fn insert(&mut self, user: &Entry<UserRecord>) -> UserRef {
        let packed = Packed::new(user, &mut self.appids);
        let id = user.value.user_id.as_bytes();
        let slots = &self.slots;
        let eq = |&s: &u32| id_in(slots, s) == id;
        match (self.index).entry(self.hasher.hash_one(id), eq, rehash(slots, &self.hasher)) {
            hashbrown::hash_table::Entry::Occupied(found) => {
                let slot = *found.get();
                self.slots[slot as usize] = Some(packed);
                UserRef(slot)
            }
            hashbrown::hash_table::Entry::Vacant(vacant) => {
                self.ordered = false;
                let slot = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
                vacant.insert(slot);
                self.slots.push(Some(packed));
                UserRef(slot)
            }
        }
    }

    /// Records `user` in `tx` under a new version, and puts it in the table.
    pub fn save(&mut self, tx: &mut Tx, mut user: Entry<UserRecord>) -> UserRef {
        tx.save(Key::User(user.value.user_id.clone()), &mut user);
        self.insert(&user)
    }

    pub fn remove(&mut self, user_id: &str) -> Option<Entry<UserRecord>> {
        let (id, slots) = (user_id.as_bytes(), &self.slots);
        let found = (self.index)
            .find_entry(self.hasher.hash_one(id), |&s| id_in(slots, s) == id)
            .ok()?;
        let (slot, _) = found.remove();
        self.ordered = false;
        let packed = self.slots.get_mut(slot as usize)?.take()?;
        Some(packed.unpack(&self.appids))
    }

    /// Every user, in the order they were made (`seq`), read without unpacking them.
    pub fn in_order(&self) -> Vec<UserRef> {
        let mut users: Vec<(u64, UserRef)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(slot, user)| {
                let seq = user.as_ref()?.fields().seq;
                Some((seq, UserRef(u32::try_from(slot).ok()?)))
            })
            .collect();
        users.sort_unstable_by_key(|(seq, _)| *seq);
        users.into_iter().map(|(_, user)| user).collect()
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Makes room for `users` more users.
    pub fn reserve(&mut self, users: usize) {
        self.slots.reserve(users);
        self.index.reserve(users, rehash(&self.slots, &self.hasher));
    }

    /// Gives back what growing left unused, once recovery has put every user in.
    pub fn shrink_to_fit(&mut self) {
        self.slots.shrink_to_fit();
        self.index.shrink_to_fit(rehash(&self.slots, &self.hasher));
    }

    /// The order a snapshot writes the users in, the one that fills an index of that many
    /// users front to back (`index::order`), and each slot's number in it (`u32::MAX` for an
    /// empty slot; `None`: the same as now, as for a table read from a snapshot and not grown
    /// or shrunk since): the next start gives the slots out in that order, so rows are written
    /// with their users renumbered.
    pub fn snapshot_order(&self) -> (Vec<u32>, Option<Vec<u32>>) {
        if self.ordered {
            return ((0..self.slots.len() as u32).collect(), None);
        }
        let slots = &self.slots;
        let order = crate::index::order(slots.len(), self.len(), hash_at(slots, &self.hasher));
        let mut renumbered = vec![u32::MAX; slots.len()];
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
        for (i, &slot) in order.iter().enumerate() {
            // As the rows do (`conversations::LOOK_AHEAD`): the slot a few places ahead.
            let ahead = order.get(i + crate::conversations::LOOK_AHEAD);
            std::hint::black_box(
                ahead
                    .and_then(|&s| self.slots.get(s as usize))
                    .map(Option::is_some),
            );
            if let Some(packed) = self.packed(UserRef(slot)) {
                out.bytes(&packed.0)?;
            }
        }
        Ok(())
    }

    /// How many bytes [`UserTable::write_to`] writes for `order`, known before writing them: a
    /// snapshot writes the next section at that offset at the same time.
    pub fn written_len(&self, order: &[u32]) -> u64 {
        let packed = order.iter().filter_map(|&slot| self.packed(UserRef(slot)));
        let blocks: usize = packed.map(|p| 4 + p.0.len()).sum();
        8 + self.appids.written_len() + (8 + blocks) as u64
    }

    /// The table [`UserTable::write_to`] wrote, its index filled as the users come (they come
    /// in the order that fills it front to back).
    pub fn read_from<R: BufRead>(input: &mut In<R>) -> Result<UserTable, ReadError> {
        let mut table = UserTable {
            hasher: Hasher::seeded(input.u64()?),
            appids: Appids::read_from(input)?,
            ..UserTable::default()
        };
        // A user is at least its length and its header.
        let users = input.len(4 + MIN_LEN as u64)?;
        table.slots.reserve_exact(users);
        for slot in 0..users {
            let bytes = input.boxed()?;
            if bytes.len() < MIN_LEN {
                let len = bytes.len();
                return Err(ReadError::Damaged(format!("user {slot} is {len} bytes")));
            }
            table.slots.push(Some(Packed(bytes)));
        }
        let (slots, hash) = (&table.slots, hash_at(&table.slots, &table.hasher));
        let same = |a: u32, b: u32| id_in(slots, a) == id_in(slots, b);
        crate::index::fill_in_order(&mut table.index, slots.len(), hash, same).map_err(|slot| {
            let id = String::from_utf8_lossy(id_in(slots, slot));
            ReadError::Damaged(format!("user {id:?} twice"))
        })?;
        table.ordered = true;
        Ok(table)
    }

    fn packed(&self, user: UserRef) -> Option<&Packed> {
        self.slots.get(user.0 as usize)?.as_ref()
    }
}

/// The id, as bytes, of the user in `slot` (empty for an empty slot). Slots are read through
/// free functions so that the index's closures borrow the slots alone.
fn id_in(slots: &[Option<Packed>], slot: u32) -> &[u8] {
    slots
        .get(slot as usize)
        .and_then(Option::as_ref)
        .map(Packed::id_bytes)
        .unwrap_or_default()
}

/// The hash of the user in `slot`, `None` for an empty slot, as `index::order` and
/// `index::fill_in_order` take it.
fn hash_at<'a>(
    slots: &'a [Option<Packed>],
    hasher: &'a Hasher,
) -> impl Fn(usize) -> Option<u64> + 'a {
    move |slot| Some(hasher.hash_one(slots.get(slot)?.as_ref()?.id_bytes()))
}

/// How the index finds a slot's hash again as it grows: from the id in the slot.
fn rehash<'a>(slots: &'a [Option<Packed>], hasher: &'a Hasher) -> impl Fn(&u32) -> u64 + 'a {
    move |&s| hasher.hash_one(id_in(slots, s))
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
        // The id and nickname behind their lengths, version 3 (1 byte), created at -5 (1) and
        // sequence number 99,xxx (3), the account and the openid: within 64 bytes.
        let len = users.packed(at).map(|p| p.0.len());
        assert_eq!(len, Some(13 + 5 + 1 + 1 + 3 + 4 + 32));
        assert_eq!(users.at(at).map(|e| e.value), Some(u.value.clone()));
        // One of kefu's own ids, with numbers as a store of millions has them: 80 bytes, the
        // allocator's 80-byte class (96 with the numbers 8 bytes each).
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
        assert_eq!(len, Some(22 + 9 + 4 + 5 + 4 + 4 + 32));
        assert_eq!(
            users.at(at).map(|e| (e.value, e.version)),
            Some((u.value, u.version))
        );
    }

    #[test]
    fn users_are_found_replaced_and_removed_by_id() {
        let mut users = UserTable::default();
        let refs: Vec<UserRef> = (0..100)
            .map(|i| users.insert(&user(&format!("u{i}"), "n")))
            .collect();
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
