//! Every errcode kefu answers, in one table (WECHAT.md §2–§4, §7–§13).
//!
//! The table is the single place where a code's number and its errmsg are written: the macro
//! below turns it into the [`ErrCode`] enum, [`ErrCode::code`], [`ErrCode::errmsg`] and
//! [`ErrCode::from_code`]. errmsg is the base English string WeChat sends, without the ` rid: …`
//! decoration real servers append (§1.3; see [`ErrCode::to_json_with_suffix`]). Where WECHAT.md
//! records no English text for a code (most WeCom codes), the string is kefu's own wording in
//! WeChat's style, marked "kefu wording" in the table.

use serde::{Deserialize, Serialize};

macro_rules! errcodes {
    ($( $(#[$meta:meta])* $name:ident = $code:literal, $msg:literal; )*) => {
        /// A WeChat errcode kefu can answer, with its exact errmsg.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrCode {
            $( $(#[$meta])* #[doc = concat!("`", stringify!($code), "` ", $msg)] $name, )*
        }

        impl ErrCode {
            /// Every variant, in table order.
            pub const ALL: &'static [ErrCode] = &[$(ErrCode::$name),*];

            /// The numeric errcode.
            pub const fn code(self) -> i32 {
                match self { $(ErrCode::$name => $code,)* }
            }

            /// The base errmsg (no ` rid: …` suffix).
            pub const fn errmsg(self) -> &'static str {
                match self { $(ErrCode::$name => $msg,)* }
            }

            /// The variant for a number. A few numbers mean different things on the Official
            /// Account and on WeCom (40013, 41002, 41004, 48002); the Official Account's variant
            /// comes first in the table and is the one returned.
            pub fn from_code(code: i32) -> Option<ErrCode> {
                Self::ALL.iter().copied().find(|e| e.code() == code)
            }
        }
    };
}

errcodes! {
    // Success and transient (§2.1, §3).
    Ok = 0, "ok";
    SystemError = -1, "system error";

    // Tokens (§2.1, §2.3).
    InvalidCredential = 40001, "invalid credential, access_token is invalid or not latest";
    InvalidGrantType = 40002, "invalid grant_type";
    InvalidOpenid = 40003, "invalid openid";
    InvalidMediaType = 40004, "invalid media type";
    InvalidMediaId = 40007, "invalid media_id";
    InvalidMsgType = 40008, "invalid message type";
    InvalidAppid = 40013, "invalid appid";
    InvalidAccessToken = 40014, "invalid access_token";

    // Menu (§7).
    InvalidButtonSize = 40016, "invalid button size";
    InvalidButtonType = 40017, "invalid button type";
    InvalidButtonNameSize = 40018, "invalid button name size";
    InvalidButtonKeySize = 40019, "invalid button key size";
    InvalidButtonUrlSize = 40020, "invalid button url size";
    InvalidSubButtonSize = 40023, "invalid sub button size";
    InvalidSubButtonUrlDomain = 40054, "invalid sub button url domain";
    InvalidButtonUrlDomain = 40055, "invalid button url domain";

    // Global (§3).
    InvalidCharset = 40033, "invalid charset. please check your request, if include \\uxxxx will create fail!";
    InvalidArgsSize = 40035, "invalid args size";
    InvalidAppsecret = 40125, "invalid appsecret";
    InvalidIp = 40164, "invalid ip, not in whitelist";
    InvalidAccountType = 40200, "invalid account type";
    AccessTokenMissing = 41001, "access_token missing";
    AppidMissing = 41002, "appid missing";
    AppsecretMissing = 41004, "appsecret missing";
    MissingOpenid = 41009, "missing openid";
    AccessTokenExpired = 42001, "access_token expired";
    RequirePost = 43002, "require POST method";
    RequireSubscribe = 43004, "require subscribe";
    RequireRemoveBlacklist = 43019, "require remove blacklist";
    UserRefuseToAcceptMsg = 43101, "user refuse to accept the msg";
    EmptyPostData = 44002, "empty post data";
    EmptyNewsData = 44003, "empty news data";
    EmptyContent = 44004, "empty content";
    ContentSizeOutOfLimit = 45002, "content size out of limit";
    TitleSizeOutOfLimit = 45003, "title size out of limit";
    DescriptionSizeOutOfLimit = 45004, "description size out of limit";
    UrlSizeOutOfLimit = 45005, "url size out of limit";
    PicurlSizeOutOfLimit = 45006, "picurl size out of limit";
    PlaytimeOutOfLimit = 45007, "playtime out of limit";
    ArticleSizeOutOfLimit = 45008, "article size out of limit";
    ApiDailyQuota = 45009, "reach max api daily quota limit";
    ApiMinuteQuota = 45011, "api minute-quota reach limit, must slower, retry next minute";
    /// The customer-service window is closed or the user unfollowed (§3, RULES.md §3).
    ResponseOutOfTimeLimit = 45015, "response out of time limit or subscription is canceled";
    /// The window's allowance is spent (§3, RULES.md §3).
    OutOfResponseCountLimit = 45047, "out of response count limit";
    NoPermissionToUseWeappInMenu = 45064, "no permission to use weapp in menu";
    InvalidCommand = 45072, "invalid command";
    NeedInteraction = 45080, "need sending message to user, or recving message from user in the last 30 seconds before typing";
    AlreadyTyping = 45081, "you are already typing";
    MenuNoExist = 46003, "menu no exist";
    UserNoExist = 46004, "user no exist";
    DataFormatError = 47001, "data format error";
    ApiUnauthorized = 48001, "api unauthorized";
    UserBlockReceiveMessage = 48002, "user block receive message";
    ApiForbiddenForIrregularities = 48004, "api forbidden for irregularities, view detail on mp.weixin.qq.com";
    NoPermissionForMsgtype = 48008, "no permission for this msgtype";
    ApiOrUserUnauthorized = 50001, "api unauthorized or user unauthorized";
    UserLimited = 50002, "user limited";
    UserIsUnsubscribed = 50005, "user is unsubscribed";
    /// kefu wording: WECHAT.md §7 records no English text.
    MenuUrlDomainCountOutOfLimit = 65316, "too many external url domains in menu, max 3";
    /// kefu wording: WECHAT.md §7 records no English text.
    InvalidMenuUrl = 65317, "invalid url";

    // Legacy KF accounts and sessions (§10).
    KfSystemError = 61450, "system error";
    KfInvalidParameter = 61451, "invalid parameter";
    InvalidKfAccount = 61452, "invalid kf_account";
    /// Spelling as WeChat sends it.
    KfAccountExisted = 61453, "kf_account exsited";
    /// Spelling as WeChat sends it.
    InvalidKfAccountLength = 61454, "invalid kf_acount length";
    IllegalCharacterInKfAccount = 61455, "illegal character in kf_account";
    KfAccountCountExceeded = 61456, "kf_account count exceeded";
    InvalidFileType = 61457, "invalid file type";
    DateFormatError = 61500, "date format error";
    EnableNewCustomService = 65400, "please enable new custom service, or wait for a while if you have enabled";
    InvalidCustomServiceAccount = 65401, "invalid custom service account";
    CustomServiceAccountNeedBind = 65402, "the custom service account need to bind a wechat user";
    IllegalNickname = 65403, "illegal nickname";
    IllegalCustomServiceAccount = 65404, "illegal custom service account";
    CustomServiceAccountNumberReachLimit = 65405, "custom service account number reach limit";
    CustomServiceAccountExists = 65406, "custom service account exists";
    AlreadyWorker = 65407, "the wechat user have been one of your workers";
    AlreadyInvited = 65408, "you have already invited the wechat user";
    WechatAccountInvalid = 65409, "wechat account invalid";
    TooManyAccountsBoundByWorker = 65410, "too many custom service accounts bound by the worker";
    EffectiveInvitationExists = 65411, "a effective invitation to bind the custom service account exists";
    AccountAlreadyBound = 65412, "the custom service account have been bound by a wechat user";
    NoEffectiveSession = 65413, "no effective session for the customer";
    AnotherWorkerServing = 65414, "another worker is serving the customer";
    WorkerNotOnline = 65415, "the worker is not online";
    KfParamInvalid = 65416, "param invalid, please check";
    TimeRangeTooLong = 65417, "it is too long from the starttime to endtime";

    // WeCom token (§12.1). Same numbers as the Official Account's, other words.
    InvalidCorpid = 40013, "invalid corpid";
    SecretInvalid = 40091, "secret is invalid";
    /// kefu wording.
    CorpidMissing = 41002, "corpid missing";
    /// kefu wording.
    CorpsecretMissing = 41004, "corpsecret missing";
    WecomApiForbidden = 48002, "api forbidden";
    /// kefu wording.
    WecomNoPrivilege = 60011, "no privilege to access/modify contact/party/agent";
    /// kefu wording.
    WecomIpNotAllowed = 60020, "not allow to access from your ip";

    // WeCom customer contact (§12.3, §13).
    InvalidExternalUserid = 40096, "invalid external userid";
    /// kefu wording.
    MemberNotResigned = 40097, "the handover member has not resigned";
    /// kefu wording: kefu's answer to an add refused over the contact scale.
    ExternalContactCountReachLimit = 40099, "external contact count reach limit";
    /// kefu wording.
    MissingExternalUserid = 41035, "missing external userid";
    NotExternalContact = 84061, "not external contact";
    /// kefu wording.
    NoExternalContactPermission = 84074, "no external contact permission";

    // WeChat KF (§11.5).
    /// kefu wording.
    InvalidOpenKfid = 95000, "invalid open_kfid";
    /// kefu wording: the 6th message within 48 h of the customer's last message.
    KfMsgCountReachLimit = 95001, "send msg count reach limit, wait for the customer to reply";
    /// kefu wording: a send more than 48 h after the customer's last message.
    KfSendTimeLimitExceeded = 95002, "send msg time limit exceeded, 48 hours after the customer's last message";
    /// kefu wording.
    OpenKfidNotExist = 95004, "open_kfid not exist";
    /// kefu wording.
    KfUsedInWecom = 95011, "wechat kf already used in wecom";
    /// kefu wording.
    KfNotUsedInWecom = 95012, "wechat kf not used in wecom";
    /// kefu wording.
    KfApiSwitchOff = 95017, "kf api switch is off";
    KfSessionStatusInvalid = 95018, "send msg session status invalid";
    /// kefu wording.
    KfAccountBanned = 40201, "kf account banned for sensitive content";

    // WeCom interface licence (§14).
    /// kefu wording.
    NoInterconnectLicense = 701008, "no user with a valid interconnect license";
    /// kefu wording.
    AccountNotActivated = 701016, "account not activated or expired";
    /// kefu wording.
    NoValidLicense = 701099, "user has no valid interface license";
}

impl ErrCode {
    /// `{"errcode":N,"errmsg":"..."}`, compact, keys in WeChat's order.
    pub fn to_json(self) -> String {
        self.to_json_with_suffix("")
    }

    /// As [`ErrCode::to_json`] with `suffix` appended to errmsg, for the decorations real
    /// servers add (§1.3): see [`mp_rid_suffix`] and [`wecom_hint_suffix`].
    pub fn to_json_with_suffix(self, suffix: &str) -> String {
        let mut errmsg = String::with_capacity(self.errmsg().len() + suffix.len());
        errmsg.push_str(self.errmsg());
        errmsg.push_str(suffix);
        let mut out = String::with_capacity(errmsg.len() + 32);
        out.push_str("{\"errcode\":");
        out.push_str(&self.code().to_string());
        out.push_str(",\"errmsg\":");
        crate::json::push_json_string(&mut out, &errmsg);
        out.push('}');
        out
    }

    /// The JSON body as a value, for callers that add fields (WeCom answers carry data beside
    /// errcode and errmsg).
    pub fn body(self) -> ErrorBody {
        ErrorBody {
            errcode: self.code(),
            errmsg: self.errmsg().to_owned(),
        }
    }

    /// True for 0.
    pub fn is_ok(self) -> bool {
        self == ErrCode::Ok
    }
}

impl std::fmt::Display for ErrCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "errcode {}: {}", self.code(), self.errmsg())
    }
}

impl std::error::Error for ErrCode {}

/// `{"errcode": N, "errmsg": "..."}` as data: what every WeChat error answer is, and what an
/// action endpoint answers on success (§1.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub errcode: i32,
    pub errmsg: String,
}

/// The Official Account's current decoration: ` rid: xxxxxxxx-xxxxxxxx-xxxxxxxx` (§1.3). The
/// three words come from the caller (kefu-wechat draws no random numbers).
pub fn mp_rid_suffix(rid: [u32; 3]) -> String {
    format!(" rid: {:08x}-{:08x}-{:08x}", rid[0], rid[1], rid[2])
}

/// WeCom's decoration: `, hint: [HINT], from ip: IP, more info at …?e=CODE` (§1.3).
pub fn wecom_hint_suffix(code: ErrCode, hint: &str, ip: &str) -> String {
    format!(
        ", hint: [{hint}], from ip: {ip}, more info at https://open.work.weixin.qq.com/devtool/query?e={}",
        code.code()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_codes_and_messages() {
        assert_eq!(ErrCode::Ok.to_json(), r#"{"errcode":0,"errmsg":"ok"}"#);
        assert_eq!(ErrCode::SystemError.code(), -1);
        assert_eq!(ErrCode::InvalidCredential.code(), 40001);
        assert_eq!(ErrCode::InvalidAccessToken.code(), 40014);
        assert_eq!(ErrCode::InvalidAppsecret.code(), 40125);
        assert_eq!(ErrCode::MissingOpenid.code(), 41009);
        assert_eq!(
            ErrCode::ResponseOutOfTimeLimit.to_json(),
            r#"{"errcode":45015,"errmsg":"response out of time limit or subscription is canceled"}"#
        );
        assert_eq!(
            ErrCode::OutOfResponseCountLimit.to_json(),
            r#"{"errcode":45047,"errmsg":"out of response count limit"}"#
        );
        assert_eq!(ErrCode::KfSessionStatusInvalid.code(), 95018);
        assert_eq!(ErrCode::NotExternalContact.errmsg(), "not external contact");
    }

    #[test]
    fn errmsg_is_json_escaped() {
        let json = ErrCode::InvalidCharset.to_json();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["errmsg"], ErrCode::InvalidCharset.errmsg());
        assert!(ErrCode::InvalidCharset.errmsg().contains("\\uxxxx"));
    }

    #[test]
    fn from_code_round_trips_numbers() {
        for &e in ErrCode::ALL {
            let back = ErrCode::from_code(e.code()).unwrap();
            assert_eq!(back.code(), e.code());
        }
        assert_eq!(ErrCode::from_code(40013), Some(ErrCode::InvalidAppid));
        assert_eq!(ErrCode::from_code(12345), None);
    }

    #[test]
    fn numbers_repeat_only_across_platforms() {
        // A number may appear twice only for an Official Account / WeCom pair.
        let shared = [40013, 41002, 41004, 48002];
        for (i, a) in ErrCode::ALL.iter().enumerate() {
            for b in &ErrCode::ALL[i + 1..] {
                if a.code() == b.code() {
                    assert!(
                        shared.contains(&a.code()),
                        "{a:?} and {b:?} share {}",
                        a.code()
                    );
                }
            }
        }
    }

    #[test]
    fn decorations() {
        assert_eq!(
            mp_rid_suffix([0x5f3ded7d, 0x22929d02, 0x4ba1f5f6]),
            " rid: 5f3ded7d-22929d02-4ba1f5f6"
        );
        let json = ErrCode::NotExternalContact.to_json_with_suffix(&wecom_hint_suffix(
            ErrCode::NotExternalContact,
            "1587638134_59_10c59a36f1cb3c6706ad8e04d0a15d7a",
            "115.205.95.244",
        ));
        assert_eq!(
            json,
            "{\"errcode\":84061,\"errmsg\":\"not external contact, hint: [1587638134_59_10c59a36f1cb3c6706ad8e04d0a15d7a], from ip: 115.205.95.244, more info at https://open.work.weixin.qq.com/devtool/query?e=84061\"}"
        );
    }
}
