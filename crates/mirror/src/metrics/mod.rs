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
/// age (after the first heartbeat), checkpoint latency (once checkpoints are emitted), the
/// group families (only flows that share their work, `strait.group.enabled`), transactions
/// (only flows in exactly-once mode), throttle waits (only throttled flows), the fetch buffer
/// (only flows that replicate, once their replication loop runs), the schema gauges (only
/// flows with `strait.schemas.sync.enabled`, after their first pass).
pub const CONDITIONAL: &[&str] = &[
    "strait_buffer_bytes",
    "strait_buffer_limit_bytes",
    "strait_transactions_total",
    "strait_throttle_wait_seconds_total",
    "strait_errors_total",
    "strait_heartbeat_age_seconds",
    "strait_schema_conflicts",
    "strait_schema_renumbered",
    "strait_checkpoint_latency_seconds_avg",
    "strait_checkpoint_latency_seconds_min",
    "strait_checkpoint_latency_seconds_max",
    "strait_group_state",
    "strait_group_generation",
    "strait_group_members",
    "strait_group_leader",
    "strait_group_assigned_partitions",
    "strait_group_handover_partitions",
    "strait_group_rebalances_total",
    "strait_group_last_rebalance_seconds",
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{render, PartitionLabels};
    use crate::engine::{FlowControl, FlowHandle, FlowStats};

    /// 10,000 partitions: 12 series each with partition labels, a handful per topic with
    /// topic labels.
    #[test]
    fn ten_thousand_partitions_fold_into_per_topic_series() {
        let stats = Arc::new(FlowStats::default());
        for t in 0..10 {
            for p in 0..1000 {
                let s = stats.partition_started(&format!("topic-{t}"), p);
                s.positioned(0);
            }
        }
        stats.record_checkpoint("g", "topic-0", 3, 1500.0);
        let flow = FlowHandle {
            source: "a".into(),
            target: "b".into(),
            stats,
            control: FlowControl::new("a->b"),
        };
        let series = |text: &str, family: &str| {
            text.lines()
                .filter(|l| l.starts_with(&format!("{family}{{")))
                .count()
        };
        let per_partition = render(std::slice::from_ref(&flow), PartitionLabels::Partition);
        assert_eq!(series(&per_partition, "strait_lag_records"), 10_000);
        assert_eq!(series(&per_partition, "strait_replicated_offset"), 10_000);
        let per_topic = render(std::slice::from_ref(&flow), PartitionLabels::Topic);
        assert_eq!(series(&per_topic, "strait_lag_records"), 10);
        assert_eq!(series(&per_topic, "strait_record_count_total"), 10);
        assert_eq!(series(&per_topic, "strait_replicated_offset"), 0);
        assert_eq!(
            series(&per_topic, "strait_checkpoint_latency_seconds_max"),
            1
        );
        assert!(per_topic.contains(
            "strait_checkpoint_latency_seconds_max{source=\"a\",target=\"b\",group=\"g\",topic=\"topic-0\"} 1.5"
        ), "{per_topic}");
        let lines = per_topic.lines().count();
        assert!(lines < 400, "{lines} lines for 10,000 partitions per topic");
    }
}
