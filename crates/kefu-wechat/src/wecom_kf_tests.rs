use super::*;
use crate::wecom::{WecomResponse, wecom_ok};
use serde_json::json;

fn send(v: Value) -> Result<KfSend, ErrCode> {
    parse_kf_send(v.to_string().as_bytes())
}

#[test]
fn documented_send() {
    let s = send(json!({"touser":"EXTERNAL_USERID","open_kfid":"OPEN_KFID","msgid":"MSGID","msgtype":"text","text":{"content":"hi"}}))
        .unwrap();
    assert_eq!(
        (s.touser.as_str(), s.open_kfid.as_str(), s.msgid.as_deref()),
        ("EXTERNAL_USERID", "OPEN_KFID", Some("MSGID"))
    );
    assert_eq!(s.body, json!({"content": "hi"}));
    assert_eq!(
        wecom_ok(KfSendResult {
            msgid: "MSG_ID".into()
        }),
        r#"{"errcode":0,"errmsg":"ok","msgid":"MSG_ID"}"#
    );
}

#[test]
fn send_errors_in_order() {
    use ErrCode::*;
    assert_eq!(parse_kf_send(b""), Err(EmptyPostData));
    assert_eq!(parse_kf_send(b"[]"), Err(DataFormatError));
    assert_eq!(send(json!({})), Err(InvalidMsgType));
    assert_eq!(send(json!({"msgtype":"news"})), Err(InvalidMsgType));
    assert_eq!(send(json!({"msgtype":"text"})), Err(MissingExternalUserid));
    assert_eq!(
        send(json!({"msgtype":"text","touser":"u"})),
        Err(InvalidOpenKfid)
    );
    let base = |extra: Value| {
        let mut v = json!({"msgtype":"text","touser":"u","open_kfid":"k"});
        if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
        send(v)
    };
    assert_eq!(base(json!({"msgid":"bad id"})), Err(InvalidArgsSize));
    assert_eq!(base(json!({"msgid":"x".repeat(33)})), Err(InvalidArgsSize));
    assert_eq!(base(json!({})), Err(DataFormatError));
    assert_eq!(base(json!({"text":{"content":""}})), Err(EmptyContent));
    assert_eq!(
        base(json!({"text":{"content":"x".repeat(2049)}})),
        Err(ContentSizeOutOfLimit)
    );
    assert!(base(json!({"msgid":"a_B-9","text":{"content":"x".repeat(2048)}})).is_ok());
    let typed = |msgtype: &str, obj: Value| {
        send(json!({"msgtype":msgtype,"touser":"u","open_kfid":"k",msgtype:obj}))
    };
    assert_eq!(typed("file", json!({})), Err(InvalidMediaId));
    assert!(typed("file", json!({"media_id":"m"})).is_ok());
    assert_eq!(
        typed("link", json!({"title":"x".repeat(129),"url":"u"})),
        Err(TitleSizeOutOfLimit)
    );
    assert_eq!(
        typed("link", json!({"title":"t","desc":"x".repeat(513)})),
        Err(DescriptionSizeOutOfLimit)
    );
    assert_eq!(
        typed("miniprogram", json!({"title":"x".repeat(65)})),
        Err(TitleSizeOutOfLimit)
    );
    assert_eq!(
        typed("msgmenu", json!({ "list": vec![json!({}); 11] })),
        Err(InvalidArgsSize)
    );
    assert_eq!(typed("msgmenu", json!({"list":[1]})), Err(DataFormatError));
    assert_eq!(
        typed("location", json!({"latitude":"1"})),
        Err(DataFormatError)
    );
    assert!(
        typed(
            "location",
            json!({"latitude":23.1,"longitude":113.2,"name":"n","address":"a"})
        )
        .is_ok()
    );
}

#[test]
fn sync_msg_request() {
    let r = parse_sync_msg(
        br#"{"cursor":"c","token":"ENC","limit":5000,"voice_format":0,"open_kfid":"wk1"}"#,
    )
    .unwrap();
    assert_eq!(r.effective_limit(), 1000);
    assert_eq!(parse_sync_msg(b"{}").unwrap().effective_limit(), 1000);
    assert_eq!(
        parse_sync_msg(br#"{"limit":10}"#)
            .unwrap()
            .effective_limit(),
        10
    );
    assert_eq!(
        parse_sync_msg(br#"{"limit":"10"}"#),
        Err(ErrCode::DataFormatError)
    );
}

#[test]
fn sync_msg_result_bytes() {
    let result = SyncMsgResult {
        next_cursor: "4gw7MepFLfgF2VC5npN".into(),
        has_more: 0,
        msg_list: vec![
            KfMessage {
                msgid: "from_msgid_4622416642169452483".into(),
                open_kfid: "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q".into(),
                external_userid: Some("wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw".into()),
                send_time: 1615478585,
                origin: ORIGIN_CUSTOMER,
                servicer_userid: None,
                content: KfContent::Text {
                    text: KfText {
                        content: "你好".into(),
                        menu_id: Some("101".into()),
                    },
                },
            },
            KfMessage {
                msgid: "m2".into(),
                open_kfid: "wk1".into(),
                external_userid: None,
                send_time: 1615478600,
                origin: ORIGIN_SYSTEM_EVENT,
                servicer_userid: None,
                content: KfContent::Event {
                    event: KfEvent::MsgSendFail {
                        open_kfid: "wk1".into(),
                        external_userid: "wm1".into(),
                        fail_msgid: "f1".into(),
                        fail_type: FAIL_OVER_LIMIT,
                    },
                },
            },
        ],
    };
    let json = wecom_ok(&result);
    assert_eq!(
        json,
        r#"{"errcode":0,"errmsg":"ok","next_cursor":"4gw7MepFLfgF2VC5npN","has_more":0,"msg_list":[{"msgid":"from_msgid_4622416642169452483","open_kfid":"wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q","external_userid":"wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw","send_time":1615478585,"origin":3,"msgtype":"text","text":{"content":"你好","menu_id":"101"}},{"msgid":"m2","open_kfid":"wk1","send_time":1615478600,"origin":4,"msgtype":"event","event":{"event_type":"msg_send_fail","open_kfid":"wk1","external_userid":"wm1","fail_msgid":"f1","fail_type":6}}]}"#
    );
    let back: WecomResponse<SyncMsgResult> = serde_json::from_str(&json).unwrap();
    assert_eq!(back.data, result);
}

#[test]
fn msgtype_names() {
    for &m in KfMsgType::ALL {
        assert_eq!(KfMsgType::parse(m.as_str()), Some(m));
    }
}
