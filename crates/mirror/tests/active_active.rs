//! Active-active with identical topic names (`IdentityReplicationPolicy`) and
//! `strait.cycle.detection = producer.id` (docs/active-active.md), on Apache Kafka: every
//! cluster ends with every record produced anywhere exactly once, in its producer's order, and
//! nothing goes back where it came from: two clusters mirroring `orders` both ways while both
//! take writes (idempotent producers and the Java client's transactions, some aborted), through
//! a restart as a group of two members (new producer ids); three clusters in a line, each link
//! both ways (records relayed through the middle one), and in a one-way ring; and without the
//! key, MM2's behaviour (records go round) with a warning that says so. Checked by the Java
//! read_committed consumer.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bytes::Bytes;
use strait_fixtures::*;
use strait_kafka::batch::{Compression, Record};
use strait_kafka::{Cluster, Producer};
use strait_mirror::internal::{read_writers, WRITERS_TOPIC};
use strait_testkit::{BrokerKind, TestCluster};

strait_testkit::per_broker!(;
    // The Java client checks each cluster; the group protocol carries the two-member run.
    kafka_only:
        two_clusters_both_ways_each_record_once,
        three_clusters_in_a_line_each_record_once,
        three_clusters_in_a_ring_each_record_once,
        identity_without_detection_loops_as_mm2_and_says_so,
);

const TOPIC: &str = "orders";
const PARTITIONS: i32 = 3;
const IDENTITY: &str = "replication.policy.class = \
                        org.apache.kafka.connect.mirror.IdentityReplicationPolicy\n";
const DETECTION: &str = "strait.cycle.detection = producer.id\n";

/// What one application wrote to one cluster: keys by partition, in order.
type Written = BTreeMap<i32, Vec<String>>;

/// An application on cluster `name`: `rounds` rounds of one 5-record lz4 batch per partition,
/// 20 ms apart, keys `<name>-<round>-<partition>-<i>`.
async fn application(
    cluster: Cluster,
    name: &'static str,
    rounds: std::ops::Range<usize>,
) -> Written {
    let producer = Producer::idempotent(&cluster).await.unwrap();
    let mut written = Written::new();
    for round in rounds {
        for p in 0..PARTITIONS {
            let records: Vec<Record> = (0..5)
                .map(|i| {
                    let key = format!("{name}-{round}-{p}-{i}");
                    written.entry(p).or_default().push(key.clone());
                    Record {
                        offset: i,
                        timestamp: now_ms(),
                        key: Some(Bytes::from(key.clone())),
                        value: Some(Bytes::from(format!("value of {key}"))),
                        headers: Vec::new(),
                    }
                })
                .collect();
            produce(&producer, TOPIC, p, Compression::Lz4, &records).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    written
}

fn merge(into: &mut Written, more: Written) {
    for (p, keys) in more {
        into.entry(p).or_default().extend(keys);
    }
}

/// Waits until `cluster`'s topic holds every key in `expected` (read_uncommitted counts of the
/// applications' keys), then lets the flows run on for 3 s: a record sent back would arrive.
async fn wait_for_all(cluster: &Cluster, expected: &[&Written]) {
    let want: usize = expected.iter().flat_map(|w| w.values()).map(Vec::len).sum();
    let what = format!(
        "{want} application records in {TOPIC} on {}",
        cluster.name()
    );
    let prefixes: Vec<String> = expected
        .iter()
        .flat_map(|w| w.values().flatten().next())
        .map(|k| k.split('-').next().unwrap().to_owned() + "-")
        .collect();
    eventually(&what, || {
        let prefixes = &prefixes;
        async move {
            let all = read_all(cluster, TOPIC).await;
            let have = all
                .values()
                .flatten()
                .filter_map(|r| r.key.as_deref())
                .filter(|k| prefixes.iter().any(|p| k.starts_with(p.as_bytes())))
                .count();
            if have >= want {
                Ok(())
            } else {
                Err(format!("{have} of them"))
            }
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
}

/// What the Java read_committed consumer reads on `node`: each key once, every key of
/// `expected` (and `others`, keys that must arrive in any order), each application's keys in
/// its order per partition. Returns the keys read that are in neither.
fn check_each_once(node: &TestCluster, name: &str, expected: &[&Written]) -> Vec<String> {
    let read = java_consume(&node.bootstrap(), TOPIC);
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (key, _) in read.values().flatten() {
        *seen.entry(key.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "{name}: keys read more than once: {twice:?}"
    );
    let mut extra: Vec<String> = seen.keys().map(|k| k.to_string()).collect();
    for written in expected {
        for (p, keys) in *written {
            let on_partition: Vec<&str> = read
                .get(p)
                .map(|r| r.iter().map(|(k, _)| k.as_str()).collect())
                .unwrap_or_default();
            let mine: Vec<&str> = on_partition
                .iter()
                .copied()
                .filter(|k| keys.iter().any(|w| w == k))
                .collect();
            assert_eq!(
                mine.len(),
                keys.len(),
                "{name} partition {p}: {} of {} records of {}",
                mine.len(),
                keys.len(),
                keys[0]
            );
            assert_eq!(mine, *keys, "{name} partition {p}: out of order");
            extra.retain(|k| !keys.contains(k));
        }
    }
    extra
}

/// Two clusters mirroring `orders` both ways while both take writes; then a restart as a group
/// of two members per flow, with new producer ids, and more writes.
async fn two_clusters_both_ways_each_record_once(kind: BrokerKind) {
    let pair = Pair::start(kind).await;
    for cluster in [&pair.primary, &pair.backup] {
        create_topic(cluster, TOPIC, PARTITIONS).await;
    }
    let properties = pair.properties(&format!("topics = {TOPIC}\n{IDENTITY}{DETECTION}"));
    let mirror = start_mirror(&properties);

    let on_primary = tokio::spawn(application(pair.primary.clone(), "primary", 0..40));
    let on_backup = tokio::spawn(application(pair.backup.clone(), "backup", 0..40));
    // The Java client's transactions on backup: 2 committed of 20 records and 2 aborted of 5
    // per partition (aborted records are never mirrored).
    java_produce_transactions(&pair.backup_node.bootstrap(), TOPIC, PARTITIONS, 20, 5);
    let mut primary_written = on_primary.await.unwrap();
    let mut backup_written = on_backup.await.unwrap();
    let expected = [&primary_written, &backup_written];
    wait_for_all(&pair.primary, &expected).await;
    wait_for_all(&pair.backup, &expected).await;
    // The Java transactions' committed keys, as the cluster they were written to reads them.
    let java_keys = check_each_once(&pair.backup_node, "backup", &expected);
    assert_eq!(
        java_keys.len(),
        2 * 20 * PARTITIONS as usize,
        "committed Java records on backup"
    );
    let on_primary_java = check_each_once(&pair.primary_node, "primary", &expected);
    assert_eq!(
        sorted(on_primary_java),
        sorted(java_keys.clone()),
        "Java records on primary"
    );
    for flow in ["primary->backup", "backup->primary"] {
        let stats = flow_stats(&mirror, flow);
        assert!(
            stats.cycle > 0,
            "{flow}: batches recognised as mirrored back: {stats:?}"
        );
    }
    shutdown(mirror).await;
    let registered = [
        read_writers(&pair.primary).await.unwrap().len(),
        read_writers(&pair.backup).await.unwrap().len(),
    ];
    assert!(
        registered
            .iter()
            .all(|&n| (1..PARTITIONS as usize).contains(&n)),
        "{WRITERS_TOPIC}: the flow's producers, shared by its partitions, on each cluster: {registered:?}"
    );

    // A restart as two members of each flow's group: each member takes new producer ids.
    let members = [start_mirror(&properties), start_mirror(&properties)];
    for flow in [("primary", "backup"), ("backup", "primary")] {
        wait_for_two_members(&members, flow).await;
    }
    let on_primary = tokio::spawn(application(pair.primary.clone(), "primary", 40..60));
    let on_backup = tokio::spawn(application(pair.backup.clone(), "backup", 40..60));
    merge(&mut primary_written, on_primary.await.unwrap());
    merge(&mut backup_written, on_backup.await.unwrap());
    let expected = [&primary_written, &backup_written];
    wait_for_all(&pair.primary, &expected).await;
    wait_for_all(&pair.backup, &expected).await;
    let java_again = check_each_once(&pair.backup_node, "backup after the restart", &expected);
    assert_eq!(sorted(java_again), sorted(java_keys.clone()));
    let on_primary_java =
        check_each_once(&pair.primary_node, "primary after the restart", &expected);
    assert_eq!(sorted(on_primary_java), sorted(java_keys));
    for member in members {
        shutdown(member).await;
    }
    let after = [
        read_writers(&pair.primary).await.unwrap().len(),
        read_writers(&pair.backup).await.unwrap().len(),
    ];
    assert!(
        after.iter().zip(registered).all(|(a, r)| *a > r),
        "the restarted members registered new producer ids: {registered:?} -> {after:?}"
    );
}

/// Waits until flow `source->target` runs in a stable group of the two `members`, each with
/// partitions of its own and none being handed over.
async fn wait_for_two_members(
    members: &[strait_mirror::engine::Mirror],
    (source, target): (&str, &str),
) {
    eventually(
        &format!("{source}->{target} shared by two members"),
        || async {
            let mut owned = Vec::new();
            for member in members {
                let status = member.flow(source, target).expect("the flow").status();
                let Some(group) = status.group else {
                    return Err("no group".to_owned());
                };
                let mine = group
                    .members
                    .get(&group.member_id)
                    .map_or(0, |m| m.partitions.values().map(Vec::len).sum::<usize>());
                if group.state != "stable" || group.members.len() != 2 || group.held_back > 0 {
                    return Err(format!(
                        "{} {} members, {} held back",
                        group.state,
                        group.members.len(),
                        group.held_back
                    ));
                }
                owned.push(mine);
            }
            match owned.iter().all(|&n| n > 0) {
                true => Ok(()),
                false => Err(format!("partitions per member {owned:?}")),
            }
        },
    )
    .await;
}

/// Clusters a, b and c in a line, each link mirrored both ways (a<->b, b<->c), all three taking
/// writes: a's records reach c through b (relayed under a producer registered with the path
/// a,b), and nothing returns to a cluster it was on.
async fn three_clusters_in_a_line_each_record_once(kind: BrokerKind) {
    let (clusters, mirror, _nodes) = three_clusters(kind, &["a->b", "b->a", "b->c", "c->b"]).await;
    let relayed = flow_stats(&mirror, "b->c");
    assert!(
        relayed.cycle > 0,
        "b->c left c's own records on b alone: {relayed:?}"
    );
    shutdown(mirror).await;
    let id = |i: usize| clusters[i].metadata().cluster_id.clone().unwrap();
    assert_eq!(
        registered_paths(&clusters[2]).await,
        sorted(vec![vec![id(1)], vec![id(0), id(1)]]),
        "on c: b's own records, and a's relayed through b"
    );
}

/// Clusters a, b and c in a one-way ring (a->b->c->a), all three taking writes: each record
/// goes round once and stops before the cluster it was first written to, which only the whole
/// path tells (the last hop alone would let it go round forever).
async fn three_clusters_in_a_ring_each_record_once(kind: BrokerKind) {
    let (clusters, mirror, _nodes) = three_clusters(kind, &["a->b", "b->c", "c->a"]).await;
    for flow in ["a->b", "b->c", "c->a"] {
        let stats = flow_stats(&mirror, flow);
        assert!(stats.cycle > 0, "{flow} sent nothing back round: {stats:?}");
    }
    shutdown(mirror).await;
    let id = |i: usize| clusters[i].metadata().cluster_id.clone().unwrap();
    assert_eq!(
        registered_paths(&clusters[0]).await,
        sorted(vec![vec![id(2)], vec![id(1), id(2)]]),
        "on a: c's own records, and b's relayed through c"
    );
}

/// Three single-broker clusters a, b, c with `orders`, mirrored by one strait along `flows`
/// while an application writes on each; returns once every cluster holds every record once
/// (the Java consumer's view), with the clients and the running mirror.
async fn three_clusters(
    kind: BrokerKind,
    flows: &[&str],
) -> (
    Vec<Cluster>,
    strait_mirror::engine::Mirror,
    Vec<TestCluster>,
) {
    let nodes = tokio::task::spawn_blocking(move || strait_testkit::start_clusters(kind, 3))
        .await
        .unwrap()
        .expect("three test clusters start");
    let names = ["a", "b", "c"];
    let mut clusters = Vec::new();
    for (name, node) in names.iter().zip(&nodes) {
        let cluster = connect(name, &node.bootstrap()).await;
        create_topic(&cluster, TOPIC, PARTITIONS).await;
        clusters.push(cluster);
    }
    let flows: String = flows
        .iter()
        .map(|f| format!("{f}.enabled = true\n"))
        .collect();
    let properties = format!(
        "clusters = a, b, c\n\
         a.bootstrap.servers = {}\nb.bootstrap.servers = {}\nc.bootstrap.servers = {}\n\
         {flows}topics = {TOPIC}\n{IDENTITY}{DETECTION}{ONE_REPLICA}\
         refresh.topics.interval.seconds = 1\nemit.heartbeats.enabled = false\n\
         emit.checkpoints.enabled = false\nsync.topic.acls.enabled = false\n",
        nodes[0].bootstrap(),
        nodes[1].bootstrap(),
        nodes[2].bootstrap(),
    );
    let mirror = start_mirror(&properties);
    let apps: Vec<_> = names
        .into_iter()
        .zip(&clusters)
        .map(|(name, cluster)| tokio::spawn(application(cluster.clone(), name, 0..30)))
        .collect();
    let mut written = Vec::new();
    for app in apps {
        written.push(app.await.unwrap());
    }
    let expected: Vec<&Written> = written.iter().collect();
    for (cluster, (name, node)) in clusters.iter().zip(names.iter().zip(&nodes)) {
        wait_for_all(cluster, &expected).await;
        let extra = check_each_once(node, name, &expected);
        assert!(extra.is_empty(), "{name}: records nobody wrote: {extra:?}");
    }
    (clusters, mirror, nodes)
}

/// The distinct paths registered on `cluster`, sorted.
async fn registered_paths(cluster: &Cluster) -> Vec<Vec<String>> {
    let mut paths: Vec<_> = read_writers(cluster).await.unwrap().into_values().collect();
    paths.sort();
    paths.dedup();
    paths
}

/// Without `strait.cycle.detection`, identity naming detects no cycle, as in MM2: a record goes
/// to backup and comes back to primary, and the log says why.
async fn identity_without_detection_loops_as_mm2_and_says_so(kind: BrokerKind) {
    let logs = capture_logs("strait_mirror=info");
    let pair = Pair::start(kind).await;
    for cluster in [&pair.primary, &pair.backup] {
        create_topic(cluster, TOPIC, 1).await;
    }
    let properties = pair.properties(&format!("topics = {TOPIC}\n{IDENTITY}"));
    let mirror = start_mirror(&properties);
    let producer = Producer::idempotent(&pair.primary).await.unwrap();
    let records = fixture_records("once", 0, 5);
    produce(&producer, TOPIC, 0, Compression::None, &records).await;
    // Written once on primary, it comes back from backup: more than 5 records on primary.
    wait_for_records(&pair.primary, TOPIC, 10).await;
    shutdown(mirror).await;
    let text = logs.text();
    assert!(
        text.contains("IdentityReplicationPolicy keeps topic names, so cycles are not detected")
            && text.contains("strait.cycle.detection = producer.id"),
        "the warning:\n{text}"
    );
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}
