//! Helpers of the `strait run` tests (run.rs, run_stream.rs): two clusters and the
//! mm2.properties of the brief, `strait run` in the background, numbered records and their
//! read-back. Everything else comes from `strait_fixtures`, re-exported here.
//!
//! Records carry their partition and a per-partition sequence number in the key
//! (`p<partition>-<seq>`) and a value derived from both, so what arrives on the target can be
//! compared record by record with what was produced, duplicates counted and losses named.
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sha2::{Digest, Sha256};
pub use strait_fixtures::*;
use strait_kafka::batch::{Compression, RawBatch, Record};
use strait_kafka::{Cluster, Isolation, Producer};
use strait_testkit::{java_peer, BrokerKind, KafkaVersion, TestCluster};

/// The binary under test.
pub const STRAIT: StraitBin = StraitBin(env!("CARGO_BIN_EXE_strait"));

/// What a partition holds: (key, value) of each record, in offset order.
pub type Partition = Vec<(Bytes, Bytes)>;

/// Two single-broker clusters, `primary` (source) and `backup` (target), with clients.
pub struct Env {
    // Declared first so the clients go before the brokers.
    pub source: Cluster,
    pub target: Cluster,
    pub source_node: TestCluster,
    pub target_node: Option<TestCluster>,
    pub target_bootstrap: String,
    pub kind: BrokerKind,
}

impl Env {
    pub async fn start(kind: BrokerKind) -> Env {
        let (source_node, target_node) = start_two_nodes(kind).await;
        let source = connect("primary", &source_node.bootstrap()).await;
        let target = connect("backup", &target_node.bootstrap()).await;
        Env {
            source,
            target,
            target_bootstrap: target_node.bootstrap(),
            source_node,
            target_node: Some(target_node),
            kind,
        }
    }

    /// Writes the MM2 properties file of the brief (plus `extra` lines) into the source's runtime dir.
    pub fn config(&self, extra: &str) -> PathBuf {
        let text = format!(
            "clusters = primary, backup\n\
             primary.bootstrap.servers = {}\n\
             backup.bootstrap.servers = {}\n\
             primary->backup.enabled = true\n\
             primary->backup.topics = ^test-topic-.*\n\
             backup->primary.enabled = false\n\
             backup->primary.emit.heartbeats.enabled = false\n\
             {ONE_REPLICA}\
             refresh.topics.interval.seconds = 1\n\
             backup.offset.flush.interval.ms = 100\n\
             {}\
             {extra}",
            self.source_node.bootstrap(),
            self.target_bootstrap,
            group_setting(self.kind),
        );
        let path = self.source_node.runtime_dir().join("mm2.properties");
        std::fs::write(&path, text).expect("write mm2.properties");
        path
    }

    /// `strait run` on [`Env::config`], reporting every second; its log lines are stamped with
    /// the seconds since the start.
    pub fn start_strait(&self, extra: &str) -> Strait {
        Strait::spawn_stamped(
            STRAIT
                .command()
                .arg("run")
                .arg(self.config(extra))
                .args(["--report-every", "1"]),
        )
    }
}

fn key(partition: i32, seq: u64) -> Bytes {
    Bytes::from(format!("p{partition}-{seq:08}"))
}

fn value(partition: i32, seq: u64) -> Bytes {
    Bytes::from(format!(
        "value of record {seq} of partition {partition} {}",
        "x".repeat((seq % 64) as usize)
    ))
}

/// Records `first..first + count` of `partition`.
pub fn expected_records(partition: i32, first: u64, count: u64) -> Partition {
    (first..first + count)
        .map(|seq| (key(partition, seq), value(partition, seq)))
        .collect()
}

/// A batch of records `first..first + count` of `partition`.
pub fn numbered_batch(
    partition: i32,
    first: u64,
    count: u64,
    compression: Compression,
) -> RawBatch {
    let ts = now_ms();
    let records: Vec<Record> = (first..first + count)
        .map(|seq| record(ts, Some(key(partition, seq)), Some(value(partition, seq))))
        .collect();
    batch(compression, &records)
}

/// Every record (key, value) of each partition of `topic`, read until a fetch returns nothing
/// (tansu's latest offset is not to be trusted, so nothing here relies on it).
pub async fn read_topic(
    cluster: &Cluster,
    topic: &str,
    partitions: i32,
) -> Result<Vec<Partition>, String> {
    if !topic_ready(cluster, topic, partitions).await {
        return Err(format!("topic {topic} does not exist (yet)"));
    }
    let options = read_options(Isolation::ReadCommitted);
    let mut all = Vec::new();
    for partition in 0..partitions {
        let batches = try_read_batches(cluster, topic, partition, 0, &options).await?;
        let records = records_of(&batches).into_iter();
        all.push(
            records
                .map(|r| (r.key.unwrap_or_default(), r.value.unwrap_or_default()))
                .collect(),
        );
    }
    Ok(all)
}

/// How many records [`read_topic`] finds; 0 while the topic cannot be read.
pub async fn count_topic(cluster: &Cluster, topic: &str, partitions: i32) -> usize {
    read_topic(cluster, topic, partitions)
        .await
        .map_or(0, |t| t.iter().map(Vec::len).sum())
}

/// Polls `topic` until it holds at least `count` records.
pub async fn wait_for_count(
    cluster: &Cluster,
    topic: &str,
    partitions: i32,
    count: usize,
    limit: Duration,
    strait: &Strait,
) -> Vec<Partition> {
    let deadline = Instant::now() + limit;
    loop {
        let last = match read_topic(cluster, topic, partitions).await {
            Ok(records) => {
                let n: usize = records.iter().map(Vec::len).sum();
                if n >= count {
                    return records;
                }
                format!("{n} of {count} records; {}", summarize(&records))
            }
            Err(e) => e,
        };
        assert!(
            Instant::now() < deadline,
            "{topic} on the target: {last} after {limit:?}\n{}",
            strait.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Asserts `got` equals `expected` partition by partition, record by record.
pub fn assert_same(expected: &[Partition], got: &[Partition], topic: &str) {
    assert_eq!(expected.len(), got.len(), "{topic}: partition count");
    for (p, (e, g)) in expected.iter().zip(got).enumerate() {
        if let Some(i) = e.iter().zip(g).position(|(a, b)| a != b) {
            panic!(
                "{topic} partition {p}: record {i} is {:?}, expected {:?}",
                String::from_utf8_lossy(&g[i].0),
                String::from_utf8_lossy(&e[i].0)
            );
        }
        assert_eq!(
            e.len(),
            g.len(),
            "{topic} partition {p}: {} records, expected {}",
            g.len(),
            e.len()
        );
    }
}

/// Per partition: records, distinct records and the sequence numbers missing below the highest one.
fn summarize(partitions: &[Partition]) -> String {
    let mut out = Vec::new();
    for (p, records) in partitions.iter().enumerate() {
        let seqs: Vec<u64> = records
            .iter()
            .filter_map(|(k, _)| {
                std::str::from_utf8(k)
                    .ok()?
                    .rsplit_once('-')?
                    .1
                    .parse()
                    .ok()
            })
            .collect();
        let distinct: std::collections::BTreeSet<u64> = seqs.iter().copied().collect();
        let max = distinct.last().copied();
        let missing: Vec<u64> = (0..max.map_or(0, |m| m + 1))
            .filter(|s| !distinct.contains(s))
            .collect();
        let missing_text = match (missing.first(), missing.last()) {
            (Some(a), Some(b)) => format!(", {} missing in {a}..={b}", missing.len()),
            _ => String::new(),
        };
        out.push(format!(
            "partition {p}: {} records, {} distinct, highest {max:?}{missing_text}",
            records.len(),
            distinct.len()
        ));
    }
    out.join("; ")
}

/// The shape of a produced stream: `batches` lz4 batches of `batch` numbered records per
/// partition.
#[derive(Debug, Clone, Copy)]
pub struct Stream {
    pub partitions: i32,
    pub batch: u64,
    pub batches: u64,
}

impl Stream {
    /// Records in all.
    pub fn records(&self) -> u64 {
        self.partitions as u64 * self.batch * self.batches
    }

    /// Every record of the stream, by partition.
    pub fn expected(&self) -> Vec<Partition> {
        (0..self.partitions)
            .map(|p| expected_records(p, 0, self.batches * self.batch))
            .collect()
    }
}

/// A producer writing a [`Stream`] to every partition, round robin (one batch per partition a
/// round): the first `backlog_rounds` rounds at once, then pausing between rounds.
pub struct Feed {
    produced: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Feed {
    pub fn start(
        source: &Cluster,
        topic: &str,
        stream: Stream,
        backlog_rounds: u64,
        pause: Duration,
    ) -> Feed {
        Feed::rounds(
            source,
            topic,
            stream,
            0..stream.batches,
            backlog_rounds,
            pause,
        )
    }

    /// Only rounds `rounds` (batch indexes) of the stream.
    pub fn rounds(
        source: &Cluster,
        topic: &str,
        stream: Stream,
        rounds: std::ops::Range<u64>,
        backlog_rounds: u64,
        pause: Duration,
    ) -> Feed {
        Feed::compressed(
            source,
            topic,
            stream,
            rounds,
            backlog_rounds,
            pause,
            Compression::Lz4,
        )
    }

    /// [`Feed::rounds`] with batches compressed by `compression`.
    pub fn compressed(
        source: &Cluster,
        topic: &str,
        stream: Stream,
        rounds: std::ops::Range<u64>,
        backlog_rounds: u64,
        pause: Duration,
        compression: Compression,
    ) -> Feed {
        let produced = Arc::new(AtomicU64::new(0));
        let (cluster, topic, counter) = (source.clone(), topic.to_owned(), produced.clone());
        let task = tokio::spawn(async move {
            let producer = Producer::idempotent(&cluster).await.expect("producer id");
            for b in rounds {
                for p in 0..stream.partitions {
                    let batch = numbered_batch(p, b * stream.batch, stream.batch, compression);
                    producer
                        .send(&topic, p, &batch)
                        .await
                        .expect("produce to the source");
                    counter.fetch_add(stream.batch, Ordering::Relaxed);
                }
                if b >= backlog_rounds {
                    tokio::time::sleep(pause).await;
                }
            }
        });
        Feed { produced, task }
    }

    pub fn produced(&self) -> u64 {
        self.produced.load(Ordering::Relaxed)
    }

    pub async fn finish(self) {
        self.task.await.expect("producer task");
    }
}

/// Asserts every expected record arrived, nothing else did, and first arrivals are in order;
/// returns the number of duplicate records per partition.
pub fn check_no_loss(expected: &[Partition], got: &[Partition], topic: &str) -> Vec<usize> {
    assert_eq!(expected.len(), got.len(), "{topic}: partition count");
    let mut duplicates = Vec::new();
    for (p, (e, g)) in expected.iter().zip(got).enumerate() {
        let mut seen = HashSet::new();
        let mut firsts = Vec::new();
        for r in g {
            if seen.insert(r) {
                firsts.push(r.clone());
            }
        }
        let missing: Vec<_> = e.iter().filter(|r| !seen.contains(r)).collect();
        assert!(
            missing.is_empty(),
            "{topic} partition {p}: {} records lost, the first {:?}",
            missing.len(),
            String::from_utf8_lossy(&missing[0].0)
        );
        assert_same(
            std::slice::from_ref(e),
            std::slice::from_ref(&firsts),
            &format!("{topic} (first arrivals, partition {p})"),
        );
        duplicates.push(g.len() - firsts.len());
    }
    duplicates
}

/// `1/2/3`.
pub fn fmt_list(values: &[usize]) -> String {
    values
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("/")
}

/// Per partition: (records, SHA-256 of their keys and values in order), as the Java peer's
/// `digest` prints them (each part: big-endian length, then the bytes).
pub type Digests = BTreeMap<i32, (u64, String)>;

/// What the Java consumer (read_committed) reads of `topic` on `bootstrap`.
pub async fn java_digests(bootstrap: &str, topic: &str) -> Digests {
    let (bootstrap, topic) = (bootstrap.to_owned(), topic.to_owned());
    let out = tokio::task::spawn_blocking(move || {
        java_peer(KafkaVersion::from_env(), &["digest", &bootstrap, &topic])
    })
    .await
    .unwrap()
    .expect("the Java consumer reads the target");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("digest JSON");
    doc.as_object()
        .expect("an object by partition")
        .iter()
        .map(|(p, row)| {
            let records = row["records"].as_u64().expect("records");
            let sha = row["sha256"].as_str().expect("sha256").to_owned();
            (p.parse().expect("partition number"), (records, sha))
        })
        .collect()
}

/// [`java_digests`] again every 2 s until they count `records` in all or `limit` has passed.
pub async fn wait_for_digests(
    bootstrap: &str,
    topic: &str,
    records: u64,
    limit: Duration,
) -> Digests {
    let deadline = Instant::now() + limit;
    loop {
        let seen = java_digests(bootstrap, topic).await;
        let complete = seen.values().map(|(n, _)| *n).sum::<u64>() >= records;
        if complete || Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The digests of `stream`'s records, as [`java_digests`] reports them when all arrived once.
pub fn expected_digests(stream: Stream) -> Digests {
    stream
        .expected()
        .iter()
        .enumerate()
        .map(|(p, records)| {
            let mut hash = Sha256::new();
            for (key, value) in records {
                for part in [key, value] {
                    hash.update((part.len() as i32).to_be_bytes());
                    hash.update(part);
                }
            }
            let hex = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
            (p as i32, (records.len() as u64, hex))
        })
        .collect()
}
