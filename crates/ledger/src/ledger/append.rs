//! Appending: one entry, a group of independent submissions (one durable commit for all,
//! as a service's sequencer needs), and a bulk import that stops at the first refusal.
//!
//! Every path stages on copies of the tree's right edge, the partial bundle and the
//! governance state, writes everything in one atomic batch (leaves, tiles, indexes,
//! commitment records, the snapshot if governance changed, the metadata), and only after
//! the store says it is durable takes the copies as the ledger's state. A refused or failed
//! commit therefore changes nothing. The head log is written after the batch is durable and
//! before the call returns: what a caller was told is acknowledged, the next open checks.

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasher, RandomState};

use accord_core::entry::LoggedEntry;
use accord_core::envelope::Envelope;
use accord_core::governance::{
    self, verify_parallel, verify_parallel_given, Authorised, CommitmentState, Preverified,
    Rejection, State,
};
use accord_core::log::{self, Hash};
use accord_core::model::{Body, EntryId, Payload, Timestamp};
use accord_core::tiles::MAX_ENTRY_BYTES;

use super::{
    corrupt, index_keys, not_before, now, Appended, Deferred, ImportItem, ImportReport,
    IntoImportItem, Ledger,
};
use crate::bundles::EntryStore;
use crate::error::LedgerError;
use crate::export::Restore;
use crate::keys;
use crate::store::WriteBatch;
use crate::tree::TileTree;

/// Entries per group commit in a bulk import.
pub const IMPORT_GROUP: usize = 2048;

/// Groups an import stages, each on the one before it while that one is written, before it
/// writes one at once and starts again from the ledger as written: this bounds what the
/// state holds of the ids and records it learned or committed (at most this many groups').
const CHAIN_GROUPS: usize = 16;

/// The leaf entry `index` gets under governance pointer `governance`, refused if an entry
/// bundle cannot hold it.
fn leaf_of(
    index: u64,
    governance: u64,
    env: &Envelope,
    logged_at: &Timestamp,
) -> Result<Vec<u8>, Rejection> {
    let leaf = LoggedEntry {
        index,
        logged_at: logged_at.clone(),
        governance,
        envelope: env.clone(),
    }
    .to_leaf();
    if leaf.len() > MAX_ENTRY_BYTES {
        return Err(Rejection::Envelope(format!(
            "the entry is {} bytes as a leaf; an entry bundle holds leaves of at most \
             {MAX_ENTRY_BYTES} bytes (docs/FORMAT.md section 11)",
            leaf.len()
        )));
    }
    Ok(leaf)
}

/// What an import works out for one input on all cores, ahead of its sequential pass.
struct Prepared {
    item: Result<ImportItem, Rejection>,
    decoded: Option<Result<Payload, Rejection>>,
    /// What the store says of the entry's own id, as of the group's start; the pass tells
    /// the state if it does not know the id by then (see [`State::learn`]).
    lookup: Result<Option<Lookup>, LedgerError>,
    /// For a logged leaf ([`Restore`]'s `logged`): its governance pointer, the leaf and its
    /// hash (the pass takes it if its own pointer is the same; otherwise it rebuilds the
    /// leaf, which then cannot hash to the hash claimed).
    leaf: Option<(u64, Vec<u8>, Hash)>,
}

/// One import input, prepared on a worker (all of [`Prepared`] but the store's answer).
fn prepare(mut item: Result<ImportItem, Rejection>) -> Prepared {
    let decoded = item.as_ref().ok().map(|i| governance::decode(&i.envelope));
    let leaf = item.as_mut().ok().and_then(|i| {
        let r = i.restore.as_mut()?;
        let (g, leaf) = r.logged.take()?;
        (leaf.len() <= MAX_ENTRY_BYTES).then_some((g, leaf, r.leaf_hash))
    });
    Prepared {
        item,
        decoded,
        lookup: Ok(None),
        leaf,
    }
}

/// What became of one import input.
enum Step {
    Staged(Box<Authorised>),
    /// A restored entry the ledger holds already.
    Skipped,
    Refused(Rejection),
}

/// A sealed import group whose signatures are being verified in the background.
struct InFlight<'scope> {
    pending: Pending,
    verifying: std::thread::ScopedJoinHandle<'scope, Result<(), (usize, Rejection)>>,
    positions: Vec<u64>,
}

/// The verdict of a background verification (a panic in it goes on in this thread).
fn join<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    h.join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// An id, whether the store has an entry of it, and its commitment record.
type Lookup = (EntryId, bool, Option<CommitmentState>);

/// The ids an import into a ledger that held only its charter has met: the store can hold no
/// other, so an id not among them needs no store read to know it is unused. Kept as 64-bit
/// fingerprints (about 16 bytes an id in the set); a fingerprint another id met only costs
/// the read.
struct FreshIds {
    hasher: RandomState,
    seen: HashSet<u64>,
}

impl FreshIds {
    fn new(charter: &EntryId) -> Self {
        let mut f = Self {
            hasher: RandomState::new(),
            seen: HashSet::new(),
        };
        f.add(charter);
        f
    }

    fn add(&mut self, id: &EntryId) {
        self.seen.insert(self.hasher.hash_one(id.as_str()));
    }

    /// False only for an id no entry of the ledger has.
    fn may_hold(&self, id: &EntryId) -> bool {
        self.seen.contains(&self.hasher.hash_one(id.as_str()))
    }
}

/// What a group of appends will make of the ledger, not yet written.
struct Pending {
    state: State,
    tree: TileTree,
    leaves: EntryStore,
    batch: WriteBatch,
    last_governance: u64,
    last_at: Timestamp,
    governance_changed: bool,
    records: BTreeMap<EntryId, CommitmentState>,
    /// The leaves staged, for a restore that must compare with them.
    staged: Vec<(u64, Vec<u8>, Hash)>,
}

impl Pending {
    /// The group after a sealed one that is not written yet: staged on what that one makes
    /// of the ledger, including what its state learned and committed (the store does not
    /// hold that group's ids and records yet).
    /// The sealed group keeps its state without that history (what it leaves the ledger
    /// with once written), and the new one takes it whole, uncopied.
    fn after(sealed: &mut Pending) -> Pending {
        let without = sealed.state.without_history();
        Pending {
            state: std::mem::replace(&mut sealed.state, without),
            tree: sealed.tree.clone(),
            leaves: sealed.leaves.clone(),
            batch: WriteBatch::default(),
            last_governance: sealed.last_governance,
            last_at: sealed.last_at.clone(),
            governance_changed: false,
            records: BTreeMap::new(),
            staged: Vec::new(),
        }
    }
}

impl Ledger {
    fn pending(&self) -> Pending {
        Pending {
            state: self.state.clone(),
            tree: self.tree.clone(),
            leaves: self.leaves.clone(),
            batch: WriteBatch::default(),
            last_governance: self.last_governance,
            last_at: self.last_logged_at.clone(),
            governance_changed: false,
            records: BTreeMap::new(),
            staged: Vec::new(),
        }
    }

    /// The leaf entry `index` gets, refused if an entry bundle cannot hold it.
    fn leaf_for(
        p: &Pending,
        index: u64,
        env: &Envelope,
        logged_at: &Timestamp,
    ) -> Result<Vec<u8>, Rejection> {
        leaf_of(index, p.last_governance, env, logged_at)
    }

    /// Stages an entry the pending state has just committed.
    fn stage_entry(
        p: &mut Pending,
        a: &Authorised,
        leaf: Vec<u8>,
        leaf_hash: Hash,
        logged_at: &Timestamp,
    ) -> Appended {
        let index = a.index();
        let payload = a.payload();
        for (k, v) in index_keys(index, payload, &p.state) {
            p.batch.put(k, v);
        }
        match &payload.body {
            Body::Commitment(_) => {
                if let Some(c) = p.state.commitment(&payload.id) {
                    p.records.insert(payload.id.clone(), c.clone());
                }
            }
            Body::Withdraw(w) => {
                if let Some(c) = p.state.commitment(&w.target) {
                    p.records.insert(w.target.clone(), c.clone());
                }
            }
            _ => {}
        }
        if payload.body.is_governance() {
            p.last_governance = index;
            p.governance_changed = true;
        }
        p.tree.push(leaf_hash);
        p.staged.push((index, leaf.clone(), leaf_hash));
        p.leaves.push(leaf);
        p.last_at = logged_at.clone();
        Appended {
            index,
            id: payload.id.clone(),
            leaf_hash,
            logged_at: logged_at.clone(),
        }
    }

    /// Writes a pending group in one durable batch and takes it as the ledger's state.
    fn commit_pending(&mut self, p: Pending) -> Result<(), LedgerError> {
        if self.apply_pending(p, true)? {
            self.record_head()?;
        }
        Ok(())
    }

    /// Writes a pending group in one batch (durable when `durable`, else applied only: see
    /// [`Store::apply`]) and takes it as the ledger's state; whether there was anything to
    /// write.
    fn apply_pending(&mut self, mut p: Pending, durable: bool) -> Result<bool, LedgerError> {
        if p.staged.is_empty() {
            return Ok(false);
        }
        self.seal(&mut p);
        self.write_sealed(p, durable)?;
        Ok(true)
    }

    /// Adds to a pending group's batch what the group makes of the tree, the leaves, the
    /// commitment records, the snapshot and the metadata. Once per group, before it is
    /// written; a group staged after it starts from it ([`Pending::after`]).
    fn seal(&self, p: &mut Pending) {
        p.tree.stage(&mut p.batch);
        p.leaves.stage(&mut p.batch);
        for (id, c) in &p.records {
            p.batch
                .replace(keys::commitment_record(id.as_str()), c.to_bytes());
        }
        if p.governance_changed {
            p.batch.replace(
                keys::SNAPSHOT_KEY.to_vec(),
                p.state.snapshot(p.last_governance),
            );
        }
        let meta = super::Meta {
            size: p.tree.size(),
            logged_at: p.last_at.clone(),
            governance: p.last_governance,
            checkpoints: self.checkpoint_count,
            cosignatures: self.cosignature_count,
        };
        p.batch.replace(keys::META_KEY.to_vec(), meta.to_bytes());
    }

    /// Writes a sealed group and takes it as the ledger's state.
    fn write_sealed(&mut self, p: Pending, durable: bool) -> Result<(), LedgerError> {
        if durable {
            self.store.commit(p.batch)?;
        } else {
            self.store.apply(p.batch)?;
        }
        let mut state = p.state;
        // The store holds every id and record now: what the state learned need not be kept.
        state.forget_history();
        self.state = state;
        self.tree = p.tree;
        self.leaves = p.leaves;
        self.last_governance = p.last_governance;
        self.last_logged_at = p.last_at;
        Ok(())
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
        let at = self.next_logged_at(at);
        let mut p = self.pending();
        let payload = governance::decode(env)?;
        self.learn_into(&mut p.state, &payload)?;
        let index = p.tree.size();
        let a = p.state.check_decoded(index, env, Ok(payload))?;
        a.verify()?;
        let leaf = Self::leaf_for(&p, index, env, &at)?;
        p.state.commit(&a);
        let leaf_hash = log::leaf_hash(&leaf);
        let appended = Self::stage_entry(&mut p, &a, leaf, leaf_hash, &at);
        self.commit_pending(p)?;
        Ok(appended)
    }

    /// Appends a group of independent submissions in one durable commit: each envelope is
    /// judged as if appended alone after the ones before it that were accepted, and a refused
    /// one changes nothing for the others. Signatures are verified on all cores. This is a
    /// service's group commit: one device flush for the whole group.
    ///
    /// # Errors
    /// A store failure fails the whole group (nothing was appended); each entry's own
    /// refusal is in its place in the returned list.
    pub fn append_batch(
        &mut self,
        envs: &[Envelope],
    ) -> Result<Vec<Result<Appended, LedgerError>>, LedgerError> {
        let (results, group) = self.append_batch_deferred(envs)?;
        self.durability().settle(&group)?;
        Ok(results)
    }

    /// [`Ledger::append_batch`] that returns once the group is applied, before it is
    /// durable: reads see it at once, and it is durable (and may be acknowledged) once
    /// [`Durability::settle`] of the returned group, or of a later one, has returned. A crash
    /// before then may lose it, whole, with every group applied after it. A service uses it
    /// to stage its next group while this one is synced.
    ///
    /// # Errors
    /// As [`Ledger::append_batch`]; on a store failure the ledger's memory may no longer
    /// match its store, and nothing more should be appended.
    pub fn append_batch_deferred(
        &mut self,
        envs: &[Envelope],
    ) -> Result<(Vec<Result<Appended, LedgerError>>, Deferred), LedgerError> {
        self.append_batch_deferred_given(envs, &[])
    }

    /// [`Ledger::append_batch_deferred`] with signature checks already run for some of the
    /// envelopes: `pre[i]`, when there is one, holds the checks run for `envs[i]`
    /// ([`Preverified`]), and an owed check it holds is not run again. Every check it does not
    /// hold is run as before, so the outcome is the same as without it.
    ///
    /// # Errors
    /// As [`Ledger::append_batch_deferred`].
    pub fn append_batch_deferred_given(
        &mut self,
        envs: &[Envelope],
        pre: &[Option<Preverified>],
    ) -> Result<(Vec<Result<Appended, LedgerError>>, Deferred), LedgerError> {
        self.append_batch_deferred_decoded(envs, None, pre)
    }

    /// [`Ledger::append_batch_deferred_given`] with each envelope's payload already decoded
    /// (`decoded[i]` is [`governance::decode`] of `envs[i]`, as a service's request handler
    /// computes it before the writer's turn); `None` decodes them here, on all cores.
    ///
    /// # Errors
    /// As [`Ledger::append_batch_deferred`].
    ///
    /// # Panics
    /// If `decoded` is given with a length other than `envs`'.
    pub fn append_batch_deferred_decoded(
        &mut self,
        envs: &[Envelope],
        decoded: Option<Vec<Result<Payload, Rejection>>>,
        pre: &[Option<Preverified>],
    ) -> Result<(Vec<Result<Appended, LedgerError>>, Deferred), LedgerError> {
        assert!(
            decoded.as_ref().is_none_or(|d| d.len() == envs.len()),
            "one decoded payload per envelope"
        );
        let at = self.next_logged_at(now());
        // Optimistic: decide every entry against the state the ones before it leave, then
        // verify all their signatures at once. Should one fail, the decisions after it may
        // rest on it, so the group is decided again one entry at a time, verifying first.
        let (p, results, staged) = self.stage_group(envs, decoded, &at, false)?;
        let (positions, authorised): (Vec<usize>, Vec<Authorised>) = staged.into_iter().unzip();
        let given = |k: usize| pre.get(positions[k]).and_then(Option::as_ref);
        let (p, results) = if verify_parallel_given(&authorised, given).is_ok() {
            (p, results)
        } else {
            let (p, results, _) = self.stage_group(envs, None, &at, true)?;
            (p, results)
        };
        self.apply_pending(p, false)?;
        Ok((results, Deferred::new(self.head())))
    }

    #[allow(clippy::type_complexity)]
    fn stage_group(
        &self,
        envs: &[Envelope],
        decoded: Option<Vec<Result<Payload, Rejection>>>,
        at: &Timestamp,
        verify_each: bool,
    ) -> Result<
        (
            Pending,
            Vec<Result<Appended, LedgerError>>,
            Vec<(usize, Authorised)>,
        ),
        LedgerError,
    > {
        use rayon::prelude::*;
        let decoded: Vec<Result<Payload, Rejection>> = match decoded {
            Some(d) => d,
            None => envs.par_iter().map(governance::decode).collect(),
        };
        let mut p = self.pending();
        let mut results = Vec::with_capacity(envs.len());
        let mut authorised = Vec::new();
        for (i, (env, decoded)) in envs.iter().zip(decoded).enumerate() {
            if let Ok(payload) = &decoded {
                self.learn_into(&mut p.state, payload)?;
            }
            let index = p.tree.size();
            let outcome = p
                .state
                .check_decoded(index, env, decoded)
                .and_then(|a| {
                    if verify_each {
                        a.verify()?;
                    }
                    Ok(a)
                })
                .and_then(|a| Self::leaf_for(&p, index, env, at).map(|leaf| (a, leaf)));
            match outcome {
                Ok((a, leaf)) => {
                    p.state.commit(&a);
                    let leaf_hash = log::leaf_hash(&leaf);
                    results.push(Ok(Self::stage_entry(&mut p, &a, leaf, leaf_hash, at)));
                    authorised.push((i, a));
                }
                Err(rej) => results.push(Err(rej.into())),
            }
        }
        Ok((p, results, authorised))
    }

    /// Appends many envelopes: governance is decided in order, signatures are verified in
    /// parallel per group, and each group of up to [`IMPORT_GROUP`] entries is one atomic,
    /// durable commit. Stops at the first entry that is rejected (or fails to parse); every
    /// entry before it is appended, exactly as appending them one by one would.
    /// `progress` is called with the number of entries appended so far.
    ///
    /// An entry restored from a JSON Lines export ([`ImportItem::restore`]) gets the index
    /// and `logged_at` it had, and the leaf rebuilt from them must have the leaf hash the
    /// line claims. One whose index is already in this ledger is not appended again: the
    /// stored entry must be the same leaf (same leaf hash, and the line's envelope and
    /// `logged_at` rebuild it), and the line is then skipped ([`ImportReport::skipped`]).
    /// So an interrupted restore resumes when it is run again (docs/GUARANTEES.md).
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
        T: IntoImportItem,
    {
        use rayon::prelude::*;
        let mut report = ImportReport {
            accepted: 0,
            skipped: 0,
            first_index: None,
            rejected: None,
        };
        let mut input = envelopes.into_iter();
        let mut position: u64 = 0;
        let mut fresh = match self.size() {
            1 => Some(FreshIds::new(&self.entry(0)?.payload.id)),
            _ => None,
        };
        std::thread::scope(|scope| {
            // The group before this one: sealed, its signatures verified in the background
            // while this one is prepared and staged on it; `chained` groups were staged on
            // unwritten ones since the state last forgot what it learned.
            let mut flight: Option<InFlight<'_>> = None;
            let mut chained = 0usize;
            // Each group is read a group ahead and prepared on all cores in the background,
            // while the one before is staged and the one before that written: what needs
            // neither state nor store (the conversion, payload parsing and validation, a
            // logged leaf) runs before the sequential governance pass.
            let ahead = |block: Vec<Result<T, Rejection>>| {
                let len = block.len();
                let handle = scope.spawn(move || {
                    block
                        .into_par_iter()
                        .map(|item| prepare(item.and_then(T::into_import_item)))
                        .collect::<Vec<Prepared>>()
                });
                (len, handle)
            };
            let mut next = Some(ahead(input.by_ref().take(IMPORT_GROUP).collect()));
            while let Some((len, preparing)) = next.take() {
                let exhausted = len < IMPORT_GROUP;
                let block_len = len as u64;
                let mut block = join(preparing);
                if !exhausted {
                    next = Some(ahead(input.by_ref().take(IMPORT_GROUP).collect()));
                }
                let last = flight
                    .as_ref()
                    .map_or(&self.last_logged_at, |f| &f.pending.last_at);
                let at = not_before(now(), last);
                // The store's answers for the entries' own ids, as of now (every group
                // before this one staged, and written unless chained to this one).
                if self.state.needs_history() {
                    let this = &*self;
                    let known = fresh.as_ref();
                    block
                        .par_iter_mut()
                        .for_each(|p| p.lookup = this.look_up_own_id(p.decoded.as_ref(), known));
                }
                if let Some(f) = fresh.as_mut() {
                    for payload in block
                        .iter()
                        .filter_map(|p| p.decoded.as_ref()?.as_ref().ok())
                    {
                        f.add(&payload.id);
                    }
                }
                let mut p = match flight.as_mut() {
                    Some(f) => Pending::after(&mut f.pending),
                    None => self.pending(),
                };
                let before = flight.as_ref().map(|f| &f.pending);
                let mut authorised: Vec<Authorised> = Vec::with_capacity(IMPORT_GROUP);
                let mut positions: Vec<u64> = Vec::with_capacity(IMPORT_GROUP);
                let mut stop: Option<(u64, Rejection)> = None;
                for (j, prepared) in block.into_iter().enumerate() {
                    let pos = position + j as u64;
                    match self.stage_one(prepared, &mut p, before, &at)? {
                        Step::Staged(a) => {
                            authorised.push(*a);
                            positions.push(pos);
                        }
                        Step::Skipped => report.skipped += 1,
                        Step::Refused(rej) => {
                            stop = Some((pos, rej));
                            break;
                        }
                    }
                }
                position += block_len;
                let last = stop.is_some() || exhausted;
                let drain = last || chained + 1 >= CHAIN_GROUPS;
                // This group's signatures are verified in the background from now, unless
                // it is written at once (the last, or the chain is long enough).
                let staged = !p.staged.is_empty();
                if staged {
                    self.seal(&mut p);
                }
                let mut verifying = None;
                if staged && !drain {
                    let authorised = std::mem::take(&mut authorised);
                    verifying = Some(scope.spawn(move || verify_parallel(&authorised)));
                }
                // The group before: its verdict, then its write (while this one verifies).
                if let Some(f) = flight.take() {
                    if let Err((bad, rej)) = join(f.verifying) {
                        // This group rests on the one that failed, and is dropped.
                        if let Some(v) = verifying {
                            let _ = join(v);
                        }
                        let q = self.restage(&f.pending, bad)?;
                        self.write_group(q, &mut report, progress, false)?;
                        let at = f.positions.get(bad).copied().unwrap_or(position);
                        report.rejected = Some((at, rej));
                        return Ok(report);
                    }
                    self.write_group(f.pending, &mut report, progress, true)?;
                }
                if let Some(verifying) = verifying {
                    flight = Some(InFlight {
                        pending: p,
                        verifying,
                        positions,
                    });
                    chained += 1;
                } else {
                    if staged {
                        match verify_parallel(&authorised) {
                            Ok(()) => self.write_group(p, &mut report, progress, true)?,
                            Err((bad, rej)) => {
                                // Everything from the bad entry on rests on it: stage the
                                // group again up to it, from the ledger as written.
                                stop = Some((positions.get(bad).copied().unwrap_or(position), rej));
                                let q = self.restage(&p, bad)?;
                                self.write_group(q, &mut report, progress, false)?;
                            }
                        }
                    }
                    chained = 0;
                }
                if last {
                    report.rejected = stop;
                    return Ok(report);
                }
            }
            Ok(report)
        })
    }

    /// Writes a group durably and counts it: `sealed` says whether [`Ledger::seal`] was
    /// called on it already.
    fn write_group(
        &mut self,
        mut p: Pending,
        report: &mut ImportReport,
        progress: &mut dyn FnMut(u64),
        sealed: bool,
    ) -> Result<(), LedgerError> {
        let Some(first) = p.staged.first().map(|e| e.0) else {
            return Ok(());
        };
        let n = p.staged.len() as u64;
        if !sealed {
            self.seal(&mut p);
        }
        self.write_sealed(p, true)?;
        self.record_head()?;
        report.first_index.get_or_insert(first);
        report.accepted += n;
        progress(report.accepted);
        Ok(())
    }

    /// Stages one prepared import input on `p` (`before`: the unwritten group `p` is staged
    /// on, if any).
    fn stage_one(
        &self,
        prepared: Prepared,
        p: &mut Pending,
        before: Option<&Pending>,
        at: &Timestamp,
    ) -> Result<Step, LedgerError> {
        let index = p.tree.size();
        let Prepared {
            item,
            decoded,
            lookup,
            leaf: logged,
        } = prepared;
        let item = match item {
            Ok(item) => item,
            Err(rej) => return Ok(Step::Refused(rej)),
        };
        let logged_at = match &item.restore {
            None => at.clone(),
            Some(r) if r.index < index => {
                return match self.check_present(r, &item.envelope, before, p) {
                    Ok(()) => Ok(Step::Skipped),
                    Err(LedgerError::Rejected(rej)) => Ok(Step::Refused(rej)),
                    Err(e) => Err(e),
                };
            }
            Some(r) => {
                if r.index != index {
                    return Ok(Step::Refused(Rejection::BadLine(format!(
                        "restoring entry {}, but the ledger's next index is {index}",
                        r.index
                    ))));
                }
                if r.logged_at.instant() < p.last_at.instant() {
                    return Ok(Step::Refused(Rejection::BadLine(format!(
                        "entry {}'s logged_at {} is before the previous entry's {}",
                        r.index, r.logged_at, p.last_at
                    ))));
                }
                r.logged_at.clone()
            }
        };
        // A logged leaf is the leaf rebuilt from its item when it has this pointer (its
        // index, the restored one, was just checked to be `index`).
        let (leaf, leaf_hash) = match logged {
            Some((g, leaf, hash)) if g == p.last_governance => (leaf, hash),
            _ => match Self::leaf_for(p, index, &item.envelope, &logged_at) {
                Ok(l) => {
                    let h = log::leaf_hash(&l);
                    (l, h)
                }
                Err(rej) => return Ok(Step::Refused(rej)),
            },
        };
        if let Some(r) = &item.restore {
            if r.leaf_hash != leaf_hash {
                return Ok(Step::Refused(Rejection::BadLine(format!(
                    "member \"leaf_hash\" disagrees with the leaf of entry {index} rebuilt \
                     from the line ({})",
                    leaf_hash.to_base64()
                ))));
            }
        }
        if let Some(Ok(payload)) = &decoded {
            if let Some((id, used, record)) = lookup? {
                p.state.learn(&id, used, record);
            }
            // What the lookup ahead did not cover (a lifecycle entry's target, which the
            // state often knows by now).
            self.learn_into(&mut p.state, payload)?;
        }
        match p.state.advance(&item.envelope, decoded) {
            Ok(a) => {
                Self::stage_entry(p, &a, leaf, leaf_hash, &logged_at);
                Ok(Step::Staged(Box::new(a)))
            }
            Err(rej) => Ok(Step::Refused(rej)),
        }
    }

    /// What the store says of a decoded entry's own id, which is new to the state but for a
    /// duplicate: `fresh` holds every id the store may hold when the import started on a
    /// ledger of its charter alone.
    fn look_up_own_id(
        &self,
        decoded: Option<&Result<Payload, Rejection>>,
        fresh: Option<&FreshIds>,
    ) -> Result<Option<Lookup>, LedgerError> {
        match (decoded, fresh) {
            (Some(Ok(payload)), Some(f)) if !f.may_hold(&payload.id) => {
                Ok(Some((payload.id.clone(), false, None)))
            }
            (Some(Ok(payload)), _) => self.lookup(&payload.id).map(Some),
            _ => Ok(None),
        }
    }

    /// The first `keep` entries of a pending group, staged again from the ledger's state.
    fn restage(&self, p: &Pending, keep: usize) -> Result<Pending, LedgerError> {
        let mut q = self.pending();
        for (index, leaf, leaf_hash) in p.staged.iter().take(keep) {
            let e = LoggedEntry::from_leaf(leaf)
                .map_err(|e| corrupt(format!("entry {index}"), e.to_string()))?;
            let payload = governance::decode(&e.envelope)?;
            self.learn_into(&mut q.state, &payload)?;
            let a = q.state.advance(&e.envelope, Some(Ok(payload)))?;
            Self::stage_entry(&mut q, &a, leaf.clone(), *leaf_hash, &e.logged_at);
        }
        Ok(q)
    }

    /// For a restored entry whose index is already in the ledger: the stored entry must be
    /// the leaf the line describes.
    fn check_present(
        &self,
        r: &Restore,
        envelope: &Envelope,
        before: Option<&Pending>,
        p: &Pending,
    ) -> Result<(), LedgerError> {
        let (leaf, leaf_hash) = match r.index.checked_sub(self.size()) {
            // Staged in this group or the sealed one before it, not yet written.
            Some(k) => {
                let (_, leaf, hash) = before
                    .map_or(&[][..], |b| &b.staged[..])
                    .iter()
                    .chain(&p.staged)
                    .nth(usize::try_from(k).unwrap_or(usize::MAX))
                    .ok_or_else(|| corrupt("import", "a staged entry is missing"))?;
                (leaf.clone(), *hash)
            }
            None => {
                let e = self.entry(r.index)?;
                (e.leaf, e.leaf_hash)
            }
        };
        if leaf_hash != r.leaf_hash {
            return Err(Rejection::BadLine(format!(
                "entry {} is already in the ledger with leaf hash {}; the line's \
                 \"leaf_hash\" {} is another entry's",
                r.index,
                leaf_hash.to_base64(),
                r.leaf_hash.to_base64()
            ))
            .into());
        }
        let stored = LoggedEntry::from_leaf(&leaf)
            .map_err(|e| corrupt(format!("entry {}", r.index), e.to_string()))?;
        let rebuilt = LoggedEntry {
            index: r.index,
            logged_at: r.logged_at.clone(),
            governance: stored.governance,
            envelope: envelope.clone(),
        }
        .to_leaf();
        if rebuilt != leaf {
            return Err(Rejection::BadLine(format!(
                "entry {} is already in the ledger with the line's leaf hash, but the line's \
                 \"envelope\" or \"logged_at\" disagrees with member \"leaf_hash\"",
                r.index
            ))
            .into());
        }
        Ok(())
    }
}
