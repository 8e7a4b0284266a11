//! The governance state machine, one test per rejection, plus the happy paths.
#![allow(clippy::unwrap_used)]

use accord_core::envelope::Envelope;
use accord_core::governance::{
    Preverified, Rejection, ReplayError, Signatures, State, REPLAY_CHUNK,
};
use accord_core::keys::KeyPair;
use serde_json::{json, Value};

const ORIGIN: &str = "test.example/ledger";

fn key(name: &str, n: u8) -> KeyPair {
    KeyPair::from_seed(name, &[n; 32]).unwrap()
}

struct World {
    jp: KeyPair,
    us: KeyPair,
    de: KeyPair,
    log: KeyPair,
    state: State,
}

fn member(k: &KeyPair, country: &str) -> Value {
    json!({"id": k.name(), "country": country, "institution": format!("{} ministry", k.name()),
           "role": "ministry", "key": k.verifier().unwrap().to_string()})
}

fn payload(ty: &str, id: &str, body: Value) -> Value {
    let mut p =
        json!({"ledger": ORIGIN, "type": ty, "id": id, "signed_at": "2026-01-13T12:00:00Z"});
    for (k, v) in body.as_object().unwrap() {
        p[k] = v.clone();
    }
    p
}

fn signed(p: &Value, keys: &[&KeyPair]) -> Envelope {
    let mut env = Envelope::new(serde_json::to_vec(p).unwrap());
    for k in keys {
        env.sign(k);
    }
    env
}

fn terms(kind: &str) -> Value {
    let measure = match kind {
        "price_floor" => {
            json!({"kind": "price_floor", "price": {"amount": "110.00", "currency": "USD", "unit": "kg"},
                                "basis": "NdPr oxide benchmark", "mechanism": "contract_for_difference"})
        }
        _ => {
            json!({"kind": "financing_pledge", "institution": "KfW", "amount": {"amount": "1000000000", "currency": "EUR"},
                    "instrument": "fund", "target": "raw materials projects"})
        }
    };
    json!({"title": "t", "commodity": "rare-earths/ndpr-oxide", "stage": "separation",
           "effective": {"from": "2025-10-01", "until": "2035-09-30"}, "instrument": "agreement",
           "sources": [{"url": "https://example.org/a", "sha256": null}], "measure": measure})
}

fn charter_payload(
    jp: &KeyPair,
    us: &KeyPair,
    de: &KeyPair,
    log: &KeyPair,
    threshold: u32,
) -> Value {
    payload(
        "charter",
        "charter",
        json!({"name": "Test group", "log_key": log.verifier().unwrap().to_string(),
               "members": [member(jp, "JP"), member(us, "US"), member(de, "DE")],
               "policy": {"membership_threshold": threshold, "joint_commitments": {"rule": "all_parties"}}}),
    )
}

fn world() -> World {
    let (jp, us, de) = (key("JP-MOF", 1), key("US-TREASURY", 2), key("DE-BMWK", 3));
    let log = key(ORIGIN, 9);
    let charter = charter_payload(&jp, &us, &de, &log, 2);
    let state = State::from_charter(&signed(&charter, &[&jp, &us, &de])).unwrap();
    World {
        jp,
        us,
        de,
        log,
        state,
    }
}

fn commitment(id: &str, parties: &[&KeyPair], signers: &[&KeyPair]) -> Envelope {
    let parties: Vec<&str> = parties.iter().map(|k| k.name()).collect();
    signed(
        &payload(
            "commitment",
            id,
            json!({"parties": parties, "terms": terms("price_floor")}),
        ),
        signers,
    )
}

#[test]
fn charter_needs_every_founder() {
    let w = world();
    let env = signed(
        &charter_payload(&w.jp, &w.us, &w.de, &w.log, 2),
        &[&w.jp, &w.us],
    );
    assert_eq!(
        State::from_charter(&env).unwrap_err(),
        Rejection::MissingPartySignature {
            missing: vec!["DE-BMWK".parse().unwrap()]
        }
    );
    assert_eq!(w.state.size(), 1);
}

#[test]
fn joint_commitment_needs_every_party_and_only_parties() {
    let mut w = world();
    let ok = commitment("joint-1", &[&w.jp, &w.us], &[&w.jp, &w.us]);
    w.state.apply(&ok).unwrap();
    let missing = commitment("joint-2", &[&w.jp, &w.us], &[&w.jp]);
    assert_eq!(
        w.state.apply(&missing).unwrap_err(),
        Rejection::MissingPartySignature {
            missing: vec!["US-TREASURY".parse().unwrap()]
        }
    );
    let extra = commitment("joint-3", &[&w.jp], &[&w.jp, &w.de]);
    assert!(matches!(
        w.state.apply(&extra).unwrap_err(),
        Rejection::SignerNotParty { .. }
    ));
    let dup = commitment("joint-1", &[&w.jp], &[&w.jp]);
    assert!(matches!(
        w.state.apply(&dup).unwrap_err(),
        Rejection::DuplicateId(_)
    ));
    assert_eq!(w.state.size(), 2);
}

#[test]
fn unknown_key_bad_signature_and_replay_are_refused() {
    let mut w = world();
    let stranger = key("JP-MOF", 77);
    let env = commitment("c1", &[&w.jp], &[&stranger]);
    assert!(matches!(
        w.state.apply(&env).unwrap_err(),
        Rejection::UnknownSigner { .. }
    ));

    let mut forged = commitment("c1", &[&w.jp], &[&w.jp]);
    forged.payload[10] ^= 1;
    let err = w.state.apply(&forged).unwrap_err();
    assert!(
        matches!(
            err,
            Rejection::BadSignature { .. } | Rejection::Malformed(_)
        ),
        "{err:?}"
    );

    let mut p = payload(
        "commitment",
        "c1",
        json!({"parties": ["JP-MOF"], "terms": terms("price_floor")}),
    );
    p["ledger"] = json!("other.example/ledger");
    let replay = signed(&p, &[&w.jp]);
    assert!(matches!(
        w.state.apply(&replay).unwrap_err(),
        Rejection::WrongLedger { .. }
    ));

    let mut swapped = commitment("c1", &[&w.jp], &[&w.jp]);
    swapped.payload_type = "application/vnd.in-toto+json".into();
    assert!(matches!(
        w.state.apply(&swapped).unwrap_err(),
        Rejection::WrongPayloadType { .. }
    ));
    assert_eq!(w.state.size(), 1);
}

#[test]
fn lifecycle_entries_are_authorised_against_the_parties() {
    let mut w = world();
    w.state
        .apply(&commitment("floor", &[&w.jp, &w.us], &[&w.jp, &w.us]))
        .unwrap();
    let amend = |signers: &[&KeyPair], kind: &str, id: &str| {
        signed(
            &payload(
                "amend",
                id,
                json!({"target": "floor", "reason": "update", "terms": terms(kind)}),
            ),
            signers,
        )
    };
    assert!(matches!(
        w.state
            .apply(&amend(&[&w.jp, &w.us, &w.de], "price_floor", "a0"))
            .unwrap_err(),
        Rejection::SignerNotParty { .. }
    ));
    assert!(matches!(
        w.state
            .apply(&amend(&[&w.jp, &w.us], "financing_pledge", "a0"))
            .unwrap_err(),
        Rejection::KindChanged { .. }
    ));
    w.state
        .apply(&amend(&[&w.jp, &w.us], "price_floor", "a1"))
        .unwrap();
    let progress = signed(
        &payload(
            "progress",
            "p1",
            json!({"target": "floor", "as_of": "2026-03-31",
        "metric": "disbursed", "amount": "5000000", "unit": "USD"}),
        ),
        &[&w.us],
    );
    w.state.apply(&progress).unwrap();
    let by_non_party = signed(
        &payload(
            "progress",
            "p2",
            json!({"target": "floor", "as_of": "2026-03-31",
        "metric": "disbursed", "amount": "1", "unit": "USD"}),
        ),
        &[&w.de],
    );
    assert!(matches!(
        w.state.apply(&by_non_party).unwrap_err(),
        Rejection::SignerNotParty { .. }
    ));
    let withdraw = signed(
        &payload(
            "withdraw",
            "w1",
            json!({"target": "floor", "reason": "done"}),
        ),
        &[&w.jp, &w.us],
    );
    w.state.apply(&withdraw).unwrap();
    assert!(matches!(
        w.state
            .apply(&amend(&[&w.jp, &w.us], "price_floor", "a2"))
            .unwrap_err(),
        Rejection::CommitmentWithdrawn(_)
    ));
    let unknown = signed(
        &payload("withdraw", "w2", json!({"target": "nope", "reason": "x"})),
        &[&w.jp],
    );
    assert!(matches!(
        w.state.apply(&unknown).unwrap_err(),
        Rejection::UnknownCommitment(_)
    ));
}

#[test]
fn rotation_needs_threshold_and_proof_of_possession() {
    let mut w = world();
    let new = key("JP-MOF", 11);
    let rotate = |id: &str, signers: &[&KeyPair]| {
        signed(
            &payload(
                "rotate_key",
                id,
                json!({"member": "JP-MOF", "new_key": new.verifier().unwrap().to_string()}),
            ),
            signers,
        )
    };
    assert!(matches!(
        w.state.apply(&rotate("r0", &[&w.jp, &w.us])).unwrap_err(),
        Rejection::NoProofOfPossession { .. }
    ));
    // One key signing twice counts once.
    let mut twice = rotate("r0", &[&w.jp, &new]);
    twice.signatures.push(twice.signatures[0].clone());
    assert_eq!(
        w.state.apply(&twice).unwrap_err(),
        Rejection::ThresholdNotMet { have: 1, need: 2 }
    );
    w.state.apply(&rotate("r1", &[&w.jp, &w.us, &new])).unwrap();
    // The old key now signs nothing; what it signed before stays.
    let old = commitment("after", &[&w.jp], &[&w.jp]);
    assert!(matches!(
        w.state.apply(&old).unwrap_err(),
        Rejection::RotatedKey { .. }
    ));
    w.state
        .apply(&commitment("after", &[&w.jp], &[&new]))
        .unwrap();
}

#[test]
fn revoked_and_removed_members_sign_nothing_after() {
    let mut w = world();
    w.state
        .apply(&commitment("before", &[&w.de], &[&w.de]))
        .unwrap();
    let revoke = signed(
        &payload(
            "revoke_key",
            "rv",
            json!({"member": "DE-BMWK",
        "key": w.de.verifier().unwrap().to_string(), "reason": "compromised"}),
        ),
        &[&w.de],
    );
    w.state.apply(&revoke).unwrap();
    assert!(matches!(
        w.state
            .apply(&commitment("after", &[&w.de], &[&w.de]))
            .unwrap_err(),
        Rejection::RevokedKey { .. }
    ));
    let remove = signed(
        &payload(
            "remove_member",
            "rm",
            json!({"member": "US-TREASURY", "reason": "left"}),
        ),
        &[&w.jp, &w.us],
    );
    w.state.apply(&remove).unwrap();
    assert!(matches!(
        w.state
            .apply(&commitment("us", &[&w.us], &[&w.us]))
            .unwrap_err(),
        Rejection::RemovedMember { .. }
    ));
    assert!(matches!(
        w.state
            .apply(&commitment("jp-us", &[&w.jp, &w.us], &[&w.jp]))
            .unwrap_err(),
        Rejection::PartyNotMember(_)
    ));
}

#[test]
fn admission_refuses_a_shared_key_and_needs_the_new_key() {
    let mut w = world();
    let fr = key("FR-DGT", 5);
    let admit = |id: &str, k: &KeyPair, signers: &[&KeyPair]| {
        signed(
            &payload("admit_member", id, json!({"member": member(k, "FR")})),
            signers,
        )
    };
    // Two ids sharing one key: FR presents JP's key under its own name.
    let jp_key_as_fr = KeyPair::from_seed("FR-DGT", &[1; 32]).unwrap();
    assert!(matches!(
        w.state
            .apply(&admit("a0", &jp_key_as_fr, &[&w.jp, &w.us, &jp_key_as_fr]))
            .unwrap_err(),
        Rejection::KeyInUse(_)
    ));
    assert!(matches!(
        w.state.apply(&admit("a0", &fr, &[&w.jp, &fr])).unwrap_err(),
        Rejection::ThresholdNotMet { have: 1, need: 2 }
    ));
    w.state
        .apply(&admit("a1", &fr, &[&w.jp, &w.us, &fr]))
        .unwrap();
    w.state.apply(&commitment("fr", &[&fr], &[&fr])).unwrap();
}

#[test]
fn unknown_fields_and_kinds_are_named() {
    let mut w = world();
    let mut t = terms("price_floor");
    t["measure"]["colour"] = json!("blue");
    let env = signed(
        &payload(
            "commitment",
            "c",
            json!({"parties": ["JP-MOF"], "terms": t}),
        ),
        &[&w.jp],
    );
    let err = w.state.apply(&env).unwrap_err().to_string();
    assert!(err.contains("colour"), "{err}");
    let mut t = terms("price_floor");
    t["measure"]["kind"] = json!("moon_base");
    let env = signed(
        &payload(
            "commitment",
            "c",
            json!({"parties": ["JP-MOF"], "terms": t}),
        ),
        &[&w.jp],
    );
    let err = w.state.apply(&env).unwrap_err().to_string();
    assert!(err.contains("moon_base"), "{err}");
    let env = signed(&payload("treaty", "c", json!({})), &[&w.jp]);
    let err = w.state.apply(&env).unwrap_err().to_string();
    assert!(err.contains("treaty"), "{err}");
    let env = signed(
        &payload(
            "commitment",
            "c",
            json!({"parties": ["JP-MOF"], "terms": terms("price_floor"), "extra": 1}),
        ),
        &[&w.jp],
    );
    let err = w.state.apply(&env).unwrap_err().to_string();
    assert!(err.contains("extra"), "{err}");
    let mut t = terms("price_floor");
    t["measure"]["price"]["amount"] = json!(110.0);
    let env = signed(
        &payload(
            "commitment",
            "c",
            json!({"parties": ["JP-MOF"], "terms": t}),
        ),
        &[&w.jp],
    );
    assert!(matches!(
        w.state.apply(&env).unwrap_err(),
        Rejection::Malformed(_)
    ));
}

#[test]
fn a_withdrawal_by_a_non_party_is_refused() {
    let mut w = world();
    w.state
        .apply(&commitment("floor", &[&w.jp], &[&w.jp]))
        .unwrap();
    let by_de = signed(
        &payload(
            "withdraw",
            "w",
            json!({"target": "floor", "reason": "not mine"}),
        ),
        &[&w.de],
    );
    assert!(matches!(
        w.state.apply(&by_de).unwrap_err(),
        Rejection::SignerNotParty { .. }
    ));
}

#[test]
fn a_charter_with_two_ids_sharing_one_key_is_refused() {
    let w = world();
    let twin = KeyPair::from_seed("US-TREASURY", &[1; 32]).unwrap(); // JP-MOF's key bytes
    let p = charter_payload(&w.jp, &twin, &w.de, &w.log, 2);
    let err = State::from_charter(&signed(&p, &[&w.jp, &twin, &w.de])).unwrap_err();
    assert!(err.to_string().contains("already used"), "{err}");
}

#[test]
fn a_revoked_key_cannot_sign_its_own_rotation_but_a_threshold_can() {
    let mut w = world();
    let revoke = signed(
        &payload(
            "revoke_key",
            "rv",
            json!({"member": "JP-MOF",
        "key": w.jp.verifier().unwrap().to_string(), "reason": "lost"}),
        ),
        &[&w.jp],
    );
    w.state.apply(&revoke).unwrap();
    let new = key("JP-MOF", 12);
    let rotate = |signers: &[&KeyPair]| {
        signed(
            &payload(
                "rotate_key",
                "r",
                json!({"member": "JP-MOF",
        "new_key": new.verifier().unwrap().to_string()}),
            ),
            signers,
        )
    };
    assert!(matches!(
        w.state.apply(&rotate(&[&w.jp, &new])).unwrap_err(),
        Rejection::RevokedKey { .. }
    ));
    w.state.apply(&rotate(&[&w.us, &w.de, &new])).unwrap();
    w.state
        .apply(&commitment("back", &[&w.jp], &[&new]))
        .unwrap();
}

/// A log of the charter and `n` single-party commitments by JP, spanning several replay
/// chunks.
fn long_log(w: &World, n: usize) -> Vec<Envelope> {
    let charter = signed(
        &charter_payload(&w.jp, &w.us, &w.de, &w.log, 2),
        &[&w.jp, &w.us, &w.de],
    );
    let mut log = vec![charter];
    for i in 1..=n {
        log.push(commitment(&format!("c{i}"), &[&w.jp], &[&w.jp]));
    }
    log
}

/// `env` with the signatures of another entry: each one's keyid is right, its bytes are not.
fn with_foreign_signature(env: &Envelope, other: &Envelope) -> Envelope {
    let mut e = env.clone();
    e.signatures = other.signatures.clone();
    e
}

#[test]
fn replay_reaches_the_state_of_one_by_one_apply() {
    let w = world();
    let log = long_log(&w, 2 * REPLAY_CHUNK + 5);
    let mut one_by_one = State::from_charter(&log[0]).unwrap();
    for env in &log[1..] {
        one_by_one.apply(env).unwrap();
    }
    let replayed = State::replay(&log, Signatures::Verify).unwrap();
    assert_eq!(replayed.size(), one_by_one.size());
    assert_eq!(replayed.size(), log.len() as u64);
    let last = format!("c{}", log.len() - 1).parse().unwrap();
    assert!(replayed.has_id(&last));
    assert!(replayed.commitment(&last).is_some());
}

#[test]
fn replay_names_the_first_bad_entry_even_when_a_later_one_is_rejected_in_the_same_chunk() {
    let w = world();
    let mut log = long_log(&w, 2 * REPLAY_CHUNK);
    let bad = REPLAY_CHUNK + 7;
    log[bad] = with_foreign_signature(&log[bad], &log[bad + 1]);
    // A later entry in the same chunk that governance refuses: the bad signature comes first.
    log[bad + 20] = log[3].clone();
    let err = State::replay(&log, Signatures::Verify).unwrap_err();
    assert_eq!(err.index, bad as u64);
    assert!(
        matches!(err.rejection, Rejection::BadSignature { index: 0, .. }),
        "{err:?}"
    );

    // Only the governance rejection: it is named with its index.
    let mut log = long_log(&w, 2 * REPLAY_CHUNK);
    log[bad + 20] = log[3].clone();
    assert_eq!(
        State::replay(&log, Signatures::Verify).unwrap_err(),
        ReplayError {
            index: (bad + 20) as u64,
            rejection: Rejection::DuplicateId("c3".parse().unwrap()),
        }
    );
}

#[test]
fn replay_checks_the_charter_and_refuses_an_empty_log() {
    let w = world();
    let mut log = long_log(&w, 3);
    let err = State::replay(&log[..0], Signatures::Verify).unwrap_err();
    assert_eq!(err.index, 0);
    log[0] = with_foreign_signature(&log[0], &log[1]);
    let err = State::replay(&log, Signatures::Verify).unwrap_err();
    assert_eq!(err.index, 0, "{err}");
    let commitment_first = State::replay(&log[1..], Signatures::Skip).unwrap_err();
    assert!(matches!(
        commitment_first.rejection,
        Rejection::NotACharter { .. }
    ));
}

#[test]
fn replay_without_signature_checks_decides_governance_only() {
    // For a ledger's own store, whose signatures were verified on append and are audited
    // by `verify`: governance is still decided, the Ed25519 equations are not.
    let w = world();
    let mut log = long_log(&w, 10);
    log[4] = with_foreign_signature(&log[4], &log[5]);
    assert_eq!(State::replay(&log, Signatures::Skip).unwrap().size(), 11);
    log[6] = log[2].clone();
    assert_eq!(State::replay(&log, Signatures::Skip).unwrap_err().index, 6);
}

#[test]
fn replay_rest_continues_from_a_state() {
    let w = world();
    let log = long_log(&w, 30);
    let head = State::replay(&log[..10], Signatures::Verify).unwrap();
    let all = head.replay_rest(&log[10..], Signatures::Verify).unwrap();
    assert_eq!(all.size(), 31);
}

// --- The state at rest: snapshot plus learned history ------------------------------------

#[test]
fn a_snapshot_reopens_to_the_same_state_and_decides_the_same() {
    let mut w = world();
    w.state
        .apply(&commitment("c-1", &[&w.jp], &[&w.jp]))
        .unwrap();
    let new_us = key("US-TREASURY", 22);
    let rot = payload(
        "rotate_key",
        "rot-us",
        json!({"member": "US-TREASURY", "new_key": new_us.verifier().unwrap().to_string()}),
    );
    w.state
        .apply(&signed(&rot, &[&w.jp, &w.us, &new_us]))
        .unwrap();
    let rev = payload(
        "revoke_key",
        "rev-de",
        json!({"member": "DE-BMWK", "key": w.de.verifier().unwrap().to_string(), "reason": "lost"}),
    );
    w.state.apply(&signed(&rev, &[&w.de])).unwrap();
    let snap = w.state.snapshot(3);
    let (mut s, through) = State::from_snapshot(&snap, w.state.size()).unwrap();
    assert_eq!(through, 3);
    assert_eq!(s.snapshot(3), snap, "one state, one snapshot");
    assert!(s.needs_history());

    // Not told about an id: no verdict at all, rather than a wrong one.
    let dup = commitment("c-1", &[&w.jp], &[&w.jp]);
    assert!(matches!(s.check(4, &dup), Err(Rejection::Unprepared(_))));
    let c1: accord_core::model::EntryId = "c-1".parse().unwrap();
    s.learn(&c1, true, w.state.commitment(&c1).cloned());
    assert_eq!(
        s.check(4, &dup).unwrap_err(),
        Rejection::DuplicateId(c1.clone())
    );
    // A lifecycle entry needs its target learned too; then the same verdict as the replay.
    let progress = signed(
        &payload(
            "progress",
            "p-1",
            json!({"target": "c-1", "as_of": "2026-06-30", "metric": "disbursed", "amount": "5", "unit": "USD"}),
        ),
        &[&w.jp],
    );
    assert!(matches!(
        s.check(4, &progress),
        Err(Rejection::Unprepared(_))
    ));
    s.learn(&"p-1".parse().unwrap(), false, None);
    s.apply(&progress).unwrap();
    w.state.apply(&progress).unwrap();
    // The rotated and revoked keys sign nothing in the reopened state either.
    let by_old = commitment("c-2", &[&w.us], &[&w.us]);
    s.learn(&"c-2".parse().unwrap(), false, None);
    assert_eq!(
        s.check(5, &by_old).unwrap_err(),
        w.state.check(5, &by_old).unwrap_err()
    );

    // Records round-trip; tampered ones are refused.
    let rec = w.state.commitment(&c1).unwrap();
    assert_eq!(
        &accord_core::governance::CommitmentState::from_bytes(&rec.to_bytes()).unwrap(),
        rec
    );
    let text = String::from_utf8(snap).unwrap();
    for bad in [
        text.replacen("accord-governance/1", "accord-governance/9", 1),
        text.replacen("\"status\":\"current\"", "\"status\":\"bogus\"", 1),
        text.replacen("{\"format\"", "{\"format\":\"x\",\"format\"", 1),
    ] {
        assert!(State::from_snapshot(bad.as_bytes(), 6).is_err(), "{bad}");
    }
    assert!(
        State::from_snapshot(text.as_bytes(), 3).is_err(),
        "through beyond the log"
    );
}

fn vk(k: &KeyPair) -> ed25519_dalek::VerifyingKey {
    *k.verifier().unwrap().verifying_key()
}

/// Checks run before an entry's turn only spare the writer a check it would have run
/// itself, for the same key, signature and message; they never grant anything.
#[test]
fn preverified_checks_skip_only_what_they_hold() {
    let w = world();
    let keys = w.state.verifying_keys();
    assert_eq!(keys.len(), w.state.key_count());
    let lookup = |k: &str| keys.get(k).copied();

    let good = commitment("c1", &[&w.jp], &[&w.jp]);
    let pre = Preverified::check(&good, lookup);
    assert_eq!(pre.verified(), 1);
    let owed = w.state.check(1, &good).unwrap();
    assert_eq!(owed.owed().verify_given(Some(&pre)), Ok(()));

    // Another entry's signature: not held by its own checks, refused by the writer's.
    let other = commitment("c2", &[&w.jp], &[&w.jp]);
    let forged = with_foreign_signature(&good, &other);
    let pre_forged = Preverified::check(&forged, lookup);
    assert_eq!(
        pre_forged.verified(),
        0,
        "a foreign signature does not verify"
    );
    let owed = w.state.check(1, &forged).unwrap();
    assert!(matches!(
        owed.owed().verify_given(Some(&pre_forged)),
        Err(Rejection::BadSignature { .. })
    ));
    // ... nor by the checks of the entry the signature came from (another message).
    let pre_other = Preverified::check(&other, lookup);
    assert_eq!(pre_other.verified(), 1);
    assert!(matches!(
        owed.owed().verify_given(Some(&pre_other)),
        Err(Rejection::BadSignature { .. })
    ));

    // A lying directory (a stranger's key under JP-MOF's keyid) makes its check hold for the
    // stranger's key, not for the key governance asks for.
    let stranger = key("JP-MOF", 77);
    let mut by_stranger = Envelope::new(good.payload.clone());
    by_stranger.sign(&stranger);
    by_stranger.signatures[0].keyid = w.jp.keyid();
    let liar = Preverified::check(&by_stranger, |_| Some(vk(&stranger)));
    assert_eq!(
        liar.verified(),
        1,
        "the stranger's signature verifies under its own key"
    );
    let owed = w.state.check(1, &by_stranger).unwrap();
    assert!(matches!(
        owed.owed().verify_given(Some(&liar)),
        Err(Rejection::BadSignature { .. })
    ));
    assert!(matches!(
        owed.owed().verify(),
        Err(Rejection::BadSignature { .. })
    ));
}
