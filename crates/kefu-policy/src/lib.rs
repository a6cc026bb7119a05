//! kefu's rules engine: for any conversation at any instant, whether a customer-service message
//! may be sent, and why. Rule sets are data (shared/RULES.md §2), the semantics are RULES.md §3,
//! and which rule set an account is on comes from rollouts (§4).
//!
//! # Layout
//!
//! - [`trigger`]: the vocabularies: `Trigger`, `Platform`, `Channel`, `Combine`, `TriggerSet`.
//! - [`ruleset`]: `RuleSet`, `Quota`, `TriggerRule`, `RuleSetError`; `rulefile` (private): the
//!   file format (TOML, the same shape as JSON), with every validation error named.
//! - [`capability`]: the WeCom capability table a rule set may carry (§5).
//! - [`shipped`]: the shipped rule sets (`src/shipped/*.toml`) and platform defaults.
//! - [`book`]: `RuleBook`, all rule sets of a process behind small stable `RuleSetId`s.
//! - `grants` (private): grant storage and the merge / per-trigger readings.
//! - [`conversation`]: `Conversation`, the ≤ 64-byte state of one (account, openid), and every
//!   decision on it: trigger, send, typing, follow, unfollow, view.
//! - [`decision`]: `Decision` and its `Explanation` (no heap: the send path allocates nothing).
//! - [`explain`]: the explanation's sentence and JSON views; [`instant`]: RFC 3339 rendering.
//! - [`rollout`]: `Rollout`, its batches, pause and pin history; [`mod@bucket`]: the stable bucket.
//! - [`assign`]: which rule set an account is on (`ruleset_at`), `notices`, `progress`.
//! - [`replay`]: recorded traffic decided again from empty state (`kefu replay`).
//!
//! # Invariants
//!
//! - No clock, no I/O, no randomness: every instant is an `i64` of unix seconds on the rule
//!   clock, passed in as `now`/`at` (`scripts/purity-gate`, `clippy.toml`).
//! - Deciding never fails and never panics: a refusal is a [`Decision`] carrying its
//!   [`Explanation`]. `Result` appears only where user-supplied data is validated (rule-set
//!   files, rollouts).

pub mod assign;
pub mod book;
pub mod bucket;
pub mod capability;
pub mod conversation;
pub mod decision;
pub mod explain;
mod grants;
pub mod instant;
pub mod replay;
pub mod rollout;
mod rulefile;
pub mod ruleset;
pub mod shipped;
pub mod trigger;

pub use assign::{AccountFacts, Defaults, Notice, Progress, notices, progress, ruleset_at};
pub use book::{RuleBook, RuleBookError, RuleSetId};
pub use bucket::bucket;
pub use capability::{Access, Capability};
pub use conversation::{Conversation, ConversationView, GrantView};
pub use decision::{Action, Decision, Explanation, GrantFacts, Reason, Verdict};
pub use explain::{ConversationJson, ExplanationJson};
pub use instant::rfc3339;
pub use replay::{Event, Op, Replay, Timeline};
pub use rollout::{Batch, Pause, Pin, PinSide, Rollout, RolloutError, RolloutSpec};
pub use ruleset::{Quota, RuleSet, RuleSetError, TriggerRule};
pub use trigger::{Channel, Combine, Platform, Trigger, TriggerSet, UnknownName};
