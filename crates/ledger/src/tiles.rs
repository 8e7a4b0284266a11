//! The ledger read as C2SP tlog-tiles: hash tiles and entry bundles of any published width,
//! the units the service and the publisher serve (see `accord_core::tiles`).

use accord_core::log::StoredIndex;
use accord_core::tiles::{self, TileId, TileKind, WIDTH};

use crate::error::LedgerError;
use crate::ledger::Ledger;

impl Ledger {
    /// The bytes of a tile or entry bundle exactly as C2SP names it: a hash tile is `32 *
    /// width` bytes, an entry bundle `width` length-prefixed leaves. A partial tile is served
    /// for every width the tree has reached (a narrower one is a prefix of the wider).
    ///
    /// # Errors
    /// [`LedgerError::NotFound`] for a tile the tree does not have at that width yet (or
    /// ever, beyond `u64`); store failures and corruption.
    pub fn read_tile(&self, id: TileId) -> Result<Vec<u8>, LedgerError> {
        let missing =
            || LedgerError::NotFound(format!("{id} (the tree has {} entries)", self.size()));
        let widest = tiles::tile_at_size(id.kind, id.n, self.size()).ok_or_else(missing)?;
        if widest.width < id.width {
            return Err(missing());
        }
        let start = id.n.checked_mul(u64::from(WIDTH)).ok_or_else(missing)?;
        match id.kind {
            TileKind::Entries => {
                let mut out = Vec::new();
                for i in start..start + u64::from(id.width) {
                    let e = self.entry(i)?;
                    tiles::push_entry(&mut out, &e.leaf).map_err(|err| {
                        crate::ledger::corrupt(format!("entry {i}"), err.to_string())
                    })?;
                }
                Ok(out)
            }
            TileKind::Hashes { level } => {
                let indexes = (0..id.width)
                    .map(|i| tiles::stored_index_in_tile(level, id.n, i).ok_or_else(missing))
                    .collect::<Result<Vec<StoredIndex>, _>>()?;
                let hashes = self.read_nodes(&indexes)?;
                Ok(hashes.iter().flat_map(|h| h.0).collect())
            }
        }
    }
}
