//! The rules of RULES.md §3, one test (or a few) each.

use super::*;
use crate::decision::Verdict;
use crate::trigger::Trigger::{Follow, MenuClick, Message, Payment, QrScan, SessionEnter};

const H48: i64 = 48 * 3600;
const T0: i64 = 1_700_000_000;

/// The shipped book plus `oa-per-trigger`: wechat-oa-2023's table under the per-trigger reading.
struct Fixture {
    book: RuleBook,
    oa21: RuleSetId,
    oa23: RuleSetId,
    per: RuleSetId,
}

fn fixture() -> Fixture {
    let mut book = RuleBook::shipped();
    let oa21 = book.id("wechat-oa-2021").unwrap();
    let oa23 = book.id("wechat-oa-2023").unwrap();
    let mut per = book.get(oa23).clone();
    per.name = "oa-per-trigger".into();
    per.combine = Combine::PerTrigger;
    let per = book.insert(per);
    Fixture {
        book,
        oa21,
        oa23,
        per,
    }
}

impl Fixture {
    fn trigger(&self, c: &mut Conversation, t: Trigger, now: i64, id: RuleSetId) {
        c.trigger(t, now, id, self.book.get(id));
    }

    /// Sends at `now` until one is refused; returns how many were accepted and the refusal.
    fn drain(&self, c: &mut Conversation, now: i64) -> (u32, Decision) {
        let mut n = 0;
        loop {
            let d = c.send(now, &self.book);
            if !d.accepted() {
                return (n, d);
            }
            n += 1;
        }
    }
}

fn reopen(d: &Decision) -> Vec<Trigger> {
    d.explanation().reopen().iter().collect()
}

#[test]
fn a_conversation_with_one_live_grant_fits_in_64_bytes() {
    assert!(
        size_of::<Conversation>() <= 64,
        "{}",
        size_of::<Conversation>()
    );
    let f = fixture();
    let mut c = Conversation::new(true);
    f.trigger(&mut c, Message, T0, f.oa23);
    // One grant is held inline: no heap, nothing beyond the 64 bytes.
    assert!(matches!(c.grants, Grants::One(_)));
}

#[test]
fn a_decision_is_plain_data() {
    // Copy, no heap: the send path allocates nothing.
    fn is_copy<T: Copy>() {}
    is_copy::<Decision>();
    assert!(size_of::<Decision>() <= 80);
}

#[test]
fn a_non_follower_gets_45015_and_must_follow() {
    let f = fixture();
    let c = Conversation::new(false);
    let d = c.decide_send(T0, &f.book);
    assert_eq!(d.errcode(), 45015);
    assert_eq!(d.reason(), Reason::NotFollowing);
    assert_eq!(d.explanation().decision(), Verdict::Refuse);
    assert_eq!(reopen(&d), [Follow, QrScan]);
    assert!(d.explanation().grant().is_none());
}

#[test]
fn a_follower_without_a_grant_gets_45015_naming_what_reopens() {
    let f = fixture();
    let mut c = Conversation::new(false);
    c.follow(); // grants nothing by itself
    c.set_ruleset(f.oa23);
    let d = c.decide_send(T0, &f.book);
    assert_eq!((d.errcode(), d.reason()), (45015, Reason::WindowClosed));
    // Everything wechat-oa-2023 grants for, but `follow`: a follower cannot follow again.
    assert_eq!(reopen(&d), [Message, MenuClick, QrScan, Payment]);
}

#[test]
fn a_message_allows_five_then_45047() {
    let f = fixture();
    let mut c = Conversation::new(true);
    f.trigger(&mut c, Message, T0, f.oa23);
    let first = c.send(T0 + 1, &f.book);
    assert!(first.accepted());
    assert_eq!(first.errcode(), 0);
    let used = *first.explanation().grant().unwrap();
    assert_eq!(
        used,
        GrantFacts {
            trigger: Message,
            at: T0,
            ruleset: f.oa23,
            quota: Quota::Count(5),
            remaining_before: Quota::Count(5),
            deadline: T0 + H48,
        }
    );
    let (n, refusal) = f.drain(&mut c, T0 + 2);
    assert_eq!(n, 4);
    assert_eq!(
        (refusal.errcode(), refusal.reason()),
        (45047, Reason::Exhausted)
    );
    let g = refusal.explanation().grant().unwrap();
    assert_eq!(
        (g.remaining_before, g.deadline),
        (Quota::Count(0), T0 + H48)
    );
    assert_eq!(reopen(&refusal), [Message, MenuClick, QrScan, Payment]);
    assert_eq!(refusal.explanation().combine(), Combine::Merge);
}

#[test]
fn windows_are_half_open() {
    let f = fixture();
    let mut c = Conversation::new(true);
    f.trigger(&mut c, Message, T0, f.oa23);
    assert!(c.send(T0 + H48 - 1, &f.book).accepted());
    let d = c.send(T0 + H48, &f.book);
    assert_eq!((d.errcode(), d.reason()), (45015, Reason::WindowClosed));
    // The refusal names the grant that expired, with what was left of it.
    let g = d.explanation().grant().unwrap();
    assert_eq!(
        (g.trigger, g.deadline, g.remaining_before),
        (Message, T0 + H48, Quota::Count(4))
    );
    // A trigger exactly at the deadline opens a new window rather than extending the dead one.
    f.trigger(&mut c, Message, T0 + H48, f.oa23);
    let v = c.view(T0 + H48, &f.book);
    assert_eq!((v.remaining, v.sent_in_window), (Some(5), 0));
}

#[test]
fn unlimited_stays_unlimited() {
    let f = fixture();
    let mut c = Conversation::new(true);
    f.trigger(&mut c, Payment, T0, f.oa23);
    for i in 0..1000 {
        let d = c.send(T0 + i, &f.book);
        assert!(d.accepted());
        assert_eq!(
            d.explanation().grant().unwrap().remaining_before,
            Quota::Unlimited
        );
    }
    let v = c.view(T0 + 1000, &f.book);
    assert_eq!((v.remaining, v.sent_in_window), (None, 1000));
    assert_eq!(v.expires_at, Some(T0 + H48));
    assert_eq!(c.send(T0 + H48, &f.book).errcode(), 45015);
}

#[test]
fn merge_raises_to_the_largest_quota_and_the_longest_deadline() {
    let f = fixture();
    let mut c = Conversation::new(true);
    f.trigger(&mut c, Message, T0, f.oa23);
    for i in 0..4 {
        assert!(c.send(T0 + i, &f.book).accepted());
    }
    // 1 left; a menu click (3 / 1 min) raises remaining to 3 and keeps the 48 h deadline.
    f.trigger(&mut c, MenuClick, T0 + 10, f.oa23);
    let v = c.view(T0 + 10, &f.book);
    assert_eq!(
        (v.remaining, v.expires_at, v.sent_in_window),
        (Some(3), Some(T0 + H48), 4)
    );
    assert_eq!(v.grants.len(), 1);
    assert_eq!(
        (v.grants[0].trigger, v.grants[0].at, v.grants[0].quota),
        (MenuClick, T0 + 10, Quota::Count(3))
    );
    let (n, d) = f.drain(&mut c, T0 + 100);
    assert_eq!((n, d.errcode()), (3, 45047));
    // A follow-up message raises it back to 5 and pushes the deadline.
    f.trigger(&mut c, Message, T0 + 200, f.oa23);
    let v = c.view(T0 + 200, &f.book);
    assert_eq!(
        (v.remaining, v.expires_at, v.sent_in_window),
        (Some(5), Some(T0 + 200 + H48), 7)
    );
}

#[test]
fn a_trigger_that_does_not_raise_keeps_the_grants_setter() {
    let f = fixture();
    let mut c = Conversation::new(true);
    f.trigger(&mut c, Message, T0, f.oa23);
    f.trigger(&mut c, QrScan, T0 + 5, f.oa23); // 3 < 5: only the deadline may move (it does not)
    let g = c.view(T0 + 5, &f.book).grants[0];
    assert_eq!(
        (g.trigger, g.at, g.quota, g.expires_at),
        (Message, T0, Quota::Count(5), T0 + H48)
    );
}

#[test]
fn a_trigger_without_an_entry_changes_nothing() {
    let f = fixture();
    let mut c = Conversation::new(true);
    f.trigger(&mut c, SessionEnter, T0, f.oa23);
    assert_eq!(c.decide_send(T0, &f.book).reason(), Reason::WindowClosed);
    f.trigger(&mut c, Message, T0, f.oa23);
    let before = c.clone();
    f.trigger(&mut c, SessionEnter, T0 + 1, f.oa23);
    assert_eq!(c.grants, before.grants);
}

#[test]
fn per_trigger_keeps_one_grant_per_kind_and_spends_the_first_to_end() {
    let f = fixture();
    let mut c = Conversation::new(true);
    f.trigger(&mut c, Message, T0, f.per);
    f.trigger(&mut c, MenuClick, T0 + 10, f.per);
    let v = c.view(T0 + 10, &f.book);
    assert_eq!(v.combine, Combine::PerTrigger);
    assert_eq!((v.remaining, v.expires_at), (Some(8), Some(T0 + H48)));
    assert_eq!(
        v.grants.iter().map(|g| g.trigger).collect::<Vec<_>>(),
        [MenuClick, Message]
    );
    // The click grant ends first, so it is spent first.
    let d = c.send(T0 + 11, &f.book);
    assert_eq!(d.explanation().grant().unwrap().trigger, MenuClick);
    assert_eq!(d.explanation().combine(), Combine::PerTrigger);
    // A new click replaces the click grant only.
    f.trigger(&mut c, MenuClick, T0 + 20, f.per);
    let v = c.view(T0 + 20, &f.book);
    assert_eq!((v.remaining, v.sent_in_window), (Some(8), 0));
    // 3 + 5 sends, then 45047.
    let (n, d) = f.drain(&mut c, T0 + 21);
    assert_eq!((n, d.errcode()), (8, 45047));
    // After the click window only the message grant is live: exhausted still.
    assert_eq!(c.decide_send(T0 + 80, &f.book).errcode(), 45047);
    let v = c.view(T0 + 80, &f.book);
    assert_eq!(
        (v.remaining, v.sent_in_window, v.grants.len()),
        (Some(0), 5, 1)
    );
}

#[test]
fn per_trigger_sums_to_null_when_any_grant_is_unlimited() {
    let f = fixture();
    let mut c = Conversation::new(true);
    f.trigger(&mut c, Message, T0, f.per);
    f.trigger(&mut c, Payment, T0 + 1, f.per);
    let v = c.view(T0 + 1, &f.book);
    assert_eq!((v.remaining, v.expires_at), (None, Some(T0 + 1 + H48)));
}

#[test]
fn a_menu_click_never_grants_the_message_allowance() {
    let f = fixture();
    let mut c = Conversation::new(true);
    f.trigger(&mut c, MenuClick, T0, f.per);
    let v = c.view(T0, &f.book);
    assert_eq!(
        v.grants
            .iter()
            .map(|g| (g.trigger, g.quota))
            .collect::<Vec<_>>(),
        [(MenuClick, Quota::Count(3))]
    );
    assert_eq!(c.send(T0 + 60, &f.book).errcode(), 45015);
}

#[test]
fn a_grant_keeps_its_terms_after_its_account_moves() {
    let f = fixture();
    let mut c = Conversation::new(true);
    f.trigger(&mut c, Message, T0, f.oa21); // 20 / 48 h under the 2021 table
    c.set_ruleset(f.oa23); // the account moved to the 2023 table
    for i in 0..3 {
        assert!(c.send(T0 + i, &f.book).accepted());
    }
    // 17 left: a message under the 2023 table (5) raises nothing; the grant stays a 2021 one.
    f.trigger(&mut c, Message, T0 + 10, f.oa23);
    let g = c.view(T0 + 10, &f.book).grants[0];
    assert_eq!(
        (g.ruleset, g.quota, g.remaining, g.at),
        (f.oa21, Quota::Count(20), Quota::Count(17), T0)
    );
    assert_eq!(g.expires_at, T0 + 10 + H48, "only the deadline moved");
    let (n, _) = f.drain(&mut c, T0 + 20);
    assert_eq!(n, 17);
    // Exhausted: a 2023 message now sets remaining to 5 and becomes the grant's setter.
    f.trigger(&mut c, Message, T0 + 30, f.oa23);
    let g = c.view(T0 + 30, &f.book).grants[0];
    assert_eq!(
        (g.ruleset, g.quota, g.remaining),
        (f.oa23, Quota::Count(5), Quota::Count(5))
    );
}

#[test]
fn the_reading_of_a_new_trigger_is_that_of_the_rule_set_in_force() {
    let f = fixture();
    let mut c = Conversation::new(true);
    // Under merge: one grant (message, 5).
    f.trigger(&mut c, Message, T0, f.oa23);
    // The account moves to the per-trigger reading: a click adds its own grant beside it.
    f.trigger(&mut c, MenuClick, T0 + 1, f.per);
    assert_eq!(c.view(T0 + 1, &f.book).grants.len(), 2);
    // Back under merge: a message updates the longest-lasting grant, the click grant stays.
    f.trigger(&mut c, Message, T0 + 2, f.oa23);
    let v = c.view(T0 + 2, &f.book);
    assert_eq!(
        v.grants.iter().map(|g| g.trigger).collect::<Vec<_>>(),
        [MenuClick, Message]
    );
    assert_eq!(v.combine, Combine::Merge);
    assert_eq!(v.remaining, Some(8));
}

#[test]
fn unfollow_deletes_every_grant_and_refollowing_is_a_new_follow() {
    let f = fixture();
    let mut c = Conversation::new(true);
    f.trigger(&mut c, Message, T0, f.oa23);
    f.trigger(&mut c, Payment, T0, f.oa23);
    c.unfollow();
    assert!(!c.following());
    let d = c.send(T0 + 1, &f.book);
    assert_eq!((d.errcode(), d.reason()), (45015, Reason::NotFollowing));
    // A non-follower cannot message: the trigger changes nothing.
    f.trigger(&mut c, Message, T0 + 2, f.oa23);
    assert_eq!(
        c.decide_send(T0 + 2, &f.book).reason(),
        Reason::NotFollowing
    );
    // Re-following is a `follow` trigger: 3 within a minute.
    f.trigger(&mut c, Follow, T0 + 3, f.oa23);
    assert!(c.following());
    let (n, d) = f.drain(&mut c, T0 + 4);
    assert_eq!((n, d.errcode()), (3, 45047));
    assert_eq!(c.send(T0 + 63, &f.book).errcode(), 45015);
}

#[test]
fn a_qr_scan_by_a_non_follower_is_one_trigger() {
    let f = fixture();
    let mut c = Conversation::new(false);
    f.trigger(&mut c, QrScan, T0, f.per);
    assert!(c.following());
    let v = c.view(T0, &f.book);
    assert_eq!(
        v.grants.iter().map(|g| g.trigger).collect::<Vec<_>>(),
        [QrScan]
    );
}

#[test]
fn sent_in_window_counts_since_the_window_opened_from_nothing() {
    let f = fixture();
    let mut c = Conversation::new(true);
    f.trigger(&mut c, Message, T0, f.oa23);
    c.send(T0, &f.book);
    c.send(T0, &f.book);
    f.trigger(&mut c, Message, T0 + 5, f.oa23); // live: merged, count kept
    c.send(T0 + 6, &f.book);
    assert_eq!(c.view(T0 + 6, &f.book).sent_in_window, 3);
    // Nothing live: 0, and remaining 0 with no deadline.
    let v = c.view(T0 + 5 + H48, &f.book);
    assert_eq!(
        (v.sent_in_window, v.remaining, v.expires_at),
        (0, Some(0), None)
    );
    assert!(v.grants.is_empty());
    f.trigger(&mut c, Message, T0 + 5 + H48, f.oa23);
    assert_eq!(c.view(T0 + 5 + H48, &f.book).sent_in_window, 0);
}

#[test]
fn deciding_changes_nothing() {
    let f = fixture();
    let mut c = Conversation::new(true);
    f.trigger(&mut c, Message, T0, f.oa23);
    let before = c.clone();
    for _ in 0..10 {
        assert!(c.decide_send(T0, &f.book).accepted());
    }
    let _ = c.view(T0, &f.book);
    assert_eq!(c, before);
}

#[test]
fn typing_errors_in_order() {
    let f = fixture();
    let mut c = Conversation::new(true);
    c.set_ruleset(f.oa23);
    assert_eq!(c.typing("typing", T0, &f.book).errcode(), 45072);
    assert_eq!(c.typing("", T0, &f.book).reason(), Reason::InvalidCommand);
    // No live grant.
    assert_eq!(c.typing("Typing", T0, &f.book).errcode(), 45015);
    // A follow grant but no message or send in the last 30 s.
    f.trigger(&mut c, Follow, T0, f.oa23);
    let d = c.typing("Typing", T0, &f.book);
    assert_eq!((d.errcode(), d.explanation().since()), (45080, None));
    // A message: typing works for 30 s (half-open).
    f.trigger(&mut c, Message, T0 + 1, f.oa23);
    assert!(c.typing("Typing", T0 + 1, &f.book).accepted());
    let d = c.typing("Typing", T0 + 15, &f.book);
    assert_eq!(
        (d.errcode(), d.explanation().since()),
        (45081, Some(T0 + 1))
    );
    assert!(
        c.typing("Typing", T0 + 16, &f.book).accepted(),
        "15 s later"
    );
    assert!(c.typing("CancelTyping", T0 + 17, &f.book).accepted());
    assert!(
        c.typing("Typing", T0 + 18, &f.book).accepted(),
        "after a cancel"
    );
    let d = c.typing("CancelTyping", T0 + 31, &f.book);
    assert_eq!(
        (d.errcode(), d.explanation().since()),
        (45080, Some(T0 + 1))
    );
    // Typing consumes nothing.
    assert_eq!(c.view(T0 + 31, &f.book).remaining, Some(5));
}

#[test]
fn an_accepted_send_ends_typing_and_counts_as_interaction() {
    let f = fixture();
    let mut c = Conversation::new(true);
    f.trigger(&mut c, Message, T0, f.oa23);
    assert!(c.typing("Typing", T0, &f.book).accepted());
    assert!(c.send(T0 + 5, &f.book).accepted());
    assert!(
        c.typing("Typing", T0 + 6, &f.book).accepted(),
        "the send ended typing"
    );
    // 40 s after the message but 35 s after the send: 45080; a send at +40 allows typing again.
    assert_eq!(c.typing("CancelTyping", T0 + 35, &f.book).errcode(), 45080);
    assert!(c.send(T0 + 40, &f.book).accepted());
    assert!(c.typing("Typing", T0 + 45, &f.book).accepted());
}

#[test]
fn a_refused_send_is_no_interaction() {
    let f = fixture();
    let mut c = Conversation::new(true);
    f.trigger(&mut c, Follow, T0, f.oa23);
    f.drain(&mut c, T0);
    // The three follow sends were at T0: typing at T0 + 29 is fine, at T0 + 30 it is not, even
    // though refused sends came later.
    assert_eq!(c.send(T0 + 29, &f.book).errcode(), 45047);
    assert_eq!(c.typing("Typing", T0 + 30, &f.book).errcode(), 45080);
}

#[test]
fn a_live_grant_with_nothing_left_is_enough_to_type() {
    let f = fixture();
    let mut c = Conversation::new(true);
    f.trigger(&mut c, Message, T0, f.oa23);
    f.drain(&mut c, T0 + 1);
    let d = c.typing("Typing", T0 + 2, &f.book);
    assert!(d.accepted());
    assert_eq!(
        d.explanation().grant().unwrap().remaining_before,
        Quota::Count(0)
    );
}

#[test]
fn typing_by_a_non_follower_is_45015() {
    let f = fixture();
    let mut c = Conversation::new(true);
    f.trigger(&mut c, Message, T0, f.oa23);
    c.unfollow();
    let d = c.typing("Typing", T0 + 1, &f.book);
    assert_eq!((d.errcode(), d.reason()), (45015, Reason::NotFollowing));
}

#[test]
fn stale_rule_set_ids_never_panic() {
    let f = fixture();
    let stale = RuleSetId::from_u16(9999);
    let rules = f.book.get(f.oa23).clone();
    let mut c = Conversation::new(true);
    c.trigger(Message, T0, stale, &rules);
    let empty = RuleBook::new();
    let d = c.send(T0, &empty);
    assert!(d.accepted());
    assert!(!d.explanation().sentence(&empty).is_empty());
    assert_eq!(c.view(T0, &empty).combine, Combine::Merge);
    c.set_ruleset(stale);
    assert!(reopen(&Conversation::new(true).decide_send(T0, &empty)).is_empty());
}

#[test]
fn state_round_trips_through_serde() {
    let f = fixture();
    let mut c = Conversation::new(true);
    f.trigger(&mut c, Message, T0, f.per);
    f.trigger(&mut c, Payment, T0 + 1, f.per);
    c.send(T0 + 2, &f.book);
    c.typing("Typing", T0 + 3, &f.book);
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["following"], true);
    assert_eq!(json["typing_since"], T0 + 3);
    assert_eq!(json["grants"].as_array().unwrap().len(), 2);
    let back: Conversation = serde_json::from_value(json).unwrap();
    assert_eq!(back, c);
    let fresh = Conversation::new(false);
    let back: Conversation = serde_json::from_str(&serde_json::to_string(&fresh).unwrap()).unwrap();
    assert_eq!(back, fresh);
}

#[test]
fn state_round_trips_through_the_stores_binary_format() {
    // postcard is not self-describing: quotas must not need "number or string?" there.
    let f = fixture();
    let mut c = Conversation::new(true);
    f.trigger(&mut c, Message, T0, f.per);
    f.trigger(&mut c, Payment, T0 + 1, f.per);
    c.send(T0 + 2, &f.book);
    let bytes = postcard::to_allocvec(&c).unwrap();
    let back: Conversation = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, c);
    assert_eq!(back.view(T0 + 3, &f.book).remaining, None);
    let mut single = Conversation::new(true);
    f.trigger(&mut single, Follow, T0, f.oa23);
    let back: Conversation =
        postcard::from_bytes(&postcard::to_allocvec(&single).unwrap()).unwrap();
    assert_eq!(back, single);
    // None, one and several grants are read differently (`Grants`' visitor): three here.
    f.trigger(&mut c, MenuClick, T0 + 2, f.per);
    assert_eq!(c.view(T0 + 3, &f.book).grants.len(), 3);
    let back: Conversation = postcard::from_bytes(&postcard::to_allocvec(&c).unwrap()).unwrap();
    assert_eq!(back, c);
    let none = Conversation::new(false);
    let back: Conversation = postcard::from_bytes(&postcard::to_allocvec(&none).unwrap()).unwrap();
    assert_eq!(back, none);
}

#[test]
fn explanations_render_for_every_reason() {
    let f = fixture();
    let mut c = Conversation::new(false);
    let mut decisions = vec![c.decide_send(T0, &f.book)];
    c.follow();
    c.set_ruleset(f.oa23);
    decisions.push(c.decide_send(T0, &f.book));
    f.trigger(&mut c, Message, T0, f.oa23);
    decisions.push(c.typing("Wave", T0, &f.book));
    decisions.push(c.typing("Typing", T0, &f.book));
    decisions.push(c.typing("Typing", T0 + 1, &f.book));
    decisions.push(c.typing("CancelTyping", T0 + 2, &f.book));
    decisions.push(c.send(T0 + 3, &f.book));
    decisions.push(c.typing("Typing", T0 + 100, &f.book));
    f.drain(&mut c, T0 + 4);
    decisions.push(c.send(T0 + 5, &f.book));
    decisions.push(c.send(T0 + H48, &f.book));
    let reasons: Vec<Reason> = decisions.iter().map(|d| d.reason()).collect();
    assert_eq!(
        reasons,
        [
            Reason::NotFollowing,
            Reason::WindowClosed,
            Reason::InvalidCommand,
            Reason::Accepted,
            Reason::AlreadyTyping,
            Reason::Accepted,
            Reason::Accepted,
            Reason::NoRecentInteraction,
            Reason::Exhausted,
            Reason::WindowClosed,
        ]
    );
    for d in &decisions {
        let e = d.explanation();
        assert!(e.sentence(&f.book).ends_with("(merge reading)"));
        let json = serde_json::to_value(e.serializable(&f.book)).unwrap();
        assert_eq!(json["errcode"], e.errcode());
        assert_eq!(json["decision"], e.decision().as_str());
        assert_eq!(json["combine"], "merge");
    }
    let accept = serde_json::to_value(decisions[6].explanation().serializable(&f.book)).unwrap();
    assert_eq!(accept["grant"]["ruleset"], "wechat-oa-2023");
    assert_eq!(accept["grant"]["remaining_before"], 5);
    assert_eq!(accept["grant"]["expires_at"], rfc3339(T0 + H48));
    assert_eq!(accept["reopen"], serde_json::json!([]));
}

#[test]
fn the_view_renders_in_the_api_shape() {
    let f = fixture();
    let mut c = Conversation::new(true);
    f.trigger(&mut c, Message, T0, f.oa23);
    c.send(T0 + 1, &f.book);
    c.send(T0 + 2, &f.book);
    let v = c.view(T0 + 3, &f.book);
    let json = serde_json::to_value(v.serializable(&f.book)).unwrap();
    assert_eq!(json["ruleset"], "wechat-oa-2023");
    assert_eq!(json["remaining"], 3);
    assert_eq!(json["sent_in_window"], 2);
    assert_eq!(json["expires_at"], rfc3339(T0 + H48));
    assert_eq!(json["grants"][0]["quota"], 5);
    assert_eq!(json["grants"][0]["remaining"], 3);
    assert_eq!(json["next_send"]["decision"], "accept");
}

use crate::instant::rfc3339;
