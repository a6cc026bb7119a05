//! Pushes: what kefu POSTs to the developer's webhook when a user acts (WECHAT.md §6.2–§6.4).
//!
//! Element names, casing and order follow WeChat's documented samples; strings are CDATA and
//! numbers bare (§6.2). Coordinates of the `location` message and the `LOCATION` event are
//! printed with six decimals as in WeChat's samples (`23.134521`, `119.385040`);
//! `location_select` carries its coordinates as CDATA strings, as WeChat's sample does.

use crate::xml::{bare, cdata, close, open};

/// One push: the common head (§6.3) and what happened.
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    /// The account's original id (`gh_…`).
    pub to_user: String,
    /// The user's openid.
    pub from_user: String,
    /// Unix seconds on the rule clock.
    pub create_time: i64,
    pub kind: PushKind,
}

/// The messages of §6.3 and the events of §6.4.
#[derive(Debug, Clone, PartialEq)]
pub enum PushKind {
    // Messages (§6.3).
    /// `bizmsgmenuid` is set when the user tapped a `msgmenu` item (§4.1).
    Text {
        content: String,
        msg_id: i64,
        bizmsgmenuid: Option<String>,
    },
    Image {
        pic_url: String,
        media_id: String,
        msg_id: i64,
    },
    Voice {
        media_id: String,
        format: String,
        recognition: Option<String>,
        msg_id: i64,
    },
    Video {
        media_id: String,
        thumb_media_id: String,
        msg_id: i64,
    },
    ShortVideo {
        media_id: String,
        thumb_media_id: String,
        msg_id: i64,
    },
    Location {
        location_x: f64,
        location_y: f64,
        scale: i64,
        label: String,
        msg_id: i64,
    },
    Link {
        title: String,
        description: String,
        url: String,
        msg_id: i64,
    },
    /// Mini-program customer service only.
    MiniProgramPage {
        app_id: String,
        title: String,
        page_path: String,
        thumb_url: String,
        thumb_media_id: String,
        msg_id: i64,
    },

    // Events (§6.4).
    /// `qr` = (scene, ticket) when followed through a parametric QR code; the push's
    /// `EventKey` is `qrscene_<scene>`.
    Subscribe {
        qr: Option<(String, String)>,
    },
    Unsubscribe,
    /// An existing follower scanned a parametric QR code.
    Scan {
        scene: String,
        ticket: String,
    },
    /// The `LOCATION` report event (not the `location` message).
    LocationReport {
        latitude: f64,
        longitude: f64,
        precision: f64,
    },
    Click {
        key: String,
    },
    View {
        url: String,
        menu_id: Option<String>,
    },
    ViewMiniprogram {
        page_path: String,
        menu_id: Option<String>,
    },
    ScancodePush {
        key: String,
        scan_type: String,
        scan_result: String,
    },
    ScancodeWaitmsg {
        key: String,
        scan_type: String,
        scan_result: String,
    },
    PicSysphoto {
        key: String,
        pic_md5_sums: Vec<String>,
    },
    PicPhotoOrAlbum {
        key: String,
        pic_md5_sums: Vec<String>,
    },
    PicWeixin {
        key: String,
        pic_md5_sums: Vec<String>,
    },
    LocationSelect {
        key: String,
        location_x: String,
        location_y: String,
        scale: String,
        label: String,
        poiname: Option<String>,
    },
    MassSendJobFinish {
        msg_id: i64,
        status: String,
        total_count: i64,
        filter_count: i64,
        sent_count: i64,
        error_count: i64,
    },
    TemplateSendJobFinish {
        msg_id: i64,
        status: String,
    },
    KfCreateSession {
        kf_account: String,
    },
    KfCloseSession {
        kf_account: String,
    },
    KfSwitchSession {
        from_kf_account: String,
        to_kf_account: String,
    },
}

impl PushKind {
    /// `MsgType`: the message's type, or `event`.
    pub fn msg_type(&self) -> &'static str {
        match self {
            PushKind::Text { .. } => "text",
            PushKind::Image { .. } => "image",
            PushKind::Voice { .. } => "voice",
            PushKind::Video { .. } => "video",
            PushKind::ShortVideo { .. } => "shortvideo",
            PushKind::Location { .. } => "location",
            PushKind::Link { .. } => "link",
            PushKind::MiniProgramPage { .. } => "miniprogrampage",
            _ => "event",
        }
    }

    /// `Event`, with WeChat's casing, for events; `None` for messages.
    pub fn event(&self) -> Option<&'static str> {
        Some(match self {
            PushKind::Subscribe { .. } => "subscribe",
            PushKind::Unsubscribe => "unsubscribe",
            PushKind::Scan { .. } => "SCAN",
            PushKind::LocationReport { .. } => "LOCATION",
            PushKind::Click { .. } => "CLICK",
            PushKind::View { .. } => "VIEW",
            PushKind::ViewMiniprogram { .. } => "view_miniprogram",
            PushKind::ScancodePush { .. } => "scancode_push",
            PushKind::ScancodeWaitmsg { .. } => "scancode_waitmsg",
            PushKind::PicSysphoto { .. } => "pic_sysphoto",
            PushKind::PicPhotoOrAlbum { .. } => "pic_photo_or_album",
            PushKind::PicWeixin { .. } => "pic_weixin",
            PushKind::LocationSelect { .. } => "location_select",
            PushKind::MassSendJobFinish { .. } => "MASSSENDJOBFINISH",
            PushKind::TemplateSendJobFinish { .. } => "TEMPLATESENDJOBFINISH",
            PushKind::KfCreateSession { .. } => "kf_create_session",
            PushKind::KfCloseSession { .. } => "kf_close_session",
            PushKind::KfSwitchSession { .. } => "kf_switch_session",
            _ => return None,
        })
    }
}

impl Push {
    /// The push body, byte for byte as WeChat sends it.
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("<xml>");
        self.write_fields(&mut out);
        out.push_str("</xml>");
        out
    }

    /// `MsgId` of a message; events have none (§6.4; dedupe them by `FromUserName` +
    /// `CreateTime`, §6.2). The job-finish events' `MsgID` is a mass-send id, not this.
    pub fn msg_id(&self) -> Option<i64> {
        match &self.kind {
            PushKind::Text { msg_id, .. }
            | PushKind::Image { msg_id, .. }
            | PushKind::Voice { msg_id, .. }
            | PushKind::Video { msg_id, .. }
            | PushKind::ShortVideo { msg_id, .. }
            | PushKind::Location { msg_id, .. }
            | PushKind::Link { msg_id, .. }
            | PushKind::MiniProgramPage { msg_id, .. } => Some(*msg_id),
            _ => None,
        }
    }

    /// Sets the `MsgId` of a message push (fixed by whoever enqueues it); events have none, so
    /// this returns `false` and changes nothing for them.
    pub fn set_msg_id(&mut self, id: i64) -> bool {
        match &mut self.kind {
            PushKind::Text { msg_id, .. }
            | PushKind::Image { msg_id, .. }
            | PushKind::Voice { msg_id, .. }
            | PushKind::Video { msg_id, .. }
            | PushKind::ShortVideo { msg_id, .. }
            | PushKind::Location { msg_id, .. }
            | PushKind::Link { msg_id, .. }
            | PushKind::MiniProgramPage { msg_id, .. } => {
                *msg_id = id;
                true
            }
            _ => false,
        }
    }

    /// What API.md calls `event`: the `MsgType` of a message (`text`, …) or the `Event` of an
    /// event (`subscribe`, `CLICK`, …).
    pub fn event_name(&self) -> &'static str {
        self.kind.event().unwrap_or_else(|| self.kind.msg_type())
    }

    /// Everything between `<xml>` and `</xml>`; the compatible-mode body appends `<Encrypt>`.
    pub(crate) fn write_fields(&self, out: &mut String) {
        cdata(out, "ToUserName", &self.to_user);
        cdata(out, "FromUserName", &self.from_user);
        bare(out, "CreateTime", self.create_time);
        cdata(out, "MsgType", self.kind.msg_type());
        if let Some(event) = self.kind.event() {
            cdata(out, "Event", event);
        }
        write_kind(out, &self.kind);
    }
}

fn write_kind(out: &mut String, kind: &PushKind) {
    match kind {
        PushKind::Text {
            content,
            msg_id,
            bizmsgmenuid,
        } => {
            cdata(out, "Content", content);
            bare(out, "MsgId", msg_id);
            // Lower-case element name, as WeChat sends it (§4.1).
            if let Some(id) = bizmsgmenuid {
                cdata(out, "bizmsgmenuid", id);
            }
        }
        PushKind::Image {
            pic_url,
            media_id,
            msg_id,
        } => {
            cdata(out, "PicUrl", pic_url);
            cdata(out, "MediaId", media_id);
            bare(out, "MsgId", msg_id);
        }
        PushKind::Voice {
            media_id,
            format,
            recognition,
            msg_id,
        } => {
            cdata(out, "MediaId", media_id);
            cdata(out, "Format", format);
            if let Some(r) = recognition {
                cdata(out, "Recognition", r);
            }
            bare(out, "MsgId", msg_id);
        }
        PushKind::Video {
            media_id,
            thumb_media_id,
            msg_id,
        }
        | PushKind::ShortVideo {
            media_id,
            thumb_media_id,
            msg_id,
        } => {
            cdata(out, "MediaId", media_id);
            cdata(out, "ThumbMediaId", thumb_media_id);
            bare(out, "MsgId", msg_id);
        }
        PushKind::Location {
            location_x,
            location_y,
            scale,
            label,
            msg_id,
        } => {
            bare(out, "Location_X", format_args!("{location_x:.6}"));
            bare(out, "Location_Y", format_args!("{location_y:.6}"));
            bare(out, "Scale", scale);
            cdata(out, "Label", label);
            bare(out, "MsgId", msg_id);
        }
        PushKind::Link {
            title,
            description,
            url,
            msg_id,
        } => {
            cdata(out, "Title", title);
            cdata(out, "Description", description);
            cdata(out, "Url", url);
            bare(out, "MsgId", msg_id);
        }
        // The mini-program sample puts MsgId before the page fields.
        PushKind::MiniProgramPage {
            app_id,
            title,
            page_path,
            thumb_url,
            thumb_media_id,
            msg_id,
        } => {
            bare(out, "MsgId", msg_id);
            cdata(out, "AppId", app_id);
            cdata(out, "Title", title);
            cdata(out, "PagePath", page_path);
            cdata(out, "ThumbUrl", thumb_url);
            cdata(out, "ThumbMediaId", thumb_media_id);
        }
        PushKind::Subscribe { qr } => {
            if let Some((scene, ticket)) = qr {
                cdata(out, "EventKey", &format!("qrscene_{scene}"));
                cdata(out, "Ticket", ticket);
            }
        }
        PushKind::Unsubscribe => {}
        PushKind::Scan { scene, ticket } => {
            cdata(out, "EventKey", scene);
            cdata(out, "Ticket", ticket);
        }
        PushKind::LocationReport {
            latitude,
            longitude,
            precision,
        } => {
            bare(out, "Latitude", format_args!("{latitude:.6}"));
            bare(out, "Longitude", format_args!("{longitude:.6}"));
            bare(out, "Precision", format_args!("{precision:.6}"));
        }
        PushKind::Click { key } => cdata(out, "EventKey", key),
        PushKind::View { url, menu_id } => {
            cdata(out, "EventKey", url);
            if let Some(m) = menu_id {
                cdata(out, "MenuId", m);
            }
        }
        PushKind::ViewMiniprogram { page_path, menu_id } => {
            cdata(out, "EventKey", page_path);
            if let Some(m) = menu_id {
                cdata(out, "MenuId", m);
            }
        }
        PushKind::ScancodePush {
            key,
            scan_type,
            scan_result,
        }
        | PushKind::ScancodeWaitmsg {
            key,
            scan_type,
            scan_result,
        } => {
            cdata(out, "EventKey", key);
            open(out, "ScanCodeInfo");
            cdata(out, "ScanType", scan_type);
            cdata(out, "ScanResult", scan_result);
            close(out, "ScanCodeInfo");
        }
        PushKind::PicSysphoto { key, pic_md5_sums }
        | PushKind::PicPhotoOrAlbum { key, pic_md5_sums }
        | PushKind::PicWeixin { key, pic_md5_sums } => {
            cdata(out, "EventKey", key);
            open(out, "SendPicsInfo");
            bare(out, "Count", pic_md5_sums.len());
            open(out, "PicList");
            for sum in pic_md5_sums {
                open(out, "item");
                cdata(out, "PicMd5Sum", sum);
                close(out, "item");
            }
            close(out, "PicList");
            close(out, "SendPicsInfo");
        }
        PushKind::LocationSelect {
            key,
            location_x,
            location_y,
            scale,
            label,
            poiname,
        } => {
            cdata(out, "EventKey", key);
            open(out, "SendLocationInfo");
            cdata(out, "Location_X", location_x);
            cdata(out, "Location_Y", location_y);
            cdata(out, "Scale", scale);
            cdata(out, "Label", label);
            if let Some(p) = poiname {
                cdata(out, "Poiname", p);
            }
            close(out, "SendLocationInfo");
        }
        PushKind::MassSendJobFinish {
            msg_id,
            status,
            total_count,
            filter_count,
            sent_count,
            error_count,
        } => {
            bare(out, "MsgID", msg_id);
            cdata(out, "Status", status);
            bare(out, "TotalCount", total_count);
            bare(out, "FilterCount", filter_count);
            bare(out, "SentCount", sent_count);
            bare(out, "ErrorCount", error_count);
        }
        PushKind::TemplateSendJobFinish { msg_id, status } => {
            bare(out, "MsgID", msg_id);
            cdata(out, "Status", status);
        }
        PushKind::KfCreateSession { kf_account } | PushKind::KfCloseSession { kf_account } => {
            cdata(out, "KfAccount", kf_account);
        }
        PushKind::KfSwitchSession {
            from_kf_account,
            to_kf_account,
        } => {
            cdata(out, "FromKfAccount", from_kf_account);
            cdata(out, "ToKfAccount", to_kf_account);
        }
    }
}

#[cfg(test)]
#[path = "push_tests.rs"]
mod tests;
