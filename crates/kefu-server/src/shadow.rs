//! Shadow evaluation (issue: rule changes). While a rollout is active, every account it has not
//! moved yet is also decided under the rollout's `to` set: a shadow copy of each conversation,
//! taken from the live one when the shadow first meets it (its grants keep their terms, as a
//! moved account's would), then fed the same triggers under `to`. Sends whose errcode would
//! differ are counted per rollout. In memory only, rebuilt empty after a restart: best effort.

use std::collections::{BTreeMap, HashMap};

use kefu_policy::{Channel, Conversation, RuleSetId, Trigger};

use crate::app::Ctx;
use crate::policy::Policy;
use crate::world::World;

#[derive(Debug, Default)]
pub struct Shadow {
    /// (rollout id, appid, openid) → the conversation as it would be on the rollout's `to`.
    conversations: HashMap<(String, String, String), Conversation>,
    /// (rollout id, live errcode, shadow errcode) → sends decided differently.
    differ: BTreeMap<(String, u32, u32), u64>,
}

/// What happened live, for the shadow to repeat.
pub enum Event {
    Trigger(Trigger),
    Unfollow,
    /// A send, with the errcode it got live.
    Send(u32),
}

impl Shadow {
    /// Whether any rollout of `policy` shadows an account on `current` (the rule set in force for
    /// it now, which the caller has resolved already): callers skip the copy of the live state
    /// otherwise.
    pub fn watches(policy: &Policy, current: RuleSetId, now: i64) -> bool {
        !policy.rollouts.is_empty() && shadowing(policy, current, now).next().is_some()
    }

    /// Repeats `event` on every shadow of the conversation. `before` is the live state before
    /// the event.
    #[allow(clippy::too_many_arguments)]
    fn observe(
        &mut self,
        policy: &Policy,
        appid: &str,
        openid: &str,
        current: RuleSetId,
        before: &Conversation,
        event: &Event,
        now: i64,
    ) {
        for (rollout, to) in shadowing(policy, current, now) {
            let key = (rollout.to_owned(), appid.to_owned(), openid.to_owned());
            let conversation = self
                .conversations
                .entry(key)
                .or_insert_with(|| before.clone());
            match event {
                Event::Trigger(trigger) => {
                    conversation.trigger(*trigger, now, to, policy.book.get(to));
                }
                Event::Unfollow => conversation.unfollow(),
                Event::Send(live) => {
                    let shadow = conversation.send(now, &policy.book).errcode();
                    if shadow != *live {
                        *self
                            .differ
                            .entry((rollout.to_owned(), *live, shadow))
                            .or_default() += 1;
                    }
                }
            }
        }
    }

    /// Sends of `rollout` whose errcode would differ under its `to` set.
    pub fn would_differ(&self, rollout: &str) -> u64 {
        self.differ
            .iter()
            .filter(|((r, _, _), _)| r == rollout)
            .map(|(_, n)| n)
            .sum()
    }

    /// Every (rollout, live errcode, shadow errcode) count, for `/metrics`.
    pub fn counts(&self) -> impl Iterator<Item = (&str, u32, u32, u64)> {
        self.differ
            .iter()
            .map(|((r, live, shadow), n)| (r.as_str(), *live, *shadow, *n))
    }
}

/// The active rollouts whose `from` is `current` (they have not moved the account yet on
/// channel `api`), with the id of their `to` set.
fn shadowing(
    policy: &Policy,
    current: RuleSetId,
    now: i64,
) -> impl Iterator<Item = (&str, RuleSetId)> + '_ {
    policy.rollouts.iter().filter_map(move |r| {
        let active = r.platform == kefu_policy::Platform::Oa
            && r.is_active(now)
            && r.covers(Channel::Api)
            && policy.book.id(&r.from) == Some(current);
        let to = policy.book.id(&r.to)?;
        active.then_some((r.id.as_str(), to))
    })
}

impl World {
    /// The conversation as it is before an event, if a rollout's shadow watches its account on
    /// `current` (`None` otherwise, to skip the copy). Hand it to [`World::shadow_observe`].
    pub fn shadow_before(
        &self,
        ctx: &Ctx<'_>,
        current: RuleSetId,
        appid: &str,
        openid: &str,
    ) -> Option<Conversation> {
        Shadow::watches(ctx.policy, current, ctx.now).then(|| {
            self.conversation(appid, openid)
                .map_or_else(|| Conversation::new(false), |c| c.value.clone())
        })
    }

    /// Repeats `event` on the rollouts' shadows of the conversation (shadow evaluation).
    pub fn shadow_observe(
        &mut self,
        ctx: &Ctx<'_>,
        current: RuleSetId,
        appid: &str,
        openid: &str,
        before: Option<Conversation>,
        event: Event,
    ) {
        if let Some(before) = before {
            self.shadow
                .observe(ctx.policy, appid, openid, current, &before, &event, ctx.now);
        }
    }
}
