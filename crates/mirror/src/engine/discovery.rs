//! Which source topics a flow mirrors, and their remote topics on the target: created with the
//! source's partition count and topic configs, grown when the source grows.

use std::collections::{BTreeMap, HashSet};

use strait_kafka::{AlterOp, Cluster, ConfigEntry, ConfigResource, ConfigSource, NewTopic};

use super::config_sync::{alter_one_by_one, is_rejected_value};
use super::error::EngineError;
use super::pipeline::PartitionRoute;
use crate::config::FlowConfig;
use crate::filter::{should_replicate_topic, PatternList};

/// Kafka's default `max.message.bytes`, used when the target does not report it.
const DEFAULT_MAX_MESSAGE_BYTES: usize = 1_048_588;

/// What one discovery pass found.
pub(crate) struct Discovery {
    /// Partitions to mirror (their remote topics exist).
    pub(crate) routes: Vec<PartitionRoute>,
    /// Source topics the flow selects, whether or not their remote is ready yet.
    pub(crate) selected: HashSet<String>,
    /// Remote topics on the target whose source topic no longer exists (left alone, like MM2).
    pub(crate) orphaned: Vec<String>,
}

/// Finds the partitions to mirror and makes sure their remote topics exist and are large enough.
pub(crate) async fn discover(
    flow: &FlowConfig,
    source: &Cluster,
    target: &Cluster,
) -> Result<Discovery, EngineError> {
    let source_meta = source.refresh_metadata().await?;
    let target_meta = target.refresh_metadata().await?;
    let excluded_configs = PatternList::new(&flow.config_properties_exclude)
        .map_err(|e| EngineError::Unsupported(e.to_string()))?;
    let mut routes = Vec::new();
    let mut selected = HashSet::new();
    for topic in source_meta.topics.values() {
        if topic.error.is_some()
            || !should_replicate_topic(
                &flow.policy,
                &flow.topic_filter,
                &flow.target,
                flow.heartbeats_replication_enabled,
                &topic.name,
            )
        {
            continue;
        }
        selected.insert(topic.name.clone());
        let partitions = topic.partitions.len() as i32;
        let remote = flow.policy.format_remote_topic(&flow.source, &topic.name);
        let remote_partitions = target_meta
            .topic(&remote)
            .map(|t| t.partitions.len() as i32);
        let ready = match remote_partitions {
            None => {
                create_remote(
                    flow,
                    source,
                    target,
                    &topic.name,
                    &remote,
                    partitions,
                    &excluded_configs,
                )
                .await
            }
            Some(n) if n < partitions => {
                tracing::info!(flow = %label(flow), topic = %remote, "growing remote topic from {n} to {partitions} partitions");
                target
                    .create_partitions(&remote, partitions)
                    .await
                    .map_err(EngineError::from)
            }
            Some(_) => Ok(()),
        };
        if let Err(e) = ready {
            tracing::warn!(flow = %label(flow), topic = %topic.name, "remote topic {remote} not ready, retrying at the next refresh: {e}");
            continue;
        }
        let max_batch_bytes = max_message_bytes(target, &remote).await;
        routes.extend((0..partitions).map(|partition| PartitionRoute {
            topic: topic.name.clone(),
            partition,
            remote_topic: remote.clone(),
            max_batch_bytes,
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

/// The (source topic, remote topic) pairs of a flow whose remote topic exists on the target:
/// what config and ACL sync keep in step.
pub(crate) async fn replicated_topics(
    flow: &FlowConfig,
    source: &Cluster,
    target: &Cluster,
) -> Result<Vec<(String, String)>, EngineError> {
    let source_meta = source.refresh_metadata().await?;
    let target_meta = target.refresh_metadata().await?;
    Ok(source_meta
        .topics
        .values()
        .filter(|t| t.error.is_none())
        .filter(|t| {
            should_replicate_topic(
                &flow.policy,
                &flow.topic_filter,
                &flow.target,
                flow.heartbeats_replication_enabled,
                &t.name,
            )
        })
        .map(|t| {
            (
                t.name.clone(),
                flow.policy.format_remote_topic(&flow.source, &t.name),
            )
        })
        .filter(|(_, remote)| target_meta.topic(remote).is_some())
        .collect())
}

async fn create_remote(
    flow: &FlowConfig,
    source: &Cluster,
    target: &Cluster,
    topic: &str,
    remote: &str,
    partitions: i32,
    excluded: &PatternList,
) -> Result<(), EngineError> {
    let entries = source
        .describe_configs(&ConfigResource::Topic(topic.to_owned()))
        .await
        .unwrap_or_default();
    let configs = creation_configs(&entries, excluded);
    let spec = NewTopic {
        configs: configs.clone().into_iter().collect(),
        replication_factor: flow.replication_factor,
        ..NewTopic::new(remote, partitions)
    };
    match target.create_topic(&spec).await {
        Ok(()) => {
            tracing::info!(flow = %label(flow), "created remote topic {remote} ({partitions} partitions, configs {configs:?})");
            Ok(())
        }
        Err(e) if e.code() == Some(strait_kafka::ResponseError::TopicAlreadyExists) => Ok(()),
        // A property the target refuses (say one Kafka 4 removed) must not keep the topic
        // from existing: create it with the target's defaults, then set what it accepts.
        Err(e) if !configs.is_empty() && is_rejected_value(&e) => {
            tracing::warn!(flow = %label(flow), "{} refused the configs of new remote topic {remote} ({e}); creating it with the target's defaults and setting them one by one", flow.target);
            let bare = NewTopic {
                configs: Vec::new(),
                ..spec
            };
            match target.create_topic(&bare).await {
                Ok(()) => {}
                Err(e) if e.code() == Some(strait_kafka::ResponseError::TopicAlreadyExists) => {}
                Err(e) => return Err(e.into()),
            }
            let set = set_one_by_one(flow, target, remote, configs).await;
            tracing::info!(flow = %label(flow), "created remote topic {remote} ({partitions} partitions, configs {set:?})");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Sets each of `configs` on `remote` alone, so one refused property holds back no other;
/// returns the ones the target took.
async fn set_one_by_one(
    flow: &FlowConfig,
    target: &Cluster,
    remote: &str,
    configs: BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let resource = ConfigResource::Topic(remote.to_owned());
    let ops: Vec<(String, AlterOp)> = configs
        .iter()
        .map(|(name, value)| (name.clone(), AlterOp::Set(value.clone())))
        .collect();
    let results = alter_one_by_one(target, &resource, &ops).await;
    let mut set = BTreeMap::new();
    for ((name, value), result) in configs.into_iter().zip(results) {
        match result {
            Ok(()) => {
                set.insert(name, value);
            }
            Err(e) => {
                tracing::warn!(flow = %label(flow), "{} refused {name}={value} on remote topic {remote}, left at its default: {e}", flow.target)
            }
        }
    }
    set
}

/// The source topic configs a new remote topic gets (MM2's creation set): explicitly set,
/// not read-only, not sensitive, not from the broker's static config, not excluded.
pub(crate) fn creation_configs(
    entries: &[ConfigEntry],
    excluded: &PatternList,
) -> BTreeMap<String, String> {
    entries
        .iter()
        .filter(|e| !e.read_only && !e.sensitive && !e.is_default)
        .filter(|e| !matches!(e.source, ConfigSource::Default | ConfigSource::StaticBroker))
        .filter(|e| !excluded.matches(&e.name))
        .filter_map(|e| Some((e.name.clone(), e.value.clone()?)))
        .collect()
}

async fn max_message_bytes(target: &Cluster, remote: &str) -> usize {
    let entries = target
        .describe_configs(&ConfigResource::Topic(remote.to_owned()))
        .await
        .unwrap_or_default();
    entries
        .iter()
        .find(|e| e.name == "max.message.bytes")
        .and_then(|e| e.value.as_deref()?.parse().ok())
        .unwrap_or(DEFAULT_MAX_MESSAGE_BYTES)
}

fn label(flow: &FlowConfig) -> String {
    format!("{}->{}", flow.source, flow.target)
}
