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

pub mod drain;
pub mod error;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod pages;
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
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

pub use error::ApiError;
pub use http::{router, AppState};
pub use limits::Limits;

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
    /// Sizes, times, connections and write rates ([`limits`]).
    pub limits: Limits,
}

/// A service bound to its address, not yet serving.
pub struct Bound {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: AppState,
    sequencer: sequencer::Sequencer,
    limits: Limits,
}

/// What a response written straight to a connection refused at accept says.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 57\r\n\r\n\
{\"error\": \"too many connections; try again in a moment\"}\n";

/// The accept loop's parts, shared by the serving and the draining phase.
struct Acceptor<'a> {
    listener: &'a TcpListener,
    tls: Option<TlsAcceptor>,
    app: axum::Router,
    builder: hyper_util::server::conn::auto::Builder<TokioExecutor>,
    graceful: &'a hyper_util::server::graceful::GracefulShutdown,
    conns: Arc<limits::Connections>,
    idle: Duration,
    metrics: Arc<metrics::Metrics>,
}

impl Acceptor<'_> {
    /// Accepts and serves connections until `until` completes.
    async fn run_until(&self, until: impl Future<Output = ()>) {
        tokio::pin!(until);
        loop {
            let (stream, peer) = tokio::select! {
                c = self.listener.accept() => match c {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("accord serve: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut until => return,
            };
            self.serve(stream, peer);
        }
    }

    fn serve(&self, stream: tokio::net::TcpStream, peer: SocketAddr) {
        let admitted = match self.conns.admit(peer.ip()) {
            Ok(a) => a,
            Err(_) => {
                // Refused at once: a plain-HTTP client reads why; the socket closes.
                self.metrics.connection_refused();
                if self.tls.is_none() {
                    tokio::spawn(async move {
                        use tokio::io::AsyncWriteExt as _;
                        let mut stream = stream;
                        let _ = tokio::time::timeout(
                            Duration::from_secs(1),
                            stream.write_all(TOO_MANY_CONNECTIONS),
                        )
                        .await;
                    });
                }
                return;
            }
        };
        let _ = stream.set_nodelay(true);
        let mut timed = tokio_io_timeout::TimeoutStream::new(stream);
        timed.set_read_timeout(Some(self.idle));
        timed.set_write_timeout(Some(self.idle));
        let timed = Box::pin(timed);
        let app = self.app.clone();
        let svc =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(limits::Peer(peer));
                app.clone().oneshot(req)
            });
        let builder = self.builder.clone();
        let watcher = self.graceful.watcher();
        let tls = self.tls.clone();
        tokio::spawn(async move {
            let _admitted = admitted;
            match tls {
                Some(acceptor) => {
                    let stream = match tokio::time::timeout(HANDSHAKE, acceptor.accept(timed)).await
                    {
                        Ok(Ok(s)) => s,
                        _ => return,
                    };
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    let _ = watcher.watch(conn).await;
                }
                None => {
                    let conn = builder.serve_connection(TokioIo::new(timed), svc);
                    let _ = watcher.watch(conn).await;
                }
            }
        });
    }
}

impl Bound {
    /// The address actually bound (the real port when port 0 was asked for).
    ///
    /// # Errors
    /// The socket's.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The ledger the service owns, shared with its sequencer: for tasks that run beside
    /// the service and only read it (the publisher of `accord serve --publish-to`).
    pub fn ledger(&self) -> sequencer::SharedLedger {
        self.state.ledger.clone()
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

    /// Serves until `shutdown` completes; then drains: requests in flight finish (up to
    /// [`DRAIN`]) while new ones are answered 503 with `Connection: close` (the listener
    /// stays open, so a client learns why rather than meeting a refused connection), then
    /// [`LINGER`] more; then stops accepting, drains the sequencer and signs a last
    /// checkpoint if the tree grew.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Bound {
            listener,
            tls,
            state,
            sequencer,
            limits,
        } = self;
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .max_buf_size(64 * 1024);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(64)
            .max_header_list_size(64 * 1024);
        let acceptor = Acceptor {
            listener: &listener,
            tls,
            app: router(state.clone()),
            builder,
            graceful: &graceful,
            conns: limits::Connections::new(
                limits.max_connections,
                limits.max_connections_per_address,
            ),
            idle: limits.idle_timeout,
            metrics: state.metrics.clone(),
        };
        acceptor.run_until(shutdown).await;
        eprintln!("accord serve: draining (new requests get 503)");
        state.drain.begin();
        let drain = state.drain.clone();
        acceptor
            .run_until(async move {
                if tokio::time::timeout(DRAIN, drain.idle()).await.is_err() {
                    eprintln!("accord serve: some requests were still running after {DRAIN:?}");
                }
                tokio::time::sleep(LINGER).await;
            })
            .await;
        drop(acceptor);
        drop(listener);
        let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
        let _ = tokio::task::spawn_blocking(move || sequencer.stop()).await;
    }
}

/// How long, after the last request in flight finished, a draining service still answers
/// 503 before it closes its listener.
pub const LINGER: Duration = Duration::from_millis(500);

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
    let (state, sequencer) = start_with(
        ledger,
        config.log_key,
        config.checkpoint_every,
        &config.limits,
    );
    Ok(Bound {
        listener,
        tls: config.tls,
        state,
        sequencer,
        limits: config.limits,
    })
}

/// Starts the sequencer over `ledger` and returns what the handlers share (the service
/// without a socket: [`router`] of it answers requests in process), with the default
/// [`Limits`] but a write rate of `rate` = (per second, burst).
pub fn start(
    ledger: Ledger,
    log_key: KeyPair,
    checkpoint_every: Duration,
    rate: (f64, f64),
) -> (AppState, sequencer::Sequencer) {
    let limits = Limits {
        rate: rate.0,
        burst: rate.1.clamp(1.0, f64::from(u32::MAX)) as u32,
        ..Limits::default()
    };
    start_with(ledger, log_key, checkpoint_every, &limits)
}

/// [`start`] with every limit given.
pub fn start_with(
    ledger: Ledger,
    log_key: KeyPair,
    checkpoint_every: Duration,
    limits: &Limits,
) -> (AppState, sequencer::Sequencer) {
    let metrics = Arc::new(metrics::Metrics::default());
    let ledger = Arc::new(Mutex::new(ledger));
    let sequencer = sequencer::Sequencer::start_with_reserve(
        ledger.clone(),
        log_key,
        checkpoint_every,
        metrics.clone(),
        limits.min_free_space,
    );
    let state = AppState {
        ledger,
        seq: sequencer.handle(),
        metrics,
        limiter: Arc::new(limits::RateLimiter::new(limits.rate, limits.burst)),
        drain: Arc::new(drain::Drain::default()),
        request_timeout: limits.request_timeout,
        tiles: http::TileCache::default(),
    };
    (state, sequencer)
}

#[cfg(test)]
mod tests;
