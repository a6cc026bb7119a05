//! Pushes as WeChat sends them: URL verification, every pushed action's XML and query, the
//! encrypted modes and their passive replies, replay (shared/WECHAT.md §6, API.md).

use std::collections::{HashMap, HashSet};

use kefu_wechat::{
    AesKey, PassiveReply, ReplyBody, encrypt, encrypted_reply_xml, msg_signature,
    verify_and_decrypt, verify_signature,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::receiver::{Answer, Hit, Receiver, deliveries, field};
use crate::support::{Kefu, START, start};

const TOKEN: &str = "tok123";
const AES: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

async fn account_at(kefu: &Kefu, url: &str, mode: &str) -> Value {
    kefu.account(json!({
        "name": "Webhook Shop", "webhook_url": url, "token": TOKEN,
        "encoding_aes_key": AES, "encrypt_mode": mode
    }))
    .await
}

#[tokio::test]
async fn url_verification_gates_the_webhook() {
    let kefu = start().await;
    let good = Receiver::success().await;
    let account = account_at(&kefu, &good.url, "plain").await;
    assert_eq!(
        good.gets(),
        1,
        "creating with a webhook_url verifies it once"
    );
    let appid = account["appid"].as_str().unwrap();
    let log = deliveries(
        &kefu
            .api_ok(Method::GET, &format!("/accounts/{appid}/deliveries"), None)
            .await,
    );
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["kind"], "url_verification");
    assert_eq!(log[0]["status"], "delivered");
    let query = log[0]["query"].as_str().unwrap();
    let pairs: HashMap<_, _> = query.split('&').filter_map(|p| p.split_once('=')).collect();
    assert!(verify_signature(
        TOKEN,
        pairs["timestamp"],
        pairs["nonce"],
        pairs["signature"]
    ));
    assert_eq!(pairs["timestamp"], START.to_string(), "the wall clock");
    assert!(pairs.contains_key("echostr"));

    // An unreachable webhook: refused, saying what came back, and nothing changes.
    let before = kefu.api_ok(Method::GET, "/accounts", None).await;
    let closed = "http://127.0.0.1:9/wechat";
    let (status, refused) = kefu
        .api(
            Method::POST,
            "/accounts",
            Some(json!({"name": "Bad", "webhook_url": closed, "token": TOKEN})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["error"]["code"], "webhook_verification_failed");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("connection failed"),
        "{refused}"
    );
    let after = kefu.api_ok(Method::GET, "/accounts", None).await;
    assert_eq!(after, before);

    // verify_webhook: false skips the GET.
    let skipped = kefu
        .account(
            json!({"name": "Skip", "webhook_url": closed, "token": TOKEN, "verify_webhook": false}),
        )
        .await;
    assert_eq!(skipped["webhook_url"], closed);

    // PATCH: changing the URL verifies it; a refused change leaves the account as it was.
    let (status, refused) = kefu
        .api(
            Method::PATCH,
            &format!("/accounts/{appid}"),
            Some(json!({"webhook_url": closed})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let same = kefu
        .api_ok(Method::GET, &format!("/accounts/{appid}"), None)
        .await;
    assert_eq!(same["webhook_url"], good.url.as_str());
    kefu.api_ok(
        Method::PATCH,
        &format!("/accounts/{appid}"),
        Some(json!({"name": "Renamed"})),
    )
    .await;
    assert_eq!(
        good.gets(),
        1,
        "a change that keeps the URL does not verify"
    );
}

#[tokio::test]
async fn a_webhook_that_does_not_echo_is_refused() {
    let kefu = start().await;
    // A webhook that answers every GET with the same text, not the echostr.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/wechat", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let app = axum::Router::new().fallback(|| async { "not the echostr" });
        axum::serve(listener, app).await
    });
    let (status, refused) = kefu
        .api(
            Method::POST,
            "/accounts",
            Some(json!({"name": "Bad", "webhook_url": url, "token": TOKEN})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["error"]["code"], "webhook_verification_failed");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("not the echostr"), "{message}");
    let listed = kefu.api_ok(Method::GET, "/accounts", None).await;
    assert!(listed["accounts"].as_array().unwrap().is_empty());
}

/// The query of a push, checked as a receiver checks it; returns it as a map.
fn checked_query(hit: &Hit, openid: &str, encrypted: bool) -> HashMap<String, String> {
    let q = hit.query.clone();
    assert!(verify_signature(
        TOKEN,
        &q["timestamp"],
        &q["nonce"],
        &q["signature"]
    ));
    assert_eq!(
        q["timestamp"],
        START.to_string(),
        "the wall clock at the attempt"
    );
    let nonce = &q["nonce"];
    assert!((9..=10).contains(&nonce.len()) && nonce.chars().all(|c| c.is_ascii_digit()));
    assert_eq!(q["openid"], openid);
    if encrypted {
        assert_eq!(q["encrypt_type"], "aes");
        let sealed = field(&hit.body, "Encrypt").unwrap();
        assert!(kefu_wechat::verify_msg_signature(
            TOKEN,
            &q["timestamp"],
            nonce,
            &sealed,
            &q["msg_signature"]
        ));
    } else {
        assert!(!q.contains_key("encrypt_type") && !q.contains_key("msg_signature"));
    }
    q
}

#[tokio::test]
async fn every_pushed_action_arrives_as_wechat_sends_it() {
    let kefu = start().await;
    let hook = Receiver::success().await;
    let account = account_at(&kefu, &hook.url, "plain").await;
    let appid = account["appid"].as_str().unwrap();
    let original_id = account["original_id"].as_str().unwrap();
    // The rule clock moves; the wall clock (the query's timestamp) does not.
    kefu.advance(100).await;
    let user = kefu.user("Alice").await;
    let follow = kefu
        .act_ok(&user, json!({"appid": appid, "type": "follow"}))
        .await;
    assert_eq!(
        follow["pushed"],
        json!({"status": "delivered", "msg_id": null, "attempts": 1, "http_status": 200})
    );
    assert_eq!(follow["passive_reply"], Value::Null);
    let openid = follow["openid"].as_str().unwrap();
    let messages = [
        json!({"msgtype": "text", "content": "你好 <&>"}),
        json!({"msgtype": "image", "pic_url": "http://img.example/1.jpg", "media_id": "m1"}),
        json!({"msgtype": "voice", "media_id": "v1", "format": "speex", "recognition": "你好"}),
        json!({"msgtype": "video", "media_id": "v2", "thumb_media_id": "t2"}),
        json!({"msgtype": "shortvideo", "media_id": "v3", "thumb_media_id": "t3"}),
        json!({"msgtype": "location", "location_x": 23.134521, "location_y": 113.358803,
               "scale": 20, "label": "广州"}),
        json!({"msgtype": "link", "title": "T", "description": "D", "url": "http://x.example"}),
    ];
    let mut msg_ids = vec![];
    for message in &messages {
        let mut body = message.clone();
        body["appid"] = appid.into();
        body["type"] = "message".into();
        let answer = kefu.act_ok(&user, body).await;
        assert_eq!(answer["pushed"]["status"], "delivered", "{answer}");
        let msg_id: i64 = answer["pushed"]["msg_id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(msg_id > 0);
        msg_ids.push(msg_id);
    }
    assert_eq!(msg_ids.iter().collect::<HashSet<_>>().len(), msg_ids.len());
    let paid = kefu
        .act_ok(
            &user,
            json!({"appid": appid, "type": "payment", "amount_fen": 100}),
        )
        .await;
    assert_eq!(paid["pushed"]["status"], "not_pushed");
    kefu.act_ok(&user, json!({"appid": appid, "type": "unfollow"}))
        .await;

    let posts = hook.posts();
    assert_eq!(posts.len(), 1 + messages.len() + 1, "payment is not pushed");
    for hit in &posts {
        checked_query(hit, openid, false);
        assert_eq!(field(&hit.body, "ToUserName").unwrap(), original_id);
        assert_eq!(field(&hit.body, "FromUserName").unwrap(), openid);
        assert_eq!(
            field(&hit.body, "CreateTime").unwrap(),
            (START + 100).to_string()
        );
    }
    let event = |hit: &Hit| (field(&hit.body, "MsgType"), field(&hit.body, "Event"));
    assert_eq!(
        event(&posts[0]),
        (Some("event".into()), Some("subscribe".into()))
    );
    assert_eq!(
        field(&posts[0].body, "MsgId"),
        None,
        "events carry no MsgId"
    );
    assert_eq!(
        event(&posts[8]),
        (Some("event".into()), Some("unsubscribe".into()))
    );
    for (hit, (message, msg_id)) in posts[1..8].iter().zip(messages.iter().zip(&msg_ids)) {
        assert_eq!(field(&hit.body, "MsgType").unwrap(), message["msgtype"]);
        assert_eq!(field(&hit.body, "MsgId").unwrap(), msg_id.to_string());
    }
    assert_eq!(field(&posts[1].body, "Content").unwrap(), "你好 <&>");
    assert_eq!(
        field(&posts[2].body, "PicUrl").unwrap(),
        "http://img.example/1.jpg"
    );
    assert_eq!(field(&posts[3].body, "Recognition").unwrap(), "你好");
    assert_eq!(field(&posts[4].body, "ThumbMediaId").unwrap(), "t2");
    assert_eq!(field(&posts[6].body, "Location_X").unwrap(), "23.134521");
    assert_eq!(field(&posts[6].body, "Label").unwrap(), "广州");
    assert_eq!(field(&posts[7].body, "Url").unwrap(), "http://x.example");

    // The log: newest first, every attempt recorded, bodies as sent.
    let path = format!("/accounts/{appid}/deliveries");
    let log = deliveries(&kefu.api_ok(Method::GET, &path, None).await);
    assert_eq!(
        log.len(),
        posts.len() + 1,
        "the pushes and the URL verification"
    );
    assert_eq!(log[0]["event"], "unsubscribe");
    assert_eq!(log.last().unwrap()["kind"], "url_verification");
    for (entry, hit) in log.iter().zip(posts.iter().rev()) {
        assert_eq!(entry["kind"], "push");
        assert_eq!(entry["status"], "delivered");
        assert_eq!(entry["body"], hit.body.as_str());
        assert_eq!(entry["url"], hook.url.as_str());
        assert_eq!(entry["openid"], openid);
        assert_eq!(entry["created_at"], "2026-11-24T00:01:40Z");
        let attempts = entry["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0]["n"], 1);
        assert_eq!(attempts[0]["http_status"], 200);
        assert_eq!(attempts[0]["error"], Value::Null);
        let query = entry["query"].as_str().unwrap();
        assert!(
            query.contains(&format!("nonce={}", hit.query["nonce"])),
            "{query}"
        );
    }
    assert_eq!(log[1]["msg_id"], msg_ids[6].to_string());
    let page = deliveries(
        &kefu
            .api_ok(Method::GET, &format!("{path}?limit=2"), None)
            .await,
    );
    assert_eq!(page, log[..2]);
    let before = log[1]["id"].as_str().unwrap();
    let next = deliveries(
        &kefu
            .api_ok(
                Method::GET,
                &format!("{path}?limit=2&before={before}"),
                None,
            )
            .await,
    );
    assert_eq!(next, log[2..4]);
}

/// A webhook that decrypts what it gets and answers a sealed reply, or a plain one when the
/// user wrote "plain please".
fn sealing_webhook(appid: String) -> impl Fn(usize, &Hit) -> Answer + Send + Sync + 'static {
    let key = AesKey::from_encoding_aes_key(AES).unwrap();
    move |_, hit| {
        let q = &hit.query;
        let Some(sealed) = field(&hit.body, "Encrypt") else {
            return Answer::Status(200, "success".into());
        };
        let get = |k: &str| q.get(k).cloned().unwrap_or_default();
        let opened = verify_and_decrypt(
            &key,
            TOKEN,
            &get("timestamp"),
            &get("nonce"),
            &get("msg_signature"),
            &sealed,
            &appid,
        );
        let Ok(xml) = opened else {
            return Answer::Status(200, "success".into());
        };
        let xml = String::from_utf8(xml).unwrap();
        let content = field(&xml, "Content").unwrap_or_default();
        let reply = PassiveReply {
            to_user: field(&xml, "FromUserName").unwrap(),
            from_user: field(&xml, "ToUserName").unwrap(),
            create_time: 1_700_000_000,
            msgtype: "text".into(),
            body: ReplyBody::Text {
                content: format!("sealed: {content}"),
            },
        }
        .to_xml();
        if content == "plain please" {
            return Answer::Status(200, reply);
        }
        let sealed = encrypt(&key, b"0123456789abcdef", reply.as_bytes(), &appid);
        let sig = msg_signature(TOKEN, "1700000000", "123456789", &sealed);
        Answer::Status(
            200,
            encrypted_reply_xml(&sealed, &sig, 1_700_000_000, "123456789"),
        )
    }
}

#[tokio::test]
async fn encrypted_modes_seal_the_push_and_take_sealed_replies() {
    let kefu = start().await;
    for mode in ["compat", "safe"] {
        let hook = Receiver::success().await;
        let account = account_at(&kefu, &hook.url, mode).await;
        let appid = account["appid"].as_str().unwrap().to_owned();
        hook.script(sealing_webhook(appid.clone()));
        let user = kefu.user("Bob").await;
        let follow = kefu
            .act_ok(&user, json!({"appid": appid, "type": "follow"}))
            .await;
        assert_eq!(follow["passive_reply"]["content"], "sealed: ", "{mode}");
        let openid = follow["openid"].as_str().unwrap().to_owned();
        let said = |content: &str| json!({"appid": appid, "type": "message", "msgtype": "text", "content": content});
        let sealed = kefu.act_ok(&user, said("hi")).await;
        assert_eq!(sealed["pushed"]["status"], "delivered", "{mode}: {sealed}");
        assert_eq!(
            sealed["passive_reply"],
            json!({"msgtype": "text", "content": "sealed: hi"})
        );
        let plain = kefu.act_ok(&user, said("plain please")).await;

        let posts = hook.posts();
        for hit in &posts {
            checked_query(hit, &openid, true);
            assert_eq!(
                field(&hit.body, "ToUserName").unwrap(),
                account["original_id"]
            );
            // compat keeps the plaintext fields beside the ciphertext; safe sends only those two.
            let plaintext = field(&hit.body, "FromUserName");
            assert_eq!(
                plaintext.is_some(),
                mode == "compat",
                "{mode}: {}",
                hit.body
            );
        }
        let inbox = kefu.inbox(&user).await;
        let replies: Vec<&Value> = inbox
            .iter()
            .filter(|m| m["source"] == "passive_reply")
            .map(|m| &m["body"]["content"])
            .collect();
        let notices = inbox.iter().filter(|m| m["source"] == "system").count();
        if mode == "compat" {
            // A plain reply is fine in compatible mode.
            assert_eq!(plain["pushed"]["status"], "delivered");
            assert_eq!(replies, ["sealed: ", "sealed: hi", "sealed: plain please"]);
            assert_eq!(notices, 0);
        } else {
            // Safe mode takes only sealed replies: the user sees WeChat's notice.
            assert_eq!(plain["pushed"]["status"], "invalid_reply", "{plain}");
            assert_eq!(plain["passive_reply"], Value::Null);
            assert_eq!(replies, ["sealed: ", "sealed: hi"]);
            assert_eq!(notices, 1);
        }
    }
}

#[tokio::test]
async fn replay_sends_the_same_body_with_a_fresh_signature() {
    let kefu = start().await;
    let hook = Receiver::success().await;
    let account = account_at(&kefu, &hook.url, "safe").await;
    let appid = account["appid"].as_str().unwrap();
    let user = kefu.user("Carol").await;
    kefu.act_ok(&user, json!({"appid": appid, "type": "follow"}))
        .await;
    let sent = kefu
        .act_ok(
            &user,
            json!({"appid": appid, "type": "message", "msgtype": "text", "content": "again"}),
        )
        .await;
    let path = format!("/accounts/{appid}/deliveries");
    let original = deliveries(&kefu.api_ok(Method::GET, &path, None).await)[0].clone();
    let id = original["id"].as_str().unwrap();
    let inbox_before = kefu.inbox(&user).await;
    let replayed = kefu
        .api_ok(Method::POST, &format!("{path}/{id}/replay"), None)
        .await;
    assert_eq!(replayed["replay_of"], id);
    assert_eq!(replayed["pushed"]["status"], "delivered");
    assert_eq!(replayed["pushed"]["msg_id"], sent["pushed"]["msg_id"]);
    let posts = hook.posts();
    let (first, again) = (&posts[posts.len() - 2], &posts[posts.len() - 1]);
    assert_eq!(first.body, again.body, "the same body, ciphertext and all");
    assert_ne!(first.query["nonce"], again.query["nonce"]);
    checked_query(again, first.query["openid"].as_str(), true);
    let log = deliveries(&kefu.api_ok(Method::GET, &path, None).await);
    assert_eq!(log[0]["kind"], "replay");
    assert_eq!(log[0]["id"], replayed["id"]);
    assert_eq!(log[0]["replay_of"], id);
    assert_eq!(log[0]["body"], original["body"]);
    assert_eq!(
        kefu.inbox(&user).await,
        inbox_before,
        "a replay reaches no inbox"
    );

    let (status, missing) = kefu
        .api(Method::POST, &format!("{path}/999999/replay"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["error"]["code"], "delivery_not_found");
}
