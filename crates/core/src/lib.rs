//! # accord-core
//!
//! Everything an auditor needs to check an accord ledger, and nothing that touches a disk:
//!
//! - [`model`]: the signed payloads (charter, commitments, lifecycle and governance entries)
//!   and their validated values;
//! - [`json`]: the one strict JSON reading (no duplicate members) every parser uses;
//! - [`envelope`]: DSSE envelopes and PAE;
//! - [`keys`]: Ed25519 keys in C2SP signed-note form;
//! - [`governance`]: the state machine deciding who may sign what;
//! - [`entry`]: the log's leaves;
//! - [`log`]: RFC 6962 / RFC 9162 Merkle math and proofs;
//! - [`tiles`]: C2SP tlog-tiles paths, entry bundles, stored hashes read from tiles;
//! - [`checkpoint`]: C2SP checkpoints, signed notes and cosignatures;
//! - [`lifecycle`]: a commitment's status folded from its history;
//! - [`follow`]: a verified follower, checking only what is new since its last run;
//! - [`bundle`]: the self-contained audit bundle and its offline verification;
//! - [`witness`]: C2SP tlog-witness `add-checkpoint` bodies and the witness's decision.
//!
//! The byte-level formats are specified in `docs/FORMAT.md`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bundle;
pub mod checkpoint;
pub mod entry;
pub mod envelope;
pub mod evidence;
pub mod figures;
pub mod follow;
pub mod governance;
pub mod json;
pub mod keys;
pub mod lifecycle;
pub mod log;
pub mod model;
pub mod tiles;
pub mod witness;
