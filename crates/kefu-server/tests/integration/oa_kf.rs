//! Legacy KF accounts (WECHAT.md §10) under both path spellings and in `custom/send`'s step 7;
//! and the whole Official Account surface across a restart and an account's deletion.

use reqwest::Method;
use serde_json::{Value, json};

use crate::oa_cgi::stable;
use crate::support::{scene, start};

#[tokio::test]
async fn kf_accounts_under_both_spellings_and_in_custom_send() {
    let kefu = start().await;
    let s = scene(&kefu).await;
    let t = &s.token;
    let send_as = |kf: &str| {
        json!({"touser": s.openid, "msgtype": "text", "text": {"content": "hi"},
               "customservice": {"kf_account": kf}})
        .to_string()
    };
    let send_url = format!("/message/custom/send?access_token={t}");
    assert_eq!(
        kefu.cgi_post(&send_url, send_as("kf1@shop")).await["errcode"],
        65401
    );

    let post = |path: &str, body: Value| {
        let url = format!("{}{path}?access_token={t}", kefu.base);
        let client = kefu.client.clone();
        async move {
            let response = client
                .post(url)
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    let add = post(
        "/customservice/kfaccount/add",
        json!({"kf_account": "kf1@shop", "nickname": "客服1"}),
    )
    .await;
    assert_eq!(add, json!({"errcode": 0, "errmsg": "ok"}));
    for (body, errcode) in [
        (
            json!({"kf_account": "kf1@shop", "nickname": "again"}),
            61453,
        ),
        (json!({"kf_account": "kf2", "nickname": "n"}), 61452),
        (
            json!({"kf_account": "abcdefghijk@shop", "nickname": "n"}),
            61454,
        ),
        (json!({"kf_account": "k-2@shop", "nickname": "n"}), 61455),
        (json!({"kf_account": "kf2@shop"}), 65403),
        (
            json!({"kf_account": "kf2@shop", "nickname": "x".repeat(17)}),
            65403,
        ),
    ] {
        let answer = post("/cgi-bin/customservice/kfaccount/add", body.clone()).await;
        assert_eq!(answer["errcode"], errcode, "{body}: {answer}");
    }
    assert_eq!(
        kefu.cgi_post(&send_url, send_as("kf1@shop")).await["errcode"],
        0
    );
    assert_eq!(
        kefu.cgi_post(&send_url, send_as("kf9@shop")).await["errcode"],
        65401
    );

    let update = post(
        "/cgi-bin/customservice/kfaccount/update",
        json!({"kf_account": "kf1@shop", "nickname": "小王"}),
    )
    .await;
    assert_eq!(update["errcode"], 0);
    assert_eq!(
        post(
            "/customservice/kfaccount/update",
            json!({"kf_account": "kf9@shop", "nickname": "n"})
        )
        .await["errcode"],
        65401
    );
    let invite = post(
        "/customservice/kfaccount/inviteworker",
        json!({"kf_account": "kf1@shop", "invite_wx": "worker_wx"}),
    )
    .await;
    assert_eq!(invite["errcode"], 0);
    assert_eq!(
        post(
            "/customservice/kfaccount/inviteworker",
            json!({"kf_account": "kf1@shop", "invite_wx": "other"})
        )
        .await["errcode"],
        65411
    );

    for path in [
        "/cgi-bin/customservice/getkflist",
        "/customservice/getkflist",
    ] {
        let response = kefu
            .client
            .get(format!("{}{path}?access_token={t}", kefu.base))
            .send()
            .await
            .unwrap();
        let list: Value = response.json().await.unwrap();
        assert_eq!(
            list,
            json!({"kf_list": [{"kf_account": "kf1@shop", "kf_nick": "小王", "kf_id": "1001",
                    "kf_headimgurl": "", "invite_wx": "worker_wx",
                    "invite_expire_time": crate::support::START + 7 * 24 * 3600,
                    "invite_status": "waiting"}]}),
            "{path}"
        );
    }
    let online = kefu
        .cgi_get(&format!("/customservice/getonlinekflist?access_token={t}"))
        .await;
    assert_eq!(online, json!({"kf_online_list": []}));

    let avatar = kefu
        .client
        .post(format!(
            "{}/customservice/kfaccount/uploadheadimg?access_token={t}&kf_account=kf1@shop",
            kefu.base
        ))
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(
            "--XyZ\r\nContent-Disposition: form-data; name=\"media\"; filename=\"me.jpg\"\r\n\
             Content-Type: image/jpeg\r\n\r\n\u{ff}\u{d8}\r\n--XyZ--\r\n",
        )
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(avatar["errcode"], 0);
    let list = kefu
        .cgi_get(&format!("/customservice/getkflist?access_token={t}"))
        .await;
    assert!(
        list["kf_list"][0]["kf_headimgurl"]
            .as_str()
            .unwrap()
            .starts_with("http://")
    );

    let del = kefu
        .cgi_get(&format!(
            "/customservice/kfaccount/del?access_token={t}&kf_account=kf1@shop"
        ))
        .await;
    assert_eq!(del["errcode"], 0);
    assert_eq!(
        kefu.cgi_get(&format!(
            "/customservice/kfaccount/del?access_token={t}&kf_account=kf1@shop"
        ))
        .await["errcode"],
        65401
    );
    assert_eq!(
        kefu.cgi_post(&send_url, send_as("kf1@shop")).await["errcode"],
        65401
    );
    assert_eq!(
        kefu.cgi_get("/customservice/getkflist").await["errcode"],
        41001
    );
}

#[tokio::test]
async fn everything_survives_a_restart_and_account_deletion_forgets_it() {
    let kefu = start().await;
    let s = scene(&kefu).await;
    let t = s.token.clone();
    let menu = json!({"button": [{"type": "click", "name": "a", "key": "K"}]});
    kefu.cgi_post(&format!("/menu/create?access_token={t}"), menu.to_string())
        .await;
    let qr = kefu
        .cgi_post(
            &format!("/qrcode/create?access_token={t}"),
            json!({"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 7}}})
                .to_string(),
        )
        .await;
    let stable_token = stable(&kefu, &s.account, false).await["access_token"].clone();
    kefu.cgi_post(
        &format!("/customservice/kfaccount/add?access_token={t}"),
        json!({"kf_account": "kf1@shop", "nickname": "n"}).to_string(),
    )
    .await;

    let kefu = kefu.restart().await;
    assert_eq!(
        kefu.cgi_get(&format!("/menu/get?access_token={t}")).await["menu"]["button"][0]["key"],
        "K"
    );
    assert_eq!(
        stable(&kefu, &s.account, false).await["access_token"],
        stable_token
    );
    let info = kefu
        .cgi_get(&format!("/user/info?access_token={t}&openid={}", s.openid))
        .await;
    assert_eq!(info["subscribe_time"], crate::support::START);
    let list = kefu
        .cgi_get(&format!("/customservice/getkflist?access_token={t}"))
        .await;
    assert_eq!(list["kf_list"][0]["kf_account"], "kf1@shop");
    let ticket = qr["ticket"].as_str().unwrap();
    let shown = kefu
        .client
        .get(format!("{}/cgi-bin/showqrcode?ticket={ticket}", kefu.base))
        .send()
        .await
        .unwrap();
    assert_eq!(shown.headers()["content-type"], "image/png");

    let appid = s.account["appid"].as_str().unwrap();
    kefu.api_ok(Method::DELETE, &format!("/accounts/{appid}"), None)
        .await;
    assert_eq!(
        kefu.cgi_get(&format!("/showqrcode?ticket={ticket}")).await["errcode"],
        40035
    );
    let kefu = kefu.restart().await;
    assert_eq!(
        kefu.cgi_get(&format!("/showqrcode?ticket={ticket}")).await["errcode"],
        40035
    );
    let token = stable_token.as_str().unwrap();
    assert_eq!(
        kefu.cgi_get(&format!("/menu/get?access_token={token}"))
            .await["errcode"],
        40001
    );
}
