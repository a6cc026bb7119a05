//! kefu-store's one integration-test binary: the conformance suite on every backend, and what
//! only the durable backend promises (surviving a reopen, one process at a time).

// Test helpers unwrap freely: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use kefu_store::{
    Commit, EmbeddedStore, Key, MemoryStore, Record, Store, StoreError, Write, records::Counters,
};

mod memory {
    use super::*;
    kefu_store::store_conformance_suite!((MemoryStore::new(), ()));
}

mod embedded {
    use super::*;
    kefu_store::store_conformance_suite!({
        let dir = tempfile::tempdir().unwrap();
        (EmbeddedStore::open(dir.path()).unwrap(), dir)
    });
}

#[test]
fn embedded_store_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store
            .commit(&[Commit {
                writes: vec![Write::put(
                    Key::Counters,
                    0,
                    1,
                    Record::Counters(Counters { next_seq: 42 }),
                )],
                ..Commit::default()
            }])
            .unwrap();
    }
    assert!(EmbeddedStore::exists_in(dir.path()));
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let loaded = store.load(&Key::Counters).unwrap().unwrap();
    assert_eq!(loaded.value, Record::Counters(Counters { next_seq: 42 }));
    let before = loaded.version;
    assert_eq!(before, 1);
    store
        .commit(&[Commit {
            writes: vec![Write::put(
                Key::Counters,
                before,
                2,
                Record::Counters(Counters { next_seq: 43 }),
            )],
            ..Commit::default()
        }])
        .unwrap()
        .remove(0)
        .unwrap();
    assert_eq!(store.load(&Key::Counters).unwrap().unwrap().version, 2);
}

#[test]
fn a_data_directory_has_one_owner() {
    let dir = tempfile::tempdir().unwrap();
    let _first = EmbeddedStore::open(dir.path()).unwrap();
    match EmbeddedStore::open(dir.path()) {
        Err(StoreError::Locked { .. }) => {}
        Err(other) => panic!("expected Locked, got {other}"),
        Ok(_) => panic!("a second owner opened the store"),
    }
    assert!(!EmbeddedStore::exists_in(&dir.path().join("elsewhere")));
}
