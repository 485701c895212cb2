//! Prometheus metrics of a running mirror, in the OpenMetrics text format.
//!
//! MM2's per-partition metrics (spec §8) map to Prometheus names with base units (seconds) and
//! labels `source`, `target`, `topic`, `partition` (and `group` for checkpoints):
//! `record-count` → `strait_record_count_total`, `byte-count` → `strait_byte_count_total`
//! (rates: `rate()` over these), `record-age-ms-{avg,min,max}` →
//! `strait_record_age_seconds_{avg,min,max}`, `replication-latency-ms-{avg,min,max}` →
//! `strait_replication_latency_seconds_{avg,min,max}`, `checkpoint-latency-ms-*` →
//! `strait_checkpoint_latency_seconds_*`. What MM2 lacks: lag in records, bytes and seconds,
//! batches by path, errors by code, heartbeat age, sync actions. The full list is
//! [`METRICS`]; `docs/observability.md` explains each.

mod families;

use std::fmt::Write;

use crate::engine::FlowHandle;
use families::Families;

/// Whether per-partition series carry a `partition` label or are summed per topic (for
/// mirrors with very many partitions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PartitionLabels {
    /// One series per partition.
    #[default]
    Partition,
    /// One series per topic: counts and lag summed, lag seconds and max latencies the largest.
    Topic,
}

/// The content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every metric family strait exports (names as scraped, counters with `_total`).
pub const METRICS: &[&str] = families::NAMES;

/// Families exported only once they have a series: errors (after the first error), heartbeat
/// age (after the first heartbeat), checkpoint latency (once checkpoints are emitted).
pub const CONDITIONAL: &[&str] = &[
    "strait_errors_total",
    "strait_heartbeat_age_seconds",
    "strait_checkpoint_latency_seconds_avg",
    "strait_checkpoint_latency_seconds_min",
    "strait_checkpoint_latency_seconds_max",
];

/// The metrics of `flows` now, in the OpenMetrics text format.
pub fn render(flows: &[FlowHandle], labels: PartitionLabels) -> String {
    let families = Families::default();
    for flow in flows {
        families.observe(flow, labels);
    }
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, &families.registry()).is_err() {
        let _ = writeln!(out, "# metrics could not be encoded");
    }
    out
}
