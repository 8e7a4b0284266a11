//! The ledger: a directory holding a sled database laid out as C2SP tiles and entry bundles
//! (see [`crate::keys`] and docs/FORMAT.md section 11), opened in O(1): the tree's right
//! edge, the partial entry bundle, a small metadata record and the governance snapshot are
//! all it reads. Nothing is replayed on open; `accord verify` replays everything.
//!
//! The code is split by what it does: this file creates and opens a ledger and holds its
//! state; [`append`](self) appends (one entry, a group, a bulk import); `read` reads entries
//! and proofs; `checkpoints` issues checkpoints and stores cosignatures.

mod append;
mod checkpoints;
mod read;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use accord_core::entry::LoggedEntry;
use accord_core::envelope::Envelope;
use accord_core::governance::{CommitmentState, Rejection, State};
use accord_core::keys::VerifierKey;
use accord_core::log::{self, Hash};
use accord_core::model::{Body, EntryId, Payload, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::bundles::EntryStore;
use crate::error::LedgerError;
use crate::export::Restore;
use crate::heads::{Head, HeadLog};
use crate::keys;
use crate::store::{SledStore, Store, StoreError, WriteBatch};
use crate::tree::TileTree;

pub use append::IMPORT_GROUP;

/// An entry read back from the store, checked against its stored leaf hash.
#[derive(Clone, Debug)]
pub struct StoredEntry {
    /// Its index.
    pub index: u64,
    /// The leaf bytes as stored and hashed.
    pub leaf: Vec<u8>,
    /// RFC 6962 leaf hash of `leaf`.
    pub leaf_hash: Hash,
    /// The decoded leaf.
    pub entry: LoggedEntry,
    /// The decoded payload.
    pub payload: Payload,
}

/// What an append returns once the entry is durable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The entry's index.
    pub index: u64,
    /// Its id.
    pub id: EntryId,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// The ledger's timestamp.
    pub logged_at: Timestamp,
}

/// The outcome of a bulk import.
#[derive(Debug)]
pub struct ImportReport {
    /// Entries appended.
    pub accepted: u64,
    /// Restored entries already in the ledger, checked to be the same leaves and skipped.
    pub skipped: u64,
    /// The index of the first appended entry, if any.
    pub first_index: Option<u64>,
    /// Where the import stopped: the position in the input (from 0) and why.
    pub rejected: Option<(u64, Rejection)>,
}

/// One entry to import: an envelope, and for a restore from a JSON Lines export, the index
/// and ledger time it had, so that the rebuilt ledger has the same leaves and root.
#[derive(Clone, Debug)]
pub struct ImportItem {
    /// The signed envelope.
    pub envelope: Envelope,
    /// Where it was in the exported ledger (a restore), or `None` for a new entry.
    pub restore: Option<Restore>,
}

impl From<Envelope> for ImportItem {
    fn from(envelope: Envelope) -> Self {
        Self {
            envelope,
            restore: None,
        }
    }
}

/// What [`Ledger::import`] takes: converted to an [`ImportItem`] on all cores, so that a
/// costly conversion (parsing a served leaf) does not hold up the sequential pass.
pub trait IntoImportItem: Send {
    /// The item, or why it cannot be one (the import stops there, as at a refusal).
    ///
    /// # Errors
    /// A [`Rejection`] naming what is wrong with the input.
    fn into_import_item(self) -> Result<ImportItem, Rejection>;
}

impl IntoImportItem for ImportItem {
    fn into_import_item(self) -> Result<ImportItem, Rejection> {
        Ok(self)
    }
}

impl IntoImportItem for Envelope {
    fn into_import_item(self) -> Result<ImportItem, Rejection> {
        Ok(self.into())
    }
}

/// A leaf as another ledger logged it (a mirror's served entry bundle): restored with its
/// index, `logged_at` and governance pointer, and its leaf hash, which the import checks
/// against the leaf it rebuilds.
#[derive(Clone, Debug)]
pub struct LoggedLeaf(pub Vec<u8>);

impl IntoImportItem for LoggedLeaf {
    fn into_import_item(self) -> Result<ImportItem, Rejection> {
        let e = LoggedEntry::from_leaf(&self.0).map_err(|e| Rejection::BadLine(e.to_string()))?;
        let mut restore = Restore::new(e.index, e.logged_at, log::leaf_hash(&self.0));
        restore.logged = Some((e.governance, self.0));
        Ok(ImportItem {
            restore: Some(restore),
            envelope: e.envelope,
        })
    }
}

/// A Merkle inclusion proof (RFC 9162 2.1.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProof {
    /// Leaf index.
    pub index: u64,
    /// Tree size.
    pub tree_size: u64,
    /// The leaf hash.
    pub leaf_hash: Hash,
    /// The root of the tree of that size.
    pub root: Hash,
    /// The audit path.
    pub proof: Vec<Hash>,
}

/// A Merkle consistency proof (RFC 9162 2.1.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// Old size.
    pub from: u64,
    /// New size.
    pub to: u64,
    /// Old root.
    pub old_root: Hash,
    /// New root.
    pub new_root: Hash,
    /// The proof.
    pub proof: Vec<Hash>,
}

/// A checkpoint as stored, with the cosignatures gathered so far.
#[derive(Clone, Debug)]
pub struct StoredCheckpoint {
    /// Sequence number, from 0.
    pub seq: u64,
    /// The signed note with the log's signature and every cosignature line.
    pub note: accord_core::checkpoint::SignedCheckpoint,
    /// Members who cosigned.
    pub cosigners: Vec<String>,
}

/// How long [`Ledger::open_with`] waits for another process to let go.
#[derive(Clone, Copy, Debug, Default)]
pub enum Wait {
    /// Fail at once with "in use".
    #[default]
    No,
    /// Retry until this much time has passed.
    Upto(Duration),
}

/// The most entries a ledger may hold (2^40); larger numbers read from disk are corruption.
pub const MAX_ENTRIES: u64 = 1 << 40;

/// The small record that moves with every commit (`Mmeta`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    size: u64,
    logged_at: Timestamp,
    governance: u64,
    checkpoints: u64,
    cosignatures: u64,
}

impl Meta {
    #[allow(clippy::expect_used)]
    fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("integers and a time serialise")
    }
}

/// A ledger.
pub struct Ledger {
    store: Box<dyn Store>,
    dir: Option<PathBuf>,
    disk: Option<std::sync::Arc<SledStore>>,
    tree: TileTree,
    leaves: EntryStore,
    origin: String,
    log_key: VerifierKey,
    charter_hash: [u8; 32],
    last_logged_at: Timestamp,
    last_governance: u64,
    state: State,
    heads: Option<std::sync::Arc<std::sync::Mutex<HeadLog>>>,
    checkpoint_count: u64,
    cosignature_count: u64,
}

pub(crate) fn corrupt(at: impl Into<String>, why: impl Into<String>) -> LedgerError {
    LedgerError::Corrupt {
        at: at.into(),
        why: why.into(),
    }
}

/// SHA-256 of the charter's payload bytes: the trust anchor an auditor holds.
pub fn charter_hash(charter: &Envelope) -> [u8; 32] {
    Sha256::digest(&charter.payload).into()
}

fn now() -> Timestamp {
    Timestamp::now()
}

/// The file that marks a creation in progress.
pub const CREATING: &str = "creating";

fn marker(dir: &Path) -> PathBuf {
    dir.join(CREATING)
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> LedgerError + '_ {
    move |source| LedgerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn sync_dir(dir: &Path) -> Result<(), LedgerError> {
    if std::env::var_os("ACCORD_UNSAFE_NO_FSYNC").is_some() {
        return Ok(());
    }
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io_at(dir))
}

/// The creation marker, created if need be and locked for as long as the returned file is
/// held, with its text written and durable. A creation holds it from before sled's first
/// file to after its first head, so a kill anywhere in between (sled writes its `conf` in
/// two steps, so it can leave one it cannot read) leaves a marker nobody holds.
///
/// # Errors
/// [`LedgerError::InUse`] if another process holds it.
fn write_marker(dir: &Path) -> Result<std::fs::File, LedgerError> {
    use std::io::Write;
    let m = marker(dir);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&m)
        .map_err(io_at(&m))?;
    lock(&f, dir, &m)?;
    let mut w = &f;
    f.set_len(0)
        .and_then(|()| w.write_all(b"an accord ledger is being created here; if this file stays, the creation did not complete and `accord init` or `accord import` creates the ledger afresh\n"))
        .and_then(|()| f.sync_all())
        .map_err(io_at(&m))?;
    sync_dir(dir)?;
    Ok(f)
}

/// Takes `f`'s exclusive lock without waiting: [`LedgerError::InUse`] if another process
/// holds it.
fn lock(f: &std::fs::File, dir: &Path, path: &Path) -> Result<(), LedgerError> {
    use fs2::FileExt;
    match f.try_lock_exclusive() {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == fs2::lock_contended_error().kind() => {
            Err(LedgerError::InUse(dir.to_path_buf()))
        }
        Err(e) => Err(io_at(path)(e)),
    }
}

/// The creation marker of a creation that never completed, locked while the file returned is
/// held; `None` if there is no marker (or it went while this waited for its lock: that
/// creation completed).
///
/// # Errors
/// [`LedgerError::InUse`] while a creation is still running in another process.
fn leftover_marker(dir: &Path) -> Result<Option<std::fs::File>, LedgerError> {
    let m = marker(dir);
    let f = match std::fs::File::open(&m) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at(&m)(e)),
    };
    lock(&f, dir, &m)?;
    if !m.exists() {
        return Ok(None);
    }
    Ok(Some(f))
}

/// Whether sled's files in `dir`, with no creation marker beside them, are what a creation by
/// a version that wrote the marker only after opening sled leaves when killed before the
/// marker: nothing stored (not even the format key) and no acknowledged head. A complete
/// ledger, or a store holding anything, is not. Decided under sled's lock, so a creation
/// still running in another process is `InUse`, never a leftover; sled's files unreadable
/// without a marker are an error to report, never a leftover to remove.
fn unmarked_leftover(dir: &Path) -> Result<bool, LedgerError> {
    let store = SledStore::open(dir)?;
    if dir.join(crate::heads::FILE_NAME).exists() && HeadLog::open(dir)?.last().is_some() {
        return Ok(false);
    }
    let empty = store.scan(b"", None).next().is_none();
    Ok(empty)
}

/// Removes the files of an incomplete creation: sled's own and the head log. The marker
/// stays (the caller holds it for the creation that follows); anything else in the directory
/// is left alone.
fn remove_leftovers(dir: &Path) -> Result<(), LedgerError> {
    let entries = std::fs::read_dir(dir).map_err(io_at(dir))?;
    for e in entries {
        let e = e.map_err(io_at(dir))?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        let path = e.path();
        let ours = matches!(name.as_ref(), "db" | "conf" | crate::heads::FILE_NAME)
            || name.starts_with("snap.");
        if (name == "blobs" || name == crate::wal::DIR_NAME) && path.is_dir() {
            std::fs::remove_dir_all(&path).map_err(io_at(&path))?;
        } else if ours {
            std::fs::remove_file(&path).map_err(io_at(&path))?;
        }
    }
    sync_dir(dir)
}

/// Whether a sled directory is there at all.
fn has_database(dir: &Path) -> bool {
    dir.join("db").exists() || dir.join("conf").exists()
}

impl Ledger {
    /// Creates a ledger in `dir` (which must not hold one) from a signed charter. The
    /// charter is verified like any entry: every founder signs it. The log key it names
    /// signs checkpoints later ([`Ledger::issue_checkpoint`]).
    ///
    /// The charter's leaf and tiles, the metadata, the governance snapshot and the layout name
    /// are one atomic, durable batch; a creation marker file around it tells a creation that
    /// never completed from a ledger, so such a leftover is created again here.
    ///
    /// # Errors
    /// [`LedgerError::Rejected`] for a bad charter, [`LedgerError::Exists`] if `dir` holds
    /// a ledger (or other data).
    pub fn create(dir: &Path, charter: &Envelope) -> Result<Self, LedgerError> {
        Self::create_at(dir, charter, None)
    }

    /// [`Ledger::create`] with the charter's `logged_at` given: for restoring a ledger from
    /// its JSON Lines export with the same leaves.
    ///
    /// # Errors
    /// As [`Ledger::create`].
    pub fn create_at(
        dir: &Path,
        charter: &Envelope,
        logged_at: Option<Timestamp>,
    ) -> Result<Self, LedgerError> {
        let (_, authorised) = State::start(charter)?;
        authorised.verify()?;
        std::fs::create_dir_all(dir).map_err(|source| LedgerError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        // Crash-safe order: the marker, locked and durable, before sled's first file; then
        // sled's files (sled's lock too), the one atomic batch of the charter and the first
        // head, durable; then the marker goes. A kill at any point before that leaves a
        // marker nobody holds, recognised as a creation that never completed
        // (docs/GUARANTEES.md), whatever state sled's files were left in.
        let held = match leftover_marker(dir)? {
            Some(held) => {
                remove_leftovers(dir)?;
                held
            }
            None => {
                if has_database(dir) {
                    if !unmarked_leftover(dir)? {
                        return Err(LedgerError::Exists(dir.to_path_buf()));
                    }
                    remove_leftovers(dir)?;
                }
                write_marker(dir)?
            }
        };
        if has_database(dir) {
            // Sled's files appeared after the marker was checked: another creation.
            return Err(LedgerError::InUse(dir.to_path_buf()));
        }
        let sled = std::sync::Arc::new(SledStore::open(dir)?);
        let mut ledger = Self::init(Box::new(ArcStore(sled.clone())), charter, logged_at)?;
        ledger.dir = Some(dir.to_path_buf());
        ledger.disk = Some(sled);
        ledger.heads = Some(std::sync::Arc::new(std::sync::Mutex::new(HeadLog::open(
            dir,
        )?)));
        ledger.record_head()?;
        let m = marker(dir);
        std::fs::remove_file(&m).map_err(|source| LedgerError::Io { path: m, source })?;
        sync_dir(dir)?;
        drop(held);
        Ok(ledger)
    }

    /// Creates a ledger in memory (for tests and tools that need no disk).
    ///
    /// # Errors
    /// As [`Ledger::create`].
    pub fn create_in_memory(charter: &Envelope) -> Result<Self, LedgerError> {
        Self::create_over(Box::new(crate::store::MemoryStore::new()), charter)
    }

    /// Creates a ledger over any empty [`Store`] (one that passes
    /// `store::conformance::run`, exported with the `test-support` feature).
    ///
    /// # Errors
    /// As [`Ledger::create`]; [`LedgerError::Exists`] if the store is not empty.
    pub fn create_over(store: Box<dyn Store>, charter: &Envelope) -> Result<Self, LedgerError> {
        if store.scan(b"", None).next().is_some() {
            return Err(LedgerError::Exists(PathBuf::from("(the store given)")));
        }
        Self::init(store, charter, None)
    }

    /// Opens a ledger over any [`Store`] holding one.
    ///
    /// # Errors
    /// As [`Ledger::open`].
    pub fn open_over(store: Box<dyn Store>) -> Result<Self, LedgerError> {
        Self::load(store)
    }

    fn init(
        store: Box<dyn Store>,
        charter: &Envelope,
        logged_at: Option<Timestamp>,
    ) -> Result<Self, LedgerError> {
        let store: Box<dyn Store> = Box::new(crate::index::Paged::new(store));
        let (state, authorised) = State::start(charter)?;
        authorised.verify()?;
        let logged_at = logged_at.unwrap_or_else(now);
        let leaf = LoggedEntry {
            index: 0,
            logged_at: logged_at.clone(),
            governance: 0,
            envelope: charter.clone(),
        }
        .to_leaf();
        if leaf.len() > accord_core::tiles::MAX_ENTRY_BYTES {
            return Err(Rejection::Envelope(format!(
                "the charter is {} bytes as a leaf; the limit is {}",
                leaf.len(),
                accord_core::tiles::MAX_ENTRY_BYTES
            ))
            .into());
        }
        let mut tree = TileTree::new();
        let mut leaves = EntryStore::new();
        tree.push(accord_core::log::leaf_hash(&leaf));
        leaves.push(leaf);
        let mut batch = WriteBatch::default();
        tree.stage(&mut batch);
        leaves.stage(&mut batch);
        for (k, v) in index_keys(0, authorised.payload(), &state) {
            batch.put(k, v);
        }
        batch.put(keys::SNAPSHOT_KEY.to_vec(), state.snapshot(0));
        let meta = Meta {
            size: 1,
            logged_at: logged_at.clone(),
            governance: 0,
            checkpoints: 0,
            cosignatures: 0,
        };
        batch.put(keys::META_KEY.to_vec(), meta.to_bytes());
        batch.put(keys::FORMAT_KEY.to_vec(), keys::FORMAT.to_vec());
        store.commit(batch)?;
        // Hold the state as every open does, from its snapshot: a state replayed from the
        // charter keeps every id and commitment in memory, and appends copy the state.
        let (state, _) = State::from_snapshot(&state.snapshot(0), 1)
            .map_err(|e| corrupt("the governance snapshot", e.to_string()))?;
        Ok(Self {
            store,
            dir: None,
            disk: None,
            tree,
            leaves,
            origin: state.origin().to_owned(),
            log_key: state.log_key().clone(),
            charter_hash: charter_hash(charter),
            last_logged_at: logged_at,
            last_governance: 0,
            state,
            heads: None,
            checkpoint_count: 0,
            cosignature_count: 0,
        })
    }

    /// Opens the ledger in `dir`, failing at once if another process has it.
    ///
    /// # Errors
    /// [`LedgerError`].
    pub fn open(dir: &Path) -> Result<Self, LedgerError> {
        Self::open_with(dir, Wait::No)
    }

    /// Opens the ledger in `dir`, waiting as asked for another process to let go.
    ///
    /// # Errors
    /// [`LedgerError::NotALedger`] (also for a creation that never completed),
    /// [`LedgerError::InUse`], [`LedgerError::OldLayout`], [`LedgerError::Corrupt`] when what
    /// is stored does not add up.
    pub fn open_with(dir: &Path, wait: Wait) -> Result<Self, LedgerError> {
        if !has_database(dir) {
            return Err(LedgerError::NotALedger(dir.to_path_buf()));
        }
        let started = Instant::now();
        let sled = loop {
            // A creation holds the marker's lock from before sled's first file, so sled's
            // files are not read (they may be half written) while the marker is there.
            let attempt = match leftover_marker(dir) {
                Ok(Some(_)) => return Err(LedgerError::Incomplete(dir.to_path_buf())),
                Ok(None) => SledStore::open(dir).map_err(LedgerError::from),
                Err(e) => Err(e),
            };
            match attempt {
                Ok(s) => break s,
                Err(LedgerError::InUse(p)) => match wait {
                    Wait::Upto(d) if started.elapsed() < d => {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    _ => return Err(LedgerError::InUse(p)),
                },
                Err(e) => return Err(e),
            }
        };
        // Checked again under sled's lock: a creation that began meanwhile cannot get past
        // sled's lock, and leaves its marker.
        if marker(dir).exists() {
            return Err(LedgerError::Incomplete(dir.to_path_buf()));
        }
        let sled = std::sync::Arc::new(sled);
        let mut ledger = Self::load(Box::new(ArcStore(sled.clone()))).map_err(|e| match e {
            LedgerError::NotALedger(_) => LedgerError::NotALedger(dir.to_path_buf()),
            LedgerError::OldLayout { found, .. } => LedgerError::OldLayout {
                dir: dir.to_path_buf(),
                found,
            },
            e => e,
        })?;
        ledger.dir = Some(dir.to_path_buf());
        ledger.disk = Some(sled);
        let heads = HeadLog::open(dir)?;
        if let Some(h) = heads.last() {
            ledger.check_head(&h)?;
        }
        ledger.heads = Some(std::sync::Arc::new(std::sync::Mutex::new(heads)));
        ledger.record_head()?;
        Ok(ledger)
    }

    /// Compares the store with the last acknowledged head.
    fn check_head(&self, h: &Head) -> Result<(), LedgerError> {
        let lost = |what: String| {
            corrupt(
                "the store",
                format!(
                    "{what}; the database lost acknowledged data. Restore it from a JSON Lines export \
                     (`accord import`) or a mirror, then `accord verify` (docs/GUARANTEES.md)"
                ),
            )
        };
        if self.size() < h.size {
            return Err(lost(format!(
                "it holds {} entries but {} were acknowledged",
                self.size(),
                h.size
            )));
        }
        if self.root_at(h.size)? != h.root {
            return Err(lost(format!(
                "the root of the first {} entries is not the acknowledged one",
                h.size
            )));
        }
        if self.checkpoint_count < h.checkpoints || self.cosignature_count < h.cosignatures {
            return Err(lost(format!(
                "it holds {} checkpoints and {} cosignatures but {} and {} were acknowledged",
                self.checkpoint_count, self.cosignature_count, h.checkpoints, h.cosignatures
            )));
        }
        Ok(())
    }

    /// Records what is now acknowledged in the head log (on-disk ledgers).
    fn record_head(&mut self) -> Result<(), LedgerError> {
        self.durability().record(self.head())
    }

    /// What the ledger holds now, as the head log records it.
    fn head(&self) -> Head {
        Head {
            size: self.size(),
            checkpoints: self.checkpoint_count,
            cosignatures: self.cosignature_count,
            root: self.root(),
        }
    }

    /// Turns write-ahead mode on for an on-disk ledger (nothing in memory): each commit is
    /// also appended to the write-ahead log, and making it durable costs one `fdatasync` of
    /// that log instead of a flush and sync of sled's files (crates/ledger/src/wal.rs). For a
    /// long-running writer such as `accord serve`; [`Durability::finish`] ends it.
    ///
    /// # Errors
    /// [`LedgerError`] when the log cannot be started; the ledger is then as it was.
    pub fn write_ahead(&self) -> Result<(), LedgerError> {
        match &self.disk {
            Some(d) => d.write_ahead().map_err(LedgerError::from),
            None => Ok(()),
        }
    }

    /// What makes groups appended with [`Ledger::append_batch_deferred`] durable, usable
    /// without the ledger (and its lock).
    pub fn durability(&self) -> Durability {
        Durability {
            disk: self.disk.clone(),
            heads: self.heads.clone(),
        }
    }

    fn meta(&self) -> Meta {
        Meta {
            size: self.size(),
            logged_at: self.last_logged_at.clone(),
            governance: self.last_governance,
            checkpoints: self.checkpoint_count,
            cosignatures: self.cosignature_count,
        }
    }

    /// Opens what `store` holds: the layout name, the metadata, the tree's right edge, the
    /// partial bundle, the charter, the last leaf and the governance snapshot, each checked
    /// against the others.
    fn load(store: Box<dyn Store>) -> Result<Self, LedgerError> {
        let store: Box<dyn Store> = Box::new(crate::index::Paged::new(store));
        match store.get(keys::FORMAT_KEY)?.as_deref() {
            Some(f) if f == keys::FORMAT => {}
            Some(f) if keys::FORMAT_OLD.contains(&f) => {
                return Err(LedgerError::OldLayout {
                    dir: PathBuf::new(),
                    found: String::from_utf8_lossy(f).into_owned(),
                })
            }
            Some(f) => {
                return Err(corrupt(
                    "the layout name",
                    format!(
                        "{:?} is no layout this accord knows (it reads {:?})",
                        String::from_utf8_lossy(f),
                        String::from_utf8_lossy(keys::FORMAT)
                    ),
                ))
            }
            None => return Err(LedgerError::NotALedger(PathBuf::new())),
        }
        let meta_bytes = store
            .get(keys::META_KEY)?
            .ok_or_else(|| corrupt("the metadata record", "missing"))?;
        let meta: Meta = accord_core::json::from_slice(&meta_bytes)
            .map_err(|e| corrupt("the metadata record", e.to_string()))?;
        let size = meta.size;
        if size == 0 || size > MAX_ENTRIES || meta.governance >= size {
            return Err(corrupt(
                "the metadata record",
                format!("size {size}, governance {} do not add up", meta.governance),
            ));
        }
        let tree = TileTree::load(store.as_ref(), size)?;
        let leaves = EntryStore::load(store.as_ref(), size)?;
        let charter_leaf = leaves.leaf(store.as_ref(), 0)?;
        let charter =
            LoggedEntry::from_leaf(&charter_leaf).map_err(|e| corrupt("entry 0", e.to_string()))?;
        let payload = Payload::from_bytes(&charter.envelope.payload)
            .map_err(|e| corrupt("entry 0", e.to_string()))?;
        let Body::Charter(c) = &payload.body else {
            return Err(corrupt("entry 0", "not a charter"));
        };
        let last = size - 1;
        let last_leaf = leaves.leaf(store.as_ref(), last)?;
        if tree.leaf_hash(store.as_ref(), last)? != accord_core::log::leaf_hash(&last_leaf) {
            return Err(corrupt(
                format!("entry {last}"),
                "leaf bytes do not match the stored leaf hash",
            ));
        }
        let last_entry = LoggedEntry::from_leaf(&last_leaf)
            .map_err(|e| corrupt(format!("entry {last}"), e.to_string()))?;
        if last_entry.index != last || last_entry.logged_at != meta.logged_at {
            return Err(corrupt(
                format!("entry {last}"),
                "the last leaf does not match the metadata record",
            ));
        }
        let snapshot = store
            .get(keys::SNAPSHOT_KEY)?
            .ok_or_else(|| corrupt("the governance snapshot", "missing"))?;
        let (state, through) = State::from_snapshot(&snapshot, size)
            .map_err(|e| corrupt("the governance snapshot", e.to_string()))?;
        if through != meta.governance || state.origin() != payload.ledger {
            return Err(corrupt(
                "the governance snapshot",
                format!(
                    "it reflects entry {through}, but the last governance entry is {}",
                    meta.governance
                ),
            ));
        }
        Ok(Self {
            store,
            dir: None,
            disk: None,
            tree,
            leaves,
            origin: payload.ledger.clone(),
            log_key: c.log_key.clone(),
            charter_hash: charter_hash(&charter.envelope),
            last_logged_at: meta.logged_at,
            last_governance: meta.governance,
            state,
            heads: None,
            checkpoint_count: meta.checkpoints,
            cosignature_count: meta.cosignatures,
        })
    }

    /// The directory, for an on-disk ledger.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Number of entries.
    pub fn size(&self) -> u64 {
        self.tree.size()
    }

    /// The ledger origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The key that signs checkpoints, as named by the charter.
    pub fn log_key(&self) -> &VerifierKey {
        &self.log_key
    }

    /// Every member key ever registered, by keyid (see
    /// [`accord_core::governance::State::verifying_keys`]).
    pub fn verifying_keys(&self) -> std::collections::HashMap<String, ed25519_dalek::VerifyingKey> {
        self.state.verifying_keys()
    }

    /// How many member keys were ever registered (it only grows).
    pub fn key_count(&self) -> usize {
        self.state.key_count()
    }

    /// SHA-256 of the charter's payload.
    pub fn charter_hash(&self) -> [u8; 32] {
        self.charter_hash
    }

    /// The current Merkle root.
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Where unreadable sled snapshots were set aside when this ledger was opened (see
    /// [`SledStore::open`]); the ledger's checks on open passed after the log was replayed.
    pub fn quarantined_snapshots(&self) -> Option<&Path> {
        self.disk.as_ref().and_then(|d| d.quarantined())
    }

    /// Bytes the database takes on disk (0 in memory).
    pub fn size_on_disk(&self) -> u64 {
        self.disk.as_ref().map_or(0, |d| d.size_on_disk())
    }

    /// The governance state after the last entry: members, keys and policy, from the stored
    /// snapshot. What it knows of entry ids and commitments is only what was looked up for
    /// it ([`Ledger::learn`]); ask the ledger ([`Ledger::index_of`],
    /// [`Ledger::commitment_state`]) for those.
    ///
    /// # Errors
    /// None today; kept fallible for stores that load lazily.
    pub fn governance(&mut self) -> Result<&State, LedgerError> {
        Ok(&self.state)
    }

    /// Looks up what governance must know to decide about `payload` — whether its id is
    /// used, and the commitment a lifecycle entry targets — and tells the state, so that
    /// [`Ledger::governance`]'s `check` decides it as a full replay would.
    ///
    /// # Errors
    /// Store failures or corrupt records.
    pub fn learn(&mut self, payload: &Payload) -> Result<(), LedgerError> {
        for (id, used, record) in self.lookups(&self.state, payload)? {
            self.state.learn(&id, used, record);
        }
        Ok(())
    }

    /// [`Ledger::learn`] into a given state (the one an append or import is building).
    pub(crate) fn learn_into(
        &self,
        state: &mut State,
        payload: &Payload,
    ) -> Result<(), LedgerError> {
        for (id, used, record) in self.lookups(state, payload)? {
            state.learn(&id, used, record);
        }
        Ok(())
    }

    /// What the store says of the ids `payload` touches that `state` does not know yet.
    #[allow(clippy::type_complexity)]
    fn lookups(
        &self,
        state: &State,
        payload: &Payload,
    ) -> Result<Vec<(EntryId, bool, Option<CommitmentState>)>, LedgerError> {
        let mut out = Vec::new();
        if !state.needs_history() {
            return Ok(out);
        }
        for id in std::iter::once(&payload.id).chain(lifecycle_target(payload)) {
            if state.knows_id(id) {
                continue;
            }
            out.push(self.lookup(id)?);
        }
        Ok(out)
    }

    /// Whether the store has an entry of `id`, and its commitment record.
    fn lookup(
        &self,
        id: &EntryId,
    ) -> Result<(EntryId, bool, Option<CommitmentState>), LedgerError> {
        let used = self.index_of(id)?.is_some();
        // A commitment's record (key `S`, docs/FORMAT.md section 11) is keyed by the id of the
        // entry that made it, and written with that entry or a later one: an id no entry
        // uses has none, and the second read is saved for every new id.
        let record = if used {
            self.commitment_state(id)?
        } else {
            None
        };
        Ok((id.clone(), used, record))
    }

    /// What governance remembers of commitment `id` (its parties, kind and withdrawal), from
    /// its stored record.
    ///
    /// # Errors
    /// Store failures or a corrupt record.
    pub fn commitment_state(&self, id: &EntryId) -> Result<Option<CommitmentState>, LedgerError> {
        match self.store.get(&keys::commitment_record(id.as_str()))? {
            Some(v) => CommitmentState::from_bytes(&v)
                .map(Some)
                .map_err(|e| corrupt(format!("the record of commitment {id}"), e.to_string())),
            None => Ok(None),
        }
    }

    fn next_logged_at(&self, at: Timestamp) -> Timestamp {
        not_before(at, &self.last_logged_at)
    }
}

/// `at`, or `last` if `at` is earlier: the ledger's clock never runs backwards in the log.
pub(crate) fn not_before(at: Timestamp, last: &Timestamp) -> Timestamp {
    if at.instant() < last.instant() {
        last.clone()
    } else {
        at
    }
}

/// The commitment a lifecycle entry refers to.
pub(crate) fn lifecycle_target(payload: &Payload) -> Option<&EntryId> {
    match &payload.body {
        Body::Amend(a) => Some(&a.target),
        Body::Progress(p) => Some(&p.target),
        Body::Withdraw(w) => Some(&w.target),
        _ => None,
    }
}

/// The index keys (and values) an entry adds: its id, and for commitments and their
/// lifecycle entries the history, party, country, kind and commodity indexes. The audit
/// recomputes these and checks the store holds exactly them.
pub(crate) fn index_keys(index: u64, payload: &Payload, state: &State) -> Vec<(Vec<u8>, Vec<u8>)> {
    let idx = index.to_be_bytes();
    let mut out = vec![(keys::id(payload.id.as_str()), idx.to_vec())];
    if let Some(cid) = payload.body.commitment_id(&payload.id) {
        let c = cid.as_str().as_bytes();
        out.push((keys::parts(b'C', &[c, &idx]), Vec::new()));
        let terms = match &payload.body {
            Body::Commitment(n) => {
                let mut countries = std::collections::BTreeSet::new();
                for p in &n.parties {
                    out.push((keys::parts(b'P', &[p.as_str().as_bytes(), c]), Vec::new()));
                    if let Some(m) = state.member(p) {
                        countries.insert(m.member.country.as_str().to_owned());
                    }
                }
                for country in countries {
                    out.push((keys::parts(b'Q', &[country.as_bytes(), c]), Vec::new()));
                }
                out.push((
                    keys::parts(b'K', &[n.terms.measure.kind().as_bytes(), c]),
                    Vec::new(),
                ));
                Some(&n.terms)
            }
            Body::Amend(a) => Some(&a.terms),
            _ => None,
        };
        if let Some(t) = terms {
            out.push((
                keys::parts(b'O', &[t.commodity.as_str().as_bytes(), c, &idx]),
                Vec::new(),
            ));
        }
    }
    out
}

/// A group appended by [`Ledger::append_batch_deferred`], applied but perhaps not yet
/// durable: [`Durability::settle`] makes it durable and records its head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deferred {
    head: Head,
}

impl Deferred {
    pub(crate) fn new(head: Head) -> Self {
        Self { head }
    }

    /// The tree size once the group is in.
    pub fn size(&self) -> u64 {
        self.head.size
    }
}

/// Makes a ledger's applied writes durable and records its head (docs/GUARANTEES.md
/// section 1), from any thread, without the ledger: a service commits a group under the
/// ledger lock with [`Ledger::append_batch_deferred`] and settles it here while the next
/// group is staged.
#[derive(Clone)]
pub struct Durability {
    disk: Option<std::sync::Arc<SledStore>>,
    heads: Option<std::sync::Arc<std::sync::Mutex<HeadLog>>>,
}

impl Durability {
    /// Makes every write applied so far durable (one sync of the store), then records the
    /// head of `group` in the head log, unless a head already recorded covers it. Settling
    /// groups out of order or several at once is fine: settling the last one applied
    /// settles every one before it.
    ///
    /// # Errors
    /// A store or head-log failure: then nothing applied since the last successful settle
    /// is known durable.
    ///
    /// In write-ahead mode ([`Ledger::write_ahead`]) the store's sync is one `fdatasync` of
    /// the write-ahead log, and the head is appended after it without a sync of its own: it
    /// is synced with sled's files, at the log's next checkpoint or [`Durability::finish`].
    /// A head lost in a power cut only means the next open compares the store with an
    /// earlier head; one written is never ahead of what is durable.
    pub fn settle(&self, group: &Deferred) -> Result<(), LedgerError> {
        let Some(disk) = &self.disk else {
            return self.record(group.head);
        };
        let all_synced = disk.sync_durable()?;
        if !disk.is_write_ahead() {
            return self.record(group.head);
        }
        self.record_synced(group.head, false)?;
        if all_synced {
            // sled's files were just synced: so is every head written since the last time.
            self.sync_heads()?;
        }
        Ok(())
    }

    fn sync_heads(&self) -> Result<(), LedgerError> {
        match &self.heads {
            Some(heads) if std::env::var_os("ACCORD_UNSAFE_NO_FSYNC").is_none() => heads
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .sync(),
            _ => Ok(()),
        }
    }

    /// Ends write-ahead mode, if it is on: sled's files and the head log are synced and the
    /// write-ahead log removed. A service calls it once its last group is settled.
    ///
    /// # Errors
    /// A store or head-log failure; the write-ahead log then stays and the next open
    /// applies it.
    pub fn finish(&self) -> Result<(), LedgerError> {
        let Some(disk) = &self.disk else {
            return Ok(());
        };
        if !disk.is_write_ahead() {
            return Ok(());
        }
        disk.end_write_ahead()?;
        self.sync_heads()
    }

    fn record(&self, head: Head) -> Result<(), LedgerError> {
        self.record_synced(head, true)
    }

    fn record_synced(&self, head: Head, sync: bool) -> Result<(), LedgerError> {
        let Some(heads) = &self.heads else {
            return Ok(());
        };
        let sync = sync && std::env::var_os("ACCORD_UNSAFE_NO_FSYNC").is_none();
        heads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .record(head, sync)
    }
}

/// A shared sled store, so the ledger can both use it as a [`Store`] and ask it for its
/// size on disk.
pub(crate) struct ArcStore(pub(crate) std::sync::Arc<SledStore>);

impl Store for ArcStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(key)
    }
    fn scan<'a>(
        &'a self,
        prefix: &[u8],
        start: Option<&[u8]>,
    ) -> Box<dyn Iterator<Item = Result<crate::store::Kv, StoreError>> + 'a> {
        self.0.scan(prefix, start)
    }
    fn last(&self, prefix: &[u8]) -> Result<Option<crate::store::Kv>, StoreError> {
        self.0.last(prefix)
    }
    fn floor(&self, prefix: &[u8], key: &[u8]) -> Result<Option<crate::store::Kv>, StoreError> {
        self.0.floor(prefix, key)
    }
    fn next_key(&self, prefix: &[u8], after: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.next_key(prefix, after)
    }
    fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.0.commit(batch)
    }
    fn apply(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.0.apply(batch)
    }
    fn apply_rows(
        &self,
        batch: WriteBatch,
        durable: bool,
    ) -> Result<Option<WriteBatch>, StoreError> {
        self.0.apply_rows(batch, durable)
    }
    fn index_row(&self, key: &[u8]) -> Result<Option<Option<Vec<u8>>>, StoreError> {
        self.0.index_row(key)
    }
    fn held_rows(
        &self,
        prefix: &[u8],
        from: &[u8],
    ) -> Result<Vec<(Vec<u8>, crate::overlay::Slot)>, StoreError> {
        self.0.held_rows(prefix, from)
    }
}
