//! DSSE envelopes (github.com/secure-systems-lab/dsse, protocol v1) carrying accord payloads.
//!
//! An envelope is the JSON object
//! `{"payloadType": TYPE, "payload": base64(BODY), "signatures": [{"keyid": K, "sig": base64(SIG)}]}`
//! and each signature is Ed25519 over `PAE(TYPE, BODY)`. The payload bytes are kept exactly as
//! signed: nothing here re-serialises them, and adding a signature never touches them.

use base64::prelude::*;
use ed25519_dalek::Signature;
use serde::{Deserialize, Serialize};

use crate::keys::KeyPair;

/// The one DSSE payload type accord signs and accepts.
pub const PAYLOAD_TYPE: &str = "application/vnd.accord.entry.v1+json";
/// Largest payload accepted, in bytes. Chosen so that every envelope within the limits fits
/// one leaf of a C2SP entry bundle (at most 65,535 bytes, `crate::tiles::MAX_ENTRY_BYTES`):
/// 32 KiB of payload is 43,692 bytes of base64, and 64 signatures with their key ids at most
/// 17,280 more.
pub const MAX_PAYLOAD_BYTES: usize = 32 * 1024;
/// Most signatures one envelope may carry.
pub const MAX_SIGNATURES: usize = 64;
/// Largest serialised envelope accepted, in bytes: what fits a leaf (65,535 bytes) with the
/// leaf's own members (at most 256 bytes, docs/FORMAT.md section 5).
pub const MAX_ENVELOPE_BYTES: usize = crate::tiles::MAX_ENTRY_BYTES - 256;
/// Longest `keyid` accepted.
pub const MAX_KEYID_LEN: usize = 160;

/// Why an envelope was refused before any signature was checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The bytes are not a DSSE envelope in JSON.
    #[error("malformed envelope: {0}")]
    Malformed(String),
    /// The envelope is larger than [`MAX_ENVELOPE_BYTES`].
    #[error("envelope is {0} bytes; the limit is {MAX_ENVELOPE_BYTES}")]
    TooLarge(usize),
    /// The payload is larger than [`MAX_PAYLOAD_BYTES`].
    #[error("payload is {0} bytes; the limit is {MAX_PAYLOAD_BYTES}")]
    PayloadTooLarge(usize),
    /// More than [`MAX_SIGNATURES`] signatures.
    #[error("envelope has {0} signatures; the limit is {MAX_SIGNATURES}")]
    TooManySignatures(usize),
    /// A signature is not 64 bytes of base64.
    #[error("signature {index} is not a 64-byte Ed25519 signature in base64")]
    BadSignatureEncoding {
        /// Position in `signatures`.
        index: usize,
    },
    /// A `keyid` is too long or has control characters.
    #[error("signature {index} has an invalid keyid")]
    BadKeyId {
        /// Position in `signatures`.
        index: usize,
    },
}

/// `PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, where `LEN` is the
/// byte length in ASCII decimal without leading zeros (DSSE protocol, "Signature definition").
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let ty = payload_type.as_bytes();
    let mut out = Vec::with_capacity(32 + ty.len() + payload.len());
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(ty.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(ty);
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// One DSSE signature: a key hint and 64 signature bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// `name+hash` of the key that made it. A hint only: authority comes from the
    /// governance state.
    pub keyid: String,
    /// The Ed25519 signature over the PAE.
    pub sig: Signature,
}

/// A DSSE envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// `payloadType`.
    pub payload_type: String,
    /// The payload bytes exactly as signed.
    pub payload: Vec<u8>,
    /// The signatures, in the order they were added.
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSignature {
    keyid: String,
    sig: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEnvelope {
    #[serde(rename = "payloadType")]
    payload_type: String,
    payload: String,
    signatures: Vec<WireSignature>,
}

impl Envelope {
    /// An unsigned envelope around `payload`.
    pub fn new(payload: Vec<u8>) -> Self {
        Self {
            payload_type: PAYLOAD_TYPE.to_owned(),
            payload,
            signatures: Vec::new(),
        }
    }

    /// The bytes every signature covers.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// Adds `key`'s signature. Signing again with a key that already signed replaces nothing
    /// and adds nothing: the envelope is returned unchanged in that case.
    pub fn sign(&mut self, key: &KeyPair) {
        let keyid = key.keyid();
        let sig = key.sign(&self.pae());
        if self
            .signatures
            .iter()
            .any(|s| s.keyid == keyid && s.sig == sig)
        {
            return;
        }
        self.signatures.push(EnvelopeSignature { keyid, sig });
    }

    /// Parses an envelope from JSON, enforcing the size limits.
    ///
    /// # Errors
    /// [`EnvelopeError`] naming what is wrong.
    pub fn from_json(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        if bytes.len() > MAX_ENVELOPE_BYTES {
            return Err(EnvelopeError::TooLarge(bytes.len()));
        }
        let wire: WireEnvelope =
            crate::json::from_slice(bytes).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        Self::from_wire(wire)
    }

    /// Parses an envelope from an already parsed JSON value.
    ///
    /// # Errors
    /// [`EnvelopeError`] naming what is wrong.
    pub fn from_value(value: serde_json::Value) -> Result<Self, EnvelopeError> {
        let wire: WireEnvelope =
            crate::json::from_value(value).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        Self::from_wire(wire)
    }

    fn from_wire(wire: WireEnvelope) -> Result<Self, EnvelopeError> {
        if wire.payload.len() > MAX_PAYLOAD_BYTES.div_ceil(3) * 4 {
            return Err(EnvelopeError::PayloadTooLarge(wire.payload.len() / 4 * 3));
        }
        let payload = BASE64_STANDARD
            .decode(&wire.payload)
            .map_err(|e| EnvelopeError::Malformed(format!("payload is not base64: {e}")))?;
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(EnvelopeError::PayloadTooLarge(payload.len()));
        }
        if wire.signatures.len() > MAX_SIGNATURES {
            return Err(EnvelopeError::TooManySignatures(wire.signatures.len()));
        }
        let mut signatures = Vec::with_capacity(wire.signatures.len());
        for (index, s) in wire.signatures.into_iter().enumerate() {
            if s.keyid.len() > MAX_KEYID_LEN || s.keyid.chars().any(char::is_control) {
                return Err(EnvelopeError::BadKeyId { index });
            }
            let raw = BASE64_STANDARD
                .decode(&s.sig)
                .map_err(|_| EnvelopeError::BadSignatureEncoding { index })?;
            let raw: [u8; 64] = raw
                .try_into()
                .map_err(|_| EnvelopeError::BadSignatureEncoding { index })?;
            signatures.push(EnvelopeSignature {
                keyid: s.keyid,
                sig: Signature::from_bytes(&raw),
            });
        }
        Ok(Self {
            payload_type: wire.payload_type,
            payload,
            signatures,
        })
    }

    fn to_wire(&self) -> WireEnvelope {
        WireEnvelope {
            payload_type: self.payload_type.clone(),
            payload: BASE64_STANDARD.encode(&self.payload),
            signatures: self
                .signatures
                .iter()
                .map(|s| WireSignature {
                    keyid: s.keyid.clone(),
                    sig: BASE64_STANDARD.encode(s.sig.to_bytes()),
                })
                .collect(),
        }
    }

    /// The envelope as compact JSON, members in the order `payloadType`, `payload`,
    /// `signatures`.
    ///
    /// # Panics
    /// Never: the wire form is three strings and a list of pairs of strings, which serde_json
    /// always serialises (its only failures are non-string map keys and failing writers).
    #[allow(clippy::expect_used)]
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_wire()).expect("an envelope is plain strings")
    }

    /// The envelope as pretty-printed JSON for files people read.
    #[allow(clippy::expect_used)]
    pub fn to_json_pretty(&self) -> Vec<u8> {
        let mut out =
            serde_json::to_vec_pretty(&self.to_wire()).expect("an envelope is plain strings");
        out.push(b'\n');
        out
    }

    /// The envelope as a JSON value.
    #[allow(clippy::expect_used)]
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self.to_wire()).expect("an envelope is plain strings")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // DSSE protocol.md, "Signature definition" test vector.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn adding_a_signature_keeps_the_payload_bytes() {
        let payload = br#"{"b":1,  "a":2}"#.to_vec();
        let mut env = Envelope::new(payload.clone());
        env.sign(&KeyPair::from_seed("A", &[1; 32]).unwrap());
        let once = Envelope::from_json(&env.to_json()).unwrap();
        let mut twice = once.clone();
        twice.sign(&KeyPair::from_seed("B", &[2; 32]).unwrap());
        assert_eq!(twice.payload, payload);
        assert_eq!(twice.signatures[0], once.signatures[0]);
        assert_eq!(twice.signatures.len(), 2);
        twice.sign(&KeyPair::from_seed("B", &[2; 32]).unwrap());
        assert_eq!(twice.signatures.len(), 2);
    }

    #[test]
    fn limits_are_enforced_with_clear_errors() {
        let mut env = Envelope::new(vec![b'x'; MAX_PAYLOAD_BYTES + 1]);
        env.sign(&KeyPair::from_seed("A", &[1; 32]).unwrap());
        assert!(matches!(
            Envelope::from_json(&env.to_json()),
            Err(EnvelopeError::PayloadTooLarge(_) | EnvelopeError::TooLarge(_))
        ));
        let mut env = Envelope::new(b"{}".to_vec());
        for i in 0..=MAX_SIGNATURES {
            env.sign(&KeyPair::from_seed("A", &[i as u8; 32]).unwrap());
        }
        assert_eq!(
            Envelope::from_json(&env.to_json()),
            Err(EnvelopeError::TooManySignatures(MAX_SIGNATURES + 1))
        );
        // Deep nesting is an error, not a stack overflow.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(Envelope::from_json(deep.as_bytes()).is_err());
        assert!(crate::model::Payload::from_bytes(deep.as_bytes()).is_err());
        let deep_obj = format!(
            r#"{{"ledger":"a.example/l","type":"withdraw","id":"w","signed_at":"2026-01-01T00:00:00Z","target":"c","reason":{}1{}}}"#,
            "[".repeat(5000),
            "]".repeat(5000)
        );
        assert!(crate::model::Payload::from_bytes(deep_obj.as_bytes()).is_err());
    }

    #[test]
    fn unknown_fields_and_bad_signatures_are_refused() {
        let e =
            Envelope::from_json(br#"{"payloadType":"x","payload":"","signatures":[],"extra":1}"#);
        assert!(matches!(e, Err(EnvelopeError::Malformed(m)) if m.contains("extra")));
        let e = Envelope::from_json(
            br#"{"payloadType":"x","payload":"","signatures":[{"keyid":"k","sig":"AAAA"}]}"#,
        );
        assert_eq!(e, Err(EnvelopeError::BadSignatureEncoding { index: 0 }));
    }
}
