//! Rule sets: named tables of (quota, window) per trigger, plus (WeCom) a capability table. A rule
//! set is data; nothing in the decision logic names one. Its file format is in `rulefile.rs`.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::capability::{Access, Capability};
use crate::rulefile::RawQuota;
use crate::trigger::{Combine, Platform, Trigger, TriggerSet};

/// How many customer-service messages a grant allows.
///
/// Ordered with every count below `Unlimited`, which is what "unlimited is larger than any
/// count" (RULES.md §3) needs from `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Quota {
    Count(u32),
    Unlimited,
}

impl Quota {
    /// The count, or `None` for unlimited (the API's `null`).
    pub fn count(self) -> Option<u32> {
        match self {
            Quota::Count(n) => Some(n),
            Quota::Unlimited => None,
        }
    }

    pub fn is_exhausted(self) -> bool {
        self == Quota::Count(0)
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Quota::Count(n) => write!(f, "{n}"),
            Quota::Unlimited => f.write_str("unlimited"),
        }
    }
}

/// In files and JSON a quota is a number or the word `"unlimited"`. Binary formats (the store's)
/// cannot ask "number or string?", so there it is an `Option<u32>` with `None` = unlimited.
impl Serialize for Quota {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            match self {
                Quota::Count(n) => serializer.serialize_u32(*n),
                Quota::Unlimited => serializer.serialize_str("unlimited"),
            }
        } else {
            self.count().serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for Quota {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            match RawQuota::deserialize(deserializer)? {
                RawQuota::Int(n) => u32::try_from(n)
                    .map(Quota::Count)
                    .map_err(|_| de::Error::custom(format!("quota {n} is out of range"))),
                RawQuota::Word(w) if w == "unlimited" => Ok(Quota::Unlimited),
                RawQuota::Word(w) => Err(de::Error::custom(format!(
                    "quota `{w}` is neither a number nor \"unlimited\""
                ))),
            }
        } else {
            Ok(Option::<u32>::deserialize(deserializer)?.map_or(Quota::Unlimited, Quota::Count))
        }
    }
}

/// The largest count a quota may have; larger is refused (as out of range). Keeping `u32::MAX`
/// out lets grants store "unlimited" in the same four bytes.
pub const MAX_COUNT: u32 = u32::MAX - 1;

/// The terms one trigger grants: `quota` messages within `window_secs` after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct TriggerRule {
    pub quota: Quota,
    pub window_secs: u32,
}

/// A rule file that cannot be accepted, with the reason the API reports (HTTP 422
/// `invalid_ruleset`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleSetError {
    #[error("the rule set cannot be read: {0}")]
    Syntax(String),
    #[error(
        "`{0}` is not a trigger (one of message, menu_click, follow, qr_scan, payment, session_enter)"
    )]
    UnknownTrigger(String),
    #[error("trigger `{0}` has a zero window")]
    ZeroWindow(Trigger),
    #[error("trigger `{0}` has a zero quota")]
    ZeroQuota(Trigger),
    #[error("`{0}` is not a platform (one of oa, wecom, kf, miniprogram)")]
    UnknownPlatform(String),
    #[error("`{capability}` is not a capability of platform {platform}")]
    UnknownCapability {
        capability: String,
        platform: Platform,
    },
}

impl RuleSetError {
    /// The machine-readable reason: `syntax`, `unknown_trigger`, `zero_window`, `zero_quota`,
    /// `unknown_platform` or `unknown_capability`.
    pub fn reason(&self) -> &'static str {
        match self {
            RuleSetError::Syntax(_) => "syntax",
            RuleSetError::UnknownTrigger(_) => "unknown_trigger",
            RuleSetError::ZeroWindow(_) => "zero_window",
            RuleSetError::ZeroQuota(_) => "zero_quota",
            RuleSetError::UnknownPlatform(_) => "unknown_platform",
            RuleSetError::UnknownCapability { .. } => "unknown_capability",
        }
    }
}

/// A named table of trigger rules for one platform, plus (WeCom only) its capability table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    pub name: String,
    pub platform: Platform,
    pub combine: Combine,
    /// Indexed by `Trigger as usize`: the grant path looks a rule up on every trigger.
    triggers: [Option<TriggerRule>; Trigger::ALL.len()],
    pub(crate) capabilities: BTreeMap<Capability, Access>,
}

impl RuleSet {
    /// A rule set that grants nothing yet; add rules with [`RuleSet::set_rule`].
    pub fn new(name: impl Into<String>, platform: Platform, combine: Combine) -> RuleSet {
        RuleSet::empty(name.into(), platform, combine)
    }

    pub(crate) const fn empty(name: String, platform: Platform, combine: Combine) -> RuleSet {
        RuleSet {
            name,
            platform,
            combine,
            triggers: [None; Trigger::ALL.len()],
            capabilities: BTreeMap::new(),
        }
    }

    /// The terms `t` grants, or `None` when this rule set gives `t` nothing.
    pub fn rule(&self, t: Trigger) -> Option<TriggerRule> {
        self.triggers[t as usize]
    }

    /// Sets or removes the rule of `t`, refusing what a file would be refused for.
    pub fn set_rule(&mut self, t: Trigger, rule: Option<TriggerRule>) -> Result<(), RuleSetError> {
        if let Some(r) = rule {
            if r.quota.is_exhausted() {
                return Err(RuleSetError::ZeroQuota(t));
            }
            if r.quota.count().is_some_and(|n| n > MAX_COUNT) {
                return Err(RuleSetError::Syntax(format!(
                    "quota {} of `{t}` is out of range",
                    r.quota
                )));
            }
            if r.window_secs == 0 {
                return Err(RuleSetError::ZeroWindow(t));
            }
        }
        self.triggers[t as usize] = rule;
        Ok(())
    }

    /// The triggers this rule set grants something for, with their terms, in `Trigger::ALL` order.
    pub fn rules(&self) -> impl Iterator<Item = (Trigger, TriggerRule)> + '_ {
        Trigger::ALL
            .into_iter()
            .filter_map(|t| self.rule(t).map(|r| (t, r)))
    }

    /// The trigger kinds this rule set grants something for.
    pub fn granting(&self) -> TriggerSet {
        self.rules().map(|(t, _)| t).collect()
    }

    /// What an unentitled enterprise may do with `c`: the table's entry, `Allowed` when the
    /// table does not list it (a rule set lists what it restricts).
    pub fn capability(&self, c: Capability) -> Access {
        self.capabilities
            .get(&c)
            .copied()
            .unwrap_or(Access::Allowed)
    }

    /// The capability table as written in the file.
    pub fn capabilities(&self) -> impl Iterator<Item = (Capability, Access)> + '_ {
        self.capabilities.iter().map(|(c, a)| (*c, *a))
    }

    /// Only WeCom rule sets have capabilities.
    pub fn set_capability(&mut self, c: Capability, access: Access) -> Result<(), RuleSetError> {
        if self.platform != Platform::Wecom {
            return Err(RuleSetError::UnknownCapability {
                capability: c.as_str().to_owned(),
                platform: self.platform,
            });
        }
        self.capabilities.insert(c, access);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_rule_refuses_what_a_file_would() {
        let mut rs = RuleSet::new("x", Platform::Oa, Combine::Merge);
        let zero = TriggerRule {
            quota: Quota::Count(0),
            window_secs: 1,
        };
        assert_eq!(
            rs.set_rule(Trigger::Follow, Some(zero))
                .unwrap_err()
                .reason(),
            "zero_quota"
        );
        assert_eq!(
            rs.set_capability(Capability::Moments, Access::Allowed)
                .unwrap_err()
                .reason(),
            "unknown_capability"
        );
    }

    #[test]
    fn unlisted_capabilities_are_allowed() {
        let rs = RuleSet::from_toml(
            "name = \"w\"\nplatform = \"wecom\"\n[capabilities]\nadd_contact = \"refused\"\n",
        )
        .unwrap();
        assert_eq!(rs.capability(Capability::AddContact), Access::Refused);
        assert_eq!(rs.capability(Capability::Moments), Access::Allowed);
    }

    #[test]
    fn quota_orders_unlimited_last_and_serializes_both_ways() {
        assert!(Quota::Count(u32::MAX) < Quota::Unlimited);
        assert_eq!(
            serde_json::to_string(&Quota::Unlimited).unwrap(),
            "\"unlimited\""
        );
        assert_eq!(serde_json::from_str::<Quota>("7").unwrap(), Quota::Count(7));
        assert!(serde_json::from_str::<Quota>("\"many\"").is_err());
    }
}
