//! The metric families and how a flow's state fills them.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::PartitionLabels;
use crate::engine::{Aggregate, FlowHandle, FlowState, PartitionSnapshot};
use crate::group::protocol::MemberView;
use crate::group::GroupStatus;

type Labels = Vec<(String, String)>;
type Count = Family<Labels, Counter>;
type Value = Family<Labels, Gauge<f64, AtomicU64>>;
type Int = Family<Labels, Gauge>;
type Seconds = Family<Labels, Counter<f64, AtomicU64>>;

/// Names as scraped, in registration order.
pub(super) const NAMES: &[&str] = &[
    "strait_record_count_total",
    "strait_byte_count_total",
    "strait_record_age_seconds_avg",
    "strait_record_age_seconds_min",
    "strait_record_age_seconds_max",
    "strait_replication_latency_seconds_avg",
    "strait_replication_latency_seconds_min",
    "strait_replication_latency_seconds_max",
    "strait_lag_records",
    "strait_lag_bytes",
    "strait_lag_seconds",
    "strait_source_log_end_offset",
    "strait_replicated_offset",
    "strait_partition_paused",
    "strait_batches_total",
    "strait_transactions_total",
    "strait_throttle_wait_seconds_total",
    "strait_errors_total",
    "strait_heartbeat_age_seconds",
    "strait_sync_actions_total",
    "strait_sync_failures_total",
    "strait_schema_conflicts",
    "strait_schema_renumbered",
    "strait_source_records_lost_total",
    "strait_partitions",
    "strait_buffer_bytes",
    "strait_buffer_limit_bytes",
    "strait_flow_state",
    "strait_orphaned_topics",
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

#[derive(Default)]
pub(super) struct Families {
    records: Count,
    bytes: Count,
    age: [Value; 3],
    latency: [Value; 3],
    lag_records: Int,
    lag_bytes: Int,
    lag_seconds: Value,
    log_end: Int,
    replicated: Int,
    paused: Int,
    batches: Count,
    transactions: Count,
    throttle_waits: Seconds,
    errors: Count,
    heartbeat_age: Value,
    sync_actions: Count,
    sync_failures: Count,
    schema_conflicts: Int,
    schema_renumbered: Int,
    source_records_lost: Count,
    partitions: Int,
    buffer: Int,
    buffer_limit: Int,
    state: Int,
    orphaned: Int,
    checkpoint: [Value; 3],
    group: GroupFamilies,
}

/// This process's view of its flow's group (only flows with `strait.group.enabled`).
#[derive(Default)]
struct GroupFamilies {
    state: Int,
    generation: Int,
    members: Int,
    leader: Int,
    assigned: Int,
    handover: Int,
    rebalances: Count,
    last_rebalance: Value,
}

/// Per-partition values, possibly summed per topic.
#[derive(Default)]
struct Series {
    records: u64,
    bytes: u64,
    age: Aggregate,
    latency: Aggregate,
    lag_records: u64,
    lag_bytes: u64,
    lag_seconds: f64,
    paused: bool,
}

impl Series {
    fn add(&mut self, p: &PartitionSnapshot) {
        self.records += p.records;
        self.bytes += p.bytes;
        self.age = self.age.merge(&p.record_age);
        self.latency = self.latency.merge(&p.replication_latency);
        self.lag_records += p.lag_records;
        self.lag_bytes += p.lag_bytes;
        self.lag_seconds = self.lag_seconds.max(p.lag_seconds);
        self.paused |= p.paused.is_some();
    }
}

impl Families {
    pub(super) fn observe(&self, flow: &FlowHandle, granularity: PartitionLabels) {
        let base = vec![
            ("source".to_owned(), flow.source.clone()),
            ("target".to_owned(), flow.target.clone()),
        ];
        let with = |extra: &[(&str, String)]| -> Labels {
            let mut l = base.clone();
            l.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
            l
        };
        let mut series: BTreeMap<Labels, Series> = BTreeMap::new();
        for p in flow.partitions() {
            let mut key = vec![("topic", p.topic.clone())];
            if granularity == PartitionLabels::Partition {
                key.push(("partition", p.partition.to_string()));
                let l = with(&key);
                if let Some(end) = p.log_end {
                    self.log_end.get_or_create(&l).set(end);
                }
                if let Some(pos) = p.position {
                    self.replicated.get_or_create(&l).set(pos);
                }
            }
            series.entry(with(&key)).or_default().add(&p);
        }
        for (l, s) in &series {
            self.records.get_or_create(l).inc_by(s.records);
            self.bytes.get_or_create(l).inc_by(s.bytes);
            set_aggregate(&self.age, l, &s.age);
            set_aggregate(&self.latency, l, &s.latency);
            self.lag_records.get_or_create(l).set(s.lag_records as i64);
            self.lag_bytes.get_or_create(l).set(s.lag_bytes as i64);
            self.lag_seconds.get_or_create(l).set(s.lag_seconds);
            self.paused.get_or_create(l).set(i64::from(s.paused));
        }
        let totals = flow.stats.snapshot();
        for (path, n) in [
            ("passed_through", totals.passed_through),
            ("reencoded", totals.reencoded),
            ("dropped", totals.dropped),
            ("cycle", totals.cycle),
            ("recognised", totals.recognised),
        ] {
            self.batches
                .get_or_create(&with(&[("path", path.to_owned())]))
                .inc_by(n);
        }
        if flow.stats.exactly_once() {
            for (outcome, n) in [
                ("committed", totals.transactions_committed),
                ("failed", totals.transactions_failed),
            ] {
                self.transactions
                    .get_or_create(&with(&[("outcome", outcome.to_owned())]))
                    .inc_by(n);
            }
        }
        for (rule, seconds) in flow.stats.throttle_waits() {
            self.throttle_waits
                .get_or_create(&with(&[("rule", rule)]))
                .inc_by(seconds);
        }
        for (op, code, n) in flow.stats.errors() {
            self.errors
                .get_or_create(&with(&[("op", op.to_owned()), ("code", code)]))
                .inc_by(n);
        }
        if let Some(ms) = flow.stats.last_heartbeat_ms() {
            let age = (crate::clock::now_ms() - ms).max(0) as f64 / 1000.0;
            self.heartbeat_age.get_or_create(&base).set(age);
        }
        for (kind, n) in [
            ("topic_config", totals.configs_synced),
            ("acl", totals.acls_synced),
            ("schema", totals.schemas_synced),
        ] {
            self.sync_actions
                .get_or_create(&with(&[("kind", kind.to_owned())]))
                .inc_by(n);
        }
        self.sync_failures
            .get_or_create(&base)
            .inc_by(totals.sync_failures);
        if let Some((conflicts, renumbered)) = flow.stats.schema_standing() {
            self.schema_conflicts
                .get_or_create(&base)
                .set(conflicts as i64);
            self.schema_renumbered
                .get_or_create(&base)
                .set(renumbered as i64);
        }
        self.source_records_lost
            .get_or_create(&base)
            .inc_by(totals.source_records_lost);
        self.partitions
            .get_or_create(&base)
            .set(totals.partitions as i64);
        if let Some((held, limit)) = flow.stats.buffer() {
            self.buffer.get_or_create(&base).set(held as i64);
            self.buffer_limit.get_or_create(&base).set(limit as i64);
        }
        let state = match flow.stats.state() {
            FlowState::Starting => "starting",
            FlowState::Running => "running",
            FlowState::HeartbeatsOnly => "heartbeats_only",
            FlowState::Retrying(_) => "retrying",
            FlowState::Failed(_) => "failed",
            FlowState::Stopped => "stopped",
        };
        for s in [
            "starting",
            "running",
            "heartbeats_only",
            "retrying",
            "failed",
            "stopped",
        ] {
            self.state
                .get_or_create(&with(&[("state", s.to_owned())]))
                .set(i64::from(s == state));
        }
        self.orphaned
            .get_or_create(&base)
            .set(flow.stats.orphaned_topics().len() as i64);
        let mut checkpoints: BTreeMap<Labels, Aggregate> = BTreeMap::new();
        for ((group, topic, partition), agg) in flow.stats.checkpoint_latencies() {
            let mut key = vec![("group", group), ("topic", topic)];
            if granularity == PartitionLabels::Partition {
                key.push(("partition", partition.to_string()));
            }
            let merged = checkpoints.entry(with(&key)).or_default();
            *merged = merged.merge(&agg);
        }
        for (l, agg) in &checkpoints {
            set_aggregate(&self.checkpoint, l, agg);
        }
        if let Some(status) = flow.stats.group_status() {
            self.group
                .observe(&with(&[("group", status.group.clone())]), &status);
        }
    }

    pub(super) fn registry(&self) -> Registry {
        let mut r = Registry::default();
        r.register(
            "strait_record_count",
            "Records replicated (acknowledged by the target); MM2 record-count",
            self.records.clone(),
        );
        r.register(
            "strait_byte_count",
            "Record batch bytes replicated; MM2 byte-count",
            self.bytes.clone(),
        );
        register_aggregate(
            &mut r,
            "strait_record_age_seconds",
            "Age of records when fetched from the source, last 1-2 minutes; MM2 record-age-ms",
            &self.age,
        );
        register_aggregate(
            &mut r,
            "strait_replication_latency_seconds",
            "Record timestamp to target acknowledgement, last 1-2 minutes; MM2 replication-latency-ms",
            &self.latency,
        );
        r.register(
            "strait_lag_records",
            "Source log end offset minus the next offset to replicate",
            self.lag_records.clone(),
        );
        r.register(
            "strait_lag_bytes",
            "Lag in records times the average batch bytes per record seen (estimate)",
            self.lag_bytes.clone(),
        );
        r.register(
            "strait_lag_seconds",
            "Age of the oldest fetched record not yet replicated (0 when caught up)",
            self.lag_seconds.clone(),
        );
        r.register(
            "strait_source_log_end_offset",
            "Source high watermark at the last fetch",
            self.log_end.clone(),
        );
        r.register(
            "strait_replicated_offset",
            "Next source offset to replicate (everything before it is on the target)",
            self.replicated.clone(),
        );
        r.register(
            "strait_partition_paused",
            "1 when the partition (or any partition of the topic) is paused",
            self.paused.clone(),
        );
        r.register(
            "strait_batches",
            "Batches by path: passed_through (forwarded untouched), reencoded, dropped, cycle (a mirror brought it from the target: not sent back), recognised (already on the target after a crash, not written again)",
            self.batches.clone(),
        );
        r.register(
            "strait_transactions",
            "Transactions of exactly-once mode by outcome: committed, failed (fenced, timed out or a write failed: aborted, and its batches written again)",
            self.transactions.clone(),
        );
        r.register(
            "strait_throttle_wait_seconds",
            "Seconds writes waited for a throttle (strait.throttle.*), by rule (flow: the flow's own limit)",
            self.throttle_waits.clone(),
        );
        r.register(
            "strait_errors",
            "Fetch and produce errors by operation and Kafka error code",
            self.errors.clone(),
        );
        r.register(
            "strait_heartbeat_age_seconds",
            "Seconds since the flow last wrote a heartbeat",
            self.heartbeat_age.clone(),
        );
        r.register(
            "strait_sync_actions",
            "Topic config changes, ACL bindings and schema registrations or compatibility levels applied to the target",
            self.sync_actions.clone(),
        );
        r.register(
            "strait_sync_failures",
            "Config, ACL or schema sync steps that failed (retried at the next pass)",
            self.sync_failures.clone(),
        );
        r.register(
            "strait_schema_conflicts",
            "Schema versions not copied to the target's registry at the last pass: the target holds another schema under the version, or refused it",
            self.schema_conflicts.clone(),
        );
        r.register(
            "strait_schema_renumbered",
            "Schema versions the target's registry holds under another schema id or version number than the source's, at the last pass",
            self.schema_renumbered.clone(),
        );
        r.register(
            "strait_source_records_lost",
            "Records deleted on the source (retention, DeleteRecords) before strait mirrored them",
            self.source_records_lost.clone(),
        );
        r.register(
            "strait_partitions",
            "Source partitions being replicated",
            self.partitions.clone(),
        );
        r.register(
            "strait_buffer_bytes",
            "Bytes fetched from the source and not yet written to the target (reserved by fetches in flight included)",
            self.buffer.clone(),
        );
        r.register(
            "strait_buffer_limit_bytes",
            "The flow's fetch buffer budget, strait.buffer.max.bytes",
            self.buffer_limit.clone(),
        );
        r.register(
            "strait_flow_state",
            "1 for the flow's current state",
            self.state.clone(),
        );
        r.register(
            "strait_orphaned_topics",
            "Remote topics whose source topic was deleted",
            self.orphaned.clone(),
        );
        register_aggregate(
            &mut r,
            "strait_checkpoint_latency_seconds",
            "Consumer group commit to checkpoint emission, last 1-2 minutes; MM2 checkpoint-latency-ms",
            &self.checkpoint,
        );
        self.group.register(&mut r);
        r
    }
}

impl GroupFamilies {
    fn observe(&self, l: &Labels, status: &GroupStatus) {
        for s in ["joining", "stable", "lost", "replaced", "alone"] {
            let mut with_state = l.clone();
            with_state.push(("state".to_owned(), s.to_owned()));
            self.state
                .get_or_create(&with_state)
                .set(i64::from(s == status.state));
        }
        self.generation
            .get_or_create(l)
            .set(i64::from(status.generation));
        self.members
            .get_or_create(l)
            .set(status.members.len() as i64);
        let leads = !status.member_id.is_empty() && status.member_id == status.leader_id;
        self.leader.get_or_create(l).set(i64::from(leads));
        let assigned = status
            .members
            .get(&status.member_id)
            .map_or(0, MemberView::count);
        self.assigned.get_or_create(l).set(assigned as i64);
        self.handover.get_or_create(l).set(status.held_back as i64);
        self.rebalances.get_or_create(l).inc_by(status.rebalances);
        if let Some(ms) = status.last_rebalance_ms {
            self.last_rebalance.get_or_create(l).set(ms as f64 / 1000.0);
        }
    }

    fn register(&self, r: &mut Registry) {
        for (name, help, family) in [
            (
                "strait_group_state",
                "1 for this member's group state: joining, stable, lost",
                &self.state,
            ),
            (
                "strait_group_generation",
                "The group generation this member is in",
                &self.generation,
            ),
            (
                "strait_group_members",
                "Members of the flow's group",
                &self.members,
            ),
            (
                "strait_group_leader",
                "1 when this member leads the group (and runs the singleton work)",
                &self.leader,
            ),
            (
                "strait_group_assigned_partitions",
                "Source partitions the group assigned to this member",
                &self.assigned,
            ),
            (
                "strait_group_handover_partitions",
                "Partitions being handed over between members",
                &self.handover,
            ),
        ] {
            r.register(name, help, family.clone());
        }
        r.register(
            "strait_group_rebalances",
            "Rebalances this member took part in",
            self.rebalances.clone(),
        );
        r.register(
            "strait_group_last_rebalance_seconds",
            "How long the last rebalance took, join to assignment",
            self.last_rebalance.clone(),
        );
    }
}

fn set_aggregate(family: &[Value; 3], labels: &Labels, agg: &Aggregate) {
    family[0].get_or_create(labels).set(agg.avg());
    family[1].get_or_create(labels).set(agg.min);
    family[2].get_or_create(labels).set(agg.max);
}

fn register_aggregate(r: &mut Registry, name: &str, help: &str, family: &[Value; 3]) {
    for (suffix, f) in ["avg", "min", "max"].iter().zip(family) {
        r.register(format!("{name}_{suffix}"), help.to_owned(), f.clone());
    }
}
