//! `accord-bench soak`: `accord serve` (the release binary beside this one) on a kept ledger,
//! first its maximum accepted submissions per second (64 closed-loop clients), then an
//! open-loop load at a share of that maximum (70% by default) for a number of minutes, with
//! readers beside it (checkpoint, tiles, inclusion proofs). Per minute: submissions sent and
//! accepted, latency p50/p99, read p99, and the server's resident memory (issue #15).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use accord_core::tiles::TileId;
use accord_ledger::synth::Synth;
use anyhow::{ensure, Context, Result};
use serde::Serialize;
use tokio::sync::{mpsc, Semaphore};

use crate::outside::{accord_bin, start_serve};
use crate::util::{percentile_ms, phase, SplitMix};
use crate::workload::MEMBERS;

/// One window of the soak.
#[derive(Debug, Default, Serialize, Clone)]
pub struct Window {
    /// Seconds since the soak started, at the window's end.
    pub at_s: u64,
    pub sent: u64,
    pub accepted: u64,
    pub refused: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub reads: u64,
    pub read_p99_ms: f64,
    /// The server's VmRSS at the window's end.
    pub rss_mib: f64,
}

/// What one soak measured.
#[derive(Debug, Default, Serialize)]
pub struct SoakRun {
    pub entries_start: u64,
    pub max_per_s: f64,
    pub max_p99_ms: f64,
    pub share: f64,
    pub rate_per_s: f64,
    pub minutes: u64,
    pub windows: Vec<Window>,
    /// Submissions the open loop could not send on time (all request slots busy).
    pub late: u64,
    pub entries_end: u64,
    /// p99 of the first window after the warm-up one, the highest later one, and their ratio
    /// (target <= 2).
    pub p99_start_ms: f64,
    pub p99_worst_ms: f64,
    pub p99_ratio: f64,
    /// RSS at the end of the first window after warm-up, at the end, and the highest.
    pub rss_start_mib: f64,
    pub rss_end_mib: f64,
    pub rss_max_mib: f64,
    pub loadavg_start: String,
    pub loadavg_end: String,
}

fn rss_mib(pid: u32) -> f64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0.0;
    };
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// New commitments signed in a thread, sent down a bounded channel.
fn generator(seed: u8, stop: Arc<AtomicBool>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(20_000);
    // Numbered from the clock, so ids differ from every earlier run's.
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        * 100_000;
    std::thread::spawn(move || {
        let mut synth = Synth::new(MEMBERS, seed).starting_at(start);
        while !stop.load(Ordering::Relaxed) {
            if tx.blocking_send(synth.next_entry().to_json()).is_err() {
                break;
            }
        }
    });
    rx
}

#[derive(Default)]
struct Samples {
    lat: Vec<Duration>,
    accepted: u64,
    refused: u64,
    errors: u64,
    reads: Vec<Duration>,
}

async fn submit(http: &reqwest::Client, url: &str, body: Vec<u8>) -> Result<u16> {
    let r = http
        .post(format!("{url}/api/v1/entries"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    let status = r.status().as_u16();
    let _ = r.bytes().await?;
    Ok(status)
}

fn record(s: &Mutex<Samples>, f: impl FnOnce(&mut Samples)) {
    if let Ok(mut g) = s.lock() {
        f(&mut g);
    }
}

/// Runs the soak on the kept ledger `dir` (`dir/keys/log.key` signs its checkpoints).
#[allow(clippy::too_many_lines)]
pub fn measure(dir: &Path, seed: u8, minutes: u64, share: f64) -> Result<SoakRun> {
    ensure!(minutes > 0, "--minutes must be 1 or more");
    ensure!(
        share > 0.0 && share <= 1.0,
        "--share must be above 0 and at most 1"
    );
    let bin = accord_bin()?;
    let d = dir.to_str().context("ledger path is not UTF-8")?;
    let lk_path = dir.join("keys").join("log.key");
    ensure!(
        lk_path.exists(),
        "{} not found: soak a ledger kept by `accord-bench --keep`",
        lk_path.display()
    );
    let lk = lk_path.to_str().context("key path is not UTF-8")?;
    let (child, url) = start_serve(&bin, d, lk)?;
    let pid = child.id();
    let mut run = SoakRun {
        share,
        minutes,
        loadavg_start: crate::util::loadavg(),
        ..SoakRun::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let stop = Arc::new(AtomicBool::new(false));
    rt.block_on(async {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(512)
            .timeout(Duration::from_secs(30))
            .build()?;
        let size_of = |http: reqwest::Client, url: String| async move {
            let c = http
                .get(format!("{url}/checkpoint"))
                .send()
                .await?
                .text()
                .await?;
            c.lines()
                .nth(1)
                .and_then(|l| l.parse::<u64>().ok())
                .context("a checkpoint without a size line")
        };
        run.entries_start = size_of(http.clone(), url.clone()).await?;
        let rx = Arc::new(tokio::sync::Mutex::new(generator(seed, stop.clone())));

        // The maximum: 64 closed-loop clients for 20 s.
        phase("soak: maximum accepted submissions/s, 64 clients for 20 s");
        let t0 = Instant::now();
        let end = t0 + Duration::from_secs(20);
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let (http, url, rx) = (http.clone(), url.clone(), rx.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut ok = 0u64;
                while Instant::now() < end {
                    let Some(body) = rx.lock().await.recv().await else {
                        break;
                    };
                    let t = Instant::now();
                    if submit(&http, &url, body).await? == 201 {
                        ok += 1;
                    }
                    lat.push(t.elapsed());
                }
                anyhow::Ok((lat, ok))
            }));
        }
        let mut lat = Vec::new();
        let mut ok = 0;
        for t in tasks {
            let (l, k) = t.await??;
            lat.extend(l);
            ok += k;
        }
        run.max_per_s = ok as f64 / t0.elapsed().as_secs_f64();
        run.max_p99_ms = percentile_ms(&lat, 99.0);
        run.rate_per_s = (run.max_per_s * share).max(1.0);
        phase(format!(
            "soak: maximum {:.0}/s (p99 {:.1} ms); soaking at {:.0}/s for {minutes} min",
            run.max_per_s, run.max_p99_ms, run.rate_per_s
        ));

        // The soak: open loop at `rate`, readers beside it, a window a minute.
        let samples = Arc::new(Mutex::new(Samples::default()));
        let done = Arc::new(AtomicBool::new(false));
        let late = Arc::new(AtomicU64::new(0));
        let slots = Arc::new(Semaphore::new(1024));
        let size = Arc::new(AtomicU64::new(run.entries_start));
        let mut readers = Vec::new();
        for r in 0..4u64 {
            let (http, url, samples, done, size) = (
                http.clone(),
                url.clone(),
                samples.clone(),
                done.clone(),
                size.clone(),
            );
            readers.push(tokio::spawn(async move {
                let mut rng = SplitMix::new(u64::from(seed) * 7919 + r);
                let mut k = 0u64;
                while !done.load(Ordering::Relaxed) {
                    k += 1;
                    let n = size.load(Ordering::Relaxed).max(1);
                    let path = match k % 3 {
                        0 => "/checkpoint".to_owned(),
                        1 if n >= 256 => {
                            format!("/{}", TileId::hashes(0, rng.next_u64() % (n / 256), 256))
                        }
                        _ => format!(
                            "/api/v1/proof/inclusion?index={}&size={n}",
                            rng.next_u64() % n
                        ),
                    };
                    let t = Instant::now();
                    let ok = match http.get(format!("{url}{path}")).send().await {
                        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    let e = t.elapsed();
                    record(&samples, |s| {
                        if ok {
                            s.reads.push(e);
                        } else {
                            s.errors += 1;
                        }
                    });
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }));
        }
        {
            // The size readers ask proofs of: the latest checkpoint's, every second.
            let (http, url, size, done) = (http.clone(), url.clone(), size.clone(), done.clone());
            tokio::spawn(async move {
                while !done.load(Ordering::Relaxed) {
                    if let Ok(n) = size_of(http.clone(), url.clone()).await {
                        size.store(n, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
        }
        let start = Instant::now();
        let total = Duration::from_secs(minutes * 60);
        let tick = Duration::from_millis(10);
        let mut owed = 0.0f64;
        let mut sent_window = 0u64;
        let mut next_window = start + Duration::from_secs(60);
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut rx = rx.lock().await;
        while start.elapsed() < total {
            ticker.tick().await;
            owed += run.rate_per_s * tick.as_secs_f64();
            while owed >= 1.0 {
                owed -= 1.0;
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    late.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let Some(body) = rx.recv().await else {
                    anyhow::bail!("the entry generator stopped");
                };
                sent_window += 1;
                let (http, url, samples) = (http.clone(), url.clone(), samples.clone());
                tokio::spawn(async move {
                    let t = Instant::now();
                    let r = submit(&http, &url, body).await;
                    let e = t.elapsed();
                    drop(permit);
                    record(&samples, |s| match r {
                        Ok(201) => {
                            s.accepted += 1;
                            s.lat.push(e);
                        }
                        Ok(_) => {
                            s.refused += 1;
                            s.lat.push(e);
                        }
                        Err(_) => s.errors += 1,
                    });
                });
            }
            if Instant::now() >= next_window {
                next_window += Duration::from_secs(60);
                let s = samples
                    .lock()
                    .map(|mut g| std::mem::take(&mut *g))
                    .unwrap_or_default();
                let w = Window {
                    at_s: start.elapsed().as_secs(),
                    sent: sent_window,
                    accepted: s.accepted,
                    refused: s.refused,
                    errors: s.errors,
                    p50_ms: percentile_ms(&s.lat, 50.0),
                    p99_ms: percentile_ms(&s.lat, 99.0),
                    reads: s.reads.len() as u64,
                    read_p99_ms: percentile_ms(&s.reads, 99.0),
                    rss_mib: rss_mib(pid),
                };
                sent_window = 0;
                phase(format!(
                    "soak: {:>4} s: {} sent, {} accepted, {} refused, {} errors, p50 {:.1} ms, \
                     p99 {:.1} ms, {} reads (p99 {:.1} ms), RSS {:.0} MiB",
                    w.at_s,
                    w.sent,
                    w.accepted,
                    w.refused,
                    w.errors,
                    w.p50_ms,
                    w.p99_ms,
                    w.reads,
                    w.read_p99_ms,
                    w.rss_mib
                ));
                run.windows.push(w);
            }
        }
        run.late = late.load(Ordering::Relaxed);
        done.store(true, Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        drop(rx);
        // Let the last requests finish.
        let _ = tokio::time::timeout(Duration::from_secs(30), slots.acquire_many(1024)).await;
        for r in readers {
            let _ = r.await;
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        run.entries_end = size_of(http.clone(), url.clone()).await?;
        anyhow::Ok(())
    })?;
    drop(child);
    run.loadavg_end = crate::util::loadavg();
    if let [_, first, rest @ ..] = run.windows.as_slice() {
        run.p99_start_ms = first.p99_ms;
        run.rss_start_mib = first.rss_mib;
        run.p99_worst_ms = rest.iter().map(|w| w.p99_ms).fold(first.p99_ms, f64::max);
        run.p99_ratio = run.p99_worst_ms / run.p99_start_ms.max(f64::MIN_POSITIVE);
    }
    run.rss_end_mib = run.windows.last().map_or(0.0, |w| w.rss_mib);
    run.rss_max_mib = run.windows.iter().map(|w| w.rss_mib).fold(0.0, f64::max);
    Ok(run)
}

/// The run as a table.
pub fn table(r: &SoakRun) -> String {
    let mut s = format!(
        "soak of accord serve: maximum {:.0} accepted/s (p99 {:.1} ms) from {} entries; \
         {:.0}/s ({:.0}%) for {} min, to {} entries\n\
         | minute ends at | sent | accepted | refused | errors | p50 ms | p99 ms | reads | read p99 ms | RSS MiB |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
        r.max_per_s,
        r.max_p99_ms,
        r.entries_start,
        r.rate_per_s,
        r.share * 100.0,
        r.minutes,
        r.entries_end
    );
    for w in &r.windows {
        s += &format!(
            "| {} s | {} | {} | {} | {} | {:.1} | {:.1} | {} | {:.1} | {:.0} |\n",
            w.at_s,
            w.sent,
            w.accepted,
            w.refused,
            w.errors,
            w.p50_ms,
            w.p99_ms,
            w.reads,
            w.read_p99_ms,
            w.rss_mib
        );
    }
    s += &format!(
        "p99 after warm-up {:.1} ms, worst later {:.1} ms: {:.2}x (target <= 2x); \
         RSS after warm-up {:.0} MiB, end {:.0} MiB, highest {:.0} MiB; \
         {} submissions late (all slots busy); load average {} -> {}\n",
        r.p99_start_ms,
        r.p99_worst_ms,
        r.p99_ratio,
        r.rss_start_mib,
        r.rss_end_mib,
        r.rss_max_mib,
        r.late,
        r.loadavg_start,
        r.loadavg_end
    );
    s
}
