//! `accord witness serve`: a C2SP tlog-witness (c2sp.org/tlog-witness). It cosigns, with a
//! member's key (`cosignature/v1`, c2sp.org/tlog-cosignature), only checkpoints consistent
//! with the latest one it cosigned for the same log.
//!
//! - `POST /add-checkpoint`: the request and every status as the spec says (the decision is
//!   [`accord_core::witness::decide`]); the answer to a good request is the cosignature line.
//! - `GET /<hex SHA-256 of the origin>/checkpoint`: the latest checkpoint it cosigned for
//!   that log, with its cosignature (the spec's monitoring retrieval); 404 if none.
//!
//! Crash-safe ordering and races, kept here: one mutex per origin is held from the check of
//! `old` against the held state until the new state is durable ([`StateDir::store`]); the
//! cosignature is returned only after that, and the in-memory state moves only once the
//! file is durable. So no two requests, and no crash, can make it cosign two checkpoints
//! that are not consistent with each other.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use accord_core::checkpoint::SignedCheckpoint;
use accord_core::evidence::{Evidence, EVIDENCE_FORMAT};
use accord_core::keys::{KeyPair, VerifierKey};
use accord_core::witness::{self as protocol, AddCheckpoint, WitnessError, SIZE_CONTENT_TYPE};
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use crate::witness_state::{StateDir, StateError};

/// Why a witness could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessStartError {
    /// The state directory.
    #[error(transparent)]
    State(#[from] StateError),
    /// A stored state does not verify under the configured log key.
    #[error("the state of {origin} is not signed by the configured key {key}: {why}")]
    StateKey {
        /// The origin.
        origin: String,
        /// The key.
        key: String,
        /// Why.
        why: String,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A request refused, or a failure of the witness itself (500).
#[derive(Debug)]
pub enum Refusal {
    /// Refused as c2sp.org/tlog-witness says.
    Protocol(WitnessError),
    /// The state could not be made durable, or another internal failure: nothing cosigned.
    Internal(String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, ctype, body) = match self {
            Refusal::Protocol(WitnessError::Conflict { held, .. }) => {
                (StatusCode::CONFLICT, SIZE_CONTENT_TYPE, format!("{held}\n"))
            }
            Refusal::Protocol(e) => (
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
                "text/plain; charset=utf-8",
                format!("{e}\n"),
            ),
            Refusal::Internal(why) => {
                eprintln!("accord witness: {why}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain; charset=utf-8",
                    "internal error; nothing was cosigned\n".to_owned(),
                )
            }
        };
        let mut res = Response::new(Body::from(body));
        *res.status_mut() = status;
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
        res
    }
}

struct Log {
    key: VerifierKey,
    /// The latest cosigned checkpoint; locked from the check until it is durable.
    held: Mutex<Option<SignedCheckpoint>>,
}

/// A witness: its key, the logs it follows and its state.
pub struct Witness {
    key: KeyPair,
    logs: HashMap<String, Log>,
    by_hash: HashMap<String, String>,
    state: StateDir,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1)
        .max(1)
}

impl Witness {
    /// A witness cosigning as `key` (its name is the cosigner name) for the logs `logs`
    /// (origin and the log's verifier key), its state in `state`. Each stored state must
    /// still verify under its log's key.
    ///
    /// # Errors
    /// [`WitnessStartError`].
    pub fn open(
        key: KeyPair,
        logs: Vec<(String, VerifierKey)>,
        state: StateDir,
    ) -> Result<Self, WitnessStartError> {
        let mut map = HashMap::new();
        let mut by_hash = HashMap::new();
        for (origin, vkey) in logs {
            let held = state.load(&origin)?;
            if let Some(n) = &held {
                protocol::check_log_signature(n, &vkey).map_err(|e| {
                    WitnessStartError::StateKey {
                        origin: origin.clone(),
                        key: vkey.to_string(),
                        why: e.to_string(),
                    }
                })?;
            }
            by_hash.insert(
                hex::encode(Sha256::digest(origin.as_bytes())),
                origin.clone(),
            );
            map.insert(
                origin,
                Log {
                    key: vkey,
                    held: Mutex::new(held),
                },
            );
        }
        Ok(Self {
            key,
            logs: map,
            by_hash,
            state,
        })
    }

    /// Answers one `add-checkpoint` body: the cosignature line(s), after the new state is
    /// durable. Blocking (it fsyncs).
    ///
    /// # Errors
    /// [`Refusal`].
    pub fn add_checkpoint(&self, body: &[u8]) -> Result<Vec<u8>, Refusal> {
        let req = AddCheckpoint::parse(body).map_err(Refusal::Protocol)?;
        let origin = req.checkpoint.checkpoint().origin().to_owned();
        let log = self
            .logs
            .get(&origin)
            .ok_or_else(|| Refusal::Protocol(WitnessError::UnknownOrigin(origin.clone())))?;
        protocol::check_log_signature(&req.checkpoint, &log.key).map_err(Refusal::Protocol)?;
        let mut held = log
            .held
            .lock()
            .map_err(|_| Refusal::Internal("a witness state lock is poisoned".into()))?;
        let current = held
            .as_ref()
            .map(|n| (n.checkpoint().size(), *n.checkpoint().root()));
        if let Err(e) = protocol::decide(current, &req) {
            if let (Some(h), WitnessError::Inconsistent(_)) = (held.as_ref(), &e) {
                self.keep_fork_evidence(&log.key, h, &req.checkpoint);
            }
            return Err(Refusal::Protocol(e));
        }
        let line = req
            .checkpoint
            .cosignature_line(self.key.name(), self.key.signing_key(), now())
            .map_err(|e| Refusal::Internal(format!("cannot cosign: {e}")))?;
        // Kept: the log's lines and this cosignature, not whatever else the client sent.
        let mut note = req
            .checkpoint
            .only_log_signatures(log.key.name(), log.key.verifying_key());
        note.add_signature_line(&line)
            .map_err(|e| Refusal::Internal(format!("cannot keep the cosignature: {e}")))?;
        self.state
            .store(&origin, &note)
            .map_err(|e| Refusal::Internal(e.to_string()))?;
        *held = Some(note);
        Ok(line)
    }

    /// When `served` (whose log signature verified) has the size of `held` and another root,
    /// the log key signed two histories: keeps both notes as an `accord-fork-evidence/1`
    /// file (docs/FORMAT.md section 14) in `<state>/evidence/`, once per served note.
    /// Anything else refused as inconsistent (a wrong proof) proves nothing and is not kept.
    /// A failure to write is reported on stderr and does not change the answer.
    fn keep_fork_evidence(
        &self,
        key: &VerifierKey,
        held: &SignedCheckpoint,
        served: &SignedCheckpoint,
    ) {
        let (h, s) = (held.checkpoint(), served.checkpoint());
        if h.size() != s.size() || h.root().ct_eq(s.root()) {
            return;
        }
        let served = served.only_log_signatures(key.name(), key.verifying_key());
        let evidence = Evidence {
            format: EVIDENCE_FORMAT.into(),
            origin: h.origin().to_owned(),
            log_key: key.to_string(),
            source: "a C2SP tlog-witness add-checkpoint request".into(),
            found_at: accord_core::model::Timestamp::now().as_str().to_owned(),
            verified: String::from_utf8_lossy(&held.to_bytes()).into_owned(),
            served: String::from_utf8_lossy(&served.to_bytes()).into_owned(),
            divergence: None,
        };
        let tag = hex::encode(Sha256::digest(served.to_bytes()));
        let name = format!(
            "fork-{}-{}-{}.json",
            h.size(),
            s.size(),
            tag.get(..16).unwrap_or(&tag)
        );
        if let Err(e) = self.state.keep_evidence(&name, &evidence.to_bytes()) {
            eprintln!("accord witness: cannot keep the fork evidence {name}: {e}");
        } else {
            eprintln!(
                "accord witness: the log {} signed two checkpoints of size {} with different roots; evidence kept as evidence/{name}",
                h.origin(),
                h.size()
            );
        }
    }

    /// The latest cosigned checkpoint of the log whose origin hashes to `hash` (lower-case
    /// hex SHA-256).
    pub fn latest(&self, hash: &str) -> Option<Vec<u8>> {
        let log = self.logs.get(self.by_hash.get(hash)?)?;
        let held = log.held.lock().ok()?;
        held.as_ref().map(SignedCheckpoint::to_bytes)
    }
}

async fn add_checkpoint(
    State(w): State<Arc<Witness>>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    let b = b.map_err(|e| {
        Refusal::Protocol(WitnessError::Malformed(format!(
            "cannot read the body: {}",
            e.body_text()
        )))
    })?;
    let line = tokio::task::spawn_blocking(move || w.add_checkpoint(&b))
        .await
        .map_err(|e| Refusal::Internal(format!("the cosigning task failed: {e}")))??;
    let mut res = Response::new(Body::from(line));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(res)
}

async fn latest(State(w): State<Arc<Witness>>, Path(hash): Path<String>) -> Response {
    match w.latest(&hash) {
        Some(note) => {
            let mut res = Response::new(Body::from(note));
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            res
        }
        None => (
            StatusCode::NOT_FOUND,
            "no checkpoint of that log was cosigned\n",
        )
            .into_response(),
    }
}

/// How long one request, its body included, may take before it is answered 408. A state
/// write already started then still completes: the client was not given the cosignature,
/// and its next request learns the new size from a 409.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The witness's routes.
pub fn router(w: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/{origin_hash}/checkpoint", get(latest))
        .layer(DefaultBodyLimit::max(protocol::MAX_BODY_BYTES))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .with_state(w)
}

/// A witness bound to its address.
pub struct BoundWitness {
    listener: TcpListener,
    witness: Arc<Witness>,
}

impl BoundWitness {
    /// Binds `addr`.
    ///
    /// # Errors
    /// [`WitnessStartError::Bind`].
    pub async fn bind(witness: Witness, addr: SocketAddr) -> Result<Self, WitnessStartError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| WitnessStartError::Bind { addr, source })?;
        Ok(Self {
            listener,
            witness: Arc::new(witness),
        })
    }

    /// The address bound.
    ///
    /// # Errors
    /// The socket's.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish.
    ///
    /// # Errors
    /// The server's I/O failure.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, router(self.witness))
            .with_graceful_shutdown(shutdown)
            .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use accord_core::checkpoint::Checkpoint;
    use accord_core::log::{leaf_hash, node_hash, Hash};

    fn setup(dir: &std::path::Path) -> (Witness, KeyPair) {
        let log = KeyPair::from_seed("log.example", &[1; 32]).unwrap();
        let me = KeyPair::from_seed("JP-MOF", &[2; 32]).unwrap();
        let w = Witness::open(
            me,
            vec![("log.example".into(), log.verifier().unwrap())],
            StateDir::open(dir).unwrap(),
        )
        .unwrap();
        (w, log)
    }

    fn note(log: &KeyPair, size: u64, root: Hash) -> SignedCheckpoint {
        let cp = Checkpoint::new("log.example", size, root).unwrap();
        SignedCheckpoint::sign(&cp, "log.example", log.signing_key()).unwrap()
    }

    #[test]
    fn a_note_full_of_unknown_signatures_is_cosigned_and_only_the_log_line_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (w, log) = setup(dir.path());
        let mut full = note(&log, 1, leaf_hash(b"a"));
        for i in 1..accord_core::checkpoint::MAX_SIGNATURES {
            let other = KeyPair::from_seed(&format!("other{i}"), &[9; 32]).unwrap();
            full.add_cosignature(other.name(), other.signing_key(), 5)
                .unwrap();
        }
        assert_eq!(
            full.signature_count(),
            accord_core::checkpoint::MAX_SIGNATURES
        );
        w.add_checkpoint(&protocol::encode(0, &[], &full.to_bytes()))
            .unwrap();
        let kept = w.state.load("log.example").unwrap().unwrap();
        assert_eq!(
            kept.signature_count(),
            2,
            "the log's line and the cosignature"
        );
        assert_eq!(kept.cosignatures().len(), 1);
    }

    /// The race of c2sp.org/tlog-witness: requests from the same old size to different new
    /// sizes, all at once. The check and the durable write are one step per log, so exactly
    /// one is cosigned and the others are told the new size (409).
    #[test]
    fn concurrent_requests_from_one_old_size_cosign_exactly_one() {
        use accord_core::log::{consistency_needs, consistency_proof_from, Frontier};
        let dir = tempfile::tempdir().unwrap();
        let (w, log) = setup(dir.path());
        let mut f = Frontier::new();
        let mut stored = Vec::new();
        let mut roots = vec![f.root()];
        for i in 0u32..40 {
            stored.extend(f.push(leaf_hash(&i.to_be_bytes())));
            roots.push(f.root());
        }
        let proof = |old: u64, new: u64| -> Vec<Hash> {
            let needs = consistency_needs(old, new).unwrap();
            let hs: Vec<Hash> = needs.iter().map(|i| stored[i.0 as usize]).collect();
            consistency_proof_from(old, new, &hs).unwrap()
        };
        w.add_checkpoint(&protocol::encode(
            0,
            &[],
            &note(&log, 3, roots[3]).to_bytes(),
        ))
        .unwrap();
        let bodies: Vec<Vec<u8>> = (4..40u64)
            .map(|n| {
                protocol::encode(
                    3,
                    &proof(3, n),
                    &note(&log, n, roots[n as usize]).to_bytes(),
                )
            })
            .collect();
        let w = Arc::new(w);
        let barrier = Arc::new(std::sync::Barrier::new(bodies.len()));
        let answers: Vec<Result<Vec<u8>, Refusal>> = bodies
            .into_iter()
            .map(|b| {
                let (w, barrier) = (w.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    w.add_checkpoint(&b)
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        let cosigned = answers.iter().filter(|a| a.is_ok()).count();
        assert_eq!(cosigned, 1, "exactly one request from size 3 is cosigned");
        let held = w
            .state
            .load("log.example")
            .unwrap()
            .unwrap()
            .checkpoint()
            .size();
        for a in answers.iter().filter_map(|a| a.as_ref().err()) {
            assert!(
                matches!(a, Refusal::Protocol(WitnessError::Conflict { old: 3, held: h }) if *h == held),
                "{a:?}"
            );
        }
    }

    #[test]
    fn cosigns_persists_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let (w, log) = setup(dir.path());
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        let one = note(&log, 1, a);
        let line = w
            .add_checkpoint(&protocol::encode(0, &[], &one.to_bytes()))
            .unwrap();
        let mut cosigned = one.clone();
        cosigned.add_signature_line(&line).unwrap();
        let me = KeyPair::from_seed("JP-MOF", &[2; 32]).unwrap();
        let c = cosigned.cosignatures().pop().unwrap();
        cosigned
            .verify_cosignature(&c, "JP-MOF", me.verifier().unwrap().verifying_key())
            .unwrap();
        let two = note(&log, 2, node_hash(&a, &b));
        let err = w
            .add_checkpoint(&protocol::encode(0, &[], &two.to_bytes()))
            .unwrap_err();
        assert!(matches!(
            err,
            Refusal::Protocol(WitnessError::Conflict { held: 1, .. })
        ));
        w.add_checkpoint(&protocol::encode(1, &[b], &two.to_bytes()))
            .unwrap();
        drop(w);
        let (w, _) = setup(dir.path());
        let err = w
            .add_checkpoint(&protocol::encode(1, &[b], &two.to_bytes()))
            .unwrap_err();
        assert!(matches!(
            err,
            Refusal::Protocol(WitnessError::Conflict { held: 2, .. })
        ));
    }
}
