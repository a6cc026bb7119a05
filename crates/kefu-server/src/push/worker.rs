//! The dispatcher and its delivery tasks.
//!
//! One dispatcher task owns the queue: it takes jobs as decisions hand them over, waits until
//! the commits that enqueued them are durable, and starts each on its own tokio task, at most
//! `workers` at once and at most `per_account` for one account, taking accounts in turn. A stuck
//! webhook therefore holds only its own account's slots: the developer API never waits on a
//! delivery, and other accounts keep theirs.

use std::collections::{HashMap, HashSet, VecDeque};

use tokio::sync::mpsc;

use super::outbox::recover;
use super::{Job, Live, recorder, wire};
use crate::app::App;
use crate::error::Unavailable;

/// WeChat tries a push three times in all (WECHAT.md §6.2, RULES.md's reading).
pub const MAX_ATTEMPTS: usize = 3;

/// Starts the dispatcher of `app`, with every delivery the outbox holds (after a restart).
pub async fn start(app: &App) -> Result<(), Unavailable> {
    let hub = app.pushes();
    let Some(queue) = hub.queue.lock().unwrap_or_else(|p| p.into_inner()).take() else {
        return Ok(());
    };
    if let Some(recordings) = hub
        .recording_queue
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    {
        tokio::spawn(recorder::run(app.clone(), recordings, Live::new(hub)));
    }
    let recovered = app
        .mutate(|world, tx, ctx| Ok(recover(world, tx, ctx)))
        .await?;
    if !recovered.is_empty() {
        tracing::info!(deliveries = recovered.len(), "resuming the push outbox");
    }
    let dispatcher = Dispatcher {
        app: app.clone(),
        queues: HashMap::new(),
        running: HashMap::new(),
        ready: VecDeque::new(),
        in_ready: HashSet::new(),
        busy: 0,
    };
    let live = Live::new(app.pushes());
    tokio::spawn(dispatcher.run(queue, recovered, live));
    Ok(())
}

struct Dispatcher {
    app: App,
    /// appid → its jobs not started yet, oldest first.
    queues: HashMap<String, VecDeque<Job>>,
    /// appid → its deliveries in flight.
    running: HashMap<String, usize>,
    /// Accounts with a queued job and a free slot, in turn order (`in_ready` mirrors it).
    ready: VecDeque<String>,
    in_ready: HashSet<String>,
    /// Deliveries in flight across all accounts.
    busy: usize,
}

impl Dispatcher {
    async fn run(
        mut self,
        mut jobs: mpsc::UnboundedReceiver<Job>,
        recovered: Vec<Job>,
        live: Live,
    ) {
        let (done, mut finished) = mpsc::unbounded_channel::<String>();
        let app = self.app.clone();
        for job in recovered {
            self.queue(job);
        }
        self.schedule(&done);
        loop {
            tokio::select! {
                job = jobs.recv() => {
                    let Some(job) = job else { break };
                    let mut batch = vec![job];
                    while let Ok(job) = jobs.try_recv() {
                        batch.push(job);
                    }
                    // Nothing goes out before the commit that enqueued it is durable: the
                    // decision queued its commit before handing the job over, under the lock.
                    if self.app.after_durable().await.is_err() {
                        continue;
                    }
                    for job in batch {
                        self.queue(job);
                    }
                }
                Some(appid) = finished.recv() => {
                    self.busy -= 1;
                    if let Some(running) = self.running.get_mut(&appid) {
                        *running -= 1;
                        if *running == 0 {
                            self.running.remove(&appid);
                        }
                    }
                    self.mark_ready(&appid);
                }
                () = app.pushes().stopped() => break,
            }
            self.schedule(&done);
        }
        // Let go of the app before counting this task gone.
        drop(self);
        drop(app);
        drop(live);
    }

    fn queue(&mut self, job: Job) {
        let appid = job.target.appid.clone();
        self.queues.entry(appid.clone()).or_default().push_back(job);
        self.mark_ready(&appid);
    }

    /// Puts `appid` in turn if it has a queued job and a free slot.
    fn mark_ready(&mut self, appid: &str) {
        let queued = self.queues.get(appid).is_some_and(|q| !q.is_empty());
        let running = self.running.get(appid).copied().unwrap_or(0);
        let limit = self.app.pushes().config.per_account.max(1);
        if queued && running < limit && !self.in_ready.contains(appid) {
            self.in_ready.insert(appid.to_owned());
            self.ready.push_back(appid.to_owned());
        }
    }

    fn schedule(&mut self, done: &mpsc::UnboundedSender<String>) {
        let workers = self.app.pushes().config.workers.max(1);
        while self.busy < workers {
            let Some(appid) = self.ready.pop_front() else {
                break;
            };
            self.in_ready.remove(&appid);
            let Some(queue) = self.queues.get_mut(&appid) else {
                continue;
            };
            let Some(job) = queue.pop_front() else {
                continue;
            };
            if queue.is_empty() {
                self.queues.remove(&appid);
            }
            *self.running.entry(appid.clone()).or_default() += 1;
            self.busy += 1;
            let slot = Slot {
                appid: appid.clone(),
                done: done.clone(),
            };
            let live = Live::new(self.app.pushes());
            let app = self.app.clone();
            tokio::spawn(async move {
                tokio::select! {
                    () = deliver(&app, job) => {}
                    // Shutdown abandons the attempt: the outbox keeps the delivery.
                    () = app.pushes().stopped() => {}
                }
                drop(app);
                drop(slot);
                drop(live);
            });
            self.mark_ready(&appid);
        }
    }
}

/// Gives the delivery's slot back when its task ends, however it ends.
struct Slot {
    appid: String,
    done: mpsc::UnboundedSender<String>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let _ = self.done.send(std::mem::take(&mut self.appid));
    }
}

/// Makes the remaining attempts of one delivery, each recorded durably before the next one
/// (and before the first is reported to the action waiting on it).
async fn deliver(app: &App, mut job: Job) {
    let hub = app.pushes();
    for n in job.attempts_made + 1..=MAX_ATTEMPTS {
        if job.generation != hub.generation() {
            return;
        }
        let attempt = wire::attempt(
            hub.client(),
            hub.config.timeout,
            &job.target,
            job.id,
            &job.openid,
            job.body.clone(),
            job.encrypt.as_deref(),
            u8::try_from(n).unwrap_or(u8::MAX),
            app.wall_now(),
        )
        .await;
        let recorded = hub.record(job.id, job.target.url.clone(), attempt).await;
        // Gone (account deleted, kefu reset), or storage failed: the outbox keeps what was
        // durable, and a restart resumes it.
        let Some(outcome) = recorded else { return };
        let ended = !matches!(outcome.status, "retrying");
        if let Some(first) = job.first.take() {
            let _ = first.send(outcome);
        }
        if ended {
            return;
        }
    }
}
