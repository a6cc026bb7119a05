//! User APIs: `user/info`, `user/get`, `user/info/batchget`, `user/info/updateremark`
//! (WECHAT.md §9).

use serde::{Deserialize, Serialize};

use crate::ErrCode;
use crate::json::parse_body;

/// The `user/info` answer. A follower has every field WeChat still returns (the profile fields
/// it stopped returning in 2021 are absent); a non-follower is `{"subscribe":0,"openid":…}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub subscribe: u8,
    pub openid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe_time: Option<i64>,
    /// Only when the account is bound to an Open Platform account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groupid: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tagid_list: Option<Vec<i64>>,
    /// `ADD_SCENE_QR_CODE`, `ADD_SCENE_SEARCH`, … (§9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscribe_scene: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr_scene: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr_scene_str: Option<String>,
}

impl UserInfo {
    /// `{"subscribe":0,"openid":…}`: a known user who does not follow.
    pub fn unsubscribed(openid: impl Into<String>) -> UserInfo {
        UserInfo {
            subscribe: 0,
            openid: openid.into(),
            ..UserInfo::default()
        }
    }

    /// A follower with the fields every follower has; set the optional ones on the result.
    pub fn subscribed(
        openid: impl Into<String>,
        subscribe_time: i64,
        subscribe_scene: impl Into<String>,
    ) -> UserInfo {
        UserInfo {
            subscribe: 1,
            openid: openid.into(),
            language: Some("zh_CN".into()),
            subscribe_time: Some(subscribe_time),
            unionid: None,
            remark: Some(String::new()),
            groupid: Some(0),
            tagid_list: Some(Vec::new()),
            subscribe_scene: Some(subscribe_scene.into()),
            qr_scene: Some(0),
            qr_scene_str: Some(String::new()),
        }
    }

    pub fn to_json(&self) -> String {
        crate::json::to_json(self)
    }
}

/// `user/info`'s `lang`: `zh_CN` (default), `zh_TW`, `en`.
pub const LANGS: &[&str] = &["zh_CN", "zh_TW", "en"];

/// `user/get`: up to 10,000 openids a page. The last (empty) page has no `data`, which is how
/// wechatpy knows to stop (§9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserListResponse {
    pub total: u64,
    pub count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<OpenidList>,
    pub next_openid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenidList {
    pub openid: Vec<String>,
}

/// The largest `user/get` page.
pub const MAX_USER_LIST_PAGE: usize = 10_000;

impl UserListResponse {
    /// One page: `openids` (at most [`MAX_USER_LIST_PAGE`]) out of `total` followers.
    pub fn page(total: u64, openids: Vec<String>) -> UserListResponse {
        let next_openid = openids.last().cloned().unwrap_or_default();
        let count = openids.len() as u64;
        let data = (!openids.is_empty()).then_some(OpenidList { openid: openids });
        UserListResponse {
            total,
            count,
            data,
            next_openid,
        }
    }

    pub fn to_json(&self) -> String {
        crate::json::to_json(self)
    }
}

/// The `user/info/batchget` body: `{"user_list":[{"openid":…,"lang":…}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchGetRequest {
    pub user_list: Vec<BatchGetItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchGetItem {
    pub openid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

/// At most 100 users a batch.
pub const MAX_BATCH_GET: usize = 100;

/// Empty → 44002; bad JSON or shape → 47001; no users or more than 100 → 40035; an empty
/// openid → 41009.
pub fn parse_batchget(body: &[u8]) -> Result<BatchGetRequest, ErrCode> {
    let req: BatchGetRequest = parse_body(body)?;
    if req.user_list.is_empty() || req.user_list.len() > MAX_BATCH_GET {
        return Err(ErrCode::InvalidArgsSize);
    }
    if req.user_list.iter().any(|u| u.openid.is_empty()) {
        return Err(ErrCode::MissingOpenid);
    }
    Ok(req)
}

/// `{"user_info_list":[…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchGetResponse {
    pub user_info_list: Vec<UserInfo>,
}

impl BatchGetResponse {
    pub fn to_json(&self) -> String {
        crate::json::to_json(self)
    }
}

/// The `user/info/updateremark` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateRemarkRequest {
    pub openid: String,
    #[serde(default)]
    pub remark: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_shapes() {
        assert_eq!(
            UserInfo::unsubscribed("o1").to_json(),
            r#"{"subscribe":0,"openid":"o1"}"#
        );
        let mut u = UserInfo::subscribed(
            "o6_bmjrPTlm6_2sgVt7hMZOPfL2M",
            1382694957,
            "ADD_SCENE_QR_CODE",
        );
        u.tagid_list = Some(vec![128, 2]);
        u.qr_scene = Some(98765);
        u.unionid = Some("o6_bmasdasdsad6_2sgVt7hMZOPfL".into());
        assert_eq!(
            u.to_json(),
            r#"{"subscribe":1,"openid":"o6_bmjrPTlm6_2sgVt7hMZOPfL2M","language":"zh_CN","subscribe_time":1382694957,"unionid":"o6_bmasdasdsad6_2sgVt7hMZOPfL","remark":"","groupid":0,"tagid_list":[128,2],"subscribe_scene":"ADD_SCENE_QR_CODE","qr_scene":98765,"qr_scene_str":""}"#
        );
        // Old fixtures with profile fields still parse (extra fields ignored).
        let old: UserInfo =
            serde_json::from_str(r#"{"subscribe":1,"openid":"o","nickname":"Band","sex":1}"#)
                .unwrap();
        assert_eq!(old.subscribe, 1);
    }

    #[test]
    fn user_list_pages() {
        let page = UserListResponse::page(2, vec!["OPENID1".into(), "OPENID2".into()]);
        assert_eq!(
            page.to_json(),
            r#"{"total":2,"count":2,"data":{"openid":["OPENID1","OPENID2"]},"next_openid":"OPENID2"}"#
        );
        assert_eq!(
            UserListResponse::page(2, vec![]).to_json(),
            r#"{"total":2,"count":0,"next_openid":""}"#
        );
    }

    #[test]
    fn batchget() {
        let r =
            parse_batchget(br#"{"user_list":[{"openid":"o1","lang":"zh_CN"},{"openid":"o2"}]}"#)
                .unwrap();
        assert_eq!(r.user_list.len(), 2);
        assert_eq!(
            parse_batchget(br#"{"user_list":[]}"#),
            Err(ErrCode::InvalidArgsSize)
        );
        assert_eq!(
            parse_batchget(br#"{"user_list":[{"openid":""}]}"#),
            Err(ErrCode::MissingOpenid)
        );
        assert_eq!(
            parse_batchget(br#"{"user_list":[{"lang":"en"}]}"#),
            Err(ErrCode::DataFormatError)
        );
        let many: Vec<_> = (0..101)
            .map(|i| serde_json::json!({"openid": format!("o{i}")}))
            .collect();
        let body = serde_json::json!({ "user_list": many }).to_string();
        assert_eq!(
            parse_batchget(body.as_bytes()),
            Err(ErrCode::InvalidArgsSize)
        );
        let resp = BatchGetResponse {
            user_info_list: vec![UserInfo::unsubscribed("o2")],
        };
        assert_eq!(
            resp.to_json(),
            r#"{"user_info_list":[{"subscribe":0,"openid":"o2"}]}"#
        );
    }
}
