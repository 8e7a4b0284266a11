//! `accord list`, `show`, `history`, `status`, `summary`, `members`. Each builds the JSON
//! documents of `accord_server::views` (from the directory, or from `--server`) and prints
//! them, or a table made from them: the same output either way.

use crate::output::outln;
use accord_core::model::EntryId;
use accord_server::views;
use anyhow::{anyhow, Result};
use serde_json::Value;

use super::{filter, parse_day, Ctx};
use crate::cli::{FilterArgs, HistoryArgs, ListArgs, ShowArgs, StatusArgs, SummaryArgs};
use crate::client::{enc, query};
use crate::output;

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn signers_cell(ids: &[String]) -> String {
    if ids.len() <= 3 {
        ids.join(",")
    } else {
        format!("{} and {} more", ids[0], ids.len() - 1)
    }
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

/// A table row from a list line (`views::entry_line`).
fn line_row(v: &Value) -> Vec<String> {
    vec![
        s(v, "index"),
        s(v, "type"),
        s(v, "id"),
        signers_cell(&strings(&v["signers"])),
        s(v, "logged_at"),
    ]
}

/// The signers of a full entry object (`views::entry_object`).
fn object_signers(v: &Value) -> Vec<String> {
    v["envelope"]["signatures"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|sig| {
                    sig["keyid"]
                        .as_str()
                        .and_then(|k| k.split('+').next())
                        .unwrap_or("?")
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn object_row(v: &Value) -> Vec<String> {
    vec![
        s(v, "index"),
        s(v, "type"),
        s(v, "id"),
        signers_cell(&object_signers(v)),
        s(v, "logged_at"),
    ]
}

/// `accord list`.
pub fn list(ctx: &Ctx, a: ListArgs) -> Result<()> {
    let limit = a.limit.unwrap_or(u64::MAX);
    let mut lines = Vec::new();
    if let Some(r) = ctx.remote()? {
        let mut from = a.from;
        while (lines.len() as u64) < limit {
            let want = (limit - lines.len() as u64).min(accord_server::http::PAGE);
            let page = r.get_json(&format!("/api/v1/entries?from={from}&limit={want}"))?;
            let page = page.as_array().cloned().unwrap_or_default();
            let n = page.len() as u64;
            lines.extend(page);
            if n < want {
                break;
            }
            from += n;
        }
    } else {
        let ledger = ctx.open()?;
        for e in ledger
            .entries(a.from)
            .take(limit.min(usize::MAX as u64) as usize)
        {
            lines.push(views::entry_line(&e?));
        }
    }
    if ctx.json {
        output::json_lines(&lines)
    } else {
        let rows: Vec<_> = lines.iter().map(line_row).collect();
        output::table(&["INDEX", "TYPE", "ID", "SIGNERS", "LOGGED AT"], &rows)
    }
}

/// `accord show`.
pub fn show(ctx: &Ctx, a: ShowArgs) -> Result<()> {
    let v = if let Some(r) = ctx.remote()? {
        if a.entry.parse::<u64>().is_err() {
            EntryId::parse(&a.entry)
                .map_err(|e| anyhow!("{:?} is neither an index nor an entry id: {e}", a.entry))?;
        }
        r.get_json(&format!("/api/v1/entries/{}", enc(&a.entry)))?
    } else {
        let ledger = ctx.open()?;
        let e = match a.entry.parse::<u64>() {
            Ok(i) => ledger.entry(i)?,
            Err(_) => {
                let id = EntryId::parse(&a.entry).map_err(|e| {
                    anyhow!("{:?} is neither an index nor an entry id: {e}", a.entry)
                })?;
                ledger.entry_by_id(&id)?
            }
        };
        views::entry_object(&e)
    };
    if ctx.json {
        return output::json(&v);
    }
    output::fields(&[
        ("index", s(&v, "index")),
        ("id", s(&v, "id")),
        ("type", s(&v, "type")),
        ("signed at", s(&v["payload"], "signed_at")),
        ("logged at", s(&v, "logged_at")),
        ("signers", object_signers(&v).join(", ")),
        ("leaf hash", s(&v, "leaf_hash")),
    ])?;
    outln!("{}", serde_json::to_string_pretty(&v["payload"])?)?;
    Ok(())
}

/// `accord history`.
pub fn history(ctx: &Ctx, a: HistoryArgs) -> Result<()> {
    let id = EntryId::parse(&a.commitment).map_err(|e| anyhow!("{e}"))?;
    let today = time::OffsetDateTime::now_utc().date();
    let (entries, view) = if let Some(r) = ctx.remote()? {
        let v = r.get_json(&format!("/api/v1/commitments/{}", enc(id.as_str())))?;
        (
            v["history"].as_array().cloned().unwrap_or_default(),
            v["commitment"].clone(),
        )
    } else {
        let ledger = ctx.open()?;
        let entries = ledger.history(&id)?;
        let view = ledger.commitment(&id)?;
        (
            entries.iter().map(views::entry_object).collect(),
            views::commitment(&view, today),
        )
    };
    if ctx.json {
        return output::json_lines(&entries);
    }
    let rows: Vec<_> = entries.iter().map(object_row).collect();
    output::table(&["INDEX", "TYPE", "ID", "SIGNERS", "LOGGED AT"], &rows)?;
    outln!()?;
    print_view(&view)?;
    Ok(())
}

fn print_view(v: &Value) -> Result<()> {
    outln!(
        "{} ({}, version {}): {}",
        s(v, "id"),
        s(v, "kind"),
        s(v, "version"),
        s(v, "status")
    )?;
    outln!("  {}", s(&v["terms"], "title"))?;
    for p in v["progress"].as_array().into_iter().flatten() {
        outln!(
            "  progress: {} {} {} ({} reports, latest {})",
            s(p, "metric"),
            s(p, "total"),
            s(p, "unit"),
            s(p, "reports"),
            s(p, "latest_as_of")
        )?;
    }
    let reason = s(v, "withdrawal_reason");
    if !reason.is_empty() {
        outln!("  withdrawn: {reason}")?;
    }
    Ok(())
}

fn headline(v: &Value) -> String {
    let m = &v["terms"]["measure"];
    let money = |x: &Value| format!("{} {}", s(x, "amount"), s(x, "currency"));
    let qty = |x: &Value| format!("{} {}", s(x, "amount"), s(x, "unit"));
    let set = |k: &str| m.get(k).is_some_and(|x| !x.is_null());
    match m["kind"].as_str().unwrap_or_default() {
        "price_floor" => {
            let p = &m["price"];
            format!("{} {}/{}", s(p, "amount"), s(p, "currency"), s(p, "unit"))
        }
        "financing_pledge" => money(&m["amount"]),
        "offtake" => qty(&m["quantity"]),
        "stockpile" if set("days_of_supply") => format!("{} days", s(m, "days_of_supply")),
        "stockpile" if set("quantity") => qty(&m["quantity"]),
        "recycling_target" => format!("{}% by {}", s(m, "target_percent"), s(m, "by")),
        "tariff_measure" | "tax_incentive" if set("rate_percent") => {
            format!("{}%", s(m, "rate_percent"))
        }
        "framework" => m["pledges"]
            .as_array()
            .into_iter()
            .flatten()
            .map(money)
            .collect::<Vec<_>>()
            .join(" + "),
        _ => String::new(),
    }
}

/// The filter flags as the server's query parameters.
pub fn filter_query(f: &FilterArgs, commitment: Option<&str>) -> String {
    query(&[
        ("member", f.member.clone()),
        ("country", f.country.clone()),
        ("kind", f.kind.clone()),
        ("commodity", f.commodity.clone()),
        ("status", f.status.clone()),
        ("since", f.since.clone()),
        ("until", f.until.clone()),
        ("as_of", f.as_of.clone()),
        ("commitment", commitment.map(str::to_owned)),
    ])
}

/// `accord status`.
pub fn status(ctx: &Ctx, a: StatusArgs) -> Result<()> {
    let f = filter(&a.filter, None)?;
    let list = if let Some(r) = ctx.remote()? {
        let v = r.get_json(&format!(
            "/api/v1/commitments{}",
            filter_query(&a.filter, None)
        ))?;
        v.as_array().cloned().unwrap_or_default()
    } else {
        let ledger = ctx.open()?;
        let day = f.day();
        ledger
            .commitments(&f)?
            .iter()
            .map(|v| views::commitment(v, day))
            .collect()
    };
    if ctx.json {
        return output::json_lines(&list);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|v| {
            vec![
                s(v, "id"),
                s(v, "kind"),
                strings(&v["parties"]).join(","),
                s(&v["terms"], "commodity"),
                headline(v),
                format!("v{}", s(v, "version")),
                s(v, "status"),
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
    let day = match &a.as_of {
        Some(s) => parse_day("as-of", s)?,
        None => time::OffsetDateTime::now_utc().date(),
    };
    let s_ = if let Some(r) = ctx.remote()? {
        r.get_json(&format!(
            "/api/v1/summary{}",
            query(&[("as_of", a.as_of.clone())])
        ))?
    } else {
        let mut ledger = ctx.open()?;
        serde_json::to_value(ledger.summary(day)?)?
    };
    if ctx.json {
        return output::json(&s_);
    }
    outln!(
        "{} entries, {} commitments, as of {}",
        s(&s_, "entries"),
        s(&s_, "commitments"),
        s(&s_, "as_of")
    )?;
    outln!()?;
    let fmt_money = |m: &Value| {
        m.as_object()
            .map(|o| {
                o.iter()
                    .map(|(c, a)| format!("{} {c}", a.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    };
    let lines = |k: &str| -> Vec<(String, Value)> {
        s_[k]
            .as_object()
            .map(|o| o.iter().map(|(a, b)| (a.clone(), b.clone())).collect())
            .unwrap_or_default()
    };
    let rows: Vec<_> = lines("by_country")
        .iter()
        .map(|(c, l)| {
            vec![
                c.clone(),
                s(l, "commitments"),
                s(l, "in_force"),
                s(l, "withdrawn"),
                fmt_money(&l["pledged"]),
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
    let rows: Vec<_> = lines("by_commodity")
        .iter()
        .map(|(c, l)| {
            vec![
                c.clone(),
                s(l, "commitments"),
                s(l, "in_force"),
                strings(&l["price_floors"]).join("; "),
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
    let list = if let Some(r) = ctx.remote()? {
        r.get_json("/api/v1/members")?
            .as_array()
            .cloned()
            .unwrap_or_default()
    } else {
        let mut ledger = ctx.open()?;
        views::members(ledger.governance()?)
    };
    if ctx.json {
        return output::json_lines(&list);
    }
    let rows: Vec<_> = list
        .iter()
        .map(|m| {
            let status = if !m["removed_at"].is_null() {
                "removed"
            } else if m["key_revoked"].as_bool() == Some(true) {
                "key revoked"
            } else {
                "active"
            };
            let keyid = accord_core::keys::VerifierKey::parse(&s(m, "key"))
                .map(|k| k.keyid())
                .unwrap_or_else(|_| s(m, "key"));
            vec![
                s(m, "id"),
                s(m, "country"),
                s(m, "role"),
                status.to_owned(),
                keyid,
                s(m, "institution"),
            ]
        })
        .collect();
    output::table(
        &["MEMBER", "COUNTRY", "ROLE", "STATUS", "KEY", "INSTITUTION"],
        &rows,
    )
}
