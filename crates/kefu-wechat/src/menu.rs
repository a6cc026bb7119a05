//! Custom menu: `menu/create`, `menu/get`, `menu/delete` (WECHAT.md §7).
//!
//! [`parse_menu_create`] checks a menu the way WeChat does (button counts, types, the byte
//! limits of names, keys and URLs) and keeps it as sent; `menu/get` answers it back with
//! `"sub_button":[]` on every leaf, as WeChat's answers have it (wechatpy's menu_get fixture).

use serde::{Deserialize, Serialize};

use crate::ErrCode;
use crate::json::parse_body;
use crate::push::PushKind;

/// A button: a leaf with a `type`, or a parent with `sub_button`s.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub article_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagepath: Option<String>,
    #[serde(default)]
    pub sub_button: Vec<Button>,
}

/// The `menu/create` body: `{"button":[...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Menu {
    pub button: Vec<Button>,
}

/// The `menu/get` answer: `{"menu":{"button":[...]}}` (plus `conditionalmenu` when present).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MenuGetResponse {
    pub menu: Menu,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditionalmenu: Option<Vec<serde_json::Value>>,
}

impl MenuGetResponse {
    pub fn to_json(&self) -> String {
        crate::json::to_json(self)
    }
}

/// The button types (§7, WxConsts `MenuButtonType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ButtonType {
    Click,
    View,
    Miniprogram,
    ScancodePush,
    ScancodeWaitmsg,
    PicSysphoto,
    PicPhotoOrAlbum,
    PicWeixin,
    LocationSelect,
    MediaId,
    ViewLimited,
    ArticleId,
    ArticleViewLimited,
}

impl ButtonType {
    pub fn parse(s: &str) -> Option<ButtonType> {
        Some(match s {
            "click" => ButtonType::Click,
            "view" => ButtonType::View,
            "miniprogram" => ButtonType::Miniprogram,
            "scancode_push" => ButtonType::ScancodePush,
            "scancode_waitmsg" => ButtonType::ScancodeWaitmsg,
            "pic_sysphoto" => ButtonType::PicSysphoto,
            "pic_photo_or_album" => ButtonType::PicPhotoOrAlbum,
            "pic_weixin" => ButtonType::PicWeixin,
            "location_select" => ButtonType::LocationSelect,
            "media_id" => ButtonType::MediaId,
            "view_limited" => ButtonType::ViewLimited,
            "article_id" => ButtonType::ArticleId,
            "article_view_limited" => ButtonType::ArticleViewLimited,
            _ => return None,
        })
    }

    /// The wire name (`click`, `view`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ButtonType::Click => "click",
            ButtonType::View => "view",
            ButtonType::Miniprogram => "miniprogram",
            ButtonType::ScancodePush => "scancode_push",
            ButtonType::ScancodeWaitmsg => "scancode_waitmsg",
            ButtonType::PicSysphoto => "pic_sysphoto",
            ButtonType::PicPhotoOrAlbum => "pic_photo_or_album",
            ButtonType::PicWeixin => "pic_weixin",
            ButtonType::LocationSelect => "location_select",
            ButtonType::MediaId => "media_id",
            ButtonType::ViewLimited => "view_limited",
            ButtonType::ArticleId => "article_id",
            ButtonType::ArticleViewLimited => "article_view_limited",
        }
    }

    /// The `Event` WeChat pushes when a button of this type is tapped (§6.4); `None` for the
    /// types that push nothing (`media_id`, `view_limited` and the article buttons).
    pub fn event(self) -> Option<&'static str> {
        Some(match self {
            ButtonType::Click => "CLICK",
            ButtonType::View => "VIEW",
            ButtonType::Miniprogram => "view_miniprogram",
            ButtonType::ScancodePush => "scancode_push",
            ButtonType::ScancodeWaitmsg => "scancode_waitmsg",
            ButtonType::PicSysphoto => "pic_sysphoto",
            ButtonType::PicPhotoOrAlbum => "pic_photo_or_album",
            ButtonType::PicWeixin => "pic_weixin",
            ButtonType::LocationSelect => "location_select",
            ButtonType::MediaId
            | ButtonType::ViewLimited
            | ButtonType::ArticleId
            | ButtonType::ArticleViewLimited => return None,
        })
    }

    /// Whether a tap opens the customer-service window: only `click`, `scancode_push` and
    /// `scancode_waitmsg` do (§5.1).
    pub fn opens_window(self) -> bool {
        matches!(
            self,
            ButtonType::Click | ButtonType::ScancodePush | ButtonType::ScancodeWaitmsg
        )
    }

    /// Types that push an event carrying the button's `key`.
    fn needs_key(self) -> bool {
        matches!(
            self,
            ButtonType::Click
                | ButtonType::ScancodePush
                | ButtonType::ScancodeWaitmsg
                | ButtonType::PicSysphoto
                | ButtonType::PicPhotoOrAlbum
                | ButtonType::PicWeixin
                | ButtonType::LocationSelect
        )
    }
}

/// Limits (§7): 1–3 top-level buttons, 1–5 sub-buttons; names ≤16 bytes at the top, ≤60 in a
/// sub-menu; keys ≤128 bytes; URLs ≤1024 bytes.
pub const MAX_BUTTONS: usize = 3;
pub const MAX_SUB_BUTTONS: usize = 5;
pub const MAX_TOP_NAME_BYTES: usize = 16;
pub const MAX_SUB_NAME_BYTES: usize = 60;
pub const MAX_KEY_BYTES: usize = 128;
pub const MAX_BUTTON_URL_BYTES: usize = 1024;

/// Parses and checks a `menu/create` body: empty → 44002; bad JSON or shape → 47001; then
/// 40016 (button count), 40023 (sub-button count), 40018 (name), 40017 (type), 40019 (key),
/// 40020 (url), 40007 (media_id), 40035 (appid/pagepath/article_id missing), button by button.
pub fn parse_menu_create(body: &[u8]) -> Result<Menu, ErrCode> {
    let menu: Menu = parse_body(body)?;
    if menu.button.is_empty() || menu.button.len() > MAX_BUTTONS {
        return Err(ErrCode::InvalidButtonSize);
    }
    for top in &menu.button {
        if top.sub_button.len() > MAX_SUB_BUTTONS {
            return Err(ErrCode::InvalidSubButtonSize);
        }
        check_name(&top.name, MAX_TOP_NAME_BYTES)?;
        if top.sub_button.is_empty() {
            check_leaf(top)?;
        }
        for sub in &top.sub_button {
            check_name(&sub.name, MAX_SUB_NAME_BYTES)?;
            check_leaf(sub)?;
        }
    }
    Ok(menu)
}

fn check_name(name: &str, max: usize) -> Result<(), ErrCode> {
    if name.is_empty() || name.len() > max {
        return Err(ErrCode::InvalidButtonNameSize);
    }
    Ok(())
}

fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

fn check_leaf(b: &Button) -> Result<(), ErrCode> {
    let kind = b
        .kind
        .as_deref()
        .and_then(ButtonType::parse)
        .ok_or(ErrCode::InvalidButtonType)?;
    if kind.needs_key() && present(&b.key).is_none_or(|k| k.len() > MAX_KEY_BYTES) {
        return Err(ErrCode::InvalidButtonKeySize);
    }
    if matches!(kind, ButtonType::View | ButtonType::Miniprogram)
        && present(&b.url).is_none_or(|u| u.len() > MAX_BUTTON_URL_BYTES)
    {
        return Err(ErrCode::InvalidButtonUrlSize);
    }
    if kind == ButtonType::Miniprogram
        && (present(&b.appid).is_none() || present(&b.pagepath).is_none())
    {
        return Err(ErrCode::InvalidArgsSize);
    }
    if matches!(kind, ButtonType::MediaId | ButtonType::ViewLimited)
        && present(&b.media_id).is_none()
    {
        return Err(ErrCode::InvalidMediaId);
    }
    if matches!(kind, ButtonType::ArticleId | ButtonType::ArticleViewLimited)
        && present(&b.article_id).is_none()
    {
        return Err(ErrCode::InvalidArgsSize);
    }
    Ok(())
}

impl Menu {
    /// Every leaf button, top-level leaves and sub-buttons, in menu order.
    pub fn leaves(&self) -> impl Iterator<Item = &Button> {
        self.button.iter().flat_map(|b| {
            if b.sub_button.is_empty() {
                std::slice::from_ref(b)
            } else {
                &b.sub_button[..]
            }
        })
    }

    /// The leaf a user "clicks" in kefu's user API (API.md `menu_click`): by `key`, or the `url`
    /// of a `view` button, or the `pagepath` of a `miniprogram` button. Buttons that carry no
    /// key by nature answer to their `media_id` or `article_id` too.
    pub fn find_target(&self, target: &str) -> Option<&Button> {
        self.leaves().find(|b| {
            let kind = b.kind.as_deref().and_then(ButtonType::parse);
            let by_key = b.key.as_deref() == Some(target);
            match kind {
                Some(ButtonType::View) => b.url.as_deref() == Some(target),
                Some(ButtonType::Miniprogram) => b.pagepath.as_deref() == Some(target),
                Some(ButtonType::MediaId | ButtonType::ViewLimited) => {
                    by_key || b.media_id.as_deref() == Some(target)
                }
                Some(ButtonType::ArticleId | ButtonType::ArticleViewLimited) => {
                    by_key || b.article_id.as_deref() == Some(target)
                }
                _ => by_key,
            }
        })
    }

    /// The `menu/get` answer for this menu.
    pub fn get_response(&self) -> MenuGetResponse {
        MenuGetResponse {
            menu: self.clone(),
            conditionalmenu: None,
        }
    }
}

impl Button {
    pub fn button_type(&self) -> Option<ButtonType> {
        self.kind.as_deref().and_then(ButtonType::parse)
    }

    /// The event WeChat pushes when this leaf is tapped (§6.4), for the types whose event
    /// carries nothing but the button (`scancode_*` take the scanned text). The picture and
    /// location types carry what the user picked, and `media_id`/`view_limited`/article
    /// buttons push nothing: `None`.
    pub fn tap_event(&self, scan_result: Option<&str>, menu_id: Option<&str>) -> Option<PushKind> {
        let key = || self.key.clone().unwrap_or_default();
        let scan = || {
            (
                key(),
                "qrcode".to_owned(),
                scan_result.unwrap_or_default().to_owned(),
            )
        };
        Some(match self.button_type()? {
            ButtonType::Click => PushKind::Click { key: key() },
            ButtonType::View => PushKind::View {
                url: self.url.clone()?,
                menu_id: menu_id.map(str::to_owned),
            },
            ButtonType::Miniprogram => PushKind::ViewMiniprogram {
                page_path: self.pagepath.clone()?,
                menu_id: menu_id.map(str::to_owned),
            },
            ButtonType::ScancodePush => {
                let (key, scan_type, scan_result) = scan();
                PushKind::ScancodePush {
                    key,
                    scan_type,
                    scan_result,
                }
            }
            ButtonType::ScancodeWaitmsg => {
                let (key, scan_type, scan_result) = scan();
                PushKind::ScancodeWaitmsg {
                    key,
                    scan_type,
                    scan_result,
                }
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC_MENU: &str = r#"{"button":[
  {"type":"click","name":"今日歌曲","key":"V1001_TODAY_MUSIC"},
  {"name":"菜单","sub_button":[
    {"type":"view","name":"搜索","url":"http://www.soso.com/"},
    {"type":"click","name":"赞一下我们","key":"V1001_GOOD"}]}]}"#;

    #[test]
    fn documented_menu_round_trips_as_menu_get() {
        let menu = parse_menu_create(DOC_MENU.as_bytes()).unwrap();
        assert_eq!(
            menu.get_response().to_json(),
            r#"{"menu":{"button":[{"type":"click","name":"今日歌曲","key":"V1001_TODAY_MUSIC","sub_button":[]},{"name":"菜单","sub_button":[{"type":"view","name":"搜索","url":"http://www.soso.com/","sub_button":[]},{"type":"click","name":"赞一下我们","key":"V1001_GOOD","sub_button":[]}]}]}}"#
        );
        let got: MenuGetResponse = serde_json::from_str(&menu.get_response().to_json()).unwrap();
        assert_eq!(got.menu, menu);
    }

    #[test]
    fn targets_and_events() {
        let menu = parse_menu_create(DOC_MENU.as_bytes()).unwrap();
        assert_eq!(menu.leaves().count(), 3);
        let good = menu.find_target("V1001_GOOD").unwrap();
        assert_eq!(
            good.tap_event(None, None),
            Some(PushKind::Click {
                key: "V1001_GOOD".into()
            })
        );
        let view = menu.find_target("http://www.soso.com/").unwrap();
        assert_eq!(
            view.tap_event(None, Some("7")),
            Some(PushKind::View {
                url: "http://www.soso.com/".into(),
                menu_id: Some("7".into())
            })
        );
        assert!(menu.find_target("菜单").is_none());
        let scan = Button {
            kind: Some("scancode_waitmsg".into()),
            key: Some("k".into()),
            ..Button::default()
        };
        assert_eq!(
            scan.tap_event(Some("hello"), None),
            Some(PushKind::ScancodeWaitmsg {
                key: "k".into(),
                scan_type: "qrcode".into(),
                scan_result: "hello".into()
            })
        );
        for (kind, event, opens) in [
            ("click", Some("CLICK"), true),
            ("scancode_push", Some("scancode_push"), true),
            ("scancode_waitmsg", Some("scancode_waitmsg"), true),
            ("view", Some("VIEW"), false),
            ("miniprogram", Some("view_miniprogram"), false),
            ("pic_weixin", Some("pic_weixin"), false),
            ("location_select", Some("location_select"), false),
            ("media_id", None, false),
            ("view_limited", None, false),
            ("article_id", None, false),
            ("article_view_limited", None, false),
        ] {
            let t = ButtonType::parse(kind).unwrap();
            assert_eq!(
                (t.as_str(), t.event(), t.opens_window()),
                (kind, event, opens)
            );
        }
        let media = Button {
            kind: Some("media_id".into()),
            media_id: Some("m".into()),
            ..Button::default()
        };
        assert_eq!(media.tap_event(None, None), None);
    }

    fn menu(buttons: serde_json::Value) -> Result<Menu, ErrCode> {
        parse_menu_create(
            serde_json::json!({ "button": buttons })
                .to_string()
                .as_bytes(),
        )
    }

    #[test]
    fn menu_errors() {
        use serde_json::json;
        let click = |name: &str, key: &str| json!({"type": "click", "name": name, "key": key});
        assert_eq!(parse_menu_create(b""), Err(ErrCode::EmptyPostData));
        assert_eq!(
            parse_menu_create(b"{\"button\":1}"),
            Err(ErrCode::DataFormatError)
        );
        assert_eq!(parse_menu_create(b"{}"), Err(ErrCode::DataFormatError));
        assert_eq!(menu(json!([])), Err(ErrCode::InvalidButtonSize));
        assert_eq!(
            menu(json!([
                click("a", "k"),
                click("b", "k"),
                click("c", "k"),
                click("d", "k")
            ])),
            Err(ErrCode::InvalidButtonSize)
        );
        let six: Vec<_> = (0..6).map(|i| click(&i.to_string(), "k")).collect();
        assert_eq!(
            menu(json!([{"name": "p", "sub_button": six}])),
            Err(ErrCode::InvalidSubButtonSize)
        );
        assert_eq!(
            menu(json!([click("", "k")])),
            Err(ErrCode::InvalidButtonNameSize)
        );
        assert_eq!(
            menu(json!([click(&"x".repeat(17), "k")])),
            Err(ErrCode::InvalidButtonNameSize)
        );
        assert!(menu(json!([{"name": "p", "sub_button": [click(&"x".repeat(60), "k")]}])).is_ok());
        assert_eq!(
            menu(json!([{"name": "p", "sub_button": [click(&"x".repeat(61), "k")]}])),
            Err(ErrCode::InvalidButtonNameSize)
        );
        assert_eq!(
            menu(json!([{"type": "tap", "name": "a", "key": "k"}])),
            Err(ErrCode::InvalidButtonType)
        );
        assert_eq!(
            menu(json!([{"name": "a"}])),
            Err(ErrCode::InvalidButtonType)
        );
        assert_eq!(
            menu(json!([click("a", "")])),
            Err(ErrCode::InvalidButtonKeySize)
        );
        assert_eq!(
            menu(json!([click("a", &"k".repeat(129))])),
            Err(ErrCode::InvalidButtonKeySize)
        );
        assert_eq!(
            menu(json!([{"type": "view", "name": "a"}])),
            Err(ErrCode::InvalidButtonUrlSize)
        );
        assert_eq!(
            menu(json!([{"type": "miniprogram", "name": "a", "url": "http://x"}])),
            Err(ErrCode::InvalidArgsSize)
        );
        assert!(menu(json!([{"type": "miniprogram", "name": "a", "url": "http://x", "appid": "wx", "pagepath": "p"}])).is_ok());
        assert_eq!(
            menu(json!([{"type": "media_id", "name": "a"}])),
            Err(ErrCode::InvalidMediaId)
        );
        assert_eq!(
            menu(json!([{"type": "article_id", "name": "a"}])),
            Err(ErrCode::InvalidArgsSize)
        );
    }
}
