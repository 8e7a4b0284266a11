//! The pages officials read: an overview with charts, the commitments with filters, one
//! page per commitment (current terms, what each amendment changed, who signed, its
//! inclusion proof and checkpoint), the members and their keys, and the trust panel.
//!
//! The pages are made from the JSON documents of [`crate::views`] and nothing else, so
//! `accord serve` (which reads its ledger) and `accord report` (which reads a directory or
//! fetches `/api/v1/`) show the same bytes for the same data, and every figure on a page is
//! the figure the API and `accord --json` give. HTML is written with `maud`, which escapes
//! every interpolated string; charts are inline SVG drawn here. The pages need no
//! JavaScript and load nothing from elsewhere: one stylesheet inline, no fonts, no images.
//! The report alone carries a few lines of script that apply the table filters in place,
//! since a file has no server to filter for it.

use std::collections::{BTreeMap, BTreeSet};

use accord_core::figures::{group_thousands, short_list, totals_text};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::views;

/// Where the pages will be read, which decides how they link to each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Served by `accord serve`: one page per route (`/`, `/commitments`, ...).
    Served,
    /// One self-contained file (`accord report`): sections linked by anchors.
    Report,
}

/// Everything the pages show, as the JSON documents of [`crate::views`].
#[derive(Clone, Debug, Default)]
pub struct Site {
    /// Entry 0, the charter, as an entry object ([`views::entry_object`]).
    pub charter: Value,
    /// `accord summary --json` on [`Site::as_of`].
    pub summary: Value,
    /// Every commitment's view with its status ([`views::commitment`]), in log order.
    pub commitments: Vec<Value>,
    /// The members ([`views::members`]).
    pub members: Vec<Value>,
    /// The governance entries after the charter (admissions, removals, rotations,
    /// revocations), as entry objects, in log order.
    pub governance: Vec<Value>,
    /// The latest checkpoint ([`views::checkpoint`]), if one was signed.
    pub checkpoint: Option<Value>,
}

/// What a commitment's page shows besides its view.
#[derive(Clone, Debug)]
pub struct CommitmentPage {
    /// The view with its status ([`views::commitment`]).
    pub view: Value,
    /// Every entry about it, as entry objects, in order.
    pub history: Vec<Value>,
    /// The inclusion proof ([`views::inclusion`]) of the entry with its current terms in
    /// the latest checkpoint's tree, when that checkpoint covers it.
    pub proof: Option<Value>,
}

/// Which commitments the table shows (the filters of `accord status`).
#[derive(Clone, Debug, Default)]
pub struct TableFilter {
    /// A party's country.
    pub country: Option<String>,
    /// The measure's kind.
    pub kind: Option<String>,
    /// The commodity.
    pub commodity: Option<String>,
    /// The status.
    pub status: Option<String>,
}

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
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

fn money_map(v: &Value) -> BTreeMap<String, String> {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

/// The statuses, in the order the pages list them, with the words they show.
pub const STATUSES: [(&str, &str); 5] = [
    ("active", "In force, as signed"),
    ("amended", "In force, amended"),
    ("pending", "Pending"),
    ("expired", "Expired"),
    ("withdrawn", "Withdrawn"),
];

fn status_words(st: &str) -> &str {
    STATUSES
        .iter()
        .find(|(k, _)| *k == st)
        .map_or(st, |(_, w)| w)
}

fn kind_words(k: &str) -> String {
    k.replace('_', " ")
}

/// The link and the anchor of each page or section.
struct Links(Mode);

impl Links {
    fn overview(&self) -> String {
        match self.0 {
            Mode::Served => "/".into(),
            Mode::Report => "#overview".into(),
        }
    }
    fn commitments(&self) -> String {
        match self.0 {
            Mode::Served => "/commitments".into(),
            Mode::Report => "#commitments".into(),
        }
    }
    fn commitment(&self, id: &str) -> String {
        match self.0 {
            Mode::Served => format!("/commitments/{}", path_segment(id)),
            Mode::Report => format!("#{}", anchor(id)),
        }
    }
    fn members(&self) -> String {
        match self.0 {
            Mode::Served => "/members".into(),
            Mode::Report => "#members".into(),
        }
    }
    fn trust(&self) -> String {
        match self.0 {
            Mode::Served => "/trust".into(),
            Mode::Report => "#trust".into(),
        }
    }
}

/// The anchor of a commitment's section in the report: `c-` and its id, with every byte
/// that is not a letter, digit, `-` or `_` written as `.XX`.
pub fn anchor(id: &str) -> String {
    let mut out = String::from("c-");
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!(".{b:02X}"));
        }
    }
    out
}

/// An id percent-encoded for one URL path segment (ids may contain `/` and `.`).
pub fn path_segment(id: &str) -> String {
    let mut out = String::new();
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The group's name, origin and charter hash, from entry 0.
struct Head {
    name: String,
    origin: String,
    charter_hash: String,
    as_of: String,
}

impl Head {
    fn of(site: &Site) -> Self {
        let p = &site.charter["payload"];
        let charter_hash = site.charter["envelope"]["payload"]
            .as_str()
            .and_then(|b| {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.decode(b).ok()
            })
            .map(|bytes| hex::encode(Sha256::digest(bytes)))
            .unwrap_or_default();
        Self {
            name: s(p, "name"),
            origin: s(p, "ledger"),
            charter_hash,
            as_of: s(&site.summary, "as_of"),
        }
    }
}

/// Member id -> (institution, country), from the members' view.
fn directory(members: &[Value]) -> BTreeMap<String, (String, String)> {
    members
        .iter()
        .map(|m| (s(m, "id"), (s(m, "institution"), s(m, "country"))))
        .collect()
}

fn countries_of(parties: &[String], dir: &BTreeMap<String, (String, String)>) -> Vec<String> {
    let set: BTreeSet<String> = parties
        .iter()
        .filter_map(|p| dir.get(p).map(|(_, c)| c.clone()))
        .collect();
    set.into_iter().collect()
}

const CSS: &str = r#"
:root{color-scheme:light}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1a1a1a;background:#fff}
a{color:#0b4f9c}
a:focus,button:focus,select:focus,input:focus{outline:3px solid #b35c00;outline-offset:2px}
.skip{position:absolute;left:-999px}
.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem;z-index:9}
header.site{background:#12304f;color:#fff;padding:.75rem 1.5rem}
header.site a{color:#fff}
header.site p{margin:0;font-weight:600}
nav ul{list-style:none;margin:.5rem 0 0;padding:0;display:flex;flex-wrap:wrap;gap:1.25rem}
main{max-width:78rem;margin:0 auto;padding:1rem 1.5rem 3rem}
section{margin:2.5rem 0}
h1{font-size:1.75rem;margin:1rem 0 .25rem}
h2{font-size:1.35rem;border-bottom:2px solid #12304f;padding-bottom:.2rem;margin-top:2rem}
h3{font-size:1.1rem}
.lede{color:#333;margin-top:0}
table{border-collapse:collapse;width:100%;margin:.75rem 0 1.5rem;font-size:.95rem}
caption{text-align:left;font-weight:600;padding:.25rem 0;caption-side:top}
th,td{border:1px solid #8a8a8a;padding:.35rem .5rem;vertical-align:top;text-align:left}
thead th{background:#e8edf3}
tbody th{font-weight:600;background:#f6f8fa}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.cards{display:flex;flex-wrap:wrap;gap:1rem;padding:0;list-style:none}
.cards li{border:1px solid #8a8a8a;border-radius:4px;padding:.5rem .9rem;min-width:9rem}
.cards .n{display:block;font-size:1.6rem;font-weight:700}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(22rem,1fr));gap:1.5rem}
figure{margin:0}
figcaption{font-weight:600;margin-bottom:.25rem}
svg{max-width:100%;height:auto}
svg text{font:12px system-ui,sans-serif;fill:#1a1a1a}
td.money{text-align:right}
dl.terms{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
dl.terms dt{font-weight:600}
dl.terms dd{margin:0}
code,pre,.hash{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:.85rem;word-break:break-all}
pre{background:#f6f8fa;border:1px solid #8a8a8a;padding:.75rem;white-space:pre-wrap}
form.filters{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-end;margin:.5rem 0}
form.filters label{display:flex;flex-direction:column;font-weight:600;font-size:.9rem}
select,button{font:inherit;padding:.25rem .4rem}
button{background:#12304f;color:#fff;border:0;border-radius:3px;padding:.35rem .9rem}
.status-withdrawn,.status-expired{color:#6b1d1d}
.status-pending{color:#5a4500}
.ok{color:#0f5c2e;font-weight:600}
.warn{color:#6b1d1d;font-weight:600}
footer{border-top:1px solid #8a8a8a;color:#333;font-size:.85rem;padding:1rem 1.5rem}
@media print{
 header.site nav,form.filters,.skip{display:none}
 header.site{background:none;color:#000;padding:0}
 header.site a{color:#000}
 body{font-size:11pt}
 main{max-width:none;padding:0}
 a{color:#000;text-decoration:none}
 section{break-inside:auto;margin:1.25rem 0}
 tr,figure,dl{break-inside:avoid}
 h2,h3{break-after:avoid}
 thead{display:table-header-group}
 section.commitment{break-before:page}
}
"#;

/// The report's table filter: hides the rows that do not match the form, in place.
const FILTER_SCRIPT: &str = r#"
(function(){var f=document.getElementById('filters');if(!f)return;
var t=document.getElementById('commitments-table');var keys=['country','kind','commodity','status'];
function apply(){var n=0;var rows=t.tBodies[0].rows;for(var i=0;i<rows.length;i++){var r=rows[i];var ok=true;
keys.forEach(function(k){var v=f.elements[k].value;if(v&&(' '+r.getAttribute('data-'+k)+' ').indexOf(' '+v+' ')<0)ok=false;});
r.hidden=!ok;if(ok)n++;}document.getElementById('shown').textContent=n;}
f.addEventListener('submit',function(e){e.preventDefault();apply();});
f.addEventListener('change',apply);apply();})();
"#;

fn layout(head: &Head, links: &Links, title: &str, body: Markup, script: bool) -> String {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (head.name) }
                // No request for a favicon: the pages load nothing.
                link rel="icon" href="data:,";
                style { (PreEscaped(CSS)) }
            }
            body {
                a.skip href="#main" { "Skip to the content" }
                header.site {
                    p { (head.name) }
                    nav aria-label="Pages" {
                        ul {
                            li { a href=(links.overview()) { "Overview" } }
                            li { a href=(links.commitments()) { "Commitments" } }
                            li { a href=(links.members()) { "Members and keys" } }
                            li { a href=(links.trust()) { "Trust" } }
                        }
                    }
                }
                main #main { (body) }
                footer {
                    "Ledger " code { (head.origin) } ". Statuses as of " (head.as_of)
                    ". Charter hash " code.hash { (head.charter_hash) } "."
                }
                @if script { script { (PreEscaped(FILTER_SCRIPT)) } }
            }
        }
    };
    page.into_string()
}

// ---- charts: inline SVG -----------------------------------------------------------------

/// A horizontal bar chart of counts, with its numbers written beside the bars.
fn bar_chart(id: &str, caption: &str, rows: &[(String, u64)]) -> Markup {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let label_w = 170u64;
    let bar_w = 260u64;
    let row_h = 22u64;
    let h = row_h * rows.len() as u64 + 8;
    let w = label_w + bar_w + 50;
    html! {
        figure {
            figcaption #(id) { (caption) }
            svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby=(id)
                width=(w) height=(h) viewBox=(format!("0 0 {w} {h}")) {
                @for (i, (label, n)) in rows.iter().enumerate() {
                    @let y = 4 + row_h * i as u64;
                    @let len = (bar_w * n / max).max(u64::from(*n > 0));
                    text x=(label_w - 6) y=(y + 15) text-anchor="end" { (label) }
                    rect x=(label_w) y=(y + 3) width=(len) height=(row_h - 6) fill="#2b5d8c" {}
                    text x=(label_w + len + 4) y=(y + 15) { (n) }
                }
            }
        }
    }
}

/// Pledged against disbursed, one pair of bars per currency; each currency on its own
/// scale, since currencies are never added or compared.
fn money_chart(id: &str, rows: &[(String, String, String, String)]) -> Markup {
    let bar_w = 300f64;
    let row_h = 52u64;
    let h = row_h * rows.len() as u64 + 8;
    let w = 60 + bar_w as u64 + 200;
    html! {
        figure {
            figcaption #(id) { "Pledged and disbursed so far, per currency (each currency on its own scale)" }
            svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby=(id)
                width=(w) height=(h) viewBox=(format!("0 0 {w} {h}")) {
                @for (i, (cur, pledged, disbursed, _)) in rows.iter().enumerate() {
                    @let y = 4 + row_h * i as u64;
                    @let p: f64 = pledged.parse().unwrap_or(0.0);
                    @let d: f64 = disbursed.parse().unwrap_or(0.0);
                    @let dl = if p > 0.0 { (bar_w * (d / p)).clamp(0.0, bar_w) } else { 0.0 };
                    text x="0" y=(y + 14) font-weight="600" { (cur) }
                    rect x="60" y=(y + 2) width=(bar_w) height="16" fill="#9db7d1" {}
                    text x="64" y=(y + 14) { "pledged " (group_thousands(pledged)) }
                    rect x="60" y=(y + 22) width=(format!("{dl:.1}")) height="16" fill="#1f6b3a" {}
                    text x=(format!("{:.1}", 64.0 + dl)) y=(y + 34) { "disbursed " (group_thousands(disbursed)) }
                }
            }
        }
    }
}

/// Commitments made and amendments signed, per month (by the date their signers signed).
fn timeline_chart(id: &str, months: &BTreeMap<String, (u64, u64)>) -> Markup {
    let col = 28u64;
    let plot_h = 140u64;
    let max = months
        .values()
        .map(|(c, a)| c + a)
        .max()
        .unwrap_or(0)
        .max(1);
    let w = 40 + col * months.len() as u64 + 10;
    let h = plot_h + 70;
    html! {
        figure {
            figcaption #(id) { "Commitments (dark) and amendments (light) signed per month" }
            svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby=(id)
                width=(w) height=(h) viewBox=(format!("0 0 {w} {h}")) {
                line x1="38" y1=(plot_h + 10) x2=(w - 5) y2=(plot_h + 10) stroke="#1a1a1a" {}
                text x="34" y="18" text-anchor="end" { (max) }
                text x="34" y=(plot_h + 10) text-anchor="end" { "0" }
                @for (i, (month, (c, a))) in months.iter().enumerate() {
                    @let x = 40 + col * i as u64;
                    @let ch = plot_h * c / max;
                    @let ah = plot_h * a / max;
                    rect x=(x + 3) y=(plot_h + 10 - ch) width=(col - 6) height=(ch) fill="#12304f" {}
                    rect x=(x + 3) y=(plot_h + 10 - ch - ah) width=(col - 6) height=(ah) fill="#8fb3d9" {}
                    text x=(x + col / 2) y=(plot_h + 24) text-anchor="end"
                        transform=(format!("rotate(-60 {} {})", x + col / 2, plot_h + 24)) { (month) }
                }
            }
        }
    }
}

// ---- the pages -----------------------------------------------------------------------------

fn counts_cells(line: &Value) -> Markup {
    html! {
        td.num { (s(line, "commitments")) }
        @for (k, _) in STATUSES { td.num { (s(line, k)) } }
    }
}

fn counts_head(first: &str) -> Markup {
    html! {
        th scope="col" { (first) }
        th.num scope="col" { "All" }
        @for (_, w) in STATUSES { th.num scope="col" { (w) } }
    }
}

/// Money disbursed so far and its share of the pledged total, per currency, from the
/// summary.
fn money_rows(summary: &Value) -> Vec<(String, String, String, String)> {
    let pledged = money_map(&summary["pledged"]);
    let disbursed = money_map(&summary["disbursed"]);
    pledged
        .iter()
        .map(|(c, p)| {
            let d = disbursed.get(c).cloned().unwrap_or_else(|| "0".into());
            let share = match (
                rust_decimal::Decimal::from_str_exact(p),
                rust_decimal::Decimal::from_str_exact(&d),
            ) {
                (Ok(p), Ok(d)) if !p.is_zero() => d
                    .checked_mul(rust_decimal::Decimal::ONE_HUNDRED)
                    .and_then(|x| x.checked_div(p))
                    .map(|x| format!("{}%", x.round_dp(1).normalize()))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            (c.clone(), p.clone(), d, share)
        })
        .collect()
}

fn overview_body(site: &Site, links: &Links, head: &Head) -> Markup {
    let sm = &site.summary;
    let c = &sm["commitments"];
    let money = money_rows(sm);
    let by = |k: &str| -> Vec<(String, Value)> {
        sm[k]
            .as_object()
            .map(|o| o.iter().map(|(a, b)| (a.clone(), b.clone())).collect())
            .unwrap_or_default()
    };
    let count = |v: &Value| v["commitments"].as_u64().unwrap_or(0);
    let countries = by("by_country");
    let commodities = by("by_commodity");
    let kinds = by("by_kind");
    let mut months: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for v in &site.commitments {
        for vr in v["versions"].as_array().into_iter().flatten() {
            let m: String = s(vr, "signed_at").chars().take(7).collect();
            let slot = months.entry(m).or_default();
            if vr["version"].as_u64() == Some(1) {
                slot.0 += 1;
            } else {
                slot.1 += 1;
            }
        }
    }
    let joint = &sm["joint"];
    let delivered = sm["delivered"].as_object().cloned().unwrap_or_default();
    html! {
        section #overview aria-labelledby="overview-h" {
            h1 #overview-h { "Overview" }
            p.lede {
                (head.name) ": " (s(sm, "entries")) " signed entries. Statuses as of "
                time datetime=(head.as_of) { (head.as_of) } "."
            }
            h2 { "Commitments by status" }
            ul.cards {
                li { span.n data-count="commitments" { (s(c, "commitments")) } "commitments" }
                @for (k, w) in STATUSES {
                    li { span.n data-count=(k) { (s(c, k)) } (w) }
                }
            }
            h2 { "Money pledged and disbursed" }
            p {
                "Money pledged by commitments in force, each commitment once, per currency; "
                "amounts in different currencies are never added. Disbursed: progress reported "
                "toward those pledges."
            }
            table {
                caption { "Pledged and disbursed per currency (commitments in force)" }
                thead { tr {
                    th scope="col" { "Currency" } th.num scope="col" { "Pledged" }
                    th.num scope="col" { "Disbursed so far" } th.num scope="col" { "Share disbursed" }
                } }
                tbody {
                    @for (cur, p, d, share) in &money {
                        tr {
                            th scope="row" { (cur) }
                            td.num data-pledged=(cur) { (cur) " " (group_thousands(p)) }
                            td.num data-disbursed=(cur) { (cur) " " (group_thousands(d)) }
                            td.num { (share) }
                        }
                    }
                    @if money.is_empty() { tr { td colspan="4" { "No money pledged by commitments in force." } } }
                }
            }
            @if !money.is_empty() { (money_chart("chart-money", &money)) }
            @if !strings(&joint["commitments"]).is_empty() {
                p {
                    "Of which pledged jointly, not split between countries: "
                    span data-joint="" { (totals_text(&money_map(&joint["pledged"]))) }
                    " (" (short_list(&strings(&joint["commitments"]), 2)) ")."
                }
            }
            @if !delivered.is_empty() {
                table {
                    caption { "Offtakes in force: contracted and delivered so far, per unit" }
                    thead { tr { th scope="col" { "Unit" } th.num scope="col" { "Contracted" } th.num scope="col" { "Delivered so far" } } }
                    tbody {
                        @for (unit, d) in &delivered {
                            tr {
                                th scope="row" { (unit) }
                                td.num { (group_thousands(&s(d, "contracted"))) " " (unit) }
                                td.num data-delivered=(unit) { (group_thousands(&s(d, "delivered"))) " " (unit) }
                            }
                        }
                    }
                }
            }
            h2 { "Commitments by country, commodity and kind" }
            div.charts {
                (bar_chart("chart-country", "Commitments by country (a joint commitment counts for each party's country)",
                    &countries.iter().map(|(k, v)| (k.clone(), count(v))).collect::<Vec<_>>()))
                (bar_chart("chart-commodity", "Commitments by commodity",
                    &commodities.iter().map(|(k, v)| (k.clone(), count(v))).collect::<Vec<_>>()))
                (bar_chart("chart-kind", "Commitments by kind",
                    &kinds.iter().map(|(k, v)| (kind_words(k), count(v))).collect::<Vec<_>>()))
            }
            table {
                caption { "By country: commitments by status, and what each country pays (commitments in force)" }
                thead { tr { (counts_head("Country")) th.num scope="col" { "Pays (in force)" } } }
                tbody {
                    @for (k, line) in &countries {
                        tr data-country=(k) {
                            th scope="row" { (k) }
                            (counts_cells(line))
                            td.money data-pays=(k) { (totals_text(&money_map(&line["pledged"]))) }
                        }
                    }
                }
            }
            table {
                caption { "By commodity: commitments by status, money pledged and price floors (in force)" }
                thead { tr { (counts_head("Commodity")) th.num scope="col" { "Pledged (in force)" } th scope="col" { "Price floors in force" } } }
                tbody {
                    @for (k, line) in &commodities {
                        tr {
                            th scope="row" { (k) }
                            (counts_cells(line))
                            td.money { (totals_text(&money_map(&line["pledged"]))) }
                            td { (strings(&line["price_floors"]).join("; ")) }
                        }
                    }
                }
            }
            table {
                caption { "By kind of measure: commitments by status" }
                thead { tr { (counts_head("Kind")) } }
                tbody {
                    @for (k, line) in &kinds {
                        tr data-kind=(k) { th scope="row" { (kind_words(k)) } (counts_cells(line)) }
                    }
                }
            }
            h2 { "Timeline" }
            (timeline_chart("chart-timeline", &months))
            table {
                caption { "Commitments and amendments signed per month" }
                thead { tr { th scope="col" { "Month" } th.num scope="col" { "Commitments" } th.num scope="col" { "Amendments" } } }
                tbody {
                    @for (m, (cn, an)) in &months {
                        tr { th scope="row" { (m) } td.num { (cn) } td.num { (an) } }
                    }
                }
            }
            p { a href=(links.commitments()) { "All commitments" } }
        }
    }
}

fn option_list(name: &str, label: &str, values: &BTreeSet<String>, chosen: Option<&str>) -> Markup {
    html! {
        label {
            (label)
            select name=(name) {
                option value="" selected[chosen.is_none()] { "any" }
                @for v in values {
                    option value=(v) selected[chosen == Some(v.as_str())] { (v) }
                }
            }
        }
    }
}

fn progress_text(v: &Value) -> String {
    let t = &v["toward"];
    if t.is_null() {
        return String::new();
    }
    let fig = &v["figure"];
    let unit = fig["currency"]
        .as_str()
        .or_else(|| fig["unit"].as_str())
        .unwrap_or_default();
    let share = s(t, "share_percent");
    let so_far = group_thousands(&s(t, "so_far"));
    let amount = if fig["currency"].is_string() {
        format!("{unit} {so_far}")
    } else {
        format!("{so_far} {unit}")
    };
    if share.is_empty() {
        format!("{} {amount}", s(t, "metric"))
    } else {
        format!("{} {amount} ({share}%)", s(t, "metric"))
    }
}

fn commitments_body(
    site: &Site,
    links: &Links,
    shown: &[&Value],
    filter: &TableFilter,
    mode: Mode,
) -> Markup {
    let dir = directory(&site.members);
    let mut countries = BTreeSet::new();
    let mut kinds = BTreeSet::new();
    let mut commodities = BTreeSet::new();
    for v in &site.commitments {
        countries.extend(countries_of(&strings(&v["parties"]), &dir));
        kinds.insert(s(v, "kind"));
        commodities.insert(s(&v["terms"], "commodity"));
    }
    let statuses: BTreeSet<String> = STATUSES.iter().map(|(k, _)| (*k).to_owned()).collect();
    let action = match mode {
        Mode::Served => "/commitments",
        Mode::Report => "#commitments",
    };
    html! {
        section #commitments aria-labelledby="commitments-h" {
            h1 #commitments-h { "Commitments" }
            form.filters #filters method="get" action=(action) role="search" aria-label="Filter the commitments" {
                (option_list("country", "Country", &countries, filter.country.as_deref()))
                (option_list("kind", "Kind", &kinds, filter.kind.as_deref()))
                (option_list("commodity", "Commodity", &commodities, filter.commodity.as_deref()))
                (option_list("status", "Status", &statuses, filter.status.as_deref()))
                button type="submit" { "Filter" }
            }
            table #commitments-table {
                caption {
                    "Commitments: " span #shown { (shown.len()) } " of " (site.commitments.len())
                    ", current terms, statuses as of " (s(&site.summary, "as_of"))
                }
                thead { tr {
                    th scope="col" { "Commitment" } th scope="col" { "Kind" } th scope="col" { "Parties" }
                    th scope="col" { "Commodity" } th.num scope="col" { "Figure" } th scope="col" { "Progress" }
                    th.num scope="col" { "Version" } th scope="col" { "Status" }
                } }
                tbody {
                    @for v in shown {
                        @let id = s(v, "id");
                        @let parties = strings(&v["parties"]);
                        @let st = s(v, "status");
                        tr data-id=(id) data-country=(countries_of(&parties, &dir).join(" "))
                            data-kind=(s(v, "kind")) data-commodity=(s(&v["terms"], "commodity")) data-status=(st) {
                            th scope="row" {
                                a href=(links.commitment(&id)) { (s(&v["terms"], "title")) }
                                br; code { (id) }
                            }
                            td { (kind_words(&s(v, "kind"))) }
                            td title=(parties.join(", ")) { (short_list(&parties, 2)) }
                            td { (s(&v["terms"], "commodity")) }
                            td.num data-figure=(id) { (s(v, "headline")) }
                            td { (progress_text(v)) }
                            td.num { "v" (s(v, "version")) }
                            td class=(format!("status-{st}")) data-status-of=(id) { (status_words(&st)) }
                        }
                    }
                }
            }
        }
    }
}

/// The headline of terms given as JSON (`Measure::headline`).
fn headline_of(terms: &Value) -> String {
    serde_json::from_value::<accord_core::model::Terms>(terms.clone())
        .map(|t| t.measure.headline())
        .unwrap_or_default()
}

fn signer_list(e: &Value, dir: &BTreeMap<String, (String, String)>) -> Markup {
    html! {
        ul {
            @for id in views::object_signer_ids(e) {
                li {
                    @match dir.get(&id) {
                        Some((inst, country)) => { (inst) " (" (country) ", " code { (id) } ")" }
                        None => { code { (id) } }
                    }
                }
            }
        }
    }
}

fn commitment_body(site: &Site, page: &CommitmentPage, links: &Links, level: u8) -> Markup {
    let dir = directory(&site.members);
    let v = &page.view;
    let id = s(v, "id");
    let terms = &v["terms"];
    let st = s(v, "status");
    let version = s(v, "version");
    let parties = strings(&v["parties"]);
    let versions = v["versions"].as_array().cloned().unwrap_or_default();
    let current_index = versions.last().map(|x| s(x, "index")).unwrap_or_default();
    let h = |text: &str| -> Markup {
        match level {
            1 => html! { h1 { (text) } },
            _ => html! { h2 { (text) } },
        }
    };
    let sub = |text: &str| -> Markup {
        match level {
            1 => html! { h2 { (text) } },
            _ => html! { h3 { (text) } },
        }
    };
    // What each entry was, and for an amendment what it changed from the terms before.
    let mut prev: Option<&Value> = None;
    let mut nth = 0u32;
    let rows: Vec<(&Value, String, Vec<String>)> = page
        .history
        .iter()
        .map(|e| {
            let terms = &e["payload"]["terms"];
            match s(e, "type").as_str() {
                "commitment" => {
                    nth = 1;
                    prev = Some(terms);
                    (e, "created (v1)".to_owned(), Vec::new())
                }
                "amend" => {
                    nth += 1;
                    let changes = prev
                        .map(|old| views::changes(old, terms))
                        .unwrap_or_default();
                    prev = Some(terms);
                    (e, format!("amended (v{nth})"), changes)
                }
                "progress" => (e, "progress report".to_owned(), Vec::new()),
                "withdraw" => (e, "withdrawn".to_owned(), Vec::new()),
                other => (e, other.to_owned(), Vec::new()),
            }
        })
        .collect();
    html! {
        section.commitment #(anchor(&id)) data-commitment=(id) {
            (h(&s(terms, "title")))
            p.lede {
                code { (id) } ", " (kind_words(&s(v, "kind"))) ", "
                span class=(format!("status-{st}")) { (status_words(&st)) }
                @if version != "1" { ". Amended: v" (version) " (entry " (current_index) ")" }
                "."
            }
            (sub("Current terms"))
            dl.terms {
                dt { "Figure" } dd data-figure=(id) { (s(v, "headline")) }
                @if !v["toward"].is_null() { dt { "Progress" } dd data-progress=(id) { (progress_text(v)) } }
                dt { "Status" } dd { (status_words(&st)) " (as of " (s(&site.summary, "as_of")) ")" }
                dt { "Version" } dd { (version) }
                dt { "Parties" } dd {
                    @for (i, p) in parties.iter().enumerate() {
                        @if i > 0 { ", " }
                        @match dir.get(p) {
                            Some((inst, c)) => { (inst) " (" (c) ")" }
                            None => { (p) }
                        }
                    }
                }
                @for (k, val) in views::readable(terms, &["title"]) {
                    dt { (k) } dd { (val) }
                }
                @if !v["withdrawn_index"].is_null() {
                    dt { "Withdrawn" } dd { "entry " (s(v, "withdrawn_index")) ", " (s(v, "withdrawn_logged_at")) ": " (s(v, "withdrawal_reason")) }
                }
            }
            (sub("History"))
            table {
                caption { "Every entry about " (id) ", in log order" }
                thead { tr {
                    th.num scope="col" { "Entry" } th scope="col" { "What" } th scope="col" { "Signed / logged" }
                    th scope="col" { "Signers" } th scope="col" { "Changes" }
                } }
                tbody {
                    @for (e, what, changes) in &rows {
                        @let p = &e["payload"];
                        @let ty = s(e, "type");
                        tr {
                            th.num scope="row" { (s(e, "index")) }
                            td { (what) }
                            td { (s(p, "signed_at")) br; (s(e, "logged_at")) }
                            td { (signer_list(e, &dir)) }
                            td {
                                @match ty.as_str() {
                                    "commitment" => { (headline_of(&p["terms"])) }
                                    "amend" => {
                                        p { (headline_of(&p["terms"])) }
                                        p { "Reason: " (s(p, "reason")) }
                                        @if !changes.is_empty() {
                                            ul { @for c in changes { li { (c) } } }
                                        }
                                    }
                                    "progress" => {
                                        (s(p, "metric")) " " (group_thousands(&s(p, "amount"))) " " (s(p, "unit"))
                                        " as of " (s(p, "as_of"))
                                        @if !s(p, "note").is_empty() { br; (s(p, "note")) }
                                    }
                                    "withdraw" => { "Reason: " (s(p, "reason")) }
                                    _ => {}
                                }
                            }
                        }
                    }
                }
            }
            (sub("Proof"))
            @match (&page.proof, &site.checkpoint) {
                (Some(pr), Some(cp)) => {
                    p {
                        "Entry " (s(pr, "index")) " (the current terms) is in the log's tree of "
                        (s(pr, "tree_size")) " entries, whose root the latest checkpoint signs"
                        " (RFC 9162 inclusion proof; check it with " code { "accord prove " (s(pr, "index")) } ")."
                    }
                    dl.terms {
                        dt { "Leaf hash" } dd.hash { (s(pr, "leaf_hash")) }
                        dt { "Tree size" } dd { (s(pr, "tree_size")) }
                        dt { "Root" } dd.hash { (s(pr, "root")) }
                        dt { "Proof" } dd { ol { @for hsh in strings(&pr["proof"]) { li.hash { (hsh) } } } }
                        dt { "Checkpoint" } dd { pre { (s(cp, "note")) } }
                    }
                }
                _ => { p { "No checkpoint covers this entry yet." } }
            }
            p { a href=(links.commitments()) { "All commitments" } }
        }
    }
}

fn key_event(e: &Value, dir: &BTreeMap<String, (String, String)>) -> (String, String) {
    let p = &e["payload"];
    let keyid = |k: &str| {
        accord_core::keys::VerifierKey::parse(k)
            .map(|k| k.keyid())
            .unwrap_or_else(|_| k.to_owned())
    };
    let name = |id: &str| match dir.get(id) {
        Some((inst, c)) => format!("{inst} ({c}, {id})"),
        None => id.to_owned(),
    };
    match s(e, "type").as_str() {
        "admit_member" => {
            let m = &p["member"];
            (
                name(&s(m, "id")),
                format!("admitted with key {}", keyid(&s(m, "key"))),
            )
        }
        "remove_member" => (
            name(&s(p, "member")),
            format!("removed: {}", s(p, "reason")),
        ),
        "rotate_key" => (
            name(&s(p, "member")),
            format!("key rotated to {}", keyid(&s(p, "new_key"))),
        ),
        "revoke_key" => (
            name(&s(p, "member")),
            format!("key {} revoked: {}", keyid(&s(p, "key")), s(p, "reason")),
        ),
        other => (String::new(), other.to_owned()),
    }
}

fn members_body(site: &Site) -> Markup {
    let dir = directory(&site.members);
    let charter_members = site.charter["payload"]["members"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    html! {
        section #members aria-labelledby="members-h" {
            h1 #members-h { "Members and keys" }
            table {
                caption { "Members (" (site.members.len()) ")" }
                thead { tr {
                    th scope="col" { "Member" } th scope="col" { "Institution" } th scope="col" { "Country" }
                    th scope="col" { "Role" } th scope="col" { "Status" } th scope="col" { "Current key" }
                    th.num scope="col" { "Admitted at entry" }
                } }
                tbody {
                    @for m in &site.members {
                        @let status = if !m["removed_at"].is_null() { "removed" } else if m["key_revoked"].as_bool() == Some(true) { "key revoked" } else { "active" };
                        tr {
                            th scope="row" { code { (s(m, "id")) } }
                            td { (s(m, "institution")) } td { (s(m, "country")) } td { (s(m, "role")) }
                            td { (status) }
                            td.hash { (accord_core::keys::VerifierKey::parse(&s(m, "key")).map(|k| k.keyid()).unwrap_or_else(|_| s(m, "key"))) }
                            td.num { (s(m, "admitted_at")) }
                        }
                    }
                }
            }
            h2 { "Key history" }
            table {
                caption { "Founding keys (entry 0) and every change since: admissions, removals, rotations, revocations" }
                thead { tr {
                    th.num scope="col" { "Entry" } th scope="col" { "Logged" } th scope="col" { "Member" }
                    th scope="col" { "What" } th scope="col" { "Signed by" }
                } }
                tbody {
                    tr {
                        th.num scope="row" { "0" } td { (s(&site.charter, "logged_at")) }
                        td { (charter_members.len()) " founding members" }
                        td { "charter: each founder's first key" }
                        td { (signer_list(&site.charter, &dir)) }
                    }
                    @for e in &site.governance {
                        @let (who, what) = key_event(e, &dir);
                        tr {
                            th.num scope="row" { (s(e, "index")) } td { (s(e, "logged_at")) }
                            td { (who) } td { (what) } td { (signer_list(e, &dir)) }
                        }
                    }
                }
            }
        }
    }
}

/// When each cosignature was made, from its `cosignature/v1` line (c2sp.org/tlog-cosignature):
/// `name -> seconds since the Unix epoch`.
fn cosignature_times(note: &str) -> BTreeMap<String, u64> {
    use base64::Engine as _;
    let mut out = BTreeMap::new();
    let Some((_, sigs)) = note.split_once("\n\n") else {
        return out;
    };
    for line in sigs.lines() {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            continue;
        };
        let Some((name, b64)) = rest.split_once(' ') else {
            continue;
        };
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64) else {
            continue;
        };
        if bytes.len() == 4 + 8 + 64 {
            let mut ts = [0u8; 8];
            ts.copy_from_slice(&bytes[4..12]);
            out.insert(name.to_owned(), u64::from_be_bytes(ts));
        }
    }
    out
}

fn rfc3339(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

fn trust_body(site: &Site, head: &Head) -> Markup {
    let dir = directory(&site.members);
    let active = site
        .members
        .iter()
        .filter(|m| m["removed_at"].is_null())
        .count();
    let entries = s(&site.summary, "entries");
    html! {
        section #trust aria-labelledby="trust-h" {
            h1 #trust-h { "Trust" }
            p {
                "What an auditor needs to check this ledger without trusting whoever runs it: the "
                "charter hash (the trust anchor, kept apart from this page), the latest checkpoint "
                "the log signed, and which members verified the log up to it and cosigned it."
            }
            dl.terms {
                dt { "Charter hash" } dd.hash data-charter-hash="" { (head.charter_hash) }
                dt { "Ledger" } dd { code { (head.origin) } }
                dt { "Entries" } dd { (entries) }
            }
            @match &site.checkpoint {
                Some(cp) => {
                    @let cosigners = strings(&cp["cosigners"]);
                    @let times = cosignature_times(&s(cp, "note"));
                    h2 { "Latest checkpoint" }
                    dl.terms {
                        dt { "Tree size" } dd data-checkpoint-size="" { (s(cp, "tree_size")) }
                        dt { "Root" } dd.hash { (s(cp, "root")) }
                        dt { "Checkpoint number" } dd { (s(cp, "seq")) }
                        dt { "Cosigned by" } dd data-cosigners="" { (cosigners.len()) " of " (active) " members" }
                    }
                    @let size: u64 = s(cp, "tree_size").parse().unwrap_or(0);
                    @let total: u64 = entries.parse().unwrap_or(0);
                    @if size < total {
                        p.warn { (total - size) " entries are newer than the latest checkpoint: no member has cosigned them yet." }
                    } @else {
                        p.ok { "The latest checkpoint covers every entry." }
                    }
                    table {
                        caption { "Cosignatures on the latest checkpoint" }
                        thead { tr { th scope="col" { "Member" } th scope="col" { "Institution" } th scope="col" { "Country" } th scope="col" { "Cosigned at" } } }
                        tbody {
                            @for c in &cosigners {
                                tr {
                                    th scope="row" { code { (c) } }
                                    td { (dir.get(c).map(|d| d.0.clone()).unwrap_or_default()) }
                                    td { (dir.get(c).map(|d| d.1.clone()).unwrap_or_default()) }
                                    td { (times.get(c).map(|t| rfc3339(*t)).unwrap_or_default()) }
                                }
                            }
                        }
                    }
                    h3 { "The checkpoint as signed (C2SP signed note)" }
                    pre { (s(cp, "note")) }
                }
                None => { p.warn { "The log has not signed a checkpoint yet." } }
            }
            p {
                "To check: " code { "accord verify --charter-hash " (head.charter_hash) }
                " on a copy of the ledger, or " code { "accord verify-bundle FILE --charter-hash " (head.charter_hash) }
                " on an audit bundle."
            }
        }
    }
}

// ---- reading a ledger ---------------------------------------------------------------------

impl Site {
    /// The site of a ledger on `day`.
    ///
    /// # Errors
    /// Store failures or corruption.
    pub fn from_ledger(
        l: &mut accord_ledger::Ledger,
        day: time::Date,
    ) -> Result<Self, accord_ledger::LedgerError> {
        let charter = views::entry_object(&l.entry(0)?);
        let summary = serde_json::to_value(l.summary(day)?).unwrap_or_default();
        let filter = accord_ledger::query::Filter {
            as_of: Some(day),
            ..Default::default()
        };
        let commitments = l
            .commitments(&filter)?
            .iter()
            .map(|v| views::commitment(v, day))
            .collect();
        let members = views::members(l.governance()?);
        let governance = l
            .governance_entries()?
            .iter()
            .map(views::entry_object)
            .collect();
        let checkpoint = l.latest_checkpoint()?.map(|c| views::checkpoint(&c));
        Ok(Self {
            charter,
            summary,
            commitments,
            members,
            governance,
            checkpoint,
        })
    }

    /// What every page but the overview and the table needs: the charter, the members,
    /// the governance entries and the latest checkpoint, with a summary of only `as_of` and
    /// `entries` (no commitment is folded).
    ///
    /// # Errors
    /// Store failures or corruption.
    pub fn head_from_ledger(
        l: &mut accord_ledger::Ledger,
        day: time::Date,
    ) -> Result<Self, accord_ledger::LedgerError> {
        Ok(Self {
            charter: views::entry_object(&l.entry(0)?),
            summary: serde_json::json!({"as_of": day.to_string(), "entries": l.size()}),
            commitments: Vec::new(),
            members: views::members(l.governance()?),
            governance: l
                .governance_entries()?
                .iter()
                .map(views::entry_object)
                .collect(),
            checkpoint: l.latest_checkpoint()?.map(|c| views::checkpoint(&c)),
        })
    }

    /// The tree size of the latest checkpoint (0 without one).
    pub fn checkpoint_size(&self) -> u64 {
        self.checkpoint
            .as_ref()
            .and_then(|c| c["tree_size"].as_u64())
            .unwrap_or(0)
    }
}

impl CommitmentPage {
    /// A commitment's page from a ledger: `view` is its [`views::commitment`] document;
    /// the proof is against the tree of `checkpoint_size` (none when that tree does not
    /// hold the entry of the current terms).
    ///
    /// # Errors
    /// [`accord_ledger::LedgerError::NotFound`], store failures or corruption.
    pub fn from_ledger(
        l: &accord_ledger::Ledger,
        view: Value,
        checkpoint_size: u64,
    ) -> Result<Self, accord_ledger::LedgerError> {
        let id = accord_core::model::EntryId::parse(&s(&view, "id"))
            .map_err(|e| accord_ledger::LedgerError::NotFound(e.to_string()))?;
        let history = l.history(&id)?.iter().map(views::entry_object).collect();
        let proof = match current_index(&view) {
            Some(i) if i < checkpoint_size => Some(views::inclusion(
                &l.inclusion_proof(i, Some(checkpoint_size))?,
            )),
            _ => None,
        };
        Ok(Self {
            view,
            history,
            proof,
        })
    }
}

/// The log index of the entry that holds a view's current terms.
pub fn current_index(view: &Value) -> Option<u64> {
    view["versions"]
        .as_array()
        .and_then(|v| v.last())
        .and_then(|v| v["index"].as_u64())
}

// ---- entry points ---------------------------------------------------------------------------

/// The overview page (`/`).
pub fn overview(site: &Site) -> String {
    let head = Head::of(site);
    let links = Links(Mode::Served);
    layout(
        &head,
        &links,
        "Overview",
        overview_body(site, &links, &head),
        false,
    )
}

/// The commitments page (`/commitments`): `shown` are those that pass `filter` (decided by
/// the ledger's query, as for `accord status`).
pub fn commitments(site: &Site, shown: &[Value], filter: &TableFilter) -> String {
    let head = Head::of(site);
    let links = Links(Mode::Served);
    let shown: Vec<&Value> = shown.iter().collect();
    layout(
        &head,
        &links,
        "Commitments",
        commitments_body(site, &links, &shown, filter, Mode::Served),
        false,
    )
}

/// A commitment's page (`/commitments/{id}`).
pub fn commitment(site: &Site, page: &CommitmentPage) -> String {
    let head = Head::of(site);
    let links = Links(Mode::Served);
    let title = s(&page.view["terms"], "title");
    layout(
        &head,
        &links,
        &title,
        commitment_body(site, page, &links, 1),
        false,
    )
}

/// The members page (`/members`).
pub fn members(site: &Site) -> String {
    let head = Head::of(site);
    let links = Links(Mode::Served);
    layout(&head, &links, "Members and keys", members_body(site), false)
}

/// The trust panel (`/trust`).
pub fn trust(site: &Site) -> String {
    let head = Head::of(site);
    let links = Links(Mode::Served);
    layout(&head, &links, "Trust", trust_body(site, &head), false)
}

/// Every page in one self-contained document (`accord report`): the overview, the
/// commitments, each commitment's section (in log order, `pages`), the members and the
/// trust panel, linked by anchors.
pub fn report(site: &Site, pages: &[CommitmentPage]) -> String {
    let head = Head::of(site);
    let links = Links(Mode::Report);
    let all: Vec<&Value> = site.commitments.iter().collect();
    let body = html! {
        (overview_body(site, &links, &head))
        (commitments_body(site, &links, &all, &TableFilter::default(), Mode::Report))
        section aria-labelledby="each-h" {
            h1 #each-h { "Each commitment" }
            @for p in pages { (commitment_body(site, p, &links, 2)) }
        }
        (members_body(site))
        (trust_body(site, &head))
    };
    layout(&head, &links, "Report", body, true)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn anchors_and_segments_keep_ids_apart() {
        assert_eq!(anchor("au-efa/1"), "c-au-efa.2F1");
        assert_ne!(anchor("a.b"), anchor("a_b"));
        assert_eq!(path_segment("x/y z"), "x%2Fy%20z");
    }

    #[test]
    fn cosignature_times_are_read_from_the_lines() {
        use base64::Engine as _;
        let mut sig = vec![1, 2, 3, 4];
        sig.extend_from_slice(&1_700_000_000u64.to_be_bytes());
        sig.extend_from_slice(&[0u8; 64]);
        let note = format!(
            "origin\n1\nroot=\n\n\u{2014} origin AAAA\n\u{2014} JP-MOF {}\n",
            base64::engine::general_purpose::STANDARD.encode(&sig)
        );
        let t = cosignature_times(&note);
        assert_eq!(t.len(), 1);
        assert_eq!(t["JP-MOF"], 1_700_000_000);
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn text_is_escaped() {
        let site = Site {
            charter: serde_json::json!({"payload": {"name": "<script>x</script>", "ledger": "o"}}),
            ..Site::default()
        };
        let page = members(&site);
        assert!(!page.contains("<script>x"));
        assert!(page.contains("&lt;script&gt;x"));
    }
}
