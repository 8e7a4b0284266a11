//! `accord draft KIND`: writes an unsigned payload, validated before it is written.

use crate::output::outln;
use accord_core::model::commitment::{Money, Price, Quantity};
use accord_core::model::{
    check_origin, AdmitMember, Amend, Body, EntryId, Measure, MemberId, NewCommitment, Payload,
    PayloadError, Period, Progress, RemoveMember, RevokeKey, RotateKey, Source, Terms, Timestamp,
    Withdraw,
};
use accord_ledger::Ledger;
use anyhow::{anyhow, bail, Context, Result};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use super::keys::verifier_arg;
use super::{list_ids, read_file, write_file, Ctx};
use crate::cli::Common;
use crate::cli::{DraftCommand, TermsArgs};
use crate::output;

/// A payload member given by an option, parsed as the model's type: a value that does not
/// parse is refused naming the member at `path` and the option that set it, as the strict
/// parse of the whole draft would.
fn field<T: DeserializeOwned>(ty: &str, path: &str, s: &str) -> Result<T> {
    accord_core::json::from_value(Value::String(s.to_owned()))
        .map_err(|e| at_fault(ty, path, e.message()))
}

/// [`field`] for an optional option.
fn opt_field<T: DeserializeOwned>(ty: &str, path: &str, s: Option<&str>) -> Result<Option<T>> {
    s.map(|s| field(ty, path, s)).transpose()
}

/// A JSON member of the draft (an amendment's `terms`, an admission's `member`) parsed as the
/// model's type; an error names its place as the strict parse of the whole draft would.
fn nested<T: DeserializeOwned>(ty: &str, member: &str, mut v: Value) -> Result<T> {
    strip_nulls(&mut v);
    accord_core::json::from_value(v.clone()).map_err(|e| {
        let why = e.message();
        let why = match why.split_once(": ") {
            Some((path, rest)) if !path.is_empty() && !path.contains(' ') => {
                format!("{member}.{path}: {rest}")
            }
            _ => format!("{member}: {why}"),
        };
        let mut p = Map::new();
        p.insert(member.to_owned(), v);
        explain(
            &Value::Object(p),
            ty,
            PayloadError::Schema {
                ty: ty.to_owned(),
                why,
            },
        )
    })
}

/// `AMOUNT:CURRENCY` as given to `--{flag}`, split (not yet parsed).
fn money_arg<'a>(flag: &str, s: &'a str) -> Result<(&'a str, &'a str)> {
    s.split_once(':')
        .ok_or_else(|| anyhow!("--{flag} {s:?}: expected AMOUNT:CURRENCY, e.g. 1000000000:USD"))
}

fn money(path: &str, (amount, currency): (&str, &str)) -> Result<Money> {
    Ok(Money {
        amount: field(COMMITMENT, &format!("{path}.amount"), amount)?,
        currency: field(COMMITMENT, &format!("{path}.currency"), currency)?,
    })
}

const COMMITMENT: &str = "commitment";
const M: &str = "terms.measure";

/// A commitment by the parties of `t`, with its terms and the measure `measure` builds:
/// parsed in the order the draft's members are written, so the first error is the one the
/// strict parse would report.
fn commitment(t: &TermsArgs, measure: impl FnOnce() -> Result<Measure>) -> Result<Body> {
    let ty = COMMITMENT;
    let parties = t
        .parties
        .iter()
        .enumerate()
        .map(|(i, p)| field(ty, &format!("parties[{i}]"), p))
        .collect::<Result<Vec<MemberId>>>()?;
    let title = field(ty, "terms.title", &t.title)?;
    let commodity = field(ty, "terms.commodity", &t.commodity)?;
    let stage = field(ty, "terms.stage", &t.stage)?;
    let effective = Period {
        from: field(ty, "terms.effective.from", &t.from)?,
        until: opt_field(ty, "terms.effective.until", t.until.as_deref())?,
    };
    let instrument = field(ty, "terms.instrument", &t.instrument)?;
    let mut sources = Vec::new();
    for (i, s) in t.sources.iter().enumerate() {
        let (url, sha) = match s.split_once("#sha256=") {
            Some((u, h)) => (u, Some(h)),
            None => (s.as_str(), None),
        };
        sources.push(Source {
            url: field(ty, &format!("terms.sources[{i}].url"), url)?,
            sha256: opt_field(ty, &format!("terms.sources[{i}].sha256"), sha)?,
        });
    }
    Ok(Body::Commitment(NewCommitment {
        parties,
        terms: Terms {
            title,
            commodity,
            stage,
            effective,
            instrument,
            sources,
            measure: measure()?,
        },
    }))
}

fn strip_nulls(v: &mut Value) {
    if let Value::Object(m) = v {
        m.retain(|k, x| !(x.is_null() && k != "sha256"));
        for x in m.values_mut() {
            strip_nulls(x);
        }
    } else if let Value::Array(a) = v {
        a.iter_mut().for_each(strip_nulls);
    }
}

fn set_path(root: &mut Value, path: &str, value: Value) -> Result<()> {
    let mut cur = root;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        cur = match cur {
            Value::Object(m) => {
                if last {
                    m.insert((*p).to_owned(), value);
                    return Ok(());
                }
                m.entry((*p).to_owned())
                    .or_insert_with(|| Value::Object(Map::new()))
            }
            Value::Array(a) => {
                let idx: usize = p
                    .parse()
                    .map_err(|_| anyhow!("--set {path}: {p:?} is not a list index"))?;
                let len = a.len();
                let slot = a.get_mut(idx).ok_or_else(|| {
                    anyhow!("--set {path}: index {idx} past the list's {len} items")
                })?;
                if last {
                    *slot = value;
                    return Ok(());
                }
                slot
            }
            _ => bail!("--set {path}: {p:?} is inside a value that is not an object or list"),
        };
    }
    Ok(())
}

/// `accord draft ...`.
pub fn run(ctx: &Ctx, d: DraftCommand) -> Result<()> {
    let c = COMMITMENT;
    match d {
        DraftCommand::PriceFloor {
            common,
            terms: t,
            price,
            currency,
            unit,
            basis,
            mechanism,
        } => write_draft(ctx, &common, c, || {
            commitment(&t, || {
                Ok(Measure::PriceFloor {
                    price: Price {
                        amount: field(c, &format!("{M}.price.amount"), &price)?,
                        currency: field(c, &format!("{M}.price.currency"), &currency)?,
                        unit: field(c, &format!("{M}.price.unit"), &unit)?,
                    },
                    basis: field(c, &format!("{M}.basis"), &basis)?,
                    mechanism: field(c, &format!("{M}.mechanism"), &mechanism)?,
                    volume: None,
                })
            })
        }),
        DraftCommand::FinancingPledge {
            common,
            terms: t,
            institution,
            amount,
            currency,
            instrument_kind,
            target,
        } => write_draft(ctx, &common, c, || {
            commitment(&t, || {
                Ok(Measure::FinancingPledge {
                    institution: field(c, &format!("{M}.institution"), &institution)?,
                    amount: money(&format!("{M}.amount"), (&amount, &currency))?,
                    instrument: field(c, &format!("{M}.instrument"), &instrument_kind)?,
                    target: field(c, &format!("{M}.target"), &target)?,
                })
            })
        }),
        DraftCommand::Offtake {
            common,
            terms: t,
            buyer,
            seller,
            quantity,
            unit,
        } => write_draft(ctx, &common, c, || {
            commitment(&t, || {
                Ok(Measure::Offtake {
                    buyer: field(c, &format!("{M}.buyer"), &buyer)?,
                    seller: field(c, &format!("{M}.seller"), &seller)?,
                    quantity: Quantity {
                        amount: field(c, &format!("{M}.quantity.amount"), &quantity)?,
                        unit: field(c, &format!("{M}.quantity.unit"), &unit)?,
                    },
                })
            })
        }),
        DraftCommand::Stockpile {
            common,
            terms: t,
            days,
            baseline_days,
            quantity,
            unit,
        } => {
            let q = match (quantity, unit) {
                (Some(q), Some(u)) => Some((q, u)),
                (None, None) => None,
                _ => bail!("--quantity and --unit go together"),
            };
            write_draft(ctx, &common, c, || {
                commitment(&t, || {
                    let days_of_supply =
                        opt_field(c, &format!("{M}.days_of_supply"), days.as_deref())?;
                    let baseline_days =
                        opt_field(c, &format!("{M}.baseline_days"), baseline_days.as_deref())?;
                    let quantity = match &q {
                        Some((q, u)) => Some(Quantity {
                            amount: field(c, &format!("{M}.quantity.amount"), q)?,
                            unit: field(c, &format!("{M}.quantity.unit"), u)?,
                        }),
                        None => None,
                    };
                    Ok(Measure::Stockpile {
                        days_of_supply,
                        quantity,
                        baseline_days,
                    })
                })
            })
        }
        DraftCommand::TariffMeasure {
            common,
            terms: t,
            tool,
            rate,
            scope,
        } => write_draft(ctx, &common, c, || {
            commitment(&t, || {
                Ok(Measure::TariffMeasure {
                    tool: field(c, &format!("{M}.tool"), &tool)?,
                    rate_percent: opt_field(c, &format!("{M}.rate_percent"), rate.as_deref())?,
                    scope: field(c, &format!("{M}.scope"), &scope)?,
                })
            })
        }),
        DraftCommand::TaxIncentive {
            common,
            terms: t,
            tool,
            rate,
            value,
            currency,
            eligibility,
        } => {
            let v = match (value, currency) {
                (Some(v), Some(c)) => Some((v, c)),
                (None, None) => None,
                _ => bail!("--value and --currency go together"),
            };
            write_draft(ctx, &common, c, || {
                commitment(&t, || {
                    Ok(Measure::TaxIncentive {
                        tool: field(c, &format!("{M}.tool"), &tool)?,
                        rate_percent: opt_field(c, &format!("{M}.rate_percent"), rate.as_deref())?,
                        value: v
                            .as_ref()
                            .map(|(v, cur)| money(&format!("{M}.value"), (v, cur)))
                            .transpose()?,
                        eligibility: field(c, &format!("{M}.eligibility"), &eligibility)?,
                    })
                })
            })
        }
        DraftCommand::RecyclingTarget {
            common,
            terms: t,
            percent,
            basis,
            by,
        } => write_draft(ctx, &common, c, || {
            commitment(&t, || {
                Ok(Measure::RecyclingTarget {
                    target_percent: field(c, &format!("{M}.target_percent"), &percent)?,
                    basis: field(c, &format!("{M}.basis"), &basis)?,
                    by: field(c, &format!("{M}.by"), &by)?,
                })
            })
        }),
        DraftCommand::StandardsMarket {
            common,
            terms: t,
            standards,
            scope,
        } => write_draft(ctx, &common, c, || {
            commitment(&t, || {
                Ok(Measure::StandardsMarket {
                    standards: standards
                        .iter()
                        .enumerate()
                        .map(|(i, s)| field(c, &format!("{M}.standards[{i}]"), s))
                        .collect::<Result<_>>()?,
                    scope: field(c, &format!("{M}.scope"), &scope)?,
                })
            })
        }),
        DraftCommand::Framework {
            common,
            terms: t,
            partners,
            pledges,
            tools,
            pipeline,
        } => {
            let pledges = pledges
                .iter()
                .map(|p| money_arg("pledge", p))
                .collect::<Result<Vec<_>>>()?;
            let pipeline = pipeline
                .as_deref()
                .map(|p| money_arg("pipeline", p))
                .transpose()?;
            write_draft(ctx, &common, c, || {
                commitment(&t, || {
                    Ok(Measure::Framework {
                        partners: partners
                            .iter()
                            .enumerate()
                            .map(|(i, p)| field(c, &format!("{M}.partners[{i}]"), p))
                            .collect::<Result<_>>()?,
                        pledges: pledges
                            .iter()
                            .enumerate()
                            .map(|(i, &p)| money(&format!("{M}.pledges[{i}]"), p))
                            .collect::<Result<_>>()?,
                        tools: tools
                            .iter()
                            .enumerate()
                            .map(|(i, s)| field(c, &format!("{M}.tools[{i}]"), s))
                            .collect::<Result<_>>()?,
                        pipeline: pipeline
                            .map(|p| money(&format!("{M}.pipeline"), p))
                            .transpose()?,
                    })
                })
            })
        }
        DraftCommand::Amend {
            common,
            target,
            reason,
            sets,
            terms_file,
        } => {
            let mut t: Value = match terms_file {
                Some(f) => accord_core::json::parse(&read_file(&f, super::MAX_SMALL_FILE)?)
                    .with_context(|| format!("{} is not a JSON document", f.display()))?,
                None => {
                    let ledger = ctx.open().context("amend starts from the commitment's current terms in --ledger (or give --terms-file)")?;
                    let id = EntryId::parse(&target).map_err(|e| anyhow!("--target: {e}"))?;
                    let view = ledger.commitment(&id)?;
                    serde_json::to_value(&view.terms)?
                }
            };
            for s in &sets {
                let (path, raw) = s
                    .split_once('=')
                    .ok_or_else(|| anyhow!("--set {s:?}: expected PATH=VALUE"))?;
                // Terms hold no JSON numbers (amounts are decimal strings), so a number stays
                // the string it was written as; lists, objects and null are JSON.
                let value = match accord_core::json::parse(raw.as_bytes()) {
                    Ok(
                        v @ (Value::Array(_) | Value::Object(_) | Value::Null | Value::String(_)),
                    ) => v,
                    // A list or object that does not parse is a mistake, not a string.
                    Err(e) if raw.trim_start().starts_with(['{', '[']) => {
                        bail!("--set {path}: {e}")
                    }
                    _ => Value::String(raw.to_owned()),
                };
                set_path(&mut t, path, value)?;
            }
            let ty = "amend";
            write_draft(ctx, &common, ty, || {
                Ok(Body::Amend(Amend {
                    target: field(ty, "target", &target)?,
                    reason: field(ty, "reason", &reason)?,
                    terms: nested(ty, "terms", t)?,
                }))
            })
        }
        DraftCommand::Progress {
            common,
            target,
            as_of,
            metric,
            amount,
            unit,
            note,
        } => {
            let ty = "progress";
            write_draft(ctx, &common, ty, || {
                Ok(Body::Progress(Progress {
                    target: field(ty, "target", &target)?,
                    as_of: field(ty, "as_of", &as_of)?,
                    metric: field(ty, "metric", &metric)?,
                    amount: field(ty, "amount", &amount)?,
                    unit: field(ty, "unit", &unit)?,
                    note: opt_field(ty, "note", note.as_deref())?,
                }))
            })
        }
        DraftCommand::Withdraw {
            common,
            target,
            reason,
        } => {
            let ty = "withdraw";
            write_draft(ctx, &common, ty, || {
                Ok(Body::Withdraw(Withdraw {
                    target: field(ty, "target", &target)?,
                    reason: field(ty, "reason", &reason)?,
                }))
            })
        }
        DraftCommand::AdmitMember { common, member } => {
            let m = accord_core::json::parse(&read_file(&member, super::MAX_SMALL_FILE)?)
                .with_context(|| format!("{} is not a JSON document", member.display()))?;
            let ty = "admit_member";
            write_draft(ctx, &common, ty, || {
                Ok(Body::AdmitMember(AdmitMember {
                    member: nested(ty, "member", m)?,
                }))
            })
        }
        DraftCommand::RemoveMember {
            common,
            member,
            reason,
        } => {
            let ty = "remove_member";
            write_draft(ctx, &common, ty, || {
                Ok(Body::RemoveMember(RemoveMember {
                    member: field(ty, "member", &member)?,
                    reason: field(ty, "reason", &reason)?,
                }))
            })
        }
        DraftCommand::RotateKey {
            common,
            member,
            new_key,
        } => {
            let new_key = verifier_arg("new-key", &new_key)?;
            let ty = "rotate_key";
            write_draft(ctx, &common, ty, || {
                Ok(Body::RotateKey(RotateKey {
                    member: field(ty, "member", &member)?,
                    new_key,
                }))
            })
        }
        DraftCommand::RevokeKey {
            common,
            member,
            key,
            reason,
        } => {
            let key = match key {
                Some(k) => verifier_arg("key", &k)?,
                None => {
                    let mut ledger = ctx.open().context(
                        "revoke-key looks up the member's current key in --ledger (or give --key)",
                    )?;
                    let id = member.parse().map_err(|e| anyhow!("--member: {e}"))?;
                    ledger
                        .governance()?
                        .current_key(&id)
                        .ok_or_else(|| anyhow!("{member} has no current key"))?
                        .clone()
                }
            };
            let ty = "revoke_key";
            write_draft(ctx, &common, ty, || {
                Ok(Body::RevokeKey(RevokeKey {
                    member: field(ty, "member", &member)?,
                    key,
                    reason: field(ty, "reason", &reason)?,
                }))
            })
        }
    }
}

/// What the ledger at hand says of a draft: its id must be unused, a commitment's parties
/// active members, a lifecycle entry's target a commitment of this ledger.
fn check_against(ledger: &mut Ledger, payload: &Payload) -> Result<()> {
    ledger.learn(payload)?;
    let state = ledger.governance()?;
    if state.has_id(&payload.id) {
        bail!(
            "--id {}: an entry with this id is already in the ledger",
            payload.id
        );
    }
    let active = || {
        list_ids(
            state
                .members()
                .filter(|m| m.is_active())
                .map(|m| &m.member.id),
        )
    };
    match &payload.body {
        Body::Commitment(c) => {
            for p in &c.parties {
                match state.member(p) {
                    Some(m) if m.is_active() => {}
                    Some(_) => bail!("--party {p}: was removed from the ledger"),
                    None => bail!(
                        "--party {p}: not a member of the ledger (members: {})",
                        active()
                    ),
                }
            }
        }
        Body::Progress(Progress { target, .. }) | Body::Withdraw(Withdraw { target, .. })
            if state.commitment(target).is_none() =>
        {
            bail!("--target {target}: no commitment {target} in the ledger");
        }
        _ => {}
    }
    Ok(())
}

/// The `draft` option that set the payload member at `path` (a JSON path such as
/// `terms.measure.pledges[0].amount`), for a message that names both.
fn option_of(ty: &str, path: &str) -> Option<&'static str> {
    // List positions do not change which option set a member.
    let mut plain = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            c if !in_index => plain.push(c),
            _ => {}
        }
    }
    let parts: Vec<&str> = plain.split('.').filter(|p| !p.is_empty()).collect();
    let option = match parts.as_slice() {
        ["ledger", ..] => "--origin",
        ["id", ..] => "--id",
        ["signed_at", ..] => "--signed-at",
        ["terms", ..] if ty == "amend" => "--set",
        ["parties", ..] => "--party",
        ["terms", "title", ..] => "--title",
        ["terms", "commodity", ..] => "--commodity",
        ["terms", "stage", ..] => "--stage",
        ["terms", "effective", "until", ..] => "--until",
        ["terms", "effective", ..] => "--from",
        ["terms", "instrument", ..] => "--instrument",
        ["terms", "sources", ..] => "--source",
        ["terms", "measure", rest @ ..] => match rest {
            ["price", "amount", ..] => "--price",
            ["amount", "amount", ..] => "--amount",
            ["quantity", "amount", ..] => "--quantity",
            ["value", "amount", ..] => "--value",
            ["pledges", ..] => "--pledge",
            ["pipeline", ..] => "--pipeline",
            [_, "currency", ..] => "--currency",
            [_, "unit", ..] => "--unit",
            ["partners", ..] => "--partner",
            ["tools", ..] | ["tool", ..] => "--tool",
            ["standards", ..] => "--standard",
            ["days_of_supply", ..] => "--days",
            ["baseline_days", ..] => "--baseline-days",
            ["rate_percent", ..] => "--rate",
            ["target_percent", ..] => "--percent",
            ["by", ..] => "--by",
            ["basis", ..] => "--basis",
            ["mechanism", ..] => "--mechanism",
            ["institution", ..] => "--institution",
            ["instrument", ..] => "--instrument-kind",
            ["target", ..] => "--target",
            ["buyer", ..] => "--buyer",
            ["seller", ..] => "--seller",
            ["scope", ..] => "--scope",
            ["eligibility", ..] => "--eligibility",
            _ => return None,
        },
        ["target", ..] => "--target",
        ["reason", ..] => "--reason",
        ["as_of", ..] => "--as-of",
        ["metric", ..] => "--metric",
        ["amount", ..] => "--amount",
        ["unit", ..] => "--unit",
        ["note", ..] => "--note",
        ["member", ..] => "--member",
        ["new_key", ..] => "--new-key",
        ["key", ..] => "--key",
        _ => return None,
    };
    Some(option)
}

/// The value a schema error is about: the first `"quoted"` or `` `ticked` `` word in it
/// (the model's field errors quote the value, serde ticks an unknown variant).
fn quoted_value(why: &str) -> Option<String> {
    let (start, end) = match (why.find('"'), why.find('`')) {
        (Some(q), Some(t)) if t < q => (t, '`'),
        (Some(q), _) => (q, '"'),
        (None, Some(t)) => (t, '`'),
        (None, None) => return None,
    };
    let rest = &why[start + 1..];
    let mut value = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if end == '"' => value.push(chars.next()?),
            c if c == end => return Some(value),
            c => value.push(c),
        }
    }
    None
}

/// JSON paths of the string leaves of `v` equal to `needle`.
fn paths_of(v: &Value, here: &str, needle: &str, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s == needle => out.push(here.to_owned()),
        Value::Object(m) => {
            for (k, x) in m {
                let path = if here.is_empty() {
                    k.clone()
                } else {
                    format!("{here}.{k}")
                };
                paths_of(x, &path, needle, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                paths_of(x, &format!("{here}[{i}]"), needle, out);
            }
        }
        _ => {}
    }
}

/// Why a draft does not validate, naming the member at fault by its JSON path and the
/// option that set it. A header or rule error names its member itself. A schema error (a
/// value that does not parse) does not: `type` and `kind` select serde variants, and serde
/// loses the path inside them. Its value is then looked for in the draft, which was built
/// from the options, so one leaf holding it is the place at fault.
fn explain(p: &Value, ty: &str, e: PayloadError) -> anyhow::Error {
    let (path, why) = match &e {
        PayloadError::Header { member, why } => ((*member).to_owned(), why.clone()),
        PayloadError::Invalid { field, why } => (field.clone(), why.clone()),
        PayloadError::Schema { why, .. } => {
            // The core names the path as far as serde tracks it (`terms.measure: ...`).
            let (prefix, why) = match why.split_once(": ") {
                Some((path, rest)) if !path.is_empty() && !path.contains(' ') => (Some(path), rest),
                _ => (None, why.as_str()),
            };
            let mut found = Vec::new();
            if let Some(value) = quoted_value(why) {
                paths_of(p, "", &value, &mut found);
            }
            if let Some(prefix) = prefix {
                found.retain(|f| f.starts_with(prefix));
            }
            if found.len() > 1 {
                // `Currency "US"`: the member named like the type, not the partner "US".
                let what = why.split(' ').next().unwrap_or_default().to_lowercase();
                found.retain(|f| f.rsplit('.').next() == Some(what.as_str()));
            }
            match (found.as_slice(), prefix) {
                ([path], _) => (path.clone(), why.to_owned()),
                ([], Some(prefix)) => (prefix.to_owned(), why.to_owned()),
                _ => return anyhow!("the draft does not validate: {why}"),
            }
        }
        _ => return anyhow!("the draft does not validate: {e}"),
    };
    at_fault(ty, &path, &why)
}

/// Why the draft member at `path` does not validate, naming the option that set it.
fn at_fault(ty: &str, path: &str, why: &str) -> anyhow::Error {
    let date = path.ends_with("from")
        || path.ends_with("until")
        || path.ends_with("as_of")
        || path.ends_with(".by");
    let form = if date && !why.contains("YYYY-MM-DD") {
        "; expected YYYY-MM-DD"
    } else {
        ""
    };
    match option_of(ty, path) {
        Some(opt) => anyhow!("the draft does not validate: {path} (set by {opt}): {why}{form}"),
        None => anyhow!("the draft does not validate: {path}: {why}{form}"),
    }
}

/// Writes the draft whose body `body` builds, after the checks that come first (the output
/// file, the origin, the common members), then validates it strictly as a signer would.
fn write_draft(
    ctx: &Ctx,
    common: &Common,
    ty: &str,
    body: impl FnOnce() -> Result<Body>,
) -> Result<()> {
    // A device or FIFO (`--out /dev/stdout`) is written in place, never "overwritten".
    let out_exists = std::fs::metadata(&common.out).is_ok_and(|m| m.is_file());
    if out_exists && !common.force {
        bail!(
            "{} exists; refusing to overwrite it (use --force to replace it)",
            common.out.display()
        );
    }
    let mut ledger = ctx.ledger_at_hand()?;
    let origin = match (&common.origin, &ledger) {
        (Some(o), Some(l)) if o != l.origin() => bail!(
            "--origin {o} is not the origin of the ledger {} ({})",
            ctx.ledger_dir()?.display(),
            l.origin()
        ),
        (Some(o), _) => o.clone(),
        (None, Some(l)) => l.origin().to_owned(),
        (None, None) => {
            bail!("the draft names its ledger: give --origin, or --ledger to take it from there")
        }
    };
    let header = |member: &'static str, why: String| {
        explain(&Value::Null, ty, PayloadError::Header { member, why })
    };
    check_origin(&origin).map_err(|why| header("ledger", why))?;
    let id = EntryId::parse(&common.id).map_err(|e| header("id", e.to_string()))?;
    let signed_at = match &common.signed_at {
        Some(s) => Timestamp::parse(s).map_err(|e| header("signed_at", e.to_string()))?,
        None => Timestamp::now(),
    };
    let draft = Payload {
        ledger: origin,
        id,
        signed_at,
        body: body()?,
    };
    // The strict parse a signer makes: the model's rules (dates in order, lists within
    // bounds...) hold for what is written.
    let p = draft.to_value();
    let raw = serde_json::to_vec(&p)?;
    let payload = Payload::from_bytes(&raw).map_err(|e| explain(&p, ty, e))?;
    if let Some(l) = ledger.as_mut() {
        check_against(l, &payload)?;
    }
    let bytes = payload.to_bytes();
    write_file(&common.out, &bytes)?;
    let kind = match &payload.body {
        Body::Commitment(c) => c.terms.measure.kind(),
        other => other.type_name(),
    };
    if ctx.json {
        output::json(
            &json!({"file": common.out, "id": payload.id, "type": payload.body.type_name(), "kind": kind}),
        )
    } else {
        outln!(
            "wrote draft {} ({kind} {}); sign it with `accord sign {} --key KEYFILE`",
            common.out.display(),
            payload.id,
            common.out.display()
        )?;
        Ok(())
    }
}
