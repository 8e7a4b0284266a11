//! Figures, ratios and targets; the printed table and the JSON line.

use std::fmt::Write as _;

use serde::Serialize;

use crate::measure::ProofTiming;

/// Every figure of one run at one size. Rates are per second; `*_per_s` counts entries.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Figures {
    pub entries: u64,
    pub signatures: u64,
    pub threads: usize,
    pub seed: u8,
    /// `/proc/loadavg` (1, 5, 15 min) when the measurements at this size started and ended:
    /// other work on the machine skews every figure.
    pub loadavg_start: String,
    pub loadavg_end: String,
    pub gen_secs: f64,
    pub gen_per_s: f64,

    pub verify_ceiling_per_s: f64,
    pub verify_ceiling_sigs_per_s: f64,
    pub strict_ceiling_per_s: f64,
    pub strict_ceiling_sigs_per_s: f64,
    pub sha256_per_s: f64,
    pub sha256_mb_s: f64,
    pub insert_ceiling_per_s: f64,
    pub insert_ceiling_mb_s: f64,
    pub scan_ceiling_per_s: f64,
    pub scan_ceiling_mb_s: f64,
    pub leaf_bytes: u64,
    pub raw_sled_bytes: u64,

    pub import_entries: u64,
    pub import_secs: f64,
    pub import_per_s: f64,
    pub import_mb_s: f64,

    pub appends: u64,
    pub append_p50_ms: f64,
    pub append_p99_ms: f64,
    pub append_mean_ms: f64,
    pub fsync_p50_ms: f64,
    pub fsync_p99_ms: f64,

    pub verify_secs: f64,
    pub verify_per_s: f64,
    pub verify_sigs_per_s: f64,
    pub verify_open_secs: f64,
    pub verify_peak_rss_mib: f64,
    pub verify_rss_after_open_mib: f64,
    pub verify_peak_rss_100k_mib: Option<f64>,

    pub proofs: Vec<ProofTiming>,
    pub proof_small_size: u64,
    pub proof_large_size: u64,
    pub proof_small_us: f64,
    pub proof_large_us: f64,
    pub consistency_small_us: f64,
    pub consistency_large_us: f64,

    pub export_secs: f64,
    pub export_per_s: f64,
    pub export_mb_s: f64,
    pub export_bytes: u64,
    pub bundles: u64,
    pub bundle_entries: u64,
    pub bundle_ms: f64,
    pub bundle_per_s: f64,
    pub bundle_mb_s: f64,

    pub disk_bytes: u64,
    pub envelope_bytes: u64,
    pub disk_per_entry: f64,
    pub envelope_per_entry: f64,

    pub ratio_verify_vs_batch: f64,
    pub ratio_verify_vs_strict: f64,
    pub ratio_import_vs_ceiling: f64,
    pub ratio_append_vs_fsync: f64,
    pub ratio_proof_large_vs_small: f64,
    pub ratio_export_vs_scan: f64,
    pub ratio_disk_vs_envelope: f64,
    pub ratio_verify_rss_vs_100k: Option<f64>,
}

impl Figures {
    /// Fills in the ratios from the figures.
    pub fn compute_ratios(&mut self) {
        let r = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        self.ratio_verify_vs_batch = r(self.verify_per_s, self.verify_ceiling_per_s);
        self.ratio_verify_vs_strict = r(self.verify_per_s, self.strict_ceiling_per_s);
        self.ratio_import_vs_ceiling = r(
            self.import_per_s,
            // Issue #10: strict semantics cannot be batched, so the ceiling is the strict one.
            self.insert_ceiling_per_s.min(self.strict_ceiling_per_s),
        );
        self.ratio_append_vs_fsync = r(self.append_p50_ms, self.fsync_p50_ms);
        self.ratio_proof_large_vs_small = r(self.proof_large_us, self.proof_small_us);
        self.ratio_export_vs_scan = r(self.export_per_s, self.scan_ceiling_per_s);
        self.ratio_disk_vs_envelope = r(self.disk_bytes as f64, self.envelope_bytes as f64);
        self.ratio_verify_rss_vs_100k = self
            .verify_peak_rss_100k_mib
            .map(|m| r(self.verify_peak_rss_mib, m));
    }
}

/// One target and its verdict.
#[derive(Clone, Debug, Serialize)]
pub struct Target {
    pub key: &'static str,
    pub what: String,
    pub measured: String,
    pub needed: String,
    pub pass: Option<bool>,
}

pub fn targets(f: &Figures) -> Vec<Target> {
    let mut out = vec![
        Target {
            key: "verify_vs_strict",
            what: "full verify vs raw strict-verify ceiling".into(),
            measured: format!("{:.2}x", f.ratio_verify_vs_strict),
            needed: ">= 0.80x".into(),
            pass: Some(f.ratio_verify_vs_strict >= 0.8),
        },
        Target {
            key: "verify_vs_batch",
            what: "full verify vs raw batch-verify ceiling (informative)".into(),
            measured: format!("{:.2}x", f.ratio_verify_vs_batch),
            needed: "n/a".into(),
            pass: None,
        },
        Target {
            key: "import",
            what: "bulk import vs min(sled insert, strict verify)".into(),
            measured: format!("{:.2}x", f.ratio_import_vs_ceiling),
            needed: ">= 0.50x".into(),
            pass: Some(f.ratio_import_vs_ceiling >= 0.5),
        },
        Target {
            key: "append",
            what: "durable append p50 vs one raw fsync p50".into(),
            measured: format!("{:.2}x", f.ratio_append_vs_fsync),
            needed: "<= 3.00x".into(),
            pass: Some(f.ratio_append_vs_fsync <= 3.0),
        },
        Target {
            key: "proof",
            what: format!(
                "inclusion proof at {} vs at {}",
                f.proof_large_size, f.proof_small_size
            ),
            measured: format!("{:.2}x", f.ratio_proof_large_vs_small),
            needed: "<= 1.50x".into(),
            pass: Some(f.ratio_proof_large_vs_small <= 1.5),
        },
        Target {
            key: "export",
            what: "JSON Lines export vs raw sled scan".into(),
            measured: format!("{:.2}x", f.ratio_export_vs_scan),
            needed: ">= 0.50x".into(),
            pass: Some(f.ratio_export_vs_scan >= 0.5),
        },
        Target {
            key: "disk",
            what: "bytes on disk vs raw envelope bytes".into(),
            measured: format!("{:.2}x", f.ratio_disk_vs_envelope),
            needed: "<= 1.30x".into(),
            pass: Some(f.ratio_disk_vs_envelope <= 1.3),
        },
        Target {
            key: "verify_rss",
            what: "verify peak RSS".into(),
            measured: format!("{:.0} MiB", f.verify_peak_rss_mib),
            needed: "<= 256 MiB".into(),
            pass: Some(f.verify_peak_rss_mib <= 256.0),
        },
    ];
    out.push(Target {
        key: "verify_rss_growth",
        what: "verify peak RSS vs at 100k entries".into(),
        measured: f
            .ratio_verify_rss_vs_100k
            .map_or("n/a".into(), |r| format!("{r:.2}x")),
        needed: "<= 1.20x".into(),
        pass: f.ratio_verify_rss_vs_100k.map(|r| r <= 1.2),
    });
    out
}

fn rate(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2} M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} k", x / 1e3)
    } else {
        format!("{x:.1}")
    }
}

/// The human-readable table for one size.
pub fn table(f: &Figures) -> String {
    let mut s = String::new();
    let n = f.entries;
    let _ = writeln!(
        s,
        "accord-bench: {n} entries, {} signatures, {} threads, seed {}; load average {} -> {}",
        f.signatures, f.threads, f.seed, f.loadavg_start, f.loadavg_end
    );
    let _ = writeln!(s, "{:-<100}", "");
    let _ = writeln!(s, "{:<44} {:>22}   detail", "measurement", "figure");
    let _ = writeln!(s, "{:-<100}", "");
    let mut row = |name: &str, fig: String, detail: String| {
        let line = format!("{name:<44} {fig:>22}   {detail}");
        let _ = writeln!(s, "{}", line.trim_end());
    };
    row(
        "generate (Synth, sequential; not a target)",
        format!("{} entries/s", rate(f.gen_per_s)),
        format!("{:.1} s", f.gen_secs),
    );
    row(
        "ceiling: ed25519 verify_batch, all cores",
        format!("{} entries/s", rate(f.verify_ceiling_per_s)),
        format!("{} sig/s", rate(f.verify_ceiling_sigs_per_s)),
    );
    row(
        "ceiling: ed25519 verify_strict, all cores",
        format!("{} entries/s", rate(f.strict_ceiling_per_s)),
        format!("{} sig/s", rate(f.strict_ceiling_sigs_per_s)),
    );
    row(
        "ceiling: SHA-256 of leaves, one core",
        format!("{} entries/s", rate(f.sha256_per_s)),
        format!("{:.0} MB/s", f.sha256_mb_s),
    );
    row(
        "ceiling: sled insert, batch+flush per 2048",
        format!("{} entries/s", rate(f.insert_ceiling_per_s)),
        format!("{:.0} MB/s", f.insert_ceiling_mb_s),
    );
    row(
        "ceiling: sled scan (reopened)",
        format!("{} entries/s", rate(f.scan_ceiling_per_s)),
        format!("{:.0} MB/s", f.scan_ceiling_mb_s),
    );
    row(
        "bulk import (Ledger::import)",
        format!("{} entries/s", rate(f.import_per_s)),
        format!(
            "{} entries in {:.1} s, {:.1} MB/s of envelopes",
            f.import_entries, f.import_secs, f.import_mb_s
        ),
    );
    row(
        "durable append p50 / p99 (Ledger::append)",
        format!("{:.2} / {:.2} ms", f.append_p50_ms, f.append_p99_ms),
        format!("{} appends, mean {:.2} ms", f.appends, f.append_mean_ms),
    );
    row(
        "raw fsync p50 / p99 (1 KiB + sync_all)",
        format!("{:.2} / {:.2} ms", f.fsync_p50_ms, f.fsync_p99_ms),
        String::new(),
    );
    row(
        "full verify (accord_ledger::verify)",
        format!("{} entries/s", rate(f.verify_per_s)),
        format!(
            "{:.1} s, {} sig/s; open {:.2} s",
            f.verify_secs,
            rate(f.verify_sigs_per_s),
            f.verify_open_secs
        ),
    );
    row(
        "verify peak RSS (child VmHWM)",
        format!("{:.1} MiB", f.verify_peak_rss_mib),
        format!(
            "{:.1} MiB after open{}",
            f.verify_rss_after_open_mib,
            f.verify_peak_rss_100k_mib
                .map_or(String::new(), |m| format!("; {m:.1} MiB verifying 100k"))
        ),
    );
    for p in &f.proofs {
        row(
            &format!("proofs at tree size {}", p.size),
            format!("{:.1} / {:.1} us", p.inclusion_us, p.consistency_us),
            format!(
                "inclusion / consistency, path {:.1} hashes",
                p.inclusion_path_len
            ),
        );
    }
    row(
        "export JSON Lines (export_jsonl)",
        format!("{} entries/s", rate(f.export_per_s)),
        format!(
            "{:.1} MB/s, {:.0} MB in {:.1} s",
            f.export_mb_s,
            f.export_bytes as f64 / 1e6,
            f.export_secs
        ),
    );
    row(
        "export bundle (select + export_bundle)",
        format!("{} entries/s", rate(f.bundle_per_s)),
        format!(
            "{:.2} MB/s; {} bundles, {:.2} ms each, {:.1} entries each",
            f.bundle_mb_s,
            f.bundles,
            f.bundle_ms,
            f.bundle_entries as f64 / f.bundles.max(1) as f64
        ),
    );
    row(
        "disk: ledger directory",
        format!("{:.1} MB", f.disk_bytes as f64 / 1e6),
        format!("{:.0} B/entry", f.disk_per_entry),
    );
    row(
        "disk: raw envelopes (to_json)",
        format!("{:.1} MB", f.envelope_bytes as f64 / 1e6),
        format!("{:.0} B/entry", f.envelope_per_entry),
    );
    row(
        "disk: raw sled db of the leaves",
        format!("{:.1} MB", f.raw_sled_bytes as f64 / 1e6),
        format!("leaves {:.1} MB", f.leaf_bytes as f64 / 1e6),
    );
    let _ = writeln!(s, "{:-<100}", "");
    let _ = writeln!(
        s,
        "{:<60} {:>12} {:>12}   verdict",
        "target", "measured", "needed"
    );
    let _ = writeln!(s, "{:-<100}", "");
    for t in targets(f) {
        let verdict = match t.pass {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "n/a",
        };
        let _ = writeln!(
            s,
            "{:<60} {:>12} {:>12}   {verdict}",
            t.what, t.measured, t.needed
        );
    }
    let _ = writeln!(s, "{:-<100}", "");
    s
}

/// The JSON line: every figure, ratio and verdict.
///
/// # Errors
/// Serialisation failures (none expected).
pub fn json_line(f: &Figures) -> serde_json::Result<String> {
    let mut v = serde_json::to_value(f)?;
    let verdicts: serde_json::Map<String, serde_json::Value> = targets(f)
        .into_iter()
        .map(|t| (t.key.to_owned(), serde_json::json!(t.pass)))
        .collect();
    v["pass"] = serde_json::Value::Object(verdicts);
    serde_json::to_string(&v)
}

/// One row per size: how each cost grows.
pub fn scale_table(all: &[Figures]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>9} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "entries",
        "import/s",
        "verify/s",
        "batch/s",
        "strict/s",
        "export/s",
        "scan/s",
        "app p50",
        "fsync",
        "incl us",
        "rss MiB",
        "disk B/e"
    );
    for f in all {
        let _ = writeln!(
            s,
            "{:>9} {:>10.0} {:>10.0} {:>10.0} {:>10.0} {:>10.0} {:>9.0} {:>9.2} {:>9.2} {:>9.1} {:>9.1} {:>9.0}",
            f.entries,
            f.import_per_s,
            f.verify_per_s,
            f.verify_ceiling_per_s,
            f.strict_ceiling_per_s,
            f.export_per_s,
            f.scan_ceiling_per_s,
            f.append_p50_ms,
            f.fsync_p50_ms,
            f.proof_large_us,
            f.verify_peak_rss_mib,
            f.disk_per_entry
        );
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The keys the issue asks the JSON line to carry.
    const REQUIRED: [&str; 15] = [
        "entries",
        "verify_per_s",
        "verify_ceiling_per_s",
        "import_per_s",
        "insert_ceiling_per_s",
        "append_p50_ms",
        "append_p99_ms",
        "fsync_p50_ms",
        "proof_small_us",
        "proof_large_us",
        "export_per_s",
        "scan_ceiling_per_s",
        "disk_bytes",
        "envelope_bytes",
        "verify_peak_rss_mib",
    ];

    fn sample() -> Figures {
        let mut f = Figures {
            entries: 1000,
            loadavg_start: "0.10 0.20 0.30".into(),
            loadavg_end: "0.40 0.50 0.60".into(),
            verify_per_s: 80.0,
            verify_ceiling_per_s: 100.0,
            strict_ceiling_per_s: 90.0,
            import_per_s: 40.0,
            insert_ceiling_per_s: 200.0,
            append_p50_ms: 3.0,
            fsync_p50_ms: 1.0,
            proof_small_us: 10.0,
            proof_large_us: 25.0,
            export_per_s: 50.0,
            scan_ceiling_per_s: 100.0,
            disk_bytes: 300,
            envelope_bytes: 100,
            verify_peak_rss_mib: 100.0,
            verify_peak_rss_100k_mib: Some(90.0),
            ..Figures::default()
        };
        f.compute_ratios();
        f
    }

    #[test]
    fn the_json_line_has_every_required_key_and_the_verdicts() {
        let v: serde_json::Value = serde_json::from_str(&json_line(&sample()).unwrap()).unwrap();
        for k in REQUIRED {
            assert!(v.get(k).is_some(), "missing {k}");
        }
        assert_eq!(v["pass"]["verify_vs_strict"], true);
        assert!(v["pass"]["verify_vs_batch"].is_null(), "informative only");
        assert_eq!(v["pass"]["import"], false);
        assert_eq!(v["pass"]["append"], true);
        assert_eq!(v["pass"]["proof"], false);
        assert_eq!(v["pass"]["disk"], false);
        assert_eq!(v["pass"]["verify_rss_growth"], true);
    }

    #[test]
    fn ratios_follow_the_targets_definitions() {
        let f = sample();
        // min(sled insert 200, strict verify 90).
        assert!((f.ratio_import_vs_ceiling - 40.0 / 90.0).abs() < 1e-9);
        assert!((f.ratio_proof_large_vs_small - 2.5).abs() < 1e-9);
        assert!((f.ratio_disk_vs_envelope - 3.0).abs() < 1e-9);
        let table = table(&f);
        assert!(table.contains("MISS") && table.contains("PASS"));
        assert!(table.lines().all(|l| l == l.trim_end()));
    }
}
