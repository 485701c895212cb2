//! Remote topics: created with the source's partition count and the source topic configs that
//! count, grown when the source grows, and listed for the config and ACL passes.

use std::collections::BTreeMap;

use strait_kafka::{AlterOp, Cluster, ConfigResource, NewTopic, ResponseError};

use super::config_rules::{alter_one_by_one, creation_configs, is_rejected_value};
use crate::config::FlowConfig;

/// Kafka's default `max.message.bytes`, used when the target does not report it.
const DEFAULT_MAX_MESSAGE_BYTES: usize = 1_048_588;

/// Makes sure `remote` exists on the target with at least `partitions` partitions; `existing`
/// is its partition count in the target's metadata (`None`: not there).
pub(crate) async fn ensure_remote(
    flow: &FlowConfig,
    source: &Cluster,
    target: &Cluster,
    (topic, remote): (&str, &str),
    partitions: i32,
    existing: Option<i32>,
) -> strait_kafka::Result<()> {
    match existing {
        None => create_remote(flow, source, target, topic, remote, partitions).await,
        Some(n) if n < partitions => {
            tracing::info!(flow = %flow.name(), topic = %remote, "growing remote topic from {n} to {partitions} partitions");
            target.grow_partitions(remote, n, partitions).await
        }
        Some(_) => Ok(()),
    }
}

/// The (source topic, remote topic) pairs of a flow whose remote topic exists on the target:
/// what config and ACL sync keep in step.
pub(crate) async fn replicated_topics(
    flow: &FlowConfig,
    source: &Cluster,
    target: &Cluster,
) -> strait_kafka::Result<Vec<(String, String)>> {
    let source_meta = source.refresh_metadata().await?;
    let target_meta = target.refresh_metadata().await?;
    Ok(source_meta
        .topics
        .values()
        .filter(|t| t.error.is_none() && flow.replicates_topic(&t.name))
        .map(|t| {
            (
                t.name.clone(),
                flow.policy.format_remote_topic(&flow.source, &t.name),
            )
        })
        .filter(|(_, remote)| target_meta.topic(remote).is_some())
        .collect())
}

/// The largest batch the target takes on `remote` (its `max.message.bytes`).
pub(crate) async fn max_message_bytes(target: &Cluster, remote: &str) -> usize {
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

async fn create_remote(
    flow: &FlowConfig,
    source: &Cluster,
    target: &Cluster,
    topic: &str,
    remote: &str,
    partitions: i32,
) -> strait_kafka::Result<()> {
    let label = flow.name();
    let entries = source
        .describe_configs(&ConfigResource::Topic(topic.to_owned()))
        .await
        .unwrap_or_default();
    let configs = creation_configs(&entries, &flow.excluded_configs);
    let spec = NewTopic {
        configs: configs.clone().into_iter().collect(),
        replication_factor: flow.replication_factor,
        ..NewTopic::new(remote, partitions)
    };
    match target.create_topic(&spec).await {
        Ok(()) => {
            tracing::info!(flow = %label, "created remote topic {remote} ({partitions} partitions, configs {configs:?})");
            Ok(())
        }
        Err(e) if e.code() == Some(ResponseError::TopicAlreadyExists) => Ok(()),
        // A property the target refuses (say one Kafka 4 removed) must not keep the topic
        // from existing: create it with the target's defaults, then set what it accepts.
        Err(e) if !configs.is_empty() && is_rejected_value(&e) => {
            tracing::warn!(flow = %label, "{} refused the configs of new remote topic {remote} ({e}); creating it with the target's defaults and setting them one by one", flow.target);
            let bare = NewTopic {
                configs: Vec::new(),
                ..spec
            };
            match target.create_topic(&bare).await {
                Ok(()) => {}
                Err(e) if e.code() == Some(ResponseError::TopicAlreadyExists) => {}
                Err(e) => return Err(e),
            }
            let set = set_one_by_one(flow, target, remote, configs).await;
            tracing::info!(flow = %label, "created remote topic {remote} ({partitions} partitions, configs {set:?})");
            Ok(())
        }
        Err(e) => Err(e),
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
                tracing::warn!(flow = %flow.name(), "{} refused {name}={value} on remote topic {remote}, left at its default: {e}", flow.target)
            }
        }
    }
    set
}
