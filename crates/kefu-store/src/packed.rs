//! Strings packed into one heap block, each behind its length (4 bytes, little-endian).
//!
//! Records the world holds by the million keep their strings this way, in one allocation rather
//! than one per string: a user's [`crate::Openids`], and the server's table of users.

/// Appends `s` behind its length.
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    // A `usize` length over 4 GiB cannot be an id, a nickname or an openid.
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Takes the next string off the front of `bytes`; `None` at the end (or on bytes
/// [`push_str`] did not write).
pub fn take_str<'a>(bytes: &mut &'a [u8]) -> Option<&'a str> {
    std::str::from_utf8(take_bytes(bytes)?).ok()
}

/// [`take_str`] without checking that the string is UTF-8: for comparing and hashing.
pub fn take_bytes<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (len, rest) = bytes.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
    let (s, rest) = rest.split_at_checked(len)?;
    *bytes = rest;
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_come_back_in_order_and_then_none() {
        let mut out = Vec::new();
        for s in ["wx00000000000000aa", "", "微信"] {
            push_str(&mut out, s);
        }
        let mut bytes = out.as_slice();
        assert_eq!(take_bytes(&mut bytes), Some(&b"wx00000000000000aa"[..]));
        assert_eq!(take_str(&mut bytes), Some(""));
        assert_eq!(take_str(&mut bytes), Some("微信"));
        assert_eq!(take_str(&mut bytes), None);
        // Not UTF-8: the bytes are there, the string is not.
        let mut latin1 = Vec::new();
        latin1.extend_from_slice(&1u32.to_le_bytes());
        latin1.push(0xe9);
        assert_eq!(take_bytes(&mut latin1.as_slice()), Some(&[0xe9][..]));
        assert_eq!(take_str(&mut latin1.as_slice()), None);
        // Truncated: a length promising more than is there.
        let mut short = &out[..10];
        assert_eq!(take_str(&mut short), None);
    }
}
