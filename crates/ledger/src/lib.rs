//! # accord-ledger
//!
//! The append-only ledger on sled: validated appends, Merkle node storage, checkpoints and
//! cosignatures, proofs, indexes and queries, the full audit, and exports. Everything it
//! decides about entries it asks of `accord-core`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod bundles;
pub mod error;
pub mod export;
pub mod heads;
mod index;
mod keys;
pub mod ledger;
mod overlay;
pub mod query;
pub mod store;
pub mod synth;
mod tree;
pub mod verify;
pub mod wal;

pub use error::LedgerError;
pub use ledger::{
    charter_hash, Appended, ConsistencyProof, Deferred, Durability, ImportItem, ImportReport,
    InclusionProof, IntoImportItem, Ledger, LoggedLeaf, StoredCheckpoint, StoredEntry, Wait,
};
pub use verify::{verify, VerifyError, VerifyOptions, VerifyReport};
