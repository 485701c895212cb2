//! What a running flow reports to operators: [`FlowHandle`] gives its state, counters and
//! per-partition lag, and steers it (pause, resume, refresh).

use crate::group::GroupStatus;
use std::sync::Arc;

use serde::Serialize;

use super::control::{FlowControl, PauseState};
use super::partition_stats::{ErrorNote, PartitionSnapshot};
use super::stats::{FlowState, FlowStats, StatsSnapshot};

/// One flow of a running mirror, for status pages, metrics and controls. Cheap to clone.
#[derive(Debug, Clone)]
pub struct FlowHandle {
    /// Source cluster alias.
    pub source: String,
    /// Target cluster alias.
    pub target: String,
    /// Live counters and per-partition state.
    pub stats: Arc<FlowStats>,
    /// Pause, resume and refresh.
    pub control: FlowControl,
}

/// A flow's state and totals, as shown by `strait status` and `GET /api/v1/flows`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FlowStatus {
    /// `source->target`.
    pub flow: String,
    /// Source cluster alias.
    pub source: String,
    /// Target cluster alias.
    pub target: String,
    /// What the flow is doing.
    pub state: FlowState,
    /// What an operator paused.
    pub paused: PauseState,
    /// Flow-wide counters.
    pub totals: StatsSnapshot,
    /// Sum of the partitions' `lag_records`.
    pub lag_records: u64,
    /// Sum of the partitions' `lag_bytes` (an estimate).
    pub lag_bytes: u64,
    /// The largest partition `lag_seconds`.
    pub lag_seconds: f64,
    /// Seconds since the last heartbeat was written (None: heartbeats off or none yet).
    pub heartbeat_age_seconds: Option<f64>,
    /// Remote topics whose source topic was deleted.
    pub orphaned_topics: Vec<String>,
    /// Errors by operation and Kafka code.
    pub errors: Vec<ErrorCount>,
    /// The most recent partition error.
    pub last_error: Option<PartitionError>,
    /// The group this process shares the flow with (none: it works alone).
    pub group: Option<GroupStatus>,
}

/// How often one kind of error happened.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorCount {
    /// `fetch`, `produce` or `source`.
    pub op: String,
    /// Kafka error code name, or kind of failure (`Timeout`, `ConnectionLost`...).
    pub code: String,
    /// How many times.
    pub count: u64,
}

/// An error of one partition.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PartitionError {
    /// Source topic.
    pub topic: String,
    /// Source partition.
    pub partition: i32,
    /// When and what.
    #[serde(flatten)]
    pub error: ErrorNote,
}

impl FlowHandle {
    /// `source->target`.
    pub fn label(&self) -> String {
        format!("{}->{}", self.source, self.target)
    }

    /// Every partition's state, sorted by topic and partition.
    pub fn partitions(&self) -> Vec<PartitionSnapshot> {
        let now = crate::clock::now_ms();
        self.stats
            .partitions()
            .into_iter()
            .map(|((topic, p), s)| s.snapshot(&topic, p, now))
            .collect()
    }

    /// The flow's state and totals.
    pub fn status(&self) -> FlowStatus {
        let partitions = self.partitions();
        let now = crate::clock::now_ms();
        FlowStatus {
            flow: self.label(),
            source: self.source.clone(),
            target: self.target.clone(),
            state: self.stats.state(),
            paused: self.control.paused(),
            totals: self.stats.snapshot(),
            lag_records: partitions.iter().map(|p| p.lag_records).sum(),
            lag_bytes: partitions.iter().map(|p| p.lag_bytes).sum(),
            lag_seconds: partitions.iter().map(|p| p.lag_seconds).fold(0.0, f64::max),
            heartbeat_age_seconds: self
                .stats
                .last_heartbeat_ms()
                .map(|ms| (now - ms).max(0) as f64 / 1000.0),
            orphaned_topics: self.stats.orphaned_topics(),
            errors: self
                .stats
                .errors()
                .into_iter()
                .map(|(op, code, count)| ErrorCount {
                    op: op.to_owned(),
                    code,
                    count,
                })
                .collect(),
            last_error: self
                .stats
                .last_error()
                .map(|(topic, partition, error)| PartitionError {
                    topic,
                    partition,
                    error,
                }),
            group: self.stats.group_status(),
        }
    }
}
