//! The error type of the internal-topic readers and writers.

use strait_kafka::batch::BatchError;

use crate::formats::FormatError;

/// Failure to create, read or write an MM2 internal topic.
#[derive(Debug, thiserror::Error)]
pub enum InternalTopicError {
    /// The topic could not be created (and does not count as existing).
    #[error("cluster {cluster}: cannot create internal topic {topic}: {source}")]
    Create {
        /// Cluster alias.
        cluster: String,
        /// Topic name.
        topic: String,
        /// The client's error.
        #[source]
        source: Box<strait_kafka::Error>,
    },
    /// The topic is missing or shows no partitions with leaders.
    #[error("cluster {cluster}: internal topic {topic} is not available: {reason}")]
    Unavailable {
        /// Cluster alias.
        cluster: String,
        /// Topic name.
        topic: String,
        /// What metadata showed.
        reason: String,
    },
    /// A Kafka request on the topic failed.
    #[error("cluster {cluster}: topic {topic}: {op}: {source}")]
    Kafka {
        /// Cluster alias.
        cluster: String,
        /// Topic name.
        topic: String,
        /// What was being done, naming the partition where one applies.
        op: String,
        /// The client's error.
        #[source]
        source: Box<strait_kafka::Error>,
    },
    /// A record batch of the topic could not be encoded or decoded.
    #[error("cluster {cluster}: topic {topic} partition {partition}: {op}: {source}")]
    Batch {
        /// Cluster alias.
        cluster: String,
        /// Topic name.
        topic: String,
        /// Partition number.
        partition: i32,
        /// What was being done.
        op: String,
        /// The batch error.
        #[source]
        source: Box<BatchError>,
    },
    /// A record could not be encoded in MM2's format.
    #[error("cluster {cluster}: topic {topic}: cannot encode record: {source}")]
    Format {
        /// Cluster alias.
        cluster: String,
        /// Topic name.
        topic: String,
        /// The format error.
        #[source]
        source: FormatError,
    },
}

impl InternalTopicError {
    /// A client error of `op` on `topic` of `cluster`.
    pub(crate) fn kafka(
        cluster: &strait_kafka::Cluster,
        topic: &str,
        op: impl Into<String>,
        source: strait_kafka::Error,
    ) -> Self {
        Self::Kafka {
            cluster: cluster.name().to_owned(),
            topic: topic.to_owned(),
            op: op.into(),
            source: Box::new(source),
        }
    }

    /// A batch error of `op` on `topic`/`partition` of `cluster`.
    pub(crate) fn batch(
        cluster: &strait_kafka::Cluster,
        topic: &str,
        partition: i32,
        op: impl Into<String>,
        source: BatchError,
    ) -> Self {
        Self::Batch {
            cluster: cluster.name().to_owned(),
            topic: topic.to_owned(),
            partition,
            op: op.into(),
            source: Box::new(source),
        }
    }
}
