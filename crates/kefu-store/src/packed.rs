//! Strings packed into one heap block, each behind its length, and numbers, lengths included,
//! in as few bytes as they need (LEB128: one byte below 128).
//!
//! Records the world holds by the million keep their strings this way, in one allocation rather
//! than one per string: a user's [`crate::Openids`], and the server's table of users.

/// Appends `s` behind its length.
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    push_bytes(out, s.as_bytes());
}

/// Appends `bytes` behind their length.
pub fn push_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    push_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Takes the next string off the front of `bytes`; `None` at the end (or on bytes
/// [`push_str`] did not write).
pub fn take_str<'a>(bytes: &mut &'a [u8]) -> Option<&'a str> {
    std::str::from_utf8(take_bytes(bytes)?).ok()
}

/// [`take_str`] without checking that the string is UTF-8: for comparing and hashing.
pub fn take_bytes<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
    let mut rest = *bytes;
    let len = usize::try_from(take_varint(&mut rest)?).ok()?;
    let (s, rest) = rest.split_at_checked(len)?;
    *bytes = rest;
    Some(s)
}

/// Starts a block of `out` that [`end_block`] puts behind its length, for a block packed in
/// place (no copy): returns where it starts.
pub fn begin_block(out: &mut Vec<u8>) -> usize {
    // One byte for the length, as a block under 128 bytes needs; `end_block` makes room for
    // more.
    out.push(0);
    out.len() - 1
}

/// Puts the length of what `out` holds past the block [`begin_block`] started at `at` in
/// front of it, as [`take_bytes`] reads it.
pub fn end_block(out: &mut Vec<u8>, at: usize) {
    let len = out.len() - at - 1;
    match u8::try_from(len) {
        Ok(short) if short < 0x80 => out[at] = short,
        _ => {
            let mut header = Vec::new();
            push_varint(&mut header, len as u64);
            out.splice(at..=at, header);
        }
    }
}

/// Appends `n` in as few bytes as it needs (LEB128: seven bits a byte, low first, the top bit
/// saying another follows): versions, instants and sequence numbers are far below `u64::MAX`.
pub fn push_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Takes the next number [`push_varint`] wrote off the front of `bytes`; `None` at the end.
pub fn take_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        n |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *bytes = bytes.get(i + 1..)?;
            return Some(n);
        }
    }
    None
}

/// [`push_varint`] for a signed number, small either side of zero in few bytes (zigzag).
pub fn push_signed(out: &mut Vec<u8>, n: i64) {
    push_varint(out, ((n << 1) ^ (n >> 63)) as u64);
}

/// Takes the next number [`push_signed`] wrote off the front of `bytes`.
pub fn take_signed(bytes: &mut &[u8]) -> Option<i64> {
    let n = take_varint(bytes)?;
    Some((n >> 1) as i64 ^ -((n & 1) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_goes_behind_its_length_however_long() {
        let mut out = vec![7];
        for len in [0, 5, 127, 128, 300, 20_000] {
            let at = begin_block(&mut out);
            out.extend(std::iter::repeat_n(b'x', len));
            end_block(&mut out, at);
        }
        out.push(9);
        let mut bytes = &out[1..];
        for len in [0, 5, 127, 128, 300, 20_000] {
            assert_eq!(take_bytes(&mut bytes).map(<[u8]>::len), Some(len));
        }
        assert_eq!(bytes, [9]);
        // A length of 127 takes one byte, 128 two, 20,000 three.
        assert_eq!(out.len(), 1 + (1 + 1 + 1 + 2 + 2 + 3) + 20_560 + 1);
    }

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
        let latin1 = vec![1, 0xe9];
        assert_eq!(take_bytes(&mut latin1.as_slice()), Some(&[0xe9][..]));
        assert_eq!(take_str(&mut latin1.as_slice()), None);
        // Truncated: a length promising more than is there.
        let mut short = &out[..10];
        assert_eq!(take_str(&mut short), None);
    }

    #[test]
    fn numbers_come_back_in_as_few_bytes_as_they_need() {
        let unsigned = [0, 1, 127, 128, 300, 1 << 32, u64::MAX];
        let signed = [0, -1, 1, -64, 64, 1_795_565_100, i64::MIN, i64::MAX];
        let mut out = Vec::new();
        unsigned.iter().for_each(|&n| push_varint(&mut out, n));
        signed.iter().for_each(|&n| push_signed(&mut out, n));
        let mut bytes = out.as_slice();
        for n in unsigned {
            assert_eq!(take_varint(&mut bytes), Some(n));
        }
        for n in signed {
            assert_eq!(take_signed(&mut bytes), Some(n));
        }
        assert_eq!(take_varint(&mut bytes), None);
        for (n, len) in [(127, 1), (128, 2), (1_795_565_100, 5), (u64::MAX, 10)] {
            let mut sized = Vec::new();
            push_varint(&mut sized, n);
            assert_eq!(sized.len(), len, "{n}");
        }
        // Cut short, or ten bytes all saying another follows: none.
        assert_eq!(take_varint(&mut &[0x80][..]), None);
        assert_eq!(take_varint(&mut &[0xff; 12][..]), None);
    }
}
