//! The ledger read as C2SP tiles agrees with its entries, its proofs and its root.
#![allow(clippy::unwrap_used)]

use accord_core::log::{self, Hash};
use accord_core::tiles::{self, TileId, TileKind};
use accord_ledger::synth::Synth;
use accord_ledger::{Ledger, LedgerError};

fn hashes(bytes: &[u8]) -> Vec<Hash> {
    bytes
        .chunks(32)
        .map(|c| Hash(c.try_into().unwrap()))
        .collect()
}

#[test]
fn tiles_and_entry_bundles_rebuild_the_tree() {
    let mut s = Synth::new(4, 3);
    let mut l = Ledger::create_in_memory(&s.charter()).unwrap();
    for _ in 0..600 {
        l.append(&s.next_entry()).unwrap();
    }
    let size = l.size();
    assert_eq!(size, 601);
    let mut level0 = Vec::new();
    for t in tiles::hash_tiles(size) {
        let data = l.read_tile(t).unwrap();
        assert_eq!(data.len(), t.hash_bytes(), "{t}");
        if t.level() == Some(0) {
            let bundle = l.read_tile(TileId::entries(t.n, t.width)).unwrap();
            let leaves = tiles::bundle_entries(&bundle).unwrap();
            let want: Vec<Hash> = leaves.iter().map(|leaf| log::leaf_hash(leaf)).collect();
            assert_eq!(hashes(&data), want, "{t}");
            level0.push(data);
        } else {
            let want: Vec<Hash> = level0.iter().filter_map(|d| tiles::tile_root(d)).collect();
            assert_eq!(hashes(&data), want[..t.width as usize], "{t}");
        }
    }
    // Every stored hash of the root comes from a tile.
    let needs = log::root_needs(size);
    let from_tiles: Vec<Hash> = needs
        .iter()
        .map(|&i| {
            let t = tiles::tile_of(i);
            let widest = tiles::tile_at_size(t.kind, t.n, size).unwrap();
            tiles::hash_from_tile(i, &l.read_tile(widest).unwrap()).unwrap()
        })
        .collect();
    assert_eq!(log::root_from(size, &from_tiles).unwrap(), l.root());
    // A narrower partial is a prefix of the wider; wider than the tree is not found.
    let p = l.read_tile(TileId::hashes(0, 2, 89)).unwrap();
    assert_eq!(
        p[..32 * 10],
        l.read_tile(TileId::hashes(0, 2, 10)).unwrap()[..]
    );
    for missing in [
        TileId::hashes(0, 2, 90),
        TileId::hashes(0, 3, 1),
        TileId::entries(2, 90),
        TileId::hashes(2, 0, 1),
        TileId::hashes(1, 0, 3),
        TileId {
            kind: TileKind::Hashes { level: 63 },
            n: 0,
            width: 1,
        },
    ] {
        assert!(
            matches!(l.read_tile(missing), Err(LedgerError::NotFound(_))),
            "{missing}"
        );
    }
}
