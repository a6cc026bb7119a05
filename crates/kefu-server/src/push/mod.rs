//! Pushes: what a user's action sends to the account's webhook, exactly as WeChat sends it
//! (WECHAT.md §6), through a durable outbox.
//!
//! - [`outbox`]: the outbox and MsgId counters in the world; [`push`] (what an action calls with
//!   a [`PushKind`]) and the decision that records each attempt.
//! - `wire`: one HTTP attempt: the signed query, the POST, and what the answer means.
//! - `worker`: the dispatcher and its bounded pool of delivery tasks.
//! - `recorder`: commits the attempts of all deliveries in flight, in batches.
//! - `verify`: the GET that checks a new `webhook_url`.
//! - `kinds`: an action's fields as a [`PushKind`].
//!
//! The life of a push: the action's decision calls [`push`], which writes the delivery to the
//! outbox in the action's own commit and hands a job to the [`Hub`]. The dispatcher starts the
//! job once that commit is durable (so nothing is sent that a crash could take back), on a
//! worker task, never under the world lock. Each attempt's result is committed by the recorder
//! through [`App::mutate`](crate::App::mutate) before it is reported; the last one deletes the
//! outbox entry and writes the delivery to the log. At start-up every outbox entry is handed to
//! the dispatcher again.

mod kinds;
pub mod outbox;
mod recorder;
mod verify;
mod wire;
mod worker;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kefu_wechat::PushKind;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};

pub use kinds::message_kind;
pub use outbox::{Outbox, check_room, push};
pub use verify::{Verified, verify_url};
pub use worker::start;

use crate::app::App;
use crate::world::World;

/// WeChat's wait for a webhook's answer (WECHAT.md §6.2).
pub const WECHAT_TIMEOUT: Duration = Duration::from_secs(5);

/// How deliveries run. The defaults are WeChat's timeout and a pool sized for one machine.
#[derive(Clone, Debug)]
pub struct PushConfig {
    /// How long an attempt waits for a complete answer (5 s, as WeChat; tests shorten it).
    pub timeout: Duration,
    /// Deliveries in flight at once, across all accounts.
    pub workers: usize,
    /// Deliveries in flight at once for one account: a dead webhook holds at most this many
    /// workers, so other accounts keep theirs.
    pub per_account: usize,
    /// Pending deliveries the outbox holds; an action that would push beyond it is refused
    /// (503 `push_queue_full`).
    pub capacity: usize,
}

impl Default for PushConfig {
    fn default() -> PushConfig {
        PushConfig {
            timeout: WECHAT_TIMEOUT,
            // A delivery in flight is a task and a socket, cheap; what bounds them is that a
            // dead webhook holds its slots for up to three timeouts (15 s).
            workers: 1024,
            per_account: 64,
            capacity: 100_000,
        }
    }
}

/// What the first attempt of a delivery came to, once its record is durable.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// `delivered`, `retrying`, `failed` or `invalid_reply` (`queued` if nothing came yet).
    pub status: &'static str,
    pub msg_id: Option<i64>,
    pub attempts: usize,
    pub http_status: Option<u16>,
    /// The passive reply as API.md shows it: `{"msgtype": "text", "content": "hi!"}`.
    pub passive_reply: Option<Value>,
}

/// What an action's push came to, for its answer.
#[derive(Debug)]
pub enum Pushed {
    /// The account has no `webhook_url`.
    NoWebhook,
    /// WeChat does not push this action (a payment).
    NotPushed,
    /// In the outbox; `first` resolves with the first attempt's outcome.
    Enqueued {
        id: u64,
        msg_id: Option<i64>,
        first: oneshot::Receiver<Outcome>,
    },
}

impl Pushed {
    /// The answer's `pushed` and `passive_reply`: waits for the first attempt unless `wait` is
    /// false, and at most `patience` (a push queued behind a stuck one answers `queued`).
    pub async fn answer(self, wait: bool, patience: Duration) -> (Value, Value) {
        let status = |status: &str, msg_id: Option<i64>| {
            json!({
                "status": status,
                "msg_id": msg_id.map(|m| m.to_string()),
                "attempts": 0,
                "http_status": null,
            })
        };
        match self {
            Pushed::NoWebhook => (status("no_webhook", None), Value::Null),
            Pushed::NotPushed => (status("not_pushed", None), Value::Null),
            Pushed::Enqueued { msg_id, first, .. } => {
                if !wait {
                    return (status("queued", msg_id), Value::Null);
                }
                match tokio::time::timeout(patience, first).await {
                    Ok(Ok(outcome)) => (
                        json!({
                            "status": outcome.status,
                            "msg_id": outcome.msg_id.map(|m| m.to_string()),
                            "attempts": outcome.attempts,
                            "http_status": outcome.http_status,
                        }),
                        outcome.passive_reply.unwrap_or(Value::Null),
                    ),
                    // Still queued (behind a stuck delivery of the account), or the delivery
                    // was dropped by a reset: the log tells the rest.
                    _ => (status("queued", msg_id), Value::Null),
                }
            }
        }
    }
}

/// A delivery for the dispatcher: everything an attempt needs, so no attempt takes the world
/// lock before it has something to record.
pub(crate) struct Job {
    pub id: u64,
    pub target: wire::Target,
    pub openid: String,
    pub body: axum::body::Bytes,
    /// The `Encrypt` of an encrypted body, which `msg_signature` covers.
    pub encrypt: Option<String>,
    /// Attempts already made (after a restart).
    pub attempts_made: usize,
    /// The [`Hub::generation`] it was enqueued in: a reset abandons older jobs.
    pub generation: u64,
    pub first: Option<oneshot::Sender<Outcome>>,
}

/// The delivery side of the running kefu: the shared HTTP client, the dispatcher's queue and the
/// configuration. Held by [`App`]; decisions reach it through `Ctx::pushes`.
pub struct Hub {
    pub config: PushConfig,
    client: reqwest::Client,
    jobs: mpsc::UnboundedSender<Job>,
    /// Taken by [`start`].
    queue: Mutex<Option<mpsc::UnboundedReceiver<Job>>>,
    /// Attempts to commit, for the recorder.
    recordings: mpsc::UnboundedSender<recorder::Recording>,
    /// Taken by [`start`].
    recording_queue: Mutex<Option<mpsc::UnboundedReceiver<recorder::Recording>>>,
    stop: watch::Sender<bool>,
    /// The dispatcher and delivery tasks alive: each holds the app, and with it the store.
    live: watch::Sender<usize>,
    /// Moves on at every reset (`POST /api/v1/reset`).
    generation: AtomicU64,
}

/// Counts one task in [`Hub::live`] while it lives.
pub(crate) struct Live(watch::Sender<usize>);

impl Live {
    fn new(hub: &Hub) -> Live {
        hub.live.send_modify(|n| *n += 1);
        Live(hub.live.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Hub {
    pub fn new(config: PushConfig) -> Hub {
        let (jobs, queue) = mpsc::unbounded_channel();
        let (recordings, recording_queue) = mpsc::unbounded_channel();
        let client = reqwest::Client::builder()
            // A webhook answers itself: WeChat follows no redirect and uses no proxy.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "building the webhook client failed; using defaults");
                reqwest::Client::new()
            });
        Hub {
            config,
            client,
            jobs,
            queue: Mutex::new(Some(queue)),
            recordings,
            recording_queue: Mutex::new(Some(recording_queue)),
            stop: watch::channel(false).0,
            live: watch::channel(0).0,
            generation: AtomicU64::new(0),
        }
    }

    /// Abandons every job handed over so far (a reset wiped their deliveries): none makes
    /// another attempt.
    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Queues a job; the dispatcher starts it once the commit that enqueued it is durable.
    pub(crate) fn submit(&self, job: Job) {
        // The receiver lives as long as the dispatcher, which lives as long as the app.
        if self.jobs.send(job).is_err() {
            tracing::debug!("the dispatcher has stopped; the delivery stays in the outbox");
        }
    }

    /// Stops dispatching and abandons attempts in flight (shutdown): pending deliveries stay
    /// in the outbox for the next start. Resolves once every delivery task has let go of the
    /// app (so its store can be opened again), or after `patience`.
    pub async fn stop(&self, patience: Duration) {
        self.stop.send_replace(true);
        let mut live = self.live.subscribe();
        let all_gone = live.wait_for(|n| *n == 0);
        if tokio::time::timeout(patience, all_gone).await.is_err() {
            tracing::warn!("delivery tasks still running at shutdown");
        }
    }

    /// Resolves when [`Hub::stop`] is called.
    pub(crate) async fn stopped(&self) {
        let mut stop = self.stop.subscribe();
        drop(stop.wait_for(|stopped| *stopped).await);
    }

    /// Hands an attempt to the recorder; resolves with its outcome once durable (`None` when
    /// the delivery is gone or kefu is stopping).
    pub(crate) async fn record(
        &self,
        id: u64,
        url: String,
        attempt: wire::Attempt,
    ) -> Option<Outcome> {
        let (outcome, recorded) = oneshot::channel();
        let recording = recorder::Recording {
            id,
            url,
            attempt,
            outcome,
        };
        self.recordings.send(recording).ok()?;
        recorded.await.ok().flatten()
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// How long an action waits for its push's first attempt before answering `queued`.
    pub fn patience(&self) -> Duration {
        self.config.timeout + Duration::from_secs(5)
    }
}

/// Enqueues `kinds` from the user of `openid` on `appid` in one decision, outside any action:
/// benchmarks drive the delivery worker with it. Refused like an action when the outbox is full.
#[doc(hidden)]
pub async fn enqueue(
    app: &App,
    appid: &str,
    openid: &str,
    kinds: Vec<PushKind>,
) -> Result<Vec<Pushed>, crate::error::ApiError> {
    app.mutate(|world: &mut World, tx, ctx| {
        let owner = world
            .owner_of(openid)
            .filter(|o| o.appid == appid)
            .map(|o| o.user_id.to_owned())
            .ok_or_else(|| {
                crate::error::ApiError::not_found(
                    "openid_not_found",
                    format!("no openid {openid} on account {appid}"),
                )
            })?;
        if world.outbox.pending.len() + kinds.len() > ctx.pushes.config.capacity {
            return Err(outbox::queue_full());
        }
        Ok(kinds
            .into_iter()
            .map(|kind| push(world, tx, ctx, appid, &owner, openid, kind))
            .collect())
    })
    .await
}

/// How many deliveries are pending (benchmarks wait for zero).
#[doc(hidden)]
pub async fn pending(app: &App) -> usize {
    app.read(|world, _| Ok::<_, crate::error::Unavailable>(world.outbox.pending.len()))
        .await
        .unwrap_or(0)
}
