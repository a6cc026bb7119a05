//! The users, by user id.
//!
//! A hash table of boxed records, hashed by the record's own `user_id`: a map keyed by a copy of
//! the id would spend a `String` and a heap block on each user for the key alone, in slots
//! as wide as the key and the pointer together (at a million users, about 60 bytes each).
//! A user's id never changes once made, which is what keeps a record findable under its hash.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use kefu_store::UserRecord;

use crate::world::Entry;

#[derive(Debug, Default)]
pub struct UserTable {
    users: HashTable<Box<Entry<UserRecord>>>,
    hasher: foldhash::fast::RandomState,
}

impl UserTable {
    pub fn get(&self, user_id: &str) -> Option<&Entry<UserRecord>> {
        let hash = self.hasher.hash_one(user_id);
        self.users
            .find(hash, |u| u.value.user_id == user_id)
            .map(|u| &**u)
    }

    /// The user to change; its `user_id` must stay as it is.
    pub fn get_mut(&mut self, user_id: &str) -> Option<&mut Entry<UserRecord>> {
        let hash = self.hasher.hash_one(user_id);
        self.users
            .find_mut(hash, |u| u.value.user_id == user_id)
            .map(|u| &mut **u)
    }

    pub fn contains_key(&self, user_id: &str) -> bool {
        self.get(user_id).is_some()
    }

    /// Puts `user` under its id, replacing the user of that id if there is one.
    pub fn insert(&mut self, user: Entry<UserRecord>) {
        let hasher = &self.hasher;
        let hash = hasher.hash_one(&user.value.user_id);
        match self.users.entry(
            hash,
            |u| u.value.user_id == user.value.user_id,
            |u| hasher.hash_one(&u.value.user_id),
        ) {
            hashbrown::hash_table::Entry::Occupied(mut found) => **found.get_mut() = user,
            hashbrown::hash_table::Entry::Vacant(slot) => {
                slot.insert(Box::new(user));
            }
        }
    }

    pub fn remove(&mut self, user_id: &str) -> Option<Entry<UserRecord>> {
        let hash = self.hasher.hash_one(user_id);
        let found = self
            .users
            .find_entry(hash, |u| u.value.user_id == user_id)
            .ok()?;
        Some(*found.remove().0)
    }

    /// Every user, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &Entry<UserRecord>> {
        self.users.iter().map(|u| &**u)
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Gives back what growing left unused, once recovery has put every user in.
    pub fn shrink_to_fit(&mut self) {
        let hasher = &self.hasher;
        self.users
            .shrink_to_fit(|u| hasher.hash_one(&u.value.user_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, nickname: &str) -> Entry<UserRecord> {
        Entry::new(UserRecord {
            user_id: id.into(),
            nickname: nickname.into(),
            created_at: 0,
            seq: 0,
            openids: Default::default(),
        })
    }

    #[test]
    fn users_are_found_replaced_and_removed_by_id() {
        let mut users = UserTable::default();
        for i in 0..100 {
            users.insert(user(&format!("u{i}"), "n"));
        }
        users.insert(user("u7", "seven"));
        assert_eq!(users.len(), 100, "u7 replaced, not added");
        assert_eq!(
            users.get("u7").map(|u| u.value.nickname.as_str()),
            Some("seven")
        );
        if let Some(u) = users.get_mut("u8") {
            u.value.nickname = "eight".into();
        }
        assert_eq!(
            users.get("u8").map(|u| u.value.nickname.as_str()),
            Some("eight")
        );
        assert_eq!(
            users.remove("u9").map(|u| u.value.user_id),
            Some("u9".into())
        );
        assert!(!users.contains_key("u9"));
        assert!(users.remove("u9").is_none());
        users.shrink_to_fit();
        assert_eq!(users.values().count(), 99);
        assert!(
            (0..100)
                .filter(|i| *i != 9)
                .all(|i| users.contains_key(&format!("u{i}")))
        );
    }
}
