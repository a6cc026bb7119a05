//! `GET /cgi-bin/token` (WECHAT.md §2.1). Tokens live on the wall clock: each fetch issues a new
//! one, and the previous ones stay valid until 300 s after it (or their own 7200 s).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use kefu_store::{IssuedToken, Key};
use kefu_wechat::ErrCode;
use kefu_wechat::token::TokenResponse;

use crate::app::App;
use crate::error::{WxError, wx_json};
use crate::ids;

/// How long a token lives, in wall-clock seconds.
pub const LIFETIME: i64 = 7200;
/// How long the previous token stays valid after a new one is issued.
const OVERLAP: i64 = 300;
/// Tokens kept per account: enough to tell "expired" from "unknown" for a while.
const KEEP: usize = 8;

pub async fn token(State(app): State<App>, Query(query): Query<super::Query>) -> Response {
    let issued = app
        .mutate(|world, tx, ctx| {
            match query.get("grant_type").map(String::as_str) {
                Some("client_credential") => {}
                _ => return Err(WxError(ErrCode::InvalidGrantType)),
            }
            let appid = non_empty(&query, "appid").ok_or(WxError(ErrCode::AppidMissing))?;
            let secret = non_empty(&query, "secret").ok_or(WxError(ErrCode::AppsecretMissing))?;
            let account = world
                .accounts
                .get(appid)
                .ok_or(WxError(ErrCode::InvalidAppid))?;
            // Compared in constant time: the secret is a credential.
            if !bool::from(subtle::ConstantTimeEq::ct_eq(
                account.value.secret.as_bytes(),
                secret.as_bytes(),
            )) {
                return Err(WxError(ErrCode::InvalidAppsecret));
            }

            let now = ctx.wall_now;
            let set = world.tokens.entry(appid.to_owned()).or_default();
            for old in &mut set.value.tokens {
                old.valid_until = old.valid_until.min(now + OVERLAP);
            }
            let fresh = IssuedToken {
                token: ids::access_token(),
                issued_at: now,
                valid_until: now + LIFETIME,
            };
            set.value.tokens.push(fresh.clone());
            let excess = set.value.tokens.len().saturating_sub(KEEP);
            for dropped in set.value.tokens.drain(..excess) {
                world.token_index.remove(&dropped.token);
            }
            world
                .token_index
                .insert(fresh.token.clone(), appid.to_owned());
            tx.save(Key::Tokens(appid.to_owned()), set);
            Ok(fresh)
        })
        .await;
    match issued {
        Ok(fresh) => wx_json(
            TokenResponse {
                access_token: fresh.token,
                expires_in: LIFETIME.unsigned_abs(),
            }
            .to_json(),
        ),
        Err(e) => e.into_response(),
    }
}

fn non_empty<'a>(query: &'a super::Query, name: &str) -> Option<&'a str> {
    query
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}
