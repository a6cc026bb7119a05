//! `GET /metrics`: sends by errcode and request latency, in Prometheus text format.

use crate::support::{scene, start};

#[tokio::test]
async fn sends_are_counted_by_errcode_and_requests_timed_by_route() {
    let kefu = start().await;
    let s = scene(&kefu).await;
    for _ in 0..5 {
        assert_eq!(kefu.send_text(&s.token, &s.openid, "ok").await, 0);
    }
    assert_eq!(kefu.send_text(&s.token, &s.openid, "sixth").await, 45047);
    assert_eq!(kefu.send_text("bad", &s.openid, "x").await, 40001);

    let response = kefu
        .client
        .get(format!("{}/metrics", kefu.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "no admin token needed");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();
    for line in [
        r#"kefu_sends_total{api="custom/send",errcode="0",result="accepted"} 5"#,
        r#"kefu_sends_total{api="custom/send",errcode="40001",result="refused"} 1"#,
        r#"kefu_sends_total{api="custom/send",errcode="45047",result="refused"} 1"#,
        r#"kefu_http_requests_total{method="POST",route="/cgi-bin/message/custom/send",status="200"} 7"#,
        r#"kefu_http_requests_total{method="POST",route="/api/v1/users/{user_id}/actions",status="200"} 2"#,
        r#"kefu_http_request_duration_seconds_count{method="POST",route="/cgi-bin/message/custom/send"} 7"#,
        r#"kefu_http_request_duration_seconds_bucket{method="POST",route="/cgi-bin/message/custom/send",le="+Inf"} 7"#,
        "kefu_accounts 1",
        "kefu_users 1",
        "kefu_conversations 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    // What the world's tables hold, by table: one user and one conversation row at least.
    let memory = |table: &str| -> u64 {
        let prefix = format!("kefu_memory_bytes{{table=\"{table}\"}} ");
        let value = text.lines().find_map(|l| l.strip_prefix(prefix.as_str()));
        value
            .unwrap_or_else(|| panic!("no {table} in\n{text}"))
            .parse()
            .unwrap()
    };
    for table in [
        "conversation_rows",
        "conversation_index",
        "user_blocks",
        "user_slots",
    ] {
        assert!(memory(table) > 0, "{table} holds nothing in\n{text}");
    }
    memory("user_index");
    // Paths never become labels (they carry ids and tokens).
    assert!(!text.contains(&s.token) && !text.contains(&s.openid));
    // The embedded store timed its log appends: at least the scene's and the accepted sends'.
    let appends: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("kefu_store_log_append_seconds_count "))
        .expect("the store's log appends are published")
        .parse()
        .unwrap();
    assert!(appends >= 5, "{appends} log appends timed in\n{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("kefu_store_checkpoint_seconds_bucket{le=\"+Inf\"} "))
    );
}
