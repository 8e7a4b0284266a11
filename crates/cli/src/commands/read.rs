//! `accord list`, `show`, `history`, `status`, `summary`, `members`. Each builds the JSON
//! documents of `accord_server::views` (from the directory, or from `--server`) and prints
//! them, or a table made from them: the same output either way.

use crate::output::outln;
use accord_core::model::EntryId;
use accord_server::views;
use anyhow::{anyhow, bail, Result};
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
    accord_core::figures::short_list(ids, 2)
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
        short_text(&s(v, "title"), 40),
        signers_cell(&strings(&v["signers"])),
        s(v, "logged_at"),
    ]
}

fn object_row(v: &Value) -> Vec<String> {
    vec![
        s(v, "index"),
        s(v, "type"),
        s(v, "id"),
        signers_cell(&accord_server::views::object_signer_ids(v)),
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
        output::table(
            &["INDEX", "TYPE", "ID", "TITLE", "SIGNERS", "LOGGED AT"],
            &rows,
        )
    }
}

/// `accord show`: an entry; for a commitment, the terms of its current version (or of
/// `--version N`) as a person reads them.
pub fn show(ctx: &Ctx, a: ShowArgs) -> Result<()> {
    if a.entry.parse::<u64>().is_err() {
        EntryId::parse(&a.entry)
            .map_err(|e| anyhow!("{:?} is neither an index nor an entry id: {e}", a.entry))?;
    }
    let today = time::OffsetDateTime::now_utc().date();
    // The entry asked for, and for a commitment its view and every entry about it.
    let (mut v, about): (Value, Option<(Value, Vec<Value>)>) = if let Some(r) = ctx.remote()? {
        let v = r.get_json(&format!("/api/v1/entries/{}", enc(&a.entry)))?;
        let about = if s(&v, "type") == "commitment" {
            let c = r.get_json(&format!("/api/v1/commitments/{}", enc(&s(&v, "id"))))?;
            Some((
                c["commitment"].clone(),
                c["history"].as_array().cloned().unwrap_or_default(),
            ))
        } else {
            None
        };
        (v, about)
    } else {
        let ledger = ctx.open()?;
        let e = match a.entry.parse::<u64>() {
            Ok(i) => ledger.entry(i)?,
            Err(_) => ledger.entry_by_id(&EntryId::parse(&a.entry).map_err(|e| anyhow!("{e}"))?)?,
        };
        let about = if matches!(e.payload.body, accord_core::model::Body::Commitment(_)) {
            let view = ledger.commitment(&e.payload.id)?;
            let history = ledger.history(&e.payload.id)?;
            Some((
                views::commitment(&view, today),
                history.iter().map(views::entry_object).collect(),
            ))
        } else {
            None
        };
        (views::entry_object(&e), about)
    };
    let Some((view, history)) = about else {
        if a.version.is_some() {
            bail!(
                "--version: entry {} is a {}, not a commitment",
                a.entry,
                s(&v, "type")
            );
        }
        if ctx.json {
            return output::json(&v);
        }
        output::fields(&[
            ("index", s(&v, "index")),
            ("id", s(&v, "id")),
            ("type", s(&v, "type")),
            ("signed at", s(&v["payload"], "signed_at")),
            ("logged at", s(&v, "logged_at")),
            (
                "signers",
                accord_server::views::object_signer_ids(&v).join(", "),
            ),
            ("leaf hash", s(&v, "leaf_hash")),
        ])?;
        outln!()?;
        for (k, val) in views::readable(&v["payload"], &["ledger", "type", "id", "signed_at"]) {
            outln!("{k}: {val}")?;
        }
        return Ok(());
    };
    let current = view["version"].as_u64().unwrap_or(1);
    let want = a.version.map_or(current, u64::from);
    let versions = view["versions"].as_array().cloned().unwrap_or_default();
    let Some(vr) = versions
        .iter()
        .find(|x| x["version"].as_u64() == Some(want))
    else {
        bail!(
            "--version {want}: {} has versions 1 to {current}",
            s(&view, "id")
        );
    };
    let shown_index = vr["index"].as_u64();
    let shown = history
        .iter()
        .find(|e| e["index"].as_u64() == shown_index)
        .cloned()
        .unwrap_or(Value::Null);
    let terms = shown["payload"]["terms"].clone();
    if ctx.json {
        v["commitment"] = view;
        v["shown_version"] = serde_json::json!({"version": want, "index": shown_index,
            "terms": terms,
            "figure": figure_of(&terms),
            "headline": headline_of(&terms)});
        return output::json(&v);
    }
    let version_line = if want == current {
        if current > 1 {
            format!(
                "{current} (current); amended: v{current} (entry {})",
                s(vr, "index")
            )
        } else {
            "1 (current, never amended)".to_owned()
        }
    } else {
        format!("{want} of {current} (superseded; current: v{current}, `--version {current}`)")
    };
    let parties = strings(&view["parties"]);
    output::fields(&[
        ("commitment", s(&view, "id")),
        ("title", s(&terms, "title")),
        ("kind", s(&view, "kind")),
        ("figure", headline_of(&terms)),
        ("status", s(&view, "status")),
        ("version", version_line),
        ("parties", parties.join(", ")),
        (
            "created",
            format!(
                "entry {}, logged {}",
                s(&view, "created_index"),
                s(&view, "created_logged_at")
            ),
        ),
        (
            "this version",
            format!(
                "entry {}, signed {}, logged {}",
                s(vr, "index"),
                s(vr, "signed_at"),
                s(vr, "logged_at")
            ),
        ),
        (
            "signers",
            accord_server::views::object_signer_ids(&shown).join(", "),
        ),
        ("leaf hash", s(&shown, "leaf_hash")),
    ])?;
    if let Some(t) = view["toward"].as_object() {
        let t = Value::Object(t.clone());
        let share = s(&t, "share_percent");
        outln!(
            "progress      {} {}{}",
            s(&t, "metric"),
            accord_core::figures::group_thousands(&s(&t, "so_far")),
            if share.is_empty() {
                String::new()
            } else {
                format!(" ({share}% of the figure)")
            }
        )?;
    }
    let reason = s(vr, "reason");
    if !reason.is_empty() {
        outln!("reason        {reason}")?;
    }
    let w = s(&view, "withdrawal_reason");
    if !w.is_empty() {
        outln!(
            "withdrawn     entry {}, logged {}: {w}",
            s(&view, "withdrawn_index"),
            s(&view, "withdrawn_logged_at")
        )?;
    }
    outln!()?;
    outln!("terms (version {want}):")?;
    for (k, val) in views::readable(&terms, &["title"]) {
        outln!("  {k}: {val}")?;
    }
    Ok(())
}

/// The figure of terms given as JSON, from `accord_core::figures` (null if none).
fn figure_of(terms: &Value) -> Value {
    serde_json::from_value::<accord_core::model::Terms>(terms.clone())
        .ok()
        .and_then(|t| t.measure.figure())
        .and_then(|f| serde_json::to_value(f).ok())
        .unwrap_or(Value::Null)
}

/// The headline of terms given as JSON.
fn headline_of(terms: &Value) -> String {
    serde_json::from_value::<accord_core::model::Terms>(terms.clone())
        .map(|t| t.measure.headline())
        .unwrap_or_default()
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
    let mut prev: Option<&Value> = None;
    let mut version = 0;
    for e in &entries {
        let p = &e["payload"];
        match s(e, "type").as_str() {
            "commitment" => {
                version = 1;
                outln!("v1 (entry {}): {}", s(e, "index"), headline_of(&p["terms"]))?;
                prev = Some(&p["terms"]);
            }
            "amend" => {
                version += 1;
                outln!(
                    "v{version} (entry {}): {}",
                    s(e, "index"),
                    headline_of(&p["terms"])
                )?;
                outln!("  reason: {}", s(p, "reason"))?;
                if let Some(old) = prev {
                    for c in views::changes(old, &p["terms"]) {
                        outln!("  {c}")?;
                    }
                }
                prev = Some(&p["terms"]);
            }
            "progress" => outln!(
                "progress (entry {}): {} {} {} as of {}",
                s(e, "index"),
                s(p, "metric"),
                accord_core::figures::group_thousands(&s(p, "amount")),
                s(p, "unit"),
                s(p, "as_of")
            )?,
            "withdraw" => outln!("withdrawn (entry {}): {}", s(e, "index"), s(p, "reason"))?,
            _ => {}
        }
    }
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
    outln!("  figure: {}", s(v, "headline"))?;
    for p in v["progress"].as_array().into_iter().flatten() {
        outln!(
            "  progress: {} {} {} ({} reports, latest {})",
            s(p, "metric"),
            accord_core::figures::group_thousands(&s(p, "total")),
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
    let list: Vec<Value> = match a.limit {
        Some(n) => list
            .into_iter()
            .take(n.min(usize::MAX as u64) as usize)
            .collect(),
        None => list,
    };
    if ctx.json {
        return output::json_lines(&list);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|v| {
            vec![
                s(v, "id"),
                short_text(&s(&v["terms"], "title"), 40),
                s(v, "kind"),
                accord_core::figures::short_list(&strings(&v["parties"]), 2),
                s(&v["terms"], "commodity"),
                s(v, "headline"),
                format!("v{}", s(v, "version")),
                s(v, "status"),
            ]
        })
        .collect();
    output::table(
        &[
            "COMMITMENT",
            "TITLE",
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

/// Cuts text to `max` characters, ending with an ellipsis when cut.
fn short_text(t: &str, max: usize) -> String {
    if t.chars().count() <= max {
        t.to_owned()
    } else {
        let mut out: String = t.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
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
    let c = &s_["commitments"];
    outln!(
        "{} entries, {} commitments ({} active, {} amended, {} pending, {} expired, {} withdrawn), as of {}",
        s(&s_, "entries"),
        s(c, "commitments"),
        s(c, "active"),
        s(c, "amended"),
        s(c, "pending"),
        s(c, "expired"),
        s(c, "withdrawn"),
        s(&s_, "as_of")
    )?;
    let money = |m: &Value| -> String {
        let map: std::collections::BTreeMap<String, String> =
            serde_json::from_value(m.clone()).unwrap_or_default();
        accord_core::figures::totals_text(&map)
    };
    outln!(
        "pledged in force, each commitment once: {}",
        money(&s_["pledged"])
    )?;
    outln!()?;
    let lines = |k: &str| -> Vec<(String, Value)> {
        s_[k]
            .as_object()
            .map(|o| o.iter().map(|(a, b)| (a.clone(), b.clone())).collect())
            .unwrap_or_default()
    };
    let counts = |l: &Value| -> Vec<String> {
        [
            "commitments",
            "active",
            "amended",
            "pending",
            "expired",
            "withdrawn",
        ]
        .iter()
        .map(|k| s(l, k))
        .collect()
    };
    let heads = [
        "COMMITMENTS",
        "ACTIVE",
        "AMENDED",
        "PENDING",
        "EXPIRED",
        "WITHDRAWN",
    ];
    let rows: Vec<_> = lines("by_country")
        .iter()
        .map(|(c, l)| {
            let mut r = vec![c.clone()];
            r.extend(counts(l));
            r.push(money(&l["pledged"]));
            r
        })
        .collect();
    let mut h = vec!["COUNTRY"];
    h.extend(heads);
    h.push("PAYS (IN FORCE)");
    output::table(&h, &rows)?;
    let joint = &s_["joint"];
    let jc = strings(&joint["commitments"]);
    if !jc.is_empty() {
        outln!(
            "joint, not split between countries: {} ({})",
            money(&joint["pledged"]),
            accord_core::figures::short_list(&jc, 2)
        )?;
    }
    outln!("(a joint commitment counts on each party's country's row)")?;
    outln!()?;
    let rows: Vec<_> = lines("by_commodity")
        .iter()
        .map(|(c, l)| {
            let mut r = vec![c.clone()];
            r.extend(counts(l));
            r.push(money(&l["pledged"]));
            r.push(strings(&l["price_floors"]).join("; "));
            r
        })
        .collect();
    let mut h = vec!["COMMODITY"];
    h.extend(heads);
    h.push("PLEDGED (IN FORCE)");
    h.push("PRICE FLOORS IN FORCE");
    output::table(&h, &rows)
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
