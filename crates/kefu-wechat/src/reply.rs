//! Passive replies: the XML a developer's webhook answers a push with (WECHAT.md §6.5).
//!
//! Parsing never panics: bad XML, a missing required element or an unknown `MsgType` is a
//! [`ReplyError`] (the server records `invalid_reply`, API.md). Unknown elements are ignored.
//! [`PassiveReply::body_json`] renders the reply with custom-send field names (§4.1), so the
//! inbox shows one shape per msgtype whatever the source.

use serde_json::{Map, Value, json};

use crate::push::Push;
use crate::xml::{Element, XmlError, bare, cdata, close, open, parse};

/// Why a webhook's answer is not a usable passive reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error("the root element is <{0}>, not <xml>")]
    NotXmlRoot(String),
    #[error("<{0}> is missing")]
    Missing(&'static str),
    #[error("<{0}> is not an integer")]
    BadNumber(&'static str),
    #[error("unknown MsgType {0:?}")]
    UnknownMsgType(String),
    #[error("ArticleCount says {declared} but {found} articles follow")]
    ArticleCountMismatch { declared: i64, found: usize },
    #[error("a news reply has no article")]
    EmptyNews,
}

/// A parsed passive reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassiveReply {
    /// Should be the push's `FromUserName` (the user's openid).
    pub to_user: String,
    /// Should be the push's `ToUserName` (the account's `gh_` id).
    pub from_user: String,
    pub create_time: i64,
    /// As sent: `text`, `image`, `voice`, `video`, `music`, `news` or
    /// `transfer_customer_service`.
    pub msgtype: String,
    pub body: ReplyBody,
}

/// The msgtype-specific part of a passive reply (§6.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyBody {
    Text {
        content: String,
    },
    Image {
        media_id: String,
    },
    Voice {
        media_id: String,
    },
    Video {
        media_id: String,
        title: Option<String>,
        description: Option<String>,
    },
    Music {
        title: Option<String>,
        description: Option<String>,
        music_url: Option<String>,
        hq_music_url: Option<String>,
        thumb_media_id: Option<String>,
    },
    News {
        articles: Vec<ReplyArticle>,
    },
    /// Hand the message to the legacy multi-agent system, optionally to one account.
    TransferCustomerService {
        kf_account: Option<String>,
    },
}

/// One `<item>` of a news reply; a missing element reads as empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplyArticle {
    pub title: String,
    pub description: String,
    pub pic_url: String,
    pub url: String,
}

impl PassiveReply {
    /// The reply as a custom-send msgtype object: `{"content":"hi"}` for text,
    /// `{"media_id":…}` for image and voice, `{"articles":[{title, description, url, picurl}]}`
    /// for news, and so on; optional fields only when present.
    pub fn body_json(&self) -> Value {
        match &self.body {
            ReplyBody::Text { content } => json!({ "content": content }),
            ReplyBody::Image { media_id } | ReplyBody::Voice { media_id } => {
                json!({ "media_id": media_id })
            }
            ReplyBody::Video {
                media_id,
                title,
                description,
            } => {
                let mut obj = Map::new();
                obj.insert("media_id".into(), media_id.as_str().into());
                insert_opt(&mut obj, "title", title);
                insert_opt(&mut obj, "description", description);
                Value::Object(obj)
            }
            ReplyBody::Music {
                title,
                description,
                music_url,
                hq_music_url,
                thumb_media_id,
            } => {
                let mut obj = Map::new();
                insert_opt(&mut obj, "title", title);
                insert_opt(&mut obj, "description", description);
                insert_opt(&mut obj, "musicurl", music_url);
                insert_opt(&mut obj, "hqmusicurl", hq_music_url);
                insert_opt(&mut obj, "thumb_media_id", thumb_media_id);
                Value::Object(obj)
            }
            ReplyBody::News { articles } => {
                let articles: Vec<Value> = articles
                    .iter()
                    .map(|a| json!({"title": a.title, "description": a.description, "url": a.url, "picurl": a.pic_url}))
                    .collect();
                json!({ "articles": articles })
            }
            ReplyBody::TransferCustomerService { kf_account } => {
                let mut obj = Map::new();
                insert_opt(&mut obj, "kf_account", kf_account);
                Value::Object(obj)
            }
        }
    }

    /// The reply as XML, in the compact style of WeChat's pushes (§6.5's elements and order).
    /// kefu does not send passive replies; this is for fake webhooks in tests and for replay.
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("<xml>");
        cdata(&mut out, "ToUserName", &self.to_user);
        cdata(&mut out, "FromUserName", &self.from_user);
        bare(&mut out, "CreateTime", self.create_time);
        cdata(&mut out, "MsgType", &self.msgtype);
        match &self.body {
            ReplyBody::Text { content } => cdata(&mut out, "Content", content),
            ReplyBody::Image { media_id } => wrapped_media_id(&mut out, "Image", media_id),
            ReplyBody::Voice { media_id } => wrapped_media_id(&mut out, "Voice", media_id),
            ReplyBody::Video {
                media_id,
                title,
                description,
            } => {
                open(&mut out, "Video");
                cdata(&mut out, "MediaId", media_id);
                cdata_opt(&mut out, "Title", title);
                cdata_opt(&mut out, "Description", description);
                close(&mut out, "Video");
            }
            ReplyBody::Music {
                title,
                description,
                music_url,
                hq_music_url,
                thumb_media_id,
            } => {
                open(&mut out, "Music");
                cdata_opt(&mut out, "Title", title);
                cdata_opt(&mut out, "Description", description);
                cdata_opt(&mut out, "MusicUrl", music_url);
                cdata_opt(&mut out, "HQMusicUrl", hq_music_url);
                cdata_opt(&mut out, "ThumbMediaId", thumb_media_id);
                close(&mut out, "Music");
            }
            ReplyBody::News { articles } => {
                bare(&mut out, "ArticleCount", articles.len());
                open(&mut out, "Articles");
                for a in articles {
                    open(&mut out, "item");
                    cdata(&mut out, "Title", &a.title);
                    cdata(&mut out, "Description", &a.description);
                    cdata(&mut out, "PicUrl", &a.pic_url);
                    cdata(&mut out, "Url", &a.url);
                    close(&mut out, "item");
                }
                close(&mut out, "Articles");
            }
            ReplyBody::TransferCustomerService { kf_account } => {
                if let Some(account) = kf_account {
                    open(&mut out, "TransInfo");
                    cdata(&mut out, "KfAccount", account);
                    close(&mut out, "TransInfo");
                }
            }
        }
        out.push_str("</xml>");
        out
    }

    /// Whether the reply swaps the push's To/From as it should (§6.5).
    pub fn answers(&self, push: &Push) -> bool {
        self.to_user == push.from_user && self.from_user == push.to_user
    }
}

fn wrapped_media_id(out: &mut String, wrapper: &str, media_id: &str) {
    open(out, wrapper);
    cdata(out, "MediaId", media_id);
    close(out, wrapper);
}

fn cdata_opt(out: &mut String, name: &str, value: &Option<String>) {
    if let Some(v) = value {
        cdata(out, name, v);
    }
}

fn insert_opt(obj: &mut Map<String, Value>, key: &str, value: &Option<String>) {
    if let Some(v) = value {
        obj.insert(key.to_owned(), v.as_str().into());
    }
}

/// Parses a passive reply. Never panics.
pub fn parse_passive_reply(xml: &[u8]) -> Result<PassiveReply, ReplyError> {
    let root = parse(xml)?;
    if root.name != "xml" {
        return Err(ReplyError::NotXmlRoot(root.name));
    }
    let to_user = required(&root, "ToUserName")?.to_owned();
    let from_user = required(&root, "FromUserName")?.to_owned();
    let create_time = integer(&root, "CreateTime")?;
    let msgtype = required(&root, "MsgType")?.to_owned();
    let body = match msgtype.as_str() {
        "text" => ReplyBody::Text {
            content: required(&root, "Content")?.to_owned(),
        },
        "image" => ReplyBody::Image {
            media_id: media_id(&root, "Image")?,
        },
        "voice" => ReplyBody::Voice {
            media_id: media_id(&root, "Voice")?,
        },
        "video" => {
            let video = root.child("Video").ok_or(ReplyError::Missing("Video"))?;
            ReplyBody::Video {
                media_id: required(video, "MediaId")?.to_owned(),
                title: optional(video, "Title"),
                description: optional(video, "Description"),
            }
        }
        "music" => {
            let music = root.child("Music").ok_or(ReplyError::Missing("Music"))?;
            ReplyBody::Music {
                title: optional(music, "Title"),
                description: optional(music, "Description"),
                music_url: optional(music, "MusicUrl"),
                hq_music_url: optional(music, "HQMusicUrl"),
                thumb_media_id: optional(music, "ThumbMediaId"),
            }
        }
        "news" => news(&root)?,
        "transfer_customer_service" => ReplyBody::TransferCustomerService {
            kf_account: root
                .child("TransInfo")
                .and_then(|t| optional(t, "KfAccount")),
        },
        _ => return Err(ReplyError::UnknownMsgType(msgtype)),
    };
    Ok(PassiveReply {
        to_user,
        from_user,
        create_time,
        msgtype,
        body,
    })
}

/// What a webhook answered a push with: `Ok(None)` for the acknowledgements `success` and the
/// empty body (§6.2; surrounding whitespace tolerated), else the parsed reply.
pub fn parse_push_response(body: &[u8]) -> Result<Option<PassiveReply>, ReplyError> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() || trimmed == b"success" {
        return Ok(None);
    }
    parse_passive_reply(body).map(Some)
}

fn news(root: &Element) -> Result<ReplyBody, ReplyError> {
    let declared = integer(root, "ArticleCount")?;
    let articles: Vec<ReplyArticle> = root
        .child("Articles")
        .map(|a| a.children_named("item").map(article).collect())
        .unwrap_or_default();
    if articles.is_empty() {
        return Err(ReplyError::EmptyNews);
    }
    if usize::try_from(declared).ok() != Some(articles.len()) {
        return Err(ReplyError::ArticleCountMismatch {
            declared,
            found: articles.len(),
        });
    }
    Ok(ReplyBody::News { articles })
}

fn article(item: &Element) -> ReplyArticle {
    let text = |name: &str| item.child_text(name).unwrap_or_default().to_owned();
    ReplyArticle {
        title: text("Title"),
        description: text("Description"),
        pic_url: text("PicUrl"),
        url: text("Url"),
    }
}

fn required<'a>(parent: &'a Element, name: &'static str) -> Result<&'a str, ReplyError> {
    parent.child_text(name).ok_or(ReplyError::Missing(name))
}

fn optional(parent: &Element, name: &str) -> Option<String> {
    parent.child_text(name).map(str::to_owned)
}

fn integer(parent: &Element, name: &'static str) -> Result<i64, ReplyError> {
    required(parent, name)?
        .trim()
        .parse()
        .map_err(|_| ReplyError::BadNumber(name))
}

fn media_id(root: &Element, wrapper: &'static str) -> Result<String, ReplyError> {
    let inner = root.child(wrapper).ok_or(ReplyError::Missing(wrapper))?;
    Ok(required(inner, "MediaId")?.to_owned())
}

#[cfg(test)]
#[path = "reply_tests.rs"]
mod tests;
