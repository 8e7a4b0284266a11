//! Audit bundles judge cosignatures by the keys members held at the checkpoint's size, and
//! check every leaf rule of docs/FORMAT.md sections 5 and 9 (regressions of issue #9).
#![allow(clippy::unwrap_used)]

use accord_core::bundle::{Bundle, BundleEntry, BUNDLE_FORMAT};
use accord_core::checkpoint::{Checkpoint, SignedCheckpoint};
use accord_core::entry::LoggedEntry;
use accord_core::envelope::Envelope;
use accord_core::keys::KeyPair;
use accord_core::log;
use accord_core::model::Timestamp;
use accord_ledger::synth::Synth;
use accord_ledger::Ledger;
use base64::prelude::*;
use serde_json::{json, Value};

fn signed(payload: &Value, signers: &[&KeyPair]) -> Envelope {
    let mut env = Envelope::new(serde_json::to_vec(payload).unwrap());
    for k in signers {
        env.sign(k);
    }
    env
}

/// A group of three (membership threshold 2), its charter and one commitment (entry 1).
fn group() -> (Synth, Ledger) {
    let mut s = Synth::new(3, 9);
    let mut l = Ledger::create_in_memory(&s.charter()).unwrap();
    l.append(&s.next_entry()).unwrap();
    (s, l)
}

#[test]
fn a_rotation_after_the_selected_entries_keeps_a_bundle_verifiable() {
    let (s, mut l) = group();
    let m0 = &s.members[0];
    let new0 = KeyPair::from_seed(m0.name(), &[77; 32]).unwrap();
    let rotation = json!({"ledger": s.origin, "type": "rotate_key", "id": "rotate-m0",
        "signed_at": "2026-02-01T00:00:00Z", "member": m0.name(),
        "new_key": new0.verifier().unwrap().to_string()});
    l.append(&signed(&rotation, &[m0, &s.members[1], &new0]))
        .unwrap();
    let cp = l.issue_checkpoint(&s.log).unwrap();
    l.add_cosignature(cp.seq, &new0, 1_800_000_000).unwrap();
    l.add_cosignature(cp.seq, &s.members[1], 1_800_000_000)
        .unwrap();

    let bundle = l.export_bundle(&[1]).unwrap();
    let report = bundle
        .verify(Some(l.log_key()), Some(l.charter_hash()))
        .unwrap();
    assert_eq!(report.cosigners.len(), 2, "{report:?}");
    assert!(
        report.indexes.contains(&2),
        "the rotation travels with the bundle"
    );

    // Without the tree's last entry the state at the checkpoint cannot be shown.
    let mut cut = bundle.clone();
    cut.entries.pop();
    let e = cut.verify(None, None).unwrap_err().to_string();
    assert!(e.contains("last entry 2 is missing"), "{e}");
}

#[test]
fn a_cosignature_by_a_key_revoked_before_the_checkpoint_is_refused() {
    let (s, mut l) = group();
    let m2 = &s.members[2];
    let revocation = json!({"ledger": s.origin, "type": "revoke_key", "id": "revoke-m2",
        "signed_at": "2026-02-01T00:00:00Z", "member": m2.name(),
        "key": m2.verifier().unwrap().to_string(), "reason": "Key material exposed"});
    l.append(&signed(&revocation, &[m2])).unwrap();
    l.issue_checkpoint(&s.log).unwrap();
    let mut bundle = l.export_bundle(&[1]).unwrap();
    // The ledger refuses such a cosignature; a hand-made bundle carries it anyway.
    let mut note = SignedCheckpoint::from_bytes(bundle.checkpoint.as_bytes()).unwrap();
    note.add_cosignature(m2.name(), m2.signing_key(), 1_800_000_000)
        .unwrap();
    bundle.checkpoint = String::from_utf8(note.to_bytes()).unwrap();
    let e = bundle.verify(None, None).unwrap_err().to_string();
    assert!(e.contains("revoked at entry 2"), "{e}");
}

#[test]
fn a_member_cosigns_a_bundle_checkpoint_once() {
    let (s, mut l) = group();
    let cp = l.issue_checkpoint(&s.log).unwrap();
    l.add_cosignature(cp.seq, &s.members[0], 1_800_000_000)
        .unwrap();
    let mut bundle = l.export_bundle(&[1]).unwrap();
    bundle.verify(None, None).unwrap();
    // The same line twice, and the same member at another time.
    let line = bundle.checkpoint.lines().last().unwrap().to_owned();
    let mut twice = bundle.clone();
    twice.checkpoint = format!("{}{line}\n", bundle.checkpoint);
    let e = twice.verify(None, None).unwrap_err().to_string();
    assert!(e.contains("more than once"), "{e}");
    let note = SignedCheckpoint::from_bytes(bundle.checkpoint.as_bytes()).unwrap();
    let other = note
        .cosignature_line(
            s.members[0].name(),
            s.members[0].signing_key(),
            1_800_000_001,
        )
        .unwrap();
    bundle
        .checkpoint
        .push_str(std::str::from_utf8(&other).unwrap());
    let e = bundle.verify(None, None).unwrap_err().to_string();
    assert!(e.contains("more than once"), "{e}");
}

/// A bundle over leaves written by hand (not by a ledger), with a valid tree and checkpoint,
/// so that only the leaf rule under test is broken.
fn hand_made(s: &Synth, leaves: &[LoggedEntry]) -> Bundle {
    let bytes: Vec<Vec<u8>> = leaves.iter().map(LoggedEntry::to_leaf).collect();
    let hashes: Vec<_> = bytes.iter().map(|b| log::leaf_hash(b)).collect();
    assert_eq!(hashes.len(), 2, "two leaves: root is one node");
    let root = log::node_hash(&hashes[0], &hashes[1]);
    let cp = Checkpoint::new(&s.origin, 2, root).unwrap();
    let note = SignedCheckpoint::sign(&cp, &s.origin, s.log.signing_key()).unwrap();
    let charter = &leaves[0].envelope;
    Bundle {
        format: BUNDLE_FORMAT.into(),
        origin: s.origin.clone(),
        log_key: s.log.verifier().unwrap().to_string(),
        charter_hash: hex::encode(accord_ledger::charter_hash(charter)),
        checkpoint: String::from_utf8(note.to_bytes()).unwrap(),
        entries: vec![
            BundleEntry {
                index: 0,
                leaf: BASE64_STANDARD.encode(&bytes[0]),
                proof: vec![hashes[1]],
            },
            BundleEntry {
                index: 1,
                leaf: BASE64_STANDARD.encode(&bytes[1]),
                proof: vec![hashes[0]],
            },
        ],
    }
}

fn leaves(s: &mut Synth, charter_governance: u64, t0: &str, t1: &str) -> Vec<LoggedEntry> {
    vec![
        LoggedEntry {
            index: 0,
            logged_at: Timestamp::parse(t0).unwrap(),
            governance: charter_governance,
            envelope: s.charter(),
        },
        LoggedEntry {
            index: 1,
            logged_at: Timestamp::parse(t1).unwrap(),
            governance: 0,
            envelope: s.next_entry(),
        },
    ]
}

#[test]
fn hand_made_bundles_obey_the_leaf_rules() {
    let mut s = Synth::new(3, 9);
    let good = leaves(&mut s, 0, "2026-03-01T00:00:00Z", "2026-03-01T00:00:01Z");
    hand_made(&s, &good).verify(None, None).unwrap();

    let mut s = Synth::new(3, 9);
    let pointer = leaves(&mut s, 1, "2026-03-01T00:00:00Z", "2026-03-01T00:00:01Z");
    let e = hand_made(&s, &pointer)
        .verify(None, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("governance pointer is 1, not 0"), "{e}");

    // Earlier by string order would not catch this: ".5Z" sorts before "Z".
    let mut s = Synth::new(3, 9);
    let back = leaves(&mut s, 0, "2026-03-01T00:00:00.5Z", "2026-03-01T00:00:00Z");
    let e = hand_made(&s, &back)
        .verify(None, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("earlier than"), "{e}");
}
