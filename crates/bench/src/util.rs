//! Small helpers: timing statistics, a deterministic PRNG, memory and disk readings,
//! progress bars.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The `p`-th percentile (0 to 100) of `samples` by nearest rank, in milliseconds.
pub fn percentile_ms(samples: &[Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut v: Vec<Duration> = samples.to_vec();
    v.sort_unstable();
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    let i = rank.clamp(1, v.len()) - 1;
    v[i].as_secs_f64() * 1e3
}

/// Mean of `samples`, in milliseconds.
pub fn mean_ms(samples: &[Duration]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.iter().map(Duration::as_secs_f64).sum::<f64>() * 1e3 / samples.len() as f64
}

/// SplitMix64: a tiny deterministic generator for picking proof indexes.
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// A field of `/proc/self/status` in KiB (`VmHWM`, `VmRSS`).
pub fn proc_status_kib(field: &str) -> Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix(field) {
            if let Some(rest) = rest.strip_prefix(':') {
                let kib = rest
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .with_context(|| format!("parsing {field} in /proc/self/status"))?;
                return Ok(kib);
            }
        }
    }
    anyhow::bail!("{field} not found in /proc/self/status")
}

/// The 1, 5 and 15 minute load averages, or "?" if unreadable.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

/// The sum of the sizes of every file under `dir`.
pub fn dir_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for item in std::fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let item = item.with_context(|| format!("listing {}", d.display()))?;
            let meta = item
                .metadata()
                .with_context(|| format!("stat {}", item.path().display()))?;
            if meta.is_dir() {
                stack.push(item.path());
            } else {
                total += meta.len();
            }
        }
    }
    Ok(total)
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(s) =
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
    {
        pb.set_style(s.progress_chars("=> "));
    }
    pb.set_message(what.to_owned());
    pb
}

/// A phase line on stderr, so that a run in the background can be followed in its log.
pub fn phase(msg: impl AsRef<str>) {
    let mut e = std::io::stderr().lock();
    // Progress output only: a failed write to stderr is not worth stopping a benchmark for.
    let _ = writeln!(e, "[accord-bench] {}", msg.as_ref());
}

/// A writer that counts bytes and discards them.
#[derive(Default)]
pub struct CountingSink {
    pub bytes: u64,
}

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub const MIB: f64 = 1024.0 * 1024.0;
pub const MB: f64 = 1e6;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert!((percentile_ms(&v, 50.0) - 50.0).abs() < 1e-9);
        assert!((percentile_ms(&v, 99.0) - 99.0).abs() < 1e-9);
        assert!((percentile_ms(&v, 100.0) - 100.0).abs() < 1e-9);
        assert!((mean_ms(&v) - 50.5).abs() < 1e-9);
        assert_eq!(percentile_ms(&[], 50.0), 0.0);
    }

    #[test]
    fn splitmix_is_deterministic_and_in_range() {
        let a: Vec<u64> = {
            let mut r = SplitMix::new(7);
            (0..100).map(|_| r.below(10)).collect()
        };
        let mut r = SplitMix::new(7);
        assert!(a.iter().all(|&x| x < 10 && x == r.below(10)));
    }

    #[test]
    fn proc_status_is_readable() {
        assert!(proc_status_kib("VmHWM").unwrap() > 0);
        assert!(proc_status_kib("NoSuchField").is_err());
    }
}
