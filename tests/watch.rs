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
    let mut both = WATCH.to_vec();
    both.extend([
        "jp.key.journal",
        "--journal",
        "elsewhere.journal",
        "--state",
        "both.watch",
    ]);
    let r = env.ok(&both);
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
    let remote = [
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
    ];
    let r = env.run(&remote);
    assert_eq!(r.code, 1, "stdout {}\nstderr {}", r.stdout, r.stderr);
    let f = findings(&r.stdout);
    assert_eq!(
        f.iter().filter(|v| v["kind"] == "alert").count(),
        1,
        "{}",
        r.stdout
    );
    // Run again: nothing new since the state was kept.
    let r = env.ok(&remote);
    assert!(findings(&r.stdout).is_empty(), "{}", r.stdout);
    assert_eq!(server.terminate(), 0);
}

/// `accord draft KIND --origin ... ARGS --out FILE`, then signed by each of `keys`, then
/// submitted and covered by a new checkpoint.
fn governance(env: &Env, kind: &str, id: &str, args: &[&str], keys: &[&str]) {
    let file = format!("{id}.json");
    let mut a = vec![
        "draft",
        kind,
        "--origin",
        "test.example/ledger",
        "--id",
        id,
        "--out",
        &file,
    ];
    a.extend_from_slice(args);
    env.ok(&a);
    for k in keys {
        env.ok(&["sign", &file, "--key", k]);
    }
    env.ok(&["--ledger", "ledger", "submit", &file]);
    checkpoint(env);
}

#[test]
fn watch_follows_rotation_revocation_and_removal_and_alerts_on_the_new_key() {
    let env = Env::new();
    env.two_member_ledger();
    framework(&env, "jp-us-1", None);
    checkpoint(&env);
    let watch = |journals: &[&str]| {
        let mut a = vec![
            "--json", "--ledger", "ledger", "watch", "--member", "JP-MOF",
        ];
        for j in journals {
            a.extend(["--journal", j]);
        }
        a.extend(["--state", "jp.watch"]);
        env.run(&a)
    };
    let r = watch(&["jp.key.journal"]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // JP-MOF rotates to a new key: a threshold of old keys and the new one sign.
    env.ok(&[
        "keygen",
        "--id",
        "JP-MOF",
        "--country",
        "JP",
        "--name",
        "Ministry of Finance",
        "--out",
        "jp2.key",
    ]);
    governance(
        &env,
        "rotate-key",
        "jp-rotation",
        &["--member", "JP-MOF", "--new-key", "jp2.key.member.json"],
        &["jp.key", "us.key", "jp2.key"],
    );
    // The new key signs a framework whose signature lands in a journal the watch is not
    // given: someone holding JP-MOF's new key acts behind its back.
    let file = "jp-us-2.json";
    env.draft_framework("jp-us-2", file);
    env.ok(&[
        "sign",
        file,
        "--key",
        "jp2.key",
        "--journal",
        "stolen.journal",
    ]);
    env.ok(&["sign", file, "--key", "us.key"]);
    env.ok(&["--ledger", "ledger", "submit", file]);
    checkpoint(&env);

    let r = watch(&["jp.key.journal", "jp2.key.journal"]);
    assert_eq!(r.code, 1, "stdout {}\nstderr {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("revoke"), "{}", r.stderr);
    let f = findings(&r.stdout);
    let of = |kind: &str, id: &str| {
        f.iter()
            .filter(|v| v["kind"] == kind && v["id"] == id)
            .count()
    };
    assert_eq!(of("governance", "jp-rotation"), 1, "{f:?}");
    assert_eq!(of("signed", "jp-rotation"), 2, "old and new key: {f:?}");
    assert_eq!(of("alert", "jp-us-2"), 1, "{f:?}");
    assert_eq!(of("party", "jp-us-2"), 1, "{f:?}");
    let alert = f.iter().find(|v| v["kind"] == "alert").unwrap();
    let new_key = env.read("jp2.key.member.json");
    let new_key: Value = serde_json::from_str(&new_key).unwrap();
    // `name+hash+base64`: the key ID is the first two parts (the base64 may hold a `+`).
    let parts: Vec<&str> = new_key["key"].as_str().unwrap().splitn(3, '+').collect();
    let keyid = format!("{}+{}", parts[0], parts[1]);
    assert!(
        alert["detail"].as_str().unwrap().contains(&keyid),
        "the alert names the key used: {alert}"
    );

    // JP-MOF revokes the key alone; then the others remove JP-MOF.
    governance(
        &env,
        "revoke-key",
        "jp-revocation",
        &[
            "--member",
            "JP-MOF",
            "--key",
            "jp2.key.member.json",
            "--reason",
            "used behind our back",
        ],
        &["jp2.key"],
    );
    governance(
        &env,
        "remove-member",
        "jp-removal",
        &["--member", "JP-MOF", "--reason", "left the group"],
        &["us.key", "de.key"],
    );
    let r = watch(&["jp.key.journal", "jp2.key.journal"]);
    assert_eq!(r.code, 0, "stdout {}\nstderr {}", r.stdout, r.stderr);
    let f = findings(&r.stdout);
    let gov: Vec<(&str, &str)> = f
        .iter()
        .filter(|v| v["kind"] == "governance")
        .map(|v| (v["id"].as_str().unwrap(), v["detail"].as_str().unwrap()))
        .collect();
    assert_eq!(gov.len(), 2, "{f:?}");
    assert_eq!(gov[0].0, "jp-revocation");
    assert!(gov[0].1.contains("revoked"), "{gov:?}");
    assert_eq!(gov[1].0, "jp-removal");
    assert!(gov[1].1.contains("removed"), "{gov:?}");
}
