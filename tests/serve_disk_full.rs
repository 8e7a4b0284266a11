//! The disk holding the ledger fills up under `accord serve`: submissions are refused with
//! 507 and a JSON reason naming the disk, nothing is appended, reads go on, and once space is
//! freed submissions succeed again; after a restart the ledger verifies and holds exactly
//! what was acknowledged. And `accord submit` on a full disk exits non-zero naming the disk.
//!
//! The disk is a small tmpfs mounted for the test (this needs root, as CI has; without it
//! the test fails saying so rather than passing without the fault).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::load::{entries, floors};
use common::server::{post, Server};
use common::Env;
use serde_json::Value;

/// A tmpfs mounted on a directory, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cannot mount a tmpfs to fill (this test needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes `path` until the disk refuses; how many bytes it took.
fn fill(path: &Path) -> u64 {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0xa5u8; 64 * 1024];
    let mut n = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(k) => n += k as u64,
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(28), "filling: {e}");
                break;
            }
        }
    }
    // Byte by byte to the very last page.
    while let Ok(k) = f.write(&chunk[..1]) {
        if k == 0 {
            break;
        }
        n += 1;
    }
    n
}

#[test]
fn a_full_disk_refuses_appends_keeps_the_ledger_readable_and_resumes() {
    let env = Env::new();
    env.ok(&["demo", "--dir", "d"]);
    let disk = Tmpfs::mount(&env.path("disk"), "64m");
    let cp = Command::new("cp")
        .args(["-a", "d/ledger", "disk/ledger"])
        .current_dir(env.dir.path())
        .status()
        .unwrap();
    assert!(cp.success());
    let bodies = floors(&env, "full", 200);
    let server = Server::spawn(
        &env,
        &[
            "--ledger",
            "disk/ledger",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-key",
            "d/keys/log.key",
            "--checkpoint-every",
            "1",
            "--rate-limit",
            "0",
            "--min-free-space",
            "8",
        ],
    );
    let base = server.url.clone();
    let url = format!("{base}/api/v1/entries");
    let (s, v) = post(&url, bodies[0].clone());
    assert_eq!(s, 201, "{v}");
    let mut acked = vec![v["index"].as_u64().unwrap()];

    let filler = env.path("disk/filler");
    let filled = fill(&filler);
    assert!(filled > 0);
    // Submissions are refused (507) once free space is below the reserve.
    let mut refusal = None;
    for b in &bodies[1..150] {
        let (s, v) = post(&url, b.clone());
        match s {
            201 => acked.push(v["index"].as_u64().unwrap()),
            507 => {
                refusal = Some(v);
                break;
            }
            s => panic!("on a full disk: {s} {v}"),
        }
    }
    let refusal = refusal.expect("149 submissions on a full disk and none refused: not exercised");
    let reason = refusal["error"].as_str().unwrap();
    assert!(
        reason.contains("disk holding the ledger") && reason.contains("disk/ledger"),
        "{reason}"
    );
    // Reads go on.
    let listed = entries(&base);
    let (s, _) = common::server::get(&format!("{base}/checkpoint"));
    assert_eq!(s, 200);
    // Space returns: appending resumes.
    std::fs::remove_file(&filler).unwrap();
    let mut resumed = false;
    for b in &bodies[150..] {
        let (s, v) = post(&url, b.clone());
        if s == 201 {
            acked.push(v["index"].as_u64().unwrap());
            resumed = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(resumed, "no submission succeeded after space was freed");
    let all = entries(&base);
    assert!(all.len() > listed.len());
    assert_eq!(
        all.len() - 1,
        *acked.iter().max().unwrap() as usize,
        "entries not acknowledged"
    );
    for i in &acked {
        assert!(all.contains_key(i), "acknowledged entry {i} lost");
    }
    assert_eq!(server_stop(server), 0);
    // `accord submit` on a full disk: non-zero, naming the device's condition and the file.
    std::fs::write(env.path("last.json"), &bodies[199]).unwrap();
    fill(&filler);
    let r = env.run(&["--ledger", "disk/ledger", "submit", "last.json"]);
    assert_ne!(r.code, 0, "submit on a full disk succeeded: {}", r.stdout);
    assert!(
        r.stderr.contains("No space left on device") && r.stderr.contains("disk/ledger"),
        "{}",
        r.stderr
    );
    std::fs::remove_file(&filler).unwrap();
    let v = env.ok(&["--ledger", "disk/ledger", "--json", "verify"]);
    assert_eq!(v.json()["ok"], Value::Bool(true), "{}", v.stdout);
    drop(disk);
}

fn server_stop(s: Server) -> i32 {
    s.terminate()
}
