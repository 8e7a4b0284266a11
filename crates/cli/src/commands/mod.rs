//! One module per group of subcommands; each subcommand is one function.

pub mod audit;
pub mod charter;
pub mod cosign_remote;
pub mod draft;
pub mod keys;
pub mod log;
pub mod mirror;
pub mod publish;
pub mod read;
pub mod report;
pub mod serve;
pub mod sign;
pub mod watch;
pub mod witness;

use std::io::{Read, Write};
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
    /// --server / ACCORD_SERVER.
    pub server: Option<String>,
    /// --ca-cert.
    pub ca_cert: Option<PathBuf>,
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
            server: cli.server.clone(),
            ca_cert: cli.ca_cert.clone(),
        }
    }

    /// The server, when `--server` names one.
    pub fn remote(&self) -> Result<Option<crate::client::Remote>> {
        self.server
            .as_deref()
            .map(|url| crate::client::Remote::new(url, self.ca_cert.as_deref()))
            .transpose()
    }

    /// The ledger directory, or an error saying how to name one.
    pub fn ledger_dir(&self) -> Result<&Path> {
        self.ledger
            .as_deref()
            .ok_or_else(|| anyhow!("no ledger given: use --ledger DIR or set ACCORD_LEDGER"))
    }

    /// The ledger, when one is at hand: `--ledger` given and holding a ledger. `None` when
    /// no ledger is named or the directory holds none; other failures (in use, corrupt) are
    /// errors.
    pub fn ledger_at_hand(&self) -> Result<Option<Ledger>> {
        let Some(dir) = self.ledger.as_deref() else {
            return Ok(None);
        };
        match Ledger::open_with(dir, self.wait) {
            Ok(l) => {
                note_quarantine(&l);
                Ok(Some(l))
            }
            Err(accord_ledger::LedgerError::NotALedger(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens the ledger.
    pub fn open(&self) -> Result<Ledger> {
        let dir = self.ledger_dir()?;
        let ledger = Ledger::open_with(dir, self.wait)?;
        note_quarantine(&ledger);
        Ok(ledger)
    }
}

/// Tells the operator when opening set unreadable sled snapshots aside.
pub fn note_quarantine(ledger: &Ledger) {
    if let Some(q) = ledger.quarantined_snapshots() {
        eprintln!(
            "note: sled's snapshot could not be read and was moved to {}; the database was \
             recovered from its log and matches the acknowledged head. Run `accord verify` to \
             re-check everything.",
            q.display()
        );
    }
}

/// Largest input file read whole (JSON documents, bundles).
pub const MAX_INPUT: u64 = 256 * 1024 * 1024;

/// Largest key, member or passphrase file.
pub const MAX_SMALL_FILE: u64 = 64 * 1024;

/// Reads a whole file, never more than `limit` bytes. The limit is enforced on the bytes
/// read, not on the size the file system reports: a FIFO, a pipe (`/dev/stdin`) or a
/// device (`/dev/zero`) reports no size and could otherwise grow memory without end. A
/// regular file that says it is too large is refused before any byte is read.
pub fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let too_large = || {
        anyhow!(
            "{} is larger than {limit} bytes, the limit for this input",
            path.display()
        )
    };
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.is_dir() {
            bail!("cannot read {}: it is a directory", path.display());
        }
        if meta.is_file() && meta.len() > limit {
            return Err(too_large());
        }
    }
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Where a command writes its output: stdout for "-"; an existing device, FIFO or socket
/// (`/dev/null`, `/dev/stdout`, a pipe) written in place; otherwise a temporary file beside
/// the target, synced and renamed over it only once complete, so that a failed export never
/// leaves a half-written file under the name asked for. Renaming over `/dev/null` would
/// replace the device with a regular file, which is why special files are never renamed over.
pub struct Output {
    sink: Sink,
    /// (temporary file, target) while the output is a temporary file.
    pending: Option<(PathBuf, PathBuf)>,
}

enum Sink {
    Stdout(std::io::BufWriter<std::io::Stdout>),
    File(std::io::BufWriter<std::fs::File>),
    Done,
}

impl Output {
    /// Opens `path` for writing.
    pub fn create(path: &Path) -> Result<Self> {
        if path == Path::new("-") {
            return Ok(Output {
                sink: Sink::Stdout(std::io::BufWriter::new(std::io::stdout())),
                pending: None,
            });
        }
        let special = std::fs::metadata(path)
            .map(|m| !m.is_file() && !m.is_dir())
            .unwrap_or(false);
        if special {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            return Ok(Output {
                sink: Sink::File(std::io::BufWriter::new(f)),
                pending: None,
            });
        }
        let mut name = path
            .file_name()
            .map(|n| n.to_os_string())
            .ok_or_else(|| anyhow!("{} is not a file name", path.display()))?;
        name.push(format!(".{}.tmp", std::process::id()));
        let tmp = path.with_file_name(name);
        let f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        Ok(Output {
            sink: Sink::File(std::io::BufWriter::new(f)),
            pending: Some((tmp, path.to_path_buf())),
        })
    }

    /// Flushes, syncs a temporary file and moves it into place.
    pub fn finish(mut self) -> Result<()> {
        match std::mem::replace(&mut self.sink, Sink::Done) {
            Sink::Stdout(mut w) => w.flush()?,
            Sink::File(w) => {
                let f = w
                    .into_inner()
                    .map_err(|e| anyhow!("cannot write output: {}", e.error()))?;
                if let Some((tmp, path)) = self.pending.take() {
                    f.sync_all()
                        .with_context(|| format!("cannot write {}", tmp.display()))?;
                    drop(f);
                    if let Err(e) = std::fs::rename(&tmp, &path) {
                        let _ = std::fs::remove_file(&tmp);
                        return Err(e).with_context(|| format!("cannot write {}", path.display()));
                    }
                }
            }
            Sink::Done => {}
        }
        Ok(())
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.sink {
            Sink::Stdout(w) => w.write(buf),
            Sink::File(w) => w.write(buf),
            Sink::Done => Err(std::io::Error::other("output already finished")),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.sink {
            Sink::Stdout(w) => w.flush(),
            Sink::File(w) => w.flush(),
            Sink::Done => Ok(()),
        }
    }
}

impl Drop for Output {
    /// An output never finished (an error on the way) leaves no temporary file behind.
    fn drop(&mut self) {
        if let Some((tmp, _)) = self.pending.take() {
            self.sink = Sink::Done;
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// Writes a whole file through an [`Output`].
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut out = Output::create(path)?;
    out.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    out.finish()
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
        let value = accord_core::json::parse(&bytes)
            .with_context(|| format!("{} is not a JSON document", path.display()))?;
        let enveloped = ["payloadType", "payload", "signatures"]
            .iter()
            .any(|k| value.get(k).is_some());
        if enveloped && value.get("payloadType").is_none() {
            bail!(
                "{} is a malformed DSSE envelope: missing `payloadType`",
                path.display()
            );
        }
        if enveloped {
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

/// Member ids joined for a message.
pub fn list_ids<'a>(ids: impl IntoIterator<Item = &'a accord_core::model::MemberId>) -> String {
    let v: Vec<&str> = ids.into_iter().map(|m| m.as_str()).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Parses a YYYY-MM-DD flag.
pub fn parse_day(flag: &str, s: &str) -> Result<time::Date> {
    let d = accord_core::model::Date::parse(s).map_err(|e| {
        let e = e.to_string();
        if e.contains("YYYY-MM-DD") {
            anyhow!("--{flag}: {e}")
        } else {
            anyhow!("--{flag}: {e}; expected YYYY-MM-DD")
        }
    })?;
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
    let kind = match &f.kind {
        Some(k) => Some(
            accord_core::figures::parse_kind(k)
                .ok_or_else(|| {
                    anyhow!(
                        "--kind {k:?}: expected one of {} (or with '-' for '_')",
                        accord_core::model::commitment::MEASURE_KINDS.join(", ")
                    )
                })?
                .to_owned(),
        ),
        None => None,
    };
    Ok(Filter {
        member: f.member.clone(),
        country: f.country.clone(),
        kind,
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
