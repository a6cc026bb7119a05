//! The default backend, under one data directory owned by one process at a time: a log that
//! makes commits durable and keeps inbox and traffic bodies, and a redb file that holds the
//! records and indexes the bodies, for reads and recovery.
//!
//! Why both: a redb commit dirties a copy-on-write page per randomly keyed insert (about 25 µs
//! each with its fsync, measured in BENCHMARKS.md), and a send inserts several. The log makes a
//! group of commits durable with one sequential append and one `fdatasync`; the applier thread
//! (`applier`) writes records and body locations into redb behind it without an fsync, and
//! checkpoints redb durably about once a second. A message body is written to disk once, in the
//! log: the checkpoint, whose bulk write stalls the log's syncs on this kind of disk, carries
//! only records and small index entries. Reads wait for the applier to catch up with what was
//! logged before them, so they never miss an acknowledged commit. Opening replays the log past
//! redb's last checkpoint (`wal`).
//!
//! Why redb: pure Rust (no C toolchain, ~13 s cold build), a stable crash-safe file format,
//! ordered tables for the inbox, traffic and delivery-log ranges.

mod applier;
mod entry;
mod inbox_index;
mod wal;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};

use self::applier::{APPLIED, Shared};
use self::entry::{Entry, Rows};
use self::inbox_index::{COMPACT_AT, RecentInbox, decode_block};
use self::tables::{
    DELIVERIES_AT, DELIVERIES_BY_ACCOUNT, INBOX_AT, INBOX_BLOCKS, INBOX_RECENT, LEGACY_DELIVERIES,
    LEGACY_INBOX, LEGACY_TRAFFIC, META, Place, RECORDS, TRAFFIC_AT,
};
use self::wal::{Log, Placed, io};
use crate::Map;
use crate::codec::{
    decode, decode_key, decode_record, decode_version, encode, encode_key, encode_record,
};
use crate::port::{
    Changed, Commit, CommitResult, InRange, Store, StoreError, Versioned, check_commit, in_range,
};
use crate::records::{DeliveryRecord, InboxMessage, Key, Record, TrafficRecord};

mod tables {
    use redb::TableDefinition;

    /// Where a body lies in the log: (segment, file offset, length).
    pub(crate) type Place = (u64, u64, u32);

    pub(crate) const RECORDS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("records");
    /// The inbox index (`embedded/inbox_index.rs`): recent messages under their id, with their
    /// user (a round appends here)...
    pub(crate) const INBOX_RECENT: TableDefinition<'_, u64, (&str, Place)> =
        TableDefinition::new("inbox_recent");
    /// ...and older ones in blocks of a user's entries, under (user, first id).
    pub(crate) const INBOX_BLOCKS: TableDefinition<'_, (&str, u64), &[u8]> =
        TableDefinition::new("inbox_blocks");
    /// The inbox index under (user, id), as data directories made before the blocks have it:
    /// read (before the blocks, whose ids are all higher), never written.
    pub(crate) const INBOX_AT: TableDefinition<'_, (&str, u64), Place> =
        TableDefinition::new("inbox_at");
    pub(crate) const TRAFFIC_AT: TableDefinition<'_, u64, Place> =
        TableDefinition::new("traffic_at");
    /// Bodies stored in redb itself, as data directories made before the log kept them: read
    /// (before the newer ones, whose sequence numbers are all higher), never written.
    pub(crate) const LEGACY_INBOX: TableDefinition<'_, (&str, u64), &[u8]> =
        TableDefinition::new("user_inbox");
    pub(crate) const LEGACY_TRAFFIC: TableDefinition<'_, u64, &[u8]> =
        TableDefinition::new("traffic");
    pub(crate) const DELIVERIES_AT: TableDefinition<'_, u64, Place> =
        TableDefinition::new("deliveries_at");
    pub(crate) const LEGACY_DELIVERIES: TableDefinition<'_, u64, &[u8]> =
        TableDefinition::new("deliveries");
    pub(crate) const DELIVERIES_BY_ACCOUNT: TableDefinition<'_, (&str, u64), ()> =
        TableDefinition::new("deliveries_by_account");
    /// The last log entry redb holds, and the latest wipe.
    pub(crate) const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
}

pub const DB_FILE: &str = "kefu.redb";
const LOCK_FILE: &str = "kefu.lock";
/// Logged entries the applier may lag by before a commit waits for it (bounds memory).
const APPLIER_QUEUE: usize = 4096;
/// redb's own page cache (and write buffer): enough for a second of commits between checkpoints.
const CACHE_BYTES: usize = 64 << 20;
/// Entries recovery applies per redb transaction.
const REPLAY_ROUND: usize = 1024;

/// The log's end and the way to the applier; `None` once the store closes.
struct Appender {
    log: Log,
    to_applier: SyncSender<(Entry, Placed)>,
}

pub struct EmbeddedStore {
    appender: Mutex<Option<Appender>>,
    applier: Mutex<Option<JoinHandle<()>>>,
    /// Kept by a store opened with [`EmbeddedStore::open_unapplied`]: nothing reaches redb.
    _unapplied: Mutex<Option<Receiver<(Entry, Placed)>>>,
    /// Open log segments, by first LSN, for reading bodies.
    segments: Mutex<HashMap<u64, Arc<File>>>,
    shared: Arc<Shared>,
    path: PathBuf,
    /// Whether opening had to walk redb's pages to rebuild its allocator state.
    repaired: bool,
    /// Log entries opening replayed past redb's last checkpoint.
    replayed: u64,
    /// Held for the life of the store, and dropped last: the OS lock that keeps a second
    /// process out.
    _lock: File,
}

pub(crate) fn engine(e: impl std::fmt::Display) -> StoreError {
    StoreError::Engine(e.to_string())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; what they guard stays consistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl EmbeddedStore {
    /// Opens (or creates) the store under `dir`, taking the directory's lock and replaying the
    /// log past redb's last checkpoint.
    pub fn open(dir: &Path) -> Result<EmbeddedStore, StoreError> {
        Self::open_with(dir, true, COMPACT_AT)
    }

    /// Opens the store moving recent inbox index entries into blocks once `entries` of them
    /// gather, instead of a few seconds' worth: tests use it to exercise that move.
    #[doc(hidden)]
    pub fn open_compacting_inbox_at(
        dir: &Path,
        entries: usize,
    ) -> Result<EmbeddedStore, StoreError> {
        Self::open_with(dir, true, entries)
    }

    /// Opens the store with its applier stopped: commits are logged and never reach redb, as
    /// when a process is killed before a checkpoint. Reads wait forever; only tests of recovery
    /// want this.
    #[doc(hidden)]
    pub fn open_unapplied(dir: &Path) -> Result<EmbeddedStore, StoreError> {
        Self::open_with(dir, false, COMPACT_AT)
    }

    fn open_with(
        dir: &Path,
        applying: bool,
        compact_at: usize,
    ) -> Result<EmbeddedStore, StoreError> {
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
        let repairing = Arc::new(AtomicBool::new(false));
        let seen = repairing.clone();
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .set_repair_callback(move |_| seen.store(true, Ordering::Relaxed))
            .create(&path)
            .map_err(engine)?;
        let (checkpoint, lsn, recent) = recover(&db, dir, compact_at)?;
        let log = Log::start(dir, lsn + 1)?;
        let shared = Arc::new(Shared::new(db, dir.to_owned(), lsn, recent));
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
            segments: Mutex::new(HashMap::new()),
            shared,
            path,
            repaired: repairing.load(Ordering::Relaxed),
            replayed: lsn.saturating_sub(checkpoint),
            _lock: lock_file,
        })
    }

    /// Whether opening had to walk every redb page to rebuild its allocator state, as after a
    /// crash that left no allocator state behind. Every durable commit saves that state, so a
    /// crash should never need the walk: it grows with the database (half a second for a million
    /// conversations).
    pub fn needed_full_repair(&self) -> bool {
        self.repaired
    }

    /// How many log entries opening replayed into redb: those logged after its last
    /// checkpoint (none after a clean shutdown).
    pub fn replayed(&self) -> u64 {
        self.replayed
    }

    /// Whether `dir` holds a kefu store already (a new data directory starts its clock afresh).
    pub fn exists_in(dir: &Path) -> bool {
        dir.join(DB_FILE).is_file()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The log's end, under its lock, if the store still takes writes: it is open and nothing
    /// has failed.
    fn writable<'a>(
        &self,
        appender: &'a mut MutexGuard<'_, Option<Appender>>,
    ) -> Result<&'a mut Appender, StoreError> {
        let appender = appender
            .as_mut()
            .ok_or_else(|| StoreError::Engine("the store is closed".into()))?;
        self.shared.check()?;
        Ok(appender)
    }

    /// Logs `entry` durably and hands it to the applier. `accepted` runs once it is durable,
    /// before the applier can see it.
    fn append(
        &self,
        appender: &mut Appender,
        entry: Entry,
        accepted: impl FnOnce(u64),
    ) -> Result<u64, StoreError> {
        let started = std::time::Instant::now();
        let placed = appender.log.append(&entry).inspect_err(|e| {
            // Memory and the log may disagree from here on: refuse everything after.
            self.shared.fail(format!("writing the log: {e}"));
        })?;
        self.shared.log_appends.record(started.elapsed());
        let logged = placed.lsn;
        accepted(logged);
        self.shared.logged(logged);
        appender
            .to_applier
            .send((entry, placed))
            .map_err(|_| StoreError::Engine("the store's applier has stopped".into()))?;
        Ok(logged)
    }
}

/// The record under the encoded key `k` in `table` (the records table), decoded.
fn record_in(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    k: &[u8],
) -> Result<Option<Versioned<Record>>, StoreError> {
    match table.get(k).map_err(engine)? {
        Some(v) => Ok(Some(decode_record(k, v.value())?)),
        None => Ok(None),
    }
}

/// What opening found: the LSN of redb's last checkpoint, the last LSN redb holds after the
/// replay, and the recent inbox index.
type Recovered = (u64, u64, RecentInbox);

/// Creates the tables and replays the log past redb's checkpoint into redb durably.
fn recover(db: &Database, dir: &Path, compact_at: usize) -> Result<Recovered, StoreError> {
    // Durable with redb's allocator state, as every durable commit is (`applier::begin`): it
    // may be the last one before a crash.
    let txn = applier::begin(db, true)?;
    let (applied, recent) = {
        // Create every table up front so readers never meet a missing one.
        txn.open_table(RECORDS).map_err(engine)?;
        txn.open_table(INBOX_AT).map_err(engine)?;
        txn.open_table(INBOX_BLOCKS).map_err(engine)?;
        let recent = RecentInbox::load(&txn.open_table(INBOX_RECENT).map_err(engine)?, compact_at)?;
        txn.open_table(TRAFFIC_AT).map_err(engine)?;
        txn.open_table(LEGACY_INBOX).map_err(engine)?;
        txn.open_table(LEGACY_TRAFFIC).map_err(engine)?;
        txn.open_table(DELIVERIES_AT).map_err(engine)?;
        txn.open_table(LEGACY_DELIVERIES).map_err(engine)?;
        txn.open_table(DELIVERIES_BY_ACCOUNT).map_err(engine)?;
        let meta = txn.open_table(META).map_err(engine)?;
        let applied = meta.get(APPLIED).map_err(engine)?.map_or(0, |v| v.value());
        (applied, Mutex::new(recent))
    };
    txn.commit().map_err(engine)?;
    let mut round = Vec::new();
    let last = wal::replay(dir, applied, &mut |entry, placed| {
        round.push((entry, placed));
        if round.len() >= REPLAY_ROUND {
            applier::apply(db, &recent, &round, false)?;
            round.clear();
        }
        Ok(())
    })?;
    if last > applied {
        applier::apply(db, &recent, &round, true)?;
    }
    let recent = recent.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok((applied, last, recent))
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl EmbeddedStore {
    /// Every record whose key lies in one of `ranges` (from, before; `None`: to the end).
    fn scan_ranges(
        &self,
        ranges: &[(&[u8], Option<&[u8]>)],
        each: &mut dyn FnMut(Key, Versioned<Record>),
    ) -> Result<(), StoreError> {
        self.shared.caught_up()?;
        let txn = self.shared.db.begin_read().map_err(engine)?;
        let table = txn.open_table(RECORDS).map_err(engine)?;
        for &(from, to) in ranges {
            let range = match to {
                Some(to) => table.range::<&[u8]>(from..to),
                None => table.range::<&[u8]>(from..),
            };
            for entry in range.map_err(engine)? {
                let (k, v) = entry.map_err(engine)?;
                each(decode_key(k.value())?, decode_record(k.value(), v.value())?);
            }
        }
        Ok(())
    }

    /// A body the log holds, read from where redb says it lies.
    fn body(&self, (segment, offset, len): Place) -> Result<Vec<u8>, StoreError> {
        use std::os::unix::fs::FileExt;
        let path = wal::segment_path(&self.shared.dir, segment);
        let file = {
            let mut open = lock(&self.segments);
            match open.get(&segment) {
                Some(file) => file.clone(),
                None => {
                    let file = Arc::new(File::open(&path).map_err(io(&path))?);
                    open.insert(segment, file.clone());
                    file
                }
            }
        };
        let mut body = vec![0; len as usize];
        file.read_exact_at(&mut body, offset).map_err(io(&path))?;
        Ok(body)
    }

    /// The latest delivery-log entry of `id`: where the log holds it, or, from a data directory
    /// older than that, in redb.
    fn delivery_in(
        &self,
        txn: &redb::ReadTransaction,
        id: u64,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        let placed = txn.open_table(DELIVERIES_AT).map_err(engine)?;
        if let Some(place) = placed.get(id).map_err(engine)? {
            let body = self.body(place.value())?;
            return Ok(Some(decode(&body, || format!("delivery {id}"))?));
        }
        let legacy = txn.open_table(LEGACY_DELIVERIES).map_err(engine)?;
        match legacy.get(id).map_err(engine)? {
            Some(v) => Ok(Some(decode(v.value(), || format!("delivery {id}"))?)),
            None => Ok(None),
        }
    }

    /// One accepted commit as table rows. `view` holds the versions this batch has written so
    /// far, ahead of `pending` and redb.
    fn rows(commit: &Commit, view: &mut Map<Vec<u8>, u64>) -> Result<Rows, StoreError> {
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
        record_in(&table, &encode_key(key))
    }

    fn scan(&self, each: &mut dyn FnMut(Key, Versioned<Record>)) -> Result<(), StoreError> {
        self.scan_ranges(&[(&[], None)], each)
    }

    fn scan_without_users(
        &self,
        each: &mut dyn FnMut(Key, Versioned<Record>),
    ) -> Result<(), StoreError> {
        // Keys sort by kind (`codec`): the ranges between the per-user kinds, which are never
        // read, however many millions there are.
        self.scan_ranges(&crate::codec::ranges_without_users(), each)
    }

    fn position(&self) -> Option<u64> {
        // Every commit and wipe is one log entry; a graceful close leaves the last where it was.
        Some(self.shared.last_logged())
    }

    fn per_user_written_since(
        &self,
        position: u64,
        budget: u64,
    ) -> Result<Option<Vec<Changed>>, StoreError> {
        // Appends wait while the log and the records are read: the keys and their values are
        // both of the log's end as it was looked up.
        let appender = lock(&self.appender);
        let now = self.shared.last_logged();
        if position > now {
            return Ok(None);
        }
        // Each once, in key order.
        let mut keys = std::collections::BTreeSet::new();
        let mut wiped = false;
        let read = wal::read_since(&self.shared.dir, position, now, budget, &mut |entry| {
            match entry {
                Entry::Commits(commits) => {
                    let records = commits.into_iter().flat_map(|rows| rows.records);
                    keys.extend(records.map(|(key, _)| key));
                }
                Entry::Wipe(_) => wiped = true,
            }
            Ok(())
        })?;
        if read != wal::Since::Read || wiped {
            return Ok(None);
        }
        // As they are now, read in one transaction once redb holds everything logged.
        self.shared.caught_up()?;
        let txn = self.shared.db.begin_read().map_err(engine)?;
        let table = txn.open_table(RECORDS).map_err(engine)?;
        let mut changed = Vec::new();
        for k in keys {
            let key = decode_key(&k)?;
            if key.is_per_user() {
                changed.push((key, record_in(&table, &k)?));
            }
        }
        drop(appender);
        Ok(Some(changed))
    }

    fn record_count(&self) -> Result<u64, StoreError> {
        self.shared.caught_up()?;
        let txn = self.shared.db.begin_read().map_err(engine)?;
        let table = txn.open_table(RECORDS).map_err(engine)?;
        // redb keeps a table's length in its root: no walk.
        table.len().map_err(engine)
    }

    fn commit(&self, batch: &[Commit]) -> Result<Vec<CommitResult>, StoreError> {
        let mut appender = lock(&self.appender);
        let appender = self.writable(&mut appender)?;
        // Versions come from this batch's own writes, then from what is logged but not yet in
        // redb, then from redb. `pending` is locked before redb's snapshot is taken: the
        // applier trims it (under that lock) only after redb holds the trimmed entries, so a
        // key missing from it is current in the snapshot.
        let mut view: Map<Vec<u8>, u64> = Map::default();
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
        // The mirror is copied before redb's snapshot is taken: the applier changes it only
        // after redb holds what it says (a compaction may then be read twice, and is kept once).
        let (recent, txn) = {
            let recent = lock(&self.shared.recent);
            let txn = self.shared.db.begin_read().map_err(engine)?;
            (recent.of(user_id, after), txn)
        };
        let mut out = Vec::new();
        // Every part holds newer ids than the one before: read them in turn, skipping ids
        // already passed.
        let mut passed = after;
        let mut offer = |id: u64, body: &dyn Fn() -> Result<Vec<u8>, StoreError>| {
            if out.len() >= limit {
                return Ok::<bool, StoreError>(false);
            }
            if id > passed {
                passed = id;
                let message: InboxMessage = decode(&body()?, || format!("inbox {id}"))?;
                if appid.is_none_or(|a| message.appid == a) {
                    out.push(message);
                }
            }
            Ok(true)
        };
        let range = (user_id, after.saturating_add(1))..=(user_id, u64::MAX);
        let legacy = txn.open_table(LEGACY_INBOX).map_err(engine)?;
        for entry in legacy.range(range.clone()).map_err(engine)? {
            let (k, v) = entry.map_err(engine)?;
            if !offer(k.value().1, &|| Ok(v.value().to_vec()))? {
                return Ok(out);
            }
        }
        let placed = txn.open_table(INBOX_AT).map_err(engine)?;
        for entry in placed.range(range).map_err(engine)? {
            let (k, place) = entry.map_err(engine)?;
            if !offer(k.value().1, &|| self.body(place.value()))? {
                return Ok(out);
            }
        }
        let blocks = txn.open_table(INBOX_BLOCKS).map_err(engine)?;
        // From the block holding the first id wanted.
        let first = blocks
            .range((user_id, 0)..=(user_id, after.saturating_add(1)))
            .map_err(engine)?
            .next_back()
            .transpose()
            .map_err(engine)?
            .map_or(0, |(k, _)| k.value().1);
        for entry in blocks
            .range((user_id, first)..=(user_id, u64::MAX))
            .map_err(engine)?
        {
            let (_, block) = entry.map_err(engine)?;
            for (id, place) in decode_block(block.value())? {
                if !offer(id, &|| self.body(place))? {
                    return Ok(out);
                }
            }
        }
        for (id, place) in recent {
            if !offer(id, &|| self.body(place))? {
                break;
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
        // Whether to go on: records come in sequence order, which is rule-clock order.
        let mut offer = |record: TrafficRecord| match in_range(record.at, from, to) {
            InRange::Before => true,
            InRange::Past => false,
            InRange::Inside => each(&record),
        };
        let legacy = txn.open_table(LEGACY_TRAFFIC).map_err(engine)?;
        for entry in legacy.iter().map_err(engine)? {
            let (k, v) = entry.map_err(engine)?;
            if !offer(decode(v.value(), || format!("traffic {}", k.value()))?) {
                return Ok(());
            }
        }
        let placed = txn.open_table(TRAFFIC_AT).map_err(engine)?;
        for entry in placed.iter().map_err(engine)? {
            let (k, place) = entry.map_err(engine)?;
            let body = self.body(place.value())?;
            if !offer(decode(&body, || format!("traffic {}", k.value()))?) {
                return Ok(());
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
            out.extend(self.delivery_in(&txn, k.value().1)?);
        }
        Ok(out)
    }

    fn delivery(&self, id: u64) -> Result<Option<DeliveryRecord>, StoreError> {
        self.shared.caught_up()?;
        let txn = self.shared.db.begin_read().map_err(engine)?;
        self.delivery_in(&txn, id)
    }

    fn close(&self) -> Result<(), StoreError> {
        // Closing the log ends the applier's input; it applies what is left and checkpoints
        // durably, so the next start replays nothing.
        drop(lock(&self.appender).take());
        self.shared.hurry();
        if let Some(thread) = lock(&self.applier).take()
            && thread.join().is_err()
        {
            return Err(StoreError::Engine("the store's applier panicked".into()));
        }
        self.shared.check()
    }

    fn timings(&self) -> crate::timings::StoreTimings {
        crate::timings::StoreTimings {
            log_appends: self.shared.log_appends.observed(),
            checkpoints: self.shared.checkpoints.observed(),
        }
    }

    fn wipe(&self, keep: &[Key]) -> Result<(), StoreError> {
        let mut appender = lock(&self.appender);
        let appender = self.writable(&mut appender)?;
        let kept = keep.iter().map(encode_key).collect();
        self.append(appender, Entry::Wipe(kept), |_| {})?;
        // Segments before the wipe go at the next checkpoint; nothing reads them any more.
        lock(&self.segments).clear();
        // Later commits check versions against redb: let it hold the wipe first (the log
        // stays locked meanwhile, so nothing is checked against the state before it).
        self.shared.caught_up()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::conformance::{delivery, inbox_ids, traffic_seqs, trigger};

    fn message(id: u64) -> InboxMessage {
        crate::conformance::message(id, "u1", "wx1")
    }

    fn traffic(seq: u64) -> TrafficRecord {
        trigger(seq, 1_700_000_000)
    }

    /// A snapshot taken at a position stays good exactly as long as the store stays there.
    #[test]
    fn the_position_moves_with_every_commit_and_wipe_and_survives_a_close() {
        let dir = tempfile::tempdir().unwrap();
        let put = |version| Commit {
            writes: vec![crate::Write::put(
                Key::AdminToken,
                version - 1,
                version,
                Record::AdminToken("t".into()),
            )],
            ..Commit::default()
        };
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let empty = store.position().unwrap();
        store.commit(&[put(1)]).unwrap().remove(0).unwrap();
        let one = store.position().unwrap();
        assert!(one > empty);
        store.close().unwrap();
        drop(store);
        let store = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(store.position(), Some(one), "a graceful close keeps it");
        store.commit(&[put(2)]).unwrap().remove(0).unwrap();
        let two = store.position().unwrap();
        assert!(two > one);
        store.wipe(&[]).unwrap();
        let wiped = store.position().unwrap();
        assert!(wiped > two, "a wipe moves it");
        let refused = store.commit(&[put(9)]).unwrap();
        assert!(refused[0].is_err());
        assert_eq!(
            store.position(),
            Some(wiped),
            "a refused commit writes nothing"
        );
    }

    /// A data directory from before the log kept bodies has them in redb: still read, first.
    #[test]
    fn bodies_kept_in_redb_by_older_versions_are_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let txn = store.shared.db.begin_write().unwrap();
        {
            let mut inbox = txn.open_table(LEGACY_INBOX).unwrap();
            let mut events = txn.open_table(LEGACY_TRAFFIC).unwrap();
            for n in 1..=2 {
                let m = encode(&message(n), "test").unwrap();
                inbox.insert(("u1", n), m.as_slice()).unwrap();
                let t = encode(&traffic(n), "test").unwrap();
                events.insert(n, t.as_slice()).unwrap();
            }
        }
        txn.commit().unwrap();
        let newer = Commit {
            inbox: vec![message(3)],
            traffic: vec![traffic(3)],
            ..Commit::default()
        };
        store.commit(&[newer]).unwrap().remove(0).unwrap();
        let ids = inbox_ids(&store, "u1", None, 0, 10);
        assert_eq!(ids, [1, 2, 3]);
        let paged = inbox_ids(&store, "u1", None, 1, 1);
        assert_eq!(paged, [2]);
        assert_eq!(traffic_seqs(&store), [1, 2, 3]);
    }

    /// A data directory from before the inbox index had blocks indexes each message under
    /// (user, id): still read, before the blocks.
    #[test]
    fn inbox_entries_indexed_one_by_one_by_older_versions_are_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let older = |n| Commit {
            inbox: vec![message(n)],
            ..Commit::default()
        };
        EmbeddedStore::open(dir.path())
            .unwrap()
            .commit(&[older(1), older(2)])
            .unwrap();
        // What an older version left: the same entries, in the table it wrote.
        {
            let db = Database::create(dir.path().join(DB_FILE)).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut recent = txn.open_table(INBOX_RECENT).unwrap();
                let mut at = txn.open_table(INBOX_AT).unwrap();
                while let Some((id, value)) = recent.pop_first().unwrap() {
                    let (user, place) = value.value();
                    at.insert((user, id.value()), place).unwrap();
                }
            }
            txn.commit().unwrap();
        }
        let store = EmbeddedStore::open_compacting_inbox_at(dir.path(), 2).unwrap();
        store.commit(&[older(3), older(4)]).unwrap();
        store.commit(&[older(5)]).unwrap();
        let ids = inbox_ids(&store, "u1", None, 0, 10);
        assert_eq!(ids, [1, 2, 3, 4, 5]);
    }

    /// A compaction empties the recent part, in redb and in memory, so the next one starts
    /// from nothing instead of writing the same blocks again.
    #[test]
    fn a_compaction_leaves_nothing_recent() {
        use redb::ReadableTableMetadata;
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open_compacting_inbox_at(dir.path(), 3).unwrap();
        let counts = |store: &EmbeddedStore| {
            let txn = store.shared.db.begin_read().unwrap();
            let recent = txn.open_table(INBOX_RECENT).unwrap().len().unwrap();
            let blocks = txn.open_table(INBOX_BLOCKS).unwrap().len().unwrap();
            let mirrored = lock(&store.shared.recent).of("u1", 0).len();
            (recent, blocks, mirrored)
        };
        for n in 1..=2 {
            let inbox = Commit {
                inbox: vec![message(n)],
                ..Commit::default()
            };
            store.commit(&[inbox]).unwrap();
            store.inbox("u1", None, 0, 10).unwrap();
        }
        assert_eq!(counts(&store), (2, 0, 2));
        let third = Commit {
            inbox: vec![message(3)],
            ..Commit::default()
        };
        store.commit(&[third]).unwrap();
        assert_eq!(store.inbox("u1", None, 0, 10).unwrap().len(), 3);
        assert_eq!(counts(&store), (0, 1, 0));
    }

    #[test]
    fn delivery_log_entries_kept_in_redb_by_older_versions_are_still_read() {
        use crate::records::DeliveryStatus;
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let txn = store.shared.db.begin_write().unwrap();
        {
            let mut legacy = txn.open_table(LEGACY_DELIVERIES).unwrap();
            let mut by_account = txn.open_table(DELIVERIES_BY_ACCOUNT).unwrap();
            for id in 1..=2 {
                let d = encode(&delivery(id, "wx1", DeliveryStatus::Queued), "test").unwrap();
                legacy.insert(id, d.as_slice()).unwrap();
                by_account.insert(("wx1", id), ()).unwrap();
            }
        }
        txn.commit().unwrap();
        // Entry 2 is logged again (a later attempt): the newer one wins.
        let later = Commit {
            deliveries: vec![delivery(2, "wx1", DeliveryStatus::Delivered)],
            ..Commit::default()
        };
        store.commit(&[later]).unwrap().remove(0).unwrap();
        let log = store.deliveries("wx1", None, 10).unwrap();
        let seen: Vec<(u64, DeliveryStatus)> = log.iter().map(|d| (d.id, d.status)).collect();
        assert_eq!(
            seen,
            [(2, DeliveryStatus::Delivered), (1, DeliveryStatus::Queued)]
        );
        assert_eq!(store.delivery(1).unwrap().map(|d| d.id), Some(1));
    }
}
