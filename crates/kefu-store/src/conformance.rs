//! The conformance suite: what every [`Store`] backend must do, written once.
//!
//! A backend's tests run it with `kefu_store::store_conformance_suite!(make)`, where `make` is an
//! expression giving `(store, guard)`: the store under test and whatever must live as long as it
//! (a temporary directory). Each function below is one test.

// This module is test code shipped in the library so every backend's tests can call it: a
// failing unwrap here is a failing test.
#![allow(clippy::unwrap_used)]

use crate::port::{Commit, Conflict, Store, StoreError, Write};
use crate::records::*;
use kefu_policy::{Batch, Conversation, Rollout, RolloutSpec, RuleBook};

#[macro_export]
macro_rules! store_conformance_suite {
    ($make:expr) => {
        $crate::store_conformance_suite!(@tests $make;
            absent_record_loads_none,
            put_then_load_gives_value_and_version,
            stale_expectation_is_refused_and_changes_nothing,
            batch_applies_in_order_and_skips_only_conflicts,
            deleted_then_recreated_record_never_matches_old_version,
            key_written_twice_in_one_commit,
            record_must_fit_its_key,
            versions_must_increase,
            scan_returns_every_record,
            record_count_is_what_a_scan_gives,
            scan_without_users_gives_every_other_record,
            per_user_records_written_since_a_position,
            inbox_is_per_user_oldest_first_and_pages,
            traffic_is_ordered_and_ranged,
            wipe_keeps_only_named_keys,
            a_wiped_record_starts_again_from_nothing,
            delivery_log_is_per_account_newest_first_and_pages,
            delivery_log_entry_is_replaced_by_id,
            outbox_entry_lives_until_deleted,
            official_account_records_round_trip
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let (store, _guard) = $make;
                $crate::conformance::$name(&store);
            }
        )*
    };
}

fn account(appid: &str) -> Record {
    Record::Account(AccountRecord {
        appid: appid.to_owned(),
        secret: "0123456789abcdef0123456789abcdef".to_owned(),
        original_id: "gh_0123456789ab".to_owned(),
        name: "Coffee Shop".to_owned(),
        account_type: AccountType::Service,
        webhook_url: None,
        token: None,
        encoding_aes_key: None,
        encrypt_mode: EncryptMode::Plain,
        registered_at: 1_700_000_000,
        created_at: 1_700_000_000,
        seq: 1,
    })
}

fn conversation_key(openid: &str) -> Key {
    Key::Conversation {
        appid: "wx1".to_owned(),
        openid: openid.to_owned(),
    }
}

/// An inbox message from `appid` to `user_id` (the suite's, and backends' own tests').
pub fn message(id: u64, user_id: &str, appid: &str) -> InboxMessage {
    InboxMessage {
        id,
        user_id: user_id.to_owned(),
        appid: appid.to_owned(),
        openid: "o1".to_owned(),
        source: InboxSource::Custom,
        msgtype: "text".to_owned(),
        body: format!(r#"{{"content":"message {id}"}}"#),
        sent_at: 1_700_000_000 + id as i64,
    }
}

/// A traffic record of a message trigger on wx1 at `at`.
pub fn trigger(seq: u64, at: i64) -> TrafficRecord {
    TrafficRecord {
        seq,
        at,
        event: TrafficEvent::Trigger {
            appid: "wx1".to_owned(),
            openid: "o1".to_owned(),
            trigger: "message".to_owned(),
            ruleset: "wechat-oa-2023".to_owned(),
        },
    }
}

/// A push delivery of `appid` in `status`.
pub fn delivery(id: u64, appid: &str, status: DeliveryStatus) -> DeliveryRecord {
    DeliveryRecord {
        id,
        appid: appid.to_owned(),
        user_id: "u1".to_owned(),
        openid: "o1".to_owned(),
        created_at: 1_700_000_000,
        kind: DeliveryKind::Push,
        event: "text".to_owned(),
        msg_id: Some(24_000_000_000_000_000 + id as i64),
        url: "http://127.0.0.1:9000/wechat".to_owned(),
        query: "signature=s&timestamp=1&nonce=123456789&openid=o1".to_owned(),
        body: "<xml><MsgId>1</MsgId></xml>".to_owned(),
        status,
        attempts: vec![],
        passive_reply: None,
        replay_of: None,
    }
}

/// The traffic records `store` holds with `from <= at < to`, in order (the suite's, and
/// backends' own tests').
pub fn traffic_in(store: &dyn Store, from: Option<i64>, to: Option<i64>) -> Vec<TrafficRecord> {
    let mut out = vec![];
    store
        .traffic(from, to, &mut |r| {
            out.push(r.clone());
            true
        })
        .unwrap();
    out
}

/// The sequence numbers of every traffic record `store` holds, in order.
pub fn traffic_seqs(store: &dyn Store) -> Vec<u64> {
    traffic_in(store, None, None)
        .iter()
        .map(|r| r.seq)
        .collect()
}

/// The ids of `user`'s inbox messages `store` gives for this page, in order.
pub fn inbox_ids(
    store: &dyn Store,
    user: &str,
    appid: Option<&str>,
    after: u64,
    limit: usize,
) -> Vec<u64> {
    let inbox = store.inbox(user, appid, after, limit).expect("inbox");
    inbox.iter().map(|m| m.id).collect()
}

fn commit_one(store: &dyn Store, commit: Commit) -> Result<(), Conflict> {
    let mut results = store.commit(&[commit]).expect("commit");
    assert_eq!(results.len(), 1, "one result per commit");
    results.remove(0)
}

/// Commits `writes` alone, with no inbox, traffic or delivery.
fn commit_writes(store: &dyn Store, writes: Vec<Write>) -> Result<(), Conflict> {
    commit_one(
        store,
        Commit {
            writes,
            ..Commit::default()
        },
    )
}

fn version_of(store: &dyn Store, key: &Key) -> u64 {
    store
        .load(key)
        .expect("load")
        .map_or(0, |record| record.version)
}

pub fn absent_record_loads_none(store: &dyn Store) {
    assert_eq!(store.load(&Key::Account("wx1".into())).unwrap(), None);
    assert_eq!(store.load(&conversation_key("o1")).unwrap(), None);
}

pub fn put_then_load_gives_value_and_version(store: &dyn Store) {
    let key = Key::Account("wx1".into());
    commit_writes(store, vec![Write::put(key.clone(), 0, 5, account("wx1"))]).unwrap();
    let loaded = store.load(&key).unwrap().expect("stored");
    assert_eq!(loaded.version, 5);
    assert_eq!(loaded.value, account("wx1"));

    let conv = Record::Conversation(Conversation::new(true));
    let ckey = conversation_key("o1");
    commit_writes(store, vec![Write::put(ckey.clone(), 0, 6, conv.clone())]).unwrap();
    let loaded = store.load(&ckey).unwrap().expect("stored");
    assert_eq!(loaded.value, conv);
    assert_eq!(loaded.version, 6);
}

pub fn stale_expectation_is_refused_and_changes_nothing(store: &dyn Store) {
    let key = Key::Account("wx1".into());
    let put = |expect, version| Commit {
        writes: vec![Write::put(key.clone(), expect, version, account("wx1"))],
        inbox: vec![message(7, "u1", "wx1")],
        traffic: vec![trigger(7, 1_700_000_000)],
        deliveries: vec![delivery(7, "wx1", DeliveryStatus::Queued)],
    };
    commit_one(store, put(0, 7)).unwrap();
    let v1 = version_of(store, &key);
    assert_eq!(v1, 7);

    // A second writer that read "absent" loses, and none of its effects land.
    let mut losing = put(0, 8);
    losing.inbox = vec![message(8, "u1", "wx1")];
    losing.traffic = vec![trigger(8, 1_700_000_001)];
    losing.deliveries = vec![
        delivery(7, "wx1", DeliveryStatus::Failed),
        delivery(8, "wx1", DeliveryStatus::Queued),
    ];
    let conflict = commit_one(store, losing).unwrap_err();
    assert_eq!(conflict.key, key);
    assert_eq!(conflict.expected, 0);
    assert_eq!(conflict.found, v1);
    assert_eq!(version_of(store, &key), v1);
    assert_eq!(inbox_ids(store, "u1", None, 0, 100), vec![7]);
    assert_eq!(traffic_seqs(store), vec![7]);
    assert_eq!(
        store.deliveries("wx1", None, 100).unwrap(),
        vec![delivery(7, "wx1", DeliveryStatus::Queued)]
    );
}

pub fn batch_applies_in_order_and_skips_only_conflicts(store: &dyn Store) {
    let a = Key::Account("wxa".into());
    let b = Key::Account("wxb".into());
    let results = store
        .commit(&[
            Commit {
                writes: vec![Write::put(a.clone(), 0, 1, account("wxa"))],
                ..Commit::default()
            },
            // Expects `a` absent, but the first commit of the batch created it.
            Commit {
                writes: vec![
                    Write::put(b.clone(), 0, 2, account("wxb")),
                    Write::put(a.clone(), 0, 2, account("wxa")),
                ],
                ..Commit::default()
            },
            Commit {
                writes: vec![Write::put(b.clone(), 0, 3, account("wxb"))],
                ..Commit::default()
            },
        ])
        .unwrap();
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok());
    assert_eq!(results[1].as_ref().unwrap_err().key, a);
    assert!(results[2].is_ok());
    assert_eq!(version_of(store, &a), 1);
    assert_eq!(version_of(store, &b), 3, "the refused commit wrote nothing");
}

pub fn deleted_then_recreated_record_never_matches_old_version(store: &dyn Store) {
    let key = Key::Account("wx1".into());
    let put = |expect, version| Commit {
        writes: vec![Write::put(key.clone(), expect, version, account("wx1"))],
        ..Commit::default()
    };
    commit_one(store, put(0, 1)).unwrap();
    let old = version_of(store, &key);
    commit_writes(store, vec![Write::delete(key.clone(), old)]).unwrap();
    assert_eq!(store.load(&key).unwrap(), None);
    commit_one(store, put(0, 2)).unwrap();
    let new = version_of(store, &key);
    assert_eq!(new, 2);
    assert!(commit_one(store, put(old, 3)).is_err(), "no ABA");
}

pub fn key_written_twice_in_one_commit(store: &dyn Store) {
    let key = conversation_key("o1");
    let conv = Record::Conversation(Conversation::new(false));
    // The second write must expect the version the first one stored.
    let twice = |second_expect| Commit {
        writes: vec![
            Write::put(key.clone(), 0, 4, conv.clone()),
            Write::put(key.clone(), second_expect, 5, conv.clone()),
        ],
        ..Commit::default()
    };
    assert!(commit_one(store, twice(0)).is_err());
    assert_eq!(store.load(&key).unwrap(), None, "nothing of it lands");
    commit_one(store, twice(4)).unwrap();
    assert_eq!(version_of(store, &key), 5);
}

pub fn record_must_fit_its_key(store: &dyn Store) {
    let result = store.commit(&[Commit {
        writes: vec![Write::put(Key::User("u1".into()), 0, 1, account("wx1"))],
        ..Commit::default()
    }]);
    assert!(matches!(result, Err(StoreError::Mismatch { .. })));
    assert_eq!(store.load(&Key::User("u1".into())).unwrap(), None);
}

pub fn versions_must_increase(store: &dyn Store) {
    let key = Key::Account("wx1".into());
    let result = store.commit(&[Commit {
        writes: vec![Write::put(key.clone(), 0, 0, account("wx1"))],
        ..Commit::default()
    }]);
    assert!(matches!(
        result,
        Err(StoreError::VersionNotIncreasing { .. })
    ));
    assert_eq!(store.load(&key).unwrap(), None);
}

pub fn scan_returns_every_record(store: &dyn Store) {
    let writes = vec![
        Write::put(Key::AdminToken, 0, 1, Record::AdminToken("secret".into())),
        Write::put(
            Key::Clock,
            0,
            2,
            Record::Clock(ClockRecord {
                mode: ClockMode::Virtual,
                now: 1_700_000_000,
                start: None,
            }),
        ),
        Write::put(
            Key::Counters,
            0,
            3,
            Record::Counters(Counters { next_seq: 9 }),
        ),
        Write::put(Key::Account("wx1".into()), 0, 4, account("wx1")),
        Write::put(
            conversation_key("o1"),
            0,
            5,
            Record::Conversation(Conversation::new(true)),
        ),
        Write::put(
            Key::Outbox(7),
            0,
            7,
            Record::Outbox(delivery(7, "wx1", DeliveryStatus::Retrying)),
        ),
        Write::put(
            Key::MsgIds("wx1".into()),
            0,
            8,
            Record::MsgIds(MsgIdCounter {
                next: 24_000_000_000_000_001,
            }),
        ),
        Write::put(
            Key::Tokens("wx1".into()),
            0,
            6,
            Record::Tokens(TokenSet {
                tokens: vec![IssuedToken {
                    token: "t".into(),
                    issued_at: 1,
                    valid_until: 7201,
                }],
            }),
        ),
    ];
    let mut rollout = Rollout::new(
        RolloutSpec {
            id: "r1".into(),
            platform: None,
            from: "wechat-oa-2021".into(),
            to: "wechat-oa-2023".into(),
            new_accounts_from: 1_686_499_200,
            batches: vec![Batch {
                at: 1_691_366_400,
                percent_hundredths: 10_000,
            }],
            channels: None,
        },
        &RuleBook::shipped(),
    )
    .unwrap();
    rollout.pause(1_688_000_000).unwrap();
    rollout.pin("wx1", kefu_policy::PinSide::To, 1_688_000_001);
    let mut writes = writes;
    writes.push(Write::put(
        Key::RuleSet("mine".into()),
        0,
        7,
        Record::RuleSet(StoredRuleSet {
            id: 300,
            toml: "name = \"mine\"".into(),
        }),
    ));
    writes.push(Write::put(
        Key::Rollout("r1".into()),
        0,
        8,
        Record::Rollout(StoredRollout {
            seq: 9,
            created_at: 1_687_000_000,
            note: Some("illustrative".into()),
            rollout,
        }),
    ));
    let expected: Vec<(Key, Record)> = writes
        .iter()
        .filter_map(|w| Some((w.key.clone(), w.value.clone()?)))
        .collect();
    commit_writes(store, writes).unwrap();
    let mut seen = vec![];
    store
        .scan(&mut |key, record| seen.push((key, record.value)))
        .unwrap();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = expected;
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(seen, expected);
}

/// Per-user records (users, conversations, follows) left out, every kind around them kept,
/// whatever sorts before, between or after them.
pub fn scan_without_users_gives_every_other_record(store: &dyn Store) {
    let user = Record::User(UserRecord {
        user_id: "u1".into(),
        nickname: "Ada".into(),
        created_at: 1,
        seq: 2,
        openids: [("wx1".to_owned(), "o1".to_owned())].into_iter().collect(),
    });
    let follow = Record::Follow(FollowRecord {
        subscribe_time: 1_700_000_000,
        qr_scene: None,
        seq: 3,
    });
    let follow_key = |openid: &str| Key::Follow {
        appid: "wx1".into(),
        openid: openid.into(),
    };
    let menu = Record::Menu(MenuRecord {
        json: "{}".into(),
        created_at: 1,
    });
    let writes = vec![
        Write::put(Key::AdminToken, 0, 1, Record::AdminToken("secret".into())),
        Write::put(Key::Account("wx1".into()), 0, 2, account("wx1")),
        Write::put(Key::User("u1".into()), 0, 3, user.clone()),
        Write::put(Key::User("u2".into()), 0, 4, {
            let Record::User(mut u) = user else {
                unreachable!()
            };
            u.user_id = "u2".into();
            Record::User(u)
        }),
        Write::put(
            conversation_key("o1"),
            0,
            5,
            Record::Conversation(Conversation::new(true)),
        ),
        Write::put(Key::Menu("wx1".into()), 0, 6, menu),
        Write::put(follow_key("o1"), 0, 7, follow.clone()),
        Write::put(follow_key("o2"), 0, 8, follow),
        Write::put(
            Key::KfAccounts("wx1".into()),
            0,
            9,
            Record::KfAccounts(KfAccountSet {
                accounts: vec![],
                next_id: 1001,
            }),
        ),
        Write::put(
            Key::MsgIds("wx1".into()),
            0,
            10,
            Record::MsgIds(MsgIdCounter { next: 1 }),
        ),
    ];
    let mut expected: Vec<Key> = writes
        .iter()
        .map(|w| w.key.clone())
        .filter(|k| !k.is_per_user())
        .collect();
    commit_writes(store, writes).unwrap();
    let mut seen = vec![];
    store
        .scan_without_users(&mut |key, _| seen.push(key))
        .unwrap();
    seen.sort();
    expected.sort();
    assert_eq!(seen.len(), 5);
    assert_eq!(seen, expected);
}

/// What a snapshot taken at a position needs to catch up: the users, conversations and
/// follows written or deleted since, once each, as they are now; nothing when a wipe lies
/// between, or the position is not in the store's past.
pub fn per_user_records_written_since_a_position(store: &dyn Store) {
    let Some(start) = store.position() else {
        // A store that keeps nothing across restarts has no history to tell.
        assert_eq!(store.per_user_written_since(0, u64::MAX).unwrap(), None);
        return;
    };
    let user = |id: &str| {
        Record::User(UserRecord {
            user_id: id.into(),
            nickname: "Ada".into(),
            created_at: 1,
            seq: 2,
            openids: [("wx1".to_owned(), format!("o-{id}"))]
                .into_iter()
                .collect(),
        })
    };
    let follow_key = Key::Follow {
        appid: "wx1".into(),
        openid: "o1".into(),
    };
    let follow = Record::Follow(FollowRecord {
        subscribe_time: 1_700_000_000,
        qr_scene: None,
        seq: 3,
    });
    let conversation = |following| Record::Conversation(Conversation::new(following));
    let put = |writes| commit_writes(store, writes).unwrap();
    put(vec![
        Write::put(Key::User("u1".into()), 0, 1, user("u1")),
        Write::put(conversation_key("o1"), 0, 2, conversation(true)),
        Write::put(Key::Account("wx1".into()), 0, 3, account("wx1")),
    ]);
    let middle = store.position().unwrap();
    assert!(middle > start, "a commit moves the position");
    put(vec![Write::put(
        conversation_key("o1"),
        2,
        4,
        conversation(false),
    )]);
    put(vec![Write::put(follow_key.clone(), 0, 5, follow)]);
    put(vec![Write::delete(follow_key.clone(), 5)]);
    put(vec![
        Write::put(Key::User("u2".into()), 0, 6, user("u2")),
        Write::put(Key::Account("wx1".into()), 3, 7, account("wx1")),
    ]);
    let since = |position| {
        let changed = store.per_user_written_since(position, u64::MAX).unwrap();
        changed.map(|mut changed| {
            changed.sort_by(|a, b| a.0.cmp(&b.0));
            changed
        })
    };
    let now = |key: &Key| (key.clone(), store.load(key).unwrap());
    let mut expected = vec![
        now(&conversation_key("o1")),
        (follow_key.clone(), None),
        now(&Key::User("u2".into())),
    ];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(since(middle), Some(expected.clone()));
    let (_, now_conversation) = expected
        .iter()
        .find(|(key, _)| *key == conversation_key("o1"))
        .unwrap();
    assert_eq!(
        now_conversation.as_ref().map(|r| (r.version, &r.value)),
        Some((4, &conversation(false))),
        "as it is now, not as first written"
    );
    expected.push(now(&Key::User("u1".into())));
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(since(start), Some(expected));
    let now = store.position().unwrap();
    assert_eq!(since(now), Some(vec![]));
    assert_eq!(since(now + 1), None, "not in the store's past");
    assert_eq!(
        store.per_user_written_since(middle, 0).unwrap(),
        None,
        "more to read than the budget"
    );
    store.wipe(&[Key::AdminToken]).unwrap();
    assert_eq!(since(middle), None, "a wipe lies between");
}

pub fn inbox_is_per_user_oldest_first_and_pages(store: &dyn Store) {
    let batch: Vec<Commit> = [
        (3, "u1", "wx1"),
        (5, "u2", "wx1"),
        (6, "u1", "wx2"),
        (9, "u1", "wx1"),
    ]
    .into_iter()
    .map(|(id, user, appid)| Commit {
        inbox: vec![message(id, user, appid)],
        ..Commit::default()
    })
    .collect();
    store.commit(&batch).unwrap();
    let ids = |appid, after, limit| inbox_ids(store, "u1", appid, after, limit);
    assert_eq!(ids(None, 0, 100), vec![3, 6, 9]);
    assert_eq!(ids(Some("wx1"), 0, 100), vec![3, 9]);
    assert_eq!(ids(None, 3, 100), vec![6, 9]);
    assert_eq!(ids(None, 0, 2), vec![3, 6]);
    assert_eq!(store.inbox("nobody", None, 0, 100).unwrap(), vec![]);
    assert_eq!(
        store.inbox("u1", None, 0, 100).unwrap()[0],
        message(3, "u1", "wx1")
    );
}

pub fn traffic_is_ordered_and_ranged(store: &dyn Store) {
    let batch: Vec<Commit> = [(1, 100), (2, 100), (3, 150), (4, 200)]
        .into_iter()
        .map(|(seq, at)| Commit {
            traffic: vec![trigger(seq, at)],
            ..Commit::default()
        })
        .collect();
    store.commit(&batch).unwrap();
    let seqs =
        |from, to| -> Vec<u64> { traffic_in(store, from, to).iter().map(|r| r.seq).collect() };
    assert_eq!(seqs(None, None), vec![1, 2, 3, 4]);
    assert_eq!(seqs(Some(150), None), vec![3, 4]);
    assert_eq!(seqs(None, Some(150)), vec![1, 2]);
    assert_eq!(seqs(Some(100), Some(200)), vec![1, 2, 3]);
    let mut first = vec![];
    store
        .traffic(None, None, &mut |r| {
            first.push(r.seq);
            false
        })
        .unwrap();
    assert_eq!(first, vec![1], "the callback stops the scan");
}

pub fn record_count_is_what_a_scan_gives(store: &dyn Store) {
    let scanned = |store: &dyn Store| {
        let mut n = 0;
        store.scan(&mut |_, _| n += 1).unwrap();
        n
    };
    assert_eq!(store.record_count().unwrap(), 0);
    commit_one(
        store,
        Commit {
            writes: vec![
                Write::put(Key::AdminToken, 0, 1, Record::AdminToken("secret".into())),
                Write::put(Key::Account("wx1".into()), 0, 2, account("wx1")),
                Write::put(Key::Account("wx2".into()), 0, 3, account("wx2")),
            ],
            // Effects are not records.
            inbox: vec![message(1, "u1", "wx1")],
            traffic: vec![trigger(1, 100)],
            deliveries: vec![delivery(1, "wx1", DeliveryStatus::Delivered)],
        },
    )
    .unwrap();
    assert_eq!(store.record_count().unwrap(), 3);
    assert_eq!(scanned(store), 3);
    commit_writes(store, vec![Write::delete(Key::Account("wx2".into()), 3)]).unwrap();
    assert_eq!(store.record_count().unwrap(), 2);
    assert_eq!(scanned(store), 2);
    store.wipe(&[Key::AdminToken]).unwrap();
    assert_eq!(store.record_count().unwrap(), 1);
}

pub fn wipe_keeps_only_named_keys(store: &dyn Store) {
    commit_one(
        store,
        Commit {
            writes: vec![
                Write::put(Key::AdminToken, 0, 1, Record::AdminToken("secret".into())),
                Write::put(Key::Account("wx1".into()), 0, 2, account("wx1")),
            ],
            inbox: vec![message(1, "u1", "wx1")],
            traffic: vec![trigger(1, 100)],
            deliveries: vec![delivery(1, "wx1", DeliveryStatus::Delivered)],
        },
    )
    .unwrap();
    store.wipe(&[Key::AdminToken]).unwrap();
    assert_eq!(store.deliveries("wx1", None, 10).unwrap(), vec![]);
    assert_eq!(store.delivery(1).unwrap(), None);
    assert!(store.load(&Key::AdminToken).unwrap().is_some());
    assert_eq!(store.load(&Key::Account("wx1".into())).unwrap(), None);
    assert_eq!(store.inbox("u1", None, 0, 10).unwrap(), vec![]);
    assert_eq!(traffic_in(store, None, None), vec![]);
}

/// `POST /api/v1/reset` wipes, then saves the clock as new at once: the commit right after a
/// wipe must see the wiped record as absent, never at its old version. (The embedded store
/// once answered the wipe before forgetting the versions it had logged, and the next commit
/// conflicted now and then; repeated so that such a race shows.)
pub fn a_wiped_record_starts_again_from_nothing(store: &dyn Store) {
    let key = Key::Account("wx1".into());
    for round in 0..200 {
        let outcome = commit_one(
            store,
            Commit {
                writes: vec![
                    Write::put(key.clone(), 0, 1, account("wx1")),
                    Write::put(key.clone(), 1, 2, account("wx1")),
                ],
                ..Commit::default()
            },
        );
        assert_eq!(
            outcome,
            Ok(()),
            "round {round}: the wiped record was still there"
        );
        store.wipe(&[]).unwrap();
        assert_eq!(store.load(&key).unwrap(), None, "round {round}");
    }
}

pub fn delivery_log_is_per_account_newest_first_and_pages(store: &dyn Store) {
    let batch: Vec<Commit> = [(3, "wx1"), (5, "wx2"), (6, "wx1"), (9, "wx1")]
        .into_iter()
        .map(|(id, appid)| Commit {
            deliveries: vec![delivery(id, appid, DeliveryStatus::Delivered)],
            ..Commit::default()
        })
        .collect();
    store.commit(&batch).unwrap();
    let ids = |appid, before, limit| {
        store
            .deliveries(appid, before, limit)
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids("wx1", None, 100), vec![9, 6, 3]);
    assert_eq!(ids("wx2", None, 100), vec![5]);
    assert_eq!(ids("wx1", Some(9), 100), vec![6, 3]);
    assert_eq!(ids("wx1", Some(6), 1), vec![3]);
    assert_eq!(ids("wx1", Some(3), 100), Vec::<u64>::new());
    assert_eq!(ids("wx1", Some(0), 100), Vec::<u64>::new());
    assert_eq!(ids("wx1", None, 2), vec![9, 6]);
    assert_eq!(ids("nobody", None, 100), Vec::<u64>::new());
    assert_eq!(
        store.delivery(5).unwrap(),
        Some(delivery(5, "wx2", DeliveryStatus::Delivered))
    );
    assert_eq!(store.delivery(4).unwrap(), None);
}

pub fn delivery_log_entry_is_replaced_by_id(store: &dyn Store) {
    let queued = delivery(4, "wx1", DeliveryStatus::Queued);
    let mut retrying = delivery(4, "wx1", DeliveryStatus::Retrying);
    retrying.attempts.push(AttemptRecord {
        n: 1,
        at: 1_700_000_001,
        http_status: Some(500),
        latency_ms: 3,
        error: Some("HTTP 500".to_owned()),
    });
    let mut delivered = retrying.clone();
    delivered.status = DeliveryStatus::Delivered;
    delivered.attempts.push(AttemptRecord {
        n: 2,
        at: 1_700_000_001,
        http_status: Some(200),
        latency_ms: 1,
        error: None,
    });
    delivered.passive_reply = Some(r#"{"msgtype":"text","content":"hi"}"#.to_owned());
    // Two states in one batch, then the last in a batch of its own: the latest one wins.
    store
        .commit(&[
            Commit {
                deliveries: vec![queued],
                ..Commit::default()
            },
            Commit {
                deliveries: vec![retrying],
                ..Commit::default()
            },
        ])
        .unwrap();
    commit_one(
        store,
        Commit {
            deliveries: vec![delivered.clone()],
            ..Commit::default()
        },
    )
    .unwrap();
    assert_eq!(
        store.deliveries("wx1", None, 10).unwrap(),
        vec![delivered.clone()]
    );
    assert_eq!(store.delivery(4).unwrap(), Some(delivered));
}

pub fn outbox_entry_lives_until_deleted(store: &dyn Store) {
    let key = Key::Outbox(11);
    let pending = Record::Outbox(delivery(11, "wx1", DeliveryStatus::Queued));
    commit_one(
        store,
        Commit {
            writes: vec![Write::put(key.clone(), 0, 12, pending.clone())],
            deliveries: vec![delivery(11, "wx1", DeliveryStatus::Queued)],
            ..Commit::default()
        },
    )
    .unwrap();
    let loaded = store.load(&key).unwrap().expect("stored");
    assert_eq!((loaded.version, loaded.value), (12, pending));
    // Ending the delivery deletes the outbox entry and logs the outcome, all or nothing.
    commit_one(
        store,
        Commit {
            writes: vec![Write::delete(key.clone(), 12)],
            deliveries: vec![delivery(11, "wx1", DeliveryStatus::Delivered)],
            ..Commit::default()
        },
    )
    .unwrap();
    assert_eq!(store.load(&key).unwrap(), None);
    let mut outbox = vec![];
    store
        .scan(&mut |key, _| {
            if matches!(key, Key::Outbox(_)) {
                outbox.push(key);
            }
        })
        .unwrap();
    assert!(outbox.is_empty());
    assert_eq!(
        store.delivery(11).unwrap().map(|d| d.status),
        Some(DeliveryStatus::Delivered)
    );
}

/// Menus, QR codes, follows, KF accounts and stable tokens: stored, loaded, scanned, replaced
/// and deleted like every other record.
pub fn official_account_records_round_trip(store: &dyn Store) {
    let token = IssuedToken {
        token: "stable".into(),
        issued_at: 10,
        valid_until: 7210,
    };
    let records = [
        (
            Key::Menu("wx1".into()),
            Record::Menu(MenuRecord {
                json: r#"{"button":[{"type":"click","name":"今日歌曲","key":"V1001"}]}"#.into(),
                created_at: 1_700_000_000,
            }),
        ),
        (
            Key::QrCode("gQH47joAAAAAAAAAASxodHRw==".into()),
            Record::QrCode(QrCodeRecord {
                ticket: "gQH47joAAAAAAAAAASxodHRw==".into(),
                appid: "wx1".into(),
                url: "http://weixin.qq.com/q/kZgfwMTm72WWPkovabbI".into(),
                scene: QrSceneValue::Str("spring".into()),
                permanent: false,
                created_at: 1_700_000_000,
                expires_at: Some(1_700_000_060),
                seq: 3,
            }),
        ),
        (
            Key::QrCode("permanent".into()),
            Record::QrCode(QrCodeRecord {
                ticket: "permanent".into(),
                appid: "wx1".into(),
                url: "http://weixin.qq.com/q/p".into(),
                scene: QrSceneValue::Id(100_000),
                permanent: true,
                created_at: 1_700_000_000,
                expires_at: None,
                seq: 4,
            }),
        ),
        (
            Key::Follow {
                appid: "wx1".into(),
                openid: "o1".into(),
            },
            Record::Follow(FollowRecord {
                subscribe_time: 1_700_000_000,
                qr_scene: Some(QrSceneValue::Id(7)),
                seq: 5,
            }),
        ),
        (
            Key::KfAccounts("wx1".into()),
            Record::KfAccounts(KfAccountSet {
                accounts: vec![KfAccountRecord {
                    kf_account: "test1@kftest".into(),
                    nickname: "客服1".into(),
                    kf_id: 1001,
                    headimgurl: String::new(),
                    kf_wx: None,
                    invite_wx: Some("worker".into()),
                    invite_expire_time: Some(1_700_604_800),
                }],
                next_id: 1002,
            }),
        ),
        (
            Key::StableTokens("wx1".into()),
            Record::StableTokens(StableTokenSet {
                tokens: vec![token],
                force_day: 19_675,
                force_count: 2,
                last_force_at: Some(100),
            }),
        ),
    ];
    let writes = records
        .iter()
        .zip(1..)
        .map(|((key, record), version)| Write::put(key.clone(), 0, version, record.clone()))
        .collect();
    commit_writes(store, writes).unwrap();
    for ((key, record), version) in records.iter().zip(1..) {
        let loaded = store.load(key).unwrap().expect("stored");
        assert_eq!((loaded.version, &loaded.value), (version, record));
    }
    let mut seen = 0;
    store.scan(&mut |_, _| seen += 1).unwrap();
    assert_eq!(seen, records.len());

    // A follow is replaced on re-follow and deleted with its account.
    let follow = records[3].0.clone();
    let refollow = Record::Follow(FollowRecord {
        subscribe_time: 1_700_000_100,
        qr_scene: None,
        seq: 9,
    });
    commit_writes(
        store,
        vec![Write::put(follow.clone(), 4, 10, refollow.clone())],
    )
    .unwrap();
    assert_eq!(store.load(&follow).unwrap().unwrap().value, refollow);
    commit_writes(store, vec![Write::delete(follow.clone(), 10)]).unwrap();
    assert_eq!(store.load(&follow).unwrap(), None);
    // A record of one kind never fits another kind's key.
    let result = store.commit(&[Commit {
        writes: vec![Write::put(
            Key::Menu("wx2".into()),
            0,
            11,
            records[5].1.clone(),
        )],
        ..Commit::default()
    }]);
    assert!(matches!(result, Err(StoreError::Mismatch { .. })));
}
