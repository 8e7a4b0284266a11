//! Outside timings: the release `accord` binary (beside this one) run as new processes on a
//! kept ledger (`open_ms`, `submit_ms`, `cosign_ms`), and `accord serve` on it measured over
//! loopback HTTP by an in-process load generator (hyper for submissions, reqwest for reads;
//! issue #11).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use accord_core::envelope::Envelope;
use accord_core::keys::KeyPair;
use accord_core::tiles::TileId;
use accord_ledger::synth::Synth;
use anyhow::{bail, ensure, Context, Result};
use serde::Serialize;

use crate::util::{percentile_ms, phase, SplitMix};
use crate::workload::MEMBERS;

/// The release `accord` binary beside this executable.
pub fn accord_bin() -> Result<PathBuf> {
    let me = std::env::current_exe().context("locating accord-bench")?;
    let bin = me.with_file_name("accord");
    ensure!(
        bin.exists(),
        "{} not found: build it with `cargo build --release -p accord`",
        bin.display()
    );
    Ok(bin)
}

/// Writes one key in the CLI's unencrypted key-file format (`accord-key/v1`, mode 0600).
pub fn write_key(path: &Path, key: &KeyPair) -> Result<()> {
    let v =
        serde_json::json!({"format": "accord-key/v1", "name": key.name(), "skey": key.to_skey()});
    let mut bytes = serde_json::to_vec_pretty(&v)?;
    bytes.push(b'\n');
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    Ok(())
}

/// Keeps the members' keys (`<member id>.key`) and the log key (`log.key`), unencrypted,
/// in `dir/keys/`.
pub fn keep_keys(dir: &Path, synth: &Synth) -> Result<()> {
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).with_context(|| format!("creating {}", keys.display()))?;
    for m in &synth.members {
        write_key(&keys.join(format!("{}.key", m.name())), m)?;
    }
    write_key(&keys.join("log.key"), &synth.log)
}

fn entry_id(env: &Envelope) -> Result<String> {
    let v: serde_json::Value = serde_json::from_slice(&env.payload)?;
    v.get("id")
        .and_then(|i| i.as_str())
        .map(str::to_owned)
        .context("entry without an id")
}

pub fn run(bin: &Path, args: &[&str]) -> Result<Duration> {
    let t = Instant::now();
    let out = Command::new(bin)
        .args(args)
        .env_remove("ACCORD_SERVER")
        .env_remove("ACCORD_LEDGER")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    let d = t.elapsed();
    if !out.status.success() {
        bail!(
            "accord {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(d)
}

/// What `outside` measures.
#[derive(Serialize, Default, Debug)]
pub struct Outside {
    pub entries: u64,
    pub open_ms: f64,
    pub submit_ms: f64,
    pub submit_p99_ms: f64,
    pub checkpoint_ms: f64,
    pub cosign_ms: f64,
    pub cosign_first_ms: f64,
    pub serve_clients: usize,
    pub serve_submitted: u64,
    pub serve_accepted: u64,
    pub serve_accepted_per_s: f64,
    pub serve_submit_p50_ms: f64,
    pub serve_submit_p99_ms: f64,
    /// CPU time (user + system) of the `accord serve` process per accepted submission.
    pub serve_cpu_us_per_entry: f64,
    /// CPU time of the load generator (this process) per accepted submission.
    pub loadgen_cpu_us_per_entry: f64,
    /// Mean envelopes per group commit during the submissions (from `/metrics`).
    pub serve_mean_group: f64,
    pub tile_gets: u64,
    pub tile_gets_per_s: f64,
    pub bundle_gets: u64,
    pub bundle_gets_per_s: f64,
    pub http_inclusion_p50_ms: f64,
    pub http_inclusion_p99_ms: f64,
    pub loadavg_start: String,
    pub loadavg_end: String,
}

/// Submissions the service part sends by default: enough for some seconds of steady state
/// (runs before 2026-12-03 10:40 UTC sent 1,024, a fifth of a second, most of it warm-up).
pub const SUBMISSIONS: usize = 20_000;

/// Times the CLI and the service on the kept ledger `dir` of `entries` entries made by
/// `Synth::new(MEMBERS, seed)`; new entries continue that workload.
#[allow(clippy::too_many_lines)]
pub fn measure(
    dir: &Path,
    entries: u64,
    seed: u8,
    submits: usize,
    clients: usize,
    submissions: usize,
) -> Result<Outside> {
    let bin = accord_bin()?;
    let mut o = Outside {
        entries,
        serve_clients: clients,
        loadavg_start: crate::util::loadavg(),
        ..Outside::default()
    };
    phase(format!("outside: replaying Synth to entry {entries}"));
    let mut synth = Synth::new(MEMBERS, seed);
    let _ = synth.charter();
    let mut last = None;
    for _ in 1..entries {
        last = Some(synth.next_entry());
    }
    if !dir.join("keys").join("log.key").exists() {
        keep_keys(dir, &synth)?;
    }
    let d = dir.to_str().context("ledger path is not UTF-8")?;
    let keys = dir.join("keys");
    let work = tempfile::tempdir()?;

    // open + one read.
    let id = entry_id(last.as_ref().context("ledger of one entry")?)?;
    let mut t = Vec::new();
    for _ in 0..7 {
        t.push(run(&bin, &["--ledger", d, "--json", "show", &id])?);
    }
    o.open_ms = percentile_ms(&t, 50.0);
    phase(format!("outside: open + show p50 {:.1} ms", o.open_ms));

    // submits.
    let mut t = Vec::new();
    for k in 0..submits {
        let p = work.path().join(format!("s{k}.json"));
        std::fs::write(&p, synth.next_entry().to_json())?;
        t.push(run(
            &bin,
            &["--ledger", d, "submit", p.to_str().unwrap_or_default()],
        )?);
    }
    o.submit_ms = percentile_ms(&t, 50.0);
    o.submit_p99_ms = percentile_ms(&t, 99.0);
    phase(format!("outside: submit p50 {:.1} ms", o.submit_ms));

    // A first cosignature (a full check from the charter, leaving `KEY.verified`), then one
    // new entry, a new checkpoint and the cosignature the target is about: the incremental one.
    let log_key = keys.join("log.key");
    let lk = log_key.to_str().unwrap_or_default();
    let member = keys.join(format!("{}.key", synth.members[0].name()));
    let mk = member.to_str().unwrap_or_default();
    run(&bin, &["--ledger", d, "checkpoint", "--log-key", lk])?;
    o.cosign_first_ms = run(&bin, &["--ledger", d, "cosign", "--key", mk])?.as_secs_f64() * 1e3;
    let p = work.path().join("c.json");
    std::fs::write(&p, synth.next_entry().to_json())?;
    run(
        &bin,
        &["--ledger", d, "submit", p.to_str().unwrap_or_default()],
    )?;
    o.checkpoint_ms =
        run(&bin, &["--ledger", d, "checkpoint", "--log-key", lk])?.as_secs_f64() * 1e3;
    o.cosign_ms = run(&bin, &["--ledger", d, "cosign", "--key", mk])?.as_secs_f64() * 1e3;
    phase(format!(
        "outside: checkpoint {:.1} ms, first cosign {:.1} ms, cosign after one entry {:.1} ms",
        o.checkpoint_ms, o.cosign_first_ms, o.cosign_ms
    ));

    serve(&bin, d, lk, &mut synth, seed, submissions, &mut o)?;
    o.loadavg_end = crate::util::loadavg();
    Ok(o)
}

/// A child process, stopped with SIGTERM (as an operator would) and waited for on drop.
pub struct Child(std::process::Child);

impl Child {
    /// Its process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        #[allow(clippy::cast_possible_wrap)]
        let pid = self.0.id() as i32;
        // SIGTERM, as an operator would; then wait.
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// CPU time (user + system) a process has used, from `/proc/<pid>/stat` (`self` for this
/// one); `None` where there is no such file.
pub fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(Duration::from_millis(ticks * 10))
}

/// The counters of group commits in `accord serve`'s `/metrics`: (groups, envelopes).
async fn group_counters(http: &reqwest::Client, url: &str) -> Option<(f64, f64)> {
    let text = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let value = |name: &str| {
        text.lines().find_map(|l| {
            l.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse::<f64>()
                .ok()
        })
    };
    Some((
        value("accord_commit_groups_total")?,
        value("accord_commit_group_envelopes_total")?,
    ))
}

/// What one client of the submission load got: latencies, how many were accepted, and the
/// first few answers that were not 201.
type ClientRun = (Vec<Duration>, u64, Vec<String>);

/// One client of the submission load: its own HTTP/1.1 connection (hyper, keep-alive), one
/// request at a time, posting the next body not yet taken until none is left.
///
/// The workload amends and reports on commitments made earlier, now and then on one made a
/// few entries before; with 64 clients at once, that commitment may still be on its way
/// (another client's request, not yet committed) and the lifecycle entry is refused, as it
/// should be: "no commitment ... in the ledger". A ministry would submit it again once its
/// commitment is in, and so does this client, after a millisecond, up to 100 times; the
/// latency recorded is that of the whole submission.
async fn submit_client(
    addr: String,
    bodies: Arc<Vec<hyper::body::Bytes>>,
    next: Arc<std::sync::atomic::AtomicUsize>,
) -> Result<ClientRun> {
    use http_body_util::{BodyExt, Full};
    let stream = tokio::net::TcpStream::connect(&addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    let driver = tokio::spawn(conn);
    let mut lat = Vec::new();
    let mut ok = 0u64;
    let mut refused = Vec::new();
    loop {
        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(body) = bodies.get(i) else {
            break;
        };
        let t = Instant::now();
        let mut tries = 0;
        let (status, answer) = loop {
            let req = hyper::Request::post("/api/v1/entries")
                .header(hyper::header::HOST, addr.as_str())
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .body(Full::new(body.clone()))?;
            sender.ready().await?;
            let r = sender.send_request(req).await?;
            let status = r.status();
            let answer = r.into_body().collect().await?.to_bytes();
            tries += 1;
            let racing = status.as_u16() == 422
                && String::from_utf8_lossy(&answer).contains("no commitment");
            if !racing || tries >= 100 {
                break (status, answer);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        lat.push(t.elapsed());
        if status.as_u16() == 201 {
            ok += 1;
        } else if refused.len() < 5 {
            refused.push(format!("{status}: {}", String::from_utf8_lossy(&answer)));
        }
    }
    drop(sender);
    let _ = driver.await;
    Ok((lat, ok, refused))
}

/// Starts `accord serve` (no rate or per-address connection limit, a checkpoint every second) on a free loopback
/// port of the ledger `d` with the log key `lk`; the process and its URL.
pub fn start_serve(bin: &Path, d: &str, lk: &str) -> Result<(Child, String)> {
    phase("serve: starting accord serve on 127.0.0.1:0");
    let mut child = Command::new(bin)
        .args([
            "--ledger",
            d,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-key",
            lk,
            "--rate-limit",
            "0",
            // Every load generator's connection comes from 127.0.0.1.
            "--max-connections-per-address",
            "0",
            "--checkpoint-every",
            "1",
        ])
        .env_remove("ACCORD_SERVER")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting accord serve")?;
    let stderr = child.stderr.take().context("no stderr")?;
    let child = Child(child);
    let mut lines = BufReader::new(stderr).lines();
    let first = lines.next().context("accord serve exited")??;
    let url = first
        .strip_prefix("listening on ")
        .with_context(|| format!("unexpected first line {first:?}"))?
        .to_owned();
    std::thread::spawn(move || for _ in lines {});
    Ok((child, url))
}

fn serve(
    bin: &Path,
    d: &str,
    lk: &str,
    synth: &mut Synth,
    seed: u8,
    submissions: usize,
    o: &mut Outside,
) -> Result<()> {
    let (child, url) = start_serve(bin, d, lk)?;

    let bodies: Vec<hyper::body::Bytes> = (0..submissions)
        .map(|_| synth.next_entry().to_json().into())
        .collect();
    let server_pid = child.id().to_string();
    let addr = url
        .strip_prefix("http://")
        .with_context(|| format!("{url} is not plain http"))?
        .to_owned();
    let size = o.entries;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let clients = o.serve_clients;
    rt.block_on(async {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?;
        // (a) submissions from `clients` concurrent clients, each on its own connection.
        let bodies = Arc::new(bodies);
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let groups_before = group_counters(&http, &url).await;
        let cpu_before = (cpu_time(&server_pid), cpu_time("self"));
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            tasks.push(tokio::spawn(submit_client(
                addr.clone(),
                bodies.clone(),
                next.clone(),
            )));
        }
        let mut lat = Vec::new();
        let mut ok = 0;
        for t in tasks {
            let (l, k, r) = t.await??;
            lat.extend(l);
            ok += k;
            for r in r {
                phase(format!("serve: a submission was not accepted: {r}"));
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        let cpu_after = (cpu_time(&server_pid), cpu_time("self"));
        let per_entry = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
            (Some(a), Some(b)) if ok > 0 => (b.saturating_sub(a)).as_secs_f64() * 1e6 / ok as f64,
            _ => f64::NAN,
        };
        o.serve_cpu_us_per_entry = per_entry(cpu_before.0, cpu_after.0);
        o.loadgen_cpu_us_per_entry = per_entry(cpu_before.1, cpu_after.1);
        if let (Some(a), Some(b)) = (groups_before, group_counters(&http, &url).await) {
            o.serve_mean_group = (b.1 - a.1) / (b.0 - a.0).max(1.0);
        }
        o.serve_submitted = lat.len() as u64;
        o.serve_accepted = ok;
        o.serve_accepted_per_s = ok as f64 / secs;
        o.serve_submit_p50_ms = percentile_ms(&lat, 50.0);
        o.serve_submit_p99_ms = percentile_ms(&lat, 99.0);
        phase(format!(
            "serve: {ok}/{} accepted in {secs:.2} s ({:.0}/s), p99 {:.1} ms; CPU per entry: server {:.0} us, load generator {:.0} us; {:.1} per group",
            lat.len(),
            o.serve_accepted_per_s,
            o.serve_submit_p99_ms,
            o.serve_cpu_us_per_entry,
            o.loadgen_cpu_us_per_entry,
            o.serve_mean_group
        ));

        // (b) random full tiles and entry bundles.
        let full = size / 256;
        for bundles in [false, true] {
            let total = 20_000u64;
            let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let t0 = Instant::now();
            let mut tasks = Vec::new();
            for c in 0..clients {
                let (http, next, url) = (http.clone(), next.clone(), url.clone());
                tasks.push(tokio::spawn(async move {
                    let mut rng = SplitMix::new(u64::from(seed) * 1000 + c as u64);
                    let mut got = 0u64;
                    while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < total {
                        let n = rng.next_u64() % full.max(1);
                        let tile = if bundles {
                            TileId::entries(n, 256)
                        } else {
                            TileId::hashes(0, n, 256)
                        };
                        let r = http.get(format!("{url}/{tile}")).send().await?;
                        ensure!(r.status().is_success(), "GET {tile}: {}", r.status());
                        let _ = r.bytes().await?;
                        got += 1;
                    }
                    anyhow::Ok(got)
                }));
            }
            let mut got = 0;
            for t in tasks {
                got += t.await??;
            }
            let per_s = got as f64 / t0.elapsed().as_secs_f64();
            if bundles {
                o.bundle_gets = got;
                o.bundle_gets_per_s = per_s;
            } else {
                o.tile_gets = got;
                o.tile_gets_per_s = per_s;
            }
            phase(format!(
                "serve: {got} GETs (bundles: {bundles}) at {per_s:.0}/s"
            ));
        }

        // (c) inclusion proofs, one at a time.
        let mut rng = SplitMix::new(u64::from(seed) + 99);
        let mut lat = Vec::new();
        for _ in 0..1000 {
            let i = rng.next_u64() % size;
            let t = Instant::now();
            let r = http
                .get(format!(
                    "{url}/api/v1/proof/inclusion?index={i}&size={size}"
                ))
                .send()
                .await?;
            ensure!(r.status().is_success(), "proof {i}: {}", r.status());
            let _ = r.bytes().await?;
            lat.push(t.elapsed());
        }
        o.http_inclusion_p50_ms = percentile_ms(&lat, 50.0);
        o.http_inclusion_p99_ms = percentile_ms(&lat, 99.0);
        phase(format!(
            "serve: inclusion proof p50 {:.3} ms",
            o.http_inclusion_p50_ms
        ));
        anyhow::Ok(())
    })?;
    drop(child);
    Ok(())
}

/// The outside figures as table rows, with the issue-#10/#11 targets.
pub fn table(o: &Outside) -> String {
    format!(
        "outside timings at {} entries (new `accord` processes; load {} -> {})
  open + one read (show <id>), p50 of 7   {:>9.1} ms   target <= 50 ms
  submit, p50 of new processes            {:>9.1} ms   target <= 30 ms   (p99 {:.1} ms)
  checkpoint --log-key                    {:>9.1} ms
  first cosign (full check, no .verified) {:>9.1} ms
  cosign after one new entry              {:>9.1} ms   target <= 100 ms
service (accord serve, loopback, hyper/tokio load generator in-process, {} clients)
  submissions accepted                    {:>9.0} /s   ({} of {}; p50 {:.1} ms, p99 {:.1} ms; target p99 <= 50 ms)
  CPU per accepted submission             {:>9.0} us   server ({:.0} us load generator; {:.1} envelopes per group)
  full level-0 tile GETs                  {:>9.0} /s   target >= 20000 /s
  full entry-bundle GETs                  {:>9.0} /s
  inclusion proof over HTTP, p50          {:>9.3} ms   target <= 1 ms   (p99 {:.3} ms)
",
        o.entries,
        o.loadavg_start,
        o.loadavg_end,
        o.open_ms,
        o.submit_ms,
        o.submit_p99_ms,
        o.checkpoint_ms,
        o.cosign_first_ms,
        o.cosign_ms,
        o.serve_clients,
        o.serve_accepted_per_s,
        o.serve_accepted,
        o.serve_submitted,
        o.serve_submit_p50_ms,
        o.serve_submit_p99_ms,
        o.serve_cpu_us_per_entry,
        o.loadgen_cpu_us_per_entry,
        o.serve_mean_group,
        o.tile_gets_per_s,
        o.bundle_gets_per_s,
        o.http_inclusion_p50_ms,
        o.http_inclusion_p99_ms,
    )
}
