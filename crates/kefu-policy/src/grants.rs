//! The grants of one conversation and the two readings of RULES.md §3 that update them.
//!
//! Storage is sized for the common case: one grant inline (merge never holds more), and a boxed
//! slice only when the per-trigger reading keeps several kinds at once. The inline case is what
//! keeps a conversation within 64 bytes.
//!
//! Spending is the same under both readings: from the live grant with remaining > 0 whose
//! deadline comes first (ties: the earlier trigger). Under merge there is a single grant, so the
//! rule picks it; this is also what makes a conversation whose account moved between readings
//! well defined (see [`Grants::apply`]).

use serde::{Deserialize, Serialize};

use crate::book::RuleSetId;
use crate::decision::GrantFacts;
use crate::ruleset::{MAX_COUNT, Quota, TriggerRule};
use crate::trigger::{Combine, Trigger};

/// A [`Quota`] in 4 bytes instead of 8: `u32::MAX` is unlimited (rule sets keep counts below
/// it). Ordered like `Quota`, so the merge rule compares packed values directly. This is what
/// brings a grant to 32 bytes and a conversation to 56, one cache line with its map key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Packed(u32);

impl Packed {
    const UNLIMITED: Packed = Packed(u32::MAX);

    fn is_exhausted(self) -> bool {
        self.0 == 0
    }
}

impl From<Quota> for Packed {
    fn from(q: Quota) -> Packed {
        match q {
            Quota::Count(n) => Packed(n.min(MAX_COUNT)),
            Quota::Unlimited => Packed::UNLIMITED,
        }
    }
}

impl From<Packed> for Quota {
    fn from(p: Packed) -> Quota {
        if p == Packed::UNLIMITED {
            Quota::Unlimited
        } else {
            Quota::Count(p.0)
        }
    }
}

/// Persisted as the quota it stands for.
impl Serialize for Packed {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Quota::from(*self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Packed {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Quota::deserialize(deserializer).map(Packed::from)
    }
}

/// One allowance, with the terms of the trigger that last set its `remaining`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Grant {
    pub(crate) at: i64,
    pub(crate) deadline: i64,
    quota: Packed,
    remaining: Packed,
    /// Accepted sends charged to this grant since it was opened from nothing (`sent_in_window`).
    pub(crate) sent: u32,
    pub(crate) ruleset: RuleSetId,
    pub(crate) trigger: Trigger,
}

impl Grant {
    /// Windows are half-open: at exactly `deadline` the grant is dead.
    pub(crate) fn quota(&self) -> Quota {
        self.quota.into()
    }

    pub(crate) fn remaining(&self) -> Quota {
        self.remaining.into()
    }

    pub(crate) fn live(&self, now: i64) -> bool {
        now < self.deadline
    }

    fn spendable(&self, now: i64) -> bool {
        self.live(now) && !self.remaining.is_exhausted()
    }

    /// The order in which grants are spent: deadline first, then the earlier trigger.
    fn spend_key(&self) -> (i64, i64, Trigger) {
        (self.deadline, self.at, self.trigger)
    }

    pub(crate) fn facts(&self) -> GrantFacts {
        GrantFacts {
            trigger: self.trigger,
            at: self.at,
            ruleset: self.ruleset,
            quota: self.quota(),
            remaining_before: self.remaining(),
            deadline: self.deadline,
        }
    }

    /// Takes one message (unlimited stays unlimited).
    pub(crate) fn spend(&mut self) {
        if self.remaining != Packed::UNLIMITED {
            self.remaining.0 = self.remaining.0.saturating_sub(1);
        }
        self.sent = self.sent.saturating_add(1);
    }
}

/// Zero, one (inline) or several grants. Invariant: `Many` holds at least two.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Grants {
    #[default]
    None,
    One(Grant),
    Many(Box<[Grant]>),
}

impl Grants {
    pub(crate) fn as_slice(&self) -> &[Grant] {
        match self {
            Grants::None => &[],
            Grants::One(g) => std::slice::from_ref(g),
            Grants::Many(gs) => gs,
        }
    }

    fn from_vec(mut gs: Vec<Grant>) -> Grants {
        match gs.len() {
            0 => Grants::None,
            1 => gs.pop().map_or(Grants::None, Grants::One),
            _ => Grants::Many(gs.into_boxed_slice()),
        }
    }

    /// The grant the next send would spend from.
    pub(crate) fn spendable(&self, now: i64) -> Option<&Grant> {
        match self {
            // The hot path: one grant, no search.
            Grants::One(g) => g.spendable(now).then_some(g),
            _ => self
                .as_slice()
                .iter()
                .filter(|g| g.spendable(now))
                .min_by_key(|g| g.spend_key()),
        }
    }

    /// Spends one from the grant [`Grants::spendable`] picks; returns its facts before spending.
    pub(crate) fn spend(&mut self, now: i64) -> Option<GrantFacts> {
        let g = match self {
            Grants::None => return None,
            Grants::One(g) => Some(g).filter(|g| g.spendable(now)),
            Grants::Many(gs) => gs
                .iter_mut()
                .filter(|g| g.spendable(now))
                .min_by_key(|g| g.spend_key()),
        }?;
        let facts = g.facts();
        g.spend();
        Some(facts)
    }

    /// The live grant that lasts longest (ties: the later trigger): the one a refusal for an
    /// exhausted window reports, and the one the merge reading updates.
    pub(crate) fn latest_live(&self, now: i64) -> Option<&Grant> {
        self.as_slice()
            .iter()
            .filter(|g| g.live(now))
            .max_by_key(|g| (g.deadline, g.at))
    }

    /// The grant that expired last, for explaining a closed window.
    pub(crate) fn latest(&self) -> Option<&Grant> {
        self.as_slice().iter().max_by_key(|g| (g.deadline, g.at))
    }

    pub(crate) fn live(&self, now: i64) -> impl Iterator<Item = &Grant> {
        self.as_slice().iter().filter(move |g| g.live(now))
    }

    /// Applies trigger `t` at `now` with the terms `rule` of rule set `ruleset`, under the reading
    /// `combine` of that rule set (the one in force at the trigger, RULES.md §3).
    ///
    /// Grants already held keep their terms whichever rule set set them ("rule changes never
    /// rewrite the past"); only the reading of the new trigger decides how it combines with them.
    /// When an account moves between readings this gives:
    /// - per-trigger after merge: the merged grant counts as the grant of the kind that last set
    ///   it, and is replaced only by a trigger of that kind;
    /// - merge after per-trigger: the merge rule updates the live grant that lasts longest; the
    ///   others keep their terms until they expire (they are spent first, as they end first).
    ///
    /// Dead grants are dropped here, never on the send path.
    pub(crate) fn apply(
        &mut self,
        t: Trigger,
        now: i64,
        ruleset: RuleSetId,
        rule: TriggerRule,
        combine: Combine,
    ) {
        let fresh = Grant {
            at: now,
            deadline: now.saturating_add(i64::from(rule.window_secs)),
            quota: rule.quota.into(),
            remaining: rule.quota.into(),
            sent: 0,
            ruleset,
            trigger: t,
        };
        // The common cases, without building a vector.
        if let Grants::None = self {
            *self = Grants::One(fresh);
            return;
        }
        if combine == Combine::Merge
            && let Grants::One(g) = self
        {
            if g.live(now) {
                merge_into(g, &fresh);
            } else {
                *g = fresh;
            }
            return;
        }
        let mut live: Vec<Grant> = self.live(now).copied().collect();
        match combine {
            Combine::Merge => {
                let target = live
                    .iter_mut()
                    .max_by_key(|g| (g.deadline, g.at))
                    .map(|g| merge_into(g, &fresh));
                if target.is_none() {
                    live.push(fresh);
                }
            }
            Combine::PerTrigger => {
                live.retain(|g| g.trigger != t);
                live.push(fresh);
            }
        }
        live.sort_by_key(Grant::spend_key);
        *self = Grants::from_vec(live);
    }
}

/// The merge rule on a live grant: remaining to the larger quota, deadline to the later one. The
/// grant's trigger, instant, rule set and quota become the new trigger's only when it raises
/// `remaining`.
fn merge_into(g: &mut Grant, fresh: &Grant) {
    if fresh.quota > g.remaining {
        g.remaining = fresh.quota;
        g.quota = fresh.quota;
        g.trigger = fresh.trigger;
        g.at = fresh.at;
        g.ruleset = fresh.ruleset;
    }
    g.deadline = g.deadline.max(fresh.deadline);
}

/// Stored as a plain list, so that binary formats need no knowledge of the inline case.
impl Serialize for Grants {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.as_slice().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Grants {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(GrantsVisitor)
    }
}

/// Reads the list of grants without a `Vec` when it holds none or one, as nearly every
/// conversation's does: a start decodes millions.
struct GrantsVisitor;

impl<'de> serde::de::Visitor<'de> for GrantsVisitor {
    type Value = Grants;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of grants")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Grants, A::Error> {
        let Some(first) = seq.next_element()? else {
            return Ok(Grants::None);
        };
        let Some(second) = seq.next_element()? else {
            return Ok(Grants::One(first));
        };
        let mut all = vec![first, second];
        while let Some(grant) = seq.next_element()? {
            all.push(grant);
        }
        Ok(Grants::Many(all.into_boxed_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OA: RuleSetId = RuleSetId::FIRST_CUSTOM;

    fn rule(q: u32, w: u32) -> TriggerRule {
        TriggerRule {
            quota: Quota::Count(q),
            window_secs: w,
        }
    }

    #[test]
    fn merge_raises_remaining_and_deadline() {
        let mut gs = Grants::None;
        gs.apply(Trigger::Message, 0, OA, rule(5, 100), Combine::Merge);
        gs.spend(1);
        gs.spend(2);
        // 3 left; a 3/10 trigger raises nothing and moves no deadline.
        gs.apply(Trigger::Follow, 10, OA, rule(3, 10), Combine::Merge);
        let g = gs.as_slice()[0];
        assert_eq!(
            (g.trigger, g.at, g.remaining(), g.deadline),
            (Trigger::Message, 0, Quota::Count(3), 100)
        );
        // A 4/200 trigger raises both and becomes the grant's setter.
        gs.apply(Trigger::QrScan, 20, OA, rule(4, 200), Combine::Merge);
        let g = gs.as_slice()[0];
        assert_eq!(
            (g.trigger, g.at, g.remaining(), g.deadline, g.sent),
            (Trigger::QrScan, 20, Quota::Count(4), 220, 2)
        );
        assert_eq!(gs.as_slice().len(), 1);
    }

    #[test]
    fn merge_on_a_dead_grant_starts_over() {
        let mut gs = Grants::None;
        gs.apply(Trigger::Message, 0, OA, rule(5, 100), Combine::Merge);
        gs.spend(1);
        gs.apply(Trigger::Follow, 100, OA, rule(3, 60), Combine::Merge);
        let g = gs.as_slice()[0];
        assert_eq!(
            (g.trigger, g.remaining(), g.deadline, g.sent),
            (Trigger::Follow, Quota::Count(3), 160, 0)
        );
    }

    #[test]
    fn per_trigger_replaces_its_own_kind_and_spends_the_first_to_end() {
        let mut gs = Grants::None;
        gs.apply(Trigger::Message, 0, OA, rule(5, 1000), Combine::PerTrigger);
        gs.apply(Trigger::MenuClick, 10, OA, rule(3, 60), Combine::PerTrigger);
        assert_eq!(gs.as_slice().len(), 2);
        assert_eq!(gs.spend(11).unwrap().trigger, Trigger::MenuClick);
        gs.apply(Trigger::MenuClick, 20, OA, rule(3, 60), Combine::PerTrigger);
        let click = gs
            .as_slice()
            .iter()
            .find(|g| g.trigger == Trigger::MenuClick)
            .unwrap();
        assert_eq!(
            (click.remaining(), click.sent, click.deadline),
            (Quota::Count(3), 0, 80)
        );
        // After the click window the message grant is spent.
        assert_eq!(gs.spend(80).unwrap().trigger, Trigger::Message);
    }

    #[test]
    fn ties_go_to_the_earlier_trigger() {
        let mut gs = Grants::None;
        gs.apply(Trigger::Follow, 0, OA, rule(1, 60), Combine::PerTrigger);
        gs.apply(Trigger::MenuClick, 30, OA, rule(1, 30), Combine::PerTrigger);
        assert_eq!(gs.spend(31).unwrap().trigger, Trigger::Follow);
        assert_eq!(gs.spend(31).unwrap().trigger, Trigger::MenuClick);
        assert_eq!(gs.spend(31), None);
    }

    #[test]
    fn merge_after_per_trigger_updates_the_longest_and_keeps_the_rest() {
        let mut gs = Grants::None;
        gs.apply(Trigger::Message, 0, OA, rule(5, 1000), Combine::PerTrigger);
        gs.apply(Trigger::MenuClick, 10, OA, rule(3, 60), Combine::PerTrigger);
        gs.apply(Trigger::Follow, 20, OA, rule(9, 2000), Combine::Merge);
        let kinds: Vec<_> = gs
            .as_slice()
            .iter()
            .map(|g| (g.trigger, g.remaining(), g.deadline))
            .collect();
        assert_eq!(
            kinds,
            [
                (Trigger::MenuClick, Quota::Count(3), 70),
                (Trigger::Follow, Quota::Count(9), 2020)
            ]
        );
    }

    #[test]
    fn grants_serialize_as_a_list() {
        let mut gs = Grants::None;
        assert_eq!(serde_json::to_string(&gs).unwrap(), "[]");
        gs.apply(Trigger::Message, 0, OA, rule(5, 10), Combine::Merge);
        let json = serde_json::to_string(&gs).unwrap();
        let back: Grants = serde_json::from_str(&json).unwrap();
        assert_eq!(back, gs);
        assert!(matches!(back, Grants::One(_)));
    }
}
