//! Queries: a commitment's history and current state, filtered lists, and summaries per
//! country and commodity. Filters by member, country, kind and commodity use the indexes
//! written at append; status and dates are decided on the folded view.

use std::collections::{BTreeMap, BTreeSet};

use accord_core::lifecycle::{CommitmentView, Status};
use accord_core::model::{Body, EntryId};
use rust_decimal::Decimal;
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

/// One country's or commodity's line in a summary.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SummaryLine {
    /// Commitments it is party to (or about this commodity).
    pub commitments: u64,
    /// Of which in force (active or amended) on the day.
    pub in_force: u64,
    /// Of which withdrawn.
    pub withdrawn: u64,
    /// Commitments by kind.
    pub by_kind: BTreeMap<String, u64>,
    /// Money pledged by commitments in force, by currency (decimal strings).
    pub pledged: BTreeMap<String, String>,
    /// Price floors in force: "commitment: amount currency/unit".
    pub price_floors: Vec<String>,
}

/// Summary per country and per commodity.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// The day statuses were decided on.
    pub as_of: String,
    /// Entries in the ledger.
    pub entries: u64,
    /// Commitments in the ledger.
    pub commitments: u64,
    /// Per country (a joint commitment counts for each party's country).
    pub by_country: BTreeMap<String, SummaryLine>,
    /// Per commodity.
    pub by_commodity: BTreeMap<String, SummaryLine>,
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
        let mut view = CommitmentView::new(first.index, &first.payload).ok_or_else(|| {
            LedgerError::NotFound(format!(
                "commitment {id} (entry {} is not a commitment)",
                first.index
            ))
        })?;
        for e in &history[1..] {
            view.apply(e.index, &e.payload);
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
        out.sort_by_key(|v| v.created_at);
        Ok(out)
    }

    /// Totals per country and commodity on `day`.
    ///
    /// # Errors
    /// Store failures or corruption.
    pub fn summary(&mut self, day: time::Date) -> Result<Summary, LedgerError> {
        let views = self.commitments(&Filter {
            as_of: Some(day),
            ..Filter::default()
        })?;
        let state = self.governance()?.clone();
        let mut s = Summary {
            as_of: day.to_string(),
            entries: self.size(),
            commitments: views.len() as u64,
            ..Summary::default()
        };
        let mut sums: BTreeMap<(bool, String, String), Decimal> = BTreeMap::new();
        for v in &views {
            let status = v.status_on(day);
            let in_force = matches!(status, Status::Active | Status::Amended);
            let countries: BTreeSet<String> = v
                .parties
                .iter()
                .filter_map(|p| state.member(p).map(|m| m.member.country.to_string()))
                .collect();
            let commodity = v.terms.commodity.to_string();
            let mut lines: Vec<(bool, String)> = countries.into_iter().map(|c| (true, c)).collect();
            lines.push((false, commodity));
            for (is_country, key) in lines {
                let line = if is_country {
                    s.by_country.entry(key.clone()).or_default()
                } else {
                    s.by_commodity.entry(key.clone()).or_default()
                };
                line.commitments += 1;
                *line.by_kind.entry(v.kind.to_owned()).or_default() += 1;
                if status == Status::Withdrawn {
                    line.withdrawn += 1;
                }
                if in_force {
                    line.in_force += 1;
                    for m in v.terms.measure.money() {
                        let slot = sums
                            .entry((is_country, key.clone(), m.currency.to_string()))
                            .or_insert(Decimal::ZERO);
                        *slot = slot.checked_add(m.amount.value()).unwrap_or(*slot);
                    }
                    if let accord_core::model::Measure::PriceFloor { price, .. } = &v.terms.measure
                    {
                        line.price_floors.push(format!(
                            "{}: {} {}/{}",
                            v.id, price.amount, price.currency, price.unit
                        ));
                    }
                }
            }
        }
        for ((is_country, key, currency), total) in sums {
            let line = if is_country {
                s.by_country.get_mut(&key)
            } else {
                s.by_commodity.get_mut(&key)
            };
            if let Some(line) = line {
                line.pledged.insert(currency, total.normalize().to_string());
            }
        }
        Ok(s)
    }
}

/// Whether an entry is a commitment-version entry (creation or amendment), for CSV export.
pub(crate) fn is_version(body: &Body) -> bool {
    matches!(body, Body::Commitment(_) | Body::Amend(_))
}
