//! The pages in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by `.ci/install-test-tools` when missing) driven over the
//! W3C WebDriver protocol, on the demo ledger served by `accord serve` and on the file
//! `accord report` writes, opened from `file://`. The figures on the pages must be those of
//! `accord summary --json` and `accord status --json`; the browser's log must hold no
//! error; every table must have a caption and scoped header cells. Screenshots are kept in
//! `target/web-screenshots/`.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::server::Server;
use common::Env;
use serde_json::{json, Value};

/// A chromedriver on a free loopback port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
    http: reqwest::blocking::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Driver {
    fn start(chromedriver: &Path) -> Driver {
        let port = free_port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let d = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        };
        let started = Instant::now();
        loop {
            if let Ok(r) = d.http.get(format!("{}/status", d.url)).send() {
                if let Ok(v) = serde_json::from_slice::<Value>(&r.bytes().unwrap_or_default()) {
                    if v["value"]["ready"] == true {
                        return d;
                    }
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver did not become ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let r = req.send().unwrap();
        let status = r.status();
        let v: Value = serde_json::from_slice(&r.bytes().unwrap()).unwrap();
        assert!(status.is_success(), "WebDriver {path}: {status} {v}");
        v["value"].clone()
    }
}

/// A browser session: a headless Chromium with a fresh profile, ended when dropped.
struct Browser<'a> {
    driver: &'a Driver,
    session: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser<'_> {
    fn drop(&mut self) {
        let _ = self
            .driver
            .http
            .delete(format!("{}/session/{}", self.driver.url, self.session))
            .send();
    }
}

impl<'a> Browser<'a> {
    fn new(driver: &'a Driver, chromium: &Path) -> Browser<'a> {
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium.to_str().unwrap(),
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,1600",
                    format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let v = driver.call(reqwest::Method::POST, "/session", Some(caps));
        Browser {
            driver,
            session: v["sessionId"].as_str().unwrap().to_owned(),
            _profile: profile,
        }
    }

    fn path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    fn go(&self, url: &str) {
        self.driver.call(
            reqwest::Method::POST,
            &self.path("/url"),
            Some(json!({"url": url})),
        );
    }

    fn script(&self, js: &str) -> Value {
        self.driver.call(
            reqwest::Method::POST,
            &self.path("/execute/sync"),
            Some(json!({"script": js, "args": []})),
        )
    }

    /// Every `[data-NAME]` element: its attribute value -> its text.
    fn data(&self, name: &str) -> BTreeMap<String, String> {
        let js = format!(
            "return Array.from(document.querySelectorAll('[data-{name}]')).map(e => [e.getAttribute('data-{name}'), e.textContent.trim()]);"
        );
        self.script(&js)
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p[0].as_str().unwrap().to_owned(),
                    p[1].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// The browser's log since the last call: entries at level SEVERE.
    fn severe(&self) -> Vec<Value> {
        let v = self.driver.call(
            reqwest::Method::POST,
            &self.path("/se/log"),
            Some(json!({"type": "browser"})),
        );
        v.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["level"] == "SEVERE")
            .cloned()
            .collect()
    }

    fn screenshot(&self, name: &str) {
        let v = self
            .driver
            .call(reqwest::Method::GET, &self.path("/screenshot"), None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        let dir = screenshots();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// What every page must be: English, one h1, every table with a caption and every
    /// header cell scoped, every chart labelled, and no error in the log.
    fn check_page(&self, what: &str) {
        let v = self.script(
            "return {lang: document.documentElement.lang, h1: document.querySelectorAll('h1').length,
              tables: document.querySelectorAll('table').length,
              uncaptioned: Array.from(document.querySelectorAll('table')).filter(t => !t.caption || !t.caption.textContent.trim()).length,
              unscoped: Array.from(document.querySelectorAll('th')).filter(th => !th.getAttribute('scope')).length,
              unlabelled: Array.from(document.querySelectorAll('svg[role=img]')).filter(s => { var id = s.getAttribute('aria-labelledby'); return !id || !document.getElementById(id); }).length,
              scripts_from_elsewhere: Array.from(document.querySelectorAll('script[src],link[rel=stylesheet],img[src^=http]')).length};",
        );
        assert_eq!(v["lang"], "en", "{what}: {v}");
        assert!(v["h1"].as_u64().unwrap() >= 1, "{what}: no h1: {v}");
        assert_eq!(v["uncaptioned"], 0, "{what}: a table without caption: {v}");
        assert_eq!(v["unscoped"], 0, "{what}: a th without scope: {v}");
        assert_eq!(v["unlabelled"], 0, "{what}: a chart without label: {v}");
        assert_eq!(
            v["scripts_from_elsewhere"], 0,
            "{what}: loads something: {v}"
        );
        let severe = self.severe();
        assert!(severe.is_empty(), "{what}: browser errors: {severe:?}");
    }
}

fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/web-screenshots")
}

/// `1234567.5` -> `1,234,567.5`, written here from the rule in docs/CLI.md rather than
/// taken from the code under test.
fn grouped(a: &str) -> String {
    let (whole, frac) = a.split_once('.').map_or((a, None), |(w, f)| (w, Some(f)));
    let mut out = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

fn money_text(m: &Value) -> String {
    m.as_object()
        .unwrap()
        .iter()
        .map(|(c, a)| format!("{c} {}", grouped(a.as_str().unwrap())))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The overview's figures are the summary's.
fn check_overview(b: &Browser, summary: &Value) {
    let counts = b.data("count");
    for k in [
        "commitments",
        "active",
        "amended",
        "pending",
        "expired",
        "withdrawn",
    ] {
        assert_eq!(
            counts.get(k).map(String::as_str),
            Some(summary["commitments"][k].to_string().as_str()),
            "count {k}"
        );
    }
    let pledged = b.data("pledged");
    let want = summary["pledged"].as_object().unwrap();
    assert!(!want.is_empty());
    assert_eq!(pledged.len(), want.len(), "{pledged:?}");
    for (cur, amount) in want {
        assert_eq!(
            pledged[cur],
            format!("{cur} {}", grouped(amount.as_str().unwrap())),
            "pledged {cur}"
        );
    }
    let disbursed = b.data("disbursed");
    for (cur, amount) in summary["disbursed"].as_object().unwrap() {
        assert_eq!(
            disbursed[cur],
            format!("{cur} {}", grouped(amount.as_str().unwrap())),
            "disbursed {cur}"
        );
    }
    let pays = b.data("pays");
    let countries = summary["by_country"].as_object().unwrap();
    assert_eq!(pays.len(), countries.len());
    for (c, line) in countries {
        assert_eq!(pays[c], money_text(&line["pledged"]), "pays {c}");
    }
}

/// The commitments table's figures and statuses are `accord status --json`'s.
fn check_table(b: &Browser, status: &[Value]) {
    let figures = b.data("figure");
    let statuses = b.data("status-of");
    assert_eq!(figures.len(), status.len());
    let words = |s: &str| match s {
        "active" => "In force, as signed",
        "amended" => "In force, amended",
        "pending" => "Pending",
        "expired" => "Expired",
        "withdrawn" => "Withdrawn",
        other => panic!("status {other}"),
    };
    for v in status {
        let id = v["id"].as_str().unwrap();
        assert_eq!(
            figures[id],
            v["headline"].as_str().unwrap(),
            "figure of {id}"
        );
        assert_eq!(
            statuses[id],
            words(v["status"].as_str().unwrap()),
            "status of {id}"
        );
    }
}

#[test]
fn pages_show_the_figures_of_summary_and_status_in_chromium() {
    let (chromium, chromedriver) = common::tools::chromium();
    let env = Env::new();
    env.ok(&["demo", "--dir", "d"]);
    let summary = env
        .ok(&["--ledger", "d/ledger", "--json", "summary"])
        .json();
    let status: Vec<Value> = env
        .ok(&["--ledger", "d/ledger", "--json", "status"])
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(status.len() >= 10);

    // The report first, from the directory (the server holds the ledger once it runs).
    let report = env.path("report.html");
    env.ok(&[
        "--ledger",
        "d/ledger",
        "report",
        "--out",
        report.to_str().unwrap(),
    ]);
    let server = Server::start(&env, &[]);
    let served_report = env.path("served-report.html");
    env.ok(&[
        "--server",
        &server.url,
        "report",
        "--out",
        served_report.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(&report).unwrap(),
        std::fs::read_to_string(&served_report).unwrap(),
        "the report from the directory and from the server differ"
    );

    let driver = Driver::start(&chromedriver);
    let b = Browser::new(&driver, &chromium);

    b.go(&format!("{}/", server.url));
    b.check_page("overview");
    check_overview(&b, &summary);
    b.screenshot("overview");

    b.go(&format!("{}/commitments", server.url));
    b.check_page("commitments");
    check_table(&b, &status);
    b.screenshot("commitments");

    // The server filters: only the amended ones.
    b.go(&format!("{}/commitments?status=amended", server.url));
    b.check_page("commitments?status=amended");
    let amended: Vec<Value> = status
        .iter()
        .filter(|v| v["status"] == "amended")
        .cloned()
        .collect();
    assert!(!amended.is_empty());
    check_table(&b, &amended);

    // A commitment with an amendment: current terms, what changed, the proof.
    let id = amended[0]["id"].as_str().unwrap();
    b.go(&format!("{}/commitments/{id}", server.url));
    b.check_page("commitment");
    assert_eq!(
        b.data("figure")[id],
        amended[0]["headline"].as_str().unwrap()
    );
    let text = b
        .script("return document.body.innerText;")
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.contains("Reason:"), "{text}");
    assert!(text.contains(" -> "), "no change listed: {text}");
    assert!(text.contains("Leaf hash"), "no proof: {text}");
    b.screenshot("commitment");

    b.go(&format!("{}/members", server.url));
    b.check_page("members");
    let text = b
        .script("return document.body.innerText;")
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.contains("key rotated to"), "{text}");
    b.screenshot("members");

    b.go(&format!("{}/trust", server.url));
    b.check_page("trust");
    let verified = env
        .ok(&["--server", &server.url, "--json", "members"])
        .stdout
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).unwrap()["removed_at"].is_null())
        .count();
    let cosigners = b.data("cosigners");
    assert!(
        cosigners[""].ends_with(&format!("of {verified} members")),
        "{cosigners:?}"
    );
    b.screenshot("trust");

    // The report, from file://, with no server behind it.
    b.go(&format!("file://{}", report.display()));
    b.check_page("report");
    check_overview(&b, &summary);
    check_table(&b, &status);
    // Its filter works in place.
    b.script(
        "var f = document.getElementById('filters'); f.elements['status'].value = 'withdrawn'; f.dispatchEvent(new Event('change'));",
    );
    let shown = b
        .script("return Array.from(document.querySelectorAll('#commitments-table tbody tr')).filter(r => !r.hidden).map(r => r.getAttribute('data-id'));");
    let withdrawn: Vec<&str> = status
        .iter()
        .filter(|v| v["status"] == "withdrawn")
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert!(!withdrawn.is_empty());
    assert_eq!(shown, json!(withdrawn));
    b.screenshot("report");
    drop(b);
    drop(driver);
    server.kill();
}
