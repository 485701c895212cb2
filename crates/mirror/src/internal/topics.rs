//! Creating internal topics like MM2's `MirrorUtils.createCompactedTopic`, and finding their
//! partitions.

use std::time::{Duration, Instant};

use strait_kafka::{Cluster, Error, NewTopic, ResponseError, RetryPolicy};

use super::InternalTopicError;

/// Creates `name` with `cleanup.policy=compact` (and no other config) unless it exists.
///
/// Like MM2, TOPIC_ALREADY_EXISTS, UNSUPPORTED_VERSION, CLUSTER_AUTHORIZATION_FAILED and
/// TOPIC_AUTHORIZATION_FAILED count as success. Unlike MM2, INVALID_REPLICATION_FACTOR on a
/// cluster with fewer brokers than `replication_factor` is retried once with the broker default
/// (-1), with a warning, so single-broker development clusters work.
pub async fn ensure_compacted_topic(
    cluster: &Cluster,
    name: &str,
    partitions: i32,
    replication_factor: i16,
) -> Result<(), InternalTopicError> {
    let spec = NewTopic {
        name: name.to_owned(),
        partitions,
        replication_factor,
        configs: vec![("cleanup.policy".into(), "compact".into())],
    };
    let first = cluster.create_topic(&spec).await;
    let result = match first {
        Err(e) if e.code() == Some(ResponseError::InvalidReplicationFactor) => {
            let brokers = cluster.metadata().brokers.len();
            if brokers >= usize::try_from(replication_factor).unwrap_or(0) {
                return Err(create_error(cluster, name, e));
            }
            tracing::warn!(
                cluster = cluster.name(),
                topic = name,
                replication_factor,
                brokers,
                "cluster {} has {brokers} broker(s), fewer than replication factor \
                 {replication_factor} for internal topic {name}; creating it with the broker \
                 default replication factor instead",
                cluster.name()
            );
            cluster
                .create_topic(&NewTopic {
                    replication_factor: -1,
                    ..spec
                })
                .await
        }
        other => other,
    };
    match result {
        Ok(()) => {
            tracing::info!(
                cluster = cluster.name(),
                topic = name,
                partitions,
                "created compacted internal topic {name}"
            );
            Ok(())
        }
        Err(e) if counts_as_created(&e) => {
            tracing::debug!(
                cluster = cluster.name(),
                topic = name,
                "not creating internal topic {name}: {e}"
            );
            Ok(())
        }
        Err(e) => Err(create_error(cluster, name, e)),
    }
}

/// MM2's `MirrorUtils.createCompactedTopic` treats these outcomes as "nothing to do".
fn counts_as_created(e: &Error) -> bool {
    matches!(e, Error::UnsupportedApi { .. })
        || matches!(
            e.code(),
            Some(
                ResponseError::TopicAlreadyExists
                    | ResponseError::UnsupportedVersion
                    | ResponseError::ClusterAuthorizationFailed
                    | ResponseError::TopicAuthorizationFailed
            )
        )
}

fn create_error(cluster: &Cluster, topic: &str, source: Error) -> InternalTopicError {
    InternalTopicError::Create {
        cluster: cluster.name().to_owned(),
        topic: topic.to_owned(),
        source: Box::new(source),
    }
}

/// The partition count of `topic` once metadata shows it with a leader for every partition
/// (waiting up to the cluster's request timeout, e.g. while another node creates it).
pub(crate) async fn partition_count(
    cluster: &Cluster,
    topic: &str,
) -> Result<i32, InternalTopicError> {
    let deadline = Instant::now() + cluster.config().request_timeout;
    let retry = RetryPolicy::until_stopped(Duration::from_millis(50), Duration::from_secs(1));
    let mut attempt = 0;
    loop {
        attempt += 1;
        let reason = match cluster.refresh_topics(&[topic]).await {
            Ok(metadata) => match metadata.topic(topic) {
                Some(t) if !t.partitions.is_empty() => {
                    let led = t
                        .partitions
                        .iter()
                        .filter(|p| metadata.leader(topic, p.partition).is_some())
                        .count();
                    if led == t.partitions.len() {
                        return i32::try_from(led).map_err(|_| {
                            unavailable(cluster, topic, "too many partitions".into())
                        });
                    }
                    format!("{led} of {} partitions have a leader", t.partitions.len())
                }
                Some(_) => "metadata shows no partitions".to_owned(),
                None => match metadata.topics.get(topic).and_then(|t| t.error) {
                    Some(code) => format!("metadata reports {code}"),
                    None => "metadata does not show it".to_owned(),
                },
            },
            Err(e) => e.to_string(),
        };
        let backoff = retry.nominal(attempt);
        if Instant::now() + backoff > deadline {
            return Err(unavailable(cluster, topic, reason));
        }
        tokio::time::sleep(backoff).await;
    }
}

fn unavailable(cluster: &Cluster, topic: &str, reason: String) -> InternalTopicError {
    InternalTopicError::Unavailable {
        cluster: cluster.name().to_owned(),
        topic: topic.to_owned(),
        reason,
    }
}
