//! Restoring a ledger from its JSON Lines export (`accord import`): an interrupted restore
//! resumes, every unsigned copy in a line is checked against its signed entry, input is
//! read with a bound, and an empty file is an error.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::Env;
use serde_json::Value;

/// A ledger of the charter and `n` joint frameworks, exported to `all.jsonl`.
fn exported(n: usize) -> Env {
    let e = Env::new();
    e.two_member_ledger();
    for i in 0..n {
        let file = format!("fw{i}.json");
        e.draft_framework(&format!("fw-{i}"), &file);
        e.ok(&["--ledger", "ledger", "sign", &file, "--key", "jp.key"]);
        e.ok(&["--ledger", "ledger", "sign", &file, "--key", "us.key"]);
        e.ok(&["--ledger", "ledger", "submit", &file]);
    }
    e.ok(&[
        "--ledger",
        "ledger",
        "export",
        "--format",
        "jsonl",
        "--out",
        "all.jsonl",
    ]);
    e
}

fn lines(e: &Env) -> Vec<String> {
    e.read("all.jsonl").lines().map(str::to_owned).collect()
}

fn root(e: &Env, ledger: &str) -> Value {
    e.ok(&["--ledger", ledger, "--json", "verify"]).json()["root"].clone()
}

#[test]
fn an_interrupted_import_resumes_and_reaches_the_source_root() {
    let e = exported(3);
    let all = lines(&e);
    // What an import killed after its first group commit leaves: a prefix of the export.
    e.write("part.jsonl", &(all[..2].join("\n") + "\n"));
    let r = e.ok(&["--ledger", "rebuilt", "--json", "import", "part.jsonl"]);
    assert_eq!(r.json()["created"], true);
    let r = e.ok(&["--ledger", "rebuilt", "--json", "import", "all.jsonl"]);
    let v = r.json();
    assert_eq!(v["created"], false);
    assert_eq!(v["skipped"], 2, "{v}");
    assert_eq!(v["accepted"], all.len() as u64 - 2, "{v}");
    assert_eq!(root(&e, "rebuilt"), root(&e, "ledger"));
    // Once complete, importing the export again changes nothing.
    let v = e
        .ok(&["--ledger", "rebuilt", "--json", "import", "all.jsonl"])
        .json();
    assert_eq!(v["accepted"], 0);
    assert_eq!(v["skipped"], all.len() as u64);
    assert_eq!(root(&e, "rebuilt"), root(&e, "ledger"));
}

#[test]
fn a_resumed_import_refuses_a_line_that_is_not_the_entry_already_there() {
    let e = exported(2);
    let all = lines(&e);
    e.write("part.jsonl", &(all[..2].join("\n") + "\n"));
    e.ok(&["--ledger", "rebuilt", "import", "part.jsonl"]);
    // Line 2 claims entry 1 with another leaf hash: it is not the entry there.
    let mut v: Value = serde_json::from_str(&all[1]).unwrap();
    v["leaf_hash"] = v["leaf_hash"]
        .as_str()
        .unwrap()
        .replace(&v["leaf_hash"].as_str().unwrap()[..4], "AAAA")
        .into();
    let mut x = all.clone();
    x[1] = v.to_string();
    e.write("x.jsonl", &(x.join("\n") + "\n"));
    e.fails(
        1,
        &["--ledger", "rebuilt", "import", "x.jsonl"],
        "x.jsonl line 2: rejected: entry 1 is already in the ledger with leaf hash",
    );
    // Same leaf hash, another time: the line's own members disagree.
    let mut v: Value = serde_json::from_str(&all[1]).unwrap();
    v["logged_at"] = "2030-01-01T00:00:00Z".into();
    let mut x = all.clone();
    x[1] = v.to_string();
    e.write("y.jsonl", &(x.join("\n") + "\n"));
    e.fails(
        1,
        &["--ledger", "rebuilt", "import", "y.jsonl"],
        "\"logged_at\" disagrees with member \"leaf_hash\"",
    );
    assert_eq!(
        e.ok(&["--ledger", "rebuilt", "--json", "verify"]).json()["size"],
        2
    );
}

#[test]
fn every_unsigned_copy_in_an_export_line_must_agree_with_its_entry() {
    let e = exported(1);
    let all = lines(&e);
    let line: Value = serde_json::from_str(&all[1]).unwrap();
    let mut other_payload = line["payload"].clone();
    other_payload["id"] = "another-id".into();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("payload", other_payload, "member \"payload\" disagrees"),
        ("id", "another-id".into(), "member \"id\" disagrees"),
        ("type", "withdraw".into(), "member \"type\" disagrees"),
        (
            "leaf_hash",
            line["leaf_hash"]
                .as_str()
                .unwrap()
                .replace(&line["leaf_hash"].as_str().unwrap()[..4], "AAAA")
                .into(),
            "member \"leaf_hash\" disagrees",
        ),
        (
            "logged_at",
            "2030-01-01T00:00:00Z".into(),
            "member \"leaf_hash\" disagrees",
        ),
        ("index", 7.into(), "restoring entry 7"),
        ("index", "1".into(), "member \"index\""),
    ];
    for (i, (member, value, needle)) in cases.into_iter().enumerate() {
        let mut v = line.clone();
        v[member] = value;
        let file = format!("case{i}.jsonl");
        e.write(&file, &format!("{}\n{}\n", all[0], v));
        let target = format!("rebuilt{i}");
        let r = e.fails(1, &["--ledger", &target, "import", &file], needle);
        assert!(r.stderr.contains("line 2"), "{member}: {}", r.stderr);
    }
    // A member the format does not have, and one it has but missing.
    let mut v = line.clone();
    v["note"] = "x".into();
    e.write("extra.jsonl", &format!("{}\n{}\n", all[0], v));
    e.fails(
        1,
        &["--ledger", "r-extra", "import", "extra.jsonl"],
        "unknown member \"note\"",
    );
    let mut v = line.clone();
    v.as_object_mut().unwrap().remove("id");
    e.write("missing.jsonl", &format!("{}\n{}\n", all[0], v));
    e.fails(
        1,
        &["--ledger", "r-missing", "import", "missing.jsonl"],
        "without its \"id\" member",
    );
}

#[test]
fn a_duplicate_member_in_an_export_line_is_refused() {
    let e = exported(1);
    let all = lines(&e);
    // The same member twice, at the top and deep inside the payload copy.
    let top = all[1].replacen("{\"index\":1,", "{\"index\":1,\"index\":1,", 1);
    assert_ne!(top, all[1]);
    e.write("top.jsonl", &format!("{}\n{top}\n", all[0]));
    e.fails(
        1,
        &["--ledger", "r-top", "import", "top.jsonl"],
        "line 2: rejected: not valid JSON: duplicate",
    );
    let deep = all[1].replacen("\"payload\":{", "\"payload\":{\"ledger\":\"x\",", 1);
    assert_ne!(deep, all[1]);
    e.write("deep.jsonl", &format!("{}\n{deep}\n", all[0]));
    e.fails(
        1,
        &["--ledger", "r-deep", "import", "deep.jsonl"],
        "duplicate",
    );
}

#[test]
fn an_endless_line_is_refused_without_exhausting_memory() {
    let e = Env::new();
    let r: common::Run = e
        .cmd()
        .args(["--ledger", "zero", "import", "/dev/zero"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("line 1 is longer than"), "{}", r.stderr);
    assert!(!e.path("zero").exists(), "nothing is created");
}

#[test]
fn an_import_of_no_entries_is_an_error() {
    let e = exported(0);
    e.write("empty.jsonl", "");
    e.write("blank.jsonl", "\n  \n\n");
    for file in ["empty.jsonl", "blank.jsonl"] {
        e.fails(2, &["--ledger", "new", "import", file], "holds no entries");
        e.fails(
            2,
            &["--ledger", "ledger", "import", file],
            "holds no entries",
        );
    }
}

/// docs/FORMAT.md section 10 lists the members of an export line; an exported line has
/// exactly those.
#[test]
fn an_export_line_has_exactly_the_documented_members() {
    let e = exported(1);
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/FORMAT.md"))
        .unwrap();
    let section = doc
        .split("\n## 10.")
        .nth(1)
        .expect("FORMAT.md has a section 10 on JSON Lines");
    // Up to the next heading: the subsections after it describe other documents.
    let section = section.split("\n## ").next().unwrap();
    let section = section.split("\n### ").next().unwrap();
    let documented: std::collections::BTreeSet<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect();
    for line in lines(&e) {
        let v: Value = serde_json::from_str(&line).unwrap();
        let members: std::collections::BTreeSet<String> =
            v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(members, documented);
    }
}

/// A ledger directory whose creation never completed (the creation marker is still there):
/// `verify` says so, and `import` (like `init`) creates the ledger afresh.
#[test]
fn an_incomplete_creation_is_named_and_recreated_by_import() {
    let e = exported(1);
    e.write("part.jsonl", &(lines(&e)[..1].join("\n") + "\n"));
    e.ok(&["--ledger", "rebuilt", "import", "part.jsonl"]);
    e.write("rebuilt/creating", "");
    e.fails(2, &["--ledger", "rebuilt", "verify"], "did not complete");
    e.ok(&["--ledger", "rebuilt", "import", "all.jsonl"]);
    assert_eq!(root(&e, "rebuilt"), root(&e, "ledger"));
    // `init` over the same leftover.
    e.write("rebuilt/creating", "");
    e.ok(&[
        "--ledger",
        "rebuilt",
        "init",
        "--charter",
        "charter.json",
        "--log-key",
        "log.key",
    ]);
    assert_eq!(
        e.ok(&["--ledger", "rebuilt", "--json", "verify"]).json()["size"],
        1
    );
}
