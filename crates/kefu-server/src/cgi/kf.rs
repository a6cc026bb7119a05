//! Legacy KF accounts (WECHAT.md §10): `kfaccount/add|update|del|inviteworker|uploadheadimg`,
//! `getkflist` and `getonlinekflist`. The router is mounted twice, under `/cgi-bin/customservice`
//! and `/customservice`, since SDKs disagree on the spelling.
//!
//! kefu has no workers who log in, so no KF account is ever bound or online; an invitation
//! stays `waiting` until it lapses after 7 days (rule clock).

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kefu_store::{Key, KfAccountRecord, KfAccountSet};
use kefu_wechat::ErrCode;
use kefu_wechat::kf::{
    KfInfo, KfListResponse, KfOnlineListResponse, MAX_KF_ACCOUNTS, check_kf_account,
    parse_invite_worker, parse_kf_account,
};

use crate::app::{App, Ctx};
use crate::error::{WxError, wx_json};
use crate::ids;
use crate::world::{Entry, Tx, World};

/// Nicknames are 1 to 16 characters (65403 otherwise).
const MAX_NICKNAME_CHARS: usize = 16;
/// How long an invitation to bind a WeChat user waits.
const INVITE_LIFETIME: i64 = 7 * 24 * 3600;
/// WeChat numbers KF accounts from 1001.
const FIRST_KF_ID: u64 = 1001;

/// The KF routes under `prefix`.
pub fn router(prefix: &str) -> Router<App> {
    Router::new()
        .route(&format!("{prefix}/kfaccount/add"), post(add))
        .route(&format!("{prefix}/kfaccount/update"), post(update))
        .route(&format!("{prefix}/kfaccount/del"), get(del).post(del))
        .route(
            &format!("{prefix}/kfaccount/inviteworker"),
            post(invite_worker),
        )
        .route(
            &format!("{prefix}/kfaccount/uploadheadimg"),
            post(upload_head_img),
        )
        .route(&format!("{prefix}/getkflist"), get(list))
        .route(&format!("{prefix}/getonlinekflist"), get(online_list))
}

type Change = fn(&mut World, &mut Tx, &Ctx<'_>, &str, &super::Query, &[u8]) -> Result<(), WxError>;

/// Authenticates, then runs `change` on the account's KF accounts; answers ok or the refusal.
async fn change(app: App, query: super::Query, body: Body, change: Change) -> Response {
    let outcome = super::post_decision(&app, &query, body, |world, tx, ctx, appid, body| {
        change(world, tx, ctx, &appid, &query, body)
    })
    .await;
    match outcome {
        Ok(()) => wx_json(ErrCode::Ok.to_json()),
        Err(e) => e.into_response(),
    }
}

async fn add(State(app): State<App>, Query(query): Query<super::Query>, body: Body) -> Response {
    change(app, query, body, |world, tx, _, appid, _, body| {
        let request = parse_kf_account(body)?;
        check_kf_account(&request.kf_account, None)?;
        let nickname = check_nickname(request.nickname.as_deref())?;
        let set = kf_set(world, appid);
        if set
            .value
            .accounts
            .iter()
            .any(|a| a.kf_account == request.kf_account)
        {
            return Err(WxError(ErrCode::KfAccountExisted));
        }
        if set.value.accounts.len() >= MAX_KF_ACCOUNTS {
            return Err(WxError(ErrCode::KfAccountCountExceeded));
        }
        let kf_id = set.value.next_id.max(FIRST_KF_ID);
        set.value.next_id = kf_id + 1;
        set.value.accounts.push(KfAccountRecord {
            kf_account: request.kf_account,
            nickname,
            kf_id,
            headimgurl: String::new(),
            kf_wx: None,
            invite_wx: None,
            invite_expire_time: None,
        });
        tx.save(Key::KfAccounts(appid.to_owned()), set);
        Ok(())
    })
    .await
}

async fn update(State(app): State<App>, Query(query): Query<super::Query>, body: Body) -> Response {
    change(app, query, body, |world, tx, _, appid, _, body| {
        let request = parse_kf_account(body)?;
        check_kf_account(&request.kf_account, None)?;
        let nickname = check_nickname(request.nickname.as_deref())?;
        let set = kf_set(world, appid);
        let account = find(set, &request.kf_account)?;
        account.nickname = nickname;
        tx.save(Key::KfAccounts(appid.to_owned()), set);
        Ok(())
    })
    .await
}

/// `GET ...?kf_account=` as the docs and wechatpy call it; a POST body is read too.
async fn del(State(app): State<App>, Query(query): Query<super::Query>, body: Body) -> Response {
    change(app, query, body, |world, tx, _, appid, query, body| {
        let kf_account = match query.get("kf_account") {
            Some(name) => name.clone(),
            None => parse_kf_account(body)?.kf_account,
        };
        check_kf_account(&kf_account, None)?;
        let set = kf_set(world, appid);
        find(set, &kf_account)?;
        set.value.accounts.retain(|a| a.kf_account != kf_account);
        tx.save(Key::KfAccounts(appid.to_owned()), set);
        Ok(())
    })
    .await
}

async fn invite_worker(
    State(app): State<App>,
    Query(query): Query<super::Query>,
    body: Body,
) -> Response {
    change(app, query, body, |world, tx, ctx, appid, _, body| {
        let request = parse_invite_worker(body)?;
        check_kf_account(&request.kf_account, None)?;
        let set = kf_set(world, appid);
        let account = find(set, &request.kf_account)?;
        if request.invite_wx.trim().is_empty() {
            return Err(WxError(ErrCode::WechatAccountInvalid));
        }
        if account.kf_wx.is_some() {
            return Err(WxError(ErrCode::AccountAlreadyBound));
        }
        if account.invite_expire_time.is_some_and(|at| ctx.now < at) {
            return Err(WxError(ErrCode::EffectiveInvitationExists));
        }
        account.invite_wx = Some(request.invite_wx);
        account.invite_expire_time = Some(ctx.now + INVITE_LIFETIME);
        tx.save(Key::KfAccounts(appid.to_owned()), set);
        Ok(())
    })
    .await
}

/// `uploadheadimg?kf_account=`: a multipart body whose `media` part is a JPEG. kefu keeps no
/// media, so it only checks the file is named as a JPEG (61457 otherwise) and gives the account
/// an avatar URL.
async fn upload_head_img(
    State(app): State<App>,
    Query(query): Query<super::Query>,
    body: Body,
) -> Response {
    change(app, query, body, |world, tx, _, appid, query, body| {
        let kf_account = query.get("kf_account").cloned().unwrap_or_default();
        check_kf_account(&kf_account, None)?;
        if !names_a_jpeg(body) {
            return Err(WxError(ErrCode::InvalidFileType));
        }
        let set = kf_set(world, appid);
        let account = find(set, &kf_account)?;
        account.headimgurl = format!("http://mmbiz.qpic.cn/mmbiz_jpg/{}/0", ids::secret());
        tx.save(Key::KfAccounts(appid.to_owned()), set);
        Ok(())
    })
    .await
}

/// Whether a multipart body carries a part with a `.jpg` or `.jpeg` filename.
fn names_a_jpeg(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    text.split("filename=\"").skip(1).any(|rest| {
        let name = rest.split('"').next().unwrap_or_default();
        name.ends_with(".jpg") || name.ends_with(".jpeg")
    })
}

async fn list(State(app): State<App>, Query(query): Query<super::Query>) -> Response {
    let answer = app
        .read(|world, ctx| {
            let appid = super::authenticate(world, &query, ctx.wall_now)?;
            let accounts = world
                .oa
                .kf
                .get(&appid)
                .map(|set| set.value.accounts.as_slice())
                .unwrap_or_default();
            let kf_list = accounts.iter().map(|a| info(a, ctx.now)).collect();
            Ok::<_, WxError>(KfListResponse { kf_list })
        })
        .await;
    match answer {
        Ok(list) => wx_json(kefu_wechat::json::to_json(&list)),
        Err(e) => e.into_response(),
    }
}

async fn online_list(State(app): State<App>, Query(query): Query<super::Query>) -> Response {
    let answer = app
        .read(|world, ctx| {
            super::authenticate(world, &query, ctx.wall_now)
                .map(|_| ())
                .map_err(WxError)
        })
        .await;
    match answer {
        // No worker ever logs in to kefu, so no KF account is online.
        Ok(()) => wx_json(kefu_wechat::json::to_json(&KfOnlineListResponse::default())),
        Err(e) => e.into_response(),
    }
}

fn info(account: &KfAccountRecord, now: i64) -> KfInfo {
    let invite_status = account
        .invite_expire_time
        .map(|at| if now < at { "waiting" } else { "expired" }.to_owned());
    KfInfo {
        kf_account: account.kf_account.clone(),
        kf_nick: account.nickname.clone(),
        kf_id: account.kf_id.to_string(),
        kf_headimgurl: account.headimgurl.clone(),
        kf_wx: account.kf_wx.clone(),
        invite_wx: account.invite_wx.clone(),
        invite_expire_time: account.invite_expire_time,
        invite_status,
    }
}

fn check_nickname(nickname: Option<&str>) -> Result<String, WxError> {
    match nickname.map(str::trim) {
        Some(n) if !n.is_empty() && n.chars().count() <= MAX_NICKNAME_CHARS => Ok(n.to_owned()),
        _ => Err(WxError(ErrCode::IllegalNickname)),
    }
}

fn kf_set<'a>(world: &'a mut World, appid: &str) -> &'a mut Entry<KfAccountSet> {
    world.oa.kf.entry(appid.to_owned()).or_default()
}

/// The named KF account, or 65401 (no such account).
fn find<'a>(
    set: &'a mut Entry<KfAccountSet>,
    kf_account: &str,
) -> Result<&'a mut KfAccountRecord, WxError> {
    set.value
        .accounts
        .iter_mut()
        .find(|a| a.kf_account == kf_account)
        .ok_or(WxError(ErrCode::InvalidCustomServiceAccount))
}
