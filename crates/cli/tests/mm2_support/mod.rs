//! Scaffolding of the MM2 drop-in tests (mm2_interop.rs): two Kafka clusters with one
//! mm2.properties for MM2 and strait alike, MirrorMaker 2 started and stopped, and what both
//! write read back: progress, checkpoints, offset syncs, heartbeats, remote topics, and the Java
//! peer's translation.
#![allow(unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use strait_kafka::{Cluster, ConfigResource, ConfigSource};
use strait_mirror::formats::{
    parse_offset_value, Checkpoint, ConnectOffsetKey, Heartbeat, OffsetSync,
};
use strait_mirror::internal::{read_offset_syncs, read_topic};
use strait_testkit::{java_peer, BrokerKind, KafkaVersion, Mm2Options, Mm2Process, TestCluster};

use super::failover_support::*;

pub const REMOTE: &str = "primary.orders";
pub const PARTITIONS: [i32; 3] = [0, 1, 2];
pub const PROGRESS: &str = "mm2-offsets.primary.internal";
pub const SYNCS: &str = "mm2-offset-syncs.backup.internal";
pub const CHECKPOINTS: &str = "primary.checkpoints.internal";

/// mm2.properties for a one-way primary→backup mirror of `orders` and groups `drill-*`, as an
/// operator would write it for MM2: every interval 1 s, progress flushed every second.
pub fn mm2_properties(primary: &str, backup: &str) -> String {
    format!(
        "clusters = primary, backup\n\
         primary.bootstrap.servers = {primary}\n\
         backup.bootstrap.servers = {backup}\n\
         primary->backup.enabled = true\n\
         backup->primary.enabled = false\n\
         topics = {TOPIC}\n\
         groups = drill-.*\n\
         {ONE_REPLICA}\
         refresh.topics.interval.seconds = 1\n\
         refresh.groups.interval.seconds = 1\n\
         emit.checkpoints.interval.seconds = 1\n\
         emit.heartbeats.interval.seconds = 1\n\
         sync.topic.configs.interval.seconds = 1\n\
         sync.topic.acls.enabled = false\n\
         tasks.max = 2\n\
         backup.offset.flush.interval.ms = 1000\n\
         primary.offset.flush.interval.ms = 1000\n"
    )
}

/// Two single-broker Kafka clusters and one mm2.properties for MM2 and strait alike.
pub struct Env {
    // Held for the test's duration: dropping it stops the broker.
    _primary_node: TestCluster,
    pub backup_node: TestCluster,
    pub primary: Cluster,
    pub backup: Cluster,
    pub config: PathBuf,
    pub text: String,
}

impl Env {
    pub async fn start() -> Env {
        let (primary_node, backup_node) = start_two_nodes(BrokerKind::Kafka).await;
        let primary = connect("primary", &primary_node.bootstrap()).await;
        let backup = connect("backup", &backup_node.bootstrap()).await;
        let text = mm2_properties(&primary_node.bootstrap(), &backup_node.bootstrap());
        let config = backup_node.runtime_dir().join("mm2.properties");
        std::fs::write(&config, &text).unwrap();
        Env {
            _primary_node: primary_node,
            backup_node,
            primary,
            backup,
            config,
            text,
        }
    }

    pub async fn mm2(&self) -> Mm2Process {
        start_mm2(&self.text).await
    }
}

pub async fn start_mm2(properties: &str) -> Mm2Process {
    let properties = properties.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut mm2 = Mm2Process::start(
            &properties,
            Mm2Options {
                version: KafkaVersion::from_env(),
                ..Mm2Options::default()
            },
        )
        .expect("MirrorMaker 2 starts");
        mm2.wait_for_log("Kafka MirrorMaker started", DEADLINE)
            .expect("MirrorMaker 2 comes up");
        mm2
    })
    .await
    .unwrap()
}

pub async fn stop_mm2(mm2: &mut Mm2Process) {
    let how = tokio::task::block_in_place(|| mm2.stop());
    assert!(
        how.starts_with("exited"),
        "MM2 stops on SIGTERM: {how}\n{}",
        mm2.logs()
    );
}

/// The latest stored source position per partition of `orders` (Connect offsets, as MM2 and
/// strait store them), and the connector names the offsets topic holds entries for.
pub async fn progress(backup: &Cluster) -> (BTreeMap<i32, i64>, BTreeSet<&'static str>) {
    let mut positions = BTreeMap::new();
    let mut connectors = BTreeSet::new();
    let Ok(records) = read_topic(backup, PROGRESS).await else {
        return (positions, connectors);
    };
    for (_, record) in records {
        let key = ConnectOffsetKey::parse(record.key.as_deref().unwrap()).expect("progress key");
        connectors.insert(key.connector_name());
        if let ConnectOffsetKey::Source {
            topic, partition, ..
        } = key
        {
            if topic == TOPIC {
                if let Some(offset) = parse_offset_value(record.value.as_deref()).unwrap() {
                    positions.insert(partition, offset);
                }
            }
        }
    }
    (positions, connectors)
}

pub async fn wait_for_progress(backup: &Cluster, last: i64) {
    let want: BTreeMap<i32, i64> = PARTITIONS.iter().map(|&p| (p, last)).collect();
    let want = &want;
    eventually(
        &format!("progress at {last} for every partition"),
        || async move {
            let (positions, _) = progress(backup).await;
            (positions == *want)
                .then_some(())
                .ok_or(format!("{positions:?}"))
        },
    )
    .await
}

pub async fn checkpoints(backup: &Cluster) -> Vec<Checkpoint> {
    read_checkpoints(backup, CHECKPOINTS).await
}

/// The latest checkpoint of GROUP per remote partition.
pub fn latest(checkpoints: &[Checkpoint]) -> BTreeMap<i32, Checkpoint> {
    checkpoints
        .iter()
        .filter(|c| c.group == GROUP && c.topic == REMOTE)
        .map(|c| (c.partition, c.clone()))
        .collect()
}

/// Per remote partition of GROUP, checkpoints never go back (the group never rewound).
pub fn assert_monotonic_checkpoints(checkpoints: &[Checkpoint]) {
    let mut last: BTreeMap<(String, String, i32), (i64, i64)> = BTreeMap::new();
    for c in checkpoints {
        let key = (c.group.clone(), c.topic.clone(), c.partition);
        if let Some(&(up, down)) = last.get(&key) {
            assert!(
                c.upstream_offset >= up && c.downstream_offset >= down,
                "checkpoint {c} goes back from upstream {up} / downstream {down}"
            );
        }
        last.insert(key, (c.upstream_offset, c.downstream_offset));
    }
}

/// Per partition, offset syncs never go back on either side.
pub fn assert_monotonic_syncs(syncs: &[OffsetSync]) {
    let mut last: BTreeMap<(String, i32), (i64, i64)> = BTreeMap::new();
    for s in syncs {
        let key = (s.topic.clone(), s.partition);
        if let Some(&(up, down)) = last.get(&key) {
            assert!(
                s.upstream_offset >= up && s.downstream_offset >= down,
                "offset sync {s} goes back from {up} -> {down}"
            );
        }
        last.insert(key, (s.upstream_offset, s.downstream_offset));
    }
}

pub async fn syncs(primary: &Cluster) -> Vec<OffsetSync> {
    read_offset_syncs(primary, SYNCS).await.unwrap_or_default()
}

/// `RemoteClusterUtils.translateOffsets(backup, "primary", GROUP)` by the Java peer, per
/// remote partition.
pub fn java_translation(env: &Env) -> BTreeMap<(String, i32), i64> {
    let out = tokio::task::block_in_place(|| {
        java_peer(
            KafkaVersion::from_env(),
            &["translate", &env.backup_node.bootstrap(), "primary", GROUP],
        )
    })
    .expect("the Java peer translates");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).expect("JSON rows");
    rows.iter()
        .map(|r| {
            (
                (
                    r["topic"].as_str().unwrap().to_owned(),
                    r["partition"].as_i64().unwrap() as i32,
                ),
                r["offset"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The remote topics (`primary.*`) of a cluster with their partition counts.
pub async fn remote_topics(cluster: &Cluster) -> BTreeMap<String, usize> {
    let metadata = cluster.refresh_metadata().await.expect("metadata");
    metadata
        .topics
        .values()
        .filter(|t| t.name.starts_with("primary."))
        .map(|t| (t.name.clone(), t.partitions.len()))
        .collect()
}

/// A cluster's topic configs that were set on the topic (not defaults).
pub async fn topic_overrides(cluster: &Cluster, topic: &str) -> BTreeMap<String, String> {
    cluster
        .describe_configs(&ConfigResource::Topic(topic.into()))
        .await
        .expect("describe configs")
        .into_iter()
        .filter(|e| e.source == ConfigSource::DynamicTopic)
        .filter_map(|e| Some((e.name, e.value?)))
        .collect()
}

/// Heartbeats of a cluster as (source alias, target alias) pairs.
pub async fn heartbeat_flows(cluster: &Cluster) -> BTreeSet<(String, String)> {
    read_topic(cluster, "heartbeats")
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(_, r)| {
            let h = Heartbeat::decode(r.key.as_deref().unwrap(), r.value.as_deref().unwrap())
                .expect("heartbeat decodes");
            (h.source_cluster_alias, h.target_cluster_alias)
        })
        .collect()
}
