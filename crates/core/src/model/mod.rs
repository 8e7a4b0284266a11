//! The payloads accord signs: the charter, commitments and their lifecycle, and governance
//! entries. Every payload is a JSON object with four common members (`ledger`, `type`, `id`,
//! `signed_at`) followed by the members of its type; unknown members and unknown types are
//! refused with an error that names them. No JSON number carries an amount: amounts are
//! decimal strings.

pub mod commitment;
pub mod values;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use commitment::{Measure, Period, Source, Terms};
pub use values::{
    Amount, Country, Currency, Date, EntryId, MemberId, Sha256Hex, Slug, Text, Timestamp, Url,
};

use crate::keys::VerifierKey;

/// A field that failed validation, with its value and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value:?} {why}")]
pub struct FieldError {
    what: &'static str,
    value: String,
    why: String,
}

impl FieldError {
    pub(crate) fn new(what: &'static str, value: &str, why: String) -> Self {
        let mut value = value.to_owned();
        if value.len() > 80 {
            let mut cut = 77;
            while !value.is_char_boundary(cut) {
                cut -= 1;
            }
            value.truncate(cut);
            value.push_str("...");
        }
        Self { what, value, why }
    }
}

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// Not UTF-8 JSON, or not an object.
    #[error("payload is not a JSON object: {0}")]
    NotJson(String),
    /// A required common member (`ledger`, `type`, `id`, `signed_at`) is missing or invalid.
    #[error("payload member `{member}`: {why}")]
    Header {
        /// The member.
        member: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The type-specific members do not match the schema (unknown or missing fields, wrong
    /// types, unknown kinds); serde's message names the field.
    #[error("payload of type `{ty}`: {why}")]
    Schema {
        /// The payload type.
        ty: String,
        /// serde's description, naming the field.
        why: String,
    },
    /// Well-formed JSON whose values break a rule (dates out of order, empty lists...).
    #[error("payload field `{field}`: {why}")]
    Invalid {
        /// Dotted path of the field.
        field: String,
        /// What is wrong.
        why: String,
    },
}

/// Checks a ledger origin: it is the C2SP checkpoint origin line and the log key's name, so
/// 1 to 128 printable ASCII characters without white space or '+'.
pub fn check_origin(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 128 {
        return Err("must be 1 to 128 characters".into());
    }
    if s.bytes().all(|b| b.is_ascii_graphic() && b != b'+') {
        Ok(())
    } else {
        Err(
            "must be printable ASCII without spaces or '+', e.g. g7-critical-minerals.example/2026"
                .into(),
        )
    }
}

/// A decoded payload.
#[derive(Clone, Debug, PartialEq)]
pub struct Payload {
    /// The ledger origin this payload is meant for (replay protection).
    pub ledger: String,
    /// The entry id, unique within the ledger.
    pub id: EntryId,
    /// When the signers say they signed.
    pub signed_at: Timestamp,
    /// The type-specific body.
    pub body: Body,
}

/// The type-specific part of a payload; the JSON `type` member selects the variant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Body {
    /// Entry 0: the group, its members and policies.
    Charter(Charter),
    /// A new commitment.
    Commitment(NewCommitment),
    /// A new version of a commitment's terms.
    Amend(Amend),
    /// A progress report on a commitment.
    Progress(Progress),
    /// Withdrawal of a commitment.
    Withdraw(Withdraw),
    /// Admission of a new member.
    AdmitMember(AdmitMember),
    /// Removal of a member.
    RemoveMember(RemoveMember),
    /// Replacement of a member's key.
    RotateKey(RotateKey),
    /// Revocation of a member's key.
    RevokeKey(RevokeKey),
}

/// The names of the payload types, as in the `type` member.
pub const PAYLOAD_TYPES: &[&str] = &[
    "charter",
    "commitment",
    "amend",
    "progress",
    "withdraw",
    "admit_member",
    "remove_member",
    "rotate_key",
    "revoke_key",
];

impl Body {
    /// The `type` member's value.
    pub fn type_name(&self) -> &'static str {
        match self {
            Body::Charter(_) => "charter",
            Body::Commitment(_) => "commitment",
            Body::Amend(_) => "amend",
            Body::Progress(_) => "progress",
            Body::Withdraw(_) => "withdraw",
            Body::AdmitMember(_) => "admit_member",
            Body::RemoveMember(_) => "remove_member",
            Body::RotateKey(_) => "rotate_key",
            Body::RevokeKey(_) => "revoke_key",
        }
    }

    /// Whether this is a governance entry (charter, admission, removal, rotation,
    /// revocation): one that changes who may sign.
    pub fn is_governance(&self) -> bool {
        matches!(
            self,
            Body::Charter(_)
                | Body::AdmitMember(_)
                | Body::RemoveMember(_)
                | Body::RotateKey(_)
                | Body::RevokeKey(_)
        )
    }

    /// The commitment this entry creates or refers to, if any.
    pub fn commitment_id(&self, own_id: &EntryId) -> Option<EntryId> {
        match self {
            Body::Commitment(_) => Some(own_id.clone()),
            Body::Amend(a) => Some(a.target.clone()),
            Body::Progress(p) => Some(p.target.clone()),
            Body::Withdraw(w) => Some(w.target.clone()),
            _ => None,
        }
    }

    fn validate(&self) -> Result<(), PayloadError> {
        match self {
            Body::Charter(c) => c.validate(),
            Body::Commitment(c) => {
                check_parties(&c.parties)?;
                c.terms.validate("terms")
            }
            Body::Amend(a) => a.terms.validate("terms"),
            Body::Progress(_)
            | Body::Withdraw(_)
            | Body::RemoveMember(_)
            | Body::RotateKey(_)
            | Body::RevokeKey(_) => Ok(()),
            Body::AdmitMember(a) => a.member.validate("member"),
        }
    }
}

fn invalid(field: impl Into<String>, why: impl Into<String>) -> PayloadError {
    PayloadError::Invalid {
        field: field.into(),
        why: why.into(),
    }
}

fn check_parties(parties: &[MemberId]) -> Result<(), PayloadError> {
    if parties.is_empty() {
        return Err(invalid("parties", "must name at least one member"));
    }
    if parties.len() > MAX_PARTIES {
        return Err(invalid("parties", format!("at most {MAX_PARTIES} parties")));
    }
    let mut seen = std::collections::BTreeSet::new();
    for p in parties {
        if !seen.insert(p) {
            return Err(invalid("parties", format!("{p} is listed twice")));
        }
    }
    Ok(())
}

/// A member's role in the group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A finance, trade or industry ministry.
    Ministry,
    /// A government agency or public finance institution.
    Agency,
    /// An audit office.
    Auditor,
    /// The secretariat that runs the ledger.
    Secretariat,
}

impl Role {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ministry => "ministry",
            Role::Agency => "agency",
            Role::Auditor => "auditor",
            Role::Secretariat => "secretariat",
        }
    }
}

/// A member as registered in the charter or an admission.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// The member id, e.g. `JP-MOF`; also the name in its verifier key.
    pub id: MemberId,
    /// ISO 3166-1 alpha-2 country code, or `EU`.
    pub country: Country,
    /// The institution's name.
    pub institution: Text,
    /// Its role.
    pub role: Role,
    /// Its public key as a C2SP verifier key named by the member id.
    pub key: VerifierKey,
}

impl Member {
    fn validate(&self, field: &str) -> Result<(), PayloadError> {
        if self.key.name() != self.id.as_str() {
            return Err(invalid(
                format!("{field}.key"),
                format!(
                    "key is named {:?} but the member id is {:?}; a member's key must carry its id",
                    self.key.name(),
                    self.id.as_str()
                ),
            ));
        }
        Ok(())
    }
}

/// How many parties must sign a joint commitment and its amendments and withdrawal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "rule",
    rename_all = "snake_case",
    deny_unknown_fields,
    try_from = "WireJointRule"
)]
pub enum JointRule {
    /// Every party signs (the default).
    AllParties,
    /// At least `threshold` distinct parties sign (all of them if there are fewer).
    Threshold {
        /// The number of parties.
        threshold: u32,
    },
}

/// `{"rule": ..., "threshold": ...}` as written, so that a `threshold` beside a rule that does
/// not use it is refused rather than silently ignored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireJointRule {
    rule: String,
    threshold: Option<u32>,
}

impl TryFrom<WireJointRule> for JointRule {
    type Error = String;
    fn try_from(w: WireJointRule) -> Result<Self, String> {
        match (w.rule.as_str(), w.threshold) {
            ("all_parties", None) => Ok(JointRule::AllParties),
            ("all_parties", Some(_)) => Err(
                "`threshold` is only for the rule \"threshold\"; \"all_parties\" takes none".into(),
            ),
            ("threshold", Some(threshold)) => Ok(JointRule::Threshold { threshold }),
            ("threshold", None) => Err("the rule \"threshold\" needs `threshold`".into()),
            (other, _) => Err(format!(
                "unknown rule {other:?}; expected \"all_parties\" or \"threshold\""
            )),
        }
    }
}

/// The group's policies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Distinct active members that must sign admissions, removals, key rotations and
    /// revocations by others.
    pub membership_threshold: u32,
    /// The rule for joint commitments.
    #[serde(default = "default_joint")]
    pub joint_commitments: JointRule,
    /// How many cosignatures, by which members (as witnesses or cosigners), a checkpoint
    /// needs before readers should trust it. Optional: a charter without it sets none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness_policy: Option<WitnessPolicy>,
}

/// A witness policy (docs/FORMAT.md, "Charter"): a checkpoint should be trusted once at least
/// `threshold` of the `witnesses` cosigned it (`cosignature/v1` by each member's key).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessPolicy {
    /// Distinct witnesses whose valid cosignatures are needed.
    pub threshold: u32,
    /// The members whose cosignatures count, by id.
    pub witnesses: Vec<MemberId>,
}

fn default_joint() -> JointRule {
    JointRule::AllParties
}

/// Entry 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Charter {
    /// The group's name.
    pub name: Text,
    /// The key that signs the ledger's checkpoints; its name is the ledger origin.
    pub log_key: VerifierKey,
    /// Founding members; every one signs the charter.
    pub members: Vec<Member>,
    /// Policies.
    pub policy: Policy,
}

impl Charter {
    fn validate(&self) -> Result<(), PayloadError> {
        if self.members.is_empty() || self.members.len() > MAX_MEMBERS {
            return Err(invalid(
                "members",
                format!("must list 1 to {MAX_MEMBERS} founding members"),
            ));
        }
        let mut ids = std::collections::BTreeSet::new();
        let mut keys = std::collections::BTreeSet::new();
        for (i, m) in self.members.iter().enumerate() {
            m.validate(&format!("members[{i}]"))?;
            if !ids.insert(m.id.clone()) {
                return Err(invalid(
                    format!("members[{i}].id"),
                    format!("{} is listed twice", m.id),
                ));
            }
            if !keys.insert(*m.key.key_bytes()) || m.key.key_bytes() == self.log_key.key_bytes() {
                return Err(invalid(
                    format!("members[{i}].key"),
                    "this public key is already used by another member or the log",
                ));
            }
        }
        let n = self.members.len() as u32;
        let t = self.policy.membership_threshold;
        if t == 0 || t > n {
            return Err(invalid(
                "policy.membership_threshold",
                format!("must be between 1 and the number of members ({n})"),
            ));
        }
        if let Some(w) = &self.policy.witness_policy {
            let listed: std::collections::BTreeSet<&MemberId> = w.witnesses.iter().collect();
            if listed.len() != w.witnesses.len() {
                return Err(invalid(
                    "policy.witness_policy.witnesses",
                    "a witness is listed twice",
                ));
            }
            if let Some(x) = w.witnesses.iter().find(|x| !ids.contains(*x)) {
                return Err(invalid(
                    "policy.witness_policy.witnesses",
                    format!("{x} is not a founding member"),
                ));
            }
            if w.threshold == 0 || w.threshold as usize > w.witnesses.len() {
                return Err(invalid(
                    "policy.witness_policy.threshold",
                    format!(
                        "must be between 1 and the number of witnesses listed ({})",
                        w.witnesses.len()
                    ),
                ));
            }
        }
        if let JointRule::Threshold { threshold } = self.policy.joint_commitments {
            if threshold == 0 || threshold as usize > MAX_PARTIES {
                return Err(invalid(
                    "policy.joint_commitments.threshold",
                    format!("must be between 1 and {MAX_PARTIES} (the most parties a commitment may have)"),
                ));
            }
        }
        Ok(())
    }
}

/// Most parties one commitment may name.
pub const MAX_PARTIES: usize = 64;

/// Most members a ledger may have at once.
pub const MAX_MEMBERS: usize = 256;

/// A new commitment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCommitment {
    /// The members that make it; a joint commitment has several.
    pub parties: Vec<MemberId>,
    /// What is committed.
    pub terms: Terms,
}

/// A new version of a commitment's terms, replacing the previous version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Amend {
    /// The commitment's id.
    pub target: EntryId,
    /// Why it changes.
    pub reason: Text,
    /// The full new terms; the measure's kind must not change.
    pub terms: Terms,
}

/// What a progress report measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Money paid out.
    Disbursed,
    /// Money contractually committed to projects.
    Committed,
    /// Material delivered.
    Delivered,
    /// Material held in stock, or days of supply.
    Stockpiled,
    /// Capacity built or commissioned.
    Capacity,
    /// Anything else, described in the note.
    Other,
}

impl Metric {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Disbursed => "disbursed",
            Metric::Committed => "committed",
            Metric::Delivered => "delivered",
            Metric::Stockpiled => "stockpiled",
            Metric::Capacity => "capacity",
            Metric::Other => "other",
        }
    }
}

/// A progress report: a cumulative figure as of a date.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Progress {
    /// The commitment's id.
    pub target: EntryId,
    /// The date the figure refers to.
    pub as_of: Date,
    /// What is measured.
    pub metric: Metric,
    /// The figure for this period (totals add reports up per metric and unit).
    pub amount: Amount,
    /// An ISO 4217 currency or a unit slug (`t`, `kg`, `days`, `t-per-year`).
    pub unit: commitment::Unit,
    /// Optional context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Text>,
}

/// Withdrawal of a commitment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Withdraw {
    /// The commitment's id.
    pub target: EntryId,
    /// Why.
    pub reason: Text,
}

/// Admission of a member: a threshold of members, plus the new key (proof of possession).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdmitMember {
    /// The new member.
    pub member: Member,
}

/// Removal of a member: a threshold of members.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveMember {
    /// Who leaves.
    pub member: MemberId,
    /// Why.
    pub reason: Text,
}

/// Key rotation: a threshold of members as the state stood, plus the new key's signature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    /// Whose key changes.
    pub member: MemberId,
    /// The new key, named by the member id.
    pub new_key: VerifierKey,
}

/// Key revocation: by the key's holder itself, or a threshold of members. What the key signed
/// before stays valid; it signs nothing after.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeKey {
    /// Whose key.
    pub member: MemberId,
    /// The key revoked (must be the member's current key).
    pub key: VerifierKey,
    /// Why.
    pub reason: Text,
}

fn header_str(map: &mut Map<String, Value>, member: &'static str) -> Result<String, PayloadError> {
    match map.remove(member) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(PayloadError::Header {
            member,
            why: "must be a string".into(),
        }),
        None => Err(PayloadError::Header {
            member,
            why: "is missing".into(),
        }),
    }
}

impl Payload {
    /// Decodes payload bytes: UTF-8 JSON, the common members, then the type's schema and its
    /// rules. Nothing is normalised: the caller keeps the bytes.
    ///
    /// # Errors
    /// [`PayloadError`] naming the member or field at fault.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PayloadError> {
        let value = crate::json::parse(bytes).map_err(|e| PayloadError::NotJson(e.to_string()))?;
        let Value::Object(mut map) = value else {
            return Err(PayloadError::NotJson("not an object".into()));
        };
        let ledger = header_str(&mut map, "ledger")?;
        check_origin(&ledger).map_err(|why| PayloadError::Header {
            member: "ledger",
            why,
        })?;
        let id =
            EntryId::parse(&header_str(&mut map, "id")?).map_err(|e| PayloadError::Header {
                member: "id",
                why: e.to_string(),
            })?;
        let signed_at = Timestamp::parse(&header_str(&mut map, "signed_at")?).map_err(|e| {
            PayloadError::Header {
                member: "signed_at",
                why: e.to_string(),
            }
        })?;
        let ty = match map.get("type") {
            Some(Value::String(t)) if PAYLOAD_TYPES.contains(&t.as_str()) => t.clone(),
            Some(Value::String(t)) => {
                return Err(PayloadError::Header {
                    member: "type",
                    why: format!(
                        "unknown type {t:?}; expected one of {}",
                        PAYLOAD_TYPES.join(", ")
                    ),
                })
            }
            Some(_) => {
                return Err(PayloadError::Header {
                    member: "type",
                    why: "must be a string".into(),
                })
            }
            None => {
                return Err(PayloadError::Header {
                    member: "type",
                    why: "is missing".into(),
                })
            }
        };
        // Each type's struct is deserialised directly (not through the `type`-tagged enum,
        // which buffers its content), so a schema error names the field by its JSON path.
        map.remove("type");
        let obj = Value::Object(map);
        let schema = |e: crate::json::JsonError| PayloadError::Schema {
            ty: ty.clone(),
            why: e.to_string(),
        };
        use crate::json::from_value;
        let body = match ty.as_str() {
            "charter" => Body::Charter(from_value(obj).map_err(schema)?),
            "commitment" => Body::Commitment(from_value(obj).map_err(schema)?),
            "amend" => Body::Amend(from_value(obj).map_err(schema)?),
            "progress" => Body::Progress(from_value(obj).map_err(schema)?),
            "withdraw" => Body::Withdraw(from_value(obj).map_err(schema)?),
            "admit_member" => Body::AdmitMember(from_value(obj).map_err(schema)?),
            "remove_member" => Body::RemoveMember(from_value(obj).map_err(schema)?),
            "rotate_key" => Body::RotateKey(from_value(obj).map_err(schema)?),
            "revoke_key" => Body::RevokeKey(from_value(obj).map_err(schema)?),
            other => {
                return Err(PayloadError::Header {
                    member: "type",
                    why: format!("unknown type {other:?}"),
                })
            }
        };
        body.validate()?;
        Ok(Self {
            ledger,
            id,
            signed_at,
            body,
        })
    }

    /// The payload as a JSON object with the common members first (`ledger`, `type`, `id`,
    /// `signed_at`), then the members of its type in the model's order.
    pub fn to_value(&self) -> Value {
        let mut out = Map::new();
        out.insert("ledger".into(), Value::String(self.ledger.clone()));
        out.insert("type".into(), Value::String(self.body.type_name().into()));
        out.insert("id".into(), Value::String(self.id.to_string()));
        out.insert(
            "signed_at".into(),
            Value::String(self.signed_at.to_string()),
        );
        #[allow(clippy::expect_used)]
        let body = serde_json::to_value(&self.body)
            // Every body is a struct of validated strings, integers, lists and structs, tagged
            // by `type`: it serialises to a JSON object, or the derive is wrong.
            .expect("a payload body serialises");
        let Value::Object(body) = body else {
            unreachable!("an internally tagged enum serialises to an object")
        };
        for (k, v) in body {
            if k != "type" {
                out.insert(k, v);
            }
        }
        Value::Object(out)
    }

    /// Encodes the payload as JSON with the common members first. Used to write drafts; once
    /// written and signed, the bytes are kept as they are.
    pub fn to_bytes(&self) -> Vec<u8> {
        #[allow(clippy::expect_used)]
        let mut bytes = serde_json::to_vec_pretty(&self.to_value())
            // A map of strings and values that came from JSON: serde_json cannot fail on it.
            .expect("a JSON map serialises");
        bytes.push(b'\n');
        bytes
    }

    /// Checks that a payload survives its own round trip and rules; used before signing.
    ///
    /// # Errors
    /// As [`Payload::from_bytes`].
    pub fn validate(&self) -> Result<(), PayloadError> {
        Payload::from_bytes(&self.to_bytes()).map(|_| ())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn payload_json(
        id: &str,
        amount: &str,
        day: u32,
        parties: &[String],
        kind: u8,
    ) -> serde_json::Value {
        let measure = match kind % 3 {
            0 => {
                serde_json::json!({"kind": "price_floor", "price": {"amount": amount, "currency": "USD", "unit": "kg"},
                "basis": "benchmark", "mechanism": "reserve_price"})
            }
            1 => serde_json::json!({"kind": "stockpile", "days_of_supply": amount}),
            _ => {
                serde_json::json!({"kind": "framework", "partners": ["US", "AU"], "pledges": [{"amount": amount, "currency": "AUD"}], "tools": ["loans"]})
            }
        };
        serde_json::json!({"ledger": "p.example/l", "type": "commitment", "id": id,
            "signed_at": format!("2026-03-{day:02}T10:00:00Z"), "parties": parties,
            "terms": {"title": format!("t {id}"), "commodity": "gallium", "stage": "refining",
                "effective": {"from": format!("2026-01-{day:02}")}, "instrument": "i",
                "sources": [{"url": "https://example.org/x", "sha256": null}], "measure": measure}})
    }

    proptest! {
        /// Decoding and re-encoding a valid payload gives the same payload, and the encoding
        /// decodes again: drafts written by accord are what accord reads.
        #[test]
        fn payload_round_trip(
            id in "[a-z0-9][a-z0-9._/:-]{0,40}",
            amount in "(0|[1-9][0-9]{0,12})(\\.[0-9]{1,4})?",
            day in 1u32..28,
            parties in proptest::collection::btree_set("[A-Z][A-Z0-9-]{1,10}", 1..5),
            kind in any::<u8>(),
        ) {
            let parties: Vec<String> = parties.into_iter().collect();
            let bytes = serde_json::to_vec(&payload_json(&id, &amount, day, &parties, kind)).unwrap();
            let p = Payload::from_bytes(&bytes).unwrap();
            let again = Payload::from_bytes(&p.to_bytes()).unwrap();
            prop_assert_eq!(&again, &p);
            prop_assert_eq!(again.to_bytes(), p.to_bytes());
        }
    }
}
