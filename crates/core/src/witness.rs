//! C2SP tlog-witness (c2sp.org/tlog-witness), the pure part: the `add-checkpoint` request
//! body, and the witness's decision whether a submitted checkpoint may be cosigned given the
//! latest checkpoint it cosigned for that origin. Storage, locking and HTTP are the server's.
//!
//! The request body (c2sp.org/tlog-witness, "add-checkpoint"):
//!
//! ```text
//! old <previous size, decimal, no leading zeroes>
//! <consistency proof hash, base64>      (0 to 63 lines)
//!
//! <signed checkpoint, c2sp.org/tlog-checkpoint as a c2sp.org/signed-note>
//! ```
//!
//! Every line ends in a newline. The answer to a good request is one or more note signature
//! lines (`— <witness name> base64(key ID || timestamp || signature)`, c2sp.org/tlog-cosignature).

use crate::checkpoint::{CheckpointError, SignedCheckpoint};
use crate::keys::VerifierKey;
use crate::log::{verify_consistency, Hash, EMPTY_ROOT, MAX_PROOF_LEN};

/// The most consistency proof lines a request may carry (c2sp.org/tlog-witness: "The client
/// MUST NOT send more than 63 consistency proof lines").
pub const MAX_PROOF_LINES: usize = 63;

/// The media type of a 409 answer's body: the witness's size, decimal, and a newline.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// The largest request body a witness reads: a note of [`crate::checkpoint::MAX_NOTE_BYTES`]
/// plus the old line and 63 proof lines.
pub const MAX_BODY_BYTES: usize = crate::checkpoint::MAX_NOTE_BYTES + 64 * 46;

/// A parsed `add-checkpoint` request.
#[derive(Clone, Debug, PartialEq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the client believes the witness holds.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size (RFC 9162 section 2.1.4).
    pub proof: Vec<Hash>,
    /// The checkpoint, with every signature line it came with.
    pub checkpoint: SignedCheckpoint,
}

/// Why a witness refuses a request, each with the HTTP status c2sp.org/tlog-witness names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// The body is not an `add-checkpoint` request (400).
    #[error("malformed add-checkpoint body: {0}")]
    Malformed(String),
    /// The checkpoint's origin is not a log this witness is configured for (404).
    #[error("unknown log origin {0:?}")]
    UnknownOrigin(String),
    /// No valid signature by the configured log key (403).
    #[error("the checkpoint is not signed by the log key {key}: {why}")]
    BadLogSignature {
        /// The configured key.
        key: String,
        /// What the check found.
        why: String,
    },
    /// `old` is larger than the checkpoint's size (400).
    #[error("old size {old} is larger than the checkpoint size {size}")]
    OldAfterNew {
        /// The old size sent.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// `old` is not the size the witness holds (409, with that size).
    #[error("old size {old} is not the size {held} this witness last cosigned")]
    Conflict {
        /// The old size sent.
        old: u64,
        /// The size held.
        held: u64,
    },
    /// The checkpoint is not consistent with the one held, or the proof is wrong (422).
    #[error("inconsistent: {0}")]
    Inconsistent(String),
}

impl WitnessError {
    /// The HTTP status c2sp.org/tlog-witness prescribes.
    pub fn status(&self) -> u16 {
        match self {
            Self::Malformed(_) | Self::OldAfterNew { .. } => 400,
            Self::UnknownOrigin(_) => 404,
            Self::BadLogSignature { .. } => 403,
            Self::Conflict { .. } => 409,
            Self::Inconsistent(_) => 422,
        }
    }
}

/// Parses a decimal size with no leading zeroes (`0` itself allowed).
fn parse_size(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

impl AddCheckpoint {
    /// Parses a request body strictly: `old N` line, at most [`MAX_PROOF_LINES`] canonical
    /// base64 hashes, an empty line, a signed checkpoint accepted by
    /// [`SignedCheckpoint::from_bytes`]. Nothing is verified.
    ///
    /// # Errors
    /// [`WitnessError::Malformed`] naming what is wrong.
    pub fn parse(body: &[u8]) -> Result<Self, WitnessError> {
        let bad = |s: &str| WitnessError::Malformed(s.to_owned());
        if body.len() > MAX_BODY_BYTES {
            return Err(bad("body too large"));
        }
        let mut rest = body;
        let mut line = || -> Result<&[u8], WitnessError> {
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or_else(|| bad("a line does not end in a newline"))?;
            let (l, r) = rest.split_at(end);
            rest = r.get(1..).unwrap_or_default();
            Ok(l)
        };
        let first = std::str::from_utf8(line()?).map_err(|_| bad("the old line is not UTF-8"))?;
        let old = first
            .strip_prefix("old ")
            .and_then(parse_size)
            .ok_or_else(|| bad("the first line is not `old <size>`"))?;
        let mut proof = Vec::new();
        loop {
            let l = line()?;
            if l.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad("more than 63 consistency proof lines"));
            }
            let h = std::str::from_utf8(l)
                .ok()
                .and_then(|s| Hash::from_base64(s).ok())
                .ok_or_else(|| bad("a proof line is not the base64 of a 32-byte hash"))?;
            proof.push(h);
        }
        let checkpoint = SignedCheckpoint::from_bytes(rest)
            .map_err(|e| WitnessError::Malformed(format!("checkpoint: {e}")))?;
        Ok(Self {
            old,
            proof,
            checkpoint,
        })
    }

    /// The body, as [`AddCheckpoint::parse`] reads it.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self.old, &self.proof, &self.checkpoint.to_bytes())
    }
}

/// An `add-checkpoint` body of `old`, `proof` and the signed note `checkpoint`.
pub fn encode(old: u64, proof: &[Hash], checkpoint: &[u8]) -> Vec<u8> {
    let mut out = format!("old {old}\n").into_bytes();
    for h in proof {
        out.extend_from_slice(h.to_base64().as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(checkpoint);
    out
}

/// Checks the log's signature: at least one valid line by `log_key`, none by it invalid
/// (c2sp.org/tlog-witness: 403 otherwise). Unknown keys are ignored.
///
/// # Errors
/// [`WitnessError::BadLogSignature`].
pub fn check_log_signature(
    checkpoint: &SignedCheckpoint,
    log_key: &VerifierKey,
) -> Result<(), WitnessError> {
    checkpoint
        .verify_log(log_key.name(), log_key.verifying_key())
        .map_err(|e: CheckpointError| WitnessError::BadLogSignature {
            key: log_key.to_string(),
            why: e.to_string(),
        })
}

/// Decides whether `req` may be cosigned, given the (size, root) of the latest checkpoint
/// cosigned for its origin (`None`: never), once the origin and log signature were checked.
/// The checks and their order are c2sp.org/tlog-witness's:
///
/// 1. `old` > checkpoint size: [`WitnessError::OldAfterNew`] (400);
/// 2. `old` is not the size held (0 when none): [`WitnessError::Conflict`] (409);
/// 3. a size-0 checkpoint whose root is not the empty tree's (RFC 6962 section 2.1), a
///    non-empty proof from size 0, a same-size checkpoint with another root or a non-empty
///    proof, or a consistency proof that does not verify: [`WitnessError::Inconsistent`] (422).
///
/// # Errors
/// As above.
pub fn decide(held: Option<(u64, Hash)>, req: &AddCheckpoint) -> Result<(), WitnessError> {
    let cp = req.checkpoint.checkpoint();
    let (size, root) = (cp.size(), *cp.root());
    if req.old > size {
        return Err(WitnessError::OldAfterNew { old: req.old, size });
    }
    let held_size = held.map_or(0, |(s, _)| s);
    if req.old != held_size {
        return Err(WitnessError::Conflict {
            old: req.old,
            held: held_size,
        });
    }
    let inconsistent = |s: &str| Err(WitnessError::Inconsistent(s.to_owned()));
    if size == 0 && !root.ct_eq(&EMPTY_ROOT) {
        return inconsistent("a checkpoint of size 0 must have the empty tree's root");
    }
    if req.proof.len() > MAX_PROOF_LEN {
        return inconsistent("the consistency proof is too long");
    }
    let Some((_, held_root)) = held.filter(|(s, _)| *s > 0) else {
        // Nothing held (or the empty tree): consistent with anything, no proof needed.
        if !req.proof.is_empty() {
            return inconsistent("a consistency proof from size 0 must be empty");
        }
        return Ok(());
    };
    if req.old == size {
        if !req.proof.is_empty() {
            return inconsistent("a consistency proof between equal sizes must be empty");
        }
        if !root.ct_eq(&held_root) {
            return inconsistent(&format!(
                "a checkpoint of size {size} with another root than the one cosigned ({} != {})",
                root.to_base64(),
                held_root.to_base64()
            ));
        }
        return Ok(());
    }
    verify_consistency(req.old, size, &held_root, &root, &req.proof).map_err(|e| {
        WitnessError::Inconsistent(format!(
            "the consistency proof from size {} to {size} does not verify: {e}",
            req.old
        ))
    })
}

/// Whether a checkpoint meets a charter's witness policy.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PolicyReport {
    /// Distinct valid cosignatures needed.
    pub threshold: u32,
    /// The listed witnesses whose cosignature verifies with their current key, in policy order.
    pub cosigned_by: Vec<String>,
    /// `cosigned_by.len() >= threshold`.
    pub met: bool,
}

/// Checks `note`'s cosignatures against `policy`: a listed witness counts once if one of the
/// note's `cosignature/v1` lines under its id verifies with its key as `key_of` gives it (the
/// governance state's current key; `None`: removed or revoked, so it does not count).
/// The log's own signature is not checked here.
pub fn check_policy(
    note: &SignedCheckpoint,
    policy: &crate::model::WitnessPolicy,
    key_of: &dyn Fn(&crate::model::MemberId) -> Option<VerifierKey>,
) -> PolicyReport {
    let cosigs = note.cosignatures();
    let cosigned_by: Vec<String> = policy
        .witnesses
        .iter()
        .filter(|w| {
            key_of(w).is_some_and(|k| {
                cosigs.iter().filter(|c| c.name == w.as_str()).any(|c| {
                    note.verify_cosignature(c, w.as_str(), k.verifying_key())
                        .is_ok()
                })
            })
        })
        .map(|w| w.as_str().to_owned())
        .collect();
    PolicyReport {
        threshold: policy.threshold,
        met: cosigned_by.len() >= policy.threshold as usize,
        cosigned_by,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::keys::KeyPair;
    use crate::log::{consistency_proof_from, leaf_hash, Frontier};

    struct Log {
        key: KeyPair,
        frontier: Frontier,
        stored: Vec<Hash>,
    }

    impl Log {
        fn new() -> Self {
            Self {
                key: KeyPair::from_seed("example.org/log", &[7; 32]).unwrap(),
                frontier: Frontier::new(),
                stored: Vec::new(),
            }
        }
        fn grow(&mut self, n: u64) {
            for _ in 0..n {
                let i = self.frontier.size();
                let hs = self.frontier.push(leaf_hash(&i.to_be_bytes()));
                self.stored.extend(hs);
            }
        }
        fn signed(&self, root: Hash) -> SignedCheckpoint {
            let cp = Checkpoint::new("example.org/log", self.frontier.size(), root).unwrap();
            SignedCheckpoint::sign(&cp, "example.org/log", self.key.signing_key()).unwrap()
        }
        fn proof(&self, old: u64) -> Vec<Hash> {
            let needs = crate::log::consistency_needs(old, self.frontier.size()).unwrap();
            let hs: Vec<Hash> = needs.iter().map(|i| self.stored[i.0 as usize]).collect();
            consistency_proof_from(old, self.frontier.size(), &hs).unwrap()
        }
    }

    #[test]
    fn body_round_trips_and_rejects_variants() {
        let mut log = Log::new();
        log.grow(5);
        let note = log.signed(log.frontier.root());
        let req = AddCheckpoint {
            old: 3,
            proof: log.proof(3),
            checkpoint: note.clone(),
        };
        let bytes = req.to_bytes();
        assert_eq!(AddCheckpoint::parse(&bytes).unwrap(), req);
        for bad in [
            b"old 03\n\n".to_vec(),
            b"old -1\n\n".to_vec(),
            b"old 1".to_vec(),
            b"new 1\n\n".to_vec(),
            b"old 1\nnot base64\n\n".to_vec(),
            encode(1, &[], b"garbage\n"),
            encode(1, &vec![Hash([0; 32]); 64], &note.to_bytes()),
        ] {
            assert!(matches!(
                AddCheckpoint::parse(&bad),
                Err(WitnessError::Malformed(_))
            ));
        }
    }

    #[test]
    fn decisions_follow_the_spec() {
        let mut log = Log::new();
        log.grow(5);
        let r5 = log.frontier.root();
        let at5 = log.signed(r5);
        let fresh = AddCheckpoint {
            old: 0,
            proof: vec![],
            checkpoint: at5.clone(),
        };
        assert_eq!(decide(None, &fresh), Ok(()));
        assert_eq!(
            decide(Some((5, r5)), &fresh).unwrap_err().status(),
            409,
            "old 0 against a held size"
        );
        let same = AddCheckpoint {
            old: 5,
            ..fresh.clone()
        };
        assert_eq!(decide(Some((5, r5)), &same), Ok(()));
        let forked = AddCheckpoint {
            old: 5,
            proof: vec![],
            checkpoint: log.signed(Hash([1; 32])),
        };
        assert_eq!(decide(Some((5, r5)), &forked).unwrap_err().status(), 422);
        log.grow(7);
        let grown = AddCheckpoint {
            old: 5,
            proof: log.proof(5),
            checkpoint: log.signed(log.frontier.root()),
        };
        assert_eq!(decide(Some((5, r5)), &grown), Ok(()));
        let mut tampered = grown.clone();
        tampered.proof[0] = Hash([9; 32]);
        assert_eq!(decide(Some((5, r5)), &tampered).unwrap_err().status(), 422);
        let too_old = AddCheckpoint {
            old: 13,
            ..grown.clone()
        };
        assert_eq!(decide(Some((13, r5)), &too_old).unwrap_err().status(), 400);
        let proof_from_zero = AddCheckpoint { old: 0, ..grown };
        assert_eq!(decide(None, &proof_from_zero).unwrap_err().status(), 422);
    }
}
