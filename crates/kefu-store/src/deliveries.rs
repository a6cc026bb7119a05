//! Webhook deliveries: the push outbox, the delivery log and the MsgId counters.
//!
//! A delivery is one body sent to an account's webhook, with up to three attempts. While it is
//! pending it lives in the outbox, under [`Key::Outbox`](crate::Key::Outbox) (a versioned record:
//! the server changes it after each attempt and deletes it when the delivery ends; start-up scans
//! it back and resumes it). Every state it goes through is also written to the delivery log
//! ([`Commit::deliveries`](crate::Commit::deliveries)), which keeps finished deliveries for
//! `GET /api/v1/accounts/{appid}/deliveries` without loading them into memory at start-up.

use serde::{Deserialize, Serialize};

/// What a delivery sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryKind {
    /// A user action, pushed as WeChat pushes it.
    Push,
    /// The GET that checks a new `webhook_url`.
    UrlVerification,
    /// A delivery sent again on request.
    Replay,
}

/// Where a delivery stands: API.md's `pushed.status` values that a delivery can take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryStatus {
    /// In the outbox, no attempt made yet.
    Queued,
    /// In the outbox; an attempt failed and another will follow.
    Retrying,
    Delivered,
    /// Three attempts failed (or, for a URL verification, the one attempt did).
    Failed,
    /// The webhook answered 200 with something that is neither an acknowledgement nor a valid
    /// passive reply.
    InvalidReply,
}

impl DeliveryStatus {
    /// Whether the delivery still has attempts to make.
    pub fn is_pending(self) -> bool {
        matches!(self, DeliveryStatus::Queued | DeliveryStatus::Retrying)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Retrying => "retrying",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::InvalidReply => "invalid_reply",
        }
    }
}

/// One HTTP attempt of a delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// 1, 2 or 3.
    pub n: u8,
    /// Wall-clock unix seconds when the attempt started.
    pub at: i64,
    /// The HTTP status, when a response head arrived.
    pub http_status: Option<u16>,
    pub latency_ms: u64,
    /// Why the attempt failed (connection, timeout, status, invalid reply), if it did.
    pub error: Option<String>,
}

/// A delivery as the log and the outbox keep it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// A store-wide sequence number: unique, increasing, never reused.
    pub id: u64,
    pub appid: String,
    /// The user the push is about (and whose inbox gets the passive reply or the notice).
    pub user_id: String,
    pub openid: String,
    /// Rule-clock instant the delivery was enqueued (a push's `CreateTime`).
    pub created_at: i64,
    pub kind: DeliveryKind,
    /// The push's `MsgType` for a message (`text`, ...) or its `Event` (`subscribe`, ...).
    pub event: String,
    /// A message push's `MsgId`: fixed at enqueue, the same on every attempt and replay.
    pub msg_id: Option<i64>,
    /// The URL the last attempt went to (the account's `webhook_url` when enqueued).
    pub url: String,
    /// The query string of the last attempt (signatures change on every attempt).
    pub query: String,
    /// The body exactly as POSTed (the AES envelope in the encrypted modes); empty for a GET.
    pub body: String,
    pub status: DeliveryStatus,
    pub attempts: Vec<AttemptRecord>,
    /// The parsed passive reply as JSON text, opaque to the store.
    pub passive_reply: Option<String>,
    /// For a replay, the delivery it sends again.
    pub replay_of: Option<u64>,
}

/// The next `MsgId` of one account's message pushes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsgIdCounter {
    pub next: i64,
}
