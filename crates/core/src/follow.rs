//! A verified follower of a log: what one party has checked of it so far, kept between runs
//! so that the next check covers only what is new. `accord cosign` keeps one beside each
//! member's key; a mirror is one with a copy of the entries.
//!
//! A follower holds the tree's frontier (O(log n) hashes), the governance snapshot (members,
//! keys, policy) it reached, and the last leaf's governance pointer and time. [`Follower::advance`]
//! takes the next leaves in order and checks each as `accord verify` does — index, governance
//! pointer, `logged_at` never decreasing, governance rules, strict signatures (in parallel,
//! per chunk) — and extends the frontier; [`Follower::check_checkpoint`] then says whether a
//! signed checkpoint is the tree it verified. Since the frontier after `m` leaves plus the
//! leaves `m..n` determine the root of `n`, a checkpoint that matches is consistent with every
//! earlier one the follower matched: no separate proof is needed, though a caller may check
//! one too.
//!
//! What it takes on trust between runs: which entry ids were used before and what each
//! commitment's parties and withdrawal were are not kept (they grow with the log); they come
//! from the `lookup` the caller gives [`Follower::advance`] (a ledger's indexes), adjusted to
//! the entry being checked. A full replay from the charter (`accord verify`) trusts nothing.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::checkpoint::SignedCheckpoint;
use crate::entry::LoggedEntry;
use crate::governance::{self, verify_parallel, Authorised, CommitmentState, Rejection, State};
use crate::keys::VerifierKey;
use crate::log::{self, Frontier, Hash};
use crate::model::{Body, EntryId, Payload, Timestamp};

/// The `format` member of a follower's state file.
pub const FOLLOWER_FORMAT: &str = "accord-verified/1";
/// Leaves whose signatures are checked together.
const CHUNK: usize = 1024;

/// Why a follower refused a leaf, a checkpoint or its own saved state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FollowError {
    /// A leaf does not check out.
    #[error("entry {index}: {why}")]
    Entry {
        /// Its index.
        index: u64,
        /// Why.
        why: String,
    },
    /// A checkpoint is not the verified tree.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The saved state does not parse or does not add up.
    #[error("saved state: {0}")]
    State(String),
    /// The lookup the caller gave failed.
    #[error("looking up {id}: {why}")]
    Lookup {
        /// The id looked up.
        id: EntryId,
        /// Why.
        why: String,
    },
}

/// What the lookup reports of an entry id: the index of the entry that has it, and for a
/// commitment its record as it stands now.
pub type Lookup<'a> =
    dyn FnMut(&EntryId) -> Result<(Option<u64>, Option<CommitmentState>), String> + 'a;

/// What a party verified of a log.
#[derive(Clone, Debug)]
pub struct Follower {
    charter_hash: [u8; 32],
    frontier: Frontier,
    state: Option<State>,
    last_governance: u64,
    last_logged_at: Option<Timestamp>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    format: String,
    charter_hash: String,
    size: u64,
    frontier: Vec<Hash>,
    governance: String,
    last_governance: u64,
    last_logged_at: Timestamp,
}

fn entry_err(index: u64, why: impl std::fmt::Display) -> FollowError {
    FollowError::Entry {
        index,
        why: why.to_string(),
    }
}

impl Default for Follower {
    fn default() -> Self {
        Self::new()
    }
}

impl Follower {
    /// Nothing verified yet: the first leaf must be the charter.
    pub fn new() -> Self {
        Self {
            charter_hash: [0; 32],
            frontier: Frontier::new(),
            state: None,
            last_governance: 0,
            last_logged_at: None,
        }
    }

    /// Leaves verified.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The root of the verified tree.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// SHA-256 of the charter's payload (zero before the charter).
    pub fn charter_hash(&self) -> [u8; 32] {
        self.charter_hash
    }

    /// The governance state reached, once the charter was verified.
    pub fn state(&self) -> Option<&State> {
        self.state.as_ref()
    }

    /// The ledger origin, once the charter was verified.
    pub fn origin(&self) -> Option<&str> {
        self.state.as_ref().map(State::origin)
    }

    /// The log's key, once the charter was verified.
    pub fn log_key(&self) -> Option<&VerifierKey> {
        self.state.as_ref().map(State::log_key)
    }

    /// Checks the next leaves, in order, from index [`Follower::size`]. On an error the
    /// follower is left part-way and must be discarded.
    ///
    /// # Errors
    /// [`FollowError::Entry`] for the first leaf (in log order) that does not check out.
    pub fn advance<I>(&mut self, leaves: I, lookup: &mut Lookup<'_>) -> Result<(), FollowError>
    where
        I: IntoIterator<Item = Vec<u8>>,
    {
        let mut leaves = leaves.into_iter().peekable();
        while leaves.peek().is_some() {
            let block: Vec<Vec<u8>> = leaves.by_ref().take(CHUNK).collect();
            let decoded: Vec<_> = block
                .par_iter()
                .map(|leaf| {
                    let entry = LoggedEntry::from_leaf(leaf);
                    let payload = entry.as_ref().ok().map(|e| governance::decode(&e.envelope));
                    (log::leaf_hash(leaf), entry, payload)
                })
                .collect();
            let mut owed: Vec<Authorised> = Vec::with_capacity(block.len());
            let mut first_error: Option<FollowError> = None;
            for (hash, entry, payload) in decoded {
                let index = self.size();
                if let Err(e) = self.step(index, hash, entry, payload, lookup, &mut owed) {
                    first_error = Some(e);
                    break;
                }
            }
            // An earlier bad signature is the first bad place.
            if let Err((pos, rej)) = verify_parallel(&owed) {
                let index = owed.get(pos).map_or(0, Authorised::index);
                return Err(entry_err(index, rej));
            }
            if let Some(e) = first_error {
                return Err(e);
            }
        }
        Ok(())
    }

    fn step(
        &mut self,
        index: u64,
        hash: Hash,
        entry: Result<LoggedEntry, crate::entry::LeafError>,
        payload: Option<Result<Payload, Rejection>>,
        lookup: &mut Lookup<'_>,
        owed: &mut Vec<Authorised>,
    ) -> Result<(), FollowError> {
        let entry = entry.map_err(|e| entry_err(index, e))?;
        if entry.index != index {
            return Err(entry_err(
                index,
                format!("the leaf says it is entry {}", entry.index),
            ));
        }
        if let Some(prev) = &self.last_logged_at {
            if entry.logged_at.instant() < prev.instant() {
                return Err(entry_err(index, "logged_at runs backwards"));
            }
        }
        if entry.governance != self.last_governance {
            return Err(entry_err(
                index,
                format!(
                    "the leaf points at governance entry {}, but the latest before it is {}",
                    entry.governance, self.last_governance
                ),
            ));
        }
        let is_gov = match &mut self.state {
            None => {
                let (state, a) = State::start(&entry.envelope).map_err(|e| entry_err(0, e))?;
                a.verify().map_err(|e| entry_err(0, e))?;
                self.charter_hash = Sha256::digest(&entry.envelope.payload).into();
                self.state = Some(state);
                true
            }
            Some(state) => {
                if let Some(Ok(p)) = &payload {
                    learn(state, index, p, lookup)?;
                }
                let a = state
                    .advance(&entry.envelope, payload)
                    .map_err(|e| entry_err(index, e))?;
                let g = a.payload().body.is_governance();
                owed.push(a);
                g
            }
        };
        if is_gov {
            self.last_governance = index;
        }
        self.last_logged_at = Some(entry.logged_at);
        self.frontier.push(hash);
        Ok(())
    }

    /// Whether `note` is a checkpoint of exactly the tree verified, signed by the log key
    /// the charter names.
    ///
    /// # Errors
    /// [`FollowError::Checkpoint`] saying what differs.
    pub fn check_checkpoint(&self, note: &SignedCheckpoint) -> Result<(), FollowError> {
        let bad = |why: String| FollowError::Checkpoint(why);
        let state = self
            .state
            .as_ref()
            .ok_or_else(|| bad("nothing verified yet".into()))?;
        let cp = note.checkpoint();
        if cp.origin() != state.origin() {
            return Err(bad(format!("origin {:?} is not the ledger's", cp.origin())));
        }
        if cp.size() != self.size() {
            return Err(bad(format!(
                "it is of size {}, the tree verified has {}",
                cp.size(),
                self.size()
            )));
        }
        if *cp.root() != self.root() {
            return Err(bad(format!(
                "its root is not the root of the {} entries verified: the log is not the one \
                 verified before (a fork or a rewrite)",
                self.size()
            )));
        }
        note.verify_log(state.log_key().name(), state.log_key().verifying_key())
            .map_err(|e| bad(e.to_string()))
    }

    /// The follower as a small JSON document (`accord-verified/1`).
    ///
    /// # Errors
    /// [`FollowError::State`] before the charter was verified.
    #[allow(clippy::expect_used)]
    pub fn to_bytes(&self) -> Result<Vec<u8>, FollowError> {
        let state = self
            .state
            .as_ref()
            .ok_or_else(|| FollowError::State("nothing verified yet".into()))?;
        let at = self
            .last_logged_at
            .clone()
            .ok_or_else(|| FollowError::State("nothing verified yet".into()))?;
        let governance = String::from_utf8(state.snapshot(self.last_governance))
            .map_err(|e| FollowError::State(e.to_string()))?;
        let needs = log::Frontier::needs(self.size()).len();
        let frontier = self.frontier.hashes().to_vec();
        debug_assert_eq!(frontier.len(), needs);
        let w = Wire {
            format: FOLLOWER_FORMAT.into(),
            charter_hash: hex::encode(self.charter_hash),
            size: self.size(),
            frontier,
            governance,
            last_governance: self.last_governance,
            last_logged_at: at,
        };
        let mut out = serde_json::to_vec_pretty(&w).expect("strings and integers serialise");
        out.push(b'\n');
        Ok(out)
    }

    /// Reads a follower written by [`Follower::to_bytes`].
    ///
    /// # Errors
    /// [`FollowError::State`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FollowError> {
        let bad = |e: &dyn std::fmt::Display| FollowError::State(e.to_string());
        let w: Wire = crate::json::from_slice(bytes).map_err(|e| bad(&e))?;
        if w.format != FOLLOWER_FORMAT {
            return Err(bad(&format!(
                "format {:?} is not {FOLLOWER_FORMAT:?}",
                w.format
            )));
        }
        let mut charter_hash = [0u8; 32];
        hex::decode_to_slice(&w.charter_hash, &mut charter_hash).map_err(|e| bad(&e))?;
        let frontier = Frontier::from_hashes(w.size, &w.frontier).map_err(|e| bad(&e))?;
        let (state, through) =
            State::from_snapshot(w.governance.as_bytes(), w.size).map_err(|e| bad(&e))?;
        if through != w.last_governance {
            return Err(bad(&"the governance snapshot and its pointer disagree"));
        }
        Ok(Self {
            charter_hash,
            frontier,
            state: Some(state),
            last_governance: w.last_governance,
            last_logged_at: Some(w.last_logged_at),
        })
    }
}

/// Tells `state` what it must know to decide the entry at `index`, from `lookup`, as of that
/// entry: an id is used only by an entry before it, a commitment exists only if created
/// before it and is withdrawn only by an entry before it.
fn learn(
    state: &mut State,
    index: u64,
    payload: &Payload,
    lookup: &mut Lookup<'_>,
) -> Result<(), FollowError> {
    if !state.needs_history() {
        return Ok(());
    }
    let target = match &payload.body {
        Body::Amend(a) => Some(&a.target),
        Body::Progress(p) => Some(&p.target),
        Body::Withdraw(w) => Some(&w.target),
        _ => None,
    };
    for id in std::iter::once(&payload.id).chain(target) {
        if state.knows_id(id) {
            continue;
        }
        let (at, record) = lookup(id).map_err(|why| FollowError::Lookup {
            id: id.clone(),
            why,
        })?;
        let before = at.is_some_and(|i| i < index);
        let record = record.filter(|_| before).map(|mut c| {
            c.withdrawn_at = c.withdrawn_at.filter(|w| *w < index);
            c
        });
        state.learn(id, before, record);
    }
    Ok(())
}
