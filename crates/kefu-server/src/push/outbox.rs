//! The outbox in the world: pending deliveries and each account's MsgId counter, and the two
//! decisions on them: enqueue a push ([`push`]) and record an attempt ([`record_attempt`]).

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::http::StatusCode;
use kefu_store::{
    DeliveryKind, DeliveryRecord, DeliveryStatus, InboxMessage, InboxSource, Key, MsgIdCounter,
};
use kefu_wechat::{Push, PushKind};
use serde_json::json;
use tokio::sync::oneshot;

use super::wire::{self, Attempt, Target, Verdict};
use super::{Job, Outcome, Pushed};
use crate::app::Ctx;
use crate::error::ApiError;
use crate::ids;
use crate::world::{Entry, Tx, World};

/// Where an account's MsgIds start: WeChat's are 64-bit numbers of about this size.
const FIRST_MSG_ID: i64 = 24_000_000_000_000_001;

/// What WeChat shows the user when a push gets no usable answer (WECHAT.md §6.2).
pub const NOTICE: &str = "该公众号暂时无法提供服务，请稍后再试";

#[derive(Debug, Default)]
pub struct Outbox {
    /// Pending deliveries by id, oldest first.
    pub pending: BTreeMap<u64, Entry<DeliveryRecord>>,
    /// appid → the next MsgId of its message pushes.
    pub msg_ids: HashMap<String, Entry<MsgIdCounter>>,
}

impl Outbox {
    /// The pending deliveries of `appid` with `id < before`, newest first, at most `limit`.
    pub fn pending_of(
        &self,
        appid: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Vec<DeliveryRecord> {
        let below = before.unwrap_or(u64::MAX);
        self.pending
            .range(..below)
            .rev()
            .map(|(_, e)| &e.value)
            .filter(|d| d.appid == appid)
            .take(limit)
            .cloned()
            .collect()
    }

    /// Drops everything of a deleted account.
    pub fn forget_account(&mut self, tx: &mut Tx, appid: &str) {
        let ids: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, d)| d.value.appid == appid)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some(entry) = self.pending.remove(&id) {
                tx.delete(Key::Outbox(id), &entry);
            }
        }
        if let Some(counter) = self.msg_ids.remove(appid) {
            tx.delete(Key::MsgIds(appid.to_owned()), &counter);
        }
    }
}

pub fn queue_full() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "push_queue_full",
        "the push outbox is full; try again once pending deliveries have gone out",
    )
}

/// Refuses (503 `push_queue_full`) an action that would push to `appid` when the outbox is
/// full. Call it with the other refusals, before anything changes.
pub fn check_room(world: &World, ctx: &Ctx<'_>, appid: &str) -> Result<(), ApiError> {
    let has_webhook = world
        .accounts
        .get(appid)
        .is_some_and(|a| a.value.webhook_url.is_some());
    if has_webhook && world.outbox.pending.len() >= ctx.pushes.config.capacity {
        return Err(queue_full());
    }
    Ok(())
}

/// Pushes `kind` from the user `openid` to `appid`'s webhook: what every action that WeChat
/// pushes calls once its own changes are made (after [`check_room`]). The delivery enters the
/// outbox and the log in the action's commit; it is sent once that commit is durable. A message
/// gets its MsgId here, fixed for every attempt and replay.
pub fn push(
    world: &mut World,
    tx: &mut Tx,
    ctx: &Ctx<'_>,
    appid: &str,
    user_id: &str,
    openid: &str,
    kind: PushKind,
) -> Pushed {
    let Some(target) = world.accounts.get(appid).and_then(|a| Target::of(&a.value)) else {
        return Pushed::NoWebhook;
    };
    let mut push = Push {
        to_user: target.original_id.clone(),
        from_user: openid.to_owned(),
        create_time: ctx.now,
        kind,
    };
    if push.msg_id().is_some() {
        let counter = world
            .outbox
            .msg_ids
            .entry(appid.to_owned())
            .or_insert_with(|| Entry::new(MsgIdCounter { next: FIRST_MSG_ID }));
        push.set_msg_id(counter.value.next);
        counter.value.next += 1;
        tx.resave(Key::MsgIds(appid.to_owned()), counter);
    }
    let (body, encrypt) = wire::body(&target, &push, &ids::aes_random16());
    let id = tx.seq();
    let record = DeliveryRecord {
        id,
        appid: appid.to_owned(),
        user_id: user_id.to_owned(),
        openid: openid.to_owned(),
        created_at: ctx.now,
        kind: DeliveryKind::Push,
        event: push.event_name().to_owned(),
        msg_id: push.msg_id(),
        url: target.url.clone(),
        query: String::new(),
        body,
        status: DeliveryStatus::Queued,
        attempts: vec![],
        passive_reply: None,
        replay_of: None,
    };
    enqueue(world, tx, ctx, target, record, encrypt)
}

/// Sends delivery `original` again as a new delivery of kind `replay`: the same body (so the
/// same MsgId and ciphertext) with fresh signatures, to the account's webhook now.
pub fn replay(
    world: &mut World,
    tx: &mut Tx,
    ctx: &Ctx<'_>,
    original: &DeliveryRecord,
) -> Result<Pushed, ApiError> {
    let account = crate::api::account(world, &original.appid)?;
    let target = Target::of(&account.value)
        .ok_or_else(|| ApiError::conflict("no_webhook", "the account has no webhook_url"))?;
    if world.outbox.pending.len() >= ctx.pushes.config.capacity {
        return Err(queue_full());
    }
    let encrypt = kefu_wechat::parse_encrypted_envelope(original.body.as_bytes())
        .ok()
        .and_then(|e| e.encrypt);
    let record = DeliveryRecord {
        id: tx.seq(),
        created_at: ctx.now,
        kind: DeliveryKind::Replay,
        url: target.url.clone(),
        query: String::new(),
        status: DeliveryStatus::Queued,
        attempts: vec![],
        passive_reply: None,
        replay_of: Some(original.id),
        ..original.clone()
    };
    Ok(enqueue(world, tx, ctx, target, record, encrypt))
}

/// Puts `record` in the outbox and the log, and hands its job to the dispatcher.
pub(crate) fn enqueue(
    world: &mut World,
    tx: &mut Tx,
    ctx: &Ctx<'_>,
    target: Target,
    record: DeliveryRecord,
    encrypt: Option<String>,
) -> Pushed {
    let (id, msg_id) = (record.id, record.msg_id);
    let (first, outcome) = oneshot::channel();
    let job = Job {
        id,
        target,
        openid: record.openid.clone(),
        body: Bytes::from(record.body.clone()),
        encrypt,
        attempts_made: 0,
        generation: ctx.pushes.generation(),
        first: Some(first),
    };
    // The outbox entry is the delivery's durable state until it ends; only then does the log
    // get it (one copy of the body written per state, not two).
    let mut entry = Entry::new(record);
    tx.save(Key::Outbox(id), &mut entry);
    world.outbox.pending.insert(id, entry);
    ctx.pushes.submit(job);
    Pushed::Enqueued {
        id,
        msg_id,
        first: outcome,
    }
}

/// The jobs of every pending delivery, for the dispatcher at start-up. The target is the
/// account's configuration now; a delivery whose account lost its webhook is dropped.
pub(crate) fn recover(world: &mut World, tx: &mut Tx, ctx: &Ctx<'_>) -> Vec<Job> {
    let mut jobs = Vec::new();
    let mut orphans = Vec::new();
    for (id, entry) in &world.outbox.pending {
        let d = &entry.value;
        let Some(target) = world
            .accounts
            .get(&d.appid)
            .and_then(|a| Target::of(&a.value))
        else {
            orphans.push(*id);
            continue;
        };
        let encrypt = kefu_wechat::parse_encrypted_envelope(d.body.as_bytes())
            .ok()
            .and_then(|e| e.encrypt);
        jobs.push(Job {
            id: *id,
            target,
            openid: d.openid.clone(),
            body: Bytes::from(d.body.clone()),
            encrypt,
            attempts_made: d.attempts.len(),
            generation: ctx.pushes.generation(),
            first: None,
        });
    }
    for id in orphans {
        if let Some(mut entry) = world.outbox.pending.remove(&id) {
            tx.delete(Key::Outbox(id), &entry);
            entry.value.status = DeliveryStatus::Failed;
            tx.delivery(entry.value);
        }
    }
    jobs
}

/// Records one attempt of delivery `id`: the outbox entry moves on, or, when the delivery ends,
/// is deleted as the log gets the delivery, and an ended push leaves its effect in the user's
/// inbox: the passive reply, or WeChat's notice. `None` when the delivery is gone (its
/// account was deleted, or kefu was reset).
pub fn record_attempt(
    world: &mut World,
    tx: &mut Tx,
    ctx: &Ctx<'_>,
    id: u64,
    url: &str,
    attempt: Attempt,
) -> Option<Outcome> {
    let entry = world.outbox.pending.get_mut(&id)?;
    let d = &mut entry.value;
    let Attempt {
        record,
        query,
        verdict,
    } = attempt;
    let verdict = &verdict;
    let http_status = record.http_status;
    d.attempts.push(record);
    d.query = query;
    url.clone_into(&mut d.url);
    let reply = match verdict {
        Verdict::Delivered(reply) => reply.as_ref().map(wire::reply_json),
        _ => None,
    };
    d.status = match verdict {
        Verdict::Delivered(_) => DeliveryStatus::Delivered,
        Verdict::InvalidReply(_) => DeliveryStatus::InvalidReply,
        Verdict::Failed(_) if d.attempts.len() >= super::worker::MAX_ATTEMPTS => {
            DeliveryStatus::Failed
        }
        Verdict::Failed(_) => DeliveryStatus::Retrying,
    };
    d.passive_reply = reply.as_ref().map(ToString::to_string);
    let outcome = Outcome {
        status: d.status.as_str(),
        msg_id: d.msg_id,
        attempts: d.attempts.len(),
        http_status,
        passive_reply: reply.clone(),
    };
    if d.status.is_pending() {
        tx.save(Key::Outbox(id), entry);
        return Some(outcome);
    }
    let entry = world.outbox.pending.remove(&id)?;
    tx.delete(Key::Outbox(id), &entry);
    let d = entry.value;
    if let Some(message) = inbox_effect(world, ctx, &d, verdict) {
        let id = tx.seq();
        tx.inbox(InboxMessage { id, ..message });
    }
    tx.delivery(d);
    Some(outcome)
}

/// What the user sees when a push ends: the passive reply, or WeChat's notice after a failure.
/// Nothing for a replay (the user did nothing), for an unfollow (the user no longer sees the
/// account), or for a user deleted meanwhile.
fn inbox_effect(
    world: &World,
    ctx: &Ctx<'_>,
    d: &DeliveryRecord,
    verdict: &Verdict,
) -> Option<InboxMessage> {
    if d.kind != DeliveryKind::Push || d.event == "unsubscribe" {
        return None;
    }
    world.users.get(&d.user_id)?;
    let (source, msgtype, body) = match verdict {
        Verdict::Delivered(None) => return None,
        Verdict::Delivered(Some(reply)) => (
            InboxSource::PassiveReply,
            reply.msgtype.clone(),
            reply.body_json().to_string(),
        ),
        Verdict::InvalidReply(_) | Verdict::Failed(_) => (
            InboxSource::System,
            "text".to_owned(),
            json!({ "content": NOTICE }).to_string(),
        ),
    };
    Some(InboxMessage {
        id: 0,
        user_id: d.user_id.clone(),
        appid: d.appid.clone(),
        openid: d.openid.clone(),
        source,
        msgtype,
        body,
        sent_at: ctx.now,
    })
}
