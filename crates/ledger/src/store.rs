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

    /// Applies `batch` atomically and durably: when this returns `Ok`, every write survives a
    /// crash or power loss; on `Err`, none is visible. Refuses a `put` over an existing key
    /// and a key twice in one batch.
    ///
    /// # Errors
    /// [`StoreError::Overwrite`] or a backend failure.
    fn commit(&self, batch: WriteBatch) -> Result<(), StoreError>;
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
/// the last sync (its config, snapshots), and `fsync` on the directory when the set of files
/// in it changed. A commit therefore costs one device flush for the log in the common case.
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    dir: PathBuf,
    sync_files: bool,
    /// What the directory held at the last sync: name, length, modification time.
    synced: Mutex<Option<Vec<FileStamp>>>,
    /// Where snapshot files were quarantined on open (see [`SledStore::open`]).
    quarantined: Option<PathBuf>,
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
        let first = match Self::open_once(dir) {
            Err(StoreError::Corrupt(e)) => e,
            other => return other,
        };
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
        Ok(Self {
            db,
            tree,
            dir: dir.to_path_buf(),
            sync_files: std::env::var_os("ACCORD_UNSAFE_NO_FSYNC").is_none(),
            synced: Mutex::new(None),
            quarantined: None,
        })
    }

    /// Where unreadable snapshot files were moved when this store was opened, if they were.
    pub fn quarantined(&self) -> Option<&Path> {
        self.quarantined.as_deref()
    }

    /// Makes everything written so far durable: sled's flush, then `fdatasync` of its log,
    /// `fsync` of its other files that changed, and of the directory if its entries changed.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn sync(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(backend)?;
        if !self.sync_files {
            return Ok(());
        }
        let log = self.dir.join("db");
        File::open(&log)
            .and_then(|f| f.sync_data())
            .map_err(io(&log))?;
        // sled's other files: its config, snapshots (written and synced by sled, then renamed
        // into place), and large values in blobs/ (never synced by sled).
        let blobs = self.dir.join("blobs");
        let mut now = Vec::new();
        for dir in [&self.dir, &blobs] {
            let listing = match std::fs::read_dir(dir) {
                Ok(l) => l,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && *dir == blobs => continue,
                Err(e) => return Err(io(dir)(e)),
            };
            for d in listing {
                let d = d.map_err(io(dir))?;
                let name = d.file_name();
                let owned =
                    *dir == blobs || name == "conf" || name.to_string_lossy().starts_with("snap.");
                if !owned {
                    continue;
                }
                // sled removes blob files of replaced or deleted values in the background: a
                // file listed a moment ago may be gone, and then there is nothing to sync.
                let meta = match d.metadata() {
                    Ok(m) => m,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(io(&d.path())(e)),
                };
                if meta.is_file() {
                    let rel = Path::new(dir.file_name().unwrap_or_default()).join(&name);
                    let key = if *dir == blobs {
                        rel.into_os_string()
                    } else {
                        name
                    };
                    now.push((key, meta.len(), meta.modified().ok()));
                }
            }
        }
        now.sort();
        let mut synced = self
            .synced
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = synced.as_deref().unwrap_or(&[]);
        for entry in &now {
            if !before.contains(entry) {
                let path = self.dir.join(&entry.0);
                match File::open(&path).and_then(|f| f.sync_all()) {
                    Ok(()) => {}
                    // sled removes old snapshots as it writes new ones.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => return Err(StoreError::Io { path, source }),
                }
            }
        }
        let names = |v: &[FileStamp]| v.iter().map(|e| e.0.clone()).collect::<Vec<_>>();
        if synced.is_none() || names(before) != names(&now) {
            for dir in [&self.dir, &blobs] {
                match File::open(dir).and_then(|f| f.sync_all()) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound && *dir == blobs => {}
                    Err(e) => return Err(io(dir)(e)),
                }
            }
        }
        *synced = Some(now);
        Ok(())
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

impl Store for SledStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        unpanic(|| Ok(self.tree.get(key).map_err(backend)?.map(|v| v.to_vec())))
    }

    fn scan<'a>(
        &'a self,
        prefix: &[u8],
        start: Option<&[u8]>,
    ) -> Box<dyn Iterator<Item = Result<Kv, StoreError>> + 'a> {
        let prefix = prefix.to_vec();
        let from = start.map_or_else(|| prefix.clone(), <[u8]>::to_vec);
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

    fn last(&self, prefix: &[u8]) -> Result<Option<Kv>, StoreError> {
        let mut end = prefix.to_vec();
        // The smallest key greater than every key with this prefix.
        while let Some(last) = end.pop() {
            if last < 0xff {
                end.push(last + 1);
                break;
            }
        }
        unpanic(|| {
            let mut iter = if end.is_empty() {
                self.tree.range(prefix.to_vec()..)
            } else {
                self.tree.range(prefix.to_vec()..end)
            };
            match iter.next_back() {
                Some(r) => {
                    let (k, v) = r.map_err(backend)?;
                    Ok(Some((k.to_vec(), v.to_vec())))
                }
                None => Ok(None),
            }
        })
    }

    fn floor(&self, prefix: &[u8], key: &[u8]) -> Result<Option<Kv>, StoreError> {
        unpanic(|| match self.tree.range(..=key.to_vec()).next_back() {
            Some(r) => {
                let (k, v) = r.map_err(backend)?;
                Ok(k.starts_with(prefix).then(|| (k.to_vec(), v.to_vec())))
            }
            None => Ok(None),
        })
    }

    fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        batch.check(|k| unpanic(|| self.tree.contains_key(k).map_err(backend)))?;
        let mut sled_batch = sled::Batch::default();
        for op in batch.ops {
            match op {
                Op::Put(k, v) | Op::Replace(k, v) => sled_batch.insert(k, v),
                Op::Delete(k) => sled_batch.remove(k),
            }
        }
        unpanic(|| self.tree.apply_batch(sled_batch).map_err(backend))?;
        self.sync()
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
