//! `accord charter new|hash` and `accord init`.

use crate::output::outln;
use accord_core::envelope::Envelope;
use accord_core::model::{
    Body, Charter, EntryId, JointRule, Member, MemberId, Payload, Policy, Text, Timestamp,
    WitnessPolicy,
};
use accord_ledger::{charter_hash, Ledger};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;

use super::keys::verifier_arg;
use super::{read_file, write_file, Ctx, Document};
use crate::cli::{CharterCommand, CharterNewArgs, InitArgs};
use crate::{keyfile, output, Verdict};

/// `accord charter ...`.
pub fn run(ctx: &Ctx, c: CharterCommand) -> Result<()> {
    match c {
        CharterCommand::New(a) => new(ctx, a),
        CharterCommand::Hash(a) => {
            let env = Document::read(&a.file)?.into_envelope();
            let payload = Payload::from_bytes(&env.payload)
                .with_context(|| format!("{} is not a valid payload", a.file.display()))?;
            if !matches!(payload.body, Body::Charter(_)) {
                bail!(
                    "{} is a {}, not a charter",
                    a.file.display(),
                    payload.body.type_name()
                );
            }
            let h = hex::encode(charter_hash(&env));
            if ctx.json {
                output::json(&json!({"charter_hash": h}))
            } else {
                outln!("{h}")?;
                Ok(())
            }
        }
    }
}

fn new(ctx: &Ctx, a: CharterNewArgs) -> Result<()> {
    let log_key = verifier_arg("log-key", &a.log_key)?;
    let mut members = Vec::new();
    for path in &a.members {
        let bytes = read_file(path, super::MAX_SMALL_FILE)?;
        let m: Member = accord_core::json::from_slice(&bytes).with_context(|| {
            format!(
                "{} is not a member record (from `accord keygen`)",
                path.display()
            )
        })?;
        members.push(m);
    }
    let joint = match a.joint.as_str() {
        "all" => JointRule::AllParties,
        n => JointRule::Threshold {
            threshold: n
                .parse()
                .map_err(|_| anyhow!("--joint must be \"all\" or a number, not {n:?}"))?,
        },
    };
    let witness_policy = match (a.witness_threshold, a.witnesses.is_empty()) {
        (None, true) => None,
        (None, false) => bail!("--witness needs --witness-threshold N (how many must cosign)"),
        (Some(threshold), _) => Some(WitnessPolicy {
            threshold,
            witnesses: a
                .witnesses
                .iter()
                .map(|w| {
                    w.parse::<MemberId>()
                        .map_err(|e| anyhow!("--witness {w:?}: {e}"))
                })
                .collect::<Result<_>>()?,
        }),
    };
    let payload = Payload {
        ledger: a.origin.clone(),
        id: EntryId::parse(&a.id).map_err(|e| anyhow!("--id: {e}"))?,
        signed_at: Timestamp::now(),
        body: Body::Charter(Charter {
            name: Text::parse(&a.name).map_err(|e| anyhow!("--name: {e}"))?,
            log_key,
            members,
            policy: Policy {
                membership_threshold: a.threshold,
                joint_commitments: joint,
                witness_policy,
            },
        }),
    };
    payload
        .validate()
        .context("the charter does not validate")?;
    let bytes = payload.to_bytes();
    write_file(&a.out, &bytes)?;
    let env = Envelope::new(bytes);
    if ctx.json {
        output::json(&json!({"file": a.out, "charter_hash": hex::encode(charter_hash(&env))}))
    } else {
        outln!(
            "wrote {}: every founder now signs it with `accord sign {} --key KEYFILE`",
            a.out.display(),
            a.out.display()
        )?;
        outln!("charter hash {}", hex::encode(charter_hash(&env)))?;
        Ok(())
    }
}

/// `accord init`.
pub fn init(ctx: &Ctx, a: InitArgs) -> Result<()> {
    let dir = ctx.ledger_dir()?;
    let env = match Document::read(&a.charter)? {
        Document::Envelope(e) => e,
        Document::Draft(_) => bail!(
            "{} is an unsigned draft: the founders sign it first",
            a.charter.display()
        ),
    };
    let key = keyfile::load(&a.log_key, &a.pass)?;
    let payload = Payload::from_bytes(&env.payload).context("the charter does not validate")?;
    if let Body::Charter(c) = &payload.body {
        if key.verifier().ok().as_ref() != Some(&c.log_key) {
            return Err(Verdict(format!(
                "{} is not the log key the charter names ({})",
                a.log_key.display(),
                c.log_key
            ))
            .into());
        }
    }
    let ledger = Ledger::create(dir, &env)?;
    let h = hex::encode(ledger.charter_hash());
    if ctx.json {
        output::json(
            &json!({"ledger": dir, "origin": ledger.origin(), "size": ledger.size(), "charter_hash": h, "log_key": ledger.log_key().to_string()}),
        )
    } else {
        outln!("created ledger {} ({})", dir.display(), ledger.origin())?;
        outln!("charter hash {h}")?;
        Ok(())
    }
}
