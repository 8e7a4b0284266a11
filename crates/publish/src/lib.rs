//! # accord-publish
//!
//! Copies a ledger's C2SP tlog-tiles (c2sp.org/tlog-tiles) to object storage, so that any
//! number of readers fetch the log from a bucket or a CDN instead of the sequencer: the
//! objects are named exactly as `accord serve` serves them (`checkpoint`, `tile/<L>/<N>`,
//! `tile/<L>/<N>.p/<W>`, `tile/entries/<N>`, `tile/entries/<N>.p/<W>`, under a prefix) and
//! hold the same bytes.
//!
//! ## Order of writes (what a reader can rely on)
//! 1. The tree published is the one of the ledger's latest signed checkpoint (size `S`).
//! 2. What the store already holds is read from the store itself: its `checkpoint` object,
//!    whose signature must be this log's and whose tree must be the ledger's tree at that
//!    size (a consistency proof from it to `S` is checked). The store is the truth; there is
//!    no state file.
//! 3. Every tile and entry bundle that changed from the stored size to `S` is written with a
//!    create-only put (`If-None-Match: *`), full ones first, then the partial ones of size `S`.
//!    A tile path names the same bytes forever in an append-only log, so an object that is
//!    already there is success only if its bytes are identical (a put that timed out but
//!    landed comes back as 412); other bytes are an error naming the object.
//! 4. Only when every one of them is stored is the checkpoint written, by a conditional update
//!    (`If-Match` the ETag read in step 2, or create-only if there was none). A conflict means
//!    another publisher moved it: the publisher re-reads and re-checks from step 2, and never
//!    replaces a checkpoint by a smaller one or by one that is not consistent with it.
//!
//! So a reader never sees a checkpoint whose tiles are missing, and a publish interrupted at
//! any point is finished by running it again.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod target;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use accord_core::checkpoint::SignedCheckpoint;
use accord_core::log;
use accord_core::tiles::{self, TileId};
use accord_ledger::{Ledger, LedgerError};
use futures::stream::{self, StreamExt, TryStreamExt};
use object_store::{Attribute, Attributes, PutMode, PutOptions, PutPayload, UpdateVersion};

pub use target::{Kind, Target};

/// Content type of tiles and entry bundles.
pub const TILE_CONTENT_TYPE: &str = "application/octet-stream";
/// Content type of the checkpoint.
pub const CHECKPOINT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";
/// Cache-Control of full tiles and bundles: they never change.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cache-Control of the checkpoint and partial tiles: revalidate every time.
pub const NO_CACHE: &str = "no-cache";
/// How many uploads run at once by default.
pub const DEFAULT_JOBS: usize = 16;
/// How many times the checkpoint update is retried when other publishers move it.
const CHECKPOINT_ATTEMPTS: usize = 8;

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The URL is not one the publisher can write to.
    #[error("--to {url}: {why}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        why: String,
    },
    /// The store refused or failed a request: credentials, a missing bucket, the network.
    #[error("{target}: cannot {what} {object} in bucket {bucket:?}: {why}: {source}")]
    Store {
        /// The target URL.
        target: String,
        /// The bucket, container or directory.
        bucket: String,
        /// The operation ("write", "read").
        what: &'static str,
        /// The object's tlog-tiles path.
        object: String,
        /// What it probably means.
        why: &'static str,
        /// The store's error.
        source: Box<object_store::Error>,
    },
    /// An immutable object in the store holds other bytes than the ledger's.
    #[error(
        "{target}: object {object} already exists with different bytes ({stored} bytes stored, \
         {ours} in the ledger): the store holds another log's objects or was tampered with; \
         not overwritten"
    )]
    Conflict {
        /// The target URL.
        target: String,
        /// The object's tlog-tiles path.
        object: String,
        /// Stored length.
        stored: usize,
        /// The ledger's length.
        ours: usize,
    },
    /// The stored checkpoint is not this log's, or not a tree this ledger has.
    #[error("{target}: the stored checkpoint {why}; refusing to replace it")]
    StoredCheckpoint {
        /// The target URL.
        target: String,
        /// What is wrong with it.
        why: String,
    },
    /// The ledger has no signed checkpoint: nothing can be published.
    #[error(
        "the ledger has no signed checkpoint yet; sign one with `accord checkpoint --log-key FILE` \
         (or let `accord serve` sign it)"
    )]
    NoCheckpoint,
    /// Other publishers kept moving the checkpoint.
    #[error(
        "{target}: the checkpoint changed {n} times under this publish (other publishers); run it again",
        n = CHECKPOINT_ATTEMPTS
    )]
    Contended {
        /// The target URL.
        target: String,
    },
    /// Reading the ledger failed.
    #[error("cannot read the ledger: {0}")]
    Ledger(#[from] LedgerError),
    /// A reader of the ledger panicked or the ledger's lock is poisoned.
    #[error("internal error reading the ledger: {0}")]
    Internal(String),
}

impl PublishError {
    /// A verdict about what the store holds (exit code 1 in the CLI), rather than a failure
    /// to reach it or a usage error (exit code 2).
    pub fn is_verdict(&self) -> bool {
        matches!(self, Self::Conflict { .. } | Self::StoredCheckpoint { .. })
    }
}

/// What one publish did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The tree size published (the ledger's latest checkpoint).
    pub size: u64,
    /// The size of the checkpoint the store held before, if any.
    pub previous: Option<u64>,
    /// Tiles and bundles written (new objects).
    pub written: u64,
    /// Tiles and bundles that were already there with identical bytes.
    pub existing: u64,
    /// Bytes of tiles and bundles written.
    pub bytes: u64,
    /// Whether the checkpoint object was written.
    pub checkpoint_written: bool,
    /// Requests sent to the store (reads and writes, retries by the client not counted).
    pub requests: u64,
    /// Set when the store already holds a larger checkpoint of this log (another publisher
    /// got there first): nothing was rolled back.
    pub store_ahead: Option<u64>,
}

/// What to publish.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Uploads at once.
    pub jobs: usize,
    /// Re-check every tile from size 0 (a repair), not only those new since the stored
    /// checkpoint.
    pub all: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            jobs: DEFAULT_JOBS,
            all: false,
        }
    }
}

/// The ledger, shared with whoever else uses it (the server's sequencer).
pub type SharedLedger = Arc<Mutex<Ledger>>;

async fn with_ledger<T: Send + 'static>(
    ledger: &SharedLedger,
    f: impl FnOnce(&Ledger) -> Result<T, LedgerError> + Send + 'static,
) -> Result<T, PublishError> {
    let ledger = ledger.clone();
    tokio::task::spawn_blocking(move || {
        let g = ledger
            .lock()
            .map_err(|_| PublishError::Internal("the ledger lock is poisoned".into()))?;
        f(&g).map_err(PublishError::from)
    })
    .await
    .map_err(|e| PublishError::Internal(e.to_string()))?
}

fn attributes(target: &Target, content_type: &'static str, cache: &'static str) -> Attributes {
    let mut a = Attributes::new();
    if !target.is_local() {
        a.insert(Attribute::ContentType, content_type.into());
        a.insert(Attribute::CacheControl, cache.into());
    }
    a
}

fn store_error(
    target: &Target,
    what: &'static str,
    object: &str,
    source: object_store::Error,
) -> PublishError {
    use object_store::Error as E;
    let why = match &source {
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => {
            "the store refused the credentials (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, \
             GOOGLE_SERVICE_ACCOUNT, AZURE_STORAGE_ACCOUNT_KEY or the role)"
        }
        E::NotFound { .. } if what == "write" => {
            "the bucket does not exist (or these credentials cannot see it)"
        }
        E::NotFound { .. } => "not found",
        E::Generic { .. } => {
            "the store failed or is unreachable (check the bucket, the region and AWS_ENDPOINT_URL)"
        }
        _ => "the store refused the request",
    };
    PublishError::Store {
        target: target.url().to_owned(),
        bucket: target.bucket().to_owned(),
        what,
        object: object.to_owned(),
        why,
        source: Box::new(source),
    }
}

/// The outcome of one create-only put.
enum Put {
    Created,
    Existed,
}

/// Writes `bytes` at `key` unless it exists; an existing object is success only with the
/// same bytes. Returns the outcome and the requests made.
async fn put_immutable(
    target: &Target,
    key: &str,
    bytes: Vec<u8>,
    cache: &'static str,
) -> Result<(Put, u64), PublishError> {
    let path = target.path(key);
    let opts = PutOptions {
        mode: PutMode::Create,
        attributes: attributes(target, TILE_CONTENT_TYPE, cache),
        ..PutOptions::default()
    };
    let payload = PutPayload::from(bytes.clone());
    match target.store().put_opts(&path, payload, opts).await {
        Ok(_) => Ok((Put::Created, 1)),
        Err(
            object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. },
        ) => {
            let stored = match target.store().get(&path).await {
                Ok(r) => r.bytes().await,
                Err(e) => Err(e),
            }
            .map_err(|e| store_error(target, "read", key, e))?;
            if stored.as_ref() == bytes.as_slice() {
                Ok((Put::Existed, 2))
            } else {
                Err(PublishError::Conflict {
                    target: target.url().to_owned(),
                    object: key.to_owned(),
                    stored: stored.len(),
                    ours: bytes.len(),
                })
            }
        }
        Err(e) => Err(store_error(target, "write", key, e)),
    }
}

/// The checkpoint the store holds, with what a conditional update needs.
struct Stored {
    note: SignedCheckpoint,
    bytes: Vec<u8>,
    version: UpdateVersion,
}

async fn read_checkpoint(target: &Target) -> Result<Option<Stored>, PublishError> {
    let path = target.path("checkpoint");
    let got = match target.store().get(&path).await {
        Ok(g) => g,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(store_error(target, "read", "checkpoint", e)),
    };
    let version = UpdateVersion {
        e_tag: got.meta.e_tag.clone(),
        version: got.meta.version.clone(),
    };
    let bytes = got
        .bytes()
        .await
        .map_err(|e| store_error(target, "read", "checkpoint", e))?
        .to_vec();
    let note =
        SignedCheckpoint::from_bytes(&bytes).map_err(|e| PublishError::StoredCheckpoint {
            target: target.url().to_owned(),
            why: format!("is not a checkpoint note: {e}"),
        })?;
    Ok(Some(Stored {
        note,
        bytes,
        version,
    }))
}

/// What the stored checkpoint means for ours.
enum Against {
    /// Nothing stored: create it; tiles from 0.
    Nothing,
    /// A smaller or equal consistent tree: tiles from its size; update it (unless equal).
    Behind(u64),
    /// A larger consistent tree of this log: nothing to do.
    Ahead(u64),
}

/// Checks the stored checkpoint against the ledger: this log's signature and origin, and a
/// tree the ledger has (a consistency proof from it to ours, or ours to it).
async fn check_stored(
    target: &Target,
    ledger: &SharedLedger,
    stored: &Stored,
    ours: &SignedCheckpoint,
) -> Result<Against, PublishError> {
    let refuse = |why: String| PublishError::StoredCheckpoint {
        target: target.url().to_owned(),
        why,
    };
    let (origin, key) =
        with_ledger(ledger, |l| Ok((l.origin().to_owned(), l.log_key().clone()))).await?;
    let cp = stored.note.checkpoint();
    if cp.origin() != origin {
        return Err(refuse(format!(
            "is of log {:?}, not this ledger's {origin:?}",
            cp.origin()
        )));
    }
    stored
        .note
        .verify_log(key.name(), key.verifying_key())
        .map_err(|e| refuse(format!("is not signed by this ledger's log key: {e}")))?;
    let (r, s) = (cp.size(), ours.checkpoint().size());
    let stored_root = *cp.root();
    let (small, big) = (r.min(s), r.max(s));
    let ledger_size = with_ledger(ledger, |l| Ok(l.size())).await?;
    if big > ledger_size {
        return Err(refuse(format!(
            "has size {r}, more than the {ledger_size} entries of this ledger: another copy of \
             this log publishes here, or this ledger lost entries"
        )));
    }
    let proof = with_ledger(ledger, move |l| l.consistency_proof(small, Some(big))).await?;
    let stored_matches = if r <= s {
        proof.old_root.ct_eq(&stored_root)
    } else {
        proof.new_root.ct_eq(&stored_root)
    };
    let checked =
        log::verify_consistency(small, big, &proof.old_root, &proof.new_root, &proof.proof);
    if !stored_matches || checked.is_err() {
        return Err(refuse(format!(
            "(size {r}, root {}) is not the tree of this ledger at that size: a fork",
            stored_root.to_base64()
        )));
    }
    Ok(if r > s {
        Against::Ahead(r)
    } else {
        Against::Behind(r)
    })
}

/// Every tile and bundle to write to bring a store at `from` to `size`, full ones first.
fn plan(from: u64, size: u64) -> Vec<TileId> {
    let mut ids = tiles::changed_hash_tiles(from, size);
    ids.extend(tiles::changed_entry_bundles(from, size));
    ids.sort_by_key(|id| !id.is_full());
    ids
}

/// Publishes the ledger's latest checkpoint and every tile it needs to `target`, in the
/// order written down in the crate docs.
///
/// # Errors
/// [`PublishError`]; whatever was written before the error is correct and is reused by the
/// next run.
pub async fn publish(
    ledger: &SharedLedger,
    target: &Target,
    opts: Options,
) -> Result<Report, PublishError> {
    let ours = with_ledger(ledger, |l| Ok(l.latest_checkpoint()?.map(|c| c.note)))
        .await?
        .ok_or(PublishError::NoCheckpoint)?;
    let size = ours.checkpoint().size();
    let our_bytes = ours.to_bytes();
    let mut report = Report {
        size,
        ..Report::default()
    };
    // The lowest size whose tiles this run has already brought up to `size`.
    let mut uploaded_from: Option<u64> = None;
    for _ in 0..CHECKPOINT_ATTEMPTS {
        let stored = read_checkpoint(target).await?;
        report.requests += 1;
        let against = match &stored {
            None => Against::Nothing,
            Some(s) => check_stored(target, ledger, s, &ours).await?,
        };
        let from = match against {
            Against::Ahead(r) => {
                report.previous = Some(r);
                report.store_ahead = Some(r);
                return Ok(report);
            }
            Against::Nothing => 0,
            Against::Behind(r) => {
                report.previous.get_or_insert(r);
                r
            }
        };
        let from = if opts.all { 0 } else { from };
        if uploaded_from.is_none_or(|u| from < u) {
            upload_tiles(ledger, target, plan(from, size), opts.jobs, &mut report).await?;
            uploaded_from = Some(from);
        }
        // Write the checkpoint: create it, or update the one read, unless the store already
        // holds ours (or the same tree with at least as many signatures).
        let mode = match &stored {
            None => PutMode::Create,
            Some(s) if s.note.checkpoint().size() == size => {
                if s.bytes == our_bytes || s.note.signature_count() >= ours.signature_count() {
                    return Ok(report);
                }
                update_mode(target, s)
            }
            Some(s) => update_mode(target, s),
        };
        let put = PutOptions {
            mode,
            attributes: attributes(target, CHECKPOINT_CONTENT_TYPE, NO_CACHE),
            ..PutOptions::default()
        };
        report.requests += 1;
        match target
            .store()
            .put_opts(
                &target.path("checkpoint"),
                PutPayload::from(our_bytes.clone()),
                put,
            )
            .await
        {
            Ok(_) => {
                report.checkpoint_written = true;
                return Ok(report);
            }
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => continue,
            Err(e) => return Err(store_error(target, "write", "checkpoint", e)),
        }
    }
    Err(PublishError::Contended {
        target: target.url().to_owned(),
    })
}

/// A local directory cannot update conditionally: the checks above were made on what it
/// held a moment ago, and the new checkpoint replaces it by an atomic rename.
fn update_mode(target: &Target, s: &Stored) -> PutMode {
    if target.is_local() {
        PutMode::Overwrite
    } else {
        PutMode::Update(s.version.clone())
    }
}

async fn upload_tiles(
    ledger: &SharedLedger,
    target: &Target,
    ids: Vec<TileId>,
    jobs: usize,
    report: &mut Report,
) -> Result<(), PublishError> {
    let results = stream::iter(ids)
        .map(|id| async move {
            let bytes = with_ledger(ledger, move |l| l.read_tile(id)).await?;
            let cache = if id.is_full() { IMMUTABLE } else { NO_CACHE };
            let len = bytes.len() as u64;
            let (put, requests) = put_immutable(target, &id.to_string(), bytes, cache).await?;
            Ok::<_, PublishError>((put, requests, len))
        })
        .buffer_unordered(jobs.max(1));
    futures::pin_mut!(results);
    while let Some((put, requests, len)) = results.try_next().await? {
        report.requests += requests;
        match put {
            Put::Created => {
                report.written += 1;
                report.bytes += len;
            }
            Put::Existed => report.existing += 1,
        }
    }
    Ok(())
}

/// Publishes after every new checkpoint (or cosignature) of a ledger another task writes:
/// looks every `every`, publishes when the latest checkpoint's bytes changed, and reports
/// failures on stderr and retries at the next look. Runs until the task is dropped.
pub async fn follow(ledger: SharedLedger, target: Target, every: Duration) {
    let mut published: Option<Vec<u8>> = None;
    loop {
        let latest = with_ledger(&ledger, |l| {
            Ok(l.latest_checkpoint()?.map(|c| c.note.to_bytes()))
        })
        .await;
        match latest {
            Ok(Some(bytes)) if published.as_ref() != Some(&bytes) => {
                match publish(&ledger, &target, Options::default()).await {
                    Ok(r) => {
                        eprintln!(
                            "accord serve: published size {} to {} ({} objects written)",
                            r.size,
                            target.url(),
                            r.written
                        );
                        published = Some(bytes);
                    }
                    Err(e) => eprintln!("accord serve: publish to {} failed: {e}", target.url()),
                }
            }
            Ok(_) => {}
            Err(e) => eprintln!("accord serve: publish: {e}"),
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests;
