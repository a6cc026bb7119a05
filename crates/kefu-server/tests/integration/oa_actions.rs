//! `menu_click` and `qr_scan` (API.md, RULES.md §1): which buttons grant, what a scan does to a
//! follower and to anyone else, expired tickets, and what `user/info` says afterwards.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Kefu, START, scene, start};

const MENU: &str = r#"{"button":[
  {"type":"click","name":"Today","key":"TODAY"},
  {"name":"More","sub_button":[
    {"type":"view","name":"Site","url":"https://example.com/"},
    {"type":"miniprogram","name":"App","url":"https://example.com/","appid":"wxapp","pagepath":"pages/index"},
    {"type":"scancode_waitmsg","name":"Scan","key":"SCAN"},
    {"type":"media_id","name":"Poster","media_id":"MEDIA"}]},
  {"name":"Pics","sub_button":[
    {"type":"pic_weixin","name":"Album","key":"PIC"},
    {"type":"location_select","name":"Where","key":"LOC"},
    {"type":"article_id","name":"Story","article_id":"ART"}]}]}"#;

async fn with_menu(kefu: &Kefu) -> crate::support::Scene {
    let s = scene(kefu).await;
    let created = kefu
        .cgi_post(&format!("/menu/create?access_token={}", s.token), MENU)
        .await;
    assert_eq!(created["errcode"], 0, "{created}");
    s
}

#[tokio::test]
async fn click_and_scancode_buttons_grant_the_others_do_not() {
    let kefu = start().await;
    let s = with_menu(&kefu).await;
    let appid = s.account["appid"].as_str().unwrap();
    // Let the message's 48-hour window lapse so only menu grants count.
    kefu.advance(48 * 3600).await;
    let click = |key: &str| json!({"appid": appid, "type": "menu_click", "key": key});

    for (key, event, status) in [
        ("https://example.com/", "VIEW", "no_webhook"),
        ("pages/index", "view_miniprogram", "no_webhook"),
        ("PIC", "pic_weixin", "no_webhook"),
        ("LOC", "location_select", "no_webhook"),
    ] {
        let answer = kefu.act_ok(&s.user, click(key)).await;
        assert_eq!(answer["trigger"], Value::Null, "{key}: {answer}");
        assert_eq!(answer["event"], event);
        assert_eq!(answer["pushed"]["status"], status);
        assert_eq!(answer["allowance"]["remaining"], 0);
    }
    for key in ["MEDIA", "ART"] {
        // media_id and article buttons push nothing and grant nothing.
        let answer = kefu.act_ok(&s.user, click(key)).await;
        assert_eq!(answer["trigger"], Value::Null, "{key}: {answer}");
        assert_eq!(answer["event"], Value::Null);
        assert_eq!(answer["pushed"]["status"], "not_pushed");
    }
    assert_eq!(
        kefu.send_text(&s.token, &s.openid, "nothing granted").await,
        45015
    );

    let answer = kefu.act_ok(&s.user, click("TODAY")).await;
    assert_eq!(answer["trigger"], "menu_click");
    assert_eq!(answer["event"], "CLICK");
    assert_eq!(answer["pushed"]["status"], "no_webhook");
    assert_eq!(answer["allowance"]["remaining"], 3);
    let deadline = START + 48 * 3600 + 60;
    assert_eq!(answer["allowance"]["expires_at"], "2026-11-26T00:01:00Z");
    assert_eq!(deadline, START + 2 * 86_400 + 60);
    let explained = kefu.conversation(appid, &s.openid).await;
    assert_eq!(explained["grants"][0]["trigger"], "menu_click");
    for _ in 0..3 {
        assert_eq!(kefu.send_text(&s.token, &s.openid, "reply").await, 0);
    }
    assert_eq!(kefu.send_text(&s.token, &s.openid, "fourth").await, 45047);

    let scan = kefu
        .act_ok(
            &s.user,
            json!({"appid": appid, "type": "menu_click", "key": "SCAN", "scan_result": "hello"}),
        )
        .await;
    assert_eq!(scan["trigger"], "menu_click");
    assert_eq!(scan["event"], "scancode_waitmsg");
    assert_eq!(scan["allowance"]["remaining"], 3);
}

#[tokio::test]
async fn menu_click_refusals_change_nothing() {
    let kefu = start().await;
    let s = with_menu(&kefu).await;
    let appid = s.account["appid"].as_str().unwrap();
    let before = kefu.conversation(appid, &s.openid).await;
    let stranger = kefu.user("Stranger").await;
    for (user, body, status, code) in [
        (
            &s.user,
            json!({"appid": appid, "type": "menu_click", "key": "NOPE"}),
            422,
            "unknown_menu_button",
        ),
        (
            &s.user,
            json!({"appid": appid, "type": "menu_click"}),
            422,
            "invalid_action",
        ),
        (
            &s.user,
            json!({"type": "menu_click", "key": "TODAY"}),
            422,
            "invalid_action",
        ),
        (
            &s.user,
            json!({"appid": appid, "type": "menu_click", "key": "TODAY", "scan_result": "x"}),
            422,
            "invalid_action",
        ),
        (
            &stranger,
            json!({"appid": appid, "type": "menu_click", "key": "TODAY"}),
            409,
            "not_following",
        ),
        (
            &s.user,
            json!({"appid": "wx0000000000000000", "type": "menu_click", "key": "TODAY"}),
            404,
            "account_not_found",
        ),
        (
            &"u_nobody".to_owned(),
            json!({"appid": appid, "type": "menu_click", "key": "TODAY"}),
            404,
            "user_not_found",
        ),
    ] {
        let (got, answer) = kefu.act(user, body.clone()).await;
        assert_eq!(got.as_u16(), status, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{body}");
    }
    assert_eq!(kefu.conversation(appid, &s.openid).await, before);

    // An account without a menu has no buttons to tap.
    let bare = scene(&kefu).await;
    let bare_appid = bare.account["appid"].as_str().unwrap();
    let (status, answer) = kefu
        .act(
            &bare.user,
            json!({"appid": bare_appid, "type": "menu_click", "key": "TODAY"}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(answer["error"]["code"], "unknown_menu_button");
}

async fn create_qr(kefu: &Kefu, token: &str, body: Value) -> String {
    let created = kefu
        .cgi_post(
            &format!("/qrcode/create?access_token={token}"),
            body.to_string(),
        )
        .await;
    created["ticket"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_scan_follows_a_stranger_with_one_trigger_and_pushes_scan_to_a_follower() {
    let kefu = start().await;
    let s = scene(&kefu).await;
    let appid = s.account["appid"].as_str().unwrap();
    let ticket = create_qr(
        &kefu,
        &s.token,
        json!({"expire_seconds": 600, "action_name": "QR_SCENE",
               "action_info": {"scene": {"scene_id": 98765}}}),
    )
    .await;

    let bob = kefu.user("Bob").await;
    let first = kefu
        .act_ok(&bob, json!({"type": "qr_scan", "ticket": ticket}))
        .await;
    assert_eq!(first["trigger"], "qr_scan");
    assert_eq!(first["event"], "subscribe");
    assert_eq!(first["pushed"]["status"], "no_webhook");
    assert_eq!(first["allowance"]["remaining"], 3);
    let openid = first["openid"].as_str().unwrap().to_owned();
    let explained = kefu.conversation(appid, &openid).await;
    assert_eq!(explained["following"], true);
    let grants = explained["grants"].as_array().unwrap();
    assert_eq!(
        grants.len(),
        1,
        "one trigger, no separate follow: {explained}"
    );
    assert_eq!(grants[0]["trigger"], "qr_scan");

    let info = kefu
        .cgi_get(&format!(
            "/user/info?access_token={}&openid={openid}",
            s.token
        ))
        .await;
    assert_eq!(info["subscribe_scene"], "ADD_SCENE_QR_CODE");
    assert_eq!(info["qr_scene"], 98765);
    assert_eq!(info["qr_scene_str"], "");

    // The same user scans again while following: SCAN, one more qr_scan, the follow stays.
    kefu.advance(120).await;
    let again = kefu
        .act_ok(
            &bob,
            json!({"type": "qr_scan", "ticket": ticket, "appid": appid}),
        )
        .await;
    assert_eq!(again["event"], "SCAN");
    assert_eq!(again["openid"], openid.as_str());
    let info_after = kefu
        .cgi_get(&format!(
            "/user/info?access_token={}&openid={openid}",
            s.token
        ))
        .await;
    assert_eq!(info_after["subscribe_time"], START);

    // A string scene: qr_scene 0 and the string.
    let named = create_qr(
        &kefu,
        &s.token,
        json!({"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "poster"}}}),
    )
    .await;
    let carol = kefu.user("Carol").await;
    let scanned = kefu
        .act_ok(&carol, json!({"type": "qr_scan", "ticket": named}))
        .await;
    let carol_openid = scanned["openid"].as_str().unwrap();
    let info = kefu
        .cgi_get(&format!(
            "/user/info?access_token={}&openid={carol_openid}",
            s.token
        ))
        .await;
    assert_eq!(
        (&info["qr_scene"], &info["qr_scene_str"]),
        (&json!(0), &json!("poster"))
    );

    // How each follower followed is stored with them: the same after a restart.
    let carol_openid = carol_openid.to_owned();
    let kefu = kefu.restart().await;
    let bob_info = kefu
        .cgi_get(&format!(
            "/user/info?access_token={}&openid={openid}",
            s.token
        ))
        .await;
    assert_eq!(
        (&bob_info["subscribe_time"], &bob_info["qr_scene"]),
        (&json!(START), &json!(98765)),
        "{bob_info}"
    );
    let carol_info = kefu
        .cgi_get(&format!(
            "/user/info?access_token={}&openid={carol_openid}",
            s.token
        ))
        .await;
    assert_eq!(carol_info, info);
}

#[tokio::test]
async fn expired_and_unknown_tickets_grant_nothing() {
    let kefu = start().await;
    let s = scene(&kefu).await;
    let ticket = create_qr(
        &kefu,
        &s.token,
        json!({"action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": "soon"}}}),
    )
    .await;
    let bob = kefu.user("Bob").await;
    kefu.advance(59).await;
    let on_time = kefu
        .act_ok(&bob, json!({"type": "qr_scan", "ticket": ticket}))
        .await;
    assert_eq!(on_time["event"], "subscribe");
    // Expiry is on the rule clock: 60 s after creation it is gone.
    kefu.advance(1).await;
    let carol = kefu.user("Carol").await;
    let (status, answer) = kefu
        .act(&carol, json!({"type": "qr_scan", "ticket": ticket}))
        .await;
    assert_eq!(status, StatusCode::GONE, "{answer}");
    assert_eq!(answer["error"]["code"], "qr_expired");
    let user = kefu
        .api_ok(Method::GET, &format!("/users/{carol}"), None)
        .await;
    assert_eq!(user["openids"], json!({}), "nothing happened to Carol");

    let (status, answer) = kefu
        .act(&carol, json!({"type": "qr_scan", "ticket": "gQnope=="}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["error"]["code"], "qrcode_not_found");
    let (status, answer) = kefu.act(&carol, json!({"type": "qr_scan"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["error"]["code"], "invalid_action");
    let other = scene(&kefu).await;
    let live = create_qr(
        &kefu,
        &s.token,
        json!({"expire_seconds": 3600, "action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 1}}}),
    )
    .await;
    let (status, _) = kefu
        .act(
            &carol,
            json!({"type": "qr_scan", "ticket": live, "appid": other.account["appid"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn unfollow_then_scan_refollows_through_the_code() {
    let kefu = start().await;
    let s = scene(&kefu).await;
    let appid = s.account["appid"].as_str().unwrap();
    kefu.act_ok(&s.user, json!({"appid": appid, "type": "unfollow"}))
        .await;
    let ticket = create_qr(
        &kefu,
        &s.token,
        json!({"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 42}}}),
    )
    .await;
    kefu.advance(5).await;
    let answer = kefu
        .act_ok(&s.user, json!({"type": "qr_scan", "ticket": ticket}))
        .await;
    assert_eq!(answer["event"], "subscribe");
    assert_eq!(answer["openid"], s.openid.as_str(), "the openid is stable");
    let info = kefu
        .cgi_get(&format!(
            "/user/info?access_token={}&openid={}",
            s.token, s.openid
        ))
        .await;
    assert_eq!(info["subscribe_time"], START + 5);
    assert_eq!(info["qr_scene"], 42);
    assert_eq!(kefu.send_text(&s.token, &s.openid, "welcome back").await, 0);
}

#[tokio::test]
async fn each_trigger_is_one_traffic_record() {
    let kefu = start().await;
    let s = with_menu(&kefu).await;
    let appid = s.account["appid"].as_str().unwrap();
    let ticket = create_qr(
        &kefu,
        &s.token,
        json!({"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 5}}}),
    )
    .await;
    let bob = kefu.user("Bob").await;
    kefu.act_ok(&bob, json!({"type": "qr_scan", "ticket": ticket}))
        .await;
    for key in ["TODAY", "https://example.com/"] {
        kefu.act_ok(
            &s.user,
            json!({"appid": appid, "type": "menu_click", "key": key}),
        )
        .await;
    }
    let text = kefu
        .client
        .get(format!("{}/api/v1/traffic", kefu.base))
        .bearer_auth(crate::support::ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let triggers: Vec<(String, String)> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["kind"] == "trigger")
        .map(|l| {
            let trigger = l["trigger"].as_str().unwrap().to_owned();
            let ruleset = l["ruleset"].as_str().unwrap().to_owned();
            (trigger, ruleset)
        })
        .collect();
    let named = |t: &str| (t.to_owned(), "wechat-oa-2023".to_owned());
    // The scene's follow and message, Bob's scan (no separate follow), one granting click; the
    // view click is no trigger.
    assert_eq!(
        triggers,
        [
            named("follow"),
            named("message"),
            named("qr_scan"),
            named("menu_click")
        ]
    );
}
