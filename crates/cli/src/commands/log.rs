//! `accord checkpoint`, `log-key`, `prove`, `consistency`, `cosign`.

use crate::output::{out, outln};
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
        if let Some(p) = v.get("witness_policy").and_then(|p| {
            serde_json::from_value::<accord_core::witness::PolicyReport>(p.clone()).ok()
        }) {
            eprintln!("{} (as the service reports it)", describe_policy(&p));
        }
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
    let state = ledger.governance()?;
    let policy = views::witness_policy(&cp.note, state);
    if ctx.json {
        output::json(&views::checkpoint_with_policy(&cp, state))
    } else {
        out!("{text}")?;
        if let Some(p) = policy {
            // On stderr: standard output stays the note, byte for byte.
            eprintln!("{}", describe_policy(&p));
        }
        Ok(())
    }
}

/// One line saying whether a witness policy is met.
pub fn describe_policy(p: &accord_core::witness::PolicyReport) -> String {
    format!(
        "witness policy {}: cosigned by {} of the listed witnesses, {} needed ({})",
        if p.met { "met" } else { "NOT met" },
        p.cosigned_by.len(),
        p.threshold,
        if p.cosigned_by.is_empty() {
            "none".to_owned()
        } else {
            p.cosigned_by.join(", ")
        }
    )
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
    let index = match entry_ref(&a.entry)? {
        Ok(i) => i,
        Err(id) => ledger
            .index_of(&id)?
            .ok_or_else(|| anyhow!("no entry {id} in the ledger"))?,
    };
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
        let p = views::inclusion(&ledger.inclusion_proof(index, Some(size))?);
        let note = String::from_utf8_lossy(&cp.note.to_bytes()).into_owned();
        return print_tlog_proof(&p, &note);
    }
    let p = views::inclusion(&ledger.inclusion_proof(index, a.size)?);
    print_inclusion(ctx, &p)
}

/// An entry named on the command line: `Ok(index)` for digits, else `Err(id)`.
fn entry_ref(s: &str) -> Result<std::result::Result<u64, accord_core::model::EntryId>> {
    if let Ok(i) = s.parse::<u64>() {
        return Ok(Ok(i));
    }
    accord_core::model::EntryId::parse(s)
        .map(Err)
        .map_err(|e| anyhow!("{s:?} is neither an entry index nor an entry id: {e}"))
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
    let index = match entry_ref(&a.entry)? {
        Ok(i) => i,
        Err(id) => r.get_json(&format!(
            "/api/v1/entries/{}",
            crate::client::enc(id.as_str())
        ))?["index"]
            .as_u64()
            .ok_or_else(|| anyhow!("the server's entry {id} has no index"))?,
    };
    if a.format == ProofFormat::TlogProof {
        let cp = r.get_json("/api/v1/checkpoint")?;
        let size = cp["tree_size"].as_u64().unwrap_or(0);
        if a.size.is_some_and(|s| s != size) {
            return Err(anyhow!(
                "a tlog-proof is against the latest checkpoint (size {size}); drop --size"
            ));
        }
        let p = r.get_json(&format!(
            "/api/v1/proof/inclusion?index={index}&size={size}"
        ))?;
        return print_tlog_proof(&p, cp["note"].as_str().unwrap_or_default());
    }
    let size = a.size.map(|s| format!("&size={s}")).unwrap_or_default();
    let p = r.get_json(&format!("/api/v1/proof/inclusion?index={index}{size}"))?;
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
    let done = cosign_local(&mut ledger, &key, &a.key, a.full)?;
    print_cosigned(ctx, &done)
}

/// What [`cosign_local`] did.
#[derive(Debug)]
pub struct LocalCosign {
    /// The member.
    pub member: String,
    /// The checkpoint cosigned.
    pub seq: u64,
    /// Its tree size.
    pub size: u64,
    /// Entries verified now (since the state kept beside the key).
    pub verified: u64,
    /// Everyone who has cosigned it now.
    pub cosigners: Vec<String>,
}

impl LocalCosign {
    /// As JSON (`accord cosign --json`).
    pub fn to_json(&self) -> serde_json::Value {
        json!({"seq": self.seq, "tree_size": self.size, "verified": self.verified,
            "cosigners": self.cosigners})
    }
}

/// Prints what [`cosign_local`] did.
pub fn print_cosigned(ctx: &Ctx, c: &LocalCosign) -> Result<()> {
    if ctx.json {
        return output::json(&c.to_json());
    }
    outln!(
        "{} verified {} new entries (the tree of {} is the one verified before, extended) and \
         cosigned checkpoint {}; cosigners: {}",
        c.member,
        c.verified,
        c.size,
        c.seq,
        c.cosigners.join(", ")
    )?;
    Ok(())
}

/// The member whose key is `key` (read from `key_path`) verifies what is new in `ledger`
/// since the state kept in `KEYFILE.verified` (all of it with `full`) and cosigns its latest
/// checkpoint: `accord cosign` on a local ledger, and `accord mirror --cosign` on the replica
/// it has just brought up to date.
///
/// # Errors
/// A [`Verdict`] when it refuses (a key that is not a member's, a ledger that does not
/// extend what was verified before or does not verify).
pub fn cosign_local(
    ledger: &mut accord_ledger::Ledger,
    key: &accord_core::keys::KeyPair,
    key_path: &std::path::Path,
    full: bool,
) -> Result<LocalCosign> {
    if key.name().parse::<accord_core::model::MemberId>().is_err() {
        return Err(Verdict(format!(
            "refusing to cosign: {} is the key of {:?}, not a member's key",
            key_path.display(),
            key.name()
        ))
        .into());
    }
    let cp = ledger
        .latest_checkpoint()?
        .ok_or_else(|| anyhow!("no checkpoint to cosign yet"))?;
    let size = cp.note.checkpoint().size();
    let (follower, verified_now) = follow_local(ledger, key_path, full, size)?;
    follower
        .check_checkpoint(&cp.note)
        .map_err(|e| Verdict(format!("refusing to cosign: {e}")))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let cp = ledger.add_cosignature(cp.seq, key, now)?;
    let state = verified_path(key_path);
    super::write_file(&state, &follower.to_bytes()?)
        .with_context(|| format!("cosigned, but could not record it in {}", state.display()))?;
    Ok(LocalCosign {
        member: key.name().to_owned(),
        seq: cp.seq,
        size,
        verified: verified_now,
        cosigners: cp.cosigners,
    })
}

/// `KEYFILE.verified`: what this member verified of the ledger (docs/CLI.md, `cosign`).
fn verified_path(key: &std::path::Path) -> std::path::PathBuf {
    let mut p = key.as_os_str().to_owned();
    p.push(".verified");
    std::path::PathBuf::from(p)
}

/// Brings what the member verified up to `size` entries of the local ledger: from the state
/// kept beside the key (checking that the ledger still extends the tree verified then, with a
/// consistency proof), or from the charter with `--full` or on the first run. Returns the
/// follower and how many entries were verified now.
fn follow_local(
    ledger: &accord_ledger::Ledger,
    key_path: &std::path::Path,
    full: bool,
    size: u64,
) -> Result<(accord_core::follow::Follower, u64)> {
    use accord_core::follow::Follower;
    let refuse =
        |why: String| -> anyhow::Error { Verdict(format!("refusing to cosign: {why}")).into() };
    let path = verified_path(key_path);
    let mut f = if full || !path.exists() {
        Follower::new()
    } else {
        let bytes = super::read_file(&path, 16 * 1024 * 1024)?;
        Follower::from_bytes(&bytes)
            .with_context(|| format!("{} (remove it, or use --full)", path.display()))?
    };
    if f.size() > 0 {
        if f.origin() != Some(ledger.origin()) || f.charter_hash() != ledger.charter_hash() {
            return Err(refuse(format!(
                "{} records another ledger than {}; use --full to verify this one",
                path.display(),
                ledger.origin()
            )));
        }
        if f.size() > size {
            return Err(refuse(format!(
                "the latest checkpoint covers {size} entries, fewer than the {} verified before: \
                 the log was rolled back",
                f.size()
            )));
        }
        let p = ledger.consistency_proof(f.size(), Some(size))?;
        if p.old_root != f.root() {
            return Err(refuse(format!(
                "the ledger's first {} entries are not the ones verified before (a fork or a rewrite)",
                f.size()
            )));
        }
        accord_core::log::verify_consistency(f.size(), size, &f.root(), &p.new_root, &p.proof)
            .map_err(|e| refuse(format!("the consistency proof from size {}: {e}", f.size())))?;
    }
    let from = f.size();
    let pb = output::progress(Some(size - from), "verify");
    let mut read_error = None;
    let mut done = 0u64;
    let leaves = ledger
        .entries(from)
        .take((size - from) as usize)
        .map_while(|e| match e {
            Ok(e) => {
                done += 1;
                if done % 4096 == 0 {
                    pb.set_position(done);
                }
                Some(e.leaf)
            }
            Err(e) => {
                read_error = Some(e);
                None
            }
        });
    let mut lookup = |id: &accord_core::model::EntryId| {
        let at = ledger.index_of(id).map_err(|e| e.to_string())?;
        let record = ledger.commitment_state(id).map_err(|e| e.to_string())?;
        Ok((at, record))
    };
    let advanced = f.advance(leaves, &mut lookup);
    pb.finish_and_clear();
    if let Some(e) = read_error {
        return Err(refuse(format!("the ledger does not verify: {e}")));
    }
    advanced.map_err(|e| refuse(format!("the ledger does not verify: {e}")))?;
    Ok((f, size - from))
}
