//! The rule-set file format of RULES.md ("Rule-set files"): TOML, or the same shape as JSON.
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
use crate::ruleset::{MAX_COUNT, Quota, RuleSet, RuleSetError, TriggerRule};
use crate::trigger::{Combine, Platform, Trigger};

impl RuleSet {
    /// Reads a rule-set file; a file that cannot be accepted names its reason.
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
pub(crate) enum RawQuota {
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
}
