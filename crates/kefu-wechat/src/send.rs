//! `POST /cgi-bin/message/custom/send` (WECHAT.md §4.1, §4.3).
//!
//! Validation is split in two phases because step 4's openid lookup (40003) needs state the
//! caller holds: [`parse_custom_send`] runs steps 2, 3 and the presence half of 4;
//! [`CustomSend::validate`] runs steps 5 and 6 (see `send_checks`). Steps 1, 4's lookup, 7 and 8
//! are the server's.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::ErrCode;
use crate::json::parse_object;

/// Who is sending: it decides which msgtypes exist (§4.3 step 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendScope {
    /// Official Account customer service: every msgtype of §4.1 but `link`.
    OfficialAccount,
    /// Mini-program customer service: `text`, `image`, `link` and `miniprogrampage`, the four
    /// types of the mini-program "发送客服消息" doc (§5.5).
    MiniProgram,
}

macro_rules! msgtypes {
    ($( $name:ident = $s:literal ),* $(,)?) => {
        /// A custom-send `msgtype` (§4.1).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum MsgType { $( #[doc = concat!("`", $s, "`")] $name ),* }

        impl MsgType {
            /// Every msgtype, in §4.1's order.
            pub const ALL: &'static [MsgType] = &[$(MsgType::$name),*];

            /// The wire name, also the name of the msgtype's object in the body.
            pub const fn as_str(self) -> &'static str {
                match self { $(MsgType::$name => $s),* }
            }

            /// The msgtype for a wire name (case-sensitive, as WeChat is).
            pub fn parse(s: &str) -> Option<MsgType> {
                match s { $($s => Some(MsgType::$name),)* _ => None }
            }
        }
    };
}

msgtypes! {
    Text = "text",
    Image = "image",
    Voice = "voice",
    Video = "video",
    Music = "music",
    News = "news",
    Mpnews = "mpnews",
    Mpnewsarticle = "mpnewsarticle",
    Msgmenu = "msgmenu",
    Wxcard = "wxcard",
    Miniprogrampage = "miniprogrampage",
    Link = "link",
}

impl MsgType {
    /// Whether `scope` may send this msgtype; `false` answers 40008 (§4.3 step 3).
    pub fn allowed_in(self, scope: SendScope) -> bool {
        match scope {
            SendScope::OfficialAccount => self != MsgType::Link,
            SendScope::MiniProgram => matches!(
                self,
                MsgType::Text | MsgType::Image | MsgType::Link | MsgType::Miniprogrampage
            ),
        }
    }
}

impl fmt::Display for MsgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MsgType {
    type Err = ErrCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MsgType::parse(s).ok_or(ErrCode::InvalidMsgType)
    }
}

/// A custom-send body past steps 2–4 (presence): the caller looks `touser` up (40003), then
/// calls [`CustomSend::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct CustomSend {
    pub touser: String,
    pub msgtype: MsgType,
    /// The whole body as sent.
    raw: Map<String, Value>,
}

/// A custom-send message that passed steps 2–6.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomMessage {
    pub touser: String,
    pub msgtype: MsgType,
    /// The msgtype object exactly as sent (what the inbox shows as `body`, API.md).
    pub body: Value,
    /// `customservice.kf_account`, when given (step 7 checks it names an account).
    pub kf_account: Option<String>,
}

/// §4.3 steps 2, 3 and 4 (presence): empty → 44002; not a JSON object → 47001; `msgtype`
/// missing, not a string, unknown or not allowed in `scope` → 40008; `touser` missing, empty
/// or not a string → 41009.
pub fn parse_custom_send(body: &[u8], scope: SendScope) -> Result<CustomSend, ErrCode> {
    let raw = parse_object(body)?;
    let msgtype = match raw.get("msgtype") {
        Some(Value::String(s)) => MsgType::parse(s).filter(|m| m.allowed_in(scope)),
        _ => None,
    }
    .ok_or(ErrCode::InvalidMsgType)?;
    let touser = match raw.get("touser") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(ErrCode::MissingOpenid),
    };
    Ok(CustomSend {
        touser,
        msgtype,
        raw,
    })
}

impl CustomSend {
    /// The whole body as sent.
    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// §4.3 steps 5 and 6: the msgtype object missing or not an object, or any known field of
    /// the wrong JSON type → 47001; then the content limits (44004, 45002, 44003, 45008,
    /// 45003–45006, 40007).
    pub fn validate(mut self) -> Result<CustomMessage, ErrCode> {
        let body = match self.raw.remove(self.msgtype.as_str()) {
            Some(Value::Object(obj)) => obj,
            _ => return Err(ErrCode::DataFormatError),
        };
        crate::send_checks::check_shape(self.msgtype, &body)?;
        let kf_account = kf_account(&self.raw)?;
        crate::send_checks::check_content(self.msgtype, &body)?;
        Ok(CustomMessage {
            touser: self.touser,
            msgtype: self.msgtype,
            body: Value::Object(body),
            kf_account,
        })
    }
}

/// `customservice: {"kf_account": "..."}`, optional; a wrong shape is step 5's 47001.
fn kf_account(raw: &Map<String, Value>) -> Result<Option<String>, ErrCode> {
    match raw.get("customservice") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(cs)) => Ok(crate::json::opt_str(cs, "kf_account")?.map(str::to_owned)),
        Some(_) => Err(ErrCode::DataFormatError),
    }
}

/// Steps 2–6 at once, for callers that have no lookup to do between them (tests, replay).
pub fn validate_custom_send(body: &[u8], scope: SendScope) -> Result<CustomMessage, ErrCode> {
    parse_custom_send(body, scope)?.validate()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrCode::*;
    use std::result::Result::Ok;

    const OA: SendScope = SendScope::OfficialAccount;

    fn send(body: &str) -> Result<CustomMessage, ErrCode> {
        validate_custom_send(body.as_bytes(), OA)
    }

    #[test]
    fn canonical_examples_pass() {
        let m = send(r#"{"touser":"OPENID","msgtype":"text","text":{"content":"Hello World"}}"#)
            .unwrap();
        assert_eq!(m.touser, "OPENID");
        assert_eq!(m.msgtype, MsgType::Text);
        assert_eq!(m.body, serde_json::json!({"content": "Hello World"}));
        assert_eq!(m.kf_account, None);

        let m = send(r#"{"touser":"OPENID","msgtype":"text","text":{"content":"hi"},"customservice":{"kf_account":"test1@kftest"}}"#).unwrap();
        assert_eq!(m.kf_account.as_deref(), Some("test1@kftest"));

        for body in [
            r#"{"touser":"OPENID","msgtype":"msgmenu","msgmenu":{"head_content":"您对本次服务是否满意呢?","list":[{"id":"101","content":"满意"},{"id":"102","content":"不满意"}],"tail_content":"欢迎再次光临"}}"#,
            r#"{"touser":"OPENID","msgtype":"miniprogrampage","miniprogrampage":{"title":"title","appid":"appid","pagepath":"pagepath","thumb_media_id":"thumb_media_id"}}"#,
            r#"{"touser":"OPENID","msgtype":"mpnewsarticle","mpnewsarticle":{"article_id":"ARTICLE_ID"}}"#,
            r#"{"touser":"OPENID","msgtype":"image","image":{"media_id":"MEDIA_ID"}}"#,
            r#"{"touser":"OPENID","msgtype":"voice","voice":{"media_id":"MEDIA_ID"}}"#,
            r#"{"touser":"OPENID","msgtype":"video","video":{"media_id":"M","thumb_media_id":"T","title":"t","description":"d"}}"#,
            r#"{"touser":"OPENID","msgtype":"music","music":{"title":"t","description":"d","musicurl":"u","hqmusicurl":"h","thumb_media_id":"T"}}"#,
            r#"{"touser":"OPENID","msgtype":"news","news":{"articles":[{"title":"t","description":"d","url":"u","picurl":"p"}]}}"#,
            r#"{"touser":"OPENID","msgtype":"mpnews","mpnews":{"media_id":"M"}}"#,
            r#"{"touser":"OPENID","msgtype":"wxcard","wxcard":{"card_id":"C","card_ext":"{}"}}"#,
        ] {
            assert!(send(body).is_ok(), "{body}");
        }
    }

    #[test]
    fn step_order_two_to_four() {
        assert_eq!(send(""), Err(EmptyPostData));
        assert_eq!(send("  \n"), Err(EmptyPostData));
        assert_eq!(send("not json"), Err(DataFormatError));
        assert_eq!(send("[1]"), Err(DataFormatError));
        // Step 3 before step 4: no touser and no msgtype → 40008.
        assert_eq!(send("{}"), Err(InvalidMsgType));
        assert_eq!(
            send(r#"{"msgtype":"sms","touser":"o"}"#),
            Err(InvalidMsgType)
        );
        assert_eq!(
            send(r#"{"msgtype":"Text","touser":"o"}"#),
            Err(InvalidMsgType)
        );
        assert_eq!(send(r#"{"msgtype":1,"touser":"o"}"#), Err(InvalidMsgType));
        assert_eq!(
            send(r#"{"msgtype":"link","touser":"o","link":{}}"#),
            Err(InvalidMsgType)
        );
        assert_eq!(send(r#"{"msgtype":"text"}"#), Err(MissingOpenid));
        assert_eq!(
            send(r#"{"msgtype":"text","touser":""}"#),
            Err(MissingOpenid)
        );
        assert_eq!(send(r#"{"msgtype":"text","touser":7}"#), Err(MissingOpenid));
    }

    #[test]
    fn scopes() {
        let link = br#"{"touser":"o","msgtype":"link","link":{"title":"t","description":"d","url":"u","thumb_url":"p"}}"#;
        assert_eq!(parse_custom_send(link, OA), Err(InvalidMsgType));
        assert!(validate_custom_send(link, SendScope::MiniProgram).is_ok());
        let voice = br#"{"touser":"o","msgtype":"voice","voice":{"media_id":"m"}}"#;
        assert_eq!(
            parse_custom_send(voice, SendScope::MiniProgram),
            Err(InvalidMsgType)
        );
        let page = br#"{"touser":"o","msgtype":"miniprogrampage","miniprogrampage":{"title":"t"}}"#;
        assert!(validate_custom_send(page, OA).is_ok());
        assert!(validate_custom_send(page, SendScope::MiniProgram).is_ok());
    }

    #[test]
    fn unicode_escapes_are_accepted() {
        let m =
            send(r#"{"touser":"o","msgtype":"text","text":{"content":"\u4f60\u597d"}}"#).unwrap();
        assert_eq!(m.body["content"], "你好");
    }

    #[test]
    fn msgtype_names_round_trip() {
        for &m in MsgType::ALL {
            assert_eq!(MsgType::parse(m.as_str()), Some(m));
            assert_eq!(m.as_str().parse::<MsgType>(), Ok(m));
        }
    }
}
