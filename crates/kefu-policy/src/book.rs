//! The rule sets a process knows, each addressed by a two-byte [`RuleSetId`] so that a grant can
//! name the rule set it was computed under without carrying a string (the ≤ 64-byte budget).
//!
//! Ids are stable so that stored grants keep meaning the same rule set across restarts: shipped
//! rule sets have fixed ids (their position in [`crate::shipped::FILES`]), rule sets added later
//! get ids from [`RuleSetId::FIRST_CUSTOM`] on, and replacing a rule set keeps its id. A store
//! persists `(id, rule set)` pairs and rebuilds the book with [`RuleBook::restore`].

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::ruleset::RuleSet;
use crate::shipped;
use crate::trigger::{Combine, Platform};

/// A rule set's id within a [`RuleBook`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RuleSetId(u16);

impl RuleSetId {
    /// The first id given to a rule set that is not shipped; ids below are reserved for rule sets
    /// kefu may ship in the future.
    pub const FIRST_CUSTOM: RuleSetId = RuleSetId(256);
    /// Never issued: stands for "no rule set known" in compact state.
    pub const NONE: RuleSetId = RuleSetId(u16::MAX);

    pub fn get(self) -> u16 {
        self.0
    }

    /// An id as persisted. Looking up an id a book never issued finds nothing (never panics).
    pub fn from_u16(raw: u16) -> RuleSetId {
        RuleSetId(raw)
    }
}

/// Why a rule set could not be put in the book.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleBookError {
    #[error("the rule book is full ({} rule sets)", u16::MAX)]
    Full,
    #[error("rule set `{name}` already has id {}", existing.get())]
    NameTaken { name: String, existing: RuleSetId },
    #[error("id {} cannot be given to a rule set", .0.get())]
    ReservedId(RuleSetId),
}

/// What [`RuleBook::get`] answers for an id it never issued: a rule set granting nothing.
static UNKNOWN: RuleSet = RuleSet::placeholder();

/// All rule sets known to a process.
#[derive(Debug, Clone)]
pub struct RuleBook {
    /// Indexed by id; `None` for ids not in use.
    slots: Vec<Option<RuleSet>>,
    by_name: HashMap<String, RuleSetId>,
}

impl Default for RuleBook {
    fn default() -> Self {
        RuleBook::new()
    }
}

impl RuleBook {
    /// A book with no rule set at all.
    pub fn new() -> RuleBook {
        RuleBook {
            slots: Vec::new(),
            by_name: HashMap::new(),
        }
    }

    /// The shipped rule sets, at their fixed ids.
    pub fn shipped() -> RuleBook {
        let mut book = RuleBook::new();
        for (i, rs) in shipped::rulesets().into_iter().enumerate() {
            // Six files: the index always fits, and each name is distinct (tested).
            if let Ok(raw) = u16::try_from(i) {
                let _ = book.restore(RuleSetId(raw), rs);
            }
        }
        book
    }

    /// Adds `rs`, or replaces the rule set of the same name and keeps its id.
    ///
    /// A full book (65,279 rule sets beside the shipped ones) stores nothing and answers
    /// [`RuleSetId::NONE`]; callers that accept rule sets from users use [`RuleBook::try_insert`]
    /// to report it.
    pub fn insert(&mut self, rs: RuleSet) -> RuleSetId {
        self.try_insert(rs).unwrap_or(RuleSetId::NONE)
    }

    pub fn try_insert(&mut self, rs: RuleSet) -> Result<RuleSetId, RuleBookError> {
        if let Some(&id) = self.by_name.get(&rs.name) {
            self.slots[usize::from(id.0)] = Some(rs);
            return Ok(id);
        }
        let next = self.slots.len().max(usize::from(RuleSetId::FIRST_CUSTOM.0));
        let id = u16::try_from(next)
            .ok()
            .filter(|&raw| raw != RuleSetId::NONE.0)
            .map(RuleSetId)
            .ok_or(RuleBookError::Full)?;
        self.put(id, rs);
        Ok(id)
    }

    /// Puts `rs` at `id`, as a store rebuilding a book does. Replaces what held `id` before; a
    /// name already held by another id is refused.
    pub fn restore(&mut self, id: RuleSetId, rs: RuleSet) -> Result<(), RuleBookError> {
        if id == RuleSetId::NONE {
            return Err(RuleBookError::ReservedId(id));
        }
        if let Some(&existing) = self.by_name.get(&rs.name)
            && existing != id
        {
            return Err(RuleBookError::NameTaken {
                name: rs.name,
                existing,
            });
        }
        self.put(id, rs);
        Ok(())
    }

    fn put(&mut self, id: RuleSetId, rs: RuleSet) {
        let slot = usize::from(id.0);
        if self.slots.len() <= slot {
            self.slots.resize_with(slot + 1, || None);
        }
        if let Some(old) = self.slots[slot].take() {
            self.by_name.remove(&old.name);
        }
        self.by_name.insert(rs.name.clone(), id);
        self.slots[slot] = Some(rs);
    }

    pub fn id(&self, name: &str) -> Option<RuleSetId> {
        self.by_name.get(name).copied()
    }

    /// The rule set of `id`; for an id this book never issued, an empty rule set (named "")
    /// that grants nothing, so that deciding on stale state cannot panic.
    pub fn get(&self, id: RuleSetId) -> &RuleSet {
        self.try_get(id).unwrap_or(&UNKNOWN)
    }

    pub fn try_get(&self, id: RuleSetId) -> Option<&RuleSet> {
        self.slots.get(usize::from(id.0))?.as_ref()
    }

    /// The name of `id`, or `"unknown"` when the book does not hold it.
    pub fn name(&self, id: RuleSetId) -> &str {
        self.try_get(id).map_or("unknown", |rs| rs.name.as_str())
    }

    /// Every rule set with its id, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (RuleSetId, &RuleSet)> {
        self.slots.iter().enumerate().filter_map(|(i, rs)| {
            let id = RuleSetId(u16::try_from(i).ok()?);
            rs.as_ref().map(|rs| (id, rs))
        })
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

impl RuleSet {
    const fn placeholder() -> RuleSet {
        RuleSet::empty(String::new(), Platform::Oa, Combine::Merge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_ids_are_fixed() {
        let book = RuleBook::shipped();
        assert_eq!(book.len(), 6);
        for (i, (name, _)) in shipped::FILES.iter().enumerate() {
            let id = book.id(name).unwrap();
            assert_eq!(usize::from(id.get()), i);
            assert_eq!(book.get(id).name, *name);
        }
        assert_eq!(book.iter().count(), 6);
    }

    #[test]
    fn insert_replaces_by_name_and_keeps_the_id() {
        let mut book = RuleBook::shipped();
        let custom = RuleSet::new("house-rules", Platform::Oa, Combine::PerTrigger);
        let id = book.insert(custom.clone());
        assert_eq!(id, RuleSetId::FIRST_CUSTOM);
        let second = book.insert(RuleSet::new("other", Platform::Kf, Combine::Merge));
        assert_eq!(second.get(), 257);

        let mut changed = custom;
        changed.combine = Combine::Merge;
        assert_eq!(book.insert(changed), id);
        assert_eq!(book.get(id).combine, Combine::Merge);

        // Shipped ones can be replaced too, in place.
        let oa = book.id("wechat-oa-2023").unwrap();
        let replaced = RuleSet::new("wechat-oa-2023", Platform::Oa, Combine::PerTrigger);
        assert_eq!(book.insert(replaced), oa);
        assert_eq!(book.len(), 8);
    }

    #[test]
    fn unknown_ids_find_an_empty_rule_set() {
        let book = RuleBook::shipped();
        let stale = RuleSetId::from_u16(4000);
        assert!(book.try_get(stale).is_none());
        assert_eq!(book.get(stale).rules().count(), 0);
        assert_eq!(book.name(stale), "unknown");
        assert_eq!(book.get(RuleSetId::NONE).name, "");
    }

    #[test]
    fn restore_rebuilds_the_same_ids() {
        let mut book = RuleBook::shipped();
        let id = book.insert(RuleSet::new("mine", Platform::Oa, Combine::Merge));
        let saved: Vec<(RuleSetId, RuleSet)> =
            book.iter().map(|(id, rs)| (id, rs.clone())).collect();

        let mut again = RuleBook::new();
        for (id, rs) in saved {
            again.restore(id, rs).unwrap();
        }
        assert_eq!(again.id("mine"), Some(id));
        let clash = again.restore(
            RuleSetId::from_u16(300),
            RuleSet::new("mine", Platform::Oa, Combine::Merge),
        );
        assert!(matches!(clash, Err(RuleBookError::NameTaken { .. })));
        assert_eq!(
            again.restore(
                RuleSetId::NONE,
                RuleSet::new("z", Platform::Oa, Combine::Merge)
            ),
            Err(RuleBookError::ReservedId(RuleSetId::NONE))
        );
    }
}
