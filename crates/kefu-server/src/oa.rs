//! The world's part for the rest of the Official Account surface: stable tokens, custom menus,
//! parametric QR codes and legacy KF accounts. (How each follower followed is kept with the
//! follower's conversation, in `world.conversations`.)
//!
//! It lives beside the rest of [`World`] as one field (`world.oa`) so that the handlers of
//! `cgi/{stable_token,menu,qrcode,user,kf}.rs` and `api/oa*.rs` keep their state in one place,
//! and every change goes through [`Tx::save`] like the rest.

use std::collections::HashMap;

use kefu_store::{
    IssuedToken, Key, KfAccountSet, MenuRecord, QrCodeRecord, Record, StableTokenSet,
};

use crate::world::{Entry, Tx, World};

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
    /// appid → its KF accounts.
    pub kf: HashMap<String, Entry<KfAccountSet>>,
}

/// Whether a stored key is one of this module's kinds.
pub fn owns(key: &Key) -> bool {
    matches!(
        key,
        Key::Menu(_) | Key::QrCode(_) | Key::KfAccounts(_) | Key::StableTokens(_)
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
            .filter(|(_, c, _)| c.value.following())
            .map(|(openid, _, follow)| (follow.map_or(0, |f| f.seq), openid))
            .collect();
        followers.sort_unstable();
        followers.into_iter().map(|(_, openid)| openid).collect()
    }
}
