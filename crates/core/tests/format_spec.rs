//! docs/FORMAT.md and the code say the same thing: one test per rule that section 1 to 9
//! settles, each named after what it guards (issue #9, "Spec and binary agree").
#![allow(clippy::unwrap_used)]

use accord_core::envelope::Envelope;
use accord_core::governance::{Rejection, State};
use accord_core::keys::KeyPair;
use accord_core::model::{Amount, Currency, Date, Payload, Timestamp, Url};
use serde_json::{json, Value};

const ORIGIN: &str = "spec.example/ledger";

fn key(name: &str, n: u8) -> KeyPair {
    KeyPair::from_seed(name, &[n; 32]).unwrap()
}

fn member(k: &KeyPair, country: &str) -> Value {
    json!({"id": k.name(), "country": country, "institution": format!("{} ministry", k.name()),
           "role": "ministry", "key": k.verifier().unwrap().to_string()})
}

fn charter(members: &[(&KeyPair, &str)], policy: Value) -> Value {
    let log = key(ORIGIN, 200);
    json!({"ledger": ORIGIN, "type": "charter", "id": "charter", "signed_at": "2026-01-13T12:00:00Z",
           "name": "Spec group", "log_key": log.verifier().unwrap().to_string(),
           "members": members.iter().map(|(k, c)| member(k, c)).collect::<Vec<_>>(),
           "policy": policy})
}

fn commitment(sources: Value) -> Value {
    json!({"ledger": ORIGIN, "type": "commitment", "id": "c1", "signed_at": "2026-01-13T12:00:00Z",
           "parties": ["JP-MOF"],
           "terms": {"title": "t", "commodity": "gallium", "stage": "refining",
                     "effective": {"from": "2026-01-01"}, "instrument": "i", "sources": sources,
                     "measure": {"kind": "stockpile", "days_of_supply": "60"}}})
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

fn signed(p: &Value, keys: &[&KeyPair]) -> Envelope {
    let mut env = Envelope::new(bytes(p));
    for k in keys {
        env.sign(k);
    }
    env
}

// --- Section 4: one reading of the signed bytes -------------------------------------------

#[test]
fn duplicate_members_are_refused_in_payloads_at_every_depth() {
    let good = bytes(&commitment(
        json!([{"url": "https://example.org/a", "sha256": null}]),
    ));
    Payload::from_bytes(&good).unwrap();
    let text = String::from_utf8(good).unwrap();
    for (from, to) in [
        (r#""id":"c1""#, r#""id":"c1","id":"c2""#),
        (
            r#""days_of_supply":"60""#,
            r#""days_of_supply":"60","days_of_supply":"6000""#,
        ),
        (
            r#""url":"https://example.org/a""#,
            r#""url":"https://example.org/a","url":"https://evil.example/b""#,
        ),
        (
            r#""parties":["JP-MOF"]"#,
            r#""parties":["JP-MOF"],"parties":["US-TREASURY"]"#,
        ),
    ] {
        let twice = text.replacen(from, to, 1);
        assert_ne!(twice, text);
        let e = Payload::from_bytes(twice.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("duplicate member"), "{twice}: {e}");
    }
}

#[test]
fn duplicate_members_are_refused_in_envelopes() {
    let k = key("JP-MOF", 1);
    let env = signed(
        &commitment(json!([{"url": "https://example.org/a"}])),
        &[&k],
    );
    let text = String::from_utf8(env.to_json()).unwrap();
    let twice = text.replacen(r#""payload":"#, r#""payload":"e30=","payload":"#, 1);
    let e = Envelope::from_json(twice.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(e.contains("duplicate"), "{e}");
    let sig = text.replacen(r#""keyid":"#, r#""keyid":"X+00000000","keyid":"#, 1);
    let e = Envelope::from_json(sig.as_bytes()).unwrap_err().to_string();
    assert!(e.contains("duplicate"), "{e}");
}

#[test]
fn schema_errors_name_the_json_path() {
    let mut p = commitment(json!([{"url": "https://example.org/a"}]));
    p["terms"]["measure"]["days_of_supply"] = json!(60);
    let e = Payload::from_bytes(&bytes(&p)).unwrap_err().to_string();
    assert!(e.contains("terms.measure"), "{e}");
    let mut p = commitment(json!([{"url": "https://example.org/a"}]));
    p["terms"]["effective"]["from"] = json!("2026-1-1");
    let e = Payload::from_bytes(&bytes(&p)).unwrap_err().to_string();
    assert!(e.contains("terms.effective.from"), "{e}");
    assert!(e.contains("YYYY-MM-DD"), "{e}");
}

#[test]
fn sha256_of_a_source_may_be_omitted_or_null_but_not_upper_case() {
    for sources in [
        json!([{"url": "https://example.org/a"}]),
        json!([{"url": "https://example.org/a", "sha256": null}]),
        json!([{"url": "https://example.org/a", "sha256": "ab".repeat(32)}]),
    ] {
        Payload::from_bytes(&bytes(&commitment(sources))).unwrap();
    }
    let upper = json!([{"url": "https://example.org/a", "sha256": "AB".repeat(32)}]);
    assert!(Payload::from_bytes(&bytes(&commitment(upper))).is_err());
}

// --- Section 1: values --------------------------------------------------------------------

#[test]
fn amounts_have_at_most_28_digits() {
    let d28 = "1".repeat(28);
    Amount::parse(&d28).unwrap();
    Amount::parse(&format!("0.{}", "1".repeat(28))).unwrap();
    Amount::parse(&format!("{}.{}", "9".repeat(14), "9".repeat(14))).unwrap();
    // rust_decimal alone would take 29 digits below 2^96 (79228162514264337593543950335).
    assert!(Amount::parse("79228162514264337593543950335").is_err());
    assert!(Amount::parse(&"1".repeat(29)).is_err());
    assert!(Amount::parse(&format!("1.{}", "0".repeat(28))).is_err());
}

#[test]
fn currencies_are_iso_4217_list_one_of_2026() {
    for ok in [
        "USD", "EUR", "JPY", "XDR", "VED", "XCG", "CHE", "USN", "BGN",
    ] {
        Currency::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for bad in ["ANG", "XAU", "XTS", "XXX", "HRK", "SLL", "usd", "US"] {
        assert!(Currency::parse(bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn times_are_rfc_3339_in_one_spelling() {
    for ok in [
        "2026-01-13T15:00:00Z",
        "2026-01-13T15:00:00.5Z",
        "2026-01-13T15:00:00.123456789Z",
        "0001-01-01T00:00:00Z",
    ] {
        Timestamp::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for bad in [
        "2026-01-13 15:00:00Z",
        "2026-01-13t15:00:00Z",
        "2026-01-13T15:00:00z",
        "2026-01-13T15:00Z",
        "2026-01-13T15:00:00.Z",
        "2026-01-13T15:00:00.1234567890Z",
        "2026-01-13T25:00:00Z",
        "+2026-01-13T15:00:00Z",
        "2026-01-13T15:00:00+00:00",
        "2016-12-31T23:59:60Z",
    ] {
        assert!(Timestamp::parse(bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn dates_are_four_digit_years_and_real_days() {
    for ok in ["2026-02-28", "2028-02-29", "0000-01-01", "9999-12-31"] {
        Date::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for bad in [
        "2026-02-29",
        "+026-01-01",
        "-026-01-01",
        "20260-01-01",
        "2026-1-01",
        "2026/01/01",
    ] {
        assert!(Date::parse(bad).is_err(), "{bad} accepted");
    }
    let e = Date::parse("2026/01/01").unwrap_err().to_string();
    assert!(e.contains("YYYY-MM-DD"), "{e}");
}

#[test]
fn urls_name_a_host_in_ascii_without_user_information() {
    for ok in [
        "https://example.org",
        "https://example.org/a?b=c#d",
        "http://192.0.2.1:8080/x",
        "https://[2001:db8::1]/x",
        "https://xn--bcher-kva.example/%C3%BC",
    ] {
        Url::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for bad in [
        "https://@/x",
        "https:///x",
        "https://",
        "https://user@example.org/x",
        "https://user:pw@example.org/x",
        "https://example.org/\u{a0}x",
        "https://bücher.example/",
        "ftp://example.org/x",
        "https://exa mple.org/",
    ] {
        assert!(Url::parse(bad).is_err(), "{bad:?} accepted");
    }
}

// --- Section 4.1: the charter's policy ----------------------------------------------------

#[test]
fn charter_rules_refuse_a_threshold_they_do_not_use_and_integers_out_of_range() {
    let jp = key("JP-MOF", 1);
    let us = key("US-TREASURY", 2);
    let members = [(&jp, "JP"), (&us, "US")];
    let ok = [
        json!({"membership_threshold": 2}),
        json!({"membership_threshold": 1, "joint_commitments": {"rule": "all_parties"}}),
        json!({"membership_threshold": 2, "joint_commitments": {"rule": "threshold", "threshold": 64}}),
    ];
    for policy in ok {
        Payload::from_bytes(&bytes(&charter(&members, policy.clone())))
            .unwrap_or_else(|e| panic!("{policy}: {e}"));
    }
    let bad = [
        (
            json!({"membership_threshold": 2, "joint_commitments": {"rule": "all_parties", "threshold": 3}}),
            "only for the rule",
        ),
        (
            json!({"membership_threshold": 2, "joint_commitments": {"rule": "threshold"}}),
            "needs `threshold`",
        ),
        (
            json!({"membership_threshold": 2, "joint_commitments": {"rule": "threshold", "threshold": 65}}),
            "between 1 and 64",
        ),
        (
            json!({"membership_threshold": 2, "joint_commitments": {"rule": "threshold", "threshold": 0}}),
            "between 1 and 64",
        ),
        (
            json!({"membership_threshold": 2, "joint_commitments": {"rule": "majority"}}),
            "unknown rule",
        ),
        (json!({"membership_threshold": 3}), "membership_threshold"),
        (json!({"membership_threshold": 0}), "membership_threshold"),
        (
            json!({"membership_threshold": -1}),
            "policy.membership_threshold",
        ),
        (
            json!({"membership_threshold": 2.0}),
            "policy.membership_threshold",
        ),
        (
            json!({"membership_threshold": 4_294_967_297u64}),
            "policy.membership_threshold",
        ),
    ];
    for (policy, needle) in bad {
        let e = Payload::from_bytes(&bytes(&charter(&members, policy.clone())))
            .unwrap_err()
            .to_string();
        assert!(e.contains(needle), "{policy}: {e}");
    }
}

// --- Section 6: governance ----------------------------------------------------------------

#[test]
fn a_removed_members_key_cannot_be_revoked() {
    let jp = key("JP-MOF", 1);
    let us = key("US-TREASURY", 2);
    let de = key("DE-BMWK", 3);
    let c = charter(
        &[(&jp, "JP"), (&us, "US"), (&de, "DE")],
        json!({"membership_threshold": 2}),
    );
    let mut state = State::from_charter(&signed(&c, &[&jp, &us, &de])).unwrap();
    let remove = json!({"ledger": ORIGIN, "type": "remove_member", "id": "rm-de",
        "signed_at": "2026-02-01T00:00:00Z", "member": "DE-BMWK", "reason": "left the group"});
    state.apply(&signed(&remove, &[&jp, &us])).unwrap();
    let revoke = json!({"ledger": ORIGIN, "type": "revoke_key", "id": "rv-de",
        "signed_at": "2026-02-02T00:00:00Z", "member": "DE-BMWK",
        "key": de.verifier().unwrap().to_string(), "reason": "tidy up"});
    let e = state.apply(&signed(&revoke, &[&jp, &us])).unwrap_err();
    assert!(
        matches!(e, Rejection::NotAMember(ref m) if m.as_str() == "DE-BMWK"),
        "{e:?}"
    );
}
