//! `accord checkpoint`, `log-key`, `prove`, `consistency`, `cosign`.

use crate::output::{out, outln};
use accord_ledger::{verify, VerifyOptions};
use anyhow::{anyhow, Context, Result};
use serde_json::json;

use super::Ctx;
use crate::cli::{CheckpointArgs, ConsistencyArgs, CosignArgs, ProofFormat, ProveArgs};
use crate::{keyfile, output, Verdict};

fn b64s(hashes: &[accord_core::log::Hash]) -> Vec<String> {
    hashes.iter().map(|h| h.to_base64()).collect()
}

/// `accord checkpoint`.
pub fn checkpoint(ctx: &Ctx, a: CheckpointArgs) -> Result<()> {
    let mut ledger = ctx.open()?;
    let cp = match &a.log_key {
        Some(path) => {
            let key = keyfile::load(path, &a.pass)?;
            ledger.issue_checkpoint(&key)?
        }
        None => ledger.latest_checkpoint()?.ok_or_else(|| {
            anyhow!("no checkpoint yet: issue one with `accord checkpoint --log-key FILE`")
        })?,
    };
    let text = String::from_utf8_lossy(&cp.note.to_bytes()).into_owned();
    if ctx.json {
        let c = cp.note.checkpoint();
        output::json(
            &json!({"seq": cp.seq, "origin": c.origin(), "tree_size": c.size(),
            "root": c.root().to_base64(), "cosigners": cp.cosigners, "note": text}),
        )
    } else {
        out!("{text}")?;
        Ok(())
    }
}

/// `accord log-key`.
pub fn log_key(ctx: &Ctx) -> Result<()> {
    let ledger = ctx.open()?;
    if ctx.json {
        output::json(&json!({"log_key": ledger.log_key().to_string(), "origin": ledger.origin()}))
    } else {
        outln!("{}", ledger.log_key())?;
        Ok(())
    }
}

/// `accord prove`.
pub fn prove(ctx: &Ctx, a: ProveArgs) -> Result<()> {
    let ledger = ctx.open()?;
    if a.format == ProofFormat::TlogProof {
        let cp = ledger
            .latest_checkpoint()?
            .ok_or_else(|| anyhow!("a tlog-proof needs a checkpoint: issue one first"))?;
        let size = cp.note.checkpoint().size();
        if a.size.is_some_and(|s| s != size) {
            return Err(anyhow!(
                "a tlog-proof is against the latest checkpoint (size {size}); drop --size"
            ));
        }
        let p = ledger.inclusion_proof(a.index, Some(size))?;
        let mut text = format!("c2sp.org/tlog-proof@v1\nindex {}\n", p.index);
        for h in &p.proof {
            text.push_str(&h.to_base64());
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&String::from_utf8_lossy(&cp.note.to_bytes()));
        out!("{text}")?;
        return Ok(());
    }
    let p = ledger.inclusion_proof(a.index, a.size)?;
    if ctx.json {
        output::json(
            &json!({"index": p.index, "tree_size": p.tree_size, "leaf_hash": p.leaf_hash.to_base64(),
            "root": p.root.to_base64(), "proof": b64s(&p.proof)}),
        )
    } else {
        output::fields(&[
            ("index", p.index.to_string()),
            ("tree size", p.tree_size.to_string()),
            ("leaf hash", p.leaf_hash.to_base64()),
            ("root", p.root.to_base64()),
        ])?;
        for h in &p.proof {
            outln!("  {}", h.to_base64())?;
        }
        Ok(())
    }
}

/// `accord consistency`.
pub fn consistency(ctx: &Ctx, a: ConsistencyArgs) -> Result<()> {
    let ledger = ctx.open()?;
    let p = ledger.consistency_proof(a.from, a.to)?;
    if ctx.json {
        output::json(
            &json!({"from": p.from, "to": p.to, "old_root": p.old_root.to_base64(),
            "new_root": p.new_root.to_base64(), "proof": b64s(&p.proof)}),
        )
    } else {
        output::fields(&[
            ("from", p.from.to_string()),
            ("to", p.to.to_string()),
            ("old root", p.old_root.to_base64()),
            ("new root", p.new_root.to_base64()),
        ])?;
        for h in &p.proof {
            outln!("  {}", h.to_base64())?;
        }
        Ok(())
    }
}

/// `accord cosign`.
pub fn cosign(ctx: &Ctx, a: CosignArgs) -> Result<()> {
    let key = keyfile::load(&a.key, &a.pass)?;
    let mut ledger = ctx.open()?;
    if key.name().parse::<accord_core::model::MemberId>().is_err() {
        return Err(Verdict(format!(
            "refusing to cosign: {} is the key of {:?}, not a member's key",
            a.key.display(),
            key.name()
        ))
        .into());
    }
    let cp = ledger
        .latest_checkpoint()?
        .ok_or_else(|| anyhow!("no checkpoint to cosign yet"))?;
    let size = cp.note.checkpoint().size();
    let pb = output::progress(Some(size), "verify");
    verify(
        &ledger,
        &VerifyOptions {
            charter_hash: None,
            up_to: Some(size),
        },
        &mut |done, _| pb.set_position(done),
    )
    .context("refusing to cosign: the ledger does not verify")?;
    pb.finish_and_clear();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let cp = ledger.add_cosignature(cp.seq, &key, now)?;
    if ctx.json {
        output::json(&json!({"seq": cp.seq, "tree_size": size, "cosigners": cp.cosigners}))
    } else {
        outln!(
            "{} verified {size} entries and cosigned checkpoint {}; cosigners: {}",
            key.name(),
            cp.seq,
            cp.cosigners.join(", ")
        )?;
        Ok(())
    }
}
