//! Every openid kefu has issued: the account and user it belongs to, and its conversation.
//!
//! This is the one table a send reads (`owner`, then `get_mut`), so it is laid out for millions
//! of rows: the rows sit side by side in one `Vec`, and the index by openid is a hash table of
//! row numbers (4 bytes a slot). Two maps keyed by the openid `String` (openid → owner, and
//! appid → openid → conversation) cost each follower two keys and two sets of half-empty slots
//! as wide as their values; at a million followers they were about 430 bytes of the 1,083.
//!
//! Openids are unique across accounts, so a row's account is part of what it is: a lookup by
//! (appid, openid) finds the openid and checks the account.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use kefu_policy::Conversation;

use crate::world::{Entry, Map};

/// An account's place in [`ConversationTable::accounts`]: rows name their account in 4 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AccountId(u32);

#[derive(Debug)]
struct Row {
    openid: Box<str>,
    account: AccountId,
    /// Empty while recovery has met the conversation but not yet the user holding the openid.
    user_id: Box<str>,
    /// None until the user's first follow or message (the openid is issued just before).
    conversation: Option<Entry<Conversation>>,
}

/// Who an openid belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner<'a> {
    pub appid: &'a str,
    pub user_id: &'a str,
}

/// What [`ConversationTable::remove_account`] took out: one row each.
#[derive(Debug)]
pub struct Removed {
    pub openid: String,
    pub user_id: String,
    pub conversation: Option<Entry<Conversation>>,
}

#[derive(Debug, Default)]
pub struct ConversationTable {
    rows: Vec<Row>,
    /// Row numbers, hashed by the row's openid.
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    /// Appids, interned: never removed, so an `AccountId` stays valid.
    appids: Vec<Box<str>>,
    accounts: Map<Box<str>, AccountId>,
    /// Rows with a conversation.
    conversations: usize,
}

impl ConversationTable {
    /// The conversation of `openid` on `appid`.
    pub fn get(&self, appid: &str, openid: &str) -> Option<&Entry<Conversation>> {
        let row = &self.rows[self.row_of(openid)?];
        (self.appid(row) == appid).then_some(())?;
        row.conversation.as_ref()
    }

    pub fn get_mut(&mut self, appid: &str, openid: &str) -> Option<&mut Entry<Conversation>> {
        let at = self.row_of(openid)?;
        (self.appid(&self.rows[at]) == appid).then_some(())?;
        self.rows[at].conversation.as_mut()
    }

    /// The conversation of `openid` on `appid`, a new one (not following) if it has none yet.
    /// An openid issued for another account is left alone and `None` returned: only damaged
    /// data holds one openid under two accounts.
    pub fn get_or_new(&mut self, appid: &str, openid: &str) -> Option<&mut Entry<Conversation>> {
        let account = self.intern(appid);
        let at = match self.row_of(openid) {
            Some(at) if self.rows[at].account != account => return None,
            Some(at) => at,
            None => {
                self.push(Row {
                    openid: openid.into(),
                    account,
                    user_id: Box::default(),
                    conversation: None,
                });
                self.rows.len() - 1
            }
        };
        let row = &mut self.rows[at];
        if row.conversation.is_none() {
            row.conversation = Some(Entry::new(Conversation::new(false)));
            self.conversations += 1;
        }
        row.conversation.as_mut()
    }

    /// The account and user `openid` was issued for.
    pub fn owner(&self, openid: &str) -> Option<Owner<'_>> {
        let row = &self.rows[self.row_of(openid)?];
        Some(Owner {
            appid: self.appid(row),
            user_id: &row.user_id,
        })
    }

    pub fn is_issued(&self, openid: &str) -> bool {
        self.row_of(openid).is_some()
    }

    /// Records that `openid` was issued for `user_id` on `appid` (a first contact, or recovery
    /// meeting the user). An openid already in the table for `appid` keeps its conversation
    /// and takes the user; one issued for another account is left alone and `false` returned.
    pub fn issue(&mut self, openid: &str, appid: &str, user_id: &str) -> bool {
        let account = self.intern(appid);
        match self.row_of(openid) {
            Some(at) if self.rows[at].account != account => return false,
            Some(at) => self.rows[at].user_id = user_id.into(),
            None => self.push(Row {
                openid: openid.into(),
                account,
                user_id: user_id.into(),
                conversation: None,
            }),
        }
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
        match self.get_or_new(appid, openid) {
            Some(slot) => {
                *slot = conversation;
                Ok(())
            }
            None => Err(conversation),
        }
    }

    /// Forgets `openid`: its owner and its conversation, which is returned.
    pub fn remove(&mut self, openid: &str) -> Option<Entry<Conversation>> {
        let hash = self.hasher.hash_one(openid);
        let rows = &self.rows;
        let found = self
            .index
            .find_entry(hash, |&at| &*rows[at as usize].openid == openid)
            .ok()?;
        let (at, _) = found.remove();
        let at = at as usize;
        let removed = self.rows.swap_remove(at);
        // The last row moved into `at`: point its index slot there.
        if let Some(moved) = self.rows.get(at) {
            let from = self.rows.len() as u32;
            let hash = self.hasher.hash_one(&*moved.openid);
            if let Some(slot) = self.index.find_mut(hash, |&i| i == from) {
                *slot = at as u32;
            }
        }
        if removed.conversation.is_some() {
            self.conversations -= 1;
        }
        removed.conversation
    }

    /// Forgets every openid issued for `appid` (the account's deletion), returning them.
    pub fn remove_account(&mut self, appid: &str) -> Vec<Removed> {
        let Some(&account) = self.accounts.get(appid) else {
            return Vec::new();
        };
        let (gone, kept): (Vec<Row>, Vec<Row>) = std::mem::take(&mut self.rows)
            .into_iter()
            .partition(|row| row.account == account);
        self.rows = kept;
        self.reindex();
        let removed: Vec<Removed> = gone
            .into_iter()
            .map(|row| Removed {
                openid: row.openid.into(),
                user_id: row.user_id.into(),
                conversation: row.conversation,
            })
            .collect();
        self.conversations -= removed.iter().filter(|r| r.conversation.is_some()).count();
        removed
    }

    /// The conversations on `appid`, by openid, in no particular order.
    pub fn of_account<'a>(
        &'a self,
        appid: &str,
    ) -> impl Iterator<Item = (&'a str, &'a Entry<Conversation>)> + 'a {
        let account = self.accounts.get(appid).copied();
        self.rows
            .iter()
            .filter(move |row| Some(row.account) == account)
            .filter_map(|row| Some((&*row.openid, row.conversation.as_ref()?)))
    }

    /// Every conversation, on every account.
    pub fn all(&self) -> impl Iterator<Item = &Entry<Conversation>> {
        self.rows.iter().filter_map(|row| row.conversation.as_ref())
    }

    /// How many conversations there are (openids issued without one are not counted).
    pub fn len(&self) -> usize {
        self.conversations
    }

    /// Gives back what growing left unused, once recovery has put every row in (a `Vec` that
    /// has just doubled is half empty).
    pub fn shrink_to_fit(&mut self) {
        self.rows.shrink_to_fit();
        let rows = &self.rows;
        let hasher = &self.hasher;
        self.index
            .shrink_to_fit(|&at| hasher.hash_one(&*rows[at as usize].openid));
    }

    fn row_of(&self, openid: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(openid);
        self.index
            .find(hash, |&at| &*self.rows[at as usize].openid == openid)
            .map(|&at| at as usize)
    }

    fn appid(&self, row: &Row) -> &str {
        &self.appids[row.account.0 as usize]
    }

    fn intern(&mut self, appid: &str) -> AccountId {
        if let Some(&id) = self.accounts.get(appid) {
            return id;
        }
        let id = AccountId(self.appids.len() as u32);
        self.appids.push(appid.into());
        self.accounts.insert(appid.into(), id);
        id
    }

    fn push(&mut self, row: Row) {
        let at = self.rows.len() as u32;
        let hash = self.hasher.hash_one(&*row.openid);
        self.rows.push(row);
        let rows = &self.rows;
        let hasher = &self.hasher;
        self.index
            .insert_unique(hash, at, |&i| hasher.hash_one(&*rows[i as usize].openid));
    }

    fn reindex(&mut self) {
        self.index.clear();
        let hasher = &self.hasher;
        for (at, row) in self.rows.iter().enumerate() {
            let rows = &self.rows;
            self.index
                .insert_unique(hasher.hash_one(&*row.openid), at as u32, |&i| {
                    hasher.hash_one(&*rows[i as usize].openid)
                });
        }
    }
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
            t.issue(&format!("o{i}"), appid, &format!("u{i}"));
            t.get_or_new(appid, &format!("o{i}"));
        }
        t
    }

    #[test]
    fn a_lookup_checks_the_account() {
        let mut t = table(4);
        assert!(t.get(A, "o0").is_some());
        assert!(t.get(B, "o0").is_none(), "o0 was issued on A");
        assert!(t.get_or_new(B, "o0").is_none());
        assert!(t.get_mut(B, "o0").is_none());
        assert_eq!(
            t.owner("o1"),
            Some(Owner {
                appid: B,
                user_id: "u1"
            })
        );
        assert_eq!(t.owner("o9"), None);
    }

    #[test]
    fn an_issued_openid_has_no_conversation_until_asked() {
        let mut t = ConversationTable::default();
        t.issue("o1", A, "u1");
        assert!(t.is_issued("o1"));
        assert!(t.get(A, "o1").is_none());
        assert_eq!(t.len(), 0);
        assert!(!t.get_or_new(A, "o1").is_some_and(|c| c.value.following()));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn removing_a_row_keeps_every_other_row_findable() {
        let mut t = table(50);
        for i in (0..50).step_by(3) {
            assert!(t.remove(&format!("o{i}")).is_some(), "o{i}");
        }
        for i in 0..50 {
            let appid = if i % 2 == 0 { A } else { B };
            let found = t.get(appid, &format!("o{i}")).is_some();
            assert_eq!(found, i % 3 != 0, "o{i}");
            if i % 3 != 0 {
                assert_eq!(
                    t.owner(&format!("o{i}")).map(|o| o.user_id),
                    Some(&*format!("u{i}"))
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
        t.issue("o20", A, "u20");
        assert_eq!(t.owner("o20").map(|o| o.appid), Some(A));
    }

    #[test]
    fn recovery_takes_conversations_and_users_in_either_order() {
        let mut t = ConversationTable::default();
        let stored = Entry {
            value: Conversation::new(true),
            version: 7,
        };
        t.restore(A, "o1", stored.clone()).unwrap();
        assert_eq!(t.owner("o1").map(|o| o.user_id), Some(""));
        t.issue("o1", A, "u1");
        assert_eq!(t.owner("o1").map(|o| o.user_id), Some("u1"));
        assert_eq!(t.get(A, "o1").map(|c| c.version), Some(7));
        assert!(!t.issue("o1", B, "u9"), "o1 is A's");
        assert_eq!(t.owner("o1").map(|o| o.user_id), Some("u1"));
        // The other order.
        t.issue("o2", A, "u2");
        t.restore(A, "o2", stored.clone()).unwrap();
        assert_eq!(t.get(A, "o2").map(|c| c.version), Some(7));
        assert_eq!(t.len(), 2);
        // An openid of another account is refused.
        assert!(t.restore(B, "o2", stored).is_err());
        t.shrink_to_fit();
        assert!(t.get(A, "o1").is_some() && t.get(A, "o2").is_some());
    }
}
