//! A graceful stop leaves a snapshot of the users and conversations; the next start takes them
//! from it and answers exactly as a start that reads the whole store does. A snapshot the store
//! has moved past (the one before a crash) is caught up with what the store wrote since; one
//! across a wipe, or a damaged one, is set aside.

use kefu_server::SNAPSHOT_FILE;
use kefu_server::clock::ManualClock;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Kefu, START, scene, start_in};

/// Followers on two accounts: Alice (followed, a message, two sends), Bob (followed Alice's
/// account through a QR code, and the second account), Dan (deleted), Eve (never met an
/// account). Returns the (appid, openid) pairs and a token
/// of each account.
async fn followers(kefu: &Kefu) -> (Vec<(String, String)>, Vec<String>) {
    let s = scene(kefu).await;
    let first = s.account["appid"].as_str().unwrap().to_owned();
    let second = kefu.account(json!({"name": "Tea House"})).await;
    let other = second["appid"].as_str().unwrap().to_owned();
    let mut openids = vec![(first.clone(), s.openid.clone())];
    for content in ["one", "two"] {
        assert_eq!(kefu.send_text(&s.token, &s.openid, content).await, 0);
    }
    let qr = json!({"expire_seconds": 600, "action_name": "QR_SCENE",
                    "action_info": {"scene": {"scene_id": 98765}}});
    let qr = kefu
        .cgi_post(
            &format!("/qrcode/create?access_token={}", s.token),
            qr.to_string(),
        )
        .await;
    let bob = kefu.user("Bob").await;
    let scanned = kefu
        .act_ok(&bob, json!({"type": "qr_scan", "ticket": qr["ticket"]}))
        .await;
    openids.push((first.clone(), scanned["openid"].as_str().unwrap().into()));
    kefu.advance(30).await;
    let followed = kefu
        .act_ok(&bob, json!({"appid": other, "type": "follow"}))
        .await;
    openids.push((other.clone(), followed["openid"].as_str().unwrap().into()));
    let dan = kefu.user("Dan").await;
    kefu.act_ok(&dan, json!({"appid": first, "type": "follow"}))
        .await;
    kefu.api_ok(Method::DELETE, &format!("/users/{dan}"), None)
        .await;
    kefu.user("Eve").await;
    let tokens = vec![s.token, kefu.token(&second).await];
    (openids, tokens)
}

/// What a developer and an operator can see of the followers: the users, each conversation
/// explained, `user/info` (when and how each followed) and `user/get` of each account.
async fn view(kefu: &Kefu, openids: &[(String, String)], tokens: &[String]) -> Value {
    let mut seen = vec![kefu.api_ok(Method::GET, "/users", None).await];
    for (appid, openid) in openids {
        seen.push(kefu.conversation(appid, openid).await);
        for token in tokens {
            let info = format!("/user/info?access_token={token}&openid={openid}");
            seen.push(kefu.cgi_get(&info).await);
        }
    }
    for token in tokens {
        seen.push(
            kefu.cgi_get(&format!("/user/get?access_token={token}"))
                .await,
        );
    }
    Value::Array(seen)
}

async fn start(dir: &std::path::Path) -> Kefu {
    start_in(dir, ManualClock::new(START)).await
}

#[tokio::test]
async fn a_start_from_the_snapshot_answers_as_a_start_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join(SNAPSHOT_FILE);
    let mut kefu = start(dir.path()).await;
    assert!(!kefu.from_snapshot, "a new data directory has none");
    let (openids, tokens) = followers(&kefu).await;
    assert_eq!(openids.len(), 3, "Alice, Bob twice");
    let before = view(&kefu, &openids, &tokens).await;
    assert!(before.to_string().contains("98765"), "Bob's QR scene");
    kefu.stop().await;
    drop(kefu);
    assert!(snapshot.is_file(), "written at the graceful stop");

    let mut kefu = start(dir.path()).await;
    assert!(kefu.from_snapshot);
    assert!(
        snapshot.is_file(),
        "kept while kefu runs, for a start after a crash"
    );
    assert_eq!(view(&kefu, &openids, &tokens).await, before);
    kefu.stop().await;
    drop(kefu);

    std::fs::remove_file(&snapshot).unwrap();
    let kefu = start(dir.path()).await;
    assert!(!kefu.from_snapshot);
    assert_eq!(view(&kefu, &openids, &tokens).await, before);
    // And decisions go on from where they were: Alice's message allowed five, two are spent.
    let (_, alice) = &openids[0];
    for _ in 0..3 {
        assert_eq!(kefu.send_text(&tokens[0], alice, "more").await, 0);
    }
    assert_eq!(
        kefu.send_text(&tokens[0], alice, "one too many").await,
        45047
    );
}

/// The user of `nickname`, from `/api/v1/users`.
async fn user_named(kefu: &Kefu, nickname: &str) -> String {
    let users = kefu.api_ok(Method::GET, "/users", None).await;
    let users = users["users"].as_array().unwrap();
    let user = users.iter().find(|u| u["nickname"] == nickname).unwrap();
    user["user_id"].as_str().unwrap().to_owned()
}

/// The snapshot of a graceful stop, with the store moved on since, as a crash leaves them: a
/// start takes the snapshot and loads again what the store wrote since, and answers as a start
/// that reads the whole store does.
#[tokio::test]
async fn an_older_snapshot_is_caught_up_with_what_the_store_wrote_since() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join(SNAPSHOT_FILE);
    let mut kefu = start(dir.path()).await;
    let (mut openids, tokens) = followers(&kefu).await;
    let first = openids[0].0.clone();
    let other = openids[2].0.clone();
    let gus = kefu.user("Gus").await;
    let followed = kefu
        .act_ok(&gus, json!({"appid": first, "type": "follow"}))
        .await;
    let gus_conversation = format!(
        "/accounts/{first}/conversations/{}",
        followed["openid"].as_str().unwrap()
    );
    assert_eq!(kefu.api(Method::GET, &gus_conversation, None).await.0, 200);
    // Hal follows the first account and a bakery, which is deleted after the stop.
    let bakery = kefu.account(json!({"name": "Bakery"})).await;
    let bakery = bakery["appid"].as_str().unwrap().to_owned();
    let hal = kefu.user("Hal").await;
    for appid in [&first, &bakery] {
        let followed = kefu
            .act_ok(&hal, json!({"appid": appid, "type": "follow"}))
            .await;
        if *appid == first {
            openids.push((first.clone(), followed["openid"].as_str().unwrap().into()));
        }
    }
    kefu.stop().await;
    drop(kefu);
    let old = std::fs::read(&snapshot).unwrap();

    // Every kind of change to users, conversations and follows, then a graceful stop.
    let mut kefu = start(dir.path()).await;
    assert!(kefu.from_snapshot);
    let alice = openids[0].1.clone();
    assert_eq!(kefu.send_text(&tokens[0], &alice, "three").await, 0);
    let bob = user_named(&kefu, "Bob").await;
    kefu.act_ok(&bob, json!({"appid": other, "type": "unfollow"}))
        .await;
    let eve = user_named(&kefu, "Eve").await;
    let followed = kefu
        .act_ok(&eve, json!({"appid": other, "type": "follow"}))
        .await;
    openids.push((other.clone(), followed["openid"].as_str().unwrap().into()));
    let fay = kefu.user("Fay").await;
    kefu.act_ok(&fay, json!({"appid": first, "type": "follow"}))
        .await;
    let message = json!({"appid": first, "type": "message", "msgtype": "text", "content": "hi"});
    let messaged = kefu.act_ok(&fay, message).await;
    openids.push((first.clone(), messaged["openid"].as_str().unwrap().into()));
    kefu.api_ok(Method::DELETE, &format!("/users/{gus}"), None)
        .await;
    kefu.api_ok(Method::DELETE, &format!("/accounts/{bakery}"), None)
        .await;
    let after = view(&kefu, &openids, &tokens).await;
    let hal_now = kefu
        .api_ok(Method::GET, &format!("/users/{hal}"), None)
        .await;
    assert_eq!(
        hal_now["openids"].as_object().unwrap().len(),
        1,
        "{hal_now}"
    );
    let gone = kefu.api(Method::GET, &gus_conversation, None).await;
    assert_eq!(gone.0, 404, "Gus's openid went with him");
    kefu.stop().await;
    drop(kefu);

    // The older snapshot back, as if that stop had been a crash.
    std::fs::write(&snapshot, &old).unwrap();
    let mut kefu = start(dir.path()).await;
    assert!(kefu.from_snapshot, "caught up, not set aside");
    assert_eq!(view(&kefu, &openids, &tokens).await, after);
    let hal_path = format!("/users/{hal}");
    assert_eq!(kefu.api_ok(Method::GET, &hal_path, None).await, hal_now);
    assert_eq!(kefu.api(Method::GET, &gus_conversation, None).await, gone);
    let explained = kefu.conversation(&first, &alice).await;
    assert_eq!(explained["remaining"], 2, "{explained}");
    kefu.stop().await;
    drop(kefu);

    std::fs::remove_file(&snapshot).unwrap();
    let kefu = start(dir.path()).await;
    assert!(!kefu.from_snapshot);
    assert_eq!(
        view(&kefu, &openids, &tokens).await,
        after,
        "as the store has it"
    );
    assert_eq!(kefu.api(Method::GET, &gus_conversation, None).await, gone);
}

/// A wipe (`POST /api/v1/reset`) since the snapshot: the store cannot say what changed, so the
/// snapshot is set aside and the store read.
#[tokio::test]
async fn a_snapshot_from_before_a_wipe_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join(SNAPSHOT_FILE);
    let mut kefu = start(dir.path()).await;
    followers(&kefu).await;
    kefu.stop().await;
    drop(kefu);
    let old = std::fs::read(&snapshot).unwrap();

    let mut kefu = start(dir.path()).await;
    kefu.api_ok(Method::POST, "/reset", None).await;
    let wiped = kefu.api_ok(Method::GET, "/users", None).await;
    assert_eq!(wiped["users"], json!([]), "{wiped}");
    kefu.stop().await;
    drop(kefu);

    std::fs::write(&snapshot, &old).unwrap();
    let kefu = start(dir.path()).await;
    assert!(!kefu.from_snapshot);
    assert!(!snapshot.exists(), "set aside");
    assert_eq!(kefu.api_ok(Method::GET, "/users", None).await, wiped);
}

#[tokio::test]
async fn a_damaged_snapshot_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join(SNAPSHOT_FILE);
    let mut kefu = start(dir.path()).await;
    let (openids, tokens) = followers(&kefu).await;
    let before = view(&kefu, &openids, &tokens).await;
    kefu.stop().await;
    drop(kefu);
    let mut bytes = std::fs::read(&snapshot).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&snapshot, &bytes).unwrap();

    let kefu = start(dir.path()).await;
    assert!(!kefu.from_snapshot);
    assert!(!snapshot.exists());
    assert_eq!(view(&kefu, &openids, &tokens).await, before);
}
