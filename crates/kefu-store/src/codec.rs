//! Bytes on disk for the embedded backend: keys that sort by kind, values prefixed by their
//! version. postcard keeps records compact (a conversation is a few dozen bytes).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::port::{StoreError, Versioned};
use crate::records::{Key, Record};

const ADMIN_TOKEN: u8 = 0;
const CLOCK: u8 = 1;
const COUNTERS: u8 = 2;
const ACCOUNT: u8 = 3;
const USER: u8 = 4;
const CONVERSATION: u8 = 5;
const TOKENS: u8 = 6;
// The Official Account surface's kinds start at 32, leaving room below for kinds other work
// appends: a tag, once on disk, never changes meaning.
const MENU: u8 = 32;
const QR_CODE: u8 = 33;
const FOLLOW: u8 = 34;
const KF_ACCOUNTS: u8 = 35;
const STABLE_TOKENS: u8 = 36;
const RULESET: u8 = 7;
const ROLLOUT: u8 = 8;
// Webhook deliveries start at 64, clear of the kinds above and of those the Official Account
// surface may append after 36.
const OUTBOX: u8 = 64;
const MSG_IDS: u8 = 65;

/// appids and openids never contain NUL, so it separates the two halves of a conversation key.
const SEPARATOR: u8 = 0;

pub(crate) fn encode_key(key: &Key) -> Vec<u8> {
    let tagged = |tag: u8, s: &str| {
        let mut out = Vec::with_capacity(1 + s.len());
        out.push(tag);
        out.extend_from_slice(s.as_bytes());
        out
    };
    match key {
        Key::AdminToken => vec![ADMIN_TOKEN],
        Key::Clock => vec![CLOCK],
        Key::Counters => vec![COUNTERS],
        Key::Account(appid) => tagged(ACCOUNT, appid),
        Key::User(user_id) => tagged(USER, user_id),
        Key::Tokens(appid) => tagged(TOKENS, appid),
        Key::RuleSet(name) => tagged(RULESET, name),
        Key::Rollout(id) => tagged(ROLLOUT, id),
        // Big-endian, so the outbox scans in delivery order.
        Key::Outbox(id) => {
            let mut out = vec![OUTBOX];
            out.extend_from_slice(&id.to_be_bytes());
            out
        }
        Key::MsgIds(appid) => tagged(MSG_IDS, appid),
        Key::Conversation { appid, openid } => {
            let mut out = tagged(CONVERSATION, appid);
            out.push(SEPARATOR);
            out.extend_from_slice(openid.as_bytes());
            out
        }
        Key::Menu(appid) => tagged(MENU, appid),
        Key::QrCode(ticket) => tagged(QR_CODE, ticket),
        Key::Follow { appid, openid } => pair(FOLLOW, appid, openid),
        Key::KfAccounts(appid) => tagged(KF_ACCOUNTS, appid),
        Key::StableTokens(appid) => tagged(STABLE_TOKENS, appid),
    }
}

/// The key ranges, as (from, before), that hold every kind except the per-user ones (users,
/// conversations, follows: `Key::is_per_user`), in key order.
pub(crate) fn ranges_without_users() -> [(&'static [u8], Option<&'static [u8]>); 3] {
    const _: () = assert!(USER + 1 == CONVERSATION && CONVERSATION < FOLLOW);
    [
        (&[], Some(&[USER])),
        (&[CONVERSATION + 1], Some(&[FOLLOW])),
        (&[FOLLOW + 1], None),
    ]
}

/// Two strings under one tag, split by [`SEPARATOR`].
fn pair(tag: u8, first: &str, second: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + first.len() + second.len());
    out.push(tag);
    out.extend_from_slice(first.as_bytes());
    out.push(SEPARATOR);
    out.extend_from_slice(second.as_bytes());
    out
}

pub(crate) fn decode_key(bytes: &[u8]) -> Result<Key, StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        key: format!("{bytes:?}"),
        reason: reason.to_owned(),
    };
    let (tag, rest) = bytes.split_first().ok_or_else(|| corrupt("empty key"))?;
    let text = |b: &[u8]| {
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| corrupt("key is not UTF-8"))
    };
    Ok(match *tag {
        ADMIN_TOKEN => Key::AdminToken,
        CLOCK => Key::Clock,
        COUNTERS => Key::Counters,
        ACCOUNT => Key::Account(text(rest)?),
        USER => Key::User(text(rest)?),
        TOKENS => Key::Tokens(text(rest)?),
        RULESET => Key::RuleSet(text(rest)?),
        ROLLOUT => Key::Rollout(text(rest)?),
        OUTBOX => {
            let id: [u8; 8] = rest
                .try_into()
                .map_err(|_| corrupt("outbox key is not 8 bytes"))?;
            Key::Outbox(u64::from_be_bytes(id))
        }
        MSG_IDS => Key::MsgIds(text(rest)?),
        CONVERSATION => {
            let at = rest
                .iter()
                .position(|b| *b == SEPARATOR)
                .ok_or_else(|| corrupt("conversation key without separator"))?;
            Key::Conversation {
                appid: text(&rest[..at])?,
                openid: text(&rest[at + 1..])?,
            }
        }
        FOLLOW => {
            let at = rest
                .iter()
                .position(|b| *b == SEPARATOR)
                .ok_or_else(|| corrupt("follow key without separator"))?;
            Key::Follow {
                appid: text(&rest[..at])?,
                openid: text(&rest[at + 1..])?,
            }
        }
        MENU => Key::Menu(text(rest)?),
        QR_CODE => Key::QrCode(text(rest)?),
        KF_ACCOUNTS => Key::KfAccounts(text(rest)?),
        STABLE_TOKENS => Key::StableTokens(text(rest)?),
        _ => return Err(corrupt("unknown key kind")),
    })
}

pub(crate) fn encode_record(version: u64, record: &Record) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(8 + serialized_size(record, "record")?);
    out.extend_from_slice(&version.to_be_bytes());
    postcard::to_extend(record, out).map_err(|e| encoding("record", e))
}

/// The version a stored record was written under, without decoding the record.
pub(crate) fn decode_version(key: &[u8], bytes: &[u8]) -> Result<u64, StoreError> {
    let version: [u8; 8] = bytes
        .get(..8)
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| StoreError::Corrupt {
            key: format!("{key:?}"),
            reason: "record shorter than its version".to_owned(),
        })?;
    Ok(u64::from_be_bytes(version))
}

pub(crate) fn decode_record(key: &[u8], bytes: &[u8]) -> Result<Versioned<Record>, StoreError> {
    let (version, body) = bytes
        .split_at_checked(8)
        .ok_or_else(|| StoreError::Corrupt {
            key: format!("{key:?}"),
            reason: "record shorter than its version".to_owned(),
        })?;
    let mut v = [0u8; 8];
    v.copy_from_slice(version);
    Ok(Versioned {
        version: u64::from_be_bytes(v),
        value: decode(body, || format!("{key:?}"))?,
    })
}

/// Encodes a value into a buffer of exactly its size: the writer encodes every record of every
/// send, and growing a buffer from empty reallocated it several times each (sizing first takes
/// half the time for a send's inbox message and traffic record).
pub(crate) fn encode<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>, StoreError> {
    let out = Vec::with_capacity(serialized_size(value, what)?);
    postcard::to_extend(value, out).map_err(|e| encoding(what, e))
}

fn serialized_size<T: Serialize>(value: &T, what: &str) -> Result<usize, StoreError> {
    postcard::serialize_with_flavor(value, postcard::ser_flavors::Size::default())
        .map_err(|e| encoding(what, e))
}

fn encoding(what: &str, e: postcard::Error) -> StoreError {
    StoreError::Engine(format!("encoding {what}: {e}"))
}

/// Decodes a stored value; `key` names it in the error only (formatting it for every record
/// read was a sixth of the time to start with a million conversations).
pub(crate) fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    key: impl FnOnce() -> String,
) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt {
        key: key(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let keys = [
            Key::AdminToken,
            Key::Clock,
            Key::Counters,
            Key::Account("wx0123456789abcdef".into()),
            Key::User("u1".into()),
            Key::Tokens("wx0123456789abcdef".into()),
            Key::RuleSet("my-rules".into()),
            Key::Rollout("wechat-2023-quota-change".into()),
            Key::Conversation {
                appid: "wx0123456789abcdef".into(),
                openid: "o123".into(),
            },
            Key::Outbox(0x0102_0304_0506_0708),
            Key::MsgIds("wx0123456789abcdef".into()),
            Key::Menu("wx0123456789abcdef".into()),
            Key::QrCode("gQH47joAAAAAAAAAASxodHRw==".into()),
            Key::Follow {
                appid: "wx0123456789abcdef".into(),
                openid: "o123".into(),
            },
            Key::KfAccounts("wx0123456789abcdef".into()),
            Key::StableTokens("wx0123456789abcdef".into()),
        ];
        for key in keys {
            assert_eq!(decode_key(&encode_key(&key)).unwrap(), key);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode_key(&[]).is_err());
        assert!(decode_key(&[99]).is_err());
        assert!(decode_key(&[CONVERSATION, b'w', b'x']).is_err());
        assert!(decode_key(&[OUTBOX, 1, 2]).is_err());
        assert!(decode_key(&[FOLLOW, b'w', b'x']).is_err());
        assert!(decode_record(b"k", &[1, 2, 3]).is_err());
        assert!(decode_version(b"k", &[1, 2, 3]).is_err());
        assert_eq!(
            decode_version(b"k", &[0, 0, 0, 0, 0, 0, 1, 2, 99]).unwrap(),
            258
        );
        assert!(decode_record(b"k", &[0, 0, 0, 0, 0, 0, 0, 1, 200]).is_err());
    }
}
