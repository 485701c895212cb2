//! One source->target flow: its group membership (when several processes share it), its
//! singleton work (heartbeats, config and ACL sync, checkpoints) and, when replication is on,
//! the replication loop (`replicate.rs`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strait_kafka::{Cluster, Lease};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::control::FlowControl;
use super::error::EngineError;
use super::replicate::replicate;
use super::singletons::Singletons;
use super::stats::{FlowState, FlowStats};
use crate::checkpoint::{run_checkpoints, OnCheckpoint};
use crate::clients::{check, connect, ConnectError};
use crate::clock::now_ms;
use crate::config::{FlowConfig, SchemaSyncSettings};
use crate::formats::Checkpoint;
use crate::group::assignor::PartitionKey;
use crate::group::member::{run_member, GroupCommand, GroupEvent, MemberContext, OnStatus};
use crate::group::protocol::this_host;
use crate::internal::HeartbeatEmitter;
use crate::shutdown::{every, sleep_unless_stopped, stopped, Shutdown, SETUP_RETRY};
use crate::sync::schemas::{SchemaReport, SchemaSync};
use crate::sync::{sync_topic_configs, AclSync};

/// Runs a flow until shutdown; setup failures (a cluster down at start) are retried.
pub(crate) async fn run_flow(
    flow: FlowConfig,
    stats: Arc<FlowStats>,
    control: FlowControl,
    force_reencode: bool,
    shutdown: watch::Receiver<bool>,
) -> Result<(), EngineError> {
    let label = flow.name();
    let mut failures = 0;
    loop {
        let run = FlowRun {
            flow: &flow,
            label: &label,
            stats: stats.clone(),
            control: control.clone(),
            force_reencode,
            shutdown: shutdown.clone(),
        };
        match run_flow_once(run).await {
            Ok(()) => {
                stats.set_state(FlowState::Stopped);
                return Ok(());
            }
            Err(e @ (EngineError::Config(_) | EngineError::Unsupported(_))) => {
                stats.set_state(FlowState::Failed(e.to_string()));
                return Err(e);
            }
            Err(e) => {
                failures += 1;
                let backoff = SETUP_RETRY.nominal(failures);
                tracing::warn!(flow = %label, "flow not running, retrying in {backoff:?}: {e}");
                stats.set_state(FlowState::Retrying(e.to_string()));
                if !sleep_unless_stopped(backoff, &shutdown).await {
                    stats.set_state(FlowState::Stopped);
                    return Ok(());
                }
            }
        }
    }
}

/// What one run of a flow works with.
pub(super) struct FlowRun<'a> {
    pub(super) flow: &'a FlowConfig,
    pub(super) label: &'a str,
    pub(super) stats: Arc<FlowStats>,
    pub(super) control: FlowControl,
    pub(super) force_reencode: bool,
    pub(super) shutdown: Shutdown,
}

/// The flow's admin clients of its two clusters (discovery, syncs, progress), shared by the
/// replication loop and the singleton work.
#[derive(Clone)]
pub(super) struct Admins {
    pub(super) source: Cluster,
    pub(super) target: Cluster,
}

/// The flow's side of its group membership.
pub(super) struct GroupLink {
    pub(super) events: mpsc::Receiver<GroupEvent>,
    commands: mpsc::Sender<GroupCommand>,
    pub(super) lease: Lease,
    /// The partitions to share, as the leader assigns them (the flow's discovery).
    partitions: Arc<Mutex<BTreeMap<PartitionKey, u64>>>,
    task: JoinHandle<()>,
}

impl GroupLink {
    /// Tells the member something (it only stops listening once it has left).
    pub(super) async fn tell(&self, command: GroupCommand) {
        let _ = self.commands.send(command).await;
    }

    /// Records the partitions discovery found; whether they differ from the last ones.
    pub(super) fn set_partitions<'k>(&self, keys: impl Iterator<Item = &'k PartitionKey>) -> bool {
        let mut partitions = self.partitions.lock().expect("partitions");
        let fresh: BTreeMap<PartitionKey, u64> = keys.map(|k| (k.clone(), 0)).collect();
        let changed = !fresh.keys().eq(partitions.keys());
        *partitions = fresh;
        changed
    }

    /// Leaves the group and waits until the member has.
    pub(super) async fn leave(self) {
        self.tell(GroupCommand::Leave).await;
        let _ = self.task.await;
    }
}

async fn run_flow_once(run: FlowRun<'_>) -> Result<(), EngineError> {
    check_clients(run.flow)?;
    let owned = Arc::new(Mutex::new(BTreeMap::new()));
    let group = join_group(&run, owned.clone()).await?;
    let admins = if run.flow.replication_enabled {
        let target = connect(&run.flow.target_admin, run.label, "target-admin").await?;
        let source = connect(&run.flow.source_admin, run.label, "source-admin").await?;
        Some(Admins { source, target })
    } else {
        None
    };
    let lease = group.as_ref().map(|g| g.lease.clone());
    let singletons = singletons(&run, lease, admins.clone()).await?;
    if let Some(admins) = admins {
        replicate(run, singletons, group, owned, admins).await
    } else {
        run.stats.set_state(FlowState::HeartbeatsOnly);
        heartbeats_only(run, singletons, group).await;
        Ok(())
    }
}

/// Checks the settings of every client the flow will open before it opens any, so a bad
/// setting of one cluster is reported even while the other is unreachable. A flow that only
/// emits heartbeats never connects to its source.
fn check_clients(f: &FlowConfig) -> Result<(), ConnectError> {
    check(&f.target_admin)?;
    if f.replication_enabled {
        for props in [
            &f.source_admin,
            &f.source_consumer,
            &f.target_producer,
            &f.offset_syncs_producer,
            &f.offset_syncs_consumer,
        ] {
            check(props)?;
        }
    }
    Ok(())
}

/// Starts this process's membership in the flow's group, if the flow has one.
async fn join_group(
    run: &FlowRun<'_>,
    owned: Arc<Mutex<BTreeMap<PartitionKey, u64>>>,
) -> Result<Option<GroupLink>, EngineError> {
    let Some(settings) = run.flow.group.clone() else {
        return Ok(None);
    };
    // A client of its own: a join waiting for a rebalance holds its coordinator connection.
    let cluster = connect(&run.flow.target_admin, run.label, "group-member").await?;
    let host = this_host();
    let lease = Lease::lapsed(&format!("group {} member {host}", settings.id));
    let partitions = Arc::new(Mutex::new(BTreeMap::new()));
    let stats = run.stats.clone();
    let on_status: OnStatus = Arc::new(move |s| stats.set_group_status(s));
    let (events_tx, events) = mpsc::channel(4);
    let (commands, commands_rx) = mpsc::channel(4);
    tracing::info!(flow = %run.label, group = %settings.id, "joining group {} on {} as {host}", settings.id, run.flow.target);
    let ctx = MemberContext {
        label: run.label.to_owned(),
        settings,
        cluster,
        host,
        lease: lease.clone(),
        owned,
        partitions: partitions.clone(),
        on_status,
    };
    let task = tokio::spawn(run_member(ctx, events_tx, commands_rx));
    Ok(Some(GroupLink {
        events,
        commands,
        lease,
        partitions,
        task,
    }))
}

/// The flow's singleton work, off until the flow turns it on.
async fn singletons(
    run: &FlowRun<'_>,
    lease: Option<Lease>,
    admins: Option<Admins>,
) -> Result<Singletons, EngineError> {
    let flow = run.flow.clone();
    let label = run.label.to_owned();
    let heartbeats = match flow.emit_heartbeats_interval {
        Some(interval) => {
            let target_admin = connect(&flow.target_admin, &label, "heartbeats").await?;
            let emitter = HeartbeatEmitter::open(
                &target_admin,
                flow.policy.heartbeats_topic(),
                flow.heartbeats_topic_replication_factor,
                &flow.source,
                &flow.target,
            )
            .await?;
            Some((Arc::new(emitter), interval))
        }
        None => None,
    };
    let stats = run.stats.clone();
    let lease = lease.unwrap_or_else(|| Lease::unbounded(&label));
    Ok(Singletons::new(Box::new(move |tasks, stop| {
        if let Some((emitter, interval)) = &heartbeats {
            let (label, stats, lease) = (label.clone(), stats.clone(), lease.clone());
            let emitter = emitter.clone();
            tasks.spawn(emit_heartbeats(
                emitter,
                *interval,
                label,
                stats,
                lease,
                stop.clone(),
            ));
        }
        if let Some(Admins { source, target }) = &admins {
            spawn_syncs(tasks, &flow, source, target, &stats, &stop);
            spawn_checkpoints(tasks, &flow, &stats, &stop);
        }
    })))
}

/// A flow that only emits heartbeats: whoever leads the group (or the process alone) does.
async fn heartbeats_only(run: FlowRun<'_>, mut singletons: Singletons, group: Option<GroupLink>) {
    let mut shutdown = run.shutdown.clone();
    let Some(mut group) = group else {
        singletons.set(true);
        stopped(&mut shutdown).await;
        singletons.stop().await;
        return;
    };
    loop {
        tokio::select! {
            event = group.events.recv() => match event {
                Some(GroupEvent::Assigned { leader, .. }) => singletons.set(leader),
                Some(GroupEvent::Lost) => {
                    singletons.set(false);
                    group.tell(GroupCommand::Released).await;
                }
                None => break,
            },
            _ = stopped(&mut shutdown) => break,
        }
    }
    singletons.stop().await;
    group.leave().await;
}

/// Starts the periodic topic-config and ACL sync passes of a flow, each in its own task so a
/// slow pass never holds up discovery or progress.
fn spawn_syncs(
    tasks: &mut JoinSet<()>,
    flow: &FlowConfig,
    source: &Cluster,
    target: &Cluster,
    stats: &Arc<FlowStats>,
    shutdown: &watch::Receiver<bool>,
) {
    let context = Arc::new((flow.clone(), source.clone(), target.clone(), stats.clone()));
    if flow.sync_topic_configs_enabled {
        let c = context.clone();
        let shutdown = shutdown.clone();
        let interval = flow.sync_topic_configs_interval;
        tasks.spawn(async move {
            every(interval, &shutdown, move || {
                let c = c.clone();
                async move {
                    c.3.config_pass(sync_topic_configs(&c.0, &c.1, &c.2).await);
                }
            })
            .await
        });
    }
    if let Some(settings) = &flow.schema_sync {
        spawn_schema_sync(tasks, &flow.name(), settings, stats, shutdown);
    }
    if let Some(interval) = flow.sync_topic_acls_interval {
        let c = context;
        let shutdown = shutdown.clone();
        let acls = Arc::new(AclSync::default());
        tasks.spawn(async move {
            every(interval, &shutdown, move || {
                let (c, acls) = (c.clone(), acls.clone());
                async move {
                    c.3.acl_pass(acls.pass(&c.0, &c.1, &c.2).await);
                }
            })
            .await
        });
    }
}

/// Starts the periodic Schema Registry sync of a flow; a registry that cannot be used (an
/// unreadable trust store) is logged and counted, and the flow runs on without it.
fn spawn_schema_sync(
    tasks: &mut JoinSet<()>,
    label: &str,
    settings: &SchemaSyncSettings,
    stats: &Arc<FlowStats>,
    shutdown: &watch::Receiver<bool>,
) {
    let sync = match SchemaSync::new(label, settings) {
        Ok(sync) => Arc::new(sync),
        Err(e) => {
            tracing::error!(flow = %label, "schema sync off: {e}");
            stats.schema_pass(&SchemaReport {
                failures: vec![e.to_string()],
                ..SchemaReport::default()
            });
            return;
        }
    };
    let (stats, shutdown) = (stats.clone(), shutdown.clone());
    let interval = settings.interval;
    tasks.spawn(async move {
        every(interval, &shutdown, move || {
            let (sync, stats) = (sync.clone(), stats.clone());
            async move { stats.schema_pass(&sync.pass().await) }
        })
        .await
    });
}

/// Starts the checkpoint loop; like MM2, no checkpoints without offset syncs to translate with.
fn spawn_checkpoints(
    tasks: &mut JoinSet<()>,
    flow: &FlowConfig,
    stats: &Arc<FlowStats>,
    shutdown: &watch::Receiver<bool>,
) {
    if let (Some(interval), true) = (flow.emit_checkpoints_interval, flow.emit_offset_syncs) {
        let stats = stats.clone();
        let on_checkpoint: OnCheckpoint = Arc::new(move |c: &Checkpoint, latency_ms| {
            stats.record_checkpoint(&c.group, &c.topic, c.partition, latency_ms)
        });
        tasks.spawn(run_checkpoints(
            flow.clone(),
            interval,
            on_checkpoint,
            shutdown.clone(),
        ));
    }
}

async fn emit_heartbeats(
    emitter: Arc<HeartbeatEmitter>,
    interval: Duration,
    label: String,
    stats: Arc<FlowStats>,
    lease: Lease,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if !lease.is_valid() {
                    continue;
                }
                let now = now_ms();
                match emitter.emit(now).await {
                    Ok(()) => stats.heartbeat_emitted(now),
                    Err(e) => tracing::warn!(flow = %label, "heartbeat not written: {e}"),
                }
            }
            _ = stopped(&mut shutdown) => return,
        }
    }
}
