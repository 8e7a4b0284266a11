//! `accord watch`: a monitor for one member, and the signing journal `accord sign` keeps.
//!
//! Each run reads the log from where the last run stopped (the position, the tree's frontier
//! and the member's keys are kept in the state file, docs/FORMAT.md "Watch state"), up to the
//! latest checkpoint, whose log signature is checked and whose root must be the root of the
//! leaves read (so what was read is what the log signed, and consistent with what earlier runs
//! read). It reports, one finding per line (one JSON object with `--json`):
//!
//! - `party`: an entry naming the member as a party (a commitment, or an amendment, progress
//!   report or withdrawal of one of its commitments);
//! - `signed`: an entry carrying a signature by one of the member's keys, current or former,
//!   that one of its journals records;
//! - `alert`: a signature by one of its keys that no journal records: exit 1, with what to do;
//! - `governance`: its admission, removal, key rotation or key revocation;
//! - `stale_checkpoint`: an entry not covered by the latest checkpoint was logged more than
//!   `--max-checkpoint-age` seconds ago.
//!
//! The state moves only after a run read everything up to the checkpoint, so an interrupted
//! run is repeated in full next time, and findings already reported are not reported again.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use accord_core::checkpoint::SignedCheckpoint;
use accord_core::entry::LoggedEntry;
use accord_core::envelope::Envelope;
use accord_core::keys::VerifierKey;
use accord_core::log::{leaf_hash, Frontier, Hash};
use accord_core::model::{Body, MemberId, Payload};
use accord_core::tiles::{bundle_entries, TileId, WIDTH};
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{read_file, write_file, Ctx};
use crate::cli::WatchArgs;
use crate::output::outln;
use crate::Verdict;

/// The `format` member of a journal line.
pub const JOURNAL_FORMAT: &str = "accord-journal/1";
/// The `format` member of the watch state.
pub const WATCH_FORMAT: &str = "accord-watch/1";
/// The largest journal or state file read.
const MAX_JOURNAL: u64 = 256 << 20;

/// One line of a signing journal.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalLine {
    /// [`JOURNAL_FORMAT`].
    pub format: String,
    /// The ledger origin the payload names.
    pub ledger: String,
    /// The entry id.
    pub id: String,
    /// Lower-case hex SHA-256 of the payload bytes as signed.
    pub payload_sha256: String,
    /// The key that signed (`name+hash`).
    pub key: String,
    /// When it was signed, on this machine's clock.
    pub signed_at: String,
}

/// Appends a line for `payload` signed by `key` to `journal`, and syncs it.
pub fn record(journal: &Path, payload: &Payload, bytes: &[u8], key: &str) -> Result<()> {
    let line = JournalLine {
        format: JOURNAL_FORMAT.into(),
        ledger: payload.ledger.clone(),
        id: payload.id.to_string(),
        payload_sha256: hex::encode(Sha256::digest(bytes)),
        key: key.to_owned(),
        signed_at: accord_core::model::Timestamp::now().as_str().to_owned(),
    };
    let mut text = serde_json::to_vec(&line)?;
    text.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(journal)
        .with_context(|| format!("cannot open the journal {}", journal.display()))?;
    f.write_all(&text)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write the journal {}", journal.display()))
}

/// The payload hashes every journal records.
fn journaled(files: &[PathBuf]) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for f in files {
        let bytes = match std::fs::metadata(f) {
            Ok(_) => read_file(f, MAX_JOURNAL)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!("journal {} does not exist", f.display())
            }
            Err(e) => return Err(anyhow!("journal {}: {e}", f.display())),
        };
        for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let l: JournalLine = serde_json::from_slice(line)
                .with_context(|| format!("journal {} line {}", f.display(), n + 1))?;
            if l.format != JOURNAL_FORMAT {
                bail!(
                    "journal {} line {}: format {:?}, expected {JOURNAL_FORMAT}",
                    f.display(),
                    n + 1,
                    l.format
                );
            }
            out.insert(l.payload_sha256);
        }
    }
    Ok(out)
}

/// What the watch remembers between runs.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    format: String,
    member: String,
    size: u64,
    frontier: Vec<Hash>,
    log_key: Option<VerifierKey>,
    keys: Vec<VerifierKey>,
    commitments: BTreeSet<String>,
}

impl State {
    fn new(member: &str) -> Self {
        Self {
            format: WATCH_FORMAT.into(),
            member: member.to_owned(),
            size: 0,
            frontier: Vec::new(),
            log_key: None,
            keys: Vec::new(),
            commitments: BTreeSet::new(),
        }
    }
}

/// Where the leaves and the checkpoint come from.
enum Source {
    Local(Box<accord_ledger::Ledger>),
    Remote(crate::client::Remote),
}

impl Source {
    fn checkpoint(&self) -> Result<Option<SignedCheckpoint>> {
        match self {
            Source::Local(l) => Ok(l.latest_checkpoint()?.map(|c| c.note)),
            Source::Remote(r) => {
                let bytes = r.get("/checkpoint")?;
                Ok(Some(SignedCheckpoint::from_bytes(&bytes).map_err(|e| {
                    Verdict(format!("the log's /checkpoint is not a checkpoint: {e}"))
                })?))
            }
        }
    }

    /// Leaves `from..to`, in order.
    fn leaves(
        &self,
        from: u64,
        to: u64,
        out: &mut dyn FnMut(u64, Vec<u8>) -> Result<()>,
    ) -> Result<()> {
        match self {
            Source::Local(l) => {
                for e in l.entries(from).take((to - from) as usize) {
                    let e = e?;
                    out(e.index, e.leaf)?;
                }
            }
            Source::Remote(r) => {
                let w = u64::from(WIDTH);
                let mut n = from / w;
                while n * w < to {
                    let width = (to - n * w).min(w) as u32;
                    let id = TileId::entries(n, width);
                    let bytes = r.get(&format!("/{id}"))?;
                    let leaves = bundle_entries(&bytes)
                        .map_err(|e| Verdict(format!("{id}: not an entry bundle: {e}")))?;
                    if leaves.len() != width as usize {
                        return Err(Verdict(format!(
                            "{id}: {} entries, not {width}",
                            leaves.len()
                        ))
                        .into());
                    }
                    for (i, leaf) in leaves.into_iter().enumerate() {
                        let index = n * w + i as u64;
                        if index >= from {
                            out(index, leaf.to_vec())?;
                        }
                    }
                    n += 1;
                }
            }
        }
        Ok(())
    }

    /// When the first entry at or after `size` was logged, if the log shows one.
    fn first_uncovered(&self, size: u64) -> Result<Option<time::OffsetDateTime>> {
        match self {
            Source::Local(l) => match l.entries(size).next() {
                Some(e) => Ok(Some(e?.entry.logged_at.instant())),
                None => Ok(None),
            },
            Source::Remote(r) => {
                // The accord JSON API; a plain tlog-tiles server has none, and then nothing
                // beyond the checkpoint can be seen.
                let Ok(v) = r.get_json(&format!("/api/v1/entries?from={size}&limit=1")) else {
                    return Ok(None);
                };
                Ok(v.get(0)
                    .and_then(|e| e.get("logged_at"))
                    .and_then(Value::as_str)
                    .and_then(|s| accord_core::model::Timestamp::parse(s).ok())
                    .map(|t| t.instant()))
            }
        }
    }
}

struct Finding {
    kind: &'static str,
    index: u64,
    id: String,
    detail: String,
}

fn signed_by(env: &Envelope, key: &VerifierKey) -> bool {
    let pae = env.pae();
    env.signatures
        .iter()
        .any(|s| key.verify_strict(&pae, &s.sig))
}

/// `accord watch`.
pub fn watch(ctx: &Ctx, a: WatchArgs) -> Result<()> {
    let member: MemberId = a
        .member
        .parse()
        .map_err(|e| anyhow!("--member {:?}: {e}", a.member))?;
    let state_path = match (&a.state, a.journals.first()) {
        (Some(s), _) => s.clone(),
        (None, Some(j)) => PathBuf::from(format!("{}.watch", j.display())),
        (None, None) => bail!("give --state FILE, or a --journal (the state is kept beside it)"),
    };
    let known = journaled(&a.journals)?;
    let mut st = if state_path.exists() {
        let bytes = read_file(&state_path, MAX_JOURNAL)?;
        let st: State = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not an accord watch state", state_path.display()))?;
        if st.format != WATCH_FORMAT || st.member != member.as_str() {
            bail!(
                "{} is the state of a watch of {} ({}), not of {member}",
                state_path.display(),
                st.member,
                st.format
            );
        }
        st
    } else {
        State::new(member.as_str())
    };
    let source = match &a.from {
        Some(url) => Source::Remote(crate::client::Remote::new(url, ctx.ca_cert.as_deref())?),
        None => Source::Local(Box::new(ctx.open()?)),
    };
    let mut frontier = Frontier::from_hashes(st.size, &st.frontier)
        .map_err(|e| anyhow!("{}: corrupt frontier: {e}", state_path.display()))?;
    let Some(cp) = source.checkpoint()? else {
        bail!("the log has no checkpoint yet; nothing to watch");
    };
    let size = cp.checkpoint().size();
    if size < st.size {
        return Err(Verdict(format!(
            "the log's checkpoint is of size {size}, smaller than the {} entries watched before: \
             the log was rolled back or forked",
            st.size
        ))
        .into());
    }
    let mut findings = Vec::new();
    source.leaves(st.size, size, &mut |index, leaf| {
        if index != frontier.size() {
            return Err(Verdict(format!("leaf {index} out of order")).into());
        }
        frontier.push(leaf_hash(&leaf));
        let entry =
            LoggedEntry::from_leaf(&leaf).map_err(|e| Verdict(format!("entry {index}: {e}")))?;
        let payload = Payload::from_bytes(&entry.envelope.payload)
            .map_err(|e| Verdict(format!("entry {index}: {e}")))?;
        scan(
            &mut st,
            &member,
            &known,
            index,
            &entry.envelope,
            &payload,
            &mut findings,
        );
        Ok(())
    })?;
    let log_key = st
        .log_key
        .clone()
        .ok_or_else(|| anyhow!("the log has no charter at entry 0"))?;
    cp.verify_log(log_key.name(), log_key.verifying_key())
        .map_err(|e| Verdict(format!("the latest checkpoint: {e}")))?;
    if !cp.checkpoint().root().ct_eq(&frontier.root()) {
        return Err(Verdict(format!(
            "the latest checkpoint's root is not the root of the {size} entries read: the log \
             is not the one watched before (a fork or a rewrite)"
        ))
        .into());
    }
    if let Some(t) = source.first_uncovered(size)? {
        let age = time::OffsetDateTime::now_utc() - t;
        if age.whole_seconds() > a.max_checkpoint_age as i64 {
            findings.push(Finding {
                kind: "stale_checkpoint",
                index: size,
                id: String::new(),
                detail: format!(
                    "entry {size} was logged {}s ago and the latest checkpoint (size {size}) \
                     does not cover it; the log promised one within {}s",
                    age.whole_seconds(),
                    a.max_checkpoint_age
                ),
            });
        }
    }
    let alerts = findings.iter().filter(|f| f.kind == "alert").count();
    for f in &findings {
        if ctx.json {
            outln!(
                "{}",
                json!({"member": member.as_str(), "kind": f.kind, "index": f.index,
                       "id": f.id, "detail": f.detail})
            )?;
        } else {
            outln!("{} entry {} {}: {}", f.kind, f.index, f.id, f.detail)?;
        }
    }
    // The position moves only once the findings are out: a run that dies before this
    // point reports them again next time rather than never.
    st.size = size;
    st.frontier = frontier.hashes().to_vec();
    write_file(&state_path, &serde_json::to_vec_pretty(&st)?)?;
    if !ctx.json {
        outln!(
            "watched {member} up to entry {size}: {} finding(s), {alerts} alert(s)",
            findings.len()
        )?;
    }
    if alerts > 0 {
        return Err(Verdict(format!(
            "{alerts} signature(s) by {member}'s keys are in none of its journals; if {member} \
             did not make them, its key is compromised: revoke it now (`accord draft \
             revoke-key --member {member} ...`, signed by {member} or a threshold of members), \
             then rotate to a new key"
        ))
        .into());
    }
    Ok(())
}

/// The findings of one entry; learns the member's keys and commitments.
fn scan(
    st: &mut State,
    member: &MemberId,
    known: &BTreeSet<String>,
    index: u64,
    env: &Envelope,
    payload: &Payload,
    out: &mut Vec<Finding>,
) {
    let id = payload.id.to_string();
    let mut push = |kind, detail: String| {
        out.push(Finding {
            kind,
            index,
            id: id.clone(),
            detail,
        })
    };
    match &payload.body {
        Body::Charter(c) => {
            st.log_key = Some(c.log_key.clone());
            if let Some(m) = c.members.iter().find(|m| &m.id == member) {
                st.keys.push(m.key.clone());
                push(
                    "governance",
                    format!("founding member with key {}", m.key.keyid()),
                );
            }
        }
        Body::AdmitMember(x) if &x.member.id == member => {
            st.keys.push(x.member.key.clone());
            push(
                "governance",
                format!("admitted with key {}", x.member.key.keyid()),
            );
        }
        Body::RemoveMember(x) if &x.member == member => {
            push("governance", format!("removed: {}", x.reason));
        }
        Body::RotateKey(x) if &x.member == member => {
            st.keys.push(x.new_key.clone());
            push(
                "governance",
                format!("key rotated to {}", x.new_key.keyid()),
            );
        }
        Body::RevokeKey(x) if &x.member == member => {
            push(
                "governance",
                format!("key {} revoked: {}", x.key.keyid(), x.reason),
            );
        }
        Body::Commitment(c) if c.parties.contains(member) => {
            st.commitments.insert(id.clone());
            push(
                "party",
                format!("a new {} naming it as a party", payload.body.type_name()),
            );
        }
        Body::Amend(x) if st.commitments.contains(x.target.as_str()) => {
            push("party", format!("amends its commitment {}", x.target));
        }
        Body::Progress(x) if st.commitments.contains(x.target.as_str()) => {
            push("party", format!("progress on its commitment {}", x.target));
        }
        Body::Withdraw(x) if st.commitments.contains(x.target.as_str()) => {
            push("party", format!("withdraws its commitment {}", x.target));
        }
        _ => {}
    }
    let hash = hex::encode(Sha256::digest(&env.payload));
    for key in st.keys.iter().filter(|k| signed_by(env, k)) {
        if known.contains(&hash) {
            push(
                "signed",
                format!("signed with {} (in a journal)", key.keyid()),
            );
        } else {
            push(
                "alert",
                format!(
                    "signed with {}, but no journal records this payload (sha256 {hash})",
                    key.keyid()
                ),
            );
        }
    }
}
