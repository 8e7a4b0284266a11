//! `accord watch` end to end: `accord sign` keeps a journal beside the key; a member's key
//! used behind its back (signed with another journal) is reported with exit 1 and what to
//! do; a second run reports nothing new; a checkpoint older than promised is reported; the
//! same alert is found reading the log over HTTP (C2SP tlog-tiles) from `accord serve`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::server::Server;
use common::Env;
use serde_json::Value;

fn findings(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn framework(env: &Env, id: &str, jp_journal: Option<&str>) {
    let file = format!("{id}.json");
    env.draft_framework(id, &file);
    match jp_journal {
        Some(j) => env.ok(&["sign", &file, "--key", "jp.key", "--journal", j]),
        None => env.ok(&["sign", &file, "--key", "jp.key"]),
    };
    env.ok(&["sign", &file, "--key", "us.key"]);
    env.ok(&["--ledger", "ledger", "submit", &file]);
}

fn checkpoint(env: &Env) {
    env.ok(&["--ledger", "ledger", "checkpoint", "--log-key", "log.key"]);
}

const WATCH: [&str; 7] = [
    "--json",
    "--ledger",
    "ledger",
    "watch",
    "--member",
    "JP-MOF",
    "--journal",
];

#[test]
fn watch_reports_a_key_used_behind_the_members_back_once() {
    let env = Env::new();
    env.two_member_ledger();
    framework(&env, "jp-us-1", None);
    checkpoint(&env);
    // The journal `accord sign` kept: one JSON line per signature, no secrets.
    let journal = env.read("jp.key.journal");
    assert_eq!(journal.lines().count(), 2, "{journal}");
    assert!(!journal.contains("skey") && !journal.contains("ciphertext"));

    let mut args = WATCH.to_vec();
    args.push("jp.key.journal");
    let r = env.ok(&args);
    let f = findings(&r.stdout);
    let kinds: Vec<&str> = f.iter().map(|v| v["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"governance"), "{kinds:?}");
    assert!(kinds.contains(&"party"), "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| **k == "signed").count(),
        2,
        "{kinds:?}"
    );
    assert!(!kinds.contains(&"alert"));
    assert!(env.path("jp.key.journal.watch").exists());

    // JP-MOF's key signs an entry whose signature goes to another journal.
    framework(&env, "jp-us-2", Some("elsewhere.journal"));
    checkpoint(&env);
    let r = env.run(&args);
    assert_eq!(r.code, 1, "stdout {}\nstderr {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("revoke"), "{}", r.stderr);
    assert!(r.stderr.contains("accord draft revoke-key"), "{}", r.stderr);
    let f = findings(&r.stdout);
    let alerts: Vec<&Value> = f.iter().filter(|v| v["kind"] == "alert").collect();
    assert_eq!(alerts.len(), 1, "{f:?}");
    assert_eq!(alerts[0]["id"], "jp-us-2");
    assert_eq!(alerts[0]["member"], "JP-MOF");

    // Nothing new on a second run.
    let r = env.ok(&args);
    assert!(findings(&r.stdout).is_empty(), "{}", r.stdout);

    // Both journals together: the signature is accounted for.
    let r = env.ok(&[
        "--json",
        "--ledger",
        "ledger",
        "watch",
        "--member",
        "JP-MOF",
        "--journal",
        "jp.key.journal",
        "--journal",
        "elsewhere.journal",
        "--state",
        "both.watch",
    ]);
    let f = findings(&r.stdout);
    assert!(f.iter().all(|v| v["kind"] != "alert"), "{f:?}");

    // An entry the log has not covered with a checkpoint for longer than promised.
    framework(&env, "jp-us-3", None);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let mut stale = args.clone();
    stale.extend(["--max-checkpoint-age", "1"]);
    let r = env.ok(&stale);
    let f = findings(&r.stdout);
    assert!(
        f.iter().any(|v| v["kind"] == "stale_checkpoint"),
        "{}",
        r.stdout
    );

    // A member that is not watched under this state: refused.
    env.fails(
        2,
        &[
            "--ledger",
            "ledger",
            "watch",
            "--member",
            "US-TREASURY",
            "--journal",
            "jp.key.journal",
        ],
        "not of US-TREASURY",
    );
}

#[test]
fn watch_from_a_server_reads_the_tiles_and_finds_the_alert() {
    let env = Env::new();
    env.two_member_ledger();
    framework(&env, "jp-us-1", None);
    framework(&env, "jp-us-2", Some("elsewhere.journal"));
    env.write("pass.txt", "test passphrase");
    let server = Server::spawn(
        &env,
        &[
            "--ledger",
            "ledger",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-key",
            "log.key",
            "--checkpoint-every",
            "1",
            "--passphrase-file",
            "pass.txt",
        ],
    );
    let r = env.run(&[
        "--json",
        "watch",
        "--from",
        &server.url,
        "--member",
        "JP-MOF",
        "--journal",
        "jp.key.journal",
        "--state",
        "remote.watch",
    ]);
    assert_eq!(r.code, 1, "stdout {}\nstderr {}", r.stdout, r.stderr);
    let f = findings(&r.stdout);
    assert_eq!(
        f.iter().filter(|v| v["kind"] == "alert").count(),
        1,
        "{}",
        r.stdout
    );
    let r = env.ok(&[
        "--json",
        "watch",
        "--from",
        &server.url,
        "--member",
        "JP-MOF",
        "--journal",
        "jp.key.journal",
        "--state",
        "remote.watch",
    ]);
    assert!(findings(&r.stdout).is_empty(), "{}", r.stdout);
    assert_eq!(server.terminate(), 0);
}
