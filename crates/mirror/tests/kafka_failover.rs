//! Broker failures under load on Apache Kafka: 3-broker source and target (RF 3,
//! `min.insync.replicas=2`), at least 200,000 records streaming while the source broker leading the most
//! partitions is stopped (controlled shutdown) and restarted, and then a target broker is
//! killed (SIGKILL) and restarted. Nothing may be lost, order is kept per partition, and
//! duplicates are counted and bounded.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use strait_fixtures::*;
use strait_kafka::batch::{Compression, Record};
use strait_kafka::{Cluster, Producer};
use strait_testkit::{BrokerKind, KafkaCluster};
use tokio::sync::watch;

strait_testkit::per_broker!(;
    // Only Apache Kafka runs clusters of several brokers with replicated partitions here.
    kafka_only: leaders_fail_while_records_stream,
);

const TOPIC: &str = "stream";
const REMOTE: &str = "source.stream";
const PARTITIONS: i32 = 8;
const RECORDS: usize = 200_000;
const BATCH: usize = 250;
/// Records per second the test producer aims for, so the failures land mid-stream.
const RATE: usize = 20_000;
/// At most this many batches per partition may arrive twice per broker failure: the in-flight
/// window of the partition's producer, re-sent when a new producer takes over after a failure.
const DUPLICATE_BATCHES_PER_FAILURE: usize = 5;

fn properties(source: &KafkaCluster, target: &KafkaCluster) -> String {
    format!(
        "clusters = source, target\n\
         source.bootstrap.servers = {}\n\
         target.bootstrap.servers = {}\n\
         source->target.enabled = true\n\
         target->source.enabled = false\n\
         topics = {TOPIC}\n\
         replication.factor = 3\n\
         offset-syncs.topic.replication.factor = 3\n\
         heartbeats.topic.replication.factor = 3\n\
         checkpoints.topic.replication.factor = 3\n\
         offset.storage.replication.factor = 3\n\
         refresh.topics.interval.seconds = 1\n",
        source.bootstrap(),
        target.bootstrap(),
    )
}

/// The record `i` of partition `p`: its value names it, so the target can be checked in order.
fn record(p: i32, i: usize) -> Record {
    Record {
        offset: (i % BATCH) as i64,
        timestamp: now_ms(),
        key: Some(Bytes::from(format!("key-{p}-{i}"))),
        value: Some(Bytes::from(format!("value-{p}-{i:07}-{}", "x".repeat(60)))),
        headers: Vec::new(),
    }
}

/// Writes at least RECORDS records over PARTITIONS partitions at about RATE records/s, in
/// batches of BATCH, riding out leader changes (the idempotent producer retries with the same
/// sequence), and goes on until `failures_done` says both failures are over, so they always
/// land mid-stream however slow the machine. Returns the records written per partition.
async fn stream(source: Cluster, failures_done: watch::Receiver<bool>) -> Vec<usize> {
    let per_partition = RECORDS / PARTITIONS as usize;
    let pause = Duration::from_secs_f64(BATCH as f64 * PARTITIONS as f64 / RATE as f64);
    let mut tasks = Vec::new();
    for p in 0..PARTITIONS {
        let source = source.clone();
        let failures_done = failures_done.clone();
        tasks.push(tokio::spawn(async move {
            let producer = Producer::idempotent(&source)
                .await
                .expect("source producer");
            let mut written = 0;
            while written < per_partition || !*failures_done.borrow() {
                let records: Vec<Record> =
                    (written..written + BATCH).map(|i| record(p, i)).collect();
                let batch = batch(Compression::Lz4, &records);
                producer
                    .send(TOPIC, p, &batch)
                    .await
                    .unwrap_or_else(|e| panic!("source write of partition {p} at {written}: {e}"));
                written += BATCH;
                tokio::time::sleep(pause).await;
            }
            written
        }));
    }
    let mut written = Vec::new();
    for task in tasks {
        written.push(task.await.expect("producer task"));
    }
    written
}

/// The broker leading the most partitions of `topic`, and how many it leads.
async fn busiest_leader(cluster: &Cluster, topic: &str) -> (i32, usize) {
    let metadata = cluster.refresh_metadata().await.expect("metadata");
    let mut led: BTreeMap<i32, usize> = BTreeMap::new();
    for p in 0..PARTITIONS {
        let leader = metadata
            .leader(topic, p)
            .expect("every partition has a leader");
        *led.entry(leader).or_default() += 1;
    }
    led.into_iter().max_by_key(|(_, n)| *n).expect("leaders")
}

/// How the target's partition compares with the source's: records lost (source records never
/// seen on the target), out of order, and duplicated (seen again after they first arrived).
#[derive(Debug, Default, PartialEq, Eq)]
struct Comparison {
    lost: usize,
    out_of_order: usize,
    duplicates: usize,
}

fn compare(source: &[Record], target: &[Record]) -> Comparison {
    let index: BTreeMap<Option<Bytes>, usize> = source
        .iter()
        .enumerate()
        .map(|(i, r)| (r.value.clone(), i))
        .collect();
    let mut result = Comparison::default();
    let mut next = 0;
    for r in target {
        match index.get(&r.value) {
            Some(&i) if i == next => next += 1,
            Some(&i) if i < next => result.duplicates += 1,
            _ => result.out_of_order += 1,
        }
    }
    result.lost = source.len() - next;
    result
}

async fn leaders_fail_while_records_stream(_kind: BrokerKind) {
    capture_logs("strait_mirror=debug,strait_kafka=debug").print_tail_on_panic(400);
    let (mut source_node, mut target_node) =
        tokio::join!(start_kafka_brokers(3), start_kafka_brokers(3));
    let source = connect("source", &source_node.bootstrap()).await;
    let target = connect("target", &target_node.bootstrap()).await;
    create_topic(&source, TOPIC, PARTITIONS).await;

    let started = Instant::now();
    let (failures_done, stream_until) = watch::channel(false);
    let producer = tokio::spawn(stream(source.clone(), stream_until));
    let mirror = start_mirror(&properties(&source_node, &target_node));
    wait_for_records(&target, REMOTE, 10_000).await;

    // The source broker leading the most partitions: controlled shutdown, then back.
    let (broker, led) = busiest_leader(&source, TOPIC).await;
    eprintln!(
        "stopping source broker {broker} (leads {led} of {PARTITIONS}) after {:?}",
        started.elapsed()
    );
    tokio::task::block_in_place(|| source_node.stop_node(broker));
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::block_in_place(|| source_node.start_node(broker)).expect("source broker back");

    // A target broker leading remote partitions: killed, then back.
    let (broker, led) = busiest_leader(&target, REMOTE).await;
    eprintln!(
        "killing target broker {broker} (leads {led} of {PARTITIONS}) after {:?}",
        started.elapsed()
    );
    tokio::task::block_in_place(|| target_node.kill_node(broker));
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::block_in_place(|| target_node.start_node(broker)).expect("target broker back");

    assert!(
        !producer.is_finished(),
        "both failures happened while records were still streaming"
    );
    failures_done.send(true).unwrap();
    let written = producer.await.expect("the source stream completes");
    let total: usize = written.iter().sum();
    eprintln!("{total} records written after {:?}", started.elapsed());
    let done = wait_for_records(&target, REMOTE, total).await;
    eprintln!("{done} records mirrored after {:?}", started.elapsed());
    let stats = flow_stats(&mirror, "source->target");
    shutdown(mirror).await;

    let mut duplicates = 0;
    for p in 0..PARTITIONS {
        let from = read_partition(&source, TOPIC, p).await;
        assert_eq!(
            from.len(),
            written[p as usize],
            "the source kept partition {p}"
        );
        let to = read_partition(&target, REMOTE, p).await;
        let c = compare(&from, &to);
        eprintln!(
            "partition {p}: {} source, {} target records: {c:?}",
            from.len(),
            to.len()
        );
        assert_eq!((c.lost, c.out_of_order), (0, 0), "partition {p}: {c:?}");
        assert!(
            c.duplicates <= 2 * DUPLICATE_BATCHES_PER_FAILURE * BATCH,
            "partition {p}: {} duplicates, more than the in-flight window of two failures",
            c.duplicates
        );
        duplicates += c.duplicates;
    }
    eprintln!("duplicates in all: {duplicates}; mirror stats: {stats:?}");
}

/// The checker itself: it sees a loss, a reordering and a duplicate.
#[test]
fn the_comparison_sees_loss_reordering_and_duplicates() {
    let source: Vec<Record> = (0..5).map(|i| record(0, i)).collect();
    let pick = |is: &[usize]| is.iter().map(|&i| source[i].clone()).collect::<Vec<_>>();
    assert_eq!(
        compare(&source, &pick(&[0, 1, 2, 3, 4])),
        Comparison::default()
    );
    let c = compare(&source, &pick(&[0, 1, 2, 1, 2, 3, 4]));
    assert_eq!((c.lost, c.out_of_order, c.duplicates), (0, 0, 2));
    let c = compare(&source, &pick(&[0, 1, 3, 4]));
    assert_eq!((c.lost, c.out_of_order), (3, 2), "{c:?}");
    let c = compare(&source, &pick(&[0, 2, 1, 3, 4]));
    assert!(c.out_of_order > 0, "{c:?}");
}
