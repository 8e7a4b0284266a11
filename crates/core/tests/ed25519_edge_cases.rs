//! Every Wycheproof EdDSA case (tests/vectors/ed25519/wycheproof_ed25519_test.json, Google
//! Wycheproof 0.9rc5) and every RFC 8032 section 7.1 case through each path that verifies
//! entries: key registration, a single entry's checks (`OwedSignatures::verify`, which
//! `Authorised::verify` runs), the batched
//! parallel path of import and audit (`verify_parallel`), and the checkpoint note verifier.
//! Batching must never accept what `verify_strict` rejects.
#![allow(clippy::unwrap_used)]

use accord_core::checkpoint::NoteVerifier;
use accord_core::governance::{verify_parallel, OwedSignatures, SignatureCheck};
use accord_core::keys::VerifierKey;
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;
use signed_note::Verifier;

fn vectors(path: &str) -> Value {
    let full = format!("{}/tests/vectors/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&full).unwrap()).unwrap()
}

struct Case {
    id: u64,
    expect: &'static str,
    key: Option<VerifyingKey>,
    msg: Vec<u8>,
    sig: Option<Signature>,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let w = vectors("ed25519/wycheproof_ed25519_test.json");
    for g in w["testGroups"].as_array().unwrap() {
        let pk: [u8; 32] = hex::decode(g["publicKey"]["pk"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        // Registration refuses keys that are not valid, canonical, torsion-free points.
        let key = VerifyingKey::from_bytes(&pk)
            .ok()
            .filter(|k| VerifierKey::new("W", *k).is_ok());
        for t in g["tests"].as_array().unwrap() {
            let sig = hex::decode(t["sig"].as_str().unwrap()).unwrap();
            out.push(Case {
                id: t["tcId"].as_u64().unwrap(),
                expect: match t["result"].as_str().unwrap() {
                    "valid" => "valid",
                    "invalid" => "invalid",
                    _ => "acceptable",
                },
                key,
                msg: hex::decode(t["msg"].as_str().unwrap()).unwrap(),
                // The envelope parser refuses signatures that are not 64 bytes.
                sig: <[u8; 64]>::try_from(sig.as_slice())
                    .ok()
                    .map(|b| Signature::from_bytes(&b)),
            });
        }
    }
    let r = vectors("ed25519/rfc8032_ed25519.json");
    for (i, v) in r["vectors"].as_array().unwrap().iter().enumerate() {
        let pk: [u8; 32] = hex::decode(v["public_key"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let sig: [u8; 64] = hex::decode(v["signature"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        out.push(Case {
            id: 10_000 + i as u64,
            expect: "valid",
            key: VerifyingKey::from_bytes(&pk).ok(),
            msg: hex::decode(v["message"].as_str().unwrap()).unwrap(),
            sig: Some(Signature::from_bytes(&sig)),
        });
    }
    out
}

fn authorised(c: &Case) -> Option<OwedSignatures> {
    Some(OwedSignatures::new(
        c.msg.clone(),
        vec![SignatureCheck {
            index: 0,
            keyid: format!("case-{}", c.id),
            key: c.key?,
            sig: c.sig?,
        }],
    ))
}

#[test]
fn every_path_gives_the_strict_verdict() {
    let cases = cases();
    assert!(cases.len() >= 210);
    let mut accepted_ok = Vec::new();
    for c in &cases {
        let a = authorised(c);
        let single = a.as_ref().is_some_and(|a| a.verify().is_ok());
        let batched = a
            .as_ref()
            .is_some_and(|a| verify_parallel(std::slice::from_ref(a)).is_ok());
        let strict = match (c.key, c.sig) {
            (Some(k), Some(s)) => k.verify_strict(&c.msg, &s).is_ok(),
            _ => false,
        };
        let note = match (c.key, c.sig) {
            (Some(k), Some(s)) => NoteVerifier::new("W", &k).verify(&c.msg, &s.to_bytes()),
            _ => false,
        };
        assert_eq!(
            single, strict,
            "case {}: single path differs from verify_strict",
            c.id
        );
        assert_eq!(
            batched, strict,
            "case {}: batched path differs from verify_strict",
            c.id
        );
        assert_eq!(
            note, strict,
            "case {}: note verifier differs from verify_strict",
            c.id
        );
        match c.expect {
            "valid" => assert!(single, "case {}: a valid signature was refused", c.id),
            "invalid" => assert!(!single, "case {}: an invalid signature was accepted", c.id),
            _ => {} // "acceptable": strict verification decides; see docs/GUARANTEES.md
        }
        if single {
            accepted_ok.push(a);
        }
    }
    // Mixed batches: all good ones pass together; slipping in any bad one is caught at its
    // position.
    let good: Vec<OwedSignatures> = accepted_ok.into_iter().flatten().collect();
    verify_parallel(&good).unwrap();
    for c in cases.iter().filter(|c| c.expect == "invalid") {
        if let Some(bad) = authorised(c) {
            let mut batch = good.clone();
            let at = c.id as usize % (batch.len() + 1);
            batch.insert(at, bad);
            let (pos, _) = verify_parallel(&batch).unwrap_err();
            assert_eq!(pos, at, "case {}", c.id);
        }
    }
}
