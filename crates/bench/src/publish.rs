//! `accord-bench publish`: `accord_publish::publish` of a kept ledger to a local S3 server
//! (moto, started here on a free loopback port), beside the ceiling: a plain `object_store`
//! loop putting the same objects, already in memory, with the same number in flight
//! (issue #14). Then the cost of one new entry: one commitment appended, a checkpoint
//! signed, an incremental publish (requests, objects, time), and a run with nothing new.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accord_core::tiles::{self, TileId};
use accord_ledger::synth::Synth;
use accord_ledger::Ledger;
use accord_publish::{Kind, Options, Target};
use anyhow::{bail, ensure, Context, Result};
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};
use serde::Serialize;

use crate::util::phase;
use crate::workload::MEMBERS;

/// What one run measured.
#[derive(Debug, Default, Serialize)]
pub struct PublishRun {
    pub entries: u64,
    pub jobs: usize,
    pub objects: u64,
    pub bytes: u64,
    /// Reading every object's bytes from the ledger (not part of either upload below).
    pub read_s: f64,
    pub ceiling_s: f64,
    pub ceiling_objects_per_s: f64,
    pub ceiling_mb_per_s: f64,
    pub publish_s: f64,
    pub publish_objects_per_s: f64,
    pub publish_mb_per_s: f64,
    pub publish_requests: u64,
    /// publish objects/s over ceiling objects/s (target >= 0.7).
    pub ratio: f64,
    pub incremental_ms: f64,
    pub incremental_requests: u64,
    pub incremental_objects: u64,
    pub nothing_new_ms: f64,
    pub nothing_new_requests: u64,
    pub loadavg_start: String,
    pub loadavg_end: String,
}

/// moto's server, stopped on drop.
struct Moto {
    child: std::process::Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `--moto`, else the test tools' virtualenv, else `moto_server` on PATH.
fn moto_path(given: Option<&Path>) -> PathBuf {
    if let Some(p) = given {
        return p.to_path_buf();
    }
    let venv = Path::new("target/test-tools/venv/bin/moto_server");
    if venv.is_file() {
        return venv.to_path_buf();
    }
    PathBuf::from("moto_server")
}

async fn start_moto(bin: &Path) -> Result<Moto> {
    let port = free_port()?;
    let child = Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| {
            format!(
                "starting {} (install it with `.ci/install-test-tools`, or pass --moto)",
                bin.display()
            )
        })?;
    let moto = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    while reqwest::get(&moto.url).await.is_err() {
        ensure!(
            started.elapsed() < Duration::from_secs(60),
            "moto did not answer on {} within 60 s",
            moto.url
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(moto)
}

async fn bucket(moto: &Moto, name: &str) -> Result<Arc<dyn ObjectStore>> {
    let r = reqwest::Client::new()
        .put(format!("{}/{name}", moto.url))
        .send()
        .await?;
    ensure!(
        r.status().is_success(),
        "creating bucket {name}: {}",
        r.status()
    );
    Ok(Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(&moto.url)
            .with_allow_http(true)
            .with_bucket_name(name)
            .with_region("us-east-1")
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .build()?,
    ))
}

/// Every tile and bundle of the tree of size `size`.
fn objects(size: u64) -> Vec<TileId> {
    let mut ids = tiles::changed_hash_tiles(0, size);
    ids.extend(tiles::changed_entry_bundles(0, size));
    ids
}

fn mb_per_s(bytes: u64, s: f64) -> f64 {
    bytes as f64 / 1e6 / s
}

/// Runs the measurement on the ledger in `dir` (built by `accord-bench --keep` with `seed`).
#[allow(clippy::too_many_lines)]
pub fn measure(dir: &Path, seed: u8, jobs: usize, moto: Option<&Path>) -> Result<PublishRun> {
    ensure!(jobs > 0, "--jobs must be 1 or more");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut ledger = Ledger::open(dir).with_context(|| format!("opening {}", dir.display()))?;
    let synth = Synth::new(MEMBERS, seed);
    if ledger.log_key() != &synth.log.verifier()? {
        bail!(
            "the ledger's log key is not the one of seed {seed}: pass the --seed it was built with"
        );
    }
    let size = ledger.size();
    if ledger
        .latest_checkpoint()?
        .map(|c| c.note.checkpoint().size())
        != Some(size)
    {
        ledger.issue_checkpoint(&synth.log)?;
    }
    let mut run = PublishRun {
        entries: size,
        jobs,
        loadavg_start: crate::util::loadavg(),
        ..PublishRun::default()
    };

    phase(format!(
        "publish: reading every tile and bundle of size {size}"
    ));
    let t = Instant::now();
    let mut blobs = Vec::new();
    for id in objects(size) {
        let b = ledger.read_tile(id)?;
        run.bytes += b.len() as u64;
        blobs.push((id.to_string(), b));
    }
    run.read_s = t.elapsed().as_secs_f64();
    run.objects = blobs.len() as u64;
    phase(format!(
        "publish: {} objects, {:.1} MB, read in {:.1} s",
        run.objects,
        run.bytes as f64 / 1e6,
        run.read_s
    ));

    let ledger = Arc::new(Mutex::new(ledger));
    runtime.block_on(async {
        let moto = start_moto(&moto_path(moto)).await?;
        let ceiling = bucket(&moto, "ceiling").await?;
        let ours = bucket(&moto, "accord").await?;

        phase("publish: ceiling (plain object_store puts)");
        let t = Instant::now();
        let store = &ceiling;
        futures::stream::iter(blobs)
            .map(|(key, b)| async move {
                store
                    .put(&ObjectPath::from(format!("log/{key}")), PutPayload::from(b))
                    .await
            })
            .buffer_unordered(jobs)
            .try_for_each(|_| async { Ok(()) })
            .await?;
        run.ceiling_s = t.elapsed().as_secs_f64();
        run.ceiling_objects_per_s = run.objects as f64 / run.ceiling_s;
        run.ceiling_mb_per_s = mb_per_s(run.bytes, run.ceiling_s);

        phase("publish: accord_publish::publish");
        let target = Target::over(ours, "log", "s3://accord/log", Kind::S3);
        let opts = Options { jobs, all: false };
        let t = Instant::now();
        let r = accord_publish::publish(&ledger, &target, opts).await?;
        run.publish_s = t.elapsed().as_secs_f64();
        ensure!(
            r.written == run.objects,
            "publish wrote {} objects, {} expected",
            r.written,
            run.objects
        );
        run.publish_requests = r.requests;
        run.publish_objects_per_s = r.written as f64 / run.publish_s;
        run.publish_mb_per_s = mb_per_s(r.bytes, run.publish_s);
        run.ratio = run.publish_objects_per_s / run.ceiling_objects_per_s;

        phase("publish: one new entry");
        {
            let mut l = ledger
                .lock()
                .map_err(|_| anyhow::anyhow!("ledger lock poisoned"))?;
            // A new commitment with an id no earlier entry of the workload has.
            let mut fresh = Synth::new(MEMBERS, seed).starting_at(4_000_000_000 + size);
            l.append(&fresh.next_entry())?;
            l.issue_checkpoint(&synth.log)?;
        }
        let t = Instant::now();
        let r = accord_publish::publish(&ledger, &target, opts).await?;
        run.incremental_ms = t.elapsed().as_secs_f64() * 1e3;
        run.incremental_requests = r.requests;
        run.incremental_objects = r.written;

        let t = Instant::now();
        let r = accord_publish::publish(&ledger, &target, opts).await?;
        run.nothing_new_ms = t.elapsed().as_secs_f64() * 1e3;
        run.nothing_new_requests = r.requests;
        drop(moto);
        Ok::<(), anyhow::Error>(())
    })?;
    run.loadavg_end = crate::util::loadavg();
    Ok(run)
}

/// The run as a table.
pub fn table(r: &PublishRun) -> String {
    format!(
        "publish of {} entries to moto on loopback, {} objects ({:.1} MB), {} in flight\n\
         | upload | time | objects/s | MB/s |\n|---|---|---|---|\n\
         | plain object_store puts (ceiling) | {:.1} s | {:.0} | {:.1} |\n\
         | accord_publish::publish | {:.1} s | {:.0} | {:.1} |\n\
         publish / ceiling: {:.2}x (target >= 0.7x); reading the objects from the ledger: {:.1} s\n\
         one new entry: {:.1} ms, {} requests, {} objects; nothing new: {:.1} ms, {} request(s)\n\
         load average {} -> {}\n",
        r.entries,
        r.objects,
        r.bytes as f64 / 1e6,
        r.jobs,
        r.ceiling_s,
        r.ceiling_objects_per_s,
        r.ceiling_mb_per_s,
        r.publish_s,
        r.publish_objects_per_s,
        r.publish_mb_per_s,
        r.ratio,
        r.read_s,
        r.incremental_ms,
        r.incremental_requests,
        r.incremental_objects,
        r.nothing_new_ms,
        r.nothing_new_requests,
        r.loadavg_start,
        r.loadavg_end
    )
}
