//! Push delivery throughput: pushes enqueued straight into the delivery worker (each one built,
//! AES-encrypted and signed in safe mode, written to the outbox and the log, POSTed, its
//! outcome committed durably), to a minimal Rust receiver on 127.0.0.1; beside the same
//! receiver's plain-HTTP ceiling (the same bodies POSTed by one reqwest client at the same
//! concurrency, nothing else), measured in the same run.
//!
//! `cargo bench -p kefu-server --bench pushes` (bench profile). Optional: `PUSHES=N` (default
//! 40000), `ACCOUNTS=N` (default 32), `STORE=memory` (the memory backend instead of redb),
//! `WORKERS=N` and `PER_ACCOUNT=N` (the pool's limits; kefu's defaults otherwise).

#![allow(clippy::unwrap_used, clippy::expect_used)]

// The allocator `kefu serve` runs with, so the figure is the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use kefu_server::clock::SystemClock;
use kefu_server::push::{self, PushConfig};
use kefu_server::{App, ClockMode, Config};
use kefu_store::EmbeddedStore;
use kefu_wechat::PushKind;
use serde_json::{Value, json};

const TOKEN: &str = "benchToken";
const AES: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
const ADMIN: &str = "bench-admin";

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench(env("PUSHES", 40_000), env("ACCOUNTS", 32)));
}

async fn receiver() -> String {
    let app = Router::new().route("/wechat", post(|| async { "success" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/wechat", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn bench(pushes: usize, accounts: usize) {
    let url = receiver().await;
    let defaults = PushConfig::default();
    let config = PushConfig {
        capacity: pushes + 1,
        workers: env("WORKERS", defaults.workers),
        per_account: env("PER_ACCOUNT", defaults.per_account),
        ..defaults
    };
    let concurrency = config.workers.min(config.per_account * accounts);
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn kefu_store::Store> = if std::env::var("STORE").as_deref() == Ok("memory") {
        Arc::new(kefu_store::MemoryStore::new())
    } else {
        Arc::new(EmbeddedStore::open(dir.path()).unwrap())
    };
    let (app, _) = App::open(Config {
        store,
        clock_mode: ClockMode::Virtual,
        clock_start: None,
        clock_reset: false,
        admin_token: Some(ADMIN.into()),
        default_rulesets: vec![],
        rollouts: vec![],
        wall: Arc::new(SystemClock),
        push: config,
        snapshot: None,
    })
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    tokio::spawn(kefu_server::run(
        listener,
        app.clone(),
        std::future::pending(),
    ));
    let client = reqwest::Client::new();
    let call = async |path: &str, body: Value| -> Value {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    };
    let mut followers = vec![];
    for n in 0..accounts {
        let account = call(
            "/accounts",
            json!({"name": format!("bench {n}"), "webhook_url": url, "token": TOKEN,
                   "encoding_aes_key": AES, "encrypt_mode": "safe", "verify_webhook": false}),
        )
        .await;
        let appid = account["appid"].as_str().unwrap().to_owned();
        let user = call("/users", json!({"nickname": "bench"})).await;
        let user_id = user["user_id"].as_str().unwrap();
        let follow = call(
            &format!("/users/{user_id}/actions"),
            json!({"appid": appid, "type": "follow"}),
        )
        .await;
        followers.push((appid, follow["openid"].as_str().unwrap().to_owned()));
    }
    wait_idle(&app).await;
    let body_len = last_body_len(&client, &base, &followers[0].0).await;

    // The receiver's ceiling: the same number of POSTs of the same size, at the same
    // concurrency, from one client.
    let ceiling = plain_http(&url, pushes, concurrency, body_len).await;

    // kefu: enqueue in batches of 500 per decision, as fast as commits allow, then wait until
    // the outbox is empty (every outcome durable).
    let started = Instant::now();
    let per_account = pushes / accounts;
    let mut enqueues = vec![];
    for (appid, openid) in &followers {
        let app = app.clone();
        let (appid, openid) = (appid.clone(), openid.clone());
        enqueues.push(tokio::spawn(async move {
            let mut left = per_account;
            while left > 0 {
                let n = left.min(500);
                let kinds = (0..n).map(text_push).collect();
                push::enqueue(&app, &appid, &openid, kinds)
                    .await
                    .expect("enqueue");
                left -= n;
            }
        }));
    }
    for handle in enqueues {
        handle.await.unwrap();
    }
    let enqueued = started.elapsed();
    wait_idle(&app).await;
    let elapsed = started.elapsed();
    let total = per_account * accounts;
    let rate = total as f64 / elapsed.as_secs_f64();
    println!(
        "pushes: {total} safe-mode pushes to {accounts} accounts, {concurrency} in flight at most"
    );
    println!(
        "  kefu delivery worker: {:.0} pushes/s ({:.2} s; all enqueued after {:.2} s)",
        rate,
        elapsed.as_secs_f64(),
        enqueued.as_secs_f64()
    );
    println!("  receiver ceiling (plain HTTP, {body_len}-byte bodies): {ceiling:.0} requests/s");
    println!("  ratio kefu / ceiling: {:.2}", rate / ceiling);
    let target = if rate >= 20_000.0 { "met" } else { "not met" };
    println!("  target >= 20000 pushes/s: {target}");
}

fn text_push(i: usize) -> PushKind {
    PushKind::Text {
        content: format!("你好，我想查询一下我的订单什么时候发货？订单号 20261124-{i:04}"),
        msg_id: 0,
        bizmsgmenuid: None,
    }
}

async fn wait_idle(app: &App) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while push::pending(app).await > 0 {
        assert!(Instant::now() < deadline, "deliveries never finished");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn last_body_len(client: &reqwest::Client, base: &str, appid: &str) -> usize {
    let log: Value = client
        .get(format!("{base}/accounts/{appid}/deliveries?limit=1"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    log["deliveries"][0]["body"].as_str().unwrap().len() + 64
}

async fn plain_http(url: &str, requests: usize, concurrency: usize, body_len: usize) -> f64 {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let body = axum::body::Bytes::from(vec![b'x'; body_len]);
    let started = Instant::now();
    let mut tasks = vec![];
    for worker in 0..concurrency {
        let (client, url, body) = (client.clone(), url.to_owned(), body.clone());
        let share = requests / concurrency + usize::from(worker < requests % concurrency);
        tasks.push(tokio::spawn(async move {
            for _ in 0..share {
                let response = client.post(&url).body(body.clone()).send().await.unwrap();
                assert!(response.status().is_success());
                response.bytes().await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    requests as f64 / started.elapsed().as_secs_f64()
}
