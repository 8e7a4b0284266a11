//! `accord serve` under load, killed and stopped: 64 concurrent clients submit signed
//! entries over HTTP while the server is killed with SIGKILL at a random moment, then
//! restarted; every entry that got a 201 must be there with the same index and leaf hash,
//! nothing else may have changed, and `accord verify` must pass. And SIGTERM under load:
//! requests in flight finish, new ones get 503 while draining, nothing acknowledged is lost,
//! exit 0.
//!
//! `ACCORD_CRASH_TRIALS=N` sets the number of kill trials (20 by default; the long run
//! recorded in docs/GUARANTEES.md is `ACCORD_CRASH_TRIALS=500 cargo test -p accord --test
//! serve_crash -- --ignored`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::load::{entries, floors, Rng};
use common::server::Server;
use common::Env;
use serde_json::Value;

const CLIENTS: usize = 64;

/// What a client learnt: index -> (id, leaf hash) of every 201.
type Acked = BTreeMap<u64, (String, String)>;

/// What the clients saw.
#[derive(Default)]
struct Seen {
    acked: Acked,
    unavailable: Vec<String>,
    /// Errors other than a refused connection, or statuses other than 201/503.
    odd: Vec<String>,
}

/// `CLIENTS` threads POST `bodies[next..]` until `stop` is set or (with `stop_on_503`)
/// they get a 503 or a refused connection.
fn clients(
    base: &str,
    bodies: Arc<Vec<Vec<u8>>>,
    next: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    draining: bool,
) -> Vec<std::thread::JoinHandle<Seen>> {
    (0..CLIENTS)
        .map(|_| {
            let (base, bodies, next, stop) =
                (base.to_owned(), bodies.clone(), next.clone(), stop.clone());
            std::thread::spawn(move || {
                let c = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .unwrap();
                let mut seen = Seen::default();
                while !stop.load(Ordering::SeqCst) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(body) = bodies.get(i) else { break };
                    let r = c
                        .post(format!("{base}/api/v1/entries"))
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send();
                    match r {
                        Ok(r) => {
                            let status = r.status().as_u16();
                            let v: Value = serde_json::from_slice(&r.bytes().unwrap_or_default())
                                .unwrap_or(Value::Null);
                            match status {
                                201 => {
                                    seen.acked.insert(
                                        v["index"].as_u64().unwrap(),
                                        (
                                            v["id"].as_str().unwrap().to_owned(),
                                            v["leaf_hash"].as_str().unwrap().to_owned(),
                                        ),
                                    );
                                }
                                503 => {
                                    seen.unavailable.push(v["error"].to_string());
                                    if draining {
                                        break;
                                    }
                                }
                                s => seen.odd.push(format!("status {s}: {v}")),
                            }
                        }
                        // Killed: every error is expected; a refused connection ends it.
                        Err(e) if !draining => {
                            if e.is_connect() {
                                break;
                            }
                        }
                        Err(e) => {
                            if e.is_connect() {
                                break;
                            }
                            seen.odd.push(format!("{e:?}"));
                            break;
                        }
                    }
                }
                seen
            })
        })
        .collect()
}

fn join(handles: Vec<std::thread::JoinHandle<Seen>>) -> Seen {
    let mut all = Seen::default();
    for h in handles {
        let s = h.join().unwrap();
        all.acked.extend(s.acked);
        all.unavailable.extend(s.unavailable);
        all.odd.extend(s.odd);
    }
    all
}

/// Every acknowledged entry is in `now` with its index and leaf hash; every entry below
/// `before.len()` is unchanged; every entry past it is one of ours.
fn check(before: &Acked, acked: &Acked, now: &Acked, prefix: &str, trial: usize) {
    for (i, e) in before {
        assert_eq!(now.get(i), Some(e), "trial {trial}: entry {i} changed");
    }
    for (i, e) in acked {
        assert_eq!(
            now.get(i),
            Some(e),
            "trial {trial}: acknowledged entry {i} ({}) lost or changed",
            e.0
        );
    }
    let mut ids = HashMap::new();
    for (i, (id, _)) in now.range(before.len() as u64..) {
        assert!(
            id.starts_with(prefix),
            "trial {trial}: entry {i} ({id}) is none of ours"
        );
        assert!(
            ids.insert(id.clone(), *i).is_none(),
            "trial {trial}: {id} twice"
        );
    }
    let expect: Vec<u64> = (0..now.len() as u64).collect();
    assert_eq!(
        now.keys().copied().collect::<Vec<_>>(),
        expect,
        "trial {trial}: indexes not contiguous"
    );
}

fn crash_trials(trials: usize) {
    let env = Env::new();
    env.ok(&["demo", "--dir", "d"]);
    let per_trial = 400;
    let bodies = Arc::new(floors(&env, "crash", trials * per_trial + CLIENTS));
    let next = Arc::new(AtomicUsize::new(0));
    let seed = std::env::var("ACCORD_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("crash trials: {trials}, seed {seed} (ACCORD_CRASH_SEED replays)");
    let mut rng = Rng(seed);
    let mut server = Server::start(&env, &["--rate-limit", "0"]);
    let mut ledger = entries(&server.url);
    let (mut total_acked, mut in_flight_lost) = (0usize, 0usize);
    let started = Instant::now();
    for trial in 0..trials {
        let stop = Arc::new(AtomicBool::new(false));
        // `next` runs past the end once the bodies are used up (each client takes one more
        // index before it sees there is none), so both ends of `sent` are clamped.
        let first = next.load(Ordering::SeqCst).min(bodies.len());
        let handles = clients(
            &server.url,
            bodies.clone(),
            next.clone(),
            stop.clone(),
            false,
        );
        std::thread::sleep(Duration::from_millis(rng.range(5, 400)));
        server.kill();
        stop.store(true, Ordering::SeqCst);
        let seen = join(handles);
        assert!(seen.odd.is_empty(), "trial {trial}: {:?}", seen.odd);
        server = Server::start(&env, &["--rate-limit", "0"]);
        let now = entries(&server.url);
        check(&ledger, &seen.acked, &now, "crash-", trial);
        let sent = next.load(Ordering::SeqCst).min(bodies.len()) - first;
        let landed = now.len() - ledger.len();
        total_acked += seen.acked.len();
        in_flight_lost += sent.saturating_sub(landed);
        assert!(
            landed >= seen.acked.len(),
            "trial {trial}: {landed} landed, {} acknowledged",
            seen.acked.len()
        );
        ledger = now;
    }
    eprintln!(
        "crash trials: {trials} in {:.1} s; {total_acked} acknowledged, all present; \
         {} entries in the ledger; {in_flight_lost} sent but neither acknowledged nor logged",
        started.elapsed().as_secs_f64(),
        ledger.len()
    );
    assert!(
        total_acked > 0,
        "no trial acknowledged anything: the test did not test"
    );
    server.kill();
    let v = env.ok(&["--ledger", "d/ledger", "--json", "verify"]);
    assert_eq!(v.json()["ok"], Value::Bool(true), "{}", v.stdout);
}

#[test]
fn sigkill_under_load_loses_no_acknowledged_entry() {
    let trials = std::env::var("ACCORD_CRASH_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    crash_trials(trials);
}

#[test]
#[ignore = "long: 500 kill trials (ACCORD_CRASH_TRIALS overrides); recorded in docs/GUARANTEES.md"]
fn sigkill_under_load_long_run() {
    let trials = std::env::var("ACCORD_CRASH_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    crash_trials(trials);
}

#[test]
fn sigterm_under_load_drains_with_503_and_loses_nothing() {
    let env = Env::new();
    env.ok(&["demo", "--dir", "d"]);
    let bodies = Arc::new(floors(&env, "drain", 20_000));
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let server = Server::start(&env, &["--rate-limit", "0"]);
    let base = server.url.clone();
    let before = entries(&base);
    let handles = clients(&base, bodies.clone(), next.clone(), stop.clone(), true);
    // Let the load build up, then stop the server as an operator would.
    let started = Instant::now();
    while next.load(Ordering::SeqCst) < 2 * CLIENTS && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    let code = server.terminate();
    let seen = join(handles);
    assert_eq!(code, 0, "accord serve exited {code} after SIGTERM");
    assert!(
        seen.odd.is_empty(),
        "errors other than 201, 503 or a refused connection: {:?}",
        seen.odd
    );
    assert!(
        !seen.acked.is_empty(),
        "nothing was acknowledged before SIGTERM"
    );
    assert!(
        !seen.unavailable.is_empty(),
        "no client was answered 503 while draining"
    );
    assert!(
        seen.unavailable.iter().any(|e| e.contains("shutting down")),
        "{:?}",
        seen.unavailable
    );
    let acked = seen.acked;
    let server = Server::start(&env, &["--rate-limit", "0"]);
    let now = entries(&server.url);
    check(&before, &acked, &now, "drain-", 0);
    // A clean stop: nothing sent was left half done.
    assert_eq!(
        now.len() - before.len(),
        acked.len(),
        "entries logged but not acknowledged on a clean stop"
    );
    server.kill();
    let v = env.ok(&["--ledger", "d/ledger", "--json", "verify"]);
    assert_eq!(v.json()["ok"], Value::Bool(true), "{}", v.stdout);
}
