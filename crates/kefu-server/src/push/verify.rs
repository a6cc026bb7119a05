//! URL verification (WECHAT.md §6.1): before an account takes a new `webhook_url`, kefu GETs it
//! with `signature`, `timestamp`, `nonce` and `echostr`, and accepts the URL only if the answer
//! is 200 with `echostr` verbatim. It runs before the change's decision, never under the world
//! lock; the change is refused (422 `webhook_verification_failed`) unless it passes.

use std::time::Instant;

use kefu_store::{AttemptRecord, DeliveryKind, DeliveryRecord, DeliveryStatus};
use kefu_wechat::{signature, url_verification_query};

use super::Hub;
use super::wire::{exchange, with_query};
use crate::error::ApiError;
use crate::ids;

/// A passed verification, logged with the change it allowed.
#[derive(Clone, Debug)]
pub struct Verified {
    pub url: String,
    pub query: String,
    pub attempt: AttemptRecord,
}

impl Verified {
    /// The delivery-log entry of this verification, under `id`, at rule-clock `now`.
    pub fn record(self, id: u64, appid: &str, now: i64) -> DeliveryRecord {
        DeliveryRecord {
            id,
            appid: appid.to_owned(),
            user_id: String::new(),
            openid: String::new(),
            created_at: now,
            kind: DeliveryKind::UrlVerification,
            event: String::new(),
            msg_id: None,
            url: self.url,
            query: self.query,
            body: String::new(),
            status: DeliveryStatus::Delivered,
            attempts: vec![self.attempt],
            passive_reply: None,
            replay_of: None,
        }
    }
}

/// Runs WeChat's GET check of `url` with `token`; the refusal says what came back.
pub async fn verify_url(
    hub: &Hub,
    wall_now: i64,
    url: &str,
    token: &str,
) -> Result<Verified, ApiError> {
    let timestamp = wall_now.to_string();
    let nonce = ids::nonce();
    let echostr = ids::echostr();
    let query = url_verification_query(
        &signature(token, &timestamp, &nonce),
        &timestamp,
        &nonce,
        &echostr,
    );
    let started = Instant::now();
    let answer = exchange(
        hub.client().get(with_query(url, &query)),
        hub.config.timeout,
    )
    .await;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let failed = |why: String| {
        ApiError::invalid(
            "webhook_verification_failed",
            format!("WeChat's URL verification of {url} failed: {why}"),
        )
    };
    let (status, body) = answer.map_err(|f| failed(f.error))?;
    if status != 200 {
        return Err(failed(format!("it answered HTTP {status}{}", shown(&body))));
    }
    if body != echostr.as_bytes() {
        return Err(failed(format!(
            "it answered{} instead of the echostr {echostr:?} verbatim",
            shown(&body)
        )));
    }
    Ok(Verified {
        url: url.to_owned(),
        query,
        attempt: AttemptRecord {
            n: 1,
            at: wall_now,
            http_status: Some(status),
            latency_ms,
            error: None,
        },
    })
}

/// ` with body "…"` (the first 200 characters), or ` with an empty body`.
fn shown(body: &[u8]) -> String {
    if body.is_empty() {
        return " with an empty body".to_owned();
    }
    let text = String::from_utf8_lossy(body);
    let cut: String = text.chars().take(200).collect();
    let more = if cut.len() < text.len() { "…" } else { "" };
    format!(" with body {cut:?}{more}")
}
