//! C2SP tlog-tiles (c2sp.org/tlog-tiles): the names of tiles and entry bundles, the entry
//! bundle encoding, and where each stored Merkle hash lives in a tile.
//!
//! The tree is cut into tiles of height 8. The level-`l` tile `n` is the sequence of the
//! Merkle tree hashes `MTH(D[(n*256 + i) * 256^l : (n*256 + i + 1) * 256^l])` for `i` from 0 to
//! 255: leaf hashes at level 0, and at level `l > 0` the roots of full level-`(l-1)` tiles. A
//! full tile is 256 hashes (8,192 bytes) and never changes; the rightmost tile of each level
//! is partial, of width `floor(size / 256^l) mod 256` (1 to 255; none when that is 0). A
//! partial tile of width `w` is the first `w` hashes of every wider version of the same tile,
//! so one stored copy, the widest, serves every width up to it.
//!
//! Entry bundles hold the leaves the same way: bundle `n` is leaves `256n .. 256n + w`, each as
//! a big-endian `uint16` length followed by the leaf bytes; a leaf is therefore at most
//! [`MAX_ENTRY_BYTES`].
//!
//! The tile math (which tile holds a stored hash, hashing inside a tile) is `tlog_tiles`'s port
//! of Go's `golang.org/x/mod/sumdb/tlog`; the path names here are C2SP's (`tile/<L>/<N>`,
//! `tile/entries/<N>`), not Go sumdb's (`tile/<H>/<L>/<N>`, `data`) that `tlog_tiles` writes.

use std::fmt;

use tlog_tiles::tile::Tile;

use crate::log::{Hash, StoredIndex};

/// Tile height: each tile spans 8 levels of the tree.
pub const HEIGHT: u8 = 8;
/// Hashes in a full tile, and entries in a full entry bundle.
pub const WIDTH: u32 = 256;
/// Bytes of one hash.
pub const HASH_BYTES: usize = 32;
/// Bytes of a full tile.
pub const FULL_TILE_BYTES: usize = WIDTH as usize * HASH_BYTES;
/// The largest leaf an entry bundle can hold: its length is a `uint16`.
pub const MAX_ENTRY_BYTES: usize = u16::MAX as usize;
/// The highest tile level C2SP allows in a path.
pub const MAX_PATH_LEVEL: u8 = 63;

/// Which sequence a tile belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// Merkle tree hashes at a tile level (0 = leaf hashes).
    Hashes {
        /// The tile level `L`.
        level: u8,
    },
    /// The leaves themselves (an entry bundle).
    Entries,
}

/// One tile or entry bundle of a given width: what a C2SP path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    /// Hashes at a level, or entries.
    pub kind: TileKind,
    /// The tile's index `N` within its level.
    pub n: u64,
    /// How many hashes or entries it holds: 1 to 256 (256 is a full tile).
    pub width: u32,
}

/// Why a path is not a C2SP tile path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TilePathError {
    /// The path is not of the form `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`.
    #[error("{path:?} is not a C2SP tile path: {why}")]
    Malformed {
        /// The path, cut to 80 bytes.
        path: String,
        /// What is wrong.
        why: &'static str,
    },
}

/// Why entry bundle bytes do not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryBundleError {
    /// A length prefix promises more bytes than remain.
    #[error("entry {0} of the bundle is cut short")]
    Truncated(usize),
    /// More than 256 entries.
    #[error("an entry bundle holds at most 256 entries")]
    TooMany,
    /// A leaf longer than [`MAX_ENTRY_BYTES`] cannot be put in a bundle.
    #[error("a leaf of {0} bytes does not fit an entry bundle (at most {MAX_ENTRY_BYTES})")]
    LeafTooLarge(usize),
}

fn malformed(path: &str, why: &'static str) -> TilePathError {
    let mut path = path.to_owned();
    if path.len() > 80 {
        let mut cut = 80;
        while !path.is_char_boundary(cut) {
            cut -= 1;
        }
        path.truncate(cut);
    }
    TilePathError::Malformed { path, why }
}

/// `N` as C2SP writes it: zero-padded 3-digit elements, all but the last prefixed with `x`
/// (1234067 is `x001/x234/067`).
fn write_index(f: &mut fmt::Formatter<'_>, n: u64) -> fmt::Result {
    let mut groups = Vec::with_capacity(7);
    let mut rest = n;
    loop {
        groups.push(rest % 1000);
        rest /= 1000;
        if rest == 0 {
            break;
        }
    }
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            write!(f, "x{g:03}/")?;
        } else {
            write!(f, "{g:03}")?;
        }
    }
    Ok(())
}

/// A decimal number without sign or leading zeros ("0" itself is fine).
fn plain_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

impl TileId {
    /// The level-`level` hash tile `n` of width `width`.
    pub fn hashes(level: u8, n: u64, width: u32) -> Self {
        Self {
            kind: TileKind::Hashes { level },
            n,
            width,
        }
    }

    /// Entry bundle `n` of width `width`.
    pub fn entries(n: u64, width: u32) -> Self {
        Self {
            kind: TileKind::Entries,
            n,
            width,
        }
    }

    /// Whether it is full (256 wide) and so immutable.
    pub fn is_full(&self) -> bool {
        self.width == WIDTH
    }

    /// The same tile at full width.
    pub fn full(&self) -> Self {
        Self {
            width: WIDTH,
            ..*self
        }
    }

    /// The level, for a hash tile.
    pub fn level(&self) -> Option<u8> {
        match self.kind {
            TileKind::Hashes { level } => Some(level),
            TileKind::Entries => None,
        }
    }

    /// The bytes a tile of this width has when it holds hashes: `32 * width`.
    pub fn hash_bytes(&self) -> usize {
        self.width as usize * HASH_BYTES
    }

    /// The smallest tree size that contains this tile at this width, or `None` if it lies
    /// beyond any `u64` tree.
    pub fn min_tree_size(&self) -> Option<u64> {
        let level = self.level().unwrap_or(0);
        let per = 1u64.checked_shl(u32::from(level) * 8)?;
        let span = 1u128 << (u32::from(level) * 8 + 8);
        let start = u128::from(self.n) * span;
        let size = start + u128::from(self.width) * u128::from(per);
        u64::try_from(size).ok()
    }

    /// Parses a C2SP path, strictly: `tile/<L>/<N>[.p/<W>]` with `L` 0 to 63, or
    /// `tile/entries/<N>[.p/<W>]`; `N` in canonical 3-digit groups, `W` 1 to 255, no leading
    /// zeros anywhere, nothing else. A path parses only if it is exactly how [`TileId`]
    /// writes it, so one tile has one name.
    ///
    /// # Errors
    /// [`TilePathError::Malformed`] saying what is wrong.
    pub fn parse(path: &str) -> Result<Self, TilePathError> {
        if path.len() > 64 {
            return Err(malformed(path, "too long"));
        }
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| malformed(path, "it must start with tile/"))?;
        let (head, rest) = rest
            .split_once('/')
            .ok_or_else(|| malformed(path, "no tile index"))?;
        let kind = if head == "entries" {
            TileKind::Entries
        } else {
            let level = plain_decimal(head)
                .filter(|l| *l <= u64::from(MAX_PATH_LEVEL))
                .ok_or_else(|| {
                    malformed(path, "the level must be 0 to 63 without leading zeros")
                })?;
            TileKind::Hashes { level: level as u8 }
        };
        let (index, width) = match rest.split_once(".p/") {
            Some((index, w)) => {
                let w = plain_decimal(w)
                    .filter(|w| (1..u64::from(WIDTH)).contains(w))
                    .ok_or_else(|| {
                        malformed(
                            path,
                            "a partial width must be 1 to 255 without leading zeros",
                        )
                    })?;
                (index, w as u32)
            }
            None => (rest, WIDTH),
        };
        let groups: Vec<&str> = index.split('/').collect();
        let mut n: u64 = 0;
        for (i, g) in groups.iter().enumerate() {
            let last = i + 1 == groups.len();
            let digits = if last {
                *g
            } else {
                g.strip_prefix('x').ok_or_else(|| {
                    malformed(path, "every index element but the last starts with x")
                })?
            };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed(path, "index elements are three digits"));
            }
            let d: u64 = digits
                .parse()
                .map_err(|_| malformed(path, "index elements are three digits"))?;
            n = n
                .checked_mul(1000)
                .and_then(|n| n.checked_add(d))
                .ok_or_else(|| malformed(path, "the index is larger than 2^64 - 1"))?;
        }
        let id = Self { kind, n, width };
        if id.to_string() != path {
            return Err(malformed(path, "not the canonical spelling of its index"));
        }
        Ok(id)
    }
}

impl fmt::Display for TileId {
    /// The C2SP path, without the log's URL prefix.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TileKind::Hashes { level } => write!(f, "tile/{level}/")?,
            TileKind::Entries => f.write_str("tile/entries/")?,
        }
        write_index(f, self.n)?;
        if self.width != WIDTH {
            write!(f, ".p/{}", self.width)?;
        }
        Ok(())
    }
}

/// Every hash tile of a tree of `size` leaves, full and partial, level by level (a tree of
/// 70,000 leaves: 273 full and one 112-wide at level 0, one full and one 17-wide at level 1,
/// one 1-wide at level 2). Empty for size 0.
pub fn hash_tiles(size: u64) -> Vec<TileId> {
    changed_hash_tiles(0, size)
}

/// The hash tiles that a tree growing from `old` to `new` leaves writes: the tiles that
/// became full, and the partial tile of each level at the new size (as `tlog_tiles`'
/// `Tile::new_tiles`, with C2SP names).
pub fn changed_hash_tiles(old: u64, new: u64) -> Vec<TileId> {
    if new <= old {
        return Vec::new();
    }
    Tile::new_tiles(HEIGHT, old, new)
        .into_iter()
        .map(|t| TileId::hashes(t.level(), t.level_index(), t.width()))
        .collect()
}

/// The entry bundles a tree growing from `old` to `new` leaves writes: those that became full,
/// and the partial one at the new size.
pub fn changed_entry_bundles(old: u64, new: u64) -> Vec<TileId> {
    if new <= old {
        return Vec::new();
    }
    let w = u64::from(WIDTH);
    let mut out: Vec<TileId> = (old / w..new / w)
        .map(|n| TileId::entries(n, WIDTH))
        .collect();
    if new % w != 0 {
        out.push(TileId::entries(new / w, (new % w) as u32));
    }
    out
}

/// The widest version of `tile`'s tile (same level and index) in a tree of `size` leaves:
/// full, or the partial right edge; `None` if that tile is empty at this size.
pub fn tile_at_size(kind: TileKind, n: u64, size: u64) -> Option<TileId> {
    let level = match kind {
        TileKind::Hashes { level } => u32::from(level),
        TileKind::Entries => 0,
    };
    let at_level = size.checked_shr(level * 8).unwrap_or(0);
    let start = n.checked_mul(u64::from(WIDTH))?;
    if at_level <= start {
        return None;
    }
    let width = (at_level - start).min(u64::from(WIDTH)) as u32;
    Some(TileId { kind, n, width })
}

/// The stored hash (Go's numbering, see [`crate::log`]) of the `i`-th hash of the level-`level`
/// tile `n`: the node at tree height `8 * level`, index `256 n + i`. `None` beyond `u64`.
pub fn stored_index_in_tile(level: u8, n: u64, i: u32) -> Option<StoredIndex> {
    if level >= 8 {
        return None;
    }
    let node = n.checked_mul(u64::from(WIDTH))?.checked_add(u64::from(i))?;
    // Nodes at height h exist for h*256^.. below 2^63 leaves only (log::MAX_TREE_SIZE).
    let leaves = u128::from(node + 1) << (u32::from(level) * 8);
    if leaves > u128::from(crate::log::MAX_TREE_SIZE) {
        return None;
    }
    Some(StoredIndex(tlog_tiles::tlog::stored_hash_index(
        level * 8,
        node,
    )))
}

/// The hash tile that holds stored hash `index` (Go's stored-hash numbering, see
/// [`crate::log`]), at the least width that includes it.
pub fn tile_of(index: StoredIndex) -> TileId {
    let t = Tile::from_index(HEIGHT, index.0);
    TileId::hashes(t.level(), t.level_index(), t.width())
}

/// Stored hash `index` computed from the bytes of the tile [`tile_of`] names, or any wider
/// version of it (a full tile, or a wider partial one).
///
/// # Errors
/// `None` if `data` is not at least as wide as that tile requires.
pub fn hash_from_tile(index: StoredIndex, data: &[u8]) -> Option<Hash> {
    let need = tile_of(index);
    let level = need.level()?;
    if data.len() < need.hash_bytes() || data.len() % HASH_BYTES != 0 {
        return None;
    }
    let width = u32::try_from(data.len() / HASH_BYTES).ok()?;
    let t = Tile::new(HEIGHT, level, need.n, width.min(WIDTH), false);
    t.hash_at_index(data, index.0).ok().map(|h| Hash(h.0))
}

/// The Merkle tree hash of a full tile's 256 hashes: the hash its tile at the level above
/// holds for it.
///
/// # Errors
/// `None` unless `tile` is exactly [`FULL_TILE_BYTES`].
pub fn tile_root(tile: &[u8]) -> Option<Hash> {
    if tile.len() != FULL_TILE_BYTES {
        return None;
    }
    Some(Hash(Tile::subtree_hash(tile).0))
}

/// Appends one leaf to entry bundle bytes: its length as a big-endian `uint16`, then the leaf.
///
/// # Errors
/// [`EntryBundleError::LeafTooLarge`] for a leaf over [`MAX_ENTRY_BYTES`].
pub fn push_entry(bundle: &mut Vec<u8>, leaf: &[u8]) -> Result<(), EntryBundleError> {
    let len = u16::try_from(leaf.len()).map_err(|_| EntryBundleError::LeafTooLarge(leaf.len()))?;
    bundle.extend_from_slice(&len.to_be_bytes());
    bundle.extend_from_slice(leaf);
    Ok(())
}

/// The leaves of an entry bundle, strictly: every byte belongs to a length-prefixed leaf and
/// there are at most 256.
///
/// # Errors
/// [`EntryBundleError`].
pub fn bundle_entries(bytes: &[u8]) -> Result<Vec<&[u8]>, EntryBundleError> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if out.len() == WIDTH as usize {
            return Err(EntryBundleError::TooMany);
        }
        let [a, b, tail @ ..] = rest else {
            return Err(EntryBundleError::Truncated(out.len()));
        };
        let len = usize::from(u16::from_be_bytes([*a, *b]));
        if tail.len() < len {
            return Err(EntryBundleError::Truncated(out.len()));
        }
        let (leaf, tail) = tail.split_at(len);
        out.push(leaf);
        rest = tail;
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::log::{self, leaf_hash, node_hash};

    #[test]
    fn paths_are_the_specs_examples() {
        // c2sp.org/tlog-tiles: "index 1234067 will be encoded as x001/x234/067".
        assert_eq!(
            TileId::hashes(0, 1_234_067, WIDTH).to_string(),
            "tile/0/x001/x234/067"
        );
        assert_eq!(TileId::hashes(1, 0, 17).to_string(), "tile/1/000.p/17");
        assert_eq!(
            TileId::entries(273, 112).to_string(),
            "tile/entries/273.p/112"
        );
        assert_eq!(
            TileId::hashes(2, 1000, WIDTH).to_string(),
            "tile/2/x001/000"
        );
        assert_eq!(
            TileId::entries(u64::MAX, WIDTH).to_string(),
            "tile/entries/x018/x446/x744/x073/x709/x551/615"
        );
        for p in [
            "tile/0/x001/x234/067",
            "tile/63/000",
            "tile/entries/000.p/1",
            "tile/entries/x018/x446/x744/x073/x709/x551/615",
            "tile/3/x999/999.p/255",
        ] {
            assert_eq!(TileId::parse(p).unwrap().to_string(), p);
        }
    }

    #[test]
    fn bad_paths_are_refused() {
        for p in [
            "",
            "tile",
            "tile/0",
            "tile/0/",
            "tile/64/000",
            "tile/00/000",
            "tile/-1/000",
            "tile/0/1",
            "tile/0/0001",
            "tile/0/x000/001",
            "tile/0/x1/001",
            "tile/0/001/002",
            "tile/0/x001/x002",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/01",
            "tile/0/000.p/",
            "tile/0/000.p",
            "tile/data/000",
            "tile/8/0/000",
            "tile/0/../000",
            "tile/entries/x018/x446/x744/x073/x709/x551/616",
            "tile/0/x999/x999/x999/x999/x999/x999/x999/999",
            "/tile/0/000",
            "tile/0/000/",
            "tile/0/abc",
        ] {
            assert!(TileId::parse(p).is_err(), "{p:?} accepted");
        }
    }

    #[test]
    fn the_specs_example_tree_of_70000() {
        let tiles = hash_tiles(70_000);
        let count = |level: u8, full: bool| {
            tiles
                .iter()
                .filter(|t| t.level() == Some(level) && t.is_full() == full)
                .count()
        };
        assert_eq!(count(0, true), 273);
        assert_eq!(count(1, true), 1);
        let partial: Vec<_> = tiles.iter().filter(|t| !t.is_full()).collect();
        assert_eq!(
            partial,
            [
                &TileId::hashes(0, 273, 112),
                &TileId::hashes(1, 1, 17),
                &TileId::hashes(2, 0, 1)
            ]
        );
        // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1
        // tile of width 1."
        assert_eq!(
            hash_tiles(256),
            [TileId::hashes(0, 0, 256), TileId::hashes(1, 0, 1)]
        );
        assert_eq!(
            tile_at_size(TileKind::Hashes { level: 1 }, 1, 70_000),
            Some(TileId::hashes(1, 1, 17))
        );
        assert_eq!(tile_at_size(TileKind::Entries, 274, 70_000), None);
        assert_eq!(TileId::hashes(0, 273, 112).min_tree_size(), Some(70_000));
    }

    #[test]
    fn stored_hashes_come_from_tiles() {
        // A tree of 600 leaves, its level-0 tiles from leaf hashes, the level-1 tile from the
        // roots of the full level-0 tiles; every stored hash then comes from some tile.
        let leaves: Vec<Hash> = (0..600u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let level0: Vec<Vec<u8>> = leaves
            .chunks(256)
            .map(|c| c.iter().flat_map(|h| h.0).collect())
            .collect();
        let level1: Vec<u8> = level0
            .iter()
            .filter_map(|t| tile_root(t))
            .flat_map(|h| h.0)
            .collect();
        let read = |i: StoredIndex| {
            let t = tile_of(i);
            let data = match t.level().unwrap() {
                0 => &level0[t.n as usize],
                1 => &level1,
                _ => unreachable!(),
            };
            hash_from_tile(i, data).unwrap()
        };
        for size in [1u64, 2, 255, 256, 257, 511, 512, 513, 600] {
            let hashes: Vec<Hash> = log::root_needs(size).into_iter().map(read).collect();
            let root = log::root_from(size, &hashes).unwrap();
            let mut want = leaves[..size as usize].to_vec();
            while want.len() > 1 {
                // RFC 6962 MTH by recursion on the largest power of two below n.
                fn mth(h: &[Hash]) -> Hash {
                    if h.len() == 1 {
                        return h[0];
                    }
                    let k = h.len().next_power_of_two() / 2;
                    node_hash(&mth(&h[..k]), &mth(&h[k..]))
                }
                want = vec![mth(&want)];
            }
            assert_eq!(root, want[0], "size {size}");
        }
        // A partial tile too narrow for the hash is refused, not misread.
        let i = log::stored_index_of_leaf(300);
        assert!(hash_from_tile(i, &level0[1][..32 * 10]).is_none());
    }

    #[test]
    fn entry_bundles_round_trip_and_refuse_bad_bytes() {
        let mut b = Vec::new();
        for leaf in [&b""[..], b"a", &vec![7u8; MAX_ENTRY_BYTES]] {
            push_entry(&mut b, leaf).unwrap();
        }
        let e = bundle_entries(&b).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[1], b"a");
        assert_eq!(e[2].len(), MAX_ENTRY_BYTES);
        assert!(push_entry(&mut Vec::new(), &vec![0; MAX_ENTRY_BYTES + 1]).is_err());
        assert_eq!(
            bundle_entries(&b[..b.len() - 1]),
            Err(EntryBundleError::Truncated(2))
        );
        assert_eq!(bundle_entries(&[0]), Err(EntryBundleError::Truncated(0)));
        let many: Vec<u8> = std::iter::repeat_n([0u8, 0], 257).flatten().collect();
        assert_eq!(bundle_entries(&many), Err(EntryBundleError::TooMany));
    }
}
