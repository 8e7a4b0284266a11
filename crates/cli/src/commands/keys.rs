//! `accord keygen`.

use crate::output::outln;
use std::path::{Path, PathBuf};

use accord_core::keys::{KeyPair, VerifierKey};
use accord_core::model::{check_origin, Country, MemberId, Text};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;

use super::{read_file, write_file, Ctx};
use crate::cli::{KeygenArgs, RoleArg};
use crate::{keyfile, output};

/// The public member record written beside a key file.
pub fn member_path(key: &Path) -> PathBuf {
    let mut name = key
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".member.json");
    key.with_file_name(name)
}

/// The role's JSON name.
pub fn role_name(r: RoleArg) -> &'static str {
    match r {
        RoleArg::Ministry => "ministry",
        RoleArg::Agency => "agency",
        RoleArg::Auditor => "auditor",
        RoleArg::Secretariat => "secretariat",
    }
}

/// Reads a verifier key given as the key string itself or as a .member.json file.
pub fn verifier_arg(flag: &str, s: &str) -> Result<VerifierKey> {
    if let Ok(k) = VerifierKey::parse(s) {
        return Ok(k);
    }
    let path = Path::new(s);
    if path.exists() {
        let bytes = read_file(path, super::MAX_SMALL_FILE)?;
        let v = accord_core::json::parse(&bytes)
            .with_context(|| format!("--{flag}: {} is not a JSON document", path.display()))?;
        let key = v
            .get("key")
            .and_then(|k| k.as_str())
            .ok_or_else(|| anyhow!("--{flag}: {} has no \"key\"", path.display()))?;
        return VerifierKey::parse(key).with_context(|| format!("--{flag}: {}", path.display()));
    }
    VerifierKey::parse(s).map_err(|e| anyhow!("--{flag}: {e}"))
}

/// `accord keygen`.
pub fn keygen(ctx: &Ctx, a: KeygenArgs) -> Result<()> {
    let record = if a.log {
        check_origin(&a.id)
            .map_err(|why| anyhow!("--id: a log key is named by the ledger origin, which {why}"))?;
        None
    } else {
        let id = MemberId::parse(&a.id).map_err(|e| anyhow!("--id: {e}"))?;
        let country = a
            .country
            .as_deref()
            .ok_or_else(|| anyhow!("--country is required for a member key"))?;
        let country = Country::parse(country).map_err(|e| anyhow!("--country: {e}"))?;
        let name = a
            .name
            .as_deref()
            .ok_or_else(|| anyhow!("--name (the institution) is required for a member key"))?;
        let name = Text::parse(name).map_err(|e| anyhow!("--name: {e}"))?;
        Some((id, country, name))
    };
    let pub_path = member_path(&a.out);
    if a.out.exists() || pub_path.exists() {
        bail!(
            "{} or {} exists; refusing to overwrite",
            a.out.display(),
            pub_path.display()
        );
    }
    let key = KeyPair::generate(&a.id)?;
    let pass = if a.unencrypted {
        None
    } else {
        Some(keyfile::passphrase(
            &a.pass,
            &format!("Passphrase for the new key {}: ", a.id),
            true,
        )?)
    };
    keyfile::save(&a.out, &key, pass.as_deref().map(|s| s.as_str()))?;
    let vkey = key.verifier()?;
    let public = match &record {
        Some((id, country, name)) => json!({
            "id": id, "country": country, "institution": name,
            "role": role_name(a.role), "key": vkey.to_string()
        }),
        None => json!({"key": vkey.to_string()}),
    };
    let mut bytes = serde_json::to_vec_pretty(&public)?;
    bytes.push(b'\n');
    write_file(&pub_path, &bytes)?;
    if ctx.json {
        output::json(&json!({
            "id": a.id, "key": vkey.to_string(), "keyid": vkey.keyid(),
            "private_key_file": a.out, "member_file": pub_path, "encrypted": !a.unencrypted
        }))
    } else {
        outln!("{vkey}")?;
        eprintln!(
            "wrote {} ({}) and {}",
            a.out.display(),
            if a.unencrypted {
                "unencrypted"
            } else {
                "encrypted"
            },
            pub_path.display()
        );
        Ok(())
    }
}
