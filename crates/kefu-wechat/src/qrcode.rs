//! Parametric QR codes: `POST /cgi-bin/qrcode/create` (WECHAT.md §8).

use serde::{Deserialize, Serialize};

use crate::ErrCode;
use crate::json::parse_body;

/// Expiry of a temporary code created without `expire_seconds`: 60 s per the current doc
/// (older copies say 30, §8, uncertain).
pub const DEFAULT_EXPIRE_SECONDS: u32 = 60;
/// The longest temporary code: 30 days.
pub const MAX_EXPIRE_SECONDS: u32 = 2_592_000;
/// Permanent integer scenes are 1..=100000.
pub const MAX_PERMANENT_SCENE_ID: u32 = 100_000;
/// String scenes are 1–64 characters.
pub const MAX_SCENE_STR_CHARS: usize = 64;

/// The `qrcode/create` body as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrCodeCreateRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_seconds: Option<i64>,
    #[serde(default)]
    pub action_name: String,
    #[serde(default)]
    pub action_info: ActionInfo,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionInfo {
    #[serde(default)]
    pub scene: SceneInfo,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SceneInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene_str: Option<String>,
}

/// A code's scene value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QrScene {
    Id(u32),
    Str(String),
}

impl QrScene {
    /// The scene as it appears in pushes: `EventKey` of `SCAN`, or after `qrscene_` in
    /// `subscribe` (§6.4).
    pub fn event_key(&self) -> String {
        match self {
            QrScene::Id(id) => id.to_string(),
            QrScene::Str(s) => s.clone(),
        }
    }
}

/// A valid QR code request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCodeSpec {
    pub permanent: bool,
    pub scene: QrScene,
    /// Seconds to live for a temporary code (default and cap applied); `None` for permanent.
    pub expire_seconds: Option<u32>,
}

/// Empty → 44002; bad JSON or a field of the wrong type → 47001; an unknown `action_name` or a
/// scene out of range (§8's table) → 40035. A temporary code's `expire_seconds` defaults to 60
/// and is capped at 30 days.
pub fn parse_qrcode_create(body: &[u8]) -> Result<QrCodeSpec, ErrCode> {
    let req: QrCodeCreateRequest = parse_body(body)?;
    let (permanent, string_scene) = match req.action_name.as_str() {
        "QR_SCENE" => (false, false),
        "QR_STR_SCENE" => (false, true),
        "QR_LIMIT_SCENE" => (true, false),
        "QR_LIMIT_STR_SCENE" => (true, true),
        _ => return Err(ErrCode::InvalidArgsSize),
    };
    let scene = if string_scene {
        match req.action_info.scene.scene_str {
            Some(s) if !s.is_empty() && s.chars().count() <= MAX_SCENE_STR_CHARS => QrScene::Str(s),
            _ => return Err(ErrCode::InvalidArgsSize),
        }
    } else {
        let max = if permanent {
            MAX_PERMANENT_SCENE_ID
        } else {
            u32::MAX
        };
        match req
            .action_info
            .scene
            .scene_id
            .and_then(|id| u32::try_from(id).ok())
        {
            Some(id) if id >= 1 && id <= max => QrScene::Id(id),
            _ => return Err(ErrCode::InvalidArgsSize),
        }
    };
    let expire_seconds = (!permanent).then(|| match req.expire_seconds {
        Some(s) if s > 0 => u32::try_from(s).unwrap_or(u32::MAX).min(MAX_EXPIRE_SECONDS),
        _ => DEFAULT_EXPIRE_SECONDS,
    });
    Ok(QrCodeSpec {
        permanent,
        scene,
        expire_seconds,
    })
}

/// `{"ticket":…,"expire_seconds":…,"url":…}`; `expire_seconds` absent for permanent codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrCodeCreateResponse {
    pub ticket: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_seconds: Option<u32>,
    pub url: String,
}

impl QrCodeCreateResponse {
    pub fn to_json(&self) -> String {
        crate::json::to_json(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(body: &str) -> Result<QrCodeSpec, ErrCode> {
        parse_qrcode_create(body.as_bytes())
    }

    #[test]
    fn documented_requests() {
        assert_eq!(
            spec(
                r#"{"expire_seconds":604800,"action_name":"QR_SCENE","action_info":{"scene":{"scene_id":123}}}"#
            ),
            Ok(QrCodeSpec {
                permanent: false,
                scene: QrScene::Id(123),
                expire_seconds: Some(604800)
            })
        );
        assert_eq!(
            spec(
                r#"{"action_name":"QR_LIMIT_STR_SCENE","action_info":{"scene":{"scene_str":"test"}}}"#
            ),
            Ok(QrCodeSpec {
                permanent: true,
                scene: QrScene::Str("test".into()),
                expire_seconds: None
            })
        );
    }

    #[test]
    fn defaults_caps_and_ranges() {
        let temp = |extra: &str| {
            spec(&format!(
                r#"{{"action_name":"QR_STR_SCENE","action_info":{{"scene":{{"scene_str":"s"}}}}{extra}}}"#
            ))
        };
        assert_eq!(temp("").unwrap().expire_seconds, Some(60));
        assert_eq!(
            temp(r#","expire_seconds":0"#).unwrap().expire_seconds,
            Some(60)
        );
        assert_eq!(
            temp(r#","expire_seconds":99999999999"#)
                .unwrap()
                .expire_seconds,
            Some(MAX_EXPIRE_SECONDS)
        );
        assert_eq!(
            temp(r#","expire_seconds":"60""#),
            Err(ErrCode::DataFormatError)
        );
        let limit = |id: i64| {
            spec(&format!(
                r#"{{"action_name":"QR_LIMIT_SCENE","action_info":{{"scene":{{"scene_id":{id}}}}}}}"#
            ))
        };
        assert!(limit(100000).is_ok());
        assert_eq!(limit(100001), Err(ErrCode::InvalidArgsSize));
        assert_eq!(limit(0), Err(ErrCode::InvalidArgsSize));
        assert_eq!(
            spec(r#"{"action_name":"QR_SCENE","action_info":{"scene":{"scene_id":-1}}}"#),
            Err(ErrCode::InvalidArgsSize)
        );
        assert_eq!(
            spec(r#"{"action_name":"QR_SCENE","action_info":{"scene":{}}}"#),
            Err(ErrCode::InvalidArgsSize)
        );
        assert_eq!(
            spec(r#"{"action_name":"QR_FOO"}"#),
            Err(ErrCode::InvalidArgsSize)
        );
        let long = "字".repeat(65);
        assert_eq!(
            spec(&format!(
                r#"{{"action_name":"QR_STR_SCENE","action_info":{{"scene":{{"scene_str":"{long}"}}}}}}"#
            )),
            Err(ErrCode::InvalidArgsSize)
        );
        assert_eq!(spec(""), Err(ErrCode::EmptyPostData));
        assert_eq!(QrScene::Id(7).event_key(), "7");
    }

    #[test]
    fn response_bytes() {
        let r = QrCodeCreateResponse {
            ticket: "T==".into(),
            expire_seconds: Some(1800),
            url: "https://weixin.qq.com/q/k".into(),
        };
        assert_eq!(
            r.to_json(),
            r#"{"ticket":"T==","expire_seconds":1800,"url":"https://weixin.qq.com/q/k"}"#
        );
        let p = QrCodeCreateResponse {
            expire_seconds: None,
            ..r
        };
        assert_eq!(
            p.to_json(),
            r#"{"ticket":"T==","url":"https://weixin.qq.com/q/k"}"#
        );
    }
}
