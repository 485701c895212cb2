//! The checkpoint loop of one flow (MM2's `MirrorCheckpointConnector` + `MirrorCheckpointTask`):
//! find the source's consumer groups, translate their committed offsets with the offset syncs,
//! write monotonic checkpoints to `<source>.checkpoints.internal` on the target and, when
//! enabled, commit them into idle target groups.

use std::sync::Arc;
use std::time::Duration;

use strait_kafka::Cluster;
use tokio::sync::watch;

use super::group_sync::{sync_group, GroupSyncOutcome, WantedOffset};
use super::store::{checkpoint_if_newer, CheckpointStore};
use super::sync_store::{OffsetSyncStore, RECENT_SYNCS_PER_PARTITION};
use super::syncs_tail::SyncsTail;
use super::writer::CheckpointWriter;
use crate::clients::{connect, ConnectError};
use crate::clock::now_ms;
use crate::config::{FlowConfig, SyncsLocation};
use crate::formats::Checkpoint;
use crate::internal::InternalTopicError;
use crate::policy::ReplicationPolicy;
use crate::shutdown::{sleep_unless_stopped, stopped, unless_stopped, SETUP_RETRY};

/// The checkpoints topic's name on the target for a flow's source alias.
pub fn checkpoints_topic(flow: &FlowConfig) -> String {
    flow.policy.checkpoints_topic(&flow.source)
}

/// The offset-syncs topic of a flow (on the cluster `offset-syncs.topic.location` names).
pub fn offset_syncs_topic(flow: &FlowConfig) -> String {
    match flow.offset_syncs_location {
        SyncsLocation::Source => flow.policy.offset_syncs_topic(&flow.target),
        SyncsLocation::Target => flow.policy.offset_syncs_topic(&flow.source),
    }
}

/// The opposite flow's offset-syncs topic (`target->source`, assuming the same
/// `offset-syncs.topic.location`), and whether it lives on this flow's target (else source).
pub fn reverse_offset_syncs_topic(flow: &FlowConfig) -> (String, bool) {
    match flow.offset_syncs_location {
        SyncsLocation::Source => (flow.policy.offset_syncs_topic(&flow.source), true),
        SyncsLocation::Target => (flow.policy.offset_syncs_topic(&flow.target), false),
    }
}

/// MM2's `renameTopicPartition`: the name a source topic has on the target; a topic that came
/// from the target in the first place goes back to its original name.
pub fn downstream_topic(
    policy: &ReplicationPolicy,
    source_alias: &str,
    target_alias: &str,
    topic: &str,
) -> String {
    if policy.topic_source(topic).as_deref() == Some(target_alias) {
        policy.original_topic(topic)
    } else {
        policy.format_remote_topic(source_alias, topic)
    }
}

/// Told of each checkpoint written, with its latency in milliseconds (MM2's
/// checkpoint-latency-ms: acknowledged time minus the record's timestamp).
pub(crate) type OnCheckpoint = Arc<dyn Fn(&Checkpoint, f64) + Send + Sync>;

/// Why the checkpoint loop could not start (retried).
#[derive(Debug, thiserror::Error)]
enum SetupError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Internal(#[from] InternalTopicError),
    #[error(transparent)]
    Kafka(#[from] strait_kafka::Error),
}

/// Runs the flow's checkpoint loop until shutdown; setup failures are retried.
pub(crate) async fn run_checkpoints(
    flow: FlowConfig,
    interval: Duration,
    on_checkpoint: OnCheckpoint,
    mut shutdown: watch::Receiver<bool>,
) {
    let label = flow.name();
    let mut failures = 0;
    let mut task = loop {
        let opened = tokio::select! {
            opened = CheckpointTask::open(&flow, &label, on_checkpoint.clone()) => opened,
            () = stopped(&mut shutdown) => return,
        };
        match opened {
            Ok(task) => break task,
            Err(e) => {
                failures += 1;
                let backoff = SETUP_RETRY.nominal(failures);
                tracing::warn!(flow = %label, "checkpoints not running, retrying in {backoff:?}: {e}");
                if !sleep_unless_stopped(backoff, &shutdown).await {
                    return;
                }
            }
        }
    };
    tracing::info!(flow = %label, "checkpoints: {} loaded from {}", task.checkpoints.len(), task.writer.topic());
    let mut emit = tokio::time::interval(interval);
    let forever = Duration::from_secs(86_400);
    let mut refresh = tokio::time::interval(flow.refresh_groups_interval.unwrap_or(forever));
    let mut group_sync = tokio::time::interval(flow.sync_group_offsets_interval.unwrap_or(forever));
    let mut first_refresh = true;
    loop {
        tokio::select! {
            _ = refresh.tick(), if first_refresh || flow.refresh_groups_interval.is_some() => {
                first_refresh = false;
                if unless_stopped(task.refresh_groups(), &shutdown).await.is_none() {
                    return;
                }
            }
            _ = emit.tick() => {
                if unless_stopped(task.emit(), &shutdown).await.is_none() {
                    return;
                }
            }
            _ = group_sync.tick(), if flow.sync_group_offsets_interval.is_some() => {
                if unless_stopped(task.sync_groups(), &shutdown).await.is_none() {
                    return;
                }
            }
            _ = stopped(&mut shutdown) => return,
        }
    }
}

/// Everything one flow's checkpoint loop keeps.
struct CheckpointTask {
    flow: FlowConfig,
    label: String,
    source: Cluster,
    target: Cluster,
    syncs_cluster: Cluster,
    tail: SyncsTail,
    syncs: OffsetSyncStore,
    /// The opposite flow's syncs, for groups reading remote copies of the target's topics.
    reverse: (Cluster, SyncsTail, OffsetSyncStore),
    checkpoints: CheckpointStore,
    writer: CheckpointWriter,
    groups: Vec<String>,
    /// Where checkpoint latencies go (the flow's counters).
    on_checkpoint: OnCheckpoint,
}

impl CheckpointTask {
    /// Connects, creates the checkpoints topic, reloads the checkpoints of this flow's groups
    /// and reads the offset syncs to their end (MM2's task start).
    async fn open(
        flow: &FlowConfig,
        label: &str,
        on_checkpoint: OnCheckpoint,
    ) -> Result<CheckpointTask, SetupError> {
        let source = connect(&flow.source_admin, label, "checkpoint-source-admin").await?;
        let target = connect(&flow.target_admin, label, "checkpoint-target-admin").await?;
        let syncs_cluster =
            connect(&flow.offset_syncs_consumer, label, "offset-syncs-consumer").await?;
        let topic = checkpoints_topic(flow);
        let writer =
            CheckpointWriter::open(&target, &topic, flow.checkpoints_topic_replication_factor)
                .await?;
        let filter = flow.group_filter.clone();
        let (checkpoints, loaded) =
            match CheckpointStore::load(&target, &topic, |g| filter.test(g)).await {
                Ok(store) => (store, true),
                Err(e) => {
                    tracing::warn!(flow = %label, "checkpoints not reloaded, starting empty: {e}");
                    (CheckpointStore::default(), false)
                }
            };
        let mut syncs = OffsetSyncStore::with_recent(!loaded, RECENT_SYNCS_PER_PARTITION);
        let mut tail = SyncsTail::new(&offset_syncs_topic(flow));
        for sync in tail.poll(&syncs_cluster).await? {
            syncs.handle_claimed(&sync);
        }
        syncs.set_read_to_end();
        let (reverse_topic, on_target) = reverse_offset_syncs_topic(flow);
        let reverse_cluster = if on_target {
            target.clone()
        } else {
            source.clone()
        };
        let mut reverse_tail = SyncsTail::new(&reverse_topic);
        let mut reverse_syncs = OffsetSyncStore::with_recent(false, RECENT_SYNCS_PER_PARTITION);
        match reverse_tail.poll(&reverse_cluster).await {
            Ok(syncs) => syncs.iter().for_each(|s| reverse_syncs.handle_claimed(s)),
            Err(e) => {
                tracing::warn!(flow = %label, "reading the opposite flow's offset syncs failed: {e}")
            }
        }
        reverse_syncs.set_read_to_end();
        Ok(CheckpointTask {
            flow: flow.clone(),
            label: label.to_owned(),
            source,
            target,
            syncs_cluster,
            tail,
            syncs,
            reverse: (reverse_cluster, reverse_tail, reverse_syncs),
            checkpoints,
            writer,
            groups: Vec::new(),
            on_checkpoint,
        })
    }

    /// Lists the source's consumer groups accepted by `groups`/`groups.exclude`.
    async fn refresh_groups(&mut self) {
        match self.source.list_groups().await {
            Ok(listed) => {
                let groups: Vec<String> = listed
                    .into_iter()
                    .filter(|g| g.protocol_type.is_empty() || g.protocol_type == "consumer")
                    .map(|g| g.group_id)
                    .filter(|g| self.flow.group_filter.test(g))
                    .collect();
                if groups != self.groups {
                    tracing::debug!(flow = %self.label, "checkpointing groups {groups:?}");
                    self.groups = groups;
                }
            }
            Err(e) => {
                tracing::warn!(flow = %self.label, "listing source consumer groups failed: {e}")
            }
        }
    }

    /// Reads new offset syncs, then writes a checkpoint for every group offset that
    /// translates to a newer target offset than the last checkpoint.
    async fn emit(&mut self) {
        match self.tail.poll(&self.syncs_cluster).await {
            Ok(new) => {
                if !new.is_empty() {
                    tracing::debug!(flow = %self.label, "{} new offset syncs from {}", new.len(), self.tail.topic());
                }
                new.iter().for_each(|s| {
                    tracing::trace!(flow = %self.label, "{} exact since {:?}", s.sync, s.exact_since);
                    self.syncs.handle_claimed(s)
                });
            }
            Err(e) => tracing::warn!(flow = %self.label, "reading offset syncs failed: {e}"),
        }
        let (cluster, tail, store) = &mut self.reverse;
        match tail.poll(cluster).await {
            Ok(new) => new.iter().for_each(|s| store.handle_claimed(s)),
            Err(e) => {
                tracing::warn!(flow = %self.label, "reading the opposite flow's offset syncs failed: {e}")
            }
        }
        for group in self.groups.clone() {
            let now = now_ms();
            let committed = match self.source.fetch_offsets(&group, None).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(flow = %self.label, group, "listing committed offsets failed: {e}");
                    continue;
                }
            };
            let fresh: Vec<Checkpoint> = committed
                .into_iter()
                .filter(|((topic, _), _)| self.flow.topic_filter.test(topic))
                .filter_map(|((topic, partition), c)| {
                    let downstream = self.translate(&topic, partition, c.offset)?;
                    Some(Checkpoint {
                        group: group.clone(),
                        topic: downstream_topic(
                            &self.flow.policy,
                            &self.flow.source,
                            &self.flow.target,
                            &topic,
                        ),
                        partition,
                        upstream_offset: c.offset,
                        downstream_offset: downstream,
                        metadata: c.metadata.unwrap_or_default(),
                    })
                })
                .filter(|c| checkpoint_if_newer(&self.checkpoints, c))
                .collect();
            if fresh.is_empty() {
                continue;
            }
            for c in &fresh {
                tracing::debug!(flow = %self.label, "{c}");
            }
            match self.writer.write(&fresh, now).await {
                Ok(()) => {
                    let latency_ms = (now_ms() - now) as f64;
                    for c in fresh {
                        (self.on_checkpoint)(&c, latency_ms);
                        self.checkpoints.insert(c);
                    }
                }
                Err(e) => {
                    tracing::warn!(flow = %self.label, group, "writing checkpoints failed: {e}")
                }
            }
        }
    }

    /// A source group offset on the target: through this flow's syncs, or, for a remote copy
    /// of a target topic (failback: `primary.orders` on backup), back through the opposite
    /// flow's syncs to the original topic.
    fn translate(&self, topic: &str, partition: i32, offset: i64) -> Option<i64> {
        let policy = &self.flow.policy;
        if policy.topic_source(topic).as_deref() == Some(self.flow.target.as_str()) {
            let original = policy.upstream_topic(topic)?;
            return self
                .reverse
                .2
                .translate_back(&original, partition, offset)
                .downstream();
        }
        self.syncs.translate(topic, partition, offset).downstream()
    }

    /// Commits the checkpointed offsets into target groups without active members, never
    /// rewinding them (`sync.group.offsets.enabled`).
    async fn sync_groups(&mut self) {
        for group in self.checkpoints.groups() {
            let wanted: Vec<WantedOffset> = self
                .checkpoints
                .group(&group)
                .map(|c| WantedOffset {
                    topic: c.topic.clone(),
                    partition: c.partition,
                    offset: c.downstream_offset,
                    metadata: c.metadata.clone(),
                })
                .collect();
            match sync_group(&self.target, &group, &wanted).await {
                Ok(GroupSyncOutcome::Written(n)) if n > 0 => {
                    tracing::debug!(flow = %self.label, group, "synced {n} offsets to the target group")
                }
                Ok(GroupSyncOutcome::SkippedActive(state)) => {
                    tracing::debug!(flow = %self.label, group, "target group is active ({state}): offsets not synced")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(flow = %self.label, group, "syncing group offsets failed: {e}")
                }
            }
        }
    }
}
