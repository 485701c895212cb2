//! Errors of the engine: each names the flow's cluster, topic, partition or offset involved.

use strait_kafka::batch::BatchError;

use crate::config::ConfigError;
use crate::internal::InternalTopicError;

/// Errors of the replication engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A Kafka request failed.
    #[error(transparent)]
    Kafka(#[from] strait_kafka::Error),
    /// Reading or writing an internal topic failed.
    #[error(transparent)]
    Internal(#[from] InternalTopicError),
    /// The configuration cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Writing to the target failed (the producer's state there is unknown afterwards).
    #[error("mirroring topic {topic} partition {partition}{}: {source}", offset.map(|o| format!(" from offset {o}")).unwrap_or_default())]
    Produce {
        topic: String,
        partition: i32,
        offset: Option<i64>,
        #[source]
        source: strait_kafka::Error,
    },
    /// A fetch failed.
    #[error("{0}")]
    Fetch(String),
    /// A fetched batch cannot be forwarded.
    #[error("cluster {cluster}: topic {topic} partition {partition} at offset {offset}: {source}")]
    Batch {
        cluster: String,
        topic: String,
        partition: i32,
        offset: i64,
        #[source]
        source: BatchError,
    },
    /// Something strait does not support yet.
    #[error("{0}")]
    Unsupported(String),
    /// The engine is shutting down.
    #[error("stopped")]
    Stopped,
}
