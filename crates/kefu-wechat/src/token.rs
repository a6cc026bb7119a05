//! `GET /cgi-bin/token` and `POST /cgi-bin/stable_token` (WECHAT.md §2, §4.3 "Token endpoint").
//!
//! The pure half of the token endpoints: reading the credentials and the shape checks. Whether
//! the appid exists (40013) and the secret matches (40125) is the server's lookup.

use serde::{Deserialize, Serialize};

use crate::ErrCode;
use crate::json::parse_body;

/// The only grant type WeChat accepts (§2.1).
pub const GRANT_TYPE: &str = "client_credential";

/// The query of `GET /cgi-bin/token`. Every field is optional so that a missing one gets its
/// own errcode rather than a parse failure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    pub grant_type: Option<String>,
    #[serde(default)]
    pub appid: Option<String>,
    #[serde(default)]
    pub secret: Option<String>,
}

/// The body of `POST /cgi-bin/stable_token` (JSON only, §2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct StableTokenRequest {
    #[serde(default)]
    pub grant_type: Option<String>,
    #[serde(default)]
    pub appid: Option<String>,
    #[serde(default)]
    pub secret: Option<String>,
    /// `true` invalidates the previous stable token (limited to 20 a day, §2.2).
    #[serde(default)]
    pub force_refresh: bool,
}

/// Credentials that passed the shape checks, to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials<'a> {
    pub appid: &'a str,
    pub secret: &'a str,
}

/// `grant_type` not `client_credential` → 40002; `appid` missing or empty → 41002; `secret`
/// missing or empty → 41004.
pub fn check_credentials<'a>(
    grant_type: Option<&str>,
    appid: Option<&'a str>,
    secret: Option<&'a str>,
) -> Result<Credentials<'a>, ErrCode> {
    if grant_type != Some(GRANT_TYPE) {
        return Err(ErrCode::InvalidGrantType);
    }
    let appid = appid
        .filter(|s| !s.is_empty())
        .ok_or(ErrCode::AppidMissing)?;
    let secret = secret
        .filter(|s| !s.is_empty())
        .ok_or(ErrCode::AppsecretMissing)?;
    Ok(Credentials { appid, secret })
}

impl TokenQuery {
    pub fn credentials(&self) -> Result<Credentials<'_>, ErrCode> {
        check_credentials(
            self.grant_type.as_deref(),
            self.appid.as_deref(),
            self.secret.as_deref(),
        )
    }
}

impl StableTokenRequest {
    pub fn credentials(&self) -> Result<Credentials<'_>, ErrCode> {
        check_credentials(
            self.grant_type.as_deref(),
            self.appid.as_deref(),
            self.secret.as_deref(),
        )
    }
}

/// Empty → 44002; not a JSON object or a field of the wrong type → 47001.
pub fn parse_stable_token(body: &[u8]) -> Result<StableTokenRequest, ErrCode> {
    parse_body(body)
}

/// `{"access_token":"ACCESS_TOKEN","expires_in":7200}`: both token endpoints' success answer,
/// with no errcode (§1.2, §2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: u64,
}

impl TokenResponse {
    pub fn to_json(&self) -> String {
        crate::json::to_json(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_checks() {
        let ok = check_credentials(Some("client_credential"), Some("wx1"), Some("s"));
        assert_eq!(
            ok,
            Ok(Credentials {
                appid: "wx1",
                secret: "s"
            })
        );
        assert_eq!(
            check_credentials(None, Some("wx1"), Some("s")),
            Err(ErrCode::InvalidGrantType)
        );
        assert_eq!(
            check_credentials(Some("password"), Some("wx1"), Some("s")),
            Err(ErrCode::InvalidGrantType)
        );
        assert_eq!(
            check_credentials(Some("client_credential"), None, Some("s")),
            Err(ErrCode::AppidMissing)
        );
        assert_eq!(
            check_credentials(Some("client_credential"), Some(""), None),
            Err(ErrCode::AppidMissing)
        );
        assert_eq!(
            check_credentials(Some("client_credential"), Some("wx1"), Some("")),
            Err(ErrCode::AppsecretMissing)
        );
        let q = TokenQuery {
            grant_type: Some(GRANT_TYPE.into()),
            appid: Some("a".into()),
            secret: Some("b".into()),
        };
        assert!(q.credentials().is_ok());
    }

    #[test]
    fn stable_token_body() {
        let r = parse_stable_token(
            br#"{"grant_type":"client_credential","appid":"APPID","secret":"APPSECRET","force_refresh":false,"x":1}"#,
        )
        .unwrap();
        assert_eq!(
            r.credentials(),
            Ok(Credentials {
                appid: "APPID",
                secret: "APPSECRET"
            })
        );
        assert!(!r.force_refresh);
        assert!(parse_stable_token(br#"{"grant_type":"client_credential","appid":"A","secret":"S","force_refresh":true}"#).unwrap().force_refresh);
        assert_eq!(parse_stable_token(b""), Err(ErrCode::EmptyPostData));
        assert_eq!(
            parse_stable_token(b"appid=1"),
            Err(ErrCode::DataFormatError)
        );
        assert_eq!(
            parse_stable_token(br#"{"appid":1}"#),
            Err(ErrCode::DataFormatError)
        );
        assert_eq!(
            parse_stable_token(b"{}").unwrap().credentials(),
            Err(ErrCode::InvalidGrantType)
        );
    }

    #[test]
    fn response_bytes() {
        let r = TokenResponse {
            access_token: "ACCESS_TOKEN".into(),
            expires_in: 7200,
        };
        assert_eq!(
            r.to_json(),
            r#"{"access_token":"ACCESS_TOKEN","expires_in":7200}"#
        );
    }
}
