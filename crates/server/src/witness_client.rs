//! `accord serve --witness URL`: asks each witness (c2sp.org/tlog-witness) to cosign every
//! new checkpoint, and stores the cosignatures it returns with the checkpoint, so that
//! `GET /checkpoint` serves them.
//!
//! One background task per witness. It looks at the latest checkpoint every [`POLL`]; when
//! that is newer than the last one this witness cosigned, it sends `add-checkpoint` with the
//! consistency proof from the size the witness last reported (0 at first, as the spec
//! allows; a 409 names the witness's size and the request is sent again from it). A witness
//! that is down, slow or refusing is retried with exponential backoff up to [`MAX_BACKOFF`];
//! each request has a [`TIMEOUT`]. Nothing here is on the submission path: the tasks only
//! take the ledger lock briefly to read a checkpoint or proof and to store a cosignature, so
//! a witness delays its cosignature, never a submission.

use std::time::Duration;

use accord_core::witness::{encode, SIZE_CONTENT_TYPE};

use crate::sequencer::{lock, SharedLedger};

/// How often each task looks for a new checkpoint.
pub const POLL: Duration = Duration::from_millis(200);

/// How long one `add-checkpoint` request may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The longest wait between attempts at a failing witness.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How many 409 answers in a row are followed before backing off.
const MAX_CONFLICTS: usize = 3;

/// Starts one task per witness URL (the submission prefix; `/add-checkpoint` is appended) on
/// the current tokio runtime.
///
/// # Errors
/// The HTTP client could not be built.
pub fn spawn(ledger: SharedLedger, urls: Vec<String>) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .build()
        .map_err(|e| format!("cannot build the witness HTTP client: {e}"))?;
    for url in urls {
        let url = format!("{}/add-checkpoint", url.trim_end_matches('/'));
        tokio::spawn(run(ledger.clone(), client.clone(), url));
    }
    Ok(())
}

/// What one attempt found.
enum Outcome {
    /// Cosigned (or nothing new).
    Done,
    /// The witness holds another size.
    Conflict(u64),
    /// Try again later.
    Failed(String),
}

struct Task {
    ledger: SharedLedger,
    client: reqwest::Client,
    url: String,
    /// The size the witness holds, as it last said.
    held: u64,
    /// The sequence number of the last checkpoint this witness cosigned.
    done: Option<u64>,
}

async fn run(ledger: SharedLedger, client: reqwest::Client, url: String) {
    let mut t = Task {
        ledger,
        client,
        url,
        held: 0,
        done: None,
    };
    let mut backoff = Duration::from_secs(1);
    let mut conflicts = 0;
    loop {
        let outcome = t.attempt().await;
        match outcome {
            Outcome::Done => {
                backoff = Duration::from_secs(1);
                conflicts = 0;
                tokio::time::sleep(POLL).await;
            }
            Outcome::Conflict(n) if conflicts < MAX_CONFLICTS => {
                conflicts += 1;
                t.held = n;
            }
            Outcome::Conflict(n) => {
                t.held = n;
                eprintln!("accord serve: witness {}: repeated 409 (size {n})", t.url);
                conflicts = 0;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Outcome::Failed(why) => {
                eprintln!(
                    "accord serve: witness {}: {why}; retrying in {}s",
                    t.url,
                    backoff.as_secs()
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Runs `f` on the ledger in a blocking task.
async fn with_ledger<T: Send + 'static>(
    ledger: &SharedLedger,
    f: impl FnOnce(&mut accord_ledger::Ledger) -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let ledger = ledger.clone();
    tokio::task::spawn_blocking(move || {
        let mut g = lock(&ledger).map_err(|e| e.to_string())?;
        f(&mut g)
    })
    .await
    .map_err(|e| e.to_string())?
}

impl Task {
    async fn attempt(&mut self) -> Outcome {
        let held = self.held;
        let done = self.done;
        let prepared = with_ledger(&self.ledger, move |l| {
            let Some(cp) = l.latest_checkpoint().map_err(|e| e.to_string())? else {
                return Ok(None);
            };
            if Some(cp.seq) == done {
                return Ok(None);
            }
            let size = cp.note.checkpoint().size();
            if held > size {
                return Err(format!(
                    "the witness holds size {held}, beyond the latest checkpoint ({size})"
                ));
            }
            let proof = if held == 0 || held == size {
                Vec::new()
            } else {
                l.consistency_proof(held, Some(size))
                    .map_err(|e| e.to_string())?
                    .proof
            };
            Ok(Some((
                cp.seq,
                size,
                encode(held, &proof, &cp.note.to_bytes()),
            )))
        })
        .await;
        let (seq, size, body) = match prepared {
            Ok(Some(p)) => p,
            Ok(None) => return Outcome::Done,
            Err(e) => return Outcome::Failed(e),
        };
        let res = match self.client.post(&self.url).body(body).send().await {
            Ok(r) => r,
            Err(e) => return Outcome::Failed(format!("unreachable: {e}")),
        };
        let status = res.status().as_u16();
        let is_size = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with(SIZE_CONTENT_TYPE));
        let bytes = match res.bytes().await {
            Ok(b) => b,
            Err(e) => return Outcome::Failed(format!("the answer was cut: {e}")),
        };
        match status {
            200 => {}
            409 if is_size => {
                let n = std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(|s| s.strip_suffix('\n'))
                    .and_then(|s| s.parse::<u64>().ok());
                return match n {
                    Some(n) => Outcome::Conflict(n),
                    None => Outcome::Failed("a 409 without a size".into()),
                };
            }
            s => {
                let text = String::from_utf8_lossy(&bytes);
                return Outcome::Failed(format!("status {s}: {}", text.trim()));
            }
        }
        let lines: Vec<Vec<u8>> = bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        let stored = with_ledger(&self.ledger, move |l| {
            let mut kept = 0;
            let mut why = Vec::new();
            for line in lines {
                match l.add_cosignature_line(seq, &line) {
                    Ok(_) => kept += 1,
                    Err(e) => why.push(e.to_string()),
                }
            }
            Ok((kept, why))
        })
        .await;
        self.held = size;
        self.done = Some(seq);
        match stored {
            Ok((0, why)) if !why.iter().all(|w| w.contains("already cosigned")) => {
                eprintln!(
                    "accord serve: witness {}: no cosignature kept: {}",
                    self.url,
                    why.join("; ")
                );
                Outcome::Done
            }
            Ok(_) => Outcome::Done,
            Err(e) => Outcome::Failed(e),
        }
    }
}
