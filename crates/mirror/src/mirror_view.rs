//! What MM2's `MirrorClient` (and `RemoteClusterUtils`) answer about a cluster, computed from
//! its topic list: upstream clusters and their hops, heartbeat, checkpoint and remote topics.

use std::collections::{BTreeMap, BTreeSet};

use crate::policy::{count_hops_for_topic, ReplicationPolicy};

/// `MirrorClient`'s view of one cluster (spec §2.5), in sorted order.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MirrorView {
    /// `upstreamClusters()`: every cluster a heartbeats topic here came through.
    pub upstream_clusters: BTreeSet<String>,
    /// `replicationHops(alias)` for each upstream cluster: the fewest hops over heartbeat topics.
    pub replication_hops: BTreeMap<String, i32>,
    /// `heartbeatTopics()`: `heartbeats` and its replicas.
    pub heartbeat_topics: BTreeSet<String>,
    /// `checkpointTopics()`: `<alias>.checkpoints.internal` topics.
    pub checkpoint_topics: BTreeSet<String>,
    /// `remoteTopics()`, each with the cluster it was replicated from (`topicSource`).
    pub remote_topics: BTreeMap<String, String>,
}

impl MirrorView {
    /// The view of a cluster listing `topics` (as Kafka's `listTopics()`: no Kafka-internal
    /// topics such as `__consumer_offsets`), read with `policy`.
    pub fn of<'t>(policy: &ReplicationPolicy, topics: impl IntoIterator<Item = &'t str>) -> Self {
        let mut view = MirrorView::default();
        for topic in topics {
            if policy.is_heartbeats_topic(topic) {
                view.heartbeat_topics.insert(topic.to_owned());
                view.upstream_clusters.extend(all_sources(policy, topic));
            }
            if policy.is_checkpoints_topic(topic) {
                view.checkpoint_topics.insert(topic.to_owned());
            }
            if !policy.is_internal_topic(topic) {
                if let Some(source) = policy.topic_source(topic) {
                    view.remote_topics.insert(topic.to_owned(), source);
                }
            }
        }
        for alias in &view.upstream_clusters {
            let hops = view
                .heartbeat_topics
                .iter()
                .map(|t| count_hops_for_topic(policy, t, alias))
                .filter(|&h| h != -1)
                .min()
                .unwrap_or(-1);
            view.replication_hops.insert(alias.clone(), hops);
        }
        view
    }
}

/// `MirrorClient.allSources`: the chain of sources of a remote topic, cycle-guarded.
fn all_sources(policy: &ReplicationPolicy, topic: &str) -> BTreeSet<String> {
    let mut sources = BTreeSet::new();
    let mut topic = topic.to_owned();
    while let Some(source) = policy.topic_source(&topic) {
        if !sources.insert(source) {
            break;
        }
        match policy.upstream_topic(&topic) {
            Some(upstream) if upstream != topic => topic = upstream,
            _ => break,
        }
    }
    sources
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_two_hops_from_the_origin() {
        let topics = [
            "heartbeats",
            "primary.heartbeats",
            "east.primary.heartbeats",
            "primary.orders",
            "east.primary.orders",
            "orders",
            "primary.checkpoints.internal",
            "mm2-offsets.primary.internal",
            "mm2-offset-syncs.backup.internal",
        ];
        let view = MirrorView::of(&ReplicationPolicy::default(), topics);
        assert_eq!(
            view.upstream_clusters,
            ["east", "primary"].map(String::from).into()
        );
        assert_eq!(view.replication_hops["primary"], 1);
        assert_eq!(
            view.replication_hops["east"], 1,
            "east.primary.heartbeats is one hop from east"
        );
        assert_eq!(
            view.heartbeat_topics,
            [
                "east.primary.heartbeats",
                "heartbeats",
                "primary.heartbeats"
            ]
            .map(String::from)
            .into()
        );
        assert_eq!(
            view.checkpoint_topics,
            ["primary.checkpoints.internal".to_owned()].into()
        );
        let remote: Vec<(&str, &str)> = view
            .remote_topics
            .iter()
            .map(|(t, s)| (t.as_str(), s.as_str()))
            .collect();
        assert_eq!(
            remote,
            [
                ("east.primary.heartbeats", "east"),
                ("east.primary.orders", "east"),
                ("primary.heartbeats", "primary"),
                ("primary.orders", "primary")
            ]
        );
    }

    #[test]
    fn no_heartbeats_no_upstream() {
        let view = MirrorView::of(&ReplicationPolicy::default(), ["primary.orders"]);
        assert!(view.upstream_clusters.is_empty() && view.replication_hops.is_empty());
        assert_eq!(view.remote_topics.len(), 1);
    }
}
