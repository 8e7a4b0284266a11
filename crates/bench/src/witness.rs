//! `accord-bench witness`: the release `accord witness serve` (beside this binary) answering
//! C2SP tlog-witness `add-checkpoint` over loopback HTTP with one keep-alive client, one
//! request at a time, each growing a synthetic log by 1 to 16 leaves from an initial size,
//! with the real consistency proof (issue: p50 <= 5 ms, one durable write). Beside it, the
//! ceiling: the same durable write alone (write a temporary file, fsync, rename, fsync the
//! directory), in the same file system, as many times.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use accord_core::checkpoint::{Checkpoint, SignedCheckpoint};
use accord_core::keys::KeyPair;
use accord_core::log::{consistency_needs, consistency_proof_from, leaf_hash, Frontier, Hash};
use accord_core::witness::encode;
use anyhow::{bail, ensure, Context, Result};
use serde::Serialize;

use crate::outside::{accord_bin, write_key};
use crate::util::{loadavg, mean_ms, percentile_ms, phase, SplitMix};

/// The log's origin in the benchmark.
const ORIGIN: &str = "bench.example/witness";

/// What one run measured.
#[derive(Debug, Default, Serialize)]
pub struct WitnessRun {
    /// The log's size at the first request.
    pub initial_size: u64,
    /// Requests timed (all answered 200).
    pub requests: usize,
    /// The log's size at the last.
    pub final_size: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    pub max_ms: f64,
    /// The durable write alone (temporary file, fsync, rename, directory fsync), p50.
    pub durable_write_p50_ms: f64,
    pub durable_write_p99_ms: f64,
    /// p50 <= 5 ms.
    pub target_met: bool,
    pub loadavg_start: String,
    pub loadavg_end: String,
}

/// `accord witness serve`, stopped with SIGTERM on drop.
struct Witness(std::process::Child);

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// A synthetic log: its tree, every stored hash (for proofs) and its key.
struct Log {
    key: KeyPair,
    frontier: Frontier,
    stored: Vec<Hash>,
}

impl Log {
    fn grow(&mut self, n: u64) {
        for _ in 0..n {
            let i = self.frontier.size();
            let hs = self.frontier.push(leaf_hash(&i.to_be_bytes()));
            self.stored.extend(hs);
        }
    }

    fn note(&self) -> Result<Vec<u8>> {
        let cp = Checkpoint::new(ORIGIN, self.frontier.size(), self.frontier.root())?;
        Ok(SignedCheckpoint::sign(&cp, self.key.name(), self.key.signing_key())?.to_bytes())
    }

    fn proof(&self, old: u64) -> Result<Vec<Hash>> {
        let new = self.frontier.size();
        if old == 0 || old == new {
            return Ok(Vec::new());
        }
        let needs = consistency_needs(old, new)?;
        let mut hs = Vec::with_capacity(needs.len());
        for i in needs {
            let h = usize::try_from(i.0)
                .ok()
                .and_then(|i| self.stored.get(i))
                .context("a stored hash the proof needs is missing")?;
            hs.push(*h);
        }
        Ok(consistency_proof_from(old, new, &hs)?)
    }
}

/// One durable replacement of `dir/name`, as the witness's state store does it.
fn durable_write(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Runs the measurement: `requests` add-checkpoint calls from a log of `initial` leaves,
/// state and scratch files under `work`.
pub fn measure(initial: u64, requests: usize, seed: u8, work: &Path) -> Result<WitnessRun> {
    ensure!(requests > 0, "--requests must be at least 1");
    ensure!(initial > 0, "--initial-size must be at least 1");
    let bin = accord_bin()?;
    let scratch = tempfile::Builder::new()
        .prefix("accord-bench-witness-")
        .tempdir_in(work)
        .with_context(|| format!("creating a scratch directory in {}", work.display()))?;
    let dir = scratch.path();
    let mut run = WitnessRun {
        initial_size: initial,
        requests,
        loadavg_start: loadavg(),
        ..WitnessRun::default()
    };

    phase(format!(
        "witness: a synthetic log of {initial} leaves and {requests} requests"
    ));
    let mut log = Log {
        key: KeyPair::from_seed(ORIGIN, &[seed; 32])?,
        frontier: Frontier::new(),
        stored: Vec::new(),
    };
    log.grow(initial);
    let me = KeyPair::from_seed("BENCH-WITNESS", &[seed.wrapping_add(1); 32])?;
    let key_file = dir.join("witness.key");
    write_key(&key_file, &me)?;
    // The bodies are made before timing: the client's signing is not the witness's cost.
    let mut rng = SplitMix::new(u64::from(seed));
    let first = encode(0, &[], &log.note()?);
    let mut bodies = Vec::with_capacity(requests);
    for _ in 0..requests {
        let old = log.frontier.size();
        log.grow(1 + rng.below(16));
        bodies.push(encode(old, &log.proof(old)?, &log.note()?));
    }
    run.final_size = log.frontier.size();

    phase("witness: starting accord witness serve on 127.0.0.1:0");
    let state = dir.join("state");
    let spec = format!("{ORIGIN}={}", log.key.verifier()?);
    let mut child = Command::new(&bin)
        .args([
            "witness",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log",
            &spec,
        ])
        .arg("--key")
        .arg(&key_file)
        .arg("--state")
        .arg(&state)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting accord witness serve")?;
    let stderr = child.stderr.take().context("no stderr")?;
    let _witness = Witness(child);
    let mut lines = BufReader::new(stderr).lines();
    let line = lines.next().context("accord witness serve exited")??;
    let url = line
        .strip_prefix("listening on ")
        .with_context(|| format!("unexpected first line {line:?}"))?
        .to_owned();
    std::thread::spawn(move || for _ in lines {});

    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let post = |body: Vec<u8>| -> Result<Duration> {
        let t = Instant::now();
        let r = client
            .post(format!("{url}/add-checkpoint"))
            .body(body)
            .send()?;
        let status = r.status();
        let b = r.bytes()?;
        let took = t.elapsed();
        if status != 200 || !b.starts_with("\u{2014} BENCH-WITNESS ".as_bytes()) {
            bail!(
                "the witness answered {status}: {}",
                String::from_utf8_lossy(&b).trim()
            );
        }
        Ok(took)
    };
    post(first)?;
    phase(format!(
        "witness: {requests} add-checkpoint requests, one at a time"
    ));
    let mut samples = Vec::with_capacity(requests);
    for b in bodies {
        samples.push(post(b)?);
    }
    run.p50_ms = percentile_ms(&samples, 50.0);
    run.p90_ms = percentile_ms(&samples, 90.0);
    run.p99_ms = percentile_ms(&samples, 99.0);
    run.mean_ms = mean_ms(&samples);
    run.max_ms = percentile_ms(&samples, 100.0);
    run.target_met = run.p50_ms <= 5.0;

    phase("witness: the durable write alone");
    let note = std::fs::read_dir(&state)?
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().ends_with(".checkpoint"))
        .map(|e| std::fs::read(e.path()))
        .context("the witness wrote no state file")??;
    let ceiling_dir = dir.join("ceiling");
    std::fs::create_dir_all(&ceiling_dir)?;
    let mut writes = Vec::with_capacity(requests);
    for _ in 0..requests {
        let t = Instant::now();
        durable_write(&ceiling_dir, "state.checkpoint", &note)?;
        writes.push(t.elapsed());
    }
    run.durable_write_p50_ms = percentile_ms(&writes, 50.0);
    run.durable_write_p99_ms = percentile_ms(&writes, 99.0);
    run.loadavg_end = loadavg();
    Ok(run)
}

/// The figures as table rows, with the target.
pub fn table(r: &WitnessRun) -> String {
    format!(
        "witness add-checkpoint (accord witness serve, loopback, one keep-alive client; load {} -> {})
  log size {} -> {}, {} requests
  add-checkpoint p50                      {:>9.2} ms   target <= 5 ms {}
                 p90 / p99 / max          {:.2} / {:.2} / {:.2} ms   (mean {:.2} ms)
  durable write alone p50 (ceiling)       {:>9.2} ms   (p99 {:.2} ms)
",
        r.loadavg_start,
        r.loadavg_end,
        r.initial_size,
        r.final_size,
        r.requests,
        r.p50_ms,
        if r.target_met { "met" } else { "MISSED" },
        r.p90_ms,
        r.p99_ms,
        r.max_ms,
        r.mean_ms,
        r.durable_write_p50_ms,
        r.durable_write_p99_ms,
    )
}
