//! The traffic log as kefu's API writes it (`GET /api/v1/traffic`, API.md): one JSON object a
//! line, ordered by (`at`, `seq`). The same schema is read back by `kefu replay`.

use kefu_store::{TrafficEvent, TrafficRecord};
use serde::{Deserialize, Serialize};

use crate::timefmt::{parse_rfc3339, rfc3339};

/// The schema version of a line.
pub const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Line<'a> {
    v: u32,
    seq: u64,
    at: &'a str,
    kind: &'a str,
    appid: &'a str,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    platform: Option<&'a str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    registered_at: Option<&'a str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    openid: Option<&'a str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trigger: Option<&'a str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    api: Option<&'a str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    errcode: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ruleset: Option<&'a str>,
}

/// One record as a line (without the newline).
pub fn to_line(record: &TrafficRecord) -> String {
    let at = rfc3339(record.at);
    let registered;
    let mut line = Line {
        v: VERSION,
        seq: record.seq,
        at: &at,
        kind: "",
        appid: "",
        platform: None,
        registered_at: None,
        openid: None,
        trigger: None,
        api: None,
        errcode: None,
        ruleset: None,
    };
    match &record.event {
        TrafficEvent::Account {
            appid,
            platform,
            registered_at,
        } => {
            registered = rfc3339(*registered_at);
            line.kind = "account";
            line.appid = appid;
            line.platform = Some(platform);
            line.registered_at = Some(&registered);
        }
        TrafficEvent::Trigger {
            appid,
            openid,
            trigger,
            ruleset,
        } => {
            line.kind = "trigger";
            line.appid = appid;
            line.openid = Some(openid);
            line.trigger = Some(trigger);
            line.ruleset = (!ruleset.is_empty()).then_some(ruleset.as_str());
        }
        TrafficEvent::Send {
            appid,
            openid,
            api,
            errcode,
            ruleset,
        } => {
            line.kind = "send";
            line.appid = appid;
            line.openid = Some(openid);
            line.api = Some(api);
            line.errcode = Some(*errcode);
            line.ruleset = Some(ruleset);
        }
    }
    serde_json::to_string(&line).unwrap_or_default()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("not a traffic line: {0}")]
    Syntax(String),
    #[error("unsupported traffic schema version {0}")]
    Version(u32),
    #[error("unknown kind {0:?}")]
    Kind(String),
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("{field} is not an RFC 3339 instant")]
    Instant { field: &'static str },
}

/// Reads one line back into a record.
pub fn parse_line(text: &str) -> Result<TrafficRecord, LineError> {
    let line: Line<'_> =
        serde_json::from_str(text).map_err(|e| LineError::Syntax(e.to_string()))?;
    if line.v != VERSION {
        return Err(LineError::Version(line.v));
    }
    let at = parse_rfc3339(line.at).ok_or(LineError::Instant { field: "at" })?;
    let need = |v: Option<&str>, field| v.map(str::to_owned).ok_or(LineError::Missing(field));
    let event = match line.kind {
        "account" => TrafficEvent::Account {
            appid: line.appid.to_owned(),
            platform: need(line.platform, "platform")?,
            registered_at: line.registered_at.and_then(parse_rfc3339).ok_or(
                LineError::Instant {
                    field: "registered_at",
                },
            )?,
        },
        "trigger" => TrafficEvent::Trigger {
            appid: line.appid.to_owned(),
            openid: need(line.openid, "openid")?,
            trigger: need(line.trigger, "trigger")?,
            ruleset: line.ruleset.unwrap_or_default().to_owned(),
        },
        "send" => TrafficEvent::Send {
            appid: line.appid.to_owned(),
            openid: need(line.openid, "openid")?,
            api: need(line.api, "api")?,
            errcode: line.errcode.ok_or(LineError::Missing("errcode"))?,
            ruleset: need(line.ruleset, "ruleset")?,
        },
        other => return Err(LineError::Kind(other.to_owned())),
    };
    Ok(TrafficRecord {
        seq: line.seq,
        at,
        event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_in_the_api_schema() {
        let records = [
            TrafficRecord {
                seq: 1,
                at: 1_700_000_000,
                event: TrafficEvent::Account {
                    appid: "wx1".into(),
                    platform: "oa".into(),
                    registered_at: 1_600_000_000,
                },
            },
            TrafficRecord {
                seq: 2,
                at: 1_700_000_001,
                event: TrafficEvent::Trigger {
                    appid: "wx1".into(),
                    openid: "o1".into(),
                    trigger: "message".into(),
                    ruleset: "wechat-oa-2023".into(),
                },
            },
            TrafficRecord {
                seq: 3,
                at: 1_700_000_002,
                event: TrafficEvent::Send {
                    appid: "wx1".into(),
                    openid: "o1".into(),
                    api: "custom/send".into(),
                    errcode: 45047,
                    ruleset: "wechat-oa-2023".into(),
                },
            },
        ];
        for record in &records {
            assert_eq!(&parse_line(&to_line(record)).unwrap(), record);
        }
        assert_eq!(
            to_line(&records[2]),
            r#"{"v":1,"seq":3,"at":"2023-11-14T22:13:22Z","kind":"send","appid":"wx1","openid":"o1","api":"custom/send","errcode":45047,"ruleset":"wechat-oa-2023"}"#
        );
        assert!(matches!(parse_line("{"), Err(LineError::Syntax(_))));
        assert!(matches!(
            parse_line(r#"{"v":2,"seq":1,"at":"x","kind":"send","appid":"a"}"#),
            Err(LineError::Version(2))
        ));
    }
}
