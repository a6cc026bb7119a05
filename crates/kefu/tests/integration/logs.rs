//! Secrets never reach the log, even at debug level; SIGTERM drains and exits cleanly.

use std::process::{Command, Stdio};

use reqwest::Method;
use serde_json::json;

use crate::support::{ADMIN, Api, spawn, spawn_with};

#[tokio::test]
async fn secrets_never_appear_in_logs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Debug level logs every request.
    let server = spawn_with(&data, &["--log-format", "json"], &[("KEFU_LOG", "debug")]);
    let api = Api::new(&server.base);
    let account = api
        .call(Method::POST, "/accounts", Some(json!({
            "name": "Quiet Shop", "webhook_url": "http://127.0.0.1:9/hook", "token": "hooktoken123",
            "encoding_aes_key": "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR", "encrypt_mode": "compat",
            "verify_webhook": false})))
        .await;
    let secret = account["secret"].as_str().unwrap();
    let token = api.token(&account).await;
    let _ = api
        .client
        .post(format!(
            "{}/cgi-bin/message/custom/send?access_token={token}",
            server.base
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    let stderr_path = server.stderr_path.clone();
    assert!(server.terminate().success(), "SIGTERM exits cleanly");
    let logs = std::fs::read_to_string(stderr_path).unwrap();
    assert!(logs.contains("kefu started"), "logs were captured: {logs}");
    assert!(
        logs.contains("/cgi-bin/message/custom/send"),
        "requests are logged at debug: {logs}"
    );
    for secret in [
        secret,
        token.as_str(),
        ADMIN,
        "hooktoken123",
        "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR",
    ] {
        assert!(
            !logs.contains(secret),
            "a secret leaked into the logs: {secret}"
        );
    }
}

#[test]
fn a_second_kefu_on_the_same_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = spawn(&data, &[]);
    let second = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(["serve", "--listen", "127.0.0.1:0", "--clock", "virtual"])
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(!second.status.success());
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(
        message.contains("in use by another kefu process"),
        "{message}"
    );
    // And the system clock is refused on a virtual data directory, with the way out named.
    assert!(first.terminate().success());
    let other = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(["serve", "--listen", "127.0.0.1:0", "--clock", "system"])
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!other.status.success());
    assert!(String::from_utf8_lossy(&other.stderr).contains("--clock-reset"));
}

/// An account "Shop" and Ann, a follower who has sent it a message: the account as made,
/// its appid, Ann's user id and her openid.
async fn shop_with_ann(api: &Api) -> (serde_json::Value, String, String, String) {
    let account = api
        .call(Method::POST, "/accounts", Some(json!({"name": "Shop"})))
        .await;
    let appid = account["appid"].as_str().unwrap().to_owned();
    let (user_id, openid) = api.messaging_follower(&appid, "Ann").await;
    (account, appid, user_id, openid)
}

/// A graceful stop closes the store: the next start replays nothing, walks nothing, and finds
/// every user and conversation as they were (kefu does not free its tables before exiting, but
/// everything in them is on disk first).
#[tokio::test]
async fn sigterm_leaves_everything_on_disk_and_nothing_to_repair() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = spawn(&data, &[]);
    let api = Api::new(&server.base);
    let (_, appid, user_id, openid) = shop_with_ann(&api).await;
    let conversation_path = format!("/accounts/{appid}/conversations/{openid}");
    let before = api.call(Method::GET, &conversation_path, None).await;
    assert_eq!(before["remaining"], 5, "{before}");
    assert!(server.terminate().success());

    let again = spawn_with(
        &data,
        &["--log-format", "json"],
        &[("KEFU_LOG", "warn,kefu=info")],
    );
    let api = Api::new(&again.base);
    assert_eq!(
        api.call(Method::GET, &conversation_path, None).await,
        before
    );
    let user = api
        .call(Method::GET, &format!("/users/{user_id}"), None)
        .await;
    assert_eq!(user["nickname"], "Ann", "{user}");
    let stderr_path = again.stderr_path.clone();
    assert!(again.terminate().success());
    let logs = std::fs::read_to_string(stderr_path).unwrap();
    let loaded = start_up_line(&logs);
    assert_eq!(loaded["fields"]["replayed_entries"], 0, "{loaded}");
    assert_eq!(loaded["fields"]["full_repair"], false, "{loaded}");
    assert_eq!(loaded["fields"]["from_snapshot"], true, "{loaded}");
    assert!(
        logs.contains("snapshot written for the next start"),
        "the second stop wrote one too: {logs}"
    );
    assert!(data.join(kefu_server::SNAPSHOT_FILE).is_file());
}

/// The "data directory loaded" line of a start's JSON log.
fn start_up_line(logs: &str) -> serde_json::Value {
    logs.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["fields"]["message"] == "data directory loaded")
        .unwrap_or_else(|| panic!("no start-up line in {logs}"))
}

/// After SIGKILL the next start still takes the last graceful stop's snapshot, and loads again
/// only what the store wrote since: a new user and the conversation a send changed.
#[tokio::test]
async fn a_start_after_sigkill_catches_the_snapshot_up() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = spawn(&data, &[]);
    let api = Api::new(&server.base);
    let (account, appid, _, ann) = shop_with_ann(&api).await;
    assert!(server.terminate().success());

    let server = spawn(&data, &[]);
    let api = Api::new(&server.base);
    let (bob_id, bob) = api.messaging_follower(&appid, "Bob").await;
    let token = api.token(&account).await;
    let sent = api.send_text(&token, &ann, "hi").await;
    assert_eq!(sent["errcode"], 0, "{sent}");
    let ann_path = format!("/accounts/{appid}/conversations/{ann}");
    let bob_path = format!("/accounts/{appid}/conversations/{bob}");
    let before = (
        api.call(Method::GET, &ann_path, None).await,
        api.call(Method::GET, &bob_path, None).await,
    );
    assert_eq!(before.0["remaining"], 4, "{}", before.0);
    server.kill();

    let again = spawn_with(
        &data,
        &["--log-format", "json"],
        &[("KEFU_LOG", "warn,kefu=info")],
    );
    let api = Api::new(&again.base);
    let after = (
        api.call(Method::GET, &ann_path, None).await,
        api.call(Method::GET, &bob_path, None).await,
    );
    assert_eq!(after, before);
    let bob_user = api
        .call(Method::GET, &format!("/users/{bob_id}"), None)
        .await;
    assert_eq!(bob_user["nickname"], "Bob", "{bob_user}");
    let stderr_path = again.stderr_path.clone();
    assert!(again.terminate().success());
    let loaded = start_up_line(&std::fs::read_to_string(stderr_path).unwrap());
    assert_eq!(loaded["fields"]["from_snapshot"], true, "{loaded}");
    // Bob, his conversation and follow; Ann's conversation.
    assert_eq!(loaded["fields"]["snapshot_caught_up"], 4, "{loaded}");
}

#[tokio::test]
async fn no_snapshot_writes_none_and_deletes_an_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let snapshot = data.join(kefu_server::SNAPSHOT_FILE);
    let server = spawn(&data, &[]);
    let api = Api::new(&server.base);
    let (_, _, user_id, _) = shop_with_ann(&api).await;
    assert!(server.terminate().success());
    assert!(snapshot.is_file());

    let off = spawn(&data, &["--no-snapshot"]);
    assert!(!snapshot.exists(), "deleted at start");
    let api = Api::new(&off.base);
    let user = api
        .call(Method::GET, &format!("/users/{user_id}"), None)
        .await;
    assert_eq!(user["nickname"], "Ann", "read from the store: {user}");
    assert!(off.terminate().success());
    assert!(!snapshot.exists(), "none written");
}
