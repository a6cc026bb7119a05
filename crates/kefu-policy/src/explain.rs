//! Explanations for people and for JSON: the sentence (`why`) and serde views that resolve rule
//! set ids to names with the book. Tests assert the structured fields, never the sentence.
//!
//! Instants are rendered as RFC 3339 in UTC, the API's convention for output.

use std::fmt::Write as _;

use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

use crate::book::{RuleBook, RuleSetId};
use crate::conversation::{
    ConversationView, GrantView, TYPING_LASTS_SECS, TYPING_NEEDS_INTERACTION_SECS,
};
use crate::decision::{Action, Explanation, GrantFacts, Reason};
use crate::instant::rfc3339;
use crate::ruleset::Quota;
use crate::trigger::TriggerSet;

fn reopen_phrase(reopen: TriggerSet) -> String {
    let names: Vec<&str> = reopen.iter().map(|t| t.as_str()).collect();
    match names.as_slice() {
        [] => "no trigger of the rule set in force would open one".to_owned(),
        [one] => format!("a {one} would open one"),
        [init @ .., last] => format!("a {} or {last} would open one", init.join(", ")),
    }
}

fn left(q: Quota) -> String {
    match q {
        Quota::Count(n) => n.to_string(),
        Quota::Unlimited => "unlimited".to_owned(),
    }
}

impl Explanation {
    /// One sentence saying what was decided and why, naming the reading used.
    pub fn sentence(&self, book: &RuleBook) -> String {
        let mut s = String::new();
        match self.reason {
            Reason::Accepted => s.push_str("accept: "),
            r => {
                let _ = write!(s, "refuse {}: ", r.errcode());
            }
        }
        let grant_terms = |g: &GrantFacts| {
            format!(
                "{} at {} under {}",
                g.trigger.phrase(),
                rfc3339(g.at),
                book.name(g.ruleset)
            )
        };
        match (self.reason, self.grant.as_ref()) {
            (Reason::Accepted, Some(g)) => match self.action {
                Action::Send | Action::UnknownCommand => {
                    let _ = write!(
                        s,
                        "{} of {} left from {}, until {}",
                        left(g.remaining_before),
                        left(g.quota),
                        grant_terms(g),
                        rfc3339(g.deadline)
                    );
                }
                Action::Typing => {
                    let _ = write!(s, "typing shown for up to {TYPING_LASTS_SECS} s");
                }
                Action::CancelTyping => s.push_str("typing cancelled"),
            },
            (Reason::Accepted, None) => s.push_str("accepted"),
            (Reason::NotFollowing, _) => {
                let _ = write!(
                    s,
                    "the user does not follow the account; {}",
                    reopen_phrase(self.reopen)
                );
            }
            (Reason::WindowClosed, Some(g)) => {
                let _ = write!(
                    s,
                    "the window from {} closed at {}; {}",
                    grant_terms(g),
                    rfc3339(g.deadline),
                    reopen_phrase(self.reopen)
                );
            }
            (Reason::WindowClosed, None) => {
                let _ = write!(s, "no window is open; {}", reopen_phrase(self.reopen));
            }
            (Reason::Exhausted, g) => {
                if let Some(g) = g {
                    let _ = write!(
                        s,
                        "all {} messages from {} are used (the window lasts until {}); ",
                        left(g.quota),
                        grant_terms(g),
                        rfc3339(g.deadline)
                    );
                }
                s.push_str(&reopen_phrase(self.reopen).replace("open one", "allow more"));
            }
            (Reason::InvalidCommand, _) => {
                s.push_str("the typing command is neither Typing nor CancelTyping");
            }
            (Reason::NoRecentInteraction, _) => {
                let last = self
                    .since
                    .map_or("never".to_owned(), |at| format!("at {}", rfc3339(at)));
                let _ = write!(
                    s,
                    "typing needs a user message or an accepted send in the last \
                     {TYPING_NEEDS_INTERACTION_SECS} s (the last was {last})"
                );
            }
            (Reason::AlreadyTyping, _) => {
                let since = self
                    .since
                    .map_or_else(String::new, |at| format!(" since {}", rfc3339(at)));
                let _ = write!(
                    s,
                    "already typing{since}; typing again needs {TYPING_LASTS_SECS} s, a send or a CancelTyping"
                );
            }
        }
        let _ = write!(s, " ({} reading)", self.combine.as_str());
        s
    }

    /// A serde view with rule-set names resolved:
    /// `{"decision", "errcode", "reason", "combine", "reopen", "grant", "since", "why"}`.
    pub fn serializable<'a>(&'a self, book: &'a RuleBook) -> ExplanationJson<'a> {
        ExplanationJson { e: self, book }
    }
}

/// See [`Explanation::serializable`].
pub struct ExplanationJson<'a> {
    e: &'a Explanation,
    book: &'a RuleBook,
}

impl Serialize for ExplanationJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let e = self.e;
        let mut s = serializer.serialize_struct("Explanation", 8)?;
        s.serialize_field("decision", e.decision().as_str())?;
        s.serialize_field("errcode", &e.errcode())?;
        s.serialize_field("reason", e.reason.as_str())?;
        s.serialize_field("combine", &e.combine)?;
        s.serialize_field("reopen", &e.reopen)?;
        s.serialize_field(
            "grant",
            &e.grant.as_ref().map(|g| GrantJson {
                trigger: g.trigger.as_str(),
                at: rfc3339(g.at),
                ruleset: self.book.name(g.ruleset),
                quota: g.quota,
                remaining_before: g.remaining_before,
                expires_at: rfc3339(g.deadline),
            }),
        )?;
        s.serialize_field("since", &e.since.map(rfc3339))?;
        s.serialize_field("why", &e.sentence(self.book))?;
        s.end()
    }
}

#[derive(Serialize)]
struct GrantJson<'a> {
    trigger: &'static str,
    at: String,
    ruleset: &'a str,
    quota: Quota,
    remaining_before: Quota,
    expires_at: String,
}

impl ConversationView {
    /// A serde view in the API's conversation shape (without the openid):
    /// `{"following", "ruleset", "combine", "remaining", "expires_at", "sent_in_window",
    /// "grants": [{"trigger", "at", "ruleset", "quota", "remaining", "expires_at"}],
    /// "next_send": <explanation>}`.
    pub fn serializable<'a>(&'a self, book: &'a RuleBook) -> ConversationJson<'a> {
        ConversationJson { v: self, book }
    }
}

/// See [`ConversationView::serializable`].
pub struct ConversationJson<'a> {
    v: &'a ConversationView,
    book: &'a RuleBook,
}

impl Serialize for ConversationJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (v, book) = (self.v, self.book);
        let name = |id: RuleSetId| book.name(id);
        let grants: Vec<GrantViewJson<'_>> = v
            .grants
            .iter()
            .map(|g: &GrantView| GrantViewJson {
                trigger: g.trigger.as_str(),
                at: rfc3339(g.at),
                ruleset: name(g.ruleset),
                quota: g.quota,
                remaining: g.remaining,
                expires_at: rfc3339(g.expires_at),
            })
            .collect();
        let mut s = serializer.serialize_struct("Conversation", 8)?;
        s.serialize_field("following", &v.following)?;
        s.serialize_field("ruleset", &v.ruleset.map(name))?;
        s.serialize_field("combine", &v.combine)?;
        s.serialize_field("remaining", &v.remaining)?;
        s.serialize_field("expires_at", &v.expires_at.map(rfc3339))?;
        s.serialize_field("sent_in_window", &v.sent_in_window)?;
        s.serialize_field("grants", &grants)?;
        s.serialize_field("next_send", &v.next_send.explanation().serializable(book))?;
        s.end()
    }
}

#[derive(Serialize)]
struct GrantViewJson<'a> {
    trigger: &'static str,
    at: String,
    ruleset: &'a str,
    quota: Quota,
    remaining: Quota,
    expires_at: String,
}
