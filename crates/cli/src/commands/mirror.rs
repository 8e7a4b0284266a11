//! `accord mirror` (a verified replica of a log, from its C2SP tlog-tiles endpoints; the
//! logic is in the `accord-mirror` crate) and `accord verify-evidence` (does a mirror's
//! evidence file prove a fork?).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use accord_core::evidence::{Evidence, MAX_EVIDENCE_BYTES};
use accord_mirror::fetch::Source;
use accord_mirror::sync::{self, Options, Phase, Report};
use accord_mirror::MirrorError;
use anyhow::{anyhow, Context, Result};
use serde_json::json;

use std::path::PathBuf;

use accord_core::keys::KeyPair;

use super::log::{print_cosigned, LocalCosign};
use super::{parse_hash, read_file, Ctx};
use crate::cli::{MirrorArgs, VerifyEvidenceArgs};
use crate::keyfile;
use crate::output::{self, outln};
use crate::Verdict;

/// A refusal or a fork is a verdict (exit 1); a log that cannot be read, an input error.
fn to_anyhow(e: MirrorError) -> anyhow::Error {
    match e {
        MirrorError::Refused(_) | MirrorError::Fork { .. } => Verdict(e.to_string()).into(),
        MirrorError::Ledger(l) => anyhow::Error::new(l).context("the replica"),
        other => anyhow!(other.to_string()),
    }
}

/// Set once SIGTERM or SIGINT arrives; the handlers are installed before this returns.
fn stop_flag() -> Result<Arc<AtomicBool>> {
    use tokio::signal::unix::{signal, SignalKind};
    let flag = Arc::new(AtomicBool::new(false));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot set up signal handling")?;
    let (mut term, mut int) = rt
        .block_on(async {
            Ok::<_, std::io::Error>((
                signal(SignalKind::terminate())?,
                signal(SignalKind::interrupt())?,
            ))
        })
        .context("cannot install the SIGTERM/SIGINT handlers")?;
    let f = flag.clone();
    std::thread::spawn(move || {
        rt.block_on(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        });
        f.store(true, Ordering::SeqCst);
    });
    Ok(flag)
}

/// What became of `--cosign` after a sync.
enum Cosigning<'a> {
    /// Not asked for.
    NotAsked,
    /// The member had cosigned the checkpoint already.
    Already(&'a str),
    /// Cosigned now.
    Done(&'a LocalCosign),
    /// Refused or failed (the error follows the report).
    Failed,
}

fn print_report(ctx: &Ctx, src: &Source, r: &Report, cosigning: &Cosigning) -> Result<()> {
    if ctx.json {
        let mut v = json!({
            "ok": true,
            "from": src.url(),
            "before": r.before,
            "size": r.size,
            "new_entries": r.size - r.before,
            "root": r.root.to_base64(),
            "charter_hash": hex::encode(r.charter_hash),
            "created": r.created,
            "checkpoint": r.checkpoint_seq,
            "cosigners": r.cosigners,
            "dropped_cosignatures": r.dropped_cosignatures,
        });
        match cosigning {
            Cosigning::NotAsked => {}
            Cosigning::Done(c) => v["cosigned"] = c.to_json(),
            Cosigning::Already(_) | Cosigning::Failed => v["cosigned"] = serde_json::Value::Null,
        }
        return output::json(&v);
    }
    if r.size == r.before {
        outln!(
            "up to date: {} entries, root {}, checkpoint {} from {}",
            r.size,
            r.root,
            r.checkpoint_seq,
            src.url()
        )?;
    } else {
        outln!(
            "mirrored {} new entries from {}: the replica has {} entries, root {}",
            r.size - r.before,
            src.url(),
            r.size,
            r.root
        )?;
        outln!(
            "checkpoint {} stored, cosigned by {}",
            r.checkpoint_seq,
            if r.cosigners.is_empty() {
                "nobody yet".to_owned()
            } else {
                r.cosigners.join(", ")
            }
        )?;
    }
    match cosigning {
        Cosigning::Done(c) => print_cosigned(ctx, c)?,
        Cosigning::Already(member) => {
            outln!("{member} cosigned checkpoint {} already", r.checkpoint_seq)?
        }
        Cosigning::NotAsked | Cosigning::Failed => {}
    }
    if r.dropped_cosignatures > 0 {
        eprintln!(
            "note: {} cosignature line(s) served did not verify under a member's current key and were not stored",
            r.dropped_cosignatures
        );
    }
    Ok(())
}

/// A member's key for `--cosign`, loaded once.
struct Cosigner {
    key: KeyPair,
    path: PathBuf,
}

/// One sync, and the cosignature asked for; the error says whether it was a fork.
fn once(
    ctx: &Ctx,
    src: &Source,
    dir: &std::path::Path,
    opts: &Options,
    cosigner: Option<&Cosigner>,
) -> std::result::Result<Report, (bool, anyhow::Error)> {
    let pb = output::progress(None, "mirror");
    let mut last = Phase::Fetch;
    let r = sync::sync_open(src, dir, opts, &mut |phase, done, total| {
        if phase != last {
            last = phase;
            pb.set_message(match phase {
                Phase::Fetch => "fetch",
                Phase::Import => "verify",
            });
        }
        pb.set_length(total);
        pb.set_position(done);
    });
    pb.finish_and_clear();
    let (r, mut replica) = r.map_err(|e| {
        let fork = matches!(e, MirrorError::Fork { .. });
        if let MirrorError::Fork { evidence, .. } = &e {
            let _ = outln!("evidence written to {}", evidence.display());
        }
        (fork, to_anyhow(e))
    })?;
    if r.created && opts.charter_hash.is_none() {
        eprintln!(
            "warning: no --charter-hash given, so the replica trusts the charter the log serves \
             (charter hash {}); compare it with the one your group published, and pass it next time",
            hex::encode(r.charter_hash)
        );
    }
    // The sync is reported whatever the cosignature's fate; a refusal to cosign follows it.
    let (cosigned, refused) = match cosigner {
        Some(c) if !r.cosigners.iter().any(|m| m == c.key.name()) => {
            match super::log::cosign_local(&mut replica, &c.key, &c.path, false) {
                Ok(done) => (Some(done), None),
                Err(e) => (None, Some(e)),
            }
        }
        _ => (None, None),
    };
    drop(replica);
    let cosigning = match (cosigner, &cosigned, &refused) {
        (None, _, _) => Cosigning::NotAsked,
        (Some(_), Some(done), _) => Cosigning::Done(done),
        (Some(_), None, Some(_)) => Cosigning::Failed,
        (Some(c), None, None) => Cosigning::Already(c.key.name()),
    };
    print_report(ctx, src, &r, &cosigning).map_err(|e| (false, e))?;
    match refused {
        Some(e) => Err((false, e)),
        None => Ok(r),
    }
}

/// `accord mirror`.
pub fn mirror(ctx: &Ctx, a: MirrorArgs) -> Result<()> {
    let dir = ctx.ledger_dir()?.to_path_buf();
    let opts = Options {
        charter_hash: a
            .charter_hash
            .as_deref()
            .map(|h| parse_hash("charter-hash", h))
            .transpose()?,
    };
    if a.timeout == 0 {
        return Err(anyhow!("--timeout must be at least 1 second"));
    }
    let src = Source::new(&a.from, Duration::from_secs(a.timeout)).map_err(to_anyhow)?;
    let cosigner = match &a.cosign {
        Some(path) => Some(Cosigner {
            key: keyfile::load(path, &a.pass)?,
            path: path.clone(),
        }),
        None => None,
    };
    let cosigner = cosigner.as_ref();
    let Some(every) = a.follow else {
        return once(ctx, &src, &dir, &opts, cosigner)
            .map(|_| ())
            .map_err(|(_, e)| e);
    };
    if every == 0 {
        return Err(anyhow!("--follow must be at least 1 second"));
    }
    let stop = stop_flag()?;
    loop {
        match once(ctx, &src, &dir, &opts, cosigner) {
            Ok(_) => {}
            // A fork stops the mirror; an unreachable log or a bad answer is tried again.
            Err((true, e)) => return Err(e),
            Err((false, e)) => eprintln!("error: {e:#}; trying again in {every} s"),
        }
        let until = Instant::now() + Duration::from_secs(every);
        while Instant::now() < until {
            if stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
    }
}

/// `accord verify-evidence`.
pub fn verify_evidence(ctx: &Ctx, a: VerifyEvidenceArgs) -> Result<()> {
    let bytes = read_file(&a.file, MAX_EVIDENCE_BYTES as u64)?;
    let e = Evidence::from_bytes(&bytes).with_context(|| a.file.display().to_string())?;
    let f = e.check().with_context(|| a.file.display().to_string())?;
    if ctx.json {
        output::json(&json!({
            "proves_fork": f.proves_fork,
            "why": f.why,
            "origin": e.origin,
            "log_key": e.log_key,
        }))?;
    } else if f.proves_fork {
        outln!("fork proven: {}", f.why)?;
        outln!(
            "log {} key {}: check that this is the key your group's charter names",
            e.origin,
            e.log_key
        )?;
    }
    if f.proves_fork {
        Ok(())
    } else {
        Err(Verdict(format!("this evidence does not prove a fork: {}", f.why)).into())
    }
}
