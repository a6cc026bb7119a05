//! How the two APIs say no.
//!
//! `/api/v1` answers `{"error": {"code", "message"}}` with a fitting HTTP status ([`ApiError`]).
//! `/cgi-bin` always answers HTTP 200 with WeChat's `{"errcode", "errmsg"}` ([`WxError`]), taken
//! from kefu-wechat's one table of errcodes.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kefu_wechat::ErrCode;
use serde_json::json;

/// A refusal on kefu's own API. A refused request changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra fields beside `code` and `message` (such as a rule set's `reason`).
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            extra: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    pub fn invalid(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong admin token: send `Authorization: Bearer <admin token>`",
        )
    }

    pub fn account_not_found(appid: &str) -> ApiError {
        ApiError::not_found(
            "account_not_found",
            format!("no account with appid {appid}"),
        )
    }

    pub fn user_not_found(user_id: &str) -> ApiError {
        ApiError::not_found("user_not_found", format!("no user with id {user_id}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = serde_json::Map::new();
        error.insert("code".into(), self.code.into());
        error.insert("message".into(), self.message.into());
        if let Some(extra) = self.extra {
            error.extend(extra);
        }
        (self.status, axum::Json(json!({ "error": error }))).into_response()
    }
}

/// A WeChat errcode answer: always HTTP 200, always `application/json` (some SDKs ignore the
/// errcode otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WxError(pub ErrCode);

impl IntoResponse for WxError {
    fn into_response(self) -> Response {
        wx_json(self.0.to_json())
    }
}

impl From<ErrCode> for WxError {
    fn from(code: ErrCode) -> WxError {
        WxError(code)
    }
}

/// HTTP 200 with a JSON body, as every `/cgi-bin` answer is.
pub fn wx_json(body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// The store failed under a commit: kefu's memory may be ahead of its disk, so it stops
/// accepting changes until restarted (it recovers from disk then).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("kefu's storage failed ({0}); restart kefu to recover from its data directory")]
pub struct Unavailable(pub String);

impl From<Unavailable> for ApiError {
    fn from(e: Unavailable) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            e.to_string(),
        )
    }
}

impl From<Unavailable> for WxError {
    fn from(_: Unavailable) -> WxError {
        WxError(ErrCode::SystemError)
    }
}
