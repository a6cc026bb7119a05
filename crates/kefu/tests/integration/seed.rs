//! `kefu serve --seed FILE` and `--demo` as an operator runs them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use reqwest::Method;
use serde_json::Value;

use crate::support::{ADMIN, Api, Server, spawn};

const SEED: &str = r#"
[[accounts]]
appid = "wx0123456789abcdef"
secret = "0123456789abcdef0123456789abcdef"
name = "CI Coffee"

[[users]]
user_id = "u_alice"
nickname = "Alice"

[[follows]]
user_id = "u_alice"
appid = "wx0123456789abcdef"
openid = "oAlice0000000000000000000001"
"#;

async fn token(base: &str) -> Value {
    reqwest::get(format!(
        "{base}/cgi-bin/token?grant_type=client_credential&appid=wx0123456789abcdef\
         &secret=0123456789abcdef0123456789abcdef"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

#[tokio::test]
async fn a_seed_gives_ci_known_credentials_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.toml");
    std::fs::write(&seed, SEED).unwrap();
    let data = dir.path().join("data");
    let seed_arg = seed.to_str().unwrap();
    for _ in 0..2 {
        let server = spawn(&data, &["--seed", seed_arg]);
        let answer = token(&server.base).await;
        let access = answer["access_token"].as_str().unwrap();
        let api = Api::new(&server.base);
        let info: Value = api
            .client
            .get(format!(
                "{}/cgi-bin/user/info?access_token={access}&openid=oAlice0000000000000000000001",
                server.base
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["subscribe"], 1, "{info}");
        let users = api.call(Method::GET, "/users", None).await;
        assert_eq!(users["users"].as_array().unwrap().len(), 1);
        assert!(server.terminate().success());
    }
}

#[test]
fn a_bad_seed_stops_kefu_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.toml");
    std::fs::write(&seed, "[[accounts]]\nappid = \"nope\"\nname = \"x\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(["serve", "--listen", "127.0.0.1:0", "--clock", "virtual"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--admin-token", ADMIN, "--seed"])
        .arg(&seed)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("appid must be"), "{stderr}");
}

#[tokio::test]
async fn the_demo_prints_working_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--clock",
            "virtual",
            "--demo",
        ])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--admin-token", ADMIN])
        .env_remove("KEFU_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("demo user u_demo_bob");
        printed.push(line);
        if done {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let base = printed[0]
        .strip_prefix("kefu listening on ")
        .unwrap()
        .to_owned();
    // Killed when dropped, should an assertion below fail; its stderr is discarded.
    let server = Server {
        child,
        base: base.clone(),
        stderr_path: Default::default(),
    };
    let token_url = printed
        .iter()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap_or_else(|| panic!("{printed:?}"));
    let answer: Value = reqwest::get(token_url).await.unwrap().json().await.unwrap();
    let access = answer["access_token"].as_str().unwrap();
    let menu: Value = reqwest::get(format!("{base}/cgi-bin/menu/get?access_token={access}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(menu["menu"]["button"][0]["key"], "DEMO_TODAY");
    let qr_url = printed
        .iter()
        .find_map(|l| l.split_once("QR code \"demo-poster\": ").map(|(_, u)| u))
        .unwrap();
    let image = reqwest::get(qr_url).await.unwrap();
    assert_eq!(image.headers()["content-type"], "image/png");
    assert!(
        printed
            .iter()
            .any(|l| l.starts_with("demo user u_demo_alice (Alice): follows ")),
        "{printed:?}"
    );
    server.kill();
}
