//! The WeChat developer API, one module per family. Every answer is HTTP 200 JSON; refusals are
//! WeChat's errcodes (WECHAT.md §4.3 gives the order of the checks).

mod custom;
mod kf;
mod menu;
mod qrcode;
mod stable_token;
mod token;
mod user;

use std::collections::HashMap;

use axum::Router;
use axum::routing::{get, post};
use kefu_wechat::ErrCode;

use axum::body::Body;

use crate::app::{App, Ctx};
use crate::body::cgi_bytes;
use crate::error::WxError;
use crate::world::{Tx, World};

pub use menu::stored_menu;

/// Every `/cgi-bin` route, at its full path. Routes are merged rather than nested: a nested
/// router rewrites every request's URI to strip its prefix, which the busiest route pays for.
pub fn router() -> Router<App> {
    Router::new()
        .route("/cgi-bin/token", get(token::token))
        .route("/cgi-bin/message/custom/send", post(custom::send))
        .route("/cgi-bin/message/custom/typing", post(custom::typing))
        .route("/cgi-bin/stable_token", post(stable_token::stable_token))
        .route("/cgi-bin/menu/create", post(menu::create))
        .route("/cgi-bin/menu/get", get(menu::get))
        .route("/cgi-bin/menu/delete", get(menu::delete))
        .route("/cgi-bin/qrcode/create", post(qrcode::create))
        .route("/cgi-bin/showqrcode", get(qrcode::show))
        .route("/cgi-bin/user/info", get(user::info))
        .route("/cgi-bin/user/get", get(user::list))
        .route("/cgi-bin/user/info/batchget", post(user::batchget))
        .merge(kf::router("/cgi-bin/customservice"))
        // The legacy KF endpoints as wechatpy spells them, without `/cgi-bin` (WECHAT.md §10).
        .merge(kf::router("/customservice"))
}

pub type Query = HashMap<String, String>;

/// An authenticated `/cgi-bin` POST that may change state, in WeChat's order: the token
/// (§4.3 step 1) before the body (step 2; over 1 MiB is 47001), then `decide` with the account's
/// appid and the body. Answers once the decision is durable.
pub async fn post_decision<T>(
    app: &App,
    query: &Query,
    body: Body,
    decide: impl FnOnce(&mut World, &mut Tx, &Ctx<'_>, String, &[u8]) -> Result<T, WxError>,
) -> Result<T, WxError> {
    let body = cgi_bytes(body).await;
    app.mutate(|world, tx, ctx| {
        let appid = authenticate(world, query, ctx.wall_now)?;
        let body = body.map_err(WxError)?;
        decide(world, tx, ctx, appid, &body)
    })
    .await
}

/// WECHAT.md §4.3 step 1: the account an `access_token` speaks for.
pub fn authenticate(world: &World, query: &Query, wall_now: i64) -> Result<String, ErrCode> {
    let token = match query.get("access_token") {
        Some(t) if !t.is_empty() => t,
        _ => return Err(ErrCode::AccessTokenMissing),
    };
    // `token` and `stable_token` tokens are isolated from each other; either speaks for its
    // account.
    let (appid, issued) = match world.token_index.get(token) {
        Some(appid) => world
            .tokens
            .get(appid)
            .and_then(|set| set.value.tokens.iter().find(|t| &t.token == token))
            .map(|issued| (appid, issued)),
        None => world.oa.stable_token(token),
    }
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
