//! Component ceilings: what the raw building blocks do on the same data, with none of the
//! ledger's logic around them.

use std::path::Path;
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::util::{dir_bytes, phase};
use crate::workload::Prepared;

/// Entries per sled batch in the insert ceiling: the ledger's import group.
pub const INSERT_GROUP: usize = accord_ledger::ledger::IMPORT_GROUP;

#[derive(Clone, Debug, Default)]
pub struct Ceilings {
    pub signatures: u64,
    /// `ed25519_dalek::verify_batch` over rayon chunks, all cores.
    pub batch_secs: f64,
    /// `VerifyingKey::verify_strict` per signature, rayon, all cores.
    pub strict_secs: f64,
    /// SHA-256 of every leaf (with the RFC 6962 leaf prefix), one core.
    pub sha_secs: f64,
    pub leaf_bytes: u64,
    /// sled: one `apply_batch` per group, each followed by `flush`.
    pub insert_secs: f64,
    /// sled: iterate the same database, reopened, reading every value.
    pub scan_secs: f64,
    pub scan_bytes: u64,
    /// Bytes on disk of the raw sled database of the leaves.
    pub raw_db_bytes: u64,
}

/// Measures every ceiling on entries `0..n`, with a scratch sled database under `scratch`.
///
/// # Errors
/// sled or file-system failures, or a signature that does not verify.
pub fn measure(p: &Prepared, n: usize, batch: usize, scratch: &Path) -> Result<Ceilings> {
    let msgs = p.messages(n);
    let m = msgs.len();
    let sigs = &p.sigs[..m];
    let keys = &p.keys[..m];
    let mut c = Ceilings {
        signatures: m as u64,
        ..Ceilings::default()
    };

    phase(format!(
        "ceiling: ed25519 verify_batch of {m} signatures, chunks of {batch}, {} threads",
        rayon::current_num_threads()
    ));
    let t = Instant::now();
    let ok = msgs
        .par_chunks(batch)
        .zip(sigs.par_chunks(batch))
        .zip(keys.par_chunks(batch))
        .all(|((m, s), k)| ed25519_dalek::verify_batch(m, s, k).is_ok());
    c.batch_secs = t.elapsed().as_secs_f64();
    ensure!(ok, "batch verification failed on the synthetic signatures");

    phase(format!("ceiling: ed25519 verify_strict of {m} signatures"));
    let t = Instant::now();
    let ok = (0..m)
        .into_par_iter()
        .all(|i| keys[i].verify_strict(msgs[i], &sigs[i]).is_ok());
    c.strict_secs = t.elapsed().as_secs_f64();
    ensure!(ok, "strict verification failed on the synthetic signatures");

    let leaves = &p.leaves[..n];
    c.leaf_bytes = leaves.iter().map(|l| l.len() as u64).sum();
    phase(format!(
        "ceiling: SHA-256 of {n} leaves ({:.0} MB), one core",
        c.leaf_bytes as f64 / 1e6
    ));
    let t = Instant::now();
    let mut acc = 0u8;
    for leaf in leaves {
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(leaf);
        acc ^= h.finalize()[0];
    }
    c.sha_secs = t.elapsed().as_secs_f64();
    std::hint::black_box(acc);

    let dir = scratch.join(format!("raw-sled-{n}"));
    phase(format!(
        "ceiling: raw sled insert of {n} leaves, apply_batch + flush per {INSERT_GROUP}"
    ));
    {
        let db = open_raw(&dir)?;
        let t = Instant::now();
        for (g, group) in leaves.chunks(INSERT_GROUP).enumerate() {
            let mut b = sled::Batch::default();
            for (j, leaf) in group.iter().enumerate() {
                let i = (g * INSERT_GROUP + j) as u64;
                b.insert(&i.to_be_bytes()[..], leaf.as_slice());
            }
            db.apply_batch(b).context("sled apply_batch")?;
            db.flush().context("sled flush")?;
        }
        c.insert_secs = t.elapsed().as_secs_f64();
    }
    phase("ceiling: raw sled scan of the same database, reopened");
    {
        let db = open_raw(&dir)?;
        let t = Instant::now();
        let mut count = 0usize;
        for item in db.iter() {
            let (_, v) = item.context("sled scan")?;
            c.scan_bytes += v.len() as u64;
            count += 1;
        }
        c.scan_secs = t.elapsed().as_secs_f64();
        ensure!(count == n, "raw sled scan read {count} of {n} values");
    }
    c.raw_db_bytes = dir_bytes(&dir)?;
    std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    Ok(c)
}

fn open_raw(dir: &Path) -> Result<sled::Db> {
    sled::Config::new()
        .path(dir)
        .mode(sled::Mode::HighThroughput)
        .open()
        .with_context(|| format!("opening raw sled database {}", dir.display()))
}
