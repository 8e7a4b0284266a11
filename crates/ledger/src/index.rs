//! The secondary indexes (`I S C P Q K O`, see `keys.rs`) packed into pages: sorted runs of
//! up to [`PAGE_MAX`] logical keys in one store value each, so that a million entries cost a
//! few tens of thousands of store keys instead of five million.
//!
//! Why: sled 0.34 splits a leaf node at 16 keys and keeps a page-table entry per node, which
//! every process reads when it opens the database and writes back when it has written. With one
//! store key per index item (4.9 keys per entry) a ledger of 1M entries opened in 0.4-0.8 s and
//! each writing command paid seconds (docs/PERFORMANCE.md, "Storage v2 at 1M"). The tree and
//! the leaves were already one key per tile and per bundle; this does the same for the indexes.
//!
//! [`Paged`] wraps the store under a ledger and keeps the [`Store`] interface in *logical*
//! keys, so queries, lookups and the audit read the indexes as before. A page of table `T` is
//! stored at `T || first` where `first` is the rest of the smallest logical key it may hold
//! (the first page of a table has `first` empty); it holds every logical key `k` of the table
//! with `T || first <= k < ` the next page's key. A page whose run grows past [`PAGE_MAX`] is
//! split in the same batch, into runs of [`PAGE_FILL`]. The page encoding is in
//! docs/FORMAT.md section 11.

use std::collections::HashSet;

use crate::store::{printable, Kv, Op, Store, StoreError, WriteBatch};

/// Tables kept in pages.
pub(crate) const TABLES: [u8; 7] = [b'I', b'S', b'C', b'P', b'Q', b'K', b'O'];
/// A page holding more logical keys than this is split.
pub(crate) const PAGE_MAX: usize = 128;
/// Keys per run when a page is split (see [`write_page`] for the last runs).
pub(crate) const PAGE_FILL: usize = 96;

/// Whether `key` belongs to a paged table.
pub(crate) fn is_paged(key: &[u8]) -> bool {
    key.first().is_some_and(|t| TABLES.contains(t))
}

fn corrupt(page: &[u8], why: &str) -> StoreError {
    StoreError::Corrupt(format!("index page {}: {why}", printable(page)))
}

/// Walks a page's rows without copying them: repeated `u16 BE len, key rest, u32 BE len,
/// value`, keys strictly increasing and not below the page's own key; `f` sees each row in
/// order. Every row is checked, whatever `f` does.
fn walk<'b>(
    page_key: &[u8],
    bytes: &'b [u8],
    mut f: impl FnMut(&'b [u8], &'b [u8]),
) -> Result<(), StoreError> {
    walk_while(page_key, bytes, |k, v| {
        f(k, v);
        true
    })
}

/// [`walk`], stopping after the first row for which `f` says `false`: the rows up to it are
/// checked.
fn walk_while<'b>(
    page_key: &[u8],
    bytes: &'b [u8],
    mut f: impl FnMut(&'b [u8], &'b [u8]) -> bool,
) -> Result<(), StoreError> {
    let mut rest = bytes;
    let first = page_key.get(1..).unwrap_or_default();
    let mut prev: Option<&[u8]> = None;
    while !rest.is_empty() {
        let (klen, r) =
            take_len::<2>(rest).ok_or_else(|| corrupt(page_key, "truncated key length"))?;
        let (k, r) = split(r, klen).ok_or_else(|| corrupt(page_key, "truncated key"))?;
        let (vlen, r) =
            take_len::<4>(r).ok_or_else(|| corrupt(page_key, "truncated value length"))?;
        let (v, r) = split(r, vlen).ok_or_else(|| corrupt(page_key, "truncated value"))?;
        if k < first {
            return Err(corrupt(page_key, "a key sorts before the page"));
        }
        if prev.is_some_and(|p| p >= k) {
            return Err(corrupt(page_key, "keys out of order"));
        }
        if !f(k, v) {
            break;
        }
        prev = Some(k);
        rest = r;
    }
    Ok(())
}

/// Decodes a page (see [`walk`]).
pub(crate) fn decode(page_key: &[u8], bytes: &[u8]) -> Result<Vec<Kv>, StoreError> {
    let mut out: Vec<Kv> = Vec::new();
    walk(page_key, bytes, |k, v| out.push((k.to_vec(), v.to_vec())))?;
    Ok(out)
}

/// The value of key rest `rest` in a page, copying only it. The rows are sorted, so the walk
/// stops at the first row not below `rest`: the rows up to it are checked (the rest of the
/// page is, whenever it is scanned or rewritten).
pub(crate) fn find(
    page_key: &[u8],
    bytes: &[u8],
    rest: &[u8],
) -> Result<Option<Vec<u8>>, StoreError> {
    let mut found = None;
    walk_while(page_key, bytes, |k, v| {
        if k == rest {
            found = Some(v.to_vec());
        }
        k < rest
    })?;
    Ok(found)
}

fn take_len<const N: usize>(b: &[u8]) -> Option<(usize, &[u8])> {
    let (head, rest) = split(b, N)?;
    let mut buf = [0u8; 8];
    buf[8 - N..].copy_from_slice(head);
    Some((usize::try_from(u64::from_be_bytes(buf)).ok()?, rest))
}

fn split(b: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    (b.len() >= n).then(|| b.split_at(n))
}

/// A row of a page: key rest and value.
type Row<'a> = (&'a [u8], &'a [u8]);

/// Encodes a page's rows, in order (the inverse of [`decode`]).
///
/// # Panics
/// Never for what the ledger writes: key rests are ids and numbers (< 64 KiB), values are
/// commitment records (< 4 GiB).
fn encode(rows: &[Row<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.iter().map(|(k, v)| 6 + k.len() + v.len()).sum());
    for (k, v) in rows {
        #[allow(clippy::expect_used)]
        let kl = u16::try_from(k.len()).expect("index key rest under 64 KiB");
        #[allow(clippy::expect_used)]
        let vl = u32::try_from(v.len()).expect("index value under 4 GiB");
        out.extend_from_slice(&kl.to_be_bytes());
        out.extend_from_slice(k);
        out.extend_from_slice(&vl.to_be_bytes());
        out.extend_from_slice(v);
    }
    out
}

/// Where pages are read from when they are rewritten: the store under a [`Paged`], or sled's
/// tree alone when a [`crate::store::SledStore`] in write-ahead mode builds the pages of the
/// rows it held (only its flushes write pages then, so sled holds every page there is).
pub(crate) trait Pages {
    /// As [`Store::floor`], over the stored (physical) keys.
    fn floor(&self, prefix: &[u8], key: &[u8]) -> Result<Option<Kv>, StoreError>;
    /// As [`Store::next_key`], over the stored (physical) keys.
    fn next_key(&self, prefix: &[u8], after: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// The value of logical key `key` (of a paged table) as the pages hold it. A source that
    /// can lend its bytes answers without copying the page.
    fn row(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let Some((pk, bytes)) = page_of(self, key)? else {
            return Ok(None);
        };
        find(&pk, &bytes, &key[1..])
    }
}

/// The pages of a [`Store`].
struct StorePages<'a>(&'a dyn Store);

impl Pages for StorePages<'_> {
    fn floor(&self, prefix: &[u8], key: &[u8]) -> Result<Option<Kv>, StoreError> {
        self.0.floor(prefix, key)
    }
    fn next_key(&self, prefix: &[u8], after: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.next_key(prefix, after)
    }
}

/// The page that holds (or would hold) logical key `key`: its physical key and bytes.
fn page_of(pages: &(impl Pages + ?Sized), key: &[u8]) -> Result<Option<Kv>, StoreError> {
    pages.floor(&key[..1], key)
}

/// Turns the ops of a batch on paged tables (in logical keys, each key once) into page
/// rewrites, appended to `out`.
///
/// The ops are sorted and taken page by page: each run of ops that falls in one page (at
/// or after the page's key, before the next stored page's) is merged with that page's
/// rows as stored, borrowing both, so no row is copied until the page is encoded again.
pub(crate) fn stage_pages(
    pages: &dyn Pages,
    mut ops: Vec<Op>,
    out: &mut WriteBatch,
) -> Result<(), StoreError> {
    ops.sort_by(|a, b| op_key(a).cmp(op_key(b)));
    let mut i = 0;
    while i < ops.len() {
        let key = op_key(&ops[i]);
        let table = &key[..1];
        // The page holding `key`, or a new first page of its table.
        let (pk, bytes) = page_of(pages, key)?.unwrap_or_else(|| (table.to_vec(), Vec::new()));
        let upper = pages.next_key(table, &pk)?;
        let run = ops[i..]
            .iter()
            .take_while(|op| {
                let k = op_key(op);
                k.starts_with(table) && upper.as_deref().is_none_or(|u| k < u)
            })
            .count();
        let rows = merge(&pk, &bytes, &ops[i..i + run])?;
        write_page(pk, &rows, out);
        i += run;
    }
    Ok(())
}

/// A store whose paged tables are read and written in logical keys.
///
/// A store that takes the paged tables' writes in logical keys itself
/// ([`Store::apply_rows`]: a [`crate::store::SledStore`] in write-ahead mode) is given them
/// so, and holds them until it builds their pages ([`stage_pages`]); it answers lookups of
/// rows itself ([`Store::index_row`]), and scans merge the rows it holds
/// ([`Store::held_rows`]) with the pages.
pub(crate) struct Paged {
    inner: Box<dyn Store>,
}

impl Paged {
    pub(crate) fn new(inner: Box<dyn Store>) -> Self {
        Self { inner }
    }

    fn pages(&self) -> StorePages<'_> {
        StorePages(self.inner.as_ref())
    }

    /// The logical pairs of one page, with full keys.
    fn logical(page_key: &[u8], bytes: &[u8]) -> Result<Vec<Kv>, StoreError> {
        let t = page_key[0];
        Ok(decode(page_key, bytes)?
            .into_iter()
            .map(|(k, v)| {
                let mut full = Vec::with_capacity(1 + k.len());
                full.push(t);
                full.extend_from_slice(&k);
                (full, v)
            })
            .collect())
    }

    /// Applies `batch` (logical keys), durably if `durable`.
    fn write(&self, batch: WriteBatch, durable: bool) -> Result<(), StoreError> {
        let Some(batch) = self.inner.apply_rows(batch, durable)? else {
            return Ok(());
        };
        let out = self.pages_of(batch)?;
        if durable {
            self.inner.commit(out)
        } else {
            self.inner.apply(out)
        }
    }
}

/// The rows of page `pk` (stored as `bytes`, empty for a new page) with `ops` (sorted, all
/// within the page) applied, in order. A `put` of a key the page holds is refused.
fn merge<'a>(pk: &[u8], bytes: &'a [u8], ops: &'a [Op]) -> Result<Vec<Row<'a>>, StoreError> {
    let mut stored: Vec<Row<'a>> = Vec::new();
    walk(pk, bytes, |k, v| stored.push((k, v)))?;
    let mut rows = Vec::with_capacity(stored.len() + ops.len());
    let mut s = stored.into_iter().peekable();
    for op in ops {
        let full = op_key(op);
        let rest = &full[1..];
        while let Some(&(k, v)) = s.peek() {
            if k >= rest {
                break;
            }
            rows.push((k, v));
            s.next();
        }
        let held = s.peek().is_some_and(|&(k, _)| k == rest);
        match op {
            Op::Put(_, v) => {
                if held {
                    return Err(StoreError::Overwrite(printable(full)));
                }
                rows.push((rest, v.as_slice()));
            }
            Op::Replace(_, v) => {
                if held {
                    s.next();
                }
                rows.push((rest, v.as_slice()));
            }
            Op::Delete(_) => {
                if held {
                    s.next();
                }
            }
        }
    }
    rows.extend(s);
    Ok(rows)
}

/// Writes page `pk` with `rows` to `out`: removed when empty, split when over [`PAGE_MAX`]
/// into runs of [`PAGE_FILL`], except that a rest of at most [`PAGE_MAX`] rows is one run
/// and a rest under two runs is halved, so no page is left over [`PAGE_MAX`].
fn write_page(pk: Vec<u8>, rows: &[Row<'_>], out: &mut WriteBatch) {
    if rows.is_empty() {
        out.delete(pk);
        return;
    }
    if rows.len() <= PAGE_MAX {
        out.replace(pk, encode(rows));
        return;
    }
    let n = rows.len();
    let mut start = 0;
    while start < n {
        let rest = n - start;
        let end = start
            + if rest <= PAGE_MAX {
                rest
            } else if rest < 2 * PAGE_FILL {
                // Two runs, neither over PAGE_MAX nor tiny.
                rest / 2
            } else {
                PAGE_FILL
            };
        let key = if start == 0 {
            pk.clone()
        } else {
            let mut k = Vec::with_capacity(1 + rows[start].0.len());
            k.push(pk[0]);
            k.extend_from_slice(rows[start].0);
            k
        };
        out.replace(key, encode(&rows[start..end]));
        start = end;
    }
}

fn op_key(op: &Op) -> &[u8] {
    match op {
        Op::Put(k, _) | Op::Replace(k, _) | Op::Delete(k) => k,
    }
}

impl Store for Paged {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if !is_paged(key) {
            return self.inner.get(key);
        }
        if let Some(slot) = self.inner.index_row(key)? {
            return Ok(slot);
        }
        self.pages().row(key)
    }

    fn scan<'a>(
        &'a self,
        prefix: &[u8],
        start: Option<&[u8]>,
    ) -> Box<dyn Iterator<Item = Result<Kv, StoreError>> + 'a> {
        if !is_paged(prefix) {
            return self.inner.scan(prefix, start);
        }
        let from = match start {
            Some(s) if s > prefix => s.to_vec(),
            _ => prefix.to_vec(),
        };
        let table = prefix[..1].to_vec();
        let held = match self.inner.held_rows(prefix, &from) {
            Ok(h) => h,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let first_page = match page_of(&self.pages(), &from) {
            Ok(p) => p.map(|(k, _)| k),
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let pages = self.inner.scan(&table, first_page.as_deref());
        let prefix = prefix.to_vec();
        let items = pages
            .map(|r| r.and_then(|(pk, bytes)| Self::logical(&pk, &bytes)))
            .flat_map(|r| match r {
                Ok(items) => items.into_iter().map(Ok).collect::<Vec<_>>(),
                Err(e) => vec![Err(e)],
            })
            .filter(move |r| match r {
                Ok((k, _)) => k.as_slice() >= from.as_slice(),
                Err(_) => true,
            });
        // Keys are in order, so the run that matches the prefix ends at the first that
        // does not (after the start).
        let items = items.take_while(move |r| match r {
            Ok((k, _)) => k.starts_with(&prefix),
            Err(_) => true,
        });
        if held.is_empty() {
            Box::new(items)
        } else {
            Box::new(crate::overlay::Merged::new(items, held))
        }
    }

    fn last(&self, prefix: &[u8]) -> Result<Option<Kv>, StoreError> {
        if !is_paged(prefix) {
            return self.inner.last(prefix);
        }
        let mut last = None;
        for r in self.scan(prefix, None) {
            last = Some(r?);
        }
        Ok(last)
    }

    fn floor(&self, prefix: &[u8], key: &[u8]) -> Result<Option<Kv>, StoreError> {
        if !is_paged(prefix) {
            return self.inner.floor(prefix, key);
        }
        let mut best = None;
        for r in self.scan(prefix, None) {
            let (k, v) = r?;
            if k.as_slice() > key {
                break;
            }
            best = Some((k, v));
        }
        Ok(best)
    }

    fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.write(batch, true)
    }

    fn apply(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.write(batch, false)
    }
}

impl Paged {
    /// `batch` in physical keys: its paged ops turned into page rewrites.
    fn pages_of(&self, batch: WriteBatch) -> Result<WriteBatch, StoreError> {
        {
            let mut seen = HashSet::with_capacity(batch.ops.len());
            for op in &batch.ops {
                if !seen.insert(op_key(op)) {
                    return Err(StoreError::Overwrite(printable(op_key(op))));
                }
            }
        }
        let (paged, plain): (Vec<Op>, Vec<Op>) =
            batch.ops.into_iter().partition(|op| is_paged(op_key(op)));
        let mut out = WriteBatch { ops: plain };
        stage_pages(&self.pages(), paged, &mut out)?;
        Ok(out)
    }
}

/// The pages of a paged table as stored.
#[cfg(test)]
pub(crate) fn physical_scan<'a>(
    store: &'a Paged,
    table: u8,
) -> Box<dyn Iterator<Item = Result<Kv, StoreError>> + 'a> {
    store.inner.scan(&[table], None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use std::collections::BTreeMap;

    fn key(t: u8, s: &str) -> Vec<u8> {
        let mut k = vec![t];
        k.extend_from_slice(s.as_bytes());
        k
    }

    #[test]
    fn paged_store_conforms() {
        crate::store::conformance::run(&Paged::new(Box::new(MemoryStore::new())));
    }

    #[test]
    fn many_keys_take_few_pages_and_read_back_in_order() {
        let p = Paged::new(Box::new(MemoryStore::new()));
        // Interleaved groups, keys arriving out of order, across several batches.
        let mut want = Vec::new();
        for round in 0..20u32 {
            let mut b = WriteBatch::default();
            for i in 0..250u32 {
                let n = (i * 7919 + round * 104_729) % 1_000_003;
                let k = key(b'I', &format!("c-{n:09}"));
                if want.iter().any(|(w, _): &(Vec<u8>, Vec<u8>)| *w == k) {
                    continue;
                }
                b.put(k.clone(), n.to_be_bytes().to_vec());
                want.push((k, n.to_be_bytes().to_vec()));
            }
            p.commit(b).unwrap();
        }
        want.sort();
        let got: Vec<Kv> = p.scan(b"I", None).map(Result::unwrap).collect();
        assert_eq!(got, want);
        for (k, v) in want.iter().step_by(37) {
            assert_eq!(p.get(k).unwrap().as_ref(), Some(v));
        }
        let pages = physical_scan(&p, b'I').count();
        assert!(
            pages <= want.len() / (PAGE_FILL / 2),
            "{pages} pages for {}",
            want.len()
        );
        assert!(pages > 1);
        // A prefix scan from the middle of a page, and one that matches nothing.
        let pre = key(b'I', "c-0000");
        let n = want.iter().filter(|(k, _)| k.starts_with(&pre)).count();
        assert_eq!(p.scan(&pre, None).count(), n);
        assert_eq!(p.scan(&key(b'I', "zz"), None).count(), 0);
        // Write-once holds at the item.
        let mut b = WriteBatch::default();
        b.put(want[3].0.clone(), vec![1]);
        assert!(matches!(p.commit(b), Err(StoreError::Overwrite(_))));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// Batches of puts, replaces and deletes over two tables read back as a plain
        /// ordered map of the same writes would, every page within its bounds; a batch
        /// refused for an overwrite changes nothing.
        #[test]
        fn paged_writes_read_back_as_a_plain_map(
            batches in proptest::collection::vec(
                proptest::collection::vec((0u8..3, 0u8..2, 0u16..700, 0u8..4), 1..260),
                1..7,
            )
        ) {
            let p = Paged::new(Box::new(MemoryStore::new()));
            let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for ops in batches {
                let mut b = WriteBatch::default();
                let mut keys = HashSet::new();
                let mut next = model.clone();
                let mut refused = false;
                for (kind, table, n, v) in ops {
                    let k = key([b'P', b'S'][usize::from(table)], &format!("{n:05}"));
                    if !keys.insert(k.clone()) {
                        continue;
                    }
                    match kind {
                        0 => {
                            refused |= next.contains_key(&k);
                            next.insert(k.clone(), vec![v]);
                            b.put(k, vec![v]);
                        }
                        1 => {
                            next.insert(k.clone(), vec![v; 3]);
                            b.replace(k, vec![v; 3]);
                        }
                        _ => {
                            next.remove(&k);
                            b.delete(k);
                        }
                    }
                }
                let r = p.commit(b);
                if refused {
                    proptest::prop_assert!(matches!(r, Err(StoreError::Overwrite(_))));
                } else {
                    proptest::prop_assert!(r.is_ok());
                    model = next;
                }
                for t in [b'P', b'S'] {
                    let got: Vec<Kv> = p.scan(&[t], None).map(Result::unwrap).collect();
                    let want: Vec<Kv> = model
                        .range(vec![t]..vec![t + 1])
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    proptest::prop_assert_eq!(got, want);
                    for page in physical_scan(&p, t) {
                        let (pk, bytes) = page.unwrap();
                        let rows = decode(&pk, &bytes).unwrap();
                        proptest::prop_assert!(!rows.is_empty() && rows.len() <= PAGE_MAX);
                    }
                }
                for (k, v) in model.iter().step_by(11) {
                    let got = p.get(k).unwrap();
                    proptest::prop_assert_eq!(got.as_ref(), Some(v));
                }
            }
        }
    }

    #[test]
    fn a_corrupt_page_is_an_error_not_a_panic() {
        let inner = MemoryStore::new();
        let mut b = WriteBatch::default();
        b.put(b"I".to_vec(), vec![0, 5, b'a']);
        inner.commit(b).unwrap();
        let p = Paged::new(Box::new(inner));
        assert!(matches!(p.get(b"Iabc"), Err(StoreError::Corrupt(_))));
        assert!(p.scan(b"I", None).any(|r| r.is_err()));
    }
}
