//! `accord publish` against a real S3 server: moto's server application (`pip install
//! 'moto[server]'`) on a free loopback port, killed when the test ends, served one request at
//! a time by `tests/tools/moto_serial.py` (moto checks a conditional write and then writes with
//! no lock between, so two publishers at once could both pass the check, which S3 never
//! allows: the likely cause of one failure of `two_publishers_at_once_never_roll_the_checkpoint_back`
//! in a fresh clone under load). A reader written here
//! from c2sp.org/tlog-tiles fetches the published objects over plain HTTP (path style,
//! `http://127.0.0.1:PORT/BUCKET/PREFIX/...`), recomputes every bundle's leaf hashes against
//! the tiles and the root against the checkpoint it verified. Covered: a full publish of the
//! demo (bytes identical to `accord serve`'s), an interrupted publish (SIGKILL) resumed, the
//! bounded cost of one new entry, two publishers at once, tampered objects, wrong credentials
//! and a missing bucket, a `file:///` target, and `accord serve --publish-to`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use accord_core::checkpoint::SignedCheckpoint;
use accord_core::keys::{KeyPair, VerifierKey};
use accord_ledger::synth::Synth;
use accord_ledger::Ledger;
use common::server::{get, post, Server};
use common::tiles::{leaf_hash, mth, tile_suffix, tiles_for};
use common::{signed_floor, Env};
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;
use serde_json::Value;

// ---- moto: a real S3 server on loopback -------------------------------------------------

/// A running `moto_server`, killed when dropped.
struct Moto {
    child: Option<Child>,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Moto {
    /// Starts moto on a free port; with `auth`, it checks credentials (none are valid) after
    /// the first two requests (the readiness probe, the bucket's creation).
    fn start(auth: bool) -> Moto {
        let port = free_port();
        let mut cmd = common::tools::moto_serial(port);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if auth {
            // The readiness probe and the bucket's creation go unchecked.
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "2");
        }
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => panic!(
                "cannot start moto_server ({e}): these tests need a real S3 server; install it \
                 with `pip install 'moto[server]'`"
            ),
        };
        let moto = Moto {
            child: Some(child),
            port,
        };
        let started = Instant::now();
        loop {
            if reqwest::blocking::get(moto.url()).is_ok() {
                return moto;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto_server did not answer on port {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket anyone may read (as a public log's bucket is).
    fn bucket(&self, name: &str) {
        let r = reqwest::blocking::Client::new()
            .put(format!("{}/{name}", self.url()))
            .header("x-amz-acl", "public-read")
            .send()
            .unwrap();
        assert!(
            r.status().is_success(),
            "create bucket {name}: {}",
            r.status()
        );
    }

    /// The environment `accord publish` reads for this server.
    fn env(&self, cmd: &mut Command) {
        for (k, _) in std::env::vars() {
            if k.starts_with("AWS_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("AWS_ENDPOINT_URL", self.url())
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1");
    }

    /// A client of the bucket, to inspect and tamper with it as another writer would.
    fn store(&self, bucket: &str) -> Arc<dyn ObjectStore> {
        Arc::new(
            AmazonS3Builder::new()
                .with_endpoint(self.url())
                .with_allow_http(true)
                .with_bucket_name(bucket)
                .with_region("us-east-1")
                .with_access_key_id("test")
                .with_secret_access_key("test")
                .build()
                .unwrap(),
        )
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Every object key under `prefix`.
fn keys(store: &Arc<dyn ObjectStore>, prefix: &str) -> Vec<String> {
    let p = ObjectPath::from(prefix);
    let mut out: Vec<String> = block_on(store.list(Some(&p)).try_collect::<Vec<_>>())
        .unwrap()
        .into_iter()
        .map(|m| m.location.to_string())
        .collect();
    out.sort();
    out
}

fn publish_cmd(env: &Env, moto: &Moto, ledger: &str, to: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_accord"));
    // Piped, so a spawned publisher's `wait_with_output` has its answer and its reason (with
    // the default, inherited streams, both came back empty).
    c.current_dir(env.dir.path())
        .env_remove("ACCORD_LEDGER")
        .args(["--json", "--ledger", ledger, "publish", "--to", to])
        .args(extra)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    moto.env(&mut c);
    c
}

/// Runs `accord publish` to completion: (exit code, stdout JSON or Null, stderr).
fn publish(env: &Env, moto: &Moto, ledger: &str, to: &str) -> (i32, Value, String) {
    let o = publish_cmd(env, moto, ledger, to, &[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        o.status.code().unwrap_or(-1),
        serde_json::from_slice(&o.stdout).unwrap_or(Value::Null),
        stderr,
    )
}

fn publish_ok(env: &Env, moto: &Moto, ledger: &str, to: &str) -> Value {
    let (code, v, stderr) = publish(env, moto, ledger, to);
    assert_eq!(code, 0, "accord publish --to {to}: {stderr}");
    v
}

// ---- a tlog-tiles reader written from c2sp.org/tlog-tiles --------------------------------

/// Every path the reader fetched, in order, with its bytes.
type Fetched = Vec<(String, Vec<u8>)>;

/// Reads a published log as a client that trusts only the log key: verifies the checkpoint's
/// signature, fetches every entry bundle and hash tile of its size, checks each bundle's
/// leaf hashes against the level-0 tiles, each level's tiles against the roots of the level
/// below, and the root against the checkpoint. Returns the size and what it fetched, or what
/// is wrong.
fn read_log(
    fetch: &dyn Fn(&str) -> Option<Vec<u8>>,
    log_key: &VerifierKey,
) -> Result<(u64, Fetched), String> {
    let mut fetched = Vec::new();
    let note_bytes = fetch("checkpoint").ok_or("no checkpoint")?;
    let note = SignedCheckpoint::from_bytes(&note_bytes).map_err(|e| format!("checkpoint: {e}"))?;
    note.verify_log(log_key.name(), log_key.verifying_key())
        .map_err(|e| format!("checkpoint signature: {e}"))?;
    fetched.push(("checkpoint".to_owned(), note_bytes));
    let size = note.checkpoint().size();
    let mut leaves = Vec::new();
    for (n, w) in tiles_for(size) {
        let path = format!("tile/entries/{}", tile_suffix(n, w));
        let bundle = fetch(&path).ok_or(format!("{path} missing"))?;
        let mut rest = &bundle[..];
        let mut got = 0;
        while !rest.is_empty() {
            if rest.len() < 2 {
                return Err(format!("{path}: truncated length"));
            }
            let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
            let leaf = rest
                .get(2..2 + len)
                .ok_or(format!("{path}: truncated entry"))?;
            leaves.push(leaf.to_vec());
            rest = &rest[2 + len..];
            got += 1;
        }
        if got != w {
            return Err(format!("{path} holds {got} entries, not {w}"));
        }
        fetched.push((path, bundle));
    }
    let mut level: Vec<[u8; 32]> = leaves.iter().map(|l| leaf_hash(l)).collect();
    let leaf_hashes = level.clone();
    let mut l = 0;
    while !level.is_empty() {
        for (i, (n, w)) in tiles_for(level.len() as u64).into_iter().enumerate() {
            let path = format!("tile/{l}/{}", tile_suffix(n, w));
            let tile = fetch(&path).ok_or(format!("{path} missing"))?;
            let want: Vec<u8> = level[i * 256..i * 256 + w as usize].concat();
            if tile != want {
                return Err(format!(
                    "{path} does not hold the hashes of the level below"
                ));
            }
            fetched.push((path, tile));
        }
        level = level
            .chunks(256)
            .filter(|c| c.len() == 256)
            .map(mth)
            .collect();
        l += 1;
    }
    if mth(&leaf_hashes) != note.checkpoint().root().0 {
        return Err("the entries do not hash to the checkpoint's root".into());
    }
    Ok((size, fetched))
}

/// A reader of `base` over plain HTTP.
fn over_http(base: String) -> impl Fn(&str) -> Option<Vec<u8>> {
    move |path| {
        let (s, b) = get(&format!("{base}/{path}"));
        (s == 200).then_some(b)
    }
}

fn demo_log_key(env: &Env) -> VerifierKey {
    let b: Value = serde_json::from_str(&env.read("d/exports/audit-bundle.json")).unwrap();
    VerifierKey::parse(b["log_key"].as_str().unwrap()).unwrap()
}

/// A ledger of the synthetic group with `entries` entries after the charter and a checkpoint,
/// made with the library (the binary's import of that many would only be slower).
fn synth_ledger(dir: &Path, entries: usize) -> (Synth, KeyPair) {
    let mut synth = Synth::new(4, 7);
    let key = KeyPair::from_skey(&synth.log.to_skey()).unwrap();
    let mut l = Ledger::create(dir, &synth.charter()).unwrap();
    grow(&mut l, &mut synth, &key, entries);
    (synth, key)
}

fn grow(l: &mut Ledger, synth: &mut Synth, key: &KeyPair, entries: usize) {
    let mut left = entries;
    while left > 0 {
        let n = left.min(1000);
        let batch: Vec<_> = (0..n).map(|_| synth.next_entry()).collect();
        for r in l.append_batch(&batch).unwrap() {
            r.unwrap();
        }
        left -= n;
    }
    l.issue_checkpoint(key).unwrap();
}

fn synth_log_key(key: &KeyPair) -> VerifierKey {
    key.verifier().unwrap()
}

// ---- the tests ----------------------------------------------------------------------------

#[test]
fn the_demo_published_to_s3_reads_back_as_accord_serve_serves_it() {
    let moto = Moto::start(false);
    moto.bucket("g7-log");
    let env = Env::new();
    env.ok(&["demo", "--dir", "d"]);
    let v = publish_ok(&env, &moto, "d/ledger", "s3://g7-log/pub/v1");
    assert_eq!(v["previous"], Value::Null);
    assert_eq!(v["checkpoint_written"], true);
    let size = v["size"].as_u64().unwrap();

    let base = format!("{}/g7-log/pub/v1", moto.url());
    let (read, fetched) = read_log(&over_http(base.clone()), &demo_log_key(&env)).unwrap();
    assert_eq!(read, size);
    // Every tile and bundle of the tree, and the checkpoint: nothing else.
    let store = moto.store("g7-log");
    let stored = keys(&store, "pub/v1");
    assert_eq!(stored.len(), fetched.len(), "{stored:?}");
    assert_eq!(v["written"].as_u64().unwrap() + 1, fetched.len() as u64);

    // Headers a CDN and a browser act on.
    let r = reqwest::blocking::get(format!("{base}/checkpoint")).unwrap();
    assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(r.headers()["cache-control"], "no-cache");
    let partial = &fetched[1].0;
    let r = reqwest::blocking::get(format!("{base}/{partial}")).unwrap();
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(r.headers()["cache-control"], "no-cache");

    // The same bytes as `accord serve` serves for each path.
    let server = Server::start(&env, &[]);
    for (path, bytes) in &fetched {
        let (s, served) = get(&format!("{}/{path}", server.url));
        assert_eq!(s, 200, "{path}");
        assert_eq!(
            &served, bytes,
            "{path} differs from what accord serve serves"
        );
    }
    drop(server);

    // `accord mirror` follows the static copy (no server) and the replica verifies, with the
    // local ledger's tree and charter.
    let local = env.ok(&["--ledger", "d/ledger", "--json", "verify"]).json();
    let hash = local["charter_hash"].as_str().unwrap();
    let m = env
        .ok(&[
            "--ledger",
            "rep",
            "--json",
            "mirror",
            "--from",
            &base,
            "--charter-hash",
            hash,
        ])
        .json();
    assert_eq!(m["size"].as_u64(), Some(size), "{m}");
    let rep = env.ok(&["--ledger", "rep", "--json", "verify"]).json();
    assert_eq!(
        (&rep["size"], &rep["root"], &rep["charter_hash"]),
        (&local["size"], &local["root"], &local["charter_hash"])
    );

    // Again: nothing new, one request.
    let v = publish_ok(&env, &moto, "d/ledger", "s3://g7-log/pub/v1");
    assert_eq!(
        (v["written"].as_u64(), v["checkpoint_written"].as_bool()),
        (Some(0), Some(false))
    );
    assert_eq!(v["requests"], 1);
}

#[test]
fn full_tiles_are_immutable_and_an_interrupted_publish_resumes() {
    let moto = Moto::start(false);
    moto.bucket("big");
    let env = Env::new();
    let dir = env.path("big");
    let (mut synth, key) = synth_ledger(&dir, 5_000);
    let v = publish_ok(&env, &moto, "big", "s3://big/log");
    assert_eq!(v["size"], 5_001);
    let base = format!("{}/big/log", moto.url());
    let r = reqwest::blocking::get(format!("{base}/tile/0/000")).unwrap();
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let store = moto.store("big");
    let before = keys(&store, "log");

    // The ledger grows by 60,000 entries; the publish of them is killed mid-way.
    {
        let mut l = Ledger::open(&dir).unwrap();
        grow(&mut l, &mut synth, &key, 60_000);
    }
    let mut child = publish_cmd(&env, &moto, "big", "s3://big/log", &["--jobs", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if keys(&store, "log").len() >= before.len() + 40 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the publish finished before it could be interrupted"
        );
        assert!(started.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Killed: new tiles are there, but the checkpoint is still the old one (no reader sees
    // a tree whose tiles are missing), and it still reads back whole.
    let (old, _) = read_log(&over_http(base.clone()), &synth_log_key(&key)).unwrap();
    assert_eq!(old, 5_001);
    assert!(keys(&store, "log").len() > before.len());

    let v = publish_ok(&env, &moto, "big", "s3://big/log");
    assert_eq!(v["previous"], 5_001);
    assert_eq!(v["size"], 65_001);
    assert!(v["existing"].as_u64().unwrap() > 0, "{v}");
    let (size, fetched) = read_log(&over_http(base.clone()), &synth_log_key(&key)).unwrap();
    assert_eq!(size, 65_001);
    assert!(fetched.len() > 500);

    // One more entry: a bounded number of new objects (the partial tile of each level of
    // the tree, the partial bundle) and requests (those, one read and one write of the
    // checkpoint), whatever the size.
    let before = keys(&store, "log");
    {
        let mut l = Ledger::open(&dir).unwrap();
        grow(&mut l, &mut synth, &key, 1);
    }
    let v = publish_ok(&env, &moto, "big", "s3://big/log");
    let after = keys(&store, "log");
    let new = after.len() - before.len();
    // 65,001 -> 65,002 leaves: the level-0 partial tile and the partial bundle change (level
    // 1 still holds 253 hashes, level 2 none).
    assert_eq!(new, 2, "new objects: {new}");
    assert_eq!(v["written"], 2);
    assert_eq!(v["requests"], 2 + 2);
    read_log(&over_http(base), &synth_log_key(&key)).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn two_publishers_at_once_never_roll_the_checkpoint_back() {
    let moto = Moto::start(false);
    moto.bucket("two");
    let env = Env::new();
    // `old` holds 3,001 entries; `new` is the same log grown to 9,001.
    let (mut synth, key) = synth_ledger(&env.path("old"), 3_000);
    copy_dir(&env.path("old"), &env.path("new"));
    {
        let mut l = Ledger::open(&env.path("new")).unwrap();
        grow(&mut l, &mut synth, &key, 6_000);
    }
    for round in 0..2 {
        let to = format!("s3://two/r{round}");
        let mut a = publish_cmd(&env, &moto, "old", &to, &[]);
        let mut b = publish_cmd(&env, &moto, "new", &to, &[]);
        let (a, b) = (a.spawn().unwrap(), b.spawn().unwrap());
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        // The larger one always succeeds; the smaller one succeeds when it comes first, or
        // says why it stops when the larger tree is already there (it cannot check a tree
        // it does not hold); it never replaces it.
        assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
        if !a.status.success() {
            let why = String::from_utf8_lossy(&a.stderr);
            assert_eq!(a.status.code(), Some(1), "{why}");
            assert!(why.contains("more than the 3001 entries"), "{why}");
        }
        let base = format!("{}/two/r{round}", moto.url());
        let (size, _) = read_log(&over_http(base.clone()), &synth_log_key(&key)).unwrap();
        assert_eq!(
            size, 9_001,
            "the larger checkpoint stays, whoever came last"
        );
        // The smaller ledger, again: refused with its reason, nothing replaced.
        let (code, _, stderr) = publish(&env, &moto, "old", &to);
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains("refusing to replace it"), "{stderr}");
        let (size, _) = read_log(&over_http(base), &synth_log_key(&key)).unwrap();
        assert_eq!(size, 9_001);
    }
    // Two copies of one ledger at once: both succeed.
    copy_dir(&env.path("new"), &env.path("new2"));
    let mut a = publish_cmd(&env, &moto, "new", "s3://two/same", &[]);
    let mut b = publish_cmd(&env, &moto, "new2", "s3://two/same", &[]);
    let (a, b) = (a.spawn().unwrap(), b.spawn().unwrap());
    assert!(a.wait_with_output().unwrap().status.success());
    assert!(b.wait_with_output().unwrap().status.success());
    read_log(
        &over_http(format!("{}/two/same", moto.url())),
        &synth_log_key(&key),
    )
    .unwrap();
}

#[test]
fn a_tampered_object_is_detected_by_the_reader_and_refused_by_the_publisher() {
    let moto = Moto::start(false);
    moto.bucket("tamper");
    let env = Env::new();
    let (_, key) = synth_ledger(&env.path("l"), 700);
    publish_ok(&env, &moto, "l", "s3://tamper/log");
    let base = format!("{}/tamper/log", moto.url());
    let (_, fetched) = read_log(&over_http(base.clone()), &synth_log_key(&key)).unwrap();
    let store = moto.store("tamper");

    // One byte of a full entry bundle changed.
    let (path, bytes) = fetched
        .iter()
        .find(|(p, _)| p == "tile/entries/001")
        .unwrap()
        .clone();
    let mut bad = bytes.clone();
    bad[10] ^= 1;
    let at = ObjectPath::from(format!("log/{path}"));
    block_on(store.put(&at, bad.into())).unwrap();
    let e = read_log(&over_http(base.clone()), &synth_log_key(&key)).unwrap_err();
    assert!(e.contains("does not hold the hashes"), "{e}");
    // `accord mirror` from the bucket refuses it, and keeps only what it checked against the
    // signed tree: the entries of the bundle before.
    env.fails(
        1,
        &["--ledger", "rep", "mirror", "--from", &base],
        "a tampered or wrong entry bundle",
    );
    let v = env.ok(&["--ledger", "rep", "--json", "verify"]).json();
    assert_eq!(v["size"].as_u64(), Some(256), "{v}");
    // A publish of the grown ledger meets it with --all, and refuses to go on.
    let (code, _, stderr) = {
        let o = publish_cmd(&env, &moto, "l", "s3://tamper/log", &["--all"])
            .output()
            .unwrap();
        (
            o.status.code().unwrap(),
            (),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("tile/entries/001") && stderr.contains("different bytes"),
        "{stderr}"
    );
    block_on(store.put(&at, bytes.into())).unwrap();
    read_log(&over_http(base.clone()), &synth_log_key(&key)).unwrap();
    // Mended, the copy mirrors: the replica goes on from the entries it kept.
    env.ok(&["--ledger", "rep", "mirror", "--from", &base]);
    let v = env.ok(&["--ledger", "rep", "--json", "verify"]).json();
    assert_eq!(v["size"].as_u64(), Some(701), "{v}");

    // A checkpoint not signed by the log key: the reader and the publisher refuse it.
    let cp = ObjectPath::from("log/checkpoint");
    let note = String::from_utf8(fetched[0].1.clone()).unwrap();
    let forged = note.replacen("\n701\n", "\n702\n", 1);
    block_on(store.put(&cp, forged.into_bytes().into())).unwrap();
    let e = read_log(&over_http(base), &synth_log_key(&key)).unwrap_err();
    assert!(e.contains("checkpoint signature"), "{e}");
    let (code, _, stderr) = publish(&env, &moto, "l", "s3://tamper/log");
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("stored checkpoint"), "{stderr}");
}

#[test]
fn a_missing_bucket_or_wrong_credentials_is_a_clear_error() {
    let moto = Moto::start(false);
    let env = Env::new();
    env.ok(&["demo", "--dir", "d"]);
    let (code, _, stderr) = publish(&env, &moto, "d/ledger", "s3://no-such-bucket/x");
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("\"no-such-bucket\"") && stderr.contains("does not exist"),
        "{stderr}"
    );
    drop(moto);

    let strict = Moto::start(true);
    strict.bucket("locked");
    let (code, _, stderr) = publish(&env, &strict, "d/ledger", "s3://locked/x");
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("\"locked\"") && stderr.contains("credentials"),
        "{stderr}"
    );

    // Not a URL the publisher knows.
    env.fails(
        2,
        &["--ledger", "d/ledger", "publish", "--to", "ftp://x/y"],
        "expected s3://",
    );
}

#[test]
fn a_directory_target_holds_the_same_layout() {
    let env = Env::new();
    env.ok(&["demo", "--dir", "d"]);
    let out = env.path("www");
    let url = format!("file://{}", out.display());
    let r = env.ok(&["--json", "--ledger", "d/ledger", "publish", "--to", &url]);
    assert_eq!(r.json()["checkpoint_written"], true);
    let root = out.clone();
    let fetch = move |p: &str| std::fs::read(root.join(p)).ok();
    let (size, _) = read_log(&fetch, &demo_log_key(&env)).unwrap();
    assert_eq!(size, r.json()["size"].as_u64().unwrap());
    let r = env.ok(&["--json", "--ledger", "d/ledger", "publish", "--to", &url]);
    assert_eq!(r.json()["written"], 0);
}

#[test]
fn serve_publishes_each_checkpoint_in_the_background() {
    let moto = Moto::start(false);
    moto.bucket("live");
    let env = Env::new();
    env.ok(&["demo", "--dir", "d"]);
    let mut cmd = Command::new("true");
    moto.env(&mut cmd);
    // The server reads the same variables.
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            std::env::set_var(k, v);
        }
    }
    let server = Server::start(&env, &["--publish-to", "s3://live/log"]);
    let base = format!("{}/live/log", moto.url());
    let key = demo_log_key(&env);
    let wait_for = |size: u64| {
        let started = Instant::now();
        loop {
            if let Ok((s, _)) = read_log(&over_http(base.clone()), &key) {
                if s >= size {
                    return s;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no published checkpoint of size {size}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let (_, note) = get(&format!("{}/checkpoint", server.url));
    let size = SignedCheckpoint::from_bytes(&note)
        .unwrap()
        .checkpoint()
        .size();
    wait_for(size);
    // A new entry: published after the next checkpoint, without waiting for it.
    signed_floor(&env, key.name(), "published-floor", "a.json");
    let (s, v) = post(
        &format!("{}/api/v1/entries", server.url),
        env.read("a.json").into_bytes(),
    );
    assert_eq!(s, 201, "{v}");
    wait_for(size + 1);
    let _ = server.terminate();
}
