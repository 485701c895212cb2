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

use std::collections::{BTreeMap, BTreeSet};

use failover_support::*;
use strait_kafka::batch::RawBatch;
use strait_kafka::{ConfigResource, ConfigSource};
use strait_mirror::formats::{
    parse_offset_value, Checkpoint, ConnectOffsetKey, Heartbeat, OffsetSync,
};
use strait_mirror::internal::{read_offset_syncs, read_topic};
use strait_testkit::{java_peer, KafkaVersion, Mm2Options, Mm2Process};

strait_testkit::per_broker!(;
    // The real MirrorMaker 2 runs on Apache Kafka only.
    kafka_only: strait_takes_over_from_mm2,
    mm2_takes_over_from_strait,
    java_clients_read_straits_topics,
    mm2_and_strait_write_the_same,
);

const REMOTE: &str = "primary.orders";
const PARTITIONS: [i32; 3] = [0, 1, 2];
const PROGRESS: &str = "mm2-offsets.primary.internal";
const SYNCS: &str = "mm2-offset-syncs.backup.internal";
const CHECKPOINTS: &str = "primary.checkpoints.internal";

/// mm2.properties for a one-way primary→backup mirror of `orders` and groups `drill-*`, as an
/// operator would write it for MM2: every interval 1 s, progress flushed every second.
fn mm2_properties(primary: &str, backup: &str) -> String {
    format!(
        "clusters = primary, backup\n\
         primary.bootstrap.servers = {primary}\n\
         backup.bootstrap.servers = {backup}\n\
         primary->backup.enabled = true\n\
         backup->primary.enabled = false\n\
         topics = {TOPIC}\n\
         groups = drill-.*\n\
         replication.factor = 1\n\
         offset-syncs.topic.replication.factor = 1\n\
         heartbeats.topic.replication.factor = 1\n\
         checkpoints.topic.replication.factor = 1\n\
         offset.storage.replication.factor = 1\n\
         status.storage.replication.factor = 1\n\
         config.storage.replication.factor = 1\n\
         refresh.topics.interval.seconds = 1\n\
         refresh.groups.interval.seconds = 1\n\
         emit.checkpoints.interval.seconds = 1\n\
         emit.heartbeats.interval.seconds = 1\n\
         sync.topic.configs.interval.seconds = 1\n\
         sync.topic.acls.enabled = false\n\
         tasks.max = 2\n\
         backup.offset.flush.interval.ms = 1000\n\
         primary.offset.flush.interval.ms = 1000\n"
    )
}

/// Two single-broker Kafka clusters and one mm2.properties for MM2 and strait alike.
struct Env {
    // Held for the test's duration: dropping it stops the broker.
    _primary_node: TestCluster,
    backup_node: TestCluster,
    primary: Cluster,
    backup: Cluster,
    config: PathBuf,
    text: String,
}

impl Env {
    async fn start() -> Env {
        let mut nodes =
            tokio::task::spawn_blocking(|| strait_testkit::start_clusters(BrokerKind::Kafka, 2))
                .await
                .unwrap()
                .expect("two Kafka clusters start");
        let backup_node = nodes.pop().unwrap();
        let primary_node = nodes.pop().unwrap();
        let primary = connect("primary", &primary_node.bootstrap()).await;
        let backup = connect("backup", &backup_node.bootstrap()).await;
        let text = mm2_properties(&primary_node.bootstrap(), &backup_node.bootstrap());
        let config = backup_node.runtime_dir().join("mm2.properties");
        std::fs::write(&config, &text).unwrap();
        Env {
            _primary_node: primary_node,
            backup_node,
            primary,
            backup,
            config,
            text,
        }
    }

    async fn mm2(&self) -> Mm2Process {
        start_mm2(&self.text).await
    }
}

/// Polls `probe` until it returns `Ok` or [`DEADLINE`] passes (the last state in the panic).
async fn until<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        match probe().await {
            Ok(t) => return t,
            Err(state) if Instant::now() > deadline => {
                panic!("timed out after {DEADLINE:?} waiting for {what}; last state: {state}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

async fn start_mm2(properties: &str) -> Mm2Process {
    let properties = properties.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut mm2 = Mm2Process::start(
            &properties,
            Mm2Options {
                version: KafkaVersion::from_env(),
                ..Mm2Options::default()
            },
        )
        .expect("MirrorMaker 2 starts");
        mm2.wait_for_log("Kafka MirrorMaker started", DEADLINE)
            .expect("MirrorMaker 2 comes up");
        mm2
    })
    .await
    .unwrap()
}

async fn stop_mm2(mm2: &mut Mm2Process) {
    let how = tokio::task::block_in_place(|| mm2.stop());
    assert!(
        how.starts_with("exited"),
        "MM2 stops on SIGTERM: {how}\n{}",
        mm2.logs()
    );
}

/// The latest stored source position per partition of `orders` (Connect offsets, as MM2 and
/// strait store them), and the connector names the offsets topic holds entries for.
async fn progress(backup: &Cluster) -> (BTreeMap<i32, i64>, BTreeSet<&'static str>) {
    let mut positions = BTreeMap::new();
    let mut connectors = BTreeSet::new();
    let Ok(records) = read_topic(backup, PROGRESS).await else {
        return (positions, connectors);
    };
    for (_, record) in records {
        let key = ConnectOffsetKey::parse(record.key.as_deref().unwrap()).expect("progress key");
        connectors.insert(key.connector_name());
        if let ConnectOffsetKey::Source {
            topic, partition, ..
        } = key
        {
            if topic == TOPIC {
                if let Some(offset) = parse_offset_value(record.value.as_deref()).unwrap() {
                    positions.insert(partition, offset);
                }
            }
        }
    }
    (positions, connectors)
}

async fn wait_for_progress(backup: &Cluster, last: i64) {
    let want: BTreeMap<i32, i64> = PARTITIONS.iter().map(|&p| (p, last)).collect();
    let want = &want;
    until(
        &format!("progress at {last} for every partition"),
        || async move {
            let (positions, _) = progress(backup).await;
            (positions == *want)
                .then_some(())
                .ok_or(format!("{positions:?}"))
        },
    )
    .await
}

async fn checkpoints(backup: &Cluster) -> Vec<Checkpoint> {
    match read_topic(backup, CHECKPOINTS).await {
        Ok(records) => records
            .into_iter()
            .map(|(_, r)| {
                Checkpoint::decode(r.key.as_deref().unwrap(), r.value.as_deref().unwrap())
                    .expect("checkpoint decodes")
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The latest checkpoint of GROUP per remote partition.
fn latest(checkpoints: &[Checkpoint]) -> BTreeMap<i32, Checkpoint> {
    checkpoints
        .iter()
        .filter(|c| c.group == GROUP && c.topic == REMOTE)
        .map(|c| (c.partition, c.clone()))
        .collect()
}

/// Per remote partition of GROUP, checkpoints never go back (the group never rewound).
fn assert_monotonic_checkpoints(checkpoints: &[Checkpoint]) {
    let mut last: BTreeMap<(String, String, i32), (i64, i64)> = BTreeMap::new();
    for c in checkpoints {
        let key = (c.group.clone(), c.topic.clone(), c.partition);
        if let Some(&(up, down)) = last.get(&key) {
            assert!(
                c.upstream_offset >= up && c.downstream_offset >= down,
                "checkpoint {c} goes back from upstream {up} / downstream {down}"
            );
        }
        last.insert(key, (c.upstream_offset, c.downstream_offset));
    }
}

/// Per partition, offset syncs never go back on either side.
fn assert_monotonic_syncs(syncs: &[OffsetSync]) {
    let mut last: BTreeMap<(String, i32), (i64, i64)> = BTreeMap::new();
    for s in syncs {
        let key = (s.topic.clone(), s.partition);
        if let Some(&(up, down)) = last.get(&key) {
            assert!(
                s.upstream_offset >= up && s.downstream_offset >= down,
                "offset sync {s} goes back from {up} -> {down}"
            );
        }
        last.insert(key, (s.upstream_offset, s.downstream_offset));
    }
}

async fn syncs(primary: &Cluster) -> Vec<OffsetSync> {
    read_offset_syncs(primary, SYNCS).await.unwrap_or_default()
}

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
            assert_eq!(
                (&s.key, &s.value, s.timestamp, &s.headers),
                (&t.key, &t.value, t.timestamp, &t.headers)
            );
        }
    }
}

/// `RemoteClusterUtils.translateOffsets(backup, "primary", GROUP)` by the Java peer, per
/// remote partition.
fn java_translation(env: &Env) -> BTreeMap<(String, i32), i64> {
    let out = tokio::task::block_in_place(|| {
        java_peer(
            KafkaVersion::from_env(),
            &["translate", &env.backup_node.bootstrap(), "primary", GROUP],
        )
    })
    .expect("the Java peer translates");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).expect("JSON rows");
    rows.iter()
        .map(|r| {
            (
                (
                    r["topic"].as_str().unwrap().to_owned(),
                    r["partition"].as_i64().unwrap() as i32,
                ),
                r["offset"].as_i64().unwrap(),
            )
        })
        .collect()
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
    produce(&env.primary, TOPIC, &PARTITIONS, 0, 10).await;
    commit(&env.primary, GROUP, TOPIC, &[(0, 50), (1, 100), (2, 30)]).await;

    let mut mm2 = env.mm2().await;
    wait_for_count(&env.backup, REMOTE, &PARTITIONS, 100).await;
    wait_for_progress(&env.backup, 99).await;
    let backup = &env.backup;
    until("MM2's checkpoints of the group", || async move {
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
    produce(&env.primary, TOPIC, &PARTITIONS, 10, 5).await;
    let moved = [(0, 120), (1, 150), (2, 110)];
    commit(&env.primary, GROUP, TOPIC, &moved).await;

    let mut strait = Strait::start(&env.config);
    wait_for_count(&env.backup, REMOTE, &PARTITIONS, 150).await;
    let want: BTreeMap<i32, i64> = moved.into_iter().collect();
    let translated = strait_translation(&env, &want).await;
    strait.stop();
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
    produce(&env.primary, TOPIC, &PARTITIONS, 0, 10).await;
    commit(&env.primary, GROUP, TOPIC, &[(0, 100), (1, 50), (2, 0)]).await;

    let mut strait = Strait::start(&env.config);
    wait_for_count(&env.backup, REMOTE, &PARTITIONS, 100).await;
    let first: BTreeMap<i32, i64> = [(0, 100), (1, 50), (2, 0)].into_iter().collect();
    strait_translation(&env, &first).await;
    strait.stop();
    wait_for_progress(&env.backup, 99).await;
    let checkpoints_by_strait = checkpoints(&env.backup).await.len();

    produce(&env.primary, TOPIC, &PARTITIONS, 10, 5).await;
    commit(&env.primary, GROUP, TOPIC, &[(0, 150), (1, 120), (2, 20)]).await;
    let mut mm2 = env.mm2().await;
    wait_for_count(&env.backup, REMOTE, &PARTITIONS, 150).await;
    wait_for_progress(&env.backup, 149).await;
    let backup = &env.backup;
    until("MM2's checkpoints of the moved group", || async move {
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
    produce(&env.primary, TOPIC, &PARTITIONS, 0, 6).await;
    let commits = [(0, 60), (1, 30), (2, 0)];
    commit(&env.primary, GROUP, TOPIC, &commits).await;
    let mut running = Strait::start(&env.config);
    wait_for_count(&env.backup, REMOTE, &PARTITIONS, 60).await;
    let want: BTreeMap<i32, i64> = commits.into_iter().collect();
    let translated = strait_translation(&env, &want).await;
    let backup = &env.backup;
    until("primary.heartbeats on backup", || async move {
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
    let (code, out, err) = strait(&["cluster", &env.backup_node.bootstrap(), "--json"]);
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
    let (_, text, _) = strait(&["cluster", &env.backup_node.bootstrap()]);
    assert!(
        text.contains("upstream clusters: primary (1 hop)")
            && text.contains("remote topics:     primary.heartbeats (from primary), primary.orders (from primary)"),
        "{text}"
    );

    assert_eq!(java_translation(&env), translated);
    running.stop();
}

/// Writes the same pre-encoded batches (same timestamps) to `orders` on every cluster.
async fn produce_same(clusters: &[&Cluster], batches: u64) {
    let mut producers = Vec::new();
    for c in clusters {
        producers.push(Producer::idempotent(c).await.unwrap());
    }
    for b in 0..batches {
        for p in PARTITIONS {
            let records = (0..BATCH)
                .map(|i| Record {
                    offset: i as i64,
                    timestamp: now_ms() - 1000,
                    key: Some(Bytes::from((b * BATCH + i).to_string())),
                    value: Some(Bytes::from(format!("same-{p}-{}", b * BATCH + i))),
                    headers: vec![strait_kafka::batch::Header {
                        key: Bytes::from_static(b"origin"),
                        value: Some(Bytes::from(format!("batch-{b}"))),
                    }],
                })
                .collect();
            let batch: RawBatch = BatchBuilder {
                records,
                compression: Compression::Lz4,
                ..BatchBuilder::default()
            }
            .encode()
            .unwrap();
            for producer in &producers {
                producer.send(TOPIC, p, &batch).await.expect("produce");
            }
        }
    }
}

/// The remote topics (`primary.*`) of a cluster with their partition counts.
async fn remote_topics(cluster: &Cluster) -> BTreeMap<String, usize> {
    let metadata = cluster.refresh_metadata().await.expect("metadata");
    metadata
        .topics
        .values()
        .filter(|t| t.name.starts_with("primary."))
        .map(|t| (t.name.clone(), t.partitions.len()))
        .collect()
}

/// A cluster's topic configs that were set on the topic (not defaults).
async fn topic_overrides(cluster: &Cluster, topic: &str) -> BTreeMap<String, String> {
    cluster
        .describe_configs(&ConfigResource::Topic(topic.into()))
        .await
        .expect("describe configs")
        .into_iter()
        .filter(|e| e.source == ConfigSource::DynamicTopic)
        .filter_map(|e| Some((e.name, e.value?)))
        .collect()
}

/// Heartbeats of a cluster as (source alias, target alias) pairs.
async fn heartbeat_flows(cluster: &Cluster) -> BTreeSet<(String, String)> {
    read_topic(cluster, "heartbeats")
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(_, r)| {
            let h = Heartbeat::decode(r.key.as_deref().unwrap(), r.value.as_deref().unwrap())
                .expect("heartbeat decodes");
            (h.source_cluster_alias, h.target_cluster_alias)
        })
        .collect()
}

/// MM2 mirrors primary1→backup1 and strait primary2→backup2, the sources holding the same
/// batches and the same group commits: the targets (and the sources' offset syncs) agree.
async fn mm2_and_strait_write_the_same(_kind: BrokerKind) {
    let (mm2_env, strait_env) = tokio::join!(Env::start(), Env::start());
    let configs = [
        ("retention.ms", "-1"),
        ("max.message.bytes", "2000000"),
        ("compression.type", "lz4"),
    ];
    for env in [&mm2_env, &strait_env] {
        let mut spec = NewTopic::new(TOPIC, 3);
        for (k, v) in configs {
            spec = spec.with_config(k, v);
        }
        env.primary
            .create_topic(&spec)
            .await
            .expect("create orders");
    }
    produce_same(&[&mm2_env.primary, &strait_env.primary], 6).await;
    let commits = [(0, 60), (1, 30), (2, 0)];
    for env in [&mm2_env, &strait_env] {
        commit(&env.primary, GROUP, TOPIC, &commits).await;
    }

    let mut mm2 = mm2_env.mm2().await;
    let mut strait = Strait::start(&strait_env.config);
    for env in [&mm2_env, &strait_env] {
        wait_for_count(&env.backup, REMOTE, &PARTITIONS, 60).await;
        wait_for_progress(&env.backup, 59).await;
        let backup = &env.backup;
        until("checkpoints of every partition", || async move {
            let cps = checkpoints(backup).await;
            let up: Vec<i64> = latest(&cps).values().map(|c| c.upstream_offset).collect();
            (up == [60, 30, 0]).then_some(()).ok_or(format!("{up:?}"))
        })
        .await;
        until("heartbeats replicated", || async move {
            let n = read_from(backup, "primary.heartbeats", 0, 0).await.len();
            (n > 0).then_some(()).ok_or("none yet".to_owned())
        })
        .await;
    }
    stop_mm2(&mut mm2).await;
    strait.stop();

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
        let content = |r: &Record| {
            (
                r.offset,
                r.timestamp,
                r.key.clone(),
                r.value.clone(),
                r.headers.clone(),
            )
        };
        assert_eq!(
            b.iter().map(content).collect::<Vec<_>>(),
            a.iter().map(content).collect::<Vec<_>>(),
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
