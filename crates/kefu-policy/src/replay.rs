//! Replaying recorded traffic from empty state: every trigger and send again, in order, with
//! the rule set of each trigger chosen by the caller (fixed, as recorded, or as rollouts would
//! assign it). Pure and allocation-free per event, so a month of traffic replays in moments.
//!
//! The caller pre-parses the log into [`Event`]s with dense account and conversation indices;
//! [`Timeline`] turns rollouts into a per-account list of changes, read in O(changes) per event
//! instead of hashing a bucket for each.

use crate::assign::{AccountFacts, Defaults, notices, ruleset_at};
use crate::book::{RuleBook, RuleSetId};
use crate::conversation::Conversation;
use crate::decision::Decision;
use crate::rollout::Rollout;
use crate::trigger::{Channel, Trigger};

/// What happened in one recorded event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Trigger(Trigger),
    Unfollow,
    Send,
}

/// One event of the log, pre-parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Rule-clock instant.
    pub at: i64,
    /// Index of the account (into the caller's timelines).
    pub account: u32,
    /// Index of the conversation (dense, from 0).
    pub conversation: u32,
    pub op: Op,
    /// The rule set the live server recorded with the event, if the book knows it.
    pub recorded: Option<RuleSetId>,
}

/// Which rule set an account is on over time: changes in order, the first from the beginning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    changes: Vec<(i64, RuleSetId)>,
}

impl Timeline {
    /// The same rule set at every instant.
    pub fn fixed(id: RuleSetId) -> Timeline {
        Timeline {
            changes: vec![(i64::MIN, id)],
        }
    }

    /// What `rollouts` (in creation order, with their histories) make of `account` on
    /// `channel`: its set at registration, then one change per notice.
    pub fn of(
        account: &AccountFacts<'_>,
        channel: Channel,
        defaults: &Defaults,
        rollouts: &[Rollout],
        book: &RuleBook,
    ) -> Timeline {
        let id = |name: &str| book.id(name).unwrap_or(RuleSetId::NONE);
        let first = ruleset_at(defaults, rollouts, account, channel, account.registered_at);
        let mut changes = vec![(i64::MIN, id(first))];
        for notice in notices(defaults, rollouts, account, i64::MAX) {
            if notice.channel == channel {
                changes.push((notice.at, id(&notice.to)));
            }
        }
        Timeline { changes }
    }

    /// The rule set in force at `t`.
    pub fn at(&self, t: i64) -> RuleSetId {
        // Few changes per account: a backwards scan beats a binary search.
        self.changes
            .iter()
            .rev()
            .find(|(from, _)| *from <= t)
            .map_or(RuleSetId::NONE, |(_, id)| *id)
    }
}

/// Conversations being replayed, from empty.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    conversations: Vec<Conversation>,
}

impl Replay {
    pub fn new(conversations: usize) -> Replay {
        Replay {
            conversations: vec![Conversation::new(false); conversations],
        }
    }

    /// Applies one event with `ruleset` in force for its account; a send answers its decision.
    /// An index past the end grows the replay rather than failing.
    pub fn apply(
        &mut self,
        event: &Event,
        ruleset: RuleSetId,
        book: &RuleBook,
    ) -> Option<Decision> {
        let index = event.conversation as usize;
        if index >= self.conversations.len() {
            self.conversations
                .resize(index + 1, Conversation::new(false));
        }
        let conversation = &mut self.conversations[index];
        match event.op {
            Op::Trigger(trigger) => {
                conversation.trigger(trigger, event.at, ruleset, book.get(ruleset));
                None
            }
            Op::Unfollow => {
                conversation.unfollow();
                None
            }
            Op::Send => Some(conversation.send(event.at, book)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::{Batch, RolloutSpec};
    use crate::trigger::Platform;

    #[test]
    fn replaying_gives_the_decisions_of_the_rules() {
        let book = RuleBook::shipped();
        let oa2023 = book.id("wechat-oa-2023").unwrap();
        let mut replay = Replay::new(1);
        let event = |at, op| Event {
            at,
            account: 0,
            conversation: 0,
            op,
            recorded: None,
        };
        assert_eq!(
            replay.apply(&event(0, Op::Trigger(Trigger::Follow)), oa2023, &book),
            None
        );
        replay.apply(&event(1, Op::Trigger(Trigger::Message)), oa2023, &book);
        let codes: Vec<u32> = (0..6)
            .map(|n| {
                replay
                    .apply(&event(2 + n, Op::Send), oa2023, &book)
                    .unwrap()
                    .errcode()
            })
            .collect();
        assert_eq!(codes, [0, 0, 0, 0, 0, 45047]);
        replay.apply(&event(10, Op::Unfollow), oa2023, &book);
        let after = replay.apply(&event(11, Op::Send), oa2023, &book).unwrap();
        assert_eq!(after.errcode(), 45015);
        // Indices past the end grow the replay.
        let far = Event {
            conversation: 9,
            ..event(12, Op::Send)
        };
        assert_eq!(replay.apply(&far, oa2023, &book).unwrap().errcode(), 45015);
    }

    #[test]
    fn a_timeline_follows_the_rollout() {
        let book = RuleBook::shipped();
        let (old, new) = (
            book.id("wechat-oa-2021").unwrap(),
            book.id("wechat-oa-2023").unwrap(),
        );
        let rollout = Rollout::new(
            RolloutSpec {
                id: "r".into(),
                platform: None,
                from: "wechat-oa-2021".into(),
                to: "wechat-oa-2023".into(),
                new_accounts_from: 1_000,
                batches: vec![Batch {
                    at: 500,
                    percent_hundredths: 10_000,
                }],
                channels: None,
            },
            &book,
        )
        .unwrap();
        let account = AccountFacts {
            id: "wx1",
            platform: Platform::Oa,
            registered_at: 0,
        };
        let line = Timeline::of(
            &account,
            Channel::Api,
            &Defaults::shipped(),
            &[rollout],
            &book,
        );
        assert_eq!((line.at(-5), line.at(499), line.at(500)), (old, old, new));
        assert_eq!(Timeline::fixed(new).at(i64::MIN), new);
    }
}
