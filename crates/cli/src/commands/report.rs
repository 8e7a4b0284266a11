//! `accord report`: the pages of `accord serve` as one self-contained HTML file, from a
//! ledger directory or from an `accord serve` (`--server`): the same JSON documents either
//! way ([`accord_server::views`]), rendered by [`accord_server::pages::report`].

use std::path::Path;

use accord_server::pages::{self, CommitmentPage, Site};
use anyhow::{anyhow, Context, Result};
use serde_json::Value;

use super::{parse_day, Ctx};
use crate::cli::ReportArgs;
use crate::client::{enc, query, Remote};
use crate::output::outln;

fn array(v: Value, what: &str) -> Result<Vec<Value>> {
    match v {
        Value::Array(a) => Ok(a),
        _ => Err(anyhow!("the server's {what} is not a JSON array")),
    }
}

/// The site and every commitment's page, fetched from `/api/v1/`.
fn fetch(r: &Remote, as_of: Option<&str>) -> Result<(Site, Vec<CommitmentPage>)> {
    let q = query(&[("as_of", as_of.map(str::to_owned))]);
    let site = Site {
        charter: r.get_json("/api/v1/entries/0")?,
        summary: r.get_json(&format!("/api/v1/summary{q}"))?,
        commitments: array(
            r.get_json(&format!("/api/v1/commitments{q}"))?,
            "commitment list",
        )?,
        members: array(r.get_json("/api/v1/members")?, "member list")?,
        governance: array(r.get_json("/api/v1/governance")?, "governance list")?,
        checkpoint: Some(r.get_json("/api/v1/checkpoint")?),
    };
    let size = site.checkpoint_size();
    let mut out = Vec::with_capacity(site.commitments.len());
    for view in &site.commitments {
        let id = view["id"].as_str().unwrap_or_default();
        let c = r.get_json(&format!("/api/v1/commitments/{}{q}", enc(id)))?;
        let history = array(c["history"].clone(), "commitment history")?;
        let proof = match pages::current_index(view) {
            Some(i) if i < size => {
                Some(r.get_json(&format!("/api/v1/proof/inclusion?index={i}&size={size}"))?)
            }
            _ => None,
        };
        out.push(CommitmentPage {
            view: view.clone(),
            history,
            proof,
        });
    }
    Ok((site, out))
}

/// `accord report --out FILE [--as-of DATE]`.
pub fn report(ctx: &Ctx, a: ReportArgs) -> Result<()> {
    let day = match &a.as_of {
        Some(s) => parse_day("as-of", s)?,
        None => time::OffsetDateTime::now_utc().date(),
    };
    let (site, commitment_pages) = if let Some(r) = ctx.remote()? {
        // The server decides "today" when no date is given; pass ours so both agree.
        let on = a.as_of.clone().unwrap_or_else(|| day.to_string());
        fetch(&r, Some(&on))?
    } else {
        let mut ledger = ctx.open()?;
        let site = Site::from_ledger(&mut ledger, day)?;
        let size = site.checkpoint_size();
        let mut out = Vec::with_capacity(site.commitments.len());
        for view in &site.commitments {
            out.push(CommitmentPage::from_ledger(&ledger, view.clone(), size)?);
        }
        (site, out)
    };
    let html = pages::report(&site, &commitment_pages);
    write(&a.out, html.as_bytes())?;
    if ctx.json {
        return crate::output::json(&serde_json::json!({
            "out": a.out.display().to_string(),
            "bytes": html.len(),
            "commitments": commitment_pages.len(),
            "as_of": day.to_string(),
        }));
    }
    outln!(
        "wrote {} ({} bytes): {} commitments, statuses as of {day}",
        a.out.display(),
        html.len(),
        commitment_pages.len()
    )?;
    Ok(())
}

/// Writes the file whole: to a temporary file beside it, then renamed over it, so a
/// reader never sees half a report.
fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("--out {}: not a file name", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
