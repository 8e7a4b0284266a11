//! Known-answer vectors from tests/vectors, each citing its source. The RFC 6962 and
//! C2SP signed-note vectors are in vectors_merkle.rs and vectors_signed_note.rs.
#![allow(clippy::unwrap_used)]

use accord_core::keys::KeyPair;
use serde_json::Value;

fn vectors(path: &str) -> Value {
    let full = format!("{}/tests/vectors/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// Source: RFC 8032 section 7.1 test vectors (tests/vectors/ed25519/rfc8032_ed25519.json).
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
