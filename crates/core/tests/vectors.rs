//! Known-answer vectors from ../shared/vectors, each citing its source.
#![allow(clippy::unwrap_used)]

use accord_core::checkpoint::{NoteVerifier, SignedCheckpoint};
use accord_core::keys::{KeyPair, VerifierKey};
use accord_core::log::{self, Frontier, Hash, StoredIndex};
use serde_json::Value;
use signed_note::{Note, VerifierList};

fn vectors(path: &str) -> Value {
    let full = format!(
        "{}/../../../shared/vectors/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&full)
        .unwrap_or_else(|e| panic!("{full}: {e} (CI keeps shared/ beside the repository)"));
    serde_json::from_str(&text).unwrap()
}

fn hex(v: &Value) -> Hash {
    Hash::from_hex(v.as_str().unwrap()).unwrap()
}

/// Some consistency probes use short byte strings ("don't care") as stand-in roots,
/// compared bytewise by the Go verifier when the sizes are equal. Our API types roots as 32-byte hashes, so a string of another length
/// is mapped injectively (in practice) to SHA-256 of a tag and itself: equal strings stay
/// equal, and no stand-in equals a real 32-byte hash (the empty string is not SHA-256("")).
fn b64_opt(v: &Value) -> Option<Hash> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v.as_str()?)
        .ok()?;
    match <[u8; 32]>::try_from(raw.as_slice()) {
        Ok(a) => Some(Hash(a)),
        Err(_) => {
            use sha2::Digest;
            let mut h = sha2::Sha256::new_with_prefix(b"probe stand-in:");
            h.update(&raw);
            Some(Hash(h.finalize().into()))
        }
    }
}

fn b64s(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(vec![]),
        Value::Array(a) => a.iter().map(b64_opt).collect(),
        _ => None,
    }
}

fn hexes(v: &Value) -> Vec<Hash> {
    v.as_array().unwrap().iter().map(hex).collect()
}

/// Source: transparency-dev/merkle testonly/constants.go @417fb0c (leaf inputs, roots) and
/// locally derived proofs cross-checked against the RFC 9162 verifiers (see `_source`).
#[test]
fn rfc6962_roots_and_every_proof_from_stored_hashes() {
    let v = vectors("merkle/rfc6962-vectors.json");
    let inputs: Vec<Vec<u8>> = v["leaf_inputs_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| ::hex::decode(x.as_str().unwrap()).unwrap())
        .collect();
    let want_leaves = hexes(&v["leaf_hashes_hex"]);
    let mut stored = Vec::new();
    let mut f = Frontier::new();
    assert_eq!(f.root(), hex(&v["roots_by_size_hex"]["0"]));
    for (i, input) in inputs.iter().enumerate() {
        let lh = log::leaf_hash(input);
        assert_eq!(lh, want_leaves[i], "leaf {i}");
        stored.extend(f.push(lh));
        assert_eq!(
            f.root(),
            hex(&v["roots_by_size_hex"][(i + 1).to_string()]),
            "root of size {}",
            i + 1
        );
    }
    let get = |idx: Vec<StoredIndex>| idx.iter().map(|i| stored[i.0 as usize]).collect::<Vec<_>>();
    for case in v["inclusion_proofs_all"].as_array().unwrap() {
        let (i, n) = (
            case["leaf_index"].as_u64().unwrap(),
            case["tree_size"].as_u64().unwrap(),
        );
        let want = hexes(&case["proof_hex"]);
        let got =
            log::inclusion_proof_from(i, n, &get(log::inclusion_needs(i, n).unwrap())).unwrap();
        assert_eq!(got, want, "inclusion {i}/{n}");
        log::verify_inclusion(
            &hex(&case["leaf_hash_hex"]),
            i,
            n,
            &got,
            &hex(&case["root_hex"]),
        )
        .unwrap();
    }
    for case in v["consistency_proofs_all"].as_array().unwrap() {
        let (m, n) = (
            case["size1"].as_u64().unwrap(),
            case["size2"].as_u64().unwrap(),
        );
        let want = hexes(&case["proof_hex"]);
        let got =
            log::consistency_proof_from(m, n, &get(log::consistency_needs(m, n).unwrap())).unwrap();
        assert_eq!(got, want, "consistency {m}->{n}");
        log::verify_consistency(
            m,
            n,
            &hex(&case["root1_hex"]),
            &hex(&case["root2_hex"]),
            &got,
        )
        .unwrap();
    }
}

/// Source: transparency-dev/merkle testdata/inclusion and testdata/consistency @417fb0c, the
/// probes used by proof/verify_test.go. Our verdict must equal `wantErr` on every one.
#[test]
fn published_probes_get_the_same_verdicts() {
    let v = vectors("merkle/rfc6962-vectors.json");
    let mut n = 0;
    for p in v["published_probes"]["inclusion"].as_array().unwrap() {
        // transparency-dev's inclusion verifier refuses hashes of the wrong length, as our
        // types do: such a probe is an error verdict.
        let strict = |v: &Value| Hash::from_base64(v.as_str()?);
        let got = match (
            strict(&p["leafHash"]),
            b64s(&p["proof"]),
            strict(&p["root"]),
        ) {
            (Some(leaf), Some(proof), Some(root)) => log::verify_inclusion(
                &leaf,
                p["leafIdx"].as_u64().unwrap(),
                p["treeSize"].as_u64().unwrap(),
                &proof,
                &root,
            )
            .map_err(|e| e.to_string()),
            _ => Err("malformed hash".to_owned()),
        };
        assert_eq!(
            got.is_err(),
            p["wantErr"].as_bool().unwrap(),
            "{}: {got:?}",
            p["file"]
        );
        n += 1;
    }
    for p in v["published_probes"]["consistency"].as_array().unwrap() {
        let got = match (
            b64_opt(&p["root1"]),
            b64_opt(&p["root2"]),
            b64s(&p["proof"]),
        ) {
            (Some(r1), Some(r2), Some(proof)) => log::verify_consistency(
                p["size1"].as_u64().unwrap(),
                p["size2"].as_u64().unwrap(),
                &r1,
                &r2,
                &proof,
            )
            .map_err(|e| e.to_string()),
            _ => Err("malformed hash".to_owned()),
        };
        assert_eq!(
            got.is_err(),
            p["wantErr"].as_bool().unwrap(),
            "{}: {got:?}",
            p["file"]
        );
        n += 1;
    }
    assert_eq!(n, 196);
}

/// Source: C2SP signed-note.md Example section @5ba5ee8, and golang.org/x/mod/sumdb/note's
/// package doc example (see `_source`).
#[test]
fn c2sp_signed_note_examples_verify() {
    let v = vectors("signed-note/examples.json");
    for ex in v["notes"].as_array().unwrap() {
        let vkey = VerifierKey::parse(ex["vkey"].as_str().unwrap()).unwrap();
        assert_eq!(vkey.to_string(), ex["vkey"].as_str().unwrap());
        let note = Note::from_bytes(ex["note"].as_str().unwrap().as_bytes()).unwrap();
        let list = VerifierList::new(vec![Box::new(NoteVerifier::new(
            vkey.name(),
            vkey.verifying_key(),
        ))]);
        let (verified, _) = note.verify(&list).unwrap();
        assert_eq!(verified.len(), 1);
        if let Some(skey) = ex.get("skey").and_then(Value::as_str) {
            let pair = KeyPair::from_skey(skey).unwrap();
            assert_eq!(pair.verifier().unwrap(), vkey);
        }
        // The same note under another key does not verify.
        let other = KeyPair::from_seed(vkey.name(), &[9; 32])
            .unwrap()
            .verifier()
            .unwrap();
        let list = VerifierList::new(vec![Box::new(NoteVerifier::new(
            other.name(),
            other.verifying_key(),
        ))]);
        assert!(note.verify(&list).is_err());
    }
    // Not checkpoints: the parser must refuse them as such, not panic.
    let ex = &v["notes"][0];
    assert!(SignedCheckpoint::from_bytes(ex["note"].as_str().unwrap().as_bytes()).is_err());
}

/// Source: RFC 8032 section 7.1 test vectors (shared/vectors/ed25519/rfc8032_ed25519.json).
#[test]
fn rfc8032_vectors_sign_and_verify_strictly() {
    let v = vectors("ed25519/rfc8032_ed25519.json");
    for case in v["vectors"].as_array().unwrap() {
        let seed: [u8; 32] = ::hex::decode(case["secret_key"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let pair = KeyPair::from_seed("T", &seed).unwrap();
        assert_eq!(
            ::hex::encode(pair.verifier().unwrap().key_bytes()),
            case["public_key"].as_str().unwrap()
        );
        let msg = ::hex::decode(case["message"].as_str().unwrap()).unwrap();
        let sig = pair.sign(&msg);
        assert_eq!(
            ::hex::encode(sig.to_bytes()),
            case["signature"].as_str().unwrap(),
            "{}",
            case["name"]
        );
        assert!(pair.verifier().unwrap().verify_strict(&msg, &sig));
    }
}
