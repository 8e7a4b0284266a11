//! Commitment terms: what every commitment states (commodity, stage, period, instrument,
//! sources) and its measure, one of the kinds of policy tool the G7+ group named.

use serde::{Deserialize, Serialize};

use super::values::{Amount, Country, Currency, Date, Sha256Hex, Slug, Text, Url};
use super::{invalid, PayloadError};

/// Most sources one commitment may cite.
pub const MAX_SOURCES: usize = 16;
/// Most items in any other list inside terms.
pub const MAX_LIST: usize = 32;

/// The supply-chain stage a commitment addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Exploration.
    Exploration,
    /// Mining and concentration.
    Mining,
    /// Separation of mixed rare earths into oxides.
    Separation,
    /// Refining and processing.
    Refining,
    /// Metals and alloys.
    Metal,
    /// Permanent magnets and components.
    Magnets,
    /// Manufacturing of end products.
    Manufacturing,
    /// Recycling and recovery.
    Recycling,
    /// The whole chain.
    AllStages,
}

/// When a commitment applies. `until` absent means open-ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// First day.
    pub from: Date,
    /// Last day, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Date>,
}

/// A public source for the commitment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Where it was published.
    pub url: Url,
    /// SHA-256 of the document as retrieved, if recorded (64 lower-case hex digits).
    #[serde(default)]
    pub sha256: Option<Sha256Hex>,
}

/// A unit: an ISO 4217 currency (upper case) or a lower-case unit slug such as `t`, `kg`,
/// `days`, `t-per-year`, `percent`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Unit(String);

impl Unit {
    /// Parses a unit.
    ///
    /// # Errors
    /// When it is neither a currency nor a slug of at most 32 characters.
    pub fn parse(s: &str) -> Result<Self, String> {
        if Currency::parse(s).is_ok() {
            return Ok(Self(s.to_owned()));
        }
        if !s.is_empty()
            && s.len() <= 32
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Ok(Self(s.to_owned()));
        }
        Err(format!(
            "unit {s:?} must be an ISO 4217 currency or a lower-case unit such as t, kg, days"
        ))
    }

    /// The unit as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Unit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Unit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An amount of money.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// Decimal string.
    pub amount: Amount,
    /// ISO 4217.
    pub currency: Currency,
}

/// A physical quantity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quantity {
    /// Decimal string.
    pub amount: Amount,
    /// Unit.
    pub unit: Unit,
}

/// A price per unit of material.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Decimal string.
    pub amount: Amount,
    /// ISO 4217.
    pub currency: Currency,
    /// Per what unit (`kg`, `t`).
    pub unit: Unit,
}

/// How a price floor is made good.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FloorMechanism {
    /// The government pays the difference to a market benchmark.
    ContractForDifference,
    /// The government buys at the floor.
    GovernmentOfftake,
    /// A reserve price in auctions or stockpile releases.
    ReservePrice,
    /// A minimum price on imports.
    MinimumImportPrice,
    /// Described in the instrument.
    Other,
}

/// The financial instrument of a pledge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinanceInstrument {
    /// Loan.
    Loan,
    /// Equity.
    Equity,
    /// Guarantee.
    Guarantee,
    /// Grant.
    Grant,
    /// Insurance.
    Insurance,
    /// A fund or facility mixing several.
    Fund,
}

/// Kind of trade tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TradeTool {
    /// Import tariff.
    Tariff,
    /// Quota.
    Quota,
    /// Export control.
    ExportControl,
    /// Anti-dumping or countervailing duty.
    AntiDumping,
    /// Quarantine measure.
    Quarantine,
    /// Other.
    Other,
}

/// Kind of tax incentive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxTool {
    /// Tax credit.
    Credit,
    /// Deduction.
    Deduction,
    /// Exemption.
    Exemption,
    /// Accelerated depreciation.
    AcceleratedDepreciation,
    /// Production-linked incentive.
    ProductionIncentive,
    /// Other.
    Other,
}

/// The policy measure; the `kind` member selects the variant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Measure {
    /// A minimum price.
    PriceFloor {
        /// The floor.
        price: Price,
        /// The benchmark or index the floor is measured against.
        basis: Text,
        /// How it is made good.
        mechanism: FloorMechanism,
        /// Volume covered, if capped.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        volume: Option<Quantity>,
    },
    /// Public finance.
    FinancingPledge {
        /// The lending or investing institution.
        institution: Text,
        /// Total pledged.
        amount: Money,
        /// How.
        instrument: FinanceInstrument,
        /// For what or whom.
        target: Text,
    },
    /// A purchase commitment.
    Offtake {
        /// Buyer.
        buyer: Text,
        /// Seller.
        seller: Text,
        /// Quantity (per year with a `-per-year` unit).
        quantity: Quantity,
    },
    /// A strategic stockpile target.
    Stockpile {
        /// Target in days of supply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        days_of_supply: Option<Amount>,
        /// Target quantity.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quantity: Option<Quantity>,
        /// The level before the commitment, in days, if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        baseline_days: Option<Amount>,
    },
    /// A trade or tariff measure.
    TariffMeasure {
        /// Which tool.
        tool: TradeTool,
        /// Rate in percent, where one applies.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rate_percent: Option<Amount>,
        /// Goods covered (HS codes or a description).
        scope: Text,
    },
    /// A tax or financial incentive.
    TaxIncentive {
        /// Which tool.
        tool: TaxTool,
        /// Rate in percent, where one applies.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rate_percent: Option<Amount>,
        /// Budgeted value, where known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<Money>,
        /// Who qualifies.
        eligibility: Text,
    },
    /// A recycling target.
    RecyclingTarget {
        /// Share in percent.
        target_percent: Amount,
        /// What the share is of.
        basis: Text,
        /// By when.
        by: Date,
    },
    /// A standards-based market (labour, human-rights, environmental standards).
    StandardsMarket {
        /// Standards required.
        standards: Vec<Text>,
        /// Market or procurement covered.
        scope: Text,
    },
    /// A multilateral or bilateral package.
    Framework {
        /// Countries (or EU) that are partners.
        partners: Vec<Country>,
        /// Money pledged by each side or in total.
        pledges: Vec<Money>,
        /// Tools the package uses (slugs such as `stockpiling`, `price-support`).
        tools: Vec<Slug>,
        /// Project pipeline, if stated.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pipeline: Option<Money>,
    },
}

/// The kinds of measure, as in the `kind` member.
pub const MEASURE_KINDS: &[&str] = &[
    "price_floor",
    "financing_pledge",
    "offtake",
    "stockpile",
    "tariff_measure",
    "tax_incentive",
    "recycling_target",
    "standards_market",
    "framework",
];

impl Measure {
    /// The `kind` member's value.
    pub fn kind(&self) -> &'static str {
        match self {
            Measure::PriceFloor { .. } => "price_floor",
            Measure::FinancingPledge { .. } => "financing_pledge",
            Measure::Offtake { .. } => "offtake",
            Measure::Stockpile { .. } => "stockpile",
            Measure::TariffMeasure { .. } => "tariff_measure",
            Measure::TaxIncentive { .. } => "tax_incentive",
            Measure::RecyclingTarget { .. } => "recycling_target",
            Measure::StandardsMarket { .. } => "standards_market",
            Measure::Framework { .. } => "framework",
        }
    }
}

/// What a commitment states.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    /// A one-line title.
    pub title: Text,
    /// The commodity, e.g. `rare-earths/ndpr-oxide`, `gallium`, `critical-minerals`.
    pub commodity: Slug,
    /// Supply-chain stage.
    pub stage: Stage,
    /// When it applies.
    pub effective: Period,
    /// The legal instrument or reference.
    pub instrument: Text,
    /// Public sources.
    pub sources: Vec<Source>,
    /// The measure.
    pub measure: Measure,
}

fn check_percent(field: &str, p: &Amount) -> Result<(), PayloadError> {
    if p.value() > rust_decimal::Decimal::ONE_HUNDRED {
        return Err(invalid(field, "a percentage must be at most 100"));
    }
    Ok(())
}

fn check_list<T>(field: &str, list: &[T], min: usize) -> Result<(), PayloadError> {
    if list.len() < min || list.len() > MAX_LIST {
        return Err(invalid(
            field,
            format!("must have {min} to {MAX_LIST} items"),
        ));
    }
    Ok(())
}

impl Terms {
    pub(crate) fn validate(&self, at: &str) -> Result<(), PayloadError> {
        if let Some(until) = &self.effective.until {
            if until.date() < self.effective.from.date() {
                return Err(invalid(
                    format!("{at}.effective.until"),
                    "is before effective.from",
                ));
            }
        }
        if self.sources.is_empty() || self.sources.len() > MAX_SOURCES {
            return Err(invalid(
                format!("{at}.sources"),
                format!("must cite 1 to {MAX_SOURCES} public sources"),
            ));
        }
        let m = format!("{at}.measure");
        match &self.measure {
            Measure::Stockpile {
                days_of_supply: None,
                quantity: None,
                ..
            } => {
                return Err(invalid(m, "a stockpile needs days_of_supply or quantity"));
            }
            Measure::TariffMeasure {
                rate_percent: Some(p),
                ..
            } => check_percent(&format!("{m}.rate_percent"), p)?,
            Measure::TaxIncentive {
                rate_percent: Some(p),
                ..
            } => check_percent(&format!("{m}.rate_percent"), p)?,
            Measure::RecyclingTarget { target_percent, .. } => {
                check_percent(&format!("{m}.target_percent"), target_percent)?
            }
            Measure::StandardsMarket { standards, .. } => {
                check_list(&format!("{m}.standards"), standards, 1)?
            }
            Measure::Framework {
                partners,
                pledges,
                tools,
                ..
            } => {
                check_list(&format!("{m}.partners"), partners, 2)?;
                check_list(&format!("{m}.pledges"), pledges, 0)?;
                check_list(&format!("{m}.tools"), tools, 1)?;
            }
            Measure::PriceFloor { .. }
            | Measure::FinancingPledge { .. }
            | Measure::Offtake { .. }
            | Measure::Stockpile { .. }
            | Measure::TariffMeasure { .. }
            | Measure::TaxIncentive { .. } => {}
        }
        Ok(())
    }

    /// Whether the terms are in force on `day`.
    pub fn in_force_on(&self, day: time::Date) -> bool {
        self.effective.from.date() <= day
            && self
                .effective
                .until
                .as_ref()
                .is_none_or(|u| day <= u.date())
    }
}
