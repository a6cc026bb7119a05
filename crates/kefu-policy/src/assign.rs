//! Which rule set an account is on (RULES.md §4), as pure functions of the platform defaults,
//! the rollouts (in creation order, with their pause and pin history), the account and the
//! instant. Nothing is stored: the same inputs give the same answer for the past, the present
//! and after a virtual-clock jump, and notices are derived from the history when read.

use crate::rollout::{Batch, Rollout};
use crate::shipped;
use crate::trigger::{Channel, Platform};

/// What assignment needs to know about an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountFacts<'a> {
    /// The appid (or corpid for WeCom): pins and buckets are keyed by it.
    pub id: &'a str,
    pub platform: Platform,
    pub registered_at: i64,
}

/// The default rule set of each platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    /// Indexed by `Platform as usize`.
    names: [String; Platform::ALL.len()],
}

impl Defaults {
    /// `oa` → `wechat-oa-2023`, `wecom` → `wecom-scale-no-new-contacts`, `kf` → `wechat-kf`,
    /// `miniprogram` → `wechat-miniprogram`.
    pub fn shipped() -> Defaults {
        Defaults {
            names: Platform::ALL.map(|p| shipped::default_for(p).to_owned()),
        }
    }

    /// `kefu serve --default-ruleset PLATFORM=NAME`. The caller checks that `name` exists and
    /// is a rule set of `platform`.
    pub fn set(&mut self, platform: Platform, name: impl Into<String>) {
        self.names[platform as usize] = name.into();
    }

    pub fn get(&self, platform: Platform) -> &str {
        &self.names[platform as usize]
    }
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults::shipped()
    }
}

/// The rule set `account` is on, on `channel`, at instant `at`.
///
/// Chaining: the account starts on the `from` of the first-created rollout of its platform that
/// covers the channel (or the platform default when none does); rollouts then apply in creation
/// order, each moving the account from its `from` to its `to` when the current set is its `from`.
pub fn ruleset_at<'a>(
    defaults: &'a Defaults,
    rollouts: &'a [Rollout],
    account: &AccountFacts<'_>,
    channel: Channel,
    at: i64,
) -> &'a str {
    resolve(defaults, rollouts.iter(), account, channel, at, None).0
}

/// Follows the chain; also tells whether the step of `watch` (a rollout id) moved the account.
fn resolve<'a>(
    defaults: &'a Defaults,
    rollouts: impl Iterator<Item = &'a Rollout> + Clone,
    account: &AccountFacts<'_>,
    channel: Channel,
    at: i64,
    watch: Option<&str>,
) -> (&'a str, bool) {
    let mut chain = rollouts.filter(|r| r.platform == account.platform && r.covers(channel));
    let mut current = match chain.clone().next() {
        Some(first) => first.from.as_str(),
        None => defaults.get(account.platform),
    };
    let mut watched_moved = false;
    for r in chain.by_ref() {
        if current == r.from && r.moves(account.id, account.registered_at, at) {
            current = &r.to;
            watched_moved |= watch == Some(r.id.as_str());
        }
    }
    (current, watched_moved)
}

/// One change of an account's rule set on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The instant of the change: a batch's effective instant, a resume, a pin or an unpin.
    pub at: i64,
    pub channel: Channel,
    pub from: String,
    pub to: String,
}

impl Notice {
    /// The API's notice kind.
    pub const KIND: &'static str = "ruleset_changed";

    /// The notice's text, e.g. "On api, this account moved from wechat-oa-2021 to wechat-oa-2023."
    pub fn text(&self) -> String {
        format!(
            "On {}, this account moved from {} to {}.",
            self.channel, self.from, self.to
        )
    }
}

/// Every change of `account`'s rule set after its registration and up to `until` (inclusive), on
/// each channel its platform decides on ([`Platform::channels`]), oldest first (then by channel).
/// An account that starts on a rollout's `to` (registered after `new_accounts_from`) gets none
/// for that.
pub fn notices(
    defaults: &Defaults,
    rollouts: &[Rollout],
    account: &AccountFacts<'_>,
    until: i64,
) -> Vec<Notice> {
    // The answer only changes at these instants, so comparing consecutive ones finds every change.
    let mut instants: Vec<i64> = rollouts
        .iter()
        .filter(|r| r.platform == account.platform)
        .flat_map(|r| r.change_instants(account.id))
        .filter(|&t| t > account.registered_at && t <= until)
        .collect();
    instants.sort_unstable();
    instants.dedup();

    let channels = account.platform.channels();
    let mut current: Vec<&str> = channels
        .iter()
        .map(|&c| ruleset_at(defaults, rollouts, account, c, account.registered_at))
        .collect();
    let mut out = Vec::new();
    for t in instants {
        for (&channel, was) in channels.iter().zip(current.iter_mut()) {
            let now = ruleset_at(defaults, rollouts, account, channel, t);
            if now != *was {
                out.push(Notice {
                    at: t,
                    channel,
                    from: (*was).to_owned(),
                    to: now.to_owned(),
                });
                *was = now;
            }
        }
    }
    out
}

/// How far a rollout has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Accounts counted in `total` that this rollout has moved, on every channel it covers.
    pub moved: usize,
    /// Accounts of the rollout's platform registered before `new_accounts_from`.
    pub total: usize,
    /// The first batch not yet effective, if any.
    pub next_batch: Option<Batch>,
}

/// The progress of `rollout` at `now` over `accounts`. `rollouts` is the creation-ordered list
/// (chaining decides whether an account ever reaches `rollout.from`); a rollout not in it is
/// evaluated as if created last.
///
/// An account counts as moved when this rollout's own step moved it on every channel it covers,
/// even if a later rollout has moved it further since.
pub fn progress(
    rollout: &Rollout,
    defaults: &Defaults,
    rollouts: &[Rollout],
    accounts: &[AccountFacts<'_>],
    now: i64,
) -> Progress {
    let listed = rollouts.iter().any(|r| r.id == rollout.id);
    let extra = (!listed).then_some(rollout);
    let chain = rollouts.iter().chain(extra);
    let counted = accounts
        .iter()
        .filter(|a| a.platform == rollout.platform && a.registered_at < rollout.new_accounts_from);
    let mut total = 0;
    let mut moved = 0;
    for a in counted {
        total += 1;
        let all_moved = rollout
            .channels()
            .iter()
            .all(|&c| resolve(defaults, chain.clone(), a, c, now, Some(&rollout.id)).1);
        if all_moved {
            moved += 1;
        }
    }
    Progress {
        moved,
        total,
        next_batch: rollout.next_batch(now),
    }
}

#[cfg(test)]
#[path = "assign_tests.rs"]
mod tests;
