//! The sequencer: the one writer. A thread owns the order of the log; handlers hand it
//! envelopes over a bounded queue and wait for their answer.
//!
//! Crash-safe ordering, kept here:
//! - The writer applies a group under the ledger lock ([`Ledger::append_batch_deferred`])
//!   and hands it to the syncer thread, which makes it durable (one sled sync, then the head
//!   log) while the writer applies the next: groups queued meanwhile are settled by one
//!   sync. An answer (201 or a refusal) is sent only once its group is durable: an
//!   acknowledged entry survives a crash; an unacknowledged one may or may not be there, and
//!   a client retrying it gets 409 if it was.
//! - Readers may see a group the moment it is applied, but no read is answered before what
//!   it saw is durable: [`Handle::durable_at`] waits for the syncer, so no response names an
//!   entry a crash could still take away. Should a sync fail, those reads and every later
//!   write get 503 until the service is restarted.
//! - A checkpoint is signed over the tree as committed, so it never names an entry that is
//!   not durable; cosignatures already held stay with the checkpoint they sign.
//! - On shutdown the queue is drained (every envelope handed in gets its answer) and a last
//!   checkpoint is signed if the tree grew.
//!
//! Concurrent submissions are grouped: whatever is queued when the writer is free is
//! committed as one group, judged in queue order, so the order among concurrent requests is
//! the order of commit.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use accord_core::envelope::Envelope;
use accord_core::governance::{self, Preverified, Rejection};
use accord_core::keys::KeyPair;
use accord_core::model::Payload;
use accord_ledger::{Appended, Deferred, Durability, Ledger, LedgerError};
use ed25519_dalek::VerifyingKey;
use serde_json::Value;
use tokio::sync::{oneshot, watch};

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

/// An envelope handed to the writer, with what its handler checked and decoded before the
/// writer's turn.
struct Submission {
    env: Envelope,
    pre: Option<Preverified>,
    decoded: Result<Payload, Rejection>,
    reply: Reply,
}

enum Job {
    Submit(Box<Submission>),
    Stop,
}

/// Every member key the ledger ever registered, by keyid, as the writer last published it:
/// what a handler looks keyids up in to check an envelope's signatures before its turn
/// ([`Preverified`]), on its own thread, outside the ledger lock. A key registered since is
/// simply not found, and that signature is checked by the writer as before.
#[derive(Clone, Default)]
struct KeyDirectory(Arc<RwLock<Arc<HashMap<String, VerifyingKey>>>>);

impl KeyDirectory {
    fn get(&self) -> Arc<HashMap<String, VerifyingKey>> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Publishes `ledger`'s keys when it registered any since `published` keys were (a
    /// member admitted, a key rotated), and notes how many it has now.
    fn refresh(&self, published: &mut usize, ledger: &Ledger) {
        if ledger.key_count() != *published {
            *published = ledger.key_count();
            let keys = Arc::new(ledger.verifying_keys());
            *self.0.write().unwrap_or_else(PoisonError::into_inner) = keys;
        }
    }
}

/// The most groups applied and waiting for the syncer; beyond it the writer waits.
const IN_FLIGHT: usize = 64;

/// The longest the writer holds a submission back while the syncer has not taken the last
/// group (see [`Writer::run`]); a sync takes about a millisecond on a quiet disk.
const LINGER: Duration = Duration::from_millis(5);

/// What is durable, as the syncer last published it.
#[derive(Debug, Clone, Copy)]
struct Durable {
    /// The tree size known durable.
    size: u64,
    /// A sync failed: nothing beyond `size` will become durable in this process.
    failed: bool,
}

/// The handlers' side of the queue.
#[derive(Clone)]
pub struct Handle {
    tx: SyncSender<Job>,
    durable: watch::Receiver<Durable>,
    keys: KeyDirectory,
}

impl Handle {
    /// Waits until the first `size` entries are durable, so that a read which saw them may
    /// be answered.
    ///
    /// # Errors
    /// [`ApiError::Unavailable`] when a sync failed (or the service stopped) first.
    pub async fn durable_at(&self, size: u64) -> Result<(), ApiError> {
        let mut rx = self.durable.clone();
        let seen = rx
            .wait_for(|d| d.failed || d.size >= size)
            .await
            .map(|d| *d)
            .map_err(|_| ApiError::Unavailable("the service is shutting down".into()))?;
        if seen.size >= size {
            Ok(())
        } else {
            Err(ApiError::Unavailable(
                "the store failed to make the ledger durable; the service must be restarted".into(),
            ))
        }
    }

    /// Submits an envelope and waits until it is durable or refused. The answer is the JSON
    /// of [`views::appended`].
    ///
    /// # Errors
    /// The refusal, or [`ApiError::Unavailable`] when the queue is full or closed.
    pub async fn submit(&self, env: Envelope) -> Result<Value, ApiError> {
        // The signatures are checked here, in parallel across handlers, so that the writer
        // (the one serial step) does not: it still decides which key must have signed, and
        // checks any signature this did not verify.
        let keys = self.keys.get();
        let pre = Preverified::check(&env, |keyid| keys.get(keyid).copied());
        let pre = (pre.verified() > 0).then_some(pre);
        // So is the payload decoded (it does not depend on the ledger's state).
        let decoded = governance::decode(&env);
        let (tx, rx) = oneshot::channel();
        let job = Job::Submit(Box::new(Submission {
            env,
            pre,
            decoded,
            reply: tx,
        }));
        match self.tx.try_send(job) {
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

/// One commit of a group of envelopes, applied but not yet durable, each judged as if
/// appended one after another; a refused one does not affect the others. The outer error is
/// a failure of the whole commit, and then nothing of the group was appended
/// ([`Ledger::append_batch_deferred`]).
#[allow(clippy::type_complexity)]
fn commit_group(
    ledger: &mut Ledger,
    envs: &[Envelope],
    decoded: Vec<Result<Payload, Rejection>>,
    pre: &[Option<Preverified>],
) -> Result<(Vec<Result<Appended, LedgerError>>, Deferred), LedgerError> {
    ledger.append_batch_deferred_decoded(envs, Some(decoded), pre)
}

type Reply = oneshot::Sender<Result<Value, ApiError>>;

/// A group applied, with its answers, waiting to be made durable.
struct Flight {
    answers: Vec<(Reply, Result<Value, ApiError>)>,
    group: Deferred,
}

/// A store failure, shared by the writer and the syncer: once set, nothing more is
/// committed until the service is restarted.
type Broken = Arc<Mutex<Option<String>>>;

/// Answers every one of `replies` with `e`.
fn refuse_all(replies: impl IntoIterator<Item = Reply>, e: &ApiError) {
    for r in replies {
        let _ = r.send(Err(e.clone()));
    }
}

/// Groups handed to the syncer and not yet taken by it (it takes every queued one at the
/// start of a sync), with a condition the writer waits on.
#[derive(Default)]
struct Untaken {
    count: Mutex<usize>,
    taken: Condvar,
}

impl Untaken {
    fn add(&self) {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
    }

    fn take(&self, n: usize) {
        let mut c = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        *c = c.saturating_sub(n);
        self.taken.notify_all();
    }

    /// Waits up to `linger` until the syncer has taken every group handed to it.
    fn wait_taken(&self, linger: Duration) {
        let c = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = self
            .taken
            .wait_timeout_while(c, linger, |c| *c > 0)
            .unwrap_or_else(PoisonError::into_inner);
    }
}

fn broken_reason(b: &Broken) -> Option<String> {
    b.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

fn mark_broken(b: &Broken, why: String) {
    let mut g = b.lock().unwrap_or_else(PoisonError::into_inner);
    if g.is_none() {
        *g = Some(why);
    }
}

/// The syncer thread: settles what the writer applied, several groups per sync when they
/// queue up, then answers them and publishes the durable size.
struct Syncer {
    durability: Durability,
    durable: watch::Sender<Durable>,
    broken: Broken,
    metrics: Arc<Metrics>,
    untaken: Arc<Untaken>,
}

impl Syncer {
    fn run(self, rx: Receiver<Flight>) {
        while let Ok(first) = rx.recv() {
            let mut last = first.group;
            let mut flights = vec![first];
            while let Ok(f) = rx.try_recv() {
                last = f.group;
                flights.push(f);
            }
            self.untaken.take(flights.len());
            let outcome = match broken_reason(&self.broken) {
                Some(why) => Err(why),
                None => {
                    let t = Instant::now();
                    let settled = self.durability.settle(&last).map_err(|e| e.to_string());
                    self.metrics.commit_step("sync", t.elapsed());
                    settled
                }
            };
            match outcome {
                Ok(()) => {
                    self.durable
                        .send_modify(|d| d.size = d.size.max(last.size()));
                    self.metrics.entries(last.size());
                    for f in flights {
                        for (reply, answer) in f.answers {
                            let _ = reply.send(answer);
                        }
                    }
                }
                Err(why) => {
                    eprintln!("accord serve: a sync failed in the store; refusing writes until restarted: {why}");
                    mark_broken(&self.broken, why.clone());
                    self.durable.send_modify(|d| d.failed = true);
                    let e = ApiError::Unavailable(format!(
                        "the store failed to make the group durable ({why}); it may be lost: nothing is appended until the service is restarted"
                    ));
                    let replies = flights.into_iter().flat_map(|f| f.answers).map(|(r, _)| r);
                    refuse_all(replies, &e);
                }
            }
        }
        // Every group is settled: sync the store's files and end the write-ahead log, so a
        // clean stop leaves none behind (a crash leaves it for the next open to apply).
        if broken_reason(&self.broken).is_none() {
            if let Err(e) = self.durability.finish() {
                eprintln!("accord serve: could not sync the store at shutdown ({e}); the next open applies the write-ahead log");
            }
        }
    }
}

/// The writer thread (and its syncer).
pub struct Sequencer {
    handle: Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Writer {
    ledger: SharedLedger,
    /// Refuse to commit (507) when the ledger's file system has less free than this.
    reserve: u64,
    /// Set when a commit or a sync failed in the store (I/O): what is in memory may no
    /// longer match what is on disk, so nothing more is committed until the service is
    /// restarted.
    broken: Broken,
    /// Groups applied, to the syncer.
    flights: Option<SyncSender<Flight>>,
    /// Of those, the ones the syncer has not taken yet.
    untaken: Arc<Untaken>,
    syncer: Option<std::thread::JoinHandle<()>>,
    key: KeyPair,
    every: Duration,
    metrics: Arc<Metrics>,
    last_issue: Instant,
    /// The handlers' key directory, and how many keys the ledger had when it was published.
    keys: KeyDirectory,
    keys_published: usize,
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
        if broken_reason(&self.broken).is_some() {
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

    fn commit(&mut self, jobs: Vec<Submission>) {
        let mut envs = Vec::with_capacity(jobs.len());
        let mut pre = Vec::with_capacity(jobs.len());
        let mut decoded = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        for s in jobs {
            envs.push(s.env);
            pre.push(s.pre);
            decoded.push(s.decoded);
            replies.push(s.reply);
        }
        let started = Instant::now();
        let mut ledger = match lock(&self.ledger) {
            Ok(l) => l,
            Err(e) => {
                refuse_all(replies, &e);
                return;
            }
        };
        let refuse = match broken_reason(&self.broken) {
            Some(why) => Some(ApiError::Unavailable(format!(
                "the store failed earlier ({why}); nothing is appended until the service is restarted"
            ))),
            None => self.low_space(&ledger).map(ApiError::NoSpace),
        };
        if let Some(e) = refuse {
            refuse_all(replies, &e);
            return;
        }
        self.metrics.group(envs.len());
        // The tree's frontier before the group: with the accepted entries' leaf hashes, in
        // order, it gives the root each of them completed, without reading the store again.
        let mut frontier = match ledger.frontier() {
            Ok(f) => f,
            Err(e) => {
                let e = ApiError::from(e);
                refuse_all(replies, &e);
                return;
            }
        };
        match commit_group(&mut ledger, &envs, decoded, &pre) {
            Ok((outcomes, group)) => {
                self.keys.refresh(&mut self.keys_published, &ledger);
                let mut answers = Vec::with_capacity(replies.len());
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
                    answers.push((reply, answer));
                }
                // The next group is staged while this one is synced; its answers wait.
                drop(ledger);
                self.metrics.commit_step("apply", started.elapsed());
                let flight = Flight { answers, group };
                let lost = match &self.flights {
                    Some(tx) => {
                        self.untaken.add();
                        tx.send(flight).err().map(|e| e.0)
                    }
                    None => Some(flight),
                };
                if let Some(flight) = lost {
                    mark_broken(&self.broken, "the syncer stopped".into());
                    let e =
                        ApiError::Unavailable("the syncer stopped; the group may be lost".into());
                    refuse_all(flight.answers.into_iter().map(|(r, _)| r), &e);
                }
            }
            Err(e) => {
                let store_failed = !matches!(e, LedgerError::Rejected(_));
                let e = ApiError::from(e);
                if store_failed {
                    // The batch may be half applied in the store's memory: stop committing.
                    eprintln!("accord serve: a commit failed in the store; refusing writes until restarted: {e}");
                    mark_broken(&self.broken, e.to_string());
                }
                refuse_all(replies, &e);
            }
        }
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
            if first.is_some() {
                // While the syncer has not yet taken the group handed to it, a group staged
                // now would be synced with it anyway: let more submissions join this one
                // (each group rewrites the same right-edge tiles and index pages).
                self.untaken.wait_taken(LINGER);
            }
            let mut group = Vec::new();
            let mut next = first;
            while let Some(job) = next.take() {
                match job {
                    Job::Submit(s) => group.push(*s),
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
        // Every group applied is answered once the syncer settled it.
        self.flights = None;
        if let Some(t) = self.syncer.take() {
            let _ = t.join();
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
        let (durability, size) = match lock(&ledger) {
            Ok(l) => {
                // One `fdatasync` of the write-ahead log per group commit, rather than a
                // flush of sled's files that stalls the next group's write (wal.rs).
                if let Err(e) = l.write_ahead() {
                    eprintln!(
                        "accord serve: the write-ahead log could not be started ({e}); each group commit syncs the store's files instead"
                    );
                }
                (Some(l.durability()), l.size())
            }
            Err(_) => (None, 0),
        };
        let (durable_tx, durable_rx) = watch::channel(Durable {
            size,
            failed: durability.is_none(),
        });
        let broken: Broken = Arc::new(Mutex::new(None));
        let untaken = Arc::new(Untaken::default());
        let (flights, syncer) = match durability {
            Some(durability) => {
                let (ftx, frx) = std::sync::mpsc::sync_channel(IN_FLIGHT);
                let syncer = Syncer {
                    durability,
                    durable: durable_tx,
                    broken: broken.clone(),
                    metrics: metrics.clone(),
                    untaken: untaken.clone(),
                };
                let t = std::thread::Builder::new()
                    .name("accord-syncer".into())
                    .spawn(move || syncer.run(frx))
                    .ok();
                (t.is_some().then_some(ftx), t)
            }
            None => (None, None),
        };
        let mut writer = Writer {
            ledger,
            reserve,
            broken,
            flights,
            untaken,
            syncer,
            key,
            every,
            metrics,
            last_issue: Instant::now(),
            keys: KeyDirectory::default(),
            // None published yet; a ledger always has at least its charter's keys.
            keys_published: 0,
        };
        let keys = writer.keys.clone();
        if let Ok(l) = lock(&writer.ledger) {
            writer.keys.refresh(&mut writer.keys_published, &l);
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
            handle: Handle {
                tx,
                durable: durable_rx,
                keys,
            },
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn handle(size: u64) -> (Handle, watch::Sender<Durable>) {
        let (tx, _rx) = std::sync::mpsc::sync_channel(1);
        let (dtx, drx) = watch::channel(Durable {
            size,
            failed: false,
        });
        (
            Handle {
                tx,
                durable: drx,
                keys: KeyDirectory::default(),
            },
            dtx,
        )
    }

    /// A read that saw entries not yet synced is held until the syncer publishes them.
    #[tokio::test]
    async fn a_read_waits_until_what_it_saw_is_durable() {
        let (h, dtx) = handle(5);
        assert!(
            h.durable_at(5).await.is_ok(),
            "what is durable is answered at once"
        );
        let waiting = tokio::spawn({
            let h = h.clone();
            async move { h.durable_at(9).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "size 9 is not durable yet");
        dtx.send_modify(|d| d.size = 8);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "size 8 does not cover 9");
        dtx.send_modify(|d| d.size = 9);
        assert!(waiting.await.unwrap().is_ok());
    }

    /// The writer's wait ends when the syncer takes what it was handed, or after the
    /// linger when it does not (a stalled syncer slows the writer, never stops it).
    #[test]
    fn the_writer_waits_for_the_syncer_to_take_its_group_and_no_longer() {
        let u = Arc::new(Untaken::default());
        u.wait_taken(Duration::from_secs(3600)); // nothing handed over: no wait at all
        u.add();
        u.add();
        let taker = std::thread::spawn({
            let u = u.clone();
            move || {
                std::thread::sleep(Duration::from_millis(20));
                u.take(2);
            }
        });
        u.wait_taken(Duration::from_secs(3600));
        assert_eq!(
            *u.count.lock().unwrap(),
            0,
            "returned only once both were taken"
        );
        taker.join().unwrap();
        u.take(5);
        assert_eq!(*u.count.lock().unwrap(), 0, "never below zero");
        u.add();
        u.wait_taken(Duration::from_millis(1)); // nobody takes it: returns after the linger
        assert_eq!(*u.count.lock().unwrap(), 1);
    }

    /// After a failed sync what was not durable is never answered.
    #[tokio::test]
    async fn a_failed_sync_refuses_the_reads_that_saw_beyond_it() {
        let (h, dtx) = handle(5);
        let waiting = tokio::spawn({
            let h = h.clone();
            async move { h.durable_at(7).await }
        });
        dtx.send_modify(|d| d.failed = true);
        let e = waiting.await.unwrap().unwrap_err();
        assert!(matches!(e, ApiError::Unavailable(_)), "{e:?}");
        assert!(
            h.durable_at(5).await.is_ok(),
            "what was durable stays readable"
        );
        drop(dtx);
        assert!(
            h.durable_at(6).await.is_err(),
            "a stopped syncer is not waited for"
        );
    }
}
