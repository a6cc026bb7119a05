//! Legacy KF accounts and sessions of the Official Account (WECHAT.md §10):
//! `/customservice/kfaccount/*`, `/cgi-bin/customservice/getkflist|getonlinekflist` (wechatpy
//! calls them without `/cgi-bin`: the server routes both), `/customservice/kfsession/*` and
//! `/customservice/msgrecord/getmsglist`.

use serde::{Deserialize, Serialize};

use crate::ErrCode;
use crate::json::parse_body;

/// At most 10 characters before the `@` of a `kf_account` (61454).
pub const MAX_KF_PREFIX_CHARS: usize = 10;
/// At most 10 KF accounts per Official Account (61456).
pub const MAX_KF_ACCOUNTS: usize = 10;

/// `kfaccount/add` and `kfaccount/update`: `{"kf_account":"test1@test","nickname":"客服1"}`
/// (legacy docs add an md5 `password`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KfAccountRequest {
    #[serde(default)]
    pub kf_account: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// `kfaccount/inviteworker`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteWorkerRequest {
    #[serde(default)]
    pub kf_account: String,
    #[serde(default)]
    pub invite_wx: String,
}

/// `kfsession/create` and `kfsession/close`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KfSessionRequest {
    #[serde(default)]
    pub kf_account: String,
    #[serde(default)]
    pub openid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// `msgrecord/getmsglist`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsgRecordRequest {
    pub starttime: i64,
    pub endtime: i64,
    #[serde(default)]
    pub msgid: i64,
    #[serde(default)]
    pub number: i64,
}

/// Empty → 44002; bad JSON or shape → 47001.
pub fn parse_kf_account(body: &[u8]) -> Result<KfAccountRequest, ErrCode> {
    parse_body(body)
}

pub fn parse_invite_worker(body: &[u8]) -> Result<InviteWorkerRequest, ErrCode> {
    parse_body(body)
}

pub fn parse_kf_session(body: &[u8]) -> Result<KfSessionRequest, ErrCode> {
    parse_body(body)
}

pub fn parse_msg_record(body: &[u8]) -> Result<MsgRecordRequest, ErrCode> {
    parse_body(body)
}

/// Checks a `kf_account` spelling, `prefix@account_wechat_id` (§10): no `@` or an empty part
/// → 61452; a prefix over 10 characters → 61454; a prefix of other than letters, digits and
/// `_` → 61455; a suffix other than `wechat_id` (when given) → 61452.
pub fn check_kf_account(kf_account: &str, wechat_id: Option<&str>) -> Result<(), ErrCode> {
    let Some((prefix, suffix)) = kf_account.split_once('@') else {
        return Err(ErrCode::InvalidKfAccount);
    };
    if prefix.is_empty() || suffix.is_empty() {
        return Err(ErrCode::InvalidKfAccount);
    }
    if prefix.chars().count() > MAX_KF_PREFIX_CHARS {
        return Err(ErrCode::InvalidKfAccountLength);
    }
    if !prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(ErrCode::IllegalCharacterInKfAccount);
    }
    if wechat_id.is_some_and(|id| id != suffix) {
        return Err(ErrCode::InvalidKfAccount);
    }
    Ok(())
}

/// `getkflist`: `{"kf_list":[…]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KfListResponse {
    pub kf_list: Vec<KfInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KfInfo {
    pub kf_account: String,
    pub kf_nick: String,
    pub kf_id: String,
    pub kf_headimgurl: String,
    /// The bound WeChat id, once an invitation was accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kf_wx: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_wx: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_expire_time: Option<i64>,
    /// `waiting`, `rejected`, `expired`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_status: Option<String>,
}

/// `getonlinekflist`: `{"kf_online_list":[…]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KfOnlineListResponse {
    pub kf_online_list: Vec<KfOnline>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KfOnline {
    pub kf_account: String,
    pub status: i64,
    pub kf_id: String,
    pub accepted_case: i64,
}

/// `kfsession/getsession`: `{"kf_account":…,"createtime":…}`, `kf_account` empty when none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetSessionResponse {
    pub kf_account: String,
    pub createtime: i64,
}

/// `kfsession/getsessionlist`: `{"sessionlist":[{"openid","createtime"}]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionListResponse {
    pub sessionlist: Vec<SessionItem>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionItem {
    pub openid: String,
    pub createtime: i64,
}

/// `kfsession/getwaitcase`: the oldest ≤100 waiting users.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitCaseResponse {
    pub count: u64,
    pub waitcaselist: Vec<WaitCase>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitCase {
    pub openid: String,
    pub latest_time: i64,
}

/// `msgrecord/getmsglist`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsgRecordResponse {
    pub recordlist: Vec<MsgRecord>,
    pub number: i64,
    pub msgid: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsgRecord {
    pub openid: String,
    pub opercode: i64,
    pub text: String,
    pub time: i64,
    pub worker: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::to_json;

    #[test]
    fn kf_account_spelling() {
        assert_eq!(check_kf_account("test1@test", Some("test")), Ok(()));
        assert_eq!(check_kf_account("test1@test", None), Ok(()));
        assert_eq!(
            check_kf_account("test1", None),
            Err(ErrCode::InvalidKfAccount)
        );
        assert_eq!(
            check_kf_account("@test", None),
            Err(ErrCode::InvalidKfAccount)
        );
        assert_eq!(
            check_kf_account("test1@", None),
            Err(ErrCode::InvalidKfAccount)
        );
        assert_eq!(
            check_kf_account("abcdefghijk@test", None),
            Err(ErrCode::InvalidKfAccountLength)
        );
        assert_eq!(
            check_kf_account("客服@test", None),
            Err(ErrCode::IllegalCharacterInKfAccount)
        );
        assert_eq!(
            check_kf_account("a-b@test", None),
            Err(ErrCode::IllegalCharacterInKfAccount)
        );
        assert_eq!(
            check_kf_account("a@other", Some("test")),
            Err(ErrCode::InvalidKfAccount)
        );
    }

    #[test]
    fn requests() {
        let r = parse_kf_account(r#"{"kf_account":"test1@test","nickname":"客服1"}"#.as_bytes())
            .unwrap();
        assert_eq!(r.nickname.as_deref(), Some("客服1"));
        assert_eq!(parse_kf_account(b""), Err(ErrCode::EmptyPostData));
        let s = parse_kf_session(br#"{"kf_account":"a@b","openid":"o"}"#).unwrap();
        assert_eq!(s.openid, "o");
        let i = parse_invite_worker(br#"{"kf_account":"a@b","invite_wx":"w"}"#).unwrap();
        assert_eq!(i.invite_wx, "w");
        let m =
            parse_msg_record(br#"{"starttime":1,"endtime":2,"msgid":1,"number":10000}"#).unwrap();
        assert_eq!(m.number, 10000);
        assert_eq!(
            parse_msg_record(br#"{"starttime":"1","endtime":2}"#),
            Err(ErrCode::DataFormatError)
        );
    }

    #[test]
    fn response_bytes() {
        let list = KfListResponse {
            kf_list: vec![KfInfo {
                kf_account: "test1@test".into(),
                kf_nick: "ntest1".into(),
                kf_id: "1001".into(),
                kf_headimgurl: "http://h".into(),
                ..KfInfo::default()
            }],
        };
        assert_eq!(
            to_json(&list),
            r#"{"kf_list":[{"kf_account":"test1@test","kf_nick":"ntest1","kf_id":"1001","kf_headimgurl":"http://h"}]}"#
        );
        let online = KfOnlineListResponse {
            kf_online_list: vec![KfOnline {
                kf_account: "a@b".into(),
                status: 1,
                kf_id: "1".into(),
                accepted_case: 2,
            }],
        };
        assert_eq!(
            to_json(&online),
            r#"{"kf_online_list":[{"kf_account":"a@b","status":1,"kf_id":"1","accepted_case":2}]}"#
        );
        assert_eq!(
            to_json(&GetSessionResponse::default()),
            r#"{"kf_account":"","createtime":0}"#
        );
        let wait = WaitCaseResponse {
            count: 1,
            waitcaselist: vec![WaitCase {
                openid: "o".into(),
                latest_time: 5,
            }],
        };
        assert_eq!(
            to_json(&wait),
            r#"{"count":1,"waitcaselist":[{"openid":"o","latest_time":5}]}"#
        );
    }
}
