//! Property tests of kefu-policy, through its public API only. The crate's one integration-test
//! executable (add further files as modules of this one).
//!
//! Histories are random sequences of triggers (under one of two random rule sets, as if the
//! account moved back and forth), sends, typing, unfollows and waits. Each property states a rule
//! of RULES.md §3–§4 that must hold on every history.

use std::collections::HashMap;

use kefu_policy::{
    Batch, Combine, Conversation, Decision, Platform, Quota, Reason, Rollout, RolloutSpec,
    RuleBook, RuleSet, RuleSetId, Trigger, TriggerRule, bucket,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    /// A trigger under rule set 0 or 1.
    Trigger(Trigger, usize),
    Send,
    Typing(bool),
    Unfollow,
    Wait(i64),
}

fn quota() -> impl Strategy<Value = Quota> {
    prop_oneof![
        6 => (1u32..6).prop_map(Quota::Count),
        1 => Just(Quota::Unlimited),
    ]
}

fn rule_set(name: &'static str, combine: Combine) -> impl Strategy<Value = RuleSet> {
    let rule = proptest::option::weighted(
        0.8,
        (quota(), 1u32..300).prop_map(|(quota, window_secs)| TriggerRule { quota, window_secs }),
    );
    proptest::collection::vec(rule, Trigger::ALL.len()).prop_map(move |rules| {
        let mut rs = RuleSet::new(name, Platform::Oa, combine);
        for (t, r) in Trigger::ALL.into_iter().zip(rules) {
            rs.set_rule(t, r).expect("generated rules are valid");
        }
        rs
    })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (proptest::sample::select(Trigger::ALL.to_vec()), 0usize..2)
            .prop_map(|(t, r)| Step::Trigger(t, r)),
        8 => Just(Step::Send),
        1 => any::<bool>().prop_map(Step::Typing),
        1 => Just(Step::Unfollow),
        4 => prop_oneof![0i64..5, 0i64..120, 100i64..400].prop_map(Step::Wait),
    ]
}

fn history() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(step(), 0..150)
}

/// Two rule sets of one reading, in a book.
fn setup(a: RuleSet, b: RuleSet) -> (RuleBook, [RuleSetId; 2]) {
    let mut book = RuleBook::new();
    let ids = [book.insert(a), book.insert(b)];
    (book, ids)
}

/// What one step did, for the properties to inspect.
enum Event {
    Trigger {
        kind: Trigger,
        /// The terms it grants, if the rule set in force has an entry (and the user follows).
        rule: Option<TriggerRule>,
        /// `remaining` just before it (`None` = unlimited).
        remaining_before: Option<u32>,
    },
    Decision {
        now: i64,
        decision: Decision,
    },
    Other,
}

/// Runs `history` on a new (following) conversation, optionally through a JSON round trip of the
/// state before every step (what a store does between requests).
fn run(book: &RuleBook, ids: [RuleSetId; 2], history: &[Step], via_json: bool) -> Vec<Event> {
    let mut c = Conversation::new(true);
    let mut now = 1_700_000_000;
    let mut out = Vec::new();
    for s in history {
        if via_json {
            let json = serde_json::to_string(&c).expect("serializes");
            c = serde_json::from_str(&json).expect("deserializes");
        }
        out.push(match *s {
            Step::Trigger(t, r) => {
                let rules = book.get(ids[r]);
                let follows = c.following() || matches!(t, Trigger::Follow | Trigger::QrScan);
                let remaining_before = c.view(now, book).remaining;
                c.trigger(t, now, ids[r], rules);
                Event::Trigger {
                    kind: t,
                    rule: rules.rule(t).filter(|_| follows),
                    remaining_before,
                }
            }
            Step::Send => Event::Decision {
                now,
                decision: c.send(now, book),
            },
            Step::Typing(typing) => {
                let command = if typing { "Typing" } else { "CancelTyping" };
                Event::Decision {
                    now,
                    decision: c.typing(command, now, book),
                }
            }
            Step::Unfollow => {
                c.unfollow();
                Event::Other
            }
            Step::Wait(dt) => {
                now += dt;
                Event::Other
            }
        });
    }
    out
}

fn accepted_sends(events: &[Event]) -> impl Iterator<Item = (i64, &Decision)> {
    events.iter().filter_map(|e| match e {
        Event::Decision { now, decision }
            if decision.accepted()
                && decision.explanation().action() == kefu_policy::Action::Send =>
        {
            Some((*now, decision))
        }
        _ => None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Merge: the sends accepted between two consecutive triggers never exceed
    /// max(remaining just before the first of them, its quota).
    #[test]
    fn merge_never_allows_more_than_the_larger_of_remaining_and_quota(
        a in rule_set("a", Combine::Merge),
        b in rule_set("b", Combine::Merge),
        h in history(),
    ) {
        let (book, ids) = setup(a, b);
        let events = run(&book, ids, &h, false);
        // The bound of the current segment: None before any trigger or when unlimited.
        let mut bound: Option<u32> = Some(0);
        let mut sent = 0u32;
        for e in &events {
            match e {
                Event::Trigger { rule: Some(rule), remaining_before, .. } => {
                    bound = match (remaining_before, rule.quota) {
                        (Some(r), Quota::Count(q)) => Some((*r).max(q)),
                        _ => None,
                    };
                    sent = 0;
                }
                Event::Decision { decision, .. }
                    if decision.accepted()
                        && decision.explanation().action() == kefu_policy::Action::Send =>
                {
                    sent += 1;
                    if let Some(b) = bound {
                        prop_assert!(sent <= b, "{sent} sends after a trigger bounded by {b}");
                    }
                }
                _ => {}
            }
        }
    }

    /// Per-trigger: the sends charged to a kind between two triggers of that kind never exceed
    /// the quota of the first of them.
    #[test]
    fn per_trigger_never_charges_a_kind_beyond_its_quota(
        a in rule_set("a", Combine::PerTrigger),
        b in rule_set("b", Combine::PerTrigger),
        h in history(),
    ) {
        let (book, ids) = setup(a, b);
        let events = run(&book, ids, &h, false);
        let mut quota: HashMap<Trigger, Quota> = HashMap::new();
        let mut charged: HashMap<Trigger, u32> = HashMap::new();
        for e in &events {
            match e {
                Event::Trigger { kind, rule: Some(rule), .. } => {
                    quota.insert(*kind, rule.quota);
                    charged.insert(*kind, 0);
                }
                Event::Decision { decision, .. }
                    if decision.accepted()
                        && decision.explanation().action() == kefu_policy::Action::Send =>
                {
                    let kind = decision.explanation().grant().expect("an accept names its grant").trigger;
                    let n = charged.entry(kind).or_default();
                    *n += 1;
                    let q = quota.get(&kind).copied();
                    prop_assert!(q.is_some(), "charged to {kind} which never granted");
                    if let Some(Quota::Count(q)) = q {
                        prop_assert!(*n <= q, "{n} sends charged to {kind}, quota {q}");
                    }
                }
                _ => {}
            }
        }
    }

    /// Nothing is accepted at or after the deadline of the grant it spends from, under either
    /// reading; and every accept spends from a grant opened at or before it.
    #[test]
    fn nothing_is_accepted_at_or_after_a_deadline(
        per in any::<bool>(),
        a in rule_set("a", Combine::Merge),
        b in rule_set("b", Combine::PerTrigger),
        h in history(),
    ) {
        let (a, b) = if per { (b, a) } else { (a, b) };
        let (book, ids) = setup(a, b);
        for (now, d) in accepted_sends(&run(&book, ids, &h, false)) {
            let g = d.explanation().grant().expect("an accept names its grant");
            prop_assert!(now < g.deadline, "accepted at {now}, deadline {}", g.deadline);
            prop_assert!(g.at <= now);
            prop_assert!(g.remaining_before != Quota::Count(0));
        }
    }

    /// Replaying the same history gives the same decisions, also when the state goes through
    /// serde between every step.
    #[test]
    fn replaying_a_history_gives_the_same_decisions(
        a in rule_set("a", Combine::Merge),
        b in rule_set("b", Combine::PerTrigger),
        h in history(),
    ) {
        let (book, ids) = setup(a, b);
        let decisions = |events: Vec<Event>| -> Vec<Decision> {
            events.into_iter().filter_map(|e| match e {
                Event::Decision { decision, .. } => Some(decision),
                _ => None,
            }).collect()
        };
        let first = decisions(run(&book, ids, &h, false));
        prop_assert_eq!(&first, &decisions(run(&book, ids, &h, false)));
        prop_assert_eq!(&first, &decisions(run(&book, ids, &h, true)));
    }

    /// Refusals follow the order of RULES.md §3 for sends: 45015 for a non-follower or no live
    /// grant, 45047 only with a live grant.
    #[test]
    fn a_refused_send_says_why_consistently(
        a in rule_set("a", Combine::Merge),
        b in rule_set("b", Combine::PerTrigger),
        h in history(),
    ) {
        let (book, ids) = setup(a, b);
        for e in run(&book, ids, &h, false) {
            if let Event::Decision { now, decision } = e {
                let x = decision.explanation();
                match decision.reason() {
                    Reason::Exhausted => {
                        let g = x.grant().expect("45047 names the exhausted grant");
                        prop_assert!(now < g.deadline);
                        prop_assert_eq!(g.remaining_before, Quota::Count(0));
                    }
                    Reason::WindowClosed => {
                        if let Some(g) = x.grant() {
                            prop_assert!(g.deadline <= now);
                        }
                    }
                    Reason::NotFollowing => prop_assert!(!x.following()),
                    _ => {}
                }
                prop_assert_eq!(decision.errcode(), decision.reason().errcode());
            }
        }
    }

    /// The bucket is a pure function of the two ids, always below 10000.
    #[test]
    fn bucket_assignment_is_stable(rollout in ".{0,24}", account in "[a-z0-9]{0,20}") {
        let b = bucket(&rollout, &account);
        prop_assert!(b < 10_000);
        prop_assert_eq!(b, bucket(&rollout, &account));
    }

    /// Moving to a higher percent never moves an account back: with non-decreasing batches (and
    /// any pause), once an account is on `to` it stays there.
    #[test]
    fn higher_percentages_never_move_an_account_back(
        account in "wx[0-9a-f]{16}",
        mut steps in proptest::collection::vec((0i64..1000, 1u32..=10_000), 1..6),
        pause in proptest::option::of((0i64..1000, proptest::option::of(0i64..500))),
    ) {
        steps.sort();
        let mut batches: Vec<Batch> = steps
            .iter()
            .map(|&(at, percent_hundredths)| Batch { at, percent_hundredths })
            .collect();
        // Percentages non-decreasing in time, the last one 100 %.
        let mut max = 0;
        for b in &mut batches {
            max = max.max(b.percent_hundredths);
            b.percent_hundredths = max;
        }
        let last_at = batches.last().map_or(0, |b| b.at);
        batches.push(Batch { at: last_at + 1, percent_hundredths: 10_000 });
        let spec = RolloutSpec {
            id: "prop".into(),
            platform: None,
            from: "wechat-oa-2021".into(),
            to: "wechat-oa-2023".into(),
            new_accounts_from: i64::MAX,
            batches,
            channels: None,
        };
        let mut r = Rollout::new(spec, &RuleBook::shipped()).expect("valid by construction");
        if let Some((p, resume)) = pause
            && r.pause(p).is_ok()
            && let Some(d) = resume
        {
            r.resume(p + d).expect("after the pause");
        }
        let mut moved = false;
        for t in 0..1600 {
            let now = r.moves(&account, 0, t);
            prop_assert!(now || !moved, "moved back at {t}");
            moved = now;
        }
    }
}
