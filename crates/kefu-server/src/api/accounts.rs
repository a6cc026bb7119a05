//! `/api/v1/accounts`: Official Accounts, with their credentials (the admin owns them).

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kefu_policy::Channel;
use kefu_store::{AccountRecord, AccountType, EncryptMode, Key, TrafficEvent};
use serde_json::{Map, Value, json};

use super::Page;
use crate::app::{App, Ctx};
use crate::body::api_json;
use crate::error::ApiError;
use crate::ids;
use crate::push::{Verified, verify_url};
use crate::timefmt::{parse_rfc3339, rfc3339};
use crate::world::{Entry, Tx, World};

fn blank(now: i64) -> AccountRecord {
    AccountRecord {
        appid: ids::appid(),
        secret: ids::secret(),
        original_id: ids::original_id(),
        name: String::new(),
        account_type: AccountType::Service,
        webhook_url: None,
        token: None,
        encoding_aes_key: None,
        encrypt_mode: EncryptMode::Plain,
        registered_at: now,
        created_at: now,
        seq: 0,
    }
}

/// WeChat's URL verification of the webhook `account` would have, when `changed` and not
/// switched off with `"verify_webhook": false`. Runs before the decision, outside the lock.
async fn verification(
    app: &App,
    account: &AccountRecord,
    changed: bool,
    fields: &Map<String, Value>,
) -> Result<Option<Verified>, ApiError> {
    let skip = fields.get("verify_webhook") == Some(&Value::Bool(false));
    match (&account.webhook_url, &account.token) {
        (Some(url), Some(token)) if changed && !skip => {
            verify_url(app.pushes(), app.wall_now(), url, token)
                .await
                .map(Some)
        }
        _ => Ok(None),
    }
}

pub async fn create(State(app): State<App>, body: Body) -> Result<Response, ApiError> {
    let fields = object(api_json(body).await?)?;
    if !fields.contains_key("name") {
        return Err(invalid("name is required"));
    }
    // Every field is checked before the webhook hears anything.
    let mut probe = blank(0);
    apply(&mut probe, &fields)?;
    let verified = verification(&app, &probe, true, &fields).await?;
    let account = app
        .mutate(|world, tx, ctx| {
            let mut account = blank(ctx.now);
            apply(&mut account, &fields)?;
            let entry = register(world, tx, ctx.now, account);
            if let Some(verified) = verified {
                let id = tx.seq();
                tx.delivery(verified.record(id, &entry.value.appid, ctx.now));
            }
            Ok::<_, ApiError>(render(&entry.value, ctx))
        })
        .await?;
    Ok((StatusCode::CREATED, Json(account)).into_response())
}

/// A new account enters the world: its creation order, its traffic line (replays need every
/// account's registration), its record.
pub(crate) fn register<'w>(
    world: &'w mut World,
    tx: &mut Tx,
    now: i64,
    mut account: AccountRecord,
) -> &'w mut Entry<AccountRecord> {
    account.seq = tx.seq();
    let appid = account.appid.clone();
    tx.traffic(
        now,
        TrafficEvent::Account {
            appid: appid.clone(),
            platform: "oa".into(),
            registered_at: account.registered_at,
        },
    );
    let mut entry = Entry::new(account);
    tx.save(Key::Account(appid.clone()), &mut entry);
    let slot = world.accounts.entry(appid).insert_entry(entry);
    slot.into_mut()
}

pub async fn list(
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let page = Page::from_query(&query)?;
    app.read(|world, ctx| {
        let mut accounts: Vec<&AccountRecord> = world.accounts.values().map(|e| &e.value).collect();
        accounts.sort_by_key(|a| a.seq);
        let page = page.apply(accounts, |a| &a.appid);
        let shown: Vec<Value> = page.into_iter().map(|a| render(a, ctx)).collect();
        Ok(Json(json!({ "accounts": shown })))
    })
    .await
}

pub async fn get(
    State(app): State<App>,
    Path(appid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    app.read(|world, ctx| {
        let account = crate::api::account(world, &appid)?;
        Ok(Json(render(&account.value, ctx)))
    })
    .await
}

pub async fn patch(
    State(app): State<App>,
    Path(appid): Path<String>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let fields = object(api_json(body).await?)?;
    let (url_changed, probe) = app
        .read(|world, _| {
            let entry = crate::api::account(world, &appid)?;
            let mut probe = entry.value.clone();
            apply(&mut probe, &fields)?;
            Ok::<_, ApiError>((probe.webhook_url != entry.value.webhook_url, probe))
        })
        .await?;
    let verified = verification(&app, &probe, url_changed, &fields).await?;
    app.mutate(|world, tx, ctx| {
        let entry = world
            .accounts
            .get_mut(&appid)
            .ok_or_else(|| ApiError::account_not_found(&appid))?;
        let mut changed = entry.value.clone();
        apply(&mut changed, &fields)?;
        if changed != entry.value {
            entry.value = changed;
            tx.save(Key::Account(appid.clone()), entry);
        }
        if let Some(verified) = verified {
            let id = tx.seq();
            tx.delivery(verified.record(id, &appid, ctx.now));
        }
        Ok(Json(render(&entry.value, ctx)))
    })
    .await
}

pub async fn delete(
    State(app): State<App>,
    Path(appid): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.mutate(|world, tx, _| {
        let account = world
            .accounts
            .remove(&appid)
            .ok_or_else(|| ApiError::account_not_found(&appid))?;
        tx.delete(Key::Account(appid.clone()), &account);
        forget_account(world, tx, &appid);
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Removes everything of `appid` but the account record: its pending pushes and MsgId counter,
/// its tokens, conversations, the openids its users had on it, and its menu, QR codes, follows
/// and KF accounts.
fn forget_account(world: &mut World, tx: &mut Tx, appid: &str) {
    world.outbox.forget_account(tx, appid);
    world.oa.forget_account(tx, appid);
    if let Some(tokens) = world.tokens.remove(appid) {
        for issued in &tokens.value.tokens {
            world.token_index.remove(&issued.token);
        }
        tx.delete(Key::Tokens(appid.to_owned()), &tokens);
    }
    for removed in world.conversations.remove_account(appid) {
        removed.delete(tx, appid);
        if let Some(mut user) = world.users.at(removed.user) {
            user.value.openids.remove(appid);
            world.users.save(tx, user);
        }
    }
}

/// The account as `/api/v1` shows it.
pub fn render(account: &AccountRecord, ctx: &Ctx<'_>) -> Value {
    let ruleset = ctx.ruleset_for(account, Channel::Api);
    json!({
        "appid": account.appid,
        "secret": account.secret,
        "original_id": account.original_id,
        "name": account.name,
        "account_type": match account.account_type {
            AccountType::Service => "service",
            AccountType::Subscription => "subscription",
        },
        "webhook_url": account.webhook_url,
        "token": account.token,
        "encoding_aes_key": account.encoding_aes_key,
        "encrypt_mode": match account.encrypt_mode {
            EncryptMode::Plain => "plain",
            EncryptMode::Compat => "compat",
            EncryptMode::Safe => "safe",
        },
        "registered_at": rfc3339(account.registered_at),
        "created_at": rfc3339(account.created_at),
        "ruleset": ctx.rules.get(ruleset).name,
    })
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::invalid("invalid_account", message)
}

fn object(value: Value) -> Result<Map<String, Value>, ApiError> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(invalid("the body must be a JSON object")),
    }
}

/// Applies the fields of a create or patch body, then checks the account as a whole.
pub(crate) fn apply(
    account: &mut AccountRecord,
    fields: &Map<String, Value>,
) -> Result<(), ApiError> {
    for (field, value) in fields {
        match field.as_str() {
            "name" => {
                let name = string(field, value)?;
                if name.trim().is_empty() || name.chars().count() > 64 {
                    return Err(invalid("name must be 1 to 64 characters"));
                }
                account.name = name.to_owned();
            }
            "account_type" => {
                account.account_type = match string(field, value)? {
                    "service" => AccountType::Service,
                    "subscription" => AccountType::Subscription,
                    other => {
                        return Err(invalid(format!(
                            "account_type must be service or subscription, not {other:?}"
                        )));
                    }
                }
            }
            "encrypt_mode" => {
                account.encrypt_mode = match string(field, value)? {
                    "plain" => EncryptMode::Plain,
                    "compat" => EncryptMode::Compat,
                    "safe" => EncryptMode::Safe,
                    other => {
                        return Err(invalid(format!(
                            "encrypt_mode must be plain, compat or safe, not {other:?}"
                        )));
                    }
                }
            }
            "webhook_url" => {
                account.webhook_url = nullable(field, value)?
                    .map(|url| {
                        let ok = (url.starts_with("http://") || url.starts_with("https://"))
                            && url.len() <= 1024
                            && !url.contains(char::is_whitespace);
                        ok.then(|| url.to_owned())
                            .ok_or_else(|| invalid("webhook_url must be an http(s) URL"))
                    })
                    .transpose()?;
            }
            "token" => {
                account.token = nullable(field, value)?
                    .map(|token| {
                        let ok = (3..=32).contains(&token.len())
                            && token.chars().all(|c| c.is_ascii_alphanumeric());
                        ok.then(|| token.to_owned())
                            .ok_or_else(|| invalid("token must be 3 to 32 letters and digits"))
                    })
                    .transpose()?;
            }
            "encoding_aes_key" => {
                account.encoding_aes_key = nullable(field, value)?
                    .map(|key| {
                        let ok = key.len() == 43
                            && key
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/');
                        ok.then(|| key.to_owned()).ok_or_else(|| {
                            invalid("encoding_aes_key must be 43 characters of the base64 alphabet")
                        })
                    })
                    .transpose()?;
            }
            "registered_at" => {
                let text = string(field, value)?;
                account.registered_at = parse_rfc3339(text).ok_or_else(|| {
                    invalid(format!(
                        "registered_at must be an RFC 3339 instant, not {text:?}"
                    ))
                })?;
            }
            "verify_webhook" => {
                if !value.is_boolean() {
                    return Err(invalid("verify_webhook must be true or false"));
                }
            }
            other => return Err(invalid(format!("unknown field {other:?}"))),
        }
    }
    if account.encrypt_mode != EncryptMode::Plain && account.encoding_aes_key.is_none() {
        return Err(invalid(
            "encrypt_mode compat and safe need an encoding_aes_key",
        ));
    }
    if account.webhook_url.is_some() && account.token.is_none() {
        return Err(invalid("a webhook_url needs a token to sign pushes with"));
    }
    Ok(())
}

fn string<'a>(field: &str, value: &'a Value) -> Result<&'a str, ApiError> {
    value
        .as_str()
        .ok_or_else(|| invalid(format!("{field} must be a string")))
}

fn nullable<'a>(field: &str, value: &'a Value) -> Result<Option<&'a str>, ApiError> {
    match value {
        Value::Null => Ok(None),
        other => string(field, other).map(Some),
    }
}
