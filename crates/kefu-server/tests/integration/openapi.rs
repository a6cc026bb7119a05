//! The contract test: every path and field of shared/API.md's implemented sections appears in
//! the generated `/api/v1/openapi.json`, and every operation it declares is routed.

use std::collections::BTreeSet;
use std::path::PathBuf;

use reqwest::Method;
use serde_json::Value;

use crate::support::{ADMIN, start};

/// API.md sections whose endpoints later issues build; this list shrinks as they land.
const PENDING: &[&str] = &["Enterprises (WeCom)"];

fn api_md() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/API.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the contract test reads docs/API.md, kefu's API contract ({}): {e}",
            path.display()
        )
    })
}

/// `(title, text)` of each `## ` section.
fn sections(md: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in md.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            out.push((title.trim().to_owned(), String::new()));
        } else if let Some((_, text)) = out.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    out
}

/// The section's code: fenced blocks, and inline spans (which may wrap a line).
fn code(text: &str) -> (Vec<String>, Vec<String>) {
    let mut fenced = Vec::new();
    let mut prose = String::new();
    let mut block: Option<String> = None;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            match block.take() {
                Some(done) => fenced.push(done),
                None => block = Some(String::new()),
            }
            continue;
        }
        match &mut block {
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
            None => {
                prose.push_str(line);
                prose.push(' ');
            }
        }
    }
    let spans = prose
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    (fenced, spans)
}

/// Field names in JSON-ish text: a quoted identifier that is a key (`"a":`) or an item of a
/// field list (`{"a", "b"}`), never a value (`: "a"`, `| "b"`).
fn fields(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut i = 0;
    while let Some(open) = text[i..].find('"').map(|o| o + i) {
        let Some(close) = text[open + 1..].find('"').map(|c| c + open + 1) else {
            break;
        };
        let word = &text[open + 1..close];
        let before = text[..open].trim_end().chars().last();
        let after = text[close + 1..].trim_start().chars().next();
        let identifier = !word.is_empty()
            && word
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let is_key = after == Some(':') || matches!(before, Some('{' | ','));
        if identifier && is_key {
            out.insert(word.to_owned());
        }
        i = close + 1;
    }
    out
}

/// `(method, path)` pairs named in spans like `GET /api/v1/clock`; method `None` for a bare path.
fn endpoints(spans: &[String]) -> BTreeSet<(Option<String>, String)> {
    let mut out = BTreeSet::new();
    for span in spans {
        let mut words = span.split(' ');
        let first = words.next().unwrap_or_default();
        let (method, path) = match first {
            "GET" | "POST" | "PUT" | "PATCH" | "DELETE" => {
                (Some(first.to_lowercase()), words.next().unwrap_or_default())
            }
            _ => (None, first),
        };
        if !(path.starts_with("/api/v1/") || path == "/healthz" || path == "/metrics") {
            continue;
        }
        let path = path.split('?').next().unwrap_or_default().to_owned();
        out.insert((method, path));
    }
    out
}

/// Every property and parameter name in the document.
fn names(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get("properties") {
                out.extend(properties.keys().cloned());
            }
            if map.get("in").is_some()
                && let Some(Value::String(name)) = map.get("name")
            {
                out.insert(name.clone());
            }
            map.values().for_each(|v| names(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| names(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_implemented_section_of_api_md_is_in_the_openapi_document() {
    let kefu = start().await;
    let (status, doc) = kefu.api(Method::GET, "/openapi.json", None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    let mut declared = BTreeSet::new();
    names(&doc, &mut declared);

    let md = api_md();
    let all = sections(&md);
    for pending in PENDING {
        assert!(
            all.iter().any(|(title, _)| title == pending),
            "pending section {pending:?} is not in API.md any more: update PENDING"
        );
    }
    let mut checked = 0;
    for (title, text) in all.iter().filter(|(t, _)| !PENDING.contains(&t.as_str())) {
        let (fenced, spans) = code(text);
        for (method, path) in endpoints(&spans) {
            let operations = &doc["paths"][&path];
            assert!(
                operations.is_object(),
                "{title}: {path} is not in openapi.json"
            );
            if let Some(method) = method {
                assert!(
                    operations[&method].is_object(),
                    "{title}: {method} {path} is not in openapi.json"
                );
            }
            checked += 1;
        }
        let json_spans = spans.iter().filter(|s| s.starts_with('{'));
        for text in fenced.iter().chain(json_spans) {
            for field in fields(text) {
                assert!(
                    declared.contains(&field),
                    "{title}: field {field:?} is not in openapi.json"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 60, "the contract checked only {checked} items");
}

#[tokio::test]
async fn every_declared_operation_is_routed() {
    let kefu = start().await;
    let (_, doc) = kefu.api(Method::GET, "/openapi.json", None).await;
    let paths = doc["paths"].as_object().unwrap();
    for (path, operations) in paths {
        let concrete = path
            .replace("{appid}", "wx0000000000000000")
            .replace("{user_id}", "u_nobody")
            .replace("{openid}", "o_nobody")
            .replace("{name}", "no-such-ruleset")
            .replace("{id}", "no-such-rollout");
        for method in operations.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = kefu
                .client
                .request(method.clone(), format!("{}{concrete}", kefu.base))
                .bearer_auth(ADMIN)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert_ne!(status, 405, "{method} {path}");
            assert_ne!(
                body["error"]["code"], "not_found",
                "{method} {path} is declared but not routed"
            );
        }
    }
}

#[test]
fn the_field_reader_tells_keys_from_values() {
    let got = fields(
        r#"{"messages": [{"id", "appid", "source": "custom" | "passive_reply", "body": {...}, "sent_at"}]} ["mobile"]"#,
    );
    let want: BTreeSet<String> = ["messages", "id", "appid", "source", "body", "sent_at"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(got, want);
}
