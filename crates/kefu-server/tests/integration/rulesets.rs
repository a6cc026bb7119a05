//! `/api/v1/rulesets`: rule sets are data, validated with named reasons, immutable once in use,
//! and they survive a restart under the ids their grants refer to.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{ADMIN, scene, start};

const STRICT: &str = r#"
name = "oa-strict"
platform = "oa"
combine = "merge"
[triggers]
message = { quota = 2, window_secs = 3600 }
follow = { quota = 1, window_secs = 60 }
"#;

async fn put_toml(
    kefu: &crate::support::Kefu,
    name: &str,
    toml: &str,
) -> (StatusCode, serde_json::Value) {
    let response = kefu
        .client
        .put(format!("{}/api/v1/rulesets/{name}", kefu.base))
        .bearer_auth(ADMIN)
        .header("content-type", "application/toml")
        .body(toml.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn rule_sets_are_listed_defined_and_validated() {
    let kefu = start().await;
    let list = kefu.api_ok(Method::GET, "/rulesets", None).await;
    let names: Vec<&str> = list["rulesets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for shipped in [
        "wechat-oa-2021",
        "wechat-oa-2023",
        "wechat-miniprogram",
        "wechat-kf",
        "wecom-scale-no-new-contacts",
        "wecom-scale-reply-only",
    ] {
        assert!(names.contains(&shipped), "{names:?}");
    }
    let oa2023 = kefu
        .api_ok(Method::GET, "/rulesets/wechat-oa-2023", None)
        .await;
    assert_eq!(
        oa2023["triggers"]["message"],
        json!({"quota": 5, "window_secs": 172800})
    );
    assert_eq!(oa2023["triggers"]["payment"]["quota"], "unlimited");
    assert_eq!(oa2023["in_use"], true, "the oa default is in use");
    assert_eq!(oa2023["shipped"], true);

    let (status, created) = put_toml(&kefu, "oa-strict", STRICT).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["triggers"]["message"]["quota"], 2);
    assert_eq!(created["in_use"], false);
    // Not in use yet: it may be redefined (as JSON this time).
    let mut json_body = created.clone();
    json_body["triggers"]["message"]["quota"] = json!(3);
    for field in ["shipped", "in_use", "toml"] {
        json_body.as_object_mut().unwrap().remove(field);
    }
    let (status, replaced) = kefu
        .api(Method::PUT, "/rulesets/oa-strict", Some(json_body))
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["triggers"]["message"]["quota"], 3);

    for (toml, reason) in [
        (
            "name = \"x\"\nplatform = \"oa\"\n[triggers]\nmessage = { quota = 0, window_secs = 60 }",
            "zero_quota",
        ),
        (
            "name = \"x\"\nplatform = \"oa\"\n[triggers]\nmessage = { quota = 1, window_secs = 0 }",
            "zero_window",
        ),
        (
            "name = \"x\"\nplatform = \"oa\"\n[triggers]\nwave = { quota = 1, window_secs = 60 }",
            "unknown_trigger",
        ),
        (
            "name = \"x\"\nplatform = \"sms\"\n[triggers]",
            "unknown_platform",
        ),
        (
            "name = \"x\"\nplatform = \"wecom\"\n[capabilities]\nteleport = \"allowed\"",
            "unknown_capability",
        ),
        ("this is not toml", "syntax"),
        (
            "name = \"y\"\nplatform = \"oa\"\n[triggers]",
            "name_mismatch",
        ),
    ] {
        let (status, error) = put_toml(&kefu, "x", toml).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{toml}");
        assert_eq!(error["error"]["code"], "invalid_ruleset", "{toml}");
        assert_eq!(error["error"]["reason"], reason, "{toml}: {error}");
    }
    let (status, _) = kefu.api(Method::GET, "/rulesets/x", None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "refused definitions change nothing"
    );

    // A default is in use: 409.
    let (status, error) = put_toml(
        &kefu,
        "wechat-oa-2023",
        "name = \"wechat-oa-2023\"\nplatform = \"oa\"\n[triggers]",
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("ruleset_in_use"))
    );
}

#[tokio::test]
async fn a_rule_set_holding_a_grant_cannot_change_and_survives_restart() {
    let kefu = start().await;
    put_toml(&kefu, "oa-strict", STRICT).await;
    // A rollout that moves every account to oa-strict at once (one batch, now).
    let clock = kefu.api_ok(Method::GET, "/clock", None).await;
    let now = clock["now"].as_str().unwrap();
    kefu.api_ok(
        Method::POST,
        "/rollouts",
        Some(json!({
            "id": "to-strict", "from": "wechat-oa-2023", "to": "oa-strict",
            "new_accounts_from": "2000-01-01T00:00:00Z", "batches": [{"at": now, "percent": 100}]
        })),
    )
    .await;
    let s = scene(&kefu).await;
    let appid = s.account["appid"].as_str().unwrap();
    assert_eq!(s.account["ruleset"], "oa-strict");
    assert_eq!(kefu.send_text(&s.token, &s.openid, "1").await, 0);
    assert_eq!(kefu.send_text(&s.token, &s.openid, "2").await, 0);
    assert_eq!(
        kefu.send_text(&s.token, &s.openid, "3").await,
        45047,
        "oa-strict allows 2"
    );
    let (status, error) = put_toml(&kefu, "oa-strict", STRICT).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("ruleset_in_use"))
    );

    let kefu = kefu.restart().await;
    let c = kefu
        .api_ok(
            Method::GET,
            &format!("/accounts/{appid}/conversations/{}", s.openid),
            None,
        )
        .await;
    assert_eq!(
        c["grants"][0]["ruleset"], "oa-strict",
        "the grant still names its rule set"
    );
    assert_eq!(c["remaining"], 0);
    let strict = kefu.api_ok(Method::GET, "/rulesets/oa-strict", None).await;
    assert_eq!(strict["triggers"]["message"]["quota"], 2);
    assert_eq!(strict["in_use"], true);
}
