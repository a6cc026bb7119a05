//! The WeChat developer API, one module per family. Every answer is HTTP 200 JSON; refusals are
//! WeChat's errcodes (WECHAT.md §4.3 gives the order of the checks).

mod custom;
mod token;

use std::collections::HashMap;

use axum::Router;
use axum::routing::{get, post};
use kefu_wechat::ErrCode;

use crate::app::App;
use crate::world::World;

pub fn router() -> Router<App> {
    Router::new()
        .route("/token", get(token::token))
        .route("/message/custom/send", post(custom::send))
        .route("/message/custom/typing", post(custom::typing))
}

pub type Query = HashMap<String, String>;

/// WECHAT.md §4.3 step 1: the account an `access_token` speaks for.
pub fn authenticate(world: &World, query: &Query, wall_now: i64) -> Result<String, ErrCode> {
    let token = match query.get("access_token") {
        Some(t) if !t.is_empty() => t,
        _ => return Err(ErrCode::AccessTokenMissing),
    };
    let appid = world
        .token_index
        .get(token)
        .ok_or(ErrCode::InvalidCredential)?;
    let issued = world
        .tokens
        .get(appid)
        .and_then(|set| set.value.tokens.iter().find(|t| &t.token == token))
        .ok_or(ErrCode::InvalidCredential)?;
    if wall_now < issued.valid_until {
        return Ok(appid.clone());
    }
    // Cut short by a successor: superseded (40001); lived its full 7200 s: expired (42001).
    if issued.valid_until < issued.issued_at + token::LIFETIME {
        Err(ErrCode::InvalidCredential)
    } else {
        Err(ErrCode::AccessTokenExpired)
    }
}
