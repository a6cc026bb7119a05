//! Rollouts (RULES.md §4): a move of one platform's accounts from rule set `from` to rule set
//! `to`, in batches by bucket, with the pause and pin history that decides when each account
//! moves. A rollout is data plus an append-only history; which rule set an account is on is
//! computed from it in `assign.rs`, for any instant, past or future.

use serde::{Deserialize, Serialize};

use crate::book::RuleBook;
use crate::bucket::bucket;
use crate::trigger::{Channel, Platform};

/// 100 % in hundredths of a percent.
pub const FULL: u32 = 10_000;

/// One step of a rollout: from `at` on, accounts whose bucket is below `percent × 100` move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Batch {
    pub at: i64,
    /// The percentage in hundredths (50 % = 5000), so that "at most two decimals" is exact.
    pub percent_hundredths: u32,
}

impl Batch {
    /// A batch from a percentage as written in JSON (`50`, `12.5`, `33.33`): in (0, 100], at most
    /// two decimals.
    pub fn from_percent(at: i64, percent: f64) -> Result<Batch, RolloutError> {
        let hundredths = (percent * 100.0).round();
        let exact = (percent * 100.0 - hundredths).abs() < 1e-6;
        if !percent.is_finite() || !exact || hundredths <= 0.0 || hundredths > f64::from(FULL) {
            return Err(RolloutError::InvalidPercent(percent.to_string()));
        }
        Ok(Batch {
            at,
            // In (0, 10000] and whole: the cast is exact.
            percent_hundredths: hundredths as u32,
        })
    }

    /// The percentage as a number (for JSON).
    pub fn percent(&self) -> f64 {
        f64::from(self.percent_hundredths) / 100.0
    }
}

/// Which side a pin holds an account on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinSide {
    From,
    To,
}

impl PinSide {
    pub fn as_str(self) -> &'static str {
        match self {
            PinSide::From => "from",
            PinSide::To => "to",
        }
    }
}

/// A pause: batches whose `at` falls in `[at, resumed)` take effect at `resumed`; while it is
/// open (`resumed = None`) they have not taken effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub at: i64,
    pub resumed: Option<i64>,
}

/// A pin of one account, in force over `[at, until)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    pub account: String,
    pub side: PinSide,
    pub at: i64,
    pub until: Option<i64>,
}

impl Pin {
    fn in_force(&self, t: i64) -> bool {
        self.at <= t && self.until.is_none_or(|u| t < u)
    }
}

/// A rollout that cannot be created, or a history step that cannot be taken, with the reason
/// the API reports (422 `invalid_rollout` for creation, 409 for history conflicts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RolloutError {
    #[error("the rollout id is empty")]
    EmptyId,
    #[error("rule set `{0}` does not exist")]
    UnknownRuleset(String),
    #[error("`from` and `to` are the same rule set `{0}`")]
    SameRuleset(String),
    #[error("`from` is a {from} rule set but `to` is for {to}")]
    PlatformMismatch { from: Platform, to: Platform },
    #[error("a rollout needs at least one batch")]
    NoBatches,
    #[error("batch percent {0} is not in (0, 100] with at most two decimals")]
    InvalidPercent(String),
    #[error("batches must not go back in time or in percent")]
    UnorderedBatches,
    #[error("the last batch must be 100 %")]
    LastBatchNot100,
    #[error("`channels` is empty")]
    NoChannels,
    #[error("the rollout is already paused")]
    AlreadyPaused,
    #[error("the rollout is not paused")]
    NotPaused,
    #[error("every batch has already taken effect")]
    Complete,
    #[error("instant {0} is before the rollout's latest pause or resume")]
    OutOfOrder(i64),
}

impl RolloutError {
    pub fn reason(&self) -> &'static str {
        match self {
            RolloutError::EmptyId => "empty_id",
            RolloutError::UnknownRuleset(_) => "unknown_ruleset",
            RolloutError::SameRuleset(_) => "same_ruleset",
            RolloutError::PlatformMismatch { .. } => "platform_mismatch",
            RolloutError::NoBatches => "no_batches",
            RolloutError::InvalidPercent(_) => "invalid_percent",
            RolloutError::UnorderedBatches => "unordered_batches",
            RolloutError::LastBatchNot100 => "last_batch_not_100",
            RolloutError::NoChannels => "no_channels",
            RolloutError::AlreadyPaused => "already_paused",
            RolloutError::NotPaused => "not_paused",
            RolloutError::Complete => "complete",
            RolloutError::OutOfOrder(_) => "out_of_order",
        }
    }
}

/// What `POST /api/v1/rollouts` asks for, before validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutSpec {
    pub id: String,
    /// May be left out: `from` names it.
    pub platform: Option<Platform>,
    pub from: String,
    pub to: String,
    pub new_accounts_from: i64,
    pub batches: Vec<Batch>,
    /// `None` covers every channel.
    pub channels: Option<Vec<Channel>>,
}

/// A validated rollout and its history. Serialized whole (with history) for the store;
/// deserializing trusts the data as [`Rollout::new`] once accepted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    pub id: String,
    pub platform: Platform,
    pub from: String,
    pub to: String,
    pub new_accounts_from: i64,
    pub batches: Vec<Batch>,
    pub channels: Option<Vec<Channel>>,
    pauses: Vec<Pause>,
    pins: Vec<Pin>,
}

impl Rollout {
    /// Validates `spec` against the rule sets of `book`.
    pub fn new(spec: RolloutSpec, book: &RuleBook) -> Result<Rollout, RolloutError> {
        if spec.id.trim().is_empty() {
            return Err(RolloutError::EmptyId);
        }
        let ruleset = |name: &str| {
            book.id(name)
                .map(|id| book.get(id))
                .ok_or_else(|| RolloutError::UnknownRuleset(name.to_owned()))
        };
        let (from, to) = (ruleset(&spec.from)?, ruleset(&spec.to)?);
        if from.name == to.name {
            return Err(RolloutError::SameRuleset(spec.from));
        }
        let platform = spec.platform.unwrap_or(from.platform);
        for rs in [from, to] {
            if rs.platform != platform {
                return Err(RolloutError::PlatformMismatch {
                    from: platform,
                    to: rs.platform,
                });
            }
        }
        check_batches(&spec.batches)?;
        let channels = match spec.channels {
            Some(cs) if cs.is_empty() => return Err(RolloutError::NoChannels),
            Some(mut cs) => {
                cs.sort();
                cs.dedup();
                Some(cs)
            }
            None => None,
        };
        Ok(Rollout {
            id: spec.id,
            platform,
            from: spec.from,
            to: spec.to,
            new_accounts_from: spec.new_accounts_from,
            batches: spec.batches,
            channels,
            pauses: Vec::new(),
            pins: Vec::new(),
        })
    }

    pub fn covers(&self, channel: Channel) -> bool {
        self.channels
            .as_ref()
            .is_none_or(|cs| cs.contains(&channel))
    }

    /// The channels this rollout covers.
    pub fn channels(&self) -> &[Channel] {
        self.channels.as_deref().unwrap_or(&Channel::ALL)
    }

    pub fn pauses(&self) -> &[Pause] {
        &self.pauses
    }

    pub fn pins(&self) -> &[Pin] {
        &self.pins
    }

    /// Whether a pause is open (the rollout is paused from its instant on).
    pub fn is_paused(&self) -> bool {
        self.pauses.last().is_some_and(|p| p.resumed.is_none())
    }

    /// When a batch written for `at` takes effect: `at`, or the resume instant of the pause `at`
    /// falls in; `None` while that pause is open.
    pub fn effective(&self, at: i64) -> Option<i64> {
        match self
            .pauses
            .iter()
            .find(|p| p.at <= at && p.resumed.is_none_or(|r| at < r))
        {
            Some(p) => p.resumed,
            None => Some(at),
        }
    }

    /// The first batch not yet effective at `now`.
    pub fn next_batch(&self, now: i64) -> Option<Batch> {
        self.batches
            .iter()
            .find(|b| self.effective(b.at).is_none_or(|e| e > now))
            .copied()
    }

    /// Active: not paused and a batch not yet effective at `now`.
    pub fn is_active(&self, now: i64) -> bool {
        !self.is_paused() && self.next_batch(now).is_some()
    }

    /// Pauses at `at`: batches from `at` on wait for the resume.
    pub fn pause(&mut self, at: i64) -> Result<(), RolloutError> {
        if self.is_paused() {
            return Err(RolloutError::AlreadyPaused);
        }
        self.check_order(at)?;
        if self.next_batch(at).is_none() {
            return Err(RolloutError::Complete);
        }
        self.pauses.push(Pause { at, resumed: None });
        Ok(())
    }

    /// Resumes at `at`: batches held by the pause take effect at `at`.
    pub fn resume(&mut self, at: i64) -> Result<(), RolloutError> {
        if !self.is_paused() {
            return Err(RolloutError::NotPaused);
        }
        self.check_order(at)?;
        if let Some(p) = self.pauses.last_mut() {
            p.resumed = Some(at);
        }
        Ok(())
    }

    fn check_order(&self, at: i64) -> Result<(), RolloutError> {
        let latest = self.pauses.last().map(|p| p.resumed.unwrap_or(p.at));
        match latest {
            Some(l) if at < l => Err(RolloutError::OutOfOrder(at)),
            _ => Ok(()),
        }
    }

    /// Pins `account` to `side` from `at` on, ending its current pin (if any) at `at`.
    pub fn pin(&mut self, account: &str, side: PinSide, at: i64) {
        self.unpin(account, at);
        self.pins.push(Pin {
            account: account.to_owned(),
            side,
            at,
            until: None,
        });
    }

    /// Ends the current pin of `account` at `at`; false when it had none.
    pub fn unpin(&mut self, account: &str, at: i64) -> bool {
        match self
            .pins
            .iter_mut()
            .rev()
            .find(|p| p.account == account && p.until.is_none())
        {
            Some(p) => {
                p.until = Some(at.max(p.at));
                true
            }
            None => false,
        }
    }

    /// The side `account` is pinned to at `t`, if a pin is in force.
    pub fn pinned(&self, account: &str, t: i64) -> Option<PinSide> {
        self.pins
            .iter()
            .rev()
            .find(|p| p.account == account && p.in_force(t))
            .map(|p| p.side)
    }

    /// Whether this rollout has `account` on `to` at `t`, given that it is on `from` before the
    /// rollout applies (the first rule that applies, RULES.md §4):
    /// 1. a pin in force at `t` decides;
    /// 2. an account registered at or after `new_accounts_from` is on `to` from registration;
    /// 3. otherwise it is on `to` from the effective instant of the first batch whose
    ///    `percent × 100` exceeds its bucket.
    pub fn moves(&self, account: &str, registered_at: i64, t: i64) -> bool {
        if let Some(side) = self.pinned(account, t) {
            return side == PinSide::To;
        }
        if registered_at >= self.new_accounts_from {
            return true;
        }
        self.batch_move_instant(account).is_some_and(|e| t >= e)
    }

    /// Rule 3 alone: when the batches move `account` (`None` while its batch is held by an open
    /// pause).
    pub fn batch_move_instant(&self, account: &str) -> Option<i64> {
        let b = u32::from(bucket(&self.id, account));
        let batch = self.batches.iter().find(|x| x.percent_hundredths > b)?;
        self.effective(batch.at)
    }

    /// Every instant at which this rollout may change what it decides for `account`.
    pub(crate) fn change_instants<'a>(
        &'a self,
        account: &'a str,
    ) -> impl Iterator<Item = i64> + 'a {
        let batches = self.batches.iter().filter_map(|b| self.effective(b.at));
        let pins = self
            .pins
            .iter()
            .filter(move |p| p.account == account)
            .flat_map(|p| std::iter::once(p.at).chain(p.until));
        batches.chain(pins)
    }
}

fn check_batches(batches: &[Batch]) -> Result<(), RolloutError> {
    let last = batches.last().ok_or(RolloutError::NoBatches)?;
    if let Some(b) = batches
        .iter()
        .find(|b| b.percent_hundredths == 0 || b.percent_hundredths > FULL)
    {
        return Err(RolloutError::InvalidPercent(b.percent().to_string()));
    }
    let ordered = batches
        .windows(2)
        .all(|w| w[0].at <= w[1].at && w[0].percent_hundredths <= w[1].percent_hundredths);
    if !ordered {
        return Err(RolloutError::UnorderedBatches);
    }
    if last.percent_hundredths != FULL {
        return Err(RolloutError::LastBatchNot100);
    }
    Ok(())
}

#[cfg(test)]
#[path = "rollout_tests.rs"]
mod tests;
