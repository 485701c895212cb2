//! Offset-sync records (`mm2-offset-syncs.<alias>.internal`): writing them in order, and
//! reading them back.

use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use strait_kafka::batch::{Header, RawBatch, Record};
use strait_kafka::Cluster;

use super::producer::{build_records_batch, send_batches, SharedProducer};
use super::read::read_partitions;
use super::topics::ensure_compacted_topic;
use super::InternalTopicError;
use crate::clock::now_ms;
use crate::formats::{ClaimedSync, OffsetSync, EXACT_SINCE_HEADER};

/// Most offset syncs written in one batch.
pub const MAX_SYNCS_PER_BATCH: usize = 500;

/// Queues offset syncs and writes them, in order, to partition 0 of the offset-syncs topic.
#[derive(Debug)]
pub struct OffsetSyncWriter {
    producer: SharedProducer,
    queue: Mutex<Vec<ClaimedSync>>,
}

impl OffsetSyncWriter {
    /// Creates the topic if missing (compacted, 1 partition) and obtains a producer.
    pub async fn open(
        cluster: &Cluster,
        topic: &str,
        replication_factor: i16,
    ) -> Result<OffsetSyncWriter, InternalTopicError> {
        ensure_compacted_topic(cluster, topic, 1, replication_factor).await?;
        Ok(OffsetSyncWriter {
            producer: SharedProducer::open(cluster, topic).await?,
            queue: Mutex::default(),
        })
    }

    /// Queues a sync (in memory; every queued sync is written, in queue order).
    pub fn queue(&self, sync: impl Into<ClaimedSync>) {
        self.queued().push(sync.into());
    }

    /// How many syncs wait for the next flush.
    pub fn pending(&self) -> usize {
        self.queued().len()
    }

    /// Writes the queued syncs to partition 0 in order (uncompressed batches of up to
    /// [`MAX_SYNCS_PER_BATCH`]) and waits for the acks; returns how many were written. After a
    /// failure the syncs not known to be written stay queued, ahead of newer ones.
    pub async fn flush(&self) -> Result<usize, InternalTopicError> {
        let mut guard = self.producer.lock().await;
        let taken = std::mem::take(&mut *self.queued());
        if taken.is_empty() {
            return Ok(0);
        }
        let result = match self.batches(&taken) {
            Ok(batches) => match guard.producer().await {
                Ok(producer) => send_batches(&self.producer, producer, &batches).await,
                Err(e) => Err((0, e)),
            },
            Err(e) => Err((0, e)),
        };
        if let Err((first_unsent, e)) = result {
            guard.discard();
            let mut queue = self.queued();
            let newer = std::mem::take(&mut *queue);
            queue.extend(taken.into_iter().skip(first_unsent * MAX_SYNCS_PER_BATCH));
            queue.extend(newer);
            return Err(e);
        }
        Ok(taken.len())
    }

    /// The offset-syncs topic.
    pub fn topic(&self) -> &str {
        self.producer.topic()
    }

    fn batches(&self, syncs: &[ClaimedSync]) -> Result<Vec<(i32, RawBatch)>, InternalTopicError> {
        let timestamp = now_ms();
        syncs
            .chunks(MAX_SYNCS_PER_BATCH)
            .map(|chunk| {
                let records = chunk
                    .iter()
                    .zip(0..)
                    .map(|(s, offset)| self.record(s, offset, timestamp))
                    .collect::<Result<_, InternalTopicError>>()?;
                Ok((0, build_records_batch(&self.producer, 0, records)?))
            })
            .collect()
    }

    fn record(
        &self,
        claimed: &ClaimedSync,
        offset: i64,
        timestamp: i64,
    ) -> Result<Record, InternalTopicError> {
        let headers = claimed
            .header_value()
            .map(|value| Header {
                key: Bytes::from_static(EXACT_SINCE_HEADER.as_bytes()),
                value: Some(Bytes::from(value)),
            })
            .into_iter()
            .collect();
        Ok(Record {
            offset,
            timestamp,
            key: Some(Bytes::from(self.key(&claimed.sync)?)),
            value: Some(Bytes::from(claimed.sync.record_value())),
            headers,
        })
    }

    fn key(&self, sync: &OffsetSync) -> Result<Vec<u8>, InternalTopicError> {
        sync.record_key()
            .map_err(|source| InternalTopicError::Format {
                cluster: self.producer.cluster().name().to_owned(),
                topic: self.producer.topic().to_owned(),
                source,
            })
    }

    fn queued(&self) -> MutexGuard<'_, Vec<ClaimedSync>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Every offset sync in partition 0 of `topic`, in offset order; records that do not decode
/// (null key or value included) are skipped with a warning.
pub async fn read_offset_syncs(
    cluster: &Cluster,
    topic: &str,
) -> Result<Vec<OffsetSync>, InternalTopicError> {
    let records = read_partitions(cluster, topic, &[0]).await?;
    Ok(records
        .into_iter()
        .filter_map(|(_, record)| {
            let (Some(key), Some(value)) = (record.key.as_deref(), record.value.as_deref()) else {
                tracing::warn!(
                    cluster = cluster.name(),
                    topic,
                    offset = record.offset,
                    "skipping offset sync with a null key or value"
                );
                return None;
            };
            OffsetSync::decode(key, value)
                .map_err(|e| {
                    tracing::warn!(
                        cluster = cluster.name(),
                        topic,
                        offset = record.offset,
                        "skipping undecodable offset sync: {e}"
                    );
                })
                .ok()
        })
        .collect())
}

/// The claim a sync record carries in its [`EXACT_SINCE_HEADER`] header, if any.
pub fn exact_since(headers: &[Header]) -> Option<i64> {
    ClaimedSync::parse_header(super::header_text(headers, EXACT_SINCE_HEADER)?.as_bytes())
}
