//! `accord witness serve` and `accord serve --witness` end to end over loopback: three
//! witnesses cosign the demo's served checkpoints; every status of C2SP tlog-witness
//! `add-checkpoint` for hand-built bodies; a witness killed with SIGKILL at random moments
//! during a flood of requests (forks among them) never cosigns two inconsistent checkpoints
//! and never rolls back; a witness that is down or hangs never blocks submissions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use accord_core::checkpoint::{Checkpoint, SignedCheckpoint};
use accord_core::keys::{KeyPair, VerifierKey};
use accord_core::log::{
    consistency_needs, consistency_proof_from, verify_consistency, Frontier, Hash,
};
use accord_core::witness::encode;
use common::server::{get, http, Server};
use common::Env;
use serde_json::Value;
use sha2::{Digest, Sha256};

const WITNESSES: [&str; 3] = ["GB-HMT", "CA-FIN", "IT-MEF"];

fn demo(env: &Env) {
    env.ok(&["demo", "--dir", "d"]);
}

/// The log's origin and verifier key.
fn log_key(env: &Env) -> (String, String) {
    let v = env
        .ok(&["--json", "--ledger", "d/ledger", "log-key"])
        .json();
    (
        v["origin"].as_str().unwrap().to_owned(),
        v["log_key"].as_str().unwrap().to_owned(),
    )
}

/// The log's private key (the demo stores it unencrypted).
fn log_signer(env: &Env) -> KeyPair {
    let v: Value = serde_json::from_str(&env.read("d/keys/log.key")).unwrap();
    KeyPair::from_skey(v["skey"].as_str().unwrap()).unwrap()
}

/// Member id -> current verifier key.
fn member_keys(env: &Env) -> HashMap<String, VerifierKey> {
    let out = env
        .ok(&["--json", "--ledger", "d/ledger", "members"])
        .stdout;
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["id"].as_str().unwrap().to_owned(),
                VerifierKey::parse(v["key"].as_str().unwrap()).unwrap(),
            )
        })
        .collect()
}

fn witness(env: &Env, member: &str, state: &str, log: &(String, String)) -> Server {
    spawn_witness(env, &format!("d/keys/{member}.key"), state, log, &[])
}

/// `accord witness serve --key KEY --state STATE` on a free loopback port for `log`.
fn spawn_witness(
    env: &Env,
    key: &str,
    state: &str,
    log: &(String, String),
    extra: &[&str],
) -> Server {
    let spec = format!("{}={}", log.0, log.1);
    let mut args = vec![
        "witness",
        "serve",
        "--key",
        key,
        "--state",
        state,
        "--listen",
        "127.0.0.1:0",
        "--log",
        &spec,
    ];
    args.extend_from_slice(extra);
    Server::spawn(env, &args)
}

/// The real tree of the demo ledger, from its exported leaf hashes: roots and proofs at any
/// size, computed here with accord-core's RFC 6962 math.
struct Tree {
    roots: Vec<Hash>,
    stored: Vec<Hash>,
}

impl Tree {
    fn of(env: &Env) -> Tree {
        env.ok(&[
            "--ledger",
            "d/ledger",
            "export",
            "--format",
            "jsonl",
            "--out",
            "all.jsonl",
        ]);
        let mut f = Frontier::new();
        let mut roots = vec![f.root()];
        let mut stored = Vec::new();
        for l in env.read("all.jsonl").lines() {
            let v: Value = serde_json::from_str(l).unwrap();
            let h = Hash::from_base64(v["leaf_hash"].as_str().unwrap()).unwrap();
            stored.extend(f.push(h));
            roots.push(f.root());
        }
        Tree { roots, stored }
    }
    fn size(&self) -> u64 {
        self.roots.len() as u64 - 1
    }
    fn root(&self, n: u64) -> Hash {
        self.roots[n as usize]
    }
    fn proof(&self, old: u64, new: u64) -> Vec<Hash> {
        if old == 0 || old == new {
            return Vec::new();
        }
        let needs = consistency_needs(old, new).unwrap();
        let hs: Vec<Hash> = needs.iter().map(|i| self.stored[i.0 as usize]).collect();
        consistency_proof_from(old, new, &hs).unwrap()
    }
}

fn note(origin: &str, key: &KeyPair, size: u64, root: Hash) -> Vec<u8> {
    let cp = Checkpoint::new(origin, size, root).unwrap();
    SignedCheckpoint::sign(&cp, key.name(), key.signing_key())
        .unwrap()
        .to_bytes()
}

/// POST add-checkpoint: status, content type, body.
fn add(client: &reqwest::blocking::Client, url: &str, body: Vec<u8>) -> (u16, String, Vec<u8>) {
    let r = client
        .post(format!("{url}/add-checkpoint"))
        .body(body)
        .send()
        .unwrap();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (r.status().as_u16(), ct, r.bytes().unwrap().to_vec())
}

/// Checks that `line` is a valid cosignature/v1 by `name` with `key` over `note`.
fn check_cosignature(note_bytes: &[u8], line: &[u8], name: &str, key: &VerifierKey) {
    let text = std::str::from_utf8(line).unwrap();
    assert!(text.starts_with(&format!("\u{2014} {name} ")), "{text:?}");
    assert!(text.ends_with('\n'));
    let mut n = SignedCheckpoint::from_bytes(note_bytes).unwrap();
    n.add_signature_line(line).unwrap();
    let c = n
        .cosignatures()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap();
    assert!(c.timestamp > 0);
    n.verify_cosignature(&c, name, key.verifying_key()).unwrap();
}

#[test]
fn three_witnesses_cosign_the_served_checkpoints() {
    let env = Env::new();
    demo(&env);
    let log = log_key(&env);
    let keys = member_keys(&env);
    let ws: Vec<Server> = WITNESSES
        .iter()
        .map(|m| witness(&env, m, &format!("w-{m}"), &log))
        .collect();
    let mut args = Vec::new();
    for w in &ws {
        args.push("--witness".to_owned());
        args.push(w.url.clone());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(&env, &args);
    let wait_for = |size: Option<u64>| -> SignedCheckpoint {
        let started = Instant::now();
        loop {
            let (s, b) = get(&format!("{}/checkpoint", server.url));
            assert_eq!(s, 200);
            let n = SignedCheckpoint::from_bytes(&b).unwrap();
            let names: Vec<String> = n.cosignatures().into_iter().map(|c| c.name).collect();
            if size.is_none_or(|s| n.checkpoint().size() == s)
                && WITNESSES.iter().all(|w| names.iter().any(|n| n == w))
            {
                return n;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no cosignatures by all three witnesses: {}",
                String::from_utf8_lossy(&b)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let first = wait_for(None);
    let size = first.checkpoint().size();
    // A new entry: the next checkpoint is cosigned too, the witnesses checking the
    // consistency proof from the size they hold.
    let (s, _) = common::server::post(
        &format!("{}/api/v1/entries", server.url),
        signed_floor(&env, &log.0),
    );
    assert_eq!(s, 201);
    let second = wait_for(Some(size + 1));
    for w in WITNESSES {
        let c = second
            .cosignatures()
            .into_iter()
            .find(|c| c.name == w)
            .unwrap();
        second
            .verify_cosignature(&c, w, keys[w].verifying_key())
            .unwrap();
    }
    // Each witness serves what it cosigned (c2sp.org/tlog-witness monitoring retrieval).
    let hash = hex::encode(Sha256::digest(log.0.as_bytes()));
    for w in &ws {
        let (s, b) = get(&format!("{}/{hash}/checkpoint", w.url));
        assert_eq!(s, 200);
        let held = SignedCheckpoint::from_bytes(&b).unwrap();
        assert_eq!(held.checkpoint(), second.checkpoint());
    }
    assert_eq!(server.terminate(), 0);
    for w in ws {
        assert_eq!(w.terminate(), 0, "a witness stops with 0 on SIGTERM");
    }
}

/// A signed price floor by US-DOD, as envelope bytes.
fn signed_floor(env: &Env, origin: &str) -> Vec<u8> {
    common::signed_floor(env, origin, "us-witness-floor", "floor.json");
    std::fs::read(env.path("floor.json")).unwrap()
}

#[test]
fn add_checkpoint_answers_every_status_of_the_spec() {
    let env = Env::new();
    demo(&env);
    let log = log_key(&env);
    let signer = log_signer(&env);
    let tree = Tree::of(&env);
    let keys = member_keys(&env);
    let n = tree.size();
    let k = n / 2;
    let w = witness(&env, "GB-HMT", "w", &log);
    let c = http();
    let origin = log.0.as_str();

    // Garbage and a malformed old line: 400.
    assert_eq!(add(&c, &w.url, b"hello".to_vec()).0, 400);
    let good_k = note(origin, &signer, k, tree.root(k));
    assert_eq!(
        add(&c, &w.url, encode(0, &[], &good_k)[1..].to_vec()).0,
        400
    );
    let mut leading_zero = b"old 00\n\n".to_vec();
    leading_zero.extend_from_slice(&good_k);
    assert_eq!(add(&c, &w.url, leading_zero).0, 400);

    // Unknown origin: 404.
    let stranger = KeyPair::from_seed("other.example/log", &[9; 32]).unwrap();
    let other = note("other.example/log", &stranger, 3, Hash([3; 32]));
    assert_eq!(add(&c, &w.url, encode(0, &[], &other)).0, 404);

    // Signed by another key under the log's name, or a corrupted log signature: 403.
    let impostor = KeyPair::from_seed(signer.name(), &[8; 32]).unwrap();
    let forged = note(origin, &impostor, k, tree.root(k));
    assert_eq!(add(&c, &w.url, encode(0, &[], &forged)).0, 403);
    let mut tampered = good_k.clone();
    let at = tampered.len() - 6;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    assert_eq!(add(&c, &w.url, encode(0, &[], &tampered)).0, 403);

    // The first checkpoint, from 0: 200 with a valid cosignature.
    let (s, ct, body) = add(&c, &w.url, encode(0, &[], &good_k));
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&body));
    assert!(ct.starts_with("text/plain"));
    check_cosignature(&good_k, &body, "GB-HMT", &keys["GB-HMT"]);

    // old differs from what it holds: 409 with text/x.tlog.size and its size.
    let good_n = note(origin, &signer, n, tree.root(n));
    let (s, ct, body) = add(&c, &w.url, encode(0, &[], &good_n));
    assert_eq!(s, 409);
    assert_eq!(ct, "text/x.tlog.size");
    assert_eq!(body, format!("{k}\n").into_bytes());
    let (s, _, body) = add(&c, &w.url, encode(k - 1, &tree.proof(k - 1, n), &good_n));
    assert_eq!((s, body), (409, format!("{k}\n").into_bytes()));

    // old > checkpoint size: 400.
    assert_eq!(add(&c, &w.url, encode(n + 5, &[], &good_n)).0, 400);

    // A bad consistency proof: 422; a proof of the wrong length: 422.
    let mut bad = tree.proof(k, n);
    bad[0] = Hash([0x55; 32]);
    assert_eq!(add(&c, &w.url, encode(k, &bad, &good_n)).0, 422);
    assert_eq!(
        add(&c, &w.url, encode(k, &tree.proof(k, n)[1..], &good_n)).0,
        422
    );
    // A fork: a checkpoint of size n whose root is not the real one, with the real proof.
    let fork_n = note(origin, &signer, n, Hash([0x66; 32]));
    assert_eq!(
        add(&c, &w.url, encode(k, &tree.proof(k, n), &fork_n)).0,
        422
    );

    // The real proof: 200.
    let (s, _, body) = add(&c, &w.url, encode(k, &tree.proof(k, n), &good_n));
    assert_eq!(s, 200);
    check_cosignature(&good_n, &body, "GB-HMT", &keys["GB-HMT"]);

    // Same size, same root: cosigned again; same size, another root: 422.
    assert_eq!(add(&c, &w.url, encode(n, &[], &good_n)).0, 200);
    assert_eq!(add(&c, &w.url, encode(n, &[], &fork_n)).0, 422);
    // That one is proof: the log key signed two roots for size n. The witness kept it once
    // (the same request again adds no file), and anyone can check it offline. The wrong
    // proofs above prove nothing and left no file.
    assert_eq!(add(&c, &w.url, encode(n, &[], &fork_n)).0, 422);
    let kept: Vec<_> = std::fs::read_dir(env.path("w/evidence"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let file = kept[0].to_str().unwrap();
    assert!(file.contains(&format!("fork-{n}-{n}-")), "{file}");
    let r = env.ok(&["--json", "verify-evidence", file]);
    assert_eq!(r.json()["proves_fork"], true, "{}", r.stdout);

    // A restart keeps the state: old k is now a 409 naming n.
    assert_eq!(w.terminate(), 0);
    let w = witness(&env, "GB-HMT", "w", &log);
    let (s, _, body) = add(&c, &w.url, encode(k, &tree.proof(k, n), &good_n));
    assert_eq!((s, body), (409, format!("{n}\n").into_bytes()));
    let hash = hex::encode(Sha256::digest(origin.as_bytes()));
    let (s, b) = get(&format!("{}/{hash}/checkpoint", w.url));
    assert_eq!(s, 200);
    assert_eq!(
        SignedCheckpoint::from_bytes(&b)
            .unwrap()
            .checkpoint()
            .size(),
        n
    );
    assert_eq!(
        get(&format!("{}/{}/checkpoint", w.url, "0".repeat(64))).0,
        404
    );
}

/// A small xorshift: the test's randomness, seeded from the clock and printed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[test]
fn a_witness_killed_during_a_flood_never_cosigns_inconsistent_checkpoints() {
    let env = Env::new();
    demo(&env);
    let log = log_key(&env);
    let signer = Arc::new(log_signer(&env));
    let tree = Arc::new(Tree::of(&env));
    let n = tree.size();
    let seed = Instant::now().elapsed().as_nanos() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
        | 1;
    eprintln!("seed {seed}");
    let first = witness(&env, "CA-FIN", "w", &log);
    // Seed the witness with a real checkpoint: from now on a fork from 0 must get 409.
    let c = http();
    let (s, _, _) = add(
        &c,
        &first.url,
        encode(0, &[], &note(&log.0, &signer, 1, tree.root(1))),
    );
    assert_eq!(s, 200);
    let url = Arc::new(RwLock::new(first.url.clone()));
    let current = Arc::new(Mutex::new(Some(first)));
    let known = Arc::new(AtomicU64::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    let accepted: Arc<Mutex<Vec<(u64, Hash)>>> = Arc::new(Mutex::new(vec![(1, tree.root(1))]));
    let mut threads = Vec::new();
    for t in 0..4u64 {
        let (url, known, stop, accepted, tree, signer, origin) = (
            url.clone(),
            known.clone(),
            stop.clone(),
            accepted.clone(),
            tree.clone(),
            signer.clone(),
            log.0.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let mut rng = Rng(seed.wrapping_mul(t + 7) | 1);
            let client = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let old = known.load(Ordering::Relaxed).min(n);
                let size = old + rng.below(n - old + 1);
                let (root, proof, old) = match rng.below(5) {
                    // A fork of the same size or larger, with the real proof.
                    0 => (
                        Hash(rng.next().to_be_bytes().repeat(4).try_into().unwrap()),
                        tree.proof(old, size),
                        old,
                    ),
                    // A fork from 0, as a witness that lost its state would take it.
                    1 => (Hash([rng.below(255) as u8; 32]), Vec::new(), 0),
                    // A stale old size.
                    2 => (tree.root(size), tree.proof(1, size), 1),
                    _ => (tree.root(size), tree.proof(old, size), old),
                };
                let body = encode(old, &proof, &note(&origin, &signer, size, root));
                let u = url.read().unwrap().clone();
                let Ok(r) = client.post(format!("{u}/add-checkpoint")).body(body).send() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let status = r.status().as_u16();
                let Ok(b) = r.bytes() else { continue };
                sent += 1;
                match status {
                    200 => {
                        // A cosignature was returned: remember what it was for.
                        assert!(b.starts_with("\u{2014} CA-FIN ".as_bytes()));
                        accepted.lock().unwrap().push((size, root));
                        known.fetch_max(size, Ordering::Relaxed);
                    }
                    409 => {
                        let held: u64 = std::str::from_utf8(&b).unwrap().trim().parse().unwrap();
                        known.store(held, Ordering::Relaxed);
                    }
                    400 | 422 => {}
                    other => panic!("status {other}: {}", String::from_utf8_lossy(&b)),
                }
            }
            sent
        }));
    }
    let mut rng = Rng(seed);
    let kills = 12;
    for _ in 0..kills {
        std::thread::sleep(Duration::from_millis(40 + rng.below(250)));
        if let Some(w) = current.lock().unwrap().take() {
            w.kill();
        }
        // Restart on the same state directory (a new port).
        let w = witness(&env, "CA-FIN", "w", &log);
        *url.write().unwrap() = w.url.clone();
        *current.lock().unwrap() = Some(w);
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let sent: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let accepted = accepted.lock().unwrap().clone();
    eprintln!(
        "{sent} answers, {} cosigned, {kills} SIGKILLs",
        accepted.len()
    );
    assert!(accepted.len() > 2, "the flood must have cosigned something");
    // Every cosigned checkpoint is the real tree at its size, and every pair is consistent
    // by the real ledger's proof.
    for (size, root) in &accepted {
        assert_eq!(
            *root,
            tree.root(*size),
            "a fork of size {size} was cosigned"
        );
    }
    let mut sizes: Vec<u64> = accepted.iter().map(|(s, _)| *s).collect();
    sizes.sort_unstable();
    sizes.dedup();
    for (i, a) in sizes.iter().enumerate() {
        for b in &sizes[i + 1..] {
            verify_consistency(*a, *b, &tree.root(*a), &tree.root(*b), &tree.proof(*a, *b))
                .unwrap();
        }
    }
    // No rollback: after the last restart the witness holds at least the largest size it
    // ever cosigned.
    let max = *sizes.last().unwrap();
    let w = current.lock().unwrap().take().unwrap();
    let hash = hex::encode(Sha256::digest(log.0.as_bytes()));
    let (s, b) = get(&format!("{}/{hash}/checkpoint", w.url));
    assert_eq!(s, 200);
    let held = SignedCheckpoint::from_bytes(&b).unwrap();
    assert!(held.checkpoint().size() >= max);
    assert_eq!(
        *held.checkpoint().root(),
        tree.root(held.checkpoint().size())
    );
    assert_eq!(w.terminate(), 0);
}

#[test]
fn a_down_or_hanging_witness_does_not_block_submissions() {
    let env = Env::new();
    demo(&env);
    let log = log_key(&env);
    // One address with nothing listening, one that accepts and never answers.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hanging = format!("http://{}", hang.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in hang.incoming() {
            held.push(s);
        }
    });
    let live = witness(&env, "GB-HMT", "w", &log);
    let server = Server::start(
        &env,
        &[
            "--witness",
            &down,
            "--witness",
            &hanging,
            "--witness",
            &live.url,
        ],
    );
    let started = Instant::now();
    for i in 0..5 {
        let file = format!("floor-{i}.json");
        common::signed_floor(&env, &log.0, &format!("us-floor-{i}"), &file);
        let t = Instant::now();
        let (s, v) = common::server::post(
            &format!("{}/api/v1/entries", server.url),
            std::fs::read(env.path(&file)).unwrap(),
        );
        assert_eq!(s, 201, "{v}");
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "a submission waited on a witness"
        );
    }
    // The live witness still cosigns the latest checkpoint.
    loop {
        let (_, b) = get(&format!("{}/checkpoint", server.url));
        let n = SignedCheckpoint::from_bytes(&b).unwrap();
        if n.cosignatures().iter().any(|c| c.name == "GB-HMT")
            && n.checkpoint().size() >= 5
            && get(&format!("{}/api/v1/checkpoint", server.url)).0 == 200
        {
            let (_, all) = get(&format!("{}/api/v1/entries?from=0&limit=1000", server.url));
            let total = serde_json::from_slice::<Value>(&all)
                .unwrap()
                .as_array()
                .unwrap()
                .len();
            if n.checkpoint().size() == total as u64 {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "the live witness never cosigned"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(server.terminate(), 0);
    assert_eq!(live.terminate(), 0);
}

/// `accord witness serve` for a member of the two-member ledger (keys encrypted with the
/// test passphrase, read from `pass.txt`).
fn member_witness(env: &Env, key: &str, state: &str, log: &(String, String)) -> Server {
    spawn_witness(env, key, state, log, &["--passphrase-file", "pass.txt"])
}

/// A joint JP/US framework signed by both (JP-MOF's signature recorded in jp.key.journal).
fn signed_framework(env: &Env, id: &str) -> String {
    let file = format!("{id}.json");
    env.draft_framework(id, &file);
    env.ok(&["sign", &file, "--key", "jp.key"]);
    env.ok(&["sign", &file, "--key", "us.key"]);
    file
}

fn kinds(stdout: &str) -> Vec<(String, u64)> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["kind"].as_str().unwrap().to_owned(),
                v["index"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_server_two_mirrors_and_three_witnesses_over_loopback() {
    const MEMBERS: [(&str, &str); 3] = [
        ("JP-MOF", "jp.key"),
        ("US-TREASURY", "us.key"),
        ("DE-BMWK", "de.key"),
    ];
    let env = Env::new();
    env.two_member_ledger_with(&[
        "--witness",
        "JP-MOF",
        "--witness",
        "US-TREASURY",
        "--witness",
        "DE-BMWK",
        "--witness-threshold",
        "2",
    ]);
    env.write("pass.txt", "test passphrase");
    let first = signed_framework(&env, "jp-us-1");
    env.ok(&["--ledger", "ledger", "submit", &first]);
    let second = signed_framework(&env, "jp-us-2");
    // Before any witness: the charter's policy (2 of the three) is not met.
    env.ok(&["--ledger", "ledger", "checkpoint", "--log-key", "log.key"]);
    let r = env.ok(&["--ledger", "ledger", "checkpoint"]);
    assert!(r.stderr.contains("witness policy NOT met"), "{}", r.stderr);
    let v = env
        .ok(&["--json", "--ledger", "ledger", "checkpoint"])
        .json();
    assert_eq!(v["witness_policy"]["met"], false, "{v}");
    assert_eq!(v["witness_policy"]["threshold"], 2);
    let lk = env.ok(&["--json", "--ledger", "ledger", "log-key"]).json();
    let log = (
        lk["origin"].as_str().unwrap().to_owned(),
        lk["log_key"].as_str().unwrap().to_owned(),
    );

    let witnesses: Vec<Server> = MEMBERS
        .iter()
        .map(|(m, key)| member_witness(&env, key, &format!("w-{m}"), &log))
        .collect();
    let mut args = vec![
        "--ledger".to_owned(),
        "ledger".into(),
        "serve".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--log-key".into(),
        "log.key".into(),
        "--checkpoint-every".into(),
        "1".into(),
        "--passphrase-file".into(),
        "pass.txt".into(),
    ];
    for w in &witnesses {
        args.push("--witness".into());
        args.push(w.url.clone());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::spawn(&env, &args);

    // The service's checkpoint gathers the three cosignatures and says the policy is met.
    let cosigned_at = |size: u64| -> Value {
        let started = Instant::now();
        loop {
            let (s, b) = get(&format!("{}/api/v1/checkpoint", server.url));
            assert_eq!(s, 200);
            let v: Value = serde_json::from_slice(&b).unwrap();
            if v["tree_size"] == size
                && v["witness_policy"]["cosigned_by"].as_array().unwrap().len() == 3
            {
                return v;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the three witnesses did not cosign size {size}: {v}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let v = cosigned_at(2);
    assert_eq!(v["witness_policy"]["met"], true, "{v}");

    // Two mirrors copy the log from the service, cosignatures included, and each finds
    // the policy met on its own replica.
    let mirror = |dir: &str, new: u64| {
        let r = env.ok(&["--ledger", dir, "--json", "mirror", "--from", &server.url]);
        let v = r.json();
        assert_eq!(v["new_entries"], new, "{v}");
        let mut names: Vec<&str> = v["cosigners"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["DE-BMWK", "JP-MOF", "US-TREASURY"], "{v}");
        let cp = env.ok(&["--json", "--ledger", dir, "checkpoint"]).json();
        assert_eq!(cp["witness_policy"]["met"], true, "{cp}");
        cp
    };
    let m1 = mirror("m1", 2);
    let m2 = mirror("m2", 2);
    assert_eq!(m1["root"], m2["root"]);

    // A new entry over HTTP: the witnesses cosign the next checkpoint from the size each
    // holds (a consistency proof), and the mirrors follow.
    let (s, body) = common::server::post(
        &format!("{}/api/v1/entries", server.url),
        std::fs::read(env.path(&second)).unwrap(),
    );
    assert_eq!(s, 201, "{body}");
    cosigned_at(3);
    let m1 = mirror("m1", 1);
    let m2 = mirror("m2", 1);
    assert_eq!(m1["root"], m2["root"]);
    assert_eq!(m1["tree_size"], 3);
    // Each witness holds that checkpoint, with its own cosignature.
    let hash = hex::encode(Sha256::digest(log.0.as_bytes()));
    for ((m, _), w) in MEMBERS.iter().zip(&witnesses) {
        let (s, b) = get(&format!("{}/{hash}/checkpoint", w.url));
        assert_eq!(s, 200);
        let held = SignedCheckpoint::from_bytes(&b).unwrap();
        assert_eq!(held.checkpoint().size(), 3);
        assert_eq!(
            held.checkpoint().root().to_base64(),
            m1["root"].as_str().unwrap()
        );
        assert!(held.cosignatures().iter().any(|c| c.name == *m));
    }

    // JP-MOF watches one mirror and the service: the same findings, no alert.
    let on_mirror = env.ok(&[
        "--json",
        "--ledger",
        "m2",
        "watch",
        "--member",
        "JP-MOF",
        "--journal",
        "jp.key.journal",
    ]);
    let remote = env.ok(&[
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
    let found = kinds(&on_mirror.stdout);
    assert_eq!(found, kinds(&remote.stdout));
    assert!(found.iter().all(|(k, _)| k != "alert"), "{found:?}");
    assert_eq!(
        found.iter().filter(|(k, _)| k == "signed").count(),
        3,
        "the charter and both frameworks: {found:?}"
    );

    assert_eq!(server.terminate(), 0);
    for w in witnesses {
        assert_eq!(w.terminate(), 0);
    }
}
