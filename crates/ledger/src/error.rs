//! The ledger's errors: rejected entries apart from store failures and corruption.

use std::path::PathBuf;

use accord_core::governance::Rejection;

use crate::store::StoreError;

/// What went wrong with a ledger operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The entry is well-formed but not accepted (not authorised, bad signature...).
    #[error("rejected: {0}")]
    Rejected(#[from] Rejection),
    /// The directory holds no ledger.
    #[error("no ledger in {0} (create one with `accord init`)")]
    NotALedger(PathBuf),
    /// The directory holds a ledger in a storage layout this version does not read.
    #[error(
        "{dir} holds a ledger in storage layout {found} (accord-ledger/1: one key per leaf and \
         Merkle node; accord-ledger/2: tiles, but one key per index item); this accord reads \
         accord-ledger/3. Export it with \
         the accord that wrote it (`accord --ledger {dir} export --format jsonl --out ledger.jsonl`) \
         and import that with this one (`accord --ledger NEW import ledger.jsonl`): the entries, \
         indexes and root are the same (docs/GUARANTEES.md, \"Upgrading the storage layout\")"
    )]
    OldLayout {
        /// The directory.
        dir: PathBuf,
        /// The layout name found.
        found: String,
    },
    /// The directory holds what a creation that never completed left (docs/GUARANTEES.md).
    #[error(
        "the creation of a ledger in {0} did not complete; `accord init` or `accord import` creates it afresh"
    )]
    Incomplete(PathBuf),
    /// The directory already holds a ledger.
    #[error("{0} already holds a ledger (or other data)")]
    Exists(PathBuf),
    /// Another process has the ledger open.
    #[error("ledger {0} is in use by another process (try again, or use --wait)")]
    InUse(PathBuf),
    /// What is stored does not add up.
    #[error("ledger is corrupt at {at}: {why}")]
    Corrupt {
        /// Where.
        at: String,
        /// What is wrong.
        why: String,
    },
    /// The key given is not the log key the charter names.
    #[error("this is not the ledger's log key; the charter names {expected}")]
    WrongLogKey {
        /// The charter's log key.
        expected: String,
    },
    /// Nothing there.
    #[error("not found: {0}")]
    NotFound(String),
    /// An index or size outside the ledger.
    #[error("out of range: {0}")]
    OutOfRange(String),
    /// A cosignature that cannot be made.
    #[error("cannot cosign: {0}")]
    Cosign(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// File I/O.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl From<StoreError> for LedgerError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InUse(p) => LedgerError::InUse(p),
            e => LedgerError::Store(e),
        }
    }
}
