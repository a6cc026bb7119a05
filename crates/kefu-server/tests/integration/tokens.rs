//! `GET /cgi-bin/token` on the wall clock: rotation with a 5-minute overlap, expiry after 7200 s,
//! and tokens that survive a restart.

use serde_json::json;

use crate::support::start;

#[tokio::test]
async fn token_errors_in_wechat_order() {
    let kefu = start().await;
    let account = kefu.account(json!({"name": "Shop"})).await;
    let appid = account["appid"].as_str().unwrap();
    let secret = account["secret"].as_str().unwrap();
    for (query, errcode) in [
        (format!("?appid={appid}&secret={secret}"), 40002),
        (
            format!("?grant_type=password&appid={appid}&secret={secret}"),
            40002,
        ),
        (
            format!("?grant_type=client_credential&secret={secret}"),
            41002,
        ),
        (
            format!("?grant_type=client_credential&appid={appid}"),
            41004,
        ),
        (
            format!("?grant_type=client_credential&appid=wx0000000000000000&secret={secret}"),
            40013,
        ),
        (
            format!("?grant_type=client_credential&appid={appid}&secret=0123"),
            40125,
        ),
    ] {
        let answer = kefu.cgi_get(&format!("/token{query}")).await;
        assert_eq!(answer["errcode"], errcode, "{query}: {answer}");
        assert!(answer["errmsg"].as_str().unwrap().len() > 3);
    }
    let answer = kefu
        .cgi_get(&format!(
            "/token?grant_type=client_credential&appid={appid}&secret={secret}"
        ))
        .await;
    assert_eq!(answer["expires_in"], 7200);
    assert!(
        answer.get("errcode").is_none(),
        "WeChat's token answer has no errcode"
    );
}

#[tokio::test]
async fn a_new_token_leaves_the_old_one_five_minutes() {
    let kefu = start().await;
    let scene = crate::support::scene(&kefu).await;
    let old = scene.token.clone();
    kefu.wall.advance(100);
    let new = kefu.token(&scene.account).await;
    assert_ne!(old, new);
    assert_eq!(kefu.send_text(&old, &scene.openid, "still fine").await, 0);
    kefu.wall.advance(299);
    assert_eq!(kefu.send_text(&old, &scene.openid, "last second").await, 0);
    kefu.wall.advance(1);
    assert_eq!(
        kefu.send_text(&old, &scene.openid, "superseded").await,
        40001
    );
    assert_eq!(kefu.send_text(&new, &scene.openid, "new works").await, 0);
    kefu.wall.advance(7200 - 300);
    assert_eq!(kefu.send_text(&new, &scene.openid, "expired").await, 42001);
    assert_eq!(kefu.send_text("garbage", &scene.openid, "x").await, 40001);
}

#[tokio::test]
async fn moving_the_rule_clock_never_invalidates_a_token() {
    let kefu = start().await;
    let scene = crate::support::scene(&kefu).await;
    kefu.advance(30 * 24 * 3600).await;
    // The window is long closed (45015), but the token is fine: it lives on the wall clock.
    assert_eq!(
        kefu.send_text(&scene.token, &scene.openid, "late").await,
        45015
    );
}

#[tokio::test]
async fn tokens_and_state_survive_a_restart() {
    let kefu = start().await;
    let scene = crate::support::scene(&kefu).await;
    assert_eq!(kefu.send_text(&scene.token, &scene.openid, "one").await, 0);
    let clock_before = kefu.api_ok(reqwest::Method::GET, "/clock", None).await;
    let kefu = kefu.restart().await;
    assert_eq!(
        kefu.api_ok(reqwest::Method::GET, "/clock", None).await,
        clock_before
    );
    assert_eq!(kefu.send_text(&scene.token, &scene.openid, "two").await, 0);
    for _ in 0..3 {
        assert_eq!(kefu.send_text(&scene.token, &scene.openid, "more").await, 0);
    }
    assert_eq!(
        kefu.send_text(&scene.token, &scene.openid, "sixth").await,
        45047
    );
    let inbox = kefu.inbox(&scene.user).await;
    let contents: Vec<&str> = inbox
        .iter()
        .map(|m| m["body"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["one", "two", "more", "more", "more"]);
}
