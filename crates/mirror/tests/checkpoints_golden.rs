//! Golden tests of offset translation and checkpoint records: MM2's `OffsetSyncStoreTest`
//! and `MirrorCheckpointTaskTest` vectors (spec §6.1, §6.3), and the checkpoint bytes of the
//! spec's worked example, read back as Java MM2 writes them.

use strait_mirror::checkpoint::{
    checkpoint_if_newer, downstream_topic, CheckpointStore, OffsetSyncStore, Translation,
};
use strait_mirror::formats::{Checkpoint, ClaimedSync, OffsetSync};
use strait_mirror::policy::ReplicationPolicy;

const TOPIC: &str = "topic1";
const PARTITION: i32 = 2;

fn sync(store: &mut OffsetSyncStore, up: i64, down: i64) {
    store.handle(&OffsetSync {
        topic: TOPIC.to_owned(),
        partition: PARTITION,
        upstream_offset: up,
        downstream_offset: down,
    });
}

/// Java's `translateDownstream` answer for `topic1-2`.
fn t(store: &OffsetSyncStore, up: i64) -> Option<i64> {
    store.translate(TOPIC, PARTITION, up).mm2_result()
}

/// The spec's `S:P` notation: translate(S−1)=P+1 (−1 if P=−1), translate(S)=S,
/// translate(S+1)=S+1, translate(S+2)=S+1 (syncs with upstream = downstream).
fn assert_sparse(store: &OffsetSyncStore, s: i64, p: i64) {
    let before = if p == -1 { -1 } else { p + 1 };
    assert_eq!(
        t(store, s - 1),
        Some(before),
        "translate({}) for {s}:{p}",
        s - 1
    );
    assert_eq!(t(store, s), Some(s), "translate({s}) for {s}:{p}");
    assert_eq!(
        t(store, s + 1),
        Some(s + 1),
        "translate({}) for {s}:{p}",
        s + 1
    );
    assert_eq!(
        t(store, s + 2),
        Some(s + 1),
        "translate({}) for {s}:{p}",
        s + 2
    );
}

#[test]
fn offset_translation() {
    let mut store = OffsetSyncStore::new(true);
    store.set_read_to_end();
    sync(&mut store, 100, 200);
    assert_eq!(t(&store, 150), Some(201));
    sync(&mut store, 150, 251);
    assert_eq!(t(&store, 150), Some(251));
    assert_eq!(t(&store, 5), Some(-1));
    sync(&mut store, 200, 10);
    assert_eq!(t(&store, 200), Some(10));
    sync(&mut store, 20, 20);
    assert_eq!(t(&store, 20), Some(20));
}

#[test]
fn no_translation_if_store_not_started() {
    let mut store = OffsetSyncStore::new(true);
    sync(&mut store, 100, 200);
    for up in [0, 100, 200] {
        assert_eq!(store.translate(TOPIC, PARTITION, up), Translation::NotReady);
    }
    store.set_read_to_end();
    assert_eq!(t(&store, 0), Some(-1));
    assert_eq!(t(&store, 100), Some(200));
    assert_eq!(t(&store, 200), Some(201));
    assert_eq!(
        store.translate("other", PARTITION, 100),
        Translation::NoSync,
        "no syncs for the partition: no translation"
    );
}

fn past_translation_vectors(must_read_to_end: bool) -> OffsetSyncStore {
    let mut store = OffsetSyncStore::new(must_read_to_end);
    for up in (0..=1000).step_by(10) {
        sync(&mut store, up, up);
    }
    store.set_read_to_end();
    store
}

fn assert_rewind(store: &mut OffsetSyncStore) {
    sync(store, 1500, 11000);
    assert_eq!(t(store, 1499), Some(-1));
    assert_eq!(t(store, 1500), Some(11000));
    assert_eq!(t(store, 2000), Some(11001));
}

#[test]
fn past_offset_translation() {
    let mut store = past_translation_vectors(true);
    for up in (1010..=10000).step_by(10) {
        sync(&mut store, up, up);
    }
    for (s, p) in [
        (1000, -1),
        (4840, 1000),
        (6760, 4840),
        (8680, 6760),
        (9160, 8680),
        (9640, 9160),
        (9880, 9640),
        (9940, 9880),
        (9970, 9940),
        (9990, 9970),
        (10000, 9990),
    ] {
        assert_sparse(&store, s, p);
    }
    assert_rewind(&mut store);
}

#[test]
fn past_offset_translation_without_initialization_read_to_end() {
    let mut store = past_translation_vectors(false);
    for (s, p) in [(480, 0), (720, 480), (1000, 990)] {
        assert_sparse(&store, s, p);
    }
    for up in (1000..=10000).step_by(10) {
        sync(&mut store, up, up);
    }
    for (s, p) in [
        (3840, 0),
        (7680, 3840),
        (8640, 7680),
        (9120, 8640),
        (9600, 9120),
        (9840, 9600),
        (9900, 9840),
        (9960, 9900),
        (9990, 9960),
        (10000, 9990),
    ] {
        assert_sparse(&store, s, p);
    }
    assert_rewind(&mut store);
}

#[test]
fn consistently_spaced_syncs_keep_first_and_latest() {
    let mut store = OffsetSyncStore::new(false);
    store.set_read_to_end();
    let mut previous = Vec::new();
    for up in (0..20_000).step_by(7) {
        sync(&mut store, up, up * 2);
        let kept = store.kept(TOPIC, PARTITION);
        assert_eq!(kept[0], (up, up * 2), "syncs[0] is the latest sync");
        assert_eq!(*kept.last().unwrap(), (0, 0), "syncs[63] is the first sync");
        let expired = previous.iter().filter(|s| !kept.contains(s)).count();
        assert!(
            expired <= 1,
            "at most one sync expires per update, {expired} did at {up}"
        );
        previous = kept;
    }
}

/// `MirrorCheckpointTaskTest.testCheckpointRecordsMonotonicIfStoreRewinds`: the store loses
/// 12→5, translation goes backwards, and the checkpoint is suppressed.
#[test]
fn checkpoints_monotonic_if_store_rewinds() {
    let mut store = OffsetSyncStore::new(true);
    store.set_read_to_end();
    sync(&mut store, 11, 4);
    sync(&mut store, 12, 5);
    assert_eq!(t(&store, 13), Some(6));
    let first = checkpoint("group", "source1.topic1", 13, 6);
    let mut checkpoints = CheckpointStore::default();
    assert!(checkpoint_if_newer(&checkpoints, &first));
    checkpoints.insert(first);
    for up in 13..=17 {
        sync(&mut store, up, up - 7);
    }
    assert_eq!(
        store.kept(TOPIC, PARTITION),
        vec![(17, 10), (16, 9), (15, 8), (11, 4)]
    );
    assert_eq!(t(&store, 13), Some(5));
    let backwards = checkpoint("group", "source1.topic1", 13, 5);
    assert!(
        !checkpoint_if_newer(&checkpoints, &backwards),
        "a checkpoint going backwards without an upstream rewind is dropped"
    );
    let rewound = checkpoint("group", "source1.topic1", 12, 5);
    assert!(
        checkpoint_if_newer(&checkpoints, &rewound),
        "an upstream rewind may move the checkpoint backwards"
    );
}

fn checkpoint(group: &str, topic: &str, up: i64, down: i64) -> Checkpoint {
    Checkpoint {
        group: group.to_owned(),
        topic: topic.to_owned(),
        partition: PARTITION,
        upstream_offset: up,
        downstream_offset: down,
        metadata: String::new(),
    }
}

/// `testDownstreamTopicRenaming` (source1→target2).
#[test]
fn downstream_topic_renaming() {
    let policy = ReplicationPolicy::default();
    assert_eq!(
        downstream_topic(&policy, "source1", "target2", "topic3"),
        "source1.topic3"
    );
    assert_eq!(
        downstream_topic(&policy, "source1", "target2", "target2.topic3"),
        "topic3"
    );
    assert_eq!(
        downstream_topic(&policy, "source1", "target2", "source6.topic7"),
        "source1.source6.topic7"
    );
}

/// `testCheckpointsTaskRestartUsesExistingCheckpoints`.
#[test]
fn restart_uses_existing_checkpoints() {
    let mut store = OffsetSyncStore::new(false);
    for up in [100, 200, 300] {
        sync(&mut store, up, up);
    }
    store.set_read_to_end();
    assert_eq!(t(&store, 250), Some(201));
    let mut checkpoints = CheckpointStore::default();
    checkpoints.insert(checkpoint("group", "source1.topic1", 250, 201));

    // Restart: the old checkpoint is loaded, so syncs are read without must-read-to-end.
    let mut store = OffsetSyncStore::new(false);
    for up in [175, 275, 375, 475] {
        sync(&mut store, up, up);
    }
    store.set_read_to_end();
    for up in [250, 370] {
        let down = t(&store, up).unwrap();
        assert_eq!(down, 176);
        assert!(!checkpoint_if_newer(
            &checkpoints,
            &checkpoint("group", "source1.topic1", up, down)
        ));
    }
    assert_eq!(t(&store, 400), Some(376));
    assert!(checkpoint_if_newer(
        &checkpoints,
        &checkpoint("group", "source1.topic1", 400, 376)
    ));
}

/// strait's per-batch syncs: a commit at a batch boundary translates exactly, inside a batch
/// one past the batch's first record (never past the committed position).
#[test]
fn batch_boundaries_translate_exactly() {
    let mut store = OffsetSyncStore::new(false);
    // Source batches of 10 at 0, 10, 20 land at 100, 110, 120 on the target.
    for (up, down) in [(0, 100), (10, 110), (20, 120)] {
        sync(&mut store, up, down);
    }
    store.set_read_to_end();
    assert_eq!(
        store.translate(TOPIC, PARTITION, 10),
        Translation::Exact { downstream: 110 }
    );
    // The consumer read the synced record last: resuming right after it is exact too.
    assert_eq!(
        store.translate(TOPIC, PARTITION, 11),
        Translation::Exact { downstream: 111 }
    );
    assert_eq!(
        store.translate(TOPIC, PARTITION, 15),
        Translation::Conservative {
            downstream: 111,
            sync_from: 10
        }
    );
}

/// Spec §4.3 worked example.
const KEY: &str = "00 08 6d 79 2d 67 72 6f 75 70 00 14 70 72 69 6d 61 72 79 2e 74 65 73 74 2d 74 6f 70 69 63 2d 31 00 00 00 03";
const VALUE: &str = "00 00 00 00 00 00 00 00 03 e8 00 00 00 00 00 00 03 df 00 00";

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

#[test]
fn checkpoint_bytes_equal_the_worked_example() {
    let c = Checkpoint {
        group: "my-group".to_owned(),
        topic: "primary.test-topic-1".to_owned(),
        partition: 3,
        upstream_offset: 1000,
        downstream_offset: 991,
        metadata: String::new(),
    };
    assert_eq!(c.record_key().unwrap(), hex(KEY));
    assert_eq!(c.record_value().unwrap(), hex(VALUE));
}

/// A checkpoint written by Java MM2 (the spec's bytes, plus metadata `abc`) is loaded.
#[test]
fn java_checkpoint_is_read() {
    let mut value = hex(VALUE);
    value.truncate(value.len() - 2);
    value.extend([0x00, 0x03, b'a', b'b', b'c']);
    let mut store = CheckpointStore::default();
    store.insert_record(Some(&hex(KEY)), Some(&value));
    store.insert_record(None, Some(&value)); // a tombstone-like record is skipped
    let got = store.get("my-group", "primary.test-topic-1", 3).unwrap();
    assert_eq!((got.upstream_offset, got.downstream_offset), (1000, 991));
    assert_eq!(got.metadata, "abc");
}

/// Failback: a position in the remote copy translates back to the original topic through the
/// same syncs, never past what the consumer read.
#[test]
fn remote_positions_translate_back() {
    let mut store = OffsetSyncStore::new(false);
    for (up, down) in [(0, 100), (10, 110), (20, 120)] {
        sync(&mut store, up, down);
    }
    store.set_read_to_end();
    let back = |d| store.translate_back(TOPIC, PARTITION, d);
    assert_eq!(back(110), Translation::Exact { downstream: 10 });
    assert_eq!(back(111), Translation::Exact { downstream: 11 });
    assert_eq!(
        back(115),
        Translation::Conservative {
            downstream: 11,
            sync_from: 110
        }
    );
    assert_eq!(back(99), Translation::TooOld);
    assert_eq!(
        store.translate_back("other", PARTITION, 5),
        Translation::NoSync
    );
}

/// strait keeps the recent syncs of a partition densely (besides MM2's 64 sparse ones), so a
/// group lagging many batches behind still translates exactly at a batch boundary; MM2's
/// algorithm alone answers with an older sync.
#[test]
fn recent_syncs_keep_batch_precision() {
    let mut mm2 = OffsetSyncStore::new(false);
    let mut strait = OffsetSyncStore::with_recent(false, 1000);
    for store in [&mut mm2, &mut strait] {
        store.set_read_to_end();
        for up in (0..100).step_by(10) {
            sync(store, up, up + 1000);
        }
    }
    assert_eq!(
        mm2.kept(TOPIC, PARTITION),
        vec![(90, 1090), (80, 1080), (60, 1060), (0, 1000)]
    );
    assert_eq!(t(&mm2, 50), Some(1001));
    assert_eq!(
        strait.translate(TOPIC, PARTITION, 50),
        Translation::Exact { downstream: 1050 }
    );
    assert_eq!(
        strait.translate(TOPIC, PARTITION, 55),
        Translation::Conservative {
            downstream: 1051,
            sync_from: 50
        },
        "equal spans but no claim (Java MM2's syncs): MM2's rule"
    );
    assert_eq!(
        strait.translate_back(TOPIC, PARTITION, 1050),
        Translation::Exact { downstream: 50 }
    );

    // Only the most recent `n` are kept densely; older offsets fall back to MM2's syncs.
    let mut small = OffsetSyncStore::with_recent(false, 3);
    small.set_read_to_end();
    for up in (0..100).step_by(10) {
        sync(&mut small, up, up);
    }
    assert_eq!(t(&small, 70), Some(70));
    assert_eq!(t(&small, 50), Some(1));
    // An upstream rewind forgets the recent syncs too.
    sync(&mut small, 5, 200);
    assert_eq!(t(&small, 70), Some(201));
    assert_eq!(t(&small, 4), Some(-1));
}

/// A store that has read strait's syncs `(upstream, downstream, exact since)` as its writer
/// claimed them, to the end.
fn claimed_store(syncs: &[(i64, i64, Option<i64>)]) -> OffsetSyncStore {
    let mut store = OffsetSyncStore::with_recent(false, 100);
    store.set_read_to_end();
    for &(up, down, exact_since) in syncs {
        store.handle_claimed(&ClaimedSync {
            sync: OffsetSync {
                topic: TOPIC.to_owned(),
                partition: PARTITION,
                upstream_offset: up,
                downstream_offset: down,
            },
            exact_since,
        });
    }
    store
}

/// Inside a batch forwarded untouched (and across batches with nothing dropped between) every
/// offset maps one to one where strait's writer claims it; across dropped offsets MM2's rule
/// stays; a claim that names another sync, or whose spans differ, is not trusted.
#[test]
fn claimed_spans_translate_exactly_inside_batches() {
    // Batch 0..9 at 100..109, 10..19 at 110..119. Source offsets 20..24 are not forwarded
    // (markers, aborted data): no claim into 25. Then 25..29 at 120..124.
    let store = claimed_store(&[
        (0, 100, None),
        (9, 109, Some(0)),
        (10, 110, Some(9)),
        (19, 119, Some(10)),
        (25, 120, None),
        (29, 124, Some(25)),
    ]);
    let exact = |downstream| Translation::Exact { downstream };
    let up = |o| store.translate(TOPIC, PARTITION, o);
    assert_eq!(up(0), exact(100));
    assert_eq!(up(5), exact(105));
    assert_eq!(up(9), exact(109));
    assert_eq!(up(15), exact(115), "inside the second batch");
    assert_eq!(
        up(22),
        Translation::Conservative {
            downstream: 120,
            sync_from: 19
        },
        "offsets dropped between: one past the last sync before"
    );
    assert_eq!(up(27), exact(122));
    assert_eq!(up(30), exact(125), "right after the last batch");
    let down = |o| store.translate_back(TOPIC, PARTITION, o);
    assert_eq!(down(105), exact(5));
    assert_eq!(down(117), exact(17));
    assert_eq!(down(122), exact(27));

    // A crash lost the syncs of 25..29 (at 120..124) and of 30..34 (at 125..129); progress had
    // been stored up to 29, so the restart wrote 30..34 again at 130..134. The spans from 19 to
    // 30 are equal (5 offsets dropped, 5 duplicated): bridging them would map 27 to 127 and
    // skip 27..29. The restarted writer claims nothing before its first sync.
    let crashed = claimed_store(&[
        (10, 110, None),
        (19, 119, Some(10)),
        (30, 130, None),
        (34, 134, Some(30)),
    ]);
    let conservative_from_19 = Translation::Conservative {
        downstream: 120,
        sync_from: 19,
    };
    assert_eq!(
        crashed.translate(TOPIC, PARTITION, 27),
        conservative_from_19
    );
    assert_eq!(crashed.translate(TOPIC, PARTITION, 32), exact(132));

    // A claim is trusted only for the sync it names, and only with equal spans.
    let odd = claimed_store(&[
        (10, 110, None),
        (19, 119, Some(10)),
        (30, 130, Some(25)),
        (40, 141, Some(30)),
    ]);
    assert_eq!(odd.translate(TOPIC, PARTITION, 27), conservative_from_19);
    assert_eq!(
        odd.translate(TOPIC, PARTITION, 35),
        Translation::Conservative {
            downstream: 131,
            sync_from: 30
        }
    );
}

/// `MirrorCheckpointTaskTest.testSyncOffset` (spec §6.4): an idle target group moves forward
/// to the checkpoint, never back; a partition it has no offset for is written.
#[test]
fn group_offset_sync_never_rewinds() {
    use std::collections::BTreeMap;
    use strait_kafka::CommittedOffset;
    use strait_mirror::checkpoint::group_sync::{decide, Decision, WantedOffset};

    let committed: BTreeMap<(String, i32), CommittedOffset> = [("topic1", 100), ("topic2", 50)]
        .into_iter()
        .map(|(t, o)| {
            let c = CommittedOffset {
                offset: o,
                leader_epoch: -1,
                metadata: None,
            };
            ((t.to_owned(), 0), c)
        })
        .collect();
    let wanted = |topic: &str, offset| WantedOffset {
        topic: topic.to_owned(),
        partition: 0,
        offset,
        metadata: String::new(),
    };
    assert_eq!(
        decide(&committed, &wanted("topic1", 101), false),
        Decision::Write
    );
    assert_eq!(
        decide(&committed, &wanted("topic2", 51), false),
        Decision::Write
    );
    assert_eq!(
        decide(&committed, &wanted("topic3", 7), false),
        Decision::Write
    );
    assert_eq!(
        decide(&committed, &wanted("topic1", 100), false),
        Decision::Unchanged
    );
    assert_eq!(
        decide(&committed, &wanted("topic1", 99), false),
        Decision::WouldRewind
    );
    assert_eq!(
        decide(&committed, &wanted("topic1", 99), true),
        Decision::Write
    );
}
