//! One attempt on the wire: the body of a push in the account's mode, the signed query, the
//! POST, and what the webhook's answer means (WECHAT.md §6.2, §6.5, §6.6). Every format is
//! kefu-wechat's; this module only chooses and sends.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use kefu_store::{AccountRecord, AttemptRecord, EncryptMode};
use kefu_wechat::{
    AesKey, PassiveReply, Push, compat_push_xml, encrypt, encrypted_push_xml, msg_signature,
    parse_encrypted_envelope, parse_passive_reply, push_query, signature, verify_and_decrypt,
};
use serde_json::Value;

use crate::ids;

/// The largest answer kefu reads from a webhook; a longer one is no passive reply.
const MAX_ANSWER: usize = 1 << 20;

/// Where and how one account's pushes go, as configured when the delivery was enqueued.
#[derive(Clone)]
pub struct Target {
    pub appid: String,
    pub original_id: String,
    pub url: String,
    pub token: String,
    pub mode: EncryptMode,
    pub key: Option<AesKey>,
}

impl Target {
    /// `None` when the account has no webhook (or, impossibly, no token to sign with).
    pub fn of(account: &AccountRecord) -> Option<Target> {
        let key = account
            .encoding_aes_key
            .as_deref()
            .and_then(|k| AesKey::from_encoding_aes_key(k).ok());
        Some(Target {
            appid: account.appid.clone(),
            original_id: account.original_id.clone(),
            url: account.webhook_url.clone()?,
            token: account.token.clone()?,
            mode: account.encrypt_mode,
            key,
        })
    }

    fn encrypted(&self) -> Option<&AesKey> {
        match self.mode {
            EncryptMode::Plain => None,
            EncryptMode::Compat | EncryptMode::Safe => self.key.as_ref(),
        }
    }
}

/// The body of `push` in the target's mode, and its `Encrypt` when encrypted. `random16` opens
/// the ciphertext (WECHAT.md §6.6).
pub fn body(target: &Target, push: &Push, random16: &[u8; 16]) -> (String, Option<String>) {
    let xml = push.to_xml();
    let Some(key) = target.encrypted() else {
        return (xml, None);
    };
    let sealed = encrypt(key, random16, xml.as_bytes(), &target.appid);
    let body = match target.mode {
        EncryptMode::Compat => compat_push_xml(push, &sealed),
        _ => encrypted_push_xml(&target.original_id, &sealed),
    };
    (body, Some(sealed))
}

/// What one attempt came to.
#[derive(Debug)]
pub enum Verdict {
    /// 200 with `success`, an empty body, or a valid passive reply.
    Delivered(Option<PassiveReply>),
    /// 200 with anything else: not retried.
    InvalidReply(String),
    /// No connection, no complete answer in time, or a status other than 200: retried.
    Failed(String),
}

pub struct Attempt {
    pub record: AttemptRecord,
    /// The query string this attempt was sent with.
    pub query: String,
    pub verdict: Verdict,
}

/// The query of one attempt: fresh `timestamp` (the wall clock now) and `nonce`, `signature`
/// always, and `msg_signature` over `encrypt` when the body is encrypted.
pub fn signed_query(token: &str, wall_now: i64, openid: &str, encrypt: Option<&str>) -> String {
    let timestamp = wall_now.to_string();
    let nonce = ids::nonce();
    let sig = signature(token, &timestamp, &nonce);
    let msg_sig = encrypt.map(|e| msg_signature(token, &timestamp, &nonce, e));
    push_query(&sig, &timestamp, &nonce, openid, msg_sig.as_deref())
}

/// `url` with `query` appended (a webhook URL may carry a query of its own).
pub fn with_query(url: &str, query: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{query}")
}

/// One POST of a delivery.
#[allow(clippy::too_many_arguments)]
pub async fn attempt(
    client: &reqwest::Client,
    timeout: Duration,
    target: &Target,
    delivery_id: u64,
    openid: &str,
    body: Bytes,
    encrypt: Option<&str>,
    n: u8,
    wall_now: i64,
) -> Attempt {
    let query = signed_query(&target.token, wall_now, openid, encrypt);
    let request = client
        .post(with_query(&target.url, &query))
        .header("content-type", "text/xml; charset=utf-8")
        // kefu's own id of the delivery, for the developer's logs; WeChat sends no such header.
        .header("x-kefu-delivery", delivery_id.to_string())
        .body(body);
    let started = Instant::now();
    let answer = exchange(request, timeout).await;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (http_status, verdict) = match answer {
        Err(Failure { status, error }) => (status, Verdict::Failed(error)),
        Ok((status, _)) if status != 200 => {
            (Some(status), Verdict::Failed(format!("HTTP {status}")))
        }
        Ok((status, bytes)) => (Some(status), judge(target, openid, &bytes)),
    };
    let error = match &verdict {
        Verdict::Delivered(_) => None,
        Verdict::InvalidReply(why) => Some(format!("invalid reply: {why}")),
        Verdict::Failed(why) => Some(why.clone()),
    };
    Attempt {
        record: AttemptRecord {
            n,
            at: wall_now,
            http_status,
            latency_ms,
            error,
        },
        query,
        verdict,
    }
}

pub struct Failure {
    pub status: Option<u16>,
    pub error: String,
}

/// Sends `request` and reads the whole answer within `timeout`: WeChat counts an answer only
/// when it is complete.
pub async fn exchange(
    request: reqwest::RequestBuilder,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), Failure> {
    let mut status = None;
    let exchange = async {
        let mut response = request.send().await.map_err(|e| describe(&e))?;
        status = Some(response.status().as_u16());
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
            if bytes.len() + chunk.len() > MAX_ANSWER {
                return Err(format!("the answer is over {MAX_ANSWER} bytes"));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(bytes)) => Ok((status.unwrap_or_default(), bytes)),
        Ok(Err(error)) => Err(Failure { status, error }),
        Err(_) => Err(Failure {
            status,
            error: format!("no complete answer within {} ms", timeout.as_millis()),
        }),
    }
}

/// A transport error in a sentence, without the URL (it carries the signatures).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "reading the answer failed"
    } else {
        "the request failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    if cause.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {cause}")
    }
}

/// What a 200 answer means (WECHAT.md §6.2, §6.5, §6.6): an acknowledgement, a passive reply
/// (plain in plain and compatible mode, encrypted in compatible and safe mode, addressed to this
/// user from this account), or an invalid reply.
pub fn judge(target: &Target, openid: &str, answer: &[u8]) -> Verdict {
    let trimmed = answer.trim_ascii();
    if trimmed.is_empty() || trimmed == b"success" {
        return Verdict::Delivered(None);
    }
    let envelope = match parse_encrypted_envelope(answer) {
        Ok(envelope) => envelope,
        Err(e) => return Verdict::InvalidReply(e.to_string()),
    };
    let reply = match (&envelope.encrypt, target.mode) {
        (None, EncryptMode::Safe) => {
            return Verdict::InvalidReply("safe mode needs an encrypted reply".into());
        }
        (None, _) => parse_passive_reply(answer),
        (Some(_), EncryptMode::Plain) => {
            return Verdict::InvalidReply("an encrypted reply to a plaintext-mode account".into());
        }
        (Some(sealed), _) => {
            let (Some(sig), Some(timestamp), Some(nonce), Some(key)) = (
                &envelope.msg_signature,
                &envelope.timestamp,
                &envelope.nonce,
                &target.key,
            ) else {
                return Verdict::InvalidReply(
                    "an encrypted reply needs MsgSignature, TimeStamp and Nonce".into(),
                );
            };
            match verify_and_decrypt(
                key,
                &target.token,
                timestamp,
                nonce,
                sig,
                sealed,
                &target.appid,
            ) {
                Ok(xml) => parse_passive_reply(&xml),
                Err(e) => return Verdict::InvalidReply(format!("{e} ({})", e.sample_code())),
            }
        }
    };
    match reply {
        Err(e) => Verdict::InvalidReply(e.to_string()),
        Ok(reply) if reply.to_user != openid || reply.from_user != target.original_id => {
            Verdict::InvalidReply(format!(
                "the reply goes from {:?} to {:?}, not from this account to this user",
                reply.from_user, reply.to_user
            ))
        }
        Ok(reply) => Verdict::Delivered(Some(reply)),
    }
}

/// A passive reply as API.md shows it: `{"msgtype": "text", "content": "hi!"}`.
pub fn reply_json(reply: &PassiveReply) -> Value {
    let mut shown = serde_json::Map::new();
    shown.insert("msgtype".into(), reply.msgtype.clone().into());
    if let Value::Object(body) = reply.body_json() {
        shown.extend(body);
    }
    Value::Object(shown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_wechat::ReplyBody;

    const AES: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

    fn target(mode: EncryptMode) -> Target {
        Target {
            appid: "wx0123456789abcdef".into(),
            original_id: "gh_0123456789ab".into(),
            url: "http://127.0.0.1:9/wechat".into(),
            token: "tok123".into(),
            mode,
            key: AesKey::from_encoding_aes_key(AES).ok(),
        }
    }

    fn reply(to: &str, from: &str) -> String {
        PassiveReply {
            to_user: to.into(),
            from_user: from.into(),
            create_time: 1,
            msgtype: "text".into(),
            body: ReplyBody::Text {
                content: "hi".into(),
            },
        }
        .to_xml()
    }

    fn sealed(t: &Target, xml: &str, token: &str, appid: &str) -> String {
        let key = t
            .key
            .as_ref()
            .map_or_else(|| AesKey::from_bytes([0; 32]), Clone::clone);
        let e = encrypt(&key, &[7; 16], xml.as_bytes(), appid);
        let sig = msg_signature(token, "1700000000", "123456789", &e);
        kefu_wechat::encrypted_reply_xml(&e, &sig, 1_700_000_000, "123456789")
    }

    fn verdict(t: &Target, answer: &str) -> String {
        match judge(t, "o1", answer.as_bytes()) {
            Verdict::Delivered(None) => "ack".into(),
            Verdict::Delivered(Some(r)) => format!("reply {}", r.msgtype),
            Verdict::InvalidReply(why) => format!("invalid: {why}"),
            Verdict::Failed(why) => format!("failed: {why}"),
        }
    }

    #[test]
    fn acknowledgements() {
        let t = target(EncryptMode::Safe);
        for ack in ["", "success", " success\n", "\r\n"] {
            assert_eq!(verdict(&t, ack), "ack", "{ack:?}");
        }
        assert!(verdict(&t, "SUCCESS").starts_with("invalid"));
        assert!(verdict(&t, "{\"errcode\":0}").starts_with("invalid"));
    }

    #[test]
    fn which_replies_each_mode_takes() {
        let plain_reply = reply("o1", "gh_0123456789ab");
        let plain = target(EncryptMode::Plain);
        let compat = target(EncryptMode::Compat);
        let safe = target(EncryptMode::Safe);
        let good = sealed(&compat, &plain_reply, "tok123", "wx0123456789abcdef");
        assert_eq!(verdict(&plain, &plain_reply), "reply text");
        assert_eq!(verdict(&compat, &plain_reply), "reply text");
        assert!(verdict(&safe, &plain_reply).contains("safe mode needs an encrypted reply"));
        assert!(verdict(&plain, &good).contains("plaintext-mode"));
        assert_eq!(verdict(&compat, &good), "reply text");
        assert_eq!(verdict(&safe, &good), "reply text");
        // A wrong token breaks msg_signature; a wrong appid fails the receive-id check.
        let forged = sealed(&safe, &plain_reply, "other", "wx0123456789abcdef");
        assert!(verdict(&safe, &forged).contains("-40001"));
        let elsewhere = sealed(&safe, &plain_reply, "tok123", "wxffffffffffffffff");
        assert!(verdict(&safe, &elsewhere).contains("-40005"));
        let unsigned = "<xml><Encrypt><![CDATA[AAAA]]></Encrypt></xml>";
        assert!(verdict(&safe, unsigned).contains("needs MsgSignature"));
    }

    #[test]
    fn a_reply_must_answer_this_user_from_this_account() {
        let t = target(EncryptMode::Plain);
        assert!(verdict(&t, &reply("o2", "gh_0123456789ab")).starts_with("invalid"));
        assert!(verdict(&t, &reply("o1", "gh_other")).starts_with("invalid"));
    }

    #[test]
    fn bodies_per_mode() {
        let push = Push {
            to_user: "gh_0123456789ab".into(),
            from_user: "o1".into(),
            create_time: 5,
            kind: kefu_wechat::PushKind::Unsubscribe,
        };
        let (plain, none) = body(&target(EncryptMode::Plain), &push, &[1; 16]);
        assert_eq!((plain, none), (push.to_xml(), None));
        let (compat, e1) = body(&target(EncryptMode::Compat), &push, &[1; 16]);
        let (safe, e2) = body(&target(EncryptMode::Safe), &push, &[1; 16]);
        assert_eq!(e1, e2, "the same random bytes seal the same push");
        assert!(compat.contains("<FromUserName>") && compat.contains("<Encrypt>"));
        assert!(!safe.contains("<FromUserName>") && safe.contains("<Encrypt>"));
        let key = AesKey::from_encoding_aes_key(AES).unwrap();
        let opened = kefu_wechat::decrypt(&key, &e2.unwrap(), "wx0123456789abcdef").unwrap();
        assert_eq!(opened, push.to_xml().into_bytes());
    }

    #[test]
    fn queries_are_signed_and_append_to_a_url_query() {
        let q = signed_query("tok123", 1_700_000_000, "o1", Some("E"));
        let pairs: std::collections::HashMap<&str, &str> =
            q.split('&').filter_map(|p| p.split_once('=')).collect();
        assert!(kefu_wechat::verify_signature(
            "tok123",
            "1700000000",
            pairs["nonce"],
            pairs["signature"]
        ));
        assert!(kefu_wechat::verify_msg_signature(
            "tok123",
            "1700000000",
            pairs["nonce"],
            "E",
            pairs["msg_signature"]
        ));
        assert_eq!(with_query("http://h/w", "a=1"), "http://h/w?a=1");
        assert_eq!(with_query("http://h/w?x=2", "a=1"), "http://h/w?x=2&a=1");
    }
}
