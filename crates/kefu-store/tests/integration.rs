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

/// The same suite with the recent inbox index moved into the per-user one every two entries, so
/// every inbox read meets both.
mod embedded_compacting {
    use super::*;
    kefu_store::store_conformance_suite!({
        let dir = tempfile::tempdir().unwrap();
        (
            EmbeddedStore::open_compacting_inbox_at(dir.path(), 2).unwrap(),
            dir,
        )
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

mod log {
    //! The embedded store's write-ahead log: what a crash leaves behind is recovered.
    use super::*;
    use kefu_store::conformance::{traffic_in, traffic_seqs};
    use kefu_store::{InboxMessage, TrafficRecord};
    use std::path::Path;

    fn counters(expect: u64, version: u64, next_seq: u64) -> Write {
        Write::put(
            Key::Counters,
            expect,
            version,
            Record::Counters(Counters { next_seq }),
        )
    }

    fn message(id: u64) -> InboxMessage {
        kefu_store::conformance::message(id, "u1", "wx1")
    }

    fn traffic(seq: u64) -> TrafficRecord {
        kefu_store::conformance::trigger(seq, 1_700_000_000)
    }

    fn log_files(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("wal-"))
            .collect();
        files.sort();
        files
    }

    fn commit(store: &EmbeddedStore, commit: Commit) -> kefu_store::CommitResult {
        store.commit(&[commit]).unwrap().remove(0)
    }

    /// Inbox index entries move from the recent part into blocks every three; reads see every
    /// message once, in order, before and after a move, across a restart, a crash before redb
    /// holds them, and a wipe.
    #[test]
    fn inbox_entries_read_the_same_across_compaction_restart_and_wipe() {
        let dir = tempfile::tempdir().unwrap();
        let send = |store: &EmbeddedStore, id, who| {
            let message = kefu_store::conformance::message(id, who, "wx1");
            let inbox = Commit {
                inbox: vec![message],
                ..Commit::default()
            };
            commit(store, inbox).unwrap();
        };
        let ids = |store: &EmbeddedStore, who, after, limit| {
            kefu_store::conformance::inbox_ids(store, who, None, after, limit)
        };
        let open = || EmbeddedStore::open_compacting_inbox_at(dir.path(), 3).unwrap();
        {
            let store = open();
            for id in 1..=7 {
                send(&store, id, if id % 2 == 0 { "u2" } else { "u1" });
                // A read after each commit makes it a round of its own.
                let odd: Vec<u64> = (1..=id).filter(|n| n % 2 == 1).collect();
                assert_eq!(ids(&store, "u1", 0, 100), odd, "after message {id}");
            }
            assert_eq!(ids(&store, "u2", 0, 100), [2, 4, 6]);
            // u1's blocks are [1, 3] and [5]; 7 is recent.
            assert_eq!(ids(&store, "u1", 3, 100), [5, 7]);
            assert_eq!(ids(&store, "u1", 1, 2), [3, 5]);
        }
        send(&EmbeddedStore::open_unapplied(dir.path()).unwrap(), 8, "u2");
        let store = open();
        assert_eq!(ids(&store, "u1", 0, 100), [1, 3, 5, 7]);
        assert_eq!(ids(&store, "u2", 0, 100), [2, 4, 6, 8]);
        send(&store, 9, "u1");
        assert_eq!(ids(&store, "u1", 5, 100), [7, 9]);
        store.wipe(&[]).unwrap();
        assert_eq!(ids(&store, "u1", 0, 100), Vec::<u64>::new());
        send(&store, 1, "u1");
        assert_eq!(ids(&store, "u1", 0, 100), [1]);
        assert_eq!(ids(&store, "u2", 0, 100), Vec::<u64>::new());
    }

    #[test]
    fn commits_that_never_reached_redb_are_recovered_from_the_log() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = EmbeddedStore::open_unapplied(dir.path()).unwrap();
            let first = Commit {
                writes: vec![
                    counters(0, 1, 42),
                    Write::put(Key::AdminToken, 0, 2, Record::AdminToken("t".into())),
                ],
                inbox: vec![message(1)],
                traffic: vec![traffic(1)],
                ..Commit::default()
            };
            commit(&store, first).unwrap();
            // Versions are checked against the log even though redb never saw it.
            let stale = Commit {
                writes: vec![counters(0, 3, 99)],
                ..Commit::default()
            };
            assert!(commit(&store, stale).is_err());
            let second = Commit {
                writes: vec![counters(1, 4, 43), Write::delete(Key::AdminToken, 2)],
                inbox: vec![message(2)],
                ..Commit::default()
            };
            commit(&store, second).unwrap();
            assert!(!log_files(dir.path()).is_empty());
        }
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let counters = store.load(&Key::Counters).unwrap().unwrap();
        assert_eq!(
            (counters.version, counters.value),
            (4, Record::Counters(Counters { next_seq: 43 }))
        );
        assert_eq!(store.load(&Key::AdminToken).unwrap(), None);
        let inbox = store.inbox("u1", None, 0, 10).unwrap();
        assert_eq!(inbox, vec![message(1), message(2)]);
        assert_eq!(traffic_in(&store, None, None), vec![traffic(1)]);
    }

    /// Set in the child process of [`a_crash_leaves_redb_needing_no_full_repair`]: the data
    /// directory it crashes on.
    const CRASH_DIR: &str = "KEFU_STORE_CRASH_DIR";
    /// Set with it: what the child does between opening the store and aborting.
    const CRASH_AFTER: &str = "KEFU_STORE_CRASH_AFTER";

    /// What the child does before it aborts, and the counters' version the parent then finds.
    const CRASHES: [(&str, u64); 3] = [
        // Nothing: killed before the first checkpoint since the start.
        ("opening", 1),
        // A commit that a read makes the applier put in redb, with no checkpoint after it.
        ("a round", 2),
        // A commit, then the checkpoint that `close` makes, as the applier does once a second.
        ("a checkpoint", 2),
    ];

    /// The test runs itself again as a child process, which opens the store, does one of
    /// [`CRASHES`] and aborts before redb is closed; the parent then reopens the store. Every
    /// durable commit saves redb's allocator state, opening's included, so no crash leaves redb
    /// to walk every page (as opening's once did).
    #[test]
    fn a_crash_leaves_redb_needing_no_full_repair() {
        if let (Some(dir), Ok(after)) = (std::env::var_os(CRASH_DIR), std::env::var(CRASH_AFTER)) {
            let store = EmbeddedStore::open(Path::new(&dir)).unwrap();
            if after != "opening" {
                let next = Commit {
                    writes: vec![counters(1, 2, 11)],
                    inbox: vec![message(2)],
                    ..Commit::default()
                };
                commit(&store, next).unwrap();
                // A read waits for the applier: the commit is in redb.
                assert_eq!(store.inbox("u1", None, 0, 10).unwrap().len(), 2);
            }
            if after == "a checkpoint" {
                store.close().unwrap();
            }
            std::process::abort();
        }
        for (after, version) in CRASHES {
            let dir = tempfile::tempdir().unwrap();
            {
                let store = EmbeddedStore::open(dir.path()).unwrap();
                let first = Commit {
                    writes: vec![counters(0, 1, 10)],
                    inbox: vec![message(1)],
                    ..Commit::default()
                };
                commit(&store, first).unwrap();
                assert!(!store.needed_full_repair());
            }
            let status = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "log::a_crash_leaves_redb_needing_no_full_repair",
                    "--nocapture",
                ])
                .env(CRASH_DIR, dir.path())
                .env(CRASH_AFTER, after)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(!status.success(), "the child was meant to abort");
            let store = EmbeddedStore::open(dir.path()).unwrap();
            assert!(
                !store.needed_full_repair(),
                "opening after a crash after {after} walked every page of redb"
            );
            let counters = store.load(&Key::Counters).unwrap().unwrap();
            assert_eq!(counters.version, version, "after {after}");
            let inbox = store.inbox("u1", None, 0, 10).unwrap();
            assert_eq!(inbox.len() as u64, version, "after {after}");
        }
    }

    #[test]
    fn an_append_a_crash_cut_short_is_dropped_on_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = EmbeddedStore::open_unapplied(dir.path()).unwrap();
            commit(
                &store,
                Commit {
                    writes: vec![counters(0, 1, 10)],
                    ..Commit::default()
                },
            )
            .unwrap();
            commit(
                &store,
                Commit {
                    writes: vec![counters(1, 2, 11)],
                    ..Commit::default()
                },
            )
            .unwrap();
        }
        // The last append's final bytes never reached the disk: they are still the zeros the
        // log writes ahead of its entries.
        let last = log_files(dir.path()).pop().unwrap();
        let mut bytes = std::fs::read(&last).unwrap();
        let end = bytes.iter().rposition(|&b| b != 0).unwrap() + 1;
        bytes[end - 5..end].fill(0);
        std::fs::write(&last, &bytes).unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(store.load(&Key::Counters).unwrap().unwrap().version, 1);
        // The store goes on from there.
        commit(
            &store,
            Commit {
                writes: vec![counters(1, 3, 12)],
                ..Commit::default()
            },
        )
        .unwrap();
    }

    #[test]
    fn bodies_live_in_the_log_until_a_wipe_makes_it_obsolete() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            for n in 0..50u64 {
                let c = Commit {
                    writes: vec![counters(n, n + 1, n)],
                    inbox: vec![message(n + 1)],
                    traffic: vec![traffic(n + 1)],
                    ..Commit::default()
                };
                commit(&store, c).unwrap();
            }
        }
        let before = log_files(dir.path());
        assert!(!before.is_empty(), "the log holds the bodies");
        {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            assert_eq!(store.load(&Key::Counters).unwrap().unwrap().version, 50);
            assert_eq!(store.inbox("u1", None, 0, 100).unwrap().len(), 50);
            assert_eq!(store.inbox("u1", None, 40, 5).unwrap()[0], message(41));
            assert_eq!(traffic_seqs(&store), (1..=50).collect::<Vec<u64>>());
            store.wipe(&[Key::Counters]).unwrap();
            assert_eq!(store.inbox("u1", None, 0, 100).unwrap(), vec![]);
            let c = Commit {
                inbox: vec![message(51)],
                ..Commit::default()
            };
            commit(&store, c).unwrap();
        }
        // The segments before the wipe are gone; the one holding the wipe stays.
        let after = log_files(dir.path());
        assert!(
            before.iter().all(|old| !after.contains(old)),
            "{before:?} → {after:?}"
        );
        let store = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(store.inbox("u1", None, 0, 100).unwrap(), vec![message(51)]);
    }
}
