//! The governance state machine: who may sign what, decided for every entry against the state
//! as it stood just before it.
//!
//! [`State::check`] decides everything about an entry except the Ed25519 equations, and
//! returns the signature checks still owed in an [`Authorised`]; [`Authorised::verify`] does
//! them (strictly); [`State::commit`] applies the entry. [`State::apply`] does all three in
//! order. Splitting them lets a bulk import or a full audit check many entries' signatures in
//! parallel while every verdict stays the one a one-by-one replay reaches: authorisation
//! failures are reported before signature failures, for every path. Only the state machine
//! builds an [`Authorised`], so nothing else can be committed.
//!
//! Rebuilding the state from a log is [`State::replay`] (charter first, every entry in
//! order, signatures verified in parallel per chunk or, for a ledger's own store, skipped),
//! and nothing else: its steps [`State::start`] and [`State::advance`] are public for
//! callers that overlap signature checks with their own work (the ledger's audit and
//! import), and [`verify_parallel`] checks the signatures such steps owe.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

mod snapshot;
pub use snapshot::{SnapshotError, SNAPSHOT_FORMAT};

use ed25519_dalek::{Signature, VerifyingKey};

use crate::envelope::{Envelope, PAYLOAD_TYPE};
use crate::keys::VerifierKey;
use crate::model::{
    Body, Charter, EntryId, JointRule, Member, MemberId, Payload, PayloadError, Policy, MAX_MEMBERS,
};

/// Why an entry was not accepted. Each says what is wrong in terms a ministry can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The envelope's payload type is not accord's.
    #[error("payload type {found:?} is not {PAYLOAD_TYPE:?}")]
    WrongPayloadType {
        /// The type found.
        found: String,
    },
    /// The bytes are not a valid DSSE envelope.
    #[error("malformed envelope: {0}")]
    Envelope(String),
    /// The envelope carries no signature.
    #[error("entry is not signed")]
    Unsigned,
    /// A state opened from a snapshot was asked about an id it was not told about
    /// ([`State::learn`]): a fault of the caller, never a verdict on the entry.
    #[error("internal: the governance state was not given the ledger's record of {0}")]
    Unprepared(EntryId),
    /// The payload does not decode or breaks a field rule.
    #[error("malformed payload: {0}")]
    Malformed(#[from] PayloadError),
    /// The payload names another ledger (a replay from elsewhere).
    #[error("entry is for ledger {found:?}, not this ledger {expected:?}")]
    WrongLedger {
        /// This ledger's origin.
        expected: String,
        /// The origin in the payload.
        found: String,
    },
    /// Entry 0 must be a charter.
    #[error("entry 0 must be a charter, found {found}")]
    NotACharter {
        /// The type found.
        found: String,
    },
    /// A charter after entry 0.
    #[error("a charter can only be entry 0")]
    CharterNotFirst,
    /// The charter's origin and its log key's name differ.
    #[error("charter ledger {ledger:?} differs from its log key's name {log_key:?}")]
    CharterOrigin {
        /// The payload's `ledger`.
        ledger: String,
        /// The log key's name.
        log_key: String,
    },
    /// The entry id was used before.
    #[error("entry id {0} is already in the ledger")]
    DuplicateId(EntryId),
    /// A signature's key is not any member's.
    #[error("signature {index} is by an unknown key {keyid:?}")]
    UnknownSigner {
        /// Position in the envelope.
        index: usize,
        /// The keyid hint.
        keyid: String,
    },
    /// A signature by a key revoked before this entry.
    #[error("signature {index} is by {member}'s key {keyid}, revoked at entry {revoked_at}")]
    RevokedKey {
        /// Position in the envelope.
        index: usize,
        /// Whose key.
        member: MemberId,
        /// The keyid.
        keyid: String,
        /// The revoking entry.
        revoked_at: u64,
    },
    /// A signature by a key replaced by rotation before this entry.
    #[error(
        "signature {index} is by {member}'s old key {keyid}, rotated out at entry {rotated_at}"
    )]
    RotatedKey {
        /// Position in the envelope.
        index: usize,
        /// Whose key.
        member: MemberId,
        /// The keyid.
        keyid: String,
        /// The rotating entry.
        rotated_at: u64,
    },
    /// A signature by a member removed before this entry.
    #[error("signature {index} is by {member}, removed at entry {removed_at}")]
    RemovedMember {
        /// Position in the envelope.
        index: usize,
        /// Who.
        member: MemberId,
        /// The removing entry.
        removed_at: u64,
    },
    /// A signature on a commitment (or its lifecycle entry) by a member who is not a party.
    #[error("{member} signed but is not a party to {commitment}")]
    SignerNotParty {
        /// Who signed.
        member: MemberId,
        /// The commitment.
        commitment: EntryId,
    },
    /// A party named by a commitment is not an active member.
    #[error("party {0} is not an active member")]
    PartyNotMember(MemberId),
    /// Parties whose signatures are required are missing.
    #[error("missing signature of {}", list(.missing))]
    MissingPartySignature {
        /// The parties that did not sign.
        missing: Vec<MemberId>,
    },
    /// Fewer distinct authorised signers than the policy requires.
    #[error("{have} distinct authorised signers, {need} required")]
    ThresholdNotMet {
        /// Distinct keys of active members that signed.
        have: usize,
        /// Required.
        need: usize,
    },
    /// A key rotation or admission not signed by the new key.
    #[error("no proof of possession: the new key {keyid} did not sign")]
    NoProofOfPossession {
        /// The new key's keyid.
        keyid: String,
    },
    /// A signature that does not verify (strict Ed25519).
    #[error("signature {index} ({keyid}) does not verify")]
    BadSignature {
        /// Position in the envelope.
        index: usize,
        /// Its keyid hint.
        keyid: String,
    },
    /// A lifecycle entry for a commitment that does not exist.
    #[error("no commitment {0} in the ledger")]
    UnknownCommitment(EntryId),
    /// A lifecycle entry for a withdrawn commitment.
    #[error("commitment {0} was withdrawn")]
    CommitmentWithdrawn(EntryId),
    /// An amendment that changes the measure's kind.
    #[error("an amendment cannot change the kind from {from} to {to}")]
    KindChanged {
        /// The commitment's kind.
        from: String,
        /// The amendment's kind.
        to: String,
    },
    /// No party of the commitment is still an active member.
    #[error("no party of commitment {0} is still an active member")]
    NoActiveParty(EntryId),
    /// A governance entry names a member that does not exist or was removed.
    #[error("{0} is not an active member")]
    NotAMember(MemberId),
    /// Admission of an id that exists or existed.
    #[error("member id {0} is or was already in use")]
    MemberExists(MemberId),
    /// A key already registered to someone (or the log).
    #[error("key {0} is or was already registered")]
    KeyInUse(String),
    /// Revocation of a key that is not the member's current key.
    #[error("{key} is not {member}'s current key")]
    NotCurrentKey {
        /// The member.
        member: MemberId,
        /// The key named.
        key: String,
    },
    /// A removal that would leave fewer active members than the membership threshold.
    #[error("removing {0} would leave fewer members than the membership threshold")]
    ThresholdUnreachable(MemberId),
    /// The member limit.
    #[error("the ledger already has {MAX_MEMBERS} members")]
    TooManyMembers,
    /// An import line that does not check out: it does not parse, its unsigned copies
    /// disagree with its signed entry, or it restores an entry to another place or leaf.
    #[error("{0}")]
    BadLine(String),
}

fn list(ids: &[MemberId]) -> String {
    ids.iter()
        .map(MemberId::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The status of a registered key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStatus {
    /// The member's key now.
    Current,
    /// Replaced by a rotation at this entry.
    Rotated(u64),
    /// Revoked at this entry.
    Revoked(u64),
}

#[derive(Clone, Debug)]
struct KeyRecord {
    member: MemberId,
    key: VerifyingKey,
    status: KeyStatus,
}

/// A member as the state knows it now.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberState {
    /// The registration, with the current (or last) key.
    pub member: Member,
    /// Entry that admitted it (0 for founders).
    pub admitted_at: u64,
    /// Entry that removed it, if any.
    pub removed_at: Option<u64>,
    /// Whether its current key was revoked (it then signs nothing until a rotation).
    pub key_revoked: bool,
}

impl MemberState {
    /// Whether the member is still in the group.
    pub fn is_active(&self) -> bool {
        self.removed_at.is_none()
    }
}

/// What governance remembers of a commitment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitmentState {
    /// The parties.
    pub parties: Vec<MemberId>,
    /// The measure's kind.
    pub kind: &'static str,
    /// Entry that withdrew it, if any.
    pub withdrawn_at: Option<u64>,
}

/// Who a signature speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Signer {
    Member(MemberId),
    NewKey,
}

/// One Ed25519 check still owed for an entry.
#[derive(Clone, Debug)]
pub struct SignatureCheck {
    /// Position in the envelope.
    pub index: usize,
    /// The keyid hint, for error messages.
    pub keyid: String,
    /// The key the governance state says made it.
    pub key: VerifyingKey,
    /// The signature.
    pub sig: Signature,
}

/// Ed25519 checks over one message (an entry's DSSE PAE). Holding one grants nothing: it is
/// only "these signatures must verify over these bytes". What it means for governance is
/// carried by the [`Authorised`] that owes it.
#[derive(Clone, Debug)]
pub struct OwedSignatures {
    pae: Vec<u8>,
    checks: Vec<SignatureCheck>,
}

impl OwedSignatures {
    /// The checks `checks` over the message `pae`.
    pub fn new(pae: Vec<u8>, checks: Vec<SignatureCheck>) -> Self {
        Self { pae, checks }
    }

    /// The message every check covers (the DSSE PAE of the entry).
    pub fn pae(&self) -> &[u8] {
        &self.pae
    }

    /// The checks.
    pub fn checks(&self) -> &[SignatureCheck] {
        &self.checks
    }

    /// Runs the checks with strict Ed25519 verification (RFC 8032 5.1.7, rejecting
    /// non-canonical S and small-order R or A).
    ///
    /// # Errors
    /// [`Rejection::BadSignature`] for the first signature that does not verify.
    pub fn verify(&self) -> Result<(), Rejection> {
        self.verify_given(None)
    }

    /// [`OwedSignatures::verify`], skipping the checks `pre` already ran: the same key,
    /// signature and message, verified strictly. A check `pre` does not hold (another key,
    /// another signature, a `pre` made over other bytes) is run here.
    ///
    /// # Errors
    /// As [`OwedSignatures::verify`].
    pub fn verify_given(&self, pre: Option<&Preverified>) -> Result<(), Rejection> {
        let pre = pre.filter(|p| p.pae == self.pae);
        for c in &self.checks {
            if pre.is_some_and(|p| p.holds(&c.key, &c.sig)) {
                continue;
            }
            if c.key.verify_strict(&self.pae, &c.sig).is_err() {
                return Err(Rejection::BadSignature {
                    index: c.index,
                    keyid: c.keyid.clone(),
                });
            }
        }
        Ok(())
    }
}

/// Ed25519 checks of an envelope run before its turn (by a service, while it waits to be
/// sequenced, outside the ledger lock): which of its signatures verify strictly over its
/// PAE under the keys the caller looked up by keyid. It grants nothing: governance still
/// decides which key must have made which signature ([`State::check_decoded`]), and
/// [`OwedSignatures::verify_given`] only skips a check this holds for exactly that key,
/// signature and message. A signature that did not verify here, or whose keyid the caller
/// did not know, is simply not held, and is checked (and refused) in the usual way.
#[derive(Clone, Debug)]
pub struct Preverified {
    pae: Vec<u8>,
    ok: Vec<([u8; 32], [u8; 64])>,
}

impl Preverified {
    /// Verifies each of `env`'s signatures under `key_for(keyid)`, when it gives a key.
    pub fn check(env: &Envelope, key_for: impl Fn(&str) -> Option<VerifyingKey>) -> Self {
        let pae = env.pae();
        let ok = env
            .signatures
            .iter()
            .filter_map(|s| {
                let key = key_for(&s.keyid)?;
                key.verify_strict(&pae, &s.sig)
                    .is_ok()
                    .then(|| (key.to_bytes(), s.sig.to_bytes()))
            })
            .collect();
        Self { pae, ok }
    }

    /// How many signatures verified.
    pub fn verified(&self) -> usize {
        self.ok.len()
    }

    fn holds(&self, key: &VerifyingKey, sig: &Signature) -> bool {
        let (key, sig) = (key.to_bytes(), sig.to_bytes());
        self.ok.iter().any(|(k, s)| *k == key && *s == sig)
    }
}

impl AsRef<OwedSignatures> for OwedSignatures {
    fn as_ref(&self) -> &OwedSignatures {
        self
    }
}

/// An entry whose authorisation holds, given that its owed signature checks verify.
///
/// Only the state machine makes one ([`State::check`], [`State::check_decoded`],
/// [`State::check_charter`], and the replay steps [`State::start`] and [`State::advance`]):
/// its fields are private, so whatever [`State::commit`] applies was decided by the state.
/// Code outside this crate cannot forge one:
///
/// ```compile_fail
/// use accord_core::governance::Authorised;
/// let forged = Authorised {
///     index: 1,
///     payload: std::process::abort(),
///     owed: std::process::abort(),
///     signers: Vec::new(),
/// };
/// ```
#[derive(Clone, Debug)]
pub struct Authorised {
    /// The entry's index.
    pub(crate) index: u64,
    /// The decoded payload.
    pub(crate) payload: Payload,
    /// The checks owed, over the DSSE PAE all signatures cover.
    pub(crate) owed: OwedSignatures,
    /// Distinct members whose signatures authorise it.
    pub(crate) signers: Vec<MemberId>,
}

impl Authorised {
    /// The entry's index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The decoded payload.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// Distinct members whose signatures authorise it.
    pub fn signers(&self) -> &[MemberId] {
        &self.signers
    }

    /// The signature checks still owed.
    pub fn owed(&self) -> &OwedSignatures {
        &self.owed
    }

    /// Runs the owed checks with strict Ed25519 verification (RFC 8032 5.1.7, rejecting
    /// non-canonical S and small-order R or A).
    ///
    /// # Errors
    /// [`Rejection::BadSignature`] for the first signature that does not verify.
    pub fn verify(&self) -> Result<(), Rejection> {
        self.owed.verify()
    }
}

impl AsRef<OwedSignatures> for Authorised {
    fn as_ref(&self) -> &OwedSignatures {
        &self.owed
    }
}

/// The governance state after some prefix of the ledger.
#[derive(Clone, Debug)]
pub struct State {
    origin: String,
    log_key: VerifierKey,
    policy: Policy,
    name: String,
    members: BTreeMap<MemberId, MemberState>,
    keys: HashMap<String, KeyRecord>,
    key_bytes: HashSet<[u8; 32]>,
    commitments: HashMap<EntryId, CommitmentState>,
    ids: HashSet<EntryId>,
    size: u64,
    /// For a state opened from a snapshot: the ids it was told about ([`State::learn`]);
    /// `None` for a state replayed from the charter, which knows every id.
    learned: Option<HashSet<EntryId>>,
}

/// The checks of an envelope that do not depend on the state: its payload type, and its
/// payload decoded and validated. [`State::check`] is `check_decoded(index, env, decode(env))`.
///
/// # Errors
/// [`Rejection::WrongPayloadType`], or the payload's own error.
pub fn decode(env: &Envelope) -> Result<Payload, Rejection> {
    envelope_checks(env)?;
    Ok(Payload::from_bytes(&env.payload)?)
}

fn envelope_checks(env: &Envelope) -> Result<(), Rejection> {
    if env.payload_type != PAYLOAD_TYPE {
        return Err(Rejection::WrongPayloadType {
            found: env.payload_type.clone(),
        });
    }
    if env.signatures.is_empty() {
        return Err(Rejection::Unsigned);
    }
    Ok(())
}

impl State {
    /// Checks entry 0, the charter: every founding member signs it with the key it registers,
    /// and nobody else does. Returns what [`State::genesis`] needs once the signatures verify.
    ///
    /// # Errors
    /// A [`Rejection`].
    pub fn check_charter(env: &Envelope) -> Result<Authorised, Rejection> {
        envelope_checks(env)?;
        let payload = Payload::from_bytes(&env.payload)?;
        let Body::Charter(charter) = &payload.body else {
            return Err(Rejection::NotACharter {
                found: payload.body.type_name().to_owned(),
            });
        };
        if charter.log_key.name() != payload.ledger {
            return Err(Rejection::CharterOrigin {
                ledger: payload.ledger.clone(),
                log_key: charter.log_key.name().to_owned(),
            });
        }
        let by_keyid: HashMap<String, &Member> =
            charter.members.iter().map(|m| (m.key.keyid(), m)).collect();
        let mut checks = Vec::new();
        let mut signed = BTreeSet::new();
        for (index, s) in env.signatures.iter().enumerate() {
            let Some(m) = by_keyid.get(&s.keyid) else {
                return Err(Rejection::UnknownSigner {
                    index,
                    keyid: s.keyid.clone(),
                });
            };
            signed.insert(m.id.clone());
            checks.push(SignatureCheck {
                index,
                keyid: s.keyid.clone(),
                key: *m.key.verifying_key(),
                sig: s.sig,
            });
        }
        let missing: Vec<MemberId> = charter
            .members
            .iter()
            .filter(|m| !signed.contains(&m.id))
            .map(|m| m.id.clone())
            .collect();
        if !missing.is_empty() {
            return Err(Rejection::MissingPartySignature { missing });
        }
        Ok(Authorised {
            index: 0,
            owed: OwedSignatures::new(env.pae(), checks),
            signers: signed.into_iter().collect(),
            payload,
        })
    }

    /// The state right after an authorised and verified charter.
    ///
    /// # Errors
    /// [`Rejection::NotACharter`] if `charter` is not one.
    pub fn genesis(charter: &Authorised) -> Result<State, Rejection> {
        let Body::Charter(c) = &charter.payload.body else {
            return Err(Rejection::NotACharter {
                found: charter.payload.body.type_name().to_owned(),
            });
        };
        let Charter {
            name,
            log_key,
            members,
            policy,
        } = c;
        let mut state = State {
            origin: charter.payload.ledger.clone(),
            log_key: log_key.clone(),
            policy: policy.clone(),
            name: name.to_string(),
            members: BTreeMap::new(),
            keys: HashMap::new(),
            key_bytes: HashSet::new(),
            commitments: HashMap::new(),
            ids: HashSet::new(),
            size: 1,
            learned: None,
        };
        state.key_bytes.insert(*log_key.key_bytes());
        for m in members {
            state.register(m.clone(), 0);
        }
        state.ids.insert(charter.payload.id.clone());
        Ok(state)
    }

    /// Checks, verifies and applies the charter in one step.
    ///
    /// # Errors
    /// A [`Rejection`].
    pub fn from_charter(env: &Envelope) -> Result<State, Rejection> {
        let a = Self::check_charter(env)?;
        a.verify()?;
        Self::genesis(&a)
    }

    fn register(&mut self, member: Member, at: u64) {
        self.key_bytes.insert(*member.key.key_bytes());
        self.keys.insert(
            member.key.keyid(),
            KeyRecord {
                member: member.id.clone(),
                key: *member.key.verifying_key(),
                status: KeyStatus::Current,
            },
        );
        self.members.insert(
            member.id.clone(),
            MemberState {
                member,
                admitted_at: at,
                removed_at: None,
                key_revoked: false,
            },
        );
    }

    /// The ledger origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key that signs checkpoints.
    pub fn log_key(&self) -> &VerifierKey {
        &self.log_key
    }

    /// The policies.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Entries applied so far (the next entry's index).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Every member key ever registered (current, rotated or revoked), by keyid: what a
    /// service looks keyids up in to run [`Preverified::check`]. Whether a key may sign is
    /// not said here.
    pub fn verifying_keys(&self) -> HashMap<String, VerifyingKey> {
        self.keys
            .iter()
            .map(|(id, r)| (id.clone(), r.key))
            .collect()
    }

    /// How many member keys were ever registered; it grows with every admission and
    /// rotation, and never shrinks.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Every member ever registered, active or removed.
    pub fn members(&self) -> impl Iterator<Item = &MemberState> {
        self.members.values()
    }

    /// One member.
    pub fn member(&self, id: &MemberId) -> Option<&MemberState> {
        self.members.get(id)
    }

    /// A member's current, usable key: active member, key not revoked.
    pub fn current_key(&self, id: &MemberId) -> Option<&VerifierKey> {
        self.members
            .get(id)
            .filter(|m| m.is_active() && !m.key_revoked)
            .map(|m| &m.member.key)
    }

    /// What governance remembers of a commitment.
    pub fn commitment(&self, id: &EntryId) -> Option<&CommitmentState> {
        self.commitments.get(id)
    }

    /// Whether an entry id is taken.
    pub fn has_id(&self, id: &EntryId) -> bool {
        self.ids.contains(id)
    }

    fn active_count(&self) -> usize {
        self.members.values().filter(|m| m.is_active()).count()
    }

    fn resolve(
        &self,
        index: usize,
        keyid: &str,
        new_key: Option<&VerifierKey>,
    ) -> Result<Signer, Rejection> {
        if let Some(rec) = self.keys.get(keyid) {
            let state = self.members.get(&rec.member);
            if let Some(removed_at) = state.and_then(|m| m.removed_at) {
                return Err(Rejection::RemovedMember {
                    index,
                    member: rec.member.clone(),
                    removed_at,
                });
            }
            return match rec.status {
                KeyStatus::Current => Ok(Signer::Member(rec.member.clone())),
                KeyStatus::Revoked(at) => Err(Rejection::RevokedKey {
                    index,
                    member: rec.member.clone(),
                    keyid: keyid.to_owned(),
                    revoked_at: at,
                }),
                KeyStatus::Rotated(at) => Err(Rejection::RotatedKey {
                    index,
                    member: rec.member.clone(),
                    keyid: keyid.to_owned(),
                    rotated_at: at,
                }),
            };
        }
        if new_key.is_some_and(|k| k.keyid() == keyid) {
            return Ok(Signer::NewKey);
        }
        Err(Rejection::UnknownSigner {
            index,
            keyid: keyid.to_owned(),
        })
    }

    /// Decides whether `env`, as entry `index`, is authorised by the state as it stands, and
    /// returns the Ed25519 checks still owed. Does not change the state.
    ///
    /// # Errors
    /// A [`Rejection`] saying why not.
    pub fn check(&self, index: u64, env: &Envelope) -> Result<Authorised, Rejection> {
        self.check_decoded(index, env, decode(env))
    }

    /// [`State::check`] with the envelope already decoded by [`decode`], which needs no
    /// state and so can run ahead, in parallel, over many entries.
    ///
    /// # Errors
    /// A [`Rejection`] saying why not: `decoded`'s own, or the state's.
    pub fn check_decoded(
        &self,
        index: u64,
        env: &Envelope,
        decoded: Result<Payload, Rejection>,
    ) -> Result<Authorised, Rejection> {
        let payload = decoded?;
        if payload.ledger != self.origin {
            return Err(Rejection::WrongLedger {
                expected: self.origin.clone(),
                found: payload.ledger.clone(),
            });
        }
        self.knows(&payload.id)?;
        if self.ids.contains(&payload.id) {
            return Err(Rejection::DuplicateId(payload.id.clone()));
        }
        let new_key = match &payload.body {
            Body::Charter(_) => return Err(Rejection::CharterNotFirst),
            Body::RotateKey(r) => Some(&r.new_key),
            Body::AdmitMember(a) => Some(&a.member.key),
            _ => None,
        };
        let mut checks = Vec::with_capacity(env.signatures.len());
        let mut members = BTreeSet::new();
        let mut new_key_signed = false;
        for (i, s) in env.signatures.iter().enumerate() {
            let key = match self.resolve(i, &s.keyid, new_key)? {
                Signer::Member(m) => {
                    let key = self.keys.get(&s.keyid).map(|r| r.key);
                    members.insert(m);
                    key
                }
                Signer::NewKey => {
                    new_key_signed = true;
                    new_key.map(|k| *k.verifying_key())
                }
            };
            let Some(key) = key else {
                return Err(Rejection::UnknownSigner {
                    index: i,
                    keyid: s.keyid.clone(),
                });
            };
            checks.push(SignatureCheck {
                index: i,
                keyid: s.keyid.clone(),
                key,
                sig: s.sig,
            });
        }
        self.authorise(&payload, &members, new_key_signed)?;
        Ok(Authorised {
            index,
            payload,
            owed: OwedSignatures::new(env.pae(), checks),
            signers: members.into_iter().collect(),
        })
    }

    fn require_threshold(&self, signers: &BTreeSet<MemberId>) -> Result<(), Rejection> {
        let need = self.policy.membership_threshold as usize;
        // Signers resolve through distinct current keys, and no key is ever registered
        // twice, so distinct members are distinct keys.
        if signers.len() < need {
            return Err(Rejection::ThresholdNotMet {
                have: signers.len(),
                need,
            });
        }
        Ok(())
    }

    fn require_parties(
        &self,
        commitment: &EntryId,
        parties: &[MemberId],
        signers: &BTreeSet<MemberId>,
        joint: bool,
    ) -> Result<(), Rejection> {
        for s in signers {
            if !parties.contains(s) {
                return Err(Rejection::SignerNotParty {
                    member: s.clone(),
                    commitment: commitment.clone(),
                });
            }
        }
        let active: Vec<&MemberId> = parties
            .iter()
            .filter(|p| self.members.get(*p).is_some_and(MemberState::is_active))
            .collect();
        if active.is_empty() {
            return Err(Rejection::NoActiveParty(commitment.clone()));
        }
        if !joint {
            // Progress reports: any one party.
            if signers.is_empty() {
                return Err(Rejection::MissingPartySignature {
                    missing: active.into_iter().cloned().collect(),
                });
            }
            return Ok(());
        }
        match self.policy.joint_commitments {
            JointRule::AllParties => {
                let missing: Vec<MemberId> = active
                    .into_iter()
                    .filter(|p| !signers.contains(*p))
                    .cloned()
                    .collect();
                if !missing.is_empty() {
                    return Err(Rejection::MissingPartySignature { missing });
                }
            }
            JointRule::Threshold { threshold } => {
                let need = (threshold as usize).min(active.len());
                if signers.len() < need {
                    return Err(Rejection::ThresholdNotMet {
                        have: signers.len(),
                        need,
                    });
                }
            }
        }
        Ok(())
    }

    fn lifecycle_target(&self, target: &EntryId) -> Result<&CommitmentState, Rejection> {
        self.knows(target)?;
        let c = self
            .commitments
            .get(target)
            .ok_or_else(|| Rejection::UnknownCommitment(target.clone()))?;
        if c.withdrawn_at.is_some() {
            return Err(Rejection::CommitmentWithdrawn(target.clone()));
        }
        Ok(c)
    }

    fn active_member(&self, id: &MemberId) -> Result<&MemberState, Rejection> {
        self.members
            .get(id)
            .filter(|m| m.is_active())
            .ok_or_else(|| Rejection::NotAMember(id.clone()))
    }

    fn fresh_key(&self, key: &VerifierKey) -> Result<(), Rejection> {
        if self.key_bytes.contains(key.key_bytes()) || self.keys.contains_key(&key.keyid()) {
            return Err(Rejection::KeyInUse(key.keyid()));
        }
        Ok(())
    }

    fn authorise(
        &self,
        payload: &Payload,
        signers: &BTreeSet<MemberId>,
        new_key_signed: bool,
    ) -> Result<(), Rejection> {
        let pop = |key: &VerifierKey| {
            if new_key_signed {
                Ok(())
            } else {
                Err(Rejection::NoProofOfPossession { keyid: key.keyid() })
            }
        };
        match &payload.body {
            Body::Charter(_) => Err(Rejection::CharterNotFirst),
            Body::Commitment(c) => {
                for p in &c.parties {
                    self.active_member(p)
                        .map_err(|_| Rejection::PartyNotMember(p.clone()))?;
                }
                self.require_parties(&payload.id, &c.parties, signers, true)
            }
            Body::Amend(a) => {
                let c = self.lifecycle_target(&a.target)?;
                if c.kind != a.terms.measure.kind() {
                    return Err(Rejection::KindChanged {
                        from: c.kind.to_owned(),
                        to: a.terms.measure.kind().to_owned(),
                    });
                }
                self.require_parties(&a.target, &c.parties, signers, true)
            }
            Body::Withdraw(w) => {
                let c = self.lifecycle_target(&w.target)?;
                self.require_parties(&w.target, &c.parties, signers, true)
            }
            Body::Progress(p) => {
                let c = self.lifecycle_target(&p.target)?;
                self.require_parties(&p.target, &c.parties, signers, false)
            }
            Body::AdmitMember(a) => {
                if self.members.contains_key(&a.member.id) {
                    return Err(Rejection::MemberExists(a.member.id.clone()));
                }
                if self.members.len() >= MAX_MEMBERS {
                    return Err(Rejection::TooManyMembers);
                }
                self.fresh_key(&a.member.key)?;
                self.require_threshold(signers)?;
                pop(&a.member.key)
            }
            Body::RemoveMember(r) => {
                self.active_member(&r.member)?;
                if self.active_count() <= self.policy.membership_threshold as usize {
                    return Err(Rejection::ThresholdUnreachable(r.member.clone()));
                }
                self.require_threshold(signers)
            }
            Body::RotateKey(r) => {
                self.active_member(&r.member)?;
                if r.new_key.name() != r.member.as_str() {
                    return Err(Rejection::Malformed(PayloadError::Invalid {
                        field: "new_key".into(),
                        why: format!("must be named {}", r.member),
                    }));
                }
                self.fresh_key(&r.new_key)?;
                self.require_threshold(signers)?;
                pop(&r.new_key)
            }
            Body::RevokeKey(r) => {
                let m = self.active_member(&r.member)?;
                if m.member.key != r.key || m.key_revoked {
                    return Err(Rejection::NotCurrentKey {
                        member: r.member.clone(),
                        key: r.key.keyid(),
                    });
                }
                // The holder may revoke its own key alone; otherwise a threshold.
                if signers.len() == 1 && signers.contains(&r.member) {
                    return Ok(());
                }
                self.require_threshold(signers)
            }
        }
    }

    /// Applies an entry that [`State::check`] authorised and whose signatures verified.
    /// The caller must pass entries in index order; an out-of-order entry is ignored and
    /// `false` returned.
    pub fn commit(&mut self, a: &Authorised) -> bool {
        if a.index != self.size {
            return false;
        }
        let at = a.index;
        let p = &a.payload;
        match &p.body {
            Body::Charter(_) => return false,
            Body::Commitment(c) => {
                self.commitments.insert(
                    p.id.clone(),
                    CommitmentState {
                        parties: c.parties.clone(),
                        kind: c.terms.measure.kind(),
                        withdrawn_at: None,
                    },
                );
            }
            Body::Amend(_) | Body::Progress(_) => {}
            Body::Withdraw(w) => {
                if let Some(c) = self.commitments.get_mut(&w.target) {
                    c.withdrawn_at = Some(at);
                }
            }
            Body::AdmitMember(adm) => self.register(adm.member.clone(), at),
            Body::RemoveMember(r) => {
                if let Some(m) = self.members.get_mut(&r.member) {
                    m.removed_at = Some(at);
                }
            }
            Body::RotateKey(r) => {
                if let Some(m) = self.members.get_mut(&r.member) {
                    let old = m.member.key.keyid();
                    if let Some(rec) = self.keys.get_mut(&old) {
                        if rec.status == KeyStatus::Current {
                            rec.status = KeyStatus::Rotated(at);
                        }
                    }
                    m.member.key = r.new_key.clone();
                    m.key_revoked = false;
                    self.key_bytes.insert(*r.new_key.key_bytes());
                    self.keys.insert(
                        r.new_key.keyid(),
                        KeyRecord {
                            member: r.member.clone(),
                            key: *r.new_key.verifying_key(),
                            status: KeyStatus::Current,
                        },
                    );
                }
            }
            Body::RevokeKey(r) => {
                if let Some(rec) = self.keys.get_mut(&r.key.keyid()) {
                    rec.status = KeyStatus::Revoked(at);
                }
                if let Some(m) = self.members.get_mut(&r.member) {
                    m.key_revoked = true;
                }
            }
        }
        self.ids.insert(p.id.clone());
        if let Some(l) = &mut self.learned {
            l.insert(p.id.clone());
        }
        self.size += 1;
        true
    }

    /// Moves the state forward to `index` without applying the entries in between. Only for
    /// replaying a subset of a ledger whose governance entries are all present (an audit
    /// bundle): the skipped entries change no member or key. Never moves backwards.
    pub(crate) fn skip_to(&mut self, index: u64) {
        self.size = self.size.max(index);
    }

    /// Checks, verifies and applies `env` as the next entry.
    ///
    /// # Errors
    /// A [`Rejection`]; the state is then unchanged.
    pub fn apply(&mut self, env: &Envelope) -> Result<Authorised, Rejection> {
        let a = self.check(self.size, env)?;
        a.verify()?;
        self.commit(&a);
        Ok(a)
    }

    /// The first step of a replay: checks entry 0, the charter, and returns the state right
    /// after it with the signature checks it still owes. The state is provisional until
    /// those verify ([`Authorised::verify`], or in a batch with [`verify_parallel`]).
    ///
    /// # Errors
    /// The charter's [`Rejection`].
    pub fn start(charter: &Envelope) -> Result<(State, Authorised), Rejection> {
        let a = Self::check_charter(charter)?;
        let state = Self::genesis(&a)?;
        Ok((state, a))
    }

    /// One step of a replay: checks `env` as the next entry (index [`State::size`]) and
    /// commits it at once, returning the signature checks it still owes. `decoded` is
    /// [`decode`]`(env)` when the caller already ran it (in parallel, ahead of the
    /// sequential steps), `None` to decode here.
    ///
    /// This is the building block of [`State::replay`] for callers that pipeline their own
    /// signature checks (a full audit, a bulk import's group commit): the state is
    /// provisional until every returned [`Authorised`] verifies. When one does not, the
    /// state after it is wrong and must be discarded, and the verdict is that entry's
    /// [`Rejection::BadSignature`] even if a later step was rejected too.
    ///
    /// # Errors
    /// The entry's [`Rejection`]; the state is then unchanged.
    pub fn advance(
        &mut self,
        env: &Envelope,
        decoded: Option<Result<Payload, Rejection>>,
    ) -> Result<Authorised, Rejection> {
        let decoded = decoded.unwrap_or_else(|| decode(env));
        let a = self.check_decoded(self.size, env, decoded)?;
        self.commit(&a);
        Ok(a)
    }

    /// Replays a whole log, charter first, through the state machine and returns the state
    /// after its last entry: the one way to rebuild governance from entries.
    ///
    /// Entries are taken in chunks of [`REPLAY_CHUNK`]: each chunk's payloads are decoded in
    /// parallel, then checked and committed in order ([`State::advance`]), then (with
    /// [`Signatures::Verify`]) their signatures are verified in parallel
    /// ([`verify_parallel`]). The verdict is the one a one-by-one [`State::apply`] of every
    /// entry reaches: the first entry, in log order, that is not accepted.
    ///
    /// # Errors
    /// [`ReplayError`] with the index of the first entry not accepted and why; an empty
    /// `entries` is entry 0 missing.
    pub fn replay<I>(entries: I, signatures: Signatures) -> Result<State, ReplayError>
    where
        I: IntoIterator,
        I::Item: std::borrow::Borrow<Envelope> + Send + Sync,
    {
        let mut entries = entries.into_iter();
        let Some(first) = entries.next() else {
            return Err(ReplayError {
                index: 0,
                rejection: Rejection::Envelope("the log has no entries: entry 0 is missing".into()),
            });
        };
        let (state, charter) =
            Self::start(std::borrow::Borrow::borrow(&first)).map_err(|rejection| ReplayError {
                index: 0,
                rejection,
            })?;
        if signatures == Signatures::Verify {
            charter.verify().map_err(|rejection| ReplayError {
                index: 0,
                rejection,
            })?;
        }
        state.replay_rest(entries, signatures)
    }

    /// [`State::replay`] from this state on: `entries` are the entries from index
    /// [`State::size`]. For a caller that holds a verified state and more entries.
    ///
    /// # Errors
    /// As [`State::replay`].
    pub fn replay_rest<I>(
        mut self,
        entries: I,
        signatures: Signatures,
    ) -> Result<State, ReplayError>
    where
        I: IntoIterator,
        I::Item: std::borrow::Borrow<Envelope> + Send + Sync,
    {
        use rayon::prelude::*;
        use std::borrow::Borrow;
        let mut entries = entries.into_iter();
        loop {
            let chunk: Vec<I::Item> = entries.by_ref().take(REPLAY_CHUNK).collect();
            if chunk.is_empty() {
                return Ok(self);
            }
            let decoded: Vec<Result<Payload, Rejection>> =
                chunk.par_iter().map(|e| decode(e.borrow())).collect();
            let first = self.size;
            let mut owed = Vec::with_capacity(chunk.len());
            let mut stop = None;
            for (env, decoded) in chunk.iter().zip(decoded) {
                let index = self.size;
                match self.advance(env.borrow(), Some(decoded)) {
                    Ok(a) => owed.push(a),
                    Err(rejection) => {
                        stop = Some(ReplayError { index, rejection });
                        break;
                    }
                }
            }
            if signatures == Signatures::Verify {
                if let Err((pos, rejection)) = verify_parallel(&owed) {
                    return Err(ReplayError {
                        index: first + pos as u64,
                        rejection,
                    });
                }
            }
            if let Some(e) = stop {
                return Err(e);
            }
        }
    }

    /// Every key ever registered to `member`, with its status.
    pub fn member_keys(&self, member: &MemberId) -> Vec<(VerifyingKey, KeyStatus)> {
        let mut keys: Vec<_> = self
            .keys
            .values()
            .filter(|r| &r.member == member)
            .map(|r| (r.key, r.status))
            .collect();
        keys.sort_by_key(|(k, _)| *k.as_bytes());
        keys
    }

    /// The status of a key by its keyid, if it was ever registered.
    pub fn key_status(&self, keyid: &str) -> Option<(MemberId, KeyStatus)> {
        self.keys.get(keyid).map(|r| (r.member.clone(), r.status))
    }
}

/// Entries a [`State::replay`] decodes and verifies together.
pub const REPLAY_CHUNK: usize = 1024;

/// Whether a [`State::replay`] verifies signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signatures {
    /// Verify every signature strictly: an auditor's replay, or entries from outside.
    Verify,
    /// Decide governance only. For entries whose signatures were verified when they were
    /// accepted and are audited elsewhere: a ledger rebuilding its state from its own store
    /// (which a full audit checks), a benchmark of the state machine alone. Never for
    /// entries from outside.
    Skip,
}

/// Where a [`State::replay`] stopped: the first entry not accepted, in log order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {index}: {rejection}")]
pub struct ReplayError {
    /// The entry's index in the log.
    pub index: u64,
    /// Why it was not accepted.
    pub rejection: Rejection,
}

/// Verifies many entries' owed signature checks in parallel (rayon), strictly. Returns the
/// position in `items` of the first entry with a bad signature, with its rejection, so the
/// verdict is the one a sequential replay reaches.
///
/// # Errors
/// `(position, rejection)` of the first failing entry.
pub fn verify_parallel<T>(items: &[T]) -> Result<(), (usize, Rejection)>
where
    T: AsRef<OwedSignatures> + Sync,
{
    verify_parallel_given(items, |_| None)
}

/// [`verify_parallel`], where `pre(i)` may hold checks already run for `items[i]`
/// ([`OwedSignatures::verify_given`]): those are not run again.
///
/// # Errors
/// As [`verify_parallel`].
pub fn verify_parallel_given<'p, T>(
    items: &[T],
    pre: impl Fn(usize) -> Option<&'p Preverified> + Sync,
) -> Result<(), (usize, Rejection)>
where
    T: AsRef<OwedSignatures> + Sync,
{
    use rayon::prelude::*;
    let check = |(i, a): (usize, &T)| a.as_ref().verify_given(pre(i)).err().map(|e| (i, e));
    // When every entry comes with its checks (a service checks signatures before the
    // writer's turn), what is left is comparisons: handing them to the pool would cost more
    // than it saves. A check held for another key or message is still run, here.
    let first_bad = if (0..items.len()).all(|i| pre(i).is_some()) {
        items.iter().enumerate().find_map(check)
    } else {
        items
            .par_iter()
            .enumerate()
            .filter_map(check)
            .min_by_key(|(i, _)| *i)
    };
    match first_bad {
        Some(bad) => Err(bad),
        None => Ok(()),
    }
}
