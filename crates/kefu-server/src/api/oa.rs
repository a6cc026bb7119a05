//! `GET /api/v1/accounts/{appid}/menu` and `.../qrcodes`: what the developer set up, read
//! without the developer's access_token.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use kefu_store::{QrCodeRecord, QrSceneValue};
use serde_json::{Value, json};

use super::Page;
use crate::app::App;
use crate::cgi::stored_menu;
use crate::error::ApiError;
use crate::timefmt::rfc3339;

/// The menu as created: `{"appid", "menu": {"button": [...]}, "created_at"}`, or 404.
pub async fn menu(
    State(app): State<App>,
    Path(appid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    app.read(|world, _| {
        if !world.accounts.contains_key(&appid) {
            return Err(ApiError::account_not_found(&appid));
        }
        let record = world.oa.menus.get(&appid).ok_or_else(|| {
            ApiError::not_found("menu_not_found", format!("account {appid} has no menu"))
        })?;
        let menu = stored_menu(&record.value).ok_or_else(|| {
            ApiError::not_found("menu_not_found", format!("account {appid} has no menu"))
        })?;
        Ok(Json(json!({
            "appid": appid,
            "menu": menu,
            "created_at": rfc3339(record.value.created_at),
        })))
    })
    .await
}

/// The account's QR codes, oldest first, paged by ticket.
pub async fn qrcodes(
    State(app): State<App>,
    Path(appid): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let page = Page::from_query(&query)?;
    app.read(|world, ctx| {
        if !world.accounts.contains_key(&appid) {
            return Err(ApiError::account_not_found(&appid));
        }
        let mut codes: Vec<&QrCodeRecord> = world
            .oa
            .qrcodes
            .values()
            .map(|qr| &qr.value)
            .filter(|qr| qr.appid == appid)
            .collect();
        codes.sort_by_key(|qr| qr.seq);
        let shown: Vec<Value> = page
            .apply(codes, |qr| &qr.ticket)
            .into_iter()
            .map(|qr| render(qr, ctx.now))
            .collect();
        Ok(Json(json!({ "qrcodes": shown })))
    })
    .await
}

fn render(qr: &QrCodeRecord, now: i64) -> Value {
    let (action_name, scene) = match (&qr.scene, qr.permanent) {
        (QrSceneValue::Id(id), false) => ("QR_SCENE", json!({ "scene_id": id })),
        (QrSceneValue::Str(s), false) => ("QR_STR_SCENE", json!({ "scene_str": s })),
        (QrSceneValue::Id(id), true) => ("QR_LIMIT_SCENE", json!({ "scene_id": id })),
        (QrSceneValue::Str(s), true) => ("QR_LIMIT_STR_SCENE", json!({ "scene_str": s })),
    };
    json!({
        "ticket": qr.ticket,
        "url": qr.url,
        "kind": if qr.permanent { "permanent" } else { "temporary" },
        "action_name": action_name,
        "scene": scene,
        "created_at": rfc3339(qr.created_at),
        "expires_at": qr.expires_at.map(rfc3339),
        "expired": qr.expires_at.is_some_and(|at| now >= at),
    })
}
