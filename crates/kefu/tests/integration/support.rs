//! Starting the real `kefu` binary on a free port and talking to it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const ADMIN: &str = "binary-test-admin";

pub struct Server {
    pub child: Child,
    pub base: String,
    pub stderr_path: PathBuf,
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Starts `kefu serve` on 127.0.0.1:0 over `data_dir` and waits until it is ready.
pub fn spawn(data_dir: &Path, extra: &[&str]) -> Server {
    spawn_with(data_dir, extra, &[])
}

/// [`spawn`] with environment variables for the child.
pub fn spawn_with(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
    let stderr_path = data_dir.with_extension(format!("stderr-{}.log", nanos()));
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(["serve", "--listen", "127.0.0.1:0", "--clock", "virtual"])
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--admin-token", ADMIN])
        .args(extra)
        .env_remove("KEFU_LOG")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines
        .next()
        .expect("kefu printed nothing")
        .expect("kefu's stdout");
    let base = first
        .strip_prefix("kefu listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    // Keep draining stdout so kefu never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    wait_ready(&base);
    Server {
        child,
        base,
        stderr_path,
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn wait_ready(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if healthz_ok(base) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "kefu at {base} never became ready"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Server {
    /// SIGTERM, then waits (up to 10 s) for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "kefu ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// A test that fails before `terminate` or `kill` must not leave its kefu running.
impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A small async client for kefu's admin API.
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api {
            base: base.to_owned(),
            client: reqwest::Client::new(),
        }
    }

    /// A new user who follows `appid` and sends it a message (a 48-hour window of 5 sends):
    /// `(user_id, openid)`.
    pub async fn messaging_follower(&self, appid: &str, nickname: &str) -> (String, String) {
        let user = self
            .call(
                reqwest::Method::POST,
                "/users",
                Some(serde_json::json!({"nickname": nickname})),
            )
            .await;
        let user_id = user["user_id"].as_str().unwrap().to_owned();
        let actions = format!("/users/{user_id}/actions");
        let follow = self
            .call(
                reqwest::Method::POST,
                &actions,
                Some(serde_json::json!({"appid": appid, "type": "follow"})),
            )
            .await;
        self.call(
            reqwest::Method::POST,
            &actions,
            Some(serde_json::json!({"appid": appid, "type": "message", "msgtype": "text", "content": "hi"})),
        )
        .await;
        (user_id, follow["openid"].as_str().unwrap().to_owned())
    }

    /// A fresh access token for `account` (as `POST /api/v1/accounts` answered it).
    pub async fn token(&self, account: &Value) -> String {
        let answer: Value = self
            .client
            .get(format!("{}/cgi-bin/token", self.base))
            .query(&[
                ("grant_type", "client_credential"),
                ("appid", account["appid"].as_str().unwrap()),
                ("secret", account["secret"].as_str().unwrap()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {answer}"))
            .to_owned()
    }

    /// `message/custom/send` of a text to `openid`: WeChat's answer.
    pub async fn send_text(&self, token: &str, openid: &str, content: &str) -> Value {
        let body =
            serde_json::json!({"touser": openid, "msgtype": "text", "text": {"content": content}});
        self.client
            .post(format!(
                "{}/cgi-bin/message/custom/send?access_token={token}",
                self.base
            ))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .client
            .request(method.clone(), format!("{}/api/v1{path}", self.base))
            .bearer_auth(ADMIN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

/// A readiness probe without a runtime: a plain HTTP/1.1 request for /healthz.
fn healthz_ok(base: &str) -> bool {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}
