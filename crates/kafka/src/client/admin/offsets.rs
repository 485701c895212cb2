//! Partition offsets by time: earliest, latest, or the first at or after a timestamp.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, ListOffsetsRequest, ListOffsetsResponse};

use super::{millis, topic_name};
use crate::client::cluster::Cluster;
use crate::client::fetch::Isolation;
use crate::client::RequiredAcl;
use crate::error::{Error, Result};
use crate::net::PendingResponse;

/// Which offset of a partition to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset (timestamp -2).
    Earliest,
    /// The log end offset, or the last stable offset under read_committed (timestamp -1).
    Latest,
    /// The first offset whose record timestamp is at or after this one (ms since the epoch).
    Timestamp(i64),
}

impl OffsetSpec {
    /// The timestamp sent in ListOffsets.
    pub fn timestamp(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::Timestamp(ts) => ts,
        }
    }
}

impl std::fmt::Display for OffsetSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OffsetSpec::Earliest => f.write_str("earliest"),
            OffsetSpec::Latest => f.write_str("latest"),
            OffsetSpec::Timestamp(ts) => write!(f, "timestamp {ts}"),
        }
    }
}

/// A partition offset found by ListOffsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedOffset {
    /// The offset; -1 when no record has a timestamp at or after the one asked for.
    pub offset: i64,
    /// Timestamp of the record found (-1 for earliest/latest lookups).
    pub timestamp: i64,
    /// Leader epoch of the offset, -1 when unknown.
    pub leader_epoch: i32,
}

impl Cluster {
    /// Looks up offsets of `topic`'s `partitions` by time, one request per partition leader;
    /// returns them in input order. `Latest` under read_committed is the last stable offset.
    pub async fn list_offsets(
        &self,
        topic: &str,
        partitions: &[i32],
        spec: OffsetSpec,
        isolation: Isolation,
    ) -> Result<Vec<(i32, ListedOffset)>> {
        let found: Mutex<BTreeMap<i32, ListedOffset>> = Mutex::default();
        let timeout = self.config().request_timeout;
        self.with_retries("list offsets", || async {
            let pending: BTreeSet<i32> = {
                let found = found.lock().expect("offsets lock");
                partitions
                    .iter()
                    .copied()
                    .filter(|p| !found.contains_key(p))
                    .collect()
            };
            let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
            for partition in pending {
                let (leader, _) = self.leader(topic, partition).await?;
                by_leader.entry(leader).or_default().push(partition);
            }
            // Write every leader's request first, then collect the answers.
            let mut in_flight: Vec<PendingResponse<ListOffsetsRequest>> =
                Vec::with_capacity(by_leader.len());
            for (leader, partitions) in by_leader {
                let conn = self.broker(leader).await?;
                let version = conn.version_for::<ListOffsetsRequest>()?;
                let mut request = ListOffsetsRequest::default()
                    .with_replica_id(BrokerId(-1))
                    .with_topics(vec![ListOffsetsTopic::default()
                        .with_name(topic_name(topic))
                        .with_partitions(
                            partitions
                                .iter()
                                .map(|p| {
                                    ListOffsetsPartition::default()
                                        .with_partition_index(*p)
                                        .with_timestamp(spec.timestamp())
                                })
                                .collect(),
                        )]);
                // v1 has no isolation level (it always reads uncommitted).
                if version >= 2 {
                    request = request.with_isolation_level(match isolation {
                        Isolation::ReadUncommitted => 0,
                        Isolation::ReadCommitted => 1,
                    });
                }
                if version >= 10 {
                    request = request.with_timeout_ms(millis(timeout));
                }
                in_flight.push(conn.submit_version(&request, version).await?);
            }
            let mut first_error = None;
            for pending in in_flight {
                let response = match pending.wait().await {
                    Ok(r) => r,
                    Err(e) => {
                        first_error.get_or_insert(e);
                        continue;
                    }
                };
                if let Err(e) = self.record_listed_offsets(topic, spec, response, &found) {
                    first_error.get_or_insert(e);
                }
            }
            match first_error {
                Some(e) => Err(e),
                None => Ok(()),
            }
        })
        .await?;
        let found = found.into_inner().expect("offsets lock");
        partitions
            .iter()
            .map(|p| {
                found
                    .get(p)
                    .map(|o| (*p, *o))
                    .ok_or_else(|| Error::Metadata {
                        cluster: self.name().to_owned(),
                        what: format!("list offsets response lacks topic {topic} partition {p}"),
                    })
            })
            .collect()
    }

    /// Stores one ListOffsets response's partitions; the first partition error is returned.
    fn record_listed_offsets(
        &self,
        topic: &str,
        spec: OffsetSpec,
        response: ListOffsetsResponse,
        found: &Mutex<BTreeMap<i32, ListedOffset>>,
    ) -> Result<()> {
        let mut first_error = None;
        for t in response.topics.into_iter().filter(|t| &*t.name.0 == topic) {
            for p in t.partitions {
                let op = format!(
                    "list offsets of topic {topic} partition {} ({spec})",
                    p.partition_index
                );
                match self.broker_error(op, p.error_code, None) {
                    Some(e) => {
                        let e = self.explain_denial(e, &[RequiredAcl::topic("Describe", topic)]);
                        first_error.get_or_insert(e);
                    }
                    None => {
                        let listed = ListedOffset {
                            offset: p.offset,
                            timestamp: p.timestamp,
                            leader_epoch: p.leader_epoch,
                        };
                        found
                            .lock()
                            .expect("offsets lock")
                            .insert(p.partition_index, listed);
                    }
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_specs_use_kafka_sentinels() {
        assert_eq!(OffsetSpec::Earliest.timestamp(), -2);
        assert_eq!(OffsetSpec::Latest.timestamp(), -1);
        assert_eq!(OffsetSpec::Timestamp(1234).timestamp(), 1234);
    }
}
