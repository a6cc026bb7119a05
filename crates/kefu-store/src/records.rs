//! The records kefu persists, and the keys that address the mutable ones.
//!
//! Mutable records (accounts, users, conversations, ...) live under a [`Key`] with a version;
//! inbox messages and traffic records are append-only effects of a commit, addressed by the
//! store-wide sequence number the server gave them.

use kefu_policy::{Conversation, Rollout};
use serde::{Deserialize, Serialize};

pub use crate::deliveries::{
    AttemptRecord, DeliveryKind, DeliveryRecord, DeliveryStatus, MsgIdCounter,
};
pub use crate::records_oa::*;

/// Where a mutable record lives.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// The admin token of `/api/v1`.
    AdminToken,
    /// The rule clock: its mode and, for a virtual clock, where it stands.
    Clock,
    /// Store-wide counters (the next sequence number, ...).
    Counters,
    Account(String),
    User(String),
    Conversation {
        appid: String,
        openid: String,
    },
    /// The access tokens issued to one account.
    Tokens(String),
    /// An account's custom menu (by appid).
    Menu(String),
    /// A parametric QR code (by ticket).
    QrCode(String),
    /// How a follower followed an account.
    Follow {
        appid: String,
        openid: String,
    },
    /// An account's legacy KF accounts (by appid).
    KfAccounts(String),
    /// An account's stable tokens (by appid).
    StableTokens(String),
    /// A rule set defined over the API (shipped ones are not stored).
    RuleSet(String),
    /// A rollout, with its pause and pin history.
    Rollout(String),
    /// A pending webhook delivery, by its id (deleted when the delivery ends).
    Outbox(u64),
    /// The `MsgId` counter of one account's message pushes.
    MsgIds(String),
}

impl Key {
    /// Users, conversations and follows: the records a world holds one or more of per user,
    /// millions of them, which a start can take from a snapshot of the server's tables
    /// ([`crate::Store::scan_without_users`]).
    pub fn is_per_user(&self) -> bool {
        matches!(
            self,
            Key::User(_) | Key::Conversation { .. } | Key::Follow { .. }
        )
    }
}

/// A mutable record. The variant always matches its [`Key`]'s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Record {
    AdminToken(String),
    Clock(ClockRecord),
    Counters(Counters),
    Account(AccountRecord),
    User(UserRecord),
    Conversation(Conversation),
    Tokens(TokenSet),
    Menu(MenuRecord),
    QrCode(QrCodeRecord),
    Follow(FollowRecord),
    KfAccounts(KfAccountSet),
    StableTokens(StableTokenSet),
    RuleSet(StoredRuleSet),
    Rollout(StoredRollout),
    Outbox(DeliveryRecord),
    MsgIds(MsgIdCounter),
}

impl Record {
    /// Whether this record may be stored under `key`.
    pub fn fits(&self, key: &Key) -> bool {
        matches!(
            (key, self),
            (Key::AdminToken, Record::AdminToken(_))
                | (Key::Clock, Record::Clock(_))
                | (Key::Counters, Record::Counters(_))
                | (Key::Account(_), Record::Account(_))
                | (Key::User(_), Record::User(_))
                | (Key::Conversation { .. }, Record::Conversation(_))
                | (Key::Tokens(_), Record::Tokens(_))
                | (Key::Menu(_), Record::Menu(_))
                | (Key::QrCode(_), Record::QrCode(_))
                | (Key::Follow { .. }, Record::Follow(_))
                | (Key::KfAccounts(_), Record::KfAccounts(_))
                | (Key::StableTokens(_), Record::StableTokens(_))
                | (Key::RuleSet(_), Record::RuleSet(_))
                | (Key::Rollout(_), Record::Rollout(_))
                | (Key::Outbox(_), Record::Outbox(_))
                | (Key::MsgIds(_), Record::MsgIds(_))
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClockMode {
    System,
    Virtual,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockRecord {
    pub mode: ClockMode,
    /// Where a virtual clock stands (unix seconds); unused by the system clock.
    pub now: i64,
    /// Where `reset` sends a virtual clock back to: `--clock-start`, or `None` for "the real
    /// time at the reset".
    pub start: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// The next store-wide sequence number (inbox ids, traffic records, ordering within a second).
    pub next_seq: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountType {
    Service,
    Subscription,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EncryptMode {
    Plain,
    Compat,
    Safe,
}

/// An Official Account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    pub appid: String,
    pub secret: String,
    pub original_id: String,
    pub name: String,
    pub account_type: AccountType,
    pub webhook_url: Option<String>,
    pub token: Option<String>,
    pub encoding_aes_key: Option<String>,
    pub encrypt_mode: EncryptMode,
    /// Rule-clock instant of registration (decides rollouts' rule 2).
    pub registered_at: i64,
    /// Rule-clock instant the record was created in kefu.
    pub created_at: i64,
    /// Creation order, for stable listing.
    pub seq: u64,
}

/// A person who acts on accounts; one openid per account, made on first contact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub user_id: String,
    pub nickname: String,
    pub created_at: i64,
    pub seq: u64,
    /// appid → openid.
    pub openids: Openids,
}

/// A user's openids, appid → openid, in appid order. Stored and shown exactly as a map
/// (postcard writes both the same way). In memory they are packed into one block of
/// length-prefixed strings: a user typically has one, which as a `Vec` of `String` pairs took
/// three heap blocks and 128 bytes, and packed takes one of 48 (a world holds one per user).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Openids(Box<[u8]>);

impl Openids {
    pub fn get(&self, appid: &str) -> Option<&str> {
        self.iter()
            .find(|(a, _)| *a == appid)
            .map(|(_, openid)| openid)
    }

    /// Sets the openid for `appid`, returning the one it replaces.
    pub fn insert(&mut self, appid: String, openid: String) -> Option<String> {
        let mut pairs = self.owned();
        let replaced = match pairs.binary_search_by(|(a, _)| a.as_str().cmp(&appid)) {
            Ok(at) => Some(std::mem::replace(&mut pairs[at].1, openid)),
            Err(at) => {
                pairs.insert(at, (appid, openid));
                None
            }
        };
        *self = Openids::pack(&pairs);
        replaced
    }

    pub fn remove(&mut self, appid: &str) -> Option<String> {
        let mut pairs = self.owned();
        let at = pairs.iter().position(|(a, _)| a == appid)?;
        let (_, openid) = pairs.remove(at);
        *self = Openids::pack(&pairs);
        Some(openid)
    }

    pub fn iter(&self) -> OpenidPairs<'_> {
        OpenidPairs(&self.0)
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn owned(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|(a, o)| (a.to_owned(), o.to_owned()))
            .collect()
    }

    /// `pairs` must be sorted by appid, each appid once.
    fn pack(pairs: &[(String, String)]) -> Openids {
        let mut packed = Vec::new();
        for (appid, openid) in pairs {
            crate::packed::push_str(&mut packed, appid);
            crate::packed::push_str(&mut packed, openid);
        }
        Openids(packed.into_boxed_slice())
    }
}

impl std::fmt::Debug for Openids {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// The (appid, openid) pairs of an [`Openids`], in appid order.
pub struct OpenidPairs<'a>(&'a [u8]);

impl<'a> OpenidPairs<'a> {
    fn part(&mut self) -> Option<&'a str> {
        crate::packed::take_str(&mut self.0)
    }
}

impl<'a> Iterator for OpenidPairs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        Some((self.part()?, self.part()?))
    }
}

impl<'a> IntoIterator for &'a Openids {
    type Item = (&'a str, &'a str);
    type IntoIter = OpenidPairs<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl FromIterator<(String, String)> for Openids {
    /// A later pair for the same appid replaces an earlier one, as in a map.
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Openids {
        let mut pairs: Vec<(String, String)> = pairs.into_iter().collect();
        // Stable: equal appids keep their order, and the last of each is kept.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut kept: Vec<(String, String)> = Vec::with_capacity(pairs.len());
        for pair in pairs {
            match kept.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => kept.push(pair),
            }
        }
        Openids::pack(&kept)
    }
}

impl Serialize for Openids {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // postcard writes a map's length first, so give it.
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (appid, openid) in self {
            map.serialize_entry(appid, openid)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Openids {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Openids, D::Error> {
        struct Pairs;
        impl<'de> serde::de::Visitor<'de> for Pairs {
            type Value = Openids;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of appid to openid")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Openids, A::Error> {
                let mut pairs: Vec<(String, String)> =
                    Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some((appid, openid)) = map.next_entry::<String, String>()? {
                    pairs.push((appid, openid));
                }
                Ok(pairs.into_iter().collect())
            }
        }
        deserializer.deserialize_map(Pairs)
    }
}

#[cfg(test)]
mod openids_tests {
    #![allow(clippy::unwrap_used)]
    use super::Openids;
    use std::collections::BTreeMap;

    #[test]
    fn stored_exactly_as_the_map_it_replaces() {
        let pairs = [("wxb", "o2"), ("wxa", "o1"), ("wxc", "o3")];
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(a, o)| (a.to_string(), o.to_string()))
            .collect();
        let openids: Openids = pairs
            .iter()
            .map(|(a, o)| (a.to_string(), o.to_string()))
            .collect();
        let bytes = postcard::to_allocvec(&map).unwrap();
        assert_eq!(postcard::to_allocvec(&openids).unwrap(), bytes);
        assert_eq!(postcard::from_bytes::<Openids>(&bytes).unwrap(), openids);
        assert_eq!(
            postcard::to_allocvec(&Openids::default()).unwrap(),
            postcard::to_allocvec(&BTreeMap::<String, String>::new()).unwrap()
        );
    }

    #[test]
    fn behaves_as_a_map() {
        let mut openids = Openids::default();
        assert_eq!(openids.insert("wxb".into(), "o2".into()), None);
        assert_eq!(openids.insert("wxa".into(), "o1".into()), None);
        assert_eq!(openids.insert("wxb".into(), "o3".into()), Some("o2".into()));
        assert_eq!(openids.get("wxb"), Some("o3"));
        let appids: Vec<&str> = openids.iter().map(|(a, _)| a).collect();
        assert_eq!(appids, ["wxa", "wxb"]);
        assert_eq!(format!("{openids:?}"), r#"{"wxa": "o1", "wxb": "o3"}"#);
        assert_eq!(openids.remove("wxa"), Some("o1".into()));
        assert_eq!(openids.get("wxa"), None);
        assert_eq!(openids.len(), 1);
        assert_eq!(openids.remove("wxb"), Some("o3".into()));
        assert!(openids.is_empty());
        assert_eq!(openids, Openids::default());
        // Collected like a map: in appid order, the last pair of an appid kept.
        let collected: Openids = [("wxb", "o1"), ("wxa", "o2"), ("wxb", "o3")]
            .into_iter()
            .map(|(a, o)| (a.to_owned(), o.to_owned()))
            .collect();
        assert_eq!(
            collected.iter().collect::<Vec<_>>(),
            [("wxa", "o2"), ("wxb", "o3")]
        );
    }
}

/// An access token as issued: tokens live on the wall clock, not the rule clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedToken {
    pub token: String,
    pub issued_at: i64,
    /// Wall-clock second from which the token is no longer accepted.
    pub valid_until: i64,
}

/// The tokens of one account that may still be valid, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSet {
    pub tokens: Vec<IssuedToken>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InboxSource {
    /// A customer-service message the developer sent through `custom/send`.
    Custom,
    /// The developer's synchronous XML answer to a push.
    PassiveReply,
    /// The platform's own notice (for example when a push failed).
    System,
}

/// A message the user received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxMessage {
    /// The store-wide sequence number: unique, increasing.
    pub id: u64,
    pub user_id: String,
    pub appid: String,
    pub openid: String,
    pub source: InboxSource,
    pub msgtype: String,
    /// The msgtype object as JSON text; opaque to the store.
    pub body: String,
    /// Rule-clock instant.
    pub sent_at: i64,
}

/// One line of the traffic log that `kefu replay` reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficRecord {
    /// The store-wide sequence number.
    pub seq: u64,
    /// Rule-clock instant.
    pub at: i64,
    pub event: TrafficEvent,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrafficEvent {
    Account {
        appid: String,
        platform: String,
        registered_at: i64,
    },
    /// A trigger (`message`, `follow`, ...) or `unfollow`, with the rule set in force for the
    /// account when it happened (empty for `unfollow`).
    Trigger {
        appid: String,
        openid: String,
        trigger: String,
        ruleset: String,
    },
    /// A customer-service send, accepted or refused.
    Send {
        appid: String,
        openid: String,
        api: String,
        errcode: u32,
        ruleset: String,
    },
}

/// A rule set defined over the API, under the id its grants refer to. Kept as its TOML file:
/// the format users read and write, and stable across versions of kefu.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRuleSet {
    pub id: u16,
    pub toml: String,
}

/// A rollout as created, with its history, the order it was created in (rollouts chain in
/// creation order) and the note its file carried.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRollout {
    pub seq: u64,
    pub created_at: i64,
    pub note: Option<String>,
    pub rollout: Rollout,
}
