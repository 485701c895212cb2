//! Coordinator lookup (FindCoordinator) for consumer groups and transactions.

use kafka_protocol::messages::FindCoordinatorRequest;

use super::admin::protocol_error;
use super::cluster::Cluster;
use super::str_bytes;
use super::RequiredAcl;
use crate::error::{Error, Result};

/// What a coordinator is looked up for (Kafka's FindCoordinator key type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoordinatorType {
    /// A consumer group.
    Group = 0,
    /// A transactional id.
    Transaction = 1,
}

impl CoordinatorType {
    fn label(self) -> &'static str {
        match self {
            CoordinatorType::Group => "group",
            CoordinatorType::Transaction => "transactional id",
        }
    }
}

impl Cluster {
    /// One FindCoordinator round trip; refreshes metadata if the coordinator is not in it.
    pub(crate) async fn lookup_coordinator(&self, kind: CoordinatorType, key: &str) -> Result<i32> {
        let conn = self.any_broker().await?;
        let version = conn.version_for::<FindCoordinatorRequest>()?;
        let request = FindCoordinatorRequest::default().with_key_type(kind as i8);
        let (code, message, node, host, port) = if version >= 4 {
            let request = request.with_coordinator_keys(vec![str_bytes(key)]);
            let response = conn.submit_version(&request, version).await?.wait().await?;
            let c = response
                .coordinators
                .into_iter()
                .find(|c| &*c.key == key)
                .ok_or_else(|| {
                    let reason = format!("response lacks {} {key}", kind.label());
                    protocol_error::<FindCoordinatorRequest>(self, &conn, version, reason)
                })?;
            (c.error_code, c.error_message, c.node_id.0, c.host, c.port)
        } else {
            let request = request.with_key(str_bytes(key));
            let r = conn.submit_version(&request, version).await?.wait().await?;
            (r.error_code, r.error_message, r.node_id.0, r.host, r.port)
        };
        let op = format!("find coordinator for {} {key}", kind.label());
        if let Some(e) = self.broker_error(op, code, message.as_deref()) {
            let needed = [
                RequiredAcl::group("Describe", key),
                RequiredAcl::transactional_id("Describe", key),
            ];
            return Err(self.explain_denial(e, &needed));
        }
        let listed = |m: &super::Metadata| {
            m.brokers
                .get(&node)
                .is_some_and(|a| *a.host == *host && i32::from(a.port) == port)
        };
        if !listed(&self.metadata()) {
            let metadata = self.refresh_metadata().await?;
            if !metadata.brokers.contains_key(&node) {
                return Err(Error::Metadata {
                    cluster: self.name().to_owned(),
                    what: format!(
                        "coordinator of {} {key}, broker {node} ({host}:{port}), is not in the metadata",
                        kind.label()
                    ),
                });
            }
        }
        Ok(node)
    }
}
