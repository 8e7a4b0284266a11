//! The write-ahead log: what makes a service's group commit durable with one append and one
//! `fdatasync`, instead of a flush of sled's files.
//!
//! sled 0.34's `Db::flush` holds sled's concurrency-control guard while it writes its log
//! buffer and waits for the device, and every `Tree::apply_batch` waits for that guard: a
//! service that synced sled after each group stalled the next group's write behind the
//! device (docs/PERFORMANCE.md). In write-ahead mode ([`crate::store::SledStore::write_ahead`],
//! which `accord serve` turns on) each batch is appended, whole, to a segment file of this log
//! and kept in the overlay (`overlay.rs`; its index-table writes as logical rows); a sync is
//! one `fdatasync` of the segment. The overlay reaches sled in one batch every few dozen
//! groups, and sled's own files are made durable only every [`ROTATE_BYTES`] of log (a
//! *checkpoint* of the log: a new segment is started, the overlay written, sled flushed and
//! synced, and the older segments removed), and when the mode ends.
//!
//! Crash-safe order, kept by `SledStore`: the overlay goes to sled with the key
//! [`APPLIED_KEY`] set to the number of the last record it holds, in the same atomic sled
//! batch. On open, before anything else reads the store, every record whose number is above
//! the one sled recovered is applied again, in order ([`recover`]); then sled is synced and
//! the log removed. sled recovers a prefix of its batches, so what it holds plus the records
//! after it is exactly what was applied, up to the last record the log kept.
//!
//! The bytes are docs/FORMAT.md section 11 ("The write-ahead log").

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::store::{Op, StoreError};

/// The log's directory in the ledger directory.
pub const DIR_NAME: &str = "wal";

/// Key in the `accord` tree: the sequence number (8 bytes, big-endian) of the last log
/// record whose batch sled holds.
pub const APPLIED_KEY: &[u8] = b"Wapplied";

/// Once the current segment is this long, the next sync checkpoints the log.
pub const ROTATE_BYTES: u64 = 64 << 20;

/// A record starts with these four bytes: its batch's writes to the index tables are
/// logical rows, paged when the batch is written to sled.
const MAGIC: &[u8; 4] = b"AWL2";

/// The magic of the first version's records, whose writes to the index tables were already
/// pages; still read, so that a log left by it is applied.
const MAGIC_PAGES: &[u8; 4] = b"AWL1";

/// Magic, body length (u32 BE), CRC-32 of the body (u32 BE).
const HEADER: usize = 4 + 4 + 4;

/// The longest body read back: a group of the service is at most a few MiB.
const MAX_BODY: usize = 1 << 30;

const SET: u8 = 0x01;
const DELETE: u8 = 0x02;

/// One record: a batch as sled applied it, `Put` and `Replace` both as a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its sequence number: one more than the record before it.
    pub seq: u64,
    /// The writes.
    pub ops: Vec<Op>,
    /// Whether its writes to the index tables are logical rows (`"AWL2"`), not pages
    /// (`"AWL1"`).
    pub rows: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { path, source }
}

fn len32(n: usize) -> [u8; 4] {
    // Keys and values of a batch are far below 4 GiB (an entry is at most 64 KiB, a tile
    // 8 KiB); a larger one is a bug, refused rather than truncated.
    u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes()
}

/// The record of batch `seq` with `ops`: `"AWL2" || u32 len || u32 crc || body`, where `crc`
/// is the CRC-32 (ISO-HDLC, as zlib and PNG) of `body`, which detects a torn or damaged
/// record (the log guards against crashes, not against someone who writes the file), and
/// `body = u64 seq || u32 count || op*` and `op = 0x01 || u32 klen || key || u32 vlen ||
/// value` (set) or `0x02 || u32 klen || key` (delete).
///
/// # Errors
/// [`StoreError::Backend`] for a key or value of 4 GiB or more.
pub fn encode(seq: u64, ops: &[Op]) -> Result<Vec<u8>, StoreError> {
    encode_as(MAGIC, seq, ops)
}

/// The record of [`Record`] `r`, in the version it was read in.
///
/// # Errors
/// As [`encode`].
pub fn encode_record(r: &Record) -> Result<Vec<u8>, StoreError> {
    encode_as(if r.rows { MAGIC } else { MAGIC_PAGES }, r.seq, &r.ops)
}

/// A record of the first version (`"AWL1"`, index pages), as a log left by it holds.
#[cfg(test)]
pub(crate) fn encode_pages(seq: u64, ops: &[Op]) -> Vec<u8> {
    #[allow(clippy::expect_used)]
    encode_as(MAGIC_PAGES, seq, ops).expect("a small record")
}

fn encode_as(magic: &[u8; 4], seq: u64, ops: &[Op]) -> Result<Vec<u8>, StoreError> {
    let size: usize = ops
        .iter()
        .map(|op| match op {
            Op::Put(k, v) | Op::Replace(k, v) => 9 + k.len() + v.len(),
            Op::Delete(k) => 5 + k.len(),
        })
        .sum();
    let mut body = Vec::with_capacity(12 + size);
    body.extend_from_slice(&seq.to_be_bytes());
    body.extend_from_slice(&len32(ops.len()));
    for op in ops {
        let (tag, k, v) = match op {
            Op::Put(k, v) | Op::Replace(k, v) => (SET, k, Some(v)),
            Op::Delete(k) => (DELETE, k, None),
        };
        if k.len() >= u32::MAX as usize || v.is_some_and(|v| v.len() >= u32::MAX as usize) {
            return Err(StoreError::Backend(
                "a write of 4 GiB or more cannot be logged".into(),
            ));
        }
        body.push(tag);
        body.extend_from_slice(&len32(k.len()));
        body.extend_from_slice(k);
        if let Some(v) = v {
            body.extend_from_slice(&len32(v.len()));
            body.extend_from_slice(v);
        }
    }
    if body.len() > MAX_BODY {
        return Err(StoreError::Backend(format!(
            "a batch of {} bytes is too large for the write-ahead log (at most {MAX_BODY})",
            body.len()
        )));
    }
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&len32(body.len()));
    out.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// A reader over a record's body.
struct Body<'a>(&'a [u8]);

impl<'a> Body<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }

    fn u32(&mut self) -> Option<usize> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes(b.try_into().ok()?) as usize)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }

    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = self.u32()?;
        self.take(n).map(<[u8]>::to_vec)
    }
}

/// The record at the start of `bytes` and its length; `None` if there is none whole and
/// intact (a torn or damaged record, or the end).
pub fn decode(bytes: &[u8]) -> Option<(Record, usize)> {
    if bytes.len() < HEADER {
        return None;
    }
    let rows = match &bytes[..4] {
        m if m == MAGIC => true,
        m if m == MAGIC_PAGES => false,
        _ => return None,
    };
    let len = u32::from_be_bytes(bytes[4..8].try_into().ok()?) as usize;
    if len > MAX_BODY || bytes.len() - HEADER < len {
        return None;
    }
    let body = &bytes[HEADER..HEADER + len];
    if crc32fast::hash(body).to_be_bytes() != bytes[8..HEADER] {
        return None;
    }
    let mut b = Body(body);
    let seq = b.u64()?;
    let count = b.u32()?;
    let mut ops = Vec::with_capacity(count.min(len / 5));
    for _ in 0..count {
        let tag = b.take(1)?[0];
        let key = b.bytes()?;
        ops.push(match tag {
            SET => Op::Replace(key, b.bytes()?),
            DELETE => Op::Delete(key),
            _ => return None,
        });
    }
    if !b.0.is_empty() {
        return None;
    }
    Some((Record { seq, ops, rows }, HEADER + len))
}

/// The segment files in `ledger_dir/wal`, in order: `(first sequence number, path)`. No
/// directory is no segment.
///
/// # Errors
/// I/O errors, and [`StoreError::Corrupt`] for a file in it that is not a segment.
pub fn segments(ledger_dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let dir = ledger_dir.join(DIR_NAME);
    let listing = match std::fs::read_dir(&dir) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&dir)(e)),
    };
    let mut out = Vec::new();
    for d in listing {
        let d = d.map_err(io(&dir))?;
        let name = d.file_name();
        let seq = name
            .to_str()
            .filter(|n| n.len() == 20 && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u64>().ok());
        match seq {
            Some(seq) => out.push((seq, d.path())),
            None => {
                return Err(StoreError::Corrupt(format!(
                    "{} is not a segment of the write-ahead log (segments are named by 20 decimal digits)",
                    d.path().display()
                )))
            }
        }
    }
    out.sort();
    Ok(out)
}

fn segment_name(seq: u64) -> String {
    format!("{seq:020}")
}

/// Every record the segments hold, in order. A segment's first record is numbered as the
/// segment is named, and each record one more than the one before; the last segment may end
/// in a torn record (a crash while it was appended, so never acknowledged), which is left
/// out. Anything else that does not read is damage, reported, never skipped.
///
/// # Errors
/// I/O errors; [`StoreError::Corrupt`] for a damaged record or numbers out of order.
pub fn recover(segments: &[(u64, PathBuf)]) -> Result<Vec<Record>, StoreError> {
    let mut out: Vec<Record> = Vec::new();
    for (i, (first, path)) in segments.iter().enumerate() {
        let last_segment = i + 1 == segments.len();
        let bytes = std::fs::read(path).map_err(io(path))?;
        let damaged = |at: usize, why: &str| {
            StoreError::Corrupt(format!(
                "the write-ahead log {} is damaged at byte {at}: {why}; restore the ledger from a \
                 mirror or a JSON Lines export (docs/GUARANTEES.md)",
                path.display()
            ))
        };
        if let Some(prev) = out.last() {
            if prev.seq.checked_add(1) != Some(*first) {
                return Err(damaged(
                    0,
                    &format!(
                        "the segment starts at record {first}, after record {}",
                        prev.seq
                    ),
                ));
            }
        }
        let mut at = 0;
        let mut expect = *first;
        while at < bytes.len() {
            match decode(&bytes[at..]) {
                Some((r, n)) => {
                    if r.seq != expect {
                        return Err(damaged(
                            at,
                            &format!("record {} where record {expect} belongs", r.seq),
                        ));
                    }
                    expect += 1;
                    at += n;
                    out.push(r);
                }
                None if last_segment => break,
                None => return Err(damaged(at, "a record that does not read")),
            }
        }
    }
    Ok(out)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(io(dir))
}

/// The log being written: its current segment.
pub struct Wal {
    dir: PathBuf,
    file: Arc<File>,
    path: PathBuf,
    len: u64,
    first: u64,
    next: u64,
    failed: Option<String>,
    sync_files: bool,
}

impl Wal {
    /// Starts a log in `ledger_dir/wal` whose first record is `next`, with a new segment.
    ///
    /// # Errors
    /// I/O errors.
    pub fn start(ledger_dir: &Path, next: u64, sync_files: bool) -> Result<Self, StoreError> {
        let dir = ledger_dir.join(DIR_NAME);
        let new_dir = !dir.exists();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        if new_dir && sync_files {
            sync_dir(ledger_dir)?;
        }
        let (file, path) = Self::segment(&dir, next, sync_files)?;
        Ok(Self {
            dir,
            file,
            path,
            len: 0,
            first: next,
            next,
            failed: None,
            sync_files,
        })
    }

    /// A new, empty segment named `first`, its directory entry durable.
    fn segment(
        dir: &Path,
        first: u64,
        sync_files: bool,
    ) -> Result<(Arc<File>, PathBuf), StoreError> {
        let path = dir.join(segment_name(first));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        if sync_files {
            sync_dir(dir)?;
        }
        Ok((Arc::new(file), path))
    }

    /// The number the next record gets.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// Refuses when an append failed earlier: the segment may end in a partial record, and
    /// nothing may follow it.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    pub fn usable(&self) -> Result<(), StoreError> {
        match &self.failed {
            Some(why) => Err(StoreError::Backend(format!(
                "the write-ahead log failed earlier ({why}); nothing more is logged until the ledger is reopened"
            ))),
            None => Ok(()),
        }
    }

    /// Marks the log unusable: what it holds stays for the next open to apply, and nothing
    /// more is logged or synced in this process.
    pub fn fail(&mut self, why: String) {
        self.failed.get_or_insert(why);
    }

    /// Appends `record` (from [`encode`], numbered [`Wal::next_seq`]).
    ///
    /// # Errors
    /// I/O errors; after one, every later append and sync is refused ([`Wal::usable`]).
    pub fn append(&mut self, record: &[u8]) -> Result<(), StoreError> {
        self.usable()?;
        if let Err(e) = (&*self.file).write_all(record) {
            self.failed = Some(e.to_string());
            return Err(io(&self.path)(e));
        }
        self.len += record.len() as u64;
        self.next += 1;
        Ok(())
    }

    /// The current segment's file (to sync without holding the log) and its length.
    pub fn current(&self) -> (Arc<File>, PathBuf, u64) {
        (self.file.clone(), self.path.clone(), self.len)
    }

    /// Starts a new segment; the one before is returned, to be synced.
    ///
    /// # Errors
    /// I/O errors.
    pub fn rotate(&mut self) -> Result<(Arc<File>, PathBuf), StoreError> {
        self.usable()?;
        let (file, path) = Self::segment(&self.dir, self.next, self.sync_files)?;
        let old = std::mem::replace(&mut self.file, file);
        let old_path = std::mem::replace(&mut self.path, path);
        self.len = 0;
        self.first = self.next;
        Ok((old, old_path))
    }

    /// The first record number of the current segment (its name).
    pub fn current_first(&self) -> u64 {
        self.first
    }
}

/// Removes the segments named below `before` (their records are in sled's synced files).
///
/// # Errors
/// I/O errors.
pub fn remove_before(ledger_dir: &Path, before: u64, sync_files: bool) -> Result<(), StoreError> {
    let mut removed = false;
    for (first, path) in segments(ledger_dir)? {
        if first < before {
            std::fs::remove_file(&path).map_err(io(&path))?;
            removed = true;
        }
    }
    if removed && sync_files {
        sync_dir(&ledger_dir.join(DIR_NAME))?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ops() -> Vec<Op> {
        vec![
            Op::Put(b"Tkey".to_vec(), vec![7; 300]),
            Op::Replace(b"Mmeta".to_vec(), b"{}".to_vec()),
            Op::Delete(b"L\x00\x00".to_vec()),
        ]
    }

    #[test]
    fn a_record_reads_back_as_written() {
        let bytes = encode(42, &ops()).unwrap();
        let (r, n) = decode(&bytes).unwrap();
        assert_eq!(n, bytes.len());
        assert_eq!(r.seq, 42);
        assert_eq!(
            r.ops,
            vec![
                Op::Replace(b"Tkey".to_vec(), vec![7; 300]),
                Op::Replace(b"Mmeta".to_vec(), b"{}".to_vec()),
                Op::Delete(b"L\x00\x00".to_vec()),
            ]
        );
    }

    #[test]
    fn a_torn_or_altered_record_does_not_read() {
        let bytes = encode(1, &ops()).unwrap();
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        for i in [0, 5, 9, HEADER, HEADER + 9, bytes.len() - 1] {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(decode(&b).is_none(), "flip at {i}");
        }
    }

    #[test]
    fn recovery_keeps_a_prefix_and_refuses_damage_before_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut wal = Wal::start(dir.path(), 5, false).unwrap();
        for _ in 0..3 {
            let r = encode(wal.next_seq(), &ops()).unwrap();
            wal.append(&r).unwrap();
        }
        let (_old, old_path) = wal.rotate().unwrap();
        let r = encode(wal.next_seq(), &ops()).unwrap();
        wal.append(&r).unwrap();
        let (_, last_path, _) = wal.current();
        // A torn record at the end of the last segment is left out.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&last_path)
            .unwrap()
            .write_all(&r[..r.len() / 2])
            .unwrap();
        let segs = segments(dir.path()).unwrap();
        assert_eq!(segs.len(), 2);
        let got = recover(&segs).unwrap();
        assert_eq!(got.iter().map(|r| r.seq).collect::<Vec<_>>(), [5, 6, 7, 8]);
        // The same damage in an earlier segment is an error.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&old_path)
            .unwrap()
            .write_all(&r[..10])
            .unwrap();
        let e = recover(&segments(dir.path()).unwrap()).unwrap_err();
        assert!(e.to_string().contains("damaged"), "{e}");
        // So is a file that is not a segment.
        std::fs::write(dir.path().join(DIR_NAME).join("stray"), b"x").unwrap();
        assert!(segments(dir.path()).is_err());
    }
}
