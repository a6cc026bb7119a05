//! Appids, interned: the tables that name an account once per follower (the conversation
//! table's rows, the users' openids) name it in 4 bytes instead of its 18 characters.
//!
//! An appid once interned keeps its number for the table's life (a deleted account's too), so
//! a number never comes to mean another account.

use std::io::BufRead;

use crate::snapshot::{In, Out, ReadError};
use crate::world::Map;

#[derive(Debug, Default)]
pub struct Appids {
    names: Vec<Box<str>>,
    ids: Map<Box<str>, u32>,
}

impl Appids {
    /// The number of `appid`, given it now if it has none.
    pub fn intern(&mut self, appid: &str) -> u32 {
        if let Some(&id) = self.ids.get(appid) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(appid.into());
        self.ids.insert(appid.into(), id);
        id
    }

    /// The number of `appid`, if it has one.
    pub fn id(&self, appid: &str) -> Option<u32> {
        self.ids.get(appid).copied()
    }

    /// The appid numbered `id`.
    pub fn name(&self, id: u32) -> Option<&str> {
        self.names.get(id as usize).map(|name| &**name)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Writes the appids in the order of their numbers (`snapshot`).
    pub fn write_to(&self, out: &mut Out<'_>) -> std::io::Result<()> {
        out.len(self.names.len())?;
        for name in &self.names {
            out.bytes(name.as_bytes())?;
        }
        Ok(())
    }

    /// How many bytes [`Appids::write_to`] writes.
    pub fn written_len(&self) -> u64 {
        let names: usize = self.names.iter().map(|name| 4 + name.len()).sum();
        (8 + names) as u64
    }

    /// What [`Appids::write_to`] wrote, each appid with the number it had.
    pub fn read_from<R: BufRead>(input: &mut In<R>) -> Result<Appids, ReadError> {
        let mut appids = Appids::default();
        for _ in 0..input.len(4)? {
            let appid = input.str()?;
            if appids.id(appid).is_some() {
                return Err(ReadError::Damaged(format!("account {appid:?} twice")));
            }
            appids.intern(appid);
        }
        Ok(appids)
    }
}

/// The same appids under the same numbers.
impl PartialEq for Appids {
    fn eq(&self, other: &Appids) -> bool {
        self.names == other.names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_appid_keeps_its_number() {
        let mut appids = Appids::default();
        assert_eq!(appids.intern("wx00000000000000aa"), 0);
        assert_eq!(appids.intern("wx00000000000000bb"), 1);
        assert_eq!(appids.intern("wx00000000000000aa"), 0);
        assert_eq!(appids.id("wx00000000000000bb"), Some(1));
        assert_eq!(appids.id("wx00000000000000cc"), None);
        assert_eq!(appids.name(1), Some("wx00000000000000bb"));
        assert_eq!(appids.name(2), None);
        assert_eq!(appids.len(), 2);
    }
}
