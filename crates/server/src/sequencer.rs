//! The sequencer: the one writer. A thread owns the order of the log; handlers hand it
//! envelopes over a bounded queue and wait for their answer.
//!
//! Crash-safe ordering, kept here:
//! - An answer (201 or a refusal) is sent only after the group's commit returned, and the
//!   ledger's commit is durable (sled flushed) before it returns: an acknowledged entry
//!   survives a crash; an unacknowledged one may or may not be there, and a client retrying
//!   it gets 409 if it was.
//! - A checkpoint is signed over the tree as committed, so it never names an entry that is
//!   not durable; cosignatures already held stay with the checkpoint they sign.
//! - On shutdown the queue is drained (every envelope handed in gets its answer) and a last
//!   checkpoint is signed if the tree grew.
//!
//! Concurrent submissions are grouped: whatever is queued when the writer is free is
//! committed as one group, judged in queue order, so the order among concurrent requests is
//! the order of commit.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accord_core::envelope::Envelope;
use accord_core::keys::KeyPair;
use accord_ledger::{Appended, Ledger, LedgerError};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::views;

/// The most envelopes in one group commit.
pub const MAX_GROUP: usize = 256;

/// The most envelopes waiting for the writer; beyond it submissions get 503.
pub const QUEUE: usize = 4096;

/// The ledger, shared by the writer and the readers. Readers hold the lock briefly.
pub type SharedLedger = Arc<Mutex<Ledger>>;

/// Locks the ledger; a poisoned lock (a panic while holding it) is an internal error, not a
/// panic passed on.
///
/// # Errors
/// [`ApiError::Internal`].
pub fn lock(ledger: &SharedLedger) -> Result<std::sync::MutexGuard<'_, Ledger>, ApiError> {
    ledger
        .lock()
        .map_err(|_| ApiError::internal("the ledger lock is poisoned"))
}

enum Job {
    Submit(Envelope, oneshot::Sender<Result<Value, ApiError>>),
    Stop,
}

/// The handlers' side of the queue.
#[derive(Clone)]
pub struct Handle {
    tx: SyncSender<Job>,
}

impl Handle {
    /// Submits an envelope and waits until it is durable or refused. The answer is the JSON
    /// of [`views::appended`].
    ///
    /// # Errors
    /// The refusal, or [`ApiError::Unavailable`] when the queue is full or closed.
    pub async fn submit(&self, env: Envelope) -> Result<Value, ApiError> {
        let (tx, rx) = oneshot::channel();
        match self.tx.try_send(Job::Submit(env, tx)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(ApiError::Unavailable(
                    "the submission queue is full; try again shortly".into(),
                ))
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(ApiError::Unavailable("the service is shutting down".into()))
            }
        }
        rx.await
            .map_err(|_| ApiError::Unavailable("the service is shutting down".into()))?
    }
}

/// One durable commit of a group of envelopes, each judged as if appended one after another;
/// a refused one does not affect the others. The outer error is a failure of the whole
/// commit, and then nothing of the group was appended ([`Ledger::append_batch`]).
fn commit_group(
    ledger: &mut Ledger,
    envs: &[Envelope],
) -> Result<Vec<Result<Appended, LedgerError>>, LedgerError> {
    ledger.append_batch(envs)
}

/// The writer thread.
pub struct Sequencer {
    handle: Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Writer {
    ledger: SharedLedger,
    /// Refuse to commit (507) when the ledger's file system has less free than this.
    reserve: u64,
    /// Set when a commit failed in the store (I/O): what is in memory may no longer match
    /// what is on disk, so nothing more is committed until the service is restarted.
    broken: Option<String>,
    key: KeyPair,
    every: Duration,
    metrics: Arc<Metrics>,
    last_issue: Instant,
}

impl Writer {
    /// Signs a checkpoint of the current size if the latest is older (or there is none).
    /// `Some(reason)` when the ledger's file system has less free space than the reserve.
    fn low_space(&self, ledger: &Ledger) -> Option<String> {
        let dir = ledger.dir()?;
        if self.reserve == 0 {
            return None;
        }
        match fs2::available_space(dir) {
            Ok(free) if free < self.reserve => Some(format!(
                "the disk holding the ledger ({}) is full: {} KiB free, below the reserve of {} KiB (--min-free-space); \
                 nothing was appended, the ledger stays readable: submit again once the operator has freed space",
                dir.display(),
                free / 1024,
                self.reserve / 1024
            )),
            _ => None,
        }
    }

    fn checkpoint_if_grown(&mut self) {
        if self.broken.is_some() {
            return;
        }
        let mut ledger = match lock(&self.ledger) {
            Ok(l) => l,
            Err(_) => return,
        };
        if let Some(why) = self.low_space(&ledger) {
            eprintln!("accord serve: not signing a checkpoint: {why}");
            return;
        }
        let size = ledger.size();
        let latest = match ledger.latest_checkpoint() {
            Ok(c) => c.map(|c| c.note.checkpoint().size()),
            Err(e) => {
                eprintln!("accord serve: cannot read the latest checkpoint: {e}");
                return;
            }
        };
        if latest == Some(size) {
            return;
        }
        match ledger.issue_checkpoint(&self.key) {
            Ok(_) => {
                self.metrics.checkpoint(size, true);
                self.last_issue = Instant::now();
            }
            Err(e) => eprintln!("accord serve: cannot sign a checkpoint: {e}"),
        }
    }

    fn commit(&mut self, jobs: Vec<(Envelope, oneshot::Sender<Result<Value, ApiError>>)>) {
        let (envs, replies): (Vec<_>, Vec<_>) = jobs.into_iter().unzip();
        let mut ledger = match lock(&self.ledger) {
            Ok(l) => l,
            Err(e) => {
                for r in replies {
                    let _ = r.send(Err(e.clone()));
                }
                return;
            }
        };
        let refuse = match &self.broken {
            Some(why) => Some(ApiError::Unavailable(format!(
                "the store failed earlier ({why}); nothing is appended until the service is restarted"
            ))),
            None => self.low_space(&ledger).map(ApiError::NoSpace),
        };
        if let Some(e) = refuse {
            for r in replies {
                let _ = r.send(Err(e.clone()));
            }
            return;
        }
        self.metrics.group(envs.len());
        // The tree's frontier before the group: with the accepted entries' leaf hashes, in
        // order, it gives the root each of them completed, without reading the store again.
        let mut frontier = match ledger.frontier() {
            Ok(f) => f,
            Err(e) => {
                let e = ApiError::from(e);
                for r in replies {
                    let _ = r.send(Err(e.clone()));
                }
                return;
            }
        };
        match commit_group(&mut ledger, &envs) {
            Ok(outcomes) => {
                for (outcome, reply) in outcomes.into_iter().zip(replies) {
                    let answer = outcome.map_err(ApiError::from).and_then(|a| {
                        frontier.push(a.leaf_hash);
                        let size = a.index + 1;
                        let root = if frontier.size() == size {
                            frontier.root()
                        } else {
                            ledger.root_at(size)?
                        };
                        Ok(views::appended(&a, size, &root))
                    });
                    let _ = reply.send(answer);
                }
            }
            Err(e) => {
                let store_failed = !matches!(e, LedgerError::Rejected(_));
                let e = ApiError::from(e);
                if store_failed {
                    // The batch may be half applied in the store's memory: stop committing.
                    eprintln!("accord serve: a commit failed in the store; refusing writes until restarted: {e}");
                    self.broken = Some(e.to_string());
                }
                for r in replies {
                    let _ = r.send(Err(e.clone()));
                }
            }
        }
        self.metrics.entries(ledger.size());
    }

    fn run(mut self, rx: Receiver<Job>) {
        let mut stopping = false;
        while !stopping {
            let wait = self.every.saturating_sub(self.last_issue.elapsed());
            let first = match rx.recv_timeout(wait) {
                Ok(j) => Some(j),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    stopping = true;
                    None
                }
            };
            let mut group = Vec::new();
            let mut next = first;
            while let Some(job) = next.take() {
                match job {
                    Job::Submit(env, reply) => group.push((env, reply)),
                    Job::Stop => stopping = true,
                }
                if group.len() >= MAX_GROUP {
                    break;
                }
                // Take what is already queued; when stopping, drain everything.
                next = rx.try_recv().ok();
            }
            if !group.is_empty() {
                self.commit(group);
            }
            if stopping || self.last_issue.elapsed() >= self.every {
                self.checkpoint_if_grown();
                if self.last_issue.elapsed() >= self.every {
                    // Nothing new to sign: wait a full period before looking again.
                    self.last_issue = Instant::now();
                }
            }
        }
    }
}

impl Sequencer {
    /// Starts the writer over `ledger`, signing with the log `key`: a checkpoint of the
    /// current size now if the latest is older, then at most every `every` while the tree
    /// grows.
    pub fn start(
        ledger: SharedLedger,
        key: KeyPair,
        every: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self::start_with_reserve(ledger, key, every, metrics, 0)
    }

    /// [`Sequencer::start`], refusing to commit (507) while the ledger's file system has
    /// less than `reserve` bytes free.
    pub fn start_with_reserve(
        ledger: SharedLedger,
        key: KeyPair,
        every: Duration,
        metrics: Arc<Metrics>,
        reserve: u64,
    ) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let mut writer = Writer {
            ledger,
            reserve,
            broken: None,
            key,
            every,
            metrics,
            last_issue: Instant::now(),
        };
        if let Ok(l) = lock(&writer.ledger) {
            writer.metrics.entries(l.size());
            if let Ok(Some(cp)) = l.latest_checkpoint() {
                writer
                    .metrics
                    .checkpoint(cp.note.checkpoint().size(), false);
            }
        }
        writer.checkpoint_if_grown();
        let thread = std::thread::Builder::new()
            .name("accord-sequencer".into())
            .spawn(move || writer.run(rx))
            .ok();
        Self {
            handle: Handle { tx },
            thread,
        }
    }

    /// The handlers' side.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Drains the queue, signs a last checkpoint if the tree grew, and stops the writer.
    pub fn stop(mut self) {
        let _ = self.handle.tx.send(Job::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
