//! Counters of one flow: what was mirrored and by which path.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Live counters of a flow, shared by its partition pipelines.
#[derive(Debug, Default)]
pub struct FlowStats {
    records: AtomicU64,
    bytes: AtomicU64,
    passed_through: AtomicU64,
    reencoded: AtomicU64,
    dropped: AtomicU64,
    partitions: AtomicU64,
    configs_synced: AtomicU64,
    acls_synced: AtomicU64,
    sync_failures: AtomicU64,
    orphaned: Mutex<BTreeSet<String>>,
}

/// A point-in-time copy of [`FlowStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
    /// Partitions being replicated.
    pub partitions: u64,
    /// Topic config changes applied to remote topics.
    pub configs_synced: u64,
    /// ACL bindings created on the target.
    pub acls_synced: u64,
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

    pub(crate) fn partition_started(&self) {
        self.partitions.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn configs_synced(&self, changes: u64) {
        self.configs_synced.fetch_add(changes, Ordering::Relaxed);
    }

    pub(crate) fn acls_synced(&self, bindings: u64) {
        self.acls_synced.fetch_add(bindings, Ordering::Relaxed);
    }

    pub(crate) fn sync_failed(&self) {
        self.sync_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Replaces the set of orphaned remote topics, logging each newly orphaned one once.
    pub(crate) fn set_orphaned(&self, flow: &str, topics: Vec<String>) {
        let now: BTreeSet<String> = topics.into_iter().collect();
        let mut known = self.orphaned.lock().expect("orphaned lock");
        for topic in now.difference(&known) {
            tracing::warn!(flow, "remote topic {topic} is orphaned: its source topic was deleted; strait leaves it in place");
        }
        *known = now;
    }

    /// Remote topics whose source topic no longer exists.
    pub fn orphaned_topics(&self) -> Vec<String> {
        self.orphaned
            .lock()
            .expect("orphaned lock")
            .iter()
            .cloned()
            .collect()
    }

    /// The current values.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            records: self.records.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            passed_through: self.passed_through.load(Ordering::Relaxed),
            reencoded: self.reencoded.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            partitions: self.partitions.load(Ordering::Relaxed),
            configs_synced: self.configs_synced.load(Ordering::Relaxed),
            acls_synced: self.acls_synced.load(Ordering::Relaxed),
            sync_failures: self.sync_failures.load(Ordering::Relaxed),
        }
    }
}
