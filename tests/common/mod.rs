//! Helpers for end-to-end tests: run the real `accord` binary in a temporary directory.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

pub mod load;
pub mod server;
pub mod tiles;
pub mod tools;

/// A scratch directory and the binary.
pub struct Env {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Env {
    pub fn new() -> Self {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_accord"));
        c.current_dir(self.dir.path())
            .env_remove("ACCORD_LEDGER")
            .env("ACCORD_PASSPHRASE", "test passphrase")
            .env("NO_COLOR", "1");
        c
    }

    /// Runs accord with `args`; returns what happened.
    pub fn run(&self, args: &[&str]) -> Run {
        self.cmd().args(args).output().unwrap().into()
    }

    /// Runs accord and insists on success.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(
            r.code, 0,
            "accord {args:?} failed:\nstdout: {}\nstderr: {}",
            r.stdout, r.stderr
        );
        r
    }

    /// Runs accord and insists on exit code `code`, with `needle` in stderr.
    pub fn fails(&self, code: i32, args: &[&str], needle: &str) -> Run {
        let r = self.run(args);
        assert_eq!(
            r.code, code,
            "accord {args:?}: expected exit {code}\nstdout: {}\nstderr: {}",
            r.stdout, r.stderr
        );
        assert!(
            r.stderr.contains(needle),
            "accord {args:?}: stderr lacks {needle:?}:\n{}",
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "panic: {}", r.stderr);
        r
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }

    /// A small group: JP-MOF and US-TREASURY, a log key, a charter (threshold 2), a ledger at
    /// `ledger`. Returns the charter hash.
    pub fn two_member_ledger(&self) -> String {
        self.two_member_ledger_with(&[])
    }

    /// [`Env::two_member_ledger`] with `charter_extra` arguments to `accord charter new`.
    pub fn two_member_ledger_with(&self, charter_extra: &[&str]) -> String {
        self.ok(&[
            "keygen",
            "--id",
            "JP-MOF",
            "--country",
            "JP",
            "--name",
            "Ministry of Finance",
            "--out",
            "jp.key",
        ]);
        self.ok(&[
            "keygen",
            "--id",
            "US-TREASURY",
            "--country",
            "US",
            "--name",
            "Treasury",
            "--out",
            "us.key",
        ]);
        self.ok(&[
            "keygen",
            "--id",
            "DE-BMWK",
            "--country",
            "DE",
            "--name",
            "BMWK",
            "--out",
            "de.key",
        ]);
        self.ok(&[
            "keygen",
            "--log",
            "--id",
            "test.example/ledger",
            "--out",
            "log.key",
        ]);
        let mut args = vec![
            "--json",
            "charter",
            "new",
            "--origin",
            "test.example/ledger",
            "--name",
            "Test group",
            "--log-key",
            "log.key.member.json",
            "--member",
            "jp.key.member.json",
            "--member",
            "us.key.member.json",
            "--member",
            "de.key.member.json",
            "--threshold",
            "2",
            "--out",
            "charter.json",
        ];
        args.extend_from_slice(charter_extra);
        let r = self.ok(&args);
        let hash = r.json()["charter_hash"].as_str().unwrap().to_owned();
        self.ok(&["sign", "charter.json", "--key", "jp.key"]);
        self.ok(&["sign", "charter.json", "--key", "us.key"]);
        self.ok(&["sign", "charter.json", "--key", "de.key"]);
        self.ok(&[
            "--ledger",
            "ledger",
            "init",
            "--charter",
            "charter.json",
            "--log-key",
            "log.key",
        ]);
        hash
    }

    /// Drafts a joint JP/US framework as `file`.
    pub fn draft_framework(&self, id: &str, file: &str) {
        self.ok(&[
            "--ledger",
            "ledger",
            "draft",
            "framework",
            "--id",
            id,
            "--party",
            "JP-MOF",
            "--party",
            "US-TREASURY",
            "--title",
            "Japan-US framework",
            "--commodity",
            "rare-earths",
            "--from",
            "2026-01-13",
            "--instrument",
            "Framework arrangement",
            "--source",
            "https://example.org/framework",
            "--partner",
            "JP",
            "--partner",
            "US",
            "--pledge",
            "1000000000:USD",
            "--tool",
            "stockpiling",
            "--out",
            file,
        ]);
    }
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// What a timed run gets on stdin.
pub enum Input {
    /// Nothing (`/dev/null`).
    Null,
    /// Zeros without end, as fast as the child reads them.
    Endless,
}

impl Env {
    /// Runs accord with `args` and `stdin`, killing it after `secs` seconds: a regression
    /// that hangs or grows without end fails the test instead of stalling the suite.
    pub fn run_timed(&self, args: &[&str], stdin: Input, secs: u64) -> Run {
        use std::io::Write;
        use std::process::Stdio;
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_accord"));
        c.current_dir(self.dir.path())
            .env_remove("ACCORD_LEDGER")
            .env("ACCORD_PASSPHRASE", "test passphrase")
            .env("NO_COLOR", "1")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c.stdin(match stdin {
            Input::Null => Stdio::null(),
            Input::Endless => Stdio::piped(),
        });
        let mut child = c.spawn().unwrap();
        if let Some(mut w) = child.stdin.take() {
            std::thread::spawn(move || {
                let zeros = vec![0u8; 64 * 1024];
                while w.write_all(&zeros).is_ok() {}
            });
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let o = child.wait_with_output().unwrap();
                panic!(
                    "accord {args:?} still running after {secs}s; stderr: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.wait_with_output().unwrap().into()
    }

    /// Makes a FIFO `name` (mode 0600) and a thread that writes zeros into it without end
    /// once a reader opens it.
    pub fn endless_fifo(&self, name: &str) -> PathBuf {
        use std::io::Write;
        let p = self.path(name);
        let ok = std::process::Command::new("mkfifo")
            .args(["-m", "600"])
            .arg(&p)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mkfifo failed");
        let q = p.clone();
        std::thread::spawn(move || {
            if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&q) {
                let zeros = vec![0u8; 64 * 1024];
                while f.write_all(&zeros).is_ok() {}
            }
        });
        p
    }

    /// Runs accord with its stdout a pipe whose reader is already gone (`accord ... | head
    /// -0`), and returns the outcome.
    pub fn run_closed_stdout(&self, args: &[&str]) -> Run {
        use std::process::Stdio;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
            .current_dir(self.dir.path())
            .env_remove("ACCORD_LEDGER")
            .env("ACCORD_PASSPHRASE", "test passphrase")
            .env("NO_COLOR", "1")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        child.wait_with_output().unwrap().into()
    }
}

/// `accord draft price-floor` by the demo's US-DOD with the id `id`, unsigned, written to
/// `file` (the same terms every service test uses).
pub fn draft_floor(env: &Env, origin: &str, id: &str, file: &str) {
    env.ok(&[
        "draft",
        "price-floor",
        "--origin",
        origin,
        "--id",
        id,
        "--party",
        "US-DOD",
        "--title",
        "NdPr floor",
        "--commodity",
        "rare-earths/ndpr-oxide",
        "--stage",
        "separation",
        "--from",
        "2026-10-01",
        "--until",
        "2035-09-30",
        "--instrument",
        "Offtake and price-support agreement",
        "--source",
        "https://example.org/a",
        "--price",
        "110.00",
        "--currency",
        "USD",
        "--unit",
        "kg",
        "--basis",
        "NdPr benchmark",
        "--mechanism",
        "contract_for_difference",
        "--out",
        file,
    ]);
}

/// [`draft_floor`], then signed with the demo's US-DOD key (`accord sign`) in place.
pub fn signed_floor(env: &Env, origin: &str, id: &str, file: &str) {
    draft_floor(env, origin, id, file);
    env.ok(&["sign", file, "--key", "d/keys/US-DOD.key"]);
}
