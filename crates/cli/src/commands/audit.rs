//! `accord verify`, `export`, `verify-bundle`.

use crate::output::outln;
use accord_core::bundle::Bundle;
use accord_core::keys::VerifierKey;
use accord_core::model::EntryId;
use accord_ledger::{verify as audit, VerifyOptions};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;

use super::{filter, parse_hash, read_file, write_file, Ctx, Output, MAX_INPUT};
use crate::cli::{ExportArgs, ExportFormat, VerifyArgs, VerifyBundleArgs};
use crate::output;

/// `accord verify`.
pub fn verify(ctx: &Ctx, a: VerifyArgs) -> Result<()> {
    let ledger = ctx.open()?;
    let opts = VerifyOptions {
        charter_hash: a
            .charter_hash
            .as_deref()
            .map(|h| parse_hash("charter-hash", h))
            .transpose()?,
        up_to: None,
    };
    if opts.charter_hash.is_none() {
        eprintln!(
            "warning: no --charter-hash given: this shows the ledger is consistent with its own \
             charter, not that it is the group you trust; pass the charter hash you hold"
        );
    }
    let pb = output::progress(Some(ledger.size()), "verify");
    let report = audit(&ledger, &opts, &mut |done, _| pb.set_position(done));
    pb.finish_and_clear();
    let report = report?;
    if ctx.json {
        let mut v = serde_json::to_value(&report)?;
        v["ok"] = json!(true);
        output::json(&v)
    } else {
        outln!(
            "ok: {} entries, {} signatures, root {}",
            report.size,
            report.signatures,
            report.root
        )?;
        outln!("charter hash {}", report.charter_hash)?;
        match report.latest_checkpoint_size {
            Some(s) => outln!(
                "{} checkpoint(s) verified; the latest (size {s}) is cosigned by {}",
                report.checkpoints,
                if report.latest_cosigners.is_empty() {
                    "nobody yet".into()
                } else {
                    report.latest_cosigners.join(", ")
                }
            )?,
            None => outln!("no checkpoint issued yet")?,
        }
        Ok(())
    }
}

/// `accord export`.
pub fn export(ctx: &Ctx, a: ExportArgs) -> Result<()> {
    if let Some(r) = ctx.remote()? {
        if a.format != ExportFormat::Bundle {
            bail!("with --server only --format bundle is served; export jsonl and csv on the server's machine");
        }
        filter(&a.filter, a.commitment.as_deref())?;
        let q = super::read::filter_query(&a.filter, a.commitment.as_deref());
        let bytes = r.get(&format!("/api/v1/bundle{q}"))?;
        let bundle = accord_core::bundle::Bundle::from_json(&bytes)
            .context("the server's answer is not an audit bundle")?;
        write_file(&a.out, &bytes)?;
        return report_export(ctx, &a, bundle.entries.len() as u64, "entries with proofs");
    }
    let ledger = ctx.open()?;
    let f = filter(&a.filter, a.commitment.as_deref())?;
    if let Some(c) = &a.commitment {
        let id = EntryId::parse(c).map_err(|e| anyhow!("--commitment: {e}"))?;
        match ledger.commitment(&id) {
            Ok(_) => {}
            Err(accord_ledger::LedgerError::NotFound(_)) => {
                bail!("no commitment {id} in the ledger")
            }
            Err(e) => return Err(e.into()),
        }
    }
    let everything = a.commitment.is_none()
        && a.filter.member.is_none()
        && a.filter.country.is_none()
        && a.filter.kind.is_none()
        && a.filter.commodity.is_none()
        && a.filter.status.is_none()
        && a.filter.since.is_none()
        && a.filter.until.is_none();
    let (count, what) = match a.format {
        ExportFormat::Jsonl => {
            let indexes = if everything {
                None
            } else {
                Some(ledger.select(&f, false)?)
            };
            let mut out = Output::create(&a.out)?;
            let pb = output::progress(
                Some(indexes.as_ref().map_or(ledger.size(), |v| v.len() as u64)),
                "export",
            );
            let n = ledger.export_jsonl(&mut out, indexes.as_deref(), &mut |done| {
                pb.set_position(done)
            })?;
            out.finish()?;
            pb.finish_and_clear();
            (n, "entries")
        }
        ExportFormat::Csv => {
            let mut buf = Vec::new();
            let n = ledger.export_csv(&mut buf, &f, a.versions)?;
            write_file(&a.out, &buf)?;
            (
                n,
                if a.versions {
                    "commitment versions"
                } else {
                    "commitments"
                },
            )
        }
        ExportFormat::Bundle => {
            let selected = ledger.select(&f, everything)?;
            let bundle = ledger.export_bundle(&selected)?;
            write_file(&a.out, &bundle.to_json())?;
            (bundle.entries.len() as u64, "entries with proofs")
        }
    };
    report_export(ctx, &a, count, what)
}

fn report_export(ctx: &Ctx, a: &ExportArgs, count: u64, what: &str) -> Result<()> {
    if ctx.json {
        output::json(
            &json!({"file": a.out, "format": format!("{:?}", a.format).to_lowercase(), "count": count}),
        )
    } else {
        if a.out.as_os_str() != "-" {
            eprintln!("wrote {count} {what} to {}", a.out.display());
        }
        Ok(())
    }
}

/// `accord verify-bundle`.
pub fn verify_bundle(ctx: &Ctx, a: VerifyBundleArgs) -> Result<()> {
    let bytes = read_file(&a.file, MAX_INPUT)?;
    // A file that is not a bundle is an input error (exit 2); a bundle that does not verify
    // is a verdict (exit 1), so the parse error is not kept as a `BundleError`.
    let bundle = Bundle::from_json(&bytes).map_err(|e| anyhow!("{}: {e}", a.file.display()))?;
    let log_key = a
        .log_key
        .as_deref()
        .map(|k| VerifierKey::parse(k).map_err(|e| anyhow!("--log-key: {e}")))
        .transpose()?;
    let charter = a
        .charter_hash
        .as_deref()
        .map(|h| parse_hash("charter-hash", h))
        .transpose()?;
    let report = bundle
        .verify(log_key.as_ref(), charter)
        .with_context(|| format!("{} does not verify", a.file.display()))?;
    if ctx.json {
        let mut v = serde_json::to_value(&report)?;
        v["ok"] = json!(true);
        output::json(&v)
    } else {
        outln!(
            "ok: {} entries proven in {} at tree size {} (root {})",
            report.entries,
            report.origin,
            report.tree_size,
            report.root
        )?;
        for (index, line) in proved(&bundle) {
            outln!("  entry {index}: {line}")?;
        }
        outln!(
            "cosigned by {}",
            if report.cosigners.is_empty() {
                "nobody".into()
            } else {
                report.cosigners.join(", ")
            }
        )?;
        if let Some(p) = &report.witness_policy {
            outln!("{}", super::log::describe_policy(p))?;
        }
        if log_key.is_none() && charter.is_none() {
            outln!("note: no --log-key or --charter-hash given, so this shows the bundle is consistent, not whose it is")?;
        }
        Ok(())
    }
}

/// One line per entry of a verified bundle: its type, id and, for a commitment or an
/// amendment, the headline of its terms (`accord_core::figures`).
fn proved(bundle: &Bundle) -> Vec<(u64, String)> {
    use accord_core::model::Body;
    use base64::Engine as _;
    bundle
        .entries
        .iter()
        .filter_map(|e| {
            let leaf = base64::engine::general_purpose::STANDARD
                .decode(&e.leaf)
                .ok()?;
            let entry = accord_core::entry::LoggedEntry::from_leaf(&leaf).ok()?;
            let p = accord_core::model::Payload::from_bytes(&entry.envelope.payload).ok()?;
            let what = match &p.body {
                Body::Commitment(c) => format!(
                    "commitment {}: {} ({})",
                    p.id,
                    c.terms.title,
                    c.terms.measure.headline()
                ),
                Body::Amend(a) => format!(
                    "amend {} of {}: {} ({})",
                    p.id,
                    a.target,
                    a.terms.title,
                    a.terms.measure.headline()
                ),
                other => format!("{} {}", other.type_name(), p.id),
            };
            Some((e.index, what))
        })
        .collect()
}
