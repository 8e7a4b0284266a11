//! Queries: a commitment's history and current state, filtered lists, and summaries per
//! country and commodity. Filters by member, country, kind and commodity use the indexes
//! written at append; status and dates are decided on the folded view.

use std::collections::{BTreeMap, BTreeSet};

use accord_core::lifecycle::{CommitmentView, Status};
use accord_core::model::EntryId;
use serde::Serialize;

use crate::error::LedgerError;
use crate::keys;
use crate::ledger::{corrupt, Ledger, StoredEntry};

/// Which commitments to list. Empty fields do not filter.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// A party.
    pub member: Option<String>,
    /// A party's country.
    pub country: Option<String>,
    /// The measure's kind.
    pub kind: Option<String>,
    /// The commodity (latest terms), or a prefix ending in `/`.
    pub commodity: Option<String>,
    /// Status on `as_of`.
    pub status: Option<Status>,
    /// In force at some day on or after this date.
    pub from: Option<time::Date>,
    /// In force at some day on or before this date.
    pub to: Option<time::Date>,
    /// The day statuses are decided on (default: today).
    pub as_of: Option<time::Date>,
    /// Only this commitment.
    pub commitment: Option<String>,
}

impl Filter {
    /// The day statuses are decided on.
    pub fn day(&self) -> time::Date {
        self.as_of
            .unwrap_or_else(|| time::OffsetDateTime::now_utc().date())
    }

    /// Whether a folded view passes the filters that are not index look-ups.
    pub fn admits(&self, v: &CommitmentView) -> bool {
        let day = self.day();
        if let Some(s) = self.status {
            if v.status_on(day) != s {
                return false;
            }
        }
        if let Some(c) = &self.commodity {
            let ok = if let Some(prefix) = c.strip_suffix('/') {
                v.terms.commodity.as_str().starts_with(prefix)
            } else {
                v.terms.commodity.as_str() == c
                    || v.terms.commodity.as_str().starts_with(&format!("{c}/"))
            };
            if !ok {
                return false;
            }
        }
        if let Some(k) = &self.kind {
            if v.kind != k {
                return false;
            }
        }
        if let Some(m) = &self.member {
            if !v.parties.iter().any(|p| p.as_str() == m) {
                return false;
            }
        }
        if let Some(from) = self.from {
            if v.terms
                .effective
                .until
                .as_ref()
                .is_some_and(|u| u.date() < from)
            {
                return false;
            }
        }
        if let Some(to) = self.to {
            if v.terms.effective.from.date() > to {
                return false;
            }
        }
        true
    }
}

/// Commitments counted by status on the summary's day; `commitments` is their sum.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    /// All of them: active + amended + pending + expired + withdrawn.
    pub commitments: u64,
    /// In force as first signed.
    pub active: u64,
    /// In force, amended.
    pub amended: u64,
    /// Not yet in force.
    pub pending: u64,
    /// Effective period over.
    pub expired: u64,
    /// Withdrawn.
    pub withdrawn: u64,
}

impl StatusCounts {
    fn count(&mut self, s: Status) {
        self.commitments += 1;
        match s {
            Status::Active => self.active += 1,
            Status::Amended => self.amended += 1,
            Status::Pending => self.pending += 1,
            Status::Expired => self.expired += 1,
            Status::Withdrawn => self.withdrawn += 1,
        }
    }
}

/// One country's or commodity's line in a summary.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SummaryLine {
    /// Commitments by status (a joint commitment counts on the line of each party's
    /// country).
    #[serde(flatten)]
    pub counts: StatusCounts,
    /// Commitments by kind.
    pub by_kind: BTreeMap<String, u64>,
    /// Money pledged by commitments in force, by currency (decimal strings): on a country's
    /// line only what that country pays (alone, or its share where the payload splits the
    /// pledge); on a commodity's line every pledge about it, once.
    pub pledged: BTreeMap<String, String>,
    /// Price floors in force: "commitment: USD 110.00/kg".
    pub price_floors: Vec<String>,
}

/// Pledges in force that several countries make together without saying who pays what.
#[derive(Clone, Debug, Default, Serialize)]
pub struct JointLine {
    /// The commitments.
    pub commitments: Vec<String>,
    /// Their money, by currency.
    pub pledged: BTreeMap<String, String>,
}

/// Summary per country and per commodity.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// The day statuses were decided on.
    pub as_of: String,
    /// Entries in the ledger.
    pub entries: u64,
    /// Commitments in the ledger, by status.
    pub commitments: StatusCounts,
    /// Money pledged by commitments in force, by currency, each commitment once: the sum of
    /// the countries' `pledged` and `joint.pledged`, and of the commodities' `pledged`.
    pub pledged: BTreeMap<String, String>,
    /// Per country.
    pub by_country: BTreeMap<String, SummaryLine>,
    /// Joint pledges not split between countries.
    pub joint: JointLine,
    /// Money disbursed so far toward the pledges in force, by currency (decimal strings):
    /// the `disbursed` progress reported on each commitment counted in `pledged`, in a
    /// currency it pledges.
    pub disbursed: BTreeMap<String, String>,
    /// Offtakes in force, by unit: the quantity contracted and delivered so far.
    pub delivered: BTreeMap<String, Delivered>,
    /// Per commodity.
    pub by_commodity: BTreeMap<String, SummaryLine>,
    /// Per kind of measure.
    pub by_kind: BTreeMap<String, StatusCounts>,
}

/// Material contracted by offtakes in force, and delivered so far, in one unit.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Delivered {
    /// The offtakes' quantities added up, a decimal string.
    pub contracted: String,
    /// The `delivered` progress reported on them in this unit, a decimal string.
    pub delivered: String,
}

fn id_from(bytes: &[u8], what: &str) -> Result<EntryId, LedgerError> {
    let s = std::str::from_utf8(bytes).map_err(|_| corrupt(what.to_owned(), "id is not UTF-8"))?;
    EntryId::parse(s).map_err(|e| corrupt(what.to_owned(), e.to_string()))
}

impl Ledger {
    /// Every entry about a commitment, in order: its creation, amendments, progress reports
    /// and withdrawal.
    ///
    /// # Errors
    /// [`LedgerError::NotFound`] if there is no such commitment.
    pub fn history(&self, commitment: &EntryId) -> Result<Vec<StoredEntry>, LedgerError> {
        let prefix = keys::parts(b'C', &[commitment.as_str().as_bytes(), b""]);
        let mut out = Vec::new();
        for item in self.store().scan(&prefix, None) {
            let (k, _) = item?;
            if k.len() != prefix.len() + 8 {
                continue;
            }
            let index = keys::tail_u64(&k).ok_or_else(|| corrupt("history index", "bad key"))?;
            let e = self.entry(index)?;
            if e.payload.body.commitment_id(&e.payload.id).as_ref() != Some(commitment) {
                return Err(corrupt(
                    format!("history index of {commitment}"),
                    format!("entry {index} is not about it"),
                ));
            }
            out.push(e);
        }
        if out.is_empty() {
            return Err(LedgerError::NotFound(format!("commitment {commitment}")));
        }
        Ok(out)
    }

    /// The current view of a commitment, folded from its history.
    ///
    /// # Errors
    /// [`LedgerError::NotFound`] or corruption.
    pub fn commitment(&self, id: &EntryId) -> Result<CommitmentView, LedgerError> {
        let history = self.history(id)?;
        let first = &history[0];
        let mut view = CommitmentView::new(first.index, &first.payload, &first.entry.logged_at)
            .ok_or_else(|| {
                LedgerError::NotFound(format!(
                    "commitment {id} (entry {} is not a commitment)",
                    first.index
                ))
            })?;
        for e in &history[1..] {
            view.apply(e.index, &e.payload, &e.entry.logged_at);
        }
        Ok(view)
    }

    fn ids_with_prefix(&self, prefix: &[u8], what: &str) -> Result<BTreeSet<EntryId>, LedgerError> {
        let mut out = BTreeSet::new();
        for item in self.store().scan(prefix, None) {
            let (k, _) = item?;
            let seg =
                keys::segment(&k, prefix).ok_or_else(|| corrupt(what.to_owned(), "bad key"))?;
            out.insert(id_from(seg, what)?);
        }
        Ok(out)
    }

    /// Commitment ids that pass the indexed filters (member, country, kind, commodity).
    fn candidates(&self, f: &Filter) -> Result<BTreeSet<EntryId>, LedgerError> {
        let mut sets: Vec<BTreeSet<EntryId>> = Vec::new();
        if let Some(c) = &f.commitment {
            let id = EntryId::parse(c).map_err(|e| LedgerError::NotFound(e.to_string()))?;
            sets.push(BTreeSet::from([id]));
        }
        if let Some(m) = &f.member {
            sets.push(
                self.ids_with_prefix(&keys::parts(b'P', &[m.as_bytes(), b""]), "party index")?,
            );
        }
        if let Some(c) = &f.country {
            sets.push(
                self.ids_with_prefix(&keys::parts(b'Q', &[c.as_bytes(), b""]), "country index")?,
            );
        }
        if let Some(k) = &f.kind {
            sets.push(
                self.ids_with_prefix(&keys::parts(b'K', &[k.as_bytes(), b""]), "kind index")?,
            );
        }
        if let Some(c) = &f.commodity {
            let prefix = match c.strip_suffix('/') {
                Some(p) => keys::parts(b'O', &[p.as_bytes()]),
                None => keys::parts(b'O', &[c.as_bytes()]),
            };
            // Commodity keys are commodity, 0, id, 0, index: a prefix match on the
            // commodity may also match longer commodities, which `admits` sorts out.
            let mut ids = BTreeSet::new();
            for item in self.store().scan(&prefix, None) {
                let (k, _) = item?;
                let rest = &k[1..];
                let mut parts = rest.split(|&b| b == 0);
                let _commodity = parts.next();
                if let Some(id) = parts.next() {
                    ids.insert(id_from(id, "commodity index")?);
                }
            }
            sets.push(ids);
        }
        if sets.is_empty() {
            // Every commitment has exactly one kind key.
            let mut all = BTreeSet::new();
            for item in self.store().scan(b"K", None) {
                let (k, _) = item?;
                let mut parts = k[1..].split(|&b| b == 0);
                let _kind = parts.next();
                if let Some(id) = parts.next() {
                    all.insert(id_from(id, "kind index")?);
                }
            }
            return Ok(all);
        }
        let mut iter = sets.into_iter();
        let mut acc = iter.next().unwrap_or_default();
        for s in iter {
            acc = acc.intersection(&s).cloned().collect();
        }
        Ok(acc)
    }

    /// Commitments passing `filter`, ordered by the index of their creation.
    ///
    /// # Errors
    /// Store failures or corruption.
    pub fn commitments(&self, filter: &Filter) -> Result<Vec<CommitmentView>, LedgerError> {
        let mut out = Vec::new();
        for id in self.candidates(filter)? {
            let view = match self.commitment(&id) {
                Ok(v) => v,
                Err(LedgerError::NotFound(_)) if filter.commitment.is_some() => continue,
                Err(e) => return Err(e),
            };
            if filter.admits(&view) {
                out.push(view);
            }
        }
        out.sort_by_key(|v| v.created_index);
        Ok(out)
    }

    /// Totals per country and commodity on `day`.
    ///
    /// # Errors
    /// Store failures or corruption.
    pub fn summary(&mut self, day: time::Date) -> Result<Summary, LedgerError> {
        use accord_core::figures::{add, totals_strings, Totals};
        let views = self.commitments(&Filter {
            as_of: Some(day),
            ..Filter::default()
        })?;
        let state = self.governance()?.clone();
        let mut s = Summary {
            as_of: day.to_string(),
            entries: self.size(),
            ..Summary::default()
        };
        let mut total = Totals::new();
        let mut disbursed = Totals::new();
        let mut contracted = Totals::new();
        let mut delivered = Totals::new();
        let mut joint = Totals::new();
        let mut by_country: BTreeMap<String, Totals> = BTreeMap::new();
        let mut by_commodity: BTreeMap<String, Totals> = BTreeMap::new();
        for v in &views {
            let status = v.status_on(day);
            let in_force = matches!(status, Status::Active | Status::Amended);
            s.commitments.count(status);
            s.by_kind
                .entry(v.kind.to_owned())
                .or_default()
                .count(status);
            let countries: BTreeSet<String> = v
                .parties
                .iter()
                .filter_map(|p| state.member(p).map(|m| m.member.country.to_string()))
                .collect();
            let commodity = v.terms.commodity.to_string();
            let floor = if in_force {
                if let (accord_core::model::Measure::PriceFloor { .. }, Some(f)) =
                    (&v.terms.measure, &v.figure)
                {
                    Some(format!("{}: {}", v.id, f.text()))
                } else {
                    None
                }
            } else {
                None
            };
            let touch = |line: &mut SummaryLine| {
                line.counts.count(status);
                *line.by_kind.entry(v.kind.to_owned()).or_default() += 1;
                if let Some(f) = &floor {
                    line.price_floors.push(f.clone());
                }
            };
            for c in &countries {
                touch(s.by_country.entry(c.clone()).or_default());
            }
            touch(s.by_commodity.entry(commodity.clone()).or_default());
            if !in_force {
                continue;
            }
            let reported = |metric: accord_core::model::Metric, unit: &str| {
                v.progress
                    .iter()
                    .filter(|p| p.metric == metric && p.unit == unit)
                    .filter_map(|p| rust_decimal::Decimal::from_str_exact(&p.total).ok())
                    .fold(rust_decimal::Decimal::ZERO, |a, b| {
                        a.checked_add(b).unwrap_or(rust_decimal::Decimal::MAX)
                    })
            };
            if let Some((unit, amount)) = v.terms.measure.contracted() {
                add(&mut contracted, &unit, amount);
                add(
                    &mut delivered,
                    &unit,
                    reported(accord_core::model::Metric::Delivered, &unit),
                );
            }
            let pledged = v.terms.measure.pledged();
            for c in pledged.keys() {
                add(
                    &mut disbursed,
                    c,
                    reported(accord_core::model::Metric::Disbursed, c),
                );
            }
            if pledged.is_empty() {
                continue;
            }
            for (c, a) in &pledged {
                add(&mut total, c, *a);
                add(by_commodity.entry(commodity.clone()).or_default(), c, *a);
            }
            // Attribution: the shares the payload names; else the one country of the
            // parties; else joint. Each amount lands on exactly one line.
            match v.terms.measure.shares() {
                Some(shares) => {
                    for (country, c, a) in shares {
                        add(
                            by_country.entry(country.to_string()).or_default(),
                            c.as_str(),
                            a,
                        );
                    }
                }
                None if countries.len() == 1 => {
                    let country = countries.iter().next().cloned().unwrap_or_default();
                    let t = by_country.entry(country).or_default();
                    for (c, a) in &pledged {
                        add(t, c, *a);
                    }
                }
                None => {
                    s.joint.commitments.push(v.id.to_string());
                    for (c, a) in &pledged {
                        add(&mut joint, c, *a);
                    }
                }
            }
        }
        s.pledged = totals_strings(&total);
        s.disbursed = totals_strings(&disbursed);
        let delivered = totals_strings(&delivered);
        s.delivered = totals_strings(&contracted)
            .into_iter()
            .map(|(unit, c)| {
                let d = delivered.get(&unit).cloned().unwrap_or_else(|| "0".into());
                (
                    unit,
                    Delivered {
                        contracted: c,
                        delivered: d,
                    },
                )
            })
            .collect();
        s.joint.pledged = totals_strings(&joint);
        for (k, t) in by_country {
            // A framework partner may not be a member's country: it still gets its line.
            s.by_country.entry(k).or_default().pledged = totals_strings(&t);
        }
        for (k, t) in by_commodity {
            s.by_commodity.entry(k).or_default().pledged = totals_strings(&t);
        }
        Ok(s)
    }
}
