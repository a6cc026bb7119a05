//! Rollout validation, history and the three move rules of RULES.md §4.

use super::*;

/// bucket("rollout-1", A) = 2886 and bucket("rollout-1", B) = 2429 (see bucket.rs vectors).
const A: &str = "wx0000000000000001";
const B: &str = "wx0000000000000002";
const OLD: i64 = 1_000; // registered long before new_accounts_from
const NEW_FROM: i64 = 1_000_000;

fn spec(batches: Vec<Batch>) -> RolloutSpec {
    RolloutSpec {
        id: "rollout-1".into(),
        platform: None,
        from: "wechat-oa-2021".into(),
        to: "wechat-oa-2023".into(),
        new_accounts_from: NEW_FROM,
        batches,
        channels: None,
    }
}

fn batch(at: i64, percent_hundredths: u32) -> Batch {
    Batch {
        at,
        percent_hundredths,
    }
}

fn rollout(batches: Vec<Batch>) -> Rollout {
    Rollout::new(spec(batches), &RuleBook::shipped()).unwrap()
}

fn reason(s: RolloutSpec) -> &'static str {
    Rollout::new(s, &RuleBook::shipped()).unwrap_err().reason()
}

#[test]
fn a_valid_rollout_takes_its_platform_from_the_rule_sets() {
    let r = rollout(vec![batch(100, 5000), batch(200, FULL)]);
    assert_eq!(r.platform, Platform::Oa);
    assert_eq!(r.channels(), Channel::ALL);
    assert!(r.pauses().is_empty() && r.pins().is_empty());
}

#[test]
fn every_invalid_rollout_is_named() {
    let ok = || spec(vec![batch(100, 5000), batch(200, FULL)]);
    assert_eq!(
        reason(RolloutSpec {
            id: " ".into(),
            ..ok()
        }),
        "empty_id"
    );
    assert_eq!(
        reason(RolloutSpec {
            to: "nope".into(),
            ..ok()
        }),
        "unknown_ruleset"
    );
    assert_eq!(
        reason(RolloutSpec {
            to: "wechat-oa-2021".into(),
            ..ok()
        }),
        "same_ruleset"
    );
    assert_eq!(
        reason(RolloutSpec {
            to: "wechat-kf".into(),
            ..ok()
        }),
        "platform_mismatch"
    );
    assert_eq!(
        reason(RolloutSpec {
            platform: Some(Platform::Wecom),
            ..ok()
        }),
        "platform_mismatch"
    );
    assert_eq!(reason(spec(vec![])), "no_batches");
    assert_eq!(
        reason(spec(vec![batch(1, 0), batch(2, FULL)])),
        "invalid_percent"
    );
    assert_eq!(reason(spec(vec![batch(1, FULL + 1)])), "invalid_percent");
    assert_eq!(
        reason(spec(vec![batch(1, 6000), batch(2, 5000), batch(3, FULL)])),
        "unordered_batches"
    );
    assert_eq!(
        reason(spec(vec![batch(5, 5000), batch(4, FULL)])),
        "unordered_batches"
    );
    assert_eq!(
        reason(spec(vec![batch(1, 5000), batch(2, 9999)])),
        "last_batch_not_100"
    );
    assert_eq!(
        reason(RolloutSpec {
            channels: Some(vec![]),
            ..ok()
        }),
        "no_channels"
    );
    let r = Rollout::new(
        RolloutSpec {
            channels: Some(vec![Channel::Pc, Channel::Mobile, Channel::Pc]),
            ..ok()
        },
        &RuleBook::shipped(),
    )
    .unwrap();
    assert_eq!(r.channels(), [Channel::Mobile, Channel::Pc]);
    assert!(r.covers(Channel::Pc) && !r.covers(Channel::Api));
}

#[test]
fn percentages_have_at_most_two_decimals() {
    for (p, h) in [
        (50.0, 5000),
        (12.5, 1250),
        (33.33, 3333),
        (0.01, 1),
        (100.0, FULL),
    ] {
        assert_eq!(Batch::from_percent(7, p).unwrap(), batch(7, h), "{p}");
    }
    for p in [0.0, -5.0, 100.01, 33.333, f64::NAN, f64::INFINITY, 0.001] {
        assert_eq!(
            Batch::from_percent(7, p).unwrap_err().reason(),
            "invalid_percent",
            "{p}"
        );
    }
    assert_eq!(batch(0, 3333).percent(), 33.33);
}

#[test]
fn a_batch_inside_a_pause_takes_effect_at_the_resume() {
    let mut r = rollout(vec![batch(100, 2500), batch(200, 5000), batch(300, FULL)]);
    r.pause(150).unwrap();
    assert!(r.is_paused());
    // Held by the open pause: not effective, whatever the instant.
    assert_eq!(r.effective(200), None);
    assert_eq!(r.effective(100), Some(100), "before the pause");
    assert_eq!(r.effective(150), None, "at the pause instant");
    assert_eq!(r.next_batch(10_000), Some(batch(200, 5000)));
    assert!(!r.is_active(10_000), "paused");
    r.resume(250).unwrap();
    assert_eq!(r.effective(200), Some(250));
    assert_eq!(r.effective(250), Some(250));
    assert_eq!(r.effective(300), Some(300));
    assert_eq!(r.next_batch(249), Some(batch(200, 5000)));
    assert_eq!(r.next_batch(250), Some(batch(300, FULL)));
    assert!(r.is_active(250));
    assert_eq!(r.next_batch(300), None);
    assert!(!r.is_active(300));
    assert_eq!(
        r.pauses(),
        [Pause {
            at: 150,
            resumed: Some(250)
        }]
    );
}

#[test]
fn pause_and_resume_refuse_what_makes_no_sense() {
    let mut r = rollout(vec![batch(100, 5000), batch(200, FULL)]);
    assert_eq!(r.resume(10).unwrap_err().reason(), "not_paused");
    r.pause(50).unwrap();
    assert_eq!(r.pause(60).unwrap_err().reason(), "already_paused");
    assert_eq!(r.resume(40).unwrap_err().reason(), "out_of_order");
    r.resume(60).unwrap();
    assert_eq!(r.pause(59).unwrap_err().reason(), "out_of_order");
    assert_eq!(r.pause(200).unwrap_err().reason(), "complete");
    r.pause(199).unwrap();
}

#[test]
fn the_batches_move_an_account_at_its_first_batch_above_its_bucket() {
    // A's bucket is 2886, B's 2429.
    let r = rollout(vec![
        batch(100, 2429),
        batch(200, 2430),
        batch(300, 2887),
        batch(400, FULL),
    ]);
    assert_eq!(r.batch_move_instant(B), Some(200), "2429 is not above 2429");
    assert_eq!(r.batch_move_instant(A), Some(300));
    assert!(!r.moves(A, OLD, 299));
    assert!(r.moves(A, OLD, 300), "inclusive: t ≥ at");
    // A higher percentage never moves an account back.
    assert!((300..500).all(|t| r.moves(A, OLD, t)));
}

#[test]
fn new_accounts_start_on_to_whatever_the_batches_or_pauses() {
    let mut r = rollout(vec![batch(5_000_000, FULL)]);
    r.pause(10).unwrap();
    assert!(
        r.moves(A, NEW_FROM, NEW_FROM),
        "registered at new_accounts_from"
    );
    assert!(!r.moves(A, NEW_FROM - 1, NEW_FROM + 1));
}

#[test]
fn a_pin_decides_first_while_it_is_in_force() {
    let mut r = rollout(vec![batch(100, FULL)]);
    // Pinned to `to` before its batch: on `to` from the pin.
    r.pin(A, PinSide::To, 50);
    assert!(!r.moves(A, OLD, 49));
    assert!(r.moves(A, OLD, 50));
    // Re-pinning to `from` ends the first pin: kept on `from` even after the batch, and even for
    // an account registered after new_accounts_from.
    r.pin(A, PinSide::From, 80);
    assert!(!r.moves(A, OLD, 150));
    assert!(!r.moves(A, NEW_FROM, 150));
    assert_eq!(r.pinned(A, 79), Some(PinSide::To));
    assert_eq!(r.pinned(A, 80), Some(PinSide::From));
    // Unpinned at 200: the batch (effective at 100) applies from then on.
    assert!(r.unpin(A, 200));
    assert!(!r.unpin(A, 201), "no pin left");
    assert_eq!(r.pinned(A, 200), None);
    assert!(r.moves(A, OLD, 200));
    // Other accounts are not affected.
    assert!(r.moves(B, OLD, 100));
    assert_eq!(r.pins().len(), 2);
}

#[test]
fn rollouts_round_trip_through_serde() {
    let mut r = rollout(vec![batch(100, 5000), batch(200, FULL)]);
    r.pause(120).unwrap();
    r.resume(130).unwrap();
    r.pin(A, PinSide::From, 110);
    let json = serde_json::to_string(&r).unwrap();
    let back: Rollout = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    let back: Rollout = postcard::from_bytes(&postcard::to_allocvec(&r).unwrap()).unwrap();
    assert_eq!(back, r);
}
