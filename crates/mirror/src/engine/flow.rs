//! One source->target flow: its clients, internal topics, discovery loop, partition pipelines,
//! progress flushing and heartbeats.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use strait_kafka::{Cluster, FetchOptions};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::control::FlowControl;
use super::discovery::discover;
use super::error::EngineError;
use super::fetcher::spawn_fetcher;
use super::pipeline::{run_partition, PartitionContext};
use super::stats::{FlowState, FlowStats};
use crate::checkpoint::{run_checkpoints, OnCheckpoint};
use crate::clients::connect;
use crate::clock::now_ms;
use crate::config::{FlowConfig, SyncsLocation};
use crate::formats::Checkpoint;
use crate::internal::{HeartbeatEmitter, OffsetSyncWriter, ProgressStore};
use crate::shutdown::{every, sleep_unless_stopped, stopped, SETUP_RETRY};
use crate::sync::{sync_topic_configs, AclSync};

/// Runs a flow until shutdown; setup failures (a cluster down at start) are retried.
pub(crate) async fn run_flow(
    flow: FlowConfig,
    stats: Arc<FlowStats>,
    control: FlowControl,
    force_reencode: bool,
    shutdown: watch::Receiver<bool>,
) -> Result<(), EngineError> {
    let label = format!("{}->{}", flow.source, flow.target);
    let mut failures = 0;
    loop {
        match run_flow_once(
            &flow,
            &label,
            stats.clone(),
            &control,
            force_reencode,
            shutdown.clone(),
        )
        .await
        {
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

async fn run_flow_once(
    flow: &FlowConfig,
    label: &str,
    stats: Arc<FlowStats>,
    control: &FlowControl,
    force_reencode: bool,
    shutdown: watch::Receiver<bool>,
) -> Result<(), EngineError> {
    let mut tasks = JoinSet::new();
    if let Some(interval) = flow.emit_heartbeats_interval {
        let target_admin = connect(&flow.target_admin, label, "heartbeats").await?;
        let emitter = HeartbeatEmitter::open(
            &target_admin,
            flow.policy.heartbeats_topic(),
            flow.heartbeats_topic_replication_factor,
            &flow.source,
            &flow.target,
        )
        .await?;
        tasks.spawn(emit_heartbeats(
            emitter,
            interval,
            label.to_owned(),
            stats.clone(),
            shutdown.clone(),
        ));
    }
    if flow.replication_enabled {
        let control = control.clone();
        replicate(
            flow,
            label,
            stats,
            control,
            force_reencode,
            shutdown.clone(),
        )
        .await?;
    } else {
        stats.set_state(FlowState::HeartbeatsOnly);
        stopped(&mut shutdown.clone()).await;
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

async fn replicate(
    flow: &FlowConfig,
    label: &str,
    stats: Arc<FlowStats>,
    control: FlowControl,
    force_reencode: bool,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), EngineError> {
    let source = connect(&flow.source_consumer, label, "replication-consumer").await?;
    let target = connect(&flow.target_producer, label, "replication-producer").await?;
    let source_admin = connect(&flow.source_admin, label, "source-admin").await?;
    let target_admin = connect(&flow.target_admin, label, "target-admin").await?;
    let progress = Arc::new(
        ProgressStore::open(
            &target_admin,
            &flow.offset_storage_topic,
            flow.offset_storage_partitions,
            flow.offset_storage_replication_factor,
            &flow.source,
        )
        .await?,
    );
    let offset_syncs = if flow.emit_offset_syncs {
        let (alias, cluster_alias) = match flow.offset_syncs_location {
            SyncsLocation::Source => (&flow.target, &flow.source),
            SyncsLocation::Target => (&flow.source, &flow.target),
        };
        let cluster = connect(&flow.offset_syncs_producer, label, "offset-syncs-producer").await?;
        let topic = flow.policy.offset_syncs_topic(alias);
        tracing::debug!(flow = %label, "offset syncs go to {topic} on {cluster_alias}");
        Some(Arc::new(
            OffsetSyncWriter::open(&cluster, &topic, flow.offset_syncs_topic_replication_factor)
                .await?,
        ))
    } else {
        None
    };
    let fetch_options = FetchOptions {
        max_wait: flow
            .source_consumer
            .get_duration_ms("fetch.max.wait.ms")?
            .unwrap_or(Duration::from_millis(200)),
        max_bytes: flow
            .source_consumer
            .get_i32("fetch.max.bytes")?
            .unwrap_or(50 * 1024 * 1024),
        ..FetchOptions::default()
    };
    let partition_max_bytes = flow
        .source_consumer
        .get_i32("max.partition.fetch.bytes")?
        .unwrap_or(4 * 1024 * 1024);
    let shared = Arc::new(PartitionContext {
        label: label.to_owned(),
        source: source.clone(),
        target,
        fetcher: spawn_fetcher(source, fetch_options, partition_max_bytes),
        progress: progress.clone(),
        offset_syncs: offset_syncs.clone(),
        stats,
        auto_offset_reset: flow.auto_offset_reset,
        force_reencode,
        shutdown: shutdown.clone(),
        control,
    });
    tracing::info!(flow = %label, "flow started");
    shared.stats.set_state(FlowState::Running);

    let mut syncs = JoinSet::new();
    spawn_syncs(
        &mut syncs,
        flow,
        &source_admin,
        &target_admin,
        &shared.stats,
        &shutdown,
    );
    // Like MM2, no checkpoints without offset syncs to translate with.
    if let (Some(interval), true) = (flow.emit_checkpoints_interval, flow.emit_offset_syncs) {
        let stats = shared.stats.clone();
        let on_checkpoint: OnCheckpoint = Arc::new(move |c: &Checkpoint, latency_ms| {
            stats.record_checkpoint(&c.group, &c.topic, c.partition, latency_ms)
        });
        syncs.spawn(run_checkpoints(
            flow.clone(),
            interval,
            on_checkpoint,
            shutdown.clone(),
        ));
    }
    let mut pipelines = JoinSet::new();
    let mut running = HashMap::new();
    let mut refresh = tokio::time::interval(
        flow.refresh_topics_interval
            .unwrap_or(Duration::from_secs(86_400)),
    );
    let mut flush = tokio::time::interval(flow.offset_flush_interval);
    let mut first = true;
    loop {
        tokio::select! {
            _ = shared.control.refresh_requested() => {
                first = true;
                refresh.reset_immediately();
            }
            _ = refresh.tick(), if first || flow.refresh_topics_interval.is_some() => {
                first = false;
                match discover(flow, &source_admin, &target_admin).await {
                    Ok(found) => {
                        for route in found.routes {
                            let key = (route.topic.clone(), route.partition);
                            running
                                .entry(key)
                                .or_insert_with(|| pipelines.spawn(run_partition(shared.clone(), route)));
                        }
                        running.retain(|(topic, partition), pipeline| {
                            let keep = found.selected.contains(topic);
                            if !keep {
                                tracing::info!(flow = %label, "source topic {topic} is gone: partition {partition} stops");
                                pipeline.abort();
                                shared.stats.partition_stopped(topic, *partition);
                            }
                            keep
                        });
                        shared.stats.set_orphaned(label, found.orphaned);
                    }
                    Err(e) => tracing::warn!(flow = %label, "topic discovery failed, retrying at the next refresh: {e}"),
                }
            }
            _ = flush.tick() => flush_internal(label, &progress, offset_syncs.as_deref()).await,
            _ = stopped(&mut shutdown) => break,
        }
    }
    tracing::info!(flow = %label, "stopping: draining in-flight batches");
    while pipelines.join_next().await.is_some() {}
    while syncs.join_next().await.is_some() {}
    flush_internal(label, &progress, offset_syncs.as_deref()).await;
    tracing::info!(flow = %label, "flow stopped, progress stored");
    Ok(())
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

async fn flush_internal(
    label: &str,
    progress: &ProgressStore,
    offset_syncs: Option<&OffsetSyncWriter>,
) {
    if let Err(e) = progress.flush().await {
        tracing::warn!(flow = %label, "storing progress failed, retrying: {e}");
    }
    if let Some(syncs) = offset_syncs {
        if let Err(e) = syncs.flush().await {
            tracing::warn!(flow = %label, "writing offset syncs failed, retrying: {e}");
        }
    }
}

async fn emit_heartbeats(
    emitter: HeartbeatEmitter,
    interval: Duration,
    label: String,
    stats: Arc<FlowStats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = tick.tick() => {
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
