//! Checkpoints against real brokers (MM2's integration suite, spec §10.1): group offsets on the
//! source translate to the remote topic, checkpoints are written byte-compatibly to
//! `primary.checkpoints.internal` on the target, stay monotonic per key, survive restarts, and
//! `sync.group.offsets.enabled` moves idle target groups forward without ever rewinding them.

use std::collections::BTreeMap;

use bytes::Bytes;
use strait_fixtures::*;
use strait_kafka::batch::{Compression, Record};
use strait_kafka::{Cluster, NewTopic, Producer};
use strait_mirror::checkpoint::{OffsetSyncStore, RECENT_SYNCS_PER_PARTITION};
use strait_mirror::formats::{partition_for_key, Checkpoint, OffsetSync};
use strait_testkit::BrokerKind;

strait_testkit::per_broker!(
    one_way_replication_with_frequent_offset_syncs,
    no_checkpoints_if_no_records_are_mirrored,
    offset_syncs_topic_on_target,
    restart_replication,
    offset_translation_behind_replication_flow,
    identity_replication_checkpoints,
    takes_over_java_offset_syncs,
    commits_inside_big_compressed_batches_resume_exactly,
);

const TOPIC: &str = "test-topic-1";
const REMOTE: &str = "primary.test-topic-1";
const CHECKPOINTS: &str = "primary.checkpoints.internal";
const GROUP: &str = "consumer-group-1";
const ONE_WAY: &str = "topics = test-topic-.*\n\
                       groups = consumer-group-.*\n\
                       backup->primary.enabled = false";

/// Produces `batches` batches of `size` fixture records to each of `partitions`.
async fn produce_batches(
    cluster: &Cluster,
    topic: &str,
    partitions: i32,
    batches: usize,
    size: usize,
) {
    let producer = Producer::idempotent(cluster).await.expect("producer id");
    for b in 0..batches {
        for p in 0..partitions {
            let records = fixture_records(&format!("{topic}-batch-{b}"), p, size);
            produce(&producer, topic, p, Compression::None, &records).await;
        }
    }
}

/// The latest checkpoint per (group, topic, partition).
fn latest(all: &[Checkpoint]) -> BTreeMap<(String, String, i32), Checkpoint> {
    all.iter()
        .map(|c| ((c.group.clone(), c.topic.clone(), c.partition), c.clone()))
        .collect()
}

/// MM2's `assertMonotonicCheckpoints`: per key, the downstream offset never goes back unless
/// the upstream offset went back (a group rewind).
fn assert_monotonic(all: &[Checkpoint]) {
    let mut last: BTreeMap<(String, String, i32), &Checkpoint> = BTreeMap::new();
    for c in all {
        let key = (c.group.clone(), c.topic.clone(), c.partition);
        if let Some(prev) = last.get(&key) {
            assert!(
                c.downstream_offset >= prev.downstream_offset
                    || c.upstream_offset < prev.upstream_offset,
                "checkpoint went backwards without a rewind: {prev} then {c}"
            );
        }
        last.insert(key, c);
    }
}

/// Waits until the latest checkpoints of `group` for `REMOTE` are exactly `expected`
/// (partition → (upstream, downstream)).
async fn wait_for_checkpoints(
    pair: &Pair,
    group: &str,
    expected: &[(i32, i64, i64)],
) -> Vec<Checkpoint> {
    let what = format!("checkpoints {expected:?} of {group}");
    eventually(&what, || async {
        let all = read_checkpoints(&pair.backup, CHECKPOINTS).await;
        let got: Vec<(i32, i64, i64)> = latest(&all)
            .values()
            .filter(|c| c.group == group && c.topic == REMOTE)
            .map(|c| (c.partition, c.upstream_offset, c.downstream_offset))
            .collect();
        if got == expected {
            Ok(all)
        } else {
            Err(format!("{got:?}"))
        }
    })
    .await
}

/// Waits until `group` on the backup cluster has committed exactly `expected` on `REMOTE`.
async fn wait_for_target_group(pair: &Pair, group: &str, expected: &[(i32, i64)]) {
    let what = format!("backup group {group} at {expected:?}");
    eventually(&what, || async {
        let committed = pair
            .backup
            .fetch_offsets(group, None)
            .await
            .map_err(|e| e.to_string())?;
        let got: Vec<(i32, i64)> = committed
            .iter()
            .filter(|((t, _), _)| t == REMOTE)
            .map(|((_, p), c)| (*p, c.offset))
            .collect();
        if got == expected {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        }
    })
    .await
}

/// `testOneWayReplicationWithFrequentOffsetSyncs` + `...WithAutoOffsetSync`: strait writes
/// syncs for both ends of every batch, so a group committed at a batch boundary (the log end
/// included) or inside a batch lands exactly on the target (MM2 answers one past the batch's
/// start inside it); idle target groups follow, never rewound.
async fn one_way_replication_with_frequent_offset_syncs(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    create_topic(&pair.primary, TOPIC, 4).await;
    // Batches of 10 at offsets 0, 10, 20 in every partition.
    produce_batches(&pair.primary, TOPIC, 4, 3, 10).await;
    let mirror = start_mirror(&pair.properties(&format!(
        "{ONE_WAY}\nsync.group.offsets.enabled = true\nsync.group.offsets.interval.seconds = 1"
    )));
    wait_for_records(&pair.backup, REMOTE, 120).await;

    // Boundary, inside a batch, log end (right after the last batch's end sync), log start.
    commit(
        &pair.primary,
        GROUP,
        TOPIC,
        &[(0, 20), (1, 15), (2, 30), (3, 0)],
    )
    .await;
    wait_for_checkpoints(
        &pair,
        GROUP,
        &[(0, 20, 20), (1, 15, 15), (2, 30, 30), (3, 0, 0)],
    )
    .await;
    wait_for_target_group(&pair, GROUP, &[(0, 20), (1, 15), (2, 30), (3, 0)]).await;
    // MM2's checkpoint-latency-ms, per group and remote partition, for /metrics.
    let stats = &mirror.flow("primary", "backup").expect("flow").stats;
    let mut timed: Vec<(String, String, i32)> = stats
        .checkpoint_latencies()
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    timed.sort();
    let want: Vec<(String, String, i32)> = (0..4)
        .map(|p| (GROUP.to_owned(), REMOTE.to_owned(), p))
        .collect();
    assert_eq!(
        timed, want,
        "checkpoint latency recorded for every checkpoint"
    );

    // More data: the former log end stays exact, a later boundary is exact too.
    produce_batches(&pair.primary, TOPIC, 4, 1, 10).await;
    wait_for_records(&pair.backup, REMOTE, 160).await;
    commit(&pair.primary, GROUP, TOPIC, &[(2, 30)]).await;
    commit(&pair.primary, GROUP, TOPIC, &[(1, 25)]).await;
    wait_for_checkpoints(
        &pair,
        GROUP,
        &[(0, 20, 20), (1, 25, 25), (2, 30, 30), (3, 0, 0)],
    )
    .await;
    wait_for_target_group(&pair, GROUP, &[(0, 20), (1, 25), (2, 30), (3, 0)]).await;

    // Consumers on the backup moved partition 0 further: the sync never rewinds it.
    pair.backup
        .commit_offsets(GROUP, &[(REMOTE, 0, 35, None)])
        .await
        .expect("commit on backup");
    commit(&pair.primary, GROUP, TOPIC, &[(0, 30)]).await;
    wait_for_checkpoints(
        &pair,
        GROUP,
        &[(0, 30, 30), (1, 25, 25), (2, 30, 30), (3, 0, 0)],
    )
    .await;
    // Two more sync passes after the checkpoint.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    wait_for_target_group(&pair, GROUP, &[(0, 35), (1, 25), (2, 30), (3, 0)]).await;

    // A topic created at runtime is checkpointed and synced too.
    create_topic(&pair.primary, "test-topic-2", 1).await;
    produce_batches(&pair.primary, "test-topic-2", 1, 2, 10).await;
    wait_for_records(&pair.backup, "primary.test-topic-2", 20).await;
    commit(&pair.primary, GROUP, "test-topic-2", &[(0, 10)]).await;
    eventually("backup group on primary.test-topic-2", || async {
        let committed = pair
            .backup
            .fetch_offsets(GROUP, None)
            .await
            .map_err(|e| e.to_string())?;
        match committed.get(&("primary.test-topic-2".to_owned(), 0)) {
            Some(c) if c.offset == 10 => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;

    // The reverse flow is disabled: no remote topic appears on the primary.
    assert!(!topic_exists(&pair.primary, "backup.test-topic-1").await);
    assert_monotonic(&read_checkpoints(&pair.backup, CHECKPOINTS).await);
    shutdown(mirror).await;
}

/// As a user reported it: one big lz4 batch of 4,000 records per partition (what librdkafka
/// sends under load), a group committed at random offsets inside it. strait forwards the batch
/// untouched and claims its span, so the checkpoint and the synced target group land on the
/// very record the group would read next (MM2 answers one past the batch's start: 999 re-read
/// for a commit at 1000).
async fn commits_inside_big_compressed_batches_resume_exactly(kind: BrokerKind) {
    const BIG: usize = 4000;
    let pair = Pair::start(kind).await;
    create_topic(&pair.primary, TOPIC, 2).await;
    let producer = Producer::idempotent(&pair.primary)
        .await
        .expect("producer id");
    let mut source = Vec::new();
    for p in 0..2 {
        let records = fixture_records(TOPIC, p, BIG);
        produce(&producer, TOPIC, p, Compression::Lz4, &records).await;
        source.push(read_partition(&pair.primary, TOPIC, p).await);
    }
    let mirror = start_mirror(&pair.properties(&format!(
        "{ONE_WAY}\nsync.group.offsets.enabled = true\nsync.group.offsets.interval.seconds = 1"
    )));
    wait_for_records(&pair.backup, REMOTE, 2 * BIG).await;

    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .subsec_nanos() as i64;
    let commits = [(0, 1 + nanos % (BIG as i64 - 1)), (1, 1000)];
    eprintln!("committed inside the batches at {commits:?}");
    commit(&pair.primary, GROUP, TOPIC, &commits).await;
    let exact: Vec<(i32, i64, i64)> = commits.iter().map(|&(p, o)| (p, o, o)).collect();
    wait_for_checkpoints(&pair, GROUP, &exact).await;
    wait_for_target_group(&pair, GROUP, &commits).await;
    for (p, offset) in commits {
        let rest = read_from(&pair.backup, REMOTE, p, offset).await;
        let want: Vec<_> = source[p as usize][offset as usize..]
            .iter()
            .map(content)
            .collect();
        let got: Vec<_> = rest.iter().map(content).collect();
        assert_eq!(
            got.len(),
            want.len(),
            "partition {p} from {offset}: nothing skipped or re-read"
        );
        assert!(
            got == want,
            "partition {p} from {offset}: the same records, in order"
        );
    }
    shutdown(mirror).await;
}

/// `IdentityReplicationIntegrationTest`: with `IdentityReplicationPolicy` offsets are translated
/// onto the identically named topic, and idle target groups follow.
async fn identity_replication_checkpoints(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    create_topic(&pair.primary, TOPIC, 2).await;
    produce_batches(&pair.primary, TOPIC, 2, 2, 10).await;
    let mirror = start_mirror(&pair.properties(&format!(
        "{ONE_WAY}\n\
         replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy\n\
         sync.group.offsets.enabled = true"
    )));
    wait_for_records(&pair.backup, TOPIC, 40).await;
    commit(&pair.primary, GROUP, TOPIC, &[(0, 10), (1, 20)]).await;
    let what = "checkpoints on test-topic-1";
    eventually(what, || async {
        let got: Vec<(String, i32, i64, i64)> =
            latest(&read_checkpoints(&pair.backup, CHECKPOINTS).await)
                .into_values()
                .filter(|c| c.group == GROUP)
                .map(|c| (c.topic, c.partition, c.upstream_offset, c.downstream_offset))
                .collect();
        let want = vec![(TOPIC.to_owned(), 0, 10, 10), (TOPIC.to_owned(), 1, 20, 20)];
        if got == want {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        }
    })
    .await;
    eventually("backup group on test-topic-1", || async {
        let committed = pair
            .backup
            .fetch_offsets(GROUP, None)
            .await
            .map_err(|e| e.to_string())?;
        let got: Vec<(String, i32, i64)> = committed
            .into_iter()
            .map(|((t, p), c)| (t, p, c.offset))
            .collect();
        if got == [(TOPIC.to_owned(), 0, 10), (TOPIC.to_owned(), 1, 20)] {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        }
    })
    .await;
    shutdown(mirror).await;
}

/// strait takes over from Java MM2: the remote topic, MM2's progress (Connect offsets) and its
/// sparse offset syncs (one per 100 records, `offset.lag.max=100`) are there; strait mirrors
/// nothing again and translates with MM2's syncs like MM2's algorithm does.
async fn takes_over_java_offset_syncs(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    create_topic(&pair.primary, TOPIC, 1).await;
    produce_batches(&pair.primary, TOPIC, 1, 3, 100).await;
    // What Java MM2 left behind: the records mirrored, its position, its syncs.
    create_topic(&pair.backup, REMOTE, 1).await;
    produce_batches(&pair.backup, REMOTE, 1, 3, 100).await;
    let offsets_topic = "mm2-offsets.primary.internal";
    pair.backup
        .create_topic(&NewTopic::new(offsets_topic, 25).with_config("cleanup.policy", "compact"))
        .await
        .unwrap();
    let key =
        r#"["MirrorSourceConnector",{"cluster":"primary","partition":0,"topic":"test-topic-1"}]"#;
    let position = Record {
        offset: 0,
        timestamp: now_ms(),
        key: Some(Bytes::from_static(key.as_bytes())),
        value: Some(Bytes::from_static(br#"{"offset":299}"#)),
        headers: vec![],
    };
    let producer = Producer::idempotent(&pair.backup).await.unwrap();
    let partition = partition_for_key(key.as_bytes(), 25);
    produce(
        &producer,
        offsets_topic,
        partition,
        Compression::None,
        &[position],
    )
    .await;
    let syncs_topic = "mm2-offset-syncs.backup.internal";
    pair.primary
        .create_topic(&NewTopic::new(syncs_topic, 1).with_config("cleanup.policy", "compact"))
        .await
        .unwrap();
    let syncs: Vec<Record> = [(0, 0), (100, 100), (200, 200)]
        .into_iter()
        .enumerate()
        .map(|(i, (up, down))| {
            let sync = OffsetSync {
                topic: TOPIC.to_owned(),
                partition: 0,
                upstream_offset: up,
                downstream_offset: down,
            };
            Record {
                offset: i as i64,
                timestamp: now_ms(),
                key: Some(Bytes::from(sync.record_key().unwrap())),
                value: Some(Bytes::from(sync.record_value())),
                headers: vec![],
            }
        })
        .collect();
    let producer = Producer::idempotent(&pair.primary).await.unwrap();
    produce(&producer, syncs_topic, 0, Compression::None, &syncs).await;

    let mirror = start_mirror(&pair.properties(ONE_WAY));
    commit(&pair.primary, GROUP, TOPIC, &[(0, 150)]).await;
    wait_for_checkpoints(&pair, GROUP, &[(0, 150, 101)]).await;
    commit(&pair.primary, GROUP, TOPIC, &[(0, 200)]).await;
    let all = wait_for_checkpoints(&pair, GROUP, &[(0, 200, 200)]).await;
    assert_monotonic(&all);
    shutdown(mirror).await;
    assert_eq!(
        count_records(&pair.backup, REMOTE).await,
        300,
        "nothing mirrored twice"
    );
}

/// `testNoCheckpointsIfNoRecordsAreMirrored`: an offset on an empty topic has no sync and gets
/// no checkpoint, until records are mirrored there.
async fn no_checkpoints_if_no_records_are_mirrored(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let empty = "test-topic-no-checkpoints";
    create_topic(&pair.primary, TOPIC, 1).await;
    create_topic(&pair.primary, empty, 1).await;
    produce_batches(&pair.primary, TOPIC, 1, 1, 10).await;
    let mirror = start_mirror(&pair.properties(ONE_WAY));
    wait_for_records(&pair.backup, REMOTE, 10).await;
    commit(&pair.primary, GROUP, TOPIC, &[(0, 0)]).await;
    commit(&pair.primary, GROUP, empty, &[(0, 0)]).await;
    wait_for_checkpoints(&pair, GROUP, &[(0, 0, 0)]).await;
    // A few more emit intervals: still nothing for the empty topic.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let remote_empty = format!("primary.{empty}");
    assert!(
        !read_checkpoints(&pair.backup, CHECKPOINTS)
            .await
            .iter()
            .any(|c| c.topic == remote_empty),
        "no checkpoint for a topic without mirrored records"
    );

    produce_batches(&pair.primary, empty, 1, 1, 10).await;
    wait_for_records(&pair.backup, &remote_empty, 10).await;
    commit(&pair.primary, GROUP, empty, &[(0, 0)]).await;
    eventually("a checkpoint for the formerly empty topic", || async {
        let all = read_checkpoints(&pair.backup, CHECKPOINTS).await;
        match all.iter().find(|c| c.topic == remote_empty) {
            Some(c) if (c.upstream_offset, c.downstream_offset) == (0, 0) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    shutdown(mirror).await;
}

/// `testOffsetSyncsTopicsOnTarget`: with `offset-syncs.topic.location=target` the syncs live
/// on the backup as `mm2-offset-syncs.primary.internal` and checkpoints still appear.
async fn offset_syncs_topic_on_target(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    create_topic(&pair.primary, TOPIC, 2).await;
    produce_batches(&pair.primary, TOPIC, 2, 2, 10).await;
    let mirror = start_mirror(&pair.properties(&format!(
        "{ONE_WAY}\nprimary->backup.offset-syncs.topic.location = target"
    )));
    wait_for_records(&pair.backup, REMOTE, 40).await;
    commit(&pair.primary, GROUP, TOPIC, &[(0, 10), (1, 20)]).await;
    let all = wait_for_checkpoints(&pair, GROUP, &[(0, 10, 10), (1, 20, 20)]).await;
    assert_monotonic(&all);
    assert!(topic_exists(&pair.backup, "mm2-offset-syncs.primary.internal").await);
    assert!(!topic_exists(&pair.primary, "mm2-offset-syncs.backup.internal").await);
    shutdown(mirror).await;
}

/// `testRestartReplication`: after a restart, checkpoints are reloaded and stay monotonic, and
/// offsets committed later are translated from the syncs of both runs.
async fn restart_replication(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    create_topic(&pair.primary, TOPIC, 2).await;
    produce_batches(&pair.primary, TOPIC, 2, 2, 10).await;
    let properties = pair.properties(&format!("{ONE_WAY}\nsync.group.offsets.enabled = true"));
    let mirror = start_mirror(&properties);
    wait_for_records(&pair.backup, REMOTE, 40).await;
    commit(&pair.primary, GROUP, TOPIC, &[(0, 10), (1, 15)]).await;
    wait_for_checkpoints(&pair, GROUP, &[(0, 10, 10), (1, 15, 15)]).await;
    shutdown(mirror).await;
    let before = read_checkpoints(&pair.backup, CHECKPOINTS).await.len();

    let mirror = start_mirror(&properties);
    // Nothing changed: the restarted loop writes no checkpoint again.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(
        read_checkpoints(&pair.backup, CHECKPOINTS).await.len(),
        before,
        "no repeated checkpoints after a restart"
    );
    produce_batches(&pair.primary, TOPIC, 2, 2, 10).await;
    wait_for_records(&pair.backup, REMOTE, 80).await;
    commit(&pair.primary, GROUP, TOPIC, &[(0, 30), (1, 40)]).await;
    let all = wait_for_checkpoints(&pair, GROUP, &[(0, 30, 30), (1, 40, 40)]).await;
    wait_for_target_group(&pair, GROUP, &[(0, 30), (1, 40)]).await;
    assert_monotonic(&all);
    shutdown(mirror).await;
}

/// `testOffsetTranslationBehindReplicationFlow`: after an initial checkpoint, many records are
/// mirrored while the group is idle; a commit at 90% advances every partition's checkpoint, a
/// rewind to 10% moves every one back.
async fn offset_translation_behind_replication_flow(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let partitions = 3;
    create_topic(&pair.primary, TOPIC, partitions).await;
    produce_batches(&pair.primary, TOPIC, partitions, 1, 10).await;
    let mirror = start_mirror(&pair.properties(ONE_WAY));
    wait_for_records(&pair.backup, REMOTE, 30).await;
    let all: Vec<(i32, i64)> = (0..partitions).map(|p| (p, 10)).collect();
    commit(&pair.primary, GROUP, TOPIC, &all).await;
    // At the log end, right after the batch's end sync (9→9): exact.
    let initial: Vec<(i32, i64, i64)> = (0..partitions).map(|p| (p, 10, 10)).collect();
    wait_for_checkpoints(&pair, GROUP, &initial).await;

    // 100 batches of 10 more per partition while the group is idle: offsets 10..1010.
    produce_batches(&pair.primary, TOPIC, partitions, 100, 10).await;
    wait_for_records(&pair.backup, REMOTE, 3030).await;
    // What the translation answers for the syncs strait wrote (both ends of every 10-record
    // batch): the recent syncs are kept densely, so both commits sit on a batch boundary and
    // are exact.
    let mut store = OffsetSyncStore::with_recent(false, RECENT_SYNCS_PER_PARTITION);
    for up in (0..=1000).step_by(10).flat_map(|first| [first, first + 9]) {
        store.handle(&OffsetSync {
            topic: TOPIC.to_owned(),
            partition: 0,
            upstream_offset: up,
            downstream_offset: up,
        });
    }
    store.set_read_to_end();
    let at = |up: i64| store.translate(TOPIC, 0, up).downstream().unwrap();
    let (at_ninety, at_ten) = (at(910), at(100));
    assert_eq!((at_ninety, at_ten), (910, 100));

    let ninety: Vec<(i32, i64)> = (0..partitions).map(|p| (p, 910)).collect();
    commit(&pair.primary, GROUP, TOPIC, &ninety).await;
    let advanced: Vec<(i32, i64, i64)> = (0..partitions).map(|p| (p, 910, at_ninety)).collect();
    wait_for_checkpoints(&pair, GROUP, &advanced).await;

    let ten: Vec<(i32, i64)> = (0..partitions).map(|p| (p, 100)).collect();
    commit(&pair.primary, GROUP, TOPIC, &ten).await;
    let rewound: Vec<(i32, i64, i64)> = (0..partitions).map(|p| (p, 100, at_ten)).collect();
    let all = wait_for_checkpoints(&pair, GROUP, &rewound).await;
    assert_monotonic(&all);
    shutdown(mirror).await;
}
