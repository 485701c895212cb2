//! One process's membership in a flow's group: the I/O loop around [`Membership`]. It joins with
//! what the flow runs, computes the assignment when it leads, hands each new assignment to the
//! flow, heartbeats, renews the write lease, and rejoins when the coordinator, the flow (new
//! partitions; partitions given up) or a failure asks for it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use strait_kafka::{
    Cluster, GroupAnswer, Joined, Lease, Membership, MembershipTimeouts, ResponseError, RetryPolicy,
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
    /// `joining`, `stable`, `lost`, `replaced` (another process took its static instance id),
    /// or `alone` (the coordinator cannot share work).
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
    let mut membership = Membership::new(&ctx.cluster, &ctx.settings.id, PROTOCOL_TYPE, timeouts)
        .with_instance_id(ctx.settings.instance_id.as_deref());
    let mut status = GroupStatus {
        group: ctx.settings.id.clone(),
        host: ctx.host.clone(),
        state: "joining".to_owned(),
        ..GroupStatus::default()
    };
    let mut failures = 0;
    // The generation in which this member took a static place over (handled once).
    let mut took_over_in = None;
    // A place taken over from a process that may still run: its partitions, claimed in this
    // member's metadata (so the leader gives them to no one else) and started only once its
    // write lease has lapsed, whatever generations pass meanwhile.
    let mut claimed: BTreeMap<PartitionKey, u64> = BTreeMap::new();
    let mut hold_until: Option<tokio::time::Instant> = None;
    'member: loop {
        let began = Instant::now();
        let joined = tokio::select! {
            joined = join_and_sync(&ctx, &mut membership, &claimed) => joined,
            command = commands.recv() => match command {
                Some(GroupCommand::Leave) | None => break 'member,
                Some(_) => continue 'member,
            },
        };
        let (joined, mut assignment) = match joined {
            Ok(Some(done)) => done,
            Ok(None) => continue 'member,
            Err(JoinFailure::Replaced) => {
                replaced(&ctx, &events, &mut commands, &mut status).await;
                return;
            }
            Err(failure) => {
                if (failure == JoinFailure::Lost || !ctx.lease.is_valid())
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
        if joined.generation < 1 {
            run_alone(&ctx, &joined, &events, &mut commands, status).await;
            break 'member;
        }
        let (mine, predecessor) = own_entry(
            &mut assignment,
            &joined,
            ctx.settings.instance_id.as_deref(),
            &ctx.host,
        );
        let predecessor = predecessor.filter(|_| took_over_in != Some(joined.generation));
        let took_over = predecessor.is_some();
        if took_over {
            took_over_in = Some(joined.generation);
        }
        if let Some(host) = predecessor.filter(|h| !is_gone(h, &ctx.host)) {
            let term = ctx.lease_term();
            tracing::warn!(
                flow = %ctx.label, group = %ctx.settings.id,
                "took the place of {host} (the same strait.group.instance.id), which may still be running: waiting {term:?}, until its write lease has lapsed, before starting its {} partitions",
                mine.len()
            );
            hold_until = Some(tokio::time::Instant::now() + term);
            claimed = mine.iter().map(|k| (k.clone(), 0)).collect();
        }
        if let Some(until) = hold_until {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            match hold(&ctx, &membership, &mut commands, left).await {
                Held::Done => {
                    hold_until = None;
                    claimed.clear();
                }
                Held::Rejoin => continue 'member,
                Held::Leave => break 'member,
                Held::Lost => {
                    if !lose(&ctx, &events, &mut commands, &mut status).await {
                        break 'member;
                    }
                    continue 'member;
                }
                Held::Replaced => {
                    replaced(&ctx, &events, &mut commands, &mut status).await;
                    return;
                }
            }
        }
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
        // A member that took a static place over rejoins too once its partitions run, so every
        // member learns its new member id (nothing moves: they are its own).
        let nudge = ((assignment.held_back > 0 && !waiting_release) || took_over)
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
                        Ok(GroupAnswer::Fenced(ResponseError::FencedInstanceId)) => {
                            replaced(&ctx, &events, &mut commands, &mut status).await;
                            return;
                        }
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

/// This member's partitions in `assignment`: under its member id or, for a static member that
/// took its predecessor's place without a rebalance (the coordinator hands back the assignment
/// that names the old member id), under its instance id, with the predecessor's `host:pid`.
/// The entry (and the lead) moves to the current member id, so the status names this member.
fn own_entry(
    assignment: &mut AssignmentInfo,
    joined: &Joined,
    instance: Option<&str>,
    this_host: &str,
) -> (BTreeSet<PartitionKey>, Option<String>) {
    if let Some(view) = assignment.members.get(&joined.member_id) {
        return (view.keys(), None);
    }
    let predecessor = instance.and_then(|instance| {
        assignment
            .members
            .iter()
            .find(|(_, view)| view.instance.as_deref() == Some(instance))
            .map(|(id, _)| id.clone())
    });
    let Some(predecessor) = predecessor else {
        return (BTreeSet::new(), None);
    };
    let mut view = assignment.members.remove(&predecessor).expect("found");
    let mine = view.keys();
    let host = std::mem::replace(&mut view.host, this_host.to_owned());
    assignment.members.insert(joined.member_id.clone(), view);
    if assignment.leader == predecessor {
        assignment.leader = joined.member_id.clone();
    }
    (mine, Some(host))
}

/// Whether the process at `predecessor` (`host:pid`) is certainly not running: it ran on this
/// host (`this`, `host:pid`) under a pid that is this process's own (a container restarted in
/// place) or that `/proc` does not list. Anything else may still be alive (without `/proc`, as
/// on macOS, only the first case counts).
fn is_gone(predecessor: &str, this: &str) -> bool {
    let (Some((host, pid)), Some((this_host, this_pid))) =
        (predecessor.rsplit_once(':'), this.rsplit_once(':'))
    else {
        return false;
    };
    let proc_says_gone = || {
        let proc = std::path::Path::new("/proc");
        proc.join("self").exists() && !proc.join(pid).exists()
    };
    host == this_host && (pid == this_pid || proc_says_gone())
}

/// How holding back (a taken-over place's partitions) ended.
enum Held {
    /// The wait is over: start the partitions.
    Done,
    /// A rebalance began, or the flow asked for one.
    Rejoin,
    /// The flow asked to leave.
    Leave,
    /// The membership is gone.
    Lost,
    /// Another process took this member's instance id.
    Replaced,
}

/// Heartbeats (renewing the lease) for `wait` without starting any partition, answering what
/// the coordinator and the flow say meanwhile.
async fn hold(
    ctx: &MemberContext,
    membership: &Membership,
    commands: &mut mpsc::Receiver<GroupCommand>,
    wait: Duration,
) -> Held {
    let until = tokio::time::Instant::now() + wait;
    let mut tick = tokio::time::interval(ctx.settings.heartbeat_interval);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(until) => return Held::Done,
            _ = tick.tick() => {
                let sent = Instant::now();
                match membership.heartbeat().await {
                    Ok(GroupAnswer::Current(())) => ctx.lease.renew(sent, ctx.lease_term()),
                    Ok(GroupAnswer::Rebalance) => return Held::Rejoin,
                    Ok(GroupAnswer::Fenced(ResponseError::FencedInstanceId)) => return Held::Replaced,
                    Ok(GroupAnswer::Fenced(_)) => return Held::Lost,
                    Err(_) if !ctx.lease.is_valid() => return Held::Lost,
                    Err(e) => tracing::warn!(flow = %ctx.label, group = %ctx.settings.id, "heartbeat failed: {e}"),
                }
            }
            command = commands.recv() => match command {
                Some(GroupCommand::Rejoin) => return Held::Rejoin,
                Some(GroupCommand::Released) => {}
                Some(GroupCommand::Leave) | None => return Held::Leave,
            },
        }
    }
}

/// Another process joined with this member's instance id and took its place: stop every
/// partition, then stay out until the flow ends (rejoining would fence the newcomer in turn).
async fn replaced(
    ctx: &MemberContext,
    events: &mpsc::Sender<GroupEvent>,
    commands: &mut mpsc::Receiver<GroupCommand>,
    status: &mut GroupStatus,
) {
    tracing::error!(
        flow = %ctx.label, group = %ctx.settings.id,
        "another process joined group {} as instance {} (strait.group.instance.id) and took this member's place: stopping every partition; this process mirrors nothing more of the flow. Give every process its own strait.group.instance.id",
        ctx.settings.id, ctx.settings.instance_id.as_deref().unwrap_or_default()
    );
    if !lose(ctx, events, commands, status).await {
        return;
    }
    status.state = "replaced".to_owned();
    (ctx.on_status)(status);
    while let Some(command) = commands.recv().await {
        if command == GroupCommand::Leave {
            return;
        }
    }
}

/// How long the lease of a member working alone lasts: for good.
const ALONE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Works alone, as with `strait.group.enabled = false`, because the coordinator cannot share
/// work: it answered the join with generation 0 (Kafka's generations start at 1; tansu answers
/// 0 to every join and keeps the first assignment, so no later one would ever take effect).
/// Every partition discovery finds is this member's, until the flow asks it to leave.
async fn run_alone(
    ctx: &MemberContext,
    joined: &Joined,
    events: &mpsc::Sender<GroupEvent>,
    commands: &mut mpsc::Receiver<GroupCommand>,
    mut status: GroupStatus,
) {
    tracing::warn!(
        flow = %ctx.label, group = %ctx.settings.id,
        "the target's group coordinator answered JoinGroup with generation {} (Kafka starts at 1): it cannot share the flow between processes, so this process mirrors every partition alone; run one process only, or set strait.group.enabled = false to skip the group",
        joined.generation
    );
    ctx.lease.renew(Instant::now(), ALONE);
    loop {
        let mine: BTreeSet<PartitionKey> = ctx
            .partitions
            .lock()
            .expect("partitions")
            .keys()
            .cloned()
            .collect();
        let view = MemberView::new(ctx.host.clone(), None, &mine);
        status = GroupStatus {
            member_id: joined.member_id.clone(),
            state: "alone".to_owned(),
            generation: joined.generation,
            leader_id: joined.member_id.clone(),
            members: BTreeMap::from([(joined.member_id.clone(), view)]),
            held_back: 0,
            ..status
        };
        (ctx.on_status)(&status);
        let event = GroupEvent::Assigned {
            generation: joined.generation,
            leader: true,
            mine,
        };
        if events.send(event).await.is_err() {
            return;
        }
        loop {
            match commands.recv().await {
                Some(GroupCommand::Rejoin) => break,
                Some(GroupCommand::Released) => {}
                Some(GroupCommand::Leave) | None => return,
            }
        }
    }
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

/// Why a join and sync failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JoinFailure {
    /// The coordinator could not be reached or refused: retry.
    Unreachable,
    /// The membership itself is gone (fenced): stop everything, then rejoin as a new member.
    Lost,
    /// Another process took this member's static instance id.
    Replaced,
}

/// One join and sync. `Ok(None)`: a rebalance began meanwhile, join again.
async fn join_and_sync(
    ctx: &MemberContext,
    membership: &mut Membership,
    claimed: &BTreeMap<PartitionKey, u64>,
) -> Result<Option<(Joined, AssignmentInfo)>, JoinFailure> {
    let mut owned = ctx.owned.lock().expect("owned").clone();
    owned.extend(claimed.iter().map(|(k, r)| (k.clone(), *r)));
    let instance = ctx.settings.instance_id.as_deref();
    let metadata = encode(&MemberInfo::new(&ctx.host, instance, &owned));
    let sent = Instant::now();
    let joined = membership
        .join(&[(PROTOCOL, metadata)])
        .await
        .map_err(|e| {
            if e.code() == Some(ResponseError::FencedInstanceId) {
                return JoinFailure::Replaced;
            }
            tracing::warn!(flow = %ctx.label, group = %ctx.settings.id, "joining the group failed, retrying: {e}");
            JoinFailure::Unreachable
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
        JoinFailure::Unreachable
    })?;
    let bytes = match answer {
        GroupAnswer::Current(bytes) => bytes,
        GroupAnswer::Rebalance => return Ok(None),
        GroupAnswer::Fenced(ResponseError::FencedInstanceId) => return Err(JoinFailure::Replaced),
        GroupAnswer::Fenced(code) => {
            tracing::warn!(flow = %ctx.label, group = %ctx.settings.id, "fenced during the sync ({code:?}), rejoining");
            return Err(JoinFailure::Lost);
        }
    };
    ctx.lease.renew(sent, ctx.lease_term());
    match decode::<AssignmentInfo>(&ctx.settings.id, "assignment", &bytes) {
        Ok(assignment) => Ok(Some((joined, assignment))),
        Err(e) => {
            tracing::error!(flow = %ctx.label, "{e}; rejoining");
            Err(JoinFailure::Lost)
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
        hosts.insert(id.clone(), (info.host, info.instance));
        claims.insert(id.clone(), MemberClaim { owned });
    }
    let plan = assign(&partitions, &claims);
    let members = plan
        .assigned
        .iter()
        .map(|(id, keys)| {
            let (host, instance) = hosts.get(id).cloned().unwrap_or_default();
            (id.clone(), MemberView::new(host, instance, keys))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(member_id: &str) -> Joined {
        Joined {
            generation: 3,
            member_id: member_id.to_owned(),
            leader_id: "m-old".to_owned(),
            protocol: PROTOCOL.to_owned(),
            members: Vec::new(),
        }
    }

    fn view(host: &str, instance: Option<&str>, partitions: &[i32]) -> MemberView {
        MemberView {
            host: host.to_owned(),
            instance: instance.map(str::to_owned),
            partitions: BTreeMap::from([("orders".to_owned(), partitions.to_vec())]),
        }
    }

    fn assignment() -> AssignmentInfo {
        AssignmentInfo {
            generation: 3,
            leader: "m-old".to_owned(),
            members: BTreeMap::from([
                ("m-old".to_owned(), view("h:10", Some("node-a"), &[0, 2])),
                ("m-b".to_owned(), view("h:11", Some("node-b"), &[1])),
            ]),
            held_back: 0,
        }
    }

    #[test]
    fn a_member_finds_its_partitions_by_id() {
        let mut a = assignment();
        let (mine, predecessor) = own_entry(&mut a, &joined("m-b"), Some("node-b"), "h:12");
        assert_eq!(mine, BTreeSet::from([("orders".to_owned(), 1)]));
        assert_eq!(predecessor, None);
        assert_eq!(a, assignment(), "nothing rewritten");
    }

    #[test]
    fn a_static_member_takes_its_predecessors_entry_and_lead() {
        let mut a = assignment();
        let (mine, predecessor) = own_entry(&mut a, &joined("m-new"), Some("node-a"), "h:12");
        assert_eq!(
            mine,
            BTreeSet::from([("orders".to_owned(), 0), ("orders".to_owned(), 2)])
        );
        assert_eq!(predecessor.as_deref(), Some("h:10"));
        assert_eq!(a.leader, "m-new");
        assert_eq!(a.members["m-new"].host, "h:12");
        assert!(!a.members.contains_key("m-old"));
    }

    #[test]
    fn a_dynamic_member_left_out_owns_nothing() {
        let mut a = assignment();
        let (mine, predecessor) = own_entry(&mut a, &joined("m-new"), None, "h:12");
        assert!(mine.is_empty() && predecessor.is_none());
        let (mine, _) = own_entry(&mut a, &joined("m-new"), Some("node-c"), "h:12");
        assert!(mine.is_empty());
    }

    #[test]
    fn only_a_predecessor_on_this_host_with_its_pid_gone_is_gone() {
        let me = format!("h:{}", std::process::id());
        // This process's own pid: a container restarted in place.
        assert!(is_gone(&me, &me));
        // A pid above any pid_max Linux allows.
        assert!(is_gone("h:4194305", &me));
        // pid 1 always runs.
        assert!(!is_gone("h:1", &me));
        assert!(
            !is_gone("other:4194305", &me),
            "another host may still run it"
        );
        assert!(!is_gone("garbage", &me));
    }
}
