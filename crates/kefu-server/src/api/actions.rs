//! `POST /api/v1/users/{user_id}/actions`: the user does something to an account. An action that
//! WeChat counts as a trigger opens or widens the conversation's allowance under the rule set in
//! force for the account now. An action WeChat pushes goes to the account's webhook
//! (`crate::push`); the answer waits for the first attempt unless `?wait=false`.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use kefu_policy::{Channel, Conversation, Trigger};
use kefu_store::{AccountType, Key, TrafficEvent};
use kefu_wechat::PushKind;
use serde_json::{Map, Value, json};

use crate::app::{App, Ctx};
use crate::body::api_json;
use crate::conversations::ConversationTable;
use crate::error::ApiError;
use crate::push::{self, Pushed};
use crate::shadow::Event as ShadowEvent;
use crate::timefmt::rfc3339;
use crate::world::{Entry, Tx, World};

/// What the user did, checked before anything changes.
enum Action {
    Follow,
    Unfollow,
    /// With its push (the MsgId is set when it is enqueued).
    Message(PushKind),
    Payment,
}

impl Action {
    fn parse(kind: &str, fields: &Map<String, Value>) -> Result<Action, ApiError> {
        match kind {
            "follow" => Ok(Action::Follow),
            "unfollow" => Ok(Action::Unfollow),
            "message" => {
                check_message(fields)?;
                Ok(Action::Message(push::message_kind(fields)))
            }
            "payment" => {
                match fields.get("amount_fen") {
                    None => {}
                    Some(v) if v.as_u64().is_some_and(|n| n > 0) => {}
                    Some(_) => {
                        return Err(ApiError::invalid(
                            "invalid_amount",
                            "amount_fen must be a whole number of fen above 0",
                        ));
                    }
                }
                Ok(Action::Payment)
            }
            other => Err(ApiError::invalid(
                "invalid_action",
                format!(
                    "unknown action type {other:?}: follow, unfollow, message, menu_click, \
                     qr_scan or payment"
                ),
            )),
        }
    }

    /// The trigger this action is, or `None` for an unfollow.
    fn trigger(&self) -> Option<Trigger> {
        match self {
            Action::Follow => Some(Trigger::Follow),
            Action::Message(_) => Some(Trigger::Message),
            Action::Payment => Some(Trigger::Payment),
            Action::Unfollow => None,
        }
    }
}

pub async fn act(
    State(app): State<App>,
    Path(user_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let wait = match query.get("wait").map(String::as_str) {
        None | Some("true") => true,
        Some("false") => false,
        Some(_) => {
            return Err(ApiError::invalid(
                "invalid_wait",
                "wait must be true or false",
            ));
        }
    };
    let fields = match api_json(body).await? {
        Value::Object(map) => map,
        _ => return Err(invalid("the body must be a JSON object")),
    };
    let kind = fields
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("type is required"))?
        .to_owned();
    if let Some(oa_action) = super::oa_actions::OaAction::parse(&kind, &fields)? {
        return super::oa_actions::act(&app, &user_id, oa_action, wait).await;
    }
    let action = Action::parse(&kind, &fields)?;
    let appid = fields
        .get("appid")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("appid is required"))?
        .to_owned();
    let (mut answer, pushed) = app
        .mutate(|world, tx, ctx| decide(world, tx, ctx, &user_id, &appid, &action))
        .await?;
    let (pushed, passive_reply) = pushed.answer(wait, app.pushes().patience()).await;
    answer["pushed"] = pushed;
    answer["passive_reply"] = passive_reply;
    Ok(Json(answer))
}

fn decide(
    world: &mut World,
    tx: &mut Tx,
    ctx: &Ctx<'_>,
    user_id: &str,
    appid: &str,
    action: &Action,
) -> Result<(Value, Pushed), ApiError> {
    if !world.users.contains_key(user_id) {
        return Err(ApiError::user_not_found(user_id));
    }
    let account = crate::api::account(world, appid)?;
    let openid = world.users.openid(user_id, appid).map(str::to_owned);
    let following = openid
        .as_ref()
        .and_then(|o| world.conversation(appid, o))
        .is_some_and(|c| c.value.following());

    // Every refusal comes before any change.
    if matches!(action, Action::Payment) && account.value.account_type == AccountType::Subscription
    {
        return Err(ApiError::invalid(
            "payment_not_supported",
            "subscription accounts cannot take payments",
        ));
    }
    match (action, following) {
        (Action::Follow, true) => {
            return Err(ApiError::conflict(
                "already_following",
                "the user already follows this account",
            ));
        }
        (Action::Unfollow | Action::Message(_) | Action::Payment, false) => {
            return Err(ApiError::conflict(
                "not_following",
                "the user does not follow this account",
            ));
        }
        _ => {}
    }
    if !matches!(action, Action::Payment) {
        push::check_room(world, ctx, appid)?;
    }
    let ruleset = ctx.ruleset_for(&account.value, Channel::Api);

    let openid = match openid {
        Some(openid) => openid,
        None => world.first_contact(tx, user_id, appid, None),
    };
    let before = world.shadow_before(ctx, ruleset, appid, &openid);
    let conversation = conversation_of(&mut world.conversations, appid, &openid)?;
    let state = &mut conversation.value;
    match action.trigger() {
        Some(trigger) => {
            if trigger == Trigger::Follow {
                state.follow();
            }
            state.trigger(trigger, ctx.now, ruleset, ctx.rules.get(ruleset));
        }
        None => state.unfollow(),
    }
    let view = state.view(ctx.now, ctx.rules);
    let key = Key::Conversation {
        appid: appid.to_owned(),
        openid: openid.clone(),
    };
    tx.save(key, conversation);
    if action.trigger() == Some(Trigger::Follow) {
        world
            .conversations
            .followed(tx, appid, &openid, ctx.now, None);
    }
    let event = match action.trigger() {
        Some(trigger) => ShadowEvent::Trigger(trigger),
        None => ShadowEvent::Unfollow,
    };
    world.shadow_observe(ctx, ruleset, appid, &openid, before, event);
    let trigger_name = action.trigger().map_or("unfollow", Trigger::as_str);
    tx.traffic(
        ctx.now,
        TrafficEvent::Trigger {
            appid: appid.to_owned(),
            openid: openid.clone(),
            trigger: trigger_name.to_owned(),
            ruleset: match action.trigger() {
                Some(_) => ctx.rules.get(ruleset).name.clone(),
                None => String::new(),
            },
        },
    );
    let kind = match action {
        // WeChat pushes no payment event to the account's URL.
        Action::Payment => None,
        Action::Follow => Some(PushKind::Subscribe { qr: None }),
        Action::Unfollow => Some(PushKind::Unsubscribe),
        Action::Message(kind) => Some(kind.clone()),
    };
    let pushed = match kind {
        Some(kind) => push::push(world, tx, ctx, appid, user_id, &openid, kind),
        None => Pushed::NotPushed,
    };
    let answer = json!({
        "openid": openid,
        "trigger": trigger_name,
        "pushed": null,
        "passive_reply": null,
        "allowance": {
            "remaining": view.remaining,
            "expires_at": view.expires_at.map(rfc3339),
        },
    });
    Ok((answer, pushed))
}

/// The conversation of `openid` on `appid`, new if there is none yet.
pub(super) fn conversation_of<'a>(
    conversations: &'a mut ConversationTable,
    appid: &str,
    openid: &str,
) -> Result<&'a mut Entry<Conversation>, ApiError> {
    conversations.get_or_new(appid, openid).ok_or_else(|| {
        ApiError::conflict(
            "openid_elsewhere",
            format!("openid {openid} belongs to another account than {appid}"),
        )
    })
}

pub(super) fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::invalid("invalid_action", message)
}

/// A `message` action: WeChat's push fields in snake_case, per msgtype (WECHAT.md §6.3).
fn check_message(fields: &Map<String, Value>) -> Result<(), ApiError> {
    let bad = |m: String| ApiError::invalid("invalid_message", m);
    let msgtype = fields
        .get("msgtype")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("msgtype is required".into()))?;
    let (required, strings, numbers): (&[&str], &[&str], &[&str]) = match msgtype {
        "text" => (&["content"], &["content", "bizmsgmenuid"], &[]),
        "image" => (&[], &["pic_url", "media_id"], &[]),
        "voice" => (&[], &["media_id", "format", "recognition"], &[]),
        "video" | "shortvideo" => (&[], &["media_id", "thumb_media_id"], &[]),
        "location" => (
            &["location_x", "location_y"],
            &["label"],
            &["location_x", "location_y", "scale"],
        ),
        "link" => (&["url"], &["title", "description", "url"], &[]),
        other => {
            return Err(bad(format!(
                "unknown msgtype {other:?}: text, image, voice, video, shortvideo, location or link"
            )));
        }
    };
    for field in required {
        if !fields.contains_key(*field) {
            return Err(bad(format!("a {msgtype} message needs {field}")));
        }
    }
    for field in strings {
        if let Some(v) = fields.get(*field)
            && !v.is_string()
        {
            return Err(bad(format!("{field} must be a string")));
        }
    }
    for field in numbers {
        if let Some(v) = fields.get(*field)
            && !v.is_number()
        {
            return Err(bad(format!("{field} must be a number")));
        }
    }
    if msgtype == "text" && fields.get("content").and_then(Value::as_str) == Some("") {
        return Err(bad("a text message needs content".into()));
    }
    Ok(())
}
