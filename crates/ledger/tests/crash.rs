//! Crash tests: a writer in a child process (this test binary, re-run in a child role)
//! appends or imports and reports each acknowledged (durable) append on stdout; the parent
//! kills it with SIGKILL at a random moment, reopens the ledger, and checks that every
//! acknowledged entry is there with the same leaf hash, that no partial entry exists, and
//! that the root, the governance state and the full audit all recompute.
//!
//! `.ci/run` runs 20 trials of each writer. For a longer run:
//! `ACCORD_CRASH_TRIALS=500 cargo test --release -p accord-ledger --test crash -- --nocapture`.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use accord_ledger::synth::Synth;
use accord_ledger::{verify, Ledger, VerifyOptions};

const CHILD_ENV: &str = "ACCORD_CRASH_CHILD";

/// The child role: does nothing unless the parent set `ACCORD_CRASH_CHILD=mode:dir`.
#[test]
fn crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (mode, dir) = spec.split_once(':').unwrap();
    // The test harness has printed "test crash_child ... " without a newline.
    println!();
    let dir = std::path::Path::new(dir);
    let mut synth = Synth::new(4, 9);
    if mode == "create" {
        println!("ready");
        let started = Instant::now();
        drop(Ledger::create(dir, &synth.charter()).unwrap());
        println!("created {}", started.elapsed().as_micros());
        return;
    }
    let mut ledger = match Ledger::open(dir) {
        Ok(l) => l,
        Err(_) => Ledger::create(dir, &synth.charter()).unwrap(),
    };
    // Synth is deterministic: skip what earlier children already appended.
    for _ in 1..ledger.size() {
        synth.next_entry();
    }
    // The parent's kill clock starts here, so that kills land in appends and imports, not in
    // the catching-up above (which grows with the ledger over a long run).
    println!("ready");
    match mode {
        "append" => loop {
            let a = ledger.append(&synth.next_entry()).unwrap();
            println!("ack {} {}", a.index, a.leaf_hash.to_base64());
        },
        _ => loop {
            let base = ledger.size();
            let entries: Vec<_> = (0..3000)
                .map(|_| Ok::<_, accord_core::governance::Rejection>(synth.next_entry()))
                .collect();
            ledger
                .import(entries, &mut |n| println!("ack-count {}", base + n))
                .unwrap();
        },
    }
}

fn random(seed: &mut u64) -> u64 {
    // xorshift64*: enough to spread kill times; the seed is printed for reproduction.
    *seed ^= *seed >> 12;
    *seed ^= *seed << 25;
    *seed ^= *seed >> 27;
    seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// `ACCORD_CRASH_TRIALS` (default 20) and a seed for the kill times, printed for
/// reproduction.
fn trials_and_seed(mode: &str) -> (u64, u64) {
    let n: u64 = std::env::var("ACCORD_CRASH_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("{mode}: {n} trials, seed {seed}");
    (n, seed)
}

/// This test binary in the child role `mode` on `dir`, its stdout piped.
fn spawn_child(mode: &str, dir: &std::path::Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{mode}:{}", dir.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Keeps the evidence of a failed trial (the temporary directory goes away with the panic):
/// a copy of `dir` under the system's temporary directory as `name`; where it is, or "not
/// kept".
fn keep(dir: &std::path::Path, name: &str) -> String {
    let to = std::env::temp_dir().join(name);
    let copied = Command::new("cp")
        .arg("-a")
        .arg(dir)
        .arg(&to)
        .status()
        .is_ok_and(|s| s.success());
    if copied {
        to.display().to_string()
    } else {
        "not kept".into()
    }
}

fn trials(mode: &str) {
    let (n, mut seed) = trials_and_seed(mode);
    let dir = tempfile::tempdir().unwrap();
    let mut acked: Vec<(u64, String)> = Vec::new();
    let mut acked_count = 0u64;
    for trial in 0..n {
        let mut child = spawn_child(mode, dir.path());
        let window = if mode == "import" { 2500 } else { 400 };
        let kill_after = Duration::from_millis(20 + random(&mut seed) % window);
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => {
                        if l == "ready" {
                            let _ = ready_tx.send(());
                        }
                        lines.push(l)
                    }
                    Err(_) => break,
                }
            }
            lines
        });
        // Four trials in five wait until the child has opened the ledger and caught up (or
        // died trying); the fifth may kill it while it opens and recovers.
        if random(&mut seed) % 5 != 0 {
            let _ = ready_rx.recv_timeout(Duration::from_secs(120));
        }
        let started = Instant::now();
        while started.elapsed() < kill_after {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let lines = reader.join().unwrap();
        if std::env::var("ACCORD_CRASH_DEBUG").is_ok() {
            eprintln!(
                "trial {trial}: {} lines, last {:?}",
                lines.len(),
                lines.last()
            );
        }
        for line in lines {
            let mut parts = line.split_whitespace();
            match parts.next() {
                Some("ack") => {
                    let i: u64 = parts.next().unwrap().parse().unwrap();
                    acked.push((i, parts.next().unwrap().to_owned()));
                }
                Some("ack-count") => {
                    acked_count = acked_count.max(parts.next().unwrap().parse().unwrap())
                }
                _ => {}
            }
        }
        // Reopen: everything acknowledged is there, unchanged, and the ledger verifies.
        let mut ledger = match Ledger::open(dir.path()) {
            Ok(l) => l,
            // Killed before the creation completed: nothing was acknowledged, and the
            // directory says so (no ledger, or an incomplete creation).
            Err(
                accord_ledger::LedgerError::NotALedger(_)
                | accord_ledger::LedgerError::Incomplete(_),
            ) if acked.is_empty() && acked_count == 0 => continue,
            Err(e) => panic!(
                "trial {trial}: reopen failed: {e} (ledger {})",
                keep(dir.path(), &format!("accord-crash-failed-{seed}"))
            ),
        };
        for (i, hash) in &acked {
            let e = ledger
                .entry(*i)
                .unwrap_or_else(|e| panic!("trial {trial}: acknowledged entry {i} lost: {e}"));
            assert_eq!(
                &e.leaf_hash.to_base64(),
                hash,
                "trial {trial}: entry {i} changed"
            );
        }
        assert!(
            ledger.size() >= acked_count,
            "trial {trial}: {} entries after {acked_count} were acknowledged",
            ledger.size()
        );
        let report = verify(&ledger, &VerifyOptions::default(), &mut |_, _| {})
            .unwrap_or_else(|e| panic!("trial {trial}: verify failed after a crash: {e}"));
        assert_eq!(report.size, ledger.size());
        assert_eq!(ledger.governance().unwrap().size(), ledger.size());
        drop(ledger);
    }
    eprintln!(
        "{mode}: {} acknowledged appends and {acked_count} imported entries survived {n} kills",
        acked.len()
    );
}

#[test]
fn killed_single_appends_lose_nothing_acknowledged() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    trials("append");
}

#[test]
fn killed_bulk_imports_lose_nothing_acknowledged() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    trials("import");
}

/// Kills a creation at random moments from its first step (the whole of `create`, from
/// before sled's first file to after the marker went): the directory is then a ledger, or
/// recognised as a creation that never completed (no ledger, or an incomplete one); never a
/// store that cannot be read. A creation that reported success is a ledger. `create` then
/// makes a ledger that verifies.
#[test]
fn killed_creations_are_recognised_and_created_afresh() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let (n, mut seed) = trials_and_seed("create");
    let charter = Synth::new(4, 9).charter();
    // How long a creation takes here, from a first one left to complete.
    let mut window_us = 0u64;
    let (mut complete, mut incomplete) = (0, 0);
    for trial in 0..=n {
        let dir = tempfile::tempdir().unwrap();
        let mut child = spawn_child("create", dir.path());
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        while let Some(Ok(l)) = lines.next() {
            if l == "ready" {
                break;
            }
        }
        if trial > 0 {
            // Anywhere in the creation, and a little after it.
            let after = random(&mut seed) % (window_us + window_us / 5 + 1);
            std::thread::sleep(Duration::from_micros(after));
            let _ = child.kill(); // SIGKILL
        }
        let mut created = false;
        for l in lines.map_while(Result::ok) {
            if let Some(us) = l.strip_prefix("created ") {
                created = true;
                if trial == 0 {
                    window_us = us.parse().unwrap();
                }
            }
        }
        let _ = child.wait();
        assert!(trial > 0 || created, "the first creation did not complete");
        match Ledger::open(dir.path()) {
            Ok(l) => {
                verify(&l, &VerifyOptions::default(), &mut |_, _| {}).unwrap();
                complete += 1;
            }
            Err(
                accord_ledger::LedgerError::NotALedger(_)
                | accord_ledger::LedgerError::Incomplete(_),
            ) if !created => {
                incomplete += 1;
                let l = Ledger::create(dir.path(), &charter)
                    .unwrap_or_else(|e| panic!("trial {trial}: created afresh: {e}"));
                verify(&l, &VerifyOptions::default(), &mut |_, _| {}).unwrap();
            }
            Err(e) => panic!(
                "trial {trial} (created: {created}): reopen failed: {e} (ledger {})",
                keep(dir.path(), &format!("accord-create-failed-{seed}"))
            ),
        }
    }
    eprintln!(
        "create: {n} kills in a window of {window_us} us: {complete} ledgers, {incomplete} \
         creations recognised as incomplete and created afresh"
    );
}
