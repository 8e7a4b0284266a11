//! `accord cosign` verifies only what is new since the member's last cosignature (state kept
//! in KEY.verified), refuses a ledger that no longer extends what it verified, and re-checks
//! everything with --full (issue #10).
#![allow(clippy::unwrap_used)]

mod common;
use common::Env;

fn submit_framework(e: &Env, id: &str) {
    let file = format!("{id}.json");
    e.draft_framework(id, &file);
    e.ok(&["sign", &file, "--key", "jp.key"]);
    e.ok(&["sign", &file, "--key", "us.key"]);
    e.ok(&["--ledger", "ledger", "submit", &file]);
}

#[test]
fn cosign_verifies_only_what_is_new_and_refuses_a_rewritten_history() {
    let e = Env::new();
    e.two_member_ledger();
    submit_framework(&e, "fw-1");
    e.ok(&["--ledger", "ledger", "checkpoint", "--log-key", "log.key"]);
    let first = e
        .ok(&["--ledger", "ledger", "--json", "cosign", "--key", "jp.key"])
        .json();
    assert_eq!(first["verified"], 2, "{first}");
    assert!(e.path("jp.key.verified").exists());

    submit_framework(&e, "fw-2");
    e.ok(&["--ledger", "ledger", "checkpoint", "--log-key", "log.key"]);
    let second = e
        .ok(&["--ledger", "ledger", "--json", "cosign", "--key", "jp.key"])
        .json();
    assert_eq!(second["verified"], 1, "only the new entry: {second}");
    assert_eq!(second["tree_size"], 3);

    // What was verified no longer matches this ledger's history: refused, exit 1.
    let state = e.read("jp.key.verified");
    let v: serde_json::Value = serde_json::from_str(&state).unwrap();
    let mut forged = v.clone();
    forged["frontier"][0] = serde_json::json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    e.write("jp.key.verified", &serde_json::to_string(&forged).unwrap());
    submit_framework(&e, "fw-3");
    e.ok(&["--ledger", "ledger", "checkpoint", "--log-key", "log.key"]);
    e.fails(
        1,
        &["--ledger", "ledger", "cosign", "--key", "jp.key"],
        "not the ones verified before",
    );
    // --full verifies from the charter again and records the new state.
    let full = e
        .ok(&[
            "--ledger", "ledger", "--json", "cosign", "--key", "jp.key", "--full",
        ])
        .json();
    assert_eq!(full["verified"], 4, "{full}");
    let again: serde_json::Value = serde_json::from_str(&e.read("jp.key.verified")).unwrap();
    assert_eq!(again["size"], 4);
}
