//! A backend in memory: for tests and throwaway servers. Same rules as the durable one; nothing
//! survives the process.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::port::{
    Commit, CommitResult, InRange, Store, StoreError, Versioned, check_commit, in_range,
};
use crate::records::{DeliveryRecord, InboxMessage, Key, Record, TrafficRecord};

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    records: BTreeMap<Key, Versioned<Record>>,
    inbox: BTreeMap<u64, InboxMessage>,
    traffic: BTreeMap<u64, TrafficRecord>,
    deliveries: BTreeMap<u64, DeliveryRecord>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied commit (commits are checked
        // before anything is changed), so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for MemoryStore {
    fn load(&self, key: &Key) -> Result<Option<Versioned<Record>>, StoreError> {
        Ok(self.lock().records.get(key).cloned())
    }

    fn scan(&self, each: &mut dyn FnMut(Key, Versioned<Record>)) -> Result<(), StoreError> {
        let inner = self.lock();
        for (key, record) in &inner.records {
            each(key.clone(), record.clone());
        }
        Ok(())
    }

    fn record_count(&self) -> Result<u64, StoreError> {
        Ok(self.lock().records.len() as u64)
    }

    fn commit(&self, batch: &[Commit]) -> Result<Vec<CommitResult>, StoreError> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let mut results = Vec::with_capacity(batch.len());
        for commit in batch {
            let records = &inner.records;
            let checked =
                check_commit(commit, |key| Ok(records.get(key).map_or(0, |r| r.version)))?;
            if let Err(conflict) = checked {
                results.push(Err(conflict));
                continue;
            }
            for write in &commit.writes {
                match &write.value {
                    Some(value) => {
                        let record = Versioned {
                            version: write.version,
                            value: value.clone(),
                        };
                        inner.records.insert(write.key.clone(), record);
                    }
                    None => {
                        inner.records.remove(&write.key);
                    }
                }
            }
            for message in &commit.inbox {
                inner.inbox.insert(message.id, message.clone());
            }
            for record in &commit.traffic {
                inner.traffic.insert(record.seq, record.clone());
            }
            for delivery in &commit.deliveries {
                inner.deliveries.insert(delivery.id, delivery.clone());
            }
            results.push(Ok(()));
        }
        Ok(results)
    }

    fn inbox(
        &self,
        user_id: &str,
        appid: Option<&str>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<InboxMessage>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .inbox
            .range(after.saturating_add(1)..)
            .map(|(_, m)| m)
            .filter(|m| m.user_id == user_id && appid.is_none_or(|a| m.appid == a))
            .take(limit)
            .cloned()
            .collect())
    }

    fn traffic(
        &self,
        from: Option<i64>,
        to: Option<i64>,
        each: &mut dyn FnMut(&TrafficRecord) -> bool,
    ) -> Result<(), StoreError> {
        let inner = self.lock();
        for record in inner.traffic.values() {
            match in_range(record.at, from, to) {
                InRange::Before => continue,
                InRange::Past => break,
                InRange::Inside if !each(record) => break,
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
        let inner = self.lock();
        Ok(inner
            .deliveries
            .range(..before.unwrap_or(u64::MAX))
            .rev()
            .map(|(_, d)| d)
            .filter(|d| d.appid == appid)
            .take(limit)
            .cloned()
            .collect())
    }

    fn delivery(&self, id: u64) -> Result<Option<DeliveryRecord>, StoreError> {
        Ok(self.lock().deliveries.get(&id).cloned())
    }

    fn wipe(&self, keep: &[Key]) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner.records.retain(|key, _| keep.contains(key));
        inner.inbox.clear();
        inner.traffic.clear();
        inner.deliveries.clear();
        Ok(())
    }
}
