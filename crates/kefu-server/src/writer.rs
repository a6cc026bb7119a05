//! The one writer: group commit.
//!
//! Decisions happen in memory under the world lock; each one hands its [`Commit`] to the writer
//! with a ticket, in decision order. The writer thread takes whatever is queued, makes it durable
//! in one [`Store::commit`], and publishes the highest ticket now on disk. An HTTP answer waits
//! for the ticket of the commit holding the state it read, so nothing is acknowledged before it
//! is durable, and one fsync serves every request that arrived while the previous one ran.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use kefu_store::{Commit, Key, Store};
use tokio::sync::watch;

use crate::error::Unavailable;

/// How many commits one transaction takes at most: bounds the latency of the first of them.
const MAX_BATCH: usize = 4096;

enum Job {
    Commit(Commit),
    /// Deletes everything but the named keys (the test-suite reset).
    Wipe(Vec<Key>),
}

#[derive(Clone, Debug, Default)]
struct Progress {
    /// Every ticket up to this one is durable.
    durable: u64,
    /// Set once a commit failed: memory may be ahead of disk from then on.
    failed: Option<String>,
}

pub struct Writer {
    jobs: Option<mpsc::Sender<(u64, Job)>>,
    /// The last ticket handed out. Only advanced under the world lock, so tickets follow
    /// decision order.
    last_ticket: u64,
    progress: watch::Receiver<Progress>,
    thread: Option<JoinHandle<()>>,
}

/// A place in the writer's queue: wait on it to know the state it covers is durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u64);

impl Writer {
    pub fn start(store: Arc<dyn Store>) -> Writer {
        let (jobs, queue) = mpsc::channel::<(u64, Job)>();
        let (publish, progress) = watch::channel(Progress::default());
        let thread = std::thread::Builder::new()
            .name("kefu-writer".into())
            .spawn(move || run(store, queue, publish))
            .ok();
        Writer {
            jobs: Some(jobs),
            last_ticket: 0,
            progress,
            thread,
        }
    }

    /// Queues a commit. Call under the world lock, right after the decision it records.
    pub fn submit(&mut self, commit: Commit) -> Result<Ticket, Unavailable> {
        self.send(Job::Commit(commit))
    }

    pub fn wipe(&mut self, keep: Vec<Key>) -> Result<Ticket, Unavailable> {
        self.send(Job::Wipe(keep))
    }

    fn send(&mut self, job: Job) -> Result<Ticket, Unavailable> {
        self.check()?;
        let jobs = self
            .jobs
            .as_ref()
            .ok_or_else(|| Unavailable("the writer has shut down".into()))?;
        let ticket = self.last_ticket + 1;
        jobs.send((ticket, job))
            .map_err(|_| Unavailable("the writer has stopped".into()))?;
        self.last_ticket = ticket;
        Ok(Ticket(ticket))
    }

    /// The ticket covering everything decided so far: a read waits on it before answering.
    pub fn latest(&self) -> Ticket {
        Ticket(self.last_ticket)
    }

    /// Refuses new work once a commit has failed.
    pub fn check(&self) -> Result<(), Unavailable> {
        match &self.progress.borrow().failed {
            Some(reason) => Err(Unavailable(reason.clone())),
            None => Ok(()),
        }
    }

    /// A handle to wait on tickets without holding the world lock.
    pub fn waiter(&self) -> Waiter {
        Waiter(self.progress.clone())
    }

    /// Stops taking work and waits until everything queued is durable.
    pub fn close(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the writer thread panicked while draining");
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.close();
    }
}

#[derive(Clone)]
pub struct Waiter(watch::Receiver<Progress>);

impl Waiter {
    /// Resolves once `ticket` is durable, or with the failure that means it never will be.
    pub async fn durable(mut self, ticket: Ticket) -> Result<(), Unavailable> {
        let progress = self
            .0
            .wait_for(|p| p.durable >= ticket.0 || p.failed.is_some())
            .await
            .map_err(|_| Unavailable("the writer has stopped".into()))?;
        if progress.durable >= ticket.0 {
            Ok(())
        } else {
            Err(Unavailable(progress.failed.clone().unwrap_or_default()))
        }
    }
}

fn run(store: Arc<dyn Store>, queue: mpsc::Receiver<(u64, Job)>, publish: watch::Sender<Progress>) {
    let mut failed: Option<String> = None;
    let mut batch: Vec<Commit> = Vec::new();
    // Blocks for the first job of a round, then takes whatever else is already queued.
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let mut durable = 0;
        for (ticket, job) in jobs {
            if failed.is_some() {
                break;
            }
            match job {
                Job::Commit(commit) => batch.push(commit),
                Job::Wipe(keep) => {
                    failed = flush(&*store, &mut batch).err();
                    if failed.is_none() {
                        failed = store.wipe(&keep).err().map(|e| e.to_string());
                    }
                }
            }
            durable = ticket;
        }
        if failed.is_none() {
            failed = flush(&*store, &mut batch).err();
        }
        match &failed {
            None => publish.send_modify(|p| p.durable = durable),
            Some(reason) => {
                tracing::error!(error = %reason, "commit failed; refusing changes until restart");
                publish.send_modify(|p| p.failed = Some(reason.clone()));
            }
        }
    }
}

/// Makes `batch` durable. A version conflict here is a bug (the world lock orders every
/// decision), and is treated like a storage failure: memory and disk disagree.
fn flush(store: &dyn Store, batch: &mut Vec<Commit>) -> Result<(), String> {
    if batch.is_empty() {
        return Ok(());
    }
    let results = store.commit(batch).map_err(|e| e.to_string())?;
    batch.clear();
    match results.into_iter().find_map(Result::err) {
        Some(conflict) => Err(conflict.to_string()),
        None => Ok(()),
    }
}
