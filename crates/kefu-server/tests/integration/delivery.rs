//! Delivery semantics: retries, failures and WeChat's notice, timeouts, a stuck webhook that
//! blocks nothing else, a full outbox, and an outbox that survives a restart.

use std::time::Duration;

use kefu_server::PushConfig;
use kefu_server::clock::ManualClock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::receiver::{Answer, Receiver, deliveries, eventually, field};
use crate::support::{Kefu, START, scene, start, start_with};

const NOTICE: &str = "该公众号暂时无法提供服务，请稍后再试";

/// A kefu with the given delivery settings on a fresh data directory.
async fn start_pushing(push: PushConfig) -> (Kefu, tempfile::TempDir) {
    let temp = tempfile::tempdir().unwrap();
    let kefu = start_with(temp.path(), ManualClock::new(START), push).await;
    (kefu, temp)
}

/// An account on `url` (not verified) and a follower, whose follow is pushed without waiting;
/// returns (appid, user_id).
async fn follower_of(kefu: &Kefu, url: &str) -> (String, String) {
    let account = kefu
        .account(
            json!({"name": "Shop", "webhook_url": url, "token": "tok123",
                        "verify_webhook": false}),
        )
        .await;
    let appid = account["appid"].as_str().unwrap().to_owned();
    let user = kefu.user("Dan").await;
    let path = format!("/users/{user}/actions?wait=false");
    kefu.api_ok(
        Method::POST,
        &path,
        Some(json!({"appid": appid, "type": "follow"})),
    )
    .await;
    (appid, user)
}

fn text(appid: &str, content: &str) -> Value {
    json!({"appid": appid, "type": "message", "msgtype": "text", "content": content})
}

/// The newest delivery of `appid` once it has ended.
async fn ended(kefu: &Kefu, appid: &str) -> Value {
    let path = format!("/accounts/{appid}/deliveries?limit=1");
    eventually("the delivery to end", async || {
        let newest = deliveries(&kefu.api_ok(Method::GET, &path, None).await)
            .first()
            .cloned()?;
        let status = newest["status"].as_str()?;
        (status != "queued" && status != "retrying").then_some(newest)
    })
    .await
}

fn notices(inbox: &[Value]) -> usize {
    inbox
        .iter()
        .filter(|m| m["source"] == "system" && m["body"]["content"] == NOTICE)
        .count()
}

#[tokio::test]
async fn two_failures_then_success_is_three_attempts_and_no_notice() {
    let kefu = start().await;
    let hook = Receiver::success().await;
    let (appid, user) = follower_of(&kefu, &hook.url).await;
    ended(&kefu, &appid).await;
    let before = hook.posts().len();
    hook.script(move |n, _| {
        if n <= before + 2 {
            Answer::Status(500, "oops".into())
        } else {
            Answer::Status(200, "success".into())
        }
    });
    let answer = kefu.act_ok(&user, text(&appid, "hi")).await;
    // The call returns after the first attempt, which failed.
    assert_eq!(answer["pushed"]["status"], "retrying", "{answer}");
    assert_eq!(answer["pushed"]["attempts"], 1);
    assert_eq!(answer["pushed"]["http_status"], 500);
    let delivery = ended(&kefu, &appid).await;
    assert_eq!(delivery["status"], "delivered");
    let attempts = delivery["attempts"].as_array().unwrap();
    let statuses: Vec<&Value> = attempts.iter().map(|a| &a["http_status"]).collect();
    assert_eq!(statuses, [500, 500, 200]);
    assert_eq!(attempts[0]["error"], "HTTP 500");
    let posts = &hook.posts()[before..];
    assert_eq!(posts.len(), 3);
    let msg_id = answer["pushed"]["msg_id"].as_str().unwrap();
    for hit in posts {
        assert_eq!(field(&hit.body, "MsgId").unwrap(), msg_id);
        assert_eq!(hit.body, posts[0].body);
    }
    assert_eq!(notices(&kefu.inbox(&user).await), 0);
}

#[tokio::test]
async fn a_webhook_that_always_fails_gets_three_attempts_and_the_user_one_notice() {
    let kefu = start().await;
    let hook = Receiver::success().await;
    let (appid, user) = follower_of(&kefu, &hook.url).await;
    ended(&kefu, &appid).await;
    hook.script(|_, _| Answer::Status(500, "down".into()));
    let before = hook.posts().len();
    let follow_notices = notices(&kefu.inbox(&user).await);
    kefu.act_ok(&user, text(&appid, "anyone?")).await;
    let delivery = ended(&kefu, &appid).await;
    assert_eq!(delivery["status"], "failed");
    assert_eq!(delivery["attempts"].as_array().unwrap().len(), 3);
    assert_eq!(hook.posts().len() - before, 3);
    let inbox = kefu.inbox(&user).await;
    assert_eq!(notices(&inbox), follow_notices + 1);
    let notice = inbox.last().unwrap();
    assert_eq!(notice["msgtype"], "text");
    assert_eq!(notice["appid"], appid.as_str());
}

#[tokio::test]
async fn an_invalid_reply_is_not_retried() {
    let kefu = start().await;
    let hook = Receiver::success().await;
    let (appid, user) = follower_of(&kefu, &hook.url).await;
    ended(&kefu, &appid).await;
    hook.script(|_, _| Answer::Status(200, "{\"json\": \"is no reply\"}".into()));
    let answer = kefu.act_ok(&user, text(&appid, "hi")).await;
    assert_eq!(answer["pushed"]["status"], "invalid_reply");
    assert_eq!(answer["pushed"]["attempts"], 1);
    let delivery = ended(&kefu, &appid).await;
    assert_eq!(delivery["attempts"].as_array().unwrap().len(), 1);
    // A well-formed reply addressed to someone else is invalid too.
    hook.script(|_, hit| {
        let reply = format!(
            "<xml><ToUserName><![CDATA[someone]]></ToUserName><FromUserName><![CDATA[{}]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[x]]></Content></xml>",
            field(&hit.body, "ToUserName").unwrap()
        );
        Answer::Status(200, reply)
    });
    let answer = kefu.act_ok(&user, text(&appid, "hi")).await;
    assert_eq!(answer["pushed"]["status"], "invalid_reply");
    assert_eq!(notices(&kefu.inbox(&user).await), 2);
}

#[tokio::test]
async fn an_answer_later_than_the_timeout_is_a_failed_attempt() {
    let push = PushConfig {
        timeout: Duration::from_millis(200),
        ..PushConfig::default()
    };
    let (kefu, _dir) = start_pushing(push).await;
    let hook =
        Receiver::start(|_, _| Answer::Late(Duration::from_secs(3), 200, "success".into())).await;
    let (appid, user) = follower_of(&kefu, &hook.url).await;
    let delivery = ended(&kefu, &appid).await;
    assert_eq!(delivery["status"], "failed");
    let attempts = delivery["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3);
    for attempt in attempts {
        assert_eq!(attempt["http_status"], Value::Null);
        let error = attempt["error"].as_str().unwrap();
        assert!(
            error.contains("no complete answer within 200 ms"),
            "{error}"
        );
    }
    assert_eq!(notices(&kefu.inbox(&user).await), 1);
}

#[tokio::test]
async fn a_stuck_webhook_blocks_nothing_else() {
    let push = PushConfig {
        timeout: Duration::from_secs(60),
        ..PushConfig::default()
    };
    let (kefu, _dir) = start_pushing(push).await;
    let stuck = Receiver::start(|_, _| Answer::Hang).await;
    let (stuck_appid, stuck_user) = follower_of(&kefu, &stuck.url).await;
    // wait=false answers at once, before the stuck push's first attempt times out.
    let path = format!("/users/{stuck_user}/actions?wait=false");
    let (status, queued) = kefu
        .api(Method::POST, &path, Some(text(&stuck_appid, "hello?")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(queued["pushed"]["status"], "queued");
    assert!(queued["pushed"]["msg_id"].as_str().is_some());
    eventually("the stuck webhook to be called", async || {
        (!stuck.posts().is_empty()).then_some(())
    })
    .await;

    // Another account, its pushes and its sends complete while the first is stuck.
    let fine = Receiver::success().await;
    let mut other = scene(&kefu).await;
    let other_appid = other.account["appid"].as_str().unwrap().to_owned();
    kefu.api_ok(
        Method::PATCH,
        &format!("/accounts/{other_appid}"),
        Some(json!({"webhook_url": fine.url, "token": "tok123"})),
    )
    .await;
    let answer = kefu.act_ok(&other.user, text(&other_appid, "hi")).await;
    assert_eq!(answer["pushed"]["status"], "delivered");
    other.token = kefu.token(&other.account).await;
    assert_eq!(
        kefu.send_text(&other.token, &other.openid, "reply").await,
        0
    );
    // The stuck account's own developer API answers too.
    let stuck_account = kefu
        .api_ok(Method::GET, &format!("/accounts/{stuck_appid}"), None)
        .await;
    let token = kefu.token(&stuck_account).await;
    let openid = queued["openid"].as_str().unwrap();
    assert_eq!(kefu.send_text(&token, openid, "we are here").await, 0);
    let log = deliveries(
        &kefu
            .api_ok(
                Method::GET,
                &format!("/accounts/{stuck_appid}/deliveries"),
                None,
            )
            .await,
    );
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|d| d["status"] == "queued"), "{log:?}");
}

#[tokio::test]
async fn a_full_outbox_refuses_the_action_and_changes_nothing() {
    let push = PushConfig {
        timeout: Duration::from_secs(60),
        capacity: 1,
        ..PushConfig::default()
    };
    let (kefu, _dir) = start_pushing(push).await;
    let stuck = Receiver::start(|_, _| Answer::Hang).await;
    let account = kefu
        .account(
            json!({"name": "Full", "webhook_url": stuck.url, "token": "tok123",
                        "verify_webhook": false}),
        )
        .await;
    let appid = account["appid"].as_str().unwrap();
    let user = kefu.user("Eve").await;
    let path = format!("/users/{user}/actions?wait=false");
    let (status, first) = kefu
        .api(
            Method::POST,
            &path,
            Some(json!({"appid": appid, "type": "follow"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let openid = first["openid"].as_str().unwrap();
    let conversation = format!("/accounts/{appid}/conversations/{openid}");
    let before = kefu.api_ok(Method::GET, &conversation, None).await;
    let (status, refused) = kefu
        .api(Method::POST, &path, Some(text(appid, "one more")))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused["error"]["code"], "push_queue_full");
    assert_eq!(kefu.api_ok(Method::GET, &conversation, None).await, before);
    let log = kefu
        .api_ok(Method::GET, &format!("/accounts/{appid}/deliveries"), None)
        .await;
    assert_eq!(deliveries(&log).len(), 1);
}

#[tokio::test]
async fn queued_pushes_are_delivered_after_a_restart() {
    let push = PushConfig {
        timeout: Duration::from_secs(60),
        ..PushConfig::default()
    };
    let (kefu, dir) = start_pushing(push.clone()).await;
    let hook = Receiver::start(|_, _| Answer::Hang).await;
    let account = kefu
        .account(
            json!({"name": "Restart", "webhook_url": hook.url, "token": "tok123",
                        "verify_webhook": false}),
        )
        .await;
    let appid = account["appid"].as_str().unwrap();
    let user = kefu.user("Fay").await;
    let path = format!("/users/{user}/actions?wait=false");
    kefu.api_ok(
        Method::POST,
        &path,
        Some(json!({"appid": appid, "type": "follow"})),
    )
    .await;
    let sent = kefu
        .api_ok(Method::POST, &path, Some(text(appid, "still there?")))
        .await;
    let msg_id = sent["pushed"]["msg_id"].as_str().unwrap().to_owned();
    eventually("both pushes to be in flight", async || {
        (hook.posts().len() == 2).then_some(())
    })
    .await;

    let mut kefu = kefu;
    kefu.stop().await;
    let wall = kefu.wall.clone();
    // The App holds the store, and the store its directory's lock.
    drop(kefu);
    hook.script(|_, _| Answer::Status(200, "success".into()));
    let kefu = start_with(dir.path(), wall, push).await;
    let log_path = format!("/accounts/{appid}/deliveries");
    let log = eventually("the resumed pushes to be delivered", async || {
        let log = deliveries(&kefu.api_ok(Method::GET, &log_path, None).await);
        log.iter()
            .all(|d| d["status"] == "delivered")
            .then_some(log)
    })
    .await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["msg_id"], msg_id.as_str());
    let resent: Vec<_> = hook
        .posts()
        .into_iter()
        .filter(|h| field(&h.body, "MsgId").as_deref() == Some(&msg_id))
        .collect();
    assert!(resent.len() >= 2, "sent before and after the restart");
    assert!(resent.iter().all(|h| h.body == resent[0].body));
}
