//! A daemon started by a test (`accord serve`, and any other `accord` command that prints
//! `listening on URL` as its first stderr line), killed when dropped so that a failing test
//! leaves no process behind; and small blocking HTTP helpers.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Env;

/// A running `accord serve`, killed when dropped (a failing test leaves no process behind).
pub struct Server {
    /// The child process, until it is stopped.
    pub child: Option<Child>,
    /// `http://127.0.0.1:PORT` as it printed.
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Server {
    /// `accord --ledger d/ledger serve` of the demo in `env` on a free port, a checkpoint
    /// every second, with `extra` arguments.
    pub fn start(env: &Env, extra: &[&str]) -> Server {
        let mut args = vec![
            "--ledger",
            "d/ledger",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-key",
            "d/keys/log.key",
            "--checkpoint-every",
            "1",
        ];
        args.extend_from_slice(extra);
        Server::spawn(env, &args)
    }

    /// `accord ARGS` in `env`'s directory; waits for its `listening on URL` line.
    pub fn spawn(env: &Env, args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_accord"))
            .current_dir(env.dir.path())
            .env_remove("ACCORD_LEDGER")
            .env_remove("ACCORD_SERVER")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let stderr = child.stderr.take().unwrap();
        let mut server = Server {
            child: Some(child),
            url: String::new(),
        };
        let mut lines = BufReader::new(stderr);
        let mut first = String::new();
        lines.read_line(&mut first).unwrap();
        let url = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first stderr line: {first:?}"))
            .to_owned();
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for l in lines.lines() {
                match l {
                    Ok(l) => eprintln!("[{pid}] {l}"),
                    Err(_) => break,
                }
            }
        });
        server.url = url;
        server
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// SIGKILL, waited for.
    pub fn kill(mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then the exit code.
    pub fn terminate(mut self) -> i32 {
        let mut c = self.child.take().unwrap();
        let st = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let started = Instant::now();
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = c.kill();
                let _ = c.wait();
                panic!("accord serve did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

pub fn get(url: &str) -> (u16, Vec<u8>) {
    let r = http().get(url).send().unwrap();
    (r.status().as_u16(), r.bytes().unwrap().to_vec())
}

pub fn post(url: &str, body: Vec<u8>) -> (u16, Value) {
    let r = http()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .unwrap();
    let s = r.status().as_u16();
    (
        s,
        serde_json::from_slice(&r.bytes().unwrap()).unwrap_or(Value::Null),
    )
}
