//! `POST /cgi-bin/message/custom/typing` (WECHAT.md §4.2, §4.3 "Typing: steps 1, 2 and 4").
//!
//! Only the body's shape is checked here; whether `command` is valid (45072) and the typing
//! rules (45015, 45080, 45081) belong to the rules engine (RULES.md §3).

use serde_json::Value;

use crate::ErrCode;
use crate::json::parse_object;

/// A typing request past steps 2 and 4 (presence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypingRequest {
    pub touser: String,
    /// As sent: `Typing` and `CancelTyping` are the valid values. Missing is `""`; a
    /// non-string is its JSON text, so that it, too, is an invalid command downstream.
    pub command: String,
}

/// The two valid typing commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypingCommand {
    Typing,
    CancelTyping,
}

impl TypingCommand {
    pub const fn as_str(self) -> &'static str {
        match self {
            TypingCommand::Typing => "Typing",
            TypingCommand::CancelTyping => "CancelTyping",
        }
    }
}

impl TypingRequest {
    /// The command if valid; `None` is the rules engine's 45072.
    pub fn parsed_command(&self) -> Option<TypingCommand> {
        match self.command.as_str() {
            "Typing" => Some(TypingCommand::Typing),
            "CancelTyping" => Some(TypingCommand::CancelTyping),
            _ => None,
        }
    }
}

/// Steps 2 and 4 (presence): empty → 44002; not a JSON object → 47001; `touser` missing, empty
/// or not a string → 41009.
pub fn parse_typing(body: &[u8]) -> Result<TypingRequest, ErrCode> {
    let obj = parse_object(body)?;
    let touser = match obj.get("touser") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(ErrCode::MissingOpenid),
    };
    let command = match obj.get("command") {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    Ok(TypingRequest { touser, command })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_bodies() {
        let t = parse_typing(br#"{"touser":"OPENID","command":"Typing"}"#).unwrap();
        assert_eq!(t.touser, "OPENID");
        assert_eq!(t.parsed_command(), Some(TypingCommand::Typing));
        let t = parse_typing(br#"{"touser":"OPENID","command":"CancelTyping"}"#).unwrap();
        assert_eq!(t.parsed_command(), Some(TypingCommand::CancelTyping));
        let t = parse_typing(br#"{"touser":"OPENID","command":"typing"}"#).unwrap();
        assert_eq!(t.parsed_command(), None);
        let t = parse_typing(br#"{"touser":"OPENID"}"#).unwrap();
        assert_eq!(t.command, "");
        let t = parse_typing(br#"{"touser":"OPENID","command":1}"#).unwrap();
        assert_eq!((t.command.as_str(), t.parsed_command()), ("1", None));
        assert_eq!(parse_typing(b""), Err(ErrCode::EmptyPostData));
        assert_eq!(parse_typing(b"x"), Err(ErrCode::DataFormatError));
        assert_eq!(
            parse_typing(br#"{"command":"Typing"}"#),
            Err(ErrCode::MissingOpenid)
        );
        assert_eq!(
            parse_typing(br#"{"touser":"","command":"Typing"}"#),
            Err(ErrCode::MissingOpenid)
        );
    }
}
