//! `accord serve` end to end over loopback: the demo ledger served on a free port, entries
//! submitted over HTTP and through `accord --server`, forgeries refused with their reason,
//! the log followed by a tlog-tiles client written here from c2sp.org/tlog-tiles, a member
//! cosigning through the API, SIGTERM, and a restart with nothing lost; and HTTPS with a
//! private CA.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use accord_core::checkpoint::SignedCheckpoint;
use accord_core::keys::VerifierKey;
use base64::prelude::*;
use common::server::{get, http, post, Server};
use common::tiles::{leaf_hash, mth, tile_suffix, tiles_for};
use common::{signed_floor, Env};
use serde_json::Value;

fn demo(env: &Env) {
    env.ok(&["demo", "--dir", "d"]);
}

// ---- a tlog-tiles client written from c2sp.org/tlog-tiles -------------------------------

/// Follows the log as a client that trusts only the log key: verifies the checkpoint's
/// signature, fetches every entry bundle and hash tile the size needs, recomputes each
/// bundle's leaf hashes against the level-0 tiles, each level's tiles from the level below,
/// and the root. Returns the size and the leaves.
fn follow(base: &str, log_key: &VerifierKey) -> (u64, Vec<Vec<u8>>) {
    let (s, note) = get(&format!("{base}/checkpoint"));
    assert_eq!(s, 200);
    let note = SignedCheckpoint::from_bytes(&note).unwrap();
    note.verify_log(log_key.name(), log_key.verifying_key())
        .unwrap();
    let size = note.checkpoint().size();

    let mut leaves = Vec::new();
    for (n, w) in tiles_for(size) {
        let (s, bundle) = get(&format!("{base}/tile/entries/{}", tile_suffix(n, w)));
        assert_eq!(s, 200, "entry bundle {n} width {w}");
        let mut rest = &bundle[..];
        let mut got = 0;
        while !rest.is_empty() {
            let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
            leaves.push(rest[2..2 + len].to_vec());
            rest = &rest[2 + len..];
            got += 1;
        }
        assert_eq!(got, w, "entry bundle {n} holds {got} entries, not {w}");
    }
    assert_eq!(leaves.len() as u64, size);
    let mut level: Vec<[u8; 32]> = leaves.iter().map(|l| leaf_hash(l)).collect();
    let leaf_hashes = level.clone();
    let mut l = 0;
    while !level.is_empty() {
        // The level-l tiles must hold exactly this level's hashes.
        let mut served = Vec::new();
        for (n, w) in tiles_for(level.len() as u64) {
            let (s, tile) = get(&format!("{base}/tile/{l}/{}", tile_suffix(n, w)));
            assert_eq!(s, 200, "tile {l}/{n} width {w}");
            assert_eq!(tile.len() as u64, 32 * w);
            served.extend(tile.chunks(32).map(|c| <[u8; 32]>::try_from(c).unwrap()));
        }
        assert_eq!(served, level, "level {l} tiles");
        // The next level: the root of each full 256-hash group.
        level = level
            .chunks(256)
            .filter(|c| c.len() == 256)
            .map(mth)
            .collect();
        l += 1;
    }
    assert_eq!(
        &mth(&leaf_hashes),
        &note.checkpoint().root().0,
        "the leaves hash to the checkpoint's root"
    );
    // No tile beyond the published tree.
    let (s, _) = get(&format!(
        "{base}/tile/entries/{}",
        tile_suffix(size / 256 + 1, 1)
    ));
    assert_eq!(s, 404);
    (size, leaves)
}

fn demo_log_key(env: &Env) -> VerifierKey {
    let b: Value = serde_json::from_str(&env.read("d/exports/audit-bundle.json")).unwrap();
    VerifierKey::parse(b["log_key"].as_str().unwrap()).unwrap()
}

fn wait_for_checkpoint(base: &str, size: u64) {
    let started = Instant::now();
    loop {
        let (_, note) = get(&format!("{base}/checkpoint"));
        if SignedCheckpoint::from_bytes(&note)
            .unwrap()
            .checkpoint()
            .size()
            >= size
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no checkpoint of size {size}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn serve_submit_follow_cosign_stop_and_restart() {
    let env = Env::new();
    demo(&env);
    let log_key = demo_log_key(&env);
    let server = Server::start(&env, &[]);
    let base = server.url.clone();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let origin = log_key.name().to_owned();

    let (start_size, _) = follow(&base, &log_key);

    // Over HTTP.
    signed_floor(&env, &origin, "serve-floor-1", "a.json");
    let (s, v) = post(
        &format!("{base}/api/v1/entries"),
        env.read("a.json").into_bytes(),
    );
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["index"], start_size);
    assert_eq!(v["id"], "serve-floor-1");
    // The same again: a duplicate.
    let (s, v) = post(
        &format!("{base}/api/v1/entries"),
        env.read("a.json").into_bytes(),
    );
    assert_eq!(s, 409, "{v}");
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("already in the ledger"));

    // Through the CLI.
    signed_floor(&env, &origin, "serve-floor-2", "b.json");
    let r = env.ok(&["--server", &base, "submit", "b.json"]);
    assert!(
        r.stdout.starts_with(&format!(
            "appended serve-floor-2 as entry {}",
            start_size + 1
        )),
        "{}",
        r.stdout
    );

    // A forgery: US-DOD's keyid on a signature that is not US-DOD's.
    signed_floor(&env, &origin, "serve-forged", "c.json");
    let mut forged: Value = serde_json::from_str(&env.read("c.json")).unwrap();
    let mut sig = BASE64_STANDARD
        .decode(forged["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    sig[10] ^= 0x40;
    forged["signatures"][0]["sig"] = Value::String(BASE64_STANDARD.encode(&sig));
    env.write("forged.json", &forged.to_string());
    let (s, v) = post(
        &format!("{base}/api/v1/entries"),
        forged.to_string().into_bytes(),
    );
    assert_eq!(s, 422, "{v}");
    let reason = v["error"].as_str().unwrap();
    assert!(
        reason.contains("rejected") && reason.contains("signature"),
        "{reason}"
    );
    let r = env.fails(
        1,
        &["--server", &base, "submit", "forged.json"],
        "signature",
    );
    assert!(r.stderr.contains("rejected"), "{}", r.stderr);

    // Reads through the server.
    let remote_list = env.ok(&["--server", &base, "--json", "list"]).stdout;
    assert_eq!(remote_list.lines().count() as u64, start_size + 2);
    env.ok(&["--server", &base, "members"]);
    env.ok(&["--server", &base, "summary"]);
    env.ok(&["--server", &base, "status", "--kind", "price_floor"]);
    let shown = env.ok(&["--server", &base, "show", "serve-floor-1"]).stdout;
    assert!(shown.contains("NdPr floor"), "{shown}");
    env.ok(&["--server", &base, "history", "serve-floor-1"]);
    env.fails(
        2,
        &["--server", &base, "show", "no-such-entry"],
        "not found",
    );

    // The log follows, then a member cosigns through the API.
    wait_for_checkpoint(&base, start_size + 2);
    let (size, leaves) = follow(&base, &log_key);
    assert_eq!(size, start_size + 2);
    assert!(String::from_utf8_lossy(&leaves[size as usize - 1]).contains("\"index\":"));
    let r = env.ok(&["--server", &base, "cosign", "--key", "d/keys/US-DOD.key"]);
    assert!(r.stdout.contains("US-DOD verified"), "{}", r.stdout);
    assert!(env.path("d/keys/US-DOD.key.cosigned").exists());
    let (_, note) = get(&format!("{base}/checkpoint"));
    assert!(String::from_utf8_lossy(&note).contains("\n— US-DOD "));
    // Cosigning the same checkpoint twice is refused.
    env.fails(
        1,
        &["--server", &base, "cosign", "--key", "d/keys/US-DOD.key"],
        "already cosigned",
    );

    // More entries, a new checkpoint: the second cosignature checks consistency from the
    // first.
    signed_floor(&env, &origin, "serve-floor-3", "e.json");
    env.ok(&["--server", &base, "submit", "e.json"]);
    wait_for_checkpoint(&base, size + 1);
    let r = env.ok(&[
        "--server",
        &base,
        "--json",
        "cosign",
        "--key",
        "d/keys/US-DOD.key",
    ]);
    assert_eq!(r.json()["tree_size"], size + 1);
    let p = env
        .ok(&["--server", &base, "--json", "consistency", "--from", "3"])
        .json();
    assert_eq!(p["to"], size + 1);
    env.ok(&["--server", &base, "--json", "prove", "1"]);
    env.ok(&[
        "--server",
        &base,
        "export",
        "--format",
        "bundle",
        "--commitment",
        "serve-floor-1",
        "--out",
        "bundle.json",
    ]);
    env.ok(&[
        "verify-bundle",
        "bundle.json",
        "--log-key",
        &log_key.to_string(),
    ]);
    let remote_status = env.ok(&["--server", &base, "--json", "status"]).stdout;
    let remote_members = env.ok(&["--server", &base, "members"]).stdout;
    let remote_checkpoint = env.ok(&["--server", &base, "checkpoint"]).stdout;

    // SIGTERM: exit 0, then the directory holds everything, printed the same.
    assert_eq!(server.terminate(), 0);
    let local_list = env.ok(&["--ledger", "d/ledger", "--json", "list"]).stdout;
    assert_eq!(local_list.lines().count() as u64, size + 1);
    assert!(local_list.starts_with(remote_list.lines().next().unwrap()));
    assert_eq!(
        env.ok(&["--ledger", "d/ledger", "--json", "status"]).stdout,
        remote_status
    );
    assert_eq!(
        env.ok(&["--ledger", "d/ledger", "members"]).stdout,
        remote_members
    );
    assert_eq!(
        env.ok(&["--ledger", "d/ledger", "checkpoint"]).stdout,
        remote_checkpoint
    );
    env.ok(&["--ledger", "d/ledger", "verify"]);

    // Restart: nothing lost, the cosignature still served.
    let server = Server::start(&env, &[]);
    let (again, _) = follow(&server.url, &log_key);
    assert_eq!(again, size + 1);
    let (_, note) = get(&format!("{}/checkpoint", server.url));
    assert!(String::from_utf8_lossy(&note).contains("\n— US-DOD "));
    let (s, e) = get(&format!("{}/api/v1/entries/serve-floor-2", server.url));
    assert_eq!(s, 200);
    let e: Value = serde_json::from_slice(&e).unwrap();
    assert_eq!(e["index"], start_size + 1);
    let (s, m) = get(&format!("{}/metrics", server.url));
    assert_eq!(s, 200);
    assert!(String::from_utf8_lossy(&m).contains("accord_entries "));
    assert_eq!(server.terminate(), 0);
}

fn write_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    (cert, key)
}

#[test]
fn serve_over_tls_with_a_private_ca() {
    let env = Env::new();
    demo(&env);
    let (cert, key) = write_cert(env.dir.path());
    let server = Server::start(
        &env,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let port = server.url.rsplit(':').next().unwrap().to_owned();
    let url = format!("https://localhost:{port}");
    let r = env.ok(&["--server", &url, "--ca-cert", "cert.pem", "members"]);
    assert!(r.stdout.contains("US-DOD"), "{}", r.stdout);
    let r = env.ok(&["--server", &url, "--ca-cert", "cert.pem", "checkpoint"]);
    assert!(r.stdout.starts_with("g7-critical-minerals.example/2026\n"));
    // Without the CA the certificate is not trusted: an input error, not a verdict.
    let r = env.run(&["--server", &url, "members"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("cannot reach"), "{}", r.stderr);
    // Plain HTTP to the TLS port gets nothing useful.
    assert!(
        http()
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .is_err()
            || get(&format!("http://127.0.0.1:{port}/healthz")).0 != 200
    );
    assert_eq!(server.terminate(), 0);
}
