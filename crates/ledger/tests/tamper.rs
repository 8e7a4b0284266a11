//! Randomised tampering: hundreds of changes to a ledger's store, its database file, its
//! JSON Lines export and its audit bundle. Every change that alters what was signed or
//! logged must be refused (by `open`, `verify`, `verify-bundle`, or a restore that no longer
//! reaches the checkpoint's root), with an error that names where. Never a panic.
//!
//! Not detectable by design, and so not generated here: deleting the newest checkpoint or a
//! cosignature (a rollback of signed statements about the log, which holders of the newer
//! checkpoint detect with a consistency proof), documented in docs/GUARANTEES.md.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use accord_core::bundle::Bundle;
use accord_ledger::export::parse_jsonl_line;
use accord_ledger::synth::Synth;
use accord_ledger::{verify, ImportItem, Ledger, VerifyOptions};

struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
        eprintln!("seed {seed}");
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), t).unwrap();
        }
    }
}

struct Original {
    dir: tempfile::TempDir,
    size: u64,
    root: String,
    checkpoints: usize,
    cosigners: usize,
}

fn original() -> Original {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Synth::new(5, 4);
    let mut l = Ledger::create(dir.path(), &s.charter()).unwrap();
    for _ in 0..150 {
        l.append(&s.next_entry()).unwrap();
    }
    let first = l.issue_checkpoint(&s.log).unwrap();
    l.add_cosignature(first.seq, &s.members[1], 1_800_000_000)
        .unwrap();
    for _ in 0..150 {
        l.append(&s.next_entry()).unwrap();
    }
    let cp = l.issue_checkpoint(&s.log).unwrap();
    l.add_cosignature(cp.seq, &s.members[0], 1_800_000_000)
        .unwrap();
    l.add_cosignature(cp.seq, &s.members[3], 1_800_000_000)
        .unwrap();
    let r = verify(&l, &VerifyOptions::default(), &mut |_, _| {}).unwrap();
    Original {
        size: r.size,
        root: r.root.clone(),
        checkpoints: r.checkpoints,
        cosigners: r.latest_cosigners.len(),
        dir,
    }
}

/// Opens and audits `dir`: Ok((size, root, checkpoints, cosigners)) or the error text.
fn audit(dir: &Path) -> Result<(u64, String, usize, usize), String> {
    let l = Ledger::open(dir).map_err(|e| e.to_string())?;
    let r = verify(&l, &VerifyOptions::default(), &mut |_, _| {}).map_err(|e| e.to_string())?;
    Ok((r.size, r.root, r.checkpoints, r.latest_cosigners.len()))
}

#[test]
fn every_change_to_the_store_is_found() {
    let o = original();
    let raw = {
        let db = sled::open(o.dir.path()).unwrap();
        let t = db.open_tree("accord").unwrap();
        let all: Vec<(Vec<u8>, Vec<u8>)> = t
            .iter()
            .map(|r| r.unwrap())
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect();
        all
    };
    let last_x = raw
        .iter()
        .filter(|(k, _)| k[0] == b'X')
        .map(|(k, _)| k.clone())
        .max()
        .unwrap();
    // The stored leaves: full entry bundles (`B`) and the partial bundle's leaves (`L`).
    let bundles: Vec<&Vec<u8>> = raw
        .iter()
        .filter(|(k, _)| k[0] == b'B')
        .map(|(k, _)| k)
        .collect();
    let leaves: Vec<&Vec<u8>> = raw
        .iter()
        .filter(|(k, _)| k[0] == b'L')
        .map(|(k, _)| k)
        .collect();
    assert!(
        !bundles.is_empty() && leaves.len() > 2,
        "the ledger spans a full bundle"
    );
    let mut rng = Rng::new();
    let trials = 150;
    let mut found = 0;
    for trial in 0..trials {
        let work = tempfile::tempdir().unwrap();
        copy_dir(o.dir.path(), work.path());
        let what;
        {
            let db = sled::open(work.path()).unwrap();
            let t = db.open_tree("accord").unwrap();
            match rng.below(6) {
                0 => {
                    let (k, v) = &raw[rng.below(raw.len())];
                    let mut v = v.clone();
                    if v.is_empty() {
                        v.push(1);
                    } else {
                        let i = rng.below(v.len());
                        v[i] ^= 1 << rng.below(8);
                    }
                    what = format!("flip a bit of {:?}", String::from_utf8_lossy(&k[..1]));
                    t.insert(k, v).unwrap();
                }
                1 => {
                    let candidates: Vec<_> = raw
                        .iter()
                        .filter(|(k, _)| k[0] != b'Y' && *k != last_x)
                        .collect();
                    let (k, _) = candidates[rng.below(candidates.len())];
                    what = format!("delete a key of {:?}", String::from_utf8_lossy(&k[..1]));
                    t.remove(k).unwrap();
                }
                2 => {
                    let (a, b) = (
                        leaves[rng.below(leaves.len())],
                        leaves[rng.below(leaves.len())],
                    );
                    let (a, b) = if a == b {
                        (leaves[0], leaves[1])
                    } else {
                        (a, b)
                    };
                    what = "duplicate a leaf over another".into();
                    t.insert(b, t.get(a).unwrap().unwrap()).unwrap();
                }
                3 => {
                    let i = rng.below(leaves.len() - 1);
                    let (a, b) = (leaves[i], leaves[i + 1]);
                    let (va, vb) = (t.get(a).unwrap().unwrap(), t.get(b).unwrap().unwrap());
                    t.insert(a, vb).unwrap();
                    t.insert(b, va).unwrap();
                    what = "swap two adjacent leaves".into();
                }
                4 => {
                    let prefix = b"TBLSGMICPQKOX"[rng.below(13)];
                    let mut k = vec![prefix];
                    match prefix {
                        b'T' => {
                            k.push(0);
                            k.extend(u64::MAX.to_be_bytes());
                        }
                        b'B' | b'L' | b'X' => k.extend(u64::MAX.to_be_bytes()),
                        _ => k.extend_from_slice(b"forged\0c-000000001"),
                    }
                    what = format!("insert a key into {:?}", prefix as char);
                    t.insert(k, vec![0u8; 32]).unwrap();
                }
                _ => {
                    // Drop the last leaf, as if the last append had never been written.
                    let last = leaves.last().unwrap();
                    t.remove(last).unwrap();
                    what = "drop the last leaf".into();
                }
            }
            db.flush().unwrap();
        }
        match audit(work.path()) {
            Err(why) => {
                assert!(!why.is_empty());
                found += 1;
            }
            Ok(got) => panic!("trial {trial}: {what} was accepted: {got:?}"),
        }
    }
    assert_eq!(found, trials);
}

#[test]
fn flipped_bytes_in_the_database_file_never_pass_as_the_same_ledger() {
    let o = original();
    let mut rng = Rng::new();
    let db_len = std::fs::metadata(o.dir.path().join("db")).unwrap().len() as usize;
    let (mut refused, mut harmless) = (0, 0);
    for trial in 0..60 {
        let work = tempfile::tempdir().unwrap();
        copy_dir(o.dir.path(), work.path());
        let path = work.path().join("db");
        let mut bytes = std::fs::read(&path).unwrap();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(db_len);
            bytes[i] ^= 1 << rng.below(8);
        }
        std::fs::write(&path, bytes).unwrap();
        let result = std::panic::catch_unwind(|| audit(work.path()));
        match result {
            Err(_) => panic!("trial {trial}: a corrupted file made accord panic"),
            Ok(Err(_)) => refused += 1,
            Ok(Ok(got)) => {
                // The flip hit bytes sled does not use: the ledger must be the same one.
                assert_eq!(
                    got,
                    (o.size, o.root.clone(), o.checkpoints, o.cosigners),
                    "trial {trial}"
                );
                harmless += 1;
            }
        }
    }
    eprintln!("database file flips: {refused} refused, {harmless} in unused bytes");
}

#[test]
fn every_change_to_a_bundle_that_matters_is_refused() {
    let o = original();
    let l = Ledger::open(o.dir.path()).unwrap();
    let all: Vec<u64> = (0..o.size).collect();
    let bundle = l.export_bundle(&all[30..45]).unwrap();
    let (key, charter) = (l.log_key().clone(), l.charter_hash());
    drop(l);
    bundle.verify(Some(&key), Some(charter)).unwrap();
    let text = String::from_utf8(bundle.to_json()).unwrap();
    let mut rng = Rng::new();
    let mut refused = 0;
    for _ in 0..400 {
        let mut b = text.clone().into_bytes();
        match rng.below(3) {
            0 => {
                let i = rng.below(b.len());
                b[i] = b"AZaz09+/=\"{}[],: \n"[rng.below(18)];
            }
            1 => {
                let i = rng.below(b.len());
                b.remove(i);
            }
            _ => {
                let i = rng.below(b.len());
                let j = (i + 1 + rng.below(40)).min(b.len());
                let piece = b[i..j].to_vec();
                b.splice(i..i, piece);
            }
        }
        match Bundle::from_json(&b).and_then(|x| x.verify(Some(&key), Some(charter)).map(|_| x)) {
            Err(_) => refused += 1,
            // Accepted only if nothing that matters changed (white space, say).
            Ok(x) => assert_eq!(x, bundle, "an altered bundle verified"),
        }
    }
    // Structural changes.
    let mut cases: Vec<(&str, Bundle)> = Vec::new();
    let mut x = bundle.clone();
    x.entries.remove(1);
    cases.push(("drop a governance-bearing entry", x));
    let mut x = bundle.clone();
    x.entries.push(bundle.entries[2].clone());
    cases.push(("duplicate an entry", x));
    let mut x = bundle.clone();
    x.entries.swap(3, 4);
    cases.push(("reorder entries", x));
    let mut x = bundle.clone();
    x.entries[3].proof = bundle.entries[4].proof.clone();
    cases.push(("a proof for another entry", x));
    let mut x = bundle.clone();
    x.entries[3].index += 1;
    cases.push(("another index", x));
    let mut x = bundle.clone();
    x.charter_hash = "00".repeat(32);
    cases.push(("another charter", x));
    let mut x = bundle.clone();
    x.entries[3].proof.pop();
    cases.push(("a proof for another tree size", x));
    for (what, x) in cases {
        assert!(
            x.verify(Some(&key), Some(charter)).is_err(),
            "{what} was accepted"
        );
    }
    eprintln!("bundle: {refused} of 400 byte-level changes refused, the rest harmless");
    assert!(refused > 300);
}

fn restore(lines: &[String]) -> Result<(u64, String), String> {
    let dir = tempfile::tempdir().unwrap();
    let items: Vec<Result<ImportItem, String>> = lines
        .iter()
        .map(|l| parse_jsonl_line(l.as_bytes()).map_err(|e| e.to_string()))
        .collect();
    let mut iter = items.into_iter();
    let first = iter.next().ok_or("empty")??;
    let mut l = Ledger::create_at(
        dir.path(),
        &first.envelope,
        first.restore.as_ref().map(|r| r.logged_at.clone()),
    )
    .map_err(|e| e.to_string())?;
    let rest: Vec<Result<ImportItem, accord_core::governance::Rejection>> =
        std::iter::once(Ok(first))
            .chain(iter)
            .map(|r| r.map_err(accord_core::governance::Rejection::BadLine))
            .collect();
    let report = l.import(rest, &mut |_| {}).map_err(|e| e.to_string())?;
    if let Some((_, why)) = report.rejected {
        return Err(why.to_string());
    }
    Ok((l.size(), l.root().to_base64()))
}

#[test]
fn a_changed_json_lines_export_never_restores_to_the_checkpoint() {
    let o = original();
    let l = Ledger::open(o.dir.path()).unwrap();
    let mut out = Vec::new();
    l.export_jsonl(&mut out, None, &mut |_| {}).unwrap();
    drop(l);
    let lines: Vec<String> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        restore(&lines).unwrap(),
        (o.size, o.root.clone()),
        "an intact export restores exactly"
    );
    let mut rng = Rng::new();
    for trial in 0..60 {
        let mut x = lines.clone();
        let what = match rng.below(5) {
            0 => {
                x.remove(1 + rng.below(x.len() - 1));
                "drop a line"
            }
            1 => {
                // A repeated line is the same leaf at the same index: a resumed import
                // checks it against the entry already there and skips it.
                let i = rng.below(x.len());
                x.insert(i, x[i].clone());
                assert_eq!(
                    restore(&x).unwrap(),
                    (o.size, o.root.clone()),
                    "trial {trial}: a repeated line is checked and skipped"
                );
                continue;
            }
            2 => {
                let i = 1 + rng.below(x.len() - 2);
                x.swap(i, i + 1);
                "swap two lines"
            }
            3 => {
                let i = rng.below(x.len());
                let mut v: serde_json::Value = serde_json::from_str(&x[i]).unwrap();
                let p = v["envelope"]["payload"].as_str().unwrap().to_owned();
                let mut c: Vec<char> = p.chars().collect();
                let j = rng.below(c.len() - 4);
                c[j] = if c[j] == 'Q' { 'R' } else { 'Q' };
                v["envelope"]["payload"] = serde_json::json!(c.into_iter().collect::<String>());
                x[i] = v.to_string();
                "change a payload"
            }
            _ => {
                let i = rng.below(x.len());
                let mut v: serde_json::Value = serde_json::from_str(&x[i]).unwrap();
                v["logged_at"] = serde_json::json!("2030-01-01T00:00:00Z");
                x[i] = v.to_string();
                "change a logged_at"
            }
        };
        if let Ok(got) = restore(&x) {
            assert_ne!(
                got,
                (o.size, o.root.clone()),
                "trial {trial}: {what} restored to the checkpoint's root"
            );
        }
    }
}
