//! A commitment's current state, folded from its history: the creating entry, then its
//! amendments, progress reports and withdrawal, in log order.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::figures::Figure;
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

/// One version of a commitment's terms: the creation (version 1) or an amendment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VersionRef {
    /// 1 as created, +1 per amendment.
    pub version: u32,
    /// Log index of the entry that made it.
    pub index: u64,
    /// When its signers signed it.
    pub signed_at: Timestamp,
    /// When the ledger logged it.
    pub logged_at: Timestamp,
    /// Why it changed (amendments only).
    pub reason: Option<Text>,
}

/// How far the commitment's figure has been met: the progress reported for the metric that
/// measures it (`Measure::progress_metric`), in the figure's currency or unit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Toward {
    /// The metric (`disbursed`, `delivered`, `stockpiled`).
    pub metric: Metric,
    /// Reported so far, a decimal string in the figure's currency or unit.
    pub so_far: String,
    /// `so_far` as a percentage of the figure, to two decimals, when the figure is an amount
    /// of money or material (not a price).
    pub share_percent: Option<String>,
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
    /// The latest terms' one figure (`Measure::figure`).
    pub figure: Option<Figure>,
    /// The latest terms' headline (`Measure::headline`).
    pub headline: String,
    /// Money pledged by the latest terms, by currency (`Measure::pledged`).
    pub pledged: BTreeMap<String, String>,
    /// Progress toward the figure, if the measure has a metric for it.
    pub toward: Option<Toward>,
    /// Log index of the creating entry.
    pub created_index: u64,
    /// When the creating entry was signed.
    pub created_signed_at: Timestamp,
    /// When the ledger logged the creating entry.
    pub created_logged_at: Timestamp,
    /// Log index of the latest entry about it.
    pub updated_index: u64,
    /// When the ledger logged the latest entry about it.
    pub updated_logged_at: Timestamp,
    /// Every version of its terms, oldest first.
    pub versions: Vec<VersionRef>,
    /// Log indexes of every entry about it, in order.
    pub history: Vec<u64>,
    /// Log index of the withdrawal, if any.
    pub withdrawn_index: Option<u64>,
    /// When the ledger logged the withdrawal.
    pub withdrawn_logged_at: Option<Timestamp>,
    /// Why it was withdrawn.
    pub withdrawal_reason: Option<Text>,
    /// Progress totals per metric and unit.
    pub progress: Vec<ProgressTotal>,
    #[serde(skip)]
    sums: BTreeMap<(Metric, String), (Decimal, usize, Date)>,
}

impl CommitmentView {
    /// Starts a view from the creating entry, logged at `logged_at`; `None` if `payload` does
    /// not create one.
    pub fn new(index: u64, payload: &Payload, logged_at: &Timestamp) -> Option<Self> {
        let Body::Commitment(c) = &payload.body else {
            return None;
        };
        let mut v = Self {
            id: payload.id.clone(),
            parties: c.parties.clone(),
            kind: c.terms.measure.kind(),
            version: 1,
            terms: c.terms.clone(),
            figure: None,
            headline: String::new(),
            pledged: BTreeMap::new(),
            toward: None,
            created_index: index,
            created_signed_at: payload.signed_at.clone(),
            created_logged_at: logged_at.clone(),
            updated_index: index,
            updated_logged_at: logged_at.clone(),
            versions: vec![VersionRef {
                version: 1,
                index,
                signed_at: payload.signed_at.clone(),
                logged_at: logged_at.clone(),
                reason: None,
            }],
            history: vec![index],
            withdrawn_index: None,
            withdrawn_logged_at: None,
            withdrawal_reason: None,
            progress: Vec::new(),
            sums: BTreeMap::new(),
        };
        v.refigure();
        Some(v)
    }

    /// Recomputes the figures from the latest terms and progress.
    fn refigure(&mut self) {
        let m = &self.terms.measure;
        self.figure = m.figure();
        self.headline = m.headline();
        self.pledged = crate::figures::totals_strings(&m.pledged());
        self.toward = match (m.progress_metric(), &self.figure) {
            (Some(metric), Some(f)) => {
                let unit = f.currency.clone().or_else(|| f.unit.clone());
                let so_far = unit.and_then(|u| self.sums.get(&(metric, u)).map(|s| s.0));
                so_far.map(|so_far| {
                    let whole = rust_decimal::Decimal::from_str_exact(&f.amount).ok();
                    let is_amount = f.is_money() || (f.currency.is_none() && f.unit.is_some());
                    let share = whole
                        .filter(|w| is_amount && !w.is_zero())
                        .and_then(|w| so_far.checked_mul(Decimal::ONE_HUNDRED)?.checked_div(w))
                        .map(|p| p.round_dp(2).normalize().to_string());
                    Toward {
                        metric,
                        so_far: so_far.normalize().to_string(),
                        share_percent: share,
                    }
                })
            }
            _ => None,
        };
    }

    /// The log index of version `n` (from 1), if there is one.
    pub fn version_index(&self, n: u32) -> Option<u64> {
        self.versions
            .iter()
            .find(|v| v.version == n)
            .map(|v| v.index)
    }

    /// Folds in a later entry about this commitment, logged at `logged_at`. Entries about
    /// other commitments, and entries that are not lifecycle entries, are ignored (returns
    /// `false`).
    pub fn apply(&mut self, index: u64, payload: &Payload, logged_at: &Timestamp) -> bool {
        match &payload.body {
            Body::Amend(a) if a.target == self.id => {
                self.terms = a.terms.clone();
                self.version += 1;
                self.versions.push(VersionRef {
                    version: self.version,
                    index,
                    signed_at: payload.signed_at.clone(),
                    logged_at: logged_at.clone(),
                    reason: Some(a.reason.clone()),
                });
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
                self.withdrawn_index = Some(index);
                self.withdrawn_logged_at = Some(logged_at.clone());
                self.withdrawal_reason = Some(w.reason.clone());
            }
            _ => return false,
        }
        self.updated_index = index;
        self.updated_logged_at = logged_at.clone();
        self.history.push(index);
        self.refigure();
        true
    }

    /// The status on `day`.
    pub fn status_on(&self, day: time::Date) -> Status {
        if self.withdrawn_index.is_some() {
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
