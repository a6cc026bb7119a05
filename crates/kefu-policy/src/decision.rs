//! What deciding answers: a [`Decision`] is a plain `Copy` value (no heap, so the send path
//! allocates nothing) carrying its [`Explanation`], the structured fields of RULES.md §3
//! "Explain". A refusal is a value like any other; deciding has no error case.
//!
//! The numeric errcodes live here, once, because the decision is what produces them; their
//! WeChat `errmsg` texts belong to kefu-wechat's table.

use crate::book::RuleSetId;
use crate::ruleset::Quota;
use crate::trigger::{Combine, Trigger, TriggerSet};

/// Accept or refuse, as the API's `decision` field says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    Accept,
    Refuse,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accept => "accept",
            Verdict::Refuse => "refuse",
        }
    }
}

/// What was decided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// A customer-service message (`custom/send`).
    Send,
    /// `custom/typing` with `command = "Typing"`.
    Typing,
    /// `custom/typing` with `command = "CancelTyping"`.
    CancelTyping,
    /// `custom/typing` with any other command.
    UnknownCommand,
}

/// Why the decision is what it is; each reason has exactly one errcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Accepted (errcode 0).
    Accepted,
    /// 45015: the user does not follow the account.
    NotFollowing,
    /// 45015: no live grant (none ever, or every one past its deadline).
    WindowClosed,
    /// 45047: live grant(s), but nothing remaining.
    Exhausted,
    /// 45072: a typing command that is neither `Typing` nor `CancelTyping`.
    InvalidCommand,
    /// 45080: no user message and no accepted send in the last 30 s.
    NoRecentInteraction,
    /// 45081: `Typing` less than 15 s after a `Typing` with no send or cancel between.
    AlreadyTyping,
}

impl Reason {
    pub fn errcode(self) -> u32 {
        match self {
            Reason::Accepted => 0,
            Reason::NotFollowing | Reason::WindowClosed => 45015,
            Reason::Exhausted => 45047,
            Reason::InvalidCommand => 45072,
            Reason::NoRecentInteraction => 45080,
            Reason::AlreadyTyping => 45081,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Accepted => "accepted",
            Reason::NotFollowing => "not_following",
            Reason::WindowClosed => "window_closed",
            Reason::Exhausted => "exhausted",
            Reason::InvalidCommand => "invalid_command",
            Reason::NoRecentInteraction => "no_recent_interaction",
            Reason::AlreadyTyping => "already_typing",
        }
    }
}

/// The grant a decision used, or the one whose absence it reports: what the trigger that set it
/// was, when, under which rule set, with which quota, how many were left just before this
/// decision, and its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GrantFacts {
    pub trigger: Trigger,
    pub at: i64,
    pub ruleset: RuleSetId,
    pub quota: Quota,
    pub remaining_before: Quota,
    pub deadline: i64,
}

/// The structured explanation of one decision (RULES.md §3 "Explain"). Tests assert these
/// fields; [`Explanation::sentence`] renders them for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Explanation {
    pub(crate) action: Action,
    pub(crate) reason: Reason,
    pub(crate) now: i64,
    pub(crate) following: bool,
    pub(crate) combine: Combine,
    pub(crate) grant: Option<GrantFacts>,
    pub(crate) reopen: TriggerSet,
    pub(crate) since: Option<i64>,
}

impl Explanation {
    pub fn decision(&self) -> Verdict {
        if self.reason == Reason::Accepted {
            Verdict::Accept
        } else {
            Verdict::Refuse
        }
    }

    pub fn errcode(&self) -> u32 {
        self.reason.errcode()
    }

    pub fn reason(&self) -> Reason {
        self.reason
    }

    pub fn action(&self) -> Action {
        self.action
    }

    /// The instant decided at.
    pub fn now(&self) -> i64 {
        self.now
    }

    pub fn following(&self) -> bool {
        self.following
    }

    /// The reading of the rule set in force for the conversation.
    pub fn combine(&self) -> Combine {
        self.combine
    }

    /// Accept: the grant spent from (or, for typing, the live grant). 45047: the exhausted live
    /// grant that lasts longest. 45015: the grant that expired last, if any is remembered.
    pub fn grant(&self) -> Option<&GrantFacts> {
        self.grant.as_ref()
    }

    /// The triggers that would reopen the window: after 45015/45047, those the rule set in force
    /// grants for (without `follow` for a follower, who cannot follow again); for a non-follower
    /// `follow` and `qr_scan`. Empty otherwise.
    pub fn reopen(&self) -> TriggerSet {
        self.reopen
    }

    /// 45080: the last user message or accepted send, if any; 45081: when typing started.
    pub fn since(&self) -> Option<i64> {
        self.since
    }
}

/// The answer to "may this be sent (or typed) now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decision(Explanation);

impl Decision {
    pub(crate) fn new(explanation: Explanation) -> Decision {
        Decision(explanation)
    }

    pub fn accepted(&self) -> bool {
        self.0.reason == Reason::Accepted
    }

    /// 0 when accepted, else the WeChat errcode of the refusal.
    pub fn errcode(&self) -> u32 {
        self.0.errcode()
    }

    pub fn reason(&self) -> Reason {
        self.0.reason
    }

    pub fn explanation(&self) -> &Explanation {
        &self.0
    }
}
