//! Customer-service messages: `custom/send` and `custom/typing` (WECHAT.md §4). The checks run in
//! the normative order of §4.3: token, body, msgtype, touser, content, KF account, decision. A
//! malformed message never spends quota, and every decided send (refused ones too) is traffic.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use kefu_policy::{Channel, Decision};
use kefu_store::{InboxMessage, InboxSource, Key, TrafficEvent};
use kefu_wechat::{ErrCode, SendScope, parse_custom_send, parse_typing};

use crate::app::App;
use crate::error::{WxError, wx_json};
use crate::shadow::Event as ShadowEvent;

pub async fn send(
    State(app): State<App>,
    Query(query): Query<super::Query>,
    body: Body,
) -> Response {
    let decided = super::post_decision(&app, &query, body, |world, tx, ctx, appid, body| {
        let send = parse_custom_send(body, SendScope::OfficialAccount)?;
        let owner = world
            .owner_of(&send.touser)
            .filter(|o| o.appid == appid)
            .ok_or(WxError(ErrCode::InvalidOpenid))?
            .user_id
            .to_owned();
        let message = send.validate()?;
        // §4.3 step 7: a named KF account must be one of this account's.
        if let Some(kf_account) = &message.kf_account
            && !world.oa.has_kf_account(&appid, kf_account)
        {
            return Err(WxError(ErrCode::InvalidCustomServiceAccount));
        }
        let account = world
            .accounts
            .get(&appid)
            .ok_or(WxError(ErrCode::InvalidCredential))?;
        let ruleset = ctx.ruleset_for(&account.value, Channel::Api);
        let before = world.shadow_before(ctx, ruleset, &appid, &message.touser);
        let conversation = world
            .conversations
            .get_mut(&appid, &message.touser)
            .ok_or(WxError(ErrCode::InvalidOpenid))?;
        let decision = conversation.value.send(ctx.now, ctx.rules);
        tx.traffic(
            ctx.now,
            TrafficEvent::Send {
                appid: appid.clone(),
                openid: message.touser.clone(),
                api: "custom/send".into(),
                errcode: decision.errcode(),
                ruleset: ctx.rules.get(ruleset).name.clone(),
            },
        );
        if decision.accepted() {
            let key = Key::Conversation {
                appid: appid.clone(),
                openid: message.touser.clone(),
            };
            tx.save(key, conversation);
        }
        let event = ShadowEvent::Send(decision.errcode());
        world.shadow_observe(ctx, ruleset, &appid, &message.touser, before, event);
        if decision.accepted() {
            let id = tx.seq();
            tx.inbox(InboxMessage {
                id,
                user_id: owner,
                appid,
                openid: message.touser,
                source: InboxSource::Custom,
                msgtype: message.msgtype.as_str().to_owned(),
                body: message.body.to_string(),
                sent_at: ctx.now,
            });
        }
        Ok(decision)
    })
    .await;
    let errcode = match &decided {
        Ok(decision) => i64::from(decision.errcode()),
        Err(WxError(code)) => i64::from(code.code()),
    };
    app.metrics().send("custom/send", errcode);
    answer(decided)
}

pub async fn typing(
    State(app): State<App>,
    Query(query): Query<super::Query>,
    body: Body,
) -> Response {
    let decided = super::post_decision(&app, &query, body, |world, tx, ctx, appid, body| {
        let request = parse_typing(body)?;
        let conversation = world
            .conversations
            .get_mut(&appid, &request.touser)
            .ok_or(WxError(ErrCode::InvalidOpenid))?;
        let before = conversation.value.clone();
        let decision = conversation
            .value
            .typing(&request.command, ctx.now, ctx.rules);
        if conversation.value != before {
            let key = Key::Conversation {
                appid,
                openid: request.touser,
            };
            tx.save(key, conversation);
        }
        Ok(decision)
    })
    .await;
    answer(decided)
}

fn answer(decided: Result<Decision, WxError>) -> Response {
    match decided {
        Ok(decision) => {
            let code = i32::try_from(decision.errcode())
                .ok()
                .and_then(ErrCode::from_code)
                .unwrap_or(ErrCode::SystemError);
            wx_json(code.to_json())
        }
        Err(e) => e.into_response(),
    }
}
