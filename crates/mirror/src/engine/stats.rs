//! Counters and state of one flow: what was mirrored and by which path, per-partition state,
//! errors by code, heartbeat age, sync actions, checkpoint latency.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use super::buffer::FetchBudget;
use super::partition_stats::{ErrorNote, PartitionStats};
use super::window::{Aggregate, Window};
use crate::group::GroupStatus;
use crate::sync::PassReport;

/// Live counters of a flow, shared by its partition pipelines.
#[derive(Debug, Default)]
pub struct FlowStats {
    records: AtomicU64,
    bytes: AtomicU64,
    passed_through: AtomicU64,
    reencoded: AtomicU64,
    dropped: AtomicU64,
    cycle: AtomicU64,
    recognised: AtomicU64,
    /// Whether the flow writes in transactions (exactly-once mode).
    exactly_once: AtomicBool,
    transactions_committed: AtomicU64,
    transactions_failed: AtomicU64,
    source_records_lost: AtomicU64,
    partitions: AtomicU64,
    configs_synced: AtomicU64,
    acls_synced: AtomicU64,
    schemas_synced: AtomicU64,
    sync_failures: AtomicU64,
    /// Schema versions in conflict and renumbered on the target's registry at the last schema
    /// sync pass (`None`: no pass yet, or schema sync is off).
    schema_standing: Mutex<Option<(u64, u64)>>,
    /// Last heartbeat written, ms since the epoch (0: none yet).
    heartbeat_ms: AtomicI64,
    orphaned: Mutex<BTreeSet<String>>,
    per_partition: Mutex<BTreeMap<(String, i32), Arc<PartitionStats>>>,
    errors: Mutex<BTreeMap<(&'static str, String), u64>>,
    state: Mutex<FlowState>,
    checkpoints: Mutex<BTreeMap<CheckpointKey, Window>>,
    group: Mutex<Option<GroupStatus>>,
    /// Seconds writes waited for each throttle bucket (`flow` or a rule's name).
    throttle_waits: Mutex<BTreeMap<String, f64>>,
    /// The replication loop's fetch buffer budget, while it runs.
    buffer: Mutex<Option<FetchBudget>>,
}

/// What a flow is doing.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "state", content = "reason")]
pub enum FlowState {
    /// Connecting to its clusters and opening internal topics.
    #[default]
    Starting,
    /// Replicating (some topics or partitions may still be paused).
    Running,
    /// Only emitting heartbeats (`<source>-><target>.enabled` is false).
    HeartbeatsOnly,
    /// Setup failed; retrying after a backoff.
    Retrying(String),
    /// Stopped for good: configuration it cannot run with.
    Failed(String),
    /// Stopped by shutdown.
    Stopped,
}

/// Consumer group, topic and partition of a checkpoint (per-group metric labels).
pub type CheckpointKey = (String, String, i32);

/// A point-in-time copy of [`FlowStats`]' flow-wide counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// Records acknowledged by the target.
    pub records: u64,
    /// Batch bytes acknowledged by the target.
    pub bytes: u64,
    /// Batches forwarded untouched.
    pub passed_through: u64,
    /// Batches decoded and re-encoded.
    pub reencoded: u64,
    /// Batches not forwarded (transaction markers, aborted data).
    pub dropped: u64,
    /// Batches not forwarded because a mirror brought them from the target
    /// (`strait.cycle.detection = producer.id`).
    pub cycle: u64,
    /// Batches found already on the target after a crash or failed write, not written again.
    pub recognised: u64,
    /// Transactions committed (exactly-once mode).
    pub transactions_committed: u64,
    /// Transactions that did not commit (fenced, timed out, a write failed): aborted, their
    /// batches written again (exactly-once mode).
    pub transactions_failed: u64,
    /// Records deleted on the source before they were mirrored.
    pub source_records_lost: u64,
    /// Partitions being replicated.
    pub partitions: u64,
    /// Topic config changes applied to remote topics.
    pub configs_synced: u64,
    /// ACL bindings created on the target.
    pub acls_synced: u64,
    /// Schema versions registered and compatibility levels set on the target's registry.
    pub schemas_synced: u64,
    /// Config or ACL sync attempts that failed (retried at the next interval).
    pub sync_failures: u64,
}

impl FlowStats {
    pub(crate) fn acked(&self, records: u64, bytes: u64, reencoded: bool) {
        self.records.fetch_add(records, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        let path = if reencoded {
            &self.reencoded
        } else {
            &self.passed_through
        };
        path.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn cycle_skipped(&self) {
        self.cycle.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn recognised(&self, batches: u64) {
        self.recognised.fetch_add(batches, Ordering::Relaxed);
    }

    pub(crate) fn set_exactly_once(&self, on: bool) {
        self.exactly_once.store(on, Ordering::Relaxed);
    }

    /// Whether the flow writes in transactions (exactly-once mode).
    pub fn exactly_once(&self) -> bool {
        self.exactly_once.load(Ordering::Relaxed)
    }

    /// Registers the replication loop's fetch buffer budget.
    pub(crate) fn set_buffer(&self, budget: &FetchBudget) {
        *lock(&self.buffer) = Some(budget.clone());
    }

    /// Bytes fetched and not yet written, and the budget (`strait.buffer.max.bytes`), while
    /// the flow replicates.
    pub fn buffer(&self) -> Option<(u64, u64)> {
        lock(&self.buffer)
            .as_ref()
            .map(|b| (b.held() as u64, u64::from(b.limit())))
    }

    /// Registers the flow's throttle buckets (their wait counters start at 0).
    pub(crate) fn set_throttles(&self, labels: &[String]) {
        let mut waits = lock(&self.throttle_waits);
        waits.clear();
        waits.extend(labels.iter().map(|l| (l.clone(), 0.0)));
    }

    pub(crate) fn throttled(&self, label: &str, wait: std::time::Duration) {
        *lock(&self.throttle_waits)
            .entry(label.to_owned())
            .or_default() += wait.as_secs_f64();
    }

    /// Seconds writes waited per throttle bucket; empty when the flow is not throttled.
    pub fn throttle_waits(&self) -> Vec<(String, f64)> {
        lock(&self.throttle_waits)
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    pub(crate) fn transaction_committed(&self) {
        self.transactions_committed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn transaction_failed(&self) {
        self.transactions_failed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn source_records_lost(&self, records: u64) {
        self.source_records_lost
            .fetch_add(records, Ordering::Relaxed);
    }

    /// Registers a partition pipeline and returns its state (kept across pipeline restarts).
    pub(crate) fn partition_started(&self, topic: &str, partition: i32) -> Arc<PartitionStats> {
        self.partitions.fetch_add(1, Ordering::Relaxed);
        lock(&self.per_partition)
            .entry((topic.to_owned(), partition))
            .or_default()
            .clone()
    }

    /// The latest view of the flow's group (none when the process works alone).
    pub fn group_status(&self) -> Option<GroupStatus> {
        lock(&self.group).clone()
    }

    pub(crate) fn set_group_status(&self, status: &GroupStatus) {
        *lock(&self.group) = Some(status.clone());
    }

    /// Forgets a partition that stopped here (its topic is gone, or it moved to another member).
    pub(crate) fn partition_stopped(&self, topic: &str, partition: i32) {
        if lock(&self.per_partition)
            .remove(&(topic.to_owned(), partition))
            .is_some()
        {
            self.partitions.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Counts a topic config sync pass.
    pub(crate) fn config_pass(&self, report: PassReport) {
        self.configs_synced
            .fetch_add(report.applied as u64, Ordering::Relaxed);
        self.sync_failures
            .fetch_add(report.failures, Ordering::Relaxed);
    }

    /// Counts an ACL sync pass.
    pub(crate) fn acl_pass(&self, report: PassReport) {
        self.acls_synced
            .fetch_add(report.applied as u64, Ordering::Relaxed);
        self.sync_failures
            .fetch_add(report.failures, Ordering::Relaxed);
    }

    /// Counts a schema sync pass and keeps its standing conflicts and renumberings.
    pub(crate) fn schema_pass(&self, report: &crate::sync::schemas::SchemaReport) {
        self.schemas_synced.fetch_add(
            (report.registered + report.configs_set) as u64,
            Ordering::Relaxed,
        );
        self.sync_failures
            .fetch_add(report.failures.len() as u64, Ordering::Relaxed);
        *lock(&self.schema_standing) = Some((
            report.conflicts.len() as u64,
            report.renumbered_count() as u64,
        ));
    }

    /// Schema versions in conflict and renumbered on the target at the last schema sync pass
    /// (`None` before the first pass, or with schema sync off).
    pub fn schema_standing(&self) -> Option<(u64, u64)> {
        *lock(&self.schema_standing)
    }

    /// Counts an error of operation `op` (`fetch`, `produce`) with Kafka code or kind `code`.
    pub(crate) fn error(&self, op: &'static str, code: String) {
        *lock(&self.errors).entry((op, code)).or_default() += 1;
    }

    pub(crate) fn heartbeat_emitted(&self, now_ms: i64) {
        self.heartbeat_ms.store(now_ms, Ordering::Relaxed);
    }

    pub(crate) fn set_state(&self, state: FlowState) {
        *lock(&self.state) = state;
    }

    /// Records how long one checkpoint took from the source group's commit to its emission
    /// (MM2's `checkpoint-latency-ms`), for `group`, `topic`, `partition`.
    pub fn record_checkpoint(&self, group: &str, topic: &str, partition: i32, latency_ms: f64) {
        lock(&self.checkpoints)
            .entry((group.to_owned(), topic.to_owned(), partition))
            .or_default()
            .record(latency_ms / 1000.0);
    }

    /// Replaces the set of orphaned remote topics, logging each newly orphaned one once.
    pub(crate) fn set_orphaned(&self, flow: &str, topics: Vec<String>) {
        let now: BTreeSet<String> = topics.into_iter().collect();
        let mut known = lock(&self.orphaned);
        for topic in now.difference(&known) {
            tracing::warn!(flow, "remote topic {topic} is orphaned: its source topic was deleted; strait leaves it in place");
        }
        *known = now;
    }

    /// Remote topics whose source topic no longer exists.
    pub fn orphaned_topics(&self) -> Vec<String> {
        lock(&self.orphaned).iter().cloned().collect()
    }

    /// The current flow-wide values.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            records: self.records.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            passed_through: self.passed_through.load(Ordering::Relaxed),
            reencoded: self.reencoded.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            cycle: self.cycle.load(Ordering::Relaxed),
            recognised: self.recognised.load(Ordering::Relaxed),
            transactions_committed: self.transactions_committed.load(Ordering::Relaxed),
            transactions_failed: self.transactions_failed.load(Ordering::Relaxed),
            source_records_lost: self.source_records_lost.load(Ordering::Relaxed),
            partitions: self.partitions.load(Ordering::Relaxed),
            configs_synced: self.configs_synced.load(Ordering::Relaxed),
            acls_synced: self.acls_synced.load(Ordering::Relaxed),
            schemas_synced: self.schemas_synced.load(Ordering::Relaxed),
            sync_failures: self.sync_failures.load(Ordering::Relaxed),
        }
    }

    /// The per-partition states, by topic and partition.
    pub fn partitions(&self) -> Vec<((String, i32), Arc<PartitionStats>)> {
        lock(&self.per_partition)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Error counts by operation and code.
    pub fn errors(&self) -> Vec<(&'static str, String, u64)> {
        lock(&self.errors)
            .iter()
            .map(|((op, code), n)| (*op, code.clone(), *n))
            .collect()
    }

    /// What the flow is doing.
    pub fn state(&self) -> FlowState {
        lock(&self.state).clone()
    }

    /// When the last heartbeat was written (ms since the epoch), if any.
    pub fn last_heartbeat_ms(&self) -> Option<i64> {
        match self.heartbeat_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(ms),
        }
    }

    /// Checkpoint latency (seconds, last 1-2 minutes) per group, topic and partition.
    pub fn checkpoint_latencies(&self) -> Vec<(CheckpointKey, Aggregate)> {
        lock(&self.checkpoints)
            .iter_mut()
            .map(|(k, w)| (k.clone(), w.view()))
            .collect()
    }

    /// The most recent error of any partition.
    pub fn last_error(&self) -> Option<(String, i32, ErrorNote)> {
        let now = crate::clock::now_ms();
        self.partitions()
            .into_iter()
            .filter_map(|((topic, p), s)| {
                let e = s.snapshot(&topic, p, now).last_error?;
                Some((topic, p, e))
            })
            .max_by_key(|(_, _, e)| e.at_ms)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
