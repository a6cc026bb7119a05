//! A generated month of live traffic, exported with `kefu export` and replayed with
//! `kefu replay`: the replay reproduces every live decision.

use std::process::Command;

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{ADMIN, Api, spawn};

/// A small deterministic generator, so the month is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_month_reproduces_the_live_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = spawn(
        &data,
        &[
            "--clock-start",
            "2023-06-15T00:00:00Z",
            "--rollout",
            "wechat-2023-quota-change",
        ],
    );
    let api = Api::new(&server.base);
    let mut accounts = vec![];
    for n in 0..8 {
        let registered = if n < 6 {
            "2022-03-01T00:00:00Z"
        } else {
            "2023-06-14T00:00:00Z"
        };
        let account = api
            .call(
                Method::POST,
                "/accounts",
                Some(json!({"name": format!("shop {n}"), "registered_at": registered})),
            )
            .await;
        let token = api.token(&account).await;
        accounts.push((account["appid"].as_str().unwrap().to_owned(), token));
    }
    let mut users = vec![];
    for n in 0..24 {
        let user = api
            .call(
                Method::POST,
                "/users",
                Some(json!({"nickname": format!("u{n}")})),
            )
            .await;
        users.push(user["user_id"].as_str().unwrap().to_owned());
    }
    // (user, account) → (openid, following)
    let mut pairs: std::collections::HashMap<(usize, usize), (String, bool)> = Default::default();
    let mut rng = Lcg(7);
    let mut sends = 0;
    for _hour in 0..(30 * 24 / 6) {
        for _ in 0..6 {
            let (u, a) = (
                rng.next(users.len() as u64) as usize,
                rng.next(accounts.len() as u64) as usize,
            );
            let (appid, token) = &accounts[a];
            let actions = format!("/users/{}/actions", users[u]);
            let state = pairs.get(&(u, a)).cloned();
            match (state, rng.next(10)) {
                (None, _) | (Some((_, false)), _) => {
                    let answer = api
                        .call(
                            Method::POST,
                            &actions,
                            Some(json!({"appid": appid, "type": "follow"})),
                        )
                        .await;
                    pairs.insert(
                        (u, a),
                        (answer["openid"].as_str().unwrap().to_owned(), true),
                    );
                }
                (Some((openid, true)), 0) => {
                    api.call(
                        Method::POST,
                        &actions,
                        Some(json!({"appid": appid, "type": "unfollow"})),
                    )
                    .await;
                    pairs.insert((u, a), (openid, false));
                }
                (Some(_), 1) => {
                    api.call(
                        Method::POST,
                        &actions,
                        Some(json!({"appid": appid, "type": "payment", "amount_fen": 100})),
                    )
                    .await;
                }
                (Some(_), 2..=4) => {
                    api.call(Method::POST, &actions,
                        Some(json!({"appid": appid, "type": "message", "msgtype": "text", "content": "hi"}))).await;
                }
                (Some((openid, true)), _) => {
                    for _ in 0..rng.next(9) {
                        let body = json!({"touser": openid, "msgtype": "text", "text": {"content": "reply"}});
                        let answer: Value = api
                            .client
                            .post(format!(
                                "{}/cgi-bin/message/custom/send?access_token={token}",
                                server.base
                            ))
                            .body(body.to_string())
                            .send()
                            .await
                            .unwrap()
                            .json()
                            .await
                            .unwrap();
                        assert!(answer["errcode"].is_i64());
                        sends += 1;
                    }
                }
            }
        }
        api.call(
            Method::POST,
            "/clock/advance",
            Some(json!({"seconds": 6 * 3600 + rng.next(600)})),
        )
        .await;
    }
    assert!(sends > 200, "the month has traffic: {sends} sends");

    let kefu = env!("CARGO_BIN_EXE_kefu");
    let traffic = dir.path().join("traffic.ndjson");
    let exported = Command::new(kefu)
        .args([
            "export",
            "--url",
            &server.base,
            "--admin-token",
            ADMIN,
            "--out",
        ])
        .arg(&traffic)
        .output()
        .unwrap();
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    assert!(server.terminate().success());

    let replay = |args: &[&str], out: &str| {
        let out = dir.path().join(out);
        let run = Command::new(kefu)
            .arg("replay")
            .arg("--traffic")
            .arg(&traffic)
            .args(args)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
        assert!(
            run.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let report: Value =
            serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
        let chart = std::fs::read_to_string(out.join("refusals.svg")).unwrap();
        assert!(chart.starts_with("<svg") && chart.contains("polyline"));
        (report, stdout)
    };

    // The rollout as live ran it: every send decided as the server decided it.
    let (report, stdout) = replay(&["--rollout", "wechat-2023-quota-change"], "rollout");
    assert_eq!(report["sends"], sends);
    assert_eq!(report["sides"][1]["matches_recorded"], sends, "{report}");
    assert!(stdout.contains("recorded (live)"), "{stdout}");
    // Staying on 2021 (20 per message, payment capped) would have decided some differently.
    assert!(report["differences"].as_u64().unwrap() > 0, "{report}");
    assert!(!report["most_affected"].as_array().unwrap().is_empty());

    // Each trigger under the rule set the server recorded: the same decisions again.
    let (report, _) = replay(
        &["--rules", "recorded", "--against", "wechat-oa-2023"],
        "recorded",
    );
    assert_eq!(report["sides"][0]["matches_recorded"], sends);

    // Bad input is a clear error, not a panic.
    let missing = Command::new(kefu)
        .args([
            "replay",
            "--traffic",
            "/nonexistent.ndjson",
            "--rules",
            "wechat-oa-2021",
            "--against",
            "wechat-oa-2023",
        ])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("reading the traffic file"));
}
