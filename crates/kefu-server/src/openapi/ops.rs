//! The declarations `/api/v1/openapi.json` is built from: one [`Op`] per operation, and the
//! shared schemas, in the field notation of `openapi.rs`.

/// One operation of the API.
pub struct Op {
    pub method: &'static str,
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    /// Query parameters.
    pub query: &'static [&'static str],
    /// The JSON body's fields, if it takes one.
    pub request: Option<&'static str>,
    /// The success status and its JSON answer's fields (`None`: no body).
    pub status: u16,
    pub response: Option<&'static str>,
}

const PAGE: &[&str] = &["limit", "after"];

const ACCOUNT_FIELDS: &str = "name:string, account_type:string, webhook_url:string, \
     token:string, encoding_aes_key:string, encrypt_mode:string, registered_at:string, \
     verify_webhook:boolean";

const ACTION_FIELDS: &str = "appid:string, type:string, msgtype:string, content:string, \
     bizmsgmenuid:string, pic_url:string, media_id:string, format:string, recognition:string, \
     thumb_media_id:string, location_x:number, location_y:number, scale:number, label:string, \
     title:string, description:string, url:string, key:string, scan_result:string, \
     ticket:string, amount_fen:integer";

const ACTION_ANSWER: &str = "openid:string, trigger:string, event:string, \
     pushed{status:string, msg_id:string, attempts:integer, http_status:integer}, \
     passive_reply{msgtype:string, content:string}, \
     allowance{remaining:integer, expires_at:string}";

const CONVERSATION: &str = "openid:string, following:boolean, ruleset:string, combine:string, \
     remaining:integer, expires_at:string, sent_in_window:integer, \
     grants[{trigger:string, at:string, ruleset:string, quota:integer, remaining:integer, \
     expires_at:string}], \
     next_send{decision:string, errcode:integer, errmsg:string, reopen:array, why:string}";

const RULESET_FILE: &str =
    "name:string, platform:string, combine:string, triggers:object, capabilities:object";

pub const OPS: &[Op] = &[
    Op {
        method: "get",
        path: "/api/v1/openapi.json",
        tag: "conventions",
        summary: "This document",
        query: &[],
        request: None,
        status: 200,
        response: Some("openapi:string, info:object, paths:object, components:object"),
    },
    Op {
        method: "get",
        path: "/healthz",
        tag: "conventions",
        summary: "200 when ready (text `ok`, no admin token)",
        query: &[],
        request: None,
        status: 200,
        response: None,
    },
    Op {
        method: "get",
        path: "/metrics",
        tag: "conventions",
        summary: "Prometheus text format (no admin token)",
        query: &[],
        request: None,
        status: 200,
        response: None,
    },
    Op {
        method: "post",
        path: "/api/v1/accounts",
        tag: "accounts",
        summary: "Create an Official Account",
        query: &[],
        request: Some(ACCOUNT_FIELDS),
        status: 201,
        response: Some("$Account"),
    },
    Op {
        method: "get",
        path: "/api/v1/accounts",
        tag: "accounts",
        summary: "List accounts",
        query: PAGE,
        request: None,
        status: 200,
        response: Some("accounts[$Account]"),
    },
    Op {
        method: "get",
        path: "/api/v1/accounts/{appid}",
        tag: "accounts",
        summary: "One account, with its credentials",
        query: &[],
        request: None,
        status: 200,
        response: Some("$Account"),
    },
    Op {
        method: "patch",
        path: "/api/v1/accounts/{appid}",
        tag: "accounts",
        summary: "Change an account's optional fields",
        query: &[],
        request: Some(ACCOUNT_FIELDS),
        status: 200,
        response: Some("$Account"),
    },
    Op {
        method: "delete",
        path: "/api/v1/accounts/{appid}",
        tag: "accounts",
        summary: "Delete an account and everything of it",
        query: &[],
        request: None,
        status: 204,
        response: None,
    },
    Op {
        method: "get",
        path: "/api/v1/accounts/{appid}/menu",
        tag: "accounts",
        summary: "The custom menu as created (404 menu_not_found)",
        query: &[],
        request: None,
        status: 200,
        response: Some(
            "appid:string, menu{button[{type:string, name:string, key:string, url:string, \
             media_id:string, article_id:string, appid:string, pagepath:string, \
             sub_button:array}]}, created_at:string",
        ),
    },
    Op {
        method: "get",
        path: "/api/v1/accounts/{appid}/qrcodes",
        tag: "accounts",
        summary: "The account's parametric QR codes: tickets with scene, kind and expiry",
        query: PAGE,
        request: None,
        status: 200,
        response: Some(
            "qrcodes[{ticket:string, url:string, kind:string, action_name:string, \
             scene{scene_id:integer, scene_str:string}, created_at:string, expires_at:string, \
             expired:boolean}]",
        ),
    },
    Op {
        method: "post",
        path: "/api/v1/users",
        tag: "users",
        summary: "Create a user",
        query: &[],
        request: Some("nickname:string"),
        status: 201,
        response: Some("$User"),
    },
    Op {
        method: "get",
        path: "/api/v1/users",
        tag: "users",
        summary: "List users",
        query: PAGE,
        request: None,
        status: 200,
        response: Some("users[$User]"),
    },
    Op {
        method: "get",
        path: "/api/v1/users/{user_id}",
        tag: "users",
        summary: "One user, with an openid per account",
        query: &[],
        request: None,
        status: 200,
        response: Some("$User"),
    },
    Op {
        method: "delete",
        path: "/api/v1/users/{user_id}",
        tag: "users",
        summary: "Delete a user",
        query: &[],
        request: None,
        status: 204,
        response: None,
    },
    Op {
        method: "post",
        path: "/api/v1/users/{user_id}/actions",
        tag: "users",
        summary: "The user does something to an account: follow, unfollow, message, \
                  menu_click, qr_scan, payment",
        query: &["wait"],
        request: Some(ACTION_FIELDS),
        status: 200,
        response: Some(ACTION_ANSWER),
    },
    Op {
        method: "get",
        path: "/api/v1/users/{user_id}/inbox",
        tag: "users",
        summary: "What the user received, oldest first",
        query: &["appid", "limit", "after"],
        request: None,
        status: 200,
        response: Some(
            "messages[{id:string, appid:string, openid:string, source:string, msgtype:string, \
             body:object, sent_at:string}]",
        ),
    },
    Op {
        method: "get",
        path: "/api/v1/accounts/{appid}/conversations/{openid}",
        tag: "conversations",
        summary: "The conversation's allowance, explained",
        query: &[],
        request: None,
        status: 200,
        response: Some(CONVERSATION),
    },
    Op {
        method: "get",
        path: "/api/v1/clock",
        tag: "clock",
        summary: "The rule clock",
        query: &[],
        request: None,
        status: 200,
        response: Some("$Clock"),
    },
    Op {
        method: "post",
        path: "/api/v1/clock/advance",
        tag: "clock",
        summary: "Move a virtual clock ahead",
        query: &[],
        request: Some("seconds:integer"),
        status: 200,
        response: Some("$Clock"),
    },
    Op {
        method: "post",
        path: "/api/v1/clock/set",
        tag: "clock",
        summary: "Set a virtual clock (never backwards)",
        query: &[],
        request: Some("now:string"),
        status: 200,
        response: Some("$Clock"),
    },
    Op {
        method: "post",
        path: "/api/v1/reset",
        tag: "clock",
        summary: "Wipe all state but the admin token (virtual clock only)",
        query: &[],
        request: None,
        status: 200,
        response: Some("reset:boolean, clock=$Clock"),
    },
    Op {
        method: "get",
        path: "/api/v1/rulesets",
        tag: "rulesets",
        summary: "Every rule set: shipped and defined over the API",
        query: &[],
        request: None,
        status: 200,
        response: Some("rulesets[$RuleSet]"),
    },
    Op {
        method: "get",
        path: "/api/v1/rulesets/{name}",
        tag: "rulesets",
        summary: "One rule set",
        query: &[],
        request: None,
        status: 200,
        response: Some("$RuleSet"),
    },
    Op {
        method: "put",
        path: "/api/v1/rulesets/{name}",
        tag: "rulesets",
        summary: "Define or change a rule set (TOML with Content-Type application/toml, or \
                  JSON); 409 ruleset_in_use, 422 invalid_ruleset with a reason",
        query: &[],
        request: Some(RULESET_FILE),
        status: 201,
        response: Some("$RuleSet"),
    },
    Op {
        method: "post",
        path: "/api/v1/rollouts",
        tag: "rollouts",
        summary: "Create a rollout from one rule set to another",
        query: &[],
        request: Some(
            "id:string, platform:string, from:string, to:string, new_accounts_from:string, \
             batches[{at:string, percent:number}], channels:array, note:string",
        ),
        status: 201,
        response: Some("$Rollout"),
    },
    Op {
        method: "get",
        path: "/api/v1/rollouts",
        tag: "rollouts",
        summary: "Every rollout, in creation order",
        query: &[],
        request: None,
        status: 200,
        response: Some("rollouts[$Rollout]"),
    },
    Op {
        method: "get",
        path: "/api/v1/rollouts/{id}",
        tag: "rollouts",
        summary: "One rollout and its progress",
        query: &[],
        request: None,
        status: 200,
        response: Some("$Rollout"),
    },
    Op {
        method: "post",
        path: "/api/v1/rollouts/{id}/pause",
        tag: "rollouts",
        summary: "Pause a rollout at the rule clock's now",
        query: &[],
        request: None,
        status: 200,
        response: Some("$Rollout"),
    },
    Op {
        method: "post",
        path: "/api/v1/rollouts/{id}/resume",
        tag: "rollouts",
        summary: "Resume a paused rollout",
        query: &[],
        request: None,
        status: 200,
        response: Some("$Rollout"),
    },
    Op {
        method: "put",
        path: "/api/v1/rollouts/{id}/pins/{appid}",
        tag: "rollouts",
        summary: "Pin an account to the rollout's from or to",
        query: &[],
        request: Some("pin:string"),
        status: 200,
        response: Some("$Rollout"),
    },
    Op {
        method: "delete",
        path: "/api/v1/rollouts/{id}/pins/{appid}",
        tag: "rollouts",
        summary: "End an account's pin",
        query: &[],
        request: None,
        status: 200,
        response: Some("$Rollout"),
    },
    Op {
        method: "get",
        path: "/api/v1/accounts/{appid}/notices",
        tag: "rollouts",
        summary: "The account's rule-set changes, oldest first",
        query: &[],
        request: None,
        status: 200,
        response: Some(
            "notices[{at:string, kind:string, channel:string, from:string, to:string, \
             text:string}]",
        ),
    },
    Op {
        method: "get",
        path: "/api/v1/traffic",
        tag: "rollouts",
        summary: "Every trigger and send in [from, to), one JSON object a line \
                  (application/x-ndjson)",
        query: &["from", "to"],
        request: None,
        status: 200,
        response: Some(
            "v:integer, seq:integer, at:string, kind:string, appid:string, platform:string, \
             registered_at:string, openid:string, trigger:string, api:string, \
             errcode:integer, ruleset:string",
        ),
    },
    Op {
        method: "get",
        path: "/api/v1/accounts/{appid}/deliveries",
        tag: "deliveries",
        summary: "The account's webhook deliveries (pushes, URL verifications, replays), \
                  newest first, every attempt recorded",
        query: &["limit", "before"],
        request: None,
        status: 200,
        response: Some("deliveries[$Delivery]"),
    },
    Op {
        method: "post",
        path: "/api/v1/accounts/{appid}/deliveries/{id}/replay",
        tag: "deliveries",
        summary: "Send a delivery again: the same body with a fresh signature",
        query: &["wait"],
        request: None,
        status: 200,
        response: Some(
            "id:string, replay_of:string, \
             pushed{status:string, msg_id:string, attempts:integer, http_status:integer}, \
             passive_reply{msgtype:string, content:string}",
        ),
    },
];

/// Shared schemas.
pub const SCHEMAS: &[(&str, &str)] = &[
    (
        "Account",
        "appid:string, secret:string, original_id:string, name:string, account_type:string, \
         webhook_url:string, token:string, encoding_aes_key:string, encrypt_mode:string, \
         registered_at:string, created_at:string, ruleset:string",
    ),
    (
        "User",
        "user_id:string, nickname:string, openids:object, created_at:string",
    ),
    ("Clock", "mode:string, now:string, unix:integer"),
    (
        "RuleSet",
        "name:string, platform:string, combine:string, triggers:object, capabilities:object, \
         shipped:boolean, in_use:boolean, toml:string",
    ),
    (
        "Rollout",
        "id:string, platform:string, from:string, to:string, new_accounts_from:string, \
         batches[{at:string, percent:number}], channels:array, note:string, created_at:string, \
         active:boolean, paused:boolean, pauses[{at:string, resumed:string}], \
         pins[{appid:string, pin:string, at:string, until:string}], \
         progress{moved:integer, total:integer, next_batch{at:string, percent:number}, \
         shadow{would_differ:object}}",
    ),
    (
        "Delivery",
        "id:string, created_at:string, kind:string, event:string, msg_id:string, \
         openid:string, url:string, query:string, body:string, status:string, \
         attempts[{n:integer, at:string, http_status:integer, latency_ms:integer, \
         error:string}], passive_reply{msgtype:string, content:string}, replay_of:string",
    ),
    ("Error", "error{code:string, message:string}"),
];
