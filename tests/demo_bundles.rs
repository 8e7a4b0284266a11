//! Every commitment of the demo exports as an audit bundle that verifies offline from the
//! charter hash, including those whose entries all come before the demo's key rotation
//! (issue #9: a cosigner that rotated its key after a bundle's last entry was refused).
#![allow(clippy::unwrap_used)]

mod common;

use common::Env;

#[test]
fn every_demo_commitment_bundle_verifies_after_a_later_key_rotation() {
    let env = Env::new();
    env.ok(&["demo", "--dir", "d"]);
    let ledger = ["--ledger", "d/ledger"];
    let verified = env.ok(&[ledger[0], ledger[1], "verify", "--json"]).json();
    let hash = verified["charter_hash"].as_str().unwrap().to_owned();
    let list = env.ok(&[ledger[0], ledger[1], "list", "--json"]);
    let ids: Vec<String> = list
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "commitment")
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(ids.len() >= 10, "{ids:?}");
    assert!(ids.iter().any(|i| i == "us-section301-magnets-2026"));
    for id in &ids {
        let out = format!("{id}.json");
        env.ok(&[
            ledger[0],
            ledger[1],
            "export",
            "--format",
            "bundle",
            "--commitment",
            id,
            "--out",
            &out,
        ]);
        let r = env.run(&["verify-bundle", &out, "--charter-hash", &hash]);
        assert_eq!(r.code, 0, "{id}: {}{}", r.stdout, r.stderr);
        // It names what it proved: the commitment and the headline of its terms.
        let shown = env.ok(&[ledger[0], ledger[1], "--json", "show", id]).json();
        let headline = shown["commitment"]["headline"].as_str().unwrap();
        assert!(
            r.stdout.contains(&format!("commitment {id}: ")),
            "{id}: {}",
            r.stdout
        );
        let proved_current = r.stdout.contains(&format!("({headline})"));
        assert!(proved_current, "{id}: no {headline:?} in {}", r.stdout);
    }
    // verify without a charter hash says what it did not check.
    let r = env.ok(&[ledger[0], ledger[1], "verify"]);
    assert!(r.stderr.contains("no --charter-hash given"), "{}", r.stderr);
    let r = env.ok(&[ledger[0], ledger[1], "verify", "--charter-hash", &hash]);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
}
