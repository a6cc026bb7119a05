//! WeCom basics and customer contact (WECHAT.md §12.1, §13): `gettoken`, the `{"errcode":0,
//! "errmsg":"ok", …}` envelope every WeCom answer has, and `externalcontact` list/get.

use serde::{Deserialize, Serialize};

use crate::ErrCode;

/// WeCom answers carry `errcode`/`errmsg` on success too (§1.2), first, then the data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WecomResponse<T> {
    pub errcode: i32,
    pub errmsg: String,
    #[serde(flatten)]
    pub data: T,
}

impl<T> WecomResponse<T> {
    pub fn ok(data: T) -> WecomResponse<T> {
        WecomResponse {
            errcode: 0,
            errmsg: ErrCode::Ok.errmsg().to_owned(),
            data,
        }
    }
}

impl<T: Serialize> WecomResponse<T> {
    pub fn to_json(&self) -> String {
        crate::json::to_json(self)
    }
}

/// `{"errcode":0,"errmsg":"ok",…data}`.
pub fn wecom_ok<T: Serialize>(data: T) -> String {
    WecomResponse::ok(data).to_json()
}

/// The query of `GET /cgi-bin/gettoken`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct WecomTokenQuery {
    #[serde(default)]
    pub corpid: Option<String>,
    #[serde(default)]
    pub corpsecret: Option<String>,
}

impl WecomTokenQuery {
    /// `corpid` missing → 41002; `corpsecret` missing → 41004 (§12.1). The lookup (40013
    /// invalid corpid, 40001 wrong secret) is the server's.
    pub fn credentials(&self) -> Result<(&str, &str), ErrCode> {
        let corpid = self
            .corpid
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or(ErrCode::CorpidMissing)?;
        let secret = self
            .corpsecret
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or(ErrCode::CorpsecretMissing)?;
        Ok((corpid, secret))
    }
}

/// `gettoken`'s data: `{"errcode":0,"errmsg":"ok","access_token":…,"expires_in":7200}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WecomToken {
    pub access_token: String,
    pub expires_in: u64,
}

/// `externalcontact/get_follow_user_list`: members with customer contact enabled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUserList {
    pub follow_user: Vec<String>,
}

/// `externalcontact/list?userid=`: a member's customers (84061 when none, §12.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalUseridList {
    pub external_userid: Vec<String>,
}

/// `externalcontact/get?external_userid=`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalContactDetail {
    pub external_contact: ExternalContact,
    pub follow_user: Vec<FollowUser>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The customer (§13; field set per WxJava and wechatpy's fixture).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalContact {
    pub external_userid: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corp_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corp_full_name: Option<String>,
    /// 1 a WeChat user, 2 a WeCom user.
    #[serde(rename = "type")]
    pub kind: u8,
    /// 0 unknown, 1 male, 2 female.
    pub gender: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_profile: Option<serde_json::Value>,
}

/// A member who has the customer, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUser {
    pub userid: String,
    #[serde(default)]
    pub remark: String,
    #[serde(default)]
    pub description: String,
    pub createtime: i64,
    #[serde(default)]
    pub tags: Vec<ContactTag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark_corp_name: Option<String>,
    #[serde(default)]
    pub remark_mobiles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_way: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oper_userid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactTag {
    pub group_name: String,
    pub tag_name: String,
    /// 1 enterprise tag, 2 personal tag.
    #[serde(rename = "type")]
    pub kind: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gettoken() {
        let body = wecom_ok(WecomToken {
            access_token: "accesstoken000001".into(),
            expires_in: 7200,
        });
        assert_eq!(
            body,
            r#"{"errcode":0,"errmsg":"ok","access_token":"accesstoken000001","expires_in":7200}"#
        );
        // wechatpy's fixture has no errcode: both shapes read.
        let r: WecomToken =
            serde_json::from_str(r#"{"access_token":"a","expires_in":7200}"#).unwrap();
        assert_eq!(r.expires_in, 7200);
        let q = WecomTokenQuery {
            corpid: Some("ww1".into()),
            corpsecret: None,
        };
        assert_eq!(q.credentials(), Err(ErrCode::CorpsecretMissing));
        assert_eq!(
            WecomTokenQuery::default().credentials(),
            Err(ErrCode::CorpidMissing)
        );
        let q = WecomTokenQuery {
            corpid: Some("ww1".into()),
            corpsecret: Some("s".into()),
        };
        assert_eq!(q.credentials(), Ok(("ww1", "s")));
    }

    #[test]
    fn contact_lists() {
        assert_eq!(
            wecom_ok(FollowUserList {
                follow_user: vec!["zhangsan".into(), "lissi".into()]
            }),
            r#"{"errcode":0,"errmsg":"ok","follow_user":["zhangsan","lissi"]}"#
        );
        assert_eq!(
            wecom_ok(ExternalUseridList {
                external_userid: vec!["woAJ2GCAAAXtWyujaWJHDDGi0mACas1w".into()]
            }),
            r#"{"errcode":0,"errmsg":"ok","external_userid":["woAJ2GCAAAXtWyujaWJHDDGi0mACas1w"]}"#
        );
    }

    #[test]
    fn contact_detail() {
        let detail = ExternalContactDetail {
            external_contact: ExternalContact {
                external_userid: "woAJ2GCAAAXtWyujaWJHDDGi0mACHAAA".into(),
                name: "李四".into(),
                avatar: Some("http://a".into()),
                kind: 1,
                gender: 1,
                unionid: Some("ozynqsulJFCZ2z1aYeS8h-nuasdAAA".into()),
                ..ExternalContact::default()
            },
            follow_user: vec![FollowUser {
                userid: "rocky".into(),
                remark: "李部长".into(),
                description: "对接采购事务".into(),
                createtime: 1525779812,
                tags: vec![ContactTag {
                    group_name: "标签分组名称".into(),
                    tag_name: "标签名称".into(),
                    kind: 1,
                }],
                add_way: Some(1),
                state: Some("外联二维码1".into()),
                ..FollowUser::default()
            }],
            next_cursor: None,
        };
        let json = wecom_ok(&detail);
        assert_eq!(
            json,
            r#"{"errcode":0,"errmsg":"ok","external_contact":{"external_userid":"woAJ2GCAAAXtWyujaWJHDDGi0mACHAAA","name":"李四","avatar":"http://a","type":1,"gender":1,"unionid":"ozynqsulJFCZ2z1aYeS8h-nuasdAAA"},"follow_user":[{"userid":"rocky","remark":"李部长","description":"对接采购事务","createtime":1525779812,"tags":[{"group_name":"标签分组名称","tag_name":"标签名称","type":1}],"remark_mobiles":[],"add_way":1,"state":"外联二维码1"}]}"#
        );
        let back: WecomResponse<ExternalContactDetail> = serde_json::from_str(&json).unwrap();
        assert_eq!(back.data, detail);
    }
}
