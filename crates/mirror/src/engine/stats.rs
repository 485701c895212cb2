//! Counters of one flow: what was mirrored and by which path.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters of a flow, shared by its partition pipelines.
#[derive(Debug, Default)]
pub struct FlowStats {
    records: AtomicU64,
    bytes: AtomicU64,
    passed_through: AtomicU64,
    reencoded: AtomicU64,
    dropped: AtomicU64,
    partitions: AtomicU64,
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

    /// The current values.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            records: self.records.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            passed_through: self.passed_through.load(Ordering::Relaxed),
            reencoded: self.reencoded.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            partitions: self.partitions.load(Ordering::Relaxed),
        }
    }
}
