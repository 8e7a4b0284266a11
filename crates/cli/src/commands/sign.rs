//! `accord sign`, `inspect`, `submit`, `import`.

use crate::output::outln;

use accord_core::envelope::Envelope;
use accord_core::governance::Rejection;
use accord_core::keys::KeyPair;
use accord_core::model::{Body, MemberId, Payload};
use accord_ledger::export::{bounded_lines, parse_jsonl_line};
use accord_ledger::{ImportItem, Ledger};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

use super::{list_ids, write_file, Ctx, Document};
use crate::cli::{ImportArgs, InspectArgs, SignArgs, SubmitArgs};
use crate::{keyfile, output, Verdict};

/// What the ledger would say of `env` now, if a ledger is at hand.
fn readiness(ctx: &Ctx, env: &Envelope) -> Option<Result<(), Rejection>> {
    ctx.ledger.as_ref()?;
    let mut ledger = ctx.open().ok()?;
    let size = ledger.size();
    if let Ok(payload) = accord_core::governance::decode(env) {
        ledger.learn(&payload).ok()?;
    }
    let state = ledger.governance().ok()?;
    Some(state.check(size, env).and_then(|a| a.verify()))
}

/// Checks, as far as the draft and the ledger at hand show, that `key` may sign `payload`:
/// a charter's founders, a commitment's parties, for lifecycle entries the target's parties,
/// for governance entries members (or the key being admitted or rotated in). A signature that
/// could never count is refused before anything is written.
fn entitled(ctx: &Ctx, payload: &Payload, key: &KeyPair) -> Result<()> {
    let name = key.name();
    let vkey = key.verifier()?;
    let id = name.parse::<MemberId>().ok();
    let is = |m: &MemberId| id.as_ref() == Some(m);
    match &payload.body {
        Body::Charter(c) => {
            if !c.members.iter().any(|m| is(&m.id) && m.key == vkey) {
                bail!(
                    "{name} is not a founding member of charter {} with this key (members: {})",
                    payload.id,
                    list_ids(c.members.iter().map(|m| &m.id))
                );
            }
            return Ok(());
        }
        Body::Commitment(c) if !c.parties.iter().any(is) => bail!(
            "{name} is not a party of {} (parties: {})",
            payload.id,
            list_ids(&c.parties)
        ),
        Body::AdmitMember(a) if a.member.key == vkey => return Ok(()),
        Body::RotateKey(r) if r.new_key == vkey => return Ok(()),
        _ => {}
    }
    let Some(mut ledger) = ctx.ledger_at_hand()? else {
        return Ok(());
    };
    ledger.learn(payload)?;
    let state = ledger.governance()?;
    let target = match &payload.body {
        Body::Amend(x) => Some(&x.target),
        Body::Progress(x) => Some(&x.target),
        Body::Withdraw(x) => Some(&x.target),
        _ => None,
    };
    if let Some(c) = target.and_then(|t| state.commitment(t)) {
        if !c.parties.iter().any(is) {
            bail!(
                "{name} is not a party of {} (parties: {})",
                target.map(|t| t.to_string()).unwrap_or_default(),
                list_ids(&c.parties)
            );
        }
    }
    let member = id.as_ref().and_then(|m| state.member(m));
    match member {
        None => bail!(
            "{name} is not a member of the ledger (members: {})",
            list_ids(
                state
                    .members()
                    .filter(|m| m.is_active())
                    .map(|m| &m.member.id)
            )
        ),
        Some(m) if !m.is_active() => bail!("{name} was removed from the ledger"),
        Some(m) if m.key_revoked || m.member.key != vkey => {
            bail!("this key ({}) is not {name}'s current key", vkey.keyid())
        }
        Some(_) => Ok(()),
    }
}

/// `accord sign`.
pub fn sign(ctx: &Ctx, a: SignArgs) -> Result<()> {
    let mut env = Document::read(&a.file)?.into_envelope();
    let payload = Payload::from_bytes(&env.payload).with_context(|| {
        format!(
            "refusing to sign {}: it does not validate",
            a.file.display()
        )
    })?;
    let key = keyfile::load(&a.key, &a.pass)?;
    entitled(ctx, &payload, &key)
        .with_context(|| format!("refusing to sign {}", a.file.display()))?;
    let before = env.signatures.len();
    env.sign(&key);
    let out = a.out.as_ref().unwrap_or(&a.file);
    if env.signatures.len() > before {
        // The member's record of what it signed, for `accord watch` (no secrets). Written
        // and synced before the signature leaves this command: a signature this tool made
        // is never missing from the journal (a journal line for an envelope that was then
        // not written is harmless).
        let journal = a
            .journal
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from(format!("{}.journal", a.key.display())));
        super::watch::record(&journal, &payload, &env.payload, &key.keyid())?;
    }
    write_file(out, &env.to_json_pretty())?;
    let ready = readiness(ctx, &env);
    if ctx.json {
        return output::json(&json!({
            "file": out, "id": payload.id, "signed_by": key.keyid(), "signatures": env.signatures.len(),
            "added": env.signatures.len() > before,
            "ready": ready.as_ref().map(|r| r.is_ok()),
            "waiting_for": ready.and_then(|r| r.err()).map(|e| e.to_string()),
        }));
    }
    if env.signatures.len() == before {
        outln!("{} had already signed {}", key.keyid(), out.display())?;
    } else {
        outln!(
            "signed {} ({}) as {}; {} signature(s)",
            out.display(),
            payload.id,
            key.keyid(),
            env.signatures.len()
        )?;
    }
    match ready {
        Some(Ok(())) => outln!("ready to submit")?,
        Some(Err(e)) => outln!("not yet accepted by the ledger: {e}")?,
        None => {}
    }
    Ok(())
}

/// `accord inspect`.
pub fn inspect(ctx: &Ctx, a: InspectArgs) -> Result<()> {
    let doc = Document::read(&a.file)?;
    let signed = matches!(doc, Document::Envelope(_));
    let env = doc.into_envelope();
    let parsed = Payload::from_bytes(&env.payload);
    let payload: Value = accord_core::json::parse(&env.payload).unwrap_or(Value::Null);
    let ready = if signed { readiness(ctx, &env) } else { None };
    let sigs: Vec<String> = env.signatures.iter().map(|s| s.keyid.clone()).collect();
    if ctx.json {
        return output::json(&json!({
            "payload_type": env.payload_type, "payload": payload,
            "valid": parsed.is_ok(), "problem": parsed.as_ref().err().map(|e| e.to_string()),
            "signatures": sigs, "ready": ready.as_ref().map(|r| r.is_ok()),
            "waiting_for": ready.and_then(|r| r.err()).map(|e| e.to_string()),
        }));
    }
    match &parsed {
        Ok(p) => {
            outln!("valid {} {}", p.body.type_name(), p.id)?;
            // The terms as a person reads them (`--json` has the payload as signed).
            let terms = match &p.body {
                accord_core::model::Body::Commitment(c) => Some(&c.terms),
                accord_core::model::Body::Amend(a) => Some(&a.terms),
                _ => None,
            };
            if let Some(t) = terms {
                outln!("figure: {}", t.measure.headline())?;
            }
            for (k, v) in
                accord_server::views::readable(&payload, &["ledger", "type", "id", "terms"])
            {
                outln!("{k}: {v}")?;
            }
            if terms.is_some() {
                outln!("terms:")?;
                for (k, v) in accord_server::views::readable(&payload["terms"], &[]) {
                    outln!("  {k}: {v}")?;
                }
            }
        }
        Err(e) => {
            // What does not validate is shown as it is, to find the fault in it.
            outln!("{}", serde_json::to_string_pretty(&payload)?)?;
            outln!("INVALID: {e}")?;
        }
    }
    outln!(
        "signatures: {}",
        if sigs.is_empty() {
            "none".into()
        } else {
            sigs.join(", ")
        }
    )?;
    match ready {
        Some(Ok(())) => outln!("ready to submit")?,
        Some(Err(e)) => outln!("not yet accepted by the ledger: {e}")?,
        None => {}
    }
    Ok(())
}

/// `accord submit`.
pub fn submit(ctx: &Ctx, a: SubmitArgs) -> Result<()> {
    let env = match Document::read(&a.file)? {
        Document::Envelope(e) => e,
        Document::Draft(_) => bail!(
            "{} is an unsigned draft; sign it first with `accord sign`",
            a.file.display()
        ),
    };
    if let Some(r) = ctx.remote()? {
        let v = r
            .post_json("/api/v1/entries", env.to_json())
            .with_context(|| format!("{} was not appended", a.file.display()))?;
        if ctx.json {
            return output::json(&v);
        }
        let s = |k: &str| match &v[k] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        outln!(
            "appended {} as entry {} (leaf hash {})",
            s("id"),
            s("index"),
            s("leaf_hash")
        )?;
        return Ok(());
    }
    let full = |e: anyhow::Error| {
        if accord_server::error::no_space(&format!("{e:#}")) {
            let dir = ctx
                .ledger_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default();
            e.context(format!(
                "the disk holding the ledger {dir} is full; free space there and submit again"
            ))
        } else {
            e
        }
    };
    let mut ledger = ctx.open().map_err(full)?;
    let appended = ledger
        .append(&env)
        .with_context(|| format!("{} was not appended", a.file.display()))
        .map_err(full)?;
    if ctx.json {
        output::json(&json!({
            "index": appended.index, "id": appended.id, "leaf_hash": appended.leaf_hash.to_base64(),
            "logged_at": appended.logged_at, "tree_size": ledger.size(), "root": ledger.root().to_base64()
        }))
    } else {
        outln!(
            "appended {} as entry {} (leaf hash {})",
            appended.id,
            appended.index,
            appended.leaf_hash.to_base64()
        )?;
        Ok(())
    }
}

/// A line is a bare envelope (a new entry) or a JSON Lines export object, parsed and
/// checked against itself by the ledger crate (`accord_ledger::export::parse_jsonl_line`).
fn item_of_line(line: &[u8]) -> Result<ImportItem, Rejection> {
    parse_jsonl_line(line).map_err(|e| Rejection::BadLine(e.to_string()))
}

/// `accord import`: appends every line; a line is an envelope or a JSON Lines export
/// object. Into a directory without a ledger, the first line must be the charter, and a
/// new ledger is created from it (the documented recovery path). Export lines already in
/// the ledger are checked to be the same leaves and skipped, so an interrupted restore
/// resumes when run again.
pub fn import(ctx: &Ctx, a: ImportArgs) -> Result<()> {
    let dir = ctx.ledger_dir()?.to_path_buf();
    let file = std::fs::File::open(&a.file)
        .with_context(|| format!("cannot read {}", a.file.display()))?;
    let mut lines = bounded_lines(std::io::BufReader::new(file)).peekable();
    let name = a.file.display().to_string();
    // The first line, read before anything is created: an unreadable or empty file is an
    // input error (exit 2) that changes nothing.
    let first = match lines.peek() {
        None => bail!("{name} holds no entries; nothing was imported"),
        Some(Err(_)) => match lines.next() {
            Some(Err(e)) => bail!("{name}: {e}"),
            _ => bail!("{name}: cannot be read"),
        },
        Some(Ok((n, line))) => (*n, item_of_line(line)),
    };
    let mut created = false;
    let mut ledger = match Ledger::open_with(&dir, ctx.wait) {
        Ok(l) => {
            super::note_quarantine(&l);
            l
        }
        Err(
            accord_ledger::LedgerError::NotALedger(_) | accord_ledger::LedgerError::Incomplete(_),
        ) => {
            let (n, charter) = first;
            let charter = charter.map_err(|e| anyhow!("{name} line {n}: {e}"))?;
            if charter.restore.as_ref().is_some_and(|r| r.index != 0) {
                bail!("{name} line {n}: a new ledger starts from entry 0, the charter");
            }
            created = true;
            // An export's line 0 is imported as well, which checks its leaf_hash against
            // the entry just created; a bare charter envelope is consumed here.
            if charter.restore.is_none() {
                lines.next();
            }
            Ledger::create_at(
                &dir,
                &charter.envelope,
                charter.restore.as_ref().map(|r| r.logged_at.clone()),
            )
            .with_context(|| format!("{name} line {n}: cannot create the ledger from it"))?
        }
        Err(e) => return Err(e.into()),
    };
    let pb = output::progress(None, "import");
    let mut line_numbers = Vec::new();
    let mut read_error = None;
    let input = lines.map_while(|line| match line {
        Err(e) => {
            read_error = Some(e);
            None
        }
        Ok((n, l)) => {
            line_numbers.push(n);
            Some(item_of_line(&l))
        }
    });
    let report = ledger.import(input, &mut |done| pb.set_position(done))?;
    pb.finish_and_clear();
    if ctx.json {
        output::json(&json!({
            "created": created, "accepted": report.accepted, "skipped": report.skipped,
            "first_index": report.first_index,
            "tree_size": ledger.size(), "root": ledger.root().to_base64(),
            "rejected": report.rejected.as_ref().map(|(pos, why)| json!({
                "line": line_numbers.get(*pos as usize), "reason": why.to_string()})),
        }))?;
    } else {
        println!(
            "imported {} entries ({} already in the ledger, checked and skipped); the ledger has {} entries",
            report.accepted,
            report.skipped,
            ledger.size()
        );
    }
    if let Some((pos, why)) = report.rejected {
        let line = line_numbers.get(pos as usize).copied().unwrap_or(0);
        return Err(Verdict(format!(
            "{name} line {line}: rejected: {why} (entries before it were appended)"
        ))
        .into());
    }
    if let Some(e) = read_error {
        bail!("{name}: {e} (entries before it were appended; fix the file and import it again to resume)");
    }
    Ok(())
}
