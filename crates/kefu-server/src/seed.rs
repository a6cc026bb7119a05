//! Seeds: a TOML file of accounts with fixed credentials, users and follows that
//! `kefu serve --seed FILE` applies at start-up, so that a CI job knows its appid and secret
//! before kefu starts. `--demo` applies the built-in [`DEMO`] seed.
//!
//! Applying is idempotent: what exists is brought in line with the file (an account's secret
//! and fields, a user's nickname, a menu), what is missing is created, and what already holds
//! (a follow, a permanent QR code) is left alone. Everything is checked before anything
//! changes, and one seed is one commit.
//!
//! ```toml
//! [[accounts]]
//! appid = "wx0123456789abcdef"               # wx + 16 hex digits
//! secret = "0123456789abcdef0123456789abcdef" # 32 hex digits; omitted: made once, then kept
//! name = "CI Coffee Shop"
//! # optional, as in POST /api/v1/accounts: account_type, webhook_url, token,
//! # encoding_aes_key, encrypt_mode, registered_at (an RFC 3339 string), original_id
//! menu = { button = [{ type = "click", name = "Today", key = "V1001_TODAY" }] }
//! [[accounts.qrcodes]]                        # permanent codes only
//! action_name = "QR_LIMIT_STR_SCENE"
//! scene_str = "poster"
//!
//! [[users]]
//! user_id = "u_alice"                         # 1-64 letters, digits, _ or -
//! nickname = "Alice"
//!
//! [[follows]]
//! user_id = "u_alice"
//! appid = "wx0123456789abcdef"
//! openid = "oAlice00000000000000000000001"   # optional: 28 characters starting with o
//! ```

use kefu_policy::{Channel, Trigger};
use kefu_store::{
    AccountRecord, AccountType, EncryptMode, Key, MenuRecord, QrCodeRecord, QrSceneValue,
    UserRecord,
};
use kefu_wechat::menu::parse_menu_create;
use kefu_wechat::qrcode::{QrScene, parse_qrcode_create};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::app::{App, Ctx};
use crate::error::Unavailable;
use crate::ids;
use crate::shadow::Event as ShadowEvent;
use crate::world::{Entry, Tx, World};

/// The seed of `kefu serve --demo`: a coffee shop with a menu and a QR code, one follower and
/// one passer-by.
pub const DEMO: &str = include_str!("seed/demo.toml");

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    pub accounts: Vec<SeedAccount>,
    #[serde(default)]
    pub users: Vec<SeedUser>,
    #[serde(default)]
    pub follows: Vec<SeedFollow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedAccount {
    pub appid: String,
    pub secret: Option<String>,
    pub name: String,
    pub original_id: Option<String>,
    pub account_type: Option<String>,
    pub webhook_url: Option<String>,
    pub token: Option<String>,
    pub encoding_aes_key: Option<String>,
    pub encrypt_mode: Option<String>,
    pub registered_at: Option<String>,
    pub menu: Option<toml::Value>,
    #[serde(default)]
    pub qrcodes: Vec<SeedQrCode>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedQrCode {
    pub action_name: String,
    pub scene_id: Option<i64>,
    pub scene_str: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedUser {
    pub user_id: String,
    #[serde(default)]
    pub nickname: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFollow {
    pub user_id: String,
    pub appid: String,
    pub openid: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the seed is not valid TOML of the seed format: {0}")]
    Parse(String),
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

fn invalid(what: impl Into<String>, reason: impl Into<String>) -> SeedError {
    SeedError::Invalid {
        what: what.into(),
        reason: reason.into(),
    }
}

impl Seed {
    pub fn from_toml(text: &str) -> Result<Seed, SeedError> {
        toml::from_str(text).map_err(|e| SeedError::Parse(e.to_string()))
    }
}

/// What the seeded world holds after applying: for the operator (and `--demo`'s stdout).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub accounts: Vec<ReportAccount>,
    pub users: Vec<ReportUser>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportAccount {
    pub appid: String,
    pub secret: String,
    pub name: String,
    pub menu: bool,
    /// (ticket, scene) of the seeded QR codes.
    pub qrcodes: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportUser {
    pub user_id: String,
    pub nickname: String,
    /// (appid, openid, following).
    pub openids: Vec<(String, String, bool)>,
}

/// Applies `seed` in one commit; answers once it is durable.
pub async fn apply(app: &App, seed: &Seed) -> Result<Report, SeedError> {
    app.mutate(|world, tx, ctx| {
        check(world, seed)?;
        Ok(apply_checked(world, tx, ctx, seed))
    })
    .await
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Everything that could refuse, before anything changes.
fn check(world: &World, seed: &Seed) -> Result<(), SeedError> {
    for account in &seed.accounts {
        let what = format!("account {}", account.appid);
        if !(account.appid.starts_with("wx") && is_hex(&account.appid[2..], 16)) {
            return Err(invalid(
                what,
                "appid must be wx and 16 lowercase hex digits",
            ));
        }
        if account.secret.as_ref().is_some_and(|s| !is_hex(s, 32)) {
            return Err(invalid(what, "secret must be 32 lowercase hex digits"));
        }
        if account
            .original_id
            .as_ref()
            .is_some_and(|o| !(o.starts_with("gh_") && is_hex(&o[3..], 12)))
        {
            return Err(invalid(what, "original_id must be gh_ and 12 hex digits"));
        }
        let mut probe = new_account(account, 0);
        crate::api::accounts::apply(&mut probe, &account_fields(account))
            .map_err(|e| invalid(&what, e.message))?;
        if let Some(menu) = &account.menu {
            menu_json(menu).map_err(|reason| invalid(&what, reason))?;
        }
        for qr in &account.qrcodes {
            qr_scene(qr).map_err(|reason| invalid(&what, reason))?;
        }
    }
    for user in &seed.users {
        let ok = (1..=64).contains(&user.user_id.len())
            && user
                .user_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(invalid(
                format!("user {:?}", user.user_id),
                "user_id must be 1 to 64 letters, digits, _ or -",
            ));
        }
        if user.nickname.chars().count() > 64 {
            return Err(invalid(
                format!("user {}", user.user_id),
                "nickname must be at most 64 characters",
            ));
        }
    }
    // Looked up once per follow: a linear scan made a seed of 100,000 followers quadratic.
    let seeded_users: std::collections::HashSet<&str> =
        seed.users.iter().map(|u| u.user_id.as_str()).collect();
    for follow in &seed.follows {
        let what = format!("follow of {} by {}", follow.appid, follow.user_id);
        if !seeded_users.contains(follow.user_id.as_str())
            && !world.users.contains_key(&follow.user_id)
        {
            return Err(invalid(what, "no such user in the seed or the store"));
        }
        if !seed.accounts.iter().any(|a| a.appid == follow.appid)
            && !world.accounts.contains_key(&follow.appid)
        {
            return Err(invalid(what, "no such account in the seed or the store"));
        }
        let existing = world.users.openid(&follow.user_id, &follow.appid);
        if let Some(wanted) = &follow.openid {
            let shaped = wanted.len() == 28
                && wanted.starts_with('o')
                && wanted
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !shaped {
                return Err(invalid(
                    what,
                    "openid must be 28 letters, digits, _ or - starting with o",
                ));
            }
            match existing {
                Some(existing) if existing != wanted => {
                    return Err(invalid(
                        what,
                        format!("the user already has openid {existing} on this account"),
                    ));
                }
                Some(_) => {}
                None if world.conversations.is_issued(wanted)
                    || seed_openid_twice(seed, wanted) =>
                {
                    return Err(invalid(what, format!("openid {wanted} is taken")));
                }
                None => {}
            }
        }
    }
    Ok(())
}

fn seed_openid_twice(seed: &Seed, openid: &str) -> bool {
    seed.follows
        .iter()
        .filter(|f| f.openid.as_deref() == Some(openid))
        .count()
        > 1
}

fn apply_checked(world: &mut World, tx: &mut Tx, ctx: &Ctx<'_>, seed: &Seed) -> Report {
    let mut report = Report::default();
    for seeded in &seed.accounts {
        let appid = seeded.appid.clone();
        let fields = account_fields(seeded);
        match world.accounts.get_mut(&appid) {
            Some(entry) => {
                let mut changed = entry.value.clone();
                if let Some(secret) = &seeded.secret {
                    changed.secret = secret.clone();
                }
                if let Some(original_id) = &seeded.original_id {
                    changed.original_id = original_id.clone();
                }
                // Checked above: it applies.
                let _ = crate::api::accounts::apply(&mut changed, &fields);
                if changed != entry.value {
                    entry.value = changed;
                    tx.save(Key::Account(appid.clone()), entry);
                }
            }
            None => {
                let mut account = new_account(seeded, ctx.now);
                let _ = crate::api::accounts::apply(&mut account, &fields);
                crate::api::accounts::register(world, tx, ctx.now, account);
            }
        }
        if let Some(Ok(json)) = seeded.menu.as_ref().map(menu_json) {
            let unchanged = world
                .oa
                .menus
                .get(&appid)
                .is_some_and(|m| m.value.json == json);
            if !unchanged {
                let record = MenuRecord {
                    json,
                    created_at: ctx.now,
                };
                let entry = world
                    .oa
                    .menus
                    .entry(appid.clone())
                    .or_insert_with(|| Entry::new(record.clone()));
                entry.value = record;
                tx.save(Key::Menu(appid.clone()), entry);
            }
        }
        let mut qrcodes = Vec::new();
        for qr in &seeded.qrcodes {
            if let Ok(scene) = qr_scene(qr) {
                let ticket = permanent_qrcode(world, tx, ctx, &appid, scene.clone());
                let shown = match scene {
                    QrSceneValue::Id(id) => id.to_string(),
                    QrSceneValue::Str(s) => s,
                };
                qrcodes.push((ticket, shown));
            }
        }
        let account = world.accounts.get(&appid).map(|a| &a.value);
        report.accounts.push(ReportAccount {
            secret: account.map(|a| a.secret.clone()).unwrap_or_default(),
            name: account.map(|a| a.name.clone()).unwrap_or_default(),
            menu: world.oa.menus.contains_key(&appid),
            appid,
            qrcodes,
        });
    }
    for seeded in &seed.users {
        match world.users.get(&seeded.user_id) {
            Some(mut user) if user.value.nickname != seeded.nickname => {
                user.value.nickname = seeded.nickname.clone();
                world.users.save(tx, user);
            }
            Some(_) => {}
            None => {
                let user = Entry::new(UserRecord {
                    user_id: seeded.user_id.clone(),
                    nickname: seeded.nickname.clone(),
                    created_at: ctx.now,
                    seq: tx.seq(),
                    openids: Default::default(),
                });
                world.users.save(tx, user);
            }
        }
    }
    for follow in &seed.follows {
        seed_follow(world, tx, ctx, follow);
    }
    for seeded in &seed.users {
        if let Some(user) = world.users.get(&seeded.user_id) {
            let openids = user
                .value
                .openids
                .iter()
                .map(|(appid, openid)| {
                    let following = world
                        .conversation(appid, openid)
                        .is_some_and(|c| c.value.following());
                    (appid.to_owned(), openid.to_owned(), following)
                })
                .collect();
            report.users.push(ReportUser {
                user_id: seeded.user_id.clone(),
                nickname: user.value.nickname.clone(),
                openids,
            });
        }
    }
    report
}

/// The user follows the account unless they already do: the `follow` trigger at the rule
/// clock's now, as if they had followed by hand.
fn seed_follow(world: &mut World, tx: &mut Tx, ctx: &Ctx<'_>, follow: &SeedFollow) {
    let appid = follow.appid.as_str();
    let Some(account) = world.accounts.get(appid) else {
        return;
    };
    let ruleset = ctx.ruleset_for(&account.value, Channel::Api);
    let existing = world
        .users
        .openid(&follow.user_id, appid)
        .map(str::to_owned);
    let openid = match existing {
        Some(openid) => openid,
        None => world.first_contact(tx, &follow.user_id, appid, follow.openid.clone()),
    };
    if world
        .conversation(appid, &openid)
        .is_some_and(|c| c.value.following())
    {
        return;
    }
    let before = world.shadow_before(ctx, ruleset, appid, &openid);
    let Some(conversation) = world.conversations.get_or_new(appid, &openid) else {
        tracing::warn!(%openid, %appid, "not seeding a follow: the openid belongs to another account");
        return;
    };
    conversation.value.follow();
    conversation
        .value
        .trigger(Trigger::Follow, ctx.now, ruleset, ctx.rules.get(ruleset));
    let key = Key::Conversation {
        appid: appid.to_owned(),
        openid: openid.clone(),
    };
    tx.save(key, conversation);
    world
        .conversations
        .followed(tx, appid, &openid, ctx.now, None);
    world.shadow_observe(
        ctx,
        ruleset,
        appid,
        &openid,
        before,
        ShadowEvent::Trigger(Trigger::Follow),
    );
    crate::api::oa_actions::record_trigger(tx, ctx, appid, &openid, Trigger::Follow, ruleset);
}

/// The ticket of the account's permanent code of `scene`, made if missing.
fn permanent_qrcode(
    world: &mut World,
    tx: &mut Tx,
    ctx: &Ctx<'_>,
    appid: &str,
    scene: QrSceneValue,
) -> String {
    if let Some(same) = world
        .oa
        .qrcodes
        .values()
        .find(|qr| qr.value.permanent && qr.value.appid == appid && qr.value.scene == scene)
    {
        return same.value.ticket.clone();
    }
    let ticket = loop {
        let candidate = ids::qr_ticket();
        if !world.oa.qrcodes.contains_key(&candidate) {
            break candidate;
        }
    };
    let mut entry = Entry::new(QrCodeRecord {
        ticket: ticket.clone(),
        appid: appid.to_owned(),
        url: ids::qr_url(),
        scene,
        permanent: true,
        created_at: ctx.now,
        expires_at: None,
        seq: tx.seq(),
    });
    tx.save(Key::QrCode(ticket.clone()), &mut entry);
    world.oa.qrcodes.insert(ticket.clone(), entry);
    ticket
}

fn new_account(seeded: &SeedAccount, now: i64) -> AccountRecord {
    AccountRecord {
        appid: seeded.appid.clone(),
        secret: seeded.secret.clone().unwrap_or_else(ids::secret),
        original_id: seeded.original_id.clone().unwrap_or_else(ids::original_id),
        name: String::new(),
        account_type: AccountType::Service,
        webhook_url: None,
        token: None,
        encoding_aes_key: None,
        encrypt_mode: EncryptMode::Plain,
        registered_at: now,
        created_at: now,
        seq: 0,
    }
}

/// The account's fields as `POST /api/v1/accounts` takes them, checked by the same code.
fn account_fields(seeded: &SeedAccount) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("name".into(), seeded.name.clone().into());
    let optional = [
        ("account_type", &seeded.account_type),
        ("webhook_url", &seeded.webhook_url),
        ("token", &seeded.token),
        ("encoding_aes_key", &seeded.encoding_aes_key),
        ("encrypt_mode", &seeded.encrypt_mode),
        ("registered_at", &seeded.registered_at),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            fields.insert(name.into(), value.clone().into());
        }
    }
    fields
}

/// The menu as `menu/create` would store it, or why WeChat would refuse it.
fn menu_json(menu: &toml::Value) -> Result<String, String> {
    let body = serde_json::to_vec(menu).map_err(|e| format!("menu: {e}"))?;
    let checked = parse_menu_create(&body).map_err(|code| format!("menu: {code}"))?;
    Ok(kefu_wechat::json::to_json(&checked))
}

fn qr_scene(qr: &SeedQrCode) -> Result<QrSceneValue, String> {
    let mut scene = Map::new();
    if let Some(id) = qr.scene_id {
        scene.insert("scene_id".into(), id.into());
    }
    if let Some(s) = &qr.scene_str {
        scene.insert("scene_str".into(), s.clone().into());
    }
    let body = serde_json::json!({
        "action_name": qr.action_name,
        "action_info": { "scene": scene },
    });
    let spec = parse_qrcode_create(body.to_string().as_bytes())
        .map_err(|code| format!("QR code: {code}"))?;
    if !spec.permanent {
        return Err(
            "QR code: a seed makes permanent codes only (QR_LIMIT_SCENE or \
                    QR_LIMIT_STR_SCENE), since applying it again must not make new ones"
                .into(),
        );
    }
    Ok(match spec.scene {
        QrScene::Id(id) => QrSceneValue::Id(id),
        QrScene::Str(s) => QrSceneValue::Str(s),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_seed_parses() {
        let seed = Seed::from_toml(DEMO).unwrap();
        assert_eq!(seed.accounts.len(), 1);
        assert!(seed.accounts[0].menu.is_some());
        assert!(menu_json(seed.accounts[0].menu.as_ref().unwrap()).is_ok());
        assert!(qr_scene(&seed.accounts[0].qrcodes[0]).is_ok());
        assert!(!seed.users.is_empty() && !seed.follows.is_empty());
    }

    #[test]
    fn unknown_fields_and_temporary_codes_are_refused() {
        assert!(matches!(
            Seed::from_toml("[[accounts]]\nappid = \"wx1\"\nname = \"a\"\ncolour = \"red\"\n"),
            Err(SeedError::Parse(_))
        ));
        let temporary = SeedQrCode {
            action_name: "QR_SCENE".into(),
            scene_id: Some(1),
            scene_str: None,
        };
        assert!(qr_scene(&temporary).unwrap_err().contains("permanent"));
        let bad = SeedQrCode {
            action_name: "QR_LIMIT_SCENE".into(),
            scene_id: Some(100_001),
            scene_str: None,
        };
        assert!(qr_scene(&bad).unwrap_err().contains("40035"));
    }
}
