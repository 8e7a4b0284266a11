//! `accord-server`: the ledger as a service. One process owns the ledger; a single
//! sequencer ([`sequencer`]) orders and commits submissions in groups and signs checkpoints;
//! handlers ([`http`]) serve C2SP tlog-tiles and a JSON API over HTTP or HTTPS ([`tls`]),
//! with limits ([`limits`]) and metrics ([`metrics`]). `accord serve` starts it.
//!
//! Submissions are self-authenticating (signatures and governance), so there are no
//! accounts. What is durable before an answer, and what a checkpoint may name, is written
//! down in [`sequencer`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod error;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod sequencer;
pub mod tls;
pub mod views;
pub mod witness;
pub mod witness_client;
pub mod witness_state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accord_core::keys::KeyPair;
use accord_ledger::Ledger;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

pub use error::ApiError;
pub use http::{router, AppState};

/// How long shutdown waits for requests in flight.
pub const DRAIN: Duration = Duration::from_secs(30);

/// How long a TLS handshake may take.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The key is not the log key the charter names.
    #[error("{given} is not this ledger's log key; the charter names {expected}")]
    WrongLogKey {
        /// The key given.
        given: String,
        /// The charter's.
        expected: String,
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

/// How to run the service.
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The log key, decrypted, held in memory.
    pub log_key: KeyPair,
    /// Sign a checkpoint at most this often while the tree grows.
    pub checkpoint_every: Duration,
    /// TLS, if any.
    pub tls: Option<TlsAcceptor>,
    /// Writes per second per source address (0: no limit), and the burst.
    pub rate: (f64, f64),
}

/// A service bound to its address, not yet serving.
pub struct Bound {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: AppState,
    sequencer: sequencer::Sequencer,
}

impl Bound {
    /// The address actually bound (the real port when port 0 was asked for).
    ///
    /// # Errors
    /// The socket's.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Starts asking the witnesses at `urls` (c2sp.org/tlog-witness submission prefixes) to
    /// cosign each new checkpoint, in the background ([`witness_client`]).
    ///
    /// # Errors
    /// The HTTP client could not be built.
    pub fn spawn_witnesses(&self, urls: Vec<String>) -> Result<(), String> {
        if urls.is_empty() {
            return Ok(());
        }
        witness_client::spawn(self.state.ledger.clone(), urls)
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Serves until `shutdown` completes; then stops accepting, lets requests in flight
    /// finish (up to [`DRAIN`]), drains the sequencer and signs a last checkpoint if the tree
    /// grew.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Bound {
            listener,
            tls,
            state,
            sequencer,
        } = self;
        let app = router(state);
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                c = listener.accept() => match c {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("accord serve: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let app = app.clone();
            let svc = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(limits::Peer(peer));
                    app.clone().oneshot(req)
                },
            );
            let builder = builder.clone();
            let watcher = graceful.watcher();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        let stream =
                            match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                                Ok(Ok(s)) => s,
                                _ => return,
                            };
                        let conn = builder.serve_connection(TokioIo::new(stream), svc);
                        let _ = watcher.watch(conn).await;
                    }
                    None => {
                        let conn = builder.serve_connection(TokioIo::new(stream), svc);
                        let _ = watcher.watch(conn).await;
                    }
                }
            });
        }
        drop(listener);
        if tokio::time::timeout(DRAIN, graceful.shutdown())
            .await
            .is_err()
        {
            eprintln!("accord serve: some requests were still running after {DRAIN:?}");
        }
        let _ = tokio::task::spawn_blocking(move || sequencer.stop()).await;
    }
}

/// Checks the key, starts the sequencer (which signs a checkpoint of the current size if
/// the latest is older) and binds the address.
///
/// # Errors
/// [`ServeError`].
pub async fn bind(ledger: Ledger, config: Config) -> Result<Bound, ServeError> {
    let given = config.log_key.verifier().ok();
    if given.as_ref() != Some(ledger.log_key()) {
        return Err(ServeError::WrongLogKey {
            given: given
                .map(|k| k.to_string())
                .unwrap_or_else(|| config.log_key.name().to_owned()),
            expected: ledger.log_key().to_string(),
        });
    }
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    let (state, sequencer) = start(ledger, config.log_key, config.checkpoint_every, config.rate);
    Ok(Bound {
        listener,
        tls: config.tls,
        state,
        sequencer,
    })
}

/// Starts the sequencer over `ledger` and returns what the handlers share (the service
/// without a socket: [`router`] of it answers requests in process).
pub fn start(
    ledger: Ledger,
    log_key: KeyPair,
    checkpoint_every: Duration,
    rate: (f64, f64),
) -> (AppState, sequencer::Sequencer) {
    let metrics = Arc::new(metrics::Metrics::default());
    let ledger = Arc::new(Mutex::new(ledger));
    let sequencer =
        sequencer::Sequencer::start(ledger.clone(), log_key, checkpoint_every, metrics.clone());
    let state = AppState {
        ledger,
        seq: sequencer.handle(),
        metrics,
        limiter: Arc::new(limits::RateLimiter::new(rate.0, rate.1)),
    };
    (state, sequencer)
}

#[cfg(test)]
mod tests;
