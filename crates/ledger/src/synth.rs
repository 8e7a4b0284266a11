//! A generator of realistic synthetic ledgers, for benchmarks and tests: a charter with `n`
//! members and a stream of signed entries of every commitment kind (about a tenth joint),
//! with amendments and progress reports, all valid in order.

use accord_core::envelope::Envelope;
use accord_core::keys::{KeyPair, VerifierKey};
use accord_core::model::commitment::{
    FinanceInstrument, FloorMechanism, Money, Price, Quantity, Stage, TaxTool, TradeTool, Unit,
};
use accord_core::model::{
    Amend, Body, Charter, EntryId, JointRule, Measure, Member, MemberId, Metric, NewCommitment,
    Payload, Period, Policy, Progress, Role, Source, Terms,
};
use serde::de::DeserializeOwned;

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
    commitments: Vec<(EntryId, Vec<usize>, Kind)>,
}

/// The kinds of measure the generator writes, one per [`Measure`] variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    PriceFloor,
    FinancingPledge,
    Offtake,
    Stockpile,
    TariffMeasure,
    TaxIncentive,
    RecyclingTarget,
    StandardsMarket,
    Framework,
}

/// Every kind, in the order of `MEASURE_KINDS` (new commitments cycle through them).
const KINDS: [Kind; 9] = [
    Kind::PriceFloor,
    Kind::FinancingPledge,
    Kind::Offtake,
    Kind::Stockpile,
    Kind::TariffMeasure,
    Kind::TaxIncentive,
    Kind::RecyclingTarget,
    Kind::StandardsMarket,
    Kind::Framework,
];

/// A value the generator writes as a literal or from a counter. Each is valid by construction
/// (the ledger tests build and verify ledgers of them), so a refusal is a bug in this file,
/// not in data: it panics rather than sign a payload nobody meant.
#[allow(clippy::expect_used)]
fn v<T: DeserializeOwned>(s: &str) -> T {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .expect("a synthetic value is valid")
}

fn money(amount: &str, currency: &str) -> Money {
    Money {
        amount: v(amount),
        currency: v(currency),
    }
}

fn kind_measure(kind: Kind, i: u64) -> Measure {
    let amount = format!("{}.00", 1_000_000 + (i * 7919) % 900_000_000);
    match kind {
        Kind::PriceFloor => Measure::PriceFloor {
            price: Price {
                amount: v(&format!("{}.50", 80 + i % 60)),
                currency: v("USD"),
                unit: v::<Unit>("kg"),
            },
            basis: v("Benchmark NdPr oxide price, FOB China, monthly average"),
            mechanism: FloorMechanism::ContractForDifference,
            volume: None,
        },
        Kind::FinancingPledge => Measure::FinancingPledge {
            institution: v("Export credit agency"),
            amount: money(&amount, "EUR"),
            instrument: FinanceInstrument::Loan,
            target: v("Separation and refining capacity outside single-supplier jurisdictions"),
        },
        Kind::Offtake => Measure::Offtake {
            buyer: v("Strategic reserve agency"),
            seller: v("Producer consortium"),
            quantity: Quantity {
                amount: v(&format!("{}", 100 + i % 10_000)),
                unit: v("t-per-year"),
            },
        },
        Kind::Stockpile => Measure::Stockpile {
            days_of_supply: Some(v(&format!("{}", 30 + i % 90))),
            quantity: None,
            baseline_days: Some(v("30")),
        },
        Kind::TariffMeasure => Measure::TariffMeasure {
            tool: TradeTool::Tariff,
            rate_percent: Some(v(&format!("{}", i % 25))),
            scope: v("HS 2805.30 rare-earth metals"),
        },
        Kind::TaxIncentive => Measure::TaxIncentive {
            tool: TaxTool::Credit,
            rate_percent: Some(v("30")),
            value: None,
            eligibility: v("Exploration expenditure on listed critical minerals"),
        },
        Kind::RecyclingTarget => Measure::RecyclingTarget {
            target_percent: v("25"),
            basis: v("annual consumption of strategic raw materials"),
            by: v("2030-12-31"),
        },
        Kind::StandardsMarket => Measure::StandardsMarket {
            standards: vec![
                v("ILO core labour standards"),
                v("OECD due diligence guidance"),
            ],
            scope: v("Public procurement of permanent magnets"),
        },
        Kind::Framework => Measure::Framework {
            partners: vec![v("US"), v("AU")],
            pledges: vec![money(&amount, "USD")],
            tools: vec![v("stockpiling"), v("price-support")],
            pipeline: None,
        },
    }
}

/// A key's verifier; a key pair made by `KeyPair::from_seed` has a valid name, so it always
/// has one.
#[allow(clippy::expect_used)]
fn verifier(k: &KeyPair) -> VerifierKey {
    k.verifier().expect("a synthetic key has a valid name")
}

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

    /// The payload for entry `id` of this ledger.
    fn payload(&self, id: &str, signed_at: &str, body: Body) -> Payload {
        Payload {
            ledger: self.origin.clone(),
            id: v(id),
            signed_at: v(signed_at),
            body,
        }
    }

    fn sign(&self, payload: &Payload, signers: &[usize]) -> Envelope {
        // Compact JSON, the common members first: what the generator has always signed.
        #[allow(clippy::expect_used)]
        let bytes = serde_json::to_vec(&payload.to_value())
            // A JSON value of strings and lists: serde_json cannot fail on it, and a silent
            // empty payload would be signed bytes nobody meant.
            .expect("a JSON value serialises");
        let mut env = Envelope::new(bytes);
        for &s in signers {
            env.sign(&self.members[s]);
        }
        env
    }

    fn member_id(&self, i: usize) -> MemberId {
        v(self.members[i].name())
    }

    /// The charter, signed by every member.
    pub fn charter(&self) -> Envelope {
        let members = self
            .members
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let country = COUNTRIES[i % COUNTRIES.len()];
                Member {
                    id: self.member_id(i),
                    country: v(country),
                    institution: v(&format!("Ministry {i} of {country}")),
                    role: Role::Ministry,
                    key: verifier(k),
                }
            })
            .collect();
        let body = Body::Charter(Charter {
            name: v("Synthetic group"),
            log_key: verifier(&self.log),
            members,
            policy: Policy {
                membership_threshold: (self.members.len() / 2 + 1) as u32,
                joint_commitments: JointRule::AllParties,
                witness_policy: None,
            },
        });
        let p = self.payload("charter", "2026-01-13T00:00:00Z", body);
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
            let stage = [
                Stage::Mining,
                Stage::Separation,
                Stage::Refining,
                Stage::Magnets,
                Stage::Recycling,
            ][(i % 5) as usize];
            let body = Body::Commitment(NewCommitment {
                parties: parties.iter().map(|&p| self.member_id(p)).collect(),
                terms: Terms {
                    title: v(&format!(
                        "Commitment {i}: support for critical minerals supply outside concentrated sources"
                    )),
                    commodity: v(commodity),
                    stage,
                    effective: Period {
                        from: v("2026-01-01"),
                        until: Some(v("2035-12-31")),
                    },
                    instrument: v("Ministerial decision published in the official journal"),
                    sources: vec![Source {
                        url: v(&format!("https://example.org/announcements/{i}")),
                        sha256: None,
                    }],
                    measure: kind_measure(kind, i),
                },
            });
            let p = self.payload(&id, &signed_at, body);
            let env = self.sign(&p, &parties);
            self.commitments.push((p.id, parties, kind));
            env
        } else {
            let (target, parties, kind) =
                self.commitments[(i as usize * 31) % self.commitments.len()].clone();
            if pick < 7 {
                let body = Body::Amend(Amend {
                    target,
                    reason: v("Revised figures after budget approval"),
                    terms: Terms {
                        title: v(&format!("Amended commitment {i}")),
                        commodity: v("rare-earths/ndpr-oxide"),
                        stage: Stage::Separation,
                        effective: Period {
                            from: v("2026-01-01"),
                            until: Some(v("2036-12-31")),
                        },
                        instrument: v("Amending decision"),
                        sources: vec![Source {
                            url: v(&format!("https://example.org/amendments/{i}")),
                            sha256: None,
                        }],
                        measure: kind_measure(kind, i + 1),
                    },
                });
                let p = self.payload(&format!("a-{i:09}"), &signed_at, body);
                self.sign(&p, &parties)
            } else {
                let body = Body::Progress(Progress {
                    target,
                    as_of: v("2026-06-30"),
                    metric: Metric::Disbursed,
                    amount: v(&format!("{}", 1000 + i % 5000)),
                    unit: v("EUR"),
                    note: Some(v("Quarterly report")),
                });
                let p = self.payload(&format!("p-{i:09}"), &signed_at, body);
                self.sign(&p, &parties[..1])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use accord_core::model::commitment::MEASURE_KINDS;

    #[test]
    fn kinds_follow_the_model_order() {
        let kinds: Vec<&str> = KINDS.iter().map(|&k| kind_measure(k, 0).kind()).collect();
        assert_eq!(kinds, MEASURE_KINDS);
    }

    #[test]
    fn every_entry_decodes_as_a_payload() {
        let mut s = Synth::new(5, 9);
        let charter = s.charter();
        Payload::from_bytes(&charter.payload)
            .map(drop)
            .unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..200 {
            let env = s.next_entry();
            if let Err(e) = Payload::from_bytes(&env.payload) {
                panic!("{e}: {}", String::from_utf8_lossy(&env.payload));
            }
        }
    }
}
