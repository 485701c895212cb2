//! Errors of the engine: each names the flow's cluster, topic, partition or offset involved.

use strait_kafka::batch::BatchError;

use super::fetcher::FetchFailure;
use crate::clients::ConnectError;
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
    /// A fetch gave nothing for a partition.
    #[error(
        "cluster {cluster}: fetch topic {topic} partition {partition} at offset {offset}: {cause}"
    )]
    Fetch {
        cluster: String,
        topic: String,
        partition: i32,
        offset: i64,
        #[source]
        cause: FetchFailure,
    },
    /// Reading back what a run before wrote to the target failed in a way that may heal; the
    /// partition tries again later rather than write anything twice.
    #[error("cluster {cluster}: reading topic {topic} partition {partition}{} to find what is already there: {source}", offset.map(|o| format!(" from offset {o}")).unwrap_or_default())]
    ReadBack {
        cluster: String,
        topic: String,
        partition: i32,
        /// Where the read started; `None` for the partition's first offset.
        offset: Option<i64>,
        #[source]
        source: strait_kafka::Error,
    },
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

impl From<ConnectError> for EngineError {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::Config(e) => EngineError::Config(e),
            ConnectError::Kafka(e) => EngineError::Kafka(e),
        }
    }
}

impl EngineError {
    /// What failed and why, for the error counters: (`fetch` | `produce` | `source`, code name).
    pub fn counted_as(&self) -> Option<(&'static str, String)> {
        match self {
            EngineError::Fetch { cause, .. } => Some(("fetch", cause.code_name())),
            EngineError::Produce { source, .. } => Some(("produce", source.code_name())),
            EngineError::Kafka(source) => Some(("source", source.code_name())),
            EngineError::Batch { .. } => Some(("fetch", "CorruptBatch".to_owned())),
            EngineError::ReadBack { source, .. } => Some(("fetch", source.code_name())),
            _ => None,
        }
    }
}
