//! Where a partition's ledger starts, and what the source says when it cannot go on: after the
//! stored progress and past what a crashed run already wrote (the walk, `resume.rs`), at a
//! re-created topic's start, or at `auto.offset.reset` without progress; after a failure, the
//! source topic's incarnation, and why an offset is out of range (`source_gaps.rs`).

use strait_kafka::{Isolation, OffsetSpec, ResponseError};

use super::discovery::PartitionRoute;
use super::error::EngineError;
use super::fetcher::FetchFailure;
use super::ledger::{PartitionLedger, Rewound};
use super::partition_context::PartitionContext;
use super::partition_stats::PartitionStats;
use super::resume::{recognise_written, target_log_start, Recognition};
use super::source_gaps::{classify, SourceGap};
use crate::clock::now_ms;
use crate::config::OffsetReset;
use uuid::Uuid;

/// The ledger of a partition starting: after its stored progress and what a crashed run wrote
/// past it, at the start of a topic re-created since, or at `auto.offset.reset` without
/// progress (past what a run killed before storing any wrote). In exactly-once mode the
/// producer has just fenced every earlier writer of the partition, so the progress they
/// committed is final: it is read again, and nothing past it counts (what they wrote after it
/// was aborted).
pub(super) async fn start(
    ctx: &PartitionContext,
    route: &PartitionRoute,
    state: &PartitionStats,
) -> Result<PartitionLedger, EngineError> {
    if ctx.exactly_once.is_some() {
        let key = (route.topic.clone(), route.partition);
        ctx.progress.reload(std::slice::from_ref(&key)).await?;
    }
    let Some(stored) = ctx.progress.position(&route.topic, route.partition) else {
        let position = reset_position(ctx, route).await?;
        return first_start(ctx, route, position).await;
    };
    if let (Some(old), Some(new)) = (stored.topic_id, route.topic_id) {
        if old != new {
            let start =
                list_offset(ctx, route, OffsetSpec::Earliest, Isolation::ReadUncommitted).await?;
            report_gap(ctx, route, state, &SourceGap::Recreated { old, new, start });
            return Ok(PartitionLedger::new(start).with_topic_id(Some(new)));
        }
    }
    let rewound = Rewound {
        position: stored.offset + 1,
        target_next: stored.target_next,
        topic_id: route.topic_id.or(stored.topic_id),
        leader_epoch: stored.leader_epoch,
    };
    if ctx.exactly_once.is_some() {
        return Ok(PartitionLedger::new(rewound.position)
            .with_topic_id(rewound.topic_id)
            .with_leader_epoch(rewound.leader_epoch));
    }
    resume(ctx, route, rewound).await
}

/// A ledger at the rewound position, moved past the batches after it that are already on the
/// target; an error when the target or source could not be read yet (see [`recognise_written`]).
pub(super) async fn resume(
    ctx: &PartitionContext,
    route: &PartitionRoute,
    rewound: Rewound,
) -> Result<PartitionLedger, EngineError> {
    let Rewound {
        position,
        target_next,
        topic_id,
        leader_epoch,
    } = rewound;
    let Some(target_next) = target_next else {
        return Ok(PartitionLedger::new(position)
            .with_topic_id(topic_id)
            .with_leader_epoch(leader_epoch));
    };
    let found = recognise_written(ctx, route, position, target_next).await?;
    report_recognised(ctx, route, position, &found);
    // Past recognised batches the epoch of the record before the position is not known.
    let leader_epoch = leader_epoch.filter(|_| found.batches == 0);
    Ok(PartitionLedger::new(found.position)
        .with_downstream(Some(found.target_next))
        .with_topic_id(topic_id)
        .with_leader_epoch(leader_epoch))
}

/// The ledger of a partition without stored progress, at `position` (`auto.offset.reset`). A
/// run killed before it first stored progress may have written the source's head already: the
/// walk looks for it from the remote partition's first offset. Only where the remote topic is
/// the flow's own (the policy renames it): under the identity policy it may be the source of
/// the opposite flow, whose records the walk would take for this flow's own. Exactly-once:
/// what such a run wrote was aborted, nothing counts.
async fn first_start(
    ctx: &PartitionContext,
    route: &PartitionRoute,
    position: i64,
) -> Result<PartitionLedger, EngineError> {
    let fresh = PartitionLedger::new(position).with_topic_id(route.topic_id);
    if ctx.exactly_once.is_some() || route.remote_topic == route.topic {
        return Ok(fresh);
    }
    let Some(first) = target_log_start(ctx, route).await? else {
        return Ok(fresh);
    };
    let found = recognise_written(ctx, route, position, first).await?;
    if found.batches == 0 {
        return Ok(fresh);
    }
    report_recognised(ctx, route, position, &found);
    Ok(PartitionLedger::new(found.position)
        .with_downstream(Some(found.target_next))
        .with_topic_id(route.topic_id))
}

fn report_recognised(
    ctx: &PartitionContext,
    route: &PartitionRoute,
    position: i64,
    found: &Recognition,
) {
    if found.batches > 0 {
        ctx.stats.recognised(found.batches);
        tracing::info!(
            flow = %ctx.label, topic = %route.topic, partition = route.partition,
            "{} batches ({} records) from offset {position} were already on the target; resuming at {}",
            found.batches, found.records, found.position
        );
    }
}

/// After a failure (the source topic may have been deleted meanwhile): the topic must exist,
/// and if it now has another id, the partition continues at the start of the new topic.
/// Checked before fetching again, so the new topic is never read at the old one's position.
pub(super) async fn check_incarnation(
    ctx: &PartitionContext,
    route: &PartitionRoute,
    state: &PartitionStats,
    ledger: &mut PartitionLedger,
) -> Result<(), EngineError> {
    let Some(old) = ledger.topic_id() else {
        return Ok(());
    };
    let metadata = ctx.source.refresh_topics(&[route.topic.as_str()]).await?;
    let current = metadata
        .topic(&route.topic)
        .filter(|t| t.error.is_none() && t.partitions.len() as i32 > route.partition)
        .map(|t| t.id);
    let Some(new) = current else {
        return Err(EngineError::Fetch {
            cluster: ctx.source.name().to_owned(),
            topic: route.topic.clone(),
            partition: route.partition,
            offset: ledger.position(),
            cause: FetchFailure::Code(ResponseError::UnknownTopicOrPartition),
        });
    };
    if !new.is_nil() && new != old {
        let start =
            list_offset(ctx, route, OffsetSpec::Earliest, Isolation::ReadUncommitted).await?;
        report_gap(ctx, route, state, &SourceGap::Recreated { old, new, start });
        ledger.reposition(start, Some(new));
    }
    Ok(())
}

/// Why the source answered OFFSET_OUT_OF_RANGE at `position` (of incarnation `topic_id`), and
/// the topic's id now; `None` if the position is readable after all.
pub(super) async fn source_gap(
    ctx: &PartitionContext,
    route: &PartitionRoute,
    position: i64,
    topic_id: Option<Uuid>,
) -> Result<Option<(SourceGap, Option<Uuid>)>, EngineError> {
    let start = list_offset(ctx, route, OffsetSpec::Earliest, Isolation::ReadUncommitted).await?;
    let end = list_offset(ctx, route, OffsetSpec::Latest, Isolation::ReadUncommitted).await?;
    let metadata = ctx.source.refresh_topics(&[route.topic.as_str()]).await?;
    let current = metadata
        .topic(&route.topic)
        .map(|t| t.id)
        .filter(|id| !id.is_nil());
    let gap = classify(position, start, end, topic_id, current);
    Ok(gap.map(|g| (g, current.or(topic_id))))
}

/// Logs a source gap, counts it (`strait_errors_total{op="source"}`) and shows it as the
/// partition's status line.
pub(super) fn report_gap(
    ctx: &PartitionContext,
    route: &PartitionRoute,
    state: &PartitionStats,
    gap: &SourceGap,
) {
    let note = gap.describe(&route.topic, route.partition);
    ctx.stats.error("source", gap.code().to_owned());
    ctx.stats.source_records_lost(gap.records_lost());
    tracing::warn!(flow = %ctx.label, topic = %route.topic, partition = route.partition, "{note}");
    state.failed(note, now_ms());
}

/// The source partition's earliest or latest offset: read uncommitted, the log's bounds (where
/// gaps are judged); read committed, where a consumer starts (`auto.offset.reset`).
async fn list_offset(
    ctx: &PartitionContext,
    route: &PartitionRoute,
    spec: OffsetSpec,
    isolation: Isolation,
) -> Result<i64, EngineError> {
    let listed = ctx
        .source
        .list_offsets(&route.topic, &[route.partition], spec, isolation)
        .await?;
    Ok(listed.first().map_or(0, |(_, o)| o.offset.max(0)))
}

async fn reset_position(
    ctx: &PartitionContext,
    route: &PartitionRoute,
) -> Result<i64, EngineError> {
    let spec = match ctx.auto_offset_reset {
        OffsetReset::Earliest => OffsetSpec::Earliest,
        OffsetReset::Latest => OffsetSpec::Latest,
    };
    list_offset(ctx, route, spec, Isolation::ReadCommitted).await
}
