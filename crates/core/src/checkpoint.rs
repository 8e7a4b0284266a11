//! C2SP checkpoints (c2sp.org/tlog-checkpoint) signed as C2SP signed notes
//! (c2sp.org/signed-note) by the log's Ed25519 key, and C2SP cosignatures
//! (c2sp.org/tlog-cosignature, `cosignature/v1`, Ed25519) by other parties.
//!
//! The note syntax and the checkpoint body are those of Cloudflare's `signed_note` and
//! `tlog_tiles` crates (ports of Go's `golang.org/x/mod/sumdb/note` and `sumdb/tlog`). accord
//! supplies its own signers and verifiers on `signed_note`'s [`Signer`] and [`Verifier`]
//! traits: they verify with `ed25519_dalek::VerifyingKey::verify_strict` (RFC 8032 section
//! 5.1.7, also refusing small-order public keys and `R` points), where
//! `signed_note::StandardVerifier` uses the permissive `verify`. Parsing is strict: a note is
//! accepted only if it re-encodes to exactly the same bytes.
//!
//! A signed checkpoint is laid out like this (c2sp.org/tlog-checkpoint, "Note text";
//! c2sp.org/signed-note, "Format"; c2sp.org/tlog-cosignature, "Format"):
//!
//! ```text
//! <origin>
//! <tree size, decimal>
//! <root hash, standard base64>
//!
//! — <log key name> base64(key ID || Ed25519 signature)
//! — <cosigner name> base64(key ID || timestamp || Ed25519 signature)
//! ```

use base64::prelude::*;
use ed25519_dalek::{Signature as Ed25519Signature, Signer as _, SigningKey, VerifyingKey};
use signed_note::{is_key_name_valid, Note, NoteError, Signature, Signer, Verifier, VerifierList};

use crate::log::Hash;

/// The C2SP signed-note signature type of Ed25519 note signatures (c2sp.org/signed-note,
/// "Signature types").
pub const ALG_ED25519: u8 = 0x01;

/// The C2SP signed-note signature type of Ed25519 `cosignature/v1` signatures
/// (c2sp.org/tlog-cosignature, "Format").
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// The largest signed note [`SignedCheckpoint::from_bytes`] parses, in bytes.
pub const MAX_NOTE_BYTES: usize = 65_536;

/// The most signature lines a signed checkpoint may carry (the limit of Go's `sumdb/note` and
/// of `signed_note`).
pub const MAX_SIGNATURES: usize = 100;

/// The longest origin line accepted, in bytes.
pub const MAX_ORIGIN_BYTES: usize = 1024;

/// The largest `cosignature/v1` timestamp: 2^63 - 1 (c2sp.org/tlog-cosignature, "Format").
pub const MAX_COSIGNATURE_TIMESTAMP: u64 = i64::MAX as u64;

/// The length of an Ed25519 note signature after the key ID.
const ED25519_SIG_LEN: usize = 64;

/// The length of a `cosignature/v1` signature after the key ID: timestamp and signature.
const COSIGNATURE_LEN: usize = 8 + 64;

/// The longest verifier key string [`parse_vkey`] looks at.
const MAX_VKEY_LEN: usize = 1024;

/// Why a checkpoint, note, key or signature was refused.
///
/// Variants named `Malformed*`, `TooLarge`, `TooManySignatures`, `InvalidKeyName`,
/// `UnsupportedAlgorithm`, `KeyIdMismatch` and `WeakKey` mean the input is not well-formed;
/// `NoLogSignature`, `BadLogSignature`, `CosignatureKeyMismatch` and `BadCosignature` mean it
/// is well-formed but does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The note is longer than [`MAX_NOTE_BYTES`].
    #[error("the note is {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not a canonical C2SP signed note (UTF-8 without control characters
    /// other than newline, text ending in a newline, a blank line, then well-formed
    /// signature lines).
    #[error("malformed signed note: {0}")]
    MalformedNote(&'static str),
    /// The note text is not a C2SP checkpoint body as accord writes it: origin, decimal tree
    /// size, base64 root hash, each on its own line, no extension lines.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// More than [`MAX_SIGNATURES`] signature lines.
    #[error("{0} signature lines, more than the {MAX_SIGNATURES} accepted")]
    TooManySignatures(usize),
    /// Not a valid C2SP signed-note key name (empty, or with a space or a `+`).
    #[error("{0:?} is not a valid key name")]
    InvalidKeyName(String),
    /// A verifier key string (`name+id+base64`) is malformed.
    #[error("malformed verifier key: {0}")]
    MalformedVkey(&'static str),
    /// A verifier key is of another signature type than Ed25519 (0x01).
    #[error("unsupported verifier key type 0x{0:02x}")]
    UnsupportedAlgorithm(u8),
    /// A verifier key's stated key ID is not the one computed from its name and key.
    #[error("verifier key {name}: stated key ID {stated:08x}, computed {computed:08x}")]
    KeyIdMismatch {
        /// The key name.
        name: String,
        /// The key ID in the string.
        stated: u32,
        /// The key ID of the name and key.
        computed: u32,
    },
    /// The public key is a weak (small-order) Ed25519 point.
    #[error("weak (small-order) Ed25519 public key")]
    WeakKey,
    /// A signature line by the log key has the wrong length for an Ed25519 signature.
    #[error("the signature line of {name}+{key_id:08x} has {len} signature bytes, not 64")]
    MalformedSignature {
        /// The key name.
        name: String,
        /// The key ID.
        key_id: u32,
        /// The signature length after the key ID.
        len: usize,
    },
    /// A cosignature is malformed: its timestamp is above [`MAX_COSIGNATURE_TIMESTAMP`].
    #[error("the cosignature by {name} has timestamp {timestamp}, above 2^63 - 1")]
    MalformedCosignature {
        /// The cosigner's name.
        name: String,
        /// The timestamp.
        timestamp: u64,
    },
    /// The note carries no signature line by the log key (name and key ID).
    #[error("no signature by the log key {name}+{key_id:08x}")]
    NoLogSignature {
        /// The log's key name.
        name: String,
        /// The log's key ID.
        key_id: u32,
    },
    /// A signature line by the log key does not verify over the note text.
    #[error("the signature by the log key {name}+{key_id:08x} does not verify")]
    BadLogSignature {
        /// The log's key name.
        name: String,
        /// The log's key ID.
        key_id: u32,
    },
    /// The cosignature is not by the expected cosigner: its name or key ID differ from those
    /// of the name and key it is checked against (an unknown or another key).
    #[error("cosignature by {name}+{key_id:08x} is not by {expected_name}+{expected_key_id:08x}")]
    CosignatureKeyMismatch {
        /// The name on the cosignature.
        name: String,
        /// The key ID on the cosignature.
        key_id: u32,
        /// The cosigner name checked against.
        expected_name: String,
        /// The key ID of the cosigner key checked against.
        expected_key_id: u32,
    },
    /// The cosignature does not verify over this checkpoint.
    #[error("the cosignature by {name}+{key_id:08x} does not verify over this checkpoint")]
    BadCosignature {
        /// The cosigner's name.
        name: String,
        /// The key ID.
        key_id: u32,
    },
}

/// A C2SP tlog-checkpoint body: origin, tree size and root hash (c2sp.org/tlog-checkpoint,
/// "Note text"). accord writes and accepts no extension lines.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
}

fn check_origin(origin: &str) -> Result<(), CheckpointError> {
    if origin.is_empty() {
        return Err(CheckpointError::MalformedCheckpoint("empty origin"));
    }
    if origin.len() > MAX_ORIGIN_BYTES {
        return Err(CheckpointError::MalformedCheckpoint("origin too long"));
    }
    // A note text holds no control characters but newline (c2sp.org/signed-note, "Format"),
    // and the origin is a single line.
    if origin.chars().any(|c| c < ' ') {
        return Err(CheckpointError::MalformedCheckpoint(
            "origin has a control character or newline",
        ));
    }
    Ok(())
}

impl Checkpoint {
    /// A checkpoint of the tree of `size` leaves with root `root`, for the log `origin`.
    ///
    /// # Errors
    /// [`CheckpointError::MalformedCheckpoint`] for an empty origin, one longer than
    /// [`MAX_ORIGIN_BYTES`], or one with a control character (including newline).
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, CheckpointError> {
        check_origin(origin)?;
        tlog_tiles::Checkpoint::new(origin, size, root.to_tl(), "")
            .map_err(|_| CheckpointError::MalformedCheckpoint("refused by tlog_tiles"))?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    /// The origin line: the log's unique identifier.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash (RFC 6962 section 2.1 MTH of the first `size` leaves).
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// The note text: exactly `"<origin>\n<size>\n<base64 root>\n"` (c2sp.org/tlog-checkpoint,
    /// "Note text"), written by `tlog_tiles::Checkpoint`.
    pub fn body(&self) -> String {
        let fallback = || {
            format!(
                "{}\n{}\n{}\n",
                self.origin,
                self.size,
                self.root.to_base64()
            )
        };
        // `new` validated the origin, so tlog_tiles accepts it and writes UTF-8.
        match tlog_tiles::Checkpoint::new(&self.origin, self.size, self.root.to_tl(), "") {
            Ok(c) => String::from_utf8(c.to_bytes()).unwrap_or_else(|_| fallback()),
            Err(_) => fallback(),
        }
    }

    /// Parses a checkpoint body strictly (`tlog_tiles::Checkpoint::from_bytes`): three lines,
    /// a canonical decimal size, canonical standard base64 of a 32-byte root, no extension
    /// lines, and nothing after.
    ///
    /// # Errors
    /// [`CheckpointError::MalformedCheckpoint`].
    pub fn parse_body(body: &[u8]) -> Result<Self, CheckpointError> {
        if body.len() > MAX_NOTE_BYTES {
            return Err(CheckpointError::MalformedCheckpoint("too long"));
        }
        let c = tlog_tiles::Checkpoint::from_bytes(body)
            .map_err(|_| CheckpointError::MalformedCheckpoint("not origin, size and root lines"))?;
        if !c.extension().is_empty() {
            return Err(CheckpointError::MalformedCheckpoint(
                "extension lines (accord writes none)",
            ));
        }
        let checkpoint = Self::new(c.origin(), c.size(), Hash::from_tl(*c.hash()))?;
        if checkpoint.body().as_bytes() != body {
            return Err(CheckpointError::MalformedCheckpoint(
                "not in canonical form",
            ));
        }
        Ok(checkpoint)
    }
}

fn key_id(name: &str, alg: u8, key: &VerifyingKey) -> u32 {
    let mut encoded = Vec::with_capacity(33);
    encoded.push(alg);
    encoded.extend_from_slice(key.as_bytes());
    signed_note::key_id(name, &encoded)
}

/// The key ID of an Ed25519 note key (type 0x01): the first four bytes, big-endian, of
/// `SHA-256(name || 0x0A || 0x01 || public key)` (c2sp.org/signed-note, "Signatures").
pub fn note_key_id(name: &str, key: &VerifyingKey) -> u32 {
    key_id(name, ALG_ED25519, key)
}

/// The key ID of an Ed25519 `cosignature/v1` key (type 0x04): the first four bytes,
/// big-endian, of `SHA-256(name || 0x0A || 0x04 || public key)` (c2sp.org/tlog-cosignature,
/// "Format").
pub fn cosignature_key_id(name: &str, key: &VerifyingKey) -> u32 {
    key_id(name, ALG_COSIGNATURE_V1, key)
}

/// The verifier key string `<name>+<8 hex digits key ID>+<base64(0x01 || public key)>` of an
/// Ed25519 note key (c2sp.org/signed-note, "Verifier keys").
pub fn vkey_string(name: &str, key: &VerifyingKey) -> String {
    let mut encoded = vec![ALG_ED25519];
    encoded.extend_from_slice(key.as_bytes());
    format!(
        "{name}+{:08x}+{}",
        note_key_id(name, key),
        BASE64_STANDARD.encode(encoded)
    )
}

/// Parses an Ed25519 verifier key string `<name>+<key ID>+<base64(0x01 || public key)>`
/// (c2sp.org/signed-note, "Verifier keys"). The name must be a valid key name, the key ID 8
/// lower-case hex digits equal to [`note_key_id`], the key data canonical standard base64 of
/// the type byte 0x01 and 32 bytes of a valid Ed25519 point that is not of small order. Base64
/// may contain `+`: the string is split into at most three parts.
///
/// # Errors
/// [`CheckpointError::MalformedVkey`], [`CheckpointError::InvalidKeyName`],
/// [`CheckpointError::UnsupportedAlgorithm`], [`CheckpointError::KeyIdMismatch`] or
/// [`CheckpointError::WeakKey`].
pub fn parse_vkey(vkey: &str) -> Result<(String, VerifyingKey), CheckpointError> {
    use crate::keys::{KeyError, VerifierKey};
    use CheckpointError::MalformedVkey;
    if vkey.len() > MAX_VKEY_LEN {
        return Err(MalformedVkey("too long"));
    }
    // One parser for verifier keys: the keys module's, which members' keys use too.
    match VerifierKey::parse(vkey) {
        Ok(k) => Ok((k.name().to_owned(), *k.verifying_key())),
        Err(KeyError::BadName(name)) => Err(CheckpointError::InvalidKeyName(name)),
        Err(KeyError::Algorithm(alg)) => Err(CheckpointError::UnsupportedAlgorithm(alg)),
        Err(KeyError::HashMismatch { found, expected }) => Err(CheckpointError::KeyIdMismatch {
            name: vkey.split('+').next().unwrap_or_default().to_owned(),
            stated: u32::from_str_radix(&found, 16).unwrap_or_default(),
            computed: u32::from_str_radix(&expected, 16).unwrap_or_default(),
        }),
        Err(KeyError::WeakKey) => Err(CheckpointError::WeakKey),
        Err(_) => Err(MalformedVkey(
            "not name+id+base64(0x01 || 32-byte Ed25519 key)",
        )),
    }
}

/// The message a `cosignature/v1` signs (c2sp.org/tlog-cosignature, "Ed25519 signed
/// message"): `"cosignature/v1\ntime <timestamp>\n"` followed by the whole checkpoint note
/// text (including its final newline, excluding signature lines).
pub fn cosigned_message(timestamp: u64, text: &[u8]) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    m.extend_from_slice(text);
    m
}

/// Signs notes with an Ed25519 key (signature type 0x01, c2sp.org/signed-note).
pub struct NoteSigner<'a> {
    name: String,
    id: u32,
    key: &'a SigningKey,
}

impl<'a> NoteSigner<'a> {
    /// A signer for the key named `name` (the name is checked when a note is signed).
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

/// Verifies Ed25519 note signatures (type 0x01) strictly (`verify_strict`).
#[derive(Clone, Debug)]
pub struct NoteVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// A verifier for `name`'s Ed25519 key.
    pub fn new(name: &str, key: &VerifyingKey) -> Self {
        Self {
            name: name.to_owned(),
            id: note_key_id(name, key),
            key: *key,
        }
    }

    /// A verifier from a verifier key string (see [`parse_vkey`]).
    ///
    /// # Errors
    /// As [`parse_vkey`].
    pub fn from_vkey(vkey: &str) -> Result<Self, CheckpointError> {
        let (name, key) = parse_vkey(vkey)?;
        Ok(Self::new(&name, &key))
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
        let Ok(sig) = <[u8; ED25519_SIG_LEN]>::try_from(sig) else {
            return false;
        };
        self.key
            .verify_strict(msg, &Ed25519Signature::from_bytes(&sig))
            .is_ok()
    }
}

/// Makes `cosignature/v1` signatures (type 0x04, c2sp.org/tlog-cosignature) at a fixed
/// timestamp: the signature bytes are the timestamp (8 bytes, big-endian) then the Ed25519
/// signature of [`cosigned_message`].
pub struct CosignatureSigner<'a> {
    name: String,
    id: u32,
    key: &'a SigningKey,
    timestamp: u64,
}

impl<'a> CosignatureSigner<'a> {
    /// A cosigner named `name`, signing at `timestamp` (seconds since the Unix epoch; signing
    /// fails above [`MAX_COSIGNATURE_TIMESTAMP`]).
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
        if self.timestamp > MAX_COSIGNATURE_TIMESTAMP {
            return Err(signature::Error::new());
        }
        let sig = self.key.sign(&cosigned_message(self.timestamp, msg));
        let mut out = Vec::with_capacity(COSIGNATURE_LEN);
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&sig.to_bytes());
        Ok(out)
    }
}

/// Verifies `cosignature/v1` signatures (type 0x04) strictly (`verify_strict`).
#[derive(Clone, Debug)]
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
        let Ok(sig) = <[u8; COSIGNATURE_LEN]>::try_from(sig) else {
            return false;
        };
        let (ts, sig) = sig.split_at(8);
        let (Ok(ts), Ok(sig)) = (<[u8; 8]>::try_from(ts), <[u8; 64]>::try_from(sig)) else {
            return false;
        };
        let ts = u64::from_be_bytes(ts);
        if ts > MAX_COSIGNATURE_TIMESTAMP {
            return false;
        }
        self.key
            .verify_strict(
                &cosigned_message(ts, msg),
                &Ed25519Signature::from_bytes(&sig),
            )
            .is_ok()
    }
}

/// A signature line with the shape of a `cosignature/v1`, decoded: `— <name>
/// base64(key ID || timestamp || signature)`, 4 + 8 + 64 bytes after base64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosignature {
    /// The cosigner's key name.
    pub name: String,
    /// The key ID on the line (type 0x04 for a genuine cosignature).
    pub key_id: u32,
    /// When it was made, seconds since the Unix epoch.
    pub timestamp: u64,
    /// The Ed25519 signature of [`cosigned_message`].
    pub signature: [u8; 64],
}

/// A checkpoint as a C2SP signed note: the body and every signature line (the log's and
/// cosigners', and any others, kept in order).
#[derive(Clone, Debug, PartialEq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    text: Vec<u8>,
    sigs: Vec<Signature>,
}

fn malformed_note(_: NoteError) -> CheckpointError {
    CheckpointError::MalformedNote(
        "not UTF-8 text without control characters, a blank line and signature lines",
    )
}

fn check_name(name: &str) -> Result<(), CheckpointError> {
    if is_key_name_valid(name) {
        Ok(())
    } else {
        Err(CheckpointError::InvalidKeyName(name.to_owned()))
    }
}

/// Splits a note as `signed_note::Note::from_bytes` does (which keeps the signatures
/// private): the text up to the last blank line, then one signature per line.
fn split_note(s: &str) -> Result<(String, Vec<Signature>), CheckpointError> {
    let (text, block) = s.rsplit_once("\n\n").ok_or(CheckpointError::MalformedNote(
        "no blank line before signatures",
    ))?;
    let block = block
        .strip_suffix('\n')
        .ok_or(CheckpointError::MalformedNote("no final newline"))?;
    let sigs = block
        .split('\n')
        .map(|line| Signature::from_bytes(line.as_bytes()).map_err(malformed_note))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((format!("{text}\n"), sigs))
}

impl SignedCheckpoint {
    /// Signs `checkpoint` with the log's Ed25519 key named `log_name` (a note signature of type
    /// 0x01 over [`Checkpoint::body`]).
    ///
    /// # Errors
    /// [`CheckpointError::InvalidKeyName`] if `log_name` cannot name a note key.
    pub fn sign(
        checkpoint: &Checkpoint,
        log_name: &str,
        key: &SigningKey,
    ) -> Result<Self, CheckpointError> {
        check_name(log_name)?;
        let text = checkpoint.body().into_bytes();
        let mut note = Note::new(&text, &[]).map_err(malformed_note)?;
        note.add_sigs(&[&NoteSigner::new(log_name, key)])
            .map_err(malformed_note)?;
        Self::from_bytes(&note.to_bytes())
    }

    /// Parses a signed note whose text is a checkpoint, strictly: at most [`MAX_NOTE_BYTES`]
    /// and [`MAX_SIGNATURES`] signature lines, well-formed per `signed_note::Note::from_bytes`,
    /// a body accepted by [`Checkpoint::parse_body`], and bytes that re-encode identically.
    /// Signatures are not checked here: see [`SignedCheckpoint::verify_log`].
    ///
    /// # Errors
    /// [`CheckpointError::TooLarge`], [`CheckpointError::MalformedNote`],
    /// [`CheckpointError::TooManySignatures`] or [`CheckpointError::MalformedCheckpoint`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CheckpointError> {
        if bytes.len() > MAX_NOTE_BYTES {
            return Err(CheckpointError::TooLarge {
                len: bytes.len(),
                max: MAX_NOTE_BYTES,
            });
        }
        let s =
            std::str::from_utf8(bytes).map_err(|_| CheckpointError::MalformedNote("not UTF-8"))?;
        let (text, sigs) = split_note(s)?;
        if sigs.len() > MAX_SIGNATURES {
            return Err(CheckpointError::TooManySignatures(sigs.len()));
        }
        // The crate's own parser must agree (control characters, sizes, syntax).
        let note = Note::from_bytes(bytes).map_err(malformed_note)?;
        if note.text() != text.as_bytes() {
            return Err(CheckpointError::MalformedNote("ambiguous note text"));
        }
        let checkpoint = Checkpoint::parse_body(text.as_bytes())?;
        let signed = Self {
            checkpoint,
            text: text.into_bytes(),
            sigs,
        };
        if signed.to_bytes() != bytes {
            return Err(CheckpointError::MalformedNote("not in canonical form"));
        }
        Ok(signed)
    }

    /// The exact C2SP note: the body, a blank line, one line per signature.
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

    /// The signed note text (the checkpoint body).
    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// The number of signature lines.
    pub fn signature_count(&self) -> usize {
        self.sigs.len()
    }

    /// Checks the log's signature: there must be a line by the key named `log_name` with key
    /// ID [`note_key_id`]`(log_name, key)`, and every such line must verify strictly over the
    /// text (via `signed_note::Note::verify` with a [`NoteVerifier`]). Lines by other keys,
    /// cosignatures included, are ignored, as c2sp.org/signed-note requires of unknown keys.
    ///
    /// # Errors
    /// Malformed: [`CheckpointError::InvalidKeyName`],
    /// [`CheckpointError::MalformedSignature`]. Does not verify:
    /// [`CheckpointError::NoLogSignature`], [`CheckpointError::BadLogSignature`].
    pub fn verify_log(&self, log_name: &str, key: &VerifyingKey) -> Result<(), CheckpointError> {
        check_name(log_name)?;
        let verifier = NoteVerifier::new(log_name, key);
        let key_id = verifier.key_id();
        let bad = || CheckpointError::BadLogSignature {
            name: log_name.to_owned(),
            key_id,
        };
        let by_log: Vec<&Signature> = self
            .sigs
            .iter()
            .filter(|s| s.name() == log_name && s.id() == key_id)
            .collect();
        for s in &by_log {
            if s.signature().len() != ED25519_SIG_LEN {
                return Err(CheckpointError::MalformedSignature {
                    name: log_name.to_owned(),
                    key_id,
                    len: s.signature().len(),
                });
            }
        }
        let note = Note::new(&self.text, &self.sigs).map_err(malformed_note)?;
        let list = VerifierList::new(vec![Box::new(verifier.clone())]);
        match note.verify(&list) {
            Ok(_) => {}
            Err(NoteError::UnverifiedNote) => {
                return Err(CheckpointError::NoLogSignature {
                    name: log_name.to_owned(),
                    key_id,
                })
            }
            Err(NoteError::InvalidSignature { .. }) => return Err(bad()),
            Err(e) => return Err(malformed_note(e)),
        }
        // signed_note checks only the first line per key; accord wants all of them valid.
        if by_log
            .iter()
            .all(|s| verifier.verify(&self.text, s.signature()))
        {
            Ok(())
        } else {
            Err(bad())
        }
    }

    /// The same note with only the lines by the log key named `log_name` (key ID
    /// [`note_key_id`]`(log_name, key)`): what a witness keeps of a checkpoint it cosigns, so
    /// that the signatures of unknown keys a client sent never grow its state. Nothing is
    /// verified; call [`SignedCheckpoint::verify_log`] first.
    pub fn only_log_signatures(&self, log_name: &str, key: &VerifyingKey) -> Self {
        let key_id = note_key_id(log_name, key);
        Self {
            checkpoint: self.checkpoint.clone(),
            text: self.text.clone(),
            sigs: self
                .sigs
                .iter()
                .filter(|s| s.name() == log_name && s.id() == key_id)
                .cloned()
                .collect(),
        }
    }

    /// The `cosignature/v1` signature line (`— <name> base64(key ID || timestamp ||
    /// signature)\n`) of this checkpoint by `name`'s key at `timestamp`, made through
    /// `signed_note::Note::add_sigs` with a [`CosignatureSigner`].
    ///
    /// # Errors
    /// [`CheckpointError::InvalidKeyName`]; [`CheckpointError::MalformedCosignature`] for a
    /// timestamp above [`MAX_COSIGNATURE_TIMESTAMP`].
    pub fn cosignature_line(
        &self,
        name: &str,
        key: &SigningKey,
        timestamp: u64,
    ) -> Result<Vec<u8>, CheckpointError> {
        check_name(name)?;
        if timestamp > MAX_COSIGNATURE_TIMESTAMP {
            return Err(CheckpointError::MalformedCosignature {
                name: name.to_owned(),
                timestamp,
            });
        }
        let mut note = Note::new(&self.text, &[]).map_err(malformed_note)?;
        note.add_sigs(&[&CosignatureSigner::new(name, key, timestamp)])
            .map_err(malformed_note)?;
        let bytes = note.to_bytes();
        bytes
            .get(self.text.len() + 1..)
            .map(<[u8]>::to_vec)
            .ok_or(CheckpointError::MalformedNote(
                "signed_note wrote no signature",
            ))
    }

    /// Cosigns: appends `name`'s `cosignature/v1` line at `timestamp` (see
    /// [`SignedCheckpoint::cosignature_line`] and [`SignedCheckpoint::add_signature_line`]).
    ///
    /// # Errors
    /// As those two.
    pub fn add_cosignature(
        &mut self,
        name: &str,
        key: &SigningKey,
        timestamp: u64,
    ) -> Result<(), CheckpointError> {
        let line = self.cosignature_line(name, key, timestamp)?;
        self.add_signature_line(&line)
    }

    /// Appends one signature line (`— <name> <base64>`, with or without its final newline),
    /// e.g. a cosignature kept apart from the note. A line with the same name and key ID as an
    /// existing one replaces it, as in `signed_note::Note::add_sigs`. Nothing is verified.
    ///
    /// # Errors
    /// [`CheckpointError::MalformedNote`] if it is not exactly one well-formed signature line;
    /// [`CheckpointError::TooManySignatures`] beyond [`MAX_SIGNATURES`];
    /// [`CheckpointError::TooLarge`] if the note would exceed [`MAX_NOTE_BYTES`].
    pub fn add_signature_line(&mut self, line: &[u8]) -> Result<(), CheckpointError> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        if line.contains(&b'\n') {
            return Err(CheckpointError::MalformedNote("more than one line"));
        }
        let sig = Signature::from_bytes(line).map_err(malformed_note)?;
        // Canonical base64 only, so that the note re-parses to the same bytes.
        if sig.to_bytes().strip_suffix(b"\n") != Some(line) {
            return Err(CheckpointError::MalformedNote(
                "signature line not canonical",
            ));
        }
        let mut sigs = self.sigs.clone();
        sigs.retain(|s| !(s.name() == sig.name() && s.id() == sig.id()));
        sigs.push(sig);
        if sigs.len() > MAX_SIGNATURES {
            return Err(CheckpointError::TooManySignatures(sigs.len()));
        }
        let len = self.text.len() + 1 + sigs.iter().map(|s| s.to_bytes().len()).sum::<usize>();
        if len > MAX_NOTE_BYTES {
            return Err(CheckpointError::TooLarge {
                len,
                max: MAX_NOTE_BYTES,
            });
        }
        self.sigs = sigs;
        Ok(())
    }

    /// The note without its `cosignature/v1`-shaped lines (4 + 8 + 64 bytes after base64),
    /// and those lines, each with its final newline: how a replica stores a checkpoint it
    /// received (the log's signature with the note, each cosignature apart).
    pub fn split_cosignatures(&self) -> (Self, Vec<Vec<u8>>) {
        let (co, rest): (Vec<&Signature>, Vec<&Signature>) = self
            .sigs
            .iter()
            .partition(|s| s.signature().len() == COSIGNATURE_LEN);
        let lines = co.iter().map(|s| s.to_bytes()).collect();
        let note = Self {
            checkpoint: self.checkpoint.clone(),
            text: self.text.clone(),
            sigs: rest.into_iter().cloned().collect(),
        };
        (note, lines)
    }

    /// The signature lines with the shape of a `cosignature/v1`: 4 + 8 + 64 bytes after
    /// base64, so never the log's Ed25519 note signature (4 + 64). Nothing is verified.
    pub fn cosignatures(&self) -> Vec<Cosignature> {
        self.sigs
            .iter()
            .filter_map(|s| {
                let raw = <[u8; COSIGNATURE_LEN]>::try_from(s.signature()).ok()?;
                let (ts, sig) = raw.split_at(8);
                Some(Cosignature {
                    name: s.name().to_owned(),
                    key_id: s.id(),
                    timestamp: u64::from_be_bytes(ts.try_into().ok()?),
                    signature: sig.try_into().ok()?,
                })
            })
            .collect()
    }

    /// Checks that `c` is a valid `cosignature/v1` of this checkpoint by the cosigner `name`
    /// with `key`: same name, key ID [`cosignature_key_id`]`(name, key)`, timestamp at most
    /// 2^63 - 1, and a strictly valid Ed25519 signature of [`cosigned_message`] over this
    /// checkpoint's text (c2sp.org/tlog-cosignature).
    ///
    /// # Errors
    /// Malformed: [`CheckpointError::InvalidKeyName`],
    /// [`CheckpointError::MalformedCosignature`]. Does not verify:
    /// [`CheckpointError::CosignatureKeyMismatch`] (another name, or a key ID of another
    /// key), [`CheckpointError::BadCosignature`] (e.g. made over another checkpoint).
    pub fn verify_cosignature(
        &self,
        c: &Cosignature,
        name: &str,
        key: &VerifyingKey,
    ) -> Result<(), CheckpointError> {
        check_name(name)?;
        let verifier = CosignatureVerifier::new(name, key);
        if c.name != name || c.key_id != verifier.key_id() {
            return Err(CheckpointError::CosignatureKeyMismatch {
                name: c.name.clone(),
                key_id: c.key_id,
                expected_name: name.to_owned(),
                expected_key_id: verifier.key_id(),
            });
        }
        if c.timestamp > MAX_COSIGNATURE_TIMESTAMP {
            return Err(CheckpointError::MalformedCosignature {
                name: c.name.clone(),
                timestamp: c.timestamp,
            });
        }
        let mut sig = Vec::with_capacity(COSIGNATURE_LEN);
        sig.extend_from_slice(&c.timestamp.to_be_bytes());
        sig.extend_from_slice(&c.signature);
        if verifier.verify(&self.text, &sig) {
            Ok(())
        } else {
            Err(CheckpointError::BadCosignature {
                name: c.name.clone(),
                key_id: c.key_id,
            })
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::log::leaf_hash;
    use proptest::prelude::*;

    const LOG: &str = "example.org/accord-log";

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn signed(size: u64) -> SignedCheckpoint {
        let cp = Checkpoint::new(LOG, size, leaf_hash(&size.to_be_bytes())).unwrap();
        SignedCheckpoint::sign(&cp, LOG, &key(1)).unwrap()
    }

    #[test]
    fn checkpoint_body_is_exactly_three_lines() {
        let root = leaf_hash(b"x");
        let cp = Checkpoint::new("example.org/log", 7, root).unwrap();
        let want = format!("example.org/log\n7\n{}\n", root.to_base64());
        assert_eq!(cp.body(), want);
        assert_eq!(Checkpoint::parse_body(want.as_bytes()).unwrap(), cp);
        assert_eq!(cp.origin(), "example.org/log");
        assert_eq!(cp.size(), 7);
        assert_eq!(cp.root(), &root);
        let b64 = root.to_base64();
        for bad in [
            String::new(),
            format!("example.org/log\n7\n{b64}"),
            format!("example.org/log\n7\n{b64}\n\n"),
            format!("example.org/log\n7\n{b64}\next\n"),
            format!("example.org/log\n07\n{b64}\n"),
            format!("example.org/log\n+7\n{b64}\n"),
            format!("example.org/log\n-7\n{b64}\n"),
            format!("example.org/log\n18446744073709551616\n{b64}\n"),
            format!("example.org/log\n7\n{}\n", &b64[..40]),
            format!("example.org/log\n7\n{}\n", b64.trim_end_matches('=')),
            format!("\n7\n{b64}\n"),
            format!("example.org/log\r\n7\n{b64}\n"),
            format!("example.org/log\n7\r\n{b64}\n"),
        ] {
            assert!(
                matches!(
                    Checkpoint::parse_body(bad.as_bytes()),
                    Err(CheckpointError::MalformedCheckpoint(_))
                ),
                "{bad:?}"
            );
        }
        assert!(Checkpoint::new("", 1, root).is_err());
        assert!(Checkpoint::new("a\nb", 1, root).is_err());
        assert!(Checkpoint::new("a\tb", 1, root).is_err());
        assert!(Checkpoint::new(&"a".repeat(MAX_ORIGIN_BYTES + 1), 1, root).is_err());
        assert!(Checkpoint::new("a b/ü", u64::MAX, root).is_ok());
    }

    #[test]
    fn key_ids_and_vkeys() {
        let vk = key(1).verifying_key();
        let mut h = sha2::Sha256::new();
        use sha2::Digest;
        h.update(b"example.org/x\n\x01");
        h.update(vk.as_bytes());
        let d = h.finalize();
        assert_eq!(
            note_key_id("example.org/x", &vk),
            u32::from_be_bytes([d[0], d[1], d[2], d[3]])
        );
        let mut h = sha2::Sha256::new();
        h.update(b"example.org/x\n\x04");
        h.update(vk.as_bytes());
        let d = h.finalize();
        assert_eq!(
            cosignature_key_id("example.org/x", &vk),
            u32::from_be_bytes([d[0], d[1], d[2], d[3]])
        );
        let s = vkey_string("example.org/x", &vk);
        assert_eq!(
            s,
            signed_note::new_ed25519_verifier_key("example.org/x", &vk)
        );
        assert_eq!(parse_vkey(&s).unwrap(), ("example.org/x".to_owned(), vk));
        signed_note::StandardVerifier::new(&s).unwrap();

        let (name, rest) = s.split_once('+').unwrap();
        let (id, data) = rest.split_once('+').unwrap();
        use CheckpointError::*;
        assert!(matches!(parse_vkey(""), Err(MalformedVkey(_))));
        assert!(matches!(parse_vkey(name), Err(MalformedVkey(_))));
        assert!(matches!(
            parse_vkey(&format!("{name}+{id}")),
            Err(MalformedVkey(_))
        ));
        assert!(matches!(
            parse_vkey(&format!("+{id}+{data}")),
            Err(InvalidKeyName(_))
        ));
        assert!(matches!(
            parse_vkey(&format!("a b+{id}+{data}")),
            Err(InvalidKeyName(_))
        ));
        assert!(
            matches!(
                parse_vkey(&format!("{name}+{}+{data}", id.to_uppercase())),
                Err(MalformedVkey(_))
            ) || id.to_uppercase() == id
        );
        assert!(matches!(
            parse_vkey(&format!("{name}+0{id}+{data}")),
            Err(MalformedVkey(_))
        ));
        assert!(matches!(
            parse_vkey(&format!("{name}+{}+{data}", &id[1..])),
            Err(MalformedVkey(_))
        ));
        assert!(matches!(
            parse_vkey(&format!("{name}x+{id}+{data}")),
            Err(KeyIdMismatch { .. })
        ));
        assert!(matches!(
            parse_vkey(&format!("{name}+{id}+{data}x")),
            Err(MalformedVkey(_))
        ));
        let enc = |bytes: &[u8]| BASE64_STANDARD.encode(bytes);
        let mut k4 = vec![ALG_COSIGNATURE_V1];
        k4.extend_from_slice(vk.as_bytes());
        assert_eq!(
            parse_vkey(&format!("{name}+{id}+{}", enc(&k4))),
            Err(UnsupportedAlgorithm(4))
        );
        let mut short = vec![ALG_ED25519];
        short.extend_from_slice(&vk.as_bytes()[..31]);
        assert!(matches!(
            parse_vkey(&format!("{name}+{id}+{}", enc(&short))),
            Err(MalformedVkey(_))
        ));
        assert!(matches!(
            parse_vkey(&format!("{name}+{id}+")),
            Err(MalformedVkey(_))
        ));

        // A small-order point (the identity) with a correct key ID is refused as weak.
        let mut ident = [0u8; 33];
        ident[0] = ALG_ED25519;
        ident[1] = 1;
        let id = signed_note::key_id("weak", &ident);
        assert_eq!(
            parse_vkey(&format!("weak+{id:08x}+{}", enc(&ident))),
            Err(WeakKey)
        );
        // The crate's StandardVerifier accepts it.
        assert!(
            signed_note::StandardVerifier::new(&format!("weak+{id:08x}+{}", enc(&ident))).is_ok()
        );
    }

    #[test]
    fn sign_to_bytes_parse_verify_round_trip() {
        let s = signed(42);
        let bytes = s.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        let body = s.checkpoint().body();
        assert!(text.starts_with(&format!("{body}\n— {LOG} ")));
        assert!(text.ends_with('\n'));
        assert_eq!(text.lines().count(), 5);
        let parsed = SignedCheckpoint::from_bytes(&bytes).unwrap();
        assert_eq!(parsed, s);
        assert_eq!(parsed.to_bytes(), bytes);
        assert_eq!(parsed.text(), body.as_bytes());
        assert_eq!(parsed.checkpoint().size(), 42);
        assert_eq!(parsed.signature_count(), 1);
        parsed.verify_log(LOG, &key(1).verifying_key()).unwrap();
        // signed_note's own verifier agrees.
        let v =
            signed_note::StandardVerifier::new(&vkey_string(LOG, &key(1).verifying_key())).unwrap();
        let note = Note::from_bytes(&bytes).unwrap();
        note.verify(&VerifierList::new(vec![Box::new(v)])).unwrap();
        assert!(parsed.cosignatures().is_empty());
        assert!(matches!(
            SignedCheckpoint::sign(parsed.checkpoint(), "bad name", &key(1)),
            Err(CheckpointError::InvalidKeyName(_))
        ));
    }

    #[test]
    fn wrong_key_tampered_body_and_truncated_lines() {
        let s = signed(7);
        let vk = key(1).verifying_key();
        let id = note_key_id(LOG, &vk);
        // Another key: its key ID is not on the note.
        assert_eq!(
            s.verify_log(LOG, &key(2).verifying_key()),
            Err(CheckpointError::NoLogSignature {
                name: LOG.into(),
                key_id: note_key_id(LOG, &key(2).verifying_key())
            })
        );
        // Another name for the same key.
        assert!(matches!(
            s.verify_log("example.org/other", &vk),
            Err(CheckpointError::NoLogSignature { .. })
        ));
        assert!(matches!(
            s.verify_log("bad name", &vk),
            Err(CheckpointError::InvalidKeyName(_))
        ));

        // A tampered body no longer verifies.
        let text = String::from_utf8(s.to_bytes()).unwrap();
        let tampered = text.replacen("\n7\n", "\n8\n", 1);
        let t = SignedCheckpoint::from_bytes(tampered.as_bytes()).unwrap();
        assert_eq!(
            t.verify_log(LOG, &vk),
            Err(CheckpointError::BadLogSignature {
                name: LOG.into(),
                key_id: id
            })
        );
        // A flipped signature bit no longer verifies.
        let line = text.lines().last().unwrap();
        let (_, b64) = line.rsplit_once(' ').unwrap();
        let mut raw = BASE64_STANDARD.decode(b64).unwrap();
        raw[10] ^= 1;
        let flipped = text.replace(b64, &BASE64_STANDARD.encode(&raw));
        assert_eq!(
            SignedCheckpoint::from_bytes(flipped.as_bytes())
                .unwrap()
                .verify_log(LOG, &vk),
            Err(CheckpointError::BadLogSignature {
                name: LOG.into(),
                key_id: id
            })
        );
        // A signature line truncated to invalid base64 is a malformed note.
        let cut = text.replace(b64, &b64[..b64.len() - 1]);
        assert!(matches!(
            SignedCheckpoint::from_bytes(cut.as_bytes()),
            Err(CheckpointError::MalformedNote(_))
        ));
        // Truncated by three bytes, still valid base64: a malformed log signature.
        let cut = text.replace(b64, &BASE64_STANDARD.encode(&raw[..raw.len() - 3]));
        assert_eq!(
            SignedCheckpoint::from_bytes(cut.as_bytes())
                .unwrap()
                .verify_log(LOG, &vk),
            Err(CheckpointError::MalformedSignature {
                name: LOG.into(),
                key_id: id,
                len: 61
            })
        );
        // No signature lines, no blank line, no final newline, CR, trailing junk.
        for bad in [
            s.checkpoint().body(),
            format!("{}\n", s.checkpoint().body()),
            text.replacen("\n\n", "\n", 1),
            text.trim_end().to_owned(),
            text.replace('\n', "\r\n"),
            format!("{text}\n"),
            format!("{text} "),
            text.replace("— ", "-- "),
            text.replace(&format!("— {LOG} "), &format!("— {LOG}  ")),
        ] {
            assert!(
                matches!(
                    SignedCheckpoint::from_bytes(bad.as_bytes()),
                    Err(CheckpointError::MalformedNote(_))
                ),
                "{bad:?}"
            );
        }
        // A non-canonical base64 signature (non-zero trailing bits) is refused.
        let last = b64.chars().nth(b64.len() - 2).unwrap();
        let bumped = std::char::from_u32(last as u32 + 1).unwrap();
        let mut nc = b64.to_owned();
        nc.replace_range(b64.len() - 2..b64.len() - 1, &bumped.to_string());
        assert!(SignedCheckpoint::from_bytes(text.replace(b64, &nc).as_bytes()).is_err());
        // A duplicate, bad line by the log key is refused even after a good one.
        let mut dup = s.clone();
        let mut sig = raw.clone();
        sig.truncate(4 + 64);
        sig[20] ^= 0x40;
        dup.sigs
            .push(Signature::new(LOG.into(), id, sig[4..].to_vec()).unwrap());
        assert!(matches!(
            dup.verify_log(LOG, &vk),
            Err(CheckpointError::BadLogSignature { .. })
        ));
        // Size limits.
        let big = format!(
            "{text}{}",
            format!("— x {}\n", BASE64_STANDARD.encode([0u8; 68])).repeat(MAX_SIGNATURES)
        );
        assert_eq!(
            SignedCheckpoint::from_bytes(big.as_bytes()),
            Err(CheckpointError::TooManySignatures(MAX_SIGNATURES + 1))
        );
        let huge = vec![b'a'; MAX_NOTE_BYTES + 1];
        assert!(matches!(
            SignedCheckpoint::from_bytes(&huge),
            Err(CheckpointError::TooLarge { .. })
        ));
    }

    #[test]
    fn unknown_signature_lines_are_allowed() {
        let s = signed(3);
        let mut text = String::from_utf8(s.to_bytes()).unwrap();
        text.push_str(&format!(
            "— someone.else/x {}\n",
            BASE64_STANDARD.encode([7u8; 40])
        ));
        let p = SignedCheckpoint::from_bytes(text.as_bytes()).unwrap();
        p.verify_log(LOG, &key(1).verifying_key()).unwrap();
        assert!(p.cosignatures().is_empty());
    }

    #[test]
    fn cosign_and_verify() {
        let mut s = signed(9);
        let member = key(3);
        let mvk = member.verifying_key();
        s.add_cosignature("JP-MOF", &member, 1_700_000_000).unwrap();
        s.add_cosignature("example.org/w2", &key(4), 1_700_000_001)
            .unwrap();
        let bytes = s.to_bytes();
        let again = SignedCheckpoint::from_bytes(&bytes).unwrap();
        assert_eq!(again.to_bytes(), bytes);
        assert_eq!(again.signature_count(), 3);
        again.verify_log(LOG, &key(1).verifying_key()).unwrap();
        let cos = again.cosignatures();
        assert_eq!(cos.len(), 2);
        assert_eq!(cos[0].name, "JP-MOF");
        assert_eq!(cos[0].key_id, cosignature_key_id("JP-MOF", &mvk));
        assert_ne!(cos[0].key_id, note_key_id("JP-MOF", &mvk));
        assert_eq!(cos[0].timestamp, 1_700_000_000);
        again.verify_cosignature(&cos[0], "JP-MOF", &mvk).unwrap();
        again
            .verify_cosignature(&cos[1], "example.org/w2", &key(4).verifying_key())
            .unwrap();

        // The signature is Ed25519 over "cosignature/v1\ntime <t>\n" || body.
        let msg = format!(
            "cosignature/v1\ntime 1700000000\n{}",
            again.checkpoint().body()
        );
        assert_eq!(
            cosigned_message(1_700_000_000, again.text()),
            msg.as_bytes()
        );
        mvk.verify_strict(
            msg.as_bytes(),
            &Ed25519Signature::from_bytes(&cos[0].signature),
        )
        .unwrap();
        // The line is base64(key ID || timestamp || signature), 76 bytes.
        let line = again
            .cosignature_line("JP-MOF", &member, 1_700_000_000)
            .unwrap();
        let line = String::from_utf8(line).unwrap();
        let b64 = line
            .strip_prefix("— JP-MOF ")
            .unwrap()
            .strip_suffix('\n')
            .unwrap();
        let raw = BASE64_STANDARD.decode(b64).unwrap();
        assert_eq!(raw.len(), 76);
        assert_eq!(raw[..4], cos[0].key_id.to_be_bytes());
        assert_eq!(raw[4..12], 1_700_000_000u64.to_be_bytes());
        assert_eq!(raw[12..], cos[0].signature);

        // An unknown key, or the right key under another name.
        let other = key(5).verifying_key();
        assert!(matches!(
            again.verify_cosignature(&cos[0], "JP-MOF", &other),
            Err(CheckpointError::CosignatureKeyMismatch { .. })
        ));
        assert!(matches!(
            again.verify_cosignature(&cos[0], "JP-MOF2", &mvk),
            Err(CheckpointError::CosignatureKeyMismatch { .. })
        ));
        // A wrong key ID on the line.
        let mut wrong_id = cos[0].clone();
        wrong_id.key_id ^= 1;
        assert!(matches!(
            again.verify_cosignature(&wrong_id, "JP-MOF", &mvk),
            Err(CheckpointError::CosignatureKeyMismatch { .. })
        ));
        // Another timestamp than the one signed.
        let mut later = cos[0].clone();
        later.timestamp += 1;
        assert!(matches!(
            again.verify_cosignature(&later, "JP-MOF", &mvk),
            Err(CheckpointError::BadCosignature { .. })
        ));
        // Timestamps above 2^63 - 1 are malformed.
        let mut huge = cos[0].clone();
        huge.timestamp = MAX_COSIGNATURE_TIMESTAMP + 1;
        assert!(matches!(
            again.verify_cosignature(&huge, "JP-MOF", &mvk),
            Err(CheckpointError::MalformedCosignature { .. })
        ));
        assert!(matches!(
            again.cosignature_line("JP-MOF", &member, MAX_COSIGNATURE_TIMESTAMP + 1),
            Err(CheckpointError::MalformedCosignature { .. })
        ));
        assert!(again
            .cosignature_line("JP-MOF", &member, MAX_COSIGNATURE_TIMESTAMP)
            .is_ok());
        assert!(matches!(
            again.cosignature_line("JP MOF", &member, 1),
            Err(CheckpointError::InvalidKeyName(_))
        ));

        // The same cosignature line moved onto another checkpoint does not verify.
        let mut moved = signed(10);
        moved.add_signature_line(line.as_bytes()).unwrap();
        let c = moved.cosignatures();
        assert_eq!(c[0], cos[0]);
        assert!(matches!(
            moved.verify_cosignature(&c[0], "JP-MOF", &mvk),
            Err(CheckpointError::BadCosignature { .. })
        ));
        // A cosignature line is not a log signature, even under the log's name.
        let mut by_log_name = signed(11);
        by_log_name.add_cosignature(LOG, &key(1), 5).unwrap();
        by_log_name
            .verify_log(LOG, &key(1).verifying_key())
            .unwrap();
        assert_eq!(by_log_name.cosignatures().len(), 1);

        // Re-cosigning replaces the line with the same name and key ID.
        let mut re = again.clone();
        re.add_cosignature("JP-MOF", &member, 1_700_000_100)
            .unwrap();
        assert_eq!(re.signature_count(), 3);
        assert_eq!(re.cosignatures()[1].timestamp, 1_700_000_100);

        // A truncated cosignature line is not a cosignature.
        let short = format!("— JP-MOF {}\n", BASE64_STANDARD.encode(&raw[..75]));
        let mut t = signed(9);
        t.add_signature_line(short.as_bytes()).unwrap();
        assert!(t.cosignatures().is_empty());
        assert!(matches!(
            t.add_signature_line(b"\xe2\x80\x94 JP-MOF !!!\n"),
            Err(CheckpointError::MalformedNote(_))
        ));
        assert!(matches!(
            t.add_signature_line(format!("{line}{line}").as_bytes()),
            Err(CheckpointError::MalformedNote(_))
        ));
    }

    #[test]
    fn verifiers_are_strict() {
        // The identity point as a public key, with a signature (R = identity, S = 0) that
        // non-strict Ed25519 verification accepts for every message.
        let mut ident = [0u8; 32];
        ident[0] = 1;
        let weak = VerifyingKey::from_bytes(&ident).unwrap();
        let mut sig = [0u8; 64];
        sig[0] = 1;
        assert!(
            ed25519_dalek::Verifier::verify(&weak, b"m", &Ed25519Signature::from_bytes(&sig))
                .is_ok()
        );
        assert!(!NoteVerifier::new("w", &weak).verify(b"m", &sig));
        let mut cs = vec![0u8; 8];
        cs.extend_from_slice(&sig);
        assert!(!CosignatureVerifier::new("w", &weak).verify(b"m", &cs));
        // signed_note's StandardVerifier accepts the forgery.
        let mut data = vec![ALG_ED25519];
        data.extend_from_slice(&ident);
        let vkey = format!(
            "w+{:08x}+{}",
            signed_note::key_id("w", &data),
            BASE64_STANDARD.encode(&data)
        );
        assert!(signed_note::StandardVerifier::new(&vkey)
            .unwrap()
            .verify(b"m", &sig));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = SignedCheckpoint::from_bytes(&bytes);
            let _ = Checkpoint::parse_body(&bytes);
            let s = String::from_utf8_lossy(&bytes);
            let _ = parse_vkey(&s);
            let _ = NoteVerifier::from_vkey(&s);
            let mut c = signed(1);
            let _ = c.add_signature_line(&bytes);
        }

        #[test]
        fn mutated_notes_never_panic_and_never_verify(
            size in any::<u64>(), at in any::<usize>(), byte in any::<u8>(), mode in 0u8..3,
        ) {
            let mut s = signed(size);
            s.add_cosignature("w.example/1", &key(3), 1).unwrap();
            let orig = s.to_bytes();
            let mut b = orig.clone();
            let i = at % b.len();
            match mode {
                0 => b[i] = byte,
                1 => b.insert(i, byte),
                _ => { b.remove(i); }
            }
            if let Ok(p) = SignedCheckpoint::from_bytes(&b) {
                let ok = p.verify_log(LOG, &key(1).verifying_key()).is_ok();
                let cos_ok = p.cosignatures().iter().any(|c| {
                    p.verify_cosignature(c, "w.example/1", &key(3).verifying_key()).is_ok()
                });
                if ok || cos_ok {
                    // Only the unsigned parts may change: the other signature line.
                    prop_assert_eq!(p.text(), s.text());
                }
                prop_assert_eq!(p.to_bytes(), b);
            }
        }

        #[test]
        fn any_checkpoint_round_trips(
            origin in "[a-z0-9./-]{1,40}", size in any::<u64>(), root in any::<[u8; 32]>(),
            ts in 0..=MAX_COSIGNATURE_TIMESTAMP,
        ) {
            let cp = Checkpoint::new(&origin, size, Hash(root)).unwrap();
            prop_assert_eq!(Checkpoint::parse_body(cp.body().as_bytes()).unwrap(), cp.clone());
            let mut s = SignedCheckpoint::sign(&cp, &origin, &key(1)).unwrap();
            s.add_cosignature("w", &key(2), ts).unwrap();
            let p = SignedCheckpoint::from_bytes(&s.to_bytes()).unwrap();
            prop_assert_eq!(p.checkpoint(), &cp);
            prop_assert!(p.verify_log(&origin, &key(1).verifying_key()).is_ok());
            let c = p.cosignatures();
            prop_assert_eq!(c.len(), 1);
            prop_assert_eq!(c[0].timestamp, ts);
            prop_assert!(p.verify_cosignature(&c[0], "w", &key(2).verifying_key()).is_ok());
        }
    }
}
