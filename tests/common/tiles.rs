//! A C2SP tlog-tiles reader's arithmetic, written from c2sp.org/tlog-tiles and RFC 6962
//! rather than taken from accord, so the end-to-end tests check the served and published
//! bytes against the spec.

use sha2::{Digest, Sha256};

/// `N` as the spec writes it: 3-digit groups, all but the last prefixed with `x`.
pub fn index_path(n: u64) -> String {
    let mut groups = vec![n % 1000];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(rest % 1000);
        rest /= 1000;
    }
    groups.reverse();
    let last = groups.len() - 1;
    groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            if i < last {
                format!("x{g:03}")
            } else {
                format!("{g:03}")
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The tiles of a tree of `count` items at one level: (N, width) for each.
pub fn tiles_for(count: u64) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = (0..count / 256).map(|n| (n, 256)).collect();
    if count % 256 > 0 {
        out.push((count / 256, count % 256));
    }
    out
}

pub fn tile_suffix(n: u64, w: u64) -> String {
    if w == 256 {
        index_path(n)
    } else {
        format!("{}.p/{w}", index_path(n))
    }
}

pub fn leaf_hash(leaf: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(leaf);
    h.finalize().into()
}

pub fn node_hash(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

/// RFC 6962 MTH.
pub fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest(b"").into(),
        1 => leaves[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}
