//! The README's walk-through, as a user runs it: keys, charter, draft, co-signing, submit,
//! checkpoint, cosign, verify, exports, and the offline bundle check.
#![allow(clippy::unwrap_used)]

mod common;
use common::Env;

#[test]
fn a_ministry_drafts_cosigns_submits_and_an_auditor_verifies_offline() {
    let e = Env::new();
    let charter_hash = e.two_member_ledger();
    e.draft_framework("jp-us-framework-2026", "framework.json");

    let r = e.ok(&[
        "--ledger",
        "ledger",
        "sign",
        "framework.json",
        "--key",
        "jp.key",
    ]);
    assert!(
        r.stdout.contains("missing signature of US-TREASURY"),
        "{}",
        r.stdout
    );
    let r = e.ok(&[
        "--ledger",
        "ledger",
        "sign",
        "framework.json",
        "--key",
        "us.key",
    ]);
    assert!(r.stdout.contains("ready to submit"), "{}", r.stdout);
    let r = e.ok(&["--ledger", "ledger", "--json", "submit", "framework.json"]);
    assert_eq!(r.json()["index"], 1);

    // Progress by one party, an amendment by both.
    e.ok(&[
        "--ledger",
        "ledger",
        "draft",
        "progress",
        "--id",
        "fw-progress-1",
        "--target",
        "jp-us-framework-2026",
        "--as-of",
        "2026-06-30",
        "--metric",
        "disbursed",
        "--amount",
        "250000000",
        "--unit",
        "USD",
        "--out",
        "p.json",
    ]);
    e.ok(&["--ledger", "ledger", "sign", "p.json", "--key", "us.key"]);
    e.ok(&["--ledger", "ledger", "submit", "p.json"]);
    e.ok(&[
        "--ledger",
        "ledger",
        "draft",
        "amend",
        "--id",
        "fw-amend-1",
        "--target",
        "jp-us-framework-2026",
        "--reason",
        "raise the pledge",
        "--set",
        "measure.pledges.0.amount=2000000000",
        "--out",
        "a.json",
    ]);
    e.ok(&["--ledger", "ledger", "sign", "a.json", "--key", "jp.key"]);
    e.ok(&["--ledger", "ledger", "sign", "a.json", "--key", "us.key"]);
    e.ok(&["--ledger", "ledger", "submit", "a.json"]);

    let r = e.ok(&["--ledger", "ledger", "--json", "status"]);
    let v: serde_json::Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(v["status"], "amended");
    assert_eq!(v["version"], 2);
    assert_eq!(v["progress"][0]["total"], "250000000");

    e.ok(&["--ledger", "ledger", "checkpoint", "--log-key", "log.key"]);
    e.ok(&["--ledger", "ledger", "cosign", "--key", "jp.key"]);
    let r = e.ok(&[
        "--ledger",
        "ledger",
        "--json",
        "verify",
        "--charter-hash",
        &charter_hash,
    ]);
    let v = r.json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["size"], 4);
    assert_eq!(v["latest_cosigners"], serde_json::json!(["JP-MOF"]));

    let r = e.ok(&["--ledger", "ledger", "--json", "prove", "2"]);
    let p = r.json();
    assert_eq!(p["tree_size"], 4);
    assert!(p["proof"].as_array().unwrap().len() == 2);
    let r = e.ok(&["--ledger", "ledger", "--json", "consistency", "--from", "2"]);
    assert_eq!(r.json()["to"], 4);

    e.ok(&[
        "--ledger",
        "ledger",
        "export",
        "--format",
        "bundle",
        "--commitment",
        "jp-us-framework-2026",
        "--out",
        "bundle.json",
    ]);
    e.ok(&[
        "--ledger", "ledger", "export", "--format", "csv", "--out", "c.csv",
    ]);
    e.ok(&[
        "--ledger",
        "ledger",
        "export",
        "--format",
        "jsonl",
        "--out",
        "all.jsonl",
    ]);
    assert_eq!(
        e.read("c.csv").lines().count(),
        2,
        "header and one row per commitment (current terms)"
    );
    assert_eq!(e.read("all.jsonl").lines().count(), 4);

    let log_key = e
        .ok(&["--ledger", "ledger", "log-key"])
        .stdout
        .trim()
        .to_owned();
    let r = e.ok(&[
        "--json",
        "verify-bundle",
        "bundle.json",
        "--charter-hash",
        &charter_hash,
        "--log-key",
        &log_key,
    ]);
    let v = r.json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["cosigners"], serde_json::json!(["JP-MOF"]));

    // A bundle with one flipped byte in an entry no longer verifies.
    let mut b: serde_json::Value = serde_json::from_str(&e.read("bundle.json")).unwrap();
    let leaf = b["entries"][1]["leaf"].as_str().unwrap().to_owned();
    let mut chars: Vec<char> = leaf.chars().collect();
    chars[40] = if chars[40] == 'A' { 'B' } else { 'A' };
    b["entries"][1]["leaf"] = serde_json::json!(chars.into_iter().collect::<String>());
    e.write("tampered.json", &serde_json::to_string(&b).unwrap());
    e.fails(1, &["verify-bundle", "tampered.json"], "does not verify");

    // The JSON Lines export rebuilds an identical ledger.
    let r = e.ok(&["--ledger", "rebuilt", "--json", "import", "all.jsonl"]);
    assert_eq!(r.json()["created"], true);
    let a = e.ok(&["--ledger", "ledger", "--json", "verify"]).json();
    let b = e.ok(&["--ledger", "rebuilt", "--json", "verify"]).json();
    assert_eq!(a["size"], b["size"]);
    assert_eq!(
        a["root"], b["root"],
        "a restore from the export has the same leaves and root"
    );
}

#[test]
fn errors_name_what_is_wrong_and_exit_non_zero() {
    let e = Env::new();
    e.two_member_ledger();
    // Missing ledger.
    e.fails(2, &["--ledger", "nowhere", "list"], "no ledger in nowhere");
    e.fails(2, &["list"], "--ledger");
    // Bad flags.
    e.fails(2, &["--ledger", "ledger", "prove"], "ENTRY");
    e.fails(
        2,
        &["--ledger", "ledger", "prove", "no such/id?"],
        "neither an entry index nor an entry id",
    );
    e.fails(
        2,
        &["--ledger", "ledger", "status", "--status", "sleeping"],
        "--status",
    );
    // Missing co-signature.
    e.draft_framework("fw", "fw.json");
    e.ok(&["sign", "fw.json", "--key", "jp.key"]);
    e.fails(
        1,
        &["--ledger", "ledger", "submit", "fw.json"],
        "missing signature of US-TREASURY",
    );
    // Wrong key: a member that is not a party. `sign` refuses it (the ledger's own refusal
    // of such a signature is covered by the core's governance tests and the demo's forgery).
    let before = e.read("fw.json");
    e.fails(
        2,
        &["sign", "fw.json", "--key", "de.key"],
        "DE-BMWK is not a party of fw (parties: JP-MOF, US-TREASURY)",
    );
    assert_eq!(e.read("fw.json"), before);
    // Tampered file: the payload changed after signing.
    e.draft_framework("fw2", "fw2.json");
    e.ok(&["sign", "fw2.json", "--key", "jp.key"]);
    e.ok(&["sign", "fw2.json", "--key", "us.key"]);
    let mut env: serde_json::Value = serde_json::from_str(&e.read("fw2.json")).unwrap();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = String::from_utf8(b64.decode(env["payload"].as_str().unwrap()).unwrap()).unwrap();
    let forged = payload.replace("1000000000", "9000000000");
    env["payload"] = serde_json::json!(b64.encode(forged));
    e.write("fw2.json", &serde_json::to_string_pretty(&env).unwrap());
    e.fails(
        1,
        &["--ledger", "ledger", "submit", "fw2.json"],
        "does not verify",
    );
    // Unsigned draft.
    e.draft_framework("fw3", "fw3.json");
    e.fails(
        2,
        &["--ledger", "ledger", "submit", "fw3.json"],
        "unsigned draft",
    );
    // Invalid draft field.
    let r = e.run(&[
        "--ledger",
        "ledger",
        "draft",
        "progress",
        "--id",
        "p",
        "--target",
        "fw",
        "--as-of",
        "2026-02-30",
        "--metric",
        "disbursed",
        "--amount",
        "1",
        "--unit",
        "USD",
        "--out",
        "p.json",
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("as_of") || r.stderr.contains("2026-02-30"),
        "{}",
        r.stderr
    );
    // Wrong passphrase; key readable by others.
    let r = e
        .cmd()
        .env("ACCORD_PASSPHRASE", "wrong")
        .args(["sign", "fw3.json", "--key", "jp.key"])
        .output()
        .unwrap();
    let r: common::Run = r.into();
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("wrong passphrase"), "{}", r.stderr);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(e.path("jp.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
        e.fails(
            2,
            &["sign", "fw3.json", "--key", "jp.key"],
            "readable by others",
        );
    }
    // Nothing of the above changed the ledger.
    let v = e.ok(&["--ledger", "ledger", "--json", "verify"]).json();
    assert_eq!(v["size"], 1);
}

/// `--out` naming a FIFO (like `/dev/null` or `/dev/stdout`) is written in place, never renamed
/// over: an export once replaced `/dev/null` with a regular file that way.
#[cfg(unix)]
#[test]
fn exports_to_special_files_write_in_place_and_leave_no_temporary_files() {
    use std::io::Read;
    use std::os::unix::fs::FileTypeExt;
    let e = Env::new();
    e.two_member_ledger();
    e.ok(&["--ledger", "ledger", "checkpoint", "--log-key", "log.key"]);
    let fifo = e.path("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo failed");
    for format in ["jsonl", "csv", "bundle"] {
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                let mut s = String::new();
                std::fs::File::open(&fifo)
                    .unwrap()
                    .read_to_string(&mut s)
                    .unwrap();
                s
            })
        };
        e.ok(&[
            "--ledger", "ledger", "export", "--format", format, "--out", "pipe",
        ]);
        // Checked before joining: a reader of a FIFO that was renamed over waits forever.
        let file_type = std::fs::metadata(&fifo).unwrap().file_type();
        assert!(file_type.is_fifo(), "{format}: the FIFO was replaced");
        let got = reader.join().unwrap();
        assert!(!got.is_empty(), "{format}: nothing came through the FIFO");
        e.ok(&[
            "--ledger", "ledger", "export", "--format", format, "--out", "file",
        ]);
        assert_eq!(e.read("file"), got, "{format}: file and FIFO differ");
    }
    let leftovers: Vec<String> = std::fs::read_dir(e.dir.path())
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    // A directory that does not exist: a clear error, and nothing half-written.
    e.fails(
        2,
        &[
            "--ledger",
            "ledger",
            "export",
            "--format",
            "jsonl",
            "--out",
            "no/such/dir/x.jsonl",
        ],
        "cannot write no/such/dir/x.jsonl",
    );
}
