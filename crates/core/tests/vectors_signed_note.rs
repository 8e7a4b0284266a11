//! C2SP signed-note known-answer vectors from `tests/vectors/signed-note/examples.json`.
//!
//! Sources (the file's `_source`): the Example section of C2SP/C2SP `signed-note.md`
//! @5ba5ee830903e91240fc6f9f3a7a9293d49e69c9, and the package documentation of
//! golang.org/x/mod/sumdb/note (`note.go`, the PeterNeumann example with its signer key).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use accord_core::checkpoint::{
    note_key_id, parse_vkey, vkey_string, CheckpointError, NoteSigner, NoteVerifier,
    SignedCheckpoint, ALG_ED25519,
};
use base64::prelude::*;
use ed25519_dalek::SigningKey;
use serde_json::Value;
use signed_note::{Note, NoteError, VerifierList};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/signed-note/examples.json"
);

fn notes() -> Vec<Value> {
    let text = std::fs::read_to_string(VECTORS).unwrap_or_else(|e| panic!("{VECTORS}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap();
    v["notes"].as_array().unwrap().clone()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap()
}

/// Both example notes parse with signed_note and verify with our strict NoteVerifier; their
/// vkeys parse with parse_vkey and round-trip through vkey_string.
#[test]
fn examples_parse_and_verify_strictly() {
    let notes = notes();
    assert_eq!(notes.len(), 2);
    for n in &notes {
        let vkey = s(n, "vkey");
        let (name, key) = parse_vkey(vkey).unwrap();
        assert_eq!(vkey_string(&name, &key), vkey);
        let id16 = vkey.split('+').nth(1).unwrap();
        assert_eq!(format!("{:08x}", note_key_id(&name, &key)), id16);

        let msg = s(n, "note").as_bytes();
        let note = Note::from_bytes(msg).unwrap();
        if let Some(signed) = n.get("signed_bytes") {
            assert_eq!(note.text(), signed.as_str().unwrap().as_bytes());
        }
        assert_eq!(note.to_bytes(), msg);
        let verifier = NoteVerifier::from_vkey(vkey).unwrap();
        let (ok, unknown) = note
            .verify(&VerifierList::new(vec![Box::new(verifier)]))
            .unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].name(), name);
        assert!(unknown.is_empty());

        // A changed text does not verify; a note without our key is unverified.
        let mut tampered = note.text().to_vec();
        tampered[0] ^= 0x20;
        let sig_block = &msg[note.text().len()..];
        let t = Note::from_bytes(&[tampered.as_slice(), sig_block].concat()).unwrap();
        let verifier = NoteVerifier::from_vkey(vkey).unwrap();
        assert!(matches!(
            t.verify(&VerifierList::new(vec![Box::new(verifier)])),
            Err(NoteError::InvalidSignature { .. })
        ));
        let other = SigningKey::from_bytes(&[9; 32]).verifying_key();
        let stranger = NoteVerifier::new(&name, &other);
        assert!(matches!(
            note.verify(&VerifierList::new(vec![Box::new(stranger)])),
            Err(NoteError::UnverifiedNote)
        ));

        // These are notes, not checkpoints.
        assert!(matches!(
            SignedCheckpoint::from_bytes(msg),
            Err(CheckpointError::MalformedCheckpoint(_))
        ));
    }
}

/// The PeterNeumann signer key (`PRIVATE+KEY+<name>+<id>+base64(0x01 || seed)`, the
/// golang.org/x/mod/sumdb/note format) derives the published vkey, and our NoteSigner
/// reproduces the published signature (Ed25519 is deterministic).
#[test]
fn skey_derives_vkey_and_signature() {
    let notes = notes();
    let n = notes.iter().find(|n| n.get("skey").is_some()).unwrap();
    let skey = s(n, "skey");
    let parts: Vec<&str> = skey.splitn(5, '+').collect();
    assert_eq!(&parts[..2], &["PRIVATE", "KEY"]);
    let (name, id16, data) = (
        parts[2],
        parts[3],
        BASE64_STANDARD.decode(parts[4]).unwrap(),
    );
    assert_eq!(data[0], ALG_ED25519);
    let seed: [u8; 32] = data[1..].try_into().unwrap();
    let sk = SigningKey::from_bytes(&seed);
    let vk = sk.verifying_key();
    assert_eq!(vkey_string(name, &vk), s(n, "vkey"));
    assert_eq!(format!("{:08x}", note_key_id(name, &vk)), id16);

    let msg = s(n, "note").as_bytes();
    let text = Note::from_bytes(msg).unwrap().text().to_vec();
    let mut note = Note::new(&text, &[]).unwrap();
    note.add_sigs(&[&NoteSigner::new(name, &sk)]).unwrap();
    assert_eq!(note.to_bytes(), msg);
    // signed_note's own signer agrees.
    let mut theirs = Note::new(&text, &[]).unwrap();
    theirs
        .add_sigs(&[&signed_note::StandardSigner::new(skey).unwrap()])
        .unwrap();
    assert_eq!(theirs.to_bytes(), msg);
}
