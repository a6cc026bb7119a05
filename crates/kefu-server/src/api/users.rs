//! `/api/v1/users`: the people kefu lets you act as, and what they received.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kefu_store::{InboxSource, Key, UserRecord};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Page;
use crate::app::App;
use crate::body::{api_json, typed};
use crate::error::ApiError;
use crate::ids;
use crate::timefmt::rfc3339;
use crate::users::UserRef;
use crate::world::Entry;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    #[serde(default)]
    nickname: String,
}

pub async fn create(State(app): State<App>, body: Body) -> Result<Response, ApiError> {
    let new: NewUser = typed(api_json(body).await?, "invalid_user")?;
    if new.nickname.chars().count() > 64 {
        return Err(ApiError::invalid(
            "invalid_user",
            "nickname must be at most 64 characters",
        ));
    }
    let user = app
        .mutate(|world, tx, ctx| {
            let user = UserRecord {
                user_id: ids::user_id(),
                nickname: new.nickname,
                created_at: ctx.now,
                seq: tx.seq(),
                openids: Default::default(),
            };
            let shown = render(&user);
            world.users.save(tx, Entry::new(user));
            Ok::<_, ApiError>(shown)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

pub async fn list(
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let page = Page::from_query(&query)?;
    app.read(|world, _| {
        let users = &world.users;
        let ids: Vec<(UserRef, &str)> = users
            .in_order()
            .into_iter()
            .map(|u| (u, users.user_id(u).unwrap_or_default()))
            .collect();
        let shown: Vec<Value> = page
            .apply(ids, |(_, id)| id)
            .into_iter()
            .filter_map(|(u, _)| users.at(u))
            .map(|u| render(&u.value))
            .collect();
        Ok(Json(json!({ "users": shown })))
    })
    .await
}

pub async fn get(
    State(app): State<App>,
    Path(user_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    app.read(|world, _| {
        let user = world
            .users
            .get(&user_id)
            .ok_or_else(|| ApiError::user_not_found(&user_id))?;
        Ok(Json(render(&user.value)))
    })
    .await
}

pub async fn delete(
    State(app): State<App>,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.mutate(|world, tx, _| {
        let user = world
            .users
            .remove(&user_id)
            .ok_or_else(|| ApiError::user_not_found(&user_id))?;
        tx.delete(Key::User(user_id.clone()), &user);
        for (appid, openid) in &user.value.openids {
            if let Some(removed) = world.conversations.remove(openid) {
                removed.delete(tx, appid);
            }
        }
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

pub async fn inbox(
    State(app): State<App>,
    Path(user_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let page = Page::from_query(&query)?;
    let after = match &page.after {
        None => 0,
        Some(id) => id
            .parse::<u64>()
            .map_err(|_| ApiError::invalid("invalid_after", "after must be a message id"))?,
    };
    let appid = query.get("appid").cloned();
    app.read(|world, _| {
        if !world.users.contains_key(&user_id) {
            return Err(ApiError::user_not_found(&user_id));
        }
        if let Some(appid) = &appid
            && !world.accounts.contains_key(appid)
        {
            return Err(ApiError::account_not_found(appid));
        }
        Ok(())
    })
    .await?;
    let store = app.store();
    let messages = tokio::task::spawn_blocking(move || {
        store.inbox(&user_id, appid.as_deref(), after, page.limit)
    })
    .await
    .map_err(|e| ApiError::from(crate::error::Unavailable(e.to_string())))?
    .map_err(|e| ApiError::from(crate::error::Unavailable(e.to_string())))?;
    let shown: Vec<Value> = messages
        .into_iter()
        .map(|m| {
            json!({
                "id": m.id.to_string(),
                "appid": m.appid,
                "openid": m.openid,
                "source": match m.source {
                    InboxSource::Custom => "custom",
                    InboxSource::PassiveReply => "passive_reply",
                    InboxSource::System => "system",
                },
                "msgtype": m.msgtype,
                "body": serde_json::from_str::<Value>(&m.body).unwrap_or(Value::Null),
                "sent_at": rfc3339(m.sent_at),
            })
        })
        .collect();
    Ok(Json(json!({ "messages": shown })))
}

fn render(user: &UserRecord) -> Value {
    json!({
        "user_id": user.user_id,
        "nickname": user.nickname,
        "openids": user.openids,
        "created_at": rfc3339(user.created_at),
    })
}
