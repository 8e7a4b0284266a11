//! The G7+ demo scenario as data: the founding members of the ledger and every entry they
//! sign after the charter, in order, from January to November 2026.
//!
//! The commitments are drawn from public announcements (figures and sources in
//! `shared/context/public-commitments.md`); each cites the pages it rests on in
//! `terms.sources`. What happens after the Washington meeting of 2026-01-12 (the joint
//! minimum import price, the withdrawal it causes, the key rotation) is scenario, and
//! progress figures marked "illustrative" are invented for the demo.
//!
//! Key material is left to the demo driver: in a `rotate_key` payload, `new_key` holds
//! `$NEWKEY:<MEMBER-ID>`, and the same string in [`Step::signers`] stands for a signature
//! by that new key (proof of possession); `$KEY:<MEMBER-ID>` would stand for a member's
//! current key (none of the steps needs it).

use serde_json::{json, Value};

/// The demo ledger's origin: the checkpoint origin line and the log key's name.
pub const ORIGIN: &str = "g7-critical-minerals.example/2026";

/// Distinct members that must sign admissions, removals, key rotations and revocations by
/// others (the charter's `policy.membership_threshold`): 8 of the 16 founders.
pub const MEMBERSHIP_THRESHOLD: u32 = 8;

/// The id of the joint minimum-price mechanism that every ministry and agency co-signs.
pub const JOINT_COMMITMENT: &str = "g7-joint-minimum-price-mechanism-2026";

/// A founding member, as the demo registers it in the charter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberSpec {
    /// Member id (upper-case letters, digits and hyphens), also the name of its key.
    pub id: &'static str,
    /// ISO 3166-1 alpha-2 country code, or `EU`.
    pub country: &'static str,
    /// The institution's name.
    pub institution: &'static str,
    /// `ministry`, `agency`, `auditor` or `secretariat`.
    pub role: &'static str,
}

/// One ledger entry after the charter.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The complete payload (`ledger`, `type`, `id`, `signed_at` and the type's members),
    /// with `$NEWKEY:<ID>` / `$KEY:<ID>` where the driver must put a verifier key.
    pub payload: Value,
    /// Member ids whose current keys sign, or `$NEWKEY:<ID>` for a rotation's new key.
    pub signers: Vec<&'static str>,
    /// One short line for the demo to print.
    pub note: &'static str,
}

/// The founding members: the G7 finance ministries and the partners at the Washington
/// meeting of 2026-01-12, two agencies, the EU, a secretariat and an audit office.
pub fn members() -> Vec<MemberSpec> {
    let m = |id, country, institution, role| MemberSpec {
        id,
        country,
        institution,
        role,
    };
    vec![
        m("JP-MOF", "JP", "Ministry of Finance, Japan", "ministry"),
        m(
            "US-TREASURY",
            "US",
            "U.S. Department of the Treasury",
            "ministry",
        ),
        m("US-DOD", "US", "U.S. Department of Defense", "agency"),
        m("GB-HMT", "GB", "HM Treasury", "ministry"),
        m(
            "FR-DGT",
            "FR",
            "Direction générale du Trésor, Ministère de l'Économie et des Finances",
            "ministry",
        ),
        m(
            "DE-BMWK",
            "DE",
            "Federal Ministry for Economic Affairs and Energy (formerly BMWK)",
            "ministry",
        ),
        m(
            "IT-MEF",
            "IT",
            "Ministero dell'Economia e delle Finanze",
            "ministry",
        ),
        m("CA-FIN", "CA", "Department of Finance Canada", "ministry"),
        m(
            "AU-DISR",
            "AU",
            "Department of Industry, Science and Resources",
            "ministry",
        ),
        m("AU-EFA", "AU", "Export Finance Australia", "agency"),
        m("MX-SE", "MX", "Secretaría de Economía", "ministry"),
        m(
            "KR-MOTIE",
            "KR",
            "Ministry of Trade, Industry and Energy",
            "ministry",
        ),
        m(
            "IN-MOM",
            "IN",
            "Ministry of Mines, Government of India",
            "ministry",
        ),
        m("EU-COM", "EU", "European Commission", "ministry"),
        m(
            "SEC-G7",
            "FR",
            "G7 Critical Minerals Ledger Secretariat (2026 French G7 Presidency)",
            "secretariat",
        ),
        m("GB-NAO", "GB", "National Audit Office", "auditor"),
    ]
}

/// The parties to the joint mechanism: every founding ministry and agency (all founders but
/// the secretariat and the auditor), in charter order.
pub fn joint_parties() -> Vec<&'static str> {
    members()
        .into_iter()
        .filter(|m| m.role == "ministry" || m.role == "agency")
        .map(|m| m.id)
        .collect()
}

// Public sources, cited by url (sha256 left null).
const FAS_MP: &str = "https://fas.org/publication/unpacking-dod-and-mp-partnership/";
const CGEP_MP: &str = "https://www.energypolicy.columbia.edu/mp-materials-deal-marks-a-significant-shift-in-us-rare-earths-policy";
const ADAMAS_MP: &str = "https://www.adamasintel.com/mp-materials-announces-transformational-partnership-with-the-us-department-of-defense";
const MTN_MP: &str = "https://www.metaltechnews.com/story/2025/07/16/tech-metals/dod-commits-billions-to-us-rare-earths/2370.html";
const KFW: &str = "https://www.kfw.de/%C3%9Cber-die-KfW/Newsroom/Aktuelles/Pressemitteilungen-Details_824192.html";
const KFW_EN: &str = "https://rawmaterials.net/german-raw-materials-fund-launches/";
const EFA_2022: &str =
    "https://www.innovationaus.com/wa-rare-earth-refinery-scores-1b-commonwealth-loan/";
const EFA_2024: &str =
    "https://miningmagazine.com.au/australian-government-delivers-1-65b-for-eneabba-rare-earths/";
const EFA_2024_B: &str = "https://www.nsenergybusiness.com/news/australia-commits-additional-257m-to-ilukas-eneabba-rare-earths-refinery";
const WH_US_AU: &str = "https://www.whitehouse.gov/briefings-statements/2025/10/united-states-australia-framework-for-securing-of-supply-in-the-mining-and-processing-of-critical-minerals-and-rare-earths/";
const US_AU_PLEDGES: &str =
    "https://www.manmonthly.com.au/critical-minerals-framework-signed-between-australia-and-u-s/";
const IEA_KR: &str =
    "https://www.iea.org/policies/17940-the-national-program-for-metal-nonferrous-and-rare-stockpiling";
const CRMA: &str = "https://eur-lex.europa.eu/eli/reg/2024/1252/oj";
const NCMM: &str = "https://www.business-standard.com/opinion/editorial/securing-critical-minerals-india-s-new-mission-for-future-growth-125013001646_1.html";
const NCMM_B: &str = "https://www.ndtv.com/india-news/government-approves-rs-16-300-crore-national-critical-minerals-mission-7586696";
const CA_BUDGET_2025: &str = "https://budget.canada.ca/2025/report-rapport/tm-mf-en.html";
const CA_CMETC_2022: &str = "https://dentonsmininglaw.com/its-in-the-budget-new-measures-for-mining-companies-and-a-new-super-flow-through-financing-tax-credit-for-investors";
const MX_DECREE: &str =
    "https://www.anews.com.tr/world/2025/12/31/mexico-formalizes-tariffs-on-china-other-asian-countries";
const MX_RATES: &str = "https://particle.news/story/mexico-passes-tariffs-of-up-to-50-on-imports-from-countries-without-trade-deals";
const US_301: &str = "https://globaltradeandsanctionslaw.com/ustr-section-301-tariffs-chinese-imports-focus-strategic-sectors";
const US_301_MAGNETS: &str = "https://www.duramag.com/techtalk/magnet-news/understanding-the-2026-section-301-tariffs-on-permanent-magnets-what-the-market-needs-to-know";
const G7_CMAP: &str =
    "https://g7.canada.ca/en/news-and-media/news/g7-critical-minerals-action-plan/";
const G7_FIN_2026: &str = "https://www.devdiscourse.com/article/headlines/3767596-g7-nations-unite-to-reduce-rare-earth-reliance-on-china";
const G7_FIN_2026_B: &str =
    "https://particle.news/story/g7-and-resource-countries-pledge-rapid-cut-to-china-rare-earth-reliance";
const JARE_2023: &str =
    "https://www.mining.com/web/lynas-gets-134-million-funding-from-japan-to-boost-output/";
const JARE_2026: &str =
    "https://www.finnewsnetwork.com.au/archives/finance_news_network4192821.html";

/// The parts of a commitment's terms other than the measure.
struct Frame {
    title: &'static str,
    commodity: &'static str,
    stage: &'static str,
    from: &'static str,
    until: Option<&'static str>,
    instrument: &'static str,
    sources: &'static [&'static str],
}

impl Frame {
    /// The full `terms` object with `measure`.
    fn terms(&self, measure: Value) -> Value {
        let mut effective = json!({"from": self.from});
        if let Some(until) = self.until {
            effective["until"] = json!(until);
        }
        let sources: Vec<Value> = self
            .sources
            .iter()
            .map(|url| json!({"url": url, "sha256": null}))
            .collect();
        json!({
            "title": self.title,
            "commodity": self.commodity,
            "stage": self.stage,
            "effective": effective,
            "instrument": self.instrument,
            "sources": sources,
            "measure": measure,
        })
    }
}

/// A payload: the four common members followed by the type's members in `body`.
fn payload(ty: &str, id: &str, signed_at: &str, body: Value) -> Value {
    let mut p = json!({"ledger": ORIGIN, "type": ty, "id": id, "signed_at": signed_at});
    if let (Value::Object(head), Value::Object(rest)) = (&mut p, body) {
        head.extend(rest);
    }
    p
}

fn commitment(id: &str, signed_at: &str, parties: &[&str], terms: Value) -> Value {
    payload(
        "commitment",
        id,
        signed_at,
        json!({"parties": parties, "terms": terms}),
    )
}

fn amend(id: &str, signed_at: &str, target: &str, reason: &str, terms: Value) -> Value {
    payload(
        "amend",
        id,
        signed_at,
        json!({"target": target, "reason": reason, "terms": terms}),
    )
}

#[allow(clippy::too_many_arguments)]
fn progress(
    id: &str,
    signed_at: &str,
    target: &str,
    as_of: &str,
    metric: &str,
    amount: &str,
    unit: &str,
    note: &str,
) -> Value {
    payload(
        "progress",
        id,
        signed_at,
        json!({"target": target, "as_of": as_of, "metric": metric, "amount": amount,
               "unit": unit, "note": note}),
    )
}

fn step(payload: Value, signers: &[&'static str], note: &'static str) -> Step {
    Step {
        payload,
        signers: signers.to_vec(),
        note,
    }
}

const EFA_LOAN: &str = "au-efa-iluka-eneabba-2022";
const US_MAGNET_TARIFF: &str = "us-section301-magnets-2026";
const JARE_OFFTAKE: &str = "jp-jare-lynas-offtake-2026";

fn efa_measure(amount: &str) -> Value {
    json!({"kind": "financing_pledge",
           "institution": "Export Finance Australia, Critical Minerals Facility",
           "amount": {"amount": amount, "currency": "AUD"},
           "instrument": "loan",
           "target": "Iluka Resources, Eneabba rare-earths refinery, Western Australia"})
}

fn joint_terms(price: &str) -> Value {
    Frame {
        title: "Joint minimum import price for rare-earth oxides, metals and magnets from non-market sources",
        commodity: "rare-earths",
        stage: "separation",
        from: "2026-07-01",
        until: Some("2031-06-30"),
        instrument: "Joint decision of the G7 finance ministers with Australia, India, Mexico, South Korea and the European Union, following the Washington meeting of 2026-01-12 (scenario)",
        sources: &[G7_FIN_2026, G7_FIN_2026_B, G7_CMAP],
    }
    .terms(json!({"kind": "price_floor",
                  "price": {"amount": price, "currency": "USD", "unit": "kg"},
                  "basis": "NdPr oxide equivalent content of imported rare-earth oxides, metals and magnets; imports declared below the minimum price pay the difference as a variable levy",
                  "mechanism": "minimum_import_price"}))
}

/// Every entry after the charter, in ledger order (25 in all): 14 commitments already made
/// or new, the joint mechanism, a withdrawal, two amendments, six progress reports, and a key
/// rotation followed by entries JP-MOF signs with its new key.
pub fn steps() -> Vec<Step> {
    let joint = joint_parties();
    let mut steps = Vec::new();

    // Commitments already made, recorded in the weeks after the charter.
    steps.push(step(
        commitment(
            "us-dod-ndpr-floor-2025",
            "2026-01-13T20:00:00Z",
            &["US-DOD"],
            Frame {
                title: "NdPr oxide price floor of USD 110/kg for ten years (MP Materials)",
                commodity: "rare-earths/ndpr-oxide",
                stage: "separation",
                from: "2025-10-01",
                until: Some("2035-09-30"),
                instrument: "Price-protection agreement between the Department of Defense and MP Materials, announced 2025-07-10",
                sources: &[FAS_MP, CGEP_MP],
            }
            .terms(json!({"kind": "price_floor",
                          "price": {"amount": "110.00", "currency": "USD", "unit": "kg"},
                          "basis": "Market benchmark for NdPr oxide; the Department pays the difference quarterly on volumes sold or stockpiled",
                          "mechanism": "contract_for_difference"})),
        ),
        &["US-DOD"],
        "US DoD NdPr price floor USD 110/kg, 2025-2035",
    ));
    steps.push(step(
        commitment(
            "us-dod-10x-magnet-offtake-2025",
            "2026-01-13T20:05:00Z",
            &["US-DOD"],
            Frame {
                title: "Offtake of 100% of the 10X magnet plant's output for ten years",
                commodity: "rare-earths/ndfeb-magnets",
                stage: "magnets",
                from: "2028-01-01",
                until: Some("2037-12-31"),
                instrument: "Offtake agreement between the Department of Defense and MP Materials of 2025-07-09; commissioning in 2028",
                sources: &[ADAMAS_MP, MTN_MP],
            }
            .terms(json!({"kind": "offtake",
                          "buyer": "U.S. Department of Defense",
                          "seller": "MP Materials (10X magnet facility)",
                          "quantity": {"amount": "10000", "unit": "t-per-year"}})),
        ),
        &["US-DOD"],
        "US DoD offtake of 10X magnets, 10,000 t/yr from 2028",
    ));
    steps.push(step(
        commitment(
            "de-kfw-rohstofffonds-2024",
            "2026-01-14T09:00:00Z",
            &["DE-BMWK"],
            Frame {
                title: "KfW raw materials fund (Rohstofffonds) of EUR 1bn",
                commodity: "critical-minerals",
                stage: "all_stages",
                from: "2024-10-02",
                until: Some("2028-12-31"),
                instrument: "Rohstofffonds run by KfW on behalf of the Federal Government; EUR 50-150M per project, mainly equity; a binding offtake and a feasibility study are required",
                sources: &[KFW, KFW_EN],
            }
            .terms(json!({"kind": "financing_pledge",
                          "institution": "KfW, on behalf of the Federal Government",
                          "amount": {"amount": "1000000000", "currency": "EUR"},
                          "instrument": "fund",
                          "target": "Extraction, processing and recycling projects supplying critical raw materials to Germany and the EU"})),
        ),
        &["DE-BMWK"],
        "Germany: KfW raw materials fund, EUR 1bn",
    ));
    steps.push(step(
        commitment(
            EFA_LOAN,
            "2026-01-15T02:00:00Z",
            &["AU-EFA"],
            Frame {
                title: "Critical Minerals Facility loan of AUD 1.25bn for the Eneabba rare-earths refinery",
                commodity: "rare-earths",
                stage: "refining",
                from: "2022-04-01",
                until: None,
                instrument: "Non-recourse loan under the Critical Minerals Facility administered by Export Finance Australia: AUD 1,050M plus an AUD 200M cost-overrun tranche",
                sources: &[EFA_2022, EFA_2024],
            }
            .terms(efa_measure("1250000000")),
        ),
        &["AU-EFA"],
        "Export Finance Australia: AUD 1.25bn for Iluka's Eneabba refinery",
    ));
    steps.push(step(
        commitment(
            "us-au-framework-2025",
            "2026-01-16T22:00:00Z",
            &["US-TREASURY", "AU-DISR"],
            Frame {
                title: "United States-Australia Framework for Securing of Supply in the Mining and Processing of Critical Minerals and Rare Earths",
                commodity: "critical-minerals",
                stage: "all_stages",
                from: "2025-10-20",
                until: None,
                instrument: "Framework signed at the White House on 2025-10-20; at least USD 1bn from each side within six months; first projects Alcoa-Sojitz gallium (Wagerup) and Arafura Nolans",
                sources: &[WH_US_AU, US_AU_PLEDGES],
            }
            .terms(json!({"kind": "framework",
                          "partners": ["US", "AU"],
                          "pledges": [{"amount": "1000000000", "currency": "USD"},
                                      {"amount": "1000000000", "currency": "USD"}],
                          "tools": ["stockpiling", "price-support", "permitting", "equity", "loans"],
                          "pipeline": {"amount": "8500000000", "currency": "USD"}})),
        ),
        &["US-TREASURY", "AU-DISR"],
        "US-Australia framework: USD 1bn each, USD 8.5bn pipeline (co-signed)",
    ));
    steps.push(step(
        commitment(
            "kr-rare-metals-stockpile-2024",
            "2026-01-19T01:00:00Z",
            &["KR-MOTIE"],
            Frame {
                title: "National stockpile of rare metals raised from 54 to 100 days of supply",
                commodity: "rare-metals",
                stage: "all_stages",
                from: "2024-01-01",
                until: None,
                instrument: "National Program for Metal (Non-ferrous and Rare) Stockpiling: rare metals held by KOMIR, non-ferrous metals (50 to 60 days) by the Public Procurement Service; release time cut from 60 to 30 days",
                sources: &[IEA_KR],
            }
            .terms(json!({"kind": "stockpile", "days_of_supply": "100", "baseline_days": "54"})),
        ),
        &["KR-MOTIE"],
        "South Korea: rare-metals stockpile from 54 to 100 days",
    ));
    steps.push(step(
        commitment(
            "eu-crma-recycling-2030",
            "2026-01-21T10:00:00Z",
            &["EU-COM"],
            Frame {
                title: "Recycling capacity for at least 25% of the EU's annual consumption of strategic raw materials by 2030",
                commodity: "critical-minerals",
                stage: "recycling",
                from: "2024-05-23",
                until: Some("2030-12-31"),
                instrument: "Regulation (EU) 2024/1252 (Critical Raw Materials Act), Article 5(1)(a)(iii)",
                sources: &[CRMA],
            }
            .terms(json!({"kind": "recycling_target",
                          "target_percent": "25",
                          "basis": "EU annual consumption of strategic raw materials",
                          "by": "2030-12-31"})),
        ),
        &["EU-COM"],
        "EU: recycling for 25% of strategic raw materials by 2030 (CRMA)",
    ));
    steps.push(step(
        commitment(
            "eu-crma-strategic-project-criteria-2024",
            "2026-01-21T10:05:00Z",
            &["EU-COM"],
            Frame {
                title: "Sustainability, human-rights and labour criteria for strategic raw materials projects",
                commodity: "critical-minerals",
                stage: "all_stages",
                from: "2024-05-23",
                until: None,
                instrument: "Regulation (EU) 2024/1252 (Critical Raw Materials Act), Article 6(1)(c) and Annex III",
                sources: &[CRMA],
            }
            .terms(json!({"kind": "standards_market",
                          "standards": [
                              "Monitoring, prevention and minimisation of environmental impacts",
                              "Socially responsible practices, including respect for human rights, indigenous peoples and labour rights",
                              "Transparent business practices preventing corruption and bribery"],
                          "scope": "Recognition of strategic projects and their priority access to EU and national support"})),
        ),
        &["EU-COM"],
        "EU: sustainability and human-rights criteria for strategic projects",
    ));
    steps.push(step(
        commitment(
            "in-ncmm-2025",
            "2026-01-22T06:00:00Z",
            &["IN-MOM"],
            Frame {
                title: "National Critical Mineral Mission: INR 16,300 crore of government expenditure",
                commodity: "critical-minerals",
                stage: "all_stages",
                from: "2025-01-29",
                until: Some("2031-03-31"),
                instrument: "Union Cabinet approval of 2025-01-29; INR 18,000 crore more expected from public-sector undertakings; 1,200 exploration projects by FY2030-31",
                sources: &[NCMM, NCMM_B],
            }
            .terms(json!({"kind": "financing_pledge",
                          "institution": "Ministry of Mines, Government of India",
                          "amount": {"amount": "163000000000", "currency": "INR"},
                          "instrument": "fund",
                          "target": "Exploration, mining, processing and recovery of critical minerals in India and abroad"})),
        ),
        &["IN-MOM"],
        "India: National Critical Mineral Mission, INR 16,300 crore",
    ));
    steps.push(step(
        commitment(
            "ca-cmetc-2022",
            "2026-01-26T15:00:00Z",
            &["CA-FIN"],
            Frame {
                title: "Critical Mineral Exploration Tax Credit of 30% for flow-through share investors",
                commodity: "critical-minerals",
                stage: "exploration",
                from: "2022-04-08",
                until: Some("2027-03-31"),
                instrument: "Income Tax Act (Canada), Critical Mineral Exploration Tax Credit; eligible minerals extended by Budget 2025",
                sources: &[CA_BUDGET_2025, CA_CMETC_2022],
            }
            .terms(json!({"kind": "tax_incentive",
                          "tool": "credit",
                          "rate_percent": "30",
                          "eligibility": "Individuals holding flow-through shares that renounce Canadian exploration expenses targeting specified critical minerals, including rare earth elements"})),
        ),
        &["CA-FIN"],
        "Canada: 30% critical mineral exploration tax credit",
    ));
    steps.push(step(
        commitment(
            "mx-non-fta-tariffs-2026",
            "2026-01-27T17:00:00Z",
            &["MX-SE"],
            Frame {
                title: "Import duties of 5% to 50% on goods from countries without a trade agreement with Mexico",
                commodity: "manufactured-goods",
                stage: "manufacturing",
                from: "2026-01-01",
                until: None,
                instrument: "Decree amending the Ley de los Impuestos Generales de Importación y de Exportación, Diario Oficial de la Federación, 2025-12-29",
                sources: &[MX_DECREE, MX_RATES],
            }
            .terms(json!({"kind": "tariff_measure",
                          "tool": "tariff",
                          "rate_percent": "50",
                          "scope": "1,463 tariff lines (automotive, steel, aluminium, textiles, plastics and others) from countries without a trade agreement with Mexico; 50% is the highest rate"})),
        ),
        &["MX-SE"],
        "Mexico: duties of up to 50% on 1,463 lines from non-FTA countries",
    ));
    steps.push(step(
        commitment(
            US_MAGNET_TARIFF,
            "2026-01-28T16:00:00Z",
            &["US-TREASURY"],
            Frame {
                title: "Section 301 duty of 25% on permanent magnets from China",
                commodity: "rare-earths/ndfeb-magnets",
                stage: "magnets",
                from: "2026-01-01",
                until: None,
                instrument: "Section 301 of the Trade Act of 1974: USTR four-year review modifications announced 2024-09-13",
                sources: &[US_301, US_301_MAGNETS],
            }
            .terms(json!({"kind": "tariff_measure",
                          "tool": "tariff",
                          "rate_percent": "25",
                          "scope": "Permanent magnets of Chinese origin, HTS 8505.11 and 8505.19, in addition to ordinary duties"})),
        ),
        &["US-TREASURY"],
        "US: Section 301 duty of 25% on Chinese permanent magnets",
    ));

    // New commitments after the Washington meeting of 2026-01-12.
    steps.push(step(
        commitment(
            "jp-gb-ca-standards-market-2026",
            "2026-02-16T08:00:00Z",
            &["JP-MOF", "GB-HMT", "CA-FIN"],
            Frame {
                title: "Standards-based market for critical minerals: labour and human-rights conditions for public support",
                commodity: "critical-minerals",
                stage: "all_stages",
                from: "2026-04-01",
                until: None,
                instrument: "Joint statement of the finance ministers of Japan, the United Kingdom and Canada under the G7 Critical Minerals Action Plan (scenario)",
                sources: &[G7_CMAP, G7_FIN_2026_B],
            }
            .terms(json!({"kind": "standards_market",
                          "standards": [
                              "ILO Declaration on Fundamental Principles and Rights at Work",
                              "UN Guiding Principles on Business and Human Rights",
                              "OECD Due Diligence Guidance for Responsible Supply Chains of Minerals"],
                          "scope": "Public procurement, export credit and subsidised offtake of critical minerals and rare-earth products"})),
        ),
        &["JP-MOF", "GB-HMT", "CA-FIN"],
        "Japan, UK, Canada: labour and human-rights standards market (co-signed)",
    ));
    steps.push(step(
        commitment(
            JARE_OFFTAKE,
            "2026-03-12T03:00:00Z",
            &["JP-MOF"],
            Frame {
                title: "JARE purchase of 5,000 t/yr of NdPr from Lynas, with priority supply of up to 7,200 t/yr to Japan",
                commodity: "rare-earths/ndpr-oxide",
                stage: "separation",
                from: "2026-03-10",
                until: Some("2038-12-31"),
                instrument: "Lynas-JARE supply agreement as extended in March 2026 (JARE is owned by JOGMEC and Sojitz); floor price USD 110/kg; up to 75% of heavy rare-earth oxides offered to Japan",
                sources: &[JARE_2026, JARE_2023],
            }
            .terms(json!({"kind": "offtake",
                          "buyer": "Japan Australia Rare Earths B.V. (JOGMEC and Sojitz)",
                          "seller": "Lynas Rare Earths",
                          "quantity": {"amount": "5000", "unit": "t-per-year"}})),
        ),
        &["JP-MOF"],
        "Japan: JARE offtake of 5,000 t/yr NdPr from Lynas to 2038",
    ));
    steps.push(Step {
        payload: commitment(JOINT_COMMITMENT, "2026-04-16T15:00:00Z", &joint, joint_terms("100.00")),
        signers: joint.clone(),
        note: "Joint minimum import price USD 100/kg NdPr, co-signed by all 14 ministries and agencies",
    });
    steps.push(step(
        payload(
            "withdraw",
            "us-section301-magnets-2026/withdraw",
            "2026-04-20T16:00:00Z",
            json!({"target": US_MAGNET_TARIFF,
                   "reason": "Superseded from 2026-07-01 by the joint minimum import price (g7-joint-minimum-price-mechanism-2026), which covers permanent magnets (scenario)"}),
        ),
        &["US-TREASURY"],
        "Withdrawal: US magnet duty, superseded by the joint minimum import price",
    ));
    steps.push(step(
        progress(
            "us-dod-ndpr-floor-2025/progress-2026q1",
            "2026-04-30T14:00:00Z",
            "us-dod-ndpr-floor-2025",
            "2026-03-31",
            "disbursed",
            "46800000",
            "USD",
            "Illustrative: price-difference payments for Q4 2025 and Q1 2026",
        ),
        &["US-DOD"],
        "Progress: US DoD paid USD 46.8M of NdPr price support (illustrative)",
    ));
    steps.push(step(
        amend(
            "au-efa-iluka-eneabba-2022/amend-1",
            "2026-05-08T02:00:00Z",
            EFA_LOAN,
            "Records the December 2024 top-up: a further AUD 400M loan on the original terms, and the Government's half (AUD 75M) of an AUD 150M cost-overrun facility shared with Iluka",
            Frame {
                title: "Critical Minerals Facility loans of AUD 1.65bn plus half of an AUD 150M cost-overrun facility for the Eneabba refinery",
                commodity: "rare-earths",
                stage: "refining",
                from: "2022-04-01",
                until: None,
                instrument: "Non-recourse loans under the Critical Minerals Facility administered by Export Finance Australia, varied in December 2024; the additional AUD 400M depends on satisfactory offtake agreements and the Community Benefits Principles",
                sources: &[EFA_2022, EFA_2024, EFA_2024_B],
            }
            .terms(efa_measure("1725000000")),
        ),
        &["AU-EFA"],
        "Amendment: Eneabba support raised to AUD 1.725bn",
    ));
    steps.push(step(
        progress(
            "de-kfw-rohstofffonds-2024/progress-2026h1",
            "2026-07-06T09:00:00Z",
            "de-kfw-rohstofffonds-2024",
            "2026-06-30",
            "committed",
            "400000000",
            "EUR",
            "Up to EUR 150M for Upper Rhine lithium, up to EUR 150M for a Canadian copper-gold mine and up to EUR 100M for Australian rare earths, as announced by the Ministry",
        ),
        &["DE-BMWK"],
        "Progress: KfW fund has committed up to EUR 400M",
    ));
    steps.push(step(
        progress(
            "kr-rare-metals-stockpile-2024/progress-2026q2",
            "2026-07-10T01:00:00Z",
            "kr-rare-metals-stockpile-2024",
            "2026-06-30",
            "stockpiled",
            "71",
            "days",
            "Illustrative: rare metals held at the end of June, in days of supply",
        ),
        &["KR-MOTIE"],
        "Progress: Korea's rare-metals stockpile at 71 days (illustrative)",
    ));
    steps.push(step(
        progress(
            "au-efa-iluka-eneabba-2022/progress-2026h1",
            "2026-07-15T02:00:00Z",
            EFA_LOAN,
            "2026-06-30",
            "disbursed",
            "1180000000",
            "AUD",
            "Illustrative: loan drawn by Iluka to the end of June",
        ),
        &["AU-EFA"],
        "Progress: AUD 1.18bn drawn for Eneabba (illustrative)",
    ));

    // JP-MOF replaces its key; 8 founders approve, and the new key proves possession.
    steps.push(step(
        payload(
            "rotate_key",
            "jp-mof/key-rotation-2026-09",
            "2026-09-01T00:00:00Z",
            json!({"member": "JP-MOF", "new_key": "$NEWKEY:JP-MOF"}),
        ),
        &[
            "US-TREASURY",
            "GB-HMT",
            "FR-DGT",
            "DE-BMWK",
            "IT-MEF",
            "CA-FIN",
            "EU-COM",
            "SEC-G7",
            "$NEWKEY:JP-MOF",
        ],
        "Key rotation: JP-MOF's new key, approved by 8 members",
    ));
    steps.push(step(
        progress(
            "jp-jare-lynas-offtake-2026/progress-2026q3",
            "2026-10-05T03:00:00Z",
            JARE_OFFTAKE,
            "2026-09-30",
            "delivered",
            "2900",
            "t",
            "Illustrative: NdPr delivered to JARE since 2026-03-10",
        ),
        &["JP-MOF"],
        "Progress: 2,900 t NdPr delivered to JARE (signed with JP-MOF's new key)",
    ));
    steps.push(Step {
        payload: amend(
            "g7-joint-minimum-price-mechanism-2026/amend-1",
            "2026-10-16T15:00:00Z",
            JOINT_COMMITMENT,
            "First review: the minimum import price is aligned with the USD 110/kg floors of the DoD-MP Materials and JARE-Lynas agreements (scenario)",
            joint_terms("110.00"),
        ),
        signers: joint,
        note: "Amendment: joint minimum price to USD 110/kg, co-signed by all 14 (JP-MOF's new key)",
    });
    steps.push(step(
        progress(
            "us-au-framework-2025/progress-2026",
            "2026-11-20T22:00:00Z",
            "us-au-framework-2025",
            "2026-10-20",
            "committed",
            "2200000000",
            "USD",
            "Illustrative: US finance committed in the framework's first year, of the order of the seven EXIM letters of interest (over USD 2.2bn) announced with it",
        ),
        &["US-TREASURY"],
        "Progress: USD 2.2bn committed under the US-Australia framework (illustrative)",
    ));
    steps
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use accord_core::envelope::Envelope;
    use accord_core::governance::State;
    use accord_core::keys::KeyPair;
    use accord_core::model::commitment::MEASURE_KINDS;
    use accord_core::model::{Body, Payload, Timestamp};

    use super::*;

    /// Founding keys, one distinct seed per member, by charter order.
    fn founding_keys() -> BTreeMap<&'static str, KeyPair> {
        members()
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id, KeyPair::from_seed(m.id, &[i as u8 + 1; 32]).unwrap()))
            .collect()
    }

    /// The key a `$NEWKEY:ID` marker stands for.
    fn new_key(id: &str) -> KeyPair {
        KeyPair::from_seed(id, &[200; 32]).unwrap()
    }

    /// Replaces `$NEWKEY:ID` and `$KEY:ID` strings by verifier keys, as the demo driver does.
    fn fill(v: &mut Value, current: &BTreeMap<&'static str, KeyPair>) {
        match v {
            Value::String(s) => {
                if let Some(id) = s.strip_prefix("$NEWKEY:") {
                    *s = new_key(id).verifier().unwrap().to_string();
                } else if let Some(id) = s.strip_prefix("$KEY:") {
                    *s = current[id].verifier().unwrap().to_string();
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| fill(x, current)),
            Value::Object(m) => m.values_mut().for_each(|x| fill(x, current)),
            _ => {}
        }
    }

    fn parse(s: &Step, current: &BTreeMap<&'static str, KeyPair>) -> Payload {
        let mut p = s.payload.clone();
        fill(&mut p, current);
        Payload::from_bytes(&serde_json::to_vec(&p).unwrap())
            .unwrap_or_else(|e| panic!("step {:?}: {e}", s.note))
    }

    #[test]
    fn members_are_valid_and_distinct() {
        let ms = members();
        assert_eq!(ms.len(), 16);
        let ids: BTreeSet<&str> = ms.iter().map(|m| m.id).collect();
        assert_eq!(ids.len(), ms.len(), "member ids are unique");
        for m in &ms {
            accord_core::model::MemberId::parse(m.id).unwrap();
            accord_core::model::Country::parse(m.country).unwrap();
            accord_core::model::Text::parse(m.institution).unwrap();
            assert!(
                ["ministry", "agency", "auditor", "secretariat"].contains(&m.role),
                "{}: role {}",
                m.id,
                m.role
            );
        }
        assert!(ms.iter().any(|m| m.role == "secretariat"));
        assert!(ms.iter().any(|m| m.role == "auditor"));
        assert_eq!(joint_parties().len(), 14);
        assert!(MEMBERSHIP_THRESHOLD as usize <= ms.len());
    }

    #[test]
    fn every_step_parses_with_keys_filled_in() {
        let keys = founding_keys();
        for s in steps() {
            let p = parse(&s, &keys);
            assert_eq!(p.ledger, ORIGIN);
            assert!(
                !s.note.is_empty() && s.note.len() <= 100,
                "note: {}",
                s.note
            );
        }
    }

    #[test]
    fn signers_are_founders_or_the_rotated_key() {
        let ids: BTreeSet<&str> = members().iter().map(|m| m.id).collect();
        for s in steps() {
            assert!(!s.signers.is_empty(), "{}: no signer", s.note);
            let distinct: BTreeSet<&&str> = s.signers.iter().collect();
            assert_eq!(distinct.len(), s.signers.len(), "{}: signer twice", s.note);
            for signer in &s.signers {
                match signer.strip_prefix("$NEWKEY:") {
                    Some(id) => {
                        assert_eq!(s.payload["type"], "rotate_key", "{}", s.note);
                        assert_eq!(s.payload["member"], *id, "{}", s.note);
                    }
                    None => assert!(ids.contains(signer), "{}: {signer}", s.note),
                }
            }
            if s.payload["type"] == "rotate_key" {
                let founders = s.signers.iter().filter(|x| ids.contains(**x)).count();
                assert!(founders >= MEMBERSHIP_THRESHOLD as usize, "{}", s.note);
            }
        }
    }

    #[test]
    fn commitments_cite_sources_and_ids_are_unique() {
        let keys = founding_keys();
        let mut seen = BTreeSet::new();
        let mut kinds = BTreeSet::new();
        for s in steps() {
            let p = parse(&s, &keys);
            assert!(seen.insert(p.id.to_string()), "duplicate id {}", p.id);
            let terms = match &p.body {
                Body::Commitment(c) => {
                    kinds.insert(c.terms.measure.kind());
                    Some(&c.terms)
                }
                Body::Amend(a) => Some(&a.terms),
                _ => None,
            };
            if let Some(t) = terms {
                assert!(!t.sources.is_empty(), "{}: no source", p.id);
                for src in &t.sources {
                    assert!(src.url.as_str().starts_with("https://"), "{}", src.url);
                }
            }
        }
        assert!(!seen.contains("charter"), "the charter's id is taken");
        let all: BTreeSet<&str> = MEASURE_KINDS.iter().copied().collect();
        assert_eq!(kinds, all, "every kind of measure appears");
    }

    #[test]
    fn entries_are_dated_in_order_within_2026() {
        let first = Timestamp::parse("2026-01-13T00:00:00Z").unwrap().instant();
        let last = Timestamp::parse("2026-11-20T23:59:59Z").unwrap().instant();
        let mut prev = first;
        for s in steps() {
            let at = Timestamp::parse(s.payload["signed_at"].as_str().unwrap())
                .unwrap()
                .instant();
            assert!(at >= prev && at <= last, "{}: {at}", s.note);
            prev = at;
        }
    }

    #[test]
    fn joint_mechanism_is_signed_by_every_ministry_and_agency() {
        let keys = founding_keys();
        let joint: BTreeSet<&str> = joint_parties().into_iter().collect();
        let s = steps()
            .into_iter()
            .find(|s| s.payload["id"] == JOINT_COMMITMENT)
            .unwrap();
        let Body::Commitment(c) = parse(&s, &keys).body else {
            panic!("the joint mechanism is not a commitment");
        };
        let parties: BTreeSet<&str> = c.parties.iter().map(|p| p.as_str()).collect();
        assert_eq!(parties, joint);
        assert_eq!(s.signers.iter().copied().collect::<BTreeSet<_>>(), joint);
        assert_eq!(c.terms.measure.kind(), "price_floor");
    }

    /// Runs the charter and every step through the governance state machine, signing as the
    /// demo driver does (JP-MOF with its new key after the rotation).
    #[test]
    fn the_whole_scenario_is_accepted_by_governance() {
        let mut keys = founding_keys();
        let log = KeyPair::from_seed(ORIGIN, &[250; 32]).unwrap();
        let records: Vec<Value> = members()
            .iter()
            .map(|m| {
                json!({"id": m.id, "country": m.country, "institution": m.institution,
                       "role": m.role, "key": keys[m.id].verifier().unwrap().to_string()})
            })
            .collect();
        let charter = json!({
            "ledger": ORIGIN, "type": "charter", "id": "charter", "signed_at": "2026-01-13T18:00:00Z",
            "name": "G7+ Critical Minerals Commitments Ledger",
            "log_key": log.verifier().unwrap().to_string(),
            "members": records,
            "policy": {"membership_threshold": MEMBERSHIP_THRESHOLD,
                       "joint_commitments": {"rule": "all_parties"}}
        });
        let sign = |p: &Value, signers: &[&KeyPair]| {
            let mut bytes = serde_json::to_vec_pretty(p).unwrap();
            bytes.push(b'\n');
            let mut env = Envelope::new(bytes);
            for k in signers {
                env.sign(k);
            }
            env
        };
        let founders: Vec<&KeyPair> = keys.values().collect();
        let mut state = State::from_charter(&sign(&charter, &founders)).unwrap();
        for (i, s) in steps().iter().enumerate() {
            let mut p = s.payload.clone();
            fill(&mut p, &keys);
            let signers: Vec<KeyPair> = s
                .signers
                .iter()
                .map(|id| match id.strip_prefix("$NEWKEY:") {
                    Some(m) => new_key(m),
                    None => keys[id].clone(),
                })
                .collect();
            let refs: Vec<&KeyPair> = signers.iter().collect();
            state
                .apply(&sign(&p, &refs))
                .unwrap_or_else(|e| panic!("step {} ({}) rejected: {e}", i + 1, s.note));
            if p["type"] == "rotate_key" {
                let id = p["member"].as_str().unwrap();
                let (&id, _) = keys.iter().find(|(k, _)| **k == id).unwrap();
                keys.insert(id, new_key(id));
            }
        }
        assert_eq!(state.size(), steps().len() as u64 + 1);
    }
}
