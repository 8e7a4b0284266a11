//! The figures officials read, decided in one place: a measure's one figure (amount,
//! currency, unit), its headline as a person reads it, the money that counts toward the
//! per-currency totals, and the share each country pays where the payload says so. Every
//! output (`show`, `status`, `summary`, CSV, the API, the pages) takes its figures from here,
//! so they cannot disagree; every match on a measure is exhaustive, so a new kind cannot
//! silently drop out of a total.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::model::commitment::{Measure, Money};
use crate::model::{Amount, Country, Currency, Metric};

/// A measure's one figure: an amount with a currency, a unit, or both (a price per unit).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Figure {
    /// The decimal string as signed.
    pub amount: String,
    /// ISO 4217 code, when the figure is money or a price.
    pub currency: Option<String>,
    /// The unit (`kg`, `t`, `t-per-year`, `days`, `percent`); for a price, the unit priced.
    pub unit: Option<String>,
}

impl Figure {
    fn money(m: &Money) -> Self {
        Self {
            amount: m.amount.to_string(),
            currency: Some(m.currency.to_string()),
            unit: None,
        }
    }

    fn unit(amount: &Amount, unit: &str) -> Self {
        Self {
            amount: amount.to_string(),
            currency: None,
            unit: Some(unit.to_owned()),
        }
    }

    /// Whether the figure is an amount of money (not a price, not a quantity).
    pub fn is_money(&self) -> bool {
        self.currency.is_some() && self.unit.is_none()
    }

    /// As a person reads it: `INR 163,000,000,000`, `USD 110.00/kg`, `100 days`, `25%`,
    /// `3,000 t-per-year`.
    pub fn text(&self) -> String {
        let n = group_thousands(&self.amount);
        match (&self.currency, self.unit.as_deref()) {
            (Some(c), Some(u)) => format!("{c} {n}/{u}"),
            (Some(c), None) => format!("{c} {n}"),
            (None, Some("percent")) => format!("{n}%"),
            (None, Some(u)) => format!("{n} {u}"),
            (None, None) => n,
        }
    }
}

/// Groups a decimal string's whole part by thousands: `1234567.5` -> `1,234,567.5`.
/// Anything that is not digits with an optional fraction is returned as it is.
pub fn group_thousands(amount: &str) -> String {
    let (whole, frac) = match amount.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (amount, None),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return amount.to_owned();
    }
    let mut out = String::with_capacity(amount.len() + whole.len() / 3);
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// Money by currency, added exactly; never across currencies.
pub type Totals = BTreeMap<String, Decimal>;

/// Adds `amount` to `totals[currency]` (saturating at the largest decimal rather than
/// wrapping).
pub fn add(totals: &mut Totals, currency: &str, amount: Decimal) {
    let slot = totals.entry(currency.to_owned()).or_insert(Decimal::ZERO);
    *slot = slot.checked_add(amount).unwrap_or(Decimal::MAX);
}

/// Totals as decimal strings, for JSON.
pub fn totals_strings(t: &Totals) -> BTreeMap<String, String> {
    t.iter()
        .map(|(c, a)| (c.clone(), a.normalize().to_string()))
        .collect()
}

/// Totals as a person reads them: `USD 2,000,000,000; EUR 1,500,000,000`.
pub fn totals_text(t: &BTreeMap<String, String>) -> String {
    t.iter()
        .map(|(c, a)| format!("{c} {}", group_thousands(a)))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Measure {
    /// The measure's one figure, if it has one: a price floor's price, a pledge's amount, an
    /// offtake's quantity, a stockpile's days (or quantity), a tariff's rate, a tax
    /// incentive's budgeted value (or rate), a recycling target's share, a framework's
    /// pledges added up (when they share one currency). A standards market has none.
    pub fn figure(&self) -> Option<Figure> {
        match self {
            Measure::PriceFloor { price, .. } => Some(Figure {
                amount: price.amount.to_string(),
                currency: Some(price.currency.to_string()),
                unit: Some(price.unit.to_string()),
            }),
            Measure::FinancingPledge { amount, .. } => Some(Figure::money(amount)),
            Measure::Offtake { quantity, .. } => {
                Some(Figure::unit(&quantity.amount, quantity.unit.as_str()))
            }
            Measure::Stockpile {
                days_of_supply,
                quantity,
                ..
            } => match (days_of_supply, quantity) {
                (Some(d), _) => Some(Figure::unit(d, "days")),
                (None, Some(q)) => Some(Figure::unit(&q.amount, q.unit.as_str())),
                (None, None) => None,
            },
            Measure::TariffMeasure { rate_percent, .. } => {
                rate_percent.as_ref().map(|r| Figure::unit(r, "percent"))
            }
            Measure::TaxIncentive {
                value,
                rate_percent,
                ..
            } => match (value, rate_percent) {
                (Some(v), _) => Some(Figure::money(v)),
                (None, Some(r)) => Some(Figure::unit(r, "percent")),
                (None, None) => None,
            },
            Measure::RecyclingTarget { target_percent, .. } => {
                Some(Figure::unit(target_percent, "percent"))
            }
            Measure::StandardsMarket { .. } => None,
            Measure::Framework { .. } => {
                let pledged = self.pledged();
                if pledged.len() != 1 {
                    return None;
                }
                pledged.iter().next().map(|(c, a)| Figure {
                    amount: a.normalize().to_string(),
                    currency: Some(c.clone()),
                    unit: None,
                })
            }
        }
    }

    /// The money that counts toward the per-currency totals of pledges, by currency: a
    /// financing pledge's amount, a tax incentive's budgeted value, a framework's pledges
    /// (not its project pipeline, which is not a pledge). Prices, quantities and rates never
    /// count.
    pub fn pledged(&self) -> Totals {
        let mut t = Totals::new();
        match self {
            Measure::FinancingPledge { amount, .. } => {
                add(&mut t, amount.currency.as_str(), amount.amount.value())
            }
            Measure::TaxIncentive { value, .. } => {
                if let Some(v) = value {
                    add(&mut t, v.currency.as_str(), v.amount.value());
                }
            }
            Measure::Framework { pledges, .. } => {
                for p in pledges {
                    add(&mut t, p.currency.as_str(), p.amount.value());
                }
            }
            Measure::PriceFloor { .. }
            | Measure::Offtake { .. }
            | Measure::Stockpile { .. }
            | Measure::TariffMeasure { .. }
            | Measure::RecyclingTarget { .. }
            | Measure::StandardsMarket { .. } => {}
        }
        t
    }

    /// Who pays what, where the payload says so: a framework that lists one pledge per
    /// partner pairs them in order (partner *i* pledges pledge *i*, docs/FORMAT.md section
    /// 4). `None` when the payload does not split the money.
    pub fn shares(&self) -> Option<Vec<(Country, Currency, Decimal)>> {
        match self {
            Measure::Framework {
                partners, pledges, ..
            } if !pledges.is_empty() && partners.len() == pledges.len() => Some(
                partners
                    .iter()
                    .zip(pledges)
                    .map(|(c, p)| (c.clone(), p.currency.clone(), p.amount.value()))
                    .collect(),
            ),
            Measure::Framework { .. }
            | Measure::PriceFloor { .. }
            | Measure::FinancingPledge { .. }
            | Measure::Offtake { .. }
            | Measure::Stockpile { .. }
            | Measure::TariffMeasure { .. }
            | Measure::TaxIncentive { .. }
            | Measure::RecyclingTarget { .. }
            | Measure::StandardsMarket { .. } => None,
        }
    }

    /// The material an offtake contracts, by unit, that counts toward the per-unit totals of
    /// offtakes (delivered so far against contracted). Stockpile targets and every other
    /// kind contract nothing.
    pub fn contracted(&self) -> Option<(String, Decimal)> {
        match self {
            Measure::Offtake { quantity, .. } => {
                Some((quantity.unit.to_string(), quantity.amount.value()))
            }
            Measure::PriceFloor { .. }
            | Measure::FinancingPledge { .. }
            | Measure::Stockpile { .. }
            | Measure::TariffMeasure { .. }
            | Measure::TaxIncentive { .. }
            | Measure::RecyclingTarget { .. }
            | Measure::StandardsMarket { .. }
            | Measure::Framework { .. } => None,
        }
    }

    /// The progress metric that measures the figure: money disbursed (in the figure's
    /// currency) for money and prices, material delivered (in its unit) for an offtake,
    /// material stockpiled for a stockpile; none for rates and shares.
    pub fn progress_metric(&self) -> Option<Metric> {
        match self {
            Measure::PriceFloor { .. }
            | Measure::FinancingPledge { .. }
            | Measure::TaxIncentive { .. }
            | Measure::Framework { .. } => Some(Metric::Disbursed),
            Measure::Offtake { .. } => Some(Metric::Delivered),
            Measure::Stockpile { .. } => Some(Metric::Stockpiled),
            Measure::TariffMeasure { .. }
            | Measure::RecyclingTarget { .. }
            | Measure::StandardsMarket { .. } => None,
        }
    }

    /// One line as a person reads it: the figure and what qualifies it.
    pub fn headline(&self) -> String {
        let fig = self.figure().map(|f| f.text());
        match self {
            Measure::PriceFloor { .. }
            | Measure::FinancingPledge { .. }
            | Measure::Offtake { .. } => fig.unwrap_or_default(),
            Measure::Stockpile { .. } => fig.unwrap_or_default(),
            Measure::TariffMeasure { tool, .. } => match fig {
                Some(f) => format!("{f} ({})", snake(tool)),
                None => snake(tool),
            },
            Measure::TaxIncentive { tool, .. } => match fig {
                Some(f) => format!("{f} ({})", snake(tool)),
                None => snake(tool),
            },
            Measure::RecyclingTarget { by, .. } => {
                format!("{} by {by}", fig.unwrap_or_default())
            }
            Measure::StandardsMarket { standards, .. } => match standards.len() {
                1 => format!("1 standard: {}", standards[0]),
                n => format!("{n} standards"),
            },
            Measure::Framework { pledges, .. } => match fig {
                Some(f) if pledges.len() > 1 => format!(
                    "{f} ({})",
                    pledges
                        .iter()
                        .map(|p| Figure::money(p).text())
                        .collect::<Vec<_>>()
                        .join(" + ")
                ),
                Some(f) => f,
                None => pledges
                    .iter()
                    .map(|p| Figure::money(p).text())
                    .collect::<Vec<_>>()
                    .join(" + "),
            },
        }
    }
}

/// A serialisable enum's JSON spelling with `_` as spaces (`export_control` -> `export control`).
fn snake<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|s| s.as_str().map(|s| s.replace('_', " ")))
        .unwrap_or_default()
}

/// A measure kind as typed by a person: `price-floor` and `price_floor` both name
/// `price_floor`. `None` for an unknown kind.
pub fn parse_kind(s: &str) -> Option<&'static str> {
    let k = s.trim().to_ascii_lowercase().replace('-', "_");
    crate::model::commitment::MEASURE_KINDS
        .iter()
        .copied()
        .find(|m| *m == k)
}

/// Shortens a list for a table cell: `JP-MOF, US-TREASURY` or `JP-MOF and 13 more`.
pub fn short_list(items: &[String], keep: usize) -> String {
    if items.len() <= keep.max(1) {
        items.join(", ")
    } else {
        format!(
            "{} and {} more",
            items[..keep.max(1)].join(", "),
            items.len() - keep.max(1)
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn thousands() {
        assert_eq!(group_thousands("163000000000"), "163,000,000,000");
        assert_eq!(group_thousands("110.00"), "110.00");
        assert_eq!(group_thousands("1234.5"), "1,234.5");
        assert_eq!(group_thousands("100"), "100");
        assert_eq!(group_thousands("0"), "0");
    }

    #[test]
    fn kinds_in_both_spellings() {
        assert_eq!(parse_kind("price-floor"), Some("price_floor"));
        assert_eq!(parse_kind("price_floor"), Some("price_floor"));
        assert_eq!(parse_kind("Price-Floor"), Some("price_floor"));
        assert_eq!(parse_kind("price"), None);
    }

    #[test]
    fn framework_pledges_add_up_once_and_pair_with_partners() {
        let m: Measure = serde_json::from_value(serde_json::json!({"kind": "framework",
            "partners": ["US", "AU"],
            "pledges": [{"amount": "1000000000", "currency": "USD"},
                        {"amount": "1000000000", "currency": "USD"}],
            "tools": ["loans"], "pipeline": {"amount": "8500000000", "currency": "USD"}}))
        .unwrap();
        let f = m.figure().unwrap();
        assert_eq!(f.text(), "USD 2,000,000,000");
        assert_eq!(totals_strings(&m.pledged())["USD"], "2000000000");
        let shares = m.shares().unwrap();
        assert_eq!(shares.len(), 2);
        assert_eq!(shares[1].0.as_str(), "AU");
    }

    #[test]
    fn mixed_currencies_are_never_added() {
        let m: Measure = serde_json::from_value(serde_json::json!({"kind": "framework",
            "partners": ["US", "JP", "AU"],
            "pledges": [{"amount": "1", "currency": "USD"}, {"amount": "2", "currency": "JPY"}],
            "tools": ["loans"]}))
        .unwrap();
        assert_eq!(m.figure(), None);
        assert_eq!(m.pledged().len(), 2);
        assert_eq!(m.shares(), None);
        assert_eq!(m.headline(), "USD 1 + JPY 2");
    }

    #[test]
    fn price_reads_per_unit() {
        let m: Measure = serde_json::from_value(serde_json::json!({"kind": "price_floor",
            "price": {"amount": "110.00", "currency": "USD", "unit": "kg"},
            "basis": "b", "mechanism": "reserve_price"}))
        .unwrap();
        assert_eq!(m.headline(), "USD 110.00/kg");
        assert!(m.pledged().is_empty());
    }
}
