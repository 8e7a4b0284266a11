//! `accord serve`: opens the ledger, decrypts the log key once, binds, prints
//! `listening on URL` as the first line on stderr, and serves until SIGTERM or SIGINT.

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
    let config = accord_server::Config {
        listen: a.listen,
        log_key: key,
        checkpoint_every: Duration::from_secs(a.checkpoint_every.max(1)),
        tls,
        rate: (a.rate_limit, (a.rate_limit * 2.0).max(1.0)),
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
        bound.run(shutdown()).await;
        eprintln!("accord serve: stopped");
        Ok::<(), anyhow::Error>(())
    })
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
