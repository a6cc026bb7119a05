//! Which rules are in force: the rule book (shipped and API-defined rule sets), each platform's
//! default, and the rollouts in creation order. One immutable value behind an `Arc`: every
//! decision reads a cheap clone of it, and the rare change (a rule set defined, a rollout
//! created, paused or pinned) builds a new one.

use std::collections::HashMap;

use kefu_policy::{AccountFacts, Channel, Defaults, Platform, Rollout, RuleBook, RuleSetId};
use kefu_store::AccountRecord;

#[derive(Clone, Debug)]
pub struct Policy {
    pub book: RuleBook,
    pub defaults: Defaults,
    /// In creation order: the order they chain in (RULES.md §4).
    pub rollouts: Vec<Rollout>,
    /// What the store keeps beside each rollout, by id.
    pub rollout_meta: HashMap<String, RolloutMeta>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolloutMeta {
    pub seq: u64,
    pub created_at: i64,
    pub note: Option<String>,
}

impl Policy {
    pub fn new(book: RuleBook, defaults: Defaults) -> Policy {
        Policy {
            book,
            defaults,
            rollouts: Vec::new(),
            rollout_meta: HashMap::new(),
        }
    }

    /// The rule set in force for `account` on `channel` at `at`.
    pub fn ruleset_for(&self, account: &AccountRecord, channel: Channel, at: i64) -> RuleSetId {
        let name =
            kefu_policy::ruleset_at(&self.defaults, &self.rollouts, &facts(account), channel, at);
        // Every name a rollout or a default can give was checked against the book when it was
        // set; NONE (a rule set granting nothing) is only the answer to a broken store.
        self.book.id(name).unwrap_or(RuleSetId::NONE)
    }

    pub fn rollout(&self, id: &str) -> Option<&Rollout> {
        self.rollouts.iter().find(|r| r.id == id)
    }

    pub fn rollout_mut(&mut self, id: &str) -> Option<&mut Rollout> {
        self.rollouts.iter_mut().find(|r| r.id == id)
    }

    /// Whether a rule set is a default or named by a rollout (grants are checked apart).
    pub fn names(&self, name: &str) -> bool {
        Platform::ALL.iter().any(|p| self.defaults.get(*p) == name)
            || self.rollouts.iter().any(|r| r.from == name || r.to == name)
    }
}

/// What the rules need to know of an Official Account.
pub fn facts(account: &AccountRecord) -> AccountFacts<'_> {
    AccountFacts {
        id: &account.appid,
        platform: Platform::Oa,
        registered_at: account.registered_at,
    }
}
