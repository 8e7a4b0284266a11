//! One sync of a replica from a log. The order is what makes it safe:
//!
//! 1. fetch `/checkpoint`; it must parse, be for the replica's origin and carry a valid
//!    signature by the log key the charter names (on a first run, the charter is entry 0 of
//!    what is fetched, and its hash may be pinned);
//! 2. compare it with the last checkpoint this mirror verified (the one it was importing,
//!    [`PENDING`], else the latest stored in the replica): a smaller size, or the same size
//!    with another root, is a rollback or fork: evidence is written and nothing changes;
//! 3. fetch the hash tiles that changed (on a first run, and entry bundle 0 for the charter);
//!    their level-0 hashes are the new leaves' hashes, and those of old leaves must be the
//!    replica's;
//! 4. recompute the root from the replica's frontier and those hashes: it must be the
//!    checkpoint's (else, if the log's tiles show a leaf below the last verified checkpoint
//!    that differs from the replica's, that is a fork with evidence; otherwise the tiles are
//!    refused as tampered);
//! 5. every hash in every tile served must be the one recomputed (a level-0 hash of an old
//!    leaf the replica's, a higher one the root of the full tile below), and the consistency
//!    proof from the last verified checkpoint, built from those tiles, must verify
//!    (RFC 9162 2.1.4.2);
//! 6. only then record the checkpoint in [`PENDING`] (durably) and fetch the entry bundles
//!    in order, each leaf's hash checked against its (now verified) level-0 tile hash as it
//!    arrives, importing them while the next bundles are fetched, with their index and
//!    `logged_at` (the ledger checks each leaf rebuilds to the same hash, decides governance
//!    and checks every signature strictly); then store the checkpoint with its cosignatures
//!    in the replica and remove [`PENDING`]. A bundle that does not hash to its tile stops
//!    the sync there: the entries before it, each checked against the signed tree, are kept.
//!
//! A kill at any point leaves a replica whose entries are a prefix of a tree the log signed
//! and this mirror verified; the next run starts from what the replica holds, and checks the
//! log's new checkpoint against the pending one too.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use accord_core::checkpoint::SignedCheckpoint;
use accord_core::entry::LoggedEntry;
use accord_core::evidence::{Divergence, Evidence, EVIDENCE_FORMAT};
use accord_core::governance::State;
use accord_core::keys::VerifierKey;
use accord_core::log::{self, Frontier, Hash, StoredIndex};
use accord_core::model::Timestamp;
use accord_core::tiles::{self, TileId, TileKind, FULL_TILE_BYTES, WIDTH};
use accord_ledger::{Ledger, LedgerError, LoggedLeaf};
use base64::prelude::*;

use crate::fetch::Source;
use crate::MirrorError;

/// The checkpoint being imported, as the signed note served, beside the replica's database.
pub const PENDING: &str = "mirror-pending.checkpoint";
/// Where earlier versions staged the leaves fetched before importing them; a sync that
/// completes removes such a file.
pub const STAGING: &str = "mirror-staging";
/// Where evidence files go, inside the replica's directory.
pub const EVIDENCE_DIR: &str = "evidence";

/// What a sync may trust.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The charter hash the replica must have (SHA-256 of the charter's payload).
    pub charter_hash: Option<[u8; 32]>,
}

/// What a sync did.
#[derive(Clone, Debug)]
pub struct Report {
    /// Entries in the replica before.
    pub before: u64,
    /// Entries now.
    pub size: u64,
    /// The root now, the checkpoint's.
    pub root: Hash,
    /// The replica's charter hash.
    pub charter_hash: [u8; 32],
    /// Whether this run created the replica.
    pub created: bool,
    /// The stored checkpoint's number in the replica.
    pub checkpoint_seq: u64,
    /// Members whose cosignatures it carries.
    pub cosigners: Vec<String>,
    /// Cosignature lines served that did not verify and were not stored.
    pub dropped_cosignatures: usize,
}

/// What a sync is doing, for progress reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Fetching entry bundles.
    Fetch,
    /// Verifying and importing entries.
    Import,
}

fn refused(why: impl Into<String>) -> MirrorError {
    MirrorError::Refused(why.into())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MirrorError + '_ {
    move |source| MirrorError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The tree as this sync sees it: the replica's first `k` leaves (its tiles), the tiles
/// served for the growth to the new size, and the new leaves' hashes.
struct View<'a> {
    replica: Option<&'a Ledger>,
    k: u64,
    served: HashMap<(u8, u64), Vec<u8>>,
    new_hashes: Vec<Hash>,
}

impl View<'_> {
    /// The widest version of tile (`level`, `n`) known: served, else the replica's.
    fn tile(&self, level: u8, n: u64) -> Result<Option<Vec<u8>>, MirrorError> {
        if let Some(t) = self.served.get(&(level, n)) {
            return Ok(Some(t.clone()));
        }
        let (Some(l), Some(id)) = (
            self.replica,
            tiles::tile_at_size(TileKind::Hashes { level }, n, self.k),
        ) else {
            return Ok(None);
        };
        Ok(Some(l.read_tile(id)?))
    }

    fn stored_hash(&self, index: StoredIndex) -> Result<Hash, MirrorError> {
        let t = tiles::tile_of(index);
        let level = t.level().unwrap_or(0);
        let bytes = self
            .tile(level, t.n)?
            .ok_or_else(|| refused(format!("no tile {t} was served")))?;
        tiles::hash_from_tile(index, &bytes)
            .ok_or_else(|| refused(format!("tile {t} served is too narrow")))
    }

    /// Leaf `i`'s hash in the level-0 tile served.
    fn served_leaf_hash(&self, i: u64) -> Result<Hash, MirrorError> {
        let index = log::stored_index_of_leaf(i);
        let t = tiles::tile_of(index);
        let bytes = self
            .served
            .get(&(0, t.n))
            .ok_or_else(|| refused(format!("no tile {t} was served")))?;
        tiles::hash_from_tile(index, bytes)
            .ok_or_else(|| refused(format!("tile {t} served is too narrow")))
    }

    fn leaf_hash(&self, i: u64) -> Result<Hash, MirrorError> {
        if i >= self.k {
            return usize::try_from(i - self.k)
                .ok()
                .and_then(|j| self.new_hashes.get(j).copied())
                .ok_or_else(|| refused(format!("no leaf {i} was served")));
        }
        // An old leaf's hash is the replica's, never a served tile's.
        let index = log::stored_index_of_leaf(i);
        let t = tiles::tile_of(index);
        let id = self
            .replica
            .and_then(|_| tiles::tile_at_size(TileKind::Entries, t.n, self.k))
            .map(|e| TileId::hashes(0, e.n, e.width));
        let (Some(l), Some(id)) = (self.replica, id) else {
            return Err(refused(format!("no leaf {i} in the replica")));
        };
        tiles::hash_from_tile(index, &l.read_tile(id)?)
            .ok_or_else(|| refused(format!("the replica's tile {id} is too narrow")))
    }

    /// Every hash of every tile served must be the one recomputed from the leaves.
    fn check_tiles(&self, n: u64) -> Result<(), MirrorError> {
        for id in tiles::changed_hash_tiles(self.k, n) {
            let level = id.level().unwrap_or(0);
            let bytes = self
                .served
                .get(&(level, id.n))
                .ok_or_else(|| refused(format!("no tile {id} was served")))?;
            for (i, got) in bytes.chunks_exact(32).enumerate() {
                let at = id.n * u64::from(WIDTH) + i as u64;
                let want = if level == 0 {
                    self.leaf_hash(at)?
                } else {
                    let child = self
                        .tile(level - 1, at)?
                        .filter(|c| c.len() == FULL_TILE_BYTES)
                        .ok_or_else(|| refused(format!("no full tile below {id} hash {i}")))?;
                    tiles::tile_root(&child)
                        .ok_or_else(|| refused(format!("tile below {id} hash {i} is not full")))?
                };
                if got != want.0 {
                    return Err(refused(format!(
                        "tile {id} served does not agree with the entries (hash {i} differs): \
                         a tampered tile"
                    )));
                }
            }
        }
        Ok(())
    }
}

fn check_note(note: &SignedCheckpoint, origin: &str, key: &VerifierKey) -> Result<(), MirrorError> {
    if note.checkpoint().origin() != origin {
        return Err(refused(format!(
            "the checkpoint served is for {:?}, the replica's charter for {origin:?}",
            note.checkpoint().origin()
        )));
    }
    note.verify_log(key.name(), key.verifying_key())
        .map_err(|e| {
            refused(format!(
                "the checkpoint served is not signed by the log key {key}: {e}"
            ))
        })
}

fn read_pending(dir: &Path) -> Result<Option<SignedCheckpoint>, MirrorError> {
    let path = dir.join(PENDING);
    match std::fs::read(&path) {
        Ok(b) => SignedCheckpoint::from_bytes(&b)
            .map(Some)
            .map_err(|e| refused(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path)(e)),
    }
}

fn sync_dir(dir: &Path) -> Result<(), MirrorError> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io(dir))
}

/// Writes `bytes` to `dir/name` atomically and durably (temporary file, fsync, rename).
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, MirrorError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    sync_dir(dir)?;
    Ok(path)
}

fn remove_if_there(path: &Path) -> Result<(), MirrorError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path)(e)),
        _ => Ok(()),
    }
}

/// Brings the replica in `dir` up to the log's current checkpoint, or leaves it as it was.
///
/// # Errors
/// [`MirrorError`]: nothing that fails a check is kept, and [`MirrorError::Fork`] names the
/// evidence written.
pub fn sync(
    src: &Source,
    dir: &Path,
    opts: &Options,
    progress: &mut dyn FnMut(Phase, u64, u64),
) -> Result<Report, MirrorError> {
    sync_open(src, dir, opts, progress).map(|(report, _)| report)
}

/// [`sync`], handing back the replica still open, so that what follows in the same process
/// (a member's cosignature of the checkpoint just verified) needs no second open.
///
/// # Errors
/// As [`sync`].
pub fn sync_open(
    src: &Source,
    dir: &Path,
    opts: &Options,
    progress: &mut dyn FnMut(Phase, u64, u64),
) -> Result<(Report, Ledger), MirrorError> {
    let note_bytes = src.get("/checkpoint")?;
    let note = SignedCheckpoint::from_bytes(&note_bytes)
        .map_err(|e| refused(format!("the checkpoint served does not parse: {e}")))?;
    let n = note.checkpoint().size();
    if n == 0 {
        return Err(refused("the checkpoint served is of an empty tree"));
    }
    let mut replica = match Ledger::open(dir) {
        Ok(l) => Some(l),
        Err(LedgerError::NotALedger(_) | LedgerError::Incomplete(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let k = replica.as_ref().map_or(0, Ledger::size);
    let before = k;
    let mut stored: Option<SignedCheckpoint> = None;
    let mut reference: Option<SignedCheckpoint> = None;
    if let Some(l) = &replica {
        if let Some(pin) = opts.charter_hash {
            if pin != l.charter_hash() {
                return Err(refused(format!(
                    "the replica's charter hash is {}, not the --charter-hash given",
                    hex::encode(l.charter_hash())
                )));
            }
        }
        check_note(&note, l.origin(), l.log_key())?;
        stored = l.latest_checkpoint()?.map(|c| c.note);
        reference = read_pending(dir)?.or_else(|| stored.clone());
        if let Some(r) = &reference {
            let rc = r.checkpoint();
            let why = if n < rc.size() {
                Some(format!(
                    "the log's checkpoint has {n} entries, fewer than the {} of the checkpoint \
                     verified before (a rollback)",
                    rc.size()
                ))
            } else if n == rc.size() && !rc.root().ct_eq(note.checkpoint().root()) {
                Some(format!(
                    "the log signed two different trees of {n} entries (a fork)"
                ))
            } else {
                None
            };
            if let Some(why) = why {
                let verified = if n < rc.size() && rc.size() > k {
                    stored.clone().unwrap_or_else(|| r.clone())
                } else {
                    r.clone()
                };
                let divergence = if n == verified.checkpoint().size() {
                    None
                } else {
                    find_divergence(src, l, &verified, &note)?
                };
                return Err(write_evidence(
                    src, dir, l, &verified, &note, divergence, why,
                )?);
            }
        }
        if n < k {
            return Err(refused(format!(
                "the log's checkpoint has {n} entries, fewer than the {k} the replica holds"
            )));
        }
    } else {
        // Nothing was kept: whatever a killed first run left pending is moot.
        remove_if_there(&dir.join(PENDING))?;
    }

    if n == k {
        let l = replica.take().ok_or_else(|| refused("nothing to mirror"))?;
        if !l.root().ct_eq(note.checkpoint().root()) {
            return Err(refused(format!(
                "the log's checkpoint of {n} entries is not the replica's tree, and no \
                 checkpoint verified before shows whose tree is right"
            )));
        }
        return finish(dir, l, &note, before, false);
    }

    let mut charter: Option<LoggedEntry> = None;
    // Fetch the hash tiles that changed: they authenticate every leaf before any bundle comes.
    let mut view = View {
        replica: replica.as_ref(),
        k,
        served: HashMap::new(),
        new_hashes: Vec::new(),
    };
    let hash_tiles = tiles::changed_hash_tiles(k, n);
    let tiles_total = hash_tiles.len() as u64;
    let mut tiles_done = 0;
    fetch_in_order(src, &hash_tiles, |id, bytes| {
        if bytes.len() != id.hash_bytes() {
            return Err(MirrorError::Fetch(format!(
                "tile {id} served is {} bytes, not {}: a truncated or wrong tile",
                bytes.len(),
                id.hash_bytes()
            )));
        }
        view.served.insert((id.level().unwrap_or(0), id.n), bytes);
        tiles_done += 1;
        progress(Phase::Fetch, tiles_done, tiles_total);
        Ok(())
    })?;
    let w = u64::from(WIDTH);
    // The leaves of the bundle that holds leaf `k` and of every one after it, by their
    // level-0 hashes as served.
    let first = k / w * w;
    let expected = (first..n)
        .map(|i| view.served_leaf_hash(i))
        .collect::<Result<Vec<Hash>, _>>()?;
    view.new_hashes = expected[usize::try_from(k - first).unwrap_or(0)..].to_vec();

    // On a first run the charter fixes origin and log key: entry 0, from the first bundle.
    let mut head: Vec<Vec<u8>> = Vec::new();
    let (origin, log_key) = match &replica {
        Some(l) => (l.origin().to_owned(), l.log_key().clone()),
        None => {
            let id = TileId::entries(0, n.min(w) as u32);
            head = checked_bundle(id, &src.tile(id)?, &expected)?;
            let leaf = head
                .first()
                .ok_or_else(|| refused("the log served no charter"))?;
            let c = LoggedEntry::from_leaf(leaf).map_err(|e| refused(format!("entry 0: {e}")))?;
            if c.index != 0 || c.governance != 0 {
                return Err(refused("entry 0's leaf does not say it is entry 0"));
            }
            let (state, _) = State::start(&c.envelope)
                .map_err(|e| refused(format!("entry 0 is not a charter: {e}")))?;
            let hash = accord_ledger::charter_hash(&c.envelope);
            if let Some(pin) = opts.charter_hash {
                if pin != hash {
                    return Err(refused(format!(
                        "the log's charter hash is {}, not the --charter-hash given",
                        hex::encode(hash)
                    )));
                }
            }
            let keys = (state.origin().to_owned(), state.log_key().clone());
            charter = Some(c);
            keys
        }
    };
    check_note(&note, &origin, &log_key)?;

    let mut frontier = match &replica {
        Some(l) => l.frontier()?,
        None => Frontier::new(),
    };
    for h in &view.new_hashes {
        frontier.push(*h);
    }
    if !frontier.root().ct_eq(note.checkpoint().root()) {
        if let (Some(l), Some(s)) = (&replica, &stored) {
            if let Some(d) = find_divergence(src, l, s, &note)? {
                let why = format!(
                    "the log's tree of {n} entries holds another entry {} than the tree of {} \
                     entries verified before (a fork)",
                    d.index,
                    s.checkpoint().size()
                );
                return Err(write_evidence(src, dir, l, s, &note, Some(d), why)?);
            }
        }
        return Err(refused(format!(
            "the level-0 tiles served do not hash to the checkpoint's root ({n} entries): a \
             tampered tile"
        )));
    }
    view.check_tiles(n)?;
    if let Some(r) = &reference {
        let rc = r.checkpoint();
        if rc.size() < n {
            let needs = log::consistency_needs(rc.size(), n)
                .map_err(|e| refused(format!("consistency proof: {e}")))?;
            let hashes = needs
                .iter()
                .map(|&i| view.stored_hash(i))
                .collect::<Result<Vec<_>, _>>()?;
            let proof = log::consistency_proof_from(rc.size(), n, &hashes)
                .map_err(|e| refused(format!("consistency proof: {e}")))?;
            log::verify_consistency(rc.size(), n, rc.root(), note.checkpoint().root(), &proof)
                .map_err(|e| {
                    refused(format!(
                        "no consistency proof from the checkpoint of {} entries verified \
                         before: {e}",
                        rc.size()
                    ))
                })?;
        }
    }
    drop(view);

    // Accept: pending first, then the entries as their bundles come, then the checkpoint.
    write_atomic(dir, PENDING, &note.to_bytes())?;
    let created = replica.is_none();
    let mut l = match replica.take() {
        Some(l) => l,
        None => {
            let c = charter.ok_or_else(|| refused("the log served no charter"))?;
            let l = Ledger::create_at(dir, &c.envelope, Some(c.logged_at.clone()))?;
            if !expected.first().is_some_and(|h| l.root().ct_eq(h)) {
                return Err(refused(
                    "entry 0's leaf does not rebuild to the leaf served",
                ));
            }
            l
        }
    };
    let base = l.size();
    // Bundle 0 of a first run is in hand already (its leaf 0 is the charter).
    let from_bundle = if head.is_empty() { first / w } else { 1 };
    let bundles: Vec<TileId> = (from_bundle..n.div_ceil(w))
        .map(|b| TileId::entries(b, (n - b * w).min(w) as u32))
        .collect();
    let stream = Stream {
        src,
        bundles: &bundles,
        first,
        base,
        expected: &expected,
    };
    let (report, fetched) = std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel(STREAM_LEAVES);
        let fetcher = s.spawn(move || stream.run(head, &tx));
        let items = rx.into_iter().map(|leaf| Ok(LoggedLeaf(leaf)));
        let report = l.import(items, &mut |done| progress(Phase::Import, base + done, n));
        let fetched = fetcher
            .join()
            .unwrap_or_else(|_| Err(MirrorError::Fetch("the fetching thread failed".into())));
        (report, fetched)
    });
    let report = report?;
    if let Some((pos, rej)) = report.rejected {
        return Err(refused(format!(
            "the log signed a checkpoint whose entry {} does not verify: {rej}",
            base + pos
        )));
    }
    // A bundle that failed after others were imported: those are kept, each leaf checked
    // against tiles verified against the signed root, and the next run goes on from them.
    fetched?;
    if l.size() != n || !l.root().ct_eq(note.checkpoint().root()) {
        return Err(refused(format!(
            "after import the replica has {} entries, not the checkpoint's {n}",
            l.size()
        )));
    }
    finish(dir, l, &note, before, created)
}

/// Leaves fetched and checked that wait for the import (a few of its groups).
const STREAM_LEAVES: usize = 8_192;

/// The new entries' bundles, fetched in order and handed to the import leaf by leaf once
/// each leaf's hash is the one the (verified) level-0 tiles hold for it.
struct Stream<'a> {
    src: &'a Source,
    bundles: &'a [TileId],
    /// The first leaf `expected` holds (the first of the bundle holding the replica's next).
    first: u64,
    /// The first leaf to hand on (the replica's size when the import starts).
    base: u64,
    expected: &'a [Hash],
}

impl Stream<'_> {
    /// Sends `head` (the rest of bundle 0 on a first run) and then every leaf from `base`
    /// on; stops quietly when the import no longer takes them.
    fn run(
        self,
        head: Vec<Vec<u8>>,
        tx: &std::sync::mpsc::SyncSender<Vec<u8>>,
    ) -> Result<(), MirrorError> {
        // Leaves below `base` are the replica's (their hashes were checked): not sent. False
        // once the import takes no more.
        let send = |at: u64, leaves: Vec<Vec<u8>>| {
            (at..)
                .zip(leaves)
                .filter(|(i, _)| *i >= self.base)
                .all(|(_, leaf)| tx.send(leaf).is_ok())
        };
        if !send(self.first, head) {
            return Ok(());
        }
        let mut gone = false;
        let r = fetch_in_order(self.src, self.bundles, |id, bytes| {
            let at = id.n * u64::from(WIDTH);
            let from = usize::try_from(at - self.first).unwrap_or(usize::MAX);
            let leaves = checked_bundle(id, &bytes, self.expected.get(from..).unwrap_or(&[]))?;
            if send(at, leaves) {
                Ok(())
            } else {
                gone = true;
                Err(MirrorError::Fetch("the import stopped".into()))
            }
        });
        if gone {
            return Ok(());
        }
        r
    }
}

/// The leaves of entry bundle `id`, each checked to hash to `expected[j]`, its level-0 tile
/// hash as served (which the root and the tiles above authenticate).
fn checked_bundle(
    id: TileId,
    bytes: &[u8],
    expected: &[Hash],
) -> Result<Vec<Vec<u8>>, MirrorError> {
    let entries =
        tiles::bundle_entries(bytes).map_err(|e| refused(format!("entry bundle {id}: {e}")))?;
    if entries.len() != id.width as usize {
        return Err(refused(format!(
            "entry bundle {id} holds {} entries, not {}: a truncated or wrong bundle",
            entries.len(),
            id.width
        )));
    }
    entries
        .into_iter()
        .enumerate()
        .map(|(j, leaf)| {
            let i = id.n * u64::from(WIDTH) + j as u64;
            if !expected
                .get(j)
                .is_some_and(|h| log::leaf_hash(leaf).ct_eq(h))
            {
                return Err(refused(format!(
                    "entry bundle {id} holds an entry {i} whose hash is not the tile's: the \
                     entries served do not hash to the checkpoint's root (a tampered or wrong \
                     entry bundle)"
                )));
            }
            Ok(leaf.to_vec())
        })
        .collect()
}

/// Requests in a chunk while a sync fetches tiles and bundles (up to two chunks in flight).
pub const FETCH_JOBS: usize = 16;

/// Fetches `ids` in chunks of [`FETCH_JOBS`], the next chunk while the one before is handed
/// on, and hands each body to `f` in the order of `ids`; the first error (of a fetch or of
/// `f`) stops it.
fn fetch_in_order(
    src: &Source,
    ids: &[TileId],
    mut f: impl FnMut(TileId, Vec<u8>) -> Result<(), MirrorError>,
) -> Result<(), MirrorError> {
    std::thread::scope(|s| {
        let fetch = |chunk: &[TileId]| -> Vec<_> {
            chunk
                .iter()
                .map(|&id| s.spawn(move || src.tile(id)))
                .collect()
        };
        let mut chunks = ids.chunks(FETCH_JOBS);
        let mut next = chunks.next().map(|c| (c, fetch(c)));
        while let Some((chunk, fetching)) = next.take() {
            // The next chunk is fetched while this one is handed on.
            next = chunks.next().map(|c| (c, fetch(c)));
            for (&id, h) in chunk.iter().zip(fetching) {
                let body = h
                    .join()
                    .unwrap_or_else(|_| Err(MirrorError::Fetch("a fetching thread failed".into())));
                f(id, body?)?;
            }
        }
        Ok(())
    })
}

fn finish(
    dir: &Path,
    mut l: Ledger,
    note: &SignedCheckpoint,
    before: u64,
    created: bool,
) -> Result<(Report, Ledger), MirrorError> {
    let (cp, dropped) = l.store_checkpoint(note)?;
    remove_if_there(&dir.join(PENDING))?;
    remove_if_there(&dir.join(STAGING))?;
    let report = Report {
        before,
        size: l.size(),
        root: l.root(),
        charter_hash: l.charter_hash(),
        created,
        checkpoint_seq: cp.seq,
        cosigners: cp.cosigners,
        dropped_cosignatures: dropped,
    };
    Ok((report, l))
}

/// Looks, in the log's level-0 tiles at the served checkpoint's size, for the first leaf
/// below both checkpoints' sizes that differs from the replica's, and when the log's own
/// tiles include it in the served checkpoint's tree, returns both leaves with their
/// inclusion proofs. `None` when no such leaf is found or the log's tiles do not prove it.
fn find_divergence(
    src: &Source,
    l: &Ledger,
    verified: &SignedCheckpoint,
    served: &SignedCheckpoint,
) -> Result<Option<Divergence>, MirrorError> {
    let (a, b) = (verified.checkpoint().size(), served.checkpoint().size());
    let m = a.min(b).min(l.size());
    let mut cache: HashMap<(u8, u64), Vec<u8>> = HashMap::new();
    let mut theirs = |level: u8, t: u64| -> Result<Option<Vec<u8>>, MirrorError> {
        if let Some(v) = cache.get(&(level, t)) {
            return Ok(Some(v.clone()));
        }
        let Some(id) = tiles::tile_at_size(TileKind::Hashes { level }, t, b) else {
            return Ok(None);
        };
        match src.tile(id) {
            Ok(v) if v.len() == id.hash_bytes() => {
                cache.insert((level, t), v.clone());
                Ok(Some(v))
            }
            Ok(_) => Ok(None),
            Err(MirrorError::Fetch(_)) => Ok(None),
            Err(e) => Err(e),
        }
    };
    let w = u64::from(WIDTH);
    let mut found = None;
    'tiles: for t in 0..m.div_ceil(w) {
        let Some(ours_id) = tiles::tile_at_size(TileKind::Hashes { level: 0 }, t, l.size()) else {
            break;
        };
        let ours = l.read_tile(ours_id)?;
        let Some(their) = theirs(0, t)? else {
            return Ok(None);
        };
        for (j, (x, y)) in ours
            .chunks_exact(32)
            .zip(their.chunks_exact(32))
            .enumerate()
        {
            let i = t * w + j as u64;
            if i >= m {
                break 'tiles;
            }
            if x != y {
                found = Some(i);
                break 'tiles;
            }
        }
    }
    let Some(i) = found else { return Ok(None) };
    let Some(bundle_id) = tiles::tile_at_size(TileKind::Entries, i / w, b) else {
        return Ok(None);
    };
    let Ok(bundle) = src.tile(bundle_id) else {
        return Ok(None);
    };
    let Ok(entries) = tiles::bundle_entries(&bundle) else {
        return Ok(None);
    };
    let Some(served_leaf) = entries.get((i % w) as usize).map(|l| l.to_vec()) else {
        return Ok(None);
    };
    let h = log::leaf_hash(&served_leaf);
    let Ok(needs) = log::inclusion_needs(i, b) else {
        return Ok(None);
    };
    let mut hashes = Vec::with_capacity(needs.len());
    for idx in needs {
        let tid = tiles::tile_of(idx);
        let Some(bytes) = theirs(tid.level().unwrap_or(0), tid.n)? else {
            return Ok(None);
        };
        let Some(hash) = tiles::hash_from_tile(idx, &bytes) else {
            return Ok(None);
        };
        hashes.push(hash);
    }
    let Ok(served_proof) = log::inclusion_proof_from(i, b, &hashes) else {
        return Ok(None);
    };
    if log::verify_inclusion(&h, i, b, &served_proof, served.checkpoint().root()).is_err() {
        return Ok(None);
    }
    let ours = l.inclusion_proof(i, Some(a))?;
    let leaf = l.entry(i)?.leaf;
    Ok(Some(Divergence {
        index: i,
        verified_leaf: BASE64_STANDARD.encode(leaf),
        verified_proof: ours.proof,
        served_leaf: BASE64_STANDARD.encode(served_leaf),
        served_proof,
    }))
}

fn write_evidence(
    src: &Source,
    dir: &Path,
    l: &Ledger,
    verified: &SignedCheckpoint,
    served: &SignedCheckpoint,
    divergence: Option<Divergence>,
    why: String,
) -> Result<MirrorError, MirrorError> {
    let found_at = Timestamp::now();
    let e = Evidence {
        format: EVIDENCE_FORMAT.into(),
        origin: l.origin().to_owned(),
        log_key: l.log_key().to_string(),
        source: src.url().to_owned(),
        found_at: found_at.as_str().to_owned(),
        verified: String::from_utf8_lossy(&verified.to_bytes()).into_owned(),
        served: String::from_utf8_lossy(&served.to_bytes()).into_owned(),
        divergence,
    };
    let stamp: String = found_at
        .as_str()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let name = format!(
        "fork-{}-{}-{stamp}.json",
        verified.checkpoint().size(),
        served.checkpoint().size()
    );
    let path = write_atomic(&dir.join(EVIDENCE_DIR), &name, &e.to_bytes())?;
    Ok(MirrorError::Fork {
        why,
        evidence: path,
    })
}
