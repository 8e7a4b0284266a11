//! Two processes on one ledger: while one imports, another is told the ledger is in use (or
//! waits with --wait and then sees every complete entry), and nothing is corrupted.
#![allow(clippy::unwrap_used)]

mod common;
use common::Env;

#[test]
fn a_second_process_is_refused_or_waits_and_sees_only_complete_entries() {
    let e = Env::new();
    let mut synth = accord_ledger::synth::Synth::new(6, 7);
    let mut lines = vec![String::from_utf8(synth.charter().to_json()).unwrap()];
    for _ in 0..30_000 {
        lines.push(String::from_utf8(synth.next_entry().to_json()).unwrap());
    }
    e.write("big.jsonl", &(lines.join("\n") + "\n"));
    let mut writer = std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
        .current_dir(e.dir.path())
        .args(["--ledger", "ledger", "import", "big.jsonl"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the writer holds the ledger.
    let started = std::time::Instant::now();
    while !e.path("ledger").join("db").exists() && started.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let busy = e.run(&["--ledger", "ledger", "list", "--limit", "1"]);
    let writer_done = writer.try_wait().unwrap().is_some();
    if !writer_done {
        assert_eq!(busy.code, 2, "{}", busy.stderr);
        assert!(busy.stderr.contains("in use"), "{}", busy.stderr);
    }
    // With --wait the reader gets in once the writer is done, and sees all of it.
    let r = e.ok(&["--ledger", "ledger", "--wait", "120", "--json", "verify"]);
    assert!(writer.wait().unwrap().success());
    assert_eq!(r.json()["size"], 30_001);
}
