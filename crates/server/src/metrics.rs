//! Prometheus text exposition (version 0.0.4) of what an operator watches: entries,
//! checkpoint age and lag, submissions accepted and refused by reason, group commits, and
//! request latencies per route. Written by hand: a few counters need no metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Latency buckets, seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    accepted: u64,
    refused: BTreeMap<String, u64>,
    groups: u64,
    grouped: u64,
    checkpoints: u64,
    cosignatures: u64,
    connections_refused: u64,
    /// Seconds since the epoch when the latest checkpoint was signed (by this process, or
    /// when it started, for a checkpoint it found current).
    checkpoint_at: u64,
    checkpoint_size: u64,
    entries: u64,
    requests: BTreeMap<(String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    /// Time of the group commit's steps, by step (`apply`, `sync`).
    commit: BTreeMap<&'static str, Histogram>,
}

/// The service's metrics.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Histogram {
    fn observe(&mut self, took: Duration) {
        let s = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += s;
    }

    /// The histogram's lines, `name_bucket{labels,le=..}` and so on; `labels` is empty or
    /// ends with a comma.
    fn render(&self, w: &mut String, name: &str, labels: &str) {
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(w, "{name}_bucket{{{labels}le=\"{b}\"}} {}", self.counts[i]);
        }
        let _ = writeln!(w, "{name}_bucket{{{labels}le=\"+Inf\"}} {}", self.count);
        let labels = labels.trim_end_matches(',');
        let _ = writeln!(w, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(w, "{name}_count{{{labels}}} {}", self.count);
    }
}

impl Metrics {
    fn with(&self, f: impl FnOnce(&mut Inner)) {
        let mut g = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g);
    }

    /// A submission accepted.
    pub fn accepted(&self) {
        self.with(|m| m.accepted += 1);
    }

    /// A submission refused, by class of reason.
    pub fn refused(&self, class: &str) {
        self.with(|m| *m.refused.entry(class.to_owned()).or_default() += 1);
    }

    /// A group commit of `n` envelopes.
    pub fn group(&self, n: usize) {
        self.with(|m| {
            m.groups += 1;
            m.grouped += n as u64;
        });
    }

    /// A step of a group commit took `took`: `apply` (the writer judging and writing the
    /// group under the ledger lock) or `sync` (the syncer making it durable).
    pub fn commit_step(&self, step: &'static str, took: Duration) {
        self.with(|m| m.commit.entry(step).or_default().observe(took));
    }

    /// The tree's size now.
    pub fn entries(&self, size: u64) {
        self.with(|m| m.entries = size);
    }

    /// A checkpoint of `size` is the latest, signed now (`signed`) or found current.
    pub fn checkpoint(&self, size: u64, signed: bool) {
        self.with(|m| {
            m.checkpoint_size = size;
            m.checkpoint_at = now();
            if signed {
                m.checkpoints += 1;
            }
        });
    }

    /// A cosignature stored.
    pub fn cosignature(&self) {
        self.with(|m| m.cosignatures += 1);
    }

    /// A connection closed at accept: over `--max-connections` or the per-address limit.
    pub fn connection_refused(&self) {
        self.with(|m| m.connections_refused += 1);
    }

    /// A request served.
    pub fn request(&self, route: &str, status: u16, took: Duration) {
        self.with(|m| {
            *m.requests.entry((route.to_owned(), status)).or_default() += 1;
            m.latency.entry(route.to_owned()).or_default().observe(took);
        });
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.with(|m| {
            let w = &mut out;
            let _ = writeln!(w, "# HELP accord_entries Entries in the ledger.\n# TYPE accord_entries gauge\naccord_entries {}", m.entries);
            let _ = writeln!(w, "# HELP accord_checkpoint_size Tree size of the latest checkpoint.\n# TYPE accord_checkpoint_size gauge\naccord_checkpoint_size {}", m.checkpoint_size);
            let _ = writeln!(w, "# HELP accord_unsigned_entries Entries not yet covered by a checkpoint.\n# TYPE accord_unsigned_entries gauge\naccord_unsigned_entries {}", m.entries.saturating_sub(m.checkpoint_size));
            let _ = writeln!(w, "# HELP accord_checkpoint_age_seconds Seconds since the latest checkpoint was signed (or found current at start).\n# TYPE accord_checkpoint_age_seconds gauge\naccord_checkpoint_age_seconds {}", now().saturating_sub(m.checkpoint_at));
            let _ = writeln!(w, "# HELP accord_checkpoints_signed_total Checkpoints signed by this process.\n# TYPE accord_checkpoints_signed_total counter\naccord_checkpoints_signed_total {}", m.checkpoints);
            let _ = writeln!(w, "# HELP accord_connections_refused_total Connections closed at accept (connection limits).\n# TYPE accord_connections_refused_total counter\naccord_connections_refused_total {}", m.connections_refused);
            let _ = writeln!(w, "# HELP accord_cosignatures_total Cosignatures accepted by this process.\n# TYPE accord_cosignatures_total counter\naccord_cosignatures_total {}", m.cosignatures);
            let _ = writeln!(w, "# HELP accord_submissions_total Submissions, accepted or refused by reason.\n# TYPE accord_submissions_total counter");
            let _ = writeln!(w, "accord_submissions_total{{result=\"accepted\"}} {}", m.accepted);
            for (reason, n) in &m.refused {
                let _ = writeln!(w, "accord_submissions_total{{result=\"refused\",reason=\"{reason}\"}} {n}");
            }
            let _ = writeln!(w, "# HELP accord_commit_groups_total Durable group commits.\n# TYPE accord_commit_groups_total counter\naccord_commit_groups_total {}", m.groups);
            let _ = writeln!(w, "# HELP accord_commit_group_envelopes_total Envelopes in group commits.\n# TYPE accord_commit_group_envelopes_total counter\naccord_commit_group_envelopes_total {}", m.grouped);
            let _ = writeln!(w, "# HELP accord_http_requests_total Requests by route and status.\n# TYPE accord_http_requests_total counter");
            for ((route, status), n) in &m.requests {
                let _ = writeln!(w, "accord_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
            }
            let _ = writeln!(w, "# HELP accord_http_request_duration_seconds Request latency by route.\n# TYPE accord_http_request_duration_seconds histogram");
            for (route, h) in &m.latency {
                h.render(w, "accord_http_request_duration_seconds", &format!("route=\"{route}\","));
            }
            let _ = writeln!(w, "# HELP accord_commit_step_duration_seconds Time of each step of a group commit: apply (judged and written under the ledger lock), sync (made durable).\n# TYPE accord_commit_step_duration_seconds histogram");
            for (step, h) in &m.commit {
                h.render(w, "accord_commit_step_duration_seconds", &format!("step=\"{step}\","));
            }
        });
        out
    }
}
