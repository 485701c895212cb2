//! Throttling (`strait.throttle.*`, issue #16 part 2): a flow limited as a whole and a group of
//! its topics limited by a rule still mirror every record once, in order, and say how long their
//! writes waited (`strait_throttle_wait_seconds_total{rule}`). Rates are shown by
//! `strait bench --throttle`, not asserted here.

use std::collections::BTreeMap;

use strait_fixtures::*;
use strait_kafka::batch::{Compression, Record};
use strait_kafka::Producer;
use strait_mirror::metrics::{render, PartitionLabels};
use strait_testkit::BrokerKind;

strait_testkit::per_broker!(
    throttled_topics_arrive_whole_and_report_their_waits;
    // tansu has no transactions.
    not_tansu: a_tight_limit_never_outlasts_a_transaction,
);

/// 30 batches of about 10 KB produced in one go, so one fetch brings them all.
async fn produce_topic(pair: &Pair, topic: &str) -> Vec<Record> {
    create_topic(&pair.primary, topic, 1).await;
    let producer = Producer::idempotent(&pair.primary).await.unwrap();
    let mut all = Vec::new();
    for b in 0..30 {
        // 10 records of about 1 KB, uncompressed.
        let records: Vec<Record> = (0..10)
            .map(|i| {
                record(
                    now_ms(),
                    Some(format!("{topic}-{b}-{i}").into()),
                    Some(format!("{}-{}", "v".repeat(1000), b * 10 + i).into()),
                )
            })
            .collect();
        produce(&producer, topic, 0, Compression::None, &records).await;
        all.extend(records);
    }
    all
}

/// Exactly-once with a limit that spreads one fetch's 300 KB over 6 s, longer than the 3 s
/// transaction timeout: a partition commits before each wait, so no transaction times out and
/// every record arrives once (with the transaction open through the waits, each attempt would
/// be aborted by the coordinator and the partition would never get through).
async fn a_tight_limit_never_outlasts_a_transaction(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let expected = produce_topic(&pair, "slow").await;
    let mirror = start_mirror(&pair.properties(
        "backup->primary.enabled = false\n\
         topics = slow\n\
         backup.exactly.once.source.support = enabled\n\
         backup.producer.transaction.timeout.ms = 3000\n\
         strait.throttle.bytes.per.second = 50000\n",
    ));
    wait_for_records(&pair.backup, "primary.slow", 300).await;
    let stats = wait_for_stats(&mirror, "primary->backup", "every record committed", |s| {
        s.records >= 300
    })
    .await;
    shutdown(mirror).await;
    assert_same_content(
        "primary.slow",
        &expected,
        &read_partition(&pair.backup, "primary.slow", 0).await,
    );
    assert_eq!(stats.transactions_failed, 0, "{stats:?}");
    assert!(stats.transactions_committed > 5, "{stats:?}");
}

/// 300 KB into `slow` (its rule: 40 KB/s) and 300 KB into `bulk` (only the flow's 200 KB/s):
/// both wait, both arrive whole. A write waiting for both buckets counts against the one it
/// waits longest for: the rule is set well below the flow's share, so `slow`'s writes always
/// wait longest for it (at equal rates either bucket could be the longer wait, by timing).
async fn throttled_topics_arrive_whole_and_report_their_waits(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let mut expected: BTreeMap<&str, Vec<Record>> = BTreeMap::new();
    for topic in ["slow", "bulk"] {
        expected.insert(topic, produce_topic(&pair, topic).await);
    }
    let mirror = start_mirror(&pair.properties(
        "backup->primary.enabled = false\n\
         topics = slow, bulk\n\
         strait.throttle.bytes.per.second = 200000\n\
         strait.throttle.rules = slowpoke\n\
         strait.throttle.rule.slowpoke.topics = slo.*\n\
         strait.throttle.rule.slowpoke.bytes.per.second = 40000\n",
    ));
    for topic in ["slow", "bulk"] {
        wait_for_records(&pair.backup, &format!("primary.{topic}"), 300).await;
    }
    let flow = mirror.flow("primary", "backup").expect("the flow");
    let waits: BTreeMap<String, f64> = flow.stats.throttle_waits().into_iter().collect();
    let text = render(mirror.flows(), PartitionLabels::Partition);
    shutdown(mirror).await;

    for (topic, records) in &expected {
        assert_same_records(
            &format!("primary.{topic}"),
            records,
            &read_partition(&pair.backup, &format!("primary.{topic}"), 0).await,
        );
    }
    // Each 300 KB is two bursts' worth or more: both buckets made writes wait.
    for rule in ["flow", "slowpoke"] {
        assert!(
            waits.get(rule).is_some_and(|s| *s > 0.0),
            "writes waited for {rule}: {waits:?}"
        );
        let served = metric_sample(
            &text,
            "strait_throttle_wait_seconds_total",
            &[("rule", rule)],
        );
        assert!(
            served.is_some_and(|s| s > 0.0),
            "/metrics shows the waits for {rule}: {served:?}"
        );
    }
}
