//! One module per group of subcommands; each subcommand is one function.

pub mod audit;
pub mod charter;
pub mod draft;
pub mod keys;
pub mod log;
pub mod read;
pub mod sign;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use accord_core::envelope::{Envelope, MAX_ENVELOPE_BYTES};
use accord_core::lifecycle::Status;
use accord_ledger::query::Filter;
use accord_ledger::{Ledger, Wait};
use anyhow::{anyhow, bail, Context, Result};

use crate::cli::{Cli, FilterArgs};

/// What every subcommand may need from the global flags.
pub struct Ctx {
    /// --ledger / ACCORD_LEDGER.
    pub ledger: Option<PathBuf>,
    /// --json.
    pub json: bool,
    /// --wait.
    pub wait: Wait,
}

impl Ctx {
    /// From the parsed command line.
    pub fn new(cli: &Cli) -> Self {
        Self {
            ledger: cli.ledger.clone(),
            json: cli.json,
            wait: match cli.wait {
                Some(s) => Wait::Upto(Duration::from_secs(s)),
                None => Wait::No,
            },
        }
    }

    /// The ledger directory, or an error saying how to name one.
    pub fn ledger_dir(&self) -> Result<&Path> {
        self.ledger
            .as_deref()
            .ok_or_else(|| anyhow!("no ledger given: use --ledger DIR or set ACCORD_LEDGER"))
    }

    /// Opens the ledger.
    pub fn open(&self) -> Result<Ledger> {
        let dir = self.ledger_dir()?;
        Ledger::open_with(dir, self.wait).map_err(Into::into)
    }
}

/// Largest input file read whole (JSON documents, bundles).
pub const MAX_INPUT: u64 = 256 * 1024 * 1024;

/// Reads a file, refusing absurd sizes.
pub fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.len() > limit {
        bail!(
            "{} is {} bytes; the limit is {limit}",
            path.display(),
            meta.len()
        );
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Writes a file atomically (temporary file, then rename), or to stdout for "-".
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if path == Path::new("-") {
        std::io::stdout().lock().write_all(bytes)?;
        return Ok(());
    }
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// A file that is either a draft (payload JSON) or a DSSE envelope.
pub enum Document {
    /// Payload bytes, unsigned.
    Draft(Vec<u8>),
    /// An envelope.
    Envelope(Envelope),
}

impl Document {
    /// Reads one.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = read_file(path, MAX_ENVELOPE_BYTES as u64)?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        if value.get("payloadType").is_some() {
            let env = Envelope::from_json(&bytes)
                .with_context(|| format!("{} is not a valid DSSE envelope", path.display()))?;
            Ok(Document::Envelope(env))
        } else {
            Ok(Document::Draft(bytes))
        }
    }

    /// The envelope (a draft becomes an unsigned one, its bytes unchanged).
    pub fn into_envelope(self) -> Envelope {
        match self {
            Document::Draft(b) => Envelope::new(b),
            Document::Envelope(e) => e,
        }
    }
}

/// Parses a YYYY-MM-DD flag.
pub fn parse_day(flag: &str, s: &str) -> Result<time::Date> {
    let d = accord_core::model::Date::parse(s).map_err(|e| anyhow!("--{flag}: {e}"))?;
    Ok(d.date())
}

/// Turns filter flags into a validated [`Filter`].
pub fn filter(f: &FilterArgs, commitment: Option<&str>) -> Result<Filter> {
    let status = match &f.status {
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            anyhow!("--status {s:?}: expected active, amended, expired, pending or withdrawn")
        })?),
        None => None,
    };
    if let Some(k) = &f.kind {
        if !accord_core::model::commitment::MEASURE_KINDS.contains(&k.as_str()) {
            bail!(
                "--kind {k:?}: expected one of {}",
                accord_core::model::commitment::MEASURE_KINDS.join(", ")
            );
        }
    }
    Ok(Filter {
        member: f.member.clone(),
        country: f.country.clone(),
        kind: f.kind.clone(),
        commodity: f.commodity.clone(),
        status,
        from: f
            .since
            .as_deref()
            .map(|s| parse_day("since", s))
            .transpose()?,
        to: f
            .until
            .as_deref()
            .map(|s| parse_day("until", s))
            .transpose()?,
        as_of: f
            .as_of
            .as_deref()
            .map(|s| parse_day("as-of", s))
            .transpose()?,
        commitment: commitment.map(str::to_owned),
    })
}

/// Parses a hex SHA-256 flag.
pub fn parse_hash(flag: &str, s: &str) -> Result<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s.trim(), &mut out)
        .map_err(|_| anyhow!("--{flag} must be 64 hex digits (a SHA-256)"))?;
    Ok(out)
}
