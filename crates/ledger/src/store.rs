//! The key-value store under a ledger: a small trait, an in-memory implementation for tests
//! and bundles, and the sled implementation.
//!
//! Most keys are written once: [`WriteBatch::put`] refuses, at commit, to overwrite a key that
//! exists. The few that move with the tree's right edge (partial tiles, the leaves of the
//! partial entry bundle, the governance snapshot) are written with [`WriteBatch::replace`]
//! and removed with [`WriteBatch::delete`]. [`Store::commit`] applies a whole batch
//! atomically and durably.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::index::Pages;

/// A failure of the store itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process has the ledger open.
    #[error("ledger {0} is in use by another process")]
    InUse(PathBuf),
    /// A batch tried to overwrite a key that exists.
    #[error("refused to overwrite existing key {0}")]
    Overwrite(String),
    /// sled reported an error (corruption, I/O).
    #[error("storage error: {0}")]
    Backend(String),
    /// sled found its files corrupt on open (turned into [`StoreError::Backend`] if setting
    /// its snapshots aside does not help).
    #[error("storage error: {0}")]
    Corrupt(String),
    /// An I/O error while syncing files.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// One write of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Write a new key; refused if it exists.
    Put(Vec<u8>, Vec<u8>),
    /// Write a key whatever it held.
    Replace(Vec<u8>, Vec<u8>),
    /// Remove a key (nothing if it is absent).
    Delete(Vec<u8>),
}

impl Op {
    fn key(&self) -> &[u8] {
        match self {
            Op::Put(k, _) | Op::Replace(k, _) | Op::Delete(k) => k,
        }
    }
}

/// Writes to apply together. A key appears at most once in a batch.
#[derive(Default, Debug)]
pub struct WriteBatch {
    pub(crate) ops: Vec<Op>,
}

impl WriteBatch {
    /// Adds a write of a new key.
    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push(Op::Put(key, value));
    }

    /// Adds a write that replaces whatever the key held.
    pub fn replace(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push(Op::Replace(key, value));
    }

    /// Adds a removal.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.ops.push(Op::Delete(key));
    }

    /// Number of writes.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Checks the batch's own rule (each key once) and, with `exists`, that no `put` overwrites.
    fn check(&self, exists: impl Fn(&[u8]) -> Result<bool, StoreError>) -> Result<(), StoreError> {
        let mut seen = std::collections::HashSet::with_capacity(self.ops.len());
        for op in &self.ops {
            if !seen.insert(op.key()) {
                return Err(StoreError::Overwrite(printable(op.key())));
            }
            if let Op::Put(k, _) = op {
                if exists(k)? {
                    return Err(StoreError::Overwrite(printable(k)));
                }
            }
        }
        Ok(())
    }
}

/// A key-value pair read back.
pub type Kv = (Vec<u8>, Vec<u8>);

/// An ordered key-value store with atomic, durable batches.
pub trait Store: Send + Sync {
    /// The value at `key`.
    ///
    /// # Errors
    /// [`StoreError`].
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// All pairs whose key starts with `prefix`, in key order, from `start` (inclusive, a full
    /// key) if given.
    fn scan<'a>(
        &'a self,
        prefix: &[u8],
        start: Option<&[u8]>,
    ) -> Box<dyn Iterator<Item = Result<Kv, StoreError>> + 'a>;

    /// The last pair whose key starts with `prefix`.
    ///
    /// # Errors
    /// [`StoreError`].
    fn last(&self, prefix: &[u8]) -> Result<Option<Kv>, StoreError>;

    /// The last pair whose key starts with `prefix` and is not greater than `key`. The
    /// default scans; stores with ordered ranges answer directly.
    ///
    /// # Errors
    /// [`StoreError`].
    fn floor(&self, prefix: &[u8], key: &[u8]) -> Result<Option<Kv>, StoreError> {
        let mut best = None;
        for r in self.scan(prefix, None) {
            let (k, v) = r?;
            if k.as_slice() > key {
                break;
            }
            best = Some((k, v));
        }
        Ok(best)
    }

    /// The first key that starts with `prefix` and is greater than `after` (itself a key
    /// with that prefix), without its value. The default scans; stores with ordered ranges
    /// answer directly.
    ///
    /// # Errors
    /// [`StoreError`].
    fn next_key(&self, prefix: &[u8], after: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        for r in self.scan(prefix, Some(after)) {
            let (k, _) = r?;
            if k.as_slice() > after {
                return Ok(Some(k));
            }
        }
        Ok(None)
    }

    /// Applies `batch` atomically and durably: when this returns `Ok`, every write survives a
    /// crash or power loss; on `Err`, none is visible. Refuses a `put` over an existing key
    /// and a key twice in one batch.
    ///
    /// # Errors
    /// [`StoreError::Overwrite`] or a backend failure.
    fn commit(&self, batch: WriteBatch) -> Result<(), StoreError>;

    /// Applies `batch` atomically, as [`Store::commit`] does, but may return before it is
    /// durable: it is visible to reads at once, and durable once a later sync of the store
    /// returns (for [`SledStore`], [`SledStore::sync`]). A crash before that may lose it,
    /// whole (never part of it), together with every batch applied after it. A store
    /// without a separate sync makes it durable here.
    ///
    /// # Errors
    /// As [`Store::commit`].
    fn apply(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.commit(batch)
    }

    /// Applies `batch` as [`Store::apply`] (or, if `durable`, [`Store::commit`]) does, with
    /// the writes to the index tables (`index.rs`) in their *logical* keys, if this store
    /// takes them so: it then holds those rows ([`Store::index_row`], [`Store::held_rows`])
    /// and builds their pages itself later (a [`SledStore`] in write-ahead mode). Otherwise
    /// it gives the batch back untouched, and the caller writes the pages. The default gives
    /// it back.
    ///
    /// # Errors
    /// As [`Store::commit`].
    fn apply_rows(
        &self,
        batch: WriteBatch,
        durable: bool,
    ) -> Result<Option<WriteBatch>, StoreError> {
        let _ = durable;
        Ok(Some(batch))
    }

    /// An index table's logical row, if this store takes the index tables' writes as rows
    /// (see [`Store::apply_rows`]): `Some(value)` (a value or `None`, no such row), whether
    /// the row is held or already paged. `None` if it does not, and the caller reads the
    /// pages. The default does not.
    ///
    /// # Errors
    /// [`StoreError`].
    fn index_row(&self, key: &[u8]) -> Result<Option<Option<Vec<u8>>>, StoreError> {
        let _ = key;
        Ok(None)
    }

    /// Every index row held and not paged yet (see [`Store::apply_rows`]) whose key starts
    /// with `prefix`, from `from` on, in key order.
    ///
    /// # Errors
    /// [`StoreError`].
    fn held_rows(
        &self,
        prefix: &[u8],
        from: &[u8],
    ) -> Result<Vec<(Vec<u8>, crate::overlay::Slot)>, StoreError> {
        let _ = (prefix, from);
        Ok(Vec::new())
    }
}

/// An in-memory store.
#[derive(Default)]
pub struct MemoryStore {
    map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        // A poisoned lock only means another thread panicked mid-read; the map is intact
        // because commits are applied after all checks.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A key for error messages: printable ASCII as is, other bytes as `\xNN`.
pub(crate) fn printable(key: &[u8]) -> String {
    key.iter()
        .map(|&b| {
            if b.is_ascii_graphic() {
                (b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect()
}

impl Store for MemoryStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().get(key).cloned())
    }

    fn scan<'a>(
        &'a self,
        prefix: &[u8],
        start: Option<&[u8]>,
    ) -> Box<dyn Iterator<Item = Result<Kv, StoreError>> + 'a> {
        let from = start.unwrap_or(prefix).to_vec();
        let prefix = prefix.to_vec();
        let items: Vec<_> = self
            .lock()
            .range(from..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, v)| Ok((k.clone(), v.clone())))
            .collect();
        Box::new(items.into_iter())
    }

    fn last(&self, prefix: &[u8]) -> Result<Option<Kv>, StoreError> {
        Ok(self
            .lock()
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .last()
            .map(|(k, v)| (k.clone(), v.clone())))
    }

    fn floor(&self, prefix: &[u8], key: &[u8]) -> Result<Option<Kv>, StoreError> {
        Ok(self
            .lock()
            .range(..=key.to_vec())
            .next_back()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone())))
    }

    fn next_key(&self, prefix: &[u8], after: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        use std::ops::Bound::{Excluded, Unbounded};
        Ok(self
            .lock()
            .range::<[u8], _>((Excluded(after), Unbounded))
            .next()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone()))
    }

    fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let mut map = self.lock();
        batch.check(|k| Ok(map.contains_key(k)))?;
        for op in batch.ops {
            match op {
                Op::Put(k, v) | Op::Replace(k, v) => {
                    map.insert(k, v);
                }
                Op::Delete(k) => {
                    map.remove(&k);
                }
            }
        }
        Ok(())
    }
}

/// A sled database in a directory.
///
/// sled 0.34's `flush` ends in `sync_file_range`, which does not survive a power cut or a
/// volatile disk cache (sled issues #1452, #1351); so after each flush this also calls
/// `fdatasync` on sled's log file, `fsync` on any other file of sled's that changed since
/// the last sync (its config, snapshots, blob files: see [`Synced`]), and `fsync` on the
/// directory when the set of files in it changed. A commit therefore costs one device flush
/// for the log in the common case.
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    dir: PathBuf,
    sync_files: bool,
    /// sled's tree for what the store keeps about itself ([`BLOBS_SYNCED`]).
    meta: sled::Tree,
    /// What this process knows to be durable of sled's files; `None` before the first sync.
    synced: Mutex<Option<Synced>>,
    /// Where snapshot files were quarantined on open (see [`SledStore::open`]).
    quarantined: Option<PathBuf>,
    /// The write-ahead log, in write-ahead mode ([`SledStore::write_ahead`]).
    wal: Mutex<Option<crate::wal::Wal>>,
    /// In write-ahead mode, what the log holds and sled not yet (crates/ledger/src/overlay.rs).
    /// Locked after `wal` when both are.
    overlay: std::sync::RwLock<Option<crate::overlay::Overlay>>,
    /// The segment length past which a sync checkpoints the write-ahead log
    /// ([`crate::wal::ROTATE_BYTES`]; smaller in tests).
    rotate_bytes: u64,
    /// Held by a sync of the write-ahead log, and so by a checkpoint of it, from start to
    /// end. Locks are taken in the order `checkpointing`, `wal`, `overlay`.
    checkpointing: Mutex<()>,
}

/// An I/O error on `path`, for `map_err`.
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { path, source }
}

/// Moves sled's snapshot files (`snap.*`, including a half-written `.generating` one) to
/// `quarantine/<seconds since the epoch>/` in `dir`; returns (from, to) for each.
fn quarantine_snapshots(dir: &Path) -> Result<Vec<(PathBuf, PathBuf)>, StoreError> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let target = dir.join("quarantine").join(secs.to_string());
    let mut moved = Vec::new();
    for d in std::fs::read_dir(dir).map_err(io(dir))? {
        let d = d.map_err(io(dir))?;
        if !d.file_name().to_string_lossy().starts_with("snap.") {
            continue;
        }
        std::fs::create_dir_all(&target).map_err(io(&target))?;
        let to = target.join(d.file_name());
        std::fs::rename(d.path(), &to).map_err(io(&d.path()))?;
        moved.push((d.path(), to));
    }
    Ok(moved)
}

/// A file of sled's as last synced: its name, length and modification time.
type FileStamp = (std::ffi::OsString, u64, Option<std::time::SystemTime>);

/// sled's tree (beside the ledger's `accord`) for what the store records about sled's own
/// files (docs/FORMAT.md section 11).
pub const STORE_TREE: &str = "accord-store";

/// Key in [`STORE_TREE`]: a big-endian `u64` floor; every blob file whose name (sled's log
/// sequence number, in decimal) is at or below it was synced by the process that wrote it.
pub const BLOBS_SYNCED: &[u8] = b"blobs-synced";

/// `fsync` of a directory.
fn sync_dir_at(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(io(dir))
}

/// `fsync` of a file or directory; one removed meanwhile (sled removes old snapshots and the
/// blobs of replaced values in the background; `blobs/` exists once sled made it) needs none.
fn sync_file(path: &Path) -> Result<(), StoreError> {
    match File::open(path).and_then(|f| f.sync_all()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StoreError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// What one process knows to be durable of sled's files besides its log.
///
/// Blob files: sled writes one once, in the call that reserves its log sequence number
/// (its name, in decimal), and never changes it after; a [`sled::Db::flush`] returns only
/// once every reservation made before it began is written. sled's own flush thread also
/// writes blobs (when it relocates pages), concurrently with a sync, so a blob listed by a
/// sync may still be being written. Hence:
/// - a blob first listed is synced and kept as *fresh* with its length and modification
///   time; at the next sync (whose flush began after it was listed, so it is complete by
///   then) it is synced again if either changed, and from then on it is *settled*;
/// - every blob named at or below the highest name listed by the previous sync was complete
///   when this sync began and is synced once this sync ends: that is the floor recorded for
///   the next process ([`BLOBS_SYNCED`]). sled's sequence numbers only grow, across restarts
///   too (a process continues after the log it recovered, which holds at least what was
///   flushed), so no later blob is named at or below a recorded floor.
struct Synced {
    /// `conf` and `snap.*` as last synced.
    top: Vec<FileStamp>,
    /// Blobs synced once complete, above the floor when they settled.
    settled: std::collections::HashSet<std::ffi::OsString>,
    /// Blobs synced at the last sync, perhaps while being written: length, modification time.
    fresh: std::collections::HashMap<std::ffi::OsString, (u64, Option<std::time::SystemTime>)>,
    /// Every blob named at or below it is durable.
    floor: u64,
    /// The highest blob name the last sync listed.
    listed: u64,
    /// The floor last read from or written to [`BLOBS_SYNCED`].
    recorded: u64,
    /// Tells whether `blobs/` may have changed since it was last listed.
    watch: BlobWatch,
}

/// On Linux, an inotify watch on `blobs/`, set up before a listing: a sync that finds no
/// event (a file created, moved in or out, or removed) since the last listing, and no blob
/// left to check again, knows the directory holds what it listed and need not list its
/// hundreds of files again. Without a watch (another system, or inotify refused) every sync
/// lists the directory.
struct BlobWatch {
    #[cfg(target_os = "linux")]
    inotify: Option<inotify::Inotify>,
}

impl BlobWatch {
    fn new() -> Self {
        Self {
            #[cfg(target_os = "linux")]
            inotify: None,
        }
    }

    /// Whether `blobs/` is known unchanged since the last listing. `false` sets up the
    /// watch if there is none, so it covers the listing about to be made.
    #[cfg(target_os = "linux")]
    fn unchanged(&mut self, blobs: &Path) -> bool {
        use inotify::{Inotify, WatchMask};
        let Some(watch) = &mut self.inotify else {
            let mask = WatchMask::CREATE
                | WatchMask::MOVED_TO
                | WatchMask::MOVED_FROM
                | WatchMask::DELETE
                | WatchMask::DELETE_SELF
                | WatchMask::MOVE_SELF;
            self.inotify = Inotify::init()
                .and_then(|i| i.watches().add(blobs, mask).map(|_| i))
                .ok();
            return false;
        };
        let mut buf = [0u8; 4096];
        let mut quiet = true;
        loop {
            match watch.read_events(&mut buf) {
                Ok(mut events) => {
                    if events.next().is_some() {
                        quiet = false;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return quiet,
                Err(_) => {
                    // Not knowable: drop the watch and list (a new watch comes with it).
                    self.inotify = None;
                    return false;
                }
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn unchanged(&mut self, _blobs: &Path) -> bool {
        false
    }
}

impl Synced {
    fn new(floor: u64) -> Self {
        Self {
            top: Vec::new(),
            settled: std::collections::HashSet::new(),
            fresh: std::collections::HashMap::new(),
            floor,
            listed: floor,
            recorded: floor,
            watch: BlobWatch::new(),
        }
    }

    /// Syncs `conf` and `snap.*` files new or changed since the last sync; whether the set
    /// of those files changed.
    fn sync_top(&mut self, dir: &Path) -> Result<bool, StoreError> {
        let mut now = Vec::new();
        for d in std::fs::read_dir(dir).map_err(io(dir))? {
            let d = d.map_err(io(dir))?;
            let name = d.file_name();
            if name != "conf" && !name.to_string_lossy().starts_with("snap.") {
                continue;
            }
            if let Some((len, modified)) = stamp(&d.path())? {
                now.push((name, len, modified));
            }
        }
        now.sort();
        for entry in &now {
            if !self.top.contains(entry) {
                sync_file(&dir.join(&entry.0))?;
            }
        }
        let names = |v: &[FileStamp]| v.iter().map(|e| e.0.clone()).collect::<Vec<_>>();
        let changed = names(&self.top) != names(&now);
        self.top = now;
        Ok(changed)
    }

    /// Syncs the blob files not known durable; whether the set of blob files changed.
    fn sync_blobs(&mut self, dir: &Path) -> Result<bool, StoreError> {
        let blobs = dir.join("blobs");
        if self.fresh.is_empty() && self.watch.unchanged(&blobs) {
            // What the last listing saw is all there is, and every blob of it is settled.
            self.floor = self.floor.max(self.listed);
            return Ok(false);
        }
        let listing = match std::fs::read_dir(&blobs) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io(&blobs)(e)),
        };
        let floor = self.floor.max(self.listed);
        // Every name listed (to see which settled blobs sled removed), the blobs synced for
        // the first time, and the fresh ones found complete.
        let mut present = std::collections::HashSet::with_capacity(self.settled.len() + 16);
        let mut fresh = std::collections::HashMap::new();
        let mut now_settled = Vec::new();
        let mut changed = false;
        let mut highest = self.listed;
        for d in listing {
            let name = d.map_err(io(&blobs))?.file_name();
            let lsn = name.to_str().and_then(|n| n.parse::<u64>().ok());
            if let Some(lsn) = lsn {
                highest = highest.max(lsn);
            }
            if !self.settled.contains(&name) && lsn.is_none_or(|l| l > self.floor) {
                let path = blobs.join(&name);
                let Some(now) = stamp(&path)? else {
                    continue;
                };
                match self.fresh.get(&name) {
                    // Listed by the last sync, so complete now: if it is unchanged since, that
                    // sync covered it; if it grew, it is synced again.
                    Some(before) => {
                        if *before != now {
                            sync_file(&path)?;
                        }
                        now_settled.push(name.clone());
                    }
                    None => {
                        sync_file(&path)?;
                        changed = true;
                        fresh.insert(name.clone(), now);
                    }
                }
            }
            present.insert(name);
        }
        // Blobs removed since (sled's clean-up) change the directory too.
        let before = self.settled.len();
        self.settled.retain(|n| present.contains(n));
        changed |= self.settled.len() != before;
        self.settled.extend(now_settled);
        self.fresh = fresh;
        self.floor = floor;
        self.listed = highest;
        Ok(changed)
    }

    /// The floor to record for the next process: `Some` when it rose since it was read or
    /// last recorded.
    fn floor_to_record(&mut self) -> Option<u64> {
        (self.floor > self.recorded).then(|| {
            self.recorded = self.floor;
            self.floor
        })
    }
}

/// A file's length and modification time; `None` if it is gone (sled removed it).
fn stamp(path: &Path) -> Result<Option<(u64, Option<std::time::SystemTime>)>, StoreError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(Some((m.len(), m.modified().ok()))),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StoreError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// sled's page cache. sled's default is 1 GiB, which an audit streaming a large ledger fills
/// with pages it never reads again; this bounds the resident memory of a reader.
pub const SLED_CACHE_BYTES: u64 = 64 * 1024 * 1024;

fn backend(e: sled::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SledStore {
    /// Opens (or creates) the database in `dir`.
    ///
    /// sled 0.34 can leave a snapshot it cannot read after a process is killed while it
    /// writes one (sled issues #1527, #1533), and then refuses to open with a corruption
    /// error although its log is intact. A snapshot is only a shortcut for replaying the log,
    /// so on such an error the snapshot files are moved to `quarantine/<seconds>/` and the
    /// open is tried once more, from the log alone; if that also fails they are put back and
    /// the first error is returned. Nothing is trusted on the strength of this: the ledger
    /// then compares the store with its `heads` record and checks its Merkle nodes, and an
    /// audit re-verifies everything.
    ///
    /// # Errors
    /// [`StoreError::InUse`] if another process holds it; [`StoreError::Backend`] if sled
    /// cannot read it.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let store = Self::open_sled(dir)?;
        store.recover_wal()?;
        Ok(store)
    }

    /// sled's part of [`SledStore::open`].
    fn open_sled(dir: &Path) -> Result<Self, StoreError> {
        let first = match Self::open_once(dir) {
            Err(StoreError::Corrupt(e)) => e,
            other => return other,
        };
        let first = format!(
            "sled cannot read its files in {} ({}); restore the ledger from a JSON Lines \
             export (`accord import`) or a mirror (docs/GUARANTEES.md)",
            dir.display(),
            first.trim_end_matches(" backtrace ()")
        );
        let moved = quarantine_snapshots(dir)?;
        if moved.is_empty() {
            return Err(StoreError::Backend(first));
        }
        match Self::open_once(dir) {
            Ok(mut store) => {
                store.quarantined = moved
                    .first()
                    .and_then(|(_, q)| q.parent().map(Path::to_path_buf));
                Ok(store)
            }
            Err(_) => {
                for (from, to) in &moved {
                    std::fs::rename(to, from).map_err(|source| StoreError::Io {
                        path: to.clone(),
                        source,
                    })?;
                }
                Err(StoreError::Backend(first))
            }
        }
    }

    fn open_once(dir: &Path) -> Result<Self, StoreError> {
        let config = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::HighThroughput)
            .cache_capacity(SLED_CACHE_BYTES);
        // sled 0.34 panics on some corruptions of its files while it recovers (in
        // `PageState::serialized_size`, "tried to serialize Uninitialized"); a corrupt file is
        // an error to report, never a crash.
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| config.open()))
            .map_err(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "sled failed while reading its files".into());
                StoreError::Corrupt(format!("sled could not recover its files: {what}"))
            })?;
        let db = opened.map_err(|e| match &e {
            sled::Error::Io(io)
                if io.kind() == std::io::ErrorKind::WouldBlock
                    || io.to_string().contains("could not acquire lock") =>
            {
                StoreError::InUse(dir.to_path_buf())
            }
            sled::Error::Corruption { .. } => StoreError::Corrupt(e.to_string()),
            _ => backend(e),
        })?;
        let tree = db.open_tree("accord").map_err(backend)?;
        let meta = db.open_tree(STORE_TREE).map_err(backend)?;
        Ok(Self {
            db,
            tree,
            meta,
            dir: dir.to_path_buf(),
            sync_files: std::env::var_os("ACCORD_UNSAFE_NO_FSYNC").is_none(),
            synced: Mutex::new(None),
            quarantined: None,
            wal: Mutex::new(None),
            overlay: std::sync::RwLock::new(None),
            checkpointing: Mutex::new(()),
            rotate_bytes: crate::wal::ROTATE_BYTES,
        })
    }

    /// Where unreadable snapshot files were moved when this store was opened, if they were.
    pub fn quarantined(&self) -> Option<&Path> {
        self.quarantined.as_deref()
    }

    /// Makes everything written so far durable: sled's flush, then `fdatasync` of its log,
    /// `fsync` of its other files that changed, and of the directory if its entries changed.
    ///
    /// Blob files (sled's values over its inline threshold, one file each in `blobs/`) are
    /// many at scale (one per full entry bundle) and written once: each is synced once, by
    /// the first sync that sees it. A new process learns from [`BLOBS_SYNCED`] which blobs
    /// an earlier one synced, so it does not sync them all again (docs/FORMAT.md section 11).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn sync(&self) -> Result<(), StoreError> {
        self.sync_durable().map(|_| ())
    }

    /// [`SledStore::sync`], saying whether sled's own files were synced: always outside
    /// write-ahead mode; in it, only when this sync checkpointed the log (once the current
    /// segment reached [`crate::wal::ROTATE_BYTES`]), otherwise it was one `fdatasync` of the
    /// log's segment.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn sync_durable(&self) -> Result<bool, StoreError> {
        // Held throughout, so no checkpoint starts a new segment between the moment this
        // learns which segment is current and the end of its sync: a record appended to an
        // older segment was synced by the checkpoint that closed it, before this began.
        let _held = self
            .checkpointing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let current = {
            let guard = self
                .wal
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match guard.as_ref() {
                Some(w) => {
                    w.usable()?;
                    Some(w.current())
                }
                None => None,
            }
        };
        let Some((file, path, len)) = current else {
            self.sync_sled()?;
            return Ok(true);
        };
        // The segment is synced through its own handle, outside the log's lock, so the
        // writer appends the next group meanwhile.
        if self.sync_files {
            file.sync_data().map_err(io(&path))?;
        }
        if len < self.rotate_bytes {
            return Ok(false);
        }
        self.checkpoint_wal()?;
        Ok(true)
    }

    /// Turns write-ahead mode on (`accord serve` does): from now on every batch is also
    /// appended to the write-ahead log, and a sync is one `fdatasync` of it; sled's own
    /// files are synced at each checkpoint of the log and by [`SledStore::end_write_ahead`]
    /// (crates/ledger/src/wal.rs, docs/GUARANTEES.md section 1).
    ///
    /// # Errors
    /// [`StoreError`] when the log cannot be started; the store is then as it was.
    pub fn write_ahead(&self) -> Result<(), StoreError> {
        let mut guard = self
            .wal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_some() {
            return Ok(());
        }
        let next = self.applied()?.saturating_add(1);
        *guard = Some(crate::wal::Wal::start(&self.dir, next, self.sync_files)?);
        *self.overlay_mut() = Some(crate::overlay::Overlay::default());
        Ok(())
    }

    /// Ends write-ahead mode: sled's files are synced and the log removed, so the directory
    /// holds no log until the mode is turned on again. Nothing to do outside the mode.
    ///
    /// # Errors
    /// [`StoreError`]; the log then stays, and the next open applies it.
    pub fn end_write_ahead(&self) -> Result<(), StoreError> {
        let _held = self
            .checkpointing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut guard = self
            .wal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(wal) = guard.as_mut() else {
            return Ok(());
        };
        wal.usable()?;
        let (file, path, _) = wal.current();
        let next = wal.next_seq();
        if self.sync_files {
            file.sync_data().map_err(io(&path))?;
        }
        // Under the log's lock: no batch is applied meanwhile.
        {
            let mut overlay = self.overlay_mut();
            if let Some(o) = overlay.as_mut() {
                self.flush_overlay(wal, o)?;
            }
        }
        self.sync_sled()?;
        crate::wal::remove_before(&self.dir, next.saturating_add(1), self.sync_files)?;
        *self.overlay_mut() = None;
        *guard = None;
        Ok(())
    }

    fn overlay_mut(&self) -> std::sync::RwLockWriteGuard<'_, Option<crate::overlay::Overlay>> {
        self.overlay
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn overlay_ref(&self) -> std::sync::RwLockReadGuard<'_, Option<crate::overlay::Overlay>> {
        self.overlay
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes the overlay to sled in one batch, with the log record it goes up to (the
    /// caller holds the log). A failure leaves the log unusable: its records stay, and the
    /// next open applies them.
    fn flush_overlay(
        &self,
        wal: &mut crate::wal::Wal,
        overlay: &mut crate::overlay::Overlay,
    ) -> Result<(), StoreError> {
        if overlay.is_empty() {
            return Ok(());
        }
        let taken = overlay.take();
        let last = taken.last;
        let write = || {
            let rows = taken.rows.into_iter().map(slot_op).collect();
            let plain = taken.plain.into_iter().map(slot_op).collect();
            let mut batch = sled_batch(self.with_pages(plain, rows)?);
            batch.insert(crate::wal::APPLIED_KEY, &last.to_be_bytes());
            unpanic(|| self.tree.apply_batch(batch).map_err(backend))
        };
        write().inspect_err(|e| {
            wal.fail(format!("writing logged batches to sled failed: {e}"));
        })
    }

    /// Whether the store is in write-ahead mode.
    pub fn is_write_ahead(&self) -> bool {
        self.wal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some()
    }

    /// The number of the last log record whose batch sled holds (0 if none).
    fn applied(&self) -> Result<u64, StoreError> {
        match unpanic(|| self.tree.get(crate::wal::APPLIED_KEY).map_err(backend))? {
            Some(v) => <[u8; 8]>::try_from(v.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| {
                    StoreError::Corrupt(format!(
                        "the write-ahead log's marker in {} is {} bytes, not 8",
                        self.dir.display(),
                        v.len()
                    ))
                }),
            None => Ok(0),
        }
    }

    /// A checkpoint of the write-ahead log (the caller holds `checkpointing`): a new segment,
    /// the one before synced, sled's files synced (its flush covers every batch applied before
    /// it began, so every record of the older segments), then the older segments removed.
    fn checkpoint_wal(&self) -> Result<(), StoreError> {
        let (old, old_path, first) = {
            let mut guard = self
                .wal
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let Some(wal) = guard.as_mut() else {
                return Ok(());
            };
            let (old, old_path) = wal.rotate()?;
            // Every record of the older segments goes to sled before they are removed.
            let mut overlay = self.overlay_mut();
            if let Some(o) = overlay.as_mut() {
                self.flush_overlay(wal, o)?;
            }
            (old, old_path, wal.current_first())
        };
        if self.sync_files {
            old.sync_data().map_err(io(&old_path))?;
        }
        self.sync_sled()?;
        crate::wal::remove_before(&self.dir, first, self.sync_files)
    }

    /// Applies what the write-ahead log holds beyond what sled recovered (see
    /// crates/ledger/src/wal.rs), syncs sled and removes the log. Done on every open, under
    /// sled's lock, before anything reads the store.
    fn recover_wal(&self) -> Result<(), StoreError> {
        let segments = crate::wal::segments(&self.dir)?;
        if segments.is_empty() {
            return Ok(());
        }
        let records = crate::wal::recover(&segments)?;
        let applied = self.applied()?;
        let mut expect = applied.saturating_add(1);
        for r in records {
            if r.seq < expect {
                continue;
            }
            if r.seq != expect {
                return Err(StoreError::Corrupt(format!(
                    "the store in {} holds the write-ahead log's records through {applied}, but the log \
                     resumes at record {}: batches were lost; restore the ledger from a mirror or a JSON \
                     Lines export (docs/GUARANTEES.md)",
                    self.dir.display(),
                    r.seq
                )));
            }
            let ops = if r.rows {
                let (rows, plain) = r
                    .ops
                    .into_iter()
                    .partition(|op| crate::index::is_paged(op.key()));
                self.with_pages(plain, rows)?
            } else {
                r.ops
            };
            let mut sled_batch = sled_batch(ops);
            sled_batch.insert(crate::wal::APPLIED_KEY, &r.seq.to_be_bytes());
            unpanic(|| self.tree.apply_batch(sled_batch).map_err(backend))?;
            expect += 1;
        }
        self.sync_sled()?;
        crate::wal::remove_before(&self.dir, u64::MAX, self.sync_files)
    }

    /// sled's flush and the syncs of its files (see [`SledStore::sync`]).
    fn sync_sled(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(backend)?;
        if !self.sync_files {
            return Ok(());
        }
        let log = self.dir.join("db");
        File::open(&log)
            .and_then(|f| f.sync_data())
            .map_err(io(&log))?;
        let mut guard = self
            .synced
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let first = guard.is_none();
        let synced = guard.get_or_insert_with(|| Synced::new(self.blobs_synced_hint()));
        self.sync_sled_files(synced, first)?;
        if first && synced.floor < synced.listed {
            // A process that syncs once (a command) would never record a floor above the
            // one it read: flush again, so that every blob just listed is complete, and
            // check them once more; the floor is then what this pass listed.
            self.db.flush().map_err(backend)?;
            self.sync_sled_files(synced, false)?;
        }
        if let Some(floor) = synced.floor_to_record() {
            // A hint for the next process, written after the syncs it vouches for. Lost in
            // a crash, an older (lower) one is read, which only means syncing again what is
            // already durable.
            self.meta
                .insert(BLOBS_SYNCED, &floor.to_be_bytes())
                .map_err(backend)?;
            if first {
                self.db.flush().map_err(backend)?;
            }
        }
        Ok(())
    }

    /// One pass over sled's files besides its log ([`Synced`]).
    fn sync_sled_files(&self, synced: &mut Synced, first: bool) -> Result<(), StoreError> {
        let dir_changed = synced.sync_top(&self.dir)?;
        let blobs_changed = synced.sync_blobs(&self.dir)?;
        if first || dir_changed {
            sync_dir_at(&self.dir)?;
        }
        if first || blobs_changed {
            sync_file(&self.dir.join("blobs"))?;
        }
        Ok(())
    }

    /// The floor an earlier process recorded under [`BLOBS_SYNCED`]; 0 (sync every blob) if
    /// there is none or it cannot be read.
    fn blobs_synced_hint(&self) -> u64 {
        match self.meta.get(BLOBS_SYNCED) {
            Ok(Some(v)) => <[u8; 8]>::try_from(v.as_ref()).map_or(0, u64::from_be_bytes),
            _ => 0,
        }
    }

    /// Bytes sled uses on disk.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

/// Runs a sled call, turning a panic into [`StoreError::Corrupt`]: sled 0.34 panics on some
/// corruptions of its files when it reads them back (`serialization.rs`, `tree.rs`), and a
/// corrupt file is an error to report, never a crash.
fn unpanic<T>(f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "sled failed while reading its files".into());
        Err(StoreError::Corrupt(format!(
            "sled could not read its files: {what}"
        )))
    })
}

/// Of two candidates for the greatest key, the greater (the overlay never holds a key that
/// the other came from, so they differ).
fn later(a: Option<Kv>, b: Option<Kv>) -> Option<Kv> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if a.0 > b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// A key's slot in the overlay as the write that puts it there.
fn slot_op((k, v): (Vec<u8>, crate::overlay::Slot)) -> Op {
    match v {
        Some(v) => Op::Replace(k, v),
        None => Op::Delete(k),
    }
}

/// `ops` as one sled batch (a write-once put and a replace are both an insert).
fn sled_batch(ops: Vec<Op>) -> sled::Batch {
    let mut b = sled::Batch::default();
    for op in ops {
        match op {
            Op::Put(k, v) | Op::Replace(k, v) => b.insert(k, v),
            Op::Delete(k) => b.remove(k),
        }
    }
    b
}

/// The smallest key greater than every key that starts with `prefix` (`None`: no bound).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// sled's tree alone: the store's reads outside write-ahead mode, and in it the pages of the
/// index tables (only the overlay's flushes write pages then, so the tree holds every page).
struct TreePages<'a>(&'a sled::Tree);

impl Pages for TreePages<'_> {
    fn floor(&self, prefix: &[u8], key: &[u8]) -> Result<Option<Kv>, StoreError> {
        unpanic(|| {
            let best = match self.0.range(..=key.to_vec()).next_back() {
                Some(r) => {
                    let (k, v) = r.map_err(backend)?;
                    Some((k.to_vec(), v.to_vec()))
                }
                None => None,
            };
            Ok(best.filter(|(k, _)| k.starts_with(prefix)))
        })
    }

    fn next_key(&self, prefix: &[u8], after: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        use std::ops::Bound::{Excluded, Unbounded};
        unpanic(|| {
            let next = match self
                .0
                .range::<&[u8], _>((Excluded(after), Unbounded))
                .keys()
                .next()
            {
                Some(r) => Some(r.map_err(backend)?.to_vec()),
                None => None,
            };
            Ok(next.filter(|k| k.starts_with(prefix)))
        })
    }

    fn row(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        // The page is read in place (sled lends it), and only the row's value is copied.
        unpanic(|| {
            let Some(r) = self.0.range(..=key).next_back() else {
                return Ok(None);
            };
            let (pk, bytes) = r.map_err(backend)?;
            if pk.first() != key.first() {
                return Ok(None);
            }
            crate::index::find(&pk, &bytes, &key[1..])
        })
    }
}

impl SledStore {
    /// Write-ahead mode's apply (the caller holds the log, `guard`): the batch is checked,
    /// logged whole and numbered, and kept in the overlay until it is written to sled with
    /// the others (wal.rs, overlay.rs). Its index-table writes are logical rows.
    fn log_batch(
        &self,
        mut guard: std::sync::MutexGuard<'_, Option<crate::wal::Wal>>,
        batch: WriteBatch,
    ) -> Result<(), StoreError> {
        let Some(wal) = guard.as_mut() else {
            return Err(StoreError::Backend(
                "write-ahead mode without its log".into(),
            ));
        };
        wal.usable()?;
        let mut overlay = self.overlay_mut();
        let Some(o) = overlay.as_mut() else {
            return Err(StoreError::Backend(
                "write-ahead mode without its overlay".into(),
            ));
        };
        batch.check(|k| {
            if crate::index::is_paged(k) {
                return match o.lookup_row(k) {
                    Some(v) => Ok(v.is_some()),
                    None => Ok(TreePages(&self.tree).row(k)?.is_some()),
                };
            }
            match o.lookup(k) {
                Some(v) => Ok(v.is_some()),
                None => unpanic(|| self.tree.contains_key(k).map_err(backend)),
            }
        })?;
        let seq = wal.next_seq();
        wal.append(&crate::wal::encode(seq, &batch.ops)?)?;
        o.insert(seq, batch.ops);
        if o.is_full() {
            self.flush_overlay(wal, o)?;
        }
        Ok(())
    }

    /// `plain` (writes to physical keys) with the page rewrites that apply `rows` (writes to
    /// index rows, in logical keys), built over the pages the tree holds.
    fn with_pages(&self, mut plain: Vec<Op>, rows: Vec<Op>) -> Result<Vec<Op>, StoreError> {
        if !rows.is_empty() {
            let mut pages = WriteBatch { ops: plain };
            crate::index::stage_pages(&TreePages(&self.tree), rows, &mut pages)?;
            plain = pages.ops;
        }
        Ok(plain)
    }

    /// The first pair of sled's `iter` (walked in its direction) whose key the overlay does
    /// not hold: the overlay's own answer is taken apart.
    fn first_beyond_overlay(
        overlay: &crate::overlay::Overlay,
        iter: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
    ) -> Result<Option<Kv>, StoreError> {
        for r in iter {
            let (k, v) = r.map_err(backend)?;
            if overlay.lookup(&k).is_none() {
                return Ok(Some((k.to_vec(), v.to_vec())));
            }
        }
        Ok(None)
    }

    /// sled's pairs from `from` on that start with `prefix`.
    fn scan_sled<'a>(
        &'a self,
        prefix: &[u8],
        from: Vec<u8>,
    ) -> Box<dyn Iterator<Item = Result<Kv, StoreError>> + 'a> {
        let prefix = prefix.to_vec();
        let mut iter = match unpanic(|| Ok(self.tree.range(from..))) {
            Ok(iter) => iter,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let mut done = false;
        Box::new(std::iter::from_fn(move || {
            if done {
                return None;
            }
            let next = unpanic(|| iter.next().transpose().map_err(backend));
            match next {
                Ok(Some((k, v))) if k.starts_with(&prefix) => Some(Ok((k.to_vec(), v.to_vec()))),
                Ok(_) => {
                    done = true;
                    None
                }
                Err(e) => {
                    done = true;
                    Some(Err(e))
                }
            }
        }))
    }
}

impl Store for SledStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(o) = self.overlay_ref().as_ref() {
            if let Some(slot) = o.lookup(key) {
                return Ok(slot.map(<[u8]>::to_vec));
            }
        }
        unpanic(|| Ok(self.tree.get(key).map_err(backend)?.map(|v| v.to_vec())))
    }

    fn scan<'a>(
        &'a self,
        prefix: &[u8],
        start: Option<&[u8]>,
    ) -> Box<dyn Iterator<Item = Result<Kv, StoreError>> + 'a> {
        let from = start.map_or_else(|| prefix.to_vec(), <[u8]>::to_vec);
        let held = self
            .overlay_ref()
            .as_ref()
            .map(|o| o.range_from(prefix, &from));
        let sled = self.scan_sled(prefix, from);
        match held {
            Some(held) => Box::new(crate::overlay::Merged::new(sled, held)),
            None => sled,
        }
    }

    fn last(&self, prefix: &[u8]) -> Result<Option<Kv>, StoreError> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let end = prefix_end(prefix);
        let upper = end.as_deref().map_or(Unbounded, Excluded);
        let guard = self.overlay_ref();
        unpanic(|| {
            let mut iter = match &end {
                Some(end) => self.tree.range(prefix.to_vec()..end.clone()),
                None => self.tree.range(prefix.to_vec()..),
            };
            let Some(o) = guard.as_ref() else {
                return match iter.next_back() {
                    Some(r) => {
                        let (k, v) = r.map_err(backend)?;
                        Ok(Some((k.to_vec(), v.to_vec())))
                    }
                    None => Ok(None),
                };
            };
            let held = o
                .last_live((Included(prefix), upper))
                .map(|(k, v)| (k.to_vec(), v.to_vec()));
            let stored = Self::first_beyond_overlay(o, iter.rev())?;
            Ok(later(held, stored))
        })
    }

    fn floor(&self, prefix: &[u8], key: &[u8]) -> Result<Option<Kv>, StoreError> {
        use std::ops::Bound::{Included, Unbounded};
        let guard = self.overlay_ref();
        let Some(o) = guard.as_ref() else {
            return TreePages(&self.tree).floor(prefix, key);
        };
        unpanic(|| {
            let iter = self.tree.range(..=key.to_vec());
            let held = o
                .last_live((Unbounded, Included(key)))
                .map(|(k, v)| (k.to_vec(), v.to_vec()));
            let best = later(held, Self::first_beyond_overlay(o, iter.rev())?);
            Ok(best.filter(|(k, _)| k.starts_with(prefix)))
        })
    }

    fn next_key(&self, prefix: &[u8], after: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        use std::ops::Bound::{Excluded, Unbounded};
        let guard = self.overlay_ref();
        let Some(o) = guard.as_ref() else {
            return TreePages(&self.tree).next_key(prefix, after);
        };
        unpanic(|| {
            let iter = self.tree.range::<&[u8], _>((Excluded(after), Unbounded));
            let held = o
                .first_live((Excluded(after), Unbounded))
                .map(<[u8]>::to_vec);
            let stored = Self::first_beyond_overlay(o, iter)?.map(|(k, _)| k);
            let next = match (held, stored) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            Ok(next.filter(|k| k.starts_with(prefix)))
        })
    }

    fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.apply(batch)?;
        self.sync()
    }

    fn apply(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let guard = self
            .wal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_some() {
            // In write-ahead mode the index tables are written as logical rows only
            // (`apply_rows`); a page written here would be taken for a row.
            if let Some(op) = batch.ops.iter().find(|op| crate::index::is_paged(op.key())) {
                return Err(StoreError::Backend(format!(
                    "{} is an index page, written in write-ahead mode: index rows go through \
                     apply_rows",
                    printable(op.key())
                )));
            }
            return self.log_batch(guard, batch);
        }
        drop(guard);
        batch.check(|k| unpanic(|| self.tree.contains_key(k).map_err(backend)))?;
        let sled_batch = sled_batch(batch.ops);
        unpanic(|| self.tree.apply_batch(sled_batch).map_err(backend))
    }

    fn apply_rows(
        &self,
        batch: WriteBatch,
        durable: bool,
    ) -> Result<Option<WriteBatch>, StoreError> {
        let guard = self
            .wal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_none() {
            return Ok(Some(batch));
        }
        self.log_batch(guard, batch)?;
        if durable {
            self.sync()?;
        }
        Ok(None)
    }

    fn index_row(&self, key: &[u8]) -> Result<Option<Option<Vec<u8>>>, StoreError> {
        let guard = self.overlay_ref();
        let Some(o) = guard.as_ref() else {
            return Ok(None);
        };
        match o.lookup_row(key) {
            Some(slot) => Ok(Some(slot.map(<[u8]>::to_vec))),
            None => TreePages(&self.tree).row(key).map(Some),
        }
    }

    fn held_rows(
        &self,
        prefix: &[u8],
        from: &[u8],
    ) -> Result<Vec<(Vec<u8>, crate::overlay::Slot)>, StoreError> {
        Ok(self
            .overlay_ref()
            .as_ref()
            .map(|o| o.rows_from(prefix, from))
            .unwrap_or_default())
    }
}

/// The suite every [`Store`] implementation runs: ordering, scans, atomic batches,
/// write-once puts, replace and delete. Exported with the `test-support` feature so a store
/// written elsewhere can prove it fits under a ledger (see `Ledger::create_in_memory`).
#[cfg(any(test, feature = "test-support"))]
#[allow(clippy::unwrap_used, clippy::missing_panics_doc)]
pub mod conformance {
    use super::*;

    /// Runs the suite on an empty store; panics at the first property that fails.
    pub fn run(store: &dyn Store) {
        assert_eq!(store.get(b"a").unwrap(), None);
        assert!(store.last(b"e").unwrap().is_none());
        let mut b = WriteBatch::default();
        for i in 0u64..5 {
            let mut k = b"e".to_vec();
            k.extend(i.to_be_bytes());
            b.put(k, vec![i as u8]);
        }
        b.put(b"f\xff".to_vec(), b"x".to_vec());
        store.commit(b).unwrap();
        let all: Vec<_> = store.scan(b"e", None).map(Result::unwrap).collect();
        assert_eq!(all.len(), 5);
        assert_eq!(all[4].1, vec![4]);
        let mut from = b"e".to_vec();
        from.extend(3u64.to_be_bytes());
        assert_eq!(store.scan(b"e", Some(&from)).count(), 2);
        assert_eq!(store.last(b"e").unwrap().unwrap().1, vec![4]);
        assert_eq!(store.last(b"f").unwrap().unwrap().1, b"x".to_vec());
        // Floor: the last key of the prefix at or below a key.
        let mut at = b"e".to_vec();
        at.extend(2u64.to_be_bytes());
        assert_eq!(store.floor(b"e", &at).unwrap().unwrap().1, vec![2]);
        at.push(0);
        assert_eq!(store.floor(b"e", &at).unwrap().unwrap().1, vec![2]);
        assert!(store.floor(b"e", b"e").unwrap().is_none());
        assert!(store.floor(b"f", b"e\xff").unwrap().is_none());
        assert_eq!(
            store.floor(b"f", b"f\xff\xff").unwrap().unwrap().1,
            b"x".to_vec()
        );
        // Next key: the first key of the prefix after a key, none past the prefix's last.
        let key_of = |i: u64| {
            let mut k = b"e".to_vec();
            k.extend(i.to_be_bytes());
            k
        };
        assert_eq!(store.next_key(b"e", &at).unwrap(), Some(key_of(3)));
        assert_eq!(store.next_key(b"e", &key_of(3)).unwrap(), Some(key_of(4)));
        assert_eq!(store.next_key(b"e", b"e").unwrap(), Some(key_of(0)));
        assert_eq!(store.next_key(b"e", &key_of(4)).unwrap(), None);
        assert_eq!(store.next_key(b"f", b"f").unwrap(), Some(b"f\xff".to_vec()));
        // Write-once: an overwrite is refused and the batch leaves nothing behind.
        let mut b = WriteBatch::default();
        b.put(b"z".to_vec(), b"new".to_vec());
        b.put(b"f\xff".to_vec(), b"y".to_vec());
        assert!(matches!(store.commit(b), Err(StoreError::Overwrite(_))));
        assert_eq!(store.get(b"z").unwrap(), None);
        assert_eq!(store.get(b"f\xff").unwrap(), Some(b"x".to_vec()));
        // A key twice in one batch is an overwrite too.
        let mut b = WriteBatch::default();
        b.put(b"q".to_vec(), b"1".to_vec());
        b.put(b"q".to_vec(), b"2".to_vec());
        assert!(store.commit(b).is_err());
        assert_eq!(store.get(b"q").unwrap(), None);
        // Replace and delete, atomically with puts; a refused batch replaces nothing.
        let mut b = WriteBatch::default();
        b.replace(b"r".to_vec(), b"1".to_vec());
        b.put(b"s".to_vec(), b"1".to_vec());
        store.commit(b).unwrap();
        let mut b = WriteBatch::default();
        b.replace(b"r".to_vec(), b"22".to_vec());
        b.delete(b"s".to_vec());
        b.delete(b"never".to_vec());
        store.commit(b).unwrap();
        assert_eq!(store.get(b"r").unwrap(), Some(b"22".to_vec()));
        assert_eq!(store.get(b"s").unwrap(), None);
        let mut b = WriteBatch::default();
        b.replace(b"r".to_vec(), b"333".to_vec());
        b.put(b"z".to_vec(), b"again".to_vec());
        b.put(b"f\xff".to_vec(), b"y".to_vec());
        assert!(store.commit(b).is_err());
        assert_eq!(store.get(b"r").unwrap(), Some(b"22".to_vec()));
        assert_eq!(store.get(b"z").unwrap(), None);
        let mut b = WriteBatch::default();
        b.replace(b"r".to_vec(), b"1".to_vec());
        b.delete(b"r".to_vec());
        assert!(store.commit(b).is_err(), "a key twice in one batch");
        // A deleted key can be put again.
        let mut b = WriteBatch::default();
        b.put(b"s".to_vec(), b"back".to_vec());
        store.commit(b).unwrap();
        assert_eq!(store.get(b"s").unwrap(), Some(b"back".to_vec()));
        assert_eq!(store.last(b"s").unwrap().unwrap().1, b"back".to_vec());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_conforms() {
        conformance::run(&MemoryStore::new());
    }

    #[test]
    fn sled_store_conforms() {
        let dir = tempfile::tempdir().unwrap();
        conformance::run(&SledStore::open(dir.path()).unwrap());
    }

    #[test]
    fn sled_store_conforms_in_write_ahead_mode() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store.write_ahead().unwrap();
        conformance::run(&store);
        store.end_write_ahead().unwrap();
        assert!(crate::wal::segments(dir.path()).unwrap().is_empty());
    }

    /// Every read a ledger makes, asked of both stores.
    fn same_reads(model: &MemoryStore, store: &SledStore, probes: &[Vec<u8>], at: &str) {
        same_logical_reads(model, store, probes, at);
        let m: Vec<Kv> = model.scan(b"", None).map(Result::unwrap).collect();
        let s: Vec<Kv> = store
            .scan(b"", None)
            .map(Result::unwrap)
            .filter(|(k, _)| k.as_slice() != crate::wal::APPLIED_KEY)
            .collect();
        assert_eq!(m, s, "everything {at}");
    }

    /// Write-ahead mode reads what it wrote, whether it is still in the overlay or already
    /// in sled (several flushes happen), and a reopen after a process that never ended the
    /// mode (no flush of the overlay, no sync of sled) applies the log and finds it all.
    #[test]
    fn write_ahead_mode_reads_as_written_and_a_reopen_applies_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let model = MemoryStore::new();
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        // Plain tables only: the index tables are written as rows in this mode (the next
        // test).
        let key = |n: u64| {
            vec![
                b"ABL"[(n % 3) as usize],
                b'0' + (n / 3 % 10) as u8,
                (n / 30 % 7) as u8,
            ]
        };
        let probes: Vec<Vec<u8>> = (0..210)
            .map(key)
            .chain([b"A".to_vec(), b"L\xff".to_vec()])
            .collect();
        {
            let store = SledStore::open(dir.path()).unwrap();
            store.write_ahead().unwrap();
            let groups = crate::overlay::FLUSH_GROUPS * 3 + 17;
            for g in 0..groups {
                let mut b = WriteBatch::default();
                let mut used = std::collections::HashSet::new();
                for _ in 0..(next() % 6 + 1) {
                    let k = key(next() % 210);
                    if !used.insert(k.clone()) {
                        continue;
                    }
                    let v = next().to_be_bytes().repeat((next() % 40) as usize);
                    match next() % 3 {
                        0 if model.get(&k).unwrap().is_none() => b.put(k, v),
                        1 => b.delete(k),
                        _ => b.replace(k, v),
                    }
                }
                let ops = b.ops.clone();
                store.apply(b).unwrap();
                model.commit(WriteBatch { ops }).unwrap();
                if g % 50 == 7 {
                    store.sync().unwrap();
                    same_reads(&model, &store, &probes, &format!("after group {g}"));
                }
            }
            store.sync().unwrap();
            same_reads(&model, &store, &probes, "before the reopen");
            assert!(!crate::wal::segments(dir.path()).unwrap().is_empty());
            // Dropped without ending write-ahead mode: what is in the overlay reached only
            // the log.
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert!(
            crate::wal::segments(dir.path()).unwrap().is_empty(),
            "applied and removed"
        );
        same_reads(&model, &store, &probes, "after the reopen");
    }

    /// Every read at and from each probe (get, last, floor, next key, scans under its first
    /// one and two bytes) agrees between two stores.
    fn same_logical_reads(model: &dyn Store, store: &dyn Store, probes: &[Vec<u8>], at: &str) {
        for p in probes {
            assert_eq!(
                model.get(p).unwrap(),
                store.get(p).unwrap(),
                "get {p:?} {at}"
            );
            let prefix = &p[..1];
            assert_eq!(
                model.last(prefix).unwrap(),
                store.last(prefix).unwrap(),
                "last {prefix:?} {at}"
            );
            assert_eq!(
                model.floor(prefix, p).unwrap(),
                store.floor(prefix, p).unwrap(),
                "floor {p:?} {at}"
            );
            assert_eq!(
                model.next_key(prefix, p).unwrap(),
                store.next_key(prefix, p).unwrap(),
                "next_key {p:?} {at}"
            );
            let m: Vec<Kv> = model.scan(prefix, Some(p)).map(Result::unwrap).collect();
            let s: Vec<Kv> = store.scan(prefix, Some(p)).map(Result::unwrap).collect();
            assert_eq!(m, s, "scan {prefix:?} from {p:?} {at}");
            let two = &p[..p.len().min(2)];
            let m: Vec<Kv> = model.scan(two, None).map(Result::unwrap).collect();
            let s: Vec<Kv> = store.scan(two, None).map(Result::unwrap).collect();
            assert_eq!(m, s, "scan {two:?} {at}");
        }
    }

    /// In write-ahead mode the index tables' writes are logged and held as rows, and paged
    /// when the overlay goes to sled: reads through `Paged` agree with a store that pages at
    /// once, before and after flushes, write-once holds for a row held or paged, and a reopen
    /// without the end of the mode pages what the log holds. The pages stay within bounds.
    #[test]
    fn index_rows_are_held_then_paged_in_write_ahead_mode() {
        let dir = tempfile::tempdir().unwrap();
        let model = crate::index::Paged::new(Box::new(MemoryStore::new()));
        let mut rng = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        // Two index tables (one with long runs under few prefixes, as `P Q K O`) and a
        // plain one.
        let key = |n: u64| match n % 3 {
            0 => format!("S{:05}", n / 3 % 400).into_bytes(),
            1 => format!("Q{}\0c-{:05}", n / 3 % 4, n / 12 % 300).into_bytes(),
            _ => format!("T{:03}", n / 3 % 50).into_bytes(),
        };
        let probes: Vec<Vec<u8>> = (0..1200).step_by(7).map(key).collect();
        {
            let sled = std::sync::Arc::new(SledStore::open(dir.path()).unwrap());
            let store = crate::index::Paged::new(Box::new(crate::ledger::ArcStore(sled.clone())));
            sled.write_ahead().unwrap();
            let groups = crate::overlay::FLUSH_GROUPS * 3 + 17;
            for g in 0..groups {
                let mut b = WriteBatch::default();
                let mut used = std::collections::HashSet::new();
                for _ in 0..(next() % 12 + 1) {
                    let k = key(next() % 1200);
                    if !used.insert(k.clone()) {
                        continue;
                    }
                    let v = next().to_be_bytes().repeat((next() % 6) as usize);
                    match next() % 4 {
                        0 if k[0] == b'S' => b.replace(k, v),
                        1 if k[0] == b'T' => b.delete(k),
                        _ if model.get(&k).unwrap().is_none() => b.put(k, v),
                        _ => {}
                    }
                }
                let ops = b.ops.clone();
                store.apply(b).unwrap();
                model.commit(WriteBatch { ops }).unwrap();
                if g % 40 == 5 {
                    sled.sync().unwrap();
                    same_logical_reads(&model, &store, &probes, &format!("after group {g}"));
                    // A put over a row, held or paged, is refused and changes nothing.
                    let taken = probes
                        .iter()
                        .find(|p| p[0] != b'T' && model.get(p).unwrap().is_some())
                        .unwrap();
                    let mut b = WriteBatch::default();
                    b.put(taken.clone(), b"again".to_vec());
                    assert!(matches!(store.apply(b), Err(StoreError::Overwrite(_))));
                }
            }
            sled.sync().unwrap();
            same_logical_reads(&model, &store, &probes, "before the reopen");
            // A page written directly in this mode would be taken for a row: refused.
            let mut b = WriteBatch::default();
            b.replace(b"Snew".to_vec(), b"page?".to_vec());
            assert!(matches!(sled.apply(b), Err(StoreError::Backend(_))));
        }
        let sled = std::sync::Arc::new(SledStore::open(dir.path()).unwrap());
        assert!(crate::wal::segments(dir.path()).unwrap().is_empty());
        let store = crate::index::Paged::new(Box::new(crate::ledger::ArcStore(sled.clone())));
        same_logical_reads(&model, &store, &probes, "after the reopen");
        for t in [b'S', b'Q'] {
            for page in crate::index::physical_scan(&store, t) {
                let (pk, bytes) = page.unwrap();
                let rows = crate::index::decode(&pk, &bytes).unwrap();
                assert!(!rows.is_empty() && rows.len() <= crate::index::PAGE_MAX);
            }
        }
    }

    /// A log of the first version (`AWL1`), whose records hold index pages, not rows, is
    /// still applied on open as it was written; one of this version (`AWL2`) pages its rows.
    #[test]
    fn a_log_of_either_version_is_applied_on_open() {
        for (rows, record) in [
            (
                false,
                crate::wal::encode_pages(1, &[Op::Replace(b"Sx".to_vec(), b"raw".to_vec())]),
            ),
            (
                true,
                crate::wal::encode(1, &[Op::Replace(b"Sx".to_vec(), b"row".to_vec())]).unwrap(),
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            drop(SledStore::open(dir.path()).unwrap());
            let wal = dir.path().join(crate::wal::DIR_NAME);
            std::fs::create_dir_all(&wal).unwrap();
            std::fs::write(wal.join(format!("{:020}", 1)), record).unwrap();
            let sled = SledStore::open(dir.path()).unwrap();
            let raw = sled.tree.get(b"Sx").unwrap().map(|v| v.to_vec());
            let paged = crate::index::Paged::new(Box::new(sled));
            if rows {
                assert_eq!(raw, None, "the row went into a page");
                assert_eq!(paged.get(b"Sx").unwrap(), Some(b"row".to_vec()));
            } else {
                assert_eq!(raw, Some(b"raw".to_vec()), "applied as written");
            }
        }
    }

    /// Checkpoints of the log (a new segment, the overlay written to sled, sled synced, the
    /// older segments removed) keep what was written, and a reopen after the last one applies
    /// only what came after it.
    #[test]
    fn write_ahead_checkpoints_remove_old_segments_and_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let model = MemoryStore::new();
        let probes: Vec<Vec<u8>> = (0..40u8).map(|i| vec![b'T', i]).collect();
        {
            let mut store = SledStore::open(dir.path()).unwrap();
            store.rotate_bytes = 4096;
            store.write_ahead().unwrap();
            let mut most = 0;
            for g in 0..500u32 {
                let mut b = WriteBatch::default();
                b.replace(vec![b'T', (g % 40) as u8], g.to_be_bytes().repeat(40));
                if g % 7 == 0 {
                    b.delete(vec![b'T', ((g + 3) % 40) as u8]);
                }
                let ops = b.ops.clone();
                store.apply(b).unwrap();
                model.commit(WriteBatch { ops }).unwrap();
                store.sync().unwrap();
                most = most.max(crate::wal::segments(dir.path()).unwrap().len());
            }
            assert!(most <= 2, "old segments are removed ({most} at once)");
            assert!(store.applied().unwrap() > 400, "checkpoints wrote to sled");
            same_reads(&model, &store, &probes, "after the checkpoints");
        }
        let store = SledStore::open(dir.path()).unwrap();
        same_reads(&model, &store, &probes, "after the reopen");
    }

    /// A log that resumes past what sled holds (records lost between them) is refused on
    /// open, naming the gap, and the store is left as it was.
    #[test]
    fn a_write_ahead_log_with_a_gap_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            store.write_ahead().unwrap();
            let mut b = WriteBatch::default();
            b.put(b"k".to_vec(), b"v".to_vec());
            store.apply(b).unwrap();
            store.end_write_ahead().unwrap();
        }
        let seg = dir
            .path()
            .join(crate::wal::DIR_NAME)
            .join(format!("{:020}", 5));
        let record = crate::wal::encode(5, &[Op::Put(b"x".to_vec(), b"y".to_vec())]).unwrap();
        std::fs::write(&seg, record).unwrap();
        let e = SledStore::open(dir.path()).err().unwrap();
        assert!(matches!(e, StoreError::Corrupt(_)), "{e}");
        assert!(e.to_string().contains("resumes at record 5"), "{e}");
        assert!(seg.exists(), "nothing removed");
    }

    /// A put over a key that only the overlay holds is refused like one over sled's.
    #[test]
    fn write_ahead_mode_keeps_puts_write_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store.write_ahead().unwrap();
        let mut b = WriteBatch::default();
        b.put(b"k".to_vec(), b"1".to_vec());
        store.apply(b).unwrap();
        let mut b = WriteBatch::default();
        b.put(b"k".to_vec(), b"2".to_vec());
        assert!(matches!(store.apply(b), Err(StoreError::Overwrite(_))));
        let mut b = WriteBatch::default();
        b.delete(b"k".to_vec());
        store.apply(b).unwrap();
        let mut b = WriteBatch::default();
        b.put(b"k".to_vec(), b"3".to_vec());
        store.apply(b).unwrap();
        assert_eq!(store.get(b"k").unwrap(), Some(b"3".to_vec()));
    }

    fn blob_names(dir: &Path) -> Vec<u64> {
        let mut v: Vec<u64> = std::fs::read_dir(dir.join("blobs"))
            .unwrap()
            .filter_map(|d| d.unwrap().file_name().to_str()?.parse().ok())
            .collect();
        v.sort_unstable();
        v
    }

    /// Values over sled's inline threshold are blob files: the first sync of a process syncs
    /// the ones above the floor it read and records a floor covering all it listed, which
    /// the next process reads; a blob written later is above it (synced, kept as fresh).
    #[test]
    fn blob_floor_is_recorded_for_the_next_process() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            assert_eq!(store.blobs_synced_hint(), 0);
            let mut b = WriteBatch::default();
            b.put(b"big1".to_vec(), vec![1; 300_000]);
            store.commit(b).unwrap();
            let names = blob_names(dir.path());
            let highest = *names.last().expect("a 300 KB value is a blob file");
            assert_eq!(store.blobs_synced_hint(), highest);
        }
        let store = SledStore::open(dir.path()).unwrap();
        let floor = store.blobs_synced_hint();
        assert!(floor >= *blob_names(dir.path()).first().unwrap());
        let mut b = WriteBatch::default();
        b.put(b"big2".to_vec(), vec![2; 300_000]);
        store.commit(b).unwrap();
        let newest = *blob_names(dir.path()).last().unwrap();
        assert!(newest > floor, "a new blob is named above the floor read");
        assert!(store.blobs_synced_hint() >= newest);
        let guard = store.synced.lock().unwrap();
        let synced = guard.as_ref().unwrap();
        assert!(synced.floor >= newest);
        assert_eq!(store.get(b"big1").unwrap().unwrap().len(), 300_000);
    }

    /// The watch says "unchanged" only while nothing was created in, moved into or out of,
    /// or removed from the directory since the previous call, and never on the first call.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_blob_watch_sees_every_change_to_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = dir.path().join("blobs");
        std::fs::create_dir(&blobs).unwrap();
        let mut watch = BlobWatch::new();
        assert!(!watch.unchanged(&blobs), "the first call must list");
        assert!(watch.unchanged(&blobs));
        std::fs::write(blobs.join("7"), b"x").unwrap();
        assert!(!watch.unchanged(&blobs), "a new file");
        assert!(watch.unchanged(&blobs));
        std::fs::write(dir.path().join("8"), b"y").unwrap();
        std::fs::rename(dir.path().join("8"), blobs.join("8")).unwrap();
        assert!(!watch.unchanged(&blobs), "a file moved in");
        std::fs::remove_file(blobs.join("7")).unwrap();
        assert!(!watch.unchanged(&blobs), "a file removed");
        assert!(watch.unchanged(&blobs));
        std::fs::remove_dir_all(&blobs).unwrap();
        assert!(!watch.unchanged(&blobs), "the directory removed");
    }

    /// A store whose blob directory is watched still settles every new blob: the blob's
    /// creation makes the next sync list the directory again.
    #[test]
    fn a_blob_written_after_a_quiet_sync_is_settled() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let small = |i: u8| {
            let mut b = WriteBatch::default();
            b.put(vec![b's', i], vec![i; 100]);
            store.commit(b).unwrap();
        };
        (0u8..3).for_each(small);
        let mut b = WriteBatch::default();
        b.put(b"big".to_vec(), vec![3; 300_000]);
        store.commit(b).unwrap();
        let newest = *blob_names(dir.path())
            .last()
            .expect("a 300 KB value is a blob file");
        {
            let guard = store.synced.lock().unwrap();
            let synced = guard.as_ref().unwrap();
            let name = std::ffi::OsString::from(newest.to_string());
            assert!(
                synced.fresh.contains_key(&name),
                "the commit synced the new blob"
            );
        }
        // The next syncs settle it: the floor rises over it and is recorded.
        (3u8..5).for_each(small);
        assert!(store.blobs_synced_hint() >= newest);
    }

    /// sled issues #1527/#1533: a snapshot left unreadable by a kill makes sled refuse to
    /// open. The store sets snapshots aside, replays the log and keeps every committed key.
    #[test]
    fn an_unreadable_snapshot_is_quarantined_and_the_log_replayed() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            for i in 0u32..200 {
                let mut b = WriteBatch::default();
                b.put(format!("k{i:05}").into_bytes(), vec![7; 300]);
                store.commit(b).unwrap();
            }
        }
        // The newest snapshot name sled would pick, with bytes that are not a snapshot.
        std::fs::write(dir.path().join("snap.7FFFFFFFFFFFFFFF"), b"not a snapshot").unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let q = store.quarantined().expect("the snapshot was set aside");
        assert!(q.join("snap.7FFFFFFFFFFFFFFF").exists());
        for i in 0u32..200 {
            assert_eq!(
                store.get(format!("k{i:05}").as_bytes()).unwrap(),
                Some(vec![7; 300]),
                "key {i} lost"
            );
        }
    }

    #[test]
    fn a_second_opener_is_told_the_ledger_is_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let _first = SledStore::open(dir.path()).unwrap();
        match SledStore::open(dir.path()) {
            Err(StoreError::InUse(p)) => assert_eq!(p, dir.path()),
            Err(e) => panic!("wrong error {e}"),
            Ok(_) => panic!("second open succeeded"),
        }
    }
}
