//! accord's mirror: a full, verified local replica of a log, read only from the log's C2SP
//! tlog-tiles endpoints (`/checkpoint`, `/tile/<L>/<N>[.p/<W>]`, `/tile/entries/<N>[.p/<W>]`,
//! c2sp.org/tlog-tiles) under a URL prefix, so that it follows `accord serve` and a static
//! copy on object storage alike. The replica is an ordinary accord ledger: every local read
//! command works on it, offline.
//!
//! [`fetch`] reads the endpoints; [`sync`] decides what to accept. A sync accepts nothing
//! before all of it checks out (the order is in [`sync::sync`]); a log that shows a
//! checkpoint inconsistent with one the mirror verified before gets an evidence file
//! ([`accord_core::evidence`]) instead.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod fetch;
pub mod sync;

use std::path::PathBuf;

/// Why a sync stopped. Nothing wrong was accepted in any case; the next run resumes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MirrorError {
    /// The log could not be read: unreachable, an error status, a timeout, a body cut short.
    #[error("{0}")]
    Fetch(String),
    /// What the log served does not verify (a bad signature, a tampered tile or bundle, an
    /// entry refused); nothing of it was kept.
    #[error("refused: {0}")]
    Refused(String),
    /// The log showed a checkpoint inconsistent with one this mirror verified before (a fork
    /// or a rollback); the replica was kept as it was and the evidence written.
    #[error("{why}; the replica is kept as it was; evidence written to {}", evidence.display())]
    Fork {
        /// What was seen.
        why: String,
        /// The evidence file.
        evidence: PathBuf,
    },
    /// The replica could not be opened or written.
    #[error(transparent)]
    Ledger(#[from] accord_ledger::LedgerError),
    /// A file of the mirror's own.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}
