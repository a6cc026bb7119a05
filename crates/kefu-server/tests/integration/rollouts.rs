//! Rollouts on a virtual clock (RULES.md §4): the 2023 change, batches at their exact instants
//! (also across a jump), pause and resume, pins, chaining, shadow counts, notices, traffic.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Kefu, START, start, start_at};

const DAY: i64 = 86_400;

fn at(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

async fn account(kefu: &Kefu, registered_at: &str) -> (String, Value) {
    let account = kefu
        .account(json!({"name": "Shop", "registered_at": registered_at}))
        .await;
    (account["appid"].as_str().unwrap().to_owned(), account)
}

async fn ruleset_of(kefu: &Kefu, appid: &str) -> String {
    let account = kefu
        .api_ok(Method::GET, &format!("/accounts/{appid}"), None)
        .await;
    account["ruleset"].as_str().unwrap().to_owned()
}

async fn notices(kefu: &Kefu, appid: &str) -> Vec<Value> {
    let n = kefu
        .api_ok(Method::GET, &format!("/accounts/{appid}/notices"), None)
        .await;
    n["notices"].as_array().unwrap().clone()
}

/// A follower who just sent a message; returns the message allowance it opened.
async fn message(kefu: &Kefu, appid: &str) -> (String, String, Value) {
    let user = kefu.user("Alice").await;
    let follow = kefu
        .act_ok(&user, json!({"appid": appid, "type": "follow"}))
        .await;
    let answer = kefu
        .act_ok(
            &user,
            json!({"appid": appid, "type": "message", "msgtype": "text", "content": "hi"}),
        )
        .await;
    (
        user,
        follow["openid"].as_str().unwrap().to_owned(),
        answer["allowance"].clone(),
    )
}

#[tokio::test]
async fn the_2023_change_new_accounts_get_5_and_old_ones_20_until_their_batch() {
    // 2023-06-13T00:00:00Z, the day after the change took effect for new accounts.
    let kefu = start_at(1_686_614_400).await;
    let file: Value = serde_json::from_str(
        kefu_server::rollout_file::shipped("wechat-2023-quota-change").unwrap(),
    )
    .unwrap();
    let (status, rollout) = kefu.api(Method::POST, "/rollouts", Some(file)).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{rollout}");
    assert!(rollout["note"].as_str().unwrap().contains("illustrative"));

    let (old, _) = account(&kefu, "2020-01-01T00:00:00Z").await;
    let (new, _) = account(&kefu, "2023-06-13T00:00:00Z").await;
    assert_eq!(ruleset_of(&kefu, &old).await, "wechat-oa-2021");
    assert_eq!(ruleset_of(&kefu, &new).await, "wechat-oa-2023");
    let (_, old_openid, old_allowance) = message(&kefu, &old).await;
    let (_, _, new_allowance) = message(&kefu, &new).await;
    assert_eq!(old_allowance["remaining"], 20);
    assert_eq!(new_allowance["remaining"], 5);
    assert!(
        notices(&kefu, &new).await.is_empty(),
        "a new account starts on `to`: no notice"
    );

    // After the last batch every old account has moved, at its batch's instant, and was told.
    kefu.set_clock("2023-08-07T00:00:00+08:00").await;
    assert_eq!(ruleset_of(&kefu, &old).await, "wechat-oa-2023");
    let told = notices(&kefu, &old).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(
        (told[0]["from"].as_str(), told[0]["to"].as_str()),
        (Some("wechat-oa-2021"), Some("wechat-oa-2023"))
    );
    assert_eq!(told[0]["kind"], "ruleset_changed");
    let bucket = kefu_policy::bucket("wechat-2023-quota-change", &old);
    let rollout = kefu
        .api_ok(Method::GET, "/rollouts/wechat-2023-quota-change", None)
        .await;
    let expected = rollout["batches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["percent"].as_f64().unwrap() * 100.0 > f64::from(bucket))
        .unwrap()["at"]
        .clone();
    assert_eq!(told[0]["at"], expected, "bucket {bucket}");
    assert_eq!(rollout["progress"]["moved"], 1);
    assert_eq!(rollout["progress"]["total"], 1);
    assert_eq!(rollout["progress"]["next_batch"], Value::Null);
    assert_eq!(rollout["active"], false);

    // The grant made before the move keeps its terms (it is long expired by now, but it is
    // still the record of what was granted).
    let c = kefu
        .api_ok(
            Method::GET,
            &format!("/accounts/{old}/conversations/{old_openid}"),
            None,
        )
        .await;
    assert_eq!(c["ruleset"], "wechat-oa-2023");
}

#[tokio::test]
async fn batches_take_effect_at_their_exact_instants_even_across_a_jump() {
    let kefu = start().await;
    let (t1, t2) = (START + DAY, START + 2 * DAY);
    let mut appids = vec![];
    for _ in 0..6 {
        appids.push(account(&kefu, "2020-01-01T00:00:00Z").await.0);
    }
    kefu.api_ok(
        Method::POST,
        "/rollouts",
        Some(json!({
            "id": "halves", "from": "wechat-oa-2021", "to": "wechat-oa-2023",
            "new_accounts_from": at(START + 30 * DAY),
            "batches": [{"at": at(t1), "percent": 50}, {"at": at(t2), "percent": 100}]
        })),
    )
    .await;
    kefu.set_clock(&at(t1 - 1)).await;
    for appid in &appids {
        assert_eq!(ruleset_of(&kefu, appid).await, "wechat-oa-2021");
    }
    kefu.set_clock(&at(t1)).await;
    for appid in &appids {
        let early = kefu_policy::bucket("halves", appid) < 5000;
        let expected = if early {
            "wechat-oa-2023"
        } else {
            "wechat-oa-2021"
        };
        assert_eq!(ruleset_of(&kefu, appid).await, expected, "at t1, {appid}");
    }
    // A jump over the second batch: each account's notice still carries its batch's instant.
    kefu.set_clock(&at(t2 + 5 * DAY)).await;
    for appid in &appids {
        assert_eq!(ruleset_of(&kefu, appid).await, "wechat-oa-2023");
        let early = kefu_policy::bucket("halves", appid) < 5000;
        let told = notices(&kefu, appid).await;
        assert_eq!(told.len(), 1);
        assert_eq!(told[0]["at"], at(if early { t1 } else { t2 }));
    }
}

#[tokio::test]
async fn jumping_over_every_batch_at_once_moves_everyone_at_their_instants() {
    let kefu = start().await;
    let (appid, _) = account(&kefu, "2020-01-01T00:00:00Z").await;
    let batches: Vec<Value> = (1..=4)
        .map(|n| json!({"at": at(START + n * DAY), "percent": n * 25}))
        .collect();
    kefu.api_ok(
        Method::POST,
        "/rollouts",
        Some(json!({
            "id": "quarters", "from": "wechat-oa-2021", "to": "wechat-oa-2023",
            "new_accounts_from": at(START + 30 * DAY), "batches": batches
        })),
    )
    .await;
    kefu.advance(10 * DAY).await;
    let bucket = i64::from(kefu_policy::bucket("quarters", &appid));
    let batch = (1..=4).find(|n| n * 2500 > bucket).unwrap();
    let told = notices(&kefu, &appid).await;
    assert_eq!(told.len(), 1);
    assert_eq!(told[0]["at"], at(START + batch * DAY));
}

#[tokio::test]
async fn pause_and_resume_around_a_batch() {
    let kefu = start().await;
    let (appid, _) = account(&kefu, "2020-01-01T00:00:00Z").await;
    let t1 = START + DAY;
    kefu.api_ok(
        Method::POST,
        "/rollouts",
        Some(json!({
            "id": "all-at-once", "from": "wechat-oa-2021", "to": "wechat-oa-2023",
            "new_accounts_from": at(START + 30 * DAY), "batches": [{"at": at(t1), "percent": 100}]
        })),
    )
    .await;
    let paused = kefu
        .api_ok(Method::POST, "/rollouts/all-at-once/pause", None)
        .await;
    assert_eq!(paused["paused"], true);
    let (status, error) = kefu
        .api(Method::POST, "/rollouts/all-at-once/pause", None)
        .await;
    assert_eq!(
        (status.as_u16(), error["error"]["code"].as_str()),
        (409, Some("already_paused"))
    );
    kefu.set_clock(&at(t1 + 3600)).await;
    assert_eq!(
        ruleset_of(&kefu, &appid).await,
        "wechat-oa-2021",
        "a batch inside a pause waits"
    );
    let r = kefu
        .api_ok(Method::GET, "/rollouts/all-at-once", None)
        .await;
    assert_eq!(r["progress"]["next_batch"]["at"], at(t1));
    assert_eq!(r["progress"]["moved"], 0);
    let resumed = kefu
        .api_ok(Method::POST, "/rollouts/all-at-once/resume", None)
        .await;
    assert_eq!(resumed["paused"], false);
    assert_eq!(resumed["progress"]["moved"], 1);
    assert_eq!(ruleset_of(&kefu, &appid).await, "wechat-oa-2023");
    let told = notices(&kefu, &appid).await;
    assert_eq!(told[0]["at"], at(t1 + 3600), "moved at the resume instant");
    let (status, error) = kefu
        .api(Method::POST, "/rollouts/all-at-once/resume", None)
        .await;
    assert_eq!(
        (status.as_u16(), error["error"]["code"].as_str()),
        (409, Some("not_paused"))
    );
}

#[tokio::test]
async fn pins_move_or_hold_an_account_and_persist() {
    let kefu = start().await;
    let (early, _) = account(&kefu, "2020-01-01T00:00:00Z").await;
    let (held, _) = account(&kefu, "2020-01-01T00:00:00Z").await;
    let t1 = START + 5 * DAY;
    kefu.api_ok(
        Method::POST,
        "/rollouts",
        Some(json!({
            "id": "pinned", "from": "wechat-oa-2021", "to": "wechat-oa-2023",
            "new_accounts_from": at(START + 30 * DAY), "batches": [{"at": at(t1), "percent": 100}]
        })),
    )
    .await;
    kefu.advance(DAY).await;
    kefu.api_ok(
        Method::PUT,
        &format!("/rollouts/pinned/pins/{early}"),
        Some(json!({"pin": "to"})),
    )
    .await;
    kefu.api_ok(
        Method::PUT,
        &format!("/rollouts/pinned/pins/{held}"),
        Some(json!({"pin": "from"})),
    )
    .await;
    assert_eq!(ruleset_of(&kefu, &early).await, "wechat-oa-2023");
    assert_eq!(notices(&kefu, &early).await[0]["at"], at(START + DAY));
    let (status, _) = kefu
        .api(
            Method::PUT,
            "/rollouts/pinned/pins/wxany",
            Some(json!({"pin": "sideways"})),
        )
        .await;
    assert_eq!(status.as_u16(), 422);

    let kefu = kefu.restart().await;
    kefu.set_clock(&at(t1 + DAY)).await;
    assert_eq!(
        ruleset_of(&kefu, &held).await,
        "wechat-oa-2021",
        "pinned to from: the batch passes it by"
    );
    kefu.api_ok(
        Method::DELETE,
        &format!("/rollouts/pinned/pins/{held}"),
        None,
    )
    .await;
    assert_eq!(
        ruleset_of(&kefu, &held).await,
        "wechat-oa-2023",
        "unpinned after the batch: moves now"
    );
    assert_eq!(notices(&kefu, &held).await[0]["at"], at(t1 + DAY));
    let (status, error) = kefu
        .api(
            Method::DELETE,
            &format!("/rollouts/pinned/pins/{held}"),
            None,
        )
        .await;
    assert_eq!(
        (status.as_u16(), error["error"]["code"].as_str()),
        (404, Some("pin_not_found"))
    );
}

#[tokio::test]
async fn two_rollouts_chain_in_creation_order() {
    let kefu = start().await;
    let response = kefu
        .client
        .put(format!("{}/api/v1/rulesets/oa-strict", kefu.base))
        .bearer_auth(crate::support::ADMIN)
        .header("content-type", "application/toml")
        .body("name = \"oa-strict\"\nplatform = \"oa\"\n[triggers]\nmessage = { quota = 2, window_secs = 172800 }\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let (appid, _) = account(&kefu, "2020-01-01T00:00:00Z").await;
    let (t1, t2) = (START + DAY, START + 2 * DAY);
    for (id, from, to, t) in [
        ("first", "wechat-oa-2021", "wechat-oa-2023", t1),
        ("second", "wechat-oa-2023", "oa-strict", t2),
    ] {
        kefu.api_ok(Method::POST, "/rollouts", Some(json!({
            "id": id, "from": from, "to": to,
            "new_accounts_from": at(START + 30 * DAY), "batches": [{"at": at(t), "percent": 100}]
        }))).await;
    }
    assert_eq!(ruleset_of(&kefu, &appid).await, "wechat-oa-2021");
    kefu.set_clock(&at(t1)).await;
    assert_eq!(ruleset_of(&kefu, &appid).await, "wechat-oa-2023");
    kefu.set_clock(&at(t2)).await;
    assert_eq!(ruleset_of(&kefu, &appid).await, "oa-strict");
    let (_, _, allowance) = message(&kefu, &appid).await;
    assert_eq!(allowance["remaining"], 2);
    let told = notices(&kefu, &appid).await;
    let steps: Vec<(&str, &str)> = told
        .iter()
        .map(|n| (n["from"].as_str().unwrap(), n["to"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("wechat-oa-2021", "wechat-oa-2023"),
            ("wechat-oa-2023", "oa-strict")
        ]
    );
}

#[tokio::test]
async fn invalid_rollouts_are_refused_with_a_reason() {
    let kefu = start().await;
    let base = json!({"id": "r", "from": "wechat-oa-2021", "to": "wechat-oa-2023",
                      "new_accounts_from": "2023-06-12T00:00:00+08:00",
                      "batches": [{"at": "2023-07-01T00:00:00Z", "percent": 50}, {"at": "2023-08-07T00:00:00Z", "percent": 100}]});
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    for (body, reason) in [
        (
            with(
                "batches",
                json!([{"at": "2023-07-01T00:00:00Z", "percent": 50}]),
            ),
            "last_batch_not_100",
        ),
        (
            with(
                "batches",
                json!([{"at": "2023-07-01T00:00:00Z", "percent": 0}, {"at": "2023-08-01T00:00:00Z", "percent": 100}]),
            ),
            "invalid_percent",
        ),
        (
            with(
                "batches",
                json!([{"at": "2023-07-01T00:00:00Z", "percent": 33.333}, {"at": "2023-08-01T00:00:00Z", "percent": 100}]),
            ),
            "invalid_percent",
        ),
        (
            with(
                "batches",
                json!([{"at": "2023-08-01T00:00:00Z", "percent": 60}, {"at": "2023-07-01T00:00:00Z", "percent": 100}]),
            ),
            "unordered_batches",
        ),
        (with("batches", json!([])), "no_batches"),
        (with("to", json!("wechat-kf")), "platform_mismatch"),
        (with("to", json!("nope")), "unknown_ruleset"),
        (with("new_accounts_from", json!("June")), "invalid_instant"),
        (with("channels", json!(["fax"])), "unknown_channel"),
    ] {
        let (status, error) = kefu
            .api(Method::POST, "/rollouts", Some(body.clone()))
            .await;
        assert_eq!(status.as_u16(), 422, "{body}");
        assert_eq!(error["error"]["code"], "invalid_rollout");
        assert_eq!(error["error"]["reason"], reason, "{body}: {error}");
    }
    kefu.api_ok(Method::POST, "/rollouts", Some(base.clone()))
        .await;
    let (status, error) = kefu.api(Method::POST, "/rollouts", Some(base)).await;
    assert_eq!(
        (status.as_u16(), error["error"]["code"].as_str()),
        (409, Some("rollout_exists"))
    );
    let (status, _) = kefu.api(Method::GET, "/rollouts/ghost", None).await;
    assert_eq!(status.as_u16(), 404);
}

#[tokio::test]
async fn shadow_evaluation_counts_sends_the_new_rules_would_refuse() {
    let kefu = start().await;
    let (appid, account) = account(&kefu, "2020-01-01T00:00:00Z").await;
    kefu.api_ok(Method::POST, "/rollouts", Some(json!({
        "id": "cut", "from": "wechat-oa-2021", "to": "wechat-oa-2023",
        "new_accounts_from": at(START + 30 * DAY), "batches": [{"at": at(START + 10 * DAY), "percent": 100}]
    }))).await;
    let (_, openid, allowance) = message(&kefu, &appid).await;
    assert_eq!(allowance["remaining"], 20);
    let token = kefu.token(&account).await;
    for n in 0..7 {
        assert_eq!(
            kefu.send_text(&token, &openid, &format!("{n}")).await,
            0,
            "live: 20 per message"
        );
    }
    let r = kefu.api_ok(Method::GET, "/rollouts/cut", None).await;
    assert_eq!(
        r["progress"]["shadow"]["would_differ"], 2,
        "under 5 per message, sends 6 and 7 would be 45047"
    );
    let metrics = kefu
        .client
        .get(format!("{}/metrics", kefu.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = r#"kefu_rollout_shadow_differ_total{rollout="cut",live_errcode="0",shadow_errcode="45047"} 2"#;
    assert!(metrics.contains(line), "{metrics}");
}

#[tokio::test]
async fn traffic_is_exported_as_json_lines() {
    let kefu = start().await;
    let s = crate::support::scene(&kefu).await;
    assert_eq!(kefu.send_text(&s.token, &s.openid, "one").await, 0);
    kefu.advance(3 * DAY).await;
    assert_eq!(kefu.send_text(&s.token, &s.openid, "late").await, 45015);
    let url = format!("{}/api/v1/traffic", kefu.base);
    let export = |query: String| {
        let request = kefu
            .client
            .get(format!("{url}{query}"))
            .bearer_auth(crate::support::ADMIN);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.headers()["content-type"], "application/x-ndjson");
            let text = response.text().await.unwrap();
            text.lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        }
    };
    let all = export(String::new()).await;
    let kinds: Vec<&str> = all.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["account", "trigger", "trigger", "send", "send"]);
    assert_eq!(all[0]["platform"], "oa");
    assert_eq!(all[1]["trigger"], "follow");
    assert_eq!(all[2]["ruleset"], "wechat-oa-2023");
    assert_eq!(all[3]["errcode"], 0);
    assert_eq!(all[4]["errcode"], 45015);
    assert_eq!(all[4]["api"], "custom/send");
    let seqs: Vec<u64> = all.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    let late = export(format!("?from={}", at(START + DAY))).await;
    let kinds: Vec<&str> = late.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["account", "send"],
        "account lines are always included"
    );
    let early = export(format!("?to={}", at(START + DAY))).await;
    assert_eq!(early.len(), 4);
    let (status, _) = kefu.api(Method::GET, "/traffic?from=yesterday", None).await;
    assert_eq!(status.as_u16(), 422);
}
