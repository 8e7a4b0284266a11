//! The publisher over `object_store`'s in-memory store (which keeps attributes and does
//! conditional puts as S3 does); the real S3 server is exercised by tests/publish.rs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::{Arc, Mutex};

use accord_core::keys::KeyPair;
use accord_core::tiles::{self, TileId};
use accord_ledger::synth::Synth;
use accord_ledger::Ledger;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};

use super::*;

struct Fixture {
    synth: Synth,
    key: KeyPair,
    ledger: SharedLedger,
    mem: Arc<InMemory>,
    target: Target,
}

fn fixture(entries: usize) -> Fixture {
    fixture_of(entries, 11)
}

fn fixture_of(entries: usize, seed: u8) -> Fixture {
    let mut synth = Synth::new(4, seed);
    let mut ledger = Ledger::create_in_memory(&synth.charter()).unwrap();
    for _ in 0..entries {
        ledger.append(&synth.next_entry()).unwrap();
    }
    let key = KeyPair::from_skey(&synth.log.to_skey()).unwrap();
    ledger.issue_checkpoint(&key).unwrap();
    let mem = Arc::new(InMemory::new());
    let target = Target::over(mem.clone(), "pre/fix", "mem://test", Kind::S3);
    Fixture {
        synth,
        key,
        ledger: Arc::new(Mutex::new(ledger)),
        mem,
        target,
    }
}

impl Fixture {
    fn grow(&mut self, n: usize) {
        let mut l = self.ledger.lock().unwrap();
        for _ in 0..n {
            l.append(&self.synth.next_entry()).unwrap();
        }
        l.issue_checkpoint(&self.key).unwrap();
    }

    async fn get(&self, key: &str) -> Option<(Vec<u8>, object_store::Attributes)> {
        match self.mem.get(&Path::from(format!("pre/fix/{key}"))).await {
            Ok(r) => {
                let attrs = r.attributes.clone();
                Some((r.bytes().await.unwrap().to_vec(), attrs))
            }
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => panic!("{e}"),
        }
    }
}

#[tokio::test]
async fn a_full_publish_stores_every_tile_as_the_server_serves_it() {
    let f = fixture(600);
    let r = publish(&f.ledger, &f.target, Options::default())
        .await
        .unwrap();
    assert_eq!(r.size, 601);
    assert!(r.checkpoint_written);
    let l = f
        .ledger
        .lock()
        .unwrap()
        .latest_checkpoint()
        .unwrap()
        .unwrap();
    let (cp, attrs) = f.get("checkpoint").await.unwrap();
    assert_eq!(cp, l.note.to_bytes());
    assert_eq!(
        attrs.get(&Attribute::ContentType).unwrap().as_ref(),
        CHECKPOINT_CONTENT_TYPE
    );
    assert_eq!(
        attrs.get(&Attribute::CacheControl).unwrap().as_ref(),
        NO_CACHE
    );
    let mut ids = tiles::hash_tiles(601);
    ids.extend(tiles::changed_entry_bundles(0, 601));
    assert_eq!(r.written as usize, ids.len());
    for id in ids {
        let want = f.ledger.lock().unwrap().read_tile(id).unwrap();
        let (got, attrs) = f.get(&id.to_string()).await.expect("tile stored");
        assert_eq!(got, want, "{id}");
        let cache = if id.is_full() { IMMUTABLE } else { NO_CACHE };
        assert_eq!(attrs.get(&Attribute::CacheControl).unwrap().as_ref(), cache);
        assert_eq!(
            attrs.get(&Attribute::ContentType).unwrap().as_ref(),
            TILE_CONTENT_TYPE
        );
    }
}

#[tokio::test]
async fn a_second_publish_writes_nothing_and_an_incremental_one_only_the_edge() {
    let mut f = fixture(600);
    publish(&f.ledger, &f.target, Options::default())
        .await
        .unwrap();
    let again = publish(&f.ledger, &f.target, Options::default())
        .await
        .unwrap();
    assert_eq!((again.written, again.checkpoint_written), (0, false));
    assert_eq!(again.requests, 1, "one read of the checkpoint");
    f.grow(1);
    let r = publish(&f.ledger, &f.target, Options::default())
        .await
        .unwrap();
    // 601 -> 602 leaves: the level-0 partial tile and the partial bundle (level 1 still
    // holds 2 hashes).
    assert_eq!(r.previous, Some(601));
    assert_eq!(r.written, 2);
    assert!(r.checkpoint_written);
    assert_eq!(r.requests, 2 + 2);
}

#[tokio::test]
async fn an_object_with_other_bytes_is_an_error_naming_it() {
    let f = fixture(300);
    let id = TileId::entries(0, tiles::WIDTH);
    f.mem
        .put(
            &Path::from(format!("pre/fix/{id}")),
            PutPayload::from_static(b"not the bundle"),
        )
        .await
        .unwrap();
    let e = publish(&f.ledger, &f.target, Options::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, PublishError::Conflict { object, .. } if object == "tile/entries/000"),
        "{e}"
    );
    assert!(e.is_verdict());
    assert!(
        f.get("checkpoint").await.is_none(),
        "no checkpoint over a bad tile"
    );
}

#[tokio::test]
async fn a_stored_checkpoint_of_another_log_or_a_fork_is_refused() {
    let f = fixture(10);
    let other = fixture_of(10, 12);
    publish(&other.ledger, &f.target, Options::default())
        .await
        .unwrap();
    let e = publish(&f.ledger, &f.target, Options::default())
        .await
        .unwrap_err();
    assert!(matches!(e, PublishError::StoredCheckpoint { .. }), "{e}");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[tokio::test]
async fn a_larger_stored_checkpoint_is_never_rolled_back() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, behind, stale) = (
        tmp.path().join("l"),
        tmp.path().join("behind"),
        tmp.path().join("stale"),
    );
    let mut synth = Synth::new(4, 11);
    let key = KeyPair::from_skey(&synth.log.to_skey()).unwrap();
    {
        let mut l = Ledger::create(&dir, &synth.charter()).unwrap();
        for _ in 0..10 {
            l.append(&synth.next_entry()).unwrap();
        }
        l.issue_checkpoint(&key).unwrap();
    }
    // `behind`: a copy with 11 entries and the checkpoint of 11.
    copy_dir(&dir, &behind);
    {
        let mut l = Ledger::open(&dir).unwrap();
        for _ in 0..10 {
            l.append(&synth.next_entry()).unwrap();
        }
    }
    // `stale`: 21 entries, but its latest checkpoint is still the one of 11.
    copy_dir(&dir, &stale);
    let mut l = Ledger::open(&dir).unwrap();
    l.issue_checkpoint(&key).unwrap();
    let ledger = Arc::new(Mutex::new(l));
    let mem = Arc::new(InMemory::new());
    let target = Target::over(mem.clone(), "p", "mem://test", Kind::S3);
    publish(&ledger, &target, Options::default()).await.unwrap();
    let cp = Path::from("p/checkpoint");
    let stored = mem.get(&cp).await.unwrap().bytes().await.unwrap();

    let stale = Arc::new(Mutex::new(Ledger::open(&stale).unwrap()));
    let r = publish(&stale, &target, Options::default()).await.unwrap();
    assert_eq!(
        (r.store_ahead, r.checkpoint_written, r.written),
        (Some(21), false, 0)
    );

    let behind = Arc::new(Mutex::new(Ledger::open(&behind).unwrap()));
    let e = publish(&behind, &target, Options::default())
        .await
        .unwrap_err();
    assert!(matches!(e, PublishError::StoredCheckpoint { .. }), "{e}");
    assert_eq!(mem.get(&cp).await.unwrap().bytes().await.unwrap(), stored);
}

#[tokio::test]
async fn two_publishers_at_once_both_finish_and_the_checkpoint_is_the_latest() {
    let f = fixture(2000);
    let (a, b) = tokio::join!(
        publish(&f.ledger, &f.target, Options::default()),
        publish(&f.ledger, &f.target, Options::default())
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.checkpoint_written || b.checkpoint_written);
    let l = f
        .ledger
        .lock()
        .unwrap()
        .latest_checkpoint()
        .unwrap()
        .unwrap();
    assert_eq!(f.get("checkpoint").await.unwrap().0, l.note.to_bytes());
}
