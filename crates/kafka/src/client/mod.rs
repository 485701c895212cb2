//! The cluster-level client: bootstrap, metadata, broker connections, retries, and the
//! fetch, produce, admin and group operations built on them.

mod admin;
mod authz;
mod cluster;
mod committed;
mod config;
mod coordinator;
mod fetch;
mod fetch_session;
mod groups;
mod lease;
mod membership;
mod metadata;
mod produce;
mod produce_lanes;
mod retry;
mod single_flight;
mod transaction;

pub use admin::*;
pub use authz::{AclResource, Denied, RequiredAcl};
pub use cluster::Cluster;
pub use committed::{marker_is_abort, BatchKind, CommittedFilter};
pub use config::ClusterConfig;
pub use coordinator::CoordinatorType;
pub use fetch::{
    AbortedTransaction, DivergingEpoch, FetchOptions, FetchPosition, Isolation, PartitionFetch,
};
pub use fetch_session::FetchSession;
pub use groups::*;
pub use lease::Lease;
pub use membership::{GroupAnswer, Joined, Membership, MembershipTimeouts};
pub use metadata::{BrokerAddress, Metadata, PartitionMetadata, TopicMetadata};
pub use produce::{InFlightBatch, ProduceAck, Producer};
pub use retry::RetryPolicy;

/// Kafka's text form of a byte string that should be UTF-8 (lossy for bad bytes).
pub(crate) fn str_bytes(s: &str) -> kafka_protocol::protocol::StrBytes {
    kafka_protocol::protocol::StrBytes::from_string(s.to_owned())
}
