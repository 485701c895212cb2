//! One process's membership in a flow's group: the I/O loop around [`Membership`]. It joins with
//! what the flow runs, computes the assignment when it leads, hands each new assignment to the
//! flow, heartbeats, renews the write lease, and rejoins when the coordinator, the flow (new
//! partitions; partitions given up) or a failure asks for it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use strait_kafka::{
    Cluster, GroupAnswer, Joined, Lease, Membership, MembershipTimeouts, RetryPolicy,
};
use tokio::sync::mpsc;

use super::assignor::{assign, MemberClaim, PartitionKey};
use super::protocol::{
    decode, encode, AssignmentInfo, MemberInfo, MemberView, PROTOCOL, PROTOCOL_TYPE,
};
use crate::config::GroupSettings;

/// Backoff after a failed join or sync: 500 ms doubling to 5 s.
const RETRY: RetryPolicy =
    RetryPolicy::until_stopped(Duration::from_millis(500), Duration::from_secs(5));

/// What the member tells the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GroupEvent {
    /// A generation's assignment: run exactly `mine`; run the singleton work if `leader`.
    Assigned {
        generation: i32,
        leader: bool,
        mine: BTreeSet<PartitionKey>,
    },
    /// The membership is gone (fenced, or the lease lapsed): stop all work now, then answer
    /// [`GroupCommand::Released`]; the member rejoins only after that.
    Lost,
}

/// What the flow tells the member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupCommand {
    /// The partitions to share changed (the leader's discovery): rebalance.
    Rejoin,
    /// Every partition the last assignment (or a [`GroupEvent::Lost`]) took away has stopped,
    /// its progress stored where the lease allowed.
    Released,
    /// Leave the group (the flow stopped its work) and end.
    Leave,
}

/// The group as this member sees it, for `strait status`, the REST API and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GroupStatus {
    /// The group id.
    pub group: String,
    /// This member's id (empty before the first join).
    pub member_id: String,
    /// Where this member runs.
    pub host: String,
    /// `joining`, `stable` or `lost`.
    pub state: String,
    /// The current generation.
    pub generation: i32,
    /// The leader's member id.
    pub leader_id: String,
    /// Every member with its partitions.
    pub members: BTreeMap<String, MemberView>,
    /// Partitions being handed over.
    pub held_back: usize,
    /// Rebalances this member took part in.
    pub rebalances: u64,
    /// How long the last one took, join to assignment, in milliseconds.
    pub last_rebalance_ms: Option<u64>,
}

/// Reports status changes (the flow's stats keep the latest).
pub(crate) type OnStatus = Arc<dyn Fn(&GroupStatus) + Send + Sync>;

/// What the member works with: built by the flow.
pub(crate) struct MemberContext {
    /// The flow's label, for logs.
    pub label: String,
    pub settings: GroupSettings,
    /// A client of the target cluster of the member's own (a join holds its connection).
    pub cluster: Cluster,
    pub host: String,
    pub lease: Lease,
    /// What the flow runs now, draining partitions included, with recent bytes per second.
    pub owned: Arc<Mutex<BTreeMap<PartitionKey, u64>>>,
    /// The partitions the flow mirrors (its discovery): what the leader assigns.
    pub partitions: Arc<Mutex<BTreeMap<PartitionKey, u64>>>,
    pub on_status: OnStatus,
}

impl MemberContext {
    /// How long a confirmation from the coordinator lets this member write: the session less a
    /// margin (a fifth of it, at least one heartbeat), so the lease lapses before the
    /// coordinator can give the work to another member.
    fn lease_term(&self) -> Duration {
        let s = &self.settings;
        let margin = (s.session_timeout / 5).max(s.heartbeat_interval);
        s.session_timeout.saturating_sub(margin)
    }
}

/// Runs the membership until the flow sends [`GroupCommand::Leave`] (or drops its sender).
pub(crate) async fn run_member(
    ctx: MemberContext,
    events: mpsc::Sender<GroupEvent>,
    mut commands: mpsc::Receiver<GroupCommand>,
) {
    let timeouts = MembershipTimeouts {
        session: ctx.settings.session_timeout,
        // As long as the session: a member left out of a generation for not rejoining in time
        // has been silent that long, so its lease has lapsed.
        rebalance: ctx.settings.session_timeout,
    };
    let mut membership = Membership::new(&ctx.cluster, &ctx.settings.id, PROTOCOL_TYPE, timeouts);
    let mut status = GroupStatus {
        group: ctx.settings.id.clone(),
        host: ctx.host.clone(),
        state: "joining".to_owned(),
        ..GroupStatus::default()
    };
    let mut failures = 0;
    'member: loop {
        let began = Instant::now();
        let joined = tokio::select! {
            joined = join_and_sync(&ctx, &mut membership) => joined,
            command = commands.recv() => match command {
                Some(GroupCommand::Leave) | None => break 'member,
                Some(_) => continue 'member,
            },
        };
        let (joined, assignment) = match joined {
            Ok(Some(done)) => done,
            Ok(None) => continue 'member,
            Err(lost) => {
                if (lost || !ctx.lease.is_valid())
                    && !lose(&ctx, &events, &mut commands, &mut status).await
                {
                    break 'member;
                }
                failures += 1;
                tokio::time::sleep(RETRY.backoff(failures)).await;
                continue 'member;
            }
        };
        failures = 0;
        let mine = assignment
            .members
            .get(&joined.member_id)
            .map(MemberView::keys)
            .unwrap_or_default();
        let owned: BTreeSet<PartitionKey> =
            ctx.owned.lock().expect("owned").keys().cloned().collect();
        let releasing = owned.difference(&mine).count();
        log_generation(&ctx, &joined, &assignment, &mine, &owned);
        status = GroupStatus {
            member_id: joined.member_id.clone(),
            state: "stable".to_owned(),
            generation: joined.generation,
            leader_id: joined.leader_id.clone(),
            members: assignment.members.clone(),
            held_back: assignment.held_back,
            rebalances: status.rebalances + 1,
            last_rebalance_ms: Some(began.elapsed().as_millis() as u64),
            ..status
        };
        (ctx.on_status)(&status);
        let event = GroupEvent::Assigned {
            generation: joined.generation,
            leader: joined.is_leader(),
            mine,
        };
        if events.send(event).await.is_err() {
            break 'member;
        }

        let waiting_release = releasing > 0;
        // Partitions being handed over need one more generation. Their owner rejoins once it
        // has released them; the others rejoin too, a little later, rather than count on the
        // coordinator announcing that rebalance (noida does not).
        let nudge = (assignment.held_back > 0 && !waiting_release)
            .then(|| tokio::time::Instant::now() + ctx.settings.heartbeat_interval * 2);
        let mut tick = tokio::time::interval(ctx.settings.heartbeat_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(nudge.unwrap_or_else(tokio::time::Instant::now)), if nudge.is_some() => continue 'member,
                _ = tick.tick() => {
                    let sent = Instant::now();
                    match membership.heartbeat().await {
                        Ok(GroupAnswer::Current(())) => ctx.lease.renew(sent, ctx.lease_term()),
                        Ok(GroupAnswer::Rebalance) => continue 'member,
                        Ok(GroupAnswer::Fenced(code)) => {
                            tracing::warn!(flow = %ctx.label, group = %ctx.settings.id, "no longer a member ({code:?}): stopping all partitions, then rejoining");
                            if !lose(&ctx, &events, &mut commands, &mut status).await {
                                break 'member;
                            }
                            continue 'member;
                        }
                        Err(e) if !ctx.lease.is_valid() => {
                            tracing::warn!(flow = %ctx.label, group = %ctx.settings.id, "heartbeats failing and the write lease lapsed: stopping all partitions, then rejoining: {e}");
                            if !lose(&ctx, &events, &mut commands, &mut status).await {
                                break 'member;
                            }
                            continue 'member;
                        }
                        Err(e) => tracing::warn!(flow = %ctx.label, group = %ctx.settings.id, "heartbeat failed (writes stop when the lease lapses): {e}"),
                    }
                }
                command = commands.recv() => match command {
                    Some(GroupCommand::Rejoin) => continue 'member,
                    Some(GroupCommand::Released) if waiting_release => continue 'member,
                    Some(GroupCommand::Released) => {}
                    Some(GroupCommand::Leave) | None => break 'member,
                },
            }
        }
    }
    if let Err(e) = membership.leave().await {
        tracing::warn!(flow = %ctx.label, group = %ctx.settings.id, "leaving the group failed (the others rebalance after the session timeout): {e}");
    }
    ctx.lease.revoke();
    tracing::info!(flow = %ctx.label, group = %ctx.settings.id, "left the group");
}

/// Ends the lease, tells the flow to stop everything and waits until it has; false when the
/// flow asked to leave meanwhile.
async fn lose(
    ctx: &MemberContext,
    events: &mpsc::Sender<GroupEvent>,
    commands: &mut mpsc::Receiver<GroupCommand>,
    status: &mut GroupStatus,
) -> bool {
    ctx.lease.revoke();
    status.state = "lost".to_owned();
    (ctx.on_status)(status);
    if events.send(GroupEvent::Lost).await.is_err() {
        return false;
    }
    loop {
        match commands.recv().await {
            Some(GroupCommand::Released) => return true,
            Some(GroupCommand::Rejoin) => {}
            Some(GroupCommand::Leave) | None => return false,
        }
    }
}

/// One join and sync. `Ok(None)`: a rebalance began meanwhile, join again. `Err(lost)`: failed,
/// `lost` when the membership itself is gone (fenced) rather than unreachable.
async fn join_and_sync(
    ctx: &MemberContext,
    membership: &mut Membership,
) -> Result<Option<(Joined, AssignmentInfo)>, bool> {
    let owned = ctx.owned.lock().expect("owned").clone();
    let metadata = encode(&MemberInfo::new(&ctx.host, &owned));
    let sent = Instant::now();
    let joined = membership
        .join(&[(PROTOCOL, metadata)])
        .await
        .map_err(|e| {
            tracing::warn!(flow = %ctx.label, group = %ctx.settings.id, "joining the group failed, retrying: {e}");
            false
        })?;
    ctx.lease.renew(sent, ctx.lease_term());
    let assignments = if joined.is_leader() {
        leader_assignments(ctx, &joined)
    } else {
        Vec::new()
    };
    let sent = Instant::now();
    let answer = membership.sync(&joined, &assignments).await.map_err(|e| {
        tracing::warn!(flow = %ctx.label, group = %ctx.settings.id, "group sync failed, rejoining: {e}");
        false
    })?;
    let bytes = match answer {
        GroupAnswer::Current(bytes) => bytes,
        GroupAnswer::Rebalance => return Ok(None),
        GroupAnswer::Fenced(code) => {
            tracing::warn!(flow = %ctx.label, group = %ctx.settings.id, "fenced during the sync ({code:?}), rejoining");
            return Err(true);
        }
    };
    ctx.lease.renew(sent, ctx.lease_term());
    match decode::<AssignmentInfo>(&ctx.settings.id, "assignment", &bytes) {
        Ok(assignment) => Ok(Some((joined, assignment))),
        Err(e) => {
            tracing::error!(flow = %ctx.label, "{e}; rejoining");
            Err(true)
        }
    }
}

/// The leader's assignment: the flow's partitions over the members that joined.
fn leader_assignments(ctx: &MemberContext, joined: &Joined) -> Vec<(String, bytes::Bytes)> {
    let mut partitions = ctx.partitions.lock().expect("partitions").clone();
    let mut hosts = BTreeMap::new();
    let mut claims = BTreeMap::new();
    for (id, metadata) in &joined.members {
        let what = format!("metadata of member {id}");
        let info = decode::<MemberInfo>(&ctx.settings.id, &what, metadata).unwrap_or_else(|e| {
            tracing::error!(flow = %ctx.label, "{e}: it is assigned nothing");
            MemberInfo::default()
        });
        let mut owned = BTreeSet::new();
        for (key, rate) in info.partitions() {
            if let Some(known) = partitions.get_mut(&key) {
                *known = (*known).max(rate);
            }
            owned.insert(key);
        }
        hosts.insert(id.clone(), info.host);
        claims.insert(id.clone(), MemberClaim { owned });
    }
    let plan = assign(&partitions, &claims);
    let members = plan
        .assigned
        .iter()
        .map(|(id, keys)| {
            let mut view = MemberView {
                host: hosts.get(id).cloned().unwrap_or_default(),
                ..MemberView::default()
            };
            for (topic, partition) in keys {
                view.partitions
                    .entry(topic.clone())
                    .or_default()
                    .push(*partition);
            }
            (id.clone(), view)
        })
        .collect();
    let bytes = encode(&AssignmentInfo {
        generation: joined.generation,
        leader: joined.member_id.clone(),
        members,
        held_back: plan.held_back.len(),
    });
    joined
        .members
        .iter()
        .map(|(id, _)| (id.clone(), bytes.clone()))
        .collect()
}

fn log_generation(
    ctx: &MemberContext,
    joined: &Joined,
    assignment: &AssignmentInfo,
    mine: &BTreeSet<PartitionKey>,
    owned: &BTreeSet<PartitionKey>,
) {
    let role = if joined.is_leader() {
        "leader"
    } else {
        "member"
    };
    let gained = mine.difference(owned).count();
    let released = owned.difference(mine).count();
    let members: Vec<String> = assignment
        .members
        .iter()
        .map(|(id, m)| format!("{id} ({}, {} partitions)", m.host, m.count()))
        .collect();
    tracing::info!(
        flow = %ctx.label, group = %ctx.settings.id, generation = joined.generation,
        "generation {}: {role} {} of {}: {} partitions, {gained} gained, {released} given up, {} being handed over; members: {}",
        joined.generation, joined.member_id, members.len(), mine.len(), assignment.held_back, members.join(", ")
    );
}
