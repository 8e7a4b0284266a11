//! RFC 6962 / RFC 9162 Merkle tree math, pure (no I/O): hashes, the stored-hash layout,
//! which stored hashes a root or a proof needs, building proofs from them, and verifying
//! proofs.
//!
//! Hashing is RFC 6962 section 2.1 (= RFC 9162 section 2.1.1): a leaf hash is
//! `SHA-256(0x00 || leaf)`, an interior node `SHA-256(0x01 || left || right)`, the empty
//! tree `SHA-256("")`.
//!
//! The stored-hash layout is Go's `golang.org/x/mod/sumdb/tlog` (Crosby and Wallach's
//! post-order numbering of the perfect subtrees), as ported by Cloudflare's `tlog_tiles`,
//! which does the proof math here. A store asks a `*_needs` function which [`StoredIndex`]es
//! to read, reads exactly those, and hands them in the same order to the matching `*_from`
//! function: O(log n) reads per root or proof. Appending goes through [`Frontier`], which
//! computes the hashes to store for each new leaf from O(log n) memory.
//!
//! `tlog_tiles` panics (`assert!`) on some inconsistent inputs and cannot tell a proof of the
//! wrong length from one that leads to the wrong root, so every input is validated here
//! before it is called: functions of this module return errors, never panic.

use std::cell::RefCell;
use std::fmt;

use base64::prelude::*;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use tlog_tiles::tlog as tl;

/// Domain-separation prefix of a leaf hash (RFC 6962 section 2.1, RFC 9162 section 2.1.1).
pub const LEAF_HASH_PREFIX: u8 = 0x00;

/// Domain-separation prefix of an interior node hash (RFC 6962 section 2.1, RFC 9162
/// section 2.1.1).
pub const NODE_HASH_PREFIX: u8 = 0x01;

/// The longest proof accepted by the verifiers: an inclusion or consistency proof in a tree
/// of at most 2^64 - 1 leaves has at most 64 hashes (RFC 9162 sections 2.1.3 and 2.1.4).
pub const MAX_PROOF_LEN: usize = 64;

/// The largest tree size the storage-facing functions accept (2^63 leaves): above it the
/// Crosby–Wallach stored-hash indexes no longer fit in a `u64`. No store comes near it; the
/// verifiers ([`verify_inclusion`], [`verify_consistency`]) accept any `u64` size.
pub const MAX_TREE_SIZE: u64 = 1 << 63;

/// A SHA-256 hash in the tree: a leaf hash, an interior node hash or a root.
///
/// Serialised (serde) as standard base64 with padding (RFC 4648 section 4), the encoding of
/// C2SP tlog-checkpoint root hashes; `Debug` shows hex.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

/// The root of the empty tree: `SHA-256("")` (RFC 6962 section 2.1, RFC 9162 section 2.1.1).
pub const EMPTY_ROOT: Hash = Hash(tl::EMPTY_HASH.0);

/// Why a string is not a [`Hash`](struct@Hash).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// Not canonical standard base64 (RFC 4648 section 4, with padding).
    #[error("not standard base64")]
    NotBase64,
    /// Not hexadecimal digits.
    #[error("not hexadecimal")]
    NotHex,
    /// Decoded to a length other than 32 bytes.
    #[error("a hash is 32 bytes, not {0}")]
    WrongLength(usize),
}

impl Hash {
    /// Standard base64 with padding (RFC 4648 section 4), as in C2SP checkpoints.
    pub fn to_base64(&self) -> String {
        BASE64_STANDARD.encode(self.0)
    }

    /// Parses standard base64 (RFC 4648 section 4, padded, canonical) of 32 bytes.
    ///
    /// # Errors
    /// [`HashError::NotBase64`] or [`HashError::WrongLength`].
    pub fn from_base64(s: &str) -> Result<Self, HashError> {
        let v = BASE64_STANDARD
            .decode(s)
            .map_err(|_| HashError::NotBase64)?;
        let len = v.len();
        Ok(Hash(v.try_into().map_err(|_| HashError::WrongLength(len))?))
    }

    /// Lower-case hex (RFC 4648 section 8).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits (either case).
    ///
    /// # Errors
    /// [`HashError::NotHex`] or [`HashError::WrongLength`].
    pub fn from_hex(s: &str) -> Result<Self, HashError> {
        let v = hex::decode(s).map_err(|_| HashError::NotHex)?;
        let len = v.len();
        Ok(Hash(v.try_into().map_err(|_| HashError::WrongLength(len))?))
    }

    /// Equality in time independent of where (or whether) the hashes differ.
    pub fn ct_eq(&self, other: &Hash) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    pub(crate) fn to_tl(self) -> tl::Hash {
        tl::Hash(self.0)
    }

    pub(crate) fn from_tl(h: tl::Hash) -> Self {
        Hash(h.0)
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
        Hash::from_base64(&s).map_err(serde::de::Error::custom)
    }
}

/// The leaf hash `SHA-256(0x00 || leaf)` (RFC 6962 section 2.1, RFC 9162 section 2.1.1).
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_HASH_PREFIX]);
    h.update(leaf);
    Hash(h.finalize().into())
}

/// The interior node hash `SHA-256(0x01 || left || right)` (RFC 6962 section 2.1, RFC 9162
/// section 2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE_HASH_PREFIX]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// An index into the sequence of stored hashes (not a leaf index): Crosby and Wallach's
/// post-order numbering as used by Go's `sumdb/tlog`, where leaf `n` writes its leaf hash at
/// [`stored_index_of_leaf`]`(n)` followed by the hashes of the perfect subtrees it completes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoredIndex(pub u64);

/// Why a root, a proof or a frontier could not be built from the stored hashes given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A leaf index is not below the tree size.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof needs `1 <= old <= new` (RFC 9162 section 2.1.4).
    #[error("a consistency proof needs 1 <= old size <= new size (got {old} and {new})")]
    BadSizes {
        /// The old tree size.
        old: u64,
        /// The new tree size.
        new: u64,
    },
    /// The tree size is above [`MAX_TREE_SIZE`].
    #[error("tree size {0} is above the largest supported size 2^63")]
    TooLarge(u64),
    /// The caller gave a different number of hashes than the `*_needs` function asked for.
    #[error("expected {expected} stored hashes, got {got}")]
    WrongCount {
        /// How many were asked for.
        expected: usize,
        /// How many were given.
        got: usize,
    },
}

/// Why a proof was refused: either it is malformed (it cannot be a proof for these sizes,
/// whatever the hashes) or it is well-formed but does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// Malformed: the leaf index is not below the tree size (this includes every index in a
    /// tree of size 0).
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// Malformed: a consistency proof from a tree of size 0 is meaningless.
    #[error("a consistency proof from tree size 0 is meaningless")]
    EmptyOldTree,
    /// Malformed: the new tree is smaller than the old tree.
    #[error("new tree size {new} is below old tree size {old}")]
    SizesOutOfOrder {
        /// The old tree size.
        old: u64,
        /// The new tree size.
        new: u64,
    },
    /// Malformed: more than [`MAX_PROOF_LEN`] hashes.
    #[error("{0} hashes is longer than any proof")]
    TooLong(usize),
    /// Malformed: not the number of hashes a proof for these sizes has.
    #[error("a proof for these sizes has {expected} hashes, not {got}")]
    WrongLength {
        /// The length RFC 9162 prescribes for these sizes.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// Well-formed, but the proof does not lead to the given root(s).
    #[error("the proof does not verify against the root")]
    Mismatch,
}

impl ProofError {
    /// Whether the proof was refused as malformed rather than for not verifying.
    pub fn is_malformed(&self) -> bool {
        !matches!(self, ProofError::Mismatch)
    }
}

/// The first stored index written for leaf `n` (its leaf hash): `2n - popcount(n)` (Go
/// `tlog.StoredHashIndex(0, n)`).
///
/// Leaves at or above [`MAX_TREE_SIZE`] have no representable index; the result then
/// saturates at `u64::MAX`, which no store reaches.
pub fn stored_index_of_leaf(n: u64) -> StoredIndex {
    if n >= MAX_TREE_SIZE {
        return StoredIndex(u64::MAX);
    }
    StoredIndex(tl::stored_hash_index(0, n))
}

/// How many hashes are stored for a tree of `size` leaves (Go `tlog.StoredHashCount`).
/// Saturates at `u64::MAX` above [`MAX_TREE_SIZE`].
pub fn stored_hash_count(size: u64) -> u64 {
    if size > MAX_TREE_SIZE {
        return u64::MAX;
    }
    tl::stored_hash_count(size)
}

/// A `tlog_tiles` hash reader that records which indexes are asked for and answers zeros.
struct Recorder(RefCell<Vec<u64>>);

impl tl::HashReader for Recorder {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tl::Hash>, tl::Error> {
        self.0.borrow_mut().extend_from_slice(indexes);
        Ok(vec![tl::Hash::default(); indexes.len()])
    }
}

/// A `tlog_tiles` hash reader that serves the given hashes in the order asked.
struct Serve<'a> {
    hashes: &'a [Hash],
    at: RefCell<usize>,
}

impl tl::HashReader for Serve<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tl::Hash>, tl::Error> {
        let mut at = self.at.borrow_mut();
        let end = at.saturating_add(indexes.len());
        // Never fewer than asked: tlog_tiles asserts on a short answer.
        let slice = self
            .hashes
            .get(*at..end)
            .ok_or(tl::Error::IndexesNotInTree)?;
        *at = end;
        Ok(slice.iter().map(|h| h.to_tl()).collect())
    }
}

fn record(f: impl FnOnce(&Recorder) -> Result<Vec<tl::Hash>, tl::Error>) -> Vec<StoredIndex> {
    let r = Recorder(RefCell::new(Vec::new()));
    // Inputs are validated by the callers; the recorder itself never fails.
    let _ = f(&r);
    r.0.into_inner().into_iter().map(StoredIndex).collect()
}

fn serve(
    expected: usize,
    hashes: &[Hash],
    f: impl FnOnce(&Serve<'_>) -> Result<Vec<tl::Hash>, tl::Error>,
) -> Result<Vec<Hash>, LogError> {
    let wrong = LogError::WrongCount {
        expected,
        got: hashes.len(),
    };
    if hashes.len() != expected {
        return Err(wrong);
    }
    let s = Serve {
        hashes,
        at: RefCell::new(0),
    };
    let out = f(&s).map_err(|_| wrong.clone())?;
    if *s.at.borrow() != expected {
        return Err(wrong);
    }
    Ok(out.into_iter().map(Hash::from_tl).collect())
}

fn check_size(size: u64) -> Result<(), LogError> {
    if size > MAX_TREE_SIZE {
        return Err(LogError::TooLarge(size));
    }
    Ok(())
}

fn check_index(index: u64, size: u64) -> Result<(), LogError> {
    check_size(size)?;
    if index >= size {
        return Err(LogError::IndexOutOfRange { index, size });
    }
    Ok(())
}

fn check_sizes(old: u64, new: u64) -> Result<(), LogError> {
    check_size(new)?;
    if old == 0 || old > new {
        return Err(LogError::BadSizes { old, new });
    }
    Ok(())
}

/// The stored hashes the root of a tree of `size` leaves is computed from: the roots of the
/// perfect subtrees that make up `[0, size)`, largest (leftmost) first, one per set bit of
/// `size` (Go `tlog.TreeHash`). Empty for size 0, and for sizes above [`MAX_TREE_SIZE`]
/// (which [`root_from`] refuses).
pub fn root_needs(size: u64) -> Vec<StoredIndex> {
    if size == 0 || size > MAX_TREE_SIZE {
        return Vec::new();
    }
    tl::sub_tree_index(0, size, Vec::new())
        .into_iter()
        .map(StoredIndex)
        .collect()
}

/// The root (RFC 6962 section 2.1 MTH, RFC 9162 section 2.1.1) of a tree of `size` leaves,
/// from the hashes [`root_needs`]`(size)` named, in that order. [`EMPTY_ROOT`] for size 0.
///
/// # Errors
/// [`LogError::TooLarge`] or [`LogError::WrongCount`].
pub fn root_from(size: u64, hashes: &[Hash]) -> Result<Hash, LogError> {
    check_size(size)?;
    let n = root_needs(size).len();
    if size == 0 {
        return serve(0, hashes, |_| Ok(Vec::new())).map(|_| EMPTY_ROOT);
    }
    let got = serve(n, hashes, |r| tl::tree_hash(size, r).map(|h| vec![h]))?;
    got.first().copied().ok_or(LogError::WrongCount {
        expected: n,
        got: hashes.len(),
    })
}

/// The stored hashes an inclusion proof (RFC 9162 section 2.1.3.1) for leaf `index` in a tree
/// of `size` leaves is built from (Go `tlog.ProveRecord`).
///
/// # Errors
/// [`LogError::IndexOutOfRange`] unless `index < size`; [`LogError::TooLarge`].
pub fn inclusion_needs(index: u64, size: u64) -> Result<Vec<StoredIndex>, LogError> {
    check_index(index, size)?;
    Ok(record(|r| tl::prove_record(size, index, r)))
}

/// The inclusion proof (audit path, RFC 6962 section 2.1.1 PATH, RFC 9162 section 2.1.3.1)
/// for leaf `index` in a tree of `size` leaves, from the hashes [`inclusion_needs`] named, in
/// that order.
///
/// # Errors
/// [`LogError::IndexOutOfRange`], [`LogError::TooLarge`] or [`LogError::WrongCount`].
pub fn inclusion_proof_from(index: u64, size: u64, hashes: &[Hash]) -> Result<Vec<Hash>, LogError> {
    let n = inclusion_needs(index, size)?.len();
    serve(n, hashes, |r| tl::prove_record(size, index, r))
}

/// The stored hashes a consistency proof (RFC 9162 section 2.1.4.1) from the tree of `old`
/// leaves to the tree of `new` leaves is built from (Go `tlog.ProveTree`). Empty when
/// `old == new`.
///
/// # Errors
/// [`LogError::BadSizes`] unless `1 <= old <= new`; [`LogError::TooLarge`].
pub fn consistency_needs(old: u64, new: u64) -> Result<Vec<StoredIndex>, LogError> {
    check_sizes(old, new)?;
    Ok(record(|r| tl::prove_tree(new, old, r)))
}

/// The consistency proof (RFC 6962 section 2.1.2 PROOF, RFC 9162 section 2.1.4.1) from the
/// tree of `old` leaves to the tree of `new` leaves, from the hashes [`consistency_needs`]
/// named, in that order.
///
/// # Errors
/// [`LogError::BadSizes`], [`LogError::TooLarge`] or [`LogError::WrongCount`].
pub fn consistency_proof_from(old: u64, new: u64, hashes: &[Hash]) -> Result<Vec<Hash>, LogError> {
    let n = consistency_needs(old, new)?.len();
    serve(n, hashes, |r| tl::prove_tree(new, old, r))
}

/// The largest power of two strictly below `n` (the RFC 6962 section 2.1 split `k`); `n >= 2`.
fn split(n: u64) -> u64 {
    1u64 << (n - 1).ilog2()
}

/// The number of hashes in an inclusion proof for `index < size` (RFC 9162 section 2.1.3.1).
fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let (mut lo, mut hi, mut len) = (0u64, size, 0usize);
    while hi - lo > 1 {
        let k = split(hi - lo);
        if index < lo + k {
            hi = lo + k;
        } else {
            lo += k;
        }
        len += 1;
    }
    len
}

/// The number of hashes in a consistency proof for `1 <= old <= new` (RFC 9162 section
/// 2.1.4.1).
fn consistency_proof_len(old: u64, new: u64) -> usize {
    let (mut lo, mut hi, mut len) = (0u64, new, 0usize);
    loop {
        if old == hi {
            return len + usize::from(lo != 0);
        }
        let k = split(hi - lo);
        if old <= lo + k {
            hi = lo + k;
        } else {
            lo += k;
        }
        len += 1;
    }
}

fn check_proof_len(expected: usize, proof: &[Hash]) -> Result<(), ProofError> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(ProofError::TooLong(proof.len()));
    }
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    Ok(())
}

/// After validation, the only error `check_record`/`check_tree` can return is
/// `InvalidProof`: the proof leads to another root.
fn mismatch(_: tl::Error) -> ProofError {
    ProofError::Mismatch
}

/// Verifies that `proof` shows the leaf with hash `leaf_hash` at `index` in the tree of
/// `size` leaves whose root is `root` (RFC 9162 section 2.1.3.2; the computation is
/// `tlog_tiles::tlog::check_record`, called once the inputs are known to be well-formed).
///
/// # Errors
/// Malformed: [`ProofError::IndexOutOfRange`] (including any index when `size == 0`),
/// [`ProofError::TooLong`], [`ProofError::WrongLength`]. Does not verify:
/// [`ProofError::Mismatch`].
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    check_proof_len(inclusion_proof_len(index, size), proof)?;
    let p: Vec<tl::Hash> = proof.iter().map(|h| h.to_tl()).collect();
    tl::check_record(&p, size, root.to_tl(), index, leaf_hash.to_tl()).map_err(mismatch)
}

/// Verifies that `proof` shows the tree of `new_size` leaves with root `new_root` is an
/// append-only extension of the tree of `old_size` leaves with root `old_root` (RFC 9162
/// section 2.1.4.2; the computation is `tlog_tiles::tlog::check_tree`, called once the inputs
/// are known to be well-formed).
///
/// Edge cases follow transparency-dev/merkle `proof.VerifyConsistency`: `new_size <
/// old_size` is malformed; `old_size == 0` is malformed as meaningless, even when `new_size
/// == 0`; `old_size == new_size` needs an empty proof and equal roots. C2SP tlog-witness
/// differs: it accepts a consistency proof from old size 0 with an empty proof. (An accord
/// ledger is never empty once created, so accord never needs that case.)
///
/// # Errors
/// Malformed: [`ProofError::EmptyOldTree`], [`ProofError::SizesOutOfOrder`],
/// [`ProofError::TooLong`], [`ProofError::WrongLength`]. Does not verify:
/// [`ProofError::Mismatch`].
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if new_size < old_size {
        return Err(ProofError::SizesOutOfOrder {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    check_proof_len(consistency_proof_len(old_size, new_size), proof)?;
    let p: Vec<tl::Hash> = proof.iter().map(|h| h.to_tl()).collect();
    tl::check_tree(&p, new_size, new_root.to_tl(), old_size, old_root.to_tl()).map_err(mismatch)
}

/// A compact range over leaves `[0, size)`: the roots of the perfect subtrees that make up
/// the tree (one per set bit of `size`), O(log n) memory.
///
/// Appending uses it to compute, for each new leaf, exactly the hashes Go's
/// `tlog.StoredHashes` would store, and the new root, without reading anything; streaming
/// verification uses it to recompute roots. A store rebuilds it on open from the O(log n)
/// hashes [`Frontier::needs`] names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Perfect-subtree roots, largest (leftmost) first; their heights are the set bits of
    /// `size`, highest first.
    nodes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of leaves so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends the leaf hash of leaf `size()` and returns the hashes to store at consecutive
    /// stored indexes from [`stored_index_of_leaf`]`(old size)`: the leaf hash, then the hash
    /// of each perfect subtree the leaf completes, lowest first (the output of Go
    /// `tlog.StoredHashes`).
    pub fn push(&mut self, leaf_hash: Hash) -> Vec<Hash> {
        let merges = self.size.trailing_ones();
        let mut out = Vec::with_capacity(merges as usize + 1);
        out.push(leaf_hash);
        let mut h = leaf_hash;
        for _ in 0..merges {
            // nodes.len() == popcount(size) >= trailing_ones(size), so this always pops.
            let Some(left) = self.nodes.pop() else { break };
            h = node_hash(&left, &h);
            out.push(h);
        }
        self.nodes.push(h);
        self.size = self.size.saturating_add(1);
        out
    }

    /// The root (RFC 6962 section 2.1 MTH) of the leaves so far; [`EMPTY_ROOT`] when empty.
    pub fn root(&self) -> Hash {
        let mut iter = self.nodes.iter().rev();
        let Some(&last) = iter.next() else {
            return EMPTY_ROOT;
        };
        iter.fold(last, |right, left| node_hash(left, &right))
    }

    /// The perfect-subtree roots, largest (leftmost) first: what [`Frontier::from_hashes`]
    /// takes back.
    pub fn hashes(&self) -> &[Hash] {
        &self.nodes
    }

    /// The stored indexes of the perfect-subtree roots that make up the frontier at `size`
    /// (at most 64, largest subtree first; the same as [`root_needs`]).
    pub fn needs(size: u64) -> Vec<StoredIndex> {
        root_needs(size)
    }

    /// Rebuilds the frontier at `size` from the hashes [`Frontier::needs`]`(size)` named, in
    /// that order.
    ///
    /// # Errors
    /// [`LogError::TooLarge`] or [`LogError::WrongCount`].
    pub fn from_hashes(size: u64, hashes: &[Hash]) -> Result<Self, LogError> {
        check_size(size)?;
        let expected = size.count_ones() as usize;
        if hashes.len() != expected {
            return Err(LogError::WrongCount {
                expected,
                got: hashes.len(),
            });
        }
        Ok(Self {
            size,
            nodes: hashes.to_vec(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // RFC 6962 section 2.1 reference, by the recursive definitions: MTH (2.1),
    // PATH (2.1.1), PROOF/SUBPROOF (2.1.2).
    fn k(n: usize) -> usize {
        let mut k = 1;
        while k << 1 < n {
            k <<= 1;
        }
        k
    }

    fn mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => Hash(Sha256::digest(b"").into()),
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
        let mut p;
        if m < k {
            p = path(m, &d[..k]);
            p.push(mth(&d[k..]));
        } else {
            p = path(m - k, &d[k..]);
            p.push(mth(&d[..k]));
        }
        p
    }

    fn proof(m: usize, d: &[Hash]) -> Vec<Hash> {
        subproof(m, d, true)
    }

    fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { vec![] } else { vec![mth(d)] };
        }
        let k = k(n);
        let mut p;
        if m <= k {
            p = subproof(m, &d[..k], b);
            p.push(mth(&d[k..]));
        } else {
            p = subproof(m - k, &d[k..], false);
            p.push(mth(&d[..k]));
        }
        p
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
            .collect()
    }

    /// A store: Frontier::push outputs written at their stored indexes.
    struct Store(Vec<Hash>);

    impl Store {
        fn build(d: &[Hash]) -> (Self, Frontier) {
            let mut f = Frontier::new();
            let mut v: Vec<Hash> = Vec::new();
            for (i, h) in d.iter().enumerate() {
                assert_eq!(stored_index_of_leaf(i as u64).0 as usize, v.len());
                v.extend(f.push(*h));
            }
            assert_eq!(v.len() as u64, stored_hash_count(d.len() as u64));
            (Store(v), f)
        }
        fn get(&self, idx: &[StoredIndex]) -> Vec<Hash> {
            idx.iter().map(|i| self.0[i.0 as usize]).collect()
        }
    }

    impl tl::HashReader for Store {
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tl::Hash>, tl::Error> {
            Ok(indexes
                .iter()
                .map(|&i| self.0[i as usize].to_tl())
                .collect())
        }
    }

    #[test]
    fn constants_and_hashing() {
        assert_eq!(EMPTY_ROOT, Hash(Sha256::digest(b"").into()));
        assert_eq!(
            EMPTY_ROOT.to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(leaf_hash(b"x"), Hash::from_tl(tl::record_hash(b"x")));
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        assert_eq!(
            node_hash(&a, &b),
            Hash::from_tl(tl::node_hash(a.to_tl(), b.to_tl()))
        );
        assert_eq!(Frontier::new().root(), EMPTY_ROOT);
        assert_eq!(root_from(0, &[]).unwrap(), EMPTY_ROOT);
    }

    #[test]
    fn hash_encodings() {
        let h = leaf_hash(b"hello");
        assert_eq!(Hash::from_base64(&h.to_base64()).unwrap(), h);
        assert_eq!(Hash::from_hex(&h.to_hex()).unwrap(), h);
        assert_eq!(Hash::from_hex(&h.to_hex().to_uppercase()).unwrap(), h);
        assert_eq!(format!("{h:?}"), format!("Hash({})", h.to_hex()));
        assert_eq!(h.to_string(), h.to_base64());
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{}\"", h.to_base64()));
        assert_eq!(serde_json::from_str::<Hash>(&json).unwrap(), h);
        assert!(serde_json::from_str::<Hash>("\"AAAA\"").is_err());
        assert_eq!(Hash::from_base64("AAAA"), Err(HashError::WrongLength(3)));
        assert_eq!(Hash::from_base64("!!"), Err(HashError::NotBase64));
        // URL-safe alphabet and missing padding are not standard base64.
        let url = BASE64_URL_SAFE.encode([0xfb; 32]);
        assert_eq!(Hash::from_base64(&url), Err(HashError::NotBase64));
        let unpadded = BASE64_STANDARD_NO_PAD.encode([1; 32]);
        assert_eq!(Hash::from_base64(&unpadded), Err(HashError::NotBase64));
        assert_eq!(Hash::from_hex("zz"), Err(HashError::NotHex));
        assert_eq!(Hash::from_hex("00"), Err(HashError::WrongLength(1)));
        assert!(h.ct_eq(&h));
        let mut g = h;
        g.0[31] ^= 1;
        assert!(!h.ct_eq(&g));
    }

    #[test]
    fn stored_index_formula_and_saturation() {
        for n in [0u64, 1, 2, 3, 7, 8, 1000, (1 << 40) + 5, MAX_TREE_SIZE - 1] {
            assert_eq!(stored_index_of_leaf(n).0, 2 * n - u64::from(n.count_ones()));
        }
        assert_eq!(stored_index_of_leaf(MAX_TREE_SIZE), StoredIndex(u64::MAX));
        assert_eq!(stored_index_of_leaf(u64::MAX), StoredIndex(u64::MAX));
        assert_eq!(stored_hash_count(MAX_TREE_SIZE), u64::MAX);
        assert_eq!(stored_hash_count(MAX_TREE_SIZE + 1), u64::MAX);
        assert_eq!(stored_hash_count(0), 0);
        assert_eq!(stored_hash_count(1), 1);
        assert_eq!(stored_hash_count(2), 3);
    }

    #[test]
    fn out_of_range_inputs_are_errors_not_panics() {
        use LogError::*;
        assert_eq!(
            inclusion_needs(5, 5),
            Err(IndexOutOfRange { index: 5, size: 5 })
        );
        assert_eq!(
            inclusion_needs(0, 0),
            Err(IndexOutOfRange { index: 0, size: 0 })
        );
        assert_eq!(consistency_needs(0, 5), Err(BadSizes { old: 0, new: 5 }));
        assert_eq!(consistency_needs(0, 0), Err(BadSizes { old: 0, new: 0 }));
        assert_eq!(consistency_needs(6, 5), Err(BadSizes { old: 6, new: 5 }));
        assert_eq!(consistency_needs(1, 1).unwrap(), vec![]);
        assert_eq!(
            root_from(5, &[]),
            Err(WrongCount {
                expected: 2,
                got: 0
            })
        );
        assert_eq!(
            root_from(0, &[EMPTY_ROOT]),
            Err(WrongCount {
                expected: 0,
                got: 1
            })
        );
        assert!(matches!(
            inclusion_proof_from(1, 5, &[Hash::default()]),
            Err(WrongCount { .. })
        ));
        assert!(matches!(
            consistency_proof_from(3, 5, &[]),
            Err(WrongCount { .. })
        ));
        assert!(matches!(
            Frontier::from_hashes(5, &[EMPTY_ROOT]),
            Err(WrongCount {
                expected: 2,
                got: 1
            })
        ));
        // Sizes whose stored indexes do not fit in a u64.
        for size in [MAX_TREE_SIZE + 1, u64::MAX] {
            assert_eq!(root_needs(size), vec![]);
            assert_eq!(Frontier::needs(size), vec![]);
            assert_eq!(root_from(size, &[]), Err(TooLarge(size)));
            assert_eq!(inclusion_needs(0, size), Err(TooLarge(size)));
            assert_eq!(inclusion_needs(size - 1, size), Err(TooLarge(size)));
            assert_eq!(consistency_needs(1, size), Err(TooLarge(size)));
            assert_eq!(Frontier::from_hashes(size, &[]), Err(TooLarge(size)));
        }
        // The largest supported size works and needs one hash.
        assert_eq!(root_needs(MAX_TREE_SIZE).len(), 1);
        assert_eq!(
            inclusion_needs(MAX_TREE_SIZE - 1, MAX_TREE_SIZE)
                .unwrap()
                .len(),
            63
        );
        // In a perfect tree every proof hash is one stored hash.
        for old in [1, 2, 3, MAX_TREE_SIZE / 3, MAX_TREE_SIZE - 1, MAX_TREE_SIZE] {
            assert_eq!(
                consistency_needs(old, MAX_TREE_SIZE).unwrap().len(),
                consistency_proof_len(old, MAX_TREE_SIZE)
            );
        }
    }

    #[test]
    fn verifier_classifies_malformed_apart_from_mismatch() {
        let d = leaves(5);
        let (store, f) = Store::build(&d);
        let root = f.root();
        let p = inclusion_proof_from(2, 5, &store.get(&inclusion_needs(2, 5).unwrap())).unwrap();
        assert_eq!(verify_inclusion(&d[2], 2, 5, &p, &root), Ok(()));
        assert_eq!(
            verify_inclusion(&d[3], 2, 5, &p, &root),
            Err(ProofError::Mismatch)
        );
        assert_eq!(
            verify_inclusion(&d[2], 2, 5, &p, &d[0]),
            Err(ProofError::Mismatch)
        );
        assert_eq!(
            verify_inclusion(&d[2], 5, 5, &p, &root),
            Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert_eq!(
            verify_inclusion(&d[2], 0, 0, &[], &EMPTY_ROOT),
            Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
        );
        assert_eq!(
            verify_inclusion(&d[2], 2, 5, &p[..2], &root),
            Err(ProofError::WrongLength {
                expected: 3,
                got: 2
            })
        );
        let mut longer = p.clone();
        longer.push(root);
        assert_eq!(
            verify_inclusion(&d[2], 2, 5, &longer, &root),
            Err(ProofError::WrongLength {
                expected: 3,
                got: 4
            })
        );
        assert_eq!(
            verify_inclusion(&d[2], 2, 5, &[root; 65], &root),
            Err(ProofError::TooLong(65))
        );
        assert!(!ProofError::Mismatch.is_malformed());
        assert!(ProofError::TooLong(65).is_malformed());

        let old = mth(&d[..3]);
        let c =
            consistency_proof_from(3, 5, &store.get(&consistency_needs(3, 5).unwrap())).unwrap();
        assert_eq!(verify_consistency(3, 5, &old, &root, &c), Ok(()));
        assert_eq!(
            verify_consistency(3, 5, &root, &root, &c),
            Err(ProofError::Mismatch)
        );
        assert_eq!(
            verify_consistency(3, 5, &old, &old, &c),
            Err(ProofError::Mismatch)
        );
        assert_eq!(
            verify_consistency(0, 5, &old, &root, &c),
            Err(ProofError::EmptyOldTree)
        );
        assert_eq!(
            verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[]),
            Err(ProofError::EmptyOldTree)
        );
        assert_eq!(
            verify_consistency(5, 3, &old, &root, &c),
            Err(ProofError::SizesOutOfOrder { old: 5, new: 3 })
        );
        assert_eq!(verify_consistency(5, 5, &root, &root, &[]), Ok(()));
        assert_eq!(
            verify_consistency(5, 5, &old, &root, &[]),
            Err(ProofError::Mismatch)
        );
        assert_eq!(
            verify_consistency(5, 5, &root, &root, &[root]),
            Err(ProofError::WrongLength {
                expected: 0,
                got: 1
            })
        );
        assert_eq!(
            verify_consistency(3, 5, &old, &root, &[]),
            Err(ProofError::WrongLength {
                expected: c.len(),
                got: 0
            })
        );
        assert_eq!(
            verify_consistency(3, 5, &old, &root, &[root; 65]),
            Err(ProofError::TooLong(65))
        );
        // Huge sizes verify without overflow or panic (and do not verify here).
        assert_eq!(
            verify_inclusion(&d[0], 0, u64::MAX, &[root; 64], &root),
            Err(ProofError::Mismatch)
        );
        assert!(verify_consistency(1, u64::MAX, &old, &root, &[root; 64]).is_err());
    }

    #[test]
    fn push_outputs_exactly_what_tlog_stored_hashes_would_store() {
        let d = leaves(70);
        let mut f = Frontier::new();
        let mut store = Store(Vec::new());
        for (n, h) in d.iter().enumerate() {
            let want: Vec<Hash> = tl::stored_hashes_for_record_hash(n as u64, h.to_tl(), &store)
                .unwrap()
                .into_iter()
                .map(Hash::from_tl)
                .collect();
            let got = f.push(*h);
            assert_eq!(got, want, "leaf {n}");
            store.0.extend(got);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn stored_hashes_agree_with_the_rfc_6962_definitions(
            n in 1usize..=300, a in any::<usize>(), b in any::<usize>(),
        ) {
            let d = leaves(n);
            let (store, frontier) = Store::build(&d);
            let nn = n as u64;
            let root = mth(&d);
            prop_assert_eq!(frontier.size(), nn);
            prop_assert_eq!(frontier.root(), root);
            prop_assert_eq!(root_from(nn, &store.get(&root_needs(nn))).unwrap(), root);
            prop_assert!(root_needs(nn).len() <= 64);

            // Rebuilt from O(log n) reads, the frontier continues to the same roots.
            let mut rebuilt = Frontier::from_hashes(nn, &store.get(&Frontier::needs(nn))).unwrap();
            prop_assert_eq!(&rebuilt, &frontier);
            let mut cont = frontier.clone();
            for i in 0..3u64 {
                let extra = leaf_hash(&(nn + i).to_be_bytes());
                prop_assert_eq!(rebuilt.push(extra), cont.push(extra));
                prop_assert_eq!(rebuilt.root(), cont.root());
            }
            let mut more = d.clone();
            more.extend((0..3u64).map(|i| leaf_hash(&(nn + i).to_be_bytes())));
            prop_assert_eq!(rebuilt.root(), mth(&more));

            // Inclusion (RFC 6962 2.1.1 PATH) from stored hashes.
            let m = a % n;
            let mm = m as u64;
            let p = inclusion_proof_from(mm, nn, &store.get(&inclusion_needs(mm, nn).unwrap())).unwrap();
            prop_assert_eq!(&p, &path(m, &d));
            prop_assert_eq!(p.len(), inclusion_proof_len(mm, nn));
            prop_assert_eq!(verify_inclusion(&d[m], mm, nn, &p, &root), Ok(()));
            if n > 1 {
                prop_assert_eq!(verify_inclusion(&d[(m + 1) % n], mm, nn, &p, &root), Err(ProofError::Mismatch));
                let mut bad = p.clone();
                bad[b % p.len()].0[b % 32] ^= 1 << (b % 8);
                prop_assert_eq!(verify_inclusion(&d[m], mm, nn, &bad, &root), Err(ProofError::Mismatch));
            }

            // Consistency (RFC 6962 2.1.2 PROOF) from stored hashes.
            let old = 1 + b % n;
            let oo = old as u64;
            let c = consistency_proof_from(oo, nn, &store.get(&consistency_needs(oo, nn).unwrap())).unwrap();
            prop_assert_eq!(&c, &proof(old, &d));
            prop_assert_eq!(c.len(), consistency_proof_len(oo, nn));
            let old_root = mth(&d[..old]);
            prop_assert_eq!(verify_consistency(oo, nn, &old_root, &root, &c), Ok(()));
            if old < n {
                prop_assert_eq!(verify_consistency(oo, nn, &root, &root, &c), Err(ProofError::Mismatch));
                let mut bad = c.clone();
                bad[a % c.len()].0[a % 32] ^= 1 << (a % 8);
                prop_assert_eq!(verify_consistency(oo, nn, &old_root, &root, &bad), Err(ProofError::Mismatch));
            }
        }

        #[test]
        fn verifiers_never_panic(
            leaf in any::<[u8; 32]>(), index in any::<u64>(), size in any::<u64>(),
            old in any::<u64>(), proof in proptest::collection::vec(any::<[u8; 32]>(), 0..70),
        ) {
            let proof: Vec<Hash> = proof.into_iter().map(Hash).collect();
            let _ = verify_inclusion(&Hash(leaf), index, size, &proof, &Hash(leaf));
            let _ = verify_inclusion(&Hash(leaf), index % size.max(1), size, &proof, &Hash(leaf));
            let _ = verify_consistency(old, size, &Hash(leaf), &Hash(leaf), &proof);
            let _ = verify_consistency(old % size.max(1), size, &Hash(leaf), &Hash(leaf), &proof);
            let _ = inclusion_needs(index, size);
            let _ = consistency_needs(old, size);
            let _ = root_from(size, &proof);
            let _ = inclusion_proof_from(index, size, &proof);
            let _ = consistency_proof_from(old, size, &proof);
            let _ = Frontier::from_hashes(size, &proof);
            let _ = stored_index_of_leaf(index);
            let _ = stored_hash_count(size);
        }
    }
}
