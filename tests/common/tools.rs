//! The programs besides `accord` that end-to-end tests drive: Debian's Chromium and
//! ChromeDriver, moto's S3 server. Missing ones are installed by `.ci/install-test-tools`
//! (apt-get, and pip into `target/test-tools/venv`), so `cargo test` sets itself up on a
//! fresh machine; a test that cannot get its tool fails with the reason, it never skips.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn repo() -> PathBuf {
    // crates/cli -> the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn install() {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    let r = DONE.get_or_init(|| {
        let script = repo().join(".ci/install-test-tools");
        let st = Command::new("bash")
            .arg(&script)
            .status()
            .map_err(|e| format!("running {}: {e}", script.display()))?;
        if st.success() {
            Ok(())
        } else {
            Err(format!("{} failed ({st})", script.display()))
        }
    });
    if let Err(e) = r {
        panic!("the test tools could not be installed: {e}");
    }
}

/// `/usr/bin/chromium` and `/usr/bin/chromedriver` (or wherever PATH has them).
pub fn chromium() -> (PathBuf, PathBuf) {
    let find = || Some((on_path("chromium")?, on_path("chromedriver")?));
    if let Some(found) = find() {
        return found;
    }
    install();
    find().unwrap_or_else(|| {
        panic!("chromium and chromedriver not found after .ci/install-test-tools (apt-get install chromium chromium-driver)")
    })
}

/// moto's standalone S3 server: `ACCORD_MOTO_SERVER`, else the test-tools virtualenv,
/// else PATH.
pub fn moto_server() -> PathBuf {
    if let Some(p) = std::env::var_os("ACCORD_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let venv = repo().join("target/test-tools/venv/bin/moto_server");
    if venv.is_file() {
        return venv;
    }
    install();
    if venv.is_file() {
        return venv;
    }
    on_path("moto_server").unwrap_or_else(|| {
        panic!("moto_server not found after .ci/install-test-tools (pip install 'moto[server]')")
    })
}

/// A command that starts moto's S3 server on `port`, handling one request at a time
/// (`tests/tools/moto_serial.py`: moto's conditional writes are check-then-write without a
/// lock, so two concurrent ones could both pass, which S3 never allows): the Python of the
/// `moto_server` found by [`moto_server`], running the wrapper.
pub fn moto_serial(port: u16) -> Command {
    let server = moto_server();
    // In a virtualenv, its own python3 beside the script; else the script's interpreter.
    let sibling = server.with_file_name("python3");
    let python = if sibling.is_file() {
        sibling
    } else {
        let first = std::fs::read_to_string(&server)
            .ok()
            .and_then(|text| Some(text.lines().next()?.strip_prefix("#!")?.trim().to_owned()))
            .unwrap_or_else(|| {
                panic!(
                    "{}: not a Python script; cannot run moto one request at a time",
                    server.display()
                )
            });
        // `#!/usr/bin/env python3` or `#!/path/to/python3`.
        let words: Vec<&str> = first.split_whitespace().collect();
        PathBuf::from(match words.as_slice() {
            [env, python, ..] if env.ends_with("/env") => *python,
            [python, ..] => *python,
            [] => panic!("{}: an empty #! line", server.display()),
        })
    };
    let mut cmd = Command::new(python);
    cmd.arg(repo().join("tests/tools/moto_serial.py")).args([
        "-H",
        "127.0.0.1",
        "-p",
        &port.to_string(),
    ]);
    cmd
}
