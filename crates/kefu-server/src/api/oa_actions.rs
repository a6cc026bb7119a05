//! The user actions on an account's menu and QR codes: `menu_click` and `qr_scan` (API.md,
//! RULES.md §1).
//!
//! Each is decided by one function ([`menu_click`], [`qr_scan`]) that checks everything first,
//! then applies the trigger, records it in traffic and returns an [`Outcome`]: what changed and
//! the event WeChat would push. Rendering the answer is separate, so that delivering the push
//! can be hooked in between.

use axum::Json;
use kefu_policy::{Channel, RuleSetId, Trigger};
use kefu_store::{Key, QrSceneValue, TrafficEvent};
use kefu_wechat::PushKind;
use kefu_wechat::menu::ButtonType;
use serde_json::{Map, Value, json};

use super::actions::{conversation_of, invalid};
use crate::app::{App, Ctx};
use crate::cgi::stored_menu;
use crate::error::ApiError;
use crate::push::{self, Pushed};
use crate::shadow::Event as ShadowEvent;
use crate::timefmt::rfc3339;
use crate::world::{Tx, World};

/// A `menu_click` or `qr_scan` action, checked for shape.
pub enum OaAction {
    MenuClick {
        appid: String,
        /// A button's `key`, a `view` button's `url` or a `miniprogram` button's `pagepath`.
        key: String,
        scan_result: Option<String>,
    },
    QrScan {
        ticket: String,
        /// Optional: the ticket names its account. Given, it must be the ticket's.
        appid: Option<String>,
    },
}

impl OaAction {
    /// The action of type `kind`, or `None` for the types `actions.rs` handles.
    pub fn parse(kind: &str, fields: &Map<String, Value>) -> Result<Option<OaAction>, ApiError> {
        let string = |name: &str| -> Result<Option<String>, ApiError> {
            match fields.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
                Some(_) => Err(invalid(format!("{name} must be a non-empty string"))),
            }
        };
        let required = |name: &str| {
            string(name)?.ok_or_else(|| invalid(format!("a {kind} action needs {name}")))
        };
        Ok(Some(match kind {
            "menu_click" => OaAction::MenuClick {
                appid: required("appid")?,
                key: required("key")?,
                scan_result: match fields.get("scan_result") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(_) => return Err(invalid("scan_result must be a string")),
                },
            },
            "qr_scan" => OaAction::QrScan {
                ticket: required("ticket")?,
                appid: string("appid")?,
            },
            _ => return Ok(None),
        }))
    }
}

/// What a menu click or QR scan did.
#[derive(Debug)]
pub struct Outcome {
    pub appid: String,
    pub openid: String,
    /// The trigger applied, if the action is one (a `view` click is not).
    pub trigger: Option<Trigger>,
    /// The `Event` WeChat pushes for the action, or `None` when it pushes nothing.
    pub event: Option<&'static str>,
    /// The push itself when the action alone determines it (the picture and location buttons'
    /// pushes carry what the user picked, which the action does not say).
    pub push: Option<PushKind>,
    /// The conversation's `remaining` (`None` = unlimited) and `expires_at` afterwards.
    pub remaining: Option<u32>,
    pub expires_at: Option<i64>,
}

impl Outcome {
    /// The answer of `POST /api/v1/users/{user_id}/actions`; `act` fills in `pushed` and
    /// `passive_reply` from the delivery.
    pub fn render(&self) -> Value {
        json!({
            "openid": self.openid,
            "trigger": self.trigger.map(Trigger::as_str),
            "event": self.event,
            "pushed": { "status": if self.event.is_some() { "no_webhook" } else { "not_pushed" } },
            "passive_reply": null,
            "allowance": {
                "remaining": self.remaining,
                "expires_at": self.expires_at.map(rfc3339),
            },
        })
    }
}

pub async fn act(
    app: &App,
    user_id: &str,
    action: OaAction,
    wait: bool,
) -> Result<Json<Value>, ApiError> {
    let (outcome, pushed) = app
        .mutate(|world, tx, ctx| {
            // A full outbox refuses the action before anything changes.
            let appid = match &action {
                OaAction::MenuClick { appid, .. } => Some(appid.clone()),
                OaAction::QrScan { ticket, appid } => appid
                    .clone()
                    .or_else(|| world.oa.qrcodes.get(ticket).map(|q| q.value.appid.clone())),
            };
            if let Some(appid) = &appid {
                push::check_room(world, ctx, appid)?;
            }
            let mut outcome = match &action {
                OaAction::MenuClick {
                    appid,
                    key,
                    scan_result,
                } => menu_click(world, tx, ctx, user_id, appid, key, scan_result.as_deref()),
                OaAction::QrScan { ticket, appid } => {
                    qr_scan(world, tx, ctx, user_id, ticket, appid.as_deref())
                }
            }?;
            let pushed = match outcome.push.take() {
                Some(kind) => {
                    let (appid, openid) = (&outcome.appid, &outcome.openid);
                    push::push(world, tx, ctx, appid, user_id, openid, kind)
                }
                // The picture and location buttons' events: WeChat pushes them, but the action
                // does not say what the user picked, so kefu sends nothing.
                None if outcome.event.is_some() => {
                    let webhook = world
                        .accounts
                        .get(&outcome.appid)
                        .is_some_and(|a| a.value.webhook_url.is_some());
                    if webhook {
                        Pushed::NotPushed
                    } else {
                        Pushed::NoWebhook
                    }
                }
                None => Pushed::NotPushed,
            };
            Ok::<_, ApiError>((outcome, pushed))
        })
        .await?;
    let mut answer = outcome.render();
    let (pushed, passive_reply) = pushed.answer(wait, app.pushes().patience()).await;
    answer["pushed"] = pushed;
    answer["passive_reply"] = passive_reply;
    Ok(Json(answer))
}

/// A follower taps the button of the account's menu that `key` names. `click` and `scancode_*`
/// buttons are the `menu_click` trigger; the others push an event (or nothing) and grant
/// nothing.
pub fn menu_click(
    world: &mut World,
    tx: &mut Tx,
    ctx: &Ctx<'_>,
    user_id: &str,
    appid: &str,
    key: &str,
    scan_result: Option<&str>,
) -> Result<Outcome, ApiError> {
    let user = world
        .users
        .get(user_id)
        .ok_or_else(|| ApiError::user_not_found(user_id))?;
    let account = crate::api::account(world, appid)?;
    let openid = user
        .value
        .openids
        .get(appid)
        .filter(|o| {
            world
                .conversation(appid, o)
                .is_some_and(|c| c.value.following())
        })
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::conflict("not_following", "the user does not follow this account")
        })?;
    let unknown = || {
        ApiError::invalid(
            "unknown_menu_button",
            format!("the account's menu has no button with key, url or pagepath {key:?}"),
        )
    };
    let menu = world
        .oa
        .menus
        .get(appid)
        .and_then(|m| stored_menu(&m.value))
        .ok_or_else(unknown)?;
    let button = menu.find_target(key).ok_or_else(unknown)?;
    let kind = button.button_type().ok_or_else(unknown)?;
    let scanning = matches!(kind, ButtonType::ScancodePush | ButtonType::ScancodeWaitmsg);
    if scan_result.is_some() && !scanning {
        return Err(invalid(format!(
            "scan_result is for scancode buttons, and {key:?} is a {} button",
            kind.as_str()
        )));
    }
    let push = button.tap_event(scan_result, None);
    let ruleset = ctx.ruleset_for(&account.value, Channel::Api);

    let trigger = kind.opens_window().then_some(Trigger::MenuClick);
    let before = trigger.and_then(|_| world.shadow_before(ctx, ruleset, appid, &openid));
    let conversation = conversation_of(&mut world.conversations, appid, &openid)?;
    if let Some(trigger) = trigger {
        conversation
            .value
            .trigger(trigger, ctx.now, ruleset, ctx.rules.get(ruleset));
        let key = Key::Conversation {
            appid: appid.to_owned(),
            openid: openid.clone(),
        };
        tx.save(key, conversation);
    }
    let view = conversation.value.view(ctx.now, ctx.rules);
    if let Some(trigger) = trigger {
        world.shadow_observe(
            ctx,
            ruleset,
            appid,
            &openid,
            before,
            ShadowEvent::Trigger(trigger),
        );
        record_trigger(tx, ctx, appid, &openid, trigger, ruleset);
    }
    Ok(Outcome {
        appid: appid.to_owned(),
        openid,
        trigger,
        event: kind.event(),
        push,
        remaining: view.remaining,
        expires_at: view.expires_at,
    })
}

/// The user scans the QR code of `ticket`: one `qr_scan` trigger. A follower's scan pushes
/// `SCAN`; anyone else follows through it (`subscribe` with the scene), with no separate
/// `follow` grant. An expired code is 410 and changes nothing.
pub fn qr_scan(
    world: &mut World,
    tx: &mut Tx,
    ctx: &Ctx<'_>,
    user_id: &str,
    ticket: &str,
    appid_given: Option<&str>,
) -> Result<Outcome, ApiError> {
    let qr = world
        .oa
        .qrcodes
        .get(ticket)
        .map(|qr| qr.value.clone())
        .ok_or_else(|| {
            ApiError::not_found(
                "qrcode_not_found",
                format!("no QR code with ticket {ticket}"),
            )
        })?;
    if !world.users.contains_key(user_id) {
        return Err(ApiError::user_not_found(user_id));
    }
    if appid_given.is_some_and(|given| given != qr.appid) {
        return Err(invalid("the ticket is a QR code of another account"));
    }
    let appid = qr.appid.as_str();
    let account = crate::api::account(world, appid)?;
    if let Some(expired_at) = qr.expires_at.filter(|at| ctx.now >= *at) {
        return Err(ApiError::new(
            axum::http::StatusCode::GONE,
            "qr_expired",
            format!("the QR code expired at {}", rfc3339(expired_at)),
        ));
    }
    let ruleset = ctx.ruleset_for(&account.value, Channel::Api);

    let openid = match world.users.openid(user_id, appid) {
        Some(openid) => openid.to_owned(),
        None => world.first_contact(tx, user_id, appid, None),
    };
    let before = world.shadow_before(ctx, ruleset, appid, &openid);
    let conversation = conversation_of(&mut world.conversations, appid, &openid)?;
    let was_following = conversation.value.following();
    conversation
        .value
        .trigger(Trigger::QrScan, ctx.now, ruleset, ctx.rules.get(ruleset));
    let key = Key::Conversation {
        appid: appid.to_owned(),
        openid: openid.clone(),
    };
    tx.save(key, conversation);
    let view = conversation.value.view(ctx.now, ctx.rules);
    let scene = match &qr.scene {
        QrSceneValue::Id(id) => id.to_string(),
        QrSceneValue::Str(s) => s.clone(),
    };
    let push = if was_following {
        PushKind::Scan {
            scene,
            ticket: qr.ticket.clone(),
        }
    } else {
        world
            .conversations
            .followed(tx, appid, &openid, ctx.now, Some(qr.scene.clone()));
        PushKind::Subscribe {
            qr: Some((scene, qr.ticket.clone())),
        }
    };
    world.shadow_observe(
        ctx,
        ruleset,
        appid,
        &openid,
        before,
        ShadowEvent::Trigger(Trigger::QrScan),
    );
    record_trigger(tx, ctx, appid, &openid, Trigger::QrScan, ruleset);
    Ok(Outcome {
        appid: appid.to_owned(),
        openid,
        trigger: Some(Trigger::QrScan),
        event: push.event(),
        push: Some(push),
        remaining: view.remaining,
        expires_at: view.expires_at,
    })
}

/// The trigger's traffic record, with the rule set in force for the account.
pub fn record_trigger(
    tx: &mut Tx,
    ctx: &Ctx<'_>,
    appid: &str,
    openid: &str,
    trigger: Trigger,
    ruleset: RuleSetId,
) {
    tx.traffic(
        ctx.now,
        TrafficEvent::Trigger {
            appid: appid.to_owned(),
            openid: openid.to_owned(),
            trigger: trigger.as_str().to_owned(),
            ruleset: ctx.rules.get(ruleset).name.clone(),
        },
    );
}
