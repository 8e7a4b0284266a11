//! `accord-bench mirror`: a fresh `accord mirror` of a kept ledger served by `accord serve`
//! over loopback, against a local `accord verify` of the same ledger (issue #12: >= 0.8x of
//! its rate), then one new entry submitted, mirrored and cosigned on the replica (<= 100 ms),
//! `--samples` times (one run of a process is too noisy a figure on a shared machine): as two
//! commands (`mirror`, then `cosign`) and, on another new entry, as one (`mirror --cosign`).
//! `--replica DIR` keeps the replica there: a later run given the same directory skips the
//! fresh mirror (it only catches up) and measures the one-entry step again.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use accord_ledger::synth::Synth;
use accord_ledger::{Ledger, LedgerError};
use anyhow::{ensure, Context, Result};
use serde::Serialize;

use crate::outside::{accord_bin, run, start_serve};
use crate::util::{percentile_ms, phase};
use crate::workload::MEMBERS;

/// What one run measured.
#[derive(Debug, Default, Serialize)]
pub struct MirrorRun {
    pub entries: u64,
    pub verify_s: f64,
    pub verify_per_s: f64,
    pub mirror_s: f64,
    pub mirror_per_s: f64,
    /// mirror rate over verify rate (target >= 0.8; only a fresh mirror is comparable).
    pub ratio: f64,
    /// Whether the replica was made by this run (else `mirror_s` is a catch-up).
    pub fresh: bool,
    /// Samples of the one-new-entry step.
    pub samples: usize,
    /// Medians over the samples.
    pub one_new_mirror_ms: f64,
    pub one_new_cosign_ms: f64,
    /// Both, as a ministry's cron job runs them (target <= 100 ms): median and worst of the
    /// per-sample sums.
    pub one_new_ms: f64,
    pub one_new_max_ms: f64,
    /// The same step as one command, `accord mirror --cosign` (one process, one open of the
    /// replica), on another new entry each sample: median and worst.
    pub one_new_combined_ms: f64,
    pub one_new_combined_max_ms: f64,
    pub loadavg_start: String,
    pub loadavg_end: String,
}

fn served_size(http: &reqwest::blocking::Client, url: &str) -> Result<u64> {
    let c = http.get(format!("{url}/checkpoint")).send()?.text()?;
    c.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .context("a checkpoint without a size line")
}

fn wait_for(http: &reqwest::blocking::Client, url: &str, size: u64) -> Result<()> {
    let started = Instant::now();
    while served_size(http, url)? < size {
        ensure!(
            started.elapsed() < Duration::from_secs(60),
            "no checkpoint of {size} entries within 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Runs the measurement on the kept ledger `dir` (with `dir/keys/`).
pub fn measure(dir: &Path, seed: u8, samples: usize, replica: Option<&Path>) -> Result<MirrorRun> {
    let bin = accord_bin()?;
    let d = dir.to_str().context("ledger path is not UTF-8")?;
    let keys = dir.join("keys");
    let lk = keys.join("log.key");
    let lk = lk.to_str().context("key path is not UTF-8")?;
    let synth = Synth::new(MEMBERS, seed);
    let member = keys.join(format!("{}.key", synth.members[0].name()));
    let mk = member.to_str().context("key path is not UTF-8")?;
    let mut r = MirrorRun {
        loadavg_start: crate::util::loadavg(),
        ..MirrorRun::default()
    };

    // Verify first: `accord serve` holds the ledger while it runs. The service signs a
    // checkpoint of the whole ledger when it starts, so the mirror fetches the same entries.
    phase(format!("mirror: local verify of {d}"));
    r.verify_s = run(&bin, &["--ledger", d, "verify"])?.as_secs_f64();
    let (child, url) = start_serve(&bin, d, lk)?;
    let http = reqwest::blocking::Client::new();
    r.entries = served_size(&http, &url)?;
    r.verify_per_s = r.entries as f64 / r.verify_s;

    let parent = dir.parent().unwrap_or(Path::new("."));
    let work = tempfile::tempdir_in(parent)?;
    let rep = match replica {
        Some(p) => p.to_path_buf(),
        None => work.path().join("replica"),
    };
    // Fresh as `accord mirror` itself decides it (no ledger there yet); a catch-up's rate
    // is over the entries it fetched.
    let before = match Ledger::open(&rep) {
        Ok(l) => l.size(),
        Err(LedgerError::NotALedger(_) | LedgerError::Incomplete(_)) => 0,
        Err(e) => return Err(e.into()),
    };
    r.fresh = before == 0;
    let rep = rep.to_str().context("replica path is not UTF-8")?;
    phase(format!(
        "mirror: {} mirror from {url} into {rep}",
        if r.fresh { "fresh" } else { "catch-up" }
    ));
    r.mirror_s = run(&bin, &["--ledger", rep, "mirror", "--from", &url])?.as_secs_f64();
    r.mirror_per_s = r.entries.saturating_sub(before) as f64 / r.mirror_s;
    r.ratio = r.mirror_per_s / r.verify_per_s;
    phase(format!(
        "mirror: verify {:.1} s ({:.0}/s), mirror {:.1} s ({:.0}/s): {:.2}x",
        r.verify_s, r.verify_per_s, r.mirror_s, r.mirror_per_s, r.ratio
    ));
    // A first cosignature on the replica (the member's full check), as a ministry does once;
    // through `mirror --cosign`, which leaves a checkpoint cosigned by an earlier run alone.
    run(
        &bin,
        &["--ledger", rep, "mirror", "--from", &url, "--cosign", mk],
    )?;

    // One new entry, `samples` times: submitted, then mirrored and cosigned on the replica.
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.as_secs())
        * 100_000;
    let mut gen = Synth::new(MEMBERS, seed).starting_at(start);
    let (mut ms, mut cs, mut both, mut one) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut size = r.entries;
    let mut submit_one = |size: &mut u64| -> Result<()> {
        let res = http
            .post(format!("{url}/api/v1/entries"))
            .header("content-type", "application/json")
            .body(gen.next_entry().to_json())
            .send()?;
        ensure!(res.status().as_u16() == 201, "submit: {}", res.status());
        *size += 1;
        wait_for(&http, &url, *size)
    };
    for k in 0..samples.max(1) {
        submit_one(&mut size)?;
        let m = run(&bin, &["--ledger", rep, "mirror", "--from", &url])?;
        let c = run(&bin, &["--ledger", rep, "cosign", "--key", mk])?;
        submit_one(&mut size)?;
        let o = run(
            &bin,
            &["--ledger", rep, "mirror", "--from", &url, "--cosign", mk],
        )?;
        phase(format!(
            "mirror: one new entry, sample {}: mirror {:.1} ms + cosign {:.1} ms; \
             mirror --cosign {:.1} ms",
            k + 1,
            m.as_secs_f64() * 1e3,
            c.as_secs_f64() * 1e3,
            o.as_secs_f64() * 1e3
        ));
        ms.push(m);
        cs.push(c);
        both.push(m + c);
        one.push(o);
    }
    r.samples = both.len();
    r.one_new_mirror_ms = percentile_ms(&ms, 50.0);
    r.one_new_cosign_ms = percentile_ms(&cs, 50.0);
    r.one_new_ms = percentile_ms(&both, 50.0);
    r.one_new_max_ms = percentile_ms(&both, 100.0);
    r.one_new_combined_ms = percentile_ms(&one, 50.0);
    r.one_new_combined_max_ms = percentile_ms(&one, 100.0);
    drop(child);
    r.loadavg_end = crate::util::loadavg();
    Ok(r)
}

/// The run as a table.
pub fn table(r: &MirrorRun) -> String {
    format!(
        "mirror of {} entries over loopback\n\
         | what | time | entries/s |\n|---|---|---|\n\
         | local `accord verify` | {:.1} s | {:.0} |\n\
         | {} `accord mirror --from` | {:.1} s | {:.0} |\n\
         mirror / verify: {:.2}x (target >= 0.8x{})\n\
         one new entry, median of {}: mirror {:.1} ms + cosign {:.1} ms; both {:.1} ms, worst {:.1} ms (target <= 100 ms)\n\
         one new entry as one command, `mirror --cosign`: median {:.1} ms, worst {:.1} ms (target <= 100 ms)\n\
         load average {} -> {}\n",
        r.entries,
        r.verify_s,
        r.verify_per_s,
        if r.fresh { "fresh" } else { "catch-up" },
        r.mirror_s,
        r.mirror_per_s,
        r.ratio,
        if r.fresh {
            ""
        } else {
            "; a catch-up, not comparable"
        },
        r.samples,
        r.one_new_mirror_ms,
        r.one_new_cosign_ms,
        r.one_new_ms,
        r.one_new_max_ms,
        r.one_new_combined_ms,
        r.one_new_combined_max_ms,
        r.loadavg_start,
        r.loadavg_end
    )
}
