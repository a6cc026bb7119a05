//! SIGKILL during concurrent sends: every acknowledged send survives, and no quota grows back.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Api, spawn};

const USERS: usize = 16;
const SENDS_PER_USER: usize = 8;
const QUOTA: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_sends_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = spawn(&data, &[]);
    let api = Api::new(&server.base);
    let account = api
        .call(
            Method::POST,
            "/accounts",
            Some(json!({"name": "Crash Shop"})),
        )
        .await;
    let appid = account["appid"].as_str().unwrap().to_owned();
    let mut people = vec![];
    for n in 0..USERS {
        people.push(api.messaging_follower(&appid, &format!("u{n}")).await);
    }
    let token = api.token(&account).await;

    // Fire every send at once; kill the server once a third of the answers are in.
    let answered = Arc::new(AtomicUsize::new(0));
    let mut sends = tokio::task::JoinSet::new();
    for (_, openid) in &people {
        for n in 0..SENDS_PER_USER {
            let client = api.client.clone();
            let url = format!(
                "{}/cgi-bin/message/custom/send?access_token={token}",
                server.base
            );
            let content = format!("{openid}#{n}");
            let body = json!({"touser": openid, "msgtype": "text", "text": {"content": content}});
            let answered = answered.clone();
            sends.spawn(async move {
                let answer = client.post(url).body(body.to_string()).send().await.ok()?;
                let value: Value = answer.json().await.ok()?;
                answered.fetch_add(1, Ordering::SeqCst);
                Some((content, value["errcode"].as_i64()?))
            });
        }
    }
    let total = USERS * SENDS_PER_USER;
    while answered.load(Ordering::SeqCst) < total / 3 {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    server.kill();
    let mut acknowledged = vec![];
    while let Some(result) = sends.join_next().await {
        if let Some((content, 0)) = result.unwrap() {
            acknowledged.push(content);
        }
    }
    assert!(!acknowledged.is_empty());

    let server = spawn(&data, &[]);
    let api = Api::new(&server.base);
    let mut delivered: HashMap<String, Vec<String>> = HashMap::new();
    for (user_id, openid) in &people {
        let inbox = api
            .call(Method::GET, &format!("/users/{user_id}/inbox"), None)
            .await;
        let contents: Vec<String> = inbox["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["body"]["content"].as_str().unwrap().to_owned())
            .collect();
        assert!(contents.len() <= QUOTA, "{openid}: {contents:?}");
        let conversation = api
            .call(
                Method::GET,
                &format!("/accounts/{appid}/conversations/{openid}"),
                None,
            )
            .await;
        assert_eq!(
            conversation["remaining"].as_u64().unwrap() as usize,
            QUOTA - contents.len(),
            "remaining = quota − custom messages in the inbox, for {openid}"
        );
        delivered.insert(openid.clone(), contents);
    }
    for content in &acknowledged {
        let openid = content.split('#').next().unwrap();
        assert!(
            delivered[openid].contains(content),
            "acknowledged send {content} was lost in the crash"
        );
    }
    assert!(server.terminate().success());
}
