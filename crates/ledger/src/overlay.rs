//! The write-back overlay of write-ahead mode: batches that the write-ahead log holds
//! durably and sled does not hold yet.
//!
//! A service commits a group of ~20 entries at a time, and each group rewrites the same
//! right-edge tiles, the leaves of the partial entry bundle and the index pages its entries
//! fall in. Applying every group to sled re-serialised those nodes each time (docs/
//! PERFORMANCE.md). In write-ahead mode a group is durable once its log record is synced, so
//! its writes are kept here, newest value per key, and reach sled in one batch once the
//! overlay holds [`FLUSH_GROUPS`] groups or [`FLUSH_BYTES`] bytes: a page rewritten by
//! every group is written to sled once per flush, and a leaf of the partial bundle that is
//! folded into a full bundle before the flush never reaches sled at all. Reads look here
//! first; `SledStore` merges it with sled for ordered reads.
//!
//! The index tables (`index.rs`) are held apart, as *logical* rows: a group logs and keeps
//! only the rows it adds (tens of bytes each), and the pages they fall in are built once, when
//! the overlay is written to sled. A page that every group would have rewritten whole (the
//! last page of each member's, country's, kind's and commodity's run) is then encoded once
//! per flush. `Paged` merges these rows with the pages it reads.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::store::Op;

/// The most groups the overlay holds before they are written to sled.
pub const FLUSH_GROUPS: usize = 64;

/// The most bytes of keys and values the overlay holds before they are written to sled.
pub const FLUSH_BYTES: usize = 16 << 20;

/// What a key is in the overlay: a value, or removed (`None`).
pub type Slot = Option<Vec<u8>>;

/// Writes logged but not yet in sled, newest per key: the plain keys, and the index
/// tables' logical rows.
#[derive(Default)]
pub struct Overlay {
    map: BTreeMap<Vec<u8>, Slot>,
    rows: BTreeMap<Vec<u8>, Slot>,
    bytes: usize,
    groups: usize,
    last_seq: u64,
}

impl Overlay {
    /// The key's state here: `None` if the overlay does not hold it (sled has the answer),
    /// `Some(None)` if it was removed, `Some(Some(value))` otherwise.
    pub fn lookup(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        self.map.get(key).map(Option::as_deref)
    }

    /// The state of an index table's logical row, as [`Overlay::lookup`].
    pub fn lookup_row(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        self.rows.get(key).map(Option::as_deref)
    }

    /// Takes the writes of log record `seq`; those of the index tables are logical rows.
    pub fn insert(&mut self, seq: u64, ops: Vec<Op>) {
        for op in ops {
            let (k, v) = match op {
                Op::Put(k, v) | Op::Replace(k, v) => (k, Some(v)),
                Op::Delete(k) => (k, None),
            };
            self.bytes += k.len() + v.as_ref().map_or(0, Vec::len);
            let map = if crate::index::is_paged(&k) {
                &mut self.rows
            } else {
                &mut self.map
            };
            if let Some(old) = map.insert(k, v) {
                self.bytes = self.bytes.saturating_sub(old.map_or(0, |o| o.len()));
            }
        }
        self.groups += 1;
        self.last_seq = seq;
    }

    /// Whether it is time to write the overlay to sled.
    pub fn is_full(&self) -> bool {
        self.groups >= FLUSH_GROUPS || self.bytes >= FLUSH_BYTES
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty() && self.rows.is_empty()
    }

    /// Empties the overlay: its plain writes and its index rows, each in key order, and the
    /// number of the last log record they include.
    pub fn take(&mut self) -> Taken {
        self.bytes = 0;
        self.groups = 0;
        Taken {
            plain: std::mem::take(&mut self.map),
            rows: std::mem::take(&mut self.rows),
            last: self.last_seq,
        }
    }

    /// Every index row it holds from `from` on that starts with `prefix`, in order.
    pub fn rows_from(&self, prefix: &[u8], from: &[u8]) -> Vec<(Vec<u8>, Slot)> {
        Self::from_on(&self.rows, prefix, from)
    }

    /// Every key it holds from `from` on that starts with `prefix`, in order, with its slot.
    pub fn range_from(&self, prefix: &[u8], from: &[u8]) -> Vec<(Vec<u8>, Slot)> {
        Self::from_on(&self.map, prefix, from)
    }

    fn from_on(map: &BTreeMap<Vec<u8>, Slot>, prefix: &[u8], from: &[u8]) -> Vec<(Vec<u8>, Slot)> {
        map.range::<[u8], _>((Bound::Included(from), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The greatest key held with a value in `range`, with the value.
    pub fn last_live(&self, range: (Bound<&[u8]>, Bound<&[u8]>)) -> Option<(&[u8], &[u8])> {
        self.map
            .range::<[u8], _>(range)
            .rev()
            .find_map(|(k, v)| v.as_deref().map(|v| (k.as_slice(), v)))
    }

    /// The least key held with a value in `range`.
    pub fn first_live(&self, range: (Bound<&[u8]>, Bound<&[u8]>)) -> Option<&[u8]> {
        self.map
            .range::<[u8], _>(range)
            .find_map(|(k, v)| v.as_ref().map(|_| k.as_slice()))
    }
}

/// What [`Overlay::take`] empties out.
pub struct Taken {
    /// The plain keys' writes.
    pub plain: BTreeMap<Vec<u8>, Slot>,
    /// The index tables' logical rows.
    pub rows: BTreeMap<Vec<u8>, Slot>,
    /// The last log record they include.
    pub last: u64,
}

/// Merges an ordered scan of sled with the overlay's slots for the same range: the overlay's
/// value wins where both hold a key, and a key it removed is left out.
pub struct Merged<I: Iterator> {
    sled: std::iter::Peekable<I>,
    over: std::iter::Peekable<std::vec::IntoIter<(Vec<u8>, Slot)>>,
}

impl<I, E> Merged<I>
where
    I: Iterator<Item = Result<(Vec<u8>, Vec<u8>), E>>,
{
    /// The merge of `sled` and `over`, both in key order.
    pub fn new(sled: I, over: Vec<(Vec<u8>, Slot)>) -> Self {
        Self {
            sled: sled.peekable(),
            over: over.into_iter().peekable(),
        }
    }
}

impl<I, E> Iterator for Merged<I>
where
    I: Iterator<Item = Result<(Vec<u8>, Vec<u8>), E>>,
{
    type Item = Result<(Vec<u8>, Vec<u8>), E>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let order = match (self.sled.peek(), self.over.peek()) {
                (None, None) => return None,
                (Some(Err(_)), _) | (Some(Ok(_)), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(Ok((s, _))), Some((o, _))) => s.as_slice().cmp(o.as_slice()),
            };
            if order == std::cmp::Ordering::Less {
                return self.sled.next();
            }
            if order == std::cmp::Ordering::Equal {
                // The overlay's slot replaces sled's pair.
                let _ = self.sled.next();
            }
            if let Some((k, Some(v))) = self.over.next() {
                return Some(Ok((k, v)));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_overlay_wins_and_removals_hide_sled_pairs() {
        let mut o = Overlay::default();
        o.insert(
            1,
            vec![
                Op::Put(b"a2".to_vec(), b"new".to_vec()),
                Op::Delete(b"a3".to_vec()),
                Op::Put(b"a5".to_vec(), b"five".to_vec()),
            ],
        );
        let sled: Vec<Result<crate::store::Kv, ()>> = [
            ("a1", "one"),
            ("a2", "old"),
            ("a3", "three"),
            ("a4", "four"),
        ]
        .iter()
        .map(|(k, v)| Ok((k.as_bytes().to_vec(), v.as_bytes().to_vec())))
        .collect();
        let merged: Vec<(Vec<u8>, Vec<u8>)> =
            Merged::new(sled.into_iter(), o.range_from(b"a", b"a"))
                .map(Result::unwrap)
                .collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> =
            [("a1", "one"), ("a2", "new"), ("a4", "four"), ("a5", "five")]
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect();
        assert_eq!(merged, want);
        assert_eq!(o.lookup(b"a3"), Some(None));
        assert_eq!(o.lookup(b"a1"), None);
        assert_eq!(
            o.last_live((Bound::Unbounded, Bound::Included(b"a4".as_slice()))),
            Some((b"a2".as_slice(), b"new".as_slice()))
        );
    }

    #[test]
    fn it_fills_by_groups_and_bytes() {
        let mut o = Overlay::default();
        for seq in 1..=FLUSH_GROUPS as u64 {
            assert!(!o.is_full());
            o.insert(seq, vec![Op::Replace(b"T".to_vec(), vec![0; 10])]);
        }
        assert!(o.is_full());
        let taken = o.take();
        assert_eq!(
            (taken.plain.len(), taken.rows.len(), taken.last),
            (1, 0, FLUSH_GROUPS as u64)
        );
        assert!(!o.is_full() && o.is_empty());
        o.insert(1, vec![Op::Put(b"B".to_vec(), vec![0; FLUSH_BYTES])]);
        assert!(o.is_full());
    }
}
