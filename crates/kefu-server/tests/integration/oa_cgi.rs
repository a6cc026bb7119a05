//! The rest of the Official Account developer API: stable tokens, menus, QR codes and their
//! image, users and KF accounts, each with the errcodes of WECHAT.md.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Kefu, scene, start};

fn stable_body(account: &Value, force: bool) -> String {
    json!({
        "grant_type": "client_credential",
        "appid": account["appid"],
        "secret": account["secret"],
        "force_refresh": force,
    })
    .to_string()
}

pub async fn stable(kefu: &Kefu, account: &Value, force: bool) -> Value {
    kefu.cgi_post("/stable_token", stable_body(account, force))
        .await
}

#[tokio::test]
async fn stable_tokens_are_stable_until_the_last_300_seconds() {
    let kefu = start().await;
    let s = scene(&kefu).await;
    let first = stable(&kefu, &s.account, false).await;
    assert_eq!(first["expires_in"], 7200, "{first}");
    assert!(first.get("errcode").is_none());
    let token = first["access_token"].as_str().unwrap().to_owned();

    kefu.wall.advance(1000);
    let again = stable(&kefu, &s.account, false).await;
    assert_eq!(again["access_token"], token.as_str());
    assert_eq!(again["expires_in"], 6200);
    // Isolated from /cgi-bin/token: a new ordinary token leaves both stable and old ones valid.
    kefu.token(&s.account).await;
    assert_eq!(kefu.send_text(&token, &s.openid, "stable").await, 0);
    assert_eq!(kefu.send_text(&s.token, &s.openid, "ordinary").await, 0);

    // 301 s left: still the same; 300 s left: a new one, and the old one lives out its time.
    kefu.wall.advance(7200 - 1000 - 301);
    assert_eq!(
        stable(&kefu, &s.account, false).await["access_token"],
        token.as_str()
    );
    kefu.wall.advance(1);
    let renewed = stable(&kefu, &s.account, false).await;
    let new = renewed["access_token"].as_str().unwrap().to_owned();
    assert_ne!(new, token);
    assert_eq!(renewed["expires_in"], 7200);
    assert_eq!(kefu.send_text(&token, &s.openid, "old, overlap").await, 0);
    kefu.wall.advance(300);
    assert_eq!(kefu.send_text(&token, &s.openid, "old, gone").await, 42001);
    assert_eq!(
        kefu.cgi_post(
            &format!("/message/custom/typing?access_token={new}"),
            json!({"touser": s.openid, "command": "Typing"}).to_string()
        )
        .await["errcode"],
        0,
        "the new token works"
    );
}

#[tokio::test]
async fn force_refresh_is_limited_to_20_a_day_30_seconds_apart() {
    let kefu = start().await;
    let s = scene(&kefu).await;
    let first = stable(&kefu, &s.account, false).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let forced = stable(&kefu, &s.account, true).await;
    let forced_token = forced["access_token"].as_str().unwrap().to_owned();
    assert_ne!(forced_token, first);
    assert_eq!(
        kefu.send_text(&first, &s.openid, "invalidated").await,
        40001
    );
    assert_eq!(kefu.send_text(&forced_token, &s.openid, "ok").await, 0);
    let too_soon = stable(&kefu, &s.account, true).await;
    assert_eq!(too_soon["errcode"], 45011, "{too_soon}");
    // A refused force changed nothing.
    assert_eq!(
        stable(&kefu, &s.account, false).await["access_token"],
        forced_token.as_str()
    );
    for _ in 1..20 {
        kefu.wall.advance(30);
        assert!(stable(&kefu, &s.account, true).await["access_token"].is_string());
    }
    kefu.wall.advance(30);
    assert_eq!(stable(&kefu, &s.account, true).await["errcode"], 45009);
    // The quota is per day, China time (START is 08:00 there): tomorrow it is back.
    kefu.wall.advance(16 * 3600);
    assert!(stable(&kefu, &s.account, true).await["access_token"].is_string());
}

#[tokio::test]
async fn stable_token_errors() {
    let kefu = start().await;
    let account = kefu.account(json!({"name": "Shop"})).await;
    let body = |grant: &str, appid: &str, secret: &str| {
        json!({"grant_type": grant, "appid": appid, "secret": secret}).to_string()
    };
    let appid = account["appid"].as_str().unwrap();
    let secret = account["secret"].as_str().unwrap();
    for (body, errcode) in [
        (String::new(), 44002),
        ("grant_type=client_credential".to_owned(), 47001),
        (json!({"appid": 1}).to_string(), 47001),
        (body("password", appid, secret), 40002),
        (body("client_credential", "", secret), 41002),
        (body("client_credential", appid, ""), 41004),
        (
            body("client_credential", "wx0000000000000000", secret),
            40013,
        ),
        (body("client_credential", appid, "0000"), 40125),
    ] {
        let answer = kefu.cgi_post("/stable_token", body.clone()).await;
        assert_eq!(answer["errcode"], errcode, "{body}: {answer}");
    }
}

#[tokio::test]
async fn menus_are_created_read_and_deleted() {
    let kefu = start().await;
    let s = scene(&kefu).await;
    let t = &s.token;
    assert_eq!(
        kefu.cgi_get(&format!("/menu/get?access_token={t}")).await,
        json!({"errcode": 46003, "errmsg": "menu no exist"})
    );
    let menu = json!({"button": [
        {"type": "click", "name": "今日歌曲", "key": "V1001_TODAY_MUSIC"},
        {"name": "菜单", "sub_button": [
            {"type": "view", "name": "搜索", "url": "http://www.soso.com/"},
            {"type": "click", "name": "赞一下我们", "key": "V1001_GOOD"}]}]});
    let created = kefu
        .cgi_post(&format!("/menu/create?access_token={t}"), menu.to_string())
        .await;
    assert_eq!(created, json!({"errcode": 0, "errmsg": "ok"}));
    let got = kefu.cgi_get(&format!("/menu/get?access_token={t}")).await;
    assert_eq!(got["menu"]["button"][0]["key"], "V1001_TODAY_MUSIC");
    assert_eq!(got["menu"]["button"][0]["sub_button"], json!([]));
    assert_eq!(
        got["menu"]["button"][1]["sub_button"][1]["name"],
        "赞一下我们"
    );
    // kefu's own API shows the same menu without the developer's token.
    let appid = s.account["appid"].as_str().unwrap();
    let shown = kefu
        .api_ok(Method::GET, &format!("/accounts/{appid}/menu"), None)
        .await;
    assert_eq!(shown["menu"], got["menu"]);
    assert_eq!(shown["created_at"], "2026-11-24T00:00:00Z");

    for (body, errcode) in [
        (String::new(), 44002),
        ("{".to_owned(), 47001),
        (json!({"button": []}).to_string(), 40016),
        (
            json!({"button": [{"type": "click", "name": "x".repeat(17), "key": "k"}]}).to_string(),
            40018,
        ),
        (
            json!({"button": [{"type": "tap", "name": "a", "key": "k"}]}).to_string(),
            40017,
        ),
        (
            json!({"button": [{"type": "click", "name": "a"}]}).to_string(),
            40019,
        ),
        (
            json!({"button": [{"type": "view", "name": "a"}]}).to_string(),
            40020,
        ),
    ] {
        let answer = kefu
            .cgi_post(&format!("/menu/create?access_token={t}"), body.clone())
            .await;
        assert_eq!(answer["errcode"], errcode, "{body}: {answer}");
    }
    // A refused create changed nothing.
    assert_eq!(
        kefu.cgi_get(&format!("/menu/get?access_token={t}")).await,
        got
    );
    assert_eq!(kefu.cgi_get("/menu/get").await["errcode"], 41001);

    let deleted = kefu
        .cgi_get(&format!("/menu/delete?access_token={t}"))
        .await;
    assert_eq!(deleted["errcode"], 0);
    assert_eq!(
        kefu.cgi_get(&format!("/menu/get?access_token={t}")).await["errcode"],
        46003
    );
    let (status, missing) = kefu
        .api(Method::GET, &format!("/accounts/{appid}/menu"), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(missing["error"]["code"], "menu_not_found");
    // Deleting no menu is fine.
    assert_eq!(
        kefu.cgi_get(&format!("/menu/delete?access_token={t}"))
            .await["errcode"],
        0
    );
}

#[tokio::test]
async fn qr_codes_answer_tickets_and_show_as_png() {
    let kefu = start().await;
    let s = scene(&kefu).await;
    let url = format!("/qrcode/create?access_token={}", s.token);
    let temporary = kefu
        .cgi_post(
            &url,
            json!({"action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 123}}})
                .to_string(),
        )
        .await;
    assert_eq!(temporary["expire_seconds"], 60, "the default: {temporary}");
    let ticket = temporary["ticket"].as_str().unwrap();
    assert!(
        temporary["url"]
            .as_str()
            .unwrap()
            .starts_with("https://weixin.qq.com/q/")
    );
    let long = kefu
        .cgi_post(
            &url,
            json!({"expire_seconds": 99_999_999, "action_name": "QR_STR_SCENE",
                   "action_info": {"scene": {"scene_str": "spring"}}})
            .to_string(),
        )
        .await;
    assert_eq!(long["expire_seconds"], 2_592_000);
    let permanent_body = json!({"action_name": "QR_LIMIT_STR_SCENE",
                                "action_info": {"scene": {"scene_str": "poster"}}})
    .to_string();
    let permanent = kefu.cgi_post(&url, permanent_body.clone()).await;
    assert!(permanent.get("expire_seconds").is_none(), "{permanent}");
    assert_eq!(
        kefu.cgi_post(&url, permanent_body).await["ticket"],
        permanent["ticket"],
        "the same permanent scene is the same code"
    );
    for (body, errcode) in [
        (String::new(), 44002),
        (json!({"action_name": "QR_FOO"}).to_string(), 40035),
        (
            json!({"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 100_001}}})
                .to_string(),
            40035,
        ),
    ] {
        assert_eq!(kefu.cgi_post(&url, body).await["errcode"], errcode);
    }

    // The image: a PNG, no access_token; the ticket URL-encoded as SDKs send it.
    let response = kefu
        .client
        .get(format!(
            "{}/cgi-bin/showqrcode?ticket={}",
            kefu.base,
            ticket.replace('=', "%3D")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    let png = response.bytes().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(
        kefu.cgi_get("/showqrcode?ticket=nope").await["errcode"],
        40035
    );

    // kefu's own list: oldest first, with kind, scene and expiry; expiry on the rule clock.
    let appid = s.account["appid"].as_str().unwrap();
    let list = kefu
        .api_ok(Method::GET, &format!("/accounts/{appid}/qrcodes"), None)
        .await;
    let codes = list["qrcodes"].as_array().unwrap();
    assert_eq!(codes.len(), 3);
    assert_eq!(codes[0]["ticket"], ticket);
    assert_eq!(codes[0]["kind"], "temporary");
    assert_eq!(codes[0]["scene"], json!({"scene_id": 123}));
    assert_eq!(codes[0]["expires_at"], "2026-11-24T00:01:00Z");
    assert_eq!(codes[0]["expired"], false);
    assert_eq!(codes[2]["kind"], "permanent");
    assert_eq!(codes[2]["scene"], json!({"scene_str": "poster"}));
    assert_eq!(codes[2]["expires_at"], Value::Null);
    kefu.advance(60).await;
    let later = kefu
        .api_ok(
            Method::GET,
            &format!("/accounts/{appid}/qrcodes?limit=1"),
            None,
        )
        .await;
    assert_eq!(later["qrcodes"][0]["expired"], true);
    assert_eq!(later["qrcodes"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn user_info_and_lists() {
    let kefu = start().await;
    let s = scene(&kefu).await;
    let appid = s.account["appid"].as_str().unwrap();
    let info = |openid: &str| {
        format!(
            "/user/info?access_token={}&openid={openid}&lang=zh_CN",
            s.token
        )
    };
    let alice = kefu.cgi_get(&info(&s.openid)).await;
    assert_eq!(alice["subscribe"], 1, "{alice}");
    assert_eq!(alice["openid"], s.openid.as_str());
    assert_eq!(alice["subscribe_time"], crate::support::START);
    assert_eq!(alice["subscribe_scene"], "ADD_SCENE_OTHERS");
    assert_eq!(alice["qr_scene"], 0);
    assert_eq!(alice["qr_scene_str"], "");
    assert!(alice.get("nickname").is_none());

    // Bob follows later; Carol followed and left; Dave never met this account.
    let bob = kefu.user("Bob").await;
    kefu.advance(10).await;
    let bob_openid = kefu
        .act_ok(&bob, json!({"appid": appid, "type": "follow"}))
        .await["openid"]
        .as_str()
        .unwrap()
        .to_owned();
    let carol = kefu.user("Carol").await;
    let carol_openid = kefu
        .act_ok(&carol, json!({"appid": appid, "type": "follow"}))
        .await["openid"]
        .as_str()
        .unwrap()
        .to_owned();
    kefu.act_ok(&carol, json!({"appid": appid, "type": "unfollow"}))
        .await;
    assert_eq!(
        kefu.cgi_get(&info(&bob_openid)).await["subscribe_time"],
        crate::support::START + 10
    );
    assert_eq!(
        kefu.cgi_get(&info(&carol_openid)).await,
        json!({"subscribe": 0, "openid": carol_openid})
    );
    let other = scene(&kefu).await;
    assert_eq!(kefu.cgi_get(&info(&other.openid)).await["errcode"], 40003);
    assert_eq!(
        kefu.cgi_get(&info("o_never_issued")).await["errcode"],
        40003
    );
    assert_eq!(
        kefu.cgi_get(&format!("/user/info?access_token={}", s.token))
            .await["errcode"],
        41009
    );

    let list = kefu
        .cgi_get(&format!("/user/get?access_token={}", s.token))
        .await;
    assert_eq!(
        list,
        json!({"total": 2, "count": 2, "data": {"openid": [s.openid, bob_openid]},
               "next_openid": bob_openid})
    );
    let next = kefu
        .cgi_get(&format!(
            "/user/get?access_token={}&next_openid={}",
            s.openid, s.openid
        ))
        .await;
    assert_eq!(next["errcode"], 40001, "the token goes first");
    let rest = kefu
        .cgi_get(&format!(
            "/user/get?access_token={}&next_openid={}",
            s.token, s.openid
        ))
        .await;
    assert_eq!(rest["data"]["openid"], json!([bob_openid]));
    let end = kefu
        .cgi_get(&format!(
            "/user/get?access_token={}&next_openid={bob_openid}",
            s.token
        ))
        .await;
    assert_eq!(end, json!({"total": 2, "count": 0, "next_openid": ""}));

    let batch = kefu
        .cgi_post(
            &format!("/user/info/batchget?access_token={}", s.token),
            json!({"user_list": [{"openid": s.openid, "lang": "en"}, {"openid": carol_openid}]})
                .to_string(),
        )
        .await;
    let list = batch["user_info_list"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["subscribe"], 1);
    assert_eq!(list[1], json!({"subscribe": 0, "openid": carol_openid}));
    for (body, errcode) in [
        (json!({"user_list": []}), 40035),
        (json!({"user_list": [{"openid": "o_never_issued"}]}), 40003),
        (
            json!({"user_list": [{"openid": s.openid, "lang": "fr"}]}),
            40035,
        ),
    ] {
        let answer = kefu
            .cgi_post(
                &format!("/user/info/batchget?access_token={}", s.token),
                body.to_string(),
            )
            .await;
        assert_eq!(answer["errcode"], errcode, "{body}");
    }

    // After a restart: the same follow times, who left, and the follow order.
    let kefu = kefu.restart().await;
    assert_eq!(
        kefu.cgi_get(&info(&bob_openid)).await["subscribe_time"],
        crate::support::START + 10
    );
    assert_eq!(
        kefu.cgi_get(&info(&carol_openid)).await,
        json!({"subscribe": 0, "openid": carol_openid})
    );
    let list = kefu
        .cgi_get(&format!("/user/get?access_token={}", s.token))
        .await;
    assert_eq!(list["data"]["openid"], json!([s.openid, bob_openid]));
}
