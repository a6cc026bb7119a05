//! A kefu on 127.0.0.1:0 with a virtual rule clock and a wall clock the test moves by hand.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kefu_server::clock::ManualClock;
use kefu_server::{App, ClockMode, Config, PushConfig};
use kefu_store::EmbeddedStore;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const ADMIN: &str = "test-admin-token";
/// 2026-11-24T00:00:00Z: where the virtual rule clock starts.
pub const START: i64 = 1_795_478_400;

pub struct Kefu {
    pub app: App,
    pub base: String,
    pub client: reqwest::Client,
    pub wall: ManualClock,
    pub dir: PathBuf,
    /// Whether this start took users and conversations from a snapshot.
    pub from_snapshot: bool,
    _temp: Option<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    served: Option<JoinHandle<std::io::Result<()>>>,
}

pub async fn start() -> Kefu {
    start_at(START).await
}

/// A kefu whose virtual rule clock starts at `clock_start`.
pub async fn start_at(clock_start: i64) -> Kefu {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().to_path_buf();
    let mut kefu = start_in_at(
        &dir,
        ManualClock::new(START),
        clock_start,
        PushConfig::default(),
    )
    .await;
    kefu._temp = Some(temp);
    kefu
}

/// Starts kefu on the data directory `dir` (kept by the caller across restarts).
pub async fn start_in(dir: &Path, wall: ManualClock) -> Kefu {
    start_in_at(dir, wall, START, PushConfig::default()).await
}

/// [`start_in`] with the delivery settings of a test (a short timeout, a small outbox).
pub async fn start_with(dir: &Path, wall: ManualClock, push: PushConfig) -> Kefu {
    start_in_at(dir, wall, START, push).await
}

async fn start_in_at(dir: &Path, wall: ManualClock, clock_start: i64, push: PushConfig) -> Kefu {
    let store = EmbeddedStore::open(dir).unwrap();
    let config = Config {
        store: Arc::new(store),
        clock_mode: ClockMode::Virtual,
        clock_start: Some(clock_start),
        clock_reset: false,
        admin_token: Some(ADMIN.into()),
        default_rulesets: vec![],
        rollouts: vec![],
        wall: Arc::new(wall.clone()),
        push,
        snapshot: Some(dir.to_path_buf()),
    };
    let (app, started) = App::open(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(kefu_server::run(listener, app.clone(), async {
        let _ = stopped.await;
    }));
    Kefu {
        app,
        base,
        client: reqwest::Client::new(),
        wall,
        dir: dir.to_path_buf(),
        from_snapshot: started.from_snapshot,
        _temp: None,
        stop: Some(stop),
        served: Some(served),
    }
}

impl Kefu {
    /// Shuts down gracefully (the writer drains) and starts again on the same data directory.
    pub async fn restart(mut self) -> Kefu {
        let temp = self._temp.take();
        let dir = self.dir.clone();
        let wall = self.wall.clone();
        self.stop().await;
        // The App holds the store, and the store its directory's lock.
        drop(self);
        let mut again = start_in(&dir, wall).await;
        again._temp = temp;
        again
    }

    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            served.await.unwrap().unwrap();
        }
    }

    /// An `/api/v1` call with the admin token; the status and the JSON answer (`null` if none).
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(ADMIN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `GET /api/v1/accounts/{appid}/conversations/{openid}`: the allowance explained.
    pub async fn conversation(&self, appid: &str, openid: &str) -> Value {
        let path = format!("/accounts/{appid}/conversations/{openid}");
        self.api_ok(Method::GET, &path, None).await
    }

    pub async fn api_ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.api(method.clone(), path, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {value}");
        value
    }

    /// A `/cgi-bin` GET: always HTTP 200 JSON.
    pub async fn cgi_get(&self, path_and_query: &str) -> Value {
        let response = self
            .client
            .get(format!("{}/cgi-bin{path_and_query}", self.base))
            .send()
            .await
            .unwrap();
        cgi_answer(response).await
    }

    /// A `/cgi-bin` POST of raw bytes with no Content-Type (as wechatpy sends).
    pub async fn cgi_post(&self, path_and_query: &str, body: impl Into<reqwest::Body>) -> Value {
        let response = self
            .client
            .post(format!("{}/cgi-bin{path_and_query}", self.base))
            .body(body)
            .send()
            .await
            .unwrap();
        cgi_answer(response).await
    }

    pub async fn account(&self, body: Value) -> Value {
        let (status, account) = self.api(Method::POST, "/accounts", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{account}");
        account
    }

    pub async fn user(&self, nickname: &str) -> String {
        let (status, user) = self
            .api(
                Method::POST,
                "/users",
                Some(json!({ "nickname": nickname })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        user["user_id"].as_str().unwrap().to_owned()
    }

    pub async fn act(&self, user_id: &str, body: Value) -> (StatusCode, Value) {
        self.api(
            Method::POST,
            &format!("/users/{user_id}/actions"),
            Some(body),
        )
        .await
    }

    pub async fn act_ok(&self, user_id: &str, body: Value) -> Value {
        let (status, answer) = self.act(user_id, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body} → {answer}");
        answer
    }

    pub async fn token(&self, account: &Value) -> String {
        let answer = self
            .cgi_get(&format!(
                "/token?grant_type=client_credential&appid={}&secret={}",
                account["appid"].as_str().unwrap(),
                account["secret"].as_str().unwrap()
            ))
            .await;
        answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {answer}"))
            .to_owned()
    }

    pub async fn send_text(&self, token: &str, openid: &str, content: &str) -> i64 {
        let body = json!({"touser": openid, "msgtype": "text", "text": {"content": content}});
        let answer = self
            .cgi_post(
                &format!("/message/custom/send?access_token={token}"),
                body.to_string(),
            )
            .await;
        answer["errcode"].as_i64().unwrap()
    }

    /// Sets the virtual rule clock (RFC 3339).
    pub async fn set_clock(&self, now: &str) {
        self.api_ok(Method::POST, "/clock/set", Some(json!({ "now": now })))
            .await;
    }

    pub async fn advance(&self, seconds: i64) {
        self.api_ok(
            Method::POST,
            "/clock/advance",
            Some(json!({ "seconds": seconds })),
        )
        .await;
    }

    pub async fn inbox(&self, user_id: &str) -> Vec<Value> {
        let inbox = self
            .api_ok(Method::GET, &format!("/users/{user_id}/inbox"), None)
            .await;
        inbox["messages"].as_array().unwrap().clone()
    }
}

async fn cgi_answer(response: reqwest::Response) -> Value {
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "/cgi-bin answers HTTP 200"
    );
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    response.json().await.unwrap()
}

/// An account, a follower who sent one message, and a token: the usual starting point.
pub struct Scene {
    pub account: Value,
    pub user: String,
    pub openid: String,
    pub token: String,
}

pub async fn scene(kefu: &Kefu) -> Scene {
    let account = kefu.account(json!({"name": "Coffee Shop"})).await;
    let appid = account["appid"].as_str().unwrap().to_owned();
    let user = kefu.user("Alice").await;
    let follow = kefu
        .act_ok(&user, json!({"appid": appid, "type": "follow"}))
        .await;
    let openid = follow["openid"].as_str().unwrap().to_owned();
    kefu.act_ok(
        &user,
        json!({"appid": appid, "type": "message", "msgtype": "text", "content": "hello"}),
    )
    .await;
    let token = kefu.token(&account).await;
    Scene {
        account,
        user,
        openid,
        token,
    }
}
