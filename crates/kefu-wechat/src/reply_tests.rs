//! Exact XML of one passive reply of each kind, parsed and re-rendered, plus the error cases.

use super::*;

const HEAD: &str = "<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[fromUser]]></FromUserName><CreateTime>12345678</CreateTime>";

/// Parses `HEAD + rest`, checks the msgtype and body JSON, and that rendering gives the same bytes.
#[track_caller]
fn pin(rest: &str, msgtype: &str, body: Value) -> PassiveReply {
    let xml = format!("{HEAD}{rest}");
    let reply = parse_passive_reply(xml.as_bytes()).unwrap();
    assert_eq!(reply.to_user, "toUser");
    assert_eq!(reply.from_user, "fromUser");
    assert_eq!(reply.create_time, 12345678);
    assert_eq!(reply.msgtype, msgtype);
    assert_eq!(reply.body_json(), body);
    assert_eq!(reply.to_xml(), xml);
    reply
}

#[test]
fn documented_text_sample_with_layout() {
    // WECHAT.md §6.5's sample, as written (newlines and indentation).
    let xml = "<xml>\n  <ToUserName><![CDATA[toUser]]></ToUserName>\n  <FromUserName><![CDATA[fromUser]]></FromUserName>\n  <CreateTime>12345678</CreateTime>\n  <MsgType><![CDATA[text]]></MsgType>\n  <Content><![CDATA[你好]]></Content>\n</xml>";
    let reply = parse_passive_reply(xml.as_bytes()).unwrap();
    assert_eq!(
        reply.body,
        ReplyBody::Text {
            content: "你好".into()
        }
    );
    assert_eq!(reply.body_json(), json!({"content": "你好"}));
}

#[test]
fn every_kind() {
    pin(
        "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content></xml>",
        "text",
        json!({"content": "hi"}),
    );
    pin(
        "<MsgType><![CDATA[image]]></MsgType><Image><MediaId><![CDATA[M1]]></MediaId></Image></xml>",
        "image",
        json!({"media_id": "M1"}),
    );
    pin(
        "<MsgType><![CDATA[voice]]></MsgType><Voice><MediaId><![CDATA[M2]]></MediaId></Voice></xml>",
        "voice",
        json!({"media_id": "M2"}),
    );
    pin(
        "<MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[M3]]></MediaId><Title><![CDATA[t]]></Title><Description><![CDATA[d]]></Description></Video></xml>",
        "video",
        json!({"media_id": "M3", "title": "t", "description": "d"}),
    );
    pin(
        "<MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[M3]]></MediaId></Video></xml>",
        "video",
        json!({"media_id": "M3"}),
    );
    pin(
        "<MsgType><![CDATA[music]]></MsgType><Music><Title><![CDATA[t]]></Title><Description><![CDATA[d]]></Description><MusicUrl><![CDATA[http://m]]></MusicUrl><HQMusicUrl><![CDATA[http://hq]]></HQMusicUrl><ThumbMediaId><![CDATA[T]]></ThumbMediaId></Music></xml>",
        "music",
        json!({"title": "t", "description": "d", "musicurl": "http://m", "hqmusicurl": "http://hq", "thumb_media_id": "T"}),
    );
    pin(
        "<MsgType><![CDATA[news]]></MsgType><ArticleCount>2</ArticleCount><Articles><item><Title><![CDATA[t1]]></Title><Description><![CDATA[d1]]></Description><PicUrl><![CDATA[http://p1]]></PicUrl><Url><![CDATA[http://u1]]></Url></item><item><Title><![CDATA[t2]]></Title><Description><![CDATA[d2]]></Description><PicUrl><![CDATA[http://p2]]></PicUrl><Url><![CDATA[http://u2]]></Url></item></Articles></xml>",
        "news",
        json!({"articles": [
            {"title": "t1", "description": "d1", "url": "http://u1", "picurl": "http://p1"},
            {"title": "t2", "description": "d2", "url": "http://u2", "picurl": "http://p2"}
        ]}),
    );
    pin(
        "<MsgType><![CDATA[transfer_customer_service]]></MsgType></xml>",
        "transfer_customer_service",
        json!({}),
    );
    pin(
        "<MsgType><![CDATA[transfer_customer_service]]></MsgType><TransInfo><KfAccount><![CDATA[test1@test]]></KfAccount></TransInfo></xml>",
        "transfer_customer_service",
        json!({"kf_account": "test1@test"}),
    );
}

#[test]
fn unknown_elements_are_ignored_and_plain_text_is_read() {
    let xml = "<xml><ToUserName>toUser</ToUserName><FromUserName>fromUser</FromUserName><CreateTime> 12345678 </CreateTime><MsgType>text</MsgType><FuncFlag>0</FuncFlag><Content>a &amp; b</Content><Extra><Deep/></Extra></xml>";
    let reply = parse_passive_reply(xml.as_bytes()).unwrap();
    assert_eq!(reply.body_json(), json!({"content": "a & b"}));
}

#[test]
fn errors_are_values() {
    let err = |xml: &str| parse_passive_reply(xml.as_bytes()).unwrap_err();
    assert!(matches!(err(""), ReplyError::Xml(XmlError::Empty)));
    assert!(matches!(err("success"), ReplyError::Xml(_)));
    assert!(matches!(err("{\"content\":\"hi\"}"), ReplyError::Xml(_)));
    assert!(matches!(err("<xml><ToUserName>"), ReplyError::Xml(_)));
    assert_eq!(err("<root/>"), ReplyError::NotXmlRoot("root".into()));
    assert_eq!(err("<xml/>"), ReplyError::Missing("ToUserName"));
    let head = "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName>";
    assert_eq!(
        err(&format!("{head}<MsgType>text</MsgType></xml>")),
        ReplyError::Missing("CreateTime")
    );
    assert_eq!(
        err(&format!("{head}<CreateTime>x</CreateTime></xml>")),
        ReplyError::BadNumber("CreateTime")
    );
    let head = format!("{head}<CreateTime>1</CreateTime>");
    assert_eq!(
        err(&format!("{head}</xml>")),
        ReplyError::Missing("MsgType")
    );
    assert_eq!(
        err(&format!("{head}<MsgType>text</MsgType></xml>")),
        ReplyError::Missing("Content")
    );
    assert_eq!(
        err(&format!("{head}<MsgType>image</MsgType></xml>")),
        ReplyError::Missing("Image")
    );
    assert_eq!(
        err(&format!("{head}<MsgType>image</MsgType><Image/></xml>")),
        ReplyError::Missing("MediaId")
    );
    assert_eq!(
        err(&format!("{head}<MsgType>voice</MsgType></xml>")),
        ReplyError::Missing("Voice")
    );
    assert_eq!(
        err(&format!("{head}<MsgType>video</MsgType></xml>")),
        ReplyError::Missing("Video")
    );
    assert_eq!(
        err(&format!("{head}<MsgType>music</MsgType></xml>")),
        ReplyError::Missing("Music")
    );
    assert_eq!(
        err(&format!("{head}<MsgType>link</MsgType></xml>")),
        ReplyError::UnknownMsgType("link".into())
    );
    assert_eq!(
        err(&format!("{head}<MsgType>news</MsgType></xml>")),
        ReplyError::Missing("ArticleCount")
    );
    assert_eq!(
        err(&format!(
            "{head}<MsgType>news</MsgType><ArticleCount>0</ArticleCount></xml>"
        )),
        ReplyError::EmptyNews
    );
    assert_eq!(
        err(&format!(
            "{head}<MsgType>news</MsgType><ArticleCount>2</ArticleCount><Articles><item/></Articles></xml>"
        )),
        ReplyError::ArticleCountMismatch {
            declared: 2,
            found: 1
        }
    );
}

#[test]
fn acknowledgements() {
    assert_eq!(parse_push_response(b""), Ok(None));
    assert_eq!(parse_push_response(b"success"), Ok(None));
    assert_eq!(parse_push_response(b"success\n"), Ok(None));
    assert!(parse_push_response(b"ok").is_err());
    let xml = format!("{HEAD}<MsgType>text</MsgType><Content>hi</Content></xml>");
    assert!(parse_push_response(xml.as_bytes()).unwrap().is_some());
}

#[test]
fn answers_checks_the_swap() {
    let push = Push {
        to_user: "fromUser".into(),
        from_user: "toUser".into(),
        create_time: 1,
        kind: crate::push::PushKind::Unsubscribe,
    };
    let reply = parse_passive_reply(
        format!("{HEAD}<MsgType>text</MsgType><Content>x</Content></xml>").as_bytes(),
    )
    .unwrap();
    assert!(reply.answers(&push));
    let other = Push {
        to_user: "gh_other".into(),
        ..push
    };
    assert!(!reply.answers(&other));
}
