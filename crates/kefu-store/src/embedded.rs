//! The default backend: one redb file under the data directory, owned by one process at a time.
//!
//! Why redb: pure Rust (no C toolchain, ~13 s cold build), a stable crash-safe file format,
//! ACID transactions with an fsync per commit. A single durable commit costs about the same as
//! one fsync, so throughput comes from group commit: the server's writer hands [`Store::commit`]
//! everything queued, and all of it becomes durable in one transaction.

use std::fs::File;
use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::codec::{
    decode, decode_key, decode_record, decode_version, encode, encode_key, encode_record,
};
use crate::port::{
    Commit, CommitResult, InRange, Store, StoreError, Versioned, check_commit, in_range,
};
use crate::records::{DeliveryRecord, InboxMessage, Key, Record, TrafficRecord};

const RECORDS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("records");
/// Inbox messages under (user, id): a user's inbox is one range, and an accepted send costs one
/// insert here (each randomly keyed insert dirties a copy-on-write page, the main cost of a
/// commit; see BENCHMARKS.md).
const INBOX: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("user_inbox");
const TRAFFIC: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("traffic");
const DELIVERIES: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("deliveries");
const DELIVERIES_BY_ACCOUNT: TableDefinition<'_, (&str, u64), ()> =
    TableDefinition::new("deliveries_by_account");

pub const DB_FILE: &str = "kefu.redb";
const LOCK_FILE: &str = "kefu.lock";

pub struct EmbeddedStore {
    db: Database,
    path: PathBuf,
    /// Held for the life of the store: the OS lock that keeps a second process out.
    _lock: File,
}

fn engine(e: impl std::fmt::Display) -> StoreError {
    StoreError::Engine(e.to_string())
}

impl EmbeddedStore {
    /// Opens (or creates) the store under `dir`, taking the directory's lock.
    pub fn open(dir: &Path) -> Result<EmbeddedStore, StoreError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| StoreError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        if lock.try_lock().is_err() {
            return Err(StoreError::Locked {
                path: dir.display().to_string(),
            });
        }
        let path = dir.join(DB_FILE);
        let db = Database::create(&path).map_err(engine)?;
        let txn = db.begin_write().map_err(engine)?;
        {
            // Create every table up front so readers never meet a missing one.
            txn.open_table(RECORDS).map_err(engine)?;
            txn.open_table(INBOX).map_err(engine)?;
            txn.open_table(TRAFFIC).map_err(engine)?;
            txn.open_table(DELIVERIES).map_err(engine)?;
            txn.open_table(DELIVERIES_BY_ACCOUNT).map_err(engine)?;
        }
        txn.commit().map_err(engine)?;
        Ok(EmbeddedStore {
            db,
            path,
            _lock: lock,
        })
    }

    /// Whether `dir` holds a kefu store already (a new data directory starts its clock afresh).
    pub fn exists_in(dir: &Path) -> bool {
        dir.join(DB_FILE).is_file()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Store for EmbeddedStore {
    fn load(&self, key: &Key) -> Result<Option<Versioned<Record>>, StoreError> {
        let txn = self.db.begin_read().map_err(engine)?;
        let table = txn.open_table(RECORDS).map_err(engine)?;
        let k = encode_key(key);
        match table.get(k.as_slice()).map_err(engine)? {
            Some(v) => Ok(Some(decode_record(&k, v.value())?)),
            None => Ok(None),
        }
    }

    fn scan(&self, each: &mut dyn FnMut(Key, Versioned<Record>)) -> Result<(), StoreError> {
        let txn = self.db.begin_read().map_err(engine)?;
        let table = txn.open_table(RECORDS).map_err(engine)?;
        for entry in table.iter().map_err(engine)? {
            let (k, v) = entry.map_err(engine)?;
            each(decode_key(k.value())?, decode_record(k.value(), v.value())?);
        }
        Ok(())
    }

    fn commit(&self, batch: &[Commit]) -> Result<Vec<CommitResult>, StoreError> {
        let txn = self.db.begin_write().map_err(engine)?;
        let mut results = Vec::with_capacity(batch.len());
        {
            let mut records = txn.open_table(RECORDS).map_err(engine)?;
            let mut inbox = txn.open_table(INBOX).map_err(engine)?;
            let mut traffic = txn.open_table(TRAFFIC).map_err(engine)?;
            let mut deliveries = txn.open_table(DELIVERIES).map_err(engine)?;
            let mut by_account = txn.open_table(DELIVERIES_BY_ACCOUNT).map_err(engine)?;
            for commit in batch {
                let checked = check_commit(commit, |key| {
                    let k = encode_key(key);
                    match records.get(k.as_slice()).map_err(engine)? {
                        // The version alone: decoding the whole record (a delivery's body) to
                        // check it would cost more than writing it.
                        Some(v) => decode_version(&k, v.value()),
                        None => Ok(0),
                    }
                })?;
                if let Err(conflict) = checked {
                    results.push(Err(conflict));
                    continue;
                }
                for write in &commit.writes {
                    let k = encode_key(&write.key);
                    match &write.value {
                        Some(value) => {
                            let v = encode_record(write.version, value)?;
                            records.insert(k.as_slice(), v.as_slice()).map_err(engine)?;
                        }
                        None => {
                            records.remove(k.as_slice()).map_err(engine)?;
                        }
                    }
                }
                for message in &commit.inbox {
                    let v = encode(message, "inbox message")?;
                    inbox
                        .insert((message.user_id.as_str(), message.id), v.as_slice())
                        .map_err(engine)?;
                }
                for record in &commit.traffic {
                    let v = encode(record, "traffic record")?;
                    traffic.insert(record.seq, v.as_slice()).map_err(engine)?;
                }
                for delivery in &commit.deliveries {
                    let v = encode(delivery, "delivery")?;
                    deliveries
                        .insert(delivery.id, v.as_slice())
                        .map_err(engine)?;
                    by_account
                        .insert((delivery.appid.as_str(), delivery.id), ())
                        .map_err(engine)?;
                }
                results.push(Ok(()));
            }
        }
        // Durability::Immediate is redb's default: commit returns once the batch is on disk.
        txn.commit().map_err(engine)?;
        Ok(results)
    }

    fn inbox(
        &self,
        user_id: &str,
        appid: Option<&str>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<InboxMessage>, StoreError> {
        let txn = self.db.begin_read().map_err(engine)?;
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
            let message: InboxMessage = decode(v.value(), &format!("inbox {id}"))?;
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
        let txn = self.db.begin_read().map_err(engine)?;
        let table = txn.open_table(TRAFFIC).map_err(engine)?;
        for entry in table.iter().map_err(engine)? {
            let (k, v) = entry.map_err(engine)?;
            let record: TrafficRecord = decode(v.value(), &format!("traffic {}", k.value()))?;
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
        let txn = self.db.begin_read().map_err(engine)?;
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
                out.push(decode(v.value(), &format!("delivery {id}"))?);
            }
        }
        Ok(out)
    }

    fn delivery(&self, id: u64) -> Result<Option<DeliveryRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(engine)?;
        let deliveries = txn.open_table(DELIVERIES).map_err(engine)?;
        match deliveries.get(id).map_err(engine)? {
            Some(v) => Ok(Some(decode(v.value(), &format!("delivery {id}"))?)),
            None => Ok(None),
        }
    }

    fn wipe(&self, keep: &[Key]) -> Result<(), StoreError> {
        let kept: Vec<Vec<u8>> = keep.iter().map(encode_key).collect();
        let txn = self.db.begin_write().map_err(engine)?;
        {
            let mut records = txn.open_table(RECORDS).map_err(engine)?;
            records
                .retain(|k, _| kept.iter().any(|kk| kk.as_slice() == k))
                .map_err(engine)?;
            txn.open_table(INBOX)
                .map_err(engine)?
                .retain(|_, _| false)
                .map_err(engine)?;
            txn.open_table(TRAFFIC)
                .map_err(engine)?
                .retain(|_, _| false)
                .map_err(engine)?;
            txn.open_table(DELIVERIES)
                .map_err(engine)?
                .retain(|_, _| false)
                .map_err(engine)?;
            txn.open_table(DELIVERIES_BY_ACCOUNT)
                .map_err(engine)?
                .retain(|_, _| false)
                .map_err(engine)?;
        }
        txn.commit().map_err(engine)?;
        Ok(())
    }
}
