//! The world's part for the rest of the Official Account surface: stable tokens, custom menus,
//! parametric QR codes, how each follower followed, and legacy KF accounts.
//!
//! It lives beside the rest of [`World`] as one field (`world.oa`) so that the handlers of
//! `cgi/{stable_token,menu,qrcode,user,kf}.rs` and `api/oa*.rs` keep their state in one place,
//! and every change goes through [`Tx::save`] like the rest.

use std::collections::HashMap;

use kefu_store::{
    FollowRecord, IssuedToken, Key, KfAccountSet, MenuRecord, QrCodeRecord, QrSceneValue, Record,
    StableTokenSet,
};

use crate::world::{Entry, Map, Persist, Tx, World};

#[derive(Debug, Default)]
pub struct OaState {
    /// appid → its stable tokens.
    pub stable: HashMap<String, Entry<StableTokenSet>>,
    /// stable token → appid.
    pub stable_index: HashMap<String, String>,
    /// appid → its custom menu.
    pub menus: HashMap<String, Entry<MenuRecord>>,
    /// ticket → QR code.
    pub qrcodes: HashMap<String, Entry<QrCodeRecord>>,
    /// appid → openid → how that follower followed.
    /// Boxed, as `World::users` is: one per follower.
    pub follows: Map<String, Map<String, Box<Entry<FollowRecord>>>>,
    /// appid → its KF accounts.
    pub kf: HashMap<String, Entry<KfAccountSet>>,
}

/// Whether a stored key is one of this module's kinds.
pub fn owns(key: &Key) -> bool {
    matches!(
        key,
        Key::Menu(_)
            | Key::QrCode(_)
            | Key::Follow { .. }
            | Key::KfAccounts(_)
            | Key::StableTokens(_)
    )
}

impl OaState {
    /// Puts one stored record in its place (recovery).
    pub fn restore(&mut self, key: Key, record: Record, version: u64) {
        match (key, record) {
            (Key::StableTokens(appid), Record::StableTokens(set)) => {
                for issued in &set.tokens {
                    self.stable_index
                        .insert(issued.token.clone(), appid.clone());
                }
                self.stable.insert(
                    appid,
                    Entry {
                        value: set,
                        version,
                    },
                );
            }
            (Key::Menu(appid), Record::Menu(menu)) => {
                self.menus.insert(
                    appid,
                    Entry {
                        value: menu,
                        version,
                    },
                );
            }
            (Key::QrCode(ticket), Record::QrCode(qr)) => {
                self.qrcodes.insert(ticket, Entry { value: qr, version });
            }
            (Key::Follow { appid, openid }, Record::Follow(follow)) => {
                self.follows.entry(appid).or_default().insert(
                    openid,
                    Box::new(Entry {
                        value: follow,
                        version,
                    }),
                );
            }
            (Key::KfAccounts(appid), Record::KfAccounts(set)) => {
                self.kf.insert(
                    appid,
                    Entry {
                        value: set,
                        version,
                    },
                );
            }
            (key, _) => tracing::warn!(?key, "ignoring a stored record of the wrong kind"),
        }
    }

    /// The stable token `token` and the account it speaks for.
    pub fn stable_token(&self, token: &str) -> Option<(&String, &IssuedToken)> {
        let appid = self.stable_index.get(token)?;
        let issued = self
            .stable
            .get(appid)?
            .value
            .tokens
            .iter()
            .find(|t| t.token == token)?;
        Some((appid, issued))
    }

    /// Records that `openid` now follows `appid`, at `now`, through the QR code of `scene` if any.
    pub fn followed(
        &mut self,
        tx: &mut Tx,
        appid: &str,
        openid: &str,
        now: i64,
        scene: Option<QrSceneValue>,
    ) {
        let entry = self
            .follows
            .entry(appid.to_owned())
            .or_default()
            .entry(openid.to_owned())
            .or_insert_with(|| {
                Box::new(Entry::new(FollowRecord {
                    subscribe_time: now,
                    qr_scene: None,
                    seq: 0,
                }))
            });
        entry.value = FollowRecord {
            subscribe_time: now,
            qr_scene: scene,
            seq: tx.seq(),
        };
        let key = Key::Follow {
            appid: appid.to_owned(),
            openid: openid.to_owned(),
        };
        tx.save(key, entry);
    }

    pub fn follow_of(&self, appid: &str, openid: &str) -> Option<&FollowRecord> {
        Some(&self.follows.get(appid)?.get(openid)?.value)
    }

    /// Forgets how `openid` followed `appid` (its user was deleted).
    pub fn forget_openid(&mut self, tx: &mut Tx, appid: &str, openid: &str) {
        if let Some(follow) = self.follows.get_mut(appid).and_then(|f| f.remove(openid)) {
            let key = Key::Follow {
                appid: appid.to_owned(),
                openid: openid.to_owned(),
            };
            tx.delete(key, &follow);
        }
    }

    /// Forgets everything of a deleted account.
    pub fn forget_account(&mut self, tx: &mut Tx, appid: &str) {
        if let Some(set) = self.stable.remove(appid) {
            for issued in &set.value.tokens {
                self.stable_index.remove(&issued.token);
            }
            tx.delete(Key::StableTokens(appid.to_owned()), &set);
        }
        if let Some(menu) = self.menus.remove(appid) {
            tx.delete(Key::Menu(appid.to_owned()), &menu);
        }
        let tickets: Vec<String> = self
            .qrcodes
            .iter()
            .filter(|(_, qr)| qr.value.appid == appid)
            .map(|(ticket, _)| ticket.clone())
            .collect();
        for ticket in tickets {
            if let Some(qr) = self.qrcodes.remove(&ticket) {
                tx.delete(Key::QrCode(ticket), &qr);
            }
        }
        for (openid, follow) in self.follows.remove(appid).unwrap_or_default() {
            let key = Key::Follow {
                appid: appid.to_owned(),
                openid,
            };
            tx.delete(key, &follow);
        }
        if let Some(kf) = self.kf.remove(appid) {
            tx.delete(Key::KfAccounts(appid.to_owned()), &kf);
        }
    }

    /// Whether `appid` has a KF account named `kf_account` (custom/send step 7).
    pub fn has_kf_account(&self, appid: &str, kf_account: &str) -> bool {
        self.kf.get(appid).is_some_and(|set| {
            set.value
                .accounts
                .iter()
                .any(|a| a.kf_account == kf_account)
        })
    }
}

impl World {
    /// The account's followers in follow order (`user/get`).
    pub fn followers(&self, appid: &str) -> Vec<&str> {
        let mut followers: Vec<(u64, &str)> = self
            .conversations
            .of_account(appid)
            .filter(|(_, c)| c.value.following())
            .map(|(openid, _)| {
                let seq = self.oa.follow_of(appid, openid).map_or(0, |f| f.seq);
                (seq, openid)
            })
            .collect();
        followers.sort_unstable();
        followers.into_iter().map(|(_, openid)| openid).collect()
    }
}

macro_rules! persist {
    ($($ty:ty => $variant:ident),* $(,)?) => {
        $(impl Persist for $ty {
            fn record(&self) -> Record {
                Record::$variant(self.clone())
            }
        })*
    };
}

persist! {
    StableTokenSet => StableTokens,
    MenuRecord => Menu,
    QrCodeRecord => QrCode,
    FollowRecord => Follow,
    KfAccountSet => KfAccounts,
}
