//! Exact XML of one push of each kind (the "Done when"), plus the accessors.

use super::*;

const HEAD: &str = "<xml><ToUserName><![CDATA[gh_848b8d1809b5]]></ToUserName><FromUserName><![CDATA[otDwO5EckxVWz0ItSW8XeWxknXAk]]></FromUserName><CreateTime>1597893922</CreateTime>";

fn push(kind: PushKind) -> Push {
    Push {
        to_user: "gh_848b8d1809b5".into(),
        from_user: "otDwO5EckxVWz0ItSW8XeWxknXAk".into(),
        create_time: 1597893922,
        kind,
    }
}

#[track_caller]
fn pin(kind: PushKind, rest: &str) {
    assert_eq!(push(kind).to_xml(), format!("{HEAD}{rest}"));
}

#[test]
fn text_matches_the_documented_sample() {
    // WECHAT.md §6.3's sample, whitespace removed.
    let kind = PushKind::Text {
        content: "亲".into(),
        msg_id: 22876340532172986,
        bizmsgmenuid: None,
    };
    pin(
        kind,
        "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[亲]]></Content><MsgId>22876340532172986</MsgId></xml>",
    );
}

#[test]
fn message_kinds() {
    pin(
        PushKind::Text {
            content: "满意".into(),
            msg_id: 1,
            bizmsgmenuid: Some("101".into()),
        },
        "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[满意]]></Content><MsgId>1</MsgId><bizmsgmenuid><![CDATA[101]]></bizmsgmenuid></xml>",
    );
    pin(
        PushKind::Image {
            pic_url: "http://p/1.jpg".into(),
            media_id: "M".into(),
            msg_id: 2,
        },
        "<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://p/1.jpg]]></PicUrl><MediaId><![CDATA[M]]></MediaId><MsgId>2</MsgId></xml>",
    );
    pin(
        PushKind::Voice {
            media_id: "M".into(),
            format: "amr".into(),
            recognition: Some("你好".into()),
            msg_id: 3,
        },
        "<MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[M]]></MediaId><Format><![CDATA[amr]]></Format><Recognition><![CDATA[你好]]></Recognition><MsgId>3</MsgId></xml>",
    );
    pin(
        PushKind::Voice {
            media_id: "M".into(),
            format: "speex".into(),
            recognition: None,
            msg_id: 3,
        },
        "<MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[M]]></MediaId><Format><![CDATA[speex]]></Format><MsgId>3</MsgId></xml>",
    );
    pin(
        PushKind::Video {
            media_id: "M".into(),
            thumb_media_id: "T".into(),
            msg_id: 4,
        },
        "<MsgType><![CDATA[video]]></MsgType><MediaId><![CDATA[M]]></MediaId><ThumbMediaId><![CDATA[T]]></ThumbMediaId><MsgId>4</MsgId></xml>",
    );
    pin(
        PushKind::ShortVideo {
            media_id: "M".into(),
            thumb_media_id: "T".into(),
            msg_id: 5,
        },
        "<MsgType><![CDATA[shortvideo]]></MsgType><MediaId><![CDATA[M]]></MediaId><ThumbMediaId><![CDATA[T]]></ThumbMediaId><MsgId>5</MsgId></xml>",
    );
    pin(
        PushKind::Location {
            location_x: 23.134521,
            location_y: 113.358803,
            scale: 20,
            label: "位置信息".into(),
            msg_id: 6,
        },
        "<MsgType><![CDATA[location]]></MsgType><Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y><Scale>20</Scale><Label><![CDATA[位置信息]]></Label><MsgId>6</MsgId></xml>",
    );
    pin(
        PushKind::Link {
            title: "公众平台官网链接".into(),
            description: "d".into(),
            url: "http://u".into(),
            msg_id: 7,
        },
        "<MsgType><![CDATA[link]]></MsgType><Title><![CDATA[公众平台官网链接]]></Title><Description><![CDATA[d]]></Description><Url><![CDATA[http://u]]></Url><MsgId>7</MsgId></xml>",
    );
    pin(
        PushKind::MiniProgramPage {
            app_id: "wxapp".into(),
            title: "t".into(),
            page_path: "pages/index".into(),
            thumb_url: "http://t".into(),
            thumb_media_id: "TM".into(),
            msg_id: 8,
        },
        "<MsgType><![CDATA[miniprogrampage]]></MsgType><MsgId>8</MsgId><AppId><![CDATA[wxapp]]></AppId><Title><![CDATA[t]]></Title><PagePath><![CDATA[pages/index]]></PagePath><ThumbUrl><![CDATA[http://t]]></ThumbUrl><ThumbMediaId><![CDATA[TM]]></ThumbMediaId></xml>",
    );
}

const EV: &str = "<MsgType><![CDATA[event]]></MsgType>";

#[track_caller]
fn pin_event(kind: PushKind, rest: &str) {
    pin(kind, &format!("{EV}{rest}"));
}

#[test]
fn event_kinds() {
    pin_event(
        PushKind::Subscribe { qr: None },
        "<Event><![CDATA[subscribe]]></Event></xml>",
    );
    pin_event(
        PushKind::Subscribe {
            qr: Some(("123123".into(), "TICKET".into())),
        },
        "<Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[qrscene_123123]]></EventKey><Ticket><![CDATA[TICKET]]></Ticket></xml>",
    );
    pin_event(
        PushKind::Unsubscribe,
        "<Event><![CDATA[unsubscribe]]></Event></xml>",
    );
    pin_event(
        PushKind::Scan {
            scene: "123123".into(),
            ticket: "TICKET".into(),
        },
        "<Event><![CDATA[SCAN]]></Event><EventKey><![CDATA[123123]]></EventKey><Ticket><![CDATA[TICKET]]></Ticket></xml>",
    );
    pin_event(
        PushKind::LocationReport {
            latitude: 23.137466,
            longitude: 113.352425,
            precision: 119.38504,
        },
        "<Event><![CDATA[LOCATION]]></Event><Latitude>23.137466</Latitude><Longitude>113.352425</Longitude><Precision>119.385040</Precision></xml>",
    );
    pin_event(
        PushKind::Click {
            key: "V1001_GOOD".into(),
        },
        "<Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[V1001_GOOD]]></EventKey></xml>",
    );
    pin_event(
        PushKind::View {
            url: "http://www.soso.com/".into(),
            menu_id: None,
        },
        "<Event><![CDATA[VIEW]]></Event><EventKey><![CDATA[http://www.soso.com/]]></EventKey></xml>",
    );
    pin_event(
        PushKind::View {
            url: "http://www.soso.com/".into(),
            menu_id: Some("418".into()),
        },
        "<Event><![CDATA[VIEW]]></Event><EventKey><![CDATA[http://www.soso.com/]]></EventKey><MenuId><![CDATA[418]]></MenuId></xml>",
    );
    pin_event(
        PushKind::ViewMiniprogram {
            page_path: "pages/index/index".into(),
            menu_id: Some("1".into()),
        },
        "<Event><![CDATA[view_miniprogram]]></Event><EventKey><![CDATA[pages/index/index]]></EventKey><MenuId><![CDATA[1]]></MenuId></xml>",
    );
    pin_event(
        PushKind::ScancodePush {
            key: "6".into(),
            scan_type: "qrcode".into(),
            scan_result: "1".into(),
        },
        "<Event><![CDATA[scancode_push]]></Event><EventKey><![CDATA[6]]></EventKey><ScanCodeInfo><ScanType><![CDATA[qrcode]]></ScanType><ScanResult><![CDATA[1]]></ScanResult></ScanCodeInfo></xml>",
    );
    pin_event(
        PushKind::ScancodeWaitmsg {
            key: "6".into(),
            scan_type: "qrcode".into(),
            scan_result: "2".into(),
        },
        "<Event><![CDATA[scancode_waitmsg]]></Event><EventKey><![CDATA[6]]></EventKey><ScanCodeInfo><ScanType><![CDATA[qrcode]]></ScanType><ScanResult><![CDATA[2]]></ScanResult></ScanCodeInfo></xml>",
    );
    let pics = |n: usize| (0..n).map(|i| format!("md5-{i}")).collect::<Vec<_>>();
    pin_event(
        PushKind::PicSysphoto {
            key: "6".into(),
            pic_md5_sums: pics(1),
        },
        "<Event><![CDATA[pic_sysphoto]]></Event><EventKey><![CDATA[6]]></EventKey><SendPicsInfo><Count>1</Count><PicList><item><PicMd5Sum><![CDATA[md5-0]]></PicMd5Sum></item></PicList></SendPicsInfo></xml>",
    );
    pin_event(
        PushKind::PicPhotoOrAlbum {
            key: "6".into(),
            pic_md5_sums: pics(2),
        },
        "<Event><![CDATA[pic_photo_or_album]]></Event><EventKey><![CDATA[6]]></EventKey><SendPicsInfo><Count>2</Count><PicList><item><PicMd5Sum><![CDATA[md5-0]]></PicMd5Sum></item><item><PicMd5Sum><![CDATA[md5-1]]></PicMd5Sum></item></PicList></SendPicsInfo></xml>",
    );
    pin_event(
        PushKind::PicWeixin {
            key: "6".into(),
            pic_md5_sums: pics(0),
        },
        "<Event><![CDATA[pic_weixin]]></Event><EventKey><![CDATA[6]]></EventKey><SendPicsInfo><Count>0</Count><PicList></PicList></SendPicsInfo></xml>",
    );
    pin_event(
        PushKind::LocationSelect {
            key: "6".into(),
            location_x: "23".into(),
            location_y: "113".into(),
            scale: "15".into(),
            label: " 广州市海珠区客村艺苑路 106号".into(),
            poiname: None,
        },
        "<Event><![CDATA[location_select]]></Event><EventKey><![CDATA[6]]></EventKey><SendLocationInfo><Location_X><![CDATA[23]]></Location_X><Location_Y><![CDATA[113]]></Location_Y><Scale><![CDATA[15]]></Scale><Label><![CDATA[ 广州市海珠区客村艺苑路 106号]]></Label></SendLocationInfo></xml>",
    );
    pin_event(
        PushKind::MassSendJobFinish {
            msg_id: 1000001625,
            status: "err(30003)".into(),
            total_count: 0,
            filter_count: 0,
            sent_count: 0,
            error_count: 0,
        },
        "<Event><![CDATA[MASSSENDJOBFINISH]]></Event><MsgID>1000001625</MsgID><Status><![CDATA[err(30003)]]></Status><TotalCount>0</TotalCount><FilterCount>0</FilterCount><SentCount>0</SentCount><ErrorCount>0</ErrorCount></xml>",
    );
    pin_event(
        PushKind::TemplateSendJobFinish {
            msg_id: 200163836,
            status: "success".into(),
        },
        "<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>200163836</MsgID><Status><![CDATA[success]]></Status></xml>",
    );
    pin_event(
        PushKind::KfCreateSession {
            kf_account: "test1@test".into(),
        },
        "<Event><![CDATA[kf_create_session]]></Event><KfAccount><![CDATA[test1@test]]></KfAccount></xml>",
    );
    pin_event(
        PushKind::KfCloseSession {
            kf_account: "test1@test".into(),
        },
        "<Event><![CDATA[kf_close_session]]></Event><KfAccount><![CDATA[test1@test]]></KfAccount></xml>",
    );
    pin_event(
        PushKind::KfSwitchSession {
            from_kf_account: "a@test".into(),
            to_kf_account: "b@test".into(),
        },
        "<Event><![CDATA[kf_switch_session]]></Event><FromKfAccount><![CDATA[a@test]]></FromKfAccount><ToKfAccount><![CDATA[b@test]]></ToKfAccount></xml>",
    );
}

#[test]
fn accessors() {
    let text = push(PushKind::Text {
        content: "x".into(),
        msg_id: 42,
        bizmsgmenuid: None,
    });
    assert_eq!((text.msg_id(), text.event_name()), (Some(42), "text"));
    let click = push(PushKind::Click { key: "k".into() });
    assert_eq!((click.msg_id(), click.event_name()), (None, "CLICK"));
    let scan = push(PushKind::Scan {
        scene: "1".into(),
        ticket: "t".into(),
    });
    assert_eq!(scan.event_name(), "SCAN");
    let mut job = push(PushKind::TemplateSendJobFinish {
        msg_id: 9,
        status: "success".into(),
    });
    assert_eq!(job.msg_id(), None);
    // The job-finish event's MsgID is a mass-send id, never the push's MsgId.
    assert!(!job.set_msg_id(7));
    assert!(job.to_xml().contains("<MsgID>9</MsgID>"));
}

#[test]
fn msg_id_is_set_on_messages_only() {
    let mut text = push(PushKind::Text {
        content: "x".into(),
        msg_id: 0,
        bizmsgmenuid: None,
    });
    assert!(text.set_msg_id(24_000_000_000_000_001));
    assert_eq!(text.msg_id(), Some(24_000_000_000_000_001));
    assert!(text.to_xml().contains("<MsgId>24000000000000001</MsgId>"));
    let mut follow = push(PushKind::Subscribe { qr: None });
    let before = follow.clone();
    assert!(!follow.set_msg_id(5));
    assert_eq!(follow, before);
}

#[test]
fn pushes_parse_back() {
    let p = push(PushKind::Text {
        content: "a]]>b <&> \"c\"".into(),
        msg_id: 1,
        bizmsgmenuid: None,
    });
    let doc = crate::xml::parse(p.to_xml().as_bytes()).unwrap();
    assert_eq!(doc.child_text("Content"), Some("a]]>b <&> \"c\""));
    assert_eq!(doc.child_text("MsgId"), Some("1"));
}
