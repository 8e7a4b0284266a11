//! `accord demo`: the G7+ scenario end to end, without prompts. Keys for every member and
//! the log are generated fresh (and stored unencrypted in the demo directory: they are demo
//! keys), the founders sign the charter, the ministries submit and co-sign the scenario's
//! commitments, amendments, progress reports, a withdrawal and a key rotation, the log
//! issues a checkpoint every member cosigns, and then the ledger is verified and exported.

use crate::output::outln;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use accord_core::envelope::Envelope;
use accord_core::keys::KeyPair;
use accord_ledger::{verify, Ledger, VerifyOptions};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use crate::cli::DemoArgs;
use crate::commands::Ctx;
use crate::scenario::{self, ORIGIN};
use crate::{keyfile, output};

const MARKER: &str = ".accord-demo";

fn prepare(dir: &Path, force: bool) -> Result<()> {
    if dir.exists() {
        let is_demo = dir.join(MARKER).exists();
        let empty = std::fs::read_dir(dir)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !(is_demo || empty || force) {
            bail!(
                "{} exists and is not a demo directory; choose another --dir or pass --force",
                dir.display()
            );
        }
        if !empty {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot clear {}", dir.display()))?;
        }
    }
    std::fs::create_dir_all(dir.join("keys"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join(MARKER), b"made by `accord demo`; safe to delete\n")?;
    Ok(())
}

fn substitute(
    v: &mut Value,
    keys: &BTreeMap<String, KeyPair>,
    new_keys: &BTreeMap<String, KeyPair>,
) -> Result<()> {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("$NEWKEY:") {
                let k = new_keys
                    .get(id)
                    .ok_or_else(|| anyhow!("scenario: no new key for {id}"))?;
                *s = k.verifier()?.to_string();
            } else if let Some(id) = s.strip_prefix("$KEY:") {
                let k = keys
                    .get(id)
                    .ok_or_else(|| anyhow!("scenario: no key for {id}"))?;
                *s = k.verifier()?.to_string();
            }
        }
        Value::Array(a) => {
            for x in a {
                substitute(x, keys, new_keys)?;
            }
        }
        Value::Object(m) => {
            for x in m.values_mut() {
                substitute(x, keys, new_keys)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn sign(payload: &Value, signers: &[&KeyPair]) -> Result<Envelope> {
    let mut bytes = serde_json::to_vec_pretty(payload)?;
    bytes.push(b'\n');
    let mut env = Envelope::new(bytes);
    for k in signers {
        env.sign(k);
    }
    Ok(env)
}

/// `accord demo`.
pub fn run(ctx: &Ctx, a: DemoArgs) -> Result<()> {
    let dir: PathBuf = a
        .dir
        .clone()
        .or_else(|| ctx.ledger.clone())
        .unwrap_or_else(|| PathBuf::from("accord-demo"));
    prepare(&dir, a.force)?;
    let say = |s: String| -> std::io::Result<()> {
        if ctx.json {
            Ok(())
        } else {
            outln!("{s}")
        }
    };
    say(format!(
        "accord demo: the G7+ critical-minerals ledger in {}",
        dir.display()
    ))?;

    // Keys.
    let members = scenario::members()?;
    let mut keys: BTreeMap<String, KeyPair> = BTreeMap::new();
    for m in &members {
        let k = KeyPair::generate(m.id)?;
        keyfile::save(&dir.join("keys").join(format!("{}.key", m.id)), &k, None)?;
        keys.insert(m.id.to_owned(), k);
    }
    let log_key = KeyPair::generate(ORIGIN)?;
    keyfile::save(&dir.join("keys").join("log.key"), &log_key, None)?;
    say(format!(
        "1. generated Ed25519 keys for {} members and the log (in {}/keys)",
        members.len(),
        dir.display()
    ))?;

    // Charter.
    let member_records: Vec<Value> = members
        .iter()
        .map(|m| -> Result<Value> {
            Ok(json!({"id": m.id, "country": m.country, "institution": m.institution, "role": m.role,
                "key": keys[m.id].verifier()?.to_string()}))
        })
        .collect::<Result<_>>()?;
    let threshold = scenario::MEMBERSHIP_THRESHOLD;
    let charter = json!({
        "ledger": ORIGIN, "type": "charter", "id": "charter", "signed_at": "2026-01-13T18:00:00Z",
        "name": "G7+ Critical Minerals Commitments Ledger",
        "log_key": log_key.verifier()?.to_string(),
        "members": member_records,
        "policy": {"membership_threshold": threshold, "joint_commitments": {"rule": "all_parties"}}
    });
    let founders: Vec<&KeyPair> = keys.values().collect();
    let charter_env = sign(&charter, &founders)?;
    let ledger_dir = dir.join("ledger");
    let mut ledger = Ledger::create(&ledger_dir, &charter_env)?;
    let charter_hash = hex::encode(ledger.charter_hash());
    say(format!(
        "2. charter signed by all {} founders; ledger created; charter hash {charter_hash}",
        founders.len()
    ))?;

    // Scenario steps.
    let mut new_keys: BTreeMap<String, KeyPair> = BTreeMap::new();
    let steps = scenario::steps()?;
    for s in &steps {
        for signer in &s.signers {
            if let Some(id) = signer.strip_prefix("$NEWKEY:") {
                if !new_keys.contains_key(id) {
                    new_keys.insert(id.to_owned(), KeyPair::generate(id)?);
                }
            }
        }
    }
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for (i, s) in steps.iter().enumerate() {
        let mut payload = s.payload.clone();
        substitute(&mut payload, &keys, &new_keys)?;
        let signers: Vec<KeyPair> = s
            .signers
            .iter()
            .map(|id| match id.strip_prefix("$NEWKEY:") {
                Some(m) => new_keys
                    .get(m)
                    .cloned()
                    .ok_or_else(|| anyhow!("no new key for {m}")),
                None => keys
                    .get(*id)
                    .cloned()
                    .ok_or_else(|| anyhow!("scenario signer {id} has no key")),
            })
            .collect::<Result<_>>()?;
        let refs: Vec<&KeyPair> = signers.iter().collect();
        let env = sign(&payload, &refs)?;
        let appended = ledger
            .append(&env)
            .with_context(|| format!("scenario step {} ({}) was rejected", i + 1, s.note))?;
        let ty = payload.get("type").and_then(Value::as_str).unwrap_or("?");
        *counts
            .entry(match ty {
                "commitment" => "commitments",
                "amend" => "amendments",
                "progress" => "progress reports",
                "withdraw" => "withdrawals",
                "rotate_key" => "key rotations",
                _ => "other entries",
            })
            .or_default() += 1;
        if ty == "rotate_key" {
            // From now on the member signs with its new key.
            for (id, k) in &new_keys {
                if payload.get("member").and_then(Value::as_str) == Some(id.as_str()) {
                    keyfile::save(&dir.join("keys").join(format!("{id}.rotated.key")), k, None)?;
                    keys.insert(id.clone(), k.clone());
                }
            }
        }
        say(format!(
            "   #{:<3} {:<11} {} ({} signer{})",
            appended.index,
            ty,
            s.note,
            refs.len(),
            if refs.len() == 1 { "" } else { "s" }
        ))?;
    }
    let summary_line = counts
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect::<Vec<_>>()
        .join(", ");
    say(format!("3. appended {summary_line}"))?;

    // A forged joint entry: one party's signature missing.
    let joint_parties: Vec<&str> = scenario::joint_parties()?.into_iter().take(2).collect();
    if joint_parties.len() == 2 {
        let forged = json!({"ledger": ORIGIN, "type": "withdraw", "id": "demo-forged-withdrawal",
            "signed_at": "2026-11-27T00:00:00Z", "target": scenario::JOINT_COMMITMENT, "reason": "forged by one party"});
        let env = sign(&forged, &[&keys[joint_parties[0]]])?;
        match ledger.append(&env) {
            Err(e) => say(format!(
                "4. a withdrawal of the joint mechanism signed by {} alone was refused: {e}",
                joint_parties[0]
            ))?,
            Ok(_) => bail!("the demo's forged withdrawal was accepted; this is a bug"),
        }
    }

    // Checkpoint and cosignatures.
    let cp = ledger.issue_checkpoint(&log_key)?;
    let size = cp.note.checkpoint().size();
    verify(
        &ledger,
        &VerifyOptions {
            charter_hash: None,
            up_to: Some(size),
        },
        &mut |_, _| {},
    )
    .context("the demo ledger does not verify before cosigning")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut cosigned = 0;
    let state_members: Vec<String> = ledger
        .governance()?
        .members()
        .filter(|m| m.is_active() && !m.key_revoked)
        .map(|m| m.member.id.to_string())
        .collect();
    for id in &state_members {
        if let Some(k) = keys.get(id) {
            ledger.add_cosignature(cp.seq, k, now)?;
            cosigned += 1;
        }
    }
    say(format!(
        "5. checkpoint of {size} entries signed by the log and cosigned by {cosigned} members"
    ))?;

    // Verify.
    let pb = output::progress(Some(ledger.size()), "verify");
    let report = verify(
        &ledger,
        &VerifyOptions {
            charter_hash: Some(ledger.charter_hash()),
            up_to: None,
        },
        &mut |d, _| pb.set_position(d),
    )?;
    pb.finish_and_clear();
    say(format!(
        "6. verified from the charter hash alone: {} entries, {} signatures, root {}",
        report.size, report.signatures, report.root
    ))?;

    // Exports.
    let exports = dir.join("exports");
    std::fs::create_dir_all(&exports)?;
    let jsonl = exports.join("ledger.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&jsonl)?);
    ledger.export_jsonl(&mut out, None, &mut |_| {})?;
    std::io::Write::flush(&mut out)?;
    let csv = exports.join("commitments.csv");
    let mut buf = Vec::new();
    let day = time::OffsetDateTime::now_utc().date();
    let rows = ledger.export_csv(
        &mut buf,
        &accord_ledger::query::Filter {
            as_of: Some(day),
            ..Default::default()
        },
        false,
    )?;
    std::fs::write(&csv, buf)?;
    let bundle_path = exports.join("audit-bundle.json");
    let all: Vec<u64> = (0..size).collect();
    let bundle = ledger.export_bundle(&all)?;
    std::fs::write(&bundle_path, bundle.to_json())?;
    let joint = ledger.select(
        &accord_ledger::query::Filter {
            commitment: Some(scenario::JOINT_COMMITMENT.to_owned()),
            ..Default::default()
        },
        false,
    )?;
    let joint_bundle = ledger.export_bundle(&joint)?;
    let joint_path = exports.join("joint-mechanism-bundle.json");
    std::fs::write(&joint_path, joint_bundle.to_json())?;
    let checked = joint_bundle.verify(Some(ledger.log_key()), Some(ledger.charter_hash()))?;
    say(format!(
        "7. exported {} ({} entries), {} ({rows} commitments), {} and {} (verified offline: {} entries, {} cosigners)",
        jsonl.display(), ledger.size(), csv.display(), bundle_path.display(), joint_path.display(), checked.entries, checked.cosigners.len()
    ))?;
    let summary = ledger.summary(day)?;
    if ctx.json {
        return output::json(&json!({
            "dir": dir, "ledger": ledger_dir, "origin": ORIGIN, "entries": ledger.size(),
            "charter_hash": charter_hash, "root": report.root, "checkpoint_size": size, "cosigners": cosigned,
            "exports": {"jsonl": jsonl, "csv": csv, "bundle": bundle_path, "joint_bundle": joint_path},
            "summary": summary,
        }));
    }
    outln!()?;
    outln!(
        "{} commitments from {} countries; try:",
        summary.commitments.commitments,
        summary.by_country.len()
    )?;
    outln!("  accord --ledger {} status", ledger_dir.display())?;
    outln!("  accord --ledger {} summary", ledger_dir.display())?;
    outln!(
        "  accord --ledger {} history {}",
        ledger_dir.display(),
        scenario::JOINT_COMMITMENT
    )?;
    outln!(
        "  accord verify-bundle {} --charter-hash {charter_hash}",
        joint_path.display()
    )?;
    Ok(())
}
