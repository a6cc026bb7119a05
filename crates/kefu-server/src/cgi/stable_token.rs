//! `POST /cgi-bin/stable_token` (WECHAT.md §2.2). Stable tokens live on the wall clock beside,
//! and isolated from, `/cgi-bin/token`'s: neither kind invalidates the other.
//!
//! Normal mode answers the same token while more than 300 s of its validity remain, then a new
//! one (the previous keeps its own expiry, so the two overlap for the last 300 s).
//! `force_refresh` issues a new token at once and invalidates the previous ones, at most 20 times
//! a day (45009) and never within 30 s of the previous force (45011).

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use kefu_store::{IssuedToken, Key};
use kefu_wechat::token::TokenResponse;
use kefu_wechat::{ErrCode, parse_stable_token};

use crate::app::App;
use crate::body::cgi_bytes;
use crate::error::{WxError, wx_json};
use crate::ids;

use super::token::LIFETIME;

/// A stable token is renewed once no more than this many seconds of it remain.
const RENEW_WITHIN: i64 = 300;
/// Force refreshes allowed per day.
const FORCE_PER_DAY: u32 = 20;
/// Seconds between two force refreshes.
const FORCE_SPACING: i64 = 30;
/// Tokens kept per account: enough to tell "expired" from "unknown" for a while.
const KEEP: usize = 8;
/// WeChat's daily quotas reset at midnight China time (UTC+8).
const CHINA_OFFSET: i64 = 8 * 3600;

pub async fn stable_token(State(app): State<App>, body: Body) -> Response {
    let body = cgi_bytes(body).await;
    let answer = app
        .mutate(|world, tx, ctx| {
            let body = body.map_err(WxError)?;
            let request = parse_stable_token(&body)?;
            let credentials = request.credentials()?;
            let account = world
                .accounts
                .get(credentials.appid)
                .ok_or(WxError(ErrCode::InvalidAppid))?;
            // Compared in constant time: the secret is a credential.
            if !bool::from(subtle::ConstantTimeEq::ct_eq(
                account.value.secret.as_bytes(),
                credentials.secret.as_bytes(),
            )) {
                return Err(WxError(ErrCode::InvalidAppsecret));
            }
            let appid = credentials.appid.to_owned();
            let now = ctx.wall_now;
            let oa = &mut world.oa;
            let set = oa.stable.entry(appid.clone()).or_default();

            if !request.force_refresh
                && let Some(current) = set.value.tokens.last()
                && current.valid_until - now > RENEW_WITHIN
            {
                return Ok(TokenResponse {
                    access_token: current.token.clone(),
                    expires_in: (current.valid_until - now).unsigned_abs(),
                });
            }
            if request.force_refresh {
                let day = (now + CHINA_OFFSET).div_euclid(86_400);
                if set.value.force_day != day {
                    set.value.force_day = day;
                    set.value.force_count = 0;
                }
                if set.value.force_count >= FORCE_PER_DAY {
                    return Err(WxError(ErrCode::ApiDailyQuota));
                }
                if set
                    .value
                    .last_force_at
                    .is_some_and(|at| now - at < FORCE_SPACING)
                {
                    return Err(WxError(ErrCode::ApiMinuteQuota));
                }
                set.value.force_count += 1;
                set.value.last_force_at = Some(now);
                // A forced token replaces the previous ones at once.
                for old in &mut set.value.tokens {
                    old.valid_until = old.valid_until.min(now);
                }
            }
            let fresh = IssuedToken {
                token: ids::access_token(),
                issued_at: now,
                valid_until: now + LIFETIME,
            };
            set.value.tokens.push(fresh.clone());
            let excess = set.value.tokens.len().saturating_sub(KEEP);
            for dropped in set.value.tokens.drain(..excess) {
                oa.stable_index.remove(&dropped.token);
            }
            oa.stable_index.insert(fresh.token.clone(), appid.clone());
            tx.save(Key::StableTokens(appid), set);
            Ok(TokenResponse {
                access_token: fresh.token,
                expires_in: LIFETIME.unsigned_abs(),
            })
        })
        .await;
    match answer {
        Ok(token) => wx_json(token.to_json()),
        Err(e) => e.into_response(),
    }
}
