//! The drop-in promise, against the real MirrorMaker 2 (dedicated mode) on Apache Kafka:
//!
//! - takeover: MM2 mirrors and stops, `strait run` on the same mm2.properties resumes from MM2's
//!   stored progress: nothing lost, nothing mirrored twice, offset syncs and checkpoints stay
//!   monotonic, and a consumer group translates across the switch;
//! - hand-back: strait mirrors and stops, MM2 resumes from strait's progress the same way;
//! - Java readers: `RemoteClusterUtils.translateOffsets` and `MirrorClient` (run by the Java
//!   peer) answer on strait's topics what `strait offsets translate` and `strait cluster` say;
//! - same input, same output: MM2 and strait mirror identical sources; remote topics, partition
//!   counts, configs, records, heartbeats, checkpoints, offset syncs and progress records decode
//!   to the same fields, except where strait is deliberately more precise
//!   (docs/compatibility.md).
//!
//! `STRAIT_KAFKA_VERSION=3.9.2` runs the same against Kafka and MM2 3.9.

mod failover_support;
mod mm2_support;

use std::collections::BTreeMap;

use bytes::Bytes;
use failover_support::*;
use mm2_support::*;
use strait_kafka::batch::{Compression, Header, Record};
use strait_kafka::{Cluster, Producer};
use strait_mirror::formats::{Checkpoint, OffsetSync};
use strait_testkit::{java_peer, BrokerKind, KafkaVersion};

strait_testkit::per_broker!(;
    // The real MirrorMaker 2 runs on Apache Kafka only.
    kafka_only: strait_takes_over_from_mm2,
    mm2_takes_over_from_strait,
    java_clients_read_straits_topics,
    mm2_and_strait_write_the_same,
);

/// Asserts every partition of `primary.orders` holds records 0..n exactly once, in order, with
/// the source's keys and values.
async fn assert_mirrored_exactly(env: &Env, n: u64) {
    for p in PARTITIONS {
        let source = read_from(&env.primary, TOPIC, p, 0).await;
        let target = read_from(&env.backup, REMOTE, p, 0).await;
        assert_eq!(
            seqs(&source),
            (0..n).collect::<Vec<_>>(),
            "source partition {p}"
        );
        assert_eq!(
            seqs(&target),
            seqs(&source),
            "partition {p}: every record once, in order"
        );
        for (s, t) in source.iter().zip(&target) {
            assert_eq!(content(s), content(t));
        }
    }
}

/// `strait offsets translate` for GROUP, once every partition has a target offset, keyed like
/// the Java answer (remote topic, partition).
async fn strait_translation(env: &Env, want: &BTreeMap<i32, i64>) -> BTreeMap<(String, i32), i64> {
    let rows = wait_for_rows("primary->backup", &env.config, |rows| {
        want.iter()
            .all(|(&p, &o)| target_offset(rows, REMOTE, p) == Some(o))
    })
    .await;
    PARTITIONS
        .iter()
        .filter_map(|&p| Some(((REMOTE.to_owned(), p), target_offset(&rows, REMOTE, p)?)))
        .collect()
}

/// MM2 mirrors 100 records per partition and stops; strait takes over from MM2's progress,
/// offset syncs and checkpoints.
async fn strait_takes_over_from_mm2(_kind: BrokerKind) {
    let env = Env::start().await;
    create_topic(&env.primary, TOPIC, 3).await;
    produce_numbered(&env.primary, TOPIC, &PARTITIONS, 0, 10).await;
    commit(&env.primary, GROUP, TOPIC, &[(0, 50), (1, 100), (2, 30)]).await;

    let mut mm2 = env.mm2().await;
    wait_for_count(&env.backup, REMOTE, &PARTITIONS, 100).await;
    wait_for_progress(&env.backup, 99).await;
    let backup = &env.backup;
    eventually("MM2's checkpoints of the group", || async move {
        let cps = checkpoints(backup).await;
        (latest(&cps).len() == 3)
            .then_some(())
            .ok_or(format!("{cps:?}"))
    })
    .await;
    stop_mm2(&mut mm2).await;
    let syncs_by_mm2 = syncs(&env.primary).await.len();
    let checkpoints_by_mm2 = checkpoints(&env.backup).await.len();
    assert!(syncs_by_mm2 > 0, "MM2 wrote offset syncs");

    // Meanwhile: 50 more records per partition; the group moves on (at batch boundaries).
    produce_numbered(&env.primary, TOPIC, &PARTITIONS, 10, 5).await;
    let moved = [(0, 120), (1, 150), (2, 110)];
    commit(&env.primary, GROUP, TOPIC, &moved).await;

    let mut strait = run_strait(&env.config);
    wait_for_count(&env.backup, REMOTE, &PARTITIONS, 150).await;
    let want: BTreeMap<i32, i64> = moved.into_iter().collect();
    let translated = strait_translation(&env, &want).await;
    strait.terminate();
    assert_mirrored_exactly(&env, 150).await;

    let all_syncs = syncs(&env.primary).await;
    assert!(
        all_syncs.len() > syncs_by_mm2,
        "strait appended offset syncs"
    );
    assert_monotonic_syncs(&all_syncs);
    let all_checkpoints = checkpoints(&env.backup).await;
    assert!(
        all_checkpoints.len() > checkpoints_by_mm2,
        "strait appended checkpoints"
    );
    assert_monotonic_checkpoints(&all_checkpoints);
    let (positions, _) = progress(&env.backup).await;
    assert_eq!(positions.values().collect::<Vec<_>>(), [&149; 3]);

    // Java consumers calling translateOffsets see what strait says: across the switch.
    assert_eq!(java_translation(&env), translated);
}

/// strait mirrors 100 records per partition and stops; MM2 resumes from strait's progress.
async fn mm2_takes_over_from_strait(_kind: BrokerKind) {
    let env = Env::start().await;
    create_topic(&env.primary, TOPIC, 3).await;
    produce_numbered(&env.primary, TOPIC, &PARTITIONS, 0, 10).await;
    commit(&env.primary, GROUP, TOPIC, &[(0, 100), (1, 50), (2, 0)]).await;

    let mut strait = run_strait(&env.config);
    wait_for_count(&env.backup, REMOTE, &PARTITIONS, 100).await;
    let first: BTreeMap<i32, i64> = [(0, 100), (1, 50), (2, 0)].into_iter().collect();
    strait_translation(&env, &first).await;
    strait.terminate();
    wait_for_progress(&env.backup, 99).await;
    let checkpoints_by_strait = checkpoints(&env.backup).await.len();

    produce_numbered(&env.primary, TOPIC, &PARTITIONS, 10, 5).await;
    commit(&env.primary, GROUP, TOPIC, &[(0, 150), (1, 120), (2, 20)]).await;
    let mut mm2 = env.mm2().await;
    wait_for_count(&env.backup, REMOTE, &PARTITIONS, 150).await;
    wait_for_progress(&env.backup, 149).await;
    let backup = &env.backup;
    eventually("MM2's checkpoints of the moved group", || async move {
        let cps = checkpoints(backup).await;
        let up: Vec<i64> = latest(&cps).values().map(|c| c.upstream_offset).collect();
        (up == [150, 120, 20])
            .then_some(())
            .ok_or(format!("{up:?}"))
    })
    .await;
    stop_mm2(&mut mm2).await;
    assert_mirrored_exactly(&env, 150).await;
    let all = checkpoints(&env.backup).await;
    assert!(all.len() > checkpoints_by_strait);
    assert_monotonic_checkpoints(&all);
    assert_monotonic_syncs(&syncs(&env.primary).await);
}

/// What Java's MirrorClient and RemoteClusterUtils see on strait's topics is what strait's own
/// commands say.
async fn java_clients_read_straits_topics(_kind: BrokerKind) {
    let env = Env::start().await;
    create_topic(&env.primary, TOPIC, 3).await;
    produce_numbered(&env.primary, TOPIC, &PARTITIONS, 0, 6).await;
    // The log end, inside a batch (exact: strait claims the batch's span), the log start.
    let commits = [(0, 60), (1, 37), (2, 0)];
    commit(&env.primary, GROUP, TOPIC, &commits).await;
    let mut running = run_strait(&env.config);
    wait_for_count(&env.backup, REMOTE, &PARTITIONS, 60).await;
    let want: BTreeMap<i32, i64> = commits.into_iter().collect();
    let translated = strait_translation(&env, &want).await;
    let backup = &env.backup;
    eventually("primary.heartbeats on backup", || async move {
        let n = read_from(backup, "primary.heartbeats", 0, 0).await.len();
        (n > 0).then_some(()).ok_or("none yet".to_owned())
    })
    .await;

    let java = tokio::task::block_in_place(|| {
        java_peer(
            KafkaVersion::from_env(),
            &["mirror-client", &env.backup_node.bootstrap()],
        )
    })
    .expect("MirrorClient answers");
    let java: serde_json::Value = serde_json::from_str(&java).unwrap();
    let (code, out, err) = STRAIT.run(&["cluster", &env.backup_node.bootstrap(), "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let ours: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        ours["mirror"], java,
        "strait cluster's replication view is MirrorClient's"
    );
    assert_eq!(
        java,
        serde_json::json!({
            "checkpointTopics": ["primary.checkpoints.internal"],
            "heartbeatTopics": ["heartbeats", "primary.heartbeats"],
            "remoteTopics": {"primary.heartbeats": "primary", "primary.orders": "primary"},
            "replicationHops": {"primary": 1},
            "upstreamClusters": ["primary"],
        })
    );
    let (_, text, _) = STRAIT.run(&["cluster", &env.backup_node.bootstrap()]);
    assert!(
        text.contains("upstream clusters: primary (1 hop)")
            && text.contains("remote topics:     primary.heartbeats (from primary), primary.orders (from primary)"),
        "{text}"
    );

    // Java's translateOffsets reads strait's checkpoints: exact inside the batch too.
    assert_eq!(java_translation(&env), translated);
    running.terminate();
}

/// Writes the same pre-encoded batches (same timestamps) to `orders` on every cluster.
async fn produce_same(clusters: &[&Cluster], batches: u64) {
    let mut producers = Vec::new();
    for c in clusters {
        producers.push(Producer::idempotent(c).await.unwrap());
    }
    for b in 0..batches {
        for p in PARTITIONS {
            let records: Vec<Record> = (0..BATCH)
                .map(|i| Record {
                    headers: vec![Header {
                        key: Bytes::from_static(b"origin"),
                        value: Some(Bytes::from(format!("batch-{b}"))),
                    }],
                    ..record(
                        now_ms() - 1000,
                        Some(Bytes::from((b * BATCH + i).to_string())),
                        Some(Bytes::from(format!("same-{p}-{}", b * BATCH + i))),
                    )
                })
                .collect();
            let same = batch(Compression::Lz4, &records);
            for producer in &producers {
                producer.send(TOPIC, p, &same).await.expect("produce");
            }
        }
    }
}

/// MM2 mirrors primary1→backup1 and strait primary2→backup2, the sources holding the same
/// batches and the same group commits: the targets (and the sources' offset syncs) agree.
async fn mm2_and_strait_write_the_same(_kind: BrokerKind) {
    let (mm2_env, strait_env) = tokio::join!(Env::start(), Env::start());
    // (create_topic_with sets retention.ms = -1 first.)
    let configs = [
        ("max.message.bytes", "2000000"),
        ("compression.type", "lz4"),
    ];
    for env in [&mm2_env, &strait_env] {
        create_topic_with(&env.primary, TOPIC, 3, &configs).await;
    }
    produce_same(&[&mm2_env.primary, &strait_env.primary], 6).await;
    let commits = [(0, 60), (1, 30), (2, 0)];
    for env in [&mm2_env, &strait_env] {
        commit(&env.primary, GROUP, TOPIC, &commits).await;
    }

    let mut mm2 = mm2_env.mm2().await;
    let mut strait = run_strait(&strait_env.config);
    for env in [&mm2_env, &strait_env] {
        wait_for_count(&env.backup, REMOTE, &PARTITIONS, 60).await;
        wait_for_progress(&env.backup, 59).await;
        let backup = &env.backup;
        eventually("checkpoints of every partition", || async move {
            let cps = checkpoints(backup).await;
            let up: Vec<i64> = latest(&cps).values().map(|c| c.upstream_offset).collect();
            (up == [60, 30, 0]).then_some(()).ok_or(format!("{up:?}"))
        })
        .await;
        eventually("heartbeats replicated", || async move {
            let n = read_from(backup, "primary.heartbeats", 0, 0).await.len();
            (n > 0).then_some(()).ok_or("none yet".to_owned())
        })
        .await;
    }
    stop_mm2(&mut mm2).await;
    strait.terminate();

    // Remote topics, partition counts and configs.
    let (by_mm2, by_strait) = (
        remote_topics(&mm2_env.backup).await,
        remote_topics(&strait_env.backup).await,
    );
    assert_eq!(
        by_strait, by_mm2,
        "remote topics and their partition counts"
    );
    assert_eq!(
        topic_overrides(&strait_env.backup, REMOTE).await,
        topic_overrides(&mm2_env.backup, REMOTE).await,
        "configs set on the remote topic"
    );

    // Records: identical, batch for batch.
    for p in PARTITIONS {
        let a = read_from(&mm2_env.backup, REMOTE, p, 0).await;
        let b = read_from(&strait_env.backup, REMOTE, p, 0).await;
        let with_offsets = |r: &Record| (r.offset, content(r));
        assert_eq!(
            b.iter().map(with_offsets).collect::<Vec<_>>(),
            a.iter().map(with_offsets).collect::<Vec<_>>(),
            "partition {p}"
        );
    }

    // Heartbeats: the same flows announce themselves on both clusters.
    assert_eq!(
        heartbeat_flows(&strait_env.backup).await,
        heartbeat_flows(&mm2_env.backup).await
    );
    assert_eq!(
        heartbeat_flows(&strait_env.primary).await,
        heartbeat_flows(&mm2_env.primary).await
    );

    // Checkpoints: same keys and upstream offsets; downstream offsets equal where both can be
    // exact (these commits are at batch boundaries and the log end).
    let (a, b) = (
        latest(&checkpoints(&mm2_env.backup).await),
        latest(&checkpoints(&strait_env.backup).await),
    );
    let view = |m: &BTreeMap<i32, Checkpoint>| {
        m.values()
            .map(|c| {
                (
                    c.group.clone(),
                    c.topic.clone(),
                    c.partition,
                    c.upstream_offset,
                    c.metadata.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(view(&b), view(&a), "checkpoint keys and upstream offsets");
    for (p, ours) in &b {
        let theirs = &a[p];
        assert!(
            ours.downstream_offset >= theirs.downstream_offset,
            "partition {p}: strait's {ours} is no less precise than MM2's {theirs}"
        );
        assert!(ours.downstream_offset <= ours.upstream_offset);
    }

    // Offset syncs: both describe the same mapping (here upstream = downstream), in the same
    // record format; strait writes one for each end of every batch, MM2 fewer.
    let of_orders = |syncs: Vec<OffsetSync>| -> Vec<OffsetSync> {
        syncs.into_iter().filter(|s| s.topic == TOPIC).collect()
    };
    let a = of_orders(syncs(&mm2_env.primary).await);
    let b = of_orders(syncs(&strait_env.primary).await);
    for s in a.iter().chain(&b) {
        assert_eq!(
            (s.topic.as_str(), s.upstream_offset),
            (TOPIC, s.downstream_offset),
            "{s}"
        );
    }
    assert!(
        !a.is_empty() && b.len() >= a.len(),
        "MM2 {} syncs, strait {}",
        a.len(),
        b.len()
    );

    // Progress: the same source positions under the same keys.
    let ((pa, ca), (pb, cb)) = (
        progress(&mm2_env.backup).await,
        progress(&strait_env.backup).await,
    );
    assert_eq!(pb, pa, "stored source positions");
    assert!(ca.contains("MirrorSourceConnector") && cb.contains("MirrorSourceConnector"));
    eprintln!("offsets topic connectors: MM2 {ca:?}, strait {cb:?}");
}
