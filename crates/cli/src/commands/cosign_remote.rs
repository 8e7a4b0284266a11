//! `accord --server URL cosign --key KEY`: a member cosigns a service's checkpoint only after
//! checking it, from the published tiles, against what it cosigned before:
//!
//! 1. fetch `/checkpoint` and every entry bundle its size needs (c2sp.org/tlog-tiles);
//! 2. recompute the tree from the leaves: its root must be the checkpoint's, and at the size
//!    last cosigned it must be the root cosigned then;
//! 3. check the service's consistency proof from that size too (RFC 9162 2.1.4.2);
//! 4. replay governance from the charter (whose hash must be the one recorded at the first
//!    cosignature) and check every entry's strict signatures that is new since then; the
//!    log's signature on the checkpoint under the charter's log key; this key is the member's
//!    current key;
//! 5. only then sign the cosignature/v1 line, POST it, and record the checkpoint in
//!    `KEY.cosigned` (origin, charter hash, size, root).

use std::path::PathBuf;

use accord_core::checkpoint::SignedCheckpoint;
use accord_core::entry::LoggedEntry;
use accord_core::governance::State;
use accord_core::keys::KeyPair;
use accord_core::log::{self, Frontier, Hash};
use accord_core::tiles::{self, TileId, WIDTH};
use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{read_file, write_file, Ctx, MAX_SMALL_FILE};
use crate::cli::CosignArgs;
use crate::client::Remote;
use crate::output::{self, outln};
use crate::Verdict;

/// What a member last cosigned, kept beside its key.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cosigned {
    origin: String,
    charter_hash: String,
    tree_size: u64,
    root: String,
}

fn state_path(key: &std::path::Path) -> PathBuf {
    let mut p = key.as_os_str().to_owned();
    p.push(".cosigned");
    PathBuf::from(p)
}

fn refuse(why: impl std::fmt::Display) -> anyhow::Error {
    Verdict(format!("refusing to cosign: {why}")).into()
}

/// Fetches the `size` leaves of the published tree from its entry bundles.
fn leaves(r: &Remote, size: u64) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut n = 0u64;
    while (out.len() as u64) < size {
        let width = (size - out.len() as u64).min(u64::from(WIDTH)) as u32;
        let id = TileId::entries(n, width);
        let bytes = r.get(&format!("/{id}"))?;
        let entries = tiles::bundle_entries(&bytes).map_err(|e| refuse(format!("{id}: {e}")))?;
        if entries.len() != width as usize {
            return Err(refuse(format!(
                "{id} holds {} entries, not {width}",
                entries.len()
            )));
        }
        out.extend(entries.into_iter().map(<[u8]>::to_vec));
        n += 1;
    }
    Ok(out)
}

/// `accord --server URL cosign`.
pub fn cosign(ctx: &Ctx, r: &Remote, a: &CosignArgs, key: &KeyPair) -> Result<()> {
    let id: accord_core::model::MemberId = key.name().parse().map_err(|_| {
        Verdict(format!(
            "refusing to cosign: {} is the key of {:?}, not a member's key",
            a.key.display(),
            key.name()
        ))
    })?;
    let path = state_path(&a.key);
    let before: Option<Cosigned> = if path.exists() {
        let bytes = read_file(&path, MAX_SMALL_FILE)?;
        Some(
            accord_core::json::from_slice(&bytes)
                .with_context(|| format!("{} is not a cosign state file", path.display()))?,
        )
    } else {
        None
    };
    let note_bytes = r.get("/checkpoint")?;
    let note = SignedCheckpoint::from_bytes(&note_bytes)
        .map_err(|e| refuse(format!("the served checkpoint does not parse: {e}")))?;
    let cp = note.checkpoint().clone();
    let size = cp.size();
    let old_size = before.as_ref().map_or(0, |b| b.tree_size);
    if size < old_size {
        return Err(refuse(format!(
            "the served checkpoint has {size} entries, fewer than the {old_size} cosigned before (a rollback)"
        )));
    }
    if size == 0 {
        return Err(refuse("the checkpoint is of an empty tree"));
    }

    let pb = output::progress(Some(size), "verify");
    let leaves = leaves(r, size)?;
    let mut frontier = Frontier::new();
    let mut old_root = None;
    let mut state: Option<State> = None;
    let mut charter_hash = String::new();
    let mut last_governance = 0u64;
    for (i, leaf) in leaves.iter().enumerate() {
        let i = i as u64;
        let at = |why: String| refuse(format!("entry {i}: {why}"));
        let entry = LoggedEntry::from_leaf(leaf).map_err(|e| at(e.to_string()))?;
        if entry.index != i {
            return Err(at(format!("its leaf says index {}", entry.index)));
        }
        let is_new = i >= old_size;
        match &mut state {
            None => {
                let auth = State::check_charter(&entry.envelope).map_err(|e| at(e.to_string()))?;
                if is_new {
                    auth.verify().map_err(|e| at(e.to_string()))?;
                }
                charter_hash = hex::encode(Sha256::digest(&entry.envelope.payload));
                state = Some(State::genesis(&auth).map_err(|e| at(e.to_string()))?);
            }
            Some(s) => {
                if entry.governance != last_governance {
                    return Err(at(format!(
                        "it points at governance entry {}, not {last_governance}",
                        entry.governance
                    )));
                }
                let auth = s.check(i, &entry.envelope).map_err(|e| at(e.to_string()))?;
                if is_new {
                    auth.verify().map_err(|e| at(e.to_string()))?;
                }
                if auth.payload().body.is_governance() {
                    last_governance = i;
                }
                if !s.commit(&auth) {
                    return Err(at("out of order".into()));
                }
            }
        }
        frontier.push(log::leaf_hash(leaf));
        if frontier.size() == old_size {
            old_root = Some(frontier.root());
        }
        pb.set_position(i + 1);
    }
    pb.finish_and_clear();
    let state = state.ok_or_else(|| refuse("the tree has no charter"))?;
    if !frontier.root().ct_eq(cp.root()) {
        return Err(refuse(
            "the entries served do not hash to the checkpoint's root",
        ));
    }
    if cp.origin() != state.origin() {
        return Err(refuse(format!(
            "the checkpoint is for {:?}, the charter for {:?}",
            cp.origin(),
            state.origin()
        )));
    }
    let log_key = state.log_key();
    note.verify_log(log_key.name(), log_key.verifying_key())
        .map_err(|e| refuse(format!("the checkpoint's log signature: {e}")))?;
    if let Some(b) = &before {
        if b.charter_hash != charter_hash || b.origin != cp.origin() {
            return Err(refuse(format!(
                "the served ledger's charter {charter_hash} is not the one cosigned before ({})",
                b.charter_hash
            )));
        }
        let recorded =
            Hash::from_base64(&b.root).map_err(|e| anyhow!("{}: bad root: {e}", path.display()))?;
        if !old_root.is_some_and(|r| r.ct_eq(&recorded)) {
            return Err(refuse(format!(
                "the tree at size {old_size} is not the one cosigned before (a fork)"
            )));
        }
        if old_size < size {
            let p = r.get_json(&format!(
                "/api/v1/proof/consistency?from={old_size}&to={size}"
            ))?;
            let proof = p["proof"]
                .as_array()
                .ok_or_else(|| refuse("the consistency proof has no proof"))?
                .iter()
                .map(|h| {
                    h.as_str()
                        .ok_or_else(|| refuse("a proof hash is not a string"))
                        .and_then(|h| Hash::from_base64(h).map_err(refuse))
                })
                .collect::<Result<Vec<_>>>()?;
            log::verify_consistency(old_size, size, &recorded, cp.root(), &proof).map_err(|e| {
                refuse(format!(
                    "no consistency from the checkpoint cosigned before: {e}"
                ))
            })?;
        }
    }
    let current = state
        .current_key(&id)
        .ok_or_else(|| refuse(format!("{id} is not an active member with a usable key")))?;
    if key.verifier().ok().as_ref() != Some(current) {
        return Err(refuse(format!(
            "the key given is not {id}'s current key {}",
            current.keyid()
        )));
    }

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let line = note
        .cosignature_line(id.as_str(), key.signing_key(), now)
        .map_err(|e| anyhow!("cannot make the cosignature: {e}"))?;
    let body = json!({"checkpoint": String::from_utf8_lossy(note.text()),
        "cosignature": String::from_utf8_lossy(&line)});
    let v = r.post_json("/api/v1/cosignatures", serde_json::to_vec(&body)?)?;
    let record = Cosigned {
        origin: cp.origin().to_owned(),
        charter_hash,
        tree_size: size,
        root: cp.root().to_base64(),
    };
    let mut bytes = serde_json::to_vec_pretty(&record)?;
    bytes.push(b'\n');
    write_file(&path, &bytes)?;
    if ctx.json {
        return output::json(&v);
    }
    let cosigners: Vec<String> = v["cosigners"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    outln!(
        "{} verified {} entries and cosigned checkpoint {}; cosigners: {}",
        id,
        size,
        v["seq"],
        cosigners.join(", ")
    )?;
    Ok(())
}
