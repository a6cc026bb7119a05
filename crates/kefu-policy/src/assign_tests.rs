//! Defaults, chaining, channels, notices and progress (RULES.md §4).

use super::*;
use crate::book::RuleBook;
use crate::rollout::{FULL, PinSide, RolloutSpec};
use crate::ruleset::RuleSet;
use crate::trigger::Combine;

/// bucket("rollout-1", A) = 2886, bucket("rollout-1", B) = 2429.
const A: &str = "wx0000000000000001";
const B: &str = "wx0000000000000002";
const NEW_FROM: i64 = 1_000_000;

fn book() -> RuleBook {
    let mut book = RuleBook::shipped();
    book.insert(RuleSet::new("oa-2025", Platform::Oa, Combine::Merge));
    book
}

fn oa(id: &str) -> AccountFacts<'_> {
    AccountFacts {
        id,
        platform: Platform::Oa,
        registered_at: 0,
    }
}

fn rollout(id: &str, from: &str, to: &str, batches: &[(i64, u32)]) -> Rollout {
    let spec = RolloutSpec {
        id: id.into(),
        platform: None,
        from: from.into(),
        to: to.into(),
        new_accounts_from: NEW_FROM,
        batches: batches
            .iter()
            .map(|&(at, percent_hundredths)| Batch {
                at,
                percent_hundredths,
            })
            .collect(),
        channels: None,
    };
    Rollout::new(spec, &book()).unwrap()
}

/// The 2023 quota change as rollout-1: 25 % at 100 (moves B), 100 % at 200 (moves A).
fn quota_change() -> Rollout {
    rollout(
        "rollout-1",
        "wechat-oa-2021",
        "wechat-oa-2023",
        &[(100, 2500), (200, FULL)],
    )
}

fn notice(at: i64, from: &str, to: &str) -> Notice {
    Notice {
        at,
        channel: Channel::Api,
        from: from.into(),
        to: to.into(),
    }
}

#[test]
fn without_rollouts_an_account_is_on_its_platform_default() {
    let mut d = Defaults::shipped();
    assert_eq!(
        ruleset_at(&d, &[], &oa(A), Channel::Api, 0),
        "wechat-oa-2023"
    );
    d.set(Platform::Oa, "wechat-oa-2021");
    assert_eq!(d.get(Platform::Oa), "wechat-oa-2021");
    assert_eq!(
        ruleset_at(&d, &[], &oa(A), Channel::Api, 0),
        "wechat-oa-2021"
    );
    let corp = AccountFacts {
        id: "ww1",
        platform: Platform::Wecom,
        registered_at: 0,
    };
    assert_eq!(
        ruleset_at(&d, &[], &corp, Channel::Mobile, 0),
        "wecom-scale-no-new-contacts"
    );
}

#[test]
fn a_rollout_starts_accounts_on_its_from_and_moves_them_by_bucket() {
    let d = Defaults::shipped();
    let rs = [quota_change()];
    let at = |id, t| ruleset_at(&d, &rs, &oa(id), Channel::Api, t);
    assert_eq!(at(B, 99), "wechat-oa-2021", "on `from`, not the default");
    assert_eq!(at(B, 100), "wechat-oa-2023");
    assert_eq!(at(A, 199), "wechat-oa-2021");
    assert_eq!(at(A, 200), "wechat-oa-2023");
    // Other platforms are not touched.
    let kf = AccountFacts {
        id: A,
        platform: Platform::Kf,
        registered_at: 0,
    };
    assert_eq!(ruleset_at(&d, &rs, &kf, Channel::Api, 0), "wechat-kf");
}

#[test]
fn new_accounts_are_on_to_from_registration_and_get_no_notice() {
    let d = Defaults::shipped();
    let rs = [quota_change()];
    let new = AccountFacts {
        registered_at: NEW_FROM,
        ..oa(A)
    };
    assert_eq!(
        ruleset_at(&d, &rs, &new, Channel::Api, NEW_FROM),
        "wechat-oa-2023"
    );
    assert!(notices(&d, &rs, &new, i64::MAX).is_empty());
}

#[test]
fn notices_follow_the_batches() {
    let d = Defaults::shipped();
    let rs = [quota_change()];
    assert_eq!(
        notices(&d, &rs, &oa(A), 10_000),
        [notice(200, "wechat-oa-2021", "wechat-oa-2023")]
    );
    assert!(
        notices(&d, &rs, &oa(A), 199).is_empty(),
        "until is inclusive"
    );
    assert_eq!(notices(&d, &rs, &oa(A), 200).len(), 1);
    // An account registered after its batch starts there: nothing to notify.
    let late = AccountFacts {
        registered_at: 500,
        ..oa(A)
    };
    assert!(notices(&d, &rs, &late, 10_000).is_empty());
    assert_eq!(
        notices(&d, &rs, &oa(A), 10_000)[0].text(),
        "On api, this account moved from wechat-oa-2021 to wechat-oa-2023."
    );
}

#[test]
fn pause_and_resume_around_a_batch() {
    let d = Defaults::shipped();
    let mut r = quota_change();
    r.pause(150).unwrap(); // A's batch (200) falls inside the pause
    let rs = [r.clone()];
    assert_eq!(
        ruleset_at(&d, &rs, &oa(A), Channel::Api, 10_000),
        "wechat-oa-2021"
    );
    assert!(notices(&d, &rs, &oa(A), 10_000).is_empty());
    assert_eq!(
        progress(&r, &d, &rs, &[oa(A), oa(B)], 10_000)
            .next_batch
            .map(|b| b.at),
        Some(200)
    );
    r.resume(300).unwrap();
    let rs = [r.clone()];
    assert_eq!(
        ruleset_at(&d, &rs, &oa(A), Channel::Api, 299),
        "wechat-oa-2021"
    );
    assert_eq!(
        ruleset_at(&d, &rs, &oa(A), Channel::Api, 300),
        "wechat-oa-2023"
    );
    assert_eq!(
        notices(&d, &rs, &oa(A), 10_000),
        [notice(300, "wechat-oa-2021", "wechat-oa-2023")]
    );
    // B's batch came before the pause: unaffected.
    assert_eq!(
        ruleset_at(&d, &rs, &oa(B), Channel::Api, 100),
        "wechat-oa-2023"
    );
}

#[test]
fn pins_move_and_hold_accounts_and_are_notified() {
    let d = Defaults::shipped();
    let mut r = quota_change();
    r.pin(A, PinSide::To, 50);
    r.unpin(A, 70);
    r.pin(B, PinSide::From, 60);
    let rs = [r.clone()];
    assert_eq!(
        notices(&d, &rs, &oa(A), 10_000),
        [
            notice(50, "wechat-oa-2021", "wechat-oa-2023"),
            notice(70, "wechat-oa-2023", "wechat-oa-2021"),
            notice(200, "wechat-oa-2021", "wechat-oa-2023"),
        ]
    );
    // B is held on `from` past its batch, until unpinned.
    assert!(notices(&d, &rs, &oa(B), 10_000).is_empty());
    r.unpin(B, 400);
    let rs = [r];
    assert_eq!(
        notices(&d, &rs, &oa(B), 10_000),
        [notice(400, "wechat-oa-2021", "wechat-oa-2023")]
    );
}

#[test]
fn two_rollouts_chain() {
    let d = Defaults::shipped();
    let r1 = quota_change();
    let r2 = rollout("rollout-2", "wechat-oa-2023", "oa-2025", &[(1000, FULL)]);
    let rs = [r1.clone(), r2.clone()];
    let at = |t| ruleset_at(&d, &rs, &oa(A), Channel::Api, t);
    assert_eq!(
        (at(0), at(200), at(1000)),
        ("wechat-oa-2021", "wechat-oa-2023", "oa-2025")
    );
    assert_eq!(
        notices(&d, &rs, &oa(A), 10_000),
        [
            notice(200, "wechat-oa-2021", "wechat-oa-2023"),
            notice(1000, "wechat-oa-2023", "oa-2025"),
        ]
    );
    // When the second rollout's batch comes first, the account waits on the first rollout and
    // then goes straight through: one change.
    let early = rollout("rollout-2", "wechat-oa-2023", "oa-2025", &[(150, FULL)]);
    let rs = [r1.clone(), early];
    assert_eq!(
        notices(&d, &rs, &oa(A), 10_000),
        [notice(200, "wechat-oa-2021", "oa-2025")]
    );
    // Progress of the first rollout counts A as moved though it is now further on.
    let p = progress(&r1, &d, &rs, &[oa(A), oa(B)], 10_000);
    assert_eq!((p.moved, p.total, p.next_batch), (2, 2, None));
    // Creation order matters: created the other way round, the first-created rollout's `from`
    // (wechat-oa-2023) is where accounts start, so the 2021 → 2023 rollout never applies.
    let rs = [r2, r1];
    assert_eq!(ruleset_at(&d, &rs, &oa(A), Channel::Api, 10_000), "oa-2025");
}

#[test]
fn progress_counts_existing_accounts_of_the_platform() {
    let d = Defaults::shipped();
    let r = quota_change();
    let rs = [r.clone()];
    let new = AccountFacts {
        registered_at: NEW_FROM,
        ..oa("wxnew")
    };
    let corp = AccountFacts {
        id: "ww1",
        platform: Platform::Wecom,
        registered_at: 0,
    };
    let accounts = [oa(A), oa(B), new, corp];
    let p = progress(&r, &d, &rs, &accounts, 150);
    assert_eq!((p.moved, p.total), (1, 2));
    assert_eq!(
        p.next_batch.map(|b| (b.at, b.percent_hundredths)),
        Some((200, FULL))
    );
    let p = progress(&r, &d, &rs, &accounts, 200);
    assert_eq!((p.moved, p.total, p.next_batch), (2, 2, None));
    // A rollout not yet in the list is evaluated as if created last.
    assert_eq!(progress(&r, &d, &[], &accounts, 200).moved, 2);
}

#[test]
fn a_rollout_per_channel_moves_only_its_channels() {
    let r = Rollout::new(
        RolloutSpec {
            id: "wecom-reply-only".into(),
            platform: None,
            from: "wecom-scale-no-new-contacts".into(),
            to: "wecom-scale-reply-only".into(),
            new_accounts_from: NEW_FROM,
            batches: vec![Batch {
                at: 100,
                percent_hundredths: FULL,
            }],
            channels: Some(vec![Channel::Mobile]),
        },
        &book(),
    )
    .unwrap();
    let d = Defaults::shipped();
    let corp = AccountFacts {
        id: "ww0123456789abcdef",
        platform: Platform::Wecom,
        registered_at: 0,
    };
    let rs = [r.clone()];
    let on = |c| ruleset_at(&d, &rs, &corp, c, 100);
    assert_eq!(on(Channel::Mobile), "wecom-scale-reply-only");
    assert_eq!(on(Channel::Pc), "wecom-scale-no-new-contacts");
    assert_eq!(on(Channel::Api), "wecom-scale-no-new-contacts");
    let n = notices(&d, &rs, &corp, 1000);
    assert_eq!(n.len(), 1);
    assert_eq!((n[0].at, n[0].channel), (100, Channel::Mobile));
    let p = progress(&r, &d, &rs, &[corp], 100);
    assert_eq!(
        (p.moved, p.total),
        (1, 1),
        "moved on every channel it covers"
    );
}

#[test]
fn the_answer_is_the_same_whatever_order_instants_are_asked_in() {
    let d = Defaults::shipped();
    let mut r = quota_change();
    r.pause(90).unwrap();
    r.resume(120).unwrap();
    r.pin(B, PinSide::From, 130);
    let rs = [r];
    let forward: Vec<&str> = (0..400)
        .map(|t| ruleset_at(&d, &rs, &oa(B), Channel::Api, t))
        .collect();
    let mut backward: Vec<&str> = (0..400)
        .rev()
        .map(|t| ruleset_at(&d, &rs, &oa(B), Channel::Api, t))
        .collect();
    backward.reverse();
    assert_eq!(forward, backward);
    // B's batch (100) fell inside the pause: it moved at the resume, then the pin held it back.
    assert_eq!(
        (forward[119], forward[120], forward[130]),
        ("wechat-oa-2021", "wechat-oa-2023", "wechat-oa-2021")
    );
}
