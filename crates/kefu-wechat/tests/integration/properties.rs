//! Property tests: no input makes a parser panic, and the crypto and XML round trips are the
//! identity.

use kefu_wechat::{
    AesKey, ErrCode, PassiveReply, Push, PushKind, ReplyBody, SendScope, decrypt, decrypt_any,
    encrypt, parse_custom_send, parse_encrypted_envelope, parse_passive_reply, parse_push_response,
    parse_typing, signature, validate_custom_send, xml,
};
use proptest::prelude::*;

/// Everything a send can answer in steps 2–6.
const SEND_ERRCODES: &[ErrCode] = &[
    ErrCode::EmptyPostData,
    ErrCode::DataFormatError,
    ErrCode::InvalidMsgType,
    ErrCode::MissingOpenid,
    ErrCode::EmptyContent,
    ErrCode::ContentSizeOutOfLimit,
    ErrCode::EmptyNewsData,
    ErrCode::ArticleSizeOutOfLimit,
    ErrCode::TitleSizeOutOfLimit,
    ErrCode::DescriptionSizeOutOfLimit,
    ErrCode::UrlSizeOutOfLimit,
    ErrCode::PicurlSizeOutOfLimit,
    ErrCode::InvalidMediaId,
];

/// Arbitrary JSON, biased towards the keys and msgtypes the send checks look at.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let key = prop_oneof![
        Just("touser".to_owned()),
        Just("msgtype".to_owned()),
        Just("text".to_owned()),
        Just("content".to_owned()),
        Just("news".to_owned()),
        Just("articles".to_owned()),
        Just("title".to_owned()),
        Just("media_id".to_owned()),
        Just("customservice".to_owned()),
        Just("kf_account".to_owned()),
        "[a-z_]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        prop_oneof![
            Just("text".to_owned()),
            Just("news".to_owned()),
            Just("link".to_owned()),
            ".{0,70}"
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Text XML can carry: no control characters but tab and newline (and no CR, which XML
/// normalises away).
fn xml_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just(']'),
            Just('>'),
            Just('<'),
            Just('&'),
            Just('\n'),
            Just('\t'),
            Just('你'),
            any::<char>()
        ],
        0..40,
    )
    .prop_map(|cs| {
        cs.into_iter()
            .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn send_never_panics_on_bytes(body in prop::collection::vec(any::<u8>(), 0..256)) {
        for scope in [SendScope::OfficialAccount, SendScope::MiniProgram] {
            if let Ok(send) = parse_custom_send(&body, scope) {
                let _ = send.validate();
            }
        }
        let _ = parse_typing(&body);
    }

    #[test]
    fn send_answers_a_known_errcode(value in json_value()) {
        let body = value.to_string();
        for scope in [SendScope::OfficialAccount, SendScope::MiniProgram] {
            match validate_custom_send(body.as_bytes(), scope) {
                Ok(m) => {
                    prop_assert!(!m.touser.is_empty());
                    prop_assert!(m.body.is_object());
                }
                Err(e) => prop_assert!(SEND_ERRCODES.contains(&e), "{e:?} for {body}"),
            }
        }
    }

    #[test]
    fn xml_parsers_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = xml::parse(&body);
        let _ = parse_passive_reply(&body);
        let _ = parse_push_response(&body);
        let _ = parse_encrypted_envelope(&body);
    }

    #[test]
    fn xml_parsers_never_panic_on_near_xml(parts in prop::collection::vec(prop_oneof![
        Just("<xml>"), Just("</xml>"), Just("<ToUserName>"), Just("</ToUserName>"), Just("<![CDATA["),
        Just("]]>"), Just("<MsgType>text</MsgType>"), Just("<CreateTime>1</CreateTime>"), Just("&amp;"),
        Just("&#x0;"), Just("&#xD800;"), Just("&bogus;"), Just("<Content>"), Just("</Content>"), Just("<a/>"),
        Just("<!--"), Just("-->"), Just("<?xml version=\"1.0\"?>"), Just("<!DOCTYPE x>"), Just("x"), Just(" "),
    ], 0..24)) {
        let body = parts.concat();
        let _ = parse_passive_reply(body.as_bytes());
        let _ = parse_encrypted_envelope(body.as_bytes());
    }

    #[test]
    fn crypto_readers_never_panic(key in ".{0,50}", enc in ".{0,120}", raw in prop::collection::vec(any::<u8>(), 0..96)) {
        let _ = AesKey::from_encoding_aes_key(&key);
        let k = AesKey::from_bytes([9; 32]);
        let _ = decrypt(&k, &enc, "wx");
        // Valid base64 of arbitrary blocks reaches the padding and length checks.
        let b64 = encrypt_raw_base64(&raw);
        let _ = decrypt_any(&k, &b64);
    }

    #[test]
    fn encrypt_then_decrypt_is_identity(
        key in any::<[u8; 32]>(),
        random16 in any::<[u8; 16]>(),
        msg in prop::collection::vec(any::<u8>(), 0..600),
        receive_id in "[a-zA-Z0-9_]{0,32}",
    ) {
        let key = AesKey::from_bytes(key);
        let enc = encrypt(&key, &random16, &msg, &receive_id);
        prop_assert_eq!(decrypt(&key, &enc, &receive_id), Ok(msg));
    }

    #[test]
    fn key_spelling_round_trips(key in any::<[u8; 32]>()) {
        let key = AesKey::from_bytes(key);
        prop_assert_eq!(AesKey::from_encoding_aes_key(&key.to_encoding_aes_key()), Ok(key));
    }

    #[test]
    fn signature_ignores_argument_order(a in ".{0,12}", b in ".{0,12}", c in ".{0,12}") {
        prop_assert_eq!(signature(&a, &b, &c), signature(&c, &a, &b));
        prop_assert_eq!(signature(&a, &b, &c), signature(&b, &a, &c));
    }

    #[test]
    fn push_text_round_trips(content in xml_text(), to in xml_text(), msg_id in any::<i64>(), t in any::<i64>()) {
        let push = Push {
            to_user: to.clone(),
            from_user: "o".into(),
            create_time: t,
            kind: PushKind::Text { content: content.clone(), msg_id, bizmsgmenuid: None },
        };
        let doc = xml::parse(push.to_xml().as_bytes()).unwrap();
        prop_assert_eq!(doc.child_text("ToUserName"), Some(to.as_str()));
        prop_assert_eq!(doc.child_text("Content"), Some(content.as_str()));
        let (msg_id, t) = (msg_id.to_string(), t.to_string());
        prop_assert_eq!(doc.child_text("MsgId"), Some(msg_id.as_str()));
        prop_assert_eq!(doc.child_text("CreateTime"), Some(t.as_str()));
    }

    #[test]
    fn passive_reply_round_trips(content in xml_text(), title in proptest::option::of(xml_text())) {
        for body in [
            ReplyBody::Text { content: content.clone() },
            ReplyBody::Video { media_id: content.clone(), title: title.clone(), description: None },
        ] {
            let msgtype = match body { ReplyBody::Text { .. } => "text", _ => "video" };
            let reply = PassiveReply {
                to_user: "o".into(),
                from_user: "gh".into(),
                create_time: 1,
                msgtype: msgtype.into(),
                body,
            };
            prop_assert_eq!(parse_passive_reply(reply.to_xml().as_bytes()), Ok(reply));
        }
    }
}

/// Base64 of `raw` rounded down to whole AES blocks, so decryption proceeds to the checks.
fn encrypt_raw_base64(raw: &[u8]) -> String {
    use base64::Engine;
    let whole = raw.len() / 16 * 16;
    base64::engine::general_purpose::STANDARD.encode(&raw[..whole])
}
