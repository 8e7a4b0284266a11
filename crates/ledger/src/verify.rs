//! The full audit of a ledger: what an auditor runs.
//!
//! Replays every entry from the charter through the governance state machine, checks every
//! signature strictly (in parallel, in chunks, with the verdict a sequential replay would
//! give), recomputes every Merkle node and the root, and checks every checkpoint's log
//! signature, root and cosignatures. Nothing read from disk is trusted. Memory holds the
//! governance state, the Merkle frontier and one chunk of entries, never the whole ledger.

use std::collections::{BTreeMap, BTreeSet};

use accord_core::entry::LoggedEntry;
use accord_core::governance::{self, verify_parallel, Authorised, KeyStatus, Rejection, State};
use accord_core::log::{self, Frontier, Hash};
use accord_core::model::MemberId;
use accord_core::model::Payload;
use rayon::prelude::*;

use crate::error::LedgerError;
use crate::ledger::{charter_hash, index_keys, Ledger};
use crate::store::printable;
use crate::tree::TileTree;

/// Entries whose signatures are checked together.
pub const VERIFY_CHUNK: usize = 1024;

/// What to check beyond the ledger itself.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// The charter hash the auditor trusts (SHA-256 of the charter's payload); entry 0 must
    /// match it.
    pub charter_hash: Option<[u8; 32]>,
    /// Verify only the first `n` entries (and the checkpoints within them).
    pub up_to: Option<u64>,
}

/// What a successful audit found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct VerifyReport {
    /// Entries verified.
    pub size: u64,
    /// The recomputed root, base64.
    pub root: String,
    /// The charter hash, hex.
    pub charter_hash: String,
    /// Signatures verified.
    pub signatures: u64,
    /// Entries by type.
    pub by_type: BTreeMap<String, u64>,
    /// Checkpoints verified.
    pub checkpoints: usize,
    /// The latest checkpoint verified: its size.
    pub latest_checkpoint_size: Option<u64>,
    /// Members whose cosignatures on the latest checkpoint verified.
    pub latest_cosigners: Vec<String>,
}

/// Why an audit failed, or could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The ledger does not verify: the first bad place and exactly why.
    #[error("verification failed at {at}: {why}")]
    Failed {
        /// Where ("entry 17", "checkpoint 2", "Merkle node 40").
        at: String,
        /// The first bad entry index, when the failure is an entry's.
        index: Option<u64>,
        /// Why.
        why: String,
    },
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

fn failed(index: u64, why: impl Into<String>) -> VerifyError {
    VerifyError::Failed {
        at: format!("entry {index}"),
        index: Some(index),
        why: why.into(),
    }
}

fn failed_at(at: impl Into<String>, why: impl Into<String>) -> VerifyError {
    VerifyError::Failed {
        at: at.into(),
        index: None,
        why: why.into(),
    }
}

fn check_chunk(chunk: &[Authorised]) -> Result<(), VerifyError> {
    verify_parallel(chunk).map_err(|(pos, rej)| {
        let index = chunk.get(pos).map_or(0, Authorised::index);
        failed(index, rej.to_string())
    })
}

/// What a leaf decodes to without any state; computed for a block of leaves in parallel.
struct Decoded {
    index: u64,
    hash: Hash,
    entry: Result<LoggedEntry, accord_core::entry::LeafError>,
    /// The decoded payload, when the leaf parsed.
    payload: Option<Result<Payload, Rejection>>,
}

impl Decoded {
    fn new(index: u64, leaf: &[u8]) -> Self {
        let entry = LoggedEntry::from_leaf(leaf);
        let payload = entry.as_ref().ok().map(|e| governance::decode(&e.envelope));
        Decoded {
            index,
            hash: log::leaf_hash(leaf),
            entry,
            payload,
        }
    }
}

/// Signature checks run one chunk behind the sequential work (reading, parsing, governance,
/// hashing), on the rayon pool, so the two overlap. Verdicts stay in log order: a chunk's
/// failure is reported before anything found later.
struct Pipeline {
    inflight: Option<std::thread::JoinHandle<Result<(), VerifyError>>>,
}

impl Pipeline {
    fn wait(&mut self) -> Result<(), VerifyError> {
        match self.inflight.take() {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err(failed_at("signature checks", "a verifier thread failed"))),
            None => Ok(()),
        }
    }

    /// Hands `pending` to the verifiers after the previous chunk's verdict is in.
    fn flush(&mut self, pending: &mut Vec<Authorised>) -> Result<(), VerifyError> {
        self.wait()?;
        let chunk = std::mem::take(pending);
        self.inflight = Some(std::thread::spawn(move || check_chunk(&chunk)));
        Ok(())
    }

    /// Waits for every check, the in-flight chunk first.
    fn finish(&mut self, pending: &mut Vec<Authorised>) -> Result<(), VerifyError> {
        self.wait()?;
        let r = check_chunk(pending);
        pending.clear();
        r
    }
}

/// Audits `ledger`. `progress(done, total)` is called as entries are checked.
///
/// # Errors
/// [`VerifyError::Failed`] with the first bad place, or [`VerifyError::Ledger`].
pub fn verify(
    ledger: &Ledger,
    opts: &VerifyOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifyReport, VerifyError> {
    let size = opts.up_to.unwrap_or(ledger.size()).min(ledger.size());
    let checkpoints = ledger
        .checkpoints()
        .map_err(|e| failed_at("checkpoints", e.to_string()))?;
    let mut wanted: BTreeSet<u64> = checkpoints
        .iter()
        .map(|c| c.note.checkpoint().size())
        .filter(|s| *s <= size)
        .collect();
    let mut roots: BTreeMap<u64, Hash> = BTreeMap::new();
    let mut frontier = Frontier::new();
    let mut rebuilt = TileTree::new();
    let mut state: Option<State> = None;
    let mut pending: Vec<Authorised> = Vec::with_capacity(VERIFY_CHUNK);
    let mut pipeline = Pipeline { inflight: None };
    let mut report = VerifyReport {
        size,
        root: String::new(),
        charter_hash: String::new(),
        signatures: 0,
        by_type: BTreeMap::new(),
        checkpoints: 0,
        latest_checkpoint_size: None,
        latest_cosigners: Vec::new(),
    };
    let mut expected = 0u64;
    // What the entries say each index table holds, as a count and a sum of item hashes,
    // compared with one scan of each table at the end (a full audit); an audit that stops
    // short of the ledger's size looks each item up instead.
    let full = size == ledger.size();
    let mut index_sums: BTreeMap<u8, TableSum> = BTreeMap::new();
    let mut last_logged_at = None;
    let mut last_governance = 0u64;

    // Any failure found by the sequential pass waits for the signature checks of the
    // entries before it: an earlier bad signature is the first bad place.
    let mut pass = || -> Result<(), VerifyError> {
        let mut leaves = ledger.raw_leaves(0);
        let mut read = 0u64;
        loop {
            // Read a block in order, then decode it on all cores: what needs no state
            // (leaf hash, leaf and payload parsing) runs ahead of the sequential checks.
            let mut block = Vec::with_capacity(VERIFY_CHUNK);
            while block.len() < VERIFY_CHUNK && read < size {
                match leaves.next() {
                    Some(item) => {
                        let stop = item.is_err();
                        block.push(item);
                        read += 1;
                        if stop {
                            break;
                        }
                    }
                    None => break,
                }
            }
            if block.is_empty() {
                break;
            }
            let decoded: Vec<Result<Decoded, LedgerError>> = block
                .into_par_iter()
                .map(|item| item.map(|(index, leaf)| Decoded::new(index, &leaf)))
                .collect();
            for item in decoded {
                let Decoded {
                    index,
                    hash,
                    entry,
                    payload: decoded_payload,
                } = item?;
                if index != expected {
                    return Err(failed(
                        expected,
                        format!("entry is missing (next stored entry is {index})"),
                    ));
                }
                frontier.push(hash);
                rebuilt.push(hash);
                if rebuilt.size() % 256 == 0 || rebuilt.size() == size {
                    let at_end = rebuilt.size() == ledger.size();
                    compare_tiles(ledger, &mut rebuilt, at_end)?;
                }
                let entry = entry.map_err(|e| failed(index, e.to_string()))?;
                if entry.index != index {
                    return Err(failed(
                        index,
                        format!("the leaf says it is entry {}", entry.index),
                    ));
                }
                if let Some(prev) = &last_logged_at {
                    if entry.logged_at.instant() < *prev {
                        return Err(failed(index, "logged_at runs backwards"));
                    }
                }
                last_logged_at = Some(entry.logged_at.instant());
                if entry.governance != last_governance {
                    return Err(failed(
                        index,
                        format!(
                        "the leaf points at governance entry {}, but the latest before it is {}",
                        entry.governance, last_governance
                    ),
                    ));
                }
                report.signatures += entry.envelope.signatures.len() as u64;
                let payload;
                let is_gov;
                match &mut state {
                    None => {
                        if let Some(want) = opts.charter_hash {
                            let got = charter_hash(&entry.envelope);
                            if got != want {
                                return Err(failed(
                                    0,
                                    format!(
                                        "the charter's hash is {}, not the trusted {}",
                                        hex::encode(got),
                                        hex::encode(want)
                                    ),
                                ));
                            }
                        }
                        report.charter_hash = hex::encode(charter_hash(&entry.envelope));
                        let (s, a) =
                            State::start(&entry.envelope).map_err(|e| failed(0, e.to_string()))?;
                        a.verify().map_err(|e| failed(0, e.to_string()))?;
                        state = Some(s);
                        payload = a.payload().clone();
                        is_gov = true;
                        *report.by_type.entry("charter".into()).or_default() += 1;
                    }
                    Some(s) => match s.advance(&entry.envelope, decoded_payload) {
                        Ok(a) => {
                            payload = a.payload().clone();
                            is_gov = payload.body.is_governance();
                            *report
                                .by_type
                                .entry(payload.body.type_name().into())
                                .or_default() += 1;
                            pending.push(a);
                            if pending.len() >= VERIFY_CHUNK {
                                pipeline.flush(&mut pending)?;
                            }
                        }
                        Err(rej) => {
                            return Err(failed(index, rej.to_string()));
                        }
                    },
                }
                if let Some(s) = &state {
                    for (k, v) in index_keys(index, &payload, s) {
                        if full {
                            index_sums.entry(k[0]).or_default().add(&k, &v);
                        } else if ledger
                            .store()
                            .get(&k)
                            .map_err(LedgerError::from)?
                            .as_deref()
                            != Some(v.as_slice())
                        {
                            return Err(failed(
                                index,
                                format!(
                                    "index key {} of {} is missing or altered",
                                    printable(&k),
                                    payload.id
                                ),
                            ));
                        }
                    }
                }
                if is_gov {
                    last_governance = index;
                }
                if wanted.remove(&frontier.size()) {
                    roots.insert(frontier.size(), frontier.root());
                }
                expected += 1;
                if expected % 4096 == 0 || expected == size {
                    progress(expected, size);
                }
            }
        }
        Ok(())
    };
    let outcome = pass();
    if let Err(e) = outcome {
        pipeline.finish(&mut pending)?;
        return Err(e);
    }
    pipeline.finish(&mut pending)?;
    if expected != size {
        return Err(failed(expected, "entry is missing"));
    }
    if size == ledger.size() {
        // The state at rest is the state the replay reached: the governance snapshot and
        // every commitment record, byte for byte.
        if let Some(s) = &state {
            check_state_at_rest(ledger, s, last_governance)?;
            let records = index_sums.entry(b'S').or_default();
            for (id, c) in s.commitments() {
                records.add(&crate::keys::commitment_record(id.as_str()), &c.to_bytes());
            }
        }
        // Nothing beyond the entries: no stray tiles, bundles or leaves, and each index
        // table holds exactly the items the entries account for.
        for prefix in [b'M', b'G', b'T', b'B', b'L'] {
            let want = match prefix {
                b'M' => 2,
                b'G' => 1,
                b'T' => accord_core::tiles::hash_tiles(size).len() as u64,
                b'B' => size / 256,
                _ => size % 256,
            };
            let mut have = 0u64;
            for item in ledger.store().scan(&[prefix], None) {
                item.map_err(LedgerError::from)?;
                have += 1;
            }
            if have != want {
                return Err(failed_at(
                    format!("the {} table", table_name(prefix)),
                    format!("{have} keys where the entries account for {want}"),
                ));
            }
        }
        if state.is_some() {
            for prefix in [b'S', b'I', b'C', b'P', b'Q', b'K', b'O'] {
                let want = index_sums.remove(&prefix).unwrap_or_default();
                let mut have = TableSum::default();
                for item in ledger.store().scan(&[prefix], None) {
                    let (k, v) = item.map_err(LedgerError::from)?;
                    have.add(&k, &v);
                }
                if have != want {
                    return Err(failed_at(
                        format!("the {} table", table_name(prefix)),
                        if have.count == want.count {
                            format!(
                                "its {} items are not the ones the entries account for \
                                 (altered keys or values)",
                                have.count
                            )
                        } else {
                            format!(
                                "{} items where the entries account for {}",
                                have.count, want.count
                            )
                        },
                    ));
                }
            }
        }
    }
    let root = frontier.root();
    if size == ledger.size() && root != ledger.root() {
        return Err(failed_at(
            "Merkle root",
            "the stored nodes give another root",
        ));
    }
    report.root = root.to_base64();

    let Some(state) = state else {
        return Err(failed(0, "the ledger has no charter"));
    };
    for (i, cp) in checkpoints.iter().enumerate() {
        let c = cp.note.checkpoint();
        let at = format!("checkpoint {}", cp.seq);
        if cp.seq != i as u64 {
            return Err(failed_at(at, format!("checkpoint {i} is missing")));
        }
        if c.size() > ledger.size() {
            return Err(failed_at(
                at,
                format!(
                    "it covers {} entries but the ledger has {}: entries were lost",
                    c.size(),
                    ledger.size()
                ),
            ));
        }
        if c.size() > size {
            continue;
        }
        if c.origin() != ledger.origin() {
            return Err(failed_at(
                at,
                format!("origin {:?} is not this ledger's", c.origin()),
            ));
        }
        cp.note
            .verify_log(state.log_key().name(), state.log_key().verifying_key())
            .map_err(|e| failed_at(at.clone(), e.to_string()))?;
        if roots.get(&c.size()) != Some(c.root()) {
            return Err(failed_at(
                at,
                format!("its root is not the root of the first {} entries", c.size()),
            ));
        }
        let mut cosigners = Vec::new();
        for cos in cp.note.cosignatures() {
            let member: MemberId = cos.name.parse().map_err(|_| {
                failed_at(
                    at.clone(),
                    format!("cosignature by {:?}, not a member id", cos.name),
                )
            })?;
            // Judged as of the checkpoint's size: the member was still in the group, and the
            // key was not yet rotated out or revoked (what a key signed before it was
            // retired stays valid, docs/FORMAT.md section 8).
            let active = state
                .member(&member)
                .is_some_and(|m| m.removed_at.is_none_or(|r| r >= c.size()));
            let ok = active
                && state.member_keys(&member).iter().any(|(k, status)| {
                    let held = match status {
                        KeyStatus::Current => true,
                        KeyStatus::Rotated(at) | KeyStatus::Revoked(at) => *at >= c.size(),
                    };
                    held && cp.note.verify_cosignature(&cos, member.as_str(), k).is_ok()
                });
            if !ok {
                return Err(failed_at(
                    at,
                    format!("the cosignature by {member} does not verify with any of its keys"),
                ));
            }
            cosigners.push(member.to_string());
        }
        if cp.note.signature_count() != 1 + cosigners.len() {
            return Err(failed_at(
                at,
                format!(
                    "{} signature lines, but only the log's and {} cosignatures verify",
                    cp.note.signature_count(),
                    cosigners.len()
                ),
            ));
        }
        report.checkpoints += 1;
        report.latest_checkpoint_size = Some(c.size());
        report.latest_cosigners = cosigners;
    }
    Ok(report)
}

/// Compares the tiles a replay rebuilds with the stored ones: a full tile exactly; a partial
/// one as a prefix of the stored tile (which is wider, or full, when the ledger went on),
/// and exactly at the ledger's own size.
fn compare_tiles(ledger: &Ledger, rebuilt: &mut TileTree, at_end: bool) -> Result<(), VerifyError> {
    let mut batch = crate::store::WriteBatch::default();
    rebuilt.stage(&mut batch);
    for op in batch.ops {
        let crate::store::Op::Replace(key, want) = op else {
            continue;
        };
        let got = ledger
            .store()
            .get(&key)
            .map_err(LedgerError::from)?
            .unwrap_or_default();
        let full = want.len() == accord_core::tiles::FULL_TILE_BYTES;
        let ok = if full || at_end {
            got == want
        } else {
            got.starts_with(&want)
        };
        if ok {
            continue;
        }
        let level = key.get(1).copied().unwrap_or(0);
        let n = crate::keys::tail_u64(&key).unwrap_or(0);
        let id = accord_core::tiles::TileId::hashes(level, n, (want.len() / 32) as u32);
        // At level 0 the first differing hash names the entry whose bytes changed.
        let first_bad = (0..want.len() / 32)
            .find(|i| got.get(i * 32..i * 32 + 32) != want.get(i * 32..i * 32 + 32));
        return Err(match (level, first_bad) {
            (0, Some(i)) if got.len() >= (i + 1) * 32 => failed(
                n * 256 + i as u64,
                "the entry's bytes do not match its stored leaf hash",
            ),
            _ => failed_at(
                format!("Merkle tile {id}"),
                if got.is_empty() {
                    "missing".to_owned()
                } else {
                    "does not match the tile recomputed from the entries".to_owned()
                },
            ),
        });
    }
    Ok(())
}

/// The governance snapshot and commitment records hold what the replay reached.
fn check_state_at_rest(ledger: &Ledger, state: &State, through: u64) -> Result<(), VerifyError> {
    let stored = ledger
        .store()
        .get(crate::keys::SNAPSHOT_KEY)
        .map_err(LedgerError::from)?;
    if stored.as_deref() != Some(state.snapshot(through).as_slice()) {
        return Err(failed_at(
            "the governance snapshot",
            "it is not the state the entries replay to (members, keys or policy altered)",
        ));
    }
    Ok(())
}

fn table_name(prefix: u8) -> &'static str {
    match prefix {
        b'M' => "layout and metadata records",
        b'G' => "governance snapshot",
        b'T' => "Merkle tiles",
        b'B' => "entry bundles",
        b'L' => "partial bundle leaves",
        b'S' => "commitment records",
        b'I' => "entry id index",
        b'C' => "commitment history index",
        b'P' => "party index",
        b'Q' => "country index",
        b'K' => "kind index",
        _ => "commodity index",
    }
}

/// A multiset of (key, value) items as a count and the sum, modulo 2^256, of
/// SHA-256(u32 BE key length || key || value) over the items: equal for equal multisets, and
/// finding a different multiset with the same sum is as hard as a generalised birthday
/// problem over 256 bits.
#[derive(Default, Clone, PartialEq, Eq, Debug)]
struct TableSum {
    count: u64,
    sum: [u64; 4],
}

impl TableSum {
    fn add(&mut self, key: &[u8], value: &[u8]) {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(u32::try_from(key.len()).unwrap_or(u32::MAX).to_be_bytes());
        h.update(key);
        h.update(value);
        let d = h.finalize();
        let mut carry = 0u64;
        for (i, limb) in self.sum.iter_mut().enumerate() {
            let mut w = [0u8; 8];
            w.copy_from_slice(&d[i * 8..i * 8 + 8]);
            let (a, c1) = limb.overflowing_add(u64::from_be_bytes(w));
            let (b, c2) = a.overflowing_add(carry);
            *limb = b;
            carry = u64::from(c1) + u64::from(c2);
        }
        self.count += 1;
    }
}
