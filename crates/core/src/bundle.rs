//! The audit bundle: a self-contained JSON file that proves a selection of entries is in the
//! log and was authorised, checkable offline with this crate alone.
//!
//! ```json
//! {"format": "accord-audit-bundle/v1",
//!  "origin": "g7-critical-minerals.example/2026",
//!  "log_key": "<C2SP verifier key of the log>",
//!  "charter_hash": "<hex SHA-256 of the charter payload>",
//!  "checkpoint": "<C2SP signed note: checkpoint, log signature, cosignatures>",
//!  "entries": [{"index": 0, "leaf": "<base64 leaf bytes>", "proof": ["<base64 hash>", ...]}]}
//! ```
//!
//! Entries are in strictly increasing index order. Entry 0 (the charter), the tree's last
//! entry (index `size - 1`) and every governance entry before it are included, which the
//! leaves' `governance` pointers let the verifier check: the governance state is then known as
//! of the checkpoint's size, and every cosignature is judged against the keys members held at
//! that size (a key rotated after the selected entries still counts; a key revoked before the
//! checkpoint does not). Each leaf carries an RFC 9162 inclusion proof against the
//! checkpoint's tree.

use base64::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::checkpoint::SignedCheckpoint;
use crate::entry::LoggedEntry;
use crate::governance::{KeyStatus, State};
use crate::keys::VerifierKey;
use crate::log::{self, Hash};
use crate::model::MemberId;

/// The `format` member.
pub const BUNDLE_FORMAT: &str = "accord-audit-bundle/v1";

/// One entry in a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleEntry {
    /// Its index in the log.
    pub index: u64,
    /// The leaf bytes, base64.
    pub leaf: String,
    /// The inclusion proof against the bundle's checkpoint, base64 hashes.
    pub proof: Vec<Hash>,
}

/// An audit bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// [`BUNDLE_FORMAT`].
    pub format: String,
    /// The ledger origin.
    pub origin: String,
    /// The log's verifier key.
    pub log_key: String,
    /// Hex SHA-256 of the charter's payload.
    pub charter_hash: String,
    /// The signed checkpoint note text, cosignatures included.
    pub checkpoint: String,
    /// The entries.
    pub entries: Vec<BundleEntry>,
}

/// Why a bundle does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Not a bundle.
    #[error("malformed bundle: {0}")]
    Malformed(String),
    /// The checkpoint is malformed or its log signature does not verify.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The bundle's log key or charter differ from what the auditor trusts.
    #[error("trust anchor: {0}")]
    Untrusted(String),
    /// An entry fails: its proof, its leaf, or governance.
    #[error("entry {index}: {why}")]
    Entry {
        /// The entry's index.
        index: u64,
        /// Why.
        why: String,
    },
    /// A cosignature does not verify.
    #[error("cosignature by {name}: {why}")]
    Cosignature {
        /// The cosigner's name.
        name: String,
        /// Why.
        why: String,
    },
}

/// What a verified bundle shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BundleReport {
    /// Ledger origin.
    pub origin: String,
    /// The checkpoint's tree size.
    pub tree_size: u64,
    /// The checkpoint's root, base64.
    pub root: String,
    /// Entries verified.
    pub entries: usize,
    /// Indexes of the entries verified.
    pub indexes: Vec<u64>,
    /// Members whose cosignatures verified.
    pub cosigners: Vec<String>,
    /// The charter hash, hex.
    pub charter_hash: String,
    /// Whether the checkpoint meets the charter's witness policy, if it sets one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness_policy: Option<crate::witness::PolicyReport>,
}

fn entry_err(index: u64, why: impl Into<String>) -> BundleError {
    BundleError::Entry {
        index,
        why: why.into(),
    }
}

impl Bundle {
    /// Parses a bundle from JSON.
    ///
    /// # Errors
    /// [`BundleError::Malformed`].
    pub fn from_json(bytes: &[u8]) -> Result<Self, BundleError> {
        let b: Bundle =
            crate::json::from_slice(bytes).map_err(|e| BundleError::Malformed(e.to_string()))?;
        if b.format != BUNDLE_FORMAT {
            return Err(BundleError::Malformed(format!(
                "format {:?} is not {BUNDLE_FORMAT:?}",
                b.format
            )));
        }
        Ok(b)
    }

    /// The bundle as pretty JSON.
    pub fn to_json(&self) -> Vec<u8> {
        #[allow(clippy::expect_used)]
        let mut v = serde_json::to_vec_pretty(self)
            // Strings, integers and lists of strings: serde_json cannot fail on them.
            .expect("a bundle is plain strings and integers");
        v.push(b'\n');
        v
    }

    /// Verifies the bundle offline. `log_key` and `charter_hash`, when given, are the trust
    /// anchors the auditor holds; without them the bundle's own are checked for consistency
    /// only (the charter names the log key; the charter hash is recomputed).
    ///
    /// # Errors
    /// The first [`BundleError`] found.
    pub fn verify(
        &self,
        log_key: Option<&VerifierKey>,
        charter_hash: Option<[u8; 32]>,
    ) -> Result<BundleReport, BundleError> {
        if self.format != BUNDLE_FORMAT {
            return Err(BundleError::Malformed(format!("format {:?}", self.format)));
        }
        let note = SignedCheckpoint::from_bytes(self.checkpoint.as_bytes())
            .map_err(|e| BundleError::Checkpoint(e.to_string()))?;
        let cp = note.checkpoint();
        let size = cp.size();
        let root = *cp.root();
        let Some(first) = self.entries.first() else {
            return Err(BundleError::Malformed("no entries".into()));
        };
        if first.index != 0 {
            return Err(BundleError::Malformed(
                "entry 0 (the charter) is missing".into(),
            ));
        }
        let mut state: Option<State> = None;
        let mut last_index: Option<u64> = None;
        let mut last_governance = 0u64;
        let mut last_logged_at: Option<crate::model::Timestamp> = None;
        let mut indexes = Vec::with_capacity(self.entries.len());
        for e in &self.entries {
            if last_index.is_some_and(|l| e.index <= l) {
                return Err(entry_err(
                    e.index,
                    "entries are not in strictly increasing order",
                ));
            }
            last_index = Some(e.index);
            if e.index >= size {
                return Err(entry_err(
                    e.index,
                    format!("beyond the checkpoint's size {size}"),
                ));
            }
            let leaf = BASE64_STANDARD
                .decode(&e.leaf)
                .map_err(|_| entry_err(e.index, "leaf is not base64"))?;
            log::verify_inclusion(&log::leaf_hash(&leaf), e.index, size, &e.proof, &root)
                .map_err(|err| entry_err(e.index, format!("inclusion proof: {err}")))?;
            let entry =
                LoggedEntry::from_leaf(&leaf).map_err(|err| entry_err(e.index, err.to_string()))?;
            if entry.index != e.index {
                return Err(entry_err(
                    e.index,
                    format!("the leaf says it is entry {}", entry.index),
                ));
            }
            if e.index == 0 && entry.governance != 0 {
                return Err(entry_err(
                    0,
                    format!(
                        "the charter's governance pointer is {}, not 0",
                        entry.governance
                    ),
                ));
            }
            if let Some(prev) = &last_logged_at {
                if entry.logged_at.instant() < prev.instant() {
                    return Err(entry_err(
                        e.index,
                        format!(
                            "logged_at {} is earlier than {} of the entry before it",
                            entry.logged_at, prev
                        ),
                    ));
                }
            }
            last_logged_at = Some(entry.logged_at.clone());
            if e.index > 0 && entry.governance != last_governance {
                return Err(entry_err(
                    e.index,
                    format!(
                        "governance entry {} that it depends on is not in the bundle",
                        entry.governance
                    ),
                ));
            }
            match &mut state {
                None => {
                    let hash: [u8; 32] = Sha256::digest(&entry.envelope.payload).into();
                    if hex::encode(hash) != self.charter_hash {
                        return Err(BundleError::Untrusted(
                            "charter_hash is not the hash of the bundle's charter".into(),
                        ));
                    }
                    if let Some(want) = charter_hash {
                        if hash != want {
                            return Err(BundleError::Untrusted(format!(
                                "the charter's hash is {}, not the trusted {}",
                                hex::encode(hash),
                                hex::encode(want)
                            )));
                        }
                    }
                    let s = State::from_charter(&entry.envelope)
                        .map_err(|err| entry_err(0, err.to_string()))?;
                    if s.origin() != self.origin || cp.origin() != self.origin {
                        return Err(BundleError::Untrusted(format!(
                            "origins differ: bundle {:?}, charter {:?}, checkpoint {:?}",
                            self.origin,
                            s.origin(),
                            cp.origin()
                        )));
                    }
                    if s.log_key().to_string() != self.log_key {
                        return Err(BundleError::Untrusted(
                            "log_key is not the key the charter names".into(),
                        ));
                    }
                    if let Some(want) = log_key {
                        if want != s.log_key() {
                            return Err(BundleError::Untrusted(format!(
                                "the charter names log key {}, not the trusted {}",
                                s.log_key(),
                                want
                            )));
                        }
                    }
                    note.verify_log(s.log_key().name(), s.log_key().verifying_key())
                        .map_err(|err| BundleError::Checkpoint(err.to_string()))?;
                    state = Some(s);
                }
                Some(s) => {
                    s.skip_to(e.index);
                    let a = s
                        .apply(&entry.envelope)
                        .map_err(|err| entry_err(e.index, err.to_string()))?;
                    if a.payload.body.is_governance() {
                        last_governance = e.index;
                    }
                }
            }
            indexes.push(e.index);
        }
        let Some(state) = state else {
            return Err(BundleError::Malformed("no charter".into()));
        };
        // The tree's last entry is present, so its governance pointer has chained every
        // governance entry before the checkpoint's size into the bundle: `state` is the
        // governance state as of the checkpoint.
        if last_index != Some(size - 1) {
            return Err(BundleError::Malformed(format!(
                "the checkpoint's last entry {} is missing, so the governance state at size {size} cannot be shown",
                size - 1
            )));
        }
        let mut cosigners: Vec<String> = Vec::new();
        for cos in note.cosignatures() {
            let member: MemberId = cos.name.parse().map_err(|_| BundleError::Cosignature {
                name: cos.name.clone(),
                why: "not a member id".into(),
            })?;
            if cosigners.iter().any(|c| c == member.as_str()) {
                return Err(BundleError::Cosignature {
                    name: cos.name.clone(),
                    why: "the member cosigns the checkpoint more than once".into(),
                });
            }
            let Some(m) = state.member(&member) else {
                return Err(BundleError::Cosignature {
                    name: cos.name.clone(),
                    why: "not a member of the ledger".into(),
                });
            };
            if !m.is_active() {
                return Err(BundleError::Cosignature {
                    name: cos.name.clone(),
                    why: format!(
                        "the member was removed at entry {}, before the checkpoint's size {size}",
                        m.removed_at.unwrap_or_default()
                    ),
                });
            }
            let current = state.current_key(&member);
            if let Some(k) = current {
                if note
                    .verify_cosignature(&cos, member.as_str(), k.verifying_key())
                    .is_ok()
                {
                    cosigners.push(member.to_string());
                    continue;
                }
            }
            // Say why: a key it no longer held at the checkpoint's size, or no key at all.
            let former = state
                .member_keys(&member)
                .into_iter()
                .find(|(k, _)| note.verify_cosignature(&cos, member.as_str(), k).is_ok());
            let why = match former {
                Some((_, KeyStatus::Revoked(at))) => {
                    format!("made with a key revoked at entry {at}, before the checkpoint's size {size}")
                }
                Some((_, KeyStatus::Rotated(at))) => {
                    format!("made with a key rotated out at entry {at}, before the checkpoint's size {size}")
                }
                _ if current.is_none() => {
                    "the member's key was revoked before the checkpoint's size and not replaced"
                        .into()
                }
                _ => "does not verify with the key the member held at the checkpoint's size".into(),
            };
            return Err(BundleError::Cosignature {
                name: cos.name.clone(),
                why,
            });
        }
        // Every line is the log's signature or a cosignature that verified: an unknown line
        // would let a bundle carry bytes no one vouches for.
        if note.signature_count() != 1 + cosigners.len() {
            return Err(BundleError::Checkpoint(format!(
                "{} signature lines, but only the log's and {} cosignatures verify",
                note.signature_count(),
                cosigners.len()
            )));
        }
        Ok(BundleReport {
            origin: self.origin.clone(),
            tree_size: size,
            root: root.to_base64(),
            entries: self.entries.len(),
            indexes,
            cosigners,
            charter_hash: self.charter_hash.clone(),
            witness_policy: state.policy().witness_policy.as_ref().map(|p| {
                crate::witness::check_policy(&note, p, &|m| state.current_key(m).cloned())
            }),
        })
    }
}
