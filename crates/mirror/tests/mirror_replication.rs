//! Ports of MM2's replication integration tests (`MirrorConnectorsIntegrationBaseTest`):
//! `testReplication` (active/active), `testReplicationWithEmptyPartition` and
//! `testReplicateFromLatest`, against two real single-broker clusters `primary` and `backup`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use strait_fixtures::*;
use strait_kafka::Cluster;
use strait_mirror::formats::Heartbeat;
use strait_mirror::policy::{count_hops_for_topic, ReplicationPolicy};
use strait_testkit::{BrokerKind, ProxyOptions, SecureProxy};

strait_testkit::per_broker!(
    replication,
    replication_with_empty_partition,
    replicate_from_latest,
    deleted_source_topics_are_left_in_place_and_reported,
    replication_over_two_hops,
    socket_buffer_keys_reach_the_sockets;
    // tansu is left out for a broker gap: it has no CreatePartitions.
    not_tansu: partitions_added_to_a_source_topic_are_mirrored;
    kafka_only: a_topic_wider_than_one_kafka_operation_is_created_in_steps,
        idle_fetches_run_in_a_fetch_session,
);

const TOPIC: &str = "test-topic-1";
const PARTITIONS: i32 = 10;
const PER_PARTITION: usize = 10;
const TOPIC_REMOTE: &str = "primary.test-topic-1";
const ALL: usize = PARTITIONS as usize * PER_PARTITION;

/// `MirrorClient.upstreamClusters()` over a cluster's topic list (§2.5): for each heartbeats
/// topic, the chain of `topicSource` values, cycle-guarded.
fn upstream_clusters(policy: &ReplicationPolicy, topics: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for topic in topics.iter().filter(|t| policy.is_heartbeats_topic(t)) {
        let mut seen = HashSet::new();
        let mut topic = topic.clone();
        while let Some(source) = policy.topic_source(&topic) {
            if !seen.insert(source.clone()) {
                break;
            }
            out.insert(source);
            match policy.upstream_topic(&topic) {
                Some(up) => topic = up,
                None => break,
            }
        }
    }
    out
}

/// `MirrorClient.replicationHops(alias)`: fewest hops over the heartbeats topics, −1 if none.
fn replication_hops(policy: &ReplicationPolicy, topics: &[String], alias: &str) -> i32 {
    topics
        .iter()
        .filter(|t| policy.is_heartbeats_topic(t))
        .map(|t| count_hops_for_topic(policy, t, alias))
        .filter(|h| *h != -1)
        .min()
        .unwrap_or(-1)
}

/// The heartbeats in `topic` on `cluster`, decoded.
async fn heartbeats(cluster: &Cluster, topic: &str) -> Vec<Heartbeat> {
    read_all(cluster, topic)
        .await
        .into_values()
        .flatten()
        .map(|r| {
            let key = r.key.as_deref().expect("heartbeat keys are never null");
            let value = r.value.as_deref().expect("heartbeat values are never null");
            Heartbeat::decode(key, value).expect("heartbeat decodes")
        })
        .collect()
}

/// Waits until `topic` on `cluster` holds heartbeats of flow `source->target`.
async fn wait_for_heartbeats(
    cluster: &Cluster,
    topic: &str,
    source: &str,
    target: &str,
) -> Vec<Heartbeat> {
    let what = format!(
        "heartbeats of {source}->{target} in {topic} on {}",
        cluster.name()
    );
    eventually(&what, || async move {
        let beats = heartbeats(cluster, topic).await;
        if beats
            .iter()
            .any(|h| h.source_cluster_alias == source && h.target_cluster_alias == target)
        {
            Ok(beats)
        } else {
            Err(format!("{beats:?}"))
        }
    })
    .await
}

/// testReplication: active/active replication of `test-topic-1` both ways, heartbeats and their
/// replication, upstream clusters and hops from the topic list, and a topic created later.
async fn replication(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let (primary, backup) = (&pair.primary, &pair.backup);
    create_topic(primary, TOPIC, PARTITIONS).await;
    create_topic(backup, TOPIC, PARTITIONS).await;
    let on_primary = produce_fixture(primary, TOPIC, 0..PARTITIONS, PER_PARTITION, "primary").await;
    let on_backup = produce_fixture(backup, TOPIC, 0..PARTITIONS, PER_PARTITION, "backup").await;

    let properties =
        pair.properties("topics = test-topic-.*, primary.test-topic-.*, backup.test-topic-.*");
    let mirror = start_mirror(&properties);

    // 100 records each way.
    assert_eq!(
        wait_for_records(backup, "primary.test-topic-1", ALL).await,
        ALL
    );
    assert_eq!(
        wait_for_records(primary, "backup.test-topic-1", ALL).await,
        ALL
    );
    assert_partitions_equal(
        "primary.test-topic-1 on backup",
        &on_primary,
        &read_all(backup, "primary.test-topic-1").await,
    );
    assert_partitions_equal(
        "backup.test-topic-1 on primary",
        &on_backup,
        &read_all(primary, "backup.test-topic-1").await,
    );
    assert_eq!(
        partition_count(backup, "primary.test-topic-1").await,
        Some(PARTITIONS as usize)
    );
    assert_eq!(
        partition_count(primary, "backup.test-topic-1").await,
        Some(PARTITIONS as usize)
    );

    // Heartbeats: each flow writes into its target's `heartbeats`; each cluster's `heartbeats`
    // is replicated to the other as `<alias>.heartbeats`.
    let beats = wait_for_heartbeats(backup, "heartbeats", "primary", "backup").await;
    assert!(
        beats
            .iter()
            .all(|h| h.source_cluster_alias == "primary" && h.target_cluster_alias == "backup"),
        "backup's heartbeats are written by primary->backup only: {beats:?}"
    );
    let beats = wait_for_heartbeats(primary, "heartbeats", "backup", "primary").await;
    assert!(
        beats
            .iter()
            .all(|h| h.source_cluster_alias == "backup" && h.target_cluster_alias == "primary"),
        "primary's heartbeats are written by backup->primary only: {beats:?}"
    );
    wait_for_heartbeats(backup, "primary.heartbeats", "backup", "primary").await;
    wait_for_heartbeats(primary, "backup.heartbeats", "primary", "backup").await;

    // RemoteClusterUtils' view (default policy) from each cluster's topic list.
    let policy = ReplicationPolicy::default();
    let backup_topics = topic_names(backup).await;
    let upstream = upstream_clusters(&policy, &backup_topics);
    assert!(
        upstream.contains("primary"),
        "upstream clusters of backup: {upstream:?} from {backup_topics:?}"
    );
    assert_eq!(
        replication_hops(&policy, &backup_topics, "primary"),
        1,
        "{backup_topics:?}"
    );
    let primary_topics = topic_names(primary).await;
    let upstream = upstream_clusters(&policy, &primary_topics);
    assert!(
        upstream.contains("backup"),
        "upstream clusters of primary: {upstream:?} from {primary_topics:?}"
    );
    assert_eq!(
        replication_hops(&policy, &primary_topics, "backup"),
        1,
        "{primary_topics:?}"
    );

    // A source topic created after start is discovered (refresh every 1 s) and replicated.
    create_topic(primary, "test-topic-2", 3).await;
    let second = produce_fixture(primary, "test-topic-2", 0..3, PER_PARTITION, "later").await;
    wait_for_records(backup, "primary.test-topic-2", 3 * PER_PARTITION).await;

    // One idempotent producer writes every partition of a flow, topics discovered later too
    // (not one per partition); only a partition whose write failed moves to a newer one.
    let flow = mirror
        .flow("primary", "backup")
        .expect("flow primary->backup");
    let produce_failures: u64 = flow
        .status()
        .errors
        .iter()
        .filter(|e| e.op == "produce")
        .map(|e| e.count)
        .sum();
    let mut writers = producer_ids(backup, "primary.test-topic-1").await;
    writers.extend(producer_ids(backup, "primary.test-topic-2").await);
    assert!(
        !writers.is_empty() && writers.len() as u64 <= 1 + produce_failures,
        "producer ids on the 13 partitions mirrored to backup: {writers:?}, after {produce_failures} failed writes"
    );

    shutdown(mirror).await;

    // Exactly once: nothing more arrived, nothing was replicated back (no cycles).
    assert_partitions_equal(
        "primary.test-topic-1 on backup",
        &on_primary,
        &read_all(backup, "primary.test-topic-1").await,
    );
    assert_partitions_equal(
        "backup.test-topic-1 on primary",
        &on_backup,
        &read_all(primary, "backup.test-topic-1").await,
    );
    assert_partitions_equal(
        "primary.test-topic-2 on backup",
        &second,
        &read_all(backup, "primary.test-topic-2").await,
    );
    for (cluster, local, remote) in [
        (primary, &on_primary, "backup.test-topic-1"),
        (backup, &on_backup, "primary.test-topic-1"),
    ] {
        let total = count_records(cluster, TOPIC).await + count_records(cluster, remote).await;
        assert_eq!(total, 2 * ALL, "{}: local + remote records", cluster.name());
        assert_eq!(
            count_records(cluster, TOPIC).await,
            local.values().map(Vec::len).sum::<usize>()
        );
    }
    // Only these remote topics exist: no cycles (`backup.primary.*`), no internal topics
    // (`mm2-offsets.*`, `mm2-offset-syncs.*`, `__*`) replicated.
    let topics: BTreeMap<&str, Vec<String>> = [
        ("primary", topic_names(primary).await),
        ("backup", topic_names(backup).await),
    ]
    .into();
    for (alias, names) in &topics {
        let peer = if *alias == "primary" {
            "backup"
        } else {
            "primary"
        };
        let remote: BTreeSet<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| n.starts_with(&format!("{peer}.")))
            // `<peer>.checkpoints.internal` is MM2's checkpoints topic, not a remote topic.
            .filter(|n| !n.ends_with(".internal"))
            .collect();
        let expected: BTreeSet<String> = ["test-topic-1", "heartbeats"]
            .iter()
            .chain(if *alias == "backup" {
                &["test-topic-2"][..]
            } else {
                &[][..]
            })
            .map(|t| format!("{peer}.{t}"))
            .collect();
        let expected: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
        assert_eq!(remote, expected, "{alias}: remote topics among {names:?}");
    }
    assert!(!topic_exists(backup, "backup.test-topic-1").await);
    assert!(!topic_exists(primary, "primary.test-topic-1").await);
}

/// A lone process with no group key is a group of one on the target (scale-out is on by
/// default): it leads, and every source partition is its own. On tansu, whose coordinator
/// answers every join with generation 0, it works alone.
fn assert_a_group_of_one(kind: BrokerKind, mirror: &strait_mirror::engine::Mirror) {
    let flow = mirror
        .flows()
        .iter()
        .find(|f| f.label() == "primary->backup")
        .expect("flow primary->backup");
    let group = flow
        .status()
        .group
        .expect("the flow is in a group by default");
    assert_eq!(group.group, "strait-primary-backup");
    let state = if kind == BrokerKind::Tansu {
        "alone"
    } else {
        "stable"
    };
    assert_eq!(group.state, state, "{group:?}");
    assert_eq!(group.leader_id, group.member_id, "{group:?}");
    assert_eq!(group.members.len(), 1, "{group:?}");
    let mine = &group.members[&group.member_id].partitions;
    let all: Vec<i32> = (0..PARTITIONS).collect();
    assert_eq!(mine.get(TOPIC), Some(&all), "{group:?}");
}

/// `receive.buffer.bytes` of the source consumer and `send.buffer.bytes` of the target producer
/// reach the sockets: while the mirror runs, `ss` shows a connection to each broker with the
/// buffer Linux makes of the odd size asked (twice it), and every record arrives.
async fn socket_buffer_keys_reach_the_sockets(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    create_topic(&pair.primary, TOPIC, PARTITIONS).await;
    let produced = produce_fixture(
        &pair.primary,
        TOPIC,
        0..PARTITIONS,
        PER_PARTITION,
        "primary",
    )
    .await;
    let properties = pair.properties(
        "topics = test-topic-.*\n\
         backup->primary.enabled = false\n\
         primary.consumer.receive.buffer.bytes = 111111\n\
         backup.producer.send.buffer.bytes = 77777",
    );
    let mirror = start_mirror(&properties);
    wait_for_records(&pair.backup, TOPIC_REMOTE, ALL).await;
    let ports = [pair.primary_node.port(), pair.backup_node.port()];
    let sockets: Vec<_> = socket_memory()
        .into_iter()
        .filter(|(peer, _)| ports.iter().any(|p| peer.ends_with(&format!(":{p}"))))
        .collect();
    let to = |port: u16, memory: &str| {
        sockets
            .iter()
            .any(|(peer, skmem)| peer.ends_with(&format!(":{port}")) && skmem.contains(memory))
    };
    assert!(
        to(pair.primary_node.port(), "rb222222,"),
        "no connection to primary with a 111111-byte receive buffer (Linux shows it doubled): {sockets:?}"
    );
    assert!(
        to(pair.backup_node.port(), "tb155554,"),
        "no connection to backup with a 77777-byte send buffer (Linux shows it doubled): {sockets:?}"
    );
    shutdown(mirror).await;
    let remote = read_all(&pair.backup, TOPIC_REMOTE).await;
    assert_partitions_equal("primary.test-topic-1 on backup", &produced, &remote);
}

/// Every established TCP connection on this machine: (peer address, `skmem:(...)`), from `ss`.
fn socket_memory() -> Vec<(String, String)> {
    let out = std::process::Command::new("ss")
        .args(["-tmnH", "state", "established"])
        .output()
        .expect("ss (iproute2) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut sockets = Vec::new();
    let mut peer = None;
    for line in text.lines() {
        match line.trim().strip_prefix("skmem:") {
            Some(skmem) => {
                if let Some(peer) = peer.take() {
                    sockets.push((peer, skmem.to_owned()));
                }
            }
            None => peer = line.split_whitespace().nth(3).map(str::to_owned),
        }
    }
    sockets
}

/// Once caught up, the mirror's fetches from Apache Kafka run in an incremental fetch session
/// (KIP-227): a long-poll for 200 idle partitions names none of them, so it costs tens of
/// bytes, not the 6.6 KB of a request naming each (33 bytes a partition in Fetch v12).
async fn idle_fetches_run_in_a_fetch_session(kind: BrokerKind) {
    const WIDE: i32 = 200;
    const FETCH: i16 = 1;
    let pair = Pair::start(kind).await;
    create_topic(&pair.primary, TOPIC, WIDE).await;
    let produced = produce_fixture(&pair.primary, TOPIC, 0..WIDE, 2, "primary").await;
    let proxy = SecureProxy::start(&pair.primary_node.bootstrap(), ProxyOptions::default())
        .await
        .unwrap();
    let properties = pair.properties_via(
        &proxy.bootstrap(),
        "topics = test-topic-.*\nbackup->primary.enabled = false",
    );
    let mirror = start_mirror(&properties);
    wait_for_records(&pair.backup, TOPIC_REMOTE, WIDE as usize * 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stats = proxy.stats();
    let (requests, bytes) = (stats.requests(FETCH), stats.request_bytes(FETCH));
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (requests, bytes) = (
        stats.requests(FETCH) - requests,
        stats.request_bytes(FETCH) - bytes,
    );
    assert!(requests > 0, "no fetch in 5 idle seconds");
    assert!(
        bytes / requests < 660,
        "idle fetches of {WIDE} partitions took {bytes} bytes in {requests} requests: more than a tenth of a full request each"
    );
    shutdown(mirror).await;
    let remote = read_all(&pair.backup, TOPIC_REMOTE).await;
    assert_partitions_equal("primary.test-topic-1 on backup", &produced, &remote);
}

/// Apache Kafka's controller refuses to create more than about 10,000 partitions in one
/// operation: a source topic of 10,001 partitions gets its remote topic all the same, created
/// in steps, and a record in its last partition arrives.
async fn a_topic_wider_than_one_kafka_operation_is_created_in_steps(kind: BrokerKind) {
    const WIDE: i32 = 10_001;
    let pair = Pair::start(kind).await;
    create_topic(&pair.primary, TOPIC, 5000).await;
    pair.primary
        .create_partitions(TOPIC, WIDE)
        .await
        .expect("the source topic grows to 10,001 partitions in one step of 5,001");
    let produced = eventually("the last partition takes a record", || {
        let primary = &pair.primary;
        async move {
            let producer = strait_kafka::Producer::idempotent(primary)
                .await
                .map_err(|e| e.to_string())?;
            let records = fixture_records("wide", WIDE - 1, 1);
            producer
                .send(
                    TOPIC,
                    WIDE - 1,
                    &batch(strait_kafka::batch::Compression::None, &records),
                )
                .await
                .map(|_| records)
                .map_err(|e| e.to_string())
        }
    })
    .await;
    let properties = pair.properties("topics = test-topic-.*\nbackup->primary.enabled = false");
    let mirror = start_mirror(&properties);
    let backup = &pair.backup;
    // Kafka takes some 20 s to create 10,000 partitions here, longer on a busy machine.
    let limit = Duration::from_secs(180);
    eventually_within(
        "the record in the last remote partition",
        limit,
        || async move {
            let listed = backup
                .list_offsets(
                    TOPIC_REMOTE,
                    &[WIDE - 1],
                    strait_kafka::OffsetSpec::Latest,
                    strait_kafka::Isolation::ReadUncommitted,
                )
                .await
                .map_err(|e| e.to_string())?;
            match listed.first() {
                Some((_, o)) if o.offset >= 1 => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    shutdown(mirror).await;
    let remote = read_partition(&pair.backup, TOPIC_REMOTE, WIDE - 1).await;
    assert_eq!(
        partition_count(&pair.backup, TOPIC_REMOTE).await,
        Some(WIDE as usize)
    );
    assert_same_records("the last partition", &produced, &remote);
}

/// testReplicationWithEmptyPartition: the remote topic gets every partition, the empty one
/// included, and the others their records.
async fn replication_with_empty_partition(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    create_topic(&pair.primary, TOPIC, PARTITIONS).await;
    let produced = produce_fixture(
        &pair.primary,
        TOPIC,
        0..PARTITIONS - 1,
        PER_PARTITION,
        "primary",
    )
    .await;

    // The default group on every kind: a lone process that is never killed copes with each.
    let properties = pair
        .properties(
            "topics = test-topic-.*\n\
             backup->primary.enabled = false",
        )
        .replace(group_setting(kind), "");
    let mirror = start_mirror(&properties);
    let expected = (PARTITIONS as usize - 1) * PER_PARTITION;
    assert_eq!(
        wait_for_records(&pair.backup, "primary.test-topic-1", expected).await,
        expected
    );
    assert_a_group_of_one(kind, &mirror);
    shutdown(mirror).await;

    assert_eq!(
        partition_count(&pair.backup, "primary.test-topic-1").await,
        Some(PARTITIONS as usize)
    );
    let remote = read_all(&pair.backup, "primary.test-topic-1").await;
    assert_eq!(
        remote.get(&(PARTITIONS - 1)).map(Vec::len),
        Some(0),
        "the empty partition stays empty"
    );
    assert_partitions_equal("primary.test-topic-1 on backup", &produced, &remote);
}

/// testReplicateFromLatest: with `primary.consumer.auto.offset.reset = latest`, records that
/// existed before the flow started are not replicated; the ones produced after are, exactly.
async fn replicate_from_latest(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    create_topic(&pair.primary, TOPIC, PARTITIONS).await;
    let producer = strait_kafka::Producer::idempotent(&pair.primary)
        .await
        .unwrap();
    for p in 0..PARTITIONS {
        let old = fixture_records("before-start", p, PER_PARTITION);
        match kind {
            BrokerKind::Noida | BrokerKind::Kafka => {
                produce(
                    &producer,
                    TOPIC,
                    p,
                    strait_kafka::batch::Compression::None,
                    &old,
                )
                .await;
            }
            // Broker gap: tansu reports the latest offset as the last batch's base offset + 1,
            // so "latest" is only the log end when the last batch holds one record. With one
            // 10-record batch tansu would answer 1 and a mirror would (rightly) copy 1..9.
            BrokerKind::Tansu => produce_one_by_one(&producer, TOPIC, p, &old).await,
        }
    }

    let properties = pair.properties(
        "topics = test-topic-.*\n\
         backup->primary.enabled = false\n\
         primary.consumer.auto.offset.reset = latest",
    );
    let mirror = start_mirror(&properties);
    // The flow is running once every partition of test-topic-1 has a pipeline (and so a
    // remote topic). A pipeline looks up the latest offset right after it starts: give it a
    // moment before producing (a settle time, not the assertion).
    let (mirror_ref, backup) = (&mirror, &pair.backup);
    eventually("the flow's pipelines for test-topic-1", || async move {
        let stats = flow_stats(mirror_ref, "primary->backup");
        let remote = partition_count(backup, "primary.test-topic-1").await;
        if stats.partitions >= PARTITIONS as u64 && remote == Some(PARTITIONS as usize) {
            Ok(())
        } else {
            Err(format!("{stats:?}, remote partitions {remote:?}"))
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        count_records(backup, "primary.test-topic-1").await,
        0,
        "nothing from before the start"
    );

    let after = produce_fixture(
        &pair.primary,
        TOPIC,
        0..PARTITIONS,
        PER_PARTITION,
        "after-start",
    )
    .await;
    assert_eq!(
        wait_for_records(&pair.backup, "primary.test-topic-1", ALL).await,
        ALL
    );
    shutdown(mirror).await;
    assert_partitions_equal(
        "primary.test-topic-1 on backup",
        &after,
        &read_all(&pair.backup, "primary.test-topic-1").await,
    );
}

/// Partitions added to a source topic while the flow runs are added to the remote topic and
/// replicated (MM2's `refreshTopicPartitions`; the ForwardingAdmin IT grows 10 → 11).
async fn partitions_added_to_a_source_topic_are_mirrored(kind: BrokerKind) {
    assert_ne!(kind, BrokerKind::Tansu, "tansu has no CreatePartitions");
    let pair = Pair::start(kind).await;
    // MM2's partition-increase check: 10 -> 11.
    create_topic(&pair.primary, TOPIC, 10).await;
    let mut produced = produce_fixture(&pair.primary, TOPIC, 0..10, PER_PARTITION, "before").await;

    let mirror =
        start_mirror(&pair.properties("topics = test-topic-.*\nbackup->primary.enabled = false"));
    wait_for_records(&pair.backup, "primary.test-topic-1", 10 * PER_PARTITION).await;
    pair.primary
        .create_partitions(TOPIC, 11)
        .await
        .expect("grow the source topic");
    produced.extend(produce_fixture(&pair.primary, TOPIC, 10..11, PER_PARTITION, "added").await);
    let backup = &pair.backup;
    eventually(
        "primary.test-topic-1 grown to 11 partitions on backup",
        || async move {
            match partition_count(backup, "primary.test-topic-1").await {
                Some(11) => Ok(()),
                other => Err(format!("{other:?} partitions")),
            }
        },
    )
    .await;
    wait_for_records(&pair.backup, "primary.test-topic-1", 11 * PER_PARTITION).await;
    shutdown(mirror).await;
    assert_partitions_equal(
        "primary.test-topic-1 on backup",
        &produced,
        &read_all(&pair.backup, "primary.test-topic-1").await,
    );
}

/// primary -> backup -> dr: `primary.test-topic-1` on backup is replicated to dr as
/// `backup.primary.test-topic-1`; from dr's topic list primary is 2 hops upstream
/// (`backup.primary.heartbeats`) and backup 1.
async fn replication_over_two_hops(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    let (_dr_node, dr) = start_cluster(kind, "dr").await;
    create_topic(&pair.primary, TOPIC, PARTITIONS).await;
    let produced = produce_fixture(
        &pair.primary,
        TOPIC,
        0..PARTITIONS,
        PER_PARTITION,
        "primary",
    )
    .await;

    let properties = format!(
        "clusters = primary, backup, dr\n\
         primary.bootstrap.servers = {}\n\
         backup.bootstrap.servers = {}\n\
         dr.bootstrap.servers = {}\n\
         primary->backup.enabled = true\n\
         backup->dr.enabled = true\n\
         topics = test-topic-.*, primary.test-topic-.*\n\
         replication.factor = 1\n\
         offset-syncs.topic.replication.factor = 1\n\
         heartbeats.topic.replication.factor = 1\n\
         checkpoints.topic.replication.factor = 1\n\
         offset.storage.replication.factor = 1\n\
         status.storage.replication.factor = 1\n\
         config.storage.replication.factor = 1\n\
         refresh.topics.interval.seconds = 1\n\
         emit.heartbeats.interval.seconds = 1\n",
        pair.primary_node.bootstrap(),
        pair.backup_node.bootstrap(),
        _dr_node.bootstrap(),
    );
    let mirror = start_mirror(&properties);
    wait_for_records(&dr, "backup.primary.test-topic-1", ALL).await;
    wait_for_heartbeats(&dr, "backup.primary.heartbeats", "backup", "primary").await;
    shutdown(mirror).await;

    assert_partitions_equal(
        "backup.primary.test-topic-1 on dr",
        &produced,
        &read_all(&dr, "backup.primary.test-topic-1").await,
    );
    let policy = ReplicationPolicy::default();
    let dr_topics = topic_names(&dr).await;
    let upstream = upstream_clusters(&policy, &dr_topics);
    assert!(
        upstream.contains("primary") && upstream.contains("backup"),
        "{upstream:?} from {dr_topics:?}"
    );
    assert_eq!(
        replication_hops(&policy, &dr_topics, "primary"),
        2,
        "{dr_topics:?}"
    );
    assert_eq!(
        replication_hops(&policy, &dr_topics, "backup"),
        1,
        "{dr_topics:?}"
    );
    assert!(
        !topic_exists(&dr, "primary.test-topic-1").await,
        "no direct primary->dr replication"
    );
}

/// MM2 leaves a remote topic alone when its source topic is deleted; strait does the same, stops
/// that topic's pipelines, keeps mirroring the others, and reports the remote topic as orphaned.
async fn deleted_source_topics_are_left_in_place_and_reported(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    create_topic(&pair.primary, TOPIC, 2).await;
    create_topic(&pair.primary, "test-topic-2", 1).await;
    let mut produced = produce_fixture(&pair.primary, TOPIC, 0..2, PER_PARTITION, "a").await;
    produce_fixture(&pair.primary, "test-topic-2", 0..1, PER_PARTITION, "b").await;
    let mirror =
        start_mirror(&pair.properties("topics = test-topic-.*\nbackup->primary.enabled = false"));
    wait_for_records(&pair.backup, "primary.test-topic-2", PER_PARTITION).await;
    wait_for_records(&pair.backup, TOPIC_REMOTE, 2 * PER_PARTITION).await;

    let deleted = pair.primary.delete_topics(&["test-topic-2"]).await.unwrap();
    assert!(deleted.iter().all(|(_, r)| r.is_ok()), "{deleted:?}");
    let m = &mirror;
    eventually("primary.test-topic-2 reported as orphaned", || async move {
        let orphaned = m.orphaned_topics();
        match orphaned.as_slice() {
            [(flow, topics)]
                if flow == "primary->backup" && topics == &["primary.test-topic-2"] =>
            {
                Ok(())
            }
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(
        count_records(&pair.backup, "primary.test-topic-2").await,
        PER_PARTITION,
        "the orphaned remote topic keeps its data"
    );

    // The other topic keeps mirroring.
    for (p, records) in produce_fixture(&pair.primary, TOPIC, 0..2, PER_PARTITION, "c").await {
        produced.entry(p).or_default().extend(records);
    }
    wait_for_records(&pair.backup, TOPIC_REMOTE, 4 * PER_PARTITION).await;
    shutdown(mirror).await;
    assert_partitions_equal(
        TOPIC_REMOTE,
        &produced,
        &read_all(&pair.backup, TOPIC_REMOTE).await,
    );
}
