//! The governance state at rest, so that a ledger opens in O(1) instead of replaying its
//! history (docs/FORMAT.md, "Stored layout").
//!
//! The state splits in two. What is bounded by the number of members — members, keys and
//! their status, the policy — is one JSON document, the **snapshot**, written again with each
//! governance entry (only those change it). What grows with the log — which entry ids are
//! used, each commitment's parties, kind and withdrawal — lives in the ledger's indexes, one
//! record per commitment ([`CommitmentState::to_bytes`]); a state opened from a snapshot is
//! told about the ids an entry touches ([`State::learn`]) before it checks that entry, and
//! refuses to decide about an id it was not told about, so a missing lookup can never pass
//! a duplicate.
//!
//! Nothing here is trusted on the strength of having been stored: `accord verify` replays
//! every entry from the charter and compares the state it reaches with the snapshot and every
//! commitment record, byte for byte.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{CommitmentState, KeyRecord, KeyStatus, MemberState, State};
use crate::keys::VerifierKey;
use crate::model::commitment::MEASURE_KINDS;
use crate::model::{EntryId, Member, MemberId, Policy};

/// The `format` member of a snapshot.
pub const SNAPSHOT_FORMAT: &str = "accord-governance/1";

/// Why stored governance data was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Not the JSON of a snapshot or commitment record.
    #[error("malformed governance record: {0}")]
    Malformed(String),
    /// Well-formed, but it does not add up (a key of no member, a member without its key).
    #[error("inconsistent governance record: {0}")]
    Inconsistent(String),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSnapshot {
    format: String,
    through: u64,
    origin: String,
    name: String,
    log_key: VerifierKey,
    policy: Policy,
    members: Vec<WireMember>,
    keys: Vec<WireKey>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireMember {
    member: Member,
    admitted_at: u64,
    removed_at: Option<u64>,
    key_revoked: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireKey {
    key: VerifierKey,
    status: String,
    at: Option<u64>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireCommitment {
    parties: Vec<MemberId>,
    kind: String,
    withdrawn_at: Option<u64>,
}

fn malformed(e: impl std::fmt::Display) -> SnapshotError {
    SnapshotError::Malformed(e.to_string())
}

impl CommitmentState {
    /// The commitment's record as the ledger stores it:
    /// `{"parties":[...],"kind":"...","withdrawn_at":N|null}`, compact.
    #[allow(clippy::expect_used)]
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&WireCommitment {
            parties: self.parties.clone(),
            kind: self.kind.to_owned(),
            withdrawn_at: self.withdrawn_at,
        })
        .expect("strings and integers serialise")
    }

    /// Reads a record written by [`CommitmentState::to_bytes`].
    ///
    /// # Errors
    /// [`SnapshotError`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SnapshotError> {
        let w: WireCommitment = crate::json::from_slice(bytes).map_err(malformed)?;
        let kind = MEASURE_KINDS
            .iter()
            .find(|k| **k == w.kind)
            .ok_or_else(|| SnapshotError::Inconsistent(format!("unknown kind {:?}", w.kind)))?;
        Ok(Self {
            parties: w.parties,
            kind,
            withdrawn_at: w.withdrawn_at,
        })
    }
}

impl State {
    /// The snapshot of this state's members, keys and policy, reflecting the log up to and
    /// including entry `through` (the last governance entry; 0 for the charter alone).
    /// Compact JSON; members in id order, keys in keyid order, so one state has one snapshot.
    #[allow(clippy::expect_used)]
    pub fn snapshot(&self, through: u64) -> Vec<u8> {
        let mut keys: Vec<(&String, &KeyRecord)> = self.keys.iter().collect();
        keys.sort_by(|a, b| a.0.cmp(b.0));
        let wire = WireSnapshot {
            format: SNAPSHOT_FORMAT.to_owned(),
            through,
            origin: self.origin.clone(),
            name: self.name.clone(),
            log_key: self.log_key.clone(),
            policy: self.policy.clone(),
            members: self
                .members
                .values()
                .map(|m| WireMember {
                    member: m.member.clone(),
                    admitted_at: m.admitted_at,
                    removed_at: m.removed_at,
                    key_revoked: m.key_revoked,
                })
                .collect(),
            keys: keys
                .into_iter()
                .filter_map(|(_, r)| {
                    let (status, at) = match r.status {
                        KeyStatus::Current => ("current", None),
                        KeyStatus::Rotated(at) => ("rotated", Some(at)),
                        KeyStatus::Revoked(at) => ("revoked", Some(at)),
                    };
                    let key = VerifierKey::new(r.member.as_str(), r.key).ok()?;
                    Some(WireKey {
                        key,
                        status: status.to_owned(),
                        at,
                    })
                })
                .collect(),
        };
        serde_json::to_vec(&wire).expect("strings, integers and keys serialise")
    }

    /// A state from a snapshot, for a log of `size` entries, and the `through` it records.
    /// Its history (used ids, commitments) is empty and must be supplied entry by entry with
    /// [`State::learn`] before [`State::check`].
    ///
    /// # Errors
    /// [`SnapshotError`].
    pub fn from_snapshot(bytes: &[u8], size: u64) -> Result<(State, u64), SnapshotError> {
        let w: WireSnapshot = crate::json::from_slice(bytes).map_err(malformed)?;
        if w.format != SNAPSHOT_FORMAT {
            return Err(SnapshotError::Malformed(format!(
                "format {:?} is not {SNAPSHOT_FORMAT:?}",
                w.format
            )));
        }
        if w.through >= size.max(1) {
            return Err(SnapshotError::Inconsistent(format!(
                "it reflects entry {} of a log of {size}",
                w.through
            )));
        }
        let mut members = BTreeMap::new();
        for m in w.members {
            members.insert(
                m.member.id.clone(),
                MemberState {
                    member: m.member,
                    admitted_at: m.admitted_at,
                    removed_at: m.removed_at,
                    key_revoked: m.key_revoked,
                },
            );
        }
        let mut keys = HashMap::new();
        let mut key_bytes = HashSet::new();
        key_bytes.insert(*w.log_key.key_bytes());
        for k in w.keys {
            let member: MemberId = k.key.name().parse().map_err(|_| {
                SnapshotError::Inconsistent(format!("key {} names no member id", k.key))
            })?;
            if !members.contains_key(&member) {
                return Err(SnapshotError::Inconsistent(format!(
                    "key {} of unknown member {member}",
                    k.key
                )));
            }
            let status = match (k.status.as_str(), k.at) {
                ("current", None) => KeyStatus::Current,
                ("rotated", Some(at)) => KeyStatus::Rotated(at),
                ("revoked", Some(at)) => KeyStatus::Revoked(at),
                (s, _) => {
                    return Err(SnapshotError::Malformed(format!("key status {s:?}")));
                }
            };
            key_bytes.insert(*k.key.key_bytes());
            keys.insert(
                k.key.keyid(),
                KeyRecord {
                    member,
                    key: *k.key.verifying_key(),
                    status,
                },
            );
        }
        for m in members.values() {
            if !keys.contains_key(&m.member.key.keyid()) {
                return Err(SnapshotError::Inconsistent(format!(
                    "member {}'s key is not among the keys",
                    m.member.id
                )));
            }
        }
        let state = State {
            origin: w.origin,
            log_key: w.log_key,
            policy: w.policy,
            name: w.name,
            members,
            keys,
            key_bytes,
            commitments: HashMap::new(),
            ids: HashSet::new(),
            size,
            learned: Some(HashSet::new()),
        };
        Ok((state, w.through))
    }

    /// Tells a state opened from a snapshot what the ledger's indexes say about entry id
    /// `id`: whether an entry already uses it, and the commitment record if it names a
    /// commitment. A state replayed from the charter knows its whole history; this is then
    /// a no-op.
    pub fn learn(&mut self, id: &EntryId, used: bool, commitment: Option<CommitmentState>) {
        let Some(learned) = &mut self.learned else {
            return;
        };
        // What the state already knows (learned, or committed since) is newer than the store.
        if !learned.insert(id.clone()) {
            return;
        }
        if used {
            self.ids.insert(id.clone());
        }
        if let Some(c) = commitment {
            self.commitments.entry(id.clone()).or_insert(c);
        }
    }

    /// Whether the state can decide about `id` without being told more: always for a
    /// replayed state; for one opened from a snapshot, once it learned or committed it.
    pub fn knows_id(&self, id: &EntryId) -> bool {
        self.learned.as_ref().is_none_or(|l| l.contains(id))
    }

    /// Whether the state must be told about ids before it checks entries (it was opened from
    /// a snapshot).
    pub fn needs_history(&self) -> bool {
        self.learned.is_some()
    }

    /// Drops what was learned about ids and commitments (a long-running writer bounds its
    /// memory this way); the next checks learn again. A no-op for a replayed state.
    pub fn forget_history(&mut self) {
        if let Some(learned) = &mut self.learned {
            learned.clear();
            self.ids.clear();
            self.commitments.clear();
        }
    }

    /// A copy as [`State::forget_history`] would leave it, made without copying what it
    /// would drop; for a replayed state, a whole copy.
    #[must_use]
    pub fn without_history(&self) -> State {
        if self.learned.is_none() {
            return self.clone();
        }
        State {
            origin: self.origin.clone(),
            log_key: self.log_key.clone(),
            policy: self.policy.clone(),
            name: self.name.clone(),
            members: self.members.clone(),
            keys: self.keys.clone(),
            key_bytes: self.key_bytes.clone(),
            commitments: HashMap::new(),
            ids: HashSet::new(),
            size: self.size,
            learned: Some(HashSet::new()),
        }
    }

    /// Every commitment the state knows, by id (all of them for a replayed state).
    pub fn commitments(&self) -> impl Iterator<Item = (&EntryId, &CommitmentState)> {
        self.commitments.iter()
    }

    /// Refuses to decide about `id` when the state was opened from a snapshot and not told
    /// about it.
    pub(super) fn knows(&self, id: &EntryId) -> Result<(), super::Rejection> {
        match &self.learned {
            Some(l) if !l.contains(id) => Err(super::Rejection::Unprepared(id.clone())),
            _ => Ok(()),
        }
    }
}
