//! The G7+ demo scenario as data: the founding members and the entries they sign, drawn
//! from public announcements (figures and sources in `../shared/context/public-commitments.md`;
//! each commitment records its sources). Key material is filled in by the demo driver:
//! `$NEWKEY:ID` stands for a member's new key in a rotation, and as a signer for that key.

use serde_json::{json, Value};

/// The demo ledger's origin.
pub const ORIGIN: &str = "g7-critical-minerals.example/2026";
/// Distinct members that must sign membership and key changes (a majority of 16).
pub const MEMBERSHIP_THRESHOLD: u32 = 9;
/// The joint minimum-price mechanism every ministry co-signs.
pub const JOINT_COMMITMENT: &str = "g7-joint-minimum-price-mechanism-2026";

/// A founding member.
pub struct MemberSpec {
    /// Member id.
    pub id: &'static str,
    /// ISO 3166-1 alpha-2, or EU.
    pub country: &'static str,
    /// Institution.
    pub institution: &'static str,
    /// ministry, agency, auditor or secretariat.
    pub role: &'static str,
}

/// One entry after the charter.
pub struct Step {
    /// The complete payload (key placeholders aside).
    pub payload: Value,
    /// Who signs: member ids, or `$NEWKEY:ID`.
    pub signers: Vec<&'static str>,
    /// One line for the demo to print.
    pub note: &'static str,
}

/// The founding members.
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
        m("FR-DGT", "FR", "Direction générale du Trésor", "ministry"),
        m(
            "DE-BMWK",
            "DE",
            "Federal Ministry for Economic Affairs and Climate Action",
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
        m("IN-MOM", "IN", "Ministry of Mines", "ministry"),
        m("EU-COM", "EU", "European Commission, DG GROW", "ministry"),
        m(
            "G7-SEC",
            "FR",
            "G7 critical minerals ledger secretariat",
            "secretariat",
        ),
        m("GB-NAO", "GB", "National Audit Office", "auditor"),
    ]
}

/// Members that are parties to the joint mechanism: every ministry and agency.
pub fn ministries() -> Vec<&'static str> {
    members()
        .into_iter()
        .filter(|m| m.role == "ministry" || m.role == "agency")
        .map(|m| m.id)
        .collect()
}

fn src(urls: &[&str]) -> Value {
    Value::Array(
        urls.iter()
            .map(|u| json!({"url": u, "sha256": null}))
            .collect(),
    )
}

#[allow(clippy::too_many_arguments)]
fn terms(
    title: &str,
    commodity: &str,
    stage: &str,
    from: &str,
    until: Option<&str>,
    instrument: &str,
    sources: &[&str],
    measure: Value,
) -> Value {
    let mut effective = json!({"from": from});
    if let Some(u) = until {
        effective["until"] = json!(u);
    }
    json!({"title": title, "commodity": commodity, "stage": stage, "effective": effective,
        "instrument": instrument, "sources": src(sources), "measure": measure})
}

fn head(ty: &str, id: &str, signed_at: &str) -> Value {
    json!({"ledger": ORIGIN, "type": ty, "id": id, "signed_at": signed_at})
}

fn with(mut head: Value, body: Value) -> Value {
    if let (Value::Object(h), Value::Object(b)) = (&mut head, body) {
        h.extend(b);
    }
    head
}

fn commitment(id: &str, at: &str, parties: &[&str], terms: Value) -> Value {
    with(
        head("commitment", id, at),
        json!({"parties": parties, "terms": terms}),
    )
}

fn step(payload: Value, signers: &[&'static str], note: &'static str) -> Step {
    Step {
        payload,
        signers: signers.to_vec(),
        note,
    }
}

const PROJECTBLUE: &str = "https://www.projectblue.com/blue/news-analysis/1257/mp-materials-and-the-us-department-of-defense";
const FAS: &str = "https://fas.org/publication/unpacking-dod-mp-partnership/";
const KFW: &str =
    "https://www.kfw.de/About-KfW/Newsroom/Latest-News/Pressemitteilungen-Details_825856.html";
const EFA: &str =
    "https://www.miningmagazine.com.au/news/iluka-secures-additional-funding-for-eneabba-refinery";
const WH: &str = "https://www.whitehouse.gov/fact-sheets/2025/10/fact-sheet-president-donald-j-trump-and-prime-minister-anthony-albanese-strengthen-critical-minerals-partnership/";
const MCA: &str = "https://minerals.org.au/news/us-australia-critical-minerals-framework";
const IEA_KR: &str = "https://www.iea.org/policies/17940";
const CRMA: &str = "https://eur-lex.europa.eu/eli/reg/2024/1252/oj";
const NCMM: &str = "https://www.business-standard.com/economy/news/cabinet-approves-national-critical-mineral-mission";
const G7: &str =
    "https://www.g7.utoronto.ca/summit/2025kananaskis/250617-critical-minerals-action-plan.html";
const SEED: &str =
    "https://clashreport.com/world/articles/g7-allies-seek-to-cut-reliance-on-chinese-rare-earths";
const CMPA: &str = "https://www.canada.ca/en/department-finance/news/2025/10/critical-minerals-production-alliance.html";
const MSP: &str = "https://www.iea.org/policies/17980";

/// Every entry after the charter, in order.
pub fn steps() -> Vec<Step> {
    let joint = ministries();
    let joint_signers: Vec<&'static str> = joint.clone();
    let ndpr_floor = terms(
        "NdPr oxide price floor of USD 110/kg for ten years",
        "rare-earths/ndpr-oxide", "separation", "2025-10-01", Some("2035-09-30"),
        "Price-support and offtake agreement between the Department of Defense and MP Materials, 2025-07-10",
        &[PROJECTBLUE, FAS],
        json!({"kind": "price_floor", "price": {"amount": "110.00", "currency": "USD", "unit": "kg"},
               "basis": "Market benchmark for NdPr oxide; the Department pays the difference on volumes sold or stockpiled",
               "mechanism": "contract_for_difference"}),
    );
    let efa = |amount: &str, title: &str| {
        terms(title, "rare-earths", "refining", "2022-04-01", Some("2039-12-31"),
            "Critical Minerals Facility loan agreement, Export Finance Australia and Iluka Resources", &[EFA],
            json!({"kind": "financing_pledge", "institution": "Export Finance Australia, Critical Minerals Facility",
                   "amount": {"amount": amount, "currency": "AUD"}, "instrument": "loan",
                   "target": "Iluka Resources, Eneabba rare-earths refinery"}))
    };
    let mut steps = vec![
        step(commitment("us-dod-ndpr-floor-2025", "2026-01-20T14:00:00Z", &["US-DOD"], ndpr_floor), &["US-DOD"],
            "US DoD NdPr oxide price floor, USD 110/kg to 2035"),
        step(commitment("us-dod-magnet-offtake-2025", "2026-01-20T14:05:00Z", &["US-DOD"], terms(
            "Offtake of 100% of the 10X magnet plant's output for ten years", "rare-earths/ndfeb-magnets", "magnets",
            "2028-01-01", Some("2037-12-31"), "Offtake agreement of 2025-07-09", &[PROJECTBLUE],
            json!({"kind": "offtake", "buyer": "U.S. Department of Defense", "seller": "MP Materials (10X facility)",
                   "quantity": {"amount": "10000", "unit": "t-per-year"}}))), &["US-DOD"],
            "US DoD offtake of 10,000 t/yr of magnets"),
        step(commitment("de-kfw-raw-materials-fund-2024", "2026-01-22T09:00:00Z", &["DE-BMWK"], terms(
            "KfW raw materials fund (Rohstofffonds) of EUR 1bn", "critical-minerals", "all_stages", "2024-10-02", None,
            "Rohstofffonds mandate to KfW; EUR 50-150M per project, binding offtake and feasibility study required", &[KFW],
            json!({"kind": "financing_pledge", "institution": "KfW", "amount": {"amount": "1000000000", "currency": "EUR"},
                   "instrument": "fund", "target": "Extraction, processing and recycling projects supplying Germany"}))), &["DE-BMWK"],
            "Germany: KfW raw materials fund, EUR 1bn"),
        step(commitment("au-efa-iluka-eneabba-2022", "2026-01-23T02:00:00Z", &["AU-EFA"],
            efa("1250000000", "Critical Minerals Facility loan of AUD 1.25bn to the Eneabba refinery")), &["AU-EFA"],
            "Export Finance Australia: AUD 1.25bn to Iluka's Eneabba refinery"),
        step(commitment("us-au-framework-2025", "2026-01-26T22:00:00Z", &["US-TREASURY", "AU-DISR"], terms(
            "United States-Australia framework for securing critical minerals and rare earths", "critical-minerals", "all_stages",
            "2025-10-20", None, "Framework signed by the President and the Prime Minister, 2025-10-20", &[WH, MCA],
            json!({"kind": "framework", "partners": ["US", "AU"],
                   "pledges": [{"amount": "1000000000", "currency": "USD"}, {"amount": "1000000000", "currency": "USD"}],
                   "tools": ["stockpiling", "price-support", "permitting", "equity", "loans"],
                   "pipeline": {"amount": "8500000000", "currency": "USD"}}))), &["US-TREASURY", "AU-DISR"],
            "US-Australia framework, at least USD 1bn each, co-signed"),
        step(commitment("kr-rare-metals-stockpile-2026", "2026-02-02T01:00:00Z", &["KR-MOTIE"], terms(
            "Rare metals stockpile raised from 54 to 100 days of supply", "rare-metals", "all_stages", "2026-01-01", Some("2031-12-31"),
            "Public Procurement Service and KOMIR stockpiling plan", &[IEA_KR],
            json!({"kind": "stockpile", "days_of_supply": "100", "baseline_days": "54"}))), &["KR-MOTIE"],
            "South Korea: rare metals stockpile to 100 days of supply"),
        step(commitment("eu-crma-recycling-2030", "2026-02-03T10:00:00Z", &["EU-COM"], terms(
            "25% of EU consumption of strategic raw materials recycled in the EU by 2030", "critical-minerals", "recycling",
            "2024-05-23", Some("2030-12-31"), "Regulation (EU) 2024/1252, Article 5(1)(a)(iii)", &[CRMA],
            json!({"kind": "recycling_target", "target_percent": "25", "basis": "annual EU consumption of strategic raw materials",
                   "by": "2030-12-31"}))), &["EU-COM"],
            "EU: 25% recycling target by 2030 (CRMA)"),
        step(commitment("eu-crma-diversification-2030", "2026-02-03T10:05:00Z", &["EU-COM"], terms(
            "No more than 65% of any strategic raw material from a single third country by 2030", "critical-minerals", "all_stages",
            "2024-05-23", Some("2030-12-31"), "Regulation (EU) 2024/1252, Article 5(1)(b)", &[CRMA],
            json!({"kind": "standards_market", "standards": ["Sustainability and circularity criteria of Article 6 and Annex III",
                   "Supply diversification benchmark: at most 65% from one third country"],
                   "scope": "Strategic projects and EU supply of strategic raw materials"}))), &["EU-COM"],
            "EU: 65% single-supplier ceiling (CRMA)"),
        step(commitment("in-ncmm-2025", "2026-02-05T06:00:00Z", &["IN-MOM"], terms(
            "National Critical Mineral Mission: INR 16,300 crore of government funding", "critical-minerals", "exploration",
            "2025-01-29", Some("2031-03-31"), "Union Cabinet approval of the National Critical Mineral Mission, 2025-01-29", &[NCMM],
            json!({"kind": "financing_pledge", "institution": "Ministry of Mines, Government of India",
                   "amount": {"amount": "163000000000", "currency": "INR"}, "instrument": "grant",
                   "target": "1,200 exploration projects by FY2031, plus INR 18,000 crore expected from public-sector companies"}))), &["IN-MOM"],
            "India: National Critical Mineral Mission, INR 16,300 crore"),
        step(commitment("ca-exploration-tax-credit-2026", "2026-02-10T15:00:00Z", &["CA-FIN"], terms(
            "Critical Mineral Exploration Tax Credit at 30%", "critical-minerals", "exploration", "2026-01-01", Some("2027-03-31"),
            "Income Tax Act, section 127(9), critical mineral exploration tax credit", &[CMPA],
            json!({"kind": "tax_incentive", "tool": "credit", "rate_percent": "30",
                   "eligibility": "Flow-through share investors in exploration for listed critical minerals"}))), &["CA-FIN"],
            "Canada: 30% critical mineral exploration tax credit"),
        step(commitment("mx-rare-earth-tariff-2026", "2026-02-12T17:00:00Z", &["MX-SE"], terms(
            "Tariff on rare-earth magnet imports from non-market economies", "rare-earths/ndfeb-magnets", "magnets", "2026-03-01",
            Some("2027-02-28"), "Decreto por el que se modifica la Tarifa de la LIGIE, fracción 8505.11", &[SEED],
            json!({"kind": "tariff_measure", "tool": "tariff", "rate_percent": "35", "scope": "HS 8505.11 permanent magnets of metal"}))), &["MX-SE"],
            "Mexico: 35% tariff on magnet imports (later withdrawn)"),
        step(commitment("jp-gb-ca-standards-market-2026", "2026-02-16T08:00:00Z", &["JP-MOF", "GB-HMT", "CA-FIN"], terms(
            "A standards-based market for critical minerals: labour and human-rights conditions in public procurement",
            "critical-minerals", "all_stages", "2026-04-01", None, "Joint ministerial statement, 2026-02-16", &[G7, SEED],
            json!({"kind": "standards_market", "standards": ["ILO core labour standards", "UN Guiding Principles on Business and Human Rights",
                   "OECD Due Diligence Guidance for Responsible Supply Chains of Minerals"],
                   "scope": "Public procurement and subsidised offtake of critical minerals"}))), &["JP-MOF", "GB-HMT", "CA-FIN"],
            "Japan, UK, Canada: standards-based market, co-signed"),
    ];
    let mut joint_terms = terms(
        "Joint minimum-price mechanism for rare-earth oxides", "rare-earths", "separation", "2026-06-01", Some("2036-05-31"),
        "Joint ministerial decision of the G7 finance ministers with Australia, India, Mexico, South Korea and the EU",
        &[SEED, G7, MSP],
        json!({"kind": "price_floor", "price": {"amount": "95.00", "currency": "USD", "unit": "kg"},
               "basis": "Reference price for NdPr oxide outside single-supplier markets, quarterly",
               "mechanism": "reserve_price"}),
    );
    steps.push(Step {
        payload: commitment(
            JOINT_COMMITMENT,
            "2026-03-02T12:00:00Z",
            &joint,
            joint_terms.clone(),
        ),
        signers: joint_signers.clone(),
        note: "Joint minimum-price mechanism, co-signed by all 14 ministries and agencies",
    });
    // Lifecycle.
    steps.push(step(with(head("amend", "au-efa-iluka-eneabba-2022/amend-1", "2026-03-10T03:00:00Z"), json!({
        "target": "au-efa-iluka-eneabba-2022", "reason": "AUD 400M additional loan plus an AUD 150M cost-overrun facility",
        "terms": efa("1800000000", "Critical Minerals Facility loans of AUD 1.8bn to the Eneabba refinery")})), &["AU-EFA"],
        "Amendment: Eneabba financing raised to AUD 1.8bn"));
    steps.push(step(with(head("progress", "us-dod-ndpr-floor-2025/progress-2026q1", "2026-04-15T14:00:00Z"), json!({
        "target": "us-dod-ndpr-floor-2025", "as_of": "2026-03-31", "metric": "disbursed", "amount": "48500000", "unit": "USD",
        "note": "Price-difference payments for Q4 2025 and Q1 2026"})), &["US-DOD"],
        "Progress: USD 48.5M of price support paid"));
    steps.push(step(with(head("progress", "au-efa-iluka-eneabba-2022/progress-2026h1", "2026-07-05T03:00:00Z"), json!({
        "target": "au-efa-iluka-eneabba-2022", "as_of": "2026-06-30", "metric": "disbursed", "amount": "610000000", "unit": "AUD"})), &["AU-EFA"],
        "Progress: AUD 610M disbursed to Eneabba"));
    steps.push(step(with(head("progress", "kr-rare-metals-stockpile-2026/progress-2026q2", "2026-07-10T01:00:00Z"), json!({
        "target": "kr-rare-metals-stockpile-2026", "as_of": "2026-06-30", "metric": "stockpiled", "amount": "71", "unit": "days",
        "note": "Days of supply held at the end of the quarter"})), &["KR-MOTIE"],
        "Progress: Korea's stockpile at 71 days"));
    steps.push(step(with(head("withdraw", "mx-rare-earth-tariff-2026/withdraw", "2026-05-20T17:00:00Z"), json!({
        "target": "mx-rare-earth-tariff-2026", "reason": "Superseded by the joint minimum-price mechanism"})), &["MX-SE"],
        "Withdrawal: Mexico's tariff, superseded by the joint mechanism"));
    // Key rotation: a majority of the old state plus the new key.
    steps.push(step(
        with(
            head(
                "rotate_key",
                "jp-mof/key-rotation-2026",
                "2026-09-01T00:00:00Z",
            ),
            json!({
        "member": "JP-MOF", "new_key": "$NEWKEY:JP-MOF"}),
        ),
        &[
            "US-TREASURY",
            "GB-HMT",
            "FR-DGT",
            "DE-BMWK",
            "IT-MEF",
            "CA-FIN",
            "EU-COM",
            "KR-MOTIE",
            "AU-DISR",
            "$NEWKEY:JP-MOF",
        ],
        "Key rotation: JP-MOF's new key, approved by 9 members",
    ));
    // The joint mechanism amended by every party, JP-MOF with its new key.
    joint_terms["measure"]["price"]["amount"] = json!("100.00");
    steps.push(Step {
        payload: with(head("amend", "g7-joint-minimum-price-mechanism-2026/amend-1", "2026-10-15T12:00:00Z"), json!({
            "target": JOINT_COMMITMENT, "reason": "Reference price raised after the first annual review", "terms": joint_terms})),
        signers: joint_signers,
        note: "Amendment: joint minimum price to USD 100/kg, co-signed by all (JP with its new key)",
    });
    steps.push(step(with(head("progress", "us-au-framework-2025/progress-2026", "2026-11-20T22:00:00Z"), json!({
        "target": "us-au-framework-2025", "as_of": "2026-11-15", "metric": "committed", "amount": "2200000000", "unit": "USD",
        "note": "Seven EXIM letters of interest for Australian projects"})), &["US-TREASURY"],
        "Progress: USD 2.2bn committed under the US-Australia framework"));
    steps
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use accord_core::keys::KeyPair;
    use accord_core::model::{Body, Payload};

    fn fill(v: &mut Value) {
        match v {
            Value::String(s) if s.starts_with("$NEWKEY:") || s.starts_with("$KEY:") => {
                let id = s.split(':').nth(1).unwrap().to_owned();
                *s = KeyPair::from_seed(&id, &[3; 32])
                    .unwrap()
                    .verifier()
                    .unwrap()
                    .to_string();
            }
            Value::Array(a) => a.iter_mut().for_each(fill),
            Value::Object(m) => m.values_mut().for_each(fill),
            _ => {}
        }
    }

    #[test]
    fn every_step_is_a_valid_payload_signed_by_members_with_sources() {
        let ids: Vec<&str> = members().iter().map(|m| m.id).collect();
        let mut seen = std::collections::BTreeSet::new();
        let mut kinds = std::collections::BTreeSet::new();
        for s in steps() {
            let mut p = s.payload.clone();
            fill(&mut p);
            let parsed = Payload::from_bytes(&serde_json::to_vec(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", s.note));
            assert!(
                seen.insert(parsed.id.to_string()),
                "duplicate id {}",
                parsed.id
            );
            for signer in &s.signers {
                assert!(
                    ids.contains(signer) || signer.starts_with("$NEWKEY:"),
                    "{signer}"
                );
            }
            if let Body::Commitment(c) = &parsed.body {
                assert!(!c.terms.sources.is_empty());
                kinds.insert(c.terms.measure.kind());
            }
        }
        assert_eq!(
            kinds.len(),
            accord_core::model::commitment::MEASURE_KINDS.len(),
            "every kind appears: {kinds:?}"
        );
    }
}
