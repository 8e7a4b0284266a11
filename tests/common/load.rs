//! Load for the service tests: many distinct signed entries made fast in the test process
//! (one `accord draft` of a price floor as the template, its id varied, signed with the
//! demo's US-DOD key through accord-core), and the ledger's entry list read over HTTP.

use std::collections::BTreeMap;

use accord_core::envelope::Envelope;
use accord_core::keys::KeyPair;
use serde_json::Value;

use super::server::http;
use super::Env;

/// The demo's origin (the log key's name).
pub fn origin(env: &Env) -> String {
    let b: Value = serde_json::from_str(&env.read("d/exports/audit-bundle.json")).unwrap();
    let key = b["log_key"].as_str().unwrap();
    key.split('+').next().unwrap().to_owned()
}

/// A demo member's key, read from `d/keys/ID.key` (the demo writes them unencrypted).
pub fn member_key(env: &Env, id: &str) -> KeyPair {
    let f: Value = serde_json::from_str(&env.read(&format!("d/keys/{id}.key"))).unwrap();
    KeyPair::from_skey(f["skey"].as_str().unwrap()).unwrap()
}

/// `n` distinct price floors by US-DOD, ids `PREFIX-00000`.., each a signed DSSE envelope
/// as JSON bytes, ready to POST.
pub fn floors(env: &Env, prefix: &str, n: usize) -> Vec<Vec<u8>> {
    let template = format!("{prefix}-template.json");
    super::draft_floor(env, &origin(env), &format!("{prefix}-template"), &template);
    let mut payload: Value = serde_json::from_str(&env.read(&template)).unwrap();
    let key = member_key(env, "US-DOD");
    (0..n)
        .map(|i| {
            payload["id"] = Value::String(format!("{prefix}-{i:05}"));
            let mut e = Envelope::new(serde_json::to_vec(&payload).unwrap());
            e.sign(&key);
            e.to_json()
        })
        .collect()
}

/// Every entry the server at `base` lists: index -> (id, leaf hash).
pub fn entries(base: &str) -> BTreeMap<u64, (String, String)> {
    let c = http();
    let mut out = BTreeMap::new();
    loop {
        let from = out.len();
        let b = c
            .get(format!("{base}/api/v1/entries?from={from}&limit=1000"))
            .send()
            .unwrap()
            .bytes()
            .unwrap();
        let v: Value = serde_json::from_slice(&b).unwrap();
        let page = v.as_array().unwrap();
        if page.is_empty() {
            return out;
        }
        for l in page {
            out.insert(
                l["index"].as_u64().unwrap(),
                (
                    l["id"].as_str().unwrap().to_owned(),
                    l["leaf_hash"].as_str().unwrap().to_owned(),
                ),
            );
        }
    }
}

/// A tiny deterministic generator (xorshift64*), so a failing trial can be replayed from
/// its seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0.max(1);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// In `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }
}
