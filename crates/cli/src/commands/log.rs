//! `accord checkpoint`, `log-key`, `prove`, `consistency`, `cosign`.

use crate::output::{out, outln};
use accord_ledger::{verify, VerifyOptions};
use accord_server::views;
use anyhow::{anyhow, Context, Result};
use serde_json::{json, Value};

use crate::client::Remote;

use super::Ctx;
use crate::cli::{CheckpointArgs, ConsistencyArgs, CosignArgs, ProofFormat, ProveArgs};
use crate::{keyfile, output, Verdict};

/// `accord checkpoint`.
pub fn checkpoint(ctx: &Ctx, a: CheckpointArgs) -> Result<()> {
    if let Some(r) = ctx.remote()? {
        if a.log_key.is_some() {
            return Err(anyhow!(
                "with --server the service signs checkpoints itself (accord serve --checkpoint-every); drop --log-key"
            ));
        }
        let v = r.get_json("/api/v1/checkpoint")?;
        if ctx.json {
            return output::json(&v);
        }
        out!("{}", v["note"].as_str().unwrap_or_default())?;
        return Ok(());
    }
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
        output::json(&views::checkpoint(&cp))
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
    if let Some(r) = ctx.remote()? {
        return prove_remote(ctx, &r, a);
    }
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
        let p = views::inclusion(&ledger.inclusion_proof(a.index, Some(size))?);
        let note = String::from_utf8_lossy(&cp.note.to_bytes()).into_owned();
        return print_tlog_proof(&p, &note);
    }
    let p = views::inclusion(&ledger.inclusion_proof(a.index, a.size)?);
    print_inclusion(ctx, &p)
}

fn print_tlog_proof(p: &Value, note: &str) -> Result<()> {
    let mut text = format!("c2sp.org/tlog-proof@v1\nindex {}\n", p["index"]);
    for h in strings(&p["proof"]) {
        text.push_str(&h);
        text.push('\n');
    }
    text.push('\n');
    text.push_str(note);
    out!("{text}")?;
    Ok(())
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn field(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn print_inclusion(ctx: &Ctx, p: &Value) -> Result<()> {
    if ctx.json {
        return output::json(p);
    }
    output::fields(&[
        ("index", field(p, "index")),
        ("tree size", field(p, "tree_size")),
        ("leaf hash", field(p, "leaf_hash")),
        ("root", field(p, "root")),
    ])?;
    for h in strings(&p["proof"]) {
        outln!("  {h}")?;
    }
    Ok(())
}

fn prove_remote(ctx: &Ctx, r: &Remote, a: ProveArgs) -> Result<()> {
    if a.format == ProofFormat::TlogProof {
        let cp = r.get_json("/api/v1/checkpoint")?;
        let size = cp["tree_size"].as_u64().unwrap_or(0);
        if a.size.is_some_and(|s| s != size) {
            return Err(anyhow!(
                "a tlog-proof is against the latest checkpoint (size {size}); drop --size"
            ));
        }
        let p = r.get_json(&format!(
            "/api/v1/proof/inclusion?index={}&size={size}",
            a.index
        ))?;
        return print_tlog_proof(&p, cp["note"].as_str().unwrap_or_default());
    }
    let size = a.size.map(|s| format!("&size={s}")).unwrap_or_default();
    let p = r.get_json(&format!("/api/v1/proof/inclusion?index={}{size}", a.index))?;
    print_inclusion(ctx, &p)
}

/// `accord consistency`.
pub fn consistency(ctx: &Ctx, a: ConsistencyArgs) -> Result<()> {
    let p = if let Some(r) = ctx.remote()? {
        let to = a.to.map(|t| format!("&to={t}")).unwrap_or_default();
        r.get_json(&format!("/api/v1/proof/consistency?from={}{to}", a.from))?
    } else {
        views::consistency(&ctx.open()?.consistency_proof(a.from, a.to)?)
    };
    if ctx.json {
        return output::json(&p);
    }
    output::fields(&[
        ("from", field(&p, "from")),
        ("to", field(&p, "to")),
        ("old root", field(&p, "old_root")),
        ("new root", field(&p, "new_root")),
    ])?;
    for h in strings(&p["proof"]) {
        outln!("  {h}")?;
    }
    Ok(())
}

/// `accord cosign`.
pub fn cosign(ctx: &Ctx, a: CosignArgs) -> Result<()> {
    let key = keyfile::load(&a.key, &a.pass)?;
    if let Some(r) = ctx.remote()? {
        return super::cosign_remote::cosign(ctx, &r, &a, &key);
    }
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
