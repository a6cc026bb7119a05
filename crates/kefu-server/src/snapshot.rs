//! A snapshot of the world's per-user tables (the users, and the conversation table's rows),
//! written at a graceful stop and read by the next start in place of the store's user,
//! conversation and follow records.
//!
//! Why: a start used to decode every record the store holds, and a world of followers is three
//! records each (a user, a conversation, a follow): 30M records and about 29 s at 10M
//! followers (BENCHMARKS.md). The tables themselves are compact, so the snapshot holds them as
//! they are, and the store is scanned for the few other records only
//! ([`kefu_store::Store::scan_without_users`]).
//!
//! When it is trusted: when each section's checksum holds, and the store's
//! [`kefu_store::Store::position`] (every commit and every wipe moves it) is the one it was
//! written at or later. It stays while kefu runs, so a start after a crash reads it too: the
//! start then loads again the users, conversations and follows the store has written since
//! ([`kefu_store::Store::per_user_written_since`]), as long as that is no more to read than the
//! snapshot itself and no wipe lies between. Anything else (missing, from a position the store
//! has not reached, damaged, of another format, too far behind) and the start reads the store
//! as it always did, after a warning, and removes the snapshot. It is not synced to disk: the
//! store is the record, and a snapshot a power cut tore fails its checksum.
//!
//! Layout: a header (magic, format, position, the number of sections, then offset, length and
//! CRC-32 of each, then the header's own CRC-32), then the users section and a rows section
//! per shard of the conversation table (`conversations::SHARDS`), each written and read by its
//! table's own module through [`Out`] and [`In`]. A start reads every section at once, on a thread each; a stop writes the
//! users on one thread and the shards one after the other on another. Each section starts with
//! its table's hasher seed and holds the entries in the order that fills the index front to
//! back (`index.rs`), so a start fills the indexes as it reads, without a cache miss per entry.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::conversations::{ConversationTable, SHARDS};
use crate::users::UserTable;

/// The snapshot's file name in the data directory.
pub const FILE: &str = "world.snapshot";
const MAGIC: &[u8; 8] = b"kefu-wld";
/// Bumped whenever a table's layout in the file changes: a snapshot of another format is
/// ignored (the store has everything), never misread.
const FORMAT: u32 = 8;
/// The users, then each shard of the rows.
const SECTIONS: usize = 1 + SHARDS;
/// Magic, format, position, the number of sections, (offset, length, CRC) of each, and the
/// header's CRC: a start trusts the position it names.
const HEADER: u64 = 8 + 4 + 8 + 4 + SECTIONS as u64 * (8 + 8 + 4) + 4;
const BUFFER: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("i/o on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not a kefu snapshot, or one of another format")]
    Format,
    #[error("written at store position {written}, which the store (at {now}) has not reached")]
    Ahead { written: u64, now: u64 },
    #[error("the {0} section is damaged (its checksum does not match)")]
    Checksum(&'static str),
    #[error("the {section} section is damaged: {reason}")]
    Damaged {
        section: &'static str,
        reason: String,
    },
}

/// What a table's section failed on, before the section is named.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Damaged(String),
}

/// The tables a snapshot holds.
pub struct Tables {
    pub users: UserTable,
    pub conversations: ConversationTable,
}

/// A snapshot read at a start: its tables, the store position they are of, and the file's
/// size.
pub struct Taken {
    pub tables: Tables,
    pub position: u64,
    pub bytes: u64,
}

/// What a graceful stop wrote.
#[derive(Debug)]
pub struct Written {
    pub bytes: u64,
    pub users: usize,
    pub rows: usize,
}

/// Writes the snapshot of `users` and `conversations` under `dir`, at the store's `position`:
/// the users on this thread and the rows' shards on another at the same time (the users
/// section's length is known before it is written). Written beside its final name and
/// renamed, so a stop interrupted halfway leaves none (the one it replaces is removed first).
pub fn write(
    dir: &Path,
    position: u64,
    users: &UserTable,
    conversations: &ConversationTable,
) -> Result<Written, SnapshotError> {
    let path = dir.join(FILE);
    let partial = partial(dir);
    let io = |source| SnapshotError::Io {
        path: partial.clone(),
        source,
    };
    // The snapshot this one replaces gives its pages back as it goes, a tenth of a second for
    // 2 GB: on a thread of its own while this one is written, rather than in the rename.
    let old = path.clone();
    let replaced = std::thread::Builder::new()
        .name("kefu-snapshot".into())
        .spawn(move || std::fs::remove_file(old));
    let written = (|| {
        let mut file = File::create(&partial)?;
        file.write_all(&[0; HEADER as usize])?;
        let mut rows_file = File::options().write(true).open(&partial)?;
        // The rows' order is worked out beside the users'; the rows need the users' to know
        // where their section starts and what their users are numbered.
        let (users_done, users_order) = std::sync::mpsc::sync_channel(1);
        let ((users_len, users_crc), shards) = std::thread::scope(|scope| {
            let rows = std::thread::Builder::new()
                .name("kefu-snapshot".into())
                .spawn_scoped(scope, move || {
                    let orders = conversations.snapshot_order();
                    let (rows_at, renumbered): (u64, Option<Vec<u32>>) =
                        users_order.recv().map_err(|_| {
                            std::io::Error::other("the users' order was not worked out")
                        })?;
                    rows_file.seek(SeekFrom::Start(rows_at))?;
                    // The shards one after the other, each a section of its own.
                    let mut sections = Vec::with_capacity(SHARDS);
                    let mut at = rows_at;
                    for (shard, order) in orders.iter().enumerate() {
                        let mut out = Out::new(&mut rows_file);
                        conversations.write_to(&mut out, shard, order, renumbered.as_deref())?;
                        let (len, crc) = out.finish()?;
                        sections.push((at, len, crc));
                        at += len;
                    }
                    Ok::<_, std::io::Error>(sections)
                })?;
            // The next start gives users out in the order that fills their index.
            let (user_order, renumbered) = users.snapshot_order();
            let rows_at = HEADER + users.written_len(&user_order);
            let _ = users_done.send((rows_at, renumbered));
            let mut out = Out::new(&mut file);
            users.write_to(&mut out, &user_order)?;
            let users = out.finish()?;
            let rows = rows
                .join()
                .map_err(|_| std::io::Error::other("writing the rows panicked"))??;
            Ok::<_, std::io::Error>((users, rows))
        })?;
        let rows_at = shards.first().map_or(HEADER, |(at, _, _)| *at);
        if HEADER + users_len != rows_at {
            return Err(std::io::Error::other(format!(
                "the users section came out at {users_len} bytes, not {}",
                rows_at - HEADER
            )));
        }
        let end = shards.last().map_or(rows_at, |(at, len, _)| at + len);
        let mut header = Vec::with_capacity(HEADER as usize);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&FORMAT.to_le_bytes());
        header.extend_from_slice(&position.to_le_bytes());
        header.extend_from_slice(&(SECTIONS as u32).to_le_bytes());
        for (offset, len, crc) in std::iter::once((HEADER, users_len, users_crc)).chain(shards) {
            header.extend_from_slice(&offset.to_le_bytes());
            header.extend_from_slice(&len.to_le_bytes());
            header.extend_from_slice(&crc.to_le_bytes());
        }
        header.extend_from_slice(&crc32fast::hash(&header).to_le_bytes());
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&header)?;
        Ok(end)
    })()
    .map_err(io);
    // Gone before the rename, so that its removal cannot take the new one instead.
    if let Ok(replaced) = replaced {
        let _ = replaced.join();
    }
    let bytes = match written {
        Ok(bytes) => bytes,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, &path).map_err(|source| SnapshotError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(Written {
        bytes,
        users: users.len(),
        rows: conversations.rows(),
    })
}

/// Reads the snapshot under `dir` if there is one, written at or before the store's
/// `position`. `Ok(None)`: there is none. An error: there was one that cannot be used, and it
/// is removed (the caller reads the store instead).
pub fn take(dir: &Path, position: Option<u64>) -> Result<Option<Taken>, SnapshotError> {
    // What a stop killed while writing left: never read, and as large as a snapshot.
    let _ = std::fs::remove_file(partial(dir));
    let path = dir.join(FILE);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(SnapshotError::Io { path, source }),
    };
    let read = file
        .metadata()
        .map_err(|source| SnapshotError::Io {
            path: path.clone(),
            source,
        })
        .and_then(|meta| {
            let (tables, written) = read(&path, &file, position)?;
            Ok(Taken {
                tables,
                position: written,
                bytes: meta.len(),
            })
        });
    if read.is_err() {
        discard(dir);
    }
    read.map(Some)
}

/// Removes the snapshot under `dir`, if any: one the store cannot be caught up from.
pub fn discard(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(FILE));
}

/// Where a snapshot is written before it is renamed to [`FILE`].
fn partial(dir: &Path) -> PathBuf {
    dir.join(format!("{FILE}.partial"))
}

fn read(path: &Path, file: &File, position: Option<u64>) -> Result<(Tables, u64), SnapshotError> {
    let io = |source| SnapshotError::Io {
        path: path.to_owned(),
        source,
    };
    let mut header = [0; HEADER as usize];
    match file.read_exact_at(&mut header, 0) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(SnapshotError::Format);
        }
        Err(e) => return Err(io(e)),
    }
    let (fields, crc) = header.split_at(HEADER as usize - 4);
    if crc32fast::hash(fields).to_le_bytes() != crc {
        return Err(SnapshotError::Checksum("header"));
    }
    let mut fields = In::new(fields, HEADER - 4);
    let header = (|| -> Result<_, ReadError> {
        let magic: [u8; 8] = fields.array()?;
        let format = fields.u32()?;
        let written = fields.u64()?;
        let count = fields.u32()?;
        let mut sections = [(0, 0, 0); SECTIONS];
        for section in &mut sections {
            *section = (fields.u64()?, fields.u64()?, fields.u32()?);
        }
        Ok((magic, format, count, written, sections))
    })();
    let Ok((magic, format, count, written, sections)) = header else {
        return Err(SnapshotError::Format);
    };
    if magic != *MAGIC || format != FORMAT || count as usize != SECTIONS {
        return Err(SnapshotError::Format);
    }
    let now = position.unwrap_or(0);
    if position.is_none_or(|now| written > now) {
        return Err(SnapshotError::Ahead { written, now });
    }
    let [users_at, shards @ ..] = sections;
    std::thread::scope(|scope| {
        // A thread a shard, all reading the one file, each at its own offset.
        let mut readers = Vec::with_capacity(SHARDS);
        for (shard, at) in shards.into_iter().enumerate() {
            let reader = std::thread::Builder::new()
                .name("kefu-snapshot".into())
                .spawn_scoped(scope, move || {
                    section(path, file, at, "rows", |input| {
                        ConversationTable::read_from(input, shard)
                    })
                })
                .map_err(io)?;
            readers.push(reader);
        }
        let users = section(path, file, users_at, "users", UserTable::read_from);
        let shards = readers.into_iter().map(|reader| {
            reader.join().unwrap_or_else(|_| {
                Err(SnapshotError::Damaged {
                    section: "rows",
                    reason: "reading it panicked".into(),
                })
            })
        });
        let shards = shards.collect::<Result<Vec<_>, _>>()?;
        let conversations =
            ConversationTable::from_sections(shards).map_err(|e| SnapshotError::Damaged {
                section: "rows",
                reason: e.to_string(),
            })?;
        let tables = Tables {
            users: users?,
            conversations,
        };
        Ok((tables, written))
    })
}

/// Reads one section with `read`, checking that it used the whole section and that its
/// checksum holds.
fn section<'f, T>(
    path: &Path,
    file: &'f File,
    (offset, len, crc): (u64, u64, u32),
    name: &'static str,
    read: impl FnOnce(&mut In<BufReader<Checked<Section<'f>>>>) -> Result<T, ReadError>,
) -> Result<T, SnapshotError> {
    let damaged = |reason: String| SnapshotError::Damaged {
        section: name,
        reason,
    };
    let io = |source| SnapshotError::Io {
        path: path.to_owned(),
        source,
    };
    // A section the file cannot hold is refused before anything is sized by its length.
    let file_len = file.metadata().map_err(io)?.len();
    if offset.checked_add(len).is_none_or(|end| end > file_len) {
        return Err(damaged("it ends early".into()));
    }
    let checked = Checked {
        inner: Section {
            file,
            at: offset,
            end: offset.saturating_add(len),
        },
        crc: crc32fast::Hasher::new(),
    };
    let mut input = In::new(BufReader::with_capacity(BUFFER, checked), len);
    let value = read(&mut input).map_err(|e| match e {
        ReadError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            damaged("it ends early".into())
        }
        ReadError::Io(source) => io(source),
        ReadError::Damaged(reason) => damaged(reason),
    })?;
    let reader = input.into_inner();
    let section = &reader.get_ref().inner;
    if !reader.buffer().is_empty() || section.at != section.end {
        return Err(damaged("it holds more than its table".into()));
    }
    if reader.into_inner().crc.finalize() != crc {
        return Err(SnapshotError::Checksum(name));
    }
    Ok(value)
}

/// One section of the file, read at its own offset: every section's thread reads the same
/// open file (which has no name by then: `take`).
struct Section<'a> {
    file: &'a File,
    at: u64,
    end: u64,
}

impl Read for Section<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = usize::try_from(self.end - self.at).unwrap_or(usize::MAX);
        let len = buf.len().min(left);
        let n = self.file.read_at(&mut buf[..len], self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// A reader that keeps the CRC-32 of everything read through it.
pub struct Checked<R> {
    inner: R,
    crc: crc32fast::Hasher,
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }
}

/// Where a table writes its section: fixed-width little-endian numbers, byte strings behind
/// their length, and records (conversations, follows) in the store's own encoding.
pub struct Out<'a> {
    out: BufWriter<CheckedWrite<&'a mut File>>,
    scratch: Vec<u8>,
}

struct CheckedWrite<W> {
    inner: W,
    crc: crc32fast::Hasher,
    len: u64,
}

impl<W: Write> Write for CheckedWrite<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<'a> Out<'a> {
    fn new(file: &'a mut File) -> Out<'a> {
        let checked = CheckedWrite {
            inner: file,
            crc: crc32fast::Hasher::new(),
            len: 0,
        };
        Out {
            out: BufWriter::with_capacity(BUFFER, checked),
            scratch: Vec::new(),
        }
    }

    /// The section's length and CRC-32.
    fn finish(self) -> std::io::Result<(u64, u32)> {
        let checked = self.out.into_inner().map_err(|e| e.into_error())?;
        Ok((checked.len, checked.crc.finalize()))
    }

    pub fn u8(&mut self, n: u8) -> std::io::Result<()> {
        self.out.write_all(&[n])
    }

    pub fn u32(&mut self, n: u32) -> std::io::Result<()> {
        self.out.write_all(&n.to_le_bytes())
    }

    pub fn u64(&mut self, n: u64) -> std::io::Result<()> {
        self.out.write_all(&n.to_le_bytes())
    }

    pub fn len(&mut self, n: usize) -> std::io::Result<()> {
        self.u64(n as u64)
    }

    pub fn bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let len = u32::try_from(bytes.len()).map_err(std::io::Error::other)?;
        self.u32(len)?;
        self.out.write_all(bytes)
    }

    /// A record in the store's encoding (postcard), behind its length.
    pub fn record<T: Serialize>(&mut self, value: &T) -> std::io::Result<()> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let encoded = postcard::to_extend(value, scratch).map_err(std::io::Error::other)?;
        let written = self.bytes(&encoded);
        self.scratch = encoded;
        written
    }
}

/// Where a table reads its section back: what [`Out`] wrote, in the same order.
pub struct In<R> {
    input: R,
    /// The section's length: no count in it can be larger.
    len: u64,
    scratch: Vec<u8>,
}

impl<R: BufRead> In<R> {
    fn new(input: R, len: u64) -> In<R> {
        In {
            input,
            len,
            scratch: Vec::new(),
        }
    }

    fn into_inner(self) -> R {
        self.input
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ReadError> {
        let mut bytes = [0; N];
        self.input.read_exact(&mut bytes)?;
        Ok(bytes)
    }

    pub fn u8(&mut self) -> Result<u8, ReadError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u32(&mut self) -> Result<u32, ReadError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64, ReadError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A count written by [`Out::len`] of things of at least `each` bytes: refused if the
    /// section cannot hold that many, so a damaged count cannot make a table reserve memory
    /// for them. Counts fit in a `u32` (rows and slots are numbered in 4 bytes).
    pub fn len(&mut self, each: u64) -> Result<usize, ReadError> {
        let n = self.u64()?;
        let fits = n <= self.len / each.max(1) && n <= u64::from(u32::MAX);
        match usize::try_from(n) {
            Ok(n) if fits => Ok(n),
            _ => Err(ReadError::Damaged(format!("a count of {n}"))),
        }
    }

    /// Bytes written by [`Out::bytes`], valid until the next read.
    pub fn bytes(&mut self) -> Result<&[u8], ReadError> {
        let len = self.u32()? as usize;
        self.next(len)
    }

    /// The section's length in bytes.
    pub fn section_len(&self) -> usize {
        usize::try_from(self.len).unwrap_or(usize::MAX)
    }

    /// Bytes written by [`Out::bytes`], appended to `out` behind their length as
    /// `kefu_store::packed` frames a block (a varint): copied once, straight from the read
    /// buffer when they lie in it (a table reads millions). Returns their length.
    pub fn append_bytes(&mut self, out: &mut Vec<u8>) -> Result<usize, ReadError> {
        let len = self.u32()?;
        kefu_store::packed::push_varint(out, u64::from(len));
        let len = len as usize;
        if let Some(bytes) = self.input.fill_buf()?.get(..len) {
            out.extend_from_slice(bytes);
            self.input.consume(len);
        } else {
            out.extend_from_slice(self.next(len)?);
        }
        Ok(len)
    }

    /// The next `len` bytes, valid until the next read.
    fn next(&mut self, len: usize) -> Result<&[u8], ReadError> {
        self.scratch.clear();
        let buffered = self.input.fill_buf()?;
        if let Some(bytes) = buffered.get(..len) {
            self.scratch.extend_from_slice(bytes);
            self.input.consume(len);
        } else {
            // Across the buffer's end: `take` bounds what a damaged length can make this
            // allocate by what the file holds.
            (&mut self.input)
                .take(len as u64)
                .read_to_end(&mut self.scratch)?;
        }
        if self.scratch.len() != len {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
        Ok(&self.scratch)
    }

    pub fn str(&mut self) -> Result<&str, ReadError> {
        std::str::from_utf8(self.bytes()?).map_err(|e| ReadError::Damaged(e.to_string()))
    }

    /// A record written by [`Out::record`].
    pub fn record<T: DeserializeOwned>(&mut self) -> Result<T, ReadError> {
        let bytes = self.bytes()?;
        postcard::from_bytes(bytes).map_err(|e| ReadError::Damaged(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use kefu_policy::Conversation;
    use kefu_store::{Counters, QrSceneValue, UserRecord};

    use super::*;
    use crate::world::{Entry, Tx};

    const A: &str = "wx00000000000000aa";
    const B: &str = "wx00000000000000bb";
    const POSITION: u64 = 41;

    /// Users (one removed, leaving an empty slot), and rows with a conversation and a follow,
    /// with a conversation only, with neither, on two accounts, one with a long openid.
    fn tables() -> Tables {
        let mut users = UserTable::default();
        let mut conversations = ConversationTable::default();
        let mut tx = Tx::new(&Counters { next_seq: 100 });
        for i in 0..6u32 {
            let appid = if i % 2 == 0 { A } else { B };
            let openid = if i == 5 {
                format!("o-not-twenty-eight-{i}")
            } else {
                format!("oAAAAAAAAAAAAAAAAAAAAAAAAA{i:02}")
            };
            let user = users.insert(&Entry {
                value: UserRecord {
                    user_id: format!("u{i}"),
                    nickname: format!("微信用户 {i}"),
                    created_at: 1_700_000_000 + i64::from(i),
                    seq: u64::from(10 - i),
                    openids: [(appid.to_owned(), openid.clone())].into_iter().collect(),
                },
                version: u64::from(i) + 1,
            });
            conversations.issue(&openid, appid, user);
            if i < 4 {
                let c = conversations.get_or_new(appid, &openid).unwrap();
                *c = Entry {
                    value: Conversation::new(i % 2 == 0),
                    version: 50 + u64::from(i),
                };
            }
            if i < 2 {
                let scene = (i == 1).then(|| QrSceneValue::Str("spring".into()));
                conversations.followed(&mut tx, appid, &openid, 1_700_000_500, scene);
            }
        }
        users.remove("u3");
        Tables {
            users,
            conversations,
        }
    }

    /// What the rest of kefu can see of the tables: users by id (a start gives slots out
    /// afresh), and each openid's owner, conversation and follow.
    fn seen(t: &Tables) -> String {
        let id = |user| t.users.user_id(user).unwrap_or("(none)").to_owned();
        let order: Vec<_> = t.users.in_order().into_iter().map(id).collect();
        let mut out = format!("order {order:?}, {} users\n", t.users.len());
        for i in 0..6 {
            let user = t.users.get(&format!("u{i}"));
            out += &format!("u{i}: {:?}\n", user.map(|u| (u.value, u.version)));
            for openid in [
                format!("oAAAAAAAAAAAAAAAAAAAAAAAAA{i:02}"),
                format!("o-not-twenty-eight-{i}"),
            ] {
                let owner = t.conversations.owner(&openid);
                let owner = owner.map(|(appid, user)| (appid, id(user)));
                out += &format!("{openid}: {owner:?}");
                for appid in [A, B] {
                    let c = t.conversations.get(appid, &openid);
                    let c = c.map(|c| (c.value.clone(), c.version));
                    let f = t.conversations.follow(appid, &openid);
                    out += &format!(" {c:?} {f:?}");
                }
                out += "\n";
            }
        }
        let (rows, len) = (t.conversations.rows(), t.conversations.len());
        out + &format!("{rows} rows, {len} conversations")
    }

    fn written(dir: &Path) -> Vec<u8> {
        let t = tables();
        let w = write(dir, POSITION, &t.users, &t.conversations).unwrap();
        assert_eq!((w.users, w.rows), (5, 6));
        let bytes = std::fs::read(dir.join(FILE)).unwrap();
        assert_eq!(bytes.len() as u64, w.bytes);
        bytes
    }

    /// The tables of a snapshot taken at `position`.
    fn tables_at(dir: &Path, position: u64) -> Tables {
        let taken = take(dir, Some(position)).unwrap().unwrap();
        assert_eq!(taken.position, POSITION);
        assert_eq!(
            taken.bytes,
            std::fs::metadata(dir.join(FILE)).unwrap().len()
        );
        taken.tables
    }

    #[test]
    fn the_tables_come_back_as_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let (path, t) = (dir.path().join(FILE), tables());
        write(dir.path(), POSITION, &t.users, &t.conversations).unwrap();
        let first = std::fs::read(&path).unwrap();
        assert!(!partial(dir.path()).exists());
        let back = tables_at(dir.path(), POSITION);
        assert_eq!(seen(&back), seen(&t));
        assert!(seen(&back).contains("spring"), "the QR scene of a follow");
        assert!(
            path.exists(),
            "kept while kefu runs, for a start after a crash"
        );
        // The store has moved on: the same tables, of the position they were written at.
        assert_eq!(seen(&tables_at(dir.path(), POSITION + 5)), seen(&t));

        // Written again as they were read, in order already: the same bytes.
        write(dir.path(), POSITION, &back.users, &back.conversations).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), first);
        // Changed, the order is worked out again.
        let mut changed = tables_at(dir.path(), POSITION);
        let mut u9 = changed.users.get("u0").unwrap();
        u9.value.user_id = "u9".into();
        u9.value.seq = 11;
        let u9 = changed.users.insert(&u9);
        changed.conversations.issue("o9", B, u9);
        changed.users.remove("u1");
        let seen_changed = seen(&changed);
        write(dir.path(), POSITION, &changed.users, &changed.conversations).unwrap();
        let again = tables_at(dir.path(), POSITION);
        assert_eq!(seen(&again), seen_changed);
        assert_eq!(
            again
                .conversations
                .owner("o9")
                .map(|(_, u)| again.users.user_id(u)),
            Some(Some("u9"))
        );
    }

    #[test]
    fn what_an_interrupted_stop_left_is_removed_and_never_read() {
        let dir = tempfile::tempdir().unwrap();
        written(dir.path());
        std::fs::rename(dir.path().join(FILE), partial(dir.path())).unwrap();
        assert!(take(dir.path(), Some(POSITION)).unwrap().is_none());
        assert!(!partial(dir.path()).exists());
    }

    /// A store behind the snapshot (a backup of it restored, say) is not what the snapshot was
    /// taken of.
    #[test]
    fn a_snapshot_from_a_position_the_store_has_not_reached_is_refused_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        written(dir.path());
        let refused = take(dir.path(), Some(POSITION - 1));
        assert!(matches!(
            refused,
            Err(SnapshotError::Ahead {
                written: POSITION,
                now: 40
            })
        ));
        assert!(!dir.path().join(FILE).exists());
        written(dir.path());
        assert!(matches!(
            take(dir.path(), None),
            Err(SnapshotError::Ahead { .. })
        ));
    }

    /// The header's checksum worked out again after an edit to it.
    fn reseal(bytes: &mut [u8]) {
        let end = HEADER as usize - 4;
        let crc = crc32fast::hash(&bytes[..end]);
        bytes[end..HEADER as usize].copy_from_slice(&crc.to_le_bytes());
    }

    /// The header names each shard's section; sections swapped there (each still matching
    /// its checksum) would put rows where lookups never look: refused.
    #[test]
    fn shards_swapped_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let good = written(dir.path());
        let entry = |i: usize| {
            let at = (HEADER as usize - 4 - SECTIONS * 20) + i * 20;
            at..at + 20
        };
        // The first two shards' sections: they differ (the rows do), and whichever holds a
        // row now names it under the other shard.
        let (a, b) = (1, 2);
        let mut bad = good.clone();
        bad[entry(a)].copy_from_slice(&good[entry(b)]);
        bad[entry(b)].copy_from_slice(&good[entry(a)]);
        reseal(&mut bad);
        std::fs::write(dir.path().join(FILE), &bad).unwrap();
        let refused = take(dir.path(), Some(POSITION));
        assert!(
            matches!(&refused, Err(SnapshotError::Damaged { section: "rows", reason }) if reason.contains("not its own")),
            "{:?}",
            refused.err()
        );
    }

    /// Every byte of the file changed, and the file cut at every length: refused each time,
    /// never misread, never a panic.
    #[test]
    fn any_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let good = written(dir.path());
        let path = dir.path().join(FILE);
        for at in 0..good.len() {
            let mut bad = good.clone();
            bad[at] ^= 0x5a;
            std::fs::write(&path, &bad).unwrap();
            let taken = take(dir.path(), Some(POSITION));
            assert!(
                taken.is_err(),
                "byte {at} changed, and the snapshot was taken"
            );
        }
        for len in 0..good.len() {
            std::fs::write(&path, &good[..len]).unwrap();
            assert!(take(dir.path(), Some(POSITION)).is_err(), "cut at {len}");
        }
        let mut longer = good.clone();
        longer.push(0);
        std::fs::write(&path, &longer).unwrap();
        let taken = take(dir.path(), Some(POSITION));
        assert!(
            taken.is_ok(),
            "what follows the sections is not read: {:?}",
            taken.err()
        );
    }
}
