//! Menu clicks and QR scans reach the webhook as WeChat pushes them: every event `menu_click`
//! and `qr_scan` push (CLICK, VIEW, view_miniprogram, scancode_push, scancode_waitmsg, SCAN,
//! subscribe through a QR code), with no MsgId.

use reqwest::Method;
use serde_json::{Value, json};

use crate::receiver::{Receiver, field};
use crate::support::{Kefu, scene, start};

const MENU: &str = r#"{"button":[
  {"type":"click","name":"Today","key":"TODAY"},
  {"name":"More","sub_button":[
    {"type":"view","name":"Site","url":"https://example.com/"},
    {"type":"miniprogram","name":"App","url":"https://example.com/","appid":"wxapp","pagepath":"pages/index"},
    {"type":"scancode_push","name":"Push","key":"SCANP"},
    {"type":"scancode_waitmsg","name":"Wait","key":"SCANW"}]}]}"#;

async fn qr(kefu: &Kefu, token: &str) -> String {
    let created = kefu
        .cgi_post(
            &format!("/qrcode/create?access_token={token}"),
            json!({"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 98765}}})
                .to_string(),
        )
        .await;
    created["ticket"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn menu_clicks_and_qr_scans_are_pushed() {
    let kefu = start().await;
    let hook = Receiver::success().await;
    let s = scene(&kefu).await;
    let appid = s.account["appid"].as_str().unwrap();
    kefu.api_ok(
        Method::PATCH,
        &format!("/accounts/{appid}"),
        Some(json!({"webhook_url": hook.url, "token": "tok123"})),
    )
    .await;
    let created = kefu
        .cgi_post(&format!("/menu/create?access_token={}", s.token), MENU)
        .await;
    assert_eq!(created["errcode"], 0, "{created}");
    let ticket = qr(&kefu, &s.token).await;

    let act = async |user: &str, body: Value| {
        let answer = kefu.act_ok(user, body).await;
        assert_eq!(answer["pushed"]["status"], "delivered", "{answer}");
        assert_eq!(
            answer["pushed"]["msg_id"],
            Value::Null,
            "events carry no MsgId"
        );
        let post = hook.posts().pop().unwrap();
        assert_eq!(field(&post.body, "MsgId"), None);
        assert_eq!(field(&post.body, "MsgType").as_deref(), Some("event"));
        assert_eq!(field(&post.body, "FromUserName").unwrap(), answer["openid"]);
        post.body
    };
    let click = |key: &str| json!({"appid": appid, "type": "menu_click", "key": key});
    let body = act(&s.user, click("TODAY")).await;
    assert_eq!(field(&body, "Event").unwrap(), "CLICK");
    assert_eq!(field(&body, "EventKey").unwrap(), "TODAY");
    let body = act(&s.user, click("https://example.com/")).await;
    assert_eq!(field(&body, "Event").unwrap(), "VIEW");
    assert_eq!(field(&body, "EventKey").unwrap(), "https://example.com/");
    let body = act(&s.user, click("pages/index")).await;
    assert_eq!(field(&body, "Event").unwrap(), "view_miniprogram");
    assert_eq!(field(&body, "EventKey").unwrap(), "pages/index");
    let mut scanned = click("SCANP");
    scanned["scan_result"] = "hello-code".into();
    let body = act(&s.user, scanned).await;
    assert_eq!(field(&body, "Event").unwrap(), "scancode_push");
    assert_eq!(field(&body, "EventKey").unwrap(), "SCANP");
    let info = kefu_wechat::xml::parse(body.as_bytes()).unwrap();
    let code = info.child("ScanCodeInfo").unwrap();
    assert_eq!(code.child_text("ScanResult"), Some("hello-code"));
    let body = act(&s.user, click("SCANW")).await;
    assert_eq!(field(&body, "Event").unwrap(), "scancode_waitmsg");

    // A follower's scan pushes SCAN; a stranger's subscribes through the code.
    let scan = json!({"type": "qr_scan", "ticket": ticket});
    let body = act(&s.user, scan.clone()).await;
    assert_eq!(field(&body, "Event").unwrap(), "SCAN");
    assert_eq!(field(&body, "EventKey").unwrap(), "98765");
    assert_eq!(field(&body, "Ticket").unwrap(), ticket);
    let stranger = kefu.user("Stranger").await;
    let body = act(&stranger, scan).await;
    assert_eq!(field(&body, "Event").unwrap(), "subscribe");
    assert_eq!(field(&body, "EventKey").unwrap(), "qrscene_98765");
    assert_eq!(field(&body, "Ticket").unwrap(), ticket);
}
