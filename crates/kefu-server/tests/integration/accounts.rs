//! Accounts, users and actions on `/api/v1`: the contract of shared/API.md, and refusals that
//! change nothing.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{ADMIN, scene, start};

#[tokio::test]
async fn every_api_call_needs_the_admin_token() {
    let kefu = start().await;
    let url = format!("{}/api/v1/accounts", kefu.base);
    let none = kefu.client.get(&url).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = none.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let wrong = kefu
        .client
        .get(&url)
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = kefu
        .client
        .get(&url)
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    let health = kefu
        .client
        .get(format!("{}/healthz", kefu.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_account_has_credentials_in_wechat_shapes() {
    let kefu = start().await;
    let account = kefu
        .account(json!({
            "name": "Coffee Shop", "account_type": "service",
            "webhook_url": "http://127.0.0.1:9/wechat", "token": "tok123",
            "encoding_aes_key": "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR",
            "encrypt_mode": "safe", "registered_at": "2023-01-01T08:00:00+08:00",
            "verify_webhook": false
        }))
        .await;
    let appid = account["appid"].as_str().unwrap();
    assert!(appid.starts_with("wx") && appid.len() == 18);
    assert_eq!(account["secret"].as_str().unwrap().len(), 32);
    let original = account["original_id"].as_str().unwrap();
    assert!(original.starts_with("gh_") && original.len() == 15);
    assert_eq!(account["registered_at"], "2023-01-01T00:00:00Z");
    assert_eq!(account["encrypt_mode"], "safe");
    assert_eq!(account["ruleset"], "wechat-oa-2023");

    let fetched = kefu
        .api_ok(Method::GET, &format!("/accounts/{appid}"), None)
        .await;
    assert_eq!(fetched, account);
    let listed = kefu.api_ok(Method::GET, "/accounts", None).await;
    assert_eq!(listed["accounts"].as_array().unwrap().len(), 1);

    let patched = kefu
        .api_ok(
            Method::PATCH,
            &format!("/accounts/{appid}"),
            Some(json!({"name": "Tea House", "encrypt_mode": "plain"})),
        )
        .await;
    assert_eq!(patched["name"], "Tea House");
    assert_eq!(patched["secret"], account["secret"]);

    let (status, _) = kefu
        .api(Method::DELETE, &format!("/accounts/{appid}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, error) = kefu
        .api(Method::GET, &format!("/accounts/{appid}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["error"]["code"], "account_not_found");
}

#[tokio::test]
async fn invalid_accounts_are_refused_and_change_nothing() {
    let kefu = start().await;
    let cases = [
        json!({}),
        json!({"name": ""}),
        json!({"name": "x", "account_type": "enterprise"}),
        json!({"name": "x", "encrypt_mode": "safe"}),
        json!({"name": "x", "encrypt_mode": "compat", "encoding_aes_key": "short"}),
        json!({"name": "x", "webhook_url": "http://127.0.0.1:9/"}),
        json!({"name": "x", "webhook_url": "ftp://x", "token": "tok123"}),
        json!({"name": "x", "token": "a!"}),
        json!({"name": "x", "registered_at": "yesterday"}),
        json!({"name": "x", "colour": "red"}),
        json!(["name"]),
    ];
    for body in cases {
        let (status, error) = kefu
            .api(Method::POST, "/accounts", Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error["error"]["code"], "invalid_account", "{body}");
    }
    let malformed = kefu
        .client
        .post(format!("{}/api/v1/accounts", kefu.base))
        .bearer_auth(ADMIN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let huge = kefu
        .client
        .post(format!("{}/api/v1/accounts", kefu.base))
        .bearer_auth(ADMIN)
        .body(format!(r#"{{"name": "{}"}}"#, "x".repeat(2 << 20)))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let listed = kefu.api_ok(Method::GET, "/accounts", None).await;
    assert_eq!(listed["accounts"], json!([]));
}

#[tokio::test]
async fn actions_follow_the_rules_of_who_may_do_what() {
    let kefu = start().await;
    let account = kefu.account(json!({"name": "Shop"})).await;
    let subscription = kefu
        .account(json!({"name": "News", "account_type": "subscription"}))
        .await;
    let appid = account["appid"].as_str().unwrap();
    let alice = kefu.user("Alice").await;

    let (status, error) = kefu
        .act(
            &alice,
            json!({"appid": appid, "type": "message", "msgtype": "text", "content": "hi"}),
        )
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("not_following"))
    );
    let user = kefu
        .api_ok(Method::GET, &format!("/users/{alice}"), None)
        .await;
    assert_eq!(
        user["openids"],
        json!({}),
        "a refused action issues no openid"
    );

    let follow = kefu
        .act_ok(&alice, json!({"appid": appid, "type": "follow"}))
        .await;
    let openid = follow["openid"].as_str().unwrap();
    assert!(openid.starts_with('o') && openid.len() == 28);
    assert_eq!(follow["trigger"], "follow");
    assert_eq!(follow["pushed"]["status"], "no_webhook");
    assert_eq!(follow["allowance"]["remaining"], 3);

    let (status, error) = kefu
        .act(&alice, json!({"appid": appid, "type": "follow"}))
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_following"))
    );

    let message = kefu
        .act_ok(
            &alice,
            json!({"appid": appid, "type": "message", "msgtype": "location",
                               "location_x": 23.1, "location_y": 113.3, "scale": 20, "label": "x"}),
        )
        .await;
    assert_eq!(message["allowance"]["remaining"], 5);
    assert_eq!(message["openid"], openid, "one openid per user and account");

    let paid = kefu
        .act_ok(
            &alice,
            json!({"appid": appid, "type": "payment", "amount_fen": 1200}),
        )
        .await;
    assert_eq!(paid["pushed"]["status"], "not_pushed");
    assert_eq!(
        paid["allowance"]["remaining"],
        serde_json::Value::Null,
        "unlimited"
    );

    let (status, error) = kefu
        .act(
            &alice,
            json!({"appid": subscription["appid"], "type": "payment", "amount_fen": 1}),
        )
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("payment_not_supported")
        )
    );

    for (body, code) in [
        (json!({"appid": appid, "type": "dance"}), "invalid_action"),
        (json!({"type": "follow"}), "invalid_action"),
        (
            json!({"appid": appid, "type": "message", "msgtype": "sticker"}),
            "invalid_message",
        ),
        (
            json!({"appid": appid, "type": "message", "msgtype": "text"}),
            "invalid_message",
        ),
        (
            json!({"appid": appid, "type": "message", "msgtype": "text", "content": 5}),
            "invalid_message",
        ),
        (
            json!({"appid": appid, "type": "payment", "amount_fen": -3}),
            "invalid_amount",
        ),
    ] {
        let (status, error) = kefu.act(&alice, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error["error"]["code"], code, "{body}");
    }
    let (status, error) = kefu
        .act("u_nobody", json!({"appid": appid, "type": "follow"}))
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("user_not_found"))
    );
    let (status, error) = kefu
        .act(
            &alice,
            json!({"appid": "wx0000000000000000", "type": "follow"}),
        )
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("account_not_found"))
    );

    let unfollow = kefu
        .act_ok(&alice, json!({"appid": appid, "type": "unfollow"}))
        .await;
    assert_eq!(unfollow["trigger"], "unfollow");
    assert_eq!(unfollow["allowance"]["remaining"], 0);
    let (status, _) = kefu
        .act(&alice, json!({"appid": appid, "type": "unfollow"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_conversation_explains_its_allowance() {
    let kefu = start().await;
    let scene = crate::support::scene(&kefu).await;
    let appid = scene.account["appid"].as_str().unwrap();
    assert_eq!(kefu.send_text(&scene.token, &scene.openid, "one").await, 0);
    assert_eq!(kefu.send_text(&scene.token, &scene.openid, "two").await, 0);
    let path = format!("/accounts/{appid}/conversations/{}", scene.openid);
    let c = kefu.api_ok(Method::GET, &path, None).await;
    assert_eq!(c["openid"], scene.openid);
    assert_eq!(c["following"], true);
    assert_eq!(c["ruleset"], "wechat-oa-2023");
    assert_eq!(c["combine"], "merge");
    assert_eq!(c["remaining"], 3);
    assert_eq!(c["sent_in_window"], 2);
    assert_eq!(c["grants"][0]["trigger"], "message");
    assert_eq!(c["grants"][0]["quota"], 5);
    assert_eq!(c["next_send"]["decision"], "accept");
    assert_eq!(c["next_send"]["errcode"], 0);
    assert!(c["next_send"]["why"].as_str().unwrap().len() > 10);

    kefu.advance(48 * 3600).await;
    let c = kefu.api_ok(Method::GET, &path, None).await;
    assert_eq!(c["remaining"], 0);
    assert_eq!(c["expires_at"], serde_json::Value::Null);
    assert_eq!(c["next_send"]["errcode"], 45015);
    assert_eq!(
        c["next_send"]["errmsg"],
        "response out of time limit or subscription is canceled"
    );
    let reopen: Vec<&str> = c["next_send"]["reopen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(reopen.contains(&"message"), "{reopen:?}");

    let (status, error) = kefu
        .api(
            Method::GET,
            &format!("/accounts/{appid}/conversations/o_never_issued"),
            None,
        )
        .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("conversation_not_found"))
    );
}

#[tokio::test]
async fn users_are_listed_in_creation_order_page_by_page_and_come_back_after_a_restart() {
    let kefu = start().await;
    let s = scene(&kefu).await;
    let appid = s.account["appid"].as_str().unwrap();
    let mut ids = vec![s.user.clone()];
    for nickname in ["Bob", "Carol", "Dan", "Eve"] {
        ids.push(kefu.user(nickname).await);
    }
    kefu.api_ok(Method::DELETE, &format!("/users/{}", ids[2]), None)
        .await;
    ids.remove(2);
    let listed = |page: &serde_json::Value| -> Vec<String> {
        let users = page["users"].as_array().unwrap();
        users
            .iter()
            .map(|u| u["user_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = kefu.api_ok(Method::GET, "/users", None).await;
    assert_eq!(listed(&all), ids, "in creation order, Carol gone");
    assert_eq!(all["users"][0]["nickname"], "Alice");
    assert_eq!(all["users"][0]["openids"], json!({ appid: s.openid }));
    assert_eq!(all["users"][1]["openids"], json!({}));
    let first = kefu.api_ok(Method::GET, "/users?limit=2", None).await;
    assert_eq!(listed(&first), ids[..2]);
    let next = format!("/users?limit=2&after={}", ids[1]);
    let next = kefu.api_ok(Method::GET, &next, None).await;
    assert_eq!(listed(&next), ids[2..]);

    let kefu = kefu.restart().await;
    assert_eq!(kefu.api_ok(Method::GET, "/users", None).await, all);
    // The openid still leads to Alice: a send lands in her inbox.
    assert_eq!(kefu.send_text(&s.token, &s.openid, "after").await, 0);
    let inbox = kefu.inbox(&s.user).await;
    assert_eq!(
        inbox.last().map(|m| m["body"].clone()),
        Some(json!({"content": "after"}))
    );
}
