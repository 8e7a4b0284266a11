//! C2SP checkpoints (c2sp.org/tlog-checkpoint) signed as C2SP signed notes
//! (c2sp.org/signed-note) by the log key, and C2SP cosignatures (c2sp.org/tlog-cosignature,
//! cosignature/v1) by members.
//!
//! The note format and checkpoint body come from Cloudflare's `signed_note` and `tlog_tiles`
//! crates; accord supplies Ed25519 signers and verifiers on their traits that verify
//! strictly, and cosignature/v1.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use signed_note::{Note, NoteError, Signer, Verifier, VerifierList};

use crate::keys::{key_id, ALG_ED25519};
use crate::log::Hash;

/// The C2SP signed-note algorithm byte of cosignature/v1.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// Why a checkpoint or note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Not a well-formed note or checkpoint.
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    /// The log's signature is missing.
    #[error("the checkpoint carries no signature by the log key {0}")]
    NoLogSignature(String),
    /// A signature by a known key does not verify.
    #[error("the signature by {0} does not verify")]
    BadSignature(String),
    /// A cosignature line is malformed or does not verify.
    #[error("cosignature by {name}: {why}")]
    Cosignature {
        /// The cosigner's name.
        name: String,
        /// Why.
        why: String,
    },
}

/// A checkpoint body: origin, tree size, root hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
}

impl Checkpoint {
    /// A checkpoint.
    ///
    /// # Errors
    /// [`CheckpointError::Malformed`] for an empty origin or one with a newline.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, CheckpointError> {
        tlog_tiles::Checkpoint::new(origin, size, tlog_tiles::Hash(root.0), "")
            .map_err(|e| CheckpointError::Malformed(e.to_string()))?;
        if origin.contains('\n') {
            return Err(CheckpointError::Malformed("origin has a newline".into()));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    /// The origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// The body: `origin\nsize\nbase64(root)\n`.
    pub fn body(&self) -> Vec<u8> {
        match tlog_tiles::Checkpoint::new(
            &self.origin,
            self.size,
            tlog_tiles::Hash(self.root.0),
            "",
        ) {
            Ok(c) => c.to_bytes(),
            Err(_) => format!(
                "{}\n{}\n{}\n",
                self.origin,
                self.size,
                self.root.to_base64()
            )
            .into_bytes(),
        }
    }

    /// Parses a body (no extension lines are accepted: accord writes none).
    ///
    /// # Errors
    /// [`CheckpointError::Malformed`].
    pub fn parse_body(body: &[u8]) -> Result<Self, CheckpointError> {
        let c = tlog_tiles::Checkpoint::from_bytes(body)
            .map_err(|e| CheckpointError::Malformed(e.to_string()))?;
        if !c.extension().is_empty() {
            return Err(CheckpointError::Malformed(
                "unexpected extension lines".into(),
            ));
        }
        Self::new(c.origin(), c.size(), Hash(c.hash().0))
    }
}

/// The C2SP key ID of an Ed25519 note key (type 0x01).
pub fn note_key_id(name: &str, key: &VerifyingKey) -> u32 {
    key_id(name, ALG_ED25519, key.as_bytes())
}

/// The C2SP key ID of a cosignature/v1 key (type 0x04).
pub fn cosignature_key_id(name: &str, key: &VerifyingKey) -> u32 {
    key_id(name, ALG_COSIGNATURE_V1, key.as_bytes())
}

/// The message a cosignature/v1 signs: `cosignature/v1\ntime <T>\n` then the note text.
pub fn cosigned_message(timestamp: u64, text: &[u8]) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    m.extend_from_slice(text);
    m
}

/// Signs notes with an Ed25519 key (type 0x01).
pub struct NoteSigner<'a> {
    name: String,
    id: u32,
    key: &'a SigningKey,
}

impl<'a> NoteSigner<'a> {
    /// A signer named `name`.
    pub fn new(name: &str, key: &'a SigningKey) -> Self {
        Self {
            name: name.to_owned(),
            id: note_key_id(name, &key.verifying_key()),
            key,
        }
    }
}

impl Signer for NoteSigner<'_> {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(self.key.sign(msg).to_bytes().to_vec())
    }
}

/// Verifies Ed25519 note signatures strictly (type 0x01).
pub struct NoteVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// A verifier for `name`'s key.
    pub fn new(name: &str, key: &VerifyingKey) -> Self {
        Self {
            name: name.to_owned(),
            id: note_key_id(name, key),
            key: *key,
        }
    }
}

impl Verifier for NoteVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = <[u8; 64]>::try_from(sig) else {
            return false;
        };
        self.key
            .verify_strict(msg, &Signature::from_bytes(&sig))
            .is_ok()
    }
}

/// Makes cosignature/v1 signatures (type 0x04) at a fixed timestamp.
pub struct CosignatureSigner<'a> {
    name: String,
    id: u32,
    key: &'a SigningKey,
    timestamp: u64,
}

impl<'a> CosignatureSigner<'a> {
    /// A cosigner named `name`, signing at `timestamp` (seconds since the epoch).
    pub fn new(name: &str, key: &'a SigningKey, timestamp: u64) -> Self {
        Self {
            name: name.to_owned(),
            id: cosignature_key_id(name, &key.verifying_key()),
            key,
            timestamp,
        }
    }
}

impl Signer for CosignatureSigner<'_> {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let sig = self.key.sign(&cosigned_message(self.timestamp, msg));
        let mut out = self.timestamp.to_be_bytes().to_vec();
        out.extend_from_slice(&sig.to_bytes());
        Ok(out)
    }
}

/// Verifies cosignature/v1 signatures (type 0x04) strictly.
pub struct CosignatureVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl CosignatureVerifier {
    /// A verifier for `name`'s cosignatures.
    pub fn new(name: &str, key: &VerifyingKey) -> Self {
        Self {
            name: name.to_owned(),
            id: cosignature_key_id(name, key),
            key: *key,
        }
    }
}

impl Verifier for CosignatureVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        if sig.len() != 72 {
            return false;
        }
        let (ts, sig) = sig.split_at(8);
        let (Ok(ts), Ok(sig)) = (<[u8; 8]>::try_from(ts), <[u8; 64]>::try_from(sig)) else {
            return false;
        };
        let msg = cosigned_message(u64::from_be_bytes(ts), msg);
        self.key
            .verify_strict(&msg, &Signature::from_bytes(&sig))
            .is_ok()
    }
}

/// A cosignature line, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosignature {
    /// The cosigner's name (member id).
    pub name: String,
    /// Its key ID (type 0x04).
    pub key_id: u32,
    /// When it cosigned, seconds since the epoch.
    pub timestamp: u64,
    /// The signature.
    pub signature: [u8; 64],
}

/// A checkpoint as a signed note, with every signature line (log and cosigners).
#[derive(Clone, Debug, PartialEq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    text: Vec<u8>,
    sigs: Vec<signed_note::Signature>,
}

fn note_err(e: NoteError) -> CheckpointError {
    CheckpointError::Malformed(e.to_string())
}

impl SignedCheckpoint {
    /// Signs `checkpoint` with the log key named `log_name`.
    ///
    /// # Errors
    /// [`CheckpointError::Malformed`] if the name cannot name a note key.
    pub fn sign(
        checkpoint: &Checkpoint,
        log_name: &str,
        key: &SigningKey,
    ) -> Result<Self, CheckpointError> {
        let text = checkpoint.body();
        let mut note = Note::new(&text, &[]).map_err(note_err)?;
        note.add_sigs(&[&NoteSigner::new(log_name, key)])
            .map_err(note_err)?;
        Self::from_bytes(&note.to_bytes())
    }

    /// Parses a signed note whose text is a checkpoint.
    ///
    /// # Errors
    /// [`CheckpointError::Malformed`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CheckpointError> {
        // Validate the whole note with the crate's parser first.
        Note::from_bytes(bytes).map_err(note_err)?;
        let s = std::str::from_utf8(bytes)
            .map_err(|_| CheckpointError::Malformed("not UTF-8".into()))?;
        let (text, sigs) = s
            .rsplit_once("\n\n")
            .ok_or_else(|| CheckpointError::Malformed("no signature lines".into()))?;
        let text = format!("{text}\n").into_bytes();
        let mut parsed = Vec::new();
        for line in sigs.strip_suffix('\n').unwrap_or(sigs).split('\n') {
            parsed.push(signed_note::Signature::from_bytes(line.as_bytes()).map_err(note_err)?);
        }
        let checkpoint = Checkpoint::parse_body(&text)?;
        Ok(Self {
            checkpoint,
            text,
            sigs: parsed,
        })
    }

    /// The exact note text: body, blank line, signature lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.text.clone();
        out.push(b'\n');
        for s in &self.sigs {
            out.extend_from_slice(&s.to_bytes());
        }
        out
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed body.
    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// Checks the log's Ed25519 signature (strictly). Other lines are not looked at.
    ///
    /// # Errors
    /// [`CheckpointError::NoLogSignature`] or [`CheckpointError::BadSignature`].
    pub fn verify_log(&self, log_name: &str, key: &VerifyingKey) -> Result<(), CheckpointError> {
        let note = Note::new(&self.text, &self.sigs).map_err(note_err)?;
        let list = VerifierList::new(vec![Box::new(NoteVerifier::new(log_name, key))]);
        match note.verify(&list) {
            Ok(_) => Ok(()),
            Err(NoteError::UnverifiedNote) => {
                Err(CheckpointError::NoLogSignature(log_name.to_owned()))
            }
            Err(NoteError::InvalidSignature { name, .. }) => {
                Err(CheckpointError::BadSignature(name))
            }
            Err(e) => Err(note_err(e)),
        }
    }

    /// A cosignature line (`— name base64(keyid || timestamp || sig)\n`) for this checkpoint
    /// by `name`'s key at `timestamp`.
    ///
    /// # Errors
    /// [`CheckpointError::Malformed`] if the name cannot name a note key.
    pub fn cosignature_line(
        &self,
        name: &str,
        key: &SigningKey,
        timestamp: u64,
    ) -> Result<Vec<u8>, CheckpointError> {
        let mut note = Note::new(&self.text, &[]).map_err(note_err)?;
        note.add_sigs(&[&CosignatureSigner::new(name, key, timestamp)])
            .map_err(note_err)?;
        let bytes = note.to_bytes();
        Ok(bytes[self.text.len() + 1..].to_vec())
    }

    /// Appends a stored signature line.
    ///
    /// # Errors
    /// [`CheckpointError::Malformed`] if it is not one line of the form `— name base64`.
    pub fn add_signature_line(&mut self, line: &[u8]) -> Result<(), CheckpointError> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        if line.contains(&b'\n') {
            return Err(CheckpointError::Malformed("more than one line".into()));
        }
        self.sigs
            .push(signed_note::Signature::from_bytes(line).map_err(note_err)?);
        Ok(())
    }

    /// The lines that have the shape of a cosignature/v1 (72 bytes after the key ID).
    pub fn cosignatures(&self) -> Vec<Cosignature> {
        self.sigs
            .iter()
            .filter_map(|s| {
                let raw = s.signature();
                if raw.len() != 72 {
                    return None;
                }
                Some(Cosignature {
                    name: s.name().to_owned(),
                    key_id: s.id(),
                    timestamp: u64::from_be_bytes(raw[..8].try_into().ok()?),
                    signature: raw[8..].try_into().ok()?,
                })
            })
            .collect()
    }

    /// Checks one cosignature against `name`'s key.
    ///
    /// # Errors
    /// [`CheckpointError::Cosignature`] saying why not.
    pub fn verify_cosignature(
        &self,
        c: &Cosignature,
        name: &str,
        key: &VerifyingKey,
    ) -> Result<(), CheckpointError> {
        let err = |why: &str| CheckpointError::Cosignature {
            name: c.name.clone(),
            why: why.to_owned(),
        };
        let v = CosignatureVerifier::new(name, key);
        if c.name != name || c.key_id != v.key_id() {
            return Err(err("the key ID does not match the key"));
        }
        let mut sig = c.timestamp.to_be_bytes().to_vec();
        sig.extend_from_slice(&c.signature);
        if v.verify(&self.text, &sig) {
            Ok(())
        } else {
            Err(err("the signature does not verify over this checkpoint"))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::log::leaf_hash;
    use proptest::prelude::*;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    #[test]
    fn sign_parse_verify_and_cosign() {
        let cp = Checkpoint::new("example.org/log", 7, leaf_hash(b"x")).unwrap();
        let log = key(1);
        let signed = SignedCheckpoint::sign(&cp, "example.org/log", &log).unwrap();
        let bytes = signed.to_bytes();
        let parsed = SignedCheckpoint::from_bytes(&bytes).unwrap();
        assert_eq!(parsed.to_bytes(), bytes);
        parsed
            .verify_log("example.org/log", &log.verifying_key())
            .unwrap();
        assert!(parsed
            .verify_log("example.org/log", &key(2).verifying_key())
            .is_err());

        let member = key(3);
        let line = parsed
            .cosignature_line("JP-MOF", &member, 1_700_000_000)
            .unwrap();
        let mut with = parsed.clone();
        with.add_signature_line(&line).unwrap();
        let again = SignedCheckpoint::from_bytes(&with.to_bytes()).unwrap();
        again
            .verify_log("example.org/log", &log.verifying_key())
            .unwrap();
        let cos = again.cosignatures();
        assert_eq!(cos.len(), 1);
        assert_eq!(cos[0].timestamp, 1_700_000_000);
        again
            .verify_cosignature(&cos[0], "JP-MOF", &member.verifying_key())
            .unwrap();
        assert!(again
            .verify_cosignature(&cos[0], "JP-MOF", &key(4).verifying_key())
            .is_err());

        // The same cosignature moved onto another checkpoint does not verify.
        let other = Checkpoint::new("example.org/log", 8, leaf_hash(b"y")).unwrap();
        let mut moved = SignedCheckpoint::sign(&other, "example.org/log", &log).unwrap();
        moved.add_signature_line(&line).unwrap();
        let c = moved.cosignatures();
        assert!(moved
            .verify_cosignature(&c[0], "JP-MOF", &member.verifying_key())
            .is_err());

        // A tampered body fails the log signature.
        let tampered = String::from_utf8(bytes).unwrap().replace("\n7\n", "\n9\n");
        let t = SignedCheckpoint::from_bytes(tampered.as_bytes()).unwrap();
        assert!(matches!(
            t.verify_log("example.org/log", &log.verifying_key()),
            Err(CheckpointError::BadSignature(_))
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = SignedCheckpoint::from_bytes(&bytes);
            let _ = Checkpoint::parse_body(&bytes);
            let _ = crate::keys::VerifierKey::parse(&String::from_utf8_lossy(&bytes));
        }
    }
}
