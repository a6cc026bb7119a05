//! The small vocabularies of the rules: triggers (RULES.md §1), platforms, channels and the two
//! readings of how grants combine. Each has one snake_case name used in files, JSON and
//! explanations; `as_str` and `FromStr` are exact inverses.
//!
//! The serde derives keep variant order meaningful: compact binary formats (the store's) encode a
//! variant by its index, so variants are only ever appended, never reordered.

use serde::Serialize;

/// A name that is none of a vocabulary's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{name}`")]
pub struct UnknownName {
    /// Which vocabulary: "trigger", "platform", "channel" or "combine".
    pub kind: &'static str,
    pub name: String,
}

/// Declares a fieldless enum with its snake_case names, `ALL`, `as_str`, `FromStr` and `Display`.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident, $kind:literal, { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            ::serde::Serialize, ::serde::Deserialize,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [$name; [$($name::$variant),+].len()] = [$($name::$variant),+];

            /// The snake_case name used in files, JSON and explanations.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::trigger::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::trigger::UnknownName { kind: $kind, name: s.to_owned() }),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

// Used by `capability.rs` too.
pub(crate) use vocabulary;

vocabulary!(
    /// A user action that grants an allowance on a conversation (RULES.md §1).
    Trigger, "trigger", {
        /// The user sent any message.
        Message = "message",
        /// The user tapped a `click` or `scancode_*` custom-menu button.
        MenuClick = "menu_click",
        /// The user followed the account (not through a QR code).
        Follow = "follow",
        /// The user scanned a parametric QR code (following through it is this one trigger).
        QrScan = "qr_scan",
        /// The user completed a payment to a service account.
        Payment = "payment",
        /// The user opened the customer-service session (mini programs).
        SessionEnter = "session_enter",
    }
);

vocabulary!(
    /// The kind of account a rule set applies to.
    Platform, "platform", {
        /// WeChat Official Account.
        Oa = "oa",
        /// WeCom (enterprise WeChat).
        Wecom = "wecom",
        /// WeChat customer service (`kf/send_msg`).
        Kf = "kf",
        /// Mini program.
        Miniprogram = "miniprogram",
    }
);

vocabulary!(
    /// The client a rule set is evaluated for (RULES.md §4).
    Channel, "channel", {
        Api = "api",
        Mobile = "mobile",
        Pc = "pc",
    }
);

vocabulary!(
    /// How overlapping allowances combine (RULES.md §3).
    Combine, "combine", {
        /// Counts do not add up: a trigger raises remaining to the larger quota and the deadline
        /// to the later one. WeChat's documented reading and kefu's default.
        Merge = "merge",
        /// One grant per trigger kind; a send spends from the live grant that expires first.
        PerTrigger = "per_trigger",
    }
);

impl Platform {
    /// The channels on which an account of this platform is decided. Official Accounts, mini
    /// programs and WeChat customer service decide everything on `api`; WeCom rules reach the
    /// mobile and PC clients separately (RULES.md §4, §5).
    pub fn channels(self) -> &'static [Channel] {
        match self {
            Platform::Wecom => &Channel::ALL,
            Platform::Oa | Platform::Kf | Platform::Miniprogram => &[Channel::Api],
        }
    }
}

impl Trigger {
    /// The phrase explanations use for the user action ("from the user's message at ...").
    pub fn phrase(self) -> &'static str {
        match self {
            Trigger::Message => "the user's message",
            Trigger::MenuClick => "the user's menu click",
            Trigger::Follow => "the user's follow",
            Trigger::QrScan => "the user's QR-code scan",
            Trigger::Payment => "the user's payment",
            Trigger::SessionEnter => "the user's entering the session",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of trigger kinds, one bit each: explanations carry one without allocating.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TriggerSet(u8);

impl TriggerSet {
    pub const EMPTY: TriggerSet = TriggerSet(0);

    pub fn insert(&mut self, t: Trigger) {
        self.0 |= t.bit();
    }

    pub fn remove(&mut self, t: Trigger) {
        self.0 &= !t.bit();
    }

    pub fn contains(self, t: Trigger) -> bool {
        self.0 & t.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The members in `Trigger::ALL` order.
    pub fn iter(self) -> impl Iterator<Item = Trigger> {
        Trigger::ALL.into_iter().filter(move |t| self.contains(*t))
    }
}

impl FromIterator<Trigger> for TriggerSet {
    fn from_iter<I: IntoIterator<Item = Trigger>>(iter: I) -> Self {
        let mut set = TriggerSet::EMPTY;
        for t in iter {
            set.insert(t);
        }
        set
    }
}

/// Serialized as the list of names, e.g. `["follow", "qr_scan"]`.
impl Serialize for TriggerSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in Trigger::ALL {
            assert_eq!(t.as_str().parse::<Trigger>(), Ok(t));
        }
        for p in Platform::ALL {
            assert_eq!(p.as_str().parse::<Platform>(), Ok(p));
        }
        for c in Channel::ALL {
            assert_eq!(c.as_str().parse::<Channel>(), Ok(c));
        }
        for c in Combine::ALL {
            assert_eq!(c.as_str().parse::<Combine>(), Ok(c));
        }
        let names: Vec<_> = Trigger::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(
            names,
            [
                "message",
                "menu_click",
                "follow",
                "qr_scan",
                "payment",
                "session_enter"
            ]
        );
        assert_eq!(Combine::PerTrigger.as_str(), "per_trigger");
    }

    #[test]
    fn unknown_names_are_named() {
        let err = "Message".parse::<Trigger>().unwrap_err();
        assert_eq!(err.kind, "trigger");
        assert_eq!(err.name, "Message");
        assert!("wechat".parse::<Platform>().is_err());
        assert!("".parse::<Channel>().is_err());
    }

    #[test]
    fn serde_uses_the_same_names() {
        let json = serde_json::to_string(&Trigger::QrScan).unwrap();
        assert_eq!(json, "\"qr_scan\"");
        let back: Trigger = serde_json::from_str("\"session_enter\"").unwrap();
        assert_eq!(back, Trigger::SessionEnter);
    }

    #[test]
    fn trigger_set_holds_each_kind_once() {
        let mut set: TriggerSet = [Trigger::QrScan, Trigger::Follow, Trigger::QrScan]
            .into_iter()
            .collect();
        assert_eq!(set.len(), 2);
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [Trigger::Follow, Trigger::QrScan]
        );
        set.remove(Trigger::Follow);
        assert!(!set.contains(Trigger::Follow));
        assert_eq!(
            serde_json::to_string(&set).unwrap(),
            "[\"qr_scan\"]".to_owned()
        );
        assert!(TriggerSet::EMPTY.is_empty());
    }

    #[test]
    fn only_wecom_has_client_channels() {
        assert_eq!(Platform::Oa.channels(), [Channel::Api]);
        assert_eq!(Platform::Wecom.channels().len(), 3);
    }
}
