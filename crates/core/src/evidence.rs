//! Evidence that a log forked: two checkpoints signed by the same log key that cannot both
//! be views of one append-only tree (docs/FORMAT.md, "Fork evidence"). `accord mirror`
//! writes one when a log shows it a checkpoint inconsistent with one it verified before;
//! [`Evidence::check`] decides, offline and for anyone, whether a file proves a fork.
//!
//! A failing consistency proof proves nothing (any garbage fails), so the proof is positive:
//! either the two checkpoints have the same size and different roots, or the file holds, for
//! one index below both sizes, the two different leaves each tree has there with an
//! inclusion proof of each in its own tree (RFC 9162 2.1.3.2). An append-only log has one
//! leaf per index, so a log key that signed both signed two histories. A checkpoint of a
//! smaller size alone (a rollback) is not proof: an old checkpoint can be replayed by
//! anyone; such a file is reported, but as not proving a fork.

use base64::prelude::*;
use serde::{Deserialize, Serialize};

use crate::checkpoint::SignedCheckpoint;
use crate::keys::VerifierKey;
use crate::log::{self, Hash};

/// The `format` member of an evidence file.
pub const EVIDENCE_FORMAT: &str = "accord-fork-evidence/1";

/// The largest evidence file read (two notes, two leaves, two proofs of at most 64 hashes).
pub const MAX_EVIDENCE_BYTES: usize = 1 << 20;

/// An evidence file that cannot be read as one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// Not JSON of the documented shape.
    #[error("not an {EVIDENCE_FORMAT} file: {0}")]
    Malformed(String),
}

/// Two different leaves at one index, each with its inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Divergence {
    /// The leaf index (below both checkpoints' sizes).
    pub index: u64,
    /// The leaf at `index` in the tree of `verified` (base64).
    pub verified_leaf: String,
    /// Its inclusion proof in that tree (base64 hashes).
    pub verified_proof: Vec<Hash>,
    /// The leaf at `index` in the tree of `served` (base64).
    pub served_leaf: String,
    /// Its inclusion proof in that tree.
    pub served_proof: Vec<Hash>,
}

/// An evidence file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// [`EVIDENCE_FORMAT`].
    pub format: String,
    /// The log's origin.
    pub origin: String,
    /// The log's verifier key (from the charter), as a C2SP vkey.
    pub log_key: String,
    /// Where the second checkpoint was served (informative).
    pub source: String,
    /// When the mirror found it, RFC 3339 (informative).
    pub found_at: String,
    /// The checkpoint the mirror had verified before, as the signed note it received.
    pub verified: String,
    /// The checkpoint served afterwards, as a signed note.
    pub served: String,
    /// The leaves that differ, when the sizes alone do not show it.
    pub divergence: Option<Divergence>,
}

/// What an evidence file shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Whether it proves that the log key signed two inconsistent trees.
    pub proves_fork: bool,
    /// Why, in one sentence.
    pub why: String,
}

fn not(why: impl Into<String>) -> Finding {
    Finding {
        proves_fork: false,
        why: why.into(),
    }
}

impl Evidence {
    /// Parses an evidence file strictly (duplicate members and unknown members refused).
    ///
    /// # Errors
    /// [`EvidenceError::Malformed`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EvidenceError> {
        if bytes.len() > MAX_EVIDENCE_BYTES {
            return Err(EvidenceError::Malformed(format!(
                "{} bytes, more than {MAX_EVIDENCE_BYTES}",
                bytes.len()
            )));
        }
        let e: Self =
            crate::json::from_slice(bytes).map_err(|e| EvidenceError::Malformed(e.to_string()))?;
        if e.format != EVIDENCE_FORMAT {
            return Err(EvidenceError::Malformed(format!(
                "format {:?} is not {EVIDENCE_FORMAT:?}",
                e.format
            )));
        }
        Ok(e)
    }

    /// The file's bytes: pretty JSON and a final newline.
    #[allow(clippy::expect_used)]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("strings and integers serialise");
        out.push(b'\n');
        out
    }

    /// Decides whether the file proves a fork: both checkpoints parse, are for `origin` and
    /// carry a valid signature by `log_key`; and either they have one size and two roots, or
    /// [`Evidence::divergence`] holds two different leaves at one index below both sizes,
    /// each included in its checkpoint's tree. Anything short of that is a [`Finding`] that
    /// does not prove a fork, saying what is missing.
    ///
    /// # Errors
    /// [`EvidenceError::Malformed`] for members that do not parse (a key, a note, base64).
    pub fn check(&self) -> Result<Finding, EvidenceError> {
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            EvidenceError::Malformed(format!("member {what:?}: {e}"))
        };
        let key = VerifierKey::parse(&self.log_key).map_err(|e| bad("log_key", &e))?;
        let a = SignedCheckpoint::from_bytes(self.verified.as_bytes())
            .map_err(|e| bad("verified", &e))?;
        let b =
            SignedCheckpoint::from_bytes(self.served.as_bytes()).map_err(|e| bad("served", &e))?;
        for (name, n) in [("verified", &a), ("served", &b)] {
            if n.checkpoint().origin() != self.origin {
                return Ok(not(format!(
                    "the {name} checkpoint is for origin {:?}, not {:?}",
                    n.checkpoint().origin(),
                    self.origin
                )));
            }
            if let Err(e) = n.verify_log(key.name(), key.verifying_key()) {
                return Ok(not(format!(
                    "the {name} checkpoint is not signed by the log key {}: {e}",
                    self.log_key
                )));
            }
        }
        let (ca, cb) = (a.checkpoint(), b.checkpoint());
        if ca.size() == cb.size() {
            return Ok(if ca.root().ct_eq(cb.root()) {
                not(format!(
                    "both checkpoints are of the same tree ({} entries, root {})",
                    ca.size(),
                    ca.root()
                ))
            } else {
                Finding {
                    proves_fork: true,
                    why: format!(
                        "the log key signed two different trees of {} entries (roots {} and {})",
                        ca.size(),
                        ca.root(),
                        cb.root()
                    ),
                }
            });
        }
        let Some(d) = &self.divergence else {
            return Ok(not(if cb.size() < ca.size() {
                format!(
                    "the log served a checkpoint of {} entries after one of {} (a rollback), but \
                     an older checkpoint can be replayed by anyone; no differing leaves are given",
                    cb.size(),
                    ca.size()
                )
            } else {
                format!(
                    "checkpoints of {} and {} entries with no differing leaves given",
                    ca.size(),
                    cb.size()
                )
            }));
        };
        let leaf_a = BASE64_STANDARD
            .decode(&d.verified_leaf)
            .map_err(|e| bad("divergence.verified_leaf", &e))?;
        let leaf_b = BASE64_STANDARD
            .decode(&d.served_leaf)
            .map_err(|e| bad("divergence.served_leaf", &e))?;
        let (ha, hb) = (log::leaf_hash(&leaf_a), log::leaf_hash(&leaf_b));
        if ha.ct_eq(&hb) {
            return Ok(not(format!(
                "the two leaves given at index {} are the same",
                d.index
            )));
        }
        if let Err(e) = log::verify_inclusion(&ha, d.index, ca.size(), &d.verified_proof, ca.root())
        {
            return Ok(not(format!(
                "the verified leaf {} is not shown in the verified checkpoint's tree: {e}",
                d.index
            )));
        }
        if let Err(e) = log::verify_inclusion(&hb, d.index, cb.size(), &d.served_proof, cb.root()) {
            return Ok(not(format!(
                "the served leaf {} is not shown in the served checkpoint's tree: {e}",
                d.index
            )));
        }
        Ok(Finding {
            proves_fork: true,
            why: format!(
                "the log key signed a tree of {} entries and a tree of {} entries that hold \
                 different leaves at index {}",
                ca.size(),
                cb.size(),
                d.index
            ),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::keys::KeyPair;
    use crate::log::Frontier;

    fn tree(leaves: &[&[u8]]) -> Frontier {
        let mut f = Frontier::new();
        for l in leaves {
            f.push(log::leaf_hash(l));
        }
        f
    }

    fn note(k: &KeyPair, f: &Frontier) -> String {
        let cp = Checkpoint::new("example.org/log", f.size(), f.root()).unwrap();
        let n = SignedCheckpoint::sign(&cp, k.name(), k.signing_key()).unwrap();
        String::from_utf8(n.to_bytes()).unwrap()
    }

    fn evidence(k: &KeyPair, a: &Frontier, b: &Frontier) -> Evidence {
        Evidence {
            format: EVIDENCE_FORMAT.into(),
            origin: "example.org/log".into(),
            log_key: k.verifier().unwrap().to_string(),
            source: "http://127.0.0.1:1".into(),
            found_at: "2026-01-01T00:00:00Z".into(),
            verified: note(k, a),
            served: note(k, b),
            divergence: None,
        }
    }

    #[test]
    fn same_size_two_roots_is_a_fork_and_one_root_is_not() {
        let k = KeyPair::from_seed("example.org/log", &[7; 32]).unwrap();
        let e = evidence(&k, &tree(&[b"a", b"b"]), &tree(&[b"a", b"c"]));
        let back = Evidence::from_bytes(&e.to_bytes()).unwrap();
        assert!(back.check().unwrap().proves_fork);
        let same = evidence(&k, &tree(&[b"a", b"b"]), &tree(&[b"a", b"b"]));
        assert!(!same.check().unwrap().proves_fork);
    }

    #[test]
    fn another_key_on_one_side_proves_nothing() {
        let k = KeyPair::from_seed("example.org/log", &[7; 32]).unwrap();
        let other = KeyPair::from_seed("example.org/log", &[8; 32]).unwrap();
        let mut e = evidence(&k, &tree(&[b"a", b"b"]), &tree(&[b"a", b"c"]));
        e.served = note(&other, &tree(&[b"a", b"c"]));
        let f = e.check().unwrap();
        assert!(!f.proves_fork, "{}", f.why);
    }

    #[test]
    fn a_rollback_needs_the_leaves_that_differ() {
        let k = KeyPair::from_seed("example.org/log", &[7; 32]).unwrap();
        let long = tree(&[b"a", b"b", b"c"]);
        let short = tree(&[b"x", b"b"]);
        let mut e = evidence(&k, &long, &short);
        assert!(!e.check().unwrap().proves_fork);
        // Inclusion proofs of leaf 0 in each tree: the sibling paths.
        let proof_long = vec![log::leaf_hash(b"b"), log::leaf_hash(b"c")];
        let proof_short = vec![log::leaf_hash(b"b")];
        e.divergence = Some(Divergence {
            index: 0,
            verified_leaf: BASE64_STANDARD.encode(b"a"),
            verified_proof: proof_long.clone(),
            served_leaf: BASE64_STANDARD.encode(b"x"),
            served_proof: proof_short,
        });
        assert!(e.check().unwrap().proves_fork);
        // A proof that does not verify shows nothing.
        if let Some(d) = &mut e.divergence {
            d.served_proof = proof_long;
        }
        assert!(!e.check().unwrap().proves_fork);
    }

    #[test]
    fn malformed_files_are_errors() {
        assert!(Evidence::from_bytes(b"{}").is_err());
        assert!(Evidence::from_bytes(b"not json").is_err());
    }
}
