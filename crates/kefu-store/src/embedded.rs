//! The default backend, under one data directory owned by one process at a time: a
//! write-ahead log that makes commits durable, and a redb file that indexes them for reads and
//! recovery.
//!
//! Why both: a redb commit dirties a copy-on-write page per randomly keyed insert (about 25 µs
//! each with its fsync, measured in BENCHMARKS.md), and a send inserts several. The log makes a
//! group of commits durable with one sequential append and one `fdatasync`; the applier thread
//! (`applier`) writes them into redb behind it without an fsync, and checkpoints redb durably
//! about once a second. Reads wait for the applier to catch up with what was logged before
//! them, so they never miss an acknowledged commit. Opening replays the log past redb's last
//! checkpoint (`wal`).
//!
//! Why redb: pure Rust (no C toolchain, ~13 s cold build), a stable crash-safe file format,
//! ordered tables for the inbox, traffic and delivery-log ranges.

mod applier;
mod entry;
mod wal;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use redb::{Database, ReadableDatabase, ReadableTable};

use self::applier::{APPLIED, Shared};
use self::entry::{Entry, Rows};
use self::tables::{DELIVERIES, DELIVERIES_BY_ACCOUNT, INBOX, META, RECORDS, TRAFFIC};
use self::wal::{Log, io};
use crate::codec::{
    decode, decode_key, decode_record, decode_version, encode, encode_key, encode_record,
};
use crate::port::{
    Commit, CommitResult, InRange, Store, StoreError, Versioned, check_commit, in_range,
};
use crate::records::{DeliveryRecord, InboxMessage, Key, Record, TrafficRecord};

mod tables {
    use redb::TableDefinition;

    pub(crate) const RECORDS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("records");
    /// Inbox messages under (user, id): a user's inbox is one range.
    pub(crate) const INBOX: TableDefinition<'_, (&str, u64), &[u8]> =
        TableDefinition::new("user_inbox");
    pub(crate) const TRAFFIC: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("traffic");
    pub(crate) const DELIVERIES: TableDefinition<'_, u64, &[u8]> =
        TableDefinition::new("deliveries");
    pub(crate) const DELIVERIES_BY_ACCOUNT: TableDefinition<'_, (&str, u64), ()> =
        TableDefinition::new("deliveries_by_account");
    /// The last log entry redb holds.
    pub(crate) const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
}

pub const DB_FILE: &str = "kefu.redb";
const LOCK_FILE: &str = "kefu.lock";
/// Logged entries the applier may lag by before a commit waits for it (bounds memory).
const APPLIER_QUEUE: usize = 1024;
/// redb's own page cache (and write buffer): enough for a second of commits between checkpoints.
const CACHE_BYTES: usize = 64 << 20;
/// Entries recovery applies per redb transaction.
const REPLAY_ROUND: usize = 1024;

/// The log's end and the way to the applier; `None` once the store closes.
struct Appender {
    log: Log,
    to_applier: SyncSender<(u64, Entry)>,
}

pub struct EmbeddedStore {
    appender: Mutex<Option<Appender>>,
    applier: Mutex<Option<JoinHandle<()>>>,
    /// Kept by a store opened with [`EmbeddedStore::open_unapplied`]: nothing reaches redb.
    _unapplied: Mutex<Option<Receiver<(u64, Entry)>>>,
    shared: Arc<Shared>,
    path: PathBuf,
    /// Held for the life of the store, and dropped last: the OS lock that keeps a second
    /// process out.
    _lock: File,
}

pub(crate) fn engine(e: impl std::fmt::Display) -> StoreError {
    StoreError::Engine(e.to_string())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl EmbeddedStore {
    /// Opens (or creates) the store under `dir`, taking the directory's lock and replaying the
    /// log past redb's last checkpoint.
    pub fn open(dir: &Path) -> Result<EmbeddedStore, StoreError> {
        Self::open_with(dir, true)
    }

    /// Opens the store with its applier stopped: commits are logged and never reach redb, as
    /// when a process is killed before a checkpoint. Reads wait forever; only tests of recovery
    /// want this.
    #[doc(hidden)]
    pub fn open_unapplied(dir: &Path) -> Result<EmbeddedStore, StoreError> {
        Self::open_with(dir, false)
    }

    fn open_with(dir: &Path, applying: bool) -> Result<EmbeddedStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock_file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        if lock_file.try_lock().is_err() {
            return Err(StoreError::Locked {
                path: dir.display().to_string(),
            });
        }
        let path = dir.join(DB_FILE);
        // redb's page cache defaults to 1 GiB and would hold every page recovery scans; the OS
        // page cache serves reads as well, so keep redb's small.
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(engine)?;
        let lsn = recover(&db, dir)?;
        let log = Log::start(dir, lsn + 1)?;
        let shared = Arc::new(Shared::new(db, dir.to_owned(), lsn));
        let (to_applier, entries) = sync_channel(APPLIER_QUEUE);
        let (applier, unapplied) = if applying {
            let for_thread = shared.clone();
            let handle = std::thread::Builder::new()
                .name("kefu-store-applier".into())
                .spawn(move || applier::run(&for_thread, entries))
                .map_err(io(dir))?;
            (Some(handle), None)
        } else {
            (None, Some(entries))
        };
        Ok(EmbeddedStore {
            appender: Mutex::new(Some(Appender { log, to_applier })),
            applier: Mutex::new(applier),
            _unapplied: Mutex::new(unapplied),
            shared,
            path,
            _lock: lock_file,
        })
    }

    /// Whether `dir` holds a kefu store already (a new data directory starts its clock afresh).
    pub fn exists_in(dir: &Path) -> bool {
        dir.join(DB_FILE).is_file()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Logs `entry` durably and hands it to the applier. `accepted` runs once it is durable,
    /// before the applier can see it.
    fn append(
        &self,
        appender: &mut Appender,
        entry: Entry,
        accepted: impl FnOnce(u64),
    ) -> Result<u64, StoreError> {
        let logged = appender.log.append(&entry).inspect_err(|e| {
            // Memory and the log may disagree from here on: refuse everything after.
            self.shared.fail(format!("writing the log: {e}"));
        })?;
        accepted(logged);
        self.shared.logged(logged);
        appender
            .to_applier
            .send((logged, entry))
            .map_err(|_| StoreError::Engine("the store's applier has stopped".into()))?;
        Ok(logged)
    }
}

/// Creates the tables, replays the log past redb's checkpoint into redb durably, and removes
/// the log; returns the last LSN redb now holds.
fn recover(db: &Database, dir: &Path) -> Result<u64, StoreError> {
    let txn = db.begin_write().map_err(engine)?;
    let applied = {
        // Create every table up front so readers never meet a missing one.
        txn.open_table(RECORDS).map_err(engine)?;
        txn.open_table(INBOX).map_err(engine)?;
        txn.open_table(TRAFFIC).map_err(engine)?;
        txn.open_table(DELIVERIES).map_err(engine)?;
        txn.open_table(DELIVERIES_BY_ACCOUNT).map_err(engine)?;
        let meta = txn.open_table(META).map_err(engine)?;
        meta.get(APPLIED).map_err(engine)?.map_or(0, |v| v.value())
    };
    txn.commit().map_err(engine)?;
    let mut round = Vec::new();
    let last = wal::replay(dir, applied, &mut |lsn, entry| {
        round.push((lsn, entry));
        if round.len() >= REPLAY_ROUND {
            applier::apply(db, &round, false)?;
            round.clear();
        }
        Ok(())
    })?;
    if last > applied {
        applier::apply(db, &round, true)?;
    }
    wal::remove_all(dir)?;
    Ok(last)
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl EmbeddedStore {
    /// One accepted commit as table rows. `view` holds the versions this batch has written so
    /// far, ahead of `pending` and redb.
    fn rows(commit: &Commit, view: &mut HashMap<Vec<u8>, u64>) -> Result<Rows, StoreError> {
        let mut rows = Rows::default();
        for write in &commit.writes {
            let key = encode_key(&write.key);
            let (version, value) = match &write.value {
                Some(value) => (write.version, Some(encode_record(write.version, value)?)),
                None => (0, None),
            };
            view.insert(key.clone(), version);
            rows.records.push((key, value));
        }
        for message in &commit.inbox {
            let v = encode(message, "inbox message")?;
            rows.inbox.push((message.user_id.clone(), message.id, v));
        }
        for record in &commit.traffic {
            rows.traffic
                .push((record.seq, encode(record, "traffic record")?));
        }
        for delivery in &commit.deliveries {
            let v = encode(delivery, "delivery")?;
            rows.deliveries
                .push((delivery.id, delivery.appid.clone(), v));
        }
        Ok(rows)
    }
}

impl Store for EmbeddedStore {
    fn load(&self, key: &Key) -> Result<Option<Versioned<Record>>, StoreError> {
        self.shared.caught_up()?;
        let txn = self.shared.db.begin_read().map_err(engine)?;
        let table = txn.open_table(RECORDS).map_err(engine)?;
        let k = encode_key(key);
        match table.get(k.as_slice()).map_err(engine)? {
            Some(v) => Ok(Some(decode_record(&k, v.value())?)),
            None => Ok(None),
        }
    }

    fn scan(&self, each: &mut dyn FnMut(Key, Versioned<Record>)) -> Result<(), StoreError> {
        self.shared.caught_up()?;
        let txn = self.shared.db.begin_read().map_err(engine)?;
        let table = txn.open_table(RECORDS).map_err(engine)?;
        for entry in table.iter().map_err(engine)? {
            let (k, v) = entry.map_err(engine)?;
            each(decode_key(k.value())?, decode_record(k.value(), v.value())?);
        }
        Ok(())
    }

    fn commit(&self, batch: &[Commit]) -> Result<Vec<CommitResult>, StoreError> {
        let mut appender = lock(&self.appender);
        let appender = appender
            .as_mut()
            .ok_or_else(|| StoreError::Engine("the store is closed".into()))?;
        self.shared.check()?;
        // Versions come from this batch's own writes, then from what is logged but not yet in
        // redb, then from redb. `pending` is locked before redb's snapshot is taken: the
        // applier trims it (under that lock) only after redb holds the trimmed entries, so a
        // key missing from it is current in the snapshot.
        let mut view: HashMap<Vec<u8>, u64> = HashMap::new();
        let mut results = Vec::with_capacity(batch.len());
        let mut accepted = Vec::with_capacity(batch.len());
        {
            let pending = self.shared.pending();
            let txn = self.shared.db.begin_read().map_err(engine)?;
            let table = txn.open_table(RECORDS).map_err(engine)?;
            for commit in batch {
                let checked = check_commit(commit, |key| {
                    let k = encode_key(key);
                    if let Some(v) = view.get(&k) {
                        return Ok(*v);
                    }
                    if let Some((v, _)) = pending.get(&k) {
                        return Ok(*v);
                    }
                    match table.get(k.as_slice()).map_err(engine)? {
                        // The version alone: decoding the whole record (a delivery's body) to
                        // check it would cost more than writing it.
                        Some(v) => decode_version(&k, v.value()),
                        None => Ok(0),
                    }
                })?;
                match checked {
                    Ok(()) => {
                        accepted.push(Self::rows(commit, &mut view)?);
                        results.push(Ok(()));
                    }
                    Err(conflict) => results.push(Err(conflict)),
                }
            }
        }
        if accepted.is_empty() {
            return Ok(results);
        }
        self.append(appender, Entry::Commits(accepted), |lsn| {
            let mut pending = self.shared.pending();
            for (key, version) in view {
                pending.insert(key, (version, lsn));
            }
        })?;
        Ok(results)
    }

    fn inbox(
        &self,
        user_id: &str,
        appid: Option<&str>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<InboxMessage>, StoreError> {
        self.shared.caught_up()?;
        let txn = self.shared.db.begin_read().map_err(engine)?;
        let inbox = txn.open_table(INBOX).map_err(engine)?;
        let mut out = Vec::new();
        let start = after.saturating_add(1);
        for entry in inbox
            .range((user_id, start)..=(user_id, u64::MAX))
            .map_err(engine)?
        {
            if out.len() >= limit {
                break;
            }
            let (k, v) = entry.map_err(engine)?;
            let id = k.value().1;
            let message: InboxMessage = decode(v.value(), || format!("inbox {id}"))?;
            if appid.is_none_or(|a| message.appid == a) {
                out.push(message);
            }
        }
        Ok(out)
    }

    fn traffic(
        &self,
        from: Option<i64>,
        to: Option<i64>,
        each: &mut dyn FnMut(&TrafficRecord) -> bool,
    ) -> Result<(), StoreError> {
        self.shared.caught_up()?;
        let txn = self.shared.db.begin_read().map_err(engine)?;
        let table = txn.open_table(TRAFFIC).map_err(engine)?;
        for entry in table.iter().map_err(engine)? {
            let (k, v) = entry.map_err(engine)?;
            let record: TrafficRecord = decode(v.value(), || format!("traffic {}", k.value()))?;
            match in_range(record.at, from, to) {
                InRange::Before => continue,
                InRange::Past => break,
                InRange::Inside if !each(&record) => break,
                InRange::Inside => {}
            }
        }
        Ok(())
    }

    fn deliveries(
        &self,
        appid: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.shared.caught_up()?;
        let txn = self.shared.db.begin_read().map_err(engine)?;
        let by_account = txn.open_table(DELIVERIES_BY_ACCOUNT).map_err(engine)?;
        let deliveries = txn.open_table(DELIVERIES).map_err(engine)?;
        let mut out = Vec::new();
        let Some(last) = before.map_or(Some(u64::MAX), |b| b.checked_sub(1)) else {
            return Ok(out);
        };
        for entry in by_account
            .range((appid, 0)..=(appid, last))
            .map_err(engine)?
            .rev()
        {
            if out.len() >= limit {
                break;
            }
            let (k, _) = entry.map_err(engine)?;
            let id = k.value().1;
            if let Some(v) = deliveries.get(id).map_err(engine)? {
                out.push(decode(v.value(), || format!("delivery {id}"))?);
            }
        }
        Ok(out)
    }

    fn delivery(&self, id: u64) -> Result<Option<DeliveryRecord>, StoreError> {
        self.shared.caught_up()?;
        let txn = self.shared.db.begin_read().map_err(engine)?;
        let deliveries = txn.open_table(DELIVERIES).map_err(engine)?;
        match deliveries.get(id).map_err(engine)? {
            Some(v) => Ok(Some(decode(v.value(), || format!("delivery {id}"))?)),
            None => Ok(None),
        }
    }

    fn close(&self) -> Result<(), StoreError> {
        // Closing the log ends the applier's input; it applies what is left, checkpoints
        // durably and removes the log.
        drop(lock(&self.appender).take());
        if let Some(thread) = lock(&self.applier).take()
            && thread.join().is_err()
        {
            return Err(StoreError::Engine("the store's applier panicked".into()));
        }
        self.shared.check()
    }

    fn wipe(&self, keep: &[Key]) -> Result<(), StoreError> {
        let mut appender = lock(&self.appender);
        let appender = appender
            .as_mut()
            .ok_or_else(|| StoreError::Engine("the store is closed".into()))?;
        self.shared.check()?;
        let kept = keep.iter().map(encode_key).collect();
        self.append(appender, Entry::Wipe(kept), |_| {})?;
        // Later commits check versions against redb: let it hold the wipe first (the log
        // stays locked meanwhile, so nothing is checked against the state before it).
        self.shared.caught_up()
    }
}
