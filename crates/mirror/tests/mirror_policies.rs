//! Ports of MM2's policy-variation integration tests: `IdentityReplicationIntegrationTest`
//! (remote topics keep their names), `testReplicationWithoutOffsetSyncWillNotCreateOffsetSyncsTopic`
//! and `testOffsetSyncsTopicsOnTarget`, against real `primary` and `backup` clusters.

use strait_fixtures::*;
use strait_mirror::formats::OffsetSync;
use strait_mirror::internal::read_offset_syncs;
use strait_testkit::BrokerKind;

strait_testkit::per_broker!(
    identity_replication_one_way,
    no_offset_syncs_topic_when_emit_disabled,
    offset_syncs_topic_on_target,
);

const TOPIC: &str = "test-topic-1";
const PARTITIONS: i32 = 10;
const PER_PARTITION: usize = 10;
const ALL: usize = PARTITIONS as usize * PER_PARTITION;

/// IdentityReplicationPolicy, one way: `test-topic-1` arrives on backup as `test-topic-1`, with
/// every record once; nothing is renamed and nothing flows back.
async fn identity_replication_one_way(kind: BrokerKind) {
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
        "replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy\n\
         topics = test-topic-.*\n\
         backup->primary.enabled = false",
    );
    let mirror = start_mirror(&properties);
    assert_eq!(wait_for_records(&pair.backup, TOPIC, ALL).await, ALL);
    shutdown(mirror).await;

    assert_eq!(
        partition_count(&pair.backup, TOPIC).await,
        Some(PARTITIONS as usize)
    );
    assert_partitions_equal(
        "test-topic-1 on backup",
        &produced,
        &read_all(&pair.backup, TOPIC).await,
    );
    assert!(
        !topic_exists(&pair.backup, "primary.test-topic-1").await,
        "identity: no renamed topic"
    );
    assert!(
        !topic_exists(&pair.primary, "backup.test-topic-1").await,
        "no reverse remote topic"
    );
    // One way: primary's topic is untouched by the (disabled) reverse flow.
    assert_partitions_equal(
        "test-topic-1 on primary",
        &produced,
        &read_all(&pair.primary, TOPIC).await,
    );
}

/// `emit.offset-syncs.enabled = false`: data is replicated, no offset-syncs topic anywhere.
async fn no_offset_syncs_topic_when_emit_disabled(kind: BrokerKind) {
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
         emit.offset-syncs.enabled = false",
    );
    let mirror = start_mirror(&properties);
    assert_eq!(
        wait_for_records(&pair.backup, "primary.test-topic-1", ALL).await,
        ALL
    );
    shutdown(mirror).await;

    assert_partitions_equal(
        "primary.test-topic-1 on backup",
        &produced,
        &read_all(&pair.backup, "primary.test-topic-1").await,
    );
    let primary_topics = topic_names(&pair.primary).await;
    assert!(
        !primary_topics
            .iter()
            .any(|t| t == "mm2-offset-syncs.backup.internal"),
        "no offset-syncs topic on primary: {primary_topics:?}"
    );
    let backup_topics = topic_names(&pair.backup).await;
    assert!(
        !backup_topics
            .iter()
            .any(|t| t.starts_with("mm2-offset-syncs")),
        "no offset-syncs topic on backup: {backup_topics:?}"
    );
}

/// `primary->backup.offset-syncs.topic.location = target`: the syncs go to
/// `mm2-offset-syncs.primary.internal` on backup, and primary gets no offset-syncs topic.
async fn offset_syncs_topic_on_target(kind: BrokerKind) {
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
         primary->backup.offset-syncs.topic.location = target",
    );
    let mirror = start_mirror(&properties);
    assert_eq!(
        wait_for_records(&pair.backup, "primary.test-topic-1", ALL).await,
        ALL
    );
    shutdown(mirror).await;
    assert_partitions_equal(
        "primary.test-topic-1 on backup",
        &produced,
        &read_all(&pair.backup, "primary.test-topic-1").await,
    );

    assert_eq!(
        partition_count(&pair.backup, "mm2-offset-syncs.primary.internal").await,
        Some(1),
        "offset-syncs topic on the target, one partition"
    );
    let syncs = read_offset_syncs(&pair.backup, "mm2-offset-syncs.primary.internal")
        .await
        .expect("read offset syncs");
    // One batch of 10 records per partition, replicated to an empty remote partition: the
    // sync maps upstream 0 to downstream 0 (MM2 always syncs a partition's first record).
    for p in 0..PARTITIONS {
        let expected = OffsetSync {
            topic: TOPIC.to_owned(),
            partition: p,
            upstream_offset: 0,
            downstream_offset: 0,
        };
        assert!(syncs.contains(&expected), "missing {expected} in {syncs:?}");
    }
    assert!(
        syncs.iter().all(|s| !s.topic.starts_with("primary.")),
        "syncs name the upstream topic, not the remote one: {syncs:?}"
    );
    assert!(
        syncs
            .iter()
            .filter(|s| s.topic == TOPIC)
            .all(|s| s.upstream_offset == s.downstream_offset),
        "offsets map 1:1 for a topic without gaps replicated to empty partitions: {syncs:?}"
    );
    let primary_topics = topic_names(&pair.primary).await;
    assert!(
        !primary_topics
            .iter()
            .any(|t| t.starts_with("mm2-offset-syncs")),
        "no offset-syncs topic on primary: {primary_topics:?}"
    );
}
