//! WeChat KF through WeCom (WECHAT.md §11): `kf/send_msg` (validated like custom send),
//! `kf/sync_msg` and the messages and events it returns.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ErrCode;
use crate::json::{opt_str, parse_body, parse_object};

/// A `kf/send_msg` msgtype (§11.1). The customer-acquisition link type is left out: its wire
/// name is not confirmed (§11.1, uncertain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KfMsgType {
    Text,
    Image,
    Voice,
    Video,
    File,
    Link,
    Miniprogram,
    Msgmenu,
    Location,
}

impl KfMsgType {
    pub const ALL: &'static [KfMsgType] = &[
        KfMsgType::Text,
        KfMsgType::Image,
        KfMsgType::Voice,
        KfMsgType::Video,
        KfMsgType::File,
        KfMsgType::Link,
        KfMsgType::Miniprogram,
        KfMsgType::Msgmenu,
        KfMsgType::Location,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            KfMsgType::Text => "text",
            KfMsgType::Image => "image",
            KfMsgType::Voice => "voice",
            KfMsgType::Video => "video",
            KfMsgType::File => "file",
            KfMsgType::Link => "link",
            KfMsgType::Miniprogram => "miniprogram",
            KfMsgType::Msgmenu => "msgmenu",
            KfMsgType::Location => "location",
        }
    }

    pub fn parse(s: &str) -> Option<KfMsgType> {
        KfMsgType::ALL.iter().copied().find(|m| m.as_str() == s)
    }
}

/// A `kf/send_msg` body that passed the shape and content checks.
#[derive(Debug, Clone, PartialEq)]
pub struct KfSend {
    /// The customer's external_userid.
    pub touser: String,
    pub open_kfid: String,
    /// The caller's own id for the message, when given (≤32 bytes of `[0-9a-zA-Z_-]`).
    pub msgid: Option<String>,
    pub msgtype: KfMsgType,
    /// The msgtype object as sent.
    pub body: Value,
}

/// The byte limits of §11.1's table.
pub const MAX_KF_TEXT_BYTES: usize = 2048;
pub const MAX_KF_MSGID_BYTES: usize = 32;

/// `kf/send_msg`, checked in the order of custom send (§4.3, kefu's reading for KF): empty →
/// 44002; not an object → 47001; `msgtype` unknown → 40008; `touser` missing → 41035;
/// `open_kfid` missing → 95000; a malformed `msgid` → 40035; the msgtype object missing or a
/// field of the wrong type → 47001; text empty → 44004 or over 2048 bytes → 45002; a missing
/// `media_id` → 40007; link/miniprogram titles, descriptions and URLs over §11.1's limits →
/// 45003/45004/45005; a menu of more than 10 items → 40035. Session state and the 48 h / 5
/// message rule are the server's.
pub fn parse_kf_send(body: &[u8]) -> Result<KfSend, ErrCode> {
    let mut raw = parse_object(body)?;
    let msgtype = match raw.get("msgtype") {
        Some(Value::String(s)) => KfMsgType::parse(s),
        _ => None,
    }
    .ok_or(ErrCode::InvalidMsgType)?;
    let touser = non_empty(&raw, "touser").ok_or(ErrCode::MissingExternalUserid)?;
    let open_kfid = non_empty(&raw, "open_kfid").ok_or(ErrCode::InvalidOpenKfid)?;
    let msgid = match raw.get("msgid") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if valid_msgid(id) => Some(id.clone()),
        Some(_) => return Err(ErrCode::InvalidArgsSize),
    };
    let obj = match raw.remove(msgtype.as_str()) {
        Some(Value::Object(obj)) => obj,
        _ => return Err(ErrCode::DataFormatError),
    };
    check_kf_object(msgtype, &obj)?;
    Ok(KfSend {
        touser,
        open_kfid,
        msgid,
        msgtype,
        body: Value::Object(obj),
    })
}

fn non_empty(raw: &Map<String, Value>, key: &str) -> Option<String> {
    match raw.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn valid_msgid(id: &str) -> bool {
    id.len() <= MAX_KF_MSGID_BYTES
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn check_kf_object(msgtype: KfMsgType, obj: &Map<String, Value>) -> Result<(), ErrCode> {
    let max = |name: &str, limit: usize, err: ErrCode| -> Result<(), ErrCode> {
        match opt_str(obj, name)? {
            Some(s) if s.len() > limit => Err(err),
            _ => Ok(()),
        }
    };
    match msgtype {
        KfMsgType::Text => {
            let content = opt_str(obj, "content")?.unwrap_or("");
            if content.is_empty() {
                return Err(ErrCode::EmptyContent);
            }
            if content.len() > MAX_KF_TEXT_BYTES {
                return Err(ErrCode::ContentSizeOutOfLimit);
            }
        }
        KfMsgType::Image | KfMsgType::Voice | KfMsgType::Video | KfMsgType::File => {
            if opt_str(obj, "media_id")?.unwrap_or("").is_empty() {
                return Err(ErrCode::InvalidMediaId);
            }
        }
        KfMsgType::Link => {
            opt_str(obj, "thumb_media_id")?;
            max("title", 128, ErrCode::TitleSizeOutOfLimit)?;
            max("desc", 512, ErrCode::DescriptionSizeOutOfLimit)?;
            max("url", 2048, ErrCode::UrlSizeOutOfLimit)?;
        }
        KfMsgType::Miniprogram => {
            for field in ["appid", "thumb_media_id", "pagepath"] {
                opt_str(obj, field)?;
            }
            max("title", 64, ErrCode::TitleSizeOutOfLimit)?;
        }
        KfMsgType::Msgmenu => {
            max("head_content", 1024, ErrCode::ContentSizeOutOfLimit)?;
            max("tail_content", 1024, ErrCode::ContentSizeOutOfLimit)?;
            match obj.get("list") {
                None | Some(Value::Null) => {}
                Some(Value::Array(items)) if items.iter().all(Value::is_object) => {
                    if items.len() > 10 {
                        return Err(ErrCode::InvalidArgsSize);
                    }
                }
                Some(_) => return Err(ErrCode::DataFormatError),
            }
        }
        KfMsgType::Location => {
            for field in ["latitude", "longitude"] {
                if obj
                    .get(field)
                    .is_some_and(|v| !v.is_number() && !v.is_null())
                {
                    return Err(ErrCode::DataFormatError);
                }
            }
            opt_str(obj, "name")?;
            opt_str(obj, "address")?;
        }
    }
    Ok(())
}

/// `kf/send_msg`'s data: `{"errcode":0,"errmsg":"ok","msgid":"MSG_ID"}` with
/// [`crate::wecom::wecom_ok`]. Success does not mean delivered (§11.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KfSendResult {
    pub msgid: String,
}

/// The `kf/sync_msg` body (§11.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncMsgRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// From the `kf_msg_or_event` callback; valid 10 minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// 0 amr, 1 silk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_format: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_kfid: Option<String>,
}

/// Default and largest `limit`.
pub const MAX_SYNC_LIMIT: u32 = 1000;

impl SyncMsgRequest {
    /// `limit`, defaulted and capped at 1000.
    pub fn effective_limit(&self) -> u32 {
        self.limit
            .filter(|&l| l > 0)
            .unwrap_or(MAX_SYNC_LIMIT)
            .min(MAX_SYNC_LIMIT)
    }
}

/// Empty → 44002; bad JSON or shape → 47001.
pub fn parse_sync_msg(body: &[u8]) -> Result<SyncMsgRequest, ErrCode> {
    parse_body(body)
}

/// `kf/sync_msg`'s data, with [`crate::wecom::wecom_ok`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncMsgResult {
    pub next_cursor: String,
    /// 0 or 1; may be 1 with an empty list (§11.2).
    pub has_more: u8,
    pub msg_list: Vec<KfMessage>,
}

/// `origin` values (§11.2).
pub const ORIGIN_CUSTOMER: u8 = 3;
pub const ORIGIN_SYSTEM_EVENT: u8 = 4;
pub const ORIGIN_SERVICER: u8 = 5;

/// One entry of `msg_list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KfMessage {
    pub msgid: String,
    pub open_kfid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_userid: Option<String>,
    pub send_time: i64,
    pub origin: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servicer_userid: Option<String>,
    #[serde(flatten)]
    pub content: KfContent,
}

/// `msgtype` and its object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "msgtype", rename_all = "snake_case")]
pub enum KfContent {
    Text { text: KfText },
    Image { image: KfMedia },
    Voice { voice: KfMedia },
    Video { video: KfMedia },
    File { file: KfMedia },
    Location { location: KfLocation },
    Link { link: KfLink },
    BusinessCard { business_card: KfBusinessCard },
    Miniprogram { miniprogram: KfMiniprogram },
    Msgmenu { msgmenu: Value },
    Event { event: KfEvent },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KfText {
    pub content: String,
    /// Set when the customer tapped a menu item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub menu_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KfMedia {
    pub media_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KfLocation {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KfLink {
    pub title: String,
    #[serde(default)]
    pub desc: String,
    pub url: String,
    #[serde(default)]
    pub pic_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KfBusinessCard {
    pub userid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KfMiniprogram {
    pub title: String,
    pub appid: String,
    pub pagepath: String,
    #[serde(default)]
    pub thumb_media_id: String,
}

/// `msg_send_fail.fail_type` values kefu produces (§11.3).
pub const FAIL_SESSION_EXPIRED: u8 = 4;
pub const FAIL_OVER_LIMIT: u8 = 6;

/// KF events (§11.3), tagged by `event_type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", rename_all = "snake_case")]
pub enum KfEvent {
    EnterSession {
        open_kfid: String,
        external_userid: String,
        #[serde(default)]
        scene: String,
        #[serde(default)]
        scene_param: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        welcome_code: Option<String>,
    },
    MsgSendFail {
        open_kfid: String,
        external_userid: String,
        fail_msgid: String,
        fail_type: u8,
    },
    ServicerStatusChange {
        servicer_userid: String,
        open_kfid: String,
        status: u8,
    },
    SessionStatusChange {
        open_kfid: String,
        external_userid: String,
        change_type: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        old_servicer_userid: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new_servicer_userid: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        msg_code: Option<String>,
    },
}

#[cfg(test)]
#[path = "wecom_kf_tests.rs"]
mod tests;
