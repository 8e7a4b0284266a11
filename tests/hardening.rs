//! Regression tests for issue #9 "Hardening", each named after what it guards: bounded reads,
//! closed output pipes, messages that say one thing once and name the option at fault, one
//! exit-code rule, careful `sign` and `draft`, and strict JSON in every file the CLI reads.
#![allow(clippy::unwrap_used)]

mod common;
use common::{Env, Input};

/// Seconds a command may take to refuse an endless input.
const QUICK: u64 = 15;

fn refuses_quickly(e: &Env, args: &[&str], stdin: Input) {
    let r = e.run_timed(args, stdin, QUICK);
    assert_eq!(
        r.code, 2,
        "accord {args:?}: expected exit 2\nstdout: {}\nstderr: {}",
        r.stdout, r.stderr
    );
    assert!(
        r.stderr.contains("limit"),
        "accord {args:?}: no word of the limit:\n{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[test]
fn every_file_read_is_bounded_for_devices() {
    let e = Env::new();
    e.two_member_ledger();
    e.draft_framework("fw", "fw.json");
    let z = "/dev/zero";
    for args in [
        vec!["--ledger", "ledger", "submit", z],
        vec!["charter", "hash", z],
        vec!["sign", z, "--key", "jp.key"],
        vec!["inspect", z],
        vec!["verify-bundle", z],
        vec![
            "--ledger",
            "x",
            "init",
            "--charter",
            z,
            "--log-key",
            "log.key",
        ],
        vec![
            "draft",
            "admit-member",
            "--origin",
            "test.example/ledger",
            "--id",
            "a1",
            "--member",
            z,
            "--out",
            "a.json",
        ],
        vec![
            "draft",
            "amend",
            "--origin",
            "test.example/ledger",
            "--id",
            "a2",
            "--target",
            "fw",
            "--reason",
            "r",
            "--terms-file",
            z,
            "--out",
            "a.json",
        ],
        vec![
            "draft",
            "rotate-key",
            "--origin",
            "test.example/ledger",
            "--id",
            "a3",
            "--member",
            "JP-MOF",
            "--new-key",
            z,
            "--out",
            "a.json",
        ],
        vec![
            "charter",
            "new",
            "--origin",
            "o.example/x",
            "--name",
            "N",
            "--log-key",
            z,
            "--member",
            "jp.key.member.json",
            "--threshold",
            "1",
            "--out",
            "c.json",
        ],
        vec![
            "charter",
            "new",
            "--origin",
            "o.example/x",
            "--name",
            "N",
            "--log-key",
            "log.key.member.json",
            "--member",
            z,
            "--threshold",
            "1",
            "--out",
            "c.json",
        ],
        vec!["sign", "fw.json", "--key", "jp.key", "--passphrase-file", z],
    ] {
        refuses_quickly(&e, &args, Input::Null);
    }
}

#[test]
fn every_file_read_is_bounded_for_fifos_and_pipes() {
    let e = Env::new();
    e.two_member_ledger();
    e.draft_framework("fw", "fw.json");
    refuses_quickly(
        &e,
        &["--ledger", "ledger", "submit", "/dev/stdin"],
        Input::Endless,
    );
    refuses_quickly(&e, &["charter", "hash", "/dev/stdin"], Input::Endless);
    refuses_quickly(&e, &["verify-bundle", "/dev/stdin"], Input::Endless);
    let f = e.endless_fifo("doc.fifo");
    refuses_quickly(&e, &["inspect", f.to_str().unwrap()], Input::Null);
    let k = e.endless_fifo("key.fifo");
    refuses_quickly(
        &e,
        &["sign", "fw.json", "--key", k.to_str().unwrap()],
        Input::Null,
    );
    let k = e.endless_fifo("log.fifo");
    refuses_quickly(
        &e,
        &[
            "--ledger",
            "ledger",
            "checkpoint",
            "--log-key",
            k.to_str().unwrap(),
        ],
        Input::Null,
    );
    let m = e.endless_fifo("member.fifo");
    refuses_quickly(
        &e,
        &[
            "charter",
            "new",
            "--origin",
            "o.example/x",
            "--name",
            "N",
            "--log-key",
            "log.key.member.json",
            "--member",
            m.to_str().unwrap(),
            "--threshold",
            "1",
            "--out",
            "c.json",
        ],
        Input::Null,
    );
    // A regular file over the limit is refused from its size, before it is read.
    std::fs::File::create(e.path("big.json"))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    refuses_quickly(&e, &["inspect", "big.json"], Input::Null);
}

fn survives_closed_stdout_once(e: &Env, args: &[&str]) {
    let r = e.run_closed_stdout(args);
    assert!(
        !r.stderr.contains("panicked") && r.code != 101,
        "accord {args:?} panicked on a closed stdout: {}",
        r.stderr
    );
    assert_eq!(
        r.code, 0,
        "accord {args:?}: exit {} on a closed stdout: {}",
        r.code, r.stderr
    );
}

/// Runs `args` with a closed stdout, for people and with `--json`.
fn survives_closed_stdout(e: &Env, args: &[&str]) {
    survives_closed_stdout_once(e, args);
    let mut json = vec!["--json"];
    json.extend_from_slice(args);
    survives_closed_stdout_once(e, &json);
}

#[test]
fn a_closed_output_pipe_is_never_a_panic() {
    let e = Env::new();
    e.two_member_ledger();
    e.draft_framework("fw", "fw.json");
    let l = ["--ledger", "ledger"];
    let with_ledger = |rest: &[&str]| {
        let mut v = l.to_vec();
        v.extend_from_slice(rest);
        survives_closed_stdout(&e, &v);
    };
    let keygen = [
        "keygen",
        "--id",
        "FR-X",
        "--country",
        "FR",
        "--name",
        "F",
        "--unencrypted",
        "--out",
    ];
    survives_closed_stdout_once(&e, &[&keygen[..], &["fr.key"]].concat());
    survives_closed_stdout_once(&e, &[&["--json"], &keygen[..], &["fr2.key"]].concat());
    survives_closed_stdout(&e, &["charter", "hash", "charter.json"]);
    survives_closed_stdout(
        &e,
        &[
            "charter",
            "new",
            "--origin",
            "o.example/x",
            "--name",
            "N",
            "--log-key",
            "log.key.member.json",
            "--member",
            "jp.key.member.json",
            "--threshold",
            "1",
            "--out",
            "c.json",
        ],
    );
    survives_closed_stdout(&e, &["inspect", "fw.json"]);
    with_ledger(&["sign", "fw.json", "--key", "jp.key"]);
    with_ledger(&["inspect", "fw.json"]);
    with_ledger(&["sign", "fw.json", "--key", "us.key"]);
    survives_closed_stdout_once(&e, &["--ledger", "ledger", "submit", "fw.json"]);
    with_ledger(&[
        "draft",
        "withdraw",
        "--id",
        "w1",
        "--target",
        "fw",
        "--reason",
        "r",
        "--out",
        "/dev/null",
    ]);
    with_ledger(&["checkpoint", "--log-key", "log.key"]);
    with_ledger(&["checkpoint"]);
    with_ledger(&["list"]);
    with_ledger(&["show", "1"]);
    with_ledger(&["history", "fw"]);
    with_ledger(&["status"]);
    with_ledger(&["summary"]);
    with_ledger(&["members"]);
    with_ledger(&["log-key"]);
    with_ledger(&["prove", "1"]);
    with_ledger(&["prove", "1", "--format", "tlog-proof"]);
    with_ledger(&["consistency", "--from", "1"]);
    with_ledger(&["verify"]);
    with_ledger(&["export", "--format", "jsonl", "--out", "-"]);
    with_ledger(&["export", "--format", "bundle", "--out", "b.json"]);
    survives_closed_stdout(&e, &["verify-bundle", "b.json"]);
    survives_closed_stdout(&Env::new(), &["demo", "--dir", "d", "--force"]);
}

fn occurrences(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

#[test]
fn a_rejection_gives_its_reason_once() {
    let e = Env::new();
    e.two_member_ledger();
    e.draft_framework("fw", "fw.json");
    let r = e.ok(&["--ledger", "ledger", "sign", "fw.json", "--key", "jp.key"]);
    assert_eq!(
        occurrences(&r.stdout, "missing signature of US-TREASURY"),
        1,
        "{}",
        r.stdout
    );
    let r = e.fails(
        1,
        &["--ledger", "ledger", "submit", "fw.json"],
        "missing signature of US-TREASURY",
    );
    assert_eq!(
        occurrences(&r.stderr, "missing signature of US-TREASURY"),
        1,
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("fw.json"), "{}", r.stderr);
    // A second submit of the same entry: its reason once too.
    e.ok(&["--ledger", "ledger", "sign", "fw.json", "--key", "us.key"]);
    e.ok(&["--ledger", "ledger", "submit", "fw.json"]);
    let r = e.fails(
        1,
        &["--ledger", "ledger", "submit", "fw.json"],
        "entry id fw is already in the ledger",
    );
    assert_eq!(
        occurrences(&r.stderr, "already in the ledger"),
        1,
        "{}",
        r.stderr
    );
}

/// `accord draft framework` with the group's usual flags and `extra`.
fn framework_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "--ledger",
        "ledger",
        "draft",
        "framework",
        "--id",
        "fw2",
        "--party",
        "JP-MOF",
        "--title",
        "T",
        "--commodity",
        "rare-earths",
        "--instrument",
        "I",
        "--source",
        "https://example.org/fw",
        "--tool",
        "stockpiling",
        "--partner",
        "JP",
        "--partner",
        "US",
        "--out",
        "fw2.json",
    ];
    v.extend_from_slice(extra);
    v
}

#[test]
fn a_draft_field_error_names_its_json_path_and_option() {
    let e = Env::new();
    e.two_member_ledger();
    e.fails(
        2,
        &framework_args(&["--from", "2026-01-13", "--pledge", "10x00:USD"]),
        "terms.measure.pledges[0].amount (set by --pledge)",
    );
    e.fails(
        2,
        &framework_args(&["--from", "2026-01-13", "--pledge", "100:US"]),
        "terms.measure.pledges[0].currency (set by --pledge)",
    );
    e.fails(
        2,
        &framework_args(&["--from", "2026-01-13", "--until", "2025-01-01"]),
        "terms.effective.until (set by --until)",
    );
    e.fails(
        2,
        &[
            "--ledger", "ledger", "draft", "withdraw", "--id", "w", "--target", "fw", "--reason",
            "", "--out", "w.json",
        ],
        "reason (set by --reason)",
    );
}

#[test]
fn a_date_error_names_the_option_and_the_form() {
    let e = Env::new();
    e.two_member_ledger();
    for bad in ["2026-13-13", "2026-1-13"] {
        let r = e.fails(2, &framework_args(&["--from", bad]), "(set by --from)");
        assert!(r.stderr.contains("YYYY-MM-DD"), "{}", r.stderr);
    }
    let r = e.fails(
        2,
        &[
            "--ledger",
            "ledger",
            "draft",
            "progress",
            "--id",
            "p",
            "--target",
            "fw",
            "--as-of",
            "2026-06-31",
            "--metric",
            "disbursed",
            "--amount",
            "5",
            "--unit",
            "USD",
            "--out",
            "p.json",
        ],
        "(set by --as-of)",
    );
    assert!(r.stderr.contains("YYYY-MM-DD"), "{}", r.stderr);
    let r = e.fails(
        2,
        &["--ledger", "ledger", "status", "--since", "2026-13-01"],
        "--since",
    );
    assert!(r.stderr.contains("YYYY-MM-DD"), "{}", r.stderr);
}

#[test]
fn an_envelope_without_payload_type_is_malformed_not_a_draft() {
    let e = Env::new();
    e.two_member_ledger();
    e.write("env.json", r#"{"payload": "e30=", "signatures": []}"#);
    for args in [
        vec!["--ledger", "ledger", "submit", "env.json"],
        vec!["inspect", "env.json"],
        vec!["sign", "env.json", "--key", "jp.key"],
    ] {
        let r = e.fails(2, &args, "malformed DSSE envelope: missing `payloadType`");
        assert!(!r.stderr.contains("unsigned draft"), "{}", r.stderr);
    }
}

#[cfg(unix)]
#[test]
fn a_key_path_that_is_a_directory_says_so() {
    use std::os::unix::fs::PermissionsExt;
    let e = Env::new();
    e.two_member_ledger();
    e.draft_framework("fw", "fw.json");
    std::fs::create_dir(e.path("keys")).unwrap();
    std::fs::set_permissions(e.path("keys"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = e.fails(2, &["sign", "fw.json", "--key", "keys"], "is a directory");
    assert!(!r.stderr.contains("chmod"), "{}", r.stderr);
}

#[test]
fn a_refused_signature_exits_1_like_a_refused_submit() {
    let e = Env::new();
    e.two_member_ledger();
    e.ok(&[
        "keygen",
        "--id",
        "FR-X",
        "--country",
        "FR",
        "--name",
        "F",
        "--out",
        "fr.key",
    ]);
    // The log's key is not a member's; jp.key is not the log's.
    e.fails(
        1,
        &["--ledger", "ledger", "checkpoint", "--log-key", "jp.key"],
        "not the ledger's log key",
    );
    e.ok(&["--ledger", "ledger", "checkpoint", "--log-key", "log.key"]);
    e.fails(
        1,
        &["--ledger", "ledger", "cosign", "--key", "fr.key"],
        "FR-X is not an active member",
    );
    e.fails(
        1,
        &["--ledger", "ledger", "cosign", "--key", "log.key"],
        "not a member's key",
    );
    e.ok(&["--ledger", "ledger", "cosign", "--key", "jp.key"]);
    e.fails(
        1,
        &["--ledger", "ledger", "cosign", "--key", "jp.key"],
        "already cosigned",
    );
    e.fails(
        1,
        &[
            "--ledger",
            "ledger2",
            "init",
            "--charter",
            "charter.json",
            "--log-key",
            "jp.key",
        ],
        "is not the log key the charter names",
    );
}

#[test]
fn export_of_an_unknown_commitment_is_an_error() {
    let e = Env::new();
    e.two_member_ledger();
    for format in ["jsonl", "csv", "bundle"] {
        e.fails(
            2,
            &[
                "--ledger",
                "ledger",
                "export",
                "--format",
                format,
                "--commitment",
                "nope",
                "--out",
                "x.out",
            ],
            "no commitment nope",
        );
    }
    assert!(!e.path("x.out").exists());
}

#[test]
fn a_file_that_is_not_a_bundle_is_an_input_error() {
    let e = Env::new();
    e.write("b.json", r#"{"format": "something else"}"#);
    e.fails(2, &["verify-bundle", "b.json"], "b.json");
    e.write("b.json", "not json");
    e.fails(2, &["verify-bundle", "b.json"], "b.json");
}

#[test]
fn sign_refuses_a_member_who_is_not_entitled_and_writes_nothing() {
    let e = Env::new();
    e.two_member_ledger();
    e.ok(&[
        "keygen",
        "--id",
        "FR-X",
        "--country",
        "FR",
        "--name",
        "F",
        "--out",
        "fr.key",
    ]);
    e.draft_framework("fw", "fw.json");
    let before = e.read("fw.json");
    // A commitment's parties are in the draft: no ledger needed.
    e.fails(
        2,
        &["sign", "fw.json", "--key", "de.key"],
        "DE-BMWK is not a party of fw (parties: JP-MOF, US-TREASURY)",
    );
    assert_eq!(e.read("fw.json"), before);
    e.fails(
        2,
        &["sign", "fw.json", "--key", "de.key", "--out", "other.json"],
        "not a party",
    );
    assert!(!e.path("other.json").exists());
    // A charter's founders are in the draft.
    e.ok(&[
        "charter",
        "new",
        "--origin",
        "o.example/x",
        "--name",
        "N",
        "--log-key",
        "log.key.member.json",
        "--member",
        "jp.key.member.json",
        "--threshold",
        "1",
        "--out",
        "c.json",
    ]);
    e.fails(
        2,
        &["sign", "c.json", "--key", "us.key"],
        "US-TREASURY is not a founding member of charter charter",
    );
    // Lifecycle entries: the target's parties, from the ledger at hand.
    e.ok(&["--ledger", "ledger", "sign", "fw.json", "--key", "jp.key"]);
    e.ok(&["--ledger", "ledger", "sign", "fw.json", "--key", "us.key"]);
    e.ok(&["--ledger", "ledger", "submit", "fw.json"]);
    e.ok(&[
        "--ledger", "ledger", "draft", "withdraw", "--id", "w1", "--target", "fw", "--reason", "r",
        "--out", "w.json",
    ]);
    e.fails(
        2,
        &["--ledger", "ledger", "sign", "w.json", "--key", "de.key"],
        "DE-BMWK is not a party of fw (parties: JP-MOF, US-TREASURY)",
    );
    // Governance entries: members, from the ledger at hand.
    e.ok(&[
        "--ledger",
        "ledger",
        "draft",
        "remove-member",
        "--id",
        "rm1",
        "--member",
        "DE-BMWK",
        "--reason",
        "r",
        "--out",
        "rm.json",
    ]);
    e.fails(
        2,
        &["--ledger", "ledger", "sign", "rm.json", "--key", "fr.key"],
        "FR-X is not a member of the ledger (members: DE-BMWK, JP-MOF, US-TREASURY)",
    );
    e.ok(&["--ledger", "ledger", "sign", "rm.json", "--key", "jp.key"]);
}

#[test]
fn draft_refuses_to_overwrite_without_force() {
    let e = Env::new();
    e.two_member_ledger();
    e.write("fw.json", "keep me");
    let mut args = vec![
        "--ledger",
        "ledger",
        "draft",
        "framework",
        "--id",
        "fw",
        "--party",
        "JP-MOF",
        "--title",
        "T",
        "--commodity",
        "rare-earths",
        "--from",
        "2026-01-13",
        "--instrument",
        "I",
        "--source",
        "https://example.org/fw",
        "--partner",
        "JP",
        "--partner",
        "US",
        "--tool",
        "stockpiling",
        "--out",
        "fw.json",
    ];
    e.fails(
        2,
        &args,
        "fw.json exists; refusing to overwrite it (use --force",
    );
    assert_eq!(e.read("fw.json"), "keep me");
    args.push("--force");
    e.ok(&args);
    assert_ne!(e.read("fw.json"), "keep me");
}

#[test]
fn draft_checks_parties_and_id_against_the_ledger_at_hand() {
    let e = Env::new();
    e.two_member_ledger();
    let base = [
        "draft",
        "framework",
        "--title",
        "T",
        "--commodity",
        "rare-earths",
        "--from",
        "2026-01-13",
        "--instrument",
        "I",
        "--source",
        "https://example.org/fw",
        "--partner",
        "JP",
        "--partner",
        "US",
        "--tool",
        "stockpiling",
        "--out",
        "d.json",
        "--force",
    ];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut v = vec!["--ledger", "ledger"];
        v.extend_from_slice(&base);
        v.extend_from_slice(extra);
        v
    };
    e.fails(
        2,
        &with(&["--id", "x1", "--party", "JP-MOF", "--party", "FR-X"]),
        "--party FR-X: not a member of the ledger (members: DE-BMWK, JP-MOF, US-TREASURY)",
    );
    assert!(!e.path("d.json").exists());
    e.fails(
        2,
        &with(&["--id", "charter", "--party", "JP-MOF"]),
        "--id charter: an entry with this id is already in the ledger",
    );
    e.fails(
        2,
        &[
            "--ledger", "ledger", "draft", "withdraw", "--id", "w", "--target", "nope", "--reason",
            "r", "--out", "w.json",
        ],
        "no commitment nope in the ledger",
    );
    // Without a ledger at hand, nothing to check against: the draft is written.
    let mut v = base.to_vec();
    v.extend_from_slice(&[
        "--origin",
        "test.example/ledger",
        "--id",
        "x1",
        "--party",
        "FR-X",
    ]);
    e.ok(&v);
}

#[test]
fn a_duplicate_json_member_is_refused_in_every_file_the_cli_reads() {
    let e = Env::new();
    e.two_member_ledger();
    e.draft_framework("fw", "fw.json");
    // A member file.
    let member = e.read("jp.key.member.json");
    let dup = member.replacen(
        "\"country\": \"JP\",",
        "\"country\": \"JP\", \"country\": \"US\",",
        1,
    );
    assert_ne!(dup, member);
    e.write("dup.member.json", &dup);
    e.fails(
        2,
        &[
            "charter",
            "new",
            "--origin",
            "o.example/x",
            "--name",
            "N",
            "--log-key",
            "log.key.member.json",
            "--member",
            "dup.member.json",
            "--threshold",
            "1",
            "--out",
            "c.json",
        ],
        "duplicate member `country`",
    );
    e.fails(
        2,
        &[
            "--ledger",
            "ledger",
            "draft",
            "admit-member",
            "--id",
            "adm",
            "--member",
            "dup.member.json",
            "--out",
            "adm.json",
        ],
        "duplicate member `country`",
    );
    // A verifier key given as a member file.
    let dup_key = member.replacen("\"key\":", "\"key\": \"x\", \"key\":", 1);
    e.write("dupkey.member.json", &dup_key);
    e.fails(
        2,
        &[
            "charter",
            "new",
            "--origin",
            "o.example/x",
            "--name",
            "N",
            "--log-key",
            "dupkey.member.json",
            "--member",
            "jp.key.member.json",
            "--threshold",
            "1",
            "--out",
            "c.json",
        ],
        "duplicate member `key`",
    );
    // A key file.
    e.ok(&[
        "keygen",
        "--id",
        "JP-MOF",
        "--country",
        "JP",
        "--name",
        "F",
        "--out",
        "plain.key",
        "--unencrypted",
    ]);
    let key = e.read("plain.key");
    let dup = key.replacen(
        "\"name\": \"JP-MOF\",",
        "\"name\": \"JP-MOF\", \"name\": \"US-TREASURY\",",
        1,
    );
    assert_ne!(dup, key);
    e.write("dup.key", &dup);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(e.path("dup.key"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
    }
    e.fails(
        2,
        &["sign", "fw.json", "--key", "dup.key"],
        "duplicate member `name`",
    );
    // A draft, and a terms file.
    let draft = e.read("fw.json");
    let dup = draft.replacen("\"id\": \"fw\",", "\"id\": \"fw\", \"id\": \"other\",", 1);
    assert_ne!(dup, draft);
    e.write("dup.json", &dup);
    e.fails(2, &["inspect", "dup.json"], "duplicate member `id`");
    e.fails(
        2,
        &["sign", "dup.json", "--key", "jp.key"],
        "duplicate member `id`",
    );
    e.write("terms.json", r#"{"title": "a", "title": "b"}"#);
    e.fails(
        2,
        &[
            "--ledger",
            "ledger",
            "draft",
            "amend",
            "--id",
            "am",
            "--target",
            "fw",
            "--reason",
            "r",
            "--terms-file",
            "terms.json",
            "--out",
            "am.json",
        ],
        "duplicate member `title`",
    );
}
