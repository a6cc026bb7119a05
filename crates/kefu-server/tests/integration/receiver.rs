//! Minimal webhooks on 127.0.0.1:0 for the push tests: each records what it was sent and
//! answers as its script says (a status and body, a delay, or never).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// One request the webhook received.
#[derive(Clone, Debug)]
pub struct Hit {
    pub method: Method,
    pub query: HashMap<String, String>,
    pub body: String,
}

/// How the webhook answers its `n`-th request (1-based).
pub enum Answer {
    Status(u16, String),
    /// Answers after a delay.
    Late(Duration, u16, String),
    /// Never answers.
    Hang,
}

type Script = dyn Fn(usize, &Hit) -> Answer + Send + Sync;

#[derive(Clone)]
struct Shared {
    hits: Arc<Mutex<Vec<Hit>>>,
    script: Arc<Mutex<Arc<Script>>>,
}

pub struct Receiver {
    pub url: String,
    shared: Shared,
}

impl Receiver {
    /// Starts a webhook that echoes `echostr` on GET and answers POSTs with `script`.
    pub async fn start(script: impl Fn(usize, &Hit) -> Answer + Send + Sync + 'static) -> Receiver {
        let shared = Shared {
            hits: Arc::default(),
            script: Arc::new(Mutex::new(Arc::new(script))),
        };
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/wechat", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, shared }
    }

    /// A webhook answering every POST `success`.
    pub async fn success() -> Receiver {
        Receiver::start(|_, _| Answer::Status(200, "success".into())).await
    }

    /// Changes how later requests are answered.
    pub fn script(&self, script: impl Fn(usize, &Hit) -> Answer + Send + Sync + 'static) {
        *self.shared.script.lock().unwrap() = Arc::new(script);
    }

    /// The POSTs received so far.
    pub fn posts(&self) -> Vec<Hit> {
        let hits = self.shared.hits.lock().unwrap();
        hits.iter()
            .filter(|h| h.method == Method::POST)
            .cloned()
            .collect()
    }

    pub fn gets(&self) -> usize {
        let hits = self.shared.hits.lock().unwrap();
        hits.iter().filter(|h| h.method == Method::GET).count()
    }
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let hit = Hit {
        method: method.clone(),
        query,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let n = {
        let mut hits = shared.hits.lock().unwrap();
        hits.push(hit.clone());
        hits.iter().filter(|h| h.method == method).count()
    };
    if method == Method::GET {
        let echo = hit.query.get("echostr").cloned().unwrap_or_default();
        return echo.into_response();
    }
    let script = shared.script.lock().unwrap().clone();
    match script(n, &hit) {
        Answer::Status(status, body) => answer(status, body),
        Answer::Late(delay, status, body) => {
            tokio::time::sleep(delay).await;
            answer(status, body)
        }
        Answer::Hang => std::future::pending().await,
    }
}

fn answer(status: u16, body: String) -> Response {
    (StatusCode::from_u16(status).unwrap(), body).into_response()
}

/// Polls `check` every 20 ms until it gives `Some`, for at most 10 s.
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The text of `<name>` in a push body.
pub fn field(xml: &str, name: &str) -> Option<String> {
    let doc = kefu_wechat::xml::parse(xml.as_bytes()).unwrap();
    doc.child_text(name).map(str::to_owned)
}

/// The deliveries of an account, newest first.
pub fn deliveries(listed: &Value) -> Vec<Value> {
    listed["deliveries"].as_array().unwrap().clone()
}
