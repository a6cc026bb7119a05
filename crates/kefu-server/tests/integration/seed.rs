//! Seeds: fixed credentials, users and follows, applied idempotently; and the demo seed.

use kefu_server::seed::{self, Seed, SeedError};
use reqwest::Method;
use serde_json::json;

use crate::support::start;

const SEED: &str = r#"
[[accounts]]
appid = "wx0123456789abcdef"
secret = "0123456789abcdef0123456789abcdef"
name = "CI Coffee"
account_type = "subscription"
menu = { button = [{ type = "click", name = "Today", key = "TODAY" }] }

[[accounts.qrcodes]]
action_name = "QR_LIMIT_SCENE"
scene_id = 7

[[users]]
user_id = "u_alice"
nickname = "Alice"

[[users]]
user_id = "u_bob"
nickname = "Bob"

[[follows]]
user_id = "u_alice"
appid = "wx0123456789abcdef"
openid = "oAlice0000000000000000000001"
"#;

#[tokio::test]
async fn a_seed_gives_known_credentials_and_applies_idempotently() {
    let kefu = start().await;
    let seed = Seed::from_toml(SEED).unwrap();
    let first = seed::apply(&kefu.app, &seed).await.unwrap();
    assert_eq!(first.accounts[0].secret, "0123456789abcdef0123456789abcdef");
    let account =
        json!({"appid": "wx0123456789abcdef", "secret": "0123456789abcdef0123456789abcdef"});
    let token = kefu.token(&account).await;
    let info = kefu
        .cgi_get(&format!(
            "/user/info?access_token={token}&openid=oAlice0000000000000000000001"
        ))
        .await;
    assert_eq!(info["subscribe"], 1, "{info}");
    assert_eq!(
        kefu.cgi_get(&format!("/menu/get?access_token={token}"))
            .await["menu"]["button"][0]["key"],
        "TODAY"
    );
    let shown = kefu
        .api_ok(Method::GET, "/accounts/wx0123456789abcdef", None)
        .await;
    assert_eq!(shown["account_type"], "subscription");

    // Changes made since are kept where the seed says nothing, corrected where it does.
    kefu.api_ok(
        Method::PATCH,
        "/accounts/wx0123456789abcdef",
        Some(json!({"name": "Renamed"})),
    )
    .await;
    kefu.act_ok(
        "u_bob",
        json!({"appid": "wx0123456789abcdef", "type": "follow"}),
    )
    .await;
    kefu.advance(3600).await;
    let second = seed::apply(&kefu.app, &seed).await.unwrap();
    assert_eq!(second.accounts, first.accounts);
    let shown = kefu
        .api_ok(Method::GET, "/accounts/wx0123456789abcdef", None)
        .await;
    assert_eq!(shown["name"], "CI Coffee");
    let users = kefu.api_ok(Method::GET, "/users", None).await;
    assert_eq!(users["users"].as_array().unwrap().len(), 2);
    // Alice's follow was not applied again (her subscribe_time is the first one's).
    let info_again = kefu
        .cgi_get(&format!(
            "/user/info?access_token={token}&openid=oAlice0000000000000000000001"
        ))
        .await;
    assert_eq!(info_again["subscribe_time"], info["subscribe_time"]);
    let list = kefu
        .cgi_get(&format!("/user/get?access_token={token}"))
        .await;
    assert_eq!(list["total"], 2);
    let codes = kefu
        .api_ok(Method::GET, "/accounts/wx0123456789abcdef/qrcodes", None)
        .await;
    assert_eq!(codes["qrcodes"].as_array().unwrap().len(), 1);

    // Survives a restart, and applies again there with no change.
    let kefu = kefu.restart().await;
    let third = seed::apply(&kefu.app, &seed).await.unwrap();
    assert_eq!(third.accounts, first.accounts);
    assert_eq!(kefu.token(&account).await.len(), 128);
}

#[tokio::test]
async fn a_bad_seed_is_refused_whole() {
    let kefu = start().await;
    for (text, fragment) in [
        (
            "[[accounts]]\nappid = \"wx1\"\nname = \"a\"\n",
            "appid must be",
        ),
        (
            "[[accounts]]\nappid = \"wx0123456789abcdef\"\nsecret = \"short\"\nname = \"a\"\n",
            "secret must be",
        ),
        (
            "[[accounts]]\nappid = \"wx0123456789abcdef\"\nname = \"\"\n",
            "name must be",
        ),
        (
            "[[accounts]]\nappid = \"wx0123456789abcdef\"\nname = \"a\"\nmenu = { button = [] }\n",
            "40016",
        ),
        (
            "[[follows]]\nuser_id = \"u_x\"\nappid = \"wx0123456789abcdef\"\n",
            "no such user",
        ),
        ("[[users]]\nuser_id = \"u x\"\n", "user_id must be"),
        (
            "[[users]]\nuser_id = \"u_x\"\n[[accounts]]\nappid = \"wx0123456789abcdef\"\nname = \"a\"\n\
             [[follows]]\nuser_id = \"u_x\"\nappid = \"wx0123456789abcdef\"\nopenid = \"bad\"\n",
            "openid must be",
        ),
    ] {
        let seed = Seed::from_toml(text).unwrap();
        match seed::apply(&kefu.app, &seed).await {
            Err(SeedError::Invalid { reason, .. }) => {
                assert!(reason.contains(fragment), "{text}: {reason}")
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    let accounts = kefu.api_ok(Method::GET, "/accounts", None).await;
    assert_eq!(accounts["accounts"], json!([]), "nothing was applied");
    let users = kefu.api_ok(Method::GET, "/users", None).await;
    assert_eq!(users["users"], json!([]));
}

#[tokio::test]
async fn the_demo_is_ready_to_use() {
    let kefu = start().await;
    let demo = Seed::from_toml(seed::DEMO).unwrap();
    let report = seed::apply(&kefu.app, &demo).await.unwrap();
    let account = &report.accounts[0];
    assert!(account.menu);
    assert_eq!(account.qrcodes.len(), 1);
    let alice = report.users.iter().find(|u| u.nickname == "Alice").unwrap();
    let (_, openid, following) = &alice.openids[0];
    assert!(following);
    let token = kefu
        .token(&json!({"appid": account.appid, "secret": account.secret}))
        .await;
    // Alice's follow opened a window: a developer can send at once.
    assert_eq!(kefu.send_text(&token, openid, "welcome").await, 0);
    let clicked = kefu
        .act_ok(
            &alice.user_id,
            json!({"appid": account.appid, "type": "menu_click", "key": "DEMO_TODAY"}),
        )
        .await;
    assert_eq!(clicked["trigger"], "menu_click");
    let bob = report.users.iter().find(|u| u.nickname == "Bob").unwrap();
    let scanned = kefu
        .act_ok(
            &bob.user_id,
            json!({"type": "qr_scan", "ticket": account.qrcodes[0].0}),
        )
        .await;
    assert_eq!(scanned["event"], "subscribe");
    // Applying the demo again (a restart with --demo) keeps the same secret.
    let again = seed::apply(&kefu.app, &demo).await.unwrap();
    assert_eq!(again.accounts[0].secret, account.secret);
    assert_eq!(again.accounts[0].qrcodes, account.qrcodes);
}
