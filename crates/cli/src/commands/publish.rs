//! `accord publish`: copies the ledger's C2SP tlog-tiles to object storage
//! (`accord_publish` does the work and keeps the order of writes; see its crate docs and
//! docs/FORMAT.md "Publishing to object storage").

use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use serde_json::json;

use super::Ctx;
use crate::cli::PublishArgs;
use crate::output::{self, outln};

/// `accord publish`.
pub fn publish(ctx: &Ctx, a: PublishArgs) -> Result<()> {
    if a.jobs == 0 {
        anyhow::bail!("--jobs must be 1 or more");
    }
    let target = accord_publish::Target::parse(&a.to)?;
    let ledger = Arc::new(Mutex::new(ctx.open()?));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let opts = accord_publish::Options {
        jobs: a.jobs,
        all: a.all,
    };
    let r = runtime.block_on(accord_publish::publish(&ledger, &target, opts))?;
    if ctx.json {
        return output::json(&json!({
            "to": target.url(),
            "size": r.size,
            "previous": r.previous,
            "written": r.written,
            "existing": r.existing,
            "bytes": r.bytes,
            "checkpoint_written": r.checkpoint_written,
            "requests": r.requests,
            "store_ahead": r.store_ahead,
        }));
    }
    if let Some(ahead) = r.store_ahead {
        outln!(
            "{} already holds a checkpoint of size {ahead}, newer than this ledger's latest ({}); nothing written",
            target.url(),
            r.size
        )?;
        return Ok(());
    }
    let from = r
        .previous
        .map_or_else(|| "an empty store".to_owned(), |p| format!("size {p}"));
    outln!(
        "published size {} to {} (from {from}): {} objects written ({} bytes), {} already there, checkpoint {}",
        r.size,
        target.url(),
        r.written,
        r.bytes,
        r.existing,
        if r.checkpoint_written { "written" } else { "unchanged" }
    )?;
    Ok(())
}
