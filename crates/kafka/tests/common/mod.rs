//! Shared helpers of the client's integration tests: per-broker test generation, connections,
//! sample records and whole-partition reads.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use strait_kafka::batch::{BatchBuilder, Compression, Header, RawBatch, Record};
use strait_kafka::{Cluster, ClusterConfig, FetchOptions, FetchPosition, NewTopic};
use strait_testkit::{BrokerKind, TestCluster};

/// Starts a cluster of `kind` and connects a client named `name` to it.
pub async fn start(kind: BrokerKind, name: &str) -> (TestCluster, Cluster) {
    let node = tokio::task::spawn_blocking(move || TestCluster::start(kind))
        .await
        .unwrap()
        .expect("test broker must start");
    let cluster = Cluster::connect(ClusterConfig::new(name, &node.bootstrap()).unwrap())
        .await
        .expect("client connects");
    (node, cluster)
}

/// Creates a topic that keeps records regardless of their timestamps.
pub async fn create_topic(cluster: &Cluster, topic: &str, partitions: i32) {
    let spec = NewTopic {
        configs: vec![("retention.ms".into(), "-1".into())],
        ..NewTopic::new(topic, partitions)
    };
    cluster.create_topic(&spec).await.expect("create topic");
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `count` records with everything a lossless path must keep: null and empty keys and values,
/// duplicate header keys, null header values, distinct timestamps.
pub fn sample_records(seed: usize, count: usize) -> Vec<Record> {
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

/// A batch of `records` with `compression`.
pub fn batch(compression: Compression, records: Vec<Record>) -> RawBatch {
    BatchBuilder {
        compression,
        records,
        ..BatchBuilder::default()
    }
    .encode()
    .expect("encode batch")
}

/// Every whole batch of a partition from `from` up to `until` (exclusive, by next offset).
pub async fn read_batches(
    cluster: &Cluster,
    topic: &str,
    partition: i32,
    from: i64,
    until: i64,
    max_bytes: i32,
) -> Vec<RawBatch> {
    let mut batches = Vec::new();
    let mut offset = from;
    let deadline = Instant::now() + Duration::from_secs(30);
    let options = FetchOptions {
        max_wait: Duration::from_millis(50),
        ..FetchOptions::default()
    };
    while offset < until {
        assert!(
            Instant::now() < deadline,
            "{topic}-{partition}: stalled at offset {offset} of {until}"
        );
        let position = FetchPosition {
            topic: topic.into(),
            partition,
            offset,
            max_bytes,
        };
        let fetched = cluster.fetch(&position, &options).await.expect("fetch");
        for batch in fetched.batches() {
            let batch = batch.expect("whole, valid batch");
            offset = batch.next_offset();
            batches.push(batch);
        }
    }
    batches
}

/// The records of decoded batches, offsets made relative to each batch (as produced).
pub fn records_as_produced(batch: &RawBatch) -> Vec<Record> {
    let decoded = batch.decode().expect("decode");
    decoded
        .records
        .into_iter()
        .map(|r| Record {
            offset: r.offset - decoded.base_offset,
            ..r
        })
        .collect()
}
