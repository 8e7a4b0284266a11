//! The ledger through its library API: append, reopen, import, proofs, checkpoints,
//! cosignatures, queries, verification and bundles.
#![allow(clippy::unwrap_used)]

use accord_core::governance::Rejection;
use accord_core::log;
use accord_ledger::query::Filter;
use accord_ledger::synth::Synth;
use accord_ledger::{verify, Ledger, LedgerError, VerifyError, VerifyOptions};
use proptest::prelude::*;

fn build(dir: &std::path::Path, n: usize) -> (Ledger, Synth) {
    let mut s = Synth::new(5, 1);
    let mut l = Ledger::create(dir, &s.charter()).unwrap();
    for _ in 0..n {
        l.append(&s.next_entry()).unwrap();
    }
    (l, s)
}

#[test]
fn reopen_gives_the_same_root_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let (l, _) = build(dir.path(), 40);
    let (root, size) = (l.root(), l.size());
    drop(l);
    let mut l = Ledger::open(dir.path()).unwrap();
    assert_eq!((l.root(), l.size()), (root, size));
    assert_eq!(l.root_at(size).unwrap(), root);
    assert_eq!(l.governance().unwrap().size(), size);
}

#[test]
fn proofs_verify_with_the_core_crate_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (l, _) = build(dir.path(), 33);
    for size in [1, 2, 7, 8, 9, 20, 34] {
        let root = l.root_at(size).unwrap();
        for i in 0..size {
            let p = l.inclusion_proof(i, Some(size)).unwrap();
            let leaf = l.entry(i).unwrap().leaf;
            log::verify_inclusion(&log::leaf_hash(&leaf), i, size, &p.proof, &root).unwrap();
        }
        for old in 1..=size {
            let p = l.consistency_proof(old, Some(size)).unwrap();
            log::verify_consistency(old, size, &p.old_root, &p.new_root, &p.proof).unwrap();
        }
    }
    assert!(matches!(
        l.inclusion_proof(34, None),
        Err(LedgerError::OutOfRange(_))
    ));
    assert!(matches!(
        l.consistency_proof(0, None),
        Err(LedgerError::OutOfRange(_))
    ));
}

#[test]
fn import_equals_appending_one_by_one() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let mut s = Synth::new(5, 2);
    let charter = s.charter();
    let entries: Vec<_> = (0..5000).map(|_| s.next_entry()).collect();
    let mut one = Ledger::create(a.path(), &charter).unwrap();
    for e in &entries[..300] {
        one.append(e).unwrap();
    }
    let mut bulk = Ledger::create(b.path(), &charter).unwrap();
    let mut seen = 0;
    let report = bulk
        .import(entries.iter().cloned().map(Ok), &mut |n| seen = n)
        .unwrap();
    assert_eq!(report.accepted, 5000);
    assert_eq!(seen, 5000);
    assert!(report.rejected.is_none());
    // Same leaves (but for the ledger's timestamps) in the same order, same governance.
    for i in 1..=300 {
        assert_eq!(
            one.entry(i).unwrap().entry.envelope,
            bulk.entry(i).unwrap().entry.envelope
        );
    }
    verify(&bulk, &VerifyOptions::default(), &mut |_, _| {}).unwrap();
}

/// An import writes each group while the next one is staged on it and its signatures are
/// checked: a bad signature in any group, the one in flight or the last, keeps exactly the
/// entries before it, and nothing staged after it.
#[test]
fn a_bad_signature_in_any_group_of_a_pipelined_import_keeps_exactly_what_came_before() {
    let mut s = Synth::new(4, 7);
    let charter = s.charter();
    let entries: Vec<_> = (0..7000).map(|_| s.next_entry()).collect();
    for bad in [0usize, 100, 2047, 2048, 2500, 4100, 6143, 6999] {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::create(dir.path(), &charter).unwrap();
        let mut input = entries.clone();
        let sig = &mut input[bad].signatures[0].sig;
        let mut bytes = sig.to_bytes();
        bytes[9] ^= 4;
        *sig = ed25519_dalek::Signature::from_bytes(&bytes);
        let mut seen = 0;
        let report = l
            .import(input.into_iter().map(Ok), &mut |n| seen = n)
            .unwrap();
        assert_eq!(report.accepted, bad as u64, "bad entry {bad}");
        assert_eq!(seen, bad as u64, "bad entry {bad}");
        let (pos, why) = report.rejected.unwrap();
        assert_eq!(pos, bad as u64);
        assert!(matches!(why, Rejection::BadSignature { .. }), "{why}");
        assert_eq!(l.size(), bad as u64 + 1);
        let root = l.root();
        drop(l);
        let l = Ledger::open(dir.path()).unwrap();
        assert_eq!((l.size(), l.root()), (bad as u64 + 1, root));
        verify(&l, &VerifyOptions::default(), &mut |_, _| {}).unwrap();
    }
}

/// Signature checks run before the group's turn ([`Preverified`], as the service runs them
/// in its handlers) change no outcome: with checks held for some entries, checks made over
/// another entry, or checks from a directory that lies about keys, every entry is accepted or
/// refused exactly as without them, and the tree is the same.
#[test]
fn checks_run_before_the_turn_decide_nothing_the_group_would_not() {
    use accord_core::governance::Preverified;
    let mut s = Synth::new(4, 11);
    let charter = s.charter();
    let mut envs: Vec<_> = (0..40).map(|_| s.next_entry()).collect();
    for bad in [3usize, 17, 39] {
        let other = envs[bad - 1].signatures.clone();
        envs[bad].signatures = other;
    }
    let plain = tempfile::tempdir().unwrap();
    let given = tempfile::tempdir().unwrap();
    let mut a = Ledger::create(plain.path(), &charter).unwrap();
    let mut b = Ledger::create(given.path(), &charter).unwrap();
    let keys = b.verifying_keys();
    assert_eq!(keys.len(), b.key_count());
    let any_key = *keys.values().next().unwrap();
    let pre: Vec<Option<Preverified>> = envs
        .iter()
        .enumerate()
        .map(|(i, e)| match i % 4 {
            0 => Some(Preverified::check(e, |k| keys.get(k).copied())),
            1 => Some(Preverified::check(&envs[(i + 1) % envs.len()], |k| {
                keys.get(k).copied()
            })),
            2 => Some(Preverified::check(e, |_| Some(any_key))),
            _ => None,
        })
        .collect();
    let (want, ga) = a.append_batch_deferred(&envs).unwrap();
    a.durability().settle(&ga).unwrap();
    let (got, gb) = b.append_batch_deferred_given(&envs, &pre).unwrap();
    b.durability().settle(&gb).unwrap();
    let outcome = |r: &Result<accord_ledger::Appended, LedgerError>| match r {
        Ok(x) => Ok((x.index, x.id.to_string())),
        Err(e) => Err(e.to_string()),
    };
    let want: Vec<_> = want.iter().map(outcome).collect();
    let got: Vec<_> = got.iter().map(outcome).collect();
    assert_eq!(got, want);
    assert!(want.iter().filter(|r| r.is_err()).count() >= 3);
    assert!(want[..3].iter().all(Result::is_ok), "{want:?}");
    let size = a.size();
    assert_eq!(b.size(), size);
    drop(b);
    let b = Ledger::open(given.path()).unwrap();
    assert_eq!(b.size(), size);
    verify(&b, &VerifyOptions::default(), &mut |_, _| {}).unwrap();
}

/// An import into a new ledger knows which ids it has met without asking the store; an id
/// met again is refused wherever it comes: in the same group, in a group staged but not yet
/// written, or after the state forgot what it learned (past a chain of groups), and so is an
/// id already in a ledger that held more than its charter.
#[test]
fn an_import_refuses_an_id_it_met_before_in_any_group() {
    let mut s = Synth::new(4, 9);
    let charter = s.charter();
    let entries: Vec<_> = (0..33_000).map(|_| s.next_entry()).collect();
    for (dup, at) in [
        (10usize, 100usize),
        (10, 5000),
        (2, 33_000),
        (32_000, 33_000),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::create(dir.path(), &charter).unwrap();
        let mut input = entries[..at].to_vec();
        input.push(entries[dup].clone());
        let report = l.import(input.into_iter().map(Ok), &mut |_| {}).unwrap();
        assert_eq!(report.accepted, at as u64, "entry {dup} again at {at}");
        let (pos, why) = report.rejected.unwrap();
        assert_eq!(pos, at as u64);
        assert!(matches!(why, Rejection::DuplicateId(_)), "{why}");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::create(dir.path(), &charter).unwrap();
    l.import(entries[..10].iter().cloned().map(Ok), &mut |_| {})
        .unwrap();
    let report = l
        .import(
            [entries[10].clone(), entries[3].clone()]
                .into_iter()
                .map(Ok),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(report.accepted, 1);
    assert!(matches!(
        report.rejected,
        Some((1, Rejection::DuplicateId(_)))
    ));
}

/// A restore that repeats lines of a group not yet written when it meets them (the group
/// before, staged and sealed) checks them against that group and skips them.
#[test]
fn a_restore_repeating_lines_of_the_unwritten_group_before_skips_them() {
    let src = tempfile::tempdir().unwrap();
    let mut s = Synth::new(4, 8);
    let mut l = Ledger::create(src.path(), &s.charter()).unwrap();
    let entries: Vec<_> = (0..6000).map(|_| s.next_entry()).collect();
    l.import(entries.into_iter().map(Ok), &mut |_| {}).unwrap();
    let mut out = Vec::new();
    l.export_jsonl(&mut out, None, &mut |_| {}).unwrap();
    let lines: Vec<&[u8]> = out
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), 6001);
    // Lines 0..5000, then 3000..3100 again (in the third group of the input, while the
    // second, entries 2048..4095, is staged but not written), then the rest.
    let order: Vec<&[u8]> = lines[..5000]
        .iter()
        .chain(&lines[3000..3100])
        .chain(&lines[5000..])
        .copied()
        .collect();
    let items: Vec<_> = order
        .iter()
        .map(|l| accord_ledger::export::parse_jsonl_line(l).unwrap())
        .collect();
    let dst = tempfile::tempdir().unwrap();
    let first = items[0].clone();
    let mut r = Ledger::create_at(
        dst.path(),
        &first.envelope,
        first.restore.as_ref().map(|r| r.logged_at.clone()),
    )
    .unwrap();
    let report = r.import(items.into_iter().map(Ok), &mut |_| {}).unwrap();
    assert!(report.rejected.is_none(), "{:?}", report.rejected);
    assert_eq!(report.skipped, 101);
    assert_eq!(report.accepted, 6000);
    assert_eq!((r.size(), r.root()), (l.size(), l.root()));
    verify(&r, &VerifyOptions::default(), &mut |_, _| {}).unwrap();
}

#[test]
fn import_stops_at_the_first_bad_entry_and_keeps_what_came_before() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Synth::new(4, 3);
    let mut l = Ledger::create(dir.path(), &s.charter()).unwrap();
    let mut entries: Vec<_> = (0..3000).map(|_| s.next_entry()).collect();
    // A bad signature deep inside the second group.
    let sig = &mut entries[2500].signatures[0].sig;
    let mut bytes = sig.to_bytes();
    bytes[5] ^= 1;
    *sig = ed25519_dalek::Signature::from_bytes(&bytes);
    let report = l
        .import(entries.iter().cloned().map(Ok), &mut |_| {})
        .unwrap();
    assert_eq!(report.accepted, 2500);
    let (pos, why) = report.rejected.unwrap();
    assert_eq!(pos, 2500);
    assert!(matches!(why, Rejection::BadSignature { .. }), "{why}");
    assert_eq!(l.size(), 2501);
    // The state was rebuilt: the remaining entries append after fixing the bad one.
    let mut fixed = entries[2500..].to_vec();
    fixed[0] = {
        let mut s2 = Synth::new(4, 3);
        let _ = s2.charter();
        let all: Vec<_> = (0..3000).map(|_| s2.next_entry()).collect();
        all[2500].clone()
    };
    let report = l.import(fixed.into_iter().map(Ok), &mut |_| {}).unwrap();
    assert_eq!(report.accepted, 500);
    verify(&l, &VerifyOptions::default(), &mut |_, _| {}).unwrap();
}

#[test]
fn a_rejected_entry_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut l, mut s) = build(dir.path(), 10);
    let before = (l.size(), l.root());
    let mut env = s.next_entry();
    env.payload[3] ^= 0x20;
    assert!(l.append(&env).is_err());
    let dup = l.entry(5).unwrap().entry.envelope;
    assert!(matches!(
        l.append(&dup),
        Err(LedgerError::Rejected(Rejection::DuplicateId(_)))
    ));
    assert_eq!((l.size(), l.root()), before);
    drop(l);
    let l = Ledger::open(dir.path()).unwrap();
    assert_eq!((l.size(), l.root()), before);
}

#[test]
fn checkpoints_cosignatures_verify_and_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let (mut l, s) = build(dir.path(), 60);
    let cp = l.issue_checkpoint(&s.log).unwrap();
    assert!(
        l.issue_checkpoint(&s.members[0]).is_err(),
        "only the log key signs checkpoints"
    );
    l.add_cosignature(cp.seq, &s.members[0], 1_800_000_000)
        .unwrap();
    l.add_cosignature(cp.seq, &s.members[2], 1_800_000_001)
        .unwrap();
    assert!(
        l.add_cosignature(cp.seq, &s.members[2], 1_800_000_002)
            .is_err(),
        "once per member"
    );
    assert!(
        l.add_cosignature(cp.seq, &s.log, 1).is_err(),
        "the log is not a member"
    );
    let cp = l.latest_checkpoint().unwrap().unwrap();
    assert_eq!(cp.cosigners.len(), 2);

    let r = verify(
        &l,
        &VerifyOptions {
            charter_hash: Some(l.charter_hash()),
            up_to: None,
        },
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(r.size, 61);
    assert_eq!(r.latest_cosigners.len(), 2);
    let wrong = VerifyOptions {
        charter_hash: Some([7; 32]),
        up_to: None,
    };
    assert!(matches!(
        verify(&l, &wrong, &mut |_, _| {}),
        Err(VerifyError::Failed { index: Some(0), .. })
    ));

    // A bundle of one commitment's history, with the governance it depends on.
    let views = l.commitments(&Filter::default()).unwrap();
    let target = views.iter().max_by_key(|v| v.history.len()).unwrap();
    let selected = l
        .select(
            &Filter {
                commitment: Some(target.id.to_string()),
                ..Filter::default()
            },
            false,
        )
        .unwrap();
    let bundle = l.export_bundle(&selected).unwrap();
    let report = bundle
        .verify(Some(l.log_key()), Some(l.charter_hash()))
        .unwrap();
    assert_eq!(report.cosigners.len(), 2);
    assert!(report.indexes.contains(&0));
    // Every changed byte that matters is caught: drop, reorder, swap the proof.
    let mut dropped = bundle.clone();
    dropped.entries.remove(0);
    assert!(dropped.verify(None, None).is_err());
    if bundle.entries.len() > 2 {
        let mut swapped = bundle.clone();
        swapped.entries.swap(1, 2);
        assert!(swapped.verify(None, None).is_err());
        let mut proof = bundle.clone();
        proof.entries[1].proof = bundle.entries[2].proof.clone();
        assert!(proof.verify(None, None).is_err());
    }
    let mut other_key = bundle.clone();
    other_key.log_key = s.members[0].verifier().unwrap().to_string();
    assert!(other_key.verify(None, None).is_err());
}

#[test]
fn queries_use_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let (mut l, s) = build(dir.path(), 200);
    let all = l.commitments(&Filter::default()).unwrap();
    assert!(all.len() > 50);
    let by_member = l
        .commitments(&Filter {
            member: Some(s.members[1].name().to_owned()),
            ..Filter::default()
        })
        .unwrap();
    assert!(!by_member.is_empty());
    assert!(by_member
        .iter()
        .all(|v| v.parties.iter().any(|p| p.as_str() == s.members[1].name())));
    let floors = l
        .commitments(&Filter {
            kind: Some("price_floor".into()),
            ..Filter::default()
        })
        .unwrap();
    assert!(floors.iter().all(|v| v.kind == "price_floor"));
    let amended: Vec<_> = all.iter().filter(|v| v.version > 1).collect();
    assert!(!amended.is_empty());
    let h = l.history(&amended[0].id).unwrap();
    assert_eq!(h.len(), amended[0].history.len());
    let summary = l.summary(time::macros::date!(2026 - 11 - 28)).unwrap();
    assert!(!summary.by_country.is_empty());
    let mut csv = Vec::new();
    let rows = l.export_csv(&mut csv, &Filter::default(), false).unwrap();
    assert_eq!(rows as usize, all.len());
    let mut csv = Vec::new();
    let rows = l.export_csv(&mut csv, &Filter::default(), true).unwrap();
    let versions: u32 = all.iter().map(|v| v.version).sum();
    assert_eq!(rows, u64::from(versions));
}

#[test]
fn a_second_process_is_told_the_ledger_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let (_l, _) = build(dir.path(), 1);
    match Ledger::open(dir.path()) {
        Err(LedgerError::InUse(p)) => assert_eq!(p, dir.path()),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened twice"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    /// Random appends against a reference tree computed from scratch.
    #[test]
    fn roots_and_proofs_match_a_reference(n in 1usize..90, probe in 0u64..1000) {
        let dir = tempfile::tempdir().unwrap();
        let (l, _) = build(dir.path(), n);
        let leaves: Vec<_> = (0..l.size()).map(|i| log::leaf_hash(&l.entry(i).unwrap().leaf)).collect();
        let mut f = log::Frontier::new();
        for (i, h) in leaves.iter().enumerate() {
            f.push(*h);
            prop_assert_eq!(l.root_at(i as u64 + 1).unwrap(), f.root());
        }
        let size = l.size();
        let i = probe % size;
        let p = l.inclusion_proof(i, None).unwrap();
        prop_assert!(log::verify_inclusion(&leaves[i as usize], i, size, &p.proof, &l.root()).is_ok());
    }
}

/// What a kill a few milliseconds into `create` leaves: sled's files (`blobs/ conf db`), no
/// head, nothing stored. It is recognised as a creation that never completed and created
/// afresh; files that are not the ledger's are left alone.
#[test]
fn a_creation_that_never_completed_is_created_afresh() {
    let dir = tempfile::tempdir().unwrap();
    drop(accord_ledger::store::SledStore::open(dir.path()).unwrap());
    assert!(dir.path().join("db").exists() && !dir.path().join("heads").exists());
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    assert!(matches!(
        Ledger::open(dir.path()),
        Err(LedgerError::NotALedger(_))
    ));
    let (l, _) = build(dir.path(), 3);
    drop(l);
    let l = Ledger::open(dir.path()).unwrap();
    verify(&l, &VerifyOptions::default(), &mut |_, _| {}).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("notes.txt")).unwrap(),
        "mine"
    );
}

/// A kill after the marker was written, at any later point before `create` returned: the
/// marker says so, `open` names it, and `create` starts over.
#[test]
fn a_creation_marker_means_incomplete_whatever_else_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let (l, _) = build(dir.path(), 2);
    drop(l);
    std::fs::write(dir.path().join(accord_ledger::ledger::CREATING), "").unwrap();
    assert!(matches!(
        Ledger::open(dir.path()),
        Err(LedgerError::Incomplete(_))
    ));
    let (l, _) = build(dir.path(), 5);
    assert_eq!(l.size(), 6);
    drop(l);
    let l = Ledger::open(dir.path()).unwrap();
    verify(&l, &VerifyOptions::default(), &mut |_, _| {}).unwrap();
    assert!(!dir.path().join(accord_ledger::ledger::CREATING).exists());
}

/// What a kill while sled writes its `conf` leaves (sled writes the settings, then their
/// checksum, in two writes, and reads a file missing the checksum as corrupt): the marker,
/// written before sled's first file, says the creation never completed, so `open` names it
/// instead of reporting sled's corruption, and `create` starts over. Found by
/// `tests/mirror.rs::a_mirror_killed_mid_sync_resumes_and_verifies` on a loaded machine.
#[test]
fn a_kill_while_sled_writes_its_settings_is_an_incomplete_creation() {
    let whole = tempfile::tempdir().unwrap();
    drop(build(whole.path(), 1));
    let conf = std::fs::read(whole.path().join("conf")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(accord_ledger::ledger::CREATING), "").unwrap();
    std::fs::write(dir.path().join("conf"), &conf[..conf.len() - 4]).unwrap();
    assert!(accord_ledger::store::SledStore::open(dir.path()).is_err());
    assert!(matches!(
        Ledger::open(dir.path()),
        Err(LedgerError::Incomplete(_))
    ));
    let (l, _) = build(dir.path(), 3);
    drop(l);
    let l = Ledger::open(dir.path()).unwrap();
    verify(&l, &VerifyOptions::default(), &mut |_, _| {}).unwrap();
    assert!(!dir.path().join(accord_ledger::ledger::CREATING).exists());

    // Without the marker, sled's unreadable files are not taken for a leftover: they are
    // reported, and left as they are.
    let bare = tempfile::tempdir().unwrap();
    std::fs::write(bare.path().join("conf"), &conf[..conf.len() - 4]).unwrap();
    let s = Synth::new(5, 1);
    match Ledger::create(bare.path(), &s.charter()) {
        Err(LedgerError::Store(e)) => assert!(e.to_string().contains("corrupt"), "{e}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("created over unreadable files"),
    }
    assert_eq!(
        std::fs::read(bare.path().join("conf")).unwrap(),
        &conf[..conf.len() - 4]
    );
}

/// A creation holds the marker's lock from before sled's first file: while it does, `open`
/// and `create` in another process are told the ledger is in use, and neither reads sled's
/// files nor takes them for a leftover.
#[test]
fn a_creation_under_way_is_in_use_not_a_leftover() {
    use fs2::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join(accord_ledger::ledger::CREATING);
    std::fs::write(&m, "").unwrap();
    std::fs::write(dir.path().join("conf"), "half").unwrap();
    let held = std::fs::File::open(&m).unwrap();
    held.try_lock_exclusive().unwrap();
    assert!(matches!(
        Ledger::open(dir.path()),
        Err(LedgerError::InUse(_))
    ));
    let s = Synth::new(5, 1);
    assert!(matches!(
        Ledger::create(dir.path(), &s.charter()),
        Err(LedgerError::InUse(_))
    ));
    assert_eq!(std::fs::read(dir.path().join("conf")).unwrap(), b"half");
    drop(held);
    let l = Ledger::create(dir.path(), &s.charter()).unwrap();
    assert_eq!(l.size(), 1);
}

#[test]
fn a_complete_ledger_or_a_store_holding_data_is_never_recreated() {
    let dir = tempfile::tempdir().unwrap();
    let (l, s) = build(dir.path(), 2);
    drop(l);
    assert!(matches!(
        Ledger::create(dir.path(), &s.charter()),
        Err(LedgerError::Exists(_))
    ));
    // Even with its head log gone, a store holding entries is a ledger.
    std::fs::remove_file(dir.path().join("heads")).unwrap();
    assert!(matches!(
        Ledger::create(dir.path(), &s.charter()),
        Err(LedgerError::Exists(_))
    ));
    assert_eq!(Ledger::open(dir.path()).unwrap().size(), 3);
}

#[test]
fn a_ledger_of_layout_1_is_refused_with_the_way_forward() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        let t = db.open_tree("accord").unwrap();
        t.insert(b"Mformat", b"accord-ledger/1".to_vec()).unwrap();
        t.insert(b"E\0\0\0\0\0\0\0\0", b"{}".to_vec()).unwrap();
        db.flush().unwrap();
    }
    let e = Ledger::open(dir.path()).err().expect("refused").to_string();
    assert!(e.contains("storage layout accord-ledger/1"), "{e}");
    assert!(
        e.contains("export --format jsonl") && e.contains("import"),
        "{e}"
    );
    // Nothing was changed: the old key is still there.
    let db = sled::open(dir.path()).unwrap();
    let t = db.open_tree("accord").unwrap();
    assert_eq!(
        t.get(b"Mformat").unwrap().unwrap().as_ref(),
        b"accord-ledger/1"
    );
}
