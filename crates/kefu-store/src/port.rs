//! The store port: what the server asks of any backend.
//!
//! The server decides in memory and hands the store finished state: a [`Commit`] is the new
//! value of every record a decision changed, each with the version the decision read, plus the
//! effects the decision had (inbox messages, traffic records). A backend applies a commit only if
//! every record is still at the version the decision read, so two nodes deciding on the same
//! conversation can never both win. Group commit is the backend's business: [`Store::commit`]
//! takes a batch and makes it durable in one go.

use crate::records::{DeliveryRecord, InboxMessage, Key, Record, TrafficRecord};

/// A record with the version it was stored under. The writer chooses versions from a store-wide
/// increasing sequence, never reused, so a deleted and recreated record never matches a stale
/// expectation, and a writer can pipeline commits without waiting to learn their versions.
#[derive(Clone, Debug, PartialEq)]
pub struct Versioned<T> {
    pub version: u64,
    pub value: T,
}

/// The new value of one record. `expect` is the version the decision read (0: the record was
/// absent); `version` is the one to store it under, greater than `expect`; `value: None`
/// deletes the record.
#[derive(Clone, Debug, PartialEq)]
pub struct Write {
    pub key: Key,
    pub expect: u64,
    pub version: u64,
    pub value: Option<Record>,
}

impl Write {
    pub fn put(key: Key, expect: u64, version: u64, value: Record) -> Write {
        Write {
            key,
            expect,
            version,
            value: Some(value),
        }
    }

    pub fn delete(key: Key, expect: u64) -> Write {
        Write {
            key,
            expect,
            version: 0,
            value: None,
        }
    }
}

/// Everything one decision changed: applied all or nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Commit {
    pub writes: Vec<Write>,
    pub inbox: Vec<InboxMessage>,
    pub traffic: Vec<TrafficRecord>,
    /// Delivery-log entries: each replaces any earlier entry with its id (a delivery is logged
    /// again after every attempt).
    pub deliveries: Vec<DeliveryRecord>,
}

impl Commit {
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
            && self.inbox.is_empty()
            && self.traffic.is_empty()
            && self.deliveries.is_empty()
    }
}

/// A commit refused because a record moved on since the decision read it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("version conflict on {key:?}: expected version {expected}, found {found}")]
pub struct Conflict {
    pub key: Key,
    pub expected: u64,
    pub found: u64,
}

/// A record written or deleted since a point: its key, and the record as it is now (`None`:
/// deleted).
pub type Changed = (Key, Option<Versioned<Record>>);

/// The outcome of one commit of a batch: `Ok` once durable, or the conflict that refused it.
pub type CommitResult = Result<(), Conflict>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage engine: {0}")]
    Engine(String),
    #[error("corrupt record under {key}: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("record {record} does not belong under key {key:?}")]
    Mismatch { key: Key, record: &'static str },
    #[error("version {version} for {key:?} does not increase on {expect}")]
    VersionNotIncreasing { key: Key, expect: u64, version: u64 },
    #[error("the data directory {path} is in use by another kefu process")]
    Locked { path: String },
    #[error("i/o on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What every backend provides. All methods are blocking: the server calls them from its writer
/// thread or through `spawn_blocking`.
pub trait Store: Send + Sync + 'static {
    /// One record with its version, or `None` if absent.
    fn load(&self, key: &Key) -> Result<Option<Versioned<Record>>, StoreError>;

    /// Every mutable record, for recovery at start-up.
    fn scan(&self, each: &mut dyn FnMut(Key, Versioned<Record>)) -> Result<(), StoreError>;

    /// [`Store::scan`] without the per-user records ([`Key::is_per_user`]): for a start that
    /// has them from elsewhere (a snapshot of the server's tables, taken at the
    /// [`Store::position`] the store is still at).
    fn scan_without_users(
        &self,
        each: &mut dyn FnMut(Key, Versioned<Record>),
    ) -> Result<(), StoreError> {
        self.scan(&mut |key, record| {
            if !key.is_per_user() {
                each(key, record)
            }
        })
    }

    /// Where the store's history stands: a number that changes with every commit and wipe and
    /// stays the same across a graceful close and reopen, so that something derived from the
    /// records (a snapshot) can tell whether the store has moved on since. `None` for a store
    /// that keeps nothing across restarts.
    fn position(&self) -> Option<u64> {
        None
    }

    /// The per-user records ([`Key::is_per_user`]) written or deleted since the store stood
    /// at `position`, each once, as they are now (`None`: deleted): what something derived from
    /// the records at that position (a snapshot) needs to catch up. `None` when the store cannot
    /// tell: it keeps no history, `position` is not in its past, a wipe lies between, or finding
    /// out would mean reading more than `budget` bytes.
    fn per_user_written_since(
        &self,
        position: u64,
        budget: u64,
    ) -> Result<Option<Vec<Changed>>, StoreError> {
        let _ = (position, budget);
        Ok(None)
    }

    /// How many records [`Store::scan`] would give now, found without reading them: recovery
    /// sizes its tables with it before the scan.
    fn record_count(&self) -> Result<u64, StoreError>;

    /// Applies the commits of `batch` in order, each all or nothing, and makes the applied ones
    /// durable before returning. A commit whose expectations fail is skipped with its
    /// [`Conflict`]; later commits of the batch see the earlier applied ones.
    fn commit(&self, batch: &[Commit]) -> Result<Vec<CommitResult>, StoreError>;

    /// The inbox of one user, oldest first: messages with `id > after`, at most `limit`,
    /// only those from `appid` when given.
    fn inbox(
        &self,
        user_id: &str,
        appid: Option<&str>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<InboxMessage>, StoreError>;

    /// Traffic records with `from <= at < to` in (at, seq) order; `each` returns `false` to stop.
    fn traffic(
        &self,
        from: Option<i64>,
        to: Option<i64>,
        each: &mut dyn FnMut(&TrafficRecord) -> bool,
    ) -> Result<(), StoreError>;

    /// The delivery log of one account, newest first: entries with `id < before` (all when
    /// `None`), at most `limit`.
    fn deliveries(
        &self,
        appid: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;

    /// One delivery-log entry by id.
    fn delivery(&self, id: u64) -> Result<Option<DeliveryRecord>, StoreError>;

    /// Deletes everything except the records under `keep` (a test suite's reset).
    fn wipe(&self, keep: &[Key]) -> Result<(), StoreError>;

    /// Graceful shutdown: leaves everything committed in its final form (the embedded backend
    /// checkpoints, so the next start replays nothing) and stops background work. Nothing may be
    /// committed after it.
    fn close(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// How long its disk work has taken since it opened (nothing, for a backend without one).
    fn timings(&self) -> crate::timings::StoreTimings {
        crate::timings::StoreTimings::default()
    }
}

/// Checks one commit against the versions the backend holds. Shared by every backend so that
/// they agree on the rules: records must fit their keys, versions must increase, and a key
/// written twice in one commit must expect the version its first write stored.
pub(crate) fn check_commit(
    commit: &Commit,
    mut current: impl FnMut(&Key) -> Result<u64, StoreError>,
) -> Result<Result<(), Conflict>, StoreError> {
    let mut seen: crate::Map<&Key, u64> = crate::Map::default();
    for write in &commit.writes {
        if let Some(value) = &write.value {
            if !value.fits(&write.key) {
                return Err(StoreError::Mismatch {
                    key: write.key.clone(),
                    record: record_name(value),
                });
            }
            if write.version <= write.expect {
                return Err(StoreError::VersionNotIncreasing {
                    key: write.key.clone(),
                    expect: write.expect,
                    version: write.version,
                });
            }
        }
        let found = match seen.get(&write.key) {
            Some(v) => *v,
            None => current(&write.key)?,
        };
        if found != write.expect {
            return Ok(Err(Conflict {
                key: write.key.clone(),
                expected: write.expect,
                found,
            }));
        }
        let stored = if write.value.is_some() {
            write.version
        } else {
            0
        };
        seen.insert(&write.key, stored);
    }
    Ok(Ok(()))
}
fn record_name(record: &Record) -> &'static str {
    match record {
        Record::AdminToken(_) => "AdminToken",
        Record::Clock(_) => "Clock",
        Record::Counters(_) => "Counters",
        Record::Account(_) => "Account",
        Record::User(_) => "User",
        Record::Conversation(_) => "Conversation",
        Record::Tokens(_) => "Tokens",
        Record::Menu(_) => "Menu",
        Record::QrCode(_) => "QrCode",
        Record::Follow(_) => "Follow",
        Record::KfAccounts(_) => "KfAccounts",
        Record::StableTokens(_) => "StableTokens",
        Record::RuleSet(_) => "RuleSet",
        Record::Rollout(_) => "Rollout",
        Record::Outbox(_) => "Outbox",
        Record::MsgIds(_) => "MsgIds",
    }
}

/// Where a traffic record stands against `[from, to)`. Records are committed in sequence order
/// with non-decreasing `at`, so the first one at or past `to` ends a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InRange {
    Before,
    Inside,
    Past,
}

pub(crate) fn in_range(at: i64, from: Option<i64>, to: Option<i64>) -> InRange {
    if from.is_some_and(|f| at < f) {
        InRange::Before
    } else if to.is_some_and(|t| at >= t) {
        InRange::Past
    } else {
        InRange::Inside
    }
}
