//! A commitment's current state, folded from its history: the creating entry, then its
//! amendments, progress reports and withdrawal, in log order.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::model::{Body, Date, EntryId, MemberId, Metric, Payload, Terms, Text, Timestamp};

/// Where a commitment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// In force, as first signed.
    Active,
    /// In force, with at least one amendment.
    Amended,
    /// Its effective period ended before the date asked about.
    Expired,
    /// Not yet in force on the date asked about.
    Pending,
    /// Withdrawn by its parties.
    Withdrawn,
}

impl Status {
    /// The spelling used in output and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Amended => "amended",
            Status::Expired => "expired",
            Status::Pending => "pending",
            Status::Withdrawn => "withdrawn",
        }
    }

    /// Parses a status name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => Status::Active,
            "amended" => Status::Amended,
            "expired" => Status::Expired,
            "pending" => Status::Pending,
            "withdrawn" => Status::Withdrawn,
            _ => return None,
        })
    }
}

/// Progress reported for one metric and unit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProgressTotal {
    /// What is measured.
    pub metric: Metric,
    /// Unit.
    pub unit: String,
    /// Sum of the reports, as a decimal string.
    pub total: String,
    /// Number of reports.
    pub reports: usize,
    /// The latest `as_of` date.
    pub latest_as_of: String,
}

/// The current view of one commitment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CommitmentView {
    /// The commitment id.
    pub id: EntryId,
    /// Its parties.
    pub parties: Vec<MemberId>,
    /// The measure's kind.
    pub kind: &'static str,
    /// Version: 1 as created, +1 per amendment.
    pub version: u32,
    /// The latest terms.
    pub terms: Terms,
    /// Log index of the creating entry.
    pub created_at: u64,
    /// When the creating entry was signed.
    pub signed_at: Timestamp,
    /// Log index of the latest entry about it.
    pub updated_at: u64,
    /// Log indexes of every entry about it, in order.
    pub history: Vec<u64>,
    /// Log index of the withdrawal, if any.
    pub withdrawn_at: Option<u64>,
    /// Why it was withdrawn.
    pub withdrawal_reason: Option<Text>,
    /// Progress totals per metric and unit.
    pub progress: Vec<ProgressTotal>,
    #[serde(skip)]
    sums: BTreeMap<(Metric, String), (Decimal, usize, Date)>,
}

impl CommitmentView {
    /// Starts a view from the creating entry; `None` if `payload` does not create one.
    pub fn new(index: u64, payload: &Payload) -> Option<Self> {
        let Body::Commitment(c) = &payload.body else {
            return None;
        };
        Some(Self {
            id: payload.id.clone(),
            parties: c.parties.clone(),
            kind: c.terms.measure.kind(),
            version: 1,
            terms: c.terms.clone(),
            created_at: index,
            signed_at: payload.signed_at.clone(),
            updated_at: index,
            history: vec![index],
            withdrawn_at: None,
            withdrawal_reason: None,
            progress: Vec::new(),
            sums: BTreeMap::new(),
        })
    }

    /// Folds in a later entry about this commitment. Entries about other commitments, and
    /// entries that are not lifecycle entries, are ignored (returns `false`).
    pub fn apply(&mut self, index: u64, payload: &Payload) -> bool {
        match &payload.body {
            Body::Amend(a) if a.target == self.id => {
                self.terms = a.terms.clone();
                self.version += 1;
            }
            Body::Progress(p) if p.target == self.id => {
                let slot = self.sums.entry((p.metric, p.unit.to_string())).or_insert((
                    Decimal::ZERO,
                    0,
                    p.as_of.clone(),
                ));
                slot.0 = slot.0.checked_add(p.amount.value()).unwrap_or(slot.0);
                slot.1 += 1;
                if p.as_of.date() > slot.2.date() {
                    slot.2 = p.as_of.clone();
                }
                self.progress = self
                    .sums
                    .iter()
                    .map(|((metric, unit), (total, reports, latest))| ProgressTotal {
                        metric: *metric,
                        unit: unit.clone(),
                        total: total.normalize().to_string(),
                        reports: *reports,
                        latest_as_of: latest.to_string(),
                    })
                    .collect();
            }
            Body::Withdraw(w) if w.target == self.id => {
                self.withdrawn_at = Some(index);
                self.withdrawal_reason = Some(w.reason.clone());
            }
            _ => return false,
        }
        self.updated_at = index;
        self.history.push(index);
        true
    }

    /// The status on `day`.
    pub fn status_on(&self, day: time::Date) -> Status {
        if self.withdrawn_at.is_some() {
            return Status::Withdrawn;
        }
        if self.terms.effective.from.date() > day {
            return Status::Pending;
        }
        if !self.terms.in_force_on(day) {
            return Status::Expired;
        }
        if self.version > 1 {
            Status::Amended
        } else {
            Status::Active
        }
    }
}
