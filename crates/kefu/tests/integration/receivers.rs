//! Pushes from the real binary to real webhooks: a wechatpy receiver and a WeRoBot receiver in
//! plain, compatible and safe mode (each checks the signature, decrypts, parses and answers a
//! passive reply that must reach the inbox); the hidden push timeout; queued pushes delivered
//! after a SIGKILL and a restart.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::clients::python;
use crate::support::{Api, repo_root, spawn};

const TOKEN: &str = "kefuToken2026";
const AES: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

/// A Python webhook process, killed when dropped.
struct PyHook {
    child: Child,
    url: String,
}

impl PyHook {
    fn spawn(script: &str, args: &[&str]) -> PyHook {
        let path = repo_root().join("crates/kefu/tests/clients").join(script);
        let mut child = Command::new(python())
            .arg(path)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let port: u16 = first
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{script} printed {first:?}"));
        PyHook {
            child,
            url: format!("http://127.0.0.1:{port}/wechat"),
        }
    }
}

impl Drop for PyHook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Sdk {
    Wechatpy,
    Werobot,
}

/// One account in `mode` whose webhook is `sdk`'s receiver: URL verification, then a follow and
/// messages whose pushes the receiver must verify, decrypt and parse, and whose passive replies
/// must reach the inbox.
async fn exercise(api: &Api, sdk: Sdk, mode: &str) {
    let account = api
        .call(
            Method::POST,
            "/accounts",
            Some(json!({"name": format!("{mode} shop"), "token": TOKEN,
                        "encoding_aes_key": AES, "encrypt_mode": mode})),
        )
        .await;
    let appid = account["appid"].as_str().unwrap();
    let original_id = account["original_id"].as_str().unwrap();
    let (hook, name) = match sdk {
        Sdk::Wechatpy => (
            PyHook::spawn("wechatpy_receiver.py", &[TOKEN, AES, appid]),
            "wechatpy",
        ),
        Sdk::Werobot => (
            PyHook::spawn("werobot_receiver.py", &[TOKEN, AES, appid, mode]),
            "werobot",
        ),
    };
    // Setting the URL runs WeChat's verification against the SDK's own check.
    api.call(
        Method::PATCH,
        &format!("/accounts/{appid}"),
        Some(json!({"webhook_url": hook.url})),
    )
    .await;
    let user = api
        .call(Method::POST, "/users", Some(json!({"nickname": "Wang"})))
        .await["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let actions = format!("/users/{user}/actions");
    let act = |body: Value| api.call(Method::POST, &actions, Some(body));
    let follow = act(json!({"appid": appid, "type": "follow"})).await;
    let openid = follow["openid"].as_str().unwrap().to_owned();
    let subscribe = match sdk {
        Sdk::Wechatpy => "subscribe",
        Sdk::Werobot => "subscribe_event",
    };
    let mut expected = vec![format!("{name} got {subscribe}")];
    let mut contents = vec!["hello 你好".to_owned()];
    if sdk == Sdk::Wechatpy && mode == "compat" {
        // Compatible mode takes a plain reply too.
        contents.push("plain please".to_owned());
    }
    let mut msg_ids = vec![];
    for content in &contents {
        let sent = act(json!({"appid": appid, "type": "message", "msgtype": "text",
                              "content": content}))
        .await;
        let reply = format!("{name} got {content}");
        assert_eq!(
            sent["pushed"]["status"], "delivered",
            "{name} {mode}: {sent}"
        );
        assert_eq!(
            sent["passive_reply"],
            json!({"msgtype": "text", "content": reply})
        );
        msg_ids.push(sent["pushed"]["msg_id"].as_str().unwrap().to_owned());
        expected.push(reply);
    }
    let located = act(
        json!({"appid": appid, "type": "message", "msgtype": "location",
                             "location_x": 23.134521, "location_y": 113.358803,
                             "label": "广州"}),
    )
    .await;
    assert_eq!(located["pushed"]["status"], "delivered", "{located}");
    expected.push(format!("{name} got location"));
    assert_eq!(
        follow["pushed"]["status"], "delivered",
        "{name} {mode}: {follow}"
    );

    let inbox = api
        .call(
            Method::GET,
            &format!("/users/{user}/inbox?appid={appid}"),
            None,
        )
        .await;
    let replies: Vec<&str> = inbox["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["source"] == "passive_reply")
        .map(|m| m["body"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(replies, expected, "{name} {mode}");

    let now = api.call(Method::GET, "/clock", None).await["unix"].clone();
    let seen: Vec<Value> = api
        .client
        .get(hook.url.replace("/wechat", "/seen"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen.len(), 2 + contents.len(), "{name} {mode}: {seen:?}");
    for record in &seen {
        assert_eq!(record["source"], openid.as_str());
        assert_eq!(record["target"], original_id);
        assert_eq!(record["time"], now);
        if sdk == Sdk::Wechatpy {
            assert_eq!(record["openid"], openid.as_str(), "the query's openid");
            assert_eq!(record["encrypted"], mode != "plain");
        }
    }
    for (record, (content, msg_id)) in seen[1..].iter().zip(contents.iter().zip(&msg_ids)) {
        assert_eq!(record["type"], "text");
        assert_eq!(record["content"], content.as_str());
        assert_eq!(
            record["id"].to_string(),
            *msg_id,
            "MsgId as the SDK parsed it"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wechatpy_and_werobot_receive_pushes_in_every_mode() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(&dir.path().join("data"), &[]);
    let api = Api::new(&server.base);
    for sdk in [Sdk::Wechatpy, Sdk::Werobot] {
        for mode in ["plain", "compat", "safe"] {
            exercise(&api, sdk, mode).await;
        }
    }
    assert!(server.terminate().success());
}

/// A webhook on a raw socket: it reads each request, then holds it until `answer` is set and
/// answers `success` (or gives up after 30 s).
struct RawHook {
    url: String,
    answer: Arc<AtomicBool>,
    bodies: Arc<Mutex<Vec<String>>>,
    accepted: Arc<AtomicUsize>,
}

fn raw_hook() -> RawHook {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/wechat", listener.local_addr().unwrap());
    let hook = RawHook {
        url,
        answer: Arc::default(),
        bodies: Arc::default(),
        accepted: Arc::default(),
    };
    let (answer, bodies, accepted) = (
        hook.answer.clone(),
        hook.bodies.clone(),
        hook.accepted.clone(),
    );
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (answer, bodies) = (answer.clone(), bodies.clone());
            accepted.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || hold(stream, &answer, &bodies));
        }
    });
    hook
}

fn hold(mut stream: TcpStream, answer: &AtomicBool, bodies: &Mutex<Vec<String>>) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    let body_start = loop {
        let Ok(n) = stream.read(&mut buf) else { return };
        if n == 0 {
            return;
        }
        request.extend_from_slice(&buf[..n]);
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..body_start]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while request.len() < body_start + length {
        let Ok(n) = stream.read(&mut buf) else { return };
        if n == 0 {
            return;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&request[body_start..]).into_owned();
    bodies.lock().unwrap().push(body);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !answer.load(Ordering::SeqCst) {
        if Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nsuccess");
}

/// Polls the newest deliveries of `appid` until `done` holds, for at most 10 s.
async fn deliveries_until(api: &Api, appid: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = api
            .call(Method::GET, &format!("/accounts/{appid}/deliveries"), None)
            .await;
        let list = listed["deliveries"].as_array().unwrap().clone();
        if done(&list) {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries never settled: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn account_on(api: &Api, url: &str) -> (String, String) {
    let account = api
        .call(
            Method::POST,
            "/accounts",
            Some(json!({"name": "Raw", "webhook_url": url, "token": TOKEN,
                        "verify_webhook": false})),
        )
        .await;
    let user = api
        .call(Method::POST, "/users", Some(json!({"nickname": "Li"})))
        .await;
    (
        account["appid"].as_str().unwrap().to_owned(),
        user["user_id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hidden_flag_shortens_the_push_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(&dir.path().join("data"), &["--push-timeout-ms", "300"]);
    let api = Api::new(&server.base);
    let hook = raw_hook();
    let (appid, user) = account_on(&api, &hook.url).await;
    let follow = api
        .call(
            Method::POST,
            &format!("/users/{user}/actions"),
            Some(json!({"appid": appid, "type": "follow"})),
        )
        .await;
    assert_eq!(follow["pushed"]["status"], "retrying", "{follow}");
    let list = deliveries_until(&api, &appid, |l| l[0]["status"] == "failed").await;
    let attempts = list[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3);
    for attempt in attempts {
        let error = attempt["error"].as_str().unwrap();
        assert!(error.contains("within 300 ms"), "{error}");
    }
    assert_eq!(hook.accepted.load(Ordering::SeqCst), 3);
    assert!(server.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_pushes_survive_sigkill_and_go_out_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = spawn(&data, &[]);
    let api = Api::new(&server.base);
    let hook = raw_hook();
    let (appid, user) = account_on(&api, &hook.url).await;
    let actions = format!("/users/{user}/actions?wait=false");
    let follow = api
        .call(
            Method::POST,
            &actions,
            Some(json!({"appid": appid, "type": "follow"})),
        )
        .await;
    assert_eq!(follow["pushed"]["status"], "queued");
    let sent = api
        .call(
            Method::POST,
            &actions,
            Some(json!({"appid": appid, "type": "message", "msgtype": "text",
                        "content": "are you there?"})),
        )
        .await;
    let msg_id = sent["pushed"]["msg_id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    while hook.bodies.lock().unwrap().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the pushes never reached the webhook"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();

    hook.answer.store(true, Ordering::SeqCst);
    let server = spawn(&data, &[]);
    let api = Api::new(&server.base);
    let list = deliveries_until(&api, &appid, |l| {
        l.len() == 2 && l.iter().all(|d| d["status"] == "delivered")
    })
    .await;
    assert_eq!(list[0]["msg_id"], msg_id.as_str());
    let bodies = hook.bodies.lock().unwrap().clone();
    let with_msg_id: Vec<&String> = bodies
        .iter()
        .filter(|b| b.contains(&format!("<MsgId>{msg_id}</MsgId>")))
        .collect();
    assert!(
        with_msg_id.len() >= 2,
        "sent before the kill and after the restart"
    );
    assert!(with_msg_id.iter().all(|b| *b == with_msg_id[0]));
    assert!(server.terminate().success());
}
