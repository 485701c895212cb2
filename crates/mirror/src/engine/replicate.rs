//! The replication loop of one flow: discovery, the fetcher, one pipeline per source partition
//! this process owns, progress flushing; in a group, the assignments that start and stop
//! pipelines one by one and the hand-over of the partitions given up.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strait_kafka::FetchOptions;

use super::buffer::FetchBudget;
use super::cycles::Cycles;
use super::discovery::{discover, PartitionRoute};
use super::error::EngineError;
use super::fetch_window::FetchWindow;
use super::fetcher::{spawn_fetcher, FetchSettings};
use super::flow::{Admins, FlowRun, GroupLink};
use super::partition_context::PartitionContext;
use super::pipelines::Pipelines;
use super::singletons::Singletons;
use super::stats::FlowState;
use super::throttle::Throttle;
use crate::clients::connect;
use crate::config::{CycleDetection, SyncsLocation};
use crate::group::assignor::PartitionKey;
use crate::group::member::{GroupCommand, GroupEvent};
use crate::internal::{OffsetSyncWriter, ProgressStore};
use crate::policy::ReplicationPolicy;
use crate::shutdown::stopped;

/// What the flow runs: everything (alone), or what the group assigned.
struct Work {
    /// `None`: the process is alone and runs every partition discovery finds.
    mine: Option<BTreeSet<PartitionKey>>,
    /// The routes of the partitions discovery found (remote topic ready).
    routes: BTreeMap<PartitionKey, PartitionRoute>,
    /// The source topics the flow selects.
    selected: HashSet<String>,
    /// Partitions given up and still draining: the member waits for them before rejoining.
    releasing: bool,
    /// The last assignment was a loss (fenced, lease lapsed): unwritten progress is dropped.
    lost: bool,
    /// Partitions that stopped during the current release.
    released: Vec<PartitionKey>,
}

impl Work {
    fn wants(&self, key: &PartitionKey) -> bool {
        self.selected.contains(&key.0) && self.mine.as_ref().is_none_or(|m| m.contains(key))
    }
}

pub(super) async fn replicate(
    run: FlowRun<'_>,
    mut singletons: Singletons,
    mut group: Option<GroupLink>,
    owned: Arc<Mutex<BTreeMap<PartitionKey, u64>>>,
    admins: Admins,
) -> Result<(), EngineError> {
    let FlowRun {
        flow,
        label,
        stats,
        control,
        force_reencode,
        mut shutdown,
    } = run;
    let source = connect(&flow.source_consumer, label, "replication-consumer").await?;
    let target = connect(&flow.target_producer, label, "replication-producer").await?;
    let Admins {
        source: source_admin,
        target: target_admin,
    } = admins;
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
    let offset_syncs = offset_sync_writer(flow, label).await?;
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
    let cycles = match flow.cycle_detection {
        CycleDetection::ProducerId => Some(Arc::new(
            Cycles::open(
                &source,
                &target,
                flow.offset_storage_replication_factor,
                label,
            )
            .await?,
        )),
        CycleDetection::TopicName => {
            if matches!(flow.policy, ReplicationPolicy::Identity { .. }) {
                tracing::warn!(flow = %label, "IdentityReplicationPolicy keeps topic names, so cycles are not detected (as in MirrorMaker 2): a topic mirrored {}->{} and back again goes round forever. Set strait.cycle.detection = producer.id on both flows to mirror same-name topics both ways (docs/active-active.md)", flow.source, flow.target);
            }
            None
        }
    };
    let lease = group.as_ref().map(|g| g.lease.clone());
    let throttle = Arc::new(Throttle::new(&flow.throttle));
    let budget = FetchBudget::new(flow.buffer_max_bytes);
    stats.set_buffer(&budget);
    stats.set_throttles(&throttle.labels());
    let shared = Arc::new(PartitionContext {
        label: label.to_owned(),
        source: source.clone(),
        target,
        fetch_window: FetchWindow::new(partition_max_bytes, fetch_options.max_bytes),
        fetcher: spawn_fetcher(
            source,
            FetchSettings {
                options: fetch_options,
                partition_max_bytes,
                budget,
            },
        ),
        progress: progress.clone(),
        offset_syncs: offset_syncs.clone(),
        stats: stats.clone(),
        auto_offset_reset: flow.auto_offset_reset,
        force_reencode,
        shutdown: shutdown.clone(),
        control: control.clone(),
        lease: lease.clone(),
        exactly_once: flow.exactly_once.clone(),
        throttle,
        cycles,
        producers: Arc::default(),
    });
    stats.set_exactly_once(flow.exactly_once.is_some());
    if let Some(eos) = &flow.exactly_once {
        tracing::info!(flow = %label, "exactly-once mode: each partition writes in transactions ({:?} boundary), transactional ids {}-<topic>-<partition>", eos.boundary, eos.transactional_id_prefix);
    }
    tracing::info!(flow = %label, "flow started");
    stats.set_state(FlowState::Running);
    if group.is_none() {
        singletons.set(true);
    }
    let may_write = || lease.as_ref().is_none_or(|l| l.is_valid());

    let mut pipelines = Pipelines::new(shared.clone(), owned);
    let mut work = Work {
        mine: group.as_ref().map(|_| BTreeSet::new()),
        routes: BTreeMap::new(),
        selected: HashSet::new(),
        releasing: false,
        lost: false,
        released: Vec::new(),
    };
    let mut refresh = tokio::time::interval(
        flow.refresh_topics_interval
            .unwrap_or(Duration::from_secs(86_400)),
    );
    let mut flush = tokio::time::interval(flow.offset_flush_interval);
    let mut last_flush = Instant::now();
    let mut first = true;
    loop {
        tokio::select! {
            _ = control.refresh_requested() => {
                first = true;
                refresh.reset_immediately();
            }
            _ = refresh.tick(), if first || flow.refresh_topics_interval.is_some() => {
                first = false;
                let create = group.is_none() || singletons.is_on();
                match discover(flow, &source_admin, &target_admin, create).await {
                    Ok(found) => {
                        work.routes = found
                            .routes
                            .into_iter()
                            .map(|r| ((r.topic.clone(), r.partition), r))
                            .collect();
                        work.selected = found.selected;
                        stats.set_orphaned(label, found.orphaned);
                        if let Some(g) = &group {
                            if g.set_partitions(work.routes.keys()) && singletons.is_on() {
                                g.tell(GroupCommand::Rejoin).await;
                            }
                        }
                        reconcile(label, &mut pipelines, &work, &progress, group.is_some()).await;
                    }
                    Err(e) => tracing::warn!(flow = %label, "topic discovery failed, retrying at the next refresh: {e}"),
                }
            }
            event = next_event(&mut group) => {
                match event {
                    GroupEvent::Assigned { leader, mine, .. } => {
                        // A new leader looks for topics at once: it creates the remote topics
                        // its discovery as a follower left alone, and shares what it finds.
                        if leader && !singletons.is_on() {
                            first = true;
                            refresh.reset_immediately();
                        }
                        singletons.set(leader);
                        work.mine = Some(mine);
                        work.lost = false;
                        reconcile(label, &mut pipelines, &work, &progress, true).await;
                    }
                    GroupEvent::Lost => {
                        tracing::warn!(flow = %label, "group membership lost: stopping every partition");
                        singletons.set(false);
                        work.mine = Some(BTreeSet::new());
                        work.lost = true;
                        pipelines.stop_all();
                    }
                }
                work.releasing = true;
                work.released.clear();
                if pipelines.stopping() == 0 {
                    release(label, &mut work, &progress, offset_syncs.as_deref(), group.as_ref(), may_write()).await;
                }
            }
            Some(key) = pipelines.next_finished(), if !pipelines.is_empty() => {
                stats.partition_stopped(&key.0, key.1);
                if work.releasing {
                    work.released.push(key);
                }
                if work.releasing && pipelines.stopping() == 0 {
                    release(label, &mut work, &progress, offset_syncs.as_deref(), group.as_ref(), may_write()).await;
                }
                // A partition given back while it drained starts again.
                reconcile(label, &mut pipelines, &work, &progress, group.is_some()).await;
            }
            _ = flush.tick() => {
                if may_write() {
                    flush_internal(label, &progress, offset_syncs.as_deref()).await;
                }
                pipelines.update_rates(last_flush.elapsed().as_millis() as u64);
                last_flush = Instant::now();
            }
            _ = stopped(&mut shutdown) => break,
        }
    }
    tracing::info!(flow = %label, "stopping: draining in-flight batches");
    pipelines.stop_all();
    pipelines.join_all().await;
    singletons.stop().await;
    if may_write() {
        flush_internal(label, &progress, offset_syncs.as_deref()).await;
        tracing::info!(flow = %label, "flow stopped, progress stored");
    }
    if let Some(group) = group {
        group.leave().await;
    }
    Ok(())
}

/// The writer of the flow's offset syncs, if it emits them.
async fn offset_sync_writer(
    flow: &crate::config::FlowConfig,
    label: &str,
) -> Result<Option<Arc<OffsetSyncWriter>>, EngineError> {
    if !flow.emit_offset_syncs {
        return Ok(None);
    }
    let (alias, cluster_alias) = match flow.offset_syncs_location {
        SyncsLocation::Source => (&flow.target, &flow.source),
        SyncsLocation::Target => (&flow.source, &flow.target),
    };
    let cluster = connect(&flow.offset_syncs_producer, label, "offset-syncs-producer").await?;
    let topic = flow.policy.offset_syncs_topic(alias);
    tracing::debug!(flow = %label, "offset syncs go to {topic} on {cluster_alias}");
    let writer =
        OffsetSyncWriter::open(&cluster, &topic, flow.offset_syncs_topic_replication_factor)
            .await?;
    Ok(Some(Arc::new(writer)))
}

/// The group's next event; never resolves without a group.
async fn next_event(group: &mut Option<GroupLink>) -> GroupEvent {
    match group {
        Some(g) => match g.events.recv().await {
            Some(event) => event,
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// Stops the pipelines the flow no longer wants and starts the wanted ones that do not run
/// (after reading their progress again in a group: another member may have moved it on).
async fn reconcile(
    label: &str,
    pipelines: &mut Pipelines,
    work: &Work,
    progress: &ProgressStore,
    in_group: bool,
) {
    for key in pipelines.active() {
        if let Some(route) = work
            .routes
            .get(&key)
            .filter(|r| pipelines.runs_older_topic(r))
        {
            tracing::warn!(flow = %label, topic = %key.0, partition = key.1, "source topic {} was deleted and re-created (new topic id {:?}): the partition restarts on the new topic", key.0, route.topic_id);
            pipelines.stop(&key);
            continue;
        }
        if !work.wants(&key) {
            let why = if work.selected.contains(&key.0) {
                "assigned to another member"
            } else {
                "its source topic is gone"
            };
            tracing::info!(flow = %label, topic = %key.0, partition = key.1, "partition stops ({why}): draining");
            pipelines.stop(&key);
        }
    }
    let start: Vec<PartitionRoute> = work
        .routes
        .iter()
        .filter(|(key, _)| work.wants(key) && !pipelines.contains(key))
        .map(|(_, route)| route.clone())
        .collect();
    if start.is_empty() {
        return;
    }
    if in_group {
        let keys: Vec<PartitionKey> = start
            .iter()
            .map(|r| (r.topic.clone(), r.partition))
            .collect();
        if let Err(e) = progress.reload(&keys).await {
            tracing::warn!(flow = %label, "reading the progress of {} partitions taken over failed, retrying at the next refresh: {e}", keys.len());
            return;
        }
    }
    for route in start {
        pipelines.start(route);
    }
}

/// Every partition given up has stopped: store their progress (or drop it, if the lease
/// lapsed and another member may own them already) and tell the member.
async fn release(
    label: &str,
    work: &mut Work,
    progress: &ProgressStore,
    offset_syncs: Option<&OffsetSyncWriter>,
    group: Option<&GroupLink>,
    may_write: bool,
) {
    if !work.releasing {
        return;
    }
    work.releasing = false;
    if work.lost || !may_write {
        progress.forget(&work.released);
    } else {
        flush_internal(label, progress, offset_syncs).await;
    }
    if !work.released.is_empty() {
        tracing::info!(flow = %label, "{} partitions handed over, progress stored", work.released.len());
    }
    work.released.clear();
    if let Some(g) = group {
        g.tell(GroupCommand::Released).await;
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
