//! Heartbeat records (`heartbeats` on a flow's target cluster).

use strait_kafka::Cluster;

use super::producer::{build_batch, SharedProducer};
use super::topics::ensure_compacted_topic;
use super::InternalTopicError;
use crate::formats::Heartbeat;

/// Writes the heartbeats of one source→target flow to partition 0 of the heartbeats topic.
#[derive(Debug)]
pub struct HeartbeatEmitter {
    producer: SharedProducer,
    source_alias: String,
    target_alias: String,
}

impl HeartbeatEmitter {
    /// Creates the topic if missing (compacted, 1 partition) and obtains a producer.
    pub async fn open(
        target: &Cluster,
        topic: &str,
        replication_factor: i16,
        source_alias: &str,
        target_alias: &str,
    ) -> Result<HeartbeatEmitter, InternalTopicError> {
        ensure_compacted_topic(target, topic, 1, replication_factor).await?;
        Ok(HeartbeatEmitter {
            producer: SharedProducer::open(target, topic).await?,
            source_alias: source_alias.to_owned(),
            target_alias: target_alias.to_owned(),
        })
    }

    /// Writes one heartbeat stamped `timestamp_ms` (value and record timestamp) and waits for
    /// the ack.
    pub async fn emit(&self, timestamp_ms: i64) -> Result<(), InternalTopicError> {
        let heartbeat = Heartbeat {
            source_cluster_alias: self.source_alias.clone(),
            target_cluster_alias: self.target_alias.clone(),
            timestamp: timestamp_ms,
        };
        let key = heartbeat
            .record_key()
            .map_err(|source| InternalTopicError::Format {
                cluster: self.producer.cluster().name().to_owned(),
                topic: self.producer.topic().to_owned(),
                source,
            })?;
        let record = (key, Some(heartbeat.record_value()));
        let batch = build_batch(&self.producer, 0, vec![record], timestamp_ms)?;
        self.producer.send_one(0, batch).await
    }

    /// The heartbeats topic.
    pub fn topic(&self) -> &str {
        self.producer.topic()
    }
}
