//! Exports: JSON Lines (one object per entry), CSV (one row per commitment, or per version), and the
//! audit bundle (see `accord_core::bundle`).

use std::collections::BTreeSet;
use std::io::{BufRead, Read, Write};

use accord_core::bundle::{Bundle, BundleEntry, BUNDLE_FORMAT};
use accord_core::envelope::Envelope;
use accord_core::log::Hash;
use accord_core::model::{Body, Terms, Timestamp};
use base64::prelude::*;
use serde_json::{json, Value};

use crate::error::LedgerError;
use crate::ledger::{ImportItem, Ledger, StoredEntry};
use crate::query::Filter;

fn io(e: std::io::Error) -> LedgerError {
    LedgerError::Io {
        path: "export output".into(),
        source: e,
    }
}

/// The members of a JSON Lines export line, in the order they are written
/// (docs/FORMAT.md section 10). Only `envelope` is signed; `index` and `logged_at` are what
/// the ledger added to the leaf; the rest are unsigned copies that [`parse_jsonl_line`]
/// checks against the signed entry.
pub const JSONL_MEMBERS: [&str; 7] = [
    "index",
    "id",
    "type",
    "leaf_hash",
    "logged_at",
    "envelope",
    "payload",
];

/// The JSON Lines object for one entry: `index`, `id`, `type`, `leaf_hash` (base64),
/// `logged_at`, `envelope` (as logged) and `payload` (decoded from the envelope).
/// [`parse_jsonl_line`] is its inverse.
pub fn jsonl_object(e: &StoredEntry) -> Value {
    let payload: Value = accord_core::json::parse(&e.entry.envelope.payload).unwrap_or(Value::Null);
    json!({
        "index": e.index,
        "id": e.payload.id.as_str(),
        "type": e.payload.body.type_name(),
        "leaf_hash": e.leaf_hash.to_base64(),
        "logged_at": e.entry.logged_at.as_str(),
        "envelope": e.entry.envelope.to_value(),
        "payload": payload,
    })
}

/// Why a line of an import file is refused before any ledger looks at its entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// Not one JSON value, or a member name repeated at some depth.
    #[error("not valid JSON: {0}")]
    Json(String),
    /// Neither an envelope nor an export object.
    #[error("not a JSON object")]
    NotAnObject,
    /// An export line without one of its members.
    #[error("export line without its {0:?} member")]
    Missing(&'static str),
    /// An export line with a member the format does not have.
    #[error("export line with an unknown member {0:?}")]
    Unknown(String),
    /// A member of the wrong type or form.
    #[error("member {member:?}: {why}")]
    Invalid {
        /// The member.
        member: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The signed envelope does not decode.
    #[error("member \"envelope\": {0}")]
    Envelope(String),
    /// An unsigned copy that says something else than the signed entry.
    #[error("member {0:?} disagrees with the signed entry it accompanies")]
    Disagrees(&'static str),
}

/// What an export line says the entry's place in the log was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restore {
    /// The entry's index.
    pub index: u64,
    /// The ledger's time for it.
    pub logged_at: Timestamp,
    /// The leaf hash the line claims; the import checks the leaf it rebuilds against it.
    pub leaf_hash: Hash,
    /// The leaf itself with its governance pointer, when the source is a leaf another
    /// ledger logged ([`crate::LoggedLeaf`], checked canonical by
    /// [`accord_core::entry::LoggedEntry::from_leaf`]): the import takes it as the rebuilt
    /// leaf when its own pointer is the same, instead of rebuilding it in its sequential
    /// pass. Set only by that conversion, so it is always this item's leaf.
    pub(crate) logged: Option<(u64, Vec<u8>)>,
}

impl Restore {
    /// An entry's place in the log, as an export line says it.
    pub fn new(index: u64, logged_at: Timestamp, leaf_hash: Hash) -> Self {
        Self {
            index,
            logged_at,
            leaf_hash,
            logged: None,
        }
    }
}

/// Parses one import line: a bare DSSE envelope (a new entry) or a JSON Lines export object
/// as [`jsonl_object`] writes it. The line is read with [`accord_core::json::parse`], so a
/// member name repeated at any depth is refused. An export object must have exactly the
/// members of [`JSONL_MEMBERS`], and its unsigned copies must agree with the signed
/// envelope: `payload` is the envelope's payload as JSON, `id` and `type` are the payload's
/// own. `leaf_hash` is checked by [`crate::Ledger::import`], which knows the rest of the
/// leaf (the governance pointer).
///
/// # Errors
/// [`LineError`] naming the member at fault.
pub fn parse_jsonl_line(line: &[u8]) -> Result<ImportItem, LineError> {
    let v = accord_core::json::parse(line).map_err(|e| LineError::Json(e.to_string()))?;
    let Value::Object(mut m) = v else {
        return Err(LineError::NotAnObject);
    };
    if !m.contains_key("envelope") {
        let envelope = Envelope::from_value(Value::Object(m))
            .map_err(|e| LineError::Envelope(e.to_string()))?;
        return Ok(ImportItem {
            envelope,
            restore: None,
        });
    }
    if let Some(k) = m.keys().find(|k| !JSONL_MEMBERS.contains(&k.as_str())) {
        return Err(LineError::Unknown(k.clone()));
    }
    let mut take = |member: &'static str| m.remove(member).ok_or(LineError::Missing(member));
    let index = take("index")?;
    let id = take("id")?;
    let ty = take("type")?;
    let leaf_hash = take("leaf_hash")?;
    let logged_at = take("logged_at")?;
    let envelope = take("envelope")?;
    let payload = take("payload")?;
    let invalid = |member: &'static str, why: &str| LineError::Invalid {
        member,
        why: why.to_owned(),
    };
    let index = index
        .as_u64()
        .ok_or_else(|| invalid("index", "not a whole number"))?;
    let logged_at = logged_at
        .as_str()
        .ok_or_else(|| invalid("logged_at", "not a string"))
        .and_then(|t| {
            Timestamp::parse(t).map_err(|e| LineError::Invalid {
                member: "logged_at",
                why: e.to_string(),
            })
        })?;
    let leaf_hash = leaf_hash
        .as_str()
        .ok_or_else(|| invalid("leaf_hash", "not a string"))
        .and_then(|h| {
            Hash::from_base64(h).map_err(|e| LineError::Invalid {
                member: "leaf_hash",
                why: e.to_string(),
            })
        })?;
    let envelope =
        Envelope::from_value(envelope).map_err(|e| LineError::Envelope(e.to_string()))?;
    let signed = accord_core::json::parse(&envelope.payload).unwrap_or(Value::Null);
    if payload != signed {
        return Err(LineError::Disagrees("payload"));
    }
    if signed.get("id") != Some(&id) {
        return Err(LineError::Disagrees("id"));
    }
    if signed.get("type") != Some(&ty) {
        return Err(LineError::Disagrees("type"));
    }
    Ok(ImportItem {
        envelope,
        restore: Some(Restore::new(index, logged_at, leaf_hash)),
    })
}

/// The longest import line accepted: an export line of the largest envelope with its
/// payload copy, escaped, fits well within it.
pub const MAX_LINE_BYTES: usize = 4 * accord_core::envelope::MAX_ENVELOPE_BYTES;

/// Why an import file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// A line longer than [`MAX_LINE_BYTES`] (it is not read to its end).
    #[error("line {line} is longer than {MAX_LINE_BYTES} bytes")]
    TooLong {
        /// The line's number, from 1.
        line: u64,
    },
    /// The reader failed.
    #[error("line {line}: {source}")]
    Io {
        /// The line's number, from 1.
        line: u64,
        /// The error.
        source: std::io::Error,
    },
}

/// The non-blank lines of an import file, each with its number (from 1), read with a bound:
/// no line makes it hold more than [`MAX_LINE_BYTES`] (+1) bytes, so an endless input such as
/// `/dev/zero` is refused instead of exhausting memory. The first error ends the iteration.
pub fn bounded_lines<R: BufRead>(reader: R) -> BoundedLines<R> {
    BoundedLines {
        reader,
        line: 0,
        done: false,
    }
}

/// The iterator of [`bounded_lines`].
pub struct BoundedLines<R> {
    reader: R,
    line: u64,
    done: bool,
}

impl<R: BufRead> Iterator for BoundedLines<R> {
    type Item = Result<(u64, Vec<u8>), ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.line += 1;
            let mut buf = Vec::new();
            let limit = MAX_LINE_BYTES as u64 + 1;
            let read = (&mut self.reader).take(limit).read_until(b'\n', &mut buf);
            match read {
                Err(source) => {
                    self.done = true;
                    return Some(Err(ReadError::Io {
                        line: self.line,
                        source,
                    }));
                }
                Ok(0) => self.done = true,
                Ok(_) => {
                    if buf.last() == Some(&b'\n') {
                        buf.pop();
                        if buf.last() == Some(&b'\r') {
                            buf.pop();
                        }
                    }
                    if buf.len() > MAX_LINE_BYTES {
                        self.done = true;
                        return Some(Err(ReadError::TooLong { line: self.line }));
                    }
                    if buf.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    return Some(Ok((self.line, buf)));
                }
            }
        }
        None
    }
}

impl Ledger {
    /// The indexes of the entries a filter selects: the full history of every commitment
    /// that passes, in log order; with an empty filter, every entry.
    ///
    /// # Errors
    /// Store failures.
    pub fn select(&self, filter: &Filter, all: bool) -> Result<Vec<u64>, LedgerError> {
        if all {
            return Ok((0..self.size()).collect());
        }
        let mut out = BTreeSet::new();
        for v in self.commitments(filter)? {
            out.extend(v.history.iter().copied());
        }
        Ok(out.into_iter().collect())
    }

    /// Writes JSON Lines for the selected entries (all when `indexes` is `None`). Returns the
    /// number of lines.
    ///
    /// # Errors
    /// Store or write failures.
    pub fn export_jsonl(
        &self,
        out: &mut dyn Write,
        indexes: Option<&[u64]>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, LedgerError> {
        use rayon::prelude::*;
        // Blocks of entries are read in order, decoded and rendered on all cores, and written
        // in order: the output is the same as one entry at a time.
        const BLOCK: usize = 1024;
        let mut n = 0u64;
        let mut emit = |lines: Vec<Result<Vec<u8>, LedgerError>>| -> Result<(), LedgerError> {
            for line in lines {
                out.write_all(&line?).map_err(io)?;
                n += 1;
                if n % 4096 == 0 {
                    progress(n);
                }
            }
            Ok(())
        };
        let render = |e: Result<StoredEntry, LedgerError>| -> Result<Vec<u8>, LedgerError> {
            let mut line = serde_json::to_vec(&jsonl_object(&e?)).map_err(|e| io(e.into()))?;
            line.push(b'\n');
            Ok(line)
        };
        match indexes {
            None => {
                let mut leaves = self.raw_leaves(0);
                loop {
                    let block: Vec<_> = leaves.by_ref().take(BLOCK).collect();
                    if block.is_empty() {
                        break;
                    }
                    emit(
                        block
                            .into_par_iter()
                            .map(|item| render(item.and_then(|(i, leaf)| self.decode(i, leaf))))
                            .collect(),
                    )?;
                }
            }
            Some(list) => {
                for chunk in list.chunks(BLOCK) {
                    emit(chunk.par_iter().map(|&i| render(self.entry(i))).collect())?;
                }
            }
        }
        progress(n);
        Ok(n)
    }

    /// Writes CSV (docs/FORMAT.md section 10.3): one row per commitment with its current
    /// terms, or with `versions` one row per version (creation and each amendment), the
    /// current one flagged. Figures come from `accord_core::figures`, as everywhere else.
    ///
    /// # Errors
    /// Store or write failures.
    pub fn export_csv(
        &self,
        out: &mut dyn Write,
        filter: &Filter,
        versions: bool,
    ) -> Result<u64, LedgerError> {
        let mut w = csv::Writer::from_writer(out);
        let csv_err = |e: csv::Error| io(std::io::Error::other(e.to_string()));
        w.write_record(CSV_HEADER).map_err(csv_err)?;
        let day = filter.day();
        let mut rows = 0u64;
        for v in self.commitments(filter)? {
            let status = v.status_on(day).as_str();
            let parties: Vec<&str> = v.parties.iter().map(|p| p.as_str()).collect();
            let chosen: Vec<&accord_core::lifecycle::VersionRef> = if versions {
                v.versions.iter().collect()
            } else {
                v.versions.last().into_iter().collect()
            };
            let toward = v.toward.as_ref();
            for vr in chosen {
                let e = self.entry(vr.index)?;
                let terms: &Terms = match &e.payload.body {
                    Body::Commitment(c) => &c.terms,
                    Body::Amend(a) => &a.terms,
                    other => {
                        return Err(crate::ledger::corrupt(
                            format!("version {} of {}", vr.version, v.id),
                            format!("entry {} is a {}", vr.index, other.type_name()),
                        ))
                    }
                };
                let current = vr.version == v.version;
                let fig = terms.measure.figure();
                let sources: Vec<&str> = terms.sources.iter().map(|s| s.url.as_str()).collect();
                let signers: Vec<&str> = e
                    .entry
                    .envelope
                    .signatures
                    .iter()
                    .map(|s| s.keyid.split('+').next().unwrap_or(""))
                    .collect();
                let stage = serde_json::to_value(terms.stage)
                    .ok()
                    .and_then(|s| s.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let opt = |x: Option<String>| x.unwrap_or_default();
                w.write_record([
                    v.id.as_str(),
                    &vr.version.to_string(),
                    if current { "true" } else { "false" },
                    if current { status } else { "superseded" },
                    v.kind,
                    terms.title.as_str(),
                    &parties.join(";"),
                    terms.commodity.as_str(),
                    &stage,
                    terms.effective.from.as_str(),
                    terms.effective.until.as_ref().map_or("", |d| d.as_str()),
                    &opt(fig.as_ref().map(|f| f.amount.clone())),
                    &opt(fig.as_ref().and_then(|f| f.currency.clone())),
                    &opt(fig.as_ref().and_then(|f| f.unit.clone())),
                    &terms.measure.headline(),
                    &opt(toward
                        .filter(|_| current)
                        .map(|t| t.metric.as_str().to_owned())),
                    &opt(toward.filter(|_| current).map(|t| t.so_far.clone())),
                    &opt(toward
                        .filter(|_| current)
                        .and_then(|t| t.share_percent.clone())),
                    &vr.index.to_string(),
                    e.payload.id.as_str(),
                    e.payload.body.type_name(),
                    vr.signed_at.as_str(),
                    vr.logged_at.as_str(),
                    vr.reason.as_ref().map_or("", |r| r.as_str()),
                    &v.created_index.to_string(),
                    v.created_logged_at.as_str(),
                    &opt(v.withdrawn_index.map(|i| i.to_string())),
                    v.withdrawn_logged_at.as_ref().map_or("", |t| t.as_str()),
                    v.withdrawal_reason.as_ref().map_or("", |r| r.as_str()),
                    terms.instrument.as_str(),
                    &signers.join(";"),
                    &sources.join(" "),
                    &e.leaf_hash.to_base64(),
                ])
                .map_err(csv_err)?;
                rows += 1;
            }
        }
        w.flush().map_err(io)?;
        Ok(rows)
    }

    /// An audit bundle of the selected entries plus entry 0, the creation of every
    /// commitment a selected lifecycle entry refers to, the checkpoint's last entry and every
    /// governance entry before it, each with an inclusion proof against the latest checkpoint
    /// (which must cover them).
    ///
    /// # Errors
    /// [`LedgerError::NotFound`] if no checkpoint was issued; store failures.
    pub fn export_bundle(&self, selected: &[u64]) -> Result<Bundle, LedgerError> {
        let cp = self.latest_checkpoint()?.ok_or_else(|| {
            LedgerError::NotFound(
                "checkpoint (issue one with `accord checkpoint --log-key`)".into(),
            )
        })?;
        let size = cp.note.checkpoint().size();
        let mut wanted: BTreeSet<u64> = selected.iter().copied().filter(|&i| i < size).collect();
        if selected.iter().any(|&i| i >= size) {
            return Err(LedgerError::OutOfRange(format!(
                "some selected entries are newer than the latest checkpoint (size {size}); issue a new checkpoint first"
            )));
        }
        wanted.insert(0);
        // The tree's last entry, and the governance chain back from it: the bundle then
        // shows the governance state as of the checkpoint's size, which is what its
        // cosignatures are judged by (docs/FORMAT.md section 9).
        let Some(last) = size.checked_sub(1) else {
            return Err(LedgerError::OutOfRange(
                "the latest checkpoint covers no entries".into(),
            ));
        };
        wanted.insert(last);
        let e = self.entry(last)?;
        let mut g = if e.payload.body.is_governance() {
            last
        } else {
            e.entry.governance
        };
        while g > 0 {
            wanted.insert(g);
            g = self.entry(g)?.entry.governance;
        }
        // A lifecycle entry is authorised against its commitment: include the creation.
        let lifecycle: Vec<u64> = wanted.iter().copied().collect();
        for i in lifecycle {
            let e = self.entry(i)?;
            if let Some(target) = e.payload.body.commitment_id(&e.payload.id) {
                if target != e.payload.id {
                    if let Some(c) = self.index_of(&target)? {
                        wanted.insert(c);
                    }
                }
            }
        }
        let mut entries = Vec::with_capacity(wanted.len());
        for i in wanted {
            let e = self.entry(i)?;
            let proof = self.inclusion_proof(i, Some(size))?;
            entries.push(BundleEntry {
                index: i,
                leaf: BASE64_STANDARD.encode(&e.leaf),
                proof: proof.proof,
            });
        }
        Ok(Bundle {
            format: BUNDLE_FORMAT.to_owned(),
            origin: self.origin().to_owned(),
            log_key: self.log_key().to_string(),
            charter_hash: hex::encode(self.charter_hash()),
            checkpoint: String::from_utf8_lossy(&cp.note.to_bytes()).into_owned(),
            entries,
        })
    }
}

/// CSV columns (docs/FORMAT.md section 10.3).
pub const CSV_HEADER: [&str; 33] = [
    "commitment_id",
    "version",
    "current",
    "status",
    "kind",
    "title",
    "parties",
    "commodity",
    "stage",
    "effective_from",
    "effective_until",
    "amount",
    "currency",
    "unit",
    "figure",
    "progress_metric",
    "progress_so_far",
    "progress_share_percent",
    "entry_index",
    "entry_id",
    "entry_type",
    "signed_at",
    "logged_at",
    "amend_reason",
    "created_index",
    "created_logged_at",
    "withdrawn_index",
    "withdrawn_logged_at",
    "withdrawal_reason",
    "instrument",
    "signers",
    "sources",
    "leaf_hash",
];
