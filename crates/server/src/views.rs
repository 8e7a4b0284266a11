//! The JSON documents accord prints and serves, built in one place so that `accord --json`
//! on a directory, the HTTP API and `accord --server` print the same bytes for the same
//! data. Every hash is standard base64 (docs/FORMAT.md section 7).

use accord_core::governance::State;
use accord_core::lifecycle::CommitmentView;
use accord_core::log::Hash;
use accord_ledger::{Appended, ConsistencyProof, InclusionProof, StoredCheckpoint, StoredEntry};
use serde_json::{json, Value};

/// The member ids of an entry's signers, from the DSSE `keyid` hints (`ID+hex8`).
pub fn signer_ids(e: &StoredEntry) -> Vec<String> {
    e.entry
        .envelope
        .signatures
        .iter()
        .map(|s| s.keyid.split('+').next().unwrap_or("?").to_owned())
        .collect()
}

/// One line of `accord list --json`: `index`, `id`, `type`, `signers`, `logged_at`,
/// `leaf_hash`.
pub fn entry_line(e: &StoredEntry) -> Value {
    json!({"index": e.index, "id": e.payload.id, "type": e.payload.body.type_name(),
        "signers": signer_ids(e), "logged_at": e.entry.logged_at,
        "leaf_hash": e.leaf_hash.to_base64()})
}

/// One entry in full (`accord show --json`, a line of the JSON Lines export).
pub fn entry_object(e: &StoredEntry) -> Value {
    accord_ledger::export::jsonl_object(e)
}

/// A commitment's current state on `day` (`accord status --json`): the view with its
/// `status` that day.
pub fn commitment(v: &CommitmentView, day: time::Date) -> Value {
    let mut o = serde_json::to_value(v).unwrap_or_default();
    o["status"] = json!(v.status_on(day).as_str());
    o
}

/// The members (`accord members --json`), one object each.
pub fn members(state: &State) -> Vec<Value> {
    state
        .members()
        .map(|m| {
            json!({"id": m.member.id, "country": m.member.country, "institution": m.member.institution,
                "role": m.member.role.as_str(), "key": m.member.key.to_string(), "admitted_at": m.admitted_at,
                "removed_at": m.removed_at, "key_revoked": m.key_revoked})
        })
        .collect()
}

fn b64s(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(Hash::to_base64).collect()
}

/// An inclusion proof (`accord prove --json`).
pub fn inclusion(p: &InclusionProof) -> Value {
    json!({"index": p.index, "tree_size": p.tree_size, "leaf_hash": p.leaf_hash.to_base64(),
        "root": p.root.to_base64(), "proof": b64s(&p.proof)})
}

/// A consistency proof (`accord consistency --json`).
pub fn consistency(p: &ConsistencyProof) -> Value {
    json!({"from": p.from, "to": p.to, "old_root": p.old_root.to_base64(),
        "new_root": p.new_root.to_base64(), "proof": b64s(&p.proof)})
}

/// A stored checkpoint (`accord checkpoint --json`): `seq`, `origin`, `tree_size`, `root`,
/// `cosigners` and the exact signed-note text as `note`.
pub fn checkpoint(cp: &StoredCheckpoint) -> Value {
    let c = cp.note.checkpoint();
    let text = String::from_utf8_lossy(&cp.note.to_bytes()).into_owned();
    json!({"seq": cp.seq, "origin": c.origin(), "tree_size": c.size(),
        "root": c.root().to_base64(), "cosigners": cp.cosigners, "note": text})
}

/// [`checkpoint`] with, when the charter sets a witness policy, `witness_policy`: whether the
/// note's cosignatures meet it ([`accord_core::witness::check_policy`] against the members'
/// current keys): `{"threshold", "cosigned_by", "met"}`.
pub fn checkpoint_with_policy(
    cp: &StoredCheckpoint,
    state: &accord_core::governance::State,
) -> Value {
    let mut v = checkpoint(cp);
    if let (Some(p), Some(o)) = (witness_policy(&cp.note, state), v.as_object_mut()) {
        o.insert("witness_policy".into(), json!(p));
    }
    v
}

/// The charter's witness policy checked against `note`, if the charter sets one.
pub fn witness_policy(
    note: &accord_core::checkpoint::SignedCheckpoint,
    state: &accord_core::governance::State,
) -> Option<accord_core::witness::PolicyReport> {
    state
        .policy()
        .witness_policy
        .as_ref()
        .map(|p| accord_core::witness::check_policy(note, p, &|m| state.current_key(m).cloned()))
}

/// An accepted submission (`accord submit --json`, the 201 of `POST /api/v1/entries`):
/// `index`, `id`, `leaf_hash`, `logged_at`, and the tree it made (`tree_size`, `root`).
pub fn appended(a: &Appended, tree_size: u64, root: &Hash) -> Value {
    json!({"index": a.index, "id": a.id, "leaf_hash": a.leaf_hash.to_base64(),
        "logged_at": a.logged_at, "tree_size": tree_size, "root": root.to_base64()})
}

/// A cosignature stored on a checkpoint (`accord cosign --json`).
pub fn cosigned(cp: &StoredCheckpoint) -> Value {
    json!({"seq": cp.seq, "tree_size": cp.note.checkpoint().size(), "cosigners": cp.cosigners})
}

/// The log's key (`accord log-key --json`).
pub fn log_key(origin: &str, key: &accord_core::keys::VerifierKey) -> Value {
    json!({"log_key": key.to_string(), "origin": origin})
}
