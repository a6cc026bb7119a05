//! Every vector of `tests/wechat-crypto.json` as a test (see tests/README.md for provenance):
//! the generated set (signatures, URL verification, four pad lengths, the passive reply, the
//! non-canonical key spelling) and wechatpy's `tests/test_crypto.py` vectors.

use std::sync::OnceLock;

use kefu_wechat::{
    AesKey, Push, PushKind, ReplyBody, decrypt, encrypt, encrypted_push_xml, encrypted_reply_xml,
    msg_signature, parse_encrypted_envelope, parse_passive_reply, push_query, signature,
    signatures_match, verify_and_decrypt, verify_msg_signature, verify_signature, xml,
};
use serde_json::Value;

fn vectors() -> &'static Value {
    static V: OnceLock<Value> = OnceLock::new();
    V.get_or_init(|| {
        serde_json::from_str(include_str!("../wechat-crypto.json")).expect("vectors file is JSON")
    })
}

fn s<'a>(v: &'a Value, path: &str) -> &'a str {
    v.pointer(path)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("vector field {path}"))
}

fn key() -> AesKey {
    AesKey::from_encoding_aes_key(s(vectors(), "/encoding_aes_key")).unwrap()
}

fn random16(text: &str) -> [u8; 16] {
    text.as_bytes().try_into().expect("16 ASCII bytes")
}

#[test]
fn provenance_is_kept() {
    let v = vectors();
    assert!(s(v, "/about").contains("cross-checked against wechatpy"));
    assert!(s(v, "/wechatpy_tests/source").contains("tests/test_crypto.py"));
    assert!(v["verified_with"].is_object());
}

#[test]
fn key_spellings_decode_to_the_same_key() {
    let v = vectors();
    let loose = key();
    let canonical =
        AesKey::from_encoding_aes_key(s(v, "/encoding_aes_key_canonical_spelling")).unwrap();
    assert_eq!(loose, canonical);
    assert_eq!(hex::encode(loose.as_bytes()), s(v, "/aes_key_hex"));
    assert_eq!(hex::encode(&loose.as_bytes()[..16]), s(v, "/aes_iv_hex"));
    assert_eq!(
        loose.to_encoding_aes_key(),
        s(v, "/encoding_aes_key_canonical_spelling")
    );
}

#[test]
fn plain_signature() {
    let v = vectors();
    let sig = signature(s(v, "/token"), s(v, "/timestamp"), s(v, "/nonce"));
    assert_eq!(sig, s(v, "/plain_signature/signature"));
}

#[test]
fn url_verify_mp() {
    let v = vectors();
    let q = &v["url_verify_mp"]["query"];
    assert!(verify_signature(
        s(v, "/token"),
        s(q, "/timestamp"),
        s(q, "/nonce"),
        s(q, "/signature")
    ));
    // The Official Account echoes echostr verbatim (§6.1).
    assert_eq!(s(q, "/echostr"), s(v, "/url_verify_mp/expected_body"));
}

#[test]
fn url_verify_wecom() {
    let v = vectors();
    let q = &v["url_verify_wecom"]["query"];
    let echostr = s(q, "/echostr");
    assert_eq!(
        msg_signature(s(v, "/token"), s(q, "/timestamp"), s(q, "/nonce"), echostr),
        s(q, "/msg_signature")
    );
    let plain = decrypt(&key(), echostr, s(v, "/url_verify_wecom/receive_id")).unwrap();
    assert_eq!(plain, s(v, "/url_verify_wecom/expected_body").as_bytes());
}

/// One generated push vector: the push XML kefu builds, its encryption, both signatures, the
/// safe-mode body and the query string, and the way back.
fn message_vector(index: usize, name: &str) {
    let v = vectors();
    let m = &v["messages"][index];
    assert_eq!(s(m, "/name"), name);
    let plaintext = s(m, "/plaintext");

    // The plaintext is exactly what kefu's push serialiser writes.
    let doc = xml::parse(plaintext.as_bytes()).unwrap();
    let text = |n: &str| doc.child_text(n).unwrap().to_owned();
    let push = Push {
        to_user: text("ToUserName"),
        from_user: text("FromUserName"),
        create_time: text("CreateTime").parse().unwrap(),
        kind: PushKind::Text {
            content: text("Content"),
            msg_id: text("MsgId").parse().unwrap(),
            bizmsgmenuid: None,
        },
    };
    assert_eq!(push.to_xml(), plaintext);

    let appid = s(v, "/appid");
    let (token, timestamp, nonce) = (s(v, "/token"), s(v, "/timestamp"), s(v, "/nonce"));
    let enc = encrypt(
        &key(),
        &random16(s(v, "/random16")),
        plaintext.as_bytes(),
        appid,
    );
    assert_eq!(enc, s(m, "/encrypt"));
    let unpadded = 16 + 4 + plaintext.len() + appid.len();
    assert_eq!(
        32 - unpadded % 32,
        m["pkcs7_pad_len"].as_u64().unwrap() as usize
    );

    let ms = msg_signature(token, timestamp, nonce, &enc);
    assert_eq!(ms, s(m, "/msg_signature"));
    assert!(signatures_match(s(m, "/msg_signature"), &ms));
    let sig = signature(token, timestamp, nonce);
    assert_eq!(sig, s(m, "/signature"));
    assert_eq!(
        encrypted_push_xml(&push.to_user, &enc),
        s(m, "/safe_mode_body")
    );
    assert_eq!(
        push_query(&sig, timestamp, nonce, &push.from_user, Some(&ms)),
        s(m, "/query")
    );

    let env = parse_encrypted_envelope(s(m, "/safe_mode_body").as_bytes()).unwrap();
    assert_eq!(env.encrypt.as_deref(), Some(s(m, "/encrypt")));
    let back = verify_and_decrypt(&key(), token, timestamp, nonce, &ms, &enc, appid).unwrap();
    assert_eq!(back, plaintext.as_bytes());
}

#[test]
fn message_vectors_are_all_covered() {
    let names: Vec<_> = vectors()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| s(m, "/name"))
        .collect();
    assert_eq!(names, ["pad1", "pad16", "pad17", "pad32"]);
}

#[test]
fn message_pad1() {
    message_vector(0, "pad1");
}

#[test]
fn message_pad16() {
    message_vector(1, "pad16");
}

#[test]
fn message_pad17() {
    message_vector(2, "pad17");
}

#[test]
fn message_pad32() {
    message_vector(3, "pad32");
}

#[test]
fn passive_reply_vector() {
    let v = vectors();
    let r = &v["passive_reply"];
    let plaintext = s(r, "/plaintext");
    let reply = parse_passive_reply(plaintext.as_bytes()).unwrap();
    assert_eq!(
        reply.body,
        ReplyBody::Text {
            content: "pong".into()
        }
    );
    assert_eq!(reply.to_xml(), plaintext);

    let (token, timestamp, nonce) = (s(v, "/token"), s(r, "/timestamp"), s(r, "/nonce"));
    let enc = encrypt(
        &key(),
        &random16(s(v, "/random16")),
        plaintext.as_bytes(),
        s(v, "/appid"),
    );
    assert_eq!(enc, s(r, "/encrypt"));
    let ms = msg_signature(token, timestamp, nonce, &enc);
    assert_eq!(ms, s(r, "/msg_signature"));
    let envelope = encrypted_reply_xml(&enc, &ms, timestamp.parse().unwrap(), nonce);
    assert_eq!(envelope, s(r, "/envelope"));

    let env = parse_encrypted_envelope(envelope.as_bytes()).unwrap();
    let back = verify_and_decrypt(
        &key(),
        token,
        env.timestamp.as_deref().unwrap(),
        env.nonce.as_deref().unwrap(),
        env.msg_signature.as_deref().unwrap(),
        env.encrypt.as_deref().unwrap(),
        s(v, "/appid"),
    )
    .unwrap();
    assert_eq!(back, plaintext.as_bytes());
}

fn wechatpy_key() -> AesKey {
    AesKey::from_encoding_aes_key(s(vectors(), "/wechatpy_tests/encoding_aes_key")).unwrap()
}

#[test]
fn wechatpy_url_verify() {
    let w = &vectors()["wechatpy_tests"];
    let u = &w["url_verify"];
    let (token, echostr) = (s(w, "/token"), s(u, "/echostr"));
    assert!(verify_msg_signature(
        token,
        s(u, "/timestamp"),
        s(u, "/nonce"),
        echostr,
        s(u, "/msg_signature")
    ));
    assert!(!verify_msg_signature(
        token,
        s(u, "/timestamp"),
        s(u, "/wrong_nonce_must_fail"),
        echostr,
        s(u, "/msg_signature")
    ));
    let plain = decrypt(&wechatpy_key(), echostr, s(w, "/receive_id")).unwrap();
    assert_eq!(plain, s(u, "/expected_plain").as_bytes());
}

#[test]
fn wechatpy_decrypt() {
    let w = &vectors()["wechatpy_tests"];
    let d = &w["decrypt"];
    let plain = verify_and_decrypt(
        &wechatpy_key(),
        s(w, "/token"),
        s(d, "/timestamp"),
        s(d, "/nonce"),
        s(d, "/msg_signature"),
        s(d, "/encrypt"),
        s(w, "/receive_id"),
    )
    .unwrap();
    let doc = xml::parse(&plain).unwrap();
    for (name, expected) in d["expected_fields"].as_object().unwrap() {
        assert_eq!(doc.child_text(name), expected.as_str(), "{name}");
    }
}

#[test]
fn wechatpy_encrypt() {
    let w = &vectors()["wechatpy_tests"];
    let e = &w["encrypt"];
    let enc = encrypt(
        &wechatpy_key(),
        &random16(s(e, "/random16")),
        s(e, "/plaintext").as_bytes(),
        s(w, "/receive_id"),
    );
    assert_eq!(enc, s(e, "/expected_encrypt"));
    let ms = msg_signature(s(w, "/token"), s(e, "/timestamp"), s(e, "/nonce"), &enc);
    assert_eq!(ms, s(e, "/expected_msg_signature"));
}
