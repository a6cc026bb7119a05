//! A `message` action's fields (WeChat's push fields in snake_case, API.md) as the
//! [`PushKind`] WeChat would push. The MsgId is set when the push is enqueued.

use kefu_wechat::PushKind;
use serde_json::{Map, Value};

/// The push of a `message` action whose fields were checked (`msgtype` known, required fields
/// present, types right). A field left out reads as WeChat's typical value: an empty string,
/// `amr` for a voice's format, 20 for a location's scale.
pub fn message_kind(fields: &Map<String, Value>) -> PushKind {
    let text = |name: &str| {
        fields
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let optional = |name: &str| fields.get(name).and_then(Value::as_str).map(str::to_owned);
    let number = |name: &str| fields.get(name).and_then(Value::as_f64).unwrap_or_default();
    let msg_id = 0;
    match fields
        .get("msgtype")
        .and_then(Value::as_str)
        .unwrap_or("text")
    {
        "image" => PushKind::Image {
            pic_url: text("pic_url"),
            media_id: text("media_id"),
            msg_id,
        },
        "voice" => PushKind::Voice {
            media_id: text("media_id"),
            format: optional("format").unwrap_or_else(|| "amr".to_owned()),
            recognition: optional("recognition"),
            msg_id,
        },
        "video" => PushKind::Video {
            media_id: text("media_id"),
            thumb_media_id: text("thumb_media_id"),
            msg_id,
        },
        "shortvideo" => PushKind::ShortVideo {
            media_id: text("media_id"),
            thumb_media_id: text("thumb_media_id"),
            msg_id,
        },
        "location" => PushKind::Location {
            location_x: number("location_x"),
            location_y: number("location_y"),
            scale: fields.get("scale").and_then(Value::as_i64).unwrap_or(20),
            label: text("label"),
            msg_id,
        },
        "link" => PushKind::Link {
            title: text("title"),
            description: text("description"),
            url: text("url"),
            msg_id,
        },
        _ => PushKind::Text {
            content: text("content"),
            msg_id,
            bizmsgmenuid: optional("bizmsgmenuid"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind(v: Value) -> PushKind {
        match v {
            Value::Object(map) => message_kind(&map),
            _ => unreachable!("test bodies are objects"),
        }
    }

    #[test]
    fn fields_become_push_fields() {
        assert_eq!(
            kind(json!({"msgtype": "text", "content": "hi", "bizmsgmenuid": "101"})),
            PushKind::Text {
                content: "hi".into(),
                msg_id: 0,
                bizmsgmenuid: Some("101".into())
            }
        );
        assert_eq!(
            kind(json!({"msgtype": "location", "location_x": 23.1, "location_y": 113.2})),
            PushKind::Location {
                location_x: 23.1,
                location_y: 113.2,
                scale: 20,
                label: String::new(),
                msg_id: 0
            }
        );
        assert_eq!(
            kind(json!({"msgtype": "voice", "media_id": "m"})),
            PushKind::Voice {
                media_id: "m".into(),
                format: "amr".into(),
                recognition: None,
                msg_id: 0
            }
        );
    }
}
