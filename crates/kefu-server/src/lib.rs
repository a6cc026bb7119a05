//! kefu's edges: the WeChat developer API (`/cgi-bin/...`), kefu's own API (`/api/v1/...`), the
//! clocks and the writer. Everything here translates; deciding is kefu-policy's, the wire format
//! kefu-wechat's, durability kefu-store's.
//!
//! # Layout
//! - [`app`]: the running kefu ([`App`]): the world in memory, the writer, the rule book;
//!   `mutate` and `read` are the only ways handlers touch state.
//! - `world`: the in-memory state and `Tx`, which turns each change into store writes;
//!   `users` and `conversations`, its two tables of millions; `snapshot`, those tables written
//!   at a graceful stop for the next start.
//! - `writer`: the one writer thread and its group commit.
//! - [`clock`]: the rule clock and the wall clock.
//! - `cgi`: one module per `/cgi-bin` family (token, stable token, custom messages, menu, QR
//!   codes, users, KF accounts).
//! - `api`: one module per `/api/v1` resource (accounts, users, actions, conversations, clock;
//!   `oa` for menus and QR codes, `oa_actions` for `menu_click` and `qr_scan`).
//! - `oa`: the world's state for menus, QR codes, follows, KF accounts and stable tokens.
//! - `qrpng`: the QR code image of `showqrcode`.
//! - `metrics`: `/metrics`; `openapi`: `/api/v1/openapi.json`, built from declarations.
//! - [`seed`]: `kefu serve --seed FILE` and `--demo`.
//! - [`push`]: webhook deliveries: the outbox, the dispatcher and its workers, URL verification;
//!   `api/deliveries.rs` is the delivery log and replay.
//! - `body`: request bodies: size limits and JSON parsing with the right refusal per API.
//! - `error`: how each API says no.
//!
//! The entry is [`run`]: it takes a listener and a shutdown future, so the binary and the tests
//! start kefu the same way; [`router`] gives the routes alone.

pub mod api;
pub mod app;
mod appids;
mod body;
mod cgi;
pub mod clock;
mod conversations;
mod error;
mod ids;
mod index;
mod metrics;
mod oa;
mod openapi;
mod policy;
pub mod push;
mod qrpng;
pub mod rollout_file;
pub mod seed;
mod shadow;
mod snapshot;
mod timefmt;
pub mod traffic;
mod users;
mod world;
mod writer;

use std::future::Future;

use axum::Router;
use axum::middleware;
use axum::routing::get;

pub use app::{App, Config, StartError, Started};
pub use kefu_store::ClockMode;
pub use push::PushConfig;
pub use snapshot::FILE as SNAPSHOT_FILE;

/// Every route kefu serves.
pub fn router(app: App) -> Router {
    Router::new()
        .merge(cgi::router())
        .nest("/api/v1", api::router(app.clone()))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::serve))
        .layer(middleware::from_fn_with_state(app.clone(), metrics::track))
        .with_state(app)
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets requests in flight finish and
/// the writer make everything queued durable.
pub async fn run(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let served = axum::serve(listener, router(app.clone()))
        .with_graceful_shutdown(shutdown)
        .await;
    // Deliveries not finished stay in the outbox; the next start resumes them.
    app.pushes().stop(std::time::Duration::from_secs(5)).await;
    let drained = tokio::task::spawn_blocking(move || app.close()).await;
    if drained.is_err() {
        tracing::error!("draining the writer failed");
    }
    served
}

async fn healthz() -> &'static str {
    "ok"
}
