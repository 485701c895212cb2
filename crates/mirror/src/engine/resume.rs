//! Where a partition resumes after a crash or a failed write: after its stored progress, and
//! past the batches that already reached the target after it. Forwarded batches keep their
//! records byte for byte, so a batch strait would send now is recognised in the target's log
//! right where the stored progress says the next record went; those are not written again.
//!
//! Without stored progress the walk starts at the remote partition's first offset: a run killed
//! before it first stored progress may have written the source's head already.
//!
//! The walk is pure ([`Recognition::offer`]); [`recognise_written`] feeds it from both clusters.
//! Anything unclear (no target position stored, a different batch, a read that cannot succeed)
//! ends the walk: what is not recognised is written again, so the worst case is a duplicate,
//! never a loss. A read that failed in a way that heals (a broker restarting, a leader moving)
//! fails the partition instead, which walks again after its backoff: the target that could not
//! be read may take writes again first. A source answer without a whole batch below the log's
//! end is no end: a request shares its bytes among its partitions (fewer while the flow's
//! buffer is short), so it is asked again.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use strait_kafka::batch::RawBatch;
use strait_kafka::{FetchOptions, FetchPosition, Isolation, OffsetSpec};

use super::discovery::PartitionRoute;
use super::error::EngineError;
use super::fetcher::{AskBytes, FetchFailure};
use super::forward::{Forwarder, Step};
use super::partition_context::{ask, holds_more, PartitionContext};

/// Bytes asked of the target per fetch while recognising.
const TARGET_FETCH_BYTES: i32 = 8 * 1024 * 1024;
/// How long a target fetch past the last written batch waits for data that will not come.
const TARGET_FETCH_WAIT: Duration = Duration::from_millis(20);

/// Whether `written` (read back from the target) is a copy of `planned` (what strait would send
/// now): the same records, byte for byte, as the producer fields and offsets are strait's own.
pub(crate) fn is_copy(planned: &RawBatch, written: &RawBatch) -> bool {
    planned.magic() == 2
        && written.magic() == 2
        && !written.is_control()
        && planned.record_count() == written.record_count()
        && planned.last_offset_delta() == written.last_offset_delta()
        && planned.base_timestamp() == written.base_timestamp()
        && planned.attributes() & 0x07 == written.attributes() & 0x07
        && planned.records_section() == written.records_section()
}

/// How far the source's planned steps and the target's log agree, walking both from the
/// stored progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Recognition {
    /// The next source offset to replicate.
    pub(crate) position: i64,
    /// The target offset the next written record would get.
    pub(crate) target_next: i64,
    /// Batches found already written.
    pub(crate) batches: u64,
    /// Records in them.
    pub(crate) records: u64,
}

/// What the walk needs next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Walk {
    /// One side ran out: more source steps or target batches may extend the match.
    More,
    /// The sides differ here: resume at the recognition's position.
    Done,
}

impl Recognition {
    /// A walk starting at source offset `position`, whose next record goes to `target_next`.
    pub(crate) fn new(position: i64, target_next: i64) -> Self {
        Recognition {
            position,
            target_next,
            batches: 0,
            records: 0,
        }
    }

    /// Consumes matching fronts of both queues: a planned batch and the target batch at
    /// `target_next` that is its copy, or a planned skip (it writes nothing).
    pub(crate) fn offer(
        &mut self,
        steps: &mut VecDeque<Step>,
        written: &mut VecDeque<RawBatch>,
    ) -> Walk {
        loop {
            match steps.front() {
                None => return Walk::More,
                Some(Step::Skip { last_offset, .. }) => {
                    self.position = last_offset + 1;
                    steps.pop_front();
                }
                Some(Step::Send {
                    batch, last_offset, ..
                }) => {
                    let Some(copy) = written.front() else {
                        return Walk::More;
                    };
                    if copy.base_offset() != self.target_next || !is_copy(batch, copy) {
                        return Walk::Done;
                    }
                    self.position = last_offset + 1;
                    self.target_next = copy.next_offset();
                    self.batches += 1;
                    self.records += batch.record_count() as u64;
                    steps.pop_front();
                    written.pop_front();
                }
            }
        }
    }
}

/// Why a read of the walk failed.
#[derive(Debug)]
enum ReadFailure {
    /// It may succeed later: the partition fails with this error and walks again.
    Passing(EngineError),
    /// It will not succeed by waiting: the walk ends there.
    Lasting(String),
}

impl ReadFailure {
    /// A failed read of the target's partition at `offset` (`None`: its first offset).
    fn of_target(
        ctx: &PartitionContext,
        route: &PartitionRoute,
        offset: Option<i64>,
        e: strait_kafka::Error,
    ) -> ReadFailure {
        if !e.is_retriable() {
            let at = offset.map_or("its first offset".to_owned(), |o| format!("offset {o}"));
            return ReadFailure::Lasting(format!("reading the target at {at}: {e}"));
        }
        ReadFailure::Passing(EngineError::ReadBack {
            cluster: ctx.target.name().to_owned(),
            topic: route.remote_topic.clone(),
            partition: route.partition,
            offset,
            source: e,
        })
    }

    /// A failed read of the source's partition at `offset`.
    fn of_source(
        ctx: &PartitionContext,
        route: &PartitionRoute,
        offset: i64,
        cause: FetchFailure,
    ) -> ReadFailure {
        if !cause.is_retriable() {
            return ReadFailure::Lasting(format!(
                "fetching the source at offset {offset}: {cause}"
            ));
        }
        ReadFailure::Passing(EngineError::Fetch {
            cluster: ctx.source.name().to_owned(),
            topic: route.topic.clone(),
            partition: route.partition,
            offset,
            cause,
        })
    }
}

/// Walks the source from `position` and the target from `target_next` (where the record at
/// `position` went, as stored with the progress) while the target holds copies of what strait
/// would send; returns where to resume, or the error of a read that failed twice but may
/// succeed later.
pub(crate) async fn recognise_written(
    ctx: &PartitionContext,
    route: &PartitionRoute,
    position: i64,
    target_next: i64,
) -> Result<Recognition, EngineError> {
    let mut walk = Recognition::new(position, target_next);
    // Usually nothing follows (a clean stop or hand-over): asking the log end costs no wait,
    // where a fetch would hold the target connection, shared with the producer, for its max wait.
    if !written_after(ctx, route, target_next).await {
        tracing::debug!(
            flow = %ctx.label, topic = %route.topic, partition = route.partition,
            "nothing on the target from offset {target_next}: resuming at {position}"
        );
        return Ok(walk);
    }
    let mut forwarder = Forwarder::new(route.max_batch_bytes, ctx.force_reencode);
    let mut steps = VecDeque::new();
    let mut written = VecDeque::new();
    let mut source_next = position;
    loop {
        if walk.offer(&mut steps, &mut written) == Walk::Done {
            tracing::debug!(
                flow = %ctx.label, topic = %route.topic, partition = route.partition,
                "the target's batch at offset {:?} is not a copy of the source's at {}: resuming there",
                written.front().map(RawBatch::base_offset), walk.position
            );
            return Ok(walk);
        }
        if written.is_empty() {
            let mut read = read_target(ctx, route, walk.target_next).await;
            if read.is_err() {
                tokio::time::sleep(RETRY_PAUSE).await;
                read = read_target(ctx, route, walk.target_next).await;
            }
            match read {
                Ok(batches) if !batches.is_empty() => written.extend(batches),
                Ok(_) => return Ok(walk_ends(ctx, route, walk, "the target holds nothing more")),
                // One that may heal fails the partition: it walks again after its backoff.
                Err(ReadFailure::Passing(e)) => return Err(e),
                Err(ReadFailure::Lasting(reason)) => {
                    return Ok(stopped_early(ctx, route, walk, &reason))
                }
            }
        }
        if steps.is_empty() {
            let mut planned = plan_source(ctx, route, &mut forwarder, source_next).await;
            if planned.is_err() {
                tokio::time::sleep(RETRY_PAUSE).await;
                planned = plan_source(ctx, route, &mut forwarder, source_next).await;
            }
            match planned {
                Ok(planned) => {
                    let Some(last) = planned.last() else {
                        return Ok(walk_ends(ctx, route, walk, "the source holds nothing more"));
                    };
                    source_next = last.last_offset() + 1;
                    steps.extend(planned);
                }
                // One that may heal fails the partition: it walks again after its backoff.
                Err(ReadFailure::Passing(e)) => return Err(e),
                Err(ReadFailure::Lasting(reason)) => {
                    return Ok(stopped_early(ctx, route, walk, &reason))
                }
            }
        }
    }
}

/// The walk ends where one side holds nothing more.
fn walk_ends(
    ctx: &PartitionContext,
    route: &PartitionRoute,
    walk: Recognition,
    why: &str,
) -> Recognition {
    tracing::debug!(
        flow = %ctx.label, topic = %route.topic, partition = route.partition,
        "{why} (source offset {}, target offset {}): resuming there", walk.position, walk.target_next
    );
    walk
}

/// How long a failed read of the walk waits before its one retry (a broker just restarted, a
/// slow answer; each read also retries within the client).
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// The walk ends on a read that failed twice and cannot succeed by waiting: what was not
/// recognised is written again.
fn stopped_early(
    ctx: &PartitionContext,
    route: &PartitionRoute,
    walk: Recognition,
    reason: &str,
) -> Recognition {
    tracing::info!(
        flow = %ctx.label, topic = %route.topic, partition = route.partition,
        "looking for batches already on the target stopped at source offset {} (target offset {}) after {} recognised: {reason}; what follows is written again",
        walk.position, walk.target_next, walk.batches
    );
    walk
}

/// How many answers without a whole batch below the source's readable end the walk takes
/// before it gives up (what follows is then written again).
const CUT_SHORT_ANSWERS: usize = 50;

/// The steps the pipeline would take for the source's batches at `source_next` (planned as the
/// pipeline will: with cycle detection, batches brought from the target are skipped). Empty when
/// the source holds nothing there; `Err` when it could not be read.
async fn plan_source(
    ctx: &PartitionContext,
    route: &PartitionRoute,
    forwarder: &mut Forwarder,
    source_next: i64,
) -> Result<Vec<Step>, ReadFailure> {
    let lasting =
        |what: String| ReadFailure::Lasting(format!("source offset {source_next}: {what}"));
    for _ in 0..CUT_SHORT_ANSWERS {
        let fetched = match ask(
            ctx,
            route,
            source_next,
            AskBytes::Window(ctx.fetch_window.bytes()),
            None,
        )
        .await
        {
            None => return Ok(Vec::new()),
            Some(Err(cause)) => return Err(ReadFailure::of_source(ctx, route, source_next, cause)),
            Some(Ok(fetched)) => fetched.answer,
        };
        if let Some(code) = fetched.error {
            let cause = FetchFailure::Code(code);
            return Err(ReadFailure::of_source(ctx, route, source_next, cause));
        }
        ctx.learn_writers(&fetched, Instant::now())
            .await
            .map_err(|e| lasting(e.to_string()))?;
        let steps = forwarder
            .plan_with(&fetched, source_next, &|p| ctx.provenance(p))
            .map_err(|e| lasting(e.to_string()))?;
        // No whole batch though the source holds more: the request's bytes ran out first.
        if !steps.is_empty() || !holds_more(&fetched, source_next) {
            return Ok(steps);
        }
    }
    Err(lasting(format!(
        "the source answered no whole batch {CUT_SHORT_ANSWERS} times, though it holds records there"
    )))
}

/// Whether the remote partition holds anything at or after `offset` (true if unsure).
async fn written_after(ctx: &PartitionContext, route: &PartitionRoute, offset: i64) -> bool {
    let listed = ctx
        .target
        .list_offsets(
            &route.remote_topic,
            &[route.partition],
            OffsetSpec::Latest,
            Isolation::ReadUncommitted,
        )
        .await;
    match listed {
        Ok(offsets) => offsets.first().is_none_or(|(_, o)| o.offset > offset),
        Err(_) => true,
    }
}

/// The remote partition's first offset; `None` when it cannot be listed for good (then nothing
/// is recognised), an error when listing failed in a way that may heal.
pub(crate) async fn target_log_start(
    ctx: &PartitionContext,
    route: &PartitionRoute,
) -> Result<Option<i64>, EngineError> {
    let listed = ctx
        .target
        .list_offsets(
            &route.remote_topic,
            &[route.partition],
            OffsetSpec::Earliest,
            Isolation::ReadUncommitted,
        )
        .await;
    match listed {
        Ok(listed) => Ok(listed.first().map(|(_, o)| o.offset)),
        Err(e) => match ReadFailure::of_target(ctx, route, None, e) {
            ReadFailure::Passing(e) => Err(e),
            ReadFailure::Lasting(reason) => {
                tracing::info!(
                    flow = %ctx.label, topic = %route.topic, partition = route.partition,
                    "not looking for batches a run before wrote: {reason}"
                );
                Ok(None)
            }
        },
    }
}

/// The whole batches of the remote partition from `offset`, or why they cannot be read.
async fn read_target(
    ctx: &PartitionContext,
    route: &PartitionRoute,
    offset: i64,
) -> Result<Vec<RawBatch>, ReadFailure> {
    let position = FetchPosition::new(
        &route.remote_topic,
        route.partition,
        offset,
        TARGET_FETCH_BYTES,
    );
    // Not zero: tansu leaves the partition out of a fetch answered without waiting.
    let options = FetchOptions {
        max_wait: TARGET_FETCH_WAIT,
        min_bytes: 1,
        max_bytes: TARGET_FETCH_BYTES,
        isolation: Isolation::ReadUncommitted,
    };
    let fetched = ctx
        .target
        .fetch(&position, &options)
        .await
        .map_err(|e| ReadFailure::of_target(ctx, route, Some(offset), e))?;
    fetched
        .batches()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ReadFailure::Lasting(format!("the target's batches at offset {offset}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use strait_kafka::batch::{BatchBuilder, Compression, ProducerFields, Record};

    use crate::engine::forward::Drop;

    fn batch(first: i64, values: &[&str]) -> RawBatch {
        BatchBuilder {
            base_offset: first,
            compression: Compression::Lz4,
            records: values
                .iter()
                .zip(0..)
                .map(|(v, i)| Record {
                    offset: first + i,
                    timestamp: 1_000 + i,
                    key: None,
                    value: Some(Bytes::copy_from_slice(v.as_bytes())),
                    headers: Vec::new(),
                })
                .collect(),
            ..BatchBuilder::default()
        }
        .encode()
        .unwrap()
    }

    /// `batch` as the target holds it: other base offset and producer fields.
    fn on_target(planned: &RawBatch, base: i64) -> RawBatch {
        let mut bytes = planned
            .rewrite_producer(&ProducerFields {
                producer_id: 77,
                producer_epoch: 3,
                base_sequence: 12,
                transactional: false,
            })
            .bytes()
            .to_vec();
        bytes[..8].copy_from_slice(&base.to_be_bytes());
        RawBatch::new(Bytes::from(bytes)).unwrap()
    }

    fn send(batch: RawBatch) -> Step {
        let first_offset = batch.base_offset();
        Step::Send {
            last_offset: batch.last_offset(),
            first_offset,
            leader_epoch: batch.partition_leader_epoch(),
            batch,
            reencoded: None,
            relayed: None,
        }
    }

    #[test]
    fn a_forwarded_batch_is_recognised_whatever_its_producer_fields() {
        let planned = batch(10, &["a", "b"]);
        assert!(is_copy(&planned, &on_target(&planned, 500)));
        assert!(!is_copy(&planned, &batch(10, &["a", "c"])), "other records");
        assert!(!is_copy(&planned, &batch(10, &["a"])), "fewer records");
    }

    #[test]
    fn walks_past_what_is_on_the_target_and_stops_at_the_first_difference() {
        let (a, b, c) = (batch(10, &["a", "b"]), batch(12, &["c"]), batch(14, &["d"]));
        let mut steps: VecDeque<Step> = [
            send(a.clone()),
            Step::Skip {
                last_offset: 12,
                reason: Drop::Control,
                leader_epoch: 0,
            },
            send(b.clone()),
            send(c.clone()),
        ]
        .into();
        // The crashed run wrote a and b; something else follows on the target.
        let mut written: VecDeque<RawBatch> =
            [on_target(&a, 500), on_target(&b, 502), batch(503, &["x"])].into();
        let mut walk = Recognition::new(10, 500);
        assert_eq!(walk.offer(&mut steps, &mut written), Walk::Done);
        assert_eq!(
            walk,
            Recognition {
                position: 13,
                target_next: 503,
                batches: 2,
                records: 3,
            }
        );
        assert_eq!(steps.len(), 1, "c is still to send");
    }

    #[test]
    fn a_copy_elsewhere_than_the_stored_target_position_is_not_trusted() {
        let a = batch(10, &["a"]);
        let mut steps: VecDeque<Step> = [send(a.clone())].into();
        let mut written: VecDeque<RawBatch> = [on_target(&a, 501)].into();
        let mut walk = Recognition::new(10, 500);
        assert_eq!(walk.offer(&mut steps, &mut written), Walk::Done);
        assert_eq!((walk.position, walk.batches), (10, 0));
    }

    #[test]
    fn asks_for_more_when_a_side_runs_out() {
        let (a, b) = (batch(0, &["a"]), batch(1, &["b"]));
        let mut steps: VecDeque<Step> = [send(a.clone())].into();
        let mut written: VecDeque<RawBatch> = [on_target(&a, 0), on_target(&b, 1)].into();
        let mut walk = Recognition::new(0, 0);
        assert_eq!(walk.offer(&mut steps, &mut written), Walk::More);
        steps.push_back(send(b));
        assert_eq!(walk.offer(&mut steps, &mut written), Walk::More);
        assert_eq!((walk.position, walk.target_next, walk.batches), (2, 2, 2));
    }
}
