//! `POST /cgi-bin/message/custom/send`: the checks of WECHAT.md §4.3 in order, the decision, the
//! inbox, and linearizable decisions under concurrency.

use reqwest::Method;
use serde_json::json;

use crate::support::{scene, start};

#[tokio::test]
async fn sends_are_accepted_then_counted_then_out_of_time() {
    let kefu = start().await;
    let s = scene(&kefu).await;
    for n in 1..=5 {
        assert_eq!(
            kefu.send_text(&s.token, &s.openid, &format!("reply {n}"))
                .await,
            0
        );
    }
    let sixth = kefu
        .cgi_post(
            &format!("/message/custom/send?access_token={}", s.token),
            json!({"touser": s.openid, "msgtype": "text", "text": {"content": "6"}}).to_string(),
        )
        .await;
    assert_eq!(
        sixth,
        json!({"errcode": 45047, "errmsg": "out of response count limit"})
    );

    // A new user message opens a fresh allowance; 48 hours later it is gone.
    let appid = s.account["appid"].as_str().unwrap();
    kefu.act_ok(
        &s.user,
        json!({"appid": appid, "type": "message", "msgtype": "text", "content": "again"}),
    )
    .await;
    assert_eq!(kefu.send_text(&s.token, &s.openid, "after").await, 0);
    kefu.advance(48 * 3600 - 1).await;
    assert_eq!(kefu.send_text(&s.token, &s.openid, "last second").await, 0);
    kefu.advance(1).await;
    assert_eq!(kefu.send_text(&s.token, &s.openid, "too late").await, 45015);

    let inbox = kefu.inbox(&s.user).await;
    assert_eq!(inbox.len(), 7);
    let first = &inbox[0];
    assert_eq!(first["source"], "custom");
    assert_eq!(first["msgtype"], "text");
    assert_eq!(first["body"], json!({"content": "reply 1"}));
    assert_eq!(first["appid"], appid);
    assert_eq!(first["openid"], s.openid);
    assert_eq!(first["sent_at"], "2026-11-24T00:00:00Z");
}

#[tokio::test]
async fn an_unfollowed_user_gets_45015() {
    let kefu = start().await;
    let s = scene(&kefu).await;
    let appid = s.account["appid"].as_str().unwrap();
    kefu.act_ok(&s.user, json!({"appid": appid, "type": "unfollow"}))
        .await;
    assert_eq!(kefu.send_text(&s.token, &s.openid, "bye?").await, 45015);
}

#[tokio::test]
async fn malformed_sends_get_the_exact_errcode_and_spend_nothing() {
    let kefu = start().await;
    let s = scene(&kefu).await;
    let other = scene(&kefu).await;
    let url = |token: &str| format!("/message/custom/send?access_token={token}");
    let text = |content: &str| {
        json!({"touser": s.openid, "msgtype": "text", "text": {"content": content}}).to_string()
    };
    let cases: Vec<(String, String, i64)> = vec![
        ("/message/custom/send".into(), text("x"), 41001),
        (url("nope"), text("x"), 40001),
        (url(&s.token), "".into(), 44002),
        (url(&s.token), "  \n".into(), 44002),
        (url(&s.token), "{not json".into(), 47001),
        (url(&s.token), "[1,2]".into(), 47001),
        (
            url(&s.token),
            json!({"touser": s.openid}).to_string(),
            40008,
        ),
        (
            url(&s.token),
            json!({"touser": s.openid, "msgtype": "sticker"}).to_string(),
            40008,
        ),
        (
            url(&s.token),
            json!({"touser": s.openid, "msgtype": "link", "link": {}}).to_string(),
            40008,
        ),
        (
            url(&s.token),
            json!({"msgtype": "text", "text": {"content": "x"}}).to_string(),
            41009,
        ),
        (
            url(&s.token),
            json!({"touser": other.openid, "msgtype": "text", "text": {"content": "x"}})
                .to_string(),
            40003,
        ),
        (
            url(&s.token),
            json!({"touser": "o_unknown", "msgtype": "text", "text": {"content": "x"}}).to_string(),
            40003,
        ),
        (
            url(&s.token),
            json!({"touser": s.openid, "msgtype": "text"}).to_string(),
            47001,
        ),
        (
            url(&s.token),
            json!({"touser": s.openid, "msgtype": "text", "text": {"content": 5}}).to_string(),
            47001,
        ),
        (url(&s.token), text(""), 44004),
        (url(&s.token), text(&"长".repeat(683)), 45002),
        (
            url(&s.token),
            json!({"touser": s.openid, "msgtype": "news", "news": {"articles": []}}).to_string(),
            44003,
        ),
        (
            url(&s.token),
            json!({"touser": s.openid, "msgtype": "text", "text": {"content": "x"},
                               "customservice": {"kf_account": "test1@kftest"}})
            .to_string(),
            65401,
        ),
        (url(&s.token), "x".repeat(1 << 21), 47001),
    ];
    for (path, body, errcode) in cases {
        let answer = kefu.cgi_post(&path, body.clone()).await;
        assert_eq!(
            answer["errcode"],
            errcode,
            "{path} {}: {answer}",
            &body[..body.len().min(80)]
        );
    }
    // None of it spent quota: five sends still go through.
    for _ in 0..5 {
        assert_eq!(kefu.send_text(&s.token, &s.openid, "ok").await, 0);
    }
    assert_eq!(kefu.send_text(&s.token, &s.openid, "sixth").await, 45047);
    // Standard JSON escapes are fine (kefu never answers 40033).
    let escaped = r#"{"touser":"OPENID","msgtype":"text","text":{"content":"\u4f60\u597d"}}"#
        .replace("OPENID", &s.openid);
    let answer = kefu.cgi_post(&url(&s.token), escaped).await;
    assert_eq!(answer["errcode"], 45047);
}

#[tokio::test]
async fn every_msgtype_is_accepted_as_sent() {
    let kefu = start().await;
    let s = scene(&kefu).await;
    let appid = s.account["appid"].as_str().unwrap();
    let bodies = [
        json!({"msgtype": "image", "image": {"media_id": "MEDIA"}}),
        json!({"msgtype": "voice", "voice": {"media_id": "MEDIA"}}),
        json!({"msgtype": "video", "video": {"media_id": "M", "thumb_media_id": "T", "title": "t", "description": "d"}}),
        json!({"msgtype": "music", "music": {"title": "t", "description": "d", "musicurl": "http://m", "hqmusicurl": "http://h", "thumb_media_id": "T"}}),
        json!({"msgtype": "news", "news": {"articles": [{"title": "t", "description": "d", "url": "http://u", "picurl": "http://p"}]}}),
    ];
    for body in &bodies {
        let mut body = body.clone();
        body["touser"] = json!(s.openid);
        let answer = kefu
            .cgi_post(
                &format!("/message/custom/send?access_token={}", s.token),
                body.to_string(),
            )
            .await;
        assert_eq!(answer["errcode"], 0, "{body}: {answer}");
    }
    let inbox = kefu
        .api_ok(
            Method::GET,
            &format!("/users/{}/inbox?appid={appid}", s.user),
            None,
        )
        .await;
    let messages = inbox["messages"].as_array().unwrap();
    assert_eq!(messages.len(), bodies.len());
    for (message, sent) in messages.iter().zip(&bodies) {
        let msgtype = sent["msgtype"].as_str().unwrap();
        assert_eq!(message["msgtype"], msgtype);
        assert_eq!(message["body"], sent[msgtype]);
    }
}

#[tokio::test]
async fn sixty_four_concurrent_sends_with_five_left_accept_exactly_five() {
    let kefu = start().await;
    let s = scene(&kefu).await;
    let mut sends = tokio::task::JoinSet::new();
    for n in 0..64 {
        let client = kefu.client.clone();
        let url = format!(
            "{}/cgi-bin/message/custom/send?access_token={}",
            kefu.base, s.token
        );
        let body =
            json!({"touser": s.openid, "msgtype": "text", "text": {"content": format!("#{n}")}});
        sends.spawn(async move {
            let answer: serde_json::Value = client
                .post(url)
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            answer["errcode"].as_i64().unwrap()
        });
    }
    let mut codes = vec![];
    while let Some(code) = sends.join_next().await {
        codes.push(code.unwrap());
    }
    assert_eq!(codes.iter().filter(|c| **c == 0).count(), 5, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 45047).count(), 59);
    assert_eq!(kefu.inbox(&s.user).await.len(), 5);
}

#[tokio::test]
async fn typing_needs_a_window_and_a_recent_exchange() {
    let kefu = start().await;
    let s = scene(&kefu).await;
    let typing = |command: &str| json!({"touser": s.openid, "command": command}).to_string();
    let url = format!("/message/custom/typing?access_token={}", s.token);
    assert_eq!(kefu.cgi_post(&url, typing("Dance")).await["errcode"], 45072);
    assert_eq!(kefu.cgi_post(&url, typing("Typing")).await["errcode"], 0);
    assert_eq!(
        kefu.cgi_post(&url, typing("Typing")).await["errcode"],
        45081
    );
    assert_eq!(
        kefu.cgi_post(&url, typing("CancelTyping")).await["errcode"],
        0
    );
    kefu.advance(31).await;
    assert_eq!(
        kefu.cgi_post(&url, typing("Typing")).await["errcode"],
        45080
    );
    assert_eq!(
        kefu.cgi_post(&url, json!({"command": "Typing"}).to_string())
            .await["errcode"],
        41009
    );
}
