//! kefu-wechat: WeChat's wire formats, byte for byte.
//!
//! The JSON of the developer API, the errcodes, the XML of pushes and passive replies,
//! signatures and the AES message scheme, as specified in shared/WECHAT.md. This crate is pure:
//! it depends on nothing of kefu's, does no I/O, reads no clock and draws no random numbers
//! (nonces, timestamps and AES random bytes are arguments). Nothing in it panics on input.
//!
//! # Layout
//!
//! - [`errcode`] — every errcode kefu answers, in one table; `{"errcode","errmsg"}` rendering.
//! - [`json`] — step 2 of the send checks (44002 / 47001) shared by every JSON endpoint.
//! - [`send`] and `send_checks` — `message/custom/send`, validated in the normative order of
//!   WECHAT.md §4.3 (steps 2–4 in [`parse_custom_send`], 5–6 in [`CustomSend::validate`]).
//! - [`typing`] — `message/custom/typing`.
//! - [`token`], [`menu`], [`qrcode`], [`user`], [`kf`] — the other Official Account endpoint
//!   families (§2, §7–§10), as typed requests and responses.
//! - [`wecom`], [`wecom_kf`], [`wecom_callback`] — WeCom `gettoken`, customer contact, WeChat KF
//!   and the WeCom callback bodies (§11–§14).
//! - [`push`] — the XML of every inbound message and event (§6.3–§6.4).
//! - [`reply`] — passive replies (§6.5), parsed without panicking.
//! - [`crypto`] — `signature`, `msg_signature` and the AES scheme (§6.6).
//! - [`envelope`] — encrypted envelopes and the push query string around the ciphertext.
//! - [`xml`] — the XML writer helpers and a small element-tree reader over quick-xml.
//!
//! # Invariants
//!
//! - Only this crate knows WeChat's field names; the server maps its domain to these types.
//! - Request parsers take raw bytes and return a typed value or the exact [`ErrCode`] WeChat
//!   would answer; they never panic, whatever the bytes.
//! - Unknown extra fields and elements are ignored, as WeChat ignores them.

pub mod crypto;
pub mod envelope;
pub mod errcode;
pub mod json;
pub mod kf;
pub mod menu;
pub mod push;
pub mod qrcode;
pub mod reply;
pub mod send;
mod send_checks;
pub mod token;
pub mod typing;
pub mod user;
pub mod wecom;
pub mod wecom_callback;
pub mod wecom_kf;
pub mod xml;

pub use crypto::{
    AesKey, CryptoError, Decrypted, decrypt, decrypt_any, encrypt, msg_signature, signature,
    signatures_match, verify_and_decrypt, verify_msg_signature, verify_signature,
};
pub use envelope::{
    Envelope, compat_push_xml, encrypted_push_xml, encrypted_reply_xml, encrypted_wecom_push_xml,
    parse_encrypted_envelope, push_query, url_verification_query,
};
pub use errcode::{ErrCode, ErrorBody};
pub use push::{Push, PushKind};
pub use reply::{
    PassiveReply, ReplyArticle, ReplyBody, ReplyError, parse_passive_reply, parse_push_response,
};
pub use send::{
    CustomMessage, CustomSend, MsgType, SendScope, parse_custom_send, validate_custom_send,
};
pub use send_checks::{
    MAX_DESCRIPTION_BYTES, MAX_NEWS_ARTICLES, MAX_PICURL_BYTES, MAX_TEXT_BYTES, MAX_TITLE_BYTES,
    MAX_URL_BYTES,
};
pub use token::{StableTokenRequest, TokenQuery, TokenResponse, parse_stable_token};
pub use typing::{TypingCommand, TypingRequest, parse_typing};
