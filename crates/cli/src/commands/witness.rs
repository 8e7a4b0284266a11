//! `accord witness serve`: a C2SP tlog-witness (the service is
//! `accord_server::witness`). Decrypts the member key once, opens and locks the state
//! directory, binds, prints `listening on http://ADDR:PORT` as the first line on stderr, and
//! serves until SIGTERM or SIGINT.

use accord_core::keys::VerifierKey;
use anyhow::{anyhow, Context, Result};

use super::serve::shutdown;
use crate::cli::{WitnessCommand, WitnessServeArgs};
use crate::keyfile;

/// `accord witness ...`.
pub fn run(c: WitnessCommand) -> Result<()> {
    match c {
        WitnessCommand::Serve(a) => serve(a),
    }
}

/// `ORIGIN=VKEY`.
fn parse_log(s: &str) -> Result<(String, VerifierKey)> {
    let (origin, vkey) = s
        .split_once('=')
        .ok_or_else(|| anyhow!("--log {s:?}: expected ORIGIN=VKEY"))?;
    if origin.is_empty() || origin.chars().any(|c| c < ' ') {
        anyhow::bail!("--log {s:?}: the origin must be one non-empty line");
    }
    let key = VerifierKey::parse(vkey)
        .map_err(|e| anyhow!("--log {s:?}: not a C2SP verifier key: {e}"))?;
    Ok((origin.to_owned(), key))
}

fn serve(a: WitnessServeArgs) -> Result<()> {
    let logs = a
        .logs
        .iter()
        .map(|s| parse_log(s))
        .collect::<Result<Vec<_>>>()?;
    let key = keyfile::load(&a.key, &a.pass)?;
    let state = accord_server::witness_state::StateDir::open(&a.state)
        .with_context(|| format!("cannot use the state directory {}", a.state.display()))?;
    let witness = accord_server::witness::Witness::open(key, logs, state)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let bound = accord_server::witness::BoundWitness::bind(witness, a.listen).await?;
        let addr = bound
            .local_addr()
            .context("cannot read the bound address")?;
        eprintln!("listening on http://{addr}");
        bound.run(shutdown()).await.context("the witness failed")?;
        eprintln!("accord witness: stopped");
        Ok(())
    })
}
