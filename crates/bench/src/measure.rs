//! The ledger measurements: import, append, fsync, verify (in a child process), proofs,
//! exports.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use accord_core::governance::{Rejection, Signatures, State};
use accord_ledger::query::Filter;
use accord_ledger::{Ledger, VerifyOptions};
use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};

use crate::util::{bar, phase, proc_status_kib, CountingSink, SplitMix, MIB};
use crate::workload::Workload;

/// Imports entries `1..upto` of `w` into a new ledger in `dir`; returns the ledger and
/// the seconds the import took (creating the ledger with its charter not included).
///
/// # Errors
/// Ledger failures, or an entry rejected.
pub fn import(w: &Workload, dir: &Path, upto: usize) -> Result<(Ledger, f64)> {
    let mut ledger = Ledger::create(dir, &w.charter)
        .with_context(|| format!("creating the ledger in {}", dir.display()))?;
    let count = upto.saturating_sub(1);
    phase(format!(
        "import: {count} entries with Ledger::import (durable group commit)"
    ));
    let pb = bar(count as u64, "import");
    let t = Instant::now();
    let report = ledger
        .import(
            w.entries[..count].iter().cloned().map(Ok::<_, Rejection>),
            &mut |done| pb.set_position(done),
        )
        .context("Ledger::import")?;
    let secs = t.elapsed().as_secs_f64();
    pb.finish_and_clear();
    if let Some((pos, why)) = report.rejected {
        bail!("import stopped at input {pos}: {why}");
    }
    ensure!(
        report.accepted == count as u64,
        "import accepted {} of {count} entries",
        report.accepted
    );
    Ok((ledger, secs))
}

/// Appends entries `from..to` of `w` one by one with `Ledger::append`, timing each.
///
/// # Errors
/// Ledger failures.
pub fn appends(ledger: &mut Ledger, w: &Workload, from: usize, to: usize) -> Result<Vec<Duration>> {
    phase(format!(
        "append: {} single durable appends on a ledger of {from}",
        to - from
    ));
    let mut out = Vec::with_capacity(to - from);
    for i in from..to {
        let env = w.envelope(i);
        let t = Instant::now();
        let a = ledger
            .append(env)
            .with_context(|| format!("appending entry {i}"))?;
        out.push(t.elapsed());
        ensure!(a.index == i as u64, "entry {i} was appended at {}", a.index);
    }
    Ok(out)
}

/// Writes 1 KiB and calls `File::sync_all`, `reps` times, in a file under `dir`.
///
/// # Errors
/// File-system failures.
pub fn fsyncs(dir: &Path, reps: usize) -> Result<Vec<Duration>> {
    phase(format!("fsync: {reps} x (write 1 KiB + File::sync_all)"));
    let path = dir.join("fsync-probe");
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    let block = [0x5Au8; 1024];
    let mut out = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        f.write_all(&block)
            .with_context(|| format!("writing {}", path.display()))?;
        f.sync_all()
            .with_context(|| format!("syncing {}", path.display()))?;
        out.push(t.elapsed());
    }
    drop(f);
    std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    Ok(out)
}

/// What the verify child reports on stdout, as one JSON line.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChildReport {
    pub size: u64,
    pub signatures: u64,
    pub root: String,
    pub open_secs: f64,
    pub verify_secs: f64,
    /// VmHWM after `Ledger::open`, before verifying.
    pub hwm_open_kib: u64,
    /// VmHWM at the end: the peak of the whole process.
    pub hwm_kib: u64,
    /// VmRSS at the end.
    pub rss_kib: u64,
}

/// The hidden `verify-child` subcommand: opens the ledger, verifies it (up to `up_to`
/// entries) and prints a [`ChildReport`].
///
/// # Errors
/// Ledger or verification failures.
pub fn verify_child(dir: &Path, up_to: Option<u64>) -> Result<()> {
    let t = Instant::now();
    let ledger = Ledger::open(dir).with_context(|| format!("opening {}", dir.display()))?;
    let open_secs = t.elapsed().as_secs_f64();
    let hwm_open_kib = proc_status_kib("VmHWM")?;
    let size = up_to.unwrap_or(ledger.size()).min(ledger.size());
    let pb = bar(size, "verify");
    let opts = VerifyOptions {
        up_to,
        ..VerifyOptions::default()
    };
    let t = Instant::now();
    let report = accord_ledger::verify(&ledger, &opts, &mut |done, _| pb.set_position(done))
        .context("verify")?;
    let verify_secs = t.elapsed().as_secs_f64();
    pb.finish_and_clear();
    let out = ChildReport {
        size: report.size,
        signatures: report.signatures,
        root: report.root,
        open_secs,
        verify_secs,
        hwm_open_kib,
        hwm_kib: proc_status_kib("VmHWM")?,
        rss_kib: proc_status_kib("VmRSS")?,
    };
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}

/// Runs [`verify_child`] in a fresh process (this binary, re-executed), so that its peak
/// RSS is the verification's alone.
///
/// # Errors
/// If the child cannot run, fails, or prints no report.
pub fn run_verify_child(dir: &Path, up_to: Option<u64>) -> Result<ChildReport> {
    let exe = std::env::current_exe().context("locating the accord-bench binary")?;
    let mut cmd = Command::new(exe);
    cmd.arg("verify-child").arg("--ledger").arg(dir);
    if let Some(n) = up_to {
        cmd.arg("--up-to").arg(n.to_string());
    }
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("running the verify child")?;
    ensure!(
        out.status.success(),
        "the verify child failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .context("the verify child printed no report")?;
    serde_json::from_str(line).context("parsing the verify child's report")
}

/// Proof timings at one tree size.
#[derive(Clone, Debug, Serialize)]
pub struct ProofTiming {
    pub size: u64,
    pub inclusion_us: f64,
    pub consistency_us: f64,
    pub inclusion_path_len: f64,
}

/// Times `count` inclusion and `count` consistency proofs at tree size `size`, at random
/// indexes, after a warm-up pass of as many at other random indexes.
///
/// # Errors
/// Ledger failures.
pub fn proofs(ledger: &Ledger, size: u64, count: usize, seed: u64) -> Result<ProofTiming> {
    let mut rng = SplitMix::new(seed ^ size);
    let pass = |rng: &mut SplitMix| -> Result<(f64, f64, f64)> {
        let picks: Vec<(u64, u64)> = (0..count)
            .map(|_| (rng.below(size), 1 + rng.below(size)))
            .collect();
        let mut path = 0usize;
        let t = Instant::now();
        for &(i, _) in &picks {
            let p = ledger.inclusion_proof(i, Some(size))?;
            path += p.proof.len();
        }
        let inc = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for &(_, m) in &picks {
            let p = ledger.consistency_proof(m, Some(size))?;
            std::hint::black_box(p.proof.len());
        }
        let cons = t.elapsed().as_secs_f64();
        let n = count.max(1) as f64;
        Ok((inc * 1e6 / n, cons * 1e6 / n, path as f64 / n))
    };
    pass(&mut rng)?;
    let (inclusion_us, consistency_us, inclusion_path_len) = pass(&mut rng)?;
    Ok(ProofTiming {
        size,
        inclusion_us,
        consistency_us,
        inclusion_path_len,
    })
}

/// JSON Lines export of the whole ledger into a byte-counting sink.
///
/// # Errors
/// Ledger failures.
pub fn export_jsonl(ledger: &Ledger) -> Result<(u64, u64, f64)> {
    phase(format!(
        "export: JSON Lines of {} entries (to a counting sink)",
        ledger.size()
    ));
    let pb = bar(ledger.size(), "export");
    let mut sink = CountingSink::default();
    let t = Instant::now();
    let lines = ledger
        .export_jsonl(&mut sink, None, &mut |n| pb.set_position(n))
        .context("export_jsonl")?;
    let secs = t.elapsed().as_secs_f64();
    pb.finish_and_clear();
    ensure!(
        lines == ledger.size(),
        "exported {lines} of {} entries",
        ledger.size()
    );
    Ok((lines, sink.bytes, secs))
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct BundleTiming {
    pub bundles: u64,
    pub entries: u64,
    pub bytes: u64,
    pub secs: f64,
}

/// Audit bundles of `count` random commitments' histories, each selected as the CLI does
/// (`Ledger::select` with a commitment filter), built with `export_bundle` against the
/// latest checkpoint and serialised.
///
/// # Errors
/// Ledger failures.
pub fn bundles(ledger: &Ledger, count: usize, seed: u64) -> Result<BundleTiming> {
    phase(format!(
        "export: {count} audit bundles of commitment histories"
    ));
    let mut rng = SplitMix::new(seed.wrapping_mul(31));
    let mut ids = Vec::with_capacity(count);
    let mut tries = 0usize;
    while ids.len() < count && ledger.size() > 1 && tries < count.saturating_mul(100) {
        tries += 1;
        let i = 1 + rng.below(ledger.size() - 1);
        let e = ledger.entry(i)?;
        if let Some(c) = e.payload.body.commitment_id(&e.payload.id) {
            ids.push(c);
        }
    }
    let mut out = BundleTiming::default();
    let t = Instant::now();
    for id in &ids {
        let filter = Filter {
            commitment: Some(id.as_str().to_owned()),
            ..Filter::default()
        };
        let selected = ledger.select(&filter, false)?;
        let bundle = ledger.export_bundle(&selected)?;
        let json = bundle.to_json();
        out.bundles += 1;
        out.entries += bundle.entries.len() as u64;
        out.bytes += json.len() as u64;
    }
    out.secs = t.elapsed().as_secs_f64();
    Ok(out)
}

/// The `state-memory` subcommand: generates `entries` entries, then replays them through
/// the governance state machine alone (`State::replay` with `Signatures::Skip`: no
/// signature checks, no store) and prints the resident memory the state added, as one JSON line.
///
/// # Errors
/// A rejected entry.
pub fn state_memory(entries: u64, seed: u8) -> Result<()> {
    let w = Workload::generate(entries, seed);
    let before = proc_status_kib("VmRSS")?;
    let t = Instant::now();
    let state = State::replay(
        std::iter::once(&w.charter).chain(&w.entries),
        Signatures::Skip,
    )
    .context("replaying the workload")?;
    let secs = t.elapsed().as_secs_f64();
    let after = proc_status_kib("VmRSS")?;
    ensure!(state.size() == entries, "replayed {} entries", state.size());
    let added = after.saturating_sub(before) as f64 * 1024.0;
    println!(
        "{}",
        serde_json::json!({
            "entries": entries,
            "rss_before_mib": before as f64 * 1024.0 / MIB,
            "rss_after_mib": after as f64 * 1024.0 / MIB,
            "state_mib": added / MIB,
            "state_bytes_per_entry": added / entries as f64,
            "replay_secs": secs,
            "replay_per_s": (entries - 1) as f64 / secs,
        })
    );
    Ok(())
}

/// Keys and bytes of one table of the store.
#[derive(Debug, Default, Serialize)]
pub struct TableStats {
    pub keys: u64,
    pub key_bytes: u64,
    pub value_bytes: u64,
}

/// The `inspect` subcommand: what a fresh process pays to open the ledger and rebuild its
/// governance state (what the first `accord submit` or `append` pays), then the keys and
/// bytes per table of the sled database, read directly (the ledger has no public raw
/// accessor). Writes no entry; sled may rewrite its own metadata on open.
///
/// # Errors
/// Ledger or sled failures.
pub fn inspect(dir: &Path) -> Result<()> {
    let t = Instant::now();
    let mut ledger = Ledger::open(dir).with_context(|| format!("opening {}", dir.display()))?;
    let open_secs = t.elapsed().as_secs_f64();
    let rss_open = proc_status_kib("VmRSS")?;
    let t = Instant::now();
    ledger.governance().context("replaying governance")?;
    let replay_secs = t.elapsed().as_secs_f64();
    let rss_replay = proc_status_kib("VmRSS")?;
    let size = ledger.size();
    drop(ledger);

    let db = sled::Config::new()
        .path(dir)
        .mode(sled::Mode::HighThroughput)
        .open()
        .with_context(|| format!("opening the sled database in {}", dir.display()))?;
    let tree = db.open_tree("accord").context("opening sled tree")?;
    let mut tables: std::collections::BTreeMap<String, TableStats> = Default::default();
    for item in tree.iter() {
        let (k, v) = item.context("sled scan")?;
        let name = k
            .first()
            .map_or("?".to_owned(), |b| (*b as char).to_string());
        let t = tables.entry(name).or_default();
        t.keys += 1;
        t.key_bytes += k.len() as u64;
        t.value_bytes += v.len() as u64;
    }
    let logical: u64 = tables.values().map(|t| t.key_bytes + t.value_bytes).sum();
    drop(tree);
    drop(db);
    println!(
        "{}",
        serde_json::json!({
            "entries": size,
            "open_secs": open_secs,
            "rss_after_open_mib": rss_open as f64 * 1024.0 / MIB,
            "governance_replay_secs": replay_secs,
            "rss_after_replay_mib": rss_replay as f64 * 1024.0 / MIB,
            "logical_bytes": logical,
            "disk_bytes": crate::util::dir_bytes(dir)?,
            "tables": tables,
        })
    );
    Ok(())
}
