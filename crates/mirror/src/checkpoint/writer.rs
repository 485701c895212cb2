//! Writing checkpoint records to partition 0 of `<source>.checkpoints.internal`.

use strait_kafka::Cluster;

use crate::formats::Checkpoint;
use crate::internal::{build_batch, ensure_compacted_topic, InternalTopicError, SharedProducer};

/// Writes checkpoints (never tombstones) with an idempotent producer.
#[derive(Debug)]
pub struct CheckpointWriter {
    producer: SharedProducer,
}

impl CheckpointWriter {
    /// Creates the topic if missing (compacted, 1 partition) and obtains a producer.
    pub async fn open(
        target: &Cluster,
        topic: &str,
        replication_factor: i16,
    ) -> Result<CheckpointWriter, InternalTopicError> {
        ensure_compacted_topic(target, topic, 1, replication_factor).await?;
        Ok(CheckpointWriter {
            producer: SharedProducer::open(target, topic).await?,
        })
    }

    /// Writes `checkpoints` as one batch stamped `timestamp_ms` and waits for the ack.
    pub async fn write(
        &self,
        checkpoints: &[Checkpoint],
        timestamp_ms: i64,
    ) -> Result<(), InternalTopicError> {
        if checkpoints.is_empty() {
            return Ok(());
        }
        let format = |source| InternalTopicError::Format {
            cluster: self.producer.cluster().name().to_owned(),
            topic: self.producer.topic().to_owned(),
            source,
        };
        let records = checkpoints
            .iter()
            .map(|c| {
                Ok((
                    c.record_key().map_err(format)?,
                    Some(c.record_value().map_err(format)?),
                ))
            })
            .collect::<Result<Vec<_>, InternalTopicError>>()?;
        let batch = build_batch(&self.producer, 0, records, timestamp_ms)?;
        self.producer.send_one(0, batch).await
    }

    /// The checkpoints topic.
    pub fn topic(&self) -> &str {
        self.producer.topic()
    }
}
