//! One log entry as bytes: the commits of one group (or a wipe), already encoded the way the
//! redb tables hold them, so the log is written without a second encoding and applied without
//! decoding a record.
//!
//! ```text
//! entry    := lsn:u64 kind:u8 body
//! commits  := n:u32 commit*         (kind 0)
//! commit   := n:u32 (key:bytes present:u8 [value:bytes])*      records (value holds its version)
//!             n:u32 (user:bytes id:u64 value:bytes)*            inbox
//!             n:u32 (seq:u64 value:bytes)*                      traffic
//!             n:u32 (id:u64 appid:bytes value:bytes)*           delivery log
//! wipe     := n:u32 key:bytes*      (kind 1: every record but these, and every effect, goes)
//! bytes    := len:u32 byte*         (integers little-endian)
//! ```

use crate::port::StoreError;

/// One applied commit, as table rows.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Rows {
    /// Encoded key → encoded versioned record, or `None` to delete.
    pub records: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    pub inbox: Vec<(String, u64, Vec<u8>)>,
    pub traffic: Vec<(u64, Vec<u8>)>,
    pub deliveries: Vec<(u64, String, Vec<u8>)>,
}

/// Where one inbox, traffic or delivery-log body lies within its encoded entry. The log is where bodies live;
/// redb only points at them, so a send's message is written to disk once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub offset: u32,
    pub len: u32,
}

/// The bodies of an entry, in the order of its commits and rows.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Bodies {
    pub inbox: Vec<Span>,
    pub traffic: Vec<Span>,
    pub deliveries: Vec<Span>,
}

#[derive(Debug, PartialEq)]
pub(crate) enum Entry {
    Commits(Vec<Rows>),
    /// Deletes everything but the records under these encoded keys.
    Wipe(Vec<Vec<u8>>),
}

const COMMITS: u8 = 0;
const WIPE: u8 = 1;

impl Entry {
    /// Appends the entry to `out`; the spans are relative to where it starts.
    pub(crate) fn encode(&self, lsn: u64, out: &mut Vec<u8>) -> Bodies {
        let start = out.len();
        let mut bodies = Bodies::default();
        out.extend_from_slice(&lsn.to_le_bytes());
        match self {
            Entry::Commits(commits) => {
                out.push(COMMITS);
                put_len(out, commits.len());
                for rows in commits {
                    put_len(out, rows.records.len());
                    for (key, value) in &rows.records {
                        put_bytes(out, key);
                        match value {
                            Some(v) => {
                                out.push(1);
                                put_bytes(out, v);
                            }
                            None => out.push(0),
                        }
                    }
                    put_len(out, rows.inbox.len());
                    for (user, id, value) in &rows.inbox {
                        put_bytes(out, user.as_bytes());
                        out.extend_from_slice(&id.to_le_bytes());
                        bodies.inbox.push(put_body(out, start, value));
                    }
                    put_len(out, rows.traffic.len());
                    for (seq, value) in &rows.traffic {
                        out.extend_from_slice(&seq.to_le_bytes());
                        bodies.traffic.push(put_body(out, start, value));
                    }
                    put_len(out, rows.deliveries.len());
                    for (id, appid, value) in &rows.deliveries {
                        out.extend_from_slice(&id.to_le_bytes());
                        put_bytes(out, appid.as_bytes());
                        bodies.deliveries.push(put_body(out, start, value));
                    }
                }
            }
            Entry::Wipe(keep) => {
                out.push(WIPE);
                put_len(out, keep.len());
                for key in keep {
                    put_bytes(out, key);
                }
            }
        }
        bodies
    }

    /// The entry, its log sequence number and where its bodies lie; `what` names the entry in
    /// errors.
    pub(crate) fn decode(bytes: &[u8], what: &str) -> Result<(u64, Entry, Bodies), StoreError> {
        let mut r = Reader {
            bytes,
            what,
            whole: bytes.len(),
        };
        let mut bodies = Bodies::default();
        let lsn = r.u64()?;
        let entry = match r.u8()? {
            COMMITS => {
                let n = r.len()?;
                let mut commits = Vec::with_capacity(n.min(4096));
                for _ in 0..n {
                    let mut rows = Rows::default();
                    for _ in 0..r.len()? {
                        let key = r.bytes()?.to_vec();
                        let value = match r.u8()? {
                            0 => None,
                            _ => Some(r.bytes()?.to_vec()),
                        };
                        rows.records.push((key, value));
                    }
                    for _ in 0..r.len()? {
                        let user = r.text()?;
                        let id = r.u64()?;
                        let (span, body) = r.body()?;
                        bodies.inbox.push(span);
                        rows.inbox.push((user, id, body.to_vec()));
                    }
                    for _ in 0..r.len()? {
                        let seq = r.u64()?;
                        let (span, body) = r.body()?;
                        bodies.traffic.push(span);
                        rows.traffic.push((seq, body.to_vec()));
                    }
                    for _ in 0..r.len()? {
                        let id = r.u64()?;
                        let appid = r.text()?;
                        let (span, body) = r.body()?;
                        bodies.deliveries.push(span);
                        rows.deliveries.push((id, appid, body.to_vec()));
                    }
                    commits.push(rows);
                }
                Entry::Commits(commits)
            }
            WIPE => {
                let n = r.len()?;
                let mut keep = Vec::with_capacity(n.min(4096));
                for _ in 0..n {
                    keep.push(r.bytes()?.to_vec());
                }
                Entry::Wipe(keep)
            }
            _ => return Err(r.corrupt("unknown entry kind")),
        };
        if !r.bytes.is_empty() {
            return Err(r.corrupt("trailing bytes"));
        }
        Ok((lsn, entry, bodies))
    }
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    // Lengths come from records kefu made; none approaches 4 GiB.
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Like [`put_bytes`], returning where the bytes lie relative to `start`, where the entry
/// begins (what [`Reader::body`] reads back).
fn put_body(out: &mut Vec<u8>, start: usize, body: &[u8]) -> Span {
    put_len(out, body.len());
    let span = Span {
        offset: u32::try_from(out.len() - start).unwrap_or(u32::MAX),
        len: u32::try_from(body.len()).unwrap_or(u32::MAX),
    };
    out.extend_from_slice(body);
    span
}

/// Reads what [`Entry::encode`] wrote; every read is bounds-checked (a log may be damaged).
struct Reader<'a> {
    bytes: &'a [u8],
    what: &'a str,
    /// The length of the whole entry, to tell where a body starts.
    whole: usize,
}

impl<'a> Reader<'a> {
    fn corrupt(&self, reason: &str) -> StoreError {
        StoreError::Corrupt {
            key: self.what.to_owned(),
            reason: reason.to_owned(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        let (head, rest) = self
            .bytes
            .split_at_checked(n)
            .ok_or_else(|| self.corrupt("entry ends early"))?;
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.take(1)?[0])
    }

    fn u64(&mut self) -> Result<u64, StoreError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }

    fn len(&mut self) -> Result<usize, StoreError> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b) as usize)
    }

    fn bytes(&mut self) -> Result<&'a [u8], StoreError> {
        let n = self.len()?;
        self.take(n)
    }

    /// Length-prefixed bytes with the span they occupy in the entry.
    fn body(&mut self) -> Result<(Span, &'a [u8]), StoreError> {
        let n = self.len()?;
        let offset = self.whole - self.bytes.len();
        let body = self.take(n)?;
        let span = Span {
            offset: u32::try_from(offset).map_err(|_| self.corrupt("entry over 4 GiB"))?,
            len: u32::try_from(n).map_err(|_| self.corrupt("entry over 4 GiB"))?,
        };
        Ok((span, body))
    }

    fn text(&mut self) -> Result<String, StoreError> {
        let bytes = self.bytes()?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| self.corrupt("text is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Entry {
        Entry::Commits(vec![
            Rows {
                records: vec![(
                    b"\x05wx1\0o1".to_vec(),
                    Some(vec![0, 0, 0, 0, 0, 0, 0, 7, 1]),
                )],
                inbox: vec![("u1".into(), 9, b"hello".to_vec())],
                traffic: vec![(9, b"t".to_vec())],
                deliveries: vec![(3, "wx1".into(), b"d".to_vec())],
            },
            Rows {
                records: vec![(b"\x02".to_vec(), None)],
                ..Rows::default()
            },
        ])
    }

    #[test]
    fn entries_round_trip() {
        for entry in [sample(), Entry::Wipe(vec![vec![0], vec![2]])] {
            let mut bytes = Vec::new();
            let bodies = entry.encode(42, &mut bytes);
            assert_eq!(
                Entry::decode(&bytes, "test").ok(),
                Some((42, entry, bodies))
            );
        }
    }

    #[test]
    fn spans_point_at_the_bodies_after_what_precedes_the_entry() {
        let mut bytes = b"frame header".to_vec();
        let bodies = sample().encode(7, &mut bytes);
        let entry = &bytes[12..];
        let at = |s: Span| &entry[s.offset as usize..(s.offset + s.len) as usize];
        let inbox: Vec<&[u8]> = bodies.inbox.iter().map(|s| at(*s)).collect();
        let traffic: Vec<&[u8]> = bodies.traffic.iter().map(|s| at(*s)).collect();
        let deliveries: Vec<&[u8]> = bodies.deliveries.iter().map(|s| at(*s)).collect();
        assert_eq!(inbox, [&b"hello"[..]]);
        assert_eq!(traffic, [&b"t"[..]]);
        assert_eq!(deliveries, [&b"d"[..]]);
    }

    #[test]
    fn every_truncation_is_refused_not_panicked_on() {
        let mut bytes = Vec::new();
        sample().encode(1, &mut bytes);
        for cut in 0..bytes.len() {
            assert!(
                Entry::decode(&bytes[..cut], "test").is_err(),
                "cut at {cut}"
            );
        }
    }
}
