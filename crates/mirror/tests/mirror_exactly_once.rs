//! Exactly-once mode (`<target>.exactly.once.source.support = enabled`, MM2's
//! `MirrorConnectorsIntegrationExactlyOnceTest`): forwarded batches and their progress record in
//! one transaction per partition, source transactions mirrored as committed, offset syncs only
//! for committed data, and a zombie writer fenced by its partition's transactional id.

use std::collections::BTreeMap;
use std::time::Duration;

use strait_fixtures::*;
use strait_kafka::batch::{Compression, RawBatch, Record};
use strait_kafka::{Isolation, Producer};
use strait_mirror::internal::{read_offset_syncs, read_topic};
use strait_testkit::BrokerKind;

strait_testkit::per_broker!(
    ;
    // tansu has no transactions (broker gap: its InitProducerId refuses transactional ids).
    not_tansu: batches_and_progress_commit_together,
    a_zombie_writer_is_fenced;
    kafka_only: source_transactions_mirror_as_committed,
);

const EOS: &str = "backup->primary.enabled = false\n\
                   backup.exactly.once.source.support = enabled\n\
                   topics = eos\n";

/// Batches of every codec, before and while the mirror runs: on the target each arrives once, in
/// order, byte for byte (records sections untouched), in a committed transaction; the progress
/// record sits in the same transactions, the offset syncs map committed batches only.
async fn batches_and_progress_commit_together(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let topic = "eos";
    create_topic(&pair.primary, topic, 2).await;
    let producer = Producer::idempotent(&pair.primary).await.unwrap();
    let mut expected: BTreeMap<i32, Vec<Record>> = BTreeMap::new();
    let mut seed = 0;
    let mut produce_round = |codec| {
        seed += 1;
        let producer = &producer;
        let rounds: Vec<(i32, Vec<Record>)> = (0..2)
            .map(|p| (p, rich_records(seed * 10 + p as usize, 20)))
            .collect();
        async move {
            for (p, records) in &rounds {
                produce(producer, topic, *p, codec, records).await;
            }
            rounds
        }
    };
    for codec in [Compression::Lz4, Compression::Zstd, Compression::None] {
        for (p, records) in produce_round(codec).await {
            expected.entry(p).or_default().extend(records);
        }
    }

    let mirror = start_mirror(&pair.properties(EOS));
    wait_for_records(&pair.backup, "primary.eos", 120).await;
    for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4] {
        for (p, records) in produce_round(codec).await {
            expected.entry(p).or_default().extend(records);
        }
    }
    wait_for_records(&pair.backup, "primary.eos", 240).await;
    let stats = wait_for_stats(&mirror, "primary->backup", "every batch committed", |s| {
        s.records >= 240 && s.transactions_committed > 0
    })
    .await;
    shutdown(mirror).await;

    assert_partitions_same_content(
        "primary.eos on backup (read_committed)",
        &expected,
        &read_all(&pair.backup, "primary.eos").await,
    );
    assert_eq!(stats.transactions_failed, 0, "{stats:?}");
    for p in 0..2 {
        let source: Vec<RawBatch> =
            read_batches(&pair.primary, topic, p, Isolation::ReadUncommitted).await;
        let target = read_batches(&pair.backup, "primary.eos", p, Isolation::ReadUncommitted).await;
        let data: Vec<&RawBatch> = target.iter().filter(|b| !b.is_control()).collect();
        assert!(
            data.iter().all(|b| b.is_transactional()),
            "partition {p}: every forwarded batch is written in a transaction"
        );
        assert_eq!(
            data.len(),
            source.len(),
            "partition {p}: one batch per source batch"
        );
        for (s, t) in source.iter().zip(&data) {
            assert_eq!(
                (s.compression().unwrap(), s.records_section()),
                (t.compression().unwrap(), t.records_section()),
                "partition {p}: the batch at source offset {} is forwarded untouched",
                s.base_offset()
            );
        }
        let markers: Vec<bool> = target
            .iter()
            .filter(|b| b.is_control())
            .map(|b| strait_kafka::marker_is_abort(b).unwrap())
            .collect();
        assert!(
            !markers.is_empty() && markers.iter().all(|abort| !abort),
            "partition {p}: commit markers and no aborts: {markers:?}"
        );
    }

    // Progress: MM2's entries, in the same transactions (transactional batches on the offsets
    // topic), at the last mirrored offset of each partition.
    let offsets_topic = "mm2-offsets.primary.internal";
    let progress = read_topic(&pair.backup, offsets_topic).await.unwrap();
    for p in 0..2 {
        let key = format!(
            r#"["MirrorSourceConnector",{{"cluster":"primary","partition":{p},"topic":"eos"}}]"#
        );
        let last = progress
            .iter()
            .filter(|(_, r)| r.key.as_deref() == Some(key.as_bytes()))
            .last()
            .unwrap_or_else(|| panic!("no progress entry {key} in {progress:?}"));
        assert_eq!(
            last.1.value.as_deref(),
            Some(format!(r#"{{"offset":{}}}"#, expected[&p].len() - 1).as_bytes()),
            "partition {p}: progress at the last mirrored offset"
        );
        let stored_in = read_batches(
            &pair.backup,
            offsets_topic,
            last.0,
            Isolation::ReadUncommitted,
        )
        .await;
        assert!(
            stored_in
                .iter()
                .filter(|b| !b.is_control())
                .any(|b| b.is_transactional()),
            "partition {p}: progress written inside transactions"
        );
    }
    let syncs = read_offset_syncs(&pair.primary, "mm2-offset-syncs.backup.internal")
        .await
        .unwrap();
    for p in 0..2 {
        let last = syncs
            .iter()
            .filter(|s| s.topic == topic && s.partition == p)
            .map(|s| s.upstream_offset)
            .max();
        assert_eq!(
            last,
            Some(expected[&p].len() as i64 - 1),
            "partition {p}: offset syncs up to the last committed record"
        );
    }

    if kind == BrokerKind::Kafka {
        let seen = java_consume(&pair.backup_node.bootstrap(), "primary.eos");
        assert_eq!(
            seen.values().map(Vec::len).sum::<usize>(),
            240,
            "the Java read_committed consumer sees every record once"
        );
    }
}

/// Two mirrors of the same flow at once, each on its own (no group to share the work): in
/// idempotent mode both would write every record. Exactly-once, each partition's transactional
/// id fences the other writer, which resumes only after reading the progress the winner
/// committed: every record arrives once.
async fn a_zombie_writer_is_fenced(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let topic = "eos";
    create_topic(&pair.primary, topic, 2).await;
    let producer = Producer::idempotent(&pair.primary).await.unwrap();
    let properties = pair.properties(&format!("{EOS}strait.group.enabled = false\n"));
    let first = start_mirror(&properties);
    let second = start_mirror(&properties);
    let mut expected: BTreeMap<i32, Vec<Record>> = BTreeMap::new();
    for round in 0..40 {
        for p in 0..2 {
            let records = rich_records(round * 2 + p as usize, 10);
            produce(&producer, topic, p, Compression::Lz4, &records).await;
            expected.entry(p).or_default().extend(records);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for_records(&pair.backup, "primary.eos", 800).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stats = [
        flow_stats(&first, "primary->backup"),
        flow_stats(&second, "primary->backup"),
    ];
    shutdown(first).await;
    shutdown(second).await;
    assert_partitions_same_content(
        "primary.eos on backup (read_committed)",
        &expected,
        &read_all(&pair.backup, "primary.eos").await,
    );
    eprintln!("{kind}: two writers: {stats:?}");
    assert!(
        stats.iter().map(|s| s.transactions_failed).sum::<u64>() > 0,
        "the writers fenced each other: {stats:?}"
    );
}

/// The Java transactional producer writes committed and aborted transactions to the source: in
/// exactly-once mode the committed batches reach the target as they are (records untouched,
/// now in strait's transactions), the aborted ones never, and the Java read_committed consumer
/// of the target sees exactly the committed records, in order.
async fn source_transactions_mirror_as_committed(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let topic = "eos";
    create_topic(&pair.primary, topic, 2).await;
    let written = java_produce_transactions(&pair.primary_node.bootstrap(), topic, 2, 7, 4);
    assert_eq!(written, 44);
    let mirror = start_mirror(&pair.properties(EOS));
    wait_for_records(&pair.backup, "primary.eos", 28).await;
    let stats = wait_for_stats(
        &mirror,
        "primary->backup",
        "markers and aborts dropped",
        |s| s.dropped >= 8 && s.transactions_committed > 0,
    )
    .await;
    shutdown(mirror).await;
    assert_eq!(stats.transactions_failed, 0, "{stats:?}");

    for p in 0..2 {
        let committed: Vec<RawBatch> =
            read_batches(&pair.primary, topic, p, Isolation::ReadCommitted)
                .await
                .into_iter()
                .filter(|b| !b.is_control())
                .collect();
        let target: Vec<RawBatch> =
            read_batches(&pair.backup, "primary.eos", p, Isolation::ReadUncommitted)
                .await
                .into_iter()
                .filter(|b| !b.is_control())
                .collect();
        let sections = |batches: &[RawBatch]| -> Vec<_> {
            batches.iter().map(RawBatch::records_section).collect()
        };
        assert_eq!(
            sections(&target),
            sections(&committed),
            "partition {p}: the committed batches, untouched, and nothing else"
        );
        assert!(target.iter().all(RawBatch::is_transactional));
    }
    let seen = java_consume(&pair.backup_node.bootstrap(), "primary.eos");
    for p in 0..2 {
        let values: Vec<&str> = seen[&p].iter().map(|(_, v)| v.as_str()).collect();
        let want: Vec<String> = (0..14).map(|i| format!("c-{p}-{i}")).collect();
        assert_eq!(
            values, want,
            "partition {p}: the committed records, in order"
        );
    }
}
