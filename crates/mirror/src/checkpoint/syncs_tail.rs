//! Tailing partition 0 of the offset-syncs topic: each call returns the syncs appended since
//! the last one (from the log start the first time).

use std::time::Duration;

use strait_kafka::{Cluster, FetchOptions, FetchPosition, Isolation, OffsetSpec, ResponseError};

use crate::formats::{ClaimedSync, OffsetSync};
use crate::internal::{exact_since, InternalTopicError};

/// Bytes asked for per fetch.
const FETCH_BYTES: i32 = 4 * 1024 * 1024;

/// A reader that remembers where it stopped in the offset-syncs topic.
#[derive(Debug)]
pub struct SyncsTail {
    topic: String,
    next: i64,
}

impl SyncsTail {
    /// A reader of `topic` starting at its log start.
    pub fn new(topic: &str) -> SyncsTail {
        SyncsTail {
            topic: topic.to_owned(),
            next: 0,
        }
    }

    /// The offset-syncs topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The syncs appended since the last call, in offset order, read until a fetch brings
    /// nothing new (so a wrongly reported log end never hangs or truncates the read). A topic
    /// that does not exist yet reads as empty; undecodable records are skipped.
    pub async fn poll(
        &mut self,
        cluster: &Cluster,
    ) -> Result<Vec<ClaimedSync>, InternalTopicError> {
        let options = FetchOptions {
            max_wait: Duration::from_millis(50),
            isolation: Isolation::ReadUncommitted,
            ..FetchOptions::default()
        };
        let mut out = Vec::new();
        if !self.exists(cluster).await? {
            return Ok(out);
        }
        loop {
            let position = FetchPosition::new(&self.topic, 0, self.next, FETCH_BYTES);
            let fetched = match cluster.fetch(&position, &options).await {
                Ok(f) => f,
                Err(e) if e.code() == Some(ResponseError::UnknownTopicOrPartition) => {
                    return Ok(out)
                }
                Err(e) if e.code() == Some(ResponseError::OffsetOutOfRange) => {
                    self.next = self.log_start(cluster).await?;
                    continue;
                }
                Err(e) => {
                    let op = format!("fetch partition 0 at offset {}", self.next);
                    return Err(InternalTopicError::kafka(cluster, &self.topic, op, e));
                }
            };
            let mut progressed = false;
            for batch in fetched.batches() {
                let batch = batch.map_err(|e| {
                    InternalTopicError::batch(cluster, &self.topic, 0, "read batch", e)
                })?;
                if batch.next_offset() <= self.next {
                    continue;
                }
                let from = self.next;
                self.next = batch.next_offset();
                progressed = true;
                if batch.is_control() {
                    continue;
                }
                let decoded = batch.decode().map_err(|e| {
                    InternalTopicError::batch(cluster, &self.topic, 0, "decode batch", e)
                })?;
                for r in decoded.records.into_iter().filter(|r| r.offset >= from) {
                    let (Some(k), Some(v)) = (r.key.as_deref(), r.value.as_deref()) else {
                        continue;
                    };
                    match OffsetSync::decode(k, v) {
                        Ok(sync) => out.push(ClaimedSync {
                            sync,
                            exact_since: exact_since(&r.headers),
                        }),
                        Err(e) => tracing::warn!(
                            cluster = cluster.name(),
                            topic = self.topic,
                            offset = r.offset,
                            "skipping undecodable offset sync: {e}"
                        ),
                    }
                }
            }
            if !progressed {
                return Ok(out);
            }
        }
    }

    /// Whether the topic exists (a fetch of a missing topic would retry until it times out).
    async fn exists(&self, cluster: &Cluster) -> Result<bool, InternalTopicError> {
        let metadata = cluster
            .refresh_topics(&[self.topic.as_str()])
            .await
            .map_err(|e| InternalTopicError::kafka(cluster, &self.topic, "metadata", e))?;
        Ok(metadata
            .topic(&self.topic)
            .is_some_and(|t| t.error.is_none() && !t.partitions.is_empty()))
    }

    async fn log_start(&self, cluster: &Cluster) -> Result<i64, InternalTopicError> {
        let listed = cluster
            .list_offsets(
                &self.topic,
                &[0],
                OffsetSpec::Earliest,
                Isolation::ReadUncommitted,
            )
            .await
            .map_err(|e| {
                InternalTopicError::kafka(
                    cluster,
                    &self.topic,
                    "list earliest offset of partition 0",
                    e,
                )
            })?;
        Ok(listed.first().map_or(0, |(_, o)| o.offset.max(0)))
    }
}
