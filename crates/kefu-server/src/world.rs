//! The world in memory: everything kefu decides on, loaded from the store at start-up and kept
//! in step with it by [`Tx`]. Decisions read and change it under one lock; the store only ever
//! receives finished state.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kefu_policy::{Conversation, RuleSet, RuleSetId};
use kefu_store::{
    AccountRecord, Changed, ClockRecord, Commit, Counters, DeliveryRecord, FollowRecord,
    InboxMessage, Key, KfAccountSet, MenuRecord, MsgIdCounter, QrCodeRecord, Record,
    StableTokenSet, StoredRollout, StoredRuleSet, TokenSet, TrafficEvent, TrafficRecord,
    UserRecord, Versioned, Write,
};

use crate::conversations::ConversationTable;
use crate::policy::{Policy, RolloutMeta};
use crate::push::Outbox;
use crate::shadow::Shadow;
use crate::users::{UserRef, UserTable};

/// The world's maps (the store's fast hash maps).
pub use kefu_store::Map;

/// Who an openid belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner<'a> {
    pub appid: &'a str,
    /// Empty for an openid whose user is missing (damaged data).
    pub user_id: &'a str,
}

/// A value with the store version it was read at (0: not stored yet).
#[derive(Clone, Debug)]
pub struct Entry<T> {
    pub value: T,
    pub version: u64,
}

impl<T> Entry<T> {
    pub fn new(value: T) -> Entry<T> {
        Entry { value, version: 0 }
    }
}

impl<T: Default> Default for Entry<T> {
    fn default() -> Entry<T> {
        Entry::new(T::default())
    }
}

#[derive(Debug)]
pub struct World {
    pub admin_token: Entry<String>,
    pub clock: Entry<ClockRecord>,
    pub counters: Entry<Counters>,
    pub accounts: Map<String, Entry<AccountRecord>>,
    /// Users by id (`users.rs`).
    pub users: UserTable,
    /// Every openid issued: its account, its user, its conversation and its follow.
    pub conversations: ConversationTable,
    pub tokens: Map<String, Entry<TokenSet>>,
    /// access token → appid.
    pub token_index: Map<String, String>,
    /// Pending webhook deliveries and MsgId counters (`push`).
    pub outbox: Outbox,
    /// Stable tokens, menus, QR codes, follows and KF accounts (`oa.rs`).
    pub oa: crate::oa::OaState,
    /// The rules in force; decisions read a clone of the `Arc`.
    pub policy: Arc<Policy>,
    /// Store versions of the records behind `policy` (rule sets, rollouts).
    pub versions: HashMap<Key, u64>,
    /// What active rollouts would decide (memory only).
    pub shadow: Shadow,
    /// Stored rule sets and rollouts met during recovery, put in `policy` by `finish_restore`.
    restored_rulesets: Vec<StoredRuleSet>,
    restored_rollouts: Vec<StoredRollout>,
}

impl World {
    pub fn new(admin_token: Entry<String>, clock: Entry<ClockRecord>, policy: Policy) -> World {
        World {
            admin_token,
            clock,
            counters: Entry::new(Counters { next_seq: 1 }),
            accounts: Map::default(),
            users: UserTable::default(),
            conversations: ConversationTable::default(),
            tokens: Map::default(),
            token_index: Map::default(),
            outbox: Outbox::default(),
            oa: crate::oa::OaState::default(),
            policy: Arc::new(policy),
            versions: HashMap::new(),
            shadow: Shadow::default(),
            restored_rulesets: Vec::new(),
            restored_rollouts: Vec::new(),
        }
    }

    /// Makes room for `followers` users and openids before recovery puts them in, so that
    /// tables do not grow (rehashing every entry, each a row or a user read at random) on the
    /// way. A follower is three records (user, conversation, follow), so recovery passes a third
    /// of the store's records: never more than are there in a world of followers, and a world
    /// of another shape only grows its tables as it would have.
    pub fn reserve_followers(&mut self, followers: u64) {
        let followers = usize::try_from(followers).unwrap_or(usize::MAX);
        self.conversations.reserve(followers);
        self.users.reserve(followers);
    }

    /// Puts one stored record in its place (recovery).
    pub fn restore(&mut self, key: Key, record: Versioned<Record>) {
        let version = record.version;
        match (key, record.value) {
            (Key::AdminToken, Record::AdminToken(t)) => {
                self.admin_token = Entry { value: t, version }
            }
            (Key::Clock, Record::Clock(c)) => self.clock = Entry { value: c, version },
            (Key::Counters, Record::Counters(c)) => self.counters = Entry { value: c, version },
            (Key::Account(appid), Record::Account(a)) => {
                self.accounts.insert(appid, Entry { value: a, version });
            }
            (Key::User(_), Record::User(u)) => {
                // Packed on this thread (start-up decodes on a thread of its own, and what a
                // finished thread allocated keeps its pages). Its openids are issued by
                // `finish_restore`.
                self.users.insert(&Entry { value: u, version });
            }
            (Key::Conversation { appid, openid }, Record::Conversation(c)) => {
                let restored =
                    self.conversations
                        .restore(&appid, &openid, Entry { value: c, version });
                if restored.is_err() {
                    tracing::warn!(%appid, %openid, "ignoring a stored conversation: its openid belongs to another account");
                }
            }
            (Key::Tokens(appid), Record::Tokens(t)) => {
                for issued in &t.tokens {
                    self.token_index.insert(issued.token.clone(), appid.clone());
                }
                self.tokens.insert(appid, Entry { value: t, version });
            }
            (Key::Outbox(id), Record::Outbox(d)) => {
                self.outbox.pending.insert(id, Entry { value: d, version });
            }
            (Key::MsgIds(appid), Record::MsgIds(c)) => {
                self.outbox
                    .msg_ids
                    .insert(appid, Entry { value: c, version });
            }
            (Key::Follow { appid, openid }, Record::Follow(f)) => {
                let restored =
                    self.conversations
                        .restore_follow(&appid, &openid, Entry { value: f, version });
                if restored.is_err() {
                    tracing::warn!(%appid, %openid, "ignoring a stored follow: its openid belongs to another account");
                }
            }
            (key, value) if crate::oa::owns(&key) => self.oa.restore(key, value, version),
            (key @ Key::RuleSet(_), Record::RuleSet(r)) => {
                self.versions.insert(key, version);
                self.restored_rulesets.push(r);
            }
            (key @ Key::Rollout(_), Record::Rollout(r)) => {
                self.versions.insert(key, version);
                self.restored_rollouts.push(r);
            }
            (key, _) => tracing::warn!(?key, "ignoring a stored record under a foreign key"),
        }
    }

    /// Brings users and conversations read from a snapshot up to the store's present:
    /// `changed` holds the per-user records the store wrote or deleted since the snapshot's
    /// position, as they are now. Every row they bear on is made again as a start reading the
    /// whole store would make it; what was not written since is as the snapshot has it.
    pub fn catch_up(&mut self, changed: Vec<Changed>) {
        // openid → its account, for every row to make again, and the conversations and follows
        // written since (by openid), as they are now.
        let mut rows: Map<String, String> = Map::default();
        let mut conversations: Map<String, Option<Entry<Conversation>>> = Map::default();
        let mut follows: Map<String, Option<Entry<FollowRecord>>> = Map::default();
        let mut users = Vec::new();
        for (key, stored) in changed {
            match &key {
                Key::User(user_id) => users.push((user_id.clone(), of_kind(&key, stored))),
                Key::Conversation { appid, openid } => {
                    conversations.insert(openid.clone(), of_kind(&key, stored));
                    rows.entry(openid.clone()).or_insert_with(|| appid.clone());
                }
                Key::Follow { appid, openid } => {
                    follows.insert(openid.clone(), of_kind(&key, stored));
                    rows.entry(openid.clone()).or_insert_with(|| appid.clone());
                }
                _ => {}
            }
        }
        // Users first: the openids they held and hold are rows to look at. `issued`: who holds
        // an openid now, among them.
        let users_written: HashSet<String> = users.iter().map(|(id, _)| id.clone()).collect();
        let mut issued: Map<String, UserRef> = Map::default();
        for (user_id, user) in users {
            if let Some(old) = self.users.get(&user_id) {
                for (appid, openid) in &old.value.openids {
                    rows.entry(openid.to_owned())
                        .or_insert_with(|| appid.to_owned());
                }
            }
            let Some(user) = user else {
                self.users.remove(&user_id);
                continue;
            };
            let at = self.users.insert(&user);
            for (appid, openid) in &user.value.openids {
                issued.insert(openid.to_owned(), at);
                rows.insert(openid.to_owned(), appid.to_owned());
            }
        }
        for (openid, appid) in rows {
            // A row's user whose record was not written still holds it.
            let kept = self.conversations.owner(&openid).and_then(|(_, user)| {
                let user_id = self.users.user_id(user)?;
                (!users_written.contains(user_id)).then_some(user)
            });
            let user = issued.get(&openid).copied().or(kept);
            let conversation = match conversations.remove(&openid) {
                Some(now) => now,
                None => self.conversations.get(&appid, &openid).cloned(),
            };
            let follow = match follows.remove(&openid) {
                Some(now) => now,
                None => self.conversations.followed_entry(&appid, &openid),
            };
            self.conversations
                .reload(&appid, &openid, user, conversation, follow);
        }
    }

    /// Issues the recovered users' openids (`users_scanned`: the users came from the store,
    /// not from a snapshot that holds the table of openids as it was), and puts the recovered
    /// rule sets (at their stored ids, which grants refer to) and rollouts (in creation order)
    /// into the policy.
    pub fn finish_restore(&mut self, users_scanned: bool) {
        // Users' openids last: the embedded store scans users before conversations and
        // follows, which then make their rows in their own key order and find them again in
        // that order, one row after the other (`ConversationTable::restore`), rather than each
        // looking up a row made in user order.
        if users_scanned {
            for (user, appid, openid) in self.users.openids() {
                if !self.conversations.issue(openid, appid, user) {
                    let user_id = self.users.user_id(user).unwrap_or_default();
                    tracing::warn!(%user_id, %appid, %openid, "ignoring a stored openid: it belongs to another account");
                }
            }
            self.conversations.shrink_to_fit();
            self.users.shrink_to_fit();
        }
        let policy = Arc::make_mut(&mut self.policy);
        for stored in self.restored_rulesets.drain(..) {
            let restored = RuleSet::from_toml(&stored.toml)
                .map_err(|e| e.to_string())
                .and_then(|rs| {
                    policy
                        .book
                        .restore(RuleSetId::from_u16(stored.id), rs)
                        .map_err(|e| e.to_string())
                });
            if let Err(error) = restored {
                tracing::error!(id = stored.id, %error, "a stored rule set could not be restored");
            }
        }
        self.restored_rollouts.sort_by_key(|r| r.seq);
        for stored in self.restored_rollouts.drain(..) {
            let meta = RolloutMeta {
                seq: stored.seq,
                created_at: stored.created_at,
                note: stored.note,
            };
            policy.rollout_meta.insert(stored.rollout.id.clone(), meta);
            policy.rollouts.push(stored.rollout);
        }
    }

    pub fn conversation(&self, appid: &str, openid: &str) -> Option<&Entry<Conversation>> {
        self.conversations.get(appid, openid)
    }

    /// The account and user an openid was issued for.
    pub fn owner_of(&self, openid: &str) -> Option<Owner<'_>> {
        let (appid, user) = self.conversations.owner(openid)?;
        let user_id = self.users.user_id(user).unwrap_or_default();
        Some(Owner { appid, user_id })
    }

    /// The user's first contact with an account: `openid` (a seed's own) or a new one, issued
    /// and recorded on the user.
    pub fn first_contact(
        &mut self,
        tx: &mut Tx,
        user_id: &str,
        appid: &str,
        openid: Option<String>,
    ) -> String {
        let openid = openid.unwrap_or_else(|| {
            loop {
                let candidate = crate::ids::openid();
                if !self.conversations.is_issued(&candidate) {
                    break candidate;
                }
            }
        });
        let user = self.users.find(user_id).unwrap_or(UserRef::NONE);
        self.conversations.issue(&openid, appid, user);
        if let Some(mut user) = self.users.at(user) {
            user.value.openids.insert(appid.to_owned(), openid.clone());
            self.users.save(tx, user);
        }
        openid
    }
}

/// A stored record as the kind its key names: one of another kind under the key is damage,
/// logged and left out.
fn of_kind<T: Persist>(key: &Key, stored: Option<Versioned<Record>>) -> Option<Entry<T>> {
    let Versioned { value, version } = stored?;
    let value = T::from_record(value);
    if value.is_none() {
        tracing::warn!(
            ?key,
            "ignoring a stored record of another kind under this key"
        );
    }
    Some(Entry {
        value: value?,
        version,
    })
}

/// The records that persist themselves through [`Tx::save`].
pub trait Persist: Sized {
    fn record(&self) -> Record;
    /// The record as this kind, `None` for a record of another kind.
    fn from_record(record: Record) -> Option<Self>;
}

macro_rules! persist {
    ($($ty:ty => $variant:ident),* $(,)?) => {
        $(impl Persist for $ty {
            fn record(&self) -> Record {
                Record::$variant(self.clone())
            }

            fn from_record(record: Record) -> Option<Self> {
                match record {
                    Record::$variant(value) => Some(value),
                    _ => None,
                }
            }
        })*
    };
}

persist! {
    String => AdminToken,
    ClockRecord => Clock,
    AccountRecord => Account,
    UserRecord => User,
    Conversation => Conversation,
    TokenSet => Tokens,
    DeliveryRecord => Outbox,
    MsgIdCounter => MsgIds,
    // The Official Account surface (`oa.rs`).
    StableTokenSet => StableTokens,
    MenuRecord => Menu,
    QrCodeRecord => QrCode,
    FollowRecord => Follow,
    KfAccountSet => KfAccounts,
}

/// The changes of one decision, as they are made: every saved record gets its new version from
/// the store-wide sequence, so the world can go on deciding before the writer has finished.
pub struct Tx {
    next_seq: u64,
    start_seq: u64,
    commit: Commit,
}

impl Tx {
    pub fn new(counters: &Counters) -> Tx {
        Tx {
            next_seq: counters.next_seq,
            start_seq: counters.next_seq,
            commit: Commit::default(),
        }
    }

    /// The next store-wide sequence number.
    pub fn seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Records the current value of `entry` under `key`, and moves the entry to its new version.
    pub fn save<T: Persist>(&mut self, key: Key, entry: &mut Entry<T>) {
        let version = self.seq();
        let write = Write::put(key, entry.version, version, entry.value.record());
        self.commit.writes.push(write);
        entry.version = version;
    }

    /// Records `record` under `key`, whose version lives in `versions` (records that are not
    /// kept as an [`Entry`], such as the policy's).
    pub fn put(&mut self, key: Key, record: Record, versions: &mut HashMap<Key, u64>) {
        let version = self.seq();
        let expect = versions.get(&key).copied().unwrap_or(0);
        versions.insert(key.clone(), version);
        self.commit
            .writes
            .push(Write::put(key, expect, version, record));
    }

    /// Like [`Tx::save`], but a record this decision saved already is written once: its
    /// earlier write in this commit takes the new value (a counter bumped once per push of a
    /// batch).
    pub fn resave<T: Persist>(&mut self, key: Key, entry: &mut Entry<T>) {
        if entry.version >= self.start_seq
            && let Some(write) = self
                .commit
                .writes
                .iter_mut()
                .rev()
                .find(|w| w.version == entry.version && w.key == key)
        {
            write.value = Some(entry.value.record());
            return;
        }
        self.save(key, entry);
    }

    pub fn delete<T>(&mut self, key: Key, entry: &Entry<T>) {
        if entry.version != 0 {
            self.commit.writes.push(Write::delete(key, entry.version));
        }
    }

    pub fn inbox(&mut self, message: InboxMessage) {
        self.commit.inbox.push(message);
    }

    /// Logs a delivery's current state (the log keeps the latest per id).
    pub fn delivery(&mut self, record: DeliveryRecord) {
        self.commit.deliveries.push(record);
    }

    pub fn traffic(&mut self, at: i64, event: TrafficEvent) {
        let seq = self.seq();
        self.commit.traffic.push(TrafficRecord { seq, at, event });
    }

    /// The finished commit; persists the sequence counter when this decision used it.
    pub fn finish(mut self, counters: &mut Entry<Counters>) -> Commit {
        if self.next_seq != self.start_seq {
            let version = self.seq();
            counters.value.next_seq = self.next_seq;
            let write = Write::put(
                Key::Counters,
                counters.version,
                version,
                Record::Counters(counters.value.clone()),
            );
            self.commit.writes.push(write);
            counters.version = version;
        }
        self.commit
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use kefu_policy::{Defaults, RuleBook};
    use kefu_store::{ClockMode, MemoryStore, Store};

    use super::*;

    const A: &str = "wx00000000000000aa";
    const B: &str = "wx00000000000000bb";
    const OPENIDS: [&str; 7] = ["oa1", "oa2", "ob2", "oa3", "ob4", "oa5", "ob5"];

    fn world() -> World {
        let clock = ClockRecord {
            mode: ClockMode::Virtual,
            now: 0,
            start: None,
        };
        World::new(
            Entry::new(String::new()),
            Entry::new(clock),
            Policy::new(RuleBook::shipped(), Defaults::shipped()),
        )
    }

    fn user(id: &str, openids: &[(&str, &str)]) -> Record {
        Record::User(UserRecord {
            user_id: id.into(),
            nickname: id.into(),
            created_at: 1,
            seq: 1,
            openids: openids
                .iter()
                .map(|(a, o)| (a.to_string(), o.to_string()))
                .collect(),
        })
    }

    fn conversation(appid: &str, openid: &str) -> Key {
        Key::Conversation {
            appid: appid.into(),
            openid: openid.into(),
        }
    }

    fn follow(appid: &str, openid: &str) -> Key {
        Key::Follow {
            appid: appid.into(),
            openid: openid.into(),
        }
    }

    fn followed() -> Record {
        Record::Follow(FollowRecord {
            subscribe_time: 5,
            qr_scene: None,
            seq: 2,
        })
    }

    /// Everything the tables say about the test's users and openids.
    fn seen(world: &World) -> String {
        let mut out = String::new();
        for id in ["u1", "u2", "u3", "u4", "u5"] {
            let user = world.users.get(id).map(|u| (u.value, u.version));
            out += &format!("{id}: {user:?}\n");
        }
        for openid in OPENIDS {
            let owner = world.owner_of(openid);
            out += &format!("{openid}: {owner:?}");
            for appid in [A, B] {
                let c = world.conversation(appid, openid).map(|c| c.version);
                let f = world.conversations.follow(appid, openid);
                out += &format!(" {c:?} {f:?}");
            }
            out += "\n";
        }
        let (rows, len) = (world.conversations.rows(), world.conversations.len());
        out + &format!("{rows} rows, {len} conversations")
    }

    fn restored(store: &MemoryStore) -> World {
        let mut world = world();
        store
            .scan(&mut |key, record| world.restore(key, record))
            .unwrap();
        world.finish_restore(true);
        world
    }

    /// Tables of the store as it was, caught up with the keys written since, are the tables a
    /// start reading the store as it is now makes: users changed, added and removed, an openid
    /// dropped from its user (its account deleted), conversations and follows written and
    /// deleted, and a user's new openid beside one whose conversation and follow were not
    /// written since.
    #[test]
    fn catching_up_makes_the_tables_a_whole_read_makes() {
        let store = MemoryStore::new();
        let put = |key: Key, expect: u64, version: u64, record: Record| {
            Write::put(key, expect, version, record)
        };
        let commit = |writes: Vec<Write>| {
            let commit = Commit {
                writes,
                ..Commit::default()
            };
            assert!(store.commit(&[commit]).unwrap()[0].is_ok());
        };
        let c = || Record::Conversation(Conversation::new(true));
        commit(vec![
            put(Key::User("u1".into()), 0, 1, user("u1", &[(A, "oa1")])),
            put(
                Key::User("u2".into()),
                0,
                2,
                user("u2", &[(A, "oa2"), (B, "ob2")]),
            ),
            put(Key::User("u3".into()), 0, 3, user("u3", &[(A, "oa3")])),
            put(conversation(A, "oa1"), 0, 4, c()),
            put(conversation(B, "ob2"), 0, 5, c()),
            put(follow(B, "ob2"), 0, 6, followed()),
            put(conversation(A, "oa3"), 0, 7, c()),
            put(Key::User("u5".into()), 0, 12, user("u5", &[(A, "oa5")])),
            put(conversation(A, "oa5"), 0, 13, c()),
            put(follow(A, "oa5"), 0, 14, followed()),
        ]);
        let mut then = restored(&store);
        let changes = vec![
            // u1's conversation moves on; u2 loses account B; u3 goes; u4 arrives.
            put(conversation(A, "oa1"), 4, 8, c()),
            put(Key::User("u2".into()), 2, 9, user("u2", &[(A, "oa2")])),
            Write::delete(conversation(B, "ob2"), 5),
            Write::delete(follow(B, "ob2"), 6),
            Write::delete(Key::User("u3".into()), 3),
            Write::delete(conversation(A, "oa3"), 7),
            put(Key::User("u4".into()), 0, 10, user("u4", &[(B, "ob4")])),
            put(follow(B, "ob4"), 0, 11, followed()),
            // u5 meets account B: oa5's conversation and follow are as they were.
            put(
                Key::User("u5".into()),
                12,
                15,
                user("u5", &[(A, "oa5"), (B, "ob5")]),
            ),
        ];
        let written: Vec<Key> = changes.iter().map(|w| w.key.clone()).collect();
        commit(changes);
        let now = restored(&store);
        assert_ne!(seen(&then), seen(&now));

        let changed = written
            .into_iter()
            .map(|key| {
                let stored = store.load(&key).unwrap();
                (key, stored)
            })
            .collect();
        then.catch_up(changed);
        assert_eq!(seen(&then), seen(&now));
        assert!(
            !then.conversations.is_issued("ob2"),
            "dropped with its account"
        );
        assert!(!then.conversations.is_issued("oa3"), "gone with its user");
    }
}
