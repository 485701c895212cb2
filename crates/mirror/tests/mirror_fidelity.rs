//! strait's own fidelity tests against real brokers: every record exactly once and in order with
//! everything a consumer sees; compressed batches forwarded untouched; transactions (only
//! committed data, no markers); upstream offset gaps and the offset syncs that map them;
//! compacted source topics.

use std::collections::BTreeMap;
use std::time::Duration;

use strait_fixtures::*;
use strait_kafka::batch::Record;
use strait_kafka::batch::{Compression, RawBatch, TimestampType};
use strait_kafka::{Isolation, OffsetSpec, Producer};
use strait_mirror::internal::{read_offset_syncs, read_topic};
use strait_testkit::BrokerKind;

strait_testkit::per_broker!(
    records_arrive_exactly_once_in_order,
    compressed_batches_pass_through,
    upstream_offset_gaps_and_offset_syncs,
    compacted_source_topic,
    oversized_batches_are_split_for_the_target,
    log_append_time_source_topic,
    forced_reencoding_keeps_every_record;
    // tansu is left out of this one for a broker gap: it serves aborted records to read_committed
    // fetches and lists no aborted transactions, so no client (a mirror included) can tell them
    // from committed ones.
    not_tansu: only_committed_transactions_are_mirrored;
    // Only Apache Kafka runs a log cleaner here (one that keeps batches, with holes in them).
    kafka_only: log_cleaner_holes_inside_batches,
    java_transactions_arrive_committed_only,
);

const ONE_WAY: &str = "backup->primary.enabled = false";

/// Reads every batch of `topic` on both sides, by partition.
async fn batches_by_partition(
    cluster: &strait_kafka::Cluster,
    topic: &str,
    partitions: i32,
) -> BTreeMap<i32, Vec<RawBatch>> {
    let mut out = BTreeMap::new();
    for p in 0..partitions {
        out.insert(
            p,
            read_batches(cluster, topic, p, Isolation::ReadCommitted).await,
        );
    }
    out
}

/// Records with null/empty keys and values, duplicate header keys, null header values and
/// distinct timestamps, in batches of 1 to 50 records, part produced before the mirror starts
/// and part while it runs: the target gets each exactly once, in order, identical.
async fn records_arrive_exactly_once_in_order(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let topic = "fidelity";
    let partitions = 4;
    create_topic(&pair.primary, topic, partitions).await;
    let producer = Producer::idempotent(&pair.primary).await.unwrap();
    let mut expected: BTreeMap<i32, Vec<_>> = BTreeMap::new();
    let mut seed = 0;
    for p in 0..partitions {
        for size in [1, 7, 30, 2] {
            seed += 1;
            let records = rich_records(seed, size);
            produce(&producer, topic, p, Compression::None, &records).await;
            expected.entry(p).or_default().extend(records);
        }
    }

    let mirror = start_mirror(&pair.properties(ONE_WAY));
    wait_for_records(
        &pair.backup,
        "primary.fidelity",
        expected.values().map(Vec::len).sum(),
    )
    .await;
    for p in 0..partitions {
        for size in [5, 50, 1] {
            seed += 1;
            let records = rich_records(seed, size);
            produce(&producer, topic, p, Compression::None, &records).await;
            expected.entry(p).or_default().extend(records);
        }
    }
    let total: usize = expected.values().map(Vec::len).sum();
    assert_eq!(
        wait_for_records(&pair.backup, "primary.fidelity", total).await,
        total
    );
    // (`records` also counts replicated heartbeats.)
    let stats = wait_for_stats(
        &mirror,
        "primary->backup",
        "every record acknowledged",
        |s| s.records >= total as u64,
    )
    .await;
    shutdown(mirror).await;

    assert_partitions_equal(
        "primary.fidelity on backup",
        &expected,
        &read_all(&pair.backup, "primary.fidelity").await,
    );
    for (p, batches) in batches_by_partition(&pair.backup, "primary.fidelity", partitions).await {
        for b in batches {
            assert_eq!(
                b.timestamp_type(),
                TimestampType::CreateTime,
                "partition {p}: source timestamps kept"
            );
            assert!(!b.is_control() && !b.is_transactional());
        }
    }
    assert_eq!(
        stats.reencoded, 0,
        "whole batches from offset 0 are forwarded untouched: {stats:?}"
    );
}

/// Batches in every codec arrive with the same compression, the same batch boundaries and
/// byte-identical (still compressed) records sections, none re-encoded.
async fn compressed_batches_pass_through(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let codecs = [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
    let partitions = 2;
    let mut expected = BTreeMap::new();
    let producer = Producer::idempotent(&pair.primary).await.unwrap();
    let mut seed = 100;
    for codec in codecs {
        let topic = format!("codec-{}", codec.name());
        create_topic(&pair.primary, &topic, partitions).await;
        for p in 0..partitions {
            for size in [10, 25, 40] {
                seed += 1;
                let records = rich_records(seed, size);
                produce(&producer, &topic, p, codec, &records).await;
                expected
                    .entry((topic.clone(), p))
                    .or_insert_with(Vec::new)
                    .extend(records);
            }
        }
    }

    let mirror = start_mirror(&pair.properties(&format!("{ONE_WAY}\ntopics = codec-.*")));
    for codec in codecs {
        let remote = format!("primary.codec-{}", codec.name());
        let want: usize = expected
            .iter()
            .filter(|((t, _), _)| remote.ends_with(t.as_str()))
            .map(|(_, r)| r.len())
            .sum();
        wait_for_records(&pair.backup, &remote, want).await;
    }
    let batches = (codecs.len() * partitions as usize * 3) as u64;
    let stats = wait_for_stats(
        &mirror,
        "primary->backup",
        "every batch acknowledged",
        |s| s.passed_through >= batches,
    )
    .await;
    shutdown(mirror).await;

    let mut forwarded = 0;
    for codec in codecs {
        let topic = format!("codec-{}", codec.name());
        let remote = format!("primary.{topic}");
        let source = batches_by_partition(&pair.primary, &topic, partitions).await;
        let target = batches_by_partition(&pair.backup, &remote, partitions).await;
        for p in 0..partitions {
            let (s, t) = (&source[&p], &target[&p]);
            assert_eq!(s.len(), t.len(), "{remote}-{p}: same batch boundaries");
            for (i, (sb, tb)) in s.iter().zip(t).enumerate() {
                assert_eq!(
                    tb.compression().unwrap(),
                    codec,
                    "{remote}-{p} batch {i}: compression attribute kept"
                );
                assert_eq!(
                    tb.record_count(),
                    sb.record_count(),
                    "{remote}-{p} batch {i}"
                );
                assert_eq!(
                    tb.records_section(),
                    sb.records_section(),
                    "{remote}-{p} batch {i}: records forwarded byte for byte"
                );
                assert_eq!(
                    tb.max_timestamp(),
                    sb.max_timestamp(),
                    "{remote}-{p} batch {i}"
                );
                forwarded += 1;
            }
            assert_same_records(
                &format!("{remote}-{p}"),
                &expected[&(topic.clone(), p)],
                &records_of(t),
            );
        }
    }
    assert_eq!(stats.reencoded, 0, "pass-through: {stats:?}");
    assert!(
        stats.passed_through >= forwarded,
        "{forwarded} batches forwarded: {stats:?}"
    );
}

/// Committed transactions leave a marker after each transaction, so upstream offsets have gaps;
/// the target gets the data records with contiguous offsets, no markers, and the offset syncs
/// map each source batch's base offset to the target offset of the same record.
async fn upstream_offset_gaps_and_offset_syncs(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let topic = "gaps";
    let partitions = 2;
    create_topic(&pair.primary, topic, partitions).await;
    let txn = Producer::transactional(&pair.primary, "strait-mirror-gaps", Duration::from_secs(60))
        .await
        .expect("transactional producer");
    let plain = Producer::idempotent(&pair.primary).await.unwrap();
    let mut expected: BTreeMap<i32, Vec<_>> = BTreeMap::new();
    for round in 0..4 {
        txn.add_to_transaction(&[(topic, 0), (topic, 1)])
            .await
            .unwrap();
        for p in 0..partitions {
            let records = rich_records(round * 10 + p as usize, 3 + round);
            produce(&txn, topic, p, Compression::Lz4, &records).await;
            expected.entry(p).or_default().extend(records);
        }
        txn.end_transaction(true).await.unwrap();
        if round == 1 {
            // A non-transactional batch between transactions.
            for p in 0..partitions {
                let records = rich_records(500 + p as usize, 4);
                produce(&plain, topic, p, Compression::None, &records).await;
                expected.entry(p).or_default().extend(records);
            }
        }
    }
    let source = batches_by_partition(&pair.primary, topic, partitions).await;
    for (p, batches) in &source {
        assert!(
            batches.iter().filter(|b| b.is_control()).count() >= 4,
            "partition {p}: commit markers make gaps"
        );
    }

    let mirror = start_mirror(&pair.properties(&format!("{ONE_WAY}\ntopics = gaps")));
    let total: usize = expected.values().map(Vec::len).sum();
    assert_eq!(
        wait_for_records(&pair.backup, "primary.gaps", total).await,
        total
    );
    let stats = wait_for_stats(&mirror, "primary->backup", "every marker dropped", |s| {
        s.dropped >= 2 * 4
    })
    .await;
    shutdown(mirror).await;

    assert_partitions_equal(
        "primary.gaps on backup",
        &expected,
        &read_all(&pair.backup, "primary.gaps").await,
    );
    let target = batches_by_partition(&pair.backup, "primary.gaps", partitions).await;
    for (p, batches) in &target {
        assert!(
            batches.iter().all(|b| !b.is_control()),
            "partition {p}: no control batches on the target"
        );
        assert!(
            batches.iter().all(|b| !b.is_transactional()),
            "partition {p}: forwarded outside a transaction"
        );
    }
    assert!(
        stats.dropped >= 2 * 4,
        "each partition's 4 markers are dropped: {stats:?}"
    );
    assert_eq!(stats.reencoded, 0, "{stats:?}");

    // Progress covers the data (and may cover the trailing marker), so a restart copies nothing.
    let progress = read_topic(&pair.backup, "mm2-offsets.primary.internal")
        .await
        .expect("read progress");
    for p in 0..partitions {
        let key = format!(
            r#"["MirrorSourceConnector",{{"cluster":"primary","partition":{p},"topic":"gaps"}}]"#
        );
        let last = progress
            .iter()
            .rfind(|(_, r)| r.key.as_deref() == Some(key.as_bytes()))
            .unwrap_or_else(|| panic!("no progress for {key}"));
        let value: serde_json::Value =
            serde_json::from_slice(last.1.value.as_deref().unwrap()).unwrap();
        let stored = value["offset"].as_i64().unwrap();
        let last_data = source[&p]
            .iter()
            .filter(|b| !b.is_control())
            .map(|b| b.last_offset())
            .max()
            .unwrap();
        let log_last = source[&p].last().unwrap().last_offset();
        assert!(
            (last_data..=log_last).contains(&stored),
            "{key}: stored {stored}, data ends at {last_data}, log at {log_last}"
        );
    }

    let syncs = read_offset_syncs(&pair.primary, "mm2-offset-syncs.backup.internal")
        .await
        .expect("read offset syncs");
    let syncs: Vec<_> = syncs.into_iter().filter(|s| s.topic == topic).collect();
    for p in 0..partitions {
        let source_records: BTreeMap<i64, _> = records_of(&source[&p])
            .into_iter()
            .map(|r| (r.offset, r))
            .collect();
        let target_records: BTreeMap<i64, _> = records_of(&target[&p])
            .into_iter()
            .map(|r| (r.offset, r))
            .collect();
        let ours: Vec<_> = syncs.iter().filter(|s| s.partition == p).collect();
        assert!(
            !ours.is_empty(),
            "partition {p}: offset syncs written: {syncs:?}"
        );
        for s in &ours {
            let up = source_records
                .get(&s.upstream_offset)
                .unwrap_or_else(|| panic!("{s}: no source record there"));
            let down = target_records
                .get(&s.downstream_offset)
                .unwrap_or_else(|| panic!("{s}: no target record there"));
            assert_eq!(content(up), content(down), "{s}: maps a record to its copy");
        }
        for w in ours.windows(2) {
            assert!(
                w[0].upstream_offset <= w[1].upstream_offset
                    && w[0].downstream_offset <= w[1].downstream_offset,
                "partition {p}: syncs in order: {} then {}",
                w[0],
                w[1]
            );
        }
        // MM2 syncs after every upstream gap (and the first record): here every data batch
        // starts after a marker or at 0, so each one's base offset has a sync, to the base
        // offset of its (untouched) copy.
        let data: Vec<_> = source[&p].iter().filter(|b| !b.is_control()).collect();
        assert_eq!(
            data.len(),
            target[&p].len(),
            "partition {p}: batch for batch"
        );
        for (sb, tb) in data.iter().zip(&target[&p]) {
            assert!(
                ours.iter().any(|s| s.upstream_offset == sb.base_offset()
                    && s.downstream_offset == tb.base_offset()),
                "partition {p}: no sync {} -> {} in {ours:?}",
                sb.base_offset(),
                tb.base_offset()
            );
        }
    }
}

/// A `cleanup.policy=compact` source topic: every record arrives; the remote topic is created
/// compacted too.
async fn compacted_source_topic(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let topic = "compacted";
    create_topic_with(&pair.primary, topic, 2, &[("cleanup.policy", "compact")]).await;
    let mut expected = produce_fixture(&pair.primary, topic, 0..2, 10, "first").await;
    for (p, records) in produce_fixture(&pair.primary, topic, 0..2, 5, "second").await {
        expected.get_mut(&p).unwrap().extend(records);
    }

    let mirror = start_mirror(&pair.properties(&format!("{ONE_WAY}\ntopics = compacted")));
    assert_eq!(
        wait_for_records(&pair.backup, "primary.compacted", 30).await,
        30
    );
    shutdown(mirror).await;
    assert_partitions_equal(
        "primary.compacted on backup",
        &expected,
        &read_all(&pair.backup, "primary.compacted").await,
    );

    let policy = topic_config(&pair.backup, "primary.compacted", "cleanup.policy").await;
    match kind {
        BrokerKind::Noida | BrokerKind::Kafka => {
            let policy = policy.expect("cleanup.policy described");
            assert_eq!(policy.value.as_deref(), Some("compact"), "{policy:?}");
        }
        BrokerKind::Tansu => {
            // Broker gap: tansu describes a topic's explicitly set configs with source DEFAULT,
            // so MM2's creation rule (copy only non-default source configs), which strait
            // follows, copies nothing, and tansu lists no configs for the remote topic.
            let source = topic_config(&pair.primary, topic, "cleanup.policy")
                .await
                .expect("set on the source");
            assert!(source.is_default, "{source:?}");
            assert_eq!(policy, None);
        }
    }
}

/// A transactional source topic with one aborted and one committed transaction: only the
/// committed records are mirrored, with no control batches on the target.
async fn only_committed_transactions_are_mirrored(kind: BrokerKind) {
    assert_ne!(kind, BrokerKind::Tansu);
    let pair = Pair::start(kind).await;
    let topic = "txn";
    create_topic(&pair.primary, topic, 1).await;
    let txn = Producer::transactional(&pair.primary, "strait-mirror-txn", Duration::from_secs(60))
        .await
        .expect("transactional producer");
    txn.add_to_transaction(&[(topic, 0)]).await.unwrap();
    produce(
        &txn,
        topic,
        0,
        Compression::Lz4,
        &fixture_records("aborted", 0, 5),
    )
    .await;
    txn.end_transaction(false).await.unwrap();
    txn.add_to_transaction(&[(topic, 0)]).await.unwrap();
    let committed = fixture_records("committed", 0, 3);
    produce(&txn, topic, 0, Compression::Zstd, &committed).await;
    txn.end_transaction(true).await.unwrap();
    // Offsets: aborted data 0..4, abort marker 5, committed data 6..8, commit marker 9; then
    // plain data from 10. Kafka writes the markers after EndTxn has returned: wait for them.
    let primary = &pair.primary;
    eventually("the commit marker written", || async move {
        let lso = primary
            .list_offsets(topic, &[0], OffsetSpec::Latest, Isolation::ReadCommitted)
            .await
            .map_err(|e| e.to_string())?[0]
            .1
            .offset;
        (lso == 10)
            .then_some(())
            .ok_or(format!("last stable offset {lso}"))
    })
    .await;
    let after = fixture_records("after", 0, 2);
    let plain = Producer::idempotent(&pair.primary).await.unwrap();
    let ack = produce(&plain, topic, 0, Compression::None, &after).await;
    assert_eq!(ack.base_offset, 10);

    let mirror = start_mirror(&pair.properties(&format!("{ONE_WAY}\ntopics = txn")));
    wait_for_records(&pair.backup, "primary.txn", committed.len() + after.len()).await;
    let stats = wait_for_stats(&mirror, "primary->backup", "both markers dropped", |s| {
        s.dropped >= 2
    })
    .await;
    shutdown(mirror).await;

    let expected: Vec<_> = committed.iter().chain(&after).cloned().collect();
    let target = read_batches(&pair.backup, "primary.txn", 0, Isolation::ReadUncommitted).await;
    assert_same_records(
        "primary.txn on backup (read_uncommitted)",
        &expected,
        &records_of(&target),
    );
    assert!(
        target.iter().all(|b| !b.is_control()),
        "no control batches on the target"
    );
    assert!(target.iter().all(|b| !b.is_transactional()));
    // Broker gap: noida leaves the aborted batch out of read_committed responses itself (Kafka
    // returns it and lists the transaction), so only the two markers reach the forwarder.
    assert!(stats.dropped >= 2, "both markers dropped: {stats:?}");
    let syncs = read_offset_syncs(&pair.primary, "mm2-offset-syncs.backup.internal")
        .await
        .unwrap();
    assert!(
        syncs
            .iter()
            .any(|s| s.topic == topic && s.upstream_offset == 6 && s.downstream_offset == 0),
        "the first committed record (offset 6) maps to target offset 0: {syncs:?}"
    );
    assert!(
        syncs
            .iter()
            .any(|s| s.topic == topic && s.upstream_offset == 10 && s.downstream_offset == 3),
        "the record after the commit marker (offset 10) maps to target offset 3: {syncs:?}"
    );
}

/// A batch larger than the remote topic's `max.message.bytes` is split into batches that fit,
/// records unchanged; smaller batches still pass through.
async fn oversized_batches_are_split_for_the_target(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let topic = "big";
    create_topic_with(&pair.primary, topic, 1, &[("max.message.bytes", "4000000")]).await;
    // The remote topic exists already, with a smaller limit than the source batch.
    let limit = 100_000;
    create_topic_with(
        &pair.backup,
        "primary.big",
        1,
        &[("max.message.bytes", "100000")],
    )
    .await;
    let producer = Producer::idempotent(&pair.primary).await.unwrap();
    let big: Vec<Record> = fixture_records("big", 0, 40)
        .into_iter()
        .map(|r| Record {
            value: Some(bytes::Bytes::from(vec![b'x'; 10_000])),
            ..r
        })
        .collect();
    let small = fixture_records("small", 0, 5);
    produce(&producer, topic, 0, Compression::None, &big).await;
    produce(&producer, topic, 0, Compression::None, &small).await;
    let source = read_batches(&pair.primary, topic, 0, Isolation::ReadCommitted).await;
    assert!(
        source[0].len() > 4 * limit,
        "the first source batch is {} bytes",
        source[0].len()
    );

    // Config sync would (rightly) copy the source's max.message.bytes to the remote topic;
    // this test needs the target's smaller limit, so it is off here.
    let mirror = start_mirror(&pair.properties(&format!(
        "{ONE_WAY}\ntopics = big\nsync.topic.configs.enabled = false"
    )));
    wait_for_records(&pair.backup, "primary.big", 45).await;
    let stats = wait_for_stats(
        &mirror,
        "primary->backup",
        "the split batch and the small one acknowledged",
        |s| s.reencoded >= 2 && s.passed_through >= 1,
    )
    .await;
    shutdown(mirror).await;

    let expected: Vec<Record> = big.iter().chain(&small).cloned().collect();
    let target = read_batches(&pair.backup, "primary.big", 0, Isolation::ReadCommitted).await;
    assert_same_records("primary.big on backup", &expected, &records_of(&target));
    assert!(
        target.len() >= 6,
        "400 kB in batches of at most 100 kB: {} batches",
        target.len()
    );
    for b in &target {
        assert!(
            b.len() <= limit,
            "batch at {} is {} bytes, over the target's max.message.bytes",
            b.base_offset(),
            b.len()
        );
    }
    assert_eq!(
        target.last().unwrap().records_section(),
        source[1].records_section(),
        "the small batch is forwarded untouched"
    );
    assert!(stats.passed_through >= 1, "{stats:?}");
}

/// A `message.timestamp.type=LogAppendTime` source topic: consumers see each record with the
/// broker's append time (the batch's max timestamp); the mirror keeps what consumers saw (MM2
/// copies the consumer record's timestamp), in a CreateTime remote topic (MM2 excludes
/// `message.timestamp.type` from config sync by default).
async fn log_append_time_source_topic(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let topic = "appendtime";
    create_topic_with(
        &pair.primary,
        topic,
        1,
        &[("message.timestamp.type", "LogAppendTime")],
    )
    .await;
    let producer = Producer::idempotent(&pair.primary).await.unwrap();
    for seed in 0..3 {
        produce(
            &producer,
            topic,
            0,
            Compression::Lz4,
            &rich_records(700 + seed, 10),
        )
        .await;
    }
    let source = read_batches(&pair.primary, topic, 0, Isolation::ReadCommitted).await;
    let log_append = source
        .iter()
        .all(|b| b.timestamp_type() == TimestampType::LogAppendTime);
    match kind {
        BrokerKind::Noida | BrokerKind::Kafka => {
            assert!(log_append, "{kind} honours LogAppendTime")
        }
        // Broker gap: tansu ignores message.timestamp.type and keeps the producer's CreateTime
        // batches, so here this only checks that timestamps are kept.
        BrokerKind::Tansu => assert!(source
            .iter()
            .all(|b| b.timestamp_type() == TimestampType::CreateTime)),
    }
    // What a consumer sees.
    let expected: Vec<Record> = source
        .iter()
        .flat_map(|b| {
            let decoded = b.decode().unwrap();
            let seen = (decoded.timestamp_type == TimestampType::LogAppendTime)
                .then_some(decoded.max_timestamp);
            decoded.records.into_iter().map(move |r| Record {
                timestamp: seen.unwrap_or(r.timestamp),
                ..r
            })
        })
        .collect();

    let mirror = start_mirror(&pair.properties(&format!("{ONE_WAY}\ntopics = appendtime")));
    wait_for_records(&pair.backup, "primary.appendtime", 30).await;
    // Heartbeats are mirrored whatever the topic filter says (as MM2 does) and pass through,
    // so the three LogAppendTime batches are awaited as re-encoded ones.
    let stats = wait_for_stats(
        &mirror,
        "primary->backup",
        "all three batches acknowledged",
        |s| match log_append {
            true => s.reencoded >= 3,
            false => s.reencoded + s.passed_through >= 3,
        },
    )
    .await;
    shutdown(mirror).await;

    let target = read_batches(
        &pair.backup,
        "primary.appendtime",
        0,
        Isolation::ReadCommitted,
    )
    .await;
    assert!(target
        .iter()
        .all(|b| b.timestamp_type() == TimestampType::CreateTime));
    assert_same_records(
        "primary.appendtime on backup",
        &expected,
        &records_of(&target),
    );
    if log_append {
        assert!(
            stats.reencoded >= 3,
            "LogAppendTime batches are re-encoded: {stats:?}"
        );
        if let Some(entry) =
            topic_config(&pair.backup, "primary.appendtime", "message.timestamp.type").await
        {
            assert_eq!(
                entry.value.as_deref(),
                Some("CreateTime"),
                "excluded from the creation configs: {entry:?}"
            );
        }
    }
}

/// The slow path (`EngineOptions::force_reencode`, strait's benchmark switch) decodes and
/// re-encodes every batch: records, batch boundaries and codecs are still kept.
async fn forced_reencoding_keeps_every_record(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let topic = "slow";
    create_topic(&pair.primary, topic, 5).await;
    let producer = Producer::idempotent(&pair.primary).await.unwrap();
    let mut expected: BTreeMap<i32, Vec<Record>> = BTreeMap::new();
    for (p, codec) in Compression::ALL.into_iter().enumerate() {
        for size in [1, 20] {
            let records = rich_records(900 + p * 10 + size, size);
            produce(&producer, topic, p as i32, codec, &records).await;
            expected.entry(p as i32).or_default().extend(records);
        }
    }

    let options = strait_mirror::engine::EngineOptions {
        force_reencode: true,
        ..Default::default()
    };
    let mirror = start_mirror_with(
        &pair.properties(&format!("{ONE_WAY}\ntopics = slow")),
        options,
    );
    wait_for_records(&pair.backup, "primary.slow", 5 * 21).await;
    let stats = wait_for_stats(
        &mirror,
        "primary->backup",
        "all batches acknowledged",
        |s| s.reencoded >= 10,
    )
    .await;
    shutdown(mirror).await;

    assert_eq!(stats.passed_through, 0, "{stats:?}");
    assert_partitions_equal(
        "primary.slow on backup",
        &expected,
        &read_all(&pair.backup, "primary.slow").await,
    );
    for (p, codec) in Compression::ALL.into_iter().enumerate() {
        let target = read_batches(
            &pair.backup,
            "primary.slow",
            p as i32,
            Isolation::ReadCommitted,
        )
        .await;
        let counts: Vec<i32> = target.iter().map(RawBatch::record_count).collect();
        assert_eq!(counts, [1, 20], "partition {p}: batch boundaries kept");
        for b in &target {
            assert_eq!(
                b.compression().unwrap(),
                codec,
                "partition {p}: codec kept when re-encoding"
            );
        }
    }
}

/// A compacted source topic that Kafka's log cleaner has actually cleaned: superseded records
/// are gone from the middle of batches (the cleaner keeps each batch's offsets, leaving holes
/// that a producer may not send). Every survivor arrives once, in order, with contiguous
/// offsets on the target, and a group committed at a batch boundary translates exactly.
async fn log_cleaner_holes_inside_batches(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let topic = "cleaned";
    create_topic_with(
        &pair.primary,
        topic,
        1,
        &[
            ("cleanup.policy", "compact"),
            ("segment.ms", "100"),
            ("min.cleanable.dirty.ratio", "0.01"),
            ("min.compaction.lag.ms", "0"),
            ("delete.retention.ms", "0"),
        ],
    )
    .await;
    // 10 batches of 10 at offsets 0, 10, ..., 90: even records have their own key, odd ones
    // share keys with every other batch, so only batch 9's odd records survive. Each batch in
    // a segment of its own (segment.ms), then a tail batch so the last one is cleanable too.
    let producer = Producer::idempotent(&pair.primary).await.unwrap();
    let base = now_ms() - 60_000;
    for b in 0..10i64 {
        let records: Vec<Record> = (0..10i64)
            .map(|n| Record {
                offset: n,
                timestamp: base + b * 10 + n,
                key: Some(match n % 2 {
                    0 => format!("own-{b}-{n}").into(),
                    _ => format!("shared-{n}").into(),
                }),
                value: Some(format!("value-{b}-{n}").into()),
                headers: Vec::new(),
            })
            .collect();
        produce(&producer, topic, 0, Compression::Lz4, &records).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let tail = fixture_records("tail", 0, 5);
    let ack = produce(&producer, topic, 0, Compression::Zstd, &tail).await;
    assert_eq!(ack.base_offset, 100);
    let primary = &pair.primary;
    let source = eventually(
        "the log cleaner to remove the superseded records",
        || async move {
            let records = read_partition(primary, topic, 0).await;
            (records.len() == 10 * 5 + 5 + 5)
                .then_some(records.clone())
                .ok_or(format!("{} records left of 105", records.len()))
        },
    )
    .await;
    let holed = read_batches(primary, topic, 0, Isolation::ReadCommitted)
        .await
        .iter()
        .filter(|b| !b.offsets_contiguous())
        .count();
    assert_eq!(
        holed, 9,
        "batches 0..8 keep their offsets with holes in them"
    );

    let group = "consumer-group-cleaned";
    primary
        .commit_offsets(group, &[(topic, 0, 40, None)])
        .await
        .expect("commit at the start of batch 4");
    let mirror = start_mirror(&pair.properties(&format!(
        "{ONE_WAY}\ntopics = cleaned\ngroups = consumer-group-.*\n\
         sync.group.offsets.enabled = true\nsync.group.offsets.interval.seconds = 1"
    )));
    wait_for_records(&pair.backup, "primary.cleaned", source.len()).await;
    let backup = &pair.backup;
    // Offset 40 is batch 4's first record; 4 batches of 5 survivors come before it.
    eventually("the group translated across the holes", || async move {
        let offsets = backup
            .fetch_offsets(group, None)
            .await
            .map_err(|e| e.to_string())?;
        let at: Vec<i64> = offsets.values().map(|o| o.offset).collect();
        (at == [20]).then_some(()).ok_or(format!("{offsets:?}"))
    })
    .await;
    let stats = flow_stats(&mirror, "primary->backup");
    shutdown(mirror).await;
    let target = read_partition(&pair.backup, "primary.cleaned", 0).await;
    assert_same_records("primary.cleaned on backup", &source, &target);
    assert!(
        stats.reencoded >= 9,
        "batches with holes are renumbered: {stats:?}"
    );
}

/// Real clients at both ends: the Java transactional producer writes committed and aborted
/// transactions to the source, strait mirrors them, and the Java consumer (read_committed) on
/// the target sees exactly the committed records, in order, with their keys.
async fn java_transactions_arrive_committed_only(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let topic = "java-txn";
    create_topic(&pair.primary, topic, 2).await;
    let written = java_produce_transactions(&pair.primary_node.bootstrap(), topic, 2, 7, 4);
    assert_eq!(written, 44);
    let mirror = start_mirror(&pair.properties(&format!("{ONE_WAY}\ntopics = java-txn")));
    wait_for_records(&pair.backup, "primary.java-txn", 28).await;
    let stats = wait_for_stats(&mirror, "primary->backup", "markers dropped", |s| {
        s.dropped >= 8
    })
    .await;
    shutdown(mirror).await;

    let seen = java_consume(&pair.backup_node.bootstrap(), "primary.java-txn");
    for p in 0..2 {
        let values: Vec<&str> = seen[&p].iter().map(|(_, v)| v.as_str()).collect();
        let want: Vec<String> = (0..14).map(|i| format!("c-{p}-{i}")).collect();
        assert_eq!(
            values, want,
            "partition {p}: the committed records, in order"
        );
        assert_eq!(seen[&p][0].0, format!("k-{p}-0"));
    }
    assert!(stats.dropped >= 8, "{stats:?}");
}
