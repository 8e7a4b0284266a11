//! The ledger: a directory holding a sled database of write-once keys (see [`crate::keys`]),
//! with the governance state, the Merkle frontier and the tree size derived from it on open.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use accord_core::checkpoint::{Checkpoint, SignedCheckpoint};
use accord_core::entry::LoggedEntry;
use accord_core::envelope::Envelope;
use accord_core::governance::{self, verify_parallel, Authorised, Rejection, State};
use accord_core::keys::{KeyPair, VerifierKey};
use accord_core::log::{self, Frontier, Hash, StoredIndex};
use accord_core::model::{Body, EntryId, Payload, Timestamp};
use sha2::{Digest, Sha256};

use crate::error::LedgerError;
use crate::heads::{Head, HeadLog};
use crate::keys;
use crate::store::{SledStore, Store, StoreError, WriteBatch};

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
    /// The index and `logged_at` it must get (restore), or `None` for a new entry.
    pub logged: Option<(u64, Timestamp)>,
}

impl From<Envelope> for ImportItem {
    fn from(envelope: Envelope) -> Self {
        Self {
            envelope,
            logged: None,
        }
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
    pub note: SignedCheckpoint,
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

/// Entries per group commit in a bulk import.
pub const IMPORT_GROUP: usize = 2048;

/// A ledger.
pub struct Ledger {
    store: Box<dyn Store>,
    dir: Option<PathBuf>,
    disk: Option<std::sync::Arc<SledStore>>,
    size: u64,
    frontier: Frontier,
    origin: String,
    log_key: VerifierKey,
    charter_hash: [u8; 32],
    last_logged_at: Timestamp,
    last_governance: u64,
    state: Option<State>,
    heads: Option<HeadLog>,
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

struct StagedEntry {
    index: u64,
    leaf: Vec<u8>,
    hashes: Vec<Hash>,
}

impl Ledger {
    /// Creates a ledger in `dir` (which must not hold one) from a signed charter. The
    /// charter is verified like any entry: every founder signs it. The log key it names
    /// signs checkpoints later ([`Ledger::issue_checkpoint`]).
    ///
    /// # Errors
    /// [`LedgerError::Rejected`] for a bad charter, [`LedgerError::Exists`] if `dir` holds
    /// a ledger.
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
        if dir.join("db").exists() || dir.join("conf").exists() {
            return Err(LedgerError::Exists(dir.to_path_buf()));
        }
        let authorised = State::check_charter(charter)?;
        authorised.verify()?;
        let state = State::genesis(&authorised)?;
        std::fs::create_dir_all(dir).map_err(|source| LedgerError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let sled = std::sync::Arc::new(SledStore::open(dir)?);
        let mut ledger = Self::init(
            Box::new(ArcStore(sled.clone())),
            charter,
            authorised,
            state,
            logged_at,
        )?;
        ledger.dir = Some(dir.to_path_buf());
        ledger.disk = Some(sled);
        ledger.heads = Some(HeadLog::open(dir)?);
        ledger.record_head()?;
        Ok(ledger)
    }

    /// Creates a ledger in memory (for tests and tools that need no disk).
    ///
    /// # Errors
    /// As [`Ledger::create`].
    pub fn create_in_memory(charter: &Envelope) -> Result<Self, LedgerError> {
        let authorised = State::check_charter(charter)?;
        authorised.verify()?;
        let state = State::genesis(&authorised)?;
        Self::init(
            Box::new(crate::store::MemoryStore::new()),
            charter,
            authorised,
            state,
            None,
        )
    }

    fn init(
        store: Box<dyn Store>,
        charter: &Envelope,
        authorised: Authorised,
        state: State,
        logged_at: Option<Timestamp>,
    ) -> Result<Self, LedgerError> {
        let logged_at = logged_at.unwrap_or_else(now);
        let entry = LoggedEntry {
            index: 0,
            logged_at: logged_at.clone(),
            governance: 0,
            envelope: charter.clone(),
        };
        let leaf = entry.to_leaf();
        let mut frontier = Frontier::new();
        let hashes = frontier.push(log::leaf_hash(&leaf));
        let mut batch = WriteBatch::default();
        batch.put(keys::FORMAT_KEY.to_vec(), keys::FORMAT.to_vec());
        stage_writes(&mut batch, 0, &leaf, &hashes, &authorised.payload, &state);
        store.commit(batch)?;
        Ok(Self {
            store,
            dir: None,
            disk: None,
            size: 1,
            frontier,
            origin: state.origin().to_owned(),
            log_key: state.log_key().clone(),
            charter_hash: charter_hash(charter),
            last_logged_at: logged_at,
            last_governance: 0,
            state: Some(state),
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
    /// [`LedgerError::NotALedger`], [`LedgerError::InUse`], [`LedgerError::Corrupt`] when
    /// what is stored does not add up.
    pub fn open_with(dir: &Path, wait: Wait) -> Result<Self, LedgerError> {
        if !dir.join("conf").exists() && !dir.join("db").exists() {
            return Err(LedgerError::NotALedger(dir.to_path_buf()));
        }
        let started = Instant::now();
        let sled = loop {
            match SledStore::open(dir) {
                Ok(s) => break s,
                Err(StoreError::InUse(p)) => match wait {
                    Wait::Upto(d) if started.elapsed() < d => {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    _ => return Err(LedgerError::InUse(p)),
                },
                Err(e) => return Err(e.into()),
            }
        };
        let sled = std::sync::Arc::new(sled);
        let mut ledger = Self::load(Box::new(ArcStore(sled.clone()))).map_err(|e| match e {
            LedgerError::NotALedger(_) => LedgerError::NotALedger(dir.to_path_buf()),
            e => e,
        })?;
        ledger.dir = Some(dir.to_path_buf());
        ledger.disk = Some(sled);
        let heads = HeadLog::open(dir)?;
        if let Some(h) = heads.last() {
            ledger.check_head(&h)?;
        }
        ledger.heads = Some(heads);
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
        if self.size < h.size {
            return Err(lost(format!(
                "it holds {} entries but {} were acknowledged",
                self.size, h.size
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
        let head = Head {
            size: self.size,
            checkpoints: self.checkpoint_count,
            cosignatures: self.cosignature_count,
            root: self.frontier.root(),
        };
        let sync = std::env::var_os("ACCORD_UNSAFE_NO_FSYNC").is_none();
        match &mut self.heads {
            Some(h) => h.record(head, sync),
            None => Ok(()),
        }
    }

    fn load(store: Box<dyn Store>) -> Result<Self, LedgerError> {
        if store.get(keys::FORMAT_KEY)?.as_deref() != Some(keys::FORMAT) {
            return Err(LedgerError::NotALedger(PathBuf::new()));
        }
        let (last_key, last_leaf) = store
            .last(b"E")?
            .ok_or_else(|| corrupt("entry 0", "the ledger has no entries"))?;
        let last = keys::tail_u64(&last_key)
            .filter(|&n| n < MAX_ENTRIES && last_key.len() == 9)
            .ok_or_else(|| corrupt("entries", "an entry key is out of range"))?;
        let size = last + 1;
        let nodes = match store.last(b"N")? {
            Some((k, _)) => keys::tail_u64(&k)
                .filter(|&n| n < 4 * MAX_ENTRIES && k.len() == 9)
                .map(|n| n + 1)
                .ok_or_else(|| corrupt("Merkle nodes", "a node key is out of range"))?,
            None => 0,
        };
        if nodes != log::stored_hash_count(size) {
            return Err(corrupt(
                "Merkle nodes",
                format!(
                    "{nodes} stored hashes for {size} entries (expected {})",
                    log::stored_hash_count(size)
                ),
            ));
        }
        let charter_leaf = store
            .get(&keys::entry(0))?
            .ok_or_else(|| corrupt("entry 0", "missing"))?;
        let charter =
            LoggedEntry::from_leaf(&charter_leaf).map_err(|e| corrupt("entry 0", e.to_string()))?;
        let payload = Payload::from_bytes(&charter.envelope.payload)
            .map_err(|e| corrupt("entry 0", e.to_string()))?;
        let Body::Charter(c) = &payload.body else {
            return Err(corrupt("entry 0", "not a charter"));
        };
        let last_entry = LoggedEntry::from_leaf(&last_leaf)
            .map_err(|e| corrupt(format!("entry {last}"), e.to_string()))?;
        if last_entry.index != last {
            return Err(corrupt(
                format!("entry {last}"),
                format!("leaf says index {}", last_entry.index),
            ));
        }
        let last_payload = Payload::from_bytes(&last_entry.envelope.payload)
            .map_err(|e| corrupt(format!("entry {last}"), e.to_string()))?;
        let last_governance = if last_payload.body.is_governance() {
            last
        } else {
            last_entry.governance
        };
        let mut ledger = Self {
            store,
            dir: None,
            disk: None,
            size,
            frontier: Frontier::new(),
            origin: payload.ledger.clone(),
            log_key: c.log_key.clone(),
            charter_hash: charter_hash(&charter.envelope),
            last_logged_at: last_entry.logged_at,
            last_governance,
            state: None,
            heads: None,
            checkpoint_count: 0,
            cosignature_count: 0,
        };
        for item in ledger.store.scan(b"X", None) {
            item?;
            ledger.checkpoint_count += 1;
        }
        for item in ledger.store.scan(b"Y", None) {
            item?;
            ledger.cosignature_count += 1;
        }
        let needs = Frontier::needs(size);
        let hashes = ledger.read_nodes(&needs)?;
        ledger.frontier = Frontier::from_hashes(size, &hashes)
            .map_err(|e| corrupt("Merkle nodes", e.to_string()))?;
        let stored_leaf_hash = ledger.read_nodes(&[log::stored_index_of_leaf(last)])?;
        if stored_leaf_hash.first() != Some(&log::leaf_hash(&last_leaf)) {
            return Err(corrupt(
                format!("entry {last}"),
                "leaf bytes do not match the stored leaf hash",
            ));
        }
        Ok(ledger)
    }

    pub(crate) fn read_nodes(&self, indexes: &[StoredIndex]) -> Result<Vec<Hash>, LedgerError> {
        indexes
            .iter()
            .map(|i| {
                let v = self
                    .store
                    .get(&keys::node(i.0))?
                    .ok_or_else(|| corrupt(format!("Merkle node {}", i.0), "missing"))?;
                let arr: [u8; 32] = v
                    .as_slice()
                    .try_into()
                    .map_err(|_| corrupt(format!("Merkle node {}", i.0), "not 32 bytes"))?;
                Ok(Hash(arr))
            })
            .collect()
    }

    /// The directory, for an on-disk ledger.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Number of entries.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The ledger origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The key that signs checkpoints, as named by the charter.
    pub fn log_key(&self) -> &VerifierKey {
        &self.log_key
    }

    /// SHA-256 of the charter's payload.
    pub fn charter_hash(&self) -> [u8; 32] {
        self.charter_hash
    }

    /// The current Merkle root.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The root of the tree of the first `size` entries, from O(log n) stored nodes.
    ///
    /// # Errors
    /// [`LedgerError::OutOfRange`] or a store failure.
    pub fn root_at(&self, size: u64) -> Result<Hash, LedgerError> {
        if size == 0 || size > self.size {
            return Err(LedgerError::OutOfRange(format!(
                "tree size {size} (the ledger has {} entries)",
                self.size
            )));
        }
        let hashes = self.read_nodes(&log::root_needs(size))?;
        log::root_from(size, &hashes).map_err(|e| corrupt("Merkle nodes", e.to_string()))
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

    /// The governance state after the last entry. Built on first use by replaying the
    /// ledger's entries through the state machine (signatures are checked by
    /// [`Ledger::verify`], not here).
    ///
    /// # Errors
    /// [`LedgerError::Corrupt`] if a stored entry no longer passes governance.
    pub fn governance(&mut self) -> Result<&State, LedgerError> {
        if self.state.is_none() {
            let state = self.replay_governance()?;
            self.state = Some(state);
        }
        self.state
            .as_ref()
            .ok_or_else(|| corrupt("governance", "state unavailable"))
    }

    fn replay_governance(&self) -> Result<State, LedgerError> {
        let mut state: Option<State> = None;
        for item in self.store.scan(b"E", None) {
            let (k, leaf) = item?;
            let index = keys::tail_u64(&k).ok_or_else(|| corrupt("entries", "bad key"))?;
            let entry = LoggedEntry::from_leaf(&leaf)
                .map_err(|e| corrupt(format!("entry {index}"), e.to_string()))?;
            match &mut state {
                None => {
                    let a = State::check_charter(&entry.envelope)
                        .map_err(|e| corrupt("entry 0", e.to_string()))?;
                    state =
                        Some(State::genesis(&a).map_err(|e| corrupt("entry 0", e.to_string()))?);
                }
                Some(s) => {
                    let a = s
                        .check(index, &entry.envelope)
                        .map_err(|e| corrupt(format!("entry {index}"), e.to_string()))?;
                    if !s.commit(&a) {
                        return Err(corrupt(format!("entry {index}"), "out of order"));
                    }
                }
            }
        }
        state.ok_or_else(|| corrupt("entry 0", "missing"))
    }

    fn next_logged_at(&self, at: Timestamp) -> Timestamp {
        // The ledger's clock never runs backwards in the log.
        if at.instant() < self.last_logged_at.instant() {
            self.last_logged_at.clone()
        } else {
            at
        }
    }

    /// Validates `env` against the governance state, appends it, and returns once it is
    /// durable. A rejected entry changes nothing.
    ///
    /// # Errors
    /// [`LedgerError::Rejected`] with the reason, or a store failure.
    pub fn append(&mut self, env: &Envelope) -> Result<Appended, LedgerError> {
        self.append_at(env, now())
    }

    /// [`Ledger::append`] with the ledger's timestamp given (for reproducible tests).
    ///
    /// # Errors
    /// As [`Ledger::append`].
    pub fn append_at(&mut self, env: &Envelope, at: Timestamp) -> Result<Appended, LedgerError> {
        let index = self.size;
        let authorised = self.governance()?.check(index, env)?;
        authorised.verify()?;
        let logged_at = self.next_logged_at(at);
        let staged = self.stage(index, env, &logged_at, &mut self.frontier.clone());
        let mut batch = WriteBatch::default();
        stage_writes(
            &mut batch,
            index,
            &staged.leaf,
            &staged.hashes,
            &authorised.payload,
            self.governance()?,
        );
        self.store.commit(batch)?;
        let leaf_hash = staged.hashes[0];
        self.finish(&staged, &authorised, &logged_at);
        self.record_head()?;
        Ok(Appended {
            index,
            id: authorised.payload.id.clone(),
            leaf_hash,
            logged_at,
        })
    }

    fn stage(
        &self,
        index: u64,
        env: &Envelope,
        logged_at: &Timestamp,
        frontier: &mut Frontier,
    ) -> StagedEntry {
        let leaf = LoggedEntry {
            index,
            logged_at: logged_at.clone(),
            governance: self.last_governance,
            envelope: env.clone(),
        }
        .to_leaf();
        let hashes = frontier.push(log::leaf_hash(&leaf));
        StagedEntry {
            index,
            leaf,
            hashes,
        }
    }

    fn finish(&mut self, staged: &StagedEntry, authorised: &Authorised, logged_at: &Timestamp) {
        self.frontier.push(staged.hashes[0]);
        if let Some(state) = &mut self.state {
            state.commit(authorised);
        }
        if authorised.payload.body.is_governance() {
            self.last_governance = staged.index;
        }
        self.size = staged.index + 1;
        self.last_logged_at = logged_at.clone();
    }

    /// Appends many envelopes: governance is decided in order, signatures are verified in
    /// parallel per group, and each group of up to [`IMPORT_GROUP`] entries is one atomic,
    /// durable commit. Stops at the first entry that is rejected (or fails to parse); every
    /// entry before it is appended, exactly as appending them one by one would.
    /// `progress` is called with the number of entries appended so far.
    ///
    /// # Errors
    /// Store failures. Rejections are reported in [`ImportReport::rejected`].
    pub fn import<I, T>(
        &mut self,
        envelopes: I,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ImportReport, LedgerError>
    where
        I: IntoIterator<Item = Result<T, Rejection>>,
        T: Into<ImportItem>,
    {
        self.governance()?;
        let mut report = ImportReport {
            accepted: 0,
            first_index: None,
            rejected: None,
        };
        let mut input = envelopes.into_iter();
        let mut position: u64 = 0;
        loop {
            let at = self.next_logged_at(now());
            let mut frontier = self.frontier.clone();
            let mut staged: Vec<StagedEntry> = Vec::with_capacity(IMPORT_GROUP);
            let mut authorised: Vec<Authorised> = Vec::with_capacity(IMPORT_GROUP);
            let mut stop: Option<(u64, Rejection)> = None;
            // Read a group ahead and decode it on all cores: what needs no state (payload
            // parsing and validation) runs before the sequential governance checks.
            let block: Vec<Result<ImportItem, Rejection>> = input
                .by_ref()
                .take(IMPORT_GROUP)
                .map(|item| item.map(Into::into))
                .collect();
            let exhausted_input = block.len() < IMPORT_GROUP;
            let mut block = {
                use rayon::prelude::*;
                block
                    .into_par_iter()
                    .map(|item| {
                        let decoded = item.as_ref().ok().map(|i| governance::decode(&i.envelope));
                        (item, decoded)
                    })
                    .collect::<Vec<_>>()
                    .into_iter()
            };
            let mut last_governance = self.last_governance;
            let mut last_at = self.last_logged_at.clone();
            let mut exhausted = false;
            {
                let Some(state) = self.state.as_mut() else {
                    return Err(corrupt("governance", "state unavailable"));
                };
                // Optimistically commit to the state; on a bad signature the state is rebuilt.
                loop {
                    let Some((item, decoded)) = block.next() else {
                        exhausted = exhausted_input;
                        break;
                    };
                    let index = self.size + staged.len() as u64;
                    let item: ImportItem = match item {
                        Ok(item) => item,
                        Err(rej) => {
                            stop = Some((position + staged.len() as u64, rej));
                            break;
                        }
                    };
                    let logged_at = match item.logged {
                        None => at.clone(),
                        Some((i, t)) => {
                            if i != index {
                                stop = Some((
                                    position + staged.len() as u64,
                                    Rejection::Envelope(format!(
                                        "restoring entry {i}, but the ledger's next index is {index}"
                                    )),
                                ));
                                break;
                            }
                            if t.instant() < last_at.instant() {
                                stop = Some((
                                    position + staged.len() as u64,
                                    Rejection::Envelope(format!(
                                        "entry {i}'s logged_at {t} is before the previous entry's {last_at}"
                                    )),
                                ));
                                break;
                            }
                            t
                        }
                    };
                    last_at = logged_at.clone();
                    let env = item.envelope;
                    let decoded = decoded.unwrap_or_else(|| governance::decode(&env));
                    match state.check_decoded(index, &env, decoded) {
                        Ok(a) => {
                            state.commit(&a);
                            let leaf = LoggedEntry {
                                index,
                                logged_at: logged_at.clone(),
                                governance: last_governance,
                                envelope: env,
                            }
                            .to_leaf();
                            if a.payload.body.is_governance() {
                                last_governance = index;
                            }
                            let hashes = frontier.push(log::leaf_hash(&leaf));
                            staged.push(StagedEntry {
                                index,
                                leaf,
                                hashes,
                            });
                            authorised.push(a);
                        }
                        Err(rej) => {
                            stop = Some((position + staged.len() as u64, rej));
                            break;
                        }
                    }
                }
            }
            let mut state_dirty = false;
            if let Err((bad, rej)) = verify_parallel(&authorised) {
                staged.truncate(bad);
                authorised.truncate(bad);
                stop = Some((position + bad as u64, rej));
                state_dirty = true;
            } else if stop.is_some() {
                // The state holds exactly the staged entries: still exact.
            }
            if !staged.is_empty() {
                let mut batch = WriteBatch::default();
                if let Some(state) = &self.state {
                    for (s, a) in staged.iter().zip(&authorised) {
                        stage_writes(&mut batch, s.index, &s.leaf, &s.hashes, &a.payload, state);
                    }
                }
                if let Err(e) = self.store.commit(batch) {
                    self.state = None;
                    return Err(e.into());
                }
                report.first_index.get_or_insert(staged[0].index);
                report.accepted += staged.len() as u64;
                position += staged.len() as u64;
                for (s, a) in staged.iter().zip(&authorised) {
                    self.frontier.push(s.hashes[0]);
                    if a.payload.body.is_governance() {
                        self.last_governance = s.index;
                    }
                }
                self.size += staged.len() as u64;
                if let Some(last) = staged.last() {
                    if let Ok(e) = LoggedEntry::from_leaf(&last.leaf) {
                        self.last_logged_at = e.logged_at;
                    }
                }
                self.record_head()?;
                progress(report.accepted);
            }
            if state_dirty {
                self.state = None;
                self.governance()?;
            }
            if let Some(s) = stop {
                report.rejected = Some(s);
                return Ok(report);
            }
            if exhausted {
                return Ok(report);
            }
        }
    }

    /// Reads entry `index`, checking its bytes against the stored leaf hash.
    ///
    /// # Errors
    /// [`LedgerError::NotFound`], or [`LedgerError::Corrupt`] if it does not check out.
    pub fn entry(&self, index: u64) -> Result<StoredEntry, LedgerError> {
        if index >= self.size {
            return Err(LedgerError::NotFound(format!(
                "entry {index} (the ledger has {} entries, 0 to {})",
                self.size,
                self.size.saturating_sub(1)
            )));
        }
        let leaf = self
            .store
            .get(&keys::entry(index))?
            .ok_or_else(|| corrupt(format!("entry {index}"), "missing"))?;
        self.decode(index, leaf)
    }

    pub(crate) fn decode(&self, index: u64, leaf: Vec<u8>) -> Result<StoredEntry, LedgerError> {
        let leaf_hash = log::leaf_hash(&leaf);
        let stored = self.read_nodes(&[log::stored_index_of_leaf(index)])?;
        if stored.first() != Some(&leaf_hash) {
            return Err(corrupt(
                format!("entry {index}"),
                "leaf bytes do not match the stored leaf hash",
            ));
        }
        let entry = LoggedEntry::from_leaf(&leaf)
            .map_err(|e| corrupt(format!("entry {index}"), e.to_string()))?;
        if entry.index != index {
            return Err(corrupt(
                format!("entry {index}"),
                format!("leaf says index {}", entry.index),
            ));
        }
        let payload = Payload::from_bytes(&entry.envelope.payload)
            .map_err(|e| corrupt(format!("entry {index}"), e.to_string()))?;
        Ok(StoredEntry {
            index,
            leaf,
            leaf_hash,
            entry,
            payload,
        })
    }

    /// The index of the entry with id `id`.
    ///
    /// # Errors
    /// Store failures.
    pub fn index_of(&self, id: &EntryId) -> Result<Option<u64>, LedgerError> {
        let key = keys::parts(b'I', &[id.as_str().as_bytes()]);
        match self.store.get(&key)? {
            Some(v) => {
                let arr: [u8; 8] = v
                    .as_slice()
                    .try_into()
                    .map_err(|_| corrupt(format!("id index {id}"), "not 8 bytes"))?;
                Ok(Some(u64::from_be_bytes(arr)))
            }
            None => Ok(None),
        }
    }

    /// The entry with id `id`, checked to carry that id.
    ///
    /// # Errors
    /// [`LedgerError::NotFound`] or corruption.
    pub fn entry_by_id(&self, id: &EntryId) -> Result<StoredEntry, LedgerError> {
        let index = self
            .index_of(id)?
            .ok_or_else(|| LedgerError::NotFound(format!("entry with id {id}")))?;
        let e = self.entry(index)?;
        if &e.payload.id != id {
            return Err(corrupt(
                format!("id index {id}"),
                format!("points at entry {index} with id {}", e.payload.id),
            ));
        }
        Ok(e)
    }

    /// Entries from `start`, in order, each checked against its stored leaf hash.
    pub fn entries(
        &self,
        start: u64,
    ) -> impl Iterator<Item = Result<StoredEntry, LedgerError>> + '_ {
        let from = keys::entry(start);
        self.store.scan(b"E", Some(&from)).map(move |item| {
            let (k, leaf) = item?;
            let index = keys::tail_u64(&k).ok_or_else(|| corrupt("entries", "bad key"))?;
            self.decode(index, leaf)
        })
    }

    /// Raw leaves from `start`, in order, unchecked (for verification, which checks them).
    pub(crate) fn raw_leaves(
        &self,
        start: u64,
    ) -> impl Iterator<Item = Result<(u64, Vec<u8>), LedgerError>> + '_ {
        let from = keys::entry(start);
        self.store.scan(b"E", Some(&from)).map(|item| {
            let (k, leaf) = item?;
            let index = keys::tail_u64(&k).ok_or_else(|| corrupt("entries", "bad key"))?;
            Ok((index, leaf))
        })
    }

    /// Inclusion proof of entry `index` in the tree of size `size` (default: current).
    ///
    /// # Errors
    /// [`LedgerError::OutOfRange`] for an index or size outside the ledger.
    pub fn inclusion_proof(
        &self,
        index: u64,
        size: Option<u64>,
    ) -> Result<InclusionProof, LedgerError> {
        let size = size.unwrap_or(self.size);
        if size == 0 || size > self.size || index >= size {
            return Err(LedgerError::OutOfRange(format!(
                "entry {index} in tree size {size} (the ledger has {} entries)",
                self.size
            )));
        }
        let needs = log::inclusion_needs(index, size)
            .map_err(|e| LedgerError::OutOfRange(e.to_string()))?;
        let hashes = self.read_nodes(&needs)?;
        let proof = log::inclusion_proof_from(index, size, &hashes)
            .map_err(|e| corrupt("Merkle nodes", e.to_string()))?;
        let leaf_hash = self.read_nodes(&[log::stored_index_of_leaf(index)])?[0];
        Ok(InclusionProof {
            index,
            tree_size: size,
            leaf_hash,
            root: self.root_at(size)?,
            proof,
        })
    }

    /// Consistency proof from size `from` to size `to` (default: current).
    ///
    /// # Errors
    /// [`LedgerError::OutOfRange`] unless `1 <= from <= to <= size`.
    pub fn consistency_proof(
        &self,
        from: u64,
        to: Option<u64>,
    ) -> Result<ConsistencyProof, LedgerError> {
        let to = to.unwrap_or(self.size);
        if from == 0 || from > to || to > self.size {
            return Err(LedgerError::OutOfRange(format!(
                "consistency from {from} to {to} needs 1 <= from <= to <= {}",
                self.size
            )));
        }
        let needs =
            log::consistency_needs(from, to).map_err(|e| LedgerError::OutOfRange(e.to_string()))?;
        let hashes = self.read_nodes(&needs)?;
        let proof = log::consistency_proof_from(from, to, &hashes)
            .map_err(|e| corrupt("Merkle nodes", e.to_string()))?;
        Ok(ConsistencyProof {
            from,
            to,
            old_root: self.root_at(from)?,
            new_root: self.root_at(to)?,
            proof,
        })
    }

    /// Signs the current tree head with the log key and stores it.
    ///
    /// # Errors
    /// [`LedgerError::WrongLogKey`] if `key` is not the charter's log key.
    pub fn issue_checkpoint(&mut self, key: &KeyPair) -> Result<StoredCheckpoint, LedgerError> {
        if key.verifier().ok().as_ref() != Some(&self.log_key) {
            return Err(LedgerError::WrongLogKey {
                expected: self.log_key.to_string(),
            });
        }
        let cp = Checkpoint::new(&self.origin, self.size, self.root())
            .map_err(|e| corrupt("checkpoint", e.to_string()))?;
        let note = SignedCheckpoint::sign(&cp, self.log_key.name(), key.signing_key())
            .map_err(|e| corrupt("checkpoint", e.to_string()))?;
        let seq = match self.store.last(b"X")? {
            Some((k, _)) => keys::tail_u64(&k)
                .and_then(|n| n.checked_add(1))
                .ok_or_else(|| corrupt("checkpoints", "a checkpoint key is out of range"))?,
            None => 0,
        };
        let mut batch = WriteBatch::default();
        batch.put(keys::checkpoint(seq), note.to_bytes());
        self.store.commit(batch)?;
        self.checkpoint_count += 1;
        self.record_head()?;
        Ok(StoredCheckpoint {
            seq,
            note,
            cosigners: Vec::new(),
        })
    }

    /// Every checkpoint issued, oldest first, with its cosignatures.
    ///
    /// # Errors
    /// Store failures or corrupt notes.
    pub fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, LedgerError> {
        let mut out = Vec::new();
        for item in self.store.scan(b"X", None) {
            let (k, _) = item?;
            let seq = keys::tail_u64(&k).ok_or_else(|| corrupt("checkpoints", "bad key"))?;
            out.push(self.checkpoint(seq)?);
        }
        Ok(out)
    }

    /// Checkpoint `seq`, with its cosignatures.
    ///
    /// # Errors
    /// [`LedgerError::NotFound`] or corruption.
    pub fn checkpoint(&self, seq: u64) -> Result<StoredCheckpoint, LedgerError> {
        let bytes = self
            .store
            .get(&keys::checkpoint(seq))?
            .ok_or_else(|| LedgerError::NotFound(format!("checkpoint {seq}")))?;
        let mut note = SignedCheckpoint::from_bytes(&bytes)
            .map_err(|e| corrupt(format!("checkpoint {seq}"), e.to_string()))?;
        let mut cosigners = Vec::new();
        let prefix = keys::num(b'Y', seq);
        for item in self.store.scan(&prefix, None) {
            let (k, line) = item?;
            let member = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            note.add_signature_line(&line).map_err(|e| {
                corrupt(
                    format!("cosignature of {member} on checkpoint {seq}"),
                    e.to_string(),
                )
            })?;
            cosigners.push(member);
        }
        Ok(StoredCheckpoint {
            seq,
            note,
            cosigners,
        })
    }

    /// The latest checkpoint, if any was issued.
    ///
    /// # Errors
    /// Store failures.
    pub fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, LedgerError> {
        match self.store.last(b"X")? {
            Some((k, _)) => {
                let seq = keys::tail_u64(&k).ok_or_else(|| corrupt("checkpoints", "bad key"))?;
                Ok(Some(self.checkpoint(seq)?))
            }
            None => Ok(None),
        }
    }

    /// Stores a member's cosignature on checkpoint `seq`, after checking it against the
    /// member's current key. Use [`crate::verify`] first: a member cosigns only what it
    /// has verified.
    ///
    /// # Errors
    /// [`LedgerError::Cosign`] naming what is wrong.
    pub fn add_cosignature(
        &mut self,
        seq: u64,
        member: &KeyPair,
        timestamp: u64,
    ) -> Result<StoredCheckpoint, LedgerError> {
        let cp = self.checkpoint(seq)?;
        let id: accord_core::model::MemberId = member
            .name()
            .parse()
            .map_err(|e: accord_core::model::FieldError| LedgerError::Cosign(e.to_string()))?;
        let current = self
            .governance()?
            .current_key(&id)
            .cloned()
            .ok_or_else(|| {
                LedgerError::Cosign(format!("{id} is not an active member with a usable key"))
            })?;
        if member.verifier().ok().as_ref() != Some(&current) {
            return Err(LedgerError::Cosign(format!(
                "the key given is not {id}'s current key {}",
                current.keyid()
            )));
        }
        if cp.cosigners.iter().any(|c| c == id.as_str()) {
            return Err(LedgerError::Cosign(format!(
                "{id} already cosigned checkpoint {seq}"
            )));
        }
        let line = cp
            .note
            .cosignature_line(id.as_str(), member.signing_key(), timestamp)
            .map_err(|e| LedgerError::Cosign(e.to_string()))?;
        let mut key = keys::num(b'Y', seq);
        key.extend_from_slice(id.as_str().as_bytes());
        let mut batch = WriteBatch::default();
        batch.put(key, line);
        self.store.commit(batch)?;
        self.cosignature_count += 1;
        self.record_head()?;
        self.checkpoint(seq)
    }

    /// Stores a cosignature line a member made elsewhere (`— <member> base64(key ID ||
    /// timestamp || signature)`, c2sp.org/tlog-cosignature) on checkpoint `seq`, after
    /// checking that it is a `cosignature/v1` of that checkpoint by the member's current
    /// key. The service receives these; [`Ledger::add_cosignature`] makes them locally.
    ///
    /// # Errors
    /// [`LedgerError::NotFound`] for no such checkpoint; [`LedgerError::Cosign`] naming
    /// what is wrong with the line.
    pub fn add_cosignature_line(
        &mut self,
        seq: u64,
        line: &[u8],
    ) -> Result<StoredCheckpoint, LedgerError> {
        let cp = self.checkpoint(seq)?;
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let mut probe = cp.note.clone();
        probe
            .add_signature_line(line)
            .map_err(|e| LedgerError::Cosign(e.to_string()))?;
        // The line just added is the last one (a line replacing one of the same key moves
        // to the end); it must have the shape of a cosignature/v1.
        let c = probe
            .cosignatures()
            .pop()
            .filter(|c| line.starts_with(format!("\u{2014} {} ", c.name).as_bytes()))
            .ok_or_else(|| {
                LedgerError::Cosign("the line is not a cosignature/v1 signature line".into())
            })?;
        let id: accord_core::model::MemberId = c
            .name
            .parse()
            .map_err(|e: accord_core::model::FieldError| LedgerError::Cosign(e.to_string()))?;
        let current = self
            .governance()?
            .current_key(&id)
            .cloned()
            .ok_or_else(|| {
                LedgerError::Cosign(format!("{id} is not an active member with a usable key"))
            })?;
        if cp.cosigners.iter().any(|m| m == id.as_str()) {
            return Err(LedgerError::Cosign(format!(
                "{id} already cosigned checkpoint {seq}"
            )));
        }
        cp.note
            .verify_cosignature(&c, id.as_str(), current.verifying_key())
            .map_err(|e| LedgerError::Cosign(e.to_string()))?;
        let mut key = keys::num(b'Y', seq);
        key.extend_from_slice(id.as_str().as_bytes());
        let mut stored = line.to_vec();
        stored.push(b'\n');
        let mut batch = WriteBatch::default();
        batch.put(key, stored);
        self.store.commit(batch)?;
        self.cosignature_count += 1;
        self.record_head()?;
        self.checkpoint(seq)
    }
}

/// Writes for one entry: the leaf, its new Merkle nodes, and the indexes.
fn stage_writes(
    batch: &mut WriteBatch,
    index: u64,
    leaf: &[u8],
    hashes: &[Hash],
    payload: &Payload,
    state: &State,
) {
    batch.put(keys::entry(index), leaf.to_vec());
    let first = log::stored_index_of_leaf(index).0;
    for (i, h) in hashes.iter().enumerate() {
        batch.put(keys::node(first + i as u64), h.0.to_vec());
    }
    for (k, v) in index_keys(index, payload, state) {
        batch.put(k, v);
    }
}

/// The index keys (and values) an entry adds: its id, and for commitments and their
/// lifecycle entries the history, party, country, kind and commodity indexes. The audit
/// recomputes these and checks the store holds exactly them.
pub(crate) fn index_keys(index: u64, payload: &Payload, state: &State) -> Vec<(Vec<u8>, Vec<u8>)> {
    let idx = index.to_be_bytes();
    let mut out = vec![(
        keys::parts(b'I', &[payload.id.as_str().as_bytes()]),
        idx.to_vec(),
    )];
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

/// A shared sled store, so the ledger can both use it as a [`Store`] and ask it for its
/// size on disk.
struct ArcStore(std::sync::Arc<SledStore>);

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
    fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.0.commit(batch)
    }
}
