//! `accord list`, `show`, `history`, `status`, `summary`, `members`.

use crate::output::outln;
use accord_core::lifecycle::CommitmentView;
use accord_core::model::EntryId;
use accord_ledger::export::jsonl_object;
use accord_ledger::StoredEntry;
use anyhow::{anyhow, Result};
use serde_json::json;

use super::{filter, parse_day, Ctx};
use crate::cli::{HistoryArgs, ListArgs, ShowArgs, StatusArgs, SummaryArgs};
use crate::output;

fn signer_ids(e: &StoredEntry) -> Vec<String> {
    e.entry
        .envelope
        .signatures
        .iter()
        .map(|s| s.keyid.split('+').next().unwrap_or("?").to_owned())
        .collect()
}

fn signers(e: &StoredEntry) -> String {
    let ids = signer_ids(e);
    if ids.len() <= 3 {
        ids.join(",")
    } else {
        format!("{} and {} more", ids[0], ids.len() - 1)
    }
}

fn entry_row(e: &StoredEntry) -> Vec<String> {
    vec![
        e.index.to_string(),
        e.payload.body.type_name().to_owned(),
        e.payload.id.to_string(),
        signers(e),
        e.entry.logged_at.to_string(),
    ]
}

/// `accord list`.
pub fn list(ctx: &Ctx, a: ListArgs) -> Result<()> {
    let ledger = ctx.open()?;
    let limit = a.limit.unwrap_or(u64::MAX);
    let mut rows = Vec::new();
    let mut objs = Vec::new();
    for e in ledger
        .entries(a.from)
        .take(limit.min(usize::MAX as u64) as usize)
    {
        let e = e?;
        if ctx.json {
            objs.push(
                json!({"index": e.index, "id": e.payload.id, "type": e.payload.body.type_name(),
                "signers": signer_ids(&e), "logged_at": e.entry.logged_at,
                "leaf_hash": e.leaf_hash.to_base64()}),
            );
        } else {
            rows.push(entry_row(&e));
        }
    }
    if ctx.json {
        output::json_lines(&objs)
    } else {
        output::table(&["INDEX", "TYPE", "ID", "SIGNERS", "LOGGED AT"], &rows)
    }
}

fn find(ctx: &Ctx, which: &str) -> Result<StoredEntry> {
    let ledger = ctx.open()?;
    match which.parse::<u64>() {
        Ok(i) => Ok(ledger.entry(i)?),
        Err(_) => {
            let id = EntryId::parse(which)
                .map_err(|e| anyhow!("{which:?} is neither an index nor an entry id: {e}"))?;
            Ok(ledger.entry_by_id(&id)?)
        }
    }
}

/// `accord show`.
pub fn show(ctx: &Ctx, a: ShowArgs) -> Result<()> {
    let e = find(ctx, &a.entry)?;
    if ctx.json {
        return output::json(&jsonl_object(&e));
    }
    output::fields(&[
        ("index", e.index.to_string()),
        ("id", e.payload.id.to_string()),
        ("type", e.payload.body.type_name().to_owned()),
        ("signed at", e.payload.signed_at.to_string()),
        ("logged at", e.entry.logged_at.to_string()),
        ("signers", signer_ids(&e).join(", ")),
        ("leaf hash", e.leaf_hash.to_base64()),
    ])?;
    let payload = accord_core::json::parse(&e.entry.envelope.payload)?;
    outln!("{}", serde_json::to_string_pretty(&payload)?)?;
    Ok(())
}

/// `accord history`.
pub fn history(ctx: &Ctx, a: HistoryArgs) -> Result<()> {
    let ledger = ctx.open()?;
    let id = EntryId::parse(&a.commitment).map_err(|e| anyhow!("{e}"))?;
    let entries = ledger.history(&id)?;
    if ctx.json {
        let objs: Vec<_> = entries.iter().map(jsonl_object).collect();
        return output::json_lines(&objs);
    }
    let rows: Vec<_> = entries.iter().map(entry_row).collect();
    output::table(&["INDEX", "TYPE", "ID", "SIGNERS", "LOGGED AT"], &rows)?;
    let view = ledger.commitment(&id)?;
    outln!()?;
    print_view(&view, time::OffsetDateTime::now_utc().date())?;
    Ok(())
}

fn print_view(v: &CommitmentView, day: time::Date) -> Result<()> {
    outln!(
        "{} ({}, version {}): {}",
        v.id,
        v.kind,
        v.version,
        v.status_on(day).as_str()
    )?;
    outln!("  {}", v.terms.title)?;
    for p in &v.progress {
        outln!(
            "  progress: {} {} {} ({} reports, latest {})",
            p.metric.as_str(),
            p.total,
            p.unit,
            p.reports,
            p.latest_as_of
        )?;
    }
    if let Some(r) = &v.withdrawal_reason {
        outln!("  withdrawn: {r}")?;
    }
    Ok(())
}

fn headline(v: &CommitmentView) -> String {
    use accord_core::model::Measure;
    match &v.terms.measure {
        Measure::PriceFloor { price, .. } => {
            format!("{} {}/{}", price.amount, price.currency, price.unit)
        }
        Measure::FinancingPledge { amount, .. } => format!("{} {}", amount.amount, amount.currency),
        Measure::Offtake { quantity, .. } => format!("{} {}", quantity.amount, quantity.unit),
        Measure::Stockpile {
            days_of_supply: Some(d),
            ..
        } => format!("{d} days"),
        Measure::Stockpile {
            quantity: Some(q), ..
        } => format!("{} {}", q.amount, q.unit),
        Measure::RecyclingTarget {
            target_percent, by, ..
        } => format!("{target_percent}% by {by}"),
        Measure::TariffMeasure {
            rate_percent: Some(r),
            ..
        }
        | Measure::TaxIncentive {
            rate_percent: Some(r),
            ..
        } => format!("{r}%"),
        Measure::Framework { pledges, .. } => pledges
            .iter()
            .map(|m| format!("{} {}", m.amount, m.currency))
            .collect::<Vec<_>>()
            .join(" + "),
        _ => String::new(),
    }
}

/// `accord status`.
pub fn status(ctx: &Ctx, a: StatusArgs) -> Result<()> {
    let ledger = ctx.open()?;
    let f = filter(&a.filter, None)?;
    let day = f.day();
    let views = ledger.commitments(&f)?;
    if ctx.json {
        let objs: Vec<_> = views
            .iter()
            .map(|v| {
                let mut o = serde_json::to_value(v).unwrap_or_default();
                o["status"] = json!(v.status_on(day).as_str());
                o
            })
            .collect();
        return output::json_lines(&objs);
    }
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|v| {
            vec![
                v.id.to_string(),
                v.kind.to_owned(),
                v.parties
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                v.terms.commodity.to_string(),
                headline(v),
                format!("v{}", v.version),
                v.status_on(day).as_str().to_owned(),
            ]
        })
        .collect();
    output::table(
        &[
            "COMMITMENT",
            "KIND",
            "PARTIES",
            "COMMODITY",
            "FIGURE",
            "VER",
            "STATUS",
        ],
        &rows,
    )
}

/// `accord summary`.
pub fn summary(ctx: &Ctx, a: SummaryArgs) -> Result<()> {
    let mut ledger = ctx.open()?;
    let day = match &a.as_of {
        Some(s) => parse_day("as-of", s)?,
        None => time::OffsetDateTime::now_utc().date(),
    };
    let s = ledger.summary(day)?;
    if ctx.json {
        return output::json(&s);
    }
    outln!(
        "{} entries, {} commitments, as of {}",
        s.entries,
        s.commitments,
        s.as_of
    )?;
    outln!()?;
    let fmt_money = |m: &std::collections::BTreeMap<String, String>| {
        m.iter()
            .map(|(c, a)| format!("{a} {c}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let rows: Vec<_> = s
        .by_country
        .iter()
        .map(|(c, l)| {
            vec![
                c.clone(),
                l.commitments.to_string(),
                l.in_force.to_string(),
                l.withdrawn.to_string(),
                fmt_money(&l.pledged),
            ]
        })
        .collect();
    output::table(
        &[
            "COUNTRY",
            "COMMITMENTS",
            "IN FORCE",
            "WITHDRAWN",
            "PLEDGED (IN FORCE)",
        ],
        &rows,
    )?;
    outln!()?;
    let rows: Vec<_> = s
        .by_commodity
        .iter()
        .map(|(c, l)| {
            vec![
                c.clone(),
                l.commitments.to_string(),
                l.in_force.to_string(),
                l.price_floors.join("; "),
            ]
        })
        .collect();
    output::table(
        &[
            "COMMODITY",
            "COMMITMENTS",
            "IN FORCE",
            "PRICE FLOORS IN FORCE",
        ],
        &rows,
    )
}

/// `accord members`.
pub fn members(ctx: &Ctx) -> Result<()> {
    let mut ledger = ctx.open()?;
    let state = ledger.governance()?;
    let list: Vec<_> = state
        .members()
        .map(|m| {
            json!({"id": m.member.id, "country": m.member.country, "institution": m.member.institution,
                "role": m.member.role.as_str(), "key": m.member.key.to_string(), "admitted_at": m.admitted_at,
                "removed_at": m.removed_at, "key_revoked": m.key_revoked})
        })
        .collect();
    if ctx.json {
        return output::json_lines(&list);
    }
    let rows: Vec<_> = state
        .members()
        .map(|m| {
            let status = if !m.is_active() {
                "removed"
            } else if m.key_revoked {
                "key revoked"
            } else {
                "active"
            };
            vec![
                m.member.id.to_string(),
                m.member.country.to_string(),
                m.member.role.as_str().to_owned(),
                status.to_owned(),
                m.member.key.keyid(),
                m.member.institution.to_string(),
            ]
        })
        .collect();
    output::table(
        &["MEMBER", "COUNTRY", "ROLE", "STATUS", "KEY", "INSTITUTION"],
        &rows,
    )
}
