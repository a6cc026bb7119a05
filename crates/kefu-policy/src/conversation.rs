//! One conversation (account, openid): follow state, grants, and the two instants typing needs.
//! Every rule of RULES.md §3 that reads or changes this state is a method here; each takes the
//! rule-clock instant `now` as an argument.
//!
//! The record is small on purpose (≤ 64 bytes with one live grant, asserted below): it is the
//! hot state kefu decides in memory, one per conversation.

use serde::{Deserialize, Serialize};

use crate::book::{RuleBook, RuleSetId};
use crate::decision::{Action, Decision, Explanation, GrantFacts, Reason};
use crate::grants::Grants;
use crate::ruleset::{Quota, RuleSet};
use crate::trigger::{Combine, Trigger, TriggerSet};

/// Typing needs a user message or an accepted send less than this many seconds ago (45080).
pub const TYPING_NEEDS_INTERACTION_SECS: i64 = 30;
/// A `Typing` lasts this long; another one before it ends is 45081.
pub const TYPING_LASTS_SECS: i64 = 15;

/// An instant that may be absent, in 8 bytes (`Option<i64>` takes 16): `i64::MIN` is "never",
/// an instant no caller passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MaybeAt(i64);

impl MaybeAt {
    const NEVER: MaybeAt = MaybeAt(i64::MIN);

    fn get(self) -> Option<i64> {
        (self != MaybeAt::NEVER).then_some(self.0)
    }

    fn from_option(at: Option<i64>) -> MaybeAt {
        at.map_or(MaybeAt::NEVER, MaybeAt)
    }
}

/// The state of one conversation. Serialized (for the store) as a plain record:
/// `{following, ruleset, last_interaction, typing_since, grants: [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ConversationRecord", into = "ConversationRecord")]
pub struct Conversation {
    grants: Grants,
    /// The last user message or accepted send (typing's 30-second rule).
    last_interaction: MaybeAt,
    /// When the current `Typing` began, until a send or `CancelTyping` ends it.
    typing_since: MaybeAt,
    /// The rule set in force for the account as last told (by a trigger or `set_ruleset`):
    /// explanations take `combine` and `reopen` from it.
    ruleset: RuleSetId,
    following: bool,
}

impl Conversation {
    /// A conversation with no grant. Platforms without following (mini programs, WeChat
    /// customer service) create theirs with `following = true`.
    pub fn new(following: bool) -> Self {
        Conversation {
            grants: Grants::None,
            last_interaction: MaybeAt::NEVER,
            typing_since: MaybeAt::NEVER,
            ruleset: RuleSetId::NONE,
            following,
        }
    }

    pub fn following(&self) -> bool {
        self.following
    }

    /// Makes the user a follower; grants nothing by itself (the `follow` trigger does).
    pub fn follow(&mut self) {
        self.following = true;
    }

    /// Ends every allowance and any typing state.
    pub fn unfollow(&mut self) {
        self.following = false;
        self.grants = Grants::None;
        self.typing_since = MaybeAt::NEVER;
    }

    /// The rule set in force for the account now, when it changed without a trigger here (the
    /// account moved); it only affects what explanations say, never a grant.
    pub fn set_ruleset(&mut self, id: RuleSetId) {
        self.ruleset = id;
    }

    /// The rule set in force as last told, if any.
    pub fn ruleset(&self) -> Option<RuleSetId> {
        (self.ruleset != RuleSetId::NONE).then_some(self.ruleset)
    }

    /// A trigger at `now` under `rules` (id `id`), the rule set in force for the account on the
    /// channel at `now`; the caller resolves which, with rollouts.
    ///
    /// `follow` and `qr_scan` make the user a follower (one user action is one trigger). Other
    /// triggers from a non-follower change nothing: such a user cannot message, tap a menu or
    /// pay, so a non-follower never holds a grant. A trigger with no entry in `rules` grants
    /// nothing, but a `message` still counts as a user message for typing.
    ///
    /// When the account has moved since an earlier trigger, grants already held keep the terms
    /// they were computed under; the new trigger combines with them under the reading
    /// (`rules.combine`) of the rule set in force now (details on the private `Grants::apply`).
    pub fn trigger(&mut self, t: Trigger, now: i64, id: RuleSetId, rules: &RuleSet) {
        if matches!(t, Trigger::Follow | Trigger::QrScan) {
            self.following = true;
        }
        if !self.following {
            return;
        }
        self.ruleset = id;
        if t == Trigger::Message {
            self.last_interaction = MaybeAt(now);
        }
        if let Some(rule) = rules.rule(t) {
            self.grants.apply(t, now, id, rule, rules.combine);
        }
    }

    /// Whether a customer-service message may be sent at `now`. Changes nothing.
    pub fn decide_send(&self, now: i64, book: &RuleBook) -> Decision {
        // The hot path, built straight into the answer: a follower with a grant to spend from.
        if self.following
            && let Some(g) = self.grants.spendable(now)
        {
            let facts = Some(g.facts());
            return Decision::new(self.explain(Action::Send, Reason::Accepted, now, book, facts));
        }
        Decision::new(self.send_refusal(now, book))
    }

    /// Decides a send at `now` and, if accepted, spends one from the grant that ends first and
    /// ends any typing state.
    pub fn send(&mut self, now: i64, book: &RuleBook) -> Decision {
        let decision = self.decide_send(now, book);
        if decision.accepted() {
            self.grants.spend(now);
            self.last_interaction = MaybeAt(now);
            self.typing_since = MaybeAt::NEVER;
        }
        decision
    }

    /// `custom/typing` with `command` at `now` (RULES.md §3 "Typing"). Typing consumes nothing.
    pub fn typing(&mut self, command: &str, now: i64, book: &RuleBook) -> Decision {
        let action = match command {
            "Typing" => Action::Typing,
            "CancelTyping" => Action::CancelTyping,
            _ => {
                let e = self.explain(
                    Action::UnknownCommand,
                    Reason::InvalidCommand,
                    now,
                    book,
                    None,
                );
                return Decision::new(e);
            }
        };
        // A live grant with nothing remaining is enough to type.
        let facts = match self.grants.latest_live(now) {
            Some(g) if self.following => self.grants.spendable(now).unwrap_or(g).facts(),
            _ => return Decision::new(self.closed(action, now, book)),
        };
        let recent = self
            .last_interaction
            .get()
            .filter(|&at| now.saturating_sub(at) < TYPING_NEEDS_INTERACTION_SECS);
        if recent.is_none() {
            let mut e = self.explain(action, Reason::NoRecentInteraction, now, book, Some(facts));
            e.since = self.last_interaction.get();
            return Decision::new(e);
        }
        if action == Action::Typing
            && let Some(since) = self.typing_since.get()
            && now.saturating_sub(since) < TYPING_LASTS_SECS
        {
            let mut e = self.explain(action, Reason::AlreadyTyping, now, book, Some(facts));
            e.since = Some(since);
            return Decision::new(e);
        }
        self.typing_since = match action {
            Action::Typing => MaybeAt(now),
            _ => MaybeAt::NEVER,
        };
        Decision::new(self.explain(action, Reason::Accepted, now, book, Some(facts)))
    }

    /// Whether any stored grant (live or not) was made under rule set `id`: such a rule set is
    /// in use and must not change under it.
    pub fn uses_ruleset(&self, id: RuleSetId) -> bool {
        self.grants.as_slice().iter().any(|g| g.ruleset == id)
    }

    /// What the API shows of the conversation at `now` (RULES.md §3 "In the API").
    pub fn view(&self, now: i64, book: &RuleBook) -> ConversationView {
        let grants: Vec<GrantView> = self
            .grants
            .live(now)
            .map(|g| GrantView {
                trigger: g.trigger,
                at: g.at,
                ruleset: g.ruleset,
                quota: g.quota(),
                remaining: g.remaining(),
                expires_at: g.deadline,
                sent: g.sent,
            })
            .collect();
        // One grant (merge): its own figures. Several (per-trigger): the sum of remaining, null
        // if any is unlimited, and the latest deadline.
        let remaining = grants.iter().try_fold(0u32, |sum, g| {
            g.remaining.count().map(|n| sum.saturating_add(n))
        });
        ConversationView {
            following: self.following,
            ruleset: self.ruleset(),
            combine: self.combine(book),
            remaining,
            expires_at: grants.iter().map(|g| g.expires_at).max(),
            sent_in_window: grants
                .iter()
                .fold(0u32, |sum, g| sum.saturating_add(g.sent)),
            grants,
            next_send: self.decide_send(now, book),
        }
    }

    /// Why a send is refused: 45047 with a live grant (naming the one that lasts longest),
    /// else 45015.
    #[cold]
    fn send_refusal(&self, now: i64, book: &RuleBook) -> Explanation {
        match self.grants.latest_live(now) {
            Some(g) if self.following => {
                let facts = Some(g.facts());
                let mut e = self.explain(Action::Send, Reason::Exhausted, now, book, facts);
                e.reopen = self.reopen(book);
                e
            }
            _ => self.closed(Action::Send, now, book),
        }
    }

    /// The 45015 explanation: not following, or no live grant (naming the last one that expired).
    fn closed(&self, action: Action, now: i64, book: &RuleBook) -> Explanation {
        let (reason, grant) = if self.following {
            (
                Reason::WindowClosed,
                self.grants.latest().map(|g| g.facts()),
            )
        } else {
            (Reason::NotFollowing, None)
        };
        let mut e = self.explain(action, reason, now, book, grant);
        e.reopen = self.reopen(book);
        e
    }

    /// The triggers that would open a window: a non-follower must follow (directly or by a QR
    /// code); a follower needs any trigger the rule set in force grants for, except `follow`,
    /// which a follower cannot do again.
    fn reopen(&self, book: &RuleBook) -> TriggerSet {
        if !self.following {
            return [Trigger::Follow, Trigger::QrScan].into_iter().collect();
        }
        let mut set = book.get(self.ruleset).granting();
        set.remove(Trigger::Follow);
        set
    }

    fn combine(&self, book: &RuleBook) -> Combine {
        book.get(self.ruleset).combine
    }

    fn explain(
        &self,
        action: Action,
        reason: Reason,
        now: i64,
        book: &RuleBook,
        grant: Option<GrantFacts>,
    ) -> Explanation {
        Explanation {
            action,
            reason,
            now,
            following: self.following,
            combine: self.combine(book),
            grant,
            reopen: TriggerSet::EMPTY,
            since: None,
        }
    }
}

/// A live grant as the API lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantView {
    pub trigger: Trigger,
    pub at: i64,
    pub ruleset: RuleSetId,
    pub quota: Quota,
    pub remaining: Quota,
    pub expires_at: i64,
    /// Accepted sends charged to this grant.
    pub sent: u32,
}

/// The conversation as the API explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationView {
    pub following: bool,
    /// The rule set in force as last told to the conversation.
    pub ruleset: Option<RuleSetId>,
    pub combine: Combine,
    /// `None` = unlimited; `Some(0)` when nothing is live.
    pub remaining: Option<u32>,
    /// `None` when nothing is live.
    pub expires_at: Option<i64>,
    pub sent_in_window: u32,
    /// The live grants, in the order they would be spent.
    pub grants: Vec<GrantView>,
    /// What a send at the same instant would get.
    pub next_send: Decision,
}

/// The persisted shape: plain options instead of sentinels, a list instead of the inline case.
#[derive(Serialize, Deserialize)]
struct ConversationRecord {
    following: bool,
    ruleset: Option<RuleSetId>,
    last_interaction: Option<i64>,
    typing_since: Option<i64>,
    grants: Grants,
}

impl From<Conversation> for ConversationRecord {
    fn from(c: Conversation) -> Self {
        ConversationRecord {
            following: c.following,
            ruleset: c.ruleset(),
            last_interaction: c.last_interaction.get(),
            typing_since: c.typing_since.get(),
            grants: c.grants,
        }
    }
}

impl From<ConversationRecord> for Conversation {
    fn from(r: ConversationRecord) -> Self {
        Conversation {
            grants: r.grants,
            last_interaction: MaybeAt::from_option(r.last_interaction),
            typing_since: MaybeAt::from_option(r.typing_since),
            ruleset: r.ruleset.unwrap_or(RuleSetId::NONE),
            following: r.following,
        }
    }
}

#[cfg(test)]
#[path = "conversation_tests.rs"]
mod tests;
