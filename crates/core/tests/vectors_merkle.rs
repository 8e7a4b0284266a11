//! RFC 6962 / RFC 9162 known-answer vectors from `tests/vectors/merkle/rfc6962-vectors.json`.
//!
//! Sources (the file's `_source`): leaf inputs, leaf hashes and roots from
//! github.com/transparency-dev/merkle `testonly/constants.go` @417fb0c; the 196 published
//! probes from its `testdata/inclusion/**.json` and `testdata/consistency/**.json` @417fb0c
//! (used by `proof/verify_test.go`); the `*_proofs_all` lists were derived locally from the
//! RFC 6962 section 2.1 definitions and cross-checked (not themselves published).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use accord_core::log::{self, Frontier, Hash, StoredIndex};
use base64::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/merkle/rfc6962-vectors.json"
);

fn vectors() -> Value {
    let text = std::fs::read_to_string(VECTORS).unwrap_or_else(|e| panic!("{VECTORS}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn hex(v: &Value) -> Hash {
    Hash::from_hex(v.as_str().unwrap()).unwrap()
}

fn hexes(v: &Value) -> Vec<Hash> {
    v.as_array().unwrap().iter().map(hex).collect()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

/// The leaves of the vector tree written through a Frontier into a stored-hash vector.
struct Store {
    hashes: Vec<Hash>,
    roots: Vec<Hash>,
}

impl Store {
    fn build(leaf_inputs: &[Vec<u8>]) -> Self {
        let mut f = Frontier::new();
        let mut hashes = Vec::new();
        let mut roots = vec![f.root()];
        for (i, input) in leaf_inputs.iter().enumerate() {
            assert_eq!(log::stored_index_of_leaf(i as u64).0 as usize, hashes.len());
            hashes.extend(f.push(log::leaf_hash(input)));
            roots.push(f.root());
        }
        Self { hashes, roots }
    }

    fn get(&self, idx: Vec<StoredIndex>) -> Vec<Hash> {
        idx.iter().map(|i| self.hashes[i.0 as usize]).collect()
    }
}

fn leaf_inputs(v: &Value) -> Vec<Vec<u8>> {
    v["leaf_inputs_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| ::hex::decode(h.as_str().unwrap()).unwrap())
        .collect()
}

/// transparency-dev/merkle testonly/constants.go: LeafInputs -> leaf hashes, RootHashes.
#[test]
fn leaf_hashes_and_roots_by_size() {
    let v = vectors();
    let inputs = leaf_inputs(&v);
    let want_leaves = hexes(&v["leaf_hashes_hex"]);
    assert_eq!(inputs.len(), 8);
    for (input, want) in inputs.iter().zip(&want_leaves) {
        assert_eq!(&log::leaf_hash(input), want);
    }
    let store = Store::build(&inputs);
    let by_size = v["roots_by_size_hex"].as_object().unwrap();
    let by_size_b64 = v["roots_by_size_b64"].as_object().unwrap();
    assert_eq!(by_size.len(), 9);
    for (size, want) in by_size {
        let n: u64 = size.parse().unwrap();
        let want = hex(want);
        assert_eq!(store.roots[n as usize], want, "Frontier root at size {n}");
        let from = log::root_from(n, &store.get(log::root_needs(n))).unwrap();
        assert_eq!(from, want, "root_from at size {n}");
        let b64 = Hash::from_base64(by_size_b64[size].as_str().unwrap()).unwrap();
        assert_eq!(b64, want);
        // A frontier rebuilt from stored hashes has the same root.
        let f = Frontier::from_hashes(n, &store.get(Frontier::needs(n))).unwrap();
        assert_eq!(f.root(), want);
    }
    assert_eq!(hex(&by_size["0"]), log::EMPTY_ROOT);
}

/// Every inclusion proof in trees of size 1..=8, built from stored hashes and verified.
#[test]
fn every_inclusion_proof_from_stored_hashes() {
    let v = vectors();
    let store = Store::build(&leaf_inputs(&v));
    let cases = v["inclusion_proofs_all"].as_array().unwrap();
    assert_eq!(cases.len(), 36);
    for c in cases {
        let (i, n) = (u(&c["leaf_index"]), u(&c["tree_size"]));
        let want = hexes(&c["proof_hex"]);
        let root = hex(&c["root_hex"]);
        let leaf = hex(&c["leaf_hash_hex"]);
        assert_eq!(root, store.roots[n as usize]);
        let got = log::inclusion_proof_from(i, n, &store.get(log::inclusion_needs(i, n).unwrap()))
            .unwrap();
        assert_eq!(got, want, "inclusion {i}/{n}");
        log::verify_inclusion(&leaf, i, n, &got, &root).unwrap();
    }
}

/// Every consistency proof between trees of size 1..=8, built from stored hashes and
/// verified.
#[test]
fn every_consistency_proof_from_stored_hashes() {
    let v = vectors();
    let store = Store::build(&leaf_inputs(&v));
    let cases = v["consistency_proofs_all"].as_array().unwrap();
    assert_eq!(cases.len(), 36);
    for c in cases {
        let (m, n) = (u(&c["size1"]), u(&c["size2"]));
        let want = hexes(&c["proof_hex"]);
        let (r1, r2) = (hex(&c["root1_hex"]), hex(&c["root2_hex"]));
        let got =
            log::consistency_proof_from(m, n, &store.get(log::consistency_needs(m, n).unwrap()))
                .unwrap();
        assert_eq!(got, want, "consistency {m}->{n}");
        log::verify_consistency(m, n, &r1, &r2, &got).unwrap();
    }
}

/// The probes carry some values that are not 32-byte hashes: short ASCII stand-ins for
/// roots ("don't care 1", "WrongRoot", ...), empty strings, and empty proof entries
/// ("preceding garbage"). The Go verifier compares roots bytewise (so two equal stand-ins
/// "match") and does not look at the length of proof entries; our API types all of them as
/// 32-byte hashes, so such a value is mapped to `SHA-256("probe stand-in:" || bytes)`: equal
/// values stay equal, and (collisions aside) no stand-in equals a real hash. Leaf hashes are
/// the exception: Go refuses a leaf hash that is not 32 bytes as malformed, and so does our
/// typed API, at decoding ([`probe_leaf`]).
fn probe_hash(v: &Value) -> Hash {
    let raw = BASE64_STANDARD.decode(v.as_str().unwrap()).unwrap();
    match <[u8; 32]>::try_from(raw.as_slice()) {
        Ok(a) => Hash(a),
        Err(_) => {
            let mut h = Sha256::new_with_prefix(b"probe stand-in:");
            h.update(&raw);
            Hash(h.finalize().into())
        }
    }
}

fn probe_proof(v: &Value) -> Vec<Hash> {
    match v {
        Value::Null => vec![],
        Value::Array(a) => a.iter().map(probe_hash).collect(),
        other => panic!("unexpected proof {other}"),
    }
}

/// transparency-dev/merkle testdata/inclusion/**.json @417fb0c: our verdict equals wantErr.
/// A probe's leaf hash, or `None` if it is not 32 bytes: our API cannot even be called
/// with it, which is an error verdict, like Go's "leafHash has unexpected size".
fn probe_leaf(v: &Value) -> Option<Hash> {
    let raw = BASE64_STANDARD.decode(v.as_str().unwrap()).unwrap();
    Some(Hash(<[u8; 32]>::try_from(raw.as_slice()).ok()?))
}

#[test]
fn published_inclusion_probes() {
    let v = vectors();
    let probes = v["published_probes"]["inclusion"].as_array().unwrap();
    assert_eq!(probes.len(), 98);
    let mut ok = 0;
    for p in probes {
        let got = match probe_leaf(&p["leafHash"]) {
            None => Err(log::ProofError::Mismatch),
            Some(leaf) => log::verify_inclusion(
                &leaf,
                u(&p["leafIdx"]),
                u(&p["treeSize"]),
                &probe_proof(&p["proof"]),
                &probe_hash(&p["root"]),
            ),
        };
        let want_err = p["wantErr"].as_bool().unwrap();
        assert_eq!(
            got.is_err(),
            want_err,
            "{}: {} gave {got:?}",
            p["file"],
            p["desc"]
        );
        ok += usize::from(got.is_ok());
    }
    assert_eq!(ok, 6);
}

/// transparency-dev/merkle testdata/consistency/**.json @417fb0c: our verdict equals wantErr.
#[test]
fn published_consistency_probes() {
    let v = vectors();
    let probes = v["published_probes"]["consistency"].as_array().unwrap();
    assert_eq!(probes.len(), 98);
    let mut ok = 0;
    for p in probes {
        let got = log::verify_consistency(
            u(&p["size1"]),
            u(&p["size2"]),
            &probe_hash(&p["root1"]),
            &probe_hash(&p["root2"]),
            &probe_proof(&p["proof"]),
        );
        let want_err = p["wantErr"].as_bool().unwrap();
        assert_eq!(
            got.is_err(),
            want_err,
            "{}: {} gave {got:?}",
            p["file"],
            p["desc"]
        );
        ok += usize::from(got.is_ok());
    }
    assert_eq!(ok, 6);
}
