//! Private key files: the C2SP signer key, encrypted by default with a key derived from a
//! passphrase by Argon2id (RFC 9106) and sealed with XChaCha20-Poly1305.
//!
//! ```json
//! {"format": "accord-key/v1", "name": "JP-MOF",
//!  "kdf": {"alg": "argon2id", "m_kib": 19456, "t": 2, "p": 1, "salt": "<base64>"},
//!  "aead": "xchacha20poly1305", "nonce": "<base64>", "ciphertext": "<base64>"}
//! ```
//! or, when written with `--unencrypted`, `{"format": "accord-key/v1", "name": ..., "skey": ...}`.
//! Files are created with mode 0600, and refused when group or others can read them.

use std::io::Write;
use std::path::{Path, PathBuf};

use accord_core::keys::KeyPair;
use anyhow::{anyhow, bail, Context, Result};
use base64::prelude::*;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::cli::PassArgs;
use crate::commands::{read_file, MAX_SMALL_FILE};

const FORMAT: &str = "accord-key/v1";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Kdf {
    alg: String,
    m_kib: u32,
    t: u32,
    p: u32,
    salt: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    format: String,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    skey: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kdf: Option<Kdf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aead: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ciphertext: Option<String>,
}

/// Argon2id cost: OWASP's recommended minimum (19 MiB, 2 passes).
const M_KIB: u32 = 19_456;
const T: u32 = 2;
const P: u32 = 1;

fn derive(pass: &[u8], salt: &[u8], m: u32, t: u32, p: u32) -> Result<Zeroizing<[u8; 32]>> {
    if m > 4 * 1024 * 1024 || t > 64 || p > 16 {
        bail!("key file asks for unreasonable Argon2 parameters (m={m} KiB, t={t}, p={p})");
    }
    let params = argon2::Params::new(m, t, p, Some(32)).map_err(|e| anyhow!("argon2: {e}"))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(pass, salt, out.as_mut())
        .map_err(|e| anyhow!("argon2: {e}"))?;
    Ok(out)
}

/// Gets the passphrase: --passphrase-file, else ACCORD_PASSPHRASE, else a prompt on the
/// terminal.
pub fn passphrase(pass: &PassArgs, prompt: &str, confirm: bool) -> Result<Zeroizing<String>> {
    if let Some(f) = &pass.passphrase_file {
        let bytes = read_file(f, MAX_SMALL_FILE)?;
        let s = String::from_utf8(bytes)
            .map_err(|_| anyhow!("passphrase file {} is not UTF-8 text", f.display()))?;
        let s = s.trim_end_matches(['\n', '\r']).to_owned();
        if s.is_empty() {
            bail!("passphrase file {} is empty", f.display());
        }
        return Ok(Zeroizing::new(s));
    }
    if let Ok(s) = std::env::var("ACCORD_PASSPHRASE") {
        if s.is_empty() {
            bail!("ACCORD_PASSPHRASE is set but empty");
        }
        return Ok(Zeroizing::new(s));
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        bail!("a passphrase is needed: use --passphrase-file FILE or set ACCORD_PASSPHRASE (no terminal to prompt on)");
    }
    let p = Zeroizing::new(rpassword::prompt_password(prompt).context("cannot read passphrase")?);
    if p.is_empty() {
        bail!("empty passphrase");
    }
    if confirm {
        let again = Zeroizing::new(rpassword::prompt_password("Repeat passphrase: ")?);
        if *again != *p {
            bail!("the passphrases differ");
        }
    }
    Ok(p)
}

/// Writes `bytes` to `path` with mode 0600, atomically (temporary file, then rename), and
/// refuses to replace an existing file.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.exists() {
        bail!(
            "{} exists; refusing to overwrite a key file",
            path.display()
        );
    }
    let tmp = tmp_path(path);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Saves a key, encrypted under `pass` unless it is `None`.
pub fn save(path: &Path, key: &KeyPair, pass: Option<&str>) -> Result<()> {
    let skey = Zeroizing::new(key.to_skey());
    let file = match pass {
        None => KeyFile {
            format: FORMAT.into(),
            name: key.name().into(),
            skey: Some(skey.to_string()),
            kdf: None,
            aead: None,
            nonce: None,
            ciphertext: None,
        },
        Some(pass) => {
            let mut salt = [0u8; 16];
            let mut nonce = [0u8; 24];
            OsRng.fill_bytes(&mut salt);
            OsRng.fill_bytes(&mut nonce);
            let k = derive(pass.as_bytes(), &salt, M_KIB, T, P)?;
            let cipher = XChaCha20Poly1305::new(k.as_ref().into());
            let ct = cipher
                .encrypt(XNonce::from_slice(&nonce), skey.as_bytes())
                .map_err(|_| anyhow!("encryption failed"))?;
            KeyFile {
                format: FORMAT.into(),
                name: key.name().into(),
                skey: None,
                kdf: Some(Kdf {
                    alg: "argon2id".into(),
                    m_kib: M_KIB,
                    t: T,
                    p: P,
                    salt: BASE64_STANDARD.encode(salt),
                }),
                aead: Some("xchacha20poly1305".into()),
                nonce: Some(BASE64_STANDARD.encode(nonce)),
                ciphertext: Some(BASE64_STANDARD.encode(ct)),
            }
        }
    };
    let mut bytes = serde_json::to_vec_pretty(&file)?;
    bytes.push(b'\n');
    write_private(path, &bytes)
}

#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    if meta.is_dir() {
        bail!(
            "key file {} is a directory; give the key file inside it",
            path.display()
        );
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        bail!(
            "key file {} is readable by others (mode {:o}); run `chmod 600 {}` first",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path) -> Result<()> {
    Ok(())
}

/// Loads a key file, asking for the passphrase if it is encrypted.
pub fn load(path: &Path, pass: &PassArgs) -> Result<KeyPair> {
    check_permissions(path)?;
    let bytes = read_file(path, MAX_SMALL_FILE)?;
    let file: KeyFile = accord_core::json::from_slice(&bytes)
        .with_context(|| format!("{} is not an accord key file", path.display()))?;
    if file.format != FORMAT {
        bail!(
            "{}: unknown key file format {:?}",
            path.display(),
            file.format
        );
    }
    if let Some(skey) = file.skey {
        return KeyPair::from_skey(&skey).with_context(|| format!("{}: bad key", path.display()));
    }
    let (Some(kdf), Some(nonce), Some(ct)) = (file.kdf, file.nonce, file.ciphertext) else {
        bail!("{}: neither a plain nor an encrypted key", path.display());
    };
    if kdf.alg != "argon2id" || file.aead.as_deref() != Some("xchacha20poly1305") {
        bail!("{}: unsupported key encryption", path.display());
    }
    let salt = BASE64_STANDARD.decode(&kdf.salt).context("bad salt")?;
    let nonce = BASE64_STANDARD.decode(&nonce).context("bad nonce")?;
    let ct = BASE64_STANDARD.decode(&ct).context("bad ciphertext")?;
    if nonce.len() != 24 {
        bail!("{}: bad nonce", path.display());
    }
    let pass = passphrase(
        pass,
        &format!("Passphrase for {} ({}): ", file.name, path.display()),
        false,
    )?;
    let k = derive(pass.as_bytes(), &salt, kdf.m_kib, kdf.t, kdf.p)?;
    let cipher = XChaCha20Poly1305::new(k.as_ref().into());
    let plain = Zeroizing::new(
        cipher
            .decrypt(XNonce::from_slice(&nonce), ct.as_slice())
            .map_err(|_| {
                anyhow!(
                    "wrong passphrase for {} (or the file was altered)",
                    path.display()
                )
            })?,
    );
    let skey = std::str::from_utf8(&plain).context("decrypted key is not text")?;
    KeyPair::from_skey(skey).with_context(|| format!("{}: bad key", path.display()))
}
