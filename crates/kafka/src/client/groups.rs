//! Consumer groups: coordinator lookup, listing, description, and committed offsets.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    DescribeGroupsRequest, GroupId, JoinGroupRequest, ListGroupsRequest, OffsetCommitRequest,
    OffsetFetchRequest, SyncGroupRequest,
};
use kafka_protocol::protocol::{Message, Request, StrBytes, VersionRange};

use super::admin::{protocol_error, topic_name};
use super::cluster::Cluster;
use super::coordinator::CoordinatorType;
use super::str_bytes;
use super::RequiredAcl;
use crate::error::{Error, Result};
use crate::net::Connection;

/// Highest OffsetCommit version used for standalone commits: v9 (KIP-848) reinterprets the
/// generation as a member epoch; v2..=v8 keep the classic "generation -1, no member" commit.
const STANDALONE_COMMIT_MAX_VERSION: i16 = 8;

/// A group as listed by a broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// Group id.
    pub group_id: String,
    /// Protocol type, e.g. `consumer` (empty for groups that only commit offsets).
    pub protocol_type: String,
    /// Group state (ListGroups v4+ only).
    pub state: Option<String>,
}

/// A group as described by its coordinator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupDescription {
    /// Group id.
    pub group_id: String,
    /// State, e.g. `Empty`, `Stable`, `Dead`.
    pub state: String,
    /// Protocol type, e.g. `consumer`.
    pub protocol_type: String,
    /// Chosen protocol, e.g. the assignor name.
    pub protocol: String,
    /// Current members.
    pub members: Vec<GroupMember>,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// Member id.
    pub member_id: String,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// The member's assignment, in the group protocol's encoding.
    pub assignment: Bytes,
}

/// A membership obtained by [`Cluster::join_group`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMembership {
    /// The member id the coordinator assigned.
    pub member_id: String,
    /// The generation joined.
    pub generation_id: i32,
}

/// An empty consumer-protocol subscription or assignment (v0: no topics, null user data).
const EMPTY_CONSUMER_PROTOCOL: &[u8] = &[0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];

/// A committed offset of one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// Next offset to consume.
    pub offset: i64,
    /// Leader epoch of the committed offset, -1 when unknown.
    pub leader_epoch: i32,
    /// Commit metadata; `None` when the broker returns none or an empty string.
    pub metadata: Option<String>,
}

impl Cluster {
    /// The id of the broker coordinating `group`, retrying while no coordinator is available.
    pub async fn find_coordinator(&self, group: &str) -> Result<i32> {
        self.with_retries("find coordinator", || {
            self.lookup_coordinator(CoordinatorType::Group, group)
        })
        .await
    }

    /// The connection to `group`'s coordinator (one lookup, no retries).
    pub(super) async fn coordinator(&self, group: &str) -> Result<Arc<Connection>> {
        let id = self
            .lookup_coordinator(CoordinatorType::Group, group)
            .await?;
        self.broker(id).await
    }

    /// The groups known to any broker of the cluster (each broker lists the groups it
    /// coordinates), merged and sorted by id.
    pub async fn list_groups(&self) -> Result<Vec<GroupListing>> {
        let mut metadata = self.metadata();
        if metadata.brokers.is_empty() {
            metadata = self.refresh_metadata().await?;
        }
        let mut tasks = tokio::task::JoinSet::new();
        for id in metadata.brokers.keys().copied() {
            let cluster = self.clone();
            tasks.spawn(async move {
                cluster
                    .with_retries("list groups", || cluster.list_groups_on(id))
                    .await
            });
        }
        let mut groups = BTreeMap::new();
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(listed)) => {
                    for g in listed {
                        groups.entry(g.group_id.clone()).or_insert(g);
                    }
                }
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(groups.into_values().collect()),
        }
    }

    /// The groups coordinated by broker `id`.
    async fn list_groups_on(&self, id: i32) -> Result<Vec<GroupListing>> {
        let conn = self.broker(id).await?;
        let version = conn.version_for::<ListGroupsRequest>()?;
        let response = conn
            .submit_version(&ListGroupsRequest::default(), version)
            .await?
            .wait()
            .await?;
        let op = format!("list groups on broker {id}");
        if let Some(e) = self.broker_error(op, response.error_code, None) {
            return Err(self.explain_denial(e, &[RequiredAcl::cluster("Describe")]));
        }
        Ok(response
            .groups
            .into_iter()
            .map(|g| GroupListing {
                group_id: g.group_id.0.to_string(),
                protocol_type: g.protocol_type.to_string(),
                state: (version >= 4).then(|| g.group_state.to_string()),
            })
            .collect())
    }

    /// Describes `group` (DescribeGroups to its coordinator); a group the coordinator does not
    /// know is `Dead` with no members, whichever DescribeGroups version answers.
    pub async fn describe_group(&self, group: &str) -> Result<GroupDescription> {
        let request = DescribeGroupsRequest::default().with_groups(vec![GroupId(str_bytes(group))]);
        let op = format!("describe group {group}");
        self.with_retries("describe group", || async {
            let conn = self.coordinator(group).await?;
            let version = conn.version_for::<DescribeGroupsRequest>()?;
            let response = conn.submit_version(&request, version).await?.wait().await?;
            let g = response
                .groups
                .into_iter()
                .find(|g| &*g.group_id.0 == group)
                .ok_or_else(|| {
                    let reason = format!("response lacks group {group}");
                    protocol_error::<DescribeGroupsRequest>(self, &conn, version, reason)
                })?;
            if g.error_code == ResponseError::GroupIdNotFound.code() {
                // DescribeGroups v6+ (Kafka 4) reports an unknown group as an error; older
                // versions describe it as Dead with no members. Callers get one answer.
                return Ok(GroupDescription {
                    group_id: group.to_owned(),
                    state: "Dead".into(),
                    ..GroupDescription::default()
                });
            }
            if let Some(e) =
                self.broker_error(op.as_str(), g.error_code, g.error_message.as_deref())
            {
                return Err(self.explain_denial(e, &[RequiredAcl::group("Describe", group)]));
            }
            Ok(GroupDescription {
                group_id: g.group_id.0.to_string(),
                state: g.group_state.to_string(),
                protocol_type: g.protocol_type.to_string(),
                protocol: g.protocol_data.to_string(),
                members: g
                    .members
                    .into_iter()
                    .map(|m| GroupMember {
                        member_id: m.member_id.to_string(),
                        client_id: m.client_id.to_string(),
                        client_host: m.client_host.to_string(),
                        assignment: m.member_assignment,
                    })
                    .collect(),
            })
        })
        .await
    }

    /// The offsets `group` committed for the given topics and partitions (`None`: all topics),
    /// by (topic, partition). Partitions without a committed offset are left out.
    pub async fn fetch_offsets(
        &self,
        group: &str,
        topics: Option<&[(&str, &[i32])]>,
    ) -> Result<BTreeMap<(String, i32), CommittedOffset>> {
        self.with_retries("fetch committed offsets", || async {
            let conn = self.coordinator(group).await?;
            let version = conn.version_for::<OffsetFetchRequest>()?;
            let op = format!("fetch committed offsets for group {group}");
            let mut rows: Vec<OffsetRow> = Vec::new();
            if version >= 8 {
                let wanted = topics.map(|ts| {
                    ts.iter()
                        .map(|(t, ps)| {
                            OffsetFetchRequestTopics::default()
                                .with_name(topic_name(t))
                                .with_partition_indexes(ps.to_vec())
                        })
                        .collect()
                });
                let request = OffsetFetchRequest::default().with_groups(vec![
                    OffsetFetchRequestGroup::default()
                        .with_group_id(GroupId(str_bytes(group)))
                        .with_topics(wanted),
                ]);
                let response = conn.submit_version(&request, version).await?.wait().await?;
                let g = response
                    .groups
                    .into_iter()
                    .find(|g| &*g.group_id.0 == group)
                    .ok_or_else(|| {
                        let reason = format!("response lacks group {group}");
                        protocol_error::<OffsetFetchRequest>(self, &conn, version, reason)
                    })?;
                if let Some(e) = self.offset_fetch_error(&op, group, g.error_code) {
                    return retry_if_coordinator_moved(e);
                }
                rows.extend(g.topics.into_iter().flat_map(|t| {
                    t.partitions.into_iter().map(move |p| {
                        let at = (p.committed_offset, p.committed_leader_epoch);
                        (
                            t.name.0.clone(),
                            p.partition_index,
                            at,
                            p.metadata,
                            p.error_code,
                        )
                    })
                }));
            } else {
                let wanted = topics.map(|ts| {
                    ts.iter()
                        .map(|(t, ps)| {
                            OffsetFetchRequestTopic::default()
                                .with_name(topic_name(t))
                                .with_partition_indexes(ps.to_vec())
                        })
                        .collect()
                });
                let request = OffsetFetchRequest::default()
                    .with_group_id(GroupId(str_bytes(group)))
                    .with_topics(wanted);
                let response = conn.submit_version(&request, version).await?.wait().await?;
                if let Some(e) = self.offset_fetch_error(&op, group, response.error_code) {
                    return retry_if_coordinator_moved(e);
                }
                // Leader epochs arrive from v5 on; the codec decodes -1 before that.
                rows.extend(response.topics.into_iter().flat_map(|t| {
                    t.partitions.into_iter().map(move |p| {
                        let at = (p.committed_offset, p.committed_leader_epoch);
                        (
                            t.name.0.clone(),
                            p.partition_index,
                            at,
                            p.metadata,
                            p.error_code,
                        )
                    })
                }));
            }
            let mut out = BTreeMap::new();
            for (topic, partition, (offset, leader_epoch), metadata, code) in rows {
                let op = format!(
                    "fetch committed offset for group {group} topic {topic} partition {partition}"
                );
                if let Some(e) = self.broker_error(op, code, None) {
                    let e = self.explain_denial(e, &[RequiredAcl::topic("Describe", &topic)]);
                    return retry_if_coordinator_moved(e);
                }
                if offset < 0 {
                    continue;
                }
                let committed = CommittedOffset {
                    offset,
                    leader_epoch,
                    metadata: metadata.filter(|m| !m.is_empty()).map(|m| m.to_string()),
                };
                out.insert((topic.to_string(), partition), committed);
            }
            Ok(Ok(out))
        })
        .await?
    }

    /// Joins `group` as a consumer-protocol member subscribed to nothing and completes the
    /// rebalance as its leader, so the group shows one active member (e.g. to check that group
    /// offsets are not moved under a running application). No heartbeats are sent: the
    /// membership lasts `session_timeout`.
    pub async fn join_group(
        &self,
        group: &str,
        session_timeout: std::time::Duration,
    ) -> Result<GroupMembership> {
        let session_ms = i32::try_from(session_timeout.as_millis()).unwrap_or(i32::MAX);
        let mut request = JoinGroupRequest::default()
            .with_group_id(GroupId(str_bytes(group)))
            .with_session_timeout_ms(session_ms)
            .with_rebalance_timeout_ms(session_ms)
            .with_protocol_type(str_bytes("consumer"))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(str_bytes("range"))
                .with_metadata(Bytes::from_static(EMPTY_CONSUMER_PROTOCOL))]);
        let conn = self.coordinator(group).await?;
        let version = conn.version_for::<JoinGroupRequest>()?;
        let op = format!("join group {group}");
        let joined = loop {
            let response = conn.submit_version(&request, version).await?.wait().await?;
            match ResponseError::try_from_code(response.error_code) {
                // KIP-394: the first join only hands out a member id.
                Some(ResponseError::MemberIdRequired) => {
                    request.member_id = response.member_id;
                }
                _ => {
                    if let Some(e) = self.broker_error(op.as_str(), response.error_code, None) {
                        return Err(self.explain_denial(e, &[RequiredAcl::group("Read", group)]));
                    }
                    break response;
                }
            }
        };
        let sync = SyncGroupRequest::default()
            .with_group_id(GroupId(str_bytes(group)))
            .with_generation_id(joined.generation_id)
            .with_member_id(joined.member_id.clone())
            .with_protocol_type(Some(str_bytes("consumer")))
            .with_protocol_name(joined.protocol_name.clone())
            .with_assignments(
                joined
                    .members
                    .iter()
                    .map(|m| {
                        SyncGroupRequestAssignment::default()
                            .with_member_id(m.member_id.clone())
                            .with_assignment(Bytes::from_static(EMPTY_CONSUMER_PROTOCOL))
                    })
                    .collect(),
            );
        let version = conn.version_for::<SyncGroupRequest>()?;
        let response = conn.submit_version(&sync, version).await?.wait().await?;
        let op = format!("sync group {group}");
        if let Some(e) = self.broker_error(op, response.error_code, None) {
            return Err(self.explain_denial(e, &[RequiredAcl::group("Read", group)]));
        }
        Ok(GroupMembership {
            member_id: joined.member_id.to_string(),
            generation_id: joined.generation_id,
        })
    }

    /// Commits offsets for `group` as a standalone (non-member) client: each entry is
    /// (topic, partition, offset, metadata). Fails with the first partition's error.
    pub async fn commit_offsets(
        &self,
        group: &str,
        offsets: &[(&str, i32, i64, Option<&str>)],
    ) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
        for (topic, partition, offset, metadata) in offsets {
            let entry = OffsetCommitRequestPartition::default()
                .with_partition_index(*partition)
                .with_committed_offset(*offset)
                .with_committed_metadata(Some(str_bytes(metadata.unwrap_or(""))));
            match topics.iter_mut().find(|t| &*t.name.0 == *topic) {
                Some(t) => t.partitions.push(entry),
                None => topics.push(
                    OffsetCommitRequestTopic::default()
                        .with_name(topic_name(topic))
                        .with_partitions(vec![entry]),
                ),
            }
        }
        let request = OffsetCommitRequest::default()
            .with_group_id(GroupId(str_bytes(group)))
            .with_generation_id_or_member_epoch(-1)
            .with_member_id(StrBytes::default())
            .with_topics(topics);
        self.with_retries("commit offsets", || async {
            let conn = self.coordinator(group).await?;
            let standalone = VersionRange {
                min: OffsetCommitRequest::VERSIONS.min,
                max: STANDALONE_COMMIT_MAX_VERSION,
            };
            let version = match conn
                .versions()
                .pick_key(OffsetCommitRequest::KEY, standalone)
            {
                Some(v) => v,
                None => conn.version_for::<OffsetCommitRequest>()?,
            };
            let response = conn.submit_version(&request, version).await?.wait().await?;
            let mut answered = 0;
            for t in &response.topics {
                for p in &t.partitions {
                    answered += 1;
                    let offset = offsets
                        .iter()
                        .find(|(topic, partition, ..)| {
                            *topic == &*t.name.0 && *partition == p.partition_index
                        })
                        .map_or(-1, |o| o.2);
                    let op = format!(
                        "commit offset {offset} for group {group} topic {} partition {}",
                        t.name.0, p.partition_index
                    );
                    if let Some(e) = self.broker_error(op, p.error_code, None) {
                        let needed = [
                            RequiredAcl::group("Read", group),
                            RequiredAcl::topic("Read", &t.name.0),
                        ];
                        return retry_if_coordinator_moved(self.explain_denial(e, &needed));
                    }
                }
            }
            if answered
                < request
                    .topics
                    .iter()
                    .map(|t| t.partitions.len())
                    .sum::<usize>()
            {
                let reason = format!("response for group {group} lacks partitions");
                return Err(protocol_error::<OffsetCommitRequest>(
                    self, &conn, version, reason,
                ));
            }
            Ok(Ok(()))
        })
        .await?
    }
}

/// Coordinator errors are retried (after a fresh coordinator lookup); other broker errors are
/// final, like Kafka's admin client does for group offsets (e.g. UNKNOWN_TOPIC_OR_PARTITION).
impl Cluster {
    /// The group-level error of an OffsetFetch answer, explained when it is a denial.
    fn offset_fetch_error(&self, op: &str, group: &str, code: i16) -> Option<Error> {
        let e = self.broker_error(op, code, None)?;
        Some(self.explain_denial(e, &[RequiredAcl::group("Describe", group)]))
    }
}

/// One partition of an OffsetFetch answer: topic, partition, (offset, leader epoch), metadata,
/// error code.
type OffsetRow = (StrBytes, i32, (i64, i32), Option<StrBytes>, i16);

fn retry_if_coordinator_moved<T>(e: Error) -> Result<Result<T>> {
    match e.code() {
        Some(
            ResponseError::NotCoordinator
            | ResponseError::CoordinatorNotAvailable
            | ResponseError::CoordinatorLoadInProgress,
        ) => Err(e),
        _ => Ok(Err(e)),
    }
}
