//! Every openid kefu has issued: the account and user it belongs to, its conversation, and how
//! the user followed.
//!
//! This is the one table a send reads (`owner`, then `get_mut`), so it is laid out for millions
//! of rows: the rows sit side by side in a `Vec`, and the index by openid is a hash table of
//! row numbers (4 bytes a slot); both are cut into [`SHARDS`] shards by the openid's hash, so
//! that a start can read them on several threads at once. Two maps keyed by the openid
//! `String` (openid → owner, and appid → openid → conversation) cost each follower two keys and
//! two sets of half-empty slots as wide as their values; at a million followers they were about
//! 430 bytes of the 1,083, and a third map (appid → openid → follow) about 160 more.
//!
//! Openids are unique across accounts, so a row's account is part of what it is: a lookup by
//! (appid, openid) finds the openid and checks the account.

use std::hash::BuildHasher;
use std::io::BufRead;

use hashbrown::HashTable;
use kefu_policy::Conversation;
use kefu_store::{FollowRecord, Key, QrSceneValue};

use crate::appids::Appids;
use crate::index::Hasher;
use crate::snapshot::{In, Out, ReadError};
use crate::users::UserRef;
use crate::world::{Entry, Tx};

/// An account's number among the interned appids: rows name their account in 4 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AccountId(u32);

/// An openid as a row holds it: kefu's own (28 characters, as WeChat's) inline, so a lookup
/// reads the row and nothing else; any other length on the heap.
#[derive(Debug)]
enum OpenidKey {
    Inline([u8; 28]),
    Heap(Box<str>),
}

impl OpenidKey {
    fn new(openid: &str) -> OpenidKey {
        match <[u8; 28]>::try_from(openid.as_bytes()) {
            Ok(bytes) => OpenidKey::Inline(bytes),
            Err(_) => OpenidKey::Heap(openid.into()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            OpenidKey::Inline(bytes) => bytes,
            OpenidKey::Heap(openid) => openid.as_bytes(),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Made from a `&str` (`new`), so always UTF-8.
            OpenidKey::Inline(bytes) => std::str::from_utf8(bytes).unwrap_or_default(),
            OpenidKey::Heap(openid) => openid,
        }
    }
}

#[derive(Debug)]
struct Row {
    openid: OpenidKey,
    account: AccountId,
    /// `UserRef::NONE` while recovery has met the conversation but not yet the user holding
    /// the openid.
    user: UserRef,
    /// None until the user's first follow or message (the openid is issued just before).
    conversation: Option<Entry<Conversation>>,
    /// The latest follow: when, and through which QR code.
    follow: Followed,
}

/// How a row's user last followed its account, kept in the row: boxed apart, a follow record
/// cost a pointer, 48 bytes and an allocation per follower; here it is 32 bytes, and the rare
/// QR scene is boxed instead. Version 0: never followed (a message from a passer-by).
#[derive(Debug, Default)]
struct Followed {
    version: u64,
    subscribe_time: i64,
    seq: u64,
    qr_scene: Option<Box<QrSceneValue>>,
}

impl Followed {
    fn new(follow: Entry<FollowRecord>) -> Followed {
        Followed {
            version: follow.version,
            subscribe_time: follow.value.subscribe_time,
            seq: follow.value.seq,
            qr_scene: follow.value.qr_scene.map(Box::new),
        }
    }

    fn is_some(&self) -> bool {
        self.version != 0
    }

    /// The follow as the store keeps it.
    fn get(&self) -> Option<Entry<FollowRecord>> {
        self.is_some().then(|| Entry {
            value: FollowRecord {
                subscribe_time: self.subscribe_time,
                qr_scene: self.qr_scene.as_deref().cloned(),
                seq: self.seq,
            },
            version: self.version,
        })
    }
}

/// How many entries ahead a snapshot written out of order touches (`write_to`).
pub const LOOK_AHEAD: usize = 16;

/// A row's flags in a snapshot: what it holds.
const CONVERSATION: u8 = 1;
const FOLLOW: u8 = 2;

/// A row taken out of the table ([`ConversationTable::remove`]).
#[derive(Debug)]
pub struct Removed {
    pub openid: String,
    pub user: UserRef,
    pub conversation: Option<Entry<Conversation>>,
    pub follow: Option<Entry<FollowRecord>>,
}

impl Removed {
    /// Deletes what the row held from the store.
    pub fn delete(&self, tx: &mut Tx, appid: &str) {
        if let Some(conversation) = &self.conversation {
            let key = Key::Conversation {
                appid: appid.to_owned(),
                openid: self.openid.clone(),
            };
            tx.delete(key, conversation);
        }
        if let Some(follow) = &self.follow {
            let key = Key::Follow {
                appid: appid.to_owned(),
                openid: self.openid.clone(),
            };
            tx.delete(key, follow);
        }
    }
}

impl From<Row> for Removed {
    fn from(row: Row) -> Removed {
        Removed {
            openid: row.openid.as_str().to_owned(),
            user: row.user,
            conversation: row.conversation,
            follow: row.follow.get(),
        }
    }
}

/// How many shards the table is cut into, by the openid's hash. A start reads a snapshot's
/// shards at once, a thread each, beside the users' thread: the rows are most of a start's work
/// (at 10M, 1.4 GB of pages the kernel zeroes, and 20M records decoded), and as one piece they
/// kept one core busy long after the users had freed the other. Two, for two cores: with four,
/// the five threads shared the cores evenly, the shards finished first and the users' thread
/// went on alone (BENCHMARKS.md); two shards each outweigh the users.
pub const SHARDS: usize = 2;

/// The shard a row whose openid hashes to `hash` lives in: from bits hashbrown uses for
/// neither the bucket (the low ones) nor the tag (the top seven).
fn shard_of(hash: u64) -> usize {
    (hash >> 48) as usize % SHARDS
}

/// Where a row is: its shard, and its number there.
#[derive(Clone, Copy, Debug)]
struct Place {
    shard: usize,
    row: usize,
}

/// The rows whose openid falls in one shard, side by side, and their index.
#[derive(Debug, Default)]
struct Shard {
    rows: Vec<Row>,
    /// Row numbers, hashed by the row's openid.
    index: HashTable<u32>,
    /// Recovery's guess at the row of the next record it restores here: the one after the last.
    next_restored: usize,
}

impl Shard {
    fn find(&self, hash: u64, openid: &[u8]) -> Option<usize> {
        let rows = &self.rows;
        (self.index)
            .find(hash, |&at| rows[at as usize].openid.as_bytes() == openid)
            .map(|&at| at as usize)
    }

    fn push(&mut self, hash: u64, row: Row, hasher: &Hasher) -> usize {
        let at = self.rows.len();
        self.rows.push(row);
        (self.index).insert_unique(hash, at as u32, rehash(&self.rows, hasher));
        at
    }

    /// Takes the row of `openid` out: the last row moves into its place.
    fn remove(&mut self, hash: u64, openid: &[u8], hasher: &Hasher) -> Option<Row> {
        let rows = &self.rows;
        let found = (self.index)
            .find_entry(hash, |&at| rows[at as usize].openid.as_bytes() == openid)
            .ok()?;
        let (at, _) = found.remove();
        let at = at as usize;
        let removed = self.rows.swap_remove(at);
        if let Some(moved) = self.rows.get(at) {
            let from = self.rows.len() as u32;
            let hash = hasher.hash_one(moved.openid.as_bytes());
            if let Some(slot) = self.index.find_mut(hash, |&i| i == from) {
                *slot = at as u32;
            }
        }
        Some(removed)
    }

    fn reindex(&mut self, hasher: &Hasher) {
        self.index.clear();
        let rows = &self.rows;
        for (at, row) in rows.iter().enumerate() {
            let hash = hasher.hash_one(row.openid.as_bytes());
            (self.index).insert_unique(hash, at as u32, rehash(rows, hasher));
        }
    }
}

/// One shard's rows as a snapshot's section holds them, read on a thread of its own
/// ([`ConversationTable::read_from`]) before the table is put together
/// ([`ConversationTable::from_sections`]).
pub struct RowSection {
    seed: u64,
    appids: Appids,
    shard: Shard,
    conversations: usize,
}

#[derive(Debug, Default)]
pub struct ConversationTable {
    shards: [Shard; SHARDS],
    hasher: Hasher,
    /// Appids, interned: never removed, so an `AccountId` stays valid.
    appids: Appids,
    /// Rows with a conversation.
    conversations: usize,
    /// The rows are as a snapshot read them, in the order a snapshot writes them: none pushed
    /// or removed since, so the next one writes them as they are.
    ordered: bool,
}

impl ConversationTable {
    /// The conversation of `openid` on `appid`.
    pub fn get(&self, appid: &str, openid: &str) -> Option<&Entry<Conversation>> {
        self.row(self.row_on(appid, openid)?).conversation.as_ref()
    }

    pub fn get_mut(&mut self, appid: &str, openid: &str) -> Option<&mut Entry<Conversation>> {
        let at = self.row_on(appid, openid)?;
        self.row_mut(at).conversation.as_mut()
    }

    /// The conversation of `openid` on `appid`, a new one (not following) if it has none yet.
    /// An openid issued for another account is left alone and `None` returned: only damaged
    /// data holds one openid under two accounts.
    pub fn get_or_new(&mut self, appid: &str, openid: &str) -> Option<&mut Entry<Conversation>> {
        let at = self.row_for(appid, openid)?;
        if self.row(at).conversation.is_none() {
            self.conversations += 1;
        }
        let row = self.row_mut(at);
        Some(
            row.conversation
                .get_or_insert_with(|| Entry::new(Conversation::new(false))),
        )
    }

    /// The account and user `openid` was issued for.
    pub fn owner(&self, openid: &str) -> Option<(&str, UserRef)> {
        let row = self.row(self.row_of(openid)?);
        Some((self.appid(row), row.user))
    }

    pub fn is_issued(&self, openid: &str) -> bool {
        self.row_of(openid).is_some()
    }

    /// Records that `openid` was issued for `user` on `appid` (a first contact, or recovery
    /// meeting the user). An openid already in the table for `appid` keeps its conversation
    /// and takes the user; one issued for another account is left alone and `false` returned.
    pub fn issue(&mut self, openid: &str, appid: &str, user: UserRef) -> bool {
        let Some(at) = self.row_for(appid, openid) else {
            return false;
        };
        self.row_mut(at).user = user;
        true
    }

    /// Puts a stored conversation in its place (recovery: it may come before its user).
    /// Refuses, returning it, a conversation whose openid was issued for another account.
    pub fn restore(
        &mut self,
        appid: &str,
        openid: &str,
        conversation: Entry<Conversation>,
    ) -> Result<(), Entry<Conversation>> {
        let Some(at) = self.row_restored(appid, openid) else {
            return Err(conversation);
        };
        if self.row(at).conversation.is_none() {
            self.conversations += 1;
        }
        self.row_mut(at).conversation = Some(conversation);
        Ok(())
    }

    /// How `openid` last followed `appid`.
    pub fn follow(&self, appid: &str, openid: &str) -> Option<FollowRecord> {
        Some(self.followed_entry(appid, openid)?.value)
    }

    /// How `openid` last followed `appid`, with the store version of that record.
    pub fn followed_entry(&self, appid: &str, openid: &str) -> Option<Entry<FollowRecord>> {
        self.row(self.row_on(appid, openid)?).follow.get()
    }

    /// Records that `openid` now follows `appid`, at `now`, through the QR code of `scene` if
    /// any. An openid of another account is left alone.
    pub fn followed(
        &mut self,
        tx: &mut Tx,
        appid: &str,
        openid: &str,
        now: i64,
        scene: Option<QrSceneValue>,
    ) {
        let Some(at) = self.row_for(appid, openid) else {
            return;
        };
        let mut follow = Entry {
            value: FollowRecord {
                subscribe_time: now,
                qr_scene: scene,
                seq: tx.seq(),
            },
            version: self.row(at).follow.version,
        };
        let key = Key::Follow {
            appid: appid.to_owned(),
            openid: openid.to_owned(),
        };
        tx.save(key, &mut follow);
        self.row_mut(at).follow = Followed::new(follow);
    }

    /// Puts a stored follow in its place (recovery), as [`ConversationTable::restore`] does a
    /// conversation. A stored record always has a version (the store refuses version 0), and
    /// a row without one has no follow: a follow without one is refused too.
    pub fn restore_follow(
        &mut self,
        appid: &str,
        openid: &str,
        follow: Entry<FollowRecord>,
    ) -> Result<(), Entry<FollowRecord>> {
        if follow.version == 0 {
            return Err(follow);
        }
        match self.row_restored(appid, openid) {
            Some(at) => {
                self.row_mut(at).follow = Followed::new(follow);
                Ok(())
            }
            None => Err(follow),
        }
    }

    /// Makes `openid`'s row hold what the store holds now (a snapshot catching up): the user
    /// it is issued to, its conversation and its follow. A row on `appid` is changed in place,
    /// so that a table read from a snapshot stays in its order; a row to hold none of the
    /// three goes, and one another account held is made anew.
    pub fn reload(
        &mut self,
        appid: &str,
        openid: &str,
        user: Option<UserRef>,
        conversation: Option<Entry<Conversation>>,
        follow: Option<Entry<FollowRecord>>,
    ) {
        let empty = user.is_none() && conversation.is_none() && follow.is_none();
        if empty || self.row_on(appid, openid).is_none() {
            self.remove(openid);
        }
        if empty {
            return;
        }
        let Some(at) = self.row_for(appid, openid) else {
            return;
        };
        let had = self.row(at).conversation.is_some();
        let has = conversation.is_some();
        let row = self.row_mut(at);
        row.user = user.unwrap_or(UserRef::NONE);
        row.conversation = conversation;
        row.follow = follow.map(Followed::new).unwrap_or_default();
        self.conversations = self.conversations + usize::from(has) - usize::from(had);
    }

    /// Forgets `openid`: its owner, its conversation and its follow, which are returned.
    pub fn remove(&mut self, openid: &str) -> Option<Removed> {
        let hash = self.hash(openid.as_bytes());
        let shard = &mut self.shards[shard_of(hash)];
        let removed = shard.remove(hash, openid.as_bytes(), &self.hasher)?;
        self.ordered = false;
        if removed.conversation.is_some() {
            self.conversations -= 1;
        }
        Some(removed.into())
    }

    /// Forgets every openid issued for `appid` (the account's deletion), returning them.
    pub fn remove_account(&mut self, appid: &str) -> Vec<Removed> {
        let Some(account) = self.appids.id(appid).map(AccountId) else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        for shard in &mut self.shards {
            let (gone, kept): (Vec<Row>, Vec<Row>) = std::mem::take(&mut shard.rows)
                .into_iter()
                .partition(|row| row.account == account);
            shard.rows = kept;
            shard.reindex(&self.hasher);
            removed.extend(gone.into_iter().map(Removed::from));
        }
        self.ordered = false;
        self.conversations -= removed.iter().filter(|r| r.conversation.is_some()).count();
        removed
    }

    /// The conversations on `appid`, by openid, with how each followed, in no particular order.
    pub fn of_account<'a>(
        &'a self,
        appid: &str,
    ) -> impl Iterator<Item = (&'a str, &'a Entry<Conversation>, Option<FollowRecord>)> + 'a {
        let account = self.appids.id(appid).map(AccountId);
        self.all_rows()
            .filter(move |row| Some(row.account) == account)
            .filter_map(|row| {
                let follow = row.follow.get().map(|f| f.value);
                Some((row.openid.as_str(), row.conversation.as_ref()?, follow))
            })
    }

    /// Every conversation, on every account.
    pub fn all(&self) -> impl Iterator<Item = &Entry<Conversation>> {
        self.all_rows().filter_map(|row| row.conversation.as_ref())
    }

    /// How many conversations there are (openids issued without one are not counted).
    pub fn len(&self) -> usize {
        self.conversations
    }

    /// How many openids are issued (rows, with a conversation or not).
    pub fn rows(&self) -> usize {
        self.shards.iter().map(|shard| shard.rows.len()).sum()
    }

    /// The heap bytes the rows and their index have allocated (capacity, not use), by part.
    /// Rare extras behind a row are not counted: an openid not 28 bytes long, a QR scene, a
    /// conversation's grants beyond one.
    pub fn heap_bytes(&self) -> [(&'static str, usize); 2] {
        let rows = self.shards.iter().map(|shard| shard.rows.capacity());
        let index = self
            .shards
            .iter()
            .map(|shard| shard.index.allocation_size());
        [
            ("conversation_rows", rows.sum::<usize>() * size_of::<Row>()),
            ("conversation_index", index.sum()),
        ]
    }

    /// The order a snapshot writes each shard's rows in: the one that fills an index of that
    /// many rows front to back (`index::order`), which they are in already when read from a
    /// snapshot and not added to or removed from since.
    pub fn snapshot_order(&self) -> [Vec<u32>; SHARDS] {
        std::array::from_fn(|shard| {
            let rows = &self.shards[shard].rows;
            match self.ordered {
                true => (0..rows.len() as u32).collect(),
                false => crate::index::order(rows.len(), rows.len(), hash_at(rows, &self.hasher)),
            }
        })
    }

    /// Writes the hasher's seed, the interned appids, then `shard`'s rows in `order`, so that
    /// reading them back fills its index front to back (`snapshot`). `order` is
    /// [`ConversationTable::snapshot_order`]'s; `renumbered` gives each user's slot in the
    /// snapshot (`UserTable::snapshot_order`; `None`: the slot it has now).
    pub fn write_to(
        &self,
        out: &mut Out<'_>,
        shard: usize,
        order: &[u32],
        renumbered: Option<&[u32]>,
    ) -> std::io::Result<()> {
        out.u64(self.hasher.seed())?;
        self.appids.write_to(out)?;
        out.len(order.len())?;
        let rows = &self.shards[shard].rows;
        for (i, &at) in order.iter().enumerate() {
            // Out of order (after a start from the store), each row is a cache miss: touching
            // the row a few places ahead lets the misses overlap.
            let ahead = order
                .get(i + LOOK_AHEAD)
                .and_then(|&a| rows.get(a as usize));
            std::hint::black_box(ahead.map(|row| row.account));
            let row = &rows[at as usize];
            out.bytes(row.openid.as_bytes())?;
            out.u32(row.account.0)?;
            let user = match renumbered {
                // A lookup at random per row (a cache miss each), so only when needed.
                Some(renumbered) => renumbered.get(row.user.slot() as usize).copied(),
                None => Some(row.user.slot()),
            };
            out.u32(user.unwrap_or(UserRef::NONE.slot()))?;
            let has = |present: bool, flag: u8| if present { flag } else { 0 };
            out.u8(
                has(row.conversation.is_some(), CONVERSATION) | has(row.follow.is_some(), FOLLOW)
            )?;
            if let Some(conversation) = &row.conversation {
                out.u64(conversation.version)?;
                out.record(&conversation.value)?;
            }
            if let Some(follow) = row.follow.get() {
                out.u64(follow.version)?;
                out.record(&follow.value)?;
            }
        }
        Ok(())
    }

    /// The section [`ConversationTable::write_to`] wrote for `shard`, its index rebuilt.
    pub fn read_from<R: BufRead>(input: &mut In<R>, shard: usize) -> Result<RowSection, ReadError> {
        let seed = input.u64()?;
        let hasher = Hasher::seeded(seed);
        let appids = Appids::read_from(input)?;
        let mut conversations = 0;
        // A row is at least its openid's length, its account, its user and its flags.
        let len = input.len(4 + 4 + 4 + 1)?;
        let mut rows = Vec::with_capacity(len);
        for at in 0..len {
            let openid = OpenidKey::new(input.str()?);
            let account = input.u32()?;
            if account as usize >= appids.len() {
                return Err(ReadError::Damaged(format!(
                    "row {at} names account {account}"
                )));
            }
            let user = UserRef::at(input.u32()?);
            let flags = input.u8()?;
            let conversation = if flags & CONVERSATION != 0 {
                let version = input.u64()?;
                conversations += 1;
                Some(Entry {
                    version,
                    value: input.record()?,
                })
            } else {
                None
            };
            let follow = if flags & FOLLOW != 0 {
                let version = input.u64()?;
                if version == 0 {
                    return Err(ReadError::Damaged(format!(
                        "row {at}'s follow has no version"
                    )));
                }
                Followed::new(Entry {
                    version,
                    value: input.record()?,
                })
            } else {
                Followed::default()
            };
            rows.push(Row {
                openid,
                account: AccountId(account),
                user,
                conversation,
                follow,
            });
        }
        // Each row's hash is worked out once, for the index: a row hashing to another shard
        // (damage) would never be found, so it is noted on the way.
        let misplaced = std::cell::Cell::new(None);
        let hash = |at: usize| {
            let hash = hasher.hash_one(rows.get(at)?.openid.as_bytes());
            if shard_of(hash) != shard {
                misplaced.set(Some(at));
            }
            Some(hash)
        };
        let same = |a: u32, b: u32| {
            rows[a as usize].openid.as_bytes() == rows[b as usize].openid.as_bytes()
        };
        let mut index = HashTable::new();
        crate::index::fill_in_order(&mut index, rows.len(), hash, same).map_err(|at| {
            let openid = rows[at as usize].openid.as_str();
            ReadError::Damaged(format!("openid {openid:?} twice"))
        })?;
        if let Some(at) = misplaced.get() {
            let openid = rows[at].openid.as_str();
            return Err(ReadError::Damaged(format!(
                "openid {openid:?} in shard {shard}, not its own"
            )));
        }
        let shard = Shard {
            rows,
            index,
            next_restored: 0,
        };
        Ok(RowSection {
            seed,
            appids,
            shard,
            conversations,
        })
    }

    /// The table of the sections [`ConversationTable::read_from`] read, shard after shard.
    pub fn from_sections(sections: Vec<RowSection>) -> Result<ConversationTable, ReadError> {
        if sections.len() != SHARDS {
            return Err(ReadError::Damaged(format!("{} shards", sections.len())));
        }
        let mut table = ConversationTable::default();
        for (at, section) in sections.into_iter().enumerate() {
            if at == 0 {
                table.hasher = Hasher::seeded(section.seed);
                table.appids = section.appids;
            } else if section.seed != table.hasher.seed() || section.appids != table.appids {
                let disagree = "the shards disagree on the seed or the accounts";
                return Err(ReadError::Damaged(disagree.into()));
            }
            table.conversations += section.conversations;
            table.shards[at] = section.shard;
        }
        table.ordered = true;
        Ok(table)
    }

    /// Makes room for `rows` more rows, spread over the shards as hashes spread them: each
    /// takes its share and a little more, so that none doubles for a few rows over.
    pub fn reserve(&mut self, rows: usize) {
        let share = rows / SHARDS;
        let share = share + share / 64 + 64;
        for shard in &mut self.shards {
            shard.rows.reserve(share);
            (shard.index).reserve(share, rehash(&shard.rows, &self.hasher));
        }
    }

    /// Gives back what growing left unused, once recovery has put every row in (a `Vec` that
    /// has just doubled is half empty).
    pub fn shrink_to_fit(&mut self) {
        for shard in &mut self.shards {
            shard.rows.shrink_to_fit();
            (shard.index).shrink_to_fit(rehash(&shard.rows, &self.hasher));
        }
    }

    /// Every row, shard after shard.
    fn all_rows(&self) -> impl Iterator<Item = &Row> {
        self.shards.iter().flat_map(|shard| &shard.rows)
    }

    fn row(&self, at: Place) -> &Row {
        &self.shards[at.shard].rows[at.row]
    }

    fn row_mut(&mut self, at: Place) -> &mut Row {
        &mut self.shards[at.shard].rows[at.row]
    }

    /// The row of `openid`, made (with no user yet) if there is none; `None` if the openid
    /// is another account's.
    fn row_for(&mut self, appid: &str, openid: &str) -> Option<Place> {
        let hash = self.hash(openid.as_bytes());
        self.row_hashed(hash, appid, openid)
    }

    /// [`Self::row_for`] with the openid's hash worked out.
    fn row_hashed(&mut self, hash: u64, appid: &str, openid: &str) -> Option<Place> {
        let account = self.intern(appid);
        let shard = shard_of(hash);
        let row = match self.shards[shard].find(hash, openid.as_bytes()) {
            Some(row) if self.shards[shard].rows[row].account != account => return None,
            Some(row) => row,
            None => {
                self.ordered = false;
                let row = Row {
                    openid: OpenidKey::new(openid),
                    account,
                    user: UserRef::NONE,
                    conversation: None,
                    follow: Followed::default(),
                };
                self.shards[shard].push(hash, row, &self.hasher)
            }
        };
        Some(Place { shard, row })
    }

    /// [`Self::row_for`] for recovery, trying the row after the last one restored in the
    /// openid's shard first: the store gives a kind's records in key order, so conversations
    /// append their rows in that order and follows, coming next in the same order, find them
    /// one after the other instead of each costing the index and a row at random.
    fn row_restored(&mut self, appid: &str, openid: &str) -> Option<Place> {
        let hash = self.hash(openid.as_bytes());
        let shard = shard_of(hash);
        let guess = self.shards[shard].next_restored;
        let at = match self.shards[shard].rows.get(guess) {
            Some(row) if row.openid.as_bytes() == openid.as_bytes() => {
                let place = Place { shard, row: guess };
                (self.appid(row) == appid).then_some(place)?
            }
            _ => self.row_hashed(hash, appid, openid)?,
        };
        self.shards[shard].next_restored = at.row + 1;
        Some(at)
    }

    /// The row of `openid` if it was issued on `appid`.
    fn row_on(&self, appid: &str, openid: &str) -> Option<Place> {
        let at = self.row_of(openid)?;
        (self.appid(self.row(at)) == appid).then_some(at)
    }

    fn row_of(&self, openid: &str) -> Option<Place> {
        let hash = self.hash(openid.as_bytes());
        let shard = shard_of(hash);
        let row = self.shards[shard].find(hash, openid.as_bytes())?;
        Some(Place { shard, row })
    }

    /// Openids are hashed as bytes, the way rows hold them.
    fn hash(&self, openid: &[u8]) -> u64 {
        self.hasher.hash_one(openid)
    }

    fn appid(&self, row: &Row) -> &str {
        self.appids.name(row.account.0).unwrap_or_default()
    }

    fn intern(&mut self, appid: &str) -> AccountId {
        AccountId(self.appids.intern(appid))
    }
}

/// How an index finds a row's hash again as it grows: from the openid in the row.
fn rehash<'a>(rows: &'a [Row], hasher: &'a Hasher) -> impl Fn(&u32) -> u64 + 'a {
    move |&at| hasher.hash_one(rows[at as usize].openid.as_bytes())
}

/// [`rehash`] as `index::order` and `index::fill_in_order` take it.
fn hash_at<'a>(rows: &'a [Row], hasher: &'a Hasher) -> impl Fn(usize) -> Option<u64> + 'a {
    let rehash = rehash(rows, hasher);
    move |at| Some(rehash(&(at as u32)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "wx00000000000000aa";
    const B: &str = "wx00000000000000bb";

    fn table(rows: usize) -> ConversationTable {
        let mut t = ConversationTable::default();
        for i in 0..rows {
            let appid = if i % 2 == 0 { A } else { B };
            t.issue(&format!("o{i}"), appid, UserRef::at(i as u32));
            t.get_or_new(appid, &format!("o{i}"));
        }
        t
    }

    /// A world holds a row per follower: its size is most of what a follower costs.
    #[test]
    fn a_row_with_its_follow_is_136_bytes() {
        assert_eq!(size_of::<Followed>(), 32);
        assert!(size_of::<Row>() <= 136, "{}", size_of::<Row>());
    }

    #[test]
    fn heap_bytes_count_every_row_s_room_and_the_index() {
        let bytes = |t: &ConversationTable| t.heap_bytes().map(|(_, bytes)| bytes);
        assert_eq!(bytes(&ConversationTable::default()), [0, 0]);
        let mut t = table(1000);
        t.shrink_to_fit();
        let [rows, index] = bytes(&t);
        assert!(rows >= 1000 * size_of::<Row>(), "{rows}");
        assert!(rows < 1100 * size_of::<Row>(), "{rows}: shrunk to fit");
        // A slot of 4 bytes and a control byte each, at most 7/8 full.
        assert!(index > 1000 * 5 && index < 4 * 1000 * 5, "{index}");
    }

    #[test]
    fn a_lookup_checks_the_account() {
        let mut t = table(4);
        assert!(t.get(A, "o0").is_some());
        assert!(t.get(B, "o0").is_none(), "o0 was issued on A");
        assert!(t.get_or_new(B, "o0").is_none());
        assert!(t.get_mut(B, "o0").is_none());
        assert_eq!(t.owner("o1"), Some((B, UserRef::at(1))));
        assert_eq!(t.owner("o9"), None);
    }

    /// A snapshot caught up changes its rows in place where it can: the table stays in the
    /// order the next stop writes without working it out again.
    #[test]
    fn reloading_a_row_changes_it_in_place_or_makes_it_or_takes_it_away() {
        let mut t = table(4);
        t.ordered = true;
        let conversation = Entry {
            value: Conversation::new(true),
            version: 7,
        };
        t.reload(A, "o0", Some(UserRef::at(9)), Some(conversation), None);
        assert!(t.ordered, "changed in place");
        assert_eq!(t.owner("o0"), Some((A, UserRef::at(9))));
        assert_eq!(t.get(A, "o0").map(|c| c.version), Some(7));
        t.reload(A, "o2", Some(UserRef::at(2)), None, None);
        assert!(t.get(A, "o2").is_none(), "its conversation went");
        assert_eq!((t.len(), t.rows()), (3, 4));
        assert!(t.ordered);

        t.reload(A, "o1", Some(UserRef::at(1)), None, None);
        assert_eq!(t.owner("o1"), Some((A, UserRef::at(1))), "made anew on A");
        assert!(!t.ordered);
        t.reload(A, "o3", None, None, None);
        assert!(!t.is_issued("o3"), "nothing left to hold");
        t.reload(B, "o9", None, None, None);
        assert!(!t.is_issued("o9"));
        assert_eq!((t.len(), t.rows()), (1, 3));
    }

    #[test]
    fn an_issued_openid_has_no_conversation_until_asked() {
        let mut t = ConversationTable::default();
        t.issue("o1", A, UserRef::at(1));
        assert!(t.is_issued("o1"));
        assert!(t.get(A, "o1").is_none());
        assert_eq!(t.len(), 0);
        assert!(!t.get_or_new(A, "o1").is_some_and(|c| c.value.following()));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn removing_a_row_keeps_every_other_row_findable() {
        let mut t = table(50);
        // Growing the index rehashes every row: each must stay findable.
        t.reserve(10_000);
        for i in (0..50).step_by(3) {
            assert!(t.remove(&format!("o{i}")).is_some(), "o{i}");
        }
        for i in 0..50 {
            let appid = if i % 2 == 0 { A } else { B };
            let found = t.get(appid, &format!("o{i}")).is_some();
            assert_eq!(found, i % 3 != 0, "o{i}");
            if i % 3 != 0 {
                assert_eq!(
                    t.owner(&format!("o{i}")).map(|(_, user)| user),
                    Some(UserRef::at(i))
                );
            }
        }
        assert_eq!(t.len(), 50 - 17);
        assert!(t.remove("o0").is_none(), "already gone");
    }

    #[test]
    fn removing_an_account_takes_its_rows_only() {
        let mut t = table(10);
        let removed = t.remove_account(A);
        let mut openids: Vec<_> = removed.iter().map(|r| r.openid.as_str()).collect();
        openids.sort_unstable();
        assert_eq!(openids, ["o0", "o2", "o4", "o6", "o8"]);
        assert_eq!(t.len(), 5);
        assert_eq!(t.of_account(A).count(), 0);
        assert_eq!(t.of_account(B).count(), 5);
        for i in (1..10).step_by(2) {
            assert!(t.get(B, &format!("o{i}")).is_some());
        }
        // The appid can come back.
        t.issue("o20", A, UserRef::at(20));
        assert_eq!(t.owner("o20").map(|(appid, _)| appid), Some(A));
    }

    #[test]
    fn openids_of_kefu_s_length_and_of_any_other_are_found_alike() {
        let mut t = ConversationTable::default();
        let long: Vec<String> = (0..20).map(|i| format!("o{i:027}")).collect();
        let short: Vec<String> = (0..20).map(|i| format!("o{i}")).collect();
        for openid in long.iter().chain(&short) {
            t.issue(openid, A, UserRef::at(1));
            t.get_or_new(A, openid);
        }
        t.remove(&long[3]);
        t.remove(&short[4]);
        for openid in long.iter().chain(&short) {
            let gone = *openid == long[3] || *openid == short[4];
            assert_eq!(t.get(A, openid).is_none(), gone, "{openid}");
        }
        let mut listed: Vec<&str> = t.of_account(A).map(|(openid, _, _)| openid).collect();
        listed.sort_unstable();
        let mut expected: Vec<&str> = long
            .iter()
            .chain(&short)
            .map(String::as_str)
            .filter(|o| *o != long[3] && *o != short[4])
            .collect();
        expected.sort_unstable();
        assert_eq!(listed, expected);
    }

    #[test]
    fn a_follow_is_kept_with_its_row_and_leaves_with_it() {
        let mut t = table(4);
        let mut tx = Tx::new(&kefu_store::Counters { next_seq: 10 });
        t.followed(&mut tx, A, "o0", 100, None);
        t.followed(&mut tx, A, "o2", 200, Some(QrSceneValue::Id(7)));
        t.followed(&mut tx, B, "o0", 300, None);
        assert_eq!(t.follow(A, "o0").map(|f| f.subscribe_time), Some(100));
        assert_eq!(t.follow(B, "o0"), None, "o0 is A's: nothing recorded on B");
        assert_eq!(
            t.follow(A, "o2").and_then(|f| f.qr_scene.clone()),
            Some(QrSceneValue::Id(7))
        );
        assert!(t.follow(A, "o0").map(|f| f.seq) < t.follow(A, "o2").map(|f| f.seq));
        let removed = t.remove("o0").unwrap();
        assert_eq!(removed.follow.map(|f| f.value.subscribe_time), Some(100));
        assert_eq!(t.follow(A, "o0"), None);
        let removed = t.remove_account(A);
        assert_eq!(removed.iter().filter(|r| r.follow.is_some()).count(), 1);
    }

    #[test]
    fn recovery_takes_conversations_and_users_in_either_order() {
        let mut t = ConversationTable::default();
        let stored = Entry {
            value: Conversation::new(true),
            version: 7,
        };
        t.restore(A, "o1", stored.clone()).unwrap();
        assert_eq!(t.owner("o1"), Some((A, UserRef::NONE)));
        t.issue("o1", A, UserRef::at(1));
        assert_eq!(t.owner("o1"), Some((A, UserRef::at(1))));
        assert_eq!(t.get(A, "o1").map(|c| c.version), Some(7));
        assert!(!t.issue("o1", B, UserRef::at(9)), "o1 is A's");
        assert_eq!(t.owner("o1"), Some((A, UserRef::at(1))));
        // The other order.
        t.issue("o2", A, UserRef::at(2));
        t.restore(A, "o2", stored.clone()).unwrap();
        assert_eq!(t.get(A, "o2").map(|c| c.version), Some(7));
        assert_eq!(t.len(), 2);
        // A follow may come first too.
        let follow = Entry {
            value: FollowRecord {
                subscribe_time: 5,
                qr_scene: None,
                seq: 3,
            },
            version: 8,
        };
        t.restore_follow(A, "o3", follow.clone()).unwrap();
        t.issue("o3", A, UserRef::at(3));
        assert_eq!(t.follow(A, "o3").map(|f| f.seq), Some(3));
        assert_eq!(t.len(), 2, "a follow alone is no conversation");
        // An openid of another account is refused.
        assert!(t.restore(B, "o2", stored).is_err());
        assert!(t.restore_follow(B, "o2", follow).is_err());
        t.shrink_to_fit();
        assert!(t.get(A, "o1").is_some() && t.get(A, "o2").is_some());
    }

    #[test]
    fn recovery_finds_follows_in_the_rows_conversations_made_in_the_same_order() {
        let mut t = ConversationTable::default();
        let stored = |version| Entry {
            value: Conversation::new(true),
            version,
        };
        for i in 0..10 {
            t.restore(A, &format!("o{i}"), stored(i)).unwrap();
        }
        let follow = |at| Entry {
            value: FollowRecord {
                subscribe_time: at,
                qr_scene: None,
                seq: 1,
            },
            version: 20 + at as u64,
        };
        let place = |t: &ConversationTable, i: i64| t.row_of(&format!("o{i}")).unwrap();
        // o3 has no follow; the guess misses there and finds its way again.
        for i in (0..10).filter(|i| *i != 3) {
            t.restore_follow(A, &format!("o{i}"), follow(i)).unwrap();
            let at = place(&t, i);
            let next = t.shards[at.shard].next_restored;
            assert_eq!(next, at.row + 1, "the row after o{i} is the next guess");
        }
        // The guessed row's openid on another account is refused, as a lookup would.
        let o4 = place(&t, 4);
        t.shards[o4.shard].next_restored = o4.row;
        assert!(t.restore_follow(B, "o4", follow(99)).is_err());
        assert!(t.restore(B, "o4", stored(99)).is_err());
        for i in 0..10 {
            let openid = format!("o{i}");
            assert_eq!(t.get(A, &openid).map(|c| c.version), Some(i));
            let expected = (i != 3).then_some(i as i64);
            assert_eq!(t.follow(A, &openid).map(|f| f.subscribe_time), expected);
        }
        assert_eq!(t.len(), 10);
    }

    mod model {
        //! The table against a plain map of what it should hold, through any sequence of
        //! changes: removal moves rows, and every other row must stay findable.

        use std::collections::HashMap;

        use proptest::prelude::*;

        use super::*;

        #[derive(Debug, Clone)]
        enum Op {
            Issue(usize, usize, usize),
            New(usize, usize),
            /// Recovery: a stored conversation, or a stored follow.
            Restore(usize, usize),
            RestoreFollow(usize, usize),
            Remove(usize),
            RemoveAccount(usize),
        }

        const APPIDS: [&str; 3] = [A, B, "wx00000000000000cc"];

        /// Half of them kefu's length (held inline), half not.
        fn openid(i: usize) -> String {
            if i.is_multiple_of(2) {
                format!("o{i:027}")
            } else {
                format!("o{i}")
            }
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => (0..24usize, 0..3usize, 0..5usize).prop_map(|(o, a, u)| Op::Issue(o, a, u)),
                4 => (0..24usize, 0..3usize).prop_map(|(o, a)| Op::New(o, a)),
                3 => (0..24usize, 0..3usize).prop_map(|(o, a)| Op::Restore(o, a)),
                3 => (0..24usize, 0..3usize).prop_map(|(o, a)| Op::RestoreFollow(o, a)),
                3 => (0..24usize).prop_map(Op::Remove),
                1 => (0..3usize).prop_map(Op::RemoveAccount),
            ]
        }

        /// openid → (account, user, has a conversation)
        type Model = HashMap<String, (usize, UserRef, bool)>;

        /// Checks and records a conversation made (or restored) for `o` on account `a`: only
        /// an openid of another account is refused.
        fn conversation_made(
            model: &mut Model,
            o: usize,
            a: usize,
            made: bool,
        ) -> Result<(), TestCaseError> {
            match model.get_mut(&openid(o)) {
                Some(row) if row.0 != a => prop_assert!(!made),
                Some(row) => {
                    prop_assert!(made);
                    row.2 = true;
                }
                None => {
                    prop_assert!(made);
                    model.insert(openid(o), (a, UserRef::NONE, true));
                }
            }
            Ok(())
        }

        proptest! {
            #[test]
            fn the_table_holds_what_a_map_would(ops in proptest::collection::vec(op(), 1..80)) {
                let mut table = ConversationTable::default();
                let mut model = Model::new();
                for op in ops {
                    match op {
                        Op::Issue(o, a, u) => {
                            let user = UserRef::at(u as u32);
                            let issued = table.issue(&openid(o), APPIDS[a], user);
                            match model.get_mut(&openid(o)) {
                                Some(row) if row.0 != a => prop_assert!(!issued),
                                Some(row) => {
                                    prop_assert!(issued);
                                    row.1 = user;
                                }
                                None => {
                                    prop_assert!(issued);
                                    model.insert(openid(o), (a, user, false));
                                }
                            }
                        }
                        Op::New(o, a) => {
                            let made = table.get_or_new(APPIDS[a], &openid(o)).is_some();
                            conversation_made(&mut model, o, a, made)?;
                        }
                        Op::Restore(o, a) => {
                            let stored = Entry { value: Conversation::new(true), version: o as u64 };
                            let restored = table.restore(APPIDS[a], &openid(o), stored).is_ok();
                            conversation_made(&mut model, o, a, restored)?;
                            if restored {
                                let version = table.get(APPIDS[a], &openid(o)).map(|c| c.version);
                                prop_assert_eq!(version, Some(o as u64));
                            }
                        }
                        Op::RestoreFollow(o, a) => {
                            let follow = FollowRecord { subscribe_time: o as i64, qr_scene: None, seq: 1 };
                            let restored = table
                                .restore_follow(APPIDS[a], &openid(o), Entry { value: follow, version: 1 })
                                .is_ok();
                            match model.get(&openid(o)) {
                                Some(row) => prop_assert_eq!(restored, row.0 == a),
                                None => {
                                    prop_assert!(restored);
                                    model.insert(openid(o), (a, UserRef::NONE, false));
                                }
                            }
                            if restored {
                                let at = table.follow(APPIDS[a], &openid(o)).map(|f| f.subscribe_time);
                                prop_assert_eq!(at, Some(o as i64));
                            }
                        }
                        Op::Remove(o) => {
                            let removed = table.remove(&openid(o));
                            let expected = model.remove(&openid(o));
                            prop_assert_eq!(
                                removed.map(|r| (r.user, r.conversation.is_some())),
                                expected.map(|(_, u, c)| (u, c))
                            );
                        }
                        Op::RemoveAccount(a) => {
                            let mut removed: Vec<String> = table
                                .remove_account(APPIDS[a])
                                .into_iter()
                                .map(|r| r.openid)
                                .collect();
                            removed.sort();
                            let mut expected: Vec<String> =
                                model.iter().filter(|(_, row)| row.0 == a).map(|(o, _)| o.clone()).collect();
                            expected.sort();
                            model.retain(|_, row| row.0 != a);
                            prop_assert_eq!(removed, expected);
                        }
                    }
                    for o in 0..24 {
                        let openid = openid(o);
                        let want = model.get(&openid);
                        prop_assert_eq!(
                            table.owner(&openid),
                            want.map(|(a, u, _)| (APPIDS[*a], *u))
                        );
                        for (a, appid) in APPIDS.iter().enumerate() {
                            let has = want.is_some_and(|row| row.0 == a && row.2);
                            prop_assert_eq!(table.get(appid, &openid).is_some(), has);
                        }
                    }
                    prop_assert_eq!(table.len(), model.values().filter(|row| row.2).count());
                    for (a, appid) in APPIDS.iter().enumerate() {
                        let listed = table.of_account(appid).count();
                        let want = model.values().filter(|row| row.0 == a && row.2).count();
                        prop_assert_eq!(listed, want);
                    }
                }
            }
        }
    }
}
