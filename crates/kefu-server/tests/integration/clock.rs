//! The virtual rule clock: advance, set, refusals, persistence, and the test-suite reset.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{START, scene, start};

#[tokio::test]
async fn the_virtual_clock_moves_only_forward() {
    let kefu = start().await;
    let clock = kefu.api_ok(Method::GET, "/clock", None).await;
    assert_eq!(
        clock,
        json!({"mode": "virtual", "now": "2026-11-24T00:00:00Z", "unix": START})
    );
    let moved = kefu
        .api_ok(
            Method::POST,
            "/clock/advance",
            Some(json!({"seconds": 172800})),
        )
        .await;
    assert_eq!(moved["unix"], START + 172_800);
    let set = kefu
        .api_ok(
            Method::POST,
            "/clock/set",
            Some(json!({"now": "2026-12-01T08:00:00+08:00"})),
        )
        .await;
    assert_eq!(set["now"], "2026-12-01T00:00:00Z");
    for (path, body, status, code) in [
        (
            "/clock/advance",
            json!({"seconds": -1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_seconds",
        ),
        (
            "/clock/advance",
            json!({"seconds": 1.5}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_seconds",
        ),
        (
            "/clock/advance",
            json!({"seconds": "10"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_seconds",
        ),
        (
            "/clock/advance",
            json!({"seconds": i64::MAX}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_seconds",
        ),
        (
            "/clock/set",
            json!({"now": "2026-11-30T00:00:00Z"}),
            StatusCode::CONFLICT,
            "clock_backwards",
        ),
        (
            "/clock/set",
            json!({"now": "soon"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_now",
        ),
    ] {
        let (got, error) = kefu.api(Method::POST, path, Some(body.clone())).await;
        assert_eq!(
            (got, error["error"]["code"].as_str()),
            (status, Some(code)),
            "{path} {body}"
        );
    }
    let clock = kefu.api_ok(Method::GET, "/clock", None).await;
    assert_eq!(
        clock["now"], "2026-12-01T00:00:00Z",
        "refusals moved nothing"
    );
}

#[tokio::test]
async fn reset_wipes_everything_but_the_admin_token() {
    let kefu = start().await;
    let s = scene(&kefu).await;
    kefu.advance(3600).await;
    let answer = kefu.api_ok(Method::POST, "/reset", None).await;
    assert_eq!(answer["clock"]["unix"], START);
    let accounts = kefu.api_ok(Method::GET, "/accounts", None).await;
    assert_eq!(accounts["accounts"], json!([]));
    let (status, _) = kefu
        .api(Method::GET, &format!("/users/{}", s.user), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(kefu.send_text(&s.token, &s.openid, "x").await, 40001);
    // And it stays wiped after a restart.
    let kefu = kefu.restart().await;
    let accounts = kefu.api_ok(Method::GET, "/accounts", None).await;
    assert_eq!(accounts["accounts"], json!([]));
    // New work after a reset gets fresh, unique ids.
    let again = scene(&kefu).await;
    assert_eq!(kefu.send_text(&again.token, &again.openid, "hi").await, 0);
    assert_eq!(kefu.inbox(&again.user).await.len(), 1);
}
