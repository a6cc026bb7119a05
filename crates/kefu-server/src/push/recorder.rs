//! The recorder: one task that commits the attempts of every delivery in flight, many to a
//! decision. One commit per attempt would take the world lock and wake a waiter per attempt;
//! batching them is group commit one level up. Each delivery learns its outcome once the batch
//! holding it is durable. The next batch gathers while the last one is made durable.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::outbox::record_attempt;
use super::{Live, Outcome, wire};
use crate::app::App;
use crate::error::Unavailable;

/// The most attempts one decision records: bounds how long the world lock is held.
const MAX_BATCH: usize = 1024;

/// Batches committed at once. While one is, later attempts pile up into the next, bigger
/// batch; measured, one at a time beat four (fewer, larger commits).
const IN_FLIGHT: usize = 1;

/// One attempt to record, and where its outcome goes (`None`: the delivery is gone).
pub(crate) struct Recording {
    pub id: u64,
    pub url: String,
    pub attempt: wire::Attempt,
    pub outcome: oneshot::Sender<Option<Outcome>>,
}

pub(crate) async fn run(app: App, mut queue: mpsc::UnboundedReceiver<Recording>, live: Live) {
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        let first = tokio::select! {
            recording = queue.recv() => recording,
            () = app.pushes().stopped() => None,
        };
        let Some(first) = first else { break };
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(recording) => batch.push(recording),
                Err(_) => break,
            }
        }
        let mut senders = Vec::with_capacity(batch.len());
        let mut attempts = Vec::with_capacity(batch.len());
        for Recording {
            id,
            url,
            attempt,
            outcome,
        } in batch
        {
            senders.push(outcome);
            attempts.push((id, url, attempt));
        }
        let (app, live) = (app.clone(), Live::new(app.pushes()));
        tokio::spawn(async move {
            commit(&app, attempts, senders).await;
            drop(app);
            drop(permit);
            drop(live);
        });
    }
    drop(app);
    drop(live);
}

/// Records one batch in one decision and reports each outcome once it is durable.
async fn commit(
    app: &App,
    attempts: Vec<(u64, String, wire::Attempt)>,
    senders: Vec<oneshot::Sender<Option<Outcome>>>,
) {
    let recorded = app
        .mutate(|world, tx, ctx| {
            let outcomes: Vec<Option<Outcome>> = attempts
                .into_iter()
                .map(|(id, url, attempt)| record_attempt(world, tx, ctx, id, &url, attempt))
                .collect();
            Ok::<_, Unavailable>(outcomes)
        })
        .await;
    // On a storage failure the senders drop: the deliveries stop, and the outbox keeps what
    // was durable for the next start.
    if let Ok(outcomes) = recorded {
        for (sender, outcome) in senders.into_iter().zip(outcomes) {
            let _ = sender.send(outcome);
        }
    }
}
