//! kefu's own API under `/api/v1` (shared/API.md), one module per resource. Every call needs the
//! admin token; every refusal is `{"error": {"code", "message"}}` and changes nothing.

pub(crate) mod accounts;
mod actions;
mod clock;
mod conversations;
mod deliveries;
mod oa;
pub(crate) mod oa_actions;
pub mod rollouts;
mod rulesets;
mod traffic;
mod users;

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::app::App;
use crate::error::ApiError;
use crate::world::{Entry, World};
use kefu_store::AccountRecord;

pub fn router(app: App) -> Router<App> {
    Router::new()
        .route("/accounts", post(accounts::create).get(accounts::list))
        .route(
            "/accounts/{appid}",
            get(accounts::get)
                .patch(accounts::patch)
                .delete(accounts::delete),
        )
        .route(
            "/accounts/{appid}/conversations/{openid}",
            get(conversations::explain),
        )
        .route("/users", post(users::create).get(users::list))
        .route("/users/{user_id}", get(users::get).delete(users::delete))
        .route("/users/{user_id}/actions", post(actions::act))
        .route("/users/{user_id}/inbox", get(users::inbox))
        .route("/clock", get(clock::get))
        .route("/clock/advance", post(clock::advance))
        .route("/clock/set", post(clock::set))
        .route("/reset", post(clock::reset))
        .route("/accounts/{appid}/deliveries", get(deliveries::list))
        .route(
            "/accounts/{appid}/deliveries/{id}/replay",
            post(deliveries::replay),
        )
        .route("/accounts/{appid}/menu", get(oa::menu))
        .route("/accounts/{appid}/qrcodes", get(oa::qrcodes))
        .route("/openapi.json", get(crate::openapi::serve))
        .route("/rulesets", get(rulesets::list))
        .route("/rulesets/{name}", get(rulesets::get).put(rulesets::put))
        .route("/rollouts", post(rollouts::create).get(rollouts::list))
        .route("/rollouts/{id}", get(rollouts::get))
        .route("/rollouts/{id}/pause", post(rollouts::pause))
        .route("/rollouts/{id}/resume", post(rollouts::resume))
        .route(
            "/rollouts/{id}/pins/{appid}",
            axum::routing::put(rollouts::pin).delete(rollouts::unpin),
        )
        .route("/accounts/{appid}/notices", get(rollouts::notices))
        .route("/traffic", get(traffic::export))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app, authorize))
}

async fn authorize(State(app): State<App>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(token) if app.admin_token_is(token) => next.run(request).await,
        _ => ApiError::unauthorized().into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such endpoint in /api/v1")
}

/// The account `appid`, or 404 `account_not_found`.
pub(crate) fn account<'w>(
    world: &'w World,
    appid: &str,
) -> Result<&'w Entry<AccountRecord>, ApiError> {
    world
        .accounts
        .get(appid)
        .ok_or_else(|| ApiError::account_not_found(appid))
}

/// `?limit=` (default 100, at most 1000) and `?after=<id>` of a list.
pub struct Page {
    pub limit: usize,
    pub after: Option<String>,
}

impl Page {
    pub fn from_query(query: &HashMap<String, String>) -> Result<Page, ApiError> {
        let limit = match query.get("limit") {
            None => 100,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => {
                    return Err(ApiError::invalid(
                        "invalid_limit",
                        "limit must be a whole number from 1 to 1000",
                    ));
                }
            },
        };
        Ok(Page {
            limit,
            after: query.get("after").cloned(),
        })
    }

    /// The page of `items` (already in list order) after the one whose id is `after`.
    pub fn apply<T>(&self, items: Vec<T>, id: impl Fn(&T) -> &str) -> Vec<T> {
        let start = match &self.after {
            Some(after) => items
                .iter()
                .position(|item| id(item) == after)
                .map_or(items.len(), |i| i + 1),
            None => 0,
        };
        items.into_iter().skip(start).take(self.limit).collect()
    }
}
