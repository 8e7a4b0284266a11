//! The workload: a synthetic ledger from `accord_ledger::synth`, and the raw material the
//! ceilings are measured on (PAEs, signatures with their keys, leaf bytes).

use std::collections::HashMap;
use std::time::Instant;

use accord_core::entry::LoggedEntry;
use accord_core::envelope::Envelope;
use accord_core::model::Timestamp;
use accord_ledger::synth::Synth;
use anyhow::{Context, Result};
use ed25519_dalek::{Signature, VerifyingKey};
use rayon::prelude::*;

use crate::util::{bar, phase};

/// Members in the synthetic charter.
pub const MEMBERS: usize = 12;

/// Every entry of the largest ledger measured, in log order. Smaller sizes use prefixes:
/// `Synth` is deterministic, so the first `n` entries of a long run are exactly the entries
/// of a run of `n`.
pub struct Workload {
    pub synth: Synth,
    /// Entry 0.
    pub charter: Envelope,
    /// Entries 1.. (`entries[i]` becomes ledger index `i + 1`).
    pub entries: Vec<Envelope>,
    pub gen_secs: f64,
}

impl Workload {
    /// Generates a ledger of `total` entries (the charter included).
    pub fn generate(total: u64, seed: u8) -> Self {
        phase(format!(
            "generating {total} signed entries (Synth, {MEMBERS} members, sequential)"
        ));
        let started = Instant::now();
        let mut synth = Synth::new(MEMBERS, seed);
        let charter = synth.charter();
        let rest = total.saturating_sub(1);
        let pb = bar(rest, "generate");
        let mut entries = Vec::with_capacity(rest as usize);
        for i in 0..rest {
            entries.push(synth.next_entry());
            if i % 4096 == 0 {
                pb.set_position(i);
            }
        }
        pb.finish_and_clear();
        let gen_secs = started.elapsed().as_secs_f64();
        phase(format!(
            "generated in {gen_secs:.1} s ({:.0} entries/s)",
            rest as f64 / gen_secs
        ));
        Self {
            synth,
            charter,
            entries,
            gen_secs,
        }
    }

    /// Entry `index` of the ledger.
    pub fn envelope(&self, index: usize) -> &Envelope {
        if index == 0 {
            &self.charter
        } else {
            &self.entries[index - 1]
        }
    }

    /// Entries in the workload, the charter included.
    pub fn len(&self) -> usize {
        self.entries.len() + 1
    }
}

/// What the ceilings run on, for every entry of the workload; a size `n` uses prefixes.
pub struct Prepared {
    /// The DSSE PAE of each entry (what its signatures cover).
    pub paes: Vec<Vec<u8>>,
    /// Every signature, entry by entry.
    pub sigs: Vec<Signature>,
    /// The key of each signature.
    pub keys: Vec<VerifyingKey>,
    /// The entry (ledger index) of each signature.
    pub sig_entry: Vec<usize>,
    /// `sig_end[k]`: signatures in entries `0..k`.
    pub sig_end: Vec<usize>,
    /// Leaf bytes of the shape the ledger stores (`LoggedEntry::to_leaf`, with a current
    /// timestamp; only `logged_at`'s value differs from the imported ledger's leaves).
    pub leaves: Vec<Vec<u8>>,
    /// `env_end[k]`: bytes of the envelopes `0..k` as compact JSON (`Envelope::to_json`).
    pub env_end: Vec<u64>,
}

impl Prepared {
    /// # Errors
    /// If a signature's keyid names no member of the synthetic charter.
    pub fn new(w: &Workload) -> Result<Self> {
        phase("preparing PAEs, signature lists and leaf bytes");
        let mut by_keyid: HashMap<String, VerifyingKey> = HashMap::new();
        for m in &w.synth.members {
            by_keyid.insert(m.keyid(), m.signing_key().verifying_key());
        }
        let n = w.len();
        let paes: Vec<Vec<u8>> = (0..n)
            .into_par_iter()
            .map(|i| w.envelope(i).pae())
            .collect();
        let now = Timestamp::now();
        let leaves: Vec<Vec<u8>> = (0..n)
            .into_par_iter()
            .map(|i| {
                LoggedEntry {
                    index: i as u64,
                    logged_at: now.clone(),
                    governance: 0,
                    envelope: w.envelope(i).clone(),
                }
                .to_leaf()
            })
            .collect();
        let env_len: Vec<u64> = (0..n)
            .into_par_iter()
            .map(|i| w.envelope(i).to_json().len() as u64)
            .collect();
        let mut env_end = Vec::with_capacity(n + 1);
        env_end.push(0);
        for l in env_len {
            let last = env_end.last().copied().unwrap_or(0);
            env_end.push(last + l);
        }
        let mut sigs = Vec::new();
        let mut keys = Vec::new();
        let mut sig_entry = Vec::new();
        let mut sig_end = Vec::with_capacity(n + 1);
        sig_end.push(0);
        for i in 0..n {
            for s in &w.envelope(i).signatures {
                let key = by_keyid
                    .get(&s.keyid)
                    .with_context(|| format!("entry {i}: keyid {} is no member's", s.keyid))?;
                sigs.push(s.sig);
                keys.push(*key);
                sig_entry.push(i);
            }
            sig_end.push(sigs.len());
        }
        Ok(Self {
            paes,
            sigs,
            keys,
            sig_entry,
            sig_end,
            leaves,
            env_end,
        })
    }

    /// The messages of the signatures of entries `0..n`, in signature order.
    pub fn messages(&self, n: usize) -> Vec<&[u8]> {
        self.sig_entry[..self.sig_end[n]]
            .iter()
            .map(|&e| self.paes[e].as_slice())
            .collect()
    }
}
