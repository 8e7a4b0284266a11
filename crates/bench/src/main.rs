//! accord-bench: builds a realistic ledger with `accord_ledger::synth` and measures, in one
//! run, bulk import, durable append, full verify (with its peak memory, in a child process),
//! proofs, exports and disk use, each against the raw ceiling of the component that bounds
//! it (ed25519 batch and strict verification, sled insert and scan, SHA-256, fsync).
//!
//! `accord-bench --entries 1000000 --keep DIR` prints a table and one JSON line;
//! `accord-bench --scale` (or `--sizes 10000,100000,1000000`) measures several sizes and
//! writes an SVG plot of how each cost grows. See docs/PERFORMANCE.md.

/// mimalloc instead of the system allocator: the sequencer, import and verify allocate and
/// free many small buffers (index pages, leaves, JSON), and glibc's malloc took some 18% of
/// the service's CPU under load (docs/PERFORMANCE.md); the benchmark measures the library
/// with the allocator the `accord` binary ships with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod ceilings;
mod measure;
mod mirror;
mod outside;
mod publish;
mod report;
mod soak;
mod svg;
mod util;
mod witness;
mod workload;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use clap::{Parser, Subcommand};

use crate::report::Figures;
use crate::util::{dir_bytes, loadavg, mean_ms, percentile_ms, phase, MB, MIB};
use crate::workload::{Prepared, Workload};

/// Sizes of `--scale`.
const SCALE_SIZES: [u64; 3] = [10_000, 100_000, 1_000_000];
/// Tree sizes proofs are timed at (those up to the ledger's size, and the size itself).
const PROOF_SIZES: [u64; 3] = [1_000, 100_000, 1_000_000];
/// The size verify's peak memory is compared against.
const RSS_REFERENCE: u64 = 100_000;
/// Audit bundles exported.
const BUNDLES: usize = 100;

#[derive(Parser)]
#[command(
    name = "accord-bench",
    version,
    about = "Builds a realistic accord ledger and measures it against raw component ceilings",
    after_help = "Outside timings (open, submit, cosign) and the service figures run the release `accord` \
binary found beside this one (target/release/accord): build both with \
`cargo build --release -p accord-bench -p accord`."
)]
struct Cli {
    /// Entries in the ledger (the charter included).
    #[arg(long, default_value_t = 1_000_000)]
    entries: u64,
    /// Measure at several sizes, comma-separated (overrides --entries).
    #[arg(long, value_delimiter = ',')]
    sizes: Vec<u64>,
    /// Shorthand for --sizes 10000,100000,1000000.
    #[arg(long)]
    scale: bool,
    /// Where a multi-size run writes its plot.
    #[arg(long, default_value = "docs/perf-scale.svg")]
    svg: PathBuf,
    /// Leave the (largest) ledger in DIR (which must not exist or be empty), with the
    /// members' keys and the log key, unencrypted, in DIR/keys/ (the CLI's key-file format),
    /// for `accord --ledger DIR verify`, `submit`, `cosign --key`, `checkpoint --log-key`.
    /// Also times new `accord` processes and `accord serve` on it.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
    /// Where scratch databases go (default: the system temp directory).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Seed of the synthetic keys.
    #[arg(long, default_value_t = 7)]
    seed: u8,
    /// Single appends timed (and raw fsyncs).
    #[arg(long, default_value_t = 200)]
    appends: usize,
    /// Proofs timed per tree size.
    #[arg(long, default_value_t = 1000)]
    proofs: usize,
    /// Signatures per `verify_batch` call in the batch ceiling.
    #[arg(long, default_value_t = 1024)]
    batch: usize,
    /// Also append the JSON line(s) to this file.
    #[arg(long, value_name = "FILE")]
    json_out: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Internal: open a ledger, verify it, print a JSON report with the peak RSS.
    #[command(hide = true)]
    VerifyChild {
        #[arg(long)]
        ledger: PathBuf,
        #[arg(long)]
        up_to: Option<u64>,
    },
    /// Outside timings on a kept ledger: new `accord` processes (open + one read, submit,
    /// checkpoint, cosign) and `accord serve` over loopback HTTP (concurrent submissions,
    /// tile and bundle GETs, inclusion proofs). Adds entries to the ledger.
    Outside {
        #[arg(long)]
        ledger: PathBuf,
        /// Entries the kept ledger was built with (as `--entries` of the run that kept it).
        #[arg(long)]
        entries: u64,
        #[arg(long, default_value_t = 7)]
        seed: u8,
        /// `accord submit` processes timed.
        #[arg(long, default_value_t = 15)]
        submits: usize,
        /// Concurrent HTTP clients.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Submissions sent over HTTP by those clients (a longer run for a profiler).
        #[arg(long, default_value_t = outside::SUBMISSIONS)]
        submissions: usize,
        #[arg(long, value_name = "FILE")]
        json_out: Option<PathBuf>,
    },
    /// Publishing a kept ledger to a local S3 server (moto, started on a free loopback
    /// port) against a plain `object_store` upload loop of the same objects, then one new
    /// entry (appended to the ledger) published incrementally (issue #14).
    Publish {
        #[arg(long)]
        ledger: PathBuf,
        /// The seed the kept ledger was built with (its log key signs the new checkpoints).
        #[arg(long, default_value_t = 7)]
        seed: u8,
        /// Uploads in flight, for both loops.
        #[arg(long, default_value_t = accord_publish::DEFAULT_JOBS)]
        jobs: usize,
        /// moto_server (default: target/test-tools/venv/bin/moto_server, else PATH).
        #[arg(long)]
        moto: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        json_out: Option<PathBuf>,
    },
    /// A fresh `accord mirror` of a kept ledger served over loopback against a local
    /// `accord verify`, then one new entry mirrored and cosigned (issue #12), `--samples`
    /// times. Adds that many entries.
    Mirror {
        #[arg(long)]
        ledger: PathBuf,
        #[arg(long, default_value_t = 7)]
        seed: u8,
        /// Samples of the one-new-entry step.
        #[arg(long, default_value_t = 7)]
        samples: usize,
        /// Keep the replica here (default: a temporary directory); given again, the fresh
        /// mirror becomes a catch-up and the one-entry step is measured on it.
        #[arg(long, value_name = "DIR")]
        replica: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        json_out: Option<PathBuf>,
    },
    /// A soak of `accord serve` on a kept ledger (a copy: it grows): its maximum accepted
    /// submissions/s, then open-loop submissions at `--share` of it for `--minutes` with
    /// readers beside them; latency and the server's memory per minute (issue #15).
    Soak {
        #[arg(long)]
        ledger: PathBuf,
        #[arg(long, default_value_t = 7)]
        seed: u8,
        #[arg(long, default_value_t = 10)]
        minutes: u64,
        /// The share of the measured maximum to sustain.
        #[arg(long, default_value_t = 0.7)]
        share: f64,
        #[arg(long, value_name = "FILE")]
        json_out: Option<PathBuf>,
    },
    /// A C2SP tlog-witness: the release `accord witness serve` answering add-checkpoint
    /// over loopback, one request at a time (target p50 <= 5 ms), beside the durable write
    /// alone. Needs no kept ledger.
    Witness {
        /// The synthetic log's size at the first request.
        #[arg(long, default_value_t = 100_000)]
        initial_size: u64,
        /// Requests timed.
        #[arg(long, default_value_t = 1000)]
        requests: usize,
        #[arg(long, default_value_t = 7)]
        seed: u8,
        /// Where the witness's state directory goes (default: the system temp directory;
        /// give a directory on the disk a witness would use).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        json_out: Option<PathBuf>,
    },
    /// Diagnostic: the memory the governance state takes after replaying N entries (no
    /// store, no signature checks): what verify, import and append keep in memory.
    StateMemory {
        #[arg(long, default_value_t = 1_000_000)]
        entries: u64,
        #[arg(long, default_value_t = 7)]
        seed: u8,
    },
    /// Diagnostic: time to open a ledger and rebuild its governance state (what a fresh
    /// process pays before its first append), and keys and bytes per table of its store.
    Inspect {
        #[arg(long)]
        ledger: PathBuf,
    },
}

/// Prints `v` as one JSON line, and appends it to `out` when given.
fn json_line(v: &impl serde::Serialize, out: Option<&std::path::Path>) -> Result<()> {
    let line = serde_json::to_string(v)?;
    println!("{line}");
    if let Some(path) = out {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        writeln!(file, "{line}")?;
    }
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match &cli.cmd {
        Some(Cmd::VerifyChild { ledger, up_to }) => {
            return measure::verify_child(ledger, *up_to);
        }
        Some(Cmd::StateMemory { entries, seed }) => {
            return measure::state_memory(*entries, *seed);
        }
        Some(Cmd::Inspect { ledger }) => return measure::inspect(ledger),
        Some(Cmd::Outside {
            ledger,
            entries,
            seed,
            submits,
            clients,
            submissions,
            json_out,
        }) => {
            let o = outside::measure(ledger, *entries, *seed, *submits, *clients, *submissions)?;
            print!("{}", outside::table(&o));
            json_line(&o, json_out.as_deref())?;
            return Ok(());
        }
        Some(Cmd::Witness {
            initial_size,
            requests,
            seed,
            work_dir,
            json_out,
        }) => {
            let work = work_dir.clone().unwrap_or_else(std::env::temp_dir);
            let r = witness::measure(*initial_size, *requests, *seed, &work)?;
            print!("{}", witness::table(&r));
            json_line(&r, json_out.as_deref())?;
            return Ok(());
        }
        Some(Cmd::Publish {
            ledger,
            seed,
            jobs,
            moto,
            json_out,
        }) => {
            let r = publish::measure(ledger, *seed, *jobs, moto.as_deref())?;
            print!("{}", publish::table(&r));
            json_line(&r, json_out.as_deref())?;
            return Ok(());
        }
        Some(Cmd::Mirror {
            ledger,
            seed,
            samples,
            replica,
            json_out,
        }) => {
            let r = mirror::measure(ledger, *seed, *samples, replica.as_deref())?;
            print!("{}", mirror::table(&r));
            json_line(&r, json_out.as_deref())?;
            return Ok(());
        }
        Some(Cmd::Soak {
            ledger,
            seed,
            minutes,
            share,
            json_out,
        }) => {
            let r = soak::measure(ledger, *seed, *minutes, *share)?;
            print!("{}", soak::table(&r));
            json_line(&r, json_out.as_deref())?;
            return Ok(());
        }
        None => {}
    }
    let mut sizes: Vec<u64> = if cli.scale {
        SCALE_SIZES.to_vec()
    } else if !cli.sizes.is_empty() {
        cli.sizes.clone()
    } else {
        vec![cli.entries]
    };
    sizes.sort_unstable();
    sizes.dedup();
    let Some(&largest) = sizes.last() else {
        bail!("no sizes to measure");
    };
    ensure!(
        sizes[0] >= 100,
        "the smallest size is {}; measure at least 100 entries",
        sizes[0]
    );
    if let Some(k) = &cli.keep {
        ensure!(
            !k.exists() || std::fs::read_dir(k)?.next().is_none(),
            "--keep {} exists and is not empty",
            k.display()
        );
    }

    let work = match &cli.work_dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir(),
    };
    let scratch = tempfile::Builder::new()
        .prefix("accord-bench-")
        .tempdir_in(&work)
        .with_context(|| format!("creating a scratch directory in {}", work.display()))?;

    let w = Workload::generate(largest, cli.seed);
    let prep = Prepared::new(&w)?;

    let mut all = Vec::new();
    for &n in &sizes {
        let keep = if n == largest {
            cli.keep.as_deref()
        } else {
            None
        };
        let f = run_size(&cli, n as usize, &w, &prep, scratch.path(), keep)?;
        let line = report::json_line(&f)?;
        let mut out = std::io::stdout().lock();
        write!(out, "{}", report::table(&f))?;
        writeln!(out, "{line}")?;
        out.flush()?;
        if let Some(path) = &cli.json_out {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?;
            writeln!(file, "{line}").with_context(|| format!("writing {}", path.display()))?;
        }
        all.push(f);
    }
    if all.len() > 1 {
        print!("{}", report::scale_table(&all));
        if let Some(parent) = cli.svg.parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
        }
        std::fs::write(&cli.svg, svg::render(&all))
            .with_context(|| format!("writing {}", cli.svg.display()))?;
        println!("plot written to {}", cli.svg.display());
    }
    if let Some(k) = &cli.keep {
        outside::keep_keys(k, &w.synth)?;
        let o = outside::measure(k, largest, cli.seed, 15, 64, outside::SUBMISSIONS)?;
        print!("{}", outside::table(&o));
        let line = serde_json::to_string(&o)?;
        println!("{line}");
        if let Some(path) = &cli.json_out {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?;
            writeln!(file, "{line}").with_context(|| format!("writing {}", path.display()))?;
        }
        println!(
            "ledger of {largest} entries kept in {} (check it with `accord --ledger {} verify`)",
            k.display(),
            k.display()
        );
    }
    Ok(())
}

/// Every measurement at one size `n`, on entries `0..n` of the workload.
fn run_size(
    cli: &Cli,
    n: usize,
    w: &Workload,
    prep: &Prepared,
    scratch: &Path,
    keep: Option<&Path>,
) -> Result<Figures> {
    phase(format!("=== measuring at {n} entries ==="));
    let mut f = Figures {
        entries: n as u64,
        threads: rayon::current_num_threads(),
        seed: cli.seed,
        loadavg_start: loadavg(),
        gen_per_s: (w.len() - 1) as f64 / w.gen_secs,
        ..Figures::default()
    };
    f.gen_secs = (n - 1) as f64 / f.gen_per_s;

    // 1. Ceilings.
    let c = ceilings::measure(prep, n, cli.batch, scratch)?;
    let per = |secs: f64| n as f64 / secs;
    f.signatures = c.signatures;
    f.verify_ceiling_per_s = per(c.batch_secs);
    f.verify_ceiling_sigs_per_s = c.signatures as f64 / c.batch_secs;
    f.strict_ceiling_per_s = per(c.strict_secs);
    f.strict_ceiling_sigs_per_s = c.signatures as f64 / c.strict_secs;
    f.sha256_per_s = per(c.sha_secs);
    f.sha256_mb_s = c.leaf_bytes as f64 / MB / c.sha_secs;
    f.insert_ceiling_per_s = per(c.insert_secs);
    f.insert_ceiling_mb_s = c.leaf_bytes as f64 / MB / c.insert_secs;
    f.scan_ceiling_per_s = per(c.scan_secs);
    f.scan_ceiling_mb_s = c.scan_bytes as f64 / MB / c.scan_secs;
    f.leaf_bytes = c.leaf_bytes;
    f.raw_sled_bytes = c.raw_db_bytes;
    f.envelope_bytes = prep.env_end[n];

    // 2. Bulk import of all but the last `appends` entries.
    let appends = cli.appends.clamp(1, n / 10);
    let import_to = n - appends;
    let dir = match keep {
        Some(k) => k.to_path_buf(),
        None => scratch.join(format!("ledger-{n}")),
    };
    let (mut ledger, import_secs) = measure::import(w, &dir, import_to)?;
    f.import_entries = (import_to - 1) as u64;
    f.import_secs = import_secs;
    f.import_per_s = f.import_entries as f64 / import_secs;
    f.import_mb_s = (prep.env_end[import_to] - prep.env_end[1]) as f64 / MB / import_secs;

    // 3. Single durable appends, against raw fsyncs on the same file system.
    let probe_dir = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        Some(_) => Path::new("."),
        None => scratch,
    };
    let fs = measure::fsyncs(probe_dir, appends.max(200))?;
    f.fsync_p50_ms = percentile_ms(&fs, 50.0);
    f.fsync_p99_ms = percentile_ms(&fs, 99.0);
    let lat = measure::appends(&mut ledger, w, import_to, n)?;
    f.appends = lat.len() as u64;
    f.append_p50_ms = percentile_ms(&lat, 50.0);
    f.append_p99_ms = percentile_ms(&lat, 99.0);
    f.append_mean_ms = mean_ms(&lat);
    ensure!(
        ledger.size() == n as u64,
        "the ledger has {} entries",
        ledger.size()
    );
    ledger
        .issue_checkpoint(&w.synth.log)
        .context("issuing a checkpoint")?;
    drop(ledger);

    // 4. Full verify in a child process, for its own peak RSS.
    phase(format!("verify: child process, {n} entries"));
    let v = measure::run_verify_child(&dir, None)?;
    ensure!(
        v.size == n as u64 && v.signatures == c.signatures,
        "verify checked {} entries and {} signatures, expected {n} and {}",
        v.size,
        v.signatures,
        c.signatures
    );
    f.verify_secs = v.verify_secs;
    f.verify_per_s = per(v.verify_secs);
    f.verify_sigs_per_s = v.signatures as f64 / v.verify_secs;
    f.verify_open_secs = v.open_secs;
    f.verify_peak_rss_mib = v.hwm_kib as f64 * 1024.0 / MIB;
    f.verify_rss_after_open_mib = v.hwm_open_kib as f64 * 1024.0 / MIB;
    if n as u64 > RSS_REFERENCE {
        phase(format!(
            "verify: child process, first {RSS_REFERENCE} entries (memory reference)"
        ));
        let r = measure::run_verify_child(&dir, Some(RSS_REFERENCE))?;
        f.verify_peak_rss_100k_mib = Some(r.hwm_kib as f64 * 1024.0 / MIB);
    }

    // 5. Proofs, 6. exports.
    let ledger = accord_ledger::Ledger::open(&dir)
        .with_context(|| format!("reopening {}", dir.display()))?;
    let mut proof_sizes: Vec<u64> = PROOF_SIZES
        .iter()
        .copied()
        .filter(|&s| s <= n as u64)
        .collect();
    if proof_sizes.last() != Some(&(n as u64)) {
        proof_sizes.push(n as u64);
    }
    phase(format!(
        "proofs: {} inclusion + {} consistency at sizes {proof_sizes:?}",
        cli.proofs, cli.proofs
    ));
    for &s in &proof_sizes {
        f.proofs.push(measure::proofs(
            &ledger,
            s,
            cli.proofs,
            u64::from(cli.seed),
        )?);
    }
    if let (Some(small), Some(large)) = (f.proofs.first(), f.proofs.last()) {
        f.proof_small_size = small.size;
        f.proof_small_us = small.inclusion_us;
        f.consistency_small_us = small.consistency_us;
        f.proof_large_size = large.size;
        f.proof_large_us = large.inclusion_us;
        f.consistency_large_us = large.consistency_us;
    }
    let (lines, bytes, secs) = measure::export_jsonl(&ledger)?;
    f.export_secs = secs;
    f.export_per_s = lines as f64 / secs;
    f.export_mb_s = bytes as f64 / MB / secs;
    f.export_bytes = bytes;
    let b = measure::bundles(&ledger, BUNDLES, u64::from(cli.seed))?;
    f.bundles = b.bundles;
    f.bundle_entries = b.entries;
    f.bundle_ms = b.secs * 1e3 / b.bundles.max(1) as f64;
    f.bundle_per_s = b.entries as f64 / b.secs;
    f.bundle_mb_s = b.bytes as f64 / MB / b.secs;
    drop(ledger);

    // 7. Disk.
    f.disk_bytes = dir_bytes(&dir)?;
    f.disk_per_entry = f.disk_bytes as f64 / n as f64;
    f.envelope_per_entry = f.envelope_bytes as f64 / n as f64;
    if keep.is_none() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    f.loadavg_end = loadavg();
    f.compute_ratios();
    Ok(f)
}
