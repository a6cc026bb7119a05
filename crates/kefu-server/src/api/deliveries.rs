//! `/api/v1/accounts/{appid}/deliveries`: the webhook delivery log, newest first, and replay.
//! A pending delivery lives in the outbox (in the world) and an ended one in the store's log;
//! a list merges the two.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use kefu_store::{DeliveryKind, DeliveryRecord};
use serde_json::{Value, json};

use super::Page;
use crate::app::App;
use crate::error::{ApiError, Unavailable};
use crate::push::{Pushed, outbox};
use crate::timefmt::rfc3339;

pub async fn list(
    State(app): State<App>,
    Path(appid): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let page = Page::from_query(&query)?;
    let before = match query.get("before") {
        None => None,
        Some(id) => Some(
            id.parse::<u64>()
                .map_err(|_| ApiError::invalid("invalid_before", "before must be a delivery id"))?,
        ),
    };
    let pending = app
        .read(|world, _| {
            crate::api::account(world, &appid)?;
            Ok::<_, ApiError>(world.outbox.pending_of(&appid, before, page.limit))
        })
        .await?;
    let store = app.store();
    let ended = blocking(move || store.deliveries(&appid, before, page.limit)).await?;
    // A delivery that ended between the two reads is in both: the log's entry is the newer.
    let mut deliveries = ended;
    let logged: std::collections::HashSet<u64> = deliveries.iter().map(|d| d.id).collect();
    deliveries.extend(pending.into_iter().filter(|d| !logged.contains(&d.id)));
    deliveries.sort_unstable_by_key(|d| std::cmp::Reverse(d.id));
    deliveries.truncate(page.limit);
    let shown: Vec<Value> = deliveries.iter().map(render).collect();
    Ok(Json(json!({ "deliveries": shown })))
}

pub async fn replay(
    State(app): State<App>,
    Path((appid, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let wait = query.get("wait").map(String::as_str) != Some("false");
    let not_found = || {
        ApiError::not_found(
            "delivery_not_found",
            format!("no delivery {id} for account {appid}"),
        )
    };
    let number = id.parse::<u64>().map_err(|_| not_found())?;
    // A pending delivery is in the outbox; an ended one in the log (read once durable).
    let pending = app
        .read(|world, _| {
            Ok::<_, ApiError>(world.outbox.pending.get(&number).map(|e| e.value.clone()))
        })
        .await?;
    let original = match pending {
        Some(d) => Some(d),
        None => {
            let store = app.store();
            blocking(move || store.delivery(number)).await?
        }
    }
    .filter(|d| d.appid == appid)
    .ok_or_else(not_found)?;
    if original.kind == DeliveryKind::UrlVerification {
        return Err(ApiError::invalid(
            "not_replayable",
            "a URL verification is not replayed; PATCH the webhook_url to verify it again",
        ));
    }
    let pushed = app
        .mutate(|world, tx, ctx| outbox::replay(world, tx, ctx, &original))
        .await?;
    let new_id = match &pushed {
        Pushed::Enqueued { id, .. } => Some(id.to_string()),
        _ => None,
    };
    let (pushed, passive_reply) = pushed.answer(wait, app.pushes().patience()).await;
    Ok(Json(json!({
        "id": new_id,
        "replay_of": original.id.to_string(),
        "pushed": pushed,
        "passive_reply": passive_reply,
    })))
}

async fn blocking<T: Send + 'static>(
    read: impl FnOnce() -> Result<T, kefu_store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|e| ApiError::from(Unavailable(e.to_string())))?
        .map_err(|e| ApiError::from(Unavailable(e.to_string())))
}

/// A delivery as API.md shows it.
fn render(d: &DeliveryRecord) -> Value {
    let attempts: Vec<Value> = d
        .attempts
        .iter()
        .map(|a| {
            json!({
                "n": a.n,
                "at": rfc3339(a.at),
                "http_status": a.http_status,
                "latency_ms": a.latency_ms,
                "error": a.error,
            })
        })
        .collect();
    json!({
        "id": d.id.to_string(),
        "created_at": rfc3339(d.created_at),
        "kind": match d.kind {
            DeliveryKind::Push => "push",
            DeliveryKind::UrlVerification => "url_verification",
            DeliveryKind::Replay => "replay",
        },
        "event": (!d.event.is_empty()).then_some(d.event.as_str()),
        "msg_id": d.msg_id.map(|m| m.to_string()),
        "openid": (!d.openid.is_empty()).then_some(d.openid.as_str()),
        "url": d.url,
        "query": d.query,
        "body": d.body,
        "status": d.status.as_str(),
        "attempts": attempts,
        "passive_reply": d
            .passive_reply
            .as_deref()
            .and_then(|r| serde_json::from_str::<Value>(r).ok()),
        "replay_of": d.replay_of.map(|r| r.to_string()),
    })
}
