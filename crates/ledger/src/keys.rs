//! The store's key layout. Every key starts with one byte naming its table; integers are
//! 8-byte big-endian so keys sort in numeric order; ids never contain 0x00, which separates
//! the parts of composite keys.
//!
//! | prefix | key                                  | value                        |
//! |--------|--------------------------------------|------------------------------|
//! | `M`    | `Mformat`                            | layout name `accord-ledger/3`|
//! | `M`    | `Mmeta`                              | size, times, counts (JSON)   |
//! | `T`    | level (1 byte), tile index           | C2SP hash tile (32 * width)  |
//! | `B`    | bundle index                         | codec byte, full entry bundle|
//! | `L`    | index                                | leaf of the partial bundle   |
//! | `G`    | (nothing)                            | governance snapshot (JSON)   |
//! | `S`    | commitment id                        | commitment record (JSON)     |
//! | `I`    | entry id                             | index                        |
//! | `C`    | commitment id, 0, index              | empty (history)              |
//! | `P`    | party member id, 0, commitment id    | empty                        |
//! | `Q`    | country, 0, commitment id            | empty                        |
//! | `K`    | kind, 0, commitment id               | empty                        |
//! | `O`    | commodity, 0, commitment id, 0, index| empty                        |
//! | `X`    | checkpoint sequence number           | signed note from the log     |
//! | `Y`    | checkpoint seq, member id            | cosignature line             |
//!
//! `T`, `L`, `G`, `S` and `Mmeta` are replaced as the tree grows; everything else is written
//! once. The tables `I S C P Q K O` are *logical*: `index.rs` stores them as pages of up to
//! 128 keys each (one store key per page, not per item). docs/FORMAT.md section 11 is the same table with the value encodings.

pub(crate) const FORMAT_KEY: &[u8] = b"Mformat";
pub(crate) const FORMAT: &[u8] = b"accord-ledger/3";
/// The layouts before this one, refused with a way forward: before tiles (one key per leaf
/// and per Merkle node), and tiles with one store key per index item.
pub(crate) const FORMAT_OLD: [&[u8]; 2] = [b"accord-ledger/1", b"accord-ledger/2"];
pub(crate) const META_KEY: &[u8] = b"Mmeta";
pub(crate) const SNAPSHOT_KEY: &[u8] = b"G";

/// `S || commitment id`: what governance remembers of a commitment.
pub(crate) fn commitment_record(id: &str) -> Vec<u8> {
    parts(b'S', &[id.as_bytes()])
}

/// `I || entry id`: the index of the entry with that id.
pub(crate) fn id(id: &str) -> Vec<u8> {
    parts(b'I', &[id.as_bytes()])
}

/// `T || level || n`: the level-`level` Merkle tile `n` (full, or the partial right edge).
pub(crate) fn tile(level: u8, n: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(10);
    k.push(b'T');
    k.push(level);
    k.extend_from_slice(&n.to_be_bytes());
    k
}

/// Prefix of the leaves of the partial entry bundle.
pub(crate) const LEAF: u8 = b'L';

/// `L || index`: one leaf of the partial entry bundle.
pub(crate) fn leaf(index: u64) -> Vec<u8> {
    num(LEAF, index)
}

/// `B || n`: full entry bundle `n`, codec byte and bytes.
pub(crate) fn bundle(n: u64) -> Vec<u8> {
    num(b'B', n)
}

pub(crate) fn checkpoint(seq: u64) -> Vec<u8> {
    num(b'X', seq)
}

pub(crate) fn num(prefix: u8, n: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(prefix);
    k.extend_from_slice(&n.to_be_bytes());
    k
}

pub(crate) fn parts(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = vec![prefix];
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            k.push(0);
        }
        k.extend_from_slice(p);
    }
    k
}

/// The number at the end of a key.
pub(crate) fn tail_u64(key: &[u8]) -> Option<u64> {
    let n = key.len().checked_sub(8)?;
    Some(u64::from_be_bytes(key[n..].try_into().ok()?))
}

/// The part of `key` after `prefix`, up to the next 0 separator.
pub(crate) fn segment<'a>(key: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let rest = key.strip_prefix(prefix)?;
    Some(rest.split(|&b| b == 0).next().unwrap_or(rest))
}
