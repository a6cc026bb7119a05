//! Rule sets: named tables of (quota, window) per trigger, loaded from the file format of
//! RULES.md ("Rule-set files"). A rule set is data; nothing in the decision logic names one.
//!
//! Parsing goes through a loose raw shape first so that every mistake in a file maps to one named
//! reason (`unknown_trigger`, `zero_window`, ...) instead of a generic serde message; only input
//! that does not even have the shape (or misses a field) is `syntax`.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use serde::de::{self, Deserializer, Visitor};
use serde::ser::{SerializeMap, SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use crate::capability::{Access, Capability};
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
    capabilities: BTreeMap<Capability, Access>,
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

    pub fn from_toml(text: &str) -> Result<RuleSet, RuleSetError> {
        let raw: RawRuleSet =
            toml::from_str(text).map_err(|e| RuleSetError::Syntax(e.message().to_owned()))?;
        raw.validate()
    }

    /// The same shape as the TOML file, as JSON (the API's `PUT /api/v1/rulesets/{name}`).
    pub fn from_json(text: &str) -> Result<RuleSet, RuleSetError> {
        let raw: RawRuleSet =
            serde_json::from_str(text).map_err(|e| RuleSetError::Syntax(e.to_string()))?;
        raw.validate()
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

    /// The rule-set file, in the layout of the shipped ones; `from_toml` reads it back equal.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; the results are ignored for that reason only.
        let _ = writeln!(out, "name = {}", toml_string(&self.name));
        let _ = writeln!(out, "platform = \"{}\"", self.platform);
        let _ = writeln!(out, "combine = \"{}\"", self.combine);
        out.push_str("\n[triggers]\n");
        for (t, r) in self.rules() {
            let quota = match r.quota {
                Quota::Count(n) => n.to_string(),
                Quota::Unlimited => "\"unlimited\"".to_owned(),
            };
            let _ = writeln!(
                out,
                "{t} = {{ quota = {quota}, window_secs = {} }}",
                r.window_secs
            );
        }
        if self.platform == Platform::Wecom || !self.capabilities.is_empty() {
            out.push_str("\n[capabilities]\n");
            for (c, a) in self.capabilities() {
                let _ = writeln!(out, "{c} = \"{a}\"");
            }
        }
        out
    }
}

/// The same shape as the file: `{"name", "platform", "combine", "triggers": {...}}`, plus
/// `"capabilities"` for WeCom rule sets.
impl Serialize for RuleSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Triggers<'a>(&'a RuleSet);
        impl Serialize for Triggers<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(None)?;
                for (t, r) in self.0.rules() {
                    map.serialize_entry(&t, &r)?;
                }
                map.end()
            }
        }
        let with_capabilities = self.platform == Platform::Wecom || !self.capabilities.is_empty();
        let mut s =
            serializer.serialize_struct("RuleSet", if with_capabilities { 5 } else { 4 })?;
        s.serialize_field("name", &self.name)?;
        s.serialize_field("platform", &self.platform)?;
        s.serialize_field("combine", &self.combine)?;
        s.serialize_field("triggers", &Triggers(self))?;
        if with_capabilities {
            s.serialize_field("capabilities", &self.capabilities)?;
        } else {
            s.skip_field("capabilities")?;
        }
        s.end()
    }
}

/// A TOML basic string: quotes, backslashes and control characters escaped.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The file as written, before any name or number is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuleSet {
    name: String,
    platform: String,
    #[serde(default)]
    combine: Option<String>,
    #[serde(default)]
    triggers: BTreeMap<String, RawRule>,
    #[serde(default)]
    capabilities: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    quota: RawQuota,
    window_secs: i64,
}

/// A quota as written: any integer (range-checked later, so that 0 is `zero_quota`) or a word.
enum RawQuota {
    Int(i128),
    Word(String),
}

impl<'de> Deserialize<'de> for RawQuota {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawQuota;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number or \"unlimited\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawQuota, E> {
                Ok(RawQuota::Int(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawQuota, E> {
                Ok(RawQuota::Int(v.into()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawQuota, E> {
                Ok(RawQuota::Word(v.to_owned()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl RawRuleSet {
    /// Checks in a fixed order (platform, triggers by name, capabilities by name) so that a file
    /// with several mistakes always reports the same one.
    fn validate(self) -> Result<RuleSet, RuleSetError> {
        if self.name.trim().is_empty() {
            return Err(RuleSetError::Syntax("`name` is empty".to_owned()));
        }
        let platform: Platform = self
            .platform
            .parse()
            .map_err(|_| RuleSetError::UnknownPlatform(self.platform.clone()))?;
        let combine = match self.combine.as_deref() {
            None => Combine::Merge,
            Some(c) => c.parse().map_err(|_| {
                RuleSetError::Syntax(format!("combine `{c}` is neither merge nor per_trigger"))
            })?,
        };
        let mut rs = RuleSet::new(self.name, platform, combine);
        for (name, raw) in self.triggers {
            let t: Trigger = name
                .parse()
                .map_err(|_| RuleSetError::UnknownTrigger(name.clone()))?;
            let quota = match raw.quota {
                RawQuota::Int(0) => return Err(RuleSetError::ZeroQuota(t)),
                RawQuota::Int(n) => Quota::Count(
                    u32::try_from(n)
                        .ok()
                        .filter(|&n| n <= MAX_COUNT)
                        .ok_or_else(|| {
                            RuleSetError::Syntax(format!("quota {n} of `{t}` is out of range"))
                        })?,
                ),
                RawQuota::Word(w) if w == "unlimited" => Quota::Unlimited,
                RawQuota::Word(w) => {
                    return Err(RuleSetError::Syntax(format!(
                        "quota `{w}` of `{t}` is neither a number nor \"unlimited\""
                    )));
                }
            };
            let window_secs = match raw.window_secs {
                0 => return Err(RuleSetError::ZeroWindow(t)),
                w => u32::try_from(w).map_err(|_| {
                    RuleSetError::Syntax(format!("window_secs {w} of `{t}` is out of range"))
                })?,
            };
            rs.set_rule(t, Some(TriggerRule { quota, window_secs }))?;
        }
        for (name, access) in self.capabilities.unwrap_or_default() {
            let unknown = || RuleSetError::UnknownCapability {
                capability: name.clone(),
                platform,
            };
            let c: Capability = name.parse().map_err(|_| unknown())?;
            let access: Access = access.parse().map_err(|_| {
                RuleSetError::Syntax(format!(
                    "capability `{c}` is `{access}`, neither allowed nor refused"
                ))
            })?;
            rs.set_capability(c, access).map_err(|_| unknown())?;
        }
        Ok(rs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OA_2023: &str = r#"
name = "wechat-oa-2023"
platform = "oa"                  # oa | wecom | kf | miniprogram
combine = "merge"                # or "per_trigger"
[triggers]
message    = { quota = 5, window_secs = 172800 }
menu_click = { quota = 3, window_secs = 60 }
follow     = { quota = 3, window_secs = 60 }
qr_scan    = { quota = 3, window_secs = 60 }
payment    = { quota = "unlimited", window_secs = 172800 }
"#;

    fn reason(text: &str) -> &'static str {
        RuleSet::from_toml(text).unwrap_err().reason()
    }

    #[test]
    fn reads_the_example_of_rules_md() {
        let rs = RuleSet::from_toml(OA_2023).unwrap();
        assert_eq!(rs.name, "wechat-oa-2023");
        assert_eq!(rs.platform, Platform::Oa);
        assert_eq!(rs.combine, Combine::Merge);
        assert_eq!(
            rs.rule(Trigger::Message),
            Some(TriggerRule {
                quota: Quota::Count(5),
                window_secs: 172_800
            })
        );
        assert_eq!(rs.rule(Trigger::Payment).unwrap().quota, Quota::Unlimited);
        assert_eq!(rs.rule(Trigger::SessionEnter), None);
    }

    #[test]
    fn combine_defaults_to_merge() {
        let rs = RuleSet::from_toml(
            "name = \"x\"\nplatform = \"kf\"\n[triggers]\nmessage = { quota = 1, window_secs = 1 }",
        )
        .unwrap();
        assert_eq!(rs.combine, Combine::Merge);
    }

    #[test]
    fn every_mistake_is_named() {
        let base = "name = \"x\"\nplatform = \"oa\"\n[triggers]\n";
        assert_eq!(
            reason(&format!("{base}click = {{ quota = 1, window_secs = 60 }}")),
            "unknown_trigger"
        );
        assert_eq!(
            reason(&format!("{base}message = {{ quota = 1, window_secs = 0 }}")),
            "zero_window"
        );
        assert_eq!(
            reason(&format!(
                "{base}message = {{ quota = 0, window_secs = 60 }}"
            )),
            "zero_quota"
        );
        assert_eq!(
            reason("name = \"x\"\nplatform = \"weixin\"\n"),
            "unknown_platform"
        );
        assert_eq!(
            reason("name = \"x\"\nplatform = \"wecom\"\n[capabilities]\nfly = \"allowed\"\n"),
            "unknown_capability"
        );
        // A capability table on a platform that has none.
        assert_eq!(
            reason("name = \"x\"\nplatform = \"oa\"\n[capabilities]\nmoments = \"allowed\"\n"),
            "unknown_capability"
        );
    }

    #[test]
    fn malformed_input_is_syntax() {
        for text in [
            "name = ",
            "platform = \"oa\"",                                  // no name
            "name = \"x\"",                                       // no platform
            "name = \"\"\nplatform = \"oa\"",                     // empty name
            "name = \"x\"\nplatform = \"oa\"\ncombine = \"sum\"", // unknown reading
            "name = \"x\"\nplatform = \"oa\"\ncolour = \"red\"",  // unknown field
            "name = \"x\"\nplatform = \"oa\"\n[triggers]\nmessage = { quota = 5 }",
            "name = \"x\"\nplatform = \"oa\"\n[triggers]\nmessage = { quota = -1, window_secs = 5 }",
            "name = \"x\"\nplatform = \"oa\"\n[triggers]\nmessage = { quota = 5, window_secs = -5 }",
            "name = \"x\"\nplatform = \"oa\"\n[triggers]\nmessage = { quota = \"lots\", window_secs = 5 }",
            "name = \"x\"\nplatform = \"oa\"\n[triggers]\nmessage = { quota = 4294967296, window_secs = 5 }",
            "name = \"x\"\nplatform = \"oa\"\n[triggers]\nmessage = { quota = 4294967295, window_secs = 5 }",
            "name = \"x\"\nplatform = \"oa\"\n[triggers]\nmessage = { quota = 1.5, window_secs = 5 }",
            "name = \"x\"\nplatform = \"wecom\"\n[capabilities]\nmoments = \"sometimes\"",
        ] {
            assert_eq!(reason(text), "syntax", "{text}");
        }
        assert_eq!(RuleSet::from_json("{").unwrap_err().reason(), "syntax");
        assert_eq!(RuleSet::from_json("[]").unwrap_err().reason(), "syntax");
    }

    #[test]
    fn json_has_the_file_shape() {
        let rs = RuleSet::from_toml(OA_2023).unwrap();
        let json = serde_json::to_value(&rs).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "name": "wechat-oa-2023", "platform": "oa", "combine": "merge",
                "triggers": {
                    "message": {"quota": 5, "window_secs": 172800},
                    "menu_click": {"quota": 3, "window_secs": 60},
                    "follow": {"quota": 3, "window_secs": 60},
                    "qr_scan": {"quota": 3, "window_secs": 60},
                    "payment": {"quota": "unlimited", "window_secs": 172800},
                }
            })
        );
        let back = RuleSet::from_json(&json.to_string()).unwrap();
        assert_eq!(back, rs);
        assert_eq!(
            RuleSet::from_json(
                r#"{"name":"x","platform":"oa","triggers":{"tap":{"quota":1,"window_secs":1}}}"#
            )
            .unwrap_err()
            .reason(),
            "unknown_trigger"
        );
    }

    #[test]
    fn toml_round_trips() {
        let mut rs = RuleSet::new("odd \"name\"\\\u{1}", Platform::Wecom, Combine::PerTrigger);
        rs.set_rule(
            Trigger::Message,
            Some(TriggerRule {
                quota: Quota::Unlimited,
                window_secs: 172_800,
            }),
        )
        .unwrap();
        rs.set_capability(Capability::Moments, Access::Refused)
            .unwrap();
        let text = rs.to_toml();
        assert_eq!(RuleSet::from_toml(&text).unwrap(), rs, "{text}");
        let oa = RuleSet::from_toml(OA_2023).unwrap();
        assert_eq!(RuleSet::from_toml(&oa.to_toml()).unwrap(), oa);
    }

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
