//! The records of the rest of the Official Account surface: custom menus, parametric QR codes,
//! how each follower followed, legacy KF accounts and stable tokens.
//!
//! Like every record, they hold plain data: a menu is the developer's JSON as created (opaque
//! here, as message bodies are), a QR scene is an id or a string. kefu-wechat's types never
//! reach the store.

use serde::{Deserialize, Serialize};

use crate::records::IssuedToken;

/// An account's custom menu as `menu/create` received it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuRecord {
    /// The `{"button":[...]}` body, re-serialised from what was checked; opaque to the store.
    pub json: String,
    /// Rule-clock instant of the `menu/create`.
    pub created_at: i64,
}

/// A QR code's scene value: `scene_id` or `scene_str`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum QrSceneValue {
    Id(u32),
    Str(String),
}

/// A parametric QR code, addressed by its ticket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrCodeRecord {
    pub ticket: String,
    pub appid: String,
    /// What the code encodes (the `url` of the `qrcode/create` answer).
    pub url: String,
    pub scene: QrSceneValue,
    pub permanent: bool,
    /// Rule-clock instants: QR expiry is something WeChat decides, so it follows the rule clock.
    pub created_at: i64,
    /// `None` for a permanent code.
    pub expires_at: Option<i64>,
    /// Creation order, for stable listing.
    pub seq: u64,
}

/// How a follower of an account followed (what `user/info` answers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowRecord {
    /// Rule-clock instant of the latest follow.
    pub subscribe_time: i64,
    /// The QR code's scene when the follow came through a parametric QR code.
    pub qr_scene: Option<QrSceneValue>,
    /// Follow order, for `user/get`'s paging.
    pub seq: u64,
}

/// One legacy KF account (WECHAT.md §10).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KfAccountRecord {
    pub kf_account: String,
    pub nickname: String,
    pub kf_id: u64,
    pub headimgurl: String,
    /// The WeChat user bound to the account (kefu binds none yet).
    pub kf_wx: Option<String>,
    /// A pending invitation: the invited WeChat id and when it lapses (rule clock).
    pub invite_wx: Option<String>,
    pub invite_expire_time: Option<i64>,
}

/// The KF accounts of one Official Account, in creation order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KfAccountSet {
    pub accounts: Vec<KfAccountRecord>,
    /// The next `kf_id` (WeChat numbers them from 1001).
    pub next_id: u64,
}

/// The stable tokens of one account (`/cgi-bin/stable_token`), isolated from `/cgi-bin/token`'s.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StableTokenSet {
    /// Oldest first; the last one is current.
    pub tokens: Vec<IssuedToken>,
    /// The wall-clock day (China time, as WeChat's quotas reset) of the force refreshes counted
    /// in `force_count`.
    pub force_day: i64,
    pub force_count: u32,
    /// Wall-clock second of the last force refresh.
    pub last_force_at: Option<i64>,
}
