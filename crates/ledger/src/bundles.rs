//! The leaves stored as C2SP entry bundles (see `accord_core::tiles`).
//!
//! A full bundle (256 leaves, each behind a big-endian `uint16` length) is one store key,
//! `B || n`, written once, compressed: one codec byte (`0x00` raw, `0x01` zstd) then the
//! bundle bytes in that codec. The leaves of the partial bundle at the right edge are kept one
//! key each, `L || index`, so an append writes only its own leaf rather than rewriting a
//! growing bundle; when the bundle fills, its full key is written and those leaf keys deleted
//! in the same atomic batch. The partial bundle's leaves are also held in memory (at most 255).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use accord_core::tiles::{self, WIDTH};
use rayon::prelude::*;

use crate::error::LedgerError;
use crate::keys;
use crate::ledger::corrupt;
use crate::store::{Store, WriteBatch};

/// Codec byte of a stored full bundle: raw bundle bytes.
pub(crate) const CODEC_RAW: u8 = 0;
/// Codec byte of a stored full bundle: zstd (RFC 8878) frame of the bundle bytes.
pub(crate) const CODEC_ZSTD: u8 = 1;
/// zstd level for full bundles: the fastest, which already takes most of the redundancy out
/// of base64 JSON.
const ZSTD_LEVEL: i32 = 1;
/// Decoded full bundles kept in memory.
const BUNDLE_CACHE: usize = 8;
/// The most a decompressed bundle may be: 256 leaves of at most 65,535 bytes and their
/// lengths.
const MAX_BUNDLE_BYTES: usize = WIDTH as usize * (tiles::MAX_ENTRY_BYTES + 2);

/// One decoded bundle: its bytes and where each leaf lies in them.
pub(crate) struct Decoded {
    bytes: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl Decoded {
    fn parse(bytes: Vec<u8>, at: &str) -> Result<Self, LedgerError> {
        let mut spans = Vec::with_capacity(WIDTH as usize);
        {
            let leaves = tiles::bundle_entries(&bytes).map_err(|e| corrupt(at, e.to_string()))?;
            let base = bytes.as_ptr() as usize;
            for l in leaves {
                spans.push((l.as_ptr() as usize - base, l.len()));
            }
        }
        Ok(Self { bytes, spans })
    }

    /// Leaf `i` of the bundle.
    pub(crate) fn leaf(&self, i: usize) -> Option<&[u8]> {
        let (s, n) = *self.spans.get(i)?;
        self.bytes.get(s..s + n)
    }

    /// How many leaves it holds.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The bundle bytes (C2SP encoding).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Encodes a full bundle for the store.
pub(crate) fn encode_full(bundle: &[u8]) -> Vec<u8> {
    match zstd::bulk::compress(bundle, ZSTD_LEVEL) {
        Ok(z) if z.len() < bundle.len() => {
            let mut out = Vec::with_capacity(z.len() + 1);
            out.push(CODEC_ZSTD);
            out.extend_from_slice(&z);
            out
        }
        _ => {
            let mut out = Vec::with_capacity(bundle.len() + 1);
            out.push(CODEC_RAW);
            out.extend_from_slice(bundle);
            out
        }
    }
}

/// Decodes a stored full bundle.
pub(crate) fn decode_full(stored: &[u8], at: &str) -> Result<Decoded, LedgerError> {
    let bytes = match stored.split_first() {
        Some((&CODEC_RAW, rest)) => rest.to_vec(),
        Some((&CODEC_ZSTD, rest)) => zstd::bulk::decompress(rest, MAX_BUNDLE_BYTES)
            .map_err(|e| corrupt(at, format!("does not decompress: {e}")))?,
        Some((c, _)) => return Err(corrupt(at, format!("unknown codec {c}"))),
        None => return Err(corrupt(at, "empty")),
    };
    let d = Decoded::parse(bytes, at)?;
    if d.len() != WIDTH as usize {
        return Err(corrupt(
            at,
            format!("a full bundle has 256 leaves, not {}", d.len()),
        ));
    }
    Ok(d)
}

/// Recently decoded full bundles, newest last.
type BundleCache = VecDeque<(u64, Arc<Decoded>)>;

/// The leaves: the partial bundle in memory, full bundles through a small cache.
#[derive(Clone)]
pub(crate) struct EntryStore {
    size: u64,
    /// Leaves `partial_start() .. size`.
    partial: Vec<Arc<Vec<u8>>>,
    /// How many of `partial` the store already holds as leaf keys.
    stored: usize,
    /// Full bundles completed since the last stage: (n, bundle bytes, leaf keys to delete).
    completed: Vec<(u64, Vec<u8>, usize)>,
    cache: Arc<Mutex<BundleCache>>,
}

impl EntryStore {
    /// No entries.
    pub(crate) fn new() -> Self {
        Self {
            size: 0,
            partial: Vec::new(),
            stored: 0,
            completed: Vec::new(),
            cache: Arc::new(Mutex::new(VecDeque::new())),
        }
    }

    fn partial_start(&self) -> u64 {
        self.size - self.partial.len() as u64
    }

    /// Loads the partial bundle of a ledger of `size` entries.
    ///
    /// # Errors
    /// [`LedgerError::Corrupt`] if its leaf keys are not exactly the ones `size` implies.
    pub(crate) fn load(store: &dyn Store, size: u64) -> Result<Self, LedgerError> {
        let start = size - size % u64::from(WIDTH);
        let mut partial = Vec::new();
        for item in store.scan(&[keys::LEAF], Some(&keys::leaf(start))) {
            let (k, v) = item?;
            let i = keys::tail_u64(&k).filter(|_| k.len() == 9);
            if i != Some(start + partial.len() as u64) {
                return Err(corrupt(
                    "the partial entry bundle",
                    format!(
                        "leaf key {} where entry {} was expected",
                        crate::store::printable(&k),
                        start + partial.len() as u64
                    ),
                ));
            }
            partial.push(Arc::new(v));
        }
        if partial.len() as u64 != size - start {
            return Err(corrupt(
                "the partial entry bundle",
                format!(
                    "{} leaves stored for entries {start}..{size}",
                    partial.len()
                ),
            ));
        }
        if let Some((k, _)) = store.scan(&[keys::LEAF], None).next().transpose()? {
            if keys::tail_u64(&k).is_some_and(|i| i < start) {
                return Err(corrupt(
                    "the partial entry bundle",
                    "a leaf key of a full bundle was left behind",
                ));
            }
        }
        Ok(Self {
            size,
            stored: partial.len(),
            partial,
            completed: Vec::new(),
            cache: Arc::new(Mutex::new(VecDeque::new())),
        })
    }

    /// Appends a leaf (at most [`tiles::MAX_ENTRY_BYTES`]; the caller checked).
    pub(crate) fn push(&mut self, leaf: Vec<u8>) {
        self.partial.push(Arc::new(leaf));
        self.size += 1;
        if self.partial.len() == WIDTH as usize {
            let mut bundle = Vec::with_capacity(self.partial.iter().map(|l| l.len() + 2).sum());
            for l in &self.partial {
                // Leaves were checked against the limit before they were pushed.
                let _ = tiles::push_entry(&mut bundle, l);
            }
            let n = (self.size - 1) / u64::from(WIDTH);
            self.completed.push((n, bundle, self.stored));
            self.partial.clear();
            self.stored = 0;
        }
    }

    /// Adds the writes for everything pushed since the last stage to `batch`. Full bundles
    /// are compressed on all cores.
    pub(crate) fn stage(&mut self, batch: &mut WriteBatch) {
        let completed = std::mem::take(&mut self.completed);
        let encoded: Vec<(u64, Vec<u8>, usize)> = completed
            .into_par_iter()
            .map(|(n, bundle, stored)| (n, encode_full(&bundle), stored))
            .collect();
        for (n, value, stored) in encoded {
            batch.put(keys::bundle(n), value);
            let first = n * u64::from(WIDTH);
            for i in 0..stored as u64 {
                batch.delete(keys::leaf(first + i));
            }
        }
        let start = self.partial_start();
        for (i, leaf) in self.partial.iter().enumerate().skip(self.stored) {
            batch.put(keys::leaf(start + i as u64), leaf.to_vec());
        }
        self.stored = self.partial.len();
    }

    /// A decoded full bundle, from the cache or the store.
    pub(crate) fn full(&self, store: &dyn Store, n: u64) -> Result<Arc<Decoded>, LedgerError> {
        let lock = || self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, d)) = lock().iter().find(|(m, _)| *m == n) {
            return Ok(d.clone());
        }
        let at = format!("entry bundle {}", tiles::TileId::entries(n, WIDTH));
        let stored = store
            .get(&keys::bundle(n))?
            .ok_or_else(|| corrupt(&at, "missing"))?;
        let d = Arc::new(decode_full(&stored, &at)?);
        let mut cache = lock();
        cache.push_back((n, d.clone()));
        while cache.len() > BUNDLE_CACHE {
            cache.pop_front();
        }
        Ok(d)
    }

    /// The leaf of entry `index`.
    ///
    /// # Errors
    /// [`LedgerError::OutOfRange`] beyond the ledger; corruption.
    pub(crate) fn leaf(&self, store: &dyn Store, index: u64) -> Result<Vec<u8>, LedgerError> {
        if index >= self.size {
            return Err(LedgerError::OutOfRange(format!(
                "entry {index} (the ledger has {} entries)",
                self.size
            )));
        }
        let start = self.partial_start();
        if index >= start {
            return Ok(self.partial[(index - start) as usize].to_vec());
        }
        let n = index / u64::from(WIDTH);
        let d = self.full(store, n)?;
        d.leaf((index % u64::from(WIDTH)) as usize)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| corrupt(format!("entry {index}"), "not in its bundle"))
    }

    /// The C2SP bytes of bundle `n` at `width` (a partial width is a prefix of the full).
    pub(crate) fn bundle_bytes(
        &self,
        store: &dyn Store,
        n: u64,
        width: u32,
    ) -> Result<Vec<u8>, LedgerError> {
        let first = n * u64::from(WIDTH);
        if first >= self.partial_start() {
            let mut out = Vec::new();
            for l in self.partial.iter().take(width as usize) {
                let _ = tiles::push_entry(&mut out, l);
            }
            return Ok(out);
        }
        let d = self.full(store, n)?;
        if width == WIDTH {
            return Ok(d.bytes().to_vec());
        }
        let end = d
            .spans
            .get(width as usize - 1)
            .map_or(0, |(s, len)| s + len);
        Ok(d.bytes()[..end].to_vec())
    }

    /// Leaves from `from` on, in order: full bundles read and decoded one at a time, then the
    /// partial bundle.
    pub(crate) fn iter<'a>(
        &'a self,
        store: &'a dyn Store,
        from: u64,
    ) -> impl Iterator<Item = Result<(u64, Vec<u8>), LedgerError>> + 'a {
        let w = u64::from(WIDTH);
        let start = self.partial_start();
        let full = (from / w..start / w).flat_map(move |n| {
            let first = n * w;
            let d = match store
                .get(&keys::bundle(n))
                .map_err(LedgerError::from)
                .and_then(|v| {
                    let at = format!("entry bundle {}", tiles::TileId::entries(n, WIDTH));
                    decode_full(&v.ok_or_else(|| corrupt(&at, "missing"))?, &at)
                }) {
                Ok(d) => d,
                Err(e) => return vec![Err(e)],
            };
            (0..w)
                .filter(|i| first + i >= from)
                .map(|i| {
                    d.leaf(i as usize)
                        .map(|l| (first + i, l.to_vec()))
                        .ok_or_else(|| corrupt(format!("entry {}", first + i), "not in its bundle"))
                })
                .collect::<Vec<_>>()
        });
        let partial = self
            .partial
            .iter()
            .enumerate()
            .map(move |(i, l)| (start + i as u64, l))
            .filter(move |(i, _)| *i >= from)
            .map(|(i, l)| Ok((i, l.to_vec())));
        full.chain(partial)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn leaf(i: u64) -> Vec<u8> {
        format!(
            "{{\"index\":{i},\"x\":\"{}\"}}",
            "ab".repeat((i % 50) as usize)
        )
        .into_bytes()
    }

    #[test]
    fn leaves_round_trip_through_partial_and_full_bundles() {
        let store = MemoryStore::new();
        let mut e = EntryStore::new();
        for i in 0..1000u64 {
            e.push(leaf(i));
            if i % 37 == 0 || i == 999 {
                let mut b = WriteBatch::default();
                e.stage(&mut b);
                store.commit(b).unwrap();
            }
        }
        let e = EntryStore::load(&store, 1000).unwrap();
        for i in [0u64, 1, 255, 256, 700, 767, 768, 999] {
            assert_eq!(e.leaf(&store, i).unwrap(), leaf(i), "{i}");
        }
        let all: Vec<_> = e.iter(&store, 0).map(Result::unwrap).collect();
        assert_eq!(all.len(), 1000);
        assert!(all.iter().all(|(i, l)| *l == leaf(*i)));
        assert_eq!(e.iter(&store, 990).count(), 10);
        assert_eq!(e.iter(&store, 300).next().unwrap().unwrap().0, 300);
        // No leaf key of a full bundle is left behind; the partial has exactly its 232.
        assert_eq!(store.scan(&[keys::LEAF], None).count(), 1000 - 768);
        // Bundle bytes as C2SP: a partial width is a prefix of the full.
        let full = e.bundle_bytes(&store, 1, 256).unwrap();
        let part = e.bundle_bytes(&store, 1, 10).unwrap();
        assert!(full.starts_with(&part));
        assert_eq!(tiles::bundle_entries(&part).unwrap().len(), 10);
        assert_eq!(
            tiles::bundle_entries(&e.bundle_bytes(&store, 3, 200).unwrap())
                .unwrap()
                .len(),
            200
        );
        assert!(EntryStore::load(&store, 999).is_err());
        assert!(EntryStore::load(&store, 1001).is_err());
    }

    #[test]
    fn stored_bundles_are_checked_when_read() {
        let raw: Vec<u8> = (0..256)
            .flat_map(|i| {
                let mut b = Vec::new();
                tiles::push_entry(&mut b, &leaf(i)).unwrap();
                b
            })
            .collect();
        let enc = encode_full(&raw);
        assert_eq!(enc[0], CODEC_ZSTD);
        assert_eq!(decode_full(&enc, "b").unwrap().bytes(), &raw[..]);
        let mut bad = enc.clone();
        bad[0] = 9;
        assert!(decode_full(&bad, "b").is_err());
        let mut cut = vec![CODEC_RAW];
        cut.extend_from_slice(&raw[..raw.len() - 3]);
        assert!(decode_full(&cut, "b").is_err());
        let mut flipped = enc;
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x40;
        assert!(
            decode_full(&flipped, "b").is_err()
                || decode_full(&flipped, "b").unwrap().bytes() != &raw[..]
        );
    }
}
