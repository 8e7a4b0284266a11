//! A generator of realistic synthetic ledgers, for benchmarks and tests: a charter with `n`
//! members and a stream of signed entries of every commitment kind (about a tenth joint),
//! with amendments and progress reports, all valid in order.

use accord_core::envelope::Envelope;
use accord_core::keys::KeyPair;
use serde_json::{json, Value};

/// The members' countries, cycled.
const COUNTRIES: &[&str] = &[
    "JP", "US", "GB", "FR", "DE", "IT", "CA", "AU", "MX", "KR", "IN", "EU",
];

/// A synthetic group with deterministic keys.
pub struct Synth {
    /// Ledger origin.
    pub origin: String,
    /// Member keys, in charter order.
    pub members: Vec<KeyPair>,
    /// The log key.
    pub log: KeyPair,
    next: u64,
    commitments: Vec<(String, Vec<usize>, &'static str)>,
}

fn kind_measure(kind: &str, i: u64) -> Value {
    let amount = format!("{}.00", 1_000_000 + (i * 7919) % 900_000_000);
    match kind {
        "price_floor" => {
            json!({"kind": "price_floor", "price": {"amount": format!("{}.50", 80 + i % 60), "currency": "USD", "unit": "kg"},
            "basis": "Benchmark NdPr oxide price, FOB China, monthly average", "mechanism": "contract_for_difference"})
        }
        "financing_pledge" => {
            json!({"kind": "financing_pledge", "institution": "Export credit agency", "amount": {"amount": amount, "currency": "EUR"},
            "instrument": "loan", "target": "Separation and refining capacity outside single-supplier jurisdictions"})
        }
        "offtake" => {
            json!({"kind": "offtake", "buyer": "Strategic reserve agency", "seller": "Producer consortium",
            "quantity": {"amount": format!("{}", 100 + i % 10_000), "unit": "t-per-year"}})
        }
        "stockpile" => {
            json!({"kind": "stockpile", "days_of_supply": format!("{}", 30 + i % 90), "baseline_days": "30"})
        }
        "tariff_measure" => {
            json!({"kind": "tariff_measure", "tool": "tariff", "rate_percent": format!("{}", i % 25), "scope": "HS 2805.30 rare-earth metals"})
        }
        "tax_incentive" => {
            json!({"kind": "tax_incentive", "tool": "credit", "rate_percent": "30", "eligibility": "Exploration expenditure on listed critical minerals"})
        }
        "recycling_target" => {
            json!({"kind": "recycling_target", "target_percent": "25", "basis": "annual consumption of strategic raw materials", "by": "2030-12-31"})
        }
        "standards_market" => {
            json!({"kind": "standards_market", "standards": ["ILO core labour standards", "OECD due diligence guidance"], "scope": "Public procurement of permanent magnets"})
        }
        _ => {
            json!({"kind": "framework", "partners": ["US", "AU"], "pledges": [{"amount": amount, "currency": "USD"}], "tools": ["stockpiling", "price-support"]})
        }
    }
}

use accord_core::model::commitment::MEASURE_KINDS as KINDS;

impl Synth {
    /// A group of `n` members (1 to 100) with keys derived from `seed`.
    pub fn new(n: usize, seed: u8) -> Self {
        let members = (0..n.clamp(1, 100))
            .map(|i| {
                let mut s = [seed; 32];
                s[0] = i as u8;
                s[1] = 0xA5;
                KeyPair::from_seed(&format!("M{i:02}-{}", COUNTRIES[i % COUNTRIES.len()]), &s)
            })
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_default();
        let origin = "bench.accord.example/ledger".to_owned();
        let log = KeyPair::from_seed(&origin, &[seed ^ 0x5A; 32])
            .unwrap_or_else(|_| KeyPair::generate("log").unwrap_or_else(|_| std::process::abort()));
        Self {
            origin,
            members,
            log,
            next: 0,
            commitments: Vec::new(),
        }
    }

    /// Numbers the next entry `next` (and the ones after it from there): a workload that
    /// continues a ledger built elsewhere, with ids no entry numbered below `next` has.
    #[must_use]
    pub fn starting_at(mut self, next: u64) -> Self {
        self.next = next;
        self
    }

    fn sign(&self, payload: &Value, signers: &[usize]) -> Envelope {
        // A `json!` value of strings, numbers and arrays: serde_json cannot fail on it, and a
        // silent empty payload would be signed bytes nobody meant.
        #[allow(clippy::expect_used)]
        let bytes = serde_json::to_vec(payload).expect("a JSON value serialises");
        let mut env = Envelope::new(bytes);
        for &s in signers {
            env.sign(&self.members[s]);
        }
        env
    }

    /// The charter, signed by every member.
    pub fn charter(&self) -> Envelope {
        let members: Vec<Value> = self
            .members
            .iter()
            .enumerate()
            .map(|(i, k)| json!({"id": k.name(), "country": COUNTRIES[i % COUNTRIES.len()],
                "institution": format!("Ministry {i} of {}", COUNTRIES[i % COUNTRIES.len()]), "role": "ministry",
                "key": k.verifier().map(|v| v.to_string()).unwrap_or_default()}))
            .collect();
        let p = json!({"ledger": self.origin, "type": "charter", "id": "charter", "signed_at": "2026-01-13T00:00:00Z",
            "name": "Synthetic group", "log_key": self.log.verifier().map(|v| v.to_string()).unwrap_or_default(),
            "members": members,
            "policy": {"membership_threshold": (self.members.len() / 2 + 1) as u32, "joint_commitments": {"rule": "all_parties"}}});
        let all: Vec<usize> = (0..self.members.len()).collect();
        self.sign(&p, &all)
    }

    /// The next entry: mostly new commitments (a tenth joint), then amendments and progress
    /// reports on earlier ones.
    pub fn next_entry(&mut self) -> Envelope {
        let i = self.next;
        self.next += 1;
        let n = self.members.len();
        let signed_at = format!(
            "2026-{:02}-{:02}T{:02}:{:02}:00Z",
            1 + (i / 28 / 24) % 12,
            1 + (i / 24) % 28,
            i % 24,
            i % 60
        );
        let pick = i % 10;
        if self.commitments.is_empty() || pick < 5 {
            let kind = KINDS[(i as usize) % KINDS.len()];
            let a = (i as usize * 7) % n;
            let parties: Vec<usize> = if i % 10 == 3 && n > 1 {
                vec![a, (a + 1) % n]
            } else {
                vec![a]
            };
            let id = format!("c-{i:09}");
            let commodity = [
                "rare-earths/ndpr-oxide",
                "gallium",
                "graphite",
                "lithium",
                "cobalt",
            ][(i % 5) as usize];
            let stage =
                ["mining", "separation", "refining", "magnets", "recycling"][(i % 5) as usize];
            let p = json!({"ledger": self.origin, "type": "commitment", "id": id, "signed_at": signed_at,
                "parties": parties.iter().map(|&p| self.members[p].name()).collect::<Vec<_>>(),
                "terms": {"title": format!("Commitment {i}: support for critical minerals supply outside concentrated sources"),
                    "commodity": commodity,
                    "stage": stage,
                    "effective": {"from": "2026-01-01", "until": "2035-12-31"},
                    "instrument": "Ministerial decision published in the official journal",
                    "sources": [{"url": format!("https://example.org/announcements/{i}"), "sha256": null}],
                    "measure": kind_measure(kind, i)}});
            let env = self.sign(&p, &parties);
            self.commitments.push((id, parties, kind));
            env
        } else {
            let (id, parties, kind) =
                self.commitments[(i as usize * 31) % self.commitments.len()].clone();
            if pick < 7 {
                let p = json!({"ledger": self.origin, "type": "amend", "id": format!("a-{i:09}"), "signed_at": signed_at,
                    "target": id, "reason": "Revised figures after budget approval",
                    "terms": {"title": format!("Amended commitment {i}"), "commodity": "rare-earths/ndpr-oxide", "stage": "separation",
                        "effective": {"from": "2026-01-01", "until": "2036-12-31"}, "instrument": "Amending decision",
                        "sources": [{"url": format!("https://example.org/amendments/{i}"), "sha256": null}],
                        "measure": kind_measure(kind, i + 1)}});
                self.sign(&p, &parties)
            } else {
                let p = json!({"ledger": self.origin, "type": "progress", "id": format!("p-{i:09}"), "signed_at": signed_at,
                    "target": id, "as_of": "2026-06-30", "metric": "disbursed", "amount": format!("{}", 1000 + i % 5000), "unit": "EUR",
                    "note": "Quarterly report"});
                self.sign(&p, &parties[..1])
            }
        }
    }
}
