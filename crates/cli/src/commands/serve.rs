//! `accord serve`: opens the ledger, decrypts the log key once, binds, prints
//! `listening on URL` as the first line on stderr, and serves until SIGTERM or SIGINT.
//! With `--publish-to URL`, a task beside the service publishes each new checkpoint to
//! object storage (`accord_publish::follow`), and a last publish runs after the sequencer
//! signed its last checkpoint at shutdown.

use std::time::Duration;

use anyhow::{Context, Result};

use super::{note_quarantine, Ctx};
use crate::cli::ServeArgs;
use crate::keyfile;

/// `accord serve`.
pub fn serve(ctx: &Ctx, a: ServeArgs) -> Result<()> {
    let dir = ctx.ledger_dir()?;
    let ledger = accord_ledger::Ledger::open_with(dir, ctx.wait)?;
    let key = keyfile::load(&a.log_key, &a.pass)?;
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(k)) => Some(accord_server::tls::acceptor(cert, k)?),
        _ => None,
    };
    if !(a.rate_limit.is_finite() && a.rate_limit >= 0.0) {
        anyhow::bail!("--rate-limit must be a number of writes per second, 0 or more");
    }
    let publish_to = a
        .publish_to
        .as_deref()
        .map(accord_publish::Target::parse)
        .transpose()?;
    if a.burst == 0 {
        anyhow::bail!("--burst must be 1 or more");
    }
    let limits = accord_server::Limits {
        rate: a.rate_limit,
        burst: a.burst,
        max_connections: a.max_connections,
        max_connections_per_address: a.max_connections_per_address,
        header_timeout: seconds("--header-timeout", a.header_timeout)?,
        request_timeout: seconds("--request-timeout", a.request_timeout)?,
        idle_timeout: seconds("--idle-timeout", a.idle_timeout)?,
        min_free_space: a.min_free_space.saturating_mul(1 << 20),
    };
    let config = accord_server::Config {
        listen: a.listen,
        log_key: key,
        checkpoint_every: Duration::from_secs(a.checkpoint_every.max(1)),
        tls,
        limits,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let quarantined = ledger.quarantined_snapshots().is_some();
        let note_ledger = quarantined.then(|| dir.to_path_buf());
        let bound = accord_server::bind(ledger, config).await?;
        let addr = bound
            .local_addr()
            .context("cannot read the bound address")?;
        eprintln!("listening on {}://{addr}", bound.scheme());
        bound
            .spawn_witnesses(a.witnesses.clone())
            .map_err(|e| anyhow::anyhow!(e))?;
        if let Some(d) = note_ledger {
            // Printed after the listening line, which scripts read first.
            if let Ok(l) = accord_ledger::Ledger::open(&d) {
                note_quarantine(&l);
            }
        }
        let publisher = publish_to.map(|t| {
            let ledger = bound.ledger();
            let task = tokio::spawn(accord_publish::follow(
                ledger.clone(),
                t.clone(),
                PUBLISH_EVERY,
            ));
            (task, ledger, t)
        });
        bound.run(shutdown()).await;
        if let Some((task, ledger, t)) = publisher {
            task.abort();
            match accord_publish::publish(&ledger, &t, accord_publish::Options::default()).await {
                Ok(r) => eprintln!("accord serve: published size {} to {}", r.size, t.url()),
                Err(e) => eprintln!("accord serve: last publish to {} failed: {e}", t.url()),
            }
        }
        eprintln!("accord serve: stopped");
        Ok::<(), anyhow::Error>(())
    })
}

/// How often the publisher looks for a new checkpoint.
const PUBLISH_EVERY: Duration = Duration::from_millis(500);

/// A positive number of seconds, at most a day.
fn seconds(flag: &str, s: f64) -> Result<Duration> {
    if !(s.is_finite() && s > 0.0 && s <= 86_400.0) {
        anyhow::bail!("{flag} must be a number of seconds above 0 and at most 86400, not {s}");
    }
    Ok(Duration::from_secs_f64(s))
}

/// SIGTERM or SIGINT.
pub async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
