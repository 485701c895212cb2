//! Shared helpers of the mirror engine's integration tests: per-broker test generation, a pair
//! of real single-broker clusters (`primary`, `backup`, MM2's fixture), mm2.properties for them,
//! producing fixture records, reading whole topics back (tansu-safe: never by latest offset),
//! and polling with a deadline.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use strait_kafka::batch::{BatchBuilder, Compression, Header, RawBatch, Record};
use strait_kafka::{
    Cluster, ClusterConfig, ConfigEntry, ConfigResource, FetchOptions, FetchPosition, Isolation,
    NewTopic, ProduceAck, Producer,
};
use strait_mirror::engine::{EngineOptions, Mirror, StatsSnapshot};
use strait_testkit::{BrokerKind, TestCluster};

/// How long a test waits for the mirror to reach a state before failing.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// MM2's integration-test fixture: two independent single-broker clusters.
pub struct Pair {
    pub kind: BrokerKind,
    pub primary: Cluster,
    pub backup: Cluster,
    // Dropped last: kills the brokers (and prints their log tails if the test panics).
    pub primary_node: TestCluster,
    pub backup_node: TestCluster,
}

impl Pair {
    /// Starts both brokers (concurrently) and connects a client to each.
    pub async fn start(kind: BrokerKind) -> Pair {
        let a = tokio::task::spawn_blocking(move || TestCluster::start(kind));
        let b = tokio::task::spawn_blocking(move || TestCluster::start(kind));
        let primary_node = a.await.unwrap().expect("primary test broker must start");
        let backup_node = b.await.unwrap().expect("backup test broker must start");
        let primary = connect("primary", &primary_node).await;
        let backup = connect("backup", &backup_node).await;
        Pair {
            kind,
            primary,
            backup,
            primary_node,
            backup_node,
        }
    }

    /// mm2.properties for the pair with MM2's integration-test settings (both flows enabled,
    /// 1 s refresh and heartbeat intervals, every replication factor 1 because each cluster has
    /// one broker), followed by `extra` lines (later keys override earlier ones).
    pub fn properties(&self, extra: &str) -> String {
        format!(
            "# MM2 integration-test fixture (MirrorConnectorsIntegrationBaseTest)\n\
             clusters = primary, backup\n\
             primary.bootstrap.servers = {}\n\
             backup.bootstrap.servers = {}\n\
             primary->backup.enabled = true\n\
             backup->primary.enabled = true\n\
             replication.factor = 1\n\
             offset-syncs.topic.replication.factor = 1\n\
             heartbeats.topic.replication.factor = 1\n\
             checkpoints.topic.replication.factor = 1\n\
             offset.storage.replication.factor = 1\n\
             status.storage.replication.factor = 1\n\
             config.storage.replication.factor = 1\n\
             refresh.topics.interval.seconds = 1\n\
             refresh.groups.interval.seconds = 1\n\
             emit.heartbeats.interval.seconds = 1\n\
             emit.checkpoints.interval.seconds = 1\n\
             sync.topic.acls.enabled = false\n\
             primary.offset.flush.interval.ms = 1000\n\
             backup.offset.flush.interval.ms = 1000\n\
             {extra}\n",
            self.primary_node.bootstrap(),
            self.backup_node.bootstrap(),
        )
    }
}

async fn connect(name: &str, node: &TestCluster) -> Cluster {
    Cluster::connect(ClusterConfig::new(name, &node.bootstrap()).unwrap())
        .await
        .expect("client connects")
}

/// Parses `properties` and starts the mirror on the current runtime.
pub fn start_mirror(properties: &str) -> Mirror {
    start_mirror_with(properties, EngineOptions::default())
}

/// [`start_mirror`] with engine options.
pub fn start_mirror_with(properties: &str, options: EngineOptions) -> Mirror {
    let config = strait_mirror::config::parse_str(properties)
        .unwrap_or_else(|e| panic!("mm2.properties must parse: {e}\n{properties}"));
    Mirror::start(config, options)
}

/// Starts one more test broker of `kind` and connects a client named `name`.
pub async fn start_cluster(kind: BrokerKind, name: &str) -> (TestCluster, Cluster) {
    let node = tokio::task::spawn_blocking(move || TestCluster::start(kind))
        .await
        .unwrap()
        .expect("test broker must start");
    let cluster = connect(name, &node).await;
    (node, cluster)
}

/// The counters of flow `label` (`"primary->backup"`).
pub fn flow_stats(mirror: &Mirror, label: &str) -> StatsSnapshot {
    mirror
        .stats()
        .into_iter()
        .find(|(l, _)| l == label)
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("no flow {label} in {:?}", mirror.stats()))
}

/// Waits until flow `label`'s counters satisfy `done` (they count a batch once its ack has been
/// settled by the pipeline, which may be a moment after the records are readable on the target).
pub async fn wait_for_stats(
    mirror: &Mirror,
    label: &str,
    what: &str,
    done: impl Fn(&StatsSnapshot) -> bool,
) -> StatsSnapshot {
    let done = &done;
    eventually(&format!("{label} stats: {what}"), || async move {
        let stats = flow_stats(mirror, label);
        if done(&stats) {
            Ok(stats)
        } else {
            Err(format!("{stats:?}"))
        }
    })
    .await
}

/// Polls `probe` until it returns `Ok` or [`DEADLINE`] passes; `Err` describes the current
/// state, and the last one is in the panic message.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        match probe().await {
            Ok(t) => return t,
            Err(state) if Instant::now() > deadline => {
                panic!("timed out after {DEADLINE:?} waiting for {what}; last state: {state}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Creates a topic that keeps records regardless of their timestamps (noida deletes by record
/// timestamp otherwise), with `configs` on top.
pub async fn create_topic_with(
    cluster: &Cluster,
    topic: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) {
    let mut spec = NewTopic::new(topic, partitions).with_config("retention.ms", "-1");
    for (k, v) in configs {
        spec = spec.with_config(*k, *v);
    }
    cluster
        .create_topic(&spec)
        .await
        .unwrap_or_else(|e| panic!("create topic {topic} on {}: {e}", cluster.name()));
}

/// [`create_topic_with`] without extra configs.
pub async fn create_topic(cluster: &Cluster, topic: &str, partitions: i32) {
    create_topic_with(cluster, topic, partitions, &[]).await;
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `n` records of `tag`'s partition `partition`: unique keys, values and a header naming them,
/// distinct recent timestamps.
pub fn fixture_records(tag: &str, partition: i32, n: usize) -> Vec<Record> {
    let base = now_ms() - 10_000;
    (0..n)
        .map(|i| Record {
            offset: i as i64,
            timestamp: base + i as i64,
            key: Some(Bytes::from(format!("{tag}-key-{partition}-{i}"))),
            value: Some(Bytes::from(format!("{tag}-value-{partition}-{i}"))),
            headers: vec![Header {
                key: Bytes::from_static(b"origin"),
                value: Some(Bytes::from(tag.to_owned())),
            }],
        })
        .collect()
}

/// `count` records with everything a lossless path must keep: null and empty keys and values,
/// duplicate header keys, null header values, distinct timestamps.
pub fn rich_records(seed: usize, count: usize) -> Vec<Record> {
    let base_ts = now_ms() - 60_000;
    (0..count)
        .map(|i| {
            let n = seed * 1000 + i;
            Record {
                offset: i as i64,
                timestamp: base_ts + (n as i64 % 977),
                key: match n % 5 {
                    0 => None,
                    1 => Some(Bytes::new()),
                    _ => Some(Bytes::from(format!("key-{n}"))),
                },
                value: match n % 7 {
                    0 => None,
                    _ => Some(Bytes::from(format!("value-{n}-{}", "x".repeat(n % 300)))),
                },
                headers: vec![
                    Header {
                        key: Bytes::from_static(b"h"),
                        value: Some(Bytes::from(format!("{n}"))),
                    },
                    Header {
                        key: Bytes::from_static(b"h"),
                        value: None,
                    },
                    Header {
                        key: Bytes::from_static(b"other"),
                        value: Some(Bytes::new()),
                    },
                ],
            }
        })
        .collect()
}

/// One batch of `records` (offsets renumbered from 0, as a producer writes them).
pub fn batch(compression: Compression, records: &[Record]) -> RawBatch {
    BatchBuilder {
        compression,
        records: records
            .iter()
            .enumerate()
            .map(|(i, r)| Record {
                offset: i as i64,
                ..r.clone()
            })
            .collect(),
        ..BatchBuilder::default()
    }
    .encode()
    .expect("encode batch")
}

/// Writes `records` to one partition as a single batch and waits for the ack.
pub async fn produce(
    producer: &Producer,
    topic: &str,
    partition: i32,
    compression: Compression,
    records: &[Record],
) -> ProduceAck {
    producer
        .send(topic, partition, &batch(compression, records))
        .await
        .unwrap_or_else(|e| panic!("produce to {topic}-{partition}: {e}"))
}

/// Writes `records` to one partition one record per batch.
pub async fn produce_one_by_one(
    producer: &Producer,
    topic: &str,
    partition: i32,
    records: &[Record],
) {
    for r in records {
        produce(
            producer,
            topic,
            partition,
            Compression::None,
            std::slice::from_ref(r),
        )
        .await;
    }
}

/// Produces `per_partition` fixture records (tagged `tag`) to each of `partitions` as one
/// batch per partition; returns them by partition.
pub async fn produce_fixture(
    cluster: &Cluster,
    topic: &str,
    partitions: impl IntoIterator<Item = i32>,
    per_partition: usize,
    tag: &str,
) -> BTreeMap<i32, Vec<Record>> {
    let producer = Producer::idempotent(cluster).await.expect("producer id");
    let mut out = BTreeMap::new();
    for p in partitions {
        let records = fixture_records(tag, p, per_partition);
        produce(&producer, topic, p, Compression::None, &records).await;
        out.insert(p, records);
    }
    out
}

/// The partition count of `topic`, `None` if the cluster does not show it.
pub async fn partition_count(cluster: &Cluster, topic: &str) -> Option<usize> {
    let metadata = cluster.refresh_topics(&[topic]).await.ok()?;
    metadata
        .topic(topic)
        .map(|t| t.partitions.len())
        .filter(|n| *n > 0)
}

/// Whether the cluster lists `topic` (a full metadata refresh, like listTopics).
pub async fn topic_exists(cluster: &Cluster, topic: &str) -> bool {
    topic_names(cluster).await.iter().any(|t| t == topic)
}

/// Every topic the cluster lists.
pub async fn topic_names(cluster: &Cluster) -> Vec<String> {
    let metadata = cluster.refresh_metadata().await.expect("metadata");
    metadata
        .topics
        .values()
        .filter(|t| t.error.is_none())
        .map(|t| t.name.clone())
        .collect()
}

/// Every batch of a partition from offset 0 (control batches included), read until a fetch
/// brings nothing new: never trusts the latest offset (tansu reports it wrong).
pub async fn read_batches(
    cluster: &Cluster,
    topic: &str,
    partition: i32,
    isolation: Isolation,
) -> Vec<RawBatch> {
    let options = FetchOptions {
        max_wait: Duration::from_millis(50),
        isolation,
        ..FetchOptions::default()
    };
    let mut batches = Vec::new();
    let mut offset = 0;
    loop {
        let position = FetchPosition {
            topic: topic.to_owned(),
            partition,
            offset,
            max_bytes: 16 * 1024 * 1024,
        };
        let fetched = cluster
            .fetch(&position, &options)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "fetch {topic}-{partition} at {offset} on {}: {e}",
                    cluster.name()
                )
            });
        let mut progressed = false;
        for b in fetched.batches() {
            let b = b.unwrap_or_else(|e| panic!("{topic}-{partition}: invalid batch: {e}"));
            if b.next_offset() <= offset {
                continue;
            }
            offset = b.next_offset();
            batches.push(b);
            progressed = true;
        }
        if !progressed {
            return batches;
        }
    }
}

/// The data records of `batches` (control batches skipped), with absolute offsets.
pub fn records_of(batches: &[RawBatch]) -> Vec<Record> {
    batches
        .iter()
        .filter(|b| !b.is_control())
        .flat_map(|b| b.decode().expect("decode batch").records)
        .collect()
}

/// The data records of one partition (read_committed), with absolute offsets.
pub async fn read_partition(cluster: &Cluster, topic: &str, partition: i32) -> Vec<Record> {
    records_of(&read_batches(cluster, topic, partition, Isolation::ReadCommitted).await)
}

/// Every data record of `topic` by partition; empty if the topic does not exist.
pub async fn read_all(cluster: &Cluster, topic: &str) -> BTreeMap<i32, Vec<Record>> {
    let mut out = BTreeMap::new();
    let Some(n) = partition_count(cluster, topic).await else {
        return out;
    };
    for p in 0..n as i32 {
        out.insert(p, read_partition(cluster, topic, p).await);
    }
    out
}

/// How many data records `topic` holds (0 if it does not exist), counted by reading.
pub async fn count_records(cluster: &Cluster, topic: &str) -> usize {
    read_all(cluster, topic).await.values().map(Vec::len).sum()
}

/// Waits until `topic` on `cluster` holds at least `n` records; returns the count.
pub async fn wait_for_records(cluster: &Cluster, topic: &str, n: usize) -> usize {
    let what = format!("{n} records in {topic} on {}", cluster.name());
    eventually(&what, || async move {
        let count = count_records(cluster, topic).await;
        if count >= n {
            Ok(count)
        } else {
            Err(format!("{count} records"))
        }
    })
    .await
}

/// What a consumer sees of a record, without its offset.
pub fn content(r: &Record) -> (i64, Option<Bytes>, Option<Bytes>, Vec<Header>) {
    (
        r.timestamp,
        r.key.clone(),
        r.value.clone(),
        r.headers.clone(),
    )
}

/// Asserts that `target` holds exactly `source`'s records in order (timestamp, key, value,
/// headers), and that the target's offsets are contiguous from 0.
pub fn assert_same_records(what: &str, source: &[Record], target: &[Record]) {
    let s: Vec<_> = source.iter().map(content).collect();
    let t: Vec<_> = target.iter().map(content).collect();
    if s != t {
        let first = s.iter().zip(&t).position(|(a, b)| a != b);
        panic!(
            "{what}: {} source records, {} target records; first difference at index {first:?}:\n  source {:?}\n  target {:?}",
            s.len(),
            t.len(),
            first.and_then(|i| s.get(i)),
            first.and_then(|i| t.get(i)),
        );
    }
    let offsets: Vec<i64> = target.iter().map(|r| r.offset).collect();
    let expected: Vec<i64> = (0..target.len() as i64).collect();
    assert_eq!(
        offsets, expected,
        "{what}: target offsets are contiguous from 0"
    );
}

/// Asserts that every partition of `remote` equals the same partition of `expected`.
pub fn assert_partitions_equal(
    what: &str,
    expected: &BTreeMap<i32, Vec<Record>>,
    remote: &BTreeMap<i32, Vec<Record>>,
) {
    for (p, records) in expected {
        let got = remote.get(p).map(Vec::as_slice).unwrap_or_default();
        assert_same_records(&format!("{what} partition {p}"), records, got);
    }
    for (p, records) in remote {
        if !expected.contains_key(p) {
            assert!(
                records.is_empty(),
                "{what} partition {p}: unexpected records {records:?}"
            );
        }
    }
}

/// The value of topic config `name`, if the cluster reports it.
pub async fn topic_config(cluster: &Cluster, topic: &str, name: &str) -> Option<ConfigEntry> {
    cluster
        .describe_configs(&ConfigResource::Topic(topic.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("describe configs of {topic} on {}: {e}", cluster.name()))
        .into_iter()
        .find(|e| e.name == name)
}

/// Shuts the mirror down and fails the test on an engine error.
pub async fn shutdown(mirror: Mirror) {
    tokio::time::timeout(DEADLINE, mirror.shutdown())
        .await
        .expect("shutdown finishes within the deadline")
        .expect("clean shutdown");
}

/// Prints `value` in a failure message.
pub fn dbg_string<T: Debug>(value: &T) -> String {
    format!("{value:?}")
}
