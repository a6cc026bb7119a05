//! `GET /api/v1/accounts/{appid}/conversations/{openid}`: the allowance, explained.

use axum::Json;
use axum::extract::{Path, State};
use kefu_policy::Channel;
use kefu_wechat::ErrCode;
use serde_json::{Value, json};

use crate::app::App;
use crate::error::ApiError;
use crate::timefmt::rfc3339;

pub async fn explain(
    State(app): State<App>,
    Path((appid, openid)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    app.read(|world, ctx| {
        let account = crate::api::account(world, &appid)?;
        let conversation = world.conversation(&appid, &openid).ok_or_else(|| {
            ApiError::not_found(
                "conversation_not_found",
                format!("kefu never issued openid {openid} for account {appid}"),
            )
        })?;
        let state = &conversation.value;
        let ruleset = ctx.rules.get(ctx.ruleset_for(&account.value, Channel::Api));
        let view = state.view(ctx.now, ctx.rules);
        let next = state.decide_send(ctx.now, ctx.rules);
        let explanation = next.explanation();
        let errmsg = i32::try_from(next.errcode())
            .ok()
            .and_then(ErrCode::from_code)
            .map_or("", ErrCode::errmsg);
        let grants: Vec<Value> = view
            .grants
            .iter()
            .map(|g| {
                json!({
                    "trigger": g.trigger.as_str(),
                    "at": rfc3339(g.at),
                    "ruleset": ctx.rules.get(g.ruleset).name,
                    "quota": g.quota.count(),
                    "remaining": g.remaining,
                    "expires_at": rfc3339(g.expires_at),
                })
            })
            .collect();
        Ok(Json(json!({
            "openid": openid,
            "following": state.following(),
            "ruleset": ruleset.name,
            "combine": ruleset.combine.as_str(),
            "remaining": view.remaining,
            "expires_at": view.expires_at.map(rfc3339),
            "sent_in_window": view.sent_in_window,
            "grants": grants,
            "next_send": {
                "decision": if next.accepted() { "accept" } else { "refuse" },
                "errcode": next.errcode(),
                "errmsg": errmsg,
                "reopen": explanation.reopen().iter().map(|t| t.as_str()).collect::<Vec<_>>(),
                "why": explanation.sentence(ctx.rules),
            },
        })))
    })
    .await
}
