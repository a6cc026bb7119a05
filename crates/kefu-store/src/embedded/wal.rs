//! The log: what makes a commit durable, and where inbox and traffic bodies live.
//!
//! A commit is one sequential append and one `fdatasync`, whatever keys it touches; redb, which
//! pays a copy-on-write page per randomly keyed insert, is brought up to date behind it (see
//! `applier`) and holds only pointers to the bodies: a message is written to disk once. The log
//! is a series of segment files named by the sequence number (LSN) of their first entry; each
//! entry is framed as `len:u32 crc32:u32 entry` (little-endian). Segments are kept: a segment is
//! deleted only once a wipe has made everything in it obsolete and redb holds that durably.
//!
//! The open segment is written ahead with zeros, [`AHEAD`] bytes at a time, and an append
//! overwrites them: its `fdatasync` then writes the entry alone, where growing the file made
//! it write the inode too, a second synchronous write (on this project's ext4 disk, syncs/s
//! doubled; BENCHMARKS.md). A zero length ends a segment's entries; a finished segment is cut
//! to its entries before the next one begins.
//!
//! Recovery reads the segments from the one holding redb's checkpoint on. A damaged frame at the
//! end of the last segment is the write a crash interrupted, never acknowledged: it is cut off.
//! Damage anywhere else is corruption and refuses to open.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::entry::{Bodies, Entry, Span};
use crate::port::StoreError;

/// A segment grows to about this size before the log starts the next one.
const SEGMENT_BYTES: u64 = 32 << 20;
const PREFIX: &str = "wal-";
const SUFFIX: &str = ".log";
const HEADER: usize = 8;
/// How far ahead of its entries the open segment is zeroed. Each step costs the append that
/// takes it a larger sync (the zeros and the inode): larger steps make those rarer and longer.
const AHEAD: u64 = 256 << 10;

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + use<> {
    let path = path.display().to_string();
    move |source| StoreError::Io { path, source }
}

/// The open end of the log.
pub(crate) struct Log {
    dir: PathBuf,
    file: File,
    /// The current segment's path, first LSN and size so far.
    path: PathBuf,
    first_lsn: u64,
    written: u64,
    /// How much of the segment is on disk: its entries, then zeros.
    zeroed: u64,
    next_lsn: u64,
    frame: Vec<u8>,
}

impl Log {
    /// Starts a new segment at `next_lsn` (recovery has replayed and removed the old ones).
    pub(crate) fn start(dir: &Path, next_lsn: u64) -> Result<Log, StoreError> {
        let (file, path) = create_segment(dir, next_lsn)?;
        Ok(Log {
            dir: dir.to_owned(),
            file,
            path,
            first_lsn: next_lsn,
            written: 0,
            zeroed: 0,
            next_lsn,
            frame: Vec::new(),
        })
    }

    /// Appends `entry` and makes it durable; returns where it landed.
    pub(crate) fn append(&mut self, entry: &Entry) -> Result<Placed, StoreError> {
        let lsn = self.next_lsn;
        self.frame.clear();
        self.frame.extend_from_slice(&[0; HEADER]);
        let bodies = entry.encode(lsn, &mut self.frame);
        let placed = Placed {
            lsn,
            segment: self.first_lsn,
            at: self.written + HEADER as u64,
            bodies,
        };
        let body = &self.frame[HEADER..];
        let len = u32::try_from(body.len()).map_err(|_| {
            StoreError::Engine(format!("a log entry of {} bytes is too large", body.len()))
        })?;
        let crc = crc32fast::hash(body);
        self.frame[..4].copy_from_slice(&len.to_le_bytes());
        self.frame[4..HEADER].copy_from_slice(&crc.to_le_bytes());
        let end = self.written + self.frame.len() as u64;
        self.zero_ahead(end)?;
        (self.file)
            .write_all_at(&self.frame, self.written)
            .map_err(io(&self.path))?;
        self.file.sync_data().map_err(io(&self.path))?;
        self.written = end;
        self.next_lsn += 1;
        if self.written >= SEGMENT_BYTES {
            // Cut to its entries first: a crash before the next segment exists leaves this
            // one the last, where recovery cuts zeros anyway.
            self.file.set_len(self.written).map_err(io(&self.path))?;
            self.file.sync_data().map_err(io(&self.path))?;
            (self.file, self.path) = create_segment(&self.dir, self.next_lsn)?;
            self.first_lsn = self.next_lsn;
            self.written = 0;
            self.zeroed = 0;
        }
        Ok(placed)
    }

    /// Zeroes the segment past `end`, the end of the entry about to be written, up to the next
    /// multiple of [`AHEAD`], if it is not already; the append's sync makes the zeros durable
    /// with the entry. The entry covers what lies before `end`, so a large one (a seed) is not
    /// written twice.
    fn zero_ahead(&mut self, end: u64) -> Result<(), StoreError> {
        if end <= self.zeroed {
            return Ok(());
        }
        static ZEROS: [u8; AHEAD as usize] = [0; AHEAD as usize];
        let to = (end / AHEAD + 1) * AHEAD;
        (self.file)
            .write_all_at(&ZEROS[..(to - end) as usize], end)
            .map_err(io(&self.path))?;
        self.zeroed = to;
        Ok(())
    }
}

/// Where a logged entry lies: its segment (by first LSN), the file offset where the entry
/// starts, and its bodies relative to that.
#[derive(Debug, PartialEq)]
pub(crate) struct Placed {
    pub lsn: u64,
    pub segment: u64,
    pub at: u64,
    pub bodies: Bodies,
}

impl Placed {
    /// The file offset and length of a body.
    pub(crate) fn locate(&self, span: Span) -> (u64, u64, u32) {
        (self.segment, self.at + u64::from(span.offset), span.len)
    }
}

pub(crate) fn segment_path(dir: &Path, first_lsn: u64) -> PathBuf {
    dir.join(format!("{PREFIX}{first_lsn:020}{SUFFIX}"))
}

/// Creates a segment and makes its name durable (a crash must not lose the file it fsyncs).
fn create_segment(dir: &Path, first_lsn: u64) -> Result<(File, PathBuf), StoreError> {
    let path = segment_path(dir, first_lsn);
    let file = File::options()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .map_err(io(&path))?;
    sync_dir(dir)?;
    Ok((file, path))
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// The log's segments, oldest first: `(first LSN, path)`.
pub(crate) fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let mut out = Vec::new();
    for item in std::fs::read_dir(dir).map_err(io(dir))? {
        let item = item.map_err(io(dir))?;
        let name = item.file_name();
        let first = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|n| n.strip_suffix(SUFFIX))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(first) = first {
            out.push((first, item.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Calls `each` with every entry of the log whose LSN is above `after`, in order, and where it
/// lies; cuts off an append a crash interrupted and removes empty segments. Returns the highest
/// LSN the log holds (or `after`).
pub(crate) fn replay(
    dir: &Path,
    after: u64,
    each: &mut dyn FnMut(Entry, Placed) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    let segments = segments(dir)?;
    let from = holding(&segments, after).unwrap_or(0);
    let mut last = after;
    for (i, (first, path)) in segments.iter().enumerate().skip(from) {
        let is_last = i + 1 == segments.len();
        let bytes = std::fs::read(path).map_err(io(path))?;
        if bytes.is_empty() {
            std::fs::remove_file(path).map_err(io(path))?;
            continue;
        }
        let what = path.display().to_string();
        let mut whole = 0;
        for (entry_at, frame) in frames(&bytes) {
            whole = entry_at + frame.len();
            let Some((lsn, entry, bodies)) = next_entry(frame, after, last, &what)? else {
                continue;
            };
            let placed = Placed {
                lsn,
                segment: *first,
                at: entry_at as u64,
                bodies,
            };
            each(entry, placed)?;
            last = lsn;
        }
        if whole < bytes.len() {
            if !is_last {
                return Err(StoreError::Corrupt {
                    key: what,
                    reason: "a damaged entry before the end of the log".into(),
                });
            }
            // The append a crash cut short: it was never acknowledged.
            let file = File::options().write(true).open(path).map_err(io(path))?;
            file.set_len(whole as u64).map_err(io(path))?;
            file.sync_all().map_err(io(path))?;
        }
    }
    Ok(last)
}

/// How far [`read_since`] got.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Since {
    /// Every entry after the point was given.
    Read,
    /// The log no longer begins at or before the entry after the point (a wipe pruned it).
    Pruned,
    /// The segments to read hold more than the budget: nothing was given.
    TooLarge,
}

/// Calls `each` with every entry after `after` up to `upto`, in order, only reading: unlike
/// [`replay`], for a log in use, which recovery has already cut. Reads nothing if the
/// segments holding them are larger than `budget` bytes together.
pub(crate) fn read_since(
    dir: &Path,
    after: u64,
    upto: u64,
    budget: u64,
    each: &mut dyn FnMut(Entry) -> Result<(), StoreError>,
) -> Result<Since, StoreError> {
    if upto <= after {
        return Ok(Since::Read);
    }
    let segments = segments(dir)?;
    let Some(from) = holding(&segments, after) else {
        return Ok(Since::Pruned);
    };
    let mut size = 0u64;
    for (_, path) in &segments[from..] {
        size += std::fs::metadata(path).map_err(io(path))?.len();
    }
    if size > budget {
        return Ok(Since::TooLarge);
    }
    let mut last = after;
    for (_, path) in &segments[from..] {
        let bytes = std::fs::read(path).map_err(io(path))?;
        let what = path.display().to_string();
        for (_, frame) in frames(&bytes) {
            if last >= upto {
                break;
            }
            if let Some((lsn, entry, _)) = next_entry(frame, after, last, &what)? {
                each(entry)?;
                last = lsn;
            }
        }
    }
    if last < upto {
        return Err(StoreError::Corrupt {
            key: dir.display().to_string(),
            reason: format!("the log ends at entry {last}, not {upto}"),
        });
    }
    Ok(Since::Read)
}

/// Where in `segments` (oldest first) the one holding the entry after `after` is: the segments
/// before it hold nothing after `after`. `None` if the log begins later.
fn holding(segments: &[(u64, PathBuf)], after: u64) -> Option<usize> {
    segments
        .iter()
        .rposition(|(first, _)| *first <= after.saturating_add(1))
}

/// The whole frames at the start of `bytes`, in order, each with the offset its entry starts
/// at; they end at the first frame that is not whole (damage, or a torn append) or at the end.
fn frames(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let frame = next_frame(bytes.get(at..)?)?;
        let entry_at = at + HEADER;
        at = entry_at + frame.len();
        Some((entry_at, frame))
    })
}

/// The entry `frame` holds if it comes after `after`, checked to follow `last`; `None` for one
/// at or before `after`, which is skipped without decoding (a seed can be one entry of hundreds
/// of megabytes).
fn next_entry(
    frame: &[u8],
    after: u64,
    last: u64,
    what: &str,
) -> Result<Option<(u64, Entry, Bodies)>, StoreError> {
    if entry_lsn(frame).is_some_and(|lsn| lsn <= after) {
        return Ok(None);
    }
    let (lsn, entry, bodies) = Entry::decode(frame, what)?;
    if lsn != last + 1 {
        return Err(StoreError::Corrupt {
            key: what.to_owned(),
            reason: format!("entry {lsn} where entry {} belongs", last + 1),
        });
    }
    Ok(Some((lsn, entry, bodies)))
}

/// The LSN an encoded entry starts with.
fn entry_lsn(entry: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(entry.get(..8)?.try_into().ok()?))
}

/// The body of the frame at the start of `bytes`, if it is whole and its checksum matches. A
/// zero length is the zeroed rest of a segment: no entry is empty (each begins with its LSN).
fn next_frame(bytes: &[u8]) -> Option<&[u8]> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    if len == 0 {
        return None;
    }
    let crc = u32::from_le_bytes(bytes.get(4..HEADER)?.try_into().ok()?);
    let body = bytes.get(HEADER..HEADER.checked_add(len)?)?;
    (crc32fast::hash(body) == crc).then_some(body)
}

/// Deletes the segments whose entries are all at or below `obsolete` (a wipe made them so, and
/// redb holds the wipe durably), keeping the newest segment, which the log may be appending to.
pub(crate) fn prune(dir: &Path, obsolete: u64) -> Result<(), StoreError> {
    let segments = segments(dir)?;
    for pair in segments.windows(2) {
        let (_, path) = &pair[0];
        let (next_first, _) = pair[1];
        if next_first.saturating_sub(1) <= obsolete {
            std::fs::remove_file(path).map_err(io(path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn wipe(n: u8) -> Entry {
        Entry::Wipe(vec![vec![n]])
    }

    fn read_all(dir: &Path, after: u64) -> Result<Vec<(u64, Entry)>, StoreError> {
        let mut out = Vec::new();
        replay(dir, after, &mut |e, placed| {
            out.push((placed.lsn, e));
            Ok(())
        })?;
        Ok(out)
    }

    /// A segment's bytes up to the end of its last whole entry (without the zeros after it).
    fn entries_of(path: &Path) -> Vec<u8> {
        let mut bytes = std::fs::read(path).unwrap();
        let end = frames(&bytes).map(|(at, frame)| at + frame.len()).last();
        bytes.truncate(end.unwrap_or(0));
        bytes
    }

    #[test]
    fn appends_replay_in_order_after_a_point() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::start(dir.path(), 5).unwrap();
        for n in 0..3 {
            assert_eq!(log.append(&wipe(n)).unwrap().lsn, 5 + u64::from(n));
        }
        let got = read_all(dir.path(), 5).unwrap();
        assert_eq!(got, vec![(6, wipe(1)), (7, wipe(2))]);
    }

    #[test]
    fn a_torn_last_append_is_dropped_but_damage_before_it_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::start(dir.path(), 1).unwrap();
        log.append(&wipe(1)).unwrap();
        log.append(&wipe(2)).unwrap();
        drop(log);
        let (_, path) = segments(dir.path()).unwrap().remove(0);
        let whole = entries_of(&path);
        std::fs::write(&path, &whole[..whole.len() - 3]).unwrap();
        assert_eq!(read_all(dir.path(), 0).unwrap(), vec![(1, wipe(1))]);
        // The torn append is cut off, so the segment can be followed by others.
        assert!(std::fs::read(&path).unwrap().len() < whole.len() - 3);
        std::fs::write(&path, &whole[..whole.len() - 3]).unwrap();

        // The same damage in a segment that is not the last is corruption.
        Log::start(dir.path(), 3).unwrap().append(&wipe(3)).unwrap();
        assert!(matches!(
            read_all(dir.path(), 0),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn zeros_ahead_of_the_entries_are_no_entries_and_go_once_a_segment_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::start(dir.path(), 1).unwrap();
        for n in 1..=3 {
            log.append(&wipe(n)).unwrap();
        }
        let written = log.written;
        let len = |path: &Path| std::fs::metadata(path).unwrap().len();
        let (_, first) = segments(dir.path()).unwrap().remove(0);
        assert_eq!(
            len(&first),
            AHEAD,
            "zeroed ahead of {written} bytes of entries"
        );
        // A crash leaves the zeros: they end the entries, and recovery cuts them.
        drop(log);
        let all = vec![(1, wipe(1)), (2, wipe(2)), (3, wipe(3))];
        assert_eq!(read_all(dir.path(), 0).unwrap(), all);
        assert_eq!(len(&first), written);

        // An entry that fills a segment: the segment is cut to its entries before the next
        // begins, so a segment that is not the last never ends in zeros.
        let mut log = Log::start(dir.path(), 4).unwrap();
        let big = Entry::Wipe(vec![vec![7; SEGMENT_BYTES as usize]]);
        log.append(&big).unwrap();
        log.append(&wipe(5)).unwrap();
        let segments = segments(dir.path()).unwrap();
        assert_eq!(segments.len(), 3);
        let done = std::fs::read(&segments[1].1).unwrap();
        assert_eq!(entries_of(&segments[1].1), done);
        assert_eq!(len(&segments[2].1), AHEAD);
        let got = read_all(dir.path(), 3).unwrap();
        assert_eq!(got, vec![(4, big), (5, wipe(5))]);
    }

    #[test]
    fn read_since_gives_what_follows_a_point_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::start(dir.path(), 1).unwrap();
        for n in 1..=4 {
            log.append(&wipe(n)).unwrap();
        }
        let read = |after, upto, budget| {
            let mut got = Vec::new();
            let since = read_since(dir.path(), after, upto, budget, &mut |e| {
                got.push(e);
                Ok(())
            });
            (since.unwrap(), got)
        };
        assert_eq!(read(2, 4, u64::MAX), (Since::Read, vec![wipe(3), wipe(4)]));
        assert_eq!(read(0, 2, u64::MAX), (Since::Read, vec![wipe(1), wipe(2)]));
        assert_eq!(read(4, 4, 0), (Since::Read, vec![]));
        assert_eq!(read(0, 4, 10), (Since::TooLarge, vec![]));
        // Entries the log does not hold are corruption, not an empty answer.
        assert!(read_since(dir.path(), 2, 6, u64::MAX, &mut |_| Ok(())).is_err());

        // A later segment, and the first pruned: entry 3 is gone.
        drop(log);
        let mut log = Log::start(dir.path(), 5).unwrap();
        log.append(&wipe(5)).unwrap();
        prune(dir.path(), 4).unwrap();
        assert_eq!(read(2, 5, u64::MAX), (Since::Pruned, vec![]));
        assert_eq!(read(4, 5, u64::MAX), (Since::Read, vec![wipe(5)]));
        // The log is as it was: what recovery replays is all there.
        assert_eq!(read_all(dir.path(), 4).unwrap(), vec![(5, wipe(5))]);
    }

    fn framed(entry: &[u8]) -> Vec<u8> {
        let mut out = (entry.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&crc32fast::hash(entry).to_le_bytes());
        out.extend_from_slice(entry);
        out
    }

    #[test]
    fn entries_redb_holds_are_skipped_without_decoding() {
        let dir = tempfile::tempdir().unwrap();
        // Entry 1 is whole (its checksum holds) but no entry kefu could decode.
        let mut old = 1u64.to_le_bytes().to_vec();
        old.extend_from_slice(&[0xff; 64]);
        let mut newer = Vec::new();
        wipe(2).encode(2, &mut newer);
        let mut bytes = framed(&old);
        bytes.extend_from_slice(&framed(&newer));
        std::fs::write(segment_path(dir.path(), 1), bytes).unwrap();
        assert_eq!(read_all(dir.path(), 1).unwrap(), vec![(2, wipe(2))]);
        assert!(matches!(
            read_all(dir.path(), 0),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn prune_keeps_what_redb_does_not_hold_yet() {
        let dir = tempfile::tempdir().unwrap();
        for first in [1, 4, 9] {
            Log::start(dir.path(), first).unwrap();
        }
        let left = || -> Vec<u64> {
            let segments = segments(dir.path()).unwrap();
            segments.into_iter().map(|(first, _)| first).collect()
        };
        prune(dir.path(), 5).unwrap();
        assert_eq!(left(), vec![4, 9]);
        prune(dir.path(), 8).unwrap();
        assert_eq!(left(), vec![9]);
    }
}
