//! RFC 6962 / RFC 9162 Merkle tree math, pure: hashes, the stored-hash layout, which stored
//! hashes a root or proof needs, building proofs from them, and verifying proofs.
//!
//! The stored-hash layout is Go's `golang.org/x/mod/sumdb/tlog` (Crosby and Wallach's
//! post-order numbering), as ported by Cloudflare's `tlog_tiles`, which does the math here.
//! Storage asks the `*_needs` functions which [`StoredIndex`]es to read, reads exactly those,
//! and hands them to the matching `*_from` function: O(log n) reads per root or proof.

use std::cell::RefCell;
use std::fmt;

use base64::prelude::*;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use tlog_tiles::tlog as tl;

/// Domain-separation prefix of a leaf hash (RFC 6962 section 2.1).
pub const LEAF_HASH_PREFIX: u8 = 0x00;
/// Domain-separation prefix of an interior node hash (RFC 6962 section 2.1).
pub const NODE_HASH_PREFIX: u8 = 0x01;
/// Longest proof accepted: a tree of 2^64 leaves needs at most 64 hashes.
pub const MAX_PROOF_LEN: usize = 64;

/// A SHA-256 hash in the tree.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

/// The root of the empty tree: SHA-256 of the empty string.
pub const EMPTY_ROOT: Hash = Hash(tl::EMPTY_HASH.0);

impl Hash {
    /// Standard base64, as in C2SP checkpoints.
    pub fn to_base64(&self) -> String {
        BASE64_STANDARD.encode(self.0)
    }

    /// Parses standard base64 of 32 bytes.
    pub fn from_base64(s: &str) -> Option<Self> {
        let v = BASE64_STANDARD.decode(s).ok()?;
        Some(Hash(v.try_into().ok()?))
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Hash(out))
    }

    /// Equality in time independent of where the hashes differ.
    pub fn ct_eq(&self, other: &Hash) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    fn tl(self) -> tl::Hash {
        tl::Hash(self.0)
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Hash::from_base64(&s)
            .ok_or_else(|| serde::de::Error::custom("expected base64 of a 32-byte hash"))
    }
}

/// The RFC 6962 leaf hash `SHA-256(0x00 || leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_HASH_PREFIX]);
    h.update(leaf);
    Hash(h.finalize().into())
}

/// The RFC 6962 node hash `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE_HASH_PREFIX]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// An index into the stored-hash sequence (not a leaf index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoredIndex(pub u64);

/// Why a root or proof could not be built from the hashes given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// Sizes or indexes out of range.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The caller gave a different number of hashes than were asked for.
    #[error("expected {expected} stored hashes, got {got}")]
    WrongCount {
        /// Asked for.
        expected: usize,
        /// Given.
        got: usize,
    },
}

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The inputs cannot describe a valid proof (index not below size, size 0, too long).
    #[error("malformed proof: {0}")]
    Malformed(String),
    /// Well-formed, but it does not lead to the root.
    #[error("proof does not verify against the root")]
    Mismatch,
}

/// The first stored index written for leaf `n`.
pub fn stored_index_of_leaf(n: u64) -> StoredIndex {
    StoredIndex(tl::stored_hash_index(0, n))
}

/// How many hashes are stored for a tree of `size` leaves.
pub fn stored_hash_count(size: u64) -> u64 {
    tl::stored_hash_count(size)
}

/// A reader that records which indexes are asked for and answers with zeros.
struct Recorder(RefCell<Vec<u64>>);

impl tl::HashReader for Recorder {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tl::Hash>, tl::Error> {
        self.0.borrow_mut().extend_from_slice(indexes);
        Ok(vec![tl::Hash::default(); indexes.len()])
    }
}

/// A reader that serves given hashes in the order asked.
struct Serve<'a>(&'a [Hash], RefCell<usize>);

impl tl::HashReader for Serve<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tl::Hash>, tl::Error> {
        let mut at = self.1.borrow_mut();
        let end = *at + indexes.len();
        let slice = self.0.get(*at..end).ok_or(tl::Error::IndexesNotInTree)?;
        *at = end;
        Ok(slice.iter().map(|h| h.tl()).collect())
    }
}

fn record<T>(
    f: impl FnOnce(&Recorder) -> Result<T, tl::Error>,
) -> Result<Vec<StoredIndex>, LogError> {
    let r = Recorder(RefCell::new(Vec::new()));
    f(&r).map_err(|e| LogError::InvalidInput(e.to_string()))?;
    Ok(r.0.into_inner().into_iter().map(StoredIndex).collect())
}

fn serve<T>(
    expected: usize,
    hashes: &[Hash],
    f: impl FnOnce(&Serve<'_>) -> Result<T, tl::Error>,
) -> Result<T, LogError> {
    if hashes.len() != expected {
        return Err(LogError::WrongCount {
            expected,
            got: hashes.len(),
        });
    }
    let s = Serve(hashes, RefCell::new(0));
    f(&s).map_err(|e| LogError::InvalidInput(e.to_string()))
}

/// The stored hashes the root of a tree of `size` leaves needs.
pub fn root_needs(size: u64) -> Vec<StoredIndex> {
    if size == 0 {
        return Vec::new();
    }
    tl::sub_tree_index(0, size, Vec::new())
        .into_iter()
        .map(StoredIndex)
        .collect()
}

/// The root of a tree of `size` leaves from the hashes [`root_needs`] named.
///
/// # Errors
/// [`LogError::WrongCount`].
pub fn root_from(size: u64, hashes: &[Hash]) -> Result<Hash, LogError> {
    let n = root_needs(size).len();
    serve(n, hashes, |r| tl::tree_hash(size, r)).map(|h| Hash(h.0))
}

fn check_index(index: u64, size: u64) -> Result<(), LogError> {
    if index >= size {
        return Err(LogError::InvalidInput(format!(
            "leaf index {index} is not below tree size {size}"
        )));
    }
    Ok(())
}

/// The stored hashes an inclusion proof of leaf `index` in a tree of `size` needs.
///
/// # Errors
/// [`LogError::InvalidInput`] unless `index < size`.
pub fn inclusion_needs(index: u64, size: u64) -> Result<Vec<StoredIndex>, LogError> {
    check_index(index, size)?;
    record(|r| tl::prove_record(size, index, r))
}

/// The RFC 9162 section 2.1.3.1 inclusion proof from the hashes [`inclusion_needs`] named.
///
/// # Errors
/// [`LogError`].
pub fn inclusion_proof_from(index: u64, size: u64, hashes: &[Hash]) -> Result<Vec<Hash>, LogError> {
    let n = inclusion_needs(index, size)?.len();
    serve(n, hashes, |r| tl::prove_record(size, index, r))
        .map(|p| p.into_iter().map(|h| Hash(h.0)).collect())
}

fn check_sizes(old: u64, new: u64) -> Result<(), LogError> {
    if old == 0 || old > new {
        return Err(LogError::InvalidInput(format!(
            "a consistency proof needs 1 <= old size <= new size (got {old} and {new})"
        )));
    }
    Ok(())
}

/// The stored hashes a consistency proof from `old` to `new` leaves needs.
///
/// # Errors
/// [`LogError::InvalidInput`] unless `1 <= old <= new`.
pub fn consistency_needs(old: u64, new: u64) -> Result<Vec<StoredIndex>, LogError> {
    check_sizes(old, new)?;
    record(|r| tl::prove_tree(new, old, r))
}

/// The RFC 9162 section 2.1.4.1 consistency proof from the hashes [`consistency_needs`]
/// named.
///
/// # Errors
/// [`LogError`].
pub fn consistency_proof_from(old: u64, new: u64, hashes: &[Hash]) -> Result<Vec<Hash>, LogError> {
    let n = consistency_needs(old, new)?.len();
    serve(n, hashes, |r| tl::prove_tree(new, old, r))
        .map(|p| p.into_iter().map(|h| Hash(h.0)).collect())
}

/// Verifies that `proof` shows leaf hash `leaf` at `index` in the tree of `size` leaves with
/// root `root` (RFC 9162 section 2.1.3.2, by `tlog_tiles::tlog::check_record` once the
/// inputs are known to be in range).
///
/// # Errors
/// [`ProofError::Malformed`] for impossible inputs, [`ProofError::Mismatch`] otherwise.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::Malformed(format!(
            "leaf index {index} is not below tree size {size}"
        )));
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(ProofError::Malformed(format!(
            "{} hashes is longer than any proof",
            proof.len()
        )));
    }
    let p: Vec<tl::Hash> = proof.iter().map(|h| h.tl()).collect();
    tl::check_record(&p, size, root.tl(), index, leaf.tl()).map_err(proof_error)
}

fn proof_error(e: tl::Error) -> ProofError {
    match e {
        tl::Error::InvalidProof => ProofError::Mismatch,
        e => ProofError::Malformed(e.to_string()),
    }
}

/// Verifies that `proof` shows the tree of `new_size` leaves with root `new_root` extends the
/// tree of `old_size` leaves with root `old_root` (RFC 9162 section 2.1.4.2).
///
/// Edge cases follow transparency-dev/merkle: `old_size == 0` is refused as meaningless (even
/// when `new_size == 0`); `old_size == new_size` needs an empty proof and equal roots. C2SP
/// tlog-witness differs: it accepts an old size of 0 with an empty proof. An accord ledger
/// never has size 0 (entry 0 is the charter), so accord never needs that case.
///
/// # Errors
/// [`ProofError::Malformed`] for impossible inputs, [`ProofError::Mismatch`] otherwise.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size == 0 {
        return Err(ProofError::Malformed(
            "a consistency proof from size 0 is meaningless".into(),
        ));
    }
    if new_size < old_size {
        return Err(ProofError::Malformed(format!(
            "new size {new_size} is below old size {old_size}"
        )));
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(ProofError::Malformed(format!(
            "{} hashes is longer than any proof",
            proof.len()
        )));
    }
    let p: Vec<tl::Hash> = proof.iter().map(|h| h.tl()).collect();
    tl::check_tree(&p, new_size, new_root.tl(), old_size, old_root.tl()).map_err(proof_error)
}

/// A compact range over leaves `[0, size)`: the roots of the perfect subtrees that make up
/// the tree, O(log n) of them. Appending and streaming verification use it to compute the
/// stored hashes and the root without reading anything else.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Subtree roots from the largest (leftmost) to the smallest, with their levels.
    nodes: Vec<(u8, Hash)>,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Leaves so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; returns the hashes to store from
    /// `stored_index_of_leaf(old size)` on: the leaf hash, then each completed subtree.
    pub fn push(&mut self, leaf: Hash) -> Vec<Hash> {
        let mut out = vec![leaf];
        let mut h = leaf;
        let mut level = 0u8;
        while let Some(&(l, left)) = self.nodes.last() {
            if l != level {
                break;
            }
            self.nodes.pop();
            h = node_hash(&left, &h);
            level += 1;
            out.push(h);
        }
        self.nodes.push((level, h));
        self.size += 1;
        out
    }

    /// The root (RFC 6962 MTH) of the leaves so far.
    pub fn root(&self) -> Hash {
        let mut iter = self.nodes.iter().rev();
        let Some(&(_, mut h)) = iter.next() else {
            return EMPTY_ROOT;
        };
        for (_, left) in iter {
            h = node_hash(left, &h);
        }
        h
    }

    /// The stored hashes that make up the frontier at `size`.
    pub fn needs(size: u64) -> Vec<StoredIndex> {
        root_needs(size)
    }

    /// Rebuilds the frontier at `size` from the hashes [`Frontier::needs`] named.
    ///
    /// # Errors
    /// [`LogError::WrongCount`].
    pub fn from_hashes(size: u64, hashes: &[Hash]) -> Result<Self, LogError> {
        let needs = Self::needs(size);
        if needs.len() != hashes.len() {
            return Err(LogError::WrongCount {
                expected: needs.len(),
                got: hashes.len(),
            });
        }
        // The subtrees of [0, size) are the set bits of size, largest first.
        let mut nodes = Vec::with_capacity(hashes.len());
        let mut i = 0;
        for level in (0..64u8).rev() {
            if size & (1u64 << level) != 0 {
                let h = hashes.get(i).copied().ok_or(LogError::WrongCount {
                    expected: needs.len(),
                    got: hashes.len(),
                })?;
                nodes.push((level, h));
                i += 1;
            }
        }
        Ok(Self { size, nodes })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // RFC 6962 section 2.1 reference: MTH, PATH and PROOF by their recursive definitions.
    fn k(n: usize) -> usize {
        let mut k = 1;
        while k << 1 < n {
            k <<= 1;
        }
        k
    }

    fn mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => EMPTY_ROOT,
            1 => d[0],
            n => node_hash(&mth(&d[..k(n)]), &mth(&d[k(n)..])),
        }
    }

    fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
        let n = d.len();
        if n <= 1 {
            return vec![];
        }
        let k = k(n);
        if m < k {
            let mut p = path(m, &d[..k]);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = path(m - k, &d[k..]);
            p.push(mth(&d[..k]));
            p
        }
    }

    fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { vec![] } else { vec![mth(d)] };
        }
        let k = k(n);
        if m <= k {
            let mut p = subproof(m, &d[..k], b);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = subproof(m - k, &d[k..], false);
            p.push(mth(&d[..k]));
            p
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
            .collect()
    }

    struct Stored(Vec<Hash>);

    impl Stored {
        fn build(d: &[Hash]) -> (Self, Frontier) {
            let mut f = Frontier::new();
            let mut v = Vec::new();
            for (i, h) in d.iter().enumerate() {
                assert_eq!(stored_index_of_leaf(i as u64).0 as usize, v.len());
                v.extend(f.push(*h));
            }
            assert_eq!(v.len() as u64, stored_hash_count(d.len() as u64));
            (Stored(v), f)
        }
        fn get(&self, idx: &[StoredIndex]) -> Vec<Hash> {
            idx.iter().map(|i| self.0[i.0 as usize]).collect()
        }
    }

    proptest! {
        #[test]
        fn stored_hashes_agree_with_the_rfc_definitions(n in 1usize..200, a in 0usize..200, b in 0usize..200) {
            let d = leaves(n);
            let (store, frontier) = Stored::build(&d);
            let root = mth(&d);
            prop_assert_eq!(frontier.root(), root);
            prop_assert_eq!(root_from(n as u64, &store.get(&root_needs(n as u64))).unwrap(), root);
            let rebuilt = Frontier::from_hashes(n as u64, &store.get(&Frontier::needs(n as u64))).unwrap();
            prop_assert_eq!(&rebuilt, &frontier);

            let m = a % n;
            let proof = inclusion_proof_from(m as u64, n as u64, &store.get(&inclusion_needs(m as u64, n as u64).unwrap())).unwrap();
            prop_assert_eq!(&proof, &path(m, &d));
            prop_assert!(verify_inclusion(&d[m], m as u64, n as u64, &proof, &root).is_ok());
            if n > 1 {
                prop_assert!(verify_inclusion(&d[(m + 1) % n], m as u64, n as u64, &proof, &root).is_err());
            }

            let old = 1 + b % n;
            let proof = consistency_proof_from(old as u64, n as u64, &store.get(&consistency_needs(old as u64, n as u64).unwrap())).unwrap();
            let want = if old == n { vec![] } else { subproof(old, &d, true) };
            prop_assert_eq!(&proof, &want);
            prop_assert!(verify_consistency(old as u64, n as u64, &mth(&d[..old]), &root, &proof).is_ok());
            if old < n {
                prop_assert!(verify_consistency(old as u64, n as u64, &root, &root, &proof).is_err());
            }
        }
    }

    #[test]
    fn wrong_counts_and_ranges_are_errors_not_panics() {
        assert!(inclusion_needs(5, 5).is_err());
        assert!(consistency_needs(0, 5).is_err());
        assert!(consistency_needs(6, 5).is_err());
        assert!(root_from(5, &[]).is_err());
        assert!(inclusion_proof_from(1, 5, &[Hash::default()]).is_err());
        assert!(verify_inclusion(
            &Hash::default(),
            0,
            1,
            &vec![Hash::default(); 65],
            &Hash::default()
        )
        .is_err());
    }
}
