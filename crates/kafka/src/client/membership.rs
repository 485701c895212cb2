//! Membership of a group under a protocol type of one's own (not `consumer`), the way Kafka
//! Connect uses the group coordinator: JoinGroup, SyncGroup, Heartbeat and LeaveGroup, with the
//! member's and the assignment's bytes left to the caller. The coordinator elects the leader;
//! the leader computes every member's assignment from the metadata the members joined with.
//! A member may be static (KIP-345, an instance id of its own): restarted within its session,
//! it takes its predecessor's place and assignment without a rebalance.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    GroupId, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, SyncGroupRequest,
};
use kafka_protocol::protocol::StrBytes;

use super::cluster::Cluster;
use super::str_bytes;
use super::RequiredAcl;
use crate::error::{Error, Result};

/// How long a join may wait beyond the rebalance timeout for the coordinator's answer.
const JOIN_GRACE: Duration = Duration::from_secs(5);

/// The timeouts a member joins with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MembershipTimeouts {
    /// Without a heartbeat for this long the coordinator drops the member.
    pub session: Duration,
    /// How long the coordinator waits for every member to rejoin during a rebalance.
    pub rebalance: Duration,
}

/// One member of a group on one cluster, between joins.
#[derive(Debug)]
pub struct Membership {
    cluster: Cluster,
    group: String,
    protocol_type: String,
    timeouts: MembershipTimeouts,
    instance_id: Option<String>,
    member_id: String,
    generation: i32,
}

/// A completed JoinGroup: the generation, who leads it, and (for the leader) every member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// The generation this join belongs to.
    pub generation: i32,
    /// This member's id.
    pub member_id: String,
    /// The leader's member id.
    pub leader_id: String,
    /// The protocol the coordinator chose among those every member offered.
    pub protocol: String,
    /// Every member with the metadata it joined with, sorted by member id: the leader's only
    /// (others get an empty list).
    pub members: Vec<(String, Bytes)>,
}

impl Joined {
    /// Whether this member leads the generation (and so computes the assignment).
    pub fn is_leader(&self) -> bool {
        self.member_id == self.leader_id
    }
}

/// What the coordinator said to a SyncGroup or a Heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupAnswer<T> {
    /// The generation stands.
    Current(T),
    /// A rebalance started: rejoin (keeping the work until the new assignment says otherwise).
    Rebalance,
    /// This member is no longer in the generation (the session expired, or a newer generation
    /// exists without it): stop all work at once, then rejoin as a new member.
    Fenced(ResponseError),
}

impl Membership {
    /// A member-to-be of `group` on `cluster` under `protocol_type`; nothing is sent yet.
    pub fn new(
        cluster: &Cluster,
        group: &str,
        protocol_type: &str,
        timeouts: MembershipTimeouts,
    ) -> Membership {
        Membership {
            cluster: cluster.clone(),
            group: group.to_owned(),
            protocol_type: protocol_type.to_owned(),
            timeouts,
            instance_id: None,
            member_id: String::new(),
            generation: -1,
        }
    }

    /// A static member (KIP-345) with `instance_id`, unique among the group's members: a
    /// restart within the session replaces the old member without a rebalance. Needs
    /// JoinGroup v5 (Kafka 2.3).
    pub fn with_instance_id(mut self, instance_id: Option<&str>) -> Membership {
        self.instance_id = instance_id.map(str::to_owned);
        self
    }

    fn instance(&self) -> Option<StrBytes> {
        self.instance_id.as_deref().map(str_bytes)
    }

    /// The group's id.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The member id the coordinator gave (empty before the first join).
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The generation last joined (-1 before the first join).
    pub fn generation(&self) -> i32 {
        self.generation
    }

    /// Joins (or rejoins) the group offering `protocols` (name, this member's metadata), and
    /// waits until the coordinator completes the rebalance: up to the rebalance timeout.
    pub async fn join(&mut self, protocols: &[(&str, Bytes)]) -> Result<Joined> {
        let protocols: Vec<JoinGroupRequestProtocol> = protocols
            .iter()
            .map(|(name, metadata)| {
                JoinGroupRequestProtocol::default()
                    .with_name(str_bytes(name))
                    .with_metadata(metadata.clone())
            })
            .collect();
        let op = format!("join group {}", self.group);
        let joined = self
            .cluster
            .with_retries(&op, || self.join_once(protocols.clone(), &op))
            .await?;
        self.member_id = joined.member_id.clone();
        self.generation = joined.generation;
        Ok(joined)
    }

    async fn join_once(
        &self,
        protocols: Vec<JoinGroupRequestProtocol>,
        op: &str,
    ) -> Result<Joined> {
        let mut request = JoinGroupRequest::default()
            .with_group_id(GroupId(str_bytes(&self.group)))
            .with_session_timeout_ms(millis(self.timeouts.session))
            .with_rebalance_timeout_ms(millis(self.timeouts.rebalance))
            .with_member_id(str_bytes(&self.member_id))
            .with_protocol_type(str_bytes(&self.protocol_type))
            .with_protocols(protocols);
        let conn = self.cluster.coordinator(&self.group).await?;
        let version = conn.version_for::<JoinGroupRequest>()?;
        if self.instance_id.is_some() {
            if version < 5 {
                return Err(Error::UnsupportedVersion {
                    cluster: self.cluster.name().to_owned(),
                    feature: format!("static membership of group {} (an instance id)", self.group),
                    api: "JoinGroup",
                    needed: 5,
                    speaks: version,
                });
            }
            request.group_instance_id = self.instance();
        }
        let wait = self.timeouts.rebalance + JOIN_GRACE;
        loop {
            let response = conn
                .submit_with_wait(&request, version, wait)
                .await?
                .wait()
                .await?;
            match ResponseError::try_from_code(response.error_code) {
                // KIP-394: a new member's first join only hands out its member id.
                Some(ResponseError::MemberIdRequired) => request.member_id = response.member_id,
                // The coordinator forgot us (session expired): join as a new member.
                Some(ResponseError::UnknownMemberId) if !request.member_id.is_empty() => {
                    request.member_id = StrBytes::default();
                }
                Some(_) => return Err(self.error(op, response.error_code)),
                None => {
                    let mut members: Vec<(String, Bytes)> = response
                        .members
                        .into_iter()
                        .map(|m| (m.member_id.to_string(), m.metadata))
                        .collect();
                    members.sort_by(|a, b| a.0.cmp(&b.0));
                    return Ok(Joined {
                        generation: response.generation_id,
                        member_id: response.member_id.to_string(),
                        leader_id: response.leader.to_string(),
                        protocol: response
                            .protocol_name
                            .map(|p| p.to_string())
                            .unwrap_or_default(),
                        members,
                    });
                }
            }
        }
    }

    /// Completes the generation joined last: the leader hands in every member's assignment
    /// (others pass none) and each member gets its own back.
    pub async fn sync(
        &self,
        joined: &Joined,
        assignments: &[(String, Bytes)],
    ) -> Result<GroupAnswer<Bytes>> {
        let request = SyncGroupRequest::default()
            .with_group_id(GroupId(str_bytes(&self.group)))
            .with_generation_id(joined.generation)
            .with_member_id(str_bytes(&joined.member_id))
            .with_group_instance_id(self.instance())
            .with_protocol_type(Some(str_bytes(&self.protocol_type)))
            .with_protocol_name(Some(str_bytes(&joined.protocol)))
            .with_assignments(
                assignments
                    .iter()
                    .map(|(member, assignment)| {
                        SyncGroupRequestAssignment::default()
                            .with_member_id(str_bytes(member))
                            .with_assignment(assignment.clone())
                    })
                    .collect(),
            );
        let op = format!("sync group {}", self.group);
        let wait = self.timeouts.rebalance + JOIN_GRACE;
        self.cluster
            .with_retries(&op, || async {
                let conn = self.cluster.coordinator(&self.group).await?;
                let version = conn.version_for::<SyncGroupRequest>()?;
                let response = conn
                    .submit_with_wait(&request, version, wait)
                    .await?
                    .wait()
                    .await?;
                self.answer(&op, response.error_code, response.assignment)
            })
            .await
    }

    /// Tells the coordinator this member is alive in its generation.
    pub async fn heartbeat(&self) -> Result<GroupAnswer<()>> {
        let request = HeartbeatRequest::default()
            .with_group_id(GroupId(str_bytes(&self.group)))
            .with_generation_id(self.generation)
            .with_member_id(str_bytes(&self.member_id))
            .with_group_instance_id(self.instance());
        let op = format!("heartbeat to group {}", self.group);
        let conn = self.cluster.coordinator(&self.group).await?;
        let version = conn.version_for::<HeartbeatRequest>()?;
        let response = conn.submit_version(&request, version).await?.wait().await?;
        self.answer(&op, response.error_code, ())
    }

    /// Leaves the group, so the others rebalance at once instead of after the session timeout.
    pub async fn leave(&mut self) -> Result<()> {
        if self.member_id.is_empty() {
            return Ok(());
        }
        let conn = self.cluster.coordinator(&self.group).await?;
        let version = conn.version_for::<LeaveGroupRequest>()?;
        let request = LeaveGroupRequest::default().with_group_id(GroupId(str_bytes(&self.group)));
        let request = if version >= 3 {
            request.with_members(vec![MemberIdentity::default()
                .with_member_id(str_bytes(&self.member_id))
                .with_group_instance_id(self.instance())])
        } else {
            request.with_member_id(str_bytes(&self.member_id))
        };
        let response = conn.submit_version(&request, version).await?.wait().await?;
        let op = format!("leave group {}", self.group);
        let code = response
            .members
            .iter()
            .map(|m| m.error_code)
            .find(|&c| c != 0)
            .unwrap_or(response.error_code);
        self.member_id.clear();
        self.generation = -1;
        match ResponseError::try_from_code(code) {
            None | Some(ResponseError::UnknownMemberId) => Ok(()),
            Some(_) => Err(self.error(&op, code)),
        }
    }

    /// Sorts a SyncGroup or Heartbeat error code into the three answers, or an error.
    fn answer<T>(&self, op: &str, code: i16, value: T) -> Result<GroupAnswer<T>> {
        match ResponseError::try_from_code(code) {
            None => Ok(GroupAnswer::Current(value)),
            Some(ResponseError::RebalanceInProgress) => Ok(GroupAnswer::Rebalance),
            Some(
                e @ (ResponseError::IllegalGeneration
                | ResponseError::UnknownMemberId
                | ResponseError::FencedInstanceId),
            ) => Ok(GroupAnswer::Fenced(e)),
            Some(_) => Err(self.error(op, code)),
        }
    }

    fn error(&self, op: &str, code: i16) -> Error {
        let e = self
            .cluster
            .broker_error(op, code, None)
            .expect("an error code");
        self.cluster
            .explain_denial(e, &[RequiredAcl::group("Read", &self.group)])
    }
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}
