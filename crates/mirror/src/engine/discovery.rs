//! Which source partitions a flow mirrors and where they go; their remote topics are made
//! ready by `sync::topics` first.

use std::collections::HashSet;

use strait_kafka::Cluster;

use super::error::EngineError;
use crate::config::FlowConfig;
use crate::sync::{ensure_remote, max_message_bytes};

/// A source partition and where it goes.
#[derive(Debug, Clone)]
pub(crate) struct PartitionRoute {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) remote_topic: String,
    pub(crate) max_batch_bytes: usize,
    /// The source topic's id, if the source reports one (a re-created topic gets a new one).
    pub(crate) topic_id: Option<uuid::Uuid>,
}

/// What one discovery pass found.
pub(crate) struct Discovery {
    /// Partitions to mirror (their remote topics exist).
    pub(crate) routes: Vec<PartitionRoute>,
    /// Source topics the flow selects, whether or not their remote is ready yet.
    pub(crate) selected: HashSet<String>,
    /// Remote topics on the target whose source topic no longer exists (left alone, like MM2).
    pub(crate) orphaned: Vec<String>,
}

/// Finds the partitions to mirror. With `create_remote` (the process alone, or the group's
/// leader) it makes sure their remote topics exist and are large enough; without, it only
/// routes the partitions whose remote partition exists.
pub(crate) async fn discover(
    flow: &FlowConfig,
    source: &Cluster,
    target: &Cluster,
    create_remote: bool,
) -> Result<Discovery, EngineError> {
    let source_meta = source.refresh_metadata().await?;
    let target_meta = target.refresh_metadata().await?;
    let mut routes = Vec::new();
    let mut selected = HashSet::new();
    for topic in source_meta.topics.values() {
        if topic.error.is_some() || !flow.replicates_topic(&topic.name) {
            continue;
        }
        selected.insert(topic.name.clone());
        let partitions = topic.partitions.len() as i32;
        let remote = flow.policy.format_remote_topic(&flow.source, &topic.name);
        let existing = target_meta
            .topic(&remote)
            .map(|t| t.partitions.len() as i32);
        let names = (topic.name.as_str(), remote.as_str());
        let partitions = if create_remote {
            if let Err(e) = ensure_remote(flow, source, target, names, partitions, existing).await {
                tracing::warn!(flow = %flow.name(), topic = %topic.name, "remote topic {remote} not ready, retrying at the next refresh: {e}");
                continue;
            }
            partitions
        } else {
            match existing {
                Some(remote_partitions) => partitions.min(remote_partitions),
                None => continue,
            }
        };
        let max_batch_bytes = max_message_bytes(target, &remote).await;
        routes.extend((0..partitions).map(|partition| PartitionRoute {
            topic: topic.name.clone(),
            partition,
            remote_topic: remote.clone(),
            max_batch_bytes,
            topic_id: (!topic.id.is_nil()).then_some(topic.id),
        }));
    }
    let orphaned = target_meta
        .topics
        .keys()
        .filter(|remote| {
            // A remote topic of this flow: its name is what the policy makes of its upstream name.
            let upstream = match flow.policy.upstream_topic(remote) {
                Some(u) if u != **remote => u,
                _ => return false,
            };
            flow.policy.topic_source(remote).as_deref() == Some(flow.source.as_str())
                && flow.policy.format_remote_topic(&flow.source, &upstream) == **remote
                && !flow.policy.is_internal_topic(remote)
                && !source_meta.topics.contains_key(&upstream)
        })
        .cloned()
        .collect();
    Ok(Discovery {
        routes,
        selected,
        orphaned,
    })
}
