//! Every figure about a commitment is the same wherever it is read (issue #13): `show`,
//! `status`, `summary`, the CSV and JSON Lines exports and the HTTP API, from a directory
//! and through `--server`, and the served pages; and the summary adds up (statuses, kinds, the money of each
//! commitment in force counted once, never across currencies). Checked on the demo ledger
//! and on a synthetic ledger of every kind with joint commitments, amendments and progress.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::str::FromStr;

use common::server::{get, Server};
use common::Env;
use rust_decimal::Decimal;
use serde_json::Value;

fn lines(s: &str) -> Vec<Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(v.as_str().unwrap()).unwrap()
}

fn add_all(into: &mut BTreeMap<String, Decimal>, m: &Value) {
    for (c, a) in m.as_object().unwrap() {
        *into.entry(c.clone()).or_default() += dec(a);
    }
}

fn as_decimals(m: &Value) -> BTreeMap<String, Decimal> {
    let mut out = BTreeMap::new();
    add_all(&mut out, m);
    out
}

fn api(url: &str) -> Value {
    let (code, body) = get(url);
    assert_eq!(code, 200, "{url}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

/// What the directory's commands print on one day, kept to compare with the server's.
struct Local {
    day: String,
    status: Vec<Value>,
    summary: Value,
    shown: Vec<Value>,
}

/// Checks one ledger directory (relative to `env`) on `day`: `status`, `summary`, `show`,
/// the CSV and JSON Lines exports agree. The server is not running yet (it holds the
/// ledger); [`api_agrees`] compares with it afterwards.
fn figures_agree(env: &Env, ledger: &str, day: &str) -> Local {
    let l = ["--ledger", ledger];
    let status = lines(
        &env.ok(&[l[0], l[1], "--json", "status", "--as-of", day])
            .stdout,
    );
    assert!(!status.is_empty());
    let by_id: BTreeMap<String, &Value> = status
        .iter()
        .map(|v| (v["id"].as_str().unwrap().to_owned(), v))
        .collect();
    let summary = env
        .ok(&[l[0], l[1], "--json", "summary", "--as-of", day])
        .json();

    // The summary adds up.
    let c = &summary["commitments"];
    let statuses = ["active", "amended", "pending", "expired", "withdrawn"];
    let sum: u64 = statuses.iter().map(|k| c[k].as_u64().unwrap()).sum();
    assert_eq!(c["commitments"].as_u64().unwrap(), sum);
    assert_eq!(sum, status.len() as u64);
    for k in statuses {
        let n = status.iter().filter(|v| v["status"] == k).count() as u64;
        assert_eq!(c[k].as_u64().unwrap(), n, "status {k}");
    }
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    for v in &status {
        *kinds
            .entry(v["kind"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    for (k, n) in &kinds {
        assert_eq!(
            summary["by_kind"][k]["commitments"].as_u64().unwrap(),
            *n,
            "kind {k}"
        );
    }
    for (k, line) in summary["by_kind"].as_object().unwrap() {
        let s: u64 = statuses.iter().map(|st| line[st].as_u64().unwrap()).sum();
        assert_eq!(line["commitments"].as_u64().unwrap(), s, "kind {k} adds up");
    }
    // Money: each commitment in force once, per currency; the countries' lines and the
    // joint line split the same total, and so do the commodities' lines.
    let mut pledged = BTreeMap::new();
    let mut disbursed: BTreeMap<String, Decimal> = BTreeMap::new();
    for v in status
        .iter()
        .filter(|v| v["status"] == "active" || v["status"] == "amended")
    {
        add_all(&mut pledged, &v["pledged"]);
        let cur = v["figure"]["currency"].as_str();
        if let (Some(cur), Some(t)) = (cur, v["toward"].as_object()) {
            if v["pledged"].get(cur).is_some() && t["metric"] == "disbursed" {
                *disbursed.entry(cur.to_owned()).or_default() += dec(&t["so_far"]);
            }
        }
    }
    pledged.retain(|_, a| !a.is_zero());
    assert!(!pledged.is_empty(), "no money pledged in force");
    assert_eq!(as_decimals(&summary["pledged"]), pledged);
    disbursed.retain(|_, a| !a.is_zero());
    let mut summary_disbursed = as_decimals(&summary["disbursed"]);
    summary_disbursed.retain(|_, a| !a.is_zero());
    assert_eq!(summary_disbursed, disbursed, "disbursed");
    let mut split = as_decimals(&summary["joint"]["pledged"]);
    for line in summary["by_country"].as_object().unwrap().values() {
        add_all(&mut split, &line["pledged"]);
    }
    split.retain(|_, a| !a.is_zero());
    assert_eq!(split, pledged, "countries + joint != total");
    let mut by_commodity = BTreeMap::new();
    for line in summary["by_commodity"].as_object().unwrap().values() {
        add_all(&mut by_commodity, &line["pledged"]);
    }
    by_commodity.retain(|_, a| !a.is_zero());
    assert_eq!(by_commodity, pledged, "commodities != total");

    // CSV: one row per commitment, its current terms' figure as the view has it.
    env.ok(&[
        l[0], l[1], "export", "--format", "csv", "--as-of", day, "--out", "c.csv",
    ]);
    let mut csv = csv::Reader::from_path(env.path("c.csv")).unwrap();
    let head: Vec<String> = csv.headers().unwrap().iter().map(str::to_owned).collect();
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), status.len(), "one CSV row per commitment");
    let opt = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    for r in &rows {
        let id = &r[col("commitment_id")];
        let v = by_id[id];
        assert_eq!(&r[col("status")], v["status"].as_str().unwrap(), "{id}");
        assert_eq!(r[col("version")], v["version"].to_string(), "{id}");
        assert_eq!(&r[col("figure")], v["headline"].as_str().unwrap(), "{id}");
        assert_eq!(r[col("amount")], opt(&v["figure"]["amount"]), "{id}");
        assert_eq!(r[col("currency")], opt(&v["figure"]["currency"]), "{id}");
        assert_eq!(r[col("unit")], opt(&v["figure"]["unit"]), "{id}");
        assert_eq!(
            r[col("progress_so_far")],
            opt(&v["toward"]["so_far"]),
            "{id}"
        );
        assert_eq!(
            r[col("progress_share_percent")],
            opt(&v["toward"]["share_percent"]),
            "{id}"
        );
        assert_eq!(r[col("created_index")], v["created_index"].to_string());
        assert_eq!(
            r[col("title")],
            opt(&v["terms"]["title"]),
            "{id}: title of the current terms"
        );
    }
    // --versions: one row per version, the last of each flagged current with the same figure.
    env.ok(&[
        l[0],
        l[1],
        "export",
        "--format",
        "csv",
        "--versions",
        "--as-of",
        day,
        "--out",
        "v.csv",
    ]);
    let mut csv = csv::Reader::from_path(env.path("v.csv")).unwrap();
    let vrows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    let versions: usize = status
        .iter()
        .map(|v| v["versions"].as_array().unwrap().len())
        .sum();
    assert_eq!(vrows.len(), versions);
    for r in vrows.iter().filter(|r| &r[col("current")] == "true") {
        let v = by_id[&r[col("commitment_id")]];
        assert_eq!(&r[col("figure")], v["headline"].as_str().unwrap());
    }

    // JSON Lines: the history and the current terms the views were folded from.
    env.ok(&[
        l[0], l[1], "export", "--format", "jsonl", "--out", "e.jsonl",
    ]);
    let entries = lines(&env.read("e.jsonl"));
    let mut about: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in &entries {
        let p = &e["payload"];
        let target = match e["type"].as_str().unwrap() {
            "commitment" => p["id"].as_str(),
            "amend" | "progress" | "withdraw" => p["target"].as_str(),
            _ => None,
        };
        if let Some(t) = target {
            about.entry(t.to_owned()).or_default().push(e);
        }
    }
    for v in &status {
        let id = v["id"].as_str().unwrap();
        let h = &about[id];
        let idx: Vec<Value> = h.iter().map(|e| e["index"].clone()).collect();
        assert_eq!(Value::Array(idx), v["history"], "{id}: history");
        let last_terms = h
            .iter()
            .rev()
            .find(|e| e["type"] == "commitment" || e["type"] == "amend")
            .map(|e| e["payload"]["terms"].clone())
            .unwrap();
        assert_eq!(last_terms, v["terms"], "{id}: current terms");
        assert_eq!(h[0]["logged_at"], v["created_logged_at"], "{id}");
        assert_eq!(
            h.last().unwrap()["logged_at"],
            v["updated_logged_at"],
            "{id}"
        );
    }

    // show: the current terms and figure by default.
    let mut shown = Vec::new();
    for v in status.iter().take(40) {
        let id = v["id"].as_str().unwrap();
        let out = env.ok(&[l[0], l[1], "--json", "show", id]).json();
        let sv = &out["shown_version"];
        assert_eq!(sv["terms"], v["terms"], "{id}");
        assert_eq!(sv["figure"], v["figure"], "{id}");
        assert_eq!(sv["headline"], v["headline"], "{id}");
        assert_eq!(sv["version"], v["version"], "{id}");
        let text = env.ok(&[l[0], l[1], "show", id]).stdout;
        assert!(
            text.contains(v["headline"].as_str().unwrap()),
            "{id}: show prints {text}"
        );
        shown.push(out);
    }
    Local {
        day: day.to_owned(),
        status,
        summary,
        shown,
    }
}

/// The API and `--server` give the very documents the directory gave.
fn api_agrees(env: &Env, server: &Server, local: &Local) {
    let day = &local.day;
    let api_list = api(&format!("{}/api/v1/commitments?as_of={day}", server.url));
    assert_eq!(
        api_list,
        Value::Array(local.status.clone()),
        "API list != status"
    );
    let remote = lines(
        &env.ok(&["--server", &server.url, "--json", "status", "--as-of", day])
            .stdout,
    );
    assert_eq!(remote, local.status, "--server status != status");
    assert_eq!(
        api(&format!("{}/api/v1/summary?as_of={day}", server.url)),
        local.summary
    );
    let remote_summary = env
        .ok(&["--server", &server.url, "--json", "summary", "--as-of", day])
        .json();
    assert_eq!(remote_summary, local.summary);
    // The pages show the same figures: each commitment's headline and status in the table,
    // the money per currency on the overview.
    let page = |path: &str| {
        let (code, body) = get(&format!("{}{path}", server.url));
        assert_eq!(code, 200, "{path}");
        String::from_utf8(body).unwrap()
    };
    let table = page(&format!("/commitments?as_of={day}"));
    for v in &local.status {
        let id = v["id"].as_str().unwrap();
        let cell = format!(
            "data-figure=\"{}\">{}</td>",
            html_escape(id),
            html_escape(v["headline"].as_str().unwrap())
        );
        assert!(table.contains(&cell), "{id}: no {cell} on /commitments");
    }
    let overview = page(&format!("/?as_of={day}"));
    for (cur, amount) in local.summary["pledged"].as_object().unwrap() {
        let cell = format!(
            "data-pledged=\"{cur}\">{cur} {}</td>",
            grouped(amount.as_str().unwrap())
        );
        assert!(overview.contains(&cell), "no {cell} on /");
    }
    for k in [
        "commitments",
        "active",
        "amended",
        "pending",
        "expired",
        "withdrawn",
    ] {
        let cell = format!(
            "data-count=\"{k}\">{}</span>",
            local.summary["commitments"][k]
        );
        assert!(overview.contains(&cell), "no {cell} on /");
    }
    for (v, shown) in local.status.iter().zip(&local.shown) {
        let id = v["id"].as_str().unwrap();
        let c = api(&format!(
            "{}/api/v1/commitments/{id}?as_of={day}",
            server.url
        ));
        assert_eq!(&c["commitment"], v, "{id}: API commitment");
        let remote = env
            .ok(&["--server", &server.url, "--json", "show", id])
            .json();
        assert_eq!(
            remote["shown_version"], shown["shown_version"],
            "{id}: --server show"
        );
    }
}

/// Text as HTML writes it (the five characters that must be escaped).
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `1234567.5` -> `1,234,567.5`, by the rule in docs/CLI.md.
fn grouped(a: &str) -> String {
    let (whole, frac) = a.split_once('.').map_or((a, None), |(w, f)| (w, Some(f)));
    let mut out = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

fn today() -> String {
    // The binary decides statuses on today's UTC date; every call gets the date explicitly.
    let out = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn demo_figures_agree_everywhere() {
    let env = Env::new();
    env.ok(&["demo", "--dir", "d"]);
    let now = figures_agree(&env, "d/ledger", &today());
    // Another day decides other statuses; the figures still agree.
    let march = figures_agree(&env, "d/ledger", "2026-03-01");
    let server = Server::start(&env, &[]);
    api_agrees(&env, &server, &now);
    api_agrees(&env, &server, &march);
    server.kill();
}

#[test]
fn synthetic_figures_agree_everywhere() {
    use accord_ledger::synth::Synth;
    let env = Env::new();
    let mut synth = Synth::new(12, 5);
    let mut text = String::from_utf8(synth.charter().to_json()).unwrap();
    text.push('\n');
    for _ in 0..400 {
        text.push_str(&String::from_utf8(synth.next_entry().to_json()).unwrap());
        text.push('\n');
    }
    env.write("s.jsonl", &text);
    env.ok(&["--ledger", "s", "import", "s.jsonl"]);
    let key = serde_json::json!({"format": "accord-key/v1", "name": synth.origin,
        "skey": synth.log.to_skey()});
    env.write("log.key", &key.to_string());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(env.path("log.key"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
    }
    let local = figures_agree(&env, "s", &today());
    let server = Server::spawn(
        &env,
        &[
            "--ledger",
            "s",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-key",
            "log.key",
        ],
    );
    api_agrees(&env, &server, &local);
    server.kill();
}
