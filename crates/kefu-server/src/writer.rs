//! The one writer: group commit.
//!
//! Decisions happen in memory under the world lock; each one hands its [`Commit`] to the writer
//! with a ticket, in decision order. The writer thread takes whatever is queued, makes it durable
//! in one [`Store::commit`], and publishes the highest ticket now on disk. An HTTP answer waits
//! for the ticket of the commit holding the state it read, so nothing is acknowledged before it
//! is durable, and one fsync serves every request that arrived while the previous one ran.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use kefu_store::{Commit, Key, Store};
use tokio::sync::oneshot;

use crate::error::Unavailable;

/// How many commits one transaction takes at most: bounds the latency of the first of them.
const MAX_BATCH: usize = 4096;

enum Job {
    Commit(Commit),
    /// Deletes everything but the named keys (the test-suite reset).
    Wipe(Vec<Key>),
}

/// What the writer has made durable, and who waits for what. Each waiter is woken once, when its
/// ticket is durable (or never will be): a `watch` would wake every waiter on every commit,
/// and hundreds of requests and deliveries wait at once.
#[derive(Default)]
struct Progress {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Every ticket up to this one is durable.
    durable: u64,
    /// Set once a commit failed: memory may be ahead of disk from then on.
    failed: Option<String>,
    /// Tickets not durable yet → who waits for them.
    waiting: BTreeMap<u64, Vec<oneshot::Sender<Result<(), Unavailable>>>>,
}

impl Progress {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it; a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish_durable(&self, durable: u64) {
        let woken = {
            let mut state = self.lock();
            state.durable = durable;
            let later = state.waiting.split_off(&durable.saturating_add(1));
            std::mem::replace(&mut state.waiting, later)
        };
        for waiter in woken.into_values().flatten() {
            let _ = waiter.send(Ok(()));
        }
    }

    fn publish_failure(&self, reason: String) {
        let woken = {
            let mut state = self.lock();
            state.failed = Some(reason.clone());
            std::mem::take(&mut state.waiting)
        };
        for waiter in woken.into_values().flatten() {
            let _ = waiter.send(Err(Unavailable(reason.clone())));
        }
    }
}

pub struct Writer {
    jobs: Option<mpsc::Sender<(u64, Job)>>,
    /// The last ticket handed out. Only advanced under the world lock, so tickets follow
    /// decision order.
    last_ticket: u64,
    progress: Arc<Progress>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

/// A place in the writer's queue: wait on it to know the state it covers is durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u64);

impl Writer {
    pub fn start(store: Arc<dyn Store>) -> Writer {
        let (jobs, queue) = mpsc::channel::<(u64, Job)>();
        let progress = Arc::new(Progress::default());
        let publish = progress.clone();
        let thread = std::thread::Builder::new()
            .name("kefu-writer".into())
            .spawn(move || run(store, queue, &publish))
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
        match &self.progress.lock().failed {
            Some(reason) => Err(Unavailable(reason.clone())),
            None => Ok(()),
        }
    }

    /// A handle to wait on tickets without holding the world lock.
    pub fn waiter(&self) -> Waiter {
        Waiter(self.progress.clone())
    }

    /// Stops taking work and waits until everything queued is durable. `Ok` when every commit
    /// the writer was given is durable, so memory and disk agree.
    pub fn close(&mut self) -> Result<(), Unavailable> {
        self.jobs = None;
        let Some(thread) = self.thread.take() else {
            return Err(Unavailable("the writer is not running".into()));
        };
        match thread.join() {
            Ok(drained) => drained.map_err(Unavailable),
            Err(_) => {
                tracing::error!("the writer thread panicked while draining");
                Err(Unavailable("the writer thread panicked".into()))
            }
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

#[derive(Clone)]
pub struct Waiter(Arc<Progress>);

impl Waiter {
    /// Resolves once `ticket` is durable, or with the failure that means it never will be.
    pub async fn durable(self, ticket: Ticket) -> Result<(), Unavailable> {
        let woken = {
            let mut state = self.0.lock();
            if state.durable >= ticket.0 {
                return Ok(());
            }
            if let Some(reason) = &state.failed {
                return Err(Unavailable(reason.clone()));
            }
            let (wake, woken) = oneshot::channel();
            state.waiting.entry(ticket.0).or_default().push(wake);
            woken
        };
        woken
            .await
            .unwrap_or_else(|_| Err(Unavailable("the writer has stopped".into())))
    }
}

/// Commits what is queued until the queue closes; `Err` with the reason if a commit failed.
fn run(
    store: Arc<dyn Store>,
    queue: mpsc::Receiver<(u64, Job)>,
    publish: &Progress,
) -> Result<(), String> {
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
            None => publish.publish_durable(durable),
            Some(reason) => {
                tracing::error!(error = %reason, "commit failed; refusing changes until restart");
                publish.publish_failure(reason.clone());
            }
        }
    }
    // The queue is closed and drained: whoever still waits would wait forever.
    publish.publish_failure("the writer has stopped".into());
    failed.map_or(Ok(()), Err)
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

#[cfg(test)]
mod tests {
    use kefu_store::{MemoryStore, Record, Write};

    use super::*;

    fn put(expect: u64, version: u64) -> Commit {
        Commit {
            writes: vec![Write::put(
                Key::AdminToken,
                expect,
                version,
                Record::AdminToken("t".into()),
            )],
            ..Commit::default()
        }
    }

    /// A graceful stop writes the world's snapshot only on `Ok`: memory and disk agree.
    #[test]
    fn closing_says_whether_every_commit_made_it() {
        let mut writer = Writer::start(Arc::new(MemoryStore::default()));
        writer.submit(put(0, 1)).unwrap();
        writer.submit(put(1, 2)).unwrap();
        assert!(writer.close().is_ok());
        assert!(writer.close().is_err(), "closed already");

        let mut writer = Writer::start(Arc::new(MemoryStore::default()));
        writer.submit(put(0, 1)).unwrap();
        // Expects a version the store never had: memory is ahead of disk from here on.
        writer.submit(put(7, 8)).unwrap();
        assert!(writer.close().is_err());
    }
}
