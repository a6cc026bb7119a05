//! Small JSON helpers shared by the request parsers: step 2 of WECHAT.md §4.3 (empty body →
//! 44002, not a JSON object → 47001), typed field access that maps a wrong JSON type to 47001,
//! and string escaping for the few bodies rendered by hand.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::ErrCode;

/// Step 2 of §4.3: 0 bytes or only whitespace → 44002; anything but a JSON object → 47001.
/// Standard `\uXXXX` escapes are accepted (kefu never answers 40033).
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ErrCode> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ErrCode::EmptyPostData);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ErrCode::DataFormatError),
    }
}

/// Step 2 then a typed view of the object: any field of the wrong JSON type → 47001. Unknown
/// extra fields are ignored, as WeChat does.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ErrCode> {
    let map = parse_object(body)?;
    serde_json::from_value(Value::Object(map)).map_err(|_| ErrCode::DataFormatError)
}

/// A string field: `Ok(None)` when absent or null, 47001 when present with another type.
pub(crate) fn opt_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, ErrCode> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ErrCode::DataFormatError),
    }
}

/// Appends `s` as a JSON string literal (quotes included), escaping as serde_json does.
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Serialises a response type compactly. Serialising kefu's own plain structs cannot fail; the
/// fallback keeps this function total anyway.
pub fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| ErrCode::SystemError.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_two() {
        assert_eq!(parse_object(b""), Err(ErrCode::EmptyPostData));
        assert_eq!(parse_object(b" \r\n\t"), Err(ErrCode::EmptyPostData));
        assert_eq!(parse_object(b"[]"), Err(ErrCode::DataFormatError));
        assert_eq!(parse_object(b"\"x\""), Err(ErrCode::DataFormatError));
        assert_eq!(parse_object(b"{"), Err(ErrCode::DataFormatError));
        assert_eq!(parse_object(b"{\"a\":\"\\u4f60\"}").unwrap()["a"], "你");
    }

    #[test]
    fn escaping_matches_serde_json() {
        for s in [
            "plain",
            "q\"b\\",
            "\u{1}\u{1f}\n\r\t\u{8}\u{c}",
            "中文 \u{7f}",
        ] {
            let mut out = String::new();
            push_json_string(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap());
        }
    }
}
