//! kefu's state: everything kefu persists goes through the [`Store`] port.
//!
//! # Layout
//! - [`records`]: the domain records (accounts, users, conversations, tokens, clock, inbox,
//!   traffic; menus, QR codes, follows, KF accounts and stable tokens in `records_oa`) and the
//!   keys that address them.
//! - [`deliveries`]: webhook deliveries: the outbox, the delivery log and MsgId counters.
//! - [`port`]: the [`Store`] trait: load a record with its version, commit new state plus its
//!   effects (inbox messages, traffic records, delivery-log entries) only if the versions it
//!   read are unchanged.
//! - [`memory`]: a backend in memory, for tests and throwaway servers.
//! - [`embedded`]: the default durable backend, a redb file under the data directory.
//! - [`conformance`]: the suite every backend must pass (`store_conformance_suite!`).
//! - [`packed`]: strings packed into one heap block, for records held by the million.
//! - [`timings`]: how long a backend's log syncs and checkpoints take, for `/metrics`.
//!
//! The store never decides anything: the server decides in memory and hands the store finished
//! state. It knows policy's `Conversation` (it persists it) but nothing of HTTP or WeChat's wire
//! format: message bodies are opaque JSON text tagged with their msgtype.

mod codec;
pub mod conformance;
pub mod deliveries;
pub mod embedded;
pub mod memory;
pub mod packed;
pub mod port;
pub mod records;
mod records_oa;
pub mod timings;

/// Hash maps keyed by ids kefu made or an administrator chose, and by encoded store keys:
/// foldhash is seeded per process and several times faster than SipHash, which was a tenth of
/// the time to start with a million conversations and of the writer's time under load.
pub type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

pub use embedded::EmbeddedStore;
pub use memory::MemoryStore;
pub use port::{Changed, Commit, CommitResult, Conflict, Store, StoreError, Versioned, Write};
pub use records::*;
pub use timings::StoreTimings;
