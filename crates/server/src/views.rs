//! The JSON documents accord prints and serves, built in one place so that `accord --json`
//! on a directory, the HTTP API and `accord --server` print the same bytes for the same
//! data. Every hash is standard base64 (docs/FORMAT.md section 7).

use accord_core::governance::State;
use accord_core::lifecycle::CommitmentView;
use accord_core::log::Hash;
use accord_ledger::{Appended, ConsistencyProof, InclusionProof, StoredCheckpoint, StoredEntry};
use serde_json::{json, Value};

/// The member id of a DSSE `keyid` hint (`ID+hex8`).
fn signer_of(keyid: &str) -> String {
    keyid.split('+').next().unwrap_or("?").to_owned()
}

/// The member ids of an entry's signers, from the DSSE `keyid` hints (`ID+hex8`).
pub fn signer_ids(e: &StoredEntry) -> Vec<String> {
    e.entry
        .envelope
        .signatures
        .iter()
        .map(|s| signer_of(&s.keyid))
        .collect()
}

/// The member ids of the signers of a full entry object ([`entry_object`], or one read back
/// from a server), from the DSSE `keyid` hints; `?` for a hint without a name.
pub fn object_signer_ids(v: &Value) -> Vec<String> {
    v["envelope"]["signatures"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|sig| {
                    sig["keyid"]
                        .as_str()
                        .map_or_else(|| "?".to_owned(), signer_of)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One line of `accord list --json`: `index`, `id`, `type`, `title` (of a commitment's or
/// an amendment's terms; null for other entries), `signers`, `logged_at`, `leaf_hash`.
pub fn entry_line(e: &StoredEntry) -> Value {
    use accord_core::model::Body;
    let title = match &e.payload.body {
        Body::Commitment(c) => Some(c.terms.title.as_str()),
        Body::Amend(a) => Some(a.terms.title.as_str()),
        _ => None,
    };
    json!({"index": e.index, "id": e.payload.id, "type": e.payload.body.type_name(),
        "title": title, "signers": signer_ids(e), "logged_at": e.entry.logged_at,
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

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// A JSON value as a person reads it: money as `USD 1,000`, prices as `USD 110/kg`,
/// quantities as `1,000 t`, lists joined, enum spellings with spaces.
pub fn readable_value(v: &Value) -> String {
    use accord_core::figures::group_thousands as g;
    match v {
        Value::Object(o) => {
            let amount = o.get("amount").and_then(Value::as_str);
            let cur = o.get("currency").and_then(Value::as_str);
            let unit = o.get("unit").and_then(Value::as_str);
            match (amount, cur, unit) {
                (Some(a), Some(c), Some(u)) if o.len() == 3 => format!("{c} {}/{u}", g(a)),
                (Some(a), Some(c), None) if o.len() == 2 => format!("{c} {}", g(a)),
                (Some(a), None, Some(u)) if o.len() == 2 => format!("{} {u}", g(a)),
                _ => o
                    .iter()
                    .filter(|(_, x)| !x.is_null())
                    .map(|(k, x)| format!("{}: {}", k.replace('_', " "), readable_value(x)))
                    .collect::<Vec<_>>()
                    .join("; "),
            }
        }
        Value::Array(a) => a.iter().map(readable_value).collect::<Vec<_>>().join(", "),
        Value::String(x) => x.clone(),
        Value::Null => "none".into(),
        other => other.to_string(),
    }
}

/// The members of an object as `key: value` lines a person reads, one level of nesting
/// flattened (`measure kind: price floor`), `skip` left out.
pub fn readable(v: &Value, skip: &[&str]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(o) = v.as_object() else {
        return out;
    };
    for (k, x) in o {
        if skip.contains(&k.as_str()) || x.is_null() {
            continue;
        }
        let name = k.replace('_', " ");
        match x {
            Value::Object(inner) if k == "measure" || k == "member" => {
                for (ik, iv) in inner {
                    if iv.is_null() {
                        continue;
                    }
                    let val = if ik == "kind" {
                        iv.as_str().unwrap_or_default().replace('_', " ")
                    } else {
                        readable_value(iv).replace('_', " ")
                    };
                    out.push((format!("{name} {}", ik.replace('_', " ")), val));
                }
            }
            Value::Array(items) if k == "sources" => {
                for (i, src) in items.iter().enumerate() {
                    out.push((format!("source {}", i + 1), s(src, "url")));
                }
            }
            _ => out.push((name, readable_value(x))),
        }
    }
    out
}

/// Flattened `path -> value` pairs of a JSON value, for showing what an amendment changed.
fn flatten(prefix: &str, v: &Value, out: &mut std::collections::BTreeMap<String, String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, x, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                flatten(&format!("{prefix}.{i}"), x, out);
            }
        }
        Value::Null => {}
        // An amount reads with its thousands grouped, as everywhere else.
        Value::String(a) if prefix == "amount" || prefix.ends_with(".amount") => {
            out.insert(prefix.to_owned(), accord_core::figures::group_thousands(a));
        }
        other => {
            out.insert(prefix.to_owned(), readable_value(other));
        }
    }
}

/// What changed between two versions of terms: `path: old -> new` lines.
pub fn changes(old: &Value, new: &Value) -> Vec<String> {
    let (mut a, mut b) = (Default::default(), Default::default());
    flatten("", old, &mut a);
    flatten("", new, &mut b);
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let (x, y) = (a.get(k), b.get(k));
            (x != y).then(|| {
                format!(
                    "{k}: {} -> {}",
                    x.map_or("(none)", String::as_str),
                    y.map_or("(none)", String::as_str)
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_old_to_new_with_amounts_grouped() {
        let old = json!({"title": "a", "measure": {"amount": {"amount": "1250000000", "currency": "AUD"}},
            "sources": [{"url": "u1"}]});
        let new = json!({"title": "a", "measure": {"amount": {"amount": "1725000000", "currency": "AUD"}},
            "sources": [{"url": "u1"}, {"url": "u2"}]});
        assert_eq!(
            changes(&old, &new),
            vec![
                "measure.amount.amount: 1,250,000,000 -> 1,725,000,000".to_owned(),
                "sources.1.url: (none) -> u2".to_owned(),
            ]
        );
    }
}
