//! The Merkle tree stored as C2SP tiles of height 8 (see `accord_core::tiles`): one store key
//! per tile, `T || level || n`. A full tile (256 hashes, 8,192 bytes) is written once and then
//! read through a small cache; the rightmost tile of each level is partial and is rewritten,
//! in the same atomic batch as the entries that grow it. The partial tiles (at most one per
//! level, three levels for 16M entries) are also kept in memory, as is the frontier of
//! perfect subtrees that gives the current root.
//!
//! Every hash a root or proof needs is then read from at most one tile: O(1) store reads per
//! level, instead of one per node.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use accord_core::log::{self, Frontier, Hash, StoredIndex};
use accord_core::tiles::{self, TileKind, FULL_TILE_BYTES, WIDTH};

use crate::error::LedgerError;
use crate::keys;
use crate::ledger::corrupt;
use crate::store::{Store, WriteBatch};

/// Full tiles kept in memory by a reader (8 KiB each): enough for the upper levels and the
/// recent bottom tiles a burst of proofs touches.
const TILE_CACHE: usize = 1024;

/// The tree's right edge and a cache of full tiles.
#[derive(Clone)]
pub(crate) struct TileTree {
    size: u64,
    frontier: Frontier,
    /// `edge[l]`: the hashes of the partial tile at level `l` (fewer than 256).
    edge: Vec<Vec<Hash>>,
    /// Full tiles completed since the last [`TileTree::stage`], with their bytes.
    completed: Vec<(u8, u64, Vec<u8>)>,
    /// Levels whose partial tile changed since the last stage.
    dirty: Vec<bool>,
    cache: Arc<Mutex<TileCache>>,
}

#[derive(Default)]
struct TileCache {
    tiles: HashMap<(u8, u64), Arc<Vec<u8>>>,
    order: std::collections::VecDeque<(u8, u64)>,
}

impl TileCache {
    fn get(&self, k: (u8, u64)) -> Option<Arc<Vec<u8>>> {
        self.tiles.get(&k).cloned()
    }

    fn insert(&mut self, k: (u8, u64), v: Arc<Vec<u8>>) {
        if self.tiles.insert(k, v).is_none() {
            self.order.push_back(k);
            while self.order.len() > TILE_CACHE {
                if let Some(old) = self.order.pop_front() {
                    self.tiles.remove(&old);
                }
            }
        }
    }
}

fn hashes_of(bytes: &[u8]) -> Vec<Hash> {
    bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            Hash(h)
        })
        .collect()
}

fn bytes_of(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

/// The index of the partial tile at `level` in a tree of `size` leaves.
fn partial_index(level: usize, size: u64) -> u64 {
    let shift = (level as u32 + 1) * 8;
    size.checked_shr(shift).unwrap_or(0)
}

impl TileTree {
    /// The empty tree.
    pub(crate) fn new() -> Self {
        Self {
            size: 0,
            frontier: Frontier::new(),
            edge: vec![Vec::new()],
            completed: Vec::new(),
            dirty: vec![false],
            cache: Arc::new(Mutex::new(TileCache::default())),
        }
    }

    /// Loads the tree of `size` leaves from `store`: the partial tile of every level, then
    /// the frontier from the tiles. Checks each partial tile's width against `size`.
    ///
    /// # Errors
    /// [`LedgerError::Corrupt`] naming the tile that is missing or the wrong width.
    pub(crate) fn load(store: &dyn Store, size: u64) -> Result<Self, LedgerError> {
        let mut t = Self::new();
        t.size = size;
        t.edge.clear();
        t.dirty.clear();
        let mut level = 0usize;
        loop {
            let at_level = size.checked_shr(level as u32 * 8).unwrap_or(0);
            if at_level == 0 && level > 0 {
                break;
            }
            let width = (at_level % u64::from(WIDTH)) as usize;
            let n = partial_index(level, size);
            let mut hashes = Vec::new();
            if width > 0 {
                let key = keys::tile(level as u8, n);
                let bytes = store.get(&key)?.ok_or_else(|| {
                    corrupt(
                        format!(
                            "tile {}",
                            tiles::TileId::hashes(level as u8, n, width as u32)
                        ),
                        "missing",
                    )
                })?;
                if bytes.len() != width * 32 {
                    return Err(corrupt(
                        format!(
                            "tile {}",
                            tiles::TileId::hashes(level as u8, n, width as u32)
                        ),
                        format!(
                            "{} bytes, but a tree of {size} needs {}",
                            bytes.len(),
                            width * 32
                        ),
                    ));
                }
                hashes = hashes_of(&bytes);
            }
            t.edge.push(hashes);
            t.dirty.push(false);
            level += 1;
            if at_level < u64::from(WIDTH) {
                break;
            }
        }
        let needs = Frontier::needs(size);
        let hashes = t.read_hashes(store, &needs)?;
        t.frontier = Frontier::from_hashes(size, &hashes)
            .map_err(|e| corrupt("Merkle tiles", e.to_string()))?;
        Ok(t)
    }

    /// Leaves in the tree.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// The current root.
    pub(crate) fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// Appends a leaf hash. Tiles it fills are written by the next [`TileTree::stage`].
    pub(crate) fn push(&mut self, leaf_hash: Hash) {
        self.frontier.push(leaf_hash);
        let mut h = leaf_hash;
        let mut level = 0usize;
        loop {
            if self.edge.len() <= level {
                self.edge.push(Vec::new());
                self.dirty.push(false);
            }
            self.edge[level].push(h);
            self.dirty[level] = true;
            if self.edge[level].len() < WIDTH as usize {
                break;
            }
            let full = bytes_of(&std::mem::take(&mut self.edge[level]));
            let n = partial_index(level, self.size);
            // tile_root cannot fail on exactly 256 hashes.
            h = tiles::tile_root(&full).unwrap_or_default();
            self.completed.push((level as u8, n, full));
            level += 1;
        }
        self.size += 1;
    }

    /// Adds the writes for everything pushed since the last stage to `batch`: each tile that
    /// became full (replacing its partial version under the same key) and the partial tile of
    /// each level that changed.
    pub(crate) fn stage(&mut self, batch: &mut WriteBatch) {
        for (level, n, bytes) in self.completed.drain(..) {
            batch.replace(keys::tile(level, n), bytes);
        }
        for level in 0..self.edge.len() {
            if !self.dirty[level] {
                continue;
            }
            self.dirty[level] = false;
            if !self.edge[level].is_empty() {
                let n = partial_index(level, self.size);
                batch.replace(keys::tile(level as u8, n), bytes_of(&self.edge[level]));
            }
        }
    }

    /// The bytes of the level-`level` tile `n` as far as the tree has it: the partial edge
    /// from memory, a full tile from the cache or the store.
    pub(crate) fn tile_bytes(
        &self,
        store: &dyn Store,
        level: u8,
        n: u64,
    ) -> Result<Option<Arc<Vec<u8>>>, LedgerError> {
        let Some(widest) = tiles::tile_at_size(TileKind::Hashes { level }, n, self.size) else {
            return Ok(None);
        };
        if !widest.is_full() {
            let edge = self.edge.get(level as usize).map(|e| bytes_of(e));
            return Ok(edge.map(Arc::new));
        }
        let cache = || self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = cache().get((level, n)) {
            return Ok(Some(t));
        }
        let bytes = store
            .get(&keys::tile(level, n))?
            .ok_or_else(|| corrupt(format!("tile {widest}"), "missing"))?;
        if bytes.len() != FULL_TILE_BYTES {
            return Err(corrupt(
                format!("tile {widest}"),
                format!("{} bytes; a full tile has {FULL_TILE_BYTES}", bytes.len()),
            ));
        }
        let bytes = Arc::new(bytes);
        cache().insert((level, n), bytes.clone());
        Ok(Some(bytes))
    }

    /// The stored hashes (Go's numbering) named, each computed from its tile.
    ///
    /// # Errors
    /// [`LedgerError::Corrupt`] if a tile is missing or too narrow.
    pub(crate) fn read_hashes(
        &self,
        store: &dyn Store,
        indexes: &[StoredIndex],
    ) -> Result<Vec<Hash>, LedgerError> {
        indexes
            .iter()
            .map(|&i| {
                let t = tiles::tile_of(i);
                let level = t.level().unwrap_or(0);
                let data = self
                    .tile_bytes(store, level, t.n)?
                    .ok_or_else(|| corrupt(format!("stored hash {}", i.0), "beyond the tree"))?;
                tiles::hash_from_tile(i, &data).ok_or_else(|| {
                    corrupt(format!("tile {t}"), "too narrow for the hash it must hold")
                })
            })
            .collect()
    }

    /// The leaf hash of entry `index`, from its level-0 tile.
    pub(crate) fn leaf_hash(&self, store: &dyn Store, index: u64) -> Result<Hash, LedgerError> {
        let h = self.read_hashes(store, &[log::stored_index_of_leaf(index)])?;
        h.into_iter()
            .next()
            .ok_or_else(|| corrupt(format!("entry {index}"), "no leaf hash"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn tiles_give_the_same_roots_and_proofs_as_the_math() {
        let store = MemoryStore::new();
        let mut tree = TileTree::new();
        let mut reference = Frontier::new();
        let mut hashes = Vec::new();
        let mut all_stored: Vec<Hash> = Vec::new();
        for i in 0..70_000u32 {
            let h = log::leaf_hash(&i.to_be_bytes());
            tree.push(h);
            all_stored.extend(reference.push(h));
            hashes.push(h);
            // Commit in uneven groups, as appends and imports do.
            if i % 997 == 0 || i % 256 == 255 || i == 69_999 {
                let mut b = WriteBatch::default();
                tree.stage(&mut b);
                store.commit(b).unwrap();
            }
        }
        assert_eq!(tree.root(), reference.root());
        let size = tree.size();
        let reopened = TileTree::load(&store, size).unwrap();
        assert_eq!(reopened.root(), reference.root());
        // The spec's example: 273 full level-0 tiles, one 112 wide; one full level-1 tile and
        // one 17 wide; one level-2 tile 1 wide.
        assert_eq!(
            reopened.edge.iter().map(Vec::len).collect::<Vec<_>>(),
            [112, 17, 1]
        );
        for probe in [0u64, 1, 255, 256, 4096, 65_535, 65_536, 69_999] {
            for sz in [probe + 1, 65_536, 70_000] {
                if probe >= sz {
                    continue;
                }
                let needs = log::inclusion_needs(probe, sz).unwrap();
                let got = reopened.read_hashes(&store, &needs).unwrap();
                let want: Vec<Hash> = needs.iter().map(|i| all_stored[i.0 as usize]).collect();
                assert_eq!(got, want, "inclusion {probe} in {sz}");
            }
        }
        for (old, new) in [
            (1u64, 70_000u64),
            (256, 257),
            (65_536, 70_000),
            (300, 65_537),
        ] {
            let needs = log::consistency_needs(old, new).unwrap();
            let got = reopened.read_hashes(&store, &needs).unwrap();
            let want: Vec<Hash> = needs.iter().map(|i| all_stored[i.0 as usize]).collect();
            assert_eq!(got, want, "consistency {old} -> {new}");
        }
        assert_eq!(reopened.leaf_hash(&store, 69_999).unwrap(), hashes[69_999]);
    }

    #[test]
    fn a_missing_or_wrong_width_partial_tile_is_corruption() {
        let store = MemoryStore::new();
        let mut tree = TileTree::new();
        for i in 0..300u32 {
            tree.push(log::leaf_hash(&i.to_be_bytes()));
        }
        let mut b = WriteBatch::default();
        tree.stage(&mut b);
        store.commit(b).unwrap();
        assert!(TileTree::load(&store, 300).is_ok());
        assert!(TileTree::load(&store, 301).is_err());
        assert!(TileTree::load(&store, 299).is_err());
        let mut b = WriteBatch::default();
        b.delete(keys::tile(0, 0));
        store.commit(b).unwrap();
        // Opening reads only the right edge; a proof through the lost tile says what is gone.
        let t = TileTree::load(&store, 300).unwrap();
        let e = t.leaf_hash(&store, 3).unwrap_err().to_string();
        assert!(e.contains("tile/0/000") && e.contains("missing"), "{e}");
        let mut b = WriteBatch::default();
        b.delete(keys::tile(0, 1));
        store.commit(b).unwrap();
        assert!(TileTree::load(&store, 300).is_err());
    }
}
