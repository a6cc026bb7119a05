//! Request bodies. kefu reads them whatever their Content-Type (wechatpy's POSTs carry none),
//! with a 1 MiB limit: `/api/v1` refuses a larger one with 413, `/cgi-bin` with errcode 47001.

use axum::body::{Body, Bytes};
use kefu_wechat::ErrCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

pub const LIMIT: usize = 1 << 20;

/// The raw body of a `/cgi-bin` request, or 47001 when it is over the limit.
pub async fn cgi_bytes(body: Body) -> Result<Bytes, ErrCode> {
    axum::body::to_bytes(body, LIMIT)
        .await
        .map_err(|_| ErrCode::DataFormatError)
}

/// The JSON body of an `/api/v1` request. An empty body reads as `{}` (every field optional).
pub async fn api_json(body: Body) -> Result<Value, ApiError> {
    let bytes = axum::body::to_bytes(body, LIMIT).await.map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "request bodies on /api/v1 are limited to 1 MiB",
        )
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("malformed_json", format!("the body is not JSON: {e}")))
}

/// Reads a JSON value into a typed request; a value of the wrong shape is 422 `code`.
pub fn typed<T: DeserializeOwned>(value: Value, code: &'static str) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::invalid(code, e.to_string()))
}
