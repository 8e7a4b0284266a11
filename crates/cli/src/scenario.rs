//! The G7+ demo scenario as data: the founding members of the ledger and every entry they
//! sign after the charter, in order, from January to November 2026. The data is
//! `scenario.json` beside this file, built into the binary; this module only reads it.
//!
//! The commitments are drawn from public announcements (figures and sources in
//! `shared/context/public-commitments.md`); each cites the pages it rests on in
//! `terms.sources`. What happens after the Washington meeting of 2026-01-12 (the joint
//! minimum import price, the withdrawal it causes, the key rotation) is scenario, and
//! progress figures marked "illustrative" are invented for the demo.
//!
//! Key material is left to the demo driver: in a `rotate_key` payload, `new_key` holds
//! `$NEWKEY:<MEMBER-ID>`, and the same string in [`Step::signers`] stands for a signature
//! by that new key (proof of possession); `$KEY:<MEMBER-ID>` would stand for a member's
//! current key (none of the steps needs it).

use std::sync::OnceLock;

use anyhow::{anyhow, Result};
use serde::Deserialize;
use serde_json::Value;

/// The demo ledger's origin: the checkpoint origin line and the log key's name.
pub const ORIGIN: &str = "g7-critical-minerals.example/2026";

/// Distinct members that must sign admissions, removals, key rotations and revocations by
/// others (the charter's `policy.membership_threshold`): 8 of the 16 founders.
pub const MEMBERSHIP_THRESHOLD: u32 = 8;

/// The id of the joint minimum-price mechanism that every ministry and agency co-signs.
pub const JOINT_COMMITMENT: &str = "g7-joint-minimum-price-mechanism-2026";

/// The scenario: `{"members": [MEMBER...], "steps": [STEP...]}`.
const DATA: &str = include_str!("scenario.json");

/// A founding member, as the demo registers it in the charter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberSpec {
    /// Member id (upper-case letters, digits and hyphens), also the name of its key.
    pub id: &'static str,
    /// ISO 3166-1 alpha-2 country code, or `EU`.
    pub country: &'static str,
    /// The institution's name.
    pub institution: &'static str,
    /// `ministry`, `agency`, `auditor` or `secretariat`.
    pub role: &'static str,
}

/// One ledger entry after the charter.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The complete payload (`ledger`, `type`, `id`, `signed_at` and the type's members),
    /// with `$NEWKEY:<ID>` / `$KEY:<ID>` where the driver must put a verifier key.
    pub payload: Value,
    /// Member ids whose current keys sign, or `$NEWKEY:<ID>` for a rotation's new key.
    pub signers: Vec<&'static str>,
    /// One short line for the demo to print.
    pub note: &'static str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Data {
    members: Vec<MemberData>,
    steps: Vec<StepData>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberData {
    id: String,
    country: String,
    institution: String,
    role: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepData {
    note: String,
    signers: Vec<String>,
    payload: Value,
}

fn data() -> Result<&'static Data> {
    static PARSED: OnceLock<Result<Data, String>> = OnceLock::new();
    PARSED
        .get_or_init(|| accord_core::json::from_slice(DATA.as_bytes()).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| anyhow!("the built-in demo scenario (scenario.json) does not parse: {e}"))
}

/// The founding members: the G7 finance ministries and the partners at the Washington
/// meeting of 2026-01-12, two agencies, the EU, a secretariat and an audit office.
///
/// # Errors
/// The built-in data does not parse (a unit test keeps it parsing).
pub fn members() -> Result<Vec<MemberSpec>> {
    Ok(data()?
        .members
        .iter()
        .map(|m| MemberSpec {
            id: &m.id,
            country: &m.country,
            institution: &m.institution,
            role: &m.role,
        })
        .collect())
}

/// The parties to the joint mechanism: every founding ministry and agency (all founders but
/// the secretariat and the auditor), in charter order.
///
/// # Errors
/// As [`members`].
pub fn joint_parties() -> Result<Vec<&'static str>> {
    Ok(members()?
        .into_iter()
        .filter(|m| m.role == "ministry" || m.role == "agency")
        .map(|m| m.id)
        .collect())
}

/// Every entry after the charter, in log order.
///
/// # Errors
/// As [`members`].
pub fn steps() -> Result<Vec<Step>> {
    Ok(data()?
        .steps
        .iter()
        .map(|s| Step {
            payload: s.payload.clone(),
            signers: s.signers.iter().map(String::as_str).collect(),
            note: &s.note,
        })
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use accord_core::envelope::Envelope;
    use accord_core::governance::State;
    use accord_core::keys::KeyPair;
    use accord_core::model::commitment::MEASURE_KINDS;
    use accord_core::model::{Body, Payload, Timestamp};

    use serde_json::json;

    use super::*;

    /// Founding keys, one distinct seed per member, by charter order.
    fn founding_keys() -> BTreeMap<&'static str, KeyPair> {
        members()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id, KeyPair::from_seed(m.id, &[i as u8 + 1; 32]).unwrap()))
            .collect()
    }

    /// The key a `$NEWKEY:ID` marker stands for.
    fn new_key(id: &str) -> KeyPair {
        KeyPair::from_seed(id, &[200; 32]).unwrap()
    }

    /// Replaces `$NEWKEY:ID` and `$KEY:ID` strings by verifier keys, as the demo driver does.
    fn fill(v: &mut Value, current: &BTreeMap<&'static str, KeyPair>) {
        match v {
            Value::String(s) => {
                if let Some(id) = s.strip_prefix("$NEWKEY:") {
                    *s = new_key(id).verifier().unwrap().to_string();
                } else if let Some(id) = s.strip_prefix("$KEY:") {
                    *s = current[id].verifier().unwrap().to_string();
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| fill(x, current)),
            Value::Object(m) => m.values_mut().for_each(|x| fill(x, current)),
            _ => {}
        }
    }

    fn parse(s: &Step, current: &BTreeMap<&'static str, KeyPair>) -> Payload {
        let mut p = s.payload.clone();
        fill(&mut p, current);
        Payload::from_bytes(&serde_json::to_vec(&p).unwrap())
            .unwrap_or_else(|e| panic!("step {:?}: {e}", s.note))
    }

    #[test]
    fn members_are_valid_and_distinct() {
        let ms = members().unwrap();
        assert_eq!(ms.len(), 16);
        let ids: BTreeSet<&str> = ms.iter().map(|m| m.id).collect();
        assert_eq!(ids.len(), ms.len(), "member ids are unique");
        for m in &ms {
            accord_core::model::MemberId::parse(m.id).unwrap();
            accord_core::model::Country::parse(m.country).unwrap();
            accord_core::model::Text::parse(m.institution).unwrap();
            assert!(
                ["ministry", "agency", "auditor", "secretariat"].contains(&m.role),
                "{}: role {}",
                m.id,
                m.role
            );
        }
        assert!(ms.iter().any(|m| m.role == "secretariat"));
        assert!(ms.iter().any(|m| m.role == "auditor"));
        assert_eq!(joint_parties().unwrap().len(), 14);
        assert!(MEMBERSHIP_THRESHOLD as usize <= ms.len());
    }

    #[test]
    fn every_step_parses_with_keys_filled_in() {
        let keys = founding_keys();
        for s in steps().unwrap() {
            let p = parse(&s, &keys);
            assert_eq!(p.ledger, ORIGIN);
            assert!(
                !s.note.is_empty() && s.note.len() <= 100,
                "note: {}",
                s.note
            );
        }
    }

    #[test]
    fn signers_are_founders_or_the_rotated_key() {
        let ids: BTreeSet<&str> = members().unwrap().iter().map(|m| m.id).collect();
        for s in steps().unwrap() {
            assert!(!s.signers.is_empty(), "{}: no signer", s.note);
            let distinct: BTreeSet<&&str> = s.signers.iter().collect();
            assert_eq!(distinct.len(), s.signers.len(), "{}: signer twice", s.note);
            for signer in &s.signers {
                match signer.strip_prefix("$NEWKEY:") {
                    Some(id) => {
                        assert_eq!(s.payload["type"], "rotate_key", "{}", s.note);
                        assert_eq!(s.payload["member"], *id, "{}", s.note);
                    }
                    None => assert!(ids.contains(signer), "{}: {signer}", s.note),
                }
            }
            if s.payload["type"] == "rotate_key" {
                let founders = s.signers.iter().filter(|x| ids.contains(**x)).count();
                assert!(founders >= MEMBERSHIP_THRESHOLD as usize, "{}", s.note);
            }
        }
    }

    #[test]
    fn commitments_cite_sources_and_ids_are_unique() {
        let keys = founding_keys();
        let mut seen = BTreeSet::new();
        let mut kinds = BTreeSet::new();
        for s in steps().unwrap() {
            let p = parse(&s, &keys);
            assert!(seen.insert(p.id.to_string()), "duplicate id {}", p.id);
            let terms = match &p.body {
                Body::Commitment(c) => {
                    kinds.insert(c.terms.measure.kind());
                    Some(&c.terms)
                }
                Body::Amend(a) => Some(&a.terms),
                _ => None,
            };
            if let Some(t) = terms {
                assert!(!t.sources.is_empty(), "{}: no source", p.id);
                for src in &t.sources {
                    assert!(src.url.as_str().starts_with("https://"), "{}", src.url);
                }
            }
        }
        assert!(!seen.contains("charter"), "the charter's id is taken");
        let all: BTreeSet<&str> = MEASURE_KINDS.iter().copied().collect();
        assert_eq!(kinds, all, "every kind of measure appears");
    }

    #[test]
    fn entries_are_dated_in_order_within_2026() {
        let first = Timestamp::parse("2026-01-13T00:00:00Z").unwrap().instant();
        let last = Timestamp::parse("2026-11-20T23:59:59Z").unwrap().instant();
        let mut prev = first;
        for s in steps().unwrap() {
            let at = Timestamp::parse(s.payload["signed_at"].as_str().unwrap())
                .unwrap()
                .instant();
            assert!(at >= prev && at <= last, "{}: {at}", s.note);
            prev = at;
        }
    }

    #[test]
    fn joint_mechanism_is_signed_by_every_ministry_and_agency() {
        let keys = founding_keys();
        let joint: BTreeSet<&str> = joint_parties().unwrap().into_iter().collect();
        let s = steps()
            .unwrap()
            .into_iter()
            .find(|s| s.payload["id"] == JOINT_COMMITMENT)
            .unwrap();
        let Body::Commitment(c) = parse(&s, &keys).body else {
            panic!("the joint mechanism is not a commitment");
        };
        let parties: BTreeSet<&str> = c.parties.iter().map(|p| p.as_str()).collect();
        assert_eq!(parties, joint);
        assert_eq!(s.signers.iter().copied().collect::<BTreeSet<_>>(), joint);
        assert_eq!(c.terms.measure.kind(), "price_floor");
    }

    /// Runs the charter and every step through the governance state machine, signing as the
    /// demo driver does (JP-MOF with its new key after the rotation).
    #[test]
    fn the_whole_scenario_is_accepted_by_governance() {
        let mut keys = founding_keys();
        let log = KeyPair::from_seed(ORIGIN, &[250; 32]).unwrap();
        let records: Vec<Value> = members()
            .unwrap()
            .iter()
            .map(|m| {
                json!({"id": m.id, "country": m.country, "institution": m.institution,
                       "role": m.role, "key": keys[m.id].verifier().unwrap().to_string()})
            })
            .collect();
        let charter = json!({
            "ledger": ORIGIN, "type": "charter", "id": "charter", "signed_at": "2026-01-13T18:00:00Z",
            "name": "G7+ Critical Minerals Commitments Ledger",
            "log_key": log.verifier().unwrap().to_string(),
            "members": records,
            "policy": {"membership_threshold": MEMBERSHIP_THRESHOLD,
                       "joint_commitments": {"rule": "all_parties"}}
        });
        let sign = |p: &Value, signers: &[&KeyPair]| {
            let mut bytes = serde_json::to_vec_pretty(p).unwrap();
            bytes.push(b'\n');
            let mut env = Envelope::new(bytes);
            for k in signers {
                env.sign(k);
            }
            env
        };
        let founders: Vec<&KeyPair> = keys.values().collect();
        let mut state = State::from_charter(&sign(&charter, &founders)).unwrap();
        for (i, s) in steps().unwrap().iter().enumerate() {
            let mut p = s.payload.clone();
            fill(&mut p, &keys);
            let signers: Vec<KeyPair> = s
                .signers
                .iter()
                .map(|id| match id.strip_prefix("$NEWKEY:") {
                    Some(m) => new_key(m),
                    None => keys[id].clone(),
                })
                .collect();
            let refs: Vec<&KeyPair> = signers.iter().collect();
            state
                .apply(&sign(&p, &refs))
                .unwrap_or_else(|e| panic!("step {} ({}) rejected: {e}", i + 1, s.note));
            if p["type"] == "rotate_key" {
                let id = p["member"].as_str().unwrap();
                let (&id, _) = keys.iter().find(|(k, _)| **k == id).unwrap();
                keys.insert(id, new_key(id));
            }
        }
        assert_eq!(state.size(), steps().unwrap().len() as u64 + 1);
    }
}
