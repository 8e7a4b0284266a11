//! `accord mirror` and `accord verify-evidence` end to end over loopback: the demo served by
//! `accord serve`, mirrored into two replicas, followed incrementally, read offline; and a
//! misbehaving tlog-tiles server written here (a proxy in front of the real one with
//! tampering hooks) that forks, rolls back, tampers with a tile or a bundle, truncates a
//! body, closes the connection, hangs, or is slow while the mirror is killed with SIGKILL.
//! Each fault is detected, the replica stays as it was, and the next honest run resumes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accord_core::checkpoint::{Checkpoint, SignedCheckpoint};
use accord_core::keys::KeyPair;
use accord_core::log::Hash;
use common::server::{get, Server};
use common::Env;
use serde_json::Value;

fn origin(env: &Env) -> String {
    let v: Value = serde_json::from_str(&env.read("d/keys/log.key")).unwrap();
    v["name"].as_str().unwrap().to_owned()
}

fn log_key(env: &Env) -> KeyPair {
    let v: Value = serde_json::from_str(&env.read("d/keys/log.key")).unwrap();
    KeyPair::from_skey(v["skey"].as_str().unwrap()).unwrap()
}

/// A price floor by US-DOD, signed, submitted to the server.
fn submit_floor(env: &Env, base: &str, id: &str) {
    let file = format!("{id}.json");
    common::signed_floor(env, &origin(env), id, &file);
    env.ok(&["--server", base, "submit", &file]);
}

fn served_size(base: &str) -> u64 {
    let (_, body) = get(&format!("{base}/checkpoint"));
    SignedCheckpoint::from_bytes(&body)
        .map(|n| n.checkpoint().size())
        .unwrap_or(0)
}

fn wait_for_checkpoint(base: &str, size: u64) {
    let started = Instant::now();
    while served_size(base) < size {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no checkpoint of size {size}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// (size, root) of a replica, by a full `accord verify`.
fn verified(env: &Env, replica: &str) -> (u64, String) {
    let v = env.ok(&["--ledger", replica, "--json", "verify"]).json();
    (
        v["size"].as_u64().unwrap(),
        v["root"].as_str().unwrap().to_owned(),
    )
}

// ---- a misbehaving tlog-tiles server --------------------------------------------------

#[derive(Clone)]
enum Fault {
    None,
    /// Serve this body at /checkpoint.
    Checkpoint(Vec<u8>),
    /// Flip a byte of every level-0 hash tile.
    TamperTile,
    /// Flip a byte of every entry bundle.
    TamperBundle,
    /// Announce the whole entry bundle, send half, close.
    TruncateBundle,
    /// Close the connection without answering a tile or bundle request.
    Close,
    /// Answer nothing for this long.
    Hang(Duration),
    /// Wait this long before each answer.
    Slow(Duration),
}

/// A proxy in front of `upstream` that applies a [`Fault`]; its thread stops with the test.
struct Bad {
    url: String,
    fault: Arc<Mutex<Fault>>,
}

impl Bad {
    fn start(upstream: &str) -> Bad {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/prefix/path", listener.local_addr().unwrap());
        let fault = Arc::new(Mutex::new(Fault::None));
        let f = fault.clone();
        let upstream = upstream.to_owned();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let f = f.clone();
                let upstream = upstream.clone();
                std::thread::spawn(move || {
                    let _ = answer(conn, &upstream, &f);
                });
            }
        });
        Bad { url, fault }
    }

    fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }
}

fn answer(mut conn: TcpStream, upstream: &str, fault: &Mutex<Fault>) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split(' ').nth(1).unwrap_or("/");
    // The mirror must keep the URL's path as a prefix.
    let Some(path) = path.strip_prefix("/prefix/path") else {
        conn.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(());
    };
    let fault = fault.lock().unwrap().clone();
    let (status, mut body) = get(&format!("{upstream}{path}"));
    let is_tile = path.starts_with("/tile/0/");
    let is_bundle = path.starts_with("/tile/entries/");
    match &fault {
        Fault::Checkpoint(b) if path == "/checkpoint" => body = b.clone(),
        Fault::TamperTile if is_tile && !body.is_empty() => body[5] ^= 1,
        Fault::TamperBundle if is_bundle && body.len() > 10 => {
            let at = body.len() - 10;
            body[at] ^= 1;
        }
        Fault::TruncateBundle if is_bundle => {
            write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            conn.write_all(&body[..body.len() / 2])?;
            return Ok(());
        }
        Fault::Close if is_tile || is_bundle => return Ok(()),
        Fault::Hang(d) if is_tile || is_bundle => {
            std::thread::sleep(*d);
            return Ok(());
        }
        Fault::Slow(d) => std::thread::sleep(*d),
        _ => {}
    }
    let reason = if status == 200 { "OK" } else { "Error" };
    write!(
        conn,
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    conn.write_all(&body)
}

/// A child `accord` killed when dropped.
struct Guard(Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn(env: &Env, args: &[&str]) -> Guard {
    let child = Command::new(env!("CARGO_BIN_EXE_accord"))
        .current_dir(env.dir.path())
        .env_remove("ACCORD_LEDGER")
        .env_remove("ACCORD_SERVER")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Guard(Some(child))
}

fn sign(env: &Env, size: u64, root: Hash) -> Vec<u8> {
    let k = log_key(env);
    let cp = Checkpoint::new(&origin(env), size, root).unwrap();
    SignedCheckpoint::sign(&cp, k.name(), k.signing_key())
        .unwrap()
        .to_bytes()
}

fn evidence_path(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("evidence written to "))
        .unwrap_or_else(|| panic!("no evidence path in {stdout:?}"))
        .to_owned()
}

// ---- tests ----------------------------------------------------------------------------

#[test]
fn mirror_two_replicas_follow_incrementally_and_read_offline() {
    let env = Env::new();
    env.ok(&["demo", "--dir", "d"]);
    let server = Server::start(&env, &[]);
    let base = server.url.clone();
    wait_for_checkpoint(&base, 1);

    let r = env.ok(&["--ledger", "r1", "--json", "mirror", "--from", &base]);
    assert!(r.stderr.contains("no --charter-hash given"), "{}", r.stderr);
    let v = r.json();
    let hash = v["charter_hash"].as_str().unwrap().to_owned();
    let first = v["size"].as_u64().unwrap();
    assert!(v["created"].as_bool().unwrap());
    env.fails(
        1,
        &[
            "--ledger",
            "r-wrong",
            "mirror",
            "--from",
            &base,
            "--charter-hash",
            &"00".repeat(32),
        ],
        "not the --charter-hash given",
    );
    let r = env.ok(&[
        "--ledger",
        "r2",
        "mirror",
        "--from",
        &format!("{base}/"),
        "--charter-hash",
        &hash,
    ]);
    assert!(!r.stderr.contains("no --charter-hash"), "{}", r.stderr);
    assert_eq!(verified(&env, "r1"), verified(&env, "r2"));

    submit_floor(&env, &base, "mirror-floor-1");
    submit_floor(&env, &base, "mirror-floor-2");
    wait_for_checkpoint(&base, first + 2);
    let v = env
        .ok(&[
            "--ledger",
            "r1",
            "--json",
            "mirror",
            "--from",
            &base,
            "--charter-hash",
            &hash,
        ])
        .json();
    assert_eq!(v["new_entries"], 2, "{v}");
    assert_eq!(v["size"], first + 2);
    let (size, root) = verified(&env, "r1");
    assert_eq!(size, first + 2);
    let (_, cp) = get(&format!("{base}/checkpoint"));
    let cp = SignedCheckpoint::from_bytes(&cp).unwrap();
    assert_eq!(cp.checkpoint().root().to_base64(), root);
    // Local reads on the replica, offline.
    env.ok(&["--ledger", "r1", "show", "mirror-floor-2"]);
    env.ok(&["--ledger", "r1", "status"]);
    let c = env.ok(&["--ledger", "r1", "checkpoint"]).stdout;
    assert!(c.contains(&root), "{c}");
    env.ok(&["--ledger", "r1", "--json", "prove", &first.to_string()]);
    env.ok(&["--ledger", "r1", "--json", "consistency", "--from", "3"]);
    let up = env
        .ok(&["--ledger", "r1", "mirror", "--from", &base])
        .stdout;
    assert!(up.starts_with("up to date"), "{up}");

    // --follow keeps r2 current until SIGTERM, then exits 0.
    let mut follow = spawn(
        &env,
        &["--ledger", "r2", "mirror", "--from", &base, "--follow", "1"],
    );
    submit_floor(&env, &base, "mirror-floor-3");
    wait_for_checkpoint(&base, first + 3);
    std::thread::sleep(Duration::from_millis(2500));
    let child = follow.0.take().unwrap();
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "--follow did not exit 0 on SIGTERM"
    );
    let (size, _) = verified(&env, "r2");
    assert_eq!(size, first + 3);

    // --cosign: the checkpoint just verified, cosigned in the same run as a member; a
    // checkpoint it cosigned already is left alone; the log's key is no member's.
    submit_floor(&env, &base, "mirror-floor-4");
    wait_for_checkpoint(&base, first + 4);
    let v = env
        .ok(&[
            "--ledger",
            "r1",
            "--json",
            "mirror",
            "--from",
            &base,
            "--cosign",
            "d/keys/CA-FIN.key",
        ])
        .json();
    assert_eq!(v["size"], first + 4, "{v}");
    assert_eq!(v["cosigned"]["tree_size"], first + 4, "{v}");
    assert!(v["cosigned"]["verified"].as_u64().unwrap() >= 2, "{v}");
    let cosigners = v["cosigned"]["cosigners"].as_array().unwrap();
    assert!(cosigners.iter().any(|c| c == "CA-FIN"), "{v}");
    let c = env.ok(&["--ledger", "r1", "checkpoint"]).stdout;
    assert!(c.contains("CA-FIN"), "{c}");
    let again = env
        .ok(&[
            "--ledger",
            "r1",
            "mirror",
            "--from",
            &base,
            "--cosign",
            "d/keys/CA-FIN.key",
        ])
        .stdout;
    assert!(again.contains("CA-FIN cosigned checkpoint"), "{again}");
    assert!(again.contains("already"), "{again}");
    env.fails(
        1,
        &[
            "--ledger",
            "r2",
            "mirror",
            "--from",
            &base,
            "--cosign",
            "d/keys/log.key",
        ],
        "not a member's key",
    );
    drop(server);
}

#[test]
fn a_misbehaving_log_is_refused_and_a_fork_leaves_evidence() {
    let env = Env::new();
    env.ok(&["demo", "--dir", "d"]);
    let server = Server::start(&env, &[]);
    let base = server.url.clone();
    wait_for_checkpoint(&base, 1);
    let bad = Bad::start(&base);
    env.ok(&["--ledger", "r", "mirror", "--from", &bad.url]);
    let before = verified(&env, "r");
    let n = before.0;

    // New entries on the honest log; each fault is refused and changes nothing.
    submit_floor(&env, &base, "fault-floor-1");
    wait_for_checkpoint(&base, n + 1);
    let faults = [
        (Fault::TamperTile, 1, "tampered tile"),
        (
            Fault::TamperBundle,
            1,
            "do not hash to the checkpoint's root",
        ),
        (Fault::TruncateBundle, 2, "cut short"),
        (Fault::Close, 2, "cannot fetch"),
        (Fault::Hang(Duration::from_secs(5)), 2, "cannot fetch"),
    ];
    for (fault, code, needle) in faults {
        bad.set(fault);
        env.fails(
            code,
            &[
                "--ledger",
                "r",
                "mirror",
                "--from",
                &bad.url,
                "--timeout",
                "1",
            ],
            needle,
        );
        assert_eq!(verified(&env, "r"), before);
    }
    // A checkpoint by another key is refused, and is no fork.
    let other = KeyPair::from_seed(&origin(&env), &[9; 32]).unwrap();
    let cp = Checkpoint::new(&origin(&env), n + 1, Hash([7; 32])).unwrap();
    let forged = SignedCheckpoint::sign(&cp, other.name(), other.signing_key()).unwrap();
    bad.set(Fault::Checkpoint(forged.to_bytes()));
    env.fails(
        1,
        &["--ledger", "r", "mirror", "--from", &bad.url],
        "not signed by the log key",
    );
    assert_eq!(verified(&env, "r"), before);

    // The checkpoint of n + 1 entries was verified (signature, tiles, root, consistency)
    // before its bundle was refused: the mirror holds it as pending, and any later
    // checkpoint must be consistent with it.
    assert!(env.path("r").join("mirror-pending.checkpoint").exists());
    // A fork: the real log key signs another tree of the size verified.
    bad.set(Fault::Checkpoint(sign(&env, n + 1, Hash([1; 32]))));
    let r = env.fails(
        1,
        &["--ledger", "r", "mirror", "--from", &bad.url],
        "a fork",
    );
    assert_eq!(verified(&env, "r"), before);
    let ev = evidence_path(&r.stdout);
    let v = env.ok(&["verify-evidence", &ev]).stdout;
    assert!(v.starts_with("fork proven"), "{v}");

    // A rollback: an older, consistent checkpoint. Refused with evidence that, honestly,
    // does not prove a fork (anyone can replay an old checkpoint).
    let old_root = env
        .ok(&["--ledger", "r", "--json", "consistency", "--from", "5"])
        .json();
    let old_root = Hash::from_base64(old_root["old_root"].as_str().unwrap()).unwrap();
    bad.set(Fault::Checkpoint(sign(&env, 5, old_root)));
    let r = env.fails(
        1,
        &["--ledger", "r", "mirror", "--from", &bad.url],
        "a rollback",
    );
    assert_eq!(verified(&env, "r"), before);
    let ev = evidence_path(&r.stdout);
    env.fails(1, &["verify-evidence", &ev], "does not prove a fork");
    // An edited evidence file proves nothing; an unreadable one is exit 2.
    let text = std::fs::read_to_string(env.path(&ev)).unwrap();
    let edited = text.replacen("\"served\": \"", "\"served\": \"x", 1);
    env.write("edited.json", &edited);
    env.fails(
        1,
        &["verify-evidence", "edited.json"],
        "does not prove a fork",
    );
    env.write("junk.json", "not json");
    env.fails(
        2,
        &["verify-evidence", "junk.json"],
        "accord-fork-evidence/1",
    );

    // The log is honest again: the mirror resumes.
    bad.set(Fault::None);
    env.ok(&["--ledger", "r", "mirror", "--from", &bad.url]);
    assert_eq!(verified(&env, "r").0, n + 1);
    drop(server);
}

#[test]
fn a_mirror_killed_mid_sync_resumes_and_verifies() {
    let env = Env::new();
    env.ok(&["demo", "--dir", "d"]);
    let server = Server::start(&env, &[]);
    let base = server.url.clone();
    wait_for_checkpoint(&base, 1);
    let bad = Bad::start(&base);
    bad.set(Fault::Slow(Duration::from_millis(150)));
    for (trial, after_ms) in [50u64, 200, 350, 500].into_iter().enumerate() {
        let dir = format!("killed-{trial}");
        let mut g = spawn(&env, &["--ledger", &dir, "mirror", "--from", &bad.url]);
        std::thread::sleep(Duration::from_millis(after_ms));
        let mut c = g.0.take().unwrap();
        let _ = c.kill();
        let _ = c.wait();
        env.ok(&["--ledger", &dir, "mirror", "--from", &base]);
        let (size, root) = verified(&env, &dir);
        let (_, cp) = get(&format!("{base}/checkpoint"));
        let cp = SignedCheckpoint::from_bytes(&cp).unwrap();
        assert_eq!(size, cp.checkpoint().size());
        assert_eq!(root, cp.checkpoint().root().to_base64());
    }
    drop(server);
}
