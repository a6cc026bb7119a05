//! Brings redb up to date behind the log, off the path of any request.
//!
//! The applier thread takes logged entries in order and writes them into redb in one
//! transaction per round, without an fsync (`Durability::None`): the log already holds them.
//! Records go in whole; inbox, traffic and delivery-log bodies stay in the log, and redb gets
//! where they lie.
//! About once a second a round commits durably (the checkpoint a restart replays from), and
//! log segments a wipe made obsolete are deleted.
//! Reads wait until the applier has caught up with everything logged when they began.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use redb::{Database, Durability, ReadableTable, WriteTransaction};

use super::entry::Entry;
use super::inbox_index::{Indexed, RecentInbox, encode_block};
use super::tables::{
    DELIVERIES_AT, DELIVERIES_BY_ACCOUNT, INBOX_AT, INBOX_BLOCKS, INBOX_RECENT, LEGACY_DELIVERIES,
    LEGACY_INBOX, LEGACY_TRAFFIC, META, RECORDS, TRAFFIC_AT,
};
use super::wal::Placed;
use super::{engine, lock, wal};
use crate::Map;
use crate::port::StoreError;
use crate::timings::Timer;

/// How long redb may lag the log on disk: bounds the log a restart replays.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// Entries one applier round takes at most.
const ROUND: usize = 1024;
/// How long the applier gathers logged entries into one round, unless a read is waiting for
/// it. redb copies every page a transaction touches, and a busy conversation is written once
/// per round: a few large rounds cost far less than many small ones.
const GATHER: Duration = Duration::from_millis(250);
/// Where redb records the last log entry it holds.
pub(crate) const APPLIED: &str = "applied_lsn";
/// Where redb records the latest wipe: the log up to it holds nothing anyone reads.
const WIPED: &str = "wiped_lsn";

/// What the log and redb hold, shared by the store and its applier.
pub(crate) struct Shared {
    pub db: Database,
    pub dir: PathBuf,
    progress: Mutex<Progress>,
    caught_up: Condvar,
    /// Wakes a gathering applier when a read starts waiting for it.
    nudge: Condvar,
    /// Versions logged but not yet in redb: encoded key → (version, 0 if deleted; its LSN).
    pending: Mutex<Map<Vec<u8>, (u64, u64)>>,
    /// The inbox index's recent entries, by user (`inbox_index`).
    pub recent: Mutex<RecentInbox>,
    /// Each log append with its sync (the store's `append`).
    pub log_appends: Timer,
    /// Each durable round.
    pub checkpoints: Timer,
}

#[derive(Default)]
struct Progress {
    logged: u64,
    applied: u64,
    failed: Option<String>,
    /// Reads waiting for the applier to catch up.
    waiting: usize,
    /// The store is closing: nothing is worth gathering for any more.
    closing: bool,
}

impl Shared {
    pub(crate) fn new(db: Database, dir: PathBuf, lsn: u64, recent: RecentInbox) -> Shared {
        Shared {
            db,
            dir,
            progress: Mutex::new(Progress {
                logged: lsn,
                applied: lsn,
                failed: None,
                waiting: 0,
                closing: false,
            }),
            caught_up: Condvar::new(),
            nudge: Condvar::new(),
            pending: Mutex::new(Map::default()),
            recent: Mutex::new(recent),
            log_appends: Timer::default(),
            checkpoints: Timer::default(),
        }
    }

    pub(crate) fn pending(&self) -> MutexGuard<'_, Map<Vec<u8>, (u64, u64)>> {
        lock(&self.pending)
    }

    /// The last LSN logged.
    pub(crate) fn last_logged(&self) -> u64 {
        lock(&self.progress).logged
    }

    pub(crate) fn logged(&self, lsn: u64) {
        lock(&self.progress).logged = lsn;
    }

    pub(crate) fn fail(&self, reason: String) {
        lock(&self.progress).failed.get_or_insert(reason);
        self.caught_up.notify_all();
    }

    pub(crate) fn check(&self) -> Result<(), StoreError> {
        match &lock(&self.progress).failed {
            Some(reason) => Err(StoreError::Engine(reason.clone())),
            None => Ok(()),
        }
    }

    /// Waits until redb holds everything logged before the call.
    pub(crate) fn caught_up(&self) -> Result<(), StoreError> {
        let mut progress = lock(&self.progress);
        let target = progress.logged;
        let waits = progress.applied < target;
        if waits {
            progress.waiting += 1;
            self.nudge.notify_one();
        }
        let outcome = loop {
            if let Some(reason) = &progress.failed {
                break Err(StoreError::Engine(reason.clone()));
            }
            if progress.applied >= target {
                break Ok(());
            }
            progress = self
                .caught_up
                .wait(progress)
                .unwrap_or_else(|p| p.into_inner());
        };
        if waits {
            progress.waiting -= 1;
        }
        outcome
    }

    /// Ends any gathering for good: the store is closing.
    pub(crate) fn hurry(&self) {
        lock(&self.progress).closing = true;
        self.nudge.notify_one();
    }

    /// Lets logged entries gather for a round until `deadline`, or until a read waits.
    fn gather(&self, deadline: Instant) {
        let mut progress = lock(&self.progress);
        loop {
            let now = Instant::now();
            let hurried = progress.waiting > 0 || progress.closing || progress.failed.is_some();
            if hurried || now >= deadline {
                return;
            }
            progress = self
                .nudge
                .wait_timeout(progress, deadline - now)
                .map_or_else(|p| p.into_inner().0, |(g, _)| g);
        }
    }

    fn applied(&self, lsn: u64) {
        // Forget the logged versions redb now holds before saying so: a wipe waits for this,
        // and the commit after it must not find a wiped record's version still pending.
        self.pending().retain(|_, (_, at)| *at > lsn);
        lock(&self.progress).applied = lsn;
        self.caught_up.notify_all();
    }
}

/// The applier thread's loop; returns when the store closes (the sender is dropped), after a
/// last durable round.
pub(crate) fn run(shared: &Shared, entries: Receiver<(Entry, Placed)>) {
    let mut last_durable = Instant::now();
    let mut behind_disk = false;
    loop {
        let mut round = Vec::new();
        let wait = if behind_disk {
            CHECKPOINT_EVERY.saturating_sub(last_durable.elapsed())
        } else {
            Duration::from_secs(3600)
        };
        let closed = match entries.recv_timeout(wait) {
            Ok(entry) => {
                round.push(entry);
                shared.gather(Instant::now() + GATHER);
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        while round.len() < ROUND
            && let Ok(entry) = entries.try_recv()
        {
            round.push(entry);
        }
        let durable = closed || last_durable.elapsed() >= CHECKPOINT_EVERY;
        if round.is_empty() && !(durable && behind_disk) {
            if closed {
                return;
            }
            continue;
        }
        let applied = round.last().map(|(_, placed)| placed.lsn);
        let started = Instant::now();
        let applied_round = apply(&shared.db, &shared.recent, &round, durable);
        if durable {
            shared.checkpoints.record(started.elapsed());
        }
        let obsolete = match applied_round {
            Ok(obsolete) => obsolete,
            Err(e) => {
                record_failure(shared, &e);
                return;
            }
        };
        if let Some(lsn) = applied {
            shared.applied(lsn);
        }
        if durable {
            if let Err(e) = wal::prune(&shared.dir, obsolete) {
                record_failure(shared, &e);
                return;
            }
            last_durable = Instant::now();
            behind_disk = false;
        } else {
            behind_disk = true;
        }
        if closed {
            return;
        }
    }
}

/// The store has no logger of its own: a failure is recorded and surfaces as the error of every
/// later call.
fn record_failure(shared: &Shared, e: &StoreError) {
    shared.fail(format!("bringing redb up to date with the log: {e}"));
}

/// Writes `entries` into redb in one transaction, recording the last LSN; `durable` commits
/// with an fsync. Inbox, traffic and delivery-log bodies stay in the log: redb gets where they
/// lie; the inbox index is `index_inbox`'s, and `recent` mirrors its recent part once the
/// transaction commits. Returns the LSN up to which the log is obsolete (the latest wipe's).
pub(crate) fn apply(
    db: &Database,
    recent: &Mutex<RecentInbox>,
    entries: &[(Entry, Placed)],
    durable: bool,
) -> Result<u64, StoreError> {
    let txn = begin(db, durable)?;
    let obsolete;
    // Inbox entries this round indexes, and whether a wipe emptied the index first.
    let mut fresh: Vec<Indexed<'_>> = Vec::new();
    let mut wiped_inbox = false;
    {
        let mut records = txn.open_table(RECORDS).map_err(engine)?;
        let mut traffic = txn.open_table(TRAFFIC_AT).map_err(engine)?;
        let mut deliveries = txn.open_table(DELIVERIES_AT).map_err(engine)?;
        let mut by_account = txn.open_table(DELIVERIES_BY_ACCOUNT).map_err(engine)?;
        let mut meta = txn.open_table(META).map_err(engine)?;
        let mut wiped = meta.get(WIPED).map_err(engine)?.map_or(0, |v| v.value());
        // Only the last write of a key in the round reaches redb: a busy conversation (and the
        // sequence counter every commit bumps) costs one insert per round, not one per commit.
        let mut latest: Map<&[u8], Option<&[u8]>> = Map::default();
        for (entry, placed) in entries {
            match entry {
                Entry::Commits(commits) => {
                    let mut inbox_bodies = placed.bodies.inbox.iter();
                    let mut traffic_bodies = placed.bodies.traffic.iter();
                    let mut delivery_bodies = placed.bodies.deliveries.iter();
                    for rows in commits {
                        for (key, value) in &rows.records {
                            latest.insert(key, value.as_deref());
                        }
                        for (user, id, _) in &rows.inbox {
                            let span = inbox_bodies.next().ok_or_else(unplaced)?;
                            fresh.push((user.as_str(), *id, placed.locate(*span)));
                        }
                        for (seq, _) in &rows.traffic {
                            let span = traffic_bodies.next().ok_or_else(unplaced)?;
                            traffic.insert(*seq, placed.locate(*span)).map_err(engine)?;
                        }
                        for (id, appid, _) in &rows.deliveries {
                            let span = delivery_bodies.next().ok_or_else(unplaced)?;
                            deliveries
                                .insert(*id, placed.locate(*span))
                                .map_err(engine)?;
                            by_account
                                .insert((appid.as_str(), *id), ())
                                .map_err(engine)?;
                        }
                    }
                }
                Entry::Wipe(keep) => {
                    write_records(&mut records, latest.drain())?;
                    records
                        .retain(|k, _| keep.iter().any(|kept| kept.as_slice() == k))
                        .map_err(engine)?;
                    fresh.clear();
                    wiped_inbox = true;
                    traffic.retain(|_, _| false).map_err(engine)?;
                    deliveries.retain(|_, _| false).map_err(engine)?;
                    by_account.retain(|_, _| false).map_err(engine)?;
                    empty(&txn, LEGACY_TRAFFIC)?;
                    empty(&txn, LEGACY_DELIVERIES)?;
                    wiped = placed.lsn;
                    meta.insert(WIPED, wiped).map_err(engine)?;
                }
            }
        }
        write_records(&mut records, latest.drain())?;
        if let Some((_, placed)) = entries.last() {
            meta.insert(APPLIED, placed.lsn).map_err(engine)?;
        }
        obsolete = wiped;
    }
    // Only this thread changes the mirror; readers copy it before taking redb's snapshot, so
    // it changes only once redb holds what it says (and is not locked through the commit).
    let compacted = index_inbox(&txn, &lock(recent), wiped_inbox, &fresh)?;
    txn.commit().map_err(engine)?;
    lock(recent).committed(
        wiped_inbox || compacted,
        fresh.into_iter().filter(|_| !compacted),
    );
    Ok(obsolete)
}

/// Indexes a round's `fresh` inbox entries (`inbox_index`): appended to the recent part, or,
/// once that is full, moved with everything it holds into one block per user. A wipe empties
/// the index first. Returns whether the round compacted.
fn index_inbox(
    txn: &WriteTransaction,
    recent: &RecentInbox,
    wiped: bool,
    fresh: &[Indexed<'_>],
) -> Result<bool, StoreError> {
    let compacts = recent.compacts(wiped, fresh.len());
    if wiped {
        empty(txn, INBOX_BLOCKS)?;
        empty(txn, INBOX_AT)?;
        empty(txn, LEGACY_INBOX)?;
    }
    if wiped || compacts {
        // Dropping the table frees its pages at once; removing every row would rewrite them.
        txn.delete_table(INBOX_RECENT).map_err(engine)?;
    }
    if compacts {
        let mut blocks = txn.open_table(INBOX_BLOCKS).map_err(engine)?;
        for (user, entries) in recent.blocks(wiped, fresh) {
            if let Some((first, _)) = entries.first() {
                let block = encode_block(&entries);
                blocks
                    .insert((user, *first), block.as_slice())
                    .map_err(engine)?;
            }
        }
    }
    let mut table = txn.open_table(INBOX_RECENT).map_err(engine)?;
    if !compacts {
        for (user, id, place) in fresh {
            table.insert(*id, (*user, *place)).map_err(engine)?;
        }
    }
    Ok(compacts)
}

/// Removes every row of `table` (a wipe).
fn empty<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &WriteTransaction,
    table: redb::TableDefinition<'_, K, V>,
) -> Result<(), StoreError> {
    txn.open_table(table)
        .map_err(engine)?
        .retain(|_, _| false)
        .map_err(engine)
}

/// A redb write transaction. A durable one saves redb's allocator state with it ("quick
/// repair"), so that opening after a crash loads that state instead of walking every page to
/// rebuild it: that walk took half a second for a million conversations, and grows with the
/// database. Every durable commit must save it, opening's included, or the next crash finds
/// none to load. Non-durable rounds after one do not spoil it: a crash goes back to that
/// commit, whose state holds (a test crashes a child after such a round).
pub(crate) fn begin(db: &Database, durable: bool) -> Result<WriteTransaction, StoreError> {
    let mut txn = db.begin_write().map_err(engine)?;
    if durable {
        txn.set_quick_repair(true);
    } else {
        txn.set_durability(Durability::None).map_err(engine)?;
    }
    Ok(txn)
}

fn unplaced() -> StoreError {
    StoreError::Engine("a logged body without its place in the log".into())
}

fn write_records<'a>(
    records: &mut redb::Table<'_, &'static [u8], &'static [u8]>,
    writes: impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)>,
) -> Result<(), StoreError> {
    for (key, value) in writes {
        match value {
            Some(v) => records.insert(key, v),
            None => records.remove(key),
        }
        .map_err(engine)?;
    }
    Ok(())
}
