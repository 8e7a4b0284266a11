//! Reading: entries (checked against their leaf hashes in the level-0 tiles), ids, roots,
//! proofs, and tiles and entry bundles as C2SP serves them.

use accord_core::entry::LoggedEntry;
use accord_core::log::{self, Hash, StoredIndex};
use accord_core::model::{EntryId, Payload};
use accord_core::tiles::{TileId, TileKind};

use super::{corrupt, ConsistencyProof, InclusionProof, Ledger, StoredEntry};
use crate::error::LedgerError;
use crate::keys;

impl Ledger {
    /// Reads entry `index`, checking its bytes against the stored leaf hash.
    ///
    /// # Errors
    /// [`LedgerError::NotFound`], or [`LedgerError::Corrupt`] if it does not check out.
    pub fn entry(&self, index: u64) -> Result<StoredEntry, LedgerError> {
        if index >= self.size() {
            return Err(LedgerError::NotFound(format!(
                "entry {index} (the ledger has {} entries, 0 to {})",
                self.size(),
                self.size().saturating_sub(1)
            )));
        }
        let leaf = self.leaves.leaf(self.store(), index)?;
        self.decode(index, leaf)
    }

    pub(crate) fn decode(&self, index: u64, leaf: Vec<u8>) -> Result<StoredEntry, LedgerError> {
        let leaf_hash = log::leaf_hash(&leaf);
        if self.tree.leaf_hash(self.store(), index)? != leaf_hash {
            return Err(corrupt(
                format!("entry {index}"),
                "leaf bytes do not match the stored leaf hash",
            ));
        }
        let entry = LoggedEntry::from_leaf(&leaf)
            .map_err(|e| corrupt(format!("entry {index}"), e.to_string()))?;
        if entry.index != index {
            return Err(corrupt(
                format!("entry {index}"),
                format!("leaf says index {}", entry.index),
            ));
        }
        let payload = Payload::from_bytes(&entry.envelope.payload)
            .map_err(|e| corrupt(format!("entry {index}"), e.to_string()))?;
        Ok(StoredEntry {
            index,
            leaf,
            leaf_hash,
            entry,
            payload,
        })
    }

    /// The index of the entry with id `id`.
    ///
    /// # Errors
    /// Store failures.
    pub fn index_of(&self, id: &EntryId) -> Result<Option<u64>, LedgerError> {
        match self.store().get(&keys::id(id.as_str()))? {
            Some(v) => {
                let arr: [u8; 8] = v
                    .as_slice()
                    .try_into()
                    .map_err(|_| corrupt(format!("id index {id}"), "not 8 bytes"))?;
                Ok(Some(u64::from_be_bytes(arr)))
            }
            None => Ok(None),
        }
    }

    /// The entry with id `id`, checked to carry that id.
    ///
    /// # Errors
    /// [`LedgerError::NotFound`] or corruption.
    pub fn entry_by_id(&self, id: &EntryId) -> Result<StoredEntry, LedgerError> {
        let index = self
            .index_of(id)?
            .ok_or_else(|| LedgerError::NotFound(format!("entry with id {id}")))?;
        let e = self.entry(index)?;
        if &e.payload.id != id {
            return Err(corrupt(
                format!("id index {id}"),
                format!("points at entry {index} with id {}", e.payload.id),
            ));
        }
        Ok(e)
    }

    /// Entries from `start`, in order, each checked against its stored leaf hash.
    pub fn entries(
        &self,
        start: u64,
    ) -> impl Iterator<Item = Result<StoredEntry, LedgerError>> + '_ {
        self.raw_leaves(start)
            .map(move |item| item.and_then(|(index, leaf)| self.decode(index, leaf)))
    }

    /// Raw leaves from `start`, in order, unchecked (for verification, which checks them),
    /// read a whole entry bundle at a time.
    pub(crate) fn raw_leaves(
        &self,
        start: u64,
    ) -> impl Iterator<Item = Result<(u64, Vec<u8>), LedgerError>> + '_ {
        self.leaves.iter(self.store(), start)
    }

    /// The stored hashes named (Go's numbering), each from its tile.
    ///
    /// # Errors
    /// [`LedgerError::Corrupt`] if a tile is missing or too narrow.
    pub(crate) fn read_nodes(&self, indexes: &[StoredIndex]) -> Result<Vec<Hash>, LedgerError> {
        self.tree.read_hashes(self.store(), indexes)
    }

    /// The tree's frontier (the roots of its perfect subtrees): with the leaves that follow,
    /// it gives the root of any larger tree, as a mirror checks a checkpoint.
    ///
    /// # Errors
    /// [`LedgerError::Corrupt`] if a tile is missing.
    pub fn frontier(&self) -> Result<log::Frontier, LedgerError> {
        let size = self.size();
        let hashes = self.read_nodes(&log::Frontier::needs(size))?;
        log::Frontier::from_hashes(size, &hashes)
            .map_err(|e| corrupt("Merkle tiles", e.to_string()))
    }

    /// The root of the tree of the first `size` entries, from the few tiles it needs.
    ///
    /// # Errors
    /// [`LedgerError::OutOfRange`] or a store failure.
    pub fn root_at(&self, size: u64) -> Result<Hash, LedgerError> {
        if size == 0 || size > self.size() {
            return Err(LedgerError::OutOfRange(format!(
                "tree size {size} (the ledger has {} entries)",
                self.size()
            )));
        }
        if size == self.size() {
            return Ok(self.root());
        }
        let hashes = self.read_nodes(&log::root_needs(size))?;
        log::root_from(size, &hashes).map_err(|e| corrupt("Merkle tiles", e.to_string()))
    }

    /// Inclusion proof of entry `index` in the tree of size `size` (default: current).
    ///
    /// # Errors
    /// [`LedgerError::OutOfRange`] for an index or size outside the ledger.
    pub fn inclusion_proof(
        &self,
        index: u64,
        size: Option<u64>,
    ) -> Result<InclusionProof, LedgerError> {
        let size = size.unwrap_or(self.size());
        if size == 0 || size > self.size() || index >= size {
            return Err(LedgerError::OutOfRange(format!(
                "entry {index} in tree size {size} (the ledger has {} entries)",
                self.size()
            )));
        }
        let needs = log::inclusion_needs(index, size)
            .map_err(|e| LedgerError::OutOfRange(e.to_string()))?;
        let hashes = self.read_nodes(&needs)?;
        let proof = log::inclusion_proof_from(index, size, &hashes)
            .map_err(|e| corrupt("Merkle tiles", e.to_string()))?;
        Ok(InclusionProof {
            index,
            tree_size: size,
            leaf_hash: self.tree.leaf_hash(self.store(), index)?,
            root: self.root_at(size)?,
            proof,
        })
    }

    /// Consistency proof from size `from` to size `to` (default: current).
    ///
    /// # Errors
    /// [`LedgerError::OutOfRange`] unless `1 <= from <= to <= size`.
    pub fn consistency_proof(
        &self,
        from: u64,
        to: Option<u64>,
    ) -> Result<ConsistencyProof, LedgerError> {
        let to = to.unwrap_or(self.size());
        if from == 0 || from > to || to > self.size() {
            return Err(LedgerError::OutOfRange(format!(
                "consistency from {from} to {to} needs 1 <= from <= to <= {}",
                self.size()
            )));
        }
        let needs =
            log::consistency_needs(from, to).map_err(|e| LedgerError::OutOfRange(e.to_string()))?;
        let hashes = self.read_nodes(&needs)?;
        let proof = log::consistency_proof_from(from, to, &hashes)
            .map_err(|e| corrupt("Merkle tiles", e.to_string()))?;
        Ok(ConsistencyProof {
            from,
            to,
            old_root: self.root_at(from)?,
            new_root: self.root_at(to)?,
            proof,
        })
    }

    /// The bytes of a tile or entry bundle exactly as C2SP names it: a hash tile is `32 *
    /// width` bytes, an entry bundle `width` length-prefixed leaves. A partial tile is served
    /// for every width the tree has reached (a narrower one is a prefix of the wider), read
    /// from the one stored tile.
    ///
    /// # Errors
    /// [`LedgerError::NotFound`] for a tile the tree does not have at that width (yet, or
    /// ever); store failures and corruption.
    pub fn read_tile(&self, id: TileId) -> Result<Vec<u8>, LedgerError> {
        let missing =
            || LedgerError::NotFound(format!("{id} (the tree has {} entries)", self.size()));
        let widest =
            accord_core::tiles::tile_at_size(id.kind, id.n, self.size()).ok_or_else(missing)?;
        if widest.width < id.width {
            return Err(missing());
        }
        match id.kind {
            TileKind::Entries => self.leaves.bundle_bytes(self.store(), id.n, id.width),
            TileKind::Hashes { level } => {
                let data = self
                    .tree
                    .tile_bytes(self.store(), level, id.n)?
                    .ok_or_else(missing)?;
                data.get(..id.hash_bytes())
                    .map(<[u8]>::to_vec)
                    .ok_or_else(|| corrupt(format!("tile {widest}"), "narrower than the tree"))
            }
        }
    }
}
