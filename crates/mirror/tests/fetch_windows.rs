//! Fetch windows against Apache Kafka with the source behind the testkit's delay proxy: over a
//! long link a busy partition asks for more than `max.partition.fetch.bytes`, over a short one
//! it never does. A binary of its own: windows grow by the measured round trip, and with the
//! other mirror tests beside it on a 2-core machine even loopback can take 20 ms to answer.

use std::collections::BTreeMap;
use std::time::Duration;

use strait_fixtures::*;
use strait_testkit::{BrokerKind, ProxyOptions, SecureProxy};

strait_testkit::per_broker!(
    ;
    kafka_only: over_a_long_link_busy_partitions_ask_for_more_per_fetch,
        over_a_short_link_fetches_keep_max_partition_fetch_bytes,
);

const TOPIC: &str = "test-topic-1";
const TOPIC_REMOTE: &str = "primary.test-topic-1";

/// `max.partition.fetch.bytes` of the fetch-window tests: far less than the topic's backlog.
const SMALL_FETCH: i32 = 4096;

/// Mirrors a backlog of many batches in two partitions with the source behind a proxy that
/// delays each direction by `one_way`, `max.partition.fetch.bytes` = [`SMALL_FETCH`]; checks
/// every record arrived once and in order, and returns the most a Fetch request asked for one
/// partition of the topic.
async fn mirror_backlog_through_proxy(kind: BrokerKind, one_way: Option<Duration>) -> i32 {
    const BATCHES: usize = 60;
    let pair = Pair::start(kind).await;
    create_topic(&pair.primary, TOPIC, 2).await;
    let producer = strait_kafka::Producer::idempotent(&pair.primary)
        .await
        .expect("producer id");
    let mut produced: BTreeMap<i32, Vec<strait_kafka::batch::Record>> = BTreeMap::new();
    for round in 0..BATCHES {
        for partition in 0..2 {
            let records = fixture_records(&format!("backlog-{round}"), partition, 20);
            let none = strait_kafka::batch::Compression::None;
            produce(&producer, TOPIC, partition, none, &records).await;
            produced.entry(partition).or_default().extend(records);
        }
    }
    let options = ProxyOptions {
        delay: one_way,
        ..ProxyOptions::default()
    };
    let proxy = SecureProxy::start(&pair.primary_node.bootstrap(), options)
        .await
        .unwrap();
    let properties = pair.properties_via(
        &proxy.bootstrap(),
        &format!(
            "topics = test-topic-.*\nbackup->primary.enabled = false\n\
             primary.consumer.max.partition.fetch.bytes = {SMALL_FETCH}"
        ),
    );
    let mirror = start_mirror(&properties);
    wait_for_records(&pair.backup, TOPIC_REMOTE, BATCHES * 2 * 20).await;
    shutdown(mirror).await;
    let remote = read_all(&pair.backup, TOPIC_REMOTE).await;
    assert_partitions_equal("primary.test-topic-1 on backup", &produced, &remote);
    proxy
        .stats()
        .largest_fetch_ask(TOPIC)
        .expect("fetches of the topic went through the proxy")
}

/// With the source 60 ms away (round trip), a partition whose answers come back full asks
/// for more than `max.partition.fetch.bytes` next time (its fetch window grows), so one
/// answer carries more of the backlog per round trip.
async fn over_a_long_link_busy_partitions_ask_for_more_per_fetch(kind: BrokerKind) {
    let largest = mirror_backlog_through_proxy(kind, Some(Duration::from_millis(30))).await;
    assert!(
        largest >= 4 * SMALL_FETCH,
        "the most a fetch asked for one partition was {largest} bytes: the window did not grow \
         past max.partition.fetch.bytes = {SMALL_FETCH} (twice)"
    );
}

/// On a short link (loopback) a full answer is no reason to ask for more: every fetch asks
/// for `max.partition.fetch.bytes` at most, as the Java consumer does.
async fn over_a_short_link_fetches_keep_max_partition_fetch_bytes(kind: BrokerKind) {
    let largest = mirror_backlog_through_proxy(kind, None).await;
    assert_eq!(largest, SMALL_FETCH);
}
