//! `/api/v1/rollouts`: moving accounts from one rule set to another in grayscale batches
//! (RULES.md §4), with pauses, pins, progress and shadow counts; and each account's notices.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use kefu_policy::{Batch, PinSide, Rollout, RolloutError};
use kefu_store::{Key, Record, StoredRollout};
use serde_json::{Value, json};

use crate::app::{App, Ctx};
use crate::body::api_json;
use crate::error::ApiError;
use crate::policy::{RolloutMeta, facts};
use crate::rollout_file::{self, FileError, RolloutFile};
use crate::timefmt::rfc3339;
use crate::world::{Tx, World};

pub async fn create(
    State(app): State<App>,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let file = rollout_file::parse_value(api_json(body).await?).map_err(invalid)?;
    app.mutate(|world, tx, ctx| {
        let id = file.spec.id.clone();
        create_in(world, tx, ctx, file)?;
        Ok((StatusCode::CREATED, Json(render_id(world, ctx, &id)?)))
    })
    .await
}

/// Creates a rollout from a checked file (the API, and `kefu serve --rollout`).
pub fn create_in(
    world: &mut World,
    tx: &mut Tx,
    ctx: &Ctx<'_>,
    file: RolloutFile,
) -> Result<(), ApiError> {
    if world.policy.rollout(&file.spec.id).is_some() {
        return Err(ApiError::conflict(
            "rollout_exists",
            format!("a rollout with id {} exists already", file.spec.id),
        ));
    }
    let rollout = Rollout::new(file.spec, &world.policy.book).map_err(|e| invalid(e.into()))?;
    let meta = RolloutMeta {
        seq: tx.seq(),
        created_at: ctx.now,
        note: file.note,
    };
    save(world, tx, &rollout, &meta);
    let policy = Arc::make_mut(&mut world.policy);
    policy.rollout_meta.insert(rollout.id.clone(), meta);
    policy.rollouts.push(rollout);
    Ok(())
}

pub async fn list(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    app.read(|world, ctx| {
        let shown = ctx
            .rollouts
            .iter()
            .map(|r| render(world, ctx, r))
            .collect::<Vec<_>>();
        Ok(Json(json!({ "rollouts": shown })))
    })
    .await
}

pub async fn get(State(app): State<App>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    app.read(|world, ctx| Ok(Json(render_id(world, ctx, &id)?)))
        .await
}

pub async fn pause(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    change(&app, &id, |rollout, now| {
        rollout.pause(now).map_err(refused)
    })
    .await
}

pub async fn resume(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    change(&app, &id, |rollout, now| {
        rollout.resume(now).map_err(refused)
    })
    .await
}

pub async fn pin(
    State(app): State<App>,
    Path((id, appid)): Path<(String, String)>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let body = api_json(body).await?;
    let side = match body.get("pin").and_then(Value::as_str) {
        Some("from") => PinSide::From,
        Some("to") => PinSide::To,
        _ => {
            return Err(ApiError::invalid(
                "invalid_pin",
                "pin must be \"from\" or \"to\"",
            ));
        }
    };
    change(&app, &id, move |rollout, now| {
        rollout.pin(&appid, side, now);
        Ok(())
    })
    .await
}

pub async fn unpin(
    State(app): State<App>,
    Path((id, appid)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    change(&app, &id, |rollout, now| {
        if rollout.unpin(&appid, now) {
            Ok(())
        } else {
            Err(ApiError::not_found(
                "pin_not_found",
                format!("rollout {} has no pin for {appid}", rollout.id),
            ))
        }
    })
    .await
}

/// `GET /api/v1/accounts/{appid}/notices`: every change of the account's rule set, oldest first.
pub async fn notices(
    State(app): State<App>,
    Path(appid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    app.read(|world, ctx| {
        let account = crate::api::account(world, &appid)?;
        let notices =
            kefu_policy::notices(ctx.defaults, ctx.rollouts, &facts(&account.value), ctx.now);
        let shown: Vec<Value> = notices
            .iter()
            .map(|n| {
                json!({
                    "at": rfc3339(n.at),
                    "kind": kefu_policy::Notice::KIND,
                    "channel": n.channel.as_str(),
                    "from": n.from,
                    "to": n.to,
                    "text": n.text(),
                })
            })
            .collect();
        Ok(Json(json!({ "notices": shown })))
    })
    .await
}

/// Changes a rollout's history (pause, resume, pin) at the rule clock's now, and persists it.
async fn change(
    app: &App,
    id: &str,
    step: impl FnOnce(&mut Rollout, i64) -> Result<(), ApiError>,
) -> Result<Json<Value>, ApiError> {
    app.mutate(|world, tx, ctx| {
        let mut rollout = world
            .policy
            .rollout(id)
            .cloned()
            .ok_or_else(|| rollout_not_found(id))?;
        step(&mut rollout, ctx.now)?;
        let meta = world
            .policy
            .rollout_meta
            .get(id)
            .cloned()
            .unwrap_or(RolloutMeta {
                seq: 0,
                created_at: ctx.now,
                note: None,
            });
        save(world, tx, &rollout, &meta);
        let policy = Arc::make_mut(&mut world.policy);
        if let Some(slot) = policy.rollout_mut(id) {
            *slot = rollout;
        }
        Ok(Json(render_id(world, ctx, id)?))
    })
    .await
}

fn save(world: &mut World, tx: &mut Tx, rollout: &Rollout, meta: &RolloutMeta) {
    let stored = StoredRollout {
        seq: meta.seq,
        created_at: meta.created_at,
        note: meta.note.clone(),
        rollout: rollout.clone(),
    };
    tx.put(
        Key::Rollout(rollout.id.clone()),
        Record::Rollout(stored),
        &mut world.versions,
    );
}

fn render_id(world: &World, ctx: &Ctx<'_>, id: &str) -> Result<Value, ApiError> {
    let rollout = world
        .policy
        .rollout(id)
        .ok_or_else(|| rollout_not_found(id))?;
    Ok(render(world, ctx, rollout))
}

/// The rollout as the API shows it, with its progress now. Progress is read against the
/// world's policy (which includes changes made by the decision rendering it).
fn render(world: &World, ctx: &Ctx<'_>, rollout: &Rollout) -> Value {
    let policy = &world.policy;
    let accounts: Vec<_> = world.accounts.values().map(|a| facts(&a.value)).collect();
    let progress = kefu_policy::progress(
        rollout,
        &policy.defaults,
        &policy.rollouts,
        &accounts,
        ctx.now,
    );
    let meta = policy.rollout_meta.get(&rollout.id);
    let batch = |b: &Batch| json!({"at": rfc3339(b.at), "percent": b.percent()});
    json!({
        "id": rollout.id,
        "platform": rollout.platform.as_str(),
        "from": rollout.from,
        "to": rollout.to,
        "new_accounts_from": rfc3339(rollout.new_accounts_from),
        "batches": rollout.batches.iter().map(batch).collect::<Vec<_>>(),
        "channels": rollout.channels.as_ref().map(|cs| cs.iter().map(|c| c.as_str()).collect::<Vec<_>>()),
        "note": meta.and_then(|m| m.note.clone()),
        "created_at": meta.map(|m| rfc3339(m.created_at)),
        "active": rollout.is_active(ctx.now),
        "paused": rollout.is_paused(),
        "pauses": rollout.pauses().iter().map(|p| json!({
            "at": rfc3339(p.at), "resumed": p.resumed.map(rfc3339),
        })).collect::<Vec<_>>(),
        "pins": rollout.pins().iter().map(|p| json!({
            "appid": p.account, "pin": p.side.as_str(), "at": rfc3339(p.at), "until": p.until.map(rfc3339),
        })).collect::<Vec<_>>(),
        "progress": {
            "moved": progress.moved,
            "total": progress.total,
            "next_batch": progress.next_batch.as_ref().map(batch),
            "shadow": { "would_differ": world.shadow.would_differ(&rollout.id) },
        },
    })
}

/// A history step the rollout's state does not allow (already paused, not paused, complete).
fn refused(e: RolloutError) -> ApiError {
    let mut error = ApiError::conflict(e.reason(), e.to_string());
    error.extra = Some(reason(e.reason()));
    error
}

fn rollout_not_found(id: &str) -> ApiError {
    ApiError::not_found("rollout_not_found", format!("no rollout with id {id}"))
}

fn reason(reason: &str) -> serde_json::Map<String, Value> {
    let mut extra = serde_json::Map::new();
    extra.insert("reason".into(), reason.into());
    extra
}

fn invalid(e: FileError) -> ApiError {
    let mut error = ApiError::invalid("invalid_rollout", e.to_string());
    error.extra = Some(reason(e.reason()));
    error
}
