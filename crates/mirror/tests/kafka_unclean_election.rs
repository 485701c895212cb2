//! A source partition cut short by an unclean leader election while strait mirrors it (issue
//! #14 part 4), on Apache Kafka: the old leader held records strait had mirrored, an out-of-sync
//! replica becomes leader without them, and new records fill the same offsets. A fetch position
//! past the new log end would show as OFFSET_OUT_OF_RANGE; here the new log has grown past
//! strait's position before strait fetches again, so only the leader epoch can tell (KIP-320).

use std::time::Duration;

use strait_fixtures::*;
use strait_kafka::batch::{Compression, Record};
use strait_kafka::{Cluster, NewTopic, Producer};
use strait_testkit::{BrokerKind, KafkaCluster};

strait_testkit::per_broker!(;
    // Only Apache Kafka runs clusters of several brokers with replicated partitions here.
    kafka_only: an_unclean_election_under_strait_is_reported_and_the_new_records_mirrored,
    an_unclean_election_while_strait_is_stopped_is_found_at_restart,
);

const TOPIC: &str = "elected";
const REMOTE: &str = "source.elected";

/// strait paused while it happens: the running pipeline knows the epoch of the last batch it
/// read and the leader answers that its log diverged at offset 100.
async fn an_unclean_election_under_strait_is_reported_and_the_new_records_mirrored(
    _kind: BrokerKind,
) {
    election(false).await;
}

/// strait stopped while it happens: the restarted one finds the epoch in the stored progress
/// (header `strait.leader-epoch`) and asks the same question at its first fetch.
async fn an_unclean_election_while_strait_is_stopped_is_found_at_restart(_kind: BrokerKind) {
    election(true).await;
}

async fn election(restart: bool) {
    // Five voters: with two nodes down the controller quorum still stands.
    let mut source_node = start_kafka_brokers(5).await;
    let target_node = start_node(BrokerKind::Kafka).await;
    let source = connect("source", &source_node.bootstrap()).await;
    let target = connect("target", &target_node.bootstrap()).await;
    source
        .create_topic(&NewTopic {
            replication_factor: 2,
            configs: vec![
                ("min.insync.replicas".into(), "1".into()),
                ("unclean.leader.election.enable".into(), "true".into()),
                ("retention.ms".into(), "-1".into()),
            ],
            ..NewTopic::new(TOPIC, 1)
        })
        .await
        .expect("create the topic");
    let (leader, follower) = eventually("the partition's replicas", || async {
        let p = partition(&source).await?;
        match (p.leader, &p.replicas[..]) {
            (l, [a, b]) if l == *a && p.isr.len() == 2 => Ok((*a, *b)),
            (l, [a, b]) if l == *b && p.isr.len() == 2 => Ok((*b, *a)),
            _ => Err(format!("{p:?}")),
        }
    })
    .await;
    let producer = Producer::idempotent(&source).await.unwrap();
    let mut expected = Vec::new();
    expected.extend(produce_tagged(&producer, "both", 0..100).await);

    // Offset syncs go to the target: on the source their one replica may sit on the leader this
    // test stops, and a flush to an offline partition would hold up strait's shutdown.
    let properties = format!(
        "clusters = source, target\n\
         source.bootstrap.servers = {}\n\
         target.bootstrap.servers = {}\n\
         source->target.enabled = true\n\
         target->source.enabled = false\n\
         topics = {TOPIC}\n\
         emit.heartbeats.enabled = false\n\
         offset-syncs.topic.location = target\n\
         {MIRROR_ONE_REPLICA}\
         refresh.topics.interval.seconds = 1\n",
        source_node.bootstrap(),
        target_node.bootstrap(),
    );
    let mirror = start_mirror(&properties);
    wait_for_records(&target, REMOTE, 100).await;

    // The follower stops: the leader alone takes 50 more records, and strait mirrors them.
    stop_node(&mut source_node, follower).await;
    eventually("the follower out of the ISR", || async {
        let p = partition(&source).await?;
        (p.isr == [leader]).then_some(()).ok_or(format!("{p:?}"))
    })
    .await;
    expected.extend(produce_tagged(&producer, "leader-only", 100..150).await);
    wait_for_records(&target, REMOTE, 150).await;

    // strait stops fetching (paused, or stopped); the leader goes, the out-of-sync follower
    // comes back and is elected uncleanly, and 80 new records take offsets 100..179.
    let paused = if restart {
        shutdown(mirror).await;
        None
    } else {
        mirror.flows()[0].control.pause(None);
        Some(mirror)
    };
    stop_node(&mut source_node, leader).await;
    let node = source_node;
    let source_node = tokio::task::spawn_blocking(move || {
        let mut node = node;
        node.start_node(follower).map(|()| node)
    })
    .await
    .unwrap()
    .expect("the follower starts again");
    eventually("the out-of-sync follower elected", || async {
        let p = partition(&source).await?;
        (p.leader == follower).then_some(()).ok_or(format!("{p:?}"))
    })
    .await;
    let producer = Producer::idempotent(&source).await.unwrap();
    let fresh = produce_tagged(&producer, "after-election", 0..80).await;
    let end = source
        .list_offsets(
            TOPIC,
            &[0],
            strait_kafka::OffsetSpec::Latest,
            strait_kafka::Isolation::ReadUncommitted,
        )
        .await
        .unwrap()[0]
        .1
        .offset;
    assert_eq!(
        end, 180,
        "the new log: 100 shared records, then the 80 new ones"
    );

    let mirror = match paused {
        Some(mirror) => {
            mirror.flows()[0].control.resume(None);
            mirror
        }
        None => start_mirror(&properties),
    };
    let flow = &mirror.flows()[0];
    expected.extend(fresh);
    wait_for_records(&target, REMOTE, expected.len()).await;
    let errors = flow.stats.errors();
    let partitions = flow.partitions();
    shutdown(mirror).await;
    assert_same_content(
        "source.elected on the target: the 150 first records, then every new one",
        &expected,
        &read_partition(&target, REMOTE, 0).await,
    );
    assert!(
        errors
            .iter()
            .any(|(op, code, n)| *op == "source" && code == "LogTruncated" && *n == 1),
        "the divergence is counted once: {errors:?}"
    );
    let note = partitions[0]
        .last_error
        .as_ref()
        .map(|e| e.message.clone())
        .unwrap_or_default();
    assert!(
        note.contains("elected-0 diverged on the source at offset 100")
            && note.contains("the 50 records strait mirrored from 100 to 149"),
        "the partition's status says what happened: {note:?}"
    );
    drop(source_node);
}

/// The topic's only partition, as the source's metadata says now.
async fn partition(source: &Cluster) -> Result<strait_kafka::PartitionMetadata, String> {
    let metadata = source
        .refresh_topics(&[TOPIC])
        .await
        .map_err(|e| e.to_string())?;
    metadata
        .topic(TOPIC)
        .and_then(|t| t.partitions.first().cloned())
        .ok_or_else(|| "no partition yet".to_owned())
}

/// Records `tag-<i>` for `range`, in batches of 10, each acknowledged by the leader.
async fn produce_tagged(
    producer: &Producer,
    tag: &str,
    range: std::ops::Range<usize>,
) -> Vec<Record> {
    let records: Vec<Record> = range
        .clone()
        .map(|i| {
            record(
                now_ms(),
                Some(format!("{tag}-{i}").into()),
                Some(format!("value of {tag} record {i}").into()),
            )
        })
        .collect();
    for chunk in records.chunks(10) {
        produce(producer, TOPIC, 0, Compression::Lz4, chunk).await;
    }
    records
}

async fn stop_node(cluster: &mut KafkaCluster, id: i32) {
    tokio::task::block_in_place(|| cluster.stop_node(id));
    // Let the controller see it gone.
    tokio::time::sleep(Duration::from_millis(500)).await;
}
