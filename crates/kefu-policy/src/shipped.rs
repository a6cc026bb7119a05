//! The rule sets kefu ships (RULES.md §2, §5), as the TOML files users read and copy
//! (`src/shipped/*.toml`), compiled in with `include_str!`, and the platform defaults of §4.

use crate::ruleset::RuleSet;
use crate::trigger::Platform;

/// `(name, file text)` of every shipped rule set. The position of each is its fixed
/// [`crate::RuleSetId`] in [`crate::RuleBook::shipped`]: only ever append.
pub const FILES: [(&str, &str); 6] = [
    (
        "wechat-oa-2021",
        include_str!("shipped/wechat-oa-2021.toml"),
    ),
    (
        "wechat-oa-2023",
        include_str!("shipped/wechat-oa-2023.toml"),
    ),
    (
        "wechat-miniprogram",
        include_str!("shipped/wechat-miniprogram.toml"),
    ),
    ("wechat-kf", include_str!("shipped/wechat-kf.toml")),
    (
        "wecom-scale-no-new-contacts",
        include_str!("shipped/wecom-scale-no-new-contacts.toml"),
    ),
    (
        "wecom-scale-reply-only",
        include_str!("shipped/wecom-scale-reply-only.toml"),
    ),
];

/// Every shipped rule set, parsed, in [`FILES`] order. (The tests prove each file parses, so
/// nothing is dropped; parsing is not a place to panic.)
pub fn rulesets() -> Vec<RuleSet> {
    FILES
        .iter()
        .filter_map(|(_, text)| RuleSet::from_toml(text).ok())
        .collect()
}

/// The shipped default rule set of a platform (`kefu serve --default-ruleset` overrides it).
pub fn default_for(p: Platform) -> &'static str {
    match p {
        Platform::Oa => "wechat-oa-2023",
        Platform::Wecom => "wecom-scale-no-new-contacts",
        Platform::Kf => "wechat-kf",
        Platform::Miniprogram => "wechat-miniprogram",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::{Access, Capability};
    use crate::ruleset::{Quota, TriggerRule};
    use crate::trigger::{Combine, Trigger};

    const H48: u32 = 48 * 3600;
    const MIN: u32 = 60;

    fn get(name: &str) -> RuleSet {
        let text = FILES.iter().find(|(n, _)| *n == name).unwrap().1;
        RuleSet::from_toml(text).unwrap()
    }

    fn row(rs: &RuleSet) -> [Option<(Quota, u32)>; 6] {
        Trigger::ALL.map(|t| {
            rs.rule(t)
                .map(|TriggerRule { quota, window_secs }| (quota, window_secs))
        })
    }

    fn n(q: u32, w: u32) -> Option<(Quota, u32)> {
        Some((Quota::Count(q), w))
    }

    #[test]
    fn every_file_parses_under_its_own_name() {
        let all = rulesets();
        assert_eq!(all.len(), FILES.len());
        for (rs, (name, _)) in all.iter().zip(FILES) {
            assert_eq!(rs.name, name);
            assert_eq!(rs.combine, Combine::Merge);
        }
        for p in Platform::ALL {
            let d = all.iter().find(|rs| rs.name == default_for(p)).unwrap();
            assert_eq!(d.platform, p);
        }
    }

    // One test per row of RULES.md §2; columns in Trigger::ALL order:
    // message, menu_click, follow, qr_scan, payment, session_enter.

    #[test]
    fn row_wechat_oa_2021() {
        let rs = get("wechat-oa-2021");
        assert_eq!(rs.platform, Platform::Oa);
        assert_eq!(
            row(&rs),
            [
                n(20, H48),
                n(3, MIN),
                n(3, MIN),
                n(3, MIN),
                n(20, H48),
                None
            ]
        );
    }

    #[test]
    fn row_wechat_oa_2023() {
        let rs = get("wechat-oa-2023");
        assert_eq!(rs.platform, Platform::Oa);
        assert_eq!(
            row(&rs),
            [
                n(5, H48),
                n(3, MIN),
                n(3, MIN),
                n(3, MIN),
                Some((Quota::Unlimited, H48)),
                None
            ]
        );
    }

    #[test]
    fn row_wechat_miniprogram() {
        let rs = get("wechat-miniprogram");
        assert_eq!(rs.platform, Platform::Miniprogram);
        assert_eq!(row(&rs), [n(5, H48), None, None, None, None, n(2, MIN)]);
    }

    #[test]
    fn row_wechat_kf() {
        let rs = get("wechat-kf");
        assert_eq!(rs.platform, Platform::Kf);
        assert_eq!(row(&rs), [n(5, H48), None, None, None, None, None]);
    }

    #[test]
    fn wecom_capability_tables() {
        use Access::{Allowed, Refused};
        let no_new = get("wecom-scale-no-new-contacts");
        let reply_only = get("wecom-scale-reply-only");
        for rs in [&no_new, &reply_only] {
            assert_eq!(rs.platform, Platform::Wecom);
            // Replies: unlimited within 48 h of the customer's message.
            assert_eq!(
                row(rs),
                [Some((Quota::Unlimited, H48)), None, None, None, None, None]
            );
            // Every capability is written down in the shipped files.
            assert_eq!(rs.capabilities().count(), Capability::ALL.len());
        }
        for (c, under_no_new, under_reply_only) in [
            (Capability::AddContact, Refused, Refused),
            (Capability::InviteToGroup, Refused, Refused),
            (Capability::SendProactive, Allowed, Refused),
            (Capability::SendReply, Allowed, Allowed),
            (Capability::MassSend, Allowed, Refused),
            (Capability::GroupManage, Allowed, Refused),
            (Capability::ViewCustomer, Allowed, Refused),
            (Capability::CustomerTools, Allowed, Refused),
            (Capability::Moments, Allowed, Refused),
            (Capability::Succession, Allowed, Refused),
        ] {
            assert_eq!(no_new.capability(c), under_no_new, "{c}");
            assert_eq!(reply_only.capability(c), under_reply_only, "{c}");
        }
    }
}
