//! Restarts: a clean stop in the middle of a stream and a start with the same config lose and
//! duplicate nothing; progress written by Java MM2 (Connect offsets, exact bytes) is resumed;
//! the progress and offset-sync records strait writes are byte-compatible with Java MM2's.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use strait_fixtures::*;
use strait_kafka::batch::{Compression, Record};
use strait_kafka::{Cluster, NewTopic, Producer};
use strait_mirror::formats::{partition_for_key, OffsetSync, EXACT_SINCE_HEADER};
use strait_mirror::internal::{exact_since, read_topic};
use strait_testkit::{BrokerKind, ProxyOptions, SecureProxy};

strait_testkit::per_broker!(
    clean_restart_mid_stream,
    crash_restart_loses_nothing,
    crash_without_stored_progress_repeats_nothing,
    crash_without_stored_progress_repeats_nothing_in_small_fetches,
    crash_with_the_target_unreadable_at_restart_repeats_nothing,
    resume_from_java_progress,
    progress_and_offset_syncs_are_byte_compatible,
);

const TOPIC: &str = "test-topic-1";
const OFFSETS_TOPIC: &str = "mm2-offsets.primary.internal";
const ONE_WAY: &str = "topics = test-topic-.*\nbackup->primary.enabled = false";

/// Java Connect's key for the source position of `test-topic-1` partition `p` (HashMap order
/// cluster, partition, topic; compact JSON).
fn java_key(topic: &str, p: i32) -> String {
    format!(
        r#"["MirrorSourceConnector",{{"cluster":"primary","partition":{p},"topic":"{topic}"}}]"#
    )
}

/// Produces `rounds` rounds of one 5-record batch per partition, pausing `pause` between rounds.
async fn produce_rounds(
    cluster: Cluster,
    partitions: i32,
    rounds: std::ops::Range<usize>,
    pause: Duration,
) -> BTreeMap<i32, Vec<Record>> {
    let producer = Producer::idempotent(&cluster).await.unwrap();
    let mut out: BTreeMap<i32, Vec<Record>> = BTreeMap::new();
    for round in rounds {
        for p in 0..partitions {
            let records = fixture_records(&format!("round-{round}"), p, 5);
            produce(&producer, TOPIC, p, Compression::None, &records).await;
            out.entry(p).or_default().extend(records);
        }
        tokio::time::sleep(pause).await;
    }
    out
}

/// Shutdown while records are still being produced, more records while stopped, a start with
/// the same config: the remote topic ends with every source record exactly once, in order.
async fn clean_restart_mid_stream(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let partitions = 10;
    create_topic(&pair.primary, TOPIC, partitions).await;
    let properties = pair.properties(ONE_WAY);

    let producing = tokio::spawn(produce_rounds(
        pair.primary.clone(),
        partitions,
        0..80,
        Duration::from_millis(50),
    ));
    let mirror = start_mirror(&properties);
    wait_for_records(&pair.backup, "primary.test-topic-1", 200).await;
    let first = flow_stats(&mirror, "primary->backup");
    shutdown(mirror).await;
    let still_producing = !producing.is_finished();
    let mut expected = producing.await.unwrap();
    let stopped_at = count_records(&pair.backup, "primary.test-topic-1").await;
    eprintln!("stopped after {} records (producer still running: {still_producing}), {stopped_at} on the target", first.records);

    // While stopped.
    for (p, records) in
        produce_rounds(pair.primary.clone(), partitions, 80..90, Duration::ZERO).await
    {
        expected.get_mut(&p).unwrap().extend(records);
    }
    assert_eq!(
        count_records(&pair.backup, "primary.test-topic-1").await,
        stopped_at,
        "nothing is replicated while stopped"
    );

    let mirror = start_mirror(&properties);
    let total: usize = expected.values().map(Vec::len).sum();
    wait_for_records(&pair.backup, "primary.test-topic-1", total).await;
    shutdown(mirror).await;
    assert_partitions_equal(
        "primary.test-topic-1 on backup",
        &expected,
        &read_all(&pair.backup, "primary.test-topic-1").await,
    );
}

/// A mirror crashes and no progress of it is left (here removed with tombstones, as Connect's
/// offset reset writes them; the same as a crash before the first flush): the new run finds
/// the source's head already on the target, from the remote partitions' first offsets, and
/// writes none of it again: every record exactly once, in order.
async fn crash_without_stored_progress_repeats_nothing(kind: BrokerKind) {
    crash_without_stored_progress(kind, ONE_WAY, 4, 0).await;
}

/// The same with Fetch requests too small for more than one batch: the broker fills a request
/// in order, so the partitions after the first get no batch though the source holds records
/// for them (as when the flow's buffer is short). Their walks must ask again, not take the
/// empty answer for the source's end and write everything after it again.
async fn crash_without_stored_progress_repeats_nothing_in_small_fetches(kind: BrokerKind) {
    let small = format!(
        "{ONE_WAY}\nprimary->backup.source.consumer.fetch.max.bytes = 64\n\
         primary->backup.source.consumer.max.partition.fetch.bytes = 64"
    );
    crash_without_stored_progress(kind, &small, 4, 0).await;
}

/// Fetch answers from the target refused (as while its leader moves) for longer than a read's
/// retries: the restarted partition must wait and look again, not write everything a second
/// time the moment the target takes writes.
async fn crash_with_the_target_unreadable_at_restart_repeats_nothing(kind: BrokerKind) {
    // Both reads of a walk fail (each tries 10 times), then 5 more: one partition, so the
    // refusals all fall on its walk.
    crash_without_stored_progress(kind, ONE_WAY, 1, 25).await;
}

/// Mirrors 20 rounds, kills the mirror and deletes its stored progress, produces 5 more and
/// starts it again: the target must end with every record once. With `refused_target_fetches`,
/// the restarted mirror reaches the target through a proxy that fails that many Fetch answers
/// for the remote topic first.
async fn crash_without_stored_progress(
    kind: BrokerKind,
    extra: &str,
    partitions: i32,
    refused_target_fetches: u64,
) {
    let pair = Pair::start(kind).await;
    create_topic(&pair.primary, TOPIC, partitions).await;
    let properties = pair.properties(extra);
    let mut expected =
        produce_rounds(pair.primary.clone(), partitions, 0..20, Duration::ZERO).await;
    let first: usize = expected.values().map(Vec::len).sum();

    let mirror = start_mirror(&properties);
    wait_for_records(&pair.backup, "primary.test-topic-1", first).await;
    drop(mirror);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let offsets_partitions = partition_count(&pair.backup, OFFSETS_TOPIC)
        .await
        .expect("the offsets topic exists") as i32;
    let producer = Producer::idempotent(&pair.backup).await.unwrap();
    for p in 0..partitions {
        let key = java_key(TOPIC, p);
        let tombstone = Record {
            offset: 0,
            timestamp: now_ms(),
            key: Some(Bytes::from(key.clone())),
            value: None,
            headers: vec![],
        };
        let partition = partition_for_key(key.as_bytes(), offsets_partitions);
        produce(
            &producer,
            OFFSETS_TOPIC,
            partition,
            Compression::None,
            &[tombstone],
        )
        .await;
    }

    for (p, records) in
        produce_rounds(pair.primary.clone(), partitions, 20..25, Duration::ZERO).await
    {
        expected.get_mut(&p).unwrap().extend(records);
    }
    let total: usize = expected.values().map(Vec::len).sum();
    let remote_topic = "primary.test-topic-1";
    let (properties, proxy) = if refused_target_fetches > 0 {
        let proxy = SecureProxy::start(&pair.backup_node.bootstrap(), ProxyOptions::default())
            .await
            .unwrap();
        let metadata = pair.backup.refresh_topics(&[remote_topic]).await.unwrap();
        let id = metadata.topics[remote_topic].id;
        proxy.refuse_fetches(remote_topic, id, 6, refused_target_fetches);
        let via = pair.properties_with_backup_via(&proxy.bootstrap(), extra);
        (via, Some(proxy))
    } else {
        (properties, None)
    };
    let mirror = start_mirror(&properties);
    wait_for_records(&pair.backup, remote_topic, total).await;
    let recognised = flow_stats(&mirror, "primary->backup").recognised;
    shutdown(mirror).await;

    let remote = read_all(&pair.backup, "primary.test-topic-1").await;
    for (p, source) in &expected {
        assert_same_records(&format!("primary.test-topic-1-{p}"), source, &remote[p]);
    }
    if let Some(proxy) = proxy {
        let refused = proxy.stats().refused_fetches.load(Ordering::Relaxed);
        assert_eq!(refused, refused_target_fetches, "target fetches refused");
    }
    // 20 batches per partition were on the target before the second start (the count also
    // takes in heartbeats batches the flow mirrors).
    assert!(
        recognised >= 20 * partitions as u64,
        "{recognised} batches recognised"
    );
}

/// Progress left by Java MM2 (key in Java's bytes, on the partition Java's partitioner picks):
/// `{"offset":4}` for partition 0 means offsets 0..4 are done, so exactly 5..9 are copied.
async fn resume_from_java_progress(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    create_topic(&pair.primary, TOPIC, 1).await;
    let produced = produce_fixture(&pair.primary, TOPIC, [0], 10, "primary").await;

    pair.backup
        .create_topic(&NewTopic::new(OFFSETS_TOPIC, 25).with_config("cleanup.policy", "compact"))
        .await
        .expect("create the Connect offsets topic as Java MM2 does");
    let key = java_key(TOPIC, 0);
    assert_eq!(key.len(), 84);
    assert_eq!(
        partition_for_key(key.as_bytes(), 25),
        14,
        "Java's producer writes this key to partition 14 of 25"
    );
    let record = Record {
        offset: 0,
        timestamp: now_ms(),
        key: Some(Bytes::from(key.clone())),
        value: Some(Bytes::from_static(br#"{"offset":4}"#)),
        headers: vec![],
    };
    let producer = Producer::idempotent(&pair.backup).await.unwrap();
    produce(&producer, OFFSETS_TOPIC, 14, Compression::None, &[record]).await;

    let mirror = start_mirror(&pair.properties(ONE_WAY));
    wait_for_records(&pair.backup, "primary.test-topic-1", 5).await;
    shutdown(mirror).await;

    let remote = read_all(&pair.backup, "primary.test-topic-1").await;
    assert_same_records(
        "primary.test-topic-1 on backup",
        &produced[&0][5..],
        &remote[&0],
    );

    // The new position is written under the same key bytes, to the same partition.
    let progress = read_topic(&pair.backup, OFFSETS_TOPIC)
        .await
        .expect("read progress");
    let ours: Vec<_> = progress
        .iter()
        .filter(|(_, r)| r.key.as_deref() == Some(key.as_bytes()))
        .collect();
    assert!(ours.iter().all(|(p, _)| *p == 14), "{ours:?}");
    let last = ours.last().expect("progress written").1.value.clone();
    assert_eq!(last.as_deref(), Some(&br#"{"offset":9}"#[..]));
}

/// After a run: the Connect offsets topic holds, for each partition, Java's exact key bytes on
/// Java's partition with value `{"offset":<last offset>}`; every offset-sync record decodes and
/// re-encodes to the same bytes, and the expected syncs are there byte for byte.
async fn progress_and_offset_syncs_are_byte_compatible(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let partitions = 10;
    create_topic(&pair.primary, TOPIC, partitions).await;
    let mut expected = produce_fixture(&pair.primary, TOPIC, 0..partitions, 5, "first").await;
    for (p, records) in produce_fixture(&pair.primary, TOPIC, 0..partitions, 5, "second").await {
        expected.get_mut(&p).unwrap().extend(records);
    }

    let mirror = start_mirror(&pair.properties(ONE_WAY));
    wait_for_records(&pair.backup, "primary.test-topic-1", 100).await;
    shutdown(mirror).await;
    assert_partitions_equal(
        "primary.test-topic-1 on backup",
        &expected,
        &read_all(&pair.backup, "primary.test-topic-1").await,
    );

    // Progress: mm2-offsets.primary.internal on backup, 25 partitions, compacted.
    assert_eq!(partition_count(&pair.backup, OFFSETS_TOPIC).await, Some(25));
    let progress = read_topic(&pair.backup, OFFSETS_TOPIC)
        .await
        .expect("read progress");
    for (p, record) in &progress {
        let key = record.key.as_deref().expect("progress keys are never null");
        let text = std::str::from_utf8(key).expect("UTF-8 JSON key");
        let json: serde_json::Value = serde_json::from_str(text).expect("JSON key");
        if json[0] != "MirrorSourceConnector" {
            continue;
        }
        let topic = json[1]["topic"].as_str().expect("topic");
        let partition = json[1]["partition"].as_i64().expect("partition") as i32;
        assert_eq!(
            text,
            java_key(topic, partition),
            "key bytes exactly as Java writes them"
        );
        assert_eq!(
            *p,
            partition_for_key(key, 25),
            "{text}: on Java's partition"
        );
        let value = record.value.as_deref().expect("no tombstones");
        let offset: serde_json::Value = serde_json::from_slice(value).expect("JSON value");
        let offset = offset["offset"].as_i64().expect("offset");
        assert_eq!(
            value,
            format!(r#"{{"offset":{offset}}}"#).as_bytes(),
            "value bytes exactly as Java writes them"
        );
    }
    for p in 0..partitions {
        let key = java_key(TOPIC, p);
        let last = progress
            .iter()
            .rfind(|(_, r)| r.key.as_deref() == Some(key.as_bytes()))
            .unwrap_or_else(|| panic!("no progress for {key}"));
        assert_eq!(
            last.1.value.as_deref(),
            Some(&br#"{"offset":9}"#[..]),
            "{key}"
        );
    }

    // Offset syncs: mm2-offset-syncs.backup.internal on primary, 1 partition.
    assert_eq!(
        partition_count(&pair.primary, "mm2-offset-syncs.backup.internal").await,
        Some(1)
    );
    let raw = read_topic(&pair.primary, "mm2-offset-syncs.backup.internal")
        .await
        .expect("read syncs");
    let mut syncs = Vec::new();
    let mut claimed = std::collections::BTreeMap::new();
    for (p, record) in &raw {
        assert_eq!(*p, 0);
        let (key, value) = (
            record.key.as_deref().expect("key"),
            record.value.as_deref().expect("value"),
        );
        let sync = OffsetSync::decode(key, value).expect("offset sync decodes");
        assert_eq!(sync.record_key().unwrap(), key, "{sync}: key bytes");
        assert_eq!(sync.record_value(), value, "{sync}: value bytes");
        // Java writes no headers; strait adds only its claim, which Java does not read.
        let claims: Vec<Option<i64>> = record
            .headers
            .iter()
            .map(|h| {
                assert_eq!(h.key.as_ref(), EXACT_SINCE_HEADER.as_bytes(), "{sync}");
                exact_since(std::slice::from_ref(h))
            })
            .collect();
        let claim = match claims[..] {
            [] => None,
            [Some(since)] => Some(since),
            _ => panic!("{sync}: headers {:?}", record.headers),
        };
        // By topic too: the heartbeats topic is mirrored and synced as well, and its partition
        // 0 reaches offset 4 (one heartbeat a second) in a slow run.
        claimed.insert(
            (sync.topic.clone(), sync.partition, sync.upstream_offset),
            claim,
        );
        syncs.push((sync, key.to_vec(), value.to_vec()));
    }
    // Two batches of 5 forwarded untouched, back to back: each span is claimed one to one
    // from the sync before it, except into the first sync since starting.
    for p in 0..partitions {
        let claims: Vec<Option<Option<i64>>> = [0, 4, 5, 9]
            .iter()
            .map(|o| claimed.get(&(TOPIC.to_owned(), p, *o)).copied())
            .collect();
        assert_eq!(
            claims,
            [Some(None), Some(Some(0)), Some(Some(4)), Some(Some(5))],
            "partition {p}"
        );
    }
    for p in 0..partitions {
        for offset in [0_i64, 5] {
            // Two batches of 5 per partition, copied untouched to an empty remote partition:
            // upstream 0 -> 0 (first record) and 5 -> 5 (second batch).
            let mut key = vec![0x00, 0x0c];
            key.extend_from_slice(TOPIC.as_bytes());
            key.extend_from_slice(&p.to_be_bytes());
            let mut value = offset.to_be_bytes().to_vec();
            value.extend_from_slice(&offset.to_be_bytes());
            assert!(
                syncs.iter().any(|(_, k, v)| *k == key && *v == value),
                "no sync {TOPIC}-{p} {offset}->{offset} in {:?}",
                syncs
                    .iter()
                    .map(|(s, _, _)| s.to_string())
                    .collect::<Vec<_>>()
            );
        }
    }

    if kind != BrokerKind::Tansu {
        for (cluster, topic) in [
            (&pair.backup, OFFSETS_TOPIC),
            (&pair.primary, "mm2-offset-syncs.backup.internal"),
        ] {
            let policy = topic_config(cluster, topic, "cleanup.policy")
                .await
                .expect("described");
            assert_eq!(policy.value.as_deref(), Some("compact"), "{topic}");
        }
    }
    // (tansu describes only configs set explicitly, as source DEFAULT; nothing to compare there.)
}

/// A mirror that stops without shutting down (a crash: its tasks are dropped) and a new start:
/// at least once, like MM2. Each remote partition is a prefix of the source followed by a
/// replay from the last stored position, so nothing is lost and only a suffix repeats.
async fn crash_restart_loses_nothing(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let partitions = 4;
    create_topic(&pair.primary, TOPIC, partitions).await;
    let properties = pair.properties(ONE_WAY);

    let producing = tokio::spawn(produce_rounds(
        pair.primary.clone(),
        partitions,
        0..60,
        Duration::from_millis(50),
    ));
    let mirror = start_mirror(&properties);
    wait_for_records(&pair.backup, "primary.test-topic-1", 150).await;
    drop(mirror);
    // Let the aborted tasks go away before the next start (not an assertion).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut expected = producing.await.unwrap();
    for (p, records) in
        produce_rounds(pair.primary.clone(), partitions, 60..70, Duration::ZERO).await
    {
        expected.get_mut(&p).unwrap().extend(records);
    }

    let mirror = start_mirror(&properties);
    let total: usize = expected.values().map(Vec::len).sum();
    wait_for_records(&pair.backup, "primary.test-topic-1", total).await;
    shutdown(mirror).await;
    let remote = read_all(&pair.backup, "primary.test-topic-1").await;
    let mut replayed = 0;
    for (p, source) in &expected {
        let target: Vec<_> = remote[p].iter().map(content).collect();
        let source: Vec<_> = source.iter().map(content).collect();
        // target = source[..a] ++ source[b..] with b <= a.
        let a = target
            .iter()
            .zip(&source)
            .take_while(|(t, s)| t == s)
            .count();
        let rest = &target[a..];
        assert!(
            rest.len() <= source.len(),
            "partition {p}: {} target records after the first {a}",
            rest.len()
        );
        let b = source.len() - rest.len();
        assert!(
            b <= a && rest == &source[b..],
            "partition {p}: {} target records are not a prefix of the {} source records plus a replay \
             (first {a} match, then {} more)",
            target.len(),
            source.len(),
            rest.len()
        );
        replayed += a - b;
    }
    eprintln!("{kind}: {replayed} records replayed after the crash");
}
