//! Users of an account: `user/info`, `user/get`, `user/info/batchget` (WECHAT.md §9).
//!
//! kefu keeps no profile (WeChat stopped returning nicknames in 2021); what it knows is whether
//! the user follows, since when, and through which QR code.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use kefu_store::QrSceneValue;
use kefu_wechat::ErrCode;
use kefu_wechat::user::{
    BatchGetResponse, LANGS, MAX_USER_LIST_PAGE, UserInfo, UserListResponse, parse_batchget,
};

use crate::app::App;
use crate::body::cgi_bytes;
use crate::error::{WxError, wx_json};
use crate::world::World;

/// `subscribe_scene` of a follow through a parametric QR code, and of any other follow (§9).
const SCENE_QR: &str = "ADD_SCENE_QR_CODE";
const SCENE_OTHERS: &str = "ADD_SCENE_OTHERS";

pub async fn info(State(app): State<App>, Query(query): Query<super::Query>) -> Response {
    let answer = app
        .read(|world, ctx| {
            let appid = super::authenticate(world, &query, ctx.wall_now)?;
            let openid = query
                .get("openid")
                .filter(|o| !o.is_empty())
                .ok_or(WxError(ErrCode::MissingOpenid))?;
            check_lang(query.get("lang").map(String::as_str))?;
            user_info(world, &appid, openid)
        })
        .await;
    match answer {
        Ok(info) => wx_json(info.to_json()),
        Err(e) => e.into_response(),
    }
}

pub async fn list(State(app): State<App>, Query(query): Query<super::Query>) -> Response {
    let answer = app
        .read(|world, ctx| {
            let appid = super::authenticate(world, &query, ctx.wall_now)?;
            let followers = world.followers(&appid);
            let start = match query.get("next_openid").filter(|o| !o.is_empty()) {
                None => 0,
                Some(next) => {
                    followers
                        .iter()
                        .position(|o| o == next)
                        .ok_or(WxError(ErrCode::InvalidOpenid))?
                        + 1
                }
            };
            let page: Vec<String> = followers
                .iter()
                .skip(start)
                .take(MAX_USER_LIST_PAGE)
                .map(|o| (*o).to_owned())
                .collect();
            Ok::<_, WxError>(UserListResponse::page(followers.len() as u64, page))
        })
        .await;
    match answer {
        Ok(page) => wx_json(page.to_json()),
        Err(e) => e.into_response(),
    }
}

pub async fn batchget(
    State(app): State<App>,
    Query(query): Query<super::Query>,
    body: Body,
) -> Response {
    let body = cgi_bytes(body).await;
    let answer = app
        .read(|world, ctx| {
            let appid = super::authenticate(world, &query, ctx.wall_now)?;
            let body = body.map_err(WxError)?;
            let request = parse_batchget(&body)?;
            let mut user_info_list = Vec::with_capacity(request.user_list.len());
            for item in &request.user_list {
                check_lang(item.lang.as_deref())?;
                user_info_list.push(user_info(world, &appid, &item.openid)?);
            }
            Ok::<_, WxError>(BatchGetResponse { user_info_list })
        })
        .await;
    match answer {
        Ok(list) => wx_json(list.to_json()),
        Err(e) => e.into_response(),
    }
}

/// `lang` is optional; given, it must be one of zh_CN, zh_TW, en (40035 otherwise).
fn check_lang(lang: Option<&str>) -> Result<(), WxError> {
    match lang {
        None | Some("") => Ok(()),
        Some(lang) if LANGS.contains(&lang) => Ok(()),
        Some(_) => Err(WxError(ErrCode::InvalidArgsSize)),
    }
}

/// What `user/info` says of `openid` on `appid`: 40003 for an openid never issued for the
/// account, `{"subscribe":0,...}` for a known non-follower.
fn user_info(world: &World, appid: &str, openid: &str) -> Result<UserInfo, WxError> {
    let conversation = world
        .owner_of(openid)
        .filter(|owner| owner.appid == appid)
        .and_then(|_| world.conversation(appid, openid))
        .ok_or(WxError(ErrCode::InvalidOpenid))?;
    if !conversation.value.following() {
        return Ok(UserInfo::unsubscribed(openid));
    }
    let follow = world.conversations.follow(appid, openid);
    let scene = follow.as_ref().and_then(|f| f.qr_scene.as_ref());
    let subscribe_time = follow.as_ref().map_or(0, |f| f.subscribe_time);
    let mut info = UserInfo::subscribed(
        openid,
        subscribe_time,
        if scene.is_some() {
            SCENE_QR
        } else {
            SCENE_OTHERS
        },
    );
    match scene {
        Some(QrSceneValue::Id(id)) => info.qr_scene = Some(i64::from(*id)),
        Some(QrSceneValue::Str(s)) => info.qr_scene_str = Some(s.clone()),
        None => {}
    }
    Ok(info)
}
