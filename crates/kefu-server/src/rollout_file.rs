//! The rollout file: the `POST /api/v1/rollouts` body plus an optional `note` (API.md), shipped
//! for the rollouts kefu knows of and read by `kefu serve --rollout` and `kefu replay --rollout`.

use kefu_policy::{Batch, Channel, Platform, RolloutError, RolloutSpec};
use serde::Deserialize;

use crate::timefmt::parse_rfc3339;

/// Rollouts kefu ships, by id: definitions only, until created.
const SHIPPED: &[(&str, &str)] = &[(
    "wechat-2023-quota-change",
    include_str!("shipped/wechat-2023-quota-change.json"),
)];

/// The text of a shipped rollout file.
pub fn shipped(id: &str) -> Option<&'static str> {
    SHIPPED
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, text)| *text)
}

/// A rollout file read but not yet checked against the rule book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutFile {
    pub spec: RolloutSpec,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the rollout is not valid JSON of the right shape: {0}")]
    Syntax(String),
    #[error("{field} must be an RFC 3339 instant, not {value:?}")]
    Instant { field: &'static str, value: String },
    #[error("unknown platform {0:?}: oa, wecom, kf or miniprogram")]
    Platform(String),
    #[error("unknown channel {0:?}: api, mobile or pc")]
    Channel(String),
    #[error(transparent)]
    Rollout(#[from] RolloutError),
}

impl FileError {
    /// The `reason` of a 422 `invalid_rollout`.
    pub fn reason(&self) -> &'static str {
        match self {
            FileError::Syntax(_) => "syntax",
            FileError::Instant { .. } => "invalid_instant",
            FileError::Platform(_) => "unknown_platform",
            FileError::Channel(_) => "unknown_channel",
            FileError::Rollout(e) => e.reason(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    id: String,
    platform: Option<String>,
    from: String,
    to: String,
    new_accounts_from: String,
    batches: Vec<RawBatch>,
    channels: Option<Vec<String>>,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBatch {
    at: String,
    percent: f64,
}

pub fn parse_value(value: serde_json::Value) -> Result<RolloutFile, FileError> {
    let raw: Raw = serde_json::from_value(value).map_err(|e| FileError::Syntax(e.to_string()))?;
    let instant = |field, text: &str| {
        parse_rfc3339(text).ok_or_else(|| FileError::Instant {
            field,
            value: text.to_owned(),
        })
    };
    let batches = raw
        .batches
        .iter()
        .map(|b| {
            Ok(Batch::from_percent(
                instant("batches[].at", &b.at)?,
                b.percent,
            )?)
        })
        .collect::<Result<Vec<_>, FileError>>()?;
    let platform = raw
        .platform
        .map(|p| p.parse::<Platform>().map_err(|_| FileError::Platform(p)))
        .transpose()?;
    let channels = raw
        .channels
        .map(|cs| {
            cs.into_iter()
                .map(|c| c.parse::<Channel>().map_err(|_| FileError::Channel(c)))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    Ok(RolloutFile {
        spec: RolloutSpec {
            id: raw.id,
            platform,
            from: raw.from,
            to: raw.to,
            new_accounts_from: instant("new_accounts_from", &raw.new_accounts_from)?,
            batches,
            channels,
        },
        note: raw.note,
    })
}

pub fn parse(text: &str) -> Result<RolloutFile, FileError> {
    let value = serde_json::from_str(text).map_err(|e| FileError::Syntax(e.to_string()))?;
    parse_value(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_policy::{Rollout, RuleBook};

    #[test]
    fn the_shipped_2023_change_is_valid() {
        let file = parse(shipped("wechat-2023-quota-change").unwrap()).unwrap();
        assert_eq!(
            file.spec.new_accounts_from, 1_686_499_200,
            "2023-06-12 00:00 UTC+8"
        );
        assert!(file.note.unwrap().contains("illustrative"));
        let rollout = Rollout::new(file.spec, &RuleBook::shipped()).unwrap();
        assert_eq!(rollout.from, "wechat-oa-2021");
        assert_eq!(rollout.to, "wechat-oa-2023");
        assert_eq!(rollout.platform, Platform::Oa);
        let last = rollout.batches.last().unwrap();
        assert_eq!(last.percent_hundredths, 10_000);
        assert_eq!(crate::timefmt::rfc3339(last.at), "2023-08-06T16:00:00Z");
    }

    #[test]
    fn bad_files_name_their_reason() {
        let cases = [
            ("{", "syntax"),
            (
                r#"{"id":"x","from":"wechat-oa-2021","to":"wechat-oa-2023","new_accounts_from":"soon","batches":[]}"#,
                "invalid_instant",
            ),
            (
                r#"{"id":"x","platform":"sms","from":"a","to":"b","new_accounts_from":"2023-01-01T00:00:00Z","batches":[]}"#,
                "unknown_platform",
            ),
            (
                r#"{"id":"x","from":"a","to":"b","new_accounts_from":"2023-01-01T00:00:00Z","batches":[{"at":"2023-01-01T00:00:00Z","percent":100.001}]}"#,
                "invalid_percent",
            ),
            (
                r#"{"id":"x","from":"a","to":"b","new_accounts_from":"2023-01-01T00:00:00Z","batches":[],"colour":1}"#,
                "syntax",
            ),
        ];
        for (text, reason) in cases {
            assert_eq!(parse(text).unwrap_err().reason(), reason, "{text}");
        }
    }
}
