//! Ed25519 keys (RFC 8032) and their C2SP signed-note text forms.
//!
//! A member's public key travels as a C2SP signed-note verifier key,
//! `name+hash+base64(0x01 || key)`, where `name` is the member id and `hash` is the first four
//! bytes of SHA-256(name || 0x0A || 0x01 || key) in hex. The same string names the key in a
//! DSSE signature's `keyid` hint (`name+hash`). A private key is the matching C2SP signer key,
//! `PRIVATE+KEY+name+hash+base64(0x01 || seed)`.

use std::fmt;

use base64::prelude::*;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use rand_core::{CryptoRngCore, OsRng};
use sha2::{Digest, Sha256};

/// The C2SP signed-note algorithm byte for Ed25519.
pub const ALG_ED25519: u8 = 0x01;

/// Why a key string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The string is not of the form `name+hash+base64`.
    #[error("malformed verifier key {0:?}: expected name+hash+base64(0x01||key)")]
    Malformed(String),
    /// The key name is empty or contains white space or '+'.
    #[error("invalid key name {0:?}")]
    BadName(String),
    /// The algorithm byte is not 0x01 (Ed25519).
    #[error("unsupported key algorithm 0x{0:02x}: only 0x01 (Ed25519) is accepted")]
    Algorithm(u8),
    /// The key hash in the string does not match the key.
    #[error("key hash {found} does not match the key (expected {expected})")]
    HashMismatch {
        /// The hash written in the string.
        found: String,
        /// The hash computed from name and key.
        expected: String,
    },
    /// The point is not a valid Ed25519 public key or is of small order.
    #[error("public key is not a valid, full-order Ed25519 point")]
    WeakKey,
    /// The private key string is malformed.
    #[error("malformed private key: {0}")]
    MalformedPrivate(String),
}

/// Whether `name` may name a C2SP note key: non-empty, no Unicode white space, no '+'.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(char::is_whitespace) && !name.contains('+')
}

/// The C2SP key ID: the first four bytes of SHA-256(name || 0x0A || alg || key), big-endian.
pub fn key_id(name: &str, alg: u8, key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0A, alg]);
    h.update(key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// A public key with the name it is registered under: a C2SP Ed25519 verifier key.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl VerifierKey {
    /// Names a public key. Refuses weak (small-order or mixed-order) keys, because strict
    /// verification would reject every signature by them anyway and a batched check must
    /// never see one.
    ///
    /// # Errors
    /// [`KeyError::BadName`] or [`KeyError::WeakKey`].
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, KeyError> {
        if !is_valid_key_name(name) {
            return Err(KeyError::BadName(name.to_owned()));
        }
        if key.is_weak() || !key.to_edwards().is_torsion_free() {
            return Err(KeyError::WeakKey);
        }
        Ok(Self {
            name: name.to_owned(),
            id: key_id(name, ALG_ED25519, key.as_bytes()),
            key,
        })
    }

    /// Parses `name+hash+base64(0x01 || key)`.
    ///
    /// # Errors
    /// A [`KeyError`] naming what is wrong.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let mut parts = s.splitn(3, '+');
        let (Some(name), Some(hash), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(KeyError::Malformed(s.to_owned()));
        };
        if !is_valid_key_name(name) {
            return Err(KeyError::BadName(name.to_owned()));
        }
        if hash.len() != 8 || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(KeyError::Malformed(s.to_owned()));
        }
        let raw = BASE64_STANDARD
            .decode(b64)
            .map_err(|_| KeyError::Malformed(s.to_owned()))?;
        let (&alg, key) = raw
            .split_first()
            .ok_or_else(|| KeyError::Malformed(s.to_owned()))?;
        if alg != ALG_ED25519 {
            return Err(KeyError::Algorithm(alg));
        }
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| KeyError::Malformed(s.to_owned()))?;
        let vk = VerifyingKey::from_bytes(&key).map_err(|_| KeyError::WeakKey)?;
        let parsed = Self::new(name, vk)?;
        let expected = format!("{:08x}", parsed.id);
        if expected != hash {
            return Err(KeyError::HashMismatch {
                found: hash.to_owned(),
                expected,
            });
        }
        // One spelling per key: re-encoding must give the same string (rejects
        // non-canonical base64 padding bits).
        if parsed.to_string() != s {
            return Err(KeyError::Malformed(s.to_owned()));
        }
        Ok(parsed)
    }

    /// The name (for a member, the member id).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The C2SP key ID for Ed25519 note signatures.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The DSSE `keyid` hint for this key: `name+hash`.
    pub fn keyid(&self) -> String {
        format!("{}+{:08x}", self.name, self.id)
    }

    /// The Ed25519 public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The 32 public key bytes.
    pub fn key_bytes(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// Strict Ed25519 verification (RFC 8032 5.1.7 with ed25519-dalek's `verify_strict`:
    /// canonical S, no small-order R or A).
    pub fn verify_strict(&self, msg: &[u8], sig: &Signature) -> bool {
        self.key.verify_strict(msg, sig).is_ok()
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = [0u8; 33];
        raw[0] = ALG_ED25519;
        raw[1..].copy_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.id,
            BASE64_STANDARD.encode(raw)
        )
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

impl serde::Serialize for VerifierKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for VerifierKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A private Ed25519 key with the name its public half is registered under.
#[derive(Clone)]
pub struct KeyPair {
    name: String,
    key: SigningKey,
}

impl KeyPair {
    /// Generates a new key from the operating system's random source.
    ///
    /// # Errors
    /// [`KeyError::BadName`] if `name` cannot name a note key.
    pub fn generate(name: &str) -> Result<Self, KeyError> {
        Self::generate_with(name, &mut OsRng)
    }

    /// Generates a new key from `rng`.
    ///
    /// # Errors
    /// [`KeyError::BadName`] if `name` cannot name a note key.
    pub fn generate_with<R: CryptoRngCore + ?Sized>(
        name: &str,
        rng: &mut R,
    ) -> Result<Self, KeyError> {
        if !is_valid_key_name(name) {
            return Err(KeyError::BadName(name.to_owned()));
        }
        Ok(Self {
            name: name.to_owned(),
            key: SigningKey::generate(rng),
        })
    }

    /// A key pair from a 32-byte seed (RFC 8032 private key).
    ///
    /// # Errors
    /// [`KeyError::BadName`] if `name` cannot name a note key.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, KeyError> {
        if !is_valid_key_name(name) {
            return Err(KeyError::BadName(name.to_owned()));
        }
        Ok(Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(seed),
        })
    }

    /// Parses a C2SP signer key `PRIVATE+KEY+name+hash+base64(0x01 || seed)`.
    ///
    /// # Errors
    /// [`KeyError::MalformedPrivate`] naming what is wrong (never echoing key material).
    pub fn from_skey(s: &str) -> Result<Self, KeyError> {
        let bad = |why: &str| KeyError::MalformedPrivate(why.to_owned());
        let rest = s
            .trim_end()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad("does not start with PRIVATE+KEY+"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(hash), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected PRIVATE+KEY+name+hash+base64"));
        };
        let raw = BASE64_STANDARD
            .decode(b64)
            .map_err(|_| bad("key data is not base64"))?;
        let (&alg, seed) = raw.split_first().ok_or_else(|| bad("empty key data"))?;
        if alg != ALG_ED25519 {
            return Err(KeyError::Algorithm(alg));
        }
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| bad("Ed25519 seed must be 32 bytes"))?;
        let pair = Self::from_seed(name, &seed)?;
        let id = key_id(name, ALG_ED25519, pair.key.verifying_key().as_bytes());
        if format!("{id:08x}") != hash {
            return Err(bad("key hash does not match the key"));
        }
        Ok(pair)
    }

    /// The C2SP signer key text. Secret: handle with care.
    pub fn to_skey(&self) -> String {
        let mut raw = [0u8; 33];
        raw[0] = ALG_ED25519;
        raw[1..].copy_from_slice(&self.key.to_bytes());
        let id = key_id(&self.name, ALG_ED25519, self.key.verifying_key().as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            id,
            BASE64_STANDARD.encode(raw)
        )
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public half as a verifier key.
    ///
    /// # Errors
    /// [`KeyError::WeakKey`] is impossible for generated keys; it is returned, not panicked,
    /// for completeness.
    pub fn verifier(&self) -> Result<VerifierKey, KeyError> {
        VerifierKey::new(&self.name, self.key.verifying_key())
    }

    /// The DSSE `keyid` hint for this key.
    pub fn keyid(&self) -> String {
        format!(
            "{}+{:08x}",
            self.name,
            key_id(&self.name, ALG_ED25519, self.key.verifying_key().as_bytes())
        )
    }

    /// Signs `msg` (RFC 8032 5.1.6).
    pub fn sign(&self, msg: &[u8]) -> Signature {
        use ed25519_dalek::Signer;
        self.key.sign(msg)
    }

    /// The underlying Ed25519 signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPair({}, <secret>)", self.keyid())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn verifier_key_round_trip() {
        let k = KeyPair::from_seed("JP-MOF", &[7u8; 32]).unwrap();
        let v = k.verifier().unwrap();
        let s = v.to_string();
        assert_eq!(VerifierKey::parse(&s).unwrap(), v);
        assert!(s.starts_with(&k.keyid()));
        assert_eq!(KeyPair::from_skey(&k.to_skey()).unwrap().keyid(), k.keyid());
    }

    #[test]
    fn tampered_key_strings_are_refused() {
        let v = KeyPair::from_seed("JP-MOF", &[7u8; 32])
            .unwrap()
            .verifier()
            .unwrap()
            .to_string();
        let renamed = v.replacen("JP-MOF", "US-DOT", 1);
        assert!(matches!(
            VerifierKey::parse(&renamed),
            Err(KeyError::HashMismatch { .. })
        ));
        assert!(VerifierKey::parse("JP-MOF").is_err());
        assert!(VerifierKey::parse("JP-MOF+zz+AAAA").is_err());
        // The identity point is of small order.
        let mut raw = vec![ALG_ED25519, 1];
        raw.extend([0u8; 31]);
        let ident = VerifyingKey::from_bytes(&raw[1..].try_into().unwrap()).unwrap();
        assert_eq!(VerifierKey::new("X", ident), Err(KeyError::WeakKey));
    }
}
