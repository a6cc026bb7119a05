//! What travels around the ciphertext: the encrypted push and reply envelopes (WECHAT.md
//! §6.6, §12.2) and the push query string (§6.2).

use crate::push::Push;
use crate::reply::ReplyError;
use crate::xml::{bare, cdata, parse};

/// Safe-mode push body: `<xml><ToUserName>…</ToUserName><Encrypt>…</Encrypt></xml>`.
pub fn encrypted_push_xml(to_user: &str, encrypt: &str) -> String {
    let mut out = String::with_capacity(encrypt.len() + to_user.len() + 96);
    out.push_str("<xml>");
    cdata(&mut out, "ToUserName", to_user);
    cdata(&mut out, "Encrypt", encrypt);
    out.push_str("</xml>");
    out
}

/// WeCom's encrypted callback body (§12.2): `ToUserName` is the corpid, `AgentID` the app.
pub fn encrypted_wecom_push_xml(to_user: &str, agent_id: Option<&str>, encrypt: &str) -> String {
    let mut out = String::with_capacity(encrypt.len() + to_user.len() + 128);
    out.push_str("<xml>");
    cdata(&mut out, "ToUserName", to_user);
    if let Some(agent) = agent_id {
        cdata(&mut out, "AgentID", agent);
    }
    cdata(&mut out, "Encrypt", encrypt);
    out.push_str("</xml>");
    out
}

/// Compatible-mode push body: every plaintext field, then `<Encrypt>` (§6.6).
pub fn compat_push_xml(push: &Push, encrypt: &str) -> String {
    let mut out = String::with_capacity(encrypt.len() + 512);
    out.push_str("<xml>");
    push.write_fields(&mut out);
    cdata(&mut out, "Encrypt", encrypt);
    out.push_str("</xml>");
    out
}

/// The encrypted passive-reply envelope, laid out as wechatpy and WxJava write it (one element
/// a line, §6.6).
pub fn encrypted_reply_xml(
    encrypt: &str,
    msg_signature: &str,
    timestamp: i64,
    nonce: &str,
) -> String {
    let mut out = String::with_capacity(encrypt.len() + 192);
    out.push_str("<xml>\n");
    cdata(&mut out, "Encrypt", encrypt);
    out.push('\n');
    cdata(&mut out, "MsgSignature", msg_signature);
    out.push('\n');
    bare(&mut out, "TimeStamp", timestamp);
    out.push('\n');
    cdata(&mut out, "Nonce", nonce);
    out.push_str("\n</xml>");
    out
}

/// The fields of an encrypted envelope, whichever are present: a safe-mode push has
/// `ToUserName` and `Encrypt`; an encrypted reply `Encrypt`, `MsgSignature`, `TimeStamp` and
/// `Nonce`. Values are kept as text: signatures are computed over the text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    pub to_user: Option<String>,
    pub agent_id: Option<String>,
    pub encrypt: Option<String>,
    pub msg_signature: Option<String>,
    pub timestamp: Option<String>,
    pub nonce: Option<String>,
}

/// Reads an encrypted envelope (or any `<xml>` document: absent fields are `None`, so a
/// plaintext reply parses with `encrypt == None`). Never panics.
pub fn parse_encrypted_envelope(xml: &[u8]) -> Result<Envelope, ReplyError> {
    let root = parse(xml)?;
    if root.name != "xml" {
        return Err(ReplyError::NotXmlRoot(root.name));
    }
    let field = |name: &str| root.child_text(name).map(|s| s.trim().to_owned());
    Ok(Envelope {
        to_user: root.child_text("ToUserName").map(str::to_owned),
        agent_id: field("AgentID"),
        encrypt: field("Encrypt"),
        msg_signature: field("MsgSignature"),
        timestamp: field("TimeStamp"),
        nonce: field("Nonce"),
    })
}

/// The query string of a push (§6.2): `signature`, `timestamp`, `nonce`, `openid`, and in the
/// encrypted modes `encrypt_type=aes` and `msg_signature` (WeRoBot needs `signature` even then,
/// §4.4). Values are percent-encoded where needed.
pub fn push_query(
    signature: &str,
    timestamp: &str,
    nonce: &str,
    openid: &str,
    msg_signature: Option<&str>,
) -> String {
    let mut q = String::with_capacity(160);
    pair(&mut q, "signature", signature);
    pair(&mut q, "timestamp", timestamp);
    pair(&mut q, "nonce", nonce);
    pair(&mut q, "openid", openid);
    if let Some(ms) = msg_signature {
        pair(&mut q, "encrypt_type", "aes");
        pair(&mut q, "msg_signature", ms);
    }
    q
}

/// The query string of the Official Account's URL verification GET (§6.1).
pub fn url_verification_query(
    signature: &str,
    timestamp: &str,
    nonce: &str,
    echostr: &str,
) -> String {
    let mut q = String::with_capacity(128);
    pair(&mut q, "signature", signature);
    pair(&mut q, "timestamp", timestamp);
    pair(&mut q, "nonce", nonce);
    pair(&mut q, "echostr", echostr);
    q
}

fn pair(q: &mut String, name: &str, value: &str) {
    if !q.is_empty() {
        q.push('&');
    }
    q.push_str(name);
    q.push('=');
    percent_encode(q, value);
}

/// Percent-encodes all but RFC 3986's unreserved characters (base64's `+`, `/` and `=` too).
pub fn percent_encode(out: &mut String, value: &str) {
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::PushKind;

    #[test]
    fn envelopes() {
        assert_eq!(
            encrypted_push_xml("gh_1", "E=="),
            "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[E==]]></Encrypt></xml>"
        );
        assert_eq!(
            encrypted_wecom_push_xml("ww1", Some("1000002"), "E"),
            "<xml><ToUserName><![CDATA[ww1]]></ToUserName><AgentID><![CDATA[1000002]]></AgentID><Encrypt><![CDATA[E]]></Encrypt></xml>"
        );
        assert_eq!(
            encrypted_reply_xml("E", "S", 1411525903, "461056294"),
            "<xml>\n<Encrypt><![CDATA[E]]></Encrypt>\n<MsgSignature><![CDATA[S]]></MsgSignature>\n<TimeStamp>1411525903</TimeStamp>\n<Nonce><![CDATA[461056294]]></Nonce>\n</xml>"
        );
        let push = Push {
            to_user: "gh_1".into(),
            from_user: "o1".into(),
            create_time: 5,
            kind: PushKind::Click { key: "K".into() },
        };
        assert_eq!(
            compat_push_xml(&push, "E"),
            "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>5</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[K]]></EventKey><Encrypt><![CDATA[E]]></Encrypt></xml>"
        );
    }

    #[test]
    fn envelope_parsing() {
        let env =
            parse_encrypted_envelope(encrypted_reply_xml("E", "S", 7, "N").as_bytes()).unwrap();
        assert_eq!(
            env,
            Envelope {
                encrypt: Some("E".into()),
                msg_signature: Some("S".into()),
                timestamp: Some("7".into()),
                nonce: Some("N".into()),
                ..Envelope::default()
            }
        );
        let env = parse_encrypted_envelope(encrypted_push_xml("gh_1", "E").as_bytes()).unwrap();
        assert_eq!(
            (env.to_user.as_deref(), env.encrypt.as_deref()),
            (Some("gh_1"), Some("E"))
        );
        assert!(parse_encrypted_envelope(b"success").is_err());
        assert!(matches!(
            parse_encrypted_envelope(b"<a/>"),
            Err(ReplyError::NotXmlRoot(_))
        ));
    }

    #[test]
    fn queries() {
        assert_eq!(
            push_query("s", "1", "2", "o_x-1", None),
            "signature=s&timestamp=1&nonce=2&openid=o_x-1"
        );
        assert_eq!(
            push_query("s", "1", "2", "o", Some("m")),
            "signature=s&timestamp=1&nonce=2&openid=o&encrypt_type=aes&msg_signature=m"
        );
        assert_eq!(
            url_verification_query("s", "1", "2", "a+b/c="),
            "signature=s&timestamp=1&nonce=2&echostr=a%2Bb%2Fc%3D"
        );
        let mut out = String::new();
        percent_encode(&mut out, "你 ");
        assert_eq!(out, "%E4%BD%A0%20");
    }
}
