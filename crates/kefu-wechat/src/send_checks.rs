//! Per-msgtype checks of custom send, WECHAT.md §4.3 steps 5 and 6.
//!
//! Step 5 (shape) runs over the whole object before step 6 (content) looks at any value, so a
//! body with both a wrong type and an over-long title answers 47001. An absent or `null` field
//! is not a wrong type: SDKs leave optional fields out or send them as null.

use serde_json::{Map, Value};

use crate::ErrCode;
use crate::json::opt_str;
use crate::send::MsgType;

/// Text content limit: 2048 UTF-8 bytes (§4.1 "Content limits"; kefu's reading).
pub const MAX_TEXT_BYTES: usize = 2048;
/// `news` article cap: 1 (§4.1, the current doc copy; UNCERTAIN, emulated as 1).
pub const MAX_NEWS_ARTICLES: usize = 1;
/// kefu's limits for `title`, `description`, `url` and `picurl` (§4.3 step 6), in bytes.
pub const MAX_TITLE_BYTES: usize = 64;
pub const MAX_DESCRIPTION_BYTES: usize = 120;
pub const MAX_URL_BYTES: usize = 1024;
pub const MAX_PICURL_BYTES: usize = 1024;

/// What a field of a msgtype object must be.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    /// `news.articles`: an array of objects with string `title`, `description`, `url`, `picurl`.
    Articles,
    /// `msgmenu.list`: an array of objects with string `id` and `content`.
    MenuItems,
}

/// The known fields of each msgtype's object (§4.1). Other fields are ignored, as WeChat does.
fn fields(msgtype: MsgType) -> &'static [(&'static str, Kind)] {
    use Kind::*;
    match msgtype {
        MsgType::Text => &[("content", Str)],
        MsgType::Image | MsgType::Voice | MsgType::Mpnews => &[("media_id", Str)],
        MsgType::Video => &[
            ("media_id", Str),
            ("thumb_media_id", Str),
            ("title", Str),
            ("description", Str),
        ],
        MsgType::Music => &[
            ("title", Str),
            ("description", Str),
            ("musicurl", Str),
            ("hqmusicurl", Str),
            ("thumb_media_id", Str),
        ],
        MsgType::News => &[("articles", Articles)],
        MsgType::Mpnewsarticle => &[("article_id", Str)],
        MsgType::Msgmenu => &[
            ("head_content", Str),
            ("list", MenuItems),
            ("tail_content", Str),
        ],
        MsgType::Wxcard => &[("card_id", Str), ("card_ext", Str)],
        MsgType::Miniprogrampage => &[
            ("title", Str),
            ("appid", Str),
            ("pagepath", Str),
            ("thumb_media_id", Str),
        ],
        MsgType::Link => &[
            ("title", Str),
            ("description", Str),
            ("url", Str),
            ("thumb_url", Str),
        ],
    }
}

const ARTICLE_FIELDS: &[&str] = &["title", "description", "url", "picurl"];
const MENU_ITEM_FIELDS: &[&str] = &["id", "content"];

/// Step 5: every known field has its JSON type.
pub(crate) fn check_shape(msgtype: MsgType, obj: &Map<String, Value>) -> Result<(), ErrCode> {
    for &(name, kind) in fields(msgtype) {
        match kind {
            Kind::Str => {
                opt_str(obj, name)?;
            }
            Kind::Articles => check_object_array(obj, name, ARTICLE_FIELDS)?,
            Kind::MenuItems => check_object_array(obj, name, MENU_ITEM_FIELDS)?,
        }
    }
    Ok(())
}

fn check_object_array(
    obj: &Map<String, Value>,
    name: &str,
    string_fields: &[&str],
) -> Result<(), ErrCode> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(items)) => {
            for item in items {
                let Value::Object(item) = item else {
                    return Err(ErrCode::DataFormatError);
                };
                for field in string_fields {
                    opt_str(item, field)?;
                }
            }
            Ok(())
        }
        Some(_) => Err(ErrCode::DataFormatError),
    }
}

/// Step 6, after [`check_shape`] passed (so every known field is a string, array or absent).
pub(crate) fn check_content(msgtype: MsgType, obj: &Map<String, Value>) -> Result<(), ErrCode> {
    // "any non-empty string is accepted" (step 6): kefu has no media store yet.
    let needs_media_id = matches!(
        msgtype,
        MsgType::Image | MsgType::Voice | MsgType::Video | MsgType::Mpnews
    );
    if needs_media_id && opt_str(obj, "media_id")?.unwrap_or("").is_empty() {
        return Err(ErrCode::InvalidMediaId);
    }
    match msgtype {
        MsgType::Text => {
            let content = opt_str(obj, "content")?.unwrap_or("");
            if content.is_empty() {
                return Err(ErrCode::EmptyContent);
            }
            if content.len() > MAX_TEXT_BYTES {
                return Err(ErrCode::ContentSizeOutOfLimit);
            }
        }
        MsgType::News => {
            let articles = match obj.get("articles") {
                Some(Value::Array(a)) => a.as_slice(),
                _ => &[],
            };
            if articles.is_empty() {
                return Err(ErrCode::EmptyNewsData);
            }
            if articles.len() > MAX_NEWS_ARTICLES {
                return Err(ErrCode::ArticleSizeOutOfLimit);
            }
            for article in articles {
                if let Value::Object(article) = article {
                    check_sizes(article)?;
                }
            }
            return Ok(());
        }
        _ => {}
    }
    check_sizes(obj)
}

/// The `title` / `description` / `url` / `picurl` limits, wherever those fields appear
/// (news articles, and the video, music, miniprogrampage and link objects).
fn check_sizes(obj: &Map<String, Value>) -> Result<(), ErrCode> {
    let limits = [
        ("title", MAX_TITLE_BYTES, ErrCode::TitleSizeOutOfLimit),
        (
            "description",
            MAX_DESCRIPTION_BYTES,
            ErrCode::DescriptionSizeOutOfLimit,
        ),
        ("url", MAX_URL_BYTES, ErrCode::UrlSizeOutOfLimit),
        ("picurl", MAX_PICURL_BYTES, ErrCode::PicurlSizeOutOfLimit),
    ];
    for (name, max, err) in limits {
        if opt_str(obj, name)?.is_some_and(|s| s.len() > max) {
            return Err(err);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::ErrCode::*;
    use crate::send::{SendScope, validate_custom_send};
    use std::result::Result::Ok;

    fn send(msgtype: &str, object: serde_json::Value) -> Result<(), crate::ErrCode> {
        let body = serde_json::json!({"touser": "o", "msgtype": msgtype, msgtype: object});
        validate_custom_send(body.to_string().as_bytes(), SendScope::OfficialAccount).map(|_| ())
    }

    #[test]
    fn text_content() {
        assert_eq!(send("text", serde_json::json!({})), Err(EmptyContent));
        assert_eq!(
            send("text", serde_json::json!({"content": ""})),
            Err(EmptyContent)
        );
        assert_eq!(
            send("text", serde_json::json!({"content": null})),
            Err(EmptyContent)
        );
        assert_eq!(
            send("text", serde_json::json!({"content": 5})),
            Err(DataFormatError)
        );
        assert_eq!(
            send("text", serde_json::json!({"content": "x".repeat(2048)})),
            Ok(())
        );
        assert_eq!(
            send("text", serde_json::json!({"content": "x".repeat(2049)})),
            Err(ContentSizeOutOfLimit)
        );
        // 683 three-byte characters = 2049 bytes.
        assert_eq!(
            send("text", serde_json::json!({"content": "你".repeat(683)})),
            Err(ContentSizeOutOfLimit)
        );
        assert_eq!(
            send("text", serde_json::json!({"content": "你".repeat(682)})),
            Ok(())
        );
    }

    #[test]
    fn object_missing_or_not_an_object() {
        let body = br#"{"touser":"o","msgtype":"text"}"#;
        assert_eq!(
            validate_custom_send(body, SendScope::OfficialAccount),
            Err(DataFormatError)
        );
        assert_eq!(send("text", serde_json::json!("hi")), Err(DataFormatError));
        assert_eq!(send("image", serde_json::json!(null)), Err(DataFormatError));
    }

    #[test]
    fn customservice_shape() {
        let bad =
            br#"{"touser":"o","msgtype":"text","text":{"content":"hi"},"customservice":"a@b"}"#;
        assert_eq!(
            validate_custom_send(bad, SendScope::OfficialAccount),
            Err(DataFormatError)
        );
        let bad = br#"{"touser":"o","msgtype":"text","text":{"content":"hi"},"customservice":{"kf_account":1}}"#;
        assert_eq!(
            validate_custom_send(bad, SendScope::OfficialAccount),
            Err(DataFormatError)
        );
        // Shape (step 5) comes before content (step 6).
        let both = br#"{"touser":"o","msgtype":"text","text":{"content":""},"customservice":[]}"#;
        assert_eq!(
            validate_custom_send(both, SendScope::OfficialAccount),
            Err(DataFormatError)
        );
    }

    #[test]
    fn media_ids() {
        assert_eq!(send("image", serde_json::json!({})), Err(InvalidMediaId));
        assert_eq!(
            send("voice", serde_json::json!({"media_id": ""})),
            Err(InvalidMediaId)
        );
        assert_eq!(
            send("video", serde_json::json!({"media_id": 3})),
            Err(DataFormatError)
        );
        assert_eq!(send("mpnews", serde_json::json!({"media_id": "m"})), Ok(()));
    }

    #[test]
    fn news_rules_in_order() {
        let art = |t: &str, d: &str, u: &str, p: &str| serde_json::json!({"title": t, "description": d, "url": u, "picurl": p});
        assert_eq!(send("news", serde_json::json!({})), Err(EmptyNewsData));
        assert_eq!(
            send("news", serde_json::json!({"articles": []})),
            Err(EmptyNewsData)
        );
        assert_eq!(
            send("news", serde_json::json!({"articles": {}})),
            Err(DataFormatError)
        );
        assert_eq!(
            send("news", serde_json::json!({"articles": [1]})),
            Err(DataFormatError)
        );
        assert_eq!(
            send("news", serde_json::json!({"articles": [{"title": 1}]})),
            Err(DataFormatError)
        );
        let ok = art("t", "d", "u", "p");
        assert_eq!(
            send("news", serde_json::json!({"articles": [ok.clone()]})),
            Ok(())
        );
        assert_eq!(
            send("news", serde_json::json!({"articles": [ok.clone(), ok]})),
            Err(ArticleSizeOutOfLimit)
        );
        let long = |n: usize| "x".repeat(n);
        assert_eq!(
            send(
                "news",
                serde_json::json!({"articles": [art(&long(64), &long(120), &long(1024), &long(1024))]})
            ),
            Ok(())
        );
        assert_eq!(
            send(
                "news",
                serde_json::json!({"articles": [art(&long(65), &long(121), "", "")]})
            ),
            Err(TitleSizeOutOfLimit)
        );
        assert_eq!(
            send(
                "news",
                serde_json::json!({"articles": [art("", &long(121), &long(1025), "")]})
            ),
            Err(DescriptionSizeOutOfLimit)
        );
        assert_eq!(
            send(
                "news",
                serde_json::json!({"articles": [art("", "", &long(1025), &long(1025))]})
            ),
            Err(UrlSizeOutOfLimit)
        );
        assert_eq!(
            send(
                "news",
                serde_json::json!({"articles": [art("", "", "", &long(1025))]})
            ),
            Err(PicurlSizeOutOfLimit)
        );
    }

    #[test]
    fn size_limits_apply_to_other_objects() {
        assert_eq!(
            send("music", serde_json::json!({"title": "x".repeat(65)})),
            Err(TitleSizeOutOfLimit)
        );
        assert_eq!(
            send(
                "video",
                serde_json::json!({"media_id": "m", "description": "x".repeat(121)})
            ),
            Err(DescriptionSizeOutOfLimit)
        );
    }

    #[test]
    fn msgmenu_shape() {
        assert_eq!(
            send(
                "msgmenu",
                serde_json::json!({"list": [{"id": 101, "content": "a"}]})
            ),
            Err(DataFormatError)
        );
        assert_eq!(
            send("msgmenu", serde_json::json!({"list": "x"})),
            Err(DataFormatError)
        );
        assert_eq!(
            send(
                "msgmenu",
                serde_json::json!({"head_content": "h", "list": [{"id": "1", "content": "a"}], "extra": 1})
            ),
            Ok(())
        );
    }
}
