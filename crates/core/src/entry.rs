//! The log's leaves: an envelope as the ledger logged it.
//!
//! A leaf is the UTF-8 JSON object
//! `{"index":N,"logged_at":"T","governance":G,"envelope":{...}}` written compactly in that
//! member order, where `G` is the index of the latest governance entry (charter, admission,
//! removal, rotation, revocation) before this one (0 for entry 0). The `G` pointers chain
//! every governance entry, so an audit bundle that left one out fails to verify.
//!
//! The ledger writes a leaf once and hashes it as stored (RFC 6962
//! leaf hash `SHA-256(0x00 || leaf)`); readers parse it but never re-serialise it to verify.
//! Committing the index and the ledger's time into the leaf makes a moved or re-timed entry
//! change the Merkle root.

use serde::{Deserialize, Serialize};

use crate::envelope::{Envelope, EnvelopeError};
use crate::model::Timestamp;

/// Largest leaf accepted.
pub const MAX_LEAF_BYTES: usize = crate::tiles::MAX_ENTRY_BYTES;

/// Why leaf bytes do not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LeafError {
    /// Larger than [`MAX_LEAF_BYTES`].
    #[error("leaf is {0} bytes; the limit is {MAX_LEAF_BYTES}")]
    TooLarge(usize),
    /// Not the leaf JSON object.
    #[error("malformed leaf: {0}")]
    Malformed(String),
    /// The envelope inside is malformed.
    #[error("malformed envelope in leaf: {0}")]
    Envelope(#[from] EnvelopeError),
    /// The leaf's bytes are not the canonical encoding of its content.
    #[error("leaf bytes are not in the canonical form")]
    NotCanonical,
}

/// An entry as logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedEntry {
    /// Position in the log, from 0.
    pub index: u64,
    /// When the ledger accepted it.
    pub logged_at: Timestamp,
    /// Index of the latest governance entry before this one (0 for entry 0).
    pub governance: u64,
    /// The signed envelope.
    pub envelope: Envelope,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireLeaf {
    index: u64,
    logged_at: Timestamp,
    governance: u64,
    envelope: serde_json::Value,
}

impl LoggedEntry {
    /// The leaf bytes.
    pub fn to_leaf(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.envelope.payload.len() * 4 / 3 + 256);
        out.extend_from_slice(b"{\"index\":");
        out.extend_from_slice(self.index.to_string().as_bytes());
        out.extend_from_slice(b",\"logged_at\":\"");
        out.extend_from_slice(self.logged_at.as_str().as_bytes());
        out.extend_from_slice(b"\",\"governance\":");
        out.extend_from_slice(self.governance.to_string().as_bytes());
        out.extend_from_slice(b",\"envelope\":");
        out.extend_from_slice(&self.envelope.to_json());
        out.push(b'}');
        out
    }

    /// Decodes leaf bytes, and insists they are exactly what [`LoggedEntry::to_leaf`] writes,
    /// so one entry has one leaf.
    ///
    /// # Errors
    /// [`LeafError`].
    pub fn from_leaf(bytes: &[u8]) -> Result<Self, LeafError> {
        if bytes.len() > MAX_LEAF_BYTES {
            return Err(LeafError::TooLarge(bytes.len()));
        }
        let wire: WireLeaf =
            serde_json::from_slice(bytes).map_err(|e| LeafError::Malformed(e.to_string()))?;
        let entry = LoggedEntry {
            index: wire.index,
            logged_at: wire.logged_at,
            governance: wire.governance,
            envelope: Envelope::from_value(wire.envelope)?,
        };
        if entry.to_leaf() != bytes {
            return Err(LeafError::NotCanonical);
        }
        Ok(entry)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn leaf_round_trip(index in any::<u64>(), payload in proptest::collection::vec(any::<u8>(), 0..512),
                           secs in 0i64..4_000_000_000, nsig in 0usize..4, sigbyte in any::<u8>()) {
            let mut envelope = Envelope::new(payload);
            for i in 0..nsig {
                envelope.signatures.push(crate::envelope::EnvelopeSignature {
                    keyid: format!("M{i}+0000000{i}"),
                    sig: ed25519_dalek::Signature::from_bytes(&[sigbyte; 64]),
                });
            }
            let e = LoggedEntry { index, logged_at: Timestamp::from_unix(secs).unwrap(), governance: index / 2, envelope };
            let leaf = e.to_leaf();
            prop_assert_eq!(LoggedEntry::from_leaf(&leaf).unwrap(), e);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let _ = LoggedEntry::from_leaf(&bytes);
            let _ = Envelope::from_json(&bytes);
            let _ = crate::model::Payload::from_bytes(&bytes);
        }
    }

    #[test]
    fn re_encoded_leaves_are_refused() {
        let e = LoggedEntry {
            index: 3,
            logged_at: Timestamp::parse("2026-01-13T15:00:00Z").unwrap(),
            governance: 0,
            envelope: Envelope::new(b"{}".to_vec()),
        };
        let pretty = serde_json::to_vec_pretty(
            &serde_json::from_slice::<serde_json::Value>(&e.to_leaf()).unwrap(),
        )
        .unwrap();
        assert_eq!(
            LoggedEntry::from_leaf(&pretty),
            Err(LeafError::NotCanonical)
        );
    }
}
