//! Administration: topics, partitions, configs, offsets by time, and ACLs.

mod acls;
mod configs;
mod offsets;
mod outcomes;
mod topics;

use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::TopicName;
use kafka_protocol::protocol::Request;

pub use acls::{acl, AclBinding, AclFilter};
pub use configs::{AlterOp, ConfigEntry, ConfigResource, ConfigSource};
pub use offsets::{ListedOffset, OffsetSpec};
pub use topics::{NewTopic, PARTITIONS_PER_OPERATION};

use super::cluster::Cluster;
use super::str_bytes;
use crate::error::{Error, Result};
use crate::net::{api_name, Connection};

/// Per-item admin errors worth another attempt (the controller moved, or a quota throttled us).
fn admin_retriable(e: &Error) -> bool {
    matches!(
        e.code(),
        Some(ResponseError::NotController | ResponseError::ThrottlingQuotaExceeded)
    )
}

/// A resource-level admin error: retried (outer `Err`) only when [`admin_retriable`], else final.
fn settle<T>(e: Error) -> Result<Result<T>> {
    if admin_retriable(&e) {
        Err(e)
    } else {
        Ok(Err(e))
    }
}

/// A copy of a per-item retriable error, to make [`Cluster::with_retries`] try again.
fn retry_marker(e: &Error) -> Error {
    match e {
        Error::Broker {
            cluster,
            op,
            code,
            message,
            denied,
        } => Error::Broker {
            cluster: cluster.clone(),
            op: op.clone(),
            code: *code,
            message: message.clone(),
            denied: denied.clone(),
        },
        other => Error::Metadata {
            cluster: String::new(),
            what: other.to_string(),
        },
    }
}

pub(crate) fn topic_name(name: &str) -> TopicName {
    TopicName(str_bytes(name))
}

/// A duration in whole milliseconds for a wire field, saturating.
pub(crate) fn millis(d: Duration) -> i32 {
    d.as_millis().min(i32::MAX as u128) as i32
}

/// A malformed-response error for request type `R` from `conn`.
pub(crate) fn protocol_error<R: Request>(
    cluster: &Cluster,
    conn: &Connection,
    version: i16,
    reason: String,
) -> Error {
    Error::Protocol {
        cluster: cluster.name().to_owned(),
        broker: conn.broker().to_owned(),
        api: api_name(R::KEY),
        version,
        reason,
    }
}
